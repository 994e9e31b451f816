// SDP candidate helpers for the driver's impairment relay (pure functions, no I/O): find the server's host
// candidate in a WHIP answer and point the answer at the relay instead. Unit tests: tests/e2e/sdp.test.mjs.

/** The line break an SDP uses (CRLF by the RFC; plain LF is accepted). */
const eolOf = (sdp) => (sdp.includes('\r\n') ? '\r\n' : '\n');

/**
 * Parse one `a=candidate:` line (RFC 8839 §5.1). Returns {foundation, component, transport, priority, ip, port,
 * type} (transport lower-case) or null when it is not a candidate line.
 */
export function parseCandidate(line) {
  const m = /^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)/.exec(line.trim());
  if (!m) return null;
  return {
    foundation: m[1],
    component: Number(m[2]),
    transport: m[3].toLowerCase(),
    priority: Number(m[4]),
    ip: m[5],
    port: Number(m[6]),
    type: m[7],
  };
}

/** Every candidate of the SDP, in order, with `mid` (the m-section's index, 0-based) and the original `line`. */
export function candidates(sdp) {
  const out = [];
  let mid = -1;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) mid += 1;
    const c = parseCandidate(line);
    if (c) out.push({ ...c, mid, line });
  }
  return out;
}

/**
 * The candidate the relay forwards to: the first UDP host candidate (RTP component) on 127.0.0.1, else the first
 * UDP host candidate. null when the SDP has none.
 */
export function pickUpstream(sdp) {
  const hosts = candidates(sdp).filter((c) => c.transport === 'udp' && c.type === 'host' && c.component === 1);
  return hosts.find((c) => c.ip === '127.0.0.1') ?? hosts[0] ?? null;
}

/** `ip:port`, with brackets for IPv6. */
export function hostPort(ip, port) {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Parse `ip:port` / `[v6]:port` into {ip, port}; throws on anything else. */
export function parseHostPort(s) {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(String(s).trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new Error(`not an address with a port: ${s}`);
  return { ip: m[1] ?? m[2], port };
}

const sameCandidate = (a, b) =>
  a.transport === b.transport && a.ip === b.ip && a.port === b.port && a.component === b.component;

/**
 * Point `sdp` at the relay: the candidate `chosen` (from pickUpstream) keeps its foundation, priority and type but
 * gets the relay's `ip` and `port`; every other `a=candidate` line, in every m-section, is removed (other
 * attributes, `a=end-of-candidates` included, are kept). An m-section that listed `chosen` keeps the rewritten copy,
 * so a BUNDLE answer that repeats its candidates per m-section stays consistent.
 */
export function rewriteCandidates(sdp, chosen, relay) {
  const eol = eolOf(sdp);
  const lines = sdp.split(/\r?\n/);
  const trailing = lines.length && lines[lines.length - 1] === '' ? lines.pop() : null;
  const out = [];
  for (const line of lines) {
    const c = parseCandidate(line);
    if (!c) {
      out.push(line);
    } else if (sameCandidate(c, chosen)) {
      // a=candidate:<foundation> <component> <transport> <priority> <ip> <port> typ ...
      const f = line.trim().split(' ');
      f[4] = relay.ip;
      f[5] = String(relay.port);
      out.push(f.join(' '));
    }
  }
  if (trailing !== null) out.push(trailing);
  return out.join(eol);
}

/**
 * Remove every `a=candidate` line (keeps `a=end-of-candidates`). Used on the offer when relaying, so the server
 * cannot reach the browser around the relay: it learns the relay's address from the connectivity checks.
 */
export function stripCandidates(sdp) {
  const eol = eolOf(sdp);
  return sdp.split(/\r?\n/).filter((l) => !parseCandidate(l)).join(eol);
}
