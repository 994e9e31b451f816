// The Chromium driver (applicant.mjs) end to end against a stand-in server (lib/mock-server.mjs): the CLI, the JSON
// line and the exit code that tests/live_e2e.rs relies on. Run: node --test tests/e2e/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockServer, defaultScript } from './lib/mock-server.mjs';
import { adaptMessage } from './lib/mock.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DRIVER = join(HERE, 'applicant.mjs');
const FAKE_RELAY = join(HERE, 'lib', 'fake-relay.mjs');

function run(args, timeoutMs = 90000) {
  return new Promise((resolve) => {
    execFile(process.execPath, [DRIVER, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const lines = stdout.trim().split('\n').filter(Boolean);
      let json = null;
      try { json = JSON.parse(lines[lines.length - 1]); } catch { /* reported below */ }
      resolve({ code: err ? (err.code ?? 1) : 0, lines, json, stderr });
    });
  });
}

const kinds = (srv, kind) => srv.events.filter((e) => e.kind === kind);
const sent = (srv, type) => srv.events.filter((e) => e.kind === 'ws_message' && e.msg.type === type).map((e) => e.msg);

describe('applicant.mjs', () => {
  test('a whole interview with --codec h264 --geo: ok, prompts, challenge, H.264, location', async () => {
    const srv = await startMockServer();
    try {
      const r = await run(['--url', srv.joinUrl, '--codec', 'h264', '--geo', '31.2304,121.4737,15', '--timeout-s', '60']);
      assert.equal(r.lines.length, 1, `one JSON line on stdout; stderr:\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json;
      assert.equal(j.ok, true, JSON.stringify(j));
      assert.equal(j.phase, 'done');
      assert.deepEqual(j.prompts.map((p) => p.id), ['q1', 'q2']);
      assert.equal(j.prompts[0].text, 'What does your business sell?');
      assert.deepEqual(j.challenges.map((c) => [c.id, c.kind, c.shown]), [['c1', 'turn_left', true]]);
      assert.equal(j.codec, 'video/H264');
      assert.equal(j.audio_codec, 'audio/opus');
      assert.ok(j.bytes_sent > 20000, String(j.bytes_sent));
      assert.deepEqual(j.errors, []);
      assert.equal(j.location, 'sent');
      for (const k of ['ok', 'phase', 'prompts', 'challenges', 'codec', 'errors', 'bytes_sent']) assert.ok(k in j, k);
      // what the server saw
      assert.equal(kinds(srv, 'whip_post').length, 1);
      assert.equal(kinds(srv, 'whip_delete').length, 1);
      assert.equal(sent(srv, 'hello').length, 1);
      assert.deepEqual(sent(srv, 'challenge_shown'), [{ type: 'challenge_shown', id: 'c1' }]);
      const loc = sent(srv, 'location')[0];
      assert.deepEqual([loc.lat, loc.lon, loc.accuracy_m, loc.coord_system], [31.2304, 121.4737, 15, 'wgs84']);
    } finally {
      await srv.close();
    }
  });

  test('--codec vp8 --no-geo: VP8 and location_unavailable(denied)', async () => {
    const srv = await startMockServer();
    try {
      const r = await run(['--url', srv.joinUrl, '--codec', 'vp8', '--no-geo', '--timeout-s', '60']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.codec, 'video/VP8');
      assert.equal(r.json.location, 'unavailable:denied');
      assert.deepEqual(sent(srv, 'location_unavailable'), [{ type: 'location_unavailable', reason: 'denied' }]);
      assert.equal(sent(srv, 'location').length, 0);
    } finally {
      await srv.close();
    }
  });

  test('--decline: ok, no media, nothing posted', async () => {
    const srv = await startMockServer();
    try {
      const r = await run(['--url', srv.joinUrl, '--decline', '--timeout-s', '30']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.ok, true);
      assert.equal(r.json.phase, 'declined');
      assert.equal(r.json.bytes_sent, 0);
      assert.equal(kinds(srv, 'consent').length, 0);
      assert.equal(kinds(srv, 'whip_post').length, 0);
    } finally {
      await srv.close();
    }
  });

  test('--hangup-after-s: the applicant hangs up (hangup message + DELETE)', async () => {
    // an interview that would last long: only the first prompt
    const srv = await startMockServer({ script: defaultScript().slice(0, 3) });
    try {
      const r = await run(['--url', srv.joinUrl, '--hangup-after-s', '2', '--timeout-s', '60', '--screenshot', '/tmp/facereview-driver-shots']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.ok, true);
      assert.equal(r.json.phase, 'hungup');
      assert.equal(sent(srv, 'hangup').length, 1);
      assert.equal(kinds(srv, 'whip_delete').length, 1);
    } finally {
      await srv.close();
    }
  });

  test('an unknown link: ok false, exit 1, phase error', async () => {
    const srv = await startMockServer();
    try {
      const r = await run(['--url', `${srv.base}/join/not-a-token`, '--timeout-s', '30']);
      assert.equal(r.code, 1);
      assert.equal(r.json.ok, false);
      assert.equal(r.json.phase, 'error');
      assert.ok(r.json.errors.some((e) => e.startsWith('unknown_token')), JSON.stringify(r.json.errors));
    } finally {
      await srv.close();
    }
  });

  test('a timeout gives ok false and the JSON line', async () => {
    const srv = await startMockServer({ script: defaultScript().slice(0, 3) }); // never says done
    try {
      const r = await run(['--url', srv.joinUrl, '--timeout-s', '8']);
      assert.equal(r.code, 1);
      assert.equal(r.json.ok, false);
      assert.ok(r.json.errors.some((e) => /timed out/.test(e)), JSON.stringify(r.json.errors));
      assert.ok(r.json.bytes_sent > 0);
    } finally {
      await srv.close();
    }
  });

  test('--relay-cmd (stand-in relay): all media through the relay; adapt, audio-only snapshots, relay stats', async () => {
    const live = { type: 'state', state: 'live', message: 'Connected' };
    const script = [
      [300, live],
      [200, adaptMessage(1, { max_bitrate_bps: 300000, scale_resolution_down_by: 2.0 }, { reason: 'start' })],
      [100, { type: 'prompt', id: 'q1', text: 'What does your business sell?', index: 1, total: 1 }],
      [2500, adaptMessage(2, { active: false }, { audio: 16000, reason: 'audio-only',
        snapshots: { interval_ms: 1000, width: 160, height: 120, quality: 0.6 } })],
      [3000, adaptMessage(3, { active: true, max_bitrate_bps: 250000 }, { reason: 'video back' })],
      [1500, { type: 'done', message: 'Thank you, the interview is complete.' }],
    ];
    const srv = await startMockServer({ script });
    try {
      const r = await run(['--url', srv.joinUrl, '--relay-cmd', FAKE_RELAY, '--relay-profile', 'clean', '--relay-seed', '7',
        '--timeout-s', '60']);
      assert.equal(r.lines.length, 1, `one JSON line on stdout; stderr:\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const j = r.json;
      assert.equal(j.ok, true, JSON.stringify(j));
      assert.equal(j.phase, 'done');
      assert.deepEqual(j.errors, []);
      // the relay: started once, forwarded the call, stopped with its stats
      assert.equal(j.relays.length, 1, JSON.stringify(j.relays));
      const { profile, stats } = j.relays[0];
      assert.equal(profile, 'clean');
      assert.equal(stats.offset_ms, 0);
      assert.equal(stats.seed, 7);
      assert.ok(stats.up.delivered > 100, JSON.stringify(stats));
      assert.ok(stats.down.delivered > 10, JSON.stringify(stats));
      // every media byte went through it (the relay also carries RTP headers, RTCP, STUN and DTLS)
      assert.ok(stats.up.delivered_bytes >= j.bytes_sent && j.bytes_sent > 20000, `${stats.up.delivered_bytes} < ${j.bytes_sent}`);
      // adaptation as the page reported it
      assert.equal(j.adapt_applied, 3);
      assert.ok(j.snapshots_sent >= 2, String(j.snapshots_sent));
      assert.ok(j.video_paused_s >= 2 && j.video_paused_s <= 5, String(j.video_paused_s));
      assert.ok(Array.isArray(j.frame_size) && j.frame_size.length === 2 && j.frame_size[0] > 0, JSON.stringify(j.frame_size));
      // and as the server saw it
      assert.deepEqual(sent(srv, 'adapt_applied').map((m) => [m.seq, m.video.active, m.error]),
        [[1, true, null], [2, false, null], [3, true, null]]);
      assert.equal(sent(srv, 'snapshot').length, j.snapshots_sent);
      assert.ok(sent(srv, 'sender_stats').length >= 2);
      assert.equal(kinds(srv, 'whip_delete').length, 1, 'DELETE passes through the route');
    } finally {
      await srv.close();
    }
  });

  test('bad usage: exit 2', async () => {
    const r = await run(['--codec', 'av1']);
    assert.equal(r.code, 2);
    assert.equal((await run(['--url', 'http://127.0.0.1:1/join/x', '--relay-cmd', FAKE_RELAY])).code, 2, 'no profile');
    assert.equal((await run(['--url', 'http://127.0.0.1:1/join/x', '--relay-profile', 'clean'])).code, 2, 'no command');
    assert.equal((await run(['--url', 'http://127.0.0.1:1/join/x', '--relay-cmd', '/nonexistent/facereview-impair',
      '--relay-profile', 'clean'])).code, 2, 'missing command');
  });
});
