//! `liveness.challenge`: was each challenge answered from the mesh series within its deadline?
//!
//! The window of a challenge is `[issued_at, issued_at + deadline]`. Its baseline is the median of the mesh samples
//! in the `baseline_ms` before it (up to `min_reaction_ms` after it, as nobody reacts faster); without those, the
//! first samples of the window. A response seen after the deadline but within `late_grace_ms` is reported as late.
//! - turn left / right: the (3-sample median filtered) yaw moves ≥ `turn_deg` from the baseline, positive for the
//!   person's own left (see the face-mesh sign conventions);
//! - blink: eye openness dips below `blink_ratio` × baseline and comes back above `blink_recover_ratio` × baseline;
//! - open mouth: the (filtered) `mouth_open` reaches baseline + `mouth_delta` and at least `mouth_min`;
//! - read digits: at least `digits_min_speech_ms` of speech (VAD) in the window, and the lips follow its energy
//!   (`liveness.av_sync` correlation over the window ≥ `digits_min_r`, with a moving mouth).

use super::{AudioTrack, AvSyncConfig, SIGNAL_CHALLENGE, eye_open, lip_sync, math, missing, observed, secs, span};
use crate::checks::{Evidence, Finding};
use crate::interview::{ChallengeEvent, ChallengeKind, Interview};
use crate::observations::{MeshSample, Observations};
use crate::types::FrameIndex;
use serde::{Deserialize, Serialize};

/// Thresholds of the challenge verification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChallengeConfig {
    /// Baseline: mesh samples this long before the challenge (ms). 1.5 s = 15 samples at 10 fps.
    pub baseline_ms: u64,
    /// No one reacts faster than this (ms): samples up to this long after `issued_at` still count as baseline.
    pub min_reaction_ms: u64,
    /// A response after the deadline but within this much more (ms) is "late" (a Concern naming the delay).
    pub late_grace_ms: u64,
    /// Head turn: yaw change from the baseline, degrees (a deliberate turn is 20-45°; mesh yaw noise is a few °).
    pub turn_deg: f64,
    /// Blink: eye openness below this fraction of the baseline (a blink closes to about 1/3 of open).
    pub blink_ratio: f64,
    /// Blink: and back above this fraction afterwards.
    pub blink_recover_ratio: f64,
    /// Open mouth: `mouth_open` at least this much above the baseline.
    pub mouth_delta: f64,
    /// Open mouth: and at least this absolute value (closed ≈ 0.05, talking 0.1-0.2).
    pub mouth_min: f64,
    /// Read digits: speech (VAD ≥ `speech_prob`) at least this long within the window, ms.
    pub digits_min_speech_ms: u64,
    /// VAD probability counted as speech.
    pub speech_prob: f32,
    /// Read digits: lip/energy correlation over the window at least this (see `liveness.av_sync`; a 3-8 s window
    /// has 30-80 samples, where chance correlations of a still mouth stay below about 0.25).
    pub digits_min_r: f64,
    /// Read digits: the mouth must move at least this much (std of `mouth_open`).
    pub digits_min_mouth_std: f64,
    /// Confidence of an answered challenge.
    pub pass_confidence: f32,
    /// Confidence of a Concern for a missed challenge (people misunderstand prompts).
    pub miss_confidence: f32,
    /// Confidence of a Concern for a late answer.
    pub late_confidence: f32,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        ChallengeConfig {
            baseline_ms: 1500,
            min_reaction_ms: 200,
            late_grace_ms: 3000,
            turn_deg: 15.0,
            blink_ratio: 0.6,
            blink_recover_ratio: 0.8,
            mouth_delta: 0.12,
            mouth_min: 0.2,
            digits_min_speech_ms: 800,
            speech_prob: 0.5,
            digits_min_r: 0.25,
            digits_min_mouth_std: 0.02,
            pass_confidence: 0.8,
            miss_confidence: 0.6,
            late_confidence: 0.4,
        }
    }
}

/// A detector's answer: when the response happened (if it did) and a sentence about what was measured.
struct Outcome {
    response: Option<(f64, FrameIndex)>,
    detail: String,
}

pub(super) fn evaluate(
    obs: &Observations,
    mesh: &[&MeshSample],
    audio: Option<&AudioTrack>,
    interview: &Interview,
    cfg: &ChallengeConfig,
    av: &AvSyncConfig,
) -> Vec<Evidence> {
    if interview.challenges.is_empty() {
        return vec![missing(SIGNAL_CHALLENGE, "no challenges were issued")];
    }
    interview.challenges.iter().map(|c| one(obs, mesh, audio, c, cfg, av)).collect()
}

fn name(kind: &ChallengeKind) -> String {
    match kind {
        ChallengeKind::TurnLeft => "turn left".into(),
        ChallengeKind::TurnRight => "turn right".into(),
        ChallengeKind::Blink => "blink".into(),
        ChallengeKind::OpenMouth => "open mouth".into(),
        ChallengeKind::ReadDigits { digits } => format!("read {} digits", digits.chars().count()),
    }
}

fn one(
    obs: &Observations,
    mesh: &[&MeshSample],
    audio: Option<&AudioTrack>,
    c: &ChallengeEvent,
    cfg: &ChallengeConfig,
    av: &AvSyncConfig,
) -> Evidence {
    let start = secs(c.issued_at);
    let deadline = c.deadline_ms as f64 / 1000.0;
    let end = start + deadline;
    let late_end = end + cfg.late_grace_ms as f64 / 1000.0;
    let what = format!("challenge {} ({})", c.id, name(&c.kind));
    let window = span(start, end, None);
    if !obs.has_video {
        return missing(SIGNAL_CHALLENGE, format!("{what}: no video")).at(window);
    }
    let in_window = |a: f64, b: f64| mesh.iter().copied().filter(move |s| (a..=b).contains(&secs(s.t)));
    if in_window(start, end).next().is_none() {
        return missing(SIGNAL_CHALLENGE, format!("{what}: no face in the window {start:.1}-{end:.1} s")).at(window);
    }
    let react = start + cfg.min_reaction_ms as f64 / 1000.0;
    let before: Vec<&MeshSample> = in_window(start - cfg.baseline_ms as f64 / 1000.0, react).collect();
    let first: Vec<&MeshSample> = in_window(start, end).take(3).collect();
    let base_samples = if before.is_empty() { first } else { before };
    // The response is looked for after the baseline samples, up to the end of the late grace.
    let after: Vec<&MeshSample> = in_window(start, late_end).collect();
    let outcome = match &c.kind {
        ChallengeKind::TurnLeft => turn(&base_samples, &after, 1.0, cfg),
        ChallengeKind::TurnRight => turn(&base_samples, &after, -1.0, cfg),
        ChallengeKind::Blink => blink(&base_samples, &after, cfg),
        ChallengeKind::OpenMouth => mouth(&base_samples, &after, cfg),
        ChallengeKind::ReadDigits { .. } => digits(mesh, audio, start, end, late_end, cfg, av),
    };
    match outcome.response {
        Some((t, frame)) if t <= end => observed(
            SIGNAL_CHALLENGE,
            Finding::Supports,
            cfg.pass_confidence,
            format!("{what} answered after {:.1} s: {}", t - start, outcome.detail),
        )
        .with_value(t - start)
        .at(span(start, t, Some(frame))),
        Some((t, frame)) => observed(
            SIGNAL_CHALLENGE,
            Finding::Concern,
            cfg.late_confidence,
            format!("{what} answered late, after {:.1} s (deadline {deadline:.1} s): {}", t - start, outcome.detail),
        )
        .with_value(t - start)
        .at(window)
        .at(span(t, t, Some(frame))),
        None => observed(
            SIGNAL_CHALLENGE,
            Finding::Concern,
            cfg.miss_confidence,
            format!("{what} not answered within {deadline:.1} s: {}", outcome.detail),
        )
        .at(window),
    }
}

/// Median of each sample with its neighbours (3 samples), so a single mesh glitch cannot pass a challenge.
fn median3(v: &[f64]) -> Vec<f64> {
    (0..v.len())
        .map(|i| {
            let lo = i.saturating_sub(1);
            let hi = (i + 2).min(v.len());
            math::median(v[lo..hi].iter().copied()).unwrap_or(v[i])
        })
        .collect()
}

/// First sample whose (3-sample median filtered) value satisfies `hit`, and the filtered series.
fn first_hit(
    samples: &[&MeshSample],
    value: impl Fn(&MeshSample) -> f64,
    hit: impl Fn(f64) -> bool,
) -> (Option<(f64, FrameIndex)>, Vec<f64>) {
    let filtered = median3(&samples.iter().map(|s| value(s)).collect::<Vec<_>>());
    let resp = samples.iter().zip(&filtered).find(|(_, v)| hit(**v)).map(|(s, _)| (secs(s.t), s.frame));
    (resp, filtered)
}

fn turn(base: &[&MeshSample], after: &[&MeshSample], sign: f64, cfg: &ChallengeConfig) -> Outcome {
    let Some(b) = math::median(base.iter().map(|s| f64::from(s.metrics.yaw_deg))) else {
        return Outcome { response: None, detail: "no baseline".into() };
    };
    let (response, filtered) = first_hit(after, |s| sign * (f64::from(s.metrics.yaw_deg) - b), |d| d >= cfg.turn_deg);
    let peak = filtered.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let peak = if peak.is_finite() { peak } else { 0.0 };
    Outcome { response, detail: format!("yaw moved {peak:.0}° that way (needs {:.0}°)", cfg.turn_deg) }
}

fn mouth(base: &[&MeshSample], after: &[&MeshSample], cfg: &ChallengeConfig) -> Outcome {
    let Some(b) = math::median(base.iter().map(|s| f64::from(s.metrics.mouth_open))) else {
        return Outcome { response: None, detail: "no baseline".into() };
    };
    let need = (b + cfg.mouth_delta).max(cfg.mouth_min);
    let (response, filtered) = first_hit(after, |s| f64::from(s.metrics.mouth_open), |m| m >= need);
    let peak = filtered.iter().copied().fold(0.0, f64::max);
    Outcome { response, detail: format!("mouth opening reached {peak:.2} (baseline {b:.2}, needs {need:.2})") }
}

fn blink(base: &[&MeshSample], after: &[&MeshSample], cfg: &ChallengeConfig) -> Outcome {
    let Some(b) = math::median(base.iter().filter_map(|s| eye_open(s))).filter(|b| *b > 0.0) else {
        return Outcome { response: None, detail: "no baseline".into() };
    };
    let eyes: Vec<Option<f64>> = after.iter().map(|s| eye_open(s)).collect();
    let mut lowest = f64::INFINITY;
    let mut dip: Option<usize> = None;
    for (i, e) in eyes.iter().enumerate() {
        let Some(e) = *e else { continue };
        lowest = lowest.min(e / b);
        match dip {
            None if e < cfg.blink_ratio * b => dip = Some(i),
            Some(d) if e >= cfg.blink_recover_ratio * b => {
                let s = after[d];
                return Outcome {
                    response: Some((secs(s.t), s.frame)),
                    detail: format!("eyes closed to {:.0}% of open and reopened", 100.0 * lowest),
                };
            }
            _ => {}
        }
    }
    let detail = match dip {
        Some(_) => "eyes closed but did not reopen".to_owned(),
        None if lowest.is_finite() => {
            format!("eye openness fell only to {:.0}% of open (needs {:.0}%)", 100.0 * lowest, 100.0 * cfg.blink_ratio)
        }
        None => "no eye measurement".to_owned(),
    };
    Outcome { response: None, detail }
}

fn digits(
    mesh: &[&MeshSample],
    audio: Option<&AudioTrack>,
    start: f64,
    end: f64,
    late_end: f64,
    cfg: &ChallengeConfig,
    av: &AvSyncConfig,
) -> Outcome {
    let Some(audio) = audio else {
        return Outcome { response: None, detail: "no audio".into() };
    };
    let min_speech = cfg.digits_min_speech_ms as f64 / 1000.0;
    // Speech may start late; judge the lips over whichever span holds the speech.
    let Some(onset) = audio.first_speech(start, late_end, cfg.speech_prob) else {
        return Outcome { response: None, detail: "no speech".into() };
    };
    let until = if onset <= end { end } else { late_end };
    let speech = audio.speech_seconds(start, until, cfg.speech_prob);
    if speech < min_speech {
        return Outcome { response: None, detail: format!("only {speech:.1} s of speech (needs {min_speech:.1} s)") };
    }
    let from = onset - 0.5;
    let Some(sync) = lip_sync(mesh, audio, |t| t >= from && t <= until, av, 10) else {
        return Outcome { response: None, detail: format!("{speech:.1} s of speech but too few face samples") };
    };
    let detail = format!(
        "{speech:.1} s of speech, lips follow it with r = {:.2} (needs {:.2}), mouth movement {:.3}",
        sync.r, cfg.digits_min_r, sync.mouth_std
    );
    let ok = sync.r >= cfg.digits_min_r && sync.mouth_std >= cfg.digits_min_mouth_std;
    let frame = mesh.iter().find(|s| secs(s.t) >= onset).map(|s| s.frame).unwrap_or_default();
    Outcome { response: ok.then_some((onset, frame)), detail }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{LivenessConfig, evaluate};
    use super::*;
    use crate::checks::EvidenceState;
    use crate::types::MediaTime;

    /// A subject answering at `answer_at` s (None: never): each kind's response held for 0.6 s (a blink 0.2 s).
    fn scene(kind: &ChallengeKind, answer_at: Option<f64>) -> Observations {
        let active = |t: f64| answer_at.is_some_and(|a| t >= a && t < a + 0.6);
        let blinking = |t: f64| answer_at.is_some_and(|a| t >= a && t < a + 0.2);
        let talking = |t: f64| answer_at.is_some_and(|a| t >= a && t < a + 2.5);
        let syll = |t: f64| (0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin()) as f32;
        let k = kind.clone();
        let mesh = mesh(0.0, 12.0, move |t| {
            let (mut eye, mut mouth, mut yaw) = (0.33, 0.05, 2.0 + 1.5 * (t * 7.0).sin() as f32);
            match k {
                ChallengeKind::TurnLeft if active(t) => yaw += 25.0,
                ChallengeKind::TurnRight if active(t) => yaw -= 25.0,
                ChallengeKind::Blink if blinking(t) => eye = 0.1,
                ChallengeKind::OpenMouth if active(t) => mouth = 0.35,
                ChallengeKind::ReadDigits { .. } if talking(t) => mouth = 0.05 + 0.2 * syll(t),
                _ => {}
            }
            (metrics(eye, mouth, yaw), face_points())
        });
        obs(
            mesh,
            12.0,
            move |t| if talking(t) { 0.02 + 0.1 * syll(t) } else { 0.002 },
            move |t| {
                if talking(t) { 0.95 } else { 0.02 }
            },
        )
    }

    fn interview(kind: ChallengeKind) -> Interview {
        Interview {
            challenges: vec![ChallengeEvent {
                id: "c1".into(),
                kind,
                issued_at: MediaTime::from_millis(3000),
                deadline_ms: 4000,
            }],
            ..Default::default()
        }
    }

    fn run(o: &Observations, kind: ChallengeKind) -> Evidence {
        evaluate(o, &interview(kind), &LivenessConfig::default()).remove(0)
    }

    #[test]
    fn every_challenge_kind_passes_misses_and_comes_late() {
        let kinds = [
            ChallengeKind::TurnLeft,
            ChallengeKind::TurnRight,
            ChallengeKind::Blink,
            ChallengeKind::OpenMouth,
            ChallengeKind::ReadDigits { digits: "4812".into() },
        ];
        for kind in kinds {
            // Answered 1.2 s after the prompt (deadline 4 s).
            let e = run(&scene(&kind, Some(4.2)), kind.clone());
            assert_eq!(e.finding(), Some(Finding::Supports), "{kind:?} passed: {e:#?}");
            let rt = e.value.unwrap_or(f64::NAN);
            assert!((rt - 1.2).abs() < 0.25, "{kind:?} response time {rt}");
            // Never answered.
            let e = run(&scene(&kind, None), kind.clone());
            assert_eq!(e.finding(), Some(Finding::Concern), "{kind:?} missed: {e:#?}");
            assert!(e.summary.contains("not answered"), "{}", e.summary);
            assert_eq!(e.at[0].range.start, MediaTime::from_millis(3000));
            assert_eq!(e.at[0].range.end, MediaTime::from_millis(7000));
            // Answered 1 s after the deadline.
            let e = run(&scene(&kind, Some(8.0)), kind.clone());
            assert_eq!(e.finding(), Some(Finding::Concern), "{kind:?} late: {e:#?}");
            assert!(e.summary.contains("late"), "{}", e.summary);
            assert!((e.value.unwrap_or(0.0) - 5.0).abs() < 0.25, "{kind:?} late by {:?}", e.value);
        }
    }

    #[test]
    fn the_wrong_direction_does_not_pass_a_turn() {
        let e = run(&scene(&ChallengeKind::TurnRight, Some(4.2)), ChallengeKind::TurnLeft);
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    }

    #[test]
    fn a_voice_with_a_still_mouth_does_not_pass_read_digits() {
        let mut o = scene(&ChallengeKind::ReadDigits { digits: "1234".into() }, Some(4.2));
        for s in &mut o.video.mesh {
            s.metrics.mouth_open = 0.05;
        }
        let e = run(&o, ChallengeKind::ReadDigits { digits: "1234".into() });
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
        assert!(e.summary.contains("speech"), "{}", e.summary);
    }

    #[test]
    fn no_face_in_the_window_is_missing() {
        let mut o = scene(&ChallengeKind::Blink, Some(4.2));
        o.video.mesh.retain(|s| s.t < MediaTime::from_millis(2900));
        let e = run(&o, ChallengeKind::Blink);
        assert!(matches!(e.state, EvidenceState::Missing { .. }), "{e:#?}");
        assert_eq!(e.at.len(), 1);
    }

    #[test]
    fn no_challenges_give_one_missing() {
        let o = scene(&ChallengeKind::Blink, None);
        let ev = evaluate(&o, &Interview::default(), &LivenessConfig::default());
        let ch: Vec<_> = ev.iter().filter(|e| e.signal == SIGNAL_CHALLENGE).collect();
        assert_eq!(ch.len(), 1);
        assert!(matches!(&ch[0].state, EvidenceState::Missing { reason } if reason == "no challenges were issued"));
    }
}
