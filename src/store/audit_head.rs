//! The audit head file, `<data>/audit-head`: the newest audit entry's `seq` and `hash`, written after each append,
//! so that deleting the newest rows of the log (which leaves a valid, shorter chain) is detected by comparing the
//! database with this file (`Store::verify_audit_with_head`).
//!
//! Format: one line of JSON, `{"seq":N,"hash":"<64 hex>"}`. Writes are atomic (a 0600 temporary file renamed over
//! the head) and serialised between processes by an advisory lock on `<data>/audit-head.lock`; the head never moves
//! backwards, so concurrent appenders finishing out of order leave the highest `seq`. Resetting the database of a
//! data directory therefore needs the head file removed too: a head that is ahead of the log is reported as
//! missing entries, which is what it looks like.
//!
//! What it may touch: those two files and temporary files beside them. Blocking I/O (small files): call it from
//! `spawn_blocking` in async code, as [`super::Store::append_audit_and_head`] does.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The head file's name in the data directory.
pub const HEAD_FILE: &str = "audit-head";
/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "audit-head.lock";

/// The head file's path in `data_dir`.
pub fn head_path(data_dir: &Path) -> PathBuf {
    data_dir.join(HEAD_FILE)
}

/// Records `(seq, hash)` as the newest audit entry, unless the file already records a `seq` at least as high.
pub fn write_head(data_dir: &Path, seq: i64, hash: &str) -> std::io::Result<()> {
    if seq < 1 || !is_hash(hash) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an audit entry's seq and hash"));
    }
    std::fs::create_dir_all(data_dir)?;
    let lock =
        OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(data_dir.join(LOCK_FILE))?;
    lock.lock()?;
    let result = write_locked(data_dir, seq, hash);
    let _ = lock.unlock();
    result
}

fn write_locked(data_dir: &Path, seq: i64, hash: &str) -> std::io::Result<()> {
    if let Some((current, _)) = read_head(data_dir)
        && current >= seq
    {
        return Ok(());
    }
    let tmp = data_dir.join(format!(".{HEAD_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f: File = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let line = serde_json::json!({"seq": seq, "hash": hash}).to_string();
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, head_path(data_dir)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The recorded `(seq, hash)`; `None` when the file is missing or unreadable (not one line of the format above).
pub fn read_head(data_dir: &Path) -> Option<(i64, String)> {
    let text = std::fs::read_to_string(head_path(data_dir)).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    let seq = v.get("seq")?.as_i64()?;
    let hash = v.get("hash")?.as_str()?;
    (seq >= 1 && is_hash(hash)).then(|| (seq, hash.to_owned()))
}

fn is_hash(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fr-audit-head-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn head_round_trips_and_never_moves_backwards() {
        let dir = temp("rt");
        assert_eq!(read_head(&dir), None);
        let h5 = "5".repeat(64);
        let h7 = "a".repeat(64);
        write_head(&dir, 5, &h5).unwrap();
        assert_eq!(read_head(&dir), Some((5, h5.clone())));
        write_head(&dir, 7, &h7).unwrap();
        write_head(&dir, 6, &h5).unwrap();
        assert_eq!(read_head(&dir), Some((7, h7.clone())), "an older head does not replace a newer one");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(head_path(&dir)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        assert!(write_head(&dir, 0, &h5).is_err());
        assert!(write_head(&dir, 8, "not a hash").is_err());
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn malformed_heads_read_as_none() {
        let dir = temp("bad");
        std::fs::create_dir_all(&dir).unwrap();
        for text in ["", "garbage", r#"{"seq":1}"#, r#"{"seq":0,"hash":"aa"}"#, r#"{"seq":"1","hash":"x"}"#] {
            std::fs::write(head_path(&dir), text).unwrap();
            assert_eq!(read_head(&dir), None, "{text:?}");
        }
        std::fs::write(head_path(&dir), format!("{{\"seq\":3,\"hash\":\"{}\"}}\n", "b".repeat(64))).unwrap();
        assert_eq!(read_head(&dir), Some((3, "b".repeat(64))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
