//! The persistent store: live sessions, their append-only event log, verdicts and per-item evidence, behind one
//! async API for SQLite (default, embedded: `<data>/facereview.db`) and PostgreSQL (a `postgres://` URL).
//!
//! One code path for both: sqlx's `Any` driver with `$1`-style placeholders (sqlx-sqlite binds `$N` by number) and
//! only the types both sides share (`TEXT`, `BIGINT`, a float; JSON is stored as text; times are Unix ms). Where the
//! dialects differ (auto-increment ids, float and byte types) the [`migrate`] list says so. SQLite connections run
//! in WAL mode with foreign keys on and a busy timeout, so the server's tasks can write concurrently.
//!
//! What it may touch: the database named by its URL (and, for [`Store::open_default`], the data directory it
//! creates). No HTTP, media or wall-clock policy here: callers pass `now_ms`. Errors ([`StoreError`]) never show
//! SQL or a connection URL; use [`redacted_url`] to log which database is open.
//!
//! Guarantees the server relies on:
//! - [`Store::claim_join`] is atomic: of any number of concurrent claims for a session, at most one wins.
//! - [`Store::put_verdict`] writes the decision, verdict and all evidence in one transaction.
//! - [`Store::expire_stale`] moves only sessions still `waiting` past their `expires_at_ms`.
//!
//! Schema v2 (docs/console.md) adds the reviewer console's tables, each with its own file: console accounts and
//! logins (`users`, with [`bootstrap_first_admin`]), reviewer decisions, assignments and the queue (`review`),
//! voiceprint enrolment records (`enrolments`), and the append-only, hash-chained audit log (`audit`, and
//! [`audit_head`] for the head file in the data directory):
//! - [`Store::append_audit`] holds the chain lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
//!   `BEGIN IMMEDIATE` write lock) while it reads the newest entry and inserts the next, so concurrent appends
//!   from any number of tasks or processes form one chain with `seq` 1, 2, 3 ... without gaps.
//! - [`Store::add_review_decision`] numbers a session's decisions and sets its review status in one transaction.

mod audit;
pub mod audit_head;
mod enrolments;
mod error;
pub mod migrate;
mod model;
mod review;
#[cfg(test)]
pub(crate) use review::verdict_queue_fields;
mod users;

pub use error::StoreError;
pub use migrate::{MIGRATIONS, Migration, MigrationSql};
pub use model::{
    AssigneeFilter, AuditRow, AuditVerification, DECISIONS, EventRow, EvidenceRow, LoginRow, NewAudit, NewLogin,
    NewReviewDecision, NewSession, NewUser, NewVoiceprintEnrolment, QueueQuery, QueueRow, QueueSort, QueueStatus,
    REVIEW_ACTIONS, ReviewDecisionRow, SessionQuery, SessionRow, SessionState, UserRow, UserUpdate, VOICEPRINT_KINDS,
    VoiceprintEnrolmentRow,
};
pub use users::{BootstrapError, INITIAL_ADMIN_FILE, INITIAL_ADMIN_USERNAME, bootstrap_first_admin};

use error::{db, is_foreign_key_violation, is_unique_violation, kind_of};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        })
    }
}

impl Dialect {
    /// The dialect a URL names, from its scheme.
    pub fn of_url(url: &str) -> Result<Dialect, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        match scheme.as_str() {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            _ => Err(StoreError::UnsupportedUrl { scheme: scheme.chars().take(32).collect() }),
        }
    }
}

/// Per-connection SQLite settings: foreign keys on, and a writer waits up to 5 s for the lock before failing with
/// "database busy".
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The database handle. Cheap to clone (it wraps the connection pool); share it between tasks.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

const SESSION_COLUMNS: &str = "id, applicant_ref, state, created_at_ms, expires_at_ms, joined_at_ms, ended_at_ms, \
    end_reason, token_sha256, resume_key_sha256, request_json, decision, verdict_json, decided_at_ms, recording_dir, \
    quality_json, updated_at_ms";

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://user:pass@host:port/db`) and migrates it to the
    /// latest schema.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with_migrations(url, MIGRATIONS).await
    }

    /// The SQLite database `<data_dir>/facereview.db`, creating the directory and the file when missing.
    pub async fn open_default(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|error| StoreError::DataDir { path: data_dir.to_path_buf(), error })?;
        Store::open(&sqlite_url(&data_dir.join("facereview.db"))).await
    }

    /// As [`Store::open`], with a migration list of the caller's (tests of the runner; the list must extend
    /// [`MIGRATIONS`] to keep the real schema).
    pub async fn open_with_migrations(url: &str, migrations: &[Migration]) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let connect_err = |source: sqlx::Error| StoreError::Connect { dialect, reason: kind_of(&source), source };
        let options = AnyConnectOptions::from_str(url).map_err(connect_err)?;
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        pool_options = match dialect {
            Dialect::Sqlite => pool_options.max_connections(8).after_connect(|conn, _meta| {
                Box::pin(async move {
                    // foreign_keys and busy_timeout are per connection; journal_mode = WAL sticks to the file.
                    conn.execute(SQLITE_PRAGMAS).await.map(|_| ())
                })
            }),
            Dialect::Postgres => pool_options.max_connections(16),
        };
        let pool = pool_options.connect_with(options).await.map_err(connect_err)?;
        if dialect == Dialect::Sqlite {
            // Once per file, before anything else writes; it needs an exclusive lock the busy timeout cannot wait on,
            // so it is not in after_connect.
            pool.execute("PRAGMA journal_mode = WAL").await.map_err(connect_err)?;
        }
        migrate::run(&pool, dialect, migrations).await?;
        Ok(Store { pool, dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The highest applied schema version (0 for none).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(db("schema version"))?;
        row.try_get("v").map_err(db("schema version"))
    }

    /// Inserts a `waiting` session. `Conflict` when the id or token hash is taken.
    pub async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        no_nul(&[&s.id, &s.applicant_ref, &s.token_sha256, &s.request_json])?;
        sqlx::query(
            "INSERT INTO sessions (id, applicant_ref, state, created_at_ms, expires_at_ms, token_sha256, \
             request_json, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $4)",
        )
        .bind(&s.id)
        .bind(&s.applicant_ref)
        .bind(SessionState::Waiting.as_str())
        .bind(s.created_at_ms)
        .bind(s.expires_at_ms)
        .bind(&s.token_sha256)
        .bind(&s.request_json)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict { what: "session id or join token" }
            } else {
                db("create session")(e)
            }
        })?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(db("read session"))?;
        row.as_ref().map(session_row).transpose()
    }

    /// The session whose join token hashes to `token_sha256`.
    pub async fn session_by_token(&self, token_sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_sha256 = $1");
        let row = sqlx::query(&sql).bind(token_sha256).fetch_optional(&self.pool).await.map_err(db("read session"))?;
        row.as_ref().map(session_row).transpose()
    }

    /// The single-use join: records the first device's resume key hash and `joined_at_ms`, only if no device has
    /// joined yet, the session is `waiting` and `now_ms` is before `expires_at_ms`. Atomic (one conditional
    /// `UPDATE`): `true` for the one claim that won, `false` otherwise (also for an unknown id).
    pub async fn claim_join(&self, id: &str, resume_key_sha256: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET resume_key_sha256 = $2, joined_at_ms = $3, updated_at_ms = $3 \
             WHERE id = $1 AND resume_key_sha256 IS NULL AND state = 'waiting' AND expires_at_ms > $3",
        )
        .bind(id)
        .bind(resume_key_sha256)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(db("claim join"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a session to `state`. Entering analysing, verdict, expired or failed stamps `ended_at_ms` (first time
    /// only); `end_reason`, when given, replaces the stored one. Transitions are the caller's policy.
    pub async fn set_state(
        &self,
        id: &str,
        state: SessionState,
        now_ms: i64,
        end_reason: Option<&str>,
    ) -> Result<(), StoreError> {
        no_nul(&[end_reason.unwrap_or_default()])?;
        let sql = if state.ends_call() {
            "UPDATE sessions SET state = $2, updated_at_ms = $3, ended_at_ms = COALESCE(ended_at_ms, $3), \
             end_reason = COALESCE($4, end_reason) WHERE id = $1"
        } else {
            "UPDATE sessions SET state = $2, updated_at_ms = $3, end_reason = COALESCE($4, end_reason) WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(id)
            .bind(state.as_str())
            .bind(now_ms)
            .bind(end_reason)
            .execute(&self.pool)
            .await
            .map_err(db("set session state"))?;
        found(done.rows_affected())
    }

    /// Where the session's recording lives (`<data>/sessions/<id>`).
    pub async fn set_recording_dir(&self, id: &str, dir: &str) -> Result<(), StoreError> {
        no_nul(&[dir])?;
        let done = sqlx::query("UPDATE sessions SET recording_dir = $2 WHERE id = $1")
            .bind(id)
            .bind(dir)
            .execute(&self.pool)
            .await
            .map_err(db("set recording dir"))?;
        found(done.rows_affected())
    }

    /// The call-quality summary (bitrate, losses, resolution ...) as JSON.
    pub async fn set_quality(&self, id: &str, quality_json: &str) -> Result<(), StoreError> {
        no_nul(&[quality_json])?;
        let done = sqlx::query("UPDATE sessions SET quality_json = $2 WHERE id = $1")
            .bind(id)
            .bind(quality_json)
            .execute(&self.pool)
            .await
            .map_err(db("set quality"))?;
        found(done.rows_affected())
    }

    /// Stores the verdict in one transaction: decision, verdict JSON, state `verdict`, `ended_at_ms` if not set,
    /// and the evidence rows (replacing any stored before, so a re-run of the analysis is idempotent). For the
    /// review queue it also stores the verdict's `risk_score` and the codes of its reasons whose `decision` is not
    /// `pass` (space-separated, in order), read from `verdict_json` (both empty when it is not a verdict object).
    pub async fn put_verdict(
        &self,
        id: &str,
        decision: &str,
        verdict_json: &str,
        evidence: &[EvidenceRow],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        model::check_decision(decision)?;
        no_nul(&[verdict_json])?;
        for e in evidence {
            no_nul(&[&e.check, &e.signal, &e.state, e.finding.as_deref().unwrap_or_default(), &e.data_json])?;
        }
        let (risk_score, reason_codes) = review::verdict_queue_fields(verdict_json);
        let op = "store verdict";
        let mut tx = self.pool.begin().await.map_err(db(op))?;
        // The write comes first, so SQLite takes the write lock at once (no read-then-upgrade "busy" race).
        let done = sqlx::query(
            "UPDATE sessions SET decision = $2, verdict_json = $3, decided_at_ms = $4, state = 'verdict', \
             ended_at_ms = COALESCE(ended_at_ms, $4), updated_at_ms = $4, risk_score = $5, reason_codes = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(decision)
        .bind(verdict_json)
        .bind(now_ms)
        .bind(risk_score)
        .bind(reason_codes)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        found(done.rows_affected())?;
        sqlx::query("DELETE FROM evidence WHERE session_id = $1").bind(id).execute(&mut *tx).await.map_err(db(op))?;
        for (seq, e) in evidence.iter().enumerate() {
            sqlx::query(
                "INSERT INTO evidence (session_id, seq, check_kind, signal, state, finding, score, data_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(seq as i64)
            .bind(&e.check)
            .bind(&e.signal)
            .bind(&e.state)
            .bind(e.finding.as_deref())
            .bind(e.score)
            .bind(&e.data_json)
            .execute(&mut *tx)
            .await
            .map_err(db(op))?;
        }
        tx.commit().await.map_err(db(op))
    }

    /// The verdict's evidence, in the order it was stored.
    pub async fn evidence(&self, id: &str) -> Result<Vec<EvidenceRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT check_kind, signal, state, finding, score, data_json FROM evidence WHERE session_id = $1 \
             ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("read evidence"))?;
        rows.iter()
            .map(|r| {
                Ok(EvidenceRow {
                    check: r.try_get("check_kind")?,
                    signal: r.try_get("signal")?,
                    state: r.try_get("state")?,
                    finding: r.try_get("finding")?,
                    score: r.try_get("score")?,
                    data_json: r.try_get("data_json")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("read evidence"))
    }

    /// Appends to the session's event log; returns the event id (increasing in insertion order). `NotFound` for
    /// an unknown session.
    pub async fn append_event(
        &self,
        id: &str,
        t_ms: i64,
        media_ns: Option<i64>,
        kind: &str,
        data_json: &str,
    ) -> Result<i64, StoreError> {
        no_nul(&[kind, data_json])?;
        let row = sqlx::query(
            "INSERT INTO session_events (session_id, t_ms, media_ns, kind, data_json) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(id)
        .bind(t_ms)
        .bind(media_ns)
        .bind(kind)
        .bind(data_json)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) { StoreError::NotFound { what: "session" } } else { db("append event")(e) }
        })?;
        row.try_get("id").map_err(db("append event"))
    }

    /// The session's event log in insertion order.
    pub async fn events(&self, id: &str) -> Result<Vec<EventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, session_id, t_ms, media_ns, kind, data_json FROM session_events WHERE session_id = $1 \
             ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("read events"))?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    session_id: r.try_get("session_id")?,
                    t_ms: r.try_get("t_ms")?,
                    media_ns: r.try_get("media_ns")?,
                    kind: r.try_get("kind")?,
                    data_json: r.try_get("data_json")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("read events"))
    }

    /// Sessions matching `q`, newest first (ties by id, descending), `q.limit` from `q.offset`.
    pub async fn list_sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRow>, StoreError> {
        if !(1..=SessionQuery::MAX_LIMIT).contains(&q.limit) || q.offset < 0 {
            return Err(StoreError::Invalid {
                what: "session query",
                problem: format!("limit must be 1..={} and offset ≥ 0", SessionQuery::MAX_LIMIT),
            });
        }
        let (filter, n) = query_filter(q)?;
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions{filter} ORDER BY created_at_ms DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_filter(sqlx::query(&sql), q)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list sessions"))?;
        rows.iter().map(session_row).collect()
    }

    /// How many sessions match `q`'s filters (its limit and offset are ignored).
    pub async fn count_sessions(&self, q: &SessionQuery) -> Result<i64, StoreError> {
        let (filter, _) = query_filter(q)?;
        let sql = format!("SELECT COUNT(*) AS n FROM sessions{filter}");
        let row = bind_filter(sqlx::query(&sql), q).fetch_one(&self.pool).await.map_err(db("count sessions"))?;
        row.try_get("n").map_err(db("count sessions"))
    }

    /// Marks every session still `waiting` with `expires_at_ms <= now_ms` as `expired` (`ended_at_ms = now_ms`,
    /// `end_reason = "expired"`) and returns their ids, sorted. A device that consented but never went live expires
    /// too: the join link's lifetime runs until media arrives.
    pub async fn expire_stale(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "UPDATE sessions SET state = 'expired', ended_at_ms = COALESCE(ended_at_ms, $1), \
             end_reason = COALESCE(end_reason, 'expired'), updated_at_ms = $1 \
             WHERE state = 'waiting' AND expires_at_ms <= $1 RETURNING id",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(db("expire sessions"))?;
        let mut ids =
            rows.iter().map(|r| r.try_get("id")).collect::<Result<Vec<String>, _>>().map_err(db("expire sessions"))?;
        ids.sort();
        Ok(ids)
    }
}

/// Key of the PostgreSQL advisory lock that serialises audit appends ("fraudit" in ASCII).
pub(crate) const PG_AUDIT_LOCK_KEY: i64 = 0x0066_7261_7564_6974;
/// Key of the PostgreSQL advisory lock that serialises account changes ("frusers" in ASCII).
pub(crate) const PG_USERS_LOCK_KEY: i64 = 0x0066_7275_7365_7273;

impl Store {
    /// A transaction that holds the write lock from its start: SQLite `BEGIN IMMEDIATE` (the database's single
    /// writer lock), PostgreSQL a transaction-scoped advisory lock on `pg_lock_key` (other writers of the same key
    /// wait; everything else runs on).
    pub(crate) async fn locked_tx(
        &self,
        op: &'static str,
        pg_lock_key: i64,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db(op)),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await.map_err(db(op))?;
                sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                    .bind(pg_lock_key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(op))?;
                Ok(tx)
            }
        }
    }
}

/// `n_bytes` random bytes as lowercase hex (ids).
pub(crate) fn random_hex(n_bytes: usize) -> Result<String, StoreError> {
    let mut b = vec![0u8; n_bytes];
    getrandom::fill(&mut b).map_err(|_| StoreError::Random)?;
    Ok(crate::auth::hex_string(&b))
}

fn found(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 { Err(StoreError::NotFound { what: "session" }) } else { Ok(()) }
}

/// PostgreSQL refuses NUL characters in text and SQLite keeps them: refuse them on both, as bad input.
fn no_nul(texts: &[&str]) -> Result<(), StoreError> {
    if texts.iter().any(|t| t.contains('\0')) {
        Err(StoreError::Invalid { what: "text", problem: "contains a NUL character".into() })
    } else {
        Ok(())
    }
}

/// ` WHERE ...` for `q`'s filters (empty when none) and the number of placeholders it uses.
fn query_filter(q: &SessionQuery) -> Result<(String, usize), StoreError> {
    if let Some(d) = &q.decision {
        model::check_decision(d)?;
    }
    let mut conds = Vec::new();
    let mut n = 0;
    let mut cond = |c: &str| {
        n += 1;
        conds.push(format!("{c} ${n}"));
    };
    if q.state.is_some() {
        cond("state =");
    }
    if q.decision.is_some() {
        cond("decision =");
    }
    if q.applicant_ref.is_some() {
        cond("applicant_ref =");
    }
    if q.created_from_ms.is_some() {
        cond("created_at_ms >=");
    }
    if q.created_before_ms.is_some() {
        cond("created_at_ms <");
    }
    let filter = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    Ok((filter, n))
}

/// Binds `q`'s filter values in `query_filter`'s order.
fn bind_filter<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    q: &'q SessionQuery,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    if let Some(s) = q.state {
        query = query.bind(s.as_str());
    }
    if let Some(d) = &q.decision {
        query = query.bind(d.as_str());
    }
    if let Some(a) = &q.applicant_ref {
        query = query.bind(a.as_str());
    }
    if let Some(t) = q.created_from_ms {
        query = query.bind(t);
    }
    if let Some(t) = q.created_before_ms {
        query = query.bind(t);
    }
    query
}

fn session_row(r: &AnyRow) -> Result<SessionRow, StoreError> {
    let op = "read session";
    let state: String = r.try_get("state").map_err(db(op))?;
    let state = SessionState::from_str(&state)
        .map_err(|_| StoreError::Corrupt { what: "session state", problem: format!("unknown state {state:?}") })?;
    let row = || -> Result<SessionRow, sqlx::Error> {
        Ok(SessionRow {
            id: r.try_get("id")?,
            applicant_ref: r.try_get("applicant_ref")?,
            state,
            created_at_ms: r.try_get("created_at_ms")?,
            expires_at_ms: r.try_get("expires_at_ms")?,
            joined_at_ms: r.try_get("joined_at_ms")?,
            ended_at_ms: r.try_get("ended_at_ms")?,
            end_reason: r.try_get("end_reason")?,
            token_sha256: r.try_get("token_sha256")?,
            resume_key_sha256: r.try_get("resume_key_sha256")?,
            request_json: r.try_get("request_json")?,
            decision: r.try_get("decision")?,
            verdict_json: r.try_get("verdict_json")?,
            decided_at_ms: r.try_get("decided_at_ms")?,
            recording_dir: r.try_get("recording_dir")?,
            quality_json: r.try_get("quality_json")?,
            updated_at_ms: r.try_get("updated_at_ms")?,
        })
    };
    row().map_err(db(op))
}

/// The `sqlite:` URL of a database file (read-write, created when missing), percent-encoding what the URL syntax
/// would misread (`%`, `?`, `#`, spaces ...).
pub fn sqlite_url(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?mode=rwc");
    out
}

/// `url` with any password (in the user info or a `password=` parameter) replaced by `***`, for logs:
/// `postgres://fr:***@127.0.0.1:5432/facereview`.
pub fn redacted_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rfind('@').map(|at| authority.split_at(at)) {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***{host}{tail}"),
                    None => base.to_owned(),
                },
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Unix milliseconds now (the migration runner's `applied_at_ms`; store operations take `now_ms` from the caller).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Compile-time check: every operation's future is `Send`, so the server may `tokio::spawn` it. (sqlx's `raw_sql` and
/// transactions borrowed from a caller's connection break this through a higher-ranked lifetime; keep them out.)
#[cfg(test)]
#[allow(dead_code, clippy::diverging_sub_expression)]
fn futures_are_send(s: Store, pool: &'static AnyPool, new: &'static NewSession, q: &'static SessionQuery) {
    fn send<T: Send>(_: T) {}
    send(Store::open("x"));
    send(Store::open_default(Path::new("x")));
    send(migrate::run(pool, Dialect::Sqlite, MIGRATIONS));
    send(s.schema_version());
    send(s.create_session(new));
    send(s.session("x"));
    send(s.session_by_token("x"));
    send(s.claim_join("x", "y", 0));
    send(s.set_state("x", SessionState::Live, 0, None));
    send(s.set_recording_dir("x", "d"));
    send(s.set_quality("x", "{}"));
    send(s.put_verdict("x", "pass", "{}", &[], 0));
    send(s.evidence("x"));
    send(s.append_event("x", 0, None, "k", "{}"));
    send(s.events("x"));
    send(s.list_sessions(q));
    send(s.count_sessions(q));
    send(s.expire_stale(0));
    send(s.close());
    send(v2_futures_are_send(s));
}

/// Schema v2's operations, in one future (each awaited once), for the `Send` check above.
#[cfg(test)]
#[allow(dead_code)]
async fn v2_futures_are_send(s: Store) {
    let detail = serde_json::Value::Null;
    let policy = crate::auth::LoginPolicy::default();
    let user = NewUser { username: "a", display_name: "A", role: "admin", password_hash: "$argon2id$x" };
    let _ = s.create_user(&user, 0).await;
    let _ = s.user_by_name("a").await;
    let _ = s.user_by_id("a").await;
    let _ = s.list_users().await;
    let _ = s.count_users().await;
    let _ = s.update_user("a", &UserUpdate::default(), 0).await;
    let _ = s.login_failed("a", 0, &policy).await;
    let _ = s.login_succeeded("a").await;
    let login = NewLogin { token_sha256: "t", user_id: "u", csrf_token: "c", created_at_ms: 0, expires_at_ms: 1 };
    let _ = s.create_login(&login).await;
    let _ = s.login_by_token("t").await;
    let _ = s.touch_login("t", 0).await;
    let _ = s.delete_login("t").await;
    let _ = s.delete_expired_logins(0, 0).await;
    let d = NewReviewDecision { session_id: "s", user_id: "u", action: "approve", reason: "r", created_at_ms: 0 };
    let _ = s.add_review_decision(&d).await;
    let _ = s.review_decisions("s").await;
    let _ = s.set_assignee("s", None, 0).await;
    let _ = s.queue_row("s").await;
    let _ = s.review_queue(&QueueQuery::default()).await;
    let e = NewAudit { t_ms: 0, actor: "a", action: "b", session_id: None, detail: &detail };
    let _ = s.append_audit(&e).await;
    let _ = s.append_audit_and_head(&e, Path::new("x")).await;
    let _ = s.audit_entries(None, None, 1).await;
    let _ = s.verify_audit().await;
    let _ = s.verify_audit_with_head(None).await;
    let v = NewVoiceprintEnrolment {
        id: "v",
        kind: "applicant",
        file_sha256: "f",
        source_sha256: None,
        created_at_ms: 0,
        created_by: "c",
    };
    let _ = s.put_voiceprint_enrolment(&v).await;
    let _ = s.remove_voiceprint_enrolment("v").await;
    let _ = s.list_voiceprint_enrolments().await;
    let _ = bootstrap_first_admin(&s, Path::new("x"), 0).await;
}
