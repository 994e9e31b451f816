//! The decision logic is pure: the sampling policy, analysis prep, checks, location and fusion take inputs and
//! media time as arguments. They may not reach GStreamer, ONNX Runtime, tokio or a clock.

use std::path::{Path, PathBuf};

const PURE: &[&str] = &[
    "src/adapt",
    "src/analysis",
    "src/checks",
    "src/location",
    "src/fusion",
    "src/observations.rs",
    "src/interview.rs",
    "src/types.rs",
];

const FORBIDDEN: &[&str] = &[
    "gstreamer",
    "gst::",
    "ort::",
    "use ort",
    "tokio",
    "Instant::now",
    "SystemTime",
    "std::time::Instant",
    "chrono",
    "std::thread::sleep",
];

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            rust_files(&e.path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_owned());
    }
}

#[test]
fn pure_modules_import_no_gstreamer_ort_tokio_or_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for p in PURE {
        rust_files(&root.join(p), &mut files);
    }
    assert!(files.len() >= 10, "found only {} files: is the layout right?", files.len());
    let mut offences = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in FORBIDDEN {
                if code.contains(bad) {
                    offences.push(format!("{}:{}: `{bad}` in: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "pure modules reach impure code:\n{}", offences.join("\n"));
}

#[test]
fn the_purity_scan_would_catch_an_offence() {
    let sample = "use gstreamer as gst;\nlet t = std::time::Instant::now();";
    let hits: Vec<_> = FORBIDDEN.iter().filter(|b| sample.contains(*b)).collect();
    assert!(hits.len() >= 2);
}
