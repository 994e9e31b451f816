// The applicant's page: join info → consent → location → camera → WHIP publish + control WebSocket → interview.
// Contract: docs/live-protocol.md. For tests, the page exposes `window.facereview = {state, log}` and sets
// `data-phase` on <body>; it needs no test hooks.
//
// Phases: loading, consent, declined, setup (location + camera), connecting, live, reconnecting,
//         done (the server ended the script), hungup (the applicant hung up), ended (the server ended the session),
//         error (state.error says why).

import { pickLang, setLang, getLang, t, applyI18n, has } from './i18n.js';
import { publish, unpublish, applyAdapt, outboundStats, senderStatsMessage, WhipError, readError } from './rtc.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const timeoutSignal = (ms) => (typeof AbortSignal !== 'undefined' && AbortSignal.timeout ? AbortSignal.timeout(ms) : undefined);

const GRACE_MS = 30000; // give up reconnecting after this long (the server's default grace period)
const BACKOFF_MS = [1000, 2000, 4000];
const CONNECT_TIMEOUT_MS = 15000; // ICE/DTLS must connect within this after the answer
const LOCATION_CAP_MS = 15000; // overall cap on the first location fix (permission prompt included)
const RETRYABLE = new Set(['network', 'at_capacity', 'already_live', 'camera_denied', 'camera_in_use',
  'camera_failed', 'connection_lost', 'server']);

const params = new URLSearchParams(location.search);
const CODEC = ['vp8', 'h264'].includes((params.get('codec') || '').toLowerCase())
  ? params.get('codec').toLowerCase() : null;
const TOKEN = (() => {
  const m = location.pathname.match(/\/join\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
})();
const KEY_NAME = `facereview.resume_key.${TOKEN}`;

const state = {
  phase: 'loading',
  lang: 'en',
  codec_requested: CODEC,
  business_name: null,
  join_state: null, // `state` from GET /api/join
  server_state: null, // last `state` message
  consent: null, // 'accepted' | 'declined' | 'resumed'
  media: null, // {video, audio, width, height}
  location: null, // the last fix sent (or queued)
  location_unavailable: null, // 'denied' | 'timeout' | 'unsupported'
  prompt: null,
  challenge: null,
  prompts: [],
  challenges: [],
  progress: null,
  face_visible: null,
  hint: null,
  adapt: null, // the last `adapt` message accepted (applied, being applied or waiting)
  adapt_applied: null, // the last result: {seq, video, audio, error}, as sent in `adapt_applied`
  adapt_applied_count: 0,
  video_paused: false, // the server paused video (audio-only mode)
  video_paused_s: 0, // total seconds video was paused so far
  snapshots_sent: 0,
  snapshots_skipped: 0,
  sender_stats: null, // the last `sender_stats` sent
  codec: null, // negotiated video codec (getStats), e.g. 'video/VP8'
  audio_codec: null,
  bytes_sent: 0, // audio + video, all connections
  frames_sent: 0,
  frame_size: null,
  pc_state: null,
  ws_open: false,
  reconnects: 0,
  end_message: null,
  error: null, // {code, message} of the fatal error
  errors: [], // every error: {t_ms, code, message, fatal}
};
const log = [];
window.facereview = { state, log };

function note(kind, data = {}) {
  log.push({ t_ms: Date.now(), kind, ...data });
  if (log.length > 1000) log.splice(0, log.length - 1000);
}

function recordError(code, message, fatal) {
  state.errors.push({ t_ms: Date.now(), code, message, fatal: !!fatal });
  note('error', { code, message, fatal: !!fatal });
}

// ---------------------------------------------------------------------------------------------------------------
// screens

const SCREEN_OF = {
  loading: 'loading', consent: 'consent', declined: 'declined', setup: 'setup', connecting: 'live', live: 'live',
  reconnecting: 'live', done: 'end', hungup: 'end', ended: 'end', error: 'error',
};

function setPhase(phase) {
  if (state.phase === phase) return;
  state.phase = phase;
  document.body.dataset.phase = phase;
  const screen = SCREEN_OF[phase];
  for (const el of document.querySelectorAll('[data-screen]')) el.hidden = el.dataset.screen !== screen;
  const banner = $('connection-banner');
  if (phase === 'connecting' || phase === 'reconnecting') {
    banner.textContent = t(phase);
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  note('phase', { phase });
}

function showEnd(phase, heading, message) {
  state.end_message = message;
  $('end-heading').textContent = heading;
  $('end-message').textContent = message;
  setPhase(phase);
}

/** The user-facing text of an error code. */
function messageFor(code, extra = {}) {
  const key = `err_${code}`;
  return has(key) ? t(key, extra) : t('err_signalling', { code });
}

let terminal = false; // done / hung up / ended / fatal: no more reconnecting

function fatal(code, detail = '', extra = {}) {
  if (terminal && state.phase === 'error') return;
  terminal = true;
  const message = messageFor(code, extra);
  state.error = { code, message, detail };
  recordError(code, detail || message, true);
  console.warn(`facereview: ${code}${detail ? `: ${detail}` : ''}`);
  if (code === 'consent_required' || code === 'unauthorized') sessionStorage.removeItem(KEY_NAME);
  teardown();
  $('error-message').textContent = message;
  $('retry').hidden = !RETRYABLE.has(code);
  setPhase('error');
}

// ---------------------------------------------------------------------------------------------------------------
// join info and consent

let joinInfo = null;
let resumeKey = null;

/** Map an HTTP failure of the applicant endpoints to an error code of this page. */
function codeOf(status, serverCode) {
  if (serverCode && has(`err_${serverCode}`)) return serverCode;
  switch (status) {
    case 401: return 'unauthorized';
    case 403: return 'consent_required';
    case 404: return 'unknown_token';
    case 409: return 'already_live';
    case 410: return 'expired';
    case 503: return 'at_capacity';
    default: return status >= 500 ? 'server' : `http_${status}`;
  }
}

async function loadJoinInfo() {
  let res;
  try {
    res = await fetch(`/api/join/${encodeURIComponent(TOKEN)}`, { cache: 'no-store' });
  } catch (e) {
    return fatal('network', String(e));
  }
  if (!res.ok) {
    const { code, message } = await readError(res);
    return fatal(codeOf(res.status, code), `GET join ${res.status} ${code} ${message}`.trim());
  }
  joinInfo = await res.json();
  state.join_state = joinInfo.state ?? null;
  if (joinInfo.state === 'expired') return fatal('expired', 'join state expired');
  if (['analysing', 'verdict', 'failed', 'ended', 'done'].includes(joinInfo.state)) return fatal('finished', `join state ${joinInfo.state}`);
  state.business_name = joinInfo.business_name ?? null;
  note('join_info', { state: joinInfo.state });
  if (state.business_name) $('business-name').textContent = t('for_business', { business: state.business_name });

  resumeKey = sessionStorage.getItem(KEY_NAME);
  if (resumeKey) {
    // consented earlier in this tab (reload): rejoin with the same resume key
    state.consent = 'resumed';
    note('resume');
    return start();
  }
  showConsent();
}

function showConsent() {
  const consent = joinInfo.consent || {};
  const list = $('consent-recorded');
  list.textContent = '';
  const recorded = Array.isArray(consent.recorded) && consent.recorded.length
    ? consent.recorded : ['video', 'audio', 'location', 'device'];
  for (const item of recorded) {
    const li = document.createElement('li');
    li.textContent = has(`rec_${item}`) ? t(`rec_${item}`) : String(item);
    list.append(li);
  }
  const days = Number(consent.retention_days);
  $('consent-retention').textContent = Number.isFinite(days) && days > 0
    ? t('consent_keep_text', { days }) : t('consent_keep_unknown');
  if (consent.text) {
    const d = $('consent-lender-text');
    d.querySelector('p').textContent = consent.text;
    d.hidden = false;
  }
  setPhase('consent');
  $('consent-agree').addEventListener('click', onAgree, { once: true });
  $('consent-decline').addEventListener('click', onDecline, { once: true });
}

async function onAgree() {
  $('consent-agree').disabled = true;
  $('consent-decline').disabled = true;
  let res;
  try {
    res = await fetch(`/api/join/${encodeURIComponent(TOKEN)}/consent`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accepted: true }),
      cache: 'no-store',
    });
  } catch (e) {
    return fatal('network', String(e));
  }
  if (!res.ok) {
    const { code, message } = await readError(res);
    const c = res.status === 409 ? 'already_joined' : codeOf(res.status, code);
    return fatal(c, `consent ${res.status} ${code} ${message}`.trim());
  }
  const body = await res.json();
  if (!body.resume_key) return fatal('server', 'consent: no resume_key');
  resumeKey = body.resume_key;
  sessionStorage.setItem(KEY_NAME, resumeKey);
  state.consent = 'accepted';
  note('consent', { accepted: true });
  start();
}

function onDecline() {
  state.consent = 'declined';
  terminal = true;
  note('consent', { accepted: false });
  setPhase('declined');
}

// ---------------------------------------------------------------------------------------------------------------
// location

let pendingLocation = null; // the first fix or location_unavailable, sent when the control channel opens
let watchId = null;
let lastSentFix = null;

function fixMessage(pos) {
  const c = pos.coords;
  return {
    type: 'location',
    lat: c.latitude,
    lon: c.longitude,
    accuracy_m: Number.isFinite(c.accuracy) ? Math.round(c.accuracy * 10) / 10 : null,
    source: 'browser', // the W3C API does not say whether GPS, Wi-Fi or cell towers gave the fix
    coord_system: 'wgs84', // the W3C geolocation API reports WGS84
  };
}

function showLocationNote() {
  const el = $('location-note');
  if (state.location) el.textContent = t('location_ok_note');
  else if (state.location_unavailable) el.textContent = t('location_unavailable_note');
  el.hidden = !state.location && !state.location_unavailable;
}

function getFirstLocation() {
  $('setup-status').textContent = t('setup_location');
  $('setup-help').textContent = t('setup_location_help');
  const unavailable = (reason, detail) => {
    state.location_unavailable = reason;
    pendingLocation = { type: 'location_unavailable', reason };
    note('location_unavailable', { reason, detail });
    showLocationNote();
  };
  if (!('geolocation' in navigator)) {
    unavailable('unsupported', 'no navigator.geolocation');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (fn) => {
      if (settled) return;
      settled = true;
      clearTimeout(cap);
      fn();
      resolve();
    };
    const cap = setTimeout(() => finish(() => unavailable('timeout', 'no answer')), LOCATION_CAP_MS);
    try {
      navigator.geolocation.getCurrentPosition(
        (pos) => finish(() => {
          const msg = fixMessage(pos);
          state.location = msg;
          pendingLocation = msg;
          note('location', { accuracy_m: msg.accuracy_m });
          showLocationNote();
        }),
        (err) => finish(() => unavailable(err.code === 1 ? 'denied' : 'timeout', `${err.code} ${err.message}`)),
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
      );
    } catch (e) {
      finish(() => unavailable('unsupported', String(e)));
    }
  });
}

function distanceM(a, b) {
  const r = 6371000, rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

/** While live: send a new fix when it moved ≥ 25 m, got much more accurate, or every 60 s. */
function startWatchingLocation() {
  if (watchId !== null || !('geolocation' in navigator)) return;
  if (state.location_unavailable === 'denied' || state.location_unavailable === 'unsupported') return;
  try {
    watchId = navigator.geolocation.watchPosition(
      (pos) => {
        const msg = fixMessage(pos);
        const last = lastSentFix;
        const due = !last || distanceM(last.msg, msg) >= 25 || Date.now() - last.at >= 60000
          || (msg.accuracy_m != null && last.msg.accuracy_m != null && msg.accuracy_m < last.msg.accuracy_m * 0.7);
        if (!due) return;
        state.location = msg;
        showLocationNote();
        send(msg);
      },
      (err) => note('location_watch_error', { code: err.code }),
      { enableHighAccuracy: true, maximumAge: 10000 },
    );
  } catch (e) {
    note('location_watch_error', { detail: String(e) });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// camera and microphone

let stream = null;

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 }, facingMode: 'user' };
const AUDIO = { echoCancellation: true, noiseSuppression: true };

function mediaErrorCode(e) {
  switch (e && e.name) {
    case 'NotAllowedError': case 'SecurityError': case 'PermissionDeniedError': return 'camera_denied';
    case 'NotFoundError': case 'DevicesNotFoundError': case 'OverconstrainedError': return 'no_camera';
    case 'NotReadableError': case 'TrackStartError': case 'AbortError': return 'camera_in_use';
    default: return 'camera_failed';
  }
}

async function openCamera() {
  $('setup-status').textContent = t('setup_camera');
  $('setup-help').textContent = t('setup_camera_help');
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== 'function') {
    fatal('media_unsupported', `no mediaDevices (secure context: ${window.isSecureContext})`);
    return null;
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ video: VIDEO, audio: AUDIO });
  } catch (e) {
    note('getusermedia_failed', { name: e.name, message: e.message });
    if (e.name === 'NotFoundError' || e.name === 'OverconstrainedError') {
      // perhaps only the microphone is missing: go on with video alone (the server reports the voice missing)
      try {
        const s = await navigator.mediaDevices.getUserMedia({ video: VIDEO });
        const n = $('media-note');
        n.textContent = t('no_mic_note');
        n.hidden = false;
        note('no_microphone');
        return s;
      } catch (e2) {
        fatal(mediaErrorCode(e2), `${e2.name}: ${e2.message}`);
        return null;
      }
    }
    fatal(mediaErrorCode(e), `${e.name}: ${e.message}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// media connection (WHIP) and control channel (WebSocket)

let session = null; // {pc, videoTransceiver, audioTransceiver, location}
let bytesBefore = 0; // bytes sent by earlier connections
let framesBefore = 0; // frames sent by earlier connections
let ws = null;
let recovering = false;
let disconnectTimer = null;
const outbox = [];

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(msg));
    note('sent', { type: msg.type });
  } else {
    outbox.push(msg);
  }
}

function helloMessage() {
  return {
    type: 'hello',
    device: {
      hardware_concurrency: navigator.hardwareConcurrency ?? null,
      device_memory: navigator.deviceMemory ?? null,
      user_agent: navigator.userAgent,
      screen: [window.screen.width, window.screen.height],
    },
  };
}

/** Read the current connection's outbound stats into `state`; resolves them (null when there is no connection). */
async function pollStats() {
  const pc = session && session.pc;
  if (!pc || pc.signalingState === 'closed') return null;
  try {
    const s = await outboundStats(pc);
    if (!session || session.pc !== pc) return null;
    session.lastBytes = s.bytes_sent;
    state.bytes_sent = bytesBefore + s.bytes_sent;
    if (s.codec) state.codec = s.codec;
    if (s.audio_codec) state.audio_codec = s.audio_codec;
    state.frames_sent = framesBefore + s.frames_sent;
    if (s.frame_width) state.frame_size = [s.frame_width, s.frame_height];
    return s;
  } catch (e) {
    note('stats_failed', { detail: String(e) });
    return null;
  }
}

/** Every 2 s: stats into `state` and, while connected, `sender_stats` to the server (never queued: stale is useless). */
async function statsTick() {
  tallyPaused();
  const s = await pollStats();
  if (!s || terminal || !session || session.pc.connectionState !== 'connected') return;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const msg = senderStatsMessage(s, state.bytes_sent);
  state.sender_stats = msg;
  ws.send(JSON.stringify(msg));
}
setInterval(statsTick, 2000);

async function closeMedia() {
  if (!session) return;
  await pollStats();
  bytesBefore += session.lastBytes || 0;
  framesBefore = state.frames_sent;
  try { session.pc.close(); } catch { /* closed */ }
  session = null;
  state.pc_state = 'closed';
}

function onPcState(pc) {
  if (!session || session.pc !== pc) return; // an old connection
  const s = pc.connectionState;
  state.pc_state = s;
  note('pc_state', { state: s });
  clearTimeout(disconnectTimer);
  if (busy) return; // establish() is watching this connection itself
  if (s === 'connected') {
    pollStats();
    // it came back by itself within the wait below
    if (state.phase === 'reconnecting' && !recovering && ws && ws.readyState === WebSocket.OPEN) setPhase('live');
  } else if (s === 'disconnected') {
    // often recovers by itself: show it, but wait a little before re-joining
    if (state.phase === 'live') setPhase('reconnecting');
    disconnectTimer = setTimeout(() => {
      if (session && session.pc === pc && pc.connectionState !== 'connected') recover('pc_disconnected');
    }, 3000);
  } else if (s === 'failed') {
    recover('pc_failed');
  }
}

async function connectMedia() {
  if (!window.RTCPeerConnection) throw Object.assign(new Error('no RTCPeerConnection'), { code: 'webrtc_unsupported' });
  const iceServers = joinInfo && (joinInfo.ice_servers || joinInfo.iceServers);
  const r = await publish({
    stream,
    whipUrl: `/whip/${encodeURIComponent(TOKEN)}`,
    resumeKey,
    iceServers: Array.isArray(iceServers) ? iceServers : [],
    codec: CODEC,
    signal: timeoutSignal(10000),
    onCodecError: (e) => recordError('codec_unavailable', String(e.message || e), false),
  });
  session = { ...r, lastBytes: 0 };
  note('whip', { location: !!r.location, gathering_complete: r.gatheringComplete }); // (no token in the log)
  r.pc.addEventListener('connectionstatechange', () => onPcState(r.pc));
  state.pc_state = r.pc.connectionState;
  if (state.adapt) scheduleAdapt(state.adapt); // a new peer connection starts with default parameters
}

/** Open the control channel unless open; resolves when open, rejects on failure or after timeoutMs. */
function ensureControl(timeoutMs = 8000) {
  if (ws && ws.readyState === WebSocket.OPEN) return Promise.resolve();
  if (ws) {
    try { ws.close(); } catch { /* closing */ }
    ws = null;
  }
  return new Promise((resolve, reject) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(`${proto}//${location.host}/ws/${encodeURIComponent(TOKEN)}?key=${encodeURIComponent(resumeKey)}`);
    ws = sock;
    let opened = false;
    const timer = setTimeout(() => {
      if (!opened) {
        try { sock.close(); } catch { /* closing */ }
        reject(Object.assign(new Error('control channel timeout'), { code: 'ws' }));
      }
    }, timeoutMs);
    sock.addEventListener('open', () => {
      opened = true;
      clearTimeout(timer);
      state.ws_open = true;
      note('ws_open');
      sock.send(JSON.stringify(helloMessage()));
      note('sent', { type: 'hello' });
      if (pendingLocation) {
        outbox.unshift(pendingLocation);
        pendingLocation = null;
        if (state.location) lastSentFix = { msg: state.location, at: Date.now() };
      }
      while (outbox.length && sock.readyState === WebSocket.OPEN) {
        const m = outbox.shift();
        sock.send(JSON.stringify(m));
        note('sent', { type: m.type });
      }
      resolve();
    });
    sock.addEventListener('message', (ev) => onControl(ev.data));
    sock.addEventListener('close', (ev) => {
      clearTimeout(timer);
      if (ws === sock) state.ws_open = false;
      note('ws_close', { code: ev.code, opened });
      if (!opened) {
        reject(Object.assign(new Error(`control channel refused (${ev.code})`), { code: 'ws' }));
        return;
      }
      if (ws === sock && !terminal && (state.phase === 'live' || state.phase === 'reconnecting')) recover('ws_closed');
    });
  });
}

function waitConnected(pc, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const s = pc.connectionState;
      if (s === 'connected') { done(); resolve(); }
      else if (s === 'failed' || s === 'closed') { done(); reject(Object.assign(new Error(`ICE ${s}`), { code: 'ice' })); }
    };
    const timer = setTimeout(() => { done(); reject(Object.assign(new Error('ICE timeout'), { code: 'ice' })); }, timeoutMs);
    const done = () => { clearTimeout(timer); pc.removeEventListener('connectionstatechange', check); };
    pc.addEventListener('connectionstatechange', check);
    check();
  });
}

/** {code, retry} for an error thrown while (re)connecting. */
function classify(e) {
  if (e instanceof WhipError) {
    const code = codeOf(e.status, e.code);
    const retry = e.status === 409 || e.status === 503 || e.status >= 500;
    return { code, retry, detail: `WHIP ${e.status} ${e.code} ${e.message}`.trim() };
  }
  if (e && e.code === 'webrtc_unsupported') return { code: 'webrtc_unsupported', retry: false, detail: e.message };
  if (e && (e.code === 'ws' || e.code === 'ice')) return { code: 'connection_lost', retry: true, detail: e.message };
  return { code: 'network', retry: true, detail: String(e && e.message ? e.message : e) };
}

/** When the control channel fails, ask the join endpoint whether the session is still open. */
async function probeSession() {
  try {
    const res = await fetch(`/api/join/${encodeURIComponent(TOKEN)}`, { cache: 'no-store', signal: timeoutSignal(4000) });
    if (res.status === 404 || res.status === 410) {
      const { code } = await readError(res);
      return codeOf(res.status, code);
    }
  } catch { /* network still down */ }
  return null;
}

/**
 * Connect (initial) or re-join (after a loss): a new peer connection + WHIP POST with the same token and resume key
 * when the old one is unusable, and the control channel when closed. Back-off 1, 2, 4 s; gives up after 30 s.
 */
let busy = false; // establish() is running

async function establish(initial, deadline = Date.now() + GRACE_MS) {
  busy = true;
  try {
    return await establishLoop(initial, deadline);
  } finally {
    busy = false;
  }
}

async function establishLoop(initial, deadline) {
  let attempt = 0;
  while (!terminal) {
    if (Date.now() >= deadline) {
      fatal('connection_lost', 'gave up reconnecting');
      return false;
    }
    if (!initial || attempt > 0) await sleep(BACKOFF_MS[Math.min(initial ? attempt - 1 : attempt, BACKOFF_MS.length - 1)]);
    if (terminal) return false;
    attempt++;
    try {
      const usable = session && ['new', 'connecting', 'connected'].includes(session.pc.connectionState);
      if (!usable) {
        await closeMedia();
        await connectMedia();
      }
      await ensureControl();
      await waitConnected(session.pc, CONNECT_TIMEOUT_MS);
      return true;
    } catch (e) {
      const f = classify(e);
      note('connect_failed', { attempt, code: f.code, detail: f.detail });
      if (terminal) return false;
      if (!f.retry) { fatal(f.code, f.detail); return false; }
      if (e && e.code === 'ice' && session) await closeMedia(); // never connected: start over with a new peer
      if (e && e.code === 'ws') {
        const gone = await probeSession();
        if (gone) { fatal(gone, 'session closed while reconnecting'); return false; }
      }
      if (Date.now() >= deadline) {
        fatal(initial && f.code !== 'connection_lost' ? f.code : 'connection_lost', f.detail);
        return false;
      }
    }
  }
  return false;
}

let recoverDeadline = 0;
let recoveredAt = 0;

async function recover(why) {
  if (recovering || busy || terminal) return;
  recovering = true;
  state.reconnects += 1;
  note('reconnect', { why });
  setPhase('reconnecting');
  // a connection that keeps dropping right after each recovery does not get a fresh 30 s every time
  const now = Date.now();
  if (now - recoveredAt > 10000) recoverDeadline = now + GRACE_MS;
  if (why === 'ws_closed') {
    const gone = await probeSession();
    if (gone) {
      recovering = false;
      fatal(gone, 'session closed');
      return;
    }
  }
  const ok = await establish(false, recoverDeadline);
  recovering = false;
  recoveredAt = Date.now();
  if (ok && !terminal) goLive();
}

/** Both channels are up: live. One may have dropped again while establish() was busy: recover it. */
function goLive() {
  setPhase('live');
  if (!ws || ws.readyState !== WebSocket.OPEN) recover('ws_closed');
  else if (session && session.pc.connectionState !== 'connected') recover('pc_not_connected');
}

// ---------------------------------------------------------------------------------------------------------------
// control messages

let challengeTimer = null;
let hintTimer = null;

function onControl(data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    note('control_bad_json');
    return;
  }
  note('recv', { type: msg.type });
  switch (msg.type) {
    case 'state': return onState(msg);
    case 'prompt': return onPrompt(msg);
    case 'challenge': return onChallenge(msg);
    case 'progress': return onProgress(msg);
    case 'hint': return showHint(msg.text);
    case 'adapt': return onAdapt(msg);
    case 'done': return finish('done', msg.message);
    case 'error': return onServerError(msg);
    default: note('control_unknown', { type: msg.type });
  }
}

function onState(msg) {
  state.server_state = msg.state;
  if (msg.state === 'done' || msg.state === 'analysing') {
    finish('done', msg.message);
  } else if (msg.state === 'ended') {
    finish('ended', msg.message);
  }
}

function onPrompt(msg) {
  const p = { id: msg.id, text: msg.text, index: msg.index, total: msg.total };
  state.prompt = p;
  state.prompts.push(p);
  $('prompt-index').textContent = Number.isFinite(msg.index) && Number.isFinite(msg.total)
    ? t('question_of', { index: msg.index, total: msg.total }) : '';
  $('prompt-text').textContent = msg.text || '';
}

function challengeText(msg) {
  const key = `ch_${msg.kind}`;
  if (getLang() !== 'en' && has(key)) return t(key); // the server's text is English
  return msg.text || (has(key) ? t(key) : String(msg.kind || ''));
}

function onChallenge(msg) {
  const c = { id: msg.id, kind: msg.kind, digits: msg.digits ?? null, text: msg.text ?? null,
    deadline_ms: msg.deadline_ms, shown: false };
  state.challenge = c;
  state.challenges.push(c);
  $('challenge-text').textContent = challengeText(msg);
  const digits = $('challenge-digits');
  digits.textContent = msg.kind === 'read_digits' && msg.digits ? String(msg.digits) : '';
  digits.hidden = !digits.textContent;
  const box = $('challenge');
  box.hidden = false;
  const end = performance.now() + (Number(msg.deadline_ms) || 0);
  const tick = () => {
    const left = Math.max(0, end - performance.now());
    $('challenge-countdown').textContent = t('seconds_left', { s: Math.ceil(left / 1000) });
    if (left <= 0) {
      clearInterval(challengeTimer);
      challengeTimer = setTimeout(() => { if (state.challenge === c) box.hidden = true; }, 600);
    }
  };
  clearInterval(challengeTimer);
  clearTimeout(challengeTimer);
  tick();
  challengeTimer = setInterval(tick, 100);
  // tell the server once it is on screen (after the next paint)
  requestAnimationFrame(() => requestAnimationFrame(() => {
    c.shown = true;
    send({ type: 'challenge_shown', id: msg.id });
  }));
}

function onProgress(msg) {
  state.progress = { elapsed_s: msg.elapsed_s, total_s: msg.total_s };
  const pct = msg.total_s > 0 ? Math.max(0, Math.min(100, (100 * msg.elapsed_s) / msg.total_s)) : 0;
  const bar = $('progress');
  bar.querySelector('.progress-fill').style.width = `${pct}%`;
  bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  if (typeof msg.face_visible === 'boolean') {
    state.face_visible = msg.face_visible;
    const chip = $('face-indicator');
    chip.textContent = t(msg.face_visible ? 'face_visible' : 'face_not_visible');
    chip.classList.toggle('ok', msg.face_visible);
    chip.classList.toggle('bad', !msg.face_visible);
    chip.hidden = false;
  }
}

function showHint(text, ms = 6000) {
  if (!text) return;
  state.hint = text;
  const el = $('hint');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(hintTimer);
  hintTimer = setTimeout(() => { el.hidden = true; }, ms);
}

function onServerError(msg) {
  const code = String(msg.code || 'server');
  recordError(code, String(msg.message || ''), false);
  if (code === 'expired' || code === 'finished') return fatal(code, msg.message || '');
  showHint(msg.message || messageFor(code), 8000);
}

// ---------------------------------------------------------------------------------------------------------------
// bitrate adaptation (`adapt`), audio-only mode and still snapshots

let adaptSeq = -1; // the newest seq accepted
let adaptNext = null; // the message to apply next (only the newest waits)
let adaptRunning = false;

function onAdapt(msg) {
  if (!Number.isSafeInteger(msg.seq) || msg.seq < 0 || !msg.video || typeof msg.video !== 'object') {
    note('adapt_bad', { seq: msg.seq });
    return;
  }
  if (msg.seq <= adaptSeq) {
    note('adapt_stale', { seq: msg.seq, newest: adaptSeq });
    return;
  }
  adaptSeq = msg.seq;
  state.adapt = msg;
  note('adapt', { seq: msg.seq, reason: String(msg.reason ?? '').slice(0, 120) });
  scheduleAdapt(msg);
}

/** Apply `msg` after the one being applied (if any); a newer message replaces one still waiting. */
function scheduleAdapt(msg) {
  adaptNext = msg;
  if (adaptRunning) return;
  adaptRunning = true;
  (async () => {
    try {
      while (adaptNext && !terminal) {
        const m = adaptNext;
        adaptNext = null;
        await applyAdaptNow(m);
      }
    } finally {
      adaptRunning = false;
    }
  })().catch((e) => note('adapt_failed', { detail: String(e) }));
}

async function applyAdaptNow(msg) {
  const s = session;
  if (!s) return; // no connection now: connectMedia() applies state.adapt to the next one
  const r = await applyAdapt(s.videoTransceiver?.sender ?? null, s.audioTransceiver?.sender ?? null, msg);
  if (terminal) return;
  // audio-only mode follows the server's request (snapshots stop before the acknowledgement goes out)
  setVideoPaused(msg.video.active === false);
  if (msg.video.active === false && msg.snapshots) startSnapshots(msg.snapshots);
  else stopSnapshots();
  const applied = { seq: msg.seq, video: r.video, audio: r.audio, error: r.error };
  state.adapt_applied = applied;
  state.adapt_applied_count += 1;
  note('adapt_applied', { seq: msg.seq, error: r.error });
  if (r.error) console.warn(`facereview: adapt ${msg.seq}: ${r.error}`);
  send({ type: 'adapt_applied', ...applied });
}

let pausedSince = null; // performance.now() when video was paused (null: not paused, or the call ended)
let pausedMs = 0; // earlier pauses

/** Bring state.video_paused_s up to date (0.1 s steps). */
function tallyPaused() {
  if (pausedSince === null) return;
  const now = performance.now();
  pausedMs += now - pausedSince;
  pausedSince = now;
  state.video_paused_s = Math.round(pausedMs / 100) / 10;
}

function setVideoPaused(paused) {
  tallyPaused();
  if (paused === state.video_paused) return;
  state.video_paused = paused;
  pausedSince = paused ? performance.now() : null;
  note('video_paused', { paused });
  pausedNote().hidden = !paused;
}

/** The notice shown while video is paused (made on first use: a note under the prompt). */
function pausedNote() {
  let el = $('video-paused');
  if (!el) {
    el = document.createElement('p');
    el.className = 'note';
    el.dataset.testid = 'video-paused';
    el.dataset.i18n = 'video_paused';
    el.setAttribute('role', 'status');
    el.textContent = t('video_paused');
    el.hidden = true;
    $('media-note').after(el);
  }
  return el;
}

const SNAPSHOT_MAX_B64 = 54000; // the server refuses larger snapshots
const SNAPSHOT_MAX_BUFFERED = 64 * 1024; // skip a snapshot while the control channel is still sending earlier data

let snapshot = null; // {settings, timer, gen}
let snapshotGen = 0;

/** Send a still of the camera now and every `interval_ms` (restarts with new settings). */
function startSnapshots(cfg) {
  const settings = {
    interval_ms: Math.max(250, Number(cfg.interval_ms) || 2000),
    width: Math.min(640, Math.max(16, Math.round(Number(cfg.width) || 160))),
    height: Math.min(640, Math.max(16, Math.round(Number(cfg.height) || 120))),
    quality: Math.min(1, Math.max(0.05, Number(cfg.quality) || 0.6)),
  };
  if (snapshot && JSON.stringify(snapshot.settings) === JSON.stringify(settings)) return;
  stopSnapshots();
  const gen = ++snapshotGen;
  snapshot = { settings, timer: null, gen };
  const loop = async () => {
    if (!snapshot || snapshot.gen !== gen || terminal) return;
    try {
      await takeSnapshot(settings, gen);
    } catch (e) {
      note('snapshot_failed', { detail: String(e && e.message ? e.message : e) });
    }
    if (snapshot && snapshot.gen === gen) snapshot.timer = setTimeout(loop, settings.interval_ms);
  };
  loop();
}

function stopSnapshots() {
  if (!snapshot) return;
  clearTimeout(snapshot.timer);
  snapshot = null;
  snapshotGen += 1;
}

let snapshotCanvas = null;

function encodeJpeg(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) return reject(new Error('toBlob gave nothing'));
      const fr = new FileReader();
      fr.onload = () => resolve(String(fr.result).slice(String(fr.result).indexOf(',') + 1));
      fr.onerror = () => reject(fr.error);
      fr.readAsDataURL(blob);
    }, 'image/jpeg', quality);
  });
}

async function takeSnapshot({ width, height, quality }, gen) {
  const video = $('preview');
  if (!video || video.readyState < 2 || !video.videoWidth) {
    state.snapshots_skipped += 1;
    note('snapshot_skipped', { why: 'no frame' });
    return;
  }
  if (!ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > SNAPSHOT_MAX_BUFFERED) {
    state.snapshots_skipped += 1;
    note('snapshot_skipped', { why: 'control channel busy or closed' });
    return;
  }
  snapshotCanvas ??= document.createElement('canvas');
  const canvas = snapshotCanvas;
  canvas.width = width;
  canvas.height = height;
  // cover: scale the camera frame to fill width x height, cropping the centre (not mirrored: as the camera sees)
  const vw = video.videoWidth, vh = video.videoHeight;
  const scale = Math.max(width / vw, height / vh);
  const sw = width / scale, sh = height / scale;
  canvas.getContext('2d').drawImage(video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, width, height);
  let b64 = await encodeJpeg(canvas, quality);
  if (b64.length > SNAPSHOT_MAX_B64) b64 = await encodeJpeg(canvas, quality / 2);
  if (!snapshot || snapshot.gen !== gen || terminal) return; // stopped meanwhile
  if (b64.length > SNAPSHOT_MAX_B64) {
    state.snapshots_skipped += 1;
    note('snapshot_skipped', { why: 'too large', chars: b64.length });
    return;
  }
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  state.snapshots_sent += 1;
  ws.send(JSON.stringify({ type: 'snapshot', seq: state.snapshots_sent, width, height, jpeg_b64: b64 }));
}

// ---------------------------------------------------------------------------------------------------------------
// ending

function teardown() {
  clearTimeout(disconnectTimer);
  stopSnapshots();
  tallyPaused();
  pausedSince = null;
  clearInterval(challengeTimer);
  clearTimeout(challengeTimer);
  if (watchId !== null) {
    try { navigator.geolocation.clearWatch(watchId); } catch { /* gone */ }
    watchId = null;
  }
  if (stream) for (const tr of stream.getTracks()) tr.stop();
  if (session) {
    try { session.pc.close(); } catch { /* closed */ }
  }
  if (ws) {
    try { ws.close(1000); } catch { /* closing */ }
  }
  state.ws_open = false;
}

let finishing = false;

/** End the call: 'done' (script ended), 'hungup' (the applicant), 'ended' (the server ended the session). */
async function finish(kind, serverMessage) {
  if (finishing) return;
  finishing = true;
  terminal = true;
  stopSnapshots();
  note('finish', { kind });
  await pollStats();
  const loc = session && session.location;
  if (kind === 'hungup' && ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: 'hangup' }));
    note('sent', { type: 'hangup' });
  }
  if (kind !== 'ended' && loc) {
    const status = await unpublish(loc, resumeKey);
    note('whip_delete', { status });
  }
  teardown();
  const localized = getLang() === 'en' && serverMessage ? serverMessage : null;
  if (kind === 'done') showEnd('done', t('done_heading'), localized || t('done_text'));
  else if (kind === 'hungup') showEnd('hungup', t('hungup_heading'), t('hungup_text'));
  else showEnd('ended', t('hungup_heading'), localized || t('ended_text'));
}

function setupHangup() {
  const dialog = $('hangup-dialog');
  $('hangup').addEventListener('click', () => { dialog.hidden = false; $('hangup-cancel').focus(); });
  $('hangup-cancel').addEventListener('click', () => { dialog.hidden = true; });
  $('hangup-confirm').addEventListener('click', () => {
    dialog.hidden = true;
    finish('hungup');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// flow

async function start() {
  setPhase('setup');
  await getFirstLocation();
  if (terminal) return;
  stream = await openCamera();
  if (!stream || terminal) return;
  const [v] = stream.getVideoTracks();
  const settings = v ? v.getSettings() : {};
  state.media = { video: !!v, audio: stream.getAudioTracks().length > 0, width: settings.width ?? null,
    height: settings.height ?? null, frame_rate: settings.frameRate ?? null };
  note('media', state.media);
  const video = $('preview');
  video.srcObject = stream;
  video.play().catch(() => { /* autoplay of a muted preview is allowed; ignore */ });
  setPhase('connecting');
  showLocationNote();
  const ok = await establish(true);
  if (ok && !terminal) {
    startWatchingLocation();
    goLive();
  }
}

function main() {
  state.lang = pickLang();
  setLang(state.lang);
  applyI18n();
  setupHangup();
  $('retry').addEventListener('click', () => location.reload());
  window.addEventListener('error', (e) => recordError('script', String(e.message || e), false));
  window.addEventListener('unhandledrejection', (e) => recordError('script', String(e.reason && e.reason.message || e.reason), false));
  if (!TOKEN) return fatal('bad_link');
  if (CODEC) note('codec_requested', { codec: CODEC });
  loadJoinInfo();
}

main();
