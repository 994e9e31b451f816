//! PP-OCRv4 reads real shop/street signs (OpenCV's scene-text samples from Debian's opencv-doc).

mod common;

use facereview::analysis::image::RgbFrame;
use facereview::infer::models::ocr::Ocr;

fn read(name: &str) -> Vec<String> {
    let rt = common::runtime();
    let mut ocr = Ocr::load(&rt).expect("ocr models");
    ocr.read(&common::image(name)).expect("ocr run").into_iter().map(|l| l.text).collect()
}

#[test]
fn reads_prohibited_from_scenetext01() {
    let lines = read("scenetext01.jpg");
    assert!(lines.iter().any(|l| l.to_uppercase().contains("PROHIBITED")), "read: {lines:?}");
}

#[test]
fn boxes_lie_inside_the_image_and_scores_are_probabilities() {
    let rt = common::runtime();
    let mut ocr = Ocr::load(&rt).unwrap();
    let img = common::image("scenetext01.jpg");
    let lines = ocr.read(&img).unwrap();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l.bbox.x >= 0.0 && l.bbox.y >= 0.0, "{l:?}");
        assert!(l.bbox.x + l.bbox.w <= img.width as f32 + 0.5 && l.bbox.y + l.bbox.h <= img.height as f32 + 0.5);
        assert!((0.0..=1.0).contains(&l.score));
    }
}

#[test]
fn a_blank_or_tiny_frame_reads_nothing_without_error() {
    let rt = common::runtime();
    let mut ocr = Ocr::load(&rt).unwrap();
    assert!(ocr.read(&RgbFrame::filled(640, 480, [200, 200, 200])).unwrap().is_empty());
    assert!(ocr.read(&RgbFrame::filled(1, 1, [0, 0, 0])).unwrap().is_empty());
}
