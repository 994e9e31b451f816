//! `decide`: evidence + policy → verdict. Pure and deterministic.

use super::policy::{MissingAction, Policy, kind_name};
use super::{Decision, Reason, Verdict};
use crate::checks::{CheckKind, Evidence, EvidenceState, Finding};
use std::cmp::Reverse;
use std::collections::BTreeSet;

/// Scores are rounded to this many parts before thresholds are applied and reported, so the order of the evidence
/// (and float summation order) cannot change a verdict.
const SCORE_SCALE: f64 = 1e4;

fn round_score(x: f64) -> f64 {
    (x.max(0.0) * SCORE_SCALE).round() / SCORE_SCALE
}

/// One candidate reason from one piece of evidence, before merging by code.
struct Effect {
    code: String,
    decision: Decision,
    text: String,
}

/// Evidence as fusion sees it: observed with a usable confidence, or not usable (with the state's name and reason).
enum Seen<'a> {
    Observed { finding: Finding, confidence: f32 },
    NotUsable { state: &'static str, reason: &'a str, action: MissingAction },
}

fn classify<'a>(ev: &'a Evidence, policy: &Policy) -> Seen<'a> {
    match &ev.state {
        EvidenceState::Observed { finding, confidence } if confidence.is_finite() => {
            Seen::Observed { finding: *finding, confidence: confidence.clamp(0.0, 1.0) }
        }
        // A NaN confidence is a bug upstream; treat it like a model that could not produce a number.
        EvidenceState::Observed { .. } => Seen::NotUsable {
            state: "unavailable",
            reason: "confidence is not a number",
            action: policy.on_unavailable(ev),
        },
        EvidenceState::Missing { reason } => {
            Seen::NotUsable { state: "missing", reason: reason.as_str(), action: policy.on_missing(ev) }
        }
        EvidenceState::Unavailable { reason } => {
            Seen::NotUsable { state: "unavailable", reason: reason.as_str(), action: policy.on_unavailable(ev) }
        }
    }
}

/// Fuses evidence into a verdict under `policy`. Pure: same inputs, same verdict, whatever the evidence order.
///
/// 1. Hard rules: matching observed evidence forces at least the rule's decision.
/// 2. Risk score: Σ weight × confidence over Concern evidence minus Σ credit × confidence over Supports, floored at
///    0. Crossing `thresholds.review` / `thresholds.reject` escalates every contributing concern. The reject score
///    counts only check kinds whose cap allows reject, so capped (weak) kinds never push a case to reject.
/// 3. Missing / Unavailable evidence: the `[missing]` / `[unavailable]` action (review when the policy is silent).
/// 4. Caps: no reason from a check kind is more severe than `caps.<kind>`.
/// 5. A required check kind with no observed evidence at all adds a `review` reason `<kind>.absent` (not capped):
///    such a case never passes.
///
/// The decision is the most severe reason's decision, `pass` when there is none.
pub fn decide(evidence: &[Evidence], policy: &Policy, manifest_sha256: &str) -> Verdict {
    let (review_t, reject_t) = policy.thresholds();
    let seen: Vec<Seen> = evidence.iter().map(|ev| classify(ev, policy)).collect();

    // Risk score, and the parts of it each decision level may use.
    let (mut concern, mut concern_review, mut concern_reject, mut credit) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (ev, s) in evidence.iter().zip(&seen) {
        let Seen::Observed { finding, confidence } = *s else { continue };
        match finding {
            Finding::Concern => {
                let c = policy.weight(ev) * f64::from(confidence);
                concern += c;
                let cap = policy.cap(ev.check);
                if cap >= Decision::Review {
                    concern_review += c;
                }
                if cap >= Decision::Reject {
                    concern_reject += c;
                }
            }
            Finding::Supports => credit += policy.credit(ev) * f64::from(confidence),
            Finding::Neutral => {}
        }
    }
    let risk = round_score(concern - credit);
    let review_score = round_score(concern_review - credit);
    let reject_score = round_score(concern_reject - credit);
    let score_level = if reject_score >= reject_t {
        Decision::Reject
    } else if review_score >= review_t {
        Decision::Review
    } else {
        Decision::Pass
    };

    let mut reasons = Vec::new();
    for (ev, s) in evidence.iter().zip(&seen) {
        let cap = policy.cap(ev.check);
        let mut effects = Vec::new();
        match *s {
            Seen::Observed { finding, confidence } => {
                for rule in policy.rules().iter().filter(|r| r.matches(ev, finding, confidence)) {
                    effects.push(Effect {
                        code: rule.code.clone().unwrap_or_else(|| ev.signal.clone()),
                        decision: rule.decision,
                        text: format!("{} — {} (confidence {confidence:.2})", rule.reason, ev.summary),
                    });
                }
                match finding {
                    Finding::Concern => {
                        let c = policy.weight(ev) * f64::from(confidence);
                        let level = score_level.min(cap);
                        let text = match score_level {
                            _ if c <= 0.0 => {
                                format!("{} — concern not weighted by policy {}", ev.summary, policy.version())
                            }
                            Decision::Pass => format!(
                                "{} — adds {c:.2} to a risk score of {risk:.2}, below the review threshold {review_t}",
                                ev.summary
                            ),
                            Decision::Review => format!(
                                "{} — adds {c:.2} to a risk score of {review_score:.2}, at or above the review \
                                 threshold {review_t}",
                                ev.summary
                            ),
                            Decision::Reject => format!(
                                "{} — adds {c:.2} to a risk score of {reject_score:.2}, at or above the reject \
                                 threshold {reject_t}",
                                ev.summary
                            ),
                        };
                        effects.push(Effect {
                            code: ev.signal.clone(),
                            decision: if c > 0.0 { level } else { Decision::Pass },
                            text,
                        });
                    }
                    Finding::Supports => effects.push(Effect {
                        code: ev.signal.clone(),
                        decision: Decision::Pass,
                        text: format!("supports — {} (confidence {confidence:.2})", ev.summary),
                    }),
                    Finding::Neutral => {}
                }
            }
            Seen::NotUsable { state, reason, action } => effects.push(Effect {
                code: format!("{}.{state}", ev.signal),
                decision: Decision::from(action),
                text: format!(
                    "{} {state}: {reason}; policy {}: {}",
                    ev.signal,
                    policy.version(),
                    match action {
                        MissingAction::Ignore => "ignored",
                        MissingAction::Review => "review",
                        MissingAction::Reject => "reject",
                    }
                ),
            }),
        }
        // One reason per code per evidence: the most severe effect wins (rules before the score on ties).
        let mut codes: Vec<&str> = effects.iter().map(|e| e.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let mut best: Option<&Effect> = None;
            for e in effects.iter().filter(|e| e.code == code) {
                if best.is_none_or(|b| e.decision > b.decision) {
                    best = Some(e);
                }
            }
            if let Some(e) = best {
                let text = if e.decision > cap {
                    format!("{} (capped at {cap}: policy caps.{} = {cap})", e.text, kind_name(ev.check))
                } else {
                    e.text.clone()
                };
                reasons.push(Reason {
                    code: e.code.clone(),
                    decision: e.decision.min(cap),
                    text,
                    check: ev.check,
                    evidence: ev.at.clone(),
                    value: ev.value,
                });
            }
        }
    }

    // Required check kinds with nothing observed.
    let observed: BTreeSet<CheckKind> = evidence
        .iter()
        .zip(&seen)
        .filter(|(_, s)| matches!(s, Seen::Observed { .. }))
        .map(|(ev, _)| ev.check)
        .collect();
    for &kind in policy.required() {
        if observed.contains(&kind) {
            continue;
        }
        let not_usable = evidence.iter().filter(|ev| ev.check == kind).count();
        let text = if not_usable == 0 {
            format!("no {} evidence at all; policy {} requires it before a pass", kind_name(kind), policy.version())
        } else {
            format!(
                "no observed {} evidence ({not_usable} signal(s) missing or unavailable); policy {} requires it \
                 before a pass",
                kind_name(kind),
                policy.version()
            )
        };
        reasons.push(Reason {
            code: format!("{}.absent", kind_name(kind)),
            decision: Decision::Review,
            text,
            check: kind,
            evidence: evidence.iter().filter(|ev| ev.check == kind).flat_map(|ev| ev.at.iter().cloned()).collect(),
            value: None,
        });
    }

    reasons.sort_by(|a, b| {
        let key = |r: &Reason| {
            let at: Vec<_> = r.evidence.iter().map(|e| (e.range.start, e.range.end, e.frame)).collect();
            (Reverse(r.decision), r.check, r.code.clone(), at)
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.text.cmp(&b.text))
            .then_with(|| a.value.unwrap_or(f64::NEG_INFINITY).total_cmp(&b.value.unwrap_or(f64::NEG_INFINITY)))
    });
    let decision = reasons.iter().map(|r| r.decision).max().unwrap_or(Decision::Pass);

    Verdict {
        decision,
        reasons,
        risk_score: risk as f32,
        policy_version: policy.version().to_owned(),
        manifest_sha256: manifest_sha256.to_owned(),
    }
}
