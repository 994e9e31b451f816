//! The reviewer console against the real `facereview serve` binary: logins (cookie, lockout, generic errors),
//! CSRF and Origin checks, role gating of pages and API, and one real recorded call (a webrtcbin sender standing in
//! for the phone) reviewed end to end: queue with SLA fields, session detail with verdict, timelines and recording
//! parts, ranged recording reads, evidence frames, decisions and re-decisions, assignment, the evidence export
//! and the audit log with its verification.

mod common;

use common::server::{API_KEY, ServerProc, create_session, wait_state};
use facereview::media::sender::{SendCodec, Sender, SenderConfig};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::time::Duration;

/// A raw reply (bytes kept: recordings, frames, zips).
struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

/// A console client: the login cookie and CSRF token carried by hand (as a browser would).
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Client {
    fn new(base: &str) -> Client {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Client { rt, http, base: base.to_owned(), cookie: None, csrf: None }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Resp {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("fr_console={c}"));
        }
        if method != reqwest::Method::GET
            && let Some(t) = &self.csrf
        {
            req = req.header("x-csrf-token", t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.rt.block_on(async {
            let r = req.timeout(Duration::from_secs(120)).send().await.expect("request sent");
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let body = r.bytes().await.expect("body").to_vec();
            Resp { status, headers, body }
        })
    }

    fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, &[])
    }

    fn get_with(&self, path: &str, extra: &[(&str, &str)]) -> Resp {
        self.send(reqwest::Method::GET, path, None, extra)
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body), &[])
    }

    fn try_login(&self, username: &str, password: &str) -> Resp {
        self.send(
            reqwest::Method::POST,
            "/console/api/login",
            Some(&json!({"username": username, "password": password})),
            &[],
        )
    }

    /// Logs in; panics unless it works.
    fn login(base: &str, username: &str, password: &str) -> Client {
        let mut c = Client::new(base);
        let r = c.try_login(username, password);
        assert_eq!(r.status, 200, "login {username}: {}", r.text());
        let set = r.header("set-cookie").to_owned();
        assert!(set.starts_with("fr_console="), "{set}");
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
            assert!(set.contains(attr), "cookie lacks {attr}: {set}");
        }
        assert!(!set.contains("Secure"), "plain http: no Secure flag ({set})");
        let value = set.trim_start_matches("fr_console=").split(';').next().unwrap_or("").to_owned();
        assert_eq!(value.len(), 64, "{set}");
        c.cookie = Some(value);
        let v = r.json();
        c.csrf = Some(v["csrf_token"].as_str().expect("csrf_token").to_owned());
        assert_eq!(v["user"]["username"], username);
        c
    }
}

fn admin_password(server: &ServerProc) -> String {
    let path = server.data.join("initial-admin-password");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), server.log()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the initial admin password is private");
    }
    text.trim().to_owned()
}

const PASSWORD: &str = "correct horse battery staple";

fn add_user(admin: &Client, username: &str, role: &str) {
    let r = admin.post(
        "/console/api/users",
        &json!({"username": username, "password": PASSWORD, "role": role, "display_name": format!("{username} ({role})")}),
    );
    assert_eq!(r.status, 201, "add {username}: {}", r.text());
}

fn assert_security_headers(r: &Resp, what: &str) {
    assert_eq!(r.header("cache-control"), "no-store", "{what}");
    assert_eq!(r.header("x-frame-options"), "DENY", "{what}");
    assert_eq!(r.header("referrer-policy"), "no-referrer", "{what}");
    let csp = r.header("content-security-policy");
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("img-src 'self' data: blob:")
            && csp.contains("media-src 'self' blob:"),
        "{what}: {csp}"
    );
}

#[test]
fn logins_csrf_and_roles_gate_the_console() {
    let server = ServerProc::start("console-auth", &["--review-sla-hours", "24"]);
    assert!(server.log().contains("initial-admin-password"), "the password file is named once:\n{}", server.log());
    let base = server.url.clone();
    let anon = Client::new(&base);

    // Without a login: API 401 JSON, pages 302 to the login page, the login page itself is served.
    let r = anon.get("/console/api/queue");
    assert_eq!((r.status, r.error().as_str()), (401, "unauthorized"), "{}", r.text());
    assert_security_headers(&r, "401");
    let r = anon.get("/console");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), "/console/login");
    assert_eq!(anon.get("/console/sessions/s_0123").status, 302);
    let r = anon.get("/console/login");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<html") || r.text().contains("<!doctype"), "a page");
    assert_security_headers(&r, "login page");
    assert_eq!(anon.get("/console/static/style.css").status, 200);
    assert_eq!(anon.get("/console/static/..%2f..%2fCargo.toml").status, 404);
    assert_eq!(anon.get("/console/api/nothing/here").status, 401);
    assert_eq!(anon.get("/not-a-console-path").status, 404);

    // Wrong password and unknown user: the same 401.
    let admin = Client::login(&base, "admin", &admin_password(&server));
    add_user(&admin, "rita", "reviewer");
    add_user(&admin, "lockme", "reviewer");
    let r = anon.try_login("rita", "wrong password here");
    assert_eq!((r.status, r.error().as_str()), (401, "bad_credentials"), "{}", r.text());
    let r2 = anon.try_login("nobody", "wrong password here");
    assert_eq!((r2.status, r2.json()), (401, r.json()), "unknown user and wrong password look alike");
    assert!(r.header("set-cookie").is_empty());

    // Lockout: 5 failures lock the username (the right password is refused too).
    for _ in 0..5 {
        assert_eq!(anon.try_login("lockme", "not the password!").status, 401);
    }
    let r = anon.try_login("lockme", PASSWORD);
    assert_eq!((r.status, r.error().as_str()), (429, "locked"), "{}", r.text());
    // Other accounts are not affected.
    let rita = Client::login(&base, "rita", PASSWORD);

    // me returns the login's user, role and permissions.
    let me = rita.get("/console/api/me").json();
    assert_eq!(me["user"]["role"], "reviewer");
    assert!(me["user"]["permissions"].as_array().expect("perms").contains(&json!("decide")));
    assert_eq!(me["csrf_token"], json!(rita.csrf));

    // Roles: a reviewer cannot reach admin pages or the accounts API; an admin sees no applicant data.
    let r = rita.get("/console/admin");
    assert_eq!(r.status, 403);
    assert!(r.header("content-type").starts_with("text/html"), "{:?}", r.headers);
    assert_eq!(rita.get("/console/audit").status, 403);
    assert_eq!(rita.get("/console").status, 200);
    let r = rita.get("/console/api/nothing/here");
    assert_eq!((r.status, r.error().as_str()), (404, "not_found"));
    let r = rita.get("/console/api/users");
    assert_eq!((r.status, r.error().as_str()), (403, "forbidden"));
    assert_eq!(rita.get("/console/api/audit").status, 403);
    assert_eq!(admin.get("/console/admin").status, 200);
    let (id, _, _) = create_session(&common::server::Http::new(), &server, &json!({"applicant_ref": "A-77"}));
    let r = admin.get(&format!("/console/api/sessions/{id}"));
    assert_eq!((r.status, r.error().as_str()), (403, "forbidden"), "admins do not open sessions");
    assert_eq!(admin.get(&format!("/console/sessions/{id}")).status, 403);
    assert_eq!(admin.get("/console/api/queue").status, 403);
    assert_eq!(admin.get(&format!("/console/api/sessions/{id}/frame?t=0")).status, 403);
    let users = admin.get("/console/api/users").json();
    let names: Vec<&str> =
        users["users"].as_array().expect("users").iter().filter_map(|u| u["username"].as_str()).collect();
    assert!(names.contains(&"rita") && names.contains(&"admin"), "{users}");
    assert!(!users.to_string().contains("argon2"), "no password hashes in the API");

    // CSRF: a state-changing request without the token, or with another origin, is refused.
    let mut no_token = Client::new(&base);
    no_token.cookie = rita.cookie.clone();
    let r = no_token.post(
        &format!("/console/api/sessions/{id}/decision"),
        &json!({"action": "approve", "reason": "all fine here, approved"}),
    );
    assert_eq!((r.status, r.error().as_str()), (403, "csrf"), "{}", r.text());
    let r = rita.send(
        reqwest::Method::POST,
        &format!("/console/api/sessions/{id}/assign"),
        Some(&json!({"assignee": "rita"})),
        &[("origin", "https://evil.example")],
    );
    assert_eq!((r.status, r.error().as_str()), (403, "csrf"), "{}", r.text());
    // With the token: the request is processed (here: no verdict yet → 409).
    let r = rita.post(
        &format!("/console/api/sessions/{id}/decision"),
        &json!({"action": "approve", "reason": "all fine here, approved"}),
    );
    assert_eq!((r.status, r.error().as_str()), (409, "not_decided"), "{}", r.text());
    let r = rita.post(&format!("/console/api/sessions/{id}/assign"), &json!({"assignee": "rita"}));
    assert_eq!(r.status, 200, "a reviewer claims an unassigned session: {}", r.text());
    let r = rita.post(&format!("/console/api/sessions/{id}/assign"), &json!({"assignee": null}));
    assert_eq!(r.status, 403, "only `assign` may unassign");

    // Ids from the URL never reach the file system unchecked.
    for bad in ["..", "..%2F..%2Fetc", "s_1%00", "a.b"] {
        let r = rita.get(&format!("/console/api/sessions/{bad}/frame?t=0"));
        assert!(matches!(r.status, 400 | 404), "{bad}: {}", r.status);
    }

    // Logins, failures and account changes are audited; the chain verifies.
    let log = admin.get("/console/api/audit?limit=1000").json();
    let seen: Vec<(String, String)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["actor"].as_str().unwrap_or("").to_owned(), e["action"].as_str().unwrap_or("").to_owned()))
        .collect();
    for (actor, action) in [
        ("admin", "login"),
        ("rita", "login.failed"),
        ("nobody", "login.failed"),
        ("admin", "user.add"),
        ("system", "user.add"),
    ] {
        assert!(seen.iter().any(|(a, b)| a == actor && b == action), "({actor}, {action}) not in {seen:?}");
    }
    assert_eq!(
        seen.iter().filter(|(a, b)| a == "lockme" && b == "login.failed").count(),
        6,
        "5 failures and the locked try"
    );
    assert_eq!(admin.get("/console/api/audit/verify").json()["ok"], true);

    // Disabling an account ends its logins.
    let r = admin.post("/console/api/users/rita", &json!({"disabled": true}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(rita.get("/console/api/me").status, 401);

    // Logout ends the login; the cookie is cleared.
    let r = admin.post("/console/api/logout", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(admin.get("/console/api/me").status, 401);

    // A restart does not create another first admin.
    let sup_data = server.data.clone();
    drop(server);
    let server = ServerProc::start_in(sup_data, &[]);
    assert!(!server.log().contains("initial-admin-password"), "the first admin is created once");
}

fn consent(server: &ServerProc, token: &str) -> String {
    let http = common::server::Http::new();
    let r = http.post_json(&format!("{}/api/join/{token}/consent", server.url), &json!({"accepted": true}));
    assert_eq!(r.status, 200, "consent: {}", r.body);
    r.json()["resume_key"].as_str().expect("resume key").to_owned()
}

/// Makes one short real call and waits for its verdict; returns the session id.
fn recorded_call(server: &ServerProc) -> String {
    let http = common::server::Http::new();
    let body = json!({
        "applicant_ref": "A-2042",
        "declared": {"name": "Isabella Cafe", "category": "restaurant_cafe_food", "lat": 60.171848, "lon": 24.940692},
        "script": {"questions": [{"id": "q1", "text": "What does your business sell?", "duration_s": 4}],
                   "challenges": [{"kind": "turn_left"}]},
    });
    let (id, token, _) = create_session(&http, server, &body);
    let key = consent(server, &token);
    let cfg = SenderConfig {
        codec: SendCodec::Vp8,
        loopback: true,
        max_duration: Some(Duration::from_secs(14)),
        ..Default::default()
    };
    let (sender, offer) = Sender::offer(&common::stream("live_two_speakers.webm"), cfg).expect("sender offer");
    let r = http.post_sdp(&format!("{}/whip/{token}", server.url), Some(&key), &offer);
    assert_eq!(r.status, 201, "whip: {} (server log:\n{})", r.body, server.log());
    sender.set_answer(&r.body).expect("answer accepted");
    wait_state(&http, server, &id, &["live"], Duration::from_secs(30));
    let s = wait_state(&http, server, &id, &["verdict", "failed"], Duration::from_secs(150));
    drop(sender);
    assert_eq!(s["state"], "verdict", "{s}\n{}", server.log());
    id
}

#[test]
fn a_recorded_call_is_reviewed_decided_exported_and_audited() {
    let server = ServerProc::start("console-call", &[]);
    let base = server.url.clone();
    let admin = Client::login(&base, "admin", &admin_password(&server));
    add_user(&admin, "rita", "reviewer");
    add_user(&admin, "sam", "supervisor");
    add_user(&admin, "quinn", "qa");
    let id = recorded_call(&server);
    let dir = server.data.join("sessions").join(&id);
    assert!(dir.join("timelines.json").is_file(), "the call wrote its timelines");

    let rita = Client::login(&base, "rita", PASSWORD);
    let sam = Client::login(&base, "sam", PASSWORD);
    let quinn = Client::login(&base, "quinn", PASSWORD);

    // The queue: the flagged session with its SLA fields.
    let api = common::server::Http::new();
    let verdict = api.api_get(&format!("{base}/api/sessions/{id}/verdict")).json();
    let decision = verdict["decision"].as_str().unwrap_or("").to_owned();
    assert!(decision == "review" || decision == "reject", "a call without location reports is flagged: {verdict}");
    let r = rita.get("/console/api/queue");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_security_headers(&r, "queue");
    let q = r.json();
    assert_eq!(q["sla_hours"], 24.0);
    let item = q["items"].as_array().expect("items").iter().find(|i| i["id"] == id.as_str()).cloned();
    let item = item.unwrap_or_else(|| panic!("{id} is in the open queue: {q}"));
    assert_eq!(item["decision"], decision.as_str());
    assert_eq!(item["business_name"], "Isabella Cafe");
    assert_eq!(item["review_status"], "open");
    assert_eq!(item["sla_ms"], 24 * 3_600_000);
    assert_eq!(item["sla_state"], "ok");
    let age = item["age_ms"].as_i64().expect("age_ms");
    assert!((0..600_000).contains(&age), "{item}");
    assert!(item["top_reason"]["code"].is_string(), "{item}");
    assert_eq!(q["total"], 1);
    assert_eq!(rita.get("/console/api/queue?status=decided").json()["total"], 0);
    assert_eq!(rita.get("/console/api/queue?decision=pass").json()["total"], 0);
    assert_eq!(rita.get("/console/api/queue?sort=sideways").status, 400);

    // The session: verdict, interview, timelines, recording parts, permissions.
    let d = rita.get(&format!("/console/api/sessions/{id}"));
    assert_eq!(d.status, 200, "{}", d.text());
    let d = d.json();
    assert_eq!(d["session"]["id"], id.as_str());
    assert_eq!(d["session"]["review_status"], "open");
    assert_eq!(d["declared"]["name"], "Isabella Cafe");
    assert_eq!(d["verdict"]["decision"], decision.as_str());
    assert_eq!(d["interview"]["questions"][0]["id"], "q1");
    assert_eq!(d["timelines"]["schema"], "facereview.timelines/1");
    assert!(!d["timelines"]["faces"].as_array().expect("faces").is_empty(), "faces were seen");
    assert!(d["quality"]["report"].is_object(), "{}", d["quality"]);
    assert_eq!(d["can"], json!({"decide": true, "assign": true, "export": false}));
    let parts = d["recording"]["parts"].as_array().expect("parts").clone();
    assert!(!parts.is_empty());
    let part = &parts[0];
    assert_eq!(part["offset_ns"], 0);
    let bytes = part["bytes"].as_u64().expect("bytes");
    assert!(bytes > 1000, "{part}");
    let url = part["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&format!("/console/api/sessions/{id}/recording/")), "{url}");

    // The recording with Range: 206 and exactly those bytes.
    let on_disk = std::fs::read(dir.join("media-1.mkv")).expect("part file");
    assert_eq!(on_disk.len() as u64, bytes);
    let r = rita.get_with(&url, &[("range", "bytes=100-1099")]);
    assert_eq!(r.status, 206, "{:?}", r.headers);
    assert_eq!(r.header("content-type"), "video/webm");
    assert_eq!(r.header("content-range"), format!("bytes 100-1099/{bytes}"));
    assert_eq!(r.body, on_disk[100..1100]);
    let r = rita.get(&url);
    assert_eq!((r.status, r.body.len() as u64), (200, bytes));
    assert_eq!(rita.get(&format!("/console/api/sessions/{id}/recording/9")).status, 404);

    // The evidence frame at a reason's time: a JPEG that decodes, at most 640 px wide.
    let t = d["verdict"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find_map(|r| r["evidence"][0]["range"]["start"].as_u64())
        .expect("a reason with a time");
    let r = quinn.get(&format!("/console/api/sessions/{id}/frame?t={t}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "image/jpeg");
    let img = image::load_from_memory_with_format(&r.body, image::ImageFormat::Jpeg).expect("the frame decodes");
    assert!(img.width() > 0 && img.width() <= 640, "{}x{}", img.width(), img.height());
    let again = quinn.get(&format!("/console/api/sessions/{id}/frame?t={t}"));
    assert_eq!(again.body, r.body, "served from the cache");
    assert!(dir.join("frames").read_dir().expect("frame cache").count() >= 1);
    let r = quinn.get(&format!("/console/api/sessions/{id}/frame?t=3600000000000"));
    assert_eq!(r.status, 404, "outside the recording: {}", r.text());
    assert_eq!(quinn.get(&format!("/console/api/sessions/{id}/frame?t=soon")).status, 400);

    // Decisions: QA cannot decide; a reason is required; a reviewer decides once; a supervisor re-decides.
    let path = format!("/console/api/sessions/{id}/decision");
    assert_eq!(quinn.post(&path, &json!({"action": "approve", "reason": "QA has no say here"})).status, 403);
    let r = rita.post(&path, &json!({"action": "approve"}));
    assert_eq!((r.status, r.error().as_str()), (400, "bad_reason"), "{}", r.text());
    let r = rita.post(&path, &json!({"action": "approve", "reason": "   short   "}));
    assert_eq!(r.status, 400);
    let r =
        rita.post(&path, &json!({"action": "escalate", "reason": "Two voices answer the questions; please check."}));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["seq"], 1);
    let r = rita.post(&path, &json!({"action": "approve", "reason": "Changed my mind, it is fine."}));
    assert_eq!((r.status, r.error().as_str()), (403, "forbidden"), "{}", r.text());
    assert_eq!(rita.get("/console/api/queue?status=escalated").json()["total"], 1);
    let r = sam.post(&path, &json!({"action": "reject", "reason": "A second person answers for the applicant."}));
    assert_eq!(r.status, 201, "{}", r.text());
    let d = sam.get(&format!("/console/api/sessions/{id}")).json();
    let history = d["decisions"].as_array().expect("decisions");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["action"], "escalate");
    assert_eq!(history[0]["username"], "rita");
    assert_eq!(history[1]["action"], "reject");
    assert_eq!(history[1]["display_name"], "sam (supervisor)");
    assert_eq!(d["session"]["review_status"], "rejected");
    assert_eq!(d["can"]["export"], true);
    assert_eq!(rita.get("/console/api/queue").json()["total"], 0, "decided sessions leave the open queue");
    assert_eq!(rita.get("/console/api/queue?status=decided").json()["total"], 1);

    // Assignment: a reviewer claims only for themself; a supervisor assigns anyone.
    let apath = format!("/console/api/sessions/{id}/assign");
    assert_eq!(rita.post(&apath, &json!({"assignee": "sam"})).status, 403, "a reviewer assigns nobody else");
    assert_eq!(sam.post(&apath, &json!({"assignee": "quinn"})).status, 400, "QA does not decide: not assignable");
    assert_eq!(sam.post(&apath, &json!({"assignee": "rita"})).status, 200);
    assert_eq!(rita.get("/console/api/queue?status=all&assignee=me").json()["total"], 1);
    assert_eq!(
        rita.post(&apath, &json!({"assignee": "rita"})).status,
        403,
        "already assigned: only `assign` changes it"
    );

    // The export: files, sums, report; audited with the archive's sha256.
    assert_eq!(rita.get(&format!("/console/api/sessions/{id}/export")).status, 403);
    let r = sam.get(&format!("/console/api/sessions/{id}/export"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/zip");
    assert!(r.header("content-disposition").contains(&format!("facereview-{id}.zip")));
    let zip_sha: String = Sha256::digest(&r.body).iter().map(|b| format!("{b:02x}")).collect();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(r.body.clone())).expect("a zip");
    let mut names: Vec<String> = z.file_names().map(str::to_owned).collect();
    names.sort();
    for want in ["report.html", "media-1.mkv", "verdict.json", "session.json", "events.jsonl", "SHA256SUMS"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    let mut sums = String::new();
    z.by_name("SHA256SUMS").expect("sums").read_to_string(&mut sums).expect("read");
    assert_eq!(sums.lines().count(), names.len() - 1, "{sums}");
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").expect("sha256sum format");
        let mut data = Vec::new();
        z.by_name(name).expect("listed file").read_to_end(&mut data).expect("read");
        let got: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hash, "{name}");
    }
    let mut media = Vec::new();
    z.by_name("media-1.mkv").expect("part").read_to_end(&mut media).expect("read");
    assert_eq!(media, on_disk, "the recording as recorded");
    let mut report = String::new();
    z.by_name("report.html").expect("report").read_to_string(&mut report).expect("read");
    assert!(report.contains("data:image/jpeg;base64,"), "evidence frames are embedded");
    assert!(report.contains("Isabella Cafe") && report.contains("A second person answers for the applicant."));
    assert!(report.contains("session.view"), "the session's audit entries are in the report");
    assert!(!report.contains("src=\"http"), "self-contained");
    assert!(
        std::fs::read_dir(server.data.join("exports")).map(|d| d.count()).unwrap_or(0) == 0,
        "no export left behind"
    );

    // The audit log: views, recording, frame, decisions, export (with the zip's sha256); the chain verifies.
    assert_eq!(rita.get("/console/api/audit").status, 403);
    let log = sam.get(&format!("/console/api/audit?session={id}")).json();
    let entries = log["entries"].as_array().expect("entries");
    let actions: Vec<(&str, &str)> =
        entries.iter().map(|e| (e["actor"].as_str().unwrap_or(""), e["action"].as_str().unwrap_or(""))).collect();
    for want in [
        ("rita", "session.view"),
        ("rita", "recording.view"),
        ("quinn", "frame.view"),
        ("rita", "decision"),
        ("sam", "decision"),
        ("sam", "assign"),
        ("sam", "export"),
    ] {
        assert!(actions.contains(&want), "{want:?} not in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == ("rita", "recording.view")).count(),
        1,
        "one recording.view per part per login, however many range requests"
    );
    let export = entries.iter().find(|e| e["action"] == "export").expect("export entry");
    assert_eq!(export["detail"]["sha256"], zip_sha.as_str());
    let seqs: Vec<i64> = entries.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    let all = admin.get("/console/api/audit?limit=1000").json();
    let all_actions: Vec<&str> =
        all["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    for want in ["login", "user.add"] {
        assert!(all_actions.contains(&want), "{want} in {all_actions:?}");
    }
    let v = sam.get("/console/api/audit/verify").json();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["entries"].as_i64().unwrap_or(0) >= 10, "{v}");
    assert!(v["first_bad_seq"].is_null() && v["problem"].is_null(), "{v}");
    let head = facereview::store::audit_head::read_head(&server.data).expect("audit head file");
    assert_eq!(Some(head.0), v["entries"].as_i64(), "the head file names the newest entry");

    // The lender API key is not a console login.
    let r = rita.get_with("/console/api/queue", &[("authorization", &format!("Bearer {API_KEY}"))]);
    assert_eq!(r.status, 200);
    let mut keyed = Client::new(&base);
    keyed.cookie = None;
    let r = keyed.get_with("/console/api/queue", &[("authorization", &format!("Bearer {API_KEY}"))]);
    assert_eq!(r.status, 401);
}

/// The same flow in a real browser: headless Chromium (`tests/e2e/console.mjs`, playwright-core) logs in through the
/// login page, finds the flagged session in the queue, plays the recording, clicks a reason (the player jumps to
/// its time), escalates with a reason, and is refused the admin page; the decision and the audit entries are in the
/// store, and screenshots of the queue and the session page are saved under `target/screenshots/`.
#[test]
fn a_reviewer_in_chromium_reviews_a_recorded_call() {
    let server = ServerProc::start("console-browser", &[]);
    let base = server.url.clone();
    let admin = Client::login(&base, "admin", &admin_password(&server));
    add_user(&admin, "rita", "reviewer");
    add_user(&admin, "sam", "supervisor");
    let id = recorded_call(&server);

    let shots = common::root().join("target/screenshots");
    let out = std::process::Command::new("node")
        .arg(common::root().join("tests/e2e/console.mjs"))
        .args(["--base", &base, "--user", "rita", "--password", PASSWORD, "--session", &id])
        .args(["--action", "escalate", "--reason", "Liveness evidence is weak; a supervisor should check the turn."])
        .arg("--screenshots")
        .arg(&shots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or("");
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("driver output ({e}): {stdout}\n{stderr}"));
    assert!(out.status.success() && v["ok"] == true, "driver failed: {v}\n{stderr}\nserver log:\n{}", server.log());
    assert!(v["queue_ids"].as_array().expect("queue_ids").iter().any(|q| q == id.as_str()), "{v}");
    assert!(v["played_s"].as_f64().unwrap_or(0.0) > 0.3, "the recording played: {v}");
    let (jumped, start) = (v["jumped_to_s"].as_f64().expect("jumped"), v["reason_start_s"].as_f64().expect("start"));
    assert!((jumped - start).abs() <= 0.3, "the reason moved the player to its time: {v}");
    assert_eq!(v["decision_status"], 201, "{v}");
    assert_eq!(v["history_len"], 1, "{v}");
    assert_eq!(v["admin_status"], 403, "a reviewer cannot reach the admin page: {v}");
    for name in ["console-queue.png", "console-session.png"] {
        let p = shots.join(name);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "{} was saved ({len} bytes)", p.display());
    }

    // What the browser did is in the store: the decision, and the reviewer's audit trail.
    let sam = Client::login(&base, "sam", PASSWORD);
    let d = sam.get(&format!("/console/api/sessions/{id}")).json();
    assert_eq!(d["session"]["review_status"], "escalated", "{}", d["session"]);
    let decisions = d["decisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!((decisions[0]["action"].as_str(), decisions[0]["username"].as_str()), (Some("escalate"), Some("rita")));
    let log = sam.get(&format!("/console/api/audit?session={id}")).json();
    let actions: Vec<(String, String)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["actor"].as_str().unwrap_or("").to_owned(), e["action"].as_str().unwrap_or("").to_owned()))
        .collect();
    for want in ["session.view", "recording.view", "decision"] {
        assert!(actions.contains(&("rita".to_owned(), want.to_owned())), "rita {want} not in {actions:?}");
    }
    assert_eq!(sam.get("/console/api/audit/verify").json()["ok"], true);
}
