//! `countersign exec --approvals N --lead` and `countersign verify --approvals N --lead`: the
//! gate enforces its own quorum, whatever envelope the broker released.

use std::process::Command;

use countersign_broker::DecisionInput;
use countersign_core::{ApproverKey, Envelope, TrustedKey};

use crate::{finish, marker_draft, World};

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([seed; 32]))
}

/// The key the World's broker signs with (seed 3).
fn ana() -> ApproverKey {
    key(3)
}

/// Runs `exec` with `flags`, approves the draft in the broker, and returns (exit code, stderr,
/// whether the approved command ran).
fn exec_approved(w: &World, flags: &[&str]) -> (Option<i32>, String, bool) {
    let marker = w.path("marker");
    let child = w.exec_with(&w.write_draft("d.json", marker_draft(&marker)), flags, &[]);
    let (id, digest) = w.pending();
    w.broker
        .decide(&id, &digest, DecisionInput::Approve)
        .unwrap();
    let (out, stderr) = finish(child);
    (out.status.code(), stderr, marker.exists())
}

#[test]
fn exec_requiring_two_approvals_refuses_a_single_signature_and_runs_nothing() {
    let w = World::new();
    let (code, stderr, ran) = exec_approved(&w, &["--approvals", "2"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("quorum not met") && stderr.contains("2 required"),
        "the agent learns why: {stderr}"
    );
    assert!(!ran, "an envelope short of the quorum must not run");
}

#[test]
fn exec_requiring_a_lead_refuses_an_approval_signed_only_by_an_engineer() {
    let w = World::new();
    let (code, stderr, ran) = exec_approved(&w, &["--lead"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("pinned as `lead`"), "{stderr}");
    assert!(!ran);
}

#[test]
fn exec_with_zero_approvals_is_a_usage_error() {
    let w = World::new();
    let child = w.exec_with(
        &w.write_draft("d.json", marker_draft(&w.path("marker"))),
        &["--approvals", "0"],
        &[],
    );
    let (out, stderr) = finish(child);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a quorum of 0 would accept anything: {stderr}"
    );
    assert!(
        w.broker.store().actions(10).unwrap().is_empty(),
        "nothing was submitted"
    );
}

#[test]
fn exec_with_a_quorum_of_one_runs_a_single_approval() {
    let w = World::new();
    let (code, stderr, ran) = exec_approved(&w, &["--approvals", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(ran);
    assert!(
        stderr.contains("approved by ana (approver, sha256:"),
        "{stderr}"
    );
}

/// `countersign verify` of `envelope` against `trust` with `flags`; returns the exit code.
fn verify(w: &World, envelope: &Envelope, trust: &[TrustedKey], flags: &[&str]) -> Option<i32> {
    std::fs::write(w.path("e.json"), serde_json::to_vec(envelope).unwrap()).unwrap();
    std::fs::write(
        w.path("t.json"),
        serde_json::to_vec(&serde_json::json!({ "keys": trust })).unwrap(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["verify", "--envelope"])
        .arg(w.path("e.json"))
        .arg("--trust")
        .arg(w.path("t.json"))
        .args(flags)
        .output()
        .unwrap();
    out.status.code()
}

#[test]
fn verify_counts_one_key_once_and_requires_a_lead_when_asked() {
    let w = World::new();
    let (code, stderr, _) = exec_approved(&w, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let genuine: Envelope = serde_json::from_value(
        countersign_core::json::parse_strict(&std::fs::read(w.path("envelope.json")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let lea = key(9);

    // Two signatures by one key: the same signature twice, and the key pinned under two names.
    let mut twice = genuine.clone();
    twice.signatures.push(twice.signatures[0].clone());
    let two_names = [
        ana().trusted_key("ana", "approver"),
        ana().trusted_key("ana-laptop", "approver"),
    ];
    assert_eq!(verify(&w, &twice, &two_names, &[]), Some(0));
    assert_eq!(
        verify(&w, &twice, &two_names, &["--approvals", "2"]),
        Some(4),
        "one key is one approver, however many signatures or names it has"
    );

    // Two distinct keys, but nobody pinned as lead.
    let mut cosigned = genuine.clone();
    cosigned.add_signature(&lea).unwrap();
    let engineers = [
        ana().trusted_key("ana", "approver"),
        lea.trusted_key("lea", "approver"),
    ];
    assert_eq!(
        verify(&w, &cosigned, &engineers, &["--approvals", "2"]),
        Some(0)
    );
    assert_eq!(
        verify(&w, &cosigned, &engineers, &["--approvals", "2", "--lead"]),
        Some(4),
        "a lead is required and only engineers signed"
    );

    // With lea pinned as lead, the same envelope meets both requirements.
    let team = [
        ana().trusted_key("ana", "approver"),
        lea.trusted_key("lea", "lead"),
    ];
    assert_eq!(
        verify(&w, &cosigned, &team, &["--approvals", "2", "--lead"]),
        Some(0)
    );
    assert_eq!(
        verify(&w, &genuine, &team, &["--approvals", "2", "--lead"]),
        Some(4),
        "a single engineer's signature meets neither"
    );
}
