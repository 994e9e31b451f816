//! Voiceprint enrolment records (schema v2): which voiceprint ids exist, of which kind, from which recording (by
//! hash), when and by whom. The voiceprints themselves live only in the encrypted voiceprint store
//! (`crate::voiceprints`); these rows hold no biometric data. What it may touch: `voiceprint_enrolments`.

use super::error::db;
use super::model::{NewVoiceprintEnrolment, VOICEPRINT_KINDS, VoiceprintEnrolmentRow};
use super::{Store, StoreError, no_nul};
use sqlx::Row;

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Store {
    /// Records an enrolment, replacing the record of the same id (re-enrolling replaces the voiceprint too).
    /// `Invalid` for an unknown kind, a hash that is not 64 lowercase hex characters, or an empty id or author.
    pub async fn put_voiceprint_enrolment(&self, e: &NewVoiceprintEnrolment<'_>) -> Result<(), StoreError> {
        let invalid = |problem: &str| StoreError::Invalid { what: "voiceprint enrolment", problem: problem.to_owned() };
        if !VOICEPRINT_KINDS.contains(&e.kind) {
            return Err(invalid("kind must be applicant or blocked"));
        }
        if !is_sha256_hex(e.file_sha256) || e.source_sha256.is_some_and(|s| !is_sha256_hex(s)) {
            return Err(invalid("hashes must be 64 lowercase hex characters"));
        }
        if e.id.is_empty()
            || e.id.chars().count() > 200
            || e.created_by.is_empty()
            || e.created_by.chars().count() > 200
        {
            return Err(invalid("id and author must be 1..=200 characters"));
        }
        no_nul(&[e.id, e.created_by])?;
        let op = "record voiceprint enrolment";
        let mut tx = self.pool.begin().await.map_err(db(op))?;
        sqlx::query("DELETE FROM voiceprint_enrolments WHERE id = $1")
            .bind(e.id)
            .execute(&mut *tx)
            .await
            .map_err(db(op))?;
        sqlx::query(
            "INSERT INTO voiceprint_enrolments (id, kind, file_sha256, source_sha256, created_at_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.id)
        .bind(e.kind)
        .bind(e.file_sha256)
        .bind(e.source_sha256)
        .bind(e.created_at_ms)
        .bind(e.created_by)
        .execute(&mut *tx)
        .await
        .map_err(db(op))?;
        tx.commit().await.map_err(db(op))
    }

    /// Removes the record of `id`; `true` when there was one.
    pub async fn remove_voiceprint_enrolment(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM voiceprint_enrolments WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db("remove voiceprint enrolment"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every enrolment record, by id.
    pub async fn list_voiceprint_enrolments(&self) -> Result<Vec<VoiceprintEnrolmentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, file_sha256, source_sha256, created_at_ms, created_by FROM voiceprint_enrolments \
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("list voiceprint enrolments"))?;
        rows.iter()
            .map(|r| {
                Ok(VoiceprintEnrolmentRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    file_sha256: r.try_get("file_sha256")?,
                    source_sha256: r.try_get("source_sha256")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                    created_by: r.try_get("created_by")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("list voiceprint enrolments"))
    }
}
