// A mock of the server side of docs/live-protocol.md inside the browser context, for page tests without the Rust
// server: the applicant API and WHIP with page.route, the control channel with page.routeWebSocket. The WHIP answer
// comes from a real RTCPeerConnection in a second page of the same browser (the "answerer"), so media really flows
// and getStats() reports a negotiated codec.

export const TOKEN = 'tok_AbCdEf0123456789-_xyz';
export const RESUME_KEY = 'rk_test_0123456789';

export function defaultJoinInfo() {
  return {
    state: 'waiting',
    business_name: 'Golden Dragon Noodles',
    consent: {
      text: 'Lender consent text v1: the interview is recorded for the review of your loan application.',
      retention_days: 30,
      recorded: ['video', 'audio', 'location', 'device'],
    },
    expires_at_ms: Date.now() + 900_000,
  };
}

/**
 * An `adapt` control message as src/session/control.rs serialises it (`ServerMsg::Adapt`): `video` overrides the
 * video settings; `snapshots` only in audio-only mode.
 */
export function adaptMessage(seq, video = {}, { audio = 32000, snapshots, reason = 'test' } = {}) {
  return {
    type: 'adapt',
    seq,
    video: { active: true, max_bitrate_bps: 600000, scale_resolution_down_by: 1.0, max_framerate: 15.0,
      degradation_preference: 'balanced', ...video },
    audio: { max_bitrate_bps: audio },
    ...(snapshots ? { snapshots } : {}),
    reason,
  };
}

const json = (status, body) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/**
 * Install the mock on `page`. Options (all optional):
 *   join: {status, body}            GET /api/join/{token} (default 200 defaultJoinInfo())
 *   consent: {status, body}         POST consent (default 200 {resume_key})
 *   whip(n): null | {status, body}  the n-th WHIP POST (1-based): null = answer it (default)
 *   onSocket(ws, mock, n)           the n-th control socket (1-based) was opened; default: nothing
 *   onMessage(msg, ws, mock)        a parsed message from the page; default: answer hello with state live
 */
export async function installMock(page, opts = {}) {
  const mock = new Mock(page, opts);
  await mock.install();
  return mock;
}

export class Mock {
  constructor(page, opts) {
    this.page = page;
    this.opts = opts;
    this.requests = []; // {method, path, headers, body}
    this.messages = []; // control messages from the page (parsed), with .socket = n: hello, location,
    //                     challenge_shown, adapt_applied, sender_stats, snapshot, hangup … (see sent(type))
    this.sockets = []; // WebSocketRoute, in order
    this.socketUrls = [];
    this.whipPosts = 0;
    this.deletes = [];
    this.answerer = null;
  }

  async install() {
    const { page, opts } = this;
    this.answerer = await page.context().newPage();
    await this.answerer.evaluate(() => { window.pcs = []; });
    await page.bringToFront(); // a background tab gets no animation frames (clicks wait for them)

    await page.route('**/api/join/**', async (route) => {
      const req = route.request();
      const url = new URL(req.url());
      this.requests.push({ method: req.method(), path: url.pathname, headers: req.headers(), body: req.postData() });
      if (url.pathname.endsWith('/consent') && req.method() === 'POST') {
        const c = opts.consent || { status: 200, body: { resume_key: RESUME_KEY } };
        return route.fulfill(json(c.status, c.body));
      }
      const j = typeof opts.join === 'function' ? opts.join(this) : opts.join;
      const r = j || { status: 200, body: defaultJoinInfo() };
      return route.fulfill(json(r.status, r.body));
    });

    await page.route('**/whip/**', async (route) => {
      const req = route.request();
      const url = new URL(req.url());
      const headers = req.headers();
      this.requests.push({ method: req.method(), path: url.pathname, headers, body: req.postData() });
      if (req.method() === 'DELETE') {
        this.deletes.push({ path: url.pathname, authorization: headers.authorization });
        return route.fulfill({ status: 200, body: '' });
      }
      this.whipPosts += 1;
      const n = this.whipPosts;
      const special = opts.whip ? opts.whip(n, this) : null;
      if (special) return route.fulfill(json(special.status, special.body));
      if (headers.authorization !== `Bearer ${RESUME_KEY}`) {
        return route.fulfill(json(401, { error: 'unauthorized', message: 'no or wrong resume key' }));
      }
      if (!String(headers['content-type'] || '').startsWith('application/sdp')) {
        return route.fulfill(json(415, { error: 'unsupported_media_type', message: 'not SDP' }));
      }
      const answer = await this.answerer.evaluate(async (offer) => {
        const pc = new RTCPeerConnection();
        window.pcs.push(pc);
        await pc.setRemoteDescription({ type: 'offer', sdp: offer });
        await pc.setLocalDescription(await pc.createAnswer());
        if (pc.iceGatheringState !== 'complete') {
          await new Promise((r) => {
            const t = setTimeout(r, 3000);
            pc.addEventListener('icegatheringstatechange', () => {
              if (pc.iceGatheringState === 'complete') { clearTimeout(t); r(); }
            });
          });
        }
        return pc.localDescription.sdp;
      }, req.postData());
      return route.fulfill({
        status: 201,
        headers: { 'Content-Type': 'application/sdp', Location: `/whip/${TOKEN}/peer${n}` },
        body: answer,
      });
    });

    await page.routeWebSocket(/\/ws\//, (ws) => {
      this.sockets.push(ws);
      this.socketUrls.push(ws.url());
      const n = this.sockets.length;
      ws.onMessage((data) => {
        let msg;
        try { msg = JSON.parse(String(data)); } catch { msg = { type: '<bad json>', raw: String(data) }; }
        msg.socket = n;
        this.messages.push(msg);
        if (opts.onMessage) opts.onMessage(msg, ws, this);
        else if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'state', state: 'live', message: 'Connected' }));
      });
      if (opts.onSocket) opts.onSocket(ws, this, n);
    });
  }

  /** Messages of a type from the page. */
  sent(type) {
    return this.messages.filter((m) => m.type === type);
  }

  /** Send a control message to the page on the newest socket. */
  push(msg) {
    const ws = this.sockets[this.sockets.length - 1];
    if (!ws) throw new Error('no control socket yet');
    ws.send(JSON.stringify(msg));
  }

  /** Wait until `pred()` is true (polling), or throw after timeoutMs. */
  async until(pred, timeoutMs = 15000, what = 'condition') {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (pred()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** Connection states of the answerer's peer connections. */
  answererStates() {
    return this.answerer.evaluate(() => window.pcs.map((pc) => pc.connectionState));
  }

  /** Close the answerer's newest peer connection (the server side of the media drops). */
  dropMedia() {
    return this.answerer.evaluate(() => { const pc = window.pcs[window.pcs.length - 1]; pc.close(); });
  }
}
