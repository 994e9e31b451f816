//! Per-session quality metrics of a live call: what the applicant's data plan paid, how soon and how smoothly
//! video arrived, what the phone actually sent over time, and how much of the call each check could use.
//!
//! - **Freezes** follow the W3C `freezeCount` rule on frame arrival: a gap between two received frames of
//!   ≥ max(3 × mean frame interval, mean + 150 ms), the mean taken over the previous 30 intervals.
//! - **Windows**: the call's media time in 1-s windows. A window is usable for *liveness* with ≥ 10 frames and a
//!   face of ≥ 56 px (the mesh's minimum for stable landmarks), for *expression* with ≥ 5 frames and a face of
//!   ≥ 40 px, for *voice* with ≥ 0.9 s of audio, for *background* with a frame (or snapshot) ≥ 180 px high.
//!   Liveness is scored over the challenge windows (when the mesh is needed), the others over the whole call.
//!
//! Pure: the actor passes arrival times (call time) and media times in.

use crate::types::MediaTime;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

const WINDOW_NS: u64 = 1_000_000_000;
pub const LIVENESS_MIN_FRAMES: u32 = 10;
pub const LIVENESS_MIN_FACE_PX: f64 = 56.0;
pub const EXPRESSION_MIN_FRAMES: u32 = 5;
pub const EXPRESSION_MIN_FACE_PX: f64 = 40.0;
pub const VOICE_MIN_AUDIO_NS: u64 = 900_000_000;
pub const BACKGROUND_MIN_HEIGHT: u32 = 180;

#[derive(Clone, Debug, Default)]
struct Window {
    frames: u32,
    width: u32,
    height: u32,
    audio_ns: u64,
    snapshot_height: u32,
    face_px: f64,
}

/// What the controller gets for each interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interval {
    pub frames: u32,
    /// Longest gap between frames in the interval, or since the last frame if none came (ms).
    pub max_gap_ms: u64,
    pub freezes: u32,
    pub audio: bool,
    pub frame_height: Option<u32>,
}

/// Accumulates a call's arrivals.
#[derive(Clone, Debug, Default)]
pub struct QualityMeter {
    windows: BTreeMap<u64, Window>,
    deltas: VecDeque<Duration>,
    last_arrival: Option<Duration>,
    freezes: Vec<Freeze>,
    ttff: Option<Duration>,
    frames: u64,
    // Interval accumulators (reset by `interval`).
    iv_frames: u32,
    iv_max_gap: Duration,
    iv_freezes: u32,
    iv_audio: bool,
    iv_height: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Freeze {
    /// Media time of the frame that ended the freeze.
    pub at_s: f64,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondSample {
    pub t_s: u64,
    pub fps: u32,
    pub width: u32,
    pub height: u32,
    pub audio: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Usable {
    pub usable: u32,
    pub windows: u32,
    pub share: f64,
}

impl Usable {
    fn new(usable: u32, windows: u32) -> Usable {
        let share = if windows > 0 { usable as f64 / windows as f64 } else { 0.0 };
        Usable { usable, windows, share: (share * 1000.0).round() / 1000.0 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowShares {
    pub liveness: Usable,
    /// Liveness over every window of the call (not only challenges), for comparison.
    pub liveness_all: Usable,
    pub expression: Usable,
    pub voice: Usable,
    pub background: Usable,
}

/// The report stored with the session (`quality` in the API) and logged at the end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityReport {
    pub time_to_first_frame_ms: Option<u64>,
    pub frames_received: u64,
    pub freeze_count: u32,
    pub total_freeze_ms: u64,
    pub freezes: Vec<Freeze>,
    /// Mean received frame rate and the share of seconds at each frame height.
    pub mean_fps: f64,
    pub heights: BTreeMap<u32, u32>,
    pub windows: WindowShares,
    /// One sample per media second.
    pub timeline: Vec<SecondSample>,
}

impl QualityMeter {
    pub fn new() -> QualityMeter {
        QualityMeter::default()
    }

    /// Time from the offer to the first decoded frame.
    pub fn first_frame(&mut self, after_offer: Duration) {
        self.ttff.get_or_insert(after_offer);
    }

    /// A decoded frame arrived at call time `arrival` with media time `pts`.
    pub fn video_frame(&mut self, arrival: Duration, pts: MediaTime, width: u32, height: u32) {
        self.frames += 1;
        let w = self.windows.entry(pts.0 / WINDOW_NS).or_default();
        w.frames += 1;
        w.width = width;
        w.height = height;
        self.iv_frames += 1;
        self.iv_height = Some(height);
        if let Some(prev) = self.last_arrival {
            let d = arrival.saturating_sub(prev);
            self.iv_max_gap = self.iv_max_gap.max(d);
            if self.deltas.len() >= 5 {
                let mean = self.deltas.iter().sum::<Duration>() / self.deltas.len() as u32;
                let limit = (mean * 3).max(mean + Duration::from_millis(150));
                if d >= limit {
                    self.freezes.push(Freeze {
                        at_s: (pts.0 as f64 / 1e9 * 100.0).round() / 100.0,
                        duration_ms: d.as_millis() as u64,
                    });
                    self.iv_freezes += 1;
                }
            }
            self.deltas.push_back(d);
            if self.deltas.len() > 30 {
                self.deltas.pop_front();
            }
        }
        self.last_arrival = Some(arrival);
    }

    /// An audio chunk of `dur` at media time `pts` arrived.
    pub fn audio(&mut self, pts: MediaTime, dur: Duration) {
        self.iv_audio = true;
        // Split across windows.
        let (mut t, end) = (pts.0, pts.0 + dur.as_nanos() as u64);
        while t < end {
            let win = t / WINDOW_NS;
            let stop = end.min((win + 1) * WINDOW_NS);
            let w = self.windows.entry(win).or_default();
            w.audio_ns = (w.audio_ns + (stop - t)).min(WINDOW_NS);
            t = stop;
        }
    }

    /// A still snapshot (audio-only mode) of `height` px arrived at media time `pts`.
    pub fn snapshot(&mut self, pts: MediaTime, height: u32) {
        let w = self.windows.entry(pts.0 / WINDOW_NS).or_default();
        w.snapshot_height = w.snapshot_height.max(height);
    }

    /// The measurements since the last call, for the controller; `now` is the call time.
    pub fn interval(&mut self, now: Duration) -> Interval {
        let since_last = self.last_arrival.map(|a| now.saturating_sub(a)).unwrap_or_default();
        let gap = if self.iv_frames == 0 { since_last } else { self.iv_max_gap.max(since_last) };
        let iv = Interval {
            frames: self.iv_frames,
            max_gap_ms: gap.as_millis() as u64,
            freezes: self.iv_freezes,
            audio: self.iv_audio,
            frame_height: self.iv_height,
        };
        self.iv_frames = 0;
        self.iv_max_gap = Duration::ZERO;
        self.iv_freezes = 0;
        self.iv_audio = false;
        self.iv_height = None;
        iv
    }

    /// The report. `faces` are the face worker's samples (media time, primary face width in px);
    /// `challenges` the media-time ranges of the liveness challenges; `end` the call's last media time.
    pub fn report(
        &self,
        faces: &[(MediaTime, f64)],
        challenges: &[(MediaTime, MediaTime)],
        end: MediaTime,
    ) -> QualityReport {
        let mut windows = self.windows.clone();
        for (t, px) in faces {
            let w = windows.entry(t.0 / WINDOW_NS).or_default();
            w.face_px = w.face_px.max(*px);
        }
        let last = end.0 / WINDOW_NS;
        let first = windows.keys().next().copied().unwrap_or(0);
        let all: Vec<(u64, Window)> =
            (first..=last.max(first)).map(|k| (k, windows.get(&k).cloned().unwrap_or_default())).collect();
        // The last window is usually partial: leave it out unless it is the only one.
        let full: Vec<&(u64, Window)> =
            if all.len() > 1 { all[..all.len() - 1].iter().collect() } else { all.iter().collect() };
        let live_ok = |w: &Window| w.frames >= LIVENESS_MIN_FRAMES && w.face_px >= LIVENESS_MIN_FACE_PX;
        let in_challenge = |k: u64| {
            challenges.iter().any(|(a, b)| {
                let (s, e) = (k * WINDOW_NS, (k + 1) * WINDOW_NS);
                s >= a.0 && e <= b.0.max(a.0)
            })
        };
        let count = |pred: &dyn Fn(&(u64, Window)) -> bool, sel: &dyn Fn(&(u64, Window)) -> bool| {
            let sel: Vec<_> = full.iter().filter(|x| sel(x)).collect();
            Usable::new(sel.iter().filter(|x| pred(x)).count() as u32, sel.len() as u32)
        };
        let every = |_: &(u64, Window)| true;
        let shares = WindowShares {
            liveness: count(&|(_, w)| live_ok(w), &|(k, _)| in_challenge(*k)),
            liveness_all: count(&|(_, w)| live_ok(w), &every),
            expression: count(
                &|(_, w)| w.frames >= EXPRESSION_MIN_FRAMES && w.face_px >= EXPRESSION_MIN_FACE_PX,
                &every,
            ),
            voice: count(&|(_, w)| w.audio_ns >= VOICE_MIN_AUDIO_NS, &every),
            background: count(
                &|(_, w)| {
                    (w.frames > 0 && w.height >= BACKGROUND_MIN_HEIGHT) || w.snapshot_height >= BACKGROUND_MIN_HEIGHT
                },
                &every,
            ),
        };
        let mut heights = BTreeMap::new();
        for (_, w) in &full {
            if w.frames > 0 {
                *heights.entry(w.height).or_insert(0) += 1;
            }
        }
        let seconds = full.len().max(1) as f64;
        let frames_in: u32 = full.iter().map(|(_, w)| w.frames).sum();
        QualityReport {
            time_to_first_frame_ms: self.ttff.map(|d| d.as_millis() as u64),
            frames_received: self.frames,
            freeze_count: self.freezes.len() as u32,
            total_freeze_ms: self.freezes.iter().map(|f| f.duration_ms).sum(),
            freezes: self.freezes.iter().take(200).cloned().collect(),
            mean_fps: (frames_in as f64 / seconds * 10.0).round() / 10.0,
            heights,
            windows: shares,
            timeline: all
                .iter()
                .map(|(k, w)| SecondSample {
                    t_s: *k,
                    fps: w.frames,
                    width: w.width,
                    height: w.height,
                    audio: w.audio_ns >= VOICE_MIN_AUDIO_NS / 2,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    fn feed(m: &mut QualityMeter, from_ms: u64, to_ms: u64, every_ms: u64, h: u32) {
        let mut t = from_ms;
        while t < to_ms {
            m.video_frame(ms(t), MediaTime(t * 1_000_000), h * 4 / 3, h);
            m.audio(MediaTime(t * 1_000_000), ms(every_ms));
            t += every_ms;
        }
    }

    #[test]
    fn freezes_follow_the_w3c_rule() {
        let mut m = QualityMeter::new();
        feed(&mut m, 0, 2000, 66, 240);
        // 250 ms gap: ≥ 3 × 66 = 198 but < 66 + 150 = 216? no: 250 ≥ max(198, 216) → a freeze.
        feed(&mut m, 2250, 4000, 66, 240);
        // 180 ms: below max(198, 216) → not a freeze.
        feed(&mut m, 4180, 6000, 66, 240);
        // A 5 s outage.
        feed(&mut m, 11000, 13000, 66, 240);
        let r = m.report(&[], &[], MediaTime(13_000_000_000));
        assert_eq!(r.freeze_count, 2, "{:?}", r.freezes);
        assert!(r.freezes[1].duration_ms >= 4900);
        assert!(r.mean_fps > 8.0 && r.mean_fps < 12.0, "{} (outage seconds count)", r.mean_fps);
    }

    #[test]
    fn windows_count_what_each_check_could_use() {
        let mut m = QualityMeter::new();
        feed(&mut m, 0, 10_000, 66, 240); // 15 fps, 240p
        feed(&mut m, 10_000, 20_000, 200, 120); // 5 fps, 120p
        let faces: Vec<(MediaTime, f64)> =
            (0..20).map(|s| (MediaTime(s * 1_000_000_000 + 5), if s < 10 { 90.0 } else { 45.0 })).collect();
        let challenges = [
            (MediaTime(2_000_000_000), MediaTime(6_000_000_000)),
            (MediaTime(12_000_000_000), MediaTime(16_000_000_000)),
        ];
        let r = m.report(&faces, &challenges, MediaTime(20_000_000_000));
        assert_eq!(r.windows.liveness.windows, 8);
        assert_eq!(r.windows.liveness.usable, 4, "the 5-fps half fails");
        assert_eq!(r.windows.voice.share, 1.0);
        assert_eq!(r.windows.expression.usable, 20, "5 fps and 45 px still serve expression");
        assert_eq!(r.windows.background.usable, 10);
        assert_eq!(r.heights.get(&240), Some(&10));
    }

    #[test]
    fn intervals_report_gaps_and_stalls() {
        let mut m = QualityMeter::new();
        feed(&mut m, 0, 1000, 66, 240);
        let iv = m.interval(ms(1000));
        assert!(iv.frames >= 15 && iv.max_gap_ms < 100 && iv.audio);
        let iv = m.interval(ms(3000));
        assert_eq!(iv.frames, 0);
        assert!(iv.max_gap_ms >= 2000 && !iv.audio);
    }
}
