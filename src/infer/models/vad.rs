//! Silero VAD v6 voice-activity detector, ONNX as shipped.
//!
//! Streaming: 16 kHz mono f32; each step feeds 512 new samples prefixed by the last 64 samples of the previous step
//! ([1, 576]), plus the recurrent state [2, 1, 128] carried from step to step; the output is the speech probability
//! of those 32 ms.

use super::{output_f32, tensor_f32};
use crate::infer::{InferError, LoadedModel, Runtime};

pub const MODEL_ID: &str = "silero_vad";
pub const SAMPLE_RATE: u32 = 16_000;
/// New samples per step (32 ms).
pub const CHUNK: usize = 512;
const CONTEXT: usize = 64;
const STATE_LEN: usize = 2 * 128;

pub struct SileroVad {
    model: LoadedModel,
    state: Vec<f32>,
    context: Vec<f32>,
    pending: Vec<f32>,
}

impl SileroVad {
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        Ok(SileroVad {
            model: rt.load(MODEL_ID)?,
            state: vec![0.0; STATE_LEN],
            context: vec![0.0; CONTEXT],
            pending: Vec::new(),
        })
    }

    /// Forgets the stream (state, context, partial chunk).
    pub fn reset(&mut self) {
        self.state.iter_mut().for_each(|v| *v = 0.0);
        self.context.iter_mut().for_each(|v| *v = 0.0);
        self.pending.clear();
    }

    /// Samples received but not yet part of a completed 512-sample step.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Feeds samples; returns one speech probability per completed 512-sample chunk, in order.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, InferError> {
        self.pending.extend_from_slice(samples);
        let mut probs = Vec::with_capacity(self.pending.len() / CHUNK);
        let mut start = 0;
        while self.pending.len() - start >= CHUNK {
            let chunk: Vec<f32> = self.pending[start..start + CHUNK].to_vec();
            probs.push(self.step(&chunk)?);
            start += CHUNK;
        }
        self.pending.drain(..start);
        Ok(probs)
    }

    fn step(&mut self, chunk: &[f32]) -> Result<f32, InferError> {
        let mut input = Vec::with_capacity(CONTEXT + CHUNK);
        input.extend_from_slice(&self.context);
        input.extend_from_slice(chunk);
        let x = tensor_f32(MODEL_ID, vec![1, (CONTEXT + CHUNK) as i64], input)?;
        let state = tensor_f32(MODEL_ID, vec![2, 1, 128], self.state.clone())?;
        let sr = ort::value::Tensor::from_array((Vec::<i64>::new(), vec![SAMPLE_RATE as i64]))
            .map_err(|e| InferError::ort(MODEL_ID, e))?;
        let out = self
            .model
            .session
            .run(ort::inputs!["input" => x, "state" => state, "sr" => sr])
            .map_err(|e| InferError::ort(MODEL_ID, e))?;
        let (_, p) = output_f32(&out, MODEL_ID, "output")?;
        let (_, new_state) = output_f32(&out, MODEL_ID, "stateN")?;
        if p.len() != 1 || new_state.len() != STATE_LEN {
            return Err(InferError::output(MODEL_ID, "unexpected output sizes"));
        }
        self.state = new_state;
        self.context.copy_from_slice(&chunk[CHUNK - CONTEXT..]);
        Ok(p[0])
    }
}
