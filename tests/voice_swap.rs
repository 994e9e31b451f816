//! The voice model is swappable through the manifest: an fbank-based model (WeSpeaker / CAM++ style, `[1, T, 80]`
//! Kaldi fbank -> `[1, D]`) is dropped in by editing the `voice_embedding` entry only (`frontend`, file, sha256,
//! inputs/outputs). Uses the generated fixture `tests/fixtures/voice_fbank_fixture.onnx`
//! (`models/convert/make_voice_fbank_fixture.py`: embedding = mean over time of feats^2 @ W, W[b, j] =
//! cos(0.37 (b + 1)(j + 1) + 0.11 j)), so the expected embedding can be recomputed here from the features.

mod common;

use common::{decode_audio, runtime_with, temp_dir};

use facereview::analysis::audio::{FbankFrontend, FbankWindow, N_FBANK, SAMPLE_RATE};
use facereview::config::Paths;
use facereview::infer::manifest::{DType, Origin, TensorSpec, sha256_file};
use facereview::infer::models::Embedding;
use facereview::infer::models::voice::{self, Frontend, VoiceEmbedder};
use facereview::infer::{InferError, Manifest, ModelSpec, Runtime};
use std::path::Path;

const FIXTURE: &str = "voice_fbank_fixture.onnx";
const FIXTURE_DIM: usize = 192;

fn tensor(name: &str, shape: &[i64]) -> TensorSpec {
    TensorSpec { name: name.to_owned(), dtype: DType::F32, shape: shape.to_vec() }
}

/// The real manifest's `voice_embedding` entry as an operator would edit it for the fixture: another file and hash,
/// the given `frontend`, input `feats` `[-1, -1, in_dim]`, output `embedding` `[-1, 192]`, no thresholds.
fn fbank_spec(dir: &Path, frontend: Option<&str>, in_dim: i64) -> ModelSpec {
    std::fs::copy(common::root().join("tests/fixtures").join(FIXTURE), dir.join(FIXTURE)).expect("copy fixture");
    let real = Manifest::load(&Paths::with_root(common::root()).manifest).expect("models/manifest.toml");
    let mut spec = real.get(voice::MODEL_ID).expect("voice_embedding in the manifest").clone();
    spec.file = FIXTURE.to_owned();
    spec.sha256 = sha256_file(&dir.join(FIXTURE)).expect("readable fixture");
    spec.bytes = Some(std::fs::metadata(dir.join(FIXTURE)).expect("fixture").len());
    spec.origin = Origin::OperatorSupplied;
    spec.convert_script = None;
    spec.source = None;
    spec.verified = None;
    spec.frontend = frontend.map(str::to_owned);
    spec.preprocess = "80-dim Kaldi fbank with per-utterance mean normalisation -> feats [1,T,80]".to_owned();
    spec.postprocess = "embedding [1,192], L2-normalised by the adapter".to_owned();
    spec.inputs = vec![tensor("feats", &[-1, -1, in_dim])];
    spec.outputs = vec![tensor("embedding", &[-1, FIXTURE_DIM as i64])];
    spec.thresholds.clear();
    spec
}

/// What the fixture should give for `samples` through the adapter's front end: the formula of its generator.
fn fixture_formula(samples: &[f32], window: FbankWindow) -> Embedding {
    let feats = FbankFrontend::new(window).features(samples);
    let mut energy = [0.0f64; N_FBANK];
    for frame in &feats {
        energy.iter_mut().zip(frame).for_each(|(e, &v)| *e += f64::from(v) * f64::from(v));
    }
    energy.iter_mut().for_each(|e| *e /= feats.len() as f64);
    let out: Vec<f32> = (0..FIXTURE_DIM)
        .map(|j| {
            let sum: f64 = energy
                .iter()
                .enumerate()
                .map(|(b, e)| {
                    let w = (0.37 * (b + 1) as f64 * (j + 1) as f64 + 0.11 * j as f64).cos() as f32;
                    e * f64::from(w)
                })
                .sum();
            sum as f32
        })
        .collect();
    Embedding::normalised(out).expect("non-degenerate formula embedding")
}

fn load_err(rt: &Runtime) -> String {
    let err = VoiceEmbedder::load(rt).err().expect("the entry must not load");
    assert!(matches!(err, InferError::Signature { ref id, .. } if id == voice::MODEL_ID), "{err}");
    err.to_string()
}

#[test]
fn an_fbank_model_drops_in_through_the_manifest() {
    let cate = decode_audio("cate_blanch.mp3");
    let heath = decode_audio("heath_ledger.mp3");
    for (name, frontend, window) in [
        ("kaldi_fbank80", Frontend::KaldiFbank80, FbankWindow::Povey),
        ("kaldi_fbank80_hamming", Frontend::KaldiFbank80Hamming, FbankWindow::Hamming),
    ] {
        let dir = temp_dir(name);
        let rt = runtime_with(&dir, fbank_spec(&dir, Some(name), 80));
        let mut emb = VoiceEmbedder::load(&rt).expect("fixture loads");
        assert_eq!(emb.frontend(), frontend);
        assert_eq!(emb.dim(), FIXTURE_DIM);

        let a = emb.embed(&cate).expect("run").expect("embedding");
        assert_eq!(a.0.len(), FIXTURE_DIM);
        let norm = a.0.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{name}: norm {norm}");
        // The whole piece went in as one [1, T, 80] input, time-major, mean-normalised.
        let want = fixture_formula(&cate, window);
        let worst = a.0.iter().zip(&want.0).map(|(g, w)| (g - w).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{name}: max |diff| to the fixture's formula {worst}");

        let again = emb.embed(&cate).expect("run").expect("embedding");
        assert_eq!(again, a, "{name}: same audio, same embedding");
        let b = emb.embed(&heath).expect("run").expect("embedding");
        let cos = a.cosine(&b);
        assert!(cos < 0.999, "{name}: different audio gives cosine {cos}");
        let want_b = fixture_formula(&heath, window);
        assert!((cos - want.cosine(&want_b)).abs() < 1e-4, "{name}: cosine {cos} vs formula {}", want.cosine(&want_b));
        eprintln!("{name}: formula max |diff| {worst:e}; cate/heath cosine {cos:.4}");

        // The embed contract is unchanged: short or silent input gives none, non-finite input is an error.
        let min = (voice::MIN_SECONDS * SAMPLE_RATE as f32) as usize;
        assert!(emb.embed(&cate[..min - 1]).expect("short").is_none());
        assert!(emb.embed(&cate[..min]).expect("just long enough").is_some());
        assert!(emb.embed(&vec![0.0; 2 * SAMPLE_RATE as usize]).expect("silence").is_none());
        let mut bad = cate[..SAMPLE_RATE as usize].to_vec();
        bad[10] = f32::NAN;
        assert!(emb.embed(&bad).is_err());
        // Resemblyzer windows are not this model's input.
        assert!(emb.prepare(&cate).is_empty());
        assert!(emb.embed_windows(&[vec![[0.0; 40]; 160]]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn an_input_width_that_disagrees_with_the_frontend_fails_to_load() {
    // kaldi_fbank80 with a 40-wide input.
    let dir = temp_dir("width40");
    let msg = load_err(&runtime_with(&dir, fbank_spec(&dir, Some("kaldi_fbank80"), 40)));
    assert!(msg.contains("voice_embedding") && msg.contains("kaldi_fbank80") && msg.contains("must be 80"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
    // No frontend (= resemblyzer_mel40) on the 80-wide fixture.
    let dir = temp_dir("default80");
    let msg = load_err(&runtime_with(&dir, fbank_spec(&dir, None, 80)));
    assert!(msg.contains("resemblyzer_mel40") && msg.contains("must be 40"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
    // An output without a fixed size.
    let dir = temp_dir("dynamic-dim");
    let mut spec = fbank_spec(&dir, Some("kaldi_fbank80"), 80);
    spec.outputs = vec![tensor("embedding", &[-1, -1])];
    let msg = load_err(&runtime_with(&dir, spec));
    assert!(msg.contains("fixed D"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_frontend_fails_to_load_naming_the_known_ones() {
    let dir = temp_dir("unknown");
    let msg = load_err(&runtime_with(&dir, fbank_spec(&dir, Some("mfcc13"), 80)));
    for part in ["voice_embedding", "`mfcc13`", "resemblyzer_mel40", "kaldi_fbank80", "kaldi_fbank80_hamming"] {
        assert!(msg.contains(part), "`{part}` not in: {msg}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_shipped_model_is_resemblyzer_with_or_without_the_frontend_line() {
    let real = Manifest::load(&Paths::with_root(common::root()).manifest).expect("models/manifest.toml");
    let spec = real.get(voice::MODEL_ID).expect("voice_embedding").clone();
    assert_eq!(spec.frontend.as_deref(), Some("resemblyzer_mel40"));
    let samples = decode_audio("cate_blanch.mp3");
    let mut embeddings = Vec::new();
    for (name, frontend) in [("named", Some("resemblyzer_mel40")), ("absent", None)] {
        let dir = temp_dir(name);
        let mut s = spec.clone();
        s.file = real.file_path(&spec).to_string_lossy().into_owned();
        s.frontend = frontend.map(str::to_owned);
        let rt = runtime_with(&dir, s);
        let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
        assert_eq!(emb.frontend(), Frontend::ResemblyzerMel40);
        assert_eq!(emb.dim(), voice::DIM);
        assert_eq!(emb.window_frames(), 160);
        embeddings.push(emb.embed(&samples).expect("run").expect("embedding"));
        std::fs::remove_dir_all(&dir).ok();
    }
    assert_eq!(embeddings[0], embeddings[1], "the default front end is the named one, bit for bit");
    let mut emb = VoiceEmbedder::load(&common::runtime()).expect("voice_embedding");
    assert_eq!(emb.embed(&samples).expect("run").expect("embedding"), embeddings[0]);
}
