// WebRTC helpers of the applicant page: WHIP-style publishing (non-trickle), codec preference, sender constraints
// and statistics. See docs/live-protocol.md.

/** An error from the signalling endpoint: HTTP status + the server's error code. */
export class WhipError extends Error {
  constructor(status, code, message) {
    super(message || `WHIP ${status} ${code}`);
    this.name = 'WhipError';
    this.status = status;
    this.code = code;
  }
}

/** Read `{"error", "message"}` from a failed response (the body may be empty or not JSON). */
export async function readError(res) {
  let code = '', message = '';
  try {
    const text = await res.text();
    try {
      const j = JSON.parse(text);
      code = String(j.error || '');
      message = String(j.message || '');
    } catch {
      message = text.slice(0, 200);
    }
  } catch { /* no body */ }
  return { code, message };
}

function allCodecs(kind) {
  const out = [];
  const seen = new Set();
  for (const caps of [RTCRtpSender.getCapabilities?.(kind), RTCRtpReceiver.getCapabilities?.(kind)]) {
    for (const c of caps?.codecs || []) {
      const key = `${c.mimeType}|${c.clockRate}|${c.channels || ''}|${c.sdpFmtpLine || ''}`;
      if (!seen.has(key)) { seen.add(key); out.push(c); }
    }
  }
  return out;
}

const AUX = /^video\/(rtx|red|ulpfec|flexfec-03)$/i;

/**
 * Restrict the transceiver's video codecs to `want` ('vp8' | 'h264'), keeping the repair codecs (RTX, RED, FEC).
 * H.264 with packetization-mode=1 goes first, constrained baseline (42e01f) before the others.
 * Returns the list set, or throws when the browser has no such codec.
 */
export function preferCodec(transceiver, want) {
  if (!want) return null;
  const mime = { vp8: 'video/vp8', h264: 'video/h264' }[want.toLowerCase()];
  if (!mime) throw new Error(`unknown codec ${want}`);
  const codecs = allCodecs('video');
  const score = (c) => {
    const f = (c.sdpFmtpLine || '').toLowerCase();
    let s = 0;
    if (f.includes('packetization-mode=1')) s -= 10;
    if (f.includes('profile-level-id=42e0')) s -= 2;
    else if (f.includes('profile-level-id=4200')) s -= 1;
    return s;
  };
  const chosen = codecs.filter((c) => c.mimeType.toLowerCase() === mime).sort((a, b) => score(a) - score(b));
  if (!chosen.length) throw new Error(`this browser cannot send ${want}`);
  const list = [...chosen, ...codecs.filter((c) => AUX.test(c.mimeType))];
  if (typeof transceiver.setCodecPreferences !== 'function') throw new Error('setCodecPreferences unsupported');
  transceiver.setCodecPreferences(list);
  return list;
}

/** Resolve when ICE gathering is complete, or after capMs (non-trickle offers carry what was gathered). */
export function waitIceGathering(pc, capMs = 3000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (complete) => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve(complete);
    };
    const onChange = () => { if (pc.iceGatheringState === 'complete') done(true); };
    const timer = setTimeout(() => done(false), capMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/**
 * Create a peer connection sending `stream` (video + optional audio, sendonly), POST the offer to `whipUrl` and
 * apply the answer. Resolves {pc, videoTransceiver, audioTransceiver, location, gatheringComplete}.
 * Throws WhipError for an HTTP error (the pc is closed), TypeError for a network error.
 */
export async function publish({ stream, whipUrl, resumeKey, iceServers, codec, onCodecError, signal }) {
  const pc = new RTCPeerConnection({ iceServers: iceServers || [], bundlePolicy: 'max-bundle' });
  try {
    const [videoTrack] = stream.getVideoTracks();
    const [audioTrack] = stream.getAudioTracks();
    const videoTransceiver = pc.addTransceiver(videoTrack, { direction: 'sendonly', streams: [stream] });
    const audioTransceiver = audioTrack
      ? pc.addTransceiver(audioTrack, { direction: 'sendonly', streams: [stream] })
      : null;
    if (codec) {
      try {
        preferCodec(videoTransceiver, codec);
      } catch (e) {
        onCodecError?.(e);
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    const gatheringComplete = await waitIceGathering(pc, 3000);
    const res = await fetch(whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${resumeKey}` },
      body: pc.localDescription.sdp,
      cache: 'no-store',
      signal,
    });
    if (res.status !== 201) {
      const { code, message } = await readError(res);
      throw new WhipError(res.status, code, message);
    }
    const answer = await res.text();
    const loc = res.headers.get('Location');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    return {
      pc,
      videoTransceiver,
      audioTransceiver,
      location: loc ? new URL(loc, window.location.href).href : null,
      gatheringComplete,
    };
  } catch (e) {
    pc.close();
    throw e;
  }
}

/** DELETE the WHIP resource (hang-up). Never throws; returns the status (0 for a network error). */
export async function unpublish(locationUrl, resumeKey) {
  if (!locationUrl) return 0;
  try {
    const res = await fetch(locationUrl, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${resumeKey}` },
      keepalive: true,
      cache: 'no-store',
    });
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * Apply a `constraints` control message to a video sender. Returns the encoding actually set.
 * Throws when setParameters refuses (the caller logs it).
 */
export async function applyConstraints(sender, c) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) params.encodings = [{}];
  const enc = params.encodings[0];
  if (Number.isFinite(c.max_bitrate_bps) && c.max_bitrate_bps > 0) enc.maxBitrate = Math.round(c.max_bitrate_bps);
  if (Number.isFinite(c.scale_resolution_down_by) && c.scale_resolution_down_by >= 1) {
    enc.scaleResolutionDownBy = c.scale_resolution_down_by;
  }
  if (Number.isFinite(c.max_framerate) && c.max_framerate > 0) enc.maxFramerate = c.max_framerate;
  await sender.setParameters(params);
  const e = sender.getParameters().encodings?.[0] || {};
  return { maxBitrate: e.maxBitrate, scaleResolutionDownBy: e.scaleResolutionDownBy, maxFramerate: e.maxFramerate };
}

/** Outbound statistics of a peer connection: bytes sent (audio + video) and the negotiated codecs. */
export async function outboundStats(pc) {
  const report = await pc.getStats();
  const out = { bytes_sent: 0, video_bytes_sent: 0, audio_bytes_sent: 0, codec: null, audio_codec: null,
    frames_sent: 0, frame_width: null, frame_height: null, fps: null };
  const codecs = new Map();
  report.forEach((s) => { if (s.type === 'codec') codecs.set(s.id, s); });
  report.forEach((s) => {
    if (s.type !== 'outbound-rtp') return;
    const kind = s.kind || s.mediaType;
    out.bytes_sent += s.bytesSent || 0;
    const codec = codecs.get(s.codecId);
    if (kind === 'video') {
      out.video_bytes_sent += s.bytesSent || 0;
      out.frames_sent += s.framesSent || 0;
      if (s.frameWidth) out.frame_width = s.frameWidth;
      if (s.frameHeight) out.frame_height = s.frameHeight;
      if (s.framesPerSecond) out.fps = s.framesPerSecond;
      if (codec) out.codec = codec.mimeType;
    } else if (kind === 'audio') {
      out.audio_bytes_sent += s.bytesSent || 0;
      if (codec) out.audio_codec = codec.mimeType;
    }
  });
  return out;
}
