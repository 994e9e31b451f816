// Page-level tests of web/applicant/ without the Rust server: a tiny static server serves the page, the applicant API,
// WHIP and the control WebSocket are mocked in the browser (lib/mock.mjs). Run: node --test tests/e2e/
// Screenshots go to $E2E_SHOTS (default: a new temporary folder, printed as a test diagnostic).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, DEFAULT_VIDEO, DEFAULT_AUDIO } from './lib/browser.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { installMock, adaptMessage, TOKEN, RESUME_KEY } from './lib/mock.mjs';

const SHOTS = process.env.E2E_SHOTS || mkdtempSync(join(tmpdir(), 'facereview-shots-'));
mkdirSync(SHOTS, { recursive: true });

let browser;
let server;

before(async () => {
  server = await startStaticServer();
  // the fake capture files when built (testdata/build_fake_capture.sh), else Chromium's own fake camera
  const files = existsSync(DEFAULT_VIDEO) && existsSync(DEFAULT_AUDIO) ? { video: DEFAULT_VIDEO, audio: DEFAULT_AUDIO } : {};
  browser = await launchBrowser(files);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Counts getUserMedia and geolocation calls (installed before any page script runs). */
const COUNTERS = () => {
  window.__calls = { gum: 0, geo: 0 };
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const orig = md.getUserMedia.bind(md);
    md.getUserMedia = (c) => { window.__calls.gum += 1; return orig(c); };
  }
  const g = navigator.geolocation;
  if (g) {
    const cur = g.getCurrentPosition.bind(g);
    const watch = g.watchPosition.bind(g);
    g.getCurrentPosition = (...a) => { window.__calls.geo += 1; return cur(...a); };
    g.watchPosition = (...a) => { window.__calls.geo += 1; return watch(...a); };
  }
};

const DENY_CAMERA = () => {
  const md = navigator.mediaDevices;
  if (md) md.getUserMedia = async () => { throw new DOMException('Permission denied', 'NotAllowedError'); };
};

const DENY_GEOLOCATION = () => {
  const g = navigator.geolocation;
  if (!g) return;
  const err = { code: 1, message: 'User denied Geolocation', PERMISSION_DENIED: 1, POSITION_UNAVAILABLE: 2, TIMEOUT: 3 };
  g.getCurrentPosition = (ok, fail) => setTimeout(() => fail && fail(err), 10);
  g.watchPosition = (ok, fail) => { setTimeout(() => fail && fail(err), 10); return 1; };
};

/** A fresh context + page with the mock installed. */
async function open({ viewport = { width: 412, height: 915 }, geo = true, init = [], mock = {}, query = '', locale } = {}) {
  const context = await browser.newContext({
    viewport,
    hasTouch: true,
    locale,
    ...(geo ? { permissions: ['geolocation'], geolocation: { latitude: 31.2304, longitude: 121.4737, accuracy: 12 } } : {}),
  });
  const page = await context.newPage();
  const consoleErrors = [];
  const pageErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.addInitScript(COUNTERS);
  for (const s of init) await page.addInitScript(s);
  const m = await installMock(page, mock);
  await page.goto(`${server.base}/join/${TOKEN}${query}`);
  return { context, page, mock: m, consoleErrors, pageErrors };
}

const phase = (page) => page.evaluate(() => document.body.dataset.phase);
const waitPhase = (page, ...phases) =>
  page.waitForFunction((ps) => ps.includes(document.body.dataset.phase), phases, { timeout: 30000 });
const calls = (page) => page.evaluate(() => window.__calls);
const fr = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.facereview.state)));
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
const noHorizontalScroll = (page) =>
  page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

/** Open the page, agree, and wait until it is live. */
async function openLive(opts) {
  const o = await open(opts);
  await waitPhase(o.page, 'consent');
  await o.page.getByTestId('consent-agree').click();
  await waitPhase(o.page, 'live');
  return o;
}

/** A message from the page without the mock's bookkeeping (`socket`). */
const bare = ({ socket, ...m }) => m;

/** Width and height from a JPEG's SOF marker, or null. */
function jpegSize(buf) {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    if (marker === 0xff) { i += 1; continue; } // fill byte
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return null;
}

describe('applicant page', () => {
  test('consent comes first: no camera, microphone or location before "I agree"', async (t) => {
    t.diagnostic(`screenshots: ${SHOTS}`);
    const { context, page, mock, pageErrors } = await open();
    try {
      await waitPhase(page, 'consent');
      await shot(page, 'consent');
      assert.match(await page.getByTestId('business-name').textContent(), /Golden Dragon Noodles/);
      assert.match(await page.getByTestId('consent-retention').textContent(), /30 days/);
      assert.equal((await page.getByTestId('consent-recorded').locator('li').count()), 4);
      // wait a while on the consent screen: still nothing requested
      await page.waitForTimeout(500);
      assert.deepEqual(await calls(page), { gum: 0, geo: 0 });
      assert.equal(mock.whipPosts, 0);

      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      const c = await calls(page);
      assert.ok(c.gum >= 1 && c.geo >= 1, JSON.stringify(c));
      const consent = mock.requests.find((r) => r.path.endsWith('/consent'));
      assert.deepEqual(JSON.parse(consent.body), { accepted: true });
      const post = mock.requests.find((r) => r.method === 'POST' && r.path.startsWith('/whip/'));
      assert.equal(post.path, `/whip/${TOKEN}`);
      assert.equal(post.headers.authorization, `Bearer ${RESUME_KEY}`);
      assert.match(post.headers['content-type'], /^application\/sdp/);
      assert.match(post.body, /^v=0/);
      assert.match(post.body, /a=candidate:/, 'non-trickle offer carries candidates');
      assert.match(post.body, /m=video/);
      assert.match(post.body, /m=audio/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem(Object.keys(sessionStorage)[0])), RESUME_KEY);
      assert.match(mock.socketUrls[0], new RegExp(`/ws/${TOKEN}\\?key=${RESUME_KEY}$`));
      await mock.until(() => mock.sent('location').length === 1, 5000, 'location');
      const hello = mock.sent('hello')[0];
      assert.equal(typeof hello.device.user_agent, 'string');
      assert.equal(hello.device.hardware_concurrency, await page.evaluate(() => navigator.hardwareConcurrency));
      assert.ok(Array.isArray(hello.device.screen) && hello.device.screen.length === 2);
      assert.deepEqual(Object.keys(hello.device).sort(), ['device_memory', 'hardware_concurrency', 'screen', 'user_agent']);
      const loc = mock.sent('location')[0];
      assert.equal(loc.lat, 31.2304);
      assert.equal(loc.lon, 121.4737);
      assert.equal(loc.accuracy_m, 12);
      assert.equal(loc.coord_system, 'wgs84');
      // media really flows to the answerer
      await page.waitForFunction(() => window.facereview.state.bytes_sent > 10000, null, { timeout: 15000 });
      const s = await fr(page);
      assert.match(s.codec, /^video\//);
      assert.equal(s.audio_codec, 'audio/opus');
      assert.equal(s.media.width, 640);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('decline: a polite page and no media at all', async () => {
    const { context, page, mock } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-decline').click();
      await waitPhase(page, 'declined');
      await page.waitForTimeout(500);
      assert.ok(await page.getByTestId('declined').isVisible());
      assert.deepEqual(await calls(page), { gum: 0, geo: 0 });
      assert.equal(mock.requests.filter((r) => r.method === 'POST').length, 0);
      assert.equal(mock.sockets.length, 0);
    } finally {
      await context.close();
    }
  });

  test('410 expired link: "expired" message, no consent screen', async () => {
    const { context, page } = await open({ mock: { join: { status: 410, body: { error: 'expired', message: 'link expired' } } } });
    try {
      await waitPhase(page, 'error');
      assert.match(await page.getByTestId('error-message').textContent(), /expired/i);
      assert.equal((await fr(page)).error.code, 'expired');
      assert.deepEqual(await calls(page), { gum: 0, geo: 0 });
      await shot(page, 'expired');
    } finally {
      await context.close();
    }
  });

  test('404 unknown link and 410 finished have their own messages', async () => {
    for (const [status, body, re] of [
      [404, { error: 'unknown_token', message: 'x' }, /not valid/i],
      [410, { error: 'finished', message: 'x' }, /already been completed/i],
    ]) {
      const { context, page } = await open({ mock: { join: { status, body } } });
      try {
        await waitPhase(page, 'error');
        assert.match(await page.getByTestId('error-message').textContent(), re);
      } finally {
        await context.close();
      }
    }
  });

  test('camera denied (NotAllowedError): a clear message and a retry button', async () => {
    const { context, page, mock } = await open({ init: [DENY_CAMERA] });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'error');
      assert.match(await page.getByTestId('error-message').textContent(), /Camera or microphone access was blocked/);
      assert.equal((await fr(page)).error.code, 'camera_denied');
      assert.ok(await page.getByTestId('retry').isVisible());
      assert.equal(mock.whipPosts, 0);
    } finally {
      await context.close();
    }
  });

  test('consent refused by the server because another device joined (409)', async () => {
    const { context, page } = await open({ mock: { consent: { status: 409, body: { error: 'already_joined', message: 'x' } } } });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'error');
      assert.match(await page.getByTestId('error-message').textContent(), /another device/);
      assert.deepEqual(await calls(page), { gum: 0, geo: 0 });
    } finally {
      await context.close();
    }
  });

  test('WHIP 503 at_capacity is retried with back-off', async () => {
    const { context, page, mock } = await open({ mock: { whip: (n) => (n === 1 ? { status: 503, body: { error: 'at_capacity', message: 'x' } } : null) } });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      assert.equal(mock.whipPosts, 2);
    } finally {
      await context.close();
    }
  });

  test('WHIP 422 unsupported_codec maps to a user message', async () => {
    const { context, page } = await open({ mock: { whip: () => ({ status: 422, body: { error: 'unsupported_codec', message: 'x' } }) } });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'error');
      assert.match(await page.getByTestId('error-message').textContent(), /video format is not supported/);
    } finally {
      await context.close();
    }
  });

  test('geolocation denied: location_unavailable is sent and the interview goes on', async () => {
    const { context, page, mock } = await open({ geo: false, init: [DENY_GEOLOCATION] });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      await mock.until(() => mock.sent('location_unavailable').length === 1, 5000, 'location_unavailable');
      assert.equal(mock.sent('location_unavailable')[0].reason, 'denied');
      assert.equal(mock.sent('location').length, 0);
      assert.ok(await page.getByTestId('location-note').isVisible());
      assert.match(await page.getByTestId('location-note').textContent(), /not available/);
      assert.equal((await fr(page)).location_unavailable, 'denied');
    } finally {
      await context.close();
    }
  });

  test('prompt, challenge, progress and hint render; done hangs up', async () => {
    const { context, page, mock, pageErrors } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      mock.push({ type: 'prompt', id: 'q1', text: 'What does your business sell?', index: 1, total: 3 });
      mock.push({ type: 'progress', elapsed_s: 12, total_s: 40, face_visible: true });
      await page.getByTestId('prompt-text').filter({ hasText: 'What does your business sell?' }).waitFor();
      assert.match(await page.getByTestId('prompt-index').textContent(), /Question 1 of 3/);
      assert.ok(await page.getByTestId('face-indicator').isVisible());
      assert.equal(await page.getByTestId('progress').getAttribute('aria-valuenow'), '30');
      await shot(page, 'live-prompt');

      mock.push({ type: 'challenge', id: 'c1', kind: 'read_digits', digits: '4071', text: 'Read these digits aloud', deadline_ms: 4000 });
      mock.push({ type: 'hint', text: 'Move closer to the camera' });
      await page.getByTestId('challenge').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('challenge-digits').textContent(), '4071');
      assert.equal(await page.getByTestId('challenge-text').textContent(), 'Read these digits aloud');
      assert.match(await page.getByTestId('challenge-countdown').textContent(), /^[34] s$/);
      assert.equal(await page.getByTestId('hint').textContent(), 'Move closer to the camera');
      await mock.until(() => mock.sent('challenge_shown').length === 1, 5000, 'challenge_shown');
      assert.equal(mock.sent('challenge_shown')[0].id, 'c1');
      await shot(page, 'live-challenge');
      assert.equal(await noHorizontalScroll(page), true);

      const s = await fr(page);
      assert.equal(s.prompt.id, 'q1');
      assert.equal(s.challenge.kind, 'read_digits');
      assert.equal(s.prompts.length, 1);
      assert.equal(s.challenges.length, 1);

      mock.push({ type: 'done', message: 'Thank you, the interview is complete.' });
      await waitPhase(page, 'done');
      await mock.until(() => mock.deletes.length === 1, 5000, 'WHIP DELETE');
      assert.equal(mock.deletes[0].path, `/whip/${TOKEN}/peer1`);
      assert.equal(mock.deletes[0].authorization, `Bearer ${RESUME_KEY}`);
      assert.match(await page.getByTestId('end-message').textContent(), /interview is complete/);
      // the camera is off
      assert.equal(await page.evaluate(() => document.querySelector('video').srcObject.getTracks().every((t) => t.readyState === 'ended')), true);
      await shot(page, 'done');
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('adapt: bitrate, scale, frame rate and degradation preference applied; adapt_applied echoes getParameters', async () => {
    const { context, page, mock, pageErrors, consoleErrors } = await openLive();
    try {
      mock.push(adaptMessage(3, { max_bitrate_bps: 250000, scale_resolution_down_by: 2.0, max_framerate: 15.0,
        degradation_preference: 'maintain-framerate' }, { audio: 24000, reason: 'challenge: liveness needs 15 fps' }));
      await mock.until(() => mock.sent('adapt_applied').length === 1, 5000, 'adapt_applied');
      const ack = bare(mock.sent('adapt_applied')[0]);
      assert.deepEqual(Object.keys(ack).sort(), ['audio', 'error', 'seq', 'type', 'video']);
      assert.deepEqual(ack, {
        type: 'adapt_applied',
        seq: 3,
        video: { active: true, maxBitrate: 250000, scaleResolutionDownBy: 2, maxFramerate: 15,
          degradationPreference: 'maintain-framerate' },
        audio: { maxBitrate: 24000 },
        error: null,
      });
      let s = await fr(page);
      assert.equal(s.adapt.seq, 3);
      assert.equal(s.adapt.reason, 'challenge: liveness needs 15 fps');
      assert.deepEqual(s.adapt_applied, { seq: 3, video: ack.video, audio: ack.audio, error: null });
      assert.equal(s.video_paused, false);
      // the encoder follows: half of 640x480 at most
      await page.waitForFunction(() => (window.facereview.state.frame_size?.[0] ?? 999) <= 320, null, { timeout: 15000 });

      mock.push(adaptMessage(4, { max_bitrate_bps: 500000, scale_resolution_down_by: 1.0, max_framerate: 10.0,
        degradation_preference: 'maintain-resolution' }));
      await mock.until(() => mock.sent('adapt_applied').length === 2, 5000, 'second adapt_applied');
      const ack2 = mock.sent('adapt_applied')[1];
      assert.equal(ack2.seq, 4);
      assert.deepEqual(ack2.video, { active: true, maxBitrate: 500000, scaleResolutionDownBy: 1, maxFramerate: 10,
        degradationPreference: 'maintain-resolution' });
      assert.deepEqual(ack2.audio, { maxBitrate: 32000 });
      s = await fr(page);
      assert.equal(s.adapt_applied_count, 2);
      assert.ok(await page.getByTestId('video-paused').isHidden());
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await context.close();
    }
  });

  test('adapt: video paused with snapshots sends JPEG stills and a notice; video back stops them', async () => {
    const { context, page, mock, pageErrors, consoleErrors } = await openLive();
    try {
      const snapshots = { interval_ms: 2000, width: 160, height: 120, quality: 0.6 };
      mock.push(adaptMessage(1, { active: false, max_bitrate_bps: 0 }, { audio: 16000, snapshots, reason: 'audio-only' }));
      await mock.until(() => mock.sent('adapt_applied').length === 1, 5000, 'adapt_applied');
      assert.equal(mock.sent('adapt_applied')[0].video.active, false);
      await mock.until(() => mock.sent('snapshot').length >= 2, 6000, 'two snapshots');
      const notice = page.getByTestId('video-paused');
      assert.ok(await notice.isVisible());
      assert.equal(await notice.textContent(), 'Weak connection: video paused, the interview continues with sound.');
      for (const [i, m] of mock.sent('snapshot').entries()) {
        assert.deepEqual(Object.keys(bare(m)).sort(), ['height', 'jpeg_b64', 'seq', 'type', 'width']);
        assert.equal(m.seq, i + 1);
        assert.deepEqual([m.width, m.height], [160, 120]);
        assert.ok(m.jpeg_b64.length > 100 && m.jpeg_b64.length <= 54000, String(m.jpeg_b64.length));
        assert.match(m.jpeg_b64, /^[A-Za-z0-9+/]+=*$/);
        const jpeg = Buffer.from(m.jpeg_b64, 'base64');
        assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8]);
        assert.deepEqual(jpegSize(jpeg), { width: 160, height: 120 });
        if (i === 0) writeFileSync(join(SHOTS, 'snapshot-1.jpg'), jpeg);
      }
      let s = await fr(page);
      assert.equal(s.video_paused, true);
      assert.ok(s.snapshots_sent >= 2);
      await shot(page, 'live-paused');

      mock.push(adaptMessage(2, { active: true }));
      await mock.until(() => mock.sent('adapt_applied').length === 2, 5000, 'second adapt_applied');
      const n = mock.sent('snapshot').length;
      await notice.waitFor({ state: 'hidden', timeout: 2000 });
      await page.waitForTimeout(2500);
      assert.equal(mock.sent('snapshot').length, n, 'no snapshot after video is back');
      s = await fr(page);
      assert.equal(s.video_paused, false);
      assert.equal(s.snapshots_sent, n);
      assert.ok(s.video_paused_s >= 2 && s.video_paused_s < 20, String(s.video_paused_s));
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await context.close();
    }
  });

  test('sender_stats every 2 s: bytes sent, bandwidth estimate, frame size, round-trip time', async () => {
    const { context, mock, pageErrors } = await openLive();
    try {
      const good = (m) => m.bytes_sent > 0 && typeof m.available_outgoing_bitrate_bps === 'number';
      await mock.until(() => mock.sent('sender_stats').filter(good).length >= 2, 15000, 'two sender_stats');
      const all = mock.sent('sender_stats').map(bare);
      const allowed = ['type', 'available_outgoing_bitrate_bps', 'quality_limitation_reason', 'frame_width',
        'frame_height', 'fps', 'bytes_sent', 'rtt_s'];
      for (const m of all) {
        for (const k of Object.keys(m)) assert.ok(allowed.includes(k), `unknown field ${k}`);
        for (const k of ['bytes_sent', 'frame_width', 'frame_height']) {
          if (k in m) assert.ok(Number.isSafeInteger(m[k]) && m[k] >= 0, `${k}: ${m[k]}`);
        }
        if ('quality_limitation_reason' in m) {
          assert.equal(typeof m.quality_limitation_reason, 'string');
          assert.ok(m.quality_limitation_reason.length <= 32);
        }
      }
      const last = all.filter(good).at(-1);
      assert.ok(last.available_outgoing_bitrate_bps > 0, JSON.stringify(last));
      assert.ok(last.frame_width > 0 && last.frame_height > 0, JSON.stringify(last));
      assert.ok(typeof last.rtt_s === 'number' && last.rtt_s >= 0, JSON.stringify(last));
      for (let i = 1; i < all.length; i++) assert.ok(all[i].bytes_sent >= all[i - 1].bytes_sent, 'bytes_sent grows');
      assert.equal(mock.messages[0].type, 'hello', 'hello first');
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('adapt: an older seq is ignored, and only the newest waiting message is applied', async () => {
    const { context, page, mock, pageErrors } = await openLive();
    try {
      mock.push(adaptMessage(10, { max_bitrate_bps: 300000 }));
      mock.push(adaptMessage(9, { max_bitrate_bps: 100000 }));
      for (const seq of [11, 12, 13]) mock.push(adaptMessage(seq, { max_bitrate_bps: 150000 + seq * 1000 }));
      mock.push(adaptMessage(12, { max_bitrate_bps: 120000 }));
      await mock.until(() => mock.sent('adapt_applied').some((m) => m.seq === 13), 5000, 'adapt_applied 13');
      await page.waitForTimeout(500);
      mock.push(adaptMessage(13, { max_bitrate_bps: 110000 })); // a repeat of the newest: ignored too
      await page.waitForTimeout(500);
      const seqs = mock.sent('adapt_applied').map((m) => m.seq);
      assert.ok(!seqs.includes(9), seqs.join(','));
      assert.equal(seqs.at(-1), 13, seqs.join(','));
      assert.equal(seqs.filter((x) => x === 13).length, 1, seqs.join(','));
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `in order: ${seqs.join(',')}`);
      assert.equal(mock.sent('adapt_applied').at(-1).video.maxBitrate, 163000);
      const s = await fr(page);
      assert.equal(s.adapt.seq, 13);
      assert.equal(s.adapt.video.max_bitrate_bps, 163000);
      assert.equal(s.adapt_applied.seq, 13);
      assert.ok(s.adapt_applied_count === seqs.length);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('hang-up button asks first, then sends hangup and DELETE', async () => {
    const { context, page, mock } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      await page.getByTestId('hangup').click();
      await page.getByTestId('hangup-dialog').waitFor({ state: 'visible' });
      await page.getByTestId('hangup-cancel').click();
      assert.equal(await phase(page), 'live');
      await page.getByTestId('hangup').click();
      await page.getByTestId('hangup-confirm').click();
      await waitPhase(page, 'hungup');
      await mock.until(() => mock.deletes.length === 1 && mock.sent('hangup').length === 1, 5000, 'hangup + DELETE');
    } finally {
      await context.close();
    }
  });

  for (const codec of ['vp8', 'h264']) {
    test(`?codec=${codec} negotiates ${codec.toUpperCase()} (getStats)`, async () => {
      const { context, page, mock } = await open({ query: `?codec=${codec}` });
      try {
        await waitPhase(page, 'consent');
        await page.getByTestId('consent-agree').click();
        await waitPhase(page, 'live');
        const post = mock.requests.find((r) => r.method === 'POST' && r.path.startsWith('/whip/'));
        const videoSection = post.body.split('m=video')[1].split('m=audio')[0];
        const rtpmaps = [...videoSection.matchAll(/a=rtpmap:\d+ ([\w-]+)\//g)].map((m) => m[1].toUpperCase());
        assert.ok(rtpmaps.length > 0);
        assert.ok(rtpmaps.every((c) => [codec.toUpperCase(), 'RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(c)), rtpmaps.join(','));
        await page.waitForFunction(() => window.facereview.state.codec !== null, null, { timeout: 15000 });
        assert.equal((await fr(page)).codec, { vp8: 'video/VP8', h264: 'video/H264' }[codec]);
      } finally {
        await context.close();
      }
    });
  }

  test('control channel drops: "Reconnecting…", then the page reopens it and stays live', async () => {
    const { context, page, mock } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      await mock.until(() => mock.sent('hello').length === 1, 5000, 'hello');
      mock.sockets[0].close({ code: 1011, reason: 'server restart' });
      await waitPhase(page, 'reconnecting');
      assert.ok(await page.getByTestId('connection-banner').isVisible());
      await waitPhase(page, 'live');
      await mock.until(() => mock.sent('hello').length === 2, 5000, 'second hello');
      assert.equal(mock.whipPosts, 1, 'media kept: no new WHIP POST');
      assert.equal((await fr(page)).reconnects, 1);
    } finally {
      await context.close();
    }
  });

  test('media drops: a new peer connection and WHIP POST with the same token and resume key', async () => {
    const { context, page, mock } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      await page.waitForFunction(() => window.facereview.state.bytes_sent > 0, null, { timeout: 15000 });
      mock.push(adaptMessage(1, { max_bitrate_bps: 300000, scale_resolution_down_by: 2 }));
      await mock.until(() => mock.sent('adapt_applied').length === 1, 5000, 'adapt_applied');
      const before = (await fr(page)).bytes_sent;
      await mock.dropMedia();
      await mock.until(() => mock.whipPosts === 2, 45000, 'second WHIP POST');
      await waitPhase(page, 'live');
      // the new peer connection gets the last adapt again (same seq)
      await mock.until(() => mock.sent('adapt_applied').length === 2, 5000, 'adapt_applied again');
      const again = mock.sent('adapt_applied')[1];
      assert.equal(again.seq, 1);
      assert.equal(again.error, null);
      assert.equal(again.video.maxBitrate, 300000);
      assert.equal(again.video.scaleResolutionDownBy, 2);
      const posts = mock.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/whip/'));
      assert.equal(posts[1].path, `/whip/${TOKEN}`);
      assert.equal(posts[1].headers.authorization, `Bearer ${RESUME_KEY}`);
      await page.waitForFunction((b) => window.facereview.state.bytes_sent > b + 10000, before, { timeout: 15000 });
      assert.ok((await fr(page)).reconnects >= 1);
    } finally {
      await context.close();
    }
  });

  test('session expired while reconnecting: a clear message', async () => {
    let expired = false;
    const { context, page, mock } = await open({
      mock: {
        join: () => (expired ? { status: 410, body: { error: 'expired', message: 'x' } } : null),
        whip: (n) => (n > 1 ? { status: 410, body: { error: 'expired', message: 'x' } } : null),
      },
    });
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      expired = true;
      mock.sockets[0].close({ code: 1001, reason: 'gone' });
      await waitPhase(page, 'error');
      assert.match(await page.getByTestId('error-message').textContent(), /expired/);
    } finally {
      await context.close();
    }
  });

  test('a reload reuses the resume key: no second consent', async () => {
    const { context, page, mock } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      await page.reload();
      await waitPhase(page, 'live');
      assert.equal(mock.requests.filter((r) => r.path.endsWith('/consent')).length, 1);
      assert.equal(mock.whipPosts, 2);
      assert.equal((await fr(page)).consent, 'resumed');
    } finally {
      await context.close();
    }
  });

  test('360x640: no horizontal scroll, large buttons, on consent and live screens', async () => {
    const { context, page } = await open({ viewport: { width: 360, height: 640 } });
    try {
      await waitPhase(page, 'consent');
      assert.equal(await noHorizontalScroll(page), true);
      for (const id of ['consent-agree', 'consent-decline']) {
        const box = await page.getByTestId(id).boundingBox();
        assert.ok(box.height >= 44 && box.width >= 200, `${id}: ${JSON.stringify(box)}`);
      }
      await shot(page, 'consent-360');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      assert.equal(await noHorizontalScroll(page), true);
      const box = await page.getByTestId('hangup').boundingBox();
      assert.ok(box.height >= 44 && box.y + box.height <= 640, JSON.stringify(box));
      await shot(page, 'live-360');
    } finally {
      await context.close();
    }
  });

  test('zh-CN strings with ?lang=zh-CN and from the browser language', async () => {
    for (const [query, locale] of [['?lang=zh-CN', 'en-US'], ['', 'zh-CN']]) {
      const { context, page } = await open({ query, locale });
      try {
        await waitPhase(page, 'consent');
        assert.equal(await page.getByTestId('consent-agree').textContent(), '我同意，开始');
        assert.match(await page.getByTestId('consent-retention').textContent(), /30 天/);
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
        if (query) await shot(page, 'consent-zh');
      } finally {
        await context.close();
      }
    }
  });
});
