//! The encrypted voiceprint store: round trips, nothing readable on disk, wrong keys and tampering refused, ids and
//! kinds validated; and `embed_file` on real recordings.

mod common;

use facereview::infer::models::Embedding;
use facereview::infer::models::voice::{self, VoiceEmbedder};
use facereview::voiceprints::{
    KEY_ENV, KEY_FILE, STORE_FILE, VoiceprintError, VoiceprintKind, VoiceprintStore, embed_file, key_to_hex,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const KEY_A: [u8; 32] = [7; 32];
const KEY_B: [u8; 32] = [9; 32];

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos());
        let p = std::env::temp_dir().join(format!(
            "facereview-voiceprints-{}-{name}-{}",
            std::process::id(),
            nanos.unwrap_or_default()
        ));
        TempDir(p)
    }
    /// The store directory (not created yet: the store creates it).
    fn store(&self) -> PathBuf {
        self.0.join("vp")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A normalised test embedding of the voice model's size.
fn unit(seed: usize) -> Embedding {
    let v: Vec<f32> = (0..voice::DIM).map(|i| (((i + 1) * (seed + 3)) % 23) as f32 - 11.3).collect();
    Embedding::normalised(v).expect("non-zero")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn env_key_is_set() -> bool {
    std::env::var_os(KEY_ENV).is_some_and(|v| !v.is_empty())
}

#[test]
fn enrolled_and_blocked_voiceprints_survive_reopening() {
    let tmp = TempDir::new("roundtrip");
    let dir = tmp.store();
    {
        let mut store = VoiceprintStore::open_with_key(&dir, KEY_A).expect("open");
        assert!(store.list().is_empty());
        store
            .enrol("applicant-42", VoiceprintKind::Enrolled, unit(1), "/uploads/cate.mp3", 7.9, 1_700_000_000)
            .unwrap();
        store.enrol("fraud.7", VoiceprintKind::Blocked, unit(2), "call_0815.webm", 3.0, 1_700_000_100).unwrap();
        store.enrol("fraud_2", VoiceprintKind::Blocked, unit(3), "x.wav", 2.5, 1_700_000_200).unwrap();
    }
    let store = VoiceprintStore::open_with_key(&dir, KEY_A).expect("reopen");
    let list = store.list();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["applicant-42", "fraud.7", "fraud_2"]);
    let a = &list[0];
    assert_eq!(
        (a.kind, a.created_at_unix, a.source.as_str(), a.seconds),
        (VoiceprintKind::Enrolled, 1_700_000_000, "cate.mp3", 7.9)
    );
    assert_eq!(store.get_enrolled("applicant-42").expect("enrolled").expose(), &unit(1));
    assert!(store.get_enrolled("fraud.7").is_none(), "a blocked voice is not an enrolment");
    assert!(store.get_enrolled("nobody").is_none());
    let blocked = store.blocked();
    assert_eq!(blocked.len(), 2);
    assert_eq!((blocked[0].0.as_str(), blocked[0].1.expose()), ("fraud.7", &unit(2)));
    assert_eq!((blocked[1].0.as_str(), blocked[1].1.expose()), ("fraud_2", &unit(3)));
    assert_eq!(store.get("fraud_2").expect("entry").embedding().expose(), &unit(3));
}

#[test]
fn re_enrolling_the_same_id_and_kind_replaces_it() {
    let tmp = TempDir::new("replace");
    let mut store = VoiceprintStore::open_with_key(&tmp.store(), KEY_A).unwrap();
    store.enrol("a", VoiceprintKind::Enrolled, unit(1), "one.mp3", 2.0, 10).unwrap();
    store.enrol("a", VoiceprintKind::Enrolled, unit(2), "two.mp3", 3.0, 20).unwrap();
    let store = VoiceprintStore::open_with_key(&tmp.store(), KEY_A).unwrap();
    assert_eq!(store.list().len(), 1);
    assert_eq!(store.list()[0].source, "two.mp3");
    assert_eq!(store.get_enrolled("a").unwrap().expose(), &unit(2));
}

#[test]
fn store_on_disk_holds_no_plaintext_and_only_the_owner_can_read_it() {
    if env_key_is_set() {
        eprintln!("skipped: {KEY_ENV} is set, so no key file is used");
        return;
    }
    let tmp = TempDir::new("plaintext");
    let dir = tmp.store();
    let emb = unit(4);
    let mut store = VoiceprintStore::open(&dir).expect("open");
    store.enrol("secret-applicant-id", VoiceprintKind::Enrolled, emb.clone(), "secret-source.mp3", 5.5, 99).unwrap();

    let bytes = std::fs::read(dir.join(STORE_FILE)).expect("store file");
    for needle in ["secret-applicant-id", "secret-source.mp3", "enrolled", "embedding", "schema"] {
        assert!(!contains(&bytes, needle.as_bytes()), "`{needle}` in plaintext on disk");
    }
    for x in &emb.0[..8] {
        let text = format!("{x}");
        assert!(!contains(&bytes, text.as_bytes()), "float `{text}` in plaintext on disk");
    }
    assert_eq!(&bytes[..4], b"FRVP");

    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600, "key file mode");
    assert_eq!(mode(&dir.join(STORE_FILE)), 0o600, "store file mode");
    assert_eq!(mode(&dir), 0o700, "store directory mode");
    // No temporary files left behind.
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");

    // The key file is reused on reopening.
    let store = VoiceprintStore::open(&dir).expect("reopen");
    assert_eq!(store.get_enrolled("secret-applicant-id").unwrap().expose(), &emb);
}

#[test]
fn debug_output_never_shows_embedding_values() {
    let tmp = TempDir::new("debug");
    let emb = unit(5);
    let mut store = VoiceprintStore::open_with_key(&tmp.store(), KEY_A).unwrap();
    store.enrol("dbg", VoiceprintKind::Blocked, emb.clone(), "d.mp3", 1.5, 1).unwrap();
    let texts = [
        format!("{store:?}"),
        format!("{:?}", store.get("dbg").unwrap()),
        format!("{:?}", store.list()),
        format!("{:?}", store.blocked()),
        format!("{:?}", store.get_enrolled("dbg")),
    ];
    for text in &texts {
        for x in &emb.0[..8] {
            assert!(!text.contains(&format!("{x}")), "embedding value in {text}");
        }
    }
    assert!(texts[1].contains("Pii(<redacted>)"), "{}", texts[1]);
}

#[test]
fn a_wrong_key_is_a_decrypt_error_not_an_empty_store() {
    let tmp = TempDir::new("wrongkey");
    let dir = tmp.store();
    VoiceprintStore::open_with_key(&dir, KEY_A)
        .unwrap()
        .enrol("a", VoiceprintKind::Blocked, unit(1), "", 2.0, 1)
        .unwrap();
    let err = VoiceprintStore::open_with_key(&dir, KEY_B).expect_err("wrong key");
    assert!(matches!(err, VoiceprintError::Decrypt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("wrong key") && msg.contains(STORE_FILE), "{msg}");
    // Still readable with the right key.
    assert_eq!(VoiceprintStore::open_with_key(&dir, KEY_A).unwrap().list().len(), 1);
}

#[test]
fn an_overwritten_key_file_is_a_decrypt_error() {
    if env_key_is_set() {
        eprintln!("skipped: {KEY_ENV} is set, so no key file is used");
        return;
    }
    let tmp = TempDir::new("keyfile");
    let dir = tmp.store();
    VoiceprintStore::open(&dir).unwrap().enrol("a", VoiceprintKind::Enrolled, unit(1), "", 2.0, 1).unwrap();
    let key_path = dir.join(KEY_FILE);
    std::fs::write(&key_path, format!("{}\n", key_to_hex(&KEY_B))).unwrap();
    let err = VoiceprintStore::open(&dir).expect_err("wrong key file");
    assert!(matches!(err, VoiceprintError::Decrypt { .. }), "{err:?}");

    // A key file others can read is refused outright.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = VoiceprintStore::open(&dir).expect_err("loose key file");
    assert!(matches!(err, VoiceprintError::Key(_)), "{err:?}");
    assert!(err.to_string().contains("644"), "{err}");

    // A store whose key file is gone is an error, and no new key is made up for it.
    std::fs::remove_file(&key_path).unwrap();
    let err = VoiceprintStore::open(&dir).expect_err("missing key file");
    assert!(matches!(err, VoiceprintError::Key(_)), "{err:?}");
    assert!(!key_path.exists());

    // A malformed key file.
    std::fs::write(&key_path, "not a key").unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(VoiceprintStore::open(&dir), Err(VoiceprintError::Key(_))));
}

#[test]
fn a_tampered_store_is_refused() {
    let tmp = TempDir::new("tamper");
    let dir = tmp.store();
    VoiceprintStore::open_with_key(&dir, KEY_A)
        .unwrap()
        .enrol("a", VoiceprintKind::Blocked, unit(1), "", 2.0, 1)
        .unwrap();
    let path = dir.join(STORE_FILE);
    let good = std::fs::read(&path).unwrap();
    // Nonce, ciphertext body and tag: authenticated, so any flip is a decrypt error.
    for at in [4 + 1 + 3, 4 + 1 + 24 + 10, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let err = VoiceprintStore::open_with_key(&dir, KEY_A).expect_err("tampered");
        assert!(matches!(err, VoiceprintError::Decrypt { .. }), "byte {at}: {err:?}");
    }
    // Header damage and truncation: not ours / unreadable, with a clear message.
    let mut bad = good.clone();
    bad[0] = b'X';
    std::fs::write(&path, &bad).unwrap();
    let err = VoiceprintStore::open_with_key(&dir, KEY_A).expect_err("bad magic");
    assert!(matches!(err, VoiceprintError::Corrupt { .. }) && err.to_string().contains("magic"), "{err}");
    let mut bad = good.clone();
    bad[4] = 2;
    std::fs::write(&path, &bad).unwrap();
    let err = VoiceprintStore::open_with_key(&dir, KEY_A).expect_err("future version");
    assert!(matches!(err, VoiceprintError::Corrupt { .. }) && err.to_string().contains("version 2"), "{err}");
    for len in [0, 10, good.len() - 17] {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = VoiceprintStore::open_with_key(&dir, KEY_A).expect_err("truncated");
        assert!(matches!(err, VoiceprintError::Corrupt { .. } | VoiceprintError::Decrypt { .. }), "{len}: {err:?}");
    }
    // The untouched file still opens.
    std::fs::write(&path, &good).unwrap();
    assert_eq!(VoiceprintStore::open_with_key(&dir, KEY_A).unwrap().list().len(), 1);
}

#[test]
fn a_mutation_on_a_store_with_a_wrong_key_fails_and_keeps_the_file() {
    let tmp = TempDir::new("mutwrong");
    let dir = tmp.store();
    VoiceprintStore::open_with_key(&dir, KEY_A)
        .unwrap()
        .enrol("a", VoiceprintKind::Blocked, unit(1), "", 2.0, 1)
        .unwrap();
    let before = std::fs::read(dir.join(STORE_FILE)).unwrap();
    // Opened while still empty with key B, then the store appears (written with key A).
    let other = tmp.0.join("later");
    let mut store = VoiceprintStore::open_with_key(&other, KEY_B).unwrap();
    std::fs::write(other.join(STORE_FILE), &before).unwrap();
    let err = store.enrol("b", VoiceprintKind::Blocked, unit(2), "", 2.0, 1).expect_err("wrong key");
    assert!(matches!(err, VoiceprintError::Decrypt { .. }), "{err:?}");
    assert!(matches!(store.remove("a"), Err(VoiceprintError::Decrypt { .. })));
    assert_eq!(std::fs::read(other.join(STORE_FILE)).unwrap(), before);
}

#[test]
fn remove_deletes_and_persists() {
    let tmp = TempDir::new("remove");
    let dir = tmp.store();
    let mut store = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    store.enrol("keep", VoiceprintKind::Enrolled, unit(1), "", 2.0, 1).unwrap();
    store.enrol("drop", VoiceprintKind::Blocked, unit(2), "", 2.0, 1).unwrap();
    assert!(store.remove("drop").unwrap());
    assert!(!store.remove("drop").unwrap(), "already gone");
    assert!(!store.remove("never-there").unwrap());
    assert!(store.blocked().is_empty());
    let store = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    let ids: Vec<String> = store.list().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["keep"]);
    assert!(store.blocked().is_empty());
}

#[test]
fn two_handles_do_not_lose_each_others_changes() {
    let tmp = TempDir::new("twohandles");
    let dir = tmp.store();
    let mut a = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    let mut b = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    a.enrol("from-a", VoiceprintKind::Blocked, unit(1), "", 2.0, 1).unwrap();
    b.enrol("from-b", VoiceprintKind::Blocked, unit(2), "", 2.0, 1).unwrap();
    assert_eq!(b.blocked().len(), 2, "b re-read the store before writing");
    let ids: Vec<String> =
        VoiceprintStore::open_with_key(&dir, KEY_A).unwrap().list().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["from-a", "from-b"]);
}

#[test]
fn invalid_ids_and_embeddings_are_rejected_and_nothing_is_written() {
    let tmp = TempDir::new("invalid");
    let dir = tmp.store();
    let mut store = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    let long = "a".repeat(65);
    for id in ["", "has space", "slash/y", "ümlaut", "semi;colon", "new\nline", long.as_str()] {
        let err = store.enrol(id, VoiceprintKind::Enrolled, unit(1), "", 2.0, 1).expect_err(id);
        assert!(matches!(err, VoiceprintError::InvalidId { .. }), "{id:?}: {err:?}");
        assert!(err.to_string().contains("A-Z"), "{err}");
    }
    store.enrol(&"a".repeat(64), VoiceprintKind::Enrolled, unit(1), "", 2.0, 1).expect("64 characters is fine");
    store.remove(&"a".repeat(64)).unwrap();
    let bad_dim = Embedding::normalised(vec![1.0; 10]).unwrap();
    assert!(matches!(
        store.enrol("x", VoiceprintKind::Enrolled, bad_dim, "", 2.0, 1),
        Err(VoiceprintError::InvalidEntry(_))
    ));
    assert!(matches!(
        store.enrol("x", VoiceprintKind::Enrolled, Embedding(vec![0.5; voice::DIM]), "", 2.0, 1),
        Err(VoiceprintError::InvalidEntry(_))
    ));
    assert!(matches!(
        store.enrol("x", VoiceprintKind::Enrolled, unit(1), "", f32::NAN, 1),
        Err(VoiceprintError::InvalidEntry(_))
    ));
    assert!(VoiceprintStore::open_with_key(&dir, KEY_A).unwrap().list().is_empty());
}

#[test]
fn an_id_cannot_be_both_enrolled_and_blocked() {
    let tmp = TempDir::new("conflict");
    let dir = tmp.store();
    let mut store = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    store.enrol("same", VoiceprintKind::Enrolled, unit(1), "", 2.0, 1).unwrap();
    let err = store.enrol("same", VoiceprintKind::Blocked, unit(2), "", 2.0, 1).expect_err("conflict");
    match &err {
        VoiceprintError::KindConflict { id, existing, requested } => {
            assert_eq!(
                (id.as_str(), *existing, *requested),
                ("same", VoiceprintKind::Enrolled, VoiceprintKind::Blocked)
            );
        }
        other => panic!("expected KindConflict, got {other:?}"),
    }
    assert!(err.to_string().contains("already enrolled"), "{err}");
    let store = VoiceprintStore::open_with_key(&dir, KEY_A).unwrap();
    assert!(store.blocked().is_empty());
    assert_eq!(store.get_enrolled("same").unwrap().expose(), &unit(1));
}

/// Runs this test binary again with `FACEREVIEW_VOICEPRINT_KEY` set for just the child (setting it here would race
/// the other tests), which opens the store with `VoiceprintStore::open`.
fn run_env_child(dir: &Path, key: &str, expect: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", "env_key_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(KEY_ENV, key)
        .env("FACEREVIEW_VP_CHILD_DIR", dir)
        .env("FACEREVIEW_VP_CHILD_EXPECT", expect)
        .output()
        .expect("run the child");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "child ({expect}) failed:\n{text}");
}

#[test]
#[ignore = "run by the_key_can_come_from_the_environment, in a child process with the env variable set"]
fn env_key_child() {
    let Some(dir) = std::env::var_os("FACEREVIEW_VP_CHILD_DIR") else { return };
    let dir = PathBuf::from(dir);
    let expect = std::env::var("FACEREVIEW_VP_CHILD_EXPECT").unwrap_or_default();
    let result = VoiceprintStore::open(&dir);
    match expect.as_str() {
        "ok" => assert_eq!(result.expect("right env key").list().len(), 1),
        "decrypt" => assert!(matches!(result, Err(VoiceprintError::Decrypt { .. })), "{result:?}"),
        "key" => assert!(matches!(result, Err(VoiceprintError::Key(_))), "{result:?}"),
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn the_key_can_come_from_the_environment() {
    let tmp = TempDir::new("envkey");
    let dir = tmp.store();
    VoiceprintStore::open_with_key(&dir, KEY_A)
        .unwrap()
        .enrol("a", VoiceprintKind::Blocked, unit(1), "", 2.0, 1)
        .unwrap();
    run_env_child(&dir, &key_to_hex(&KEY_A), "ok");
    run_env_child(&dir, &key_to_hex(&KEY_B).to_uppercase(), "decrypt");
    run_env_child(&dir, "abc123", "key");
    assert!(!dir.join(KEY_FILE).exists(), "no key file is created when the key comes from the environment");
}

#[test]
fn embed_file_tells_the_same_woman_from_a_different_man() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let (cate, s1) = embed_file(&common::media("cate_blanch.mp3"), &mut emb).expect("cate");
    let (cate2, s2) = embed_file(&common::media("cate_blanch_2.mp3"), &mut emb).expect("cate_2");
    let (heath, s3) = embed_file(&common::media("heath_ledger.mp3"), &mut emb).expect("heath");
    let (same, diff) = (cate.cosine(&cate2), cate.cosine(&heath));
    eprintln!("seconds {s1:.2} {s2:.2} {s3:.2}; cate/cate_2 {same:.3}; cate/heath {diff:.3}");
    assert!(same > diff, "same woman {same} vs different man {diff}");
    // Durations from the fixture README: 7.9 s, 4.0 s, 3.0 s.
    for (s, want) in [(s1, 7.9), (s2, 4.0), (s3, 3.0)] {
        assert!((s - want).abs() < 0.5, "{s} s, expected about {want}");
    }

    // Enrol the real embeddings and read them back through the store.
    let tmp = TempDir::new("embedfile");
    let mut store = VoiceprintStore::open_with_key(&tmp.store(), KEY_A).unwrap();
    store.enrol("cate", VoiceprintKind::Enrolled, cate.clone(), "cate_blanch.mp3", s1, 1).unwrap();
    store.enrol("heath", VoiceprintKind::Blocked, heath, "heath_ledger.mp3", s3, 1).unwrap();
    let store = VoiceprintStore::open_with_key(&tmp.store(), KEY_A).unwrap();
    let back = store.get_enrolled("cate").unwrap();
    assert!((back.expose().cosine(&cate2) - same).abs() < 1e-6);
    assert!((store.blocked()[0].1.expose().cosine(&cate) - diff).abs() < 1e-6);
}

#[test]
fn embed_file_rejects_non_media_and_missing_files() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let tmp = TempDir::new("notmedia");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let text = tmp.0.join("notes.mp3");
    std::fs::write(&text, "this is not audio at all, just some text pretending to be an mp3\n".repeat(50)).unwrap();
    let err = embed_file(&text, &mut emb).expect_err("text file");
    assert!(matches!(err, VoiceprintError::Media(_) | VoiceprintError::NoAudio { .. }), "{err:?}");
    let err = embed_file(&tmp.0.join("absent.wav"), &mut emb).expect_err("missing file");
    assert!(matches!(err, VoiceprintError::Media(_)), "{err:?}");
}

#[test]
fn embed_file_rejects_files_without_enough_audio() {
    let rt = common::runtime();
    let mut emb = VoiceEmbedder::load(&rt).expect("voice_embedding");
    let tmp = TempDir::new("short");
    std::fs::create_dir_all(&tmp.0).unwrap();
    // 0.3 s and 2 s of 16 kHz mono 16-bit silence/too-short audio as WAV.
    for (name, n, amp) in [("short.wav", 4_800usize, 3000i16), ("silent.wav", 32_000, 0)] {
        let path = tmp.0.join(name);
        std::fs::write(&path, wav_pcm16(n, amp)).unwrap();
        let err = embed_file(&path, &mut emb).expect_err(name);
        assert!(matches!(err, VoiceprintError::NoAudio { .. }), "{name}: {err:?}");
    }
}

/// A 16 kHz mono 16-bit PCM WAV of `n` samples of a 220 Hz tone with amplitude `amp`.
fn wav_pcm16(n: usize, amp: i16) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + 2 * n);
    let data_len = (2 * n) as u32;
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&32_000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        let s = (f32::from(amp) * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 16_000.0).sin()) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}
