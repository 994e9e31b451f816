//! The `facereview` binary as a user runs it: exit codes and messages.

mod common;

use std::process::Command;

fn facereview() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_facereview"));
    c.env("FACEREVIEW_HOME", common::root()).env_remove("FACEREVIEW_ORT_LIB").env_remove("FACEREVIEW_MANIFEST");
    c
}

#[test]
fn models_verify_checks_every_model() {
    let out = facereview().args(["models", "verify"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for id in ["blazeface", "face_mesh", "selfie_segmentation", "expression", "mobilefacenet", "silero_vad"] {
        assert!(stdout.lines().any(|l| l.starts_with(id) && l.contains(" ok ")), "{id} not ok:\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("anti_spoof") && l.contains("absent")), "{stdout}");
}

#[test]
fn models_verify_fails_clearly_on_a_wrong_hash() {
    let dir = std::env::temp_dir().join(format!("fr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let models = common::root().join("models");
    let text = std::fs::read_to_string(models.join("manifest.toml")).unwrap();
    // Absolute model paths, and one sha256 changed.
    let text = text.replace("file = \"", &format!("file = \"{}/", models.display())).replacen(
        "sha256 = \"427cbbe0",
        "sha256 = \"00000000",
        1,
    );
    std::fs::write(dir.join("manifest.toml"), text).unwrap();
    let out =
        facereview().args(["models", "verify"]).env("FACEREVIEW_MANIFEST", dir.join("manifest.toml")).output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.lines().any(|l| l.starts_with("blazeface") && l.contains("wrong sha256")), "{stdout}");
    assert!(stderr.contains("blazeface"), "{stderr}");
}

#[test]
fn a_missing_onnx_runtime_library_is_a_clear_error() {
    let out = facereview()
        .args(["models", "verify"])
        .env("FACEREVIEW_ORT_LIB", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ONNX Runtime") && stderr.contains("/nonexistent/libonnxruntime.so"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn replay_of_a_non_media_file_exits_1_with_a_message() {
    let out = facereview().arg("replay").arg(common::stream("not_media.webm")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a media file"), "{stderr}");
}

#[test]
fn replay_json_follows_the_documented_schema() {
    let out = facereview().arg("replay").arg("--json").arg(common::stream("no_video.webm")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema"], "facereview.replay/1");
    for section in
        ["faces", "mesh", "expression", "speech", "voice", "background", "objects", "text", "identity", "anti_spoof"]
    {
        assert!(v["evidence"][section]["status"].is_string(), "{section} has no status");
    }
    assert_eq!(v["evidence"]["faces"]["status"], "missing");
    assert_eq!(v["evidence"]["speech"]["status"], "available");
    // Voiceprints are personal data: only similarities are printed, never the vectors.
    assert!(v["evidence"]["voice"]["segments"][0].get("embedding").is_none());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"embedding\""));
}

#[test]
fn replay_bless_then_expect_detects_a_changed_verdict() {
    let dir = std::env::temp_dir().join(format!("fr-cli-bless-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let expected = dir.join("webcam.verdict.json");
    let stream = common::stream("webcam_h264.mkv");
    let out = facereview().arg("replay").arg(&stream).arg("--bless").arg(&expected).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict:"));
    let out = facereview().arg("replay").arg(&stream).arg("--expect").arg(&expected).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Tamper with the expected decision: the comparison must fail with exit status 4 and say what differs.
    let text = std::fs::read_to_string(&expected).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let other = if v["decision"] == "reject" { "pass" } else { "reject" };
    let tampered = text.replacen(&format!("\"decision\": {}", v["decision"]), &format!("\"decision\": \"{other}\""), 1);
    assert_ne!(tampered, text);
    std::fs::write(&expected, tampered).unwrap();
    let out = facereview().arg("replay").arg(&stream).arg("--expect").arg(&expected).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("differs"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_malformed_session_file_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("fr-cli-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"declared": {"name": "x", "category": "y", "lat": "north", "lon": 1}}"#).unwrap();
    let out =
        facereview().arg("replay").arg(common::stream("no_video.webm")).arg("--session").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("malformed") && !stderr.contains("panicked"), "{stderr}");
}

#[test]
fn voices_enrol_list_screen_and_remove() {
    let data = std::env::temp_dir().join(format!("fr-cli-voices-{}", std::process::id()));
    let run = |args: &[&std::ffi::OsStr]| {
        let out = facereview()
            .env("FACEREVIEW_DATA", &data)
            .env_remove("FACEREVIEW_VOICEPRINT_KEY")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    // The photo-attack stream carries cate_blanch.mp3's voice: enrol that voice as a known fraud voice.
    let cate = common::media("cate_blanch.mp3");
    let (code, out, err) = run(&[&os("voices"), &os("enrol"), &os("fraud-1"), cate.as_os_str(), &os("--blocked")]);
    assert_eq!(code, Some(0), "{out}{err}");
    let heath = common::media("heath_ledger.mp3");
    let (code, _, err) = run(&[&os("voices"), &os("enrol"), &os("applicant-7"), heath.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    let (_, list, _) = run(&[&os("voices"), &os("list"), &os("--json")]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!std::fs::read(data.join("voiceprints.bin")).unwrap().windows(7).any(|w| w == b"fraud-1"), "encrypted");

    let stream = common::stream("photo_attack.mp4");
    let (code, out, err) =
        run(&[&os("replay"), stream.as_os_str(), &os("--json"), &os("--enrolled-voice"), &os("applicant-7")]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sig = |name: &str| v["checks"].as_array().unwrap().iter().find(|e| e["signal"] == name).cloned().unwrap();
    assert_eq!(sig("voice.blocklist")["finding"], "concern", "{}", sig("voice.blocklist"));
    assert!(sig("voice.blocklist")["summary"].as_str().unwrap().contains("fraud-1"));
    assert_ne!(sig("voice.enrolled_match")["state"], "missing", "the enrolled voice was compared");

    let (code, _, _) = run(&[&os("voices"), &os("remove"), &os("fraud-1")]);
    assert_eq!(code, Some(0));
    let (code, _, err) = run(&[&os("voices"), &os("remove"), &os("fraud-1")]);
    assert_eq!(code, Some(1), "removing twice is an error: {err}");
    let (_, list, _) = run(&[&os("voices"), &os("list"), &os("--json")]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&list).unwrap().as_array().unwrap().len(), 1);
}
