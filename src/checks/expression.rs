//! Expression: brief flashes of fear, disgust, anger or surprise, tied to the interview question being asked.
//!
//! Input: the per-frame expression probabilities (`Observations::video::expression`, seven classes in
//! [`LABELS`] order, sampled every ~200 ms on the detected face). Each class's series is smoothed with a centred
//! running median over [`ExpressionConfig::smoothing_samples`] samples (3 by default): a median of 3 removes
//! single-sample flickers, which are mostly classifier noise, and keeps any run of two or more samples with its
//! duration unchanged. The person's own baseline per class is the median of the raw series over the call, and its
//! spread the scaled median absolute deviation.
//!
//! A *spike* is a run of consecutive smoothed samples of one watched class whose rise over the baseline is at least
//! `max(min_rise, spread_factor × spread)` and whose estimated duration (sample midpoints) is at most
//! [`ExpressionConfig::max_spike_ms`]; a longer rise is a sustained expression, not a micro-expression, and is not
//! reported. Each spike is tied to the question being asked then (`QuestionEvent::asked_at` until `until`, else the
//! next question) and becomes one `expression.spike` Concern of low-moderate confidence; with none, one Neutral.
//! Missing without face/expression samples; Unavailable when the model could not be loaded.
//!
//! This is weak, culturally variable evidence (the fusion policy caps it at review). At the default sampling rate
//! (~5 Hz) an expression must hold for about two samples to be seen at all: the shortest micro-expressions
//! (40-200 ms) are indistinguishable from single-frame noise and are deliberately dropped. Pure.

use super::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::infer::models::expression::LABELS;
use crate::interview::{Interview, QuestionEvent};
use crate::observations::{ExpressionSample, Observations};
use crate::types::{FrameIndex, MediaDuration, MediaTime, TimeRange};
use serde::{Deserialize, Serialize};

/// Model id of the expression classifier (as in the manifest and `Observations::unavailable`).
const MODEL_ID: &str = "expression";
const SIGNAL: &str = "expression.spike";

/// Thresholds of the expression check. Probabilities are the classifier's softmax outputs in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpressionConfig {
    /// The classes watched for spikes, by [`LABELS`] name; unknown names are ignored.
    pub emotions: Vec<String>,
    /// Window of the centred running median (odd; 1 = no smoothing).
    pub smoothing_samples: usize,
    /// A spike rises at least this much (probability) above the person's baseline for the class ...
    pub min_rise: f32,
    /// ... and at least this many times the person's own spread (1.4826 × median absolute deviation).
    pub spread_factor: f32,
    /// Longest rise that still counts as a brief spike (estimated from sample midpoints), ms.
    pub max_spike_ms: u64,
    /// Fewest expression samples for a baseline.
    pub min_samples: usize,
    /// At most this many spikes are reported (the largest rises).
    pub max_reported: usize,
}

impl Default for ExpressionConfig {
    fn default() -> Self {
        ExpressionConfig {
            emotions: ["fear", "disgust", "angry", "surprise"].map(String::from).to_vec(),
            smoothing_samples: 3,
            min_rise: 0.25,
            spread_factor: 4.0,
            max_spike_ms: 500,
            min_samples: 10,
            max_reported: 10,
        }
    }
}

/// One point of the smoothed expression timeline (probabilities in [`LABELS`] order; after the running median they
/// need not sum to 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpressionPoint {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub probs: [f32; 7],
}

/// One detected spike (also what the Concern evidence is built from).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spike {
    /// The [`LABELS`] name.
    pub emotion: String,
    /// Estimated extent of the rise.
    pub range: TimeRange,
    /// Frame of the highest smoothed sample.
    pub frame: FrameIndex,
    /// Highest smoothed probability, and the person's baseline for the class.
    pub peak: f32,
    pub baseline: f32,
    /// The question being asked, if any.
    pub question: Option<String>,
}

/// The samples in time order with finite probabilities, smoothed per class by a centred running median of
/// `cfg.smoothing_samples` (shrunk at the ends). For the console timeline and for spike detection.
pub fn smoothed_timeline(samples: &[ExpressionSample], cfg: &ExpressionConfig) -> Vec<ExpressionPoint> {
    let raw = clean(samples);
    let half = cfg.smoothing_samples.max(1) / 2;
    let n = raw.len();
    (0..n)
        .map(|i| {
            let k = half.min(i).min(n - 1 - i);
            let mut probs = [0.0f32; 7];
            for (c, p) in probs.iter_mut().enumerate() {
                let mut w: Vec<f32> = raw[i - k..=i + k].iter().map(|s| s.probs[c]).collect();
                *p = median(&mut w);
            }
            ExpressionPoint { t: raw[i].t, frame: raw[i].frame, probs }
        })
        .collect()
}

/// The brief spikes of the watched classes (see the module docs), largest rise first.
pub fn spikes(samples: &[ExpressionSample], interview: &Interview, cfg: &ExpressionConfig) -> Vec<Spike> {
    let raw = clean(samples);
    let smooth = smoothed_timeline(samples, cfg);
    if raw.len() < 2 {
        return Vec::new();
    }
    let typical = typical_interval(&smooth);
    let max_len = MediaDuration::from_millis(cfg.max_spike_ms);
    let mut out = Vec::new();
    for name in &cfg.emotions {
        let Some(c) = LABELS.iter().position(|l| l == name) else { continue };
        let mut series: Vec<f32> = raw.iter().map(|s| s.probs[c]).collect();
        let baseline = median(&mut series.clone());
        let mut dev: Vec<f32> = series.iter_mut().map(|p| (*p - baseline).abs()).collect();
        let spread = 1.4826 * median(&mut dev);
        let rise = cfg.min_rise.max(cfg.spread_factor * spread);
        let high: Vec<bool> = smooth.iter().map(|p| p.probs[c] - baseline >= rise).collect();
        let mut i = 0;
        while i < high.len() {
            if !high[i] {
                i += 1;
                continue;
            }
            let a = i;
            while i < high.len() && high[i] {
                i += 1;
            }
            let b = i; // run is a..b
            let range = extent(&smooth, a, b, typical);
            if range.duration() > max_len {
                continue;
            }
            let peak_i = (a..b).max_by(|&x, &y| smooth[x].probs[c].total_cmp(&smooth[y].probs[c])).unwrap_or(a);
            out.push(Spike {
                emotion: name.clone(),
                range,
                frame: smooth[peak_i].frame,
                peak: smooth[peak_i].probs[c],
                baseline,
                question: question_at(&interview.questions, smooth[peak_i].t).map(|q| q.id.clone()),
            });
        }
    }
    out.sort_by(|x, y| (y.peak - y.baseline).total_cmp(&(x.peak - x.baseline)).then(x.range.start.cmp(&y.range.start)));
    out
}

/// Evaluates `expression.spike`.
pub fn evaluate(obs: &Observations, interview: &Interview, cfg: &ExpressionConfig) -> Vec<Evidence> {
    if !obs.has_video {
        return vec![Evidence::missing(CheckKind::Expression, SIGNAL, "the call has no video")];
    }
    if let Some(why) = obs.unavailable.get(MODEL_ID) {
        return vec![Evidence::unavailable(CheckKind::Expression, SIGNAL, format!("expression model: {why}"))];
    }
    let n = clean(&obs.video.expression).len();
    if n == 0 {
        return vec![Evidence::missing(CheckKind::Expression, SIGNAL, "no face was analysed for expression")];
    }
    if n < cfg.min_samples.max(2) {
        return vec![Evidence::missing(
            CheckKind::Expression,
            SIGNAL,
            format!("only {n} expression sample(s): too few for the person's baseline"),
        )];
    }
    let found = spikes(&obs.video.expression, interview, cfg);
    if found.is_empty() {
        let watched: Vec<&str> = cfg.emotions.iter().map(String::as_str).filter(|e| LABELS.contains(e)).collect();
        return vec![
            Evidence::observed(
                CheckKind::Expression,
                SIGNAL,
                Finding::Neutral,
                0.5,
                format!(
                    "no brief spike of {} in {n} expression samples (rise of {:.2} over the person's baseline, \
                     at most {} ms)",
                    watched.join(", "),
                    cfg.min_rise,
                    cfg.max_spike_ms
                ),
            )
            .with_value(0.0),
        ];
    }
    let total = found.len();
    found
        .into_iter()
        .take(cfg.max_reported.max(1))
        .map(|s| {
            let rise = s.peak - s.baseline;
            // Weak evidence: 0.2 at the threshold, at most 0.45 for a rise to certainty.
            let confidence = 0.2 + 0.25 * ((rise - cfg.min_rise) / (1.0 - cfg.min_rise).max(0.05)).clamp(0.0, 1.0);
            let during = match s.question.as_deref().and_then(|id| interview.questions.iter().find(|q| q.id == id)) {
                Some(q) => format!("while question {} (\"{}\") was asked", q.id, q.text),
                None => "outside any question".to_owned(),
            };
            let of = if total > 1 { format!(" (one of {total} spikes)") } else { String::new() };
            let summary = format!(
                "brief {} at {:.1} s, ~{} ms: {:.2} against the person's baseline {:.2}, {during}{of}",
                s.emotion,
                s.range.start.as_secs_f64(),
                s.range.duration().0 / 1_000_000,
                s.peak,
                s.baseline
            );
            Evidence::observed(CheckKind::Expression, SIGNAL, Finding::Concern, confidence, summary)
                .with_value(f64::from(rise))
                .at(EvidenceRef { range: s.range, frame: Some(s.frame) })
        })
        .collect()
}

/// The question being asked at `t`: the last one asked at or before `t`, until its `until` (or the next question's
/// `asked_at`, or open-ended for the last).
pub fn question_at(questions: &[QuestionEvent], t: MediaTime) -> Option<&QuestionEvent> {
    let mut sorted: Vec<&QuestionEvent> = questions.iter().collect();
    sorted.sort_by_key(|q| q.asked_at);
    let pos = sorted.iter().rposition(|q| q.asked_at <= t)?;
    let q = sorted[pos];
    let end = q.until.or_else(|| sorted.get(pos + 1).map(|n| n.asked_at));
    match end {
        Some(e) if t >= e => None,
        _ => Some(q),
    }
}

/// Samples in time order with only finite probabilities.
fn clean(samples: &[ExpressionSample]) -> Vec<&ExpressionSample> {
    let mut v: Vec<&ExpressionSample> = samples.iter().filter(|s| s.probs.iter().all(|p| p.is_finite())).collect();
    v.sort_by_key(|s| s.t);
    v
}

/// Estimated extent of the run `a..b`: from halfway to the sample before to halfway to the sample after, each half
/// capped at half the typical interval (so a gap in sampling does not stretch it).
fn extent(s: &[ExpressionPoint], a: usize, b: usize, typical: MediaDuration) -> TimeRange {
    let half = MediaDuration(typical.0 / 2);
    let before = if a > 0 { MediaDuration(s[a].t.since(s[a - 1].t).0 / 2).min(half) } else { half };
    let after = if b < s.len() { MediaDuration(s[b].t.since(s[b - 1].t).0 / 2).min(half) } else { half };
    TimeRange::new(MediaTime(s[a].t.0.saturating_sub(before.0)), s[b - 1].t + after)
}

/// The median gap between consecutive samples (200 ms when unknown).
fn typical_interval(s: &[ExpressionPoint]) -> MediaDuration {
    let mut gaps: Vec<u64> = s.windows(2).map(|w| w[1].t.since(w[0].t).0).filter(|&g| g > 0).collect();
    if gaps.is_empty() {
        return MediaDuration::from_millis(200);
    }
    gaps.sort_unstable();
    MediaDuration(gaps[gaps.len() / 2])
}

/// Median of finite values (0 for an empty slice); reorders `v`.
fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}
