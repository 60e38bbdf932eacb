//! Quorum at the gate: several approvers' signatures over one decision, counted once per
//! distinct live pinned key; nothing is recorded as used until the quorum holds.

use std::sync::Arc;
use std::time::Duration;

use countersign_core::decision::{Expectations, GateError, Quorum, Verdict};
use countersign_core::policy::LoadedPolicy;
use countersign_core::{ApproverKey, TrustedKeys};
use countersign_gate::{run_gated, verify_for_execution_with, GateFailure, GateOptions, Ledger};

use crate::fixture::{self, answer_with, approve_all, Fixture, AGENT};

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

/// A policy signed by `lead` (pinned with role `lead`): scores >= 5 need two approvers,
/// >= 90 are blocked (the shell draft `true` scores below 5, so the signed score decides).
fn policy_two_approvers_from(lead: &ApproverKey, blocked_from: u8) -> LoadedPolicy {
    let text = format!(
        "serial = 1\n[thresholds]\ntwo_approvers_from = 5\nblocked_from = {blocked_from}\n"
    );
    let envelope = countersign_core::policy::sign(text.as_bytes(), lead);
    let trust = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    LoadedPolicy::verify(text.as_bytes(), &envelope, &trust).unwrap()
}

/// Runs `argv` through a gate pinning `policy` (and `trusted`) against `fx`'s broker.
async fn gated_under(
    fx: &Fixture,
    argv: &[&str],
    trusted: &TrustedKeys,
    policy: &LoadedPolicy,
) -> Result<countersign_gate::Approved, GateFailure> {
    run_gated(
        &fx.client,
        &fixture::shell_draft(argv),
        trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            policy: Some(policy),
            ..GateOptions::default()
        },
    )
    .await
}

#[tokio::test]
async fn a_gate_pinning_a_policy_demands_its_two_approver_band_and_consumes_nothing_short_of_it() {
    let lead = ApproverKey::generate();
    let policy = policy_two_approvers_from(&lead, 90);
    let sha = policy.sha256.clone();
    let second = Arc::new(ApproverKey::generate());
    let released: Arc<std::sync::Mutex<Option<countersign_core::Envelope>>> = Arc::default();
    let fx = Fixture::new(|k| {
        // The broker signs one approval under the pinned policy, score 10 (>= 5: two approvers).
        let (key, sha, released) = (k.approver.clone(), sha.clone(), released.clone());
        Arc::new(move |filed: &fixture::Filed| {
            let mut body = fixture::body_for(filed, &key, Verdict::Approved);
            body.policy_sha256 = Some(sha.clone());
            let env = body.sign(&key);
            *released.lock().unwrap() = Some(env.clone());
            Some(env)
        })
    })
    .await;
    let e = gated_under(&fx, &["true"], &fx.keys.trusted, &policy)
        .await
        .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "one signature where the pinned policy's band asks for two: {e}"
    );
    // Nothing was consumed: the refused envelope's jti is still unused in the ledger.
    let env = released.lock().unwrap().clone().unwrap();
    let id = fx.broker.filed()[0].id.clone();
    verify_for_execution_with(
        &env,
        &fx.keys.trusted,
        &fx.ledger,
        &Expectations {
            action_id: &id,
            agent: AGENT,
            now: countersign_gate::unix_now(),
        },
        Quorum::default(),
    )
    .expect("the refusal recorded nothing, so the jti is still fresh");

    // The same kind of approval with a second pinned approver's co-signature runs, once.
    let fx2 = Fixture::new(|k| {
        let (first, second, sha) = (k.approver.clone(), second.clone(), policy.sha256.clone());
        Arc::new(move |filed: &fixture::Filed| {
            let mut body = fixture::body_for(filed, &first, Verdict::Approved);
            body.policy_sha256 = Some(sha.clone());
            let mut env = body.sign(&first);
            env.add_signature(&second).unwrap();
            Some(env)
        })
    })
    .await;
    let both = TrustedKeys::from_keys(vec![
        fx2.keys.approver.trusted_key("ana", "approver"),
        second.trusted_key("bo", "approver"),
    ])
    .unwrap();
    let approved = gated_under(&fx2, &["true"], &both, &policy)
        .await
        .expect("two distinct pinned approvers meet the two_approvers band");
    let e = verify_for_execution_with(
        &approved.envelope,
        &both,
        &fx2.ledger,
        &Expectations {
            action_id: &approved.submitted.id,
            agent: AGENT,
            now: countersign_gate::unix_now(),
        },
        Quorum::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Replay(_))),
        "{e}"
    );
}

#[tokio::test]
async fn a_gate_pinning_a_policy_refuses_a_decision_under_another_policy_or_a_blocked_score() {
    let lead = ApproverKey::generate();
    let policy = policy_two_approvers_from(&lead, 90);
    let other = policy_two_approvers_from(&lead, 80);
    for (label, sha, score) in [
        ("another policy", Some(other.sha256.clone()), 10u8),
        ("no policy at all", None, 10),
        (
            "a score the pinned policy blocks",
            Some(policy.sha256.clone()),
            95,
        ),
    ] {
        let fx = Fixture::new(|k| {
            answer_with(&k.approver, move |b| {
                b.policy_sha256 = sha.clone();
                b.risk.score = score;
            })
        })
        .await;
        let e = gated_under(&fx, &["true"], &fx.keys.trusted, &policy)
            .await
            .unwrap_err();
        assert!(
            matches!(e, GateFailure::Refused(GateError::Policy(_))),
            "{label}: {e}"
        );
    }
}

#[tokio::test]
async fn a_broker_understating_the_score_does_not_lower_the_pinned_band() {
    // Signed score 0, but the gate rescoring the signed action under the policy finds
    // `rm -rf /` far above 5: two approvers are still required.
    let lead = ApproverKey::generate();
    let policy = policy_two_approvers_from(&lead, 101);
    let sha = policy.sha256.clone();
    let fx = Fixture::new(|k| {
        answer_with(&k.approver, move |b| {
            b.policy_sha256 = Some(sha.clone());
            b.risk.score = 0;
        })
    })
    .await;
    let e = gated_under(&fx, &["rm", "-rf", "/"], &fx.keys.trusted, &policy)
        .await
        .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Quorum(_))),
        "{e}"
    );
}
