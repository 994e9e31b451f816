//! The store's plain data: session states, the rows it returns and the arguments it takes. No SQL here.

use super::StoreError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A live session's life cycle (docs/live-protocol.md): `waiting` → `live` → `analysing` → `verdict`, or `expired`
/// (never went live in time) or `failed` (analysis could not run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Waiting,
    Live,
    Analysing,
    Verdict,
    Expired,
    Failed,
}

impl SessionState {
    pub const ALL: [SessionState; 6] = [
        SessionState::Waiting,
        SessionState::Live,
        SessionState::Analysing,
        SessionState::Verdict,
        SessionState::Expired,
        SessionState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Waiting => "waiting",
            SessionState::Live => "live",
            SessionState::Analysing => "analysing",
            SessionState::Verdict => "verdict",
            SessionState::Expired => "expired",
            SessionState::Failed => "failed",
        }
    }

    /// The call is over once a session enters one of these: `set_state` stamps `ended_at_ms` (once).
    pub fn ends_call(self) -> bool {
        matches!(self, SessionState::Analysing | SessionState::Verdict | SessionState::Expired | SessionState::Failed)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        SessionState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StoreError::Invalid { what: "session state", problem: format!("unknown state {s:?}") })
    }
}

/// The decisions a verdict may carry (as `fusion::Decision::as_str`).
pub const DECISIONS: [&str; 3] = ["pass", "review", "reject"];

pub(crate) fn check_decision(decision: &str) -> Result<(), StoreError> {
    if DECISIONS.contains(&decision) {
        Ok(())
    } else {
        Err(StoreError::Invalid { what: "decision", problem: format!("{decision:?} is not pass, review or reject") })
    }
}

/// A session as the lender API creates it. The session starts `waiting`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSession {
    pub id: String,
    pub applicant_ref: String,
    /// Hex sha256 of the join token; the token itself is never stored.
    pub token_sha256: String,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
    /// The creation request as JSON, without the reference photo bytes.
    pub request_json: String,
}

/// One stored session. Times are Unix milliseconds. The token and resume-key hashes are not serialised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub applicant_ref: String,
    pub state: SessionState,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// When the applicant consented on the first device (`claim_join`).
    pub joined_at_ms: Option<i64>,
    /// When the call ended (entering analysing, verdict, expired or failed).
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
    #[serde(skip_serializing)]
    pub token_sha256: String,
    #[serde(skip_serializing)]
    pub resume_key_sha256: Option<String>,
    pub request_json: String,
    /// `pass` | `review` | `reject` once the verdict is in.
    pub decision: Option<String>,
    pub verdict_json: Option<String>,
    pub decided_at_ms: Option<i64>,
    pub recording_dir: Option<String>,
    pub quality_json: Option<String>,
    pub updated_at_ms: i64,
}

/// One entry of a session's append-only event log. `id` grows with insertion order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub session_id: String,
    /// Wall clock, Unix milliseconds.
    pub t_ms: i64,
    /// Media clock (nanoseconds since the session's first media), when known.
    pub media_ns: Option<i64>,
    pub kind: String,
    pub data_json: String,
}

/// One evidence item of a verdict, flattened for the reviewer console's filters; the full item is `data_json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceRow {
    /// Check kind: `liveness`, `voice`, `location` ...
    pub check: String,
    /// Stable signal id, e.g. `liveness.rigid_motion`.
    pub signal: String,
    /// `observed` | `missing` | `unavailable`.
    pub state: String,
    /// `supports` | `concern` | `neutral` when observed.
    pub finding: Option<String>,
    /// The check's confidence in [0, 1] when observed.
    pub score: Option<f64>,
    /// The evidence item as JSON (as in the verdict's evidence list).
    pub data_json: String,
}

/// Filters for `list_sessions` / `count_sessions`. Newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionQuery {
    pub state: Option<SessionState>,
    /// `pass` | `review` | `reject`.
    pub decision: Option<String>,
    pub applicant_ref: Option<String>,
    /// Only sessions created at or after this time.
    pub created_from_ms: Option<i64>,
    /// Only sessions created before this time.
    pub created_before_ms: Option<i64>,
    /// 1 ..= `SessionQuery::MAX_LIMIT`.
    pub limit: i64,
    pub offset: i64,
}

impl SessionQuery {
    pub const MAX_LIMIT: i64 = 1000;
}

impl Default for SessionQuery {
    fn default() -> Self {
        SessionQuery {
            state: None,
            decision: None,
            applicant_ref: None,
            created_from_ms: None,
            created_before_ms: None,
            limit: 50,
            offset: 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Console accounts (schema v2)

/// One console account. `role` is the stored text (parse it with `auth::Role`; an unknown role is refused there).
/// The password hash is never serialised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub disabled: bool,
    /// Failed logins counted in the current window (see `Store::login_failed`).
    pub failed_logins: i64,
    /// Logins are refused until this time (Unix ms) when set and in the future.
    pub locked_until_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// A new account. `role` must be one of `auth::Role`'s names; `password_hash` an argon2 PHC string.
#[derive(Clone, Copy, Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserUpdate<'a> {
    pub role: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub disabled: Option<bool>,
}

/// A console login (cookie) to store; `last_seen_ms` starts at `created_at_ms`.
#[derive(Clone, Copy, Debug)]
pub struct NewLogin<'a> {
    /// sha256 of the cookie value (the value itself is never stored).
    pub token_sha256: &'a str,
    pub user_id: &'a str,
    pub csrf_token: &'a str,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A stored console login. Not serialisable: it holds the CSRF token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRow {
    pub token_sha256: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub last_seen_ms: i64,
    pub expires_at_ms: i64,
}

// ---------------------------------------------------------------------------------------------------------------
// Review (schema v2)

/// The reviewer actions, and the `review_status` each leaves the session in.
pub const REVIEW_ACTIONS: [(&str, &str); 3] =
    [("approve", "approved"), ("reject", "rejected"), ("escalate", "escalated")];

/// A reviewer's decision on a session.
#[derive(Clone, Copy, Debug)]
pub struct NewReviewDecision<'a> {
    pub session_id: &'a str,
    pub user_id: &'a str,
    /// `approve` | `reject` | `escalate`.
    pub action: &'a str,
    pub reason: &'a str,
    pub created_at_ms: i64,
}

/// A stored reviewer decision with its author's names. `seq` counts 1, 2, 3 ... per session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewDecisionRow {
    pub seq: i64,
    pub action: String,
    pub reason: String,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub created_at_ms: i64,
}

/// Which sessions the review queue shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueueStatus {
    /// Verdict `review` or `reject`, or analysis failed, and no reviewer decision yet.
    #[default]
    Open,
    /// The last reviewer decision escalated it.
    Escalated,
    /// Approved or rejected by a reviewer.
    Decided,
    /// Every session with a verdict (any decision) or a failed analysis, and any session a reviewer decided on.
    All,
}

/// Filter on the assigned reviewer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    Any,
    /// Unassigned sessions only.
    Nobody,
    /// Sessions assigned to this user id.
    User(String),
}

/// Queue order. Age counts from the verdict (or, for a failed analysis, from the end of the call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueueSort {
    /// Oldest first.
    #[default]
    AgeAsc,
    /// Newest first.
    AgeDesc,
    /// Highest risk score first (sessions without one last), then oldest first.
    RiskDesc,
    /// Lowest risk score first (sessions without one last), then oldest first.
    RiskAsc,
}

/// The review queue's filters and page.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueQuery {
    pub status: QueueStatus,
    /// `pass` | `review` | `reject`.
    pub decision: Option<String>,
    /// Only sessions with a non-pass reason whose code starts with this (ASCII case-insensitive); empty = any.
    pub reason_prefix: Option<String>,
    pub assignee: AssigneeFilter,
    pub sort: QueueSort,
    /// 1 ..= `SessionQuery::MAX_LIMIT`.
    pub limit: i64,
    pub offset: i64,
}

impl Default for QueueQuery {
    fn default() -> Self {
        QueueQuery {
            status: QueueStatus::Open,
            decision: None,
            reason_prefix: None,
            assignee: AssigneeFilter::Any,
            sort: QueueSort::AgeAsc,
            limit: 50,
            offset: 0,
        }
    }
}

/// One queue item: the session and its review state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueRow {
    pub session: SessionRow,
    /// `None` = not reviewed yet (open); else `approved` | `rejected` | `escalated`.
    pub review_status: Option<String>,
    pub assignee_user_id: Option<String>,
    pub assignee_username: Option<String>,
    /// Space-separated codes of the verdict's non-pass reasons, in the verdict's order.
    pub reason_codes: Option<String>,
    /// The verdict's `risk_score`.
    pub risk_score: Option<f64>,
    /// When the last reviewer decision was made.
    pub reviewed_at_ms: Option<i64>,
}

// ---------------------------------------------------------------------------------------------------------------
// Audit log (schema v2)

/// An audit entry to append; the store assigns `seq` and the hashes.
#[derive(Clone, Copy, Debug)]
pub struct NewAudit<'a> {
    pub t_ms: i64,
    /// `cli:<unix user>`, `system`, or a console username.
    pub actor: &'a str,
    /// One of docs/console.md's actions (`login`, `decision`, `user.add` ...).
    pub action: &'a str,
    pub session_id: Option<&'a str>,
    pub detail: &'a serde_json::Value,
}

/// A stored audit entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub t_ms: i64,
    pub actor: String,
    pub action: String,
    pub session_id: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the audit chain (and, with `Store::verify_audit_with_head`, the head file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    pub ok: bool,
    /// Entries in the log.
    pub entries: i64,
    /// The first entry found wrong (for rows missing after the newest one: the first missing `seq`).
    pub first_bad_seq: Option<i64>,
    /// What is wrong, in words.
    pub problem: Option<String>,
    /// The newest entry that verified, `(seq, hash)`: the log's newest when `ok`, else the last good one before the
    /// problem.
    pub head: Option<(i64, String)>,
}

// ---------------------------------------------------------------------------------------------------------------
// Voiceprint enrolments (schema v2)

/// The kinds of voiceprint enrolment.
pub const VOICEPRINT_KINDS: [&str; 2] = ["applicant", "blocked"];

/// A record that a voiceprint was enrolled (the voiceprint itself lives in the encrypted voiceprint store).
#[derive(Clone, Copy, Debug)]
pub struct NewVoiceprintEnrolment<'a> {
    /// The voiceprint id (applicant or fraud-case id).
    pub id: &'a str,
    /// `applicant` | `blocked`.
    pub kind: &'a str,
    /// sha256 of the recording the voiceprint was made from.
    pub file_sha256: &'a str,
    /// sha256 of the recording's name as given (the name itself stays in the encrypted store), if any.
    pub source_sha256: Option<&'a str>,
    pub created_at_ms: i64,
    /// Who enrolled it (`cli:<user>` or a console username).
    pub created_by: &'a str,
}

/// A stored voiceprint enrolment record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VoiceprintEnrolmentRow {
    pub id: String,
    pub kind: String,
    pub file_sha256: String,
    pub source_sha256: Option<String>,
    pub created_at_ms: i64,
    pub created_by: String,
}
