//! Shared test helpers: the runtime over the project's real manifest, and paths to fetched test media.
#![allow(dead_code)]

use facereview::analysis::image::{RgbFrame, load_image};
use facereview::config::Paths;
use facereview::infer::{Manifest, ModelSpec, Runtime};
use facereview::media::{DecodeOptions, Decoder, MediaEvent};
use std::path::{Path, PathBuf};

pub mod server;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The runtime with the real ONNX Runtime library and manifest. Panics with the set-up hint when missing: tests
/// need the README's set-up to have run.
pub fn runtime() -> Runtime {
    let paths = Paths::with_root(root());
    let manifest = Manifest::load(&paths.manifest).expect("models/manifest.toml");
    Runtime::new(&paths.ort_lib, manifest).expect("ONNX Runtime library (run the README's set-up first)")
}

/// A file fetched by the set-up into testdata/media.
pub fn media(name: &str) -> PathBuf {
    let p = root().join("testdata/media").join(name);
    assert!(p.exists(), "{} is missing: run the README's set-up (scripts/setup.sh)", p.display());
    p
}

/// A stream built by the set-up into testdata/streams.
pub fn stream(name: &str) -> PathBuf {
    let p = root().join("testdata/streams").join(name);
    assert!(p.exists(), "{} is missing: run the README's set-up (scripts/setup.sh)", p.display());
    p
}

/// A file from ../shared/testmedia (read there, never copied into the project).
pub fn shared(rel: &str) -> PathBuf {
    let p = root().join("../shared/testmedia").join(rel);
    assert!(p.exists(), "{} is missing (the shared test media folder beside the checkout)", p.display());
    p
}

pub fn image(name: &str) -> RgbFrame {
    load_image(&media(name)).expect("decodable test image")
}

/// Speaker turns of sample.wav from its .rttm: (speaker, start s, end s).
pub fn rttm() -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(media("sample.rttm")).expect("rttm");
    text.lines()
        .filter(|l| l.starts_with("SPEAKER"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let start: f64 = f[3].parse().expect("onset");
            let dur: f64 = f[4].parse().expect("duration");
            (f[7].to_owned(), start, start + dur)
        })
        .collect()
}

/// A fresh folder under the system temp dir, unique to this process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fr-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[derive(serde::Serialize)]
struct ManifestFile {
    schema: u32,
    model: Vec<ModelSpec>,
}

/// Writes a one-model manifest into `dir` (model files resolve relative to `dir`) and opens a runtime over it with
/// the project's ONNX Runtime library.
pub fn runtime_with(dir: &Path, spec: ModelSpec) -> Runtime {
    let text = toml::to_string(&ManifestFile { schema: 1, model: vec![spec] }).expect("serialisable manifest");
    let path = dir.join("manifest.toml");
    std::fs::write(&path, text).expect("write manifest");
    let manifest = Manifest::load(&path).expect("temporary manifest loads");
    let lib = Paths::with_root(root()).ort_lib;
    Runtime::new(&lib, manifest).expect("ONNX Runtime library (run the README's set-up first)")
}

/// Decodes a fetched media file's audio track (16 kHz mono f32).
pub fn decode_audio(name: &str) -> Vec<f32> {
    let mut dec = Decoder::open(&media(name), DecodeOptions::default()).expect("decodable");
    let mut out = Vec::new();
    while let Some(ev) = dec.next_event().expect("decode") {
        if let MediaEvent::Audio(chunk) = ev {
            out.extend_from_slice(&chunk.samples);
        }
    }
    out
}
