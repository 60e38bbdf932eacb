//! Team mode's state (see `countersign_core::team`): the roster in force (no rollback, like the
//! policy), single-use login challenges, approver sessions (only the SHA-256 of a session token
//! is stored), and claims ("in review by …"). Logins, logouts and roster changes are audited.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::audit::{append, AuditEvent};
use crate::row::Columns;
use crate::{Result, Store};

/// A verified roster to record as in force.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedRoster<'a> {
    /// Its team.
    pub team: &'a str,
    /// Its serial.
    pub serial: u64,
    /// `sha256:<hex>` of `bytes`.
    pub sha256: &'a str,
    /// The exact file bytes that were signed.
    pub bytes: &'a [u8],
    /// The DSSE envelope (JSON text) that signs them.
    pub signature_json: &'a str,
    /// Unix seconds.
    pub at: i64,
    /// Detail of the `team.roster_loaded` audit row (team, serial, sha256, signers, source).
    pub audit_detail: &'a Value,
}

/// The roster in force as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRoster {
    /// Team.
    pub team: String,
    /// Serial.
    pub serial: u64,
    /// `sha256:<hex>` of the bytes.
    pub sha256: String,
    /// The signed file bytes.
    pub bytes: Vec<u8>,
    /// The DSSE envelope JSON.
    pub signature_json: String,
}

/// An approver session to open.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// SHA-256 of the bearer token handed to the app (the token itself is never stored).
    pub token_hash: &'a [u8; 32],
    /// The team it is bound to.
    pub team: &'a str,
    /// The approver key that answered the challenge.
    pub keyid: &'a str,
    /// The roster name of that key.
    pub approver: &'a str,
    /// Opened at, Unix seconds.
    pub at: i64,
    /// Ends at, Unix seconds.
    pub expires_at: i64,
}

/// An open approver session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Team.
    pub team: String,
    /// Key id.
    pub keyid: String,
    /// Approver name.
    pub approver: String,
    /// Ends at, Unix seconds.
    pub expires_at: i64,
}

/// A draft someone is reviewing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRow {
    /// The draft.
    pub action_id: String,
    /// The reviewer's key id.
    pub keyid: String,
    /// The reviewer's name.
    pub approver: String,
    /// Claimed at, Unix seconds.
    pub claimed_at: i64,
    /// The claim lapses then (Unix seconds) unless renewed.
    pub until: i64,
}

pub(crate) fn roster_row(r: &impl Columns) -> Result<RecordedRoster> {
    Ok(RecordedRoster {
        team: r.text(0)?,
        serial: u64::try_from(r.int(1)?).unwrap_or(0),
        sha256: r.text(2)?,
        bytes: r.opt_blob(3)?.unwrap_or_default(),
        signature_json: r.text(4)?,
    })
}

pub(crate) fn session_row(r: &impl Columns) -> Result<SessionRow> {
    Ok(SessionRow {
        team: r.text(0)?,
        keyid: r.text(1)?,
        approver: r.text(2)?,
        expires_at: r.int(3)?,
    })
}

pub(crate) fn claim_row(r: &impl Columns) -> Result<ClaimRow> {
    Ok(ClaimRow {
        action_id: r.text(0)?,
        keyid: r.text(1)?,
        approver: r.text(2)?,
        claimed_at: r.int(3)?,
        until: r.int(4)?,
    })
}

pub(crate) fn login_detail(s: &NewSession<'_>) -> Value {
    serde_json::json!({
        "team": s.team, "keyid": s.keyid, "approver": s.approver, "expires_at": s.expires_at,
    })
}

pub(crate) const ROSTER_SELECT: &str =
    "SELECT team, serial, sha256, roster_bytes, signature_json FROM team_roster WHERE id = 1";
pub(crate) const CLAIMS_SELECT: &str =
    "SELECT action_id, keyid, approver, claimed_at, until FROM team_claims";

impl Store {
    /// The roster last accepted, if any.
    ///
    /// # Errors
    /// Database errors.
    pub fn roster_in_force(&self) -> Result<Option<RecordedRoster>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.roster_in_force(),
        };
        conn.query_row(ROSTER_SELECT, [], |r| Ok(roster_row(r)))
            .optional()?
            .transpose()
    }

    /// Records a roster as in force with its `team.roster_loaded` audit row, in one
    /// transaction, unless it would replace a newer one (as [`Store::accept_policy`]: accepted
    /// when there is none, when `serial` is higher, or for the same serial and bytes; one
    /// conditional statement, so replicas cannot race past each other). Returns whether it was
    /// accepted (nothing is written when it was not).
    ///
    /// # Errors
    /// Database errors.
    pub fn accept_roster(&self, r: &AcceptedRoster<'_>) -> Result<bool> {
        let serial = i64::try_from(r.serial).unwrap_or(i64::MAX);
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.accept_roster(r, serial),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "INSERT INTO team_roster (id, team, serial, sha256, roster_bytes, signature_json, loaded_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET team = excluded.team, serial = excluded.serial,
                 sha256 = excluded.sha256, roster_bytes = excluded.roster_bytes,
                 signature_json = excluded.signature_json, loaded_at = excluded.loaded_at
             WHERE team_roster.team = excluded.team AND (team_roster.serial < excluded.serial
                OR (team_roster.serial = excluded.serial AND team_roster.sha256 = excluded.sha256))",
            params![r.team, serial, r.sha256, r.bytes, r.signature_json, r.at],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        append(&tx, r.at, AuditEvent::RosterLoaded, None, r.audit_detail)?;
        tx.commit()?;
        Ok(true)
    }

    /// Records a login challenge `nonce` for `keyid`, answerable until `expires_at`, and
    /// forgets challenges that lapsed before `now`.
    ///
    /// # Errors
    /// Database errors (a nonce issued twice is a primary-key violation).
    pub fn issue_challenge(
        &self,
        nonce: &str,
        keyid: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.issue_challenge(nonce, keyid, now, expires_at),
        };
        conn.execute("DELETE FROM team_challenges WHERE expires_at < ?1", [now])?;
        conn.execute(
            "INSERT INTO team_challenges (nonce, keyid, expires_at) VALUES (?1, ?2, ?3)",
            params![nonce, keyid, expires_at],
        )?;
        Ok(())
    }

    /// Consumes challenge `nonce` issued to `keyid` if it has not lapsed at `now`: true once,
    /// false afterwards (and for an unknown, lapsed or other key's nonce).
    ///
    /// # Errors
    /// Database errors.
    pub fn consume_challenge(&self, nonce: &str, keyid: &str, now: i64) -> Result<bool> {
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.consume_challenge(nonce, keyid, now),
        };
        let n = conn.execute(
            "DELETE FROM team_challenges WHERE nonce = ?1 AND keyid = ?2 AND expires_at >= ?3",
            params![nonce, keyid, now],
        )?;
        Ok(n == 1)
    }

    /// Opens an approver session with its `team.login` audit row (one transaction).
    ///
    /// # Errors
    /// Database errors.
    pub fn open_session(&self, s: &NewSession<'_>) -> Result<()> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.open_session(s),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO team_sessions (token_hash, team, keyid, approver, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                &s.token_hash[..],
                s.team,
                s.keyid,
                s.approver,
                s.at,
                s.expires_at
            ],
        )?;
        append(&tx, s.at, AuditEvent::TeamLogin, None, &login_detail(s))?;
        tx.commit()?;
        Ok(())
    }

    /// The open session of a token hash at `now` (lapsed and ended sessions: `None`).
    ///
    /// # Errors
    /// Database errors.
    pub fn session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<SessionRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.session(token_hash, now),
        };
        conn.query_row(
            "SELECT team, keyid, approver, expires_at FROM team_sessions
             WHERE token_hash = ?1 AND expires_at >= ?2 AND ended_at IS NULL",
            params![&token_hash[..], now],
            |r| Ok(session_row(r)),
        )
        .optional()?
        .transpose()
    }

    /// Ends the session of a token hash (logout) with a `team.logout` audit row; false when
    /// it was not open.
    ///
    /// # Errors
    /// Database errors.
    pub fn end_session(&self, token_hash: &[u8; 32], at: i64) -> Result<bool> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.end_session(token_hash, at),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let keyid: Option<String> = tx
            .query_row(
                "UPDATE team_sessions SET ended_at = ?2
                 WHERE token_hash = ?1 AND ended_at IS NULL RETURNING keyid",
                params![&token_hash[..], at],
                |r| r.get(0),
            )
            .optional()?;
        let Some(keyid) = keyid else {
            return Ok(false);
        };
        append(
            &tx,
            at,
            AuditEvent::TeamLogout,
            None,
            &serde_json::json!({ "keyid": keyid }),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Claims draft `c.action_id` for `c.keyid` until `c.until` ("in review"), renewing the
    /// reviewer's own claim. Returns the claim in force afterwards: `c` itself, or another
    /// reviewer's claim that has not lapsed (then nothing changed).
    ///
    /// # Errors
    /// Database errors.
    pub fn claim(&self, c: &ClaimRow) -> Result<ClaimRow> {
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.claim(c),
        };
        conn.execute(
            "INSERT INTO team_claims (action_id, keyid, approver, claimed_at, until)
                 VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(action_id) DO UPDATE SET keyid = excluded.keyid,
                 approver = excluded.approver, claimed_at = excluded.claimed_at, until = excluded.until
             WHERE team_claims.keyid = excluded.keyid OR team_claims.until < excluded.claimed_at",
            params![c.action_id, c.keyid, c.approver, c.claimed_at, c.until],
        )?;
        let held = conn.query_row(
            &format!("{CLAIMS_SELECT} WHERE action_id = ?1"),
            [&c.action_id],
            |r| Ok(claim_row(r)),
        )??;
        Ok(held)
    }

    /// Releases `keyid`'s claim of `action_id`; false when it held none.
    ///
    /// # Errors
    /// Database errors.
    pub fn release_claim(&self, action_id: &str, keyid: &str) -> Result<bool> {
        let conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.release_claim(action_id, keyid),
        };
        let n = conn.execute(
            "DELETE FROM team_claims WHERE action_id = ?1 AND keyid = ?2",
            params![action_id, keyid],
        )?;
        Ok(n == 1)
    }

    /// The claims that have not lapsed at `now`.
    ///
    /// # Errors
    /// Database errors.
    pub fn claims(&self, now: i64) -> Result<Vec<ClaimRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.claims(now),
        };
        let mut stmt = conn.prepare(&format!("{CLAIMS_SELECT} WHERE until >= ?1"))?;
        let rows = stmt.query_map([now], |r| Ok(claim_row(r)))?;
        rows.map(|r| r?).collect()
    }
}
