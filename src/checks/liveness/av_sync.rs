//! `liveness.av_sync`: does the mouth open and close with the speech energy?
//!
//! The mouth opening (`mouth_open`, 10 fps) is correlated (Pearson) with the audio RMS envelope (32 ms steps,
//! averaged over ± `envelope_half_window_ms` around each mesh time), over the mesh samples that fall within speech
//! segments (widened by `speech_pad_ms`, so the closing mouth at the end of words counts). The best r over lags
//! within ± `max_lag_ms` is kept. A live speaker's lips follow their own voice; a photo, a replay with dubbed
//! sound or an off-camera voice does not.

use super::{AudioTrack, LipSync, SIGNAL_AV_SYNC, lip_sync, missing, observed, secs, span};
use crate::checks::{Evidence, Finding};
use crate::observations::{MeshSample, Observations};
use serde::{Deserialize, Serialize};

/// Thresholds of the lip/speech correlation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvSyncConfig {
    /// Largest audio/video offset searched (ms), either way.
    pub max_lag_ms: u64,
    /// Lag step (ms).
    pub lag_step_ms: u64,
    /// The envelope at a mesh time is the mean RMS of the 32 ms steps within this many ms either side (a mesh
    /// sample stands for 100 ms).
    pub envelope_half_window_ms: u64,
    /// Correlate the envelope in dB instead of linear RMS.
    pub log_energy: bool,
    /// Speech segments are widened by this much (ms) on both sides.
    pub speech_pad_ms: u64,
    /// Less speech than this in total (ms): Missing.
    pub min_speech_ms: u64,
    /// Fewer mesh samples during speech than this: Missing.
    pub min_samples: usize,
    /// r at or above this: Supports. The real talking heads measured 0.32-0.51 (vrt_face_2 lowest).
    pub support_r: f64,
    /// r below this, with speech present: Concern. A real face with someone else's voices measured -0.07.
    pub concern_r: f64,
    /// A mouth moving less than this (std of `mouth_open`) during speech is a Concern whatever r is: the printed
    /// photo measured 0.008 (landmark jitter), real speakers 0.037-0.17.
    pub min_mouth_std: f64,
    pub support_confidence: f32,
    pub concern_confidence: f32,
    pub neutral_confidence: f32,
}

impl Default for AvSyncConfig {
    fn default() -> Self {
        AvSyncConfig {
            max_lag_ms: 200,
            lag_step_ms: 32,
            envelope_half_window_ms: 50,
            log_energy: false,
            speech_pad_ms: 300,
            min_speech_ms: 1500,
            min_samples: 20,
            support_r: 0.25,
            concern_r: 0.15,
            min_mouth_std: 0.02,
            support_confidence: 0.7,
            concern_confidence: 0.6,
            neutral_confidence: 0.3,
        }
    }
}

/// The correlation over speech time, for the report and the tests; `None` without speech or mesh.
pub(super) fn measure(mesh: &[&MeshSample], audio: &AudioTrack, cfg: &AvSyncConfig) -> Option<LipSync> {
    let pad = cfg.speech_pad_ms as f64 / 1000.0;
    lip_sync(mesh, audio, |t| audio.in_speech(t, pad), cfg, cfg.min_samples)
}

pub(super) fn evaluate(
    obs: &Observations,
    mesh: &[&MeshSample],
    audio: Option<&AudioTrack>,
    cfg: &AvSyncConfig,
) -> Evidence {
    let Some(audio) = audio else {
        return missing(SIGNAL_AV_SYNC, "no audio");
    };
    let speech = audio.speech_total();
    if speech * 1000.0 < cfg.min_speech_ms as f64 {
        return missing(SIGNAL_AV_SYNC, format!("no speech to compare the lips with ({speech:.1} s)"));
    }
    if !obs.has_video || mesh.is_empty() {
        return missing(SIGNAL_AV_SYNC, "no face mesh during speech");
    }
    let Some(sync) = measure(mesh, audio, cfg) else {
        return missing(SIGNAL_AV_SYNC, format!("too few face samples during {speech:.1} s of speech"));
    };
    let pad = cfg.speech_pad_ms as f64 / 1000.0;
    let used: Vec<&&MeshSample> = mesh.iter().filter(|s| audio.in_speech(secs(s.t), pad)).collect();
    let at = match (used.first(), used.last()) {
        (Some(a), Some(b)) => Some(span(secs(a.t), secs(b.t), Some(a.frame))),
        _ => None,
    };
    let LipSync { r, lag_ms, n, mouth_std } = sync;
    let numbers = format!("r = {r:.2} at {lag_ms:+} ms over {n} samples, mouth movement {mouth_std:.3}");
    let e = if mouth_std < cfg.min_mouth_std {
        observed(
            SIGNAL_AV_SYNC,
            Finding::Concern,
            cfg.concern_confidence,
            format!("{speech:.1} s of speech while the mouth stays still ({numbers})"),
        )
    } else if r >= cfg.support_r {
        observed(
            SIGNAL_AV_SYNC,
            Finding::Supports,
            cfg.support_confidence,
            format!("mouth opening follows speech ({numbers})"),
        )
    } else if r < cfg.concern_r {
        observed(
            SIGNAL_AV_SYNC,
            Finding::Concern,
            cfg.concern_confidence,
            format!("the lips do not follow the speech: voice from elsewhere? ({numbers})"),
        )
    } else {
        observed(
            SIGNAL_AV_SYNC,
            Finding::Neutral,
            cfg.neutral_confidence,
            format!("the lips follow the speech only weakly ({numbers})"),
        )
    };
    let e = e.with_value(r);
    match at {
        Some(at) => e.at(at),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::checks::EvidenceState;
    use std::f64::consts::PI;

    /// Syllable-like energy: 4 Hz bursts, silent pauses every 2 s.
    fn energy(t: f64) -> f64 {
        if (t % 2.0) > 1.6 { 0.0 } else { (0.5 + 0.5 * (2.0 * PI * 4.0 * t).sin()).powi(2) }
    }

    fn talk(lip_lag: f64, lips_move: bool, voice: bool) -> Observations {
        let m = mesh(0.0, 12.0, |t| {
            let mouth = if lips_move { 0.05 + 0.2 * energy(t - lip_lag) } else { 0.05 + 0.002 * (t * 13.0).sin() };
            (metrics(0.33, mouth as f32, 0.0), face_points())
        });
        obs(
            m,
            12.0,
            |t| if voice { (0.005 + 0.1 * energy(t)) as f32 } else { 0.001 },
            |t| {
                if voice && (t % 2.0) <= 1.65 { 0.9 } else { 0.05 }
            },
        )
    }

    fn eval(o: &Observations) -> Evidence {
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        evaluate(o, &mesh, AudioTrack::of(o).as_ref(), &AvSyncConfig::default())
    }

    #[test]
    fn lips_in_sync_support_even_with_a_small_lag() {
        for lag in [0.0, 0.1, -0.1] {
            let e = eval(&talk(lag, true, true));
            assert_eq!(e.finding(), Some(Finding::Supports), "lag {lag}: {e:#?}");
            assert!(e.value.unwrap_or(0.0) > 0.8, "lag {lag}: {:?}", e.value);
        }
    }

    #[test]
    fn a_still_mouth_under_speech_is_a_concern() {
        let e = eval(&talk(0.0, false, true));
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    }

    #[test]
    fn lips_moving_to_another_rhythm_are_a_concern() {
        let m = mesh(0.0, 12.0, |t| {
            let mouth = 0.05 + 0.2 * (0.5 + 0.5 * (2.0 * PI * 0.37 * t + 1.0).sin());
            (metrics(0.33, mouth as f32, 0.0), face_points())
        });
        let o = obs(m, 12.0, |t| (0.005 + 0.1 * energy(t)) as f32, |t| if (t % 2.0) <= 1.65 { 0.9 } else { 0.05 });
        let e = eval(&o);
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    }

    #[test]
    fn no_speech_or_no_audio_is_missing() {
        let e = eval(&talk(0.0, true, false));
        assert!(matches!(e.state, EvidenceState::Missing { .. }), "{e:#?}");
        let mut o = talk(0.0, true, true);
        o.has_audio = false;
        assert!(matches!(eval(&o).state, EvidenceState::Missing { .. }));
        let mut o = talk(0.0, true, true);
        o.video.mesh.clear();
        assert!(matches!(eval(&o).state, EvidenceState::Missing { .. }));
    }
}
