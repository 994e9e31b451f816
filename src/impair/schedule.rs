//! The pure decision core: one [`Shaper`] per direction decides, for a packet arriving at a given time with a given
//! size, when it is delivered or why it is dropped. No clock, no sockets: time is an argument, randomness comes from
//! a seeded PRNG, so the same seed and the same arrivals give the same verdicts.
//!
//! Per packet, in order:
//! 1. outage: a packet arriving (schedule time) inside an outage window is dropped;
//! 2. token bucket + FIFO queue, like tbf: the packet leaves when the previous one has left and the bucket holds
//!    its size in tokens (tokens accrue at the rate in force, capped at the bucket depth); if that is later than
//!    arrival + `queue_ms` the packet is dropped (`Queue`) and the queue is left as it was;
//! 3. loss (independent, then Gilbert-Elliott): the packet used the link's capacity but is lost on the way;
//! 4. delay ± jitter, kept monotonic per direction, unless reordering holds the packet back `reorder_ms` more.

use std::time::Duration;

use super::{Link, Outage};

/// What happens to one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver at this time, in the same timebase as the arrival time given to [`Shaper::decide`].
    Deliver {
        at: Duration,
    },
    Drop(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random (independent or bursty) loss.
    Loss,
    /// The packet would have waited longer than `queue_ms` in the queue.
    Queue,
    /// The packet arrived during an outage.
    Outage,
}

/// xoshiro256** seeded through splitmix64: small, fast, good enough for impairment.
#[derive(Clone, Debug)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// One direction's impairment state. Times inside are seconds of schedule time (arrival + offset).
#[derive(Clone, Debug)]
pub struct Shaper {
    link: Link,
    outages: Vec<Outage>,
    offset: Duration,
    rng: Rng,
    in_burst: bool,
    /// When the previous packet left the queue (FIFO: no packet leaves earlier); the tokens are counted then.
    last_departure: f64,
    tokens: f64,
    /// Latest delivery time of a packet that was not held back; later packets are not delivered before it.
    floor: f64,
}

impl Shaper {
    /// A shaper for `link` and `outages`. `offset` is added to every arrival time to get schedule time (the time
    /// the rate steps and outages refer to), so a relay started later can continue the same schedule.
    pub fn new(link: &Link, outages: &[Outage], seed: u64, offset: Duration) -> Self {
        let start = offset.as_secs_f64();
        Shaper {
            link: link.clone(),
            outages: outages.to_vec(),
            offset,
            rng: Rng::new(seed),
            in_burst: false,
            last_departure: start,
            tokens: f64::from(link.burst_bytes),
            floor: start,
        }
    }

    /// Decides the fate of a packet of `size` bytes arriving at `arrival` (since the caller's epoch). Arrivals
    /// should be given in non-decreasing order; an earlier one is treated as arriving at the previous departure.
    pub fn decide(&mut self, arrival: Duration, size: usize) -> Verdict {
        let sched = arrival.saturating_add(self.offset);
        if self.outages.iter().any(|o| {
            let start = Duration::from_millis(o.at_ms);
            sched >= start && sched < start.saturating_add(Duration::from_millis(o.for_ms))
        }) {
            return Verdict::Drop(DropReason::Outage);
        }

        // Token bucket and FIFO queue.
        let t_arr = sched.as_secs_f64();
        let size = size as f64;
        let cap = f64::from(self.link.burst_bytes).max(size);
        let t0 = t_arr.max(self.last_departure);
        let tokens = self.fill(self.tokens, self.last_departure, t0, cap);
        let (departure, tokens_then) = self.wait_for(t0, tokens, size, cap);
        if departure - t_arr > f64::from(self.link.queue_ms) / 1000.0 + 1e-9 {
            return Verdict::Drop(DropReason::Queue);
        }
        self.last_departure = departure;
        self.tokens = tokens_then - size;

        // A fixed number of draws per packet keeps the random streams aligned whatever the configuration.
        let (u_state, u_loss, u_burst, u_jitter, u_reorder) =
            (self.rng.unit(), self.rng.unit(), self.rng.unit(), self.rng.unit(), self.rng.unit());
        let mut lost = u_loss < self.link.loss;
        if let Some(ge) = &self.link.burst_loss {
            lost |= self.in_burst && u_burst < ge.loss_in_burst;
            let flip = if self.in_burst { ge.p_leave } else { ge.p_enter };
            if u_state < flip {
                self.in_burst = !self.in_burst;
            }
        }
        if lost {
            return Verdict::Drop(DropReason::Loss);
        }

        let jitter = f64::from(self.link.jitter_ms) / 1000.0 * (2.0 * u_jitter - 1.0);
        let base = (departure + f64::from(self.link.delay_ms) / 1000.0 + jitter).max(departure).max(self.floor);
        let at = if u_reorder < self.link.reorder {
            base + f64::from(self.link.reorder_ms) / 1000.0
        } else {
            self.floor = base;
            base
        };
        let at = Duration::try_from_secs_f64(at).map_or(arrival, |at| at.saturating_sub(self.offset));
        Verdict::Deliver { at: at.max(arrival) }
    }

    /// The rate (bytes/s, `None` = unlimited) in force at schedule time `t`, and when it next changes.
    fn rate_at(&self, t: f64) -> (Option<f64>, Option<f64>) {
        let steps = &self.link.rate;
        let idx = steps.partition_point(|s| (s.at_ms as f64) / 1000.0 <= t);
        let rate = idx.checked_sub(1).and_then(|i| steps[i].kbps).map(|k| f64::from(k) * 1000.0 / 8.0);
        let next = steps.get(idx).map(|s| s.at_ms as f64 / 1000.0);
        (rate, next)
    }

    /// Tokens at `to`, starting from `tokens` at `from`.
    fn fill(&self, mut tokens: f64, from: f64, to: f64, cap: f64) -> f64 {
        let mut t = from;
        while t < to {
            let (rate, next) = self.rate_at(t);
            let end = next.map_or(to, |n| n.min(to));
            tokens = match rate {
                None => cap,
                Some(r) => (tokens + r * (end - t)).min(cap),
            };
            t = end;
        }
        tokens.min(cap)
    }

    /// The first time from `t` at which the bucket holds `need` tokens, and the tokens then.
    fn wait_for(&self, mut t: f64, mut tokens: f64, need: f64, cap: f64) -> (f64, f64) {
        loop {
            if tokens >= need - 1e-9 {
                return (t, tokens.max(need));
            }
            match self.rate_at(t) {
                (None, _) => return (t, cap),
                (Some(r), next) => {
                    let ready = t + (need - tokens) / r;
                    match next {
                        Some(n) if n < ready => {
                            tokens = (tokens + r * (n - t)).min(cap);
                            t = n;
                        }
                        _ => return (ready, need),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair::{GilbertElliott, Profile, RateStep};

    const MS: Duration = Duration::from_millis(1);

    /// Offers `n` packets of `size` bytes every `gap`, returning (arrival, verdict).
    fn run(shaper: &mut Shaper, n: usize, gap: Duration, size: usize) -> Vec<(Duration, Verdict)> {
        (0..n)
            .map(|i| {
                let t = gap * i as u32;
                (t, shaper.decide(t, size))
            })
            .collect()
    }

    fn delivered_bytes_between(v: &[(Duration, Verdict)], size: usize, from: Duration, to: Duration) -> usize {
        v.iter().filter(|(_, d)| matches!(d, Verdict::Deliver { at } if *at >= from && *at < to)).count() * size
    }

    #[test]
    fn same_seed_same_verdicts_other_seed_differs() {
        let p = Profile::builtin("kbps150_loss5").unwrap();
        let a = run(&mut p.shapers(7, Duration::ZERO).0, 2000, 3 * MS, 1000);
        let b = run(&mut p.shapers(7, Duration::ZERO).0, 2000, 3 * MS, 1000);
        let c = run(&mut p.shapers(8, Duration::ZERO).0, 2000, 3 * MS, 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn loss_fraction_matches_configuration() {
        for loss in [0.01, 0.05, 0.10, 0.30] {
            let link = Link { loss, ..Link::default() };
            let mut s = Shaper::new(&link, &[], 42, Duration::ZERO);
            let v = run(&mut s, 20_000, MS, 200);
            let lost = v.iter().filter(|(_, d)| *d == Verdict::Drop(DropReason::Loss)).count();
            let frac = lost as f64 / 20_000.0;
            eprintln!("loss {loss}: measured {frac:.4}");
            assert!((frac - loss).abs() < 0.01, "configured {loss}, measured {frac}");
            assert_eq!(v.iter().filter(|(_, d)| matches!(d, Verdict::Deliver { .. })).count(), 20_000 - lost);
        }
    }

    #[test]
    fn bursty_loss_clusters() {
        let ge = GilbertElliott { p_enter: 0.01, p_leave: 0.2, loss_in_burst: 0.8 };
        let link = Link { burst_loss: Some(ge), ..Link::default() };
        let v = run(&mut Shaper::new(&link, &[], 3, Duration::ZERO), 20_000, MS, 200);
        let lost: Vec<bool> = v.iter().map(|(_, d)| matches!(d, Verdict::Drop(_))).collect();
        let n_lost = lost.iter().filter(|l| **l).count();
        // Stationary bad share 0.01 / 0.21 ≈ 4.8 %, times 0.8 ≈ 3.8 % lost.
        let frac = n_lost as f64 / 20_000.0;
        assert!((0.025..0.055).contains(&frac), "bursty loss {frac}");
        let after_loss = lost.windows(2).filter(|w| w[0] && w[1]).count() as f64 / n_lost as f64;
        eprintln!("bursty loss: {frac:.4} lost, P(loss | previous lost) = {after_loss:.2}");
        assert!(after_loss > 0.4, "losses should cluster: P(loss | loss) = {after_loss}");
    }

    #[test]
    fn rate_limit_caps_throughput_and_drops_excess_as_queue() {
        // 1000 kb/s = 125 000 B/s; offer 1200-byte packets at twice that for 20 s.
        let link = Link::limited(1000, 16 * 1024, 150);
        let mut s = Shaper::new(&link, &[], 1, Duration::ZERO);
        let gap = Duration::from_secs_f64(1200.0 / 250_000.0);
        let n = (20.0 / gap.as_secs_f64()) as usize;
        let v = run(&mut s, n, gap, 1200);
        let queue_drops = v.iter().filter(|(_, d)| *d == Verdict::Drop(DropReason::Queue)).count();
        assert!(v.iter().all(|(_, d)| *d != Verdict::Drop(DropReason::Loss)));
        let bytes = delivered_bytes_between(&v, 1200, Duration::ZERO, Duration::from_secs(20));
        let kbps = bytes as f64 * 8.0 / 20.0 / 1000.0;
        eprintln!("1000 kb/s offered 2000: delivered {kbps:.1} kb/s, {queue_drops} of {n} dropped (queue)");
        assert!((kbps - 1000.0).abs() < 50.0, "throughput {kbps} kb/s");
        assert!((0.45..0.55).contains(&(queue_drops as f64 / n as f64)), "{queue_drops} of {n} dropped");
        // No packet waits longer than queue_ms, and the bucket lets the first burst through at once.
        for (arr, d) in &v {
            if let Verdict::Deliver { at } = d {
                assert!(*at - *arr <= Duration::from_millis(150) + MS, "waited {:?}", *at - *arr);
            }
        }
        assert_eq!(v[0].1, Verdict::Deliver { at: Duration::ZERO });
    }

    #[test]
    fn under_the_rate_nothing_is_dropped_or_delayed() {
        let link = Link::limited(1000, 16 * 1024, 50);
        let v = run(&mut Shaper::new(&link, &[], 1, Duration::ZERO), 1000, 20 * MS, 1200);
        assert!(v.iter().all(|(arr, d)| *d == Verdict::Deliver { at: *arr }));
    }

    #[test]
    fn outage_drops_exactly_the_packets_in_the_window() {
        let outages = [Outage { at_ms: 1000, for_ms: 500 }];
        let mut s = Shaper::new(&Link::delayed(20, 0), &outages, 1, Duration::ZERO);
        let v = run(&mut s, 3000, MS, 100);
        for (arr, d) in &v {
            let inside = *arr >= Duration::from_millis(1000) && *arr < Duration::from_millis(1500);
            if inside {
                assert_eq!(*d, Verdict::Drop(DropReason::Outage), "at {arr:?}");
            } else {
                assert_eq!(*d, Verdict::Deliver { at: *arr + 20 * MS }, "at {arr:?}");
            }
        }
        // With an offset, the window moves earlier in relay time.
        let mut s = Shaper::new(&Link::default(), &outages, 1, Duration::from_millis(900));
        assert_eq!(s.decide(Duration::from_millis(99), 100), Verdict::Deliver { at: Duration::from_millis(99) });
        assert_eq!(s.decide(Duration::from_millis(100), 100), Verdict::Drop(DropReason::Outage));
        assert_eq!(s.decide(Duration::from_millis(600), 100), Verdict::Deliver { at: Duration::from_millis(600) });
    }

    #[test]
    fn jitter_keeps_order_and_reorder_breaks_it() {
        let ats = |link: &Link| -> Vec<Duration> {
            run(&mut Shaper::new(link, &[], 9, Duration::ZERO), 2000, 2 * MS, 500)
                .into_iter()
                .filter_map(|(_, d)| match d {
                    Verdict::Deliver { at } => Some(at),
                    Verdict::Drop(_) => None,
                })
                .collect()
        };
        let jittery = Link::delayed(50, 20);
        let a = ats(&jittery);
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "jitter alone must not reorder");
        assert!(a.iter().enumerate().all(|(i, at)| *at >= 2 * MS * i as u32 + 30 * MS));
        let reordering = Link { reorder: 0.05, reorder_ms: 15, ..jittery };
        let b = ats(&reordering);
        let inversions = b.windows(2).filter(|w| w[0] > w[1]).count();
        eprintln!("reorder 5 %: {inversions} out-of-order deliveries of {}", b.len());
        assert!((40..200).contains(&inversions), "{inversions} out-of-order deliveries");
    }

    #[test]
    fn rate_step_changes_throughput() {
        let link = Link {
            rate: vec![
                RateStep { at_ms: 0, kbps: Some(1000) },
                RateStep { at_ms: 10_000, kbps: Some(150) },
                RateStep { at_ms: 20_000, kbps: None },
            ],
            ..Link::limited(1, 16 * 1024, 200)
        };
        // Offer 2 Mb/s of 1200-byte packets for 30 s.
        let v = run(&mut Shaper::new(&link, &[], 1, Duration::ZERO), 6250, Duration::from_secs_f64(0.0048), 1200);
        let kbps = |from: u64, to: u64| {
            delivered_bytes_between(&v, 1200, Duration::from_secs(from), Duration::from_secs(to)) as f64 * 8.0
                / (to - from) as f64
                / 1000.0
        };
        let (a, b, c) = (kbps(1, 10), kbps(11, 20), kbps(21, 30));
        eprintln!("rate steps 1000/150/unlimited, offered 2000: {a:.1} / {b:.1} / {c:.1} kb/s");
        assert!((a - 1000.0).abs() < 50.0, "first segment {a}");
        assert!((b - 150.0).abs() < 15.0, "second segment {b}");
        assert!((c - 2000.0).abs() < 50.0, "unlimited segment {c}");
        // A second shaper started 10 s into the schedule sees the 150 kb/s step at once.
        let mut late = Shaper::new(&link, &[], 1, Duration::from_secs(10));
        let v = run(&mut late, 1000, Duration::from_secs_f64(0.0048), 1200);
        let bytes = delivered_bytes_between(&v, 1200, Duration::from_secs(1), Duration::from_secs(4));
        let kbps = bytes as f64 * 8.0 / 3.0 / 1000.0;
        assert!((kbps - 150.0).abs() < 15.0, "offset shaper {kbps}");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let p = Profile::builtin("kbps150_loss5").unwrap();
        let (mut up, _) = p.shapers(1, Duration::MAX);
        let _ = up.decide(Duration::MAX, 0);
        let _ = up.decide(Duration::ZERO, 1 << 20);
        let (mut up, _) = p.shapers(1, Duration::ZERO);
        let _ = up.decide(Duration::from_secs(5), 65_535);
        let _ = up.decide(Duration::from_secs(1), 10);
        let _ = up.decide(Duration::ZERO, 0);
    }
}
