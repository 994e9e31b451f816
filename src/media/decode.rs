//! Decoding a recorded file: `filesrc ! decodebin` plus one branch per track, built from the launch fragments in
//! `pipelines/` (video → RGB, audio → 16 kHz mono F32), ending in appsinks whose callbacks send owned frames into
//! a bounded channel. Media timestamps are running times, so analysis does not depend on decode speed.

use super::MediaError;
use crate::analysis::image::RgbFrame;
use crate::types::{FrameIndex, MediaTime};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_pbutils as gst_pbutils;
use gstreamer_pbutils::prelude::*;
use gstreamer_video as gst_video;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The video decode branch (must contain an appsink named `sink`).
pub const VIDEO_BRANCH: &str = include_str!("../../pipelines/decode_video.txt");
/// The audio decode branch (must contain an appsink named `sink`).
pub const AUDIO_BRANCH: &str = include_str!("../../pipelines/decode_audio.txt");
/// Audio sample rate delivered to analysis.
pub const AUDIO_RATE: u32 = 16_000;

#[derive(Clone, Debug)]
pub struct VideoFrame {
    pub pts: MediaTime,
    pub index: FrameIndex,
    pub image: RgbFrame,
}

#[derive(Clone, Debug)]
pub struct AudioChunk {
    pub pts: MediaTime,
    /// 16 kHz mono samples in [-1, 1].
    pub samples: Vec<f32>,
}

#[derive(Debug)]
pub enum MediaEvent {
    Video(VideoFrame),
    Audio(AudioChunk),
}

/// What the decoder does when the consumer is behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Block the streaming thread (replay: deterministic, nothing dropped).
    Block,
    /// Drop the newest item and count it (live: never stall the network path).
    DropNewest,
}

#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    pub backpressure: Backpressure,
    /// Capacity of the channel between GStreamer and the consumer.
    pub queue: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { backpressure: Backpressure::Block, queue: 16 }
    }
}

/// What the file contains, from GStreamer's discoverer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MediaInfo {
    pub duration_s: Option<f64>,
    pub container: Option<String>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
}

impl MediaInfo {
    pub fn has_video(&self) -> bool {
        self.video_codec.is_some()
    }
    pub fn has_audio(&self) -> bool {
        self.audio_codec.is_some()
    }
}

/// Counters the callbacks update (atomics: the only shared state between GStreamer threads and the consumer).
#[derive(Debug, Default)]
pub struct DecodeCounters {
    pub video_frames: AtomicU64,
    pub audio_chunks: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct Decoder {
    path: PathBuf,
    pipeline: gst::Pipeline,
    /// `None` only while dropping: closing it first unblocks streaming threads waiting on a full channel.
    rx: Option<Receiver<MediaEvent>>,
    bus: gst::Bus,
    info: MediaInfo,
    counters: Arc<DecodeCounters>,
    finished: bool,
}

impl Decoder {
    /// Probes and opens a recorded file. Non-media files, unknown codecs and files with no tracks are errors here.
    pub fn open(path: &Path, opts: DecodeOptions) -> Result<Self, MediaError> {
        super::init()?;
        let abs = std::fs::canonicalize(path)
            .map_err(|e| MediaError::Open { path: path.to_owned(), message: e.to_string() })?;
        if !abs.is_file() {
            return Err(MediaError::Open { path: path.to_owned(), message: "not a regular file".into() });
        }
        let info = discover(&abs, path)?;
        let (tx, rx) = crossbeam_channel::bounded(opts.queue.max(1));
        let counters = Arc::new(DecodeCounters::default());
        let pipeline = build_pipeline(&abs, tx, opts.backpressure, counters.clone(), &info)?;
        let bus = pipeline.bus().ok_or_else(|| MediaError::Pipeline("pipeline has no bus".into()))?;
        pipeline.set_state(gst::State::Playing).map_err(|_| MediaError::Decode {
            path: path.to_owned(),
            at: "start".into(),
            message: bus_error(&bus).unwrap_or_else(|| "cannot start the pipeline".into()),
        })?;
        Ok(Decoder { path: path.to_owned(), pipeline, rx: Some(rx), bus, info, counters, finished: false })
    }

    pub fn info(&self) -> &MediaInfo {
        &self.info
    }

    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// The next decoded item in arrival order; `Ok(None)` at the end of the stream. A decode error mid-stream is
    /// returned once; everything delivered before it stays valid.
    pub fn next_event(&mut self) -> Result<Option<MediaEvent>, MediaError> {
        let Some(rx) = self.rx.as_ref() else { return Ok(None) };
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(ev) => return Ok(Some(ev)),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(None),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if self.finished {
                return Ok(None);
            }
            while let Some(msg) = self.bus.pop() {
                match msg.view() {
                    gst::MessageView::Eos(_) => {
                        self.finished = true;
                    }
                    gst::MessageView::Error(e) => {
                        self.finished = true;
                        let at = self.last_position();
                        return Err(MediaError::Decode {
                            path: self.path.clone(),
                            at,
                            message: format!(
                                "{} ({})",
                                e.error(),
                                e.debug().map(|d| d.to_string()).unwrap_or_default()
                            ),
                        });
                    }
                    _ => {}
                }
            }
            if self.finished {
                // Anything the sinks sent before EOS is already queued: drain it first.
                return Ok(rx.try_recv().ok());
            }
        }
    }

    fn last_position(&self) -> String {
        self.pipeline
            .query_position::<gst::ClockTime>()
            .map(|p| format!("{:.3}s", p.nseconds() as f64 / 1e9))
            .unwrap_or_else(|| "unknown position".into())
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Close the channel first: streaming threads blocked on a full channel get an error and stop, so the
        // state change to Null cannot wait on them forever.
        drop(self.rx.take());
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn discover(abs: &Path, shown: &Path) -> Result<MediaInfo, MediaError> {
    let uri = gst::glib::filename_to_uri(abs, None)
        .map_err(|e| MediaError::Open { path: shown.to_owned(), message: e.to_string() })?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(15))
        .map_err(|e| MediaError::Pipeline(e.to_string()))?;
    let di = match discoverer.discover_uri(&uri) {
        Ok(di) => di,
        Err(e) if e.matches(gst::CoreError::MissingPlugin) => {
            let missing = probe_missing_decoders(abs);
            let missing = if missing.is_empty() { e.to_string() } else { missing.join(", ") };
            return Err(MediaError::UnsupportedCodec { path: shown.to_owned(), missing });
        }
        Err(e) => {
            return Err(MediaError::NotMedia { path: shown.to_owned(), message: e.to_string() });
        }
    };
    match di.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        gst_pbutils::DiscovererResult::MissingPlugins => {
            let missing: Vec<String> = di.missing_elements_installer_details().iter().map(|s| s.to_string()).collect();
            return Err(MediaError::UnsupportedCodec { path: shown.to_owned(), missing: missing.join(", ") });
        }
        other => {
            return Err(MediaError::NotMedia { path: shown.to_owned(), message: format!("{other:?}") });
        }
    }
    let describe =
        |caps: Option<gst::Caps>| caps.map(|c| gst_pbutils::functions::pb_utils_get_codec_description(&c).to_string());
    let mut info = MediaInfo {
        duration_s: di.duration().map(|d| d.nseconds() as f64 / 1e9),
        container: di.stream_info().and_then(|s| describe(s.caps())).filter(|_| !di.container_streams().is_empty()),
        ..Default::default()
    };
    if let Some(v) = di.video_streams().first() {
        info.video_codec = describe(v.caps());
        info.width = Some(v.width());
        info.height = Some(v.height());
        let fr = v.framerate();
        if fr.denom() > 0 && fr.numer() > 0 {
            info.frame_rate = Some(fr.numer() as f64 / fr.denom() as f64);
        }
    }
    if let Some(a) = di.audio_streams().first() {
        info.audio_codec = describe(a.caps());
    }
    if !info.has_video() && !info.has_audio() {
        return Err(MediaError::NoTracks { path: shown.to_owned() });
    }
    Ok(info)
}

/// Prerolls `filesrc ! decodebin` and collects GStreamer's missing-plugin messages, described with their caps
/// (e.g. "video/x-unknown decoder (codec-id=V_QQ8)"), so the error names what the file needs.
fn probe_missing_decoders(abs: &Path) -> Vec<String> {
    let desc = format!("filesrc location=\"{}\" ! decodebin ! fakesink", abs.to_string_lossy().replace('"', "\\\""));
    let Ok(pipeline) = gst::parse::launch(&desc) else { return Vec::new() };
    let Some(bus) = pipeline.bus() else { return Vec::new() };
    let _ = pipeline.set_state(gst::State::Paused);
    let mut missing = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else { continue };
        match msg.view() {
            gst::MessageView::Element(_) => {
                if let Ok(m) = gst_pbutils::MissingPluginMessage::parse(&msg) {
                    let detail = m.installer_detail().to_string();
                    let caps = detail.rsplit('|').next().unwrap_or_default().to_owned();
                    missing.push(format!("{} ({caps})", m.description()));
                }
            }
            gst::MessageView::Error(_) | gst::MessageView::AsyncDone(_) | gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    missing
}

fn bus_error(bus: &gst::Bus) -> Option<String> {
    bus.pop_filtered(&[gst::MessageType::Error]).and_then(|m| match m.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    })
}

fn send(tx: &Sender<MediaEvent>, ev: MediaEvent, bp: Backpressure, counters: &DecodeCounters) -> bool {
    match bp {
        Backpressure::Block => tx.send(ev).is_ok(),
        Backpressure::DropNewest => match tx.try_send(ev) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        },
    }
}

fn running_time(sample: &gst::Sample, buffer: &gst::BufferRef) -> Option<MediaTime> {
    let pts = buffer.pts()?;
    let rt = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>().and_then(|s| s.to_running_time(pts)))
        .unwrap_or(pts);
    Some(MediaTime(rt.nseconds()))
}

fn video_frame(sample: &gst::Sample, index: u64) -> Option<VideoFrame> {
    let buffer = sample.buffer()?;
    let caps = sample.caps()?;
    let vinfo = gst_video::VideoInfo::from_caps(caps).ok()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &vinfo).ok()?;
    let (w, h) = (vinfo.width(), vinfo.height());
    let stride = vinfo.stride()[0] as usize;
    let plane = frame.plane_data(0).ok()?;
    let row = w as usize * 3;
    let mut data = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        data.extend_from_slice(plane.get(y * stride..y * stride + row)?);
    }
    Some(VideoFrame {
        pts: running_time(sample, buffer).unwrap_or_default(),
        index: FrameIndex(index),
        image: RgbFrame::new(w, h, data)?,
    })
}

fn audio_chunk(sample: &gst::Sample) -> Option<AudioChunk> {
    let buffer = sample.buffer()?;
    let map = buffer.map_readable().ok()?;
    let samples = map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Some(AudioChunk { pts: running_time(sample, buffer).unwrap_or_default(), samples })
}

fn build_pipeline(
    abs: &Path,
    tx: Sender<MediaEvent>,
    bp: Backpressure,
    counters: Arc<DecodeCounters>,
    info: &MediaInfo,
) -> Result<gst::Pipeline, MediaError> {
    let perr = |e: &dyn std::fmt::Display| MediaError::Pipeline(e.to_string());
    let pipeline = gst::Pipeline::with_name("replay-decode");
    let src = gst::ElementFactory::make("filesrc")
        .property("location", abs.to_string_lossy().to_string())
        .build()
        .map_err(|e| perr(&e))?;
    let decodebin = gst::ElementFactory::make("decodebin").build().map_err(|e| perr(&e))?;
    pipeline.add_many([&src, &decodebin]).map_err(|e| perr(&e))?;
    src.link(&decodebin).map_err(|e| perr(&e))?;
    let (want_video, want_audio) = (info.has_video(), info.has_audio());
    let weak = pipeline.downgrade();
    let linked = Arc::new(std::sync::Mutex::new((false, false)));
    decodebin.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
        let is_video = name.starts_with("video/");
        let is_audio = name.starts_with("audio/");
        let mut l = linked.lock().unwrap_or_else(|p| p.into_inner());
        // One branch per kind; extra tracks go to a fakesink so nothing stalls on not-linked.
        let desc = if is_video && want_video && !l.0 {
            l.0 = true;
            VIDEO_BRANCH
        } else if is_audio && want_audio && !l.1 {
            l.1 = true;
            AUDIO_BRANCH
        } else {
            "fakesink sync=false"
        };
        drop(l);
        let Ok(bin) = gst::parse::bin_from_description(desc, true) else {
            return;
        };
        if let Some(sink) = bin.by_name("sink").and_then(|s| s.downcast::<gst_app::AppSink>().ok()) {
            let tx = tx.clone();
            let counters = counters.clone();
            let callbacks = if is_video {
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let index = counters.video_frames.fetch_add(1, Ordering::Relaxed);
                        if let Some(f) = video_frame(&sample, index)
                            && !send(&tx, MediaEvent::Video(f), bp, &counters)
                        {
                            return Err(gst::FlowError::Flushing);
                        }
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build()
            } else {
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        counters.audio_chunks.fetch_add(1, Ordering::Relaxed);
                        if let Some(a) = audio_chunk(&sample)
                            && !send(&tx, MediaEvent::Audio(a), bp, &counters)
                        {
                            return Err(gst::FlowError::Flushing);
                        }
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build()
            };
            sink.set_callbacks(callbacks);
        }
        if pipeline.add(&bin).is_err() {
            return;
        }
        let _ = bin.sync_state_with_parent();
        if let Some(sinkpad) = bin.static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
    });
    Ok(pipeline)
}
