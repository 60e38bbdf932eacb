//! Reading rows the same way on both backends: [`Columns`] is what a decoder needs from a row
//! (SQLite's or PostgreSQL's), and the decoders here turn the columns of each table into the
//! store's row types, so a value read back is checked by one piece of code whatever stored it.

use countersign_core::api::{ActionSummary, Status};
use countersign_core::{ActionKind, RiskLevel};

use crate::{ActionRow, AgentRow, AuditRow, DecisionRow, HistoryRow, Result, StoreError};

/// Typed access to the columns of one result row, by position from 0.
pub(crate) trait Columns {
    /// A `TEXT NOT NULL` column.
    fn text(&self, i: usize) -> Result<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    /// A 64-bit integer column (`INTEGER` in SQLite, `BIGINT` in PostgreSQL).
    fn int(&self, i: usize) -> Result<i64>;
    /// A nullable 64-bit integer column.
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    /// A nullable byte column (`BLOB` in SQLite, `BYTEA` in PostgreSQL).
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>>;
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.get(i)?)
    }
}

impl Columns for postgres::Row {
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.try_get(i)?)
    }
}

/// Every row of a SQLite statement run with `params`, decoded by `decode`.
pub(crate) fn collect<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(decode(r)?);
    }
    Ok(out)
}

/// A stored value Countersign would not have written.
pub(crate) fn corrupt(
    table: &'static str,
    column: &'static str,
    e: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt {
        table,
        column,
        message: e.to_string(),
    }
}

/// The columns [`action_row`] reads, in order (`a` = actions, `g` = agents).
pub(crate) const ACTION_COLUMNS: &str =
    "a.id, a.agent_id, g.name, a.action_json, a.action_digest, a.risk_json, \
     a.status, a.callback_url, a.created_at, a.expires_at, a.decided_at";

fn status(column: &'static str, s: String) -> Result<Status> {
    Status::parse(&s).ok_or_else(|| corrupt("actions", column, s))
}

/// A draft from the [`ACTION_COLUMNS`] at the start of a row.
pub(crate) fn action_row(r: &impl Columns) -> Result<ActionRow> {
    Ok(ActionRow {
        id: r.text(0)?,
        agent_id: r.text(1)?,
        agent: r.text(2)?,
        action: serde_json::from_str(&r.text(3)?)
            .map_err(|e| corrupt("actions", "action_json", e))?,
        action_digest: r.text(4)?,
        risk: serde_json::from_str(&r.text(5)?).map_err(|e| corrupt("actions", "risk_json", e))?,
        status: status("status", r.text(6)?)?,
        callback_url: r.opt_text(7)?,
        created_at: r.int(8)?,
        expires_at: r.int(9)?,
        decided_at: r.opt_int(10)?,
    })
}

/// A decided draft: [`ACTION_COLUMNS`], then `d.approver, d.reason, d.decided_at`.
pub(crate) fn history_row(r: &impl Columns) -> Result<HistoryRow> {
    Ok(HistoryRow {
        action: action_row(r)?,
        approver: r.text(11)?,
        reason: r.opt_text(12)?,
        decided_at: r.int(13)?,
    })
}

/// The columns [`decision_row`] reads, in order.
pub(crate) const DECISION_COLUMNS: &str =
    "action_id, verdict, reason, approver, keyid, jti, envelope_json, decided_at";

/// A decision from the [`DECISION_COLUMNS`].
pub(crate) fn decision_row(r: &impl Columns) -> Result<DecisionRow> {
    Ok(DecisionRow {
        action_id: r.text(0)?,
        verdict: serde_json::from_value(serde_json::Value::String(r.text(1)?))
            .map_err(|e| corrupt("decisions", "verdict", e))?,
        reason: r.opt_text(2)?,
        approver: r.text(3)?,
        keyid: r.text(4)?,
        jti: r.text(5)?,
        envelope: serde_json::from_str(&r.text(6)?)
            .map_err(|e| corrupt("decisions", "envelope_json", e))?,
        decided_at: r.int(7)?,
    })
}

/// The columns [`summary_row`] reads, in order.
pub(crate) const SUMMARY_COLUMNS: &str = "a.id, g.name, a.kind, a.target, a.summary, a.status, \
     a.score, a.action_digest, a.created_at, a.expires_at";

/// A queue row from the [`SUMMARY_COLUMNS`] (indexed columns only, no JSON parsed); the level
/// is the band of the stored score ([`RiskLevel::of`]).
pub(crate) fn summary_row(r: &impl Columns) -> Result<ActionSummary> {
    let kind = r.text(2)?;
    let score = r.int(6)?;
    let score = u8::try_from(score)
        .ok()
        .filter(|s| *s <= 100)
        .ok_or_else(|| corrupt("actions", "score", score))?;
    Ok(ActionSummary {
        id: r.text(0)?,
        agent: r.text(1)?,
        kind: ActionKind::parse(&kind).ok_or_else(|| corrupt("actions", "kind", &kind))?,
        target: r.text(3)?,
        summary: r.text(4)?,
        status: status("status", r.text(5)?)?,
        score,
        level: RiskLevel::of(score),
        action_digest: r.text(7)?,
        created_at: r.int(8)?,
        expires_at: r.int(9)?,
    })
}

/// The columns [`audit_row`] reads, in order.
pub(crate) const AUDIT_COLUMNS: &str = "seq, at, event, action_id, detail_json, prev_hash, hash";

/// An audit row from the [`AUDIT_COLUMNS`].
pub(crate) fn audit_row(r: &impl Columns) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: r.int(0)?,
        at: r.int(1)?,
        event: r.text(2)?,
        action_id: r.opt_text(3)?,
        detail: serde_json::from_str(&r.text(4)?)
            .map_err(|e| corrupt("audit", "detail_json", e))?,
        prev_hash: r.text(5)?,
        hash: r.text(6)?,
    })
}

/// An agent from `id, name, created_at`.
pub(crate) fn agent_row(r: &impl Columns) -> Result<AgentRow> {
    Ok(AgentRow {
        id: r.text(0)?,
        name: r.text(1)?,
        created_at: r.int(2)?,
    })
}
