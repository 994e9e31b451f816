//! Identity: is the same face on camera throughout the call, and is it the face of the reference photo?
//!
//! Input: the face embeddings sampled during the call (`Observations::video::face_embeddings`, MobileFaceNet,
//! about one a second) and `Interview::reference_face`. Signals:
//! - `identity.consistency`: every embedding against the call's medoid (the sample most similar to all others). A run
//!   of at least [`IdentityConfig::min_run_samples`] consecutive samples below [`IdentityConfig::same_person_min`] is
//!   a Concern ("face changed at t=…", the runs in `at`); single dips (a turned head, motion blur) are tolerated.
//!   Otherwise Supports. Fewer than two embeddings → Missing.
//! - `identity.reference`: the mean of the samples that agree with the medoid against the reference photo: Supports
//!   at or above [`IdentityConfig::reference_min`], Concern below. Missing without a reference or embeddings.
//!
//! Face embeddings separate people well (same person ≥ 0.78, different people ≤ 0.26 measured, see
//! `infer::models::face_embed::SAME_PERSON_MIN`), so confidences can be high far from the threshold. Pure.

use super::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::infer::models::Embedding;
use crate::infer::models::face_embed::SAME_PERSON_MIN;
use crate::interview::Interview;
use crate::observations::{FaceEmbeddingSample, Observations};
use crate::types::{MediaDuration, TimeRange};
use serde::{Deserialize, Serialize};

/// Model id of the face embedder (as in the manifest and `Observations::unavailable`).
const MODEL_ID: &str = "mobilefacenet";

/// Thresholds of the identity check (cosines of L2-normalised MobileFaceNet embeddings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// A sample below this cosine with the medoid is not the same person (default [`SAME_PERSON_MIN`]).
    pub same_person_min: f32,
    /// Consecutive samples below `same_person_min` needed to call it a change of face (1 = any single sample).
    pub min_run_samples: usize,
    /// The call's face against the reference photo: the same person at or above this cosine.
    pub reference_min: f32,
    /// Distance from a threshold (in cosine) at which a finding reaches its full confidence.
    pub full_confidence_margin: f32,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            same_person_min: SAME_PERSON_MIN,
            min_run_samples: 2,
            reference_min: SAME_PERSON_MIN,
            full_confidence_margin: 0.25,
        }
    }
}

/// Evaluates `identity.consistency` and `identity.reference`.
pub fn evaluate(obs: &Observations, interview: &Interview, cfg: &IdentityConfig) -> Vec<Evidence> {
    const SIGNALS: [&str; 2] = ["identity.consistency", "identity.reference"];
    if !obs.has_video {
        return SIGNALS.iter().map(|s| Evidence::missing(CheckKind::Identity, s, "the call has no video")).collect();
    }
    if let Some(why) = obs.unavailable.get(MODEL_ID) {
        return SIGNALS
            .iter()
            .map(|s| Evidence::unavailable(CheckKind::Identity, s, format!("face embedding model: {why}")))
            .collect();
    }
    let samples = usable(&obs.video.face_embeddings);
    if samples.is_empty() {
        return SIGNALS
            .iter()
            .map(|s| Evidence::missing(CheckKind::Identity, s, "no face could be embedded during the call"))
            .collect();
    }
    let embs: Vec<&Embedding> = samples.iter().map(|s| s.embedding.expose()).collect();
    let medoid = medoid(&embs);
    let sims: Vec<f32> = embs.iter().map(|e| e.cosine(embs[medoid])).collect();
    vec![consistency(&samples, &sims, cfg), reference(&samples, &sims, interview, cfg)]
}

/// Samples with a finite embedding of the most common size, in time order.
fn usable(all: &[FaceEmbeddingSample]) -> Vec<&FaceEmbeddingSample> {
    let mut ok: Vec<&FaceEmbeddingSample> = all
        .iter()
        .filter(|s| !s.embedding.expose().0.is_empty() && s.embedding.expose().0.iter().all(|x| x.is_finite()))
        .collect();
    let mut dims: Vec<usize> = ok.iter().map(|s| s.embedding.expose().0.len()).collect();
    dims.sort_unstable();
    let mut best = (0usize, 0usize);
    let mut k = 0;
    while k < dims.len() {
        let run = dims[k..].iter().take_while(|&&d| d == dims[k]).count();
        if run > best.1 {
            best = (dims[k], run);
        }
        k += run;
    }
    ok.retain(|s| s.embedding.expose().0.len() == best.0);
    ok.sort_by_key(|s| s.t);
    ok
}

/// Index of the embedding with the highest total similarity to all the others.
fn medoid(embs: &[&Embedding]) -> usize {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, a) in embs.iter().enumerate() {
        let total: f32 = embs.iter().map(|b| a.cosine(b)).sum();
        if total > best.1 {
            best = (i, total);
        }
    }
    best.0
}

fn consistency(samples: &[&FaceEmbeddingSample], sims: &[f32], cfg: &IdentityConfig) -> Evidence {
    const SIGNAL: &str = "identity.consistency";
    if samples.len() < 2 {
        return Evidence::missing(CheckKind::Identity, SIGNAL, "only one face embedding: nothing to compare it with");
    }
    // Runs of consecutive samples below the threshold.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &s) in sims.iter().enumerate() {
        match (s < cfg.same_person_min, start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                runs.push((a, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        runs.push((a, sims.len()));
    }
    let min_run = cfg.min_run_samples.max(1);
    let changed: Vec<(usize, usize)> = runs.iter().copied().filter(|(a, b)| b - a >= min_run).collect();
    let typical = typical_interval(samples);
    let range_of = |a: usize, b: usize| {
        let end = samples.get(b).map(|s| s.t).unwrap_or(samples[b - 1].t + typical);
        TimeRange::new(samples[a].t, end)
    };
    let margin = cfg.full_confidence_margin.max(1e-3);
    if let Some(&(a, _)) = changed.first() {
        let low: Vec<f32> = changed.iter().flat_map(|&(a, b)| sims[a..b].iter().copied()).collect();
        let mean_low = low.iter().sum::<f32>() / low.len() as f32;
        let flagged = low.len();
        let confidence = 0.6 + 0.35 * ((cfg.same_person_min - mean_low) / margin).clamp(0.0, 1.0);
        let summary = format!(
            "face changed at t={:.1} s: {flagged} of {} samples in {} stretch(es) look like another person \
             (mean similarity {mean_low:.2}, same person at {:.2} or more)",
            samples[a].t.as_secs_f64(),
            samples.len(),
            changed.len(),
            cfg.same_person_min
        );
        let mut e = Evidence::observed(CheckKind::Identity, SIGNAL, Finding::Concern, confidence, summary)
            .with_value(f64::from(mean_low));
        e.at = changed
            .iter()
            .map(|&(a, b)| {
                // The frame of the least similar sample in the run.
                let worst = (a..b).min_by(|&i, &j| sims[i].total_cmp(&sims[j])).unwrap_or(a);
                EvidenceRef { range: range_of(a, b), frame: Some(samples[worst].frame) }
            })
            .collect();
        return e;
    }
    let lowest = sims.iter().copied().fold(f32::INFINITY, f32::min);
    let dips: usize = runs.iter().map(|(a, b)| b - a).sum();
    let amount = (samples.len() as f32 / 10.0).clamp(0.0, 1.0);
    let confidence = (0.5 + 0.2 * amount + 0.2 * ((lowest - cfg.same_person_min) / margin).clamp(0.0, 1.0)).min(0.9);
    let mut summary = format!(
        "the same face throughout: {} samples over {:.0} s, lowest similarity to the typical face {lowest:.2}",
        samples.len(),
        samples[samples.len() - 1].t.since(samples[0].t).as_secs_f64()
    );
    if dips > 0 {
        summary.push_str(&format!(" ({dips} isolated low sample(s) tolerated)"));
    }
    Evidence::observed(CheckKind::Identity, SIGNAL, Finding::Supports, confidence, summary)
        .with_value(f64::from(lowest))
}

fn reference(samples: &[&FaceEmbeddingSample], sims: &[f32], interview: &Interview, cfg: &IdentityConfig) -> Evidence {
    const SIGNAL: &str = "identity.reference";
    let Some(reference) = interview.reference_face.as_ref().map(|r| r.expose()) else {
        return Evidence::missing(CheckKind::Identity, SIGNAL, "no reference photo embedding for this applicant");
    };
    let main: Vec<&Embedding> = samples
        .iter()
        .zip(sims)
        .filter(|(_, s)| **s >= cfg.same_person_min)
        .map(|(x, _)| x.embedding.expose())
        .collect();
    let Some(mean) = Embedding::mean(&main) else {
        return Evidence::missing(CheckKind::Identity, SIGNAL, "no consistent face to compare with the reference");
    };
    if reference.0.len() != mean.0.len() {
        return Evidence::unavailable(
            CheckKind::Identity,
            SIGNAL,
            format!("the reference embedding has {} values, the face model gives {}", reference.0.len(), mean.0.len()),
        );
    }
    let s = mean.cosine(reference);
    let individual = main.iter().filter(|e| e.cosine(reference) >= cfg.reference_min).count();
    let margin = cfg.full_confidence_margin.max(1e-3);
    let strength = ((s - cfg.reference_min).abs() / margin).clamp(0.0, 1.0);
    let confidence = 0.5 + 0.45 * strength;
    let (finding, verdict) =
        if s >= cfg.reference_min { (Finding::Supports, "matches") } else { (Finding::Concern, "does not match") };
    let summary = format!(
        "the face on the call {verdict} the reference photo (similarity {s:.2}, same person at {:.2} or more; \
         {individual} of {} samples match on their own)",
        cfg.reference_min,
        main.len()
    );
    let best = samples
        .iter()
        .zip(sims)
        .filter(|(_, s)| **s >= cfg.same_person_min)
        .max_by(|a, b| a.0.embedding.expose().cosine(reference).total_cmp(&b.0.embedding.expose().cosine(reference)))
        .map(|(x, _)| *x);
    let mut e = Evidence::observed(CheckKind::Identity, SIGNAL, finding, confidence, summary).with_value(f64::from(s));
    if let Some(x) = best {
        e = e.at(EvidenceRef { range: TimeRange::new(x.t, x.t + typical_interval(samples)), frame: Some(x.frame) });
    }
    e
}

/// The median gap between consecutive samples (1 s when there are fewer than two).
fn typical_interval(samples: &[&FaceEmbeddingSample]) -> MediaDuration {
    let mut gaps: Vec<u64> = samples.windows(2).map(|w| w[1].t.since(w[0].t).0).filter(|&g| g > 0).collect();
    if gaps.is_empty() {
        return MediaDuration::from_millis(1000);
    }
    gaps.sort_unstable();
    MediaDuration(gaps[gaps.len() / 2])
}
