// A stand-in for the console side of `facereview serve` (docs/console.md), for the page tests of web/console/:
// cookie logins with CSRF tokens, role permissions, page gating (302 to the login page, 403 HTML), the queue with
// filters/sort/SLA, a fixture session with real recorded media, Range requests on the recording, evidence frames,
// decisions, assignment, the audit log and accounts. It serves the real files of web/console/ under
// /console/static/ with the server's security headers (CSP included), so a CSP violation shows in the browser.
//
// The fixture session's recording is two real WebM (VP8 + Opus) streams from testdata/streams/ (built by
// testdata/build_streams.sh), as a call that re-joined once: part 0 = live_two_speakers.webm at 0 s, part 1 =
// face_missing.webm at 30.5 s on the media clock. Evidence frames are real frames of those streams, extracted once
// per second with gst-launch-1.0 at start-up (without GStreamer: testdata/media/obama.jpg stands in). The timelines
// are synthetic but shaped like the media: the speech turns of testdata/media/sample.rttm, no face after 36.5 s,
// a quality dip at 24-28 s.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile, stat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, normalize, extname, sep } from 'node:path';
import { REPO } from './browser.mjs';

const WEB = join(REPO, 'web', 'console');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:",
};

export const PASSWORD = 'correct horse battery staple';
export const USERS = [
  { username: 'rita', display_name: 'Rita Reviewer', role: 'reviewer' },
  { username: 'ron', display_name: 'Ron Reviewer', role: 'reviewer' },
  { username: 'sam', display_name: 'Sam Supervisor', role: 'supervisor' },
  { username: 'quinn', display_name: 'Quinn QA', role: 'qa' },
  { username: 'ada', display_name: 'Ada Admin', role: 'admin' },
];
export const PERMISSIONS = {
  reviewer: ['queue.view', 'session.view', 'recording.view', 'decide'],
  supervisor: ['queue.view', 'session.view', 'recording.view', 'decide', 'decide.escalated', 'assign', 'export', 'audit.view'],
  qa: ['queue.view', 'session.view', 'recording.view'],
  admin: ['audit.view', 'users.manage'],
};

export const FIXTURE_ID = 's_5e55104a11ce';
export const EMPTY_ID = 's_5e55106f4110';
export const RECORDINGS = [
  { file: join(REPO, 'testdata', 'streams', 'live_two_speakers.webm'), offset_ns: 0, duration_s: 30.0 },
  { file: join(REPO, 'testdata', 'streams', 'face_missing.webm'), offset_ns: 30_500_000_000, duration_s: 30.0 },
];
export const DURATION_S = 60.5;
/** Where the declared place is and the far fix (metres apart, by haversine on the 6 371 008.8 m sphere). */
export const DECLARED = {
  name: 'Isabella Cafe', address: 'Helsinki city centre, by the railway station', category: 'restaurant_cafe_food',
  lat: 60.171848, lon: 24.940692, coord_system: 'wgs84',
};
export const FIXES = [
  { t: 1_000_000_000, lat: 60.17193, lon: 24.94085, accuracy_m: 14.0, source: 'browser', coord_system: 'wgs84' },
  { t: 12_000_000_000, lat: 60.171905, lon: 24.94079, accuracy_m: 9.5, source: 'browser', coord_system: 'wgs84' },
  { t: 36_000_000_000, lat: 60.2055, lon: 24.6559, accuracy_m: 11.0, source: 'browser', coord_system: 'wgs84' },
];

/** Whether the media the fixture needs is there (testdata/build_streams.sh). */
export function fixtureMediaPresent() {
  return RECORDINGS.every((r) => existsSync(r.file));
}

export function haversineM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const h = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371008.8 * Math.atan2(Math.sqrt(h), Math.sqrt(1 - h));
}

const S = 1e9;
const ns = (s) => Math.round(s * S);

/** Speaker turns of testdata/media/sample.rttm (seconds): the audio of both recording parts. */
const TURNS = [
  ['a', 6.69, 7.12], ['b', 7.55, 8.35], ['a', 8.32, 10.02], ['b', 9.92, 11.03], ['a', 10.57, 14.7],
  ['b', 14.49, 17.92], ['a', 18.05, 21.49], ['b', 18.15, 18.59], ['b', 21.78, 28.5], ['a', 27.85, 30.0],
];

/** Synthetic timelines (docs/console.md "Timelines") shaped like the fixture's media, ≤ 2 points per second. */
export function fixtureTimelines() {
  const faces = [];
  const mesh = [];
  const expression = { labels: ['neutral', 'happy', 'sad', 'angry', 'surprise', 'fear', 'disgust'], points: [] };
  const spoof = [];
  const quality = [];
  const blinks = [4.5, 9.0, 13.5, 22.0, 27.0, 33.0];
  const speaking = (s) => TURNS.some(([, a, b]) => {
    const local = s >= 30.5 ? s - 30.5 : s;
    return local >= a && local <= b;
  });
  for (let i = 0; i * 0.5 <= DURATION_S + 1e-9; i++) {
    const s = i * 0.5;
    if (s > 30.0 && s < 30.5) continue; // between the parts: no media
    const t = ns(s);
    const n = s >= 36.5 ? 0 : 1;
    faces.push({ t, faces: n, size: n ? 0.31 + 0.02 * Math.sin(s) : 0 });
    if (n) {
      const blink = blinks.some((b) => Math.abs(s - b) < 0.3);
      mesh.push({
        t,
        eye_open: blink ? 0.06 : 0.28 + 0.02 * Math.sin(s * 1.7),
        mouth_open: speaking(s) ? 0.18 + 0.14 * Math.abs(Math.sin(s * 3.1)) : 0.04,
        yaw_deg: s >= 3 && s <= 6 ? -4 * Math.sin(((s - 3) / 3) * Math.PI) : 2 * Math.sin(s / 3),
        pitch_deg: 1.5 * Math.cos(s / 4),
      });
      const happy = s >= 20 && s <= 25 ? 0.55 : 0.08;
      const rest = (1 - happy - 0.04) / 1;
      expression.points.push({ t, probs: [rest * 0.92, happy, 0.02, 0.005, rest * 0.08, 0.005, 0.01] });
      spoof.push({ t, live_score: 0.9 });
    }
    if (Number.isInteger(s)) {
      const dip = s >= 24 && s <= 28;
      quality.push({ t, fps: dip ? 9.8 : 14.8, height: dip ? 240 : 360, kbps: dip ? 150 : 420 });
    }
  }
  const speech = [];
  const voice = [];
  for (const base of [0, 30.5]) {
    for (const [who, a, b] of TURNS) {
      speech.push({ start: ns(base + a), end: ns(base + b), prob: 0.9 });
      for (let x = a; x < b; x += 3) {
        voice.push({ start: ns(base + x), end: ns(base + Math.min(b, x + 3)), similarity: who === 'a' ? 0.74 : 0.31 });
      }
    }
  }
  speech.sort((p, q) => p.start - q.start);
  voice.sort((p, q) => p.start - q.start);
  return { schema: 'facereview.timelines/1', duration_ns: ns(DURATION_S), faces, mesh, expression, speech, voice, spoof, quality };
}

/** The fixture verdict: deliberately not sorted by severity (the page sorts). */
export function fixtureVerdict() {
  const ev = (a, b) => [{ range: { start: ns(a), end: ns(b) } }];
  return {
    decision: 'reject',
    risk_score: 2.35,
    policy_version: 'default-2025.1',
    reasons: [
      { code: 'voice.second_speaker', decision: 'review', check: 'voice',
        text: 'a second voice speaks for 8.6 s (similarity 0.31 to the rest of the call)', evidence: ev(7.55, 17.92) },
      { code: 'liveness.challenge', decision: 'reject', check: 'liveness',
        text: 'challenge c1 (turn left) not answered within 3.0 s: yaw moved 4° that way (needs 15°) — adds 0.36 to a risk score of 2.35',
        evidence: ev(3.0, 6.0) },
      { code: 'identity.consistency', decision: 'pass', check: 'identity', text: 'supports — one identity throughout (min similarity 0.82)', evidence: [] },
      { code: 'location.distance', decision: 'reject', check: 'location',
        text: 'the phone was 16.8 km from the declared business (accuracy 11 m)', evidence: ev(36.0, 36.0) },
      { code: 'coverage.face', decision: 'review', check: 'coverage',
        text: 'no face for 24.0 s (40% of the call)', evidence: ev(36.5, 60.5) },
      { code: 'liveness.challenge', decision: 'pass', check: 'liveness',
        text: 'supports — challenge c3 (read 4 digits) answered after 0.4 s: 3.1 s of speech, lips follow it with r = 0.41', evidence: ev(45.0, 49.0) },
      { code: 'liveness.blink', decision: 'pass', check: 'liveness', text: 'supports — 6 blinks in 36 s of face', evidence: ev(0, 36.0) },
    ],
  };
}

function fixtureInterview() {
  return {
    declared: DECLARED,
    locations: FIXES,
    questions: [
      { id: 'q1', text: 'What does your business sell?', asked_at: 0, until: ns(15) },
      { id: 'q2', text: 'How much do you want to borrow, and what for?', asked_at: ns(15), until: ns(35) },
      { id: 'q3', text: 'Please show us the shop counter.', asked_at: ns(35), until: ns(DURATION_S) },
    ],
    challenges: [
      { id: 'c1', kind: 'turn_left', issued_at: ns(3), deadline_ms: 3000 },
      { id: 'c2', kind: 'blink', issued_at: ns(20), deadline_ms: 3000, result: { passed: true, summary: 'blinked after 0.8 s' } },
      { id: 'c3', kind: 'read_digits', digits: '5382', issued_at: ns(45), deadline_ms: 4000 },
    ],
  };
}

/** The queue's sessions (ages relative to the mock's start). */
function fixtureSessions(now) {
  const H = 3600_000;
  const mk = (o) => ({ review_status: null, assignee: null, reasons: [], top_reason: null, state: 'verdict', ...o });
  const verdict = fixtureVerdict();
  return [
    mk({ id: FIXTURE_ID, applicant_ref: 'APP-2025-0042', business_name: 'Isabella Cafe', created_at_ms: now - 21 * H,
      verdict_at_ms: now - 20 * H, decision: 'reject', risk_score: 2.35,
      reasons: [...new Set(verdict.reasons.filter((r) => r.decision !== 'pass').map((r) => r.code))],
      top_reason: { code: 'liveness.challenge', text: verdict.reasons[1].text } }),
    mk({ id: 's_5e5510b0b0b1', applicant_ref: 'APP-2025-0043', business_name: 'Nordic Bikes Oy', created_at_ms: now - 3 * H,
      verdict_at_ms: now - 2 * H, decision: 'review', risk_score: 0.9, assignee: 'rita', reasons: ['voice.second_speaker'],
      top_reason: { code: 'voice.second_speaker', text: 'a second voice speaks for 4.2 s' } }),
    mk({ id: 's_5e5510c0c0c2', applicant_ref: 'APP-2025-0044', business_name: 'Kauppahalli Deli', created_at_ms: now - 31 * H,
      verdict_at_ms: now - 30 * H, decision: 'reject', risk_score: 3.1, reasons: ['liveness.rigid_motion', 'liveness.blink'],
      top_reason: { code: 'liveness.rigid_motion', text: 'photo or replay attack: the face moves as one rigid plane' } }),
    mk({ id: 's_5e5510d0d0d3', applicant_ref: 'APP-2025-0039', business_name: 'Harbour Tools', created_at_ms: now - 41 * H,
      verdict_at_ms: now - 40 * H, decision: 'review', risk_score: 1.2, review_status: 'escalated', assignee: 'sam',
      reasons: ['background.other_people'], top_reason: { code: 'background.other_people', text: 'another person is visible for 6 s' } }),
    mk({ id: 's_5e5510e0e0e4', applicant_ref: 'APP-2025-0031', business_name: 'Lakeside Bakery', created_at_ms: now - 50 * H,
      verdict_at_ms: now - 49 * H, decision: 'review', risk_score: 0.6, review_status: 'approved', assignee: 'ron',
      reasons: ['coverage.speech'], top_reason: { code: 'coverage.speech', text: 'little speech: 4 s in 40 s' } }),
    mk({ id: EMPTY_ID, applicant_ref: 'APP-2025-0045', business_name: 'Helsinki Print', created_at_ms: now - 1.5 * H,
      verdict_at_ms: now - 1 * H, decision: null, risk_score: null, state: 'failed', reasons: [],
      top_reason: { code: 'analysis.failed', text: 'the analysis failed' } }),
  ];
}

/** A minimal valid (empty) zip: the end-of-central-directory record. */
const EMPTY_ZIP = Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);

function run(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60000 }, (err) => resolve(!err));
  });
}

/** One JPEG per second of each recording part (gst-launch-1.0), as `[[file, …] per part]`; null without GStreamer. */
async function extractFrames(dir) {
  const out = [];
  for (let i = 0; i < RECORDINGS.length; i++) {
    const pattern = join(dir, `p${i}-%03d.jpg`);
    const ok = await run('gst-launch-1.0', ['-q', 'filesrc', `location=${RECORDINGS[i].file}`, '!', 'matroskademux', '!',
      'vp8dec', '!', 'videoconvert', '!', 'videorate', '!', 'video/x-raw,framerate=1/1', '!', 'jpegenc', 'quality=80', '!',
      'multifilesink', `location=${pattern}`]);
    if (!ok) return null;
    const files = (await readdir(dir)).filter((f) => f.startsWith(`p${i}-`)).sort().map((f) => join(dir, f));
    if (!files.length) return null;
    out.push(files);
  }
  return out;
}

/**
 * Starts the mock on 127.0.0.1 (random port). Returns {base, requests, audit, sessions, decisions, users, close}.
 * `requests`: every API request as {method, path, query, csrf, body, status, user}.
 */
export async function startConsoleMock({ slaHours = 24 } = {}) {
  const now0 = Date.now();
  const frameDir = await mkdtemp(join(tmpdir(), 'facereview-console-frames-'));
  const frames = fixtureMediaPresent() ? await extractFrames(frameDir) : null;
  const fallbackJpeg = join(REPO, 'testdata', 'media', 'obama.jpg');
  const sizes = await Promise.all(RECORDINGS.map(async (r) => (existsSync(r.file) ? (await stat(r.file)).size : 0)));

  const users = new Map(USERS.map((u) => [u.username, { ...u, password: PASSWORD, disabled: false, created_at_ms: now0 - 86400000 }]));
  const logins = new Map(); // token -> {username, csrf, recordingSeen:Set}
  const sessions = fixtureSessions(now0);
  const decisions = new Map(sessions.map((s) => [s.id, []]));
  decisions.get('s_5e5510e0e0e4').push({ seq: 1, action: 'approve', reason: 'Speech was short but the business is clearly shown.',
    username: 'ron', display_name: 'Ron Reviewer', created_at_ms: now0 - 45 * 3600_000 });
  const requests = [];
  const audit = [];
  let server;

  const appendAudit = (actor, action, session_id = null, detail = {}) => {
    const seq = audit.length + 1;
    const hash = randomBytes(32).toString('hex');
    audit.push({ seq, t_ms: Date.now(), actor, action, session_id, detail, hash });
  };

  const headers = (extra = {}) => ({ ...SECURITY_HEADERS, ...extra });
  const sendJson = (res, status, body, extra = {}) => {
    res.writeHead(status, headers({ 'Content-Type': 'application/json', ...extra }));
    res.end(JSON.stringify(body));
  };
  const apiError = (res, status, error, message) => sendJson(res, status, { error, message });
  const readBody = (req) => new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  const cookieToken = (req) => {
    const m = (req.headers.cookie || '').match(/(?:^|;\s*)fr_console=([0-9a-f]{64})/);
    return m ? m[1] : null;
  };
  const loginOf = (req) => {
    const tok = cookieToken(req);
    const l = tok && logins.get(tok);
    if (!l) return null;
    const u = users.get(l.username);
    if (!u || u.disabled) return null;
    return { token: tok, login: l, user: u, perms: PERMISSIONS[u.role] || [] };
  };
  const userJson = (u) => ({ username: u.username, display_name: u.display_name, role: u.role, permissions: PERMISSIONS[u.role] || [] });

  const sessionById = (id) => sessions.find((s) => s.id === id);
  const item = (s) => {
    const now = Date.now();
    const age = now - s.verdict_at_ms;
    const sla = slaHours * 3600_000;
    return {
      id: s.id, applicant_ref: s.applicant_ref, business_name: s.business_name, created_at_ms: s.created_at_ms,
      verdict_at_ms: s.verdict_at_ms, decision: s.decision, risk_score: s.risk_score, reasons: s.reasons,
      top_reason: s.top_reason, review_status: s.review_status || 'open', assignee: s.assignee, age_ms: age, sla_ms: sla,
      sla_state: age > sla ? 'overdue' : age > 0.75 * sla ? 'due_soon' : 'ok',
    };
  };
  const canFor = (ctx, s) => {
    const decided = s.review_status != null;
    return {
      decide: ctx.perms.includes('decide') && (!decided || ctx.perms.includes('decide.escalated')),
      assign: ctx.perms.includes('assign'),
      export: ctx.perms.includes('export'),
    };
  };
  const detail = (ctx, s) => {
    const full = s.id === FIXTURE_ID;
    return {
      session: { id: s.id, applicant_ref: s.applicant_ref, state: s.state, created_at_ms: s.created_at_ms,
        joined_at_ms: s.created_at_ms + 60_000, ended_at_ms: full ? s.created_at_ms + 60_000 + 61_000 : s.created_at_ms + 120_000,
        end_reason: full ? 'completed' : 'analysis_failed', review_status: s.review_status || 'open', assignee: s.assignee },
      declared: full ? DECLARED : { name: s.business_name, address: null, category: 'retail', lat: 60.1699, lon: 24.9384, coord_system: 'wgs84' },
      verdict: full ? fixtureVerdict() : null,
      interview: full ? fixtureInterview() : null,
      timelines: full ? fixtureTimelines() : null,
      quality: full
        ? { bytes_received: sizes[0] + sizes[1], parts: 2, media_s: DURATION_S, adapt_actions: 3,
          report: { time_to_first_frame_ms: 640, mean_fps: 14.6, freeze_count: 1, total_freeze_ms: 900 } }
        : null,
      recording: { parts: full ? RECORDINGS.map((r, i) => ({ index: i, url: `/console/api/sessions/${s.id}/recording/${i}`,
        offset_ns: r.offset_ns, bytes: sizes[i] })) : [] },
      decisions: decisions.get(s.id) || [],
      can: canFor(ctx, s),
    };
  };

  const queue = (ctx, q) => {
    const status = q.get('status') || 'open';
    const decision = q.get('decision');
    const reason = q.get('reason');
    const assignee = q.get('assignee');
    const sort = q.get('sort') || '-age';
    const limit = Math.min(200, Math.max(1, Number(q.get('limit') || 50)));
    const offset = Math.max(0, Number(q.get('offset') || 0));
    let list = sessions.filter((s) => {
      const rs = s.review_status;
      if (status === 'open' && !(rs == null && (s.decision === 'review' || s.decision === 'reject' || s.state === 'failed'))) return false;
      if (status === 'escalated' && rs !== 'escalated') return false;
      if (status === 'decided' && rs !== 'approved' && rs !== 'rejected') return false;
      if (decision && s.decision !== decision) return false;
      if (reason && !s.reasons.some((c) => c.startsWith(reason))) return false;
      if (assignee === 'me' && s.assignee !== ctx.user.username) return false;
      if (assignee === 'none' && s.assignee != null) return false;
      if (assignee && assignee !== 'me' && assignee !== 'none' && s.assignee !== assignee) return false;
      return true;
    });
    const key = sort.replace('-', '');
    const dir = sort.startsWith('-') ? -1 : 1;
    list = [...list].sort((a, b) => {
      const va = key === 'age' ? Date.now() - a.verdict_at_ms : a.risk_score ?? -1;
      const vb = key === 'age' ? Date.now() - b.verdict_at_ms : b.risk_score ?? -1;
      return (va - vb) * dir;
    });
    return { items: list.slice(offset, offset + limit).map(item), total: list.length, sla_hours: slaHours };
  };

  const serveFile = async (res, file, status = 200) => {
    const body = await readFile(file);
    res.writeHead(status, headers({ 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' }));
    res.end(body);
  };
  const forbiddenPage = (res) => {
    res.writeHead(403, headers({ 'Content-Type': 'text/html; charset=utf-8' }));
    res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Forbidden</title></head>'
      + '<body><h1>Forbidden</h1><p>Your role does not allow this page.</p><p><a href="/console">Console</a></p></body></html>');
  };

  const serveRecording = async (req, res, file, size) => {
    const range = req.headers.range;
    const base = { 'Content-Type': 'video/webm', 'Accept-Ranges': 'bytes' };
    const m = range && range.match(/^bytes=(\d*)-(\d*)$/);
    if (m && (m[1] || m[2])) {
      let start;
      let end;
      if (m[1]) {
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      } else {
        start = Math.max(0, size - Number(m[2]));
        end = size - 1;
      }
      if (start >= size || start > end) {
        res.writeHead(416, headers({ 'Content-Range': `bytes */${size}` }));
        return res.end();
      }
      res.writeHead(206, headers({ ...base, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 }));
      if (req.method === 'HEAD') return res.end();
      return createReadStream(file, { start, end }).pipe(res);
    }
    res.writeHead(200, headers({ ...base, 'Content-Length': size }));
    if (req.method === 'HEAD') return res.end();
    return createReadStream(file).pipe(res);
  };

  async function handleApi(req, res, path, url) {
    const method = req.method;
    const raw = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
    let body = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
    }
    const ctx = loginOf(req);
    const rec = { method, path, query: Object.fromEntries(url.searchParams), csrf: req.headers['x-csrf-token'] || null,
      body, status: 0, user: ctx?.user.username || null };
    requests.push(rec);
    const reply = (status, obj, extra) => {
      rec.status = status;
      sendJson(res, status, obj, extra);
    };
    const err = (status, code, message) => {
      rec.status = status;
      apiError(res, status, code, message);
    };
    if (body === undefined) return err(400, 'bad_json', 'the body is not JSON');

    if (path === '/console/api/login' && method === 'POST') {
      const u = users.get(String(body?.username || ''));
      if (!u || u.disabled || body?.password !== u.password) {
        appendAudit(String(body?.username || '?'), 'login.failed');
        return err(401, 'bad_credentials', 'wrong username or password');
      }
      const token = randomBytes(32).toString('hex');
      const csrf = randomBytes(32).toString('hex');
      logins.set(token, { username: u.username, csrf, recordingSeen: new Set() });
      appendAudit(u.username, 'login');
      return reply(200, { user: userJson(u), csrf_token: csrf },
        { 'Set-Cookie': `fr_console=${token}; HttpOnly; SameSite=Strict; Path=/console` });
    }
    if (!ctx) return err(401, 'unauthorized', 'log in first');
    if (method !== 'GET' && method !== 'HEAD') {
      if (req.headers['x-csrf-token'] !== ctx.login.csrf) return err(403, 'csrf', 'missing or wrong X-CSRF-Token');
      const origin = req.headers.origin;
      if (origin && origin !== `http://${req.headers.host}`) return err(403, 'csrf', 'cross-origin request');
    }
    const need = (p) => {
      if (ctx.perms.includes(p)) return true;
      err(403, 'forbidden', `needs ${p}`);
      return false;
    };
    const actor = ctx.user.username;
    let m;
    if (path === '/console/api/me' && method === 'GET') return reply(200, { user: userJson(ctx.user), csrf_token: ctx.login.csrf });
    if (path === '/console/api/logout' && method === 'POST') {
      logins.delete(ctx.token);
      appendAudit(actor, 'logout');
      return reply(200, { ok: true }, { 'Set-Cookie': 'fr_console=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0' });
    }
    if (path === '/console/api/queue' && method === 'GET') {
      if (!need('queue.view')) return;
      return reply(200, queue(ctx, url.searchParams));
    }
    if ((m = path.match(/^\/console\/api\/sessions\/([^/]+)(\/.*)?$/))) {
      const s = sessionById(decodeURIComponent(m[1]));
      const rest = m[2] || '';
      if (!s) return err(404, 'not_found', 'no such session');
      if (rest === '' && method === 'GET') {
        if (!need('session.view')) return;
        appendAudit(actor, 'session.view', s.id);
        return reply(200, detail(ctx, s));
      }
      let r;
      if ((r = rest.match(/^\/recording\/(\d+)$/)) && (method === 'GET' || method === 'HEAD')) {
        if (!need('recording.view')) return;
        const i = Number(r[1]);
        if (s.id !== FIXTURE_ID || !RECORDINGS[i] || !sizes[i]) return err(404, 'not_found', 'no such part');
        if (!ctx.login.recordingSeen.has(i)) {
          ctx.login.recordingSeen.add(i);
          appendAudit(actor, 'recording.view', s.id, { part: i });
        }
        rec.status = req.headers.range ? 206 : 200;
        return serveRecording(req, res, RECORDINGS[i].file, sizes[i]);
      }
      if (rest === '/frame' && method === 'GET') {
        if (!need('recording.view')) return;
        const tNs = Number(url.searchParams.get('t'));
        if (s.id !== FIXTURE_ID || !Number.isFinite(tNs) || tNs < 0 || tNs > DURATION_S * S) return err(404, 'not_found', 'outside the recording');
        let file = null;
        if (frames) {
          let part = 0;
          RECORDINGS.forEach((p, k) => { if (p.offset_ns <= tNs) part = k; });
          const local = Math.max(0, (tNs - RECORDINGS[part].offset_ns) / S);
          const list = frames[part];
          file = list[Math.min(list.length - 1, Math.floor(local))];
        } else if (existsSync(fallbackJpeg)) {
          file = fallbackJpeg;
        }
        if (!file) return err(404, 'not_found', 'no frame');
        rec.status = 200;
        res.writeHead(200, headers({ 'Content-Type': 'image/jpeg' }));
        return res.end(await readFile(file));
      }
      if (rest === '/decision' && method === 'POST') {
        const c = canFor(ctx, s);
        if (!c.decide) return err(403, 'forbidden', 'you cannot decide this session');
        const action = body?.action;
        const reason = typeof body?.reason === 'string' ? body.reason.trim() : '';
        if (!['approve', 'reject', 'escalate'].includes(action)) return err(400, 'bad_action', 'action must be approve, reject or escalate');
        const n = [...reason].length;
        if (n < 10 || n > 2000) return err(400, 'bad_reason', 'reason must be 10-2000 characters');
        const list = decisions.get(s.id);
        const d = { seq: list.length + 1, action, reason, username: actor, display_name: ctx.user.display_name, created_at_ms: Date.now() };
        list.push(d);
        s.review_status = { approve: 'approved', reject: 'rejected', escalate: 'escalated' }[action];
        appendAudit(actor, 'decision', s.id, { action, seq: d.seq });
        return reply(201, d);
      }
      if (rest === '/assign' && method === 'POST') {
        const who = body?.assignee ?? null;
        if (who !== null && !users.has(who)) return err(400, 'bad_assignee', 'no such user');
        const claim = who === actor && s.assignee == null && ctx.perms.includes('decide');
        if (!ctx.perms.includes('assign') && !claim) return err(403, 'forbidden', 'needs assign');
        s.assignee = who;
        appendAudit(actor, 'assign', s.id, { assignee: who });
        return reply(200, { assignee: who });
      }
      if (rest === '/export' && method === 'GET') {
        if (!need('export')) return;
        appendAudit(actor, 'export', s.id);
        rec.status = 200;
        res.writeHead(200, headers({ 'Content-Type': 'application/zip', 'Content-Disposition': `attachment; filename="facereview-${s.id}.zip"` }));
        return res.end(EMPTY_ZIP);
      }
      return err(404, 'not_found', 'not found');
    }
    if (path === '/console/api/audit' && method === 'GET') {
      if (!need('audit.view')) return;
      const sid = url.searchParams.get('session');
      const before = Number(url.searchParams.get('before') || Infinity);
      const limit = Math.min(1000, Number(url.searchParams.get('limit') || 200));
      const entries = audit.filter((e) => (!sid || e.session_id === sid) && e.seq < before).reverse().slice(0, limit);
      return reply(200, { entries });
    }
    if (path === '/console/api/audit/verify' && method === 'GET') {
      if (!need('audit.view')) return;
      return reply(200, { ok: true, entries: audit.length, first_bad_seq: null, problem: null });
    }
    if (path === '/console/api/users' && method === 'GET') {
      if (!need('users.manage')) return;
      return reply(200, { users: [...users.values()].map((u) => ({ username: u.username, display_name: u.display_name, role: u.role,
        disabled: u.disabled, locked_until_ms: null, created_at_ms: u.created_at_ms })) });
    }
    if (path === '/console/api/users' && method === 'POST') {
      if (!need('users.manage')) return;
      const { username, password, role, display_name } = body || {};
      if (!/^[a-z0-9._-]{1,64}$/.test(username || '') || !PERMISSIONS[role] || typeof password !== 'string' || password.length < 12) {
        return err(400, 'bad_user', 'invalid account');
      }
      if (users.has(username)) return err(409, 'conflict', 'username taken');
      users.set(username, { username, display_name: display_name || username, role, password, disabled: false, created_at_ms: Date.now() });
      appendAudit(actor, 'user.add', null, { username, role });
      return reply(201, { username });
    }
    if ((m = path.match(/^\/console\/api\/users\/([^/]+)$/)) && method === 'POST') {
      if (!need('users.manage')) return;
      const u = users.get(decodeURIComponent(m[1]));
      if (!u) return err(404, 'not_found', 'no such user');
      if (body?.role !== undefined) {
        if (!PERMISSIONS[body.role]) return err(400, 'bad_role', 'unknown role');
        u.role = body.role;
        appendAudit(actor, 'user.role', null, { username: u.username, role: u.role });
      }
      if (body?.disabled !== undefined) {
        u.disabled = Boolean(body.disabled);
        appendAudit(actor, u.disabled ? 'user.disable' : 'user.enable', null, { username: u.username });
      }
      if (body?.password !== undefined) {
        u.password = String(body.password);
        appendAudit(actor, 'user.passwd', null, { username: u.username });
      }
      return reply(200, { username: u.username });
    }
    return err(404, 'not_found', 'not found');
  }

  server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    try {
      if (path.startsWith('/console/api/')) return await handleApi(req, res, path, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, headers());
        return res.end();
      }
      if (path.startsWith('/console/static/')) {
        let rel = '';
        try {
          rel = decodeURIComponent(path.slice('/console/static/'.length));
        } catch { /* bad escape */ }
        const file = normalize(join(WEB, rel));
        if (!rel || !file.startsWith(WEB + sep) || !existsSync(file)) {
          res.writeHead(404, headers({ 'Content-Type': 'text/plain' }));
          return res.end('not found');
        }
        return await serveFile(res, file);
      }
      if (path === '/console/login') return await serveFile(res, join(WEB, 'login.html'));
      const page = path === '/console' ? 'queue.view'
        : /^\/console\/sessions\/[^/]+$/.test(path) ? 'session.view'
          : path === '/console/audit' ? 'audit.view'
            : path === '/console/admin' ? 'users.manage' : null;
      if (page) {
        const ctx = loginOf(req);
        if (!ctx) {
          res.writeHead(302, headers({ Location: '/console/login' }));
          return res.end();
        }
        if (!ctx.perms.includes(page)) return forbiddenPage(res);
        return await serveFile(res, join(WEB, 'index.html'));
      }
      res.writeHead(404, headers({ 'Content-Type': 'text/plain' }));
      res.end('not found');
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(500, headers({ 'Content-Type': 'application/json' }));
        res.end(JSON.stringify({ error: 'internal', message: 'internal error' }));
      } else {
        res.destroy(e);
      }
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    audit,
    sessions,
    decisions,
    users,
    framesFromMedia: Boolean(frames),
    close: async () => {
      await new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); });
      await rm(frameDir, { recursive: true, force: true });
    },
  };
}
