//! `models/manifest.toml`: what each model is, where it came from, and the signature the loader checks.
//!
//! Pure parsing and file checks (sha256, size); no ONNX Runtime here.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read model manifest {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("model manifest {path} is malformed: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("model manifest lists model id `{0}` twice")]
    DuplicateId(String),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    I64,
    I32,
    U8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    /// `-1` marks a dynamic dimension.
    pub shape: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub registry: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub file_sha256: Option<String>,
    pub path: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    AsShipped,
    Converted,
    OperatorSupplied,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub task: String,
    /// Relative to the models directory.
    pub file: String,
    /// Expected sha256 of the file; operator-supplied models may leave it empty (then it is printed, not checked).
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub bytes: Option<u64>,
    pub origin: Origin,
    pub licence: String,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub convert_script: Option<String>,
    #[serde(default)]
    pub source: Option<Source>,
    /// The feature front end the model takes, for models whose wrapper supports more than one (today
    /// `voice_embedding`: `resemblyzer_mel40`, the default when absent, `kaldi_fbank80` or `kaldi_fbank80_hamming`;
    /// see `infer::models::voice`). Other wrappers ignore it.
    #[serde(default)]
    pub frontend: Option<String>,
    pub preprocess: String,
    pub postprocess: String,
    #[serde(default)]
    pub verified: Option<String>,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    schema: u32,
    #[serde(default, rename = "model")]
    models: Vec<ModelSpec>,
}

/// The parsed manifest plus the sha256 of its bytes (recorded with every result it produced).
#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: PathBuf,
    pub models_dir: PathBuf,
    pub sha256: String,
    pub models: Vec<ModelSpec>,
}

impl Manifest {
    /// Loads a manifest; model files are resolved relative to the manifest's folder.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Read { path: path.to_owned(), source })?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|e| ManifestError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let raw: RawManifest = toml::from_str(&text)
            .map_err(|e| ManifestError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let mut seen = std::collections::BTreeSet::new();
        for m in &raw.models {
            if !seen.insert(m.id.clone()) {
                return Err(ManifestError::DuplicateId(m.id.clone()));
            }
        }
        Ok(Manifest {
            path: path.to_owned(),
            models_dir: path.parent().map(Path::to_owned).unwrap_or_default(),
            sha256: hex(&Sha256::digest(&bytes)),
            models: raw.models,
        })
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn file_path(&self, spec: &ModelSpec) -> PathBuf {
        self.models_dir.join(&spec.file)
    }
}

/// What a check of a model file on disk found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileStatus {
    Ok {
        sha256: String,
        bytes: u64,
    },
    Missing,
    Unreadable {
        message: String,
    },
    WrongSize {
        expected: u64,
        got: u64,
    },
    WrongHash {
        expected: String,
        got: String,
    },
    /// An operator-supplied model with no pinned hash: present, hash printed for the operator to pin.
    Unpinned {
        sha256: String,
        bytes: u64,
    },
}

impl FileStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, FileStatus::Ok { .. } | FileStatus::Unpinned { .. })
    }
}

/// Checks that a model's file exists with the manifest's size and sha256.
pub fn check_file(path: &Path, spec: &ModelSpec) -> FileStatus {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileStatus::Missing,
        Err(e) => {
            return FileStatus::Unreadable { message: e.to_string() };
        }
    };
    if let Some(expected) = spec.bytes
        && expected != meta.len()
    {
        return FileStatus::WrongSize { expected, got: meta.len() };
    }
    let got = match sha256_file(path) {
        Ok(h) => h,
        Err(e) => {
            return FileStatus::Unreadable { message: e.to_string() };
        }
    };
    if spec.sha256.is_empty() {
        return FileStatus::Unpinned { sha256: got, bytes: meta.len() };
    }
    if !got.eq_ignore_ascii_case(&spec.sha256) {
        return FileStatus::WrongHash { expected: spec.sha256.clone(), got };
    }
    FileStatus::Ok { sha256: got, bytes: meta.len() }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
schema = 1
[[model]]
id = "m"
task = "vad"
file = "m.onnx"
sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
bytes = 3
origin = "as-shipped"
licence = "MIT"
preprocess = "none"
postprocess = "none"
[[model.inputs]]
name = "x"
dtype = "f32"
shape = [-1, 3]
[[model.outputs]]
name = "y"
dtype = "f32"
shape = [-1, 1]
"#;

    #[test]
    fn loads_and_checks_hash_and_size() {
        let dir = std::env::temp_dir().join(format!("fr-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("manifest.toml"), ONE).unwrap();
        let m = Manifest::load(&dir.join("manifest.toml")).unwrap();
        let spec = m.get("m").unwrap();
        assert_eq!(check_file(&m.file_path(spec), spec), FileStatus::Missing);
        std::fs::write(dir.join("m.onnx"), b"foo").unwrap();
        assert!(check_file(&m.file_path(spec), spec).is_ok());
        std::fs::write(dir.join("m.onnx"), b"bar").unwrap();
        assert!(matches!(check_file(&m.file_path(spec), spec), FileStatus::WrongHash { .. }));
        std::fs::write(dir.join("m.onnx"), b"barx").unwrap();
        assert!(matches!(check_file(&m.file_path(spec), spec), FileStatus::WrongSize { expected: 3, got: 4 }));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rejects_unknown_fields_and_duplicates() {
        let dir = std::env::temp_dir().join(format!("fr-manifest-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("manifest.toml");
        std::fs::write(&p, ONE.replace("licence", "licence_typo")).unwrap();
        assert!(matches!(Manifest::load(&p), Err(ManifestError::Parse { .. })));
        let twice = format!("{ONE}{}", &ONE[ONE.find("[[model]]").unwrap()..]);
        std::fs::write(&p, twice).unwrap();
        assert!(matches!(Manifest::load(&p), Err(ManifestError::DuplicateId(_))));
        std::fs::remove_dir_all(&dir).ok();
    }
}
