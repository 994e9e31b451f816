//! A WebRTC sender fed from a recorded file, for tests, QA and load benchmarks: `filesrc ! decodebin`, scaled and
//! re-encoded (VP8 or H.264, Opus) at a chosen size, rate and bitrate, paced in real time by `clocksync`, into a
//! `webrtcbin` offerer (non-trickle).
//!
//! The pipeline stays in READY until [`Sender::set_answer`], so the file is sent from its start once the answer is
//! known; the offer is made from codec preferences set on the transceivers. It answers PLI/FIR with a keyframe
//! (the encoder sees webrtcbin's force-key-unit events).
//!
//! May use `gstreamer*` and `crossbeam-channel`; nothing here is used by the server's live path.

use super::peer::{PeerError, TWCC_URI, promise_call};
use crossbeam_channel::Receiver;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_pbutils as gst_pbutils;
use gstreamer_sdp as gst_sdp;
use gstreamer_webrtc as gst_webrtc;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Video codec the sender encodes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendCodec {
    Vp8,
    /// H.264 constrained baseline (`x264enc`, else `openh264enc`).
    H264,
    /// H.264 high profile (`x264enc` only).
    H264High,
}

#[derive(Clone, Debug)]
pub struct SenderConfig {
    pub codec: SendCodec,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// Send the file's audio (Opus), if it has any.
    pub audio: bool,
    /// Gather only 127.0.0.1.
    pub loopback: bool,
    /// Pace the media in real time (`clocksync`); without it the file is pushed as fast as it decodes.
    pub realtime: bool,
    /// Stop (EOS) after this much of the file.
    pub max_duration: Option<Duration>,
    /// Offer an Opus track but never send on it (a microphone that never starts). Ignored when audio is sent.
    pub offer_unused_audio: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            codec: SendCodec::Vp8,
            width: 480,
            height: 360,
            fps: 15,
            bitrate_kbps: 600,
            audio: true,
            loopback: false,
            realtime: true,
            max_duration: None,
            offer_unused_audio: false,
        }
    }
}

const GATHER_TIMEOUT: Duration = Duration::from_secs(3);
const VIDEO_PT: u32 = 96;
const AUDIO_PT: u32 = 111;
const TWCC_ID: u32 = 3;

/// A running file sender. Dropping it stops the pipeline (no EOS is sent to the remote).
pub struct Sender {
    pipeline: gst::Pipeline,
    video_caps: Option<gst::Element>,
    video_valve: Option<gst::Element>,
    webrtc: gst::Element,
    chains: usize,
    eos_count: Arc<AtomicUsize>,
    eos_rx: Receiver<()>,
    bus: gst::Bus,
    path: PathBuf,
    error: std::sync::OnceLock<String>,
}

fn perr(context: &str, e: impl std::fmt::Display) -> PeerError {
    PeerError::Pipeline(format!("sender {context}: {e}"))
}

fn make(factory: &str) -> Result<gst::Element, PeerError> {
    gst::ElementFactory::make(factory).build().map_err(|e| perr(factory, e))
}

fn discover(abs: &Path, shown: &Path) -> Result<(bool, bool), PeerError> {
    let input = |message: String| PeerError::Input { path: shown.to_owned(), message };
    let uri = gst::glib::filename_to_uri(abs, None).map_err(|e| input(e.to_string()))?;
    let discoverer =
        gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(10)).map_err(|e| input(e.to_string()))?;
    let info = discoverer.discover_uri(&uri).map_err(|e| input(e.to_string()))?;
    Ok((!info.video_streams().is_empty(), !info.audio_streams().is_empty()))
}

struct Chain {
    first: gst::Element,
    payloader: gst::Element,
    caps: gst::Caps,
    /// The raw-video capsfilter (size and rate), video only.
    raw: Option<gst::Element>,
    /// Drops raw video while closed (a paused camera track), video only.
    valve: Option<gst::Element>,
}

fn video_chain(pipeline: &gst::Pipeline, cfg: &SenderConfig) -> Result<Chain, PeerError> {
    let queue = make("queue")?;
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
    let rate = make("videorate")?;
    let raw = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", cfg.width.clamp(16, 4096) as i32)
                .field("height", cfg.height.clamp(16, 4096) as i32)
                .field("framerate", gst::Fraction::new(cfg.fps.clamp(1, 120) as i32, 1))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )
        .build()
        .map_err(|e| perr("capsfilter", e))?;
    let keyint = (cfg.fps.clamp(1, 120) * 2) as i32;
    let mut elems = vec![queue.clone(), convert, scale, rate, raw.clone()];
    if cfg.realtime {
        elems.push(make("clocksync")?);
    }
    let valve = make("valve")?;
    elems.push(valve.clone());
    let (encoder, pay, caps) = match cfg.codec {
        SendCodec::Vp8 => {
            let enc = gst::ElementFactory::make("vp8enc")
                .property("deadline", 1i64)
                .property("target-bitrate", (cfg.bitrate_kbps.max(50) * 1000) as i32)
                .property("keyframe-max-dist", keyint)
                .property("cpu-used", 8i32)
                .property_from_str("end-usage", "cbr")
                .property("lag-in-frames", 0i32)
                .property("threads", 2i32)
                .build()
                .map_err(|e| perr("vp8enc", e))?;
            let pay = gst::ElementFactory::make("rtpvp8pay")
                .property("pt", VIDEO_PT)
                .property_from_str("picture-id-mode", "15-bit")
                .build()
                .map_err(|e| perr("rtpvp8pay", e))?;
            let caps = gst::Caps::builder("application/x-rtp")
                .field("media", "video")
                .field("encoding-name", "VP8")
                .field("payload", VIDEO_PT as i32)
                .field("clock-rate", 90000i32)
                .build();
            (vec![enc], pay, caps)
        }
        SendCodec::H264 | SendCodec::H264High => {
            let high = cfg.codec == SendCodec::H264High;
            let mut encs = Vec::new();
            if let Ok(enc) = gst::ElementFactory::make("x264enc")
                .property_from_str("tune", "zerolatency")
                .property_from_str("speed-preset", "ultrafast")
                .property("bitrate", cfg.bitrate_kbps.max(50))
                .property("key-int-max", keyint as u32)
                .property("threads", 2u32)
                .build()
            {
                encs.push(enc);
            } else if !high {
                encs.push(
                    gst::ElementFactory::make("openh264enc")
                        .property("bitrate", cfg.bitrate_kbps.max(50) * 1000)
                        .property("gop-size", keyint as u32)
                        .build()
                        .map_err(|e| perr("openh264enc", e))?,
                );
            } else {
                return Err(perr("x264enc", "not installed (needed for high profile)"));
            }
            let profile = if high { "high" } else { "constrained-baseline" };
            encs.push(
                gst::ElementFactory::make("capsfilter")
                    .property("caps", gst::Caps::builder("video/x-h264").field("profile", profile).build())
                    .build()
                    .map_err(|e| perr("capsfilter", e))?,
            );
            let pay = gst::ElementFactory::make("rtph264pay")
                .property("pt", VIDEO_PT)
                .property("config-interval", -1i32)
                .property_from_str("aggregate-mode", "zero-latency")
                .build()
                .map_err(|e| perr("rtph264pay", e))?;
            let caps = gst::Caps::builder("application/x-rtp")
                .field("media", "video")
                .field("encoding-name", "H264")
                .field("payload", VIDEO_PT as i32)
                .field("clock-rate", 90000i32)
                // No profile-level-id: the payloader's (from the SPS) would have to match it exactly.
                .field("packetization-mode", "1")
                .build();
            (encs, pay, caps)
        }
    };
    elems.extend(encoder);
    elems.push(pay.clone());
    pipeline.add_many(elems.iter()).map_err(|e| perr("add video", e))?;
    gst::Element::link_many(elems.iter()).map_err(|e| perr("link video", e))?;
    let mut caps = caps;
    {
        let s = caps.make_mut().structure_mut(0).ok_or_else(|| perr("caps", "empty"))?;
        s.set(format!("extmap-{TWCC_ID}").as_str(), TWCC_URI);
        s.set("rtcp-fb-nack", true);
        s.set("rtcp-fb-nack-pli", true);
        s.set("rtcp-fb-ccm-fir", true);
        s.set("rtcp-fb-transport-cc", true);
    }
    Ok(Chain { first: queue, payloader: pay, caps, raw: Some(raw), valve: Some(valve) })
}

fn audio_chain(pipeline: &gst::Pipeline, cfg: &SenderConfig) -> Result<Chain, PeerError> {
    let queue = make("queue")?;
    let mut elems = vec![queue.clone(), make("audioconvert")?, make("audioresample")?];
    elems.push(
        gst::ElementFactory::make("capsfilter")
            .property("caps", gst::Caps::builder("audio/x-raw").field("rate", 48000i32).field("channels", 1i32).build())
            .build()
            .map_err(|e| perr("capsfilter", e))?,
    );
    if cfg.realtime {
        elems.push(make("clocksync")?);
    }
    elems.push(
        gst::ElementFactory::make("opusenc")
            .property("bitrate", 32000i32)
            .property("inband-fec", true)
            .build()
            .map_err(|e| perr("opusenc", e))?,
    );
    let pay =
        gst::ElementFactory::make("rtpopuspay").property("pt", AUDIO_PT).build().map_err(|e| perr("rtpopuspay", e))?;
    elems.push(pay.clone());
    pipeline.add_many(elems.iter()).map_err(|e| perr("add audio", e))?;
    gst::Element::link_many(elems.iter()).map_err(|e| perr("link audio", e))?;
    Ok(Chain { first: queue, payloader: pay, caps: opus_caps(), raw: None, valve: None })
}

fn opus_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .field("encoding-name", "OPUS")
        .field("payload", AUDIO_PT as i32)
        .field("clock-rate", 48000i32)
        .field("encoding-params", "2")
        .field("minptime", "10")
        .field("useinbandfec", "1")
        .field(format!("extmap-{TWCC_ID}").as_str(), TWCC_URI)
        .field("rtcp-fb-transport-cc", true)
        .build()
}

/// Ends a chain (EOS downstream, EOS upstream) once the file position passes `limit`.
fn limit_chain(first: &gst::Element, limit: Duration) {
    let Some(pad) = first.static_pad("sink") else { return };
    let done = Arc::new(AtomicBool::new(false));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let past = info
            .buffer()
            .and_then(|b| b.pts())
            .is_some_and(|pts| pts.nseconds() >= limit.as_nanos().min(u64::MAX as u128) as u64);
        if !past && !done.load(Ordering::Acquire) {
            return gst::PadProbeReturn::Ok;
        }
        if !done.swap(true, Ordering::AcqRel) {
            let _ = pad.send_event(gst::event::Eos::new());
        }
        info.flow_res = Err(gst::FlowError::Eos);
        gst::PadProbeReturn::Handled
    });
}

impl Sender {
    /// Builds the sender for `file` and returns the offer SDP (ICE gathering complete). Media starts flowing once
    /// [`Sender::set_answer`] succeeds.
    pub fn offer(file: &Path, cfg: SenderConfig) -> Result<(Sender, String), PeerError> {
        super::init()?;
        let abs = std::fs::canonicalize(file)
            .map_err(|e| PeerError::Input { path: file.to_owned(), message: e.to_string() })?;
        let (has_video, has_audio) = discover(&abs, file)?;
        if !has_video {
            return Err(PeerError::Input { path: file.to_owned(), message: "no video track".into() });
        }
        let pipeline = gst::Pipeline::with_name("file-sender");
        let webrtc = gst::ElementFactory::make("webrtcbin")
            .name("send")
            .property_from_str("bundle-policy", "max-bundle")
            .build()
            .map_err(|e| perr("webrtcbin", e))?;
        let src = gst::ElementFactory::make("filesrc")
            .property("location", abs.to_string_lossy().to_string())
            .build()
            .map_err(|e| perr("filesrc", e))?;
        let decodebin = make("decodebin")?;
        pipeline.add_many([&webrtc, &src, &decodebin]).map_err(|e| perr("add", e))?;
        src.link(&decodebin).map_err(|e| perr("link", e))?;

        let video = video_chain(&pipeline, &cfg)?;
        let audio = if cfg.audio && has_audio { Some(audio_chain(&pipeline, &cfg)?) } else { None };
        let (eos_tx, eos_rx) = crossbeam_channel::bounded(4);
        let eos_count = Arc::new(AtomicUsize::new(0));
        let mut chains = 0;
        for chain in std::iter::once(&video).chain(audio.as_ref()) {
            chains += 1;
            let sinkpad = webrtc.request_pad_simple("sink_%u").ok_or_else(|| perr("webrtcbin", "no sink pad"))?;
            let trans = sinkpad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
            trans.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly);
            trans.set_codec_preferences(Some(&chain.caps));
            if std::ptr::eq(chain, &video) {
                // Retransmit on NACK (RTX), as a browser does.
                trans.set_property("do-nack", true);
            }
            let paysrc = chain.payloader.static_pad("src").ok_or_else(|| perr("payloader", "no src pad"))?;
            paysrc.link(&sinkpad).map_err(|e| perr("link webrtcbin", e))?;
            let (count, tx) = (eos_count.clone(), eos_tx.clone());
            paysrc.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                if let Some(gst::PadProbeData::Event(ev)) = &info.data
                    && ev.type_() == gst::EventType::Eos
                {
                    count.fetch_add(1, Ordering::AcqRel);
                    let _ = tx.try_send(());
                }
                gst::PadProbeReturn::Ok
            });
            if let Some(limit) = cfg.max_duration {
                limit_chain(&chain.first, limit);
            }
        }

        if audio.is_none() && cfg.offer_unused_audio {
            let sinkpad = webrtc.request_pad_simple("sink_%u").ok_or_else(|| perr("webrtcbin", "no sink pad"))?;
            let trans = sinkpad.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
            trans.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly);
            trans.set_codec_preferences(Some(&opus_caps()));
        }

        let weak = pipeline.downgrade();
        let video_sink = video.first.static_pad("sink").ok_or_else(|| perr("queue", "no sink pad"))?;
        let audio_sink = audio.as_ref().and_then(|a| a.first.static_pad("sink"));
        decodebin.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
            let target = if name.starts_with("video/") && !video_sink.is_linked() {
                Some(video_sink.clone())
            } else if name.starts_with("audio/") {
                audio_sink.clone().filter(|p| !p.is_linked())
            } else {
                None
            };
            if let Some(target) = target {
                let _ = pad.link(&target);
                return;
            }
            if let Ok(sink) =
                gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
                && pipeline.add(&sink).is_ok()
            {
                let _ = sink.sync_state_with_parent();
                if let Some(p) = sink.static_pad("sink") {
                    let _ = pad.link(&p);
                }
            }
        });

        let bus = pipeline.bus().ok_or_else(|| perr("pipeline", "no bus"))?;
        let sender = Sender {
            video_caps: video.raw.clone(),
            video_valve: video.valve.clone(),
            pipeline: pipeline.clone(),
            webrtc: webrtc.clone(),
            chains,
            eos_count,
            eos_rx,
            bus,
            path: file.to_owned(),
            error: std::sync::OnceLock::new(),
        };
        pipeline.set_state(gst::State::Ready).map_err(|e| perr("ready", e))?;
        if cfg.loopback {
            let agent = webrtc.property::<gst_webrtc::WebRTCICE>("ice-agent");
            agent.emit_by_name::<bool>("add-local-ip-address", &[&"127.0.0.1"]);
        }
        let reply = promise_call(&webrtc, "create-offer", &None::<gst::Structure>)?
            .ok_or_else(|| PeerError::Negotiation { step: "create-offer", message: "no reply".into() })?;
        let offer = reply
            .get::<gst_webrtc::WebRTCSessionDescription>("offer")
            .map_err(|e| PeerError::Negotiation { step: "create-offer", message: e.to_string() })?;
        let (gathered_tx, gathered_rx) = crossbeam_channel::bounded::<()>(1);
        webrtc.connect_notify(Some("ice-gathering-state"), move |w, _| {
            if w.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
                == gst_webrtc::WebRTCICEGatheringState::Complete
            {
                let _ = gathered_tx.try_send(());
            }
        });
        promise_call(&webrtc, "set-local-description", &offer)?;
        if webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            != gst_webrtc::WebRTCICEGatheringState::Complete
        {
            let _ = gathered_rx.recv_timeout(GATHER_TIMEOUT);
        }
        let local = webrtc
            .property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")
            .ok_or_else(|| PeerError::Negotiation { step: "local-description", message: "none set".into() })?;
        let text =
            local.sdp().as_text().map_err(|e| PeerError::Negotiation { step: "offer text", message: e.to_string() })?;
        Ok((sender, text))
    }

    /// Sets the remote answer and starts sending.
    pub fn set_answer(&self, answer_sdp: &str) -> Result<(), PeerError> {
        let msg = gst_sdp::SDPMessage::parse_buffer(answer_sdp.as_bytes())
            .map_err(|e| PeerError::Malformed(e.to_string()))?;
        let desc = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Answer, msg);
        promise_call(&self.webrtc, "set-remote-description", &desc)?;
        self.pipeline.set_state(gst::State::Playing).map_err(|e| perr("play", e))?;
        Ok(())
    }

    /// True when every track was sent to its end (or `max_duration`) within `timeout`; false on timeout or error.
    pub fn wait_eos(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.eos_count.load(Ordering::Acquire) >= self.chains {
                return true;
            }
            if self.error().is_some() {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.eos_rx.recv_timeout(left.min(Duration::from_millis(50)));
        }
    }

    /// The first error the pipeline posted, if any.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = self.error.get() {
            return Some(e.clone());
        }
        let msg = self.bus.pop_filtered(&[gst::MessageType::Error])?;
        let gst::MessageView::Error(e) = msg.view() else { return None };
        let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
        let text = format!("{}: {src}: {} ({})", self.path.display(), e.error(), e.debug().unwrap_or_default());
        Some(self.error.get_or_init(|| text).clone())
    }

    /// Changes the sent video size mid-stream (as a browser does when it adapts to the network).
    pub fn set_video_size(&self, width: u32, height: u32) {
        let Some(filter) = &self.video_caps else { return };
        let Some(mut caps) = filter.property::<Option<gst::Caps>>("caps") else { return };
        if let Some(s) = caps.make_mut().structure_mut(0) {
            s.set("width", width.clamp(16, 4096) as i32);
            s.set("height", height.clamp(16, 4096) as i32);
        }
        filter.set_property("caps", &caps);
    }

    /// Pauses or resumes the video track, as a browser does when an encoding is set inactive: no packets while
    /// paused, and the RTP clock jumps by the pause when it resumes.
    pub fn pause_video(&self, paused: bool) {
        if let Some(v) = &self.video_valve {
            v.set_property("drop", paused);
        }
    }

    /// The connection state as webrtcbin reports it ("new", "connecting", "connected", ...).
    pub fn connection_state(&self) -> String {
        let s = self.webrtc.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        format!("{s:?}").to_ascii_lowercase()
    }

    /// Stops sending (pipeline to Null).
    pub fn stop(self) {}
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
