//! The ONNX Runtime environment and checked model loading.

use super::InferError;
use super::manifest::{DType, FileStatus, Manifest, ModelSpec, TensorSpec, check_file};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the set-up puts the ONNX Runtime library, relative to the project root.
pub const DEFAULT_ORT_LIB: &str = ".deps/onnxruntime/libonnxruntime.so.1.31.1";

static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// A loaded manifest plus the process-wide ONNX Runtime environment. Cheap to clone into workers.
#[derive(Clone)]
pub struct Runtime {
    manifest: Manifest,
    threads_per_session: usize,
}

/// One checked session, ready for a wrapper to take.
pub struct LoadedModel {
    pub spec: ModelSpec,
    pub session: Session,
}

impl Runtime {
    /// Loads the ONNX Runtime library once per process (an error, not a panic, when it is missing) and the manifest.
    pub fn new(lib: &Path, manifest: Manifest) -> Result<Self, InferError> {
        let env = ENV.get_or_init(|| {
            if !lib.exists() {
                return Err("file not found".to_owned());
            }
            let builder = ort::init_from(lib).map_err(|e| e.to_string())?;
            builder.with_name("facereview").build().map_err(|e| e.to_string())
        });
        match env {
            Ok(_) => Ok(Runtime { manifest, threads_per_session: 1 }),
            Err(message) => Err(InferError::Library { path: lib.to_owned(), message: message.clone() }),
        }
    }

    /// Intra-op threads per session (default 1: parallelism comes from workers, one session each).
    pub fn with_threads_per_session(mut self, n: usize) -> Self {
        self.threads_per_session = n.max(1);
        self
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Checks the model file (presence, size, sha256), builds a session, and checks its signature against the
    /// manifest. Every failure names the model.
    pub fn load(&self, id: &str) -> Result<LoadedModel, InferError> {
        let spec = self.manifest.get(id).ok_or_else(|| InferError::UnknownModel(id.to_owned()))?.clone();
        let path = self.manifest.file_path(&spec);
        match check_file(&path, &spec) {
            FileStatus::Missing => {
                return Err(InferError::Missing { id: id.to_owned(), path });
            }
            s if !s.is_ok() => {
                return Err(InferError::BadFile { id: id.to_owned(), path, detail: describe(&s) });
            }
            _ => {}
        }
        let session = self.session_from_file(id, &path)?;
        check_signature(&spec, &session)?;
        Ok(LoadedModel { spec, session })
    }

    fn session_from_file(&self, id: &str, path: &PathBuf) -> Result<Session, InferError> {
        let env = match ENV.get() {
            Some(Ok(env)) => env,
            _ => return Err(InferError::ort(id, "ONNX Runtime is not initialised")),
        };
        Session::builder(env)
            .map_err(|e| InferError::ort(id, e))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| InferError::ort(id, e))?
            .with_intra_threads(self.threads_per_session)
            .map_err(|e| InferError::ort(id, e))?
            .with_inter_threads(1)
            .map_err(|e| InferError::ort(id, e))?
            .commit_from_file(path)
            .map_err(|e| InferError::BadFile { id: id.to_owned(), path: path.clone(), detail: e.to_string() })
    }
}

/// A human-readable line for a file check.
pub fn describe(s: &FileStatus) -> String {
    match s {
        FileStatus::Ok { .. } => "ok".into(),
        FileStatus::Unpinned { sha256, .. } => format!("present, unpinned (sha256 {sha256})"),
        FileStatus::Missing => "missing".into(),
        FileStatus::Unreadable { message } => format!("unreadable: {message}"),
        FileStatus::WrongSize { expected, got } => {
            format!("wrong size: expected {expected} bytes, got {got}")
        }
        FileStatus::WrongHash { expected, got } => {
            format!("wrong sha256: expected {expected}, got {got}")
        }
    }
}

fn dtype_of(t: TensorElementType) -> Option<DType> {
    match t {
        TensorElementType::Float32 => Some(DType::F32),
        TensorElementType::Int64 => Some(DType::I64),
        TensorElementType::Int32 => Some(DType::I32),
        TensorElementType::Uint8 => Some(DType::U8),
        _ => None,
    }
}

fn check_one(id: &str, kind: &str, want: &TensorSpec, got: Option<&ValueType>) -> Result<(), InferError> {
    let sig = |detail: String| InferError::Signature { id: id.to_owned(), detail };
    let Some(got) = got else {
        return Err(sig(format!("{kind} `{}` not found in the model", want.name)));
    };
    let (Some(ty), Some(shape)) = (got.tensor_type(), got.tensor_shape()) else {
        return Err(sig(format!("{kind} `{}` is not a tensor", want.name)));
    };
    if dtype_of(ty).as_ref() != Some(&want.dtype) {
        return Err(sig(format!("{kind} `{}` has dtype {ty:?}, manifest says {:?}", want.name, want.dtype)));
    }
    let shape: &[i64] = shape;
    let compatible =
        shape.len() == want.shape.len() && shape.iter().zip(&want.shape).all(|(&g, &w)| g == w || g < 0 || w < 0);
    if !compatible {
        return Err(sig(format!("{kind} `{}` has shape {shape:?}, manifest says {:?}", want.name, want.shape)));
    }
    Ok(())
}

/// Checks every manifest input/output against the session, and that the session has no undeclared inputs.
pub fn check_signature(spec: &ModelSpec, session: &Session) -> Result<(), InferError> {
    for want in &spec.inputs {
        let got = session.inputs().iter().find(|o| o.name() == want.name).map(|o| o.dtype());
        check_one(&spec.id, "input", want, got)?;
    }
    for want in &spec.outputs {
        let got = session.outputs().iter().find(|o| o.name() == want.name).map(|o| o.dtype());
        check_one(&spec.id, "output", want, got)?;
    }
    if let Some(extra) = session.inputs().iter().find(|o| !spec.inputs.iter().any(|w| w.name == o.name())) {
        return Err(InferError::Signature {
            id: spec.id.clone(),
            detail: format!("model has input `{}` that the manifest does not declare", extra.name()),
        });
    }
    Ok(())
}
