//! The policy in force: recorded with its `policy.loaded` audit row in one transaction, its
//! bytes kept for a start-up whose file is refused, and an older serial never recorded.

use countersign_store::{AcceptedPolicy, Store};
use serde_json::json;

pub(crate) fn accept(s: &Store, serial: u64, sha: &str, bytes: &[u8]) -> bool {
    s.accept_policy(&AcceptedPolicy {
        serial,
        sha256: sha,
        bytes,
        signature_json: "{\"sig\":1}",
        at: 10,
        audit_detail: &json!({ "serial": serial, "sha256": sha }),
    })
    .unwrap()
}

fn policy_rows(s: &Store) -> Vec<(String, serde_json::Value)> {
    s.audit_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.event.starts_with("policy."))
        .map(|r| (r.event, r.detail))
        .collect()
}

on_both_backends!(
    an_accepted_policy_is_recorded_with_its_bytes_and_one_audit_row,
    an_older_or_different_same_serial_policy_is_not_recorded_and_writes_no_audit_row,
    a_policy_is_never_rolled_back_and_each_acceptance_is_audited_once,
);

fn an_accepted_policy_is_recorded_with_its_bytes_and_one_audit_row(s: Store) {
    assert!(accept(&s, 2, "sha256:b", b"serial = 2"));
    let rec = s.recorded_policy().unwrap().unwrap();
    assert_eq!((rec.serial, rec.sha256.as_str()), (2, "sha256:b"));
    assert_eq!(rec.bytes.as_deref(), Some(&b"serial = 2"[..]));
    assert_eq!(rec.signature_json.as_deref(), Some("{\"sig\":1}"));
    let rows = policy_rows(&s);
    assert_eq!(
        rows,
        vec![(
            "policy.loaded".into(),
            json!({"serial": 2, "sha256": "sha256:b"})
        )]
    );
}

fn an_older_or_different_same_serial_policy_is_not_recorded_and_writes_no_audit_row(s: Store) {
    assert!(accept(&s, 2, "sha256:b", b"two"));
    assert!(!accept(&s, 1, "sha256:a", b"one"), "older serial");
    assert!(
        !accept(&s, 2, "sha256:c", b"other two"),
        "same serial, other bytes"
    );
    assert_eq!(s.policy_in_force().unwrap(), Some((2, "sha256:b".into())));
    assert_eq!(
        policy_rows(&s).len(),
        1,
        "a refused policy leaves no policy.loaded row"
    );
    s.record_policy_refusal(11, &json!({"reason": "rollback"}))
        .unwrap();
    assert_eq!(policy_rows(&s)[1].0, "policy.refused");
    assert_eq!(
        s.verify_audit_chain().unwrap(),
        None,
        "the chain still verifies"
    );
}

fn a_policy_is_never_rolled_back_and_each_acceptance_is_audited_once(s: Store) {
    assert_eq!(s.recorded_policy().unwrap(), None);
    assert!(accept(&s, 2, "sha256:b", b"serial = 2\0binary"));
    assert!(
        accept(&s, 2, "sha256:b", b"serial = 2\0binary"),
        "the same policy again is fine"
    );
    assert!(
        !accept(&s, 1, "sha256:a", b"one"),
        "an older serial is refused"
    );
    assert!(
        !accept(&s, 2, "sha256:c", b"other"),
        "the same serial with other bytes is refused"
    );
    let rec = s.recorded_policy().unwrap().unwrap();
    assert_eq!((rec.serial, rec.sha256.as_str()), (2, "sha256:b"));
    assert_eq!(
        rec.bytes.as_deref(),
        Some(&b"serial = 2\0binary"[..]),
        "bytes round-trip"
    );
    assert_eq!(rec.signature_json.as_deref(), Some("{\"sig\":1}"));
    assert!(accept(&s, 3, "sha256:d", b"three"));
    s.record_policy_refusal(11, &json!({"reason": "rollback"}))
        .unwrap();
    assert_eq!(s.policy_in_force().unwrap(), Some((3, "sha256:d".into())));
    assert_eq!(
        crate::backends::events(&s),
        [
            "policy.loaded",
            "policy.loaded",
            "policy.loaded",
            "policy.refused"
        ]
    );
}
