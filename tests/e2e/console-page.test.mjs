// Page tests of the reviewer console (web/console/) in headless Chromium against a stand-in of the console API
// (lib/console-mock.mjs: the real page files, the server's CSP, real WebM recordings, frames from them), and the
// reviewer driver (console.mjs) run as a process against the same stand-in. Run: node --test tests/e2e/
// Screenshots: target/screenshots/console-queue.png, console-session.png (git-ignored).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, REPO } from './lib/browser.mjs';
import {
  startConsoleMock, fixtureMediaPresent, haversineM, PASSWORD, FIXTURE_ID, EMPTY_ID, DECLARED, FIXES, RECORDINGS,
} from './lib/console-mock.mjs';

const SHOTS = join(REPO, 'target', 'screenshots');
const MEDIA = fixtureMediaPresent();
const SKIP = MEDIA ? false : 'testdata/streams/ not built (testdata/build_streams.sh)';

let browser;
let mock;

before(async () => {
  if (!MEDIA) return;
  mkdirSync(SHOTS, { recursive: true });
  mock = await startConsoleMock();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await mock?.close();
});

/** A fresh context (own cookies) and page; collects page errors and CSP violations. */
async function open({ viewport = { width: 1366, height: 900 }, locale } = {}) {
  const context = await browser.newContext({ viewport, locale });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message || e}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { context, page, problems };
}

async function login(page, user, base = mock.base) {
  await page.goto(`${base}/console/login`);
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((u) => !u.pathname.startsWith('/console/login'));
}

const queueRequests = () => mock.requests.filter((r) => r.path === '/console/api/queue');
const lastQueueQuery = () => queueRequests().at(-1).query;
const rowIds = (page) => page.$$eval('[data-testid="queue-row"]', (rows) => rows.map((r) => r.dataset.sessionId));
const waitQueue = (page, n) => page.waitForFunction((k) => window.facereviewConsole.state.queue.requests >= k, n);
const sessionTime = (page) => page.evaluate(() => window.facereviewConsole.player.time());

/** Share of a canvas's pixels that differ clearly from its top-left pixel (0 = blank). */
const canvasInk = (page, testid) => page.evaluate((id) => {
  const c = document.querySelector(`[data-testid="${id}"]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) + Math.abs(d[i + 3] - d[3]) > 24) n++;
  }
  return { ink: n / (d.length / 4), width: c.width, height: c.height };
}, testid);

describe('reviewer console', { skip: SKIP }, () => {
  test('login: pages need a login, a wrong password is refused, the right one lands on the queue', async () => {
    const { context, page, problems } = await open();
    try {
      // without a login, a page goes to the login page
      await page.goto(`${mock.base}/console/sessions/${FIXTURE_ID}`);
      assert.equal(new URL(page.url()).pathname, '/console/login');
      await page.getByTestId('login-username').fill('rita');
      await page.getByTestId('login-password').fill('not the password at all');
      await page.getByTestId('login-submit').click();
      await page.getByTestId('login-error').waitFor({ state: 'visible' });
      assert.match(await page.getByTestId('login-error').textContent(), /Wrong username or password/);
      // an empty password is caught in the page, without a request
      const before = mock.requests.length;
      await page.getByTestId('login-password').fill('');
      await page.getByTestId('login-submit').click();
      assert.match(await page.getByTestId('login-error').textContent(), /Enter your username and password/);
      assert.equal(mock.requests.length, before);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.waitForSelector('body[data-ready="queue"]');
      assert.equal(new URL(page.url()).pathname, '/console');
      assert.match(await page.getByTestId('whoami').textContent(), /Rita Reviewer · Reviewer/);
      const cookies = await context.cookies();
      const c = cookies.find((x) => x.name === 'fr_console');
      assert.ok(c && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(cookies));
      // an API answer of 401 sends the page back to the login page (the login is gone server-side)
      await context.clearCookies();
      await page.getByTestId('queue-refresh').click();
      await page.waitForURL((u) => u.pathname === '/console/login');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('queue: rows with SLA badges; filters and sort change the request and the rows', async () => {
    const { context, page, problems } = await open();
    try {
      await login(page, 'rita');
      await page.waitForSelector('body[data-ready="queue"]');
      let n = await page.evaluate(() => window.facereviewConsole.state.queue.requests);
      // default: open sessions, oldest first
      assert.deepEqual(lastQueueQuery(), { status: 'open', sort: '-age', limit: '50', offset: '0' });
      assert.deepEqual(await rowIds(page), ['s_5e5510c0c0c2', FIXTURE_ID, 's_5e5510b0b0b1', EMPTY_ID]);
      const sla = await page.$$eval('[data-testid="queue-row"]', (rows) =>
        rows.map((r) => [r.dataset.sessionId, r.querySelector('[data-testid="sla"]').dataset.sla, r.querySelector('[data-testid="sla"]').textContent]));
      assert.deepEqual(sla, [
        ['s_5e5510c0c0c2', 'overdue', 'Overdue'],
        [FIXTURE_ID, 'due_soon', 'Due soon'],
        ['s_5e5510b0b0b1', 'ok', 'On time'],
        [EMPTY_ID, 'ok', 'On time'],
      ]);
      const fixtureRow = page.locator(`tr[data-session-id="${FIXTURE_ID}"]`);
      assert.match(await fixtureRow.textContent(), /APP-2025-0042.*Isabella Cafe.*Reject.*2\.35.*liveness\.challenge.*20 h 0 min/s);
      assert.match(await page.getByTestId('queue-count').textContent(), /1–4 of 4/);
      await page.screenshot({ path: join(SHOTS, 'console-queue.png'), fullPage: true });

      // status: escalated
      await page.getByTestId('filter-status').selectOption('escalated');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().status, 'escalated');
      assert.deepEqual(await rowIds(page), ['s_5e5510d0d0d3']);
      assert.match(page.url(), /status=escalated/);
      // back to open; automatic decision: review
      await page.getByTestId('filter-status').selectOption('open');
      await waitQueue(page, ++n);
      await page.getByTestId('filter-decision').selectOption('review');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().decision, 'review');
      assert.deepEqual(await rowIds(page), ['s_5e5510b0b0b1']);
      await page.getByTestId('filter-decision').selectOption('');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().decision, undefined);
      // reason prefix (typed; debounced)
      await page.getByTestId('filter-reason').fill('liveness');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().reason, 'liveness');
      assert.deepEqual(await rowIds(page), ['s_5e5510c0c0c2', FIXTURE_ID]);
      await page.getByTestId('filter-reason').fill('');
      await page.getByTestId('filter-reason').press('Enter');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().reason, undefined);
      // assignee: me, then unassigned
      await page.getByTestId('filter-assignee').selectOption('me');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().assignee, 'me');
      assert.deepEqual(await rowIds(page), ['s_5e5510b0b0b1']);
      await page.getByTestId('filter-assignee').selectOption('none');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().assignee, 'none');
      assert.deepEqual(await rowIds(page), ['s_5e5510c0c0c2', FIXTURE_ID, EMPTY_ID]);
      await page.getByTestId('filter-assignee').selectOption('');
      await waitQueue(page, ++n);
      // sort: highest risk first (select), then lowest first (column header button)
      await page.getByTestId('filter-sort').selectOption('-risk');
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().sort, '-risk');
      assert.deepEqual(await page.$$eval('[data-testid="queue-risk"]', (c) => c.map((x) => x.textContent)), ['3.10', '2.35', '0.90', '—']);
      assert.equal(await page.locator('th[data-sort-col="risk"]').getAttribute('aria-sort'), 'descending');
      await page.getByTestId('sort-risk').click();
      await waitQueue(page, ++n);
      assert.equal(lastQueueQuery().sort, 'risk');
      assert.equal(await page.getByTestId('filter-sort').inputValue(), 'risk');
      assert.equal((await rowIds(page))[0], EMPTY_ID);
      // the filters survive a reload (they live in the URL)
      await page.reload();
      await page.waitForSelector('body[data-ready="queue"]');
      assert.equal(await page.getByTestId('filter-sort').inputValue(), 'risk');
      assert.equal(lastQueueQuery().sort, 'risk');
      // a row opens its session (keyboard: the applicant link)
      await page.locator(`tr[data-session-id="${FIXTURE_ID}"] [data-testid="queue-link"]`).focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('body[data-ready="session"]');
      assert.equal(new URL(page.url()).pathname, `/console/sessions/${FIXTURE_ID}`);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('session: video plays, reasons seek (across parts), frames load, timelines render, location, prompts', async () => {
    const { context, page, problems } = await open();
    try {
      await login(page, 'rita');
      await page.waitForSelector('body[data-ready="queue"]');
      await page.locator(`tr[data-session-id="${FIXTURE_ID}"] td`).nth(1).click(); // the row, not the link
      await page.waitForSelector('body[data-ready="session"]');
      assert.equal(new URL(page.url()).pathname, `/console/sessions/${FIXTURE_ID}`);

      // header
      assert.equal(await page.getByTestId('applicant-ref').textContent(), 'APP-2025-0042');
      assert.match(await page.getByTestId('business-name').textContent(), /Isabella Cafe/);
      assert.equal(await page.locator('[data-testid="decision-badge"] .badge').getAttribute('data-decision'), 'reject');
      assert.equal(await page.getByTestId('risk-score').textContent(), '2.35');
      assert.equal(await page.locator('[data-testid="review-status"] .badge').getAttribute('data-status'), 'open');
      assert.equal(await page.getByTestId('export-link').isVisible(), false, 'a reviewer cannot export');

      // the recording plays: the media clock advances
      const video = page.getByTestId('player');
      await page.waitForFunction(() => document.querySelector('[data-testid="player"]').readyState >= 2);
      assert.match(await video.getAttribute('src'), new RegExp(`/console/api/sessions/${FIXTURE_ID}/recording/0$`));
      const t0 = await sessionTime(page);
      await page.getByTestId('play').click();
      await page.waitForFunction((s) => window.facereviewConsole.player.time() > s + 1.0, t0, { timeout: 20000 });
      assert.equal(await page.getByTestId('play').textContent(), 'Pause');
      const ph = await page.getByTestId('playhead').evaluate((e) => getComputedStyle(e).transform);
      assert.notEqual(ph, 'none', 'the playhead moves with the video');
      assert.ok(mock.requests.some((r) => r.path.endsWith('/recording/0') && r.status === 206), 'the player uses Range requests');

      // reasons: most severe first, each with its evidence frame
      const reasons = await page.$$eval('[data-testid="reason"]', (els) => els.map((e) => [e.dataset.code, e.dataset.startS ?? null]));
      assert.deepEqual(reasons, [
        ['liveness.challenge', '3.000'],
        ['location.distance', '36.000'],
        ['voice.second_speaker', '7.550'],
        ['coverage.face', '36.500'],
        ['identity.consistency', null],
        ['liveness.challenge', '45.000'],
        ['liveness.blink', '0.000'],
      ]);
      await page.waitForFunction(() => [...document.querySelectorAll('img[data-testid="reason-frame"]')].every((i) => i.complete));
      const frames = await page.$$eval('img[data-testid="reason-frame"]', (imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight, i.getAttribute('src')]));
      assert.equal(frames.length, 6);
      for (const [w, h, src] of frames) {
        assert.ok(w > 100 && h > 80, `frame ${src} loaded: ${w}x${h}`);
        assert.match(src, new RegExp(`^/console/api/sessions/${FIXTURE_ID}/frame\\?t=\\d+$`));
      }
      assert.ok(frames.some(([, , s]) => s.endsWith('t=36000000000')));

      // clicking the first reason pauses and seeks to its start
      await page.locator('[data-testid="reason"]').first().click();
      await page.waitForFunction(() => {
        const v = document.querySelector('[data-testid="player"]');
        return !v.seeking && Math.abs(window.facereviewConsole.player.time() - 3.0) < 0.15;
      });
      const v1 = await video.evaluate((v) => ({ t: v.currentTime, paused: v.paused, part: v.dataset.part }));
      assert.ok(Math.abs(v1.t - 3.0) < 0.15, JSON.stringify(v1));
      assert.equal(v1.paused, true);
      assert.equal(v1.part, '0');
      // a reason in the second part (offset 30.5 s): the player switches parts, the session clock reads 36 s
      await page.locator('[data-testid="reason"][data-code="location.distance"]').click();
      await page.waitForFunction(() => {
        const v = document.querySelector('[data-testid="player"]');
        return v.dataset.part === '1' && !v.seeking && v.readyState >= 1 && Math.abs(v.currentTime - 5.5) < 0.15
          && Math.abs(window.facereviewConsole.player.time() - 36.0) < 0.15;
      });
      const v2 = await video.evaluate((v) => ({ t: v.currentTime, src: v.getAttribute('src') }));
      assert.ok(Math.abs(v2.t - (36.0 - RECORDINGS[1].offset_ns / 1e9)) < 0.15, JSON.stringify(v2));
      assert.match(v2.src, /\/recording\/1$/);
      assert.match(await page.getByTestId('part-label').textContent(), /Part 2 of 2/);
      assert.match(await page.getByTestId('clock').textContent(), /^0:36\.0 \/ 1:00\.5$/);

      // timelines: every canvas has ink; a click on a timeline seeks there (back into part 1)
      for (const id of ['plot-axis', 'plot-liveness', 'plot-expression', 'plot-speech', 'plot-quality']) {
        const c = await canvasInk(page, id);
        assert.ok(c.width > 300 && c.height > 20, `${id} sized: ${JSON.stringify(c)}`);
        assert.ok(c.ink > 0.02, `${id} is not blank: ${JSON.stringify(c)}`);
      }
      await page.getByTestId('plot-quality').scrollIntoViewIfNeeded();
      const box = await page.getByTestId('plot-quality').boundingBox();
      await page.mouse.click(box.x + box.width * (12 / 60.5), box.y + box.height / 2);
      await page.waitForFunction(() => {
        const v = document.querySelector('[data-testid="player"]');
        return v.dataset.part === '0' && !v.seeking && v.readyState >= 1 && Math.abs(v.currentTime - 12) < 0.5;
      });
      await page.waitForFunction(() => /^At 0:1[12]\.\d/.test(document.querySelector('[data-testid="readout"]').textContent));
      assert.match(await page.getByTestId('readout').textContent(), /At 0:1[12]\.\d.*eyes 0\.\d\d.*speaking/);
      // keyboard: the timeline is a slider
      await page.getByTestId('tl-stack').focus();
      const k0 = await sessionTime(page);
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Shift+ArrowRight');
      await page.waitForFunction((s) => Math.abs(window.facereviewConsole.player.time() - (s + 12)) < 0.3, k0);
      assert.equal(await page.getByTestId('tl-stack').getAttribute('role'), 'slider');

      // location: the declared place and each fix with its haversine distance; the far fix is flagged
      assert.match(await page.getByTestId('declared-name').textContent(), /Isabella Cafe/);
      const fixes = await page.$$eval('[data-testid="fix-row"]', (rows) =>
        rows.map((r) => ({ d: Number(r.dataset.distanceM), flagged: r.dataset.flagged, text: r.textContent })));
      assert.equal(fixes.length, 3);
      FIXES.forEach((f, i) => {
        const want = haversineM(DECLARED.lat, DECLARED.lon, f.lat, f.lon);
        assert.ok(Math.abs(fixes[i].d - want) < 0.5, `fix ${i}: ${fixes[i].d} m vs ${want} m`);
        assert.ok(fixes[i].text.includes(`${Math.round(want).toLocaleString('en')} m`), fixes[i].text);
      });
      assert.deepEqual(fixes.map((f) => f.flagged), ['false', 'false', 'true']);
      assert.ok(fixes[2].d > 15000 && fixes[0].d < 50, JSON.stringify(fixes.map((f) => f.d)));
      assert.match(fixes[2].text, /Flagged/);

      // prompts and challenges
      const qs = await page.$$eval('[data-testid="question"]', (li) => li.map((l) => l.textContent));
      assert.deepEqual(qs, ['0:00.0What does your business sell?', '0:15.0How much do you want to borrow, and what for?',
        '0:35.0Please show us the shop counter.']);
      const cs = await page.$$eval('[data-testid="challenge"]', (li) => li.map((l) => [l.dataset.result, l.querySelector('.c-kind').textContent]));
      assert.deepEqual(cs, [['failed', 'Turn head left'], ['passed', 'Blink'], ['passed', 'Read digits 5382']]);
      // a question's time seeks too
      await page.locator('[data-testid="question"] button').nth(1).click();
      await page.waitForFunction(() => Math.abs(window.facereviewConsole.player.time() - 15) < 0.2);

      await page.locator('[data-testid="reason"]').first().click();
      await page.waitForFunction(() => {
        const v = document.querySelector('[data-testid="player"]');
        return v.dataset.part === '0' && !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 3.0) < 0.15;
      });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(SHOTS, 'console-session.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('decision: a reason is required in the page, then POST with the CSRF token; the history updates', async () => {
    const { context, page, problems } = await open();
    try {
      await login(page, 'rita');
      await page.goto(`${mock.base}/console/sessions/${FIXTURE_ID}`);
      await page.waitForSelector('body[data-ready="session"]');
      const me = await page.evaluate(() => fetch('/console/api/me').then((r) => r.json()));
      const posts = () => mock.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/decision'));
      const n0 = posts().length;
      assert.equal(await page.getByTestId('history-empty').isVisible(), true);
      // no action
      await page.getByTestId('decision-reason').fill('Looks like a photo attack to me.');
      await page.getByTestId('decision-submit').click();
      assert.match(await page.getByTestId('decision-error').textContent(), /Choose approve, reject or escalate/);
      // a reason too short (after trimming)
      await page.getByTestId('action-reject').check();
      await page.getByTestId('decision-reason').fill('   too short   ');
      await page.getByTestId('decision-submit').click();
      assert.match(await page.getByTestId('decision-error').textContent(), /at least 10 characters/);
      assert.equal(await page.getByTestId('decision-reason').getAttribute('aria-invalid'), 'true');
      assert.equal(posts().length, n0, 'nothing was sent');
      // a valid decision
      const reason = 'Turn challenge failed and the phone was 16 km from the shop.';
      await page.getByTestId('decision-reason').fill(`  ${reason}\n`);
      assert.match(await page.getByTestId('decision-count').textContent(), /^60 \/ 2000$/);
      await page.getByTestId('decision-submit').click();
      await page.waitForSelector('[data-testid="history-item"]');
      const sent = posts().at(-1);
      assert.equal(posts().length, n0 + 1);
      assert.equal(sent.csrf, me.csrf_token);
      assert.deepEqual(sent.body, { action: 'reject', reason });
      assert.equal(sent.status, 201);
      const hist = await page.$$eval('[data-testid="history-item"]', (li) => li.map((l) => [l.dataset.action, l.textContent]));
      assert.equal(hist.length, 1);
      assert.equal(hist[0][0], 'reject');
      assert.match(hist[0][1], /Rejected.*Rita Reviewer.*Turn challenge failed/s);
      assert.equal(await page.locator('[data-testid="review-status"] .badge').getAttribute('data-status'), 'rejected');
      assert.match(await page.getByTestId('decision-ok').textContent(), /Decision recorded/);
      // decided: a reviewer may not decide again
      assert.equal(await page.getByTestId('decision-submit').isDisabled(), true);
      assert.equal(await page.getByTestId('cannot-decide').isVisible(), true);
      // a state-changing request without the token is refused by the server (the page always sends it)
      const raw = await page.evaluate(() => fetch(location.pathname.replace('/console/', '/console/api/') + '/assign',
        { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"assignee":null}' }).then((r) => r.status));
      assert.equal(raw, 403);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('roles: a reviewer sees no admin link and /console/admin is forbidden; the admin page handles 403; admin sees accounts', async () => {
    const r = await open();
    try {
      await login(r.page, 'ron');
      await r.page.waitForSelector('body[data-ready="queue"]');
      assert.equal(await r.page.getByTestId('nav-admin').isVisible(), false);
      assert.equal(await r.page.getByTestId('nav-audit').isVisible(), false);
      assert.equal(await r.page.getByTestId('nav-queue').isVisible(), true);
      assert.equal(await r.page.locator('a[href="/console/admin"]:visible').count(), 0);
      // the server refuses the page itself
      const resp = await r.page.goto(`${mock.base}/console/admin`);
      assert.equal(resp.status(), 403);
      assert.match(await r.page.textContent('body'), /Forbidden/);
      // and if the page is reached anyway, the API's 403 shows as "forbidden", not as a broken page
      await r.page.route('**/console/admin', async (route) => {
        const res = await route.fetch({ url: `${mock.base}/console` });
        await route.fulfill({ response: res });
      });
      await r.page.goto(`${mock.base}/console/admin`);
      await r.page.waitForSelector('body[data-view="forbidden"]');
      assert.match(await r.page.getByTestId('page-error').textContent(), /You do not have permission/);
      assert.equal(await r.page.getByTestId('users-table').isVisible(), false);
      await r.page.unroute('**/console/admin');
      assert.deepEqual(r.problems, []);
    } finally {
      await r.context.close();
    }
    const a = await open();
    try {
      await login(a.page, 'ada');
      await a.page.waitForSelector('body[data-ready="admin"]');
      assert.equal(new URL(a.page.url()).pathname, '/console/admin', 'an admin lands on the accounts page');
      assert.equal(await a.page.getByTestId('nav-queue').isVisible(), false);
      assert.equal(await a.page.getByTestId('nav-admin').isVisible(), true);
      const names = await a.page.$$eval('[data-testid="user-row"]', (rows) => rows.map((x) => x.dataset.username));
      assert.deepEqual(names, ['rita', 'ron', 'sam', 'quinn', 'ada']);
      // add an account
      await a.page.fill('#nu-username', 'nina');
      await a.page.fill('#nu-display', 'Nina New');
      await a.page.selectOption('#nu-role', 'qa');
      await a.page.fill('#nu-password', 'a long enough password');
      await a.page.getByRole('button', { name: 'Create' }).click();
      await a.page.waitForSelector('[data-testid="user-row"][data-username="nina"]');
      const add = mock.requests.filter((x) => x.method === 'POST' && x.path === '/console/api/users').at(-1);
      assert.deepEqual(add.body, { username: 'nina', password: 'a long enough password', role: 'qa', display_name: 'Nina New' });
      assert.ok(add.csrf && add.status === 201);
      assert.deepEqual(a.problems, []);
    } finally {
      await a.context.close();
    }
  });

  test('supervisor: export link and the audit log with the session\'s entries; chain verification', async () => {
    const { context, page, problems } = await open();
    try {
      await login(page, 'sam');
      await page.goto(`${mock.base}/console/sessions/${FIXTURE_ID}`);
      await page.waitForSelector('body[data-ready="session"]');
      assert.equal(await page.getByTestId('export-link').getAttribute('href'), `/console/api/sessions/${FIXTURE_ID}/export`);
      // decided by a reviewer already: a supervisor may decide again
      assert.equal(await page.getByTestId('decision-submit').isDisabled(), false);
      await page.getByTestId('session-audit-link').click();
      await page.waitForSelector('body[data-ready="audit"]');
      assert.equal(lastAudit().query.session, FIXTURE_ID);
      const actions = await page.$$eval('[data-testid="audit-row"] td:nth-child(4)', (c) => c.map((x) => x.textContent));
      assert.ok(actions.includes('decision') && actions.includes('session.view') && actions.includes('recording.view'), actions.join(','));
      await page.getByTestId('audit-verify').click();
      await page.waitForSelector('[data-testid="audit-verify-result"][data-ok="true"]');
      assert.match(await page.getByTestId('audit-verify-result').textContent(), /Chain intact: \d+ entries/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
    function lastAudit() {
      return mock.requests.filter((r) => r.path === '/console/api/audit').at(-1);
    }
  });

  test('missing data: no verdict, timelines, interview or recording shows notes, never a broken page', async () => {
    const { context, page, problems } = await open();
    try {
      await login(page, 'quinn');
      await page.goto(`${mock.base}/console/sessions/${EMPTY_ID}`);
      await page.waitForSelector('body[data-ready="session"]');
      for (const id of ['timelines-missing', 'reasons-missing', 'interview-missing', 'no-recording', 'quality-missing']) {
        assert.equal(await page.getByTestId(id).isVisible(), true, `${id} shown`);
      }
      assert.match(await page.getByTestId('reasons-missing').textContent(), /No verdict/);
      assert.equal(await page.locator('[data-decision="failed"]').count(), 1);
      assert.equal(await page.getByTestId('risk-score').textContent(), '—');
      // QA may not decide
      assert.equal(await page.getByTestId('decision-submit').isDisabled(), true);
      // a session that does not exist
      await page.goto(`${mock.base}/console/sessions/s_000000000000`);
      await page.waitForSelector('body[data-view="error"]');
      assert.match(await page.getByTestId('page-error').textContent(), /Not found/);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('language: zh-CN from the browser, and the switch in the header', async () => {
    const { context, page, problems } = await open({ locale: 'zh-CN' });
    try {
      await page.goto(`${mock.base}/console/login`);
      assert.equal(await page.getByTestId('login-submit').textContent(), '登录');
      await page.getByTestId('login-username').fill('rita');
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.waitForSelector('body[data-ready="queue"]');
      assert.equal(await page.textContent('h1'), '审核队列');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      assert.ok((await page.$$eval('[data-testid="sla"]', (s) => s.map((x) => x.textContent))).includes('已超时'));
      const nav = page.waitForEvent('framenavigated');
      await page.getByTestId('lang').selectOption('en');
      await nav;
      await page.waitForSelector('body[data-ready="queue"]');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      assert.equal(await page.textContent('h1'), 'Review queue');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});

describe('console.mjs (reviewer driver) against the stand-in', { skip: SKIP }, () => {
  /** Runs the driver; resolves {code, stdout, stderr, lines, json}. */
  function run(args, timeoutMs = 90000) {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [join(REPO, 'tests', 'e2e', 'console.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => { stdout += d; });
      p.stderr.on('data', (d) => { stderr += d; });
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('close', (code) => {
        clearTimeout(timer);
        const lines = stdout.split('\n').filter(Boolean);
        let json = null;
        try { json = JSON.parse(lines.at(-1)); } catch { /* none */ }
        resolve({ code, stdout, stderr, lines, json });
      });
    });
  }

  test('logs in, finds the session, plays, jumps to the first reason, decides; one JSON line', async () => {
    const srv = await startConsoleMock();
    const dir = mkdtempSync(join(tmpdir(), 'facereview-console-shots-'));
    try {
      const r = await run(['--base', srv.base, '--user', 'rita', '--password', PASSWORD, '--session', FIXTURE_ID,
        '--screenshots', dir, '--reason', 'The turn challenge was not answered; escalating.', '--action', 'escalate']);
      assert.equal(r.lines.length, 1, `one JSON line; stderr:\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json;
      assert.equal(j.ok, true);
      assert.ok(j.queue_ids.includes(FIXTURE_ID), JSON.stringify(j.queue_ids));
      assert.ok(j.played_s >= 1.0 && j.played_s < 10, String(j.played_s));
      assert.equal(j.reason_start_s, 3);
      assert.ok(Math.abs(j.jumped_to_s - 3) < 0.3, String(j.jumped_to_s));
      assert.equal(j.decision_status, 201);
      assert.equal(j.history_len, 1);
      assert.equal(j.admin_status, 403);
      assert.deepEqual(j.errors, []);
      assert.equal(j.screenshots.length, 3);
      for (const f of j.screenshots) assert.ok(existsSync(f) && statSync(f).size > 10000, f);
      // what the server saw
      const post = srv.requests.find((x) => x.method === 'POST' && x.path.endsWith('/decision'));
      assert.deepEqual(post.body, { action: 'escalate', reason: 'The turn challenge was not answered; escalating.' });
      assert.equal(srv.sessions.find((s) => s.id === FIXTURE_ID).review_status, 'escalated');
      // again: the session is no longer open, so it is not in the queue: exit 1 with the reason
      const again = await run(['--base', srv.base, '--user', 'rita', '--password', PASSWORD, '--session', FIXTURE_ID,
        '--reason', 'Second try at the same session.', '--action', 'approve']);
      assert.equal(again.code, 1);
      assert.equal(again.json.ok, false);
      assert.ok(again.json.errors.some((e) => /not in the queue/.test(e)), JSON.stringify(again.json.errors));
      // a wrong password
      const bad = await run(['--base', srv.base, '--user', 'rita', '--password', 'wrong password!', '--session', FIXTURE_ID,
        '--reason', 'Does not matter here.', '--action', 'approve']);
      assert.equal(bad.code, 1);
      assert.ok(bad.json.errors.some((e) => /login refused/.test(e)), JSON.stringify(bad.json.errors));
      // bad usage
      const usage = await run(['--base', srv.base, '--action', 'maybe']);
      assert.equal(usage.code, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await srv.close();
    }
  });
});
