//! `countersign key rotate`: a new key in the same store, the old one revoked (time and reason)
//! in the trust file, and every envelope the old key signed refused afterwards.

use std::path::Path;
use std::process::{Command, Output};

use countersign_core::decision::{
    Approver, DecisionBody, RiskSummary, Verdict, DECISION_LIFETIME_S,
};
use countersign_core::{ApproverKey, RiskLevel, TrustedKeys};
use serde_json::Value;

const PASSPHRASE: &str = "correct horse battery staple";

fn countersign(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args(["--key-store", "file", "--approver", "ana"])
        .env("COUNTERSIGN_KEY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap()
}

fn json_of(bytes: &[u8]) -> Value {
    countersign_core::json::parse_strict(bytes).unwrap()
}

/// A fresh approval signed by `key`, written to `path`.
fn approval_signed_by(key: &ApproverKey, path: &Path) {
    let action: countersign_core::Action = serde_json::from_value(serde_json::json!({
        "kind": "shell.exec", "target": "host://test", "summary": "true",
        "payload": {"argv": ["true"]}}))
    .unwrap();
    let now = countersign_broker::now();
    let body = DecisionBody {
        v: 1,
        verdict: Verdict::Approved,
        reason: None,
        action_id: "d1".into(),
        agent: "bot".into(),
        action_digest: countersign_core::digest::action_digest(&action).to_string(),
        action,
        approver: Approver {
            keyid: key.key_id(),
            name: "ana".into(),
        },
        risk: RiskSummary {
            score: 10,
            level: RiskLevel::Low,
        },
        policy_sha256: None,
        iat: now,
        exp: now + DECISION_LIFETIME_S,
        jti: "j1".into(),
    };
    std::fs::write(path, serde_json::to_vec(&body.sign(key)).unwrap()).unwrap();
}

fn verify(envelope: &Path, trust: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["verify", "--envelope"])
        .arg(envelope)
        .arg("--trust")
        .arg(trust)
        .output()
        .unwrap()
}

#[test]
fn rotating_revokes_the_old_key_in_the_trust_file_and_its_old_envelopes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let trust = dir.path().join("trust.json");
    let out = countersign(&data, &["key", "export-public", "--role", "lead"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&trust, &out.stdout).unwrap();
    let old_id = json_of(&out.stdout)["keyid"].as_str().unwrap().to_owned();

    // An envelope the old key signed before the rotation (the store's own key, decrypted here
    // the way the app does it).
    let old_key = countersign_broker::keystore::load_file_with(&data, PASSPHRASE).unwrap();
    assert_eq!(old_key.key_id(), old_id);
    let old_envelope = dir.path().join("old.json");
    approval_signed_by(&old_key, &old_envelope);
    assert!(
        verify(&old_envelope, &trust).status.success(),
        "valid before the rotation"
    );

    let out = countersign(
        &data,
        &[
            "key",
            "rotate",
            "--trust",
            trust.to_str().unwrap(),
            "--reason",
            "laptop lost",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = json_of(&out.stdout);
    let new_id = printed["keyid"].as_str().unwrap().to_owned();
    assert_ne!(new_id, old_id);
    assert_eq!(
        printed["role"], "lead",
        "the new key keeps the old key's role"
    );
    assert_eq!(printed["approver"], "ana");

    let file = json_of(&std::fs::read(&trust).unwrap());
    let keys = file["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{file}");
    assert_eq!(keys[0]["keyid"], old_id.as_str());
    assert_eq!(keys[0]["revoked_reason"], "laptop lost");
    let at = keys[0]["revoked_at"].as_i64().unwrap();
    assert!(
        (countersign_broker::now() - at).abs() < 60,
        "revoked now: {at}"
    );
    assert_eq!(keys[1], printed, "the printed entry is the one pinned");
    TrustedKeys::from_json(&std::fs::read(&trust).unwrap()).expect("the rewritten file loads");

    // The old envelope, signed before the revocation, is refused now; the store holds the new key.
    let refused = verify(&old_envelope, &trust);
    assert_eq!(
        refused.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = countersign(&data, &["key", "export-public"]);
    assert_eq!(json_of(&out.stdout)["keyid"], new_id.as_str());
    let new_key = countersign_broker::keystore::load_file_with(&data, PASSPHRASE).unwrap();
    let new_envelope = dir.path().join("new.json");
    approval_signed_by(&new_key, &new_envelope);
    assert!(
        verify(&new_envelope, &trust).status.success(),
        "the new key verifies"
    );
}

#[test]
fn rotating_with_a_missing_or_broken_trust_file_changes_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = countersign(&data, &["key", "export-public"]);
    let before = json_of(&out.stdout)["keyid"].clone();
    let missing = dir.path().join("nope.json");
    let out = countersign(
        &data,
        &["key", "rotate", "--trust", missing.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{\"keys\": []}").unwrap();
    let out = countersign(
        &data,
        &["key", "rotate", "--trust", broken.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = countersign(&data, &["key", "export-public"]);
    assert_eq!(
        json_of(&out.stdout)["keyid"],
        before,
        "the key was not rotated"
    );
}

#[test]
fn rotating_when_no_key_exists_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let other = ApproverKey::from_seed(&zeroize::Zeroizing::new([7; 32]));
    let trust = dir.path().join("trust.json");
    std::fs::write(
        &trust,
        serde_json::to_vec(&other.trusted_key("bob", "approver")).unwrap(),
    )
    .unwrap();
    let out = countersign(
        &dir.path().join("data"),
        &["key", "rotate", "--trust", trust.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no approver key to rotate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
