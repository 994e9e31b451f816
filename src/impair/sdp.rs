//! Pure SDP helpers to put the relay between a browser and webrtcbin: find the server's host candidates and point
//! the answer at the relay. Text in, text out; unparsable lines are left alone (or dropped, for candidates).

use std::net::{IpAddr, SocketAddr};

/// The fields of an `a=candidate` line that matter here (RFC 8839 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub foundation: String,
    pub component: u32,
    /// As written (`UDP`, `udp`, `TCP` ...).
    pub transport: String,
    pub priority: u64,
    pub addr: IpAddr,
    pub port: u16,
    /// `host`, `srflx`, `prflx` or `relay`.
    pub typ: String,
}

impl Candidate {
    /// Parses `a=candidate:...` or `candidate:...` (trailing `\r` allowed). `None` for anything else, including
    /// candidates with a hostname (mDNS) address.
    pub fn parse(line: &str) -> Option<Candidate> {
        let line = line.trim_end_matches(['\r', '\n']);
        let rest = line.strip_prefix("a=").unwrap_or(line).strip_prefix("candidate:")?;
        let mut f = rest.split_ascii_whitespace();
        let foundation = f.next()?.to_owned();
        let component = f.next()?.parse().ok()?;
        let transport = f.next()?.to_owned();
        let priority = f.next()?.parse().ok()?;
        let addr = f.next()?.parse().ok()?;
        let port = f.next()?.parse().ok()?;
        if f.next()? != "typ" {
            return None;
        }
        let typ = f.next()?.to_owned();
        Some(Candidate { foundation, component, transport, priority, addr, port, typ })
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    pub fn is_udp_host(&self) -> bool {
        self.transport.eq_ignore_ascii_case("udp") && self.typ == "host"
    }
}

/// Every parsable candidate in `sdp`, in order.
pub fn candidates(sdp: &str) -> Vec<Candidate> {
    sdp.lines().filter_map(Candidate::parse).collect()
}

/// Keeps the first UDP host candidate for which `pick` is true, rewritten to `to`, and removes every other
/// `a=candidate` line (`a=end-of-candidates` stays). The same transport address repeated in another m-section of
/// a BUNDLE group (same component, same address and port) is kept and rewritten too. `c=` lines holding the
/// original address, `m=` ports equal to the original port and matching `a=rtcp` lines are rewritten as well.
///
/// Returns the new SDP and the original address (the relay's upstream); when nothing matches, the SDP unchanged
/// and `None`. Line endings (`\r\n` or `\n`) are kept.
pub fn rewrite_candidates(
    sdp: &str,
    pick: impl Fn(&Candidate) -> bool,
    to: SocketAddr,
) -> (String, Option<SocketAddr>) {
    let Some(chosen) = candidates(sdp).into_iter().find(|c| c.is_udp_host() && pick(c)) else {
        return (sdp.to_owned(), None);
    };
    let orig = chosen.socket_addr();
    let mut out = String::with_capacity(sdp.len());
    for raw in sdp.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\r', '\n']);
        let ending = &raw[line.len()..];
        let rewritten = if line.starts_with("a=candidate:") {
            match Candidate::parse(line) {
                Some(c) if c.socket_addr() == orig && c.component == chosen.component && c.is_udp_host() => {
                    Some(rewrite_candidate(line, to))
                }
                _ => continue,
            }
        } else if let Some(rest) = line.strip_prefix("c=") {
            rewrite_connection(rest, orig.ip(), to.ip())
        } else if let Some(rest) = line.strip_prefix("m=") {
            rewrite_media_port(rest, orig.port(), to.port())
        } else if let Some(rest) = line.strip_prefix("a=rtcp:") {
            rewrite_rtcp(rest, orig, to)
        } else {
            None
        };
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push_str(ending);
    }
    (out, Some(orig))
}

/// Replaces the address and port (fields 5 and 6) of a candidate line, keeping everything else.
fn rewrite_candidate(line: &str, to: SocketAddr) -> String {
    line.split(' ')
        .enumerate()
        .map(|(i, field)| match i {
            4 => to.ip().to_string(),
            5 => to.port().to_string(),
            _ => field.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn addr_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IP4" } else { "IP6" }
}

/// `c=IN IP4 <addr>[/ttl]`
fn rewrite_connection(rest: &str, from: IpAddr, to: IpAddr) -> Option<String> {
    let mut f = rest.split(' ');
    let (net, _, addr) = (f.next()?, f.next()?, f.next()?);
    let (host, ttl) = addr.split_once('/').map_or((addr, None), |(h, t)| (h, Some(t)));
    if host.parse::<IpAddr>().ok()? != from {
        return None;
    }
    let ttl = ttl.map(|t| format!("/{t}")).unwrap_or_default();
    Some(format!("c={net} {} {to}{ttl}", addr_type(to)))
}

/// `m=<media> <port>[/<n>] <proto> <fmt>...`
fn rewrite_media_port(rest: &str, from: u16, to: u16) -> Option<String> {
    let (media, tail) = rest.split_once(' ')?;
    let (port, tail) = tail.split_once(' ')?;
    let (port, count) = port.split_once('/').map_or((port, None), |(p, n)| (p, Some(n)));
    if port.parse::<u16>().ok()? != from {
        return None;
    }
    let count = count.map(|n| format!("/{n}")).unwrap_or_default();
    Some(format!("m={media} {to}{count} {tail}"))
}

/// `a=rtcp:<port>[ IN IP4 <addr>]`
fn rewrite_rtcp(rest: &str, from: SocketAddr, to: SocketAddr) -> Option<String> {
    let mut f = rest.split(' ');
    if f.next()?.parse::<u16>().ok()? != from.port() {
        return None;
    }
    match (f.next(), f.next(), f.next()) {
        (None, _, _) => Some(format!("a=rtcp:{}", to.port())),
        (Some(net), Some(_), Some(addr)) if addr.parse::<IpAddr>().ok()? == from.ip() => {
            Some(format!("a=rtcp:{} {net} {} {}", to.port(), addr_type(to.ip()), to.ip()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like a webrtcbin 1.22 non-trickle answer to Chrome: BUNDLE, video then audio, candidates on a LAN
    /// address and on loopback (added with `add-local-ip-address`), the default candidate in `m=`/`c=`.
    const ANSWER: &str = "v=0\r\n\
o=- 6530281945624139370 0 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=ice-options:trickle\r\n\
a=group:BUNDLE 0 1\r\n\
m=video 41703 UDP/TLS/RTP/SAVPF 96 97\r\n\
c=IN IP4 127.0.0.1\r\n\
a=rtcp:41703 IN IP4 127.0.0.1\r\n\
a=ice-ufrag:Vx2hVkm8bIBj/Xyz\r\n\
a=ice-pwd:3k3rS5xpTpCGd9Fhs1ReAAszbKcHlUb2\r\n\
a=mid:0\r\n\
a=setup:active\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=recvonly\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtcp-fb:96 nack pli\r\n\
a=rtcp-fb:96 ccm fir\r\n\
a=rtcp-fb:96 transport-cc\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=fingerprint:sha-256 5A:1F:0C:AA:8B:7E:21:3D:90:4E:77:12:6B:FE:19:C0:44:D2:89:3A:61:0F:B5:E8:2C:97:13:4D:A0:55:6E:C1\r\n\
a=candidate:1 1 UDP 2015363327 10.0.3.15 50931 typ host\r\n\
a=candidate:2 1 TCP 1015021823 10.0.3.15 9 typ host tcptype active\r\n\
a=candidate:3 1 UDP 2015363071 127.0.0.1 41703 typ host\r\n\
a=candidate:4 1 TCP 1010827519 127.0.0.1 9 typ host tcptype active\r\n\
a=candidate:5 1 UDP 1679819007 203.0.113.7 50931 typ srflx raddr 10.0.3.15 rport 50931\r\n\
a=end-of-candidates\r\n\
m=audio 41703 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 127.0.0.1\r\n\
a=ice-ufrag:Vx2hVkm8bIBj/Xyz\r\n\
a=ice-pwd:3k3rS5xpTpCGd9Fhs1ReAAszbKcHlUb2\r\n\
a=mid:1\r\n\
a=setup:active\r\n\
a=rtcp-mux\r\n\
a=recvonly\r\n\
a=rtpmap:111 OPUS/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=fingerprint:sha-256 5A:1F:0C:AA:8B:7E:21:3D:90:4E:77:12:6B:FE:19:C0:44:D2:89:3A:61:0F:B5:E8:2C:97:13:4D:A0:55:6E:C1\r\n\
a=candidate:1 1 UDP 2015363327 10.0.3.15 50931 typ host\r\n\
a=candidate:3 1 UDP 2015363071 127.0.0.1 41703 typ host\r\n\
a=end-of-candidates\r\n";

    fn loopback(c: &Candidate) -> bool {
        c.addr.is_loopback()
    }

    #[test]
    fn parses_candidates() {
        let all = candidates(ANSWER);
        assert_eq!(all.len(), 7);
        assert_eq!(all[2].socket_addr(), "127.0.0.1:41703".parse().unwrap());
        assert!(all[2].is_udp_host());
        assert!(!all[1].is_udp_host());
        assert!(!all[4].is_udp_host());
        assert_eq!(all[4].typ, "srflx");
        assert!(Candidate::parse("a=candidate:1 1 UDP 1 abcd.local 5000 typ host").is_none());
        assert!(Candidate::parse("a=candidate:garbage").is_none());
        assert!(Candidate::parse("a=mid:0").is_none());
    }

    #[test]
    fn points_the_answer_at_the_relay() {
        let relay: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let (sdp, orig) = rewrite_candidates(ANSWER, loopback, relay);
        assert_eq!(orig, Some("127.0.0.1:41703".parse().unwrap()));
        let cands: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=candidate")).collect();
        assert_eq!(
            cands, ["a=candidate:3 1 UDP 2015363071 127.0.0.1 50000 typ host"; 2],
            "one candidate per bundled section, rewritten"
        );
        assert!(sdp.contains("a=candidate:3 1 UDP 2015363071 127.0.0.1 50000 typ host\r\n"));
        assert!(!sdp.contains("10.0.3.15") && !sdp.contains("203.0.113.7") && !sdp.contains("41703"));
        assert_eq!(sdp.matches("a=end-of-candidates\r\n").count(), 2);
        assert!(sdp.contains("m=video 50000 UDP/TLS/RTP/SAVPF 96 97\r\n"));
        assert!(sdp.contains("m=audio 50000 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert!(sdp.contains("a=rtcp:50000 IN IP4 127.0.0.1\r\n"));
        assert!(sdp.contains("o=- 6530281945624139370 0 IN IP4 0.0.0.0\r\n"));
        // Everything else is untouched, line for line.
        let kept = |s: &str| {
            let touched = ["a=candidate", "m=", "c=", "a=rtcp:"];
            s.lines().filter(|l| !touched.iter().any(|t| l.starts_with(t))).map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(kept(ANSWER), kept(&sdp));
        assert!(sdp.ends_with("\r\n"));
    }

    #[test]
    fn rewrites_the_connection_line_to_another_address() {
        let relay: SocketAddr = "10.213.7.1:40000".parse().unwrap();
        let (sdp, orig) = rewrite_candidates(ANSWER, |c| c.addr.to_string().starts_with("10."), relay);
        assert_eq!(orig, Some("10.0.3.15:50931".parse().unwrap()));
        assert!(sdp.contains("a=candidate:1 1 UDP 2015363327 10.213.7.1 40000 typ host\r\n"));
        assert_eq!(sdp.matches("a=candidate").count(), 2);
        // c= held 127.0.0.1, not the picked address: untouched.
        assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"));
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        let (sdp, _) = rewrite_candidates(ANSWER, loopback, v6);
        assert!(sdp.contains("c=IN IP6 ::1\r\n"));
        assert!(sdp.contains("a=candidate:3 1 UDP 2015363071 ::1 4000 typ host\r\n"));
    }

    #[test]
    fn no_match_leaves_the_sdp_alone() {
        let to: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (sdp, orig) = rewrite_candidates(ANSWER, |c| c.port == 1, to);
        assert_eq!((sdp.as_str(), orig), (ANSWER, None));
        let (sdp, orig) = rewrite_candidates("garbage\nm=\nc=IN\na=rtcp:x\n", |_| true, to);
        assert_eq!((sdp.as_str(), orig), ("garbage\nm=\nc=IN\na=rtcp:x\n", None));
        let lf = ANSWER.replace("\r\n", "\n");
        let (sdp, _) = rewrite_candidates(&lf, loopback, to);
        assert!(!sdp.contains('\r') && sdp.contains("m=video 1 UDP"));
    }
}
