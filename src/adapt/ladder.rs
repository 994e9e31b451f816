//! The operating-point ladder: what the applicant's phone may send, from audio-only to 480p, and what each check of
//! the interview needs from it. Numbers follow what the open SFUs and the commercial SDKs use for mobile uplinks
//! (LiveKit's and TRTC's presets: ~160x120 at 70-100 kb/s up to 640x360 at ~450 kb/s; Opus speech at 16-24 kb/s
//! with in-band FEC) and the models' inputs: the face detector looks at 128x128, the face mesh at a 192x192 crop of
//! the face (so a face of ≥ 100 px needs no up-scaling), the expression and identity models at 112x112 / 64x64
//! crops, the scene and OCR models at 224-320 px of the whole frame.
//!
//! Pure: constants and small functions only.

use serde::{Deserialize, Serialize};

/// One operating point. Heights are for the 4:3 capture the page asks for (640x480); 16:9 captures scale alike.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rung {
    pub name: &'static str,
    /// Video sent at all (false: audio-only with still snapshots).
    pub video: bool,
    /// Target frame height (px) and frame rate.
    pub height: u32,
    pub fps: f64,
    /// Video bitrate cap, kb/s.
    pub video_kbps: u32,
    /// Opus bitrate cap, kb/s.
    pub audio_kbps: u32,
}

impl Rung {
    /// Everything this rung sends, kb/s, with ~8 % for RTP/RTCP/SRTP headers.
    pub fn total_kbps(&self) -> u32 {
        let media = if self.video { self.video_kbps + self.audio_kbps } else { self.audio_kbps + SNAPSHOT_KBPS };
        media + media / 12
    }
}

/// Average cost of the still snapshots of audio-only mode (a ~6 KB JPEG every 2 s).
pub const SNAPSHOT_KBPS: u32 = 24;

/// The ladder, lowest first. Index 0 is audio-only.
pub const LADDER: [Rung; 6] = [
    Rung { name: "audio_only", video: false, height: 120, fps: 0.0, video_kbps: 0, audio_kbps: 16 },
    Rung { name: "120p10", video: true, height: 120, fps: 10.0, video_kbps: 60, audio_kbps: 16 },
    Rung { name: "240p10", video: true, height: 240, fps: 10.0, video_kbps: 90, audio_kbps: 16 },
    Rung { name: "240p15", video: true, height: 240, fps: 15.0, video_kbps: 150, audio_kbps: 20 },
    Rung { name: "360p15", video: true, height: 360, fps: 15.0, video_kbps: 270, audio_kbps: 24 },
    Rung { name: "480p15", video: true, height: 480, fps: 15.0, video_kbps: 420, audio_kbps: 24 },
];

/// Below this total (the estimate less the loss), not even the bottom rung squeezed under its cap holds and video
/// pauses: the peers' lowest preset, 160x120 at 70-100 kb/s in all (TRTC), leaves ~45 kb/s for VP8 after Opus
/// at 16 kb/s and the headers. The rung is chosen with head-room; this floor has none (hysteresis: video comes
/// back only when the bottom rung fits with its head-room).
pub const VIDEO_FLOOR_KBPS: u32 = 70;

pub const AUDIO_ONLY: usize = 0;
pub const TOP: usize = LADDER.len() - 1;

/// What the interview needs from the picture right now (from the script's current step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// Before the script starts or after it ends: keep the call up, spend as little as possible.
    #[default]
    Idle,
    /// The first seconds: the face is found and matched to the reference photo (resolution over frame rate).
    Identity,
    /// A question being answered: audio first; the face for expression at a modest size.
    Speech,
    /// The applicant shows the place: scene, screens and signs (resolution over frame rate).
    Scene,
    /// Waiting for the face before a challenge.
    Face,
    /// A liveness challenge: the face mesh wants 15 fps and a face of ~100 px (360p gives ~150 px); 240p at
    /// 15 fps is the least it can use (a 240p face is ~60-80 px, and 10 fps nominal leaves fewer than the 10
    /// frames a 1-s window needs as soon as one frame is lost).
    Liveness,
    /// Reading digits aloud: liveness and voice at once.
    LivenessSpeech,
}

/// `RTCRtpSendParameters.degradationPreference` for every video rung: the controller picks the resolution
/// (`scaleResolutionDownBy`) and the frame rate itself, so the browser must not shrink the picture on its own.
///
/// Measured with Chromium 156 (3-minute call, `cargo bench --bench adapt`): with `maintain-framerate` or `balanced`
/// the browser's quality scaler is on, and each change of scale or of preference re-arms libwebrtc's initial frame
/// dropper. That dropper compares the *capture* size (640x480), not the scaled one, with the encoder's target rate
/// (under 300 kb/s → at most 320x240) and shrinks the capture; `scaleResolutionDownBy` then applies on top. A
/// challenge asking for 360p at 270 kb/s got 240x180 and 160x120 frames (`qualityLimitationReason: bandwidth`
/// with a 355 kb/s estimate): a face too small for the face mesh. With `maintain-resolution` the quality scaler and
/// the dropper are off; under a short shortfall the encoder drops frames instead, until the controller's next
/// step (≤ 2 s) picks a rung that fits.
pub const DEGRADATION: &str = "maintain-resolution";

/// What a need asks of the ladder: the rung to aim for, the lowest rung at which the need's check still works,
/// and the frame rate it may trade away.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeedProfile {
    pub target: usize,
    pub min_useful: usize,
    /// Frame-rate cap for this need (resolution-first needs send fewer frames).
    pub max_fps: f64,
}

impl Need {
    pub fn profile(self) -> NeedProfile {
        match self {
            Need::Idle => NeedProfile { target: 1, min_useful: 0, max_fps: 10.0 },
            Need::Identity => NeedProfile { target: 4, min_useful: 2, max_fps: 10.0 },
            Need::Speech => NeedProfile { target: 3, min_useful: 2, max_fps: 15.0 },
            Need::Scene => NeedProfile { target: 5, min_useful: 2, max_fps: 8.0 },
            Need::Face => NeedProfile { target: 3, min_useful: 3, max_fps: 15.0 },
            Need::Liveness => NeedProfile { target: 4, min_useful: 3, max_fps: 15.0 },
            Need::LivenessSpeech => NeedProfile { target: 4, min_useful: 3, max_fps: 15.0 },
        }
    }

    /// A challenge is running or about to (the face mesh needs its floor rung even above the uplink estimate).
    pub fn challenge(self) -> bool {
        matches!(self, Need::Face | Need::Liveness | Need::LivenessSpeech)
    }

    /// Whether speech matters now (then audio keeps its bitrate and FEC whatever video does).
    pub fn speech(self) -> bool {
        matches!(self, Need::Speech | Need::LivenessSpeech)
    }
}

/// What the phone can encode without overheating or dropping frames, from what the page reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Low,
    Mid,
    High,
}

impl DeviceClass {
    /// Classifies from `navigator.hardwareConcurrency`, `navigator.deviceMemory` (GB, Chromium rounds it to a
    /// power of two ≤ 8) and the user agent. Unknown fields do not lower the class; an Android Go / very old
    /// Android build does.
    pub fn classify(cores: Option<u32>, memory_gb: Option<f64>, user_agent: Option<&str>) -> DeviceClass {
        let mut class = DeviceClass::High;
        if cores.is_some_and(|c| c <= 4) || memory_gb.is_some_and(|m| m < 2.0) {
            class = DeviceClass::Low;
        } else if cores.is_some_and(|c| c <= 6) || memory_gb.is_some_and(|m| m < 4.0) {
            class = DeviceClass::Mid;
        }
        if let Some(ua) = user_agent
            && let Some(v) = android_major(ua)
            && v <= 8
        {
            class = DeviceClass::Low;
        }
        class
    }

    /// Highest rung this class may use, and the highest for challenges (short bursts).
    pub fn caps(self) -> (usize, usize) {
        match self {
            DeviceClass::Low => (3, 4),
            DeviceClass::Mid => (4, 5),
            DeviceClass::High => (TOP, TOP),
        }
    }
}

fn android_major(ua: &str) -> Option<u32> {
    let rest = &ua[ua.find("Android ")? + "Android ".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// `scaleResolutionDownBy` that brings a capture of `capture_height` down to the rung's height (≥ 1).
pub fn scale_for(capture_height: u32, rung: &Rung) -> f64 {
    if rung.height == 0 || capture_height <= rung.height {
        return 1.0;
    }
    // Two decimals: browsers round the scaled size anyway.
    (capture_height as f64 / rung.height as f64 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_rises_in_cost() {
        for w in LADDER.windows(2) {
            assert!(w[0].total_kbps() < w[1].total_kbps(), "{} !< {}", w[0].name, w[1].name);
        }
        assert!(LADDER[TOP].total_kbps() <= 500, "top rung within the ~450 kb/s of the peers' 360p preset + audio");
        assert!(LADDER[1].total_kbps() <= 100);
        assert!(LADDER[2].total_kbps() <= 125, "240p10 fits a 150 kb/s uplink");
        for n in [Need::Idle, Need::Identity, Need::Speech, Need::Scene, Need::Face, Need::Liveness] {
            let p = n.profile();
            assert!(p.min_useful <= p.target && p.target <= TOP, "{n:?}");
        }
    }

    #[test]
    fn device_classes() {
        assert_eq!(DeviceClass::classify(Some(8), Some(8.0), None), DeviceClass::High);
        assert_eq!(DeviceClass::classify(Some(4), Some(2.0), None), DeviceClass::Low);
        assert_eq!(DeviceClass::classify(Some(8), Some(1.0), None), DeviceClass::Low);
        assert_eq!(DeviceClass::classify(Some(6), None, None), DeviceClass::Mid);
        assert_eq!(DeviceClass::classify(None, None, None), DeviceClass::High);
        let go = "Mozilla/5.0 (Linux; Android 8.1.0; Nokia 1) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36";
        assert_eq!(DeviceClass::classify(Some(8), Some(4.0), Some(go)), DeviceClass::Low);
    }

    #[test]
    fn scales() {
        assert_eq!(scale_for(480, &LADDER[5]), 1.0);
        assert_eq!(scale_for(480, &LADDER[3]), 2.0);
        assert_eq!(scale_for(480, &LADDER[2]), 2.0);
        assert_eq!(scale_for(480, &LADDER[1]), 4.0);
        assert_eq!(scale_for(720, &LADDER[4]), 2.0);
        assert_eq!(scale_for(240, &LADDER[5]), 1.0);
    }
}
