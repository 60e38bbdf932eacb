//! Drafts (`actions`) and their decisions.

use countersign_core::api::{ActionSummary, Status};
use countersign_core::decision::Verdict;
use countersign_core::{Action, Envelope, Risk};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::audit::{append, AuditEvent};
use crate::row::{
    action_row, collect, corrupt, decision_row, history_row, summary_row, ACTION_COLUMNS,
    DECISION_COLUMNS, SUMMARY_COLUMNS,
};
use crate::{Result, Store, StoreError};

/// A draft to insert.
#[derive(Debug, Clone)]
pub struct NewAction<'a> {
    /// New draft id.
    pub id: &'a str,
    /// Agent id.
    pub agent_id: &'a str,
    /// The action.
    pub action: &'a Action,
    /// `sha256:<hex>` of its canonical form.
    pub action_digest: &'a str,
    /// Its risk.
    pub risk: &'a Risk,
    /// Where to POST the decision.
    pub callback_url: Option<&'a str>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    /// Id.
    pub id: String,
    /// Agent id.
    pub agent_id: String,
    /// Agent name.
    pub agent: String,
    /// The action as submitted.
    pub action: Action,
    /// Its digest.
    pub action_digest: String,
    /// Its risk.
    pub risk: Risk,
    /// Status.
    pub status: Status,
    /// Callback URL.
    pub callback_url: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, once decided.
    pub decided_at: Option<i64>,
}

/// A decided draft with who decided it, when and why (the history view).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The draft.
    pub action: ActionRow,
    /// Approver name (the app's signer for expiries and policy decisions).
    pub approver: String,
    /// Reason given, if any.
    pub reason: Option<String>,
    /// Unix seconds.
    pub decided_at: i64,
}

/// A decision to record (compare-and-set from pending).
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    /// Draft id.
    pub action_id: &'a str,
    /// The digest the decider saw; the CAS fails if the stored one differs.
    pub shown_digest: &'a str,
    /// The digest of the action the envelope carries: `shown_digest` unless the approver
    /// edited the draft before approving it. The audit row records both.
    pub signed_digest: &'a str,
    /// New status: approved, rejected or expired.
    pub status: Status,
    /// Verdict in the envelope.
    pub verdict: Verdict,
    /// Reason.
    pub reason: Option<&'a str>,
    /// Approver name.
    pub approver: &'a str,
    /// Approver key id.
    pub keyid: &'a str,
    /// Envelope `jti`.
    pub jti: &'a str,
    /// The signed envelope.
    pub envelope: &'a Envelope,
    /// Unix seconds.
    pub decided_at: i64,
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// Draft id.
    pub action_id: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Reason.
    pub reason: Option<String>,
    /// Approver name.
    pub approver: String,
    /// Key id.
    pub keyid: String,
    /// `jti`.
    pub jti: String,
    /// The envelope.
    pub envelope: Envelope,
    /// Unix seconds.
    pub decided_at: i64,
}

/// `(action_json, risk_json)` of a new draft: the action in RFC 8785 canonical form, the risk
/// as serde writes it.
pub(crate) fn encode_action(new: &NewAction<'_>) -> Result<(String, String)> {
    let action_json = countersign_core::digest::canonical_json(new.action)
        .map_err(|e| corrupt("actions", "action_json", e))?;
    let action_json = String::from_utf8_lossy(&action_json).into_owned();
    let risk_json =
        serde_json::to_string(new.risk).map_err(|e| corrupt("actions", "risk_json", e))?;
    Ok((action_json, risk_json))
}

/// Detail of the `action.submitted` audit row.
pub(crate) fn submitted_detail(new: &NewAction<'_>) -> Value {
    serde_json::json!({
        "agent_id": new.agent_id,
        "kind": new.action.kind.as_str(),
        "action_digest": new.action_digest,
        "score": new.risk.score,
    })
}

/// The envelope of a decision as stored (`decisions.envelope_json`).
pub(crate) fn envelope_json(d: &NewDecision<'_>) -> Result<String> {
    serde_json::to_string(d.envelope).map_err(|e| corrupt("decisions", "envelope_json", e))
}

/// The stored verdict, the audit event and its detail for a decision.
pub(crate) fn decision_audit(d: &NewDecision<'_>) -> (&'static str, AuditEvent, Value) {
    let verdict = match d.verdict {
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
    };
    let event = match d.status {
        Status::Approved => AuditEvent::Approved,
        Status::Expired => AuditEvent::Expired,
        _ => AuditEvent::Rejected,
    };
    let detail = serde_json::json!({
        "approver": d.approver, "keyid": d.keyid, "jti": d.jti, "reason": d.reason,
        "action_digest": d.shown_digest, "signed_digest": d.signed_digest,
    });
    (verdict, event, detail)
}

/// Why a compare-and-set from `pending` failed, from the draft's status now (`None`: no such
/// draft).
pub(crate) fn cas_lost(id: &str, status: Option<String>) -> StoreError {
    match status {
        None => StoreError::NotFound(id.into()),
        Some(status) => StoreError::NotPending {
            id: id.into(),
            status,
        },
    }
}

impl Store {
    /// Inserts a pending draft and its `action.submitted` audit row in one transaction, unless
    /// the agent already has `max_pending` pending drafts.
    ///
    /// Returns `false` (nothing written) when the cap is reached.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_action(&self, new: &NewAction<'_>, max_pending: u32) -> Result<bool> {
        let (action_json, risk_json) = encode_action(new)?;
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.insert_action(new, &action_json, &risk_json, max_pending),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let pending: u32 = tx.query_row(
            "SELECT COUNT(*) FROM actions WHERE agent_id = ?1 AND status = 'pending'",
            [new.agent_id],
            |r| r.get(0),
        )?;
        if pending >= max_pending {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO actions (id, agent_id, kind, target, summary, action_json, action_digest, \
             risk_json, score, level, status, callback_url, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?13)",
            params![
                new.id,
                new.agent_id,
                new.action.kind.as_str(),
                new.action.target,
                new.action.summary,
                action_json,
                new.action_digest,
                risk_json,
                new.risk.score,
                new.risk.level.as_str(),
                new.callback_url,
                new.created_at,
                new.expires_at,
            ],
        )?;
        append(
            &tx,
            new.created_at,
            AuditEvent::Submitted,
            Some(new.id),
            &submitted_detail(new),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// One draft by id.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn action(&self, id: &str) -> Result<Option<ActionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.action(id),
        };
        let sql = format!("SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id WHERE a.id = ?1");
        conn.query_row(&sql, [id], |r| Ok(action_row(r)))
            .optional()?
            .transpose()
    }

    /// Drafts, pending first, then newest first; at most `limit`.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.actions(limit),
        };
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY (a.status = 'pending') DESC, a.created_at DESC, a.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        collect(&mut stmt, [limit], |r| action_row(r))
    }

    /// The newest `limit` drafts whatever their status, newest first (the policy preview
    /// rescores them).
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn recent_actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.recent_actions(limit),
        };
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        collect(&mut stmt, [limit], |r| action_row(r))
    }

    /// The review queue's rows: pending drafts (at most `pending`) then decided ones (at most
    /// `decided`), each newest first, in the order of [`Store::actions`] — so decided drafts
    /// never push a pending one out of the queue. Read from the indexed columns only (no action
    /// or risk JSON is parsed): listing 10,000 drafts stays cheap however large their payloads.
    /// The level is the band of the stored score ([`RiskLevel::of`]).
    ///
    /// # Errors
    /// SQLite errors, or a stored kind, status or score that is not one Countersign writes.
    pub fn action_summaries(&self, pending: u32, decided: u32) -> Result<Vec<ActionSummary>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.action_summaries(pending, decided),
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT * FROM (SELECT {SUMMARY_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status = 'pending' ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?1) \
             UNION ALL SELECT * FROM (SELECT {SUMMARY_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status != 'pending' ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?2)",
        ))?;
        collect(&mut stmt, [pending, decided], |r| summary_row(r))
    }

    /// Decided drafts with their decision's approver, reason and time, most recently decided
    /// first (at most `limit`).
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn history(&self, limit: u32) -> Result<Vec<HistoryRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.history(limit),
        };
        let sql = format!(
            "SELECT {ACTION_COLUMNS}, d.approver, d.reason, d.decided_at \
             FROM actions a JOIN agents g ON g.id = a.agent_id JOIN decisions d ON d.action_id = a.id \
             ORDER BY d.decided_at DESC, d.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        collect(&mut stmt, [limit], |r| history_row(r))
    }

    /// Pending drafts whose `expires_at` is at or before `now`.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn due_for_expiry(&self, now: i64) -> Result<Vec<ActionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.due_for_expiry(now),
        };
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status = 'pending' AND a.expires_at <= ?1 ORDER BY a.expires_at"
        );
        let mut stmt = conn.prepare(&sql)?;
        collect(&mut stmt, [now], |r| action_row(r))
    }

    /// Number of pending drafts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn pending_count(&self) -> Result<u32> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.pending_count(),
        };
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM actions WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Records a decision: compare-and-set the draft from `pending` (with the digest the decider
    /// saw) to its new status, insert the decision and its audit row — one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotPending`] if it was decided meanwhile or the digest differs,
    /// [`StoreError::NotFound`] for an unknown id; SQLite errors.
    pub fn record_decision(&self, d: &NewDecision<'_>) -> Result<()> {
        let envelope_json = envelope_json(d)?;
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.record_decision(d, &envelope_json),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE actions SET status = ?1, decided_at = ?2 \
             WHERE id = ?3 AND status = 'pending' AND action_digest = ?4",
            params![d.status.as_str(), d.decided_at, d.action_id, d.shown_digest],
        )?;
        if changed != 1 {
            let status: Option<String> = tx
                .query_row(
                    "SELECT status FROM actions WHERE id = ?1",
                    [d.action_id],
                    |r| r.get(0),
                )
                .optional()?;
            return Err(cas_lost(d.action_id, status));
        }
        countersign_core::crash::point(countersign_core::crash::DECIDE_AFTER_CAS);
        // Any decision ends a wait for co-signatures (a rejection, an expiry, or the quorum).
        tx.execute(
            "DELETE FROM cosign_pending WHERE action_id = ?1",
            [d.action_id],
        )?;
        let (verdict, event, detail) = decision_audit(d);
        tx.execute(
            "INSERT INTO decisions (action_id, verdict, reason, approver, keyid, jti, envelope_json, decided_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![d.action_id, verdict, d.reason, d.approver, d.keyid, d.jti, envelope_json, d.decided_at],
        )?;
        append(&tx, d.decided_at, event, Some(d.action_id), &detail)?;
        countersign_core::crash::point(countersign_core::crash::DECIDE_BEFORE_COMMIT);
        tx.commit()?;
        Ok(())
    }

    /// The decision on a draft, if any.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn decision(&self, action_id: &str) -> Result<Option<DecisionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.decision(action_id),
        };
        conn.query_row(
            &format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE action_id = ?1"),
            [action_id],
            |r| Ok(decision_row(r)),
        )
        .optional()?
        .transpose()
    }
}
