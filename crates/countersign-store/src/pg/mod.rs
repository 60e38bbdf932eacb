//! The PostgreSQL backend (team mode): the same methods as the SQLite one, over a pool of
//! connections ([`r2d2`] with [`r2d2_postgres`], the synchronous [`postgres`] client).
//!
//! How it keeps the SQLite backend's guarantees on a server shared by several brokers:
//! - **One writer at a time.** Every write transaction first takes the transaction-scoped
//!   advisory lock [`WRITE_LOCK`] (`pg_advisory_xact_lock`), as SQLite's `BEGIN IMMEDIATE`
//!   does: the audit chain's next `seq` and `prev_hash` are read and written by one transaction
//!   at a time, across every replica. `audit.seq` is the primary key, so a writer that skipped
//!   the lock could not fork the chain either.
//! - **Decisions are a compare-and-set.** `UPDATE actions … WHERE status = 'pending' AND
//!   action_digest = $shown` takes the row lock; a second decider finds no pending row.
//! - **A state change and its audit row commit together**, with `synchronous_commit` as the
//!   server has it (on by default: a commit returns once the WAL reached the disk).
//! - **Filing order** is an identity column (`seq`), SQLite's `rowid`.
//!
//! Where a call runs: the synchronous client drives its own Tokio runtime, which panics
//! ("Cannot start a runtime from within a runtime") on a thread that is driving async tasks
//! (the broker's long-poll calls the store from one). So each call, like opening the store and
//! dropping it (which closes every pooled client), goes through [`outside_async`]:
//! - on a thread with no Tokio runtime (the CLI, the decision listener): right there;
//! - in a multi-threaded runtime: on the calling thread under [`tokio::task::block_in_place`],
//!   which on a runtime worker first hands the worker's other tasks to another thread, and on
//!   a `spawn_blocking` thread (where the broker's handlers call the store) has nothing to do;
//! - in a current-thread runtime (where `block_in_place` panics): on a short-lived scoped
//!   thread.
//!
//! The caller blocks as it would on SQLite, and a store may be opened and dropped anywhere,
//! async code included. Against a thread per call, this raised the `api_pg` bench's
//! submissions per second by a fifth to a third.
//!
//! Limits: no TLS to the server yet (`sslmode=require` is refused at start-up); text columns
//! cannot hold U+0000, which PostgreSQL refuses in `TEXT`.

mod follow;
mod queries;
mod team;

pub use follow::{DecisionFollower, LISTENER_NAME};

use std::time::Duration;

use postgres::config::SslMode;
use postgres::{Client, Config, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use crate::{Result, StoreError, BUSY_TIMEOUT};

/// Connections a PostgreSQL store keeps at most (each broker replica has its own pool).
pub const POOL_SIZE: u32 = 8;

/// Key of the transaction-scoped advisory lock every write transaction holds (the ASCII bytes
/// of `Countersi` folded into an `i64`): one writer at a time per database.
pub const WRITE_LOCK: i64 = 0x436f_756e_7465_7273;

/// The `NOTIFY` channel on which a committed decision announces its draft id (payload: the
/// id), so that a long-poll on another replica wakes at once; a submission, a co-signature or a
/// claim announces `changed:<id>` ([`CHANGED_PREFIX`]) so that every replica's team stream
/// shows it.
pub const DECIDED_CHANNEL: &str = "countersign_decided";

/// Payload prefix of a change that is not a decision (submission, signature, claim) on
/// [`DECIDED_CHANNEL`]: `changed:<id>`. A decision's payload is the bare id.
pub const CHANGED_PREFIX: &str = "changed:";

/// How long opening a connection may take before the start-up (or a call) fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Migrations, applied in order, all pending ones in one transaction; `countersign_schema`
/// records how many were applied. The first is the SQLite schema after its six migrations,
/// with PostgreSQL types (`BIGINT` for integers, `BYTEA` for blobs, `BOOLEAN` for flags) and
/// identity columns standing in for SQLite's `rowid`.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        token_hash  BYTEA NOT NULL UNIQUE,     -- SHA-256 of the bearer token
        created_at  BIGINT NOT NULL,
        revoked_at  BIGINT
    );

    CREATE TABLE actions (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,  -- filing order
        id            TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL REFERENCES agents(id),
        kind          TEXT NOT NULL,
        target        TEXT NOT NULL,
        summary       TEXT NOT NULL,
        action_json   TEXT NOT NULL,            -- RFC 8785 canonical form
        action_digest TEXT NOT NULL,
        risk_json     TEXT NOT NULL,
        score         BIGINT NOT NULL,
        level         TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','expired')),
        callback_url  TEXT,
        created_at    BIGINT NOT NULL,
        expires_at    BIGINT NOT NULL,
        decided_at    BIGINT
    );
    CREATE INDEX actions_by_status ON actions(status, expires_at);
    CREATE INDEX actions_by_agent ON actions(agent_id, status);
    CREATE INDEX actions_by_agent_target ON actions(agent_id, target);

    CREATE TABLE decisions (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,  -- decision order
        action_id     TEXT PRIMARY KEY REFERENCES actions(id),
        verdict       TEXT NOT NULL,
        reason        TEXT,
        approver      TEXT NOT NULL,
        keyid         TEXT NOT NULL,
        jti           TEXT NOT NULL UNIQUE,
        envelope_json TEXT NOT NULL,
        decided_at    BIGINT NOT NULL
    );

    CREATE TABLE audit (
        seq         BIGINT PRIMARY KEY,
        at          BIGINT NOT NULL,
        event       TEXT NOT NULL,
        action_id   TEXT,
        detail_json TEXT NOT NULL,              -- exactly the text that was hashed
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL
    );

    CREATE TABLE policy_state (
        id             BIGINT PRIMARY KEY CHECK (id = 1),
        serial         BIGINT NOT NULL,
        sha256         TEXT NOT NULL,
        loaded_at      BIGINT NOT NULL,
        policy_bytes   BYTEA,
        signature_json TEXT
    );

    CREATE TABLE audit_checkpoints (
        seq           BIGINT PRIMARY KEY,       -- audit.seq of the newest row covered
        head          TEXT NOT NULL,            -- that row's hash
        at            BIGINT NOT NULL,
        keyid         TEXT NOT NULL,
        envelope_json TEXT NOT NULL             -- DSSE envelope over the checkpoint body
    );

    CREATE TABLE agent_counterparts (
        agent_id    TEXT NOT NULL REFERENCES agents(id),
        counterpart TEXT NOT NULL,              -- lower-case e-mail address or host
        first_seen  BIGINT NOT NULL,
        PRIMARY KEY (agent_id, counterpart)
    );

    CREATE TABLE cosign_pending (
        action_id     TEXT PRIMARY KEY REFERENCES actions(id),
        envelope_json TEXT NOT NULL,            -- DSSE envelope: the body and its signatures
        approvals     BIGINT NOT NULL,          -- distinct approvers required in all
        lead          BOOLEAN NOT NULL,         -- one of them must be pinned as lead
        created_at    BIGINT NOT NULL
    );
    "#,
    // 2: team mode (SQLite's migration 7).
    r#"
    CREATE TABLE team_roster (
        id             BIGINT PRIMARY KEY CHECK (id = 1),
        team           TEXT NOT NULL,
        serial         BIGINT NOT NULL,
        sha256         TEXT NOT NULL,
        roster_bytes   BYTEA NOT NULL,
        signature_json TEXT NOT NULL,
        loaded_at      BIGINT NOT NULL
    );
    CREATE TABLE team_challenges (
        nonce       TEXT PRIMARY KEY,
        keyid       TEXT NOT NULL,
        expires_at  BIGINT NOT NULL
    );
    CREATE TABLE team_sessions (
        token_hash  BYTEA PRIMARY KEY,         -- SHA-256 of the bearer token
        team        TEXT NOT NULL,
        keyid       TEXT NOT NULL,
        approver    TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        ended_at    BIGINT
    );
    CREATE TABLE team_claims (
        action_id   TEXT PRIMARY KEY REFERENCES actions(id),
        keyid       TEXT NOT NULL,
        approver    TEXT NOT NULL,
        claimed_at  BIGINT NOT NULL,
        until       BIGINT NOT NULL
    );
"#,
    // 3: when each recipient or host was first approved (SQLite's migration 8).
    r#"
    ALTER TABLE agent_counterparts ADD COLUMN approved_at BIGINT;
"#,
];

/// The pool of one PostgreSQL store.
type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The PostgreSQL backend: a connection pool on one database.
pub(crate) struct Postgres {
    /// `None` only while dropping (see the `Drop` impl).
    pool: Option<Pool>,
    /// The validated connection settings, for the connection outside the pool that listens
    /// for decisions ([`follow`]).
    config: Config,
}

impl Drop for Postgres {
    /// Closes the pooled clients through [`outside_async`]: a synchronous client closes by
    /// driving its own Tokio runtime, which panics ("Cannot start a runtime from within a
    /// runtime") on a thread already running async tasks, where the last handle on a broker
    /// is often dropped (`countersign serve` at Ctrl-C).
    fn drop(&mut self) {
        let pool = &mut self.pool;
        // Without a thread the pool drops here, as it would have without this impl.
        let _ = outside_async(|| drop(pool.take()));
    }
}

/// Runs `f` where the synchronous client may drive its own runtime, blocking the caller, and
/// returns its result (a panic in `f` resumes in the caller): on the calling thread when it
/// has no Tokio runtime or belongs to a multi-threaded one, else on a short-lived scoped
/// thread (see the module documentation).
///
/// # Errors
/// The OS's error when no thread can be started (`f` is dropped unrun); only in a
/// current-thread runtime.
fn outside_async<T: Send>(f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => return Ok(f()),
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
            return Ok(tokio::task::block_in_place(f));
        }
        // `block_in_place` panics in a current-thread runtime.
        Ok(_) => {}
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("countersign-pg".into())
            .spawn_scoped(scope, f)?;
        Ok(worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// A PostgreSQL error as one line: the server's own message and SQLSTATE for an error the
/// server sent (`postgres::Error`'s `Display` says only "db error" then), else the client's.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// `url` with any password replaced by `***`, for messages and logs
/// (`postgres://ana:secret@db/cs` → `postgres://ana:***@db/cs`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let shown = if user.len() < userinfo.len() {
                format!("{user}:***")
            } else {
                user.into()
            };
            format!("{scheme}://{shown}{}", &rest[at..])
        }
        None => url.into(),
    }
}

/// Checks that `url` is a PostgreSQL URL this build can use and returns its parsed form:
/// `postgres://` or `postgresql://` (the libpq URI form,
/// <https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS>), naming
/// a user, a host and a database, without `sslmode=require` (no TLS to the server yet).
///
/// # Errors
/// [`StoreError::BadDatabaseUrl`] naming what is missing or wrong; the message shows the URL
/// with its password replaced by `***`.
pub fn validate_postgres_url(url: &str) -> Result<Config> {
    let bad = |why: &str| StoreError::BadDatabaseUrl(format!("`{}` {why}", redact(url)));
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad(
            "is not a PostgreSQL URL: it must start with postgres:// or postgresql://",
        ));
    }
    let mut config: Config = url
        .parse()
        .map_err(|e| bad(&format!("does not parse: {e}")))?;
    if config.get_hosts().is_empty() {
        return Err(bad("names no host (postgres://user@HOST:port/database)"));
    }
    if config.get_user().is_none() {
        return Err(bad("names no user (postgres://USER@host:port/database)"));
    }
    if config.get_dbname().is_none() {
        return Err(bad(
            "names no database (postgres://user@host:port/DATABASE)",
        ));
    }
    if config.get_ssl_mode() == SslMode::Require {
        return Err(bad(
            "asks for sslmode=require: TLS to PostgreSQL is not supported yet; connect over \
             loopback or a private network",
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("countersign");
    }
    Ok(config)
}

impl Postgres {
    /// Validates `url`, connects once (a clear error if the server is unreachable or refuses
    /// the login), applies the migrations, and makes the pool. The first connection is made
    /// through [`outside_async`], so a store may be opened from async code.
    pub(crate) fn open(url: &str) -> Result<Postgres> {
        let config = validate_postgres_url(url)?;
        outside_async(|| {
            let mut first = config.connect(NoTls)?;
            migrate(&mut first)
        })
        .map_err(thread_unavailable)??;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(BUSY_TIMEOUT)
            .build_unchecked(PostgresConnectionManager::new(config.clone(), NoTls));
        Ok(Postgres {
            pool: Some(pool),
            config,
        })
    }

    /// [`crate::Store::follow_decisions`] on this database.
    pub(crate) fn follow_decisions(
        &self,
        on_decided: impl Fn(&str) + Send + 'static,
    ) -> Result<DecisionFollower> {
        follow::start(self.config.clone(), on_decided).map_err(thread_unavailable)
    }

    /// The pool (present until the store is dropped).
    fn pool(&self) -> Result<&Pool> {
        self.pool
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store is closing".into()))
    }

    /// Runs `f` with a pooled connection, through [`outside_async`].
    pub(crate) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T> + Send,
    ) -> Result<T> {
        outside_async(|| {
            let mut conn = self
                .pool()?
                .get()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            f(&mut conn)
        })
        .map_err(thread_unavailable)?
    }

    /// Runs `f` in a write transaction holding [`WRITE_LOCK`]; `f` commits (dropping the
    /// transaction rolls it back).
    pub(crate) fn write<T: Send>(
        &self,
        f: impl FnOnce(Transaction<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            f(tx)
        })
    }

    /// [`crate::Store::execute_batch`]: `sql` verbatim, one transaction.
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            tx.batch_execute(sql)?;
            Ok(tx.commit()?)
        })
    }
}

/// The error for a call that could not start its thread (see [`outside_async`]).
fn thread_unavailable(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot start a thread: {e}"))
}

/// Applies pending migrations in one transaction under [`WRITE_LOCK`], so replicas starting
/// together take turns instead of both migrating.
fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS countersign_schema (
             id      BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         )",
    )?;
    let version: i64 =
        match tx.query_opt("SELECT version FROM countersign_schema WHERE id = 1", &[])? {
            Some(row) => row.try_get(0)?,
            None => 0,
        };
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
    for sql in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.batch_execute(sql)?;
    }
    tx.execute(
        "INSERT INTO countersign_schema (id, version) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&known],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_an_error_message() {
        assert_eq!(
            redact("postgres://ana:s3cret@db:5432/cs"),
            "postgres://ana:***@db:5432/cs"
        );
        assert_eq!(redact("postgres://ana@db/cs"), "postgres://ana@db/cs");
        let err = validate_postgres_url("postgres://ana:s3cret@db:5432/")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("names no database") && !err.contains("s3cret"),
            "{err}"
        );
    }

    #[test]
    fn urls_of_other_schemes_or_missing_parts_are_refused_with_the_reason() {
        for (url, why) in [
            ("mysql://a@h/d", "must start with postgres://"),
            (
                "/var/lib/countersign.sqlite3",
                "must start with postgres://",
            ),
            ("postgres://a@/d", "names no host"),
            ("postgres://h/d", "names no user"),
            ("postgres://a@h:notaport/d", "does not parse"),
            ("postgres://a@h/d?sslmode=require", "sslmode=require"),
        ] {
            let err = validate_postgres_url(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(why), "{url}: {err}");
        }
        assert!(validate_postgres_url("postgresql://a:b@127.0.0.1:5432/d").is_ok());
    }
}
