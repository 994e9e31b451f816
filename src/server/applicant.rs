//! The applicant's side: the page, join information, consent (which claims the single-use join link for one
//! device), WHIP-style offer/answer and hang-up, and the control WebSocket. The join token is the credential until
//! consent; after it, the device's resume key (sent as `Authorization: Bearer`).

use super::api::{bearer, parse_json};
use super::error::{ApiError, body_error};
use super::{AppState, CONSENT_VERSION, now_ms, random_hex, sha256_hex};
use crate::media::peer::PeerError;
use crate::session::control::{ClientMsg, ServerMsg};
use crate::session::script::{ChallengeKindSpec, ScriptSpec};
use crate::session::{OfferError, SessionHandle, SessionMsg, SessionParams};
use crate::store::{SessionRow, SessionState};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The session a join token names, or the error the page shows.
async fn by_token(state: &AppState, token: &str) -> Result<SessionRow, ApiError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_token", "this link is not valid"));
    }
    state
        .shared
        .store
        .session_by_token(&sha256_hex(token))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_token", "this link is not valid"))
}

fn ensure_open(row: &SessionRow) -> Result<(), ApiError> {
    let expired = row.state == SessionState::Expired
        || (row.state == SessionState::Waiting && row.joined_at_ms.is_none() && row.expires_at_ms <= now_ms());
    if expired {
        return Err(ApiError::gone("expired", "this link has expired; ask the lender for a new one"));
    }
    if row.state.ends_call() {
        return Err(ApiError::gone("finished", "this interview has already taken place"));
    }
    Ok(())
}

fn check_resume_key(row: &SessionRow, presented: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = row.resume_key_sha256.as_deref() else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "consent_required", "consent must be given first"));
    };
    match presented {
        Some(k) if sha256_hex(k) == expected => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

pub async fn page(State(state): State<Arc<AppState>>, Path(_token): Path<String>) -> Result<Response, ApiError> {
    serve_file(&state, "index.html").await
}

pub async fn static_file(State(state): State<Arc<AppState>>, Path(path): Path<String>) -> Result<Response, ApiError> {
    serve_file(&state, &path).await
}

async fn serve_file(state: &AppState, rel: &str) -> Result<Response, ApiError> {
    let (bytes, mime) = super::read_web_file(&state.cfg.web_dir, rel).await?;
    Ok(([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache")], bytes).into_response())
}

pub async fn join_info(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Result<Json<Value>, ApiError> {
    let row = by_token(&state, &token).await?;
    ensure_open(&row)?;
    Ok(Json(json!({
        "state": row.state,
        "joined": row.resume_key_sha256.is_some(),
        "business_name": crate::console::queue::business_name(&row.request_json),
        "expires_at_ms": row.expires_at_ms,
        "consent": {
            "version": CONSENT_VERSION,
            "retention_days": state.cfg.retention_days,
            "recorded": ["video", "audio", "location", "device"],
            "text": "This video interview is part of your loan application. We record the video and audio of \
                     the call, the location your phone reports and basic device information, to confirm your \
                     identity, that you are present in person, and your business premises. The recording is \
                     encrypted and kept for the retention period below, then deleted; only authorised reviewers \
                     of the lender can see it, and every access is logged.",
        },
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    accepted: bool,
}

pub async fn consent(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| body_error(e, 4096))?;
    if body.len() > 4096 {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the body is too large"));
    }
    let row = by_token(&state, &token).await?;
    ensure_open(&row)?;
    let req: ConsentBody = parse_json(&body)?;
    let store = &state.shared.store;
    if !req.accepted {
        store.append_event(&row.id, now_ms(), None, "consent_declined", "{}").await?;
        return Err(ApiError::bad_request("not_accepted", "the interview needs your consent; nothing was recorded"));
    }
    if row.resume_key_sha256.is_some() {
        return Err(ApiError::conflict("already_joined", "this link is already in use on another device"));
    }
    if state.running() >= state.cfg.max_sessions {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "at_capacity",
            "the service is busy; please try again in a few minutes",
        ));
    }
    let resume_key = random_hex(32)?;
    if !store.claim_join(&row.id, &sha256_hex(&resume_key), now_ms()).await? {
        return Err(ApiError::conflict("already_joined", "this link is already in use on another device"));
    }
    let consent = json!({"version": CONSENT_VERSION, "retention_days": state.cfg.retention_days});
    store.append_event(&row.id, now_ms(), None, "consent", &consent.to_string()).await?;
    let params = session_params(&state, &row)?;
    let st = state.clone();
    let handle = crate::session::spawn(params, state.shared.clone(), move |id| {
        st.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    });
    state.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(row.id.clone(), handle);
    Ok(Json(json!({"resume_key": resume_key})))
}

/// The session's starting point from its stored creation request.
fn session_params(state: &AppState, row: &SessionRow) -> Result<SessionParams, ApiError> {
    let req: Value = serde_json::from_str(&row.request_json).map_err(ApiError::internal)?;
    let script: ScriptSpec = serde_json::from_value(req["script"].clone()).unwrap_or_default();
    let mut interview = crate::interview::Interview {
        declared: serde_json::from_value(req["declared"].clone()).ok().flatten(),
        reference_photo: req["reference_photo"].as_str().map(std::path::PathBuf::from),
        ..Default::default()
    };
    let voices_exist = state.cfg.data_dir.join(crate::voiceprints::STORE_FILE).exists();
    if voices_exist {
        let voices = crate::voiceprints::VoiceprintStore::open(&state.cfg.data_dir).map_err(ApiError::internal)?;
        interview.blocked_voices = voices.blocked();
        if let Some(v) = req["enrolled_voice"].as_str() {
            interview.enrolled_voice = voices.get_enrolled(v);
        }
    }
    let mut digits = Vec::new();
    for c in &script.challenges {
        if c.kind == ChallengeKindSpec::ReadDigits {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).map_err(ApiError::internal)?;
            digits.push(b.iter().map(|x| char::from(b'0' + x % 10)).collect());
        }
    }
    Ok(SessionParams {
        id: row.id.clone(),
        dir: state.cfg.data_dir.join("sessions").join(&row.id),
        interview,
        script,
        digits,
    })
}

/// The running actor of a consented session, or why there is none.
fn actor(state: &AppState, row: &SessionRow) -> Result<SessionHandle, ApiError> {
    state.session(&row.id).ok_or_else(|| ApiError::gone("finished", "this interview is no longer running"))
}

fn offer_error(e: OfferError) -> ApiError {
    match e {
        OfferError::Invalid(PeerError::Malformed(m)) => {
            ApiError::bad_request("malformed_sdp", format!("the offer is not valid SDP: {m}"))
        }
        OfferError::Invalid(PeerError::NoVideo) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_video",
            "the offer has no video; the interview needs the camera",
        ),
        OfferError::Invalid(PeerError::UnsupportedCodec { kind, offered }) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_codec",
            format!(
                "no supported {kind} codec in the offer (need VP8 or H.264 video, Opus audio; offered: {})",
                if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
            ),
        ),
        OfferError::Invalid(e) => ApiError::internal(e),
        OfferError::Ended => ApiError::gone("finished", "this interview has ended"),
        OfferError::NotReady(m) => {
            eprintln!("warning: offer refused: {m}");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the service cannot take the call right now")
        }
    }
}

pub async fn whip_offer(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let limit = state.cfg.max_offer_bytes;
    let body = body.map_err(|e| body_error(e, limit))?;
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("offers are limited to {limit} bytes"),
        ));
    }
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.trim().to_ascii_lowercase().starts_with("application/sdp") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_sdp",
            "the offer must be sent as application/sdp",
        ));
    }
    let row = by_token(&state, &token).await?;
    ensure_open(&row)?;
    check_resume_key(&row, bearer(&headers))?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("malformed_sdp", "the offer is not UTF-8 text"))?
        .to_owned();
    let handle = actor(&state, &row)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle
        .tx
        .send(SessionMsg::Offer { sdp, reply: tx })
        .await
        .map_err(|_| ApiError::gone("finished", "this interview has ended"))?;
    let answer = rx.await.map_err(|_| ApiError::gone("finished", "this interview has ended"))?.map_err(offer_error)?;
    let location = format!("/whip/{token}/{}", answer.peer);
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, "application/sdp")
        .header(header::LOCATION, location)
        .body(Body::from(answer.sdp))
        .map_err(ApiError::internal)
}

pub async fn whip_delete(
    State(state): State<Arc<AppState>>,
    Path((token, peer)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let row = by_token(&state, &token).await?;
    check_resume_key(&row, bearer(&headers))?;
    let peer: u32 = peer.parse().map_err(|_| ApiError::not_found("connection"))?;
    if let Some(h) = state.session(&row.id) {
        let _ = h.tx.send(SessionMsg::HangUp { peer: Some(peer) }).await;
    }
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
pub struct WsQuery {
    key: Option<String>,
}

pub async fn control_ws(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let row = by_token(&state, &token).await?;
    ensure_open(&row)?;
    check_resume_key(&row, q.key.as_deref())?;
    let handle = actor(&state, &row)?;
    Ok(ws
        .max_message_size(crate::session::control::MAX_CLIENT_MESSAGE * 2)
        .on_upgrade(move |socket| control_loop(socket, handle)))
}

async fn control_loop(mut socket: WebSocket, handle: SessionHandle) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ServerMsg>(64);
    if handle.tx.send(SessionMsg::Attach(tx)).await.is_err() {
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(msg) => {
                    let Ok(text) = serde_json::to_string(&msg) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // The session replaced this channel or ended.
                None => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match ClientMsg::parse(text.as_str()) {
                    Ok(m) => {
                        if handle.tx.send(SessionMsg::Client(m)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let err = ServerMsg::Error { code: "bad_message".into(), message: e.to_string() };
                        if let Ok(t) = serde_json::to_string(&err) {
                            let _ = socket.send(Message::Text(t.into())).await;
                        }
                    }
                },
                Some(Ok(Message::Binary(_))) => {
                    let err = ServerMsg::Error { code: "bad_message".into(), message: "binary messages are not used".into() };
                    if let Ok(t) = serde_json::to_string(&err) {
                        let _ = socket.send(Message::Text(t.into())).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}
