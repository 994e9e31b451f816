// Page-level tests of web/applicant/ without the Rust server: a tiny static server serves the page, the applicant API,
// WHIP and the control WebSocket are mocked in the browser (lib/mock.mjs). Run: node --test tests/e2e/
// Screenshots go to $E2E_SHOTS (default: a new temporary folder, printed as a test diagnostic).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, DEFAULT_VIDEO, DEFAULT_AUDIO } from './lib/browser.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { installMock, TOKEN, RESUME_KEY } from './lib/mock.mjs';

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

  test('prompt, challenge, progress, hint and constraints render; done hangs up', async () => {
    const { context, page, mock, pageErrors } = await open();
    try {
      await waitPhase(page, 'consent');
      await page.getByTestId('consent-agree').click();
      await waitPhase(page, 'live');
      mock.push({ type: 'prompt', id: 'q1', text: 'What does your business sell?', index: 1, total: 3 });
      mock.push({ type: 'progress', elapsed_s: 12, total_s: 40, face_visible: true });
      mock.push({ type: 'constraints', max_bitrate_bps: 450000, scale_resolution_down_by: 2, max_framerate: 10 });
      await page.getByTestId('prompt-text').filter({ hasText: 'What does your business sell?' }).waitFor();
      assert.match(await page.getByTestId('prompt-index').textContent(), /Question 1 of 3/);
      assert.ok(await page.getByTestId('face-indicator').isVisible());
      assert.equal(await page.getByTestId('progress').getAttribute('aria-valuenow'), '30');
      await page.waitForFunction(() => window.facereview.state.applied_constraints !== null);
      const applied = (await fr(page)).applied_constraints;
      assert.deepEqual(applied, { maxBitrate: 450000, scaleResolutionDownBy: 2, maxFramerate: 10 });
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
      const before = (await fr(page)).bytes_sent;
      await mock.dropMedia();
      await mock.until(() => mock.whipPosts === 2, 45000, 'second WHIP POST');
      await waitPhase(page, 'live');
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
