//! The fusion policy: a versioned TOML file (weights, thresholds, hard rules, missing-evidence handling, caps),
//! parsed with `deny_unknown_fields` and validated before use. See `policy/default.toml` for the shipped policy and
//! the [module docs](super) for the format.

use super::{Decision, FusionError};
use crate::checks::{CheckKind, Evidence, Finding};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The shipped policy, `policy/default.toml`, compiled in so a binary always has one.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../policy/default.toml");

/// What a hard rule decides. `pass` is not a rule decision: a rule exists to escalate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RuleDecision {
    Review,
    Reject,
}

impl From<RuleDecision> for Decision {
    fn from(d: RuleDecision) -> Decision {
        match d {
            RuleDecision::Review => Decision::Review,
            RuleDecision::Reject => Decision::Reject,
        }
    }
}

/// What Missing or Unavailable evidence means for the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingAction {
    /// Recorded as an explicit `pass` reason, does not escalate.
    Ignore,
    Review,
    Reject,
}

impl From<MissingAction> for Decision {
    fn from(a: MissingAction) -> Decision {
        match a {
            MissingAction::Ignore => Decision::Pass,
            MissingAction::Review => Decision::Review,
            MissingAction::Reject => Decision::Reject,
        }
    }
}

/// Which evidence a policy entry applies to.
///
/// Written as a string: `"liveness.rigid_motion"` (exact signal), `"liveness.*"` (signal prefix), `"liveness"`
/// (every signal of that check kind, by the evidence's `check`), `"*"` (everything). Where several entries of one
/// table match, the most specific wins: exact, then the longest prefix, then check kind, then `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Exact(String),
    /// Stored with its trailing dot: `"liveness."`.
    Prefix(String),
    Kind(CheckKind),
    Any,
}

impl Selector {
    /// Parses a selector string; the error says what is wrong in words.
    pub fn parse(s: &str) -> Result<Selector, String> {
        if s == "*" {
            return Ok(Selector::Any);
        }
        if !s.contains('.') {
            return kind_from_name(s).map(Selector::Kind).ok_or_else(|| {
                format!(
                    "`{s}` is neither a check kind (coverage, liveness, expression, voice, background, identity, \
                     location), a signal id like `liveness.blink`, a prefix like `liveness.*`, nor `*`"
                )
            });
        }
        let (body, prefix) = match s.strip_suffix(".*") {
            Some(body) => (body, true),
            None => (s, false),
        };
        let well_formed = !body.is_empty()
            && body.split('.').all(|seg| {
                !seg.is_empty() && seg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if !well_formed {
            return Err(format!(
                "`{s}` is not a valid signal selector (lowercase dot-separated words, optionally ending in `.*`)"
            ));
        }
        Ok(if prefix { Selector::Prefix(format!("{body}.")) } else { Selector::Exact(body.to_owned()) })
    }

    /// Whether this selector applies to the evidence.
    pub fn matches(&self, ev: &Evidence) -> bool {
        match self {
            Selector::Exact(s) => ev.signal == *s,
            Selector::Prefix(p) => ev.signal.starts_with(p.as_str()),
            Selector::Kind(k) => ev.check == *k,
            Selector::Any => true,
        }
    }

    /// Higher is more specific.
    fn specificity(&self) -> (u8, usize) {
        match self {
            Selector::Exact(_) => (3, 0),
            Selector::Prefix(p) => (2, p.len()),
            Selector::Kind(_) => (1, 0),
            Selector::Any => (0, 0),
        }
    }

    /// The check kind this selector is confined to, when it names one (`liveness`, `liveness.*`, `liveness.blink`).
    fn kind(&self) -> Option<CheckKind> {
        match self {
            Selector::Exact(s) | Selector::Prefix(s) => s.split('.').next().and_then(kind_from_name),
            Selector::Kind(k) => Some(*k),
            Selector::Any => None,
        }
    }
}

fn kind_from_name(s: &str) -> Option<CheckKind> {
    Some(match s {
        "coverage" => CheckKind::Coverage,
        "liveness" => CheckKind::Liveness,
        "expression" => CheckKind::Expression,
        "voice" => CheckKind::Voice,
        "background" => CheckKind::Background,
        "identity" => CheckKind::Identity,
        "location" => CheckKind::Location,
        _ => return None,
    })
}

/// The name a check kind has in policy files and reason codes (`"liveness"`).
pub fn kind_name(k: CheckKind) -> &'static str {
    match k {
        CheckKind::Coverage => "coverage",
        CheckKind::Liveness => "liveness",
        CheckKind::Expression => "expression",
        CheckKind::Voice => "voice",
        CheckKind::Background => "background",
        CheckKind::Identity => "identity",
        CheckKind::Location => "location",
    }
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: Vec<CheckKind>,
    thresholds: RawThresholds,
    #[serde(default)]
    caps: BTreeMap<CheckKind, Decision>,
    #[serde(default)]
    weights: BTreeMap<String, f64>,
    #[serde(default)]
    credit: BTreeMap<String, f64>,
    #[serde(default)]
    missing: BTreeMap<String, MissingAction>,
    #[serde(default)]
    unavailable: BTreeMap<String, MissingAction>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    review: f64,
    reject: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    signal: String,
    #[serde(default)]
    finding: Option<Finding>,
    #[serde(default)]
    min_confidence: Option<f64>,
    #[serde(default)]
    min_value: Option<f64>,
    #[serde(default)]
    max_value: Option<f64>,
    decision: RuleDecision,
    reason: String,
    #[serde(default)]
    code: Option<String>,
}

// ---- validated ----

/// A hard rule: evidence that matches it forces at least its decision (subject to the check kind's cap).
#[derive(Clone, Debug)]
pub struct Rule {
    pub selector: Selector,
    /// `None`: any observed finding.
    pub finding: Option<Finding>,
    pub min_confidence: f32,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub decision: Decision,
    pub reason: String,
    /// Reason code; `None` means the matched evidence's signal id.
    pub code: Option<String>,
}

impl Rule {
    /// Whether observed evidence with this finding and confidence matches (the selector is checked separately).
    pub(super) fn matches(&self, ev: &Evidence, finding: Finding, confidence: f32) -> bool {
        if !self.selector.matches(ev) || self.finding.is_some_and(|f| f != finding) || confidence < self.min_confidence
        {
            return false;
        }
        if self.min_value.is_none() && self.max_value.is_none() {
            return true;
        }
        // A rule on the value needs a value; NaN matches no bound.
        let Some(v) = ev.value else { return false };
        self.min_value.is_none_or(|lo| v >= lo) && self.max_value.is_none_or(|hi| v <= hi)
    }
}

/// A validated fusion policy. Build it with [`Policy::from_toml_str`] or [`Policy::load`].
#[derive(Clone, Debug)]
pub struct Policy {
    version: String,
    description: Option<String>,
    required: Vec<CheckKind>,
    review_threshold: f64,
    reject_threshold: f64,
    caps: BTreeMap<CheckKind, Decision>,
    weights: Vec<(Selector, f64)>,
    credit: Vec<(Selector, f64)>,
    missing: Vec<(Selector, MissingAction)>,
    unavailable: Vec<(Selector, MissingAction)>,
    rules: Vec<Rule>,
}

impl Policy {
    /// Parses and validates a policy. `origin` (a path, or `<string>`) only labels errors.
    fn parse(text: &str, origin: &str) -> Result<Policy, FusionError> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| FusionError::Parse { origin: origin.to_owned(), error: Box::new(e) })?;
        let invalid = |problem: String| FusionError::Invalid { origin: origin.to_owned(), problem };

        let version = raw.version.trim().to_owned();
        if version.is_empty() {
            return Err(invalid("`version` is empty; every verdict records it, so it must name the policy".into()));
        }
        let (review, reject) = (raw.thresholds.review, raw.thresholds.reject);
        if !review.is_finite() || !reject.is_finite() {
            return Err(invalid(format!("thresholds must be finite numbers (review = {review}, reject = {reject})")));
        }
        if review <= 0.0 {
            return Err(invalid(format!(
                "thresholds.review = {review} must be above 0, or a case with no concerns at all would go to review"
            )));
        }
        if review >= reject {
            return Err(invalid(format!("thresholds out of order: review = {review} must be below reject = {reject}")));
        }

        let mut required = raw.required;
        required.sort();
        required.dedup();

        let weights = weight_table("weights", raw.weights).map_err(invalid)?;
        let credit = weight_table("credit", raw.credit).map_err(invalid)?;
        let missing = selector_table("missing", raw.missing).map_err(invalid)?;
        let unavailable = selector_table("unavailable", raw.unavailable).map_err(invalid)?;
        let caps = raw.caps;
        let cap_of = |k: CheckKind| caps.get(&k).copied().unwrap_or(Decision::Reject);

        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, r) in raw.rules.into_iter().enumerate() {
            let n = i + 1;
            let at = format!("rule #{n} (signal `{}`)", r.signal);
            let selector = Selector::parse(&r.signal).map_err(|e| invalid(format!("{at}: {e}")))?;
            let min_confidence = r.min_confidence.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&min_confidence) {
                return Err(invalid(format!("{at}: min_confidence = {min_confidence} is outside [0, 1]")));
            }
            for (name, v) in [("min_value", r.min_value), ("max_value", r.max_value)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(invalid(format!("{at}: {name} must be a finite number")));
                }
            }
            if let (Some(lo), Some(hi)) = (r.min_value, r.max_value)
                && lo > hi
            {
                return Err(invalid(format!("{at}: min_value = {lo} is above max_value = {hi}")));
            }
            if r.reason.trim().is_empty() {
                return Err(invalid(format!("{at}: `reason` is empty; the reviewer reads it")));
            }
            if let Some(code) = &r.code
                && !matches!(Selector::parse(code), Ok(Selector::Exact(_)))
            {
                return Err(invalid(format!("{at}: code `{code}` must look like a signal id (`liveness.photo`)")));
            }
            let decision = Decision::from(r.decision);
            if let Some(k) = selector.kind()
                && decision > cap_of(k)
            {
                return Err(invalid(format!(
                    "{at}: decides `{}` but caps.{} = `{}`: {} evidence may not cause that on its own",
                    decision.as_str(),
                    kind_name(k),
                    cap_of(k).as_str(),
                    kind_name(k)
                )));
            }
            rules.push(Rule {
                selector,
                finding: r.finding,
                min_confidence: min_confidence as f32,
                min_value: r.min_value,
                max_value: r.max_value,
                decision,
                reason: r.reason.trim().to_owned(),
                code: r.code,
            });
        }

        Ok(Policy {
            version,
            description: raw.description,
            required,
            review_threshold: review,
            reject_threshold: reject,
            caps,
            weights,
            credit,
            missing,
            unavailable,
            rules,
        })
    }

    /// Parses and validates a policy from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Policy, FusionError> {
        Policy::parse(text, "<string>")
    }

    /// Reads, parses and validates a policy file.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy, FusionError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|error| FusionError::Read { path: path.to_path_buf(), error })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// The shipped policy ([`DEFAULT_POLICY_TOML`]).
    pub fn builtin() -> Result<Policy, FusionError> {
        Policy::parse(DEFAULT_POLICY_TOML, "policy/default.toml (built in)")
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Check kinds that must have at least one observed piece of evidence for a pass.
    pub fn required(&self) -> &[CheckKind] {
        &self.required
    }

    /// `(review, reject)` risk-score thresholds.
    pub fn thresholds(&self) -> (f64, f64) {
        (self.review_threshold, self.reject_threshold)
    }

    /// The most severe decision evidence of this kind may cause (`reject` when the policy sets no cap).
    pub fn cap(&self, kind: CheckKind) -> Decision {
        self.caps.get(&kind).copied().unwrap_or(Decision::Reject)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Weight of a Concern from this evidence in the risk score (0 when no entry matches).
    pub fn weight(&self, ev: &Evidence) -> f64 {
        most_specific(&self.weights, ev).copied().unwrap_or(0.0)
    }

    /// Credit a Supports from this evidence takes off the risk score (0 when no entry matches).
    pub fn credit(&self, ev: &Evidence) -> f64 {
        most_specific(&self.credit, ev).copied().unwrap_or(0.0)
    }

    /// What Missing evidence means; `review` when no entry matches (never pass silently).
    pub fn on_missing(&self, ev: &Evidence) -> MissingAction {
        most_specific(&self.missing, ev).copied().unwrap_or(MissingAction::Review)
    }

    /// What Unavailable evidence means: `[unavailable]` when an entry there matches, else as [`Policy::on_missing`].
    pub fn on_unavailable(&self, ev: &Evidence) -> MissingAction {
        most_specific(&self.unavailable, ev).copied().unwrap_or_else(|| self.on_missing(ev))
    }
}

fn most_specific<'a, T>(table: &'a [(Selector, T)], ev: &Evidence) -> Option<&'a T> {
    table.iter().filter(|(s, _)| s.matches(ev)).max_by_key(|(s, _)| s.specificity()).map(|(_, v)| v)
}

fn selector_table<T>(name: &str, raw: BTreeMap<String, T>) -> Result<Vec<(Selector, T)>, String> {
    raw.into_iter().map(|(k, v)| Selector::parse(&k).map(|s| (s, v)).map_err(|e| format!("[{name}]: {e}"))).collect()
}

fn weight_table(name: &str, raw: BTreeMap<String, f64>) -> Result<Vec<(Selector, f64)>, String> {
    for (k, w) in &raw {
        if !w.is_finite() || *w < 0.0 {
            return Err(format!("[{name}] `{k}` = {w}: weights must be finite and not negative"));
        }
    }
    selector_table(name, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(check: CheckKind, signal: &str) -> Evidence {
        Evidence::observed(check, signal, Finding::Concern, 1.0, String::new())
    }

    #[test]
    fn selectors_parse_and_match() {
        let e = ev(CheckKind::Liveness, "liveness.rigid_motion");
        for (s, matches) in [
            ("liveness.rigid_motion", true),
            ("liveness.rigid", false),
            ("liveness.*", true),
            ("live.*", false),
            ("liveness", true),
            ("voice", false),
            ("*", true),
        ] {
            match Selector::parse(s) {
                Ok(sel) => assert_eq!(sel.matches(&e), matches, "{s}"),
                Err(err) => panic!("{s}: {err}"),
            }
        }
        for bad in ["", "liveness*", "Liveness.blink", "liveness..blink", ".*", "voices", "a.*.b", "a b.c"] {
            assert!(Selector::parse(bad).is_err(), "`{bad}` accepted");
        }
    }

    #[test]
    fn most_specific_entry_wins() {
        let table: Vec<(Selector, u8)> = ["*", "liveness", "liveness.*", "liveness.rigid_motion"]
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Selector::parse(s).ok().map(|sel| (sel, i as u8)))
            .collect();
        assert_eq!(most_specific(&table, &ev(CheckKind::Liveness, "liveness.rigid_motion")), Some(&3));
        assert_eq!(most_specific(&table, &ev(CheckKind::Liveness, "liveness.blink")), Some(&2));
        // Kind matches the evidence's `check`, whatever its signal is called.
        assert_eq!(most_specific(&table, &ev(CheckKind::Liveness, "lip.sync")), Some(&1));
        assert_eq!(most_specific(&table, &ev(CheckKind::Voice, "voice.blocklist")), Some(&0));
        let nested: Vec<(Selector, u8)> =
            [("a.*", 0), ("a.b.*", 1)].iter().filter_map(|(s, v)| Selector::parse(s).ok().map(|x| (x, *v))).collect();
        assert_eq!(most_specific(&nested, &ev(CheckKind::Voice, "a.b.c")), Some(&1));
    }
}
