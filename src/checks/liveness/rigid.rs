//! `liveness.rigid_motion`: does the face deform, or move as one plane like a photo or a screen?
//!
//! For every pair of mesh samples `min_gap_ms`-`max_gap_ms` apart, a homography is fitted (normalised DLT, least
//! squares over the 24 tracked points) from the first sample's points to the second's; the pair's residual is the
//! RMS transfer error divided by the inter-ocular distance (IOD, between the eye centres). Any motion of a plane
//! under a pinhole camera is a homography, so a photo or a screen leaves only the landmark jitter; a real head
//! adds depth parallax when it turns and deforms when it talks or blinks. The pair's motion is the RMS point
//! displacement over the IOD: when the face barely moved and nothing deformed, the fit says nothing.

use super::{SIGNAL_RIGID_MOTION, math, missing, observed, secs, span};
use crate::checks::{Evidence, Finding};
use crate::observations::{MeshSample, Observations, TRACK_POINTS};
use crate::types::FrameIndex;
use serde::{Deserialize, Serialize};

/// Positions in [`TRACK_POINTS`] of the eye corners (landmarks 33, 133, 263, 362).
const RIGHT_EYE_OUTER: usize = 0;
const RIGHT_EYE_INNER: usize = 1;
const LEFT_EYE_OUTER: usize = 4;
const LEFT_EYE_INNER: usize = 5;

/// Thresholds of the rigidity test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RigidMotionConfig {
    /// Shortest time between the two samples of a pair (ms).
    pub min_gap_ms: u64,
    /// Longest time between the two samples of a pair (ms).
    pub max_gap_ms: u64,
    /// Fewer pairs than this: Missing.
    pub min_pairs: usize,
    /// A pair "moved" when its RMS point displacement is at least this (IOD).
    pub min_motion: f64,
    /// At least this many moving pairs are needed before rigidity is a Concern.
    pub min_moving_pairs: usize,
    /// Median residual (IOD) at or above this: the face deforms → Supports. Real faces measured 0.020-0.045
    /// (the still webcam face 0.020 over its moving pairs), so 0.015 leaves a 1.3x margin.
    pub support_residual: f64,
    /// Median residual (IOD) below this, with at least `min_moving_pairs` moving pairs: the face moved as one
    /// plane → Concern. The printed photo measured 0.0073; 0.011 leaves a 1.5x margin for landmark jitter.
    pub rigid_residual: f64,
    /// Length of the stretch reported as the most rigid (ms).
    pub stretch_ms: u64,
    pub support_confidence: f32,
    pub concern_confidence: f32,
    /// Confidence of the Neutral "barely moved" finding.
    pub neutral_confidence: f32,
}

impl Default for RigidMotionConfig {
    fn default() -> Self {
        RigidMotionConfig {
            min_gap_ms: 300,
            max_gap_ms: 1000,
            min_pairs: 10,
            min_motion: 0.05,
            min_moving_pairs: 10,
            support_residual: 0.015,
            rigid_residual: 0.011,
            stretch_ms: 2000,
            support_confidence: 0.6,
            concern_confidence: 0.7,
            neutral_confidence: 0.2,
        }
    }
}

/// One fitted pair.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pair {
    pub t0: f64,
    pub t1: f64,
    pub frame: FrameIndex,
    /// RMS transfer error / IOD.
    pub residual: f64,
    /// RMS displacement / IOD.
    pub motion: f64,
}

fn points(s: &MeshSample) -> Option<Vec<[f64; 2]>> {
    if s.points.len() != TRACK_POINTS.len() {
        return None;
    }
    let p: Vec<[f64; 2]> = s.points.iter().map(|p| [f64::from(p[0]), f64::from(p[1])]).collect();
    p.iter().flatten().all(|v| v.is_finite()).then_some(p)
}

/// Distance between the eye centres; `None` when the eye corners are missing.
fn iod(p: &[[f64; 2]]) -> Option<f64> {
    let mid = |a: usize, b: usize| {
        let (a, b) = (p.get(a)?, p.get(b)?);
        Some([(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0])
    };
    let (r, l) = (mid(RIGHT_EYE_OUTER, RIGHT_EYE_INNER)?, mid(LEFT_EYE_OUTER, LEFT_EYE_INNER)?);
    Some(((r[0] - l[0]).powi(2) + (r[1] - l[1]).powi(2)).sqrt())
}

/// Residual and motion (both / IOD) of the homography from `a` to `b`.
pub(super) fn pair_residual(a: &[[f64; 2]], b: &[[f64; 2]]) -> Option<(f64, f64)> {
    if a.len() != b.len() {
        return None;
    }
    let d = 0.5 * (iod(a)? + iod(b)?);
    if !(d.is_finite() && d > 1.0) {
        return None;
    }
    let h = math::Homography::fit(a, b)?;
    let err = h.rms_error(a, b)?;
    let motion = (a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sum::<f64>()
        / a.len() as f64)
        .sqrt();
    Some((err / d, motion / d))
}

/// Every pair of samples `min_gap`-`max_gap` apart, in time order of the first sample.
pub(super) fn pairs(mesh: &[&MeshSample], cfg: &RigidMotionConfig) -> Vec<Pair> {
    let (lo, hi) = (cfg.min_gap_ms as f64 / 1000.0, cfg.max_gap_ms as f64 / 1000.0);
    let pts: Vec<(f64, FrameIndex, Vec<[f64; 2]>)> =
        mesh.iter().filter_map(|s| points(s).map(|p| (secs(s.t), s.frame, p))).collect();
    let mut out = Vec::new();
    for (i, (t0, frame, a)) in pts.iter().enumerate() {
        for (t1, _, b) in pts[i + 1..].iter() {
            let dt = t1 - t0;
            if dt > hi + 1e-9 {
                break;
            }
            if dt + 1e-9 < lo {
                continue;
            }
            if let Some((residual, motion)) = pair_residual(a, b) {
                out.push(Pair { t0: *t0, t1: *t1, frame: *frame, residual, motion });
            }
        }
    }
    out
}

/// The `len` s stretch whose pairs (by start time) have the lowest median residual: (start, end, frame, median).
fn most_rigid(pairs: &[Pair], len: f64) -> Option<(f64, f64, FrameIndex, f64)> {
    let mut best: Option<(f64, f64, FrameIndex, f64)> = None;
    for (i, p) in pairs.iter().enumerate() {
        let inside: Vec<&Pair> = pairs[i..].iter().take_while(|q| q.t0 <= p.t0 + len).collect();
        let end = inside.iter().map(|q| q.t1).fold(p.t1, f64::max);
        let Some(m) = math::median(inside.iter().map(|q| q.residual)) else { continue };
        if best.is_none_or(|b| m < b.3) {
            best = Some((p.t0, end, p.frame, m));
        }
    }
    best
}

pub(super) fn evaluate(obs: &Observations, mesh: &[&MeshSample], cfg: &RigidMotionConfig) -> Evidence {
    if !obs.has_video {
        return missing(SIGNAL_RIGID_MOTION, "no video");
    }
    let all = pairs(mesh, cfg);
    if all.len() < cfg.min_pairs.max(1) {
        return missing(
            SIGNAL_RIGID_MOTION,
            format!("too few face samples for motion analysis ({} pairs, needs {})", all.len(), cfg.min_pairs),
        );
    }
    let moving: Vec<Pair> = all.iter().copied().filter(|p| p.motion >= cfg.min_motion).collect();
    let moved = moving.len() >= cfg.min_moving_pairs.max(1);
    // The pairs that moved carry the information; with too few of them, all pairs.
    let judged: &[Pair] = if moved { &moving } else { &all };
    let med = math::median(judged.iter().map(|p| p.residual)).unwrap_or(0.0);
    let stretch = most_rigid(judged, cfg.stretch_ms as f64 / 1000.0);
    let counts = format!("{} pairs, {} with motion", all.len(), moving.len());
    let (finding, conf, text) = if med >= cfg.support_residual {
        (
            Finding::Supports,
            cfg.support_confidence,
            format!("the face deforms as it moves: median homography residual {med:.3} IOD ({counts})"),
        )
    } else if moved && med < cfg.rigid_residual {
        (
            Finding::Concern,
            cfg.concern_confidence,
            format!(
                "the face moves as one plane (photo or screen?): median homography residual {med:.3} IOD ({counts})"
            ),
        )
    } else if !moved {
        (
            Finding::Neutral,
            cfg.neutral_confidence,
            format!("the face barely moved and did not deform: median homography residual {med:.3} IOD ({counts})"),
        )
    } else {
        (
            Finding::Neutral,
            cfg.neutral_confidence,
            format!("between rigid and deforming: median homography residual {med:.3} IOD ({counts})"),
        )
    };
    let e = observed(SIGNAL_RIGID_MOTION, finding, conf, text).with_value(med);
    match stretch {
        Some((a, b, f, _)) => e.at(span(a, b, Some(f))),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn eye_positions_match_the_track_points() {
        assert_eq!(
            [
                TRACK_POINTS[RIGHT_EYE_OUTER],
                TRACK_POINTS[RIGHT_EYE_INNER],
                TRACK_POINTS[LEFT_EYE_OUTER],
                TRACK_POINTS[LEFT_EYE_INNER]
            ],
            [33, 133, 263, 362]
        );
    }

    fn f64pts(p: &[[f32; 2]]) -> Vec<[f64; 2]> {
        p.iter().map(|p| [f64::from(p[0]), f64::from(p[1])]).collect()
    }

    /// A projective map (rotation, scale, translation and some perspective) applied to the face template.
    fn warp(p: &[[f64; 2]], angle_deg: f64, scale: f64, tx: f64, g: f64) -> Vec<[f64; 2]> {
        let (s, c) = angle_deg.to_radians().sin_cos();
        p.iter()
            .map(|q| {
                let (x, y) = (q[0] - 320.0, q[1] - 240.0);
                let w = 1.0 + g * x;
                [(scale * (c * x - s * y) + tx) / w + 320.0, (scale * (s * x + c * y) - tx) / w + 240.0]
            })
            .collect()
    }

    #[test]
    fn a_planar_motion_fits_exactly_and_a_non_rigid_one_does_not() {
        let a = f64pts(&face_points());
        let b = warp(&a, 6.0, 1.05, 30.0, 0.0008);
        let (res, motion) = pair_residual(&a, &b).unwrap_or((f64::NAN, 0.0));
        assert!(res < 1e-6, "planar residual {res}");
        assert!(motion > 0.3, "motion {motion}");
        // The same motion with the mouth opened and the eyes closed (non-rigid).
        let mut c = a.clone();
        c[9][1] += 12.0; // lower inner lip
        c[23][1] += 10.0; // lower outer lip
        c[13][1] += 8.0; // chin
        c[2][1] += 5.0; // upper lids
        c[6][1] += 5.0;
        let c = warp(&c, 6.0, 1.05, 30.0, 0.0008);
        let (res, _) = pair_residual(&a, &c).unwrap_or((0.0, 0.0));
        assert!(res > 0.03, "non-rigid residual {res}");
    }

    #[test]
    fn degenerate_points_give_no_fit() {
        let a = vec![[1.0, 1.0]; 24];
        assert_eq!(pair_residual(&a, &a).map(|_| ()), None);
        let a = f64pts(&face_points());
        let mut b = a.clone();
        b[3][0] = f64::NAN;
        assert_eq!(pair_residual(&a, &b).map(|_| ()), None);
    }

    fn moving_face(nonrigid: bool) -> Observations {
        let tpl = f64pts(&face_points());
        let m = mesh(0.0, 10.0, |t| {
            let mut p = tpl.clone();
            if nonrigid {
                // Talking and raising the brows (about 0.2 IOD), and a blink every 2 s.
                let open = 12.0 * (0.5 + 0.5 * (t * 9.0).sin());
                p[9][1] += open;
                p[23][1] += open;
                p[13][1] += 0.6 * open;
                let brow = 6.0 * (t * 2.3).sin();
                p[17][1] += brow;
                p[18][1] += brow;
                if t % 2.0 < 0.2 {
                    p[2][1] += 5.0;
                    p[6][1] += 5.0;
                }
            }
            let w = warp(&p, 6.0 * (t * 0.9).sin(), 1.0 + 0.05 * (t * 0.5).sin(), 40.0 * (t * 1.3).sin(), 0.0);
            let pts = w.iter().map(|q| [q[0] as f32, q[1] as f32]).collect();
            (metrics(0.33, 0.05, 0.0), pts)
        });
        obs(m, 0.0, |_| 0.0, |_| 0.0)
    }

    #[test]
    fn a_photo_moved_rigidly_is_a_concern_and_a_talking_face_supports() {
        let cfg = RigidMotionConfig::default();
        let photo = moving_face(false);
        let mesh: Vec<&MeshSample> = photo.video.mesh.iter().collect();
        let e = evaluate(&photo, &mesh, &cfg);
        assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
        assert!(e.value.unwrap_or(1.0) < 1e-4);
        assert_eq!(e.at.len(), 1);
        let live = moving_face(true);
        let mesh: Vec<&MeshSample> = live.video.mesh.iter().collect();
        let e = evaluate(&live, &mesh, &cfg);
        assert_eq!(e.finding(), Some(Finding::Supports), "{e:#?}");
    }

    #[test]
    fn a_still_rigid_face_is_neutral_and_no_mesh_is_missing() {
        let still = obs(mesh(0.0, 10.0, |_| (metrics(0.33, 0.05, 0.0), face_points())), 0.0, |_| 0.0, |_| 0.0);
        let mesh: Vec<&MeshSample> = still.video.mesh.iter().collect();
        let e = evaluate(&still, &mesh, &RigidMotionConfig::default());
        assert_eq!(e.finding(), Some(Finding::Neutral), "{e:#?}");
        let none = Observations { has_video: true, ..Default::default() };
        let e = evaluate(&none, &[], &RigidMotionConfig::default());
        assert_eq!(e.finding(), None);
    }
}
