//! One wrapper type per model. Each owns its `ort` session, its named constants, and its pre/post-processing;
//! callers hand in frames/audio and get typed observations back.

pub mod blazeface;
pub mod ocr;
pub mod vad;

use super::InferError;
use ort::session::SessionOutputs;

/// Copies a named f32 output out of a run, with its shape. A missing output is an error naming the model.
pub(crate) fn output_f32(
    outputs: &SessionOutputs<'_>,
    id: &str,
    name: &str,
) -> Result<(Vec<i64>, Vec<f32>), InferError> {
    let value = outputs
        .get(name)
        .ok_or_else(|| InferError::output(id, format!("no output `{name}`")))?;
    let (shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| InferError::ort(id, e))?;
    Ok((shape.to_vec(), data.to_vec()))
}

/// Builds an f32 tensor input, naming the model on error.
pub(crate) fn tensor_f32(
    id: &str,
    shape: Vec<i64>,
    data: Vec<f32>,
) -> Result<ort::value::Tensor<f32>, InferError> {
    ort::value::Tensor::from_array((shape, data)).map_err(|e| InferError::ort(id, e))
}

#[inline]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

/// In-place softmax over a slice.
pub(crate) fn softmax(v: &mut [f32]) {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}
