//! Kernel-side rate limiting: a network namespace joined to the host by a veth pair with `tbf` on both ends
//! (`tc netem` is not available on these machines, `tbf` is). Runs `ip` and `tc`; needs root. Everything created
//! is deleted on drop.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Subnet numbers already handed out by this process (start from the pid so processes rarely collide).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A namespace `ns_name()` reachable from the host at `ns_addr()`; the host is `host_addr()` from inside. Egress
/// from the namespace (its uplink) and from the host into it (its downlink) both go through `tbf`.
#[derive(Debug)]
pub struct NetnsLink {
    ns: String,
    host_dev: String,
    ns_dev: String,
    subnet: u8,
    burst_bytes: u32,
    latency_ms: u32,
    /// What this value created, and so deletes on drop (never someone else's namespace or link).
    owns_ns: bool,
    owns_link: bool,
}

/// Runs a command, turning a non-zero exit into an error carrying its stderr.
fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.output().map_err(|e| io::Error::new(e.kind(), format!("{cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

fn ip(args: &[&str]) -> io::Result<Output> {
    run(Command::new("ip").args(args))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap_or(false)
    })
}

/// Whether [`NetnsLink::create`] can work here: root, `ip` and `tc` present, and a namespace can be created.
/// The error says which of these is missing, for tests to report why they skip.
pub fn netns_available() -> Result<(), String> {
    if !is_root() {
        return Err("not running as root".into());
    }
    for tool in ["ip", "tc"] {
        match Command::new(tool).arg("-V").output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(format!("`{tool} -V` failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => return Err(format!("`{tool}` not runnable: {e}")),
        }
    }
    let probe = format!("frprobe-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    ip(&["netns", "add", &probe]).map_err(|e| format!("cannot create a network namespace: {e}"))?;
    let _ = ip(&["netns", "del", &probe]);
    Ok(())
}

impl NetnsLink {
    /// Creates the namespace `<prefix>-<pid>-<N>`, the veth pair, addresses 10.213.N.1/30 (host) and 10.213.N.2/30
    /// (namespace), and `tbf rate <rate_kbps>kbit burst <burst_bytes> latency <latency_ms>ms` on both ends. N is
    /// chosen to avoid subnets and names already in use.
    pub fn create(name_prefix: &str, rate_kbps: u32, burst_bytes: u32, latency_ms: u32) -> io::Result<NetnsLink> {
        // Interface names are at most 15 bytes: keep a short alphanumeric prefix.
        let short: String = name_prefix.chars().filter(char::is_ascii_alphanumeric).take(9).collect();
        let short = if short.is_empty() { "imp".to_owned() } else { short };
        let pid = std::process::id();
        let mut last_err = io::Error::other("no free 10.213.N.0/30 subnet");
        for _ in 0..32 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let subnet = u8::try_from((pid.wrapping_mul(7).wrapping_add(n)) % 250 + 1).unwrap_or(1);
            let in_use = ip(&["-o", "-4", "addr", "show"])
                .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("10.213.{subnet}.")))
                .unwrap_or(false);
            if in_use {
                continue;
            }
            let mut link = NetnsLink {
                ns: format!("{name_prefix}-{pid}-{subnet}"),
                host_dev: format!("{short}{subnet}h"),
                ns_dev: format!("{short}{subnet}n"),
                subnet,
                burst_bytes,
                latency_ms,
                owns_ns: false,
                owns_link: false,
            };
            // On failure `link` is dropped here, which deletes whatever was created.
            match link.set_up(rate_kbps) {
                Ok(()) => return Ok(link),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn set_up(&mut self, rate_kbps: u32) -> io::Result<()> {
        let host_cidr = format!("{}/30", self.host_addr());
        let ns_cidr = format!("{}/30", self.ns_addr());
        ip(&["netns", "add", &self.ns])?;
        self.owns_ns = true;
        ip(&["link", "add", &self.host_dev, "type", "veth", "peer", "name", &self.ns_dev])?;
        self.owns_link = true;
        let (ns, host, peer) = (self.ns.as_str(), self.host_dev.as_str(), self.ns_dev.as_str());
        ip(&["link", "set", peer, "netns", ns])?;
        ip(&["addr", "add", &host_cidr, "dev", host])?;
        ip(&["link", "set", host, "up"])?;
        ip(&["-n", ns, "addr", "add", &ns_cidr, "dev", peer])?;
        ip(&["-n", ns, "link", "set", peer, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        self.tbf("add", rate_kbps)
    }

    /// `tc qdisc <verb> dev <dev> root tbf ...` on both ends.
    fn tbf(&self, verb: &str, rate_kbps: u32) -> io::Result<()> {
        let params = [
            "root".to_owned(),
            "tbf".to_owned(),
            "rate".to_owned(),
            format!("{rate_kbps}kbit"),
            "burst".to_owned(),
            self.burst_bytes.to_string(),
            "latency".to_owned(),
            format!("{}ms", self.latency_ms),
        ];
        run(Command::new("tc").args(["qdisc", verb, "dev", &self.host_dev]).args(&params))?;
        run(self.exec_command("tc").args(["qdisc", verb, "dev", &self.ns_dev]).args(&params))?;
        Ok(())
    }

    /// Changes the rate on both ends (`tc qdisc change`), keeping burst and latency.
    pub fn set_rate(&self, rate_kbps: u32) -> io::Result<()> {
        self.tbf("change", rate_kbps)
    }

    /// The host's end, as seen from inside the namespace.
    pub fn host_addr(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 213, self.subnet, 1))
    }

    /// The namespace's end, as seen from the host.
    pub fn ns_addr(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 213, self.subnet, 2))
    }

    pub fn ns_name(&self) -> &str {
        &self.ns
    }

    /// `ip netns exec <ns> <program>`: add arguments and run it inside the namespace.
    pub fn exec_command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, program]);
        cmd
    }
}

impl Drop for NetnsLink {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        if self.owns_link {
            let _ = ip(&["link", "del", &self.host_dev]);
        }
        if self.owns_ns {
            let _ = ip(&["netns", "del", &self.ns]);
        }
    }
}
