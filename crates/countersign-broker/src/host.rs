//! Start-up shared by the desktop app and `countersign serve`: where state lives, opening the
//! store and the approver key, binding the API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use countersign_store::{Store, DB_FILE};

use crate::keystore::{self, KeyLocation, KeyStoreKind};
use crate::Signer;

/// Default agent API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7823";

/// Why start-up failed. Each message already includes its cause, so no variant reports the
/// cause again as `source()` (an error chain printed with `{:#}` would say it twice).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No data dir could be determined or created.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The database failed to open.
    #[error("database {path}: {cause}")]
    Store {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: countersign_store::StoreError,
    },
    /// The PostgreSQL database (`--database`) failed to open: a bad URL, an unreachable
    /// server, a refused login, or a schema from a newer Countersign.
    #[error("database {url}: {cause}")]
    Database {
        /// The URL, its password replaced by `***`.
        url: String,
        /// The cause.
        cause: countersign_store::StoreError,
    },
    /// The approver key could not be loaded or created.
    #[error("approver key: {0}")]
    Key(keystore::KeyStoreError),
    /// The listen address is not loopback.
    #[error(
        "refusing to listen on {0}: the agent API is bound to loopback only (127.0.0.0/8 or ::1)"
    )]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        cause: std::io::Error,
    },
}

impl From<keystore::KeyStoreError> for StartError {
    fn from(e: keystore::KeyStoreError) -> Self {
        StartError::Key(e)
    }
}

/// The data dir: `explicit` if given, else the platform data dir (`directories`, e.g.
/// `~/.local/share/countersign` on Linux). Created with mode 0700 if missing.
///
/// # Errors
/// [`StartError::DataDir`] if none can be determined or created.
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, StartError> {
    let dir = match explicit {
        Some(p) => p.to_path_buf(),
        None => directories::ProjectDirs::from("dev", "Countersign", "countersign")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| StartError::DataDir {
                path: PathBuf::from("~"),
                message: "no home directory to keep state in; pass --data-dir".into(),
            })?,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir).map_err(|e| StartError::DataDir {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    Ok(dir)
}

/// Opens the store in `dir`.
///
/// # Errors
/// [`StartError::Store`].
pub fn open_store(dir: &Path) -> Result<Arc<Store>, StartError> {
    let path = dir.join(DB_FILE);
    Store::open(&path)
        .map(Arc::new)
        .map_err(|cause| StartError::Store { path, cause })
}

/// Opens the store: the PostgreSQL database at `database` when given (a team's shared
/// database, see [`Store::open_postgres`]), else the SQLite file in `dir` ([`open_store`]).
///
/// # Errors
/// [`StartError::Database`] naming what is wrong with the URL or the server,
/// [`StartError::Store`] for the SQLite file.
pub fn open_database(dir: &Path, database: Option<&str>) -> Result<Arc<Store>, StartError> {
    match database {
        None => open_store(dir),
        Some(url) => {
            Store::open_postgres(url)
                .map(Arc::new)
                .map_err(|cause| StartError::Database {
                    url: countersign_store::pg::redact(url),
                    cause,
                })
        }
    }
}

/// Where `open_database` keeps state, for start-up messages: the SQLite file in `dir`, or the
/// PostgreSQL URL with its password replaced by `***`.
pub fn database_label(dir: &Path, database: Option<&str>) -> String {
    match database {
        None => dir.join(DB_FILE).display().to_string(),
        Some(url) => countersign_store::pg::redact(url),
    }
}

/// Loads (or creates) the approver key and names the approver: `approver` if given, else
/// `$USER`, else `approver`.
///
/// # Errors
/// [`StartError::Key`].
pub fn open_signer(
    dir: &Path,
    kind: KeyStoreKind,
    approver: Option<&str>,
) -> Result<(Signer, KeyLocation), StartError> {
    let (key, location) = keystore::load_or_create(dir, kind)?;
    let name = approver_name(approver);
    Ok((Signer { key, name }, location))
}

/// The approver's display name: `approver` if given and not blank, else `$USER`, else
/// `approver`.
pub fn approver_name(approver: Option<&str>) -> String {
    approver
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "approver".into())
}

/// Binds the agent API listener, refusing non-loopback addresses.
///
/// # Errors
/// [`StartError::NotLoopback`], [`StartError::Bind`].
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    if !addr.ip().is_loopback() {
        return Err(StartError::NotLoopback(addr));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|cause| StartError::Bind { addr, cause })
}
