//! `StoreError`: what can go wrong in the store. Display texts name the operation and a category only: never SQL,
//! never a database URL (which may carry a password). The driver error stays available as `source()` for the
//! server log.

use super::Dialect;
use std::path::PathBuf;

/// Errors from the store. Callers map `NotFound` / `Conflict` / `Invalid` to 4xx, the rest to 5xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:` / `postgresql:`. Only the scheme is kept.
    #[error("unsupported database URL scheme {scheme:?} (use sqlite:// or postgres://)")]
    UnsupportedUrl { scheme: String },
    #[error("cannot create data directory {path}: {error}")]
    DataDir { path: PathBuf, error: std::io::Error },
    /// Could not open the database; `reason` is a fixed category (authentication failed, unreachable ...).
    #[error("cannot connect to the {dialect} database: {reason}")]
    Connect {
        dialect: Dialect,
        reason: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The migration list or the recorded schema versions make no sense (a database newer than this build, a
    /// renamed migration, versions out of order).
    #[error("database schema: {problem}")]
    Schema { problem: String },
    /// A migration's SQL failed; the transaction was rolled back and nothing of it is applied.
    #[error("migration {version} ({name}) failed: {kind}")]
    Migration {
        version: i64,
        name: &'static str,
        kind: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A unique key is taken (session id or join token).
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// An argument the store refuses (unknown decision, negative limit ...).
    #[error("invalid {what}: {problem}")]
    Invalid { what: &'static str, problem: String },
    /// A stored value this build cannot read (an unknown state name ...).
    #[error("stored {what} is unreadable: {problem}")]
    Corrupt { what: &'static str, problem: String },
    /// The audit head file (`<data>/audit-head`) could not be written.
    #[error("cannot write the audit head file {path}: {error}")]
    AuditHead { path: PathBuf, error: std::io::Error },
    /// The OS random generator failed (new ids).
    #[error("the system random generator failed")]
    Random,
    /// Any other database failure during `op`; `kind` is a fixed category.
    #[error("database {op} failed: {kind}")]
    Database {
        op: &'static str,
        kind: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// A fixed, secret-free category for a driver error.
pub(crate) fn kind_of(e: &sqlx::Error) -> &'static str {
    use sqlx::error::ErrorKind;
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => "unique key violation",
            ErrorKind::ForeignKeyViolation => "foreign key violation",
            ErrorKind::NotNullViolation => "missing required value",
            ErrorKind::CheckViolation => "check constraint violation",
            _ => match db.code().as_deref() {
                Some("28P01") | Some("28000") => "authentication failed",
                Some("3D000") => "database does not exist",
                Some("5") | Some("6") | Some("517") | Some("40P01") | Some("40001") => "database busy",
                _ => "database error",
            },
        },
        sqlx::Error::Configuration(_) => "invalid connection options",
        sqlx::Error::Io(_) => "database unreachable",
        sqlx::Error::Tls(_) => "TLS failure",
        sqlx::Error::Protocol(_) => "protocol error",
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection",
        sqlx::Error::PoolClosed => "store is closed",
        sqlx::Error::WorkerCrashed => "database worker crashed",
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => "unreadable row",
        sqlx::Error::Encode(_) => "unencodable value",
        _ => "database error",
    }
}

/// `map_err` helper: any driver error during `op` → `StoreError::Database`.
pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { op, kind: kind_of(&source), source }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}
