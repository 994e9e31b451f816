//! Fusion: evidence + policy → verdict. Table-driven over the shipped policy (`policy/default.toml`) and small
//! inline policies; each case names the behaviour it pins.

use facereview::checks::{CheckKind, Evidence, EvidenceRef, Finding};
use facereview::fusion::{DEFAULT_POLICY_TOML, Decision, FusionError, Policy, Verdict, decide};
use facereview::types::{FrameIndex, MediaTime, TimeRange};

const MANIFEST: &str = "3f1c0ffee0000000000000000000000000000000000000000000000000000abc";

fn default_policy() -> Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy/default.toml");
    match Policy::load(&path) {
        Ok(p) => p,
        Err(e) => panic!("policy/default.toml must load: {e}"),
    }
}

fn policy(text: &str) -> Policy {
    match Policy::from_toml_str(text) {
        Ok(p) => p,
        Err(e) => panic!("test policy must load: {e}"),
    }
}

fn at(start_s: f64, end_s: f64, frame: u64) -> EvidenceRef {
    EvidenceRef {
        range: TimeRange::new(MediaTime::from_secs_f64(start_s), MediaTime::from_secs_f64(end_s)),
        frame: Some(FrameIndex(frame)),
    }
}

fn kind_of(signal: &str) -> CheckKind {
    match signal.split('.').next() {
        Some("coverage") => CheckKind::Coverage,
        Some("liveness") => CheckKind::Liveness,
        Some("expression") => CheckKind::Expression,
        Some("voice") => CheckKind::Voice,
        Some("background") => CheckKind::Background,
        Some("identity") => CheckKind::Identity,
        Some("location") => CheckKind::Location,
        _ => panic!("test signal {signal} has no check kind"),
    }
}

fn concern(signal: &str, confidence: f32) -> Evidence {
    Evidence::observed(kind_of(signal), signal, Finding::Concern, confidence, format!("{signal} concern"))
        .at(at(10.0, 20.0, 300))
}

fn supports(signal: &str, confidence: f32) -> Evidence {
    Evidence::observed(kind_of(signal), signal, Finding::Supports, confidence, format!("{signal} fine"))
        .at(at(0.0, 60.0, 30))
}

fn missing(signal: &str) -> Evidence {
    Evidence::missing(kind_of(signal), signal, "no input")
}

fn unavailable(signal: &str) -> Evidence {
    Evidence::unavailable(kind_of(signal), signal, "model failed to load")
}

/// A genuine applicant: every required check observed and supporting.
fn clean() -> Vec<Evidence> {
    vec![
        supports("coverage.face", 0.95).with_value(0.97),
        supports("coverage.speech", 0.9).with_value(0.6),
        supports("liveness.challenge", 0.95),
        supports("liveness.rigid_motion", 0.9),
        supports("liveness.passive", 0.9),
        supports("liveness.blink", 0.8),
        supports("identity.reference", 0.95).with_value(0.71),
        supports("identity.consistency", 0.9),
        supports("voice.second_speaker", 0.9),
        supports("location.distance", 0.9).with_value(35.0),
        supports("location.declared_poi", 0.9),
        supports("location.mock", 0.9),
        Evidence::observed(CheckKind::Expression, "expression.spike", Finding::Neutral, 0.5, "calm".into()),
    ]
}

/// `clean()` with every evidence of `signal` replaced by `replacement`.
fn clean_with(signal: &str, replacement: Vec<Evidence>) -> Vec<Evidence> {
    let mut ev: Vec<Evidence> = clean().into_iter().filter(|e| e.signal != signal).collect();
    ev.extend(replacement);
    ev
}

fn has_reason(v: &Verdict, code: &str, d: Decision) -> bool {
    v.reasons.iter().any(|r| r.code == code && r.decision == d)
}

struct Case {
    name: &'static str,
    evidence: Vec<Evidence>,
    decision: Decision,
    /// Reasons that must be present, as (code, decision).
    reasons: Vec<(&'static str, Decision)>,
    /// Reason codes that must not be present at any decision above pass.
    not_escalated: Vec<&'static str>,
}

fn default_policy_cases() -> Vec<Case> {
    use Decision::*;
    vec![
        Case {
            name: "all supports -> pass, listing the supporting evidence",
            evidence: clean(),
            decision: Pass,
            reasons: vec![("identity.reference", Pass), ("liveness.challenge", Pass), ("location.distance", Pass)],
            not_escalated: vec![],
        },
        Case {
            name: "photo attack (rigid motion concern 0.9) -> reject",
            evidence: clean_with("liveness.rigid_motion", vec![concern("liveness.rigid_motion", 0.9).with_value(0.98)]),
            decision: Reject,
            reasons: vec![("liveness.rigid_motion", Reject)],
            not_escalated: vec![],
        },
        Case {
            name: "rigid motion concern at 0.6 -> review only (reject needs 0.8)",
            evidence: clean_with("liveness.rigid_motion", vec![concern("liveness.rigid_motion", 0.6)]),
            decision: Review,
            reasons: vec![("liveness.rigid_motion", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "second speaker -> review",
            evidence: clean_with("voice.second_speaker", vec![concern("voice.second_speaker", 0.8)]),
            decision: Review,
            reasons: vec![("voice.second_speaker", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "location far from the declared business -> review, not reject",
            evidence: clean_with("location.distance", vec![concern("location.distance", 0.95).with_value(5200.0)]),
            decision: Review,
            reasons: vec![("location.distance", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "location 3 km away though the check says fine -> review by value rule",
            evidence: clean_with("location.distance", vec![supports("location.distance", 0.7).with_value(3000.0)]),
            decision: Review,
            reasons: vec![("location.distance", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "mock location at 0.9 -> reject",
            evidence: clean_with("location.mock", vec![concern("location.mock", 0.9)]),
            decision: Reject,
            reasons: vec![("location.mock", Reject)],
            not_escalated: vec![],
        },
        Case {
            // As checks::coverage reports it: value = face ratio, confidence = 1 - ratio.
            name: "no face for 40% of the call (concern 0.4, value 0.6) -> review",
            evidence: clean_with("coverage.face", vec![concern("coverage.face", 0.4).with_value(0.6)]),
            decision: Review,
            reasons: vec![("coverage.face", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "no face for 25% of the call, the check says concern -> review",
            evidence: clean_with("coverage.face", vec![concern("coverage.face", 0.25).with_value(0.75)]),
            decision: Review,
            reasons: vec![("coverage.face", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "no face for 40% of the call, check still says supports -> review by value rule",
            evidence: clean_with("coverage.face", vec![supports("coverage.face", 0.6).with_value(0.6)]),
            decision: Review,
            reasons: vec![("coverage.face", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "face coverage missing -> review, never pass",
            evidence: clean_with("coverage.face", vec![missing("coverage.face")]),
            decision: Review,
            reasons: vec![("coverage.face.missing", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "no face at all: coverage and liveness missing -> review with absent reasons",
            evidence: clean()
                .into_iter()
                .filter(|e| e.check != CheckKind::Coverage && e.check != CheckKind::Liveness)
                .chain([missing("coverage.face"), missing("liveness.rigid_motion")])
                .collect(),
            decision: Review,
            reasons: vec![
                ("coverage.face.missing", Review),
                ("liveness.rigid_motion.missing", Review),
                ("coverage.absent", Review),
                ("liveness.absent", Review),
            ],
            not_escalated: vec![],
        },
        Case {
            name: "expression spike alone at confidence 1.0 -> review, not reject",
            evidence: clean_with("expression.spike", vec![concern("expression.spike", 1.0)]),
            decision: Review,
            reasons: vec![("expression.spike", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "weak expression spike -> pass, noted as a pass reason",
            evidence: clean_with("expression.spike", vec![concern("expression.spike", 0.5)]),
            decision: Pass,
            reasons: vec![("expression.spike", Pass)],
            not_escalated: vec!["expression.spike"],
        },
        Case {
            name: "expression missing -> ignored, explicit pass reason",
            evidence: clean_with("expression.spike", vec![missing("expression.spike")]),
            decision: Pass,
            reasons: vec![("expression.spike.missing", Pass)],
            not_escalated: vec!["expression.spike.missing"],
        },
        Case {
            name: "liveness model unavailable -> review",
            evidence: clean_with("liveness.rigid_motion", vec![unavailable("liveness.rigid_motion")]),
            decision: Review,
            reasons: vec![("liveness.rigid_motion.unavailable", Review)],
            not_escalated: vec!["liveness.absent"],
        },
        Case {
            name: "optional passive model not configured -> listed, not escalated",
            evidence: clean_with("liveness.passive", vec![unavailable("liveness.passive")]),
            decision: Pass,
            reasons: vec![("liveness.passive.unavailable", Pass)],
            not_escalated: vec!["liveness.absent"],
        },
        Case {
            name: "every liveness model unavailable -> review, liveness absent",
            evidence: clean()
                .into_iter()
                .filter(|e| e.check != CheckKind::Liveness)
                .chain([unavailable("liveness.av_sync"), unavailable("liveness.rigid_motion")])
                .collect(),
            decision: Review,
            reasons: vec![("liveness.rigid_motion.unavailable", Review), ("liveness.absent", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "no enrolled voiceprint -> ignored",
            evidence: clean_with("voice.enrolled_match", vec![missing("voice.enrolled_match")]),
            decision: Pass,
            reasons: vec![("voice.enrolled_match.missing", Pass)],
            not_escalated: vec![],
        },
        Case {
            name: "location reports missing -> review",
            evidence: clean()
                .into_iter()
                .filter(|e| e.check != CheckKind::Location)
                .chain([missing("location.reports")])
                .collect(),
            decision: Review,
            reasons: vec![("location.reports.missing", Review), ("location.absent", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "no evidence at all -> review, every required kind absent",
            evidence: vec![],
            decision: Review,
            reasons: vec![
                ("coverage.absent", Review),
                ("liveness.absent", Review),
                ("identity.absent", Review),
                ("voice.absent", Review),
                ("location.absent", Review),
            ],
            not_escalated: vec![],
        },
        Case {
            name: "blink concern alone -> pass (weak, below review)",
            evidence: clean_with("liveness.blink", vec![concern("liveness.blink", 1.0)]),
            decision: Pass,
            reasons: vec![("liveness.blink", Pass)],
            not_escalated: vec!["liveness.blink"],
        },
        Case {
            name: "blink and pulse concerns together -> review by score",
            evidence: clean_with(
                "liveness.blink",
                vec![concern("liveness.blink", 1.0), concern("liveness.pulse", 1.0)],
            )
            .into_iter()
            .filter(|e| {
                !["identity.reference", "liveness.challenge", "location.declared_poi"].contains(&e.signal.as_str())
            })
            .chain([Evidence::observed(CheckKind::Identity, "identity.reference", Finding::Neutral, 0.5, "".into())])
            .collect(),
            decision: Review,
            reasons: vec![("liveness.blink", Review), ("liveness.pulse", Review)],
            not_escalated: vec![],
        },
        Case {
            name: "several moderate liveness concerns, none rejecting alone -> reject by score",
            evidence: clean()
                .into_iter()
                .filter(|e| e.check != CheckKind::Liveness)
                .chain([
                    concern("liveness.rigid_motion", 0.75),
                    concern("liveness.passive", 0.85),
                    concern("liveness.av_sync", 1.0),
                    concern("liveness.blink", 1.0),
                ])
                .collect(),
            decision: Reject,
            reasons: vec![("liveness.rigid_motion", Reject), ("liveness.passive", Reject)],
            not_escalated: vec![],
        },
        Case {
            name: "an unknown concern signal still counts through the catch-all weight",
            evidence: clean()
                .into_iter()
                .chain([concern("voice.replay_artifact", 1.0), concern("background.lighting", 1.0)])
                .collect(),
            decision: Pass,
            reasons: vec![("voice.replay_artifact", Pass), ("background.lighting", Pass)],
            not_escalated: vec![],
        },
    ]
}

#[test]
fn default_policy_decides_each_case() {
    let p = default_policy();
    let mut failures = Vec::new();
    for case in default_policy_cases() {
        let v = decide(&case.evidence, &p, MANIFEST);
        if v.decision != case.decision {
            failures.push(format!("{}: expected {}, got {} ({:#?})", case.name, case.decision, v.decision, v.reasons));
            continue;
        }
        for (code, d) in &case.reasons {
            if !has_reason(&v, code, *d) {
                failures.push(format!("{}: no reason {code} ({d}) in {:?}", case.name, v.reason_set()));
            }
        }
        for code in &case.not_escalated {
            if v.reasons.iter().any(|r| r.code == *code && r.decision > Decision::Pass) {
                failures.push(format!("{}: {code} escalated", case.name));
            }
        }
        // Invariants every verdict keeps.
        let max = v.reasons.iter().map(|r| r.decision).max().unwrap_or(Decision::Pass);
        if max != v.decision {
            failures.push(format!("{}: decision {} is not the most severe reason {max}", case.name, v.decision));
        }
        if v.reasons.windows(2).any(|w| w[0].decision < w[1].decision) {
            failures.push(format!("{}: reasons not most severe first", case.name));
        }
        if v.policy_version != p.version() || v.manifest_sha256 != MANIFEST {
            failures.push(format!("{}: verdict does not record policy version and manifest hash", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reject_reason_points_at_the_evidence() {
    let p = default_policy();
    let attack = concern("liveness.rigid_motion", 0.9).with_value(0.98);
    let attack = Evidence { at: vec![at(12.0, 18.5, 372), at(40.0, 41.0, 1210)], ..attack };
    let v = decide(&clean_with("liveness.rigid_motion", vec![attack.clone()]), &p, MANIFEST);
    assert_eq!(v.decision, Decision::Reject);
    let first = &v.reasons[0];
    assert_eq!(first.code, "liveness.rigid_motion");
    assert_eq!(first.decision, Decision::Reject);
    assert_eq!(first.check, CheckKind::Liveness);
    assert_eq!(first.evidence, attack.at, "the reviewer must be able to jump to the time range and frame");
    assert_eq!(first.value, Some(0.98));
    assert!(first.text.contains("rigid"), "text explains: {}", first.text);
    assert_eq!(v.policy_version, "default-2025.1");
    assert_eq!(v.manifest_sha256, MANIFEST);
}

#[test]
fn builtin_policy_is_the_shipped_file() {
    let shipped = default_policy();
    let builtin = match Policy::builtin() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(builtin.version(), shipped.version());
    let on_disk = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy/default.toml"));
    assert_eq!(on_disk.ok().as_deref(), Some(DEFAULT_POLICY_TOML));
    assert!(!shipped.version().is_empty());
    assert_eq!(shipped.cap(CheckKind::Expression), Decision::Review);
    assert_eq!(
        shipped.required(),
        [CheckKind::Coverage, CheckKind::Liveness, CheckKind::Voice, CheckKind::Identity, CheckKind::Location]
    );
}

/// The shipped policy names only the signal ids the checks emit (a typo there would silently never match).
#[test]
fn shipped_policy_names_known_signals() {
    const KNOWN: &[&str] = &[
        "coverage.face",
        "coverage.speech",
        "liveness.challenge",
        "liveness.rigid_motion",
        "liveness.av_sync",
        "liveness.blink",
        "liveness.pulse",
        "liveness.screen",
        "liveness.passive",
        "expression.spike",
        "voice.second_speaker",
        "voice.enrolled_match",
        "voice.blocklist",
        "background.scene_category",
        "background.other_people",
        "background.screen",
        "background.virtual",
        "background.sign_text",
        "identity.consistency",
        "identity.reference",
        "location.reports",
        "location.distance",
        "location.category",
        "location.impossible_travel",
        "location.mock",
        "location.invalid_report",
        "location.declared_poi",
    ];
    let table: toml::Table = match toml::from_str(DEFAULT_POLICY_TOML) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let mut named: Vec<String> = Vec::new();
    for t in ["weights", "credit", "missing", "unavailable"] {
        if let Some(tab) = table.get(t).and_then(|v| v.as_table()) {
            named.extend(tab.keys().cloned());
        }
    }
    for rule in table.get("rule").and_then(|v| v.as_array()).into_iter().flatten() {
        if let Some(s) = rule.get("signal").and_then(|s| s.as_str()) {
            named.push(s.to_owned());
        }
    }
    let unknown: Vec<&String> =
        named.iter().filter(|s| s.contains('.') && !s.ends_with(".*") && !KNOWN.contains(&s.as_str())).collect();
    assert!(unknown.is_empty(), "policy names signals no check emits: {unknown:?}");
}

const SMALL: &str = r#"
version = "small-1"
required = ["liveness"]
[thresholds]
review = 1.0
reject = 2.0
[caps]
expression = "review"
[weights]
"liveness.*" = 1.0
expression = 10.0
"#;

#[test]
fn capped_kind_never_rejects_even_with_a_huge_weight() {
    let p = policy(SMALL);
    let ev = vec![supports("liveness.passive", 0.9), concern("expression.spike", 1.0)];
    let v = decide(&ev, &p, MANIFEST);
    assert_eq!(v.decision, Decision::Review);
    assert!(v.risk_score >= 10.0, "the score still shows the concern: {}", v.risk_score);
    // ... and does not tip a weak liveness concern into reject either.
    let ev = vec![concern("liveness.passive", 0.5), concern("expression.spike", 1.0)];
    let v = decide(&ev, &p, MANIFEST);
    assert_eq!(v.decision, Decision::Review);
    assert!(has_reason(&v, "expression.spike", Decision::Review));
    assert!(!has_reason(&v, "liveness.passive", Decision::Reject));
    // Liveness alone above the reject threshold does reject.
    let ev = vec![concern("liveness.passive", 1.0), concern("liveness.screen", 1.0)];
    assert_eq!(decide(&ev, &p, MANIFEST).decision, Decision::Reject);
}

/// Caps hold for every path to a decision, also where validation cannot see the kind (`*` selectors).
#[test]
fn caps_bound_rules_and_missing_actions_at_run_time() {
    let p = policy(
        r#"
version = "caps-1"
[thresholds]
review = 1.0
reject = 2.0
[caps]
expression = "review"
background = "pass"
[missing]
"*" = "reject"
[[rule]]
signal = "*"
finding = "concern"
min_confidence = 0.9
decision = "reject"
reason = "anything very sure"
"#,
    );
    let cases = [
        (concern("expression.spike", 1.0), Decision::Review),
        (missing("expression.spike"), Decision::Review),
        (unavailable("expression.spike"), Decision::Review),
        (concern("background.virtual", 1.0), Decision::Pass),
        (concern("liveness.screen", 1.0), Decision::Reject),
        (missing("liveness.screen"), Decision::Reject),
    ];
    for (ev, want) in cases {
        let v = decide(std::slice::from_ref(&ev), &p, MANIFEST);
        assert_eq!(v.decision, want, "{} {:?}", ev.signal, ev.state);
    }
}

#[test]
fn nan_confidence_is_treated_as_unavailable_not_as_zero() {
    let p = default_policy();
    let mut bad = concern("liveness.rigid_motion", 0.9);
    bad.state = facereview::checks::EvidenceState::Observed { finding: Finding::Concern, confidence: f32::NAN };
    let v = decide(&clean_with("liveness.rigid_motion", vec![bad]), &p, MANIFEST);
    assert_eq!(v.decision, Decision::Review);
    assert!(has_reason(&v, "liveness.rigid_motion.unavailable", Decision::Review), "{:?}", v.reason_set());
    assert!(v.risk_score.is_finite());
}

#[test]
fn missing_action_lookup_is_most_specific_first() {
    let p = policy(
        r#"
version = "m-1"
[thresholds]
review = 1.0
reject = 2.0
[missing]
"*" = "reject"
liveness = "ignore"
"liveness.*" = "review"
"liveness.blink" = "ignore"
[unavailable]
"liveness.passive" = "reject"
"#,
    );
    let cases = [
        (missing("liveness.blink"), Decision::Pass),
        (missing("liveness.pulse"), Decision::Review),
        (missing("voice.blocklist"), Decision::Reject),
        (unavailable("liveness.passive"), Decision::Reject),
        (unavailable("liveness.pulse"), Decision::Review), // falls back to [missing]
        (unavailable("liveness.blink"), Decision::Pass),   // falls back to [missing]
    ];
    for (ev, want) in cases {
        let v = decide(std::slice::from_ref(&ev), &p, MANIFEST);
        assert_eq!(v.decision, want, "{} {:?}", ev.signal, ev.state);
    }
}

#[test]
fn policy_without_missing_entries_reviews_missing_evidence() {
    let p = policy("version = \"bare\"\n[thresholds]\nreview = 1.0\nreject = 2.0\n");
    let v = decide(&[missing("background.virtual")], &p, MANIFEST);
    assert_eq!(v.decision, Decision::Review);
    assert!(has_reason(&v, "background.virtual.missing", Decision::Review));
}

#[test]
fn policy_errors_are_clear() {
    let base = "version = \"t\"\n[thresholds]\nreview = 0.5\nreject = 1.5\n";
    let rule = |body: &str| format!("{base}[[rule]]\nsignal = \"liveness.screen\"\nreason = \"r\"\n{body}\n");
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("bad decision name in a rule", rule("decision = \"maybe\""), &["maybe", "review", "reject"]),
        ("pass is not a rule decision", rule("decision = \"pass\""), &["pass", "review", "reject"]),
        ("unknown missing action", format!("{base}[missing]\nliveness = \"shrug\"\n"), &["shrug", "ignore"]),
        ("unknown cap decision", format!("{base}[caps]\nexpression = \"warn\"\n"), &["warn"]),
        ("unknown check kind in caps", format!("{base}[caps]\nlivenes = \"review\"\n"), &["livenes"]),
        (
            "thresholds out of order",
            "version = \"t\"\n[thresholds]\nreview = 2.0\nreject = 1.0\n".into(),
            &["out of order", "review = 2", "reject = 1"],
        ),
        ("zero review threshold", "version = \"t\"\n[thresholds]\nreview = 0.0\nreject = 1.0\n".into(), &["review"]),
        ("negative weight", format!("{base}[weights]\n\"liveness.blink\" = -0.5\n"), &["liveness.blink", "negative"]),
        ("unknown field", format!("{base}[thresholds2]\nx = 1\n"), &["thresholds2"]),
        ("unknown rule field", rule("decision = \"review\"\nmin_confidense = 0.5"), &["min_confidense"]),
        ("missing version", "[thresholds]\nreview = 0.5\nreject = 1.5\n".into(), &["version"]),
        ("empty version", "version = \" \"\n[thresholds]\nreview = 0.5\nreject = 1.5\n".into(), &["version"]),
        ("bad selector", format!("{base}[weights]\n\"liveness*\" = 0.5\n"), &["liveness*"]),
        ("unknown kind selector", format!("{base}[missing]\nvoices = \"review\"\n"), &["voices", "check kind"]),
        ("confidence out of range", rule("decision = \"review\"\nmin_confidence = 1.5"), &["min_confidence"]),
        ("value bounds reversed", rule("decision = \"review\"\nmin_value = 2.0\nmax_value = 1.0"), &["min_value"]),
        (
            "rule rejects on a capped kind",
            format!(
                "{base}[caps]\nexpression = \"review\"\n[[rule]]\nsignal = \"expression.spike\"\ndecision = \"reject\"\n\
                 reason = \"r\"\n"
            ),
            &["expression", "caps"],
        ),
        ("not TOML", "version = ".into(), &["<string>"]),
    ];
    for (name, text, words) in cases {
        match Policy::from_toml_str(&text) {
            Ok(_) => panic!("{name}: accepted\n{text}"),
            Err(e) => {
                let msg = e.to_string() + &std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
                for w in words {
                    assert!(msg.contains(w), "{name}: error does not mention `{w}`: {msg}");
                }
            }
        }
    }
}

#[test]
fn load_names_the_missing_file() {
    match Policy::load("/nonexistent/facereview/policy.toml") {
        Err(e @ FusionError::Read { .. }) => assert!(e.to_string().contains("/nonexistent/facereview/policy.toml")),
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn verdict_is_independent_of_evidence_order() {
    let p = default_policy();
    let mut ev = clean_with("liveness.blink", vec![concern("liveness.blink", 1.0), concern("liveness.pulse", 0.9)]);
    ev.extend([
        concern("voice.second_speaker", 0.7),
        concern("background.other_people", 0.8),
        missing("expression.spike"),
        unavailable("liveness.screen"),
        concern("location.distance", 0.9).with_value(2500.0),
        concern("liveness.av_sync", 0.3),
    ]);
    let first = decide(&ev, &p, MANIFEST);
    for rot in 1..ev.len() {
        let mut shuffled = ev.clone();
        shuffled.rotate_left(rot);
        if rot % 2 == 0 {
            shuffled.reverse();
        }
        assert_eq!(decide(&shuffled, &p, MANIFEST), first, "rotation {rot}");
    }
    let codes: Vec<(&str, Decision)> = first.reasons.iter().map(|r| (r.code.as_str(), r.decision)).collect();
    assert!(first.reasons.windows(2).all(|w| w[0].decision >= w[1].decision), "{codes:?}");
    assert_eq!(first.decision, Decision::Review);
}

fn sample_verdict() -> Verdict {
    decide(&clean_with("voice.second_speaker", vec![concern("voice.second_speaker", 0.8)]), &default_policy(), MANIFEST)
}

#[test]
fn verdict_round_trips_through_json() {
    let v = sample_verdict();
    let json = match v.to_json() {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    assert!(json.contains("\"decision\": \"review\""), "{json}");
    let back = match Verdict::from_json(&json) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(back, v);
    assert_eq!(back.compare(&v, 0.0), Ok(()));
    assert!(Verdict::from_json("{\"decision\": \"maybe\"}").is_err());
}

#[test]
fn compare_reports_differences_in_words() {
    let expected = sample_verdict();

    let mut changed = expected.clone();
    changed.decision = Decision::Reject;
    let diffs = changed.compare(&expected, 0.01).err().unwrap_or_default();
    assert!(diffs.iter().any(|d| d.contains("decision") && d.contains("review") && d.contains("reject")), "{diffs:?}");

    let mut fewer = expected.clone();
    fewer.reasons.retain(|r| r.code != "voice.second_speaker");
    let diffs = fewer.compare(&expected, 0.01).err().unwrap_or_default();
    assert!(diffs.iter().any(|d| d.contains("missing reason") && d.contains("voice.second_speaker")), "{diffs:?}");
    let diffs = expected.compare(&fewer, 0.01).err().unwrap_or_default();
    assert!(diffs.iter().any(|d| d.contains("unexpected reason") && d.contains("voice.second_speaker")), "{diffs:?}");

    let mut regraded = expected.clone();
    for r in regraded.reasons.iter_mut().filter(|r| r.code == "voice.second_speaker") {
        r.decision = Decision::Pass;
    }
    assert!(regraded.compare(&expected, 0.01).is_err(), "a reason's decision is part of the comparison");

    let mut drifted = expected.clone();
    drifted.risk_score += 0.2;
    let diffs = drifted.compare(&expected, 0.05).err().unwrap_or_default();
    assert!(diffs.iter().any(|d| d.contains("risk score")), "{diffs:?}");
    assert_eq!(diffs.len(), 1, "{diffs:?}");

    let mut nudged = expected.clone();
    nudged.risk_score += 0.01;
    nudged.reasons.iter_mut().for_each(|r| r.text.push_str(" (reworded)"));
    assert_eq!(nudged.compare(&expected, 0.05), Ok(()));
    assert!(nudged.compare(&expected, f32::NAN).is_err(), "a NaN tolerance accepts nothing");
}
