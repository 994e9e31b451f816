//! What the lender and the interview supply besides media: the declared business, the phone's location reports,
//! the questions asked and the liveness challenges issued (with their media times), and optional references
//! (the applicant's photo and enrolled voiceprint, known fraud voices). Pure data; loaded from a session file
//! (`docs/session-json.md`) in replay, built from control events in a live call.

use crate::infer::models::Embedding;
use crate::types::{MediaTime, Pii};
use serde::{Deserialize, Serialize};

/// Coordinate system of a latitude/longitude pair. Map providers in mainland China report GCJ-02.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoordSystem {
    #[default]
    Wgs84,
    Gcj02,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredBusiness {
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    /// A business category (see `models/scene_categories.toml` and the POI category map), e.g. `restaurant_cafe_food`.
    pub category: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub coord_system: CoordSystem,
}

/// One location fix sent by the phone during the call. Personal data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationReport {
    /// Media time of the fix (session clock).
    pub t: MediaTime,
    pub lat: f64,
    pub lon: f64,
    /// Reported horizontal accuracy (metres, 1 sigma); `None` when the phone sent none.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    /// `gps`, `network`, `wifi`, `ip`, `manual` ...
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub coord_system: CoordSystem,
}

/// A question of the interview script, and when it was asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionEvent {
    pub id: String,
    pub text: String,
    pub asked_at: MediaTime,
    /// When the next question started (or the answer ended), if known.
    #[serde(default)]
    pub until: Option<MediaTime>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChallengeKind {
    TurnLeft,
    TurnRight,
    Blink,
    OpenMouth,
    ReadDigits { digits: String },
}

/// A liveness challenge shown to the applicant at `issued_at`, to be answered within `deadline_ms`.
/// (`deny_unknown_fields` does not combine with the flattened `kind`; the tagged kind still rejects unknown kinds.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChallengeEvent {
    pub id: String,
    #[serde(flatten)]
    pub kind: ChallengeKind,
    pub issued_at: MediaTime,
    pub deadline_ms: u64,
}

/// Everything about the interview that is not media.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interview {
    #[serde(default)]
    pub declared: Option<DeclaredBusiness>,
    #[serde(default)]
    pub locations: Vec<LocationReport>,
    #[serde(default)]
    pub questions: Vec<QuestionEvent>,
    #[serde(default)]
    pub challenges: Vec<ChallengeEvent>,
    /// A photo of the applicant supplied with the application (path, relative to the session file's folder).
    #[serde(default)]
    pub reference_photo: Option<std::path::PathBuf>,
    /// Face embedding of the reference photo supplied with the application (resolved by the driver).
    #[serde(skip)]
    pub reference_face: Option<Pii<Embedding>>,
    /// The applicant's enrolled voiceprint, if any (resolved by the driver).
    #[serde(skip)]
    pub enrolled_voice: Option<Pii<Embedding>>,
    /// Known fraud voiceprints: (id, embedding).
    #[serde(skip)]
    pub blocked_voices: Vec<(String, Pii<Embedding>)>,
}
