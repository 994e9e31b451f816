//! facereview: remote video face-to-face review of small-business loan applicants.
//!
//! Recorded or live calls are decoded (`media`), sampled under a CPU budget (`analysis`), run through ONNX models
//! (`infer`), and summarised into timestamped evidence (`replay`). Pure decision logic (`analysis::sampling`) takes
//! inputs and media time as arguments; adapters (`media`, `infer`) own GStreamer and ONNX Runtime.

pub mod adapt;
pub mod analysis;
pub mod analyzer;
pub mod auth;
pub mod checks;
pub mod config;
pub mod console;
pub mod fusion;
pub mod impair;
pub mod infer;
pub mod interview;
pub mod location;
pub mod media;
pub mod observations;
pub mod replay;
pub mod server;
pub mod session;
pub mod store;
pub mod types;
pub mod voiceprints;
