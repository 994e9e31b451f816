#!/usr/bin/env node
// The applicant's phone: headless Chromium opens a join link, consents, sends the fake camera + microphone and
// follows the interview until the server says `done` (or hangs up after N s), then prints ONE JSON line on stdout.
// With --relay-cmd, the media goes through an impairment relay (facereview-impair) started for each WHIP answer.
// Usage and output: tests/e2e/README.md.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchPhone, DEFAULT_VIDEO, DEFAULT_AUDIO } from './lib/browser.mjs';
import { hostPort, pickUpstream, rewriteCandidates, stripCandidates } from './lib/sdp.mjs';
import { startRelay } from './lib/relay.mjs';

const USAGE = `usage: node tests/e2e/applicant.mjs --url <join url> [--codec vp8|h264] [--video X.y4m --audio X.wav]
       [--geo lat,lon,acc | --no-geo] [--decline] [--hangup-after-s N] [--timeout-s 120] [--screenshot DIR]
       [--relay-cmd PATH --relay-profile NAME|FILE [--relay-seed N] [--relay-keep-offer-candidates]]`;

const TERMINAL = new Set(['done', 'hungup', 'ended', 'error', 'declined']);
const t0 = Date.now();

function say(...a) {
  process.stderr.write(`applicant: ${a.join(' ')}\n`);
}

function usage(msg) {
  process.stderr.write(`applicant: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        codec: { type: 'string' },
        video: { type: 'string' },
        audio: { type: 'string' },
        geo: { type: 'string' },
        'no-geo': { type: 'boolean', default: false },
        decline: { type: 'boolean', default: false },
        'hangup-after-s': { type: 'string' },
        'timeout-s': { type: 'string', default: '120' },
        screenshot: { type: 'string' },
        'relay-cmd': { type: 'string' },
        'relay-profile': { type: 'string' },
        'relay-seed': { type: 'string' },
        'relay-keep-offer-candidates': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage(e.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const o = {};
  if (!values.url) usage('--url is required');
  try {
    o.url = new URL(values.url);
  } catch {
    usage(`--url: not a URL: ${values.url}`);
  }
  if (values.codec !== undefined) {
    o.codec = values.codec.toLowerCase();
    if (!['vp8', 'h264'].includes(o.codec)) usage('--codec must be vp8 or h264');
    o.url.searchParams.set('codec', o.codec);
  }
  if ((values.video === undefined) !== (values.audio === undefined)) usage('--video and --audio go together');
  if (values.video !== undefined) {
    o.video = resolve(values.video);
    o.audio = resolve(values.audio);
  } else if (existsSync(DEFAULT_VIDEO) && existsSync(DEFAULT_AUDIO)) {
    o.video = DEFAULT_VIDEO;
    o.audio = DEFAULT_AUDIO;
  } else {
    say(`${DEFAULT_VIDEO} not built (testdata/build_fake_capture.sh): using Chromium's built-in fake camera`);
  }
  for (const f of [o.video, o.audio]) if (f && !existsSync(f)) usage(`no such file: ${f}`);
  if (values.geo !== undefined && values['no-geo']) usage('--geo and --no-geo exclude each other');
  if (values.geo !== undefined) {
    const p = values.geo.split(',').map(Number);
    if (p.length < 2 || p.length > 3 || p.some((x) => !Number.isFinite(x)) || Math.abs(p[0]) > 90 || Math.abs(p[1]) > 180) {
      usage('--geo wants lat,lon[,accuracy_m]');
    }
    o.geo = { latitude: p[0], longitude: p[1], accuracy: p[2] ?? 20 };
  }
  o.decline = values.decline;
  if (values['hangup-after-s'] !== undefined) {
    o.hangupAfterS = Number(values['hangup-after-s']);
    if (!Number.isFinite(o.hangupAfterS) || o.hangupAfterS < 0) usage('--hangup-after-s wants seconds ≥ 0');
  }
  o.timeoutS = Number(values['timeout-s']);
  if (!Number.isFinite(o.timeoutS) || o.timeoutS <= 0) usage('--timeout-s wants seconds > 0');
  if (o.decline && o.hangupAfterS !== undefined) usage('--decline and --hangup-after-s exclude each other');
  o.shots = values.screenshot ? resolve(values.screenshot) : null;
  if (values['relay-cmd'] !== undefined) {
    if (o.decline) usage('--decline and --relay-cmd exclude each other');
    const cmd = values['relay-cmd'];
    o.relayCmd = cmd.includes('/') ? resolve(cmd) : cmd; // a bare name is looked up on PATH
    if (cmd.includes('/') && !existsSync(o.relayCmd)) usage(`no such relay command: ${o.relayCmd}`);
    const profile = values['relay-profile'];
    if (!profile) usage('--relay-cmd needs --relay-profile');
    o.relayProfile = existsSync(profile) ? resolve(profile) : profile; // a built-in name or a profile file
    if (values['relay-seed'] !== undefined) {
      o.relaySeed = Number(values['relay-seed']);
      if (!Number.isSafeInteger(o.relaySeed) || o.relaySeed < 0) usage('--relay-seed wants an integer ≥ 0');
    }
    o.relayOfferCandidates = values['relay-keep-offer-candidates'];
  } else if (values['relay-profile'] !== undefined || values['relay-seed'] !== undefined
    || values['relay-keep-offer-candidates']) {
    usage('--relay-profile, --relay-seed and --relay-keep-offer-candidates need --relay-cmd');
  }
  return o;
}

const COUNT_MEDIA_REQUESTS = () => {
  window.__facereview_driver = { getUserMedia: 0 };
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const orig = md.getUserMedia.bind(md);
    md.getUserMedia = (c) => { window.__facereview_driver.getUserMedia += 1; return orig(c); };
  }
};

/** What one relay run adds to the output: {profile, stats} (stats null until it stopped, or when it printed none). */
const relays = [];
let firstRelayAt = null;

/** Stop every relay (closing its stdin) and collect its stats line. */
async function stopRelays() {
  await Promise.all(relays.map(async (r) => {
    if (r.done) return;
    r.done = true;
    r.stats = await r.handle.stop().catch(() => null);
  }));
}

/**
 * The WHIP route in relay mode: forward the POST, start a relay towards the answer's UDP host candidate and give
 * the page the answer pointing at the relay (the only candidate left). Other methods (DELETE) pass through.
 */
async function relayWhip(route, o, errors) {
  const req = route.request();
  if (req.method() !== 'POST') return route.continue();
  try {
    // without the page's own candidates the server cannot reach it around the relay: it learns the relay's
    // address from the connectivity checks (a peer-reflexive candidate), as behind a NAT
    const res = await route.fetch(o.relayOfferCandidates ? {} : { postData: stripCandidates(req.postData() ?? '') });
    if (res.status() !== 201) return await route.fulfill({ response: res });
    const answer = await res.text();
    const chosen = pickUpstream(answer);
    if (!chosen) throw new Error('the WHIP answer has no UDP host candidate');
    const upstream = hostPort(chosen.ip, chosen.port);
    const now = Date.now();
    firstRelayAt ??= now;
    const no = relays.length + 1;
    const handle = await startRelay({
      cmd: o.relayCmd,
      upstream,
      profile: o.relayProfile,
      seed: o.relaySeed,
      offsetMs: now - firstRelayAt, // a re-join continues the same impairment schedule
      maxS: o.timeoutS + 60,
      log: (l) => say(`relay ${no}: ${l}`),
    });
    relays.push({ profile: handle.profile, stats: null, handle, done: false });
    say(`relay ${no} (${handle.profile}, offset ${now - firstRelayAt} ms): ${handle.listenText} -> ${upstream}`);
    const headers = { ...res.headers() };
    for (const h of ['content-length', 'content-encoding', 'transfer-encoding']) delete headers[h];
    return await route.fulfill({ status: res.status(), headers, body: rewriteCandidates(answer, chosen, handle.listen) });
  } catch (e) {
    errors.push(`driver: relay: ${String(e.message || e).split('\n')[0]}`);
    return route.abort('failed').catch(() => { /* page gone */ });
  }
}

let printed = false;
function emit(result) {
  if (printed) return;
  printed = true;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main() {
  const o = parse();
  const deadline = t0 + o.timeoutS * 1000;
  const errors = [];
  const consoleErrors = [];
  let phone = null;
  let page = null;
  let state = null;
  let pageLog = [];
  let mediaRequests = null;

  // hard timeout: whatever hangs, print a result, kill the browser and exit
  const hard = setTimeout(async () => {
    say(`hard timeout after ${o.timeoutS + 30} s`);
    emit({ ok: false, phase: state?.phase ?? null, prompts: state?.prompts ?? [], challenges: state?.challenges ?? [],
      codec: state?.codec ?? null, errors: [...errors, `driver: hard timeout after ${o.timeoutS + 30} s`],
      bytes_sent: state?.bytes_sent ?? 0, ...(o.relayCmd ? { relays: relays.map((r) => ({ profile: r.profile, stats: r.stats })) } : {}) });
    for (const r of relays) r.handle.kill();
    try { phone?.context.browser()?.process?.()?.kill('SIGKILL'); } catch { /* gone */ }
    setTimeout(() => process.exit(1), 2000).unref();
    await phone?.close();
    process.exit(1);
  }, (o.timeoutS + 30) * 1000);

  const shot = async (name) => {
    if (!o.shots || !page) return;
    try {
      mkdirSync(o.shots, { recursive: true });
      await page.screenshot({ path: join(o.shots, `${name}.png`) });
    } catch (e) {
      say(`screenshot ${name}: ${e.message}`);
    }
  };
  const readState = async () => {
    try {
      const r = await page.evaluate(() => ({
        state: JSON.parse(JSON.stringify(window.facereview?.state ?? null)),
        log: (window.facereview?.log ?? []).slice(-200),
        media: window.__facereview_driver?.getUserMedia ?? null,
      }));
      if (r.state) state = r.state;
      pageLog = r.log;
      mediaRequests = r.media;
    } catch (e) {
      errors.push(`driver: cannot read page state: ${e.message.split('\n')[0]}`);
    }
    return state;
  };
  const phaseNow = () => page.evaluate(() => document.body?.dataset.phase ?? null).catch(() => null);
  const waitPhase = async (phases, untilMs) => {
    while (Date.now() < untilMs) {
      const p = await phaseNow();
      if (phases.includes(p)) return p;
      await new Promise((r) => setTimeout(r, 200));
    }
    return null;
  };

  try {
    const insecureOrigins = o.url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(o.url.hostname)
      ? [o.url.origin] : [];
    const contextOptions = {};
    if (o.geo) {
      contextOptions.permissions = ['geolocation'];
      contextOptions.geolocation = o.geo;
    }
    say(`chromium: video=${o.video ?? '(built-in)'} audio=${o.audio ?? '(built-in)'} geo=${o.geo ? `${o.geo.latitude},${o.geo.longitude}` : 'denied'}`);
    phone = await launchPhone({ video: o.video, audio: o.audio, insecureOrigins, contextOptions });
    page = phone.context.pages()[0] || (await phone.context.newPage());
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      if (/^Failed to load resource/.test(text)) return; // HTTP errors: the page reports what matters itself
      consoleErrors.push(text.slice(0, 300));
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${String(e.message || e).slice(0, 300)}`));
    page.on('crash', () => errors.push('driver: page crashed'));
    await page.addInitScript(COUNT_MEDIA_REQUESTS);
    if (o.relayCmd) await page.route('**/whip/**', (route) => relayWhip(route, o, errors));

    say(`open ${o.url.pathname.replace(/[^/]+$/, '…')}${o.url.search}`);
    await page.goto(o.url.href, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, deadline - Date.now()) });
    let p = await waitPhase(['consent', ...TERMINAL, 'setup', 'connecting', 'live'], deadline);
    if (p === 'consent') {
      await shot('consent');
      await page.getByTestId(o.decline ? 'consent-decline' : 'consent-agree').click({ timeout: 10000 });
      say(o.decline ? 'declined' : 'agreed');
    } else if (p === null) {
      errors.push('driver: the page did not show the consent screen in time');
    }

    if (o.decline) {
      await waitPhase(['declined', 'error'], Math.min(deadline, Date.now() + 10000));
      await new Promise((r) => setTimeout(r, 500));
    } else if (p !== null && p !== 'error') {
      p = await waitPhase(['live', ...TERMINAL], deadline);
      if (p === 'live') {
        say('live');
        const liveAt = Date.now();
        let shotLive = false;
        let hungUp = false;
        // follow the interview until a terminal phase, the timeout, or --hangup-after-s
        while (Date.now() < deadline) {
          const cur = await phaseNow();
          if (TERMINAL.has(cur)) break;
          if (!shotLive && (Date.now() - liveAt > 15000 || (await page.evaluate(() => !!window.facereview.state.prompt).catch(() => false)))) {
            shotLive = true;
            await shot('live');
          }
          if (!hungUp && o.hangupAfterS !== undefined && Date.now() - liveAt >= o.hangupAfterS * 1000 && cur === 'live') {
            hungUp = true;
            say(`hang up after ${o.hangupAfterS} s`);
            await page.getByTestId('hangup').click({ timeout: 5000 });
            await page.getByTestId('hangup-confirm').click({ timeout: 5000 });
            await waitPhase([...TERMINAL], Math.min(deadline, Date.now() + 15000));
            break;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
    await readState();
    const phase = state?.phase ?? (await phaseNow());
    if (!TERMINAL.has(phase)) errors.push(`driver: timed out after ${o.timeoutS} s in phase ${phase}`);
    await shot('end');
  } catch (e) {
    errors.push(`driver: ${String(e.message || e).split('\n')[0]}`);
    if (page) await readState();
  } finally {
    await phone?.close();
    await stopRelays(); // after the browser: their counters are final
    clearTimeout(hard);
  }

  // the verdict of this run
  const phase = state?.phase ?? null;
  const pageErrors = (state?.errors ?? []).map((e) => `${e.code}: ${e.message}`);
  const fatalPageError = (state?.errors ?? []).some((e) => e.fatal);
  if (o.relayCmd && relays.length === 0 && (state?.bytes_sent ?? 0) > 0) {
    errors.push('driver: relay: media flowed but no relay was started (the WHIP answer did not go through the driver)');
  }
  const driverErrors = errors.filter((e) => e.startsWith('driver:') || e.startsWith('pageerror:'));
  let ok;
  if (o.decline) {
    ok = phase === 'declined' && mediaRequests === 0;
    if (mediaRequests) errors.push(`driver: getUserMedia called ${mediaRequests} times after declining`);
  } else {
    const wanted = o.hangupAfterS !== undefined ? ['hungup', 'done'] : ['done'];
    ok = wanted.includes(phase) && (state?.bytes_sent ?? 0) > 0;
    if (o.codec && state?.codec && state.codec.toLowerCase() !== `video/${o.codec}`) {
      ok = false;
      errors.push(`driver: asked for ${o.codec}, negotiated ${state.codec}`);
    } else if (o.codec && !state?.codec) {
      ok = false;
    }
  }
  ok = ok && !fatalPageError && driverErrors.length === 0;
  // the join token and the resume key are credentials: keep them out of the output
  const secrets = [o.url.pathname.split('/').pop()].filter((x) => x && x.length >= 8);
  const redact = (x) => secrets.reduce((acc, sec) => acc.split(sec).join('…'), String(x))
    .replace(/([?&]key=)[^&\s'"]+/g, '$1…').replace(/(Bearer )[\w.~+/=-]+/g, '$1…');
  const result = {
    ok,
    phase,
    prompts: state?.prompts ?? [],
    challenges: state?.challenges ?? [],
    codec: state?.codec ?? null,
    errors: [...pageErrors, ...errors, ...consoleErrors.map((c) => `console: ${c}`)].map(redact),
    bytes_sent: state?.bytes_sent ?? 0,
    audio_codec: state?.audio_codec ?? null,
    reconnects: state?.reconnects ?? 0,
    location: state?.location ? 'sent' : state?.location_unavailable ? `unavailable:${state.location_unavailable}` : null,
    adapt_applied: state?.adapt_applied_count ?? 0,
    snapshots_sent: state?.snapshots_sent ?? 0,
    video_paused_s: state?.video_paused_s ?? 0,
    frame_size: state?.frame_size ?? null,
    elapsed_s: Math.round((Date.now() - t0) / 100) / 10,
  };
  if (o.relayCmd) result.relays = relays.map((r) => ({ profile: r.profile, stats: r.stats }));
  if (!ok) {
    say('not ok; the page log (last entries):');
    for (const l of pageLog.slice(-60)) process.stderr.write(`  ${redact(JSON.stringify(l))}\n`);
  }
  emit(result);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  say(`crashed: ${e.stack || e}`);
  emit({ ok: false, phase: null, prompts: [], challenges: [], codec: null, errors: [`driver: ${e.message || e}`], bytes_sent: 0 });
  process.exit(1);
});
