//! One actor per live session: owns the analysis workers, the current WebRTC peer, the interview script, the
//! event log and the recording; everything else talks to it by message ([`SessionMsg`]). GStreamer callbacks only
//! `try_send` owned [`SessionMsg::Peer`] messages (drops are counted); no session state is shared behind a lock.
//!
//! Life: spawned when the applicant consents (models load while the page asks for the camera); an offer creates a
//! peer (a re-join after a network drop creates the next peer and recording part on the same media clock); the
//! call ends on hang-up, the script's end, the call-length limit, a network drop outlasting the grace period, or
//! server shutdown. Ending finalises the recording, runs the checks and fusion over everything observed, writes
//! the session folder (`docs/live-protocol.md`) and the store, and posts the webhook.
//!
//! May use every library module, tokio and the wall clock (for the event log and timers only — analysis runs on
//! media time).

pub mod control;
pub mod log;
pub mod script;

use crate::adapt::{self, Controller, DeviceClass, QualityMeter};
use crate::analyzer::{AnalysisOptions, Analyzer, Feed, LiveSignals, MediaTick};
use crate::checks::{ChecksConfig, Evidence, EvidenceState};
use crate::fusion::{Policy, Verdict};
use crate::infer::Runtime;
use crate::interview::Interview;
use crate::location::PoiIndex;
use crate::media::peer::{Peer, PeerConfig, PeerEvent, inspect_offer};
use crate::replay::session_dir::{self, RecordedConfig, RecordedPart, RecordingManifest};
use crate::store::{EvidenceRow, SessionState, Store};
use crate::types::{MediaDuration, MediaTime};
use control::{AdaptMsg, AudioSettings, ClientMsg, SenderStats, ServerMsg, SnapshotSettings, VideoSettings};
use log::EventLog;
use script::{Schedule, ScriptAction, ScriptSpec};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Limits and timers of a live session.
#[derive(Clone, Debug)]
pub struct SessionLimits {
    /// Longest call (media time), then the session ends with `time_limit`.
    pub max_call: Duration,
    /// How long a dropped connection may take to come back.
    pub grace: Duration,
    /// How long after consent the first offer may take.
    pub join_timeout: Duration,
    /// Start bitrate cap written into the answer (`b=AS`).
    pub start_bitrate_kbps: Option<u32>,
    /// Add 127.0.0.1 to the ICE candidates (loopback-only hosts and tests).
    pub loopback: bool,
    /// Run the adaptation controller (`adapt`). Off: plain negotiation — no actions and no `b=AS` start cap
    /// (the benchmark's baseline).
    pub adapt: bool,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_call: Duration::from_secs(15 * 60),
            grace: Duration::from_secs(30),
            join_timeout: Duration::from_secs(180),
            start_bitrate_kbps: Some(600),
            loopback: false,
            adapt: true,
        }
    }
}

/// What every session of a server shares (read-only).
pub struct Shared {
    pub rt: Runtime,
    pub store: Store,
    pub policy: Arc<Policy>,
    pub policy_toml: String,
    pub pois: Option<Arc<PoiIndex>>,
    pub pois_path: Option<PathBuf>,
    pub checks: ChecksConfig,
    pub analysis: AnalysisOptions,
    pub limits: SessionLimits,
    pub manifest_path: PathBuf,
    /// Where the verdict is POSTed, if configured.
    pub webhook: Option<String>,
    pub http: reqwest::Client,
}

/// Everything a session starts with (from the creation request, resolved).
pub struct SessionParams {
    pub id: String,
    pub dir: PathBuf,
    /// Declared business, reference photo (relative to `dir`), enrolled and blocked voices.
    pub interview: Interview,
    pub script: ScriptSpec,
    /// One drawn digit string per `read_digits` challenge.
    pub digits: Vec<String>,
}

/// Why a call ended (the store's `end_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    HangUp,
    ScriptDone,
    TimeLimit,
    Network,
    NoMedia,
    Shutdown,
    Error,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::HangUp => "hangup",
            EndReason::ScriptDone => "completed",
            EndReason::TimeLimit => "time_limit",
            EndReason::Network => "network",
            EndReason::NoMedia => "no_media",
            EndReason::Shutdown => "shutdown",
            EndReason::Error => "error",
        }
    }
}

/// Why an offer was refused (mapped to HTTP statuses by the server).
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("{0}")]
    Invalid(#[from] crate::media::peer::PeerError),
    #[error("the session has ended")]
    Ended,
    #[error("the session is not ready: {0}")]
    NotReady(String),
}

pub struct Answer {
    pub peer: u32,
    pub sdp: String,
}

pub enum SessionMsg {
    Offer {
        sdp: String,
        reply: oneshot::Sender<Result<Answer, OfferError>>,
    },
    HangUp {
        peer: Option<u32>,
    },
    Client(ClientMsg),
    /// The page's control channel (re)connected: messages for the page go here from now on.
    Attach(mpsc::Sender<ServerMsg>),
    Peer {
        peer: u32,
        event: PeerEvent,
    },
    /// Finalise now (server shutdown); the reply is sent when the verdict is stored.
    Shutdown(oneshot::Sender<()>),
}

/// The address of a running session actor.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: String,
    pub tx: mpsc::Sender<SessionMsg>,
    /// Peer messages the GStreamer side could not queue (actor too busy).
    pub dropped: Arc<AtomicU64>,
}

impl SessionHandle {
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// Starts a session actor. `on_exit` runs when the actor has finished (the server forgets the session).
pub fn spawn(params: SessionParams, shared: Arc<Shared>, on_exit: impl FnOnce(&str) + Send + 'static) -> SessionHandle {
    let (tx, rx) = mpsc::channel(256);
    let handle = SessionHandle { id: params.id.clone(), tx: tx.clone(), dropped: Arc::new(AtomicU64::new(0)) };
    let h = handle.clone();
    tokio::spawn(async move {
        let id = params.id.clone();
        let actor = Actor::new(params, shared, h).await;
        actor.run(rx).await;
        on_exit(&id);
    });
    handle
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

struct CurrentPeer {
    no: u32,
    peer: Peer,
    part: RecordedPart,
}

struct Actor {
    p: SessionParams,
    shared: Arc<Shared>,
    me: SessionHandle,
    log: EventLog,
    analyzer: Option<Analyzer>,
    signals: Arc<LiveSignals>,
    load_error: Option<String>,
    page: Option<mpsc::Sender<ServerMsg>>,
    peer: Option<CurrentPeer>,
    parts: Vec<RecordedPart>,
    next_peer: u32,
    schedule: Schedule,
    live_since: Option<Instant>,
    consented_at: Instant,
    lost_since: Option<Instant>,
    offered_video: bool,
    offered_audio: bool,
    /// Last thing shown on the page (re-sent when the control channel reconnects).
    showing: Option<ServerMsg>,
    done_at: Option<Instant>,
    last_progress: Instant,
    /// The media clock's last value and when it last moved (a connection that stays up but sends nothing is lost).
    last_media: (MediaTime, Instant),
    last_stats: Instant,
    /// Bitrate adaptation (None when switched off) and the call's quality meter.
    adapt: Option<Controller>,
    meter: QualityMeter,
    ticks: Option<crossbeam_channel::Receiver<MediaTick>>,
    adapt_seq: u64,
    last_adapt_msg: Option<AdaptMsg>,
    last_adapt_tick: Instant,
    /// The call clock of the controller and the meter (the actor's start).
    started: Instant,
    offer_at: Option<Instant>,
    /// Receiver statistics of the current peer at the last controller tick (for deltas), and payload bytes
    /// received by earlier peers.
    prev_stats: Option<(Instant, crate::media::stats::PeerStats)>,
    last_peer_stats: Option<crate::media::stats::PeerStats>,
    bytes_earlier_peers: u64,
    sender_stats: Option<(Instant, SenderStats)>,
    phone_bytes_sent: u64,
    snapshots: u32,
    last_snapshot: Option<Instant>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    /// `(media ns, received bits per second)` at each controller step, for the console's quality timeline.
    bitrate: Vec<(u64, f64)>,
}

/// How often the receiver's WebRTC stats go into the event log.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// How often the adaptation controller runs.
const ADAPT_EVERY: Duration = Duration::from_secs(1);

/// Bitrate samples kept for the timelines (one a second: 4 h).
const MAX_BITRATE_SAMPLES: usize = 4 * 3600;

/// Snapshots kept per session (audio-only mode sends one every 2 s: ~1 h).
const MAX_SNAPSHOTS: u32 = 1800;

/// Where the controller's inputs are written, one line a tick (see `adapt::trace`).
pub const ADAPT_TRACE_FILE: &str = "adapt-trace.jsonl";

/// A live connection whose media clock has not moved for this long counts as lost (the grace period starts).
const MEDIA_STALL: Duration = Duration::from_secs(6);

impl Actor {
    async fn new(p: SessionParams, shared: Arc<Shared>, me: SessionHandle) -> Actor {
        let log = EventLog::open(&p.dir, &p.id, shared.store.clone());
        // Models load on a blocking thread while the page asks for the camera.
        let rt = shared.rt.clone();
        let opts = AnalysisOptions { require_models: false, ..shared.analysis.clone() };
        let spawned = tokio::task::spawn_blocking(move || Analyzer::spawn(&rt, &opts, Feed::DropNewest)).await;
        let (analyzer, load_error) = match spawned {
            Ok(Ok(a)) => (Some(a), None),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(e) => (None, Some(format!("model loading stopped: {e}"))),
        };
        let signals = analyzer.as_ref().map(|a| a.signals()).unwrap_or_default();
        let ticks = analyzer.as_ref().map(|a| a.ticks());
        // The reference photo's face, resolved like replay does (same code path, same embedding).
        let mut p = p;
        let mut reference_error = None;
        if let Some(photo) = p.interview.reference_photo.clone() {
            let rt = shared.rt.clone();
            let path = p.dir.join(photo);
            match tokio::task::spawn_blocking(move || crate::replay::reference_face(&rt, &path)).await {
                Ok(Ok(face)) => p.interview.reference_face = Some(face),
                Ok(Err(e)) => reference_error = Some(e.to_string()),
                Err(e) => reference_error = Some(e.to_string()),
            }
        }
        let schedule = Schedule::new(p.script.clone(), p.digits.clone());
        let mut a = Actor {
            p,
            shared,
            me,
            log,
            analyzer,
            signals,
            load_error,
            page: None,
            peer: None,
            parts: Vec::new(),
            next_peer: 1,
            schedule,
            live_since: None,
            consented_at: Instant::now(),
            lost_since: None,
            offered_video: false,
            offered_audio: false,
            showing: None,
            done_at: None,
            last_progress: Instant::now(),
            last_media: (MediaTime(0), Instant::now()),
            last_stats: Instant::now(),
            adapt: None,
            meter: QualityMeter::new(),
            ticks,
            adapt_seq: 0,
            last_adapt_msg: None,
            last_adapt_tick: Instant::now(),
            started: Instant::now(),
            offer_at: None,
            prev_stats: None,
            last_peer_stats: None,
            bytes_earlier_peers: 0,
            sender_stats: None,
            phone_bytes_sent: 0,
            snapshots: 0,
            last_snapshot: None,
            trace: None,
            bitrate: Vec::new(),
        };
        if a.shared.limits.adapt {
            a.adapt = Some(Controller::new(DeviceClass::High, adapt::Config::default()));
            match std::fs::File::create(a.p.dir.join(ADAPT_TRACE_FILE)) {
                Ok(f) => a.trace = Some(std::io::BufWriter::new(f)),
                Err(e) => a.log.write(None, "write_error", json!({"error": format!("{ADAPT_TRACE_FILE}: {e}")})).await,
            }
        }
        let models: Vec<_> = a.analyzer.as_ref().map(|x| x.models().to_vec()).unwrap_or_default();
        a.log.write(None, "models", json!({"models": models, "error": a.load_error})).await;
        if let Some(e) = reference_error {
            a.log.write(None, "reference_photo_error", json!({"error": e})).await;
        }
        if let Some(e) = &a.load_error {
            tracing_warn(&format!("session {}: analysis unavailable: {e}", a.p.id));
        }
        a
    }

    fn media_now(&self) -> MediaTime {
        MediaTime(self.signals.last_media_ns.load(Ordering::Relaxed))
    }

    fn media_ns(&self) -> Option<i64> {
        self.live_since.map(|_| self.media_now().0 as i64)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<SessionMsg>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (reason, shutdown_reply) = loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => break (EndReason::Shutdown, None),
                    Some(SessionMsg::Shutdown(reply)) => break (EndReason::Shutdown, Some(reply)),
                    Some(msg) => if let Some(r) = self.handle(msg).await { break (r, None) },
                },
                _ = tick.tick() => if let Some(r) = self.on_tick().await { break (r, None) },
            }
        };
        // Refuse anything else from now on (offers get "ended"), then finalise.
        rx.close();
        self.finish(reason).await;
        while let Ok(msg) = rx.try_recv() {
            match msg {
                SessionMsg::Offer { reply, .. } => {
                    let _ = reply.send(Err(OfferError::Ended));
                }
                SessionMsg::Shutdown(reply) => {
                    let _ = reply.send(());
                }
                _ => {}
            }
        }
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    async fn send_page(&mut self, msg: ServerMsg) {
        if matches!(msg, ServerMsg::Prompt { .. } | ServerMsg::Challenge { .. }) {
            self.showing = Some(msg.clone());
        }
        if let Some(page) = &self.page
            && page.try_send(msg).is_err()
        {
            // The page is gone or not reading; it gets the current prompt again when it reconnects.
            self.page = None;
        }
    }

    async fn handle(&mut self, msg: SessionMsg) -> Option<EndReason> {
        match msg {
            SessionMsg::Offer { sdp, reply } => {
                let r = self.offer(sdp).await;
                let _ = reply.send(r);
                None
            }
            SessionMsg::HangUp { peer } => {
                if peer.is_some() && peer != self.peer.as_ref().map(|p| p.no) {
                    return None; // an old connection's teardown
                }
                self.log.write(self.media_ns(), "hangup", json!({"peer": peer})).await;
                Some(EndReason::HangUp)
            }
            SessionMsg::Client(m) => self.client(m).await,
            SessionMsg::Attach(page) => {
                self.page = Some(page);
                self.log.write(self.media_ns(), "control_connected", json!({})).await;
                let state = if self.live_since.is_some() { "live" } else { "waiting" };
                self.send_page(ServerMsg::State { state: state.into(), message: String::new() }).await;
                if let Some(m) = self.showing.clone() {
                    self.send_page(m).await;
                }
                if let Some(m) = self.last_adapt_msg.clone() {
                    self.send_page(ServerMsg::Adapt(m)).await;
                }
                None
            }
            SessionMsg::Peer { peer, event } => self.peer_event(peer, event).await,
            SessionMsg::Shutdown(_) => Some(EndReason::Shutdown),
        }
    }

    async fn offer(&mut self, sdp: String) -> Result<Answer, OfferError> {
        let summary = inspect_offer(&sdp)?;
        let Some(media_tx) = self.analyzer.as_ref().map(|a| a.sender()) else {
            // Without the workers there is nothing to analyse; the call is refused rather than silently recorded
            // without evidence.
            return Err(OfferError::NotReady(self.load_error.clone().unwrap_or_else(|| "analysis unavailable".into())));
        };
        // A re-offer from the same device replaces the current connection (the phone lost it first).
        if let Some(old) = self.peer.take() {
            self.log.write(self.media_ns(), "peer_replaced", json!({"peer": old.no})).await;
            self.close_peer(old).await;
        }
        let no = self.next_peer;
        self.next_peer += 1;
        let file = format!("media-{no}.mkv");
        let offset =
            if self.parts.is_empty() { MediaDuration(0) } else { MediaDuration(self.media_now().0 + PART_GAP_NS) };
        let frame_offset = self.signals.frames_analysed.load(Ordering::Relaxed)
            + self.signals.video_dropped.load(Ordering::Relaxed)
            + self.parts.len() as u64 * 1_000_000;
        let cfg = PeerConfig {
            record_path: Some(self.p.dir.join(&file)),
            time_offset: offset,
            frame_offset,
            max_bitrate_kbps: self.shared.limits.start_bitrate_kbps.filter(|_| self.shared.limits.adapt),
            loopback: self.shared.limits.loopback,
            ..PeerConfig::default()
        };
        let tx = self.me.tx.clone();
        let dropped = self.me.dropped.clone();
        let events: Arc<dyn Fn(PeerEvent) + Send + Sync> = Arc::new(move |event| {
            if tx.try_send(SessionMsg::Peer { peer: no, event }).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
        let answered = tokio::task::spawn_blocking(move || Peer::answer(&sdp, cfg, media_tx, events))
            .await
            .map_err(|e| OfferError::NotReady(format!("peer set-up stopped: {e}")))?;
        let (peer, answer) = answered?;
        self.offered_video |= summary.has_video;
        self.offered_audio |= summary.has_audio;
        let part = RecordedPart {
            file,
            offset_ns: offset.0,
            frame_offset,
            video_codec: summary.video_codec.clone(),
            audio_codec: summary.audio_codec.clone(),
            end_ns: None,
        };
        self.log
            .write(
                self.media_ns(),
                "peer_created",
                json!({"peer": no, "part": part.file, "offset_ns": offset.0, "video_codec": summary.video_codec,
                    "audio_codec": summary.audio_codec, "twcc": summary.twcc}),
            )
            .await;
        self.peer = Some(CurrentPeer { no, peer, part });
        self.lost_since = None;
        self.offer_at = Some(Instant::now());
        self.prev_stats = None;
        let need = self.schedule.need(self.media_now());
        if self.live_since.is_none()
            && let Some(c) = self.adapt.as_mut()
        {
            let actions = c.initial(self.started.elapsed(), need);
            self.apply_adapt(actions).await;
        }
        Ok(Answer { peer: no, sdp: answer })
    }

    async fn close_peer(&mut self, cur: CurrentPeer) {
        let CurrentPeer { no, peer, mut part } = cur;
        // The last receiver stats of this connection count toward the data used.
        let last =
            tokio::task::block_in_place(|| peer.stats(Duration::from_millis(300))).or(self.last_peer_stats.take());
        self.bytes_earlier_peers += last.as_ref().map(payload_bytes).unwrap_or(0);
        self.last_peer_stats = None;
        let stopped = tokio::task::spawn_blocking(move || peer.stop()).await;
        match stopped {
            Ok(Ok(info)) => {
                part.end_ns = info.last_pts.map(|t| t.0);
                if part.video_codec.is_none() {
                    part.video_codec = info.video_codec.clone();
                }
                self.log.write(self.media_ns(), "peer_closed", json!({"peer": no, "recording": info})).await;
            }
            Ok(Err(e)) => {
                self.log.write(self.media_ns(), "peer_close_error", json!({"peer": no, "error": e.to_string()})).await;
            }
            Err(e) => {
                self.log.write(self.media_ns(), "peer_close_error", json!({"peer": no, "error": e.to_string()})).await;
            }
        }
        self.parts.push(part);
    }

    async fn peer_event(&mut self, no: u32, event: PeerEvent) -> Option<EndReason> {
        if self.peer.as_ref().map(|p| p.no) != Some(no) {
            return None; // from a connection already replaced
        }
        let media_ns = self.media_ns();
        match &event {
            PeerEvent::FirstMedia { .. } | PeerEvent::Connected => {
                if matches!(event, PeerEvent::FirstMedia { video: true })
                    && let Some(at) = self.offer_at.take()
                {
                    self.meter.first_frame(at.elapsed());
                }
                if self.live_since.is_none() && matches!(event, PeerEvent::FirstMedia { .. }) {
                    self.live_since = Some(Instant::now());
                    let _ = self.shared.store.set_state(&self.p.id, SessionState::Live, now_ms(), None).await;
                    self.send_page(ServerMsg::State { state: "live".into(), message: String::new() }).await;
                }
                self.lost_since = None;
            }
            // A branch error (one track's recording or decoding stopped) leaves the call up: it is logged, and a
            // stalled media clock is caught by the stall check. Anything else means the transport is gone.
            PeerEvent::Error(e) if e.starts_with("recording ") || e.contains("decoding stopped") => {}
            PeerEvent::Disconnected | PeerEvent::Failed(_) | PeerEvent::Eos | PeerEvent::Error(_) => {
                self.lost_since.get_or_insert_with(Instant::now);
            }
            PeerEvent::IceState(_) => {}
        }
        self.log.write(media_ns, "peer_event", json!({"peer": no, "event": format!("{event:?}")})).await;
        None
    }

    async fn client(&mut self, m: ClientMsg) -> Option<EndReason> {
        let media_ns = self.media_ns();
        match m {
            ClientMsg::Hello { device } => {
                let class = DeviceClass::classify(
                    device.hardware_concurrency,
                    device.device_memory,
                    device.user_agent.as_deref(),
                );
                if let Some(c) = self.adapt.as_mut() {
                    c.set_device(class);
                }
                if let Some(t) = self.trace.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(t, "{}", adapt::trace::Trace::header_line(class));
                }
                self.log.write(media_ns, "device", json!({"device": device, "class": class})).await;
            }
            ClientMsg::SenderStats(s) => {
                if let Some(b) = s.bytes_sent {
                    self.phone_bytes_sent = self.phone_bytes_sent.max(b);
                }
                self.sender_stats = Some((Instant::now(), s));
            }
            ClientMsg::AdaptApplied { seq, video, audio, error } => {
                self.log
                    .write(
                        media_ns,
                        "adapt_applied",
                        json!({"seq": seq, "video": video, "audio": audio, "error": error}),
                    )
                    .await;
            }
            ClientMsg::Snapshot { seq, width, height, jpeg_b64 } => {
                self.snapshot(seq, width, height, &jpeg_b64).await;
            }
            ClientMsg::Location { lat, lon, accuracy_m, source, coord_system } => {
                match control::location_report(lat, lon, accuracy_m, source, coord_system, self.media_now()) {
                    Ok(r) => {
                        // Personal data: the event log keeps it (access-controlled), the process log never.
                        self.log.write(media_ns, "location", json!(r)).await;
                        self.p.interview.locations.push(r);
                    }
                    Err(e) => {
                        self.log.write(media_ns, "location_invalid", json!({"error": e.to_string()})).await;
                        self.send_page(ServerMsg::Error { code: "bad_location".into(), message: e.to_string() }).await;
                    }
                }
            }
            ClientMsg::LocationUnavailable { reason } => {
                let reason: String = reason.chars().take(64).collect();
                self.log.write(media_ns, "location_unavailable", json!({"reason": reason})).await;
            }
            ClientMsg::ChallengeShown { id } => {
                let id: String = id.chars().take(32).collect();
                self.log.write(media_ns, "challenge_shown", json!({"id": id})).await;
            }
            ClientMsg::Hangup => {
                self.log.write(media_ns, "hangup", json!({"via": "control"})).await;
                return Some(EndReason::HangUp);
            }
        }
        None
    }

    async fn on_tick(&mut self) -> Option<EndReason> {
        let shared = self.shared.clone();
        let limits = &shared.limits;
        if self.live_since.is_none() {
            if self.consented_at.elapsed() > limits.join_timeout {
                return Some(EndReason::NoMedia);
            }
            return None;
        }
        if let Some(since) = self.lost_since
            && since.elapsed() > limits.grace
        {
            self.log.write(self.media_ns(), "grace_expired", json!({"grace_s": limits.grace.as_secs()})).await;
            return Some(EndReason::Network);
        }
        let now = self.media_now();
        if now != self.last_media.0 {
            self.last_media = (now, Instant::now());
            self.lost_since = None;
        } else if self.lost_since.is_none() && self.peer.is_some() && self.last_media.1.elapsed() > MEDIA_STALL {
            self.log.write(Some(now.0 as i64), "media_stalled", json!({"stalled_s": MEDIA_STALL.as_secs()})).await;
            self.lost_since = Some(Instant::now());
            self.send_page(ServerMsg::State { state: "reconnecting".into(), message: "No media is arriving.".into() })
                .await;
        }
        if now.0 > limits.max_call.as_nanos() as u64 {
            return Some(EndReason::TimeLimit);
        }
        if let Some(at) = self.done_at {
            // The page hangs up when told the interview is done; end anyway if it does not.
            return (at.elapsed() > Duration::from_secs(5)).then_some(EndReason::ScriptDone);
        }
        let face_ns = self.signals.last_face_ns.load(Ordering::Relaxed);
        let face_visible = face_ns > 0 && now.0.saturating_sub(face_ns) < 1_500_000_000;
        for action in self.schedule.poll(now, face_visible) {
            match action {
                ScriptAction::Ask { question, index, total } => {
                    self.log.write(Some(question.asked_at.0 as i64), "question", json!(question)).await;
                    let msg = ServerMsg::Prompt { id: question.id, text: question.text, index, total };
                    self.send_page(msg).await;
                }
                ScriptAction::Challenge { challenge, text } => {
                    self.log.write(Some(challenge.issued_at.0 as i64), "challenge", json!(challenge)).await;
                    let (kind, digits) = match &challenge.kind {
                        crate::interview::ChallengeKind::ReadDigits { digits } => {
                            ("read_digits".to_owned(), Some(digits.clone()))
                        }
                        k => (
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v["kind"].as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            None,
                        ),
                    };
                    let msg = ServerMsg::Challenge {
                        id: challenge.id,
                        kind,
                        digits,
                        text,
                        deadline_ms: challenge.deadline_ms,
                    };
                    self.send_page(msg).await;
                }
                ScriptAction::Done => {
                    self.done_at = Some(Instant::now());
                    self.log.write(Some(now.0 as i64), "script_done", json!({})).await;
                    let message = "Thank you, the interview is complete.".to_owned();
                    self.send_page(ServerMsg::Done { message }).await;
                }
            }
        }
        self.drain_ticks();
        if self.last_adapt_tick.elapsed() >= ADAPT_EVERY
            && let Some(cur) = self.peer.as_ref()
        {
            self.last_adapt_tick = Instant::now();
            let no = cur.no;
            // get-stats answers within milliseconds; block_in_place keeps the other tasks of this worker moving.
            let stats = tokio::task::block_in_place(|| cur.peer.stats(Duration::from_millis(500)));
            if self.last_stats.elapsed() >= STATS_EVERY
                && let Some(stats) = &stats
            {
                self.last_stats = Instant::now();
                self.log.write(Some(now.0 as i64), "stats", json!({"peer": no, "stats": stats})).await;
            }
            self.adapt_tick(stats).await;
        }
        if self.last_progress.elapsed() >= Duration::from_secs(1) {
            self.last_progress = Instant::now();
            let (elapsed_s, total_s) = self.schedule.progress(now);
            self.send_page(ServerMsg::Progress { elapsed_s, total_s, face_visible }).await;
        }
        None
    }

    /// Ends the call: recording, analysis, verdict, files, store, webhook. Never panics; every failure is logged
    /// and the session ends `failed` with the reason, keeping what was recorded.
    async fn finish(mut self, reason: EndReason) {
        let id = self.p.id.clone();
        let store = self.shared.store.clone();
        let never_live = self.live_since.is_none();
        self.log.write(self.media_ns(), "call_ended", json!({"reason": reason.as_str()})).await;
        let state = if never_live { SessionState::Failed } else { SessionState::Analysing };
        let _ = store.set_state(&id, state, now_ms(), Some(reason.as_str())).await;
        self.send_page(ServerMsg::State { state: "ended".into(), message: ended_message(reason).into() }).await;
        if let Some(cur) = self.peer.take() {
            self.close_peer(cur).await;
        }
        let _ = store.set_recording_dir(&id, &self.p.dir.to_string_lossy()).await;
        if never_live {
            drop(self.analyzer.take());
            self.log.write(None, "no_verdict", json!({"why": "no media was received"})).await;
            return;
        }
        // Questions end where the call ended.
        let end = self.media_now();
        let mut interview = std::mem::take(&mut self.p.interview);
        interview.questions = self.schedule.questions().to_vec();
        if let Some(q) = interview.questions.last_mut()
            && q.until.is_none()
        {
            q.until = Some(end);
        }
        interview.challenges = self.schedule.challenges().to_vec();
        self.drain_ticks();
        let challenges: Vec<(MediaTime, MediaTime)> = interview
            .challenges
            .iter()
            .map(|c| (c.issued_at, MediaTime(c.issued_at.0 + c.deadline_ms * 1_000_000)))
            .collect();
        let meter = std::mem::take(&mut self.meter);
        let mut quality = json!({
            "bytes_received": self.bytes_earlier_peers + self.last_peer_stats.as_ref().map(payload_bytes).unwrap_or(0),
            "phone_bytes_sent": self.phone_bytes_sent,
            "adaptation": self.adapt.is_some(),
            "adapt_actions": self.adapt_seq,
            "snapshots": self.snapshots,
            "frames_analysed": self.signals.frames_analysed.load(Ordering::Relaxed),
            "video_dropped": self.signals.video_dropped.load(Ordering::Relaxed),
            "audio_dropped": self.signals.audio_dropped.load(Ordering::Relaxed),
            "scene_skipped": self.signals.scene_skipped.load(Ordering::Relaxed),
            "peer_events_dropped": self.me.dropped.load(Ordering::Relaxed),
            "parts": self.parts.len(),
            "media_s": end.0 as f64 / 1e9,
        });
        if let Some(t) = self.trace.as_mut() {
            use std::io::Write;
            let _ = t.flush();
        }
        if let Err(e) = self.write_session_files(&interview) {
            self.log.write(None, "write_error", json!({"error": e})).await;
        }

        let analyzer = self.analyzer.take();
        let shared = self.shared.clone();
        let (has_video, has_audio) = (self.offered_video, self.offered_audio);
        let (report_tx, report_rx) = std::sync::mpsc::channel();
        let (timelines_tx, timelines_rx) = std::sync::mpsc::channel();
        let bitrate = std::mem::take(&mut self.bitrate);
        let outcome = tokio::task::spawn_blocking(move || -> Result<(Vec<Evidence>, Verdict), String> {
            let analyzer = analyzer.ok_or("analysis workers were not running")?;
            let analysis = analyzer.finish().map_err(|e| e.to_string())?;
            let faces: Vec<(MediaTime, f64)> =
                analysis.video.faces.iter().filter_map(|f| f.bbox.map(|b| (f.t, b[2] as f64))).collect();
            let report = meter.report(&faces, &challenges, end);
            let (obs, _) = analysis.observations(has_video, has_audio);
            // The reviewer console's timelines, from the observations before the checks read them.
            let timelines = crate::console::timeline::build(&crate::console::timeline::Inputs {
                obs: &obs,
                quality: Some(&report),
                bitrate: &bitrate,
                expression_labels: &crate::infer::models::expression::LABELS,
            });
            let _ = timelines_tx.send(timelines);
            let _ = report_tx.send(report);
            let evidence = crate::checks::evaluate_all(&obs, &interview, shared.pois.as_deref(), &shared.checks);
            let verdict = crate::fusion::decide(&evidence, &shared.policy, &shared.rt.manifest().sha256);
            Ok((evidence, verdict))
        })
        .await
        .map_err(|e| format!("analysis stopped: {e}"))
        .and_then(|r| r);
        if let Ok(report) = report_rx.try_recv() {
            quality["report"] = json!(report);
        }
        if let Ok(timelines) = timelines_rx.try_recv() {
            let file = self.p.dir.join(crate::console::timeline::FILE);
            let written = serde_json::to_vec(&timelines)
                .map_err(|e| e.to_string())
                .and_then(|b| std::fs::write(&file, b).map_err(|e| e.to_string()));
            if let Err(e) = written {
                self.log
                    .write(None, "write_error", json!({"error": format!("{}: {e}", crate::console::timeline::FILE)}))
                    .await;
            }
        }
        let _ = store.set_quality(&id, &quality.to_string()).await;
        self.log.write(Some(end.0 as i64), "quality", quality).await;
        match outcome {
            Ok((evidence, verdict)) => {
                for e in &evidence {
                    self.log.write(None, "evidence", json!(e)).await;
                }
                let verdict_json = verdict.to_json().unwrap_or_default();
                let _ = std::fs::write(self.p.dir.join(session_dir::VERDICT_FILE), &verdict_json);
                self.log.write(None, "verdict", json!(verdict)).await;
                let rows: Vec<EvidenceRow> = evidence.iter().map(evidence_row).collect();
                if let Err(e) = store.put_verdict(&id, verdict.decision.as_str(), &verdict_json, &rows, now_ms()).await
                {
                    self.log.write(None, "store_error", json!({"error": e.to_string()})).await;
                }
                self.post_webhook(&verdict).await;
            }
            Err(e) => {
                self.log.write(None, "analysis_failed", json!({"error": e})).await;
                let _ = store.set_state(&id, SessionState::Failed, now_ms(), Some("analysis_failed")).await;
            }
        }
        self.log.flush();
    }

    /// Moves the media arrival ticks into the quality meter.
    fn drain_ticks(&mut self) {
        let Some(rx) = &self.ticks else { return };
        for t in rx.try_iter() {
            match t {
                MediaTick::Video { arrival, pts, width, height } => {
                    self.meter.video_frame(arrival.saturating_duration_since(self.started), pts, width, height)
                }
                MediaTick::Audio { pts, duration } => self.meter.audio(pts, duration),
            }
        }
    }

    /// One controller step: the receiver's stats (deltas since the last step), the phone's report, the meter's
    /// interval, the scene, and what the script needs now.
    async fn adapt_tick(&mut self, stats: Option<crate::media::stats::PeerStats>) {
        let now = self.started.elapsed();
        let iv = self.meter.interval(now);
        let mut inp = adapt::Inputs {
            frames: iv.frames,
            max_gap_ms: iv.max_gap_ms,
            freezes: iv.freezes,
            audio: iv.audio,
            frame_height: iv.frame_height,
            need: self.schedule.need(self.media_now()),
            ..Default::default()
        };
        if let Some(s) = &stats {
            inp.rtt_s = s.rtt_s;
            inp.jitter_s = s.video.as_ref().map(|v| v.jitter_s);
            if let Some((at, prev)) = &self.prev_stats {
                let dt = at.elapsed().as_secs_f64().max(0.05);
                let d = |f: &dyn Fn(&crate::media::stats::PeerStats) -> u64| f(s).saturating_sub(f(prev));
                inp.recv_bps = Some(d(&payload_bytes) as f64 * 8.0 / dt);
                let rx = d(&|p| p.video.iter().chain(p.audio.iter()).map(|x| x.packets_received).sum());
                let lost = d(&|p| p.video.iter().chain(p.audio.iter()).map(|x| x.packets_lost.max(0) as u64).sum());
                inp.loss = (rx + lost > 0).then(|| lost as f64 / (rx + lost) as f64);
                // The jitterbuffer's own retransmission requests when known (webrtcbin's nack-count often stays 0).
                inp.nacks = d(&|p| {
                    let stats = p.video.as_ref().map(|v| v.nack_count).unwrap_or(0);
                    p.video_repair.as_ref().map(|r| r.rtx_requests).unwrap_or(0).max(stats)
                });
                inp.plis = d(&|p| p.video.as_ref().map(|v| v.pli_count + v.fir_count).unwrap_or(0));
            }
            if let Some(bps) = inp.recv_bps
                && self.bitrate.len() < MAX_BITRATE_SAMPLES
            {
                self.bitrate.push((self.media_now().0, bps));
            }
            self.prev_stats = Some((Instant::now(), s.clone()));
            self.last_peer_stats = Some(s.clone());
        }
        if let Some((at, s)) = &self.sender_stats
            && at.elapsed() < Duration::from_secs(5)
        {
            inp.available_bps = s.available_outgoing_bitrate_bps;
            inp.limitation = s.quality_limitation_reason.clone();
            // The receiver sends no media, hence no sender reports, and rtpsession has no round trip of its own:
            // the phone's (its ICE pair's, through the same path) stands in.
            inp.rtt_s = inp.rtt_s.or(s.rtt_s.filter(|r| r.is_finite() && *r >= 0.0));
        }
        let frac = self.signals.face_frac_milli.load(Ordering::Relaxed);
        if frac > 0 {
            inp.face_frac = Some(frac as f64 / 1000.0);
            let luma = self.signals.face_luma.load(Ordering::Relaxed);
            inp.face_luma = (luma > 0).then_some(luma as f64);
            inp.face_motion = Some(self.signals.face_motion_milli.load(Ordering::Relaxed) as f64 / 1000.0);
        }
        if let Some(t) = self.trace.as_mut() {
            use std::io::Write;
            let line = adapt::trace::TraceLine { t_ms: now.as_millis() as u64, inputs: inp.clone() };
            if let Ok(l) = serde_json::to_string(&line) {
                let _ = writeln!(t, "{l}");
            }
        }
        let Some(c) = self.adapt.as_mut() else { return };
        let actions = c.tick(now, &inp);
        self.apply_adapt(actions).await;
    }

    /// Carries out the controller's actions; every action goes into the event log.
    async fn apply_adapt(&mut self, actions: Vec<adapt::Action>) {
        let media_ns = self.media_ns();
        for a in actions {
            match &a {
                adapt::Action::Set { setting, reason } => {
                    self.adapt_seq += 1;
                    let msg = AdaptMsg {
                        seq: self.adapt_seq,
                        video: VideoSettings {
                            active: setting.video,
                            max_bitrate_bps: setting.max_bitrate_bps,
                            scale_resolution_down_by: setting.scale_resolution_down_by,
                            max_framerate: setting.max_framerate,
                            degradation_preference: setting.degradation.to_owned(),
                        },
                        audio: AudioSettings { max_bitrate_bps: setting.audio_bitrate_bps },
                        snapshots: setting.snapshot_every_ms.map(|ms| SnapshotSettings {
                            interval_ms: ms,
                            width: 160,
                            height: 120,
                            quality: 0.6,
                        }),
                        reason: reason.clone(),
                    };
                    self.last_adapt_msg = Some(msg.clone());
                    self.send_page(ServerMsg::Adapt(msg)).await;
                }
                adapt::Action::KeyFrame { .. } => {
                    if let Some(cur) = &self.peer {
                        cur.peer.request_keyframe();
                    }
                }
                adapt::Action::Hint { hint } => {
                    self.send_page(ServerMsg::Hint { text: hint_text(*hint).into() }).await;
                }
            }
            self.log.write(media_ns, "adapt", json!({"seq": self.adapt_seq, "action": a})).await;
        }
    }

    /// A still frame from the page in audio-only mode: checked, kept in the session folder, counted.
    async fn snapshot(&mut self, seq: u64, width: u32, height: u32, b64: &str) {
        use base64::Engine as _;
        let media_ns = self.media_ns();
        let too_soon = self.last_snapshot.is_some_and(|t| t.elapsed() < Duration::from_millis(400));
        if self.snapshots >= MAX_SNAPSHOTS || too_soon {
            self.log.write(media_ns, "snapshot_refused", json!({"seq": seq, "why": "rate"})).await;
            return;
        }
        let bytes = match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
            Ok(b) if b.starts_with(&[0xFF, 0xD8]) && b.len() <= control::MAX_SNAPSHOT_BYTES => b,
            _ => {
                self.log.write(media_ns, "snapshot_refused", json!({"seq": seq, "why": "not a JPEG"})).await;
                self.send_page(ServerMsg::Error { code: "bad_snapshot".into(), message: "not a JPEG image".into() })
                    .await;
                return;
            }
        };
        let t = self.media_now();
        let dir = self.p.dir.join("snapshots");
        let file = format!("snapshots/{:09}.jpg", t.0 / 1_000_000);
        let written = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(self.p.dir.join(&file), &bytes));
        if let Err(e) = written {
            self.log.write(media_ns, "write_error", json!({"error": format!("{file}: {e}")})).await;
            return;
        }
        self.snapshots += 1;
        self.last_snapshot = Some(Instant::now());
        self.meter.snapshot(t, height);
        self.log
            .write(
                media_ns,
                "snapshot",
                json!({"seq": seq, "file": file, "width": width, "height": height, "bytes": bytes.len()}),
            )
            .await;
    }

    fn write_session_files(&self, interview: &Interview) -> Result<(), String> {
        let dir = &self.p.dir;
        let w = |name: &str, text: String| std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"));
        let manifest = RecordingManifest {
            session_id: self.p.id.clone(),
            parts: self.parts.clone(),
            offered_video: self.offered_video,
            offered_audio: self.offered_audio,
            policy_version: self.shared.policy.version().to_owned(),
            manifest_sha256: self.shared.rt.manifest().sha256.clone(),
        };
        w(session_dir::RECORDING_FILE, serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?)?;
        w(session_dir::SESSION_FILE, serde_json::to_string_pretty(interview).map_err(|e| e.to_string())?)?;
        let config =
            RecordedConfig { policy_toml: self.shared.policy_toml.clone(), pois: self.shared.pois_path.clone() };
        w(session_dir::CONFIG_FILE, serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?)?;
        std::fs::copy(&self.shared.manifest_path, dir.join(session_dir::MANIFEST_COPY))
            .map_err(|e| format!("manifest copy: {e}"))?;
        Ok(())
    }

    async fn post_webhook(&mut self, verdict: &Verdict) {
        let Some(url) = self.shared.webhook.clone() else { return };
        let mut body = serde_json::to_value(verdict).unwrap_or_default();
        body["session_id"] = json!(self.p.id);
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=4 {
            let r = self.shared.http.post(&url).json(&body).timeout(Duration::from_secs(10)).send().await;
            match r {
                Ok(resp) if resp.status().is_success() => {
                    self.log
                        .write(None, "webhook_sent", json!({"attempt": attempt, "status": resp.status().as_u16()}))
                        .await;
                    return;
                }
                Ok(resp) => {
                    self.log
                        .write(None, "webhook_failed", json!({"attempt": attempt, "status": resp.status().as_u16()}))
                        .await;
                }
                Err(e) => {
                    let why = if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connect"
                    } else {
                        "request"
                    };
                    self.log.write(None, "webhook_failed", json!({"attempt": attempt, "error": why})).await;
                }
            }
            if attempt < 4 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

/// Media-clock gap between one connection's last media and the next connection's first.
const PART_GAP_NS: u64 = 40_000_000;

fn ended_message(reason: EndReason) -> &'static str {
    match reason {
        EndReason::HangUp | EndReason::ScriptDone => "The call has ended. Thank you.",
        EndReason::TimeLimit => "The call reached its time limit and has ended.",
        EndReason::Network => "The connection was lost for too long; the call has ended.",
        EndReason::NoMedia => "No video was received; the session has ended.",
        EndReason::Shutdown => "The service is restarting; the call has ended.",
        EndReason::Error => "The call ended because of an error.",
    }
}

/// Payload bytes received on a peer's audio and video streams.
fn payload_bytes(s: &crate::media::stats::PeerStats) -> u64 {
    s.video.iter().chain(s.audio.iter()).map(|x| x.bytes_received).sum()
}

fn hint_text(h: adapt::HintKind) -> &'static str {
    match h {
        adapt::HintKind::MoveCloser => "Please move a little closer to the camera.",
        adapt::HintKind::MoreLight => "Your face is hard to see: please find more light or face a window.",
        adapt::HintKind::HoldStill => "Please hold the phone still.",
    }
}

fn evidence_row(e: &Evidence) -> EvidenceRow {
    let (state, finding, score) = match &e.state {
        EvidenceState::Observed { finding, confidence } => (
            "observed",
            serde_json::to_value(finding).ok().and_then(|v| v.as_str().map(str::to_owned)),
            Some(*confidence as f64),
        ),
        EvidenceState::Missing { .. } => ("missing", None, None),
        EvidenceState::Unavailable { .. } => ("unavailable", None, None),
    };
    EvidenceRow {
        check: crate::fusion::kind_name(e.check).to_owned(),
        signal: e.signal.clone(),
        state: state.to_owned(),
        finding,
        score,
        data_json: serde_json::to_string(e).unwrap_or_default(),
    }
}

fn tracing_warn(msg: &str) {
    eprintln!("warning: {msg}");
}
