//! A UDP impairment relay: std sockets and three threads, stopped by [`Relay::stop`], by drop, or by itself after
//! `max_duration`.
//!
//! The client sends to [`Relay::local_addr`]; the relay forwards through the `up` shaper from its own upstream
//! socket to the server, and sends the server's replies (only those from `upstream`) through the `down` shaper to
//! the client's latest source address. To ICE this is a symmetric NAT: the server learns the relay's upstream
//! socket as a peer-reflexive candidate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Profile;
use super::schedule::{DropReason, Shaper, Verdict};

/// How often idle threads look at the stop flag.
const TICK: Duration = Duration::from_millis(20);
/// Packets waiting for delivery beyond this are dropped (a guard against unbounded memory on unlimited links).
const MAX_PENDING: usize = 200_000;

/// What [`Relay::start`] needs.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub profile: Profile,
    pub seed: u64,
    /// The server the client's packets go to.
    pub upstream: SocketAddr,
    /// Address of the client-facing socket (port chosen by the system).
    pub bind: IpAddr,
    /// Schedule time at the relay's start (see [`Shaper::new`]).
    pub offset: Duration,
    /// The relay stops forwarding by itself after this long.
    pub max_duration: Duration,
}

impl RelayConfig {
    /// Defaults: seed 1, bind 127.0.0.1, offset 0, at most 15 minutes.
    pub fn new(profile: Profile, upstream: SocketAddr) -> Self {
        RelayConfig {
            profile,
            seed: 1,
            upstream,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            offset: Duration::ZERO,
            max_duration: Duration::from_secs(900),
        }
    }
}

/// Counters for one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub delivered: u64,
    pub delivered_bytes: u64,
    pub dropped_loss: u64,
    pub dropped_queue: u64,
    pub dropped_outage: u64,
    /// No client address yet (down), too many packets pending, or the send failed.
    pub dropped_other: u64,
}

/// Counters for both directions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayStats {
    pub profile: String,
    pub up: DirectionStats,
    pub down: DirectionStats,
    /// Packets to the upstream socket from somewhere other than `upstream` (ignored, like a NAT would).
    pub ignored_foreign: u64,
    /// The client's latest source address.
    pub client: Option<SocketAddr>,
    /// The relay's upstream-facing address (what the server sees).
    pub upstream_local: Option<SocketAddr>,
    pub elapsed_ms: u64,
}

impl DirectionStats {
    fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Loss => self.dropped_loss += 1,
            DropReason::Queue => self.dropped_queue += 1,
            DropReason::Outage => self.dropped_outage += 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

struct Pending {
    due: Duration,
    dir: Dir,
    data: Vec<u8>,
}

struct Shared {
    epoch: Instant,
    max_duration: Duration,
    stop: AtomicBool,
    stats: Mutex<RelayStats>,
    client: Mutex<Option<SocketAddr>>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, RelayStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> Option<SocketAddr> {
        *self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once stopped or past `max_duration` (which also sets the stop flag).
    fn should_stop(&self) -> bool {
        if self.epoch.elapsed() >= self.max_duration {
            self.stop.store(true, Ordering::SeqCst);
        }
        self.stop.load(Ordering::SeqCst)
    }

    fn dir_stats(stats: &mut RelayStats, dir: Dir) -> &mut DirectionStats {
        match dir {
            Dir::Up => &mut stats.up,
            Dir::Down => &mut stats.down,
        }
    }
}

/// A running impairment relay; see the module docs.
pub struct Relay {
    shared: Arc<Shared>,
    local: SocketAddr,
    upstream_local: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Validates the profile, binds both sockets and starts forwarding.
    pub fn start(config: RelayConfig) -> io::Result<Relay> {
        config.profile.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let client_sock = UdpSocket::bind(SocketAddr::new(config.bind, 0))?;
        let upstream_ip = match config.upstream.ip() {
            ip if ip.is_loopback() => ip,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let upstream_sock = UdpSocket::bind(SocketAddr::new(upstream_ip, 0))?;
        client_sock.set_read_timeout(Some(TICK))?;
        upstream_sock.set_read_timeout(Some(TICK))?;
        let local = client_sock.local_addr()?;
        let upstream_local = upstream_sock.local_addr()?;

        let (up, down) = config.profile.shapers(config.seed, config.offset);
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            max_duration: config.max_duration,
            stop: AtomicBool::new(false),
            stats: Mutex::new(RelayStats {
                profile: config.profile.name.clone(),
                upstream_local: Some(upstream_local),
                ..RelayStats::default()
            }),
            client: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel();
        let up = Inbound {
            shared: shared.clone(),
            sock: client_sock.try_clone()?,
            tx: tx.clone(),
            dir: Dir::Up,
            shaper: up,
            only_from: None,
        };
        let down = Inbound {
            shared: shared.clone(),
            sock: upstream_sock.try_clone()?,
            tx,
            dir: Dir::Down,
            shaper: down,
            only_from: Some(config.upstream),
        };
        let scheduler = Scheduler { shared: shared.clone(), rx, client_sock, upstream_sock, upstream: config.upstream };
        // If a spawn fails, dropping `relay` stops and joins the threads already started.
        let mut relay = Relay { shared, local, upstream_local, threads: Vec::new() };
        relay.threads.push(spawn_named("impair-up", move || up.run())?);
        relay.threads.push(spawn_named("impair-down", move || down.run())?);
        relay.threads.push(spawn_named("impair-sched", move || scheduler.run())?);
        Ok(relay)
    }

    /// The client-facing address: point the client here.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The upstream-facing address: what the server sees as the client.
    pub fn upstream_local_addr(&self) -> SocketAddr {
        self.upstream_local
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RelayStats {
        let mut stats = self.shared.stats().clone();
        stats.client = self.shared.client();
        stats.elapsed_ms = u64::try_from(self.shared.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        stats
    }

    /// False once stopped, by [`Relay::stop`] or after `max_duration`.
    pub fn is_running(&self) -> bool {
        !self.shared.should_stop()
    }

    /// Stops forwarding and joins the threads (packets still pending are not delivered). Idempotent.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_owned()).spawn(f)
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one socket, decides with its shaper, hands deliverable packets to the scheduler.
struct Inbound {
    shared: Arc<Shared>,
    sock: UdpSocket,
    tx: Sender<Pending>,
    dir: Dir,
    shaper: Shaper,
    /// Accept only packets from this address (the upstream server).
    only_from: Option<SocketAddr>,
}

impl Inbound {
    fn run(mut self) {
        let mut buf = vec![0u8; 65_536];
        while !self.shared.should_stop() {
            let (len, from) = match self.sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(_) => {
                    // E.g. ICMP errors surfacing on the socket: keep going, without spinning.
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            let arrival = self.shared.epoch.elapsed();
            match self.only_from {
                Some(addr) if addr != from => {
                    self.shared.stats().ignored_foreign += 1;
                    continue;
                }
                Some(_) => {}
                None => *self.shared.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(from),
            }
            let verdict = self.shaper.decide(arrival, len);
            {
                let mut stats = self.shared.stats();
                let d = Shared::dir_stats(&mut stats, self.dir);
                d.packets_in += 1;
                d.bytes_in += len as u64;
                if let Verdict::Drop(reason) = verdict {
                    d.count_drop(reason);
                }
            }
            if let Verdict::Deliver { at } = verdict {
                let pending = Pending { due: at, dir: self.dir, data: buf[..len].to_vec() };
                if self.tx.send(pending).is_err() {
                    break;
                }
            }
        }
    }
}

/// Holds packets until their delivery time and sends them.
struct Scheduler {
    shared: Arc<Shared>,
    rx: Receiver<Pending>,
    client_sock: UdpSocket,
    upstream_sock: UdpSocket,
    upstream: SocketAddr,
}

impl Scheduler {
    fn run(self) {
        let mut heap: BinaryHeap<Reverse<Queued>> = BinaryHeap::new();
        let mut seq = 0u64;
        while !self.shared.should_stop() {
            let now = self.shared.epoch.elapsed();
            while heap.peek().is_some_and(|Reverse(q)| q.due <= now) {
                if let Some(Reverse(q)) = heap.pop() {
                    self.send(q.packet);
                }
            }
            let wait = heap.peek().map_or(TICK, |Reverse(q)| q.due.saturating_sub(now).min(TICK));
            let first = match self.rx.recv_timeout(wait) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            for packet in std::iter::once(first).chain(self.rx.try_iter()) {
                if heap.len() >= MAX_PENDING {
                    Shared::dir_stats(&mut self.shared.stats(), packet.dir).dropped_other += 1;
                    continue;
                }
                seq += 1;
                heap.push(Reverse(Queued { due: packet.due, seq, packet }));
            }
        }
    }

    fn send(&self, p: Pending) {
        let sent = match p.dir {
            Dir::Up => self.upstream_sock.send_to(&p.data, self.upstream).is_ok(),
            Dir::Down => match self.shared.client() {
                Some(client) => self.client_sock.send_to(&p.data, client).is_ok(),
                None => false,
            },
        };
        let mut stats = self.shared.stats();
        let d = Shared::dir_stats(&mut stats, p.dir);
        if sent {
            d.delivered += 1;
            d.delivered_bytes += p.data.len() as u64;
        } else {
            d.dropped_other += 1;
        }
    }
}

/// A pending packet in the scheduler's min-heap, ordered by (due, arrival sequence) so equal due times keep
/// arrival order.
struct Queued {
    due: Duration,
    seq: u64,
    packet: Pending,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}
