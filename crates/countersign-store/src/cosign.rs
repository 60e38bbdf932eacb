//! Approvals awaiting co-signatures (`cosign_pending`): the signed decision body and the
//! signatures collected so far, for a draft that stays pending until the quorum is met.

use countersign_core::cosign::Required;
use countersign_core::Envelope;
use rusqlite::{params, OptionalExtension};

use crate::audit::{append, AuditEvent};
use crate::{Result, Store, StoreError};

/// A draft's approval that waits for more signers.
#[derive(Debug, Clone, PartialEq)]
pub struct CosignRow {
    /// The draft.
    pub action_id: String,
    /// The decision body (exact bytes in `payload`) and the signatures so far.
    pub envelope: Envelope,
    /// What the decision needs in all.
    pub required: Required,
    /// When the first signature was recorded (Unix seconds).
    pub created_at: i64,
}

fn envelope_json(envelope: &Envelope) -> Result<String> {
    serde_json::to_string(envelope).map_err(|e| StoreError::Corrupt {
        table: "cosign_pending",
        column: "envelope_json",
        message: e.to_string(),
    })
}

/// Detail of the `action.awaiting_cosign` audit row.
pub(crate) fn awaiting_detail(
    row: &CosignRow,
    shown_digest: &str,
    approver: &str,
    keyid: &str,
) -> serde_json::Value {
    serde_json::json!({
        "approver": approver, "keyid": keyid, "action_digest": shown_digest,
        "required": {"approvals": row.required.approvals, "lead": row.required.lead},
    })
}

/// A stored approval awaiting co-signatures; the envelope JSON is parsed strictly
/// ([`countersign_core::json::parse_strict`]).
pub(crate) fn cosign_row(
    action_id: &str,
    json: &str,
    approvals: u32,
    lead: bool,
    created_at: i64,
) -> Result<CosignRow> {
    let corrupt = |message: String| StoreError::Corrupt {
        table: "cosign_pending",
        column: "envelope_json",
        message,
    };
    let value = countersign_core::json::parse_strict(json.as_bytes())
        .map_err(|e| corrupt(e.to_string()))?;
    let envelope = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    Ok(CosignRow {
        action_id: action_id.into(),
        envelope,
        required: Required { approvals, lead },
        created_at,
    })
}

/// The stored status of a draft for [`Store::record_awaiting_cosign`]: `Ok` when it is
/// pending, else why not (`None`: no draft with that id and digest).
pub(crate) fn check_cosignable(action_id: &str, status: Option<&str>) -> Result<()> {
    match status {
        None => Err(StoreError::NotFound(action_id.into())),
        Some("pending") => Ok(()),
        Some(other) => Err(StoreError::NotPending {
            id: action_id.into(),
            status: other.into(),
        }),
    }
}

/// The error when a draft already awaits co-signatures (the record exists).
pub(crate) fn already_awaiting(action_id: &str) -> StoreError {
    StoreError::NotPending {
        id: action_id.into(),
        status: "awaiting co-signature".into(),
    }
}

/// The error when a draft no longer awaits co-signatures.
pub(crate) fn not_awaiting(action_id: &str) -> StoreError {
    StoreError::NotPending {
        id: action_id.into(),
        status: "no longer awaiting co-signature".into(),
    }
}

impl Store {
    /// Records the first approver's signature of draft `row.action_id` as awaiting
    /// co-signatures, with an audit row (`action.awaiting_cosign`: approver, key id, digest) in
    /// the same transaction. The draft must still be pending with `shown_digest`, and have no
    /// such record yet.
    ///
    /// # Errors
    /// [`StoreError::NotPending`] when the draft was decided or already awaits co-signatures
    /// (status `awaiting co-signature`), [`StoreError::NotFound`], SQLite errors.
    pub fn record_awaiting_cosign(
        &self,
        row: &CosignRow,
        shown_digest: &str,
        approver: &str,
        keyid: &str,
    ) -> Result<()> {
        let json = envelope_json(&row.envelope)?;
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.record_awaiting_cosign(row, &json, shown_digest, approver, keyid),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM actions WHERE id = ?1 AND action_digest = ?2",
                params![row.action_id, shown_digest],
                |r| r.get(0),
            )
            .optional()?;
        check_cosignable(&row.action_id, status.as_deref())?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO cosign_pending (action_id, envelope_json, approvals, lead, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.action_id,
                json,
                row.required.approvals,
                row.required.lead,
                row.created_at
            ],
        )?;
        if inserted != 1 {
            return Err(already_awaiting(&row.action_id));
        }
        append(
            &tx,
            row.created_at,
            AuditEvent::AwaitingCosign,
            Some(&row.action_id),
            &awaiting_detail(row, shown_digest, approver, keyid),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The approval of `action_id` awaiting co-signatures, if any.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn awaiting_cosign(&self, action_id: &str) -> Result<Option<CosignRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.awaiting_cosign(action_id),
        };
        let row = conn
            .query_row(
                "SELECT envelope_json, approvals, lead, created_at FROM cosign_pending WHERE action_id = ?1",
                [action_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((json, approvals, lead, created_at)) = row else {
            return Ok(None);
        };
        cosign_row(action_id, &json, approvals, lead, created_at).map(Some)
    }

    /// Every approval awaiting co-signatures (one query; the team queue shows who signed).
    ///
    /// # Errors
    /// Database errors or unreadable stored JSON.
    pub fn all_awaiting_cosign(&self) -> Result<Vec<CosignRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.all_awaiting_cosign(),
        };
        let mut stmt = conn.prepare(
            "SELECT action_id, envelope_json, approvals, lead, created_at FROM cosign_pending",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json, approvals, lead, created_at) = row?;
            out.push(cosign_row(&id, &json, approvals, lead, created_at)?);
        }
        Ok(out)
    }

    /// Replaces the collected signatures of `action_id` with `envelope` (same body, more
    /// signatures) and appends an `action.cosigned` audit row naming the new signers' key ids,
    /// in one transaction; the draft must still await co-signatures.
    ///
    /// # Errors
    /// [`StoreError::NotPending`] when it no longer awaits co-signatures; SQLite errors.
    pub fn add_cosignatures(
        &self,
        action_id: &str,
        envelope: &Envelope,
        new_signers: &[String],
        at: i64,
    ) -> Result<()> {
        let json = envelope_json(envelope)?;
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.add_cosignatures(action_id, &json, new_signers, at),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE cosign_pending SET envelope_json = ?1 WHERE action_id = ?2",
            params![json, action_id],
        )?;
        if changed != 1 {
            return Err(not_awaiting(action_id));
        }
        append(
            &tx,
            at,
            AuditEvent::Cosigned,
            Some(action_id),
            &serde_json::json!({ "signers": new_signers }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the approval of `action_id` awaiting co-signatures (its signed body expired
    /// before the quorum was met), with an `action.cosign_expired` audit row; the draft stays
    /// pending. A no-op when there is none.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn clear_awaiting_cosign(&self, action_id: &str, at: i64) -> Result<()> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.clear_awaiting_cosign(action_id, at),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let removed = tx.execute(
            "DELETE FROM cosign_pending WHERE action_id = ?1",
            [action_id],
        )?;
        if removed == 1 {
            append(
                &tx,
                at,
                AuditEvent::CosignExpired,
                Some(action_id),
                &serde_json::json!({}),
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
