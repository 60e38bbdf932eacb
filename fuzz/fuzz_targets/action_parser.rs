//! The action parser on arbitrary bytes: the strict JSON parser (`json::parse_strict`) and the
//! draft parser (`Draft::parse`) must never panic, and what they accept must hold together:
//! strictly parsed JSON re-serialises to JSON that parses to the same canonical digest, and an
//! accepted draft is a valid action whose digest, review and risk score can be computed.
#![no_main]

use countersign_core::{digest, json, review, risk, Draft};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = json::parse_strict(data) {
        let canonical = digest::canonical_json(&value).expect("a parsed value canonicalises");
        let again = json::parse_strict(&canonical).expect("its canonical form parses strictly");
        assert_eq!(
            digest::canonical_json(&again).expect("and canonicalises"),
            canonical,
            "the canonical form is a fixed point (same digest after a round trip)"
        );
    }
    if let Ok(draft) = Draft::parse(data) {
        let action = draft.action();
        action
            .validate()
            .expect("an accepted draft is a valid action");
        let canonical = digest::canonical_json(&action).expect("an action canonicalises");
        let again =
            Draft::parse(&canonical).expect("an accepted action's canonical form is accepted");
        assert_eq!(
            digest::action_digest(&again.action()),
            digest::action_digest(&action),
            "an accepted action keeps its digest through its canonical form"
        );
        let _ = review::review(&action);
        let r = risk::score(&action);
        assert!(r.score <= 100, "the score is 0–100");
    }
});
