//! Voiceprint enrolment and blocklist storage: the applicant voiceprints ("enrolled") and known fraud voices
//! ("blocked") that `interview::Interview::{enrolled_voice, blocked_voices}` are resolved from.
//!
//! Voiceprints are biometric personal data (PIPL / GDPR special category). They are stored **encrypted at rest**
//! and reached only through [`VoiceprintStore`]; the module never logs, and `Debug` never shows embedding values.
//!
//! # Storage
//!
//! - `DIR/voiceprints.bin`: magic `FRVP`, format version byte, 24-byte random nonce (fresh on every write), then an
//!   XChaCha20-Poly1305 ciphertext of a JSON document (schema version + entries). Magic, version and nonce are
//!   authenticated. Writes go to a temporary file (mode 0600), are fsynced and renamed over the store, under an
//!   exclusive lock on `DIR/voiceprints.lock`; each mutation re-reads the store under that lock, so two processes
//!   enrolling at once do not lose each other's changes. No plaintext ever reaches the disk.
//! - The 32-byte key: from the environment variable `FACEREVIEW_VOICEPRINT_KEY` (64 hex characters) when it is set,
//!   so operators can keep it in a secret manager; otherwise from `DIR/voiceprints.key` (64 hex characters), created
//!   on first use from the OS random generator with mode 0600 (a key file readable by group or others is refused).
//!   `DIR` is created with mode 0700. A store without its key cannot be read: back the key up separately.
//!
//! # Threat model
//!
//! Protects against: someone who obtains the store file without the key (a backup, a copied disk, a misdirected
//! sync) learning any voiceprint or id, and against modification or substitution of the store (detected as
//! [`VoiceprintError::Decrypt`]; never a panic, never a silently empty store).
//! Not protected: anyone who can read both the store and its key (with the key file beside the store that is the
//! service account, root and whole-directory backups: keep the key in the env variable to separate them); process
//! memory and swap; rollback to an older store sealed with the same key (for example to bring back a removed
//! blocklist entry); the file size, which shows roughly how many voiceprints there are; ids and sources that callers
//! print themselves.
//!
//! # What a voiceprint is worth
//!
//! A voiceprint is a 256-d Resemblyzer embedding ([`voice`]). It is **weak across recordings**: the same voice in two
//! different recordings scores about 0.70 cosine, while different voices score 0.42-0.80 (`docs/calibration-voice.md`).
//! An enrolled voiceprint therefore mostly yields a neutral `voice.enrolled_match`, and a blocked voice is caught
//! mainly when it was recorded under conditions similar to the call. It is a hint for a reviewer, never proof of
//! identity. Enrol from clean, single-speaker speech recorded like an interview (a phone), several seconds long.

use crate::infer::InferError;
use crate::infer::models::Embedding;
use crate::infer::models::voice::{self, VoiceEmbedder};
use crate::media::decode::AUDIO_RATE;
use crate::media::{DecodeOptions, Decoder, MediaError, MediaEvent};
use crate::types::Pii;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The store file inside the store directory.
pub const STORE_FILE: &str = "voiceprints.bin";
/// The key file inside the store directory (used when [`KEY_ENV`] is not set).
pub const KEY_FILE: &str = "voiceprints.key";
/// The lock file that serialises writers.
pub const LOCK_FILE: &str = "voiceprints.lock";
/// Environment variable holding the key as 64 hex characters; when set, the key file is neither read nor created.
pub const KEY_ENV: &str = "FACEREVIEW_VOICEPRINT_KEY";
/// Longest id accepted by [`VoiceprintStore::enrol`].
pub const MAX_ID_LEN: usize = 64;
/// [`embed_file`] needs at least this much audio.
pub const MIN_AUDIO_SECONDS: f32 = 1.0;
/// [`embed_file`] uses at most this much audio from the start of the file (bounds memory on long files).
pub const MAX_AUDIO_SECONDS: f32 = 300.0;
/// Smallest and largest voiceprint size accepted.
pub const MIN_DIM: usize = 16;
pub const MAX_DIM: usize = 8192;

const MAGIC: [u8; 4] = *b"FRVP";
const FORMAT_VERSION: u8 = 1;
const SCHEMA_VERSION: u32 = 1;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;
const TAG_LEN: usize = 16;
/// Longest store file read (about 20,000 voiceprints); anything larger is not ours.
const MAX_STORE_BYTES: u64 = 64 << 20;
/// Longest `source` kept.
const MAX_SOURCE_CHARS: usize = 200;

// The decoder delivers what the embedder expects.
const _: () = assert!(AUDIO_RATE == voice::SAMPLE_RATE);

#[derive(Debug, thiserror::Error)]
pub enum VoiceprintError {
    #[error("voiceprint store: cannot {action} {path}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("voiceprint key: {0}")]
    Key(String),
    #[error(
        "cannot decrypt the voiceprint store {path}: wrong key ({KEY_FILE} or {KEY_ENV}) or the file was modified; \
         nothing was read"
    )]
    Decrypt { path: PathBuf },
    #[error("{path} is not a usable voiceprint store: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("invalid voiceprint id {id:?}: use 1-{MAX_ID_LEN} characters of A-Z, a-z, 0-9, '.', '_', '-'")]
    InvalidId { id: String },
    #[error("voiceprint id `{id}` is already {existing}; remove it before enrolling it as {requested}")]
    KindConflict { id: String, existing: VoiceprintKind, requested: VoiceprintKind },
    #[error("invalid voiceprint: {0}")]
    InvalidEntry(String),
    #[error("{path}: no usable audio for a voiceprint: {detail}")]
    NoAudio { path: PathBuf, detail: String },
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Infer(#[from] InferError),
}

impl VoiceprintError {
    fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        VoiceprintError::Io { path: path.to_owned(), action, source }
    }
    fn corrupt(path: &Path, detail: impl Into<String>) -> Self {
        VoiceprintError::Corrupt { path: path.to_owned(), detail: detail.into() }
    }
}

/// What a voiceprint is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceprintKind {
    /// An applicant's own voice, compared with the voice in their interview.
    Enrolled,
    /// A known fraud voice, searched for in every interview.
    Blocked,
}

impl fmt::Display for VoiceprintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VoiceprintKind::Enrolled => "enrolled",
            VoiceprintKind::Blocked => "blocked",
        })
    }
}

/// One stored voiceprint. `Debug` shows the embedding as `Pii(<redacted>)`.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceprintEntry {
    pub id: String,
    pub kind: VoiceprintKind,
    /// When it was enrolled (seconds since the Unix epoch, supplied by the caller).
    pub created_at_unix: u64,
    /// Where it came from: a file name, never a path.
    pub source: String,
    /// Seconds of audio the embedding was computed from.
    pub seconds: f32,
    embedding: Pii<Embedding>,
}

impl VoiceprintEntry {
    pub fn embedding(&self) -> &Pii<Embedding> {
        &self.embedding
    }

    pub fn summary(&self) -> VoiceprintSummary {
        VoiceprintSummary {
            id: self.id.clone(),
            kind: self.kind,
            created_at_unix: self.created_at_unix,
            source: self.source.clone(),
            seconds: self.seconds,
        }
    }
}

/// What [`VoiceprintStore::list`] shows: everything but the embedding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoiceprintSummary {
    pub id: String,
    pub kind: VoiceprintKind,
    pub created_at_unix: u64,
    pub source: String,
    pub seconds: f32,
}

/// The sealed JSON document (private: the only way to serialise voiceprints is into the encrypted store).
#[derive(Serialize)]
struct DocumentOut<'a> {
    schema: u32,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    id: &'a str,
    kind: VoiceprintKind,
    created_at_unix: u64,
    source: &'a str,
    seconds: f32,
    embedding: &'a [f32],
}

#[derive(Deserialize)]
struct SchemaOnly {
    schema: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentIn {
    #[allow(dead_code)]
    schema: u32,
    entries: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    id: String,
    kind: VoiceprintKind,
    created_at_unix: u64,
    source: String,
    seconds: f32,
    embedding: Vec<f32>,
}

/// The encrypted voiceprint store in one directory. Reads come from memory (loaded at open and after each
/// mutation); every mutation is persisted before it returns.
pub struct VoiceprintStore {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
    entries: Vec<VoiceprintEntry>,
}

impl fmt::Debug for VoiceprintStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceprintStore")
            .field("dir", &self.dir)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl VoiceprintStore {
    /// Opens (or starts) the store in `dir`, with the key from [`KEY_ENV`] if set and non-empty, else from
    /// `dir/voiceprints.key` (created on first use). A store file without a key file, a malformed key or a key file readable by others
    /// is a [`VoiceprintError::Key`]; a wrong key is a [`VoiceprintError::Decrypt`].
    pub fn open(dir: &Path) -> Result<Self, VoiceprintError> {
        let key = match std::env::var(KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                key_from_hex(&v).map_err(|e| VoiceprintError::Key(format!("{KEY_ENV}: {e}")))?
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(VoiceprintError::Key(format!("{KEY_ENV} is not valid text")));
            }
            _ => {
                create_private_dir(dir)?;
                load_or_create_key_file(dir)?
            }
        };
        Self::open_with_key(dir, key)
    }

    /// Opens (or starts) the store in `dir` with an explicit key; no key file is read or written.
    pub fn open_with_key(dir: &Path, key: [u8; 32]) -> Result<Self, VoiceprintError> {
        create_private_dir(dir)?;
        let cipher = XChaCha20Poly1305::new(&Key::from(key));
        let mut store = VoiceprintStore { dir: dir.to_owned(), cipher, entries: Vec::new() };
        store.entries = store.read_entries()?;
        Ok(store)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store file (`dir/voiceprints.bin`).
    pub fn path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// Adds a voiceprint, or replaces the one with the same id and kind. The id must be 1-64 characters of
    /// `[A-Za-z0-9._-]`; an id already used by the other kind is a [`VoiceprintError::KindConflict`]. The embedding
    /// must be a finite, L2-normalised vector of [`MIN_DIM`] to [`MAX_DIM`] values. `source` is reduced to its last path component.
    pub fn enrol(
        &mut self,
        id: &str,
        kind: VoiceprintKind,
        embedding: Embedding,
        source: &str,
        seconds: f32,
        now_unix: u64,
    ) -> Result<(), VoiceprintError> {
        validate_id(id)?;
        validate_embedding(&embedding.0)?;
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(VoiceprintError::InvalidEntry(format!("seconds must be finite and >= 0, got {seconds}")));
        }
        let entry = VoiceprintEntry {
            id: id.to_owned(),
            kind,
            created_at_unix: now_unix,
            source: sanitise_source(source),
            seconds,
            embedding: Pii::new(embedding),
        };
        self.mutate(|entries| {
            match entries.iter_mut().find(|e| e.id == entry.id) {
                Some(e) if e.kind != kind => {
                    return Err(VoiceprintError::KindConflict {
                        id: entry.id.clone(),
                        existing: e.kind,
                        requested: kind,
                    });
                }
                Some(e) => *e = entry,
                None => entries.push(entry),
            }
            Ok(((), true))
        })
    }

    /// Summaries of every voiceprint (no embeddings), sorted by id.
    pub fn list(&self) -> Vec<VoiceprintSummary> {
        self.entries.iter().map(VoiceprintEntry::summary).collect()
    }

    /// Removes the voiceprint `id` of either kind; `true` when one was removed (and the store rewritten).
    pub fn remove(&mut self, id: &str) -> Result<bool, VoiceprintError> {
        self.mutate(|entries| {
            let before = entries.len();
            entries.retain(|e| e.id != id);
            let removed = entries.len() != before;
            Ok((removed, removed))
        })
    }

    /// The stored entry `id`, of either kind.
    pub fn get(&self, id: &str) -> Option<&VoiceprintEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The enrolled voiceprint `id` (`None` when absent or when `id` is a blocked voice).
    pub fn get_enrolled(&self, id: &str) -> Option<Pii<Embedding>> {
        self.entries.iter().find(|e| e.id == id && e.kind == VoiceprintKind::Enrolled).map(|e| e.embedding.clone())
    }

    /// Every blocked voiceprint as `(id, embedding)`, sorted by id (the shape of `Interview::blocked_voices`).
    pub fn blocked(&self) -> Vec<(String, Pii<Embedding>)> {
        self.entries
            .iter()
            .filter(|e| e.kind == VoiceprintKind::Blocked)
            .map(|e| (e.id.clone(), e.embedding.clone()))
            .collect()
    }

    /// Under the writer lock: re-reads the store, applies `f` (which returns its result and whether it changed
    /// anything), writes the store when it did, and keeps the result in memory.
    fn mutate<R>(
        &mut self,
        f: impl FnOnce(&mut Vec<VoiceprintEntry>) -> Result<(R, bool), VoiceprintError>,
    ) -> Result<R, VoiceprintError> {
        let _lock = lock_dir(&self.dir)?;
        let mut entries = self.read_entries()?;
        let (result, changed) = f(&mut entries)?;
        if changed {
            entries.sort_by(|a, b| a.id.cmp(&b.id));
            self.write_entries(&entries)?;
        }
        self.entries = entries;
        Ok(result)
    }

    /// Reads and decrypts the store file; an absent file is an empty store.
    fn read_entries(&self) -> Result<Vec<VoiceprintEntry>, VoiceprintError> {
        let path = self.path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(VoiceprintError::io(&path, "open", e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_STORE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| VoiceprintError::io(&path, "read", e))?;
        if bytes.len() as u64 > MAX_STORE_BYTES {
            return Err(VoiceprintError::corrupt(&path, format!("larger than {MAX_STORE_BYTES} bytes")));
        }
        let plain = self.open_sealed(&path, &bytes)?;
        parse_document(&path, &plain)
    }

    fn open_sealed(&self, path: &Path, bytes: &[u8]) -> Result<Vec<u8>, VoiceprintError> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(VoiceprintError::corrupt(path, format!("truncated ({} bytes)", bytes.len())));
        }
        let (header, ciphertext) = bytes.split_at(HEADER_LEN);
        if header[..MAGIC.len()] != MAGIC {
            return Err(VoiceprintError::corrupt(path, "not a facereview voiceprint store (bad magic)"));
        }
        let version = header[MAGIC.len()];
        if version != FORMAT_VERSION {
            return Err(VoiceprintError::corrupt(
                path,
                format!("format version {version}; this build reads version {FORMAT_VERSION}"),
            ));
        }
        let nonce: [u8; NONCE_LEN] =
            header[MAGIC.len() + 1..].try_into().map_err(|_| VoiceprintError::corrupt(path, "bad nonce length"))?;
        self.cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: header })
            .map_err(|_| VoiceprintError::Decrypt { path: path.to_owned() })
    }

    /// Seals `entries` with a fresh nonce and replaces the store file atomically.
    fn write_entries(&self, entries: &[VoiceprintEntry]) -> Result<(), VoiceprintError> {
        let path = self.path();
        let doc = DocumentOut {
            schema: SCHEMA_VERSION,
            entries: entries
                .iter()
                .map(|e| EntryOut {
                    id: &e.id,
                    kind: e.kind,
                    created_at_unix: e.created_at_unix,
                    source: &e.source,
                    seconds: e.seconds,
                    embedding: &e.embedding.expose().0,
                })
                .collect(),
        };
        let mut plain = serde_json::to_vec(&doc).map_err(|e| {
            VoiceprintError::io(&path, "serialise the voiceprints for", std::io::Error::other(e.to_string()))
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        random_fill(&mut nonce, &path)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(&MAGIC);
        header.push(FORMAT_VERSION);
        header.extend_from_slice(&nonce);
        let sealed = self.cipher.encrypt(&XNonce::from(nonce), Payload { msg: &plain, aad: &header });
        // Best effort: do not leave the plaintext lying around in freed memory longer than needed.
        plain.fill(0);
        let ciphertext = sealed.map_err(|_| {
            VoiceprintError::io(&path, "encrypt the voiceprints for", std::io::Error::other("encryption failed"))
        })?;
        let mut out = header;
        out.extend_from_slice(&ciphertext);
        write_atomic(&self.dir, &path, &out)
    }
}

/// Parses a key given as 64 hex characters (surrounding whitespace ignored).
pub fn key_from_hex(s: &str) -> Result<[u8; 32], VoiceprintError> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VoiceprintError::Key(format!("expected 64 hex characters, got {} characters", s.chars().count())));
    }
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let hex = std::str::from_utf8(pair).map_err(|_| VoiceprintError::Key("not hex".into()))?;
        *k = u8::from_str_radix(hex, 16).map_err(|_| VoiceprintError::Key("not hex".into()))?;
    }
    Ok(key)
}

/// Formats a key as 64 lowercase hex characters (the format of the key file and of [`KEY_ENV`]).
pub fn key_to_hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Embeds the audio track of any audio or video file GStreamer can decode: the whole track (up to
/// [`MAX_AUDIO_SECONDS`]) goes through [`VoiceEmbedder::embed`], which normalises the level and averages windows.
/// There is no speech detection: silence and other voices in the file end up in the voiceprint, so enrol from a
/// clean single-speaker recording. Returns the embedding and the seconds of audio used. A file without an audio
/// track, with under [`MIN_AUDIO_SECONDS`] of audio, or silent is [`VoiceprintError::NoAudio`].
pub fn embed_file(path: &Path, embedder: &mut VoiceEmbedder) -> Result<(Embedding, f32), VoiceprintError> {
    let no_audio = |detail: String| VoiceprintError::NoAudio { path: path.to_owned(), detail };
    let mut decoder = Decoder::open(path, DecodeOptions::default())?;
    if !decoder.info().has_audio() {
        return Err(no_audio("the file has no audio track".into()));
    }
    let max = (MAX_AUDIO_SECONDS * AUDIO_RATE as f32) as usize;
    let mut samples: Vec<f32> = Vec::new();
    while let Some(event) = decoder.next_event()? {
        if let MediaEvent::Audio(chunk) = event {
            let room = max.saturating_sub(samples.len());
            samples.extend(chunk.samples.iter().take(room));
            if samples.len() >= max {
                break;
            }
        }
    }
    drop(decoder);
    let seconds = samples.len() as f32 / AUDIO_RATE as f32;
    if seconds < MIN_AUDIO_SECONDS {
        return Err(no_audio(format!("{seconds:.2} s of audio, at least {MIN_AUDIO_SECONDS} s needed")));
    }
    match embedder.embed(&samples)? {
        Some(embedding) => Ok((embedding, seconds)),
        None => Err(no_audio(format!("{seconds:.2} s of audio but no embedding (silent?)"))),
    }
}

fn validate_id(id: &str) -> Result<(), VoiceprintError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        // Keep the message bounded whatever the caller passed.
        let shown: String = id.chars().take(MAX_ID_LEN + 16).collect();
        Err(VoiceprintError::InvalidId { id: shown })
    }
}

fn validate_embedding(v: &[f32]) -> Result<(), VoiceprintError> {
    // Any voice model the manifest names may make voiceprints (Resemblyzer 256-d, fbank models 192/256-d); the voice
    // check compares only voiceprints of the session model's size and reports the rest as unavailable.
    if !(MIN_DIM..=MAX_DIM).contains(&v.len()) {
        return Err(VoiceprintError::InvalidEntry(format!(
            "embedding has {} values, expected {MIN_DIM} to {MAX_DIM}",
            v.len()
        )));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(VoiceprintError::InvalidEntry("embedding has non-finite values".into()));
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if (norm - 1.0).abs() > 1e-3 {
        return Err(VoiceprintError::InvalidEntry(format!("embedding is not L2-normalised (norm {norm:.4})")));
    }
    Ok(())
}

/// The last path component, without control characters, at most [`MAX_SOURCE_CHARS`] characters.
fn sanitise_source(source: &str) -> String {
    let name = source.rsplit(['/', '\\']).next().unwrap_or_default();
    name.chars().filter(|c| !c.is_control()).take(MAX_SOURCE_CHARS).collect()
}

fn parse_document(path: &Path, plain: &[u8]) -> Result<Vec<VoiceprintEntry>, VoiceprintError> {
    let schema: SchemaOnly =
        serde_json::from_slice(plain).map_err(|e| VoiceprintError::corrupt(path, format!("bad document: {e}")))?;
    if schema.schema != SCHEMA_VERSION {
        return Err(VoiceprintError::corrupt(
            path,
            format!("schema version {}; this build reads version {SCHEMA_VERSION}", schema.schema),
        ));
    }
    let doc: DocumentIn =
        serde_json::from_slice(plain).map_err(|e| VoiceprintError::corrupt(path, format!("bad document: {e}")))?;
    let mut entries: Vec<VoiceprintEntry> = Vec::with_capacity(doc.entries.len());
    for e in doc.entries {
        let bad = |detail: &str| VoiceprintError::corrupt(path, format!("entry `{}`: {detail}", e.id));
        validate_id(&e.id).map_err(|_| bad("invalid id"))?;
        if entries.iter().any(|x| x.id == e.id) {
            return Err(bad("duplicate id"));
        }
        if e.embedding.is_empty() || e.embedding.iter().any(|x| !x.is_finite()) {
            return Err(bad("empty or non-finite embedding"));
        }
        if !e.seconds.is_finite() {
            return Err(bad("non-finite seconds"));
        }
        entries.push(VoiceprintEntry {
            id: e.id,
            kind: e.kind,
            created_at_unix: e.created_at_unix,
            source: e.source,
            seconds: e.seconds,
            embedding: Pii::new(Embedding(e.embedding)),
        });
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(entries)
}

/// Reads `dir/voiceprints.key`, or creates it (mode 0600, 32 random bytes as hex) when neither it nor a store
/// exists. Creation happens under the writer lock, so concurrent first uses agree on one key.
fn load_or_create_key_file(dir: &Path) -> Result<[u8; 32], VoiceprintError> {
    let key_path = dir.join(KEY_FILE);
    if let Some(key) = read_key_file(&key_path)? {
        return Ok(key);
    }
    let _lock = lock_dir(dir)?;
    if let Some(key) = read_key_file(&key_path)? {
        return Ok(key);
    }
    let store_path = dir.join(STORE_FILE);
    if store_path.exists() {
        return Err(VoiceprintError::Key(format!(
            "{} exists but its key {} is missing: restore the key file or set {KEY_ENV}",
            store_path.display(),
            key_path.display()
        )));
    }
    let mut key = [0u8; 32];
    random_fill(&mut key, &key_path)?;
    let mut text = key_to_hex(&key);
    text.push('\n');
    write_atomic(dir, &key_path, text.as_bytes())?;
    Ok(key)
}

/// `Ok(None)` when the key file does not exist.
fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, VoiceprintError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(VoiceprintError::io(path, "open", e)),
    };
    let meta = file.metadata().map_err(|e| VoiceprintError::io(path, "inspect", e))?;
    if !meta.is_file() {
        return Err(VoiceprintError::Key(format!("{} is not a regular file", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(VoiceprintError::Key(format!(
                "{} has mode {mode:03o}: it must not be readable by group or others (chmod 600)",
                path.display()
            )));
        }
    }
    let mut text = String::new();
    file.take(256).read_to_string(&mut text).map_err(|e| VoiceprintError::io(path, "read", e))?;
    key_from_hex(&text).map(Some).map_err(|e| VoiceprintError::Key(format!("{}: {e}", path.display())))
}

fn random_fill(buf: &mut [u8], path: &Path) -> Result<(), VoiceprintError> {
    getrandom::fill(buf)
        .map_err(|e| VoiceprintError::io(path, "get random bytes for", std::io::Error::other(e.to_string())))
}

/// Creates `dir` (and missing parents) with mode 0700; an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> Result<(), VoiceprintError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| VoiceprintError::io(dir, "create the directory", e))
}

/// Options for a new file only the owner can read (mode 0600 on unix).
fn private_file_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// The exclusive writer lock on `dir/voiceprints.lock`, released when the returned file is dropped.
fn lock_dir(dir: &Path) -> Result<File, VoiceprintError> {
    let path = dir.join(LOCK_FILE);
    let file = private_file_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| VoiceprintError::io(&path, "open the lock file", e))?;
    file.lock().map_err(|e| VoiceprintError::io(&path, "lock", e))?;
    Ok(file)
}

/// Writes `bytes` to a fresh temporary file (mode 0600) in `dir`, fsyncs it, renames it over `path` and fsyncs
/// `dir`. The temporary file is removed on failure.
fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), VoiceprintError> {
    let mut suffix = [0u8; 8];
    random_fill(&mut suffix, path)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("voiceprints");
    let tmp = dir.join(format!(".{name}.{}.{:016x}.tmp", std::process::id(), u64::from_le_bytes(suffix)));
    let result = (|| {
        let mut file = private_file_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| VoiceprintError::io(&tmp, "create", e))?;
        file.write_all(bytes).map_err(|e| VoiceprintError::io(&tmp, "write", e))?;
        file.sync_all().map_err(|e| VoiceprintError::io(&tmp, "sync", e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| VoiceprintError::io(path, "replace", e))?;
        // Make the rename durable. Not every platform can open a directory; the data itself is already synced.
        if let Ok(d) = File::open(dir) {
            d.sync_all().map_err(|e| VoiceprintError::io(dir, "sync the directory", e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: usize) -> Embedding {
        let v: Vec<f32> = (0..voice::DIM).map(|i| ((i * 7 + seed * 13) % 17) as f32 - 8.0).collect();
        Embedding::normalised(v).expect("non-zero")
    }

    #[test]
    fn ids_are_validated() {
        for ok in ["a", "A.b_c-9", &"x".repeat(64)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65), "a\n"] {
            assert!(matches!(validate_id(bad), Err(VoiceprintError::InvalidId { .. })), "{bad:?}");
        }
    }

    #[test]
    fn key_hex_round_trips_and_rejects_bad_input() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 9) as u8);
        let hex = key_to_hex(&key);
        assert_eq!(hex.len(), 64);
        assert_eq!(key_from_hex(&format!("  {}\n", hex.to_uppercase())).expect("hex"), key);
        assert!(key_from_hex(&hex[..62]).is_err());
        assert!(key_from_hex(&format!("{}zz", &hex[..62])).is_err());
        assert!(key_from_hex(&format!("{}éé", &hex[..60])).is_err());
    }

    #[test]
    fn source_keeps_only_the_file_name() {
        assert_eq!(sanitise_source("/home/x/cate.mp3"), "cate.mp3");
        assert_eq!(sanitise_source("C:\\calls\\a.webm"), "a.webm");
        assert_eq!(sanitise_source("a\u{7}b"), "ab");
        assert_eq!(sanitise_source(""), "");
    }

    #[test]
    fn embeddings_are_validated() {
        assert!(validate_embedding(&unit(1).0).is_ok());
        assert!(validate_embedding(&[1.0]).is_err());
        let mut v = unit(1).0;
        v[3] = f32::NAN;
        assert!(validate_embedding(&v).is_err());
        assert!(validate_embedding(&vec![0.5; voice::DIM]).is_err());
        // A 192-d voiceprint from an fbank model is accepted; absurd sizes are not.
        let d192: Vec<f32> = (0..192).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
        assert!(validate_embedding(&d192).is_ok());
        assert!(validate_embedding(&vec![0.0; MAX_DIM + 1]).is_err());
    }

    #[test]
    fn entry_debug_redacts_the_embedding() {
        let e = VoiceprintEntry {
            id: "x".into(),
            kind: VoiceprintKind::Blocked,
            created_at_unix: 1,
            source: "s".into(),
            seconds: 2.0,
            embedding: Pii::new(unit(2)),
        };
        let dbg = format!("{e:?}");
        assert!(dbg.contains("Pii(<redacted>)"), "{dbg}");
        assert!(!dbg.contains(&format!("{}", e.embedding.expose().0[0])), "{dbg}");
    }

    #[test]
    fn document_with_a_future_schema_is_corrupt_not_empty() {
        let p = Path::new("x");
        assert!(matches!(parse_document(p, br#"{"schema":2,"entries":[]}"#), Err(VoiceprintError::Corrupt { .. })));
        assert!(matches!(parse_document(p, b"[]"), Err(VoiceprintError::Corrupt { .. })));
        assert!(parse_document(p, br#"{"schema":1,"entries":[]}"#).expect("empty").is_empty());
    }
}
