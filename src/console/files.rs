//! A session's folder as the console reads it: ids from URLs validated before any path is built, file names from
//! `recording.json` accepted only as plain names in the folder, and every read bounded in size.
//!
//! May touch the data folder (read only, except the frame cache the media handlers write).

use crate::replay::session_dir::{RECORDING_FILE, RecordingManifest};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest `verdict.json` read.
pub const MAX_VERDICT: u64 = 4 << 20;
/// Largest `session.json` read.
pub const MAX_SESSION: u64 = 8 << 20;
/// Largest `timelines.json` read.
pub const MAX_TIMELINES: u64 = 16 << 20;
/// Largest `recording.json` read.
pub const MAX_RECORDING: u64 = 1 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{name} is larger than {max} bytes")]
    TooLarge { name: String, max: u64 },
    #[error("{name} cannot be read: {kind}")]
    Io { name: String, kind: std::io::ErrorKind },
    #[error("{name} is not valid JSON: {message}")]
    Json { name: String, message: String },
}

/// Whether `id` can be a session id (`s_` and hex from the lender API; anything of 1-64 `A-Z a-z 0-9 _ -` is
/// accepted so no separator, dot or NUL ever reaches a path).
pub fn valid_session_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `name` is a plain file name in a session folder (no separators, not `.`/`..`, no hidden files).
pub fn plain_file_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `<data>/sessions/<id>`, for a valid id only.
pub fn session_dir(data_dir: &Path, id: &str) -> Option<PathBuf> {
    valid_session_id(id).then(|| data_dir.join("sessions").join(id))
}

/// The file's bytes, `None` when it does not exist, an error when it is larger than `max` or unreadable.
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, FileError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FileError::Io { name, kind: e.kind() }),
    };
    let io = |e: std::io::Error| FileError::Io { name: name.clone(), kind: e.kind() };
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::Io { name, kind: std::io::ErrorKind::InvalidInput });
    }
    if meta.len() > max {
        return Err(FileError::TooLarge { name, max });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > max {
        return Err(FileError::TooLarge { name, max });
    }
    Ok(Some(buf))
}

/// A JSON file of the folder, parsed; `None` when absent.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, max: u64) -> Result<Option<T>, FileError> {
    let Some(bytes) = read_bounded(path, max)? else { return Ok(None) };
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    serde_json::from_slice(&bytes).map(Some).map_err(|e| FileError::Json { name, message: e.to_string() })
}

/// One recorded part as the console shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartFile {
    pub index: usize,
    pub path: PathBuf,
    pub file: String,
    pub offset_ns: u64,
    pub end_ns: Option<u64>,
    /// Size on disk (0 when the file is missing).
    pub bytes: u64,
}

/// The recording's parts (`recording.json`), in recorded order; parts whose file name is not a plain name are
/// left out. Empty when the session has no recording description.
pub fn recording_parts(dir: &Path) -> Result<Vec<PartFile>, FileError> {
    let Some(manifest) = read_json::<RecordingManifest>(&dir.join(RECORDING_FILE), MAX_RECORDING)? else {
        return Ok(Vec::new());
    };
    Ok(manifest
        .parts
        .iter()
        .enumerate()
        .filter(|(_, p)| plain_file_name(&p.file))
        .map(|(index, p)| {
            let path = dir.join(&p.file);
            let bytes = std::fs::symlink_metadata(&path).ok().filter(|m| m.is_file()).map(|m| m.len()).unwrap_or(0);
            PartFile { index, path, file: p.file.clone(), offset_ns: p.offset_ns, end_ns: p.end_ns, bytes }
        })
        .collect())
}

/// The part holding session media time `t` and the part-local time: the last part starting at or before `t`
/// whose file has data. `None` before the first part.
pub fn part_at(parts: &[PartFile], t: u64) -> Option<(&PartFile, u64)> {
    parts.iter().filter(|p| p.bytes > 0 && p.offset_ns <= t).max_by_key(|p| p.offset_ns).map(|p| (p, t - p.offset_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_that_could_leave_the_folder_are_refused() {
        for bad in ["", "..", "../x", "a/b", "s_1\0", "a.b", "s_%2e%2e", &"a".repeat(65), "s 1"] {
            assert!(!valid_session_id(bad), "{bad:?}");
        }
        for good in ["s_0123456789abcdef01234567", "S-1", "x"] {
            assert!(valid_session_id(good), "{good:?}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "../media-1.mkv", "a\\b", "media 1.mkv"] {
            assert!(!plain_file_name(bad), "{bad:?}");
        }
        assert!(plain_file_name("media-1.mkv"));
        assert!(session_dir(Path::new("/d"), "../etc").is_none());
        assert_eq!(session_dir(Path::new("/d"), "s_1"), Some(PathBuf::from("/d/sessions/s_1")));
    }

    #[test]
    fn reads_are_bounded() {
        let dir = std::env::temp_dir().join(format!("fr-console-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("big.json");
        std::fs::write(&f, vec![b' '; 2048]).expect("write");
        assert!(matches!(read_bounded(&f, 1024), Err(FileError::TooLarge { .. })));
        assert_eq!(read_bounded(&f, 4096).expect("read").map(|b| b.len()), Some(2048));
        assert!(read_bounded(&dir.join("absent.json"), 10).expect("absent is fine").is_none());
        std::fs::write(&f, b"{not json").expect("write");
        assert!(matches!(read_json::<serde_json::Value>(&f, 1024), Err(FileError::Json { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_part_at_a_time_is_the_last_one_started() {
        let p = |index: usize, offset_ns: u64, bytes: u64| PartFile {
            index,
            path: PathBuf::new(),
            file: format!("media-{}.mkv", index + 1),
            offset_ns,
            end_ns: None,
            bytes,
        };
        let parts = vec![p(0, 0, 100), p(1, 5_000, 100), p(2, 9_000, 0)];
        assert_eq!(part_at(&parts, 10).map(|(p, l)| (p.index, l)), Some((0, 10)));
        assert_eq!(part_at(&parts, 6_000).map(|(p, l)| (p.index, l)), Some((1, 1_000)));
        // The empty third part is skipped.
        assert_eq!(part_at(&parts, 9_500).map(|(p, l)| (p.index, l)), Some((1, 4_500)));
        let later = vec![p(0, 1_000, 10)];
        assert!(part_at(&later, 500).is_none());
    }
}
