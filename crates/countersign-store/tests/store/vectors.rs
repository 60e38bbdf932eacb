//! Shared audit-log vectors: `tests/vectors/audit.json` at the workspace root. An exported log
//! (JSON Lines, `countersign audit export`) and tampered copies of it, each with the problems
//! every verifier must report; generated here from fixed seeds and drift-checked, and run by
//! the Rust verifier and by `clients/python` (`countersign_verify.audit`).
//!
//! Regenerate: `COUNTERSIGN_UPDATE_VECTORS=1 cargo test -p countersign-store --test store vectors`.
//!
//! Problems are written as text: `edited S`, `deleted A-B`, `reordered S after F`, `unlinked S`,
//! `truncated C last L`, `bad_checkpoint S`, `rewritten S`.

use std::path::PathBuf;

use countersign_core::{ApproverKey, TrustedKeys};
use countersign_store::checkpoint::{audit_jsonl, parse_audit_jsonl, verify_log};
use countersign_store::{AuditEvent, AuditProblem, AuditRow, Store};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/audit.json")
}

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([seed; 32]))
}

fn problem_text(p: &AuditProblem) -> String {
    match p {
        AuditProblem::Edited { seq } => format!("edited {seq}"),
        AuditProblem::Deleted { from, to } => format!("deleted {from}-{to}"),
        AuditProblem::Reordered { seq, follows } => format!("reordered {seq} after {follows}"),
        AuditProblem::Unlinked { seq } => format!("unlinked {seq}"),
        AuditProblem::Truncated { checkpoint, last } => {
            format!("truncated {checkpoint} last {last}")
        }
        AuditProblem::BadCheckpoint { seq, .. } => format!("bad_checkpoint {seq}"),
        AuditProblem::Rewritten { seq, .. } => format!("rewritten {seq}"),
    }
}

fn rehash(rows: &mut [AuditRow], from: usize) {
    for i in from..rows.len() {
        let prev = if i == 0 {
            "0".repeat(64)
        } else {
            rows[i - 1].hash.clone()
        };
        let body = json!({"seq": rows[i].seq, "at": rows[i].at, "event": rows[i].event,
            "action_id": rows[i].action_id, "detail": rows[i].detail});
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(countersign_core::digest::canonical_json(&body).unwrap());
        rows[i].prev_hash = prev;
        rows[i].hash = hex::encode(h.finalize());
    }
}

fn generate() -> Value {
    let store = Store::open_in_memory().unwrap();
    for i in 1..=10_i64 {
        store
            .audit(
                1_790_000_000 + i,
                if i % 3 == 0 {
                    AuditEvent::Approved
                } else {
                    AuditEvent::Submitted
                },
                Some(&format!("draft-{i}")),
                &json!({"agent": "forum-bot", "score": i * 7, "summary": format!("draft {i} — ✓")}),
            )
            .unwrap();
        if i % 5 == 0 {
            store.checkpoint(&key(1), 1_790_000_100 + i).unwrap();
        }
    }
    let rows = store.audit_rows().unwrap();
    let cps = store.checkpoints().unwrap();
    let mut cases = Vec::new();
    let mut case = |name: &str,
                    description: &str,
                    rows: &[AuditRow],
                    cps: &[(i64, countersign_core::Envelope)]| {
        let trust = TrustedKeys::from_keys(vec![key(1).trusted_key("ana", "approver")]).unwrap();
        let problems: Vec<String> = verify_log(rows, cps, &trust)
            .problems
            .iter()
            .map(problem_text)
            .collect();
        cases.push(json!({"name": name, "description": description,
            "jsonl": audit_jsonl(rows, cps).join("\n") + "\n", "problems": problems}));
    };
    case(
        "intact",
        "ten rows, checkpoints after rows 5 and 10",
        &rows,
        &cps,
    );

    let mut edited = rows.clone();
    edited[2].detail = json!({"agent": "forum-bot", "score": 0, "summary": "harmless"});
    case(
        "edited_row",
        "row 3's detail changed, hashes left alone",
        &edited,
        &cps,
    );

    let mut rewritten = edited.clone();
    rehash(&mut rewritten, 2);
    case(
        "edited_row_with_the_chain_recomputed",
        "row 3 changed and every later hash recomputed: only the signed checkpoints notice",
        &rewritten,
        &cps,
    );

    let mut deleted = rows.clone();
    deleted.remove(3);
    case("deleted_row", "row 4 removed", &deleted, &cps);

    let mut reordered = rows.clone();
    reordered[2].seq = 4;
    reordered[3].seq = 3;
    reordered.sort_by_key(|r| r.seq);
    case(
        "reordered_rows",
        "rows 3 and 4 swapped, sequence numbers kept in place",
        &reordered,
        &cps,
    );

    case("truncated_log", "rows 8 to 10 dropped", &rows[..7], &cps);

    let mut forged = cps.clone();
    let other = Store::open_in_memory().unwrap();
    for r in &rows {
        other
            .audit(
                r.at,
                AuditEvent::Submitted,
                r.action_id.as_deref(),
                &r.detail,
            )
            .unwrap();
    }
    forged[1] = (
        10,
        other
            .checkpoint(&key(2), 1_790_000_110)
            .unwrap()
            .unwrap()
            .envelope,
    );
    case(
        "checkpoint_by_another_key",
        "the checkpoint of row 10 signed by an unpinned key",
        &rows,
        &forged,
    );

    json!({
        "description": "Countersign audit logs (countersign audit export, JSON Lines) and the problems every verifier must report. Generated by crates/countersign-store/tests/store/vectors.rs; do not edit.",
        "trust": {"keys": [key(1).trusted_key("ana", "approver")]},
        "cases": cases,
    })
}

#[test]
fn committed_audit_vectors_match_the_generator() {
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("COUNTERSIGN_UPDATE_VECTORS").is_some() {
        std::fs::write(path(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path()).expect("tests/vectors/audit.json is committed");
    assert!(
        on_disk == generated,
        "tests/vectors/audit.json drifted from its generator: rerun with COUNTERSIGN_UPDATE_VECTORS=1"
    );
}

#[test]
fn every_exported_audit_vector_reports_its_problems() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let trust = TrustedKeys::from_json(&serde_json::to_vec(&file["trust"]).unwrap()).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 7);
    for case in cases {
        let (rows, cps) = parse_audit_jsonl(case["jsonl"].as_str().unwrap()).unwrap();
        let found: Vec<String> = verify_log(&rows, &cps, &trust)
            .problems
            .iter()
            .map(problem_text)
            .collect();
        let expected: Vec<String> = serde_json::from_value(case["problems"].clone()).unwrap();
        assert_eq!(found, expected, "{}", case["name"]);
        assert_eq!(
            found.is_empty(),
            case["name"] == "intact",
            "only the intact log has no problem"
        );
    }
}
