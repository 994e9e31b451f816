#!/usr/bin/env node
// A stand-in for `facereview-impair` (tests only): a plain UDP forwarder without any impairment that speaks the same
// command line and stdout protocol, so the driver's relay mode can be tested without the Rust binary.
//
//   node tests/e2e/lib/fake-relay.mjs --upstream 127.0.0.1:PORT --profile NAME [--seed N] [--offset-ms X] [--max-s S]
//
// Prints {"listen":"127.0.0.1:L","profile":"NAME"} once listening, forwards until stdin closes (or --max-s), then
// prints {"stats":{...}} (the shape of the Rust relay's RelayStats) and exits. Like the real relay it behaves as a
// symmetric NAT: the client talks to `listen`, the server sees the relay's own upstream socket.
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { hostPort, parseHostPort } from './sdp.mjs';

const fail = (msg) => {
  process.stderr.write(`fake-relay: ${msg}\n`);
  process.exit(2);
};

let values;
try {
  ({ values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      profile: { type: 'string', default: 'clean' },
      seed: { type: 'string', default: '1' },
      'offset-ms': { type: 'string', default: '0' },
      'max-s': { type: 'string', default: '900' },
    },
    strict: true,
  }));
} catch (e) {
  fail(e.message);
}
if (!values.upstream) fail('--upstream is required');
let upstream;
try {
  upstream = parseHostPort(values.upstream);
} catch (e) {
  fail(e.message);
}
const maxS = Number(values['max-s']);
if (!(maxS > 0)) fail('--max-s wants seconds > 0');

const started = Date.now();
const dir = () => ({ packets_in: 0, bytes_in: 0, delivered: 0, delivered_bytes: 0, dropped_loss: 0, dropped_queue: 0,
  dropped_outage: 0, dropped_other: 0 });
const stats = { profile: values.profile, up: dir(), down: dir(), ignored_foreign: 0, client: null, upstream_local: null,
  elapsed_ms: 0, offset_ms: Number(values['offset-ms']) || 0, seed: Number(values.seed) || 0 };
let client = null; // {address, port}: the client's latest source address
let stopped = false;

const family = upstream.ip.includes(':') ? 'udp6' : 'udp4';
const front = createSocket('udp4'); // client-facing
const back = createSocket(family); // upstream-facing

front.on('message', (buf, rinfo) => {
  stats.up.packets_in += 1;
  stats.up.bytes_in += buf.length;
  if (stopped) return void (stats.up.dropped_other += 1);
  client = { address: rinfo.address, port: rinfo.port };
  back.send(buf, upstream.port, upstream.ip, (err) => {
    if (err) stats.up.dropped_other += 1;
    else { stats.up.delivered += 1; stats.up.delivered_bytes += buf.length; }
  });
});

back.on('message', (buf, rinfo) => {
  if (rinfo.address !== upstream.ip || rinfo.port !== upstream.port) return void (stats.ignored_foreign += 1);
  stats.down.packets_in += 1;
  stats.down.bytes_in += buf.length;
  if (stopped || !client) return void (stats.down.dropped_other += 1);
  front.send(buf, client.port, client.address, (err) => {
    if (err) stats.down.dropped_other += 1;
    else { stats.down.delivered += 1; stats.down.delivered_bytes += buf.length; }
  });
});

for (const s of [front, back]) s.on('error', (e) => process.stderr.write(`fake-relay: ${e.message}\n`));

await Promise.all([
  new Promise((r) => front.bind(0, '127.0.0.1', r)),
  new Promise((r) => back.bind(0, family === 'udp6' ? '::' : '0.0.0.0', r)),
]);
const listen = front.address();
stats.upstream_local = hostPort(back.address().address, back.address().port);
process.stdout.write(`${JSON.stringify({ listen: hostPort(listen.address, listen.port), profile: values.profile })}\n`);

const limit = setTimeout(() => { stopped = true; }, maxS * 1000);
limit.unref();

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  stopped = true;
  clearTimeout(limit);
  stats.client = client ? hostPort(client.address, client.port) : null;
  stats.elapsed_ms = Date.now() - started;
  process.stdout.write(`${JSON.stringify({ stats })}\n`, () => {
    front.close();
    back.close();
    process.exit(0);
  });
}
process.stdin.on('end', finish);
process.stdin.on('close', finish);
process.stdin.on('error', finish);
process.stdin.resume();
