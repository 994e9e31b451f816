//! The reviewer console: axum router under `/console` (pages, JSON API, recording and frame serving, evidence
//! export), cookie logins with CSRF protection, role checks and audit logging (see docs/console.md).
//!
//! - [`login`]: the `fr_console` cookie, the [`login::Staff`] extractor (login, idle and absolute expiry, CSRF
//!   token and `Origin` checks on every state-changing request), login / logout / me.
//! - [`pages`]: the HTML pages (302 to the login page without a login, 403 HTML without the page's permission) and
//!   `/console/static/*` from the console's web folder.
//! - [`api`]: queue, session detail, decisions, assignment, audit log and verification, accounts.
//! - [`media`]: recording parts with HTTP `Range`, evidence frames (cached in the session folder).
//! - [`export`]: the evidence bundle (zip with a self-contained `report.html` and `SHA256SUMS`).
//! - [`queue`]: pure helpers (SLA state, query parsing, queue items); [`timeline`]: the timelines written at the
//!   end of a call (pure); [`files`]: bounded reads from a session folder with validated ids.
//!
//! Every view, decision, export and login appends an audit entry (actor = the console username) and updates the
//! audit head file. Every console response carries the security headers ([`SECURITY_HEADERS`]). Errors to clients
//! never carry paths or SQL.
//!
//! May use axum/tokio, `store`, `auth`, `media::still`, `server::error` and the data folder (session folders,
//! the audit head, exports' temporary files).

mod api;
mod export;
pub mod files;
pub mod login;
mod media;
mod pages;
pub mod queue;
pub mod timeline;

use crate::server::AppState;
use crate::server::error::ApiError;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The login cookie.
pub const COOKIE: &str = "fr_console";
/// Where the login cookie is sent.
pub const COOKIE_PATH: &str = "/console";
/// The request header carrying the login's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";
/// Headers every console response carries (unless the handler set its own value).
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", CSP),
    ("cross-origin-opener-policy", "same-origin"),
];
/// Largest JSON body the console API reads.
pub const MAX_BODY: usize = 64 * 1024;
/// Frame extractions running at once (each decodes from a keyframe).
const FRAME_WORKERS: usize = 2;
/// Remembered "already audited" keys before the memory is cleared (a new audit entry per view then).
const MAX_SEEN: usize = 100_000;

/// The console's in-memory state (the rest lives in the store).
pub struct ConsoleState {
    /// `(login, session, what)` already audited in this process: recording parts and frames are audited once per
    /// login, not per range request.
    seen: Mutex<HashSet<String>>,
    /// Bounds concurrent frame extractions.
    pub(crate) frames: tokio::sync::Semaphore,
}

impl Default for ConsoleState {
    fn default() -> Self {
        ConsoleState { seen: Mutex::new(HashSet::new()), frames: tokio::sync::Semaphore::new(FRAME_WORKERS) }
    }
}

impl ConsoleState {
    /// `true` the first time `key` is seen (so the caller audits it).
    pub(crate) fn first_time(&self, key: String) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_SEEN {
            seen.clear();
        }
        seen.insert(key)
    }
}

/// The `/console` routes, with their state applied (merge into the app's router).
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/console/api/login", post(login::login))
        .route("/console/api/logout", post(login::logout))
        .route("/console/api/me", get(login::me))
        .route("/console/api/queue", get(api::queue))
        .route("/console/api/sessions/{id}", get(api::session))
        .route("/console/api/sessions/{id}/recording/{index}", get(media::recording))
        .route("/console/api/sessions/{id}/frame", get(media::frame))
        .route("/console/api/sessions/{id}/decision", post(api::decide))
        .route("/console/api/sessions/{id}/assign", post(api::assign))
        .route("/console/api/sessions/{id}/export", get(export::export))
        .route("/console/api/audit", get(api::audit_log))
        .route("/console/api/audit/verify", get(api::audit_verify))
        .route("/console/api/users", get(api::users).post(api::add_user))
        .route("/console/api/users/{username}", post(api::update_user))
        // Unknown API paths answer in the API's JSON (the app's other 404s stay as they are).
        .route("/console/api/{*rest}", any(api_not_found));
    let pages = Router::new()
        .route("/console", get(pages::queue_page))
        .route("/console/", get(pages::queue_page))
        .route("/console/login", get(pages::login_page))
        .route("/console/sessions/{id}", get(pages::session_page))
        .route("/console/audit", get(pages::audit_page))
        .route("/console/admin", get(pages::admin_page))
        .route("/console/static/{*path}", get(pages::static_file));
    Router::new()
        .merge(api)
        .merge(pages)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Unknown API paths: `401` without a login (as every API path), else `404`.
async fn api_not_found(_staff: login::Staff) -> ApiError {
    ApiError::not_found("console resource")
}

/// Adds [`SECURITY_HEADERS`] where the handler did not set them.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    r
}

/// `403 forbidden` (a permission the login's role lacks).
pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// Appends an audit entry and updates the head file. A failure is logged and answered as an internal error: an
/// action that cannot be audited does not happen silently.
pub(crate) async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    session_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = crate::store::NewAudit { t_ms: crate::server::now_ms(), actor, action, session_id, detail: &detail };
    state.shared.store.append_audit_and_head(&entry, &state.cfg.data_dir).await.map_err(ApiError::internal)?;
    Ok(())
}
