// The reviewer console (docs/console.md): one page routed by location.pathname —
//   /console                  review queue (filters, sort, SLA badges)
//   /console/sessions/{id}    a session: recording, timelines, reasons, location, prompts, decision and history
//   /console/audit            audit log (audit.view)
//   /console/admin            accounts (users.manage)
// The server gates the pages by permission as well; the page hides what the user's permissions do not allow and
// shows a clear "forbidden" note when the API answers 403. Test hooks: `window.facereviewConsole` (state, player)
// and `<body data-view data-ready>`; stable selectors are `data-testid` attributes.
import { STRINGS, LANGS, pickLang, setLang, saveLang, t, applyI18n, formatWall, formatDuration, formatMedia } from './i18n.js';
import { api, loadMe, currentUser, can, landingPath, logout } from './api.js';
import { createPlayer } from './player.js';
import * as plots from './plots.js';

const NS = 1e9;
const QUEUE_PAGE = 50;
const AUDIT_PAGE = 200;

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const tid = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

/** Creates an element: attrs `class`, `text`, `hidden`, event handlers `on<event>`, anything else as an attribute. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'hidden') e.hidden = Boolean(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const state = {
  view: 'loading',
  route: null,
  user: null,
  errors: [],
  queue: { filters: null, data: null, requests: 0 },
  session: null,
  time: 0,
  duration: 0,
};
const hooks = { state, player: null, seek: (s) => seekTo(s) };
window.facereviewConsole = hooks;

/* ------------------------------------------------------------------ routing, chrome, errors */

export function parseRoute(path) {
  const p = path.replace(/\/+$/, '') || '/';
  if (p === '/console') return { view: 'queue' };
  const m = p.match(/^\/console\/sessions\/([^/]+)$/);
  if (m) {
    let id = m[1];
    try {
      id = decodeURIComponent(id);
    } catch {
      /* keep as is */
    }
    return { view: 'session', id };
  }
  if (p === '/console/audit') return { view: 'audit' };
  if (p === '/console/admin') return { view: 'admin' };
  return { view: 'notfound' };
}

function showView(view) {
  state.view = view;
  document.body.dataset.view = view;
  tid('page-loading').hidden = true;
  for (const s of $$('[data-section]')) s.hidden = s.dataset.section !== view;
}

function errorText(e) {
  if (!e) return t('err_generic', { message: '?' });
  if (e.status === 0) return t('err_network');
  if (e.status === 403 && e.code === 'csrf') return t('err_csrf');
  if (e.status === 403) return t('err_forbidden');
  if (e.status === 404) return t('err_not_found');
  return t('err_generic', { message: e.message || `HTTP ${e.status}` });
}

/** A page-level error: hides the view and shows the message (`forbidden` for 403). */
function pageError(e) {
  const forbidden = e?.status === 403 && e?.code !== 'csrf';
  showView(forbidden ? 'forbidden' : 'error');
  const box = tid('page-error');
  box.textContent = typeof e === 'string' ? e : errorText(e);
  box.hidden = false;
  state.errors.push(box.textContent);
}

function setupLangSelect() {
  const sel = $('#lang');
  for (const [code, name] of LANGS) {
    if (!STRINGS[code]) continue;
    sel.append(el('option', { value: code, text: name }));
  }
  sel.value = document.documentElement.lang;
  sel.addEventListener('change', () => {
    saveLang(sel.value);
    const u = new URL(location.href);
    u.searchParams.delete('lang');
    location.assign(u.pathname + u.search);
  });
}

function setupChrome() {
  const user = currentUser();
  const nav = { queue: can('queue.view'), audit: can('audit.view'), admin: can('users.manage') };
  for (const a of $$('[data-nav]')) {
    a.hidden = !nav[a.dataset.nav];
    if (a.dataset.nav === state.route.view || (a.dataset.nav === 'queue' && state.route.view === 'session')) {
      a.setAttribute('aria-current', 'page');
    }
  }
  tid('brand').setAttribute('href', landingPath());
  tid('whoami').textContent = t('whoami', {
    name: user?.display_name || user?.username || '',
    role: t(`role_${user?.role}`),
  });
  tid('logout').addEventListener('click', () => logout());
}

function roleLabel(role) {
  return STRINGS.en[`role_${role}`] ? t(`role_${role}`) : String(role ?? '');
}

function decisionBadge(decision, failed = false) {
  const d = decision || (failed ? 'failed' : 'none');
  const key = { reject: 'decision_reject', review: 'decision_review', pass: 'decision_pass', failed: 'decision_failed' }[d];
  return el('span', { class: `badge dec-${d}`, 'data-decision': d, text: key ? t(key) : t('decision_none') });
}

function reviewBadge(status) {
  const s = status || 'open';
  const known = ['open', 'escalated', 'approved', 'rejected'].includes(s);
  return el('span', { class: `badge rev-${known ? s : 'other'}`, 'data-status': s, text: known ? t(`review_${s}`) : s });
}

function fmtRisk(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : t('none');
}

/* ------------------------------------------------------------------ queue */

const QUEUE_CHOICES = {
  status: ['open', 'escalated', 'decided', 'all'],
  decision: ['', 'review', 'reject', 'pass'],
  assignee: ['', 'me', 'none'],
  sort: ['-age', 'age', '-risk', 'risk'],
};
const QUEUE_DEFAULTS = { status: 'open', decision: '', reason: '', assignee: '', sort: '-age', offset: 0 };

function readQueueFilters(search = location.search) {
  const q = new URLSearchParams(search);
  const f = { ...QUEUE_DEFAULTS };
  for (const k of ['status', 'decision', 'assignee', 'sort']) {
    const v = q.get(k);
    if (v !== null && QUEUE_CHOICES[k].includes(v)) f[k] = v;
  }
  const reason = (q.get('reason') || '').trim();
  if (/^[A-Za-z0-9._-]{1,64}$/.test(reason)) f.reason = reason;
  const offset = Number.parseInt(q.get('offset') || '0', 10);
  if (Number.isFinite(offset) && offset > 0) f.offset = offset;
  return f;
}

function queueApiQuery(f) {
  const q = new URLSearchParams();
  q.set('status', f.status);
  if (f.decision) q.set('decision', f.decision);
  if (f.reason) q.set('reason', f.reason);
  if (f.assignee) q.set('assignee', f.assignee);
  q.set('sort', f.sort);
  q.set('limit', String(QUEUE_PAGE));
  q.set('offset', String(f.offset || 0));
  return q;
}

function queuePageUrl(f) {
  const q = new URLSearchParams();
  for (const k of ['status', 'decision', 'reason', 'assignee', 'sort']) if (f[k] !== QUEUE_DEFAULTS[k]) q.set(k, f[k]);
  if (f.offset) q.set('offset', String(f.offset));
  const s = q.toString();
  return `/console${s ? `?${s}` : ''}`;
}

function formFilters() {
  const reason = tid('filter-reason').value.trim();
  return {
    status: tid('filter-status').value,
    decision: tid('filter-decision').value,
    reason: /^[A-Za-z0-9._-]{1,64}$/.test(reason) ? reason : '',
    assignee: tid('filter-assignee').value,
    sort: tid('filter-sort').value,
    offset: 0,
  };
}

let queueAbort = null;
let queueSeq = 0;

async function loadQueue(f) {
  state.queue.filters = f;
  history.replaceState(null, '', queuePageUrl(f));
  queueAbort?.abort();
  queueAbort = new AbortController();
  const seq = ++queueSeq;
  const body = tid('queue-body');
  body.setAttribute('aria-busy', 'true');
  document.body.dataset.ready = '';
  let data;
  try {
    data = await api(`/queue?${queueApiQuery(f)}`, { signal: queueAbort.signal });
  } catch (e) {
    if (e?.name === 'AbortError' || seq !== queueSeq) return;
    if (e.status === 401) return;
    if (e.status === 403) return pageError(e);
    body.removeAttribute('aria-busy');
    body.replaceChildren();
    const empty = tid('queue-empty');
    empty.textContent = errorText(e);
    empty.hidden = false;
    document.body.dataset.ready = 'queue';
    return;
  }
  if (seq !== queueSeq) return;
  state.queue.data = data;
  state.queue.requests += 1;
  renderQueue(data, f);
}

function slaBadge(it) {
  const st = ['ok', 'due_soon', 'overdue'].includes(it.sla_state) ? it.sla_state : 'ok';
  const left = Number(it.sla_ms) - Number(it.age_ms);
  const title = Number.isFinite(left)
    ? left >= 0
      ? t('sla_left', { time: formatDuration(left) })
      : t('sla_over', { time: formatDuration(-left) })
    : '';
  return el('span', { class: `sla sla-${st}`, 'data-testid': 'sla', 'data-sla': st, title, text: t(`sla_${st}`) });
}

function renderQueue(data, f) {
  const items = Array.isArray(data?.items) ? data.items : [];
  const total = Number(data?.total ?? items.length) || 0;
  const body = tid('queue-body');
  const rows = items.map((it) => {
    const href = `/console/sessions/${encodeURIComponent(it.id)}`;
    const top = it.top_reason;
    const tr = el(
      'tr',
      { 'data-session-id': it.id, 'data-testid': 'queue-row', class: `row-sla-${it.sla_state || 'ok'}` },
      el('td', { class: 'cell-applicant' }, el('a', { href, 'data-testid': 'queue-link', text: it.applicant_ref || it.id }),
        el('span', { class: 'muted small mono block', text: it.id })),
      el('td', { text: it.business_name || t('none') }),
      el('td', {}, decisionBadge(it.decision, !it.decision)),
      el('td', { class: 'num', 'data-testid': 'queue-risk', text: fmtRisk(it.risk_score) }),
      el('td', { class: 'cell-reason' }, top
        ? [el('span', { class: 'mono small block', text: top.code || '' }), el('span', { class: 'clamp', title: top.text || '', text: top.text || '' })]
        : t('none')),
      el('td', { class: 'cell-age' }, el('span', { class: 'block', text: formatDuration(it.age_ms) }), slaBadge(it)),
      el('td', {}, reviewBadge(it.review_status)),
      el('td', { 'data-testid': 'queue-assignee', text: it.assignee || t('none') }),
    );
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button, input, select, textarea')) return;
      if (window.getSelection()?.toString()) return; // selecting text, not opening
      location.assign(href);
    });
    return tr;
  });
  body.replaceChildren(...rows);
  body.removeAttribute('aria-busy');
  tid('queue-empty').textContent = t('queue_empty');
  tid('queue-empty').hidden = rows.length > 0;
  const from = total ? f.offset + 1 : 0;
  const to = f.offset + items.length;
  tid('queue-count').textContent = t('queue_count', { from, to, total });
  tid('queue-prev').disabled = f.offset <= 0;
  tid('queue-next').disabled = to >= total;
  if (data?.sla_hours != null) tid('queue-sla').textContent = t('queue_sla', { hours: data.sla_hours });
  // sort indicators on the sortable columns
  for (const th of $$('[data-sort-col]')) {
    const key = th.dataset.sortCol;
    const active = f.sort === key || f.sort === `-${key}`;
    if (active) th.setAttribute('aria-sort', f.sort.startsWith('-') ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
    $('.arrow', th).textContent = active ? (f.sort.startsWith('-') ? ' ▼' : ' ▲') : '';
  }
  document.body.dataset.ready = 'queue';
}

function syncQueueForm(f) {
  tid('filter-status').value = f.status;
  tid('filter-decision').value = f.decision;
  tid('filter-reason').value = f.reason;
  tid('filter-assignee').value = f.assignee;
  tid('filter-sort').value = f.sort;
}

async function initQueue() {
  if (!can('queue.view')) return pageError({ status: 403 });
  showView('queue');
  const f = readQueueFilters();
  syncQueueForm(f);
  const form = tid('queue-filters');
  let debounce = null;
  const apply = () => {
    clearTimeout(debounce);
    loadQueue(formFilters());
  };
  for (const id of ['filter-status', 'filter-decision', 'filter-assignee', 'filter-sort']) tid(id).addEventListener('change', apply);
  tid('filter-reason').addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(apply, 350);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  for (const b of $$('.sort-btn')) {
    b.addEventListener('click', () => {
      const key = b.dataset.sortKey;
      const cur = tid('filter-sort').value;
      tid('filter-sort').value = cur === `-${key}` ? key : `-${key}`;
      apply();
    });
  }
  tid('queue-prev').addEventListener('click', () => {
    const cur = state.queue.filters;
    loadQueue({ ...cur, offset: Math.max(0, cur.offset - QUEUE_PAGE) });
  });
  tid('queue-next').addEventListener('click', () => {
    const cur = state.queue.filters;
    loadQueue({ ...cur, offset: cur.offset + QUEUE_PAGE });
  });
  await loadQueue(f);
}

/* ------------------------------------------------------------------ geodesy (mirrors src/location/geo.rs) */

const EARTH_RADIUS_M = 6371008.8;

export function haversineM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const p1 = lat1 * rad;
  const p2 = lat2 * rad;
  const dp = p2 - p1;
  const dl = (lon2 - lon1) * rad;
  let h = Math.sin(dp / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2;
  h = Math.min(1, Math.max(0, h));
  return 2 * EARTH_RADIUS_M * Math.atan2(Math.sqrt(h), Math.sqrt(1 - h));
}

const inGcjArea = (lat, lon) => lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;

function gcjDelta(lat, lon) {
  const a = 6378245.0;
  const ee = 0.006693421622965943;
  const x = lon - 105.0;
  const y = lat - 35.0;
  const PI = Math.PI;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
  dLat += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
  dLon += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * PI;
  const magic = 1 - ee * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  return [
    (dLat * 180.0) / (((a * (1 - ee)) / (magic * sqrtMagic)) * PI),
    (dLon * 180.0) / ((a / sqrtMagic) * Math.cos(radLat) * PI),
  ];
}

/** [lat, lon] in WGS-84 from coordinates in `system` (`wgs84` or `gcj02`; GCJ-02 inverted by iteration). */
export function toWgs84(lat, lon, system) {
  const s = String(system || 'wgs84').toLowerCase().replace(/[-_ ]/g, '');
  if (s !== 'gcj02' || !inGcjArea(lat, lon)) return [lat, lon];
  let [la, lo] = [lat, lon];
  for (let i = 0; i < 30; i++) {
    const [dla, dlo] = inGcjArea(la, lo) ? gcjDelta(la, lo) : [0, 0];
    const eLat = la + dla - lat;
    const eLon = lo + dlo - lon;
    la -= eLat;
    lo -= eLon;
    if (Math.abs(eLat) < 1e-11 && Math.abs(eLon) < 1e-11) break;
  }
  return [la, lo];
}

/* ------------------------------------------------------------------ session page */

const SEVERITY = { reject: 0, review: 1, pass: 2 };
const sessionUi = { player: null, data: null, id: null, raf: 0, lastReadout: 0, drawn: 0 };

function mediaTimes(data) {
  return {
    reasons: data.verdict?.reasons || [],
    questions: data.interview?.questions || [],
    challenges: data.interview?.challenges || [],
    fixes: data.interview?.locations || [],
  };
}

/** The session's media-clock length in seconds: the longest of everything that tells. */
function computeDuration() {
  const d = sessionUi.data;
  if (!d) return 0;
  let end = 0;
  const bump = (s) => {
    if (typeof s === 'number' && Number.isFinite(s) && s > end) end = s;
  };
  bump((d.timelines?.duration_ns ?? 0) / NS);
  bump(d.quality?.media_s);
  if (sessionUi.player) bump(sessionUi.player.knownEnd());
  const { reasons, questions, challenges, fixes } = mediaTimes(d);
  for (const r of reasons) for (const ev of r.evidence || []) bump((ev?.range?.end ?? ev?.range?.start ?? 0) / NS);
  for (const q of questions) bump((q.until ?? q.asked_at ?? 0) / NS);
  for (const c of challenges) bump(((c.issued_at ?? 0) + (c.deadline_ms ?? 0) * 1e6) / NS);
  for (const f of fixes) bump((f.t ?? 0) / NS);
  return end;
}

function currentTime() {
  return sessionUi.player ? sessionUi.player.time() : state.time;
}

/** Seek the session (player, playhead, readout). `pause`: stop playing first (a reason or fix was clicked). */
async function seekTo(s, { pause = false } = {}) {
  const dur = state.duration;
  const target = Math.max(0, dur > 0 ? Math.min(s, dur) : s);
  state.time = target;
  if (sessionUi.player) await sessionUi.player.seek(target, pause ? { play: false } : {});
  updatePlayhead(true);
}

function updatePlayhead(force = false) {
  const now = currentTime();
  state.time = now;
  const dur = state.duration;
  const stack = tid('tl-stack');
  const head = tid('playhead');
  const w = stack.clientWidth;
  if (dur > 0 && w > 0) {
    const x = Math.max(0, Math.min(w - 2, (now / dur) * w));
    head.style.transform = `translateX(${x.toFixed(1)}px)`;
    head.hidden = false;
  } else {
    head.hidden = true;
  }
  stack.setAttribute('aria-valuemax', String(Math.round(dur)));
  stack.setAttribute('aria-valuenow', String(Math.round(now)));
  stack.setAttribute('aria-valuetext', formatMedia(now));
  tid('clock').textContent = `${formatMedia(now)} / ${formatMedia(dur)}`;
  const ms = performance.now();
  if (force || ms - sessionUi.lastReadout > 250) {
    sessionUi.lastReadout = ms;
    updateReadout(now);
  }
}

function playLoop() {
  cancelAnimationFrame(sessionUi.raf);
  const step = () => {
    updatePlayhead();
    const v = tid('player');
    if (!v.paused && !v.ended) sessionUi.raf = requestAnimationFrame(step);
  };
  sessionUi.raf = requestAnimationFrame(step);
}

function updateReadout(s) {
  const tl = sessionUi.data?.timelines;
  const out = tid('readout');
  if (!tl) {
    out.textContent = '';
    return;
  }
  const tNs = s * NS;
  const parts = [t('readout_at', { t: formatMedia(s) })];
  const f = plots.nearestPoint(tl.faces, tNs);
  if (f && f.faces !== 1) parts.push(f.faces === 0 ? t('faces_none') : t('r_faces', { n: f.faces }));
  const m = plots.nearestPoint(tl.mesh, tNs);
  if (m) {
    if (typeof m.eye_open === 'number') parts.push(t('r_eye', { v: m.eye_open.toFixed(2) }));
    if (typeof m.mouth_open === 'number') parts.push(t('r_mouth', { v: m.mouth_open.toFixed(2) }));
    if (typeof m.yaw_deg === 'number') parts.push(t('r_yaw', { v: m.yaw_deg.toFixed(0) }));
  }
  const e = plots.nearestPoint(tl.expression?.points, tNs);
  if (e && Array.isArray(e.probs) && tl.expression?.labels?.length) {
    let k = 0;
    for (let i = 1; i < e.probs.length; i++) if (e.probs[i] > e.probs[k]) k = i;
    parts.push(t('r_expr', { label: tl.expression.labels[k] ?? '?', p: Math.round((e.probs[k] || 0) * 100) }));
  }
  if (Array.isArray(tl.speech)) parts.push(plots.segmentAt(tl.speech, tNs) ? t('r_speech') : t('r_silence'));
  const v = plots.segmentAt(tl.voice, tNs);
  if (v && typeof v.similarity === 'number') parts.push(t('r_voice', { v: v.similarity.toFixed(2) }));
  const q = plots.nearestPoint(tl.quality, tNs, 2);
  if (q) parts.push(t('r_quality', { fps: q.fps ?? '?', height: q.height ?? '?', kbps: q.kbps ?? '?' }));
  out.textContent = parts.join(' · ');
}

function challengeLabel(c) {
  const kind = String(c?.kind || '');
  const key = `ch_${kind}`;
  return STRINGS.en[key] ? t(key, { digits: c.digits ?? '' }) : kind || '?';
}

/** Draws every plot for the current duration and canvas sizes. */
function drawPlots() {
  const d = sessionUi.data;
  if (!d) return;
  const duration = state.duration;
  const { reasons, questions, challenges } = mediaTimes(d);
  const labels = { noData: t('series_missing'), challenge: (c) => challengeLabel(c) };
  plots.drawAxis(tid('plot-axis'), { duration, questions, reasons });
  const tl = d.timelines;
  if (tl) {
    plots.drawLiveness(tid('plot-liveness'), { duration, mesh: tl.mesh, faces: tl.faces, challenges }, labels);
    plots.drawExpression(tid('plot-expression'), { duration, expression: tl.expression }, labels);
    plots.drawSpeech(tid('plot-speech'), { duration, speech: tl.speech, voice: tl.voice }, labels);
    plots.drawQuality(tid('plot-quality'), { duration, quality: tl.quality }, labels);
  }
  sessionUi.drawn += 1;
  updatePlayhead(true);
}

/** Recomputes the duration; redraws when it changed noticeably. */
function refreshDuration() {
  const next = computeDuration() || 0;
  if (Math.abs(next - state.duration) > 0.25) {
    state.duration = next;
    drawPlots();
  }
}

function renderHeader(d) {
  const s = d.session || {};
  const declared = d.declared || null;
  tid('applicant-ref').textContent = s.applicant_ref || s.id || '';
  tid('business-name').textContent = declared?.name
    ? `${declared.name}${declared.address ? ` · ${declared.address}` : ''}`
    : t('none');
  const meta = [s.id, `${t('created')}: ${formatWall(s.created_at_ms)}`];
  if (s.state) meta.push(`${t('call_state')}: ${s.state}`);
  if (s.ended_at_ms) meta.push(t('ended', { time: formatWall(s.ended_at_ms), reason: s.end_reason || '?' }));
  tid('session-meta').textContent = meta.join(' · ');
  document.title = `${s.applicant_ref || s.id} — ${t('title')}`;
  tid('decision-badge').replaceChildren(decisionBadge(d.verdict?.decision, s.state === 'failed' || !d.verdict));
  tid('risk-score').textContent = fmtRisk(d.verdict?.risk_score);
  tid('review-status').replaceChildren(reviewBadge(s.review_status));
  const me = currentUser()?.username;
  tid('assignee').textContent = s.assignee || t('none');
  const canAssign = Boolean(d.can?.assign);
  tid('assign-me').hidden = !me || s.assignee === me || !(canAssign || (!s.assignee && can('decide')));
  tid('unassign').hidden = !s.assignee || !canAssign;
  const exp = tid('export-link');
  exp.hidden = !d.can?.export;
  if (d.can?.export) exp.setAttribute('href', `/console/api/sessions/${encodeURIComponent(s.id)}/export`);
  const aud = tid('session-audit-link');
  aud.hidden = !can('audit.view');
  aud.setAttribute('href', `/console/audit?session=${encodeURIComponent(s.id)}`);
}

function setupPlayer(d) {
  const video = tid('player');
  const parts = d.recording?.parts || [];
  if (!parts.length) {
    tid('video-wrap').hidden = true;
    tid('no-recording').hidden = false;
    for (const b of $$('[data-testid="transport"] button')) b.disabled = true;
    return;
  }
  const player = createPlayer(video, parts, {
    onPart: (i, n) => {
      tid('part-label').textContent = n > 1 ? t('part_of', { n: i + 1, total: n }) : '';
      tid('player').dataset.part = String(i);
    },
    onMeta: () => {
      refreshDuration();
      updatePlayhead(true);
    },
  });
  sessionUi.player = player;
  hooks.player = player;
  player.load(0);
  const playBtn = tid('play');
  const syncPlay = () => {
    const playing = !video.paused && !video.ended;
    playBtn.textContent = playing ? t('pause') : t('play');
    playBtn.setAttribute('aria-pressed', String(playing));
  };
  video.addEventListener('play', () => {
    syncPlay();
    playLoop();
  });
  video.addEventListener('pause', syncPlay);
  video.addEventListener('ended', syncPlay);
  video.addEventListener('seeked', () => updatePlayhead(true));
  video.addEventListener('timeupdate', () => updatePlayhead());
  video.addEventListener('error', () => {
    tid('video-error').hidden = false;
  });
  video.addEventListener('loadeddata', () => {
    tid('video-error').hidden = true;
  });
  playBtn.addEventListener('click', () => {
    if (video.paused || video.ended) player.play().catch(() => {});
    else player.pause();
  });
  tid('back5').addEventListener('click', () => seekTo(currentTime() - 5));
  tid('fwd5').addEventListener('click', () => seekTo(currentTime() + 5));
}

function setupTimelines(d) {
  const stack = tid('tl-stack');
  const tl = d.timelines;
  for (const row of $$('.tl-row', stack)) if (row.dataset.row !== 'axis') row.hidden = !tl;
  tid('timelines-missing').hidden = Boolean(tl);
  const legend = tid('expression-legend');
  legend.replaceChildren();
  (tl?.expression?.labels || []).forEach((name, i) => {
    const sw = el('i', { class: 'sw' });
    sw.style.background = plots.expressionColour(name, i);
    legend.append(sw, el('span', { text: name }));
  });
  const timeAt = (clientX) => {
    const r = stack.getBoundingClientRect();
    return ((clientX - r.left) / Math.max(1, r.width)) * state.duration;
  };
  stack.addEventListener('click', (ev) => {
    if (!(state.duration > 0)) return;
    seekTo(timeAt(ev.clientX));
  });
  stack.addEventListener('keydown', (ev) => {
    const step = ev.shiftKey ? 10 : 1;
    let target = null;
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowDown') target = currentTime() - step;
    else if (ev.key === 'ArrowRight' || ev.key === 'ArrowUp') target = currentTime() + step;
    else if (ev.key === 'Home') target = 0;
    else if (ev.key === 'End') target = state.duration;
    else if (ev.key === ' ' || ev.key === 'Enter') {
      ev.preventDefault();
      tid('play').click();
      return;
    }
    if (target === null) return;
    ev.preventDefault();
    seekTo(target);
  });
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(drawPlots);
  }).observe(stack);
}

function renderQuality(d) {
  const q = d.quality;
  const dl = tid('quality-summary');
  dl.replaceChildren();
  const rows = [];
  if (q) {
    const r = q.report || {};
    if (typeof q.media_s === 'number') rows.push([t('q_media'), formatMedia(q.media_s)]);
    if (typeof r.mean_fps === 'number') rows.push([t('q_mean_fps'), r.mean_fps.toFixed(1)]);
    if (typeof r.freeze_count === 'number') {
      rows.push([t('q_freezes'), t('q_freezes_v', { n: r.freeze_count, s: ((r.total_freeze_ms || 0) / 1000).toFixed(1) })]);
    }
    if (typeof r.time_to_first_frame_ms === 'number') rows.push([t('q_first_frame'), `${r.time_to_first_frame_ms} ms`]);
    if (typeof q.bytes_received === 'number') rows.push([t('q_bytes'), q.bytes_received.toLocaleString()]);
    if (typeof q.parts === 'number') rows.push([t('q_parts'), String(q.parts)]);
    if (typeof q.adapt_actions === 'number') rows.push([t('q_adapt'), String(q.adapt_actions)]);
  }
  for (const [k, v] of rows) dl.append(el('div', {}, el('dt', { text: k }), el('dd', { text: v })));
  tid('quality-missing').hidden = rows.length > 0;
}

function evidenceStartNs(r) {
  for (const ev of r.evidence || []) {
    const s = ev?.range?.start ?? ev?.t;
    if (typeof s === 'number' && Number.isFinite(s)) return { start: s, end: ev?.range?.end ?? s };
  }
  return null;
}

function renderReasons(d) {
  const list = tid('reasons');
  list.replaceChildren();
  const missing = tid('reasons-missing');
  if (!d.verdict) {
    missing.textContent = t('reasons_missing');
    missing.hidden = false;
    return;
  }
  const reasons = (d.verdict.reasons || [])
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (SEVERITY[a.r.decision] ?? 3) - (SEVERITY[b.r.decision] ?? 3) || a.i - b.i)
    .map((x) => x.r);
  missing.textContent = t('reasons_none');
  missing.hidden = reasons.length > 0;
  const id = encodeURIComponent(d.session.id);
  for (const r of reasons) {
    const ev = evidenceStartNs(r);
    const dec = ['reject', 'review', 'pass'].includes(r.decision) ? r.decision : 'other';
    const body = [
      el('span', { class: 'reason-top' }, decisionBadge(dec === 'other' ? null : dec), el('span', { class: 'mono small', text: r.code || '' })),
      el('span', { class: 'reason-text', text: r.text || '' }),
      el('span', {
        class: 'reason-time muted small',
        text: ev
          ? ev.end > ev.start
            ? t('reason_range', { a: formatMedia(ev.start / NS), b: formatMedia(ev.end / NS) })
            : t('reason_at', { t: formatMedia(ev.start / NS) })
          : t('no_evidence_time'),
      }),
    ];
    let item;
    if (ev) {
      const startS = ev.start / NS;
      const thumb = el('img', {
        class: 'thumb',
        src: `/console/api/sessions/${id}/frame?t=${Math.round(ev.start)}`,
        alt: t('frame_alt', { t: formatMedia(startS) }),
        width: 160,
        height: 120,
        decoding: 'async',
        'data-testid': 'reason-frame',
        'data-state': 'loading',
      });
      thumb.addEventListener('load', () => {
        thumb.dataset.state = 'loaded';
      });
      thumb.addEventListener('error', () => {
        thumb.dataset.state = 'error';
        thumb.replaceWith(el('span', { class: 'thumb thumb-missing', 'data-testid': 'reason-frame-missing', text: t('frame_missing') }));
      });
      item = el(
        'button',
        {
          type: 'button',
          class: `reason reason-${dec}`,
          'data-testid': 'reason',
          'data-code': r.code || '',
          'data-start-s': startS.toFixed(3),
          'aria-label': `${r.code || ''}: ${t('seek_to', { t: formatMedia(startS) })}`,
          onclick: () => seekTo(startS, { pause: true }),
        },
        thumb,
        el('span', { class: 'reason-body' }, body),
      );
    } else {
      item = el('div', { class: `reason reason-${dec} no-seek`, 'data-testid': 'reason', 'data-code': r.code || '' },
        el('span', { class: 'thumb thumb-missing', text: t('frame_missing') }), el('span', { class: 'reason-body' }, body));
    }
    list.append(el('li', {}, item));
  }
}

function timeButton(s, label) {
  return el('button', {
    type: 'button',
    class: 'time-link',
    'data-t': s.toFixed(3),
    'aria-label': t('seek_to', { t: formatMedia(s) }),
    text: label || formatMedia(s),
    onclick: () => seekTo(s, { pause: true }),
  });
}

function renderLocation(d) {
  const declared = d.declared || d.interview?.declared || null;
  const box = tid('declared-place');
  box.replaceChildren();
  if (declared && typeof declared.lat === 'number' && typeof declared.lon === 'number') {
    box.append(
      el('p', { class: 'declared', 'data-testid': 'declared-name' }, el('strong', { text: declared.name || '' }),
        declared.address ? ` · ${declared.address}` : ''),
      el('p', { class: 'muted small mono', 'data-testid': 'declared-coords',
        text: `${declared.lat.toFixed(6)}, ${declared.lon.toFixed(6)} (${declared.coord_system || 'wgs84'})${declared.category ? ` · ${declared.category}` : ''}` }),
    );
  } else if (declared?.name) {
    box.append(el('p', { 'data-testid': 'declared-name' }, el('strong', { text: declared.name })));
  } else {
    box.append(el('p', { class: 'note', text: t('declared_missing') }));
  }
  const body = tid('fixes-body');
  body.replaceChildren();
  const none = tid('fixes-none');
  if (!d.interview) {
    none.textContent = t('location_missing');
    none.hidden = false;
    tid('fixes-table').hidden = true;
    return;
  }
  const fixes = [...(d.interview.locations || [])].sort((a, b) => (a.t ?? 0) - (b.t ?? 0));
  tid('fixes-table').hidden = fixes.length === 0;
  none.textContent = t('fixes_none');
  none.hidden = fixes.length > 0;
  // a fix is flagged when a non-pass location reason's evidence covers its time (±0.5 s), or the server says so
  const ranges = [];
  for (const r of d.verdict?.reasons || []) {
    if (!String(r.code || '').startsWith('location.') || r.decision === 'pass') continue;
    for (const ev of r.evidence || []) {
      const a = ev?.range?.start ?? ev?.t;
      if (typeof a === 'number') ranges.push([a - 0.5 * NS, (ev?.range?.end ?? a) + 0.5 * NS, r.code]);
    }
  }
  const dec = declared && typeof declared.lat === 'number' ? toWgs84(declared.lat, declared.lon, declared.coord_system) : null;
  let converted = false;
  for (const f of fixes) {
    const s = (f.t ?? 0) / NS;
    const hits = ranges.filter(([a, b]) => f.t >= a && f.t <= b).map((x) => x[2]);
    const flagged = f.flagged === true || hits.length > 0;
    let dist = null;
    if (dec && typeof f.lat === 'number' && typeof f.lon === 'number') {
      const p = toWgs84(f.lat, f.lon, f.coord_system);
      if (String(f.coord_system || 'wgs84') !== String(declared.coord_system || 'wgs84')) converted = true;
      dist = haversineM(dec[0], dec[1], p[0], p[1]);
    }
    const distText = dist === null ? t('none') : t('metres', { m: Math.round(dist).toLocaleString(document.documentElement.lang) });
    body.append(
      el('tr', { 'data-testid': 'fix-row', class: flagged ? 'flagged' : '', 'data-distance-m': dist === null ? '' : dist.toFixed(1), 'data-flagged': flagged ? 'true' : 'false' },
        el('td', {}, timeButton(s)),
        el('td', { class: 'num', 'data-testid': 'fix-distance' }, distText,
          flagged ? el('span', { class: 'badge flag', title: hits.join(', '), text: t('flagged') }) : null),
        el('td', { class: 'num', text: typeof f.accuracy_m === 'number' ? t('metres', { m: Math.round(f.accuracy_m) }) : t('none') }),
        el('td', { class: 'mono small', text: `${Number(f.lat).toFixed(5)}, ${Number(f.lon).toFixed(5)}${f.coord_system && f.coord_system !== 'wgs84' ? ` (${f.coord_system})` : ''}` }),
        el('td', { text: f.source || t('none') }),
      ),
    );
  }
  tid('gcj-note').hidden = !converted;
}

/** A challenge's result: from the server's `result` when present, else from the verdict's liveness.challenge reasons. */
export function challengeResult(c, verdict) {
  const norm = (v) => {
    const s = String(v).toLowerCase();
    if (['passed', 'pass', 'ok', 'answered', 'success', 'true'].includes(s)) return 'passed';
    if (['failed', 'fail', 'missed', 'timeout', 'not_answered', 'false', 'unanswered'].includes(s)) return 'failed';
    return null;
  };
  const r = c.result;
  if (r !== undefined && r !== null) {
    if (typeof r === 'boolean') return { state: r ? 'passed' : 'failed', detail: '' };
    if (typeof r === 'string') return { state: norm(r) || 'unknown', detail: norm(r) ? '' : r };
    if (typeof r === 'object') {
      const flag = r.passed ?? r.ok ?? r.answered ?? r.success;
      const st = typeof flag === 'boolean' ? (flag ? 'passed' : 'failed') : norm(r.outcome ?? r.status ?? r.state ?? r.result ?? '');
      return { state: st || 'unknown', detail: r.summary || r.text || r.detail || '' };
    }
  }
  const id = String(c.id || '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (id) {
    const re = new RegExp(`challenge ${id}\\b`);
    const hit = (verdict?.reasons || []).find((x) => x.code === 'liveness.challenge' && re.test(x.text || ''));
    if (hit) {
      const text = hit.text || '';
      const failed = /not answered|not completed|no answer|failed/i.test(text) || (hit.decision !== 'pass' && !/\banswered\b/i.test(text));
      return { state: failed ? 'failed' : 'passed', detail: text };
    }
  }
  return { state: 'unknown', detail: '' };
}

function renderPrompts(d) {
  const qList = tid('questions');
  const cList = tid('challenges');
  qList.replaceChildren();
  cList.replaceChildren();
  const iv = d.interview;
  tid('prompts-panel').hidden = !iv;
  tid('interview-missing').hidden = Boolean(iv);
  if (!iv) return;
  const questions = [...(iv.questions || [])].sort((a, b) => (a.asked_at ?? 0) - (b.asked_at ?? 0));
  if (!questions.length) qList.append(el('li', { class: 'muted', text: t('questions_none') }));
  for (const q of questions) {
    const s = (q.asked_at ?? 0) / NS;
    qList.append(el('li', { 'data-testid': 'question' }, timeButton(s), el('span', { class: 'q-text', text: q.text || q.id || '' })));
  }
  const challenges = [...(iv.challenges || [])].sort((a, b) => (a.issued_at ?? 0) - (b.issued_at ?? 0));
  if (!challenges.length) cList.append(el('li', { class: 'muted', text: t('challenges_none') }));
  for (const c of challenges) {
    const s = (c.issued_at ?? 0) / NS;
    const res = challengeResult(c, d.verdict);
    cList.append(
      el('li', { 'data-testid': 'challenge', 'data-result': res.state },
        timeButton(s),
        el('span', { class: 'c-kind', text: challengeLabel(c) }),
        el('span', { class: `badge res-${res.state}`, title: res.detail || '', text: t(`result_${res.state}`) }),
        el('span', { class: 'muted small block', text: t('issued_at', { t: formatMedia(s), s: ((c.deadline_ms ?? 0) / 1000).toFixed(1) }) }),
      ),
    );
  }
}

function renderHistory(d) {
  const list = tid('history');
  const items = d.decisions || [];
  list.replaceChildren(
    ...items.map((x) =>
      el('li', { 'data-testid': 'history-item', 'data-action': x.action },
        el('span', { class: `badge act-${x.action}`, text: STRINGS.en[`hist_${x.action}`] ? t(`hist_${x.action}`) : x.action }),
        el('span', { class: 'muted small', text: t('history_by', { name: x.display_name || x.username || '?', time: formatWall(x.created_at_ms) }) }),
        el('p', { class: 'h-reason', text: x.reason || '' }),
      ),
    ),
  );
  tid('history-empty').hidden = items.length > 0;
}

function renderDecisionForm(d) {
  const allowed = Boolean(d.can?.decide);
  const form = tid('decision-form');
  for (const c of $$('input, textarea, button', form)) c.disabled = !allowed;
  form.classList.toggle('disabled', !allowed);
  tid('cannot-decide').hidden = allowed;
}

const chars = (s) => [...s].length;

function updateCount() {
  tid('decision-count').textContent = t('reason_count', { n: chars(tid('decision-reason').value.trim()) });
}

function setupDecisionForm() {
  const form = tid('decision-form');
  const reasonBox = tid('decision-reason');
  const err = tid('decision-error');
  const ok = tid('decision-ok');
  const fail = (text, focus) => {
    err.textContent = text;
    err.hidden = false;
    ok.hidden = true;
    focus?.focus();
  };
  reasonBox.addEventListener('input', () => {
    updateCount();
    reasonBox.removeAttribute('aria-invalid');
  });
  updateCount();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    ok.hidden = true;
    const action = $('input[name="action"]:checked', form)?.value;
    const reason = reasonBox.value.trim();
    if (!action) return fail(t('err_action'), $('input[name="action"]', form));
    const n = chars(reason);
    if (n < 10 || n > 2000) {
      reasonBox.setAttribute('aria-invalid', 'true');
      return fail(t(n < 10 ? 'err_reason_short' : 'err_reason_long'), reasonBox);
    }
    const submit = tid('decision-submit');
    submit.disabled = true;
    submit.textContent = t('submitting');
    try {
      await api(`/sessions/${encodeURIComponent(sessionUi.id)}/decision`, { method: 'POST', body: { action, reason } });
      form.reset();
      updateCount();
      await reloadSession();
      ok.textContent = t('decided_ok');
      ok.hidden = false;
    } catch (e) {
      if (e.status !== 401) fail(errorText(e));
    } finally {
      submit.textContent = t('submit_decision');
      if (sessionUi.data?.can?.decide) submit.disabled = false;
    }
  });
}

async function assign(assignee) {
  const box = tid('assign-status');
  box.hidden = true;
  try {
    await api(`/sessions/${encodeURIComponent(sessionUi.id)}/assign`, { method: 'POST', body: { assignee } });
    await reloadSession();
    box.textContent = t('assigned_ok');
    box.classList.remove('error');
  } catch (e) {
    if (e.status === 401) return;
    box.textContent = errorText(e);
    box.classList.add('error');
  }
  box.hidden = false;
}

/** Fetches the session again after a change: header, decision form and history (the player keeps playing). */
async function reloadSession() {
  const d = await api(`/sessions/${encodeURIComponent(sessionUi.id)}`);
  sessionUi.data = d;
  state.session = d;
  renderHeader(d);
  renderDecisionForm(d);
  renderHistory(d);
}

async function initSession(id) {
  if (!can('session.view')) return pageError({ status: 403 });
  sessionUi.id = id;
  let d;
  try {
    d = await api(`/sessions/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 401) return;
    return pageError(e);
  }
  if (!d || !d.session) return pageError(t('err_generic', { message: 'empty answer' }));
  sessionUi.data = d;
  state.session = d;
  showView('session');
  renderHeader(d);
  tid('assign-me').addEventListener('click', () => assign(currentUser()?.username));
  tid('unassign').addEventListener('click', () => assign(null));
  renderReasons(d);
  renderLocation(d);
  renderPrompts(d);
  renderQuality(d);
  renderDecisionForm(d);
  renderHistory(d);
  setupDecisionForm();
  setupPlayer(d);
  setupTimelines(d);
  state.duration = computeDuration();
  drawPlots();
  document.body.dataset.ready = 'session';
}

/* ------------------------------------------------------------------ audit */

async function initAudit() {
  if (!can('audit.view')) return pageError({ status: 403 });
  showView('audit');
  const q = new URLSearchParams(location.search);
  const input = tid('audit-session');
  input.value = q.get('session') || '';
  let before = null;
  const body = tid('audit-body');
  const more = tid('audit-more');
  const load = async (append) => {
    const p = new URLSearchParams();
    const s = input.value.trim();
    if (s) p.set('session', s);
    p.set('limit', String(AUDIT_PAGE));
    if (append && before !== null) p.set('before', String(before));
    let data;
    try {
      data = await api(`/audit?${p}`);
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 403) return pageError(e);
      tid('audit-empty').textContent = errorText(e);
      tid('audit-empty').hidden = false;
      return;
    }
    const entries = data?.entries || [];
    const rows = entries.map((x) =>
      el('tr', { 'data-testid': 'audit-row', 'data-seq': x.seq },
        el('td', { class: 'num', text: x.seq }),
        el('td', { text: formatWall(x.t_ms) }),
        el('td', { text: x.actor }),
        el('td', { class: 'mono small', text: x.action }),
        el('td', {}, x.session_id ? el('a', { href: `/console/sessions/${encodeURIComponent(x.session_id)}`, class: 'mono small', text: x.session_id }) : t('none')),
        el('td', { class: 'mono small detail', text: x.detail == null ? '' : JSON.stringify(x.detail) }),
        el('td', { class: 'mono small', title: x.hash || '', text: (x.hash || '').slice(0, 12) }),
      ),
    );
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    if (entries.length) before = entries[entries.length - 1].seq;
    more.hidden = entries.length < AUDIT_PAGE;
    tid('audit-empty').textContent = t('audit_empty');
    tid('audit-empty').hidden = body.children.length > 0;
    const u = new URL(location.href);
    if (s) u.searchParams.set('session', s);
    else u.searchParams.delete('session');
    history.replaceState(null, '', u.pathname + u.search);
    document.body.dataset.ready = 'audit';
  };
  tid('audit-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    before = null;
    load(false);
  });
  more.addEventListener('click', () => load(true));
  tid('audit-verify').addEventListener('click', async () => {
    const box = tid('audit-verify-result');
    try {
      const v = await api('/audit/verify');
      box.textContent = v.ok ? t('audit_ok', { n: v.entries }) : t('audit_bad', { seq: v.first_bad_seq ?? '?', problem: v.problem || '?' });
      box.className = `note ${v.ok ? 'ok' : 'error'}`;
      box.dataset.ok = String(Boolean(v.ok));
    } catch (e) {
      if (e.status === 401) return;
      box.textContent = errorText(e);
      box.className = 'note error';
    }
    box.hidden = false;
  });
  await load(false);
}

/* ------------------------------------------------------------------ admin */

const ROLES = ['reviewer', 'supervisor', 'qa', 'admin'];

async function initAdmin() {
  // the server answers 403 for this page already; this covers an API that refuses (role changed meanwhile)
  let users;
  try {
    users = await api('/users');
  } catch (e) {
    if (e.status === 401) return;
    return pageError(e);
  }
  showView('admin');
  const status = tid('admin-status');
  const say = (text, bad = false) => {
    status.textContent = text;
    status.className = `note ${bad ? 'error' : 'ok'}`;
    status.hidden = false;
  };
  const update = async (username, body) => {
    try {
      await api(`/users/${encodeURIComponent(username)}`, { method: 'POST', body });
      say(t('user_updated', { name: username }));
      await refresh();
    } catch (e) {
      if (e.status !== 401) say(errorText(e), true);
    }
  };
  const render = (list) => {
    const rows = list.map((u) => {
      const roleSel = el('select', { 'aria-label': `${t('role')}: ${u.username}` },
        ROLES.map((r) => el('option', { value: r, text: roleLabel(r), selected: r === u.role })));
      const pw = el('input', { type: 'password', minlength: 12, maxlength: 256, autocomplete: 'new-password',
        'aria-label': `${t('new_password')}: ${u.username}`, placeholder: t('pw_policy') });
      const locked = typeof u.locked_until_ms === 'number' && u.locked_until_ms > Date.now();
      return el('tr', { 'data-testid': 'user-row', 'data-username': u.username },
        el('td', { class: 'mono', text: u.username }),
        el('td', { text: u.display_name || '' }),
        el('td', {}, roleSel, el('button', { type: 'button', class: 'small-btn ghost', text: t('save_role'),
          onclick: () => update(u.username, { role: roleSel.value }) })),
        el('td', { text: u.disabled ? t('state_disabled') : locked ? t('state_locked') : t('state_active') }),
        el('td', { class: 'user-actions' },
          el('button', { type: 'button', class: 'small-btn ghost', text: u.disabled ? t('enable') : t('disable'),
            onclick: () => update(u.username, { disabled: !u.disabled }) }),
          pw,
          el('button', { type: 'button', class: 'small-btn ghost', text: t('set_password'),
            onclick: () => {
              if (chars(pw.value) < 12 || chars(pw.value) > 256) return say(t('pw_policy'), true);
              update(u.username, { password: pw.value });
            } })),
      );
    });
    tid('users-body').replaceChildren(...rows);
    tid('users-none').hidden = rows.length > 0;
  };
  const listOf = (x) => (Array.isArray(x) ? x : Array.isArray(x?.users) ? x.users : []);
  const refresh = async () => render(listOf(await api('/users')));
  render(listOf(users));
  const form = tid('add-user-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = tid('add-user-error');
    err.hidden = true;
    const username = $('#nu-username').value.trim();
    const password = $('#nu-password').value;
    if (!/^[a-z0-9._-]{1,64}$/.test(username)) {
      err.textContent = `${t('col_username')}: a-z 0-9 . _ - (1–64)`;
      err.hidden = false;
      return;
    }
    if (chars(password) < 12 || chars(password) > 256) {
      err.textContent = `${t('password')}: ${t('pw_policy')}`;
      err.hidden = false;
      return;
    }
    try {
      await api('/users', { method: 'POST', body: { username, password, role: $('#nu-role').value,
        display_name: $('#nu-display').value.trim() || username } });
      form.reset();
      say(t('user_created', { name: username }));
      await refresh();
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = errorText(e);
      err.hidden = false;
    }
  });
  document.body.dataset.ready = 'admin';
}

/* ------------------------------------------------------------------ start */

async function main() {
  setLang(pickLang());
  applyI18n(document);
  setupLangSelect();
  state.route = parseRoute(location.pathname);
  try {
    const me = await loadMe();
    state.user = me?.user || null;
  } catch (e) {
    if (e.status === 401) return; // on the way to the login page
    return pageError(e);
  }
  setupChrome();
  switch (state.route.view) {
    case 'queue':
      return initQueue();
    case 'session':
      return initSession(state.route.id);
    case 'audit':
      return initAudit();
    case 'admin':
      return initAdmin();
    default:
      return pageError({ status: 404 });
  }
}

main().catch((e) => pageError(t('err_generic', { message: String(e?.message || e) })));
