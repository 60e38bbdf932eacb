//! The co-sign request and response files: strict parsing, self-consistency (the action, its
//! digest and the signed body describe one decision), and the co-signature over the same bytes.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::cosign::{
    risk_mismatch, CosignError, CosignRequest, CosignResponse, Required, REQUEST_TYPE,
};
use countersign_core::decision::DECISION_PAYLOAD_TYPE;
use countersign_core::{risk, TrustedKeys};
use serde_json::Value;

use crate::dsse::{body, key};

/// A request for `body()` signed by key 1 (the engineer).
fn request() -> CosignRequest {
    let body = body();
    CosignRequest {
        v: 1,
        kind: REQUEST_TYPE.into(),
        action_id: body.action_id.clone(),
        agent: body.agent.clone(),
        risk: risk::score(&body.action),
        action: body.action.clone(),
        action_digest: body.action_digest.clone(),
        policy_sha256: None,
        required: Required {
            approvals: 2,
            lead: true,
        },
        envelope: body.sign(&key(1)),
    }
}

fn json(r: &CosignRequest) -> Value {
    serde_json::to_value(r).unwrap()
}

fn parse(v: &Value) -> Result<CosignRequest, CosignError> {
    CosignRequest::parse(&serde_json::to_vec(v).unwrap())
}

#[test]
fn a_request_for_a_five_mebibyte_file_write_fits_in_a_file_and_round_trips() {
    let mut body = body();
    body.action = countersign_core::Draft::from_value(serde_json::json!({
        "kind": "file.write", "target": "file:///srv/big.txt", "summary": "regenerate",
        "payload": {"path": "/srv/big.txt", "content": "0123456789abcdef\n".repeat(5 * 65_536)},
    }))
    .unwrap()
    .action();
    body.action_digest = countersign_core::digest::action_digest(&body.action).to_string();
    let r = CosignRequest {
        action: body.action.clone(),
        action_digest: body.action_digest.clone(),
        envelope: body.sign(&key(1)),
        ..request()
    };
    let bytes = serde_json::to_vec(&r).unwrap();
    assert!(bytes.len() > 5 * 1024 * 1024, "fixture: over 5 MiB");
    let parsed = CosignRequest::parse(&bytes)
        .expect("a draft the agent API accepts can be co-signed by file");
    assert_eq!(
        parsed.check().unwrap(),
        body,
        "the same decision comes back"
    );
}

#[test]
fn a_request_round_trips_and_its_co_signature_covers_the_same_body_bytes() {
    let r = parse(&json(&request())).unwrap();
    assert_eq!(r.check().unwrap(), body());
    let response = r.sign(&key(2)).unwrap();
    assert_eq!(
        response.envelope.payload, r.envelope.payload,
        "the same body bytes"
    );
    assert_eq!(response.envelope.signatures.len(), 2);
    let both = TrustedKeys::from_keys(vec![
        key(1).trusted_key("ana", "approver"),
        key(2).trusted_key("lea", "lead"),
    ])
    .unwrap();
    let verified = response
        .envelope
        .verify(DECISION_PAYLOAD_TYPE, &both)
        .unwrap();
    assert_eq!(verified.signers, [key(1).key_id(), key(2).key_id()]);
    let bytes = serde_json::to_vec(&response).unwrap();
    let (parsed, body_bytes) = CosignResponse::parse(&bytes).unwrap();
    assert_eq!(parsed, response);
    assert_eq!(body_bytes, B64.decode(&r.envelope.payload).unwrap());
}

#[test]
fn unknown_fields_other_versions_other_types_and_duplicate_keys_are_refused() {
    let mut extra = json(&request());
    extra["note"] = "hi".into();
    let mut v2 = json(&request());
    v2["v"] = 2.into();
    let mut response_type = json(&request());
    response_type["type"] = "countersign.cosign-response".into();
    for bad in [extra, v2, response_type] {
        assert!(
            matches!(parse(&bad), Err(CosignError::Shape { .. })),
            "{bad}"
        );
    }
    let text = serde_json::to_string(&json(&request())).unwrap();
    let duplicated = text.replacen("\"v\":1", "\"v\":1,\"v\":1", 1);
    assert_ne!(duplicated, text, "the key was duplicated");
    assert!(CosignRequest::parse(duplicated.as_bytes()).is_err());
    let huge = vec![b' '; countersign_core::cosign::MAX_FILE_BYTES + 1];
    assert!(matches!(
        CosignRequest::parse(&huge),
        Err(CosignError::Shape { .. })
    ));
}

#[test]
fn a_file_whose_parts_disagree_is_tampered_whatever_part_was_changed() {
    let mut action = request();
    action.action.summary = "something else".into();
    let mut both = action.clone();
    both.action_digest = countersign_core::digest::action_digest(&both.action).to_string();
    let mut agent = request();
    agent.agent = "other-bot".into();
    let mut policy = request();
    policy.policy_sha256 = Some("sha256:00".into());
    let mut id = request();
    id.action_id = "id-2".into();
    let mut payload_type = request();
    payload_type.envelope.payload_type = "application/json".into();
    for (what, r) in [
        ("action", action),
        ("action and digest", both),
        ("agent", agent),
        ("policy", policy),
        ("draft id", id),
        ("payload type", payload_type),
    ] {
        assert!(
            matches!(r.check(), Err(CosignError::Tampered(_))),
            "a changed {what} must be caught"
        );
        assert!(r.sign(&key(2)).is_err(), "and never signed ({what})");
    }
}

#[test]
fn the_risk_mismatch_names_both_scores_and_is_silent_when_they_agree() {
    let r = request();
    let local = risk::score(&r.action);
    assert_eq!(risk_mismatch(&r.risk, &local), None);
    let mut claimed = local.clone();
    claimed.score = 1;
    claimed.factors.clear();
    let note = risk_mismatch(&claimed, &local).unwrap();
    assert!(
        note.starts_with("RISK MISMATCH: the file claims 1"),
        "{note}"
    );
    assert!(
        note.contains(&format!("scores the same action {}", local.score)),
        "{note}"
    );
}
