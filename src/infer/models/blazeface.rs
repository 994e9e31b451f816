//! MediaPipe BlazeFace "back" (256x256, full range) face detector, ONNX as shipped.
//!
//! Pre: letterbox the frame into 256x256 RGB, `x/127.5 - 1`, NHWC. Post: 896 anchors (16x16 grid x2, 8x8 grid x6),
//! regressors offset from the anchor centre in units of 1/256 of the input, sigmoid scores, weighted NMS. Boxes and
//! keypoints are returned in source-frame pixels.

use super::{output_f32, sigmoid, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, to_nhwc, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const MODEL_ID: &str = "blazeface";
const SIZE: u32 = 256;
const INPUT: &str = "input:0";
const SCORES_16: &str = "Identity:0";
const SCORES_8: &str = "Identity_1:0";
const BOXES_16: &str = "Identity_2:0";
const BOXES_8: &str = "Identity_3:0";
/// Default minimum face score (MediaPipe's full-range detector uses 0.5).
pub const DEFAULT_MIN_SCORE: f32 = 0.5;
/// IoU above which detections are merged.
const NMS_IOU: f32 = 0.3;

/// Keypoint order as the model emits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keypoint {
    RightEye = 0,
    LeftEye = 1,
    NoseTip = 2,
    Mouth = 3,
    RightEar = 4,
    LeftEar = 5,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceDetection {
    pub bbox: Rect,
    pub score: f32,
    /// Six keypoints in [`Keypoint`] order, source pixels.
    pub keypoints: [(f32, f32); 6],
}

impl FaceDetection {
    pub fn keypoint(&self, k: Keypoint) -> (f32, f32) {
        self.keypoints[k as usize]
    }
    /// In-plane roll from the eye line, radians (0 = level).
    pub fn roll(&self) -> f32 {
        let (r, l) = (self.keypoint(Keypoint::RightEye), self.keypoint(Keypoint::LeftEye));
        (l.1 - r.1).atan2(l.0 - r.0)
    }
}

pub struct BlazeFace {
    model: LoadedModel,
    anchors: Vec<(f32, f32)>,
    min_score: f32,
}

impl BlazeFace {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let min_score = model.spec.thresholds.get("min_score").map(|&v| v as f32).unwrap_or(DEFAULT_MIN_SCORE);
        Ok(BlazeFace { model, anchors: anchors(), min_score })
    }

    pub fn with_min_score(mut self, s: f32) -> Self {
        self.min_score = s;
        self
    }

    /// Detects faces, best first.
    pub fn detect(&mut self, frame: &RgbFrame) -> Result<Vec<FaceDetection>, InferError> {
        let to_src = Affine::letterbox(frame.width, frame.height, SIZE, SIZE);
        let input = warp(frame, SIZE, SIZE, &to_src);
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nhwc(&input, Channels::Rgb, |v| v / 127.5 - 1.0, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, SIZE as i64, SIZE as i64, 3], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (_, s16) = output_f32(&out, MODEL_ID, SCORES_16)?;
        let (_, s8) = output_f32(&out, MODEL_ID, SCORES_8)?;
        let (_, b16) = output_f32(&out, MODEL_ID, BOXES_16)?;
        let (_, b8) = output_f32(&out, MODEL_ID, BOXES_8)?;
        if s16.len() != 512 || s8.len() != 384 || b16.len() != 512 * 16 || b8.len() != 384 * 16 {
            return Err(InferError::output(MODEL_ID, "unexpected output sizes"));
        }
        let scores = s16.iter().chain(&s8);
        let regs: Vec<&[f32]> = b16.chunks_exact(16).chain(b8.chunks_exact(16)).collect();
        let mut raw = Vec::new();
        for (i, &logit) in scores.enumerate() {
            let score = sigmoid(logit);
            if score < self.min_score {
                continue;
            }
            raw.push(decode(regs[i], self.anchors[i], score, &to_src));
        }
        Ok(weighted_nms(raw, NMS_IOU))
    }
}

fn anchors() -> Vec<(f32, f32)> {
    let mut a = Vec::with_capacity(896);
    for (n, per_cell) in [(16usize, 2usize), (8, 6)] {
        for row in 0..n {
            for col in 0..n {
                for _ in 0..per_cell {
                    a.push(((col as f32 + 0.5) / n as f32, (row as f32 + 0.5) / n as f32));
                }
            }
        }
    }
    a
}

fn decode(r: &[f32], anchor: (f32, f32), score: f32, to_src: &Affine) -> FaceDetection {
    let s = SIZE as f32;
    let (ax, ay) = (anchor.0 * s, anchor.1 * s);
    let (cx, cy, w, h) = (ax + r[0], ay + r[1], r[2], r[3]);
    let (x0, y0) = to_src.apply(cx - w / 2.0, cy - h / 2.0);
    let (x1, y1) = to_src.apply(cx + w / 2.0, cy + h / 2.0);
    let mut keypoints = [(0.0, 0.0); 6];
    for (k, kp) in keypoints.iter_mut().enumerate() {
        *kp = to_src.apply(ax + r[4 + 2 * k], ay + r[5 + 2 * k]);
    }
    FaceDetection { bbox: Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, score, keypoints }
}

/// MediaPipe-style weighted NMS: overlapping detections are averaged, weighted by score.
fn weighted_nms(mut dets: Vec<FaceDetection>, iou: f32) -> Vec<FaceDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out: Vec<FaceDetection> = Vec::new();
    let mut used = vec![false; dets.len()];
    for i in 0..dets.len() {
        if used[i] {
            continue;
        }
        let mut group = vec![i];
        for j in i + 1..dets.len() {
            if !used[j] && dets[i].bbox.iou(&dets[j].bbox) > iou {
                group.push(j);
            }
        }
        let total: f32 = group.iter().map(|&g| dets[g].score).sum();
        let mut merged = dets[i].clone();
        let avg =
            |f: &dyn Fn(&FaceDetection) -> f32| group.iter().map(|&g| f(&dets[g]) * dets[g].score).sum::<f32>() / total;
        merged.bbox =
            Rect { x: avg(&|d| d.bbox.x), y: avg(&|d| d.bbox.y), w: avg(&|d| d.bbox.w), h: avg(&|d| d.bbox.h) };
        for k in 0..6 {
            merged.keypoints[k] = (avg(&|d| d.keypoints[k].0), avg(&|d| d.keypoints[k].1));
        }
        for &g in &group {
            used[g] = true;
        }
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_layout_matches_the_two_heads() {
        let a = anchors();
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0], "two anchors per 16x16 cell");
        assert_eq!(a[512], (0.5 / 8.0, 0.5 / 8.0));
        assert_eq!(a[895], (7.5 / 8.0, 7.5 / 8.0));
    }

    #[test]
    fn nms_merges_overlaps_and_keeps_separate_faces() {
        let d = |x: f32, s: f32| FaceDetection {
            bbox: Rect { x, y: 0.0, w: 10.0, h: 10.0 },
            score: s,
            keypoints: [(x, 0.0); 6],
        };
        let out = weighted_nms(vec![d(0.0, 0.9), d(1.0, 0.6), d(50.0, 0.7)], 0.3);
        assert_eq!(out.len(), 2);
        assert!(out[0].bbox.x > 0.0 && out[0].bbox.x < 1.0, "weighted towards the stronger box");
        assert_eq!(out[1].bbox.x, 50.0);
    }
}
