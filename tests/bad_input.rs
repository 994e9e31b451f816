//! Bad input never panics: truncated files, non-media files, unknown codecs, missing tracks, missing or corrupt
//! models all give a clear error or evidence marked missing, and nothing decoded before an error is lost.

mod common;

use facereview::infer::{InferError, Manifest, Runtime};
use facereview::media::{DecodeOptions, Decoder, MediaError};
use facereview::replay::{self, ReplayError, ReplayOptions, report::Status};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fr-bad-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_non_media_file_is_a_clear_error() {
    let err = Decoder::open(&common::stream("not_media.webm"), DecodeOptions::default()).err().expect("error");
    assert!(matches!(err, MediaError::NotMedia { .. }), "{err}");
    assert!(err.to_string().contains("not a media file"), "{err}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err = Decoder::open(std::path::Path::new("/nonexistent/call.webm"), DecodeOptions::default()).err().unwrap();
    assert!(matches!(err, MediaError::Open { .. }), "{err}");
}

#[test]
fn an_unknown_codec_names_what_is_missing() {
    let bytes = std::fs::read(common::stream("live_two_speakers.webm")).unwrap();
    let patched = replace_once(&replace_once(&bytes, b"V_VP8", b"V_QQ8"), b"A_OPUS", b"A_QQUS");
    let p = tmp("codec").join("unknown_codec.webm");
    std::fs::write(&p, patched).unwrap();
    let err = Decoder::open(&p, DecodeOptions::default()).err().expect("error");
    assert!(matches!(err, MediaError::UnsupportedCodec { .. }), "{err}");
    assert!(err.to_string().contains("x-unknown"), "{err}");
}

fn replace_once(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let i = hay.windows(from.len()).position(|w| w == from).expect("pattern present");
    let mut v = hay.to_vec();
    v[i..i + from.len()].copy_from_slice(to);
    v
}

#[test]
fn a_truncated_file_keeps_what_was_decoded() {
    let rt = common::runtime();
    let r = replay::run(&common::stream("truncated.webm"), &rt, &ReplayOptions::default()).expect("report");
    // The file claims 30 s but holds ~12 s: evidence covers the decoded part, nothing is invented past it.
    assert!(r.decode.video_frames > 200, "frames {}", r.decode.video_frames);
    let last = r.evidence.faces.samples.last().expect("face samples").t.as_secs_f64();
    assert!(last > 8.0 && last < 13.0, "last sample at {last}");
    assert!(r.decode.audio_seconds > 8.0 && r.decode.audio_seconds < 13.0, "{}", r.decode.audio_seconds);
}

#[test]
fn a_stream_without_audio_marks_audio_evidence_missing() {
    let rt = common::runtime();
    let r = replay::run(&common::stream("no_audio.webm"), &rt, &ReplayOptions::default()).expect("report");
    assert!(matches!(r.evidence.speech.status, Status::Missing { .. }), "{:?}", r.evidence.speech.status);
    assert!(matches!(r.evidence.voice.status, Status::Missing { .. }));
    assert_eq!(r.evidence.faces.status, Status::Available);
    assert!(r.evidence.faces.face_present_ratio > 0.5);
}

#[test]
fn a_stream_without_video_marks_video_evidence_missing() {
    let rt = common::runtime();
    let r = replay::run(&common::stream("no_video.webm"), &rt, &ReplayOptions::default()).expect("report");
    for s in [&r.evidence.faces.status, &r.evidence.mesh.status, &r.evidence.identity.status, &r.evidence.text.status] {
        assert!(matches!(s, Status::Missing { .. }), "{s:?}");
    }
    assert_eq!(r.evidence.speech.status, Status::Available);
    assert!(!r.evidence.speech.segments.is_empty());
}

/// A manifest whose `face_mesh` entry points at a corrupt copy (with a matching sha256, so only loading fails).
fn manifest_with_corrupt_mesh(dir: &std::path::Path) -> Manifest {
    let root = common::root();
    let text = std::fs::read_to_string(root.join("models/manifest.toml")).unwrap();
    let garbage = b"this is not an onnx model".repeat(10);
    std::fs::write(dir.join("corrupt.onnx"), &garbage).unwrap();
    let sha = facereview::infer::manifest::sha256_file(&dir.join("corrupt.onnx")).unwrap();
    let models = root.join("models");
    let mut out = String::new();
    let mut in_mesh = false;
    for line in text.lines() {
        if line.starts_with("id = ") {
            in_mesh = line == "id = \"face_mesh\"";
        }
        let line = if let Some(rest) = line.strip_prefix("file = \"") {
            if in_mesh {
                format!("file = \"{}\"", dir.join("corrupt.onnx").display())
            } else {
                format!("file = \"{}/{}", models.display(), rest)
            }
        } else if in_mesh && line.starts_with("sha256 = ") {
            format!("sha256 = \"{sha}\"")
        } else if in_mesh && line.starts_with("bytes = ") {
            format!("bytes = {}", garbage.len())
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(dir.join("manifest.toml"), out).unwrap();
    Manifest::load(&dir.join("manifest.toml")).unwrap()
}

#[test]
fn a_corrupt_model_is_an_error_naming_it_or_unavailable_evidence() {
    let dir = tmp("corrupt");
    let manifest = manifest_with_corrupt_mesh(&dir);
    let lib = facereview::config::Paths::with_root(common::root()).ort_lib;
    let rt = Runtime::new(&lib, manifest).unwrap();
    let err = rt.load("face_mesh").err().expect("corrupt model fails");
    assert!(matches!(err, InferError::BadFile { .. }), "{err}");
    assert!(err.to_string().contains("face_mesh"), "{err}");

    // Replay refuses by default, naming the model ...
    let stream = common::stream("webcam_h264.mkv");
    let e = replay::run(&stream, &rt, &ReplayOptions::default()).expect_err("refused");
    assert!(matches!(e, ReplayError::Model(_)) && e.to_string().contains("face_mesh"), "{e}");
    // ... or, when asked to go on, marks the mesh unavailable and keeps the rest.
    let opts = ReplayOptions { require_models: false, ..Default::default() };
    let r = replay::run(&stream, &rt, &opts).expect("report");
    assert!(matches!(r.evidence.mesh.status, Status::Unavailable { .. }), "{:?}", r.evidence.mesh.status);
    assert_eq!(r.evidence.faces.status, Status::Available);
    assert!(r.models.iter().any(|m| m.id == "face_mesh" && m.state.starts_with("unavailable")));
}

#[test]
fn a_missing_model_file_names_it() {
    let dir = tmp("missing");
    let root = common::root();
    let text = std::fs::read_to_string(root.join("models/manifest.toml")).unwrap();
    // Point every file at an empty folder.
    std::fs::write(dir.join("manifest.toml"), text).unwrap();
    let manifest = Manifest::load(&dir.join("manifest.toml")).unwrap();
    let lib = facereview::config::Paths::with_root(root).ort_lib;
    let rt = Runtime::new(&lib, manifest).unwrap();
    let err = rt.load("scene").err().unwrap();
    assert!(matches!(err, InferError::Missing { .. }) && err.to_string().contains("`scene`"), "{err}");
}

#[test]
fn dropping_a_decoder_mid_stream_does_not_hang() {
    let path = common::stream("live_two_speakers.webm");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut d = Decoder::open(&path, DecodeOptions { queue: 1, ..Default::default() }).unwrap();
        let _ = d.next_event();
        std::thread::sleep(std::time::Duration::from_millis(200)); // let the streaming threads block on the channel
        drop(d);
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(30)).expect("decoder dropped within 30 s");
}
