//! The timelines a reviewer scrubs through (`<session>/timelines.json`, schema `facereview.timelines/1`, see
//! docs/console.md "Timelines"): face count and size, mesh measures, expression probabilities, speech, voice
//! consistency, passive anti-spoof score and the received quality, all on the session's media clock.
//!
//! Pure: built from the call's [`Observations`] (before the checks consume them), the quality meter's report and
//! the received bitrate series the actor sampled. Point series are downsampled to at most
//! [`MAX_POINTS_PER_S`] points per second (the mean of each half-second bucket); span series (speech, voice) are
//! merged when they are denser than that. No embeddings, landmarks, coordinates or other biometric templates go
//! into a timeline: the voice series carries only each stretch's similarity to the rest of the call.

use crate::adapt::QualityReport;
use crate::infer::models::Embedding;
use crate::observations::Observations;
use crate::types::MediaTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file name in the session folder.
pub const FILE: &str = "timelines.json";
pub const SCHEMA: &str = "facereview.timelines/1";
/// Most points per second of media in any series.
pub const MAX_POINTS_PER_S: u64 = 2;
const BUCKET_NS: u64 = MediaTime::NS_PER_SEC / MAX_POINTS_PER_S;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timelines {
    pub schema: String,
    pub duration_ns: u64,
    pub faces: Vec<FacePoint>,
    pub mesh: Vec<MeshPoint>,
    pub expression: ExpressionSeries,
    pub speech: Vec<SpeechSpan>,
    pub voice: Vec<VoiceSpan>,
    pub spoof: Vec<SpoofPoint>,
    pub quality: Vec<QualityPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacePoint {
    pub t: u64,
    /// Most faces seen in the bucket.
    pub faces: u32,
    /// Primary face width / frame width (`null` when no face or the frame width is unknown).
    pub size: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeshPoint {
    pub t: u64,
    /// Mean of both eyes' aspect ratios.
    pub eye_open: f64,
    pub mouth_open: f64,
    pub yaw_deg: f64,
    pub pitch_deg: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpressionSeries {
    pub labels: Vec<String>,
    pub points: Vec<ExpressionPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpressionPoint {
    pub t: u64,
    /// In `labels` order.
    pub probs: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeechSpan {
    pub start: u64,
    pub end: u64,
    pub prob: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoiceSpan {
    pub start: u64,
    pub end: u64,
    /// Cosine similarity of this stretch's voice to the mean voice of the rest of the call (`null` when it is
    /// the only stretch).
    pub similarity: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpoofPoint {
    pub t: u64,
    pub live_score: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityPoint {
    pub t: u64,
    pub fps: f64,
    pub height: u32,
    /// Received bitrate (audio + video payload) when the controller measured it in that second.
    pub kbps: Option<f64>,
}

/// What a timeline is built from.
pub struct Inputs<'a> {
    pub obs: &'a Observations,
    /// The quality meter's report (its per-second timeline gives frame rate, height and frame width).
    pub quality: Option<&'a QualityReport>,
    /// `(media ns, received bits per second)` as the controller measured it, in any order.
    pub bitrate: &'a [(u64, f64)],
    /// The expression model's class order (`infer::models::expression::LABELS`).
    pub expression_labels: &'a [&'a str],
}

/// Builds the timelines of one call.
pub fn build(inp: &Inputs<'_>) -> Timelines {
    let obs = inp.obs;
    let v = &obs.video;
    let duration_ns = obs.duration.0;

    // Frame width per media second (the meter's timeline), for the face size.
    let widths: BTreeMap<u64, u32> = inp
        .quality
        .map(|q| q.timeline.iter().filter(|s| s.width > 0).map(|s| (s.t_s, s.width)).collect())
        .unwrap_or_default();
    let width_at = |t: u64| -> Option<u32> {
        let s = t / MediaTime::NS_PER_SEC;
        // The same second, else the nearest earlier one, else the nearest later one.
        widths.range(..=s).next_back().or_else(|| widths.range(s..).next()).map(|(_, w)| *w)
    };

    let faces = bucketed(
        v.faces.iter().map(|f| {
            let size = f.bbox.and_then(|b| width_at(f.t.0).map(|w| b[2] as f64 / w as f64)).filter(|x| x.is_finite());
            (f.t.0, (f.faces as u32, size))
        }),
        |t, items: &[(u32, Option<f64>)]| FacePoint {
            t,
            faces: items.iter().map(|x| x.0).max().unwrap_or(0),
            size: mean(items.iter().filter_map(|x| x.1)).map(r3),
        },
    );

    let mesh = bucketed(
        v.mesh.iter().map(|m| {
            let x = &m.metrics;
            let vals = [
                (x.eye_open_left as f64 + x.eye_open_right as f64) / 2.0,
                x.mouth_open as f64,
                x.yaw_deg as f64,
                x.pitch_deg as f64,
            ];
            (m.t.0, vals)
        }),
        |t, items: &[[f64; 4]]| {
            let col = |i: usize| mean(items.iter().map(|x| x[i]).filter(|x| x.is_finite())).unwrap_or(0.0);
            MeshPoint { t, eye_open: r3(col(0)), mouth_open: r3(col(1)), yaw_deg: r1(col(2)), pitch_deg: r1(col(3)) }
        },
    );

    let n_labels = inp.expression_labels.len();
    let expression_points =
        bucketed(v.expression.iter().map(|e| (e.t.0, e.probs)), |t, items: &[[f32; 7]]| ExpressionPoint {
            t,
            probs: (0..n_labels.min(7))
                .map(|i| r3(mean(items.iter().map(|p| p[i] as f64).filter(|x| x.is_finite())).unwrap_or(0.0)))
                .collect(),
        });

    let spoof = bucketed(v.spoof.iter().map(|s| (s.t.0, s.live_score as f64)), |t, items: &[f64]| SpoofPoint {
        t,
        live_score: r3(mean(items.iter().copied()).unwrap_or(0.0)),
    });

    let span_limit = span_limit(duration_ns);
    let speech: Vec<Span> = obs
        .audio
        .segments
        .iter()
        .map(|s| Span { start: s.range.start.0, end: s.range.end.0, value: Some(s.mean_prob as f64) })
        .collect();
    let speech = merge_spans(speech, span_limit)
        .into_iter()
        .map(|s| SpeechSpan { start: s.start, end: s.end, prob: r3(s.value.unwrap_or(0.0)) })
        .collect();

    let embeddings: Vec<&Embedding> = obs.audio.voices.iter().map(|v| v.embedding.expose()).collect();
    let voice: Vec<Span> = obs
        .audio
        .voices
        .iter()
        .zip(similarity_to_rest(&embeddings))
        .map(|(v, s)| Span { start: v.range.start.0, end: v.range.end.0, value: s })
        .collect();
    let voice = merge_spans(voice, span_limit)
        .into_iter()
        .map(|s| VoiceSpan { start: s.start, end: s.end, similarity: s.value.map(r3) })
        .collect();

    let quality = inp
        .quality
        .map(|q| {
            q.timeline
                .iter()
                .map(|s| {
                    let (from, to) = (s.t_s * MediaTime::NS_PER_SEC, (s.t_s + 1) * MediaTime::NS_PER_SEC);
                    let kbps = mean(
                        inp.bitrate.iter().filter(|(t, b)| *t >= from && *t < to && b.is_finite()).map(|(_, b)| *b),
                    )
                    .map(|bps| (bps / 1000.0).round());
                    QualityPoint { t: from, fps: s.fps as f64, height: s.height, kbps }
                })
                .collect()
        })
        .unwrap_or_default();

    Timelines {
        schema: SCHEMA.to_owned(),
        duration_ns,
        faces,
        mesh,
        expression: ExpressionSeries {
            labels: inp.expression_labels.iter().take(7).map(|l| (*l).to_owned()).collect(),
            points: expression_points,
        },
        speech,
        voice,
        spoof,
        quality,
    }
}

/// Groups `(t, item)` samples into half-second buckets (in time order) and makes one point of each bucket; the
/// point's time is the bucket's first sample.
fn bucketed<I, T, P>(samples: I, point: impl Fn(u64, &[T]) -> P) -> Vec<P>
where
    I: Iterator<Item = (u64, T)>,
{
    let mut sorted: Vec<(u64, T)> = samples.collect();
    sorted.sort_by_key(|(t, _)| *t);
    let mut out = Vec::new();
    let mut current: Option<(u64, u64)> = None; // (bucket, first t)
    let mut items: Vec<T> = Vec::new();
    for (t, item) in sorted {
        let b = t / BUCKET_NS;
        match current {
            Some((cb, first)) if cb != b => {
                out.push(point(first, &items));
                items.clear();
                current = Some((b, t));
            }
            None => current = Some((b, t)),
            _ => {}
        }
        items.push(item);
    }
    if let Some((_, first)) = current {
        out.push(point(first, &items));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: u64,
    end: u64,
    value: Option<f64>,
}

/// Most spans a series of `duration_ns` keeps (at least one).
fn span_limit(duration_ns: u64) -> usize {
    ((duration_ns.div_ceil(MediaTime::NS_PER_SEC)) * MAX_POINTS_PER_S).max(1) as usize
}

/// Sorts spans and, while there are more than `limit`, merges the adjacent pair with the smallest gap between them
/// (values averaged by duration).
fn merge_spans(mut spans: Vec<Span>, limit: usize) -> Vec<Span> {
    spans.retain(|s| s.end >= s.start);
    spans.sort_by_key(|s| (s.start, s.end));
    while spans.len() > limit.max(1) {
        let i = (0..spans.len() - 1).min_by_key(|&i| spans[i + 1].start.saturating_sub(spans[i].end)).unwrap_or(0);
        let (a, b) = (spans[i], spans[i + 1]);
        let (da, db) = ((a.end - a.start) as f64, (b.end - b.start) as f64);
        let value = match (a.value, b.value) {
            (Some(x), Some(y)) if da + db > 0.0 => Some((x * da + y * db) / (da + db)),
            (Some(x), Some(y)) => Some((x + y) / 2.0),
            (x, y) => x.or(y),
        };
        spans[i] = Span { start: a.start, end: a.end.max(b.end), value };
        spans.remove(i + 1);
    }
    spans
}

/// Each embedding's cosine similarity to the normalised mean of all the others.
fn similarity_to_rest(items: &[&Embedding]) -> Vec<Option<f64>> {
    (0..items.len())
        .map(|i| {
            let rest: Vec<&Embedding> = items.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, e)| *e).collect();
            Embedding::mean(&rest).map(|m| items[i].cosine(&m) as f64).filter(|x| x.is_finite())
        })
        .collect()
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for x in xs {
        sum += x;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::QualityMeter;
    use crate::analysis::speech::SpeechSegment;
    use crate::infer::models::face_mesh::FaceMetrics;
    use crate::observations::{ExpressionSample, FaceSample, MeshSample, SpoofSample, VoiceSample};
    use crate::types::{FrameIndex, Pii, TimeRange};
    use std::time::Duration;

    const LABELS: [&str; 7] = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    /// 10 s of observations at 15 samples per second, with three voice stretches, the third another voice.
    fn observations() -> Observations {
        let mut obs = Observations { has_video: true, has_audio: true, ..Default::default() };
        for i in 0..150u64 {
            let t = MediaTime(i * 1_000_000_000 / 15);
            let frame = FrameIndex(i);
            obs.video.faces.push(FaceSample {
                t,
                frame,
                faces: 1,
                bbox: Some([100.0, 50.0, 128.0, 160.0]),
                score: Some(0.9),
            });
            obs.video.mesh.push(MeshSample {
                t,
                frame,
                metrics: FaceMetrics {
                    eye_open_left: 0.30,
                    eye_open_right: 0.32,
                    mouth_open: 0.05,
                    yaw_deg: (i as f32) / 10.0,
                    pitch_deg: 2.0,
                    roll_deg: 0.0,
                },
                points: vec![[123.456, 78.9]; 24],
                skin_rgb: Some([180.0, 120.0, 100.0]),
            });
            obs.video.expression.push(ExpressionSample { t, frame, probs: [0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.9] });
            obs.video.spoof.push(SpoofSample { t, frame, live_score: 0.8 });
        }
        obs.video.last_t = obs.video.faces.last().map(|f| f.t);
        let ms = |x: u64| MediaTime(x * 1_000_000);
        for (a, b) in [(0, 1200), (2000, 4000), (5000, 9000)] {
            obs.audio.segments.push(SpeechSegment { range: TimeRange::new(ms(a), ms(b)), mean_prob: 0.9 });
        }
        let e = |v: Vec<f32>| Pii::new(Embedding::normalised(v).expect("non-zero"));
        obs.audio.voices = vec![
            VoiceSample { range: TimeRange::new(ms(0), ms(3000)), embedding: e(vec![1.0, 0.1, 0.0]) },
            VoiceSample { range: TimeRange::new(ms(3000), ms(6000)), embedding: e(vec![1.0, 0.0, 0.1]) },
            VoiceSample { range: TimeRange::new(ms(6000), ms(9000)), embedding: e(vec![0.0, 1.0, 0.0]) },
        ];
        obs.duration = ms(10_000);
        obs
    }

    fn quality() -> QualityReport {
        let mut m = QualityMeter::new();
        for i in 0..150u64 {
            let t = i * 1_000 / 15;
            m.video_frame(Duration::from_millis(t), MediaTime(t * 1_000_000), 640, 480);
        }
        m.report(&[], &[], MediaTime(10_000_000_000))
    }

    #[test]
    fn series_are_downsampled_to_two_points_a_second() {
        let obs = observations();
        let q = quality();
        let bitrate = [(500_000_000u64, 200_000.0), (700_000_000, 220_000.0), (1_500_000_000, 300_000.0)];
        let tl = build(&Inputs { obs: &obs, quality: Some(&q), bitrate: &bitrate, expression_labels: &LABELS });
        assert_eq!(tl.schema, SCHEMA);
        assert_eq!(tl.duration_ns, 10_000_000_000);
        // 150 samples over 10 s → 20 half-second buckets.
        for (name, n) in [("faces", tl.faces.len()), ("mesh", tl.mesh.len()), ("spoof", tl.spoof.len())] {
            assert_eq!(n, 20, "{name}");
        }
        assert_eq!(tl.expression.points.len(), 20);
        assert_eq!(tl.expression.labels.len(), 7);
        assert_eq!(tl.expression.points[0].probs.len(), 7);
        assert!((tl.expression.points[3].probs[6] - 0.9).abs() < 1e-6);
        for w in tl.mesh.windows(2) {
            assert!(w[1].t >= w[0].t + BUCKET_NS / 2, "points at least a bucket apart: {} {}", w[0].t, w[1].t);
        }
        // Bucket means: eye_open is the mean of both eyes; yaw averages the bucket's samples.
        assert!((tl.mesh[0].eye_open - 0.31).abs() < 1e-6, "{:?}", tl.mesh[0]);
        assert!(tl.mesh[1].yaw_deg > tl.mesh[0].yaw_deg);
        // Face size: 128 px wide face in 640 px frames.
        assert_eq!(tl.faces[4].size, Some(0.2));
        assert_eq!(tl.faces[4].faces, 1);
        // Quality: one point per second, with the measured bitrate where there was one.
        assert_eq!(tl.quality.len(), 11);
        assert_eq!(tl.quality[0].kbps, Some(210.0));
        assert_eq!(tl.quality[1].kbps, Some(300.0));
        assert_eq!(tl.quality[2].kbps, None);
        assert_eq!(tl.quality[0].height, 480);
        assert!(tl.quality[0].fps >= 14.0);
        // Speech spans kept as they are (sparse), voice similarities to the rest: the odd voice is the low one.
        assert_eq!(tl.speech.len(), 3);
        assert_eq!(tl.voice.len(), 3);
        let sims: Vec<f64> = tl.voice.iter().map(|v| v.similarity.expect("similarity")).collect();
        assert!(sims[2] < 0.5 && sims[0] > sims[2] && sims[1] > sims[2], "{sims:?}");
    }

    #[test]
    fn timelines_carry_no_biometric_templates() {
        let obs = observations();
        let q = quality();
        let tl = build(&Inputs { obs: &obs, quality: Some(&q), bitrate: &[], expression_labels: &LABELS });
        let text = serde_json::to_string(&tl).expect("serialisable");
        for banned in ["embedding", "points\":[[", "skin", "123.456", "bbox", "lat", "lon"] {
            assert!(!text.contains(banned), "timelines leak `{banned}`");
        }
        // Exactly the documented top-level keys.
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            ["duration_ns", "expression", "faces", "mesh", "quality", "schema", "speech", "spoof", "voice"]
        );
        // And it reads back.
        let back: Timelines = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, tl);
    }

    #[test]
    fn dense_spans_are_merged_to_the_limit() {
        let spans: Vec<Span> = (0..100u64)
            .map(|i| Span { start: i * 100_000_000, end: i * 100_000_000 + 50_000_000, value: Some((i % 2) as f64) })
            .collect();
        // 10 s of 100 spans → at most 20.
        let merged = merge_spans(spans, span_limit(10_000_000_000));
        assert_eq!(merged.len(), 20);
        assert_eq!(merged[0].start, 0);
        assert_eq!(merged.last().map(|s| s.end), Some(99 * 100_000_000 + 50_000_000));
        for w in merged.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        assert!(merged.iter().all(|s| s.value.is_some_and(|v| (0.0..=1.0).contains(&v))));
    }

    #[test]
    fn empty_observations_give_empty_series() {
        let obs = Observations::default();
        let tl = build(&Inputs { obs: &obs, quality: None, bitrate: &[], expression_labels: &LABELS });
        assert!(tl.faces.is_empty() && tl.mesh.is_empty() && tl.speech.is_empty() && tl.voice.is_empty());
        assert!(tl.quality.is_empty() && tl.expression.points.is_empty());
        assert_eq!(tl.duration_ns, 0);
    }
}
