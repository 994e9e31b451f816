// Canvas plots of the session page: the time axis and the stacked evidence timelines (docs/console.md
// "Timelines"). Every plot maps media time [0, duration] seconds onto the full width of its canvas, so all of them
// share one x axis and one playhead. Series times are nanoseconds on the media clock. Plots are drawn once (and on
// resize); the playhead is a separate element moved by the page, so playing costs no redraws.

const NS = 1e9;
/** A series gap longer than this (seconds) breaks the line: no face, no mesh. */
const GAP_S = 2.0;

export const COLOURS = {
  reject: '#c62828',
  review: '#b26a00',
  pass: '#2e7d32',
  eye: '#1565c0',
  mouth: '#8e24aa',
  yaw: '#00897b',
  challenge: 'rgba(255, 179, 0, 0.22)',
  challengeEdge: 'rgba(178, 106, 0, 0.8)',
  question: 'rgba(11, 92, 173, 0.12)',
  questionEdge: 'rgba(11, 92, 173, 0.55)',
  speech: '#1e88e5',
  voice: '#e65100',
  fps: '#1565c0',
  height: '#6d4c41',
  kbps: '#00897b',
  noFace: '#e53935',
  multiFace: '#ffb300',
  grid: '#e3e7ee',
  text: '#555',
};

/** Colours of expression labels (by name where known, else a fixed palette). */
const EXPR_BY_NAME = {
  neutral: '#b0bec5',
  happy: '#fdd835',
  happiness: '#fdd835',
  sad: '#1e88e5',
  sadness: '#1e88e5',
  angry: '#e53935',
  anger: '#e53935',
  surprise: '#fb8c00',
  surprised: '#fb8c00',
  fear: '#8e24aa',
  fearful: '#8e24aa',
  disgust: '#43a047',
  disgusted: '#43a047',
  contempt: '#6d4c41',
};
const PALETTE = ['#b0bec5', '#fdd835', '#1e88e5', '#e53935', '#fb8c00', '#8e24aa', '#43a047', '#6d4c41', '#26c6da'];

export function expressionColour(label, i) {
  return EXPR_BY_NAME[String(label).toLowerCase()] || PALETTE[i % PALETTE.length];
}

/** Sizes the canvas backing store to its CSS box (device pixels, capped at 2x) and clears it. */
export function prepare(canvas) {
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(canvas.clientWidth));
  const h = Math.max(1, Math.round(canvas.clientHeight));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  return { ctx, w, h };
}

const xOf = (tNs, duration, w) => (duration > 0 ? (tNs / NS / duration) * w : 0);
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function noData(ctx, w, h, text) {
  ctx.fillStyle = '#f7f8fa';
  ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = COLOURS.text;
  ctx.textAlign = 'center';
  ctx.fillText(text, w / 2, h / 2);
  ctx.textAlign = 'left';
}

function baseGrid(ctx, w, h, duration) {
  ctx.fillStyle = '#fbfcfd';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = COLOURS.grid;
  ctx.lineWidth = 1;
  const step = tickStep(duration, w);
  ctx.beginPath();
  for (let s = step; s < duration; s += step) {
    const x = Math.round((s / duration) * w) + 0.5;
    ctx.moveTo(x, 0);
    ctx.lineTo(x, h);
  }
  ctx.stroke();
}

/** Seconds between axis ticks: at least ~70 px apart. */
export function tickStep(duration, w) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const minPx = 70;
  for (const s of steps) if ((s / Math.max(duration, 1e-9)) * w >= minPx) return s;
  return steps[steps.length - 1];
}

function tickLabel(s) {
  const m = Math.floor(s / 60);
  const sec = Math.round(s - m * 60);
  return `${m}:${String(sec).padStart(2, '0')}`;
}

/** Draws one series as a polyline (values mapped by `y`), broken where points are more than GAP_S apart. */
function line(ctx, points, get, y, duration, w, colour, width = 1.5) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  let prevT = null;
  let open = false;
  for (const p of points) {
    const v = num(get(p));
    const t = num(p.t);
    if (v === null || t === null) {
      open = false;
      continue;
    }
    const x = xOf(t, duration, w);
    if (!open || (prevT !== null && (t - prevT) / NS > GAP_S)) ctx.moveTo(x, y(v));
    else ctx.lineTo(x, y(v));
    open = true;
    prevT = t;
  }
  ctx.stroke();
}

/** The time axis: ticks and labels, question spans (top band), reason evidence ranges (bottom band). */
export function drawAxis(canvas, { duration, questions = [], reasons = [] }) {
  const { ctx, w, h } = prepare(canvas);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  if (!(duration > 0)) return;
  // questions: alternating light bands with their number
  questions.forEach((q, i) => {
    const a = num(q.asked_at);
    if (a === null) return;
    const b = num(q.until) ?? duration * NS;
    const x0 = xOf(a, duration, w);
    const x1 = Math.max(x0 + 2, xOf(b, duration, w));
    ctx.fillStyle = i % 2 ? 'rgba(11, 92, 173, 0.07)' : COLOURS.question;
    ctx.fillRect(x0, 0, x1 - x0, 10);
    ctx.fillStyle = COLOURS.questionEdge;
    ctx.fillRect(x0, 0, 1.5, 10);
    ctx.fillStyle = '#0b3c73';
    ctx.textBaseline = 'middle';
    if (x1 - x0 > 18) ctx.fillText(`Q${i + 1}`, x0 + 3, 5.5);
  });
  // ticks
  const step = tickStep(duration, w);
  ctx.strokeStyle = '#9aa5b1';
  ctx.fillStyle = COLOURS.text;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let s = 0; s <= duration + 1e-9; s += step) {
    const x = Math.round((s / duration) * w) + 0.5;
    ctx.moveTo(x, 11);
    ctx.lineTo(x, 16);
  }
  ctx.stroke();
  for (let s = 0; s <= duration + 1e-9; s += step) {
    const x = (s / duration) * w;
    ctx.textAlign = x < 15 ? 'left' : x > w - 15 ? 'right' : 'center';
    ctx.fillText(tickLabel(s), x, 22);
  }
  ctx.textAlign = 'left';
  // reasons: bottom band, most severe drawn last (on top)
  const rank = { pass: 0, review: 1, reject: 2 };
  const sorted = [...reasons].sort((a, b) => (rank[a.decision] ?? 0) - (rank[b.decision] ?? 0));
  for (const r of sorted) {
    const colour = COLOURS[r.decision] || COLOURS.text;
    for (const ev of r.evidence || []) {
      const a = num(ev?.range?.start ?? ev?.t);
      if (a === null) continue;
      const b = num(ev?.range?.end) ?? a;
      const x0 = xOf(a, duration, w);
      const x1 = Math.max(x0 + 3, xOf(b, duration, w));
      ctx.fillStyle = colour;
      ctx.globalAlpha = r.decision === 'pass' ? 0.35 : 0.85;
      ctx.fillRect(x0, h - 6, x1 - x0, 5);
    }
  }
  ctx.globalAlpha = 1;
}

/** Liveness: challenge windows shaded, eye and mouth openness, head yaw, and a face-count strip at the bottom. */
export function drawLiveness(canvas, { duration, mesh, faces, challenges = [] }, labels) {
  const { ctx, w, h } = prepare(canvas);
  if (!(duration > 0) || ((!mesh || !mesh.length) && (!faces || !faces.length))) {
    noData(ctx, w, h, labels.noData);
    return;
  }
  baseGrid(ctx, w, h, duration);
  const top = 4;
  const bottom = h - 9;
  for (const c of challenges) {
    const a = num(c.issued_at);
    if (a === null) continue;
    const b = a + (num(c.deadline_ms) ?? 3000) * 1e6;
    const x0 = xOf(a, duration, w);
    const x1 = Math.max(x0 + 2, xOf(b, duration, w));
    ctx.fillStyle = COLOURS.challenge;
    ctx.fillRect(x0, 0, x1 - x0, h);
    ctx.fillStyle = COLOURS.challengeEdge;
    ctx.fillRect(x0, 0, 1.5, h);
    ctx.fillStyle = '#6b4000';
    ctx.fillText(labels.challenge(c), x0 + 3, 8);
  }
  // yaw: centre line and ±60° range
  const mid = (top + bottom) / 2;
  ctx.strokeStyle = '#cfd8dc';
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(0, mid + 0.5);
  ctx.lineTo(w, mid + 0.5);
  ctx.stroke();
  ctx.setLineDash([]);
  const scale = (lo, hi) => (v) => bottom - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (bottom - top);
  if (mesh && mesh.length) {
    line(ctx, mesh, (p) => p.yaw_deg, scale(-60, 60), duration, w, COLOURS.yaw, 1.2);
    line(ctx, mesh, (p) => p.mouth_open, scale(0, 0.8), duration, w, COLOURS.mouth);
    line(ctx, mesh, (p) => p.eye_open, scale(0, 0.5), duration, w, COLOURS.eye);
  }
  // faces strip: red = no face, amber = several
  if (faces && faces.length) {
    for (let i = 0; i < faces.length; i++) {
      const p = faces[i];
      const t = num(p.t);
      const n = num(p.faces);
      if (t === null || n === null || n === 1) continue;
      const next = faces[i + 1] && num(faces[i + 1].t) !== null ? faces[i + 1].t : t + 0.5 * NS;
      const x0 = xOf(t, duration, w);
      const x1 = Math.max(x0 + 1, xOf(Math.min(next, t + GAP_S * NS), duration, w));
      ctx.fillStyle = n === 0 ? COLOURS.noFace : COLOURS.multiFace;
      ctx.fillRect(x0, h - 5, x1 - x0, 5);
    }
  }
}

/** Expression: stacked class probabilities over time. */
export function drawExpression(canvas, { duration, expression }, labels) {
  const { ctx, w, h } = prepare(canvas);
  const pts = expression?.points || [];
  const names = expression?.labels || [];
  if (!(duration > 0) || !pts.length || !names.length) {
    noData(ctx, w, h, labels.noData);
    return;
  }
  baseGrid(ctx, w, h, duration);
  // one column per point, width up to the next point (or the gap limit)
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i];
    const t = num(p.t);
    if (t === null || !Array.isArray(p.probs)) continue;
    const nextT = i + 1 < pts.length && num(pts[i + 1].t) !== null ? pts[i + 1].t : t + 0.5 * NS;
    const x0 = xOf(t, duration, w);
    const x1 = Math.max(x0 + 1, xOf(Math.min(nextT, t + GAP_S * NS), duration, w));
    let y = h;
    const total = p.probs.reduce((s, v) => s + (num(v) ?? 0), 0) || 1;
    for (let k = 0; k < names.length; k++) {
      const v = (num(p.probs[k]) ?? 0) / total;
      const hh = v * h;
      if (hh <= 0) continue;
      ctx.fillStyle = expressionColour(names[k], k);
      ctx.fillRect(x0, y - hh, x1 - x0 + 0.5, hh);
      y -= hh;
    }
  }
}

/** Speech segments (top half, opacity by probability) and voice similarity per piece (bottom half, bar height). */
export function drawSpeech(canvas, { duration, speech, voice }, labels) {
  const { ctx, w, h } = prepare(canvas);
  if (!(duration > 0) || ((!speech || !speech.length) && (!voice || !voice.length))) {
    noData(ctx, w, h, labels.noData);
    return;
  }
  baseGrid(ctx, w, h, duration);
  const half = Math.floor(h / 2);
  for (const s of speech || []) {
    const a = num(s.start);
    const b = num(s.end);
    if (a === null || b === null) continue;
    const x0 = xOf(a, duration, w);
    const x1 = Math.max(x0 + 1, xOf(b, duration, w));
    ctx.fillStyle = COLOURS.speech;
    ctx.globalAlpha = 0.35 + 0.65 * Math.min(1, Math.max(0, num(s.prob) ?? 1));
    ctx.fillRect(x0, 3, x1 - x0, half - 6);
  }
  ctx.globalAlpha = 1;
  ctx.strokeStyle = COLOURS.grid;
  ctx.beginPath();
  ctx.moveTo(0, half + 0.5);
  ctx.lineTo(w, half + 0.5);
  ctx.stroke();
  for (const v of voice || []) {
    const a = num(v.start);
    const b = num(v.end);
    const sim = num(v.similarity);
    if (a === null || b === null || sim === null) continue;
    const x0 = xOf(a, duration, w);
    const x1 = Math.max(x0 + 1, xOf(b, duration, w));
    const hh = Math.max(1, Math.min(1, Math.max(0, sim)) * (h - half - 3));
    ctx.fillStyle = COLOURS.voice;
    ctx.globalAlpha = 0.8;
    ctx.fillRect(x0 + 0.5, h - hh, Math.max(1, x1 - x0 - 1), hh);
  }
  ctx.globalAlpha = 1;
}

/** Stream quality: frame rate, frame height and bitrate, each on its own scale (0 to its maximum). */
export function drawQuality(canvas, { duration, quality }, labels) {
  const { ctx, w, h } = prepare(canvas);
  if (!(duration > 0) || !quality || !quality.length) {
    noData(ctx, w, h, labels.noData);
    return;
  }
  baseGrid(ctx, w, h, duration);
  const maxOf = (k, floor) => Math.max(floor, ...quality.map((p) => num(p[k]) ?? 0));
  const top = 4;
  const bottom = h - 3;
  const scale = (hi) => (v) => bottom - (Math.min(hi, Math.max(0, v)) / hi) * (bottom - top);
  line(ctx, quality, (p) => p.kbps, scale(maxOf('kbps', 100)), duration, w, COLOURS.kbps, 1.2);
  line(ctx, quality, (p) => p.height, scale(maxOf('height', 240)), duration, w, COLOURS.height, 1.2);
  line(ctx, quality, (p) => p.fps, scale(maxOf('fps', 15)), duration, w, COLOURS.fps, 1.5);
}

/** The point of a `t`-sorted series nearest to tNs, or null when none lies within maxGapS seconds. */
export function nearestPoint(points, tNs, maxGapS = 1.5) {
  if (!points || !points.length) return null;
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((points[mid].t ?? 0) < tNs) lo = mid + 1;
    else hi = mid;
  }
  let best = points[lo];
  if (lo > 0 && Math.abs(points[lo - 1].t - tNs) < Math.abs(best.t - tNs)) best = points[lo - 1];
  return Math.abs(best.t - tNs) <= maxGapS * NS ? best : null;
}

/** The `{start, end}` segment containing tNs, or null. */
export function segmentAt(segments, tNs) {
  if (!segments) return null;
  for (const s of segments) if (s.start <= tNs && tNs <= s.end) return s;
  return null;
}

/** Share of pixels that differ from the canvas's top-left pixel (tests and self-checks use it: 0 = blank). */
export function inkRatio(canvas) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  if (!width || !height) return 0;
  const d = ctx.getImageData(0, 0, width, height).data;
  let differ = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) differ++;
  }
  return differ / (d.length / 4);
}
