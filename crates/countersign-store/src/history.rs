//! History facts for the risk score's novelty detector: has this agent acted on this target,
//! addressed these recipients or hosts, and how fast is it submitting compared to usual; and
//! for the impact panel, which recipients were in its approved drafts (`known`).

use countersign_core::risk::novelty::History;

use crate::{Result, Store};

/// The novelty facts from what the queries found: `(count, first, last)` of the agent's
/// drafts (`created_at`, Unix seconds), whether the target was seen, the counterparts never
/// addressed, and the drafts of the last minute. The usual rate is drafts per minute between
/// the first and the last draft (at least one minute), × 100.
pub(crate) fn history_facts(
    (prior, first, last): (i64, Option<i64>, Option<i64>),
    target_seen: bool,
    new_counterparts: Vec<String>,
    approved_counterparts: Vec<String>,
    last_minute: i64,
) -> History {
    let minutes = match (first, last) {
        (Some(f), Some(l)) => ((l - f) / 60).max(1),
        _ => 1,
    };
    History {
        prior_drafts: u64::try_from(prior).unwrap_or(0),
        target_seen,
        new_counterparts,
        approved_counterparts,
        last_minute: u32::try_from(last_minute).unwrap_or(u32::MAX),
        usual_per_minute_x100: u32::try_from(prior * 100 / minutes).unwrap_or(u32::MAX),
    }
}

impl Store {
    /// What the store knows about `agent_id`'s past, before the draft being scored: its draft
    /// count, whether it acted on `target` before, which of `counterparts` (lower-case
    /// recipients and hosts) it never addressed ([`Store::record_counterparts`]) and which it
    /// had approved up to `now` ([`Store::approved_counterparts`]), its drafts in the minute
    /// before `now`, and its usual rate (drafts per active minute, × 100).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn agent_history(
        &self,
        agent_id: &str,
        target: &str,
        counterparts: &[String],
        now: i64,
    ) -> Result<History> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.agent_history(agent_id, target, counterparts, now),
        };
        let (prior, first, last): (i64, Option<i64>, Option<i64>) = conn.query_row(
            "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM actions WHERE agent_id = ?1",
            [agent_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let target_seen: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM actions WHERE agent_id = ?1 AND target = ?2)",
            [agent_id, target],
            |r| r.get(0),
        )?;
        let mut seen = conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM agent_counterparts WHERE agent_id = ?1 AND counterpart = ?2)",
        )?;
        let mut new_counterparts = Vec::new();
        for c in counterparts {
            let known: bool = seen.query_row(rusqlite::params![agent_id, c], |r| r.get(0))?;
            if !known {
                new_counterparts.push(c.clone());
            }
        }
        let last_minute: i64 = conn.query_row(
            "SELECT COUNT(*) FROM actions WHERE agent_id = ?1 AND created_at >= ?2",
            rusqlite::params![agent_id, now - 60],
            |r| r.get(0),
        )?;
        drop(seen);
        drop(conn);
        let approved = self.approved_counterparts(agent_id, counterparts, now + 1)?;
        Ok(history_facts(
            (prior, first, last),
            target_seen,
            new_counterparts,
            approved,
            last_minute,
        ))
    }

    /// Remembers that `agent_id` addressed `counterparts` (after its draft was committed).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn record_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        at: i64,
    ) -> Result<()> {
        if counterparts.is_empty() {
            return Ok(());
        }
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.record_counterparts(agent_id, counterparts, at),
        };
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO agent_counterparts (agent_id, counterpart, first_seen) VALUES (?1, ?2, ?3)",
        )?;
        for c in counterparts {
            insert.execute(rusqlite::params![agent_id, c, at])?;
        }
        Ok(())
    }

    /// Remembers that a draft of `agent_id` addressing `counterparts` (lower-case recipients
    /// and hosts, [`countersign_core::risk::novelty::counterparts`] of the action as signed)
    /// was approved at `at` (Unix seconds). The first approval of each is kept.
    ///
    /// # Errors
    /// SQLite or PostgreSQL errors.
    pub fn record_approved_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        at: i64,
    ) -> Result<()> {
        if counterparts.is_empty() {
            return Ok(());
        }
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.record_approved_counterparts(agent_id, counterparts, at),
        };
        let mut upsert = conn.prepare_cached(
            "INSERT INTO agent_counterparts (agent_id, counterpart, first_seen, approved_at) \
             VALUES (?1, ?2, ?3, ?3) ON CONFLICT (agent_id, counterpart) \
             DO UPDATE SET approved_at = COALESCE(approved_at, excluded.approved_at)",
        )?;
        for c in counterparts {
            upsert.execute(rusqlite::params![agent_id, c, at])?;
        }
        Ok(())
    }

    /// Which of `counterparts` (lower case, as recorded) were in a draft of `agent_id`
    /// approved before `before` (Unix seconds, exclusive), in the order given: one indexed
    /// lookup each (SQLite) or one query (PostgreSQL).
    ///
    /// # Errors
    /// SQLite or PostgreSQL errors.
    pub fn approved_counterparts(
        &self,
        agent_id: &str,
        counterparts: &[String],
        before: i64,
    ) -> Result<Vec<String>> {
        if counterparts.is_empty() {
            return Ok(Vec::new());
        }
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.approved_counterparts(agent_id, counterparts, before),
        };
        let mut approved = conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM agent_counterparts \
             WHERE agent_id = ?1 AND counterpart = ?2 AND approved_at < ?3)",
        )?;
        let mut out = Vec::new();
        for c in counterparts {
            let yes: bool =
                approved.query_row(rusqlite::params![agent_id, c, before], |r| r.get(0))?;
            if yes {
                out.push(c.clone());
            }
        }
        Ok(out)
    }
}
