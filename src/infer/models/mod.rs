//! One wrapper type per model. Each owns its `ort` session, its named constants, and its pre/post-processing;
//! callers hand in frames/audio and get typed observations back.

pub mod antispoof;
pub mod blazeface;
pub mod expression;
pub mod face_embed;
pub mod face_mesh;
pub mod objects;
pub mod ocr;
pub mod scene;
pub mod segmentation;
pub mod vad;
pub mod voice;

use super::InferError;
use ort::session::SessionOutputs;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An L2-normalised embedding (face or voice). Personal data: reports wrap it in `Pii`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// L2-normalises `v`; `None` for an all-zero or non-finite vector.
    pub fn normalised(mut v: Vec<f32>) -> Option<Self> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !n.is_finite() || n < 1e-12 {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= n);
        Some(Embedding(v))
    }

    /// Cosine similarity of two normalised embeddings (0 when the dimensions differ).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        if self.0.len() != other.0.len() {
            return 0.0;
        }
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The normalised mean of several embeddings.
    pub fn mean(items: &[&Embedding]) -> Option<Embedding> {
        let dim = items.first()?.0.len();
        let mut acc = vec![0.0; dim];
        for e in items {
            if e.0.len() != dim {
                return None;
            }
            acc.iter_mut().zip(&e.0).for_each(|(a, b)| *a += b);
        }
        Embedding::normalised(acc)
    }
}

/// Copies a named f32 output out of a run, with its shape. A missing output is an error naming the model.
pub(crate) fn output_f32(
    outputs: &SessionOutputs<'_>,
    id: &str,
    name: &str,
) -> Result<(Vec<i64>, Vec<f32>), InferError> {
    let value = outputs.get(name).ok_or_else(|| InferError::output(id, format!("no output `{name}`")))?;
    let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| InferError::ort(id, e))?;
    Ok((shape.to_vec(), data.to_vec()))
}

/// Builds an f32 tensor input, naming the model on error.
pub(crate) fn tensor_f32(id: &str, shape: Vec<i64>, data: Vec<f32>) -> Result<ort::value::Tensor<f32>, InferError> {
    ort::value::Tensor::from_array((shape, data)).map_err(|e| InferError::ort(id, e))
}

/// Reads a label file (one label per line, line `i` = class `i`) that must hold exactly `expected` labels. Errors
/// name the model: `Missing` when the file is absent, `BadFile` when it is unreadable or has the wrong count.
pub(crate) fn read_labels(id: &str, path: &Path, expected: usize) -> Result<Vec<String>, InferError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InferError::Missing { id: id.to_owned(), path: path.to_owned() });
        }
        Err(e) => {
            return Err(InferError::BadFile {
                id: id.to_owned(),
                path: path.to_owned(),
                detail: format!("cannot read the label file: {e}"),
            });
        }
    };
    let labels: Vec<String> = text.lines().map(|l| l.trim_end_matches('\r').to_owned()).collect();
    if labels.len() != expected || labels.iter().any(|l| l.trim().is_empty()) {
        return Err(InferError::BadFile {
            id: id.to_owned(),
            path: path.to_owned(),
            detail: format!(
                "label file has {} lines (blank ones included), expected {expected} non-blank labels",
                labels.len()
            ),
        });
    }
    Ok(labels)
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
