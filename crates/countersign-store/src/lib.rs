//! Countersign's store: one interface, two backends.
//!
//! - **SQLite** (the embedded default, [`Store::open`]): one file, WAL mode, `busy_timeout` on
//!   every connection, `synchronous=FULL` so that a submission or decision acknowledged to
//!   anyone has reached the disk. Schema changes are migrations applied in one transaction
//!   ([`migrations`]). Writes go through one connection behind a mutex (SQLite has one
//!   writer); reads through a second connection, so the review UI does not wait on submissions.
//! - **PostgreSQL** (team mode, [`Store::open_postgres`]): a small connection pool; the same
//!   methods, the same schema semantics, the same audit hash chain (see [`pg`]).
//!
//! Every method of [`Store`] behaves the same on both: a state change and its audit row commit
//! in one transaction, and a decision is a compare-and-set from `pending`.

mod agents;
mod audit;
pub mod checkpoint;
mod cosign;
mod history;
mod migrations;
pub mod pg;
pub(crate) mod policy;
mod records;
mod row;
mod team;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use agents::{hash_token, new_token, AgentRow};
pub use audit::{AuditEvent, AuditRow};
pub use checkpoint::{AuditProblem, AuditReport, Checkpoint, CHECKPOINT_EVERY};
pub use cosign::CosignRow;
pub use pg::{validate_postgres_url, DecisionFollower, POOL_SIZE};
pub use policy::{AcceptedPolicy, RecordedPolicy};
pub use records::{ActionRow, DecisionRow, HistoryRow, NewAction, NewDecision};
pub use team::{AcceptedRoster, ClaimRow, NewSession, RecordedRoster, SessionRow};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "countersign.sqlite3";

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (IO, corruption, busy past the timeout).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (connection lost, statement refused, serialization failure).
    #[error("PostgreSQL: {}", pg::describe(.0))]
    Postgres(#[from] ::postgres::Error),
    /// No PostgreSQL connection could be had from the pool within its timeout.
    #[error("PostgreSQL unavailable: {0}")]
    Unavailable(String),
    /// A `--database` URL that is not a usable PostgreSQL URL (the message names what is wrong
    /// and never repeats a password).
    #[error("database URL: {0}")]
    BadDatabaseUrl(String),
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

/// The store: SQLite (a writer and a reader connection on one file) or PostgreSQL (a pool).
pub struct Store {
    backend: Backend,
}

// One store per process, so the size of the SQLite variant (two connections) costs nothing.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(Sqlite),
    Postgres(pg::Postgres),
}

/// The SQLite backend's two connections.
pub(crate) struct Sqlite {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
}

impl Sqlite {
    /// The writer connection. Hold it only for one transaction.
    pub(crate) fn write(&self) -> MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reader connection.
    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend_name())
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
        Ok(Store::sqlite_pair(write, read))
    }

    fn sqlite_pair(write: Connection, read: Connection) -> Store {
        Store {
            backend: Backend::Sqlite(Sqlite {
                write: Mutex::new(write),
                read: Mutex::new(read),
            }),
        }
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
        Ok(Store::sqlite_pair(write, read))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:pass@host:port/db`, see
    /// [`validate_postgres_url`]) with a pool of at most [`POOL_SIZE`] connections, and applies
    /// pending migrations (one transaction, under an advisory lock, so replicas starting
    /// together take turns).
    ///
    /// # Errors
    /// [`StoreError::BadDatabaseUrl`] for a malformed URL, [`StoreError::Postgres`] when the
    /// server cannot be reached or refuses the login, [`StoreError::TooNew`] for a schema
    /// written by a newer Countersign.
    pub fn open_postgres(url: &str) -> Result<Store> {
        Ok(Store {
            backend: Backend::Postgres(pg::Postgres::open(url)?),
        })
    }

    /// Hears of every decision committed on this database, by this process or by another
    /// broker replica on it: `on_decided` gets the decided draft's id on a thread of the
    /// follower's own, once the decision's transaction has committed; other changes of a
    /// pending draft (submitted, signed, claimed) arrive as `changed:<id>`
    /// ([`pg::CHANGED_PREFIX`]), after the decisions that arrived with them, each once per
    /// batch. PostgreSQL only
    /// (`LISTEN`/`NOTIFY` on [`pg::DECIDED_CHANNEL`], reconnecting after a failure, see
    /// [`pg::DecisionFollower`]); `Ok(None)` on SQLite, whose other writers are processes on
    /// the same machine that callers notice by re-reading the file. Dropping the follower
    /// stops it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the follower's thread cannot be started.
    pub fn follow_decisions(
        &self,
        on_decided: impl Fn(&str) + Send + 'static,
    ) -> Result<Option<DecisionFollower>> {
        match self.sqlite() {
            Ok(_) => Ok(None),
            Err(pg) => pg.follow_decisions(on_decided).map(Some),
        }
    }

    /// `"sqlite"` or `"postgres"`: which backend this store runs on.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The SQLite backend, or the PostgreSQL one for the caller to dispatch to.
    pub(crate) fn sqlite(&self) -> std::result::Result<&Sqlite, &pg::Postgres> {
        match &self.backend {
            Backend::Sqlite(db) => Ok(db),
            Backend::Postgres(pg) => Err(pg),
        }
    }

    /// The SQLite writer connection, for tests and tools that inspect the file. Hold it only
    /// for one transaction.
    ///
    /// # Panics
    /// On a PostgreSQL store, which has no SQLite connection (use [`Store::execute_batch`]).
    pub fn write(&self) -> MutexGuard<'_, Connection> {
        match self.sqlite() {
            Ok(db) => db.write(),
            Err(_) => panic!("Store::write is the SQLite connection; this store is on PostgreSQL"),
        }
    }

    /// The SQLite reader connection, for tests and tools.
    ///
    /// # Panics
    /// On a PostgreSQL store (see [`Store::write`]).
    pub fn read(&self) -> MutexGuard<'_, Connection> {
        match self.sqlite() {
            Ok(db) => db.read(),
            Err(_) => panic!("Store::read is the SQLite connection; this store is on PostgreSQL"),
        }
    }

    /// Runs `sql` (one or more statements separated by `;`) verbatim in one transaction,
    /// outside every rule of the store: no audit row, no compare-and-set. Tests use it to act
    /// as an attacker with write access to the database, on either backend.
    ///
    /// # Errors
    /// The backend's error for a statement it refuses (nothing is applied then).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self.sqlite() {
            Ok(db) => {
                let mut conn = db.write();
                let tx = conn.transaction()?;
                tx.execute_batch(sql)?;
                tx.commit()?;
                Ok(())
            }
            Err(pg) => pg.execute_batch(sql),
        }
    }
}
