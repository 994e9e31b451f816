//! Location (POI / LBS) evidence: does the phone's position during the call agree with the declared business?
//!
//! Inputs are the declared business ([`DeclaredBusiness`]: name, category, coordinates), the phone's location
//! reports ([`LocationReport`]: lat, lon, accuracy, media time, source, WGS-84 or GCJ-02) and optionally a
//! [`PoiIndex`] loaded from an OpenStreetMap PBF extract or a map provider's GeoJSON/CSV export. [`evaluate`] turns
//! them into [`Evidence`](crate::checks::Evidence) of [`CheckKind::Location`](crate::checks::CheckKind) with these
//! stable signal ids (always all seven, in this order; absent inputs give `Missing`/`Unavailable`):
//!
//! | signal | finding |
//! |---|---|
//! | `location.reports` | `Missing` when the phone sent no fix; otherwise `Neutral` (counts, sources, best accuracy); value = number of reports |
//! | `location.invalid_report` | `Concern` when reports had invalid coordinates or accuracy (they are skipped, nothing else is lost), else `Neutral`; value = count |
//! | `location.distance` | fix within max(accuracy, floor) of the declared place → `Supports`; all fixes beyond `far_factor` × that → `Concern`; value = best distance (m) |
//! | `location.category` | declared category among POIs near the phone → `Supports`; categorised POIs there but none of it → `Concern`; nothing mapped nearby → `Neutral`; no index → `Unavailable` |
//! | `location.declared_poi` | a POI with a fuzzy-matching name near the declared coordinates → `Supports` (`Concern` if mapped as another category); value = name similarity |
//! | `location.impossible_travel` | accuracy-corrected speed between consecutive fixes above `max_speed_kmh` over at least `min_jump_m` → `Concern`; value = top speed (km/h) |
//! | `location.mock` | mock-provider source, null island, zero accuracy, identical non-round accuracies, exactly repeated fixes → `Concern`; value = number of patterns |
//!
//! All comparisons are in WGS-84; GCJ-02 inputs are converted with [`geo::gcj02_to_wgs84`]. Summaries carry
//! distances, speeds and POI names but never the phone's coordinates (personal data).
//!
//! Pure: no GStreamer, ONNX Runtime, async runtime or clock; media time comes in with the reports. File I/O only in
//! the explicit `PoiIndex::from_*` loaders.

pub mod categories;
pub mod geo;
pub mod poi;
mod signals;

pub use geo::{LatLon, gcj02_to_wgs84, haversine_m, wgs84_to_gcj02};
pub use poi::{Poi, PoiIndex};
pub use signals::evaluate;

#[cfg(doc)]
use crate::interview::{DeclaredBusiness, LocationReport};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors of the location module: bad coordinates and unreadable or malformed POI files.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("coordinate is not a finite number (lat {lat}, lon {lon})")]
    NotFinite { lat: f64, lon: f64 },
    #[error("latitude {0} is out of range (must be within -90..=90 degrees)")]
    LatitudeOutOfRange(f64),
    #[error("longitude {0} is out of range (must be within -180..=180 degrees)")]
    LongitudeOutOfRange(f64),
    #[error("unknown coordinate system {0:?} (expected wgs84 or gcj02)")]
    UnknownCoordSystem(String),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("OSM PBF {origin}: {message}")]
    Osm { origin: String, message: String },
    #[error("{origin}: invalid JSON: {message}")]
    Json { origin: String, message: String },
    #[error("{origin}: not a GeoJSON FeatureCollection: {message}")]
    GeoJson { origin: String, message: String },
    #[error("{origin}: feature {index} (0-based): {message}")]
    GeoJsonFeature { origin: String, index: usize, message: String },
    #[error("{origin}: line {line}: {message}")]
    Csv { origin: String, line: usize, message: String },
}

/// Thresholds of the location checks. Every field has a default (serde `default`), shown in brackets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocationConfig {
    /// Smallest tolerance radius of the distance check, metres: a fix supports when it is within
    /// max(reported accuracy, this) of the declared place; also absorbs geocoding error of the declared address.
    /// [50]
    pub distance_floor_m: f64,
    /// Accuracy assumed for a fix that reports none, metres. [100]
    pub missing_accuracy_m: f64,
    /// A fix farther than `far_factor` × its tolerance from the declared place is "far" (a concern when no fix is
    /// within tolerance). [3]
    pub far_factor: f64,
    /// A fix coarser than this (metres) cannot support a match, only refute one. [1000]
    pub max_supporting_accuracy_m: f64,
    /// Sources (case-insensitive) whose fixes cannot support a match: typed in by the user, or IP geolocation.
    /// ["manual", "ip"]
    pub weak_sources: Vec<String>,
    /// POIs within this many metres of a fix count for the category check; grown to the fix's accuracy. [100]
    pub category_radius_m: f64,
    /// Upper bound of the category radius however coarse the fix, metres. [300]
    pub category_radius_max_m: f64,
    /// Radius around the declared coordinates searched for a POI named like the declared business, metres. [150]
    pub declared_poi_radius_m: f64,
    /// Name similarity (0..1, Jaro-Winkler on normalised names, or token containment) that counts as the same
    /// business. [0.85]
    pub name_similarity_min: f64,
    /// Accuracy-corrected speed between consecutive fixes above which travel is impossible, km/h. [300]
    pub max_speed_kmh: f64,
    /// ... counted only for jumps of at least this many metres after subtracting both accuracies (GPS jitter is
    /// not travel). [1000]
    pub min_jump_m: f64,
    /// How many fixes an "identical accuracy" or "exactly repeated fix" pattern needs. [4]
    pub mock_min_fixes: usize,
    /// Sources (case-insensitive) that announce a mock location provider. ["mock", "fake", "test"]
    pub mock_sources: Vec<String>,
}

impl Default for LocationConfig {
    fn default() -> Self {
        LocationConfig {
            distance_floor_m: 50.0,
            missing_accuracy_m: 100.0,
            far_factor: 3.0,
            max_supporting_accuracy_m: 1000.0,
            weak_sources: vec!["manual".into(), "ip".into()],
            category_radius_m: 100.0,
            category_radius_max_m: 300.0,
            declared_poi_radius_m: 150.0,
            name_similarity_min: 0.85,
            max_speed_kmh: 300.0,
            min_jump_m: 1000.0,
            mock_min_fixes: 4,
            mock_sources: vec!["mock".into(), "fake".into(), "test".into()],
        }
    }
}
