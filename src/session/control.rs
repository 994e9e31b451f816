//! Control-channel messages between the applicant page and the session (JSON over the WebSocket; see
//! `docs/live-protocol.md`). Parsing is strict and bounded: anything a phone sends that does not parse is an
//! error message back to the page, never a panic.
//!
//! May use `serde`, `types` and `interview`.

use crate::interview::{CoordSystem, LocationReport};
use crate::types::MediaTime;
use serde::{Deserialize, Serialize};

/// Largest control message accepted from a page (a still snapshot in audio-only mode is the largest).
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// Largest still snapshot (JPEG bytes, after base64 decoding).
pub const MAX_SNAPSHOT_BYTES: usize = 40 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    #[serde(default)]
    pub hardware_concurrency: Option<u32>,
    #[serde(default)]
    pub device_memory: Option<f64>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub screen: Option<[u32; 2]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Hello {
        device: DeviceInfo,
    },
    Location {
        lat: f64,
        lon: f64,
        #[serde(default)]
        accuracy_m: Option<f64>,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        coord_system: CoordSystem,
    },
    LocationUnavailable {
        reason: String,
    },
    ChallengeShown {
        id: String,
    },
    /// What the page's sender reports (RTCPeerConnection.getStats, every 2 s): the browser's own bandwidth
    /// estimate and why it limits quality.
    SenderStats(SenderStats),
    /// The page applied (or failed to apply) an `adapt` message.
    AdaptApplied {
        seq: u64,
        #[serde(default)]
        video: Option<serde_json::Value>,
        #[serde(default)]
        audio: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<String>,
    },
    /// A still frame sent while video is paused (audio-only mode): base64 JPEG.
    Snapshot {
        seq: u64,
        width: u32,
        height: u32,
        jpeg_b64: String,
    },
    Hangup,
}

/// Sender-side statistics reported by the page. Every field is optional: browsers differ.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderStats {
    /// `candidate-pair.availableOutgoingBitrate` (the browser's bandwidth estimate), bits/s.
    #[serde(default)]
    pub available_outgoing_bitrate_bps: Option<f64>,
    /// `outbound-rtp.qualityLimitationReason` of the video: none | bandwidth | cpu | other.
    #[serde(default)]
    pub quality_limitation_reason: Option<String>,
    #[serde(default)]
    pub frame_width: Option<u32>,
    #[serde(default)]
    pub frame_height: Option<u32>,
    #[serde(default)]
    pub fps: Option<f64>,
    /// Total bytes sent (audio + video) since the connection started.
    #[serde(default)]
    pub bytes_sent: Option<u64>,
    /// `candidate-pair.currentRoundTripTime`, seconds.
    #[serde(default)]
    pub rtt_s: Option<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ControlError {
    #[error("message too large ({0} bytes; at most {MAX_CLIENT_MESSAGE})")]
    TooLarge(usize),
    #[error("not a valid control message: {0}")]
    Malformed(String),
    #[error("invalid location: {0}")]
    BadLocation(String),
}

impl ClientMsg {
    pub fn parse(text: &str) -> Result<ClientMsg, ControlError> {
        if text.len() > MAX_CLIENT_MESSAGE {
            return Err(ControlError::TooLarge(text.len()));
        }
        let msg: ClientMsg = serde_json::from_str(text).map_err(|e| ControlError::Malformed(e.to_string()))?;
        match &msg {
            ClientMsg::Hello { device } if device.user_agent.as_ref().is_some_and(|u| u.len() > 512) => {
                return Err(ControlError::Malformed("user_agent longer than 512 characters".into()));
            }
            ClientMsg::Snapshot { width, height, jpeg_b64, .. } => {
                if !(16..=640).contains(width) || !(16..=640).contains(height) {
                    return Err(ControlError::Malformed(format!("snapshot size {width}x{height} is not 16..640")));
                }
                if jpeg_b64.len() > MAX_SNAPSHOT_BYTES * 4 / 3 + 4 {
                    return Err(ControlError::TooLarge(jpeg_b64.len()));
                }
            }
            ClientMsg::AdaptApplied { error: Some(e), .. } if e.len() > 512 => {
                return Err(ControlError::Malformed("error longer than 512 characters".into()));
            }
            ClientMsg::SenderStats(s) if s.quality_limitation_reason.as_ref().is_some_and(|r| r.len() > 32) => {
                return Err(ControlError::Malformed("quality_limitation_reason longer than 32 characters".into()));
            }
            _ => {}
        }
        Ok(msg)
    }
}

/// A location message checked and stamped with the session's media time.
pub fn location_report(
    lat: f64,
    lon: f64,
    accuracy_m: Option<f64>,
    source: Option<String>,
    coord_system: CoordSystem,
    t: MediaTime,
) -> Result<LocationReport, ControlError> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(ControlError::BadLocation(format!("latitude {lat} is outside -90..90")));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(ControlError::BadLocation(format!("longitude {lon} is outside -180..180")));
    }
    if let Some(a) = accuracy_m
        && (!a.is_finite() || !(0.0..=1.0e6).contains(&a))
    {
        return Err(ControlError::BadLocation(format!("accuracy {a} m is not a distance")));
    }
    let source = source.map(|s| s.chars().take(32).collect());
    Ok(LocationReport { t, lat, lon, accuracy_m, source, coord_system })
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    State {
        state: String,
        message: String,
    },
    Prompt {
        id: String,
        text: String,
        index: usize,
        total: usize,
    },
    Challenge {
        id: String,
        kind: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        digits: Option<String>,
        text: String,
        deadline_ms: u64,
    },
    Progress {
        elapsed_s: f64,
        total_s: f64,
        face_visible: bool,
    },
    Hint {
        text: String,
    },
    /// An adaptation action for the page's senders (see `adapt::Action` and `docs/live-protocol.md`).
    Adapt(AdaptMsg),
    Done {
        message: String,
    },
    Error {
        code: String,
        message: String,
    },
}

/// What the page applies to its senders. `video.active == false` pauses video (audio-only) and, with
/// `snapshots`, the page sends a still frame every `interval_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptMsg {
    /// Increases with every message; the page echoes it in `adapt_applied`.
    pub seq: u64,
    pub video: VideoSettings,
    pub audio: AudioSettings,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub snapshots: Option<SnapshotSettings>,
    /// Why (for the event log and the page's debug state; not shown to the applicant).
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoSettings {
    pub active: bool,
    pub max_bitrate_bps: u64,
    pub scale_resolution_down_by: f64,
    pub max_framerate: f64,
    /// `RTCRtpSendParameters.degradationPreference`: maintain-framerate | maintain-resolution | balanced.
    pub degradation_preference: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioSettings {
    pub max_bitrate_bps: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSettings {
    pub interval_ms: u64,
    pub width: u32,
    pub height: u32,
    /// JPEG quality, 0..1.
    pub quality: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_page_messages() {
        let m = ClientMsg::parse(r#"{"type":"location","lat":60.1,"lon":24.9,"accuracy_m":12,"source":"gps"}"#);
        assert!(matches!(m, Ok(ClientMsg::Location { lat, .. }) if lat == 60.1));
        let m = ClientMsg::parse(r#"{"type":"hello","device":{"hardware_concurrency":8,"screen":[412,915]}}"#);
        assert!(matches!(m, Ok(ClientMsg::Hello { .. })));
        assert_eq!(ClientMsg::parse(r#"{"type":"hangup"}"#), Ok(ClientMsg::Hangup));
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for bad in ["", "{", "null", "[]", r#"{"type":"nope"}"#, r#"{"type":"location","lat":"x","lon":1}"#] {
            assert!(matches!(ClientMsg::parse(bad), Err(ControlError::Malformed(_))), "{bad}");
        }
        let big = format!(r#"{{"type":"location_unavailable","reason":"{}"}}"#, "x".repeat(MAX_CLIENT_MESSAGE));
        assert!(matches!(ClientMsg::parse(&big), Err(ControlError::TooLarge(_))));
    }

    #[test]
    fn checks_coordinates() {
        let t = MediaTime(0);
        assert!(location_report(91.0, 0.0, None, None, CoordSystem::Wgs84, t).is_err());
        assert!(location_report(0.0, 180.5, None, None, CoordSystem::Wgs84, t).is_err());
        assert!(location_report(f64::NAN, 0.0, None, None, CoordSystem::Wgs84, t).is_err());
        assert!(location_report(10.0, 10.0, Some(-3.0), None, CoordSystem::Wgs84, t).is_err());
        let r = location_report(60.1, 24.9, Some(8.0), Some("gps".into()), CoordSystem::Gcj02, t).unwrap();
        assert_eq!(r.coord_system, CoordSystem::Gcj02);
    }
}
