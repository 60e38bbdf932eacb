//! The signed policy in force: its serial and SHA-256, so that a policy older than the one
//! accepted before is refused, even after a restart (no rollback).

use rusqlite::OptionalExtension;

use crate::{Result, Store};

impl Store {
    /// The `(serial, sha256)` of the policy last accepted, if any.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn policy_in_force(&self) -> Result<Option<(u64, String)>> {
        let conn = self.read();
        Ok(conn
            .query_row(
                "SELECT serial, sha256 FROM policy_state WHERE id = 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(serial, sha)| (u64::try_from(serial).unwrap_or(0), sha)))
    }

    /// Records a policy as in force unless an older-or-equal one would replace a newer one:
    /// accepted when there is none yet, when `serial` is higher, or when it is the same serial
    /// with the same bytes. One statement, so two processes cannot race past each other.
    /// Returns whether it was accepted.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn accept_policy(&self, serial: u64, sha256: &str, at: i64) -> Result<bool> {
        let serial = i64::try_from(serial).unwrap_or(i64::MAX);
        let conn = self.write();
        let changed = conn.execute(
            "INSERT INTO policy_state (id, serial, sha256, loaded_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET serial = excluded.serial, sha256 = excluded.sha256,
                 loaded_at = excluded.loaded_at
             WHERE policy_state.serial < excluded.serial
                OR (policy_state.serial = excluded.serial AND policy_state.sha256 = excluded.sha256)",
            rusqlite::params![serial, sha256, at],
        )?;
        Ok(changed == 1)
    }
}
