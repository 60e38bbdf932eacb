//! The store on its own: migrations, tokens, the decision compare-and-set.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

/// Instantiates each named test `fn name(s: Store)` once per backend, as
/// `<module>::sqlite::name` and `<module>::postgres::name` (fixture: [`backends::fixture`]).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { if let Some(s) = crate::backends::fixture::sqlite() { super::$name(s) } } )*
        }
        mod postgres {
            $( #[test] fn $name() { if let Some(s) = crate::backends::fixture::postgres() { super::$name(s) } } )*
        }
    };
}

mod audit;
mod backends;
mod pg_fixture;
mod policy;
mod vectors;

use countersign_store::{hash_token, new_token, Store, StoreError};

#[test]
fn reopening_a_database_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let s = Store::open(&path).unwrap();
    s.add_agent("a", &new_token(), 1).unwrap();
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.agents().unwrap().len(), 1, "data survives a reopen");
    let mode: String = s
        .read()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_version_is_refused_not_downgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn tokens_are_stored_only_as_hashes_and_names_are_unique() {
    let s = Store::open_in_memory().unwrap();
    let token = new_token();
    assert!(token.starts_with("cs_") && token.len() == 46, "{token}");
    s.add_agent("bot", &token, 1).unwrap();
    assert!(matches!(
        s.add_agent("bot", &new_token(), 2),
        Err(StoreError::AgentExists(_))
    ));
    assert_eq!(s.agent_by_token(&token).unwrap().unwrap().name, "bot");
    assert!(s.agent_by_token("cs_wrong").unwrap().is_none());
    let stored: Vec<u8> = s
        .read()
        .query_row("SELECT token_hash FROM agents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, hash_token(&token).to_vec());
    let dump: i64 = s
        .read()
        .query_row(
            "SELECT COUNT(*) FROM agents WHERE CAST(token_hash AS TEXT) LIKE '%' || ?1 || '%'",
            [&token[3..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dump, 0, "the token itself is never stored");
}

#[test]
fn processes_creating_one_database_at_once_all_open_it() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .unwrap()
                .expect("a concurrent first open must wait its turn, not fail");
        }
    }
}

#[test]
fn drafts_filed_in_the_same_second_list_newest_first_in_filing_order() {
    // Ids sort ascending in filing order, so only the filing order can explain the result.
    let s = store_with_ls_drafts(&["a", "b", "c"], |_| 100);
    let ids: Vec<String> = s.actions(10).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["c", "b", "a"], "the last filed comes first");
}

/// Files one `ls` draft per id for a new agent, the i-th at `created_at(i)` (Unix seconds).
fn store_with_ls_drafts(ids: &[&str], created_at: fn(usize) -> i64) -> Store {
    let s = Store::open_in_memory().unwrap();
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    let action: countersign_core::Action = serde_json::from_value(serde_json::json!({
        "kind": "shell.exec", "target": "h://a", "summary": "s", "payload": {"argv": ["ls"]}
    }))
    .unwrap();
    let risk = countersign_core::risk::score(&action);
    for (i, id) in ids.iter().enumerate() {
        let new = countersign_store::NewAction {
            id,
            agent_id: &agent.id,
            action: &action,
            action_digest: "sha256:00",
            risk: &risk,
            callback_url: None,
            created_at: created_at(i),
            expires_at: 1000,
        };
        assert!(s.insert_action(&new, 10).unwrap());
    }
    s
}

#[test]
fn decided_drafts_never_push_a_pending_one_out_of_the_queue() {
    let s = store_with_ls_drafts(&["old-pending", "d1", "d2", "d3"], |i| 100 + i as i64);
    let envelope = countersign_core::Envelope {
        payload: String::new(),
        payload_type: "t".into(),
        signatures: vec![],
    };
    for id in ["d1", "d2", "d3"] {
        s.record_decision(&countersign_store::NewDecision {
            action_id: id,
            shown_digest: "sha256:00",
            signed_digest: "sha256:00",
            status: countersign_core::api::Status::Rejected,
            verdict: countersign_core::Verdict::Rejected,
            reason: Some("no"),
            approver: "ana",
            keyid: "k",
            jti: id,
            envelope: &envelope,
            decided_at: 200,
        })
        .unwrap();
    }
    let ids: Vec<String> = s
        .action_summaries(1, 2)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        ["old-pending", "d3", "d2"],
        "the oldest pending draft stays; only the newest decided ones fill the rest"
    );
}

#[test]
fn queue_summaries_from_the_indexed_columns_agree_with_the_full_rows() {
    let s = Store::open_in_memory().unwrap();
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    let drafts = [
        (
            "a",
            serde_json::json!({"kind": "shell.exec", "target": "h://a", "summary": "first", "payload": {"argv": ["ls"]}}),
        ),
        (
            "b",
            serde_json::json!({"kind": "acl.change", "target": "warehouse://t", "summary": "second",
            "payload": {"resource": "t", "grants": [{"principal": "all-employees", "permission": "admin"}]}}),
        ),
        (
            "c",
            serde_json::json!({"kind": "message.post", "target": "forum://x", "summary": "third",
            "payload": {"channel": "x", "body": "x".repeat(100_000)}}),
        ),
    ];
    for (i, (id, json)) in drafts.iter().enumerate() {
        let action: countersign_core::Action = serde_json::from_value(json.clone()).unwrap();
        let risk = countersign_core::risk::score(&action);
        let new = countersign_store::NewAction {
            id,
            agent_id: &agent.id,
            action: &action,
            action_digest: &format!("sha256:{i:02}"),
            risk: &risk,
            callback_url: None,
            created_at: 100 + i as i64,
            expires_at: 1000,
        };
        assert!(s.insert_action(&new, 10).unwrap());
    }
    let full = s.actions(10).unwrap();
    let summaries = s.action_summaries(10, 10).unwrap();
    assert_eq!(summaries.len(), 3);
    for (row, sum) in full.iter().zip(&summaries) {
        assert_eq!(sum.id, row.id, "same order as the full rows");
        assert_eq!(sum.agent, row.agent);
        assert_eq!(sum.kind, row.action.kind);
        assert_eq!(sum.target, row.action.target);
        assert_eq!(sum.summary, row.action.summary);
        assert_eq!(sum.status, row.status);
        assert_eq!((sum.score, sum.level), (row.risk.score, row.risk.level));
        assert_eq!(sum.action_digest, row.action_digest);
        assert_eq!(
            (sum.created_at, sum.expires_at),
            (row.created_at, row.expires_at)
        );
    }
}
