//! `facereview serve`: one process serving the lender API, the applicant page, WHIP-style signalling and the
//! control WebSocket (`docs/live-protocol.md`), with the session actors and the store behind them.
//!
//! The server holds only addresses of session actors (a registry of handles) and read-only shared state; each
//! session's state lives in its actor. Graceful shutdown: stop accepting, ask every live session to finalise
//! (recording, verdict), then exit.
//!
//! The reviewer console (`/console`, [`crate::console`]) is merged into the same router; at start-up, a store
//! without console accounts gets its first admin ([`crate::store::bootstrap_first_admin`]).
//!
//! May use axum/tokio, `store`, `session`, `console` and the file system (static files).

mod api;
mod applicant;
pub mod error;

use crate::session::{SessionHandle, Shared};
use axum::Router;
use axum::routing::{delete, get, post};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Server settings (validated by the binary from flags and environment).
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Base URL the join links use (default `http://<listen>`).
    pub public_url: String,
    pub data_dir: PathBuf,
    /// Where the applicant page's files are (`web/applicant`).
    pub web_dir: PathBuf,
    /// Where the reviewer console's files are (`web/console`).
    pub console_web_dir: PathBuf,
    /// Review deadline of a flagged session, counted from its verdict (`serve --review-sla-hours`).
    pub review_sla_hours: f64,
    pub api_key: String,
    /// Most sessions with a running actor (consented, live or being analysed) at once.
    pub max_sessions: usize,
    /// Largest SDP offer accepted.
    pub max_offer_bytes: usize,
    /// Largest session-creation request (it may carry a reference photo).
    pub max_create_bytes: usize,
    pub default_ttl: Duration,
    pub retention_days: u32,
}

pub const DEFAULT_MAX_OFFER: usize = 64 * 1024;
pub const DEFAULT_MAX_CREATE: usize = 8 * 1024 * 1024;

/// Version of the consent text shown to applicants (recorded with each consent).
pub const CONSENT_VERSION: &str = "2026-11-1";

pub struct AppState {
    pub cfg: ServeConfig,
    pub shared: Arc<Shared>,
    pub sessions: Mutex<HashMap<String, SessionHandle>>,
    /// The reviewer console's in-memory state.
    pub console: crate::console::ConsoleState,
    api_key_sha256: [u8; 32],
}

impl AppState {
    pub fn new(cfg: ServeConfig, shared: Arc<Shared>) -> Arc<AppState> {
        let api_key_sha256 = Sha256::digest(cfg.api_key.as_bytes()).into();
        Arc::new(AppState {
            cfg,
            shared,
            sessions: Mutex::new(HashMap::new()),
            console: crate::console::ConsoleState::default(),
            api_key_sha256,
        })
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn session(&self, id: &str) -> Option<SessionHandle> {
        self.sessions().get(id).filter(|h| h.is_running()).cloned()
    }

    pub fn running(&self) -> usize {
        self.sessions().values().filter(|h| h.is_running()).count()
    }

    /// Constant-time comparison of a presented API key (hashes compared byte by byte without early exit).
    fn api_key_ok(&self, presented: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        h.iter().zip(self.api_key_sha256.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/sessions", post(api::create_session).get(api::list_sessions))
        .route("/api/sessions/{id}", get(api::get_session))
        .route("/api/sessions/{id}/verdict", get(api::get_verdict))
        .route("/api/sessions/{id}/events", get(api::get_events))
        .route("/join/{token}", get(applicant::page))
        .route("/api/join/{token}", get(applicant::join_info))
        .route("/api/join/{token}/consent", post(applicant::consent))
        .route("/whip/{token}", post(applicant::whip_offer))
        .route("/whip/{token}/{peer}", delete(applicant::whip_delete))
        .route("/ws/{token}", get(applicant::control_ws))
        .route("/static/applicant/{*path}", get(applicant::static_file))
        .route("/healthz", get(api::health))
        // Bodies up to the creation limit (a reference photo); each handler checks its own, smaller limit.
        .layer(axum::extract::DefaultBodyLimit::max(state.cfg.max_create_bytes))
        .with_state(state.clone())
        .merge(crate::console::router(state))
}

/// Creates the first console admin when the store has no account, and says once where its password is.
pub async fn bootstrap_console(state: &AppState) -> Result<(), crate::store::BootstrapError> {
    if let Some(path) = crate::store::bootstrap_first_admin(&state.shared.store, &state.cfg.data_dir, now_ms()).await? {
        eprintln!(
            "console: created the first account `{}`; its password is in {} (readable by this user only)",
            crate::store::INITIAL_ADMIN_USERNAME,
            path.display()
        );
    }
    Ok(())
}

/// Serves until `shutdown` resolves, then finalises every running session (bounded by `finalise_timeout`).
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    finalise_timeout: Duration,
) -> std::io::Result<()> {
    if let Err(e) = bootstrap_console(&state).await {
        return Err(std::io::Error::other(format!("creating the first console account: {e}")));
    }
    let app = router(state.clone());
    let expiry = tokio::spawn(expire_loop(state.clone()));
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    expiry.abort();
    finalise_all(&state, finalise_timeout).await;
    Ok(())
}

/// Asks every running session to end and waits for their verdicts (at most `timeout`).
pub async fn finalise_all(state: &AppState, timeout: Duration) {
    let handles: Vec<SessionHandle> = state.sessions().values().cloned().collect();
    let mut waits = Vec::new();
    for h in handles {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if h.tx.send(crate::session::SessionMsg::Shutdown(tx)).await.is_ok() {
            waits.push(rx);
        }
    }
    let n = waits.len();
    if n > 0 {
        eprintln!("shutdown: finalising {n} session(s)");
    }
    let all = async {
        for w in waits {
            let _ = w.await;
        }
    };
    if tokio::time::timeout(timeout, all).await.is_err() {
        eprintln!("shutdown: some sessions did not finish within {} s", timeout.as_secs());
    }
}

/// Marks waiting sessions whose join link expired, and removes console logins past their expiry.
async fn expire_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        if let Err(e) = state.shared.store.expire_stale(now_ms()).await {
            eprintln!("warning: expiring sessions: {e}");
        }
        n += 1;
        if n % 6 == 1 {
            let idle = crate::auth::LoginPolicy::default().idle_ms;
            if let Err(e) = state.shared.store.delete_expired_logins(now_ms(), idle).await {
                eprintln!("warning: expiring console logins: {e}");
            }
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, error::ApiError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(error::ApiError::internal)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
}

/// The API key: `FACEREVIEW_API_KEY`, else `<data>/api_key` (created 0600 on first start).
pub fn load_or_create_api_key(data_dir: &std::path::Path) -> std::io::Result<(String, Option<PathBuf>)> {
    if let Ok(k) = std::env::var("FACEREVIEW_API_KEY")
        && !k.trim().is_empty()
    {
        return Ok((k.trim().to_owned(), None));
    }
    let path = data_dir.join("api_key");
    if let Ok(k) = std::fs::read_to_string(&path)
        && !k.trim().is_empty()
    {
        return Ok((k.trim().to_owned(), Some(path)));
    }
    std::fs::create_dir_all(data_dir)?;
    let key = random_hex(32).map_err(|e| std::io::Error::other(e.message))?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(&path)?;
        f.write_all(key.as_bytes())?;
    }
    Ok((key, Some(path)))
}

/// Whether a path under a web folder is safe to join (plain components of `A-Z a-z 0-9 . _ -`, no dot files).
pub fn safe_rel_path(rel: &str) -> bool {
    !rel.is_empty()
        && rel.len() <= 256
        && rel.split('/').all(|c| !c.is_empty() && !c.starts_with('.'))
        && rel.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

/// Reads a static file of a web folder (the applicant page, the console): its bytes and content type. An unsafe or
/// missing path is a plain 404.
pub async fn read_web_file(dir: &std::path::Path, rel: &str) -> Result<(Vec<u8>, &'static str), error::ApiError> {
    if !safe_rel_path(rel) {
        return Err(error::ApiError::not_found("file"));
    }
    let path = dir.join(rel);
    let bytes = tokio::fs::read(&path).await.map_err(|_| error::ApiError::not_found("file"))?;
    let mime = match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    };
    Ok((bytes, mime))
}
