//! Passive face anti-spoofing with an optional, operator-supplied MiniFASNet-compatible model
//! (`models/operator/anti_spoof.onnx`; none ships with the project).
//!
//! Pre (MiniFASNet's `CropImage`): the face box scaled by `crop_scale` (manifest threshold, 2.7 for MiniFASNetV2,
//! 4.0 for V1SE) around its centre, the scale first limited so the crop fits the frame, the crop then shifted to
//! stay inside the frame; resized to 80x80, **BGR raw 0..255** (no normalisation), NCHW `[1,3,80,80]`. Post: softmax
//! over the 3 logits; class 1 is a real face, classes 0 and 2 are spoofs; the live score is p(class 1).
//!
//! When the file is absent, `load` returns `InferError::Missing` (the caller reports the check as unavailable).

use super::{output_f32, softmax, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, to_nchw, warp};
use crate::infer::{InferError, LoadedModel, Runtime};

pub const MODEL_ID: &str = "anti_spoof";
const SIZE: u32 = 80;
const INPUT: &str = "input";
const OUTPUT: &str = "output";
const NUM_CLASSES: usize = 3;
/// The output class that means "real face".
const LIVE_CLASS: usize = 1;
/// Crop scale when the manifest has no `crop_scale` (MiniFASNetV2's 2.7).
pub const DEFAULT_CROP_SCALE: f32 = 2.7;

pub struct AntiSpoof {
    model: LoadedModel,
    crop_scale: f32,
}

impl AntiSpoof {
    /// Loads the operator's model; `InferError::Missing` when it has not been placed.
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let crop_scale = model
            .spec
            .thresholds
            .get("crop_scale")
            .map(|&v| v as f32)
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_CROP_SCALE);
        Ok(AntiSpoof { model, crop_scale })
    }

    pub fn crop_scale(&self) -> f32 {
        self.crop_scale
    }

    /// The probability that `face` (source-frame pixels, e.g. a detector box) is a real face, 0..1.
    pub fn live_score(&mut self, frame: &RgbFrame, face: &Rect) -> Result<f32, InferError> {
        let rect = crop_box(frame.width, frame.height, face, self.crop_scale)?;
        let crop = warp(frame, SIZE, SIZE, &Affine::crop(&rect, SIZE, SIZE));
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nchw(&crop, Channels::Bgr, |v| v, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, 3, SIZE as i64, SIZE as i64], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (shape, mut logits) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if logits.len() != NUM_CLASSES || logits.iter().any(|v| !v.is_finite()) {
            return Err(InferError::output(
                MODEL_ID,
                format!("output shape {shape:?} (expected [1, {NUM_CLASSES}]) or non-finite logits"),
            ));
        }
        softmax(&mut logits);
        Ok(logits[LIVE_CLASS])
    }
}

/// MiniFASNet's `_get_new_box`: the crop in source pixels, as the inclusive integer corners it computes turned into
/// a rectangle (`w = right - left + 1`).
fn crop_box(src_w: u32, src_h: u32, face: &Rect, scale: f32) -> Result<Rect, InferError> {
    let finite = [face.x, face.y, face.w, face.h].iter().all(|v| v.is_finite());
    if !finite || face.w <= 0.0 || face.h <= 0.0 {
        return Err(InferError::input(MODEL_ID, format!("face box {face:?} is empty or not finite")));
    }
    let (sw, sh) = (src_w as f32, src_h as f32);
    let scale = scale.min((sh - 1.0) / face.h).min((sw - 1.0) / face.w);
    let (nw, nh) = (face.w * scale, face.h * scale);
    let (cx, cy) = face.center();
    let (mut x0, mut y0) = (cx - nw / 2.0, cy - nh / 2.0);
    let (mut x1, mut y1) = (cx + nw / 2.0, cy + nh / 2.0);
    if x0 < 0.0 {
        x1 -= x0;
        x0 = 0.0;
    }
    if y0 < 0.0 {
        y1 -= y0;
        y0 = 0.0;
    }
    if x1 > sw - 1.0 {
        x0 -= x1 - sw + 1.0;
        x1 = sw - 1.0;
    }
    if y1 > sh - 1.0 {
        y0 -= y1 - sh + 1.0;
        y1 = sh - 1.0;
    }
    // Python's int() truncates toward zero; clamp guards rounding at the edges.
    let (x0, y0) = (x0.trunc().clamp(0.0, sw - 1.0), y0.trunc().clamp(0.0, sh - 1.0));
    let (x1, y1) = (x1.trunc().clamp(x0, sw - 1.0), y1.trunc().clamp(y0, sh - 1.0));
    Ok(Rect { x: x0, y: y0, w: x1 - x0 + 1.0, h: y1 - y0 + 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect { x, y, w, h }
    }

    #[test]
    fn crop_scales_around_the_centre_inside_the_frame() {
        // 40x40 box centred at (200, 150) in 400x300, scale 2.7 -> 108x108 from (146, 96).
        let c = crop_box(400, 300, &r(180.0, 130.0, 40.0, 40.0), 2.7).unwrap();
        assert_eq!(c, r(146.0, 96.0, 109.0, 109.0));
    }

    #[test]
    fn crop_at_a_corner_is_shifted_inside() {
        let c = crop_box(200, 200, &r(-5.0, -5.0, 20.0, 20.0), 2.7).unwrap();
        assert_eq!((c.x, c.y), (0.0, 0.0));
        assert_eq!((c.w, c.h), (55.0, 55.0));
        let c = crop_box(200, 200, &r(190.0, 195.0, 20.0, 20.0), 2.7).unwrap();
        assert!(c.x + c.w <= 200.0 && c.y + c.h <= 200.0 && c.x >= 0.0 && c.y >= 0.0);
    }

    #[test]
    fn crop_scale_is_limited_by_the_frame() {
        let c = crop_box(100, 80, &r(10.0, 10.0, 60.0, 60.0), 2.7).unwrap();
        // scale = min(2.7, 79/60, 99/60) = 79/60 -> 79x79, shifted to the top.
        assert_eq!((c.y, c.h), (0.0, 80.0));
        assert!(c.x >= 0.0 && c.x + c.w <= 100.0);
        assert!(crop_box(100, 80, &r(0.0, 0.0, 0.0, 10.0), 2.7).is_err());
        assert!(crop_box(100, 80, &r(f32::INFINITY, 0.0, 5.0, 10.0), 2.7).is_err());
    }
}
