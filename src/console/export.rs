//! The evidence export (docs/console.md "Evidence export"): `facereview-<id>.zip` with a self-contained
//! `report.html` (decision and reasons with each reason's evidence frame embedded, the location table, prompts and
//! challenges with results, the quality summary, reviewer decisions and the session's audit entries), the
//! recording parts, `verdict.json`, `session.json`, `events.jsonl` and `SHA256SUMS` over every other file.
//!
//! The zip is written on a blocking thread to a temporary file in `<data>/exports/`, hashed, audited (`export`
//! with the archive's sha256), then streamed from the open file (which is unlinked at once). [`report_html`] is
//! pure and escapes everything it shows.

use super::api::{Detail, load_detail};
use super::audit;
use super::files::{self, MAX_SESSION, MAX_VERDICT};
use super::login::Staff;
use super::media::frame_jpeg;
use crate::auth::Permission;
use crate::replay::session_dir::{EVENTS_FILE, SESSION_FILE, VERDICT_FILE};
use crate::server::error::ApiError;
use crate::server::{AppState, now_ms};
use crate::store::{AuditRow, ReviewDecisionRow};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::sync::Arc;
use tower_http::services::ServeFile;

/// Most reasons whose frame is embedded in the report.
pub const MAX_REPORT_FRAMES: usize = 40;
/// Largest `events.jsonl` put into an export.
pub const MAX_EVENTS: u64 = 256 << 20;
/// Temporary export files older than this are removed when the next export starts.
const STALE_EXPORT_MS: u128 = 3_600_000;

/// What the report shows.
pub struct ReportInput<'a> {
    pub session_id: &'a str,
    pub applicant_ref: &'a str,
    pub state: &'a str,
    pub created_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<&'a str>,
    pub review_status: &'a str,
    pub declared: &'a Value,
    pub verdict: Option<&'a Value>,
    pub interview: Option<&'a Value>,
    pub quality: Option<&'a Value>,
    pub decisions: &'a [ReviewDecisionRow],
    pub audit: &'a [AuditRow],
    /// Reason index → JPEG of its evidence frame.
    pub frames: &'a [(usize, Vec<u8>)],
    pub exported_by: &'a str,
    pub exported_at_ms: i64,
    /// Names of the other files of the archive.
    pub files: &'a [String],
}

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Unix ms as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Media ns as seconds with one decimal.
fn secs(v: &Value) -> String {
    v.as_f64().map(|ns| format!("{:.1} s", ns / 1e9)).unwrap_or_else(|| "–".into())
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => esc(s),
        Some(other) => esc(&other.to_string()),
    }
}

/// The first evidence time of each reason (the reason's evidence frame; as the console shows it).
pub fn reason_times(verdict: &Value) -> Vec<(usize, u64)> {
    verdict
        .get("reasons")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .enumerate()
                .filter_map(|(i, r)| r.pointer("/evidence/0/range/start").and_then(Value::as_u64).map(|t| (i, t)))
                .collect()
        })
        .unwrap_or_default()
}

/// The self-contained report: inline CSS, frames as `data:` URIs, no scripts, a CSP that forbids loading anything.
pub fn report_html(r: &ReportInput<'_>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
         <title>facereview evidence – {id}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         th,td{{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#eee}}\
         .d-reject{{color:#a00;font-weight:bold}}.d-review{{color:#a60;font-weight:bold}}.d-pass{{color:#060}}\
         img{{max-width:320px}}code{{font-size:12px;word-break:break-all}}</style></head><body>\
         <h1>Evidence report: session {id}</h1>",
        id = esc(r.session_id)
    );
    let declared = r.declared;
    let _ = write!(
        h,
        "<table><tr><th>Applicant</th><td>{}</td></tr><tr><th>Declared business</th><td>{} ({})<br>{}</td></tr>\
         <tr><th>Session state</th><td>{} (ended: {})</td></tr><tr><th>Created</th><td>{}</td></tr>\
         <tr><th>Call ended</th><td>{}</td></tr><tr><th>Review status</th><td>{}</td></tr>\
         <tr><th>Exported</th><td>{} by {}</td></tr></table>",
        esc(r.applicant_ref),
        text(declared.get("name")),
        text(declared.get("category")),
        text(declared.get("address")),
        esc(r.state),
        esc(r.end_reason.unwrap_or("–")),
        utc(r.created_at_ms),
        r.ended_at_ms.map(utc).unwrap_or_else(|| "–".into()),
        esc(r.review_status),
        utc(r.exported_at_ms),
        esc(r.exported_by),
    );

    h.push_str("<h2>Decision and reasons</h2>");
    match r.verdict {
        None => h.push_str("<p>No verdict (the analysis did not finish).</p>"),
        Some(v) => {
            let decision = v.get("decision").and_then(Value::as_str).unwrap_or("?");
            let _ = write!(
                h,
                "<p>Decision: <span class=\"d-{d}\">{d}</span> · risk score {} · policy {} · models {}</p>",
                text(v.get("risk_score")),
                text(v.get("policy_version")),
                text(v.get("manifest_sha256")),
                d = esc(decision),
            );
            h.push_str(
                "<table><tr><th>#</th><th>Decision</th><th>Reason</th><th>Where</th><th>Evidence frame</th></tr>",
            );
            for (i, reason) in v.get("reasons").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let d = reason.get("decision").and_then(Value::as_str).unwrap_or("?");
                let ranges: Vec<String> = reason
                    .get("evidence")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|e| format!("{}–{}", secs(&e["range"]["start"]), secs(&e["range"]["end"])))
                    .collect();
                let img = r
                    .frames
                    .iter()
                    .find(|(k, _)| *k == i)
                    .map(|(_, jpeg)| {
                        format!(
                            "<img alt=\"frame\" src=\"data:image/jpeg;base64,{}\">",
                            base64::engine::general_purpose::STANDARD.encode(jpeg)
                        )
                    })
                    .unwrap_or_default();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"d-{d}\">{d}</td><td><code>{}</code><br>{}</td><td>{}</td><td>{img}</td></tr>",
                    i + 1,
                    text(reason.get("code")),
                    text(reason.get("text")),
                    esc(&ranges.join(", ")),
                    d = esc(d),
                );
            }
            h.push_str("</table>");
        }
    }

    let interview = r.interview.cloned().unwrap_or(Value::Null);
    h.push_str("<h2>Location</h2>");
    let _ = write!(
        h,
        "<p>Declared: {}, {} ({})</p><table><tr><th>Time</th><th>Latitude</th><th>Longitude</th><th>Accuracy (m)</th>\
         <th>Source</th><th>Coordinates</th></tr>",
        text(declared.get("lat")),
        text(declared.get("lon")),
        text(declared.get("coord_system")),
    );
    for l in interview.get("locations").and_then(Value::as_array).into_iter().flatten() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            secs(&l["t"]),
            text(l.get("lat")),
            text(l.get("lon")),
            text(l.get("accuracy_m")),
            text(l.get("source")),
            text(l.get("coord_system")),
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Prompts</h2><table><tr><th>Asked</th><th>Until</th><th>Question</th></tr>");
    for q in interview.get("questions").and_then(Value::as_array).into_iter().flatten() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            secs(&q["asked_at"]),
            secs(&q["until"]),
            text(q.get("text"))
        );
    }
    h.push_str(
        "</table><h2>Challenges</h2><table><tr><th>Issued</th><th>Challenge</th><th>Deadline</th><th>Result</th></tr>",
    );
    for c in interview.get("challenges").and_then(Value::as_array).into_iter().flatten() {
        let kind = match c.get("digits").and_then(Value::as_str) {
            Some(d) => format!("{} {}", text(c.get("kind")), esc(d)),
            None => text(c.get("kind")),
        };
        let result = c
            .get("result")
            .map(|r| format!("{} {} – {}", text(r.get("state")), text(r.get("finding")), text(r.get("summary"))));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{kind}</td><td>{} ms</td><td>{}</td></tr>",
            secs(&c["issued_at"]),
            text(c.get("deadline_ms")),
            result.unwrap_or_else(|| "–".into()),
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Call quality</h2><table>");
    if let Some(q) = r.quality {
        let rep = q.get("report").cloned().unwrap_or(Value::Null);
        for (label, v) in [
            ("Media length (s)", q.get("media_s")),
            ("Bytes received", q.get("bytes_received")),
            ("Recording parts", q.get("parts")),
            ("Time to first frame (ms)", rep.get("time_to_first_frame_ms")),
            ("Mean frame rate", rep.get("mean_fps")),
            ("Freezes", rep.get("freeze_count")),
            ("Total freeze time (ms)", rep.get("total_freeze_ms")),
            ("Usable liveness windows", rep.pointer("/windows/liveness/share")),
            ("Usable voice windows", rep.pointer("/windows/voice/share")),
            ("Adaptation actions", q.get("adapt_actions")),
        ] {
            let _ = write!(h, "<tr><th>{label}</th><td>{}</td></tr>", text(v));
        }
    } else {
        h.push_str("<tr><td>No quality report.</td></tr>");
    }
    h.push_str("</table>");

    h.push_str("<h2>Reviewer decisions</h2><table><tr><th>#</th><th>When</th><th>Reviewer</th><th>Action</th><th>Reason</th></tr>");
    for d in r.decisions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            d.seq,
            utc(d.created_at_ms),
            esc(&d.display_name),
            esc(&d.username),
            esc(&d.action),
            esc(&d.reason),
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Audit log of this session</h2><table><tr><th>Seq</th><th>When</th><th>Actor</th><th>Action</th><th>Detail</th><th>Hash</th></tr>");
    for e in r.audit {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            e.seq,
            utc(e.t_ms),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.detail.to_string()),
            esc(&e.hash),
        );
    }
    h.push_str("</table><h2>Files</h2><ul>");
    for f in r.files {
        let _ = write!(h, "<li><code>{}</code></li>", esc(f));
    }
    h.push_str("</ul><p>SHA256SUMS lists the sha256 of every other file in this archive.</p></body></html>");
    h
}

/// One file to put into the archive.
enum Entry {
    Bytes { name: String, data: Vec<u8>, compress: bool },
    File { name: String, path: std::path::PathBuf, max: u64, compress: bool },
}

/// Writes the archive to `out`; returns the names written (SHA256SUMS last).
fn write_zip(out: &std::path::Path, entries: Vec<Entry>) -> Result<Vec<String>, String> {
    use zip::write::SimpleFileOptions;
    let file = std::fs::File::create(out).map_err(|e| format!("create: {e}"))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = |compress: bool| {
        SimpleFileOptions::default()
            .compression_method(if compress {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            })
            .large_file(true)
            .unix_permissions(0o644)
    };
    let mut sums = String::new();
    let mut names = Vec::new();
    for e in entries {
        let (name, compress) = match &e {
            Entry::Bytes { name, compress, .. } | Entry::File { name, compress, .. } => (name.clone(), *compress),
        };
        zip.start_file(name.as_str(), opts(compress)).map_err(|e| format!("{name}: {e}"))?;
        let mut hasher = Sha256::new();
        match e {
            Entry::Bytes { data, .. } => {
                hasher.update(&data);
                zip.write_all(&data).map_err(|e| format!("{name}: {e}"))?;
            }
            Entry::File { path, max, .. } => {
                let f = std::fs::File::open(&path).map_err(|e| format!("{name}: {e}"))?;
                let mut f = f.take(max);
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f.read(&mut buf).map_err(|e| format!("{name}: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    zip.write_all(&buf[..n]).map_err(|e| format!("{name}: {e}"))?;
                }
            }
        }
        let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(sums, "{digest}  {name}");
        names.push(name);
    }
    zip.start_file("SHA256SUMS", opts(true)).map_err(|e| format!("SHA256SUMS: {e}"))?;
    zip.write_all(sums.as_bytes()).map_err(|e| format!("SHA256SUMS: {e}"))?;
    names.push("SHA256SUMS".into());
    let w = zip.finish().map_err(|e| format!("finish: {e}"))?;
    w.into_inner().map_err(|e| format!("flush: {e}"))?.sync_all().map_err(|e| format!("sync: {e}"))?;
    Ok(names)
}

fn sha256_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(), total))
}

/// Removes export temporaries left behind (a crash mid-export).
fn clean_stale(dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_millis() > STALE_EXPORT_MS);
        if old && e.file_name().to_string_lossy().starts_with(".export-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// `GET /console/api/sessions/{id}/export`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    staff.require(Permission::Export)?;
    let d: Detail = load_detail(&state, &id).await?;
    let audit_rows = state.shared.store.audit_entries(Some(&id), None, 1000).await?;
    let mut audit_rows = audit_rows;
    audit_rows.reverse();
    // Evidence frames of the reasons (cached by the frame endpoint's cache too).
    let mut frames = Vec::new();
    if let Some(v) = &d.verdict {
        for (i, t) in reason_times(v).into_iter().take(MAX_REPORT_FRAMES) {
            if let Ok(jpeg) = frame_jpeg(&state, &d.dir, &d.parts, t).await {
                frames.push((i, jpeg));
            }
        }
    }
    let dir = d.dir.clone();
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for p in d.parts.iter().filter(|p| p.bytes > 0) {
        names.push(p.file.clone());
        entries.push(Entry::File { name: p.file.clone(), path: p.path.clone(), max: p.bytes, compress: false });
    }
    // verdict.json and session.json as stored (bounded); events.jsonl streamed.
    let (verdict_bytes, session_bytes, events_present) = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            Ok::<_, files::FileError>((
                files::read_bounded(&dir.join(VERDICT_FILE), MAX_VERDICT)?,
                files::read_bounded(&dir.join(SESSION_FILE), MAX_SESSION)?,
                dir.join(EVENTS_FILE).is_file(),
            ))
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    };
    let verdict_bytes = verdict_bytes.or_else(|| d.row.session.verdict_json.clone().map(String::into_bytes));
    if let Some(b) = verdict_bytes {
        names.push(VERDICT_FILE.into());
        entries.push(Entry::Bytes { name: VERDICT_FILE.into(), data: b, compress: true });
    }
    if let Some(b) = session_bytes {
        names.push(SESSION_FILE.into());
        entries.push(Entry::Bytes { name: SESSION_FILE.into(), data: b, compress: true });
    }
    if events_present {
        names.push(EVENTS_FILE.into());
        entries.push(Entry::File {
            name: EVENTS_FILE.into(),
            path: dir.join(EVENTS_FILE),
            max: MAX_EVENTS,
            compress: true,
        });
    }
    let now = now_ms();
    let s = &d.row.session;
    let report = report_html(&ReportInput {
        session_id: &s.id,
        applicant_ref: &s.applicant_ref,
        state: s.state.as_str(),
        created_at_ms: s.created_at_ms,
        ended_at_ms: s.ended_at_ms,
        end_reason: s.end_reason.as_deref(),
        review_status: d.row.review_status.as_deref().unwrap_or("open"),
        declared: d.request.get("declared").unwrap_or(&Value::Null),
        verdict: d.verdict.as_ref(),
        interview: d.interview.as_ref(),
        quality: d.quality.as_ref(),
        decisions: &d.decisions,
        audit: &audit_rows,
        frames: &frames,
        exported_by: staff.username(),
        exported_at_ms: now,
        files: &names,
    });
    entries.insert(0, Entry::Bytes { name: "report.html".into(), data: report.into_bytes(), compress: true });

    let exports = state.cfg.data_dir.join("exports");
    let tmp = exports.join(format!(".export-{}.zip", crate::server::random_hex(8)?));
    let (tmp2, exports2) = (tmp.clone(), exports.clone());
    let built = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&exports2).map_err(|e| format!("exports folder: {e}"))?;
        clean_stale(&exports2);
        let names = write_zip(&tmp2, entries)?;
        let (sha, bytes) = sha256_file(&tmp2).map_err(|e| format!("hash: {e}"))?;
        Ok::<_, String>((names, sha, bytes))
    })
    .await
    .map_err(ApiError::internal)?;
    let (files_in_zip, sha, bytes) = match built {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(ApiError::internal(format!("export of {id}: {e}")));
        }
    };
    let logged = audit(
        &state,
        staff.username(),
        "export",
        Some(&id),
        json!({"sha256": sha, "bytes": bytes, "files": files_in_zip}),
    )
    .await;
    if let Err(e) = logged {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The open file keeps the data; the name goes at once.
    let served = ServeFile::new(&tmp).try_call(req).await;
    let _ = std::fs::remove_file(&tmp);
    let mut resp = served.map_err(ApiError::internal)?.map(axum::body::Body::new);
    if resp.status() == StatusCode::OK || resp.status() == StatusCode::PARTIAL_CONTENT {
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
        let disposition = format!("attachment; filename=\"facereview-{id}.zip\"");
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(ApiError::internal)?);
        h.insert("x-content-sha256", HeaderValue::from_str(&sha).map_err(ApiError::internal)?);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn the_report_escapes_everything_and_embeds_frames() {
        let declared = json!({"name": "<script>alert(1)</script>", "category": "cafe", "lat": 60.1, "lon": 24.9});
        let verdict = json!({"decision": "review", "risk_score": 0.7, "reasons": [
            {"code": "voice.second_speaker", "decision": "review", "text": "a \"second\" voice & more",
             "evidence": [{"range": {"start": 2_000_000_000u64, "end": 4_000_000_000u64}}]},
            {"code": "coverage.face", "decision": "pass", "text": "ok", "evidence": []}]});
        let interview = json!({"locations": [{"t": 1_000_000_000u64, "lat": 60.2, "lon": 24.8, "accuracy_m": 12.0}],
            "questions": [{"id": "q1", "text": "What <b>do</b> you sell?", "asked_at": 0}],
            "challenges": [{"id": "c1", "kind": "read_digits", "digits": "4711", "issued_at": 5_000_000_000u64,
                "deadline_ms": 4000, "result": {"state": "observed", "finding": "supports", "summary": "read"}}]});
        let audit = vec![AuditRow {
            seq: 7,
            t_ms: 0,
            actor: "rita".into(),
            action: "session.view".into(),
            session_id: Some("s_1".into()),
            detail: json!({"x": "<y>"}),
            prev_hash: "0".repeat(64),
            hash: "ab".repeat(32),
        }];
        let decisions = vec![ReviewDecisionRow {
            seq: 1,
            action: "escalate".into(),
            reason: "needs <a supervisor>".into(),
            user_id: "u_1".into(),
            username: "rita".into(),
            display_name: "Rita".into(),
            created_at_ms: 0,
        }];
        let times = reason_times(&verdict);
        assert_eq!(times, vec![(0, 2_000_000_000)]);
        let frames = vec![(0usize, vec![0xFF, 0xD8, 0xFF, 0xE0])];
        let html = report_html(&ReportInput {
            session_id: "s_1",
            applicant_ref: "A-1",
            state: "verdict",
            created_at_ms: 0,
            ended_at_ms: Some(60_000),
            end_reason: Some("completed"),
            review_status: "escalated",
            declared: &declared,
            verdict: Some(&verdict),
            interview: Some(&interview),
            quality: Some(&json!({"media_s": 41.0, "report": {"mean_fps": 14.2}})),
            decisions: &decisions,
            audit: &audit,
            frames: &frames,
            exported_by: "sam",
            exported_at_ms: 0,
            files: &["media-1.mkv".to_owned()],
        });
        assert!(!html.contains("<script>"), "no unescaped markup");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;second&quot; voice &amp; more"));
        assert!(html.contains("data:image/jpeg;base64,/9j/4A=="), "the frame is embedded");
        assert!(html.contains("4711") && html.contains("What &lt;b&gt;do&lt;/b&gt; you sell?"));
        assert!(html.contains("needs &lt;a supervisor&gt;"));
        assert!(html.contains("60.2") && html.contains("14.2"));
        assert!(html.contains("default-src 'none'"), "inert when opened");
    }

    #[test]
    fn zips_carry_sums_of_every_other_file() {
        let dir = std::env::temp_dir().join(format!("fr-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let part = dir.join("media-1.mkv");
        std::fs::write(&part, vec![7u8; 300_000]).expect("write");
        let out = dir.join("x.zip");
        let names = write_zip(
            &out,
            vec![
                Entry::Bytes { name: "report.html".into(), data: b"<html></html>".to_vec(), compress: true },
                Entry::File { name: "media-1.mkv".into(), path: part.clone(), max: 300_000, compress: false },
            ],
        )
        .expect("zip");
        assert_eq!(names, ["report.html", "media-1.mkv", "SHA256SUMS"]);
        let mut z = zip::ZipArchive::new(std::fs::File::open(&out).expect("open")).expect("a zip");
        let mut sums = String::new();
        z.by_name("SHA256SUMS").expect("sums").read_to_string(&mut sums).expect("read");
        let mut media = Vec::new();
        z.by_name("media-1.mkv").expect("part").read_to_end(&mut media).expect("read");
        assert_eq!(media.len(), 300_000);
        let want: String = Sha256::digest(&media).iter().map(|b| format!("{b:02x}")).collect();
        assert!(sums.contains(&format!("{want}  media-1.mkv")), "{sums}");
        assert_eq!(sums.lines().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
