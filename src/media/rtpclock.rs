//! Keeps each received stream on its sender's RTP clock across pauses. Pure: an RTP packet's timestamp and the pts
//! the jitterbuffer gave it in, a correction out; the peer applies it.
//!
//! Why: the jitterbuffers run in `buffer-mode=none`, where a packet's pts is the stream's first pts plus the RTP
//! time since its first packet. When the RTP timestamp jumps by more than 3 s (a phone that pauses its video for
//! the controller's audio-only step, or set `active: false`; a network outage of seconds), `rtpjitterbuffer`
//! resets its clock and restarts the stream's timeline at 0. Every later frame then came before the previous
//! ones; the peer keeps a track from going back in time, so they were all stamped a nanosecond apart at the
//! pause (seen live at 150 kb/s: 120 frames in one "second", the challenges that followed with no video at all).
//! This tracks the mapping pts = first pts + RTP time and says by how much a packet's pts is off when it is off by
//! more than [`MAX_DEVIATION`]: the peer moves that packet and the jitterbuffer's `ts-offset` by it, which also
//! puts the jitterbuffer's own retransmission and loss deadlines back on the running clock.
//!
//! May use `std` only.

/// A pts further than this from the RTP clock's mapping is a restarted jitterbuffer timeline, not jitter (in
/// `buffer-mode=none` the jitterbuffer adds no jitter of its own: the pts follows the RTP clock exactly).
pub const MAX_DEVIATION_NS: i64 = 1_000_000_000;

/// The mapping of one stream's RTP clock to pts.
#[derive(Clone, Debug)]
pub struct RtpClock {
    rate: u32,
    /// The last packet's pts (ns) and extended RTP timestamp.
    last: Option<(i64, i64)>,
    corrections: u64,
}

impl RtpClock {
    /// `rate`: the RTP clock rate (90000 for video, 48000 for Opus).
    pub fn new(rate: u32) -> RtpClock {
        RtpClock { rate: rate.max(1), last: None, corrections: 0 }
    }

    /// A packet with RTP timestamp `ts` got `pts` (ns). Returns the shift (ns) to add to it when it is off the
    /// stream's RTP clock, and remembers the corrected mapping.
    pub fn observe(&mut self, pts: u64, ts: u32) -> Option<i64> {
        let pts = pts.min(i64::MAX as u64) as i64;
        let Some((last_pts, last_ext)) = self.last else {
            self.last = Some((pts, i64::from(ts)));
            return None;
        };
        // Signed distance on the 32-bit clock: reordered and retransmitted packets are a little behind.
        let delta = i64::from(ts.wrapping_sub(last_ext as u32) as i32);
        let ext = last_ext + delta;
        let expected = last_pts.saturating_add(delta.saturating_mul(1_000_000_000) / i64::from(self.rate));
        let shift = expected.saturating_sub(pts);
        if shift.abs() > MAX_DEVIATION_NS && expected >= 0 {
            self.last = Some((expected, ext));
            self.corrections += 1;
            Some(shift)
        } else {
            self.last = Some((pts, ext));
            None
        }
    }

    /// How many times the stream's timeline had to be put back.
    pub fn corrections(&self) -> u64 {
        self.corrections
    }
}

/// The payload type and RTP timestamp of a packet (bytes 1 and 4-7 of the fixed header), if it is one.
pub fn rtp_header(packet: &[u8]) -> Option<(u8, u32)> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    Some((packet[1] & 0x7f, u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_stream_on_its_clock_needs_no_correction() {
        let mut c = RtpClock::new(90_000);
        // 15 fps, several packets per frame, one retransmission a little behind, and a timestamp wrap.
        let base = u32::MAX - 30_000;
        for i in 0..60u64 {
            let ts = base.wrapping_add((i * 6000) as u32);
            let pts = 5 * S + i * S / 15;
            assert_eq!(c.observe(pts, ts), None, "frame {i}");
            assert_eq!(c.observe(pts, ts), None, "frame {i}, second packet");
            if i > 2 {
                assert_eq!(c.observe(pts - 2 * S / 15, ts.wrapping_sub(12_000)), None, "retransmission {i}");
            }
        }
        assert_eq!(c.corrections(), 0);
    }

    #[test]
    fn a_restarted_timeline_is_put_back_on_the_rtp_clock() {
        let mut c = RtpClock::new(90_000);
        assert_eq!(c.observe(10 * S, 1000), None);
        assert_eq!(c.observe(11 * S, 1000 + 90_000), None);
        // A 4-s pause: the jitterbuffer restarts at its offset (here 0.6 s) instead of 15 s.
        let ts = 1000 + 5 * 90_000;
        let shift = c.observe(600_000_000, ts).expect("a correction");
        assert_eq!(600_000_000 + shift, 15 * S as i64);
        // The jitterbuffer's offset moved by the shift: the next packets are on time again.
        assert_eq!(c.observe((15 * S as i64 + S as i64 / 15) as u64, ts + 6000), None);
        // Without the offset moved, each later packet is corrected by the same amount.
        let again = c.observe(600_000_000 + 2 * S / 15, ts + 12_000).expect("a correction");
        assert!((again - shift).abs() <= 1, "{again} vs {shift} (ns rounding of the RTP clock)");
        assert_eq!(c.corrections(), 2);
    }

    #[test]
    fn only_rtp_version_2_packets_have_a_header() {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        p[1] = 0x80 | 96; // marker bit set
        p[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        assert_eq!(rtp_header(&p), Some((96, 0x0102_0304)));
        assert_eq!(rtp_header(&p[..11]), None);
        p[0] = 0x40;
        assert_eq!(rtp_header(&p), None);
    }
}
