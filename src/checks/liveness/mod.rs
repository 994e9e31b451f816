//! Liveness ("dynamic face"): is a live person in front of the camera, or a photo, a screen or a replay?
//!
//! Pure: [`evaluate`] takes the session's [`Observations`], the [`Interview`] (the challenges issued, with their
//! media times) and a [`LivenessConfig`], and returns [`Evidence`] of [`CheckKind::Liveness`]; media time is the
//! only clock. There is no passive spoof model in the default set-up (see `MODELS.md`, "Liveness without a passive
//! model"), so liveness rests on several independent dynamic signals, each with its own confidence, which the
//! fusion policy weighs by their stable ids:
//!
//! | signal | what it measures | finding |
//! |---|---|---|
//! | `liveness.challenge` | one per challenge: turn left/right (yaw ≥ 15° from the pre-challenge baseline, the person's own left = positive yaw), blink (eye openness < 60 % of baseline, then back), open mouth (`mouth_open` well above baseline), read digits (speech in the window **and** lips following its energy) | Supports with the response time (`value`, s); Concern when missed or late (the window in `at`); Missing without a face in the window, or a single Missing when no challenge was issued |
//! | `liveness.rigid_motion` | a homography fitted (normalised DLT, least squares) between the tracked mesh points of samples 0.3-1 s apart; the RMS transfer error over the inter-ocular distance. A photo or a screen moves as one plane | Concern when the face moved but stayed planar; Supports when it deforms; Neutral when it barely moved. `value` = median residual (IOD), `at` = the most rigid stretch |
//! | `liveness.av_sync` | Pearson r of `mouth_open` (10 fps) with the speech RMS envelope at the mesh times, best lag within ±200 ms, over speech time | Supports for a high r, Concern when speech is present but the lips do not follow it; Missing without speech or mesh |
//! | `liveness.blink` | spontaneous blinks per minute (eye openness against a running baseline) | weak: no blink over ≥ 20 s of face is a Concern, a natural rate Supports |
//! | `liveness.pulse` | remote photoplethysmography: the POS projection of the skin colour, detrended, scanned over 0.7-3 Hz | weak: a periodic peak in band Supports, none is a weak Concern. `value` = BPM |
//! | `liveness.screen` | a TV, laptop or phone detected around the face box | Concern; Neutral when none was seen |
//! | `liveness.passive` | the operator-supplied passive anti-spoof model's mean live score | Supports/Concern; Unavailable with the reason when the model is not configured |
//!
//! `value` per signal: challenge = response time (s, from `issued_at`); rigid_motion = median residual (inter-ocular
//! distances, over the pairs that moved, or all pairs when too few moved); av_sync = best r; blink = blinks per
//! minute; pulse = BPM; screen = share of object samples with a screen around the face; passive = mean live score.
//!
//! # Calibration on real media
//!
//! Measured by `tests/checks_liveness.rs` (`cargo test --test checks_liveness -- --nocapture` prints them) through
//! `replay::observe` with the default options (mesh at 10 fps; 7.5 fps on the 15 fps photo stream):
//!
//! | clip | content | rigid residual, moving pairs (all) | moving / pairs | av_sync r (lag) | mouth std | blinks | pulse (peak share, span) |
//! |---|---|---|---|---|---|---|---|
//! | `photo_attack.mp4` | printed photo moved rigidly, a woman's voice | **0.0073** (0.0072) | 711 / 725 | 0.20 (+32 ms) | **0.008** | 0 in 20 s | 62 bpm (0.26, 20 s) |
//! | `vrt_face_1.mp4` | real talking head, own speech | 0.026 (0.021) | 153 / 239 | **0.49** (+96 ms) | 0.046 | 0 in 6 s | 64 bpm (0.41, 6 s) |
//! | `vrt_face_2.mp4` | real talking head, own speech | 0.025 (0.024) | 199 / 219 | **0.32** (+192 ms) | 0.069 | 0 in 5 s | 49 bpm (0.49, 5 s) |
//! | `vrt_face_3.mp4` | real talking head, own speech | 0.039 (0.039) | 218 / 219 | **0.51** (-64 ms) | 0.092 | 1 in 5 s | 68 bpm (0.74, 5 s) |
//! | `live_two_speakers.webm` | real man talking, two other people's voices | 0.045 (0.044) | 2307 / 2348 | **-0.07** (-192 ms) | 0.168 | 0 in 30 s | 45 bpm (0.20, 30 s) |
//! | `webcam_h264.mkv` | real, mostly still man, another man's voice | 0.020 (0.010) | 216 / 717 | 0.44 (-192 ms) | 0.037 | 0 in 15 s | 112 bpm (0.32, 15 s) |
//!
//! Read-digits windows over the clips' speech: lips/energy r = 0.53, 0.36, 0.44 on vrt_face_1/2/3; 0.12 with a
//! still mouth (std 0.009) on the photo.
//!
//! Thresholds chosen (the defaults of the config structs below):
//! - rigid_motion: Concern below **0.011** IOD with ≥ 10 moving pairs (photo 0.0073: 1.5x margin for jitter);
//!   Supports from **0.015** (lowest real face 0.020: 1.3x margin); a pair moved at ≥ 0.05 IOD of point motion.
//! - av_sync: Supports from r **0.25** (lowest real 0.32), Concern below **0.15** (foreign voices -0.07), and a
//!   Concern whatever r is when the mouth moves less than std **0.02** under speech (photo 0.008, real ≥ 0.037).
//! - challenges: turn 15°, blink < 60 % then > 80 % of baseline, mouth +0.12 and ≥ 0.2, digits r ≥ 0.25.
//! - pulse: the peak share does not separate these clips (photo 0.26 against real 0.20-0.32 over ≥ 15 s), so
//!   Supports needs **0.45** and Concern is below **0.15**; every clip here gives Neutral or Missing (< 10 s).
//!
//! Known limits: `webcam_h264.mkv` shows a chance r = 0.44 with someone else's voice: over only 4.7 s of speech the
//! man's mouth happened to be open during the first burst, so av_sync on short speech is weak. Landmark jitter
//! grows as the face gets smaller; the photo's face is ~100 px wide, so a smaller printed face may measure above
//! the rigid threshold (Neutral rather than Concern). Blink needs ≥ 20 s of face to say anything negative.

mod av_sync;
mod blink;
mod challenge;
mod math;
mod passive;
mod pulse;
mod rigid;
mod screen;

use crate::checks::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::interview::Interview;
use crate::observations::{MeshSample, Observations};
use crate::types::{FrameIndex, MediaTime, TimeRange};
use serde::{Deserialize, Serialize};

pub use av_sync::AvSyncConfig;
pub use blink::BlinkConfig;
pub use challenge::ChallengeConfig;
pub use passive::PassiveConfig;
pub use pulse::PulseConfig;
pub use rigid::RigidMotionConfig;
pub use screen::ScreenConfig;

/// One Evidence per issued challenge (or one Missing when none was issued).
pub const SIGNAL_CHALLENGE: &str = "liveness.challenge";
/// Non-rigid motion of the tracked face points (a photo or screen moves as one plane).
pub const SIGNAL_RIGID_MOTION: &str = "liveness.rigid_motion";
/// Mouth opening follows the speech energy.
pub const SIGNAL_AV_SYNC: &str = "liveness.av_sync";
/// Spontaneous blink rate.
pub const SIGNAL_BLINK: &str = "liveness.blink";
/// Pulse from skin colour (rPPG).
pub const SIGNAL_PULSE: &str = "liveness.pulse";
/// Screens or phones around the face.
pub const SIGNAL_SCREEN: &str = "liveness.screen";
/// The operator's passive anti-spoof model.
pub const SIGNAL_PASSIVE: &str = "liveness.passive";

/// Thresholds of every liveness signal, one section per signal (serde: every field has a default, unknown fields
/// are rejected).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    pub challenge: ChallengeConfig,
    pub rigid_motion: RigidMotionConfig,
    pub av_sync: AvSyncConfig,
    pub blink: BlinkConfig,
    pub pulse: PulseConfig,
    pub screen: ScreenConfig,
    pub passive: PassiveConfig,
}

/// All liveness evidence for one session: the `liveness.challenge` items (one per challenge, in issue order),
/// then one each of `rigid_motion`, `av_sync`, `blink`, `pulse`, `screen`, `passive`.
pub fn evaluate(obs: &Observations, interview: &Interview, cfg: &LivenessConfig) -> Vec<Evidence> {
    let mesh = mesh_series(obs);
    let audio = AudioTrack::of(obs);
    let mut out = challenge::evaluate(obs, &mesh, audio.as_ref(), interview, &cfg.challenge, &cfg.av_sync);
    out.push(rigid::evaluate(obs, &mesh, &cfg.rigid_motion));
    out.push(av_sync::evaluate(obs, &mesh, audio.as_ref(), &cfg.av_sync));
    out.push(blink::evaluate(obs, &mesh, &cfg.blink));
    out.push(pulse::evaluate(obs, &mesh, &cfg.pulse));
    out.push(screen::evaluate(obs, &cfg.screen));
    out.push(passive::evaluate(obs, &cfg.passive));
    out
}

/// The raw numbers behind the signals, for calibration, reports and tests (`None` where a signal had no input).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Measurements {
    /// Mesh samples with finite metrics, and the seconds of face they cover.
    pub mesh_samples: usize,
    pub face_seconds: f64,
    /// Homography pairs fitted, and those whose points moved at least `rigid_motion.min_motion`.
    pub rigid_pairs: usize,
    pub rigid_moving_pairs: usize,
    /// Residual (RMS transfer error / inter-ocular distance) over all pairs: median and 90th percentile.
    pub rigid_residual_median: Option<f64>,
    pub rigid_residual_p90: Option<f64>,
    /// Median residual of the moving pairs.
    pub rigid_residual_moving_median: Option<f64>,
    /// Median point motion of the pairs (IOD).
    pub rigid_motion_median: Option<f64>,
    /// Seconds of speech segments.
    pub speech_seconds: f64,
    /// Lip/speech-energy correlation over speech time, its lag (ms, positive = mouth after sound), the samples
    /// correlated, and the standard deviation of `mouth_open` over them.
    pub av_sync_r: Option<f64>,
    pub av_sync_lag_ms: Option<i64>,
    pub av_sync_samples: usize,
    pub mouth_std: Option<f64>,
    /// Blinks counted, and per minute of face.
    pub blinks: usize,
    pub blinks_per_minute: Option<f64>,
    /// Pulse estimate: BPM, peak share and seconds analysed.
    pub pulse_bpm: Option<f64>,
    pub pulse_share: Option<f64>,
    pub pulse_seconds: Option<f64>,
}

/// The numbers [`evaluate`] decides on, without deciding.
pub fn measure(obs: &Observations, cfg: &LivenessConfig) -> Measurements {
    let mesh = mesh_series(obs);
    let audio = AudioTrack::of(obs);
    let pairs = rigid::pairs(&mesh, &cfg.rigid_motion);
    let residuals: Vec<f64> = pairs.iter().map(|p| p.residual).collect();
    let p90 = {
        let mut v = residuals.clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * 0.9) as usize).min(v.len().saturating_sub(1))).copied()
    };
    let moving: Vec<f64> =
        pairs.iter().filter(|p| p.motion >= cfg.rigid_motion.min_motion).map(|p| p.residual).collect();
    let sync = audio.as_ref().and_then(|a| av_sync::measure(&mesh, a, &cfg.av_sync));
    let face = face_seconds(&mesh, cfg.blink.max_gap_ms as f64 / 1000.0);
    let blinks = blink::blinks(&mesh, &cfg.blink).len();
    let pulse = pulse::measure(&mesh, &cfg.pulse);
    Measurements {
        mesh_samples: mesh.len(),
        face_seconds: face,
        rigid_pairs: pairs.len(),
        rigid_moving_pairs: moving.len(),
        rigid_residual_median: math::median(residuals.iter().copied()),
        rigid_residual_p90: p90,
        rigid_residual_moving_median: math::median(moving),
        rigid_motion_median: math::median(pairs.iter().map(|p| p.motion)),
        speech_seconds: audio.as_ref().map(|a| a.speech_total()).unwrap_or(0.0),
        av_sync_r: sync.map(|s| s.r),
        av_sync_lag_ms: sync.map(|s| s.lag_ms),
        av_sync_samples: sync.map(|s| s.n).unwrap_or(0),
        mouth_std: sync.map(|s| s.mouth_std),
        blinks,
        blinks_per_minute: (face > 0.0).then(|| blinks as f64 / (face / 60.0)),
        pulse_bpm: pulse.map(|p| p.bpm),
        pulse_share: pulse.map(|p| p.share),
        pulse_seconds: pulse.map(|p| p.seconds),
    }
}

fn observed(signal: &str, finding: Finding, confidence: f32, summary: String) -> Evidence {
    Evidence::observed(CheckKind::Liveness, signal, finding, confidence, summary)
}

fn missing(signal: &str, reason: impl Into<String>) -> Evidence {
    Evidence::missing(CheckKind::Liveness, signal, reason)
}

fn secs(t: MediaTime) -> f64 {
    t.as_secs_f64()
}

/// A reference to `[a, b]` seconds of media time, with the frame that shows it best.
fn span(a: f64, b: f64, frame: Option<FrameIndex>) -> EvidenceRef {
    EvidenceRef { range: TimeRange::new(MediaTime::from_secs_f64(a), MediaTime::from_secs_f64(b)), frame }
}

/// Mean eye openness of both eyes; a degenerate (0) or non-finite eye is left out.
fn eye_open(s: &MeshSample) -> Option<f64> {
    let v: Vec<f64> = [s.metrics.eye_open_left, s.metrics.eye_open_right]
        .into_iter()
        .map(f64::from)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    math::mean(&v)
}

/// The mesh series in media-time order, without samples whose metrics are not finite.
fn mesh_series(obs: &Observations) -> Vec<&MeshSample> {
    let mut v: Vec<&MeshSample> = obs
        .video
        .mesh
        .iter()
        .filter(|s| {
            let m = &s.metrics;
            [m.eye_open_left, m.eye_open_right, m.mouth_open, m.yaw_deg, m.pitch_deg, m.roll_deg]
                .iter()
                .all(|v| v.is_finite())
        })
        .collect();
    v.sort_by_key(|s| s.t);
    v
}

/// Seconds of face covered by the mesh series: the gaps between consecutive samples no longer than `max_gap` s,
/// plus one typical (median) gap for the last sample (N samples at 10 fps cover N/10 s).
fn face_seconds(mesh: &[&MeshSample], max_gap: f64) -> f64 {
    let gaps: Vec<f64> =
        mesh.windows(2).map(|w| secs(w[1].t) - secs(w[0].t)).filter(|d| *d > 0.0 && *d <= max_gap).collect();
    gaps.iter().sum::<f64>() + math::median(gaps.iter().copied()).unwrap_or(0.0)
}

/// The audio steps (32 ms) of the VAD and RMS series, with the speech segments.
struct AudioTrack<'a> {
    start: f64,
    step: f64,
    rms: &'a [f32],
    vad: &'a [f32],
    segments: &'a [crate::analysis::speech::SpeechSegment],
}

impl<'a> AudioTrack<'a> {
    /// Step of the VAD/RMS series (`observations::AudioObservations`).
    const STEP_S: f64 = 0.032;

    fn of(obs: &'a Observations) -> Option<AudioTrack<'a>> {
        let a = &obs.audio;
        let start = a.vad_start?;
        if !obs.has_audio || (a.vad_probs.is_empty() && a.rms.is_empty()) {
            return None;
        }
        Some(AudioTrack {
            start: secs(start),
            step: Self::STEP_S,
            rms: &a.rms,
            vad: &a.vad_probs,
            segments: &a.segments,
        })
    }

    fn centre(&self, k: usize) -> f64 {
        self.start + (k as f64 + 0.5) * self.step
    }

    /// Index range of the steps whose centres lie in `[a, b]`.
    fn steps_in(&self, a: f64, b: f64, len: usize) -> std::ops::Range<usize> {
        let lo = ((a - self.start) / self.step - 0.5).ceil().max(0.0);
        let hi = ((b - self.start) / self.step - 0.5).floor() + 1.0;
        let (lo, hi) = (lo.min(len as f64) as usize, hi.clamp(0.0, len as f64) as usize);
        lo..hi.max(lo)
    }

    /// Mean RMS of the steps centred within `t ± half` s (at least the step holding `t`); `None` outside the audio.
    fn envelope(&self, t: f64, half: f64) -> Option<f64> {
        let r = self.steps_in(t - half, t + half, self.rms.len());
        let vals: Vec<f64> = self.rms[r].iter().map(|&v| f64::from(v)).filter(|v| v.is_finite()).collect();
        if let Some(m) = math::mean(&vals) {
            return Some(m);
        }
        let k = ((t - self.start) / self.step).floor();
        if k < 0.0 {
            return None;
        }
        self.rms.get(k as usize).map(|&v| f64::from(v)).filter(|v| v.is_finite())
    }

    /// Seconds of VAD steps at or above `prob` centred within `[a, b]`.
    fn speech_seconds(&self, a: f64, b: f64, prob: f32) -> f64 {
        let r = self.steps_in(a, b, self.vad.len());
        self.vad[r].iter().filter(|&&p| p >= prob).count() as f64 * self.step
    }

    /// Centre time of the first VAD step at or above `prob` within `[a, b]`.
    fn first_speech(&self, a: f64, b: f64, prob: f32) -> Option<f64> {
        let r = self.steps_in(a, b, self.vad.len());
        let lo = r.start;
        self.vad[r].iter().position(|&p| p >= prob).map(|i| self.centre(lo + i))
    }

    /// Whether `t` lies within a speech segment widened by `pad` s on both sides.
    fn in_speech(&self, t: f64, pad: f64) -> bool {
        self.segments.iter().any(|s| t >= secs(s.range.start) - pad && t <= secs(s.range.end) + pad)
    }

    /// Total seconds of speech segments.
    fn speech_total(&self) -> f64 {
        self.segments.iter().map(|s| s.range.duration().as_secs_f64()).sum()
    }
}

/// How well the mouth opening follows the speech energy.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LipSync {
    /// Best Pearson r over the lags (0 when the mouth or the energy did not vary).
    r: f64,
    /// Lag of the best r, ms; positive = the mouth moves after the sound.
    lag_ms: i64,
    /// Samples correlated.
    n: usize,
    /// Standard deviation of `mouth_open` over those samples.
    mouth_std: f64,
}

/// Correlates `mouth_open` of the mesh samples for which `keep(t)` holds with the RMS envelope, best lag within
/// `±max_lag_ms` in `lag_step_ms` steps. `None` with fewer than `min_samples` usable samples.
fn lip_sync(
    mesh: &[&MeshSample],
    audio: &AudioTrack,
    keep: impl Fn(f64) -> bool,
    cfg: &AvSyncConfig,
    min_samples: usize,
) -> Option<LipSync> {
    let pts: Vec<(f64, f64)> = mesh
        .iter()
        .map(|s| (secs(s.t), f64::from(s.metrics.mouth_open)))
        .filter(|(t, m)| m.is_finite() && keep(*t))
        .collect();
    if pts.len() < min_samples.max(3) {
        return None;
    }
    let mouth: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mouth_std = math::std_dev(&mouth);
    let half = cfg.envelope_half_window_ms as f64 / 1000.0;
    let step = cfg.lag_step_ms.max(1) as i64;
    let max_lag = cfg.max_lag_ms as i64;
    let mut best: Option<LipSync> = None;
    let mut lag = -(max_lag / step) * step;
    while lag <= max_lag {
        let l = lag as f64 / 1000.0;
        let (mut m, mut e) = (Vec::with_capacity(pts.len()), Vec::with_capacity(pts.len()));
        for &(t, v) in &pts {
            if let Some(env) = audio.envelope(t - l, half) {
                m.push(v);
                e.push(if cfg.log_energy { 20.0 * (env + 1e-4).log10() } else { env });
            }
        }
        if m.len() >= min_samples.max(3) {
            let r = math::pearson(&m, &e).unwrap_or(0.0);
            if best.is_none_or(|b| r > b.r) {
                best = Some(LipSync { r, lag_ms: lag, n: m.len(), mouth_std });
            }
        }
        lag += step;
    }
    best
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Synthetic observation builders for the unit tests.
    use crate::analysis::speech::SpeechSegment;
    use crate::infer::models::face_mesh::FaceMetrics;
    use crate::observations::{MeshSample, Observations, TRACK_POINTS};
    use crate::types::{FrameIndex, MediaTime, TimeRange};

    pub fn metrics(eye: f32, mouth: f32, yaw: f32) -> FaceMetrics {
        FaceMetrics {
            eye_open_left: eye,
            eye_open_right: eye,
            mouth_open: mouth,
            yaw_deg: yaw,
            pitch_deg: 5.0,
            roll_deg: 0.0,
        }
    }

    /// A frontal face template (source px) for the [`TRACK_POINTS`], inter-ocular distance ≈ 60 px.
    pub fn face_points() -> Vec<[f32; 2]> {
        let tpl: [[f32; 2]; 24] = [
            [-45.0, -20.0],
            [-15.0, -20.0],
            [-30.0, -26.0],
            [-30.0, -14.0],
            [45.0, -20.0],
            [15.0, -20.0],
            [30.0, -26.0],
            [30.0, -14.0],
            [0.0, 42.0],
            [0.0, 46.0],
            [-22.0, 44.0],
            [22.0, 44.0],
            [0.0, 15.0],
            [0.0, 85.0],
            [0.0, -70.0],
            [-70.0, 5.0],
            [70.0, 5.0],
            [-35.0, -40.0],
            [35.0, -40.0],
            [0.0, -20.0],
            [-10.0, 22.0],
            [10.0, 22.0],
            [0.0, 36.0],
            [0.0, 56.0],
        ];
        assert_eq!(tpl.len(), TRACK_POINTS.len());
        tpl.iter().map(|p| [p[0] + 320.0, p[1] + 240.0]).collect()
    }

    /// Mesh samples at 10 fps from `f(t)` → (metrics, points), over `[t0, t1)` seconds.
    pub fn mesh(t0: f64, t1: f64, f: impl Fn(f64) -> (FaceMetrics, Vec<[f32; 2]>)) -> Vec<MeshSample> {
        let n = ((t1 - t0) * 10.0).round().max(0.0) as u64;
        (0..n)
            .map(|i| {
                let t = t0 + i as f64 * 0.1;
                let (metrics, points) = f(t);
                MeshSample {
                    t: MediaTime::from_secs_f64(t),
                    frame: FrameIndex(i),
                    metrics,
                    points,
                    skin_rgb: Some([180.0, 120.0, 100.0]),
                }
            })
            .collect()
    }

    /// Observations with video from `mesh`, and audio with `rms(t)` / `vad(t)` per 32 ms over `[0, audio_s)`,
    /// speech segments where `vad(t) ≥ 0.5`.
    pub fn obs(
        mesh: Vec<MeshSample>,
        audio_s: f64,
        rms: impl Fn(f64) -> f32,
        vad: impl Fn(f64) -> f32,
    ) -> Observations {
        let mut o = Observations { has_video: true, ..Default::default() };
        o.duration = MediaTime::from_secs_f64(audio_s.max(mesh.last().map(|s| s.t.as_secs_f64()).unwrap_or(0.0)));
        o.video.mesh = mesh;
        if audio_s > 0.0 {
            o.has_audio = true;
            o.audio.seconds = audio_s;
            o.audio.vad_start = Some(MediaTime::ZERO);
            let n = (audio_s / 0.032) as usize;
            let mut seg: Option<f64> = None;
            for k in 0..n {
                let t = k as f64 * 0.032 + 0.016;
                let p = vad(t);
                o.audio.vad_probs.push(p);
                o.audio.rms.push(rms(t));
                match (p >= 0.5, seg) {
                    (true, None) => seg = Some(k as f64 * 0.032),
                    (false, Some(s)) => {
                        o.audio.segments.push(SpeechSegment {
                            range: TimeRange::new(MediaTime::from_secs_f64(s), MediaTime::from_secs_f64(t - 0.016)),
                            mean_prob: 0.9,
                        });
                        seg = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = seg {
                o.audio.segments.push(SpeechSegment {
                    range: TimeRange::new(MediaTime::from_secs_f64(s), MediaTime::from_secs_f64(audio_s)),
                    mean_prob: 0.9,
                });
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::checks::EvidenceState;

    #[test]
    fn empty_observations_give_every_signal_without_panicking() {
        let ev = evaluate(&Observations::default(), &Interview::default(), &LivenessConfig::default());
        let ids: Vec<&str> = ev.iter().map(|e| e.signal.as_str()).collect();
        assert_eq!(
            ids,
            [
                SIGNAL_CHALLENGE,
                SIGNAL_RIGID_MOTION,
                SIGNAL_AV_SYNC,
                SIGNAL_BLINK,
                SIGNAL_PULSE,
                SIGNAL_SCREEN,
                SIGNAL_PASSIVE
            ]
        );
        assert!(ev.iter().all(|e| e.check == CheckKind::Liveness));
        assert!(ev.iter().all(|e| matches!(e.state, EvidenceState::Missing { .. })), "{ev:#?}");
        assert!(ev[0].summary.contains("no challenges were issued"));
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_fields() {
        let cfg = LivenessConfig::default();
        let s = serde_json::to_string(&cfg).unwrap_or_default();
        let back: LivenessConfig = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, cfg);
        let partial: LivenessConfig = serde_json::from_str(r#"{"av_sync": {"support_r": 0.4}}"#).unwrap_or_default();
        assert_eq!(partial.av_sync.support_r, 0.4);
        assert_eq!(partial.blink, BlinkConfig::default());
        assert!(serde_json::from_str::<LivenessConfig>(r#"{"nope": 1}"#).is_err());
    }

    #[test]
    fn audio_track_maps_times_to_steps() {
        let o = obs(Vec::new(), 2.0, |t| if t < 1.0 { 0.1 } else { 0.3 }, |t| if t >= 1.0 { 0.9 } else { 0.0 });
        let a = AudioTrack::of(&o).expect("audio");
        assert!((a.envelope(0.5, 0.05).unwrap_or(0.0) - 0.1).abs() < 1e-6);
        assert!((a.envelope(1.5, 0.05).unwrap_or(0.0) - 0.3).abs() < 1e-6);
        assert_eq!(a.envelope(-1.0, 0.05), None);
        assert!((a.speech_seconds(0.0, 2.0, 0.5) - 1.0).abs() < 0.05);
        assert!((a.first_speech(0.0, 2.0, 0.5).unwrap_or(0.0) - 1.0).abs() < 0.05);
        assert!(a.in_speech(1.5, 0.0) && !a.in_speech(0.5, 0.1));
    }
}
