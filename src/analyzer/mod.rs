//! Runs the models over a stream of decoded media, for QA replay and live calls alike: [`Analyzer::spawn`] loads
//! the models and starts the workers; the caller feeds owned [`MediaEvent`]s into the returned channel (from a
//! file decoder or a live peer) and calls [`Analyzer::finish`] for the observations the checks read.
//!
//! Threads: a router takes the events and hands video to the face worker and audio to the audio worker; frames
//! with background tasks move on to the scene worker. With [`Feed::Block`] (replay) nothing is dropped, so a replay
//! at any speed gives the same observations; with [`Feed::DropNewest`] (live) a worker that is behind loses the
//! newest items and the drops are counted ([`LiveSignals`]), so the network path never waits on the models.
//!
//! May use `infer`, `analysis`, `media` frame types and `observations`; no GStreamer calls, no clock reads.

mod workers;

pub use workers::LiveSignals;

use crate::analysis::sampling::{Plan, Sampler, SamplingConfig, Task};
use crate::infer::Runtime;
use crate::infer::models::antispoof::AntiSpoof;
use crate::infer::models::blazeface::BlazeFace;
use crate::infer::models::expression::ExpressionClassifier;
use crate::infer::models::face_embed::FaceEmbedder;
use crate::infer::models::face_mesh::FaceMesh;
use crate::infer::models::objects::ObjectDetector;
use crate::infer::models::ocr::Ocr;
use crate::infer::models::scene::SceneClassifier;
use crate::infer::models::segmentation::SelfieSegmenter;
use crate::infer::models::vad::SileroVad;
use crate::infer::models::voice::VoiceEmbedder;
use crate::media::{AudioChunk, MediaEvent, VideoFrame};
use crate::observations::Observations;
use crate::replay::ReplayError;
use crate::replay::report::{AudioObservations, ModelState, VideoObservations};
use crate::types::{MediaDuration, MediaTime};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use workers::*;

pub(crate) use workers::primary;

/// Tunables of the analysis (the same for replay and live, so a recording replays to the same evidence).
#[derive(Clone, Debug)]
pub struct AnalysisOptions {
    pub sampling: SamplingConfig,
    /// Fail when a required model cannot be loaded (default). When false, its evidence is marked unavailable.
    pub require_models: bool,
    /// Longest stretch of speech embedded as one voice sample; longer segments are split.
    pub max_voice_piece: MediaDuration,
    /// Capacity of the queues between the router and the workers.
    pub queue: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            sampling: SamplingConfig::default(),
            require_models: true,
            max_voice_piece: MediaDuration::from_millis(crate::checks::voice::CALIBRATED_PIECE_MS),
            queue: 8,
        }
    }
}

/// How the router hands items to a worker that is behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// Wait (replay: deterministic, nothing dropped).
    Block,
    /// Drop the newest item and count it (live).
    DropNewest,
}

/// What the workers produced, with the model states and what could not be loaded.
pub struct Analysis {
    pub video: VideoObservations,
    pub audio: AudioObservations,
    pub models: Vec<ModelState>,
    pub unavailable: BTreeMap<String, String>,
}

impl Analysis {
    /// The observations the checks read. `has_video`/`has_audio` say whether the source had those tracks at all
    /// (a track that was offered but sent nothing counts as present: its evidence is then "no data", not "missing").
    pub fn observations(self, has_video: bool, has_audio: bool) -> (Observations, Vec<ModelState>) {
        let duration = MediaTime(
            self.video.last_t.map(|t| t.0).unwrap_or(0).max((self.audio.seconds * MediaTime::NS_PER_SEC as f64) as u64),
        );
        let obs = Observations {
            has_video,
            has_audio,
            duration,
            unavailable: self.unavailable,
            video: self.video,
            audio: self.audio,
        };
        (obs, self.models)
    }
}

/// Running workers. Dropping it without [`Analyzer::finish`] stops them and discards their observations.
pub struct Analyzer {
    tx: Option<Sender<MediaEvent>>,
    stop: Option<Sender<()>>,
    router: Option<JoinHandle<()>>,
    video: Option<JoinHandle<VideoObservations>>,
    scene: Option<JoinHandle<SceneObservations>>,
    audio: Option<JoinHandle<AudioObservations>>,
    models: Vec<ModelState>,
    unavailable: BTreeMap<String, String>,
    signals: Arc<LiveSignals>,
    ticks: Receiver<MediaTick>,
}

/// What arrived, when: one per decoded frame / audio chunk handed to the router (before any drop), for the live
/// quality meter.
#[derive(Clone, Copy, Debug)]
pub enum MediaTick {
    Video { arrival: std::time::Instant, pts: MediaTime, width: u32, height: u32 },
    Audio { pts: MediaTime, duration: std::time::Duration },
}

/// Ticks kept for the consumer (a live session drains them every 200 ms; ~35 s of 30-fps video + audio).
const TICK_QUEUE: usize = 4096;

impl Analyzer {
    /// Loads every model (a required model that cannot be loaded is an error unless `require_models` is false)
    /// and starts the workers.
    pub fn spawn(rt: &Runtime, opts: &AnalysisOptions, feed: Feed) -> Result<Analyzer, ReplayError> {
        let mut l = Loader { rt, require: opts.require_models, states: Vec::new(), unavailable: BTreeMap::new() };
        let vision = VisionModels {
            face: l.load(&["blazeface"], BlazeFace::load)?,
            mesh: l.load(&["face_mesh"], FaceMesh::load)?,
            expression: l.load(&["expression"], ExpressionClassifier::load)?,
            embed: l.load(&["mobilefacenet"], FaceEmbedder::load)?,
            spoof: l.load(&["anti_spoof"], AntiSpoof::load)?,
        };
        let scene_models = SceneModels {
            seg: l.load(&["selfie_segmentation"], SelfieSegmenter::load)?,
            scene: l.load(&["scene"], SceneClassifier::load)?,
            objects: l.load(&["centernet"], ObjectDetector::load)?,
            ocr: l.load(&["ocr_det", "ocr_rec", "ocr_cls"], Ocr::load)?,
        };
        let audio_models = AudioModels {
            vad: l.load(&["silero_vad"], SileroVad::load)?,
            voice: l.load(&["voice_embedding"], VoiceEmbedder::load)?,
        };
        let Loader { states, unavailable, .. } = l;

        let mut sampler = Sampler::new(opts.sampling.clone());
        for (task, present) in [
            (Task::FaceDetect, vision.face.is_some()),
            (Task::FaceMesh, vision.mesh.is_some()),
            (Task::Expression, vision.expression.is_some()),
            (Task::FaceEmbed, vision.embed.is_some()),
            (Task::AntiSpoof, vision.spoof.is_some()),
            (Task::Segmentation, scene_models.seg.is_some()),
            (Task::Scene, scene_models.scene.is_some()),
            (Task::Objects, scene_models.objects.is_some()),
            (Task::Ocr, scene_models.ocr.is_some()),
        ] {
            if !present {
                sampler.disable(task);
            }
        }

        let signals = Arc::new(LiveSignals::default());
        let block = feed == Feed::Block;
        let queue = opts.queue.max(1);
        let (tx, rx) = crossbeam_channel::bounded::<MediaEvent>(queue * 4);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let (vtx, vrx) = crossbeam_channel::bounded::<VideoFrame>(queue);
        let (atx, arx) = crossbeam_channel::bounded::<AudioChunk>(queue * 4);
        let (stx, srx) = crossbeam_channel::bounded::<(VideoFrame, Plan)>(4);
        let max_piece = opts.max_voice_piece;
        let spawn_err = |e: std::io::Error| ReplayError::Worker(format!("cannot start a worker thread: {e}"));
        let scene = std::thread::Builder::new()
            .name("analysis-scene".into())
            .spawn(move || scene_worker(srx, scene_models))
            .map_err(spawn_err)?;
        let s = signals.clone();
        let video = std::thread::Builder::new()
            .name("analysis-face".into())
            .spawn(move || video_worker(vrx, vision, sampler, stx, s, block))
            .map_err(spawn_err)?;
        let audio = std::thread::Builder::new()
            .name("analysis-audio".into())
            .spawn(move || audio_worker(arx, audio_models, max_piece))
            .map_err(spawn_err)?;
        let s = signals.clone();
        let (ttx, trx) = crossbeam_channel::bounded::<MediaTick>(TICK_QUEUE);
        let router = std::thread::Builder::new()
            .name("analysis-router".into())
            .spawn(move || route(rx, stop_rx, vtx, atx, feed, &s, &ttx))
            .map_err(spawn_err)?;
        Ok(Analyzer {
            tx: Some(tx),
            stop: Some(stop_tx),
            router: Some(router),
            video: Some(video),
            scene: Some(scene),
            audio: Some(audio),
            models: states,
            unavailable,
            signals,
            ticks: trx,
        })
    }

    /// Arrival ticks of the media (see [`MediaTick`]); dropped when nobody drains them.
    pub fn ticks(&self) -> Receiver<MediaTick> {
        self.ticks.clone()
    }

    /// Where the source sends decoded media (clone it for each live peer).
    pub fn sender(&self) -> Sender<MediaEvent> {
        self.tx.clone().unwrap_or_else(|| crossbeam_channel::bounded(0).0)
    }

    /// Counters and the latest face time, updated by the workers while they run.
    pub fn signals(&self) -> Arc<LiveSignals> {
        self.signals.clone()
    }

    /// The model states (ok / unavailable and why).
    pub fn models(&self) -> &[ModelState] {
        &self.models
    }

    /// Stops taking media (whatever senders still exist), lets the workers finish what they hold and returns the
    /// observations. Blocks until the workers are done (run it off any async executor).
    pub fn finish(mut self) -> Result<Analysis, ReplayError> {
        self.close();
        let join = |name: &str| ReplayError::Worker(format!("{name} worker panicked"));
        let video = self.video.take().map(|h| h.join().map_err(|_| join("face"))).transpose()?.unwrap_or_default();
        let scene = self.scene.take().map(|h| h.join().map_err(|_| join("scene"))).transpose()?.unwrap_or_default();
        let audio = self.audio.take().map(|h| h.join().map_err(|_| join("audio"))).transpose()?.unwrap_or_default();
        let mut video = video;
        video.segmentation = scene.segmentation;
        video.scene = scene.scene;
        video.objects = scene.objects;
        video.text = scene.text;
        video.errors.extend(scene.errors);
        Ok(Analysis {
            video,
            audio,
            models: std::mem::take(&mut self.models),
            unavailable: std::mem::take(&mut self.unavailable),
        })
    }

    /// Drops our sender and tells the router to drain what is queued and close the worker queues.
    fn close(&mut self) {
        drop(self.tx.take());
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        if let Some(r) = self.router.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Analyzer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Hands events to the workers until every sender is gone or a stop is asked for (then drains what is queued).
fn route(
    rx: Receiver<MediaEvent>,
    stop: Receiver<()>,
    vtx: Sender<VideoFrame>,
    atx: Sender<AudioChunk>,
    feed: Feed,
    signals: &LiveSignals,
    ticks: &Sender<MediaTick>,
) {
    let deliver = |ev: MediaEvent| -> bool {
        let (t, tick) = match &ev {
            MediaEvent::Video(f) => (
                f.pts,
                MediaTick::Video {
                    arrival: std::time::Instant::now(),
                    pts: f.pts,
                    width: f.image.width,
                    height: f.image.height,
                },
            ),
            MediaEvent::Audio(a) => (
                a.pts,
                MediaTick::Audio {
                    pts: a.pts,
                    duration: std::time::Duration::from_nanos(a.samples.len() as u64 * 1_000_000_000 / 16_000),
                },
            ),
        };
        let _ = ticks.try_send(tick);
        signals.last_media_ns.fetch_max(t.0, Ordering::Relaxed);
        match (ev, feed) {
            (MediaEvent::Video(f), Feed::Block) => vtx.send(f).is_ok(),
            (MediaEvent::Audio(a), Feed::Block) => atx.send(a).is_ok(),
            (MediaEvent::Video(f), Feed::DropNewest) => match vtx.try_send(f) {
                Err(TrySendError::Full(_)) => {
                    signals.video_dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                r => r.is_ok(),
            },
            (MediaEvent::Audio(a), Feed::DropNewest) => match atx.try_send(a) {
                Err(TrySendError::Full(_)) => {
                    signals.audio_dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                r => r.is_ok(),
            },
        }
    };
    loop {
        crossbeam_channel::select! {
            recv(rx) -> ev => match ev {
                Ok(ev) => if !deliver(ev) { return },
                Err(_) => return,
            },
            recv(stop) -> _ => {
                while let Ok(ev) = rx.try_recv() {
                    if !deliver(ev) {
                        return;
                    }
                }
                return;
            }
        }
    }
}
