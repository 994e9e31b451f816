//! The lender API: create a session (returns a single-use, expiring join link), read its state, verdict and event
//! log. Authenticated with the API key (`Authorization: Bearer`).

use super::error::{ApiError, body_error};
use super::{AppState, now_ms, random_hex, sha256_hex};
use crate::interview::DeclaredBusiness;
use crate::session::script::ScriptSpec;
use crate::store::{NewSession, SessionQuery, SessionRow, SessionState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub applicant_ref: String,
    #[serde(default)]
    pub declared: Option<DeclaredBusiness>,
    #[serde(default)]
    pub script: Option<ScriptSpec>,
    #[serde(default)]
    pub reference_photo_b64: Option<String>,
    #[serde(default)]
    pub enrolled_voice: Option<String>,
    #[serde(default)]
    pub ttl_s: Option<u64>,
}

pub const MAX_TTL_S: u64 = 86_400;

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

fn authorise(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(k) if state.api_key_ok(k) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Parses a JSON body with a clear error (field and position), never echoing the body.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("bad_json", format!("invalid request body: {e}")))
}

fn check_declared(d: &DeclaredBusiness) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::bad_request("bad_declared", m));
    if !d.lat.is_finite()
        || !(-90.0..=90.0).contains(&d.lat)
        || !d.lon.is_finite()
        || !(-180.0..=180.0).contains(&d.lon)
    {
        return bad(format!("declared coordinates ({}, {}) are not a place on Earth", d.lat, d.lon));
    }
    if d.name.trim().is_empty() || d.name.chars().count() > 200 {
        return bad("declared business name must be 1-200 characters".into());
    }
    if !crate::location::categories::is_business_category(&d.category) {
        return bad(format!("unknown business category `{}`", d.category.chars().take(64).collect::<String>()));
    }
    Ok(())
}

pub async fn create_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    authorise(&state, &headers)?;
    let body = body.map_err(|e| body_error(e, state.cfg.max_create_bytes))?;
    let req: CreateSession = parse_json(&body)?;
    let applicant_ref = req.applicant_ref.trim().to_owned();
    if applicant_ref.is_empty() || applicant_ref.chars().count() > 128 {
        return Err(ApiError::bad_request("bad_applicant_ref", "applicant_ref must be 1-128 characters"));
    }
    if let Some(d) = &req.declared {
        check_declared(d)?;
    }
    let script = req.script.clone().unwrap_or_default();
    script.validate().map_err(|e| ApiError::bad_request("bad_script", e.to_string()))?;
    let ttl = req.ttl_s.unwrap_or(state.cfg.default_ttl.as_secs());
    if !(1..=MAX_TTL_S).contains(&ttl) {
        return Err(ApiError::bad_request("bad_ttl", format!("ttl_s must be between 1 and {MAX_TTL_S}")));
    }
    if let Some(v) = &req.enrolled_voice {
        let store = crate::voiceprints::VoiceprintStore::open(&state.cfg.data_dir).map_err(ApiError::internal)?;
        if store.get_enrolled(v).is_none() {
            return Err(ApiError::bad_request("unknown_voice", "no enrolled voiceprint with that id"));
        }
    }
    let photo = match &req.reference_photo_b64 {
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ApiError::bad_request("bad_photo", "reference_photo_b64 is not base64"))?;
            let ext = match bytes.get(..4) {
                Some([0xff, 0xd8, 0xff, _]) => "jpg",
                Some([0x89, b'P', b'N', b'G']) => "png",
                _ => return Err(ApiError::bad_request("bad_photo", "the reference photo must be a JPEG or PNG")),
            };
            Some((bytes, ext))
        }
        None => None,
    };

    let id = format!("s_{}", random_hex(12)?);
    let token = random_hex(32)?;
    let now = now_ms();
    let expires_at_ms = now + ttl as i64 * 1000;
    let dir = state.cfg.data_dir.join("sessions").join(&id);
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    if let Some((bytes, ext)) = &photo {
        std::fs::write(dir.join(format!("reference.{ext}")), bytes).map_err(ApiError::internal)?;
    }
    let stored = json!({
        "applicant_ref": applicant_ref,
        "declared": req.declared,
        "script": script,
        "reference_photo": photo.as_ref().map(|(_, ext)| format!("reference.{ext}")),
        "enrolled_voice": req.enrolled_voice,
        "ttl_s": ttl,
    });
    state
        .shared
        .store
        .create_session(&NewSession {
            id: id.clone(),
            applicant_ref,
            token_sha256: sha256_hex(&token),
            expires_at_ms,
            created_at_ms: now,
            request_json: stored.to_string(),
        })
        .await?;
    let join_url = format!("{}/join/{token}", state.cfg.public_url.trim_end_matches('/'));
    let body = json!({"id": id, "state": "waiting", "join_url": join_url, "expires_at_ms": expires_at_ms});
    Ok((StatusCode::CREATED, [("location", format!("/api/sessions/{id}"))], Json(body)).into_response())
}

fn session_json(row: &SessionRow) -> Value {
    json!({
        "id": row.id,
        "applicant_ref": row.applicant_ref,
        "state": row.state,
        "created_at_ms": row.created_at_ms,
        "expires_at_ms": row.expires_at_ms,
        "joined_at_ms": row.joined_at_ms,
        "ended_at_ms": row.ended_at_ms,
        "end_reason": row.end_reason,
        "decision": row.decision,
        "quality": row.quality_json.as_deref().and_then(|q| serde_json::from_str::<Value>(q).ok()),
    })
}

pub async fn get_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorise(&state, &headers)?;
    let row = state.shared.store.session(&id).await?.ok_or_else(|| ApiError::not_found("session"))?;
    Ok(Json(session_json(&row)))
}

pub async fn get_verdict(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorise(&state, &headers)?;
    let row = state.shared.store.session(&id).await?.ok_or_else(|| ApiError::not_found("session"))?;
    match (&row.verdict_json, row.state) {
        (Some(v), _) => {
            let mut v: Value = serde_json::from_str(v).map_err(ApiError::internal)?;
            v["session_id"] = json!(row.id);
            Ok(Json(v).into_response())
        }
        (None, SessionState::Failed | SessionState::Expired) => Err(ApiError::gone(
            "no_verdict",
            format!(
                "the session ended without a verdict ({})",
                row.end_reason.as_deref().unwrap_or(row.state.as_str())
            ),
        )),
        (None, s) => Err(ApiError::conflict("not_decided", format!("no verdict yet; the session is {s}"))),
    }
}

pub async fn get_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorise(&state, &headers)?;
    state.shared.store.session(&id).await?.ok_or_else(|| ApiError::not_found("session"))?;
    let events = state.shared.store.events(&id).await?;
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"t_ms": e.t_ms, "media_ns": e.media_ns, "kind": e.kind,
                   "data": serde_json::from_str::<Value>(&e.data_json).unwrap_or(Value::Null)})
        })
        .collect();
    Ok(Json(json!({"events": events})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

pub async fn list_sessions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    authorise(&state, &headers)?;
    let st = q
        .state
        .as_deref()
        .map(str::parse::<SessionState>)
        .transpose()
        .map_err(|_| ApiError::bad_request("bad_query", "unknown state"))?;
    let query = SessionQuery {
        state: st,
        decision: q.decision,
        applicant_ref: None,
        created_from_ms: None,
        created_before_ms: None,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let rows = state.shared.store.list_sessions(&query).await.map_err(|e| match e {
        crate::store::StoreError::Invalid { .. } => ApiError::bad_request("bad_query", e.to_string()),
        e => ApiError::internal(e),
    })?;
    Ok(Json(json!({"sessions": rows.iter().map(session_json).collect::<Vec<_>>()})))
}

pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"ok": true, "running_sessions": state.running(), "max_sessions": state.cfg.max_sessions}))
}
