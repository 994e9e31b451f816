//! `liveness.pulse`: a heartbeat in the skin colour (remote photoplethysmography). Weak evidence: compressed video
//! of a small face carries little of the ~0.1 % colour change, and motion or lighting can make a peak of their own.
//!
//! The mean forehead/cheek colour (`skin_rgb`, 10 fps) of the longest stretch without gaps over `max_gap_ms` is
//! resampled to a uniform `fs`, projected with POS (Wang et al. 2017, "Algorithmic principles of remote PPG": per
//! 1.6 s window, each channel divided by its mean, `S1 = G - B`, `S2 = G + B - 2R`, `h = S1 + σ(S1)/σ(S2) · S2`,
//! overlap-added), detrended, Hann-windowed and scanned (Goertzel) over `min_hz`-`max_hz` (42-180 bpm) in
//! `scan_step_hz` steps. Plausibility = the share of the in-band power within the peak's main lobe
//! (± max(0.1 Hz, 2/T)): white noise gives about the lobe's share of the band (0.1-0.2), a clean pulse ≥ 0.5.

use super::{SIGNAL_PULSE, math, missing, observed, secs, span};
use crate::checks::{Evidence, Finding};
use crate::observations::{MeshSample, Observations};
use serde::{Deserialize, Serialize};

/// Thresholds of the pulse estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PulseConfig {
    /// Less skin colour than this in one stretch (ms): Missing.
    pub min_ms: u64,
    /// Samples further apart than this (ms) split the series.
    pub max_gap_ms: u64,
    /// Uniform resampling rate (Hz); the mesh runs at 10 fps.
    pub fs: f64,
    /// POS window (ms).
    pub pos_window_ms: u64,
    /// Band scanned, Hz (0.7-3 Hz = 42-180 bpm).
    pub min_hz: f64,
    pub max_hz: f64,
    pub scan_step_hz: f64,
    /// Peak share at or above this: a plausible pulse, weak Supports.
    pub support_share: f64,
    /// Peak share below this: no periodic component, weak Concern.
    pub concern_share: f64,
    pub support_confidence: f32,
    pub concern_confidence: f32,
    pub neutral_confidence: f32,
}

impl Default for PulseConfig {
    fn default() -> Self {
        PulseConfig {
            min_ms: 10_000,
            max_gap_ms: 500,
            fs: 10.0,
            pos_window_ms: 1600,
            min_hz: 0.7,
            max_hz: 3.0,
            scan_step_hz: 0.01,
            support_share: 0.45,
            concern_share: 0.15,
            support_confidence: 0.2,
            concern_confidence: 0.15,
            neutral_confidence: 0.1,
        }
    }
}

/// What the scan found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Pulse {
    pub bpm: f64,
    /// Share of the in-band power in the peak's main lobe.
    pub share: f64,
    /// Seconds analysed.
    pub seconds: f64,
    pub start: f64,
}

/// The longest gap-free stretch of skin colour: (times, rgb).
fn longest_run(mesh: &[&MeshSample], max_gap: f64) -> Vec<(f64, [f64; 3])> {
    let mut best: Vec<(f64, [f64; 3])> = Vec::new();
    let mut cur: Vec<(f64, [f64; 3])> = Vec::new();
    let span_of = |v: &[(f64, [f64; 3])]| match (v.first(), v.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => -1.0,
    };
    for s in mesh {
        let Some(c) = s.skin_rgb else { continue };
        let c = [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])];
        if !c.iter().all(|v| v.is_finite() && *v > 0.0) {
            continue;
        }
        let t = secs(s.t);
        if cur.last().is_some_and(|p| t - p.0 > max_gap || t <= p.0) {
            if span_of(&cur) > span_of(&best) {
                best = std::mem::take(&mut cur);
            } else {
                cur.clear();
            }
        }
        cur.push((t, c));
    }
    if span_of(&cur) > span_of(&best) { cur } else { best }
}

/// Linear resampling of the run onto a uniform grid at `fs`.
fn resample(run: &[(f64, [f64; 3])], fs: f64) -> Vec<[f64; 3]> {
    let (Some(first), Some(last)) = (run.first(), run.last()) else { return Vec::new() };
    let n = ((last.0 - first.0) * fs).floor() as usize + 1;
    let mut out = Vec::with_capacity(n);
    let mut j = 0;
    for i in 0..n {
        let t = first.0 + i as f64 / fs;
        while j + 1 < run.len() && run[j + 1].0 < t {
            j += 1;
        }
        let (a, b) = (run[j], run.get(j + 1).copied().unwrap_or(run[j]));
        let w = if b.0 > a.0 { ((t - a.0) / (b.0 - a.0)).clamp(0.0, 1.0) } else { 0.0 };
        out.push([0, 1, 2].map(|k| a.1[k] + w * (b.1[k] - a.1[k])));
    }
    out
}

/// POS projection with overlap-add.
fn pos(rgb: &[[f64; 3]], win: usize) -> Vec<f64> {
    let n = rgb.len();
    let mut h = vec![0.0; n];
    if win < 2 || n < win {
        return h;
    }
    for s in 0..=(n - win) {
        let w = &rgb[s..s + win];
        let mean = [0, 1, 2].map(|k| w.iter().map(|c| c[k]).sum::<f64>() / win as f64);
        if mean.iter().any(|m| *m <= 0.0) {
            continue;
        }
        let s1: Vec<f64> = w.iter().map(|c| c[1] / mean[1] - c[2] / mean[2]).collect();
        let s2: Vec<f64> = w.iter().map(|c| c[1] / mean[1] + c[2] / mean[2] - 2.0 * c[0] / mean[0]).collect();
        let (d1, d2) = (math::std_dev(&s1), math::std_dev(&s2));
        let alpha = if d2 > 1e-12 { d1 / d2 } else { 0.0 };
        let p: Vec<f64> = s1.iter().zip(&s2).map(|(a, b)| a + alpha * b).collect();
        let m = math::mean(&p).unwrap_or(0.0);
        for (k, v) in p.iter().enumerate() {
            h[s + k] += v - m;
        }
    }
    h
}

/// The pulse estimate from the mesh series; `None` with less than `min_ms` of gap-free skin colour.
pub(super) fn measure(mesh: &[&MeshSample], cfg: &PulseConfig) -> Option<Pulse> {
    let run = longest_run(mesh, cfg.max_gap_ms as f64 / 1000.0);
    let (first, last) = (run.first()?, run.last()?);
    let seconds = last.0 - first.0;
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if seconds * 1000.0 < cfg.min_ms as f64 || !positive(cfg.fs) || !positive(cfg.scan_step_hz) {
        return None;
    }
    let rgb = resample(&run, cfg.fs);
    let win = ((cfg.pos_window_ms as f64 / 1000.0) * cfg.fs).round() as usize;
    let h = math::detrend(&pos(&rgb, win));
    let n = h.len();
    if n < 8 {
        return None;
    }
    let hann: Vec<f64> = h
        .iter()
        .enumerate()
        .map(|(i, v)| v * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos()))
        .collect();
    let steps = ((cfg.max_hz - cfg.min_hz) / cfg.scan_step_hz).floor().max(0.0) as usize;
    let spectrum: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let f = cfg.min_hz + i as f64 * cfg.scan_step_hz;
            (f, math::dft_power(&hann, cfg.fs, f))
        })
        .collect();
    let total: f64 = spectrum.iter().map(|p| p.1).sum();
    let (peak_f, _) = spectrum.iter().copied().fold((0.0, f64::NEG_INFINITY), |b, p| if p.1 > b.1 { p } else { b });
    if !positive(total) {
        return Some(Pulse { bpm: 0.0, share: 0.0, seconds, start: first.0 });
    }
    let lobe = (2.0 / seconds).max(0.1);
    let in_lobe: f64 = spectrum.iter().filter(|p| (p.0 - peak_f).abs() <= lobe).map(|p| p.1).sum();
    Some(Pulse { bpm: peak_f * 60.0, share: in_lobe / total, seconds, start: first.0 })
}

pub(super) fn evaluate(obs: &Observations, mesh: &[&MeshSample], cfg: &PulseConfig) -> Evidence {
    if !obs.has_video {
        return missing(SIGNAL_PULSE, "no video");
    }
    let Some(p) = measure(mesh, cfg) else {
        return missing(
            SIGNAL_PULSE,
            format!("less than {:.0} s of skin colour in one stretch", cfg.min_ms as f64 / 1000.0),
        );
    };
    let numbers = format!("{:.0} bpm, peak share {:.2} over {:.0} s", p.bpm, p.share, p.seconds);
    let (finding, conf, text) = if p.share >= cfg.support_share {
        (Finding::Supports, cfg.support_confidence, format!("a plausible pulse in the skin colour ({numbers})"))
    } else if p.share < cfg.concern_share {
        (Finding::Concern, cfg.concern_confidence, format!("no periodic pulse in the skin colour ({numbers})"))
    } else {
        (Finding::Neutral, cfg.neutral_confidence, format!("a weak pulse-like peak in the skin colour ({numbers})"))
    };
    observed(SIGNAL_PULSE, finding, conf, text).with_value(p.bpm).at(span(p.start, p.start + p.seconds, None))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::checks::EvidenceState;
    use std::f64::consts::PI;

    /// Deterministic noise in [-1, 1].
    fn noise(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    /// Skin colour with a pulse of `bpm` (None: no pulse) along the blood-volume direction, white noise and a slow
    /// illumination drift common to all channels.
    fn skin(seconds: f64, bpm: Option<f64>) -> Observations {
        let mut m = mesh(0.0, seconds, |_| (metrics(0.33, 0.05, 0.0), face_points()));
        let mut seed = 7u64;
        for s in &mut m {
            let t = s.t.as_secs_f64();
            let light = 1.0 + 0.03 * (2.0 * PI * 0.05 * t).sin();
            let pulse = bpm.map(|b| (2.0 * PI * b / 60.0 * t).sin()).unwrap_or(0.0);
            let dir = [0.33, 0.77, 0.53];
            let base = [180.0, 120.0, 100.0];
            let c =
                [0, 1, 2].map(|k| (base[k] * light * (1.0 + 0.003 * dir[k] * pulse + 0.001 * noise(&mut seed))) as f32);
            s.skin_rgb = Some(c);
        }
        obs(m, 0.0, |_| 0.0, |_| 0.0)
    }

    fn eval(o: &Observations) -> Evidence {
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        evaluate(o, &mesh, &PulseConfig::default())
    }

    #[test]
    fn a_72_bpm_pulse_is_found() {
        let e = eval(&skin(20.0, Some(72.0)));
        assert_eq!(e.finding(), Some(Finding::Supports), "{e:#?}");
        let bpm = e.value.unwrap_or(0.0);
        assert!((bpm - 72.0).abs() < 3.0, "bpm {bpm}");
    }

    #[test]
    fn noise_alone_has_no_plausible_pulse() {
        let o = skin(20.0, None);
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        let p = measure(&mesh, &PulseConfig::default()).expect("20 s");
        assert!(p.share < PulseConfig::default().support_share, "{p:?}");
        assert_ne!(eval(&o).finding(), Some(Finding::Supports));
    }

    #[test]
    fn short_or_absent_skin_is_missing() {
        assert!(matches!(eval(&skin(8.0, Some(72.0))).state, EvidenceState::Missing { .. }));
        let mut o = skin(20.0, Some(72.0));
        for s in &mut o.video.mesh {
            s.skin_rgb = None;
        }
        assert!(matches!(eval(&o).state, EvidenceState::Missing { .. }));
    }

    #[test]
    fn a_gap_splits_the_series() {
        let mut o = skin(30.0, Some(72.0));
        o.video.mesh.retain(|s| !(8.0..9.0).contains(&s.t.as_secs_f64()));
        let mesh: Vec<&MeshSample> = o.video.mesh.iter().collect();
        let p = measure(&mesh, &PulseConfig::default()).expect("21 s stretch");
        assert!((p.start - 9.0).abs() < 0.15 && (p.seconds - 20.9).abs() < 0.2, "{p:?}");
    }
}
