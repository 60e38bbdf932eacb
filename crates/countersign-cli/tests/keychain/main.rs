//! The approver key in the OS keychain, tested headlessly against a real Secret Service
//! (gnome-keyring). Every test is `#[ignore]`d in a plain `cargo test`: it needs the session
//! that `scripts/keychain-test.sh` starts for it (`dbus-run-session`, `gnome-keyring-daemon`
//! unlocked with a known password, `HOME` and `XDG_*` in a temporary directory), one fresh
//! session per test because one of them locks the keychain.
//!
//! The app and `countersign serve` load the key through the same function as
//! `countersign key export-public` ([`countersign_broker::host::open_signer`]), which these
//! tests run.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use countersign_broker::keystore::{self, KeyLocation, KeyStoreError, KeyStoreKind};

/// `countersign key export-public` on `dir` with `--key-store kind` and extra environment.
fn export_public(dir: &Path, kind: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_countersign"));
    cmd.args(["key", "export-public", "--key-store", kind, "--data-dir"])
        .arg(dir)
        .env_remove("COUNTERSIGN_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A keychain that waits for a password prompt nobody can answer must not hang the test.
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!(
        "countersign key export-public did not finish within 30 s: {:?}",
        child.wait_with_output().unwrap()
    );
}

fn keyid_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "export-public failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entry: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    entry["keyid"].as_str().unwrap().to_owned()
}

/// Every file under `root` (not following symlinks), at most `limit` of them.
fn files_under(root: &Path, limit: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        if out.len() >= limit {
            return;
        }
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            files_under(&e.path(), limit, out);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The keychain entry the store uses for `dir` (service `countersign`).
fn entry(dir: &Path) -> keyring::Entry {
    keyring::Entry::new("countersign", &format!("approver-key:{}", dir.display())).unwrap()
}

/// Locks the default collection through the Secret Service API (no prompt is needed to lock).
fn lock_keychain() {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/aliases/default",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "locking the keychain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let locked = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets/aliases/default",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&locked.stdout).contains("boolean true"),
        "the default collection reports itself locked: {}",
        String::from_utf8_lossy(&locked.stdout)
    );
}

#[test]
#[ignore = "needs an unlocked gnome-keyring session: run scripts/keychain-test.sh"]
fn the_approver_key_is_stored_in_the_secret_service_read_back_and_never_written_in_clear() {
    let data = tempfile::tempdir().unwrap();
    let (created, location) = keystore::load_or_create(data.path(), KeyStoreKind::Keyring)
        .expect("an unlocked Secret Service stores a new key");
    assert_eq!(location, KeyLocation::Keyring);
    let seed_hex = hex::encode(created.seed().as_ref());
    assert_eq!(
        entry(data.path()).get_password().unwrap(),
        seed_hex,
        "the Secret Service holds the seed under service `countersign`"
    );
    let (loaded, _) = keystore::load_or_create(data.path(), KeyStoreKind::Keyring).unwrap();
    assert_eq!(loaded.key_id(), created.key_id(), "the same key comes back");
    let keyid = keyid_of(&export_public(data.path(), "keyring", &[]));
    assert_eq!(
        keyid,
        created.key_id(),
        "the CLI (and the app, same code) reads the key from the keychain"
    );
    let auto = keyid_of(&export_public(data.path(), "auto", &[]));
    assert_eq!(auto, created.key_id(), "auto prefers the keychain");

    // Nowhere on disk in clear: not in the data dir, not in the keyring's files, not in HOME.
    let seed = created.seed();
    let mut files = Vec::new();
    files_under(data.path(), 10_000, &mut files);
    let home = std::env::var("HOME").unwrap();
    assert!(
        home.starts_with(&std::env::temp_dir().display().to_string()) || home.contains("tmp"),
        "HOME must be the script's temporary directory, not a real one: {home}"
    );
    files_under(Path::new(&home), 10_000, &mut files);
    let keyrings: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "keyring"))
        .collect();
    assert!(
        !keyrings.is_empty(),
        "the keyring's own file is among the files checked: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        assert!(
            !contains(&bytes, seed_hex.as_bytes()) && !contains(&bytes, seed.as_ref()),
            "{} holds the approver key in clear",
            f.display()
        );
    }
    entry(data.path()).delete_credential().unwrap();
}

#[test]
#[ignore = "needs an unlocked gnome-keyring session: run scripts/keychain-test.sh"]
fn a_locked_keychain_fails_closed_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let (created, _) = keystore::load_or_create(data.path(), KeyStoreKind::Keyring).unwrap();
    lock_keychain();

    let err = keystore::load_or_create(data.path(), KeyStoreKind::Keyring).unwrap_err();
    assert!(
        matches!(err, KeyStoreError::KeychainLocked(_)),
        "a locked keychain is reported as locked: {err}"
    );
    for kind in ["keyring", "auto"] {
        let out = export_public(data.path(), kind, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{kind}: no key, no start");
        assert!(out.stdout.is_empty(), "{kind}: nothing printed on stdout");
        assert!(
            stderr.contains("locked") && stderr.contains("unlock"),
            "{kind}: the message says the keychain is locked and what to do: {stderr}"
        );
    }
    // Even with a passphrase for the file store, auto does not start with another key while
    // the keychain holding this data dir's key is locked.
    let out = export_public(
        data.path(),
        "auto",
        &[("COUNTERSIGN_KEY_PASSPHRASE", "a passphrase long enough")],
    );
    assert!(
        !out.status.success(),
        "auto with a locked keychain: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !data.path().join(keystore::KEY_FILE).exists(),
        "no second key file is created behind a locked keychain"
    );
    let _ = created;
}

#[test]
#[ignore = "needs an unlocked gnome-keyring session: run scripts/keychain-test.sh"]
fn a_missing_secret_service_fails_closed_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let no_bus = [
        (
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/countersign-test-bus",
        ),
        ("DISPLAY", ""),
    ];
    let out = export_public(data.path(), "keyring", &no_bus);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no Secret Service, no key: {stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("no OS keychain") && stderr.contains("Secret Service"),
        "the message names the missing keychain: {stderr}"
    );
    // auto without a passphrase fails closed too; with one it uses the encrypted file.
    let out = export_public(data.path(), "auto", &no_bus);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("COUNTERSIGN_KEY_PASSPHRASE"), "{stderr}");
    let mut with_pass = no_bus.to_vec();
    with_pass.push(("COUNTERSIGN_KEY_PASSPHRASE", "a passphrase long enough"));
    keyid_of(&export_public(data.path(), "auto", &with_pass));
    assert!(data.path().join(keystore::KEY_FILE).exists());
}

/// `countersign key rotate --key-store keyring` on `dir`, revoking in `trust`.
fn rotate(dir: &Path, trust: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args([
            "key",
            "rotate",
            "--key-store",
            "keyring",
            "--reason",
            "rotated in a test",
            "--data-dir",
        ])
        .arg(dir)
        .arg("--trust")
        .arg(trust)
        .env_remove("COUNTERSIGN_KEY_PASSPHRASE")
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs an unlocked gnome-keyring session: run scripts/keychain-test.sh"]
fn key_rotate_replaces_the_key_in_the_keychain_and_a_locked_keychain_rotates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (old, _) = keystore::load_or_create(data.path(), KeyStoreKind::Keyring).unwrap();
    let trust = data.path().join("trust.json");
    std::fs::write(
        &trust,
        serde_json::to_vec(&old.trusted_key("ana", "approver")).unwrap(),
    )
    .unwrap();

    let out = rotate(data.path(), &trust);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = countersign_core::json::parse_strict(&out.stdout).unwrap();
    let (new, location) = keystore::load_or_create(data.path(), KeyStoreKind::Keyring).unwrap();
    assert_eq!(location, KeyLocation::Keyring);
    assert_ne!(new.key_id(), old.key_id(), "the keychain holds a new key");
    assert_eq!(
        printed["keyid"],
        new.key_id().as_str(),
        "the printed entry is the new key"
    );
    assert!(
        !data.path().join(keystore::KEY_FILE).exists(),
        "the key stays in the keychain; no key file appears"
    );
    let file: serde_json::Value =
        countersign_core::json::parse_strict(&std::fs::read(&trust).unwrap()).unwrap();
    assert_eq!(file["keys"][0]["keyid"], old.key_id().as_str());
    assert_eq!(file["keys"][0]["revoked_reason"], "rotated in a test");
    assert!(file["keys"][0]["revoked_at"].is_i64());

    // Locked: nothing rotates, and the trust file is left as it was.
    let before = std::fs::read(&trust).unwrap();
    lock_keychain();
    let out = rotate(data.path(), &trust);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a locked keychain rotates nothing");
    assert!(stderr.contains("locked"), "{stderr}");
    assert_eq!(
        std::fs::read(&trust).unwrap(),
        before,
        "the trust file is untouched"
    );
}
