//! The replay report: per-check evidence with timestamps, built from the workers' observations. Pure: this is
//! where observations become the documented JSON (`docs/replay-json.md`); no models, no GStreamer.

use crate::analysis::sampling::SamplingStats;
use crate::analysis::speech::SpeechSegment;
use crate::infer::models::Embedding;
use crate::media::MediaInfo;
pub use crate::observations::*;
use crate::types::{FrameIndex, MediaTime, TimeRange};
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA: &str = "facereview.replay/1";

/// Whether a piece of evidence could be produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Produced from the whole stream.
    Available,
    /// Produced from part of the stream (decoding stopped early); `reason` says why.
    Partial { reason: String },
    /// The input it needs is not there (no audio track, no face ...).
    Missing { reason: String },
    /// The model it needs could not be used; never read as a pass.
    Unavailable { reason: String },
}

// ---------- the report ----------

#[derive(Clone, Debug, Serialize)]
pub struct ModelState {
    pub id: String,
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DecodeSummary {
    pub video_frames: u64,
    pub audio_seconds: f64,
    /// Set when decoding stopped with an error; evidence then covers what was decoded before it.
    pub error: Option<String>,
    pub wall_seconds: f64,
    /// Media seconds processed per wall second.
    pub speed: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SecondBucket {
    pub second: u64,
    pub frames: u32,
    pub with_face: u32,
    pub max_faces: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct FacesEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub face_present_ratio: f32,
    pub multi_face_ratio: f32,
    pub per_second: Vec<SecondBucket>,
    pub samples: Vec<FaceSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesSummary {
    pub min: f32,
    pub mean: f32,
    pub max: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeshEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub eye_open: Option<SeriesSummary>,
    pub mouth_open: Option<SeriesSummary>,
    pub yaw_deg: Option<SeriesSummary>,
    pub pitch_deg: Option<SeriesSummary>,
    pub series: Vec<MeshSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExpressionEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub labels: [&'static str; 7],
    /// Mean probability of each label over the samples.
    pub distribution: BTreeMap<String, f32>,
    pub timeline: Vec<ExpressionSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SpeechEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub speech_ratio: f32,
    pub segments: Vec<SpeechSegment>,
    pub vad_step_ms: u32,
    pub vad_start: Option<MediaTime>,
    pub vad_probs: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VoiceSegmentScore {
    pub range: TimeRange,
    /// Cosine similarity to the mean voice of all other segments.
    pub similarity_to_rest: Option<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VoiceEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub segments: Vec<VoiceSegmentScore>,
    pub min_similarity: Option<f32>,
    pub mean_similarity: Option<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BackgroundEvidence {
    #[serde(flatten)]
    pub status: Status,
    /// Mean category probabilities over the scene samples, highest first.
    pub categories: Vec<LabelProb>,
    pub scene: Vec<SceneSample>,
    pub segmentation_status: Status,
    pub person_fraction: Vec<SegmentationSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ObjectsEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub max_persons: usize,
    pub screens_seen: usize,
    pub phones_seen: usize,
    pub samples: Vec<ObjectSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TextEvidence {
    #[serde(flatten)]
    pub status: Status,
    /// Distinct text read, with the first time it was seen.
    pub distinct: Vec<(String, MediaTime)>,
    pub samples: Vec<TextSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdentitySample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    /// Cosine similarity to the session's reference face (the medoid of all samples).
    pub similarity: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdentityEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub min_similarity: Option<f32>,
    pub mean_similarity: Option<f32>,
    pub samples: Vec<IdentitySample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SpoofEvidence {
    #[serde(flatten)]
    pub status: Status,
    pub mean_live_score: Option<f32>,
    pub samples: Vec<SpoofSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub faces: FacesEvidence,
    pub mesh: MeshEvidence,
    pub expression: ExpressionEvidence,
    pub speech: SpeechEvidence,
    pub voice: VoiceEvidence,
    pub background: BackgroundEvidence,
    pub objects: ObjectsEvidence,
    pub text: TextEvidence,
    pub identity: IdentityEvidence,
    pub anti_spoof: SpoofEvidence,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    pub schema: &'static str,
    pub file: String,
    pub media: MediaInfo,
    pub manifest_sha256: String,
    pub models: Vec<ModelState>,
    pub decode: DecodeSummary,
    pub sampling: SamplingStats,
    pub evidence: Evidence,
    /// The checks' evidence (what fusion decided on); empty when the replay was not reviewed.
    pub checks: Vec<crate::checks::Evidence>,
    /// The verdict under the policy used; `None` when the replay was not reviewed.
    pub verdict: Option<crate::fusion::Verdict>,
}

/// What the driver knows besides the observations.
pub struct Context {
    pub file: String,
    pub media: MediaInfo,
    pub manifest_sha256: String,
    pub models: Vec<ModelState>,
    pub decode_error: Option<String>,
    pub wall_seconds: f64,
    /// Per model id: why it is unusable (absent = usable).
    pub unavailable: BTreeMap<String, String>,
}

fn summary(v: impl Iterator<Item = f32>) -> Option<SeriesSummary> {
    let v: Vec<f32> = v.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    Some(SeriesSummary {
        min: v.iter().copied().fold(f32::INFINITY, f32::min),
        mean,
        max: v.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    })
}

/// The status of a section that needs `models` and `have_input`; errors during runs make it partial.
fn status(ctx: &Context, models: &[&str], have_input: Result<(), &str>, errors: Option<&TaskErrors>) -> Status {
    for m in models {
        if let Some(why) = ctx.unavailable.get(*m) {
            return Status::Unavailable { reason: format!("model `{m}`: {why}") };
        }
    }
    if let Err(why) = have_input {
        return Status::Missing { reason: why.to_owned() };
    }
    if let Some(e) = ctx.decode_error.as_ref() {
        return Status::Partial { reason: format!("decoding stopped early: {e}") };
    }
    if let Some(e) = errors.filter(|e| e.count > 0) {
        return Status::Partial {
            reason: format!("{} run(s) failed, last: {}", e.count, e.last.clone().unwrap_or_default()),
        };
    }
    Status::Available
}

fn similarity_to_rest(items: &[&Embedding]) -> Vec<Option<f32>> {
    (0..items.len())
        .map(|i| {
            let rest: Vec<&Embedding> = items.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, e)| *e).collect();
            Embedding::mean(&rest).map(|m| items[i].cosine(&m))
        })
        .collect()
}

/// The medoid: the embedding with the highest mean similarity to all others.
fn medoid<'a>(items: &[&'a Embedding]) -> Option<&'a Embedding> {
    items
        .iter()
        .map(|e| (e, items.iter().map(|o| e.cosine(o)).sum::<f32>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(e, _)| *e)
}

/// Builds the report. `expression_labels` is the expression model's class order.
pub fn build(
    ctx: Context,
    video: VideoObservations,
    audio: AudioObservations,
    expression_labels: [&'static str; 7],
) -> ReplayReport {
    let has_video = ctx.media.has_video();
    let has_audio = ctx.media.has_audio();
    let no_video: Result<(), &str> = if has_video { Ok(()) } else { Err("the stream has no video track") };
    let no_audio: Result<(), &str> = if has_audio { Ok(()) } else { Err("the stream has no audio track") };
    let err = |m: &BTreeMap<String, TaskErrors>, k: &str| m.get(k).cloned();

    // Faces.
    let mut buckets: BTreeMap<u64, SecondBucket> = BTreeMap::new();
    for s in &video.faces {
        let sec = s.t.0 / MediaTime::NS_PER_SEC;
        let b = buckets.entry(sec).or_insert(SecondBucket { second: sec, frames: 0, with_face: 0, max_faces: 0 });
        b.frames += 1;
        b.with_face += u32::from(s.faces > 0);
        b.max_faces = b.max_faces.max(s.faces as u32);
    }
    let n = video.faces.len().max(1) as f32;
    let with_face = video.faces.iter().filter(|s| s.faces > 0).count();
    let faces = FacesEvidence {
        status: status(&ctx, &["blazeface"], no_video, err(&video.errors, "face_detect").as_ref()),
        face_present_ratio: with_face as f32 / n,
        multi_face_ratio: video.faces.iter().filter(|s| s.faces > 1).count() as f32 / n,
        per_second: buckets.into_values().collect(),
        samples: video.faces,
    };
    let no_face: Result<(), &str> = if !has_video {
        Err("the stream has no video track")
    } else if with_face == 0 {
        Err("no face was found in the stream")
    } else {
        Ok(())
    };

    // Mesh.
    let mesh = MeshEvidence {
        status: status(&ctx, &["blazeface", "face_mesh"], no_face, err(&video.errors, "face_mesh").as_ref()),
        eye_open: summary(video.mesh.iter().map(|m| (m.metrics.eye_open_left + m.metrics.eye_open_right) / 2.0)),
        mouth_open: summary(video.mesh.iter().map(|m| m.metrics.mouth_open)),
        yaw_deg: summary(video.mesh.iter().map(|m| m.metrics.yaw_deg)),
        pitch_deg: summary(video.mesh.iter().map(|m| m.metrics.pitch_deg)),
        series: video.mesh,
    };

    // Expression.
    let mut distribution = BTreeMap::new();
    if !video.expression.is_empty() {
        for (i, l) in expression_labels.iter().enumerate() {
            let mean = video.expression.iter().map(|s| s.probs[i]).sum::<f32>() / video.expression.len() as f32;
            distribution.insert((*l).to_owned(), mean);
        }
    }
    let expression = ExpressionEvidence {
        status: status(&ctx, &["blazeface", "expression"], no_face, err(&video.errors, "expression").as_ref()),
        labels: expression_labels,
        distribution,
        timeline: video.expression,
    };

    // Speech.
    let speech_s: f64 = audio.segments.iter().map(|s| s.range.duration().as_secs_f64()).sum();
    let speech = SpeechEvidence {
        status: status(&ctx, &["silero_vad"], no_audio, err(&audio.errors, "vad").as_ref()),
        speech_ratio: if audio.seconds > 0.0 { (speech_s / audio.seconds) as f32 } else { 0.0 },
        segments: audio.segments.clone(),
        vad_step_ms: 32,
        vad_start: audio.vad_start,
        vad_probs: audio.vad_probs.iter().map(|p| (p * 1000.0).round() / 1000.0).collect(),
    };

    // Voice.
    let no_speech: Result<(), &str> = if !has_audio {
        Err("the stream has no audio track")
    } else if audio.voices.is_empty() {
        Err("no speech long enough for a voiceprint")
    } else {
        Ok(())
    };
    let voice_embs: Vec<&Embedding> = audio.voices.iter().map(|v| v.embedding.expose()).collect();
    let sims = similarity_to_rest(&voice_embs);
    let valid: Vec<f32> = sims.iter().flatten().copied().collect();
    let voice = VoiceEvidence {
        status: status(&ctx, &["silero_vad", "voice_embedding"], no_speech, err(&audio.errors, "voice").as_ref()),
        segments: audio
            .voices
            .iter()
            .zip(&sims)
            .map(|(v, s)| VoiceSegmentScore { range: v.range, similarity_to_rest: *s })
            .collect(),
        min_similarity: valid.iter().copied().reduce(f32::min),
        mean_similarity: (!valid.is_empty()).then(|| valid.iter().sum::<f32>() / valid.len() as f32),
    };

    // Background.
    let mut cat_sum: BTreeMap<String, f32> = BTreeMap::new();
    for s in &video.scene {
        for c in &s.categories {
            *cat_sum.entry(c.label.clone()).or_default() += c.prob;
        }
    }
    let mut categories: Vec<LabelProb> =
        cat_sum.into_iter().map(|(label, p)| LabelProb { label, prob: p / video.scene.len().max(1) as f32 }).collect();
    categories.sort_by(|a, b| b.prob.total_cmp(&a.prob));
    let background = BackgroundEvidence {
        status: status(&ctx, &["scene"], no_video, err(&video.errors, "scene").as_ref()),
        categories,
        scene: video.scene,
        segmentation_status: status(
            &ctx,
            &["selfie_segmentation"],
            no_video,
            err(&video.errors, "segmentation").as_ref(),
        ),
        person_fraction: video.segmentation,
    };

    // Objects.
    let objects = ObjectsEvidence {
        status: status(&ctx, &["centernet"], no_video, err(&video.errors, "objects").as_ref()),
        max_persons: video.objects.iter().map(|o| o.persons).max().unwrap_or(0),
        screens_seen: video.objects.iter().filter(|o| o.screens > 0).count(),
        phones_seen: video.objects.iter().filter(|o| o.phones > 0).count(),
        samples: video.objects,
    };

    // Text.
    let mut distinct: Vec<(String, MediaTime)> = Vec::new();
    for s in &video.text {
        for l in &s.lines {
            if !distinct.iter().any(|(t, _)| t == &l.text) {
                distinct.push((l.text.clone(), s.t));
            }
        }
    }
    let text = TextEvidence {
        status: status(&ctx, &["ocr_det", "ocr_rec"], no_video, err(&video.errors, "ocr").as_ref()),
        distinct,
        samples: video.text,
    };

    // Identity.
    let face_embs: Vec<&Embedding> = video.face_embeddings.iter().map(|f| f.embedding.expose()).collect();
    let reference = medoid(&face_embs);
    let id_samples: Vec<IdentitySample> = match reference {
        Some(r) => video
            .face_embeddings
            .iter()
            .map(|f| IdentitySample { t: f.t, frame: f.frame, similarity: f.embedding.expose().cosine(r) })
            .collect(),
        None => Vec::new(),
    };
    let identity = IdentityEvidence {
        status: status(&ctx, &["blazeface", "mobilefacenet"], no_face, err(&video.errors, "face_embed").as_ref()),
        min_similarity: id_samples.iter().map(|s| s.similarity).reduce(f32::min),
        mean_similarity: (!id_samples.is_empty())
            .then(|| id_samples.iter().map(|s| s.similarity).sum::<f32>() / id_samples.len() as f32),
        samples: id_samples,
    };

    // Passive anti-spoof (optional model).
    let anti_spoof = SpoofEvidence {
        status: status(&ctx, &["anti_spoof", "blazeface"], no_face, err(&video.errors, "anti_spoof").as_ref()),
        mean_live_score: (!video.spoof.is_empty())
            .then(|| video.spoof.iter().map(|s| s.live_score).sum::<f32>() / video.spoof.len() as f32),
        samples: video.spoof,
    };

    let media_s = audio.seconds.max(video.last_t.map(|t| t.as_secs_f64()).unwrap_or(0.0));
    ReplayReport {
        schema: SCHEMA,
        file: ctx.file,
        media: ctx.media,
        manifest_sha256: ctx.manifest_sha256,
        models: ctx.models,
        decode: DecodeSummary {
            video_frames: video.frames,
            audio_seconds: audio.seconds,
            error: ctx.decode_error,
            wall_seconds: ctx.wall_seconds,
            speed: if ctx.wall_seconds > 0.0 { media_s / ctx.wall_seconds } else { 0.0 },
        },
        sampling: video.sampling,
        evidence: Evidence { faces, mesh, expression, speech, voice, background, objects, text, identity, anti_spoof },
        checks: Vec::new(),
        verdict: None,
    }
}
