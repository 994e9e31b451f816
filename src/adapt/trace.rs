//! Controller traces: one JSON line per controller tick (`{"t_ms": …, "in": {Inputs}}`), optionally preceded by
//! a header line `{"device": "low"|"mid"|"high"}`. Live sessions write them (`adapt-trace.jsonl` in the session
//! folder) so a real run's measurements can be replayed through the controller in tests.
//!
//! Pure.

use super::controller::{Action, Config, Controller, Inputs};
use super::ladder::DeviceClass;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceLine {
    pub t_ms: u64,
    #[serde(rename = "in")]
    pub inputs: Inputs,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Header {
    device: DeviceClass,
}

#[derive(Clone, Debug)]
pub struct Trace {
    pub device: DeviceClass,
    pub lines: Vec<TraceLine>,
}

#[derive(Debug, thiserror::Error)]
#[error("trace line {line}: {msg}")]
pub struct TraceError {
    pub line: usize,
    pub msg: String,
}

impl Trace {
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut device = DeviceClass::High;
        let mut lines = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            if i == 0
                && let Ok(h) = serde_json::from_str::<Header>(l)
            {
                device = h.device;
                continue;
            }
            let t: TraceLine = serde_json::from_str(l).map_err(|e| TraceError { line: i + 1, msg: e.to_string() })?;
            if lines.last().is_some_and(|p: &TraceLine| p.t_ms > t.t_ms) {
                return Err(TraceError { line: i + 1, msg: "time goes backwards".into() });
            }
            lines.push(t);
        }
        Ok(Trace { device, lines })
    }

    pub fn header_line(device: DeviceClass) -> String {
        serde_json::to_string(&Header { device }).unwrap_or_default()
    }

    /// Runs the trace through a fresh controller: the initial actions at the first line's time, then one tick per
    /// line. Returns every action with its time (ms).
    pub fn replay(&self, cfg: Config) -> Vec<(u64, Action)> {
        let mut c = Controller::new(self.device, cfg);
        let mut out = Vec::new();
        let Some(first) = self.lines.first() else { return out };
        for a in c.initial(Duration::from_millis(first.t_ms), first.inputs.need) {
            out.push((first.t_ms, a));
        }
        for l in &self.lines {
            for a in c.tick(Duration::from_millis(l.t_ms), &l.inputs) {
                out.push((l.t_ms, a));
            }
        }
        out
    }
}
