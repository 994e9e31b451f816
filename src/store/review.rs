//! Reviewer work on sessions (schema v2): decisions (numbered per session, one transaction with the session's
//! review status), assignments, and the review queue's filtered, sorted page. Also the queue columns `put_verdict`
//! derives from a verdict (risk score, non-pass reason codes).
//!
//! Who may decide or assign is the console's policy; the store checks only that the action is known and the
//! session and user exist. What it may touch: `review_decisions`, and the review columns of `sessions`.

use super::error::{db, is_foreign_key_violation};
use super::model::{
    self, AssigneeFilter, NewReviewDecision, QueueQuery, QueueRow, QueueSort, QueueStatus, REVIEW_ACTIONS,
    ReviewDecisionRow,
};
use super::{SESSION_COLUMNS, SessionQuery, Store, StoreError, no_nul, session_row};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Longest decision reason stored, in characters (the console asks for 10–2000 after trimming).
pub const MAX_REASON_CHARS: usize = 4000;

/// The verdict's `risk_score` and the space-separated codes of its reasons whose `decision` is not `pass` (in
/// order; codes that are empty or contain whitespace are skipped). `(None, None)` for text that is not a JSON
/// object.
pub(crate) fn verdict_queue_fields(verdict_json: &str) -> (Option<f64>, Option<String>) {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(verdict_json) else {
        return (None, None);
    };
    let risk = v.get("risk_score").and_then(|r| r.as_f64()).filter(|r| r.is_finite());
    let codes: Vec<&str> = v
        .get("reasons")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter(|r| r.get("decision").and_then(|d| d.as_str()) != Some("pass"))
        .filter_map(|r| r.get("code").and_then(|c| c.as_str()))
        .filter(|c| !c.is_empty() && !c.contains(char::is_whitespace) && !c.contains('\0'))
        .collect();
    (risk, (!codes.is_empty()).then(|| codes.join(" ")))
}

fn prefixed(columns: &str, alias: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

fn queue_row(r: &AnyRow) -> Result<QueueRow, StoreError> {
    let session = session_row(r)?;
    let row = || -> Result<QueueRow, sqlx::Error> {
        Ok(QueueRow {
            session,
            review_status: r.try_get("review_status")?,
            assignee_user_id: r.try_get("assignee_user_id")?,
            assignee_username: r.try_get("assignee_username")?,
            reason_codes: r.try_get("reason_codes")?,
            risk_score: r.try_get("risk_score")?,
            reviewed_at_ms: r.try_get("reviewed_at_ms")?,
        })
    };
    row().map_err(db("read review queue"))
}

/// `LIKE` pattern matching `prefix` at the start of any space-separated code, with `%`, `_` and `\` escaped.
fn reason_pattern(prefix: &str) -> String {
    let mut p = String::from("% ");
    for c in prefix.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Records a reviewer decision in one transaction: the next `seq` for the session (1, 2, 3 ...), and the
    /// session's `review_status` (`approved` | `rejected` | `escalated`) and `reviewed_at_ms`. `Invalid` for an
    /// unknown action or an empty reason; `NotFound` for an unknown session or user.
    pub async fn add_review_decision(&self, d: &NewReviewDecision<'_>) -> Result<ReviewDecisionRow, StoreError> {
        let Some((_, status)) = REVIEW_ACTIONS.iter().find(|(a, _)| *a == d.action) else {
            return Err(StoreError::Invalid {
                what: "review action",
                problem: format!(
                    "{:?} is not approve, reject or escalate",
                    d.action.chars().take(32).collect::<String>()
                ),
            });
        };
        if d.reason.trim().is_empty() || d.reason.chars().count() > MAX_REASON_CHARS {
            return Err(StoreError::Invalid {
                what: "decision reason",
                problem: format!("must be 1..={MAX_REASON_CHARS} characters"),
            });
        }
        no_nul(&[d.reason, d.user_id])?;
        let op = "record review decision";
        let mut tx = self.pool.begin().await.map_err(db(op))?;
        // The session row is written first: SQLite takes the write lock at once, PostgreSQL locks the row, so
        // concurrent decisions on one session are numbered one after the other.
        let done = sqlx::query(
            "UPDATE sessions SET review_status = $2, reviewed_at_ms = $3, updated_at_ms = $3 WHERE id = $1",
        )
        .bind(d.session_id)
        .bind(*status)
        .bind(d.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "session" });
        }
        let row = sqlx::query(
            "INSERT INTO review_decisions (session_id, seq, user_id, action, reason, created_at_ms) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM review_decisions WHERE session_id = $1 \
             RETURNING seq",
        )
        .bind(d.session_id)
        .bind(d.user_id)
        .bind(d.action)
        .bind(d.reason)
        .bind(d.created_at_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_foreign_key_violation(&e) { StoreError::NotFound { what: "user" } } else { db(op)(e) })?;
        let seq: i64 = row.try_get("seq").map_err(db(op))?;
        let user = sqlx::query("SELECT username, display_name FROM users WHERE id = $1")
            .bind(d.user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(op))?
            .ok_or(StoreError::NotFound { what: "user" })?;
        let (username, display_name) = (
            user.try_get::<String, _>("username").map_err(db(op))?,
            user.try_get::<String, _>("display_name").map_err(db(op))?,
        );
        tx.commit().await.map_err(db(op))?;
        Ok(ReviewDecisionRow {
            seq,
            action: d.action.to_owned(),
            reason: d.reason.to_owned(),
            user_id: d.user_id.to_owned(),
            username,
            display_name,
            created_at_ms: d.created_at_ms,
        })
    }

    /// A session's reviewer decisions, oldest first, with their authors' names.
    pub async fn review_decisions(&self, session_id: &str) -> Result<Vec<ReviewDecisionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.seq, d.action, d.reason, d.user_id, u.username, u.display_name, d.created_at_ms \
             FROM review_decisions d JOIN users u ON u.id = d.user_id WHERE d.session_id = $1 ORDER BY d.seq",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("read review decisions"))?;
        rows.iter()
            .map(|r| {
                Ok(ReviewDecisionRow {
                    seq: r.try_get("seq")?,
                    action: r.try_get("action")?,
                    reason: r.try_get("reason")?,
                    user_id: r.try_get("user_id")?,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("read review decisions"))
    }

    /// Assigns the session to the user `user_id`, or unassigns it (`None`). `NotFound` for an unknown session or
    /// user.
    pub async fn set_assignee(&self, session_id: &str, user_id: Option<&str>, now_ms: i64) -> Result<(), StoreError> {
        no_nul(&[user_id.unwrap_or_default()])?;
        let done = sqlx::query("UPDATE sessions SET assignee_user_id = $2, updated_at_ms = $3 WHERE id = $1")
            .bind(session_id)
            .bind(user_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::NotFound { what: "user" }
                } else {
                    db("assign session")(e)
                }
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "session" });
        }
        Ok(())
    }

    /// One session with its review state (as a queue item), whatever its state.
    pub async fn queue_row(&self, session_id: &str) -> Result<Option<QueueRow>, StoreError> {
        let sql = format!("{} WHERE s.id = $1", queue_select());
        let row =
            sqlx::query(&sql).bind(session_id).fetch_optional(&self.pool).await.map_err(db("read review queue"))?;
        row.as_ref().map(queue_row).transpose()
    }

    /// The review queue: sessions matching `q`, sorted, `q.limit` from `q.offset`, and how many match in all.
    pub async fn review_queue(&self, q: &QueueQuery) -> Result<(Vec<QueueRow>, i64), StoreError> {
        if !(1..=SessionQuery::MAX_LIMIT).contains(&q.limit) || q.offset < 0 {
            return Err(StoreError::Invalid {
                what: "queue query",
                problem: format!("limit must be 1..={} and offset ≥ 0", SessionQuery::MAX_LIMIT),
            });
        }
        if let Some(d) = &q.decision {
            model::check_decision(d)?;
        }
        let prefix = q.reason_prefix.as_deref().filter(|p| !p.is_empty());
        if let Some(p) = prefix
            && (p.contains(char::is_whitespace) || p.contains('\0') || p.chars().count() > 200)
        {
            return Err(StoreError::Invalid {
                what: "queue query",
                problem: "a reason prefix has no spaces and at most 200 characters".into(),
            });
        }
        if let AssigneeFilter::User(u) = &q.assignee {
            no_nul(&[u])?;
        }

        const IN_QUEUE: &str = "((s.state = 'verdict' AND s.decision IN ('review', 'reject')) OR s.state = 'failed')";
        let mut conds = vec![match q.status {
            QueueStatus::Open => format!("{IN_QUEUE} AND s.review_status IS NULL"),
            QueueStatus::Escalated => "s.review_status = 'escalated'".to_owned(),
            QueueStatus::Decided => "s.review_status IN ('approved', 'rejected')".to_owned(),
            QueueStatus::All => "(s.state IN ('verdict', 'failed') OR s.review_status IS NOT NULL)".to_owned(),
        }];
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if q.decision.is_some() {
            conds.push(format!("s.decision = {}", param()));
        }
        if prefix.is_some() {
            conds.push(format!("LOWER(' ' || COALESCE(s.reason_codes, '')) LIKE {} ESCAPE '\\'", param()));
        }
        match &q.assignee {
            AssigneeFilter::Any => {}
            AssigneeFilter::Nobody => conds.push("s.assignee_user_id IS NULL".to_owned()),
            AssigneeFilter::User(_) => conds.push(format!("s.assignee_user_id = {}", param())),
        }
        let (limit_p, offset_p) = (param(), param());
        let filter = format!(" WHERE {}", conds.join(" AND "));
        const AGE: &str = "COALESCE(s.decided_at_ms, s.ended_at_ms, s.created_at_ms)";
        let order = match q.sort {
            QueueSort::AgeAsc => format!("{AGE} ASC, s.id ASC"),
            QueueSort::AgeDesc => format!("{AGE} DESC, s.id DESC"),
            QueueSort::RiskDesc => format!("(s.risk_score IS NULL), s.risk_score DESC, {AGE} ASC, s.id ASC"),
            QueueSort::RiskAsc => format!("(s.risk_score IS NULL), s.risk_score ASC, {AGE} ASC, s.id ASC"),
        };
        let pattern = prefix.map(reason_pattern);
        let op = "read review queue";
        let list_sql = format!("{}{filter} ORDER BY {order} LIMIT {limit_p} OFFSET {offset_p}", queue_select());
        let rows = bind_queue(sqlx::query(&list_sql), q, pattern.as_deref())
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db(op))?;
        let count_sql = format!("SELECT COUNT(*) AS n FROM sessions s{filter}");
        let total: i64 = bind_queue(sqlx::query(&count_sql), q, pattern.as_deref())
            .fetch_one(&self.pool)
            .await
            .map_err(db(op))?
            .try_get("n")
            .map_err(db(op))?;
        Ok((rows.iter().map(queue_row).collect::<Result<_, _>>()?, total))
    }
}

/// Binds the queue filter's values in `review_queue`'s placeholder order.
fn bind_queue<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    q: &'q QueueQuery,
    pattern: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    if let Some(d) = &q.decision {
        query = query.bind(d.as_str());
    }
    if let Some(p) = pattern {
        query = query.bind(p);
    }
    if let AssigneeFilter::User(u) = &q.assignee {
        query = query.bind(u.as_str());
    }
    query
}

fn queue_select() -> String {
    format!(
        "SELECT {}, s.review_status, s.assignee_user_id, s.reason_codes, s.risk_score, s.reviewed_at_ms, \
         u.username AS assignee_username FROM sessions s LEFT JOIN users u ON u.id = s.assignee_user_id",
        prefixed(SESSION_COLUMNS, "s")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_fields_come_from_the_verdict() {
        let v = r#"{"decision":"review","risk_score":0.4375,"reasons":[
            {"code":"voice.second_speaker","decision":"review"},
            {"code":"liveness.rigid_motion","decision":"pass"},
            {"code":"location.absent","decision":"reject"},
            {"code":"has space","decision":"review"},
            {"decision":"review"}]}"#;
        assert_eq!(verdict_queue_fields(v), (Some(0.4375), Some("voice.second_speaker location.absent".to_owned())));
        assert_eq!(verdict_queue_fields(r#"{"risk_score":0,"reasons":[]}"#), (Some(0.0), None));
        assert_eq!(verdict_queue_fields(r#"{"reasons":[{"code":"a","decision":"pass"}]}"#), (None, None));
        for junk in ["", "not json", "[1,2]", "{\"reasons\":{\"code\":\"x\"}}", "{\"risk_score\":\"high\"}"] {
            assert_eq!(verdict_queue_fields(junk), (None, None), "{junk:?}");
        }
    }

    #[test]
    fn reason_patterns_escape_like_wildcards() {
        assert_eq!(reason_pattern("voice.second_sp"), "% voice.second\\_sp%");
        assert_eq!(reason_pattern("A%b\\"), "% a\\%b\\\\%");
    }
}
