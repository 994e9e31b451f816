//! QA replay: a recorded file (or the parts of a recorded live call) → the same decode, sampling and models as a
//! live call → timestamped evidence, checks and verdict.
//!
//! The file decoder feeds [`crate::analyzer::Analyzer`] with blocking hand-over, and the sampling policy is fed
//! media time only, so a replay at any speed gives the same evidence.

pub mod report;
pub mod session_dir;

pub use crate::analyzer::AnalysisOptions as ReplayOptions;

use crate::analyzer::{Analyzer, Feed};
use crate::infer::models::blazeface::BlazeFace;
use crate::infer::models::expression;
use crate::infer::models::face_embed::FaceEmbedder;
use crate::infer::{InferError, Runtime};
use crate::media::{DecodeOptions, Decoder, MediaError, MediaEvent, MediaInfo};
use crate::observations::Observations;
use crate::types::{FrameIndex, MediaDuration, Pii};
use report::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("required model unavailable: {0}")]
    Model(#[from] InferError),
    #[error("a worker thread failed: {0}")]
    Worker(String),
    #[error("reference photo: {0}")]
    Reference(String),
}

/// A replayed file's observations plus what the driver knows about the run.
pub struct Observed {
    pub ctx: Context,
    pub obs: Observations,
}

/// Replays a recorded file through every model and returns the evidence report. Decoding errors mid-stream keep
/// everything decoded before them (the report says where it stopped); errors before any media are returned.
pub fn run(path: &Path, rt: &Runtime, opts: &ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let Observed { ctx, obs } = observe(path, rt, opts)?;
    Ok(report::build(ctx, obs.video, obs.audio, expression::LABELS))
}

/// What a review needs besides the media: the interview context, the POI index, the checks' tunables and the
/// fusion policy.
pub struct Review<'a> {
    pub interview: &'a crate::interview::Interview,
    pub pois: Option<&'a crate::location::PoiIndex>,
    pub checks: &'a crate::checks::ChecksConfig,
    pub policy: &'a crate::fusion::Policy,
}

/// Replays a recorded file, runs every check over the observations and fuses the evidence into a verdict.
pub fn review(
    path: &Path,
    rt: &Runtime,
    opts: &ReplayOptions,
    review: &Review<'_>,
) -> Result<ReplayReport, ReplayError> {
    review_observed(observe(path, rt, opts)?, review)
}

/// Runs every check over replayed observations and fuses the evidence into a verdict.
pub fn review_observed(observed: Observed, review: &Review<'_>) -> Result<ReplayReport, ReplayError> {
    let Observed { ctx, obs } = observed;
    let evidence = crate::checks::evaluate_all(&obs, review.interview, review.pois, review.checks);
    let verdict = crate::fusion::decide(&evidence, review.policy, &ctx.manifest_sha256);
    let mut report = report::build(ctx, obs.video, obs.audio, expression::LABELS);
    report.checks = evidence;
    report.verdict = Some(verdict);
    Ok(report)
}

/// The face embedding of a reference photo (the largest face in it, aligned like the call's faces).
pub fn reference_face(rt: &Runtime, photo: &Path) -> Result<Pii<crate::infer::models::Embedding>, ReplayError> {
    let img = crate::analysis::image::load_image(photo)
        .map_err(|e| ReplayError::Reference(format!("cannot read {}: {e}", photo.display())))?;
    let faces = BlazeFace::load(rt)?.detect(&img)?;
    let face = crate::analyzer::primary(&faces)
        .ok_or_else(|| ReplayError::Reference(format!("no face found in {}", photo.display())))?;
    let emb = FaceEmbedder::load(rt)?
        .embed(&img, face)?
        .ok_or_else(|| ReplayError::Reference(format!("the face in {} could not be aligned", photo.display())))?;
    Ok(Pii::new(emb))
}

/// Decodes a recorded file and runs every model over it: the observations the checks read.
pub fn observe(path: &Path, rt: &Runtime, opts: &ReplayOptions) -> Result<Observed, ReplayError> {
    observe_parts(&[Part { path: path.to_owned(), offset: MediaDuration(0), frame_offset: 0 }], rt, opts)
}

/// One file of a recording and where it sits on the session's media clock (a live call that re-joined after a
/// network drop is recorded in several parts).
#[derive(Clone, Debug)]
pub struct Part {
    pub path: PathBuf,
    pub offset: MediaDuration,
    pub frame_offset: u64,
}

/// Decodes the parts in order, shifted onto one media clock, and runs every model over them.
pub fn observe_parts(parts: &[Part], rt: &Runtime, opts: &ReplayOptions) -> Result<Observed, ReplayError> {
    let started = Instant::now();
    let first = parts.first().ok_or_else(|| ReplayError::Worker("nothing to replay: no recording parts".into()))?;
    // Open (probe) the first part before loading models: a bad file is reported without the model start-up cost.
    let mut decoder = Some(Decoder::open(&first.path, DecodeOptions { queue: opts.queue, ..Default::default() })?);
    let analyzer = Analyzer::spawn(rt, opts, Feed::Block)?;
    let tx = analyzer.sender();
    let mut media: Option<MediaInfo> = None;
    let (mut has_video, mut has_audio) = (false, false);
    let mut decode_error = None;
    'parts: for (i, part) in parts.iter().enumerate() {
        let mut d = match decoder.take() {
            Some(d) => d,
            None => match Decoder::open(&part.path, DecodeOptions { queue: opts.queue, ..Default::default() }) {
                Ok(d) => d,
                Err(e) => {
                    decode_error = Some(format!("part {}: {e}", i + 1));
                    break;
                }
            },
        };
        has_video |= d.info().has_video();
        has_audio |= d.info().has_audio();
        media.get_or_insert_with(|| d.info().clone());
        loop {
            match d.next_event() {
                Ok(Some(mut ev)) => {
                    match &mut ev {
                        MediaEvent::Video(f) => {
                            f.pts = f.pts + part.offset;
                            f.index = FrameIndex(f.index.0 + part.frame_offset);
                        }
                        MediaEvent::Audio(a) => a.pts = a.pts + part.offset,
                    }
                    if tx.send(ev).is_err() {
                        break 'parts;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    decode_error = Some(if parts.len() > 1 { format!("part {}: {e}", i + 1) } else { e.to_string() });
                    break 'parts;
                }
            }
        }
    }
    drop(tx);
    let analysis = analyzer.finish()?;
    let unavailable = analysis.unavailable.clone();
    let (obs, states) = analysis.observations(has_video, has_audio);
    let mut media = media.unwrap_or_default();
    if parts.len() > 1 {
        media.duration_s = Some(obs.duration.0 as f64 / 1e9);
    }
    let ctx = Context {
        file: if parts.len() == 1 {
            first.path.display().to_string()
        } else {
            format!("{} ({} parts)", first.path.display(), parts.len())
        },
        media,
        manifest_sha256: rt.manifest().sha256.clone(),
        models: states,
        decode_error,
        wall_seconds: started.elapsed().as_secs_f64(),
        unavailable,
    };
    Ok(Observed { ctx, obs })
}
