//! Countersign's SQLite store.
//!
//! One file, WAL mode, `busy_timeout` on every connection, `synchronous=FULL` so that a
//! submission or decision acknowledged to anyone has reached the disk. Schema changes are
//! migrations applied in one transaction ([`migrations`]).
//!
//! Writes go through [`Store::write`] (one connection behind a mutex: SQLite has one writer);
//! reads through [`Store::read`] on a second connection, so the review UI does not wait on
//! submissions.

mod agents;
mod audit;
pub mod checkpoint;
mod cosign;
mod history;
mod migrations;
mod policy;
mod records;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use agents::{hash_token, new_token, AgentRow};
pub use audit::{AuditEvent, AuditRow};
pub use checkpoint::{AuditProblem, AuditReport, Checkpoint, CHECKPOINT_EVERY};
pub use cosign::CosignRow;
pub use policy::{AcceptedPolicy, RecordedPolicy};
pub use records::{ActionRow, DecisionRow, HistoryRow, NewAction, NewDecision};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "countersign.sqlite3";

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (IO, corruption, busy past the timeout).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row holds JSON we cannot read back.
    #[error("stored JSON in {table}.{column} is unreadable: {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Column.
        column: &'static str,
        /// serde's message.
        message: String,
    },
    /// An agent with that name exists.
    #[error("an agent named `{0}` already exists")]
    AgentExists(String),
    /// The action is not pending any more (compare-and-set lost).
    #[error("draft {id} is {status}, not pending")]
    NotPending {
        /// Draft id.
        id: String,
        /// Its status.
        status: String,
    },
    /// No such row.
    #[error("no draft with id {0}")]
    NotFound(String),
    /// The database was written by a newer Countersign.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    TooNew {
        /// In the file.
        found: i64,
        /// Known here.
        supported: i64,
    },
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store: a writer and a reader connection on one SQLite file.
pub struct Store {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// How long a connection waits for another writer before giving up.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError`] if the file cannot be opened, is not a database, or is from a newer version.
    pub fn open(path: &Path) -> Result<Store> {
        // Processes opening a new file at once (the app, `countersign agent add`, …) can see
        // SQLITE_BUSY while one switches it to WAL, a step the busy handler does not always
        // cover: take turns for up to the busy timeout.
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(
                        20 + u64::from(std::process::id() % 17),
                    ));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Store> {
        let mut write = Connection::open(path)?;
        configure(&write)?;
        write.pragma_update(None, "journal_mode", "WAL")?;
        migrations::apply(&mut write)?;
        let read = Connection::open(path)?;
        configure(&read)?;
        Ok(Store {
            write: Mutex::new(write),
            read: Mutex::new(read),
        })
    }

    /// An in-memory store for tests (one shared connection).
    ///
    /// # Errors
    /// Only if SQLite cannot allocate.
    pub fn open_in_memory() -> Result<Store> {
        let uri = format!(
            "file:countersign-{}?mode=memory&cache=shared",
            hex::encode(rand::random::<[u8; 8]>())
        );
        let flags = rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let mut write = Connection::open_with_flags(&uri, flags)?;
        configure(&write)?;
        migrations::apply(&mut write)?;
        let read = Connection::open_with_flags(&uri, flags)?;
        configure(&read)?;
        Ok(Store {
            write: Mutex::new(write),
            read: Mutex::new(read),
        })
    }

    /// The writer connection. Hold it only for one transaction.
    pub fn write(&self) -> MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reader connection.
    pub fn read(&self) -> MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }
}
