//! The console's command line as an operator runs it: `facereview users …` and `facereview audit verify`, on a
//! SQLite database in a fresh data folder (exit codes, messages, what lands in the database and the audit log), and
//! the audit log's tamper detection with the triggers dropped behind the tool's back.

mod common;

use facereview::store::{Store, audit_head, sqlite_url};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with the data folder `data` (no FACEREVIEW_DB: SQLite in the data folder), feeding `stdin`.
fn run(data: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_facereview"))
        .env("FACEREVIEW_HOME", common::root())
        .env("FACEREVIEW_DATA", data)
        .env("USER", "tester")
        .env_remove("FACEREVIEW_DB")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run facereview");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(out: &Out) {
    assert_eq!(out.code, Some(0), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn db_url(data: &Path) -> String {
    sqlite_url(&data.join("facereview.db"))
}

/// Runs `f` against the data folder's database (the CLI has exited; the store is opened afresh).
fn with_store<T>(data: &Path, f: impl AsyncFnOnce(&Store) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = Store::open(&db_url(data)).await.expect("open the CLI's database");
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// Raw SQL on the data folder's database, bypassing the store (an attacker with file access).
fn raw_sql(data: &Path, sql: &str) -> Result<u64, String> {
    use sqlx::{Connection, Executor};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db_url(data)).await.map_err(|e| e.to_string())?;
        let done = conn.execute(sql).await.map(|r| r.rows_affected()).map_err(|e| e.to_string());
        conn.close().await.ok();
        done
    })
}

fn users_json(data: &Path) -> Vec<Value> {
    let out = run(data, &["users", "list", "--json"], None);
    ok(&out);
    serde_json::from_str::<Value>(&out.stdout).expect("users list --json is JSON").as_array().unwrap().clone()
}

fn user<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter().find(|u| u["username"] == name).unwrap_or_else(|| panic!("{name} not listed: {list:?}"))
}

#[test]
fn users_add_list_set_role_passwd_disable_enable() {
    let data: PathBuf = common::temp_dir("console-cli-users");

    // Add with a password from stdin (trailing newline dropped).
    let out = run(
        &data,
        &["users", "add", "ann", "--role", "reviewer", "--display-name", "Ann R.", "--password-stdin"],
        Some("ann's password 1\n"),
    );
    ok(&out);
    assert!(out.stdout.contains("added `ann` (reviewer)"), "{}", out.stdout);
    assert!(!out.stdout.contains("ann's password"), "a given password is not echoed: {}", out.stdout);
    let ann = with_store(&data, async |s: &Store| s.user_by_name("ann").await.unwrap().expect("ann stored"));
    assert_eq!((&ann.role[..], &ann.display_name[..], ann.disabled), ("reviewer", "Ann R.", false));
    assert!(ann.password_hash.starts_with("$argon2id$"));
    assert!(facereview::auth::verify_password("ann's password 1", &ann.password_hash));

    // Add without stdin: a generated password, printed once, that verifies.
    let out = run(&data, &["users", "add", "boss", "--role", "admin"], None);
    ok(&out);
    let line = out.stdout.lines().find(|l| l.contains("shown once")).unwrap_or_else(|| panic!("{}", out.stdout));
    let generated = line.rsplit(' ').next().unwrap();
    assert_eq!(generated.len(), 24, "{line}");
    let boss = with_store(&data, async |s: &Store| s.user_by_name("boss").await.unwrap().unwrap());
    assert!(facereview::auth::verify_password(generated, &boss.password_hash));
    assert_eq!(boss.display_name, "boss", "display name defaults to the username");

    // List: table and JSON, never a hash.
    let out = run(&data, &["users", "list"], None);
    ok(&out);
    assert!(out.stdout.lines().any(|l| l.starts_with("ann ") && l.contains("reviewer") && l.contains("active")));
    assert!(!out.stdout.contains("argon2"), "{}", out.stdout);
    let list = users_json(&data);
    assert_eq!(list.len(), 2);
    assert_eq!(user(&list, "ann")["display_name"], "Ann R.");
    assert!(list.iter().all(|u| u.get("password_hash").is_none()), "{list:?}");

    // set-role, passwd (stdin and generated), disable, enable.
    let out = run(&data, &["users", "set-role", "ann", "supervisor"], None);
    ok(&out);
    assert!(out.stdout.contains("supervisor") && out.stdout.contains("was reviewer"), "{}", out.stdout);
    assert_eq!(user(&users_json(&data), "ann")["role"], "supervisor");
    ok(&run(&data, &["users", "passwd", "ann", "--password-stdin"], Some("a brand new password\r\n")));
    let ann = with_store(&data, async |s: &Store| s.user_by_name("ann").await.unwrap().unwrap());
    assert!(facereview::auth::verify_password("a brand new password", &ann.password_hash));
    assert!(!facereview::auth::verify_password("ann's password 1", &ann.password_hash));
    let out = run(&data, &["users", "passwd", "ann"], None);
    ok(&out);
    assert!(out.stdout.contains("shown once"), "{}", out.stdout);
    ok(&run(&data, &["users", "disable", "ann"], None));
    assert_eq!(user(&users_json(&data), "ann")["disabled"], true);
    let out = run(&data, &["users", "list"], None);
    assert!(out.stdout.lines().any(|l| l.starts_with("ann ") && l.contains("disabled")), "{}", out.stdout);
    ok(&run(&data, &["users", "enable", "ann"], None));
    assert_eq!(user(&users_json(&data), "ann")["disabled"], false);

    // Every change is in the audit log, by the unix user, without passwords; the head file follows.
    let log = with_store(&data, async |s: &Store| s.audit_entries(None, None, 100).await.unwrap());
    let actions: Vec<_> = log.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.add", "user.add", "user.role", "user.passwd", "user.passwd", "user.disable", "user.enable"]
    );
    assert!(log.iter().all(|e| e.actor == "cli:tester"), "{log:?}");
    assert_eq!((&log[4].detail["from"], &log[4].detail["to"]), (&Value::from("reviewer"), &Value::from("supervisor")));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("brand new") && !text.contains(generated) && !text.contains("argon2"), "{text}");
    assert_eq!(audit_head::read_head(&data), Some((7, log[0].hash.clone())));
    let out = run(&data, &["audit", "verify"], None);
    ok(&out);
    assert_eq!(out.stdout.trim(), "ok: 7 entries");
}

#[test]
fn users_bad_input_is_refused_with_exit_2() {
    let data = common::temp_dir("console-cli-bad");
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["users", "add", "Bad Name", "--role", "qa"], None, "invalid username"),
        (&["users", "add", "eve", "--role", "root"], None, "unknown role"),
        (&["users", "add", "eve", "--role", "qa", "--password-stdin"], Some("short\n"), "too short"),
        (&["users", "add", "eve", "--role", "qa", "--password-stdin"], Some(""), "too short"),
        (&["users", "add", "eve", "--role", "qa", "--display-name", "   "], None, "display name"),
        (&["users", "set-role", "eve", "boss"], None, "unknown role"),
    ];
    for (args, stdin, message) in cases {
        let out = run(&data, args, stdin);
        assert_eq!(out.code, Some(2), "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    // Validation happens before the database is touched: none of the above created one...
    assert!(!data.join("facereview.db").exists() || users_json(&data).is_empty());

    // ...and the database's own refusals are usage errors too.
    ok(&run(&data, &["users", "add", "root", "--role", "admin"], None));
    for (args, message) in [
        (&["users", "add", "root", "--role", "qa"][..], "already exists"),
        (&["users", "set-role", "ghost", "qa"], "no user `ghost`"),
        (&["users", "disable", "ghost"], "not found"),
        (&["users", "passwd", "ghost"], "not found"),
        (&["users", "disable", "root"], "no enabled admin"),
        (&["users", "set-role", "root", "qa"], "no enabled admin"),
    ] {
        let out = run(&data, args, None);
        assert_eq!(out.code, Some(2), "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let list = users_json(&data);
    assert_eq!(list.len(), 1);
    assert_eq!(
        (&user(&list, "root")["role"], &user(&list, "root")["disabled"]),
        (&Value::from("admin"), &Value::from(false))
    );
    // Refused changes are not audited.
    let log = with_store(&data, async |s: &Store| s.audit_entries(None, None, 100).await.unwrap());
    assert_eq!(log.len(), 1);
    // clap's own usage errors keep exit 2.
    assert_eq!(run(&data, &["users", "add", "x"], None).code, Some(2), "--role is required");
}

#[test]
fn audit_verify_detects_changed_and_deleted_entries() {
    let data = common::temp_dir("console-cli-audit");
    for (name, role) in [("ann", "reviewer"), ("bob", "qa"), ("carl", "supervisor"), ("root", "admin")] {
        ok(&run(&data, &["users", "add", name, "--role", role], None));
    }
    let out = run(&data, &["audit", "verify"], None);
    ok(&out);
    assert_eq!(out.stdout.trim(), "ok: 4 entries");
    let out = run(&data, &["audit", "verify", "--json"], None);
    ok(&out);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((&v["ok"], &v["entries"], &v["first_bad_seq"]), (&Value::from(true), &Value::from(4), &Value::Null));

    // While the triggers exist the database refuses changes.
    let err = raw_sql(&data, "UPDATE audit_log SET detail_json = '{}' WHERE seq = 2").expect_err("update refused");
    assert!(err.contains("append-only"), "{err}");
    let err = raw_sql(&data, "DELETE FROM audit_log WHERE seq = 4").expect_err("delete refused");
    assert!(err.contains("append-only"), "{err}");
    ok(&run(&data, &["audit", "verify"], None));

    // Trigger dropped, one entry's detail changed: exit 5 naming that seq.
    raw_sql(&data, "DROP TRIGGER audit_log_no_update").unwrap();
    assert_eq!(
        raw_sql(
            &data,
            r#"UPDATE audit_log SET detail_json = '{"display_name":"bob","role":"admin","username":"bob"}' WHERE seq = 2"#
        ),
        Ok(1)
    );
    let out = run(&data, &["audit", "verify"], None);
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("at seq 2") && out.stdout.contains("entry 2"), "{}", out.stdout);
    let out = run(&data, &["audit", "verify", "--json"], None);
    assert_eq!(out.code, Some(5));
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((&v["ok"], &v["first_bad_seq"]), (&Value::from(false), &Value::from(2)));

    // Put it back: intact again.
    raw_sql(
        &data,
        r#"UPDATE audit_log SET detail_json = '{"display_name":"bob","role":"qa","username":"bob"}' WHERE seq = 2"#,
    )
    .unwrap();
    ok(&run(&data, &["audit", "verify"], None));

    // Delete trigger dropped, the newest entry deleted: the chain is still valid, the head file tells.
    raw_sql(&data, "DROP TRIGGER audit_log_no_delete").unwrap();
    assert_eq!(raw_sql(&data, "DELETE FROM audit_log WHERE seq = 4"), Ok(1));
    let out = run(&data, &["audit", "verify"], None);
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("at seq 4") && out.stdout.contains("missing"), "{}", out.stdout);

    // Without the head file the newest entries cannot be vouched for: also a failure.
    std::fs::remove_file(audit_head::head_path(&data)).unwrap();
    let out = run(&data, &["audit", "verify"], None);
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("head file"), "{}", out.stdout);
}

#[test]
fn audit_verify_of_an_empty_log_is_ok_and_db_flag_is_honoured() {
    let data = common::temp_dir("console-cli-empty");
    let out = run(&data, &["audit", "verify"], None);
    ok(&out);
    assert_eq!(out.stdout.trim(), "ok: 0 entries");
    // --db and --data name another database and data folder than the environment's.
    let other = common::temp_dir("console-cli-other");
    let url = sqlite_url(&other.join("elsewhere.db"));
    ok(&run(&data, &["users", "add", "zed", "--role", "qa", "--db", &url, "--data", other.to_str().unwrap()], None));
    assert!(other.join("elsewhere.db").exists());
    assert!(audit_head::read_head(&other).is_some(), "the head is written to --data");
    let out = run(&data, &["audit", "verify", "--db", &url, "--data", other.to_str().unwrap()], None);
    ok(&out);
    assert_eq!(out.stdout.trim(), "ok: 1 entries");
    assert!(users_json(&data).is_empty(), "the environment's database is untouched");
}

#[test]
fn voices_enrol_and_remove_are_recorded_and_audited() {
    let data = common::temp_dir("console-cli-voices");
    let heath = common::media("heath_ledger.mp3");
    let heath = heath.to_str().unwrap();
    let run_voices = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_facereview"));
        c.env("FACEREVIEW_HOME", common::root())
            .env("FACEREVIEW_DATA", &data)
            .env("USER", "tester")
            .env_remove("FACEREVIEW_DB")
            .env_remove("FACEREVIEW_VOICEPRINT_KEY")
            .env_remove("FACEREVIEW_ORT_LIB")
            .env_remove("FACEREVIEW_MANIFEST");
        let out = c.args(args).output().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    ok(&run_voices(&["voices", "enrol", "applicant-7", heath]));
    ok(&run_voices(&["voices", "enrol", "fraud-1", heath, "--blocked"]));
    ok(&run_voices(&["voices", "remove", "fraud-1"]));

    let (records, log) = with_store(&data, async |s: &Store| {
        (s.list_voiceprint_enrolments().await.unwrap(), s.audit_entries(None, None, 10).await.unwrap())
    });
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    use sha2::Digest;
    let file_sha: String =
        sha2::Sha256::digest(std::fs::read(heath).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    let name_sha: String = sha2::Sha256::digest(b"heath_ledger.mp3").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!((&r.id[..], &r.kind[..], &r.created_by[..]), ("applicant-7", "applicant", "cli:tester"));
    assert_eq!((&r.file_sha256, r.source_sha256.as_ref()), (&file_sha, Some(&name_sha)));
    let actions: Vec<_> = log.iter().rev().map(|e| (e.action.as_str(), e.detail["id"].as_str().unwrap())).collect();
    assert_eq!(actions, [("voice.enrol", "applicant-7"), ("voice.enrol", "fraud-1"), ("voice.remove", "fraud-1")]);
    assert_eq!(log[1].detail["kind"], "blocked");
    assert_eq!(log[1].detail["file_sha256"], Value::from(file_sha));
    ok(&run(&data, &["audit", "verify"], None));
}
