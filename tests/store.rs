//! The store on both backends: each behaviour is one async function taking a database URL, run once on a fresh
//! SQLite file (`sqlite::<behaviour>`) and once on a fresh database of a PostgreSQL server this test starts on
//! loopback (`postgres_suite`, see `pg` below). Without PostgreSQL installed the PostgreSQL suite fails and says why,
//! unless `FACEREVIEW_SKIP_PG=1`.

mod common;

use facereview::auth::LoginPolicy;
use facereview::auth::chain::{GENESIS, entry_hash};
use facereview::store::{
    AssigneeFilter, AuditVerification, Dialect, EvidenceRow, INITIAL_ADMIN_FILE, LoginRow, MIGRATIONS, Migration,
    MigrationSql, NewAudit, NewLogin, NewReviewDecision, NewSession, NewUser, NewVoiceprintEnrolment, QueueQuery,
    QueueRow, QueueSort, QueueStatus, ReviewDecisionRow, SessionQuery, SessionState, Store, StoreError, UserRow,
    UserUpdate, VoiceprintEnrolmentRow, audit_head, bootstrap_first_admin, redacted_url, sqlite_url,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::future::Future;

/// The password of the test server's user (scram-sha-256 on loopback).
const PG_PASSWORD: &str = "s3cret-Test-pw";

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_session(id: &str, created_at_ms: i64, expires_at_ms: i64) -> NewSession {
    NewSession {
        id: id.to_owned(),
        applicant_ref: format!("ref-{id}"),
        token_sha256: sha256_hex(&format!("token-{id}")),
        expires_at_ms,
        created_at_ms,
        request_json: format!(r#"{{"applicant_ref":"ref-{id}","ttl_s":900}}"#),
    }
}

async fn open(url: &str) -> Store {
    Store::open(url).await.unwrap_or_else(|e| panic!("open {}: {e}", redacted_url(url)))
}

// ---------------------------------------------------------------------------------------------------------------
// Behaviours

async fn opening_twice_keeps_schema_and_data(url: String) {
    let store = open(&url).await;
    assert_eq!(store.dialect(), Dialect::of_url(&url).unwrap());
    assert_eq!(store.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
    store.create_session(&new_session("s_keep", 1_000, 901_000)).await.unwrap();
    store.close().await;

    let again = open(&url).await;
    assert_eq!(again.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
    assert!(again.session("s_keep").await.unwrap().is_some(), "data survives a reopen");

    // Two processes starting at once: the migration lock serialises them, both succeed.
    let (a, b) = tokio::join!(Store::open(&url), Store::open(&url));
    a.unwrap();
    b.unwrap();
}

async fn concurrent_first_opens_migrate_once(url: String) {
    let opens: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { Store::open(&url).await }
            })
        })
        .collect();
    for o in opens {
        let store = o.await.unwrap().unwrap_or_else(|e| panic!("concurrent open: {e}"));
        assert_eq!(store.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
    }
}

async fn a_new_migration_applies_on_reopen(url: String) {
    open(&url).await.close().await;
    let mut v2 = MIGRATIONS.to_vec();
    v2.push(Migration {
        version: MIGRATIONS.len() as i64 + 1,
        name: "test_extra",
        sql: MigrationSql::Portable(
            "CREATE TABLE test_extra (id {id_pk}, note TEXT NOT NULL, photo {bytes}, score {f64}, meta {json});
             CREATE INDEX test_extra_note ON test_extra (note);",
        ),
    });
    let store = Store::open_with_migrations(&url, &v2).await.expect("v2 applies");
    assert_eq!(store.schema_version().await.unwrap(), v2.len() as i64);
    store.close().await;
    // Idempotent: reopening with the same list applies nothing and still works.
    let store = Store::open_with_migrations(&url, &v2).await.expect("v2 reopen");
    assert_eq!(store.schema_version().await.unwrap(), v2.len() as i64);
    store.close().await;

    // An older build (knowing only the shipped migrations) refuses the newer database.
    let err = Store::open(&url).await.expect_err("older build on newer database");
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("newer database"), "{err}");

    // A shipped migration renamed: refused.
    let mut renamed = v2.clone();
    let last = renamed.len() - 1;
    renamed[last].name = "something_else";
    let err = Store::open_with_migrations(&url, &renamed).await.expect_err("renamed migration");
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");

    // Versions with a gap: refused before touching the database.
    let mut gap = v2.clone();
    let last = gap.len() - 1;
    gap[last].version = 99;
    assert!(matches!(Store::open_with_migrations(&url, &gap).await, Err(StoreError::Schema { .. })));

    // A failing migration rolls back entirely (its first statement too) and names itself without SQL.
    let mut bad = v2.clone();
    bad.push(Migration {
        version: v2.len() as i64 + 1,
        name: "broken",
        sql: MigrationSql::PerDialect {
            sqlite: "CREATE TABLE half_done (id TEXT); CREATE TABLE oops (id TEXT) nonsense;",
            postgres: "CREATE TABLE half_done (id TEXT); CREATE TABLE oops (id TEXT) nonsense;",
        },
    });
    let err = Store::open_with_migrations(&url, &bad).await.expect_err("broken migration");
    let broken_version = v2.len() as i64 + 1;
    assert!(
        matches!(err, StoreError::Migration { version, name: "broken", .. } if version == broken_version),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(!text.contains("CREATE") && !text.contains("nonsense"), "no SQL in the message: {text}");
    let store = Store::open_with_migrations(&url, &v2).await.expect("still at the extended list");
    assert_eq!(store.schema_version().await.unwrap(), v2.len() as i64, "still at the extended list");
    store.close().await;
    // half_done was rolled back: applying a fixed migration that creates it again succeeds.
    let mut fixed = v2.clone();
    fixed.push(Migration {
        version: broken_version,
        name: "broken",
        sql: MigrationSql::Portable("CREATE TABLE half_done (id TEXT)"),
    });
    let store =
        Store::open_with_migrations(&url, &fixed).await.expect("the fixed migration applies after the rollback");
    assert_eq!(store.schema_version().await.unwrap(), broken_version);
}

async fn sessions_round_trip(url: String) {
    let store = open(&url).await;
    let s = new_session("s_1", 1_700_000_000_000, 1_700_000_900_000);
    store.create_session(&s).await.unwrap();

    let row = store.session("s_1").await.unwrap().expect("stored");
    assert_eq!(row.id, "s_1");
    assert_eq!(row.applicant_ref, "ref-s_1");
    assert_eq!(row.state, SessionState::Waiting);
    assert_eq!(row.created_at_ms, s.created_at_ms);
    assert_eq!(row.updated_at_ms, s.created_at_ms);
    assert_eq!(row.expires_at_ms, s.expires_at_ms);
    assert_eq!(row.token_sha256, s.token_sha256);
    assert_eq!(row.request_json, s.request_json);
    assert_eq!(
        (row.joined_at_ms, row.ended_at_ms, &row.end_reason, &row.resume_key_sha256),
        (None, None, &None, &None)
    );
    assert_eq!((&row.decision, &row.verdict_json, row.decided_at_ms), (&None, &None, None));
    assert_eq!((&row.recording_dir, &row.quality_json), (&None, &None));

    let by_token = store.session_by_token(&s.token_sha256).await.unwrap().expect("by token");
    assert_eq!(by_token, row);
    assert!(store.session("s_nope").await.unwrap().is_none());
    assert!(store.session_by_token(&sha256_hex("other")).await.unwrap().is_none());

    // The same id, or the same token under another id: conflicts, without SQL in the message.
    let err = store.create_session(&s).await.expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(!err.to_string().contains("INSERT"), "{err}");
    let mut same_token = new_session("s_2", 1, 2);
    same_token.token_sha256 = s.token_sha256.clone();
    assert!(matches!(store.create_session(&same_token).await, Err(StoreError::Conflict { .. })));

    store.set_recording_dir("s_1", "/data/sessions/s_1").await.unwrap();
    store.set_quality("s_1", r#"{"avg_bitrate_bps":420000}"#).await.unwrap();
    let row = store.session("s_1").await.unwrap().unwrap();
    assert_eq!(row.recording_dir.as_deref(), Some("/data/sessions/s_1"));
    assert_eq!(row.quality_json.as_deref(), Some(r#"{"avg_bitrate_bps":420000}"#));
    assert!(matches!(store.set_recording_dir("s_nope", "/x").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.set_quality("s_nope", "{}").await, Err(StoreError::NotFound { .. })));

    // Rows serialise for the API without the credential hashes; unicode text survives.
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["state"], "waiting");
    assert!(json.get("token_sha256").is_none() && json.get("resume_key_sha256").is_none(), "{json}");
    let mut uni = new_session("s_ü", 5, 6);
    uni.applicant_ref = "Kahvila Åkerö – 咖啡".to_owned();
    store.create_session(&uni).await.unwrap();
    assert_eq!(store.session("s_ü").await.unwrap().unwrap().applicant_ref, "Kahvila Åkerö – 咖啡");

    // NUL characters (PostgreSQL cannot store them) are bad input on both backends.
    let mut nul = new_session("s_nul", 5, 6);
    nul.applicant_ref = "A-1\0".to_owned();
    assert!(matches!(store.create_session(&nul).await, Err(StoreError::Invalid { .. })));
    assert!(store.session("s_nul").await.unwrap().is_none());
    assert!(matches!(store.append_event("s_1", 0, None, "x", "{\"a\":\"\0\"}").await, Err(StoreError::Invalid { .. })));
}

async fn claim_join_is_single_use(url: String) {
    let store = open(&url).await;
    let t0 = 1_000_000;
    store.create_session(&new_session("s_a", t0, t0 + 900_000)).await.unwrap();

    assert!(store.claim_join("s_a", &sha256_hex("key-1"), t0 + 10).await.unwrap(), "first device wins");
    assert!(!store.claim_join("s_a", &sha256_hex("key-2"), t0 + 20).await.unwrap(), "second device refused");
    assert!(!store.claim_join("s_a", &sha256_hex("key-1"), t0 + 30).await.unwrap(), "even the same key: single use");
    let row = store.session("s_a").await.unwrap().unwrap();
    assert_eq!(row.resume_key_sha256, Some(sha256_hex("key-1")));
    assert_eq!(row.joined_at_ms, Some(t0 + 10));
    assert_eq!(row.state, SessionState::Waiting, "claiming does not change the state");

    // Expired (by time, before expire_stale ran), not waiting, or unknown: refused.
    store.create_session(&new_session("s_late", t0, t0 + 100)).await.unwrap();
    assert!(!store.claim_join("s_late", &sha256_hex("k"), t0 + 100).await.unwrap(), "at expires_at: too late");
    assert!(store.session("s_late").await.unwrap().unwrap().resume_key_sha256.is_none());
    store.create_session(&new_session("s_live", t0, t0 + 900_000)).await.unwrap();
    store.set_state("s_live", SessionState::Failed, t0 + 1, Some("test")).await.unwrap();
    assert!(!store.claim_join("s_live", &sha256_hex("k"), t0 + 2).await.unwrap(), "not waiting");
    assert!(!store.claim_join("s_unknown", &sha256_hex("k"), t0).await.unwrap(), "unknown id");
}

async fn concurrent_claims_have_one_winner(url: String) {
    let store = open(&url).await;
    for round in 0..6 {
        let id = format!("s_race{round}");
        store.create_session(&new_session(&id, 0, i64::MAX)).await.unwrap();
        let claims: Vec<_> = (0..8)
            .map(|device| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move {
                    let key = sha256_hex(&format!("{id}-device-{device}"));
                    (key.clone(), store.claim_join(&id, &key, 1_000 + device).await.expect("claim"))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for c in claims {
            let (key, won) = c.await.unwrap();
            if won {
                winners.push(key);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one claim wins, got {}", winners.len());
        let row = store.session(&id).await.unwrap().unwrap();
        assert_eq!(row.resume_key_sha256.as_ref(), Some(&winners[0]), "the stored key is the winner's");
    }
}

async fn state_changes_stamp_the_end_once(url: String) {
    let store = open(&url).await;
    store.create_session(&new_session("s_st", 100, 10_000)).await.unwrap();

    store.set_state("s_st", SessionState::Live, 200, None).await.unwrap();
    let row = store.session("s_st").await.unwrap().unwrap();
    assert_eq!((row.state, row.ended_at_ms, row.updated_at_ms), (SessionState::Live, None, 200));

    store.set_state("s_st", SessionState::Analysing, 300, Some("hangup")).await.unwrap();
    let row = store.session("s_st").await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.ended_at_ms, row.end_reason.as_deref()),
        (SessionState::Analysing, Some(300), Some("hangup"))
    );

    // Failing later keeps the end time; the reason is replaced when given, kept when not.
    store.set_state("s_st", SessionState::Failed, 400, Some("analysis: model missing")).await.unwrap();
    let row = store.session("s_st").await.unwrap().unwrap();
    assert_eq!((row.state, row.ended_at_ms, row.updated_at_ms), (SessionState::Failed, Some(300), 400));
    assert_eq!(row.end_reason.as_deref(), Some("analysis: model missing"));
    store.set_state("s_st", SessionState::Failed, 500, None).await.unwrap();
    assert_eq!(store.session("s_st").await.unwrap().unwrap().end_reason.as_deref(), Some("analysis: model missing"));

    assert!(matches!(store.set_state("s_nope", SessionState::Live, 1, None).await, Err(StoreError::NotFound { .. })));

    // The state names round-trip.
    for st in SessionState::ALL {
        assert_eq!(st.as_str().parse::<SessionState>().unwrap(), st);
        assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
    }
    assert!("done".parse::<SessionState>().is_err());
}

async fn expire_stale_moves_only_overdue_waiting_sessions(url: String) {
    let store = open(&url).await;
    let now = 50_000;
    store.create_session(&new_session("s_over_b", 0, now - 1)).await.unwrap();
    store.create_session(&new_session("s_over_a", 0, now)).await.unwrap(); // exactly at the limit: expired
    store.create_session(&new_session("s_fresh", 0, now + 1)).await.unwrap();
    store.create_session(&new_session("s_consented", 0, now - 5)).await.unwrap();
    assert!(store.claim_join("s_consented", &sha256_hex("k"), now - 10).await.unwrap());
    store.create_session(&new_session("s_live", 0, now - 5)).await.unwrap();
    store.set_state("s_live", SessionState::Live, now - 7, None).await.unwrap();

    let expired = store.expire_stale(now).await.unwrap();
    assert_eq!(expired, vec!["s_consented", "s_over_a", "s_over_b"]);
    for id in &expired {
        let row = store.session(id).await.unwrap().unwrap();
        assert_eq!(row.state, SessionState::Expired, "{id}");
        assert_eq!((row.ended_at_ms, row.end_reason.as_deref()), (Some(now), Some("expired")), "{id}");
    }
    assert_eq!(store.session("s_fresh").await.unwrap().unwrap().state, SessionState::Waiting);
    assert_eq!(store.session("s_live").await.unwrap().unwrap().state, SessionState::Live);
    assert!(store.expire_stale(now).await.unwrap().is_empty(), "nothing left to expire");
    assert!(!store.claim_join("s_over_a", &sha256_hex("k"), 0).await.unwrap(), "an expired session cannot be joined");
}

async fn events_keep_insertion_order(url: String) {
    let store = open(&url).await;
    store.create_session(&new_session("s_ev", 0, 1)).await.unwrap();
    store.create_session(&new_session("s_other", 0, 1)).await.unwrap();
    // Wall-clock times out of order on purpose: the log keeps insertion order, not t_ms order.
    let input: Vec<(i64, Option<i64>, String)> = (0..30)
        .map(|i| (1_000 - i * 7 % 13, (i % 3 != 0).then_some(i * 33_366_667), format!("kind{}", i % 4)))
        .collect();
    let mut ids = Vec::new();
    for (i, (t, media, kind)) in input.iter().enumerate() {
        ids.push(store.append_event("s_ev", *t, *media, kind, &format!(r#"{{"i":{i}}}"#)).await.unwrap());
        store.append_event("s_other", 0, None, "noise", "{}").await.unwrap();
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");

    let events = store.events("s_ev").await.unwrap();
    assert_eq!(events.len(), input.len());
    for (i, (ev, (t, media, kind))) in events.iter().zip(&input).enumerate() {
        assert_eq!(ev.id, ids[i]);
        assert_eq!(ev.session_id, "s_ev");
        assert_eq!((ev.t_ms, ev.media_ns, &ev.kind), (*t, *media, kind));
        assert_eq!(ev.data_json, format!(r#"{{"i":{i}}}"#));
    }
    assert!(store.events("s_nope").await.unwrap().is_empty());

    // Concurrent appends: all land, each with its own id.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_event("s_other", i, Some(i), "stats", "{}").await.unwrap() })
        })
        .collect();
    let mut concurrent = Vec::new();
    for t in tasks {
        concurrent.push(t.await.unwrap());
    }
    concurrent.sort();
    concurrent.dedup();
    assert_eq!(concurrent.len(), 20);
    assert_eq!(store.events("s_other").await.unwrap().len(), 50);

    // The log belongs to a session: appending to an unknown one is refused (foreign keys are on).
    let err = store.append_event("s_nope", 0, None, "x", "{}").await.expect_err("unknown session");
    assert!(matches!(err, StoreError::NotFound { what: "session" }), "{err:?}");
}

fn evidence(check: &str, signal: &str, state: &str, finding: Option<&str>, score: Option<f64>) -> EvidenceRow {
    EvidenceRow {
        check: check.to_owned(),
        signal: signal.to_owned(),
        state: state.to_owned(),
        finding: finding.map(str::to_owned),
        score,
        data_json: format!(r#"{{"check":"{check}","signal":"{signal}","state":"{state}"}}"#),
    }
}

async fn verdict_is_stored_in_one_transaction(url: String) {
    let store = open(&url).await;
    store.create_session(&new_session("s_v", 10, 1_000)).await.unwrap();
    store.set_state("s_v", SessionState::Analysing, 500, Some("hangup")).await.unwrap();

    let items = vec![
        evidence("liveness", "liveness.rigid_motion", "observed", Some("supports"), Some(0.875)),
        evidence("voice", "voice.second_speaker", "observed", Some("concern"), Some(0.25)),
        evidence("location", "location.poi_match", "missing", None, None),
    ];
    let verdict = r#"{"decision":"review","reasons":[],"risk_score":0.3}"#;
    store.put_verdict("s_v", "review", verdict, &items, 700).await.unwrap();

    let row = store.session("s_v").await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::Verdict);
    assert_eq!((row.decision.as_deref(), row.verdict_json.as_deref()), (Some("review"), Some(verdict)));
    assert_eq!((row.decided_at_ms, row.ended_at_ms, row.updated_at_ms), (Some(700), Some(500), 700));
    assert_eq!(store.evidence("s_v").await.unwrap(), items, "evidence in order, floats exact");

    // A re-run replaces the evidence rather than adding to it.
    let again = vec![evidence("identity", "identity.face_match", "unavailable", None, None)];
    store.put_verdict("s_v", "reject", r#"{"decision":"reject"}"#, &again, 800).await.unwrap();
    assert_eq!(store.evidence("s_v").await.unwrap(), again);
    assert_eq!(store.session("s_v").await.unwrap().unwrap().decision.as_deref(), Some("reject"));

    // Refused before anything is written: an unknown decision, an unknown session.
    let err = store.put_verdict("s_v", "maybe", "{}", &items, 900).await.expect_err("bad decision");
    assert!(matches!(err, StoreError::Invalid { what: "decision", .. }), "{err:?}");
    assert_eq!(store.evidence("s_v").await.unwrap(), again, "unchanged");
    let err = store.put_verdict("s_nope", "pass", "{}", &items, 900).await.expect_err("unknown session");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(store.evidence("s_nope").await.unwrap().is_empty(), "nothing stored for it");
    let mut with_nul = items.clone();
    with_nul[2].data_json = "{\"x\":\"\0\"}".into();
    let err = store.put_verdict("s_v", "pass", "{}", &with_nul, 900).await.expect_err("NUL in the last item");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert_eq!(store.evidence("s_v").await.unwrap(), again, "unchanged");
    assert_eq!(store.session("s_v").await.unwrap().unwrap().decision.as_deref(), Some("reject"));

    // A verdict without a call end (straight from waiting, e.g. an offline analysis) gets ended_at = decided_at.
    store.create_session(&new_session("s_v2", 10, 1_000)).await.unwrap();
    store.put_verdict("s_v2", "pass", "{}", &[], 900).await.unwrap();
    let row = store.session("s_v2").await.unwrap().unwrap();
    assert_eq!((row.ended_at_ms, row.decided_at_ms), (Some(900), Some(900)));
    assert!(store.evidence("s_v2").await.unwrap().is_empty());
}

async fn list_and_count_filter_and_page(url: String) {
    let store = open(&url).await;
    // s_0 .. s_6, created 1000, 2000, ...; s_1, s_3 reviewed; s_5 rejected; s_2 live; the rest waiting.
    for i in 0..7 {
        let mut s = new_session(&format!("s_{i}"), (i + 1) * 1_000, 1_000_000);
        s.applicant_ref = if i % 2 == 0 { "A-even".into() } else { "A-odd".into() };
        store.create_session(&s).await.unwrap();
    }
    store.put_verdict("s_1", "review", "{}", &[], 10_000).await.unwrap();
    store.put_verdict("s_3", "review", "{}", &[], 10_000).await.unwrap();
    store.put_verdict("s_5", "reject", "{}", &[], 10_000).await.unwrap();
    store.set_state("s_2", SessionState::Live, 10_000, None).await.unwrap();

    let ids = |rows: Vec<facereview::store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = SessionQuery::default();
    assert_eq!(ids(store.list_sessions(&all).await.unwrap()), ["s_6", "s_5", "s_4", "s_3", "s_2", "s_1", "s_0"]);
    assert_eq!(store.count_sessions(&all).await.unwrap(), 7);

    let waiting = SessionQuery { state: Some(SessionState::Waiting), ..Default::default() };
    assert_eq!(ids(store.list_sessions(&waiting).await.unwrap()), ["s_6", "s_4", "s_0"]);
    let review = SessionQuery { decision: Some("review".into()), ..Default::default() };
    assert_eq!(ids(store.list_sessions(&review).await.unwrap()), ["s_3", "s_1"]);
    assert_eq!(store.count_sessions(&review).await.unwrap(), 2);
    let combined = SessionQuery {
        state: Some(SessionState::Verdict),
        applicant_ref: Some("A-odd".into()),
        created_from_ms: Some(2_000),
        created_before_ms: Some(6_001),
        ..Default::default()
    };
    assert_eq!(ids(store.list_sessions(&combined).await.unwrap()), ["s_5", "s_3", "s_1"]);
    let page2 = SessionQuery { limit: 3, offset: 3, ..Default::default() };
    assert_eq!(ids(store.list_sessions(&page2).await.unwrap()), ["s_3", "s_2", "s_1"]);
    let past_end = SessionQuery { limit: 3, offset: 7, ..Default::default() };
    assert!(store.list_sessions(&past_end).await.unwrap().is_empty());
    assert_eq!(store.count_sessions(&page2).await.unwrap(), 7, "count ignores paging");

    for bad in [
        SessionQuery { limit: 0, ..Default::default() },
        SessionQuery { limit: SessionQuery::MAX_LIMIT + 1, ..Default::default() },
        SessionQuery { offset: -1, ..Default::default() },
        SessionQuery { decision: Some("pass' OR 1=1 --".into()), ..Default::default() },
    ] {
        assert!(matches!(store.list_sessions(&bad).await, Err(StoreError::Invalid { .. })), "{bad:?}");
    }
}

async fn errors_do_not_leak_secrets(url: String) {
    let store = open(&url).await;
    store.create_session(&new_session("s_e", 0, 1)).await.unwrap();
    let err = store.create_session(&new_session("s_e", 0, 1)).await.unwrap_err();
    let text = format!("{err}");
    for word in ["INSERT", "sessions (", "$1", "sqlite:", "postgres:"] {
        assert!(!text.contains(word), "{word:?} in {text:?}");
    }
    if Dialect::of_url(&url).unwrap() == Dialect::Postgres {
        let wrong = url.replace(PG_PASSWORD, "Wrong-pw-123");
        let err = Store::open(&wrong).await.expect_err("wrong password");
        assert!(matches!(err, StoreError::Connect { reason: "authentication failed", .. }), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains("Wrong-pw-123") && !text.contains("127.0.0.1"), "{text}");
        assert!(!redacted_url(&url).contains(PG_PASSWORD));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Schema v2: accounts, logins, review, audit log, voiceprint enrolments

/// A raw connection beside the store, for what the store refuses to do (tampering, v1-only writes).
async fn raw(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap_or_else(|e| panic!("raw connect {}: {e}", redacted_url(url)))
}

async fn raw_exec(conn: &mut sqlx::AnyConnection, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::Executor;
    conn.execute(sql).await.map(|r| r.rows_affected())
}

/// A cheap argon2 PHC string (the store checks the format, not the password).
fn phc(tag: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}")
}

async fn add_user(store: &Store, username: &str, role: &str) -> UserRow {
    let hash = phc(username);
    let new = NewUser { username, display_name: &format!("User {username}"), role, password_hash: &hash };
    store.create_user(&new, 1_000).await.unwrap_or_else(|e| panic!("create {username}: {e}"))
}

async fn a_v1_database_migrates_to_v2(url: String) {
    // A database as the previous release left it: only v1, with a session that has a verdict.
    let v1 = Store::open_with_migrations(&url, &MIGRATIONS[..1]).await.expect("v1 only");
    assert_eq!(v1.schema_version().await.unwrap(), 1);
    v1.create_session(&new_session("s_old", 1_000, 900_000)).await.unwrap();
    v1.create_session(&new_session("s_old_bad", 1_000, 900_000)).await.unwrap();
    v1.create_session(&new_session("s_waiting", 1_000, 900_000)).await.unwrap();
    v1.close().await;
    let mut conn = raw(&url).await;
    let verdict = r#"{"decision":"review","risk_score":0.625,"reasons":[{"code":"voice.second_speaker","decision":"review"},{"code":"liveness.blink","decision":"pass"},{"code":"location.absent","decision":"reject"}]}"#;
    raw_exec(
        &mut conn,
        &format!(
            "UPDATE sessions SET state = 'verdict', decision = 'review', decided_at_ms = 5000, verdict_json = '{verdict}' \
             WHERE id = 's_old'"
        ),
    )
    .await
    .unwrap();
    raw_exec(
        &mut conn,
        "UPDATE sessions SET state = 'verdict', decision = 'reject', decided_at_ms = 6000, \
         verdict_json = 'not json at all' WHERE id = 's_old_bad'",
    )
    .await
    .unwrap();
    drop(conn);

    // The new build migrates it; the old data stays and the queue columns are filled in from the verdict.
    let store = open(&url).await;
    assert_eq!(store.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(MIGRATIONS[1].name, "console_accounts_review_audit");
    let old = store.queue_row("s_old").await.unwrap().expect("old session");
    assert_eq!(old.session.verdict_json.as_deref(), Some(verdict));
    assert_eq!(old.risk_score, Some(0.625));
    assert_eq!(old.reason_codes.as_deref(), Some("voice.second_speaker location.absent"));
    assert_eq!((old.review_status, old.assignee_username), (None, None));
    let bad = store.queue_row("s_old_bad").await.unwrap().expect("bad verdict session");
    assert_eq!((bad.risk_score, bad.reason_codes), (None, None), "unreadable verdicts are left empty");
    let (items, total) = store.review_queue(&QueueQuery::default()).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(items.iter().map(|i| i.session.id.as_str()).collect::<Vec<_>>(), ["s_old", "s_old_bad"]);
    // Every v2 table works on the migrated database.
    assert_eq!(store.count_users().await.unwrap(), 0);
    let admin = add_user(&store, "ann", "admin").await;
    let d = NewReviewDecision {
        session_id: "s_old",
        user_id: &admin.id,
        action: "escalate",
        reason: "needs a supervisor",
        created_at_ms: 7_000,
    };
    assert_eq!(store.add_review_decision(&d).await.unwrap().seq, 1);
    store.append_audit(&audit("system", "user.add", None, json!({"username": "ann"}))).await.unwrap();
    assert!(store.verify_audit().await.unwrap().ok);
    store.close().await;
    // Reopening applies nothing more.
    let again = open(&url).await;
    assert_eq!(again.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(again.review_decisions("s_old").await.unwrap().len(), 1);
}

async fn users_round_trip(url: String) {
    let store = open(&url).await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    let hash = phc("ann");
    let new = NewUser { username: "ann", display_name: "Ann Ö. Reviewer", role: "reviewer", password_hash: &hash };
    let ann = store.create_user(&new, 1_000).await.unwrap();
    assert!(ann.id.starts_with("u_") && ann.id.len() == 18, "{}", ann.id);
    assert!(ann.id[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{}", ann.id);
    assert_eq!(
        (&ann.username[..], &ann.display_name[..], &ann.role[..], ann.disabled, ann.failed_logins, ann.locked_until_ms),
        ("ann", "Ann Ö. Reviewer", "reviewer", false, 0, None)
    );
    assert_eq!(store.user_by_name("ann").await.unwrap().as_ref(), Some(&ann));
    assert_eq!(store.user_by_id(&ann.id).await.unwrap().as_ref(), Some(&ann));
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
    assert!(store.user_by_id("u_0000000000000000").await.unwrap().is_none());
    let json = serde_json::to_value(&ann).unwrap();
    assert!(json.get("password_hash").is_none(), "never serialised: {json}");
    assert_eq!(json["role"], "reviewer");

    // Duplicates conflict; bad names, roles, display names and hashes are refused before anything is written.
    assert!(matches!(store.create_user(&new, 2_000).await, Err(StoreError::Conflict { what: "username" })));
    for (username, display_name, role, hash) in [
        ("Ann2", "x", "reviewer", phc("x")),
        ("", "x", "reviewer", phc("x")),
        ("bob", "x", "root", phc("x")),
        ("bob", "x", "Admin", phc("x")),
        ("bob", "   ", "qa", phc("x")),
        ("bob", "tab\there", "qa", phc("x")),
        ("bob", "x", "qa", "plain-password".to_owned()),
        ("bob", "x", "qa", format!("{}\0", phc("x"))),
    ] {
        let new = NewUser { username, display_name, role, password_hash: &hash };
        let err = store.create_user(&new, 1).await.expect_err("invalid user");
        assert!(matches!(err, StoreError::Invalid { .. }), "{username:?} {role:?}: {err:?}");
    }
    assert_eq!(store.count_users().await.unwrap(), 1);

    let boss = add_user(&store, "boss", "admin").await;
    add_user(&store, "carl", "qa").await;
    let names: Vec<_> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["ann", "boss", "carl"]);
    assert_eq!(store.count_users().await.unwrap(), 3);

    // Updates: each field alone, others kept.
    let u = store.update_user("ann", &UserUpdate { role: Some("supervisor"), ..Default::default() }, 5_000).await;
    let u = u.unwrap();
    assert_eq!((&u.role[..], &u.display_name[..], &u.password_hash[..]), ("supervisor", "Ann Ö. Reviewer", &hash[..]));
    let new_hash = phc("ann-2");
    let u = store
        .update_user(
            "ann",
            &UserUpdate { display_name: Some("Ann"), password_hash: Some(&new_hash), ..Default::default() },
            6_000,
        )
        .await
        .unwrap();
    assert_eq!((&u.role[..], &u.display_name[..], &u.password_hash[..]), ("supervisor", "Ann", &new_hash[..]));
    assert_eq!(u.created_at_ms, 1_000, "creation time kept");
    let u = store.update_user("ann", &UserUpdate { disabled: Some(true), ..Default::default() }, 7_000).await.unwrap();
    assert!(u.disabled);
    assert!(store.user_by_name("ann").await.unwrap().unwrap().disabled);
    let u = store.update_user("ann", &UserUpdate { disabled: Some(false), ..Default::default() }, 8_000).await.unwrap();
    assert!(!u.disabled);
    for bad in [
        UserUpdate { role: Some("superuser"), ..Default::default() },
        UserUpdate { display_name: Some(""), ..Default::default() },
        UserUpdate { password_hash: Some("hunter2"), ..Default::default() },
    ] {
        assert!(matches!(store.update_user("ann", &bad, 9_000).await, Err(StoreError::Invalid { .. })), "{bad:?}");
    }
    assert!(matches!(
        store.update_user("nobody", &UserUpdate { disabled: Some(true), ..Default::default() }, 1).await,
        Err(StoreError::NotFound { what: "user" })
    ));

    // The last enabled admin can be neither demoted nor disabled; with a second admin it can.
    let demote = UserUpdate { role: Some("reviewer"), ..Default::default() };
    let disable = UserUpdate { disabled: Some(true), ..Default::default() };
    for change in [&demote, &disable] {
        let err = store.update_user("boss", change, 9_000).await.expect_err("last admin");
        assert!(matches!(err, StoreError::Invalid { .. }) && err.to_string().contains("admin"), "{err}");
    }
    let still = store.user_by_name("boss").await.unwrap().unwrap();
    assert_eq!((&still.role[..], still.disabled), ("admin", false), "nothing changed");
    // Changing someone else, or the admin's own display name, is fine with one admin.
    store.update_user("carl", &disable, 9_000).await.unwrap();
    store.update_user("boss", &UserUpdate { display_name: Some("Boss"), ..Default::default() }, 9_000).await.unwrap();
    store.update_user("ann", &UserUpdate { role: Some("admin"), ..Default::default() }, 9_000).await.unwrap();
    store.update_user("boss", &demote, 9_500).await.expect("another admin remains");
    assert_eq!(boss.id, store.user_by_name("boss").await.unwrap().unwrap().id);
    // Two demotions at once: exactly one wins, one enabled admin is left.
    store.update_user("boss", &UserUpdate { role: Some("admin"), ..Default::default() }, 9_600).await.unwrap();
    let (a, b) = tokio::join!(store.update_user("ann", &demote, 9_700), store.update_user("boss", &demote, 9_700));
    assert!(a.is_ok() != b.is_ok(), "exactly one demotion succeeds: {a:?} {b:?}");
    let admins = store.list_users().await.unwrap().into_iter().filter(|u| u.role == "admin" && !u.disabled).count();
    assert_eq!(admins, 1);
}

async fn failed_logins_lock_and_reset(url: String) {
    let store = open(&url).await;
    let ann = add_user(&store, "ann", "reviewer").await;
    let policy = LoginPolicy::default(); // 5 within 15 min, lock 15 min
    let t0 = 10_000_000;
    for i in 0..4 {
        store.login_failed("ann", t0 + i * 1_000, &policy).await.unwrap();
    }
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until_ms), (4, None));
    store.login_failed("ann", t0 + 5_000, &policy).await.unwrap();
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until_ms), (5, Some(t0 + 5_000 + policy.lock_ms)));

    // A success clears everything.
    store.login_succeeded(&ann.id).await.unwrap();
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until_ms), (0, None));

    // Failures spread beyond the window start a new count: never locked.
    let mut t = t0 + 100_000;
    for _ in 0..12 {
        store.login_failed("ann", t, &policy).await.unwrap();
        t += policy.failure_window_ms / 4 + 1;
    }
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert!(u.failed_logins < 5 && u.locked_until_ms.is_none(), "{u:?}");

    // Concurrent failures are all counted.
    store.login_succeeded(&ann.id).await.unwrap();
    let t1 = t + 10 * policy.failure_window_ms;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.login_failed("ann", t1 + i, &LoginPolicy::default()).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!(u.failed_logins, 8);
    assert!(u.locked_until_ms.is_some_and(|l| l >= t1 + policy.lock_ms), "{u:?}");

    // A new password (an admin's reset) or enabling unlocks; an unknown username is a no-op.
    let h = phc("new");
    store.update_user("ann", &UserUpdate { password_hash: Some(&h), ..Default::default() }, t1 + 10).await.unwrap();
    let u = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until_ms), (0, None));
    store.login_failed("nobody", t1, &policy).await.unwrap();
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
}

async fn logins_round_trip_and_expire(url: String) {
    let store = open(&url).await;
    let ann = add_user(&store, "ann", "reviewer").await;
    let bob = add_user(&store, "bob", "supervisor").await;
    add_user(&store, "root", "admin").await;
    let login = |token: &'static str, user_id: &str, created: i64, expires: i64| {
        (sha256_hex(token), user_id.to_owned(), format!("csrf-{token}"), created, expires)
    };
    let rows = [
        login("a1", &ann.id, 1_000, 1_000 + 8 * 3_600_000),
        login("a2", &ann.id, 2_000, 2_000 + 8 * 3_600_000),
        login("b1", &bob.id, 3_000, 3_500),
    ];
    for (t, u, c, created, expires) in &rows {
        let l =
            NewLogin { token_sha256: t, user_id: u, csrf_token: c, created_at_ms: *created, expires_at_ms: *expires };
        store.create_login(&l).await.unwrap();
    }
    let (l, u) = store.login_by_token(&sha256_hex("a1")).await.unwrap().expect("login");
    assert_eq!(
        l,
        LoginRow {
            token_sha256: sha256_hex("a1"),
            user_id: ann.id.clone(),
            csrf_token: "csrf-a1".into(),
            created_at_ms: 1_000,
            last_seen_ms: 1_000,
            expires_at_ms: 1_000 + 8 * 3_600_000,
        }
    );
    assert_eq!(u, ann);
    assert!(store.login_by_token(&sha256_hex("nope")).await.unwrap().is_none());

    // Same token again: conflict; unknown user: not found.
    let l =
        NewLogin { token_sha256: &rows[0].0, user_id: &ann.id, csrf_token: "x", created_at_ms: 1, expires_at_ms: 2 };
    assert!(matches!(store.create_login(&l).await, Err(StoreError::Conflict { .. })));
    let t = sha256_hex("ghost");
    let l = NewLogin {
        token_sha256: &t,
        user_id: "u_ffffffffffffffff",
        csrf_token: "x",
        created_at_ms: 1,
        expires_at_ms: 2,
    };
    assert!(matches!(store.create_login(&l).await, Err(StoreError::NotFound { what: "user" })));

    // touch moves last_seen forward only.
    store.touch_login(&sha256_hex("a1"), 50_000).await.unwrap();
    store.touch_login(&sha256_hex("a1"), 40_000).await.unwrap();
    assert_eq!(store.login_by_token(&sha256_hex("a1")).await.unwrap().unwrap().0.last_seen_ms, 50_000);

    // Expired (b1 at 3500) and idle (a2, last seen 2000, idle 30 min) go; a1 (seen at 50 000) stays.
    let now = 2_000 + 1_800_000;
    assert_eq!(store.delete_expired_logins(now, 1_800_000).await.unwrap(), 2);
    assert!(store.login_by_token(&sha256_hex("a1")).await.unwrap().is_some());
    assert!(store.login_by_token(&sha256_hex("a2")).await.unwrap().is_none());
    assert!(store.login_by_token(&sha256_hex("b1")).await.unwrap().is_none());
    assert_eq!(store.delete_expired_logins(now, 1_800_000).await.unwrap(), 0);

    // Logout deletes; deleting again is fine.
    store.delete_login(&sha256_hex("a1")).await.unwrap();
    store.delete_login(&sha256_hex("a1")).await.unwrap();
    assert!(store.login_by_token(&sha256_hex("a1")).await.unwrap().is_none());

    // Disabling a user ends their logins, and only theirs.
    for (token, user) in [("a3", &ann.id), ("b2", &bob.id)] {
        let t = sha256_hex(token);
        let l =
            NewLogin { token_sha256: &t, user_id: user, csrf_token: "c", created_at_ms: 1, expires_at_ms: i64::MAX };
        store.create_login(&l).await.unwrap();
    }
    store.update_user("ann", &UserUpdate { disabled: Some(true), ..Default::default() }, 9).await.unwrap();
    assert!(store.login_by_token(&sha256_hex("a3")).await.unwrap().is_none());
    assert!(store.login_by_token(&sha256_hex("b2")).await.unwrap().is_some());
}

fn verdict_json(decision: &str, risk: f64, reasons: &[(&str, &str)]) -> String {
    let reasons: Vec<_> = reasons.iter().map(|(c, d)| json!({"code": c, "decision": d, "text": "t"})).collect();
    json!({"decision": decision, "risk_score": risk, "reasons": reasons}).to_string()
}

async fn review_decisions_are_numbered_per_session(url: String) {
    let store = open(&url).await;
    let ann = add_user(&store, "ann", "reviewer").await;
    let sup = add_user(&store, "sup", "supervisor").await;
    store.create_session(&new_session("s_r", 0, 1)).await.unwrap();
    store.create_session(&new_session("s_other", 0, 1)).await.unwrap();
    store.put_verdict("s_r", "review", &verdict_json("review", 0.4, &[("voice.x", "review")]), &[], 100).await.unwrap();

    fn d<'a>(user: &'a str, action: &'a str, t: i64) -> NewReviewDecision<'a> {
        NewReviewDecision {
            session_id: "s_r",
            user_id: user,
            action,
            reason: "checked the recording carefully",
            created_at_ms: t,
        }
    }
    let first = store.add_review_decision(&d(&ann.id, "escalate", 1_000)).await.unwrap();
    assert_eq!(
        first,
        ReviewDecisionRow {
            seq: 1,
            action: "escalate".into(),
            reason: "checked the recording carefully".into(),
            user_id: ann.id.clone(),
            username: "ann".into(),
            display_name: "User ann".into(),
            created_at_ms: 1_000,
        }
    );
    let q = store.queue_row("s_r").await.unwrap().unwrap();
    assert_eq!((q.review_status.as_deref(), q.reviewed_at_ms), (Some("escalated"), Some(1_000)));
    let second = store.add_review_decision(&d(&sup.id, "approve", 2_000)).await.unwrap();
    assert_eq!((second.seq, &second.username[..]), (2, "sup"));
    assert_eq!(store.queue_row("s_r").await.unwrap().unwrap().review_status.as_deref(), Some("approved"));
    store.add_review_decision(&d(&sup.id, "reject", 3_000)).await.unwrap();
    assert_eq!(store.queue_row("s_r").await.unwrap().unwrap().review_status.as_deref(), Some("rejected"));

    // Another session numbers from 1.
    let other = NewReviewDecision { session_id: "s_other", ..d(&ann.id, "approve", 4_000) };
    assert_eq!(store.add_review_decision(&other).await.unwrap().seq, 1);

    // Concurrent decisions on one session get distinct, consecutive numbers.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, user) = (store.clone(), sup.id.clone());
            tokio::spawn(async move {
                let d = NewReviewDecision {
                    session_id: "s_r",
                    user_id: &user,
                    action: "escalate",
                    reason: "concurrent review",
                    created_at_ms: 10_000 + i,
                };
                store.add_review_decision(&d).await.unwrap().seq
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (4..=13).collect::<Vec<_>>());
    let all = store.review_decisions("s_r").await.unwrap();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=13).collect::<Vec<_>>(), "oldest first");
    assert_eq!(all[0], first);
    assert!(store.review_decisions("s_none").await.unwrap().is_empty());

    // Refusals: unknown action, empty reason, unknown session or user; nothing is written.
    let bad_action = NewReviewDecision { action: "maybe", ..d(&ann.id, "approve", 1) };
    assert!(matches!(store.add_review_decision(&bad_action).await, Err(StoreError::Invalid { .. })));
    let empty = NewReviewDecision { reason: "   ", ..d(&ann.id, "approve", 1) };
    assert!(matches!(store.add_review_decision(&empty).await, Err(StoreError::Invalid { .. })));
    let no_session = NewReviewDecision { session_id: "s_nope", ..d(&ann.id, "approve", 1) };
    assert!(matches!(store.add_review_decision(&no_session).await, Err(StoreError::NotFound { what: "session" })));
    let no_user = d("u_0000000000000000", "approve", 1);
    assert!(matches!(store.add_review_decision(&no_user).await, Err(StoreError::NotFound { what: "user" })));
    assert_eq!(store.review_decisions("s_r").await.unwrap().len(), 13);
    assert_eq!(store.queue_row("s_r").await.unwrap().unwrap().review_status.as_deref(), Some("escalated"));
}

async fn review_queue_filters_sorts_and_pages(url: String) {
    let store = open(&url).await;
    let ann = add_user(&store, "ann", "reviewer").await;
    let bob = add_user(&store, "bob", "reviewer").await;
    // id, decision (None = failed analysis), risk, reasons, verdict time
    type Case<'a> = (&'a str, Option<&'a str>, f64, &'a [(&'a str, &'a str)], i64);
    let cases: [Case; 7] = [
        ("q_review_old", Some("review"), 0.30, &[("voice.second_speaker", "review")], 1_000),
        ("q_reject", Some("reject"), 0.90, &[("identity.face_mismatch", "reject"), ("voice.x", "pass")], 2_000),
        ("q_review_new", Some("review"), 0.55, &[("location.absent", "review"), ("voicex.other", "review")], 3_000),
        ("q_pass", Some("pass"), 0.05, &[("liveness.blink", "pass")], 4_000),
        ("q_failed", None, 0.0, &[], 5_000),
        ("q_escalated", Some("review"), 0.40, &[("voice.second_speaker", "review")], 6_000),
        ("q_decided", Some("reject"), 0.70, &[("liveness.screen", "reject")], 7_000),
    ];
    for (id, decision, risk, reasons, t) in cases {
        store.create_session(&new_session(id, 100, 1_000_000)).await.unwrap();
        match decision {
            Some(d) => store.put_verdict(id, d, &verdict_json(d, risk, reasons), &[], t).await.unwrap(),
            None => store.set_state(id, SessionState::Failed, t, Some("analysis failed")).await.unwrap(),
        }
    }
    store.create_session(&new_session("q_waiting", 100, 1_000_000)).await.unwrap();
    for (id, action) in [("q_escalated", "escalate"), ("q_decided", "reject")] {
        let d =
            NewReviewDecision { session_id: id, user_id: &ann.id, action, reason: "reviewed", created_at_ms: 9_000 };
        store.add_review_decision(&d).await.unwrap();
    }
    store.set_assignee("q_reject", Some(&ann.id), 9_100).await.unwrap();
    store.set_assignee("q_review_new", Some(&bob.id), 9_100).await.unwrap();
    store.set_assignee("q_review_new", Some(&ann.id), 9_200).await.unwrap();
    store.set_assignee("q_failed", Some(&bob.id), 9_200).await.unwrap();
    store.set_assignee("q_failed", None, 9_300).await.unwrap();

    // put_verdict filled the queue columns.
    let r = store.queue_row("q_review_new").await.unwrap().unwrap();
    assert_eq!(r.risk_score, Some(0.55));
    assert_eq!(r.reason_codes.as_deref(), Some("location.absent voicex.other"));
    assert_eq!((r.assignee_user_id.as_deref(), r.assignee_username.as_deref()), (Some(&ann.id[..]), Some("ann")));
    let r = store.queue_row("q_reject").await.unwrap().unwrap();
    assert_eq!(r.reason_codes.as_deref(), Some("identity.face_mismatch"), "pass reasons are not queue reasons");
    assert_eq!(store.queue_row("q_pass").await.unwrap().unwrap().reason_codes, None);
    assert!(store.queue_row("q_nope").await.unwrap().is_none());

    let ids = |(rows, _): &(Vec<QueueRow>, i64)| rows.iter().map(|r| r.session.id.clone()).collect::<Vec<_>>();
    let query = |f: fn(&mut QueueQuery)| {
        let mut q = QueueQuery::default();
        f(&mut q);
        q
    };
    // Default: open (review/reject/failed, no reviewer decision), oldest verdict first.
    let open_q = store.review_queue(&QueueQuery::default()).await.unwrap();
    assert_eq!(ids(&open_q), ["q_review_old", "q_reject", "q_review_new", "q_failed"]);
    assert_eq!(open_q.1, 4);
    let r = store.review_queue(&query(|q| q.status = QueueStatus::Escalated)).await.unwrap();
    assert_eq!(ids(&r), ["q_escalated"]);
    assert_eq!(r.0[0].review_status.as_deref(), Some("escalated"));
    assert_eq!(ids(&store.review_queue(&query(|q| q.status = QueueStatus::Decided)).await.unwrap()), ["q_decided"]);
    let all = store.review_queue(&query(|q| q.status = QueueStatus::All)).await.unwrap();
    assert_eq!(
        ids(&all),
        ["q_review_old", "q_reject", "q_review_new", "q_pass", "q_failed", "q_escalated", "q_decided"],
        "everything with a verdict or a failed analysis; never a waiting session"
    );

    // Sorts.
    assert_eq!(
        ids(&store.review_queue(&query(|q| q.sort = QueueSort::AgeDesc)).await.unwrap()),
        ["q_failed", "q_review_new", "q_reject", "q_review_old"]
    );
    let by_risk = store.review_queue(&query(|q| q.sort = QueueSort::RiskDesc)).await.unwrap();
    assert_eq!(ids(&by_risk), ["q_reject", "q_review_new", "q_review_old", "q_failed"], "no risk score: last");
    let by_risk = store.review_queue(&query(|q| q.sort = QueueSort::RiskAsc)).await.unwrap();
    assert_eq!(ids(&by_risk), ["q_review_old", "q_review_new", "q_reject", "q_failed"]);

    // Filters: decision, reason prefix (the start of any non-pass code, `_` literal), assignee.
    assert_eq!(
        ids(&store.review_queue(&query(|q| q.decision = Some("review".into()))).await.unwrap()),
        ["q_review_old", "q_review_new"]
    );
    let by_reason = |prefix: &'static str| {
        let mut q = QueueQuery { status: QueueStatus::All, ..Default::default() };
        q.reason_prefix = Some(prefix.to_owned());
        q
    };
    assert_eq!(
        ids(&store.review_queue(&by_reason("voice.")).await.unwrap()),
        ["q_review_old", "q_escalated"],
        "voicex.other and the pass reason voice.x do not match"
    );
    assert_eq!(
        ids(&store.review_queue(&by_reason("voice")).await.unwrap()),
        ["q_review_old", "q_review_new", "q_escalated"]
    );
    assert_eq!(ids(&store.review_queue(&by_reason("VOICE.SECOND_")).await.unwrap()), ["q_review_old", "q_escalated"]);
    assert!(store.review_queue(&by_reason("voice.second%")).await.unwrap().0.is_empty(), "% is literal");
    assert!(store.review_queue(&by_reason("voice_")).await.unwrap().0.is_empty(), "_ is literal");
    assert!(store.review_queue(&by_reason("speaker")).await.unwrap().0.is_empty(), "prefix, not substring");
    assert_eq!(ids(&store.review_queue(&by_reason("liveness.screen")).await.unwrap()), ["q_decided"]);
    assert_eq!(store.review_queue(&by_reason("")).await.unwrap().1, 7, "empty prefix: no filter");
    let mine = QueueQuery { assignee: AssigneeFilter::User(ann.id.clone()), ..Default::default() };
    assert_eq!(ids(&store.review_queue(&mine).await.unwrap()), ["q_reject", "q_review_new"]);
    let nobody = QueueQuery { assignee: AssigneeFilter::Nobody, ..Default::default() };
    assert_eq!(ids(&store.review_queue(&nobody).await.unwrap()), ["q_review_old", "q_failed"]);
    let bobs = QueueQuery { assignee: AssigneeFilter::User(bob.id.clone()), ..Default::default() };
    assert_eq!(store.review_queue(&bobs).await.unwrap().1, 0);

    // Paging: total ignores the page.
    let page = store.review_queue(&QueueQuery { limit: 2, offset: 1, ..Default::default() }).await.unwrap();
    assert_eq!((ids(&page), page.1), (vec!["q_reject".to_owned(), "q_review_new".to_owned()], 4));
    for bad in [
        QueueQuery { limit: 0, ..Default::default() },
        QueueQuery { limit: 1_001, ..Default::default() },
        QueueQuery { offset: -1, ..Default::default() },
        QueueQuery { decision: Some("approve' OR 1=1 --".into()), ..Default::default() },
        QueueQuery { reason_prefix: Some("a b".into()), ..Default::default() },
    ] {
        assert!(matches!(store.review_queue(&bad).await, Err(StoreError::Invalid { .. })), "{bad:?}");
    }

    // Assigning: unknown session or user refused.
    assert!(matches!(
        store.set_assignee("q_nope", Some(&ann.id), 1).await,
        Err(StoreError::NotFound { what: "session" })
    ));
    assert!(matches!(
        store.set_assignee("q_reject", Some("u_0000000000000000"), 1).await,
        Err(StoreError::NotFound { what: "user" })
    ));
    assert_eq!(store.queue_row("q_reject").await.unwrap().unwrap().assignee_username.as_deref(), Some("ann"));

    // A re-run of the analysis updates the queue columns.
    store
        .put_verdict("q_reject", "review", &verdict_json("review", 0.2, &[("spoof.screen", "review")]), &[], 9_500)
        .await
        .unwrap();
    let r = store.queue_row("q_reject").await.unwrap().unwrap();
    assert_eq!((r.risk_score, r.reason_codes.as_deref()), (Some(0.2), Some("spoof.screen")));
}

fn audit<'a>(actor: &'a str, action: &'a str, session_id: Option<&'a str>, detail: serde_json::Value) -> NewAudit<'a> {
    // Leaked: tests only, small.
    let detail: &'static serde_json::Value = Box::leak(Box::new(detail));
    NewAudit { t_ms: 1_700_000_000_000, actor, action, session_id, detail }
}

/// Drops one of the append-only triggers, the way an attacker with database access would.
async fn drop_trigger(conn: &mut sqlx::AnyConnection, url: &str, name: &str) {
    let sql = match Dialect::of_url(url).unwrap() {
        Dialect::Sqlite => format!("DROP TRIGGER {name}"),
        Dialect::Postgres => format!("DROP TRIGGER {name} ON audit_log"),
    };
    raw_exec(conn, &sql).await.expect("drop trigger");
}

async fn audit_log_chains_and_detects_tampering(url: String) {
    let store = open(&url).await;
    let empty = store.verify_audit().await.unwrap();
    assert_eq!(empty, AuditVerification { ok: true, entries: 0, first_bad_seq: None, problem: None, head: None });
    assert!(store.verify_audit_with_head(None).await.unwrap().ok, "an empty log needs no head");

    let first =
        store.append_audit(&audit("cli:root", "user.add", None, json!({"username": "ann", "role": "qa"}))).await;
    let first = first.unwrap();
    assert_eq!((first.seq, &first.prev_hash[..]), (1, GENESIS));
    assert_eq!(
        first.hash,
        entry_hash(
            GENESIS,
            1,
            1_700_000_000_000,
            "cli:root",
            "user.add",
            None,
            &json!({"username": "ann", "role": "qa"})
        )
    );
    let second = store.append_audit(&audit("ann", "session.view", Some("s_1"), json!({}))).await.unwrap();
    assert_eq!((second.seq, &second.prev_hash), (2, &first.hash));
    for i in 3..=6 {
        let sid = if i % 2 == 0 { Some("s_1") } else { Some("s_2") };
        let e = audit(
            "ann",
            "recording.view",
            sid,
            json!({"part": i, "f": 0.1 + 0.2, "nested": {"b": [1, "x"], "a": null}}),
        );
        store.append_audit(&e).await.unwrap();
    }

    // Reading: newest first, per session, paged with before.
    let all = store.audit_entries(None, None, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 5, 4, 3, 2, 1]);
    assert_eq!(all[5], first, "detail and hashes read back as written");
    assert_eq!(all[0].detail["nested"]["b"][1], "x");
    let s1: Vec<_> = store.audit_entries(Some("s_1"), None, 100).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(s1, [6, 4, 2]);
    let page: Vec<_> = store.audit_entries(None, Some(5), 2).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(page, [4, 3]);
    let page: Vec<_> = store.audit_entries(Some("s_1"), Some(4), 10).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(page, [2]);
    assert!(matches!(store.audit_entries(None, None, 0).await, Err(StoreError::Invalid { .. })));
    assert!(matches!(store.audit_entries(None, None, 1_001).await, Err(StoreError::Invalid { .. })));
    assert!(matches!(store.append_audit(&audit("", "x", None, json!({}))).await, Err(StoreError::Invalid { .. })));
    assert!(matches!(store.append_audit(&audit("a", "", None, json!({}))).await, Err(StoreError::Invalid { .. })));
    assert!(matches!(store.append_audit(&audit("a\0", "x", None, json!({}))).await, Err(StoreError::Invalid { .. })));

    let v = store.verify_audit().await.unwrap();
    let last = all[0].clone();
    assert_eq!(
        v,
        AuditVerification {
            ok: true,
            entries: 6,
            first_bad_seq: None,
            problem: None,
            head: Some((6, last.hash.clone()))
        }
    );
    // The head file's checks: current, lagging, missing, ahead, wrong hash.
    assert!(store.verify_audit_with_head(Some((6, last.hash.clone()))).await.unwrap().ok);
    assert!(store.verify_audit_with_head(Some((2, second.hash.clone()))).await.unwrap().ok, "a lagging head is fine");
    let v = store.verify_audit_with_head(None).await.unwrap();
    assert!(!v.ok && v.problem.as_deref().unwrap().contains("head file"), "{v:?}");
    let v = store.verify_audit_with_head(Some((8, "a".repeat(64)))).await.unwrap();
    assert_eq!((v.ok, v.first_bad_seq), (false, Some(7)), "{v:?}");
    assert!(v.problem.as_deref().unwrap().contains("missing"), "{v:?}");
    let v = store.verify_audit_with_head(Some((3, second.hash.clone()))).await.unwrap();
    assert_eq!((v.ok, v.first_bad_seq), (false, Some(3)), "{v:?}");

    // The database refuses UPDATE and DELETE while the triggers exist.
    let mut conn = raw(&url).await;
    let err = raw_exec(&mut conn, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").await.expect_err("update");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw_exec(&mut conn, "DELETE FROM audit_log WHERE seq = 6").await.expect_err("delete");
    assert!(err.to_string().contains("append-only"), "{err}");
    if Dialect::of_url(&url).unwrap() == Dialect::Postgres {
        let err = raw_exec(&mut conn, "TRUNCATE audit_log").await.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert!(store.verify_audit().await.unwrap().ok);

    // With the update trigger dropped: a changed detail is found at its seq.
    drop_trigger(&mut conn, &url, "audit_log_no_update").await;
    raw_exec(&mut conn, "UPDATE audit_log SET detail_json = '{\"part\":99}' WHERE seq = 4").await.unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.ok, v.entries, v.first_bad_seq), (false, 6, Some(4)), "{v:?}");
    assert!(v.problem.as_deref().unwrap().contains("entry 4"), "{v:?}");
    // ... and re-hashing the changed entry shows at the next one's prev_hash.
    let rehashed = entry_hash(
        &all[3].hash,
        4,
        all[2].t_ms,
        &all[2].actor,
        &all[2].action,
        all[2].session_id.as_deref(),
        &json!({"part": 99}),
    );
    raw_exec(&mut conn, &format!("UPDATE audit_log SET hash = '{rehashed}' WHERE seq = 4")).await.unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.ok, v.first_bad_seq), (false, Some(5)), "{v:?}");
    // Text that is not JSON is reported, not a failure of verification itself.
    raw_exec(&mut conn, "UPDATE audit_log SET detail_json = 'oops' WHERE seq = 2").await.unwrap();
    let v = store.verify_audit().await.unwrap();
    assert_eq!((v.ok, v.first_bad_seq), (false, Some(2)), "{v:?}");
}

async fn audit_log_concurrent_appends_form_one_chain(url: String) {
    let store = open(&url).await;
    let dir = common::temp_dir(&format!("audit-concurrent-{}", Dialect::of_url(&url).unwrap()));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, dir) = (store.clone(), dir.clone());
            tokio::spawn(async move {
                let actor = format!("user{i}");
                let detail = json!({"i": i});
                let e = NewAudit {
                    t_ms: 1_000 + i,
                    actor: &actor,
                    action: "session.view",
                    session_id: None,
                    detail: &detail,
                };
                store.append_audit_and_head(&e, &dir).await.unwrap().seq
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    let v = store.verify_audit().await.unwrap();
    assert!(v.ok && v.entries == 20, "{v:?}");
    // The head file ends at the newest entry, whatever order the appenders finished in.
    let head = audit_head::read_head(&dir).expect("head written");
    assert_eq!(Some(head.clone()), v.head);
    assert!(store.verify_audit_with_head(Some(head)).await.unwrap().ok);

    // Deleting the newest entry (delete trigger dropped) leaves a valid chain: only the head shows it.
    let mut conn = raw(&url).await;
    drop_trigger(&mut conn, &url, "audit_log_no_delete").await;
    raw_exec(&mut conn, "DELETE FROM audit_log WHERE seq = 20").await.unwrap();
    assert!(store.verify_audit().await.unwrap().ok, "the chain alone cannot tell");
    let v = store.verify_audit_with_head(audit_head::read_head(&dir)).await.unwrap();
    assert_eq!((v.ok, v.entries, v.first_bad_seq), (false, 19, Some(20)), "{v:?}");
}

async fn voiceprint_enrolments_round_trip(url: String) {
    let store = open(&url).await;
    let e = NewVoiceprintEnrolment {
        id: "A-100",
        kind: "applicant",
        file_sha256: &sha256_hex("audio"),
        source_sha256: Some(&sha256_hex("name.wav")),
        created_at_ms: 1_000,
        created_by: "cli:root",
    };
    store.put_voiceprint_enrolment(&e).await.unwrap();
    let b = NewVoiceprintEnrolment { id: "fraud-7", kind: "blocked", source_sha256: None, ..e };
    store.put_voiceprint_enrolment(&b).await.unwrap();
    let list = store.list_voiceprint_enrolments().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0],
        VoiceprintEnrolmentRow {
            id: "A-100".into(),
            kind: "applicant".into(),
            file_sha256: sha256_hex("audio"),
            source_sha256: Some(sha256_hex("name.wav")),
            created_at_ms: 1_000,
            created_by: "cli:root".into(),
        }
    );
    assert_eq!((&list[1].id[..], &list[1].kind[..], &list[1].source_sha256), ("fraud-7", "blocked", &None));
    // Re-enrolling replaces.
    let again = NewVoiceprintEnrolment { file_sha256: &sha256_hex("audio-2"), created_at_ms: 2_000, ..e };
    store.put_voiceprint_enrolment(&again).await.unwrap();
    let list = store.list_voiceprint_enrolments().await.unwrap();
    assert_eq!((list.len(), &list[0].file_sha256, list[0].created_at_ms), (2, &sha256_hex("audio-2"), 2_000));
    for bad in [
        NewVoiceprintEnrolment { kind: "enrolled", ..e },
        NewVoiceprintEnrolment { file_sha256: "abc", ..e },
        NewVoiceprintEnrolment { source_sha256: Some("XYZ"), ..e },
        NewVoiceprintEnrolment { id: "", ..e },
        NewVoiceprintEnrolment { created_by: "", ..e },
    ] {
        assert!(matches!(store.put_voiceprint_enrolment(&bad).await, Err(StoreError::Invalid { .. })), "{bad:?}");
    }
    assert!(store.remove_voiceprint_enrolment("A-100").await.unwrap());
    assert!(!store.remove_voiceprint_enrolment("A-100").await.unwrap());
    assert_eq!(store.list_voiceprint_enrolments().await.unwrap().len(), 1);
}

async fn first_admin_is_bootstrapped_once(url: String) {
    let store = open(&url).await;
    let dir = common::temp_dir(&format!("bootstrap-{}", Dialect::of_url(&url).unwrap()));
    // A stale file from an earlier database is replaced, not appended to or followed.
    std::fs::write(dir.join(INITIAL_ADMIN_FILE), "old password\n").unwrap();
    let path = bootstrap_first_admin(&store, &dir, 5_000).await.unwrap().expect("created");
    assert_eq!(path, dir.join(INITIAL_ADMIN_FILE));
    let text = std::fs::read_to_string(&path).unwrap();
    let password = text.trim_end();
    assert_eq!(password.chars().count(), 24, "{text:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let admin = store.user_by_name("admin").await.unwrap().expect("admin");
    assert_eq!((&admin.role[..], &admin.display_name[..], admin.disabled), ("admin", "Administrator", false));
    assert!(facereview::auth::verify_password(password, &admin.password_hash), "the file holds the password");
    let log = store.audit_entries(None, None, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (&log[0].actor[..], &log[0].action[..], &log[0].detail["username"]),
        ("system", "user.add", &json!("admin"))
    );
    assert!(!log[0].detail.to_string().contains(password), "no password in the audit log");
    assert_eq!(audit_head::read_head(&dir), Some((1, log[0].hash.clone())));
    let names: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "no temporary files left: {names:?}");

    // With an account present: nothing happens.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(bootstrap_first_admin(&store, &dir, 6_000).await.unwrap(), None);
    assert!(!path.exists());
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn first_admin_bootstrap_races_create_one_admin(url: String) {
    let store = open(&url).await;
    let dir = common::temp_dir(&format!("bootstrap-race-{}", Dialect::of_url(&url).unwrap()));
    let (a, b, c) = tokio::join!(
        bootstrap_first_admin(&store, &dir, 1),
        bootstrap_first_admin(&store, &dir, 2),
        bootstrap_first_admin(&store, &dir, 3)
    );
    let created = [a.unwrap(), b.unwrap(), c.unwrap()].into_iter().flatten().count();
    assert_eq!(created, 1, "exactly one bootstrap creates the admin");
    assert_eq!(store.count_users().await.unwrap(), 1);
    let password = std::fs::read_to_string(dir.join(INITIAL_ADMIN_FILE)).unwrap();
    let admin = store.user_by_name("admin").await.unwrap().unwrap();
    assert!(facereview::auth::verify_password(password.trim_end(), &admin.password_hash));
    assert_eq!(store.audit_entries(None, None, 10).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// The two backends

/// Declares the behaviours: one `#[tokio::test]` each on SQLite, and `postgres_suite` running them all on PostgreSQL.
macro_rules! behaviours {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = super::common::temp_dir(concat!("store-", stringify!($name)));
                    super::$name(super::sqlite_url(&dir.join("facereview.db"))).await;
                }
            )*
        }

        /// All behaviours on a PostgreSQL server started for this test (each on its own database); the server is
        /// stopped when the test ends, failed or not.
        #[test]
        fn postgres_suite() {
            let Some(server) = pg::Server::start_unless_skipped() else { return };
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
            let mut failures = Vec::new();
            $(
                let name = stringify!($name);
                let url = rt.block_on(server.create_database(name));
                match rt.block_on(rt.spawn(with_timeout(name, $name(url)))) {
                    Ok(()) => eprintln!("postgres: {name} ... ok"),
                    Err(e) => {
                        let msg = pg::panic_text(e);
                        eprintln!("postgres: {name} ... FAILED: {msg}");
                        failures.push(format!("{name}: {msg}"));
                    }
                }
            )*
            drop(rt);
            drop(server);
            assert!(failures.is_empty(), "PostgreSQL behaviours failed:\n{}", failures.join("\n"));
        }
    };
}

async fn with_timeout(name: &str, f: impl Future<Output = ()>) {
    if tokio::time::timeout(std::time::Duration::from_secs(120), f).await.is_err() {
        panic!("{name} took over 120 s");
    }
}

behaviours!(
    opening_twice_keeps_schema_and_data,
    concurrent_first_opens_migrate_once,
    a_new_migration_applies_on_reopen,
    sessions_round_trip,
    claim_join_is_single_use,
    concurrent_claims_have_one_winner,
    state_changes_stamp_the_end_once,
    expire_stale_moves_only_overdue_waiting_sessions,
    events_keep_insertion_order,
    verdict_is_stored_in_one_transaction,
    list_and_count_filter_and_page,
    errors_do_not_leak_secrets,
    a_v1_database_migrates_to_v2,
    users_round_trip,
    failed_logins_lock_and_reset,
    logins_round_trip_and_expire,
    review_decisions_are_numbered_per_session,
    review_queue_filters_sorts_and_pages,
    audit_log_chains_and_detects_tampering,
    audit_log_concurrent_appends_form_one_chain,
    voiceprint_enrolments_round_trip,
    first_admin_is_bootstrapped_once,
    first_admin_bootstrap_races_create_one_admin,
);

// ---------------------------------------------------------------------------------------------------------------
// Backend-independent and SQLite-only

#[tokio::test]
async fn open_default_creates_the_data_dir_and_a_wal_database() {
    let dir = common::temp_dir("store-default").join("data dir #1 with ?odd% chars");
    let store = Store::open_default(&dir).await.expect("open_default");
    assert_eq!(store.dialect(), Dialect::Sqlite);
    store.create_session(&new_session("s_d", 0, 1)).await.unwrap();
    assert!(dir.join("facereview.db").is_file());
    assert!(dir.join("facereview.db-wal").is_file(), "journal_mode = WAL");
    store.close().await;
    let again = Store::open_default(&dir).await.unwrap();
    assert!(again.session("s_d").await.unwrap().is_some());
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_them() {
    let err = Store::open("mysql://root:hunter2@db/x").await.unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(matches!(Store::open("no url at all").await, Err(StoreError::UnsupportedUrl { .. })));
    let err = Store::open("postgres://fr:hunter2@127.0.0.1:notaport/x").await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { dialect: Dialect::Postgres, .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn urls_are_redacted_for_logs() {
    assert_eq!(redacted_url("postgres://fr:hunter2@db:5432/facereview"), "postgres://fr:***@db:5432/facereview");
    assert_eq!(redacted_url("postgresql://fr:p%40ss@db/x?sslmode=require"), "postgresql://fr:***@db/x?sslmode=require");
    assert_eq!(redacted_url("postgres://db/x?user=fr&password=hunter2"), "postgres://db/x?user=fr&password=***");
    assert_eq!(redacted_url("postgres://fr@db/x"), "postgres://fr@db/x");
    assert_eq!(redacted_url("sqlite:///data/facereview.db?mode=rwc"), "sqlite:///data/facereview.db?mode=rwc");
    assert_eq!(Dialect::of_url("PostgreSQL://x").unwrap(), Dialect::Postgres);
    assert_eq!(Dialect::of_url("sqlite:x.db").unwrap(), Dialect::Sqlite);
}

// ---------------------------------------------------------------------------------------------------------------

/// A throw-away PostgreSQL server: `initdb` into a temp dir and `pg_ctl start` on 127.0.0.1 at a free port, run as
/// an unprivileged user when the tests run as root (`runuser -u postgres`, else `nobody`). Stopped and removed on
/// drop. Binaries: `$FACEREVIEW_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`, else `pg_config --bindir`.
mod pg {
    use super::PG_PASSWORD;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    const USER: &str = "fr";

    pub struct Server {
        dir: PathBuf,
        bin: PathBuf,
        run_as: Option<String>,
        port: u16,
    }

    impl Server {
        /// `None` when `FACEREVIEW_SKIP_PG=1`; panics with the reason and the fix when the server cannot start.
        pub fn start_unless_skipped() -> Option<Server> {
            if std::env::var("FACEREVIEW_SKIP_PG").as_deref() == Ok("1") {
                eprintln!("postgres_suite skipped: FACEREVIEW_SKIP_PG=1");
                return None;
            }
            match Server::start() {
                Ok(s) => Some(s),
                Err(e) => panic!(
                    "cannot start a PostgreSQL server for the store tests: {e}\n\
                     Install it (Debian: apt-get install -y postgresql) or set FACEREVIEW_SKIP_PG=1 to skip them."
                ),
            }
        }

        fn start() -> Result<Server, String> {
            let bin = find_bin()?;
            let run_as = if is_root() {
                let user = ["postgres", "nobody"]
                    .into_iter()
                    .find(|u| Command::new("id").arg("-u").arg(u).output().is_ok_and(|o| o.status.success()))
                    .ok_or("running as root and neither user `postgres` nor `nobody` exists")?;
                Some(user.to_owned())
            } else {
                None
            };
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            let dir = std::env::temp_dir().join(format!("fr-pg-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let mut server = Server { dir, bin, run_as, port: 0 };
            std::fs::write(server.dir.join("pw"), PG_PASSWORD).map_err(|e| e.to_string())?;
            if let Some(user) = &server.run_as {
                check(Command::new("chown").arg("-R").arg(user).arg(&server.dir).output(), "chown")?;
            }
            let data = server.dir.join("data");
            let pwfile = server.dir.join("pw");
            let out = server
                .pg_cmd("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output();
            check(out, "initdb")?;
            let mut last = String::new();
            for _ in 0..5 {
                server.port = free_port()?;
                let opts = format!(
                    "-k {} -h 127.0.0.1 -p {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                     -c max_connections=300",
                    server.dir.display(),
                    server.port
                );
                let out = server
                    .pg_cmd("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(server.dir.join("log"))
                    .args(["-w", "-t", "60", "-o", &opts, "start"])
                    .output();
                match check(out, "pg_ctl start") {
                    Ok(()) => return Ok(server),
                    Err(e) => {
                        let log = std::fs::read_to_string(server.dir.join("log")).unwrap_or_default();
                        last = format!("{e}\nserver log:\n{log}");
                    }
                }
            }
            Err(last) // server dropped here: stops anything half-started and removes the dir
        }

        /// A fresh database named `name`; returns its URL (with the password).
        pub async fn create_database(&self, name: &str) -> String {
            use sqlx::{Connection, Executor};
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&self.url("postgres")).await.expect("connect as admin");
            admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
            admin.close().await.ok();
            self.url(name)
        }

        fn url(&self, db: &str) -> String {
            format!("postgres://{USER}:{PG_PASSWORD}@127.0.0.1:{}/{db}", self.port)
        }

        fn pg_cmd(&self, program: &str) -> Command {
            let exe = self.bin.join(program);
            let mut c = match &self.run_as {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(exe);
                    c
                }
                None => Command::new(exe),
            };
            c.current_dir(&self.dir).env("LC_ALL", "C");
            c
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let data = self.dir.join("data");
            if data.join("postmaster.pid").exists() {
                let _ = self
                    .pg_cmd("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                    .output();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn check(out: std::io::Result<Output>, what: &str) -> Result<(), String> {
        let out = out.map_err(|e| format!("{what}: cannot run: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn is_root() -> bool {
        Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    }

    fn free_port() -> Result<u16, String> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
        Ok(l.local_addr().map_err(|e| e.to_string())?.port())
    }

    fn find_bin() -> Result<PathBuf, String> {
        if let Some(dir) = std::env::var_os("FACEREVIEW_PG_BIN") {
            return Ok(PathBuf::from(dir));
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
        let out = Command::new("pg_config").arg("--bindir").output();
        match out {
            Ok(o) if o.status.success() => {
                let bin = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
                if Path::new(&bin).join("initdb").is_file() {
                    return Ok(bin);
                }
                Err(format!("pg_config --bindir gives {} but it has no initdb", bin.display()))
            }
            _ => Err("no PostgreSQL server binaries (initdb, pg_ctl) found under /usr/lib/postgresql".into()),
        }
    }

    pub fn panic_text(e: tokio::task::JoinError) -> String {
        match e.try_into_panic() {
            Ok(p) => p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into()),
            Err(e) => e.to_string(),
        }
    }
}
