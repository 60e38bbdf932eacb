//! DSSE envelopes and decision bodies: round trip and tampering.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::decision::{
    verify_decision, verify_decision_signature, Approver, DecisionBody, Expectations, GateError,
    RiskSummary, Verdict, DECISION_PAYLOAD_TYPE,
};
use countersign_core::digest::action_digest;
use countersign_core::dsse::{pae, Envelope, VerifyError};
use countersign_core::{ApproverKey, RiskLevel, TrustedKeys};
use zeroize::Zeroizing;

pub(crate) fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([seed; 32]))
}

fn trust(keys: &[&ApproverKey]) -> TrustedKeys {
    TrustedKeys::from_keys(
        keys.iter()
            .map(|k| k.trusted_key("ana", "approver"))
            .collect(),
    )
    .unwrap()
}

const NOW: i64 = 1_790_000_000;

pub(crate) fn body() -> DecisionBody {
    let action = crate::draft(
        serde_json::json!({"kind":"message.post","target":"forum://eng/1","summary":"reply",
        "payload":{"channel":"eng","body":"hello"}}),
    )
    .action();
    DecisionBody {
        v: 1,
        verdict: Verdict::Approved,
        reason: None,
        action_id: "id-1".into(),
        agent: "bot".into(),
        action_digest: action_digest(&action).to_string(),
        action,
        approver: Approver {
            keyid: key(1).key_id(),
            name: "ana".into(),
        },
        risk: RiskSummary {
            score: 10,
            level: RiskLevel::Low,
        },
        policy_sha256: None,
        iat: NOW,
        exp: NOW + 300,
        jti: "jti-1".into(),
    }
}

fn expect() -> Expectations<'static> {
    Expectations {
        action_id: "id-1",
        agent: "bot",
        now: NOW + 10,
    }
}

fn payload_of(env: &Envelope) -> Vec<u8> {
    B64.decode(&env.payload).unwrap()
}

fn with_payload(env: &Envelope, bytes: &[u8]) -> Envelope {
    Envelope {
        payload: B64.encode(bytes),
        ..env.clone()
    }
}

#[test]
fn pae_matches_the_dsse_specification_example() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

#[test]
fn a_signed_decision_round_trips() {
    let env = body().sign(&key(1));
    assert_eq!(env.payload_type, DECISION_PAYLOAD_TYPE);
    let got = verify_decision(&env, &trust(&[&key(1)]), &expect()).unwrap();
    assert_eq!(got, body());
}

#[test]
fn changing_one_byte_of_the_action_text_fails() {
    let env = body().sign(&key(1));
    let text = String::from_utf8(payload_of(&env))
        .unwrap()
        .replace("hello", "hellO");
    let err = verify_decision(
        &with_payload(&env, text.as_bytes()),
        &trust(&[&key(1)]),
        &expect(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            GateError::Signature(VerifyError::NoTrustedSignature { .. })
        ),
        "{err}"
    );
}

#[test]
fn flipped_truncated_and_garbage_signatures_fail() {
    let env = body().sign(&key(1));
    let sig = B64.decode(&env.signatures[0].sig).unwrap();
    let mut flipped = sig.clone();
    flipped[10] ^= 0x01;
    for bad in [
        B64.encode(&flipped),
        B64.encode(&sig[..63]),
        "not base64!".into(),
        String::new(),
    ] {
        let mut e = env.clone();
        e.signatures[0].sig = bad.clone();
        assert!(
            verify_decision(&e, &trust(&[&key(1)]), &expect()).is_err(),
            "signature {bad:?} must not verify"
        );
    }
}

#[test]
fn a_signature_from_an_unpinned_key_fails_even_with_a_pinned_keyid() {
    let mut env = body().sign(&key(2));
    env.signatures[0].keyid = key(1).key_id();
    let err = verify_decision(&env, &trust(&[&key(1)]), &expect()).unwrap_err();
    assert!(matches!(err, GateError::Signature(_)), "{err}");
}

#[test]
fn the_payload_type_is_part_of_what_is_signed() {
    let env = body().sign(&key(1));
    let e = Envelope {
        payload_type: "application/json".into(),
        ..env.clone()
    };
    assert!(matches!(
        verify_decision(&e, &trust(&[&key(1)]), &expect()),
        Err(GateError::Signature(VerifyError::PayloadType { .. }))
    ));
    let resigned = Envelope::sign("application/json", &payload_of(&env), &key(1));
    assert!(
        verify_decision(&resigned, &trust(&[&key(1)]), &expect()).is_err(),
        "a validly signed body of another type is not a decision"
    );
}

#[test]
fn a_body_whose_digest_does_not_match_its_action_fails_even_when_signed() {
    let mut b = body();
    b.action.summary = "something else".into();
    let env = b.sign(&key(1));
    assert!(matches!(
        verify_decision_signature(&env, &trust(&[&key(1)])),
        Err(GateError::Digest { .. })
    ));
}

#[test]
fn audience_freshness_and_verdict_are_enforced() {
    let t = trust(&[&key(1)]);
    let env = body().sign(&key(1));
    assert!(matches!(
        verify_decision(
            &env,
            &t,
            &Expectations {
                agent: "other-bot",
                ..expect()
            }
        ),
        Err(GateError::Audience(_))
    ));
    assert!(matches!(
        verify_decision(
            &env,
            &t,
            &Expectations {
                action_id: "id-2",
                ..expect()
            }
        ),
        Err(GateError::Audience(_))
    ));
    assert!(matches!(
        verify_decision(
            &env,
            &t,
            &Expectations {
                now: NOW + 300 + 61,
                ..expect()
            }
        ),
        Err(GateError::Expired(_))
    ));
    assert!(
        verify_decision(
            &env,
            &t,
            &Expectations {
                now: NOW + 300 + 59,
                ..expect()
            }
        )
        .is_ok(),
        "60 s of clock skew is tolerated"
    );
    assert!(matches!(
        verify_decision(
            &env,
            &t,
            &Expectations {
                now: NOW - 61,
                ..expect()
            }
        ),
        Err(GateError::Expired(_))
    ));
    let mut long = body();
    long.exp = long.iat + 3600;
    assert!(
        matches!(
            verify_decision(&long.sign(&key(1)), &t, &expect()),
            Err(GateError::Expired(_))
        ),
        "over-long lifetimes are refused"
    );
    let mut no = body();
    no.verdict = Verdict::Rejected;
    no.reason = Some("PII".into());
    assert_eq!(
        verify_decision(&no.sign(&key(1)), &t, &expect()).unwrap_err(),
        GateError::Rejected("PII".into())
    );
}

#[test]
fn duplicate_and_unknown_fields_in_a_signed_body_fail() {
    let env = body().sign(&key(1));
    let text = String::from_utf8(payload_of(&env)).unwrap();
    let dup = text.replacen("{\"action\"", "{\"agent\":\"bot\",\"action\"", 1);
    let extra = text.replacen("{\"action\"", "{\"admin\":true,\"action\"", 1);
    for bytes in [dup, extra] {
        let e = Envelope::sign(DECISION_PAYLOAD_TYPE, bytes.as_bytes(), &key(1));
        assert!(
            matches!(
                verify_decision(&e, &trust(&[&key(1)]), &expect()),
                Err(GateError::Body(_))
            ),
            "{bytes}"
        );
    }
}

#[test]
fn a_trust_file_whose_keyid_does_not_match_its_key_is_refused() {
    let mut k = key(1).trusted_key("ana", "approver");
    k.keyid = key(2).key_id();
    assert!(TrustedKeys::from_keys(vec![k]).is_err());
    assert!(
        TrustedKeys::from_json(b"{\"keys\": []}").is_err(),
        "an empty trust list can never verify anything"
    );
}
