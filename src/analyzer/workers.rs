//! The analysis workers shared by QA replay and live calls: the face worker (detection, mesh, expression, face
//! embedding, optional anti-spoof), the scene worker (segmentation, scene, objects, OCR) and the audio worker (VAD,
//! speech segments, voiceprints). Each worker owns its `ort` sessions and records timestamped observations.
//!
//! May use `infer`, `analysis`, `media` frame types and `observations`; no GStreamer calls, no clock reads (media
//! time only).

use crate::analysis::sampling::{Plan, Sampler, Task};
use crate::analysis::speech::{SegmenterConfig, SpeechSegmenter};
use crate::infer::models::antispoof::AntiSpoof;
use crate::infer::models::blazeface::{BlazeFace, FaceDetection};
use crate::infer::models::expression::ExpressionClassifier;
use crate::infer::models::face_embed::FaceEmbedder;
use crate::infer::models::face_mesh::FaceMesh;
use crate::infer::models::objects::ObjectDetector;
use crate::infer::models::ocr::Ocr;
use crate::infer::models::scene::SceneClassifier;
use crate::infer::models::segmentation::SelfieSegmenter;
use crate::infer::models::vad::{self, SileroVad};
use crate::infer::models::voice::VoiceEmbedder;
use crate::infer::{InferError, Runtime};
use crate::media::{AudioChunk, VideoFrame};
use crate::observations::TRACK_POINTS;
use crate::replay::report::*;
use crate::types::{MediaDuration, MediaTime, Pii, TimeRange};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the workers publish while they run, for a live session's progress and prompts (atomics only).
#[derive(Debug, Default)]
pub struct LiveSignals {
    /// Media time (ns) of the newest frame or audio chunk handed to the workers.
    pub last_media_ns: AtomicU64,
    /// Frames the face worker has taken.
    pub frames_analysed: AtomicU64,
    /// Media time (ns) of the last frame with a face; 0 before the first.
    pub last_face_ns: AtomicU64,
    /// Frames with background tasks the scene worker was too busy to take (live only).
    pub scene_skipped: AtomicU64,
    /// Frames and audio chunks dropped before analysis because a worker was behind (live only).
    pub video_dropped: AtomicU64,
    pub audio_dropped: AtomicU64,
    /// The primary face of the last analysed frame, for the adaptation controller's hints: width as a fraction of
    /// the frame width (‰, 0 = no face), mean skin luma (0-255, 0 = unknown) and centre motion per analysed
    /// frame relative to the face width (‰, smoothed).
    pub face_frac_milli: AtomicU64,
    pub face_luma: AtomicU64,
    pub face_motion_milli: AtomicU64,
}

/// Model ids whose absence is acceptable (operator-supplied).
const OPTIONAL: &[&str] = &[crate::infer::models::antispoof::MODEL_ID];

pub(super) struct Loader<'a> {
    pub(super) rt: &'a Runtime,
    pub(super) require: bool,
    pub(super) states: Vec<ModelState>,
    pub(super) unavailable: BTreeMap<String, String>,
}

impl Loader<'_> {
    pub(super) fn load<T>(
        &mut self,
        ids: &[&str],
        f: impl FnOnce(&Runtime) -> Result<T, InferError>,
    ) -> Result<Option<T>, InferError> {
        match f(self.rt) {
            Ok(m) => {
                for id in ids {
                    self.states.push(ModelState { id: (*id).to_owned(), state: "ok".into() });
                }
                Ok(Some(m))
            }
            Err(e) => {
                let optional = ids.iter().all(|id| OPTIONAL.contains(id));
                // An optional model may be absent; one that is configured but broken is an error like any other.
                let absent = matches!(e, InferError::Missing { .. });
                if self.require && !(optional && absent) {
                    return Err(e);
                }
                let why = match (&e, optional) {
                    (InferError::Missing { .. }, true) => {
                        "not configured (optional operator-supplied model)".to_owned()
                    }
                    _ => e.to_string(),
                };
                for id in ids {
                    self.states.push(ModelState { id: (*id).to_owned(), state: format!("unavailable: {why}") });
                    self.unavailable.insert((*id).to_owned(), why.clone());
                }
                Ok(None)
            }
        }
    }
}

/// Models of the face worker (every frame the face tasks run on).
pub(super) struct VisionModels {
    pub(super) face: Option<BlazeFace>,
    pub(super) mesh: Option<FaceMesh>,
    pub(super) expression: Option<ExpressionClassifier>,
    pub(super) embed: Option<FaceEmbedder>,
    pub(super) spoof: Option<AntiSpoof>,
}

/// Models of the scene worker (the few frames the background tasks run on), on the other core.
pub(super) struct SceneModels {
    pub(super) seg: Option<SelfieSegmenter>,
    pub(super) scene: Option<SceneClassifier>,
    pub(super) objects: Option<ObjectDetector>,
    pub(super) ocr: Option<Ocr>,
}

/// What the scene worker observed; merged into [`VideoObservations`].
#[derive(Default)]
pub(super) struct SceneObservations {
    pub(super) segmentation: Vec<SegmentationSample>,
    pub(super) scene: Vec<SceneSample>,
    pub(super) objects: Vec<ObjectSample>,
    pub(super) text: Vec<TextSample>,
    pub(super) errors: BTreeMap<String, TaskErrors>,
}

pub(super) const SCENE_TASKS: [Task; 4] = [Task::Segmentation, Task::Scene, Task::Objects, Task::Ocr];

pub(super) struct AudioModels {
    pub(super) vad: Option<SileroVad>,
    pub(super) voice: Option<VoiceEmbedder>,
}

fn note_error(errors: &mut BTreeMap<String, TaskErrors>, task: &str, e: &InferError) {
    let entry = errors.entry(task.to_owned()).or_default();
    entry.count += 1;
    entry.last = Some(e.to_string());
}

fn rect4(r: &crate::analysis::image::Rect) -> [f32; 4] {
    [r.x, r.y, r.w, r.h]
}

/// Mean skin colour of the forehead and both cheeks, located from the mesh (for pulse analysis).
fn skin_rgb(img: &crate::analysis::image::RgbFrame, points: &[[f32; 3]]) -> Option<[f32; 3]> {
    use crate::infer::models::face_mesh::idx;
    let p = |i: usize| points.get(i).map(|p| (p[0], p[1]));
    let (l, r) = (p(idx::CHEEK_LEFT)?, p(idx::CHEEK_RIGHT)?);
    let width = ((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt();
    let side = (width * 0.12).max(2.0);
    let lerp = |a: (f32, f32), b: (f32, f32), w: f32| (a.0 + (b.0 - a.0) * w, a.1 + (b.1 - a.1) * w);
    let nose = p(idx::NOSE_TIP)?;
    let centres = [lerp(p(idx::FOREHEAD)?, p(168)?, 0.4), lerp(l, nose, 0.45), lerp(r, nose, 0.45)];
    let mut acc = [0f32; 3];
    for c in centres {
        let rect = crate::analysis::image::Rect { x: c.0 - side / 2.0, y: c.1 - side / 2.0, w: side, h: side };
        let m = crate::analysis::image::mean_rgb(img, &rect)?;
        for k in 0..3 {
            acc[k] += m[k] / 3.0;
        }
    }
    Some(acc)
}

/// A detection at least this confident counts as a face even when the mesh does not confirm it.
const CONFIRMED_FACE_SCORE: f32 = 0.65;

pub(crate) fn primary(faces: &[FaceDetection]) -> Option<&FaceDetection> {
    faces.iter().max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

pub(super) fn video_worker(
    rx: crossbeam_channel::Receiver<VideoFrame>,
    mut m: VisionModels,
    mut sampler: Sampler,
    scene_tx: crossbeam_channel::Sender<(VideoFrame, Plan)>,
    live: Arc<LiveSignals>,
    block: bool,
) -> VideoObservations {
    let mut obs = VideoObservations::default();
    let mut last_centre: Option<(f32, f32)> = None;
    let mut motion = 0.0f32;
    for f in rx {
        obs.frames += 1;
        live.frames_analysed.fetch_add(1, Ordering::Relaxed);
        obs.last_t = Some(f.pts);
        let plan = sampler.plan(f.pts, 0);
        let (t, frame, img) = (f.pts, f.index, &f.image);
        let mut faces = Vec::new();
        if plan.has(Task::FaceDetect)
            && let Some(d) = m.face.as_mut()
        {
            match d.detect(img) {
                Ok(found) => faces = found,
                Err(e) => note_error(&mut obs.errors, "face_detect", &e),
            }
            // The mesh runs on the primary face; a weak detection the mesh does not confirm is not a face (sharp
            // keyframes of signs and textures give such detections).
            if let Some(face) = primary(&faces).cloned()
                && plan.has(Task::FaceMesh)
                && let Some(mesh) = m.mesh.as_mut()
            {
                match mesh.landmarks(img, &face) {
                    Ok(Some(r)) => obs.mesh.push(MeshSample {
                        t,
                        frame,
                        points: TRACK_POINTS.iter().filter_map(|&i| r.points.get(i).map(|p| [p[0], p[1]])).collect(),
                        skin_rgb: skin_rgb(img, &r.points),
                        metrics: r.metrics,
                    }),
                    Ok(None) => faces.retain(|f| f.score >= CONFIRMED_FACE_SCORE),
                    Err(e) => note_error(&mut obs.errors, "face_mesh", &e),
                }
            }
            let p = primary(&faces);
            if let Some(p) = p {
                live.last_face_ns.store(t.0.max(1), Ordering::Relaxed);
                let frac = p.bbox.w / img.width.max(1) as f32;
                live.face_frac_milli.store((frac * 1000.0).clamp(1.0, 1000.0) as u64, Ordering::Relaxed);
                let c = (p.bbox.x + p.bbox.w / 2.0, p.bbox.y + p.bbox.h / 2.0);
                if let Some(l) = last_centre {
                    let d = ((c.0 - l.0).powi(2) + (c.1 - l.1).powi(2)).sqrt() / p.bbox.w.max(1.0);
                    motion = 0.8 * motion + 0.2 * d;
                    live.face_motion_milli.store((motion * 1000.0) as u64, Ordering::Relaxed);
                }
                last_centre = Some(c);
                if let Some(rgb) = obs.mesh.last().filter(|m| m.t == t).and_then(|m| m.skin_rgb) {
                    let luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
                    live.face_luma.store(luma.clamp(1.0, 255.0) as u64, Ordering::Relaxed);
                }
            } else {
                live.face_frac_milli.store(0, Ordering::Relaxed);
                last_centre = None;
            }
            obs.faces.push(FaceSample {
                t,
                frame,
                faces: faces.len(),
                bbox: p.map(|p| rect4(&p.bbox)),
                score: p.map(|p| p.score),
            });
        }
        if let Some(face) = primary(&faces) {
            if plan.has(Task::Expression)
                && let Some(x) = m.expression.as_mut()
            {
                match x.classify(img, &face.bbox) {
                    Ok(p) => obs.expression.push(ExpressionSample { t, frame, probs: p.probs }),
                    Err(e) => note_error(&mut obs.errors, "expression", &e),
                }
            }
            if plan.has(Task::FaceEmbed)
                && let Some(x) = m.embed.as_mut()
            {
                match x.embed(img, face) {
                    Ok(Some(e)) => obs.face_embeddings.push(FaceEmbeddingSample { t, frame, embedding: Pii::new(e) }),
                    Ok(None) => {}
                    Err(e) => note_error(&mut obs.errors, "face_embed", &e),
                }
            }
            if plan.has(Task::AntiSpoof)
                && let Some(x) = m.spoof.as_mut()
            {
                match x.live_score(img, &face.bbox) {
                    Ok(s) => obs.spoof.push(SpoofSample { t, frame, live_score: s }),
                    Err(e) => note_error(&mut obs.errors, "anti_spoof", &e),
                }
            }
        }
        // Background tasks run on the scene worker; the frame moves there. Replay blocks (nothing is dropped); a
        // live call never lets the slow background models hold up the face models: a busy scene worker skips it.
        if SCENE_TASKS.iter().any(|&t| plan.has(t)) {
            if block {
                if scene_tx.send((f, plan)).is_err() {
                    break;
                }
            } else if let Err(e) = scene_tx.try_send((f, plan)) {
                if e.is_disconnected() {
                    break;
                }
                live.scene_skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    obs.sampling = sampler.stats();
    obs
}

pub(super) fn scene_worker(
    rx: crossbeam_channel::Receiver<(VideoFrame, Plan)>,
    mut m: SceneModels,
) -> SceneObservations {
    let mut obs = SceneObservations::default();
    for (f, plan) in rx {
        let (t, frame, img) = (f.pts, f.index, &f.image);
        if plan.has(Task::Segmentation)
            && let Some(x) = m.seg.as_mut()
        {
            match x.person_mask(img) {
                Ok(mask) => {
                    obs.segmentation.push(SegmentationSample { t, frame, person_fraction: mask.person_fraction() })
                }
                Err(e) => note_error(&mut obs.errors, "segmentation", &e),
            }
        }
        if plan.has(Task::Scene)
            && let Some(x) = m.scene.as_mut()
        {
            match x.classify(img, 5) {
                Ok(top) => {
                    let categories =
                        x.categories(&top).into_iter().map(|(label, prob)| LabelProb { label, prob }).collect();
                    let top = top.into_iter().map(|c| LabelProb { label: c.label, prob: c.prob }).collect();
                    obs.scene.push(SceneSample { t, frame, top, categories });
                }
                Err(e) => note_error(&mut obs.errors, "scene", &e),
            }
        }
        if plan.has(Task::Objects)
            && let Some(x) = m.objects.as_mut()
        {
            match x.detect(img) {
                Ok(dets) => obs.objects.push(ObjectSample {
                    t,
                    frame,
                    persons: dets.iter().filter(|d| d.is_person()).count(),
                    screens: dets.iter().filter(|d| d.is_screen()).count(),
                    phones: dets.iter().filter(|d| d.label == "cell phone").count(),
                    detections: dets
                        .iter()
                        .map(|d| ObjectBox { label: d.label.clone(), score: d.score, bbox: rect4(&d.bbox) })
                        .collect(),
                }),
                Err(e) => note_error(&mut obs.errors, "objects", &e),
            }
        }
        if plan.has(Task::Ocr)
            && let Some(x) = m.ocr.as_mut()
        {
            match x.read(img) {
                Ok(lines) => obs.text.push(TextSample {
                    t,
                    frame,
                    lines: lines
                        .into_iter()
                        .map(|l| TextBox { bbox: rect4(&l.bbox), text: l.text, score: l.score })
                        .collect(),
                }),
                Err(e) => note_error(&mut obs.errors, "ocr", &e),
            }
        }
    }
    obs
}

/// Audio kept for the open speech segment, with the media time of its first sample.
struct SegmentAudio {
    start: MediaTime,
    samples: Vec<f32>,
}

impl SegmentAudio {
    fn time_at(&self, i: usize) -> MediaTime {
        self.start + MediaDuration((i as u64) * 1_000_000_000 / vad::SAMPLE_RATE as u64)
    }
    fn index_of(&self, t: MediaTime) -> usize {
        ((t.since(self.start).0 as u128 * vad::SAMPLE_RATE as u128 / 1_000_000_000) as usize).min(self.samples.len())
    }
    /// Drops audio before `t`.
    fn trim_before(&mut self, t: MediaTime) {
        let i = self.index_of(t);
        self.samples.drain(..i);
        self.start = self.time_at(i);
    }
}

pub(super) fn audio_worker(
    rx: crossbeam_channel::Receiver<AudioChunk>,
    mut m: AudioModels,
    max_piece: MediaDuration,
) -> AudioObservations {
    let mut obs = AudioObservations::default();
    let mut segmenter = SpeechSegmenter::new(SegmenterConfig::default());
    let mut buf: Option<SegmentAudio> = None;
    let mut total_samples: u64 = 0;
    let step = MediaDuration::from_millis(32);
    let embed = |m: &mut AudioModels, obs: &mut AudioObservations, buf: &SegmentAudio, range: TimeRange| {
        let Some(voice) = m.voice.as_mut() else { return };
        let mut start = range.start;
        while start < range.end {
            let end = (start + max_piece).min(range.end);
            // A short tail joins the previous piece's range instead of standing alone.
            let end = if range.end.since(end) < MediaDuration::from_millis(1000) { range.end } else { end };
            let (a, b) = (buf.index_of(start), buf.index_of(end));
            match voice.embed(&buf.samples[a..b]) {
                Ok(Some(e)) => {
                    obs.voices.push(VoiceSample { range: TimeRange::new(start, end), embedding: Pii::new(e) })
                }
                Ok(None) => {}
                Err(e) => note_error(&mut obs.errors, "voice", &e),
            }
            start = end;
        }
    };
    for chunk in rx {
        let b = buf.get_or_insert_with(|| SegmentAudio { start: chunk.pts, samples: Vec::new() });
        if obs.vad_start.is_none() {
            obs.vad_start = Some(chunk.pts);
        }
        b.samples.extend_from_slice(&chunk.samples);
        total_samples += chunk.samples.len() as u64;
        let Some(v) = m.vad.as_mut() else { continue };
        let probs = match v.push(&chunk.samples) {
            Ok(p) => p,
            Err(e) => {
                note_error(&mut obs.errors, "vad", &e);
                continue;
            }
        };
        let origin = obs.vad_start.unwrap_or_default();
        // RMS of the same 512-sample steps the VAD just consumed (the newest ones in the buffer).
        if let Some(b) = buf.as_ref() {
            let n = probs.len() * vad::CHUNK;
            let end = b.samples.len().saturating_sub(v.pending());
            let start = end.saturating_sub(n);
            for step in b.samples[start..end].chunks(vad::CHUNK) {
                let ms = step.iter().map(|x| x * x).sum::<f32>() / step.len().max(1) as f32;
                obs.rms.push(ms.sqrt());
            }
        }
        for p in probs {
            let t = origin + MediaDuration(step.0 * obs.vad_probs.len() as u64);
            obs.vad_probs.push(p);
            if let Some(seg) = segmenter.push(t, 32, p) {
                obs.segments.push(seg.clone());
                if let Some(b) = buf.as_ref() {
                    embed(&mut m, &mut obs, b, seg.range);
                }
                if let Some(b) = buf.as_mut() {
                    b.trim_before(seg.range.end);
                }
            }
        }
        // Without an open segment, keep only the last second (speech padding looks back a little).
        if let Some(b) = buf.as_mut()
            && !segmenter.in_speech()
        {
            let keep_from = origin + MediaDuration(step.0 * obs.vad_probs.len() as u64);
            let keep_from = MediaTime(keep_from.0.saturating_sub(1_000_000_000));
            b.trim_before(keep_from);
        }
    }
    obs.seconds = total_samples as f64 / vad::SAMPLE_RATE as f64;
    if m.vad.is_some() {
        let end = obs.vad_start.unwrap_or_default() + MediaDuration(step.0 * obs.vad_probs.len() as u64);
        if let Some(seg) = segmenter.finish(end) {
            obs.segments.push(seg.clone());
            if let Some(b) = buf.as_ref() {
                embed(&mut m, &mut obs, b, seg.range);
            }
        }
    }
    obs
}
