//! Probe (temporary): numbers for the face models.

mod common;

use facereview::analysis::image::{Rect, RgbFrame, load_image};
use facereview::infer::models::blazeface::{BlazeFace, FaceDetection};
use facereview::infer::models::face_embed::FaceEmbedder;
use facereview::infer::models::face_mesh::{FaceMesh, roi_from_points};
use facereview::infer::models::segmentation::SelfieSegmenter;
use facereview::media::{DecodeOptions, Decoder, MediaEvent};

fn mirror(img: &RgbFrame) -> RgbFrame {
    let mut data = Vec::with_capacity(img.data.len());
    for y in 0..img.height {
        for x in (0..img.width).rev() {
            data.extend(img.pixel(x, y));
        }
    }
    RgbFrame::new(img.width, img.height, data).unwrap()
}

fn face(bf: &mut BlazeFace, img: &RgbFrame) -> FaceDetection {
    bf.detect(img).unwrap().into_iter().next().expect("a face")
}

#[test]
fn probe_images() {
    let rt = common::runtime();
    let mut bf = BlazeFace::load(&rt).unwrap();
    let mut mesh = FaceMesh::load(&rt).unwrap();
    let mut emb = FaceEmbedder::load(&rt).unwrap();
    let mut seg = SelfieSegmenter::load(&rt).unwrap();
    let truth = Rect { x: 179.0, y: 70.0, w: 93.0, h: 106.0 };
    let names = ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "chelsea.png"];
    let mut imgs: Vec<(String, RgbFrame)> = names.iter().map(|n| (n.to_string(), common::image(n))).collect();
    imgs.push(("T1".into(), load_image(&common::shared("silent-face/image_T1.jpg")).unwrap()));
    let mut embs = vec![];
    let mut membs = vec![];
    for (name, img) in &imgs {
        let dets = bf.detect(img).unwrap();
        println!("{name} {}x{}: {} faces", img.width, img.height, dets.len());
        let Some(d) = dets.first() else { continue };
        println!("  box {:?} score {:.3} iou(astro) {:.3} kp {:?}", d.bbox, d.score, d.bbox.iou(&truth), d.keypoints);
        let m = mesh.landmarks(img, d).unwrap();
        if let Some(m) = &m {
            println!(
                "  mesh presence {:.4} metrics {:?} bbox {:?} iou(det) {:.3}",
                m.presence,
                m.metrics,
                m.bbox(),
                m.bbox().iou(&d.bbox)
            );
            println!("  nose {:?} chin {:?}", m.points[1], m.points[152]);
            let (c, s, r) = roi_from_points(&m.points);
            let m2 = mesh.landmarks_in_roi(img, c, s, r).unwrap().unwrap();
            println!("  tracked: presence {:.4} metrics {:?}", m2.presence, m2.metrics);
            let mi = mirror(img);
            let dm = face(&mut bf, &mi);
            let mm = mesh.landmarks(&mi, &dm).unwrap().unwrap();
            println!("  mirrored metrics {:?}", mm.metrics);
            let e = emb.embed_with_points(img, m.arcface_points().unwrap()).unwrap().unwrap();
            let em = emb.embed_with_points(&mi, mm.arcface_points().unwrap()).unwrap().unwrap();
            println!("  mesh-aligned vs mirrored {:.4}", e.cosine(&em));
            membs.push((name.clone(), e));
        }
        let e = emb.embed(img, d).unwrap().unwrap();
        embs.push((name.clone(), e));
        let mask = seg.person_mask(img).unwrap();
        let (cx, cy) = d.bbox.center();
        println!(
            "  seg fraction {:.4} mean {:.4} at face {:.4}",
            mask.person_fraction(),
            mask.mean(),
            mask.at(cx / img.width as f32, cy / img.height as f32)
        );
    }
    for (label, es) in [("blazeface", &embs), ("mesh", &membs)] {
        for i in 0..es.len() {
            for j in i + 1..es.len() {
                println!("{label} cos {} {} = {:.4}", es[i].0, es[j].0, es[i].1.cosine(&es[j].1));
            }
        }
    }
    let coffee = common::image("coffee.png");
    let mask = seg.person_mask(&coffee).unwrap();
    println!("coffee seg fraction {:.4} mean {:.4}", mask.person_fraction(), mask.mean());
}

#[test]
fn probe_video() {
    let rt = common::runtime();
    let mut bf = BlazeFace::load(&rt).unwrap();
    let mut mesh = FaceMesh::load(&rt).unwrap();
    let mut dec = Decoder::open(&common::shared("talking-heads/vrt_face_1.mp4"), DecodeOptions::default()).unwrap();
    let mut frames = vec![];
    let mut audio: Vec<(f64, Vec<f32>)> = vec![];
    while let Some(ev) = dec.next_event().unwrap() {
        match ev {
            MediaEvent::Video(v) => {
                let t = v.pts.as_secs_f64();
                let dets = bf.detect(&v.image).unwrap();
                let Some(d) = dets.first() else {
                    println!("{t:.3} no face");
                    continue;
                };
                let m = mesh.landmarks(&v.image, d).unwrap();
                let Some(m) = m else {
                    println!("{t:.3} no mesh");
                    continue;
                };
                let p = &m.points;
                let nose2d = (p[1][0] - (p[234][0] + p[454][0]) / 2.0) / (p[454][0] - p[234][0]);
                let ey = (p[33][1] + p[133][1] + p[263][1] + p[362][1]) / 4.0;
                let my = (p[61][1] + p[291][1]) / 2.0;
                let _ = my;
                let nosev = (p[1][1] - ey) / (p[263][0] - p[33][0]);
                frames.push((t, m.metrics.clone(), nose2d, nosev));
            }
            MediaEvent::Audio(a) => audio.push((a.pts.as_secs_f64(), a.samples)),
        }
    }
    let t0 = audio.first().map(|a| a.0).unwrap_or(0.0);
    println!("audio chunks {} first pts {t0} ", audio.len());
    let mut samples = vec![];
    for (t, s) in &audio {
        let expect = ((t - t0) * 16000.0).round() as usize;
        if expect != samples.len() && (expect as i64 - samples.len() as i64).abs() > 2 {
            println!("gap at {t}: {} vs {}", expect, samples.len());
        }
        samples.extend_from_slice(s);
    }
    let rms = |t: f64| {
        let c = ((t - t0) * 16000.0) as i64;
        let (a, b) = ((c - 400).max(0) as usize, ((c + 400).max(0) as usize).min(samples.len()));
        if b <= a {
            return 0.0;
        }
        (samples[a..b].iter().map(|x| x * x).sum::<f32>() / (b - a) as f32).sqrt()
    };
    let corr = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    let mouth: Vec<f64> = frames.iter().map(|f| f.1.mouth_open as f64).collect();
    for half in [200i64, 400, 800, 1600] {
        for log in [false, true] {
            let env: Vec<f64> = frames
                .iter()
                .map(|f| {
                    let c = ((f.0 - t0) * 16000.0) as i64;
                    let (a, b) = ((c - half).max(0) as usize, ((c + half).max(0) as usize).min(samples.len()));
                    let r = if b <= a {
                        0.0
                    } else {
                        (samples[a..b].iter().map(|x| x * x).sum::<f32>() / (b - a) as f32).sqrt() as f64
                    };
                    if log { (r + 1e-4).ln() } else { r }
                })
                .collect();
            let mut line = format!("half {half} log {log}:");
            for lag in -3i64..=3 {
                let (a, b): (Vec<f64>, Vec<f64>) = (0..mouth.len() as i64)
                    .filter_map(|i| {
                        let j = i + lag;
                        (j >= 0 && (j as usize) < env.len()).then(|| (mouth[i as usize], env[j as usize]))
                    })
                    .unzip();
                line += &format!(" {lag}:{:.3}", corr(&a, &b));
            }
            println!("{line}");
        }
    }
    let yaw: Vec<f64> = frames.iter().map(|f| f.1.yaw_deg as f64).collect();
    let n2: Vec<f64> = frames.iter().map(|f| f.2 as f64).collect();
    println!("yaw vs nose2d corr {:.4}", corr(&yaw, &n2));
    let pitch: Vec<f64> = frames.iter().map(|f| f.1.pitch_deg as f64).collect();
    let nv: Vec<f64> = frames.iter().map(|f| f.3 as f64).collect();
    println!("pitch vs nose-vertical corr {:.4}", corr(&pitch, &nv));
}

#[test]
fn probe_video_embeddings() {
    let rt = common::runtime();
    let mut bf = BlazeFace::load(&rt).unwrap();
    let mut emb = FaceEmbedder::load(&rt).unwrap();
    let mut mesh = FaceMesh::load(&rt).unwrap();
    let mut all = vec![];
    for v in 1..=3 {
        let mut dec =
            Decoder::open(&common::shared(&format!("talking-heads/vrt_face_{v}.mp4")), DecodeOptions::default())
                .unwrap();
        let mut n = 0;
        let mut es = vec![];
        while let Some(ev) = dec.next_event().unwrap() {
            if let MediaEvent::Video(f) = ev {
                n += 1;
                if n % 8 != 0 {
                    continue;
                }
                let d = face(&mut bf, &f.image);
                let e = emb.embed(&f.image, &d).unwrap().unwrap();
                let m = mesh.landmarks(&f.image, &d).unwrap().unwrap();
                let em = emb.embed_with_points(&f.image, m.arcface_points().unwrap()).unwrap().unwrap();
                es.push((e, em));
            }
        }
        all.push(es);
    }
    let obama = common::image("obama.jpg");
    let d = face(&mut bf, &obama);
    let eo = emb.embed(&obama, &d).unwrap().unwrap();
    for k in 0..2 {
        let pick = |x: &(facereview::infer::models::Embedding, facereview::infer::models::Embedding)| {
            if k == 0 { x.0.clone() } else { x.1.clone() }
        };
        for i in 0..3 {
            let mut within = vec![];
            for a in 0..all[i].len() {
                for b in a + 1..all[i].len() {
                    within.push(pick(&all[i][a]).cosine(&pick(&all[i][b])));
                }
            }
            let mn = within.iter().cloned().fold(1.0f32, f32::min);
            let mean = within.iter().sum::<f32>() / within.len() as f32;
            let mut cross = vec![];
            for j in 0..3 {
                if j == i {
                    continue;
                }
                for a in &all[i] {
                    for b in &all[j] {
                        cross.push(pick(a).cosine(&pick(b)));
                    }
                }
            }
            let mx = cross.iter().cloned().fold(-1.0f32, f32::max);
            let vo = all[i].iter().map(|a| pick(a).cosine(&eo)).fold(-1.0f32, f32::max);
            println!(
                "align {k} video {}: n {} within min {mn:.3} mean {mean:.3}; cross max {mx:.3}; vs obama max {vo:.3}",
                i + 1,
                all[i].len()
            );
        }
    }
}
