//! Owned RGB frames and the geometric prep every vision model needs: one bilinear affine warp (crop, letterbox,
//! rotate, align) plus tensor layout and normalisation.
//!
//! Pure: no I/O except the explicit `load_image` helper used by tests and the CLI.

use serde::{Deserialize, Serialize};

/// A decoded frame: tightly packed 8-bit RGB, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// Wraps packed RGB bytes; `None` when the length does not match.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (data.len() == width as usize * height as usize * 3 && width > 0 && height > 0).then_some(RgbFrame {
            width,
            height,
            data,
        })
    }

    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let data = rgb.iter().copied().cycle().take(width as usize * height as usize * 3).collect();
        RgbFrame { width, height, data }
    }

    #[inline]
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Mean luma (BT.601) over the frame, 0-255.
    pub fn mean_luma(&self) -> f32 {
        let n = (self.width * self.height) as f64;
        let s: f64 =
            self.data.chunks_exact(3).map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64).sum();
        (s / n) as f32
    }
}

/// Mean RGB over the pixels of `r` that lie inside the frame; `None` when none do.
pub fn mean_rgb(frame: &RgbFrame, r: &Rect) -> Option<[f32; 3]> {
    let x0 = r.x.max(0.0).floor() as u32;
    let y0 = r.y.max(0.0).floor() as u32;
    let x1 = ((r.x + r.w).min(frame.width as f32).ceil().max(0.0) as u32).min(frame.width);
    let y1 = ((r.y + r.h).min(frame.height as f32).ceil().max(0.0) as u32).min(frame.height);
    if x1 <= x0 || y1 <= y0 || !(r.x.is_finite() && r.y.is_finite() && r.w.is_finite() && r.h.is_finite()) {
        return None;
    }
    let mut acc = [0f64; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            let p = frame.pixel(x, y);
            for c in 0..3 {
                acc[c] += p[c] as f64;
            }
        }
    }
    let n = ((x1 - x0) * (y1 - y0)) as f64;
    Some([(acc[0] / n) as f32, (acc[1] / n) as f32, (acc[2] / n) as f32])
}

/// Loads a PNG/JPEG file as RGB, applying EXIF orientation.
pub fn load_image(path: &std::path::Path) -> Result<RgbFrame, image::ImageError> {
    use image::ImageDecoder;
    let reader = image::ImageReader::open(path)?.with_guessed_format()?;
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut img = image::DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(RgbFrame { width: w, height: h, data: rgb.into_raw() })
}

/// An axis-aligned rectangle in pixels (x, y = top-left).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }
    pub fn iou(&self, o: &Rect) -> f32 {
        let x0 = self.x.max(o.x);
        let y0 = self.y.max(o.y);
        let x1 = (self.x + self.w).min(o.x + o.w);
        let y1 = (self.y + self.h).min(o.y + o.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + o.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
    /// A square of side `max(w, h) * scale` around the same centre.
    pub fn square_scaled(&self, scale: f32) -> Rect {
        let (cx, cy) = self.center();
        let s = self.w.max(self.h) * scale;
        Rect { x: cx - s / 2.0, y: cy - s / 2.0, w: s, h: s }
    }
}

/// A 2-D affine map `p' = [a b c; d e f] p`. Warps use the map from destination to source pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    pub const IDENTITY: Affine = Affine { a: 1.0, b: 0.0, c: 0.0, d: 0.0, e: 1.0, f: 0.0 };

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f)
    }

    pub fn invert(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Affine { a, b, c: -(a * self.c + b * self.f), d, e, f: -(d * self.c + e * self.f) })
    }

    /// Destination `dw`x`dh` ← source `rect` (stretching when aspect ratios differ).
    pub fn crop(rect: &Rect, dw: u32, dh: u32) -> Affine {
        let sx = rect.w / dw as f32;
        let sy = rect.h / dh as f32;
        Affine { a: sx, b: 0.0, c: rect.x, d: 0.0, e: sy, f: rect.y }
    }

    /// Destination `dw`x`dh` ← the whole `sw`x`sh` source, scaled to fit and centred (letterbox). Returns the
    /// destination→source map.
    pub fn letterbox(sw: u32, sh: u32, dw: u32, dh: u32) -> Affine {
        let s = (sw as f32 / dw as f32).max(sh as f32 / dh as f32);
        let pad_x = (dw as f32 * s - sw as f32) / 2.0;
        let pad_y = (dh as f32 * s - sh as f32) / 2.0;
        Affine { a: s, b: 0.0, c: -pad_x, d: 0.0, e: s, f: -pad_y }
    }

    /// The least-squares similarity transform (rotation, uniform scale, translation) taking `from` points to `to`
    /// points (Umeyama, no reflection). `None` for fewer than two distinct points.
    pub fn similarity(from: &[(f32, f32)], to: &[(f32, f32)]) -> Option<Affine> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let nf = n as f64;
        let (mut fx, mut fy, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            fx += from[i].0 as f64;
            fy += from[i].1 as f64;
            tx += to[i].0 as f64;
            ty += to[i].1 as f64;
        }
        let (fx, fy, tx, ty) = (fx / nf, fy / nf, tx / nf, ty / nf);
        // Complex-number form: to - t̄ ≈ z (from - f̄), z = Σ conj(u) v / Σ |u|².
        let (mut re, mut im, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let (ux, uy) = (from[i].0 as f64 - fx, from[i].1 as f64 - fy);
            let (vx, vy) = (to[i].0 as f64 - tx, to[i].1 as f64 - ty);
            re += ux * vx + uy * vy;
            im += ux * vy - uy * vx;
            norm += ux * ux + uy * uy;
        }
        if norm < 1e-9 {
            return None;
        }
        let (zr, zi) = (re / norm, im / norm);
        let c = tx - (zr * fx - zi * fy);
        let f = ty - (zi * fx + zr * fy);
        Some(Affine { a: zr as f32, b: -zi as f32, c: c as f32, d: zi as f32, e: zr as f32, f: f as f32 })
    }

    /// `self ∘ other`: apply `other` first, then `self`.
    pub fn then(&self, after: &Affine) -> Affine {
        let s = after;
        Affine {
            a: s.a * self.a + s.b * self.d,
            b: s.a * self.b + s.b * self.e,
            c: s.a * self.c + s.b * self.f + s.c,
            d: s.d * self.a + s.e * self.d,
            e: s.d * self.b + s.e * self.e,
            f: s.d * self.c + s.e * self.f + s.f,
        }
    }

    fn scale_factor(&self) -> f32 {
        ((self.a * self.a + self.d * self.d).sqrt()).max((self.b * self.b + self.e * self.e).sqrt())
    }
}

/// Warps `src` into a new `dw`x`dh` frame: each destination pixel centre is mapped through `dst_to_src` and sampled
/// bilinearly; outside the source is black. When the map shrinks by more than 2x, each pixel averages a grid of
/// samples so small faces and text keep their detail.
pub fn warp(src: &RgbFrame, dw: u32, dh: u32, dst_to_src: &Affine) -> RgbFrame {
    let k = (dst_to_src.scale_factor().ceil() as usize).clamp(1, 4);
    if dst_to_src.b == 0.0 && dst_to_src.d == 0.0 {
        return warp_axis_aligned(src, dw, dh, dst_to_src, k);
    }
    let mut out = vec![0u8; dw as usize * dh as usize * 3];
    let step = 1.0 / k as f32;
    let (sw, sh) = (src.width as i32, src.height as i32);
    let inv_n = 1.0 / (k * k) as f32;
    for y in 0..dh {
        for x in 0..dw {
            let mut acc = [0f32; 3];
            for sy in 0..k {
                for sx in 0..k {
                    let px = x as f32 + (sx as f32 + 0.5) * step;
                    let py = y as f32 + (sy as f32 + 0.5) * step;
                    let (u, v) = dst_to_src.apply(px, py);
                    let (u, v) = (u - 0.5, v - 0.5);
                    let (x0, y0) = (u.floor() as i32, v.floor() as i32);
                    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
                    for (dx, dy, wgt) in [
                        (0, 0, (1.0 - fx) * (1.0 - fy)),
                        (1, 0, fx * (1.0 - fy)),
                        (0, 1, (1.0 - fx) * fy),
                        (1, 1, fx * fy),
                    ] {
                        let (xx, yy) = (x0 + dx, y0 + dy);
                        if wgt == 0.0 || xx < 0 || yy < 0 || xx >= sw || yy >= sh {
                            continue;
                        }
                        let i = (yy as usize * sw as usize + xx as usize) * 3;
                        acc[0] += wgt * src.data[i] as f32;
                        acc[1] += wgt * src.data[i + 1] as f32;
                        acc[2] += wgt * src.data[i + 2] as f32;
                    }
                }
            }
            let o = (y as usize * dw as usize + x as usize) * 3;
            for c in 0..3 {
                out[o + c] = (acc[c] * inv_n).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    RgbFrame { width: dw, height: dh, data: out }
}

/// Per destination index along one axis: the source taps `(index, weight)` of `k` supersamples, each bilinear.
/// Taps outside the source are dropped (black).
fn axis_taps(n_dst: u32, scale: f32, offset: f32, k: usize, n_src: u32) -> Vec<Vec<(usize, f32)>> {
    let w = 1.0 / k as f32;
    (0..n_dst)
        .map(|i| {
            let mut taps = Vec::with_capacity(2 * k);
            for s in 0..k {
                let u = scale * (i as f32 + (s as f32 + 0.5) * w) + offset - 0.5;
                let x0 = u.floor();
                let f = u - x0;
                for (x, wt) in [(x0 as i64, (1.0 - f) * w), (x0 as i64 + 1, f * w)] {
                    if wt > 0.0 && x >= 0 && x < n_src as i64 {
                        taps.push((x as usize, wt));
                    }
                }
            }
            taps
        })
        .collect()
}

/// `warp` for maps without rotation (crops, letterboxes, resizes): the same samples, computed separably.
fn warp_axis_aligned(src: &RgbFrame, dw: u32, dh: u32, m: &Affine, k: usize) -> RgbFrame {
    let xt = axis_taps(dw, m.a, m.c, k, src.width);
    let yt = axis_taps(dh, m.e, m.f, k, src.height);
    let stride = src.width as usize * 3;
    let mut out = vec![0u8; dw as usize * dh as usize * 3];
    let mut row = vec![0f32; dw as usize * 3];
    for (y, ytaps) in yt.iter().enumerate() {
        row.iter_mut().for_each(|v| *v = 0.0);
        for &(sy, wy) in ytaps {
            let line = &src.data[sy * stride..(sy + 1) * stride];
            for (x, xtaps) in xt.iter().enumerate() {
                let (mut r, mut g, mut b) = (0f32, 0f32, 0f32);
                for &(sx, wx) in xtaps {
                    let p = &line[sx * 3..sx * 3 + 3];
                    r += wx * p[0] as f32;
                    g += wx * p[1] as f32;
                    b += wx * p[2] as f32;
                }
                row[x * 3] += wy * r;
                row[x * 3 + 1] += wy * g;
                row[x * 3 + 2] += wy * b;
            }
        }
        let o = y * dw as usize * 3;
        for (d, v) in out[o..o + dw as usize * 3].iter_mut().zip(&row) {
            *d = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    RgbFrame { width: dw, height: dh, data: out }
}

/// Resizes the whole frame to `w`x`h` with a triangle (bilinear) filter whose kernel widens when shrinking, like
/// Pillow's `BILINEAR` resize that the reference numbers of the scene and expression models were measured with.
/// (`warp`'s supersampling matches Pillow less closely.) `None` for an empty target.
pub fn resize(frame: &RgbFrame, w: u32, h: u32) -> Option<RgbFrame> {
    if w == 0 || h == 0 {
        return None;
    }
    let view = image::ImageBuffer::<image::Rgb<u8>, &[u8]>::from_raw(frame.width, frame.height, &frame.data[..])?;
    let out = image::imageops::resize(&view, w, h, image::imageops::FilterType::Triangle);
    Some(RgbFrame { width: w, height: h, data: out.into_raw() })
}

/// Channel order of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
}

/// NHWC f32 (one image) with `norm(v)` applied to each 0-255 value.
pub fn to_nhwc(img: &RgbFrame, order: Channels, norm: impl Fn(f32) -> f32, out: &mut Vec<f32>) {
    out.reserve(img.data.len());
    for p in img.data.chunks_exact(3) {
        let px = if order == Channels::Rgb { [p[0], p[1], p[2]] } else { [p[2], p[1], p[0]] };
        out.extend(px.iter().map(|&v| norm(v as f32)));
    }
}

/// NCHW f32 (one image) with `norm(v)` applied to each 0-255 value.
pub fn to_nchw(img: &RgbFrame, order: Channels, norm: impl Fn(f32) -> f32, out: &mut Vec<f32>) {
    let plane = img.width as usize * img.height as usize;
    let start = out.len();
    out.resize(start + plane * 3, 0.0);
    for (i, p) in img.data.chunks_exact(3).enumerate() {
        let px = if order == Channels::Rgb { [p[0], p[1], p[2]] } else { [p[2], p[1], p[0]] };
        for c in 0..3 {
            out[start + c * plane + i] = norm(px[c] as f32);
        }
    }
}

/// Grayscale (BT.601 luma) f32 with `norm` applied, one value per pixel.
pub fn to_gray(img: &RgbFrame, norm: impl Fn(f32) -> f32, out: &mut Vec<f32>) {
    out.extend(img.data.chunks_exact(3).map(|p| norm(0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbFrame {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend([(x * 255 / (w - 1)) as u8, (y * 255 / (h - 1)) as u8, 128]);
            }
        }
        RgbFrame::new(w, h, data).unwrap()
    }

    #[test]
    fn identity_warp_is_lossless() {
        let img = gradient(40, 30);
        assert_eq!(warp(&img, 40, 30, &Affine::IDENTITY), img);
    }

    /// The generic per-pixel path, forced by a rotation of exactly zero expressed with a tiny shear.
    fn warp_generic(src: &RgbFrame, dw: u32, dh: u32, m: &Affine) -> RgbFrame {
        warp(src, dw, dh, &Affine { b: 1e-30, ..*m })
    }

    #[test]
    fn axis_aligned_fast_path_matches_the_generic_warp() {
        let img = gradient(97, 61);
        for m in [
            Affine::letterbox(97, 61, 64, 64),
            Affine::letterbox(97, 61, 20, 20),
            Affine::crop(&Rect { x: -10.0, y: 5.5, w: 50.0, h: 70.0 }, 33, 17),
            Affine::crop(&Rect { x: 3.0, y: 2.0, w: 10.0, h: 10.0 }, 40, 40),
        ] {
            let (fast, slow) = (warp(&img, 33, 29, &m), warp_generic(&img, 33, 29, &m));
            let worst = fast.data.iter().zip(&slow.data).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
            assert!(worst <= 1, "max diff {worst} for {m:?}");
        }
    }

    #[test]
    fn letterbox_maps_corners_and_pads_black() {
        let img = RgbFrame::filled(200, 100, [200, 10, 10]);
        let m = Affine::letterbox(200, 100, 64, 64);
        let out = warp(&img, 64, 64, &m);
        assert_eq!(out.pixel(32, 2), [0, 0, 0], "top band is padding");
        assert_eq!(out.pixel(32, 32), [200, 10, 10]);
        let (x, y) = m.apply(0.0, 16.0);
        assert!((x - 0.0).abs() < 1e-3 && (y - 0.0).abs() < 1e-3, "({x},{y})");
    }

    #[test]
    fn similarity_recovers_a_known_transform() {
        let truth = Affine { a: 0.8, b: -0.6, c: 10.0, d: 0.6, e: 0.8, f: -5.0 };
        let from = [(0.0, 0.0), (10.0, 0.0), (0.0, 20.0), (7.0, 3.0)];
        let to: Vec<_> = from.iter().map(|&(x, y)| truth.apply(x, y)).collect();
        let got = Affine::similarity(&from, &to).unwrap();
        for (p, q) in from.iter().zip(&to) {
            let r = got.apply(p.0, p.1);
            assert!((r.0 - q.0).abs() < 1e-3 && (r.1 - q.1).abs() < 1e-3);
        }
        let inv = got.invert().unwrap();
        let back = inv.apply(to[3].0, to[3].1);
        assert!((back.0 - 7.0).abs() < 1e-3 && (back.1 - 3.0).abs() < 1e-3);
    }

    #[test]
    fn iou_of_overlapping_boxes() {
        let a = Rect { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        let b = Rect { x: 5.0, y: 0.0, w: 10.0, h: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&Rect { x: 20.0, ..a }), 0.0);
    }

    #[test]
    fn nchw_bgr_layout() {
        let img = RgbFrame::new(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let mut v = Vec::new();
        to_nchw(&img, Channels::Bgr, |x| x, &mut v);
        assert_eq!(v, vec![3.0, 6.0, 2.0, 5.0, 1.0, 4.0]);
    }
}
