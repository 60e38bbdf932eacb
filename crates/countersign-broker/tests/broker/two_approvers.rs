//! `two_approvers_from`: a band where any approver's approval waits for a second, distinct
//! approver's co-signature over the same body before anything is released; a lead alone is
//! not enough either (two people, not one role).

use std::sync::Arc;
use std::time::Duration;

use countersign_broker::{sign_cosign_request, BrokerConfig, DecisionInput};
use countersign_core::api::{CosignOutcome, Status};
use countersign_core::cosign::Required;
use countersign_core::decision::{verify_decision_quorum, Expectations};
use countersign_core::policy::{self, LoadedPolicy, Requirement};
use countersign_core::{ApproverKey, TrustedKey, TrustedKeys};

use crate::fixture::{seed_key, start_with, Fixture};

const GRANT: &str = r#"{"kind":"acl.change","target":"w://a","summary":"open up","payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"}]}}"#;

/// The lead who signs the policy (seed 21); the broker's own key is seed 7 ("ana").
fn lea() -> ApproverKey {
    seed_key(21)
}

/// A second, ordinary approver (seed 22).
fn bo() -> ApproverKey {
    seed_key(22)
}

/// Every scored draft needs two approvers; `pinned` is the trust file beside the policy.
async fn two_approver_broker(pinned: Vec<TrustedKey>) -> Fixture {
    let text = "serial = 1\n[thresholds]\ntwo_approvers_from = 1\n";
    let env = policy::sign(text.as_bytes(), &lea());
    let trusted = TrustedKeys::from_keys(pinned).unwrap();
    let loaded = LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap();
    assert_eq!(
        loaded
            .policy
            .requirement("a", countersign_core::action::ActionKind::AclChange, 80),
        Requirement::TwoApprovers
    );
    start_with(BrokerConfig {
        policy: Some(Arc::new(loaded)),
        ..BrokerConfig::default()
    })
    .await
}

/// Submits GRANT and approves it for co-signing with the broker's key; (id, digest, request).
fn first_approval(f: &Fixture) -> (String, String, Vec<u8>) {
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    f.broker
        .approve_for_cosign(&s.id, &s.action_digest)
        .unwrap();
    let request = serde_json::to_vec(&f.broker.cosign_request(&s.id).unwrap()).unwrap();
    (s.id, s.action_digest, request)
}

fn team() -> Vec<TrustedKey> {
    vec![
        lea().trusted_key("lea", "lead"),
        bo().trusted_key("bo", "approver"),
    ]
}

#[tokio::test]
async fn a_two_approver_draft_waits_for_a_second_approver_and_the_gate_counts_both() {
    let f = two_approver_broker(team()).await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    assert_eq!(
        f.broker.detail(&s.id).unwrap().cosign_needed,
        Some(Required {
            approvals: 2,
            lead: false
        })
    );
    let e = f
        .broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap_err();
    assert!(e.to_string().contains("two approvers"), "{e}");

    let info = f
        .broker
        .approve_for_cosign(&s.id, &s.action_digest)
        .unwrap();
    assert_eq!(info.signers.len(), 1);
    assert!(!info.missing.contains("lead"), "{}", info.missing);
    let waited = f
        .broker
        .wait_decision(&agent, &s.id, Duration::from_millis(50))
        .await
        .unwrap();
    assert!(
        waited.envelope.is_none(),
        "nothing leaves with one signature"
    );

    let request = serde_json::to_vec(&f.broker.cosign_request(&s.id).unwrap()).unwrap();
    let response =
        serde_json::to_vec(&sign_cosign_request(&request, &s.action_digest, &bo()).unwrap())
            .unwrap();
    let outcome = f.broker.import_cosign_response(&response).unwrap();
    assert!(
        matches!(outcome, CosignOutcome::Released { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        f.broker.detail(&s.id).unwrap().summary.status,
        Status::Approved
    );
    let envelope = f
        .broker
        .wait_decision(&agent, &s.id, Duration::from_millis(100))
        .await
        .unwrap()
        .envelope
        .expect("released");
    let gate_trust = TrustedKeys::from_keys(vec![
        seed_key(7).trusted_key("ana", "approver"),
        bo().trusted_key("bo", "approver"),
    ])
    .unwrap();
    let body = verify_decision_quorum(
        &envelope,
        &gate_trust,
        &Expectations {
            action_id: &s.id,
            agent: &agent.name,
            now: countersign_broker::now(),
        },
        Requirement::TwoApprovers.quorum().unwrap(),
    )
    .expect("two distinct pinned approvers");
    let p = f.broker.config().policy.clone().unwrap();
    assert_eq!(
        p.quorum_for(&body).unwrap(),
        Requirement::TwoApprovers.quorum().unwrap(),
        "a gate pinning the policy asks the same quorum"
    );
}

#[tokio::test]
async fn the_same_approver_cannot_be_the_second_approver() {
    let f = two_approver_broker(team()).await;
    let (id, digest, request) = first_approval(&f);
    let e = sign_cosign_request(&request, &digest, &seed_key(7)).unwrap_err();
    assert!(e.to_string().contains("already signed"), "{e}");
    assert_eq!(
        f.broker.detail(&id).unwrap().summary.status,
        Status::Pending
    );
}

#[tokio::test]
async fn an_unpinned_second_approver_is_refused_and_changes_nothing() {
    let f = two_approver_broker(team()).await;
    let (id, digest, request) = first_approval(&f);
    let stranger = seed_key(99);
    let response =
        serde_json::to_vec(&sign_cosign_request(&request, &digest, &stranger).unwrap()).unwrap();
    let e = f.broker.import_cosign_response(&response).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    let detail = f.broker.detail(&id).unwrap();
    assert_eq!(detail.summary.status, Status::Pending);
    assert_eq!(detail.cosign.unwrap().signers.len(), 1);
}

#[tokio::test]
async fn a_lead_approving_a_two_approver_draft_still_needs_a_second_approver() {
    // The broker's own key pinned as a lead: the band asks for two people, not one role.
    let f = two_approver_broker(vec![
        seed_key(7).trusted_key("ana", "lead"),
        lea().trusted_key("lea", "lead"),
        bo().trusted_key("bo", "approver"),
    ])
    .await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    let e = f
        .broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap_err();
    assert!(e.to_string().contains("two approvers"), "{e}");
    assert!(f
        .broker
        .detail(&s.id)
        .unwrap()
        .cosign_needed
        .is_some_and(|r| r.approvals == 2 && !r.lead));
}
