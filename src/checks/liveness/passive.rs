//! `liveness.passive`: the operator-supplied passive anti-spoof model (MiniFASNet-style, live score = p(real)),
//! averaged over its samples. It is optional: when it is not configured the evidence is Unavailable with the
//! reason, never silently passed.

use super::{SIGNAL_PASSIVE, missing, observed, secs, span};
use crate::checks::{CheckKind, Evidence, Finding};
use crate::observations::Observations;
use serde::{Deserialize, Serialize};

/// Anti-spoof model id (see `models/manifest.toml`).
const SPOOF_MODEL: &str = "anti_spoof";

/// Threshold of the passive model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PassiveConfig {
    /// Mean live score at or above this: Supports (the manifest's `live_threshold`).
    pub live_threshold: f64,
    /// Confidence at the threshold; it grows linearly to `max_confidence` at a score of 0 or 1.
    pub min_confidence: f32,
    pub max_confidence: f32,
}

impl Default for PassiveConfig {
    fn default() -> Self {
        PassiveConfig { live_threshold: 0.5, min_confidence: 0.3, max_confidence: 0.8 }
    }
}

pub(super) fn evaluate(obs: &Observations, cfg: &PassiveConfig) -> Evidence {
    if let Some(why) = obs.unavailable.get(SPOOF_MODEL) {
        return Evidence::unavailable(CheckKind::Liveness, SIGNAL_PASSIVE, format!("passive anti-spoof model: {why}"));
    }
    let scores: Vec<(f64, crate::types::FrameIndex, f64)> = obs
        .video
        .spoof
        .iter()
        .map(|s| (secs(s.t), s.frame, f64::from(s.live_score)))
        .filter(|s| s.2.is_finite())
        .collect();
    if scores.is_empty() {
        return missing(SIGNAL_PASSIVE, "no anti-spoof samples (no face seen)");
    }
    let mean = scores.iter().map(|s| s.2).sum::<f64>() / scores.len() as f64;
    let thr = cfg.live_threshold.clamp(0.0, 1.0);
    let room = if mean >= thr { 1.0 - thr } else { thr };
    let margin = if room > 0.0 { ((mean - thr).abs() / room).min(1.0) } else { 1.0 };
    let conf = cfg.min_confidence + (cfg.max_confidence - cfg.min_confidence) * margin as f32;
    let (finding, text) = if mean >= thr {
        (Finding::Supports, format!("passive model: live (mean score {mean:.2} over {} samples)", scores.len()))
    } else {
        (Finding::Concern, format!("passive model: spoof (mean live score {mean:.2} over {} samples)", scores.len()))
    };
    let worst = scores.iter().min_by(|a, b| a.2.total_cmp(&b.2));
    let e = observed(SIGNAL_PASSIVE, finding, conf, text).with_value(mean);
    match worst {
        Some(w) if finding == Finding::Concern => e.at(span(w.0, w.0, Some(w.1))),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::EvidenceState;
    use crate::observations::SpoofSample;
    use crate::types::{FrameIndex, MediaTime};

    fn with_scores(scores: &[f32]) -> Observations {
        let mut o = Observations { has_video: true, ..Default::default() };
        o.video.spoof = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| SpoofSample {
                t: MediaTime::from_millis(i as u64 * 500),
                frame: FrameIndex(i as u64),
                live_score: s,
            })
            .collect();
        o
    }

    #[test]
    fn mean_score_decides() {
        let e = evaluate(&with_scores(&[0.9, 0.8, 0.95]), &PassiveConfig::default());
        assert_eq!(e.finding(), Some(Finding::Supports));
        let e = evaluate(&with_scores(&[0.1, 0.2, 0.6]), &PassiveConfig::default());
        assert_eq!(e.finding(), Some(Finding::Concern));
        assert_eq!(e.at[0].frame, Some(FrameIndex(0)));
    }

    #[test]
    fn unconfigured_model_is_unavailable_with_the_reason() {
        let mut o = with_scores(&[0.9]);
        o.unavailable.insert("anti_spoof".into(), "not configured (optional operator-supplied model)".into());
        match evaluate(&o, &PassiveConfig::default()).state {
            EvidenceState::Unavailable { reason } => assert!(reason.contains("not configured"), "{reason}"),
            s => panic!("{s:?}"),
        }
        assert!(matches!(evaluate(&with_scores(&[]), &PassiveConfig::default()).state, EvidenceState::Missing { .. }));
    }
}
