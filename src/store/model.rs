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
