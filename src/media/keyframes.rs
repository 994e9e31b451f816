//! When the receiver may ask the phone for a keyframe (PLI). Pure: `now` in, a yes/no out; the peer reads the clock
//! and drops the request event when the answer is no.
//!
//! Why: after an unrepaired loss the depayloader waits for a keyframe and asks for one on every inter-frame it
//! drops — rtpsession turns those into a PLI per RTCP interval, 1-4 a second (measured at 150 kb/s with 5 % loss:
//! ~70 PLIs in a 48-s call). A keyframe is 5-10× an inter-frame; at 150 kb/s one takes about half a second of the
//! link, so a second request before the first keyframe can arrive only makes another one queue behind it, and the
//! picture freezes longer. One request, then none until the answer had time to arrive.
//!
//! May use `std` only.

use std::time::Duration;

/// Least time between two keyframe requests: a keyframe's transfer at ~150 kb/s (~0.5 s) plus a mobile round trip
/// (~0.3 s) and some slack. A request that is held is not lost: the depayloader asks again on its next dropped
/// frame, which passes once this has elapsed.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1000);

/// Decides which keyframe requests go out.
#[derive(Clone, Debug)]
pub struct KeyframeGate {
    min_interval: Duration,
    last: Option<Duration>,
    sent: u64,
    held: u64,
}

impl Default for KeyframeGate {
    fn default() -> Self {
        KeyframeGate::new(MIN_INTERVAL)
    }
}

impl KeyframeGate {
    pub fn new(min_interval: Duration) -> KeyframeGate {
        KeyframeGate { min_interval, last: None, sent: 0, held: 0 }
    }

    /// A request at `now` (time since the peer started). `explicit`: asked for by the application (the adaptation
    /// controller, which paces its own), always sent; it still starts a new interval for the automatic ones.
    pub fn ask(&mut self, now: Duration, explicit: bool) -> bool {
        let due = self.last.is_none_or(|l| now.saturating_sub(l) >= self.min_interval);
        if explicit || due {
            self.last = Some(now);
            self.sent += 1;
            true
        } else {
            self.held += 1;
            false
        }
    }

    /// Requests sent and held so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    #[test]
    fn a_storm_of_requests_becomes_one_per_interval() {
        let mut g = KeyframeGate::default();
        // The depayloader asks on every dropped frame at 15 fps for 3 s.
        let sent: Vec<u64> = (0..45).map(|i| i * 66 + 500).filter(|&t| g.ask(ms(t), false)).collect();
        assert_eq!(sent, vec![500, 1556, 2612], "one at once, then one per second");
        assert_eq!(g.counts(), (3, 42));
    }

    #[test]
    fn the_first_request_goes_out_at_once() {
        let mut g = KeyframeGate::default();
        assert!(g.ask(ms(0), false));
        assert!(!g.ask(ms(999), false));
        assert!(g.ask(ms(1000), false));
    }

    #[test]
    fn explicit_requests_always_go_and_restart_the_interval() {
        let mut g = KeyframeGate::default();
        assert!(g.ask(ms(100), false));
        assert!(g.ask(ms(300), true), "the controller's request is not held");
        assert!(!g.ask(ms(1200), false), "a second after the explicit one, not the first");
        assert!(g.ask(ms(1300), false));
        assert_eq!(g.counts(), (3, 1));
    }

    #[test]
    fn a_clock_that_goes_back_does_not_open_the_gate() {
        let mut g = KeyframeGate::default();
        assert!(g.ask(ms(5000), false));
        assert!(!g.ask(ms(4000), false));
    }
}
