//! Bitrate and quality adaptation of a live call, analysis-aware: the [`ladder`] of operating points and what each
//! interview step needs, the [`controller`] that picks the phone's operating point once a second from receiver and
//! sender statistics, and the [`quality`] meter behind the session's quality report (data used, time to first
//! frame, freezes, effective frame rate and size, usable analysis windows). Trace replay for tests: [`trace`].
//!
//! Pure: no GStreamer, no ort, no tokio, no clock — the session actor (`session`) feeds measurements and `now`,
//! and applies the actions (control messages to the page, keyframe requests to the peer). Checked by
//! `tests/purity.rs`.

pub mod controller;
pub mod ladder;
pub mod quality;
pub mod trace;

pub use controller::{Action, Config, Controller, HintKind, Inputs, Setting};
pub use ladder::{DeviceClass, LADDER, Need, Rung};
pub use quality::{QualityMeter, QualityReport};
