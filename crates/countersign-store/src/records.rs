//! Drafts (`actions`) and their decisions.

use countersign_core::api::{ActionSummary, Status};
use countersign_core::decision::Verdict;
use countersign_core::{Action, ActionKind, Envelope, Risk, RiskLevel};
use rusqlite::{params, OptionalExtension, Row};

use crate::audit::{append, AuditEvent};
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

const ACTION_COLUMNS: &str =
    "a.id, a.agent_id, g.name, a.action_json, a.action_digest, a.risk_json, \
     a.status, a.callback_url, a.created_at, a.expires_at, a.decided_at";

fn corrupt(column: &'static str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt {
            table: "actions",
            column,
            message: e.to_string(),
        }),
    )
}

fn action_row(r: &Row<'_>) -> rusqlite::Result<ActionRow> {
    let action_json: String = r.get(3)?;
    let risk_json: String = r.get(5)?;
    let status: String = r.get(6)?;
    Ok(ActionRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        agent: r.get(2)?,
        action: serde_json::from_str(&action_json).map_err(|e| corrupt("action_json", e))?,
        action_digest: r.get(4)?,
        risk: serde_json::from_str(&risk_json).map_err(|e| corrupt("risk_json", e))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?,
        callback_url: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        decided_at: r.get(10)?,
    })
}

fn decision_row(r: &Row<'_>) -> rusqlite::Result<DecisionRow> {
    let verdict: String = r.get(1)?;
    let envelope: String = r.get(6)?;
    Ok(DecisionRow {
        action_id: r.get(0)?,
        verdict: serde_json::from_value(serde_json::Value::String(verdict))
            .map_err(|e| corrupt("verdict", e))?,
        reason: r.get(2)?,
        approver: r.get(3)?,
        keyid: r.get(4)?,
        jti: r.get(5)?,
        envelope: serde_json::from_str(&envelope).map_err(|e| corrupt("envelope_json", e))?,
        decided_at: r.get(7)?,
    })
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
        let action_json = countersign_core::digest::canonical_json(new.action).map_err(|e| {
            StoreError::Corrupt {
                table: "actions",
                column: "action_json",
                message: e.to_string(),
            }
        })?;
        let action_json = String::from_utf8_lossy(&action_json).into_owned();
        let risk_json = serde_json::to_string(new.risk).map_err(|e| StoreError::Corrupt {
            table: "actions",
            column: "risk_json",
            message: e.to_string(),
        })?;
        let mut conn = self.write();
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
            &serde_json::json!({
                "agent_id": new.agent_id,
                "kind": new.action.kind.as_str(),
                "action_digest": new.action_digest,
                "score": new.risk.score,
            }),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// One draft by id.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn action(&self, id: &str) -> Result<Option<ActionRow>> {
        let conn = self.read();
        let sql = format!("SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id WHERE a.id = ?1");
        Ok(conn.query_row(&sql, [id], action_row).optional()?)
    }

    /// Drafts, pending first, then newest first; at most `limit`.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let conn = self.read();
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY (a.status = 'pending') DESC, a.created_at DESC, a.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([limit], action_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The newest `limit` drafts whatever their status, newest first (the policy preview
    /// rescores them).
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn recent_actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let conn = self.read();
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([limit], action_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT * FROM (SELECT a.id, g.name, a.kind, a.target, a.summary, a.status, a.score, \
             a.action_digest, a.created_at, a.expires_at FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status = 'pending' ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?1) \
             UNION ALL SELECT * FROM (SELECT a.id, g.name, a.kind, a.target, a.summary, a.status, a.score, \
             a.action_digest, a.created_at, a.expires_at FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status != 'pending' ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?2)",
        )?;
        let rows = stmt.query_map([pending, decided], |r| {
            let kind: String = r.get(2)?;
            let status: String = r.get(5)?;
            let score: i64 = r.get(6)?;
            let score = u8::try_from(score)
                .ok()
                .filter(|s| *s <= 100)
                .ok_or_else(|| corrupt("score", score))?;
            Ok(ActionSummary {
                id: r.get(0)?,
                agent: r.get(1)?,
                kind: ActionKind::parse(&kind).ok_or_else(|| corrupt("kind", kind.clone()))?,
                target: r.get(3)?,
                summary: r.get(4)?,
                status: Status::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?,
                score,
                level: RiskLevel::of(score),
                action_digest: r.get(7)?,
                created_at: r.get(8)?,
                expires_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Decided drafts with their decision's approver, reason and time, most recently decided
    /// first (at most `limit`).
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn history(&self, limit: u32) -> Result<Vec<HistoryRow>> {
        let conn = self.read();
        let sql = format!(
            "SELECT {ACTION_COLUMNS}, d.approver, d.reason, d.decided_at \
             FROM actions a JOIN agents g ON g.id = a.agent_id JOIN decisions d ON d.action_id = a.id \
             ORDER BY d.decided_at DESC, d.rowid DESC LIMIT ?1"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([limit], |r| {
            Ok(HistoryRow {
                action: action_row(r)?,
                approver: r.get(11)?,
                reason: r.get(12)?,
                decided_at: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Pending drafts whose `expires_at` is at or before `now`.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn due_for_expiry(&self, now: i64) -> Result<Vec<ActionRow>> {
        let conn = self.read();
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status = 'pending' AND a.expires_at <= ?1 ORDER BY a.expires_at"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([now], action_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Number of pending drafts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn pending_count(&self) -> Result<u32> {
        let conn = self.read();
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
        let envelope_json = serde_json::to_string(d.envelope).map_err(|e| StoreError::Corrupt {
            table: "decisions",
            column: "envelope_json",
            message: e.to_string(),
        })?;
        let mut conn = self.write();
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
            return Err(match status {
                None => StoreError::NotFound(d.action_id.into()),
                Some(status) => StoreError::NotPending {
                    id: d.action_id.into(),
                    status,
                },
            });
        }
        countersign_core::crash::point(countersign_core::crash::DECIDE_AFTER_CAS);
        // Any decision ends a wait for co-signatures (a rejection, an expiry, or the quorum).
        tx.execute(
            "DELETE FROM cosign_pending WHERE action_id = ?1",
            [d.action_id],
        )?;
        let verdict = match d.verdict {
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
        };
        tx.execute(
            "INSERT INTO decisions (action_id, verdict, reason, approver, keyid, jti, envelope_json, decided_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![d.action_id, verdict, d.reason, d.approver, d.keyid, d.jti, envelope_json, d.decided_at],
        )?;
        let event = match d.status {
            Status::Approved => AuditEvent::Approved,
            Status::Expired => AuditEvent::Expired,
            _ => AuditEvent::Rejected,
        };
        append(
            &tx,
            d.decided_at,
            event,
            Some(d.action_id),
            &serde_json::json!({
                "approver": d.approver, "keyid": d.keyid, "jti": d.jti, "reason": d.reason,
                "action_digest": d.shown_digest, "signed_digest": d.signed_digest,
            }),
        )?;
        countersign_core::crash::point(countersign_core::crash::DECIDE_BEFORE_COMMIT);
        tx.commit()?;
        Ok(())
    }

    /// The decision on a draft, if any.
    ///
    /// # Errors
    /// SQLite errors or unreadable stored JSON.
    pub fn decision(&self, action_id: &str) -> Result<Option<DecisionRow>> {
        let conn = self.read();
        Ok(conn
            .query_row(
                "SELECT action_id, verdict, reason, approver, keyid, jti, envelope_json, decided_at \
                 FROM decisions WHERE action_id = ?1",
                [action_id],
                decision_row,
            )
            .optional()?)
    }
}
