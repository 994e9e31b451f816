//! Audio features for the voice models: level (dBFS) and volume normalisation, the power mel spectrogram that
//! Resemblyzer's GE2E speaker encoder expects with its 160-frame windows, and Kaldi-compatible log mel filterbank
//! ("fbank") features for WeSpeaker / CAM++ style speaker models.
//!
//! Pure: slices of 16 kHz mono `f32` samples in `[-1, 1]` in, plain vectors out; no ort, no I/O.
//!
//! ## Resemblyzer power mel ([`MelFrontend`], [`windows`])
//!
//! The recipe and the reference numbers are in `models/convert/NOTES-torch.md` (the numpy code in `torch_models.py`
//! is the reference, itself equal to `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160,
//! n_mels=40)`):
//!
//! - centred frames: 200 zero samples on each side, `1 + n / 160` frames for `n` samples;
//! - periodic Hann window of 400, `|rfft|^2` (201 bins, no scaling, no log);
//! - 40 Slaney-scale mel triangles from 0 to 8000 Hz with Slaney area normalisation.
//!
//! The spectrum is computed in `f64` with a small mixed-radix FFT (400 = 4 * 4 * 5 * 5, written here; no FFT crate)
//! and cast to `f32` at the end, as the reference does.
//!
//! ## Kaldi fbank ([`FbankFrontend`], [`cmn`])
//!
//! Kaldi's `compute-fbank-feats` with its defaults (also `torchaudio.compliance.kaldi.fbank` and
//! `kaldi-native-fbank`), as WeSpeaker and 3D-Speaker (CAM++) compute their 80-bin input, each choice below being
//! Kaldi's default unless marked:
//!
//! - samples scaled by 32768 first: Kaldi reads int16 values and WeSpeaker multiplies by `1 << 15` (after the mean
//!   normalisation below a constant gain only matters where the log floor is reached);
//! - `snip_edges = true`: frames of 400 samples (25 ms) every 160 (10 ms), only whole frames, so
//!   `1 + (n - 400) / 160` frames for `n >= 400` samples and none below ([`fbank_frames`]);
//! - no dither (`dither = 0`: Kaldi's default is 1, every inference recipe turns it off; results are deterministic);
//! - per frame: remove the DC offset (subtract the frame's mean), pre-emphasis 0.97 (`x[i] -= 0.97 x[i-1]` from the
//!   end, `x[0] -= 0.97 x[0]`), then the window: Povey (`(0.5 - 0.5 cos(2 pi i / 399))^0.85`, Kaldi's and
//!   3D-Speaker's) or Hamming (`0.54 - 0.46 cos(2 pi i / 399)`, WeSpeaker's training recipe: `window_type='hamming'`);
//! - zero-padded to 512 (`round_to_power_of_two`), power spectrum `|X|^2` (`use_power`), 257 bins;
//! - 80 (WeSpeaker's `num_mel_bins`; Kaldi's default is 23) triangular filters, equally spaced and triangular on the
//!   Kaldi mel scale `1127 ln(1 + f / 700)`, from 20 Hz (`low_freq`) to 8000 Hz (`high_freq = 0`, i.e. Nyquist), no
//!   area normalisation, weights on FFT bins 0..256 (the Nyquist bin gets none, as in Kaldi);
//! - natural log of each band's energy floored at `f32::EPSILON` (`use_log_fbank`); no energy coefficient
//!   (`use_energy = false`);
//! - then, not part of `compute-fbank-feats` but of every WeSpeaker / CAM++ front end: per-utterance cepstral mean
//!   normalisation (CMN, [`cmn`]): each band minus its mean over the piece's frames, no variance normalisation.
//!
//! Computed in `f64` with a radix-2 FFT (written here) and cast to `f32` per value; Kaldi works in `f32`, so values
//! agree to about `1e-4` in the log domain. Unit tests compare with `kaldi-native-fbank` 1.22.4 numbers.

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

/// Samples per Kaldi fbank frame (25 ms at 16 kHz).
pub const FBANK_FRAME: usize = 400;
/// Samples between Kaldi fbank frames (10 ms at 16 kHz).
pub const FBANK_SHIFT: usize = 160;
/// FFT size of the Kaldi fbank: the frame zero-padded to the next power of two.
pub const FBANK_N_FFT: usize = 512;
/// Mel bands of the Kaldi fbank front end (WeSpeaker / CAM++ models take 80).
pub const N_FBANK: usize = 80;
/// Power-spectrum bins of a 512-point real FFT.
const FBANK_BINS: usize = FBANK_N_FFT / 2 + 1;
/// Lowest and highest filter edge (Hz): Kaldi's `low_freq` 20 and `high_freq` 0 (= Nyquist).
const FBANK_LOW_HZ: f64 = 20.0;
const FBANK_HIGH_HZ: f64 = SAMPLE_RATE as f64 / 2.0;
/// Kaldi's `preemphasis_coefficient`.
const PREEMPHASIS: f64 = 0.97;
/// Kaldi reads 16-bit samples as they are; ours are in `[-1, 1]`.
const INT16_SCALE: f64 = 32768.0;

/// The analysis window of the Kaldi fbank (Kaldi's `window_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FbankWindow {
    /// `(0.5 - 0.5 cos(2 pi i / (N - 1)))^0.85`: Kaldi's default (and 3D-Speaker's, which keeps it).
    Povey,
    /// `0.54 - 0.46 cos(2 pi i / (N - 1))`: WeSpeaker's recipes (`window_type='hamming'`).
    Hamming,
}

/// Frames the Kaldi fbank gives for `n` samples with `snip_edges = true`: whole frames only.
pub fn fbank_frames(n: usize) -> usize {
    if n < FBANK_FRAME { 0 } else { 1 + (n - FBANK_FRAME) / FBANK_SHIFT }
}

/// Kaldi's mel scale (HTK form, natural log): `1127 ln(1 + f / 700)`.
pub fn kaldi_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// The Kaldi-compatible log mel filterbank front end (module docs list every setting): window, FFT twiddles and the
/// 80 triangular filters, computed once. Cheap to share by reference; its methods take `&self`.
#[derive(Clone, Debug)]
pub struct FbankFrontend {
    kind: FbankWindow,
    window: Vec<f64>,
    /// `e^{-2 pi i k / FBANK_N_FFT}`, `k = 0..FBANK_N_FFT / 2`.
    twiddles: Vec<C64>,
    /// Bit-reversal permutation of `0..FBANK_N_FFT`.
    bitrev: Vec<usize>,
    /// Per mel band: the first FFT bin with a non-zero weight, and the weights from there on.
    filters: Vec<(usize, Vec<f64>)>,
}

impl FbankFrontend {
    pub fn new(kind: FbankWindow) -> Self {
        let a = 2.0 * std::f64::consts::PI / (FBANK_FRAME - 1) as f64;
        let window = (0..FBANK_FRAME)
            .map(|i| {
                let c = (a * i as f64).cos();
                match kind {
                    FbankWindow::Povey => (0.5 - 0.5 * c).powf(0.85),
                    FbankWindow::Hamming => 0.54 - 0.46 * c,
                }
            })
            .collect();
        let twiddles = (0..FBANK_N_FFT / 2)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / FBANK_N_FFT as f64;
                C64 { re: a.cos(), im: a.sin() }
            })
            .collect();
        let bits = FBANK_N_FFT.trailing_zeros();
        let bitrev = (0..FBANK_N_FFT).map(|i| i.reverse_bits() >> (usize::BITS - bits)).collect();
        FbankFrontend { kind, window, twiddles, bitrev, filters: kaldi_filterbank() }
    }

    /// The analysis window this front end uses.
    pub fn window(&self) -> FbankWindow {
        self.kind
    }

    /// Log mel filterbank energies `[n_frames][N_FBANK]` (time-major) of 16 kHz mono samples in `[-1, 1]`,
    /// [`fbank_frames`]`(n)` frames (none under 400 samples). No mean normalisation: see [`FbankFrontend::features`].
    /// Non-finite samples give non-finite values (callers reject them first).
    pub fn log_fbank(&self, samples: &[f32]) -> Vec<[f32; N_FBANK]> {
        let n_frames = fbank_frames(samples.len());
        let floor = f64::from(f32::EPSILON);
        let mut frame = [0.0f64; FBANK_FRAME];
        let mut spectrum = vec![C64::default(); FBANK_N_FFT];
        let mut power = [0.0f64; FBANK_BINS];
        let mut out = Vec::with_capacity(n_frames);
        for t in 0..n_frames {
            let start = t * FBANK_SHIFT;
            let Some(src) = samples.get(start..start + FBANK_FRAME) else {
                break; // cannot happen: fbank_frames only counts whole frames
            };
            frame.iter_mut().zip(src).for_each(|(f, &s)| *f = f64::from(s) * INT16_SCALE);
            let mean = frame.iter().sum::<f64>() / FBANK_FRAME as f64;
            frame.iter_mut().for_each(|f| *f -= mean);
            for i in (1..FBANK_FRAME).rev() {
                frame[i] -= PREEMPHASIS * frame[i - 1];
            }
            frame[0] -= PREEMPHASIS * frame[0];
            for (k, x) in spectrum.iter_mut().enumerate() {
                let v = frame.get(k).zip(self.window.get(k)).map_or(0.0, |(f, w)| f * w);
                *x = C64 { re: v, im: 0.0 };
            }
            self.fft(&mut spectrum);
            for (p, x) in power.iter_mut().zip(&spectrum) {
                *p = x.re * x.re + x.im * x.im;
            }
            let mut bands = [0.0f32; N_FBANK];
            for (m, (first, weights)) in bands.iter_mut().zip(&self.filters) {
                let acc: f64 = weights.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
                *m = acc.max(floor).ln() as f32;
            }
            out.push(bands);
        }
        out
    }

    /// The model input: [`FbankFrontend::log_fbank`] followed by per-utterance mean normalisation ([`cmn`]).
    pub fn features(&self, samples: &[f32]) -> Vec<[f32; N_FBANK]> {
        let mut feats = self.log_fbank(samples);
        cmn(&mut feats);
        feats
    }

    /// In-place iterative radix-2 FFT of `FBANK_N_FFT` points.
    fn fft(&self, x: &mut [C64]) {
        for (i, &j) in self.bitrev.iter().enumerate() {
            if i < j {
                x.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= FBANK_N_FFT {
            let half = len / 2;
            let step = FBANK_N_FFT / len;
            for block in x.chunks_exact_mut(len) {
                let (lo, hi) = block.split_at_mut(half);
                for (k, (a, b)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                    let t = b.mul(self.twiddles[k * step]);
                    *b = C64 { re: a.re - t.re, im: a.im - t.im };
                    *a = a.add(t);
                }
            }
            len *= 2;
        }
    }
}

/// Per-utterance cepstral mean normalisation: subtracts from each band its mean over all frames (in `f64`), as
/// WeSpeaker's `apply_cmvn(norm_var=False)` and CAM++'s `feat - feat.mean(0)` do. No-op for no frames.
pub fn cmn(feats: &mut [[f32; N_FBANK]]) {
    if feats.is_empty() {
        return;
    }
    let mut mean = [0.0f64; N_FBANK];
    for frame in feats.iter() {
        mean.iter_mut().zip(frame).for_each(|(m, &v)| *m += f64::from(v));
    }
    let n = feats.len() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    for frame in feats.iter_mut() {
        frame.iter_mut().zip(&mean).for_each(|(v, m)| *v = (f64::from(*v) - m) as f32);
    }
}

/// Kaldi's `MelBanks`: `N_FBANK` triangles equally spaced on the Kaldi mel scale from `FBANK_LOW_HZ` to
/// `FBANK_HIGH_HZ` (edges of band `b` at `b`, `b + 1` and `b + 2` steps of `(mel_high - mel_low) / (N_FBANK + 1)`),
/// weighted by the bin centre's mel value (triangular in mel, not in Hz), unnormalised, over bins `0..256` (the
/// Nyquist bin gets no weight). Stored sparsely per band.
fn kaldi_filterbank() -> Vec<(usize, Vec<f64>)> {
    let (mel_low, mel_high) = (kaldi_mel(FBANK_LOW_HZ), kaldi_mel(FBANK_HIGH_HZ));
    let delta = (mel_high - mel_low) / (N_FBANK + 1) as f64;
    let bin_hz = f64::from(SAMPLE_RATE) / FBANK_N_FFT as f64;
    (0..N_FBANK)
        .map(|b| {
            let left = mel_low + b as f64 * delta;
            let centre = left + delta;
            let right = centre + delta;
            let dense: Vec<f64> = (0..FBANK_BINS)
                .map(|j| {
                    let mel = kaldi_mel(j as f64 * bin_hz);
                    if j >= FBANK_N_FFT / 2 || mel <= left || mel >= right {
                        0.0
                    } else if mel <= centre {
                        (mel - left) / (centre - left)
                    } else {
                        (right - mel) / (right - centre)
                    }
                })
                .collect();
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(FBANK_BINS);
            let last = dense.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
            (first, dense[first..last.max(first)].to_vec())
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

    // ---- Kaldi fbank ------------------------------------------------------------------------------------------------

    // kaldi-native-fbank 1.22.4 (`OnlineFbank`, Kaldi's C++ in f32) on sample.wav[348480:364480] (1 s, 98 frames),
    // int16 values, options: dither 0, snip_edges, 80 bins, low_freq 20, high_freq 0, energy_floor 0, window
    // `povey` / `hamming`, everything else default. Printed with 6 decimals.
    const KNF_POVEY_0: &str = "0.406587, 2.044268, 3.059246, 2.569534, 4.098813, 6.411006, 7.855062, 8.770380, 7.640905, 6.597488, 7.544154, 6.013053, 7.418841, 8.527773, 7.818347, 8.616205, 9.051596, 8.386220, 8.719508, 8.312253, 8.079067, 9.083236, 10.033190, 9.896173, 8.066097, 8.512690, 8.224272, 8.531836, 9.120827, 9.208013, 7.517176, 8.559813, 9.612087, 9.381435, 10.401739, 10.773929, 10.414221, 10.250763, 11.080459, 12.353995, 12.648723, 12.850075, 13.513155, 12.935260, 12.095681, 10.723681, 8.627926, 8.866035, 9.486245, 9.890148, 9.273037, 9.889314, 10.689115, 10.727589, 10.995102, 10.632160, 10.123012, 9.935778, 9.922426, 8.136934, 6.097517, 6.285502, 6.333950, 5.769567, 5.968710, 6.593200, 6.680009, 6.531367, 7.459720, 7.159255, 7.017026, 6.025452, 6.718172, 6.960762, 6.817436, 6.956913, 6.783011, 6.601675, 6.691333, 7.875754";
    const KNF_POVEY_50: &str = "7.956325, 8.017523, 6.688690, 9.965839, 13.501172, 15.643680, 16.929789, 17.306549, 15.873672, 11.740344, 8.149790, 10.669738, 16.194054, 17.861176, 17.531172, 15.186404, 12.206028, 13.937458, 18.733126, 19.466257, 18.203018, 14.554498, 15.830507, 19.369015, 19.684572, 17.599070, 14.240758, 17.994684, 18.957064, 17.143345, 15.455297, 18.547750, 18.639347, 14.776448, 15.565622, 16.672041, 14.928634, 14.280487, 15.619380, 13.631755, 14.162320, 14.469348, 13.957131, 14.516834, 12.845881, 13.954214, 13.518374, 13.552299, 13.895378, 12.761165, 13.384369, 12.420993, 12.621517, 13.262298, 13.214394, 12.614313, 12.482771, 13.461388, 13.285875, 11.700855, 7.499290, 6.324206, 5.766247, 6.542399, 7.084582, 6.808924, 6.695791, 6.504038, 6.593365, 5.744035, 5.763857, 6.834367, 6.937862, 6.700776, 6.626751, 6.879627, 7.483112, 6.980108, 6.741886, 6.924873";
    const KNF_POVEY_97: &str = "7.661451, 6.361672, 9.555173, 9.293666, 11.906172, 15.032017, 16.576412, 17.529129, 16.872292, 13.790882, 12.167852, 10.696482, 13.020971, 16.512173, 17.516291, 16.797268, 13.880088, 10.587943, 11.862094, 14.624000, 15.403191, 14.266838, 10.604250, 11.283735, 14.034574, 14.590726, 12.473772, 9.707317, 12.633845, 13.761109, 12.577029, 10.316128, 11.181972, 12.097974, 10.440758, 12.299683, 13.886553, 12.386213, 12.868024, 15.165068, 13.903636, 12.995095, 13.907701, 10.868867, 11.032651, 11.200442, 12.587195, 14.139576, 12.099635, 12.524343, 11.705040, 13.784058, 13.482203, 13.443895, 13.514779, 13.660215, 13.497411, 13.386128, 13.605118, 13.296458, 7.851501, 6.456740, 5.750299, 5.782754, 5.914070, 6.947319, 7.228655, 6.142015, 6.598551, 6.699004, 6.330465, 6.629264, 6.893802, 6.620339, 7.718797, 7.499144, 6.922863, 6.775358, 7.227706, 7.385686";
    const KNF_HAMMING_50: &str = "8.520345, 8.988066, 8.850079, 8.868088, 13.432174, 15.604463, 16.900478, 17.322779, 15.806662, 11.461048, 10.982855, 9.695408, 16.133127, 17.842209, 17.551167, 15.028931, 10.299415, 13.615194, 18.706854, 19.472601, 18.150377, 14.420695, 15.634918, 19.353867, 19.684214, 17.521275, 14.113423, 17.972174, 18.952641, 17.092821, 15.405890, 18.537640, 18.625055, 14.644753, 15.500915, 16.677132, 14.904700, 14.332432, 15.588601, 13.657661, 14.172568, 14.458878, 13.948645, 14.521663, 12.820078, 13.936975, 13.539674, 13.536006, 13.884565, 12.750765, 13.381426, 12.415884, 12.598942, 13.233530, 13.199591, 12.605664, 12.470223, 13.443843, 13.281515, 11.674644, 7.682510, 6.770118, 6.430351, 6.856316, 7.255733, 6.997537, 6.874743, 6.744530, 6.832752, 6.215492, 6.102911, 6.985430, 7.000948, 6.832076, 6.749765, 6.956628, 7.506634, 7.049754, 6.839525, 6.991466";
    const KNF_POVEY_SUM: f64 = 94163.053796;
    const KNF_HAMMING_SUM: f64 = 94956.608283;

    #[test]
    fn fbank_matches_kaldi_native_fbank() {
        let wav = sample_wav();
        let slice = &wav[348_480..364_480];
        let mut worst = 0.0f32;
        for (kind, frames, sum_want) in [
            (FbankWindow::Povey, vec![(0, KNF_POVEY_0), (50, KNF_POVEY_50), (97, KNF_POVEY_97)], KNF_POVEY_SUM),
            (FbankWindow::Hamming, vec![(50, KNF_HAMMING_50)], KNF_HAMMING_SUM),
        ] {
            let fb = FbankFrontend::new(kind).log_fbank(slice);
            assert_eq!(fb.len(), 98);
            for (t, reference) in frames {
                for (b, (&got, &want)) in fb[t].iter().zip(&parse(reference)).enumerate() {
                    // Kaldi computes in f32 and the reference prints 6 decimals.
                    assert!((got - want).abs() < 5e-4, "{kind:?} frame {t} band {b}: {got} vs {want}");
                    worst = worst.max((got - want).abs());
                }
            }
            let sum: f64 = fb.iter().flatten().map(|&v| f64::from(v)).sum();
            assert!((sum - sum_want).abs() < 0.05, "{kind:?} sum {sum} vs {sum_want}");
        }
        eprintln!("fbank vs kaldi-native-fbank: max |diff| = {worst:e}");
    }

    #[test]
    fn fbank_frame_count_follows_snip_edges() {
        assert_eq!(fbank_frames(16_000), 98);
        assert_eq!(fbank_frames(0), 0);
        assert_eq!(fbank_frames(399), 0);
        assert_eq!(fbank_frames(400), 1);
        assert_eq!(fbank_frames(559), 1);
        assert_eq!(fbank_frames(560), 2);
        let fe = FbankFrontend::new(FbankWindow::Povey);
        assert_eq!(fe.log_fbank(&[0.1; 16_000]).len(), 98);
        assert!(fe.log_fbank(&[]).is_empty());
        assert!(fe.features(&[0.1; 399]).is_empty());
        // Silence hits the floor in every band.
        let floor = f32::EPSILON.ln();
        assert!(fe.log_fbank(&[0.0; 1000]).iter().flatten().all(|&v| (v - floor).abs() < 1e-6));
    }

    /// The band whose Kaldi-mel centre is nearest to `hz`, from the formula (not from the filterbank code).
    fn nearest_band(hz: f64) -> usize {
        let lo = 1127.0 * (1.0f64 + 20.0 / 700.0).ln();
        let hi = 1127.0 * (1.0f64 + 8000.0 / 700.0).ln();
        let step = (hi - lo) / 81.0;
        let m = 1127.0 * (1.0 + hz / 700.0).ln();
        (0..N_FBANK)
            .min_by(|&a, &b| {
                let da = (lo + (a + 1) as f64 * step - m).abs();
                let db = (lo + (b + 1) as f64 * step - m).abs();
                da.total_cmp(&db)
            })
            .unwrap()
    }

    #[test]
    fn fbank_puts_a_pure_tone_in_its_mel_band() {
        let fe = FbankFrontend::new(FbankWindow::Povey);
        for hz in [250.0f64, 1000.0, 3000.0, 6500.0] {
            let tone: Vec<f32> = (0..16_000)
                .map(|i| (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / 16_000.0).sin()) as f32)
                .collect();
            let want = nearest_band(hz);
            for (t, frame) in fe.log_fbank(&tone).iter().enumerate() {
                let got = (0..N_FBANK).max_by(|&a, &b| frame[a].total_cmp(&frame[b])).unwrap();
                assert_eq!(got, want, "{hz} Hz frame {t}");
                // Well above every band more than two away (leakage stays local).
                for (b, &v) in frame.iter().enumerate() {
                    if b.abs_diff(want) > 2 {
                        assert!(frame[want] - v > 5.0, "{hz} Hz frame {t}: band {b} {v} vs peak {}", frame[want]);
                    }
                }
            }
        }
        // 1000 Hz is ~1000 Kaldi mel: (1000 - 31.75) / 34.67 ~ 27.9 steps above 20 Hz, the centre of band 27.
        assert_eq!(nearest_band(1000.0), 27);
    }

    #[test]
    fn cmn_makes_every_band_mean_zero_and_removes_gain() {
        let wav = sample_wav();
        let slice = &wav[348_480..445_600];
        let fe = FbankFrontend::new(FbankWindow::Povey);
        let raw = fe.log_fbank(slice);
        let feats = fe.features(slice);
        assert_eq!(feats.len(), raw.len());
        for b in 0..N_FBANK {
            let mean: f64 = feats.iter().map(|f| f64::from(f[b])).sum::<f64>() / feats.len() as f64;
            assert!(mean.abs() < 1e-5, "band {b} mean {mean}");
            let raw_mean: f64 = raw.iter().map(|f| f64::from(f[b])).sum::<f64>() / raw.len() as f64;
            assert!((f64::from(feats[7][b]) - (f64::from(raw[7][b]) - raw_mean)).abs() < 1e-5);
        }
        // A gain is a constant in the log domain, which CMN removes (no band is near the floor here).
        let quieter: Vec<f32> = slice.iter().map(|&s| s * 0.25).collect();
        let g = fe.features(&quieter);
        let worst = g.iter().flatten().zip(feats.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-3, "gain changed the features by {worst}");
        let mut none: Vec<[f32; N_FBANK]> = Vec::new();
        cmn(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn fbank_fft_equals_a_direct_dft_and_filters_are_kaldi() {
        let fe = FbankFrontend::new(FbankWindow::Hamming);
        let x: Vec<C64> =
            (0..FBANK_N_FFT).map(|i| C64 { re: ((i * 7919) % 101) as f64 / 50.0 - 1.0, im: 0.0 }).collect();
        let mut out = x.clone();
        fe.fft(&mut out);
        for (k, got) in out.iter().enumerate() {
            let mut want = C64::default();
            for (i, xi) in x.iter().enumerate() {
                let a = -2.0 * std::f64::consts::PI * ((i * k) % FBANK_N_FFT) as f64 / FBANK_N_FFT as f64;
                want = want.add(xi.mul(C64 { re: a.cos(), im: a.sin() }));
            }
            assert!((got.re - want.re).abs() < 1e-9 && (got.im - want.im).abs() < 1e-9, "bin {k}");
        }
        let fb = kaldi_filterbank();
        assert_eq!(fb.len(), N_FBANK);
        // Band 0 spans 20..65.7 Hz: bins 1 (31.25 Hz) and 2 (62.5 Hz).
        assert_eq!((fb[0].0, fb[0].1.len()), (1, 2));
        // Unnormalised triangles (the narrow low bands fall between bins); none reaches the Nyquist bin.
        for (b, (first, w)) in fb.iter().enumerate() {
            let peak = w.iter().copied().fold(0.0, f64::max);
            assert!(peak > 0.3 && peak <= 1.0, "band {b} peak {peak}");
            assert!(first + w.len() <= FBANK_N_FFT / 2, "band {b}");
        }
        assert!((kaldi_mel(700.0) - 1127.0 * 2.0f64.ln()).abs() < 1e-9);
        assert_eq!(fe.window(), FbankWindow::Hamming);
        // Povey window: zero at both ends, 1 in the middle-ish; Hamming 0.08 at the ends.
        let povey = FbankFrontend::new(FbankWindow::Povey);
        assert!(povey.window[0].abs() < 1e-12 && povey.window[399].abs() < 1e-12);
        assert!((fe.window[0] - 0.08).abs() < 1e-12);
    }
}
