//! `countersign exec --policy … --lead-trust …`: the gate runs only decisions taken under the
//! pinned, lead-signed policy, and refuses to submit at all with a policy it cannot verify.

use std::process::{Command, Stdio};

use countersign_broker::DecisionInput;
use countersign_core::ApproverKey;

use crate::{finish, marker_draft, World};

fn exec_with_policy(w: &World, draft: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["exec", "--action"])
        .arg(draft)
        .arg("--trust")
        .arg(w.path("trust.json"))
        .args(["--api", &w.base, "--timeout", "30", "--state-dir"])
        .arg(w.path("gate"))
        .arg("--policy")
        .arg(w.path("policy.toml"))
        .arg("--lead-trust")
        .arg(w.path("lead.json"))
        .env("COUNTERSIGN_TOKEN", &w.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes policy.toml, its signature by `signer`, and lead.json pinning `lead`.
fn write_policy(w: &World, signer: &ApproverKey, lead: &ApproverKey) {
    let text = "serial = 1\n[thresholds]\nlead_required_from = 90\n";
    std::fs::write(w.path("policy.toml"), text).unwrap();
    let env = countersign_core::policy::sign(text.as_bytes(), signer);
    std::fs::write(w.path("policy.toml.sig"), serde_json::to_vec(&env).unwrap()).unwrap();
    std::fs::write(
        w.path("lead.json"),
        serde_json::to_vec(&lead.trusted_key("lea", "lead")).unwrap(),
    )
    .unwrap();
}

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([seed; 32]))
}

#[test]
fn an_unverifiable_policy_stops_the_gate_before_it_submits() {
    let w = World::new();
    write_policy(&w, &key(2), &key(1));
    let marker = w.path("marker");
    let child = exec_with_policy(&w, &w.write_draft("d.json", marker_draft(&marker)));
    let (out, stderr) = finish(child);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("policy REFUSED"), "{stderr}");
    assert!(
        w.broker.store().actions(10).unwrap().is_empty(),
        "nothing was submitted"
    );
}

#[test]
fn a_decision_taken_under_another_policy_is_refused_and_nothing_runs() {
    // The broker runs without a policy; the gate pins one.
    let w = World::new();
    write_policy(&w, &key(1), &key(1));
    let marker = w.path("marker");
    let child = exec_with_policy(&w, &w.write_draft("d.json", marker_draft(&marker)));
    let (id, digest) = w.pending();
    w.broker
        .decide(&id, &digest, DecisionInput::Approve)
        .unwrap();
    let (out, stderr) = finish(child);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("not the pinned"), "{stderr}");
    assert!(
        !marker.exists(),
        "a decision under another policy runs nothing"
    );
}
