//! Live ingest: one `webrtcbin` receiver per WHIP connection (the server side of the call), decoding the phone's
//! audio and video into the same owned [`MediaEvent`]s as the file decoder and recording them, as received, to
//! Matroska.
//!
//! May use `gstreamer*`, `crossbeam-channel`, `types` and the decode branches of [`super::decode`]; it knows nothing
//! of sessions, HTTP or analysis. GStreamer callbacks only `try_send` owned values, call the caller's `events`
//! closure with owned values, or touch atomics: there is no lock shared with the caller.
//!
//! ## Negotiation (see `shared/design/PLATFORM.md`)
//! Non-trickle: [`Peer::answer`] sets the offer, adds one `Recvonly` transceiver per offered audio/video m-line in
//! order (caps from the offer's chosen payload type, renamed `application/x-rtp`, plus the offer's transport-cc
//! `extmap` id and `rtcp-fb` nack / nack pli / ccm fir / transport-cc; `do-nack` on video so RTX is answered),
//! turns retransmission requests on in the video jitterbuffers (webrtcbin 1.22 leaves them off under bundle; see
//! `Repair`), creates the answer, adds `b=AS` on video and makes sure Opus carries `useinbandfec=1`, sets it, waits for ICE
//! gathering and returns the answer with its candidates. One video codec is answered: the first acceptable one in
//! the offer's order (VP8, or H.264 with packetization-mode 1 in a baseline / main / high profile).
//!
//! ## Pipeline
//! Per accepted track: `depay → tee`, then two guarded bins: (a) decode: `queue (leaky, 3 s) → [h264parse] →
//! decoder → queue (leaky: 1 s / 30 decoded frames, room for the burst that follows linking) → decode branch →
//! appsink` (the file decoder's `pipelines/decode_*.txt` fragments) and
//! (b) record: `queue (leaky, 10 s) → [h264parse → avc3] → matroskamux → filesink`. A guarded bin answers OK
//! upstream whatever its branch returns, so a refusing muxer or a broken decoder stops only its own branch (reported
//! once as [`PeerEvent::Error`]) and never the tee, the other branch or the transport. H.264 is recorded as `avc3`
//! (parameter sets in-band) because Matroska refuses a new `codec_data` when the phone changes resolution. Every
//! other webrtcbin pad goes to a `fakesink`. The mux's pads are requested up front from the offer, because
//! Matroska refuses pads once it has started; a recorded track that has not started within `track_start_timeout`
//! of the first media is released from the mux so it cannot hold the other one back.
//!
//! ## Media clock
//! The jitterbuffers run in `buffer-mode=none` (timestamps follow the sender's RTP clock from each stream's first
//! packet, not arrival times, whose jitter made the decoded audio step back by ~30 ms) and rtpbin's RTCP lip-sync
//! does not run (its `handle-sync` handler is pre-empted, see `Repair`; limiting it with `max-ts-offset=1`, as
//! before, still let it reset one stream's offset): a test sender's reports moved the streams by 100-300 ms back
//! and forth. Every jitterbuffer carries the same `ts-offset` (the call's first packet's running time, for the
//! retransmission timers). A jump of the RTP clock by more than 3 s (a paused video track, an outage) makes the
//! jitterbuffer restart its timeline at 0; the packets leaving it are put back on the RTP clock, and its
//! `ts-offset` with them (`super::rtpclock`, `Repair::keep_on_rtp_clock`). Audio/video alignment therefore rests
//! on each stream's first packet; measured in-process, flashes and beeps that start together arrive within 7 ms
//! (the Opus look-ahead), live and in the recording.
//!
//! The peer's origin is the running time of the first depayloaded buffer of any track. A live [`MediaEvent`]'s pts
//! is `running time − origin + time_offset` (saturating at `time_offset`). The recording gets the same timeline by a
//! pad offset of `−origin` on each recording queue's source pad, so the file's first buffer is at 0 and
//! [`super::Decoder`] reads it back at `pts − time_offset` (Matroska stores milliseconds; buffers whose running time
//! is before the origin are clipped by the muxer). A depayloaded buffer that would go back in time is moved
//! forward (both paths see it, counted in `pts_fixups`); live audio chunk pts never go back (audioresample
//! re-syncs on >31 ms drifts; the replay of such a spot can differ by that much).
//!
//! ## Limits
//! With `buffer-mode=none` a sender clock drifting from ours by 100 ppm moves media against the jitterbuffer
//! deadline by 0.1 s per 1000 s: calls much longer than half an hour may start losing packets as late.

use super::decode::{AUDIO_BRANCH, AudioChunk, MediaEvent, VIDEO_BRANCH, VideoFrame};
use super::keyframes::KeyframeGate;
use super::rtpclock::{RtpClock, rtp_header};
use super::stats::{PeerStats, parse_session_source, parse_stats, session_sources};
use crate::analysis::image::RgbFrame;
use crate::types::{FrameIndex, MediaDuration, MediaTime};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_sdp as gst_sdp;
use gstreamer_video as gst_video;
use gstreamer_webrtc as gst_webrtc;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The header extension webrtcbin needs for transport-wide congestion control.
pub const TWCC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

const NONE: u64 = u64::MAX;
/// How long `stop` waits for the recording to be finalised.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How long `Drop` waits (it must not hold a caller up).
const DROP_WAIT: Duration = Duration::from_millis(500);
/// How long a negotiation step (one webrtcbin promise) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the SDP is malformed: {0}")]
    Malformed(String),
    #[error("the offer has no video")]
    NoVideo,
    #[error("no supported {kind} codec offered (offered: {})", if offered.is_empty() { "none".to_owned() } else { offered.join(", ") })]
    UnsupportedCodec { kind: &'static str, offered: Vec<String> },
    #[error("GStreamer is not usable: {0}")]
    Init(String),
    #[error("pipeline set-up failed: {0}")]
    Pipeline(String),
    #[error("WebRTC negotiation failed at {step}: {message}")]
    Negotiation { step: &'static str, message: String },
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("recording {path} failed: {message}")]
    Recording { path: PathBuf, message: String },
    #[error("cannot read {path}: {message}")]
    Input { path: PathBuf, message: String },
}

impl From<super::MediaError> for PeerError {
    fn from(e: super::MediaError) -> Self {
        PeerError::Init(e.to_string())
    }
}

fn perr(context: &str, e: impl std::fmt::Display) -> PeerError {
    PeerError::Pipeline(format!("{context}: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Offer inspection
// ---------------------------------------------------------------------------------------------------------------

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Video,
    Audio,
}

impl Kind {
    fn idx(self) -> usize {
        match self {
            Kind::Video => 0,
            Kind::Audio => 1,
        }
    }
}

/// One offered m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedMedia {
    /// `None` for m-lines that are neither audio nor video (e.g. a data channel).
    pub kind: Option<Kind>,
    pub mid: Option<String>,
    /// Media codecs offered, upper case, in offer order (RTX / RED / FEC / comfort noise / DTMF left out).
    pub codecs: Vec<String>,
    /// The payload type the answer accepts, and its codec.
    pub chosen_pt: Option<u8>,
    pub chosen_codec: Option<String>,
    /// The id of the transport-cc header extension, if offered on this m-line.
    pub twcc_id: Option<u32>,
    /// The SSRCs the offer announces for this m-line (`a=ssrc`: media and RTX), in offer order.
    pub ssrcs: Vec<u32>,
}

/// What an offer contains and what the answer will accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferSummary {
    /// Video codecs offered (all video m-lines, upper case, offer order, no duplicates).
    pub video_codecs: Vec<String>,
    pub audio_codecs: Vec<String>,
    pub has_video: bool,
    pub has_audio: bool,
    /// The codecs the peer will receive ("VP8" / "H264", "OPUS").
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// Transport-wide congestion control offered on a video m-line.
    pub twcc: bool,
    pub media: Vec<OfferedMedia>,
}

const AUX_CODECS: [&str; 7] = ["RTX", "RED", "ULPFEC", "FLEXFEC-03", "CN", "TELEPHONE-EVENT", "FLEXFEC"];

/// Profiles of H.264 `avdec_h264` and Matroska handle that phones send (profile_idc of profile-level-id).
fn h264_profile_ok(caps: &gst::StructureRef) -> bool {
    if let Ok(profile) = caps.get::<&str>("profile") {
        return matches!(profile, "constrained-baseline" | "baseline" | "main" | "high");
    }
    match caps.get::<&str>("profile-level-id") {
        // RFC 6184: absent means baseline.
        Err(_) => true,
        Ok(pli) => {
            let idc = pli.get(0..2).and_then(|h| u8::from_str_radix(h, 16).ok());
            matches!(idc, Some(0x42 | 0x4d | 0x64))
        }
    }
}

fn field_str(s: &gst::StructureRef, name: &str) -> Option<String> {
    let v = s.value(name).ok()?;
    if let Ok(x) = v.get::<&str>() {
        return Some(x.to_owned());
    }
    if let Ok(x) = v.get::<i32>() {
        return Some(x.to_string());
    }
    if let Ok(x) = v.get::<u32>() {
        return Some(x.to_string());
    }
    None
}

fn accepts(kind: Kind, caps: &gst::StructureRef) -> Option<String> {
    let enc = caps.get::<&str>("encoding-name").ok()?.to_ascii_uppercase();
    match (kind, enc.as_str()) {
        (Kind::Video, "VP8") => Some(enc),
        (Kind::Video, "H264")
            if field_str(caps, "packetization-mode").as_deref() == Some("1") && h264_profile_ok(caps) =>
        {
            Some(enc)
        }
        (Kind::Audio, "OPUS") => Some(enc),
        _ => None,
    }
}

fn media_twcc_id(media: &gst_sdp::SDPMediaRef) -> Option<u32> {
    media.attributes().filter(|a| a.key() == "extmap").find_map(|a| {
        let value = a.value()?;
        let mut parts = value.split_whitespace();
        let id = parts.next()?.split('/').next()?.parse::<u32>().ok()?;
        (parts.next()? == TWCC_URI && (1..=14).contains(&id)).then_some(id)
    })
}

fn media_ssrcs(media: &gst_sdp::SDPMediaRef) -> Vec<u32> {
    let mut out = Vec::new();
    for a in media.attributes().filter(|a| a.key() == "ssrc") {
        if let Some(ssrc) = a.value().and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse::<u32>().ok())
            && !out.contains(&ssrc)
        {
            out.push(ssrc);
        }
    }
    out
}

fn payload_types(media: &gst_sdp::SDPMediaRef) -> Vec<u8> {
    media.formats().filter_map(|f| f.trim().parse::<u8>().ok()).filter(|pt| *pt < 128).collect()
}

fn parse_offer(sdp: &str) -> Result<gst_sdp::SDPMessage, PeerError> {
    let text = sdp.trim_start_matches('\u{feff}');
    if !text.starts_with("v=0") {
        return Err(PeerError::Malformed("it does not start with v=0".into()));
    }
    if text.contains('\0') {
        return Err(PeerError::Malformed("it contains NUL bytes".into()));
    }
    let msg = gst_sdp::SDPMessage::parse_buffer(text.as_bytes()).map_err(|e| PeerError::Malformed(e.to_string()))?;
    if msg.medias_len() == 0 {
        return Err(PeerError::Malformed("it has no media sections".into()));
    }
    if !text.lines().any(|l| l.trim_start().starts_with("o=")) || msg.origin().is_none() {
        return Err(PeerError::Malformed("it has no origin line".into()));
    }
    Ok(msg)
}

fn summarise(msg: &gst_sdp::SDPMessageRef) -> Result<OfferSummary, PeerError> {
    let mut summary = OfferSummary {
        video_codecs: Vec::new(),
        audio_codecs: Vec::new(),
        has_video: false,
        has_audio: false,
        video_codec: None,
        audio_codec: None,
        twcc: false,
        media: Vec::new(),
    };
    for (i, media) in msg.medias().enumerate() {
        let kind = match media.media() {
            Some("video") => Some(Kind::Video),
            Some("audio") => Some(Kind::Audio),
            Some(_) => None,
            None => return Err(PeerError::Malformed(format!("m-line {i} has no media type"))),
        };
        let proto = media.proto().unwrap_or_default();
        if kind.is_some() && !proto.contains("RTP") {
            return Err(PeerError::Malformed(format!("m-line {i} is not RTP ({proto})")));
        }
        let mut offered = OfferedMedia {
            kind,
            mid: media.attribute_val("mid").map(str::to_owned),
            codecs: Vec::new(),
            chosen_pt: None,
            chosen_codec: None,
            twcc_id: media_twcc_id(media),
            ssrcs: media_ssrcs(media),
        };
        if let Some(kind) = kind {
            let pts = payload_types(media);
            if pts.is_empty() {
                return Err(PeerError::Malformed(format!("m-line {i} has no payload types")));
            }
            for pt in pts {
                let Some(caps) = media.caps_from_media(pt as i32) else { continue };
                let Some(s) = caps.structure(0) else { continue };
                let Ok(enc) = s.get::<&str>("encoding-name") else { continue };
                let enc = enc.to_ascii_uppercase();
                if !AUX_CODECS.contains(&enc.as_str()) && !offered.codecs.contains(&enc) {
                    offered.codecs.push(enc);
                }
                if offered.chosen_pt.is_none()
                    && let Some(name) = accepts(kind, s)
                {
                    offered.chosen_pt = Some(pt);
                    offered.chosen_codec = Some(name);
                }
            }
            let (has, all, chosen) = match kind {
                Kind::Video => (&mut summary.has_video, &mut summary.video_codecs, &mut summary.video_codec),
                Kind::Audio => (&mut summary.has_audio, &mut summary.audio_codecs, &mut summary.audio_codec),
            };
            *has = true;
            for c in &offered.codecs {
                if !all.contains(c) {
                    all.push(c.clone());
                }
            }
            if chosen.is_none() {
                chosen.clone_from(&offered.chosen_codec);
            }
            if kind == Kind::Video && offered.twcc_id.is_some() {
                summary.twcc = true;
            }
        }
        summary.media.push(offered);
    }
    Ok(summary)
}

/// Parses and validates an offer: malformed text, no video m-line, no VP8 / H.264 (packetization-mode 1) video, or
/// audio without Opus are errors. Never panics on any input.
pub fn inspect_offer(sdp: &str) -> Result<OfferSummary, PeerError> {
    super::init()?;
    let msg = parse_offer(sdp)?;
    let summary = summarise(&msg)?;
    if !summary.has_video {
        return Err(PeerError::NoVideo);
    }
    if summary.video_codec.is_none() {
        return Err(PeerError::UnsupportedCodec { kind: "video", offered: summary.video_codecs });
    }
    if summary.has_audio && summary.audio_codec.is_none() {
        return Err(PeerError::UnsupportedCodec { kind: "audio", offered: summary.audio_codecs });
    }
    Ok(summary)
}

/// The caps of the transceiver for one offered m-line: the chosen payload type's caps from the offer, renamed
/// `application/x-rtp`, with the feedback and header extensions the answer must carry.
fn transceiver_caps(media: &gst_sdp::SDPMediaRef, offered: &OfferedMedia) -> Option<gst::Caps> {
    let kind = offered.kind?;
    let pt = offered.chosen_pt?;
    let caps = media.caps_from_media(pt as i32)?;
    let src = caps.structure(0)?;
    let mut s = gst::Structure::new_empty("application/x-rtp");
    for (name, value) in src.iter() {
        // Feedback and extensions are set below; everything else (fmtp parameters, clock rate...) is kept.
        if name.starts_with("rtcp-fb-") || name.starts_with("extmap-") || name.starts_with("a-") {
            continue;
        }
        s.set_value(name, value.clone());
    }
    if let Some(id) = offered.twcc_id {
        s.set(format!("extmap-{id}").as_str(), TWCC_URI);
        s.set("rtcp-fb-transport-cc", true);
    }
    if kind == Kind::Video {
        s.set("rtcp-fb-nack", true);
        s.set("rtcp-fb-nack-pli", true);
        s.set("rtcp-fb-ccm-fir", true);
    }
    Some(gst::Caps::builder_full().structure(s).build())
}

/// Post-processes webrtcbin's answer: `b=AS` on video, `useinbandfec=1` on Opus.
fn finish_answer(answer: &gst_sdp::SDPMessageRef, max_bitrate_kbps: Option<u32>) -> gst_sdp::SDPMessage {
    let mut sdp = answer.to_owned();
    for i in 0..sdp.medias_len() {
        let Some(media) = sdp.media_mut(i) else { continue };
        match media.media() {
            Some("video") => {
                if let Some(kbps) = max_bitrate_kbps
                    && !media.bandwidths().any(|b| b.bwtype() == Some("AS"))
                {
                    media.add_bandwidth("AS", kbps);
                }
            }
            Some("audio") => ensure_opus_fec(media),
            _ => {}
        }
    }
    sdp
}

fn ensure_opus_fec(media: &mut gst_sdp::SDPMediaRef) {
    let opus_pts: Vec<String> = media
        .attributes()
        .filter(|a| a.key() == "rtpmap")
        .filter_map(|a| {
            let v = a.value()?;
            let (pt, enc) = v.split_once(' ')?;
            enc.to_ascii_uppercase().starts_with("OPUS/").then(|| pt.trim().to_owned())
        })
        .collect();
    for pt in opus_pts {
        let found = (0..media.attributes_len()).find_map(|idx| {
            let a = media.attribute(idx)?;
            let v = a.value()?;
            (a.key() == "fmtp" && v.split_whitespace().next() == Some(pt.as_str())).then(|| (idx, v.to_owned()))
        });
        match found {
            Some((idx, v)) => {
                let params = v.split_once(' ').map(|(_, p)| p.trim()).unwrap_or_default();
                if params.split(';').any(|p| p.trim() == "useinbandfec=1") {
                    continue;
                }
                let kept: Vec<&str> = params
                    .split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty() && !p.starts_with("useinbandfec"))
                    .collect();
                let mut new = kept.join(";");
                if !new.is_empty() {
                    new.push(';');
                }
                new.push_str("useinbandfec=1");
                let _ = media.replace_attribute(idx, gst_sdp::SDPAttribute::new("fmtp", Some(&format!("{pt} {new}"))));
            }
            None => media.add_attribute("fmtp", Some(&format!("{pt} minptime=10;useinbandfec=1"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/// How a peer receives.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Matroska file for this connection's media, as received (no re-encode). `None`: no recording.
    pub record_path: Option<PathBuf>,
    /// Added to every [`MediaEvent`] pts: the session's media clock at the start of this part.
    pub time_offset: MediaDuration,
    /// Added to every frame index (frames of a later part continue the count).
    pub frame_offset: u64,
    /// Written as `b=AS` (kb/s) on the answer's video m-line: the sender's start cap.
    pub max_bitrate_kbps: Option<u32>,
    /// Gather only 127.0.0.1 (loopback-only hosts and tests).
    pub loopback: bool,
    /// Non-trickle: how long to wait for ICE gathering to complete before answering with what was gathered.
    pub ice_gather_timeout: Duration,
    /// A recorded track that has not started this long after the first media is dropped from the recording.
    pub track_start_timeout: Duration,
    /// Jitterbuffer latency, ms: how long a missing packet is waited for. It must cover a retransmission's round
    /// trip on a mobile uplink (150-400 ms through a full bottleneck queue, measured through the impairment relay's
    /// `kbps150_loss5`) plus a late-starting stream's lag (see `Repair::new_jitterbuffer`), or repairs arrive
    /// late. Nothing here is interactive — analysis runs on the media clock — so the delay costs only that much
    /// later prompts.
    pub latency_ms: u32,
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            record_path: None,
            time_offset: MediaDuration(0),
            frame_offset: 0,
            max_bitrate_kbps: None,
            loopback: false,
            ice_gather_timeout: Duration::from_secs(3),
            track_start_timeout: Duration::from_secs(4),
            latency_ms: 800,
        }
    }
}

/// What a peer reports to its owner (owned values, sent from GStreamer threads).
#[derive(Clone, Debug, PartialEq)]
pub enum PeerEvent {
    /// ICE connection state ("checking", "connected", "completed", "failed", "disconnected", "closed").
    IceState(String),
    Connected,
    Disconnected,
    Failed(String),
    /// The first media of a track arrived.
    FirstMedia {
        video: bool,
    },
    /// A pipeline error. Not necessarily fatal: "recording … stopped" / "… decoding stopped" mean one branch
    /// stopped while the call (and the other branch) goes on; errors from webrtcbin's elements (e.g. `nicesrc`)
    /// mean the transport is gone.
    Error(String),
    /// The remote ended every track (or the pipeline reached EOS) without `stop`.
    Eos,
}

/// Counters the GStreamer threads update; read them at any time.
#[derive(Debug, Default)]
pub struct PeerCounters {
    /// Decoded frames / chunks produced (including dropped ones).
    pub video_frames: AtomicU64,
    pub audio_chunks: AtomicU64,
    /// Items dropped because the media channel was full.
    pub dropped: AtomicU64,
    /// Encoded bytes and frames/packets after depayloading.
    pub video_bytes: AtomicU64,
    pub audio_bytes: AtomicU64,
    pub video_encoded_frames: AtomicU64,
    pub audio_packets: AtomicU64,
    /// Size of the last decoded frame (0 until one is decoded).
    pub frame_width: AtomicU32,
    pub frame_height: AtomicU32,
    /// Buffers whose timestamp went backwards and were moved forward to keep the track monotonic.
    pub pts_fixups: AtomicU64,
}

/// What `stop` leaves behind.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecordingInfo {
    /// The Matroska file; `None` when no recording was asked for or no media arrived (the empty file is removed).
    pub path: Option<PathBuf>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// First and last media pts on the session's media clock (`time_offset` included).
    pub first_pts: Option<MediaTime>,
    pub last_pts: Option<MediaTime>,
    pub duration: MediaDuration,
    pub time_offset: MediaDuration,
    /// The muxer was finalised (index and duration written) before the deadline. An incomplete file is kept: what
    /// was written stays readable.
    pub complete: bool,
    pub bytes: u64,
    /// Why the recording stopped before the end of the call, if it did.
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Shared state between the GStreamer threads and the owner (atomics and write-once cells only)
// ---------------------------------------------------------------------------------------------------------------

const PENDING: u8 = 0;
const STARTED: u8 = 1;
const CLOSED: u8 = 2;

#[derive(Default)]
struct Track {
    /// Recording state: PENDING → STARTED (first buffer) or PENDING → CLOSED (never started / stopping).
    rec_state: AtomicU8,
    /// A webrtcbin pad was taken for this kind (later ones go to a fakesink).
    taken: AtomicBool,
    started: AtomicBool,
    /// The mux pad, requested up front.
    rec_pad: Option<gst::Pad>,
    tee: OnceLock<gst::Element>,
    depay: OnceLock<gst::Element>,
    rec_queue: OnceLock<gst::Element>,
    codec: OnceLock<String>,
    ssrc: AtomicU64,
    sink_eos: AtomicBool,
    /// Running time of the last depayloaded buffer (to keep the track monotonic).
    last_rt: AtomicU64,
    /// Latest media pts delivered (audio chunks are never delivered out of order).
    last_out: AtomicU64,
    decode_failed: AtomicBool,
    rec_failed: AtomicBool,
    /// The recording of this track received data at some point.
    rec_ever: AtomicBool,
}

/// A jitterbuffer with its SSRC and how many times its timeline was put back on the RTP clock.
type JitterBufferRef = (u32, gst::glib::WeakRef<gst::Element>, Arc<Mutex<Option<RtpClock>>>);

/// rtpbin's jitterbuffers by SSRC, and which SSRCs carry video. webrtcbin 1.22 is meant to set
/// `do-retransmission` from the transceiver's `do-nack` when rtpbin makes a jitterbuffer, but under bundle it does
/// not find the transceiver for our streams and leaves it off (measured: the video jitterbuffer read `false` and
/// the receiver never sent a NACK). Video jitterbuffers get it here instead — by the offer's `a=ssrc` lines as
/// soon as they appear, or by the video pad's SSRC when the offer had none.
#[derive(Default)]
struct Repair {
    video_ssrcs: Mutex<Vec<u32>>,
    buffers: Mutex<Vec<JitterBufferRef>>,
    /// Running time of the first packet of the first stream (ns): every stream's `ts-offset`.
    first_arrival: Mutex<Option<u64>>,
    /// The RTP clock rate of each payload type the answer accepts.
    clock_rates: Arc<Vec<(u8, u32)>>,
}

impl Repair {
    fn new(summary: &OfferSummary) -> Repair {
        let video = summary.media.iter().filter(|m| m.kind == Some(Kind::Video)).flat_map(|m| m.ssrcs.iter().copied());
        // Every codec the peer accepts runs at 90 kHz (VP8, H.264) or 48 kHz (Opus).
        let rates = summary
            .media
            .iter()
            .filter_map(|m| Some((m.chosen_pt?, if m.kind? == Kind::Video { 90_000 } else { 48_000 })))
            .collect();
        Repair {
            video_ssrcs: Mutex::new(video.collect()),
            buffers: Mutex::default(),
            first_arrival: Mutex::default(),
            clock_rates: Arc::new(rates),
        }
    }

    fn enable(jb: &gst::Element) {
        // Ask only for packets seen missing (a gap in sequence numbers), not for ones merely expected by now:
        // video is bursty at low rates, and guessing the next packet's arrival would send NACKs for nothing.
        jb.set_property("do-retransmission", true);
        jb.set_property("rtx-next-seqnum", false);
    }

    /// rtpbin made a jitterbuffer for `ssrc`: its first packet is arriving now (`now`, the pipeline's running time).
    fn new_jitterbuffer(&self, jb: &gst::Element, ssrc: u32, now: Option<gst::ClockTime>) {
        // In `buffer-mode=none` the jitterbuffer's own timeline starts at 0 at a stream's first packet, whatever
        // the running time, and it judges a missing packet against the running time: a call whose media started
        // 0.6 s into the pipeline had every gap "already too late", declared lost at once and never asked for
        // (measured with GST_DEBUG=rtpjitterbuffer:6). Every stream is offset by the running time of the call's
        // first packet — the same for all, so audio/video alignment and the media clock (relative to the peer's
        // origin) do not change. A stream that starts later (video after its first keyframe, typically
        // 0.1-0.3 s) is still judged that much late, which the latency leaves room for.
        let offset = {
            let mut first = self.first_arrival.lock().map(|f| *f).unwrap_or(None);
            if first.is_none() {
                first = now.map(|n| n.nseconds().min(i64::MAX as u64));
                if let Ok(mut f) = self.first_arrival.lock() {
                    *f = first;
                }
            }
            first.unwrap_or(0)
        };
        if offset > 0 {
            jb.set_property("ts-offset", offset as i64);
        }
        // rtpbin's RTCP lip-sync writes `ts-offset` too, on every sender report: it sets the reference stream's
        // to 0 (`max-ts-offset` only stops larger corrections), which took this offset away from one stream
        // mid-call (measured: video 270 ms behind audio, or a jump back in time). The media clock comes from the
        // senders' RTP clocks (module doc), so rtpbin's handler is not run: this one is connected first (rtpbin
        // connects when it links the jitterbuffer, after this signal) and stops the emission.
        jb.connect("handle-sync", false, |args| {
            if let Some(Ok(jb)) = args.first().map(|v| v.get::<gst::Element>()) {
                jb.stop_signal_emission_by_name("handle-sync");
            }
            None
        });
        if self.video_ssrcs.lock().map(|v| v.contains(&ssrc)).unwrap_or(false) {
            Self::enable(jb);
        }
        let clock = Arc::new(Mutex::new(None));
        self.keep_on_rtp_clock(jb, clock.clone());
        if let Ok(mut b) = self.buffers.lock() {
            b.retain(|(_, w, _)| w.upgrade().is_some());
            b.push((ssrc, jb.downgrade(), clock));
        }
    }

    /// A pause of more than 3 s in a stream's RTP clock restarts the jitterbuffer's timeline at 0
    /// (`super::rtpclock`): each packet leaving it is checked against the stream's RTP clock, and when it is off,
    /// the packet and the jitterbuffer's `ts-offset` are moved back onto it. The property is set while the
    /// jitterbuffer pushes with its lock released.
    fn keep_on_rtp_clock(&self, jb: &gst::Element, clock: Arc<Mutex<Option<RtpClock>>>) {
        let Some(src) = jb.static_pad("src") else { return };
        let rates = self.clock_rates.clone();
        let weak = jb.downgrade();
        src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else { return gst::PadProbeReturn::Ok };
            let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
            let (pt, ts) = {
                let Ok(map) = buffer.map_readable() else { return gst::PadProbeReturn::Ok };
                let Some(header) = rtp_header(&map) else { return gst::PadProbeReturn::Ok };
                header
            };
            let Ok(mut guard) = clock.lock() else { return gst::PadProbeReturn::Ok };
            if guard.is_none() {
                // The pad's caps carry no clock-rate here (rtpbin gives it through its pt-map): the answer's.
                let Some(rate) = rates.iter().find(|(p, _)| *p == pt).map(|(_, r)| *r) else {
                    return gst::PadProbeReturn::Ok;
                };
                *guard = Some(RtpClock::new(rate));
            }
            let Some(shift) = guard.as_mut().and_then(|c| c.observe(pts.nseconds(), ts)) else {
                return gst::PadProbeReturn::Ok;
            };
            let moved = |t: gst::ClockTime| gst::ClockTime::from_nseconds(t.nseconds().saturating_add_signed(shift));
            let b = buffer.make_mut();
            b.set_pts(moved(pts));
            if let Some(dts) = b.dts() {
                b.set_dts(moved(dts));
            }
            if let Some(jb) = weak.upgrade() {
                let offset = jb.property::<i64>("ts-offset");
                jb.set_property("ts-offset", offset.saturating_add(shift));
            }
            gst::PadProbeReturn::Ok
        });
    }

    fn find(&self, ssrc: u32) -> Option<gst::Element> {
        let b = self.buffers.lock().ok()?;
        b.iter().rev().find(|(s, _, _)| *s == ssrc).and_then(|(_, w, _)| w.upgrade())
    }

    /// Timeline corrections of all streams so far.
    fn resyncs(&self) -> u64 {
        let b = self.buffers.lock();
        b.map(|b| b.iter().filter_map(|(_, _, c)| c.lock().ok()?.as_ref().map(RtpClock::corrections)).sum())
            .unwrap_or(0)
    }

    /// The video track's SSRC is known (its pad appeared).
    fn video_ssrc(&self, ssrc: u32) {
        if let Ok(mut v) = self.video_ssrcs.lock()
            && !v.contains(&ssrc)
        {
            v.push(ssrc);
        }
        if let Some(jb) = self.find(ssrc)
            && !jb.property::<bool>("do-retransmission")
        {
            Self::enable(&jb);
        }
    }

    fn stats(&self, ssrc: u32) -> Option<super::stats::RepairStats> {
        let jb = self.find(ssrc)?;
        let on = jb.property::<bool>("do-retransmission");
        Some(super::stats::parse_jitterbuffer_stats(&jb.property::<gst::Structure>("stats"), on))
    }
}

/// Wakes `stop` up.
#[derive(Debug)]
enum Note {
    RecordingEos,
    SinkEos,
}

struct Shared {
    counters: Arc<PeerCounters>,
    media: Sender<MediaEvent>,
    events: Arc<dyn Fn(PeerEvent) + Send + Sync>,
    time_offset: u64,
    frame_offset: u64,
    origin: AtomicU64,
    origin_wall: OnceLock<Instant>,
    first_pts: AtomicU64,
    last_pts: AtomicU64,
    stopping: AtomicBool,
    shutdown: AtomicBool,
    remote_eos_sent: AtomicBool,
    /// Why the recording stopped early, if it did.
    rec_error: OnceLock<String>,
    tracks: [Track; 2],
    notes: Sender<Note>,
    repair: Arc<Repair>,
    /// Paces the keyframe requests that leave the video depayloader (see [`super::keyframes`]).
    keyframes: Mutex<KeyframeGate>,
    /// `request_keyframe` is sending its event right now (it passes the gate).
    keyframe_explicit: AtomicBool,
    created: Instant,
}

impl Shared {
    fn track(&self, kind: Kind) -> &Track {
        &self.tracks[kind.idx()]
    }

    /// The origin, setting it to `rt` if this is the first media of the peer.
    fn origin_or_set(&self, rt: u64) -> u64 {
        match self.origin.compare_exchange(NONE, rt, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let _ = self.origin_wall.set(Instant::now());
                rt
            }
            Err(existing) => existing,
        }
    }

    fn media_time(&self, rt: u64) -> MediaTime {
        let origin = self.origin.load(Ordering::Acquire);
        let origin = if origin == NONE { rt } else { origin };
        MediaTime(rt.saturating_sub(origin).saturating_add(self.time_offset))
    }

    fn emit(&self, ev: PeerEvent) {
        (self.events)(ev);
    }

    fn note(&self, n: Note) {
        let _ = self.notes.try_send(n);
    }
}

fn running_time_on_pad(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<u64> {
    let pts = buffer.pts().or(buffer.dts())?;
    let seg = pad.sticky_event::<gst::event::Segment>(0)?;
    let seg = seg.segment().downcast_ref::<gst::ClockTime>()?.clone();
    Some(seg.to_running_time(pts).unwrap_or(pts).nseconds())
}

fn sample_running_time(sample: &gst::Sample, buffer: &gst::BufferRef) -> Option<u64> {
    let pts = buffer.pts()?;
    let rt = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>().and_then(|s| s.to_running_time(pts)))
        .unwrap_or(pts);
    Some(rt.nseconds())
}

fn to_video_frame(sample: &gst::Sample, shared: &Shared, index: u64) -> Option<VideoFrame> {
    let buffer = sample.buffer()?;
    let caps = sample.caps()?;
    let vinfo = gst_video::VideoInfo::from_caps(caps).ok()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &vinfo).ok()?;
    let (w, h) = (vinfo.width(), vinfo.height());
    let stride = usize::try_from(vinfo.stride()[0]).ok()?;
    let plane = frame.plane_data(0).ok()?;
    let row = w as usize * 3;
    let mut data = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        data.extend_from_slice(plane.get(y * stride..y * stride + row)?);
    }
    shared.counters.frame_width.store(w, Ordering::Relaxed);
    shared.counters.frame_height.store(h, Ordering::Relaxed);
    let rt = sample_running_time(sample, buffer)?;
    Some(VideoFrame { pts: shared.media_time(rt), index: FrameIndex(index), image: RgbFrame::new(w, h, data)? })
}

fn to_audio_chunk(sample: &gst::Sample, shared: &Shared) -> Option<AudioChunk> {
    let buffer = sample.buffer()?;
    let rt = sample_running_time(sample, buffer)?;
    let map = buffer.map_readable().ok()?;
    let samples = map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    // audioresample re-syncs to its input timestamps when they drift by more than ~31 ms, which can step back;
    // the live timeline never does (the replay of such a spot may differ by that much).
    let pts = shared.media_time(rt).0;
    let prev = shared.track(Kind::Audio).last_out.fetch_max(pts, Ordering::AcqRel);
    Some(AudioChunk { pts: MediaTime(pts.max(prev)), samples })
}

fn deliver(shared: &Shared, ev: MediaEvent) {
    match shared.media.try_send(ev) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The peer
// ---------------------------------------------------------------------------------------------------------------

/// One receiving WebRTC connection. Dropping it tears the pipeline down (finalising the recording briefly).
pub struct Peer {
    pipeline: gst::Pipeline,
    webrtc: gst::Element,
    rtpbin: Option<gst::Element>,
    mux: Option<gst::Element>,
    shared: Arc<Shared>,
    notes: Receiver<Note>,
    bus_thread: Option<JoinHandle<()>>,
    record_path: Option<PathBuf>,
    time_offset: MediaDuration,
    summary: OfferSummary,
    finished: bool,
}

impl Peer {
    /// Blocking (run it on a blocking thread): builds the pipeline, sets the offer, adds the transceivers, creates
    /// the answer, waits for ICE gathering (at most `cfg.ice_gather_timeout`) and returns the answer SDP with its
    /// candidates. Media then arrives on `media` (never blocking GStreamer: a full channel drops and counts).
    pub fn answer(
        offer: &str,
        cfg: PeerConfig,
        media: Sender<MediaEvent>,
        events: Arc<dyn Fn(PeerEvent) + Send + Sync>,
    ) -> Result<(Peer, String), PeerError> {
        let summary = inspect_offer(offer)?;
        let offer_msg = parse_offer(offer)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pipeline = gst::Pipeline::with_name(&format!("peer-{n}"));
        let webrtc = gst::ElementFactory::make("webrtcbin")
            .name("recv")
            .property_from_str("bundle-policy", "max-bundle")
            .property("latency", cfg.latency_ms)
            .build()
            .map_err(|e| perr("webrtcbin", e))?;
        pipeline.add(&webrtc).map_err(|e| perr("add webrtcbin", e))?;
        // The media clock (see the module doc): timestamps from the sender's RTP clock, no RTCP lip-sync jumps.
        let rtpbin = webrtc.downcast_ref::<gst::Bin>().and_then(|b| b.by_name("rtpbin"));
        let repair = Arc::new(Repair::new(&summary));
        if let Some(rtpbin) = &rtpbin {
            rtpbin.set_property_from_str("buffer-mode", "none");
            // Runs after webrtcbin's own handler (connected when webrtcbin was built), so its setting wins.
            let repair = repair.clone();
            let weak = pipeline.downgrade();
            rtpbin.connect("new-jitterbuffer", false, move |args| {
                if let (Some(Ok(jb)), Some(Ok(ssrc))) =
                    (args.get(1).map(|v| v.get::<gst::Element>()), args.get(3).map(|v| v.get::<u32>()))
                {
                    let now = weak.upgrade().and_then(|p| p.current_running_time());
                    repair.new_jitterbuffer(&jb, ssrc, now);
                }
                None
            });
        }

        let (notes_tx, notes_rx) = crossbeam_channel::bounded(64);
        let mut tracks: [Track; 2] = Default::default();
        for t in &tracks {
            t.ssrc.store(NONE, Ordering::Relaxed);
            t.last_rt.store(NONE, Ordering::Relaxed);
        }
        let mut mux = None;
        if let Some(path) = &cfg.record_path {
            let m = gst::ElementFactory::make("matroskamux")
                .name("mux")
                .property("writing-app", "facereview")
                .build()
                .map_err(|e| perr("matroskamux", e))?;
            let sink = gst::ElementFactory::make("filesink")
                .name("recording")
                .property("location", path.to_string_lossy().to_string())
                .property("async", false)
                .build()
                .map_err(|e| perr("filesink", e))?;
            pipeline.add_many([&m, &sink]).map_err(|e| perr("add recorder", e))?;
            m.link(&sink).map_err(|e| perr("link recorder", e))?;
            if summary.video_codec.is_some() {
                tracks[0].rec_pad = m.request_pad_simple("video_%u");
            }
            if summary.audio_codec.is_some() {
                tracks[1].rec_pad = m.request_pad_simple("audio_%u");
            }
            let notes = notes_tx.clone();
            if let Some(pad) = sink.static_pad("sink") {
                pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                    if let Some(gst::PadProbeData::Event(ev)) = &info.data
                        && ev.type_() == gst::EventType::Eos
                    {
                        let _ = notes.try_send(Note::RecordingEos);
                    }
                    gst::PadProbeReturn::Ok
                });
            }
            mux = Some(m);
        }

        let shared = Arc::new(Shared {
            counters: Arc::new(PeerCounters::default()),
            media,
            events,
            time_offset: cfg.time_offset.0,
            frame_offset: cfg.frame_offset,
            origin: AtomicU64::new(NONE),
            origin_wall: OnceLock::new(),
            first_pts: AtomicU64::new(NONE),
            last_pts: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            remote_eos_sent: AtomicBool::new(false),
            rec_error: OnceLock::new(),
            tracks,
            notes: notes_tx,
            repair,
            keyframes: Mutex::new(KeyframeGate::default()),
            keyframe_explicit: AtomicBool::new(false),
            created: Instant::now(),
        });

        connect_state_signals(&webrtc, &shared);
        let weak = pipeline.downgrade();
        let sh = shared.clone();
        webrtc.connect_pad_added(move |_, pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let Some(pipeline) = weak.upgrade() else { return };
            if let Err(e) = link_incoming(&pipeline, pad, &sh) {
                sh.emit(PeerEvent::Error(e.to_string()));
            }
        });

        let bus = pipeline.bus().ok_or_else(|| perr("pipeline", "no bus"))?;
        let mut peer = Peer {
            pipeline: pipeline.clone(),
            webrtc: webrtc.clone(),
            rtpbin,
            mux: mux.clone(),
            shared: shared.clone(),
            notes: notes_rx,
            bus_thread: None,
            record_path: cfg.record_path.clone(),
            time_offset: cfg.time_offset,
            summary: summary.clone(),
            finished: false,
        };
        let bus_shared = shared.clone();
        let timeout = cfg.track_start_timeout;
        peer.bus_thread = Some(
            std::thread::Builder::new()
                .name(format!("peer-{n}-bus"))
                .spawn(move || bus_loop(bus, bus_shared, mux, timeout))
                .map_err(|e| perr("bus thread", e))?,
        );

        pipeline.set_state(gst::State::Playing).map_err(|e| perr("start", e))?;
        if cfg.loopback {
            let agent = webrtc.property::<gst_webrtc::WebRTCICE>("ice-agent");
            agent.emit_by_name::<bool>("add-local-ip-address", &[&"127.0.0.1"]);
        }

        // Transceivers first (in offer order), so the offer's m-lines attach to them.
        for (i, offered) in summary.media.iter().enumerate() {
            let Some(kind) = offered.kind else { continue };
            let Some(media) = offer_msg.media(i as u32) else { continue };
            let Some(caps) = transceiver_caps(media, offered) else { continue };
            let trans = webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
                "add-transceiver",
                &[&gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly, &caps],
            );
            if kind == Kind::Video {
                trans.set_property("do-nack", true);
            }
        }

        let offer_desc = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, offer_msg);
        promise_call(&webrtc, "set-remote-description", &offer_desc)?;
        let reply = promise_call(&webrtc, "create-answer", &None::<gst::Structure>)?
            .ok_or_else(|| PeerError::Negotiation { step: "create-answer", message: "no reply".into() })?;
        let answer = reply.get::<gst_webrtc::WebRTCSessionDescription>("answer").map_err(|e| {
            PeerError::Negotiation { step: "create-answer", message: reply_error(&reply).unwrap_or(e.to_string()) }
        })?;
        let answer_sdp = finish_answer(answer.sdp(), cfg.max_bitrate_kbps);
        let answer_desc = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Answer, answer_sdp);

        let (gathered_tx, gathered_rx) = crossbeam_channel::bounded::<()>(1);
        webrtc.connect_notify(Some("ice-gathering-state"), move |w, _| {
            let s = w.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
            if s == gst_webrtc::WebRTCICEGatheringState::Complete {
                let _ = gathered_tx.try_send(());
            }
        });
        promise_call(&webrtc, "set-local-description", &answer_desc)?;
        let complete = webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            == gst_webrtc::WebRTCICEGatheringState::Complete;
        if !complete {
            let _ = gathered_rx.recv_timeout(cfg.ice_gather_timeout);
        }
        let local = webrtc
            .property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")
            .ok_or_else(|| PeerError::Negotiation { step: "local-description", message: "none set".into() })?;
        let text = local
            .sdp()
            .as_text()
            .map_err(|e| PeerError::Negotiation { step: "answer text", message: e.to_string() })?;
        if !text.contains("a=candidate") {
            return Err(PeerError::Timeout("ICE candidates"));
        }
        Ok((peer, text))
    }

    /// What the offer contained and which codecs are received.
    pub fn summary(&self) -> &OfferSummary {
        &self.summary
    }

    pub fn counters(&self) -> Arc<PeerCounters> {
        self.shared.counters.clone()
    }

    /// Whether any media arrived yet.
    pub fn started(&self) -> bool {
        self.shared.origin.load(Ordering::Acquire) != NONE
    }

    /// webrtcbin's statistics, parsed; `None` when it does not answer within `timeout`.
    pub fn stats(&self, timeout: Duration) -> Option<PeerStats> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let promise = gst::Promise::with_change_func(move |reply| {
            let owned = reply.ok().flatten().map(|s| s.to_owned());
            let _ = tx.try_send(owned);
        });
        self.webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
        let reply = match rx.recv_timeout(timeout) {
            Ok(r) => r?,
            Err(_) => {
                promise.interrupt();
                return None;
            }
        };
        let ssrc = |k: Kind| {
            let v = self.shared.track(k).ssrc.load(Ordering::Relaxed);
            (v != NONE).then_some(v as u32)
        };
        let mut stats = parse_stats(&reply, ssrc(Kind::Video), ssrc(Kind::Audio));
        // rtpsession's own per-source figures win over webrtcbin's: webrtcbin 1.22 reports one inbound stream per
        // bundle, and its `packets-lost` is one jitterbuffer's count of packets given up on after retransmission,
        // the same number for both streams (measured: 4 for audio and 4 for video in a call whose relay dropped 162
        // packets at random) — so the controller saw almost no loss. rtpsession's is expected − received on
        // arrival, before any repair: the network's loss.
        let session = self
            .rtpbin
            .as_ref()
            .and_then(|rtpbin| rtpbin.emit_by_name::<Option<gst::glib::Object>>("get-internal-session", &[&0u32]));
        if let Some(sources) = session.map(|s| session_sources(&s.property::<gst::Structure>("stats"))) {
            for (kind, slot) in [(Kind::Video, &mut stats.video), (Kind::Audio, &mut stats.audio)] {
                if let Some(own) = ssrc(kind).and_then(|ssrc| parse_session_source(&sources, ssrc)) {
                    *slot = Some(own);
                }
            }
        }
        let c = &self.shared.counters;
        let (w, h) = (c.frame_width.load(Ordering::Relaxed), c.frame_height.load(Ordering::Relaxed));
        stats.frame_width = (w > 0).then_some(w);
        stats.frame_height = (h > 0).then_some(h);
        stats.frames_decoded = c.video_frames.load(Ordering::Relaxed);
        stats.audio_chunks = c.audio_chunks.load(Ordering::Relaxed);
        stats.dropped = c.dropped.load(Ordering::Relaxed);
        stats.video_repair = ssrc(Kind::Video).and_then(|v| self.shared.repair.stats(v)).map(|mut r| {
            if let Ok(g) = self.shared.keyframes.lock() {
                (r.keyframe_requests, r.keyframe_requests_held) = g.counts();
            }
            r.timeline_resyncs = self.shared.repair.resyncs();
            r
        });
        Some(stats)
    }

    /// Asks the sender for a keyframe (PLI/FIR upstream on the video branch). No-op before video arrived.
    pub fn request_keyframe(&self) {
        if let Some(depay) = self.shared.track(Kind::Video).depay.get()
            && let Some(pad) = depay.static_pad("src")
        {
            // all-headers=false: rtpsession sends a PLI (true would send a FIR). The event travels upstream in
            // this thread, through the depayloader's sink-pad gate, which lets it pass.
            let ev = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(false).build();
            self.shared.keyframe_explicit.store(true, Ordering::Release);
            let _ = pad.send_event(ev);
            self.shared.keyframe_explicit.store(false, Ordering::Release);
        }
    }

    /// Finalises: EOS into every branch, waits (at most ~5 s) until the recording is closed properly, pipeline to
    /// Null. A recording that failed or could not be finalised in time is reported in the [`RecordingInfo`]
    /// (`complete`, `error`), not as an `Err`, so the caller still learns the part's codecs and times.
    pub fn stop(mut self) -> Result<RecordingInfo, PeerError> {
        self.finish(STOP_WAIT)
    }

    fn finish(&mut self, wait: Duration) -> Result<RecordingInfo, PeerError> {
        let sh = self.shared.clone();
        let first_time = !self.finished;
        self.finished = true;
        let mut complete = false;
        if first_time {
            sh.stopping.store(true, Ordering::Release);
            let mut expect_rec = false;
            let mut expect_sinks = 0usize;
            for kind in [Kind::Video, Kind::Audio] {
                let t = sh.track(kind);
                // A recorded track that never started, or whose branch failed, is released so the muxer does not
                // wait for its EOS.
                let never_started =
                    t.rec_state.compare_exchange(PENDING, CLOSED, Ordering::AcqRel, Ordering::Acquire).is_ok();
                if (never_started || t.rec_failed.load(Ordering::Acquire))
                    && let (Some(pad), Some(mux)) = (&t.rec_pad, &self.mux)
                    && pad.parent().is_some()
                {
                    mux.release_request_pad(pad);
                }
                if t.rec_state.load(Ordering::Acquire) == STARTED {
                    expect_rec = true;
                }
                if let Some(tee) = t.tee.get() {
                    if t.started.load(Ordering::Acquire) && !t.decode_failed.load(Ordering::Acquire) {
                        expect_sinks += 1;
                    }
                    if let Some(pad) = tee.static_pad("sink") {
                        let _ = pad.send_event(gst::event::Eos::new());
                    }
                }
            }
            let deadline = Instant::now() + wait;
            let mut rec_done = !expect_rec;
            loop {
                let sinks_done = sh
                    .tracks
                    .iter()
                    .filter(|t| t.started.load(Ordering::Acquire) && t.sink_eos.load(Ordering::Acquire))
                    .count();
                if rec_done && sinks_done >= expect_sinks {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if let Ok(Note::RecordingEos) = self.notes.recv_timeout(left.min(Duration::from_millis(50))) {
                    rec_done = true;
                }
            }
            complete = expect_rec && rec_done;
            let _ = self.pipeline.set_state(gst::State::Null);
            sh.shutdown.store(true, Ordering::Release);
            if let Some(h) = self.bus_thread.take() {
                let _ = h.join();
            }
        }
        self.recording_info(complete)
    }

    fn recording_info(&self, complete: bool) -> Result<RecordingInfo, PeerError> {
        let sh = &self.shared;
        let recorded = sh.tracks.iter().any(|t| t.rec_ever.load(Ordering::Acquire));
        let first = sh.first_pts.load(Ordering::Acquire);
        let first_pts = (first != NONE).then_some(MediaTime(first));
        let last_pts = first_pts.map(|_| MediaTime(sh.last_pts.load(Ordering::Acquire)));
        let codec = |k: Kind| sh.track(k).codec.get().cloned();
        let mut path = None;
        let mut bytes = 0;
        if let Some(p) = &self.record_path {
            bytes = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            if recorded && bytes > 0 {
                path = Some(p.clone());
            } else {
                let _ = std::fs::remove_file(p);
            }
        }
        let info = RecordingInfo {
            path,
            video_codec: codec(Kind::Video),
            audio_codec: codec(Kind::Audio),
            first_pts,
            last_pts,
            duration: match (first_pts, last_pts) {
                (Some(a), Some(b)) => b.since(a),
                _ => MediaDuration(0),
            },
            time_offset: self.time_offset,
            complete,
            bytes,
            error: sh.rec_error.get().cloned(),
        };
        Ok(info)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(DROP_WAIT);
        }
    }
}

fn reply_error(reply: &gst::StructureRef) -> Option<String> {
    reply.get::<gst::glib::Error>("error").ok().map(|e| e.to_string())
}

/// Emits a webrtcbin action that takes `(arg, GstPromise)` and waits for the reply (bounded).
pub(super) fn promise_call(
    webrtc: &gst::Element,
    step: &'static str,
    arg: &(impl ToValue + ?Sized),
) -> Result<Option<gst::Structure>, PeerError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let promise = gst::Promise::with_change_func(move |reply| {
        let r = match reply {
            Ok(s) => Ok(s.map(|s| s.to_owned())),
            Err(e) => Err(format!("{e:?}")),
        };
        let _ = tx.try_send(r);
    });
    webrtc.emit_by_name::<()>(step, &[&arg.to_value(), &promise]);
    match rx.recv_timeout(STEP_TIMEOUT) {
        Ok(Ok(reply)) => {
            if let Some(msg) = reply.as_ref().and_then(|r| reply_error(r)) {
                return Err(PeerError::Negotiation { step, message: msg });
            }
            Ok(reply)
        }
        Ok(Err(message)) => Err(PeerError::Negotiation { step, message }),
        Err(_) => {
            promise.interrupt();
            Err(PeerError::Timeout(step))
        }
    }
}

fn connect_state_signals(webrtc: &gst::Element, shared: &Arc<Shared>) {
    let sh = shared.clone();
    webrtc.connect_notify(Some("ice-connection-state"), move |w, _| {
        let s = w.property::<gst_webrtc::WebRTCICEConnectionState>("ice-connection-state");
        let name = match s {
            gst_webrtc::WebRTCICEConnectionState::New => "new",
            gst_webrtc::WebRTCICEConnectionState::Checking => "checking",
            gst_webrtc::WebRTCICEConnectionState::Connected => "connected",
            gst_webrtc::WebRTCICEConnectionState::Completed => "completed",
            gst_webrtc::WebRTCICEConnectionState::Failed => "failed",
            gst_webrtc::WebRTCICEConnectionState::Disconnected => "disconnected",
            gst_webrtc::WebRTCICEConnectionState::Closed => "closed",
            _ => "unknown",
        };
        sh.emit(PeerEvent::IceState(name.to_owned()));
    });
    let sh = shared.clone();
    webrtc.connect_notify(Some("connection-state"), move |w, _| {
        let s = w.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        match s {
            gst_webrtc::WebRTCPeerConnectionState::Connected => sh.emit(PeerEvent::Connected),
            gst_webrtc::WebRTCPeerConnectionState::Disconnected => sh.emit(PeerEvent::Disconnected),
            gst_webrtc::WebRTCPeerConnectionState::Failed => {
                sh.emit(PeerEvent::Failed("the peer connection failed".into()))
            }
            _ => {}
        }
    });
}

/// Watches the bus (errors, EOS) and releases recorded tracks that never start.
fn bus_loop(bus: gst::Bus, sh: Arc<Shared>, mux: Option<gst::Element>, track_timeout: Duration) {
    while !sh.shutdown.load(Ordering::Acquire) {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            match msg.view() {
                gst::MessageView::Error(e) if !sh.stopping.load(Ordering::Acquire) => {
                    let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    sh.emit(PeerEvent::Error(format!("{src}: {}", e.error())));
                }
                gst::MessageView::Eos(_)
                    if !sh.stopping.load(Ordering::Acquire) && !sh.remote_eos_sent.swap(true, Ordering::AcqRel) =>
                {
                    sh.emit(PeerEvent::Eos);
                }
                _ => {}
            }
        }
        if let (Some(mux), Some(t0)) = (&mux, sh.origin_wall.get())
            && t0.elapsed() >= track_timeout
        {
            for t in &sh.tracks {
                if let Some(pad) = &t.rec_pad
                    && t.rec_state.compare_exchange(PENDING, CLOSED, Ordering::AcqRel, Ordering::Acquire).is_ok()
                {
                    mux.release_request_pad(pad);
                }
            }
        }
    }
}

fn make(factory: &str) -> Result<gst::Element, PeerError> {
    gst::ElementFactory::make(factory).build().map_err(|e| perr(factory, e))
}

fn leaky_queue(max_time_ns: u64, max_buffers: u32) -> Result<gst::Element, PeerError> {
    gst::ElementFactory::make("queue")
        .property_from_str("leaky", "downstream")
        .property("max-size-time", max_time_ns)
        .property("max-size-buffers", max_buffers)
        .property("max-size-bytes", 0u32)
        .build()
        .map_err(|e| perr("queue", e))
}

/// Links a new webrtcbin source pad: an accepted track gets depay → tee → decode + record; anything else a
/// fakesink.
fn link_incoming(pipeline: &gst::Pipeline, pad: &gst::Pad, sh: &Arc<Shared>) -> Result<(), PeerError> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let s = caps.structure(0);
    let media = s.and_then(|s| s.get::<&str>("media").ok()).unwrap_or_default();
    let enc = s.and_then(|s| s.get::<&str>("encoding-name").ok()).unwrap_or_default().to_ascii_uppercase();
    let ssrc = s.and_then(|s| s.get::<u32>("ssrc").ok());
    let kind = match (media, enc.as_str()) {
        ("video", "VP8" | "H264") => Some(Kind::Video),
        ("audio", "OPUS") => Some(Kind::Audio),
        _ => None,
    };
    let kind = kind.filter(|k| !sh.track(*k).taken.swap(true, Ordering::AcqRel));
    let Some(kind) = kind else {
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|e| perr("fakesink", e))?;
        pipeline.add(&sink).map_err(|e| perr("add fakesink", e))?;
        sink.sync_state_with_parent().map_err(|e| perr("fakesink state", e))?;
        let sinkpad = sink.static_pad("sink").ok_or_else(|| perr("fakesink", "no sink pad"))?;
        pad.link(&sinkpad).map_err(|e| perr("link fakesink", e))?;
        return Ok(());
    };
    let t = sh.track(kind);
    if let Some(ssrc) = ssrc {
        t.ssrc.store(ssrc as u64, Ordering::Relaxed);
        if kind == Kind::Video {
            sh.repair.video_ssrc(ssrc);
        }
    }
    let _ = t.codec.set(enc.clone());

    // Elements, upstream to downstream: depay → tee, then a decode and a record branch, each a guarded bin.
    let h264 = enc == "H264";
    let depay = match enc.as_str() {
        "VP8" | "H264" => gst::ElementFactory::make(if h264 { "rtph264depay" } else { "rtpvp8depay" })
            .property("request-keyframe", true)
            .property("wait-for-keyframe", true)
            .build()
            .map_err(|e| perr("video depayloader", e))?,
        _ => make("rtpopusdepay")?,
    };
    let tee =
        gst::ElementFactory::make("tee").property("allow-not-linked", true).build().map_err(|e| perr("tee", e))?;

    // Decode: queue (leaky: the network path never waits for analysis) → [parse] → decoder → leaky queue → the
    // file decoder's branch → appsink.
    let mut decode = vec![leaky_queue(3_000_000_000, 0)?];
    match enc.as_str() {
        "VP8" => decode.push(make("vp8dec")?),
        "H264" => {
            decode.push(make("h264parse")?);
            decode.push(make("avdec_h264")?);
        }
        _ => decode
            .push(gst::ElementFactory::make("opusdec").property("plc", true).build().map_err(|e| perr("opusdec", e))?),
    }
    decode.push(match kind {
        // Decoded frames are dropped here when analysis falls behind, never encoded ones (a decoder that loses
        // a reference frame smears until the next keyframe). It must hold the burst that comes when the
        // jitterbuffer releases what arrived while this track was being linked: 5 frames lost the call's first
        // 2-4 frames on a loaded machine (measured; the recording had them).
        Kind::Video => leaky_queue(1_000_000_000, 30)?,
        Kind::Audio => leaky_queue(1_000_000_000, 0)?,
    });
    let desc = if kind == Kind::Video { VIDEO_BRANCH } else { AUDIO_BRANCH };
    let branch = gst::parse::bin_from_description(desc, true).map_err(|e| perr("decode branch", e))?;
    let appsink = branch
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| perr("decode branch", "no appsink named sink"))?;
    install_appsink(&appsink, kind, sh.clone());
    decode.push(branch.upcast());
    let weak = Arc::downgrade(sh);
    let decode_bin = guarded_bin(&decode, false, move |e| {
        if let Some(sh) = weak.upgrade()
            && !sh.stopping.load(Ordering::Acquire)
            && !sh.track(kind).decode_failed.swap(true, Ordering::AcqRel)
        {
            sh.emit(PeerEvent::Error(format!("{} decoding stopped: {e:?}", kind_name(kind))));
        }
    })?;

    // Record: queue (leaky, 10 s: waits for the other track's first buffer) → [h264parse → avc3] → mux pad.
    // avc3 keeps SPS/PPS in-band, so a resolution change mid-call does not change the track's caps in a way
    // Matroska refuses.
    let rec = match (&t.rec_pad, t.rec_state.load(Ordering::Acquire)) {
        (Some(mux_pad), PENDING) => {
            let queue = leaky_queue(10_000_000_000, 0)?;
            let mut elems = vec![queue.clone()];
            if h264 {
                elems.push(make("h264parse")?);
                elems.push(
                    gst::ElementFactory::make("capsfilter")
                        .property(
                            "caps",
                            gst::Caps::builder("video/x-h264")
                                .field("stream-format", "avc3")
                                .field("alignment", "au")
                                .build(),
                        )
                        .build()
                        .map_err(|e| perr("capsfilter", e))?,
                );
            }
            let weak = Arc::downgrade(sh);
            let bin = guarded_bin(&elems, true, move |e| {
                if let Some(sh) = weak.upgrade() {
                    let t = sh.track(kind);
                    // Stop feeding it; the rest of the call goes on.
                    t.rec_state.store(CLOSED, Ordering::Release);
                    if !t.rec_failed.swap(true, Ordering::AcqRel) {
                        let msg = format!("recording {} stopped: {e:?}", kind_name(kind));
                        let _ = sh.rec_error.set(msg.clone());
                        if !sh.stopping.load(Ordering::Acquire) {
                            sh.emit(PeerEvent::Error(msg));
                        }
                    }
                }
            })?;
            // Drop everything if the track was released from the muxer (or failed) meanwhile.
            let weak = Arc::downgrade(sh);
            if let Some(qsink) = queue.static_pad("sink") {
                qsink.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, _| {
                    match weak.upgrade() {
                        Some(sh) if sh.track(kind).rec_state.load(Ordering::Acquire) != CLOSED => {
                            gst::PadProbeReturn::Ok
                        }
                        _ => gst::PadProbeReturn::Drop,
                    }
                });
            }
            let _ = t.rec_queue.set(queue);
            Some((bin, mux_pad.clone()))
        }
        _ => None,
    };

    pipeline.add_many([&depay, &tee]).map_err(|e| perr("add track", e))?;
    pipeline.add(&decode_bin).map_err(|e| perr("add decode", e))?;
    depay.link(&tee).map_err(|e| perr("link track", e))?;
    tee.link(&decode_bin).map_err(|e| perr("link decode", e))?;
    if let Some((bin, mux_pad)) = &rec {
        pipeline.add(bin).map_err(|e| perr("add record branch", e))?;
        tee.link(bin).map_err(|e| perr("link record branch", e))?;
        let src = bin.static_pad("src").ok_or_else(|| perr("record branch", "no src pad"))?;
        src.link(mux_pad).map_err(|e| perr("link muxer", e))?;
    }

    if kind == Kind::Video
        && let Some(sinkpad) = depay.static_pad("sink")
    {
        // Keyframe requests leave the depayloader upstream through its sink pad: its own (one per dropped frame
        // while it waits for a keyframe) and `request_keyframe`'s. The gate paces them.
        let weak = Arc::downgrade(sh);
        sinkpad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            let Some(sh) = weak.upgrade() else { return gst::PadProbeReturn::Ok };
            let is_request = info.event().is_some_and(|e| gst_video::ForceKeyUnitEvent::is(e));
            if !is_request {
                return gst::PadProbeReturn::Ok;
            }
            let explicit = sh.keyframe_explicit.load(Ordering::Acquire);
            let now = sh.created.elapsed();
            let pass = sh.keyframes.lock().map(|mut g| g.ask(now, explicit)).unwrap_or(true);
            if pass { gst::PadProbeReturn::Ok } else { gst::PadProbeReturn::Drop }
        });
    }

    let depay_src = depay.static_pad("src").ok_or_else(|| perr("depayloader", "no src pad"))?;
    let weak = Arc::downgrade(sh);
    depay_src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let (Some(sh), Some(buffer)) = (weak.upgrade(), info.buffer_mut()) else { return gst::PadProbeReturn::Ok };
        on_depayed(&sh, kind, pad, buffer)
    });

    let _ = t.depay.set(depay.clone());
    let _ = t.tee.set(tee.clone());

    // Start downstream first, then connect webrtcbin.
    decode_bin.sync_state_with_parent().map_err(|e| perr("decode state", e))?;
    if let Some((bin, _)) = &rec {
        bin.sync_state_with_parent().map_err(|e| perr("record state", e))?;
    }
    for e in [&tee, &depay] {
        e.sync_state_with_parent().map_err(|e| perr("track state", e))?;
    }
    let depay_sink = depay.static_pad("sink").ok_or_else(|| perr("depayloader", "no sink pad"))?;
    pad.link(&depay_sink).map_err(|e| perr("link webrtcbin pad", e))?;
    Ok(())
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Video => "video",
        Kind::Audio => "audio",
    }
}

/// A bin of `elems` (linked in order) whose ghost sink pad answers OK upstream whatever the branch returns
/// (flushing excepted), calling `on_error` instead: a muxer or decoder refusing data cannot stop the tee, the other
/// branch or the transport. With `src`, the last element's source pad is ghosted too.
fn guarded_bin(
    elems: &[gst::Element],
    src: bool,
    on_error: impl Fn(gst::FlowError) + Send + Sync + 'static,
) -> Result<gst::Bin, PeerError> {
    let bin = gst::Bin::new();
    bin.add_many(elems.iter()).map_err(|e| perr("guarded bin", e))?;
    gst::Element::link_many(elems.iter()).map_err(|e| perr("guarded bin link", e))?;
    let first = elems.first().and_then(|e| e.static_pad("sink")).ok_or_else(|| perr("guarded bin", "no sink"))?;
    let on_error = Arc::new(on_error);
    let on_list_error = on_error.clone();
    let swallow = |r: Result<gst::FlowSuccess, gst::FlowError>, on_error: &dyn Fn(gst::FlowError)| match r {
        Err(gst::FlowError::Flushing) => Err(gst::FlowError::Flushing),
        Err(e) => {
            on_error(e);
            Ok(gst::FlowSuccess::Ok)
        }
        ok => ok,
    };
    let ghost = gst::GhostPad::builder_with_target(&first)
        .map_err(|e| perr("guarded bin pad", e))?
        .name("sink")
        .chain_function(move |pad, parent, buffer| {
            swallow(gst::ProxyPad::chain_default(pad, parent, buffer), on_error.as_ref())
        })
        .chain_list_function(move |pad, parent, list| {
            swallow(gst::ProxyPad::chain_list_default(pad, parent, list), on_list_error.as_ref())
        })
        .build();
    bin.add_pad(&ghost).map_err(|e| perr("guarded bin pad", e))?;
    if src {
        let last = elems.last().and_then(|e| e.static_pad("src")).ok_or_else(|| perr("guarded bin", "no src"))?;
        let ghost =
            gst::GhostPad::builder_with_target(&last).map_err(|e| perr("guarded bin pad", e))?.name("src").build();
        bin.add_pad(&ghost).map_err(|e| perr("guarded bin pad", e))?;
    }
    Ok(bin)
}

fn on_depayed(sh: &Shared, kind: Kind, pad: &gst::Pad, buffer: &mut gst::Buffer) -> gst::PadProbeReturn {
    if sh.stopping.load(Ordering::Acquire) {
        return gst::PadProbeReturn::Drop;
    }
    let Some(mut rt) = running_time_on_pad(pad, buffer) else { return gst::PadProbeReturn::Ok };
    let t = sh.track(kind);
    let last = t.last_rt.load(Ordering::Acquire);
    if last != NONE && rt <= last && t.started.load(Ordering::Acquire) {
        // Never let a track go back in time: both the live path and the recording see the corrected buffer.
        let shift = last - rt + 1;
        let b = buffer.make_mut();
        if let Some(pts) = b.pts() {
            b.set_pts(pts + gst::ClockTime::from_nseconds(shift));
        }
        if let Some(dts) = b.dts() {
            b.set_dts(dts + gst::ClockTime::from_nseconds(shift));
        }
        rt += shift;
        sh.counters.pts_fixups.fetch_add(1, Ordering::Relaxed);
    }
    t.last_rt.store(rt, Ordering::Release);
    let origin = sh.origin_or_set(rt);
    if !t.started.load(Ordering::Acquire) {
        if t.rec_state.compare_exchange(PENDING, STARTED, Ordering::AcqRel, Ordering::Acquire).is_ok()
            && let Some(q) = t.rec_queue.get()
            && let Some(qsrc) = q.static_pad("src")
        {
            // The recording's timeline starts at the origin (see the module doc).
            qsrc.set_offset(-(origin.min(i64::MAX as u64) as i64));
            t.rec_ever.store(true, Ordering::Release);
        }
        if !t.started.swap(true, Ordering::AcqRel) {
            sh.emit(PeerEvent::FirstMedia { video: kind == Kind::Video });
        }
    }
    let pts = sh.media_time(rt).0;
    sh.first_pts.fetch_min(pts, Ordering::AcqRel);
    sh.last_pts.fetch_max(pts, Ordering::AcqRel);
    let c = &sh.counters;
    match kind {
        Kind::Video => {
            c.video_bytes.fetch_add(buffer.size() as u64, Ordering::Relaxed);
            c.video_encoded_frames.fetch_add(1, Ordering::Relaxed);
        }
        Kind::Audio => {
            c.audio_bytes.fetch_add(buffer.size() as u64, Ordering::Relaxed);
            c.audio_packets.fetch_add(1, Ordering::Relaxed);
        }
    }
    gst::PadProbeReturn::Ok
}

fn install_appsink(appsink: &gst_app::AppSink, kind: Kind, sh: Arc<Shared>) {
    let sh_eos = sh.clone();
    let builder = gst_app::AppSinkCallbacks::builder().eos(move |_| {
        let t = sh_eos.track(kind);
        if !t.sink_eos.swap(true, Ordering::AcqRel) {
            sh_eos.note(Note::SinkEos);
        }
        // Every track that started has ended and nobody asked: the remote ended the call's media.
        let all_ended =
            sh_eos.tracks.iter().all(|t| !t.started.load(Ordering::Acquire) || t.sink_eos.load(Ordering::Acquire));
        if all_ended && !sh_eos.stopping.load(Ordering::Acquire) && !sh_eos.remote_eos_sent.swap(true, Ordering::AcqRel)
        {
            sh_eos.emit(PeerEvent::Eos);
        }
    });
    let callbacks = match kind {
        Kind::Video => builder
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let index = sh.counters.video_frames.fetch_add(1, Ordering::Relaxed) + sh.frame_offset;
                if let Some(f) = to_video_frame(&sample, &sh, index) {
                    deliver(&sh, MediaEvent::Video(f));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
        Kind::Audio => builder
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                sh.counters.audio_chunks.fetch_add(1, Ordering::Relaxed);
                if let Some(a) = to_audio_chunk(&sample, &sh) {
                    deliver(&sh, MediaEvent::Audio(a));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    };
    appsink.set_callbacks(callbacks);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 39\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=rtpmap:96 VP9/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n\
a=rtpmap:103 H264/90000\r\na=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n\
a=rtpmap:39 AV1/90000\r\n";

    #[test]
    fn summary_picks_first_acceptable_codec() {
        let s = inspect_offer(CHROME_LIKE).expect("acceptable offer");
        assert_eq!(s.video_codecs, vec!["VP9", "H264", "AV1"]);
        assert_eq!(s.video_codec.as_deref(), Some("H264"));
        assert_eq!(s.media[1].chosen_pt, Some(103));
        assert_eq!(s.media[1].twcc_id, Some(3));
        assert_eq!(s.audio_codec.as_deref(), Some("OPUS"));
        assert!(s.twcc);
    }

    #[test]
    fn opus_fec_is_added_when_missing() {
        super::super::init().expect("gstreamer");
        let mut media = gst_sdp::SDPMedia::new();
        media.set_media("audio");
        media.add_attribute("rtpmap", Some("111 OPUS/48000/2"));
        media.add_attribute("fmtp", Some("111 minptime=10;useinbandfec=0"));
        ensure_opus_fec(&mut media);
        assert_eq!(media.attribute_val("fmtp"), Some("111 minptime=10;useinbandfec=1"));
    }
}
