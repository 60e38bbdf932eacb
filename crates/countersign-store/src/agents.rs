//! Agent identities. A bearer token is `cs_` + base64url (RFC 4648 §5, no padding) of 32 random
//! bytes; only its SHA-256 is stored, so a copy of the database does not hand out tokens.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use crate::row::{agent_row, collect};
use crate::{Result, Store, StoreError};

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// Stable id (UUID v4-like random hex).
    pub id: String,
    /// Unique display name.
    pub name: String,
    /// Created, Unix seconds.
    pub created_at: i64,
}

/// A fresh bearer token from the OS CSPRNG.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("cs_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Store {
    /// Registers an agent under `name` with the hash of `token`, and audits it.
    ///
    /// # Errors
    /// [`StoreError::AgentExists`] if the name is taken; SQLite errors.
    pub fn add_agent(&self, name: &str, token: &str, now: i64) -> Result<AgentRow> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.add_agent(name, token, now),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM agents WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::AgentExists(name.into()));
        }
        let row = new_agent_row(name, now);
        tx.execute(
            "INSERT INTO agents (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![row.id, row.name, hash_token(token).to_vec(), now],
        )?;
        append_agent_audit(&tx, &row, now)?;
        tx.commit()?;
        Ok(row)
    }

    /// The agent whose token this is, if any and not revoked. The lookup is by SHA-256 of the
    /// token (a unique index), so the comparison never touches the secret itself.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn agent_by_token(&self, token: &str) -> Result<Option<AgentRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.agent_by_token(&hash_token(token)),
        };
        conn.query_row(
            "SELECT id, name, created_at FROM agents WHERE token_hash = ?1 AND revoked_at IS NULL",
            [hash_token(token).to_vec()],
            |r| Ok(agent_row(r)),
        )
        .optional()?
        .transpose()
    }

    /// All agents, by name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn agents(&self) -> Result<Vec<AgentRow>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.agents(),
        };
        let mut stmt = conn.prepare(
            "SELECT id, name, created_at FROM agents WHERE revoked_at IS NULL ORDER BY name",
        )?;
        collect(&mut stmt, [], |r| agent_row(r))
    }
}

/// A new agent's row: a fresh random id (16 bytes, hex).
pub(crate) fn new_agent_row(name: &str, now: i64) -> AgentRow {
    AgentRow {
        id: hex::encode(rand::random::<[u8; 16]>()),
        name: name.into(),
        created_at: now,
    }
}

/// Detail of the `agent.added` audit row.
pub(crate) fn agent_added_detail(row: &AgentRow) -> serde_json::Value {
    serde_json::json!({ "agent_id": row.id, "name": row.name })
}

fn append_agent_audit(tx: &Transaction<'_>, row: &AgentRow, now: i64) -> Result<()> {
    crate::audit::append(
        tx,
        now,
        crate::AuditEvent::AgentAdded,
        None,
        &agent_added_detail(row),
    )
}
