//! What the analysis workers record per frame and per audio step: the model outputs with their media times.
//! Pure data shared by the replay/live drivers (which fill it), the checks (which read it) and the report.

use crate::analysis::sampling::SamplingStats;
use crate::analysis::speech::SpeechSegment;
use crate::infer::models::Embedding;
use crate::infer::models::face_mesh::{FaceMetrics, idx};
use crate::types::{FrameIndex, MediaTime, Pii, TimeRange};
use serde::Serialize;
use std::collections::BTreeMap;

/// Mesh landmarks kept per sample for motion analysis: eye corners and lids, brows, nose, mouth, chin, face edge.
pub const TRACK_POINTS: [usize; 24] = [
    idx::RIGHT_EYE_OUTER,
    idx::RIGHT_EYE_INNER,
    idx::RIGHT_EYE_UPPER,
    idx::RIGHT_EYE_LOWER,
    idx::LEFT_EYE_OUTER,
    idx::LEFT_EYE_INNER,
    idx::LEFT_EYE_UPPER,
    idx::LEFT_EYE_LOWER,
    idx::LIP_INNER_UPPER,
    idx::LIP_INNER_LOWER,
    idx::MOUTH_RIGHT,
    idx::MOUTH_LEFT,
    idx::NOSE_TIP,
    idx::CHIN,
    idx::FOREHEAD,
    idx::CHEEK_RIGHT,
    idx::CHEEK_LEFT,
    70,  // right brow
    300, // left brow
    168, // between the eyes
    98,  // right nostril
    327, // left nostril
    0,   // upper lip, outer
    17,  // lower lip, outer
];

#[derive(Clone, Debug, Serialize)]
pub struct FaceSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub faces: usize,
    /// The primary (largest) face: box [x, y, w, h] in source pixels and score.
    pub bbox: Option<[f32; 4]>,
    pub score: Option<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeshSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    #[serde(flatten)]
    pub metrics: FaceMetrics,
    /// The [`TRACK_POINTS`] landmarks, (x, y) in source pixels, for motion analysis. Biometric: not serialised.
    #[serde(skip)]
    pub points: Vec<[f32; 2]>,
    /// Mean RGB of forehead and cheek skin (0-255), for pulse (rPPG); `None` when the patches left the frame.
    #[serde(skip)]
    pub skin_rgb: Option<[f32; 3]>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExpressionSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    /// In the order of `labels` in the section.
    pub probs: [f32; 7],
}

#[derive(Clone, Debug, Serialize)]
pub struct LabelProb {
    pub label: String,
    pub prob: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct SceneSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub top: Vec<LabelProb>,
    pub categories: Vec<LabelProb>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SegmentationSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub person_fraction: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct ObjectBox {
    pub label: String,
    pub score: f32,
    pub bbox: [f32; 4],
}

#[derive(Clone, Debug, Serialize)]
pub struct ObjectSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub persons: usize,
    pub screens: usize,
    pub phones: usize,
    pub detections: Vec<ObjectBox>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TextBox {
    pub text: String,
    pub score: f32,
    pub bbox: [f32; 4],
}

#[derive(Clone, Debug, Serialize)]
pub struct TextSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub lines: Vec<TextBox>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SpoofSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub live_score: f32,
}

/// A face embedding taken at `t` (personal data: never serialised raw).
#[derive(Clone, Debug)]
pub struct FaceEmbeddingSample {
    pub t: MediaTime,
    pub frame: FrameIndex,
    pub embedding: Pii<Embedding>,
}

/// A voice embedding of one stretch of speech (personal data: never serialised raw).
#[derive(Clone, Debug)]
pub struct VoiceSample {
    pub range: TimeRange,
    pub embedding: Pii<Embedding>,
}

/// Per-task outcome of a worker: how many runs failed, and the last error.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TaskErrors {
    pub count: u64,
    pub last: Option<String>,
}

#[derive(Debug, Default)]
pub struct VideoObservations {
    pub frames: u64,
    pub last_t: Option<MediaTime>,
    pub faces: Vec<FaceSample>,
    pub mesh: Vec<MeshSample>,
    pub expression: Vec<ExpressionSample>,
    pub face_embeddings: Vec<FaceEmbeddingSample>,
    pub spoof: Vec<SpoofSample>,
    pub segmentation: Vec<SegmentationSample>,
    pub scene: Vec<SceneSample>,
    pub objects: Vec<ObjectSample>,
    pub text: Vec<TextSample>,
    pub errors: BTreeMap<String, TaskErrors>,
    pub sampling: SamplingStats,
}

#[derive(Debug, Default)]
pub struct AudioObservations {
    pub seconds: f64,
    /// Speech probability per 32 ms step, from the first audio timestamp.
    pub vad_start: Option<MediaTime>,
    pub vad_probs: Vec<f32>,
    /// RMS level per 32 ms step (same steps as `vad_probs`), linear in [0, 1].
    pub rms: Vec<f32>,
    pub segments: Vec<SpeechSegment>,
    pub voices: Vec<VoiceSample>,
    pub errors: BTreeMap<String, TaskErrors>,
}

/// Everything the checks read about one session's media.
#[derive(Debug, Default)]
pub struct Observations {
    pub video: VideoObservations,
    pub audio: AudioObservations,
    pub has_video: bool,
    pub has_audio: bool,
    /// Media duration covered (the later of the last frame and the end of the audio).
    pub duration: MediaTime,
    /// Model id → why it could not be used (absent = usable). Checks that need it report `Unavailable`.
    pub unavailable: BTreeMap<String, String>,
}
