//! MediaPipe face mesh (`face_landmark`, 468 points, 192x192), converted from the mediapipe 0.10.14 wheel.
//!
//! Pre: a square ROI around the face — the detector box enlarged [`ROI_SCALE`] (1.5x, made square on its long side)
//! and rotated by the eye-line roll so the eyes are level — warped to 192x192 RGB, `x/255`, NHWC. When tracking,
//! the ROI comes from the previous frame's mesh instead ([`roi_from_points`]).
//! Post: `conv2d_21` holds 468 x (x, y, z) in pixels of the 192 px crop (z: relative depth in the same scale,
//! negative = towards the camera); they are mapped back through the ROI transform, so [`MeshResult::points`] are in
//! source-frame pixels with z scaled like x. `conv2d_31` is the face-presence logit; below
//! [`DEFAULT_MIN_PRESENCE`] (manifest `face_presence`) after the sigmoid there is no face and the answer is `None`.
//!
//! The presence score does not reject a badly placed ROI (a crop centred on the hair still scores ~1.0, with a
//! shifted mesh), so place the ROI from the detector or from the previous mesh, never from a guess.
//!
//! # Measures ([`FaceMetrics`])
//! "Right"/"left" are the subject's own: the subject's right eye is on the image left in a non-mirrored picture.
//! All are computed from the source-frame points after undoing the roll, so they do not depend on the ROI.
//! - `eye_open_*`: eye aspect ratio, lid gap / eye width (about 0.33-0.37 open, ~1/3 of that in a blink; use
//!   the person's own open value as reference, not a fixed number).
//! - `mouth_open`: inner-lip gap / mouth-corner distance (near 0 closed, 0.1-0.2 talking or smiling).
//! - `yaw_deg`: `atan2(z454 - z234, x454 - x234)`. **Positive = the person turns to THEIR left** (the nose moves
//!   towards the image right in a non-mirrored picture). Checked on real images: a horizontally mirrored image
//!   flips the sign, and on the talking-head video it moves with the 2-D nose offset between the cheek edges.
//! - `pitch_deg`: `atan2(z152 - z10, y152 - y10)` (chin vs forehead). **Positive grows as the head tilts down**
//!   (on the talking-head video it moves with the 2-D drop of the nose tip below the eye corners, r ≈ 0.67, over a
//!   small range). The neutral value is not 0 and varies with the face and the camera height (-14° to +12° on
//!   the test photos, +11° on the frontal astronaut), so use the change from the person's own baseline.
//! - `roll_deg`: the eye line (outer corners 33 → 263) against the image horizontal, y down. **Positive = the head
//!   tilts towards the person's left shoulder** (clockwise as seen in the image); same sign as
//!   [`FaceDetection::roll`].

use super::blazeface::FaceDetection;
use super::{output_f32, sigmoid, tensor_f32};
use crate::analysis::image::{Affine, Channels, RgbFrame, to_nhwc, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const MODEL_ID: &str = "face_mesh";
const SIZE: u32 = 192;
const INPUT: &str = "input_1";
const LANDMARKS: &str = "conv2d_21";
const PRESENCE: &str = "conv2d_31";
/// Landmarks the model returns.
pub const NUM_POINTS: usize = 468;
/// Default minimum face presence (sigmoid of the logit); MediaPipe uses 0.5.
pub const DEFAULT_MIN_PRESENCE: f32 = 0.5;
/// The ROI side is the long side of the face box (detector box or mesh extent) times this, as in MediaPipe.
pub const ROI_SCALE: f32 = 1.5;
/// ROIs smaller than this (source pixels) hold no usable face.
const MIN_ROI_SIDE: f32 = 8.0;
/// Distances below this are degenerate (ratios become 0).
const EPS: f32 = 1e-6;

/// Landmark indices used here (subject's own right/left; see the module docs).
pub mod idx {
    pub const RIGHT_EYE_OUTER: usize = 33;
    pub const RIGHT_EYE_INNER: usize = 133;
    pub const RIGHT_EYE_UPPER: usize = 159;
    pub const RIGHT_EYE_LOWER: usize = 145;
    pub const LEFT_EYE_OUTER: usize = 263;
    pub const LEFT_EYE_INNER: usize = 362;
    pub const LEFT_EYE_UPPER: usize = 386;
    pub const LEFT_EYE_LOWER: usize = 374;
    pub const LIP_INNER_UPPER: usize = 13;
    pub const LIP_INNER_LOWER: usize = 14;
    /// Subject's right mouth corner (image left).
    pub const MOUTH_RIGHT: usize = 61;
    /// Subject's left mouth corner (image right).
    pub const MOUTH_LEFT: usize = 291;
    pub const NOSE_TIP: usize = 1;
    pub const CHIN: usize = 152;
    pub const FOREHEAD: usize = 10;
    /// Face edge at the cheekbone, subject's right (image left).
    pub const CHEEK_RIGHT: usize = 234;
    /// Face edge at the cheekbone, subject's left (image right).
    pub const CHEEK_LEFT: usize = 454;
}

/// Scale-invariant face measures from one mesh (see the module docs for definitions and sign conventions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceMetrics {
    pub eye_open_left: f32,
    pub eye_open_right: f32,
    pub mouth_open: f32,
    pub yaw_deg: f32,
    pub pitch_deg: f32,
    pub roll_deg: f32,
}

impl FaceMetrics {
    /// Measures from 468 mesh points in any one consistent unit (source pixels or crop pixels). `None` when there
    /// are too few points or any used point is not finite.
    pub fn from_points(points: &[[f32; 3]]) -> Option<FaceMetrics> {
        use idx::*;
        if points.len() < NUM_POINTS || points.iter().flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let p = |i: usize| points[i];
        let dist2 = |a: usize, b: usize| {
            let (pa, pb) = (p(a), p(b));
            ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2)).sqrt()
        };
        let ratio = |num: f32, den: f32| if den > EPS { num / den } else { 0.0 };
        let eye_open_right = ratio(dist2(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), dist2(RIGHT_EYE_OUTER, RIGHT_EYE_INNER));
        let eye_open_left = ratio(dist2(LEFT_EYE_UPPER, LEFT_EYE_LOWER), dist2(LEFT_EYE_OUTER, LEFT_EYE_INNER));
        let mouth_open = ratio(dist2(LIP_INNER_UPPER, LIP_INNER_LOWER), dist2(MOUTH_RIGHT, MOUTH_LEFT));
        let roll = eye_line_roll(points);
        // Undo the roll (rotate by -roll) so yaw and pitch are measured on a level face.
        let (s, c) = roll.sin_cos();
        let level = |i: usize| {
            let q = p(i);
            (c * q[0] + s * q[1], -s * q[0] + c * q[1], q[2])
        };
        let (cr, cl) = (level(CHEEK_RIGHT), level(CHEEK_LEFT));
        let (fh, ch) = (level(FOREHEAD), level(CHIN));
        let yaw = (cl.2 - cr.2).atan2(cl.0 - cr.0);
        let pitch = (ch.2 - fh.2).atan2(ch.1 - fh.1);
        Some(FaceMetrics {
            eye_open_left,
            eye_open_right,
            mouth_open,
            yaw_deg: yaw.to_degrees(),
            pitch_deg: pitch.to_degrees(),
            roll_deg: roll.to_degrees(),
        })
    }
}

/// Roll of the eye line (subject's right outer corner → left outer corner), radians, y down. Needs 468 points.
fn eye_line_roll(points: &[[f32; 3]]) -> f32 {
    let (r, l) = (points[idx::RIGHT_EYE_OUTER], points[idx::LEFT_EYE_OUTER]);
    (l[1] - r[1]).atan2(l[0] - r[0])
}

/// One face's mesh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeshResult {
    /// 468 points (x, y, z) in source-frame pixels; z is relative depth in the same scale, negative = nearer.
    pub points: Vec<[f32; 3]>,
    /// Face presence, sigmoid of the model's logit.
    pub presence: f32,
    pub metrics: FaceMetrics,
}

impl MeshResult {
    /// The five points for ArcFace alignment (`face_embed::FaceEmbedder::embed_with_points`), in template order:
    /// subject's right eye centre (image left), left eye centre, nose tip, right mouth corner, left mouth corner.
    pub fn arcface_points(&self) -> Option<[(f32, f32); 5]> {
        use idx::*;
        if self.points.len() < NUM_POINTS {
            return None;
        }
        let xy = |i: usize| (self.points[i][0], self.points[i][1]);
        let mid = |a: usize, b: usize| {
            let (pa, pb) = (xy(a), xy(b));
            ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0)
        };
        Some([
            mid(RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
            mid(LEFT_EYE_OUTER, LEFT_EYE_INNER),
            xy(NOSE_TIP),
            xy(MOUTH_RIGHT),
            xy(MOUTH_LEFT),
        ])
    }

    /// The axis-aligned 2-D extent of the mesh (source pixels).
    pub fn bbox(&self) -> crate::analysis::image::Rect {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in &self.points {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        if x1 < x0 || y1 < y0 {
            return crate::analysis::image::Rect::default();
        }
        crate::analysis::image::Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
    }
}

/// The ROI for tracking from a previous mesh: `(centre, side, roll)` in source pixels and radians. The side is the
/// long side of the mesh extent measured along the eye line, times [`ROI_SCALE`]; the roll is the eye-line roll.
/// Degenerate input (fewer than 468 points, non-finite values) gives side 0, which
/// [`FaceMesh::landmarks_in_roi`] answers with `Ok(None)`.
pub fn roi_from_points(points: &[[f32; 3]]) -> ((f32, f32), f32, f32) {
    if points.len() < NUM_POINTS || points.iter().flatten().any(|v| !v.is_finite()) {
        return ((0.0, 0.0), 0.0, 0.0);
    }
    let roll = eye_line_roll(points);
    let (s, c) = roll.sin_cos();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        let (u, v) = (c * p[0] + s * p[1], -s * p[0] + c * p[1]);
        x0 = x0.min(u);
        y0 = y0.min(v);
        x1 = x1.max(u);
        y1 = y1.max(v);
    }
    let (mu, mv) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let centre = (c * mu - s * mv, s * mu + c * mv);
    let side = (x1 - x0).max(y1 - y0) * ROI_SCALE;
    (centre, side, roll)
}

/// The crop→source map of a square ROI of `side` pixels centred at `centre`, rotated by `roll` radians.
fn roi_affine(centre: (f32, f32), side: f32, roll: f32) -> Affine {
    let k = side / SIZE as f32;
    let (s, c) = roll.sin_cos();
    let h = SIZE as f32 / 2.0;
    Affine { a: k * c, b: -k * s, c: centre.0 - k * h * (c - s), d: k * s, e: k * c, f: centre.1 - k * h * (s + c) }
}

pub struct FaceMesh {
    model: LoadedModel,
    min_presence: f32,
}

impl FaceMesh {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let min_presence =
            model.spec.thresholds.get("face_presence").map(|&v| v as f32).unwrap_or(DEFAULT_MIN_PRESENCE);
        Ok(FaceMesh { model, min_presence })
    }

    pub fn with_min_presence(mut self, p: f32) -> Self {
        self.min_presence = p;
        self
    }

    /// The mesh of the face `face` found by BlazeFace: ROI = its box, square on the long side, enlarged
    /// [`ROI_SCALE`], rotated by the eye-line roll. `Ok(None)` when the model sees no face there (or the box
    /// cannot hold one: tiny, or entirely outside the frame).
    pub fn landmarks(&mut self, frame: &RgbFrame, face: &FaceDetection) -> Result<Option<MeshResult>, InferError> {
        let b = &face.bbox;
        if ![b.x, b.y, b.w, b.h].iter().all(|v| v.is_finite()) {
            return Err(InferError::input(MODEL_ID, "face box is not finite"));
        }
        let roll = face.roll();
        let roll = if roll.is_finite() { roll } else { 0.0 };
        let side = b.w.max(b.h) * ROI_SCALE;
        self.landmarks_in_roi(frame, b.center(), side, roll)
    }

    /// The mesh inside an explicit ROI (e.g. from [`roi_from_points`] on the previous frame): a square of `side`
    /// source pixels centred at `centre`, rotated by `roll` radians (y down).
    pub fn landmarks_in_roi(
        &mut self,
        frame: &RgbFrame,
        centre: (f32, f32),
        side: f32,
        roll: f32,
    ) -> Result<Option<MeshResult>, InferError> {
        check_frame(frame)?;
        if ![centre.0, centre.1, side, roll].iter().all(|v| v.is_finite()) {
            return Err(InferError::input(MODEL_ID, "ROI is not finite"));
        }
        // The rotated square lies within `side/√2` of its centre; outside the frame there is nothing to see.
        let reach = side * std::f32::consts::FRAC_1_SQRT_2;
        let outside = centre.0 + reach <= 0.0
            || centre.1 + reach <= 0.0
            || centre.0 - reach >= frame.width as f32
            || centre.1 - reach >= frame.height as f32;
        if side < MIN_ROI_SIDE || outside {
            return Ok(None);
        }
        let to_src = roi_affine(centre, side, roll);
        let crop = warp(frame, SIZE, SIZE, &to_src);
        let mut buf = Vec::with_capacity((SIZE * SIZE * 3) as usize);
        to_nhwc(&crop, Channels::Rgb, |v| v / 255.0, &mut buf);
        let tensor = tensor_f32(MODEL_ID, vec![1, SIZE as i64, SIZE as i64, 3], buf)?;
        let out = self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (_, raw) = output_f32(&out, MODEL_ID, LANDMARKS)?;
        let (_, logit) = output_f32(&out, MODEL_ID, PRESENCE)?;
        let (Some(&logit), true) = (logit.first(), raw.len() == NUM_POINTS * 3) else {
            return Err(InferError::output(
                MODEL_ID,
                format!(
                    "expected {} landmark values and 1 presence logit, got {} and {}",
                    NUM_POINTS * 3,
                    raw.len(),
                    logit.len()
                ),
            ));
        };
        let presence = sigmoid(logit);
        if presence.is_nan() || presence < self.min_presence {
            return Ok(None);
        }
        let k = side / SIZE as f32;
        let points: Vec<[f32; 3]> = raw
            .chunks_exact(3)
            .map(|p| {
                let (x, y) = to_src.apply(p[0], p[1]);
                [x, y, p[2] * k]
            })
            .collect();
        let Some(metrics) = FaceMetrics::from_points(&points) else {
            return Err(InferError::output(MODEL_ID, "non-finite landmarks"));
        };
        Ok(Some(MeshResult { points, presence, metrics }))
    }
}

fn check_frame(frame: &RgbFrame) -> Result<(), InferError> {
    let want = frame.width as usize * frame.height as usize * 3;
    if frame.width == 0 || frame.height == 0 || frame.data.len() != want {
        return Err(InferError::input(
            MODEL_ID,
            format!("frame {}x{} with {} bytes (expected {want})", frame.width, frame.height, frame.data.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic "mesh": all points at the origin except the ones the measures use.
    fn synthetic(roll: f32) -> Vec<[f32; 3]> {
        let mut p = vec![[0.0f32; 3]; NUM_POINTS];
        let set = |p: &mut Vec<[f32; 3]>, i: usize, x: f32, y: f32, z: f32| p[i] = [x, y, z];
        set(&mut p, idx::RIGHT_EYE_OUTER, -40.0, 0.0, 0.0);
        set(&mut p, idx::RIGHT_EYE_INNER, -10.0, 0.0, 0.0);
        set(&mut p, idx::RIGHT_EYE_UPPER, -25.0, -5.0, 0.0);
        set(&mut p, idx::RIGHT_EYE_LOWER, -25.0, 5.0, 0.0);
        set(&mut p, idx::LEFT_EYE_OUTER, 40.0, 0.0, 0.0);
        set(&mut p, idx::LEFT_EYE_INNER, 10.0, 0.0, 0.0);
        set(&mut p, idx::LEFT_EYE_UPPER, 25.0, -3.0, 0.0);
        set(&mut p, idx::LEFT_EYE_LOWER, 25.0, 3.0, 0.0);
        set(&mut p, idx::MOUTH_RIGHT, -20.0, 50.0, 0.0);
        set(&mut p, idx::MOUTH_LEFT, 20.0, 50.0, 0.0);
        set(&mut p, idx::LIP_INNER_UPPER, 0.0, 48.0, 0.0);
        set(&mut p, idx::LIP_INNER_LOWER, 0.0, 52.0, 0.0);
        // Turned to the subject's left: the image-right cheek is further away.
        set(&mut p, idx::CHEEK_RIGHT, -60.0, 10.0, 40.0);
        set(&mut p, idx::CHEEK_LEFT, 60.0, 10.0, 60.0);
        set(&mut p, idx::FOREHEAD, 0.0, -50.0, -10.0);
        set(&mut p, idx::CHIN, 0.0, 80.0, 10.0);
        let (s, c) = roll.sin_cos();
        p.iter().map(|q| [c * q[0] - s * q[1], s * q[0] + c * q[1], q[2]]).collect()
    }

    #[test]
    fn face_metrics_are_ratios_and_angles_survive_roll() {
        let m = FaceMetrics::from_points(&synthetic(0.0)).unwrap();
        assert!((m.eye_open_right - 10.0 / 30.0).abs() < 1e-5);
        assert!((m.eye_open_left - 6.0 / 30.0).abs() < 1e-5);
        assert!((m.mouth_open - 0.1).abs() < 1e-5);
        assert!((m.yaw_deg - (20.0f32).atan2(120.0).to_degrees()).abs() < 1e-3);
        assert!(m.yaw_deg > 0.0, "subject's left cheek further away = turned to their left");
        assert!((m.pitch_deg - (20.0f32).atan2(130.0).to_degrees()).abs() < 1e-3);
        assert!(m.roll_deg.abs() < 1e-4);
        let r = FaceMetrics::from_points(&synthetic(0.3)).unwrap();
        assert!((r.roll_deg - 0.3f32.to_degrees()).abs() < 1e-3);
        for (a, b) in [
            (m.eye_open_left, r.eye_open_left),
            (m.mouth_open, r.mouth_open),
            (m.yaw_deg, r.yaw_deg),
            (m.pitch_deg, r.pitch_deg),
        ] {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn degenerate_points_give_no_metrics_and_an_empty_roi() {
        assert!(FaceMetrics::from_points(&[[0.0; 3]; 10]).is_none());
        let mut p = synthetic(0.0);
        p[5][0] = f32::NAN;
        assert!(FaceMetrics::from_points(&p).is_none());
        assert_eq!(roi_from_points(&p).1, 0.0);
        let zeros = vec![[0.0f32; 3]; NUM_POINTS];
        let m = FaceMetrics::from_points(&zeros).unwrap();
        assert_eq!((m.eye_open_left, m.mouth_open), (0.0, 0.0));
    }

    #[test]
    fn roi_affine_maps_the_crop_centre_and_keeps_the_eye_line_level() {
        let m = roi_affine((100.0, 50.0), 96.0, 0.5);
        let (x, y) = m.apply(96.0, 96.0);
        assert!((x - 100.0).abs() < 1e-3 && (y - 50.0).abs() < 1e-3);
        // A horizontal step in the crop is a step along the roll direction in the source, half a pixel per pixel.
        let (x2, y2) = m.apply(97.0, 96.0);
        assert!((x2 - x - 0.5 * 0.5f32.cos()).abs() < 1e-4);
        assert!((y2 - y - 0.5 * 0.5f32.sin()).abs() < 1e-4);
    }

    #[test]
    fn roi_from_points_recovers_centre_side_and_roll() {
        let pts = synthetic(0.2);
        let (c, side, roll) = roi_from_points(&pts);
        assert!((roll - 0.2).abs() < 1e-4);
        // Level extent: x -60..60, y -50..80 → long side 130, centre (0, 15) rotated by the roll.
        assert!((side - 130.0 * ROI_SCALE).abs() < 1e-2, "{side}");
        let (s, co) = 0.2f32.sin_cos();
        assert!((c.0 - (-s * 15.0)).abs() < 1e-3 && (c.1 - co * 15.0).abs() < 1e-3);
    }
}
