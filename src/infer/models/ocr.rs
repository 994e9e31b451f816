//! PP-OCRv4 text detection + recognition (Chinese + English) with the v2 angle classifier, ONNX as shipped by
//! RapidOCR. Reads shop signs and other text in the background.
//!
//! Det: longest side limited to 736, both sides multiples of 32, BGR, `(x/255-0.5)/0.5`, NCHW; DB post-processing
//! (probability > 0.3, 2x2 dilation, connected components, box score ≥ 0.5, unclip 1.6) on axis-aligned boxes.
//! Cls: crops at 48x192; class 1 (= rotated 180°) above 0.9 flips the crop. Rec: crop resized to height 48 (width
//! ≥ 320, zero padded), CTC greedy decode with the dictionary stored in the rec model's metadata key `character`
//! (index 0 = blank; a space is appended).

use super::{output_f32, tensor_f32};
use crate::analysis::image::{Affine, Channels, Rect, RgbFrame, to_nchw, warp};
use crate::infer::{InferError, LoadedModel, Runtime};
use serde::{Deserialize, Serialize};

pub const DET_ID: &str = "ocr_det";
pub const REC_ID: &str = "ocr_rec";
pub const CLS_ID: &str = "ocr_cls";
const DET_MAX_SIDE: u32 = 736;
const DET_THRESH: f32 = 0.3;
const BOX_THRESH: f32 = 0.5;
const UNCLIP_RATIO: f32 = 1.6;
const MIN_BOX_SIDE: f32 = 3.0;
const REC_H: u32 = 48;
const REC_MIN_W: u32 = 320;
const REC_MAX_W: u32 = 1600;
const CLS_W: u32 = 192;
const CLS_THRESH: f32 = 0.9;
/// Text lines whose mean character confidence is below this are dropped.
pub const DEFAULT_MIN_TEXT_SCORE: f32 = 0.5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    pub bbox: Rect,
    pub text: String,
    pub score: f32,
}

pub struct Ocr {
    det: LoadedModel,
    rec: LoadedModel,
    cls: Option<LoadedModel>,
    dict: Vec<String>,
    min_text_score: f32,
}

impl Ocr {
    /// Loads det + rec (required) and cls (used when present).
    pub fn load(rt: &Runtime) -> Result<Self, InferError> {
        let det = rt.load(DET_ID)?;
        let rec = rt.load(REC_ID)?;
        let cls = match rt.manifest().get(CLS_ID) {
            Some(_) => Some(rt.load(CLS_ID)?),
            None => None,
        };
        let chars = {
            let meta = rec.session.metadata().map_err(|e| InferError::ort(REC_ID, e))?;
            meta.custom("character")
                .ok_or_else(|| InferError::output(REC_ID, "model metadata has no `character` dictionary"))?
        };
        let mut dict = vec![String::new()];
        dict.extend(chars.lines().map(str::to_owned));
        dict.push(" ".to_owned());
        let min_text_score =
            rec.spec.thresholds.get("min_text_score").map(|&v| v as f32).unwrap_or(DEFAULT_MIN_TEXT_SCORE);
        Ok(Ocr { det, rec, cls, dict, min_text_score })
    }

    /// Finds and reads the text lines in a frame, top to bottom, left to right.
    pub fn read(&mut self, frame: &RgbFrame) -> Result<Vec<TextLine>, InferError> {
        let boxes = self.detect(frame)?;
        let mut lines = Vec::new();
        for b in boxes {
            let mut crop = crop_for_rec(frame, &b);
            if self.upside_down(&crop)? {
                crop = rotate180(&crop);
            }
            let (text, score) = self.recognise(&crop)?;
            let text = text.trim().to_owned();
            if !text.is_empty() && score >= self.min_text_score {
                lines.push(TextLine { bbox: b, text, score });
            }
        }
        Ok(lines)
    }

    /// Text boxes in source pixels.
    pub fn detect(&mut self, frame: &RgbFrame) -> Result<Vec<Rect>, InferError> {
        let scale = (DET_MAX_SIDE as f32 / frame.width.max(frame.height) as f32).min(1.0);
        let round32 = |v: f32| (((v / 32.0).round() as u32).max(1)) * 32;
        let (dw, dh) = (round32(frame.width as f32 * scale), round32(frame.height as f32 * scale));
        let (sx, sy) = (frame.width as f32 / dw as f32, frame.height as f32 / dh as f32);
        let img = warp(frame, dw, dh, &Affine { a: sx, b: 0.0, c: 0.0, d: 0.0, e: sy, f: 0.0 });
        let mut buf = Vec::new();
        to_nchw(&img, Channels::Bgr, |v| (v / 255.0 - 0.5) / 0.5, &mut buf);
        let x = tensor_f32(DET_ID, vec![1, 3, dh as i64, dw as i64], buf)?;
        let out = self.det.session.run(ort::inputs!["x" => x]).map_err(|e| InferError::ort(DET_ID, e))?;
        let name = self.det.spec.outputs[0].name.clone();
        let (shape, prob) = output_f32(&out, DET_ID, &name)?;
        if shape.len() != 4 || shape[2] as u32 != dh || shape[3] as u32 != dw {
            return Err(InferError::output(DET_ID, format!("probability map shape {shape:?}")));
        }
        let boxes = db_boxes(&prob, dw as usize, dh as usize);
        let mut rects: Vec<Rect> = boxes
            .into_iter()
            .map(|r| Rect { x: r.x * sx, y: r.y * sy, w: r.w * sx, h: r.h * sy })
            .map(|r| clamp_rect(r, frame.width as f32, frame.height as f32))
            .filter(|r| r.w >= MIN_BOX_SIDE && r.h >= MIN_BOX_SIDE)
            .collect();
        rects.sort_by(|a, b| {
            let same_row = (a.y - b.y).abs() < 10.0;
            if same_row { a.x.total_cmp(&b.x) } else { a.y.total_cmp(&b.y) }
        });
        Ok(rects)
    }

    fn upside_down(&mut self, crop: &RgbFrame) -> Result<bool, InferError> {
        let Some(cls) = self.cls.as_mut() else {
            return Ok(false);
        };
        let img = resize_pad(crop, CLS_W, CLS_W);
        let mut buf = Vec::new();
        to_nchw(&img, Channels::Bgr, |v| (v / 255.0 - 0.5) / 0.5, &mut buf);
        let x = tensor_f32(CLS_ID, vec![1, 3, REC_H as i64, CLS_W as i64], buf)?;
        let out = cls.session.run(ort::inputs!["x" => x]).map_err(|e| InferError::ort(CLS_ID, e))?;
        let name = cls.spec.outputs[0].name.clone();
        let (_, p) = output_f32(&out, CLS_ID, &name)?;
        Ok(p.len() == 2 && p[1] > p[0] && p[1] > CLS_THRESH)
    }

    fn recognise(&mut self, crop: &RgbFrame) -> Result<(String, f32), InferError> {
        let ratio = crop.width as f32 / crop.height.max(1) as f32;
        let w = ((REC_H as f32 * ratio).ceil() as u32).clamp(REC_MIN_W, REC_MAX_W);
        let img = resize_pad(crop, w, REC_MAX_W);
        let mut buf = Vec::new();
        to_nchw(&img, Channels::Bgr, |v| (v / 255.0 - 0.5) / 0.5, &mut buf);
        let x = tensor_f32(REC_ID, vec![1, 3, REC_H as i64, img.width as i64], buf)?;
        let out = self.rec.session.run(ort::inputs!["x" => x]).map_err(|e| InferError::ort(REC_ID, e))?;
        let name = self.rec.spec.outputs[0].name.clone();
        let (shape, probs) = output_f32(&out, REC_ID, &name)?;
        let classes = *shape.last().unwrap_or(&0) as usize;
        if classes != self.dict.len() {
            return Err(InferError::output(
                REC_ID,
                format!("{classes} classes but the dictionary has {}", self.dict.len()),
            ));
        }
        Ok(ctc_greedy(&probs, classes, &self.dict))
    }
}

/// Resizes to height 48 keeping the aspect ratio (width at most `max_w`), then zero-pads (gray after
/// normalisation would be 127; Paddle pads the normalised tensor with 0, i.e. mid-gray) to `pad_w`.
fn resize_pad(crop: &RgbFrame, pad_w: u32, max_w: u32) -> RgbFrame {
    let ratio = crop.width as f32 / crop.height.max(1) as f32;
    let rw = ((REC_H as f32 * ratio).ceil() as u32).clamp(1, max_w.min(pad_w));
    let m = Affine::crop(&Rect { x: 0.0, y: 0.0, w: crop.width as f32, h: crop.height as f32 }, rw, REC_H);
    let resized = warp(crop, rw, REC_H, &m);
    let mut out = RgbFrame::filled(pad_w, REC_H, [128, 128, 128]);
    for y in 0..REC_H as usize {
        let src = &resized.data[y * rw as usize * 3..(y + 1) * rw as usize * 3];
        out.data[y * pad_w as usize * 3..y * pad_w as usize * 3 + src.len()].copy_from_slice(src);
    }
    out
}

fn crop_for_rec(frame: &RgbFrame, r: &Rect) -> RgbFrame {
    let w = r.w.round().max(1.0) as u32;
    let h = r.h.round().max(1.0) as u32;
    warp(frame, w, h, &Affine::crop(r, w, h))
}

fn rotate180(img: &RgbFrame) -> RgbFrame {
    let mut data = Vec::with_capacity(img.data.len());
    for p in img.data.chunks_exact(3).rev() {
        data.extend_from_slice(p);
    }
    RgbFrame { width: img.width, height: img.height, data }
}

fn clamp_rect(r: Rect, w: f32, h: f32) -> Rect {
    let x0 = r.x.clamp(0.0, w);
    let y0 = r.y.clamp(0.0, h);
    let x1 = (r.x + r.w).clamp(0.0, w);
    let y1 = (r.y + r.h).clamp(0.0, h);
    Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
}

/// DB post-processing on a probability map: threshold, 2x2 dilation, 4-connected components, box score from the
/// component's mean probability, unclip by `area * ratio / perimeter`.
fn db_boxes(prob: &[f32], w: usize, h: usize) -> Vec<Rect> {
    let mut mask = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            // 2x2 dilation: on if any of (x,y), (x-1,y), (x,y-1), (x-1,y-1) is above the threshold.
            let on = |xx: usize, yy: usize| prob[yy * w + xx] > DET_THRESH;
            mask[y * w + x] =
                on(x, y) || (x > 0 && on(x - 1, y)) || (y > 0 && on(x, y - 1)) || (x > 0 && y > 0 && on(x - 1, y - 1));
        }
    }
    let mut seen = vec![false; w * h];
    let mut boxes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
        let (mut sum, mut n) = (0f32, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            sum += prob[i];
            n += 1;
            let mut visit = |j: usize| {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        if bw.min(bh) < MIN_BOX_SIDE || sum / (n as f32) < BOX_THRESH {
            continue;
        }
        let d = bw * bh * UNCLIP_RATIO / (2.0 * (bw + bh));
        boxes.push(Rect { x: x0 as f32 - d, y: y0 as f32 - d, w: bw + 2.0 * d, h: bh + 2.0 * d });
    }
    boxes
}

/// CTC greedy decode: argmax per step, collapse repeats, drop blanks; score = mean probability of kept characters.
fn ctc_greedy(probs: &[f32], classes: usize, dict: &[String]) -> (String, f32) {
    let mut text = String::new();
    let mut conf = Vec::new();
    let mut prev = 0usize;
    for step in probs.chunks_exact(classes) {
        let (best, p) = step.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        if best != 0 && best != prev {
            text.push_str(&dict[best]);
            conf.push(p);
        }
        prev = best;
    }
    let score = if conf.is_empty() { 0.0 } else { conf.iter().sum::<f32>() / conf.len() as f32 };
    (text, score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_collapses_repeats_and_blanks() {
        let dict: Vec<String> = ["", "a", "b"].iter().map(|s| s.to_string()).collect();
        // steps: a a blank a b b -> "aab"
        let onehot = |i: usize| {
            let mut v = vec![0.0; 3];
            v[i] = 0.9;
            v
        };
        let probs: Vec<f32> = [1, 1, 0, 1, 2, 2].iter().flat_map(|&i| onehot(i)).collect();
        let (t, s) = ctc_greedy(&probs, 3, &dict);
        assert_eq!(t, "aab");
        assert!((s - 0.9).abs() < 1e-6);
    }

    #[test]
    fn db_finds_one_box_per_blob_and_unclips() {
        let (w, h) = (64, 32);
        let mut prob = vec![0.0; w * h];
        for y in 10..20 {
            for x in 5..40 {
                prob[y * w + x] = 0.9;
            }
        }
        let b = db_boxes(&prob, w, h);
        assert_eq!(b.len(), 1);
        assert!(b[0].x < 5.0 && b[0].x + b[0].w > 40.0, "{:?}", b[0]);
        prob.iter_mut().for_each(|p| *p *= 0.5); // 0.45 everywhere in the blob: below the box threshold
        assert!(db_boxes(&prob, w, h).is_empty());
    }
}
