//! Receiver statistics of a live peer: webrtcbin's `get-stats` structure parsed into plain numbers.
//!
//! Pure parsing over a `gst::StructureRef` (no pipeline access), so it can be tested with hand-made structures.
//! webrtcbin 1.22 reports the `kind` and `codec-id` of inbound streams wrongly and repeats jitterbuffer figures
//! across SSRCs, so streams are attributed to audio/video by the SSRCs the caller took from the pads' caps.
//! May use `gstreamer` and `gstreamer-webrtc` types only.

use gstreamer as gst;
use gstreamer_webrtc as gst_webrtc;
use serde::Serialize;

/// One received RTP stream (`inbound-rtp`), plus what the sender reported about it (`remote-outbound-rtp`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InboundStats {
    pub ssrc: u32,
    pub packets_received: u64,
    /// Cumulative packets lost (RTP's signed counter: duplicates can make it negative).
    pub packets_lost: i64,
    pub bytes_received: u64,
    /// Interarrival jitter, seconds.
    pub jitter_s: f64,
    /// NACK / PLI / FIR messages this receiver sent for the stream.
    pub nack_count: u64,
    pub pli_count: u64,
    pub fir_count: u64,
    /// Packets and bytes the remote sender says it sent (from its RTCP sender reports), when known.
    pub remote_packets_sent: Option<u64>,
    pub remote_bytes_sent: Option<u64>,
}

impl InboundStats {
    /// Fraction of the expected packets that were lost, in `[0, 1]`.
    pub fn loss_fraction(&self) -> f64 {
        let lost = self.packets_lost.max(0) as f64;
        let expected = self.packets_received as f64 + lost;
        if expected > 0.0 { lost / expected } else { 0.0 }
    }
}

/// A snapshot of a peer's receive side.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeerStats {
    pub video: Option<InboundStats>,
    pub audio: Option<InboundStats>,
    /// Round-trip time, seconds, when webrtcbin reports one (RTCP or ICE).
    pub rtt_s: Option<f64>,
    /// Size of the last decoded video frame.
    pub frame_width: Option<u32>,
    pub frame_height: Option<u32>,
    /// Decoded video frames / audio chunks delivered so far (including those dropped because the consumer was
    /// behind), and how many were dropped.
    pub frames_decoded: u64,
    pub audio_chunks: u64,
    pub dropped: u64,
    /// Transport totals (all streams, RTCP included), when reported.
    pub transport_bytes_received: Option<u64>,
    pub transport_bytes_sent: Option<u64>,
    /// The video jitterbuffer's own counters (retransmission requests and repairs), when it was found.
    pub video_repair: Option<RepairStats>,
}

/// Loss repair on one received stream, from its `rtpjitterbuffer`'s `stats` (cumulative).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RepairStats {
    /// Whether the jitterbuffer asks for retransmissions (NACK) at all.
    pub retransmission: bool,
    /// Retransmission requests sent (each becomes a NACK entry), and retransmitted packets that arrived in time.
    pub rtx_requests: u64,
    pub rtx_repaired: u64,
    /// Packets given up as lost, and packets that arrived too late to be used.
    pub lost: u64,
    pub late: u64,
    /// Mean round trip of a retransmission, seconds, when measured.
    pub rtx_rtt_s: Option<f64>,
    /// Keyframe requests (PLI) sent to the phone, and those held back by the receiver's pacing
    /// (`media::keyframes`); filled in by the peer.
    pub keyframe_requests: u64,
    pub keyframe_requests_held: u64,
    /// Times a stream's timeline was put back on its RTP clock after a pause of seconds (`media::rtpclock`), all
    /// streams; filled in by the peer.
    pub timeline_resyncs: u64,
}

/// Parses an `rtpjitterbuffer`'s `stats` structure.
pub fn parse_jitterbuffer_stats(s: &gst::StructureRef, retransmission: bool) -> RepairStats {
    let n = |f: &str| num(s, f).map(|x| x.max(0.0) as u64).unwrap_or(0);
    RepairStats {
        retransmission,
        rtx_requests: n("rtx-count"),
        rtx_repaired: n("rtx-success-count"),
        lost: n("num-lost"),
        late: n("num-late"),
        rtx_rtt_s: num(s, "rtx-rtt").filter(|x| *x > 0.0).map(|ns| ns / 1e9),
        keyframe_requests: 0,
        keyframe_requests_held: 0,
        timeline_resyncs: 0,
    }
}

/// Reads a numeric field whatever integer/float type GStreamer used for it.
pub(crate) fn num(s: &gst::StructureRef, field: &str) -> Option<f64> {
    let v = s.value(field).ok()?;
    if let Ok(x) = v.get::<u64>() {
        return Some(x as f64);
    }
    if let Ok(x) = v.get::<i64>() {
        return Some(x as f64);
    }
    if let Ok(x) = v.get::<u32>() {
        return Some(x as f64);
    }
    if let Ok(x) = v.get::<i32>() {
        return Some(x as f64);
    }
    if let Ok(x) = v.get::<f64>() {
        return Some(x);
    }
    if let Ok(x) = v.get::<f32>() {
        return Some(x as f64);
    }
    None
}

fn unum(s: &gst::StructureRef, field: &str) -> u64 {
    num(s, field).filter(|x| x.is_finite() && *x > 0.0).map(|x| x as u64).unwrap_or(0)
}

fn stats_type(s: &gst::StructureRef) -> Option<gst_webrtc::WebRTCStatsType> {
    s.get::<gst_webrtc::WebRTCStatsType>("type").ok()
}

/// Parses the structure a `get-stats` promise replied with. `video_ssrc` / `audio_ssrc` are the SSRCs of the
/// streams the peer decodes (from the pads' caps); streams with other SSRCs are ignored.
pub fn parse_stats(reply: &gst::StructureRef, video_ssrc: Option<u32>, audio_ssrc: Option<u32>) -> PeerStats {
    let mut out = PeerStats::default();
    let mut remote_out: Vec<(u32, Option<u64>, Option<u64>)> = Vec::new();
    let mut rtts: Vec<f64> = Vec::new();
    for (_, value) in reply.iter() {
        let Ok(s) = value.get::<gst::Structure>() else { continue };
        let Some(ty) = stats_type(&s) else { continue };
        match ty {
            gst_webrtc::WebRTCStatsType::InboundRtp => {
                let Some(ssrc) = num(&s, "ssrc").map(|x| x as u32) else { continue };
                let stream = InboundStats {
                    ssrc,
                    packets_received: unum(&s, "packets-received"),
                    packets_lost: num(&s, "packets-lost").filter(|x| x.is_finite()).map(|x| x as i64).unwrap_or(0),
                    bytes_received: unum(&s, "bytes-received"),
                    jitter_s: num(&s, "jitter").filter(|x| x.is_finite() && *x >= 0.0).unwrap_or(0.0),
                    nack_count: unum(&s, "nack-count"),
                    pli_count: unum(&s, "pli-count"),
                    fir_count: unum(&s, "fir-count"),
                    remote_packets_sent: None,
                    remote_bytes_sent: None,
                };
                if Some(ssrc) == video_ssrc {
                    out.video = Some(stream);
                } else if Some(ssrc) == audio_ssrc {
                    out.audio = Some(stream);
                }
            }
            gst_webrtc::WebRTCStatsType::RemoteOutboundRtp => {
                if let Some(ssrc) = num(&s, "ssrc").map(|x| x as u32) {
                    let packets = num(&s, "packets-sent").map(|x| x.max(0.0) as u64);
                    let bytes = num(&s, "bytes-sent").map(|x| x.max(0.0) as u64);
                    remote_out.push((ssrc, packets, bytes));
                }
            }
            gst_webrtc::WebRTCStatsType::Transport => {
                if let Some(b) = num(&s, "bytes-received") {
                    *out.transport_bytes_received.get_or_insert(0) += b.max(0.0) as u64;
                }
                if let Some(b) = num(&s, "bytes-sent") {
                    *out.transport_bytes_sent.get_or_insert(0) += b.max(0.0) as u64;
                }
            }
            _ => {}
        }
        for field in ["round-trip-time", "current-round-trip-time"] {
            if let Some(rtt) = num(&s, field).filter(|x| x.is_finite() && *x > 0.0) {
                rtts.push(rtt);
            }
        }
    }
    for (ssrc, packets, bytes) in remote_out {
        for stream in [out.video.as_mut(), out.audio.as_mut()].into_iter().flatten() {
            if stream.ssrc == ssrc {
                stream.remote_packets_sent = packets;
                stream.remote_bytes_sent = bytes;
            }
        }
    }
    out.rtt_s = rtts.into_iter().reduce(f64::max);
    out
}

/// The per-source structures (`application/x-rtp-source-stats`) of rtpsession's `stats` property.
pub fn session_sources(session_stats: &gst::StructureRef) -> Vec<gst::Structure> {
    session_stats
        .get::<gst::glib::ValueArray>("source-stats")
        .map(|a| a.iter().filter_map(|v| v.get::<gst::Structure>().ok()).collect())
        .unwrap_or_default()
}

/// One received stream's figures from rtpsession's own per-source statistics (see [`session_sources`]).
/// webrtcbin 1.22's report misses streams of a bundle and counts loss after repair; these are complete, and their
/// `packets_lost` is the network's (expected − received on arrival).
pub fn parse_session_source(sources: &[gst::Structure], ssrc: u32) -> Option<InboundStats> {
    sources.iter().find_map(|s| {
        if num(s, "ssrc").map(|x| x as u32) != Some(ssrc) || s.get::<bool>("internal").unwrap_or(false) {
            return None;
        }
        let clock_rate = num(s, "clock-rate").filter(|r| *r > 0.0);
        let have_sr = s.get::<bool>("have-sr").unwrap_or(false);
        Some(InboundStats {
            ssrc,
            packets_received: unum(s, "packets-received"),
            packets_lost: num(s, "packets-lost").filter(|x| x.is_finite()).map(|x| x as i64).unwrap_or(0),
            bytes_received: unum(s, "octets-received"),
            jitter_s: match (num(s, "jitter"), clock_rate) {
                (Some(j), Some(rate)) if j.is_finite() && j >= 0.0 => j / rate,
                _ => 0.0,
            },
            nack_count: unum(s, "sent-nack-count"),
            pli_count: unum(s, "sent-pli-count"),
            fir_count: unum(s, "sent-fir-count"),
            remote_packets_sent: have_sr.then(|| unum(s, "sr-packet-count")),
            remote_bytes_sent: have_sr.then(|| unum(s, "sr-octet-count")),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(ssrc: u32, received: u64, lost: i32) -> gst::Structure {
        gst::Structure::builder("application/x-webrtc-stats")
            .field("type", gst_webrtc::WebRTCStatsType::InboundRtp)
            .field("ssrc", ssrc)
            .field("packets-received", received)
            .field("packets-lost", lost)
            .field("bytes-received", received * 1000)
            .field("jitter", 0.004f64)
            .field("pli-count", 2u32)
            .build()
    }

    #[test]
    fn attributes_streams_by_ssrc_and_ignores_others() {
        gst::init().expect("gstreamer");
        let reply = gst::Structure::builder("application/x-webrtc-stats")
            .field("rtp-inbound-stream-stats_1", inbound(1, 90, 10))
            .field("rtp-inbound-stream-stats_2", inbound(2, 50, 0))
            .field("rtp-inbound-stream-stats_3", inbound(3, 5, 0))
            .field(
                "rtp-remote-outbound-stream-stats_1",
                gst::Structure::builder("x")
                    .field("type", gst_webrtc::WebRTCStatsType::RemoteOutboundRtp)
                    .field("ssrc", 1u32)
                    .field("packets-sent", 100u64)
                    .build(),
            )
            .field("not-a-structure", 5i32)
            .build();
        let stats = parse_stats(&reply, Some(1), Some(2));
        let video = stats.video.expect("video stream");
        assert_eq!(video.packets_received, 90);
        assert_eq!(video.packets_lost, 10);
        assert_eq!(video.pli_count, 2);
        assert_eq!(video.remote_packets_sent, Some(100));
        assert!((video.loss_fraction() - 0.1).abs() < 1e-9);
        assert_eq!(stats.audio.expect("audio stream").bytes_received, 50_000);
        let none = parse_stats(&reply, None, None);
        assert!(none.video.is_none() && none.audio.is_none());
    }

    #[test]
    fn session_sources_fill_in_missing_streams() {
        gst::init().expect("gstreamer");
        let source = |ssrc: u32, internal: bool| {
            gst::Structure::builder("application/x-rtp-source-stats")
                .field("ssrc", ssrc)
                .field("internal", internal)
                .field("clock-rate", 48000i32)
                .field("packets-received", 200u64)
                .field("octets-received", 12000u64)
                .field("packets-lost", 3i32)
                .field("jitter", 480u32)
                .field("sent-nack-count", 1u32)
                .field("have-sr", true)
                .field("sr-packet-count", 205u32)
                .build()
        };
        let session = [source(7, true), source(9, false)];
        let audio = parse_session_source(&session, 9).expect("stream 9");
        assert_eq!((audio.packets_received, audio.packets_lost, audio.bytes_received), (200, 3, 12000));
        assert!((audio.jitter_s - 0.01).abs() < 1e-9);
        assert_eq!(audio.remote_packets_sent, Some(205));
        assert!(parse_session_source(&session, 7).is_none(), "our own sources are not inbound");
        assert!(parse_session_source(&session, 8).is_none());
    }

    #[test]
    fn jitterbuffer_stats_give_the_repair_counters() {
        gst::init().expect("gstreamer");
        let s = gst::Structure::builder("application/x-rtp-jitterbuffer-stats")
            .field("num-pushed", 900u64)
            .field("num-lost", 4u64)
            .field("num-late", 2u64)
            .field("rtx-count", 31u64)
            .field("rtx-success-count", 27u64)
            .field("rtx-rtt", 42_000_000u64)
            .build();
        let r = parse_jitterbuffer_stats(&s, true);
        assert_eq!((r.rtx_requests, r.rtx_repaired, r.lost, r.late), (31, 27, 4, 2));
        assert!(r.retransmission);
        assert!((r.rtx_rtt_s.expect("rtt") - 0.042).abs() < 1e-9);
        let empty = parse_jitterbuffer_stats(&gst::Structure::new_empty("x"), false);
        assert_eq!(empty, RepairStats::default());
    }
}
