//! Background: does what is behind the applicant fit the declared business, and is anyone or anything there that
//! should not be?
//!
//! Signals (all supplementary and weak: the fusion policy caps background at review):
//! - `background.scene_category`: the scene classifier's category probabilities (ImageNet classes summed per
//!   `models/scene_categories.toml` category), averaged over the call, against the declared business category.
//!   Only *place* categories compete (`screen_or_display` is not a place). Supports when the declared category leads
//!   or holds a fair share of the place evidence, Concern when another place clearly dominates and the declared one is
//!   nearly absent, Neutral when the classes say little about the place. Missing without a declared business.
//! - `background.other_people`: more than one person (object detector) or more than one face (face detector) for
//!   a sustained run of samples → Concern with the runs; else Supports. A face on a poster also counts: the
//!   reviewer judges.
//! - `background.screen`: a TV/monitor or laptop seen away from the applicant's face (a screen at the face is the
//!   liveness check's business) in a good share of the samples → weak Concern (a staged background or a remote
//!   operator); occasional screens → Neutral with the times.
//! - `background.virtual`: a virtual-background suspicion from two cues only: the scene classifier's top class and
//!   probability barely change over the call (the picture behind is static), and the person's share of the frame
//!   barely changes. Both → weak Concern; the cues are also met by a phone on a stand in a quiet room, and no pixel
//!   test (edge halo, lighting mismatch) is done.
//! - `background.sign_text`: OCR lines fuzzy-matched against the declared business name, Chinese and English: case,
//!   full-width forms and punctuation are normalised away, generic words (有限公司, 超市, Ltd, Store …) may be left
//!   out, and a line matches when it contains the name or its closest name-sized window has a normalised Levenshtein
//!   similarity (per character, so per Chinese character) of at least [`BackgroundConfig::sign_match_min`].
//!   A match → Supports with the text and time; text but no match, or no text → Neutral.
//!
//! Pure: no I/O, no clock.

use super::{CheckKind, Evidence, EvidenceRef, Finding};
use crate::interview::Interview;
use crate::observations::{FaceSample, ObjectSample, Observations};
use crate::types::{FrameIndex, MediaDuration, MediaTime, TimeRange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SCENE_MODEL: &str = "scene";
const OBJECT_MODEL: &str = "centernet";
const FACE_MODEL: &str = "blazeface";
const SEGMENTATION_MODEL: &str = "selfie_segmentation";
const OCR_MODELS: [&str; 2] = ["ocr_det", "ocr_rec"];

/// Thresholds of the background check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackgroundConfig {
    /// The categories of `models/scene_categories.toml` (a declared category outside this list has no scene
    /// mapping: Missing).
    pub categories: Vec<String>,
    /// Categories that are not kinds of place and do not compete with the declared one.
    pub non_place_categories: Vec<String>,
    /// Below this mean probability on all place categories together, the scene says nothing about the place.
    pub min_place_mass: f32,
    /// Supports when the declared category holds at least this share of the place evidence (or leads it).
    pub supports_share: f32,
    /// Concern when another place holds at least this share ...
    pub concern_other_share: f32,
    /// ... and the declared category less than this share.
    pub concern_declared_below: f32,
    /// A run of at least this many consecutive samples with more than one person/face ...
    pub people_min_run_samples: usize,
    /// ... lasting at least this long (ms) is sustained.
    pub people_min_run_ms: u64,
    /// Sustained runs adding up to at least this long (ms) are a Concern.
    pub people_min_total_ms: u64,
    /// Object labels that are screens for `background.screen` (COCO: `tv` covers monitors).
    pub screen_labels: Vec<String>,
    /// A screen box covering at least this share of the face box is "at the face" and left to liveness.
    pub screen_face_overlap: f32,
    /// A face sample at most this far in time (ms) from an object sample gives the face box.
    pub face_match_ms: u64,
    /// Share of object samples with a background screen from which it is a Concern.
    pub screen_min_share: f32,
    /// Fewest scene (and segmentation) samples for the virtual-background cues.
    pub virtual_min_samples: usize,
    /// Cue 1: the top scene class is the same in at least this share of samples ...
    pub virtual_same_top_share: f32,
    /// ... and its probability varies by at most this standard deviation.
    pub virtual_top_prob_std_max: f32,
    /// Cue 2: the person's share of the frame varies by at most this standard deviation.
    pub virtual_person_std_max: f32,
    /// OCR lines below this recogniser score are ignored.
    pub sign_min_ocr_score: f32,
    /// Similarity (0-1) at which sign text matches the declared name.
    pub sign_match_min: f64,
    /// Generic words dropped from the declared name to get its core (kept only when the core is 2+ characters).
    pub sign_generic_words: Vec<String>,
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        BackgroundConfig {
            categories: s(&[
                "grocery_retail",
                "restaurant_cafe_food",
                "barbershop_beauty",
                "bookshop_stationery",
                "clothing_tailor",
                "pharmacy",
                "workshop_repair_hardware",
                "office_desk",
                "home_living_room",
                "outdoors_street",
                "vehicle",
                "screen_or_display",
            ]),
            non_place_categories: s(&["screen_or_display"]),
            min_place_mass: 0.05,
            supports_share: 0.35,
            concern_other_share: 0.5,
            concern_declared_below: 0.1,
            people_min_run_samples: 2,
            people_min_run_ms: 1000,
            people_min_total_ms: 2000,
            screen_labels: s(&["tv", "laptop"]),
            screen_face_overlap: 0.3,
            face_match_ms: 1000,
            screen_min_share: 0.3,
            virtual_min_samples: 5,
            virtual_same_top_share: 0.9,
            virtual_top_prob_std_max: 0.02,
            virtual_person_std_max: 0.005,
            sign_min_ocr_score: 0.5,
            sign_match_min: 0.8,
            sign_generic_words: s(&[
                "有限责任公司",
                "股份有限公司",
                "有限公司",
                "公司",
                "超市",
                "商店",
                "商行",
                "门店",
                "餐厅",
                "饭店",
                "店",
                "co",
                "ltd",
                "inc",
                "llc",
                "limited",
                "company",
                "trading",
                "store",
                "shop",
                "supermarket",
                "grocery",
                "market",
                "mart",
                "restaurant",
                "cafe",
                "the",
            ]),
        }
    }
}

/// Evaluates the five background signals.
pub fn evaluate(obs: &Observations, interview: &Interview, cfg: &BackgroundConfig) -> Vec<Evidence> {
    vec![
        scene_category(obs, interview, cfg),
        other_people(obs, cfg),
        screen(obs, cfg),
        virtual_background(obs, cfg),
        sign_text(obs, interview, cfg),
    ]
}

// ---- scene category ---------------------------------------------------------------------------------------------

fn scene_category(obs: &Observations, interview: &Interview, cfg: &BackgroundConfig) -> Evidence {
    const SIGNAL: &str = "background.scene_category";
    let Some(declared) = interview.declared.as_ref() else {
        return Evidence::missing(CheckKind::Background, SIGNAL, "no declared business to compare the scene with");
    };
    if !obs.has_video {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the call has no video");
    }
    if let Some(why) = obs.unavailable.get(SCENE_MODEL) {
        return Evidence::unavailable(CheckKind::Background, SIGNAL, format!("scene model: {why}"));
    }
    let scene = &obs.video.scene;
    if scene.is_empty() {
        return Evidence::missing(CheckKind::Background, SIGNAL, "no frame was classified for the scene");
    }
    let want = declared.category.as_str();
    let is_place = |c: &str| cfg.categories.iter().any(|k| k == c) && !cfg.non_place_categories.iter().any(|k| k == c);
    if !is_place(want) {
        return Evidence::missing(
            CheckKind::Background,
            SIGNAL,
            format!("the declared category `{want}` has no scene mapping"),
        );
    }
    let mut mean: BTreeMap<&str, f32> = BTreeMap::new();
    for s in scene {
        for c in &s.categories {
            if is_place(&c.label) && c.prob.is_finite() {
                *mean.entry(c.label.as_str()).or_default() += c.prob.max(0.0) / scene.len() as f32;
            }
        }
    }
    let mass: f32 = mean.values().sum();
    let declared_p = mean.get(want).copied().unwrap_or(0.0);
    if mass < cfg.min_place_mass {
        return Evidence::observed(
            CheckKind::Background,
            SIGNAL,
            Finding::Neutral,
            0.3,
            format!(
                "the scene classes say little about the place ({:.0}% of the probability on place categories in {} \
                 frames)",
                mass * 100.0,
                scene.len()
            ),
        )
        .with_value(0.0);
    }
    let share = declared_p / mass;
    let top_other = mean.iter().filter(|(k, _)| **k != want).max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (*k, *v));
    let leads = top_other.is_none_or(|(_, p)| declared_p >= p);
    let frame_of = |cat: &str| {
        let best = scene.iter().enumerate().max_by(|a, b| prob_of(a.1, cat).total_cmp(&prob_of(b.1, cat)));
        best.map(|(i, s)| EvidenceRef { range: span(scene.iter().map(|x| x.t), i), frame: Some(s.frame) })
    };
    let (finding, confidence, summary, at) = if share >= cfg.supports_share || leads {
        (
            Finding::Supports,
            0.3 + 0.3 * share,
            format!(
                "the scene fits the declared `{want}`: {:.0}% of the place evidence over {} frames",
                share * 100.0,
                scene.len()
            ),
            frame_of(want),
        )
    } else if let Some((other, p)) = top_other.filter(|(_, p)| p / mass >= cfg.concern_other_share)
        && share < cfg.concern_declared_below
    {
        (
            Finding::Concern,
            0.3 + 0.3 * (p / mass),
            format!(
                "the scene looks like `{other}` ({:.0}% of the place evidence), not the declared `{want}` ({:.0}%)",
                p / mass * 100.0,
                share * 100.0
            ),
            frame_of(other),
        )
    } else {
        (
            Finding::Neutral,
            0.3,
            format!(
                "the scene neither clearly fits nor contradicts the declared `{want}` ({:.0}% of the place evidence)",
                share * 100.0
            ),
            None,
        )
    };
    let mut e =
        Evidence::observed(CheckKind::Background, SIGNAL, finding, confidence, summary).with_value(f64::from(share));
    e.at.extend(at);
    e
}

fn prob_of(s: &crate::observations::SceneSample, cat: &str) -> f32 {
    s.categories.iter().find(|c| c.label == cat).map_or(0.0, |c| c.prob)
}

// ---- other people -----------------------------------------------------------------------------------------------

fn other_people(obs: &Observations, cfg: &BackgroundConfig) -> Evidence {
    const SIGNAL: &str = "background.other_people";
    if !obs.has_video {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the call has no video");
    }
    let objects: &[ObjectSample] = if obs.unavailable.contains_key(OBJECT_MODEL) { &[] } else { &obs.video.objects };
    let faces: &[FaceSample] = if obs.unavailable.contains_key(FACE_MODEL) { &[] } else { &obs.video.faces };
    if objects.is_empty() && faces.is_empty() {
        if obs.unavailable.contains_key(OBJECT_MODEL) && obs.unavailable.contains_key(FACE_MODEL) {
            return Evidence::unavailable(CheckKind::Background, SIGNAL, "object and face detectors unavailable");
        }
        return Evidence::missing(CheckKind::Background, SIGNAL, "no frame was analysed for people");
    }
    let obj: Vec<(MediaTime, FrameIndex, bool)> = sorted(objects.iter().map(|s| (s.t, s.frame, s.persons > 1)));
    let fac: Vec<(MediaTime, FrameIndex, bool)> = sorted(faces.iter().map(|s| (s.t, s.frame, s.faces > 1)));
    let min_len = MediaDuration::from_millis(cfg.people_min_run_ms);
    let mut found: Vec<(TimeRange, FrameIndex)> = sustained_runs(&obj, cfg.people_min_run_samples, min_len);
    found.extend(sustained_runs(&fac, cfg.people_min_run_samples, min_len));
    let share = |v: &[(MediaTime, FrameIndex, bool)]| {
        if v.is_empty() { 0.0 } else { v.iter().filter(|x| x.2).count() as f32 / v.len() as f32 }
    };
    let (obj_share, face_share) = (share(&obj), share(&fac));
    let merged = merge_refs(found);
    let total: u64 = merged.iter().map(|r| r.range.duration().0).sum();
    let sources = format!(
        "{} of {} object samples show 2+ persons, {} of {} face samples 2+ faces",
        obj.iter().filter(|x| x.2).count(),
        obj.len(),
        fac.iter().filter(|x| x.2).count(),
        fac.len()
    );
    if !merged.is_empty() && total >= MediaDuration::from_millis(cfg.people_min_total_ms).0 {
        let most = obj_share.max(face_share);
        let confidence = 0.4 + 0.4 * (most / 0.5).clamp(0.0, 1.0);
        let summary = format!(
            "someone else is in view for {:.1} s in {} stretch(es), first at {:.1} s ({sources})",
            total as f64 / 1e9,
            merged.len(),
            merged[0].range.start.as_secs_f64()
        );
        let mut e = Evidence::observed(CheckKind::Background, SIGNAL, Finding::Concern, confidence, summary)
            .with_value(f64::from(most));
        e.at = merged;
        return e;
    }
    let confidence = 0.4 * (1.0 - obj_share.max(face_share));
    let summary = format!("no one else stays in view ({sources})");
    let mut e = Evidence::observed(CheckKind::Background, SIGNAL, Finding::Supports, confidence, summary)
        .with_value(f64::from(obj_share.max(face_share)));
    e.at = merged;
    e
}

// ---- screens ----------------------------------------------------------------------------------------------------

fn screen(obs: &Observations, cfg: &BackgroundConfig) -> Evidence {
    const SIGNAL: &str = "background.screen";
    if !obs.has_video {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the call has no video");
    }
    if let Some(why) = obs.unavailable.get(OBJECT_MODEL) {
        return Evidence::unavailable(CheckKind::Background, SIGNAL, format!("object detector: {why}"));
    }
    let mut objects: Vec<&ObjectSample> = obs.video.objects.iter().collect();
    if objects.is_empty() {
        return Evidence::missing(CheckKind::Background, SIGNAL, "no frame was analysed for objects");
    }
    objects.sort_by_key(|s| s.t);
    let max_gap = MediaDuration::from_millis(cfg.face_match_ms);
    let face_box = |t: MediaTime| -> Option<[f32; 4]> {
        obs.video
            .faces
            .iter()
            .filter(|f| f.bbox.is_some() && abs_diff(f.t, t) <= max_gap)
            .min_by_key(|f| abs_diff(f.t, t))
            .and_then(|f| f.bbox)
    };
    let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
    let flags: Vec<(MediaTime, FrameIndex, bool)> = objects
        .iter()
        .map(|s| {
            let face = face_box(s.t);
            let mut any = false;
            for d in &s.detections {
                if !cfg.screen_labels.contains(&d.label) {
                    continue;
                }
                if face.is_some_and(|f| covered_share(&f, &d.bbox) >= cfg.screen_face_overlap) {
                    continue;
                }
                any = true;
                *labels.entry(d.label.as_str()).or_default() += 1;
            }
            (s.t, s.frame, any)
        })
        .collect();
    let seen = flags.iter().filter(|f| f.2).count();
    let share = seen as f32 / flags.len() as f32;
    let refs = merge_refs(sustained_runs(&flags, 1, MediaDuration(0)));
    let what: Vec<String> = labels.iter().map(|(l, n)| format!("{l} ×{n}")).collect();
    let (finding, confidence, summary) = if seen == 0 {
        (Finding::Neutral, 0.4, format!("no screen behind the applicant in {} object samples", flags.len()))
    } else if share >= cfg.screen_min_share && seen >= 2 {
        (
            Finding::Concern,
            0.25 + 0.3 * share,
            format!(
                "a screen away from the face ({}) is in view in {seen} of {} object samples ({:.0}%): check it does not \
                 show a staged background or a remote helper",
                what.join(", "),
                flags.len(),
                share * 100.0
            ),
        )
    } else {
        (
            Finding::Neutral,
            0.3,
            format!("a screen away from the face ({}) in {seen} of {} object samples", what.join(", "), flags.len()),
        )
    };
    let mut e =
        Evidence::observed(CheckKind::Background, SIGNAL, finding, confidence, summary).with_value(f64::from(share));
    e.at = refs;
    e
}

/// Share of `face`'s area covered by `other` (boxes `[x, y, w, h]`).
fn covered_share(face: &[f32; 4], other: &[f32; 4]) -> f32 {
    let ix = (face[0] + face[2]).min(other[0] + other[2]) - face[0].max(other[0]);
    let iy = (face[1] + face[3]).min(other[1] + other[3]) - face[1].max(other[1]);
    let area = face[2] * face[3];
    if ix <= 0.0 || iy <= 0.0 || area <= 0.0 || !area.is_finite() { 0.0 } else { (ix * iy / area).min(1.0) }
}

// ---- virtual background -----------------------------------------------------------------------------------------

fn virtual_background(obs: &Observations, cfg: &BackgroundConfig) -> Evidence {
    const SIGNAL: &str = "background.virtual";
    if !obs.has_video {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the call has no video");
    }
    let scene_ok = !obs.unavailable.contains_key(SCENE_MODEL);
    let seg_ok = !obs.unavailable.contains_key(SEGMENTATION_MODEL);
    if !scene_ok && !seg_ok {
        return Evidence::unavailable(CheckKind::Background, SIGNAL, "scene and segmentation models unavailable");
    }
    let n_min = cfg.virtual_min_samples.max(2);
    let scene = if scene_ok { &obs.video.scene[..] } else { &[] };
    let seg = if seg_ok { &obs.video.segmentation[..] } else { &[] };
    if scene.len() < n_min || seg.len() < n_min {
        return Evidence::missing(
            CheckKind::Background,
            SIGNAL,
            format!("too few scene ({}) or segmentation ({}) samples (need {n_min} each)", scene.len(), seg.len()),
        );
    }
    // Cue 1: the top class and its probability barely change.
    let mut tops: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    for s in scene {
        if let Some(t) = s.top.iter().max_by(|a, b| a.prob.total_cmp(&b.prob)) {
            tops.entry(t.label.as_str()).or_default().push(t.prob);
        }
    }
    let (top_label, top_probs) =
        tops.iter().max_by_key(|(_, v)| v.len()).map(|(k, v)| (*k, v.clone())).unwrap_or(("-", Vec::new()));
    let same_share = top_probs.len() as f32 / scene.len() as f32;
    let top_std = std_dev(&top_probs);
    let static_scene = same_share >= cfg.virtual_same_top_share && top_std <= cfg.virtual_top_prob_std_max;
    // Cue 2: the person's share of the frame barely changes.
    let fractions: Vec<f32> = seg.iter().map(|s| s.person_fraction).filter(|p| p.is_finite()).collect();
    let person_std = std_dev(&fractions);
    let person_mean = fractions.iter().sum::<f32>() / fractions.len().max(1) as f32;
    let still_person = person_mean >= 0.05 && person_std <= cfg.virtual_person_std_max;
    let scene_txt = format!(
        "scene top class `{top_label}` in {:.0}% of {} frames, probability s.d. {top_std:.3}",
        same_share * 100.0,
        scene.len()
    );
    let person_txt = format!("person share of the frame {:.0}% ± {person_std:.3}", person_mean * 100.0);
    let (finding, confidence, summary) = match (static_scene, still_person) {
        (true, true) => (
            Finding::Concern,
            0.25,
            format!(
                "possible virtual background: the picture behind does not change ({scene_txt}) and neither does the \
                 person's outline ({person_txt}); a phone on a stand in a quiet room looks the same"
            ),
        ),
        (true, false) => (
            Finding::Neutral,
            0.3,
            format!("the picture behind does not change ({scene_txt}), but the person moves ({person_txt})"),
        ),
        (false, true) => (
            Finding::Neutral,
            0.3,
            format!("the person barely moves ({person_txt}), but the scene varies ({scene_txt})"),
        ),
        (false, false) => (Finding::Neutral, 0.4, format!("no virtual-background cue ({scene_txt}; {person_txt})")),
    };
    Evidence::observed(CheckKind::Background, SIGNAL, finding, confidence, summary).with_value(f64::from(top_std))
}

fn std_dev(v: &[f32]) -> f32 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f32>() / v.len() as f32;
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / (v.len() - 1) as f32).sqrt()
}

// ---- sign text --------------------------------------------------------------------------------------------------

fn sign_text(obs: &Observations, interview: &Interview, cfg: &BackgroundConfig) -> Evidence {
    const SIGNAL: &str = "background.sign_text";
    let Some(declared) = interview.declared.as_ref() else {
        return Evidence::missing(CheckKind::Background, SIGNAL, "no declared business name to look for");
    };
    if !obs.has_video {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the call has no video");
    }
    if let Some((id, why)) = OCR_MODELS.iter().find_map(|id| obs.unavailable.get(*id).map(|w| (id, w))) {
        return Evidence::unavailable(CheckKind::Background, SIGNAL, format!("text recognition ({id}): {why}"));
    }
    if obs.video.text.is_empty() {
        return Evidence::missing(CheckKind::Background, SIGNAL, "no frame was read for text");
    }
    let names = name_variants(&declared.name, &cfg.sign_generic_words);
    if names.is_empty() {
        return Evidence::missing(CheckKind::Background, SIGNAL, "the declared business name has no letters");
    }
    let mut text: Vec<&crate::observations::TextSample> = obs.video.text.iter().collect();
    text.sort_by_key(|s| s.t);
    // (sample index, raw text, similarity)
    let mut best_per_sample: Vec<(usize, String, f64)> = Vec::new();
    let mut lines_read = 0usize;
    for (i, s) in text.iter().enumerate() {
        let lines: Vec<&str> = s
            .lines
            .iter()
            .filter(|l| l.score.is_finite() && l.score >= cfg.sign_min_ocr_score)
            .map(|l| l.text.as_str())
            .filter(|l| !normalise(l).is_empty())
            .collect();
        lines_read += lines.len();
        let mut candidates: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        if lines.len() > 1 {
            // A sign split over several lines.
            candidates.push(lines.join(" "));
        }
        let best = candidates
            .into_iter()
            .map(|c| {
                let sim = names.iter().map(|n| name_similarity(n, &normalise(&c))).fold(0.0, f64::max);
                (c, sim)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((c, sim)) = best {
            best_per_sample.push((i, c, sim));
        }
    }
    if lines_read == 0 {
        return Evidence::observed(
            CheckKind::Background,
            SIGNAL,
            Finding::Neutral,
            0.3,
            format!("no readable text in the {} frames read", text.len()),
        )
        .with_value(0.0);
    }
    let times = || text.iter().map(|s| s.t);
    let matches: Vec<&(usize, String, f64)> = best_per_sample.iter().filter(|b| b.2 >= cfg.sign_match_min).collect();
    let top = best_per_sample.iter().max_by(|a, b| a.2.total_cmp(&b.2));
    if let Some(&(i, ref line, sim)) = matches.iter().copied().max_by(|a, b| a.2.total_cmp(&b.2)) {
        let confidence =
            0.4 + 0.3 * ((sim - cfg.sign_match_min) / (1.0 - cfg.sign_match_min).max(1e-3)).clamp(0.0, 1.0);
        let summary = format!(
            "sign text \"{line}\" at {:.1} s matches the declared name \"{}\" (similarity {sim:.2}; in {} of {} frames read)",
            text[i].t.as_secs_f64(),
            declared.name,
            matches.len(),
            text.len()
        );
        let mut e = Evidence::observed(CheckKind::Background, SIGNAL, Finding::Supports, confidence as f32, summary)
            .with_value(sim);
        e.at = matches
            .iter()
            .take(5)
            .map(|m| EvidenceRef { range: span(times(), m.0), frame: Some(text[m.0].frame) })
            .collect();
        return e;
    }
    let (closest, sim) = top.map(|t| (t.1.as_str(), t.2)).unwrap_or(("", 0.0));
    Evidence::observed(
        CheckKind::Background,
        SIGNAL,
        Finding::Neutral,
        0.3,
        format!(
            "{lines_read} line(s) of text read, none matches the declared name \"{}\" (closest \"{closest}\", \
             similarity {sim:.2})",
            declared.name
        ),
    )
    .with_value(sim)
}

/// Lower case, full-width forms folded to ASCII, ideographic space to space, then everything that is not a letter
/// or digit (punctuation, spaces, symbols) dropped. Chinese characters are letters and stay.
pub fn normalise(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Similarity in [0, 1] of normalised sign text to a normalised name: 1 when the text contains the name, else the
/// best normalised Levenshtein similarity (per character) of the name with a window of the text of the name's
/// length (or with the whole text when it is shorter).
pub fn name_similarity(name: &str, text: &str) -> f64 {
    if name.is_empty() || text.is_empty() {
        return 0.0;
    }
    if text.contains(name) {
        return 1.0;
    }
    let t: Vec<char> = text.chars().collect();
    let n = name.chars().count();
    if t.len() <= n {
        return strsim::normalized_levenshtein(name, text);
    }
    (0..=t.len() - n)
        .map(|i| {
            let w: String = t[i..i + n].iter().collect();
            strsim::normalized_levenshtein(name, &w)
        })
        .fold(0.0, f64::max)
}

/// The normalised forms of a declared name to look for: the whole name; its core without generic words (when that
/// leaves 2+ characters); and, for a bilingual name, its Chinese part and its Latin part on their own (2+ Chinese
/// characters, 4+ Latin ones). Deduplicated, none empty.
fn name_variants(name: &str, generic: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    let whole = normalise(name);
    push(whole.clone());
    let is_cjk = |c: char| matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F);
    let cjk: String = whole.chars().filter(|&c| is_cjk(c)).collect();
    let latin: String = whole.chars().filter(|&c| !is_cjk(c)).collect();
    if !cjk.is_empty() && !latin.is_empty() {
        if cjk.chars().count() >= 2 {
            push(cjk.clone());
        }
        if latin.chars().count() >= 4 {
            push(latin.clone());
        }
    }
    // Core: generic words removed (Latin ones as whole words of the original name, Chinese ones as substrings).
    let latin_words: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric() || is_cjk(c)).map(normalise).filter(|w| !w.is_empty()).collect();
    let mut core_latin: Vec<&str> = latin_words.iter().map(String::as_str).collect();
    core_latin.retain(|w| !generic.iter().any(|g| normalise(g) == *w));
    let mut core_cjk = cjk.clone();
    for g in generic {
        let g = normalise(g);
        if g.chars().any(is_cjk) {
            core_cjk = core_cjk.replace(&g, "");
        }
    }
    let core_latin = core_latin.concat();
    let combined = format!("{core_cjk}{core_latin}");
    for (candidate, min_chars) in [(core_cjk, 2), (core_latin, 4), (combined, 2)] {
        if candidate.chars().count() >= min_chars && candidate != whole {
            push(candidate);
        }
    }
    out
}

// ---- shared helpers ---------------------------------------------------------------------------------------------

fn sorted(v: impl Iterator<Item = (MediaTime, FrameIndex, bool)>) -> Vec<(MediaTime, FrameIndex, bool)> {
    let mut v: Vec<_> = v.collect();
    v.sort_by_key(|x| x.0);
    v
}

/// Runs of consecutive flagged samples with at least `min_samples` samples and lasting at least `min_len` (from
/// the first flagged sample to the next unflagged one, or one typical interval past the last sample). Each with
/// the frame of its first sample.
fn sustained_runs(
    v: &[(MediaTime, FrameIndex, bool)],
    min_samples: usize,
    min_len: MediaDuration,
) -> Vec<(TimeRange, FrameIndex)> {
    let typical = typical_gap(v.iter().map(|x| x.0));
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if !v[i].2 {
            i += 1;
            continue;
        }
        let a = i;
        while i < v.len() && v[i].2 {
            i += 1;
        }
        let end = v.get(i).map_or(v[i - 1].0 + typical, |x| x.0);
        let range = TimeRange::new(v[a].0, end);
        if i - a >= min_samples.max(1) && range.duration() >= min_len {
            out.push((range, v[a].1));
        }
    }
    out
}

/// Sorted evidence references, overlapping or touching ranges joined (keeping the first frame).
fn merge_refs(mut v: Vec<(TimeRange, FrameIndex)>) -> Vec<EvidenceRef> {
    v.sort_by_key(|x| x.0.start);
    let mut out: Vec<EvidenceRef> = Vec::new();
    for (r, f) in v {
        match out.last_mut() {
            Some(last) if r.start <= last.range.end => last.range.end = last.range.end.max(r.end),
            _ => out.push(EvidenceRef { range: r, frame: Some(f) }),
        }
    }
    out
}

/// The range of sample `i` among sample times `ts` (sorted): until the next sample, or one typical gap.
fn span(ts: impl Iterator<Item = MediaTime> + Clone, i: usize) -> TimeRange {
    let typical = typical_gap(ts.clone());
    let v: Vec<MediaTime> = ts.collect();
    let Some(&t) = v.get(i) else { return TimeRange::new(MediaTime::ZERO, MediaTime::ZERO) };
    let end = v.get(i + 1).copied().filter(|&n| n > t).unwrap_or(t + typical);
    TimeRange::new(t, end)
}

/// The median gap between consecutive sorted times (1 s when unknown).
fn typical_gap(ts: impl Iterator<Item = MediaTime>) -> MediaDuration {
    let v: Vec<MediaTime> = ts.collect();
    let mut gaps: Vec<u64> = v.windows(2).map(|w| w[1].since(w[0]).0).filter(|&g| g > 0).collect();
    if gaps.is_empty() {
        return MediaDuration::from_millis(1000);
    }
    gaps.sort_unstable();
    MediaDuration(gaps[gaps.len() / 2])
}

fn abs_diff(a: MediaTime, b: MediaTime) -> MediaDuration {
    if a >= b { a.since(b) } else { b.since(a) }
}
