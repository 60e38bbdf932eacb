//! The audit log under attack: every kind of tampering with rows or checkpoints is reported.

use countersign_core::{ApproverKey, TrustedKeys};
use countersign_store::checkpoint::{audit_jsonl, verify_log};
use countersign_store::{AuditEvent, AuditProblem, Store};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

on_both_backends!(
    an_untouched_log_with_checkpoints_verifies,
    an_edited_row_is_detected,
    an_edited_row_with_every_later_hash_recomputed_is_caught_by_the_checkpoints,
    a_deleted_row_is_detected,
    reordered_rows_are_detected,
    a_truncated_log_is_detected,
    a_checkpoint_signed_by_another_key_does_not_verify,
    a_checkpoint_whose_body_was_edited_does_not_verify,
    checkpoints_are_signed_every_n_rows_and_not_twice_for_one_head,
    the_export_is_one_json_object_per_line_and_verifies_on_its_own,
);

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([seed; 32]))
}

fn trust() -> TrustedKeys {
    TrustedKeys::from_keys(vec![key(1).trusted_key("ana", "approver")]).unwrap()
}

/// Ten rows in `s`, checkpoints after rows 5 and 10.
fn log(s: Store) -> Store {
    for i in 1..=10 {
        s.audit(
            1_790_000_000 + i,
            AuditEvent::Submitted,
            Some(&format!("draft-{i}")),
            &json!({"n": i, "summary": "'; DROP TABLE audit; --"}),
        )
        .unwrap();
        if i % 5 == 0 {
            assert!(s.checkpoint(&key(1), 1_790_000_100).unwrap().is_some());
        }
    }
    s
}

fn problems(s: &Store) -> Vec<AuditProblem> {
    s.verify_audit(&trust()).unwrap().problems
}

/// Runs `statement` as an attacker with write access to the database would.
fn sql(s: &Store, statement: &str) {
    s.execute_batch(statement).unwrap();
}

/// `text` as an SQL string literal (quotes doubled, SQL:2016 §5.3).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The chain's own hash, recomputed as an attacker with write access would.
fn forge_hash(
    prev: &str,
    seq: i64,
    at: i64,
    event: &str,
    action_id: &str,
    detail: &serde_json::Value,
) -> String {
    let body =
        json!({"seq": seq, "at": at, "event": event, "action_id": action_id, "detail": detail});
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(countersign_core::digest::canonical_json(&body).unwrap());
    hex::encode(h.finalize())
}

fn an_untouched_log_with_checkpoints_verifies(s: Store) {
    let s = log(s);
    let report = s.verify_audit(&trust()).unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(
        (report.rows, report.checkpoints, report.checkpointed_seq),
        (10, 2, 10)
    );
    assert_eq!(report.unsigned_tail(), 0);
}

fn an_edited_row_is_detected(s: Store) {
    let s = log(s);
    sql(
        &s,
        r#"UPDATE audit SET detail_json = '{"n":3,"summary":"harmless"}' WHERE seq = 3"#,
    );
    assert_eq!(problems(&s), vec![AuditProblem::Edited { seq: 3 }]);
}

fn an_edited_row_with_every_later_hash_recomputed_is_caught_by_the_checkpoints(s: Store) {
    let s = log(s);
    let rows = s.audit_rows().unwrap();
    let mut prev = rows[1].hash.clone();
    for row in &rows[2..] {
        let detail = if row.seq == 3 {
            json!({"n": 3, "summary": "harmless"})
        } else {
            row.detail.clone()
        };
        let hash = forge_hash(
            &prev,
            row.seq,
            row.at,
            &row.event,
            row.action_id.as_deref().unwrap(),
            &detail,
        );
        sql(
            &s,
            &format!(
                "UPDATE audit SET detail_json = {}, prev_hash = {}, hash = {} WHERE seq = {}",
                literal(&detail.to_string()),
                literal(&prev),
                literal(&hash),
                row.seq
            ),
        );
        prev = hash;
    }
    assert!(
        s.verify_audit_chain().unwrap().is_none(),
        "the chain alone cannot see a fully recomputed chain"
    );
    let found = problems(&s);
    assert!(
        matches!(
            found.as_slice(),
            [
                AuditProblem::Rewritten { seq: 5, .. },
                AuditProblem::Rewritten { seq: 10, .. }
            ]
        ),
        "the signed heads no longer match: {found:?}"
    );
}

fn a_deleted_row_is_detected(s: Store) {
    let s = log(s);
    sql(&s, "DELETE FROM audit WHERE seq = 4");
    assert_eq!(problems(&s), vec![AuditProblem::Deleted { from: 4, to: 4 }]);
}

fn reordered_rows_are_detected(s: Store) {
    let s = log(s);
    // Swap rows 3 and 4 wholesale (content, links and hashes), keeping the sequence numbers.
    sql(
        &s,
        "UPDATE audit SET seq = -3 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -3;",
    );
    assert_eq!(
        problems(&s),
        vec![
            AuditProblem::Reordered { seq: 3, follows: 4 },
            AuditProblem::Reordered { seq: 4, follows: 2 },
            AuditProblem::Reordered { seq: 5, follows: 3 },
        ],
        "each moved row names the row it really follows"
    );
}

fn a_truncated_log_is_detected(s: Store) {
    let s = log(s);
    sql(&s, "DELETE FROM audit WHERE seq > 7");
    assert_eq!(
        problems(&s),
        vec![AuditProblem::Truncated {
            checkpoint: 10,
            last: 7
        }]
    );
}

fn a_checkpoint_signed_by_another_key_does_not_verify(s: Store) {
    let s = log(s);
    sql(&s, "DELETE FROM audit_checkpoints WHERE seq = 10");
    s.checkpoint(&key(2), 1_790_000_200).unwrap();
    let found = problems(&s);
    assert!(
        matches!(
            found.as_slice(),
            [AuditProblem::BadCheckpoint { seq: 10, .. }]
        ),
        "{found:?}"
    );
}

fn a_checkpoint_whose_body_was_edited_does_not_verify(s: Store) {
    let s = log(s);
    let (_, mut envelope) = s.checkpoints().unwrap().remove(0);
    envelope.payload = envelope.payload.replacen('A', "B", 1);
    sql(
        &s,
        &format!(
            "UPDATE audit_checkpoints SET envelope_json = {} WHERE seq = 5",
            literal(&serde_json::to_string(&envelope).unwrap())
        ),
    );
    assert!(matches!(
        problems(&s).as_slice(),
        [AuditProblem::BadCheckpoint { seq: 5, .. }]
    ));
}

fn checkpoints_are_signed_every_n_rows_and_not_twice_for_one_head(s: Store) {
    assert!(
        s.checkpoint(&key(1), 1).unwrap().is_none(),
        "nothing to sign in an empty log"
    );
    for i in 0..3 {
        s.audit(i, AuditEvent::Delivery, None, &json!({})).unwrap();
    }
    assert!(
        s.checkpoint_if(&key(1), 1, 4).unwrap().is_none(),
        "3 rows < 4"
    );
    s.audit(4, AuditEvent::Delivery, None, &json!({})).unwrap();
    let cp = s.checkpoint_if(&key(1), 1, 4).unwrap().expect("4 rows");
    assert_eq!(cp.body.seq, 4);
    assert!(
        s.checkpoint(&key(1), 2).unwrap().is_none(),
        "the head is already signed"
    );
}

fn the_export_is_one_json_object_per_line_and_verifies_on_its_own(s: Store) {
    let s = log(s);
    let rows = s.audit_rows().unwrap();
    let checkpoints = s.checkpoints().unwrap();
    let lines = audit_jsonl(&rows, &checkpoints);
    assert_eq!(lines.len(), 12, "10 rows and 2 checkpoints");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        parsed[5]["type"], "checkpoint",
        "a checkpoint follows the row it covers"
    );
    assert_eq!(parsed[4]["seq"], 5);
    assert_eq!(
        parsed[2]["detail"]["summary"], "'; DROP TABLE audit; --",
        "SQL in agent text is stored and exported verbatim"
    );
    assert!(verify_log(&rows, &checkpoints, &trust()).is_intact());
}
