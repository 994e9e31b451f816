//! `liveness.screen`: a TV, monitor, laptop or phone detected around the face — the face may be shown on a
//! screen held up to the camera. The object detector's screen labels are used; a detection counts when its box
//! covers at least `min_face_overlap` of the face box of the nearest face sample.

use super::{SIGNAL_SCREEN, missing, observed, secs, span};
use crate::checks::{CheckKind, Evidence, Finding};
use crate::observations::Observations;
use serde::{Deserialize, Serialize};

/// Object-detector model id (see `models/manifest.toml`).
const OBJECTS_MODEL: &str = "centernet";

/// Thresholds of the screen test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreenConfig {
    /// Labels that can show a face (COCO names).
    pub labels: Vec<String>,
    /// Minimum detection score.
    pub min_score: f32,
    /// Fraction of the face box the screen box must cover ("contains or overlaps").
    pub min_face_overlap: f32,
    /// The face sample must be at most this far (ms) from the object sample.
    pub max_face_distance_ms: u64,
    /// At least this many object samples with a screen around the face: Concern (a single one may be a false
    /// detection).
    pub min_hits: usize,
    pub concern_confidence: f32,
    /// Confidence of the Neutral "none seen" finding.
    pub neutral_confidence: f32,
}

impl Default for ScreenConfig {
    fn default() -> Self {
        ScreenConfig {
            labels: vec!["tv".into(), "laptop".into(), "cell phone".into()],
            min_score: 0.3,
            min_face_overlap: 0.3,
            max_face_distance_ms: 600,
            min_hits: 2,
            concern_confidence: 0.6,
            neutral_confidence: 0.3,
        }
    }
}

/// Fraction of box `a` ([x, y, w, h]) covered by box `b`.
fn covered(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let area = a[2] * a[3];
    if ix <= 0.0 || iy <= 0.0 || area.is_nan() || area <= 0.0 { 0.0 } else { (ix * iy / area).min(1.0) }
}

pub(super) fn evaluate(obs: &Observations, cfg: &ScreenConfig) -> Evidence {
    if let Some(why) = obs.unavailable.get(OBJECTS_MODEL) {
        return Evidence::unavailable(CheckKind::Liveness, SIGNAL_SCREEN, format!("object detector: {why}"));
    }
    if !obs.has_video {
        return missing(SIGNAL_SCREEN, "no video");
    }
    let samples = &obs.video.objects;
    if samples.is_empty() {
        return missing(SIGNAL_SCREEN, "no object detections");
    }
    let faces: Vec<(f64, [f32; 4])> = obs.video.faces.iter().filter_map(|f| f.bbox.map(|b| (secs(f.t), b))).collect();
    let max_d = cfg.max_face_distance_ms as f64 / 1000.0;
    let mut hits = Vec::new();
    let mut judged = 0usize;
    for s in samples {
        let t = secs(s.t);
        let face = faces
            .iter()
            .filter(|f| (f.0 - t).abs() <= max_d)
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()));
        let Some((_, fb)) = face else { continue };
        judged += 1;
        let hit = s.detections.iter().find(|d| {
            d.score >= cfg.min_score && cfg.labels.contains(&d.label) && covered(fb, &d.bbox) >= cfg.min_face_overlap
        });
        if let Some(d) = hit {
            hits.push((t, s.frame, d.label.clone()));
        }
    }
    if judged == 0 {
        return missing(SIGNAL_SCREEN, "no object detections while a face was seen");
    }
    let share = hits.len() as f64 / judged as f64;
    if hits.len() >= cfg.min_hits.max(1) {
        let mut labels: Vec<&str> = hits.iter().map(|h| h.2.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        let e = observed(
            SIGNAL_SCREEN,
            Finding::Concern,
            cfg.concern_confidence,
            format!("a screen ({}) around the face in {} of {judged} sampled frames", labels.join(", "), hits.len()),
        )
        .with_value(share);
        return hits.iter().take(3).fold(e, |e, h| e.at(span(h.0, h.0, Some(h.1))));
    }
    observed(
        SIGNAL_SCREEN,
        Finding::Neutral,
        cfg.neutral_confidence,
        format!("no screen or phone around the face in {judged} sampled frames ({} isolated)", hits.len()),
    )
    .with_value(share)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::EvidenceState;
    use crate::observations::{FaceSample, ObjectBox, ObjectSample};
    use crate::types::{FrameIndex, MediaTime};

    fn scene(screen_box: Option<[f32; 4]>, frames: u64) -> Observations {
        let mut o = Observations { has_video: true, ..Default::default() };
        for i in 0..frames {
            let t = MediaTime::from_millis(i * 1000);
            o.video.faces.push(FaceSample {
                t,
                frame: FrameIndex(i),
                faces: 1,
                bbox: Some([100.0, 100.0, 80.0, 100.0]),
                score: Some(0.9),
            });
            let mut detections =
                vec![ObjectBox { label: "person".into(), score: 0.9, bbox: [50.0, 50.0, 300.0, 400.0] }];
            if let Some(b) = screen_box {
                detections.push(ObjectBox { label: "cell phone".into(), score: 0.6, bbox: b });
            }
            o.video.objects.push(ObjectSample {
                t,
                frame: FrameIndex(i),
                persons: 1,
                screens: 0,
                phones: 0,
                detections,
            });
        }
        o
    }

    #[test]
    fn a_phone_around_the_face_is_a_concern() {
        let e = evaluate(&scene(Some([80.0, 80.0, 130.0, 200.0]), 5), &ScreenConfig::default());
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
        assert_eq!(e.value, Some(1.0));
        assert_eq!(e.at.len(), 3);
    }

    #[test]
    fn a_phone_elsewhere_or_none_is_neutral() {
        let e = evaluate(&scene(Some([400.0, 300.0, 50.0, 90.0]), 5), &ScreenConfig::default());
        assert_eq!(e.finding(), Some(Finding::Neutral), "{e:#?}");
        assert_eq!(evaluate(&scene(None, 5), &ScreenConfig::default()).finding(), Some(Finding::Neutral));
    }

    #[test]
    fn no_detector_is_unavailable_and_no_samples_missing() {
        let mut o = scene(None, 3);
        o.unavailable.insert("centernet".into(), "file missing".into());
        assert!(matches!(evaluate(&o, &ScreenConfig::default()).state, EvidenceState::Unavailable { .. }));
        let o = Observations { has_video: true, ..Default::default() };
        assert!(matches!(evaluate(&o, &ScreenConfig::default()).state, EvidenceState::Missing { .. }));
    }

    #[test]
    fn coverage_of_boxes() {
        assert_eq!(covered(&[0.0, 0.0, 10.0, 10.0], &[-5.0, -5.0, 30.0, 30.0]), 1.0);
        assert_eq!(covered(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 10.0, 10.0]), 0.5);
        assert_eq!(covered(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 10.0, 10.0]), 0.0);
        assert_eq!(covered(&[0.0, 0.0, 0.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 0.0);
    }
}
