//! Start-up errors a new user meets first: said once, with what to do.

use std::process::Command;

#[test]
fn a_missing_key_passphrase_is_reported_once_with_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["key", "export-public"])
        .env("COUNTERSIGN_DATA_DIR", dir.path())
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env_remove("COUNTERSIGN_KEY_PASSPHRASE")
        .output()
        .unwrap();
    assert!(!out.status.success(), "no key without a passphrase");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("COUNTERSIGN_KEY_PASSPHRASE is not set")
            .count(),
        1,
        "the cause is said once, not repeated by the error chain: {stderr}"
    );
    assert!(stderr.contains("at least 12 characters"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "no half-written trust file on stdout"
    );
}
