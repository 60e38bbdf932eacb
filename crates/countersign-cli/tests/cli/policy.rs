//! `countersign policy sign|check` and `serve --policy`: a lead signs, anyone checks, and a
//! policy that does not verify against the pinned lead keys stops the broker from starting.

use std::path::Path;
use std::process::{Command, Output};

fn countersign(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .env("COUNTERSIGN_DATA_DIR", dir.join("data"))
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env("COUNTERSIGN_KEY_PASSPHRASE", "correct horse battery staple")
        .env("COUNTERSIGN_APPROVER", "lea")
        .output()
        .unwrap()
}

const POLICY: &str =
    "serial = 1\norg_domains = [\"example.com\"]\n\n[thresholds]\nlead_required_from = 60\n";

#[test]
fn a_lead_signs_a_policy_and_an_edited_copy_no_longer_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let export = countersign(d, &["key", "export-public", "--role", "lead"]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    std::fs::write(d.join("lead.json"), &export.stdout).unwrap();
    let policy = d.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let p = policy.to_str().unwrap();
    let lead = d.join("lead.json");
    let lead = lead.to_str().unwrap();

    let sign = countersign(d, &["policy", "sign", p]);
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    assert!(
        d.join("policy.toml.sig").exists(),
        "the signature goes next to the policy"
    );

    let check = countersign(d, &["policy", "check", p, "--lead-trust", lead]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = countersign_core::json::parse_strict(&check.stdout).unwrap();
    assert_eq!(out["serial"], 1);
    assert!(out["sha256"].as_str().unwrap().starts_with("sha256:"));

    std::fs::write(&policy, POLICY.replace("60", "99")).unwrap();
    let check = countersign(d, &["policy", "check", p, "--lead-trust", lead]);
    assert!(!check.status.success(), "an edited policy must not check");
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("refusing policy"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let serve = countersign(
        d,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            p,
            "--lead-trust",
            lead,
        ],
    );
    assert!(
        !serve.status.success(),
        "serve must refuse an unverifiable policy"
    );
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains("refusing policy"),
        "{}",
        String::from_utf8_lossy(&serve.stderr)
    );
}

#[test]
fn signing_refuses_an_invalid_policy_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "serial = 1\n[thresholds]\nblocked = 3\n").unwrap();
    let out = countersign(dir.path(), &["policy", "sign", policy.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("blocked"), "{err}");
}
