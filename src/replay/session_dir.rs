//! A recorded live call on disk (`<data>/sessions/<id>/`, see `docs/live-protocol.md`): the description of its
//! media parts (`recording.json`), the interview as it happened (`session.json`), the configuration and policy
//! used (`config.json`) and the live verdict (`verdict.json`). Written by the session actor, read by
//! `facereview replay <dir>`.
//!
//! May use `serde` and the file system; no analysis.

use super::Part;
use crate::types::MediaDuration;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RECORDING_FILE: &str = "recording.json";
pub const SESSION_FILE: &str = "session.json";
pub const CONFIG_FILE: &str = "config.json";
pub const VERDICT_FILE: &str = "verdict.json";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const MANIFEST_COPY: &str = "manifest.toml";

/// One connection's media file and where it starts on the session's media clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedPart {
    /// File name, relative to the session folder.
    pub file: String,
    pub offset_ns: u64,
    #[serde(default)]
    pub frame_offset: u64,
    #[serde(default)]
    pub video_codec: Option<String>,
    #[serde(default)]
    pub audio_codec: Option<String>,
    /// Media time of the last frame/sample of the part (ns, session clock), when known.
    #[serde(default)]
    pub end_ns: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingManifest {
    pub session_id: String,
    pub parts: Vec<RecordedPart>,
    /// Whether the offer had each kind of track (evidence of a track never offered is "missing").
    pub offered_video: bool,
    pub offered_audio: bool,
    pub policy_version: String,
    pub manifest_sha256: String,
}

/// What the live session used besides the interview: the tunables that must be the same in a replay.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedConfig {
    /// The fusion policy as TOML text (the exact file the live verdict used).
    pub policy_toml: String,
    /// The POI file used for location checks, if any (path as configured on the server).
    #[serde(default)]
    pub pois: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionDirError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} is not a valid {what}: {message}")]
    Parse { path: PathBuf, what: &'static str, message: String },
}

/// Whether `dir` looks like a recorded live call.
pub fn is_session_dir(dir: &Path) -> bool {
    dir.is_dir() && dir.join(RECORDING_FILE).is_file()
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, SessionDirError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SessionDirError::Read { path: path.to_owned(), message: e.to_string() })?;
    serde_json::from_str(&text).map_err(|e| SessionDirError::Parse {
        path: path.to_owned(),
        what,
        message: e.to_string(),
    })
}

impl RecordingManifest {
    pub fn load(dir: &Path) -> Result<Self, SessionDirError> {
        read_json(&dir.join(RECORDING_FILE), "recording description")
    }

    /// The parts as replay inputs (paths resolved against the session folder). A part whose file is missing or
    /// empty (the connection dropped before any media) is skipped.
    pub fn replay_parts(&self, dir: &Path) -> Vec<Part> {
        self.parts
            .iter()
            .filter(|p| std::fs::metadata(dir.join(&p.file)).map(|m| m.len() > 0).unwrap_or(false))
            .map(|p| Part { path: dir.join(&p.file), offset: MediaDuration(p.offset_ns), frame_offset: p.frame_offset })
            .collect()
    }
}
