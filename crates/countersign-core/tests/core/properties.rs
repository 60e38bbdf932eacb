//! Property tests (proptest): the digest, the strict parser and the verifier over generated
//! inputs, not only hand-picked cases.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::decision::{verify_decision, Expectations, DECISION_PAYLOAD_TYPE};
use countersign_core::digest::{action_digest, canonical_json};
use countersign_core::json::parse_strict;
use countersign_core::{Action, ApproverKey, Draft, Envelope, TrustedKeys};
use proptest::prelude::*;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// JSON values within the rules (numbers within ±2^53, shallow nesting).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|n| json!(n)),
        (-1.0e15f64..1.0e15).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text of `v` with object keys in reverse order and extra whitespace.
fn reordered(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{} :\n {}", Value::String(k.clone()), reordered(v)))
                .collect();
            format!("{{ {} }}", items.join(" ,\t"))
        }
        Value::Array(items) => format!(
            "[ {} ]",
            items.iter().map(reordered).collect::<Vec<_>>().join(" , ")
        ),
        other => other.to_string(),
    }
}

fn tool_action(arguments: Value, summary: &str) -> Value {
    json!({"kind": "tool.call", "target": "mcp://warehouse", "summary": summary,
        "payload": {"tool": "query", "arguments": {"value": arguments}}})
}

fn key() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([5; 32]))
}

fn signed(action: &Value) -> Envelope {
    let parsed: Action = serde_json::from_value(action.clone()).unwrap();
    let body = json!({"v": 1, "verdict": "approved", "reason": null, "action_id": "d1",
        "agent": "bot", "action": action, "action_digest": action_digest(&parsed).to_string(),
        "approver": {"keyid": key().key_id(), "name": "ana"},
        "risk": {"score": 10, "level": "low"}, "iat": 1_790_000_000_i64,
        "exp": 1_790_000_300_i64, "jti": "j1"});
    Envelope::sign(
        DECISION_PAYLOAD_TYPE,
        &canonical_json(&body).unwrap(),
        &key(),
    )
}

fn trusted() -> TrustedKeys {
    TrustedKeys::from_keys(vec![key().trusted_key("ana", "approver")]).unwrap()
}

const EXPECT: Expectations<'static> = Expectations {
    action_id: "d1",
    agent: "bot",
    now: 1_790_000_010,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_digest_ignores_key_order_and_whitespace(arguments in json_value()) {
        let action = tool_action(arguments, "query");
        let text = reordered(&action);
        let reparsed = parse_strict(text.as_bytes()).expect("reordered JSON is still strict JSON");
        let a: Action = serde_json::from_value(action).unwrap();
        let b: Action = serde_json::from_value(reparsed).unwrap();
        prop_assert_eq!(action_digest(&a), action_digest(&b));
    }

    #[test]
    fn every_signed_decision_verifies(arguments in json_value(), summary in "[^\u{0}-\u{1f}]{1,40}") {
        let action = tool_action(arguments, &summary);
        let body = verify_decision(&signed(&action), &trusted(), &EXPECT).expect("genuine");
        // JCS may print a number differently (0.0 as 0); the digest is what is bound.
        let original: Action = serde_json::from_value(action).unwrap();
        prop_assert_eq!(action_digest(&body.action), action_digest(&original));
    }

    #[test]
    fn any_changed_byte_of_payload_or_signature_is_refused(
        arguments in json_value(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        in_signature in any::<bool>(),
    ) {
        let env = signed(&tool_action(arguments, "query"));
        let mut tampered = env.clone();
        if in_signature {
            let mut sig = B64.decode(&env.signatures[0].sig).unwrap();
            let i = at.index(sig.len());
            sig[i] ^= flip;
            tampered.signatures[0].sig = B64.encode(sig);
        } else {
            let mut payload = B64.decode(&env.payload).unwrap();
            let i = at.index(payload.len());
            payload[i] ^= flip;
            tampered.payload = B64.encode(payload);
        }
        prop_assert!(verify_decision(&tampered, &trusted(), &EXPECT).is_err());
    }

    #[test]
    fn the_strict_parser_and_the_draft_parser_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_strict(&bytes);
        let _ = Draft::parse(&bytes);
    }

    #[test]
    fn json_that_parses_strictly_keeps_its_digest_through_a_round_trip(arguments in json_value()) {
        let action = tool_action(arguments, "query");
        let bytes = serde_json::to_vec(&action).unwrap();
        let draft = Draft::parse(&bytes).expect("a valid tool call");
        let again = Draft::parse(&canonical_json(&draft.action()).unwrap()).unwrap();
        prop_assert_eq!(action_digest(&draft.action()), action_digest(&again.action()));
    }
}
