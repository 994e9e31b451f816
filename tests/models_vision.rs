//! The vision model wrappers on real images: expression, CenterNet objects, EfficientNet scene classes and
//! categories, and the optional anti-spoof adapter (through a generated fixture model). Reference numbers are from
//! `models/convert/NOTES-tfjs.md` and `NOTES-torch.md` (the original runtimes).

mod common;

use common::{runtime_with, temp_dir};

use facereview::analysis::image::{Rect, RgbFrame, load_image};
use facereview::config::Paths;
use facereview::infer::manifest::sha256_file;
use facereview::infer::models::antispoof::AntiSpoof;
use facereview::infer::models::blazeface::BlazeFace;
use facereview::infer::models::expression::{ExpressionClassifier, LABELS};
use facereview::infer::models::objects::ObjectDetector;
use facereview::infer::models::scene::SceneClassifier;
use facereview::infer::{InferError, Manifest, ModelSpec, Runtime};
use std::path::{Path, PathBuf};

/// The astronaut's face in astronaut.png (NOTES-tfjs.md: crop x 165..280, y 70..185).
const ASTRONAUT_FACE: Rect = Rect { x: 165.0, y: 70.0, w: 115.0, h: 115.0 };

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Rect {
    Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
}

/// The real manifest's entry for `id`, pointed at `file` (relative to the new manifest's folder, or absolute) with
/// that file's sha256 and size.
fn spec_for(id: &str, dir: &Path, file: &str) -> ModelSpec {
    let real = Manifest::load(&Paths::with_root(common::root()).manifest).expect("models/manifest.toml");
    let mut spec = real.get(id).expect("model in the manifest").clone();
    let path = dir.join(file);
    spec.file = file.to_owned();
    spec.sha256 = sha256_file(&path).expect("readable model file");
    spec.bytes = Some(std::fs::metadata(&path).expect("model file").len());
    spec
}

// ---- expression -------------------------------------------------------------------------------------------------

#[test]
fn expression_reads_the_astronaut_as_happy() {
    let rt = common::runtime();
    let mut model = ExpressionClassifier::load(&rt).expect("expression model");
    let img = common::image("astronaut.png");
    let p = model.classify(&img, &ASTRONAUT_FACE).expect("classify");
    let sum: f32 = p.probs.iter().sum();
    assert!((sum - 1.0).abs() < 1e-3, "already a softmax, sums to {sum}");
    let (label, prob) = p.top();
    assert_eq!(label, "happy", "{p:?}");
    // The TF original gives 0.999967 on this crop.
    assert!(prob > 0.99, "p(happy) = {prob}");
}

#[test]
fn expression_matches_the_reference_on_non_face_crops() {
    // NOTES-tfjs.md, TF original with a Pillow bilinear resize. Off-face crops are where the model is least sure,
    // so they show preprocessing errors (a wrong scaling moves chelsea's mass to "neutral").
    let rt = common::runtime();
    let mut model = ExpressionClassifier::load(&rt).expect("expression model");
    let cases = [
        (
            "coffee.png",
            rect(100.0, 0.0, 500.0, 400.0),
            [0.025616, 0.0, 0.000260, 0.950576, 0.008519, 0.001046, 0.013982],
        ),
        (
            "chelsea.png",
            rect(75.0, 0.0, 375.0, 300.0),
            [0.267307, 0.000062, 0.135263, 0.021218, 0.316497, 0.035739, 0.223914],
        ),
    ];
    for (name, crop, want) in cases {
        let got = model.classify(&common::image(name), &crop).expect("classify");
        for (i, (g, w)) in got.probs.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 0.02, "{name} {}: {g} vs {w} ({got:?})", LABELS[i]);
        }
    }
}

#[test]
fn expression_batch_equals_single_runs() {
    let rt = common::runtime();
    let mut model = ExpressionClassifier::load(&rt).expect("expression model");
    let img = common::image("astronaut.png");
    let background = rect(360.0, 40.0, 480.0, 160.0);
    let faces = [ASTRONAUT_FACE, background, ASTRONAUT_FACE];
    let batch = model.classify_batch(&img, &faces).expect("batch");
    assert_eq!(batch.len(), 3);
    for (face, got) in faces.iter().zip(&batch) {
        let single = model.classify(&img, face).expect("single");
        for (a, b) in single.probs.iter().zip(&got.probs) {
            assert!((a - b).abs() < 1e-5, "batch {got:?} vs single {single:?}");
        }
    }
    assert_eq!(batch[0], batch[2]);
    assert!(model.classify_batch(&img, &[]).expect("empty batch").is_empty());
}

#[test]
fn expression_rejects_an_empty_face_box_with_an_error() {
    let rt = common::runtime();
    let mut model = ExpressionClassifier::load(&rt).expect("expression model");
    let img = common::image("astronaut.png");
    let err = model.classify(&img, &Rect::default()).expect_err("empty box");
    assert!(matches!(err, InferError::Input { .. }), "{err}");
    assert_eq!(LABELS[3], "happy");
}

// ---- objects (CenterNet) ----------------------------------------------------------------------------------------

#[test]
fn centernet_finds_the_astronaut_as_one_person() {
    let rt = common::runtime();
    let mut model = ObjectDetector::load(&rt).expect("centernet model");
    let img = common::image("astronaut.png");
    let dets = model.detect(&img).expect("detect");
    // Reference (TF original, 512x512 so no resize): person 0.6096 at [8.35, 8.82, 368.90, 519.55], clamped.
    let reference = rect(8.35, 8.82, 368.90, 512.0);
    let persons: Vec<_> = dets.iter().filter(|d| d.is_person()).collect();
    assert_eq!(persons.len(), 1, "{dets:?}");
    let p = persons[0];
    assert_eq!((p.class_id, p.label.as_str()), (0, "person"));
    assert!(p.bbox.iou(&reference) > 0.8, "{:?} vs {reference:?}", p.bbox);
    assert!((p.score - 0.6096).abs() < 0.01, "score {}", p.score);
    assert!(!p.is_screen());
    assert_eq!(dets.len(), 1, "score >= 0.3 leaves only the person: {dets:?}");
}

#[test]
fn centernet_sees_a_cup_and_no_person_in_coffee() {
    let rt = common::runtime();
    let mut model = ObjectDetector::load(&rt).expect("centernet model");
    let img = common::image("coffee.png");
    assert_eq!((img.width, img.height), (600, 400));
    let dets = model.detect(&img).expect("detect");
    assert!(dets.iter().all(|d| !d.is_person()), "{dets:?}");
    // Reference: cup (41) 0.4659 at [141.5, 27.9, 350.8, 331.1] in 512-px input pixels (stretched frame).
    let (sx, sy) = (600.0 / 512.0, 400.0 / 512.0);
    let reference = rect(141.5 * sx, 27.9 * sy, 350.8 * sx, 331.1 * sy);
    let cup = dets.iter().find(|d| d.label == "cup").unwrap_or_else(|| panic!("no cup: {dets:?}"));
    assert_eq!(cup.class_id, 41);
    assert!(cup.bbox.iou(&reference) > 0.8, "{:?} vs {reference:?}", cup.bbox);
    for d in &dets {
        let b = d.bbox;
        assert!(b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= 600.0 && b.y + b.h <= 400.0);
    }
}

#[test]
fn centernet_without_its_label_file_is_an_error_naming_the_model() {
    let dir = temp_dir("no-coco-labels");
    let model = common::root().join("models/converted/centernet.onnx");
    let rt = runtime_with(&dir, spec_for("centernet", &dir, &model.to_string_lossy()));
    let err = ObjectDetector::load(&rt).err().expect("no label file next to the manifest");
    assert!(matches!(err, InferError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("centernet"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---- scene --------------------------------------------------------------------------------------------------------

#[test]
fn scene_sees_espresso_in_coffee_and_maps_it_to_food() {
    let rt = common::runtime();
    let mut model = SceneClassifier::load(&rt).expect("scene model");
    let img = common::image("coffee.png");
    let top = model.classify(&img, 5).expect("classify");
    assert_eq!(top.len(), 5);
    assert!(top.windows(2).all(|w| w[0].prob >= w[1].prob));
    // Reference: 967 espresso 0.957.
    assert_eq!((top[0].class_id, top[0].label.as_str()), (967, "espresso"), "{top:?}");
    assert!(top[0].prob > 0.8, "{top:?}");
    let cats = model.categories(&top);
    assert_eq!(cats[0].0, "restaurant_cafe_food", "{cats:?}");
    assert!(cats[0].1 > 0.9, "{cats:?}");
    let all = model.classify(&img, 1000).expect("all classes");
    let total: f32 = all.iter().map(|c| c.prob).sum();
    assert!((total - 1.0).abs() < 1e-3, "softmax sums to {total}");
}

#[test]
fn scene_matches_the_reference_top5() {
    // NOTES-torch.md, PyTorch original with Pillow preprocessing (class id, probability).
    let cases: [(&str, [(u32, f32); 5]); 3] = [
        ("chelsea.png", [(285, 0.377), (282, 0.377), (281, 0.168), (287, 0.016), (904, 0.001)]),
        ("coffee.png", [(967, 0.957), (968, 0.014), (925, 0.007), (960, 0.004), (504, 0.003)]),
        ("astronaut.png", [(450, 0.127), (560, 0.124), (573, 0.070), (422, 0.055), (746, 0.027)]),
    ];
    let rt = common::runtime();
    let mut model = SceneClassifier::load(&rt).expect("scene model");
    for (name, want) in cases {
        let top = model.classify(&common::image(name), 5).expect("classify");
        for (id, p) in want {
            let got = top
                .iter()
                .find(|c| c.class_id == id)
                .unwrap_or_else(|| panic!("{name}: class {id} not in the top 5: {top:?}"));
            assert!((got.prob - p).abs() < 0.015, "{name} {}: {} vs {p}", got.label, got.prob);
        }
    }
}

#[test]
fn scene_sees_a_cat_in_chelsea() {
    let rt = common::runtime();
    let mut model = SceneClassifier::load(&rt).expect("scene model");
    let img = common::image("chelsea.png");
    let top = model.classify(&img, 5).expect("classify");
    // Reference: Egyptian cat 0.377, tiger cat 0.377, tabby 0.168.
    let cats = ["Egyptian cat", "tiger cat", "tabby", "Persian cat", "Siamese cat"];
    assert!(cats.contains(&top[0].label.as_str()), "{top:?}");
    let cat_mass: f32 = top.iter().filter(|c| cats.contains(&c.label.as_str())).map(|c| c.prob).sum();
    assert!(cat_mass > 0.8, "cat classes {cat_mass}: {top:?}");
}

#[test]
fn scene_category_file_with_an_unknown_label_fails_to_load() {
    let dir = temp_dir("bad-categories");
    std::fs::create_dir_all(dir.join("converted")).expect("dir");
    std::fs::copy(
        common::root().join("models/converted/imagenet_labels.txt"),
        dir.join("converted/imagenet_labels.txt"),
    )
    .expect("copy labels");
    std::fs::write(dir.join("scene_categories.toml"), "[category.cafe]\nclasses = [\"espresso\", \"expresso\"]\n")
        .expect("write categories");
    let model = common::root().join("models/converted/scene.onnx");
    let rt = runtime_with(&dir, spec_for("scene", &dir, &model.to_string_lossy()));
    let err = SceneClassifier::load(&rt).err().expect("unknown label");
    assert!(matches!(err, InferError::BadFile { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("scene") && msg.contains("expresso"), "{msg}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---- anti-spoof (generated fixture) -----------------------------------------------------------------------------

/// A runtime whose only model is the fixture under the anti_spoof id (the real manifest's entry, file swapped).
fn fixture_runtime(name: &str) -> (PathBuf, Runtime) {
    let dir = temp_dir(name);
    std::fs::copy(common::root().join("tests/fixtures/anti_spoof_fixture.onnx"), dir.join("anti_spoof_fixture.onnx"))
        .expect("copy fixture");
    let rt = runtime_with(&dir, spec_for("anti_spoof", &dir, "anti_spoof_fixture.onnx"));
    (dir, rt)
}

/// p(real) the fixture gives for a crop with this mean colour: logits = mean BGR @ W * 8/255 (see its generator).
fn fixture_score(rgb: [f32; 3]) -> f32 {
    let [r, g, b] = rgb;
    let k = 8.0 / 255.0;
    let logits = [b * k, (g + r) * k, 0.0];
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
    e[1] / e.iter().sum::<f32>()
}

#[test]
fn anti_spoof_scores_green_as_real_and_blue_as_spoof() {
    let (dir, rt) = fixture_runtime("colours");
    let mut model = AntiSpoof::load(&rt).expect("fixture loads");
    assert_eq!(model.crop_scale(), 2.7);
    let face = rect(80.0, 60.0, 120.0, 100.0);
    let green = model.live_score(&RgbFrame::filled(200, 160, [0, 255, 0]), &face).expect("score");
    let blue = model.live_score(&RgbFrame::filled(200, 160, [0, 0, 255]), &face).expect("score");
    assert!(green > 0.5 && blue < 0.5, "green {green}, blue {blue}");
    // Exact values prove raw 0..255 input (a /255 or [-1,1] scaling gives ~1/3) and BGR order (blue fed as RGB would
    // land on the "R" channel and read as real).
    assert!((green - fixture_score([0.0, 255.0, 0.0])).abs() < 1e-4, "{green}");
    assert!((blue - fixture_score([0.0, 0.0, 255.0])).abs() < 1e-4, "{blue}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn anti_spoof_crop_at_the_frame_corner_is_shifted_inside() {
    let (dir, rt) = fixture_runtime("corner");
    let mut model = AntiSpoof::load(&rt).expect("fixture loads");
    // Green frame whose 40 leftmost columns are blue. A 20x20 face at the left edge, scaled 2.7 to 54 px, must be
    // shifted right to columns 0..=54 (40 blue + 15 green), not cut to 0..=37 (all blue, 0.000335) or padded with
    // black (0.0039).
    let mut frame = RgbFrame::filled(200, 200, [0, 255, 0]);
    for y in 0..200 {
        for x in 0..40 {
            let i = (y * 200 + x) * 3;
            frame.data[i..i + 3].copy_from_slice(&[0, 0, 255]);
        }
    }
    let s = model.live_score(&frame, &rect(0.0, 80.0, 20.0, 100.0)).expect("edge box");
    let want = fixture_score([0.0, 255.0 * 15.0 / 55.0, 255.0 * 40.0 / 55.0]);
    assert!((s - want).abs() < 0.005, "edge score {s}, expected {want}");
    // Boxes partly or wholly outside, or larger than the frame: clamped, no panic, a probability back.
    for face in [rect(-30.0, -30.0, -5.0, -5.0), rect(190.0, 185.0, 230.0, 240.0), rect(-100.0, -100.0, 400.0, 300.0)] {
        let s = model.live_score(&frame, &face).expect("clamped box");
        assert!((0.0..=1.0).contains(&s), "{face:?}: {s}");
    }
    let err = model.live_score(&frame, &rect(10.0, 10.0, 10.0, 30.0)).expect_err("zero-width box");
    assert!(matches!(err, InferError::Input { .. }), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn anti_spoof_without_the_operator_file_is_missing() {
    let (dir, rt) = fixture_runtime("absent");
    std::fs::remove_file(dir.join("anti_spoof_fixture.onnx")).expect("remove");
    let err = AntiSpoof::load(&rt).err().expect("absent file");
    assert!(matches!(err, InferError::Missing { ref id, .. } if id == "anti_spoof"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn anti_spoof_on_a_real_photo_returns_a_probability() {
    let (dir, rt) = fixture_runtime("photo");
    let mut model = AntiSpoof::load(&rt).expect("fixture loads");
    let img = load_image(&common::shared("silent-face/image_T1.jpg")).expect("decodable photo");
    let mut detector = BlazeFace::load(&common::runtime()).expect("blazeface");
    let faces = detector.detect(&img).expect("detect");
    let face = faces.first().expect("a face in image_T1.jpg").bbox;
    let s = model.live_score(&img, &face).expect("score");
    assert!((0.0..=1.0).contains(&s), "{s}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---- corrupt files ------------------------------------------------------------------------------------------------

#[test]
fn corrupt_model_file_is_an_error_naming_the_model() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("expression.onnx"), b"this is not an ONNX protobuf \x00\xff\x13").expect("write");
    // The manifest pins the garbage's own sha256, so only the session build can catch it.
    let rt = runtime_with(&dir, spec_for("expression", &dir, "expression.onnx"));
    let err = ExpressionClassifier::load(&rt).err().expect("garbage model");
    assert!(matches!(err, InferError::BadFile { .. }), "{err}");
    assert!(err.to_string().contains("`expression`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
