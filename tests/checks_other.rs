//! The expression, voice, background and identity checks: table-driven tests on synthetic observations (each case
//! would fail if the logic were wrong), and the voice check on real recordings (`docs/calibration-voice.md`).

mod common;

use facereview::checks::background::{self, BackgroundConfig};
use facereview::checks::expression::{self, ExpressionConfig};
use facereview::checks::identity::{self, IdentityConfig};
use facereview::checks::voice::{self, VoiceConfig};
use facereview::checks::{Evidence, EvidenceState, Finding};
use facereview::infer::models::Embedding;
use facereview::infer::models::expression::LABELS;
use facereview::interview::{DeclaredBusiness, Interview, QuestionEvent};
use facereview::observations::{
    ExpressionSample, FaceEmbeddingSample, FaceSample, LabelProb, ObjectBox, ObjectSample, Observations, SceneSample,
    SegmentationSample, TextBox, TextSample, VoiceSample,
};
use facereview::replay::{ReplayOptions, observe};
use facereview::types::{FrameIndex, MediaDuration, MediaTime, Pii, TimeRange};

fn find<'a>(ev: &'a [Evidence], signal: &str) -> &'a Evidence {
    ev.iter().find(|e| e.signal == signal).unwrap_or_else(|| panic!("no {signal} in {ev:#?}"))
}

fn t(ms: u64) -> MediaTime {
    MediaTime::from_millis(ms)
}

fn is_missing(e: &Evidence) -> bool {
    matches!(e.state, EvidenceState::Missing { .. })
}

fn is_unavailable(e: &Evidence) -> bool {
    matches!(e.state, EvidenceState::Unavailable { .. })
}

fn confidence(e: &Evidence) -> f32 {
    match e.state {
        EvidenceState::Observed { confidence, .. } => confidence,
        _ => panic!("not observed: {e:?}"),
    }
}

fn video_obs() -> Observations {
    Observations { has_video: true, ..Default::default() }
}

// ---- expression -------------------------------------------------------------------------------------------------

const NEUTRAL: usize = 6;

fn label(name: &str) -> usize {
    LABELS.iter().position(|l| *l == name).expect("label")
}

/// Expression samples every `step_ms` for `secs` seconds: neutral 0.9 and 0.1/6 elsewhere, except during each
/// `(label, start ms, length ms, probability)` rise, where that label takes the probability and neutral the rest.
fn expression_obs(step_ms: u64, secs: u64, rises: &[(&str, u64, u64, f32)]) -> Observations {
    let mut obs = video_obs();
    let mut ms = 0;
    let mut i = 0;
    while ms < secs * 1000 {
        let mut probs = [0.1 / 6.0; 7];
        probs[NEUTRAL] = 0.9;
        for &(name, start, len, p) in rises {
            if ms >= start && ms < start + len {
                probs = [0.0; 7];
                probs[label(name)] = p;
                probs[NEUTRAL] = 1.0 - p;
            }
        }
        obs.video.expression.push(ExpressionSample { t: t(ms), frame: FrameIndex(i * 3), probs });
        ms += step_ms;
        i += 1;
    }
    obs
}

fn questions() -> Interview {
    let q = |id: &str, text: &str, at: u64, until: Option<u64>| QuestionEvent {
        id: id.into(),
        text: text.into(),
        asked_at: t(at),
        until: until.map(t),
    };
    Interview {
        questions: vec![
            q("q1", "What is your name?", 0, Some(2500)),
            q("q2", "How much do you want to borrow?", 5000, None),
            q("q3", "What will you use it for?", 10_000, None),
        ],
        ..Default::default()
    }
}

#[test]
fn expression_spikes_are_brief_rises_over_the_own_baseline_tied_to_the_question() {
    struct Case {
        name: &'static str,
        step_ms: u64,
        rises: Vec<(&'static str, u64, u64, f32)>,
        /// Expected Concern (emotion, question id or "outside"), or None for a single Neutral.
        want: Option<(&'static str, &'static str)>,
    }
    let cases = vec![
        Case {
            name: "300 ms fear during q2",
            step_ms: 100,
            rises: vec![("fear", 6000, 300, 0.8)],
            want: Some(("fear", "q2")),
        },
        Case {
            name: "2 s fear is sustained, not a spike",
            step_ms: 100,
            rises: vec![("fear", 6000, 2000, 0.8)],
            want: None,
        },
        Case { name: "one-sample blip is noise", step_ms: 100, rises: vec![("fear", 6000, 100, 0.9)], want: None },
        Case { name: "happy is not watched", step_ms: 100, rises: vec![("happy", 6000, 300, 0.9)], want: None },
        Case {
            name: "surprise during the last question",
            step_ms: 100,
            rises: vec![("surprise", 12_000, 300, 0.7)],
            want: Some(("surprise", "q3")),
        },
        Case {
            name: "anger after q1 ended, before q2",
            step_ms: 100,
            rises: vec![("angry", 3000, 300, 0.7)],
            want: Some(("angry", "outside")),
        },
        Case {
            name: "disgust at 5 Hz over two samples",
            step_ms: 200,
            rises: vec![("disgust", 7000, 400, 0.7)],
            want: Some(("disgust", "q2")),
        },
        Case {
            name: "small rise below the threshold",
            step_ms: 100,
            rises: vec![("fear", 6000, 300, 0.2)],
            want: None,
        },
    ];
    for c in cases {
        let obs = expression_obs(c.step_ms, 15, &c.rises);
        let ev = expression::evaluate(&obs, &questions(), &ExpressionConfig::default());
        match c.want {
            None => {
                assert_eq!(ev.len(), 1, "{}: {ev:#?}", c.name);
                assert_eq!(ev[0].finding(), Some(Finding::Neutral), "{}: {ev:#?}", c.name);
                assert_eq!(ev[0].signal, "expression.spike");
            }
            Some((emotion, q)) => {
                assert_eq!(ev.len(), 1, "{}: {ev:#?}", c.name);
                let e = &ev[0];
                assert_eq!(e.finding(), Some(Finding::Concern), "{}: {e:#?}", c.name);
                assert!(e.summary.contains(emotion), "{}: {}", c.name, e.summary);
                if q == "outside" {
                    assert!(e.summary.contains("outside any question"), "{}: {}", c.name, e.summary);
                } else {
                    assert!(e.summary.contains(&format!("question {q}")), "{}: {}", c.name, e.summary);
                }
                let c_ = confidence(e);
                assert!((0.2..=0.45).contains(&c_), "{}: weak evidence, got {c_}", c.name);
                // The reference covers the rise.
                let (_, start, len, _) = c.rises[0];
                let r = e.at[0].range;
                assert!(r.start <= t(start) && r.end >= t(start + len - c.step_ms), "{}: {r:?}", c.name);
                assert!(r.duration() <= MediaDuration::from_millis(500), "{}: {r:?}", c.name);
            }
        }
    }
}

#[test]
fn expression_baseline_is_the_persons_own() {
    // A person whose fear flickers around 0.5: a rise to 0.7 is within their range; the same 0.2-probability
    // rise from a calm 0.05 baseline is not reported either (below `min_rise`), but a rise to 0.35 from 0.05 is.
    let mut nervous = expression_obs(100, 15, &[]);
    for (i, s) in nervous.video.expression.iter_mut().enumerate() {
        let f = if i % 2 == 0 { 0.4 } else { 0.6 };
        s.probs = [0.0; 7];
        s.probs[label("fear")] = f;
        s.probs[NEUTRAL] = 1.0 - f;
    }
    for s in nervous.video.expression.iter_mut().filter(|s| s.t >= t(6000) && s.t < t(6300)) {
        s.probs[label("fear")] = 0.7;
        s.probs[NEUTRAL] = 0.3;
    }
    let ev = expression::evaluate(&nervous, &questions(), &ExpressionConfig::default());
    assert_eq!(ev[0].finding(), Some(Finding::Neutral), "{ev:#?}");

    let mut calm = expression_obs(100, 15, &[]);
    for s in calm.video.expression.iter_mut() {
        s.probs[label("fear")] = 0.05;
    }
    for s in calm.video.expression.iter_mut().filter(|s| s.t >= t(6000) && s.t < t(6300)) {
        s.probs[label("fear")] = 0.35;
    }
    let ev = expression::evaluate(&calm, &questions(), &ExpressionConfig::default());
    assert_eq!(ev[0].finding(), Some(Finding::Concern), "{ev:#?}");
}

#[test]
fn expression_missing_and_unavailable_are_explicit() {
    let cfg = ExpressionConfig::default();
    let iv = questions();
    let no_video = Observations::default();
    assert!(is_missing(&expression::evaluate(&no_video, &iv, &cfg)[0]));
    assert!(is_missing(&expression::evaluate(&video_obs(), &iv, &cfg)[0]), "no samples");
    assert!(is_missing(&expression::evaluate(&expression_obs(100, 0, &[]), &iv, &cfg)[0]));
    let few = expression_obs(1000, 5, &[]);
    let ev = expression::evaluate(&few, &iv, &cfg);
    assert!(is_missing(&ev[0]) && ev[0].summary.contains("too few"), "{ev:?}");
    let mut gone = expression_obs(100, 15, &[("fear", 6000, 300, 0.8)]);
    gone.unavailable.insert("expression".into(), "file missing".into());
    let ev = expression::evaluate(&gone, &iv, &cfg);
    assert!(is_unavailable(&ev[0]), "{ev:?}");
    // Non-finite probabilities are skipped, not propagated.
    let mut nan = expression_obs(100, 15, &[("fear", 6000, 300, 0.8)]);
    nan.video.expression[3].probs[0] = f32::NAN;
    let ev = expression::evaluate(&nan, &iv, &cfg);
    assert_eq!(ev[0].finding(), Some(Finding::Concern));
}

#[test]
fn smoothed_timeline_drops_single_sample_blips_and_keeps_runs() {
    let obs = expression_obs(100, 2, &[("fear", 500, 100, 0.9), ("fear", 1000, 200, 0.9)]);
    let line = expression::smoothed_timeline(&obs.video.expression, &ExpressionConfig::default());
    assert_eq!(line.len(), obs.video.expression.len());
    let fear = label("fear");
    let at = |ms: u64| line.iter().find(|p| p.t == t(ms)).expect("point").probs[fear];
    assert!(at(500) < 0.1, "blip removed: {}", at(500));
    assert!(at(1000) > 0.8 && at(1100) > 0.8, "two-sample run kept");
    assert!(at(900) < 0.1 && at(1200) < 0.1, "run not widened");
    // No smoothing = the raw values.
    let raw = expression::smoothed_timeline(
        &obs.video.expression,
        &ExpressionConfig { smoothing_samples: 1, ..Default::default() },
    );
    assert!(raw.iter().find(|p| p.t == t(500)).expect("point").probs[fear] > 0.8);
}

#[test]
fn question_at_uses_until_then_the_next_question() {
    let iv = questions();
    let id = |ms: u64| expression::question_at(&iv.questions, t(ms)).map(|q| q.id.as_str());
    assert_eq!(id(0), Some("q1"));
    assert_eq!(id(2499), Some("q1"));
    assert_eq!(id(2500), None, "q1 ended at its `until`");
    assert_eq!(id(5000), Some("q2"));
    assert_eq!(id(9999), Some("q2"));
    assert_eq!(id(10_000), Some("q3"));
    assert_eq!(id(99_000), Some("q3"), "the last question is open-ended");
    assert_eq!(expression::question_at(&[], t(1000)), None);
}

// ---- voice (synthetic) ------------------------------------------------------------------------------------------

/// A 4-d voice embedding near axis `axis` (0 = speaker A, 1 = speaker B), with a little per-piece variation.
fn voice_emb(axis: usize, k: usize) -> Embedding {
    let mut v = vec![0.0f32; 4];
    v[axis] = 1.0;
    v[2 + k % 2] = 0.15 + 0.05 * (k % 3) as f32;
    Embedding::normalised(v).expect("non-zero")
}

/// One piece per entry: (speaker axis, seconds); pieces follow each other with 0.2 s gaps.
fn voices(spec: &[(usize, f64)]) -> Observations {
    let mut obs = Observations { has_audio: true, ..Default::default() };
    let mut at = 0.0;
    for (k, &(axis, secs)) in spec.iter().enumerate() {
        let range = TimeRange::new(MediaTime::from_secs_f64(at), MediaTime::from_secs_f64(at + secs));
        obs.audio.voices.push(VoiceSample { range, embedding: Pii::new(voice_emb(axis, k)) });
        at += secs + 0.2;
    }
    obs
}

#[test]
fn second_speaker_needs_a_consistent_minority_with_enough_speech() {
    let a = |n: usize| vec![(0usize, 1.5f64); n];
    let b = |n: usize, s: f64| vec![(1usize, s); n];
    let cat = |parts: Vec<Vec<(usize, f64)>>| parts.concat();
    struct Case {
        name: &'static str,
        spec: Vec<(usize, f64)>,
        want: Option<Finding>,
    }
    let cases = vec![
        Case { name: "one voice", spec: a(10), want: Some(Finding::Supports) },
        Case { name: "a second voice for 4.5 s", spec: cat(vec![a(6), b(3, 1.5), a(4)]), want: Some(Finding::Concern) },
        Case { name: "the second voice speaks first", spec: cat(vec![b(3, 1.5), a(8)]), want: Some(Finding::Concern) },
        Case { name: "one odd piece is stray", spec: cat(vec![a(6), b(1, 2.5), a(4)]), want: Some(Finding::Supports) },
        Case {
            name: "2.4 s of a second voice is too little",
            spec: cat(vec![a(6), b(2, 1.2), a(4)]),
            want: Some(Finding::Supports),
        },
        Case {
            name: "pieces under 1 s are left out",
            spec: cat(vec![a(6), b(5, 0.8), a(4)]),
            want: Some(Finding::Supports),
        },
        Case { name: "one piece", spec: a(1), want: None },
        Case { name: "no piece", spec: vec![], want: None },
    ];
    for c in cases {
        let obs = voices(&c.spec);
        let ev = voice::evaluate(&obs, &Interview::default(), &VoiceConfig::default());
        let e = find(&ev, "voice.second_speaker");
        assert_eq!(e.finding(), c.want, "{}: {e:#?}", c.name);
        if c.want.is_none() {
            assert!(is_missing(e), "{}: {e:?}", c.name);
        }
        if c.want == Some(Finding::Concern) {
            // `at` covers exactly the B pieces (contiguous ones joined).
            let b_ranges: Vec<TimeRange> =
                obs.audio.voices.iter().zip(&c.spec).filter(|(_, s)| s.0 == 1).map(|(v, _)| v.range).collect();
            assert_eq!(e.at.len(), 1, "{}: {:?}", c.name, e.at);
            assert_eq!(e.at[0].range.start, b_ranges[0].start, "{}", c.name);
            assert_eq!(e.at[0].range.end, b_ranges[b_ranges.len() - 1].end, "{}", c.name);
            assert!(e.summary.contains("4.5 s"), "{}: {}", c.name, e.summary);
            assert!(confidence(e) >= 0.6, "{}: clearly different voices: {}", c.name, confidence(e));
        }
    }
}

#[test]
fn voice_clusters_put_the_main_voice_first() {
    let obs = voices(&[(1, 1.5), (1, 1.5), (0, 1.5), (0, 1.5), (0, 1.5)]);
    let cl = voice::speaker_clusters(&obs.audio.voices, &VoiceConfig::default());
    assert_eq!(cl.len(), 2);
    assert_eq!(cl[0].pieces, vec![2, 3, 4]);
    assert_eq!(cl[1].pieces, vec![0, 1]);
    assert!(cl[0].link_to_main.is_none() && cl[1].link_to_main.is_some_and(|l| l < 0.3));
    assert!((cl[0].seconds - 4.5).abs() < 1e-6);
}

#[test]
fn enrolled_voice_match_is_three_way() {
    let obs = voices(&[(0, 1.5); 6]);
    let mean_a =
        Embedding::mean(&obs.audio.voices.iter().map(|v| v.embedding.expose()).collect::<Vec<_>>()).expect("mean");
    // A vector at a chosen cosine from A's mean.
    let at_cos = |c: f32| {
        let mut v: Vec<f32> = mean_a.0.iter().map(|x| x * c).collect();
        let s = (1.0 - c * c).max(0.0).sqrt();
        v[1] += s; // axis 1 is orthogonal to mean_a
        Embedding::normalised(v).expect("non-zero")
    };
    let cases: Vec<(&str, Option<Embedding>, Option<Finding>)> = vec![
        ("same voice", Some(mean_a.clone()), Some(Finding::Supports)),
        ("0.9", Some(at_cos(0.9)), Some(Finding::Supports)),
        ("0.7 is the grey zone", Some(at_cos(0.7)), Some(Finding::Neutral)),
        ("0.5", Some(at_cos(0.5)), Some(Finding::Concern)),
        ("another voice", Some(voice_emb(1, 0)), Some(Finding::Concern)),
        ("no enrolment", None, None),
    ];
    for (name, enrolled, want) in cases {
        let iv = Interview { enrolled_voice: enrolled.map(Pii::new), ..Default::default() };
        let ev = voice::evaluate(&obs, &iv, &VoiceConfig::default());
        let e = find(&ev, "voice.enrolled_match");
        assert_eq!(e.finding(), want, "{name}: {e:#?}");
        if want.is_none() {
            assert!(is_missing(e), "{name}");
        }
        if want == Some(Finding::Concern) {
            assert!(confidence(e) <= 0.7, "{name}: cross-recording scores are weak");
        }
    }
    let iv = Interview { enrolled_voice: Some(Pii::new(Embedding(vec![1.0; 3]))), ..Default::default() };
    let ev = voice::evaluate(&obs, &iv, &VoiceConfig::default());
    assert!(is_unavailable(find(&ev, "voice.enrolled_match")), "dimension mismatch");
}

#[test]
fn blocklist_names_the_matching_voice() {
    let blocked = |v: Vec<(&str, Embedding)>| Interview {
        blocked_voices: v.into_iter().map(|(id, e)| (id.to_owned(), Pii::new(e))).collect(),
        ..Default::default()
    };
    let b_voice = Embedding::normalised(vec![0.0, 1.0, 0.17, 0.17]).expect("non-zero");
    let other = Embedding::normalised(vec![0.0, 0.0, 0.0, 1.0]).expect("non-zero");
    let with_b = voices(&[(0, 1.5), (0, 1.5), (0, 1.5), (1, 1.5), (1, 1.5), (1, 1.5), (0, 1.5)]);
    let only_a = voices(&[(0, 1.5); 6]);
    let one_b = voices(&[(0, 1.5), (0, 1.5), (0, 1.5), (1, 1.5), (0, 1.5), (0, 1.5)]);
    let only_b = voices(&[(1, 1.5); 5]);
    let cases: Vec<(&str, &Observations, Interview, Option<Finding>)> = vec![
        (
            "fraud voice speaks",
            &with_b,
            blocked(vec![("other-3", other.clone()), ("fraud-17", b_voice.clone())]),
            Some(Finding::Concern),
        ),
        ("fraud voice is the applicant", &only_b, blocked(vec![("fraud-17", b_voice.clone())]), Some(Finding::Concern)),
        ("no blocked voice speaks", &only_a, blocked(vec![("fraud-17", b_voice.clone())]), Some(Finding::Neutral)),
        ("one piece is enough", &one_b, blocked(vec![("fraud-17", b_voice.clone())]), Some(Finding::Concern)),
        ("no blocklist", &with_b, Interview::default(), None),
    ];
    for (name, obs, iv, want) in cases {
        let ev = voice::evaluate(obs, &iv, &VoiceConfig::default());
        let e = find(&ev, "voice.blocklist");
        assert_eq!(e.finding(), want, "{name}: {e:#?}");
        if want == Some(Finding::Concern) {
            assert!(e.summary.contains("fraud-17"), "{name}: {}", e.summary);
            assert!(!e.at.is_empty(), "{name}");
            assert!(confidence(e) < 0.9, "{name}: never an automatic reject");
        }
        if want.is_none() {
            assert!(is_missing(e), "{name}");
        }
    }
    // More matching pieces, more confidence.
    let conf = |obs: &Observations| {
        confidence(find(
            &voice::evaluate(obs, &blocked(vec![("fraud-17", b_voice.clone())]), &VoiceConfig::default()),
            "voice.blocklist",
        ))
    };
    assert!(
        conf(&one_b) < conf(&with_b) && conf(&with_b) < conf(&only_b),
        "{} {} {}",
        conf(&one_b),
        conf(&with_b),
        conf(&only_b)
    );
}

#[test]
fn voice_missing_and_unavailable_cover_all_three_signals() {
    let iv = Interview::default();
    let cfg = VoiceConfig::default();
    let ev = voice::evaluate(&Observations::default(), &iv, &cfg);
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(is_missing), "no audio: {ev:?}");
    let mut obs = voices(&[(0, 1.5); 4]);
    obs.unavailable.insert("voice_embedding".into(), "bad sha256".into());
    let ev = voice::evaluate(&obs, &iv, &cfg);
    assert!(ev.iter().all(is_unavailable), "{ev:?}");
    for s in ["voice.second_speaker", "voice.enrolled_match", "voice.blocklist"] {
        find(&ev, s);
    }
}

// ---- voice (real recordings) ------------------------------------------------------------------------------------

/// Replay options with the production audio path (VAD segments cut into pieces of at most `piece_ms`) and each
/// vision task run only once (its interval is longer than any test file), to keep the test quick.
fn audio_options(piece_ms: u64) -> ReplayOptions {
    let mut o = ReplayOptions { max_voice_piece: MediaDuration::from_millis(piece_ms), ..Default::default() };
    for t in o.sampling.tasks.iter_mut() {
        t.interval_ms = 1_000_000;
        t.max_interval_ms = 1_000_000;
    }
    o
}

/// The voice pieces the replay pipeline makes of a file.
fn real_voices(rt: &facereview::infer::Runtime, path: &std::path::Path, piece_ms: u64) -> Vec<VoiceSample> {
    observe(path, rt, &audio_options(piece_ms)).expect("replay").obs.audio.voices
}

/// Speaker turns: (speaker, start s, end s).
type Turns = Vec<(String, f64, f64)>;

use common::rttm;

/// The speaker who alone talks most within `r` per the turns, with the share of `r` that speaker alone covers.
fn speaker_of(r: &TimeRange, turns: &[(String, f64, f64)]) -> (String, f64) {
    let (a, b) = (r.start.as_secs_f64(), r.end.as_secs_f64());
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let steps = (((b - a) / 0.01).round() as usize).max(1);
    for k in 0..steps {
        let t = a + (k as f64 + 0.5) * 0.01;
        let who: Vec<&String> = turns.iter().filter(|x| x.1 <= t && t < x.2).map(|x| &x.0).collect();
        if who.len() == 1 {
            *counts.entry(who[0].clone()).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|c| c.1).map(|(w, c)| (w, c as f64 / steps as f64)).unwrap_or(("-".into(), 0.0))
}

fn obs_with_voices(voices: Vec<VoiceSample>) -> Observations {
    let mut obs = Observations { has_audio: true, ..Default::default() };
    obs.audio.voices = voices;
    obs
}

/// The pieces moved later by `by_s` seconds (to put two recordings one after the other in a synthetic session).
fn shifted(v: &[VoiceSample], by_s: f64) -> Vec<VoiceSample> {
    let d = MediaDuration::from_secs_f64(by_s);
    v.iter()
        .map(|s| VoiceSample {
            range: TimeRange::new(s.range.start + d, s.range.end + d),
            embedding: s.embedding.clone(),
        })
        .collect()
}

fn mean_voice(v: &[VoiceSample]) -> Embedding {
    Embedding::mean(&v.iter().map(|p| p.embedding.expose()).collect::<Vec<_>>()).expect("mean voice")
}

fn stats(v: &[f32]) -> String {
    if v.is_empty() {
        return "n=0".into();
    }
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    let min = v.iter().copied().fold(f32::INFINITY, f32::min);
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    format!("n={} mean {mean:.3} min {min:.3} max {max:.3}", v.len())
}

#[test]
fn second_speaker_is_found_in_sample_wav_and_not_in_single_speaker_recordings() {
    let rt = common::runtime();
    let cfg = VoiceConfig::default();
    let piece = voice::CALIBRATED_PIECE_MS;

    // sample.wav: two people talking; the minority voice must be found, and where it is found must be mostly
    // speaker91's turns (the voice with less speech in the main cluster's place).
    let wav = real_voices(&rt, &common::media("sample.wav"), piece);
    let ev = voice::evaluate(&obs_with_voices(wav.clone()), &Interview::default(), &cfg);
    let e = find(&ev, "voice.second_speaker");
    eprintln!("sample.wav: {:?} {}", e.state, e.summary);
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    let turns = rttm();
    let clusters = voice::speaker_clusters(&wav, &cfg);
    let who = |c: &voice::SpeakerCluster| {
        let mut n: std::collections::BTreeMap<String, usize> = Default::default();
        for &i in &c.pieces {
            *n.entry(speaker_of(&wav[i].range, &turns).0).or_default() += 1;
        }
        n.into_iter().max_by_key(|x| x.1).map(|x| x.0).unwrap_or_default()
    };
    assert_ne!(who(&clusters[0]), who(&clusters[1]), "the two largest clusters are two different speakers");
    let flagged: f64 = e.at.iter().map(|r| r.range.duration().as_secs_f64()).sum();
    assert!(flagged >= 3.0, "{:?}", e.at);

    // One speaker per recording: never a Concern (short clips may be Missing or Supports).
    let single = [
        common::media("cate_blanch.mp3"),
        common::media("cate_blanch_2.mp3"),
        common::media("heath_ledger.mp3"),
        common::shared("talking-heads/vrt_face_1.mp4"),
        common::shared("talking-heads/vrt_face_2.mp4"),
        common::shared("talking-heads/vrt_face_3.mp4"),
    ];
    let mut by_file = Vec::new();
    for p in &single {
        let v = real_voices(&rt, p, piece);
        let ev = voice::evaluate(&obs_with_voices(v.clone()), &Interview::default(), &cfg);
        let e = find(&ev, "voice.second_speaker");
        eprintln!("{}: {:?} {}", p.display(), e.state, e.summary);
        assert_ne!(e.finding(), Some(Finding::Concern), "{}: {e:#?}", p.display());
        by_file.push(v);
    }
    let cate = find(
        &voice::evaluate(&obs_with_voices(by_file[0].clone()), &Interview::default(), &cfg),
        "voice.second_speaker",
    )
    .finding();
    assert_eq!(cate, Some(Finding::Supports), "cate_blanch.mp3 (7.9 s) is one speaker");

    // The same woman in two recordings is one speaker; a man recorded apart from a woman is two.
    let same = [by_file[0].clone(), shifted(&by_file[1], 60.0)].concat();
    let e = voice::evaluate(&obs_with_voices(same), &Interview::default(), &cfg);
    assert_ne!(find(&e, "voice.second_speaker").finding(), Some(Finding::Concern), "{e:#?}");
    let two = [by_file[3].clone(), shifted(&by_file[5], 60.0)].concat();
    let e = voice::evaluate(&obs_with_voices(two), &Interview::default(), &cfg);
    assert_eq!(find(&e, "voice.second_speaker").finding(), Some(Finding::Concern), "{e:#?}");

    // The same recording cut into 3 s pieces (the replay default until changed): the pieces straddle the turns
    // and the check says its calibration does not hold.
    let long = real_voices(&rt, &common::media("sample.wav"), 3000);
    let e = voice::evaluate(&obs_with_voices(long), &Interview::default(), &cfg);
    let e = find(&e, "voice.second_speaker");
    eprintln!("sample.wav, 3 s pieces: {:?} {}", e.state, e.summary);
    if e.finding() == Some(Finding::Supports) {
        assert!(e.summary.contains("calibrated"), "{}", e.summary);
        assert!(confidence(e) < 0.4);
    }
}

#[test]
fn enrolment_and_blocklist_on_real_voices() {
    let rt = common::runtime();
    let cfg = VoiceConfig::default();
    let piece = voice::CALIBRATED_PIECE_MS;
    let cate = real_voices(&rt, &common::media("cate_blanch.mp3"), piece);
    let cate2 = real_voices(&rt, &common::media("cate_blanch_2.mp3"), piece);
    let heath = real_voices(&rt, &common::media("heath_ledger.mp3"), piece);
    let vrt1 = real_voices(&rt, &common::shared("talking-heads/vrt_face_1.mp4"), piece);
    let wav = real_voices(&rt, &common::media("sample.wav"), piece);
    let enrolled = |e: Embedding| Interview { enrolled_voice: Some(Pii::new(e)), ..Default::default() };
    let (mc, mc2, mh, mv) = (mean_voice(&cate), mean_voice(&cate2), mean_voice(&heath), mean_voice(&vrt1));
    eprintln!(
        "means: cate/cate_2 {:.3} cate/heath {:.3} cate/vrt1 {:.3} heath/vrt1 {:.3}",
        mc.cosine(&mc2),
        mc.cosine(&mh),
        mc.cosine(&mv),
        mh.cosine(&mv)
    );
    // Enrolled on another recording of the same woman: not a Concern (the cross-recording score is low: grey
    // zone). Enrolled as a man: Concern.
    let e = voice::evaluate(&obs_with_voices(cate.clone()), &enrolled(mc2.clone()), &cfg);
    let e = find(&e, "voice.enrolled_match");
    eprintln!("cate vs cate_2 enrolment: {:?} {}", e.state, e.summary);
    assert_ne!(e.finding(), Some(Finding::Concern), "{e:#?}");
    for (name, other) in [("heath", &mh), ("vrt1", &mv)] {
        let e = voice::evaluate(&obs_with_voices(cate.clone()), &enrolled(other.clone()), &cfg);
        let e = find(&e, "voice.enrolled_match");
        eprintln!("cate vs {name} enrolment: {:?} {}", e.state, e.summary);
        assert_eq!(e.finding(), Some(Finding::Concern), "{name}: {e:#?}");
    }
    // Enrolled from the very same recording: Supports.
    let e = voice::evaluate(&obs_with_voices(cate.clone()), &enrolled(mc.clone()), &cfg);
    assert_eq!(find(&e, "voice.enrolled_match").finding(), Some(Finding::Supports));

    // Blocklist: a voiceprint of speaker91 made from two of their pieces in sample.wav catches their other pieces
    // (same recording conditions: the favourable case); the other recordings' voices are not matched.
    let turns = rttm();
    let s91: Vec<usize> = (0..wav.len())
        .filter(|&i| {
            let (w, p) = speaker_of(&wav[i].range, &turns);
            w == "speaker91" && p >= 0.9
        })
        .collect();
    assert!(s91.len() >= 4, "{}", s91.len());
    let print: Vec<VoiceSample> = s91[..2].iter().map(|&i| wav[i].clone()).collect();
    let rest: Vec<VoiceSample> =
        wav.iter().enumerate().filter(|(i, _)| !s91[..2].contains(i)).map(|(_, v)| v.clone()).collect();
    let blocked = Interview {
        blocked_voices: vec![
            ("heath".into(), Pii::new(mh.clone())),
            ("vrt1".into(), Pii::new(mv.clone())),
            ("spk91".into(), Pii::new(mean_voice(&print))),
        ],
        ..Default::default()
    };
    let e = voice::evaluate(&obs_with_voices(rest), &blocked, &cfg);
    let e = find(&e, "voice.blocklist");
    eprintln!("sample.wav vs blocklist: {:?} {}", e.state, e.summary);
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    assert!(e.summary.contains("spk91"), "{}", e.summary);
    let e = voice::evaluate(&obs_with_voices(cate.clone()), &blocked, &cfg);
    let e = find(&e, "voice.blocklist");
    eprintln!("cate vs blocklist: {:?} {}", e.state, e.summary);
    assert_eq!(e.finding(), Some(Finding::Neutral), "{e:#?}");

    // The score distributions the thresholds rest on (printed for the calibration note).
    let mut diff = Vec::new();
    for (a, b) in [(&cate, &mh), (&cate2, &mh), (&heath, &mc), (&vrt1, &mc), (&vrt1, &mh), (&cate, &mv)] {
        diff.extend(a.iter().map(|p| p.embedding.expose().cosine(b)));
    }
    let same: Vec<f32> = cate.iter().map(|p| p.embedding.expose().cosine(&mc2)).collect();
    eprintln!("piece vs another recording's mean: same speaker {}; different {}", stats(&same), stats(&diff));
}

// ---- background -------------------------------------------------------------------------------------------------

fn declared(name: &str, category: &str) -> Interview {
    Interview {
        declared: Some(DeclaredBusiness {
            name: name.into(),
            address: None,
            category: category.into(),
            lat: 31.2,
            lon: 121.5,
            coord_system: Default::default(),
        }),
        ..Default::default()
    }
}

fn lp(label: &str, prob: f32) -> LabelProb {
    LabelProb { label: label.into(), prob }
}

/// Scene samples every 2 s, each with the same category probabilities.
fn scene_obs(n: u64, categories: &[(&str, f32)]) -> Observations {
    let mut obs = video_obs();
    for i in 0..n {
        obs.video.scene.push(SceneSample {
            t: t(i * 2000),
            frame: FrameIndex(i * 60),
            top: vec![lp("restaurant", 0.3 + 0.05 * (i % 3) as f32)],
            categories: categories.iter().map(|(l, p)| lp(l, *p)).collect(),
        });
    }
    obs
}

#[test]
fn scene_category_against_the_declared_business() {
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, f32)>, Option<Finding>);
    let cases: Vec<Case> = vec![
        (
            "fits",
            "restaurant_cafe_food",
            vec![("restaurant_cafe_food", 0.4), ("home_living_room", 0.05)],
            Some(Finding::Supports),
        ),
        (
            "looks like a home",
            "restaurant_cafe_food",
            vec![("home_living_room", 0.5), ("restaurant_cafe_food", 0.01)],
            Some(Finding::Concern),
        ),
        (
            "a screen is not a place",
            "restaurant_cafe_food",
            vec![("screen_or_display", 0.6), ("restaurant_cafe_food", 0.1)],
            Some(Finding::Supports),
        ),
        ("says little", "grocery_retail", vec![("office_desk", 0.01)], Some(Finding::Neutral)),
        (
            "mixed",
            "grocery_retail",
            vec![("grocery_retail", 0.1), ("home_living_room", 0.2), ("office_desk", 0.15)],
            Some(Finding::Neutral),
        ),
        ("unknown category", "spaceport", vec![("office_desk", 0.5)], None),
    ];
    for (name, cat, cats, want) in cases {
        let ev = background::evaluate(&scene_obs(5, &cats), &declared("Lucky Star", cat), &BackgroundConfig::default());
        let e = find(&ev, "background.scene_category");
        assert_eq!(e.finding(), want, "{name}: {e:#?}");
        if want == Some(Finding::Concern) {
            assert!(e.summary.contains("home_living_room"), "{name}: {}", e.summary);
            assert!(!e.at.is_empty());
        }
        if want.is_none() {
            assert!(is_missing(e), "{name}");
        }
    }
    let ev = background::evaluate(
        &scene_obs(5, &[("office_desk", 0.5)]),
        &Interview::default(),
        &BackgroundConfig::default(),
    );
    assert!(is_missing(find(&ev, "background.scene_category")), "no declared business");
    let mut obs = scene_obs(5, &[("office_desk", 0.5)]);
    obs.unavailable.insert("scene".into(), "gone".into());
    let ev = background::evaluate(&obs, &declared("x", "office_desk"), &BackgroundConfig::default());
    assert!(is_unavailable(find(&ev, "background.scene_category")));
}

#[test]
fn default_scene_categories_are_the_files() {
    let text = std::fs::read_to_string(common::root().join("models/scene_categories.toml")).expect("categories file");
    let mut in_file: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[category.").and_then(|r| r.strip_suffix(']')).map(str::to_owned))
        .collect();
    in_file.sort();
    let mut ours = BackgroundConfig::default().categories;
    ours.sort();
    assert_eq!(ours, in_file);
}

/// Face samples every 100 ms for `secs` s; `faces` gives the count at a time (ms).
fn faces_obs(secs: u64, faces: impl Fn(u64) -> usize) -> Observations {
    let mut obs = video_obs();
    for i in 0..secs * 10 {
        let ms = i * 100;
        obs.video.faces.push(FaceSample {
            t: t(ms),
            frame: FrameIndex(i * 3),
            faces: faces(ms),
            bbox: Some([100.0, 80.0, 120.0, 150.0]),
            score: Some(0.9),
        });
    }
    obs
}

fn object_sample(ms: u64, persons: usize, boxes: &[(&str, [f32; 4])]) -> ObjectSample {
    ObjectSample {
        t: t(ms),
        frame: FrameIndex(ms / 33),
        persons,
        screens: boxes.iter().filter(|b| b.0 == "tv" || b.0 == "laptop").count(),
        phones: 0,
        detections: boxes.iter().map(|(l, b)| ObjectBox { label: (*l).into(), score: 0.8, bbox: *b }).collect(),
    }
}

#[test]
fn other_people_must_stay_in_view() {
    let cfg = BackgroundConfig::default();
    let iv = Interview::default();
    // A second face for 3 s (6.0-9.0 s).
    let e = background::evaluate(&faces_obs(20, |ms| if (6000..9000).contains(&ms) { 2 } else { 1 }), &iv, &cfg);
    let e = find(&e, "background.other_people");
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    assert_eq!(e.at.len(), 1);
    assert_eq!((e.at[0].range.start, e.at[0].range.end), (t(6000), t(9000)));
    // A 300 ms flicker (a reflection, a detector glitch): not sustained.
    let e = background::evaluate(&faces_obs(20, |ms| if (6000..6300).contains(&ms) { 2 } else { 1 }), &iv, &cfg);
    assert_eq!(find(&e, "background.other_people").finding(), Some(Finding::Supports));
    // Two persons in three consecutive object samples (2 s apart): 6 s.
    let mut obs = faces_obs(20, |_| 1);
    for i in 0..10 {
        obs.video.objects.push(object_sample(i * 2000, if (4..7).contains(&i) { 2 } else { 1 }, &[]));
    }
    let e = background::evaluate(&obs, &iv, &cfg);
    let e = find(&e, "background.other_people");
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    assert_eq!(e.at[0].range.start, t(8000));
    // A single object sample with two persons: not sustained.
    let mut obs = faces_obs(20, |_| 1);
    for i in 0..10 {
        obs.video.objects.push(object_sample(i * 2000, if i == 4 { 2 } else { 1 }, &[]));
    }
    assert_eq!(
        find(&background::evaluate(&obs, &iv, &cfg), "background.other_people").finding(),
        Some(Finding::Supports)
    );
    // Nothing analysed.
    assert!(is_missing(find(&background::evaluate(&video_obs(), &iv, &cfg), "background.other_people")));
}

#[test]
fn screens_away_from_the_face_only() {
    let cfg = BackgroundConfig::default();
    let iv = Interview::default();
    let face_box = [100.0, 80.0, 120.0, 150.0];
    let at_face = [90.0, 70.0, 150.0, 180.0];
    let behind = [400.0, 50.0, 200.0, 120.0];
    let build = |f: &dyn Fn(u64) -> Vec<(&'static str, [f32; 4])>| {
        let mut obs = faces_obs(20, |_| 1);
        for i in 0..10 {
            obs.video.objects.push(object_sample(i * 2000, 1, &f(i)));
        }
        obs
    };
    let _ = face_box;
    // A screen held up at the face: liveness's business, not ours.
    let e = background::evaluate(&build(&|_| vec![("tv", at_face)]), &iv, &cfg);
    let e = find(&e, "background.screen");
    assert_eq!(e.finding(), Some(Finding::Neutral), "{e:#?}");
    assert!(e.summary.contains("no screen"), "{}", e.summary);
    // A monitor behind, half of the time.
    let e = background::evaluate(&build(&|i| if i % 2 == 0 { vec![("tv", behind)] } else { vec![] }), &iv, &cfg);
    let e = find(&e, "background.screen");
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    assert_eq!(e.at.len(), 5);
    assert!(confidence(e) < 0.5, "weak");
    // Once: Neutral, but the time is given.
    let e = background::evaluate(&build(&|i| if i == 3 { vec![("laptop", behind)] } else { vec![] }), &iv, &cfg);
    let e = find(&e, "background.screen");
    assert_eq!(e.finding(), Some(Finding::Neutral));
    assert_eq!(e.at.len(), 1);
    assert_eq!(e.at[0].range.start, t(6000));
    // A phone is not a screen for this signal by default.
    let e = background::evaluate(&build(&|_| vec![("cell phone", behind)]), &iv, &cfg);
    assert!(find(&e, "background.screen").summary.contains("no screen"));
}

#[test]
fn virtual_background_needs_both_cues() {
    let cfg = BackgroundConfig::default();
    let build = |scene_var: bool, person_var: bool| {
        let mut obs = video_obs();
        for i in 0..10u64 {
            let p = if scene_var { 0.2 + 0.1 * (i % 3) as f32 } else { 0.41 };
            let label = if scene_var && i % 2 == 1 { "bookcase" } else { "theater curtain" };
            obs.video.scene.push(SceneSample {
                t: t(i * 2000),
                frame: FrameIndex(i),
                top: vec![lp(label, p), lp("wig", 0.05)],
                categories: vec![],
            });
            let f = if person_var { 0.3 + 0.04 * (i % 4) as f32 } else { 0.301 };
            obs.video.segmentation.push(SegmentationSample {
                t: t(i * 1000),
                frame: FrameIndex(i),
                person_fraction: f,
            });
        }
        obs
    };
    let get =
        |o: &Observations| find(&background::evaluate(o, &Interview::default(), &cfg), "background.virtual").clone();
    let both = get(&build(false, false));
    assert_eq!(both.finding(), Some(Finding::Concern), "{both:#?}");
    assert!(confidence(&both) <= 0.3, "weak");
    assert!(both.summary.contains("theater curtain"), "{}", both.summary);
    assert_eq!(get(&build(false, true)).finding(), Some(Finding::Neutral));
    assert_eq!(get(&build(true, false)).finding(), Some(Finding::Neutral));
    assert_eq!(get(&build(true, true)).finding(), Some(Finding::Neutral));
    assert!(is_missing(&get(&scene_obs(2, &[]))), "too few samples");
}

fn text_obs(lines: &[(u64, &str, f32)]) -> Observations {
    let mut obs = video_obs();
    let mut times: Vec<u64> = lines.iter().map(|l| l.0).collect();
    times.dedup();
    for ms in times {
        obs.video.text.push(TextSample {
            t: t(ms),
            frame: FrameIndex(ms / 33),
            lines: lines
                .iter()
                .filter(|l| l.0 == ms)
                .map(|l| TextBox { text: l.1.into(), score: l.2, bbox: [0.0, 0.0, 100.0, 20.0] })
                .collect(),
        });
    }
    obs
}

#[test]
fn sign_text_matches_the_declared_name_in_chinese_and_english() {
    let cfg = BackgroundConfig::default();
    let zh = "幸运星超市";
    let bi = "幸运星超市 Lucky Star Grocery Co., Ltd.";
    type Case<'a> = (&'a str, &'a str, Vec<(u64, &'a str, f32)>, Finding);
    let cases: Vec<Case> = vec![
        ("exact Chinese", zh, vec![(0, "营业中", 0.9), (5000, "幸运星超市", 0.95)], Finding::Supports),
        ("Chinese with punctuation and spaces", zh, vec![(5000, "幸 运 星 · 超 市！", 0.9)], Finding::Supports),
        ("traditional character (1 of 5 differs)", zh, vec![(5000, "幸運星超市", 0.9)], Finding::Supports),
        ("brand only, generic word left off", zh, vec![(5000, "幸运星", 0.9)], Finding::Supports),
        ("longer sign containing the name", zh, vec![(5000, "欢迎光临幸运星超市24小时营业", 0.9)], Finding::Supports),
        ("full-width capitals", bi, vec![(5000, "ＬＵＣＫＹ　ＳＴＡＲ", 0.9)], Finding::Supports),
        ("split over two lines", bi, vec![(5000, "LUCKY", 0.9), (5000, "STAR", 0.9)], Finding::Supports),
        ("one OCR error", bi, vec![(5000, "LUCKY STAP GROCERY", 0.9)], Finding::Supports),
        ("other text", bi, vec![(5000, "NO PARKING", 0.9), (9000, "营业时间", 0.9)], Finding::Neutral),
        ("similar but different shop", zh, vec![(5000, "好运来超市", 0.9)], Finding::Neutral),
        ("low-confidence reading ignored", zh, vec![(5000, "幸运星超市", 0.2)], Finding::Neutral),
        ("no text at all", zh, vec![(5000, "", 0.9)], Finding::Neutral),
    ];
    for (name, business, lines, want) in cases {
        let ev = background::evaluate(&text_obs(&lines), &declared(business, "grocery_retail"), &cfg);
        let e = find(&ev, "background.sign_text");
        assert_eq!(e.finding(), Some(want), "{name}: {e:#?}");
        if want == Finding::Supports {
            assert!(e.summary.contains("5.0 s"), "{name}: {}", e.summary);
            assert_eq!(e.at.len(), 1, "{name}");
            assert_eq!(e.at[0].range.start, t(5000), "{name}");
        }
    }
    let ev = background::evaluate(&text_obs(&[(0, "幸运星超市", 0.9)]), &Interview::default(), &cfg);
    assert!(is_missing(find(&ev, "background.sign_text")), "no declared business");
    let ev = background::evaluate(&video_obs(), &declared(zh, "grocery_retail"), &cfg);
    assert!(is_missing(find(&ev, "background.sign_text")), "OCR never ran");
    let mut obs = text_obs(&[(0, "幸运星超市", 0.9)]);
    obs.unavailable.insert("ocr_rec".into(), "missing".into());
    let ev = background::evaluate(&obs, &declared(zh, "grocery_retail"), &cfg);
    assert!(is_unavailable(find(&ev, "background.sign_text")));
}

#[test]
fn text_normalisation_and_similarity() {
    assert_eq!(background::normalise("Ｌｕｃｋｙ　Star, Ltd."), "luckystarltd");
    assert_eq!(background::normalise("幸运星·超市（总店）"), "幸运星超市总店");
    assert_eq!(background::name_similarity("幸运星超市", "欢迎幸运星超市"), 1.0);
    assert!((background::name_similarity("幸运星超市", "幸運星超市") - 0.8).abs() < 1e-9);
    assert!(background::name_similarity("luckystar", "noparking") < 0.5);
    assert_eq!(background::name_similarity("", "abc"), 0.0);
    assert_eq!(background::name_similarity("abc", ""), 0.0);
}

#[test]
fn background_without_video_is_missing_throughout() {
    let ev =
        background::evaluate(&Observations::default(), &declared("x", "office_desk"), &BackgroundConfig::default());
    assert_eq!(ev.len(), 5);
    assert!(ev.iter().all(is_missing), "{ev:#?}");
}

// ---- identity ---------------------------------------------------------------------------------------------------

/// A face embedding near person `p` (0 = A, 1 = B) with a small per-sample variation.
fn face_emb(p: usize, k: u64) -> Embedding {
    let mut v = vec![0.0f32; 8];
    v[p] = 1.0;
    v[4 + (k % 4) as usize] = 0.25;
    Embedding::normalised(v).expect("non-zero")
}

/// One face embedding a second, person given per sample.
fn faces_of(people: &[usize]) -> Observations {
    let mut obs = video_obs();
    for (i, &p) in people.iter().enumerate() {
        obs.video.face_embeddings.push(FaceEmbeddingSample {
            t: t(i as u64 * 1000),
            frame: FrameIndex(i as u64 * 30),
            embedding: Pii::new(face_emb(p, i as u64)),
        });
    }
    obs
}

#[test]
fn identity_consistency_flags_a_run_of_another_face() {
    let cfg = IdentityConfig::default();
    let iv = Interview::default();
    let mut swap = vec![0usize; 20];
    swap[10..15].fill(1);
    let mut dip = vec![0usize; 20];
    dip[7] = 1;
    let mut takeover = vec![1usize; 20];
    takeover[..5].fill(0);
    type Case<'a> = (&'a str, Vec<usize>, Option<Finding>, Option<(u64, u64)>);
    let cases: Vec<Case> = vec![
        ("same face", vec![0; 20], Some(Finding::Supports), None),
        ("swapped for 5 s", swap, Some(Finding::Concern), Some((10_000, 15_000))),
        ("one odd sample", dip, Some(Finding::Supports), None),
        ("someone else most of the call", takeover, Some(Finding::Concern), Some((0, 5000))),
        ("one sample", vec![0], None, None),
    ];
    for (name, people, want, range) in cases {
        let ev = identity::evaluate(&faces_of(&people), &iv, &cfg);
        let e = find(&ev, "identity.consistency");
        assert_eq!(e.finding(), want, "{name}: {e:#?}");
        if let Some((a, b)) = range {
            assert_eq!(e.at.len(), 1, "{name}");
            assert_eq!((e.at[0].range.start, e.at[0].range.end), (t(a), t(b)), "{name}");
            assert!(e.summary.contains(&format!("t={:.1} s", a as f64 / 1000.0)), "{name}: {}", e.summary);
            assert!(confidence(e) >= 0.6, "{name}: face embeddings separate people well");
        }
        if want.is_none() {
            assert!(is_missing(e), "{name}");
        }
    }
}

#[test]
fn identity_reference_photo() {
    let cfg = IdentityConfig::default();
    let obs = faces_of(&[0; 10]);
    let with_ref = |e: Embedding| Interview { reference_face: Some(Pii::new(e)), ..Default::default() };
    let e = identity::evaluate(&obs, &with_ref(face_emb(0, 99)), &cfg);
    let e = find(&e, "identity.reference");
    assert_eq!(e.finding(), Some(Finding::Supports), "{e:#?}");
    assert!(confidence(e) >= 0.9);
    assert_eq!(e.at.len(), 1);
    let e = identity::evaluate(&obs, &with_ref(face_emb(1, 99)), &cfg);
    let e = find(&e, "identity.reference");
    assert_eq!(e.finding(), Some(Finding::Concern), "{e:#?}");
    assert!(confidence(e) >= 0.9);
    assert!(is_missing(find(&identity::evaluate(&obs, &Interview::default(), &cfg), "identity.reference")));
    let e = identity::evaluate(&obs, &with_ref(Embedding(vec![1.0; 3])), &cfg);
    assert!(is_unavailable(find(&e, "identity.reference")), "dimension mismatch");
    // Without embeddings both signals are missing; without the model, unavailable.
    let ev = identity::evaluate(&video_obs(), &with_ref(face_emb(0, 1)), &cfg);
    assert!(ev.iter().all(is_missing) && ev.len() == 2, "{ev:#?}");
    let mut gone = faces_of(&[0; 10]);
    gone.unavailable.insert("mobilefacenet".into(), "bad".into());
    let ev = identity::evaluate(&gone, &with_ref(face_emb(0, 1)), &cfg);
    assert!(ev.iter().all(is_unavailable) && ev.len() == 2, "{ev:#?}");
}

/// Calibration over extra labelled recordings (not part of the project): every `*.wav` in
/// `$FACEREVIEW_VOICE_CALIB_DIR` with its turns in any `*.rttm` there (pyannote.audio 4.0.7 sdist `tests/data`, see
/// `docs/calibration-voice.md`). Prints the tables the document quotes. Run with `--ignored --nocapture`.
#[test]
#[ignore = "calibration harness: needs extra recordings in FACEREVIEW_VOICE_CALIB_DIR (docs/calibration-voice.md)"]
fn voice_calibration_on_extra_recordings() {
    let Ok(dir) = std::env::var("FACEREVIEW_VOICE_CALIB_DIR") else {
        eprintln!("FACEREVIEW_VOICE_CALIB_DIR not set");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let rt = common::runtime();
    let mut turns: std::collections::BTreeMap<String, Vec<(String, f64, f64)>> = Default::default();
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        if e.path().extension().is_some_and(|x| x == "rttm") {
            for l in std::fs::read_to_string(e.path()).expect("rttm").lines().filter(|l| l.starts_with("SPEAKER")) {
                let f: Vec<&str> = l.split_whitespace().collect();
                let s: f64 = f[3].parse().expect("onset");
                let d: f64 = f[4].parse().expect("duration");
                turns.entry(f[1].to_owned()).or_default().push((f[7].to_owned(), s, s + d));
            }
        }
    }
    let mut files: Vec<(String, std::path::PathBuf, Turns)> = Vec::new();
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        let p = e.path();
        let stem = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        if p.extension().is_some_and(|x| x == "wav")
            && let Some(t) = turns.get(&stem)
        {
            files.push((stem, p, t.clone()));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.push(("sample".into(), common::media("sample.wav"), rttm()));
    let piece_lengths = [1000u64, 1500, 2000, 3000];
    // (file, piece_ms) -> labelled pieces
    type Run = (String, u64, Vec<VoiceSample>, Vec<(String, f64)>, Turns);
    let mut runs: Vec<Run> = Vec::new();
    for (name, path, t) in &files {
        for &ms in &piece_lengths {
            let v = real_voices(&rt, path, ms);
            let labels: Vec<(String, f64)> = v.iter().map(|p| speaker_of(&p.range, t)).collect();
            runs.push((name.clone(), ms, v, labels, t.clone()));
        }
    }
    // Score distributions by piece length: pairs of pure pieces (purity >= 0.9, >= 1 s) in the same recording.
    for &ms in &piece_lengths {
        let (mut same, mut diff) = (vec![], vec![]);
        for (_, m, v, labels, _) in runs.iter().filter(|r| r.1 == ms) {
            let _ = m;
            for i in 0..v.len() {
                for j in i + 1..v.len() {
                    let ok = |k: usize| labels[k].1 >= 0.9 && v[k].range.duration().as_secs_f64() >= 1.0;
                    if !(ok(i) && ok(j)) {
                        continue;
                    }
                    let c = v[i].embedding.expose().cosine(v[j].embedding.expose());
                    if labels[i].0 == labels[j].0 { same.push(c) } else { diff.push(c) }
                }
            }
        }
        let pct = |v: &mut Vec<f32>, q: f32| {
            v.sort_by(f32::total_cmp);
            v.get(((v.len() as f32 - 1.0) * q).round() as usize).copied().unwrap_or(f32::NAN)
        };
        let (s5, s50) = (pct(&mut same, 0.05), pct(&mut same, 0.5));
        let (d50, d95) = (pct(&mut diff, 0.5), pct(&mut diff, 0.95));
        eprintln!(
            "pieces {ms} ms, pure pairs in one recording: same {} (5% {s5:.3}, median {s50:.3}); different {} (median {d50:.3}, 95% {d95:.3})",
            stats(&same),
            stats(&diff)
        );
    }
    // Ground truth per file: a speaker other than the main one speaks >= 3 s (overlap included) -> positive; every
    // other speaker < 2 s -> negative; otherwise either.
    let truth = |t: &[(String, f64, f64)]| -> Option<bool> {
        let mut total: std::collections::BTreeMap<String, f64> = Default::default();
        for x in t {
            *total.entry(x.0.clone()).or_default() += x.2 - x.1;
        }
        let mut v: Vec<f64> = total.values().copied().collect();
        v.sort_by(|a, b| b.total_cmp(a));
        let second = v.get(1).copied().unwrap_or(0.0);
        if second >= 3.0 {
            Some(true)
        } else if second < 2.0 {
            Some(false)
        } else {
            None
        }
    };
    for (name, _, t) in &files {
        eprintln!("{name}: truth {:?}", truth(t));
    }
    for &ms in &[1000u64, 1500, 2000] {
        for merge in [0.72f32, 0.74, 0.76] {
            let cfg = VoiceConfig { merge_min: merge, min_minority_s: 3.0, ..VoiceConfig::default() };
            eprintln!("== pieces {ms} merge {merge:.2}");
            for (name, _, v, labels, t) in runs.iter().filter(|r| r.1 == ms) {
                let cl = voice::speaker_clusters(v, &cfg);
                let mut line = format!("  {name} ({:?}):", truth(t));
                for c in &cl {
                    let mut who: std::collections::BTreeMap<&str, usize> = Default::default();
                    for &i in &c.pieces {
                        *who.entry(labels[i].0.as_str()).or_default() += 1;
                    }
                    line.push_str(&format!(
                        " [{:.1}s/{} w {} l {} {:?}]",
                        c.seconds,
                        c.pieces.len(),
                        c.within.map(|x| format!("{x:.2}")).unwrap_or("-".into()),
                        c.link_to_main.map(|x| format!("{x:.2}")).unwrap_or("-".into()),
                        who
                    ));
                }
                eprintln!("{line}");
            }
        }
    }
    // Enrolment / blocklist situation: a speaker's mean in one file against pieces and means in another file.
    {
        let mut groups: std::collections::BTreeMap<(String, String), Vec<Embedding>> = Default::default();
        for (name, ms, v, labels, _) in &runs {
            if *ms != 1500 {
                continue;
            }
            for (p, l) in v.iter().zip(labels) {
                if l.1 >= 0.9 && p.range.duration().as_secs_f64() >= 1.0 {
                    groups.entry((name.clone(), l.0.clone())).or_default().push(p.embedding.expose().clone());
                }
            }
        }
        let meeting = |f: &str| match f {
            "dev00" | "dev01" => "dev",
            "trn00" | "trn01" | "trn02" | "trn03" => "m1",
            "trn07" | "trn08" => "m2",
            "trn06" | "trn09" => "m3",
            "tst00" | "tst01" => "tst",
            other => {
                if other.starts_with("trn04") {
                    "m4"
                } else {
                    "m5"
                }
            }
        };
        let means: Vec<((String, String), usize, Embedding)> = groups
            .iter()
            .filter_map(|(k, v)| Embedding::mean(&v.iter().collect::<Vec<_>>()).map(|m| (k.clone(), v.len(), m)))
            .collect();
        let (mut mm_same, mut mm_diff_meet, mut mm_diff_other) = (vec![], vec![], vec![]);
        let (mut pm_same, mut pm_diff_meet, mut pm_diff_other) = (vec![], vec![], vec![]);
        for (ka, na, ma) in &means {
            for (kb, nb, mb) in &means {
                if ka.0 == kb.0 {
                    continue;
                }
                if ka < kb && *na >= 2 && *nb >= 2 {
                    let c = ma.cosine(mb);
                    if ka.1 == kb.1 {
                        eprintln!("  same speaker {} in {} ({na}) and {} ({nb}): means {c:.3}", ka.1, ka.0, kb.0);
                        mm_same.push(c)
                    } else if meeting(&ka.0) == meeting(&kb.0) {
                        mm_diff_meet.push(c)
                    } else {
                        mm_diff_other.push(c)
                    }
                }
                // Pieces of file a/speaker a against the mean of speaker b in file b.
                if *nb >= 2 {
                    for e in &groups[ka] {
                        let c = e.cosine(mb);
                        if ka.1 == kb.1 {
                            pm_same.push(c)
                        } else if meeting(&ka.0) == meeting(&kb.0) {
                            pm_diff_meet.push(c)
                        } else {
                            pm_diff_other.push(c)
                        }
                    }
                }
            }
        }
        eprintln!("speaker means across files: same speaker {}", stats(&mm_same));
        eprintln!("speaker means across files: different, same meeting {}", stats(&mm_diff_meet));
        eprintln!("speaker means across files: different, other meeting {}", stats(&mm_diff_other));
        eprintln!("piece vs other file's speaker mean: same speaker {}", stats(&pm_same));
        eprintln!("piece vs other file's speaker mean: different, same meeting {}", stats(&pm_diff_meet));
        eprintln!("piece vs other file's speaker mean: different, other meeting {}", stats(&pm_diff_other));
        let mut top = pm_diff_meet.clone();
        top.extend(&pm_diff_other);
        top.sort_by(|a, b| b.total_cmp(a));
        eprintln!("highest different-speaker piece-vs-mean scores: {:?}", &top[..top.len().min(8)]);
        // Blocklist at the defaults: every other file's speaker means as blocked voices, each session checked.
        let cfg = VoiceConfig::default();
        for (name, ms, v, _, _) in &runs {
            if *ms != voice::CALIBRATED_PIECE_MS {
                continue;
            }
            let list: Vec<(String, Pii<Embedding>)> = means
                .iter()
                .filter(|(k, n, _)| k.0 != *name && *n >= 2)
                .map(|(k, _, m)| (format!("{}:{}", k.0, k.1), Pii::new(m.clone())))
                .collect();
            let iv = Interview { blocked_voices: list, ..Default::default() };
            let ev = voice::evaluate(&obs_with_voices(v.clone()), &iv, &cfg);
            let e = find(&ev, "voice.blocklist");
            eprintln!("blocklist {name}: {:?} {}", e.finding(), e.summary);
        }
    }
    // The defaults on every file.
    for (name, ms, v, _, t) in &runs {
        if *ms != voice::CALIBRATED_PIECE_MS {
            continue;
        }
        let ev = voice::evaluate(&obs_with_voices(v.clone()), &Interview::default(), &VoiceConfig::default());
        let e = find(&ev, "voice.second_speaker");
        eprintln!("defaults {name} (truth {:?}): {:?} — {}", truth(t), e.state, e.summary);
    }
    for &ms in &piece_lengths {
        for merge in [0.68f32, 0.70, 0.72, 0.74, 0.76] {
            for min_s in [3.0f32, 4.0] {
                let cfg = VoiceConfig { merge_min: merge, min_minority_s: min_s, ..VoiceConfig::default() };
                let (mut tp, mut fp, mut fneg, mut tn) = (0, 0, 0, 0);
                let mut wrong = Vec::new();
                for (name, _, v, _, t) in runs.iter().filter(|r| r.1 == ms) {
                    let ev = voice::evaluate(&obs_with_voices(v.clone()), &Interview::default(), &cfg);
                    let got = find(&ev, "voice.second_speaker").finding() == Some(Finding::Concern);
                    match (got, truth(t)) {
                        (true, Some(true)) => tp += 1,
                        (true, Some(false)) => {
                            fp += 1;
                            wrong.push(format!("+{name}"))
                        }
                        (false, Some(true)) => {
                            fneg += 1;
                            wrong.push(format!("-{name}"))
                        }
                        (false, Some(false)) => tn += 1,
                        (_, None) => {}
                    }
                }
                eprintln!("pieces {ms} merge {merge:.2} min {min_s}: TP {tp} FN {fneg} FP {fp} TN {tn} {wrong:?}");
            }
        }
    }
}
