//! MediaPipe selfie segmentation (general 256x256 model), converted from the mediapipe 0.10.14 wheel.
//!
//! Pre: the **whole frame stretched** to 256x256 (aspect not kept, as MediaPipe's `keep_aspect_ratio: false`),
//! RGB, `x/255`, NHWC. Post: `activation_10` is the person probability per pixel, sigmoid already applied (one
//! channel; background = 1 - p).
//!
//! The returned [`PersonMask`] stays at model resolution (256x256) and covers the whole source frame **stretched**:
//! mask column `i` spans source x from `i/256 * width` to `(i+1)/256 * width`, likewise for rows. Every mask pixel
//! therefore stands for the same share of the frame's area, and [`PersonMask::person_fraction`] is the share of the
//! frame covered by the person. Sample it with fractional frame coordinates ([`PersonMask::at`]).

use super::{output_f32, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, to_nhwc, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const MODEL_ID: &str = "selfie_segmentation";
const SIZE: u32 = 256;
const INPUT: &str = "input_1";
const OUTPUT: &str = "activation_10";
/// Probability above which a pixel is the person (manifest `person`).
pub const PERSON_MIN: f32 = 0.5;

/// Person probability in [0, 1], row-major, `width` x `height` (model resolution), covering the whole source
/// frame stretched (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonMask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<f32>,
}

impl PersonMask {
    /// Share of the frame's area where the person probability exceeds [`PERSON_MIN`] (0 for an empty mask).
    pub fn person_fraction(&self) -> f32 {
        if self.data.is_empty() {
            return 0.0;
        }
        self.data.iter().filter(|&&p| p > PERSON_MIN).count() as f32 / self.data.len() as f32
    }

    /// Mean person probability over the whole frame (0 for an empty mask).
    pub fn mean(&self) -> f32 {
        if self.data.is_empty() {
            return 0.0;
        }
        self.data.iter().sum::<f32>() / self.data.len() as f32
    }

    /// Person probability at a point given as fractions of the frame's width and height (0..1, clamped),
    /// bilinearly interpolated between mask pixel centres. 0 for an empty or inconsistent mask or a non-finite
    /// point.
    pub fn at(&self, x_frac: f32, y_frac: f32) -> f32 {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 || self.data.len() != w * h || !x_frac.is_finite() || !y_frac.is_finite() {
            return 0.0;
        }
        let u = (x_frac.clamp(0.0, 1.0) * w as f32 - 0.5).clamp(0.0, (w - 1) as f32);
        let v = (y_frac.clamp(0.0, 1.0) * h as f32 - 0.5).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (u.floor() as usize, v.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        let g = |x: usize, y: usize| self.data[y * w + x];
        let top = g(x0, y0) * (1.0 - fx) + g(x1, y0) * fx;
        let bottom = g(x0, y1) * (1.0 - fx) + g(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

pub struct SelfieSegmenter {
    model: LoadedModel,
}

impl SelfieSegmenter {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        Ok(SelfieSegmenter { model: rt.load(MODEL_ID)? })
    }

    /// The person mask of a frame (any size; the frame is stretched to the model's 256x256).
    pub fn person_mask(&mut self, frame: &RgbFrame) -> Result<PersonMask, InferError> {
        let want = frame.width as usize * frame.height as usize * 3;
        if frame.width == 0 || frame.height == 0 || frame.data.len() != want {
            return Err(InferError::input(
                MODEL_ID,
                format!("frame {}x{} with {} bytes (expected {want})", frame.width, frame.height, frame.data.len()),
            ));
        }
        let whole = Rect { x: 0.0, y: 0.0, w: frame.width as f32, h: frame.height as f32 };
        let to_src = Affine::crop(&whole, SIZE, SIZE);
        let input = warp(frame, SIZE, SIZE, &to_src);
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nhwc(&input, Channels::Rgb, |v| v / 255.0, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, SIZE as i64, SIZE as i64, 3], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (_, mut data) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if data.len() != (SIZE * SIZE) as usize {
            return Err(InferError::output(
                MODEL_ID,
                format!("expected {} mask values, got {}", SIZE * SIZE, data.len()),
            ));
        }
        for p in &mut data {
            *p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
        }
        Ok(PersonMask { width: SIZE, height: SIZE, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_sampling_and_fraction() {
        // Left half person, right half background.
        let data = (0..4 * 2).map(|i| if i % 4 < 2 { 1.0 } else { 0.0 }).collect();
        let m = PersonMask { width: 4, height: 2, data };
        assert_eq!(m.person_fraction(), 0.5);
        assert_eq!(m.at(0.1, 0.5), 1.0);
        assert_eq!(m.at(0.9, 0.5), 0.0);
        assert!((m.at(0.5, 0.5) - 0.5).abs() < 1e-6, "halfway between columns 1 and 2");
        assert_eq!(m.at(-3.0, 7.0), 1.0, "clamped to the frame");
        assert_eq!(m.at(f32::NAN, 0.5), 0.0);
        let empty = PersonMask { width: 0, height: 0, data: vec![] };
        assert_eq!((empty.person_fraction(), empty.at(0.5, 0.5)), (0.0, 0.0));
        let bad = PersonMask { width: 10, height: 10, data: vec![1.0] };
        assert_eq!(bad.at(0.5, 0.5), 0.0);
    }
}
