//! Where the approver key lives.
//!
//! - `keyring`: the OS keychain through the `keyring` crate (Secret Service on Linux, Keychain on
//!   macOS, Credential Manager on Windows), entry service `countersign`, user
//!   `approver-key:<data dir>`; the secret is the 32-byte Ed25519 seed in hex.
//! - `file`: `approver-key.json` in the data dir, the seed encrypted with XChaCha20-Poly1305
//!   under a key derived by Argon2id (RFC 9106; m = 64 MiB, t = 3, p = 1) from a passphrase
//!   taken from `COUNTERSIGN_KEY_PASSPHRASE`. The file is written atomically with mode 0600.
//! - `auto` (default): the keychain, or the file when no keychain is reachable; a locked
//!   keychain is an error ([`KeyStoreError::KeychainLocked`]), never a reason to use another key.
//!
//! [`rotate`] replaces the key in whichever store holds it (`countersign key rotate`, which
//! also revokes the old key in a trust file).
//!
//! Every failure is an error: no key, no signature, nothing approved (fail closed).

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use countersign_core::ApproverKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Name of the encrypted key file in the data dir.
pub const KEY_FILE: &str = "approver-key.json";
/// Environment variable holding the key file's passphrase.
pub const PASSPHRASE_ENV: &str = "COUNTERSIGN_KEY_PASSPHRASE";
/// Smallest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Which store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStoreKind {
    /// The OS keychain, else the file.
    Auto,
    /// Only the OS keychain.
    Keyring,
    /// Only the passphrase-encrypted file.
    File,
}

impl std::str::FromStr for KeyStoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(KeyStoreKind::Auto),
            "keyring" => Ok(KeyStoreKind::Keyring),
            "file" => Ok(KeyStoreKind::File),
            _ => Err(format!(
                "key store must be auto, keyring or file, not `{s}`"
            )),
        }
    }
}

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The keychain answered with something unusable (e.g. a stored key that is not a key).
    #[error("OS keychain: {0}")]
    Keyring(String),
    /// The keychain is locked (or refused access): nothing is signed until it is unlocked,
    /// and no other key is used instead.
    #[error("the OS keychain is locked or refused access ({0}): unlock it (log in to the desktop session, or unlock the login keyring) and start again; nothing can be signed until then")]
    KeychainLocked(String),
    /// No keychain is reachable (no Secret Service on the session bus, no session bus).
    #[error("no OS keychain is reachable (Secret Service on the D-Bus session bus): {0}")]
    KeychainUnavailable(String),
    /// No passphrase for the file store.
    #[error("no OS keychain is usable and {PASSPHRASE_ENV} is not set: set it (at least {MIN_PASSPHRASE_CHARS} characters) to keep the approver key in an encrypted file")]
    NoPassphrase,
    /// The passphrase is too short.
    #[error("{PASSPHRASE_ENV} must be at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    /// Wrong passphrase or a tampered file.
    #[error("cannot decrypt {0}: wrong passphrase or the file was altered")]
    Decrypt(PathBuf),
    /// The file is not a key file.
    #[error("{path} is not a Countersign key file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `rotate` found no key to replace.
    #[error("no approver key to rotate in {0}; start the app or run `countersign key export-public` to create one")]
    NoKey(String),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Where the key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// OS keychain.
    Keyring,
    /// Encrypted file.
    File(PathBuf),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    v: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
    keyid: String,
}

/// Loads the approver key for `data_dir`, creating and storing one on first start.
///
/// # Errors
/// [`KeyStoreError`]; nothing can be signed without a key.
pub fn load_or_create(
    data_dir: &Path,
    kind: KeyStoreKind,
) -> Result<(ApproverKey, KeyLocation), KeyStoreError> {
    match kind {
        KeyStoreKind::Keyring => {
            keyring_load_or_create(data_dir).map(|k| (k, KeyLocation::Keyring))
        }
        KeyStoreKind::File => file_load_or_create(data_dir),
        KeyStoreKind::Auto => {
            if data_dir.join(KEY_FILE).exists() {
                return file_load_or_create(data_dir);
            }
            // Only a keychain that is not there falls back to the file: a locked one may hold
            // this data dir's key, and starting with another key would sign as someone else.
            match keyring_load_or_create(data_dir) {
                Ok(k) => Ok((k, KeyLocation::Keyring)),
                Err(KeyStoreError::KeychainUnavailable(e)) => {
                    tracing::info!("OS keychain not reachable ({e}); using an encrypted key file");
                    file_load_or_create(data_dir)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Sorts the keyring crate's errors: no access (locked, prompt refused) vs no keychain.
fn keyring_error(e: keyring::Error) -> KeyStoreError {
    match e {
        keyring::Error::NoStorageAccess(_) => KeyStoreError::KeychainLocked(e.to_string()),
        keyring::Error::PlatformFailure(_) => KeyStoreError::KeychainUnavailable(e.to_string()),
        other => KeyStoreError::Keyring(other.to_string()),
    }
}

fn keyring_entry(data_dir: &Path) -> Result<keyring::Entry, KeyStoreError> {
    keyring::Entry::new(
        "countersign",
        &format!("approver-key:{}", data_dir.display()),
    )
    .map_err(keyring_error)
}

fn keyring_load_or_create(data_dir: &Path) -> Result<ApproverKey, KeyStoreError> {
    let entry = keyring_entry(data_dir)?;
    match entry.get_password() {
        Ok(hex_seed) => seed_from_hex(&Zeroizing::new(hex_seed)),
        Err(keyring::Error::NoEntry) => {
            let key = ApproverKey::generate();
            let hex_seed = Zeroizing::new(hex::encode(key.seed().as_ref()));
            entry.set_password(&hex_seed).map_err(keyring_error)?;
            Ok(key)
        }
        Err(e) => Err(keyring_error(e)),
    }
}

fn passphrase() -> Result<Zeroizing<String>, KeyStoreError> {
    let p = Zeroizing::new(std::env::var(PASSPHRASE_ENV).map_err(|_| KeyStoreError::NoPassphrase)?);
    if p.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(KeyStoreError::WeakPassphrase);
    }
    Ok(p)
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    m_kib: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = Params::new(m_kib, t, p, Some(32)).map_err(|e| e.to_string())?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn file_load_or_create(data_dir: &Path) -> Result<(ApproverKey, KeyLocation), KeyStoreError> {
    let path = data_dir.join(KEY_FILE);
    let pass = passphrase()?;
    if path.exists() {
        return file_load(&path, &pass).map(|k| (k, KeyLocation::File(path)));
    }
    let key = ApproverKey::generate();
    file_store(&path, &pass, &key)?;
    Ok((key, KeyLocation::File(path)))
}

/// Loads the key from the encrypted key file of `data_dir` with an explicit passphrase (no
/// environment, no keychain, never creates one).
///
/// # Errors
/// [`KeyStoreError::Io`] when there is no file, [`KeyStoreError::Decrypt`] for a wrong
/// passphrase, [`KeyStoreError::Format`].
pub fn load_file_with(data_dir: &Path, passphrase: &str) -> Result<ApproverKey, KeyStoreError> {
    file_load(&data_dir.join(KEY_FILE), passphrase)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> KeyStoreError + Copy + '_ {
    move |source| KeyStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_error(path: &Path) -> impl Fn(String) -> KeyStoreError + Copy + '_ {
    move |message| KeyStoreError::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// Decrypts the key file at `path` with `pass`.
fn file_load(path: &Path, pass: &str) -> Result<ApproverKey, KeyStoreError> {
    let (io, format) = (io_error(path), format_error(path));
    let bytes = std::fs::read(path).map_err(io)?;
    let value = countersign_core::json::parse_strict(&bytes).map_err(|e| format(e.to_string()))?;
    let file: KeyFile = serde_json::from_value(value).map_err(|e| format(e.to_string()))?;
    if file.v != 1 || file.kdf != "argon2id" {
        return Err(format(format!(
            "unsupported version {} / kdf {}",
            file.v, file.kdf
        )));
    }
    let salt = B64.decode(&file.salt).map_err(|e| format(e.to_string()))?;
    let nonce = B64.decode(&file.nonce).map_err(|e| format(e.to_string()))?;
    let ct = B64
        .decode(&file.ciphertext)
        .map_err(|e| format(e.to_string()))?;
    if nonce.len() != 24 {
        return Err(format("nonce must be 24 bytes".into()));
    }
    let k = derive(pass, &salt, file.m_kib, file.t, file.p).map_err(format)?;
    let cipher = XChaCha20Poly1305::new(k.as_ref().into());
    let plain = Zeroizing::new(
        cipher
            .decrypt(XNonce::from_slice(&nonce), ct.as_ref())
            .map_err(|_| KeyStoreError::Decrypt(path.to_path_buf()))?,
    );
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        plain
            .as_slice()
            .try_into()
            .map_err(|_| format("seed must be 32 bytes".into()))?,
    );
    let key = ApproverKey::from_seed(&seed);
    if key.key_id() != file.keyid {
        return Err(format("keyid does not match the decrypted key".into()));
    }
    Ok(key)
}

/// Encrypts `key` under `pass` into the key file at `path` (atomically, mode 0600), replacing
/// any key there.
fn file_store(path: &Path, pass: &str, key: &ApproverKey) -> Result<(), KeyStoreError> {
    let (io, format) = (io_error(path), format_error(path));
    let salt: [u8; 16] = rand::random();
    let nonce: [u8; 24] = rand::random();
    let (m_kib, t, p) = (64 * 1024, 3, 1);
    let k = derive(pass, &salt, m_kib, t, p).map_err(format)?;
    let cipher = XChaCha20Poly1305::new(k.as_ref().into());
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), key.seed().as_ref())
        .map_err(|_| format("encryption failed".into()))?;
    let file = KeyFile {
        v: 1,
        kdf: "argon2id".into(),
        m_kib,
        t,
        p,
        salt: B64.encode(salt),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ct),
        keyid: key.key_id(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| format(e.to_string()))?;
    write_atomically(path, &json, 0o600).map_err(io)
}

/// Writes `bytes` to `path` via a temporary file in the same directory (created with `mode` on
/// Unix), fsync, then rename, so a crash never leaves a half-written key or trust file: readers
/// see the old file or the new one.
///
/// # Errors
/// The IO error; the temporary file is removed when the write fails.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = write_new(&tmp, bytes, mode).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_new(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A replaced approver key: the key that was in the store and the one now stored instead.
#[derive(Debug)]
pub struct Rotated {
    /// The key replaced; it must be revoked wherever it was pinned.
    pub old: ApproverKey,
    /// The fresh key, stored where the old one was.
    pub new: ApproverKey,
    /// Where both were kept.
    pub location: KeyLocation,
}

/// Replaces the approver key of `data_dir` with a fresh one, in the store that holds it (for
/// `auto`: the key file if there is one, else the keychain). The old key is not kept anywhere.
///
/// # Errors
/// [`KeyStoreError::NoKey`] when there is no key to rotate; otherwise as [`load_or_create`].
pub fn rotate(data_dir: &Path, kind: KeyStoreKind) -> Result<Rotated, KeyStoreError> {
    let path = data_dir.join(KEY_FILE);
    let use_file = match kind {
        KeyStoreKind::File => true,
        KeyStoreKind::Keyring => false,
        KeyStoreKind::Auto => path.exists(),
    };
    if use_file {
        let pass = passphrase()?;
        return file_rotate(&path, &pass);
    }
    let entry = keyring_entry(data_dir)?;
    let old = match entry.get_password() {
        Ok(hex_seed) => seed_from_hex(&Zeroizing::new(hex_seed))?,
        Err(keyring::Error::NoEntry) => {
            return Err(KeyStoreError::NoKey(format!(
                "the OS keychain (for {})",
                data_dir.display()
            )))
        }
        Err(e) => return Err(keyring_error(e)),
    };
    let new = ApproverKey::generate();
    let hex_seed = Zeroizing::new(hex::encode(new.seed().as_ref()));
    entry.set_password(&hex_seed).map_err(keyring_error)?;
    Ok(Rotated {
        old,
        new,
        location: KeyLocation::Keyring,
    })
}

fn file_rotate(path: &Path, pass: &str) -> Result<Rotated, KeyStoreError> {
    if !path.exists() {
        return Err(KeyStoreError::NoKey(path.display().to_string()));
    }
    let old = file_load(path, pass)?;
    let new = ApproverKey::generate();
    file_store(path, pass, &new)?;
    Ok(Rotated {
        old,
        new,
        location: KeyLocation::File(path.to_path_buf()),
    })
}

fn seed_from_hex(hex_seed: &str) -> Result<ApproverKey, KeyStoreError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_seed, seed.as_mut())
        .map_err(|_| KeyStoreError::Keyring("stored approver key is not 32 bytes of hex".into()))?;
    Ok(ApproverKey::from_seed(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test touches the process environment; keep all env use in it.
    #[test]
    fn file_store_round_trips_and_refuses_wrong_passphrase_and_missing_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        std::env::remove_var(PASSPHRASE_ENV);
        assert!(
            matches!(
                file_load_or_create(dir.path()),
                Err(KeyStoreError::NoPassphrase)
            ),
            "no passphrase: fail closed"
        );
        std::env::set_var(PASSPHRASE_ENV, "short");
        assert!(matches!(
            file_load_or_create(dir.path()),
            Err(KeyStoreError::WeakPassphrase)
        ));
        std::env::set_var(PASSPHRASE_ENV, "correct horse battery staple");
        let (created, _) = file_load_or_create(dir.path()).unwrap();
        let (loaded, _) = file_load_or_create(dir.path()).unwrap();
        assert_eq!(
            created.key_id(),
            loaded.key_id(),
            "the same key must come back"
        );
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(
            !text.contains(&hex::encode(created.seed().as_ref())),
            "the seed must not be stored in clear"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "key file must be private to its owner");
        }
        std::env::set_var(PASSPHRASE_ENV, "a different passphrase");
        assert!(
            matches!(
                file_load_or_create(dir.path()),
                Err(KeyStoreError::Decrypt(_))
            ),
            "wrong passphrase must fail"
        );
        std::env::remove_var(PASSPHRASE_ENV);
    }

    #[test]
    fn rotating_the_file_store_replaces_the_key_and_needs_the_old_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let pass = "correct horse battery staple";
        assert!(
            matches!(file_rotate(&path, pass), Err(KeyStoreError::NoKey(_))),
            "nothing to rotate is an error, not a silent new key"
        );
        let first = ApproverKey::generate();
        file_store(&path, pass, &first).unwrap();
        assert!(
            matches!(
                file_rotate(&path, "a different passphrase"),
                Err(KeyStoreError::Decrypt(_))
            ),
            "a wrong passphrase rotates nothing"
        );
        assert_eq!(file_load(&path, pass).unwrap().key_id(), first.key_id());
        let rotated = file_rotate(&path, pass).unwrap();
        assert_eq!(rotated.old.key_id(), first.key_id());
        assert_ne!(rotated.new.key_id(), first.key_id());
        assert_eq!(
            file_load(&path, pass).unwrap().key_id(),
            rotated.new.key_id(),
            "the store now holds the new key"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }
}
