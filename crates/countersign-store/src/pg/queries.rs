//! The store's methods on PostgreSQL. Each mirrors the SQLite method of the same name (its
//! documentation is on [`crate::Store`]); values are encoded and decoded by the same helpers
//! ([`crate::row`], the `*_detail` and `encode_*` functions), so both backends store the same
//! text and hash the same audit rows.

use countersign_core::api::ActionSummary;
use countersign_core::risk::novelty::History;
use countersign_core::ApproverKey;
use postgres::types::ToSql;
use postgres::Transaction;
use serde_json::Value;

use super::{Postgres, DECIDED_CHANNEL};
use crate::agents::{agent_added_detail, new_agent_row};
use crate::audit::{next_link, AuditEvent};
use crate::checkpoint::{checkpoint_row, sign_checkpoint, Checkpoint};
use crate::cosign::{
    already_awaiting, awaiting_detail, check_cosignable, cosign_row, not_awaiting, CosignRow,
};
use crate::history::history_facts;
use crate::policy::{recorded_policy_row, AcceptedPolicy, RecordedPolicy};
use crate::records::{cas_lost, decision_audit, submitted_detail, NewAction, NewDecision};
use crate::row::{
    action_row, agent_row, audit_row, decision_row, history_row, summary_row, ACTION_COLUMNS,
    AUDIT_COLUMNS, DECISION_COLUMNS, SUMMARY_COLUMNS,
};
use crate::{ActionRow, AgentRow, AuditRow, DecisionRow, HistoryRow, Result, StoreError};

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Announces the decision of draft `id` on [`DECIDED_CHANNEL`] to every replica (payload: the
/// id), delivered when (and only if) `tx` commits.
pub(super) fn notify(tx: &mut Transaction<'_>, id: &str) -> Result<()> {
    tx.execute("SELECT pg_notify($1, $2)", &[&DECIDED_CHANNEL, &id])?;
    Ok(())
}

/// Announces another change of pending draft `id` (submitted, signed, claimed) on
/// [`DECIDED_CHANNEL`] with the payload [`super::CHANGED_PREFIX`] + id; listeners handle these
/// after decisions and coalesced (see `follow`).
pub(super) fn notify_change(tx: &mut Transaction<'_>, id: &str) -> Result<()> {
    let payload = format!("{}{id}", super::CHANGED_PREFIX);
    tx.execute("SELECT pg_notify($1, $2)", &[&DECIDED_CHANNEL, &payload])?;
    Ok(())
}

/// Appends an audit row inside `tx` (which holds the write lock: see [`super::WRITE_LOCK`]).
pub(super) fn append(
    tx: &mut Transaction<'_>,
    at: i64,
    event: AuditEvent,
    action_id: Option<&str>,
    detail: &Value,
) -> Result<()> {
    let last = match tx.query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])? {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    };
    let (seq, prev, hash) = next_link(last, at, event, action_id, detail);
    tx.execute(
        "INSERT INTO audit (seq, at, event, action_id, detail_json, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &seq,
            &at,
            &event.as_str(),
            &action_id,
            &detail.to_string(),
            &prev,
            &hash,
        ],
    )?;
    Ok(())
}

impl Postgres {
    /// Every row of `sql`, decoded by `decode`.
    pub(super) fn rows<T: Send>(
        &self,
        sql: &str,
        params: &Params<'_>,
        decode: fn(&postgres::Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.with(|c| c.query(sql, params)?.iter().map(decode).collect())
    }

    /// The row of `sql`, if any, decoded by `decode`.
    pub(super) fn row<T: Send>(
        &self,
        sql: &str,
        params: &Params<'_>,
        decode: fn(&postgres::Row) -> Result<T>,
    ) -> Result<Option<T>> {
        self.with(|c| c.query_opt(sql, params)?.as_ref().map(decode).transpose())
    }

    pub(crate) fn insert_action(
        &self,
        new: &NewAction<'_>,
        action_json: &str,
        risk_json: &str,
        max_pending: u32,
    ) -> Result<bool> {
        self.write(|mut tx| {
            let pending: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM actions WHERE agent_id = $1 AND status = 'pending'",
                    &[&new.agent_id],
                )?
                .try_get(0)?;
            if pending >= i64::from(max_pending) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO actions (id, agent_id, kind, target, summary, action_json, \
                 action_digest, risk_json, score, level, status, callback_url, created_at, \
                 expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13)",
                &[
                    &new.id,
                    &new.agent_id,
                    &new.action.kind.as_str(),
                    &new.action.target,
                    &new.action.summary,
                    &action_json,
                    &new.action_digest,
                    &risk_json,
                    &i64::from(new.risk.score),
                    &new.risk.level.as_str(),
                    &new.callback_url,
                    &new.created_at,
                    &new.expires_at,
                ],
            )?;
            append(
                &mut tx,
                new.created_at,
                AuditEvent::Submitted,
                Some(new.id),
                &submitted_detail(new),
            )?;
            notify_change(&mut tx, new.id)?;
            tx.commit()?;
            Ok(true)
        })
    }

    pub(crate) fn action(&self, id: &str) -> Result<Option<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.id = $1"
        );
        self.row(&sql, &[&id], action_row)
    }

    pub(crate) fn actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY (a.status = 'pending') DESC, a.created_at DESC, a.seq DESC LIMIT $1"
        );
        self.rows(&sql, &[&i64::from(limit)], action_row)
    }

    pub(crate) fn recent_actions(&self, limit: u32) -> Result<Vec<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             ORDER BY a.created_at DESC, a.seq DESC LIMIT $1"
        );
        self.rows(&sql, &[&i64::from(limit)], action_row)
    }

    pub(crate) fn action_summaries(
        &self,
        pending: u32,
        decided: u32,
    ) -> Result<Vec<ActionSummary>> {
        // The outer ORDER BY makes the order explicit: PostgreSQL does not promise that
        // UNION ALL keeps its branches' order.
        let sql = format!(
            "SELECT * FROM ( \
               (SELECT {SUMMARY_COLUMNS}, 0 AS part, a.seq FROM actions a \
                JOIN agents g ON g.id = a.agent_id WHERE a.status = 'pending' \
                ORDER BY a.created_at DESC, a.seq DESC LIMIT $1) \
               UNION ALL \
               (SELECT {SUMMARY_COLUMNS}, 1 AS part, a.seq FROM actions a \
                JOIN agents g ON g.id = a.agent_id WHERE a.status != 'pending' \
                ORDER BY a.created_at DESC, a.seq DESC LIMIT $2) \
             ) q ORDER BY part, created_at DESC, seq DESC"
        );
        self.rows(
            &sql,
            &[&i64::from(pending), &i64::from(decided)],
            summary_row,
        )
    }

    pub(crate) fn history(&self, limit: u32) -> Result<Vec<HistoryRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS}, d.approver, d.reason, d.decided_at \
             FROM actions a JOIN agents g ON g.id = a.agent_id \
             JOIN decisions d ON d.action_id = a.id \
             ORDER BY d.decided_at DESC, d.seq DESC LIMIT $1"
        );
        self.rows(&sql, &[&i64::from(limit)], history_row)
    }

    pub(crate) fn due_for_expiry(&self, now: i64) -> Result<Vec<ActionRow>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN agents g ON g.id = a.agent_id \
             WHERE a.status = 'pending' AND a.expires_at <= $1 ORDER BY a.expires_at"
        );
        self.rows(&sql, &[&now], action_row)
    }

    pub(crate) fn pending_count(&self) -> Result<u32> {
        let n: i64 = self.with(|c| {
            Ok(
                c.query_one("SELECT COUNT(*) FROM actions WHERE status = 'pending'", &[])?
                    .try_get(0)?,
            )
        })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub(crate) fn record_decision(&self, d: &NewDecision<'_>, envelope_json: &str) -> Result<()> {
        self.write(|mut tx| {
            let changed = tx.execute(
                "UPDATE actions SET status = $1, decided_at = $2 \
                 WHERE id = $3 AND status = 'pending' AND action_digest = $4",
                &[
                    &d.status.as_str(),
                    &d.decided_at,
                    &d.action_id,
                    &d.shown_digest,
                ],
            )?;
            if changed != 1 {
                let status = match tx
                    .query_opt("SELECT status FROM actions WHERE id = $1", &[&d.action_id])?
                {
                    Some(r) => Some(r.try_get(0)?),
                    None => None,
                };
                return Err(cas_lost(d.action_id, status));
            }
            countersign_core::crash::point(countersign_core::crash::DECIDE_AFTER_CAS);
            tx.execute(
                "DELETE FROM cosign_pending WHERE action_id = $1",
                &[&d.action_id],
            )?;
            let (verdict, event, detail) = decision_audit(d);
            tx.execute(
                "INSERT INTO decisions (action_id, verdict, reason, approver, keyid, jti, \
                 envelope_json, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &d.action_id,
                    &verdict,
                    &d.reason,
                    &d.approver,
                    &d.keyid,
                    &d.jti,
                    &envelope_json,
                    &d.decided_at,
                ],
            )?;
            append(&mut tx, d.decided_at, event, Some(d.action_id), &detail)?;
            // Delivered to listeners on every replica when (and only if) this commits.
            notify(&mut tx, d.action_id)?;
            countersign_core::crash::point(countersign_core::crash::DECIDE_BEFORE_COMMIT);
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn decision(&self, action_id: &str) -> Result<Option<DecisionRow>> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE action_id = $1");
        self.row(&sql, &[&action_id], decision_row)
    }

    pub(crate) fn audit(
        &self,
        at: i64,
        event: AuditEvent,
        action_id: Option<&str>,
        detail: &Value,
    ) -> Result<()> {
        self.write(|mut tx| {
            append(&mut tx, at, event, action_id, detail)?;
            Ok(tx.commit()?)
        })
    }

    pub(crate) fn audit_rows(&self) -> Result<Vec<AuditRow>> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq");
        self.rows(&sql, &[], audit_row)
    }

    pub(crate) fn add_agent(&self, name: &str, token: &str, now: i64) -> Result<AgentRow> {
        let token_hash = crate::hash_token(token).to_vec();
        self.write(|mut tx| {
            if tx
                .query_opt("SELECT id FROM agents WHERE name = $1", &[&name])?
                .is_some()
            {
                return Err(StoreError::AgentExists(name.into()));
            }
            let row = new_agent_row(name, now);
            tx.execute(
                "INSERT INTO agents (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
                &[&row.id, &row.name, &token_hash, &now],
            )?;
            append(
                &mut tx,
                now,
                AuditEvent::AgentAdded,
                None,
                &agent_added_detail(&row),
            )?;
            tx.commit()?;
            Ok(row)
        })
    }

    pub(crate) fn agent_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<AgentRow>> {
        self.row(
            "SELECT id, name, created_at FROM agents WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&token_hash.as_slice()],
            agent_row,
        )
    }

    pub(crate) fn agents(&self) -> Result<Vec<AgentRow>> {
        self.rows(
            "SELECT id, name, created_at FROM agents WHERE revoked_at IS NULL ORDER BY name",
            &[],
            agent_row,
        )
    }

    pub(crate) fn agent_history(
        &self,
        agent_id: &str,
        target: &str,
        counterparts: &[String],
        now: i64,
    ) -> Result<History> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM actions \
                 WHERE agent_id = $1",
                &[&agent_id],
            )?;
            let counts = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let target_seen: bool = c
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM actions WHERE agent_id = $1 AND target = $2)",
                    &[&agent_id, &target],
                )?
                .try_get(0)?;
            let known: Vec<String> = c
                .query(
                    "SELECT counterpart FROM agent_counterparts \
                     WHERE agent_id = $1 AND counterpart = ANY($2)",
                    &[&agent_id, &counterparts],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let new_counterparts = counterparts
                .iter()
                .filter(|c| !known.contains(c))
                .cloned()
                .collect();
            let last_minute: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM actions WHERE agent_id = $1 AND created_at >= $2",
                    &[&agent_id, &(now - 60)],
                )?
                .try_get(0)?;
            let approved = approved_in(c, agent_id, counterparts, now + 1)?;
            Ok(history_facts(
                counts,
                target_seen,
                new_counterparts,
                approved,
                last_minute,
            ))
        })
    }

    pub(crate) fn approved_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        before: i64,
    ) -> Result<Vec<String>> {
        self.with(|c| approved_in(c, agent_id, counterparts, before))
    }

    pub(crate) fn record_approved_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        at: i64,
    ) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            for counterpart in counterparts {
                tx.execute(
                    "INSERT INTO agent_counterparts (agent_id, counterpart, first_seen, approved_at) \
                     VALUES ($1, $2, $3, $3) ON CONFLICT (agent_id, counterpart) \
                     DO UPDATE SET approved_at = \
                     COALESCE(agent_counterparts.approved_at, excluded.approved_at)",
                    &[&agent_id, counterpart, &at],
                )?;
            }
            Ok(tx.commit()?)
        })
    }

    pub(crate) fn record_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        at: i64,
    ) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            for counterpart in counterparts {
                tx.execute(
                    "INSERT INTO agent_counterparts (agent_id, counterpart, first_seen) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&agent_id, counterpart, &at],
                )?;
            }
            Ok(tx.commit()?)
        })
    }

    pub(crate) fn checkpoint_if(
        &self,
        key: &ApproverKey,
        at: i64,
        every: i64,
    ) -> Result<Option<Checkpoint>> {
        self.write(|mut tx| {
            let Some(head) =
                tx.query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?
            else {
                return Ok(None);
            };
            let (seq, head): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
            let last: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints", &[])?
                .try_get(0)?;
            if seq - last < every.max(1) {
                return Ok(None);
            }
            let (body, envelope, json) = sign_checkpoint(key, seq, head, at)?;
            tx.execute(
                "INSERT INTO audit_checkpoints (seq, head, at, keyid, envelope_json) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&body.seq, &body.head, &body.at, &key.key_id(), &json],
            )?;
            tx.commit()?;
            Ok(Some(Checkpoint { body, envelope }))
        })
    }

    pub(crate) fn checkpoints(&self) -> Result<Vec<(i64, countersign_core::Envelope)>> {
        self.rows(
            "SELECT seq, envelope_json FROM audit_checkpoints ORDER BY seq",
            &[],
            checkpoint_row,
        )
    }

    pub(crate) fn record_awaiting_cosign(
        &self,
        row: &CosignRow,
        json: &str,
        shown_digest: &str,
        approver: &str,
        keyid: &str,
    ) -> Result<()> {
        self.write(|mut tx| {
            let status: Option<String> = match tx.query_opt(
                "SELECT status FROM actions WHERE id = $1 AND action_digest = $2",
                &[&row.action_id, &shown_digest],
            )? {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            };
            check_cosignable(&row.action_id, status.as_deref())?;
            let inserted = tx.execute(
                "INSERT INTO cosign_pending (action_id, envelope_json, approvals, lead, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (action_id) DO NOTHING",
                &[
                    &row.action_id,
                    &json,
                    &i64::from(row.required.approvals),
                    &row.required.lead,
                    &row.created_at,
                ],
            )?;
            if inserted != 1 {
                return Err(already_awaiting(&row.action_id));
            }
            append(
                &mut tx,
                row.created_at,
                AuditEvent::AwaitingCosign,
                Some(&row.action_id),
                &awaiting_detail(row, shown_digest, approver, keyid),
            )?;
            notify_change(&mut tx, &row.action_id)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn all_awaiting_cosign(&self) -> Result<Vec<CosignRow>> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT action_id, envelope_json, approvals, lead, created_at FROM cosign_pending",
                &[],
            )?)
        })?;
        let mut out = Vec::new();
        for r in rows {
            let approvals: i64 = r.try_get(2)?;
            let approvals = u32::try_from(approvals)
                .map_err(|e| crate::row::corrupt("cosign_pending", "approvals", e))?;
            let id: String = r.try_get(0)?;
            let json: String = r.try_get(1)?;
            out.push(cosign_row(
                &id,
                &json,
                approvals,
                r.try_get(3)?,
                r.try_get(4)?,
            )?);
        }
        Ok(out)
    }

    pub(crate) fn awaiting_cosign(&self, action_id: &str) -> Result<Option<CosignRow>> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                "SELECT envelope_json, approvals, lead, created_at FROM cosign_pending \
                 WHERE action_id = $1",
                &[&action_id],
            )?)
        })?;
        let Some(r) = row else {
            return Ok(None);
        };
        let approvals: i64 = r.try_get(1)?;
        let approvals = u32::try_from(approvals)
            .map_err(|e| crate::row::corrupt("cosign_pending", "approvals", e))?;
        cosign_row(
            action_id,
            &r.try_get::<_, String>(0)?,
            approvals,
            r.try_get(2)?,
            r.try_get(3)?,
        )
        .map(Some)
    }

    pub(crate) fn add_cosignatures(
        &self,
        action_id: &str,
        json: &str,
        new_signers: &[String],
        at: i64,
    ) -> Result<()> {
        self.write(|mut tx| {
            let changed = tx.execute(
                "UPDATE cosign_pending SET envelope_json = $1 WHERE action_id = $2",
                &[&json, &action_id],
            )?;
            if changed != 1 {
                return Err(not_awaiting(action_id));
            }
            append(
                &mut tx,
                at,
                AuditEvent::Cosigned,
                Some(action_id),
                &serde_json::json!({ "signers": new_signers }),
            )?;
            notify_change(&mut tx, action_id)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn clear_awaiting_cosign(&self, action_id: &str, at: i64) -> Result<()> {
        self.write(|mut tx| {
            let removed = tx.execute(
                "DELETE FROM cosign_pending WHERE action_id = $1",
                &[&action_id],
            )?;
            if removed == 1 {
                append(
                    &mut tx,
                    at,
                    AuditEvent::CosignExpired,
                    Some(action_id),
                    &serde_json::json!({}),
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn recorded_policy(&self) -> Result<Option<RecordedPolicy>> {
        self.row(
            "SELECT serial, sha256, policy_bytes, signature_json FROM policy_state WHERE id = 1",
            &[],
            recorded_policy_row,
        )
    }

    pub(crate) fn accept_policy(&self, p: &AcceptedPolicy<'_>, serial: i64) -> Result<bool> {
        self.write(|mut tx| {
            let changed = tx.execute(
                "INSERT INTO policy_state (id, serial, sha256, loaded_at, policy_bytes, signature_json)
                     VALUES (1, $1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET serial = excluded.serial, sha256 = excluded.sha256,
                     loaded_at = excluded.loaded_at, policy_bytes = excluded.policy_bytes,
                     signature_json = excluded.signature_json
                 WHERE policy_state.serial < excluded.serial
                    OR (policy_state.serial = excluded.serial AND policy_state.sha256 = excluded.sha256)",
                &[&serial, &p.sha256, &p.at, &p.bytes, &p.signature_json],
            )?;
            if changed != 1 {
                return Ok(false);
            }
            append(&mut tx, p.at, AuditEvent::PolicyLoaded, None, p.audit_detail)?;
            tx.commit()?;
            Ok(true)
        })
    }
}

/// Which of `counterparts` `agent_id` had in a draft approved before `before` (exclusive), in
/// the order given: one query.
fn approved_in(
    c: &mut postgres::Client,
    agent_id: &str,
    counterparts: &[String],
    before: i64,
) -> Result<Vec<String>> {
    if counterparts.is_empty() {
        return Ok(Vec::new());
    }
    let approved: Vec<String> = c
        .query(
            "SELECT counterpart FROM agent_counterparts \
             WHERE agent_id = $1 AND counterpart = ANY($2) AND approved_at < $3",
            &[&agent_id, &counterparts, &before],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(counterparts
        .iter()
        .filter(|c| approved.contains(c))
        .cloned()
        .collect())
}
