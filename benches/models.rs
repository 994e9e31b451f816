//! Latency per model at the shapes the pipeline uses, on real inputs (astronaut.png, sample.wav).
//! Run: `cargo bench --bench models`. Results go to BENCHMARKS.md with the machine named.

use criterion::{Criterion, criterion_group, criterion_main};
use facereview::analysis::image::{Rect, load_image};
use facereview::config::Paths;
use facereview::infer::models::{
    blazeface::BlazeFace, expression::ExpressionClassifier, face_embed::FaceEmbedder, face_mesh::FaceMesh,
    objects::ObjectDetector, ocr::Ocr, scene::SceneClassifier, segmentation::SelfieSegmenter, vad::SileroVad,
    voice::VoiceEmbedder,
};
use facereview::infer::{Manifest, Runtime};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn runtime() -> Option<(Runtime, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let paths = Paths::with_root(root.clone());
    let manifest = Manifest::load(&paths.manifest).ok()?;
    match Runtime::new(&paths.ort_lib, manifest) {
        Ok(rt) => Some((rt, root)),
        Err(e) => {
            eprintln!("skipping model benches: {e}");
            None
        }
    }
}

fn models(c: &mut Criterion) {
    let Some((rt, root)) = runtime() else { return };
    let media = root.join("testdata/media");
    let Ok(img) = load_image(&media.join("astronaut.png")) else {
        eprintln!("skipping: run scripts/setup.sh to fetch test media");
        return;
    };
    let sign = load_image(&media.join("scenetext01.jpg")).ok();
    let mut g = c.benchmark_group("model");
    g.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));

    let mut det = BlazeFace::load(&rt).expect("blazeface");
    let faces = det.detect(&img).expect("detect");
    let face = faces.first().cloned().expect("a face in astronaut.png");
    g.bench_function("blazeface_256 (512x512 frame)", |b| b.iter(|| black_box(det.detect(&img).ok())));

    let mut mesh = FaceMesh::load(&rt).expect("face_mesh");
    g.bench_function("face_mesh_192", |b| b.iter(|| black_box(mesh.landmarks(&img, &face).ok())));

    let mut expr = ExpressionClassifier::load(&rt).expect("expression");
    g.bench_function("expression_64", |b| b.iter(|| black_box(expr.classify(&img, &face.bbox).ok())));

    let mut emb = FaceEmbedder::load(&rt).expect("mobilefacenet");
    g.bench_function("mobilefacenet_112", |b| b.iter(|| black_box(emb.embed(&img, &face).ok())));

    let mut seg = SelfieSegmenter::load(&rt).expect("selfie_segmentation");
    g.bench_function("selfie_segmentation_256", |b| b.iter(|| black_box(seg.person_mask(&img).ok())));

    let mut scene = SceneClassifier::load(&rt).expect("scene");
    g.bench_function("scene_efficientnet_lite0_224", |b| b.iter(|| black_box(scene.classify(&img, 5).ok())));

    let mut obj = ObjectDetector::load(&rt).expect("centernet");
    g.bench_function("centernet_512", |b| b.iter(|| black_box(obj.detect(&img).ok())));

    if let Some(sign) = &sign {
        let mut ocr = Ocr::load(&rt).expect("ocr");
        g.bench_function("ocr_det_rec (scenetext01.jpg)", |b| b.iter(|| black_box(ocr.read(sign).ok())));
    }
    let _ = Rect::default();

    // Audio: one second of real speech.
    let wav = std::fs::read(media.join("sample.wav")).unwrap_or_default();
    let samples: Vec<f32> = wav
        .get(44..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect();
    if samples.len() > 16_000 * 12 {
        let second = &samples[16_000 * 10..16_000 * 11];
        let mut vad = SileroVad::load(&rt).expect("silero_vad");
        g.bench_function("silero_vad (1 s of audio, 31 steps)", |b| b.iter(|| black_box(vad.push(second).ok())));
        let mut voice = VoiceEmbedder::load(&rt).expect("voice_embedding");
        let three = &samples[16_000 * 10..16_000 * 13];
        g.bench_function("voice_embedding (3 s of speech)", |b| b.iter(|| black_box(voice.embed(three).ok())));
    }
    g.finish();
}

criterion_group!(benches, models);
criterion_main!(benches);
