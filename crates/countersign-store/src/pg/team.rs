//! Team mode's state on PostgreSQL: each method mirrors the SQLite method of the same name in
//! `crate::team` (documented on [`crate::Store`]).

use super::queries::{append, notify_change};
use super::Postgres;
use crate::audit::AuditEvent;
use crate::team::{
    claim_row, login_detail, roster_row, session_row, AcceptedRoster, ClaimRow, NewSession,
    RecordedRoster, SessionRow, CLAIMS_SELECT, ROSTER_SELECT,
};
use crate::Result;

impl Postgres {
    pub(crate) fn roster_in_force(&self) -> Result<Option<RecordedRoster>> {
        self.row(ROSTER_SELECT, &[], roster_row)
    }

    pub(crate) fn accept_roster(&self, r: &AcceptedRoster<'_>, serial: i64) -> Result<bool> {
        self.write(|mut tx| {
            let changed = tx.execute(
                "INSERT INTO team_roster (id, team, serial, sha256, roster_bytes, signature_json, loaded_at)
                     VALUES (1, $1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET team = excluded.team, serial = excluded.serial,
                     sha256 = excluded.sha256, roster_bytes = excluded.roster_bytes,
                     signature_json = excluded.signature_json, loaded_at = excluded.loaded_at
                 WHERE team_roster.team = excluded.team AND (team_roster.serial < excluded.serial
                    OR (team_roster.serial = excluded.serial AND team_roster.sha256 = excluded.sha256))",
                &[&r.team, &serial, &r.sha256, &r.bytes, &r.signature_json, &r.at],
            )?;
            if changed != 1 {
                return Ok(false);
            }
            append(&mut tx, r.at, AuditEvent::RosterLoaded, None, r.audit_detail)?;
            tx.commit()?;
            Ok(true)
        })
    }

    pub(crate) fn issue_challenge(
        &self,
        nonce: &str,
        keyid: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM team_challenges WHERE expires_at < $1", &[&now])?;
            c.execute(
                "INSERT INTO team_challenges (nonce, keyid, expires_at) VALUES ($1, $2, $3)",
                &[&nonce, &keyid, &expires_at],
            )?;
            Ok(())
        })
    }

    pub(crate) fn consume_challenge(&self, nonce: &str, keyid: &str, now: i64) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "DELETE FROM team_challenges WHERE nonce = $1 AND keyid = $2 AND expires_at >= $3",
                &[&nonce, &keyid, &now],
            )?;
            Ok(n == 1)
        })
    }

    pub(crate) fn open_session(&self, s: &NewSession<'_>) -> Result<()> {
        self.write(|mut tx| {
            tx.execute(
                "INSERT INTO team_sessions (token_hash, team, keyid, approver, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&s.token_hash[..],
                    &s.team,
                    &s.keyid,
                    &s.approver,
                    &s.at,
                    &s.expires_at,
                ],
            )?;
            append(&mut tx, s.at, AuditEvent::TeamLogin, None, &login_detail(s))?;
            tx.commit()?;
            Ok(())
        })
    }

    pub(crate) fn session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<SessionRow>> {
        self.row(
            "SELECT team, keyid, approver, expires_at FROM team_sessions
             WHERE token_hash = $1 AND expires_at >= $2 AND ended_at IS NULL",
            &[&&token_hash[..], &now],
            session_row,
        )
    }

    pub(crate) fn end_session(&self, token_hash: &[u8; 32], at: i64) -> Result<bool> {
        self.write(|mut tx| {
            let Some(row) = tx.query_opt(
                "UPDATE team_sessions SET ended_at = $2
                 WHERE token_hash = $1 AND ended_at IS NULL RETURNING keyid",
                &[&&token_hash[..], &at],
            )?
            else {
                return Ok(false);
            };
            let keyid: String = row.try_get(0)?;
            append(
                &mut tx,
                at,
                AuditEvent::TeamLogout,
                None,
                &serde_json::json!({ "keyid": keyid }),
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    pub(crate) fn claim(&self, c: &ClaimRow) -> Result<ClaimRow> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            tx.execute(
                "INSERT INTO team_claims (action_id, keyid, approver, claimed_at, until)
                     VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (action_id) DO UPDATE SET keyid = excluded.keyid,
                     approver = excluded.approver, claimed_at = excluded.claimed_at,
                     until = excluded.until
                 WHERE team_claims.keyid = excluded.keyid OR team_claims.until < excluded.claimed_at",
                &[&c.action_id, &c.keyid, &c.approver, &c.claimed_at, &c.until],
            )?;
            let held = tx.query_one(
                &format!("{CLAIMS_SELECT} WHERE action_id = $1"),
                &[&c.action_id],
            )?;
            let held = claim_row(&held)?;
            notify_change(&mut tx, &c.action_id)?;
            tx.commit()?;
            Ok(held)
        })
    }

    pub(crate) fn release_claim(&self, action_id: &str, keyid: &str) -> Result<bool> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            let n = tx.execute(
                "DELETE FROM team_claims WHERE action_id = $1 AND keyid = $2",
                &[&action_id, &keyid],
            )?;
            notify_change(&mut tx, action_id)?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    pub(crate) fn claims(&self, now: i64) -> Result<Vec<ClaimRow>> {
        self.rows(
            &format!("{CLAIMS_SELECT} WHERE until >= $1"),
            &[&now],
            claim_row,
        )
    }
}
