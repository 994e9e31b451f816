//! Network impairment for WebRTC tests and benchmarks, where `tc netem` is not available.
//!
//! - [`Profile`] describes an impaired path: per direction a [`Link`] (piecewise-constant rate through a tbf-like
//!   token bucket and time-bounded FIFO queue, delay, jitter, random and bursty loss, reordering) plus outages.
//!   Profiles are built in by name ([`Profile::builtin`]) or loaded from JSON/TOML ([`Profile::load`]).
//! - [`Shaper`] (in `schedule`) is the pure decision core: given a packet's arrival time and size it says when to
//!   deliver it or why to drop it. It reads no clock, touches no socket and is deterministic for a seed.
//! - [`Relay`] is a UDP forwarder (std sockets and threads, bounded in time) that applies one shaper per direction
//!   between a client and an upstream server; to ICE it looks like a symmetric NAT.
//! - [`rewrite_candidates`] (pure) points an SDP answer's host candidate at the relay.
//! - [`NetnsLink`] creates a network namespace joined by a veth pair with `tbf` on both ends (runs `ip` and `tc`;
//!   needs root) for kernel-side rate limits.
//!
//! This module may use std networking, threads and processes (`relay`, `netns`) and read profile files; the
//! decision part (`schedule`, `sdp`, the profile definitions) is pure.

mod netns;
mod relay;
mod schedule;
mod sdp;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use netns::{NetnsLink, netns_available};
pub use relay::{DirectionStats, Relay, RelayConfig, RelayStats};
pub use schedule::{DropReason, Shaper, Verdict};
pub use sdp::{Candidate, candidates, rewrite_candidates};

/// The built-in profiles: name and a one-line description.
pub const BUILTIN_PROFILES: &[(&str, &str)] = &[
    ("clean", "no impairment at all"),
    ("good_4g", "up 4000 kb/s, 30 ms +-5 ms, 0.2 % loss; down 8000 kb/s, 30 ms"),
    ("kbps400", "up 400 kb/s (16 KiB burst, 150 ms queue), 60 ms +-15 ms, 1 % loss; down 2000 kb/s, 60 ms"),
    (
        "kbps150_loss5",
        "up 150 kb/s (8 KiB burst, 200 ms queue), 80 ms +-20 ms, 5 % loss; down 1000 kb/s, 80 ms, 1 % loss",
    ),
    ("outage5s", "good_4g plus a 5 s outage in both directions at 20 s"),
    ("step_1000_150", "up 1000 kb/s, 150 kb/s from 15 s to 40 s, then 1000 kb/s again; 40 ms each way"),
    ("loss10", "no rate limit, 10 % uplink loss, 30 ms each way"),
    ("rtt300", "150 ms +-10 ms each way, no rate limit, no loss"),
];

/// An impaired network path between a client (the phone) and a server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name reported by tools; a file without one takes its file stem.
    #[serde(default)]
    pub name: String,
    /// Client → server (the phone's uplink).
    #[serde(default)]
    pub up: Link,
    /// Server → client.
    #[serde(default)]
    pub down: Link,
    /// Windows in which everything is dropped in both directions.
    #[serde(default)]
    pub outages: Vec<Outage>,
}

/// One direction of a path. Missing fields in a file take the [`Default`] values (no rate limit, 16 KiB burst,
/// 200 ms queue, no delay, no loss, no reordering).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    /// Piecewise-constant rate schedule in schedule time, `at_ms` strictly ascending. Before the first step (and
    /// with no steps) the rate is unlimited.
    pub rate: Vec<RateStep>,
    /// Token bucket depth in bytes, like tbf `burst` (a packet larger than the bucket still passes, alone).
    pub burst_bytes: u32,
    /// Like tbf `latency`: a packet that would wait longer than this in the queue is dropped.
    pub queue_ms: u32,
    /// Fixed one-way delay added after the queue.
    pub delay_ms: u32,
    /// Uniform ±jitter per packet (delivery order is kept unless reordering fires).
    pub jitter_ms: u32,
    /// Independent random loss probability, 0..=1.
    pub loss: f64,
    /// Optional bursty loss on top of `loss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_loss: Option<GilbertElliott>,
    /// Probability, 0..=1, that a packet is held back an extra `reorder_ms` (and so overtaken).
    pub reorder: f64,
    pub reorder_ms: u32,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            rate: Vec::new(),
            burst_bytes: 16 * 1024,
            queue_ms: 200,
            delay_ms: 0,
            jitter_ms: 0,
            loss: 0.0,
            burst_loss: None,
            reorder: 0.0,
            reorder_ms: 0,
        }
    }
}

/// From `at_ms` on (schedule time), the link runs at `kbps` (1 kb = 1000 bits); `None` = unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateStep {
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbps: Option<u32>,
}

/// Everything is dropped, both directions, for packets arriving in `[at_ms, at_ms + for_ms)` (schedule time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    pub at_ms: u64,
    pub for_ms: u64,
}

/// Two-state bursty loss: per packet, the good state becomes bad with `p_enter`, the bad state good with `p_leave`;
/// in the bad state a packet is lost with `loss_in_burst`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GilbertElliott {
    pub p_enter: f64,
    pub p_leave: f64,
    pub loss_in_burst: f64,
}

/// Why a profile could not be found, read or accepted.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{0}`: not a built-in ({names}) and not a .json/.toml file", names = builtin_names())]
    Unknown(String),
    #[error("cannot read profile file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse profile file {path} as JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot parse profile file {path} as TOML: {source}")]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("profile file {0} must end in .json or .toml")]
    Format(PathBuf),
    #[error("invalid profile `{profile}`: {field}: {problem}")]
    Invalid { profile: String, field: String, problem: String },
}

fn builtin_names() -> String {
    BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

impl Link {
    /// A link with a constant rate limit.
    pub fn limited(kbps: u32, burst_bytes: u32, queue_ms: u32) -> Self {
        Link { rate: vec![RateStep { at_ms: 0, kbps: Some(kbps) }], burst_bytes, queue_ms, ..Link::default() }
    }

    /// An unlimited link that only delays.
    pub fn delayed(delay_ms: u32, jitter_ms: u32) -> Self {
        Link { delay_ms, jitter_ms, ..Link::default() }
    }

    fn with_delay(mut self, delay_ms: u32, jitter_ms: u32) -> Self {
        self.delay_ms = delay_ms;
        self.jitter_ms = jitter_ms;
        self
    }

    fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    fn validate(&self, profile: &str, dir: &str) -> Result<(), ProfileError> {
        let invalid = |field: &str, problem: String| ProfileError::Invalid {
            profile: profile.to_owned(),
            field: format!("{dir}.{field}"),
            problem,
        };
        let probability = |field: &str, p: f64| {
            if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(invalid(field, format!("{p} is not in 0..=1"))) }
        };
        probability("loss", self.loss)?;
        probability("reorder", self.reorder)?;
        if let Some(ge) = &self.burst_loss {
            probability("burst_loss.p_enter", ge.p_enter)?;
            probability("burst_loss.p_leave", ge.p_leave)?;
            probability("burst_loss.loss_in_burst", ge.loss_in_burst)?;
        }
        for (i, step) in self.rate.iter().enumerate() {
            if step.kbps == Some(0) {
                return Err(invalid(&format!("rate[{i}].kbps"), "must be > 0 (leave it out for unlimited)".into()));
            }
            if i > 0 && step.at_ms <= self.rate[i - 1].at_ms {
                return Err(invalid(
                    &format!("rate[{i}].at_ms"),
                    format!("{} is not after the previous step", step.at_ms),
                ));
            }
        }
        Ok(())
    }
}

impl Profile {
    /// A built-in profile by name (see [`BUILTIN_PROFILES`]).
    pub fn builtin(name: &str) -> Option<Profile> {
        let good_4g_up = Link::limited(4000, 32 * 1024, 100).with_delay(30, 5).with_loss(0.002);
        let good_4g_down = Link::limited(8000, 64 * 1024, 100).with_delay(30, 0);
        let (up, down, outages) = match name {
            "clean" => (Link::default(), Link::default(), vec![]),
            "good_4g" => (good_4g_up, good_4g_down, vec![]),
            "kbps400" => (
                Link::limited(400, 16 * 1024, 150).with_delay(60, 15).with_loss(0.01),
                Link::limited(2000, 32 * 1024, 150).with_delay(60, 0),
                vec![],
            ),
            "kbps150_loss5" => (
                Link::limited(150, 8 * 1024, 200).with_delay(80, 20).with_loss(0.05),
                Link::limited(1000, 16 * 1024, 200).with_delay(80, 0).with_loss(0.01),
                vec![],
            ),
            "outage5s" => (good_4g_up, good_4g_down, vec![Outage { at_ms: 20_000, for_ms: 5_000 }]),
            "step_1000_150" => {
                let up = Link {
                    rate: vec![
                        RateStep { at_ms: 0, kbps: Some(1000) },
                        RateStep { at_ms: 15_000, kbps: Some(150) },
                        RateStep { at_ms: 40_000, kbps: Some(1000) },
                    ],
                    burst_bytes: 16 * 1024,
                    queue_ms: 200,
                    ..Link::delayed(40, 0)
                };
                (up, Link::delayed(40, 0), vec![])
            }
            "loss10" => (Link::delayed(30, 0).with_loss(0.10), Link::delayed(30, 0), vec![]),
            "rtt300" => (Link::delayed(150, 10), Link::delayed(150, 10), vec![]),
            _ => return None,
        };
        Some(Profile { name: name.to_owned(), up, down, outages })
    }

    /// A built-in profile by name, else a `.json` or `.toml` file (validated).
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::builtin(name_or_path) {
            return Ok(p);
        }
        let path = Path::new(name_or_path);
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if !path.exists() && !matches!(ext.as_deref(), Some("json" | "toml")) {
            return Err(ProfileError::Unknown(name_or_path.to_owned()));
        }
        Profile::load_file(path)
    }

    /// Reads and validates a `.json` or `.toml` profile file.
    pub fn load_file(path: &Path) -> Result<Profile, ProfileError> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let text =
            std::fs::read_to_string(path).map_err(|source| ProfileError::Io { path: path.to_owned(), source })?;
        let mut profile: Profile = match ext.as_deref() {
            Some("json") => {
                serde_json::from_str(&text).map_err(|source| ProfileError::Json { path: path.to_owned(), source })?
            }
            Some("toml") => {
                toml::from_str(&text).map_err(|source| ProfileError::Toml { path: path.to_owned(), source })?
            }
            _ => return Err(ProfileError::Format(path.to_owned())),
        };
        if profile.name.is_empty() {
            profile.name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        profile.validate()?;
        Ok(profile)
    }

    /// Checks probabilities (0..=1), rates (> 0) and rate step order (strictly ascending).
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.up.validate(&self.name, "up")?;
        self.down.validate(&self.name, "down")
    }

    /// The two shapers for this profile, `(up, down)`, with independent random streams derived from `seed`.
    /// `offset` is where in the schedule time 0 falls (see [`Shaper::new`]).
    pub fn shapers(&self, seed: u64, offset: std::time::Duration) -> (Shaper, Shaper) {
        (
            Shaper::new(&self.up, &self.outages, seed ^ 0x7570_7570_7570_7570, offset),
            Shaper::new(&self.down, &self.outages, seed ^ 0x646f_776e_646f_776e, offset),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_exists_and_is_valid() {
        for (name, _) in BUILTIN_PROFILES {
            let p = Profile::builtin(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(p.name, *name);
            p.validate().unwrap();
        }
        assert!(Profile::builtin("nope").is_none());
        assert_eq!(Profile::builtin("outage5s").unwrap().outages, vec![Outage { at_ms: 20_000, for_ms: 5_000 }]);
        let step = Profile::builtin("step_1000_150").unwrap();
        assert_eq!(step.up.rate.iter().map(|s| s.kbps).collect::<Vec<_>>(), [Some(1000), Some(150), Some(1000)]);
    }

    #[test]
    fn json_and_toml_round_trip() {
        let dir = std::env::temp_dir().join(format!("facereview-impair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = Profile::builtin("kbps150_loss5").unwrap();
        let json = dir.join("a.json");
        std::fs::write(&json, serde_json::to_string_pretty(&p).unwrap()).unwrap();
        assert_eq!(Profile::load(json.to_str().unwrap()).unwrap(), p);
        let toml_path = dir.join("mine.toml");
        std::fs::write(&toml_path, "[up]\ndelay_ms = 50\nloss = 0.02\n[[up.rate]]\nat_ms = 0\nkbps = 300\n").unwrap();
        let t = Profile::load(toml_path.to_str().unwrap()).unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(t.up.delay_ms, 50);
        assert_eq!(t.up.rate, vec![RateStep { at_ms: 0, kbps: Some(300) }]);
        assert_eq!(t.down, Link::default());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_profiles_are_rejected_with_a_reason() {
        assert!(matches!(Profile::load("no_such_profile"), Err(ProfileError::Unknown(_))));
        assert!(matches!(Profile::load("/nonexistent/x.json"), Err(ProfileError::Io { .. })));
        let mut p = Profile::builtin("clean").unwrap();
        p.up.loss = 1.5;
        assert!(p.validate().unwrap_err().to_string().contains("up.loss"));
        p.up.loss = f64::NAN;
        assert!(p.validate().is_err());
        let mut p = Profile::builtin("clean").unwrap();
        p.down.rate = vec![RateStep { at_ms: 0, kbps: Some(0) }];
        assert!(p.validate().is_err());
        p.down.rate = vec![RateStep { at_ms: 10, kbps: Some(5) }, RateStep { at_ms: 10, kbps: None }];
        assert!(p.validate().unwrap_err().to_string().contains("down.rate[1].at_ms"));
    }
}
