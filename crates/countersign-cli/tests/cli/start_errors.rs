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

fn serve(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .arg("serve")
        .args(args)
        .env("COUNTERSIGN_DATA_DIR", dir)
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env("COUNTERSIGN_KEY_PASSPHRASE", "correct horse battery staple")
        .env_remove("COUNTERSIGN_DATABASE")
        .output()
        .unwrap()
}

#[test]
fn a_non_loopback_listener_needs_tls_or_an_explicit_plain_http_and_team_mode_needs_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &["--listen", "0.0.0.0:0"]);
    assert!(
        !out.status.success(),
        "no plain HTTP on the network by default"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("--plain-http"),
        "{stderr}"
    );
    let out = serve(
        dir.path(),
        &[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("/nonexistent/cert.pem"),
        "an unreadable certificate names its file: {stderr}"
    );
    let out = serve(dir.path(), &["--team-roster", "/tmp/roster.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--lead-trust"),
        "a roster without anchors is refused: {stderr}"
    );
}
