//! The review queue's pure parts: parsing `GET /console/api/queue`'s query into the store's [`QueueQuery`], the SLA
//! state of an item, and the item JSON built from a [`QueueRow`] (top reason from the verdict, business name from
//! the creation request). No I/O; callers pass `now_ms`.

use crate::store::{QueueQuery, QueueRow, QueueSort, QueueStatus, SessionQuery};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Largest page of the queue.
pub const MAX_LIMIT: i64 = 200;
/// Largest offset accepted.
pub const MAX_OFFSET: i64 = 1_000_000;

/// How far an item is into its review deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    Ok,
    /// More than 75 % of the SLA used.
    DueSoon,
    Overdue,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Ok => "ok",
            SlaState::DueSoon => "due_soon",
            SlaState::Overdue => "overdue",
        }
    }
}

/// The SLA state of an item `age_ms` old under an SLA of `sla_ms`.
pub fn sla_state(age_ms: i64, sla_ms: i64) -> SlaState {
    if age_ms > sla_ms {
        SlaState::Overdue
    } else if age_ms.saturating_mul(4) > sla_ms.saturating_mul(3) {
        SlaState::DueSoon
    } else {
        SlaState::Ok
    }
}

/// The `assignee` filter before usernames are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssigneeParam {
    Any,
    Me,
    Nobody,
    User(String),
}

/// A parsed queue request: the store query (its assignee filter still [`crate::store::AssigneeFilter::Any`]) and
/// the assignee to resolve.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueRequest {
    pub query: QueueQuery,
    pub assignee: AssigneeParam,
}

/// A query parameter the queue does not accept.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Parses the queue's query parameters (docs/console.md); unknown parameters are refused so a typo is not a
/// silently unfiltered queue.
pub fn parse_queue_query(params: &HashMap<String, String>) -> Result<QueueRequest, QueryError> {
    let bad = |m: String| Err(QueryError(m));
    let mut q = QueueQuery::default();
    let mut assignee = AssigneeParam::Any;
    for (k, v) in params {
        let v = v.trim();
        match k.as_str() {
            "status" => {
                q.status = match v {
                    "open" | "" => QueueStatus::Open,
                    "escalated" => QueueStatus::Escalated,
                    "decided" => QueueStatus::Decided,
                    "all" => QueueStatus::All,
                    _ => return bad("status must be open, escalated, decided or all".into()),
                }
            }
            "decision" => {
                q.decision = match v {
                    "" => None,
                    "pass" | "review" | "reject" => Some(v.to_owned()),
                    _ => return bad("decision must be pass, review or reject".into()),
                }
            }
            "reason" => {
                if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    return bad("reason must be a reason code prefix (up to 64 of a-z 0-9 . _ -)".into());
                }
                q.reason_prefix = (!v.is_empty()).then(|| v.to_ascii_lowercase());
            }
            "assignee" => {
                assignee = match v {
                    "" => AssigneeParam::Any,
                    "me" => AssigneeParam::Me,
                    "none" => AssigneeParam::Nobody,
                    u if crate::auth::validate_username(u).is_ok() => AssigneeParam::User(u.to_owned()),
                    _ => return bad("assignee must be me, none or a username".into()),
                }
            }
            "sort" => {
                q.sort = match v {
                    "-age" | "" => QueueSort::AgeAsc,
                    "age" => QueueSort::AgeDesc,
                    "-risk" => QueueSort::RiskDesc,
                    "risk" => QueueSort::RiskAsc,
                    _ => return bad("sort must be age, -age, risk or -risk".into()),
                }
            }
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT.min(SessionQuery::MAX_LIMIT)).contains(&n) => q.limit = n,
                _ => return bad(format!("limit must be 1-{MAX_LIMIT}")),
            },
            "offset" => match v.parse::<i64>() {
                Ok(n) if (0..=MAX_OFFSET).contains(&n) => q.offset = n,
                _ => return bad(format!("offset must be 0-{MAX_OFFSET}")),
            },
            other => return bad(format!("unknown parameter `{}`", other.chars().take(32).collect::<String>())),
        }
    }
    Ok(QueueRequest { query: q, assignee })
}

/// The reason a reviewer sees first: the verdict's first reason that is not a pass (reasons are most severe
/// first), else its first reason. `None` without a verdict.
pub fn top_reason(verdict: &Value) -> Option<Value> {
    let reasons = verdict.get("reasons")?.as_array()?;
    let r = reasons.iter().find(|r| r.get("decision").and_then(Value::as_str) != Some("pass")).or(reasons.first())?;
    Some(
        json!({"code": r.get("code").cloned().unwrap_or(Value::Null), "text": r.get("text").cloned().unwrap_or(Value::Null)}),
    )
}

/// The declared business name from a session's creation request (`request_json`).
pub fn business_name(request_json: &str) -> Option<String> {
    let req: Value = serde_json::from_str(request_json).ok()?;
    req.get("declared")?.get("name")?.as_str().map(str::to_owned)
}

/// When the item's review clock started: the verdict, else the end of the call (failed analysis), else creation.
pub fn clock_start_ms(row: &QueueRow) -> i64 {
    let s = &row.session;
    s.decided_at_ms.or(s.ended_at_ms).unwrap_or(s.created_at_ms)
}

/// One queue item (docs/console.md, `GET /queue`).
pub fn queue_item(row: &QueueRow, now_ms: i64, sla_ms: i64) -> Value {
    let s = &row.session;
    let verdict: Option<Value> = s.verdict_json.as_deref().and_then(|v| serde_json::from_str(v).ok());
    // The store keeps the verdict's non-pass reason codes and risk score beside it (written with the verdict,
    // back-filled by the v2 migration), so they are not parsed out of the verdict again here.
    let reasons: Vec<&str> = row.reason_codes.as_deref().map(|c| c.split_whitespace().collect()).unwrap_or_default();
    let age_ms = now_ms.saturating_sub(clock_start_ms(row)).max(0);
    json!({
        "id": s.id,
        "applicant_ref": s.applicant_ref,
        "business_name": business_name(&s.request_json),
        "state": s.state,
        "created_at_ms": s.created_at_ms,
        "verdict_at_ms": s.decided_at_ms,
        "decision": s.decision,
        "risk_score": row.risk_score,
        "reasons": reasons,
        "top_reason": verdict.as_ref().and_then(top_reason),
        "review_status": row.review_status.as_deref().unwrap_or("open"),
        "assignee": row.assignee_username,
        "age_ms": age_ms,
        "sla_ms": sla_ms,
        "sla_state": sla_state(age_ms, sla_ms).as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SessionRow, SessionState};

    fn params(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn sla_states_follow_the_thresholds() {
        let sla = 24 * 3_600_000;
        assert_eq!(sla_state(0, sla), SlaState::Ok);
        assert_eq!(sla_state(sla * 3 / 4, sla), SlaState::Ok, "exactly 75 % is not yet due soon");
        assert_eq!(sla_state(sla * 3 / 4 + 1, sla), SlaState::DueSoon);
        assert_eq!(sla_state(sla, sla), SlaState::DueSoon);
        assert_eq!(sla_state(sla + 1, sla), SlaState::Overdue);
        assert_eq!(sla_state(i64::MAX, sla), SlaState::Overdue);
        assert_eq!(SlaState::DueSoon.as_str(), "due_soon");
    }

    #[test]
    fn queue_queries_parse_with_defaults_and_refuse_nonsense() {
        let r = parse_queue_query(&params(&[])).expect("defaults");
        assert_eq!(r.query, QueueQuery::default());
        assert_eq!(r.query.sort, QueueSort::AgeAsc, "-age (oldest first) by default");
        assert_eq!(r.assignee, AssigneeParam::Any);
        let r = parse_queue_query(&params(&[
            ("status", "all"),
            ("decision", "reject"),
            ("reason", "Liveness."),
            ("assignee", "me"),
            ("sort", "-risk"),
            ("limit", "10"),
            ("offset", "20"),
        ]))
        .expect("full query");
        assert_eq!(r.query.status, QueueStatus::All);
        assert_eq!(r.query.decision.as_deref(), Some("reject"));
        assert_eq!(r.query.reason_prefix.as_deref(), Some("liveness."));
        assert_eq!(r.query.sort, QueueSort::RiskDesc);
        assert_eq!((r.query.limit, r.query.offset), (10, 20));
        assert_eq!(r.assignee, AssigneeParam::Me);
        assert_eq!(parse_queue_query(&params(&[("assignee", "none")])).map(|r| r.assignee), Ok(AssigneeParam::Nobody));
        assert_eq!(
            parse_queue_query(&params(&[("assignee", "rita")])).map(|r| r.assignee),
            Ok(AssigneeParam::User("rita".into()))
        );
        assert_eq!(parse_queue_query(&params(&[("sort", "age")])).map(|r| r.query.sort), Ok(QueueSort::AgeDesc));
        for bad in [
            ("status", "closed"),
            ("decision", "maybe"),
            ("reason", "x%"),
            ("assignee", "Bad User"),
            ("sort", "name"),
            ("limit", "0"),
            ("limit", "201"),
            ("limit", "ten"),
            ("offset", "-1"),
            ("colour", "red"),
        ] {
            assert!(parse_queue_query(&params(&[bad])).is_err(), "{bad:?}");
        }
    }

    /// A queue row as the store returns it (risk score and reason codes stored beside the verdict).
    fn row(verdict: Option<Value>, decided_at_ms: Option<i64>) -> QueueRow {
        let (risk_score, reason_codes) =
            verdict.as_ref().map(|v| crate::store::verdict_queue_fields(&v.to_string())).unwrap_or_default();
        QueueRow {
            session: SessionRow {
                id: "s_1".into(),
                applicant_ref: "A-1".into(),
                state: SessionState::Verdict,
                created_at_ms: 1_000,
                expires_at_ms: 9_000,
                joined_at_ms: Some(2_000),
                ended_at_ms: Some(3_000),
                end_reason: Some("completed".into()),
                token_sha256: String::new(),
                resume_key_sha256: None,
                request_json: json!({"declared": {"name": "Isabella Cafe"}}).to_string(),
                decision: Some("review".into()),
                verdict_json: verdict.map(|v| v.to_string()),
                decided_at_ms,
                recording_dir: None,
                quality_json: None,
                updated_at_ms: 3_000,
            },
            review_status: None,
            assignee_user_id: None,
            assignee_username: Some("rita".into()),
            reason_codes,
            risk_score,
            reviewed_at_ms: None,
        }
    }

    #[test]
    fn items_carry_the_top_reason_business_and_sla() {
        let verdict = json!({"decision": "review", "risk_score": 0.9, "reasons": [
            {"code": "location.distance", "decision": "pass", "text": "near"},
            {"code": "voice.second_speaker", "decision": "review", "text": "two voices"},
            {"code": "liveness.blink", "decision": "review", "text": "no blink"}]});
        let hour = 3_600_000;
        let item = queue_item(&row(Some(verdict), Some(10_000)), 10_000 + 20 * hour, 24 * hour);
        assert_eq!(item["top_reason"]["code"], "voice.second_speaker");
        assert_eq!(item["reasons"], json!(["voice.second_speaker", "liveness.blink"]));
        assert_eq!(item["business_name"], "Isabella Cafe");
        assert_eq!(item["age_ms"], 20 * hour);
        assert_eq!(item["sla_state"], "due_soon");
        assert_eq!(item["review_status"], "open");
        assert_eq!(item["assignee"], "rita");
        assert_eq!(item["risk_score"], 0.9);
        // A failed analysis has no verdict: the clock starts at the end of the call.
        let failed = queue_item(&row(None, None), 3_000 + 25 * hour, 24 * hour);
        assert_eq!(failed["sla_state"], "overdue");
        assert!(failed["top_reason"].is_null());
        assert_eq!(failed["reasons"], json!([]));
    }
}
