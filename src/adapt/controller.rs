//! The adaptation controller: once a second it takes what the receiver measured, what the phone's browser
//! reported, what the checks need now and how the scene looks, and decides the phone's operating point, keyframe
//! requests and hints to the applicant.
//!
//! How it decides (see `docs/adaptation.md`):
//! - **Ceiling from the network.** The usable rate is the browser's own estimate (`availableOutgoingBitrate`,
//!   the congestion controller that sees every packet) or, without it, what arrives; lossy links keep a margin for
//!   retransmissions and FEC. The highest rung whose total fits under it is the network ceiling.
//! - **Down fast, up slow.** Two bad seconds in a row (the ceiling under the current rung, loss ≥ 10 %, a freeze,
//!   RTT over 1 s) step down to the ceiling at once; going up needs 5 calm seconds (10 s after a step down, doubling
//!   after each failed probe), one rung at a time — except when the interview's need rises (a challenge starts) and
//!   the ceiling allows the jump.
//! - **Spend where the checks need it.** The target rung comes from the need (idle → 120p, answering → 240p,
//!   challenge → 480p at full frame rate, scene → 480p at low frame rate) and the device class; the controller
//!   never sends more than the need's target, so a quiet stretch costs little data. The resolution is ours alone:
//!   the browser is told `maintain-resolution` (see [`DEGRADATION`] for what its own scaler did otherwise).
//! - **Audio first.** Opus keeps its rate while video takes the cut; when not even the lowest video rung holds
//!   (the estimate under [`VIDEO_FLOOR_KBPS`] for 3 s, or repeated stalls at the lowest rung) video pauses and
//!   the page sends a still snapshot every 2 s; a probe back to video follows after 15 s (backing off after each
//!   failure).
//! - **Keyframes** after a stall ends, after a freeze, and when a challenge starts (clean frames for the mesh).
//! - **Hints** when the network is fine but the picture is not: a small face ("move closer"), a dark face ("more
//!   light"), a moving face outside movement challenges ("hold still"); each at most every 20 s.
//!
//! Pure: inputs and `now` in, actions out; no clock, no I/O.

use super::ladder::{AUDIO_ONLY, DEGRADATION, DeviceClass, LADDER, Need, Rung, TOP, VIDEO_FLOOR_KBPS, scale_for};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One second of measurements, as the session actor gathers them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Received bitrate over the last interval (video + audio payload), bits/s.
    #[serde(default)]
    pub recv_bps: Option<f64>,
    /// Fraction of packets lost over the last interval (video and audio together), 0..1.
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub jitter_s: Option<f64>,
    #[serde(default)]
    pub rtt_s: Option<f64>,
    /// NACKs and PLI/FIRs the receiver sent during the interval.
    #[serde(default)]
    pub nacks: u64,
    #[serde(default)]
    pub plis: u64,
    /// The phone's view (from `sender_stats`, at most a few seconds old).
    #[serde(default)]
    pub available_bps: Option<f64>,
    #[serde(default)]
    pub limitation: Option<String>,
    /// Frames received during the interval and the longest gap between two of them (or since the last one).
    #[serde(default)]
    pub frames: u32,
    #[serde(default)]
    pub max_gap_ms: u64,
    /// Freezes (W3C rule) that ended during the interval.
    #[serde(default)]
    pub freezes: u32,
    /// Audio arrived during the interval.
    #[serde(default = "yes")]
    pub audio: bool,
    /// Height of the frames received (the phone's real sending size).
    #[serde(default)]
    pub frame_height: Option<u32>,
    /// The scene: primary face width as a fraction of the frame width, mean face luma (0-255), face motion
    /// (centre displacement per frame / face width, smoothed). None while no face is seen.
    #[serde(default)]
    pub face_frac: Option<f64>,
    #[serde(default)]
    pub face_luma: Option<f64>,
    #[serde(default)]
    pub face_motion: Option<f64>,
    pub need: Need,
}

fn yes() -> bool {
    true
}

/// What the phone is asked to send.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub rung: &'static str,
    pub video: bool,
    pub max_bitrate_bps: u64,
    pub scale_resolution_down_by: f64,
    pub max_framerate: f64,
    pub degradation: &'static str,
    pub audio_bitrate_bps: u64,
    /// Snapshot period while video is paused.
    pub snapshot_every_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    MoveCloser,
    MoreLight,
    HoldStill,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Set { setting: Setting, reason: String },
    KeyFrame { reason: String },
    Hint { hint: HintKind },
}

/// Tunables (defaults are the documented behaviour; tests use them as is).
#[derive(Clone, Debug)]
pub struct Config {
    pub bad_ticks_to_step_down: u32,
    pub calm_to_step_up: Duration,
    pub hold_after_down: Duration,
    pub audio_only_after: Duration,
    pub probe_video_after: Duration,
    pub hint_every: Duration,
    /// Head-room kept under the estimate (fraction of it used).
    pub utilisation: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bad_ticks_to_step_down: 2,
            calm_to_step_up: Duration::from_secs(5),
            hold_after_down: Duration::from_secs(10),
            audio_only_after: Duration::from_secs(3),
            probe_video_after: Duration::from_secs(15),
            hint_every: Duration::from_secs(20),
            utilisation: 0.9,
        }
    }
}

/// The controller of one call.
#[derive(Clone, Debug)]
pub struct Controller {
    cfg: Config,
    device: DeviceClass,
    capture_height: u32,
    cur: usize,
    sent: Option<Setting>,
    need: Need,
    bad_ticks: u32,
    calm_since: Option<Duration>,
    last_down: Option<Duration>,
    hold: Duration,
    below_video_since: Option<Duration>,
    audio_only_since: Option<Duration>,
    probe_backoff: Duration,
    freezes_recent: Vec<Duration>,
    /// Video stalls (≥ 1.5 s without frames while audio flows) in the last 15 s.
    stalls_recent: Vec<Duration>,
    stalled: bool,
    last_keyframe: Option<Duration>,
    cpu_limited_since: Option<Duration>,
    cpu_cap: Option<usize>,
    hint_pending: Option<(HintKind, Duration)>,
    last_hint: Option<Duration>,
    /// Last usable estimate of the uplink, bits/s, and the one when video was paused.
    estimate: Option<f64>,
    estimate_at_pause: Option<f64>,
    /// The estimate carries the bottom video rung squeezed to [`VIDEO_FLOOR_KBPS`] (from the last `ceiling`).
    video_fits: bool,
}

/// Frame gap beyond which video counts as stalled (an outage, not a freeze).
const STALL_MS: u64 = 1500;

impl Controller {
    pub fn new(device: DeviceClass, cfg: Config) -> Controller {
        let hold = cfg.hold_after_down;
        Controller {
            cfg,
            device,
            capture_height: 480,
            cur: 2,
            sent: None,
            need: Need::Idle,
            bad_ticks: 0,
            calm_since: None,
            last_down: None,
            hold,
            below_video_since: None,
            audio_only_since: None,
            probe_backoff: Duration::ZERO,
            freezes_recent: Vec::new(),
            stalls_recent: Vec::new(),
            stalled: false,
            last_keyframe: None,
            cpu_limited_since: None,
            cpu_cap: None,
            hint_pending: None,
            last_hint: None,
            estimate: None,
            estimate_at_pause: None,
            video_fits: true,
        }
    }

    pub fn device(&self) -> DeviceClass {
        self.device
    }

    /// The device class changed (the page's `hello` arrives after the first tick).
    pub fn set_device(&mut self, device: DeviceClass) {
        self.device = device;
    }

    /// The rung in use.
    pub fn rung(&self) -> &'static Rung {
        &LADDER[self.cur]
    }

    /// The start setting, before any measurement (sent when the page connects).
    pub fn initial(&mut self, now: Duration, need: Need) -> Vec<Action> {
        self.need = need;
        let cap = self.cap(need);
        self.cur = need.profile().target.min(cap).min(3);
        self.calm_since = Some(now);
        self.emit(format!("start at {} for {:?}", LADDER[self.cur].name, need)).into_iter().collect()
    }

    /// One step: `now` is the call's time (monotonic), `inp` the last interval's measurements.
    pub fn tick(&mut self, now: Duration, inp: &Inputs) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(h) = inp.frame_height
            && self.cur == TOP
            && LADDER[self.cur].video
        {
            // At scale 1 the received height is the capture height.
            self.capture_height = h.max(120);
        }
        // Nothing at all arriving is an outage: nothing to adapt to until it ends. Video alone stalling while audio
        // flows is congestion (video does not get through) and counts like a freeze.
        let stalled_now = inp.max_gap_ms >= STALL_MS && !inp.audio;
        let video_stalled = inp.max_gap_ms >= STALL_MS && inp.audio && LADDER[self.cur].video;
        if stalled_now && LADDER[self.cur].video {
            self.stalled = true;
            self.calm_since = None;
            return out;
        }
        if self.stalled && !stalled_now {
            self.stalled = false;
            out.extend(self.keyframe(now, "video resumed after a stall"));
            // Restart gently: the path may have changed; at most the speech rung until it proves itself.
            if self.cur > 3 {
                self.cur = 3;
                self.last_down = Some(now);
                out.extend(self.emit("resume after a stall at 240p15".into()));
            }
            self.calm_since = Some(now);
            return out;
        }

        self.freezes_recent.retain(|t| now.saturating_sub(*t) < Duration::from_secs(10));
        self.stalls_recent.retain(|t| now.saturating_sub(*t) < Duration::from_secs(15));
        for _ in 0..inp.freezes + u32::from(video_stalled) {
            self.freezes_recent.push(now);
        }
        if video_stalled {
            self.stalls_recent.push(now);
        }
        // A freeze on a slow link is queueing, not a broken reference: a keyframe (5-10× a delta frame) would only
        // queue more. Lost packets are asked for again (NACK) and the depayloader itself asks for a keyframe when
        // one is gone for good, so only a stall (no video for 1.5 s while audio flows) asks for one here.
        if video_stalled {
            out.extend(self.keyframe(now, "video stalled"));
        }
        self.track_cpu(now, inp);

        let ceiling = self.ceiling(inp);
        let loss = inp.loss.unwrap_or(0.0);
        let congested = ceiling < self.cur
            || loss >= 0.10
            || inp.freezes > 0
            || video_stalled
            || inp.rtt_s.is_some_and(|r| r > 1.0)
            || (inp.limitation.as_deref() == Some("bandwidth") && ceiling <= self.cur && self.cur > 1);
        let calm = !congested && loss < 0.02 && inp.rtt_s.is_none_or(|r| r < 0.6);

        // The need changed: aim at its target now if the network allows (a challenge must not wait 5 s).
        let need_changed = inp.need != self.need;
        self.need = inp.need;
        let cap = self.cap(inp.need);
        let target = inp.need.profile().target.min(cap);

        if congested {
            self.bad_ticks += 1;
            self.calm_since = None;
        } else {
            self.bad_ticks = 0;
            if calm {
                self.calm_since.get_or_insert(now);
            } else {
                self.calm_since = None;
            }
        }

        // Audio-only: when even the lowest video rung does not fit, or video keeps stalling at the bottom (short
        // freezes from random loss do not count: NACK repairs them, and pausing video would lose the checks).
        let video_unholdable = !self.video_fits || (self.cur <= 1 && self.stalls_recent.len() >= 3);
        if LADDER[self.cur].video && video_unholdable {
            let since = *self.below_video_since.get_or_insert(now);
            if now.saturating_sub(since) >= self.cfg.audio_only_after {
                self.cur = AUDIO_ONLY;
                self.audio_only_since = Some(now);
                self.last_down = Some(now);
                self.below_video_since = None;
                self.freezes_recent.clear();
                self.stalls_recent.clear();
                self.estimate_at_pause = self.estimate;
                out.extend(self.emit(format!(
                    "video cannot be held (estimate {}): audio only with snapshots",
                    kbps(self.estimate)
                )));
                return out;
            }
        } else {
            self.below_video_since = None;
        }

        if !LADDER[self.cur].video {
            // Probe back to video after a while, when the estimate allows the lowest rung, backing off on failure.
            // The browser's estimate decays while only audio is sent, so it cannot say when video fits again: probe
            // when it allows the lowest rung, when a challenge is coming (its evidence matters most), or blind
            // after four times the wait.
            let since = self.audio_only_since.unwrap_or(now);
            let wait = self.cfg.probe_video_after + self.probe_backoff;
            let waited = now.saturating_sub(since);
            let fits = ceiling >= 1 || self.estimate.is_none();
            let challenge = matches!(inp.need, Need::Face | Need::Liveness | Need::LivenessSpeech);
            let due = (fits && waited >= self.cfg.probe_video_after)
                || (challenge && waited >= self.cfg.probe_video_after / 3)
                || waited >= wait * 4;
            if loss < 0.10 && due {
                self.cur = 1;
                self.calm_since = Some(now);
                self.probe_backoff =
                    (self.probe_backoff * 2).max(Duration::from_secs(15)).min(Duration::from_secs(120));
                out.extend(self.emit("probe: back to 120p video".into()));
                out.extend(self.keyframe(now, "video resumed"));
            } else if need_changed {
                out.extend(self.emit(format!("audio only; need {:?}", inp.need)));
            }
            return out;
        }

        if congested && self.bad_ticks >= self.cfg.bad_ticks_to_step_down {
            // Over the estimate: straight to the ceiling. Loss, freezes or delay with room under the estimate: one
            // rung, but not below what the need's check can use — random loss is repaired by NACK and FEC, and
            // fewer frames would not help the check.
            let floor = if ceiling < self.cur {
                self.challenge_floor(inp.need).max(1)
            } else {
                inp.need.profile().min_useful.min(cap).max(1)
            };
            let to = ceiling.min(self.cur.saturating_sub(1)).max(floor);
            if to < self.cur {
                let why = if ceiling < self.cur {
                    format!("estimate {} below {}", kbps(self.estimate), LADDER[self.cur].name)
                } else if loss >= 0.10 {
                    format!("loss {:.0} %", loss * 100.0)
                } else if inp.freezes > 0 {
                    "freezes".to_owned()
                } else {
                    "congestion".to_owned()
                };
                self.step_down(now, to);
                out.extend(self.emit(why));
                return out;
            }
        }

        // The need dropped below the current rung: save data at once.
        if self.cur > target {
            self.cur = target.max(if LADDER[self.cur].video { 1 } else { 0 });
            out.extend(self.emit(format!("need {:?}: {} is enough", inp.need, LADDER[self.cur].name)));
            return out;
        }
        if need_changed && self.cur < target && (!congested || self.cur < inp.need.profile().min_useful) {
            // Under loss or delay (the estimate allows it), at least what the check can use.
            let aim = if congested { inp.need.profile().min_useful } else { target };
            let to = aim.min(ceiling.max(self.cur)).max(self.challenge_floor(inp.need));
            if to > self.cur {
                self.cur = to;
                self.calm_since = Some(now);
                out.extend(self.emit(format!("need {:?}: up to {}", inp.need, LADDER[to].name)));
                if matches!(inp.need, Need::Liveness | Need::LivenessSpeech) {
                    out.extend(self.keyframe(now, "challenge starts"));
                }
                return out;
            }
        }
        if need_changed {
            // Same rung, but the frame rate follows the need.
            out.extend(self.emit(format!("need {:?}", inp.need)));
        }

        // Step up one rung after a calm spell (longer after a recent step down).
        let calm_for = self.calm_since.map(|s| now.saturating_sub(s)).unwrap_or_default();
        let held = self.last_down.is_some_and(|d| now.saturating_sub(d) < self.hold);
        if self.cur < target && calm_for >= self.cfg.calm_to_step_up && !held && ceiling > self.cur {
            self.cur += 1;
            self.calm_since = Some(now);
            out.extend(self.emit(format!("calm {:.0} s, estimate {}", calm_for.as_secs_f64(), kbps(self.estimate))));
        }
        out.extend(self.hints(now, inp, calm));
        out
    }

    /// The rung a challenge keeps whatever the uplink estimate says, as long as the link carries video at all: the
    /// browser's encoder targets the lower of our cap and its own estimate, so a cap above the estimate costs no
    /// extra packets — it fixes the resolution and frame rate the face mesh needs (240p at 15 fps) and the encoder
    /// spends fewer bits per frame. A challenge lasts seconds. Outside challenges: 0 (no floor).
    fn challenge_floor(&self, need: Need) -> usize {
        if need.challenge() && self.video_fits { need.profile().min_useful.min(self.cap(need)) } else { 0 }
    }

    fn step_down(&mut self, now: Duration, to: usize) {
        // A step down soon after a step up means the probe failed: wait longer next time.
        if self.last_down.is_some_and(|d| now.saturating_sub(d) < self.hold * 2) {
            self.hold = (self.hold * 2).min(Duration::from_secs(60));
        } else {
            self.hold = self.cfg.hold_after_down;
        }
        self.cur = to;
        self.last_down = Some(now);
        self.bad_ticks = 0;
    }

    /// Highest rung the device and the need allow.
    fn cap(&self, need: Need) -> usize {
        let (normal, burst) = self.device.caps();
        let mut cap = if matches!(need, Need::Liveness | Need::LivenessSpeech) { burst } else { normal };
        if let Some(c) = self.cpu_cap {
            cap = cap.min(c);
        }
        cap
    }

    fn track_cpu(&mut self, now: Duration, inp: &Inputs) {
        if inp.limitation.as_deref() == Some("cpu") {
            let since = *self.cpu_limited_since.get_or_insert(now);
            if now.saturating_sub(since) >= Duration::from_secs(3) && self.cur > 1 {
                // The phone cannot encode this: remember a lower ceiling for the rest of the call.
                self.cpu_cap = Some(self.cur - 1);
                self.cpu_limited_since = None;
            }
        } else {
            self.cpu_limited_since = None;
        }
    }

    /// Highest rung that fits the uplink estimate.
    fn ceiling(&mut self, inp: &Inputs) -> usize {
        let loss = inp.loss.unwrap_or(0.0).clamp(0.0, 1.0);
        let est = match (inp.available_bps, inp.recv_bps) {
            (Some(a), _) if a.is_finite() && a > 0.0 => Some(a),
            // Without the browser's estimate, what arrives under loss is an upper bound of what the link carries.
            (None, Some(r)) if r.is_finite() && loss >= 0.05 => Some(r),
            _ => None,
        };
        if let Some(e) = est {
            self.estimate = Some(e);
        }
        let Some(mut e) = self.estimate else {
            self.video_fits = true;
            return TOP;
        };
        if !LADDER[self.cur].video
            && let Some(p) = self.estimate_at_pause
        {
            // While video is paused the browser's estimate decays with the little that is sent.
            e = e.max(p);
        }
        // A challenge may use the whole estimate for its few seconds; otherwise keep head-room.
        let util = if matches!(inp.need, Need::Liveness | Need::LivenessSpeech) { 1.0 } else { self.cfg.utilisation };
        let usable_kbps = e / 1000.0 * util * (1.0 - loss).max(0.3);
        // Pausing video is decided without the head-room: the browser's encoder works under the bottom rung's
        // cap, and a call that keeps some video keeps its checks (seen at 150 kb/s with 10 % loss: an estimate of
        // 91 kb/s, ceiling audio-only with the head-room, paused video through two challenges).
        self.video_fits = e / 1000.0 * (1.0 - loss).max(0.3) >= f64::from(VIDEO_FLOOR_KBPS);
        (0..LADDER.len()).rev().find(|&i| LADDER[i].total_kbps() as f64 <= usable_kbps).unwrap_or(AUDIO_ONLY)
    }

    fn keyframe(&mut self, now: Duration, why: &str) -> Option<Action> {
        if self.last_keyframe.is_some_and(|t| now.saturating_sub(t) < Duration::from_secs(2)) {
            return None;
        }
        self.last_keyframe = Some(now);
        Some(Action::KeyFrame { reason: why.into() })
    }

    fn hints(&mut self, now: Duration, inp: &Inputs, calm: bool) -> Option<Action> {
        // Only when the picture is limited by the scene, not by the network.
        let want = if !calm || !LADDER[self.cur].video || self.cur < 2 {
            None
        } else if inp.face_frac.is_some_and(|f| f < 0.16) {
            Some(HintKind::MoveCloser)
        } else if inp.face_luma.is_some_and(|l| l < 55.0) {
            Some(HintKind::MoreLight)
        } else if inp.face_motion.is_some_and(|m| m > 0.12) && !matches!(inp.need, Need::Liveness | Need::Scene) {
            Some(HintKind::HoldStill)
        } else {
            None
        };
        let Some(kind) = want else {
            self.hint_pending = None;
            return None;
        };
        let since = match self.hint_pending {
            Some((k, s)) if k == kind => s,
            _ => {
                self.hint_pending = Some((kind, now));
                now
            }
        };
        let persisted = now.saturating_sub(since) >= Duration::from_secs(3);
        let quiet = self.last_hint.is_none_or(|t| now.saturating_sub(t) >= self.cfg.hint_every);
        if persisted && quiet {
            self.last_hint = Some(now);
            self.hint_pending = None;
            return Some(Action::Hint { hint: kind });
        }
        None
    }

    fn setting(&self) -> Setting {
        let r = &LADDER[self.cur];
        let p = self.need.profile();
        let audio_kbps = if self.need.speech() { r.audio_kbps.max(20) } else { r.audio_kbps };
        let fps = if r.video { r.fps.min(p.max_fps).max(5.0) } else { 0.0 };
        // Fewer frames need fewer bits (not proportionally: each frame then carries more change).
        let video_kbps = if r.video { r.video_kbps as f64 * (fps / r.fps).min(1.0).powf(0.6) } else { 0.0 };
        Setting {
            rung: r.name,
            video: r.video,
            max_bitrate_bps: (video_kbps.round() as u64) * 1000,
            scale_resolution_down_by: scale_for(self.capture_height, r),
            max_framerate: fps,
            degradation: DEGRADATION,
            audio_bitrate_bps: audio_kbps as u64 * 1000,
            snapshot_every_ms: (!r.video).then_some(2000),
        }
    }

    /// An action if the setting differs from what was last sent.
    fn emit(&mut self, reason: String) -> Option<Action> {
        let s = self.setting();
        if self.sent.as_ref() == Some(&s) {
            return None;
        }
        self.sent = Some(s.clone());
        Some(Action::Set { setting: s, reason })
    }
}

fn kbps(x: Option<f64>) -> String {
    match x {
        Some(b) => format!("{:.0} kb/s", b / 1000.0),
        None => "unknown".into(),
    }
}
