//! Fusion: check evidence + a versioned policy → a [`Verdict`] (pass / review / reject) whose every [`Reason`]
//! points at the evidence behind it (check, time range, frame).
//!
//! Pure: no GStreamer, ort, tokio or clock. [`decide`] takes the evidence, the [`Policy`] and the model manifest's
//! sha256 and returns the verdict; the verdict records the policy version and the manifest hash so a decision can
//! be audited and replayed.
//!
//! # Policy file (TOML, `policy/default.toml` is the shipped one)
//!
//! ```toml
//! version = "default-1"              # recorded in every verdict
//! description = "..."                # optional
//! required = ["coverage", "liveness"] # check kinds that need observed evidence before a pass
//!
//! [thresholds]                       # on the risk score; 0 < review < reject
//! review = 0.6
//! reject = 1.5
//!
//! [caps]                             # most severe decision a check kind may cause (default reject)
//! expression = "review"
//!
//! [weights]                          # Concern: score += weight × confidence
//! "liveness.rigid_motion" = 1.0
//! [credit]                           # Supports: score -= credit × confidence (floored at 0)
//! "identity.reference" = 0.2
//!
//! [missing]                          # Missing evidence: ignore / review / reject (review when nothing matches)
//! liveness = "review"
//! [unavailable]                      # Unavailable evidence; falls back to [missing] when nothing here matches
//! "*" = "review"
//!
//! [[rule]]                           # hard rule on observed evidence
//! signal = "liveness.rigid_motion"   # selector, see below
//! finding = "concern"                # optional: concern / supports / neutral (default: any)
//! min_confidence = 0.8               # optional, default 0
//! min_value = 0.0                    # optional bounds on the evidence's value (inclusive; need a value)
//! max_value = 1.0
//! decision = "reject"                # review / reject
//! reason = "face moves as a rigid plane: photo or screen replay"
//! code = "liveness.photo_attack"     # optional reason code (default: the evidence's signal)
//! ```
//!
//! Keys of `[weights]`, `[credit]`, `[missing]`, `[unavailable]` and a rule's `signal` are selectors: an exact
//! signal id (`liveness.blink`), a prefix (`liveness.*`), a check kind (`liveness`, matched against the evidence's
//! `check`) or `*`. In a table the most specific matching key wins (exact, longest prefix, kind, `*`). Unknown
//! fields, unknown decision or check names, negative weights, thresholds out of order and rules that exceed their
//! kind's cap are rejected with a [`FusionError`] that says where and what.
//!
//! # Decision
//!
//! See [`decide`]. Weak evidence classes (expression) are capped at `review`: they may send a case to review but
//! never reject it, alone or in sum (the reject score counts only kinds allowed to reject). Missing or unavailable
//! evidence becomes an explicit reason (`<signal>.missing`, `<signal>.unavailable`, `<kind>.absent`); with the
//! shipped policy it means review, never pass. A pass verdict lists its supporting evidence as `pass` reasons.
//!
//! # QA
//!
//! A [`Verdict`] round-trips through JSON ([`Verdict::to_json`], [`Verdict::from_json`]): the replay `--expect` /
//! `--bless` format. [`Verdict::compare`] checks a new verdict against a golden one.

mod decide;
mod policy;
mod verdict;

pub use decide::decide;
pub use policy::{DEFAULT_POLICY_TOML, MissingAction, Policy, Rule, Selector, kind_name};
pub use verdict::{Decision, Reason, Verdict};

use std::path::PathBuf;

/// Errors loading a policy or reading a verdict. Each names the file and says what is wrong; the message includes
/// the underlying error (so it is not repeated as `source()`).
#[derive(Debug, thiserror::Error)]
pub enum FusionError {
    #[error("cannot read policy file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    /// Not TOML, or not this format: unknown field, unknown decision name, wrong type ... (with line and column).
    #[error("policy {origin} does not parse: {error}")]
    Parse { origin: String, error: Box<toml::de::Error> },
    /// Parses, but makes no sense: thresholds out of order, negative weight, rule above its kind's cap ...
    #[error("policy {origin} is invalid: {problem}")]
    Invalid { origin: String, problem: String },
    #[error("verdict JSON: {0}")]
    Json(serde_json::Error),
}
