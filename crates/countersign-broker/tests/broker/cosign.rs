//! Co-signing across machines: an engineer's approval of a draft that needs a lead waits for a
//! lead's signature carried by a request file and a response file; the response is verified
//! against the pinned keys and the two-signature envelope is released when the quorum holds.

use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::{review_cosign_request, sign_cosign_request, BrokerConfig, BrokerError};
use countersign_broker::{BrokerError::BadRequest, DecisionInput};
use countersign_core::api::{CosignOutcome, Status};
use countersign_core::cosign::{CosignRequest, Required};
use countersign_core::decision::{verify_decision_quorum, Expectations, Quorum};
use countersign_core::digest::canonical_json;
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::{ApproverKey, Envelope, TrustedKey, TrustedKeys};

use crate::fixture::{seed_key, start_with, Fixture};

const GRANT: &str = r#"{"kind":"acl.change","target":"w://a","summary":"open up","payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"}]}}"#;

/// The lead who signed the policy and co-signs (seed 21); the broker's own key (seed 7) is an
/// engineer's.
fn lea() -> ApproverKey {
    seed_key(21)
}

/// A policy under which every scored draft needs a lead, with `leads` pinned as leads.
async fn engineer(leads: Vec<TrustedKey>) -> Fixture {
    let text = "serial = 1\n[thresholds]\nlead_required_from = 1\n";
    let env = policy::sign(text.as_bytes(), &lea());
    let trusted = TrustedKeys::from_keys(leads).unwrap();
    let loaded = LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap();
    start_with(BrokerConfig {
        policy: Some(Arc::new(loaded)),
        ..BrokerConfig::default()
    })
    .await
}

async fn with_lea() -> Fixture {
    engineer(vec![lea().trusted_key("lea", "lead")]).await
}

/// Submits GRANT and approves it for co-signing; returns (id, digest, request file bytes).
fn approved_for_cosign(f: &Fixture) -> (String, String, Vec<u8>) {
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    f.broker
        .approve_for_cosign(&s.id, &s.action_digest)
        .unwrap();
    let request = f.broker.cosign_request(&s.id).unwrap();
    (s.id, s.action_digest, serde_json::to_vec(&request).unwrap())
}

fn parse_request(bytes: &[u8]) -> CosignRequest {
    CosignRequest::parse(bytes).unwrap()
}

fn response_bytes(request: &[u8], digest: &str, key: &ApproverKey) -> Vec<u8> {
    serde_json::to_vec(&sign_cosign_request(request, digest, key).unwrap()).unwrap()
}

fn status(f: &Fixture, id: &str) -> Status {
    f.broker.detail(id).unwrap().summary.status
}

#[tokio::test]
async fn an_engineers_approval_waits_for_a_leads_cosignature_and_the_gate_accepts_both() {
    let f = with_lea().await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    let detail = f.broker.detail(&s.id).unwrap();
    assert_eq!(
        detail.cosign_needed,
        Some(Required {
            approvals: 2,
            lead: true
        }),
        "the window learns that this approver cannot approve alone"
    );
    let e = f
        .broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap_err();
    assert!(e.to_string().contains("co-sign"), "{e}");

    let info = f
        .broker
        .approve_for_cosign(&s.id, &s.action_digest)
        .unwrap();
    assert_eq!(info.signers.len(), 1);
    assert_eq!(info.signers[0].name, "ana");
    assert!(info.missing.contains("lead"), "{}", info.missing);
    assert_eq!(status(&f, &s.id), Status::Pending, "still waiting");
    let waited = f
        .broker
        .wait_decision(&agent, &s.id, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(
        waited.envelope.is_none(),
        "no envelope leaves before the quorum"
    );
    assert_eq!(
        f.broker.detail(&s.id).unwrap().cosign.unwrap().signers[0].name,
        "ana"
    );

    // The lead's side: the same action, scored locally, signed over the same body.
    let request = serde_json::to_vec(&f.broker.cosign_request(&s.id).unwrap()).unwrap();
    let review = review_cosign_request(&request, &Default::default()).unwrap();
    assert_eq!(review.request.action_digest, s.action_digest);
    assert_eq!(
        review.risk,
        countersign_core::risk::score_with(&review.request.action, &Default::default()),
        "the co-signer sees its own score of the action in the file"
    );
    let response = response_bytes(&request, &s.action_digest, &lea());

    let outcome = f.broker.import_cosign_response(&response).unwrap();
    let CosignOutcome::Released { signers, .. } = outcome else {
        panic!("the quorum is met: {outcome:?}");
    };
    assert_eq!(
        signers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["ana", "lea"]
    );
    assert_eq!(status(&f, &s.id), Status::Approved);
    let envelope = f
        .broker
        .wait_decision(&agent, &s.id, Duration::from_millis(100))
        .await
        .unwrap()
        .envelope
        .expect("released to the agent");
    assert_eq!(envelope.signatures.len(), 2);
    let gate_trust = TrustedKeys::from_keys(vec![
        seed_key(7).trusted_key("ana", "approver"),
        lea().trusted_key("lea", "lead"),
    ])
    .unwrap();
    let expect = Expectations {
        action_id: &s.id,
        agent: "a1",
        now: countersign_broker::now(),
    };
    verify_decision_quorum(
        &envelope,
        &gate_trust,
        &expect,
        Quorum {
            approvals: 2,
            lead: true,
        },
    )
    .expect("a gate demanding two approvers and a lead accepts the co-signed envelope");
    let report = f.broker.store().verify_audit(&f.trusted).unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    let events: Vec<String> = f
        .broker
        .store()
        .audit_rows()
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(
        events.contains(&"action.awaiting_cosign".to_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_request_whose_action_was_tampered_with_is_refused_by_the_co_signer() {
    let f = with_lea().await;
    let (_, digest, bytes) = approved_for_cosign(&f);
    let mut request = parse_request(&bytes);
    request.action.payload["grants"][0]["principal"] = "data-eng".into();
    let tampered = serde_json::to_vec(&request).unwrap();
    let e = review_cosign_request(&tampered, &Default::default()).unwrap_err();
    assert!(e.to_string().contains("hashes to"), "{e}");
    // Even with the digest recomputed, the signed body still carries the original action.
    request.action_digest = countersign_core::digest::action_digest(&request.action).to_string();
    let tampered = serde_json::to_vec(&request).unwrap();
    let e = sign_cosign_request(&tampered, &request.action_digest, &lea()).unwrap_err();
    assert!(e.to_string().contains("inconsistent"), "{e}");
    assert!(
        sign_cosign_request(&bytes, "sha256:00", &lea()).is_err(),
        "the digest the co-signer was shown must be the file's: {digest}"
    );
}

#[tokio::test]
async fn a_claimed_risk_that_differs_from_the_local_score_is_reported_loudly() {
    let f = with_lea().await;
    let (_, _, bytes) = approved_for_cosign(&f);
    let mut request = parse_request(&bytes);
    request.risk.score = 3;
    request.risk.factors.clear();
    let review =
        review_cosign_request(&serde_json::to_vec(&request).unwrap(), &Default::default()).unwrap();
    let note = review
        .risk_mismatch
        .expect("the understated risk is flagged");
    assert!(
        note.starts_with("RISK MISMATCH: the file claims 3"),
        "{note}"
    );
    assert!(review.risk.score > 3, "the local score is the one shown");
}

#[tokio::test]
async fn a_response_signing_another_body_is_refused_and_changes_nothing() {
    let f = with_lea().await;
    let (id, digest, bytes) = approved_for_cosign(&f);
    // The lead signs a body of their own making for the same draft (another jti).
    let request = parse_request(&bytes);
    let mut body: serde_json::Value =
        countersign_core::json::parse_strict(&B64.decode(&request.envelope.payload).unwrap())
            .unwrap();
    body["jti"] = "forged-jti".into();
    let other = Envelope::sign(
        &request.envelope.payload_type,
        &canonical_json(&body).unwrap(),
        &lea(),
    );
    let response = serde_json::json!({"v": 1, "type": "countersign.cosign-response",
        "action_id": id, "action_digest": digest, "envelope": other});
    let e = f
        .broker
        .import_cosign_response(&serde_json::to_vec(&response).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("another decision body"), "{e}");
    assert_eq!(status(&f, &id), Status::Pending);

    // A response for another draft, relabelled as this one, fails its own consistency check.
    let (_, digest2, bytes2) = approved_for_cosign(&f);
    let mut relabelled: serde_json::Value =
        countersign_core::json::parse_strict(&response_bytes(&bytes2, &digest2, &lea())).unwrap();
    relabelled["action_id"] = id.clone().into();
    let e = f
        .broker
        .import_cosign_response(&serde_json::to_vec(&relabelled).unwrap())
        .unwrap_err();
    assert!(matches!(e, BadRequest(_)), "{e}");
    assert_eq!(status(&f, &id), Status::Pending);
}

#[tokio::test]
async fn a_second_signature_by_the_same_key_adds_no_signer() {
    let f = with_lea().await;
    let (id, digest, bytes) = approved_for_cosign(&f);
    // The engineer "co-signs" their own request: Ed25519 is deterministic, so it is the same
    // signature; and re-signed by the engineer's key under another hint it is one key still.
    let e = sign_cosign_request(&bytes, &digest, &seed_key(7)).unwrap_err();
    assert!(e.to_string().contains("already signed"), "{e}");
    let mut request = parse_request(&bytes);
    let mut dup = request.envelope.signatures[0].clone();
    dup.keyid = "sha256:someone-else".into();
    request.envelope.signatures.push(dup);
    let response = serde_json::json!({"v": 1, "type": "countersign.cosign-response",
        "action_id": id, "action_digest": digest, "envelope": request.envelope});
    let e = f
        .broker
        .import_cosign_response(&serde_json::to_vec(&response).unwrap())
        .unwrap_err();
    assert!(
        matches!(e, BrokerError::Conflict(_)) && e.to_string().contains("no new signer"),
        "{e}"
    );
    assert_eq!(status(&f, &id), Status::Pending);
}

#[tokio::test]
async fn an_unpinned_co_signer_is_refused() {
    let f = with_lea().await;
    let (id, digest, bytes) = approved_for_cosign(&f);
    let mallory = seed_key(66);
    let e = f
        .broker
        .import_cosign_response(&response_bytes(&bytes, &digest, &mallory))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("does not verify against any live pinned key"),
        "{e}"
    );
    assert_eq!(status(&f, &id), Status::Pending);
    assert_eq!(
        f.broker.detail(&id).unwrap().cosign.unwrap().signers.len(),
        1
    );
}

#[tokio::test]
async fn a_revoked_lead_counts_zero() {
    let leo = seed_key(22);
    let mut revoked = leo.trusted_key("leo", "lead");
    revoked.revoke(countersign_broker::now() - 10, "laptop lost");
    let f = engineer(vec![lea().trusted_key("lea", "lead"), revoked]).await;
    let (id, digest, bytes) = approved_for_cosign(&f);
    let e = f
        .broker
        .import_cosign_response(&response_bytes(&bytes, &digest, &leo))
        .unwrap_err();
    assert!(e.to_string().contains("is revoked"), "{e}");
    assert_eq!(status(&f, &id), Status::Pending);
}

#[tokio::test]
async fn a_rejection_ends_the_wait_and_a_late_co_signature_is_refused() {
    let f = with_lea().await;
    let (id, digest, bytes) = approved_for_cosign(&f);
    f.broker
        .decide(
            &id,
            &digest,
            DecisionInput::Reject {
                reason: "on second thought".into(),
            },
        )
        .unwrap();
    assert!(f.broker.detail(&id).unwrap().cosign.is_none());
    let e = f
        .broker
        .import_cosign_response(&response_bytes(&bytes, &digest, &lea()))
        .unwrap_err();
    assert!(e.to_string().contains("already rejected"), "{e}");
    assert_eq!(status(&f, &id), Status::Rejected);
}

#[tokio::test]
async fn a_draft_that_needs_no_lead_is_not_approved_for_co_signing() {
    let f = crate::fixture::start().await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f.broker.submit(&agent, GRANT.as_bytes()).unwrap();
    assert!(f.broker.detail(&s.id).unwrap().cosign_needed.is_none());
    assert!(matches!(
        f.broker.approve_for_cosign(&s.id, &s.action_digest),
        Err(BadRequest(_))
    ));
    assert!(matches!(
        f.broker.cosign_request(&s.id),
        Err(BrokerError::Conflict(_))
    ));
}
