//! Audio features for the voice models: level (dBFS) and volume normalisation, the power mel spectrogram that
//! Resemblyzer's GE2E speaker encoder expects, and its 160-frame windows.
//!
//! Pure: slices of 16 kHz mono `f32` samples in `[-1, 1]` in, plain vectors out; no ort, no I/O. The recipe and the
//! reference numbers are in `models/convert/NOTES-torch.md` (the numpy code in `torch_models.py` is the reference,
//! itself equal to `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`):
//!
//! - centred frames: 200 zero samples on each side, `1 + n / 160` frames for `n` samples;
//! - periodic Hann window of 400, `|rfft|^2` (201 bins, no scaling, no log);
//! - 40 Slaney-scale mel triangles from 0 to 8000 Hz with Slaney area normalisation.
//!
//! The spectrum is computed in `f64` with a small mixed-radix FFT (400 = 4 * 4 * 5 * 5, written here; no FFT crate)
//! and cast to `f32` at the end, as the reference does.

/// Sample rate every function here assumes (Hz).
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bands of the speaker encoder's input.
pub const N_MELS: usize = 40;
/// STFT size (25 ms at 16 kHz).
pub const N_FFT: usize = 400;
/// STFT hop (10 ms at 16 kHz): one mel frame per hop.
pub const HOP: usize = 160;
/// Frequency bins of a real FFT of `N_FFT` samples.
const N_BINS: usize = N_FFT / 2 + 1;
/// Radices of the FFT plan; their product is `N_FFT`.
const FACTORS: [usize; 4] = [4, 4, 5, 5];
const MAX_RADIX: usize = 5;

/// The root-mean-square level in dBFS (`20 log10(sqrt(mean(x^2)))`, full scale = 1.0; a full-scale sine is about
/// -3 dBFS). `f32::NEG_INFINITY` for empty or all-zero input; NaN when a sample is not finite.
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    match rms(samples) {
        Some(r) if r > 0.0 => (20.0 * r.log10()) as f32,
        Some(r) if r.is_nan() => f32::NAN,
        _ => f32::NEG_INFINITY,
    }
}

/// Root mean square in `f64`; `None` for empty input.
fn rms(samples: &[f32]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    Some((sum / samples.len() as f64).sqrt())
}

/// Scales `samples` so that their RMS level is `target_dbfs` (Resemblyzer's `normalize_volume`). With
/// `increase_only`, a segment already at or above the target is returned unchanged (Resemblyzer uses
/// `increase_only = true` with a target of -30 dBFS). Empty, all-zero or non-finite input is returned unchanged:
/// there is no level to correct (callers that embed should skip such input).
pub fn normalise_dbfs(samples: &[f32], target_dbfs: f32, increase_only: bool) -> Vec<f32> {
    let Some(r) = rms(samples) else {
        return Vec::new();
    };
    if !r.is_finite() || r <= 0.0 || !target_dbfs.is_finite() {
        return samples.to_vec();
    }
    let delta = f64::from(target_dbfs) - 20.0 * r.log10();
    if increase_only && delta <= 0.0 {
        return samples.to_vec();
    }
    let gain = 10f64.powf(delta / 20.0);
    samples.iter().map(|&x| (f64::from(x) * gain) as f32).collect()
}

/// A complex number in `f64` (only what the FFT needs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct C64 {
    re: f64,
    im: f64,
}

impl C64 {
    #[inline]
    fn mul(self, o: C64) -> C64 {
        C64 { re: self.re * o.re - self.im * o.im, im: self.re * o.im + self.im * o.re }
    }
    #[inline]
    fn add(self, o: C64) -> C64 {
        C64 { re: self.re + o.re, im: self.im + o.im }
    }
}

/// The mel front end of the speaker encoder: periodic Hann window, FFT twiddles and the Slaney mel filterbank,
/// computed once. Cheap to share by reference; `power_mel` takes `&self`.
#[derive(Clone, Debug)]
pub struct MelFrontend {
    window: Vec<f64>,
    /// `e^{-2 pi i k / N_FFT}`, `k = 0..N_FFT`.
    twiddles: Vec<C64>,
    /// Per mel band: the first FFT bin with a non-zero weight, and the weights from there on.
    filters: Vec<(usize, Vec<f64>)>,
}

impl Default for MelFrontend {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFrontend {
    pub fn new() -> Self {
        let window =
            (0..N_FFT).map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / N_FFT as f64).cos()).collect();
        let twiddles = (0..N_FFT)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / N_FFT as f64;
                C64 { re: a.cos(), im: a.sin() }
            })
            .collect();
        MelFrontend { window, twiddles, filters: slaney_filterbank() }
    }

    /// The power mel spectrogram `[n_frames][N_MELS]` (time-major) of 16 kHz mono samples: `1 + n / 160` centred
    /// frames for `n > 0` samples, none for empty input. Not log-compressed.
    pub fn power_mel(&self, samples: &[f32]) -> Vec<[f32; N_MELS]> {
        if samples.is_empty() {
            return Vec::new();
        }
        let pad = N_FFT / 2;
        let mut padded = vec![0.0f64; samples.len() + 2 * pad];
        padded[pad..pad + samples.len()].iter_mut().zip(samples).for_each(|(d, &s)| *d = f64::from(s));
        let n_frames = 1 + samples.len() / HOP;
        let mut frame = vec![C64::default(); N_FFT];
        let mut spectrum = vec![C64::default(); N_FFT];
        let mut power = [0.0f64; N_BINS];
        let mut out = Vec::with_capacity(n_frames);
        for t in 0..n_frames {
            let start = t * HOP;
            let Some(src) = padded.get(start..start + N_FFT) else {
                break; // cannot happen: the last frame starts at <= n and the padding is N_FFT long
            };
            for ((f, &s), &w) in frame.iter_mut().zip(src).zip(&self.window) {
                *f = C64 { re: s * w, im: 0.0 };
            }
            self.fft(&frame, 0, 1, N_FFT, &mut spectrum, 0);
            for (p, x) in power.iter_mut().zip(&spectrum) {
                *p = x.re * x.re + x.im * x.im;
            }
            let mut mel = [0.0f32; N_MELS];
            for (m, (first, weights)) in mel.iter_mut().zip(&self.filters) {
                let acc: f64 = weights.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
                *m = acc as f32;
            }
            out.push(mel);
        }
        out
    }

    /// Recursive decimation-in-time FFT over `x[off + i * stride]`, `i = 0..n`, into `out[0..n]`, with the radices
    /// `FACTORS[level..]` (their product is `n`).
    fn fft(&self, x: &[C64], off: usize, stride: usize, n: usize, out: &mut [C64], level: usize) {
        if n == 1 {
            out[0] = x[off];
            return;
        }
        let p = FACTORS[level];
        let m = n / p;
        for r in 0..p {
            self.fft(x, off + r * stride, stride * p, m, &mut out[r * m..(r + 1) * m], level + 1);
        }
        let tw_n = N_FFT / n; // W_n^j = twiddles[j * tw_n]
        let tw_p = N_FFT / p; // W_p^j = twiddles[j * tw_p]
        let mut y = [C64::default(); MAX_RADIX];
        for k in 0..m {
            for (r, yr) in y.iter_mut().enumerate().take(p) {
                *yr = out[r * m + k].mul(self.twiddles[r * k * tw_n]);
            }
            for q in 0..p {
                let mut acc = y[0];
                for (r, yr) in y.iter().enumerate().take(p).skip(1) {
                    acc = acc.add(yr.mul(self.twiddles[((r * q) % p) * tw_p]));
                }
                out[q * m + k] = acc;
            }
        }
    }
}

/// Slaney mel scale (librosa `htk=False`): linear below 1 kHz, logarithmic above.
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if f < 1000.0 { f / f_sp } else { 15.0 + (f / 1000.0).ln() / logstep }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if m < 15.0 { f_sp * m } else { 1000.0 * (logstep * (m - 15.0)).exp() }
}

/// The 40 x 201 Slaney filterbank from 0 to 8000 Hz with area normalisation, stored sparsely per band.
fn slaney_filterbank() -> Vec<(usize, Vec<f64>)> {
    let max_mel = hz_to_mel(f64::from(SAMPLE_RATE) / 2.0);
    let points: Vec<f64> = (0..N_MELS + 2).map(|i| mel_to_hz(max_mel * i as f64 / (N_MELS + 1) as f64)).collect();
    let bin_hz = f64::from(SAMPLE_RATE) / N_FFT as f64;
    (0..N_MELS)
        .map(|b| {
            let (lo, mid, hi) = (points[b], points[b + 1], points[b + 2]);
            let norm = 2.0 / (hi - lo);
            let dense: Vec<f64> = (0..N_BINS)
                .map(|j| {
                    let g = j as f64 * bin_hz;
                    let lower = (g - lo) / (mid - lo);
                    let upper = (hi - g) / (hi - mid);
                    lower.min(upper).max(0.0) * norm
                })
                .collect();
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(N_BINS);
            let last = dense.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
            (first, dense[first..last.max(first)].to_vec())
        })
        .collect()
}

/// Resemblyzer's partial windows over a mel spectrogram (`compute_partial_slices` with a fixed frame step):
/// starts `0, step, 2 step, ...` while `start < max(1, n_frames - window + step + 1)`; the last window is dropped
/// when it covers less than `min_last_coverage` of real audio, unless it is the only one. Every window has exactly
/// `window` frames: one that runs past the end of `mel` is completed with all-zero frames (the same as Resemblyzer's
/// zero padding of the waveform). Segments shorter than one window give one zero-padded window.
///
/// Coverage is counted in frames as `(n_frames - 1 - start) / window`, which is exactly Resemblyzer's
/// sample-based `(n_samples - start * hop) / (window * hop)` test whenever `min_last_coverage * window` is a whole
/// number (0.75 * 160 = 120). Empty `mel`, `window == 0` or `step == 0` give no windows.
pub fn windows(mel: &[[f32; N_MELS]], window: usize, step: usize, min_last_coverage: f32) -> Vec<Vec<[f32; N_MELS]>> {
    if mel.is_empty() || window == 0 || step == 0 {
        return Vec::new();
    }
    let n = mel.len();
    let steps = (n + step + 1).saturating_sub(window).max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(step).collect();
    if let Some(&last) = starts.last() {
        let coverage = (n - 1).saturating_sub(last) as f32 / window as f32;
        if coverage < min_last_coverage && starts.len() > 1 {
            starts.pop();
        }
    }
    starts
        .into_iter()
        .map(|s| {
            let mut w: Vec<[f32; N_MELS]> = mel.iter().skip(s).take(window).copied().collect();
            w.resize(window, [0.0; N_MELS]);
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal RIFF/WAVE reader for 16-bit PCM (first channel), scaled by 1/32768 as soundfile/librosa do.
    fn read_wav_pcm16(path: &std::path::Path) -> (u32, Vec<f32>) {
        let bytes = std::fs::read(path).expect("test wav");
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        let (mut pos, mut channels, mut rate, mut bits) = (12usize, 0u16, 0u32, 0u16);
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
            if id == b"fmt " {
                assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM");
                channels = u16::from_le_bytes([body[2], body[3]]);
                rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                bits = u16::from_le_bytes([body[14], body[15]]);
            } else if id == b"data" {
                assert_eq!(bits, 16);
                let frame = 2 * channels as usize;
                let samples =
                    body.chunks_exact(frame).map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0).collect();
                return (rate, samples);
            }
            pos += 8 + len + (len & 1);
        }
        panic!("no data chunk");
    }

    fn sample_wav() -> Vec<f32> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/media/sample.wav");
        let (rate, s) = read_wav_pcm16(&p);
        assert_eq!(rate, SAMPLE_RATE);
        s
    }

    fn parse(list: &str) -> Vec<f32> {
        list.split(',').map(|v| v.trim().parse().unwrap()).collect()
    }

    // Reference numbers from models/convert/NOTES-torch.md (slice A = sample.wav[348480:445600]).
    const FRAME_0: &str = "3.709258e-07, 1.010999e-06, 3.132515e-06, 1.670478e-06, 1.394291e-07, 2.485748e-06, 4.726156e-06, 1.440535e-06, 1.213317e-06, 2.254912e-06, 2.514959e-06, 3.190752e-06, 3.210044e-06, 2.092534e-06, 1.016188e-06, 5.563634e-07, 5.065549e-07, 2.679918e-07, 2.339059e-07, 9.404143e-07, 1.266844e-06, 2.137785e-06, 5.407704e-06, 1.154747e-06, 2.111893e-07, 1.378951e-07, 1.280926e-07, 1.812353e-07, 2.086734e-07, 5.675042e-08, 5.957767e-08, 5.162849e-09, 8.957026e-10, 5.153797e-10, 1.034081e-09, 6.217790e-10, 5.270972e-10, 6.092308e-10, 1.187621e-09, 1.511972e-09";
    const FRAME_1: &str = "9.625619e-08, 2.535701e-06, 1.190935e-05, 4.477039e-06, 3.484286e-06, 6.430741e-06, 5.398535e-06, 2.258405e-06, 1.549014e-06, 4.410932e-06, 3.837564e-06, 9.433116e-07, 9.721965e-07, 1.456520e-06, 1.075246e-06, 5.034975e-07, 1.283923e-06, 2.260055e-06, 2.170368e-06, 1.565188e-06, 4.202112e-06, 1.397729e-05, 1.541641e-05, 4.079693e-06, 2.393446e-07, 2.106363e-07, 2.202796e-07, 4.673742e-07, 4.520058e-07, 1.480881e-07, 5.627287e-08, 3.944554e-09, 1.747292e-09, 1.643230e-09, 2.351330e-09, 2.914179e-09, 1.533362e-09, 1.501867e-09, 1.225370e-09, 1.229203e-09";
    const FRAME_2: &str = "3.273339e-07, 2.542799e-05, 8.730056e-05, 1.808456e-05, 7.642004e-06, 4.100639e-06, 8.918344e-06, 3.508048e-06, 2.789480e-06, 3.406676e-06, 5.646358e-06, 1.503457e-06, 7.747866e-07, 3.238484e-07, 2.079517e-06, 6.595279e-07, 2.199127e-07, 4.319297e-07, 8.229296e-07, 1.921454e-06, 1.563318e-05, 1.716146e-05, 6.886312e-06, 1.695333e-06, 1.422917e-07, 2.221118e-07, 4.322112e-07, 4.409756e-07, 4.672026e-07, 2.173398e-07, 1.370436e-07, 1.238271e-08, 2.128969e-09, 2.374062e-09, 1.965217e-09, 2.851054e-09, 1.496146e-09, 1.670476e-09, 2.167077e-09, 2.612511e-09";
    const FRAME_300: &str = "7.040407e-04, 4.390430e-02, 3.379748e-02, 3.319105e-02, 1.167179e-01, 1.032044e-02, 7.228450e-02, 3.036581e-02, 1.238698e-02, 2.250665e-02, 2.057463e-03, 1.309921e-02, 2.891741e-03, 1.876086e-03, 1.519853e-03, 4.743814e-03, 4.472831e-03, 1.208818e-02, 4.428349e-03, 9.176166e-04, 4.342908e-04, 1.434772e-04, 5.065760e-05, 2.533803e-05, 1.694289e-05, 3.843827e-06, 1.039686e-06, 6.029035e-06, 3.361601e-06, 2.559393e-06, 2.226794e-06, 1.137557e-07, 1.492930e-09, 1.734447e-09, 9.464024e-10, 1.727939e-09, 2.206571e-09, 1.924969e-09, 5.931008e-10, 1.048898e-09";

    #[test]
    fn slice_a_mel_matches_the_python_reference() {
        let wav = sample_wav();
        let slice = &wav[348_480..445_600];
        let level = rms_dbfs(slice);
        assert!((level - -32.8502).abs() < 1e-3, "level {level}");
        let x = normalise_dbfs(slice, -30.0, true);
        let gain = x[1000] / slice[1000];
        assert!((gain - 1.388385).abs() < 1e-5, "gain {gain}");
        let mel = MelFrontend::new().power_mel(&x);
        assert_eq!(mel.len(), 608);
        let mut worst = 0.0f32;
        for (t, reference) in [(0, FRAME_0), (1, FRAME_1), (2, FRAME_2), (300, FRAME_300)] {
            let r = parse(reference);
            let max = r.iter().copied().fold(0.0, f32::max);
            for (b, (&got, &want)) in mel[t].iter().zip(&r).enumerate() {
                // The reference prints 7 significant digits; allow 2e-6 of each value plus 1e-6 of the frame's max.
                let tol = 2e-6 * want.abs() + 1e-6 * max;
                assert!((got - want).abs() <= tol, "frame {t} band {b}: {got:e} vs {want:e}");
                worst = worst.max((got - want).abs() / max);
            }
        }
        let sum: f64 = mel.iter().flatten().map(|&v| f64::from(v)).sum();
        assert!((sum - 240.4331).abs() / 240.4331 < 1e-6, "sum {sum}");
        eprintln!("mel vs reference: max |diff| / frame max = {worst:e}; sum {sum:.6}");
    }

    #[test]
    fn fft_equals_a_direct_dft() {
        let fe = MelFrontend::new();
        let x: Vec<C64> = (0..N_FFT).map(|i| C64 { re: ((i * 7919) % 101) as f64 / 50.0 - 1.0, im: 0.0 }).collect();
        let mut out = vec![C64::default(); N_FFT];
        fe.fft(&x, 0, 1, N_FFT, &mut out, 0);
        for (k, got) in out.iter().enumerate() {
            let mut want = C64::default();
            for (i, xi) in x.iter().enumerate() {
                want = want.add(xi.mul(fe.twiddles[(i * k) % N_FFT]));
            }
            assert!((got.re - want.re).abs() < 1e-9 && (got.im - want.im).abs() < 1e-9, "bin {k}");
        }
    }

    #[test]
    fn filterbank_is_slaney() {
        let fb = slaney_filterbank();
        assert_eq!(fb.len(), N_MELS);
        // Band 0 peaks at f_1 = mel_to_hz(max_mel / 41) ~ 68.6 Hz, between bins 1 (40 Hz) and 2 (80 Hz).
        assert_eq!(fb[0].0, 1);
        // Area normalisation: each triangle integrates (in Hz) to ~1, i.e. sum of weights * 40 Hz ~ 1.
        for (b, (_, w)) in fb.iter().enumerate().skip(5) {
            let area = w.iter().sum::<f64>() * 40.0;
            assert!((area - 1.0).abs() < 0.05, "band {b} area {area}");
        }
        assert!((mel_to_hz(hz_to_mel(3000.0)) - 3000.0).abs() < 1e-9);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn frame_count_and_empty_input() {
        let fe = MelFrontend::new();
        assert!(fe.power_mel(&[]).is_empty());
        assert_eq!(fe.power_mel(&[0.1]).len(), 1);
        assert_eq!(fe.power_mel(&[0.0; 159]).len(), 1);
        assert_eq!(fe.power_mel(&[0.0; 160]).len(), 2);
        assert_eq!(fe.power_mel(&[0.0; 97_120]).len(), 608);
        assert!(fe.power_mel(&[0.0; 1000]).iter().flatten().all(|&v| v == 0.0));
    }

    #[test]
    fn window_starts_follow_resemblyzer() {
        let mel = |n: usize| vec![[1.0f32; N_MELS]; n];
        let starts = |n: usize| windows(&mel(n), 160, 80, 0.75).len();
        // Slice A: 608 frames -> starts 0..=480, 7 windows, the last zero-padded from frame 608 to 640.
        let w = windows(&mel(608), 160, 80, 0.75);
        assert_eq!(w.len(), 7);
        assert!(w.iter().all(|w| w.len() == 160));
        assert_eq!(w[6][127], [1.0; N_MELS]);
        assert_eq!(w[6][128], [0.0; N_MELS]);
        // Slice B: 44 frames -> one window, 116 zero frames.
        let w = windows(&mel(44), 160, 80, 0.75);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0][43], [1.0; N_MELS]);
        assert_eq!(w[0][44], [0.0; N_MELS]);
        // Exactly one window of real frames; one more frame gives a second start whose coverage is too small.
        assert_eq!(starts(160), 1);
        assert_eq!(starts(161), 1);
        // Second window kept once it has 121 real frames (120 frames after its first, i.e. 75% of the samples).
        assert_eq!(starts(80 + 120), 1);
        assert_eq!(starts(80 + 121), 2);
        assert!(windows(&[], 160, 80, 0.75).is_empty());
        assert!(windows(&mel(10), 0, 80, 0.75).is_empty());
        assert!(windows(&mel(10), 160, 0, 0.75).is_empty());
    }

    #[test]
    fn levels_and_normalisation() {
        assert_eq!(rms_dbfs(&[]), f32::NEG_INFINITY);
        assert_eq!(rms_dbfs(&[0.0; 10]), f32::NEG_INFINITY);
        assert!(rms_dbfs(&[f32::NAN]).is_nan());
        assert!((rms_dbfs(&[0.5, -0.5]) - 20.0 * 0.5f32.log10()).abs() < 1e-5);
        let quiet = vec![0.001f32, -0.001];
        let up = normalise_dbfs(&quiet, -30.0, true);
        assert!((rms_dbfs(&up) + 30.0).abs() < 1e-4);
        let loud = vec![0.5f32, -0.5];
        assert_eq!(normalise_dbfs(&loud, -30.0, true), loud);
        assert!((rms_dbfs(&normalise_dbfs(&loud, -30.0, false)) + 30.0).abs() < 1e-4);
        assert!(normalise_dbfs(&[], -30.0, true).is_empty());
        assert_eq!(normalise_dbfs(&[0.0; 4], -30.0, true), vec![0.0; 4]);
        let bad = normalise_dbfs(&[f32::NAN, 0.1], -30.0, false);
        assert!(bad[0].is_nan() && bad[1] == 0.1);
    }
}
