//! Voice: is one person speaking throughout, is it the enrolled applicant, and is it a known fraud voice?
//!
//! Input: the voice embeddings of the pieces of speech (`Observations::audio::voices`, Resemblyzer GE2E, one per
//! piece of a speech segment; calibrated for pieces of at most [`CALIBRATED_PIECE_MS`]). Signals:
//! - `voice.second_speaker`: the pieces of at least [`VoiceConfig::min_piece_s`] are clustered (agglomerative,
//!   average linkage on cosine similarity, merging while the mean pairwise cosine of two clusters is at least
//!   [`VoiceConfig::merge_min`]). The cluster with the most speech is the main voice; another cluster with at least
//!   [`VoiceConfig::min_minority_s`] seconds in at least [`VoiceConfig::min_minority_pieces`] pieces is a second
//!   speaker (Concern, its pieces in `at`). Otherwise Supports; fewer than two usable pieces → Missing.
//! - `voice.enrolled_match`: the applicant's voice (the main cluster when a second speaker was found, else every
//!   usable piece), as a mean embedding, against `Interview::enrolled_voice`: Supports / Neutral / Concern.
//! - `voice.blocklist`: every piece, and the applicant's mean, against each `Interview::blocked_voices` entry →
//!   Concern naming the best-matching id; Neutral with the closest one otherwise; Missing without a blocklist.
//!
//! The embedding is weak on phone audio: same-speaker and different-speaker cosines of 1-3 s pieces overlap, and the
//! same voice in two recordings scores lower than two voices in one. `docs/calibration-voice.md` has the measured
//! distributions, how the thresholds were chosen and what the check misses; confidences stay moderate and the
//! summaries give the numbers. Pure: no clock, no I/O.

use super::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::infer::models::Embedding;
use crate::interview::Interview;
use crate::observations::{Observations, VoiceSample};
use crate::types::{MediaDuration, TimeRange};
use serde::{Deserialize, Serialize};

/// Model id of the voice embedder (as in the manifest and `Observations::unavailable`).
const MODEL_ID: &str = "voice_embedding";

/// Thresholds of the voice check. Cosines are between L2-normalised Resemblyzer embeddings; the defaults come from
/// the calibration in `docs/calibration-voice.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// Pieces shorter than this (seconds) are left out: embeddings of short speech are poor.
    pub min_piece_s: f32,
    /// Average-linkage merge threshold: two clusters of pieces whose mean pairwise cosine is at least this are the
    /// same voice.
    pub merge_min: f32,
    /// A cluster other than the main one is a second speaker when it holds at least this much speech (seconds) ...
    pub min_minority_s: f32,
    /// ... in at least this many pieces (one odd piece is more often noise, laughter or a mixed turn).
    pub min_minority_pieces: usize,
    /// At most this many pieces are clustered (evenly spaced ones are kept beyond it), bounding the O(n³) work.
    pub max_pieces: usize,
    /// The applicant's mean voice vs the enrolled voiceprint: Supports at or above this cosine ...
    pub enrolled_supports_min: f32,
    /// ... Concern below this cosine; in between the finding is Neutral (the scores overlap there).
    pub enrolled_concern_below: f32,
    /// A piece whose cosine with a blocked voiceprint is at least this counts as a hit ...
    pub blocklist_piece_min: f32,
    /// ... and this many hits on one blocked voice make a Concern (more hits raise the confidence).
    pub blocklist_min_pieces: usize,
    /// The applicant's mean voice at or above this cosine with a blocked voiceprint is a Concern on its own.
    pub blocklist_mean_min: f32,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            min_piece_s: 1.0,
            merge_min: 0.72,
            min_minority_s: 3.0,
            min_minority_pieces: 2,
            max_pieces: 600,
            enrolled_supports_min: 0.85,
            enrolled_concern_below: 0.60,
            blocklist_piece_min: 0.86,
            blocklist_min_pieces: 1,
            blocklist_mean_min: 0.90,
        }
    }
}

/// The length of speech piece (ms) the thresholds were calibrated for: the driver should cut speech segments into
/// pieces of at most this length (`ReplayOptions::max_voice_piece`). With 3 s pieces most second speakers go unseen
/// (pieces straddle turns); see `docs/calibration-voice.md`.
pub const CALIBRATED_PIECE_MS: u64 = 1500;

/// Median piece length (s) above which the check says its calibration does not hold.
const LONG_PIECES_S: f64 = 2.2;

/// One group of pieces that sound like the same voice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeakerCluster {
    /// Indices into `Observations::audio::voices`, in time order.
    pub pieces: Vec<usize>,
    /// Speech covered by the pieces, seconds.
    pub seconds: f64,
    /// Mean pairwise cosine inside the cluster (`None` for a single piece).
    pub within: Option<f32>,
    /// Mean cosine between this cluster's pieces and the main cluster's (`None` for the main cluster itself).
    pub link_to_main: Option<f32>,
}

/// Clusters the usable pieces of `voices` (see the module docs); the main voice (most speech) first, then the
/// others by decreasing speech. Pieces that are too short, or whose embedding size differs from the first usable
/// piece's, are left out. Empty when no piece is usable.
pub fn speaker_clusters(voices: &[VoiceSample], cfg: &VoiceConfig) -> Vec<SpeakerCluster> {
    let usable = usable_pieces(voices, cfg);
    if usable.is_empty() {
        return Vec::new();
    }
    let embs: Vec<&Embedding> = usable.iter().map(|&i| voices[i].embedding.expose()).collect();
    let sim = similarity_matrix(&embs);
    let groups = average_linkage(&sim, cfg.merge_min);
    let seconds_of = |g: &[usize]| g.iter().map(|&k| secs(voices[usable[k]].range.duration())).sum::<f64>();
    let mut groups: Vec<(Vec<usize>, f64)> = groups
        .into_iter()
        .map(|g| {
            let s = seconds_of(&g);
            (g, s)
        })
        .collect();
    // Most speech first; ties by the earliest piece, so the order is deterministic.
    groups.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.first().cmp(&b.0.first())));
    let main = groups[0].0.clone();
    groups
        .into_iter()
        .enumerate()
        .map(|(n, (g, seconds))| SpeakerCluster {
            within: mean_pairwise(&sim, &g),
            link_to_main: (n > 0).then(|| mean_between(&sim, &g, &main)),
            pieces: g.iter().map(|&k| usable[k]).collect(),
            seconds,
        })
        .collect()
}

/// Evaluates `voice.second_speaker`, `voice.enrolled_match` and `voice.blocklist`.
pub fn evaluate(obs: &Observations, interview: &Interview, cfg: &VoiceConfig) -> Vec<Evidence> {
    const SIGNALS: [&str; 3] = ["voice.second_speaker", "voice.enrolled_match", "voice.blocklist"];
    let absent = |why: &str| SIGNALS.iter().map(|s| Evidence::missing(CheckKind::Voice, s, why)).collect();
    if !obs.has_audio {
        return absent("the call has no audio");
    }
    if let Some(why) = obs.unavailable.get(MODEL_ID) {
        return SIGNALS
            .iter()
            .map(|s| Evidence::unavailable(CheckKind::Voice, s, format!("voice embedding model: {why}")))
            .collect();
    }
    let voices = &obs.audio.voices;
    let clusters = speaker_clusters(voices, cfg);
    if clusters.is_empty() {
        return absent(&format!("no piece of speech of {:.1} s or more to take a voiceprint from", cfg.min_piece_s));
    }
    // The applicant's voice: the main cluster when a second speaker was found, else every usable piece (a single
    // voice that the weak embedding split into stray clusters is still one voice).
    let (main_pieces, main_s) = if clusters[1..].iter().any(|c| is_minority(c, cfg)) {
        (clusters[0].pieces.clone(), clusters[0].seconds)
    } else {
        (clusters.iter().flat_map(|c| c.pieces.iter().copied()).collect(), clusters.iter().map(|c| c.seconds).sum())
    };
    let main_embs: Vec<&Embedding> = main_pieces.iter().map(|&i| voices[i].embedding.expose()).collect();
    let main_mean = Embedding::mean(&main_embs);
    vec![
        second_speaker(voices, &clusters, cfg),
        enrolled_match(main_mean.as_ref(), main_s, interview, cfg),
        blocklist(voices, &clusters, main_mean.as_ref(), interview, cfg),
    ]
}

/// A cluster other than the main one with enough speech in enough pieces to be a second speaker.
fn is_minority(c: &SpeakerCluster, cfg: &VoiceConfig) -> bool {
    c.seconds >= f64::from(cfg.min_minority_s) && c.pieces.len() >= cfg.min_minority_pieces
}

fn second_speaker(voices: &[VoiceSample], clusters: &[SpeakerCluster], cfg: &VoiceConfig) -> Evidence {
    const SIGNAL: &str = "voice.second_speaker";
    let used: usize = clusters.iter().map(|c| c.pieces.len()).sum();
    if used < 2 {
        return Evidence::missing(
            CheckKind::Voice,
            SIGNAL,
            format!("only one piece of speech of {:.1} s or more: too little to compare voices", cfg.min_piece_s),
        );
    }
    let main = &clusters[0];
    let (minorities, stray): (Vec<&SpeakerCluster>, Vec<&SpeakerCluster>) =
        clusters[1..].iter().partition(|c| is_minority(c, cfg));
    let stray_s: f64 = stray.iter().map(|c| c.seconds).sum();
    let total_s: f64 = clusters.iter().map(|c| c.seconds).sum();
    if let Some(first) = minorities.first() {
        // `first` holds the most speech among the minorities.
        let link = first.link_to_main.unwrap_or(cfg.merge_min);
        // Near the merge threshold a split is often one voice in two moods (calibration): low confidence there,
        // review-worthy (>= 0.6) only when the voices differ clearly.
        let margin = ((cfg.merge_min - link) / 0.12).clamp(0.0, 1.0);
        let extent = ((first.seconds - f64::from(cfg.min_minority_s)) / 10.0).clamp(0.0, 1.0) as f32;
        let confidence = 0.4 + 0.35 * margin + 0.1 * extent;
        let minority_s: f64 = minorities.iter().map(|c| c.seconds).sum();
        let pieces: Vec<usize> = {
            let mut p: Vec<usize> = minorities.iter().flat_map(|c| c.pieces.iter().copied()).collect();
            p.sort_unstable();
            p
        };
        let ranges = merge_ranges(pieces.iter().map(|&i| voices[i].range));
        let when: Vec<String> = ranges.iter().take(4).map(fmt_range).collect();
        let more = if ranges.len() > 4 { format!(" and {} more", ranges.len() - 4) } else { String::new() };
        let summary = format!(
            "{} other voice(s) in {} piece(s), {minority_s:.1} s of {total_s:.1} s of speech, at {}{more}; \
             similarity to the main voice {link:.2} (same voice at {:.2} or more)",
            minorities.len(),
            pieces.len(),
            when.join(", "),
            cfg.merge_min
        );
        let mut e = Evidence::observed(CheckKind::Voice, SIGNAL, Finding::Concern, confidence, summary)
            .with_value(f64::from(link));
        e.at = ranges.into_iter().map(|range| EvidenceRef { range, frame: None }).collect();
        return e;
    }
    // One voice. The weak embedding cannot rule out a similar-sounding second voice: moderate confidence, lower
    // when stray pieces were set aside, little speech was compared, or the pieces are longer than calibrated for.
    let worst = clusters[1..].iter().filter_map(|c| c.link_to_main).reduce(f32::min);
    let within = main.within.unwrap_or(1.0);
    let stray_share = if total_s > 0.0 { (stray_s / total_s) as f32 } else { 0.0 };
    let amount = ((total_s / 20.0) as f32).clamp(0.0, 1.0);
    let long = median_piece_s(voices, clusters) > LONG_PIECES_S;
    let confidence = (0.35 + 0.3 * amount) * (1.0 - stray_share) * if long { 0.5 } else { 1.0 };
    let mut summary = format!("no second voice found in {used} piece(s), {total_s:.1} s of speech");
    if let Some(w) = main.within {
        summary.push_str(&format!(" (main voice: {} pieces, mean similarity {w:.2})", main.pieces.len()));
    }
    if !stray.is_empty() {
        let pieces: usize = stray.iter().map(|c| c.pieces.len()).sum();
        summary.push_str(&format!(
            "; {pieces} stray piece(s) ({stray_s:.1} s, under {:.1} s or {} pieces per voice) set aside",
            cfg.min_minority_s, cfg.min_minority_pieces
        ));
        if let Some(w) = worst {
            summary.push_str(&format!(", lowest similarity to the main voice {w:.2}"));
        }
    }
    if long {
        summary.push_str(&format!(
            "; pieces are longer than the {:.1} s calibrated for, so a second voice is easily missed",
            CALIBRATED_PIECE_MS as f64 / 1000.0
        ));
    }
    Evidence::observed(CheckKind::Voice, SIGNAL, Finding::Supports, confidence, summary)
        .with_value(f64::from(worst.unwrap_or(within)))
}

/// Median length (s) of the clustered pieces.
fn median_piece_s(voices: &[VoiceSample], clusters: &[SpeakerCluster]) -> f64 {
    let mut d: Vec<f64> =
        clusters.iter().flat_map(|c| c.pieces.iter().map(|&i| secs(voices[i].range.duration()))).collect();
    if d.is_empty() {
        return 0.0;
    }
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}

fn enrolled_match(main_mean: Option<&Embedding>, main_s: f64, interview: &Interview, cfg: &VoiceConfig) -> Evidence {
    const SIGNAL: &str = "voice.enrolled_match";
    let Some(enrolled) = interview.enrolled_voice.as_ref().map(|e| e.expose()) else {
        return Evidence::missing(CheckKind::Voice, SIGNAL, "no enrolled voiceprint for this applicant");
    };
    let Some(mean) = main_mean else {
        return Evidence::missing(CheckKind::Voice, SIGNAL, "no usable voiceprint from the call");
    };
    if enrolled.0.len() != mean.0.len() {
        return Evidence::unavailable(
            CheckKind::Voice,
            SIGNAL,
            format!("the enrolled voiceprint has {} values, the voice model gives {}", enrolled.0.len(), mean.0.len()),
        );
    }
    let s = mean.cosine(enrolled);
    // Cross-recording scores are low even for the same voice (calibration): a Concern stays at or below 0.7.
    let (finding, confidence, verdict) = if s >= cfg.enrolled_supports_min {
        let c = 0.5 + 0.3 * ((s - cfg.enrolled_supports_min) / 0.08).clamp(0.0, 1.0);
        (Finding::Supports, c, "matches")
    } else if s < cfg.enrolled_concern_below {
        let c = 0.5 + 0.2 * ((cfg.enrolled_concern_below - s) / 0.15).clamp(0.0, 1.0);
        (Finding::Concern, c, "does not match")
    } else {
        (Finding::Neutral, 0.3, "neither clearly matches nor differs from")
    };
    let summary = format!(
        "the main voice ({:.1} s) {verdict} the enrolled voiceprint (similarity {s:.2}; match at {:.2}, differ below {:.2})",
        main_s, cfg.enrolled_supports_min, cfg.enrolled_concern_below
    );
    Evidence::observed(CheckKind::Voice, SIGNAL, finding, confidence, summary).with_value(f64::from(s))
}

fn blocklist(
    voices: &[VoiceSample],
    clusters: &[SpeakerCluster],
    main_mean: Option<&Embedding>,
    interview: &Interview,
    cfg: &VoiceConfig,
) -> Evidence {
    const SIGNAL: &str = "voice.blocklist";
    if interview.blocked_voices.is_empty() {
        return Evidence::missing(CheckKind::Voice, SIGNAL, "no blocked voiceprints to compare with");
    }
    let pieces: Vec<usize> = {
        let mut p: Vec<usize> = clusters.iter().flat_map(|c| c.pieces.iter().copied()).collect();
        p.sort_unstable();
        p
    };
    let dim = pieces.first().map(|&i| voices[i].embedding.expose().0.len());
    let mut scored: Vec<BlockScore> = Vec::new();
    for (id, blocked) in &interview.blocked_voices {
        let blocked = blocked.expose();
        if Some(blocked.0.len()) != dim {
            continue;
        }
        let scores: Vec<(usize, f32)> =
            pieces.iter().map(|&i| (i, voices[i].embedding.expose().cosine(blocked))).collect();
        scored.push(BlockScore {
            id: id.clone(),
            top: scores.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max),
            hits: scores.iter().filter(|s| s.1 >= cfg.blocklist_piece_min).map(|s| voices[s.0].range).collect(),
            mean: main_mean.map(|m| m.cosine(blocked)),
        });
    }
    if scored.is_empty() {
        return Evidence::unavailable(
            CheckKind::Voice,
            SIGNAL,
            "no blocked voiceprint has the voice model's embedding size: cannot compare",
        );
    }
    let compared = scored.len();
    // Strongest first: by the better of the best piece and the main voice.
    scored.sort_by(|a, b| b.strongest().total_cmp(&a.strongest()));
    let is_hit = |b: &BlockScore| {
        b.hits.len() >= cfg.blocklist_min_pieces.max(1) || b.mean.is_some_and(|m| m >= cfg.blocklist_mean_min)
    };
    if let Some(BlockScore { id, top, hits: ranges, mean: mean_s }) = scored.iter().find(|b| is_hit(b)).cloned() {
        let hits = ranges.len();
        let mean_txt = mean_s.map(|m| format!(", main voice {m:.2}")).unwrap_or_default();
        let strength = mean_s.map_or(0.0, |m| ((m - cfg.blocklist_mean_min + 0.04) / 0.06).clamp(0.0, 1.0));
        let many = ((hits as f32 - cfg.blocklist_min_pieces.max(1) as f32) / 3.0).clamp(0.0, 1.0);
        // At most 0.85: a weak embedding alone should send a case to review, not reject it.
        let confidence =
            0.55 + 0.2 * strength.max(many) + 0.1 * ((top - cfg.blocklist_piece_min) / 0.06).clamp(0.0, 1.0);
        let summary = format!(
            "the voice matches blocked voiceprint `{id}`: {hits} piece(s) at {:.2} or more (best {top:.2}){mean_txt}",
            cfg.blocklist_piece_min
        );
        let mut e = Evidence::observed(CheckKind::Voice, SIGNAL, Finding::Concern, confidence, summary)
            .with_value(f64::from(mean_s.unwrap_or(top).max(top)));
        e.at = merge_ranges(ranges.into_iter()).into_iter().map(|range| EvidenceRef { range, frame: None }).collect();
        return e;
    }
    let closest = &scored[0];
    let (id, top, mean_s) = (&closest.id, closest.top, closest.mean);
    let mean_txt = mean_s.map(|m| format!(", main voice {m:.2}")).unwrap_or_default();
    let summary = format!(
        "no match among {compared} blocked voiceprint(s): closest `{id}`, best piece {top:.2}{mean_txt} (match at {:.2})",
        cfg.blocklist_piece_min
    );
    Evidence::observed(CheckKind::Voice, SIGNAL, Finding::Neutral, 0.5, summary).with_value(f64::from(top))
}

/// One blocked voiceprint against the call.
#[derive(Clone)]
struct BlockScore {
    id: String,
    /// Best cosine of any piece.
    top: f32,
    /// The pieces at or above the piece threshold.
    hits: Vec<TimeRange>,
    /// The applicant's (main) voice mean.
    mean: Option<f32>,
}

impl BlockScore {
    fn strongest(&self) -> f32 {
        self.mean.map_or(self.top, |m| m.max(self.top))
    }
}

/// Indices of the pieces long enough to embed well and of the same embedding size as the first of them, evenly
/// thinned to at most `max_pieces`.
fn usable_pieces(voices: &[VoiceSample], cfg: &VoiceConfig) -> Vec<usize> {
    let min = MediaDuration::from_secs_f64(f64::from(cfg.min_piece_s));
    let long: Vec<usize> = (0..voices.len())
        .filter(|&i| voices[i].range.duration() >= min && voices[i].embedding.expose().0.iter().all(|x| x.is_finite()))
        .collect();
    let Some(dim) = long.first().map(|&i| voices[i].embedding.expose().0.len()) else {
        return Vec::new();
    };
    let mut same: Vec<usize> =
        long.into_iter().filter(|&i| voices[i].embedding.expose().0.len() == dim && dim > 0).collect();
    same.sort_by_key(|&i| (voices[i].range.start, i));
    let cap = cfg.max_pieces.max(2);
    if same.len() > cap {
        let n = same.len();
        same = (0..cap).map(|k| same[k * n / cap]).collect();
    }
    same
}

fn similarity_matrix(embs: &[&Embedding]) -> Vec<Vec<f32>> {
    let n = embs.len();
    let mut m = vec![vec![1.0f32; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let c = embs[i].cosine(embs[j]);
            m[i][j] = c;
            m[j][i] = c;
        }
    }
    m
}

/// Agglomerative clustering with average linkage: repeatedly merges the two clusters with the highest mean pairwise
/// similarity while it is at least `merge_min`. Returns groups of indices, each sorted.
fn average_linkage(sim: &[Vec<f32>], merge_min: f32) -> Vec<Vec<usize>> {
    let n = sim.len();
    let mut link: Vec<Vec<f32>> = sim.to_vec();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut active = vec![true; n];
    loop {
        let mut best: Option<(usize, usize, f32)> = None;
        for i in 0..n {
            if !active[i] {
                continue;
            }
            for j in i + 1..n {
                if active[j] && best.is_none_or(|b| link[i][j] > b.2) {
                    best = Some((i, j, link[i][j]));
                }
            }
        }
        let Some((i, j, s)) = best else { break };
        if s.is_nan() || s < merge_min {
            break;
        }
        let (ni, nj) = (members[i].len() as f32, members[j].len() as f32);
        for k in 0..n {
            if active[k] && k != i && k != j {
                let v = (ni * link[i][k] + nj * link[j][k]) / (ni + nj);
                link[i][k] = v;
                link[k][i] = v;
            }
        }
        let moved = std::mem::take(&mut members[j]);
        members[i].extend(moved);
        members[i].sort_unstable();
        active[j] = false;
    }
    members.into_iter().zip(active).filter(|(_, a)| *a).map(|(m, _)| m).collect()
}

fn mean_pairwise(sim: &[Vec<f32>], g: &[usize]) -> Option<f32> {
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (a, &i) in g.iter().enumerate() {
        for &j in &g[a + 1..] {
            sum += f64::from(sim[i][j]);
            n += 1;
        }
    }
    (n > 0).then(|| (sum / n as f64) as f32)
}

fn mean_between(sim: &[Vec<f32>], a: &[usize], b: &[usize]) -> f32 {
    let mut sum = 0.0f64;
    for &i in a {
        for &j in b {
            sum += f64::from(sim[i][j]);
        }
    }
    let n = (a.len() * b.len()).max(1);
    (sum / n as f64) as f32
}

/// Sorted ranges with touching or overlapping ones (gap under 0.5 s) joined.
fn merge_ranges(ranges: impl Iterator<Item = TimeRange>) -> Vec<TimeRange> {
    let mut v: Vec<TimeRange> = ranges.collect();
    v.sort_by_key(|r| r.start);
    let mut out: Vec<TimeRange> = Vec::new();
    let gap = MediaDuration::from_millis(500);
    for r in v {
        match out.last_mut() {
            Some(last) if last.end + gap >= r.start => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

fn secs(d: MediaDuration) -> f64 {
    d.as_secs_f64()
}

fn fmt_range(r: &TimeRange) -> String {
    format!("{:.1}-{:.1} s", r.start.as_secs_f64(), r.end.as_secs_f64())
}
