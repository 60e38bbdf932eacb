//! The signed policy in force: its serial and SHA-256, so that a policy older than the one
//! accepted before is refused, even after a restart (no rollback), and its bytes and DSSE
//! signature, so that a start-up whose policy file is refused keeps the last good policy.

use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::audit::{append, AuditEvent};
use crate::row::Columns;
use crate::{Result, Store};

/// A verified policy to record as in force.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedPolicy<'a> {
    /// Its serial (`serial =` in policy.toml).
    pub serial: u64,
    /// `sha256:<hex>` of `bytes`.
    pub sha256: &'a str,
    /// The exact file bytes that were signed.
    pub bytes: &'a [u8],
    /// The DSSE envelope (JSON text) that signs them.
    pub signature_json: &'a str,
    /// Unix seconds.
    pub at: i64,
    /// Detail of the `policy.loaded` audit row (serial, sha256, signers, source).
    pub audit_detail: &'a Value,
}

/// The last accepted policy as recorded: bytes and signature (absent for a policy recorded
/// before the store kept them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPolicy {
    /// Serial.
    pub serial: u64,
    /// `sha256:<hex>` of the bytes.
    pub sha256: String,
    /// The signed file bytes.
    pub bytes: Option<Vec<u8>>,
    /// The DSSE envelope JSON.
    pub signature_json: Option<String>,
}

/// The policy record from `serial, sha256, policy_bytes, signature_json`.
pub(crate) fn recorded_policy_row(r: &impl Columns) -> Result<RecordedPolicy> {
    Ok(RecordedPolicy {
        serial: u64::try_from(r.int(0)?).unwrap_or(0),
        sha256: r.text(1)?,
        bytes: r.opt_blob(2)?,
        signature_json: r.opt_text(3)?,
    })
}

impl Store {
    /// The `(serial, sha256)` of the policy last accepted, if any.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn policy_in_force(&self) -> Result<Option<(u64, String)>> {
        Ok(self.recorded_policy()?.map(|p| (p.serial, p.sha256)))
    }

    /// The policy last accepted, with its bytes and signature when recorded.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn recorded_policy(&self) -> Result<Option<RecordedPolicy>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.recorded_policy(),
        };
        conn.query_row(
            "SELECT serial, sha256, policy_bytes, signature_json FROM policy_state WHERE id = 1",
            [],
            |r| Ok(recorded_policy_row(r)),
        )
        .optional()?
        .transpose()
    }

    /// Records a policy as in force, and its `policy.loaded` audit row, in one transaction —
    /// unless an older-or-equal one would replace a newer one: accepted when there is none
    /// yet, when `serial` is higher, or when it is the same serial with the same bytes. One
    /// conditional statement, so two processes cannot race past each other. Returns whether
    /// it was accepted (nothing is written when it was not).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn accept_policy(&self, p: &AcceptedPolicy<'_>) -> Result<bool> {
        let serial = i64::try_from(p.serial).unwrap_or(i64::MAX);
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.accept_policy(p, serial),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "INSERT INTO policy_state (id, serial, sha256, loaded_at, policy_bytes, signature_json)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET serial = excluded.serial, sha256 = excluded.sha256,
                 loaded_at = excluded.loaded_at, policy_bytes = excluded.policy_bytes,
                 signature_json = excluded.signature_json
             WHERE policy_state.serial < excluded.serial
                OR (policy_state.serial = excluded.serial AND policy_state.sha256 = excluded.sha256)",
            rusqlite::params![serial, p.sha256, p.at, p.bytes, p.signature_json],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        append(&tx, p.at, AuditEvent::PolicyLoaded, None, p.audit_detail)?;
        tx.commit()?;
        Ok(true)
    }

    /// Appends a `policy.refused` audit row (the policy in force is unchanged).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn record_policy_refusal(&self, at: i64, detail: &Value) -> Result<()> {
        self.audit(at, AuditEvent::PolicyRefused, None, detail)
    }
}
