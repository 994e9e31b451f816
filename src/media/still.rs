//! One still image from a recorded part: the decoded video frame at (or just before) a media time, as a JPEG no
//! wider than asked (the reviewer console's evidence frames and the export's report).
//!
//! `filesrc ! decodebin`, the video pad to `videoconvert ! video/x-raw,format=RGB ! appsink`, other pads to a
//! non-prerolling `fakesink`; the pipeline prerolls in PAUSED, an accurate flushing seek moves it to the time, and
//! the appsink's preroll sample is the frame. Scaling and JPEG encoding use the `image` crate. Works for the
//! parts the live peer records (Matroska with VP8 or H.264) and any file `decodebin` reads.
//!
//! Blocking (GStreamer state changes are waited on, bounded by [`TIMEOUT`]): call it from a blocking thread.

use crate::types::MediaTime;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Widest still the console serves.
pub const MAX_WIDTH: u32 = 640;
/// JPEG quality used by the console.
pub const JPEG_QUALITY: u8 = 85;
/// Longest any one step (preroll, seek) may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

const VIDEO_BRANCH: &str = "queue max-size-buffers=4 max-size-bytes=0 max-size-time=0 ! videoconvert ! \
    videoscale ! video/x-raw,format=RGB,pixel-aspect-ratio=1/1 ! appsink name=sink sync=false max-buffers=1 \
    emit-signals=false";

/// Why no still came out. Messages name no file paths (callers know which file they asked for).
#[derive(Debug, thiserror::Error)]
pub enum StillError {
    #[error("GStreamer is not usable: {0}")]
    Init(String),
    #[error("the recording cannot be opened: {0}")]
    Open(String),
    #[error("the recording is not readable media: {0}")]
    NotMedia(String),
    #[error("the recording has no video track")]
    NoVideo,
    #[error("{at} is outside the recording (it lasts {duration})")]
    OutOfRange { at: MediaTime, duration: MediaTime },
    #[error("decoding the frame failed: {0}")]
    Decode(String),
    #[error("the decoder did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
}

/// A still and where it came from.
#[derive(Clone, Debug)]
pub struct Still {
    pub jpeg: Vec<u8>,
    /// The frame's own time in the file (media time of the part, not the session).
    pub pts: MediaTime,
    pub width: u32,
    pub height: u32,
}

/// The frame of `path` shown at `at` (part-local media time), scaled to at most `max_width` pixels wide (aspect
/// kept), as a JPEG of `quality` (1-100).
pub fn extract_jpeg(path: &Path, at: MediaTime, max_width: u32, quality: u8) -> Result<Still, StillError> {
    let meta = std::fs::metadata(path).map_err(|e| StillError::Open(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(StillError::Open("not a regular file".into()));
    }
    if meta.len() == 0 {
        return Err(StillError::NotMedia("the file is empty".into()));
    }
    crate::media::init().map_err(|e| StillError::Init(e.to_string()))?;
    let p = Pipeline::build(path)?;
    p.wait_async_done()?;
    if !p.video_linked.load(Ordering::SeqCst) {
        return Err(StillError::NoVideo);
    }
    let duration = p.pipeline.query_duration::<gst::ClockTime>().map(|d| MediaTime(d.nseconds()));
    if let Some(d) = duration
        && at > d
    {
        return Err(StillError::OutOfRange { at, duration: d });
    }
    p.pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, gst::ClockTime::from_nseconds(at.0))
        .map_err(|e| StillError::Decode(format!("seek refused: {e}")))?;
    p.wait_async_done()?;
    let sample = p
        .sink()?
        .try_pull_preroll(gst::ClockTime::from_seconds(TIMEOUT.as_secs()))
        .ok_or(StillError::OutOfRange { at, duration: duration.unwrap_or_default() })?;
    let (pts, rgb) = rgb_of(&sample)?;
    let rgb = fit_width(rgb, max_width.max(16));
    let (width, height) = rgb.dimensions();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality.clamp(1, 100))
        .encode(rgb.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| StillError::Encode(e.to_string()))?;
    Ok(Still { jpeg, pts, width, height })
}

/// The pipeline, stopped (NULL) when dropped.
struct Pipeline {
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    video_linked: Arc<AtomicBool>,
    /// The video branch's appsink, once decodebin exposed the video.
    sink: Arc<Mutex<Option<gst_app::AppSink>>>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Pipeline {
    fn build(path: &Path) -> Result<Pipeline, StillError> {
        let perr = |e: &dyn std::fmt::Display| StillError::Init(e.to_string());
        let pipeline = gst::Pipeline::with_name("still");
        let src = gst::ElementFactory::make("filesrc")
            .property("location", path.to_string_lossy().to_string())
            .build()
            .map_err(|e| perr(&e))?;
        let decodebin = gst::ElementFactory::make("decodebin").build().map_err(|e| perr(&e))?;
        pipeline.add_many([&src, &decodebin]).map_err(|e| perr(&e))?;
        src.link(&decodebin).map_err(|e| perr(&e))?;
        let video_linked = Arc::new(AtomicBool::new(false));
        let linked = video_linked.clone();
        let sink = Arc::new(Mutex::new(None));
        let sink_slot = sink.clone();
        let weak = pipeline.downgrade();
        decodebin.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let is_video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
            // The first video track is decoded; everything else is discarded without holding up the preroll.
            let desc = if is_video && !linked.swap(true, Ordering::SeqCst) {
                VIDEO_BRANCH
            } else {
                "fakesink sync=false async=false"
            };
            let Ok(bin) = gst::parse::bin_from_description(desc, true) else { return };
            if let Some(appsink) = bin.by_name("sink").and_then(|s| s.downcast::<gst_app::AppSink>().ok()) {
                *sink_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(appsink);
            }
            if pipeline.add(&bin).is_err() {
                return;
            }
            let _ = bin.sync_state_with_parent();
            if let Some(sinkpad) = bin.static_pad("sink") {
                let _ = pad.link(&sinkpad);
            }
        });
        let bus = pipeline.bus().ok_or_else(|| StillError::Init("pipeline has no bus".into()))?;
        let p = Pipeline { pipeline, bus, video_linked, sink };
        if p.pipeline.set_state(gst::State::Paused).is_err() {
            return Err(p.bus_error().unwrap_or_else(|| StillError::NotMedia("the pipeline did not start".into())));
        }
        Ok(p)
    }

    fn sink(&self) -> Result<gst_app::AppSink, StillError> {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(StillError::NoVideo)
    }

    /// Waits for the pipeline to settle in PAUSED (preroll or seek done); an error on the bus ends the wait.
    fn wait_async_done(&self) -> Result<(), StillError> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StillError::Timeout);
            }
            let Some(msg) = self.bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis().min(200) as u64)) else {
                // No message yet: a pipeline already settled (no state change pending) is done.
                let (res, cur, pending) = self.pipeline.state(gst::ClockTime::ZERO);
                if res == Ok(gst::StateChangeSuccess::Success)
                    && cur == gst::State::Paused
                    && pending == gst::State::VoidPending
                    && self.video_linked.load(Ordering::SeqCst)
                    && self.sink().is_ok_and(|s| s.try_pull_preroll(gst::ClockTime::ZERO).is_some())
                {
                    return Ok(());
                }
                continue;
            };
            match msg.view() {
                gst::MessageView::AsyncDone(_) => return Ok(()),
                gst::MessageView::Error(e) => return Err(classify(&e.error(), e.debug().as_deref())),
                gst::MessageView::Eos(_) => return Ok(()),
                _ => {}
            }
        }
    }

    fn bus_error(&self) -> Option<StillError> {
        self.bus.pop_filtered(&[gst::MessageType::Error]).and_then(|m| match m.view() {
            gst::MessageView::Error(e) => Some(classify(&e.error(), e.debug().as_deref())),
            _ => None,
        })
    }
}

/// A bus error in words without file paths: a format/type problem is "not media", the rest a decode failure.
fn classify(err: &gst::glib::Error, _debug: Option<&str>) -> StillError {
    let text = err.message().to_string();
    if err.matches(gst::StreamError::TypeNotFound)
        || err.matches(gst::StreamError::WrongType)
        || err.matches(gst::StreamError::Demux)
        || err.matches(gst::StreamError::Format)
        || err.matches(gst::StreamError::CodecNotFound)
    {
        StillError::NotMedia(text)
    } else if err.matches(gst::ResourceError::NotFound)
        || err.matches(gst::ResourceError::OpenRead)
        || err.matches(gst::ResourceError::Read)
    {
        StillError::Open(text)
    } else {
        StillError::Decode(text)
    }
}

/// The sample's pts and its pixels as an RGB image (stride removed).
fn rgb_of(sample: &gst::Sample) -> Result<(MediaTime, image::RgbImage), StillError> {
    let bad = |m: &str| StillError::Decode(m.to_owned());
    let buffer = sample.buffer().ok_or_else(|| bad("an empty sample"))?;
    let caps = sample.caps().ok_or_else(|| bad("a sample without caps"))?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| bad("unreadable video caps"))?;
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|_| bad("unmappable frame"))?;
    let (w, h) = (info.width(), info.height());
    let stride = info.stride()[0] as usize;
    let plane = frame.plane_data(0).map_err(|_| bad("no pixel plane"))?;
    let row = w as usize * 3;
    let mut data = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        data.extend_from_slice(plane.get(y * stride..y * stride + row).ok_or_else(|| bad("short frame"))?);
    }
    let img = image::RgbImage::from_raw(w, h, data).ok_or_else(|| bad("frame size mismatch"))?;
    Ok((MediaTime(buffer.pts().map(|p| p.nseconds()).unwrap_or(0)), img))
}

/// Scales down (aspect kept) when wider than `max_width`.
fn fit_width(img: image::RgbImage, max_width: u32) -> image::RgbImage {
    let (w, h) = img.dimensions();
    if w <= max_width {
        return img;
    }
    let nh = ((h as u64 * max_width as u64) / w as u64).max(1) as u32;
    image::imageops::resize(&img, max_width, nh, image::imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_frames_are_scaled_to_the_limit_keeping_the_aspect() {
        let img = image::RgbImage::from_pixel(1280, 720, image::Rgb([10, 20, 30]));
        let out = fit_width(img, 640);
        assert_eq!(out.dimensions(), (640, 360));
        let small = image::RgbImage::from_pixel(320, 240, image::Rgb([0, 0, 0]));
        assert_eq!(fit_width(small, 640).dimensions(), (320, 240));
    }

    #[test]
    fn missing_empty_and_non_media_files_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("fr-still-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let missing = dir.join("nope.mkv");
        assert!(matches!(extract_jpeg(&missing, MediaTime(0), 640, 80), Err(StillError::Open(_))));
        let empty = dir.join("empty.mkv");
        std::fs::write(&empty, b"").expect("write");
        assert!(matches!(extract_jpeg(&empty, MediaTime(0), 640, 80), Err(StillError::NotMedia(_))));
        let junk = dir.join("junk.mkv");
        std::fs::write(&junk, vec![0x5au8; 64 * 1024]).expect("write");
        let e = extract_jpeg(&junk, MediaTime(0), 640, 80).expect_err("junk is not media");
        assert!(matches!(e, StillError::NotMedia(_) | StillError::Decode(_)), "{e}");
        assert!(!e.to_string().contains(&dir.to_string_lossy().to_string()), "no paths in errors: {e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn stream(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/streams").join(name)
    }

    #[test]
    fn the_frame_at_a_time_comes_out_as_a_decodable_jpeg() {
        for (name, at_ms) in [("live_two_speakers.webm", 7_300u64), ("webcam_h264.mkv", 1_500)] {
            let path = stream(name);
            if !path.exists() {
                panic!("{} is missing: run the README's set-up (scripts/setup.sh)", path.display());
            }
            let at = MediaTime(at_ms * 1_000_000);
            let still = extract_jpeg(&path, at, 320, 80).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(still.jpeg.starts_with(&[0xFF, 0xD8]), "{name}: a JPEG");
            let img = image::load_from_memory_with_format(&still.jpeg, image::ImageFormat::Jpeg).expect("decodes");
            assert_eq!((img.width(), img.height()), (still.width, still.height));
            assert!(still.width <= 320 && still.height > 0, "{name}: {}x{}", still.width, still.height);
            // The frame shown at `at`: at or before it, within a frame interval or two.
            assert!(still.pts <= at && at.0 - still.pts.0 < 200_000_000, "{name}: frame at {} for {}", still.pts, at);
        }
    }

    #[test]
    fn times_past_the_end_and_files_without_video_are_refused() {
        let e = extract_jpeg(&stream("live_two_speakers.webm"), MediaTime(3_600_000_000_000), 640, 80)
            .expect_err("an hour in");
        assert!(matches!(e, StillError::OutOfRange { .. }), "{e}");
        let e = extract_jpeg(&stream("no_video.webm"), MediaTime(0), 640, 80).expect_err("no video");
        assert!(matches!(e, StillError::NoVideo), "{e}");
    }
}
