//! The console's HTML pages and static files. A page needs a login (else `302` to `/console/login`) and the
//! page's permission (else a small `403` HTML page); the pages themselves are `index.html` of the console's web
//! folder (a single-page app reading the URL), the login page `login.html` when present.

use super::login::{NoLogin, current};
use crate::auth::Permission;
use crate::server::AppState;
use crate::server::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

const FORBIDDEN_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Forbidden</title>\
    </head><body><h1>Forbidden</h1><p>Your role does not allow this page.</p><p><a href=\"/console\">Console</a> · \
    <a href=\"/console/login\">Log in as someone else</a></p></body></html>";

async fn gated(state: &AppState, headers: &HeaderMap, need: Permission) -> Result<Response, ApiError> {
    match current(state, headers).await? {
        Err(NoLogin::Missing) => Ok((StatusCode::FOUND, [(header::LOCATION, "/console/login")]).into_response()),
        Err(NoLogin::UnknownRole) => Ok((StatusCode::FORBIDDEN, Html(FORBIDDEN_PAGE)).into_response()),
        Ok(staff) if !staff.can(need) => Ok((StatusCode::FORBIDDEN, Html(FORBIDDEN_PAGE)).into_response()),
        Ok(_) => serve_file(state, "index.html").await,
    }
}

pub async fn queue_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    gated(&state, &headers, Permission::QueueView).await
}

pub async fn session_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(_id): Path<String>,
) -> Result<Response, ApiError> {
    gated(&state, &headers, Permission::SessionView).await
}

pub async fn audit_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    gated(&state, &headers, Permission::AuditView).await
}

pub async fn admin_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    gated(&state, &headers, Permission::UsersManage).await
}

pub async fn login_page(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    if state.cfg.console_web_dir.join("login.html").is_file() {
        serve_file(&state, "login.html").await
    } else {
        serve_file(&state, "index.html").await
    }
}

pub async fn static_file(State(state): State<Arc<AppState>>, Path(path): Path<String>) -> Result<Response, ApiError> {
    serve_file(&state, &path).await
}

async fn serve_file(state: &AppState, rel: &str) -> Result<Response, ApiError> {
    let (bytes, mime) = crate::server::read_web_file(&state.cfg.console_web_dir, rel).await?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use crate::server::safe_rel_path;

    #[test]
    fn static_paths_stay_in_the_web_folder() {
        for bad in ["", "../x", "a/../../b", "/etc/passwd", ".env", "a/.git/config", "a//b", "a\\b", "a%2e"] {
            assert!(!safe_rel_path(bad), "{bad:?}");
        }
        for good in ["app.js", "lib/plots.js", "style.css"] {
            assert!(safe_rel_path(good), "{good:?}");
        }
    }
}
