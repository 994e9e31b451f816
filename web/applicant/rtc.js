// WebRTC helpers of the applicant page: WHIP-style publishing (non-trickle), codec preference, the server's `adapt`
// actions on the senders, and statistics. See docs/live-protocol.md.

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

const DEGRADATION = new Set(['maintain-framerate', 'maintain-resolution', 'balanced']);
const positive = (x) => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** Set the video fields of an `adapt` message on fresh parameters of `sender` (optionally degradationPreference). */
function videoParams(sender, v, withDegradation) {
  const params = sender.getParameters();
  const enc = params.encodings?.[0];
  if (!enc) throw new Error('the video sender has no encoding');
  if (typeof v.active === 'boolean') enc.active = v.active;
  if (positive(v.max_bitrate_bps)) enc.maxBitrate = Math.round(v.max_bitrate_bps);
  if (positive(v.scale_resolution_down_by)) enc.scaleResolutionDownBy = Math.max(1, v.scale_resolution_down_by);
  if (positive(v.max_framerate)) enc.maxFramerate = v.max_framerate;
  if (withDegradation) params.degradationPreference = v.degradation_preference;
  return params;
}

const errText = (e) => String(e?.message || e).slice(0, 200);

/**
 * Apply an `adapt` control message (docs/live-protocol.md) to the video and audio senders (either may be null), one
 * setParameters after the other. A degradationPreference the browser refuses is dropped and the rest applied again.
 * Never throws: resolves {video, audio, error} — what getParameters() reports afterwards (null for a missing
 * sender) and null or the text of what failed.
 */
export async function applyAdapt(videoSender, audioSender, msg) {
  const errors = [];
  const v = msg?.video;
  if (videoSender && v && typeof v === 'object') {
    const degradation = DEGRADATION.has(v.degradation_preference);
    try {
      await videoSender.setParameters(videoParams(videoSender, v, degradation));
    } catch (e) {
      if (!degradation) {
        errors.push(`video: ${errText(e)}`);
      } else {
        try {
          await videoSender.setParameters(videoParams(videoSender, v, false));
          errors.push(`degradationPreference ${v.degradation_preference} refused: ${errText(e)}`);
        } catch (e2) {
          errors.push(`video: ${errText(e2)}`);
        }
      }
    }
  }
  const a = msg?.audio;
  if (audioSender && a && typeof a === 'object' && positive(a.max_bitrate_bps)) {
    try {
      const params = audioSender.getParameters();
      if (!params.encodings?.[0]) throw new Error('the audio sender has no encoding');
      params.encodings[0].maxBitrate = Math.round(a.max_bitrate_bps);
      await audioSender.setParameters(params);
    } catch (e) {
      errors.push(`audio: ${errText(e)}`);
    }
  }
  return { video: videoReport(videoSender), audio: audioReport(audioSender), error: errors.length ? errors.join('; ') : null };
}

function videoReport(sender) {
  if (!sender) return null;
  try {
    const p = sender.getParameters();
    const e = p.encodings?.[0] || {};
    return { active: e.active ?? null, maxBitrate: e.maxBitrate ?? null, scaleResolutionDownBy: e.scaleResolutionDownBy ?? null,
      maxFramerate: e.maxFramerate ?? null, degradationPreference: p.degradationPreference ?? null };
  } catch {
    return null;
  }
}

function audioReport(sender) {
  if (!sender) return null;
  try {
    return { maxBitrate: sender.getParameters().encodings?.[0]?.maxBitrate ?? null };
  } catch {
    return null;
  }
}

/**
 * Outbound statistics of a peer connection: bytes sent (audio + video), the negotiated codecs, the video's frame
 * size, rate and quality limitation, and the selected candidate pair's bandwidth estimate and round-trip time.
 */
export async function outboundStats(pc) {
  const report = await pc.getStats();
  const out = { bytes_sent: 0, video_bytes_sent: 0, audio_bytes_sent: 0, codec: null, audio_codec: null,
    frames_sent: 0, frame_width: null, frame_height: null, fps: null, quality_limitation_reason: null,
    available_outgoing_bitrate_bps: null, rtt_s: null };
  const codecs = new Map();
  let pair = null;
  let selectedPairId = null;
  report.forEach((s) => {
    if (s.type === 'codec') codecs.set(s.id, s);
    else if (s.type === 'transport' && s.selectedCandidatePairId) selectedPairId = s.selectedCandidatePairId;
  });
  report.forEach((s) => {
    if (s.type === 'candidate-pair') {
      if (s.id === selectedPairId || (!selectedPairId && !pair && s.nominated && s.state === 'succeeded')) pair = s;
      return;
    }
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
      if (typeof s.qualityLimitationReason === 'string') out.quality_limitation_reason = s.qualityLimitationReason;
      if (codec) out.codec = codec.mimeType;
    } else if (kind === 'audio') {
      out.audio_bytes_sent += s.bytesSent || 0;
      if (codec) out.audio_codec = codec.mimeType;
    }
  });
  if (pair) {
    if (Number.isFinite(pair.availableOutgoingBitrate)) out.available_outgoing_bitrate_bps = pair.availableOutgoingBitrate;
    if (Number.isFinite(pair.currentRoundTripTime)) out.rtt_s = pair.currentRoundTripTime;
  }
  return out;
}

/**
 * The `sender_stats` control message from outboundStats() and the call's total bytes: unknown fields are left out,
 * integers are integers, the quality limitation reason is at most 32 characters.
 */
export function senderStatsMessage(s, totalBytesSent) {
  const msg = { type: 'sender_stats' };
  const num = (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (num(s.available_outgoing_bitrate_bps)) msg.available_outgoing_bitrate_bps = Math.round(s.available_outgoing_bitrate_bps);
  if (s.quality_limitation_reason) msg.quality_limitation_reason = String(s.quality_limitation_reason).slice(0, 32);
  if (num(s.frame_width) && num(s.frame_height)) {
    msg.frame_width = Math.round(s.frame_width);
    msg.frame_height = Math.round(s.frame_height);
  }
  if (num(s.fps)) msg.fps = Math.round(s.fps * 10) / 10;
  if (num(totalBytesSent)) msg.bytes_sent = Math.round(totalBytesSent);
  if (num(s.rtt_s)) msg.rtt_s = s.rtt_s;
  return msg;
}
