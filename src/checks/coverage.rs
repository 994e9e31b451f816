//! Coverage: is there enough usable media to judge at all? A call where the face is missing most of the time, or
//! where nobody speaks, cannot pass on the strength of the little that was seen. Pure.

use super::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::observations::Observations;
use crate::types::{MediaDuration, MediaTime, TimeRange};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// Share of sampled frames that must show a face.
    pub min_face_ratio: f32,
    /// A stretch without a face at least this long is listed as a place to look.
    pub gap_ms: u64,
    /// Seconds of speech needed for the voice and sync checks to mean something.
    pub min_speech_s: f32,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig { min_face_ratio: 0.7, gap_ms: 2000, min_speech_s: 3.0 }
    }
}

/// The stretches of `samples` (time, face present) without a face lasting at least `min`.
fn gaps(samples: &[(MediaTime, bool)], end: MediaTime, min: MediaDuration) -> Vec<TimeRange> {
    let mut out = Vec::new();
    let mut start: Option<MediaTime> = None;
    for &(t, present) in samples {
        match (present, start) {
            (false, None) => start = Some(t),
            (true, Some(s)) => {
                if t.since(s) >= min {
                    out.push(TimeRange::new(s, t));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start
        && end.since(s) >= min
    {
        out.push(TimeRange::new(s, end));
    }
    out
}

pub fn evaluate(obs: &Observations, cfg: &CoverageConfig) -> Vec<Evidence> {
    let mut out = Vec::new();
    // Face.
    if !obs.has_video {
        out.push(Evidence::missing(CheckKind::Coverage, "coverage.face", "the call has no video"));
    } else if let Some(why) = obs.unavailable.get("blazeface") {
        out.push(Evidence::unavailable(CheckKind::Coverage, "coverage.face", format!("face detector: {why}")));
    } else if obs.video.faces.is_empty() {
        out.push(Evidence::missing(CheckKind::Coverage, "coverage.face", "no frame could be analysed for faces"));
    } else {
        let samples: Vec<(MediaTime, bool)> = obs.video.faces.iter().map(|s| (s.t, s.faces > 0)).collect();
        let ratio = samples.iter().filter(|s| s.1).count() as f32 / samples.len() as f32;
        let gaps = gaps(&samples, obs.duration, MediaDuration::from_millis(cfg.gap_ms));
        let (finding, confidence, summary) = if ratio >= cfg.min_face_ratio {
            (Finding::Supports, ratio, format!("a face is visible in {:.0}% of the analysed frames", ratio * 100.0))
        } else {
            (
                Finding::Concern,
                1.0 - ratio,
                format!(
                    "no face for {:.0}% of the call ({} stretch(es) of {}+ s without a face)",
                    (1.0 - ratio) * 100.0,
                    gaps.len(),
                    cfg.gap_ms / 1000
                ),
            )
        };
        let mut e = Evidence::observed(CheckKind::Coverage, "coverage.face", finding, confidence, summary)
            .with_value(ratio as f64);
        e.at = gaps.into_iter().map(|range| EvidenceRef { range, frame: None }).collect();
        out.push(e);
    }
    // Speech.
    if !obs.has_audio {
        out.push(Evidence::missing(CheckKind::Coverage, "coverage.speech", "the call has no audio"));
    } else if let Some(why) = obs.unavailable.get("silero_vad") {
        out.push(Evidence::unavailable(CheckKind::Coverage, "coverage.speech", format!("voice activity: {why}")));
    } else {
        let speech: f64 = obs.audio.segments.iter().map(|s| s.range.duration().as_secs_f64()).sum();
        let e = if speech >= cfg.min_speech_s as f64 {
            Evidence::observed(
                CheckKind::Coverage,
                "coverage.speech",
                Finding::Supports,
                1.0,
                format!("{speech:.1} s of speech in {} segment(s)", obs.audio.segments.len()),
            )
        } else {
            Evidence::observed(
                CheckKind::Coverage,
                "coverage.speech",
                Finding::Concern,
                0.8,
                format!("only {speech:.1} s of speech: the applicant barely spoke"),
            )
        };
        out.push(e.with_value(speech));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observations::FaceSample;
    use crate::types::FrameIndex;

    fn obs_with_faces(pattern: &[bool]) -> Observations {
        let mut obs = Observations { has_video: true, has_audio: false, ..Default::default() };
        for (i, &p) in pattern.iter().enumerate() {
            obs.video.faces.push(FaceSample {
                t: MediaTime::from_millis(i as u64 * 500),
                frame: FrameIndex(i as u64 * 15),
                faces: p as usize,
                bbox: None,
                score: None,
            });
        }
        obs.duration = MediaTime::from_millis(pattern.len() as u64 * 500);
        obs
    }

    #[test]
    fn face_missing_most_of_the_call_is_a_concern_with_the_gaps() {
        let mut pattern = vec![true; 4];
        pattern.extend(vec![false; 12]); // 6 s without a face
        let ev = evaluate(&obs_with_faces(&pattern), &CoverageConfig::default());
        let face = ev.iter().find(|e| e.signal == "coverage.face").unwrap();
        assert_eq!(face.finding(), Some(Finding::Concern));
        assert_eq!(face.at.len(), 1);
        assert_eq!(face.at[0].range.start, MediaTime::from_millis(2000));
        assert_eq!(face.at[0].range.end, MediaTime::from_millis(8000));
        assert!(face.summary.contains("75%"), "{}", face.summary);
    }

    #[test]
    fn face_present_throughout_supports_and_short_gaps_are_not_listed() {
        let mut pattern = vec![true; 20];
        pattern[5] = false; // 0.5 s
        let ev = evaluate(&obs_with_faces(&pattern), &CoverageConfig::default());
        let face = ev.iter().find(|e| e.signal == "coverage.face").unwrap();
        assert_eq!(face.finding(), Some(Finding::Supports));
        assert!(face.at.is_empty());
    }

    #[test]
    fn no_audio_and_no_video_are_missing_not_passing() {
        let obs = Observations::default();
        let ev = evaluate(&obs, &CoverageConfig::default());
        assert!(ev.iter().all(|e| matches!(e.state, super::super::EvidenceState::Missing { .. })));
        assert_eq!(ev.len(), 2);
    }
}
