//! The single-use ledger: a durable record of every decision `jti` this gate has acted on.
//!
//! A signed approval is a bearer credential for one execution. The gate inserts its `jti`
//! here, in a committed transaction with `synchronous=FULL` (the commit is on disk before
//! [`Ledger::consume`] returns), *before* it executes; a second attempt with the same envelope
//! — in this process, another process, or after a restart — hits the primary key and is
//! refused. Two racing processes cannot both win: SQLite serializes the writers and exactly
//! one `INSERT` succeeds.
//!
//! Schema (version 1, `PRAGMA user_version`):
//!
//! ```sql
//! CREATE TABLE consumed (jti TEXT PRIMARY KEY, action_id TEXT NOT NULL,
//!                        consumed_at INTEGER NOT NULL) STRICT;
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use countersign_core::time::UnixSeconds;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

/// File name of the ledger inside the gate's state directory.
pub const LEDGER_FILE: &str = "gate.sqlite3";

/// How long a writer waits for another process's transaction before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema version this code writes and understands.
const SCHEMA_VERSION: i64 = 1;

/// Why the ledger could not record or check a `jti`.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The state directory could not be created.
    #[error("cannot create the gate's state directory {}: {source}", .path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error("cannot open the single-use ledger {}: {source}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer gate with a schema this one does not know.
    #[error("the ledger's schema version {found} is newer than this gate's ({SCHEMA_VERSION})")]
    Schema {
        /// `user_version` found in the file.
        found: i64,
    },
    /// A read or write failed (disk full, I/O error, lock held past [`BUSY_TIMEOUT`]).
    #[error("single-use ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The `jti` was consumed before: this is a replay and must not execute.
    #[error("replay: decision {jti} was already used{}", .consumed_at.map(|t| format!(" (at Unix time {t}, for draft {})", .action_id)).unwrap_or_default())]
    Replay {
        /// The decision's `jti`.
        jti: String,
        /// The draft it was first consumed for.
        action_id: String,
        /// When it was first consumed, Unix seconds, if the record could be read.
        consumed_at: Option<UnixSeconds>,
    },
}

/// A handle on the ledger file. `Send + Sync`; calls from several threads take turns on one
/// connection, and several processes may open the same file.
#[derive(Debug)]
pub struct Ledger {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Ledger {
    /// Where the ledger lives inside `state_dir`: `state_dir/gate.sqlite3`.
    pub fn default_path(state_dir: &Path) -> PathBuf {
        state_dir.join(LEDGER_FILE)
    }

    /// Opens (creating it if needed, with mode 0700 on Unix) `state_dir` and the ledger at
    /// [`Ledger::default_path`].
    ///
    /// # Errors
    /// [`LedgerError::StateDir`], or those of [`Ledger::open`].
    pub fn open_in(state_dir: &Path) -> Result<Ledger, LedgerError> {
        create_private_dir(state_dir).map_err(|source| LedgerError::StateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        Self::open(Self::default_path(state_dir))
    }

    /// Opens or creates the ledger file at `path`: WAL journal, `synchronous=FULL`,
    /// `busy_timeout` of [`BUSY_TIMEOUT`], schema migrated in one transaction.
    ///
    /// # Errors
    /// [`LedgerError::Open`] when the file cannot be opened or configured,
    /// [`LedgerError::Schema`] for a file from a newer gate.
    pub fn open(path: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        // Several gates starting at once on a new file can see SQLITE_BUSY while one of them
        // switches it to WAL (that step does not always wait on the busy handler): take turns.
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(path.as_ref()) {
                Err(LedgerError::Open {
                    source: rusqlite::Error::SqliteFailure(e, _),
                    ..
                }) if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    let jitter = u64::from(std::process::id() % 17);
                    std::thread::sleep(std::time::Duration::from_millis(20 + jitter));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Ledger, LedgerError> {
        let path = path.to_owned();
        let open_err = |source| LedgerError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, path = %path.display(), "ledger is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        migrate(&mut conn).map_err(|e| match e {
            LedgerError::Sqlite(source) => open_err(source),
            other => other,
        })?;
        Ok(Ledger {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The ledger file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `jti` as consumed for draft `action_id`, now. Returns only after the commit is
    /// durable, so the caller may execute afterwards.
    ///
    /// # Errors
    /// [`LedgerError::Replay`] when `jti` is already recorded (by anyone, at any time);
    /// [`LedgerError::Sqlite`] when the write fails — in both cases the caller must not execute.
    pub fn consume(&self, jti: &str, action_id: &str) -> Result<(), LedgerError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT INTO consumed (jti, action_id, consumed_at) VALUES (?1, ?2, ?3)",
            (jti, action_id, crate::unix_now()),
        );
        match inserted {
            Ok(_) => {
                tx.commit()?;
                Ok(())
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                let first: Option<(String, UnixSeconds)> = tx
                    .query_row(
                        "SELECT action_id, consumed_at FROM consumed WHERE jti = ?1",
                        [jti],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()
                    .ok()
                    .flatten();
                Err(LedgerError::Replay {
                    jti: jti.to_owned(),
                    action_id: first
                        .as_ref()
                        .map_or_else(|| action_id.to_owned(), |(id, _)| id.clone()),
                    consumed_at: first.map(|(_, at)| at),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `jti` has been consumed.
    ///
    /// # Errors
    /// [`LedgerError::Sqlite`] when the read fails.
    pub fn is_consumed(&self, jti: &str) -> Result<bool, LedgerError> {
        let conn = self.lock();
        let found = conn
            .query_row("SELECT 1 FROM consumed WHERE jti = ?1", [jti], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (rusqlite rolls back
        // on drop), so the connection is still consistent.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), LedgerError> {
    // IMMEDIATE: two processes creating the file at once take turns instead of both migrating.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::Schema { found: version });
    }
    if version < 1 {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS consumed (
                 jti TEXT PRIMARY KEY,
                 action_id TEXT NOT NULL,
                 consumed_at INTEGER NOT NULL
             ) STRICT;",
        )?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_gates_creating_one_ledger_at_once_all_open_it() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(LEDGER_FILE);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Ledger::open(&path).map(|_| ())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .unwrap()
                    .expect("a concurrent first open must wait its turn, not fail");
            }
        }
    }

    #[test]
    fn ledger_is_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_in(dir.path()).unwrap();
        let conn = ledger.lock();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(
            mode, "wal",
            "WAL lets readers and the writer not block each other"
        );
        assert_eq!(sync, 2, "FULL (2): a consumed jti must survive a power cut");
    }

    #[test]
    fn consuming_a_jti_twice_is_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_in(dir.path()).unwrap();
        ledger.consume("j1", "a1").unwrap();
        let err = ledger.consume("j1", "a2").unwrap_err();
        match err {
            LedgerError::Replay {
                jti,
                action_id,
                consumed_at,
            } => {
                assert_eq!(jti, "j1");
                assert_eq!(
                    action_id, "a1",
                    "the replay names the draft it was first used for"
                );
                assert!(consumed_at.is_some());
            }
            other => panic!("expected a replay, got {other}"),
        }
        assert!(ledger.is_consumed("j1").unwrap());
        assert!(!ledger.is_consumed("j2").unwrap());
    }

    #[test]
    fn a_ledger_from_a_newer_gate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = Ledger::default_path(dir.path());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(
            matches!(Ledger::open(&path), Err(LedgerError::Schema { found: 99 })),
            "an unknown schema might not enforce single use"
        );
    }
}
