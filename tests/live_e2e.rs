//! End to end in a real browser: headless Chromium (playwright-core, `tests/e2e/applicant.mjs`) with a fake camera
//! and microphone made from the real test media (`testdata/build_fake_capture.sh`) joins through the applicant
//! page, accepts consent, reports a location, is shown the questions and challenges, and hangs up when the server
//! says the interview is done. The server records the call and decides; replaying the recording gives the same
//! decision. Run with VP8 and with H.264, and once through the impairment relay with 10 % uplink loss, where the
//! server's video jitterbuffer must ask for retransmissions and get them.

mod common;

use common::server::{Http, ServerProc, create_session, wait_state};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

fn fake(name: &str) -> std::path::PathBuf {
    let p = common::root().join("testdata/fake").join(name);
    assert!(p.exists(), "{} is missing: run the README's set-up (testdata/build_fake_capture.sh)", p.display());
    p
}

/// Runs the applicant driver (fake camera and microphone) on `join_url` with `extra` arguments; returns its result
/// line, which must say `ok`.
fn drive(server: &ServerProc, join_url: &str, codec: &str, extra: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new("node")
        .arg(common::root().join("tests/e2e/applicant.mjs"))
        .args(["--url", join_url, "--codec", codec, "--geo", "60.17193,24.94085,14", "--timeout-s", "150"])
        .arg("--video")
        .arg(fake("applicant.y4m"))
        .arg("--audio")
        .arg(fake("applicant.wav"))
        .args(extra)
        .output()
        .expect("node runs the applicant driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no result line; stderr:\n{stderr}\nserver:\n{}", server.log()));
    let r: serde_json::Value = serde_json::from_str(line).expect("result JSON");
    assert_eq!(r["ok"], true, "{r}\nstderr:\n{stderr}\nserver:\n{}", server.log());
    r
}

fn run_call(codec: &str) {
    let server = ServerProc::start(&format!("e2e-{codec}"), &[]);
    let http = Http::new();
    let body = json!({
        "applicant_ref": format!("E2E-{codec}"),
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": {
            "questions": [{"id": "q1", "text": "What does your business sell?", "duration_s": 5}],
            "challenges": [{"kind": "turn_left"}, {"kind": "read_digits"}]
        }
    });
    let (id, _token, join_url) = create_session(&http, &server, &body);
    let shots = server.data.join("shots");
    let r = drive(&server, &join_url, codec, &["--screenshot".as_ref(), shots.as_os_str()]);
    assert_eq!(r["phase"], "done", "{r}");
    let want = if codec == "vp8" { "video/VP8" } else { "video/H264" };
    assert!(r["codec"].as_str().unwrap_or("").eq_ignore_ascii_case(want), "{r}");
    assert_eq!(r["prompts"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["challenges"].as_array().map(Vec::len), Some(2), "{r}");

    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(120));
    assert_eq!(s["state"], "verdict", "{s}\n{}", server.log());
    assert_eq!(s["end_reason"], "hangup", "the page hung up when told the interview was done: {s}");
    let v = http.api_get(&format!("{}/api/sessions/{id}/verdict", server.url)).json();
    assert!(v["decision"].is_string() && !v["reasons"].as_array().expect("reasons").is_empty(), "{v}");

    let dir = server.data.join("sessions").join(&id);
    let session: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("session.json")).expect("session.json")).expect("json");
    let loc = &session["locations"][0];
    assert!((loc["lat"].as_f64().unwrap_or(0.0) - 60.17193).abs() < 1e-6, "the phone's fix is recorded: {session}");
    assert_eq!(session["challenges"].as_array().map(Vec::len), Some(2));
    assert!(session["challenges"][1]["digits"].as_str().is_some_and(|d| d.len() == 4));
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recording.json")).expect("recording")).expect("json");
    assert_eq!(rec["parts"][0]["video_codec"], if codec == "vp8" { "VP8" } else { "H264" }, "{rec}");
    // Consent is logged before any media was accepted.
    let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("events");
    let api_events = http.api_get(&format!("{}/api/sessions/{id}/events", server.url)).json();
    let kinds: Vec<&str> =
        api_events["events"].as_array().expect("events").iter().filter_map(|e| e["kind"].as_str()).collect();
    let consent = kinds.iter().position(|k| *k == "consent").expect("consent event");
    let peer = kinds.iter().position(|k| *k == "peer_created").expect("peer event");
    assert!(consent < peer, "{kinds:?}");
    assert!(events.contains("\"kind\":\"device\""), "the page's device info is logged");
    // The controller saw the phone's side (estimate, round trip) and the browser took the controller's settings,
    // degradation preference included (Chromium's own scaler would shrink the picture under our scale otherwise).
    let trace = facereview::adapt::trace::Trace::parse(
        &std::fs::read_to_string(dir.join("adapt-trace.jsonl")).expect("adapt-trace.jsonl"),
    )
    .expect("a valid controller trace");
    assert!(trace.lines.iter().any(|l| l.inputs.available_bps.is_some_and(|b| b > 0.0)), "no estimate in the trace");
    assert!(trace.lines.iter().any(|l| l.inputs.rtt_s.is_some_and(|r| r < 1.0)), "no round trip in the trace");
    let applied: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "adapt_applied")
        .collect();
    assert!(!applied.is_empty(), "no adapt_applied event");
    for a in &applied {
        assert!(a["data"]["error"].is_null(), "{a}");
        assert_eq!(a["data"]["video"]["degradationPreference"], "maintain-resolution", "{a}");
    }

    common::server::assert_replay_matches(&server, &dir);
}

#[test]
fn chromium_call_with_vp8_is_recorded_decided_and_replayed() {
    run_call("vp8");
}

#[test]
fn chromium_call_with_h264_is_recorded_decided_and_replayed() {
    run_call("h264");
}

#[test]
fn chromium_call_over_a_lossy_uplink_is_repaired_by_retransmission() {
    let server = ServerProc::start("e2e-loss10", &[]);
    let http = Http::new();
    let body = json!({
        "applicant_ref": "E2E-loss10",
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": {
            "questions": [{"id": "q1", "text": "What does your business sell?", "duration_s": 8}],
            "challenges": [{"kind": "turn_left"}]
        }
    });
    let (id, _token, join_url) = create_session(&http, &server, &body);
    let relay =
        ["--relay-cmd", env!("CARGO_BIN_EXE_facereview-impair"), "--relay-profile", "loss10", "--relay-seed", "3"];
    let relay: Vec<&std::ffi::OsStr> = relay.iter().map(|a| a.as_ref()).collect();
    drive(&server, &join_url, "vp8", &relay);
    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(120));
    assert_eq!(s["state"], "verdict", "{s}");

    // The receiver's stats (every 5 s in the event log): the video jitterbuffer asks for lost packets and most of
    // them come back in time. Without retransmission every lost packet would cost a frame until the next keyframe.
    let events = std::fs::read_to_string(server.data.join("sessions").join(&id).join("events.jsonl")).expect("events");
    let last = events
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "stats")
        .find_map(|e| e["data"]["stats"]["video_repair"].as_object().cloned())
        .unwrap_or_else(|| panic!("no video_repair in the stats events:\n{events}"));
    eprintln!("video repair: {last:?}");
    assert_eq!(last["retransmission"], true, "{last:?}");
    let requests = last["rtx_requests"].as_u64().unwrap_or(0);
    let repaired = last["rtx_repaired"].as_u64().unwrap_or(0);
    assert!(requests >= 10, "10 % loss over ~15 s of video asks for many packets: {last:?}");
    assert!(repaired * 2 >= requests, "at least half of the requests repaired: {last:?}");

    // The loss the stats report (and the controller adapts to) is the network's, before repair: with 10 % dropped
    // on the way, the video stream shows more packets lost than the jitterbuffer finally gave up on, and the
    // controller's trace sees loss.
    let stats = events
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["kind"] == "stats")
        .map(|e| e["data"]["stats"].clone())
        .expect("stats");
    let (lost, received) = (
        stats["video"]["packets_lost"].as_i64().unwrap_or(0),
        stats["video"]["packets_received"].as_i64().unwrap_or(0),
    );
    let gave_up = last["lost"].as_i64().unwrap_or(0);
    assert!(received > 0 && lost * 100 >= (lost + received) * 4, "~10 % of video lost on arrival: {stats}");
    assert!(lost > gave_up, "network loss {lost} > packets given up on {gave_up}: {stats}");
    let trace = facereview::adapt::trace::Trace::parse(
        &std::fs::read_to_string(server.data.join("sessions").join(&id).join("adapt-trace.jsonl")).expect("trace"),
    )
    .expect("trace");
    let seen: Vec<f64> = trace.lines.iter().filter_map(|l| l.inputs.loss).collect();
    let mean = seen.iter().sum::<f64>() / seen.len().max(1) as f64;
    assert!(mean >= 0.04, "the controller saw {mean:.3} loss on a 10 % lossy uplink: {seen:?}");
}
