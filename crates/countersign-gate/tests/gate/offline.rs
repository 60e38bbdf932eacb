//! `countersign verify`: genuine or not, and what it says, without enforcing anything.

use countersign_core::api::{DecisionResponse, Status};
use countersign_core::decision::{GateError, Verdict};
use countersign_core::dsse::Envelope;
use countersign_core::ApproverKey;
use countersign_gate::offline::verify_offline_at;
use countersign_gate::{verify_offline, Freshness, OfflineError};

use crate::fixture::{self, body_for, tamper, Filed};

fn filed() -> Filed {
    Filed {
        id: "draft-1".into(),
        action: fixture::shell_draft(&["sh", "-c", "echo ran"]).action(),
    }
}

fn bytes(envelope: &Envelope) -> Vec<u8> {
    serde_json::to_vec(envelope).unwrap()
}

#[test]
fn genuine_approval_reports_its_signer_and_is_fresh() {
    let keys = fixture::keys();
    let envelope = body_for(&filed(), &keys.approver, Verdict::Approved).sign(&keys.approver);

    let report = verify_offline(&bytes(&envelope), &keys.trusted).unwrap();

    assert_eq!(report.verdict, Verdict::Approved);
    assert_eq!(report.freshness, Freshness::Fresh);
    assert_eq!(report.body.action_id, "draft-1");
    assert_eq!(report.signers.len(), 1);
    assert_eq!(
        report.signers[0].approver, "ana",
        "the CLI prints who signed"
    );
}

#[test]
fn expired_approval_still_verifies_but_is_reported_stale() {
    let keys = fixture::keys();
    let body = body_for(&filed(), &keys.approver, Verdict::Approved);
    let envelope = body.sign(&keys.approver);

    let report = verify_offline_at(&bytes(&envelope), &keys.trusted, body.exp + 3600).unwrap();

    assert_eq!(report.verdict, Verdict::Approved);
    assert!(
        matches!(report.freshness, Freshness::Stale(ref why) if why.contains("expired")),
        "an audit of an old approval shows it as genuine but no longer usable: {:?}",
        report.freshness
    );
}

#[test]
fn rejection_is_reported_as_a_verdict_not_an_error() {
    let keys = fixture::keys();
    let envelope = body_for(&filed(), &keys.approver, Verdict::Rejected).sign(&keys.approver);

    let report = verify_offline(&bytes(&envelope), &keys.trusted).unwrap();

    assert_eq!(report.verdict, Verdict::Rejected);
    assert_eq!(report.body.reason.as_deref(), Some("grants too broad"));
    assert_eq!(report.freshness, Freshness::Fresh);
}

#[test]
fn decision_response_wrapping_an_envelope_is_accepted() {
    let keys = fixture::keys();
    let envelope = body_for(&filed(), &keys.approver, Verdict::Approved).sign(&keys.approver);
    let response = DecisionResponse {
        id: "draft-1".into(),
        status: Status::Approved,
        envelope: Some(envelope),
    };

    let report = verify_offline(&serde_json::to_vec(&response).unwrap(), &keys.trusted).unwrap();

    assert_eq!(
        report.body.action_id, "draft-1",
        "saved long-poll answers verify as is"
    );
}

#[test]
fn tampered_or_unpinned_or_malformed_envelopes_are_refused() {
    let keys = fixture::keys();
    let envelope = body_for(&filed(), &keys.approver, Verdict::Approved).sign(&keys.approver);
    let tampered = tamper(&envelope, "echo ran", "echo rAn");
    let stranger = ApproverKey::generate();
    let unpinned = body_for(&filed(), &stranger, Verdict::Approved).sign(&stranger);

    assert!(
        matches!(
            verify_offline(&bytes(&tampered), &keys.trusted),
            Err(OfflineError::Invalid(GateError::Signature(_)))
        ),
        "a changed byte is caught offline too"
    );
    assert!(
        matches!(
            verify_offline(&bytes(&unpinned), &keys.trusted),
            Err(OfflineError::Invalid(GateError::Signature(_)))
        ),
        "only pinned keys count"
    );
    assert!(matches!(
        verify_offline(b"{\"payload\": \"\"}", &keys.trusted),
        Err(OfflineError::Parse(_))
    ));
    assert!(
        matches!(
            verify_offline(
                br#"{"payload":"","payload":"","payloadType":"x","signatures":[]}"#,
                &keys.trusted
            ),
            Err(OfflineError::Parse(_))
        ),
        "duplicate keys are ambiguous and refused"
    );
}
