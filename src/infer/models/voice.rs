//! Resemblyzer GE2E speaker encoder (`voice_embedding`, converted to ONNX by `models/convert/torch_models.py`).
//!
//! Pre (per speech segment, 16 kHz mono): raise the level to -30 dBFS if it is quieter (never lower it), power mel
//! spectrogram (`analysis::audio::MelFrontend`), windows of 160 frames every 80 frames (the last zero-padded; dropped
//! when under 75% real unless it is the only one) -> `mels` `[B, 160, 40]`. Post: `embedding` `[B, 256]`, each row
//! ReLU'd and L2-normalised by the model; the window rows are averaged and L2-normalised into one [`Embedding`].
//! Window, step, coverage and target level come from the manifest's thresholds. Recipe and reference numbers:
//! `models/convert/NOTES-torch.md`.
//!
//! The embedding is a consistency signal (same-speaker cosines overlap different-speaker ones on phone audio), not
//! proof of identity; compare pieces of similar length.

use super::{Embedding, output_f32, tensor_f32};
use crate::analysis::audio::{self, MelFrontend, N_MELS};
use crate::infer::{InferError, LoadedModel, Runtime};

pub const MODEL_ID: &str = "voice_embedding";
/// Input sample rate (Hz).
pub const SAMPLE_RATE: u32 = audio::SAMPLE_RATE;
/// Segments shorter than this give no embedding (Resemblyzer's embeddings are poor well under ~1 s).
pub const MIN_SECONDS: f32 = 0.5;
/// Embedding size.
pub const DIM: usize = 256;
const INPUT: &str = "mels";
const OUTPUT: &str = "embedding";
/// Defaults, used where the manifest has no threshold of that name.
const DEFAULT_WINDOW: usize = 160;
const DEFAULT_STEP: usize = 80;
const DEFAULT_COVERAGE: f32 = 0.75;
const DEFAULT_TARGET_DBFS: f32 = -30.0;
/// Windows per ONNX run: bounds the input tensor for long segments (results do not depend on it).
const MAX_BATCH: usize = 64;

pub struct VoiceEmbedder {
    model: LoadedModel,
    mel: MelFrontend,
    window: usize,
    step: usize,
    min_coverage: f32,
    target_dbfs: f32,
}

impl VoiceEmbedder {
    /// Loads the checked model and reads `window_frames`, `window_step_frames`, `min_last_window_coverage` and
    /// `target_dbfs` from its manifest thresholds (defaults 160, 80, 0.75, -30 where absent). An out-of-range
    /// threshold is an error naming the model.
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let model = rt.load(MODEL_ID)?;
        let th = &model.spec.thresholds;
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
        Ok(VoiceEmbedder { model, mel: MelFrontend::new(), window, step, min_coverage, target_dbfs })
    }

    /// Frames per window (160).
    pub fn window_frames(&self) -> usize {
        self.window
    }

    /// The model's input windows for one segment: level-normalised, mel, windowed (empty for silent input).
    pub fn prepare(&self, samples: &[f32]) -> Vec<Vec<[f32; N_MELS]>> {
        let x = audio::normalise_dbfs(samples, self.target_dbfs, true);
        let mel = self.mel.power_mel(&x);
        audio::windows(&mel, self.window, self.step, self.min_coverage)
    }

    /// One embedding for a segment of 16 kHz mono samples in `[-1, 1]`. `None` when it is shorter than
    /// [`MIN_SECONDS`], silent (all zero), or every window gives a degenerate output. Non-finite samples are an
    /// input error.
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
        let windows = self.prepare(samples);
        let rows = self.embed_windows(&windows)?;
        let mut acc = vec![0.0f32; DIM];
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

    /// Runs prepared windows (each `window_frames` x 40) and returns one embedding per window, in order; `None` for
    /// a window whose output is not finite or all zero.
    pub fn embed_windows(&mut self, windows: &[Vec<[f32; N_MELS]>]) -> Result<Vec<Option<Embedding>>, InferError> {
        if let Some(w) = windows.iter().find(|w| w.len() != self.window) {
            return Err(InferError::input(MODEL_ID, format!("window of {} frames, expected {}", w.len(), self.window)));
        }
        let mut out = Vec::with_capacity(windows.len());
        for batch in windows.chunks(MAX_BATCH) {
            let data: Vec<f32> = batch.iter().flatten().flatten().copied().collect();
            let shape = vec![batch.len() as i64, self.window as i64, N_MELS as i64];
            let tensor = tensor_f32(MODEL_ID, shape, data)?;
            let run =
                self.model.session.run(ort::inputs![INPUT => tensor]).map_err(|e| InferError::ort(MODEL_ID, e))?;
            let (shape, values) = output_f32(&run, MODEL_ID, OUTPUT)?;
            if shape != [batch.len() as i64, DIM as i64] || values.len() != batch.len() * DIM {
                return Err(InferError::output(
                    MODEL_ID,
                    format!("embedding shape {shape:?}, expected [{}, {DIM}]", batch.len()),
                ));
            }
            out.extend(values.chunks_exact(DIM).map(|row| Embedding::normalised(row.to_vec())));
        }
        Ok(out)
    }
}
