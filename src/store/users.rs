//! Console accounts and logins (schema v2): create, read, update users; failed-login counting and lockout; login
//! rows keyed by the sha256 of the cookie; and [`bootstrap_first_admin`], which creates the first `admin` account
//! when there is none and leaves its generated password in the data directory.
//!
//! Roles and usernames are checked with `crate::auth` (pure). What it may touch: the `users` and `console_logins`
//! tables, the audit log (bootstrap only) and, for the bootstrap, `<data>/initial-admin-password` and the audit
//! head file. Passwords arrive already hashed, except in the bootstrap, which generates one.

use super::error::{db, is_foreign_key_violation, is_unique_violation};
use super::model::{LoginRow, NewAudit, NewLogin, NewUser, UserRow, UserUpdate};
use super::{PG_USERS_LOCK_KEY, Store, StoreError, no_nul, random_hex};
use crate::auth::{self, AuthError, LoginPolicy, Role};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::io::Write;
use std::path::{Path, PathBuf};

const USER_COLUMNS: &str =
    "id, username, display_name, role, password_hash, disabled, failed_logins, locked_until_ms, created_at_ms";
/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 128;

/// The account [`bootstrap_first_admin`] creates.
pub const INITIAL_ADMIN_USERNAME: &str = "admin";
/// The file in the data directory that receives the first admin's password.
pub const INITIAL_ADMIN_FILE: &str = "initial-admin-password";

fn invalid(what: &'static str, e: impl ToString) -> StoreError {
    StoreError::Invalid { what, problem: e.to_string() }
}

fn check_role(role: &str) -> Result<(), StoreError> {
    role.parse::<Role>().map(|_| ()).map_err(|e| invalid("role", e))
}

fn check_display_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(invalid("display name", "empty"));
    }
    if name.chars().count() > DISPLAY_NAME_MAX_CHARS {
        return Err(invalid("display name", format!("longer than {DISPLAY_NAME_MAX_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("display name", "contains control characters"));
    }
    Ok(())
}

fn check_password_hash(phc: &str) -> Result<(), StoreError> {
    // A PHC string, never a plain password by mistake.
    if !phc.starts_with("$argon2") || phc.len() > 512 {
        return Err(invalid("password hash", "not an argon2 PHC string"));
    }
    no_nul(&[phc])
}

fn user_row(r: &AnyRow) -> Result<UserRow, StoreError> {
    let row = || -> Result<UserRow, sqlx::Error> {
        Ok(UserRow {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            role: r.try_get("role")?,
            password_hash: r.try_get("password_hash")?,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            failed_logins: r.try_get("failed_logins")?,
            locked_until_ms: r.try_get("locked_until_ms")?,
            created_at_ms: r.try_get("created_at_ms")?,
        })
    };
    row().map_err(db("read user"))
}

impl Store {
    /// Creates an account with id `u_<16 hex>`. The username must pass `auth::validate_username`, the role be
    /// known, the display name 1–128 printable characters, the hash an argon2 PHC string (else `Invalid`).
    /// `Conflict` when the username is taken.
    pub async fn create_user(&self, u: &NewUser<'_>, now_ms: i64) -> Result<UserRow, StoreError> {
        auth::validate_username(u.username).map_err(|e| invalid("username", e))?;
        check_role(u.role)?;
        check_display_name(u.display_name)?;
        check_password_hash(u.password_hash)?;
        let id = format!("u_{}", random_hex(8)?);
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, password_hash, disabled, failed_logins, \
             created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6)",
        )
        .bind(&id)
        .bind(u.username)
        .bind(u.display_name)
        .bind(u.role)
        .bind(u.password_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) { StoreError::Conflict { what: "username" } } else { db("create user")(e) }
        })?;
        Ok(UserRow {
            id,
            username: u.username.to_owned(),
            display_name: u.display_name.to_owned(),
            role: u.role.to_owned(),
            password_hash: u.password_hash.to_owned(),
            disabled: false,
            failed_logins: 0,
            locked_until_ms: None,
            created_at_ms: now_ms,
        })
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = sqlx::query(&sql).bind(username).fetch_optional(&self.pool).await.map_err(db("read user"))?;
        row.as_ref().map(user_row).transpose()
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(db("read user"))?;
        row.as_ref().map(user_row).transpose()
    }

    /// Every account, by username.
    pub async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(db("list users"))?;
        rows.iter().map(user_row).collect()
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await.map_err(db("count users"))?;
        row.try_get("n").map_err(db("count users"))
    }

    /// Applies `u` to the account `username` in one transaction and returns the result. Disabling ends the
    /// user's logins; enabling, or a new password, clears the failed-login count and any lock. Demoting or
    /// disabling the last enabled admin is `Invalid` (and nothing changes). `NotFound` for an unknown username.
    pub async fn update_user(&self, username: &str, u: &UserUpdate<'_>, now_ms: i64) -> Result<UserRow, StoreError> {
        if let Some(role) = u.role {
            check_role(role)?;
        }
        if let Some(name) = u.display_name {
            check_display_name(name)?;
        }
        if let Some(phc) = u.password_hash {
            check_password_hash(phc)?;
        }
        let op = "update user";
        // Serialised with other account changes, so two admins demoting each other cannot both succeed.
        let mut tx = self.locked_tx(op, PG_USERS_LOCK_KEY).await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let Some(before) = sqlx::query(&sql).bind(username).fetch_optional(&mut *tx).await.map_err(db(op))? else {
            return Err(StoreError::NotFound { what: "user" });
        };
        let before = user_row(&before)?;
        let reset_lock = u.password_hash.is_some() || u.disabled == Some(false);
        let done = sqlx::query(
            "UPDATE users SET role = COALESCE($2, role), display_name = COALESCE($3, display_name), \
             password_hash = COALESCE($4, password_hash), disabled = COALESCE($5, disabled), \
             failed_logins = CASE WHEN $6 = 1 THEN 0 ELSE failed_logins END, \
             first_failure_ms = CASE WHEN $6 = 1 THEN NULL ELSE first_failure_ms END, \
             locked_until_ms = CASE WHEN $6 = 1 THEN NULL ELSE locked_until_ms END, \
             updated_at_ms = $7 WHERE username = $1",
        )
        .bind(username)
        .bind(u.role)
        .bind(u.display_name)
        .bind(u.password_hash)
        .bind(u.disabled.map(i64::from))
        .bind(i64::from(reset_lock))
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "user" });
        }
        let was_admin = before.role == Role::Admin.as_str() && !before.disabled;
        let stays_admin =
            u.role.unwrap_or(&before.role) == Role::Admin.as_str() && !u.disabled.unwrap_or(before.disabled);
        if was_admin && !stays_admin {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_one(&mut *tx)
                .await
                .map_err(db(op))?;
            let admins: i64 = row.try_get("n").map_err(db(op))?;
            if admins == 0 {
                return Err(invalid("user update", "it would leave no enabled admin account"));
            }
        }
        if u.disabled == Some(true) {
            sqlx::query("DELETE FROM console_logins WHERE user_id = (SELECT id FROM users WHERE username = $1)")
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(db(op))?;
        }
        let row = sqlx::query(&sql).bind(username).fetch_one(&mut *tx).await.map_err(db(op))?;
        let user = user_row(&row)?;
        tx.commit().await.map_err(db(op))?;
        Ok(user)
    }

    /// Counts a failed login for `username` (nothing for an unknown one): failures older than the policy's window
    /// start a new count; reaching `max_failures` within the window sets `locked_until_ms = now + lock_ms`. One
    /// statement, so concurrent failures are all counted.
    pub async fn login_failed(&self, username: &str, now_ms: i64, policy: &LoginPolicy) -> Result<(), StoreError> {
        let window_start = now_ms.saturating_sub(policy.failure_window_ms);
        sqlx::query(
            "UPDATE users SET \
             failed_logins = CASE WHEN first_failure_ms IS NULL OR first_failure_ms <= $3 THEN 1 \
                                  ELSE failed_logins + 1 END, \
             first_failure_ms = CASE WHEN first_failure_ms IS NULL OR first_failure_ms <= $3 THEN $2 \
                                     ELSE first_failure_ms END, \
             locked_until_ms = CASE WHEN (CASE WHEN first_failure_ms IS NULL OR first_failure_ms <= $3 THEN 1 \
                                               ELSE failed_logins + 1 END) >= $4 THEN $5 \
                                    ELSE locked_until_ms END \
             WHERE username = $1",
        )
        .bind(username)
        .bind(now_ms)
        .bind(window_start)
        .bind(i64::from(policy.max_failures))
        .bind(now_ms.saturating_add(policy.lock_ms))
        .execute(&self.pool)
        .await
        .map_err(db("count failed login"))?;
        Ok(())
    }

    /// A successful login: clears the failure count and any lock.
    pub async fn login_succeeded(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, first_failure_ms = NULL, locked_until_ms = NULL WHERE id = $1",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(db("record login"))?;
        Ok(())
    }

    /// Stores a login. `NotFound` for an unknown user, `Conflict` for a token hash already in use.
    pub async fn create_login(&self, l: &NewLogin<'_>) -> Result<(), StoreError> {
        no_nul(&[l.token_sha256, l.csrf_token])?;
        sqlx::query(
            "INSERT INTO console_logins (token_sha256, user_id, csrf_token, created_at_ms, last_seen_ms, \
             expires_at_ms) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(l.token_sha256)
        .bind(l.user_id)
        .bind(l.csrf_token)
        .bind(l.created_at_ms)
        .bind(l.expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::NotFound { what: "user" }
            } else if is_unique_violation(&e) {
                StoreError::Conflict { what: "login token" }
            } else {
                db("create login")(e)
            }
        })?;
        Ok(())
    }

    /// The login whose cookie hashes to `token_sha256`, with its user. Expiry and idle time are the caller's
    /// policy (compare `expires_at_ms` and `last_seen_ms` with the clock).
    pub async fn login_by_token(&self, token_sha256: &str) -> Result<Option<(LoginRow, UserRow)>, StoreError> {
        let sql = format!(
            "SELECT l.token_sha256, l.user_id, l.csrf_token, l.created_at_ms AS login_created_at_ms, l.last_seen_ms, \
             l.expires_at_ms, {} FROM console_logins l JOIN users u ON u.id = l.user_id WHERE l.token_sha256 = $1",
            USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        );
        let op = "read login";
        let Some(r) = sqlx::query(&sql).bind(token_sha256).fetch_optional(&self.pool).await.map_err(db(op))? else {
            return Ok(None);
        };
        let login = || -> Result<LoginRow, sqlx::Error> {
            Ok(LoginRow {
                token_sha256: r.try_get("token_sha256")?,
                user_id: r.try_get("user_id")?,
                csrf_token: r.try_get("csrf_token")?,
                created_at_ms: r.try_get("login_created_at_ms")?,
                last_seen_ms: r.try_get("last_seen_ms")?,
                expires_at_ms: r.try_get("expires_at_ms")?,
            })
        };
        Ok(Some((login().map_err(db(op))?, user_row(&r)?)))
    }

    /// Records activity on a login (for the idle limit).
    pub async fn touch_login(&self, token_sha256: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_logins SET last_seen_ms = $2 WHERE token_sha256 = $1 AND last_seen_ms < $2")
            .bind(token_sha256)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(db("touch login"))?;
        Ok(())
    }

    /// Ends a login (logout). Deleting an unknown login is not an error.
    pub async fn delete_login(&self, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_logins WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await
            .map_err(db("delete login"))?;
        Ok(())
    }

    /// Deletes the logins past `expires_at_ms`, or idle for `idle_ms` or more; returns how many.
    pub async fn delete_expired_logins(&self, now_ms: i64, idle_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM console_logins WHERE expires_at_ms <= $1 OR last_seen_ms <= $2")
            .bind(now_ms)
            .bind(now_ms.saturating_sub(idle_ms))
            .execute(&self.pool)
            .await
            .map_err(db("delete expired logins"))?;
        Ok(done.rows_affected())
    }
}

/// Why [`bootstrap_first_admin`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot write the initial admin password to {path}: {error}")]
    File { path: PathBuf, error: std::io::Error },
}

/// When the store has no account: creates `admin` (role admin, display name "Administrator") with a generated
/// 24-character password, writes the password to `<data_dir>/initial-admin-password` (mode 0600), audits
/// `user.add` with actor `system` (and updates the audit head file), and returns the file's path. `None` when any
/// account exists, also when another process created the first one at the same moment.
///
/// The password goes to a new temporary file (create-new, 0600) first and is renamed into place once the account
/// exists, so a crash never leaves an admin whose password was not written, and a stale file from an earlier
/// database is replaced rather than followed.
pub async fn bootstrap_first_admin(
    store: &Store,
    data_dir: &Path,
    now_ms: i64,
) -> Result<Option<PathBuf>, BootstrapError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = auth::generate_password()?;
    let hash = auth::hash_password(&password)?;
    let path = data_dir.join(INITIAL_ADMIN_FILE);
    let tmp = data_dir.join(format!(".{INITIAL_ADMIN_FILE}.{}.tmp", random_hex(8)?));
    let file_err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| BootstrapError::File { path, error }
    };
    std::fs::create_dir_all(data_dir).map_err(file_err(data_dir))?;
    write_private_new(&tmp, format!("{password}\n").as_bytes()).map_err(file_err(&tmp))?;
    let new = NewUser {
        username: INITIAL_ADMIN_USERNAME,
        display_name: "Administrator",
        role: Role::Admin.as_str(),
        password_hash: &hash,
    };
    let user = match store.create_user(&new, now_ms).await {
        Ok(u) => u,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return match e {
                StoreError::Conflict { .. } => Ok(None),
                e => Err(e.into()),
            };
        }
    };
    std::fs::rename(&tmp, &path).map_err(file_err(&path))?;
    let detail = serde_json::json!({
        "username": user.username,
        "role": user.role,
        "display_name": user.display_name,
        "bootstrap": true,
    });
    let entry = NewAudit { t_ms: now_ms, actor: "system", action: "user.add", session_id: None, detail: &detail };
    store.append_audit_and_head(&entry, data_dir).await?;
    Ok(Some(path))
}

/// Creates `path` (never an existing file or link) with mode 0600 and writes `bytes`, synced.
fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
