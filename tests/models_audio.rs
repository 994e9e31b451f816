//! Audio models on real media: Silero VAD against pyannote's speaker turns, and the Resemblyzer voice embedding
//! against the Python reference numbers (models/convert/NOTES-torch.md) and known same/different speakers.

mod common;

use common::decode_audio;

use facereview::analysis::audio::{MelFrontend, SAMPLE_RATE};
use facereview::analysis::speech::{SegmenterConfig, SpeechSegment, SpeechSegmenter};
use facereview::infer::models::Embedding;
use facereview::infer::models::vad::{CHUNK, SileroVad};
use facereview::infer::models::voice::{self, VoiceEmbedder};
use facereview::types::MediaTime;
use std::path::Path;

const CHUNK_MS: u32 = 32;

/// A minimal RIFF/WAVE reader for 16-bit PCM (first channel), scaled by 1/32768 as soundfile/librosa do.
fn read_wav_pcm16(path: &Path) -> (u32, Vec<f32>) {
    let bytes = std::fs::read(path).expect("readable wav");
    assert!(bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE", "not a WAVE file");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (mut pos, mut channels, mut rate, mut bits) = (12usize, 1u16, 0u32, 0u16);
    while pos + 8 <= bytes.len() {
        let len = u32_at(pos + 4) as usize;
        let body = pos + 8;
        match &bytes[pos..pos + 4] {
            b"fmt " => {
                assert_eq!(u16_at(body), 1, "integer PCM");
                channels = u16_at(body + 2);
                rate = u32_at(body + 4);
                bits = u16_at(body + 14);
            }
            b"data" => {
                assert_eq!(bits, 16, "16-bit PCM");
                let end = (body + len).min(bytes.len());
                let frame = 2 * channels as usize;
                let samples = bytes[body..end]
                    .chunks_exact(frame)
                    .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
                    .collect();
                return (rate, samples);
            }
            _ => {}
        }
        pos = body + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

fn sample_wav() -> Vec<f32> {
    let (rate, samples) = read_wav_pcm16(&common::media("sample.wav"));
    assert_eq!(rate, SAMPLE_RATE);
    samples
}

use common::rttm;

fn chunk_time(i: usize) -> MediaTime {
    MediaTime::from_millis(i as u64 * u64::from(CHUNK_MS))
}

/// VAD probabilities of a whole signal, and the segments the default segmenter makes of them.
fn vad_over(vad: &mut SileroVad, samples: &[f32]) -> (Vec<f32>, Vec<SpeechSegment>) {
    vad.reset();
    let mut probs = Vec::new();
    // Feed in uneven pieces, as a decoder would.
    for piece in samples.chunks(1234) {
        probs.extend(vad.push(piece).expect("vad step"));
    }
    let mut seg = SpeechSegmenter::new(SegmenterConfig::default());
    let mut segments = Vec::new();
    for (i, &p) in probs.iter().enumerate() {
        segments.extend(seg.push(chunk_time(i), CHUNK_MS, p));
    }
    segments.extend(seg.finish(chunk_time(probs.len())));
    (probs, segments)
}

/// A seeded white-noise generator (xorshift64*, Box-Muller), `rms` in full-scale units.
fn white_noise(n: usize, rms: f32, seed: u64) -> Vec<f32> {
    let mut s = seed.max(1);
    let mut uniform = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            ((g * f64::from(rms)) as f32).clamp(-1.0, 1.0)
        })
        .collect()
}

#[test]
fn silero_vad_agrees_with_the_speaker_turns_of_sample_wav() {
    let rt = common::runtime();
    let mut vad = SileroVad::load(&rt).expect("silero_vad");
    let wav = sample_wav();
    let turns = rttm();
    let (probs, segments) = vad_over(&mut vad, &wav);
    assert_eq!(probs.len(), wav.len() / CHUNK);
    let in_turn = |t: f64| turns.iter().any(|(_, s, e)| t >= *s && t < *e);
    let in_segment =
        |t: f64| segments.iter().any(|s| t >= s.range.start.as_secs_f64() && t < s.range.end.as_secs_f64());
    let (mut raw_agree, mut seg_agree) = (0usize, 0usize);
    for (i, &p) in probs.iter().enumerate() {
        let centre = (i as f64 + 0.5) * f64::from(CHUNK_MS) / 1000.0;
        let truth = in_turn(centre);
        raw_agree += usize::from((p >= 0.5) == truth);
        seg_agree += usize::from(in_segment(centre) == truth);
    }
    let n = probs.len() as f64;
    let (raw, seg) = (raw_agree as f64 / n, seg_agree as f64 / n);
    eprintln!(
        "VAD vs rttm over {} frames of 32 ms: p >= 0.5 agrees on {:.2}%, segmenter on {:.2}%; {} segments",
        probs.len(),
        100.0 * raw,
        100.0 * seg,
        segments.len()
    );
    for s in &segments {
        eprintln!("  segment {} - {} mean p {:.2}", s.range.start, s.range.end, s.mean_prob);
    }
    assert!(seg >= 0.95, "segmenter agreement {seg:.4} < 0.95");
    assert!(raw >= 0.95, "raw p >= 0.5 agreement {raw:.4} < 0.95");
}

#[test]
fn silero_vad_stays_low_on_silence_and_white_noise() {
    let rt = common::runtime();
    let mut vad = SileroVad::load(&rt).expect("silero_vad");
    let ten_s = 10 * SAMPLE_RATE as usize;
    // -30 dBFS RMS (moderate: about the level of the speech in sample.wav after normalisation).
    let noise = white_noise(ten_s, 10f32.powf(-30.0 / 20.0), 0x5EED);
    for (name, signal) in [("digital silence", vec![0.0f32; ten_s]), ("white noise", noise)] {
        let (probs, segments) = vad_over(&mut vad, &signal);
        let high = probs.iter().filter(|&&p| p > 0.5).count() as f64 / probs.len() as f64;
        let max = probs.iter().copied().fold(0.0f32, f32::max);
        eprintln!("{name}: {:.2}% of frames above 0.5, max p {max:.3}, {} segments", 100.0 * high, segments.len());
        assert!(high < 0.05, "{name}: {high:.3} of frames above 0.5");
    }
    // No panic and no output on empty or sub-chunk input.
    vad.reset();
    assert!(vad.push(&[]).expect("empty").is_empty());
    assert!(vad.push(&[0.1; 100]).expect("short").is_empty());
}

fn parse(list: &str) -> Vec<f32> {
    list.split(',').map(|v| v.trim().parse().expect("number")).collect()
}

fn assert_close(got: &[f32], want: &str, tol: f32, what: &str) -> f32 {
    let want = parse(want);
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff <= tol, "{what}: {:?} vs {want:?} (max diff {diff:e})", &got[..want.len()]);
    diff
}

#[test]
fn voice_embedding_matches_the_python_reference() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let wav = sample_wav();

    // Slice A (speaker91 alone, 7 windows).
    let a = &wav[348_480..445_600];
    let windows = emb.prepare(a);
    assert_eq!(windows.len(), 7);
    let rows = emb.embed_windows(&windows).expect("run");
    let w0 = rows[0].as_ref().expect("window 0 embedding");
    let d0 = assert_close(
        &w0.0,
        "1.022395e-01, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 4.580152e-02",
        1e-3,
        "slice A window 0",
    );
    let utt = emb.embed(a).expect("run").expect("embedding");
    assert_eq!(utt.0.len(), voice::DIM);
    let norm: f32 = utt.0.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let du = assert_close(
        &utt.0,
        "7.670458e-02, 6.434659e-04, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 3.058087e-02",
        1e-3,
        "slice A utterance",
    );

    // Slice B (0.43 s: under MIN_SECONDS, so `embed` declines; the prepared single window still matches).
    let b = &wav[107_040..113_920];
    assert!(emb.embed(b).expect("run").is_none());
    let windows = emb.prepare(b);
    assert_eq!(windows.len(), 1);
    let rows = emb.embed_windows(&windows).expect("run");
    let db = assert_close(
        &rows[0].as_ref().expect("slice B embedding").0,
        "1.521378e-01, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00",
        1e-3,
        "slice B",
    );
    eprintln!("embedding vs reference, max abs diff of the first 8: window 0 {d0:e}, utterance {du:e}, slice B {db:e}");
}

#[test]
fn voice_embedding_handles_empty_short_and_silent_input() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let rate = SAMPLE_RATE as usize;
    assert!(emb.embed(&[]).expect("empty").is_none());
    assert!(emb.embed(&[0.2; 100]).expect("short").is_none());
    assert!(emb.embed(&vec![0.0; 2 * rate]).expect("silence").is_none());
    let mut bad = vec![0.1f32; rate];
    bad[10] = f32::NAN;
    assert!(emb.embed(&bad).is_err());
    assert!(emb.embed_windows(&[]).expect("no windows").is_empty());
    assert!(emb.embed_windows(&[vec![[0.0; 40]; 3]]).is_err());
    // Just over the minimum: one zero-padded window.
    let noise = white_noise((voice::MIN_SECONDS * SAMPLE_RATE as f32) as usize + 1, 0.05, 7);
    assert!(emb.embed(&noise).expect("short noise").is_some());
    assert!(MelFrontend::new().power_mel(&[]).is_empty());
}

#[test]
fn voice_embedding_separates_two_known_speakers() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let mut e = |name: &str| {
        let samples = decode_audio(name);
        assert!(samples.len() > SAMPLE_RATE as usize, "{name}: too little audio");
        emb.embed(&samples).expect("run").expect("embedding")
    };
    let cate = e("cate_blanch.mp3");
    let cate2 = e("cate_blanch_2.mp3");
    let heath = e("heath_ledger.mp3");
    let same = cate.cosine(&cate2);
    let (d1, d2) = (cate.cosine(&heath), cate2.cosine(&heath));
    eprintln!("cate/cate_2 {same:.3}; cate/heath {d1:.3}; cate_2/heath {d2:.3}");
    assert!(same > d1 && same > d2, "same {same} vs different {d1}, {d2}");
}

/// Single-speaker pieces of sample.wav as in NOTES-torch.md: each turn minus every other speaker's turns, pieces
/// under 1 s dropped, longer ones cut into equal parts of at most 3 s. (speaker, start s, end s).
fn single_speaker_pieces() -> Vec<(String, f64, f64)> {
    let turns = rttm();
    let mut pieces = Vec::new();
    for (who, start, end) in &turns {
        let mut parts = vec![(*start, *end)];
        for (other, os, oe) in &turns {
            if other == who {
                continue;
            }
            parts = parts
                .into_iter()
                .flat_map(|(s, e)| {
                    if *oe <= s || *os >= e {
                        return vec![(s, e)];
                    }
                    let mut keep = Vec::new();
                    if *os > s {
                        keep.push((s, *os));
                    }
                    if *oe < e {
                        keep.push((*oe, e));
                    }
                    keep
                })
                .collect();
        }
        for (s, e) in parts {
            let len = e - s;
            if len < 1.0 {
                continue;
            }
            let k = (len / 3.0).ceil() as usize;
            for i in 0..k {
                let a = s + len * i as f64 / k as f64;
                let b = s + len * (i + 1) as f64 / k as f64;
                pieces.push((who.clone(), a, b));
            }
        }
    }
    pieces.sort_by(|x, y| x.1.total_cmp(&y.1));
    pieces
}

#[test]
fn voice_embedding_same_speaker_is_closer_on_sample_wav() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let wav = sample_wav();
    let pieces = single_speaker_pieces();
    assert_eq!(pieces.len(), 10, "{pieces:?}");
    let at = |t: f64| ((t * f64::from(SAMPLE_RATE)).round() as usize).min(wav.len());
    let embedded: Vec<(String, Embedding)> = pieces
        .iter()
        .map(|(who, s, e)| {
            let x = emb.embed(&wav[at(*s)..at(*e)]).expect("run").expect("embedding");
            (who.clone(), x)
        })
        .collect();
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..embedded.len() {
        for j in i + 1..embedded.len() {
            let c = embedded[i].1.cosine(&embedded[j].1);
            if embedded[i].0 == embedded[j].0 {
                same.push(c);
            } else {
                diff.push(c);
            }
        }
    }
    let stats = |v: &[f32]| {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let min = v.iter().copied().fold(f32::INFINITY, f32::min);
        let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (mean, min, max)
    };
    let (sm, smin, smax) = stats(&same);
    let (dm, dmin, dmax) = stats(&diff);
    eprintln!(
        "sample.wav pieces: same speaker {} pairs mean {sm:.3} (min {smin:.3}, max {smax:.3}); different {} pairs mean {dm:.3} (min {dmin:.3}, max {dmax:.3})",
        same.len(),
        diff.len()
    );
    assert_eq!((same.len(), diff.len()), (20, 25));
    assert!(sm > dm, "same-speaker mean {sm} <= different-speaker mean {dm}");
    // The Python reference on the same pieces: same 0.806, different 0.687.
    assert!((sm - 0.806).abs() < 0.01 && (dm - 0.687).abs() < 0.01);
}
