//! Schema migrations, applied in order, all pending ones in one transaction. `user_version`
//! records how many have been applied.

use rusqlite::Connection;

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: agents, actions, decisions, audit chain, webhook deliveries.
    r#"
    CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        token_hash  BLOB NOT NULL UNIQUE,      -- SHA-256 of the bearer token
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    ) STRICT;

    CREATE TABLE actions (
        id            TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL REFERENCES agents(id),
        kind          TEXT NOT NULL,
        target        TEXT NOT NULL,
        summary       TEXT NOT NULL,
        action_json   TEXT NOT NULL,            -- RFC 8785 canonical form
        action_digest TEXT NOT NULL,
        risk_json     TEXT NOT NULL,
        score         INTEGER NOT NULL,
        level         TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','expired')),
        callback_url  TEXT,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        decided_at    INTEGER
    ) STRICT;
    CREATE INDEX actions_by_status ON actions(status, expires_at);
    CREATE INDEX actions_by_agent ON actions(agent_id, status);

    CREATE TABLE decisions (
        action_id     TEXT PRIMARY KEY REFERENCES actions(id),
        verdict       TEXT NOT NULL,
        reason        TEXT,
        approver      TEXT NOT NULL,
        keyid         TEXT NOT NULL,
        jti           TEXT NOT NULL UNIQUE,
        envelope_json TEXT NOT NULL,
        decided_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE audit (
        seq         INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        event       TEXT NOT NULL,
        action_id   TEXT,
        detail_json TEXT NOT NULL,
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL
    ) STRICT;
    "#,
    // 2: the signed policy in force (one row), so an older policy is refused after a restart.
    r#"
    CREATE TABLE policy_state (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        serial     INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        loaded_at  INTEGER NOT NULL
    ) STRICT;
    "#,
    // 3: signed checkpoints of the audit chain (the newest row's seq and hash, signed).
    r#"
    CREATE TABLE audit_checkpoints (
        seq           INTEGER PRIMARY KEY,      -- audit.seq of the newest row covered
        head          TEXT NOT NULL,            -- that row's hash
        at            INTEGER NOT NULL,
        keyid         TEXT NOT NULL,
        envelope_json TEXT NOT NULL             -- DSSE envelope over the checkpoint body
    ) STRICT;
    "#,
    // 4: recipients and hosts each agent has addressed, for the risk score's novelty check
    // (an indexed lookup instead of a scan of the agent's drafts).
    r#"
    CREATE TABLE agent_counterparts (
        agent_id    TEXT NOT NULL REFERENCES agents(id),
        counterpart TEXT NOT NULL,              -- lower-case e-mail address or host
        first_seen  INTEGER NOT NULL,
        PRIMARY KEY (agent_id, counterpart)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX actions_by_agent_target ON actions(agent_id, target);
    "#,
    // 5: the bytes and signature of the policy in force, so that a start-up whose policy file
    // is refused can keep the last good policy instead of running with none.
    r#"
    ALTER TABLE policy_state ADD COLUMN policy_bytes BLOB;
    ALTER TABLE policy_state ADD COLUMN signature_json TEXT;
    "#,
    // 6: approvals awaiting a co-signature (a lead on another machine): the signed body and the
    // signatures so far. The draft stays pending; a decision on it removes the row.
    r#"
    CREATE TABLE cosign_pending (
        action_id     TEXT PRIMARY KEY REFERENCES actions(id),
        envelope_json TEXT NOT NULL,            -- DSSE envelope: the body and its signatures
        approvals     INTEGER NOT NULL,         -- distinct approvers required in all
        lead          INTEGER NOT NULL,         -- 1: one of them must be pinned as lead
        created_at    INTEGER NOT NULL
    ) STRICT;
    "#,
    // 7: team mode: the lead-signed roster in force (one row, no rollback), single-use login
    // challenges, approver sessions (SHA-256 of the token only), claims ("in review").
    r#"
    CREATE TABLE team_roster (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        team           TEXT NOT NULL,
        serial         INTEGER NOT NULL,
        sha256         TEXT NOT NULL,
        roster_bytes   BLOB NOT NULL,
        signature_json TEXT NOT NULL,
        loaded_at      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE team_challenges (
        nonce       TEXT PRIMARY KEY,
        keyid       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE team_sessions (
        token_hash  BLOB PRIMARY KEY,          -- SHA-256 of the bearer token
        team        TEXT NOT NULL,
        keyid       TEXT NOT NULL,
        approver    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        ended_at    INTEGER
    ) STRICT;
    CREATE TABLE team_claims (
        action_id   TEXT PRIMARY KEY REFERENCES actions(id),
        keyid       TEXT NOT NULL,
        approver    TEXT NOT NULL,
        claimed_at  INTEGER NOT NULL,
        until       INTEGER NOT NULL
    ) STRICT;
    "#,
    // 8: when each recipient or host was first in one of the agent's approved drafts (NULL:
    // never), so the impact panel tells a known recipient from a new one.
    r#"
    ALTER TABLE agent_counterparts ADD COLUMN approved_at INTEGER;
    "#,
];
pub(crate) fn apply(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE before reading the version: two processes opening a new file take turns
    // instead of both migrating it.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            supported: known,
        });
    }
    if version == known {
        return Ok(());
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}
