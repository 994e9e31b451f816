//! The store on both backends: each behaviour is one async function taking a database URL, run once on a fresh
//! SQLite file (`sqlite::<behaviour>`) and once on a fresh database of a PostgreSQL server this test starts on
//! loopback (`postgres_suite`, see `pg` below). Without PostgreSQL installed the PostgreSQL suite fails and says why,
//! unless `FACEREVIEW_SKIP_PG=1`.

mod common;

use facereview::store::{
    Dialect, EvidenceRow, MIGRATIONS, Migration, MigrationSql, NewSession, SessionQuery, SessionState, Store,
    StoreError, redacted_url, sqlite_url,
};
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

    // An older build (knowing only v1) refuses the newer database.
    let err = Store::open(&url).await.expect_err("older build on newer database");
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("newer database"), "{err}");

    // A shipped migration renamed: refused.
    let mut renamed = v2.clone();
    renamed[1].name = "something_else";
    let err = Store::open_with_migrations(&url, &renamed).await.expect_err("renamed migration");
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");

    // Versions with a gap: refused before touching the database.
    let mut gap = v2.clone();
    gap[1].version = 5;
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
    assert!(matches!(err, StoreError::Migration { version: 3, name: "broken", .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains("CREATE") && !text.contains("nonsense"), "no SQL in the message: {text}");
    let store = Store::open_with_migrations(&url, &v2).await.expect("still at v2");
    assert_eq!(store.schema_version().await.unwrap(), 2);
    store.close().await;
    // half_done was rolled back: applying a fixed v3 that creates it again succeeds.
    let mut fixed = v2.clone();
    fixed.push(Migration {
        version: 3,
        name: "broken",
        sql: MigrationSql::Portable("CREATE TABLE half_done (id TEXT)"),
    });
    let store = Store::open_with_migrations(&url, &fixed).await.expect("fixed v3 applies after the rollback");
    assert_eq!(store.schema_version().await.unwrap(), 3);
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
