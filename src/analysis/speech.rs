//! Speech segmentation: turns per-chunk voice-activity probabilities (Silero VAD, one per 32 ms chunk) into speech
//! segments on the media clock.
//!
//! Hysteresis as in Silero's `get_speech_timestamps`: speech starts at the first chunk with `p >= on`; once in
//! speech, the first chunk with `p < off` marks a tentative end, which a later chunk with `p >= on` cancels; the
//! segment closes when the tentative silence has lasted `min_silence_ms`. Segments shorter than `min_speech_ms`
//! (before padding) are dropped; kept ones are widened by `speech_pad_ms` on each side, never back over the previous
//! segment and never past the last observed time.
//!
//! Pure and streaming: the caller passes each chunk's media time, so a replay gives the same segments as the live
//! call, and feeding the chunks one by one equals feeding them all.

use crate::types::{MediaDuration, MediaTime, TimeRange};
use serde::Serialize;

/// A closed speech segment. `mean_prob` is the mean VAD probability over its chunks (unpadded), tentative-silence
/// chunks at its end excluded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeechSegment {
    pub range: TimeRange,
    pub mean_prob: f32,
}

/// Thresholds of the segmenter. The defaults are the `silero_vad` manifest thresholds (`speech_on`, `speech_off`)
/// and Silero's own timing defaults (min speech 250 ms, min silence 300 ms in Silero's streaming examples, pad 30 ms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SegmenterConfig {
    /// Probability at or above which a chunk is speech.
    pub on: f32,
    /// Probability below which a chunk in speech counts as silence (`off <= on`).
    pub off: f32,
    /// Segments shorter than this (before padding) are dropped.
    pub min_speech_ms: u32,
    /// Silence shorter than this inside speech is bridged.
    pub min_silence_ms: u32,
    /// Added before and after each kept segment.
    pub speech_pad_ms: u32,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        SegmenterConfig { on: 0.5, off: 0.35, min_speech_ms: 250, min_silence_ms: 300, speech_pad_ms: 30 }
    }
}

impl SegmenterConfig {
    /// The defaults, with `on`/`off` taken from model thresholds (`speech_on`, `speech_off`, as in the manifest's
    /// `[model.thresholds]` of `silero_vad`) where `get` has them and they are finite probabilities.
    pub fn from_thresholds(get: impl Fn(&str) -> Option<f64>) -> Self {
        let prob = |key: &str| get(key).filter(|v| v.is_finite() && (0.0..=1.0).contains(v)).map(|v| v as f32);
        let d = SegmenterConfig::default();
        SegmenterConfig { on: prob("speech_on").unwrap_or(d.on), off: prob("speech_off").unwrap_or(d.off), ..d }
    }
}

/// Tracks the current segment while in speech.
#[derive(Clone, Copy, Debug)]
struct Open {
    start: MediaTime,
    sum: f64,
    count: u32,
    /// Start of the tentative silence, with the sum/count of the chunks before it.
    silence: Option<(MediaTime, f64, u32)>,
}

/// Streaming hysteresis segmenter; see the module docs.
#[derive(Clone, Debug)]
pub struct SpeechSegmenter {
    cfg: SegmenterConfig,
    open: Option<Open>,
    /// End of the last emitted segment (padding never reaches back over it).
    last_end: MediaTime,
    /// End of the latest chunk seen (padding never reaches past it).
    horizon: MediaTime,
}

impl SpeechSegmenter {
    /// A segmenter with `cfg`; an `off` above `on` is lowered to `on`.
    pub fn new(cfg: SegmenterConfig) -> Self {
        let mut cfg = cfg;
        if cfg.off.is_nan() || cfg.off > cfg.on {
            cfg.off = cfg.on;
        }
        SpeechSegmenter { cfg, open: None, last_end: MediaTime::ZERO, horizon: MediaTime::ZERO }
    }

    pub fn config(&self) -> &SegmenterConfig {
        &self.cfg
    }

    /// Whether a segment is open (speech was detected and has not closed yet).
    pub fn in_speech(&self) -> bool {
        self.open.is_some()
    }

    /// Feeds one chunk starting at `t`, `chunk_ms` long, with speech probability `prob` (NaN counts as 0). Returns
    /// the segment that this chunk closes, if any.
    pub fn push(&mut self, t: MediaTime, chunk_ms: u32, prob: f32) -> Option<SpeechSegment> {
        let p = if prob.is_nan() { 0.0 } else { prob };
        let chunk_end = t + MediaDuration::from_millis(u64::from(chunk_ms));
        self.horizon = self.horizon.max(chunk_end);
        let cfg = self.cfg;
        match self.open.as_mut() {
            None => {
                if p >= cfg.on {
                    self.open = Some(Open { start: t, sum: f64::from(p), count: 1, silence: None });
                }
                None
            }
            Some(open) => {
                if p >= cfg.on {
                    open.silence = None;
                } else if p < cfg.off && open.silence.is_none() {
                    open.silence = Some((t, open.sum, open.count));
                }
                open.sum += f64::from(p);
                open.count += 1;
                let (since, sum, count) = open.silence?;
                let min_silence = MediaDuration::from_millis(u64::from(cfg.min_silence_ms));
                if chunk_end.since(since) < min_silence {
                    return None;
                }
                let start = open.start;
                self.open = None;
                self.close(start, since, sum, count)
            }
        }
    }

    /// Ends the stream at `end` (the media time after the last chunk): closes an open segment at the start of its
    /// tentative silence if there is one, otherwise at `end`. The segmenter can be reused afterwards.
    pub fn finish(&mut self, end: MediaTime) -> Option<SpeechSegment> {
        self.horizon = self.horizon.max(end);
        let open = self.open.take()?;
        let (stop, sum, count) = match open.silence {
            Some(s) => s,
            None => (end.max(open.start), open.sum, open.count),
        };
        self.close(open.start, stop, sum, count)
    }

    fn close(&mut self, start: MediaTime, end: MediaTime, sum: f64, count: u32) -> Option<SpeechSegment> {
        let min_speech = MediaDuration::from_millis(u64::from(self.cfg.min_speech_ms));
        if end.since(start) < min_speech || count == 0 {
            return None;
        }
        let pad = MediaDuration::from_millis(u64::from(self.cfg.speech_pad_ms));
        let padded_start = MediaTime(start.0.saturating_sub(pad.0)).max(self.last_end.min(start));
        let padded_end = (end + pad).min(self.horizon.max(end));
        self.last_end = padded_end;
        Some(SpeechSegment {
            range: TimeRange::new(padded_start, padded_end),
            mean_prob: (sum / f64::from(count)) as f32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK_MS: u32 = 32;

    /// Feeds `probs` as consecutive 32 ms chunks from time 0 and finishes; segments as (start ms, end ms).
    fn run(cfg: SegmenterConfig, probs: &[f32]) -> Vec<(u64, u64)> {
        run_full(cfg, probs).iter().map(|s| (s.range.start.as_millis(), s.range.end.as_millis())).collect()
    }

    fn run_full(cfg: SegmenterConfig, probs: &[f32]) -> Vec<SpeechSegment> {
        let mut seg = SpeechSegmenter::new(cfg);
        let mut out = Vec::new();
        for (i, &p) in probs.iter().enumerate() {
            let t = MediaTime::from_millis(i as u64 * u64::from(CHUNK_MS));
            out.extend(seg.push(t, CHUNK_MS, p));
        }
        let end = MediaTime::from_millis(probs.len() as u64 * u64::from(CHUNK_MS));
        out.extend(seg.finish(end));
        out
    }

    /// `n` chunks of probability `p`.
    fn span(p: f32, n: usize) -> Vec<f32> {
        vec![p; n]
    }

    fn cat(parts: &[Vec<f32>]) -> Vec<f32> {
        parts.concat()
    }

    fn no_pad() -> SegmenterConfig {
        SegmenterConfig { speech_pad_ms: 0, ..SegmenterConfig::default() }
    }

    /// (name, probabilities, expected segments as (start ms, end ms)).
    type Case = (&'static str, Vec<f32>, Vec<(u64, u64)>);

    #[test]
    fn table() {
        // Expected segments with no padding; chunks are 32 ms.
        let cases: Vec<Case> = vec![
            ("empty", vec![], vec![]),
            ("all silence", span(0.1, 50), vec![]),
            ("one segment, times right", cat(&[span(0.1, 10), span(0.9, 20), span(0.1, 20)]), vec![(320, 960)]),
            ("a 2-chunk blip (64 ms) is dropped", cat(&[span(0.1, 10), span(0.9, 2), span(0.1, 20)]), vec![]),
            (
                "8 chunks = 256 ms >= 250 ms is kept",
                cat(&[span(0.1, 10), span(0.9, 8), span(0.1, 20)]),
                vec![(320, 576)],
            ),
            (
                "a 5-chunk gap (160 ms) is bridged",
                cat(&[span(0.9, 20), span(0.1, 5), span(0.9, 20), span(0.1, 20)]),
                vec![(0, 1440)],
            ),
            (
                "a 12-chunk gap (384 ms) splits",
                cat(&[span(0.9, 20), span(0.1, 12), span(0.9, 20), span(0.1, 20)]),
                vec![(0, 640), (1024, 1664)],
            ),
            (
                "probabilities between off and on continue speech",
                cat(&[span(0.9, 10), span(0.4, 30), span(0.1, 20)]),
                vec![(0, 1280)],
            ),
            ("between off and on does not start speech", cat(&[span(0.1, 5), span(0.45, 30), span(0.1, 5)]), vec![]),
            ("speech to the end closes at finish", cat(&[span(0.1, 5), span(0.9, 20)]), vec![(160, 800)]),
            ("finish during a short silence ends at the silence", cat(&[span(0.9, 20), span(0.1, 3)]), vec![(0, 640)]),
            ("NaN is silence", cat(&[span(f32::NAN, 10), span(0.9, 10), span(f32::NAN, 20)]), vec![(320, 640)]),
        ];
        for (name, probs, want) in cases {
            assert_eq!(run(no_pad(), &probs), want, "{name}");
        }
    }

    #[test]
    fn padding_stays_within_neighbours_and_observed_time() {
        let cfg = SegmenterConfig::default(); // 30 ms pad
        // Speech from chunk 0: no padding before 0.
        assert_eq!(run(cfg, &cat(&[span(0.9, 20), span(0.1, 20)])), vec![(0, 670)]);
        // Speech to the end: no padding past the end.
        assert_eq!(run(cfg, &cat(&[span(0.1, 5), span(0.9, 20)])), vec![(130, 800)]);
        // A wide pad never reaches back over the previous segment.
        let wide = SegmenterConfig { speech_pad_ms: 400, ..cfg };
        let segs = run(wide, &cat(&[span(0.9, 20), span(0.1, 12), span(0.9, 20), span(0.1, 40)]));
        assert_eq!(segs.len(), 2);
        assert!(segs[1].0 >= segs[0].1, "{segs:?}");
    }

    #[test]
    fn segments_are_emitted_when_they_close() {
        let mut seg = SpeechSegmenter::new(no_pad());
        let t = |i: u64| MediaTime::from_millis(i * 32);
        for i in 0..20 {
            assert_eq!(seg.push(t(i), CHUNK_MS, 0.9), None);
        }
        assert!(seg.in_speech());
        // Silence from chunk 20 (640 ms); closes when 300 ms of it has passed: at the end of chunk 29 (960 ms).
        for i in 20..29 {
            assert_eq!(seg.push(t(i), CHUNK_MS, 0.0), None, "chunk {i}");
        }
        let s = seg.push(t(29), CHUNK_MS, 0.0).expect("closes");
        assert_eq!(s.range, TimeRange::new(t(0), t(20)));
        assert!(!seg.in_speech());
        assert_eq!(seg.finish(t(30)), None);
    }

    #[test]
    fn mean_prob_covers_the_speech_chunks_only() {
        let probs = cat(&[span(0.6, 10), span(0.4, 10), span(0.8, 10), span(0.0, 20)]);
        let segs = run_full(no_pad(), &probs);
        assert_eq!(segs.len(), 1);
        assert!((segs[0].mean_prob - 0.6).abs() < 1e-6, "{}", segs[0].mean_prob);
    }

    #[test]
    fn thresholds_from_the_manifest() {
        let cfg = SegmenterConfig::from_thresholds(|k| match k {
            "speech_on" => Some(0.6),
            "speech_off" => Some(f64::NAN),
            _ => None,
        });
        assert_eq!(cfg.on, 0.6);
        assert_eq!(cfg.off, 0.35);
        // off above on is lowered.
        let seg = SpeechSegmenter::new(SegmenterConfig { on: 0.3, off: 0.5, ..SegmenterConfig::default() });
        assert_eq!(seg.config().off, 0.3);
    }
}
