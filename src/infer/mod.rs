//! ONNX Runtime adapter: loads the runtime library, checks each model against `models/manifest.toml` (file sha256,
//! input/output names, dtypes, shapes), and hosts one wrapper type per model that owns its pre/post-processing.
//!
//! May use `ort`, `ndarray` and `analysis` (tensor prep). Sessions are owned by workers (`Session::run` takes
//! `&mut self`); nothing here is shared behind a lock.

pub mod manifest;
pub mod models;
pub mod runtime;

pub use manifest::{Manifest, ManifestError, ModelSpec};
pub use runtime::{LoadedModel, Runtime};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(
        "cannot load the ONNX Runtime library {path}: {message} (run the README's set-up, or set FACEREVIEW_ORT_LIB)"
    )]
    Library { path: PathBuf, message: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("model `{0}` is not in the model manifest")]
    UnknownModel(String),
    #[error("model `{id}`: file {path} is missing (run the README's set-up to fetch models)")]
    Missing { id: String, path: PathBuf },
    #[error("model `{id}`: file {path} fails its check: {detail}")]
    BadFile { id: String, path: PathBuf, detail: String },
    #[error("model `{id}`: signature differs from the manifest: {detail}")]
    Signature { id: String, detail: String },
    #[error("model `{id}`: ONNX Runtime error: {message}")]
    Ort { id: String, message: String },
    #[error("model `{id}`: unexpected output: {detail}")]
    Output { id: String, detail: String },
    #[error("model `{id}`: bad input: {detail}")]
    Input { id: String, detail: String },
}

impl InferError {
    pub(crate) fn ort(id: &str, e: impl std::fmt::Display) -> Self {
        InferError::Ort { id: id.to_owned(), message: e.to_string() }
    }
    pub(crate) fn output(id: &str, detail: impl Into<String>) -> Self {
        InferError::Output { id: id.to_owned(), detail: detail.into() }
    }
    pub(crate) fn input(id: &str, detail: impl Into<String>) -> Self {
        InferError::Input { id: id.to_owned(), detail: detail.into() }
    }
}
