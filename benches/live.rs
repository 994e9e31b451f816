//! Live-session load: N concurrent calls into one `facereview serve` (release build), each a webrtcbin sender
//! streaming the real talking-head test stream re-encoded to 480x360 @ 15 fps VP8 + Opus, with every model and
//! check running. Measures the server's CPU per session (from /proc, over the steady part of the calls) and whether
//! analysis keeps up: frames and audio dropped before analysis, background frames skipped, and how many frames the
//! face worker took, per session. Not a criterion micro-benchmark: one run per N, a table on stdout.
//!
//!     cargo bench --bench live                 # N = 1, 2, 3, 4
//!     FR_LIVE_SESSIONS=1,2 cargo bench --bench live
//!
//! The senders run in this process on the same machine and compete with the server for CPU; their CPU is
//! reported separately.

#[path = "../tests/common/mod.rs"]
mod common;

use common::server::{Http, ServerProc, create_session, wait_state};
use facereview::media::sender::{SendCodec, Sender, SenderConfig};
use serde_json::json;
use std::time::{Duration, Instant};

const CALL_S: u64 = 40;
const WARMUP_S: u64 = 8;
const MEASURE_S: u64 = 24;

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) — utime and stime are 14 and 15 (1-based).
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0; // USER_HZ on Linux
    let ut: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    (ut + st) / tick
}

fn self_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

struct Row {
    n: usize,
    server_cores: f64,
    sender_cores: f64,
    per_session_cores: f64,
    frames_analysed: f64,
    video_dropped: u64,
    audio_dropped: u64,
    scene_skipped: u64,
    decisions: Vec<String>,
}

fn run(n: usize) -> Row {
    let server = ServerProc::start(&format!("bench-live-{n}"), &["--max-sessions", &n.to_string()]);
    let http = Http::new();
    let pid = server_pid(&server);
    let body = json!({
        "applicant_ref": "BENCH",
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": {"questions": [{"id": "q1", "text": "Tell us about your business.", "duration_s": 30}],
                   "challenges": [{"kind": "turn_left"}]},
    });
    let mut calls = Vec::new();
    for _ in 0..n {
        let (id, token, _) = create_session(&http, &server, &body);
        let r = http.post_json(&format!("{}/api/join/{token}/consent", server.url), &json!({"accepted": true}));
        assert_eq!(r.status, 200, "{}", r.body);
        let key = r.json()["resume_key"].as_str().expect("key").to_owned();
        let cfg = SenderConfig {
            codec: SendCodec::Vp8,
            width: 480,
            height: 360,
            fps: 15,
            bitrate_kbps: 450,
            loopback: true,
            max_duration: Some(Duration::from_secs(CALL_S)),
            ..Default::default()
        };
        let (sender, offer) = Sender::offer(&common::stream("live_two_speakers.webm"), cfg).expect("sender");
        let r = http.post_sdp(&format!("{}/whip/{token}", server.url), Some(&key), &offer);
        assert_eq!(r.status, 201, "{}", r.body);
        sender.set_answer(&r.body).expect("answer");
        let location = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        calls.push((id, key, location, sender));
    }
    for (id, ..) in &calls {
        wait_state(&http, &server, id, &["live"], Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_secs(WARMUP_S));
    let (s0, m0, t0) = (cpu_seconds(pid), self_cpu_seconds(), Instant::now());
    std::thread::sleep(Duration::from_secs(MEASURE_S));
    let (s1, m1, wall) = (cpu_seconds(pid), self_cpu_seconds(), t0.elapsed().as_secs_f64());
    for (_, key, location, _) in &calls {
        http.delete(&format!("{}{location}", server.url), key);
    }
    let mut row = Row {
        n,
        server_cores: (s1 - s0) / wall,
        sender_cores: (m1 - m0) / wall,
        per_session_cores: (s1 - s0) / wall / n as f64,
        frames_analysed: 0.0,
        video_dropped: 0,
        audio_dropped: 0,
        scene_skipped: 0,
        decisions: Vec::new(),
    };
    for (id, ..) in &calls {
        let s = wait_state(&http, &server, id, &["verdict", "failed"], Duration::from_secs(300));
        let q = &s["quality"];
        row.frames_analysed += q["frames_analysed"].as_f64().unwrap_or(0.0) / q["media_s"].as_f64().unwrap_or(1.0);
        row.video_dropped += q["video_dropped"].as_u64().unwrap_or(0);
        row.audio_dropped += q["audio_dropped"].as_u64().unwrap_or(0);
        row.scene_skipped += q["scene_skipped"].as_u64().unwrap_or(0);
        row.decisions.push(s["decision"].as_str().unwrap_or("-").to_owned());
    }
    row.frames_analysed /= n as f64;
    drop(calls);
    row
}

fn server_pid(server: &ServerProc) -> u32 {
    // The server's port is unique: find the process listening on it via /proc/net/tcp is overkill; the
    // health endpoint does not expose the pid, so look for the child whose data dir matches.
    let data = server.data.to_string_lossy().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmd.contains("serve") && String::from_utf8_lossy(&env).contains(&format!("FACEREVIEW_DATA={data}")) {
            return pid;
        }
    }
    panic!("server process not found");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too: keep that to a smoke check of N = 1.
    let bench = std::env::args().any(|a| a == "--bench");
    let list =
        std::env::var("FR_LIVE_SESSIONS").unwrap_or_else(|_| if bench { "1,2,3,4".into() } else { String::new() });
    let ns: Vec<usize> = list.split(',').filter_map(|x| x.trim().parse().ok()).collect();
    if ns.is_empty() {
        println!("live bench: skipped (run with `cargo bench --bench live`)");
        return;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("live sessions, 480x360@15 VP8 + Opus, all models and checks; {cores} cores; {MEASURE_S} s measured");
    println!(
        "{:>3} {:>12} {:>13} {:>12} {:>14} {:>13} {:>13} {:>13}  decisions",
        "N", "server cores", "per session", "senders", "frames/s (15)", "video drops", "audio drops", "scene skips"
    );
    for n in ns {
        let r = run(n);
        println!(
            "{:>3} {:>12.2} {:>13.2} {:>12.2} {:>14.1} {:>13} {:>13} {:>13}  {}",
            r.n,
            r.server_cores,
            r.per_session_cores,
            r.sender_cores,
            r.frames_analysed,
            r.video_dropped,
            r.audio_dropped,
            r.scene_skipped,
            r.decisions.join(",")
        );
    }
}
