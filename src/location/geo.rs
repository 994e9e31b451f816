//! Geodesy for the location checks: validated coordinates ([`LatLon`]), great-circle distance ([`haversine_m`]) and
//! the GCJ-02 ↔ WGS-84 conversion used by map providers in mainland China.
//!
//! GCJ-02 ("Mars coordinates") is WGS-84 plus a deliberate, smooth, position-dependent offset of a few hundred metres.
//! [`wgs84_to_gcj02`] implements the published forward formula (the Krasovsky-1940 ellipsoid constants
//! `a = 6 378 245 m`, `e² = 0.006 693 421 622 965 943 23` and the two trigonometric series in `lon − 105°`,
//! `lat − 35°`, as in every open implementation, e.g. `eviltransform`). There is no closed-form inverse;
//! [`gcj02_to_wgs84`] inverts it by fixed-point iteration to well below a centimetre. Outside the rough mainland
//! bounding box the formula is not applied and GCJ-02 equals WGS-84 (this box includes Taiwan, Hong Kong and Macau,
//! as the published formula does).
//!
//! Pure: no I/O.

use super::LocationError;
use crate::interview::CoordSystem;
use serde::Serialize;
use std::f64::consts::PI;
use std::fmt;

/// Mean Earth radius (IUGG, metres), used for haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A validated WGS-84 (or GCJ-02, by context) latitude/longitude in degrees: both finite, `|lat| ≤ 90`,
/// `|lon| ≤ 180`. Construct with [`LatLon::new`]; the fields are private so an invalid value cannot exist.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatLon {
    lat: f64,
    lon: f64,
}

impl LatLon {
    /// Validates a latitude/longitude pair in degrees. NaN or infinite values, `|lat| > 90` and `|lon| > 180` are
    /// rejected with the offending value in the message. `(0, 0)` ("null island") is valid here; the checks flag it.
    pub fn new(lat: f64, lon: f64) -> Result<LatLon, LocationError> {
        if !lat.is_finite() || !lon.is_finite() {
            return Err(LocationError::NotFinite { lat, lon });
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(LocationError::LatitudeOutOfRange(lat));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(LocationError::LongitudeOutOfRange(lon));
        }
        Ok(LatLon { lat, lon })
    }

    /// For values computed from an already valid `LatLon` (small offsets); clamps instead of failing.
    fn clamped(lat: f64, lon: f64) -> LatLon {
        LatLon { lat: lat.clamp(-90.0, 90.0), lon: lon.clamp(-180.0, 180.0) }
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Exactly (0, 0) to within 1e-6° (~0.1 m): the value a broken or fake location provider sends.
    pub fn is_null_island(self) -> bool {
        self.lat.abs() < 1e-6 && self.lon.abs() < 1e-6
    }

    /// Great-circle distance to `other`, metres.
    pub fn distance_m(self, other: LatLon) -> f64 {
        haversine_m(self, other)
    }

    /// Point on the unit sphere (x, y, z); the Euclidean (chord) distance between two such points is a monotonic
    /// function of their great-circle distance, so an R-tree over them answers radius queries without the
    /// longitude wrap-around and latitude scaling problems of a lat/lon box.
    pub(crate) fn unit_vector(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }
}

impl fmt::Display for LatLon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:.6}, {:.6})", self.lat, self.lon)
    }
}

/// Great-circle distance in metres between two points (haversine formula, sphere of radius [`EARTH_RADIUS_M`];
/// within 0.5 % of the ellipsoidal distance).
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = phi2 - phi1;
    let dlambda = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    // atan2 form: accurate from coincident points to antipodes (asin loses digits near h = 1).
    let h = h.clamp(0.0, 1.0);
    2.0 * EARTH_RADIUS_M * h.sqrt().atan2((1.0 - h).sqrt())
}

/// Chord length on the unit sphere for a great-circle distance in metres (for R-tree radius queries).
pub(crate) fn chord_for_distance(distance_m: f64) -> f64 {
    let half_angle = (distance_m.max(0.0) / (2.0 * EARTH_RADIUS_M)).min(PI / 2.0);
    2.0 * half_angle.sin()
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02 (metres).
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid (published as 0.00669342162296594323; this is the
/// same value rounded to what an f64 holds).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The rough mainland-China bounding box inside which the GCJ-02 offset is applied (published formula).
pub fn in_gcj02_area(p: LatLon) -> bool {
    (72.004..=137.8347).contains(&p.lon) && (0.8293..=55.8271).contains(&p.lat)
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 position inside the area.
fn gcj02_delta(lat: f64, lon: f64) -> (f64, f64) {
    let (x, y) = (lon - 105.0, lat - 35.0);
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = offset_lat(x, y) * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = offset_lon(x, y) * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlat, dlon)
}

/// WGS-84 → GCJ-02. Identity outside [`in_gcj02_area`].
pub fn wgs84_to_gcj02(p: LatLon) -> LatLon {
    if !in_gcj02_area(p) {
        return p;
    }
    let (dlat, dlon) = gcj02_delta(p.lat, p.lon);
    LatLon::clamped(p.lat + dlat, p.lon + dlon)
}

/// Iterations of the inverse; the error shrinks by a factor of ~1e-3 per step, so 3–4 suffice and 30 is a safety net.
const GCJ_INVERSE_MAX_ITER: usize = 30;
/// Stop when the forward image is this close to the input (degrees; ~1 µm).
const GCJ_INVERSE_TOL_DEG: f64 = 1e-11;

/// GCJ-02 → WGS-84 by fixed-point iteration of the forward formula (residual < 1e-11°, far below 0.5 m). Identity
/// outside [`in_gcj02_area`].
pub fn gcj02_to_wgs84(g: LatLon) -> LatLon {
    if !in_gcj02_area(g) {
        return g;
    }
    let (mut lat, mut lon) = (g.lat, g.lon);
    for _ in 0..GCJ_INVERSE_MAX_ITER {
        let fwd = wgs84_to_gcj02(LatLon::clamped(lat, lon));
        let (elat, elon) = (fwd.lat - g.lat, fwd.lon - g.lon);
        lat -= elat;
        lon -= elon;
        if elat.abs() < GCJ_INVERSE_TOL_DEG && elon.abs() < GCJ_INVERSE_TOL_DEG {
            break;
        }
    }
    LatLon::clamped(lat, lon)
}

/// Validates `(lat, lon)` given in `system` and returns it in WGS-84.
pub fn to_wgs84(lat: f64, lon: f64, system: CoordSystem) -> Result<LatLon, LocationError> {
    let p = LatLon::new(lat, lon)?;
    Ok(match system {
        CoordSystem::Wgs84 => p,
        CoordSystem::Gcj02 => gcj02_to_wgs84(p),
    })
}

/// Parses a coordinate-system name as operators write it: `wgs84`, `WGS-84`, `gcj02`, `GCJ-02` (case-insensitive);
/// empty means WGS-84.
pub fn parse_coord_system(s: &str) -> Result<CoordSystem, LocationError> {
    let norm: String = s.trim().chars().filter(|c| !matches!(c, '-' | '_' | ' ')).collect::<String>().to_lowercase();
    match norm.as_str() {
        "" | "wgs84" => Ok(CoordSystem::Wgs84),
        "gcj02" => Ok(CoordSystem::Gcj02),
        _ => Err(LocationError::UnknownCoordSystem(s.trim().to_owned())),
    }
}
