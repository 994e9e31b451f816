// A stand-in for `facereview serve` (applicant side only), to test the Chromium driver (applicant.mjs) end to end
// without the Rust server: HTTP + a hand-rolled WebSocket (RFC 6455, text frames) on 127.0.0.1, WHIP answers from
// a real RTCPeerConnection in a separate headless Chromium ("the server's peer"). Follows docs/live-protocol.md.
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, normalize, extname, sep } from 'node:path';
import { REPO, launchBrowser } from './browser.mjs';
import { adaptMessage } from './mock.mjs';

const ROOT = join(REPO, 'web', 'applicant');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The default interview: an `adapt`, two questions and a challenge, then done (about 5 s). A script is a list of
 * [delay ms after the previous step, message to the page], started by the page's first `hello`.
 */
export function defaultScript() {
  return [
    [300, { type: 'state', state: 'live', message: 'Connected' }],
    [200, adaptMessage(1, { max_bitrate_bps: 450000, degradation_preference: 'maintain-framerate' }, { reason: 'start' })],
    [100, { type: 'prompt', id: 'q1', text: 'What does your business sell?', index: 1, total: 2 }],
    [800, { type: 'progress', elapsed_s: 1.5, total_s: 5, face_visible: true }],
    [500, { type: 'challenge', id: 'c1', kind: 'turn_left', text: 'Turn your head to the left', deadline_ms: 1500 }],
    [1600, { type: 'prompt', id: 'q2', text: 'Where is your shop?', index: 2, total: 2 }],
    [1500, { type: 'progress', elapsed_s: 5, total_s: 5, face_visible: true }],
    [200, { type: 'done', message: 'Thank you, the interview is complete.' }],
  ];
}

export async function startMockServer({ token = `tok_${randomBytes(16).toString('base64url')}`, joinStatus = 200,
  script = defaultScript() } = {}) {
  const resumeKey = `rk_${randomBytes(12).toString('hex')}`;
  const events = []; // what happened, for assertions: {kind, ...}
  const browser = await launchBrowser({});
  const answerer = await browser.newPage();
  await answerer.evaluate(() => { window.pcs = []; });
  let consented = false;
  let peers = 0;
  const livePeers = new Set();

  const send = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = (req) => new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    let m;
    try {
      if (req.method === 'GET' && (m = path.match(/^\/join\/([^/]+)$/))) {
        res.writeHead(200, { 'Content-Type': TYPES['.html'] });
        return res.end(await readFile(join(ROOT, 'index.html')));
      }
      if (req.method === 'GET' && path.startsWith('/static/applicant/')) {
        const f = normalize(join(ROOT, decodeURIComponent(path.slice(18))));
        if (!f.startsWith(ROOT + sep)) return send(res, 404, { error: 'not_found', message: 'not found' });
        res.writeHead(200, { 'Content-Type': TYPES[extname(f)] || 'application/octet-stream' });
        return res.end(await readFile(f));
      }
      if ((m = path.match(/^\/api\/join\/([^/]+)(\/consent)?$/))) {
        if (m[1] !== token) return send(res, 404, { error: 'unknown_token', message: 'unknown link' });
        if (joinStatus === 410) return send(res, 410, { error: 'expired', message: 'the link expired' });
        if (!m[2] && req.method === 'GET') {
          events.push({ kind: 'join_info' });
          return send(res, 200, { state: 'waiting', business_name: 'Mock Noodle Bar',
            consent: { text: 'Mock consent v1', retention_days: 30, recorded: ['video', 'audio', 'location', 'device'] },
            expires_at_ms: Date.now() + 900_000 });
        }
        if (m[2] && req.method === 'POST') {
          const body = JSON.parse((await readBody(req)) || '{}');
          events.push({ kind: 'consent', body });
          if (body.accepted !== true) return send(res, 400, { error: 'not_accepted', message: 'consent not accepted' });
          if (consented) return send(res, 409, { error: 'already_joined', message: 'another device joined' });
          consented = true;
          return send(res, 200, { resume_key: resumeKey });
        }
      }
      if ((m = path.match(/^\/whip\/([^/]+)(?:\/([^/]+))?$/))) {
        if (m[1] !== token) return send(res, 404, { error: 'unknown_token', message: 'unknown' });
        if (req.headers.authorization !== `Bearer ${resumeKey}`) return send(res, 401, { error: 'unauthorized', message: 'bad key' });
        if (req.method === 'POST' && !m[2]) {
          if (!consented) return send(res, 403, { error: 'consent_required', message: 'consent first' });
          if (!String(req.headers['content-type']).startsWith('application/sdp')) {
            return send(res, 415, { error: 'unsupported_media_type', message: 'not SDP' });
          }
          const offer = await readBody(req);
          if (!/\nm=video /.test(offer)) return send(res, 422, { error: 'no_video', message: 'no video' });
          peers += 1;
          const peer = `p${peers}`;
          const answer = await answerer.evaluate(async (sdp) => {
            const pc = new RTCPeerConnection();
            window.pcs.push(pc);
            await pc.setRemoteDescription({ type: 'offer', sdp });
            await pc.setLocalDescription(await pc.createAnswer());
            if (pc.iceGatheringState !== 'complete') {
              await new Promise((r) => {
                const t = setTimeout(r, 3000);
                pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); r(); } });
              });
            }
            return pc.localDescription.sdp;
          }, offer);
          livePeers.add(peer);
          events.push({ kind: 'whip_post', peer });
          res.writeHead(201, { 'Content-Type': 'application/sdp', Location: `/whip/${token}/${peer}` });
          return res.end(answer);
        }
        if (req.method === 'DELETE' && m[2]) {
          if (!livePeers.delete(m[2])) return send(res, 404, { error: 'not_found', message: 'no such peer' });
          events.push({ kind: 'whip_delete', peer: m[2] });
          res.writeHead(200);
          return res.end();
        }
      }
      send(res, 404, { error: 'not_found', message: 'not found' });
    } catch (e) {
      send(res, 500, { error: 'internal', message: 'internal error' });
      events.push({ kind: 'server_error', detail: String(e) });
    }
  });

  server.on('upgrade', (req, socket) => {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/ws\/([^/]+)$/);
    const reject = (status, text) => { socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`); };
    if (!m || m[1] !== token) return reject(404, 'Not Found');
    if (url.searchParams.get('key') !== resumeKey) return reject(401, 'Unauthorized');
    const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + WS_GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const timers = [];
    const frame = (opcode, payload) => {
      const n = payload.length;
      const head = n < 126 ? Buffer.from([0x80 | opcode, n])
        : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255])
          : (() => { const b = Buffer.alloc(10); b[0] = 0x80 | opcode; b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); return b; })();
      if (!socket.destroyed) socket.write(Buffer.concat([head, payload]));
    };
    const sendJson = (o) => frame(1, Buffer.from(JSON.stringify(o)));
    let buf = Buffer.alloc(0);
    let started = false;
    let fragments = null; // a text message arriving in several frames (opcode 1 without FIN, then 0s)
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 15;
        const fin = (buf[0] & 0x80) !== 0;
        let len = buf[1] & 127;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        const masked = buf[1] & 128;
        const mask = masked ? buf.subarray(off, off + 4) : null;
        if (masked) off += 4;
        if (buf.length < off + len) return;
        const payload = Buffer.from(buf.subarray(off, off + len));
        if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
        buf = buf.subarray(off + len);
        if (opcode === 8) { frame(8, payload.subarray(0, 2)); socket.end(); return; }
        if (opcode === 9) { frame(10, payload); continue; }
        if (opcode === 1 && !fin) { fragments = [payload]; continue; }
        if (opcode === 0 && fragments) {
          fragments.push(payload);
          if (!fin) continue;
        } else if (opcode !== 1) {
          continue;
        }
        const text = (opcode === 0 ? Buffer.concat(fragments) : payload).toString('utf8');
        if (opcode === 0) fragments = null;
        let msg;
        try { msg = JSON.parse(text); } catch { continue; }
        events.push({ kind: 'ws_message', msg });
        if (msg.type === 'hello' && !started) {
          started = true;
          let at = 0;
          for (const [delay, out] of script) {
            at += delay;
            timers.push(setTimeout(() => { events.push({ kind: 'ws_sent', type: out.type }); sendJson(out); }, at));
          }
        }
      }
    });
    const stop = () => timers.forEach(clearTimeout);
    socket.on('close', stop);
    socket.on('error', stop);
  });

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    token,
    joinUrl: `${base}/join/${token}`,
    events,
    async close() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(() => r()));
      await browser.close();
    },
  };
}
