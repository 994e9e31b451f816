// Unit tests of lib/sdp.mjs (the driver's relay rewrites the WHIP answer's candidates). Run: node --test tests/e2e/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { candidates, hostPort, parseCandidate, parseHostPort, pickUpstream, rewriteCandidates, stripCandidates }
  from './lib/sdp.mjs';

// A WHIP answer as a GStreamer webrtcbin server writes it: BUNDLE of video + audio, rtcp-mux, host candidates on a
// LAN address and on loopback, a TCP candidate, candidates repeated in the second m-section, CRLF line ends.
const CANDS_VIDEO = [
  'a=candidate:1 1 UDP 2015363327 10.0.0.5 51234 typ host',
  'a=candidate:2 1 TCP 1015021823 10.0.0.5 9 typ host tcptype active',
  'a=candidate:3 1 UDP 2015363583 127.0.0.1 40001 typ host',
  'a=candidate:4 1 UDP 1677721855 203.0.113.7 51234 typ srflx raddr 10.0.0.5 rport 51234',
];
const ANSWER = [
  'v=0',
  'o=- 1234567890123456789 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=ice-options:trickle',
  'a=group:BUNDLE video0 audio1',
  'a=msid-semantic: WMS',
  'm=video 51234 UDP/TLS/RTP/SAVPF 96 97',
  'c=IN IP4 10.0.0.5',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:Ab1c',
  'a=ice-pwd:0123456789abcdefghijklmn',
  'a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99',
  'a=setup:active',
  'a=mid:video0',
  'a=recvonly',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtcp-fb:96 transport-cc',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'b=AS:600',
  ...CANDS_VIDEO,
  'a=end-of-candidates',
  'm=audio 51234 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 10.0.0.5',
  'a=ice-ufrag:Ab1c',
  'a=ice-pwd:0123456789abcdefghijklmn',
  'a=setup:active',
  'a=mid:audio1',
  'a=recvonly',
  'a=rtcp-mux',
  'a=rtpmap:111 OPUS/48000/2',
  'a=fmtp:111 useinbandfec=1',
  ...CANDS_VIDEO,
  'a=end-of-candidates',
  '',
].join('\r\n');

const RELAY = { ip: '127.0.0.1', port: 47000 };

describe('lib/sdp.mjs', () => {
  test('parseCandidate reads the fields; other lines are null', () => {
    assert.deepEqual(parseCandidate('a=candidate:4 1 UDP 1677721855 203.0.113.7 51234 typ srflx raddr 10.0.0.5 rport 51234'),
      { foundation: '4', component: 1, transport: 'udp', priority: 1677721855, ip: '203.0.113.7', port: 51234, type: 'srflx' });
    assert.equal(parseCandidate('a=end-of-candidates'), null);
    assert.equal(parseCandidate('a=rtcp-mux'), null);
    assert.equal(candidates(ANSWER).length, 8);
    assert.deepEqual(candidates(ANSWER).map((c) => c.mid), [0, 0, 0, 0, 1, 1, 1, 1]);
  });

  test('pickUpstream: the UDP host candidate on 127.0.0.1 first, else the first UDP host candidate', () => {
    const c = pickUpstream(ANSWER);
    assert.deepEqual([c.ip, c.port, c.transport, c.type], ['127.0.0.1', 40001, 'udp', 'host']);
    const noLoopback = ANSWER.split('\r\n').filter((l) => !l.includes('127.0.0.1')).join('\r\n');
    const d = pickUpstream(noLoopback);
    assert.deepEqual([d.ip, d.port], ['10.0.0.5', 51234]);
    const tcpOnly = ANSWER.split('\r\n').filter((l) => !/^a=candidate:\S+ 1 UDP/.test(l)).join('\r\n');
    assert.equal(pickUpstream(tcpOnly), null);
  });

  test('rewriteCandidates: the only candidate left is the chosen one at the relay address, in each m-section', () => {
    const chosen = pickUpstream(ANSWER);
    const out = rewriteCandidates(ANSWER, chosen, RELAY);
    const left = candidates(out);
    assert.deepEqual(left.map((c) => [c.mid, c.foundation, c.transport, c.priority, c.ip, c.port, c.type]), [
      [0, '3', 'udp', 2015363583, '127.0.0.1', 47000, 'host'],
      [1, '3', 'udp', 2015363583, '127.0.0.1', 47000, 'host'],
    ]);
    assert.ok(!out.includes('10.0.0.5 51234 typ host'));
    assert.ok(!out.includes(' TCP '));
    assert.ok(!out.includes('40001'));
    // everything else is untouched: same lines minus the candidates, same CRLF, end-of-candidates kept
    const rest = (s) => s.split('\r\n').filter((l) => !l.startsWith('a=candidate:'));
    assert.deepEqual(rest(out), rest(ANSWER));
    assert.equal(out.match(/a=end-of-candidates/g).length, 2);
    assert.ok(out.endsWith('\r\n'));
    assert.ok(!/[^\r]\n/.test(out), 'CRLF kept');
  });

  test('rewriteCandidates: candidates only in the first m-section (Chromium style) give one candidate line', () => {
    let seen = 0;
    const firstOnly = ANSWER.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || ++seen <= 4).join('\r\n');
    const chosen = pickUpstream(firstOnly);
    const out = rewriteCandidates(firstOnly, chosen, { ip: '127.0.0.1', port: 5 });
    assert.deepEqual(candidates(out).map((c) => `${c.mid} ${c.ip}:${c.port}`), ['0 127.0.0.1:5']);
  });

  test('a LAN host candidate is rewritten when there is no loopback one; LF-only SDP stays LF', () => {
    const lf = ANSWER.split('\r\n').filter((l) => !l.includes('127.0.0.1')).join('\n');
    const out = rewriteCandidates(lf, pickUpstream(lf), RELAY);
    assert.deepEqual([...new Set(candidates(out).map((c) => c.line))], ['a=candidate:1 1 UDP 2015363327 127.0.0.1 47000 typ host']);
    assert.ok(!out.includes('\r'));
  });

  test('stripCandidates removes every candidate and keeps end-of-candidates', () => {
    const out = stripCandidates(ANSWER);
    assert.equal(candidates(out).length, 0);
    assert.equal(out.match(/a=end-of-candidates/g).length, 2);
    assert.equal(out.split('\r\n').length, ANSWER.split('\r\n').length - 8);
  });

  test('hostPort / parseHostPort', () => {
    assert.equal(hostPort('127.0.0.1', 9), '127.0.0.1:9');
    assert.equal(hostPort('::1', 9), '[::1]:9');
    assert.deepEqual(parseHostPort('127.0.0.1:47000'), { ip: '127.0.0.1', port: 47000 });
    assert.deepEqual(parseHostPort('[::1]:5'), { ip: '::1', port: 5 });
    assert.throws(() => parseHostPort('127.0.0.1'));
    assert.throws(() => parseHostPort('127.0.0.1:0'));
    assert.throws(() => parseHostPort('127.0.0.1:70000'));
  });
});
