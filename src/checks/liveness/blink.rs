//! `liveness.blink`: spontaneous blinks per minute. People blink about 8-20 times a minute (fewer while reading
//! or talking into a camera); a printed photo never does. Weak evidence: a replayed video blinks too, and the mesh
//! at 10 fps can miss a fast blink.
//!
//! Eye openness (mean of both eyes) is compared with its running median over ± `baseline_ms`; a blink is a dip
//! below `close_ratio` × baseline that comes back above `open_ratio` × baseline within `max_blink_ms`. Gaps in
//! the mesh longer than `max_gap_ms` end any dip in progress without counting it.

use super::{SIGNAL_BLINK, eye_open, face_seconds, math, missing, observed, secs, span};
use crate::checks::{Evidence, Finding};
use crate::observations::{MeshSample, Observations};
use crate::types::FrameIndex;
use serde::{Deserialize, Serialize};

/// Thresholds of the blink rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlinkConfig {
    /// Running baseline: median eye openness within this many ms either side.
    pub baseline_ms: u64,
    /// A blink closes the eyes below this fraction of the baseline (a full blink reaches about 1/3).
    pub close_ratio: f64,
    /// ... and reopens above this fraction.
    pub open_ratio: f64,
    /// A closure longer than this (ms) is not a blink (eyes closed, looking down).
    pub max_blink_ms: u64,
    /// Consecutive samples further apart than this (ms) break the series.
    pub max_gap_ms: u64,
    /// Less face than this (ms): Missing.
    pub min_face_ms: u64,
    /// No blink over at least this much face (ms): weak Concern.
    pub no_blink_ms: u64,
    /// More blinks per minute than this: the eye measure is unstable, Neutral.
    pub max_rate: f64,
    pub support_confidence: f32,
    pub concern_confidence: f32,
    pub neutral_confidence: f32,
}

impl Default for BlinkConfig {
    fn default() -> Self {
        BlinkConfig {
            baseline_ms: 3000,
            close_ratio: 0.6,
            open_ratio: 0.8,
            max_blink_ms: 800,
            max_gap_ms: 500,
            min_face_ms: 5000,
            no_blink_ms: 20_000,
            max_rate: 60.0,
            support_confidence: 0.3,
            concern_confidence: 0.3,
            neutral_confidence: 0.1,
        }
    }
}

/// Blinks found in the series: (time, frame) of each closure.
pub(super) fn blinks(mesh: &[&MeshSample], cfg: &BlinkConfig) -> Vec<(f64, FrameIndex)> {
    let eyes: Vec<(f64, FrameIndex, f64)> =
        mesh.iter().filter_map(|s| eye_open(s).map(|e| (secs(s.t), s.frame, e))).collect();
    let half = cfg.baseline_ms as f64 / 1000.0;
    let (max_blink, max_gap) = (cfg.max_blink_ms as f64 / 1000.0, cfg.max_gap_ms as f64 / 1000.0);
    let mut out = Vec::new();
    let mut closed: Option<(f64, FrameIndex)> = None;
    let mut lo = 0;
    let mut prev_t = f64::NEG_INFINITY;
    for &(t, frame, e) in &eyes {
        if t - prev_t > max_gap {
            closed = None;
        }
        prev_t = t;
        while lo < eyes.len() && eyes[lo].0 < t - half {
            lo += 1;
        }
        let base = math::median(eyes[lo..].iter().take_while(|x| x.0 <= t + half).map(|x| x.2)).unwrap_or(e);
        if base <= 0.0 {
            continue;
        }
        match closed {
            None if e < cfg.close_ratio * base => closed = Some((t, frame)),
            Some((t0, f0)) if e >= cfg.open_ratio * base => {
                if t - t0 <= max_blink + 1e-9 {
                    out.push((t0, f0));
                }
                closed = None;
            }
            _ => {}
        }
    }
    out
}

pub(super) fn evaluate(obs: &Observations, mesh: &[&MeshSample], cfg: &BlinkConfig) -> Evidence {
    if !obs.has_video {
        return missing(SIGNAL_BLINK, "no video");
    }
    let face = face_seconds(mesh, cfg.max_gap_ms as f64 / 1000.0);
    if face * 1000.0 < cfg.min_face_ms as f64 {
        return missing(SIGNAL_BLINK, format!("too little face to count blinks ({face:.1} s)"));
    }
    let found = blinks(mesh, cfg);
    let rate = found.len() as f64 / (face / 60.0);
    let whole = match (mesh.first(), mesh.last()) {
        (Some(a), Some(b)) => Some(span(secs(a.t), secs(b.t), Some(a.frame))),
        _ => None,
    };
    let e = if found.is_empty() && (face * 1000.0).round() >= cfg.no_blink_ms as f64 {
        let e = observed(
            SIGNAL_BLINK,
            Finding::Concern,
            cfg.concern_confidence,
            format!("no blink in {face:.0} s of face"),
        );
        match whole {
            Some(w) => e.at(w),
            None => e,
        }
    } else if found.is_empty() {
        observed(
            SIGNAL_BLINK,
            Finding::Neutral,
            cfg.neutral_confidence,
            format!("no blink in {face:.0} s of face (too short to judge)"),
        )
    } else if rate > cfg.max_rate {
        observed(
            SIGNAL_BLINK,
            Finding::Neutral,
            cfg.neutral_confidence,
            format!("{rate:.0} blinks per minute: eye measure unstable"),
        )
    } else {
        let e = observed(
            SIGNAL_BLINK,
            Finding::Supports,
            cfg.support_confidence,
            format!(
                "{} blink{} in {face:.0} s of face ({rate:.0} per minute)",
                found.len(),
                if found.len() == 1 { "" } else { "s" }
            ),
        );
        found.iter().take(3).fold(e, |e, &(t, f)| e.at(span(t, t + 0.3, Some(f))))
    };
    e.with_value(rate)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::checks::EvidenceState;

    fn face(seconds: f64, blink_every: Option<f64>) -> Observations {
        let m = mesh(0.0, seconds, |t| {
            let closed = blink_every.is_some_and(|p| (t % p) >= p - 0.2 - 1e-9);
            let eye = if closed { 0.1 } else { 0.34 + 0.01 * (t * 5.0).sin() as f32 };
            (metrics(eye, 0.05, 0.0), face_points())
        });
        obs(m, 0.0, |_| 0.0, |_| 0.0)
    }

    fn eval(o: &Observations) -> Evidence {
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        evaluate(o, &mesh, &BlinkConfig::default())
    }

    #[test]
    fn a_natural_rate_supports() {
        let e = eval(&face(30.0, Some(4.0)));
        assert_eq!(e.finding(), Some(Finding::Supports), "{e:#?}");
        let rate = e.value.unwrap_or(0.0);
        assert!((13.0..=17.0).contains(&rate), "rate {rate}");
    }

    #[test]
    fn no_blink_over_twenty_seconds_is_a_weak_concern() {
        let e = eval(&face(25.0, None));
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
        assert!(matches!(e.state, EvidenceState::Observed { confidence, .. } if confidence <= 0.3));
        assert_eq!(eval(&face(10.0, None)).finding(), Some(Finding::Neutral));
        assert!(matches!(eval(&face(2.0, None)).state, EvidenceState::Missing { .. }));
    }

    #[test]
    fn closed_eyes_are_not_blinks() {
        let m = mesh(0.0, 25.0, |t| {
            (metrics(if (10.0..13.0).contains(&t) { 0.05 } else { 0.34 }, 0.05, 0.0), face_points())
        });
        let o = obs(m, 0.0, |_| 0.0, |_| 0.0);
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        assert!(blinks(&mesh, &BlinkConfig::default()).is_empty());
    }
}
