//! Shared vocabulary: ids and units as newtypes, and the `Pii<T>` wrapper for personal data.
//!
//! Pure data, no I/O. Everything else in the crate may use it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A media timestamp (presentation time), in nanoseconds from the start of the stream.
///
/// The analysis clock is the media clock: replay at any speed gives the same evidence as the live call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaTime(pub u64);

impl MediaTime {
    pub const ZERO: MediaTime = MediaTime(0);
    pub const NS_PER_SEC: u64 = 1_000_000_000;

    pub fn from_secs_f64(s: f64) -> Self {
        MediaTime((s.max(0.0) * Self::NS_PER_SEC as f64).round() as u64)
    }
    pub fn from_millis(ms: u64) -> Self {
        MediaTime(ms * 1_000_000)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / Self::NS_PER_SEC as f64
    }
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// `self - earlier`, saturating at zero.
    pub fn since(self, earlier: MediaTime) -> MediaDuration {
        MediaDuration(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<MediaDuration> for MediaTime {
    type Output = MediaTime;
    /// Saturating.
    fn add(self, d: MediaDuration) -> MediaTime {
        MediaTime(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for MediaTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

/// A span of media time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaDuration(pub u64);

impl MediaDuration {
    pub fn from_millis(ms: u64) -> Self {
        MediaDuration(ms * 1_000_000)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        MediaDuration((s.max(0.0) * 1e9).round() as u64)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// A closed-open time range `[start, end)` in media time; evidence points at these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub start: MediaTime,
    pub end: MediaTime,
}

impl TimeRange {
    pub fn new(start: MediaTime, end: MediaTime) -> Self {
        TimeRange { start, end: end.max(start) }
    }
    pub fn duration(&self) -> MediaDuration {
        self.end.since(self.start)
    }
}

/// A probability or confidence in `[0, 1]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(f32);

impl Score {
    /// Clamps into `[0, 1]`; NaN becomes 0.
    pub fn new(v: f32) -> Self {
        if v.is_nan() { Score(0.0) } else { Score(v.clamp(0.0, 1.0)) }
    }
    pub fn get(self) -> f32 {
        self.0
    }
}

/// Index of a decoded video frame within its stream (0-based, in decode order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FrameIndex(pub u64);

/// A session's identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

/// Personal data (faces, voices, embeddings, coordinates, IPs). `Debug` and `Display` redact it, so it cannot leak
/// into logs by accident; the value is reached only through [`Pii::expose`], which makes each use visible.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    pub fn new(v: T) -> Self {
        Pii(v)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pii(<redacted>)")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_is_redacted_in_debug_and_display() {
        let p = Pii::new(vec![0.25f32, 0.5]);
        assert_eq!(format!("{p:?}"), "Pii(<redacted>)");
        assert_eq!(format!("{p}"), "<redacted>");
        assert_eq!(p.expose(), &vec![0.25, 0.5]);
    }

    #[test]
    fn score_clamps_and_rejects_nan() {
        assert_eq!(Score::new(1.5).get(), 1.0);
        assert_eq!(Score::new(-0.1).get(), 0.0);
        assert_eq!(Score::new(f32::NAN).get(), 0.0);
    }

    #[test]
    fn media_time_arithmetic_saturates() {
        let a = MediaTime::from_millis(1500);
        assert_eq!(a.as_millis(), 1500);
        assert_eq!(MediaTime::ZERO.since(a), MediaDuration(0));
        assert_eq!(a.since(MediaTime::from_millis(500)), MediaDuration::from_millis(1000));
    }
}
