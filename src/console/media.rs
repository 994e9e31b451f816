//! Recording parts and evidence frames for the console.
//!
//! - `GET /sessions/{id}/recording/{index}`: the part as recorded, served by tower-http's `ServeFile` (HTTP
//!   `Range`, conditional requests) as `video/webm`; audited as `recording.view` once per part per login.
//! - `GET /sessions/{id}/frame?t=<ns>`: the decoded frame at session media time `t` (to the 40 ms step), at most
//!   640 px wide, extracted by [`crate::media::still`] on a blocking thread (two at a time) and cached as
//!   `<session>/frames/p<part>-<ms>.jpg`; `404` outside the recording. Audited as `frame.view` once per session
//!   per login.

use super::api::session_row;
use super::audit;
use super::files::{self, PartFile};
use super::login::Staff;
use crate::auth::Permission;
use crate::media::still::{self, StillError};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::types::MediaTime;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::ServeFile;

/// Frames are cached per step of this many ns (one frame at 25 fps).
pub const FRAME_STEP_NS: u64 = 40_000_000;
/// Most cached frames per session (beyond that, frames are served without being kept).
pub const MAX_CACHED_FRAMES: usize = 2000;
/// Largest cached frame read back.
const MAX_FRAME_BYTES: u64 = 4 << 20;
/// How far past a part's recorded end a time may be and still show its last frame.
const END_SLACK_NS: u64 = 1_000_000_000;

async fn parts_of(state: &AppState, id: &str) -> Result<(PathBuf, Vec<PartFile>), ApiError> {
    session_row(state, id).await?;
    let dir = files::session_dir(&state.cfg.data_dir, id).ok_or_else(|| ApiError::not_found("session"))?;
    let d = dir.clone();
    let parts = tokio::task::spawn_blocking(move || files::recording_parts(&d))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((dir, parts))
}

/// `GET|HEAD /console/api/sessions/{id}/recording/{index}`.
pub async fn recording(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path((id, index)): Path<(String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    staff.require(Permission::RecordingView)?;
    let index: usize = index.parse().map_err(|_| ApiError::not_found("recording part"))?;
    let (_, parts) = parts_of(&state, &id).await?;
    let part =
        parts.iter().find(|p| p.index == index && p.bytes > 0).ok_or_else(|| ApiError::not_found("recording part"))?;
    if state.console.first_time(format!("rec:{}:{id}:{index}", staff.login_key())) {
        audit(&state, staff.username(), "recording.view", Some(&id), json!({"part": index, "file": part.file})).await?;
    }
    let resp = ServeFile::new(&part.path).try_call(req).await.map_err(ApiError::internal)?;
    let mut resp = resp.map(axum::body::Body::new);
    if matches!(resp.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/webm"));
    }
    Ok(resp)
}

/// The cache file name of a frame.
pub fn frame_file_name(part_index: usize, local_ns: u64) -> String {
    let ms = local_ns / FRAME_STEP_NS * FRAME_STEP_NS / 1_000_000;
    format!("p{part_index}-{ms:09}.jpg")
}

/// `GET /console/api/sessions/{id}/frame?t=<ns>`.
pub async fn frame(
    State(state): State<Arc<AppState>>,
    staff: Staff,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    staff.require(Permission::RecordingView)?;
    let t: u64 = params
        .get("t")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request("bad_query", "t must be a media time in nanoseconds"))?;
    let (dir, parts) = parts_of(&state, &id).await?;
    let jpeg = frame_jpeg(&state, &dir, &parts, t).await?;
    if state.console.first_time(format!("frame:{}:{id}", staff.login_key())) {
        audit(&state, staff.username(), "frame.view", Some(&id), json!({"t": t})).await?;
    }
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

fn outside() -> ApiError {
    ApiError::not_found("frame at that time (outside the recording)")
}

/// The JPEG of the frame at session time `t`, from the cache or extracted (and cached).
pub(crate) async fn frame_jpeg(
    state: &AppState,
    dir: &std::path::Path,
    parts: &[PartFile],
    t: u64,
) -> Result<Vec<u8>, ApiError> {
    let (part, local) = files::part_at(parts, t).ok_or_else(outside)?;
    if part.end_ns.is_some_and(|end| t > end.saturating_add(END_SLACK_NS)) {
        return Err(outside());
    }
    let step = local / FRAME_STEP_NS * FRAME_STEP_NS;
    let cache_dir = dir.join("frames");
    let cached = cache_dir.join(frame_file_name(part.index, local));
    let c = cached.clone();
    if let Some(bytes) = tokio::task::spawn_blocking(move || files::read_bounded(&c, MAX_FRAME_BYTES))
        .await
        .map_err(ApiError::internal)?
        .ok()
        .flatten()
        .filter(|b| b.starts_with(&[0xFF, 0xD8]))
    {
        return Ok(bytes);
    }
    let _permit = state.console.frames.acquire().await.map_err(ApiError::internal)?;
    let path = part.path.clone();
    let extracted = tokio::task::spawn_blocking(move || {
        let still = still::extract_jpeg(&path, MediaTime(step), still::MAX_WIDTH, still::JPEG_QUALITY)?;
        // Keep it unless the cache is full; a failed write only costs a later re-extraction.
        let _ = store_in_cache(&cache_dir, &cached, &still.jpeg);
        Ok::<_, StillError>(still.jpeg)
    })
    .await
    .map_err(ApiError::internal)?;
    match extracted {
        Ok(j) => Ok(j),
        Err(StillError::OutOfRange { .. }) => Err(outside()),
        Err(StillError::NoVideo) => Err(ApiError::not_found("video in this recording part")),
        Err(e) => {
            eprintln!("error: frame of {} at {t} ns: {e}", dir.display());
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "frame_unavailable",
                "the recording could not be decoded at that time",
            ))
        }
    }
}

fn store_in_cache(cache_dir: &std::path::Path, file: &std::path::Path, jpeg: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(cache_dir)?;
    if std::fs::read_dir(cache_dir)?.take(MAX_CACHED_FRAMES + 1).count() >= MAX_CACHED_FRAMES {
        return Ok(());
    }
    let mut rnd = [0u8; 6];
    getrandom::fill(&mut rnd).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = cache_dir.join(format!(".tmp-{}", rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    std::fs::write(&tmp, jpeg)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_cache_names_step_by_forty_milliseconds() {
        assert_eq!(frame_file_name(0, 0), "p0-000000000.jpg");
        assert_eq!(frame_file_name(1, 1_039_999_999), "p1-000001000.jpg");
        assert_eq!(frame_file_name(1, 1_040_000_000), "p1-000001040.jpg");
        assert_eq!(frame_file_name(2, 61_234_567_890), "p2-000061200.jpg");
    }
}
