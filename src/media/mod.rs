//! GStreamer adapter: recorded files and live WebRTC peers decoded into owned RGB frames and 16 kHz mono f32
//! audio with media timestamps. GStreamer callbacks only send owned messages into a bounded channel.
//!
//! May use `gstreamer*` and `types`; no analysis logic lives here.

pub mod decode;
pub mod keyframes;
pub mod peer;
pub mod rtpclock;
pub mod sender;
pub mod stats;
pub mod still;

pub use decode::{AudioChunk, Backpressure, DecodeOptions, Decoder, MediaEvent, MediaInfo, VideoFrame};
pub use peer::{OfferSummary, Peer, PeerConfig, PeerCounters, PeerError, PeerEvent, RecordingInfo, inspect_offer};
pub use stats::{InboundStats, PeerStats, RepairStats};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer is not usable: {0}")]
    Init(String),
    #[error("cannot open {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path} is not a media file GStreamer can read ({message})")]
    NotMedia { path: PathBuf, message: String },
    #[error("{path} uses a format no installed decoder handles: {missing}")]
    UnsupportedCodec { path: PathBuf, missing: String },
    #[error("{path} has neither a video nor an audio track")]
    NoTracks { path: PathBuf },
    #[error("decoding {path} failed at {at}: {message}")]
    Decode { path: PathBuf, at: String, message: String },
    #[error("pipeline set-up failed: {0}")]
    Pipeline(String),
}

/// Initialises GStreamer once; an error, not a panic, when it is unusable.
pub fn init() -> Result<(), MediaError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gstreamer::init().map_err(|e| e.to_string())).clone().map_err(MediaError::Init)
}
