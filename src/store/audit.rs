//! The audit log (schema v2, docs/console.md "Audit log"): append-only rows chained by sha256
//! (`crate::auth::chain`), appended under the chain lock, read newest first, and verified end to end.
//!
//! The database refuses `UPDATE` and `DELETE` on `audit_log` (triggers). What the chain cannot show by itself —
//! the newest rows deleted with the triggers dropped — the head file shows ([`super::audit_head`],
//! [`Store::verify_audit_with_head`]). What it may touch: the `audit_log` table, and the head file in
//! [`Store::append_audit_and_head`].

use super::error::db;
use super::model::{AuditRow, AuditVerification, NewAudit};
use super::{PG_AUDIT_LOCK_KEY, SessionQuery, Store, StoreError, audit_head, no_nul};
use crate::auth::chain::{GENESIS, canonical_json, entry_hash};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::path::Path;

const AUDIT_COLUMNS: &str = "seq, t_ms, actor, action, session_id, detail_json, prev_hash, hash";
/// Rows read per query while verifying.
const VERIFY_PAGE: i64 = 1000;

fn audit_row(r: &AnyRow) -> Result<AuditRow, StoreError> {
    let op = "read audit log";
    let seq: i64 = r.try_get("seq").map_err(db(op))?;
    let detail_json: String = r.try_get("detail_json").map_err(db(op))?;
    let detail = serde_json::from_str(&detail_json).map_err(|e| StoreError::Corrupt {
        what: "audit entry",
        problem: format!("entry {seq}: detail is not JSON ({e})"),
    })?;
    let row = || -> Result<AuditRow, sqlx::Error> {
        Ok(AuditRow {
            seq,
            t_ms: r.try_get("t_ms")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            session_id: r.try_get("session_id")?,
            detail,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    };
    row().map_err(db(op))
}

fn check_text(what: &'static str, s: &str, max_chars: usize) -> Result<(), StoreError> {
    if s.is_empty() || s.chars().count() > max_chars {
        return Err(StoreError::Invalid { what, problem: format!("must be 1..={max_chars} characters") });
    }
    no_nul(&[s])
}

/// How far verification got: the rows walked so far.
struct Walk {
    entries: i64,
    last: Option<(i64, String)>,
    bad: Option<(i64, String)>,
    /// The hash stored at the head file's `seq`, when the walk passed it.
    hash_at_head: Option<String>,
}

impl Store {
    /// Appends an entry and returns it. Holds the chain lock (PostgreSQL advisory lock, SQLite `BEGIN IMMEDIATE`)
    /// from reading the newest entry to the commit, so `seq` is the previous one + 1 and `prev_hash` its hash, also
    /// under concurrent appends. The detail is stored as canonical JSON. The head file is the caller's (see
    /// [`Store::append_audit_and_head`]).
    pub async fn append_audit(&self, e: &NewAudit<'_>) -> Result<AuditRow, StoreError> {
        check_text("audit actor", e.actor, 200)?;
        check_text("audit action", e.action, 64)?;
        if let Some(s) = e.session_id {
            check_text("audit session id", s, 200)?;
        }
        let detail_json = canonical_json(e.detail);
        let op = "append audit entry";
        let mut tx = self.locked_tx(op, PG_AUDIT_LOCK_KEY).await?;
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(op))?;
        let (seq, prev_hash) = match last {
            Some(r) => {
                let seq: i64 = r.try_get("seq").map_err(db(op))?;
                (seq + 1, r.try_get::<String, _>("hash").map_err(db(op))?)
            }
            None => (1, GENESIS.to_owned()),
        };
        let hash = entry_hash(&prev_hash, seq, e.t_ms, e.actor, e.action, e.session_id, e.detail);
        sqlx::query(
            "INSERT INTO audit_log (seq, t_ms, actor, action, session_id, detail_json, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(e.t_ms)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.session_id)
        .bind(&detail_json)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        tx.commit().await.map_err(db(op))?;
        Ok(AuditRow {
            seq,
            t_ms: e.t_ms,
            actor: e.actor.to_owned(),
            action: e.action.to_owned(),
            session_id: e.session_id.map(str::to_owned),
            detail: e.detail.clone(),
            prev_hash,
            hash,
        })
    }

    /// [`Store::append_audit`], then records the entry in `<data_dir>/audit-head` ([`audit_head::write_head`]).
    /// A failed head write is `StoreError::AuditHead` (the entry is in the log; the next append's head covers it).
    pub async fn append_audit_and_head(&self, e: &NewAudit<'_>, data_dir: &Path) -> Result<AuditRow, StoreError> {
        let row = self.append_audit(e).await?;
        let (dir, seq, hash) = (data_dir.to_path_buf(), row.seq, row.hash.clone());
        let written = tokio::task::spawn_blocking(move || audit_head::write_head(&dir, seq, &hash))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())));
        written.map_err(|error| StoreError::AuditHead { path: audit_head::head_path(data_dir), error })?;
        Ok(row)
    }

    /// Entries newest first: of one session when `session_id` is given, only those before `before_seq` when given
    /// (paging), at most `limit` (1 ..= 1000).
    pub async fn audit_entries(
        &self,
        session_id: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        if !(1..=SessionQuery::MAX_LIMIT).contains(&limit) {
            return Err(StoreError::Invalid {
                what: "audit query",
                problem: format!("limit must be 1..={}", SessionQuery::MAX_LIMIT),
            });
        }
        let mut conds = Vec::new();
        if session_id.is_some() {
            conds.push(format!("session_id = ${}", conds.len() + 1));
        }
        if before_seq.is_some() {
            conds.push(format!("seq < ${}", conds.len() + 1));
        }
        let filter = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log{filter} ORDER BY seq DESC LIMIT ${}", conds.len() + 1);
        let mut q = sqlx::query(&sql);
        if let Some(s) = session_id {
            q = q.bind(s);
        }
        if let Some(b) = before_seq {
            q = q.bind(b);
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await.map_err(db("read audit log"))?;
        rows.iter().map(audit_row).collect()
    }

    /// Recomputes the whole chain: `seq` 1, 2, 3 ... without gaps, each `prev_hash` the previous entry's hash (the
    /// first one's [`GENESIS`]), each hash the hash of its own content. Stops at the first bad entry. The head
    /// file is not consulted (see [`Store::verify_audit_with_head`]).
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let walk = self.walk_chain(None).await?;
        Ok(verification(walk))
    }

    /// [`Store::verify_audit`], then compares the head file's record (`head`, from [`audit_head::read_head`]): an
    /// entry at or below the log's newest must have the recorded hash, and a head beyond the newest entry means
    /// the entries after it were deleted. No head file while the log has entries is a failure too (the newest
    /// entries could be gone). A head behind the log is fine (an append whose head write has not landed yet).
    pub async fn verify_audit_with_head(&self, head: Option<(i64, String)>) -> Result<AuditVerification, StoreError> {
        let walk = self.walk_chain(head.as_ref().map(|(s, _)| *s)).await?;
        if walk.bad.is_some() {
            return Ok(verification(walk));
        }
        let last_seq = walk.last.as_ref().map_or(0, |(s, _)| *s);
        let problem = match &head {
            None if walk.entries > 0 => Some((
                None,
                "there is no audit head file (audit-head in the data folder): cannot check that the newest entries \
                 are all there"
                    .to_owned(),
            )),
            None => None,
            Some((seq, _)) if *seq > last_seq => Some((
                Some(last_seq + 1),
                format!(
                    "entries {}..={seq} are missing: the head file records entry {seq} but the log ends at {}",
                    last_seq + 1,
                    if last_seq == 0 { "nothing".to_owned() } else { format!("entry {last_seq}") }
                ),
            )),
            Some((seq, hash)) if walk.hash_at_head.as_deref() != Some(hash.as_str()) => Some((
                Some(*seq),
                format!("entry {seq}'s hash differs from the one the head file records (the log was rewritten)"),
            )),
            Some(_) => None,
        };
        let mut v = verification(walk);
        if let Some((bad, problem)) = problem {
            v.ok = false;
            v.first_bad_seq = bad;
            v.problem = Some(problem);
        }
        Ok(v)
    }

    /// Walks the chain in pages, stopping at the first bad entry; remembers the hash at `head_seq`.
    async fn walk_chain(&self, head_seq: Option<i64>) -> Result<Walk, StoreError> {
        let op = "verify audit log";
        let count = sqlx::query("SELECT COUNT(*) AS n FROM audit_log").fetch_one(&self.pool).await.map_err(db(op))?;
        let mut walk = Walk { entries: count.try_get("n").map_err(db(op))?, last: None, bad: None, hash_at_head: None };
        let mut expected = 1i64;
        let mut prev = GENESIS.to_owned();
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        loop {
            let rows =
                sqlx::query(&sql).bind(expected - 1).bind(VERIFY_PAGE).fetch_all(&self.pool).await.map_err(db(op))?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let seq: i64 = r.try_get("seq").map_err(db(op))?;
                let hash: String = r.try_get("hash").map_err(db(op))?;
                if let Some(problem) = check_entry(r, expected, &prev, seq, &hash)? {
                    walk.bad = Some((expected.min(seq), problem));
                    return Ok(walk);
                }
                if head_seq == Some(seq) {
                    walk.hash_at_head = Some(hash.clone());
                }
                walk.last = Some((seq, hash.clone()));
                prev = hash;
                expected += 1;
            }
        }
        Ok(walk)
    }
}

/// What is wrong with the row `r` (at `seq`, stored hash `hash`) when `expected` and `prev` were due.
fn check_entry(r: &AnyRow, expected: i64, prev: &str, seq: i64, hash: &str) -> Result<Option<String>, StoreError> {
    let op = "verify audit log";
    if seq != expected {
        return Ok(Some(format!("entry {expected} is missing (the next entry is {seq})")));
    }
    let prev_hash: String = r.try_get("prev_hash").map_err(db(op))?;
    if prev_hash != prev {
        return Ok(Some(if seq == 1 {
            format!("entry {seq}'s prev_hash is not the genesis hash")
        } else {
            format!("entry {seq}'s prev_hash does not match entry {}'s hash (one of them was changed)", seq - 1)
        }));
    }
    let detail_json: String = r.try_get("detail_json").map_err(db(op))?;
    let Ok(detail) = serde_json::from_str::<serde_json::Value>(&detail_json) else {
        return Ok(Some(format!("entry {seq}'s detail is not JSON (the entry was changed)")));
    };
    let t_ms: i64 = r.try_get("t_ms").map_err(db(op))?;
    let actor: String = r.try_get("actor").map_err(db(op))?;
    let action: String = r.try_get("action").map_err(db(op))?;
    let session_id: Option<String> = r.try_get("session_id").map_err(db(op))?;
    let recomputed = entry_hash(prev, seq, t_ms, &actor, &action, session_id.as_deref(), &detail);
    if recomputed != hash {
        return Ok(Some(format!("entry {seq}'s hash does not match its content (the entry was changed)")));
    }
    Ok(None)
}

fn verification(walk: Walk) -> AuditVerification {
    let (first_bad_seq, problem) = match walk.bad {
        Some((seq, p)) => (Some(seq), Some(p)),
        None => (None, None),
    };
    AuditVerification { ok: problem.is_none(), entries: walk.entries, first_bad_seq, problem, head: walk.last }
}
