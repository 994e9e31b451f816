//! Where things are (project root, models, ONNX Runtime library) and the tunables, with defaults beside fields
//! and environment overrides. Validated once at start-up.
//!
//! May use `types`; no I/O beyond reading environment variables and checking paths.

use std::path::{Path, PathBuf};

/// Environment variable naming the project root (models/, pipelines/, .deps/).
pub const ENV_HOME: &str = "FACEREVIEW_HOME";
/// Environment variable naming the ONNX Runtime shared library.
pub const ENV_ORT_LIB: &str = "FACEREVIEW_ORT_LIB";
/// Environment variable naming the model manifest.
pub const ENV_MANIFEST: &str = "FACEREVIEW_MANIFEST";
/// Environment variable naming the data folder (voiceprint store ...).
pub const ENV_DATA: &str = "FACEREVIEW_DATA";

#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub manifest: PathBuf,
    pub ort_lib: PathBuf,
    /// Where the service keeps its data (default `<root>/data`).
    pub data: PathBuf,
}

impl Paths {
    /// Resolves paths: `FACEREVIEW_HOME`, else the source checkout this binary was built from, else the current
    /// directory; the manifest and library may be overridden one by one.
    pub fn from_env() -> Self {
        let root = std::env::var_os(ENV_HOME)
            .map(PathBuf::from)
            .or_else(|| {
                let built = Path::new(env!("CARGO_MANIFEST_DIR"));
                built.join("models/manifest.toml").exists().then(|| built.to_owned())
            })
            .unwrap_or_else(|| PathBuf::from("."));
        Self::with_root(root)
    }

    pub fn with_root(root: PathBuf) -> Self {
        let manifest =
            std::env::var_os(ENV_MANIFEST).map(PathBuf::from).unwrap_or_else(|| root.join("models/manifest.toml"));
        let ort_lib = std::env::var_os(ENV_ORT_LIB)
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(crate::infer::runtime::DEFAULT_ORT_LIB));
        let data = std::env::var_os(ENV_DATA).map(PathBuf::from).unwrap_or_else(|| root.join("data"));
        Paths { root, manifest, ort_lib, data }
    }
}
