//! Decode + prep per frame, and whole-file replay throughput (media seconds per wall second).
//! Run: `cargo bench --bench pipeline`. Results go to BENCHMARKS.md with the machine named.

use criterion::{Criterion, criterion_group, criterion_main};
use facereview::analysis::image::{Affine, Channels, to_nhwc, warp};
use facereview::config::Paths;
use facereview::infer::{Manifest, Runtime};
use facereview::media::{DecodeOptions, Decoder, MediaEvent};
use facereview::replay::{self, ReplayOptions};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Decodes the whole stream and returns the number of video frames (RGB conversion included).
fn decode_all(path: &std::path::Path) -> u64 {
    let mut d = Decoder::open(path, DecodeOptions::default()).expect("decodable stream");
    let mut frames = 0;
    while let Ok(Some(ev)) = d.next_event() {
        if let MediaEvent::Video(_) = ev {
            frames += 1;
        }
    }
    frames
}

fn pipeline(c: &mut Criterion) {
    let stream = root().join("testdata/streams/live_two_speakers.webm");
    if !stream.exists() {
        eprintln!("skipping: run scripts/setup.sh to build the test streams");
        return;
    }
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).measurement_time(Duration::from_secs(10)).warm_up_time(Duration::from_millis(500));
    g.bench_function("decode 30 s VP8 352x288 + Opus to RGB/16 kHz (whole file)", |b| {
        b.iter(|| black_box(decode_all(&stream)))
    });

    // Prep of one frame for the detector: letterbox warp + NHWC normalisation.
    let mut d = Decoder::open(&stream, DecodeOptions::default()).expect("stream");
    let frame = loop {
        match d.next_event() {
            Ok(Some(MediaEvent::Video(f))) => break f.image,
            Ok(Some(_)) => continue,
            _ => panic!("no video frame"),
        }
    };
    drop(d);
    g.bench_function("prep: letterbox 352x288 -> 256x256 + normalise", |b| {
        b.iter(|| {
            let m = Affine::letterbox(frame.width, frame.height, 256, 256);
            let img = warp(&frame, 256, 256, &m);
            let mut v = Vec::with_capacity(256 * 256 * 3);
            to_nhwc(&img, Channels::Rgb, |x| x / 127.5 - 1.0, &mut v);
            black_box(v)
        })
    });
    g.finish();

    let paths = Paths::with_root(root());
    let Ok(manifest) = Manifest::load(&paths.manifest) else { return };
    let Ok(rt) = Runtime::new(&paths.ort_lib, manifest) else {
        eprintln!("skipping replay bench: ONNX Runtime missing");
        return;
    };
    let mut g = c.benchmark_group("replay");
    g.sample_size(10).measurement_time(Duration::from_secs(60)).warm_up_time(Duration::from_millis(100));
    let opts = ReplayOptions::default();
    g.bench_function("replay 30 s stream, all models", |b| {
        b.iter(|| {
            let r = replay::run(&stream, &rt, &opts).expect("replay");
            black_box(r.decode.speed)
        })
    });
    g.finish();

    // Checks + fusion over one observed 30 s session (the models ran once, outside the timing).
    let observed = replay::observe(&stream, &rt, &opts).expect("observe");
    let root = root();
    let session: facereview::interview::Interview = serde_json::from_str(
        &std::fs::read_to_string(root.join("testdata/sessions/second_speaker.json")).expect("session file"),
    )
    .expect("session");
    let pois = facereview::location::PoiIndex::from_osm_pbf(root.join("testdata/media/Helsinki.osm.pbf")).ok();
    let policy = facereview::fusion::Policy::load(root.join("policy/default.toml")).expect("policy");
    let cfg = facereview::checks::ChecksConfig::default();
    let mut g = c.benchmark_group("review");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.bench_function("checks + fusion, 30 s session", |b| {
        b.iter(|| {
            let ev = facereview::checks::evaluate_all(&observed.obs, &session, pois.as_ref(), &cfg);
            black_box(facereview::fusion::decide(&ev, &policy, "bench"))
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
