//! The verdict fusion returns, its JSON form (the replay `--expect` / `--bless` file) and the QA comparison.

use super::FusionError;
use crate::checks::{CheckKind, EvidenceRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The outcome of a case. Ordered by severity: `Pass < Review < Reject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Review,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Review => "review",
            Decision::Reject => "reject",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason behind a verdict, pointing at the evidence a reviewer should open.
///
/// `decision` is what this reason argues for under the policy: `reject` / `review` for the reasons that escalated
/// the case, `pass` for supporting evidence, concerns below the thresholds and missing evidence the policy ignores
/// (so a pass verdict still shows why it passed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable id: the signal (`liveness.rigid_motion`), a rule's own code, `<signal>.missing` /
    /// `<signal>.unavailable`, or `<check>.absent` for a required check with no observed evidence.
    pub code: String,
    pub decision: Decision,
    /// One or two sentences for the reviewer: the policy's reason and the check's summary with its number.
    pub text: String,
    pub check: CheckKind,
    /// Copied from the evidence: where to look.
    #[serde(default)]
    pub evidence: Vec<EvidenceRef>,
    /// The evidence's measured value, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// What fusion decided, why, and under which policy and models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Most severe first, in a deterministic order.
    pub reasons: Vec<Reason>,
    /// Σ weight × confidence over Concern evidence minus the Supports credit, floored at 0, rounded to 1e-4.
    pub risk_score: f32,
    pub policy_version: String,
    pub manifest_sha256: String,
}

impl Verdict {
    /// Pretty JSON, the golden-file format.
    pub fn to_json(&self) -> Result<String, FusionError> {
        serde_json::to_string_pretty(self).map_err(FusionError::Json)
    }

    pub fn from_json(text: &str) -> Result<Verdict, FusionError> {
        serde_json::from_str(text).map_err(FusionError::Json)
    }

    /// The verdict's reasons as a set of `(code, decision)`.
    pub fn reason_set(&self) -> BTreeSet<(String, Decision)> {
        self.reasons.iter().map(|r| (r.code.clone(), r.decision)).collect()
    }

    /// QA comparison of `self` (the new verdict) with `expected` (a golden file).
    ///
    /// The decision and the set of reason `(code, decision)` pairs must match exactly; `risk_score` may differ by at
    /// most `score_tolerance` (a NaN or negative tolerance accepts no difference). Reason texts, evidence
    /// references, policy version and manifest hash are not compared: a changed policy or model shows up in the
    /// decisions and reasons it changes. Every difference is listed in plain words.
    pub fn compare(&self, expected: &Verdict, score_tolerance: f32) -> Result<(), Vec<String>> {
        let mut diffs = Vec::new();
        if self.decision != expected.decision {
            diffs.push(format!("decision changed: expected {}, got {}", expected.decision, self.decision));
        }
        let got = self.reason_set();
        let want = expected.reason_set();
        for (code, d) in want.difference(&got) {
            diffs.push(format!("missing reason: {code} ({d}) was expected but is not in the new verdict"));
        }
        for (code, d) in got.difference(&want) {
            diffs.push(format!("unexpected reason: {code} ({d}) is new, not in the expected verdict"));
        }
        let diff = (self.risk_score - expected.risk_score).abs();
        let tolerance = if score_tolerance.is_nan() { 0.0 } else { score_tolerance.max(0.0) };
        if diff.is_nan() || diff > tolerance {
            diffs.push(format!(
                "risk score changed: expected {:.4}, got {:.4} (difference {:.4} is more than the tolerance {:.4})",
                expected.risk_score, self.risk_score, diff, tolerance
            ));
        }
        if diffs.is_empty() { Ok(()) } else { Err(diffs) }
    }
}
