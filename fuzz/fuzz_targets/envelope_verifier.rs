//! The envelope verifier on arbitrary bytes. The first byte picks what the rest is:
//!
//! - even: a whole envelope (JSON), parsed as the gate parses one and verified against a pinned
//!   key: it must never panic and (no valid signature being guessable) never verify;
//! - odd: a decision *payload*, signed here with the pinned key under the decision payload
//!   type, so the fuzzer reaches what comes after the signature check (strict body parsing,
//!   digest binding, audience, freshness): never a panic, and whatever verifies must carry
//!   the expected audience, a digest equal to its action's, and a lifetime within the limits.
#![no_main]

use countersign_core::decision::{
    verify_decision, Expectations, DECISION_LIFETIME_S, DECISION_PAYLOAD_TYPE, MAX_CLOCK_SKEW_S,
};
use countersign_core::digest::action_digest;
use countersign_core::dsse::Envelope;
use countersign_core::{json, ApproverKey, TrustedKeys};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_790_000_000;

fn key() -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([7; 32]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = key();
    let trusted =
        TrustedKeys::from_keys(vec![key.trusted_key("ana", "approver")]).expect("one pinned key");
    let expect = Expectations {
        action_id: "d1",
        agent: "bot",
        now: NOW,
    };
    let signed_here = mode % 2 == 1;
    let envelope: Envelope = if signed_here {
        Envelope::sign(DECISION_PAYLOAD_TYPE, rest, &key)
    } else {
        let Ok(value) = json::parse_strict(rest) else {
            return;
        };
        let Ok(envelope) = serde_json::from_value(value) else {
            return;
        };
        envelope
    };
    match verify_decision(&envelope, &trusted, &expect) {
        Ok(body) => {
            assert!(
                signed_here,
                "an envelope from the fuzzer verified: {envelope:?}"
            );
            assert_eq!(body.action_id, "d1");
            assert_eq!(body.agent, "bot");
            assert_eq!(body.action_digest, action_digest(&body.action).to_string());
            assert!(body.exp - body.iat <= DECISION_LIFETIME_S);
            assert!(body.iat <= NOW + MAX_CLOCK_SKEW_S && NOW <= body.exp + MAX_CLOCK_SKEW_S);
        }
        Err(_) => {}
    }
});
