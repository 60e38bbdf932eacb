//! The audit log: one row per event, in the same transaction as the state change it records.
//! Rows form a hash chain: `hash = SHA-256(prev_hash || JCS({seq, at, event, action_id, detail}))`
//! with `prev_hash` of the first row = 64 zeros, so editing, deleting or reordering a row breaks
//! every later hash.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::row::{audit_row, collect, AUDIT_COLUMNS};
use crate::{Result, Store};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// An agent identity was created.
    AgentAdded,
    /// A draft was submitted.
    Submitted,
    /// A human approved.
    Approved,
    /// A human rejected.
    Rejected,
    /// A draft expired undecided.
    Expired,
    /// A webhook delivery attempt.
    Delivery,
    /// A lead-signed policy was put in force (detail: serial, sha256, signers, source).
    PolicyLoaded,
    /// A policy was refused; the previous one stayed in force (detail: the reason, and the
    /// offered file's sha256 and serial when they could be read).
    PolicyRefused,
    /// An approver signed a draft that needs more signers; it awaits a co-signature.
    AwaitingCosign,
    /// A co-signature was added, the quorum is not met yet.
    Cosigned,
    /// An approval awaiting co-signatures expired before the quorum was met.
    CosignExpired,
    /// A lead-signed team roster was put in force (detail: team, serial, sha256, signers).
    RosterLoaded,
    /// An approver logged in to the team API (detail: team, keyid, approver, expires_at).
    TeamLogin,
    /// An approver session was ended (detail: keyid).
    TeamLogout,
}

impl AuditEvent {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::AgentAdded => "agent.added",
            AuditEvent::Submitted => "action.submitted",
            AuditEvent::Approved => "action.approved",
            AuditEvent::Rejected => "action.rejected",
            AuditEvent::Expired => "action.expired",
            AuditEvent::Delivery => "decision.delivery",
            AuditEvent::PolicyLoaded => "policy.loaded",
            AuditEvent::PolicyRefused => "policy.refused",
            AuditEvent::AwaitingCosign => "action.awaiting_cosign",
            AuditEvent::Cosigned => "action.cosigned",
            AuditEvent::CosignExpired => "action.cosign_expired",
            AuditEvent::RosterLoaded => "team.roster_loaded",
            AuditEvent::TeamLogin => "team.login",
            AuditEvent::TeamLogout => "team.logout",
        }
    }
}

/// One audit row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// Sequence number, from 1.
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Event name.
    pub event: String,
    /// The draft concerned.
    pub action_id: Option<String>,
    /// Event details (JSON).
    pub detail: Value,
    /// Previous row's hash (hex).
    pub prev_hash: String,
    /// This row's hash (hex).
    pub hash: String,
}

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(crate) fn row_hash(
    prev: &str,
    seq: i64,
    at: i64,
    event: &str,
    action_id: Option<&str>,
    detail: &Value,
) -> String {
    let body = serde_json::json!({
        "seq": seq, "at": at, "event": event, "action_id": action_id, "detail": detail,
    });
    let canonical = countersign_core::digest::canonical_json(&body).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(&canonical);
    hex::encode(h.finalize())
}

/// The next row of the chain after `last` (its `seq` and `hash`; `None` for an empty log):
/// `(seq, prev_hash, hash)`.
pub(crate) fn next_link(
    last: Option<(i64, String)>,
    at: i64,
    event: AuditEvent,
    action_id: Option<&str>,
    detail: &Value,
) -> (i64, String, String) {
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let hash = row_hash(&prev, seq, at, event.as_str(), action_id, detail);
    (seq, prev, hash)
}

pub(crate) fn append(
    tx: &Transaction<'_>,
    at: i64,
    event: AuditEvent,
    action_id: Option<&str>,
    detail: &Value,
) -> Result<()> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev, hash) = next_link(last, at, event, action_id, detail);
    tx.execute(
        "INSERT INTO audit (seq, at, event, action_id, detail_json, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, at, event.as_str(), action_id, detail.to_string(), prev, hash],
    )?;
    Ok(())
}

impl Store {
    /// Appends an audit row in its own transaction (for events with no other state change).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn audit(
        &self,
        at: i64,
        event: AuditEvent,
        action_id: Option<&str>,
        detail: &Value,
    ) -> Result<()> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.audit(at, event, action_id, detail),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        append(&tx, at, event, action_id, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// All audit rows in order.
    ///
    /// # Errors
    /// SQLite errors, or unreadable detail JSON.
    pub fn audit_rows(&self) -> Result<Vec<AuditRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.audit_rows(),
        };
        let mut stmt = conn.prepare(&format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq"))?;
        collect(&mut stmt, [], |r| audit_row(r))
    }

    /// Re-computes the hash chain; returns the sequence number of the first broken row.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn verify_audit_chain(&self) -> Result<Option<i64>> {
        let mut prev = GENESIS.to_string();
        for (expected_seq, row) in (1..).zip(self.audit_rows()?) {
            let hash = row_hash(
                &prev,
                row.seq,
                row.at,
                &row.event,
                row.action_id.as_deref(),
                &row.detail,
            );
            if row.seq != expected_seq || row.prev_hash != prev || row.hash != hash {
                return Ok(Some(row.seq));
            }
            prev = row.hash;
        }
        Ok(None)
    }
}
