//! Liveness on real recorded media: a printed photo moved rigidly with someone else's voice
//! (`photo_attack.mp4`), real close-up talking heads with their own speech (`../shared/testmedia/talking-heads`),
//! and real faces with voices that are not theirs (`live_two_speakers.webm`, `webcam_h264.mkv`).
//!
//! Run with `--nocapture` to see the measured numbers the thresholds were calibrated on (module docs of
//! `checks::liveness`).

mod common;

use facereview::checks::liveness::{self, LivenessConfig, SIGNAL_AV_SYNC, SIGNAL_BLINK, SIGNAL_RIGID_MOTION};
use facereview::checks::{Evidence, EvidenceState, Finding};
use facereview::interview::{ChallengeEvent, ChallengeKind, Interview};
use facereview::observations::Observations;
use facereview::replay::{self, ReplayOptions};
use facereview::types::MediaTime;
use std::path::Path;

fn observe(path: &Path) -> Observations {
    let rt = common::runtime();
    replay::observe(path, &rt, &ReplayOptions::default()).expect("observations").obs
}

fn signal<'a>(ev: &'a [Evidence], id: &str) -> &'a Evidence {
    ev.iter().find(|e| e.signal == id).unwrap_or_else(|| panic!("no {id} in {ev:#?}"))
}

fn challenge(id: &str, kind: ChallengeKind, at_ms: u64, deadline_ms: u64) -> ChallengeEvent {
    ChallengeEvent { id: id.into(), kind, issued_at: MediaTime::from_millis(at_ms), deadline_ms }
}

/// Prints the measurements (pulse over ≥ 4 s, so the 5-6 s clips show a number too) and the evidence.
fn report(name: &str, obs: &Observations, ev: &[Evidence]) {
    let cfg =
        LivenessConfig { pulse: liveness::PulseConfig { min_ms: 4000, ..Default::default() }, ..Default::default() };
    let m = liveness::measure(obs, &cfg);
    let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
    println!(
        "{name}: face {:.1} s | rigid median {} (moving {}, p90 {}) over {} pairs, {} moving, motion {} | \
         av_sync r {} lag {:?} ms n {} mouth std {} speech {:.1} s | blinks {} ({} /min) | pulse {} bpm share {} \
         over {} s",
        m.face_seconds,
        f(m.rigid_residual_median),
        f(m.rigid_residual_moving_median),
        f(m.rigid_residual_p90),
        m.rigid_pairs,
        m.rigid_moving_pairs,
        f(m.rigid_motion_median),
        f(m.av_sync_r),
        m.av_sync_lag_ms,
        m.av_sync_samples,
        f(m.mouth_std),
        m.speech_seconds,
        m.blinks,
        f(m.blinks_per_minute),
        f(m.pulse_bpm),
        f(m.pulse_share),
        f(m.pulse_seconds),
    );
    for e in ev {
        let state = match &e.state {
            EvidenceState::Observed { finding, confidence } => format!("{finding:?} {confidence:.2}"),
            EvidenceState::Missing { .. } => "Missing".into(),
            EvidenceState::Unavailable { .. } => "Unavailable".into(),
        };
        println!("  {:<22} {state:<14} {}", e.signal, e.summary);
    }
}

#[test]
fn a_printed_photo_moved_rigidly_with_another_voice_is_flagged() {
    let obs = observe(&common::stream("photo_attack.mp4"));
    let interview = Interview {
        challenges: vec![
            // The woman's voice speaks 0.5-8.4 s; the photo's lips do not move with it.
            challenge("digits", ChallengeKind::ReadDigits { digits: "4071".into() }, 300, 6000),
            // The print only rotates in the image plane: no yaw.
            challenge("left", ChallengeKind::TurnLeft, 10_000, 4000),
            challenge("blink", ChallengeKind::Blink, 15_000, 3000),
        ],
        ..Default::default()
    };
    let ev = liveness::evaluate(&obs, &interview, &LivenessConfig::default());
    report("photo_attack", &obs, &ev);
    let rigid = signal(&ev, SIGNAL_RIGID_MOTION);
    assert_eq!(rigid.finding(), Some(Finding::Concern), "{rigid:#?}");
    assert!(rigid.value.is_some_and(|v| v < 0.011), "{rigid:#?}");
    assert!(!rigid.at.is_empty());
    let sync = signal(&ev, SIGNAL_AV_SYNC);
    assert_eq!(sync.finding(), Some(Finding::Concern), "{sync:#?}");
    assert_eq!(signal(&ev, SIGNAL_BLINK).finding(), Some(Finding::Concern), "20 s of a photo without a blink");
    let challenges: Vec<&Evidence> = ev.iter().filter(|e| e.signal == liveness::SIGNAL_CHALLENGE).collect();
    assert_eq!(challenges.len(), 3);
    for c in challenges {
        assert_eq!(c.finding(), Some(Finding::Concern), "{c:#?}");
    }
}

#[test]
fn real_talking_heads_deform_and_move_their_lips_with_their_speech() {
    for clip in ["vrt_face_1.mp4", "vrt_face_2.mp4", "vrt_face_3.mp4"] {
        let obs = observe(&common::shared(&format!("talking-heads/{clip}")));
        // Each clip is speech from the start: a read-digits challenge over its first 4.5 s is answered by it.
        let interview = Interview {
            challenges: vec![challenge("digits", ChallengeKind::ReadDigits { digits: "5128".into() }, 0, 4500)],
            ..Default::default()
        };
        let ev = liveness::evaluate(&obs, &interview, &LivenessConfig::default());
        report(clip, &obs, &ev);
        let rigid = signal(&ev, SIGNAL_RIGID_MOTION);
        assert_eq!(rigid.finding(), Some(Finding::Supports), "{clip}: {rigid:#?}");
        let sync = signal(&ev, SIGNAL_AV_SYNC);
        assert_eq!(sync.finding(), Some(Finding::Supports), "{clip}: {sync:#?}");
        if clip == "vrt_face_1.mp4" {
            let digits = signal(&ev, liveness::SIGNAL_CHALLENGE);
            assert_eq!(digits.finding(), Some(Finding::Supports), "{clip}: {digits:#?}");
        }
    }
}

#[test]
fn real_faces_with_voices_that_are_not_theirs() {
    // The carphone man talks throughout, the voices are two other people: a live, deforming face whose lips do
    // not follow the speech.
    let obs = observe(&common::stream("live_two_speakers.webm"));
    let ev = liveness::evaluate(&obs, &Interview::default(), &LivenessConfig::default());
    report("live_two_speakers", &obs, &ev);
    assert_eq!(signal(&ev, SIGNAL_RIGID_MOTION).finding(), Some(Finding::Supports));
    assert_eq!(signal(&ev, SIGNAL_AV_SYNC).finding(), Some(Finding::Concern));
    // A mostly still real webcam face: its few moving pairs still deform (no rigidity Concern).
    let obs = observe(&common::stream("webcam_h264.mkv"));
    let ev = liveness::evaluate(&obs, &Interview::default(), &LivenessConfig::default());
    report("webcam_h264", &obs, &ev);
    assert_ne!(signal(&ev, SIGNAL_RIGID_MOTION).finding(), Some(Finding::Concern));
}
