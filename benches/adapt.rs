//! Bitrate adaptation under impairment, with the real headless Chromium sender (`tests/e2e/applicant.mjs`, fake
//! camera and microphone from the test stream) talking to `facereview serve` through the userspace impairment
//! relay (`facereview-impair`, seeded). Each network profile runs twice: adaptation on (the controller steers the
//! phone) and off (plain WebRTC negotiation: no actions, no start cap). Reported per run: the phone's data use, the
//! freezes, time to first frame, the share of usable liveness / voice windows, the mean frame rate and height, and
//! whether the verdict matches the unimpaired run of the same mode (for the 3-minute call: the one without
//! adaptation). Not a criterion micro-benchmark: one call per row; results go to stdout as a Markdown table (copied
//! into BENCHMARKS.md) and, with FR_ADAPT_OUT, as JSON.
//!
//!     cargo bench --bench adapt                                   # all profiles, both modes, plus a 3-min call
//!     FR_ADAPT_PROFILES=clean,kbps150_loss5 FR_ADAPT_MODES=on cargo bench --bench adapt
//!     FR_ADAPT_LONG=0 cargo bench --bench adapt                   # without the 3-minute call
//!     FR_ADAPT_REPEAT=5 cargo bench --bench adapt                 # each short call 5 times, plus medians
//!     FR_ADAPT_TRACES=testdata/adapt cargo bench --bench adapt    # keep each call's controller trace
//!     FR_ADAPT_KEEP=/tmp/calls cargo bench --bench adapt          # keep each call's event log, trace and final state
//!
//! `cargo test --benches` builds it and runs nothing (a call takes a minute).

#[path = "../tests/common/mod.rs"]
mod common;

use common::server::{Http, ServerProc, create_session, wait_state};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

struct Row {
    profile: String,
    mode: String,
    call_s: f64,
    ok: bool,
    phone_mb: f64,
    server_kbps: f64,
    ttff_ms: Option<u64>,
    freezes: u64,
    freeze_ms: u64,
    liveness: f64,
    voice: f64,
    expression: f64,
    mean_fps: f64,
    height: String,
    snapshots: u64,
    actions: u64,
    decision: String,
    end_reason: String,
    /// From the receiver's last stats in the event log: PLIs sent, requests the receiver held back, and the
    /// video retransmissions asked / repaired / packets lost.
    plis: u64,
    plis_held: u64,
    rtx: (u64, u64, u64),
    /// The relay's uplink: packets dropped at random (loss) and because the bottleneck queue was full.
    relay_drops: (u64, u64),
}

/// The last receiver stats (`PeerStats`) written to the session's event log.
fn last_peer_stats(events: &std::path::Path) -> Option<Value> {
    fn find(v: &Value) -> Option<&Value> {
        match v {
            Value::Object(m) if m.contains_key("video_repair") => Some(v),
            Value::Object(m) => m.values().find_map(find),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    let text = std::fs::read_to_string(events).ok()?;
    text.lines().rev().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find_map(|v| find(&v).cloned())
}

fn script(long: bool) -> Value {
    if long {
        // ~3 minutes: eight questions (one about the place), four challenges.
        let mut q: Vec<Value> = (1..=8)
            .map(|i| json!({"id": format!("q{i}"), "text": "Please tell us about your business.", "duration_s": 19}))
            .collect();
        q[1] = json!({"id": "q2", "text": "Please show us where you are.", "duration_s": 15, "focus": "scene"});
        json!({"questions": q, "challenges": [{"kind": "turn_left"}, {"kind": "blink"}, {"kind": "read_digits"}, {"kind": "turn_right"}]})
    } else {
        json!({
            "questions": [
                {"id": "q1", "text": "What does your business sell?", "duration_s": 12},
                {"id": "q2", "text": "Please show us where you are.", "duration_s": 8, "focus": "scene"},
                {"id": "q3", "text": "How long have you run it?", "duration_s": 12}
            ],
            "challenges": [{"kind": "turn_left"}, {"kind": "read_digits"}]
        })
    }
}

fn fake(name: &str) -> std::path::PathBuf {
    let p = common::root().join("testdata/fake").join(name);
    assert!(p.exists(), "{} is missing: run the README's set-up", p.display());
    p
}

fn call(profile: &str, mode: &str, long: bool) -> Row {
    let mut server = ServerProc::start(&format!("bench-adapt-{profile}-{mode}"), &["--adapt", mode]);
    let http = Http::new();
    let body = json!({
        "applicant_ref": format!("BENCH-{profile}-{mode}"),
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": script(long),
    });
    let (id, _token, join_url) = create_session(&http, &server, &body);
    let out = Command::new("node")
        .arg(common::root().join("tests/e2e/applicant.mjs"))
        .args(["--url", &join_url, "--codec", "vp8", "--geo", "60.17193,24.94085,14"])
        .args(["--timeout-s", if long { "420" } else { "200" }])
        .arg("--video")
        .arg(fake("applicant.y4m"))
        .arg("--audio")
        .arg(fake("applicant.wav"))
        .args(["--relay-cmd", env!("CARGO_BIN_EXE_facereview-impair"), "--relay-profile", profile, "--relay-seed", "7"])
        .output()
        .expect("node runs the applicant driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: Value = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| json!({"ok": false, "errors": [String::from_utf8_lossy(&out.stderr).to_string()]}));
    if r["ok"] != true {
        eprintln!("adapt bench: {profile}/{mode}: driver not ok: {r}");
    }
    let s = wait_state(&http, &server, &id, &["verdict", "failed"], Duration::from_secs(300));
    let q = &s["quality"];
    let rep = &q["report"];
    let media_s = q["media_s"].as_f64().unwrap_or(0.0);
    let phone_bytes = r["bytes_sent"].as_f64().unwrap_or(0.0);
    let heights = rep["heights"].as_object().cloned().unwrap_or_default();
    let top_height = heights
        .iter()
        .max_by_key(|(_, n)| n.as_u64().unwrap_or(0))
        .map(|(h, _)| h.clone())
        .unwrap_or_else(|| "-".into());
    if let Ok(dir) = std::env::var("FR_ADAPT_TRACES") {
        let src = server.data.join("sessions").join(&id).join("adapt-trace.jsonl");
        let dst = std::path::Path::new(&dir).join(format!("{profile}-{mode}{}.jsonl", if long { "-long" } else { "" }));
        if src.exists() {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::copy(&src, &dst);
        }
    }
    if let Ok(dir) = std::env::var("FR_ADAPT_KEEP") {
        // For diagnosis: the whole event log and the session's final state (quality timeline, windows).
        let dir = std::path::Path::new(&dir).join(format!("{profile}-{mode}{}-{id}", if long { "-long" } else { "" }));
        let _ = std::fs::create_dir_all(&dir);
        for f in ["events.jsonl", "adapt-trace.jsonl"] {
            let _ = std::fs::copy(server.data.join("sessions").join(&id).join(f), dir.join(f));
        }
        let _ = std::fs::write(dir.join("state.json"), serde_json::to_string_pretty(&s).unwrap_or_default());
        let _ = std::fs::write(dir.join("driver.json"), stdout.as_bytes());
    }
    let ps = last_peer_stats(&server.data.join("sessions").join(&id).join("events.jsonl")).unwrap_or(Value::Null);
    let rep_n = |k: &str| ps["video_repair"][k].as_u64().unwrap_or(0);
    let row = Row {
        plis: ps["video"]["pli_count"].as_u64().unwrap_or(0) + ps["video"]["fir_count"].as_u64().unwrap_or(0),
        plis_held: rep_n("keyframe_requests_held"),
        rtx: (rep_n("rtx_requests"), rep_n("rtx_repaired"), rep_n("lost")),
        relay_drops: r["relays"].as_array().into_iter().flatten().fold((0, 0), |(l, q), x| {
            let up = &x["stats"]["up"];
            (l + up["dropped_loss"].as_u64().unwrap_or(0), q + up["dropped_queue"].as_u64().unwrap_or(0))
        }),
        profile: profile.into(),
        mode: mode.into(),
        call_s: media_s,
        ok: r["ok"] == true,
        phone_mb: phone_bytes / 1e6,
        server_kbps: q["bytes_received"].as_f64().unwrap_or(0.0) * 8.0 / 1000.0 / media_s.max(1.0),
        ttff_ms: rep["time_to_first_frame_ms"].as_u64(),
        freezes: rep["freeze_count"].as_u64().unwrap_or(0),
        freeze_ms: rep["total_freeze_ms"].as_u64().unwrap_or(0),
        liveness: rep["windows"]["liveness"]["share"].as_f64().unwrap_or(0.0),
        voice: rep["windows"]["voice"]["share"].as_f64().unwrap_or(0.0),
        expression: rep["windows"]["expression"]["share"].as_f64().unwrap_or(0.0),
        mean_fps: rep["mean_fps"].as_f64().unwrap_or(0.0),
        height: top_height,
        snapshots: q["snapshots"].as_u64().unwrap_or(0),
        actions: q["adapt_actions"].as_u64().unwrap_or(0),
        decision: s["decision"].as_str().unwrap_or("-").into(),
        end_reason: s["end_reason"].as_str().unwrap_or("-").into(),
    };
    server.stop(Duration::from_secs(60));
    row
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        return;
    }
    let list = |var: &str, default: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    };
    let profiles = list("FR_ADAPT_PROFILES", "clean,good_4g,kbps400,kbps150_loss5,outage5s");
    let modes = list("FR_ADAPT_MODES", "on,off");
    let repeat: usize = std::env::var("FR_ADAPT_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let mut rows = Vec::new();
    for mode in &modes {
        for p in &profiles {
            for n in 0..repeat {
                eprintln!("adapt bench: {p} / adaptation {mode} ({}/{repeat}) ...", n + 1);
                rows.push(call(p, mode, false));
            }
        }
    }
    if std::env::var("FR_ADAPT_LONG").map(|v| v != "0").unwrap_or(true) {
        for mode in &modes {
            eprintln!("adapt bench: 3-minute call, good_4g / adaptation {mode} ...");
            let mut r = call("good_4g", mode, true);
            r.profile = "good_4g (3 min)".into();
            rows.push(r);
        }
    }
    println!(
        "| profile | adapt | call s | driver ok | phone MB | server kb/s | TTFF ms | freezes (ms) | liveness windows | voice windows | expression windows | mean fps | main height | snapshots | actions | PLIs (held) | RTX asked/repaired/lost | relay drops loss/queue | decision | same as clean |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        // A short call is compared with the clean call of its mode; the 3-minute call (its own script) with the
        // 3-minute call without adaptation, which runs at full quality on good 4G.
        let reference = if r.profile.ends_with("(3 min)") {
            rows.iter().find(|x| x.profile == r.profile && x.mode == "off")
        } else {
            rows.iter().find(|x| x.profile == "clean" && x.mode == r.mode)
        };
        let same = match reference {
            Some(x) if std::ptr::eq(x, r) => "(reference)",
            Some(x) if x.decision == r.decision => "yes",
            Some(_) => "no",
            None => "-",
        };
        println!(
            "| {} | {} | {:.0} | {} | {:.2} | {:.0} | {} | {} ({}) | {:.0} % | {:.0} % | {:.0} % | {:.1} | {} | {} | {} | {} ({}) | {}/{}/{} | {}/{} | {} ({}) | {} |",
            r.profile,
            r.mode,
            r.call_s,
            if r.ok { "yes" } else { "no" },
            r.phone_mb,
            r.server_kbps,
            r.ttff_ms.map(|x| x.to_string()).unwrap_or("-".into()),
            r.freezes,
            r.freeze_ms,
            r.liveness * 100.0,
            r.voice * 100.0,
            r.expression * 100.0,
            r.mean_fps,
            r.height,
            r.snapshots,
            r.actions,
            r.plis,
            r.plis_held,
            r.rtx.0,
            r.rtx.1,
            r.rtx.2,
            r.relay_drops.0,
            r.relay_drops.1,
            r.decision,
            r.end_reason,
            same
        );
    }
    if repeat > 1 {
        // Single calls scatter (which packets a seeded relay drops still meets a different stream each time):
        // the median and range of each profile's calls.
        println!();
        println!(
            "| profile | adapt | calls | liveness median (range) | voice median (range) | phone MB median | freezes median | decisions |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for mode in &modes {
            for p in &profiles {
                let set: Vec<&Row> = rows.iter().filter(|r| &r.profile == p && &r.mode == mode).collect();
                let stat = |f: &dyn Fn(&Row) -> f64| {
                    let mut v: Vec<f64> = set.iter().map(|r| f(r)).collect();
                    v.sort_by(f64::total_cmp);
                    (v[v.len() / 2], v[0], v[v.len() - 1])
                };
                let (lm, l0, l1) = stat(&|r| r.liveness * 100.0);
                let (vm, v0, v1) = stat(&|r| r.voice * 100.0);
                let (mb, _, _) = stat(&|r| r.phone_mb);
                let (fz, _, _) = stat(&|r| r.freezes as f64);
                let decisions: Vec<&str> = set.iter().map(|r| r.decision.as_str()).collect();
                println!(
                    "| {p} | {mode} | {} | {lm:.0} % ({l0:.0}-{l1:.0}) | {vm:.0} % ({v0:.0}-{v1:.0}) | {mb:.2} | {fz:.0} | {} |",
                    set.len(),
                    decisions.join(", ")
                );
            }
        }
    }
    if let Ok(path) = std::env::var("FR_ADAPT_OUT") {
        let v: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"profile": r.profile, "mode": r.mode, "call_s": r.call_s, "ok": r.ok, "phone_mb": r.phone_mb,
                    "server_kbps": r.server_kbps, "ttff_ms": r.ttff_ms, "freezes": r.freezes, "freeze_ms": r.freeze_ms,
                    "liveness": r.liveness, "voice": r.voice, "expression": r.expression, "mean_fps": r.mean_fps,
                    "height": r.height, "snapshots": r.snapshots, "actions": r.actions, "decision": r.decision,
                    "end_reason": r.end_reason, "plis": r.plis, "plis_held": r.plis_held,
                    "rtx_asked": r.rtx.0, "rtx_repaired": r.rtx.1, "lost": r.rtx.2,
                    "relay_dropped_loss": r.relay_drops.0, "relay_dropped_queue": r.relay_drops.1})
            })
            .collect();
        let _ = std::fs::write(path, serde_json::to_string_pretty(&v).unwrap_or_default());
    }
}
