//! `facereview replay` on real recorded streams: evidence with timestamps from every model.

mod common;

use facereview::replay::{self, ReplayOptions, report::Status};

#[test]
fn replay_of_a_real_talking_head_with_two_speakers_gives_timestamped_evidence() {
    let rt = common::runtime();
    let r = replay::run(&common::stream("live_two_speakers.webm"), &rt, &ReplayOptions::default()).expect("report");
    let e = &r.evidence;
    assert!(r.decode.error.is_none());
    assert!((r.decode.audio_seconds - 30.0).abs() < 0.5, "{}", r.decode.audio_seconds);
    // The carphone clip shows one face throughout.
    assert_eq!(e.faces.status, Status::Available);
    assert!(e.faces.face_present_ratio > 0.8, "face present {}", e.faces.face_present_ratio);
    assert!(e.faces.per_second.len() >= 29);
    assert!(!e.mesh.series.is_empty() && !e.expression.timeline.is_empty());
    // Samples are in media time order and within the stream.
    assert!(e.faces.samples.windows(2).all(|w| w[0].t < w[1].t));
    assert!(e.faces.samples.last().unwrap().t.as_secs_f64() < 30.1);
    // The sample.wav track has two speakers talking most of the time.
    assert_eq!(e.speech.status, Status::Available);
    assert!(e.speech.speech_ratio > 0.5, "speech ratio {}", e.speech.speech_ratio);
    assert!(e.voice.segments.len() >= 2);
    assert_eq!(e.identity.status, Status::Available);
    assert!(e.identity.min_similarity.unwrap() > 0.3, "one face throughout: {:?}", e.identity.min_similarity);
    // The optional passive model is not configured: unavailable, never silently passed.
    assert!(matches!(e.anti_spoof.status, Status::Unavailable { .. }));
    // Every sampled task ran; no frames dropped in replay.
    assert_eq!(r.sampling.frames_dropped, 0);
    for t in ["face_detect", "face_mesh", "expression", "face_embed", "scene", "objects", "ocr"] {
        assert!(r.sampling.tasks.get(t).map(|s| s.runs).unwrap_or(0) > 0, "{t} never ran");
    }
}

#[test]
fn replay_is_deterministic() {
    let rt = common::runtime();
    let path = common::stream("webcam_h264.mkv");
    let a = replay::run(&path, &rt, &ReplayOptions::default()).unwrap();
    let b = replay::run(&path, &rt, &ReplayOptions::default()).unwrap();
    let strip = |r: &replay::report::ReplayReport| {
        let mut v = serde_json::to_value(r).unwrap();
        v["decode"]["wall_seconds"] = 0.into();
        v["decode"]["speed"] = 0.into();
        v
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn photo_attack_stream_shows_one_rigid_face_and_someone_elses_voice() {
    let rt = common::runtime();
    let r = replay::run(&common::stream("photo_attack.mp4"), &rt, &ReplayOptions::default()).expect("report");
    let e = &r.evidence;
    assert!(e.faces.face_present_ratio > 0.8, "{}", e.faces.face_present_ratio);
    // A printed photo does not open its mouth: the mouth-opening series barely moves.
    let m = e.mesh.mouth_open.as_ref().expect("mesh");
    assert!(m.max - m.min < 0.15, "mouth range {:?}", (m.min, m.max));
    assert!(!e.speech.segments.is_empty(), "the attack stream carries a voice from elsewhere");
}
