//! The console's JSON API (docs/console.md "JSON API"): the review queue, a session's evidence, reviewer decisions
//! and assignment, the audit log and its verification, and account administration. Every handler takes a
//! [`Staff`] (login, CSRF) and checks its permission before touching anything.

use super::files::{self, MAX_SESSION, MAX_TIMELINES, MAX_VERDICT, PartFile};
use super::login::Staff;
use super::queue::{self, AssigneeParam};
use super::{audit, forbidden};
use crate::auth::{self, Permission, Role};
use crate::replay::session_dir::{SESSION_FILE, VERDICT_FILE};
use crate::server::error::{ApiError, body_error};
use crate::server::{AppState, now_ms};
use crate::store::{
    AssigneeFilter, AuditRow, EvidenceRow, NewReviewDecision, NewUser, QueueRow, ReviewDecisionRow, SessionState,
    StoreError, UserRow, UserUpdate,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// Shortest and longest decision reason, in characters after trimming.
pub const REASON_MIN_CHARS: usize = 10;
pub const REASON_MAX_CHARS: usize = 2000;

pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|e| body_error(e, super::MAX_BODY))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("bad_json", format!("invalid request body: {e}")))
}

/// Maps the store's refusals to 4xx; the rest is internal.
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { what } => ApiError::not_found(what),
        StoreError::Conflict { what } => ApiError::conflict("conflict", format!("{what} already exists")),
        StoreError::Invalid { what, problem } => ApiError::bad_request("invalid", format!("{what}: {problem}")),
        e => ApiError::internal(e),
    }
}

/// The session's queue row, after the id is validated (an invalid id is simply not found).
pub(crate) async fn session_row(state: &AppState, id: &str) -> Result<QueueRow, ApiError> {
    if !files::valid_session_id(id) {
        return Err(ApiError::not_found("session"));
    }
    state.shared.store.queue_row(id).await?.ok_or_else(|| ApiError::not_found("session"))
}

fn file_error(e: files::FileError) -> ApiError {
    ApiError::internal(e)
}

/// `GET /console/api/queue`.
pub async fn queue(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::QueueView)?;
    let req = queue::parse_queue_query(&params).map_err(|e| ApiError::bad_request("bad_query", e.0))?;
    let mut q = req.query;
    q.assignee = match req.assignee {
        AssigneeParam::Any => AssigneeFilter::Any,
        AssigneeParam::Nobody => AssigneeFilter::Nobody,
        AssigneeParam::Me => AssigneeFilter::User(staff.user.id.clone()),
        AssigneeParam::User(name) => match state.shared.store.user_by_name(&name).await? {
            Some(u) => AssigneeFilter::User(u.id),
            // Nobody by that name has anything assigned.
            None => return Ok(Json(json!({"items": [], "total": 0, "sla_hours": state.cfg.review_sla_hours}))),
        },
    };
    let (rows, total) = state.shared.store.review_queue(&q).await.map_err(store_error)?;
    let now = now_ms();
    let sla_ms = sla_ms(&state);
    let items: Vec<Value> = rows.iter().map(|r| queue::queue_item(r, now, sla_ms)).collect();
    Ok(Json(json!({"items": items, "total": total, "sla_hours": state.cfg.review_sla_hours})))
}

pub(crate) fn sla_ms(state: &AppState) -> i64 {
    (state.cfg.review_sla_hours * 3_600_000.0).round() as i64
}

/// What the console shows of one session: the row and the session folder's files.
pub(crate) struct Detail {
    pub row: QueueRow,
    pub dir: std::path::PathBuf,
    pub request: Value,
    pub verdict: Option<Value>,
    pub interview: Option<Value>,
    pub timelines: Option<Value>,
    pub quality: Option<Value>,
    pub parts: Vec<PartFile>,
    pub decisions: Vec<ReviewDecisionRow>,
}

/// Reads a session's row and folder (bounded reads on a blocking thread).
pub(crate) async fn load_detail(state: &AppState, id: &str) -> Result<Detail, ApiError> {
    let row = session_row(state, id).await?;
    let dir = files::session_dir(&state.cfg.data_dir, id).ok_or_else(|| ApiError::not_found("session"))?;
    let d = dir.clone();
    let (verdict, interview, timelines, parts) = tokio::task::spawn_blocking(move || {
        Ok::<_, files::FileError>((
            files::read_json::<Value>(&d.join(VERDICT_FILE), MAX_VERDICT)?,
            files::read_json::<Value>(&d.join(SESSION_FILE), MAX_SESSION)?,
            files::read_json::<Value>(&d.join(super::timeline::FILE), MAX_TIMELINES)?,
            files::recording_parts(&d)?,
        ))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(file_error)?;
    let verdict = verdict.or_else(|| row.session.verdict_json.as_deref().and_then(|v| serde_json::from_str(v).ok()));
    let request: Value = serde_json::from_str(&row.session.request_json).unwrap_or(Value::Null);
    let quality = row.session.quality_json.as_deref().and_then(|q| serde_json::from_str(q).ok());
    let mut interview = interview;
    if let Some(i) = interview.as_mut() {
        let evidence = state.shared.store.evidence(id).await?;
        attach_challenge_results(i, &evidence);
    }
    let decisions = state.shared.store.review_decisions(id).await?;
    Ok(Detail { row, dir, request, verdict, interview, timelines, quality, parts, decisions })
}

/// Adds each challenge's `result` (finding, state, summary) from the `liveness.challenge` evidence, which the
/// check emits one per challenge in issue order.
fn attach_challenge_results(interview: &mut Value, evidence: &[EvidenceRow]) {
    let results: Vec<&EvidenceRow> = evidence.iter().filter(|e| e.signal == "liveness.challenge").collect();
    let Some(challenges) = interview.get_mut("challenges").and_then(Value::as_array_mut) else { return };
    if results.len() != challenges.len() {
        return;
    }
    for (c, e) in challenges.iter_mut().zip(results) {
        let data: Value = serde_json::from_str(&e.data_json).unwrap_or(Value::Null);
        c["result"] = json!({
            "state": e.state,
            "finding": e.finding,
            "summary": data.get("summary").cloned().unwrap_or(Value::Null),
            "value": data.get("value").cloned().unwrap_or(Value::Null),
        });
    }
}

pub(crate) fn decision_json(d: &ReviewDecisionRow) -> Value {
    json!({
        "seq": d.seq,
        "action": d.action,
        "reason": d.reason,
        "username": d.username,
        "display_name": d.display_name,
        "created_at_ms": d.created_at_ms,
    })
}

/// Whether the session accepts a decision from `staff` (the `can.decide` of the detail).
fn may_decide(staff: &Staff, row: &QueueRow) -> bool {
    staff.can(Permission::Decide) && (row.review_status.is_none() || staff.can(Permission::DecideEscalated))
}

/// Whether a session has something to decide on (a verdict, or an analysis that failed).
fn decidable(row: &QueueRow) -> bool {
    matches!(row.session.state, SessionState::Verdict | SessionState::Failed)
}

/// `GET /console/api/sessions/{id}`.
pub async fn session(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::SessionView)?;
    let d = load_detail(&state, &id).await?;
    let s = &d.row.session;
    let parts: Vec<Value> = d
        .parts
        .iter()
        .map(|p| {
            json!({
                "index": p.index,
                "url": format!("/console/api/sessions/{}/recording/{}", s.id, p.index),
                "offset_ns": p.offset_ns,
                "end_ns": p.end_ns,
                "bytes": p.bytes,
            })
        })
        .collect();
    let body = json!({
        "session": {
            "id": s.id,
            "applicant_ref": s.applicant_ref,
            "state": s.state,
            "created_at_ms": s.created_at_ms,
            "joined_at_ms": s.joined_at_ms,
            "ended_at_ms": s.ended_at_ms,
            "end_reason": s.end_reason,
            "decision": s.decision,
            "verdict_at_ms": s.decided_at_ms,
            "review_status": d.row.review_status.as_deref().unwrap_or("open"),
            "assignee": d.row.assignee_username,
        },
        "declared": d.request.get("declared").cloned().unwrap_or(Value::Null),
        "verdict": d.verdict,
        "interview": d.interview,
        "timelines": d.timelines,
        "quality": d.quality,
        "recording": {"parts": parts},
        "decisions": d.decisions.iter().map(decision_json).collect::<Vec<_>>(),
        "can": {
            "decide": may_decide(&staff, &d.row) && decidable(&d.row),
            "assign": staff.can(Permission::Assign) || (staff.can(Permission::Decide) && d.row.assignee_user_id.is_none()),
            "export": staff.can(Permission::Export),
        },
    });
    audit(&state, staff.username(), "session.view", Some(&s.id), json!({})).await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    action: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Checks a decision's action and reason; the trimmed reason.
pub fn check_decision(action: &str, reason: Option<&str>) -> Result<String, ApiError> {
    if !crate::store::REVIEW_ACTIONS.iter().any(|(a, _)| *a == action) {
        return Err(ApiError::bad_request("bad_action", "action must be approve, reject or escalate"));
    }
    let reason = reason.unwrap_or("").trim();
    let n = reason.chars().count();
    if !(REASON_MIN_CHARS..=REASON_MAX_CHARS).contains(&n) || reason.contains('\0') {
        return Err(ApiError::bad_request(
            "bad_reason",
            format!("the reason must be {REASON_MIN_CHARS}-{REASON_MAX_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// `POST /console/api/sessions/{id}/decision`.
pub async fn decide(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    staff.require(Permission::Decide)?;
    let row = session_row(&state, &id).await?;
    let req: DecisionBody = parse_body(body)?;
    let reason = check_decision(&req.action, req.reason.as_deref())?;
    if !decidable(&row) {
        return Err(ApiError::conflict(
            "not_decided",
            format!("the session has no verdict yet (it is {})", row.session.state),
        ));
    }
    if !may_decide(&staff, &row) {
        return Err(forbidden("this session was already decided or escalated: a supervisor decides it now"));
    }
    let d = state
        .shared
        .store
        .add_review_decision(&NewReviewDecision {
            session_id: &id,
            user_id: &staff.user.id,
            action: &req.action,
            reason: &reason,
            created_at_ms: now_ms(),
        })
        .await
        .map_err(store_error)?;
    let previous = row.review_status.as_deref().unwrap_or("open");
    audit(
        &state,
        staff.username(),
        "decision",
        Some(&id),
        json!({"seq": d.seq, "action": d.action, "reason": d.reason, "previous_status": previous}),
    )
    .await?;
    let status = crate::store::REVIEW_ACTIONS.iter().find(|(a, _)| *a == d.action).map(|(_, s)| *s);
    let mut body = decision_json(&d);
    body["review_status"] = json!(status);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: Option<String>,
}

/// `POST /console/api/sessions/{id}/assign`.
pub async fn assign(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let row = session_row(&state, &id).await?;
    let req: AssignBody = parse_body(body)?;
    let target: Option<UserRow> = match req.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let u = match auth::validate_username(name) {
                Ok(()) => state.shared.store.user_by_name(name).await?,
                Err(_) => None,
            };
            let u = u.ok_or_else(|| ApiError::bad_request("bad_assignee", "no such user"))?;
            let can_decide = Role::from_str(&u.role).is_ok_and(|r| r.can(Permission::Decide));
            if u.disabled || !can_decide {
                return Err(ApiError::bad_request("bad_assignee", "that user cannot review sessions"));
            }
            Some(u)
        }
    };
    let claim = staff.can(Permission::Decide)
        && row.assignee_user_id.is_none()
        && target.as_ref().is_some_and(|t| t.id == staff.user.id);
    if !staff.can(Permission::Assign) && !claim {
        return Err(forbidden("you may only claim an unassigned session for yourself"));
    }
    state
        .shared
        .store
        .set_assignee(&id, target.as_ref().map(|u| u.id.as_str()), now_ms())
        .await
        .map_err(store_error)?;
    let name = target.as_ref().map(|u| u.username.clone());
    audit(&state, staff.username(), "assign", Some(&id), json!({"assignee": name, "previous": row.assignee_username}))
        .await?;
    Ok(Json(json!({"assignee": name})))
}

fn audit_json(e: &AuditRow) -> Value {
    json!({
        "seq": e.seq,
        "t_ms": e.t_ms,
        "actor": e.actor,
        "action": e.action,
        "session_id": e.session_id,
        "detail": e.detail,
        "hash": e.hash,
    })
}

/// `GET /console/api/audit`.
pub async fn audit_log(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::AuditView)?;
    let mut session = None;
    let mut limit = 200i64;
    let mut before = None;
    for (k, v) in &params {
        match k.as_str() {
            "session" if v.is_empty() => {}
            "session" if files::valid_session_id(v) => session = Some(v.clone()),
            "session" => return Err(ApiError::bad_request("bad_query", "session must be a session id")),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::bad_request("bad_query", "limit must be 1-1000"))?
            }
            "before" => {
                before = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| ApiError::bad_request("bad_query", "before must be a positive seq"))?,
                )
            }
            _ => return Err(ApiError::bad_request("bad_query", "unknown parameter")),
        }
    }
    let entries = state.shared.store.audit_entries(session.as_deref(), before, limit).await.map_err(store_error)?;
    Ok(Json(json!({"entries": entries.iter().map(audit_json).collect::<Vec<_>>()})))
}

/// `GET /console/api/audit/verify`: the chain and the head file.
pub async fn audit_verify(State(state): State<Arc<AppState>>, staff: Staff) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::AuditView)?;
    let dir = state.cfg.data_dir.clone();
    let head = tokio::task::spawn_blocking(move || crate::store::audit_head::read_head(&dir))
        .await
        .map_err(ApiError::internal)?;
    let v = state.shared.store.verify_audit_with_head(head).await?;
    Ok(Json(json!({"ok": v.ok, "entries": v.entries, "first_bad_seq": v.first_bad_seq, "problem": v.problem})))
}

fn user_admin_json(u: &UserRow) -> Value {
    json!({
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "disabled": u.disabled,
        "failed_logins": u.failed_logins,
        "locked_until_ms": u.locked_until_ms,
        "created_at_ms": u.created_at_ms,
    })
}

/// `GET /console/api/users`.
pub async fn users(State(state): State<Arc<AppState>>, staff: Staff) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::UsersManage)?;
    let list = state.shared.store.list_users().await?;
    Ok(Json(json!({"users": list.iter().map(user_admin_json).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    password: String,
    role: String,
    #[serde(default)]
    display_name: Option<String>,
}

async fn hash(password: String) -> Result<String, ApiError> {
    auth::check_password_policy(&password).map_err(|e| ApiError::bad_request("bad_password", e.to_string()))?;
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::from_str(role).map_err(|e| ApiError::bad_request("bad_role", e.to_string()))
}

/// `POST /console/api/users`.
pub async fn add_user(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    staff.require(Permission::UsersManage)?;
    let req: NewUserBody = parse_body(body)?;
    let username = req.username.trim();
    auth::validate_username(username).map_err(|e| ApiError::bad_request("bad_username", e.to_string()))?;
    let role = parse_role(req.role.trim())?;
    let display = req.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(username);
    if display.chars().count() > 128 {
        return Err(ApiError::bad_request("bad_display_name", "the display name must be at most 128 characters"));
    }
    let password_hash = hash(req.password).await?;
    let user = state
        .shared
        .store
        .create_user(
            &NewUser { username, display_name: display, role: role.as_str(), password_hash: &password_hash },
            now_ms(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => ApiError::conflict("conflict", "that username is taken"),
            e => store_error(e),
        })?;
    audit(
        &state,
        staff.username(),
        "user.add",
        None,
        json!({"username": user.username, "role": user.role, "display_name": user.display_name}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"user": user_admin_json(&user)}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserBody {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /console/api/users/{username}`.
pub async fn update_user(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(username): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::UsersManage)?;
    if auth::validate_username(&username).is_err() {
        return Err(ApiError::not_found("user"));
    }
    let req: UpdateUserBody = parse_body(body)?;
    let role = req.role.as_deref().map(|r| parse_role(r.trim())).transpose()?;
    let password_hash = match req.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let before = state.shared.store.user_by_name(&username).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let update = UserUpdate {
        role: role.map(|r| r.as_str()),
        display_name: None,
        password_hash: password_hash.as_deref(),
        disabled: req.disabled,
    };
    let user = state.shared.store.update_user(&username, &update, now_ms()).await.map_err(store_error)?;
    let actor = staff.username();
    if let Some(r) = role
        && r.as_str() != before.role
    {
        audit(&state, actor, "user.role", None, json!({"username": user.username, "role": r, "previous": before.role}))
            .await?;
    }
    if let Some(d) = req.disabled
        && d != before.disabled
    {
        let action = if d { "user.disable" } else { "user.enable" };
        audit(&state, actor, action, None, json!({"username": user.username})).await?;
    }
    if password_hash.is_some() {
        audit(&state, actor, "user.passwd", None, json!({"username": user.username})).await?;
    }
    Ok(Json(json!({"user": user_admin_json(&user)})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_need_a_known_action_and_a_real_reason() {
        assert_eq!(check_decision("approve", Some("  looks fine to me  ")).ok().as_deref(), Some("looks fine to me"));
        for (a, r) in [
            ("approve", None),
            ("approve", Some("too short")),
            ("approve", Some("          x         ")),
            ("maybe", Some("a perfectly long reason")),
            ("reject", Some(&*"x".repeat(2001))),
        ] {
            assert!(check_decision(a, r).is_err(), "{a} {r:?}");
        }
        assert_eq!(check_decision("reject", Some("x")).map_err(|e| e.code).err(), Some("bad_reason"));
        assert_eq!(check_decision("nope", Some("long enough reason")).map_err(|e| e.code).err(), Some("bad_action"));
        assert!(check_decision("escalate", Some(&"é".repeat(2000))).is_ok(), "characters, not bytes");
    }
}
