//! Console logins: `POST /console/api/login` (argon2 check on a blocking thread, lockout through the store, the
//! same `401 bad_credentials` for an unknown user, a wrong password and a disabled account), the `fr_console`
//! cookie (HttpOnly, SameSite=Strict, Path=/console, Secure behind https), logout and me, and the [`Staff`]
//! extractor every other console handler takes.
//!
//! [`Staff`] finds the login by the cookie's sha256, ends it when it is past its absolute expiry or idle too long,
//! refuses a disabled account or an unknown role, and on any method but GET/HEAD checks the `X-CSRF-Token` header
//! against the login's token and a present `Origin` against the server's origin (`403 csrf`).

use super::{COOKIE, COOKIE_PATH, CSRF_HEADER, audit, forbidden};
use crate::auth::{self, LoginPolicy, Permission, Role};
use crate::server::error::ApiError;
use crate::server::{AppState, now_ms};
use crate::store::{LoginRow, NewLogin, UserRow};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

/// Logins are touched (idle clock) at most this often.
const TOUCH_EVERY_MS: i64 = 15_000;

/// A logged-in console user.
#[derive(Clone, Debug)]
pub struct Staff {
    pub user: UserRow,
    pub role: Role,
    pub login: LoginRow,
}

impl Staff {
    pub fn can(&self, p: Permission) -> bool {
        self.role.can(p)
    }

    /// `403 forbidden` unless the role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.can(p) { Ok(()) } else { Err(forbidden(format!("your role cannot do this ({} needed)", p.as_str()))) }
    }

    pub fn username(&self) -> &str {
        &self.user.username
    }

    /// The audit key of this login (never the cookie itself).
    pub fn login_key(&self) -> &str {
        &self.login.token_sha256
    }
}

/// Why a request has no usable login.
#[derive(Debug)]
pub enum NoLogin {
    /// No cookie, an unknown or expired one, or a disabled account.
    Missing,
    /// A login exists but its role is not one this build knows.
    UnknownRole,
}

/// The user JSON of login and me.
pub fn user_json(user: &UserRow, role: Role) -> Value {
    json!({
        "username": user.username,
        "display_name": user.display_name,
        "role": role,
        "permissions": role.permissions(),
    })
}

/// The `fr_console` cookie's value, when it looks like one of ours (64 lowercase hex).
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| k.trim() == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// `scheme://host[:port]` of a URL, lowercased.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!scheme.is_empty() && !host.is_empty()).then(|| format!("{}://{}", scheme, host).to_ascii_lowercase())
}

/// Whether a request's `Origin` (when present) is this server: the public URL's origin, or the host the request
/// was sent to (a browser sets `Host` to the server it talks to, so a page elsewhere cannot match it).
pub fn origin_ok(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().to_ascii_lowercase();
    if origin_of(public_url).is_some_and(|o| o == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(|h| h.trim().to_ascii_lowercase());
    match (origin.split_once("://"), host) {
        (Some((scheme, h)), Some(host)) => (scheme == "http" || scheme == "https") && h == host,
        _ => false,
    }
}

fn csrf_error(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "csrf", message)
}

/// The request's login, if any, with expiry applied (an expired login is deleted). No CSRF check here.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Result<Staff, NoLogin>, ApiError> {
    let Some(token) = cookie_token(headers) else { return Ok(Err(NoLogin::Missing)) };
    let sha = auth::token_sha256(&token);
    let store = &state.shared.store;
    let Some((login, user)) = store.login_by_token(&sha).await? else { return Ok(Err(NoLogin::Missing)) };
    let now = now_ms();
    let policy = LoginPolicy::default();
    if now >= login.expires_at_ms || now.saturating_sub(login.last_seen_ms) > policy.idle_ms || user.disabled {
        store.delete_login(&sha).await?;
        return Ok(Err(NoLogin::Missing));
    }
    let Ok(role) = Role::from_str(&user.role) else {
        eprintln!("warning: console user {} has an unknown role; access refused", user.username);
        return Ok(Err(NoLogin::UnknownRole));
    };
    if now - login.last_seen_ms >= TOUCH_EVERY_MS {
        store.touch_login(&sha, now).await?;
    }
    Ok(Ok(Staff { user, role, login }))
}

impl FromRequestParts<Arc<AppState>> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Staff, ApiError> {
        let staff = match current(state, &parts.headers).await? {
            Ok(s) => s,
            Err(NoLogin::Missing) => return Err(ApiError::unauthorized()),
            Err(NoLogin::UnknownRole) => return Err(forbidden("your account's role is not recognised")),
        };
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let presented = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !auth::constant_time_eq(presented, staff.login.csrf_token.as_bytes()) {
                return Err(csrf_error("missing or wrong X-CSRF-Token"));
            }
            if !origin_ok(&parts.headers, &state.cfg.public_url) {
                return Err(csrf_error("cross-origin request refused"));
            }
        }
        Ok(staff)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

/// A hash no password matches, verified when the username is unknown so both answers take the same time.
fn dummy_hash() -> Option<&'static str> {
    static H: OnceLock<Option<String>> = OnceLock::new();
    H.get_or_init(|| auth::hash_password("not a password of anyone's; equalises timing").ok()).as_deref()
}

fn cookie_header(state: &AppState, value: &str, max_age_s: i64) -> Result<HeaderValue, ApiError> {
    let secure = state.cfg.public_url.to_ascii_lowercase().starts_with("https://");
    let c = format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&c).map_err(ApiError::internal)
}

/// `POST /console/api/login`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !origin_ok(&headers, &state.cfg.public_url) {
        return Err(csrf_error("cross-origin request refused"));
    }
    let body = body.map_err(|e| crate::server::error::body_error(e, super::MAX_BODY))?;
    let req: LoginBody = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("bad_json", "the body must be {\"username\", \"password\"}"))?;
    let username = req.username.trim().to_owned();
    let bad = || ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong username or password");
    if auth::validate_username(&username).is_err() || req.password.is_empty() || req.password.len() > 4096 {
        return Err(bad());
    }
    let store = &state.shared.store;
    let policy = LoginPolicy::default();
    let now = now_ms();
    let user = store.user_by_name(&username).await?;
    if let Some(u) = &user
        && u.locked_until_ms.is_some_and(|t| t > now)
    {
        let wait_s = (u.locked_until_ms.unwrap_or(now) - now).max(0) / 1000 + 1;
        audit(&state, &username, "login.failed", None, json!({"reason": "locked"})).await?;
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked",
            "too many failed logins: this account is locked for a while, try again later",
        )
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_s));
        return Ok(r);
    }
    let phc = user.as_ref().map(|u| u.password_hash.clone()).or(dummy_hash().map(str::to_owned));
    let password = req.password;
    let matches = tokio::task::spawn_blocking(move || phc.is_some_and(|h| auth::verify_password(&password, &h)))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        Some(u) => {
            store.login_failed(&u.username, now, &policy).await?;
            let why = if u.disabled { "disabled" } else { "bad_password" };
            audit(&state, &u.username, "login.failed", None, json!({"reason": why})).await?;
            return Err(bad());
        }
        None => {
            audit(&state, &username, "login.failed", None, json!({"reason": "unknown_user"})).await?;
            return Err(bad());
        }
    };
    let Ok(role) = Role::from_str(&user.role) else {
        eprintln!("warning: console user {} has an unknown role; login refused", user.username);
        return Err(forbidden("your account's role is not recognised"));
    };
    store.login_succeeded(&user.id).await?;
    let token = auth::new_token().map_err(ApiError::internal)?;
    let csrf = auth::new_token().map_err(ApiError::internal)?;
    let sha = auth::token_sha256(&token);
    store
        .create_login(&NewLogin {
            token_sha256: &sha,
            user_id: &user.id,
            csrf_token: &csrf,
            created_at_ms: now,
            expires_at_ms: now + policy.absolute_ms,
        })
        .await?;
    audit(&state, &user.username, "login", None, json!({"role": role})).await?;
    let cookie = cookie_header(&state, &token, policy.absolute_ms / 1000)?;
    let body = json!({"user": user_json(&user, role), "csrf_token": csrf});
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(r)
}

/// `POST /console/api/logout`.
pub async fn logout(State(state): State<Arc<AppState>>, staff: Staff) -> Result<Response, ApiError> {
    state.shared.store.delete_login(&staff.login.token_sha256).await?;
    audit(&state, staff.username(), "logout", None, json!({})).await?;
    let mut r = Json(json!({"ok": true})).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie_header(&state, "", 0)?);
    Ok(r)
}

/// `GET /console/api/me`.
pub async fn me(staff: Staff) -> Json<Value> {
    Json(json!({"user": user_json(&staff.user, staff.role), "csrf_token": staff.login.csrf_token}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(kv: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in kv {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others_and_must_look_like_a_token() {
        let t = "a".repeat(64);
        let h = headers(&[("cookie", &format!("x=1; {COOKIE}={t}; y=2"))]);
        assert_eq!(cookie_token(&h), Some(t.clone()));
        let h = headers(&[("cookie", "x=1"), ("cookie", &format!("{COOKIE}={t}"))]);
        assert_eq!(cookie_token(&h), Some(t));
        for bad in ["short", &"G".repeat(64), &"A".repeat(64)] {
            let h = headers(&[("cookie", &format!("{COOKIE}={bad}"))]);
            assert_eq!(cookie_token(&h), None, "{bad}");
        }
        assert_eq!(cookie_token(&HeaderMap::new()), None);
    }

    #[test]
    fn origins_must_be_this_server() {
        let public = "https://review.example.com/base";
        assert_eq!(origin_of(public).as_deref(), Some("https://review.example.com"));
        assert!(origin_ok(&headers(&[]), public), "no Origin header: same-origin or non-browser client");
        assert!(origin_ok(&headers(&[("origin", "https://review.example.com")]), public));
        assert!(!origin_ok(&headers(&[("origin", "https://evil.example")]), public));
        assert!(!origin_ok(&headers(&[("origin", "null")]), public));
        // The host the browser talked to counts as this server.
        let h = headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]);
        assert!(origin_ok(&h, "http://localhost:8080"));
        let h = headers(&[("origin", "http://127.0.0.1:9999"), ("host", "127.0.0.1:8080")]);
        assert!(!origin_ok(&h, "http://localhost:8080"));
    }
}
