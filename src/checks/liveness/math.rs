//! Small numeric tools for the liveness signals, written here so the check stays dependency-free and pure:
//! robust statistics, Pearson correlation, a Householder least-squares solve, a planar homography fitted by the
//! normalised DLT, and a single-frequency DFT power scan (the band of a pulse is narrow, so a direct scan over a
//! fine frequency grid is cheaper and simpler than an FFT of a zero-padded series).

/// Median of the finite values; `None` when there are none.
pub(super) fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// Mean of the values; `None` when empty.
pub(super) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() { None } else { Some(values.iter().sum::<f64>() / values.len() as f64) }
}

/// Population standard deviation; 0 when fewer than two values.
pub(super) fn std_dev(values: &[f64]) -> f64 {
    let Some(m) = mean(values) else { return 0.0 };
    if values.len() < 2 {
        return 0.0;
    }
    (values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

/// Pearson correlation of two equally long series; `None` when shorter than 3 or either is (nearly) constant.
pub(super) fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ma, mb) = (mean(a)?, mean(b)?);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    let den = (saa * sbb).sqrt();
    if !den.is_finite() || den <= 1e-12 * (a.len() as f64) {
        return None;
    }
    let r = sab / den;
    r.is_finite().then_some(r.clamp(-1.0, 1.0))
}

/// Least-squares solution of `A x ≈ b` (`A` row-major, `m` rows × `n` columns, `m ≥ n`) by Householder QR.
/// `None` when `A` is (numerically) rank-deficient or holds non-finite values.
pub(super) fn lstsq(a: &[f64], b: &[f64], m: usize, n: usize) -> Option<Vec<f64>> {
    if n == 0 || m < n || a.len() != m * n || b.len() != m || a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    if scale == 0.0 {
        return None;
    }
    let mut v = vec![0.0; m];
    for k in 0..n {
        let norm = (k..m).map(|i| a[i * n + k].powi(2)).sum::<f64>().sqrt();
        if norm <= 1e-12 * scale {
            return None;
        }
        let akk = a[k * n + k];
        let alpha = if akk > 0.0 { -norm } else { norm };
        for i in k..m {
            v[i] = a[i * n + k];
        }
        v[k] -= alpha;
        let vv = (k..m).map(|i| v[i] * v[i]).sum::<f64>();
        if vv <= 0.0 {
            continue;
        }
        for j in k..n {
            let s = (k..m).map(|i| v[i] * a[i * n + j]).sum::<f64>();
            let f = 2.0 * s / vv;
            for i in k..m {
                a[i * n + j] -= f * v[i];
            }
        }
        let s = (k..m).map(|i| v[i] * b[i]).sum::<f64>();
        let f = 2.0 * s / vv;
        for i in k..m {
            b[i] -= f * v[i];
        }
    }
    let rmax = (0..n).fold(0.0f64, |s, k| s.max(a[k * n + k].abs()));
    let mut x = vec![0.0; n];
    for k in (0..n).rev() {
        let rkk = a[k * n + k];
        if rkk.abs() <= 1e-10 * rmax {
            return None;
        }
        let s = ((k + 1)..n).map(|j| a[k * n + j] * x[j]).sum::<f64>();
        x[k] = (b[k] - s) / rkk;
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Similarity normalisation of a point set (Hartley): centroid to the origin, mean distance √2.
#[derive(Clone, Copy, Debug)]
struct Norm {
    cx: f64,
    cy: f64,
    s: f64,
}

impl Norm {
    fn of(points: &[[f64; 2]]) -> Option<Norm> {
        let n = points.len() as f64;
        if points.is_empty() {
            return None;
        }
        let cx = points.iter().map(|p| p[0]).sum::<f64>() / n;
        let cy = points.iter().map(|p| p[1]).sum::<f64>() / n;
        let d = points.iter().map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()).sum::<f64>() / n;
        (d.is_finite() && d > 1e-9).then(|| Norm { cx, cy, s: std::f64::consts::SQRT_2 / d })
    }
    fn fwd(&self, p: [f64; 2]) -> [f64; 2] {
        [(p[0] - self.cx) * self.s, (p[1] - self.cy) * self.s]
    }
    fn inv(&self, p: [f64; 2]) -> [f64; 2] {
        [p[0] / self.s + self.cx, p[1] / self.s + self.cy]
    }
}

/// A planar projective map fitted between two point sets (in pixels), kept in normalised form.
#[derive(Clone, Copy, Debug)]
pub(super) struct Homography {
    src: Norm,
    dst: Norm,
    /// Row-major 3x3 in normalised coordinates, `h[8] = 1`.
    h: [f64; 9],
}

impl Homography {
    /// Least-squares DLT with `h33 = 1` on Hartley-normalised points (an 8x8 problem, solved by QR). Needs at least
    /// 4 correspondences not all on a line; `None` otherwise or when any point is not finite.
    pub(super) fn fit(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<Homography> {
        if src.len() != dst.len() || src.len() < 4 || src.iter().chain(dst).flatten().any(|v| !v.is_finite()) {
            return None;
        }
        let (ns, nd) = (Norm::of(src)?, Norm::of(dst)?);
        let m = 2 * src.len();
        let mut a = Vec::with_capacity(m * 8);
        let mut b = Vec::with_capacity(m);
        for (p, q) in src.iter().zip(dst) {
            let [x, y] = ns.fwd(*p);
            let [u, v] = nd.fwd(*q);
            a.extend_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]);
            b.push(u);
            a.extend_from_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]);
            b.push(v);
        }
        let x = lstsq(&a, &b, m, 8)?;
        let h = [x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], 1.0];
        Some(Homography { src: ns, dst: nd, h })
    }

    /// Maps a source point (pixels) to the destination (pixels); `None` at the line at infinity.
    pub(super) fn apply(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let [x, y] = self.src.fwd(p);
        let h = &self.h;
        let w = h[6] * x + h[7] * y + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        let u = (h[0] * x + h[1] * y + h[2]) / w;
        let v = (h[3] * x + h[4] * y + h[5]) / w;
        let q = self.dst.inv([u, v]);
        (q[0].is_finite() && q[1].is_finite()).then_some(q)
    }

    /// Root-mean-square transfer error (pixels) of the correspondences under this map.
    pub(super) fn rms_error(&self, src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<f64> {
        if src.is_empty() || src.len() != dst.len() {
            return None;
        }
        let mut sum = 0.0;
        for (p, q) in src.iter().zip(dst) {
            let r = self.apply(*p)?;
            sum += (r[0] - q[0]).powi(2) + (r[1] - q[1]).powi(2);
        }
        Some((sum / src.len() as f64).sqrt())
    }
}

/// Power of `x` (uniformly sampled at `fs` Hz) at frequency `f` Hz: `|Σ x[n] e^{-2πi f n / fs}|² / N`.
pub(super) fn dft_power(x: &[f64], fs: f64, f: f64) -> f64 {
    if x.is_empty() || fs <= 0.0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * f / fs;
    // Goertzel recurrence (one frequency, O(N)), works for non-integer bins.
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    (p / x.len() as f64).max(0.0)
}

/// Least-squares line removed from the series.
pub(super) fn detrend(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return x.iter().map(|_| 0.0).collect();
    }
    let nf = n as f64;
    let mt = (nf - 1.0) / 2.0;
    let mx = x.iter().sum::<f64>() / nf;
    let (mut stx, mut stt) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let dt = i as f64 - mt;
        stx += dt * (v - mx);
        stt += dt * dt;
    }
    let slope = if stt > 0.0 { stx / stt } else { 0.0 };
    x.iter().enumerate().map(|(i, v)| v - mx - slope * (i as f64 - mt)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_handles_even_odd_and_empty() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::<f64>::new()), None);
        assert_eq!(median([f64::NAN]), None);
    }

    #[test]
    fn pearson_of_linear_and_constant_series() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0, 8.0]).unwrap_or(0.0) - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[8.0, 6.0, 4.0, 2.0]).unwrap_or(0.0) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&a, &[1.0; 4]), None);
        assert_eq!(pearson(&[], &[]), None);
    }

    #[test]
    fn lstsq_solves_an_overdetermined_system_and_rejects_rank_deficiency() {
        // y = 2 + 3 t, exact.
        let t = [0.0, 1.0, 2.0, 3.0, 4.0];
        let a: Vec<f64> = t.iter().flat_map(|&t| [1.0, t]).collect();
        let b: Vec<f64> = t.iter().map(|t| 2.0 + 3.0 * t).collect();
        let x = lstsq(&a, &b, 5, 2).unwrap_or_default();
        assert!((x[0] - 2.0).abs() < 1e-10 && (x[1] - 3.0).abs() < 1e-10, "{x:?}");
        // Two identical columns.
        let a: Vec<f64> = t.iter().flat_map(|&t| [t, t]).collect();
        assert_eq!(lstsq(&a, &b, 5, 2), None);
    }

    #[test]
    fn goertzel_finds_the_tone() {
        let fs = 10.0;
        let x: Vec<f64> = (0..200).map(|i| (2.0 * std::f64::consts::PI * 1.2 * i as f64 / fs).sin()).collect();
        assert!(dft_power(&x, fs, 1.2) > 100.0 * dft_power(&x, fs, 2.0));
    }

    #[test]
    fn detrend_removes_a_line() {
        let x: Vec<f64> = (0..10).map(|i| 5.0 + 0.5 * i as f64).collect();
        assert!(detrend(&x).iter().all(|v| v.abs() < 1e-12));
    }
}
