//! The live service without a browser: the real `facereview serve` binary, with webrtcbin senders from recorded
//! files standing in for phones. Bad input gets clear 4xx and loses nothing; a call ends with a recording and a
//! verdict that `facereview replay <session dir>` reproduces; shutdown finalises live calls.

mod common;

use common::server::{Http, ServerProc, create_session, wait_state};
use facereview::media::sender::{SendCodec, Sender, SenderConfig};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn session_body(questions: serde_json::Value, challenges: serde_json::Value) -> serde_json::Value {
    json!({
        "applicant_ref": "A-1029",
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": {"questions": questions, "challenges": challenges},
    })
}

fn short_body() -> serde_json::Value {
    session_body(
        json!([{"id": "q1", "text": "What does your business sell?", "duration_s": 4}]),
        json!([{"kind": "turn_left"}]),
    )
}

fn consent(http: &Http, server: &ServerProc, token: &str) -> String {
    let r = http.post_json(&format!("{}/api/join/{token}/consent", server.url), &json!({"accepted": true}));
    assert_eq!(r.status, 200, "consent: {}", r.body);
    r.json()["resume_key"].as_str().expect("resume key").to_owned()
}

/// Starts a webrtcbin sender on `file` and connects it through WHIP; returns the sender and the Location URL.
fn connect(
    http: &Http,
    server: &ServerProc,
    token: &str,
    key: &str,
    file: &Path,
    cfg: SenderConfig,
) -> (Sender, String) {
    let (sender, offer) = Sender::offer(file, cfg).expect("sender offer");
    let r = http.post_sdp(&format!("{}/whip/{token}", server.url), Some(key), &offer);
    assert_eq!(r.status, 201, "whip: {} (server log:\n{})", r.body, server.log());
    assert_eq!(r.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/sdp"));
    let location = r.headers.get("location").and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    sender.set_answer(&r.body).expect("answer accepted");
    (sender, location)
}

fn sender_cfg(codec: SendCodec, seconds: u64) -> SenderConfig {
    SenderConfig { codec, loopback: true, max_duration: Some(Duration::from_secs(seconds)), ..Default::default() }
}

#[test]
fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let server = ServerProc::start("live-bad", &[]);
    let http = Http::new();
    let base = server.url.clone();

    // The lender API needs the key; bad bodies are 400 with a reason; an oversized body is 413.
    assert_eq!(http.get(&format!("{base}/api/sessions/s_x")).status, 401);
    let r = http.send(http.client().post(format!("{base}/api/sessions")).bearer_auth("wrong").json(&short_body()));
    assert_eq!(r.status, 401);
    let r = http.send(
        http.client()
            .post(format!("{base}/api/sessions"))
            .bearer_auth(common::server::API_KEY)
            .header("content-type", "application/json")
            .body("{not json"),
    );
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("bad_json")), "{}", r.body);
    let mut bad = short_body();
    bad["declared"]["lat"] = json!(123.0);
    let r = http.api_post(&format!("{base}/api/sessions"), &bad);
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("bad_declared")), "{}", r.body);
    let mut bad = short_body();
    bad["script"]["questions"][0]["duration_s"] = json!(0.5);
    assert_eq!(http.api_post(&format!("{base}/api/sessions"), &bad).status, 400);
    let huge = json!({"applicant_ref": "A", "reference_photo_b64": "A".repeat(9 * 1024 * 1024)});
    // The server answers 413 as soon as it sees the size; it may close the connection before the client has
    // finished writing the body, which the client then reports as a broken pipe instead of the 413.
    // A client of its own, so the connection the server drops is never offered to the requests that follow.
    let one_shot = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let req = one_shot.post(format!("{base}/api/sessions")).bearer_auth(common::server::API_KEY).json(&huge);
    match http.try_send(req) {
        Ok(r) => assert_eq!((r.status, r.json()["error"].as_str()), (413, Some("too_large")), "{}", r.body),
        Err(e) => assert!(e.is_request(), "refused while uploading: {e}"),
    }

    let (id, token, join_url) = create_session(&http, &server, &short_body());
    assert!(join_url.starts_with(&base) && join_url.contains("/join/"), "{join_url}");
    // The page and its join info.
    let page = http.get(&join_url);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html"), "the applicant page is served");
    let info = http.get(&format!("{base}/api/join/{token}")).json();
    assert_eq!(info["business_name"], "Isabella Cafe");
    assert!(info["consent"]["retention_days"].as_u64().is_some());
    assert_eq!(http.get(&format!("{base}/api/join/{}", "0".repeat(64))).status, 404);
    assert_eq!(http.get(&format!("{base}/api/join/not-a-token")).status, 404);

    // No media before consent.
    let (probe, offer) =
        Sender::offer(&common::stream("live_two_speakers.webm"), sender_cfg(SendCodec::Vp8, 2)).expect("sender offer");
    drop(probe);
    let r = http.post_sdp(&format!("{base}/whip/{token}"), Some("whatever"), &offer);
    assert_eq!((r.status, r.json()["error"].as_str()), (403, Some("consent_required")), "{}", r.body);
    let r = http.post_json(&format!("{base}/api/join/{token}/consent"), &json!({"accepted": false}));
    assert_eq!(r.status, 400);
    let key = consent(&http, &server, &token);
    // The link is single-use: a second device cannot claim it.
    let r = http.post_json(&format!("{base}/api/join/{token}/consent"), &json!({"accepted": true}));
    assert_eq!((r.status, r.json()["error"].as_str()), (409, Some("already_joined")), "{}", r.body);

    // Offers: wrong key, not SDP, malformed, no video, too large.
    assert_eq!(http.post_sdp(&format!("{base}/whip/{token}"), Some("wrong-key"), &offer).status, 401);
    assert_eq!(http.post_sdp(&format!("{base}/whip/{token}"), None, &offer).status, 401);
    let r = http.send(
        http.client()
            .post(format!("{base}/whip/{token}"))
            .bearer_auth(&key)
            .header("content-type", "text/plain")
            .body(offer.clone()),
    );
    assert_eq!(r.status, 415);
    let r = http.post_sdp(&format!("{base}/whip/{token}"), Some(&key), "v=0\r\nthis is not sdp\r\n");
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("malformed_sdp")), "{}", r.body);
    let audio_only: String = {
        // Keep the session part and the audio m-section only.
        let mut out = String::new();
        let mut keep = true;
        for line in offer.split("\r\n").filter(|l| !l.is_empty()) {
            if line.starts_with("m=") {
                keep = line.starts_with("m=audio");
            }
            if keep && !line.starts_with("a=group:BUNDLE") {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out
    };
    let r = http.post_sdp(&format!("{base}/whip/{token}"), Some(&key), &audio_only);
    assert_eq!((r.status, r.json()["error"].as_str()), (422, Some("no_video")), "{}", r.body);
    let big = format!("{offer}{}", "a=x-padding:0123456789abcdef\r\n".repeat(4000));
    let r = http.post_sdp(&format!("{base}/whip/{token}"), Some(&key), &big);
    assert_eq!((r.status, r.json()["error"].as_str()), (413, Some("too_large")), "{}", r.body);

    // Nothing above lost the session: a real offer still connects, media flows, and the call ends with a verdict.
    let (sender, location) =
        connect(&http, &server, &token, &key, &common::stream("live_two_speakers.webm"), sender_cfg(SendCodec::Vp8, 6));
    wait_state(&http, &server, &id, &["live"], Duration::from_secs(30));
    let r = http.delete(&format!("{base}{location}"), &key);
    assert_eq!(r.status, 200, "{}", r.body);
    drop(sender);
    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(120));
    assert_eq!(s["state"], "verdict", "{s}");
    assert_eq!(s["end_reason"], "hangup");
    // The used link is finished for everyone now.
    assert_eq!(http.get(&format!("{base}/api/join/{token}")).status, 410);
    assert_eq!(http.post_sdp(&format!("{base}/whip/{token}"), Some(&key), &offer).status, 410);

    // An expired link.
    let mut short = short_body();
    short["ttl_s"] = json!(1);
    let (_, token2, _) = create_session(&http, &server, &short);
    std::thread::sleep(Duration::from_millis(1500));
    let r = http.get(&format!("{base}/api/join/{token2}"));
    assert_eq!((r.status, r.json()["error"].as_str()), (410, Some("expired")), "{}", r.body);
    let r = http.post_json(&format!("{base}/api/join/{token2}/consent"), &json!({"accepted": true}));
    assert_eq!(r.status, 410);

    // Malformed control messages are answered, not fatal; the server still serves others.
    let (_, token3, _) = create_session(&http, &server, &short_body());
    assert_eq!(http.get(&format!("{base}/api/join/{token3}")).status, 200);
    assert_eq!(http.get(&format!("{base}/healthz")).status, 200);
}

#[test]
fn a_call_is_recorded_decided_and_replays_to_the_same_decision() {
    for codec in [SendCodec::Vp8, SendCodec::H264] {
        let server = ServerProc::start(&format!("live-call-{codec:?}"), &[]);
        let http = Http::new();
        let (id, token, _) = create_session(&http, &server, &short_body());
        let key = consent(&http, &server, &token);
        let (sender, location) =
            connect(&http, &server, &token, &key, &common::stream("live_two_speakers.webm"), sender_cfg(codec, 14));
        wait_state(&http, &server, &id, &["live"], Duration::from_secs(30));
        // The script (2 s lead-in, a 4 s question, a 4 s challenge + 1 s) ends; the server ends the call itself
        // 5 s after telling the page (this sender is not a page and never hangs up).
        let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(150));
        assert_eq!(s["state"], "verdict", "{s}\n{}", server.log());
        assert_eq!(s["end_reason"], "completed");
        drop(sender);
        let _ = location;

        let verdict = http.api_get(&format!("{}/api/sessions/{id}/verdict", server.url));
        assert_eq!(verdict.status, 200, "{}", verdict.body);
        let v = verdict.json();
        assert!(["pass", "review", "reject"].contains(&v["decision"].as_str().unwrap_or("")), "{v}");
        assert!(!v["reasons"].as_array().expect("reasons").is_empty(), "reasons point at evidence");

        // The session folder: media, recording description, interview as it happened, config, events.
        let dir = server.data.join("sessions").join(&id);
        let rec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("recording.json")).expect("recording.json"))
                .expect("json");
        let want = if codec == SendCodec::Vp8 { "VP8" } else { "H264" };
        assert_eq!(rec["parts"][0]["video_codec"], want, "{rec}");
        let media = dir.join(rec["parts"][0]["file"].as_str().expect("part file"));
        let dec = facereview::media::Decoder::open(&media, Default::default()).expect("the recording decodes");
        assert!(dec.info().has_video() && dec.info().has_audio(), "{:?}", dec.info());
        drop(dec);
        let session: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("session.json")).expect("session.json"))
                .expect("json");
        assert_eq!(session["questions"][0]["id"], "q1");
        assert_eq!(session["challenges"][0]["kind"], "turn_left");
        let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("events");
        let kinds: Vec<String> = events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
            .collect();
        for k in ["models", "peer_created", "stats", "question", "challenge", "call_ended", "evidence", "verdict"] {
            assert!(kinds.iter().any(|x| x == k), "event log lacks {k}: {kinds:?}");
        }
        let api_events = http.api_get(&format!("{}/api/sessions/{id}/events", server.url)).json();
        assert!(api_events["events"].as_array().map(|a| a.len()).unwrap_or(0) >= kinds.len() - 1);

        // QA replay of the recording reproduces the decision (exit 0; 4 would be a mismatch).
        common::server::assert_replay_matches(&server, &dir);
    }
}

#[test]
fn shutdown_finalises_a_live_call() {
    let mut server = ServerProc::start("live-shutdown", &[]);
    let http = Http::new();
    let body = session_body(json!([{"id": "q1", "text": "Tell us about your shop.", "duration_s": 60}]), json!([]));
    let (id, token, _) = create_session(&http, &server, &body);
    let key = consent(&http, &server, &token);
    let (sender, _) = connect(
        &http,
        &server,
        &token,
        &key,
        &common::stream("live_two_speakers.webm"),
        sender_cfg(SendCodec::Vp8, 30),
    );
    wait_state(&http, &server, &id, &["live"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    let code = server.stop(Duration::from_secs(120));
    assert_eq!(code, Some(0), "graceful exit; log:\n{}", server.log());
    drop(sender);
    let dir = server.data.join("sessions").join(&id);
    assert!(dir.join("verdict.json").is_file(), "verdict written on shutdown; log:\n{}", server.log());
    let rec = std::fs::read_to_string(dir.join("recording.json")).expect("recording.json");
    assert!(rec.contains("media-1.mkv"));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("events");
    assert!(events.contains(r#""reason":"shutdown""#), "end reason recorded");
    // The store has the verdict too: a restarted server serves it.
    let data = server.data.clone();
    drop(server);
    let server = ServerProc::start_in(data, &[]);
    let s = http.api_get(&format!("{}/api/sessions/{id}", server.url)).json();
    assert_eq!(s["state"], "verdict", "{s}");
    assert_eq!(s["end_reason"], "shutdown");
}

#[test]
fn a_dropped_connection_rejoins_the_same_session_and_recording() {
    let server = ServerProc::start("live-rejoin", &["--grace-s", "20"]);
    let http = Http::new();
    let body = session_body(json!([{"id": "q1", "text": "Tell us about your shop.", "duration_s": 12}]), json!([]));
    let (id, token, _) = create_session(&http, &server, &body);
    let key = consent(&http, &server, &token);
    let file = common::stream("live_two_speakers.webm");
    let (first, _) = connect(&http, &server, &token, &key, &file, sender_cfg(SendCodec::Vp8, 30));
    wait_state(&http, &server, &id, &["live"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(5));
    // The phone loses the network: its connection vanishes without a hang-up.
    drop(first);
    std::thread::sleep(Duration::from_secs(2));
    // Another device cannot take over; the same device re-joins with its resume key.
    let r = http.post_json(&format!("{}/api/join/{token}/consent", server.url), &json!({"accepted": true}));
    assert_eq!(r.status, 409);
    let (second, location) = connect(&http, &server, &token, &key, &file, sender_cfg(SendCodec::Vp8, 30));
    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(150));
    drop(second);
    let _ = location;
    assert_eq!(s["state"], "verdict", "{s}\n{}", server.log());
    let dir = server.data.join("sessions").join(&id);
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recording.json")).expect("recording")).expect("json");
    let parts = rec["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2, "{rec}");
    let (end1, start2) = (parts[0]["end_ns"].as_u64().unwrap_or(0), parts[1]["offset_ns"].as_u64().unwrap_or(0));
    assert!(end1 > 3_000_000_000, "part 1 holds the first seconds: {rec}");
    assert!(start2 > end1, "part 2 continues the media clock after part 1: {rec}");
    // The question spans both parts on one clock, and the replay of both parts gives the same decision.
    common::server::assert_replay_matches(&server, &dir);
}

/// A one-request HTTP server that records the body it receives.
fn webhook_sink() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // Read headers, then Content-Length bytes of body.
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        let _ = tx.send(String::from_utf8_lossy(&buf[h + 4..h + 4 + len]).to_string());
                        break;
                    }
                }
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

#[test]
fn limits_refuse_clearly_and_the_verdict_reaches_the_webhook() {
    let (hook, received) = webhook_sink();
    let server = ServerProc::start("live-limits", &["--max-sessions", "1", "--max-call-s", "6", "--webhook", &hook]);
    let http = Http::new();
    let long = session_body(json!([{"id": "q1", "text": "Tell us about your shop.", "duration_s": 60}]), json!([]));
    let (id, token, _) = create_session(&http, &server, &long);
    let (_, token_b, _) = create_session(&http, &server, &long);
    let key = consent(&http, &server, &token);
    // One session at a time on this server: the second applicant is told the service is busy.
    let r = http.post_json(&format!("{}/api/join/{token_b}/consent", server.url), &json!({"accepted": true}));
    assert_eq!((r.status, r.json()["error"].as_str()), (503, Some("at_capacity")), "{}", r.body);
    let (sender, _) = connect(
        &http,
        &server,
        &token,
        &key,
        &common::stream("live_two_speakers.webm"),
        sender_cfg(SendCodec::Vp8, 30),
    );
    // The call-length limit ends the call.
    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(120));
    drop(sender);
    assert_eq!((s["state"].as_str(), s["end_reason"].as_str()), (Some("verdict"), Some("time_limit")), "{s}");
    let body = received.recv_timeout(Duration::from_secs(30)).expect("the webhook was called");
    let v: serde_json::Value = serde_json::from_str(&body).expect("webhook JSON");
    assert_eq!(v["session_id"], id.as_str());
    assert_eq!(v["decision"], s["decision"]);
    // The slot is free again.
    let r = http.post_json(&format!("{}/api/join/{token_b}/consent", server.url), &json!({"accepted": true}));
    assert_eq!(r.status, 200, "{}", r.body);
}
