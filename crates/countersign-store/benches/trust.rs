//! Benchmark of proving trust (run: `cargo bench -p countersign-store --bench trust`).
//!
//! Prints, on one core:
//! - envelope verifications per second: a gate's full check of a signed decision
//!   (`verify_decision`: strict base64 and JSON, Ed25519 `verify_strict` against a pinned key,
//!   RFC 8785 digest of the action, audience, freshness, verdict); the target is ≥ 15,000/s;
//! - audit-verify rate: rows per second of `Store::verify_audit` (hash chain and signed
//!   checkpoints) over a log in SQLite.
//!
//! `COUNTERSIGN_BENCH_VERIFICATIONS` (default 20,000) and `COUNTERSIGN_BENCH_AUDIT_ROWS`
//! (default 20,000) scale it.

use std::time::Instant;

use countersign_core::decision::{verify_decision, Expectations, DECISION_PAYLOAD_TYPE};
use countersign_core::digest::{action_digest, canonical_json};
use countersign_core::{Action, ApproverKey, Envelope, TrustedKeys};
use countersign_store::{AuditEvent, Store};
use zeroize::Zeroizing;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let key = ApproverKey::from_seed(&Zeroizing::new([7; 32]));
    let trusted = TrustedKeys::from_keys(vec![key.trusted_key("ana", "approver")]).expect("trust");
    let action = serde_json::json!({"kind": "message.post", "target": "forum://eng-help/thread/42",
        "summary": "Answer the question about read access",
        "payload": {"channel": "eng-help", "audience": "team:data-eng",
            "body": "Please ask data-eng for access; do not grant all-employees read on user_data."}});
    let parsed: Action = serde_json::from_value(action.clone()).expect("action");
    let body = serde_json::json!({"v": 1, "verdict": "approved", "reason": null,
        "action_id": "bench-1", "agent": "forum-bot", "action": action,
        "action_digest": action_digest(&parsed).to_string(),
        "approver": {"keyid": key.key_id(), "name": "ana"},
        "risk": {"score": 35, "level": "medium"}, "iat": 1_790_000_000_i64,
        "exp": 1_790_000_300_i64, "jti": "bench"});
    let envelope = Envelope::sign(
        DECISION_PAYLOAD_TYPE,
        &canonical_json(&body).expect("canonical"),
        &key,
    );
    let expect = Expectations {
        action_id: "bench-1",
        agent: "forum-bot",
        now: 1_790_000_010,
    };
    verify_decision(&envelope, &trusted, &expect).expect("the bench envelope verifies");

    let n = env_usize("COUNTERSIGN_BENCH_VERIFICATIONS", 20_000);
    let started = Instant::now();
    for _ in 0..n {
        let ok = verify_decision(std::hint::black_box(&envelope), &trusted, &expect).is_ok();
        assert!(ok);
    }
    let secs = started.elapsed().as_secs_f64();
    println!("envelope verification (full gate check, one core): {n} in {secs:.2} s");
    println!("  {:.0} verifications/s (target ≥ 15000)", n as f64 / secs);

    let rows = env_usize("COUNTERSIGN_BENCH_AUDIT_ROWS", 20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.sqlite3")).expect("store");
    {
        // One transaction for the fill: the bench measures verification, not fsyncs.
        let conn = store.write();
        conn.execute_batch("PRAGMA synchronous = OFF")
            .expect("pragma");
    }
    for i in 0..rows {
        store
            .audit(
                1_790_000_000 + i as i64,
                AuditEvent::Submitted,
                Some(&format!("draft-{i}")),
                &serde_json::json!({"agent": "forum-bot", "kind": "message.post", "score": 35}),
            )
            .expect("append");
        if (i + 1) % 64 == 0 {
            store.checkpoint(&key, 1_790_000_000).expect("checkpoint");
        }
    }
    let started = Instant::now();
    let report = store.verify_audit(&trusted).expect("verify");
    let secs = started.elapsed().as_secs_f64();
    assert!(report.is_intact());
    println!(
        "audit verify: {} rows and {} checkpoints in {secs:.2} s",
        report.rows, report.checkpoints
    );
    println!("  {:.0} rows/s", report.rows as f64 / secs);
}
