//! The face models on real pictures and a real talking-head video: BlazeFace finds the face, the face mesh measures
//! eyes, mouth and head pose (with the sign conventions checked on mirrored images and against 2-D geometry), the
//! MobileFaceNet embedding tells people apart, the selfie mask covers the person, and bad input never panics.
//!
//! Needs the README's set-up (ONNX Runtime, models, testdata/media) and ../shared/testmedia.

mod common;

use facereview::analysis::image::{Rect, RgbFrame, load_image};
use facereview::infer::models::Embedding;
use facereview::infer::models::blazeface::{BlazeFace, FaceDetection, Keypoint};
use facereview::infer::models::face_embed::{FaceEmbedder, SAME_PERSON_MIN};
use facereview::infer::models::face_mesh::{FaceMesh, MeshResult, roi_from_points};
use facereview::infer::models::segmentation::SelfieSegmenter;
use facereview::media::{DecodeOptions, Decoder, MediaEvent};

/// The astronaut's face (extent of the face mesh in NOTES-tflite.md): x 179..272, y 70..176.
const ASTRONAUT_FACE: Rect = Rect { x: 179.0, y: 70.0, w: 93.0, h: 106.0 };

fn mirror(img: &RgbFrame) -> RgbFrame {
    let mut data = Vec::with_capacity(img.data.len());
    for y in 0..img.height {
        for x in (0..img.width).rev() {
            data.extend(img.pixel(x, y));
        }
    }
    RgbFrame::new(img.width, img.height, data).unwrap()
}

fn best_face(bf: &mut BlazeFace, img: &RgbFrame) -> FaceDetection {
    let faces = bf.detect(img).unwrap();
    assert!(!faces.is_empty(), "no face found");
    faces.into_iter().next().unwrap()
}

fn mesh_of(bf: &mut BlazeFace, mesh: &mut FaceMesh, img: &RgbFrame) -> MeshResult {
    let face = best_face(bf, img);
    mesh.landmarks(img, &face).unwrap().expect("a face mesh")
}

/// Where the nose tip sits between the cheek edges, from 2-D points only: > 0 towards the image right.
fn nose_offset_2d(m: &MeshResult) -> f32 {
    let p = &m.points;
    (p[1][0] - (p[234][0] + p[454][0]) / 2.0) / (p[454][0] - p[234][0])
}

/// How far the nose tip sits below the eye corners, over the eye-corner distance (grows as the head tilts down).
fn nose_drop_2d(m: &MeshResult) -> f32 {
    let p = &m.points;
    let eyes_y = (p[33][1] + p[133][1] + p[263][1] + p[362][1]) / 4.0;
    (p[1][1] - eyes_y) / (p[263][0] - p[33][0])
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn blazeface_finds_the_astronaut_face_at_its_known_box() {
    let rt = common::runtime();
    let mut bf = BlazeFace::load(&rt).unwrap();
    let img = common::image("astronaut.png");
    let face = best_face(&mut bf, &img);
    let iou = face.bbox.iou(&ASTRONAUT_FACE);
    println!("astronaut: box {:?}, score {:.3}, IoU {iou:.3}", face.bbox, face.score);
    assert!(iou > 0.5, "IoU {iou}");
    assert!(face.score > 0.5);
    // Keypoints are anatomical: the subject's right eye is on the image left of a non-mirrored photo.
    let (re, le) = (face.keypoint(Keypoint::RightEye), face.keypoint(Keypoint::LeftEye));
    let (nose, mouth) = (face.keypoint(Keypoint::NoseTip), face.keypoint(Keypoint::Mouth));
    assert!(re.0 < nose.0 && nose.0 < le.0, "{re:?} {nose:?} {le:?}");
    assert!(re.1 < nose.1 && nose.1 < mouth.1);
    assert!(face.roll().to_degrees().abs() < 10.0);
}

#[test]
fn face_mesh_fits_the_astronaut_face_with_open_eyes() {
    let rt = common::runtime();
    let (mut bf, mut mesh) = (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap());
    let img = common::image("astronaut.png");
    let m = mesh_of(&mut bf, &mut mesh, &img);
    println!("astronaut mesh: presence {:.4}, {:?}", m.presence, m.metrics);
    assert_eq!(m.points.len(), 468);
    assert!(m.presence > 0.9);
    // Reference from NOTES-tflite.md (TFLite on a PIL crop): nose tip at (223.1, 130.7) image px.
    let nose = m.points[1];
    assert!((nose[0] - 223.1).abs() < 4.0 && (nose[1] - 130.7).abs() < 4.0, "nose {nose:?}");
    assert!(nose[2] < 0.0, "the nose tip is nearer than the face plane");
    assert!(m.bbox().iou(&ASTRONAUT_FACE) > 0.7, "mesh extent {:?}", m.bbox());
    let f = &m.metrics;
    for eye in [f.eye_open_left, f.eye_open_right] {
        assert!((0.28..0.45).contains(&eye), "open eye reads {eye}");
    }
    assert!((0.08..0.22).contains(&f.mouth_open), "smiling with teeth: {}", f.mouth_open);
    assert!(f.yaw_deg.abs() < 5.0 && f.roll_deg.abs() < 8.0, "{f:?}");
    assert!((5.0..18.0).contains(&f.pitch_deg), "neutral pitch is about +12°: {f:?}");
}

#[test]
fn tracking_from_the_previous_mesh_finds_the_same_face() {
    let rt = common::runtime();
    let (mut bf, mut mesh) = (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap());
    let img = common::image("astronaut.png");
    let first = mesh_of(&mut bf, &mut mesh, &img);
    let (centre, side, roll) = roi_from_points(&first.points);
    assert!(side > ASTRONAUT_FACE.h && side < 2.0 * ASTRONAUT_FACE.h, "side {side}");
    let tracked = mesh.landmarks_in_roi(&img, centre, side, roll).unwrap().expect("the face is still there");
    let mean_shift = first
        .points
        .iter()
        .zip(&tracked.points)
        .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
        .sum::<f32>()
        / first.points.len() as f32;
    println!("tracked mesh: mean shift {mean_shift:.2} px");
    assert!(mean_shift < 3.0, "mean point shift {mean_shift} px");
}

#[test]
fn yaw_and_roll_change_sign_in_a_mirrored_image() {
    let rt = common::runtime();
    let (mut bf, mut mesh) = (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap());
    // obama2: turned to his right (nose towards the image left); image_T1: turned to her left.
    let cases = [
        ("obama2.jpg", common::image("obama2.jpg")),
        ("image_T1.jpg", load_image(&common::shared("silent-face/image_T1.jpg")).unwrap()),
    ];
    for (name, img) in cases {
        let m = mesh_of(&mut bf, &mut mesh, &img);
        let mm = mesh_of(&mut bf, &mut mesh, &mirror(&img));
        let (a, b) = (&m.metrics, &mm.metrics);
        println!(
            "{name}: yaw {:.1}° mirrored {:.1}°, roll {:.1}° mirrored {:.1}°, 2-D nose offset {:.3}",
            a.yaw_deg,
            b.yaw_deg,
            a.roll_deg,
            b.roll_deg,
            nose_offset_2d(&m)
        );
        assert!(a.yaw_deg.abs() > 5.0, "{name} is visibly turned");
        assert!(a.yaw_deg * b.yaw_deg < 0.0, "{name}: yaw must flip");
        assert!((a.yaw_deg + b.yaw_deg).abs() < 4.0, "{name}: same size");
        // Positive yaw = turned to the person's own left = nose towards the image right.
        assert_eq!(a.yaw_deg > 0.0, nose_offset_2d(&m) > 0.0, "{name}");
        assert!(a.roll_deg * b.roll_deg < 0.0, "{name}: roll must flip");
        assert!((a.pitch_deg - b.pitch_deg).abs() < 6.0, "{name}: pitch stays");
    }
}

#[test]
fn mobilefacenet_tells_the_three_obama_photos_from_biden() {
    let rt = common::runtime();
    let (mut bf, mut mesh, mut emb) =
        (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap(), FaceEmbedder::load(&rt).unwrap());
    let names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"];
    let mut by_keypoints: Vec<Embedding> = vec![];
    let mut by_mesh: Vec<Embedding> = vec![];
    for n in names {
        let img = common::image(n);
        let face = best_face(&mut bf, &img);
        by_keypoints.push(emb.embed(&img, &face).unwrap().expect("embedding"));
        let m = mesh.landmarks(&img, &face).unwrap().expect("mesh");
        let five = m.arcface_points().unwrap();
        by_mesh.push(emb.embed_with_points(&img, five).unwrap().expect("embedding"));
    }
    for (label, es) in [("keypoints", &by_keypoints), ("mesh", &by_mesh)] {
        assert!(es.iter().all(|e| e.0.len() == 192));
        let mut same = vec![];
        let mut different = vec![];
        for i in 0..4 {
            for j in i + 1..4 {
                let c = es[i].cosine(&es[j]);
                println!("{label}: cos({}, {}) = {c:.4}", names[i], names[j]);
                if j == 3 {
                    different.push(c);
                } else {
                    same.push(c);
                }
            }
        }
        let min_same = same.iter().cloned().fold(1.0, f32::min);
        let max_diff = different.iter().cloned().fold(-1.0, f32::max);
        assert!(min_same > max_diff, "{label}: {same:?} vs {different:?}");
        assert!(min_same >= SAME_PERSON_MIN, "{label}: {same:?}");
        assert!(max_diff < SAME_PERSON_MIN, "{label}: {different:?}");
    }
}

#[test]
fn aligned_embedding_survives_mirroring() {
    let rt = common::runtime();
    let (mut bf, mut mesh, mut emb) =
        (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap(), FaceEmbedder::load(&rt).unwrap());
    let img = common::image("astronaut.png");
    let flipped = mirror(&img);
    let mut e = vec![];
    for im in [&img, &flipped] {
        let m = mesh_of(&mut bf, &mut mesh, im);
        e.push(emb.embed_with_points(im, m.arcface_points().unwrap()).unwrap().unwrap());
        let face = best_face(&mut bf, im);
        e.push(emb.embed(im, &face).unwrap().unwrap());
    }
    let (mesh_c, kp_c) = (e[0].cosine(&e[2]), e[1].cosine(&e[3]));
    println!("astronaut vs mirrored: mesh-aligned {mesh_c:.4}, keypoint-aligned {kp_c:.4}");
    assert!(mesh_c > 0.9 && kp_c > 0.9);
}

/// Decodes a video: per video frame `(pts seconds, best face mesh or None)`, and the audio as one 16 kHz buffer
/// starting at media time 0.
fn decode_talking_head(
    name: &str,
    bf: &mut BlazeFace,
    mesh: &mut FaceMesh,
) -> (Vec<(f64, Option<MeshResult>)>, Vec<f32>) {
    let mut dec = Decoder::open(&common::shared(&format!("talking-heads/{name}")), DecodeOptions::default()).unwrap();
    let mut frames = vec![];
    let mut audio: Vec<f32> = vec![];
    while let Some(ev) = dec.next_event().unwrap() {
        match ev {
            MediaEvent::Video(v) => {
                let faces = bf.detect(&v.image).unwrap();
                let m = match faces.first() {
                    Some(f) => mesh.landmarks(&v.image, f).unwrap(),
                    None => None,
                };
                frames.push((v.pts.as_secs_f64(), m));
            }
            MediaEvent::Audio(a) => {
                let at = (a.pts.as_secs_f64() * 16_000.0).round() as usize;
                if audio.len() < at + a.samples.len() {
                    audio.resize(at + a.samples.len(), 0.0);
                }
                audio[at..at + a.samples.len()].copy_from_slice(&a.samples);
            }
        }
    }
    (frames, audio)
}

/// RMS of the audio in a 50 ms window centred at `t` seconds.
fn rms_at(audio: &[f32], t: f64) -> f64 {
    let c = (t * 16_000.0) as i64;
    let (a, b) = ((c - 400).max(0) as usize, ((c + 400).max(0) as usize).min(audio.len()));
    if b <= a {
        return 0.0;
    }
    (audio[a..b].iter().map(|x| (x * x) as f64).sum::<f64>() / (b - a) as f64).sqrt()
}

#[test]
fn mouth_opening_follows_speech_and_pose_follows_geometry_in_a_talking_head_video() {
    let rt = common::runtime();
    let (mut bf, mut mesh) = (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap());
    let (frames, audio) = decode_talking_head("vrt_face_1.mp4", &mut bf, &mut mesh);
    let with_mesh: Vec<(f64, &MeshResult)> = frames.iter().filter_map(|(t, m)| m.as_ref().map(|m| (*t, m))).collect();
    println!(
        "{} video frames, {} with a mesh, {:.2} s of audio",
        frames.len(),
        with_mesh.len(),
        audio.len() as f64 / 16_000.0
    );
    assert!(frames.len() > 100 && with_mesh.len() * 100 >= frames.len() * 95);

    let mouth: Vec<f64> = with_mesh.iter().map(|(_, m)| m.metrics.mouth_open as f64).collect();
    let env: Vec<f64> = with_mesh.iter().map(|(t, _)| rms_at(&audio, *t)).collect();
    let mut best = (0i64, f64::MIN);
    for lag in -3i64..=3 {
        let (a, b): (Vec<f64>, Vec<f64>) = (0..mouth.len() as i64)
            .filter_map(|i| {
                let j = i + lag;
                (j >= 0 && (j as usize) < env.len()).then(|| (mouth[i as usize], env[j as usize]))
            })
            .unzip();
        let r = pearson(&a, &b);
        println!("mouth_open vs audio RMS, audio shifted {lag:+} frames: r = {r:.3}");
        if r > best.1 {
            best = (lag, r);
        }
    }
    assert!(best.1 > 0.3, "best correlation {:.3} at lag {}", best.1, best.0);

    let loudest = env.iter().cloned().fold(0.0, f64::max);
    let speech: Vec<f64> = mouth.iter().zip(&env).filter(|(_, e)| **e > 0.1 * loudest).map(|(m, _)| *m).collect();
    let pause: Vec<f64> = mouth.iter().zip(&env).filter(|(_, e)| **e < 0.03 * loudest).map(|(m, _)| *m).collect();
    let (ms, mp) = (mean(&speech), mean(&pause));
    println!("mouth_open: speech {ms:.3} over {} frames, pauses {mp:.3} over {} frames", speech.len(), pause.len());
    assert!(speech.len() > 20 && pause.len() > 20);
    assert!(ms > 1.3 * mp, "speech {ms:.3} vs pause {mp:.3}");

    // Yaw and pitch from z move with what the 2-D points show (sign conventions on a real moving head).
    let yaw: Vec<f64> = with_mesh.iter().map(|(_, m)| m.metrics.yaw_deg as f64).collect();
    let nose_x: Vec<f64> = with_mesh.iter().map(|(_, m)| nose_offset_2d(m) as f64).collect();
    let pitch: Vec<f64> = with_mesh.iter().map(|(_, m)| m.metrics.pitch_deg as f64).collect();
    let nose_y: Vec<f64> = with_mesh.iter().map(|(_, m)| nose_drop_2d(m) as f64).collect();
    let (ry, rp) = (pearson(&yaw, &nose_x), pearson(&pitch, &nose_y));
    println!(
        "yaw {:.1}..{:.1}° vs 2-D nose offset r = {ry:.3}; pitch {:.1}..{:.1}° vs 2-D nose drop r = {rp:.3}",
        yaw.iter().cloned().fold(f64::MAX, f64::min),
        yaw.iter().cloned().fold(f64::MIN, f64::max),
        pitch.iter().cloned().fold(f64::MAX, f64::min),
        pitch.iter().cloned().fold(f64::MIN, f64::max),
    );
    assert!(ry > 0.9, "yaw vs nose offset r = {ry}");
    assert!(rp > 0.3, "pitch vs nose drop r = {rp}");
    // He faces a little to his own left (nose towards the image right) throughout.
    assert!(mean(&yaw) > 5.0 && mean(&nose_x) > 0.05);
}

#[test]
fn same_person_across_video_frames_and_different_people_across_videos() {
    let rt = common::runtime();
    let (mut bf, mut emb) = (BlazeFace::load(&rt).unwrap(), FaceEmbedder::load(&rt).unwrap());
    let mut per_video: Vec<Vec<Embedding>> = vec![];
    for v in ["vrt_face_1.mp4", "vrt_face_2.mp4"] {
        let mut dec = Decoder::open(&common::shared(&format!("talking-heads/{v}")), DecodeOptions::default()).unwrap();
        let (mut n, mut es) = (0, vec![]);
        while let Some(ev) = dec.next_event().unwrap() {
            if let MediaEvent::Video(f) = ev {
                n += 1;
                if n % 15 == 0 {
                    let face = best_face(&mut bf, &f.image);
                    es.push(emb.embed(&f.image, &face).unwrap().expect("embedding"));
                }
            }
        }
        per_video.push(es);
    }
    let mut within = vec![];
    for es in &per_video {
        for i in 0..es.len() {
            for j in i + 1..es.len() {
                within.push(es[i].cosine(&es[j]));
            }
        }
    }
    let across: Vec<f32> = per_video[0].iter().flat_map(|a| per_video[1].iter().map(move |b| a.cosine(b))).collect();
    let min_within = within.iter().cloned().fold(1.0, f32::min);
    let max_across = across.iter().cloned().fold(-1.0, f32::max);
    println!("video frames: same person min {min_within:.3}, different people max {max_across:.3}");
    assert!(min_within >= SAME_PERSON_MIN && max_across < SAME_PERSON_MIN);
}

#[test]
fn selfie_mask_covers_the_astronaut_and_not_the_coffee() {
    let rt = common::runtime();
    let mut seg = SelfieSegmenter::load(&rt).unwrap();
    let img = common::image("astronaut.png");
    let mask = seg.person_mask(&img).unwrap();
    assert_eq!((mask.width, mask.height, mask.data.len()), (256, 256, 256 * 256));
    let (fx, fy) = ASTRONAUT_FACE.center();
    let at_face = mask.at(fx / img.width as f32, fy / img.height as f32);
    let corners = [mask.at(0.02, 0.02), mask.at(0.98, 0.02)];
    println!(
        "astronaut: person fraction {:.3}, at face centre {at_face:.3}, top corners {corners:?}",
        mask.person_fraction()
    );
    assert!(mask.person_fraction() > 0.3 && mask.person_fraction() < 0.7);
    assert!(at_face > 0.9);
    assert!(corners.iter().all(|&c| c < 0.05));

    let coffee = common::image("coffee.png");
    let cm = seg.person_mask(&coffee).unwrap();
    println!("coffee: person fraction {:.3}, mean {:.3}", cm.person_fraction(), cm.mean());
    assert!(cm.person_fraction() < 0.3, "{}", cm.person_fraction());
    assert!(cm.person_fraction() < 0.5 * mask.person_fraction());
    assert!(cm.data.iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn a_cat_face_from_the_detector_gets_no_face_mesh() {
    let rt = common::runtime();
    let (mut bf, mut mesh) = (BlazeFace::load(&rt).unwrap(), FaceMesh::load(&rt).unwrap());
    let img = common::image("chelsea.png");
    for face in bf.detect(&img).unwrap() {
        assert_eq!(mesh.landmarks(&img, &face).unwrap(), None);
    }
}

#[test]
fn bad_input_gives_none_or_an_error_never_a_panic() {
    let rt = common::runtime();
    let (mut bf, mut mesh, mut emb, mut seg) = (
        BlazeFace::load(&rt).unwrap(),
        FaceMesh::load(&rt).unwrap(),
        FaceEmbedder::load(&rt).unwrap(),
        SelfieSegmenter::load(&rt).unwrap(),
    );
    let astronaut = common::image("astronaut.png");
    let face = best_face(&mut bf, &astronaut);

    // A 1x1 frame: the detector finds nothing; a face box from elsewhere finds no mesh and no embedding.
    let tiny = RgbFrame::filled(1, 1, [128, 128, 128]);
    assert!(bf.detect(&tiny).unwrap().is_empty());
    assert!(!matches!(mesh.landmarks(&tiny, &face), Ok(Some(_))));
    assert!(!matches!(emb.embed(&tiny, &face), Ok(Some(_))));
    let m = seg.person_mask(&tiny).unwrap();
    assert!(m.person_fraction() < 0.05);

    // A face box entirely outside the frame.
    let mut away = face.clone();
    away.bbox.x += 10_000.0;
    away.keypoints.iter_mut().for_each(|k| k.0 += 10_000.0);
    assert_eq!(mesh.landmarks(&astronaut, &away).unwrap(), None);
    assert_eq!(emb.embed(&astronaut, &away).unwrap(), None);
    assert_eq!(mesh.landmarks_in_roi(&astronaut, (-500.0, -500.0), 100.0, 0.0).unwrap(), None);

    // Degenerate boxes and points.
    let mut nan = face.clone();
    nan.bbox.w = f32::NAN;
    nan.keypoints[0].0 = f32::NAN;
    assert!(mesh.landmarks(&astronaut, &nan).is_err());
    assert!(emb.embed(&astronaut, &nan).is_err());
    let mut point = face.clone();
    point.bbox.w = 0.0;
    point.bbox.h = 0.0;
    point.keypoints = [(200.0, 100.0); 6];
    assert_eq!(mesh.landmarks(&astronaut, &point).unwrap(), None);
    assert_eq!(emb.embed(&astronaut, &point).unwrap(), None);
    assert_eq!(roi_from_points(&[]).1, 0.0);
    assert_eq!(mesh.landmarks_in_roi(&astronaut, (0.0, 0.0), 0.0, 0.0).unwrap(), None);

    // No face where the box says: a uniform frame.
    let grey = RgbFrame::filled(512, 512, [128, 128, 128]);
    assert_eq!(mesh.landmarks(&grey, &face).unwrap(), None);

    // A frame whose buffer does not match its size (fields are public).
    let broken = RgbFrame { width: 640, height: 480, data: vec![0; 10] };
    assert!(mesh.landmarks(&broken, &face).is_err());
    assert!(emb.embed(&broken, &face).is_err());
    assert!(seg.person_mask(&broken).is_err());
}
