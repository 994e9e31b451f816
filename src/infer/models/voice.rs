//! The speaker-embedding model (`voice_embedding`): one L2-normalised [`Embedding`] per speech segment. The model is
//! swappable through the manifest: its entry's `frontend` names the features it takes, and its input/output
//! declarations give the tensor names and the embedding size. Known front ends ([`Frontend`]):
//!
//! - `resemblyzer_mel40` (the default when the entry names none; the shipped model): Resemblyzer's GE2E speaker
//!   encoder, converted to ONNX by `models/convert/torch_models.py`. Pre (per speech segment, 16 kHz mono): raise the
//!   level to -30 dBFS if it is quieter (never lower it), power mel spectrogram (`analysis::audio::MelFrontend`),
//!   windows of 160 frames every 80 frames (the last zero-padded; dropped when under 75% real unless it is the only
//!   one) -> input `[B, 160, 40]`. Post: output `[B, D]` (D = 256), each row ReLU'd and L2-normalised by the model;
//!   the window rows are averaged and L2-normalised. Window, step, coverage and target level come from the manifest's
//!   thresholds. Recipe and reference numbers: `models/convert/NOTES-torch.md`.
//! - `kaldi_fbank80`: an fbank-based model (WeSpeaker / 3D-Speaker CAM++ style). Pre: Kaldi-compatible 80-bin log
//!   mel filterbank with the Povey window and per-utterance mean normalisation (`analysis::audio::FbankFrontend`,
//!   whose docs list every setting) over the whole segment -> input `[1, T, 80]` (T = `1 + (n - 400) / 160` frames;
//!   the model's time axis must be dynamic). No level normalisation (mean normalisation removes a gain). Post:
//!   output `[1, D]`, D read from the manifest's output shape (192 or 256 for these models), L2-normalised here.
//! - `kaldi_fbank80_hamming`: the same with the Hamming window, which WeSpeaker's own recipes use
//!   (`window_type='hamming'`); Kaldi's and 3D-Speaker's default is Povey.
//!
//! [`VoiceEmbedder::load`] checks the entry before building the session: a known front end, exactly one f32 input of
//! rank 3 whose last dimension is the front end's feature count (40 or 80), an f32 output of rank 2 with a fixed
//! size. Swapping models changes the embedding space: voiceprints and calibrated thresholds made with one model do
//! not carry over to another.
//!
//! The embedding is a consistency signal (same-speaker cosines overlap different-speaker ones on phone audio), not
//! proof of identity; compare pieces of similar length.

use super::{Embedding, output_f32, tensor_f32};
use crate::analysis::audio::{self, FbankFrontend, FbankWindow, MelFrontend, N_FBANK, N_MELS};
use crate::infer::manifest::{DType, ModelSpec, TensorSpec};
use crate::infer::{InferError, LoadedModel, Runtime};

pub const MODEL_ID: &str = "voice_embedding";
/// Input sample rate (Hz).
pub const SAMPLE_RATE: u32 = audio::SAMPLE_RATE;
/// Segments shorter than this give no embedding (Resemblyzer's embeddings are poor well under ~1 s).
pub const MIN_SECONDS: f32 = 0.5;
/// Embedding size of the shipped (Resemblyzer) model; a swapped model's is [`VoiceEmbedder::dim`].
pub const DIM: usize = 256;
/// The output used when the manifest declares several.
const OUTPUT: &str = "embedding";
/// Defaults, used where the manifest has no threshold of that name.
const DEFAULT_WINDOW: usize = 160;
const DEFAULT_STEP: usize = 80;
const DEFAULT_COVERAGE: f32 = 0.75;
const DEFAULT_TARGET_DBFS: f32 = -30.0;
/// Largest embedding size a manifest may declare (a sanity bound; real models have 128..=512).
const MAX_DIM: i64 = 8192;
/// Windows per ONNX run: bounds the input tensor for long segments (results do not depend on it).
const MAX_BATCH: usize = 64;

/// The features a voice model takes, named by `frontend` in its manifest entry (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// Resemblyzer's power mel windows `[B, 160, 40]`; the default.
    ResemblyzerMel40,
    /// Kaldi fbank (Povey window) with mean normalisation, `[1, T, 80]`.
    KaldiFbank80,
    /// Kaldi fbank with the Hamming window (WeSpeaker's recipes) with mean normalisation, `[1, T, 80]`.
    KaldiFbank80Hamming,
}

impl Frontend {
    /// Every known front end, the default first.
    pub const ALL: [Frontend; 3] = [Frontend::ResemblyzerMel40, Frontend::KaldiFbank80, Frontend::KaldiFbank80Hamming];

    /// The name the manifest uses.
    pub fn name(self) -> &'static str {
        match self {
            Frontend::ResemblyzerMel40 => "resemblyzer_mel40",
            Frontend::KaldiFbank80 => "kaldi_fbank80",
            Frontend::KaldiFbank80Hamming => "kaldi_fbank80_hamming",
        }
    }

    pub fn from_name(name: &str) -> Option<Frontend> {
        Frontend::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Features per frame: the input's last dimension.
    pub fn feature_dim(self) -> usize {
        match self {
            Frontend::ResemblyzerMel40 => N_MELS,
            Frontend::KaldiFbank80 | Frontend::KaldiFbank80Hamming => N_FBANK,
        }
    }

    /// The front end a manifest entry names (`None` = the default). An unknown name is a `Signature` error naming
    /// the model and listing the known front ends.
    pub fn of_spec(spec: &ModelSpec) -> Result<Frontend, InferError> {
        let Some(name) = spec.frontend.as_deref() else {
            return Ok(Frontend::ResemblyzerMel40);
        };
        Frontend::from_name(name).ok_or_else(|| InferError::Signature {
            id: spec.id.clone(),
            detail: format!(
                "frontend `{name}` is not known (known frontends: {})",
                Frontend::ALL.map(Frontend::name).join(", ")
            ),
        })
    }
}

/// The checked input/output of a voice model's manifest entry.
struct Io {
    frontend: Frontend,
    input: String,
    output: String,
    dim: usize,
}

/// Checks a manifest entry against its front end (see [`VoiceEmbedder::load`]); every error names the model.
fn check_spec(spec: &ModelSpec, window: usize) -> Result<Io, InferError> {
    let frontend = Frontend::of_spec(spec)?;
    let sig = |detail: String| InferError::Signature { id: spec.id.clone(), detail };
    let fe = frontend.name();
    let [input] = spec.inputs.as_slice() else {
        return Err(sig(format!(
            "frontend `{fe}` needs exactly one input, the manifest declares {}",
            spec.inputs.len()
        )));
    };
    let want = frontend.feature_dim() as i64;
    let TensorSpec { name, dtype, shape } = input;
    let (batch_ok, time_ok) = match (frontend, shape.as_slice()) {
        (Frontend::ResemblyzerMel40, [b, t, _]) => (*b == -1, *t == -1 || *t == window as i64),
        (_, [b, t, _]) => (*b == -1 || *b == 1, *t == -1),
        _ => (false, false),
    };
    if *dtype != DType::F32 || !matches!(shape.as_slice(), [_, _, f] if *f == want) {
        return Err(sig(format!(
            "frontend `{fe}` takes f32 [batch, frames, {want}] but input `{name}` is {dtype:?} {shape:?} (its last \
             dimension must be {want})"
        )));
    }
    if !batch_ok || !time_ok {
        let needs = match frontend {
            Frontend::ResemblyzerMel40 => format!("a dynamic batch and {window} or dynamic frames"),
            _ => "batch 1 or dynamic and dynamic frames (the whole segment is one input)".to_owned(),
        };
        return Err(sig(format!("frontend `{fe}` needs {needs}, input `{name}` has shape {shape:?}")));
    }
    let output = match spec.outputs.as_slice() {
        [only] => only,
        many => many.iter().find(|o| o.name == OUTPUT).ok_or_else(|| {
            sig(format!(
                "{} outputs declared and none is named `{OUTPUT}`: cannot tell which is the embedding",
                many.len()
            ))
        })?,
    };
    let dim = match output.shape.as_slice() {
        [_, d] if (1..=MAX_DIM).contains(d) && output.dtype == DType::F32 => *d as usize,
        s => {
            return Err(sig(format!(
                "output `{}` must be f32 [batch, D] with a fixed D of at most {MAX_DIM}, the manifest says {:?} {s:?}",
                output.name, output.dtype
            )));
        }
    };
    Ok(Io { frontend, input: name.clone(), output: output.name.clone(), dim })
}

/// The feature extractor of the loaded front end.
enum Features {
    Mel(MelFrontend),
    Fbank(FbankFrontend),
}

pub struct VoiceEmbedder {
    model: LoadedModel,
    frontend: Frontend,
    features: Features,
    input: String,
    output: String,
    dim: usize,
    window: usize,
    step: usize,
    min_coverage: f32,
    target_dbfs: f32,
}

impl VoiceEmbedder {
    /// Loads the checked model. Its manifest entry's `frontend` picks the features (`resemblyzer_mel40` when
    /// absent); an unknown name, an input that is not f32 `[batch, frames, F]` with F the front end's feature count
    /// (40 or 80), or an output that is not f32 `[batch, D]` with a fixed D, is a `Signature` error naming the
    /// model, raised before the session is built. Reads `window_frames`, `window_step_frames`,
    /// `min_last_window_coverage` and `target_dbfs` from the thresholds (defaults 160, 80, 0.75, -30 where absent;
    /// only `resemblyzer_mel40` uses them). An out-of-range threshold is an error naming the model.
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let spec = rt.manifest().get(MODEL_ID).ok_or_else(|| InferError::UnknownModel(MODEL_ID.to_owned()))?;
        let th = &spec.thresholds;
        let bad = |name: &str, v: f64| InferError::Signature {
            id: MODEL_ID.to_owned(),
            detail: format!("threshold `{name}` = {v} is out of range"),
        };
        let frames = |name: &str, default: usize| -> Result<usize, InferError> {
            match th.get(name) {
                None => Ok(default),
                Some(&v) if (1.0..=10_000.0).contains(&v) && v.fract() == 0.0 => Ok(v as usize),
                Some(&v) => Err(bad(name, v)),
            }
        };
        let window = frames("window_frames", DEFAULT_WINDOW)?;
        let step = frames("window_step_frames", DEFAULT_STEP)?;
        let min_coverage = match th.get("min_last_window_coverage") {
            None => DEFAULT_COVERAGE,
            Some(&v) if (0.0..=1.0).contains(&v) => v as f32,
            Some(&v) => return Err(bad("min_last_window_coverage", v)),
        };
        let target_dbfs = match th.get("target_dbfs") {
            None => DEFAULT_TARGET_DBFS,
            Some(&v) if (-100.0..=0.0).contains(&v) => v as f32,
            Some(&v) => return Err(bad("target_dbfs", v)),
        };
        let Io { frontend, input, output, dim } = check_spec(spec, window)?;
        let model = rt.load(MODEL_ID)?;
        let features = match frontend {
            Frontend::ResemblyzerMel40 => Features::Mel(MelFrontend::new()),
            Frontend::KaldiFbank80 => Features::Fbank(FbankFrontend::new(FbankWindow::Povey)),
            Frontend::KaldiFbank80Hamming => Features::Fbank(FbankFrontend::new(FbankWindow::Hamming)),
        };
        Ok(VoiceEmbedder { model, frontend, features, input, output, dim, window, step, min_coverage, target_dbfs })
    }

    /// The front end the model takes.
    pub fn frontend(&self) -> Frontend {
        self.frontend
    }

    /// Embedding size (from the manifest's output shape; [`DIM`] for the shipped model).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Frames per window (160) of the `resemblyzer_mel40` front end.
    pub fn window_frames(&self) -> usize {
        self.window
    }

    /// The `resemblyzer_mel40` model's input windows for one segment: level-normalised, mel, windowed (empty for
    /// silent input, and for a model with another front end).
    pub fn prepare(&self, samples: &[f32]) -> Vec<Vec<[f32; N_MELS]>> {
        let Features::Mel(mel) = &self.features else {
            return Vec::new();
        };
        let x = audio::normalise_dbfs(samples, self.target_dbfs, true);
        let mel = mel.power_mel(&x);
        audio::windows(&mel, self.window, self.step, self.min_coverage)
    }

    /// One embedding for a segment of 16 kHz mono samples in `[-1, 1]`. `None` when it is shorter than
    /// [`MIN_SECONDS`], silent (all zero), or the model gives a degenerate output (every window, for
    /// `resemblyzer_mel40`). Non-finite samples are an input error.
    pub fn embed(&mut self, samples: &[f32]) -> Result<Option<Embedding>, InferError> {
        if (samples.len() as f32) < MIN_SECONDS * SAMPLE_RATE as f32 {
            return Ok(None);
        }
        if samples.iter().any(|s| !s.is_finite()) {
            return Err(InferError::input(MODEL_ID, "non-finite audio sample"));
        }
        if samples.iter().all(|&s| s == 0.0) {
            return Ok(None);
        }
        if let Features::Fbank(fbank) = &self.features {
            let feats = fbank.features(samples);
            return self.embed_features(&feats);
        }
        let windows = self.prepare(samples);
        let rows = self.embed_windows(&windows)?;
        let mut acc = vec![0.0f32; self.dim];
        let mut n = 0usize;
        for row in rows.iter().flatten() {
            acc.iter_mut().zip(&row.0).for_each(|(a, b)| *a += b);
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Embedding::normalised(acc))
    }

    /// Runs one `[1, T, 80]` fbank input; `None` for no frames or a non-finite or all-zero output.
    fn embed_features(&mut self, feats: &[[f32; N_FBANK]]) -> Result<Option<Embedding>, InferError> {
        if feats.is_empty() {
            return Ok(None);
        }
        let data: Vec<f32> = feats.iter().flatten().copied().collect();
        let mut rows = self.run_rows(vec![1, feats.len() as i64, N_FBANK as i64], data)?;
        Ok(rows.pop().flatten())
    }

    /// Runs one input tensor of shape `[B, ...]` and returns its `B` embeddings (output `[B, dim]`), each
    /// L2-normalised; `None` for a row that is not finite or all zero.
    fn run_rows(&mut self, shape: Vec<i64>, data: Vec<f32>) -> Result<Vec<Option<Embedding>>, InferError> {
        let batch = shape.first().copied().unwrap_or(0);
        let tensor = tensor_f32(MODEL_ID, shape, data)?;
        let run = self
            .model
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (shape, values) = output_f32(&run, MODEL_ID, &self.output)?;
        let dim = self.dim;
        if shape != [batch, dim as i64] || values.len() != batch as usize * dim {
            return Err(InferError::output(MODEL_ID, format!("embedding shape {shape:?}, expected [{batch}, {dim}]")));
        }
        Ok(values.chunks_exact(dim).map(|row| Embedding::normalised(row.to_vec())).collect())
    }

    /// Runs prepared `resemblyzer_mel40` windows (each `window_frames` x 40) and returns one embedding per window, in
    /// order; `None` for a window whose output is not finite or all zero. An input error for a model with another
    /// front end.
    pub fn embed_windows(&mut self, windows: &[Vec<[f32; N_MELS]>]) -> Result<Vec<Option<Embedding>>, InferError> {
        if self.frontend != Frontend::ResemblyzerMel40 {
            return Err(InferError::input(
                MODEL_ID,
                format!("mel windows given to a model whose frontend is `{}`", self.frontend.name()),
            ));
        }
        if let Some(w) = windows.iter().find(|w| w.len() != self.window) {
            return Err(InferError::input(MODEL_ID, format!("window of {} frames, expected {}", w.len(), self.window)));
        }
        let mut out = Vec::with_capacity(windows.len());
        for batch in windows.chunks(MAX_BATCH) {
            let data: Vec<f32> = batch.iter().flatten().flatten().copied().collect();
            let shape = vec![batch.len() as i64, self.window as i64, N_MELS as i64];
            out.extend(self.run_rows(shape, data)?);
        }
        Ok(out)
    }
}
