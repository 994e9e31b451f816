//! The review checks: model observations over media time → `Evidence` with confidence, timestamps and frames a
//! reviewer can open. Pure: inputs are `observations::Observations` and `interview::Interview`; no GStreamer, ort,
//! tokio or wall clock (a test enforces this).
//!
//! Each check module exposes `fn evaluate(obs, interview, cfg) -> Vec<Evidence>`.

pub mod background;
pub mod coverage;
pub mod expression;
pub mod identity;
pub mod liveness;
pub mod voice;

use crate::types::{FrameIndex, TimeRange};
use serde::{Deserialize, Serialize};

/// Which check produced a piece of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Enough usable media to judge at all (face present, speech present).
    Coverage,
    Liveness,
    Expression,
    Voice,
    Background,
    Identity,
    Location,
}

/// What an observed signal says about the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Consistent with a genuine, present applicant at the declared place.
    Supports,
    /// Points to a risk (spoof, second person, wrong place ...).
    Concern,
    /// Observed, but says nothing either way.
    Neutral,
}

/// Whether the evidence could be produced; missing or unavailable evidence is explicit and fusion handles it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EvidenceState {
    /// `confidence` in [0, 1]: how sure the check is of its finding.
    Observed { finding: Finding, confidence: f32 },
    /// The input it needs is absent (no face, no speech, no location report ...).
    Missing { reason: String },
    /// The model or data it needs could not be used.
    Unavailable { reason: String },
}

/// Where a reviewer should look: a time range, and the frame that shows it best.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub range: TimeRange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<FrameIndex>,
}

/// One piece of evidence from one check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub check: CheckKind,
    /// Stable signal id that the fusion policy refers to, e.g. `liveness.rigid_motion`, `voice.second_speaker`.
    pub signal: String,
    #[serde(flatten)]
    pub state: EvidenceState,
    /// One sentence for the reviewer, with the measured number, e.g. "mouth opening follows speech (r = 0.57)".
    pub summary: String,
    /// The measured value the finding rests on (correlation, metres, similarity ...), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Where to look; empty only for evidence about the whole session.
    #[serde(default)]
    pub at: Vec<EvidenceRef>,
}

impl Evidence {
    pub fn observed(check: CheckKind, signal: &str, finding: Finding, confidence: f32, summary: String) -> Self {
        Evidence {
            check,
            signal: signal.to_owned(),
            state: EvidenceState::Observed { finding, confidence: confidence.clamp(0.0, 1.0) },
            summary,
            value: None,
            at: Vec::new(),
        }
    }

    pub fn missing(check: CheckKind, signal: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Evidence {
            check,
            signal: signal.to_owned(),
            summary: reason.clone(),
            state: EvidenceState::Missing { reason },
            value: None,
            at: Vec::new(),
        }
    }

    pub fn unavailable(check: CheckKind, signal: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Evidence {
            check,
            signal: signal.to_owned(),
            summary: reason.clone(),
            state: EvidenceState::Unavailable { reason },
            value: None,
            at: Vec::new(),
        }
    }

    pub fn with_value(mut self, v: f64) -> Self {
        self.value = Some(v);
        self
    }

    pub fn at(mut self, r: EvidenceRef) -> Self {
        self.at.push(r);
        self
    }

    pub fn finding(&self) -> Option<Finding> {
        match self.state {
            EvidenceState::Observed { finding, .. } => Some(finding),
            _ => None,
        }
    }
}

/// Tunables of every check, with calibrated defaults (each module documents its numbers).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    pub coverage: coverage::CoverageConfig,
    pub liveness: liveness::LivenessConfig,
    pub expression: expression::ExpressionConfig,
    pub voice: voice::VoiceConfig,
    pub background: background::BackgroundConfig,
    pub identity: identity::IdentityConfig,
    pub location: crate::location::LocationConfig,
}

/// Runs every check over one session: the evidence fusion decides on, in a fixed order.
pub fn evaluate_all(
    obs: &crate::observations::Observations,
    interview: &crate::interview::Interview,
    pois: Option<&crate::location::PoiIndex>,
    cfg: &ChecksConfig,
) -> Vec<Evidence> {
    let mut out = coverage::evaluate(obs, &cfg.coverage);
    out.extend(liveness::evaluate(obs, interview, &cfg.liveness));
    out.extend(expression::evaluate(obs, interview, &cfg.expression));
    out.extend(voice::evaluate(obs, interview, &cfg.voice));
    out.extend(background::evaluate(obs, interview, &cfg.background));
    out.extend(identity::evaluate(obs, interview, &cfg.identity));
    out.extend(crate::location::evaluate(interview.declared.as_ref(), &interview.locations, pois, &cfg.location));
    out
}
