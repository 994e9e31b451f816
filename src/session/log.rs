//! A session's event log: one JSON object per line in `<session dir>/events.jsonl` and one row per event in the
//! store (`session_events`). Each event has the wall-clock time, the media time when known, a kind and its data.
//! Writing never fails the call: a write error is counted and reported in the next event.
//!
//! May use the file system and the store.

use crate::store::Store;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

pub struct EventLog {
    session_id: String,
    file: Option<std::io::BufWriter<std::fs::File>>,
    store: Store,
    errors: u64,
}

impl EventLog {
    /// Opens (appends to) `events.jsonl` in `dir`, creating the folder.
    pub fn open(dir: &Path, session_id: &str, store: Store) -> EventLog {
        let file = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::OpenOptions::new().create(true).append(true).open(dir.join("events.jsonl")))
            .ok()
            .map(std::io::BufWriter::new);
        let errors = u64::from(file.is_none());
        EventLog { session_id: session_id.to_owned(), file, store, errors }
    }

    pub async fn write(&mut self, media_ns: Option<i64>, kind: &str, data: Value) {
        let t_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut line = json!({"t_ms": t_ms, "media_ns": media_ns, "kind": kind, "data": data});
        if self.errors > 0 {
            line["log_write_errors"] = json!(self.errors);
        }
        if let Some(f) = self.file.as_mut()
            && (writeln!(f, "{line}").is_err() || f.flush().is_err())
        {
            self.errors += 1;
        }
        let data = line["data"].to_string();
        if self.store.append_event(&self.session_id, t_ms, media_ns, kind, &data).await.is_err() {
            self.errors += 1;
        }
    }

    pub fn flush(&mut self) {
        if let Some(f) = self.file.as_mut()
            && f.flush().is_err()
        {
            self.errors += 1;
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.flush();
    }
}
