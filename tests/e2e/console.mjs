#!/usr/bin/env node
// A reviewer in headless Chromium, against a running `facereview serve` (or tests/e2e/lib/console-mock.mjs):
// logs in through the login page, opens the queue, checks the session is listed, opens it, plays the recording,
// clicks the first reason that has a time and reads the player's position, records a decision, and checks what
// GET /console/admin answers this user. Prints exactly one JSON line on stdout (diagnostics go to stderr).
//
//   node tests/e2e/console.mjs --base http://127.0.0.1:PORT --user U --password P --session ID
//        --reason "text…" --action approve|reject|escalate [--screenshots DIR] [--timeout-s 120]
//
// Output: {"ok", "queue_ids", "played_s", "jumped_to_s", "reason_start_s", "decision_status", "history_len",
//          "admin_status", "screenshots", "errors"}. Exit 0 when every step worked, 1 on a failure (the message on
// stderr and in `errors`), 2 on bad usage.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchBrowser } from './lib/browser.mjs';

const USAGE = 'usage: node tests/e2e/console.mjs --base URL --user U --password P --session ID --reason TEXT '
  + '--action approve|reject|escalate [--screenshots DIR] [--timeout-s N]';

function parseArgs(argv) {
  const o = { timeoutS: 120 };
  const names = { '--base': 'base', '--user': 'user', '--password': 'password', '--session': 'session',
    '--screenshots': 'screenshots', '--reason': 'reason', '--action': 'action', '--timeout-s': 'timeoutS' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--help' || k === '-h') return { help: true };
    const name = names[k];
    if (!name || i + 1 >= argv.length) throw new Error(`unknown or incomplete argument: ${k}`);
    o[name] = argv[++i];
  }
  for (const k of ['base', 'user', 'password', 'session', 'reason', 'action']) if (!o[k]) throw new Error(`--${k} is required`);
  if (!['approve', 'reject', 'escalate'].includes(o.action)) throw new Error('--action must be approve, reject or escalate');
  o.timeoutS = Number(o.timeoutS);
  if (!Number.isFinite(o.timeoutS) || o.timeoutS <= 0) throw new Error('--timeout-s must be a positive number');
  o.base = o.base.replace(/\/+$/, '');
  return o;
}

class StepError extends Error {}
const fail = (msg) => {
  throw new StepError(msg);
};

async function drive(o, out, browserRef) {
  const log = (m) => process.stderr.write(`console.mjs: ${m}\n`);
  const browser = await launchBrowser();
  browserRef.browser = browser;
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const fatal = [];
  page.on('pageerror', (e) => fatal.push(`pageerror: ${e.message || e}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/Content Security Policy|Refused to/i.test(text)) fatal.push(`csp: ${text}`);
    else if (!/Failed to load resource/i.test(text)) out.errors.push(`console: ${text}`);
  });
  const checkFatal = () => {
    if (fatal.length) fail(fatal.join('; '));
  };
  const shot = async (name) => {
    if (!o.screenshots) return;
    const p = join(o.screenshots, name);
    await page.screenshot({ path: p, fullPage: true });
    out.screenshots.push(p);
  };

  // 1. login through the page
  log(`login as ${o.user}`);
  await page.goto(`${o.base}/console/login`);
  await page.getByTestId('login-username').fill(o.user);
  await page.getByTestId('login-password').fill(o.password);
  await page.getByTestId('login-submit').click();
  const landed = await Promise.race([
    page.waitForURL((u) => !u.pathname.startsWith('/console/login'), { timeout: 20000 }).then(() => 'ok'),
    page.getByTestId('login-error').waitFor({ state: 'visible', timeout: 20000 }).then(() => 'error'),
  ]).catch(() => 'timeout');
  if (landed === 'error') fail(`login refused: ${await page.getByTestId('login-error').textContent()}`);
  if (landed === 'timeout') fail('login did not finish within 20 s');

  // 2. the queue
  if (new URL(page.url()).pathname !== '/console') await page.goto(`${o.base}/console`);
  await page.waitForSelector('body[data-ready="queue"], body[data-view="forbidden"], body[data-view="error"]');
  const view = await page.evaluate(() => document.body.dataset.view);
  if (view !== 'queue') fail(`the queue did not open (${view}: ${await page.getByTestId('page-error').textContent()})`);
  out.queue_ids = await page.$$eval('[data-testid="queue-row"]', (rows) => rows.map((r) => r.dataset.sessionId));
  await shot('console-queue.png');
  checkFatal();
  if (!out.queue_ids.includes(o.session)) fail(`session ${o.session} is not in the queue (${out.queue_ids.join(', ') || 'empty'})`);

  // 3. open the session from its row
  log(`open ${o.session}`);
  await page.locator(`tr[data-session-id="${o.session}"] a[data-testid="queue-link"]`).click();
  await page.waitForSelector('body[data-ready="session"], body[data-view="forbidden"], body[data-view="error"]');
  if ((await page.evaluate(() => document.body.dataset.view)) !== 'session') {
    fail(`the session page did not open: ${await page.getByTestId('page-error').textContent()}`);
  }
  if (!(await page.evaluate(() => Boolean(window.facereviewConsole.player)))) fail('the session has no recording to play');

  // 4. play: the media clock must advance by at least a second
  await page.waitForFunction(() => document.querySelector('[data-testid="player"]').readyState >= 1, null, { timeout: 20000 })
    .catch(() => fail('the recording did not load (no metadata within 20 s)'));
  const t0 = await page.evaluate(() => window.facereviewConsole.player.time());
  await page.getByTestId('play').click();
  await page.waitForFunction((start) => window.facereviewConsole.player.time() - start >= 1.0, t0, { timeout: 20000 })
    .catch(async () => {
      const v = await page.evaluate(() => {
        const e = document.querySelector('[data-testid="player"]');
        return { t: e.currentTime, paused: e.paused, readyState: e.readyState, error: e.error?.message || e.error?.code || null };
      });
      fail(`the recording did not play: ${JSON.stringify(v)}`);
    });
  out.played_s = Number((await page.evaluate((start) => window.facereviewConsole.player.time() - start, t0)).toFixed(3));

  // 5. the first reason with a time: the player must jump there
  const reason = page.locator('button[data-testid="reason"][data-start-s]').first();
  if (!(await reason.count())) fail('no reason with an evidence time is listed');
  out.reason_start_s = Number(await reason.getAttribute('data-start-s'));
  await reason.click();
  await page.waitForFunction((s) => {
    const v = document.querySelector('[data-testid="player"]');
    return !v.seeking && Math.abs(window.facereviewConsole.player.time() - s) < 0.3;
  }, out.reason_start_s, { timeout: 15000 }).catch(() => {});
  out.jumped_to_s = Number((await page.evaluate(() => window.facereviewConsole.player.time())).toFixed(3));
  await shot('console-session.png');
  checkFatal();
  if (Math.abs(out.jumped_to_s - out.reason_start_s) > 0.3) {
    fail(`clicking the reason moved the player to ${out.jumped_to_s} s, not ${out.reason_start_s} s`);
  }

  // 6. the decision
  log(`decide: ${o.action}`);
  const before = await page.locator('[data-testid="history-item"]').count();
  if (await page.getByTestId('decision-submit').isDisabled()) fail('the decision form is disabled for this user and session');
  await page.getByTestId(`action-${o.action}`).check();
  await page.getByTestId('decision-reason').fill(o.reason);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && /\/decision$/.test(new URL(r.url()).pathname), { timeout: 20000 });
  await page.getByTestId('decision-submit').click();
  const resp = await posted.catch(() => null);
  if (!resp) fail(`no decision was sent (${(await page.getByTestId('decision-error').textContent()) || 'no message'})`);
  out.decision_status = resp.status();
  if (out.decision_status !== 201) fail(`the decision was refused: HTTP ${out.decision_status}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="history-item"]').length > n, before, { timeout: 15000 })
    .catch(() => fail('the decision history did not update'));
  out.history_len = await page.locator('[data-testid="history-item"]').count();
  await shot('console-decided.png');
  checkFatal();

  // 7. the accounts page as this user (the server answers 403 to anyone without users.manage)
  const admin = await context.request.get(`${o.base}/console/admin`, { maxRedirects: 0 });
  out.admin_status = admin.status();
  await context.close();
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (o.screenshots) {
    o.screenshots = resolve(o.screenshots);
    mkdirSync(o.screenshots, { recursive: true });
  }
  const out = { ok: false, queue_ids: [], played_s: null, jumped_to_s: null, reason_start_s: null, decision_status: null,
    history_len: null, admin_status: null, screenshots: [], errors: [] };
  const ref = { browser: null };
  let printed = false;
  const finish = (code) => {
    if (!printed) {
      printed = true;
      process.stdout.write(`${JSON.stringify(out)}\n`);
    }
    process.exit(code);
  };
  const hard = setTimeout(() => {
    out.errors.push(`driver: timed out after ${o.timeoutS} s`);
    process.stderr.write(`console.mjs: timed out after ${o.timeoutS} s\n`);
    try {
      ref.browser?.process?.()?.kill('SIGKILL');
    } catch { /* gone */ }
    finish(1);
  }, o.timeoutS * 1000);
  let code = 0;
  try {
    await drive(o, out, ref);
    out.ok = true;
  } catch (e) {
    const msg = e instanceof StepError ? e.message : `driver: ${e?.stack || e}`;
    out.errors.push(msg);
    process.stderr.write(`console.mjs: ${msg}\n`);
    code = 1;
  } finally {
    clearTimeout(hard);
    await ref.browser?.close().catch(() => {});
  }
  finish(code);
}

main();
