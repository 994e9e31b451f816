//! Golden verdicts: recorded test streams with their session files replayed through the whole pipeline (models,
//! checks, fusion) must give the expected decision and reasons (`testdata/expected/*.verdict.json`).
//!
//! After an intended change, re-bless with `FACEREVIEW_BLESS=1 cargo test --test verdicts` (or
//! `facereview replay FILE --session S --pois P --bless V`) and review the diff of the expected files.

mod common;

use facereview::checks::ChecksConfig;
use facereview::fusion::{Decision, Policy, Verdict};
use facereview::interview::Interview;
use facereview::location::PoiIndex;
use facereview::replay::{self, ReplayOptions, Review};
use std::path::PathBuf;
use std::sync::OnceLock;

const SCORE_TOLERANCE: f32 = 0.05;

fn pois() -> &'static PoiIndex {
    static P: OnceLock<PoiIndex> = OnceLock::new();
    P.get_or_init(|| PoiIndex::from_osm_pbf(common::media("Helsinki.osm.pbf")).expect("Helsinki POIs"))
}

fn verdict_of(stream: PathBuf, session: &str) -> Verdict {
    let rt = common::runtime();
    let text =
        std::fs::read_to_string(common::root().join("testdata/sessions").join(format!("{session}.json"))).unwrap();
    let interview: Interview = serde_json::from_str(&text).expect("session file");
    let policy = Policy::load(common::root().join("policy/default.toml")).expect("policy");
    let checks = ChecksConfig::default();
    let review = Review { interview: &interview, pois: Some(pois()), checks: &checks, policy: &policy };
    let report = replay::review(&stream, &rt, &ReplayOptions::default(), &review).expect("replay");
    report.verdict.expect("verdict")
}

fn check(stream: PathBuf, name: &str, decision: Decision) -> Verdict {
    let got = verdict_of(stream, name);
    let path = common::root().join("testdata/expected").join(format!("{name}.verdict.json"));
    if std::env::var_os("FACEREVIEW_BLESS").is_some() {
        std::fs::write(&path, got.to_json().unwrap()).unwrap();
    }
    assert_eq!(got.decision, decision, "{name}: {}", got.to_json().unwrap());
    let expected = Verdict::from_json(&std::fs::read_to_string(&path).expect("expected verdict file")).unwrap();
    if let Err(diffs) = got.compare(&expected, SCORE_TOLERANCE) {
        panic!("{name}: verdict differs from {}:\n{}", path.display(), diffs.join("\n"));
    }
    got
}

fn has_reason(v: &Verdict, code: &str, d: Decision) -> bool {
    v.reasons.iter().any(|r| r.code == code && r.decision == d)
}

#[test]
fn a_live_applicant_at_the_declared_cafe_passes() {
    let v = check(common::shared("talking-heads/vrt_face_1.mp4"), "live_applicant", Decision::Pass);
    assert!(has_reason(&v, "liveness.rigid_motion", Decision::Pass));
    assert!(has_reason(&v, "location.distance", Decision::Pass));
}

#[test]
fn a_photo_attack_is_rejected_on_liveness_with_the_moment_to_look_at() {
    let v = check(common::stream("photo_attack.mp4"), "photo_attack", Decision::Reject);
    let r = v.reasons.iter().find(|r| r.code == "liveness.rigid_motion").expect("rigid-motion reason");
    assert_eq!(r.decision, Decision::Reject);
    assert!(!r.evidence.is_empty(), "the reason points at a time range");
}

#[test]
fn a_second_speaker_sends_the_case_to_review() {
    let v = check(common::stream("live_two_speakers.webm"), "second_speaker", Decision::Review);
    assert!(has_reason(&v, "voice.second_speaker", Decision::Review), "{}", v.to_json().unwrap());
}

#[test]
fn a_phone_far_from_the_declared_business_sends_the_case_to_review() {
    let v = check(common::shared("talking-heads/vrt_face_2.mp4"), "far_location", Decision::Review);
    assert!(has_reason(&v, "location.distance", Decision::Review));
}

#[test]
fn a_face_missing_most_of_the_call_is_reviewed_never_passed() {
    let v = check(common::stream("face_missing.webm"), "face_missing", Decision::Review);
    assert!(has_reason(&v, "coverage.face", Decision::Review));
}

fn review_with_reference(stream: PathBuf, reference: &std::path::Path) -> Verdict {
    let rt = common::runtime();
    let text = std::fs::read_to_string(common::root().join("testdata/sessions/live_applicant.json")).unwrap();
    let mut interview: Interview = serde_json::from_str(&text).unwrap();
    interview.reference_face = Some(replay::reference_face(&rt, reference).expect("reference face"));
    let policy = Policy::load(common::root().join("policy/default.toml")).unwrap();
    let checks = ChecksConfig::default();
    let review = Review { interview: &interview, pois: Some(pois()), checks: &checks, policy: &policy };
    replay::review(&stream, &rt, &ReplayOptions::default(), &review).unwrap().verdict.unwrap()
}

#[test]
fn a_reference_photo_of_someone_else_is_flagged() {
    let v = review_with_reference(common::shared("talking-heads/vrt_face_1.mp4"), &common::media("obama.jpg"));
    let r = v.reasons.iter().find(|r| r.code == "identity.reference").expect("identity.reference reason");
    assert_ne!(r.decision, Decision::Pass, "{}", v.to_json().unwrap());
    assert_ne!(v.decision, Decision::Pass);
}

#[test]
fn a_reference_photo_of_the_applicant_matches() {
    use facereview::media::{DecodeOptions, Decoder, MediaEvent};
    let stream = common::shared("talking-heads/vrt_face_1.mp4");
    // The application's photo: a still of the same person, taken from the first second of the call.
    let mut d = Decoder::open(&stream, DecodeOptions::default()).unwrap();
    let frame = loop {
        if let Some(MediaEvent::Video(f)) = d.next_event().unwrap() {
            break f.image;
        }
    };
    drop(d);
    let photo = std::env::temp_dir().join(format!("fr-ref-{}.png", std::process::id()));
    image::RgbImage::from_raw(frame.width, frame.height, frame.data).unwrap().save(&photo).unwrap();
    let v = review_with_reference(stream, &photo);
    assert!(has_reason(&v, "identity.reference", Decision::Pass), "{}", v.to_json().unwrap());
    assert_eq!(v.decision, Decision::Pass);
}
