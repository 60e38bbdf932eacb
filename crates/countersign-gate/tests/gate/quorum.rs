//! Quorum at the gate: several approvers' signatures over one decision, counted once per
//! distinct live pinned key; nothing is recorded as used until the quorum holds.

use std::time::Duration;

use countersign_core::decision::{Expectations, GateError, Quorum};
use countersign_core::{ApproverKey, TrustedKeys};
use countersign_gate::{run_gated, verify_for_execution_with, GateFailure, GateOptions, Ledger};

use crate::fixture::{self, approve_all, Fixture, AGENT};

/// One envelope approved and signed by the fixture's approver, and its draft id.
async fn approval(fx: &Fixture) -> (countersign_core::Envelope, String) {
    let scratch = tempfile::tempdir().unwrap();
    let approved = run_gated(
        &fx.client,
        &fixture::shell_draft(&["true"]),
        &fx.keys.trusted,
        &Ledger::open_in(scratch.path()).unwrap(),
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            ..GateOptions::default()
        },
    )
    .await
    .unwrap();
    (approved.envelope, approved.submitted.id)
}

fn two_of(lead: bool) -> Quorum {
    Quorum { approvals: 2, lead }
}

#[tokio::test]
async fn a_second_approvers_cosignature_meets_the_quorum_and_is_used_once() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let (mut env, id) = approval(&fx).await;
    let lead = ApproverKey::generate();
    let trusted = TrustedKeys::from_keys(vec![
        fx.keys.approver.trusted_key("ana", "approver"),
        lead.trusted_key("lea", "lead"),
    ])
    .unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: AGENT,
        now: countersign_gate::unix_now(),
    };
    let e =
        verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, two_of(true)).unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "one signature is not two: {e}"
    );
    env.signatures.push(env.signatures[0].clone());
    let e =
        verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, two_of(false)).unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "the same signature twice is one approver: {e}"
    );
    env.signatures.pop();
    env.add_signature(&lead).unwrap();
    verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, two_of(true))
        .expect("an approver and a lead: quorum met, and the refusals above consumed nothing");
    let e =
        verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, two_of(true)).unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Replay(_))),
        "{e}"
    );
}

#[tokio::test]
async fn a_revoked_approvers_signature_counts_zero_after_a_key_rotation() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let (env, id) = approval(&fx).await;
    let mut old = fx.keys.approver.trusted_key("ana", "approver");
    old.revoked_at = Some(countersign_gate::unix_now() - 60);
    let rotated = ApproverKey::generate();
    let trusted =
        TrustedKeys::from_keys(vec![old, rotated.trusted_key("ana", "approver")]).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: AGENT,
        now: countersign_gate::unix_now(),
    };
    let e = verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, Quorum::default())
        .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Signature(_))),
        "a signature by the revoked key is refused, even one made before the revocation: {e}"
    );
}

#[tokio::test]
async fn self_approval_by_a_key_pinned_under_the_agents_name_does_not_count() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let (env, id) = approval(&fx).await;
    let trusted =
        TrustedKeys::from_keys(vec![fx.keys.approver.trusted_key(AGENT, "approver")]).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: AGENT,
        now: countersign_gate::unix_now(),
    };
    let e = verify_for_execution_with(&env, &trusted, &fx.ledger, &expect, Quorum::default())
        .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "{e}"
    );
}

#[tokio::test]
async fn run_gated_with_a_quorum_refuses_a_single_approval_and_records_nothing() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let e = run_gated(
        &fx.client,
        &fixture::shell_draft(&["true"]),
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            quorum: two_of(false),
            ..GateOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "the broker released one signature; the gate asked for two: {e}"
    );
}
