//! One suite, both backends: every test here runs on SQLite (in memory) and on PostgreSQL (a
//! fresh database per test on the server named by `COUNTERSIGN_TEST_PG`, which
//! `scripts/pg-test.sh` starts). With `CI=true` and no server the PostgreSQL half fails; on a
//! developer machine it is skipped with a loud message.

use std::sync::{Arc, Barrier};

use countersign_core::api::Status;
use countersign_core::cosign::Required;
use countersign_core::{ApproverKey, Envelope, TrustedKeys, Verdict};
use countersign_store::{
    hash_token, new_token, AuditEvent, CosignRow, NewAction, NewDecision, Store, StoreError,
};
use serde_json::json;
use zeroize::Zeroizing;

/// The fixture: a fresh, empty store on one backend (`None`: PostgreSQL is not available
/// here and this is not CI).
pub(crate) mod fixture {
    use super::*;

    pub(crate) fn sqlite() -> Option<Store> {
        Some(Store::open_in_memory().unwrap())
    }

    pub(crate) use crate::pg_fixture::{new_database, server_url};

    pub(crate) fn postgres() -> Option<Store> {
        let url = new_database(&server_url()?);
        Some(Store::open_postgres(&url).unwrap())
    }
}

on_both_backends!(
    a_submission_is_stored_with_its_audit_row_and_the_pending_cap_holds,
    eight_racing_deciders_produce_exactly_one_decision_and_one_audit_row,
    a_decision_on_another_digest_than_the_one_shown_is_refused_and_records_nothing,
    expiry_lists_only_overdue_pending_drafts_and_an_expiry_is_final,
    an_approval_awaits_cosignatures_once_and_a_decision_ends_the_wait,
    tokens_are_stored_as_hashes_and_agent_names_are_unique,
    the_queue_keeps_pending_drafts_and_lists_in_filing_order,
    history_and_novelty_facts_follow_what_the_agent_did,
    known_counterparts_are_those_first_approved_before_the_cutoff_and_only_this_agents,
    team_state_rosters_challenges_sessions_and_claims_behave_alike,
);

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([seed; 32]))
}

fn trust() -> TrustedKeys {
    TrustedKeys::from_keys(vec![key(1).trusted_key("ana", "approver")]).unwrap()
}

fn ls_action(target: &str) -> countersign_core::Action {
    serde_json::from_value(json!({
        "kind": "shell.exec", "target": target, "summary": "list", "payload": {"argv": ["ls"]}
    }))
    .unwrap()
}

/// Files draft `id` for `agent_id` (digest `sha256:00`, filed at `at`, expiring at `expires`).
fn file(s: &Store, agent_id: &str, id: &str, at: i64, expires: i64) -> bool {
    let action = ls_action("host://a");
    let risk = countersign_core::risk::score(&action);
    s.insert_action(
        &NewAction {
            id,
            agent_id,
            action: &action,
            action_digest: "sha256:00",
            risk: &risk,
            callback_url: Some("http://127.0.0.1:9/hook"),
            created_at: at,
            expires_at: expires,
        },
        3,
    )
    .unwrap()
}

fn envelope() -> Envelope {
    Envelope {
        payload: String::new(),
        payload_type: "t".into(),
        signatures: vec![],
    }
}

fn decide(s: &Store, id: &str, shown: &str, status: Status, jti: &str) -> Result<(), StoreError> {
    let verdict = if status == Status::Approved {
        Verdict::Approved
    } else {
        Verdict::Rejected
    };
    s.record_decision(&NewDecision {
        action_id: id,
        shown_digest: shown,
        signed_digest: shown,
        status,
        verdict,
        reason: Some("because"),
        approver: "ana",
        keyid: "k1",
        jti,
        envelope: &envelope(),
        decided_at: 200,
    })
}

pub(crate) fn events(s: &Store) -> Vec<String> {
    s.audit_rows()
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect()
}

fn a_submission_is_stored_with_its_audit_row_and_the_pending_cap_holds(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    for id in ["d1", "d2", "d3"] {
        assert!(file(&s, &agent.id, id, 100, 1000), "under the cap of 3");
    }
    assert!(
        !file(&s, &agent.id, "d4", 100, 1000),
        "the 4th pending draft is refused"
    );
    assert!(
        s.action("d4").unwrap().is_none(),
        "nothing of it was written"
    );
    let row = s.action("d1").unwrap().unwrap();
    assert_eq!((row.agent.as_str(), row.status), ("bot", Status::Pending));
    assert_eq!(
        row.action,
        ls_action("host://a"),
        "the action reads back as filed"
    );
    assert_eq!(row.callback_url.as_deref(), Some("http://127.0.0.1:9/hook"));
    assert_eq!(
        (row.created_at, row.expires_at, row.decided_at),
        (100, 1000, None)
    );
    assert_eq!(s.pending_count().unwrap(), 3);
    let rows = s.audit_rows().unwrap();
    assert_eq!(
        events(&s),
        [
            "agent.added",
            "action.submitted",
            "action.submitted",
            "action.submitted"
        ]
    );
    assert_eq!(rows[1].action_id.as_deref(), Some("d1"));
    assert_eq!(rows[1].detail["action_digest"], "sha256:00");
    assert_eq!(s.verify_audit_chain().unwrap(), None);
}

fn eight_racing_deciders_produce_exactly_one_decision_and_one_audit_row(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    assert!(file(&s, &agent.id, "d1", 100, 1000));
    let s = Arc::new(s);
    let start = Arc::new(Barrier::new(8));
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let (s, start) = (s.clone(), start.clone());
            std::thread::spawn(move || {
                let status = if i % 2 == 0 {
                    Status::Approved
                } else {
                    Status::Rejected
                };
                start.wait();
                decide(&s, "d1", "sha256:00", status, &format!("jti-{i}"))
            })
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|h| h.join().unwrap()).collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        won, 1,
        "exactly one decider wins the compare-and-set: {results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::NotPending { .. })),
        "every loser is told the draft is no longer pending: {results:?}"
    );
    let decided = events(&s)
        .iter()
        .filter(|e| *e == "action.approved" || *e == "action.rejected")
        .count();
    assert_eq!(decided, 1, "one decision, one audit row");
    let decision = s
        .decision("d1")
        .unwrap()
        .expect("the winner's decision is stored");
    let status = s.action("d1").unwrap().unwrap().status;
    let expected = if decision.verdict == Verdict::Approved {
        Status::Approved
    } else {
        Status::Rejected
    };
    assert_eq!(
        status, expected,
        "the draft's status is the stored decision's"
    );
    assert_eq!(
        s.verify_audit_chain().unwrap(),
        None,
        "the chain did not fork"
    );
}

fn a_decision_on_another_digest_than_the_one_shown_is_refused_and_records_nothing(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    assert!(file(&s, &agent.id, "d1", 100, 1000));
    let err = decide(&s, "d1", "sha256:ff", Status::Approved, "j1").unwrap_err();
    assert!(matches!(err, StoreError::NotPending { .. }), "{err:?}");
    assert!(matches!(
        decide(&s, "nope", "sha256:00", Status::Approved, "j2"),
        Err(StoreError::NotFound(_))
    ));
    assert!(s.decision("d1").unwrap().is_none());
    assert_eq!(s.action("d1").unwrap().unwrap().status, Status::Pending);
    assert_eq!(events(&s).len(), 2, "no audit row for a refused decision");
}

fn expiry_lists_only_overdue_pending_drafts_and_an_expiry_is_final(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    assert!(file(&s, &agent.id, "early", 100, 300));
    assert!(file(&s, &agent.id, "late", 100, 900));
    let due: Vec<String> = s
        .due_for_expiry(300)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, ["early"], "due at or after its expiry, not before");
    decide(&s, "early", "sha256:00", Status::Expired, "j-exp").unwrap();
    assert!(
        s.due_for_expiry(300).unwrap().is_empty(),
        "an expired draft is not due again"
    );
    let row = s.action("early").unwrap().unwrap();
    assert_eq!((row.status, row.decided_at), (Status::Expired, Some(200)));
    assert_eq!(
        events(&s).last().map(String::as_str),
        Some("action.expired")
    );
    assert!(matches!(
        decide(&s, "early", "sha256:00", Status::Approved, "j-late"),
        Err(StoreError::NotPending { .. })
    ));
}

fn an_approval_awaits_cosignatures_once_and_a_decision_ends_the_wait(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    assert!(file(&s, &agent.id, "d1", 100, 1000));
    let row = CosignRow {
        action_id: "d1".into(),
        envelope: envelope(),
        required: Required {
            approvals: 2,
            lead: true,
        },
        created_at: 150,
    };
    assert!(
        matches!(
            s.record_awaiting_cosign(&row, "sha256:ff", "ana", "k1"),
            Err(StoreError::NotFound(_))
        ),
        "another digest than the stored one is no such draft"
    );
    s.record_awaiting_cosign(&row, "sha256:00", "ana", "k1")
        .unwrap();
    assert!(
        matches!(
            s.record_awaiting_cosign(&row, "sha256:00", "bob", "k2"),
            Err(StoreError::NotPending { .. })
        ),
        "a second first signature is refused"
    );
    assert_eq!(s.awaiting_cosign("d1").unwrap(), Some(row.clone()));
    let mut more = envelope();
    more.payload_type = "t2".into();
    s.add_cosignatures("d1", &more, &["k2".into()], 160)
        .unwrap();
    assert_eq!(s.awaiting_cosign("d1").unwrap().unwrap().envelope, more);
    assert_eq!(
        s.action("d1").unwrap().unwrap().status,
        Status::Pending,
        "still pending"
    );
    decide(&s, "d1", "sha256:00", Status::Approved, "j1").unwrap();
    assert_eq!(
        s.awaiting_cosign("d1").unwrap(),
        None,
        "the decision ended the wait"
    );
    assert!(matches!(
        s.add_cosignatures("d1", &more, &["k3".into()], 170),
        Err(StoreError::NotPending { .. })
    ));
    s.clear_awaiting_cosign("d1", 180).unwrap();
    assert_eq!(
        events(&s),
        [
            "agent.added",
            "action.submitted",
            "action.awaiting_cosign",
            "action.cosigned",
            "action.approved"
        ],
        "clearing nothing audits nothing"
    );
    assert_eq!(s.verify_audit_chain().unwrap(), None);
}

fn tokens_are_stored_as_hashes_and_agent_names_are_unique(s: Store) {
    let token = new_token();
    let bot = s.add_agent("bot", &token, 1).unwrap();
    assert!(matches!(
        s.add_agent("bot", &new_token(), 2),
        Err(StoreError::AgentExists(_))
    ));
    assert_eq!(s.agent_by_token(&token).unwrap(), Some(bot.clone()));
    assert_eq!(s.agent_by_token("cs_wrong").unwrap(), None);
    s.add_agent("alpha", &new_token(), 3).unwrap();
    let names: Vec<String> = s.agents().unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["alpha", "bot"], "by name");
    assert_eq!(
        events(&s),
        ["agent.added", "agent.added"],
        "a refused name is not audited"
    );
    assert_eq!(hash_token(&token).len(), 32);
    let dump = format!("{:?}", s.audit_rows().unwrap());
    assert!(!dump.contains(&token[3..]), "the token is in no audit row");
}

fn the_queue_keeps_pending_drafts_and_lists_in_filing_order(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    let other = s.add_agent("bot2", &new_token(), 1).unwrap();
    for id in ["b", "a", "c"] {
        assert!(file(&s, &agent.id, id, 100, 1000), "same second");
    }
    for (i, id) in ["x1", "x2", "x3"].iter().enumerate() {
        assert!(file(&s, &other.id, id, 101 + i as i64, 1000));
    }
    let ids = |rows: Vec<countersign_store::ActionRow>| -> Vec<String> {
        rows.into_iter().map(|r| r.id).collect()
    };
    assert_eq!(ids(s.recent_actions(3).unwrap()), ["x3", "x2", "x1"]);
    for id in ["x1", "x2", "x3"] {
        decide(&s, id, "sha256:00", Status::Rejected, id).unwrap();
    }
    assert_eq!(
        ids(s.actions(10).unwrap()),
        ["c", "a", "b", "x3", "x2", "x1"],
        "pending first, then newest first, ties in filing order (last filed first)"
    );
    let summaries: Vec<String> = s
        .action_summaries(2, 1)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        summaries,
        ["c", "a", "x3"],
        "decided drafts never push a pending one out"
    );
    let full = s.actions(10).unwrap();
    let sum = &s.action_summaries(10, 10).unwrap()[0];
    assert_eq!(
        (sum.id.as_str(), sum.kind, sum.score),
        (full[0].id.as_str(), full[0].action.kind, full[0].risk.score)
    );
}

fn known_counterparts_are_those_first_approved_before_the_cutoff_and_only_this_agents(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    let other = s.add_agent("other", &new_token(), 1).unwrap();
    let all: Vec<String> = ["c@x.org", "b@x.org", "a@x.org"].map(String::from).into();
    s.record_counterparts(&agent.id, &all[1..], 100).unwrap();
    assert!(
        s.approved_counterparts(&agent.id, &all, i64::MAX)
            .unwrap()
            .is_empty(),
        "addressed in a draft is not approved"
    );
    s.record_approved_counterparts(&agent.id, &["a@x.org".into(), "c@x.org".into()], 200)
        .unwrap();
    s.record_approved_counterparts(&agent.id, &["a@x.org".into()], 300)
        .unwrap();
    assert_eq!(
        s.approved_counterparts(&agent.id, &all, i64::MAX).unwrap(),
        ["c@x.org", "a@x.org"],
        "the approved ones, in the order asked"
    );
    assert!(
        s.approved_counterparts(&agent.id, &all, 200)
            .unwrap()
            .is_empty(),
        "the cut-off is exclusive"
    );
    assert_eq!(
        s.approved_counterparts(&agent.id, &all, 201).unwrap(),
        ["c@x.org", "a@x.org"],
        "a later approval does not move the first one"
    );
    assert!(
        s.approved_counterparts(&other.id, &all, i64::MAX)
            .unwrap()
            .is_empty(),
        "another agent's approvals are not this one's"
    );
    let h = s.agent_history(&agent.id, "host://a", &all, 250).unwrap();
    assert_eq!(h.approved_counterparts, ["c@x.org", "a@x.org"]);
    assert!(
        h.new_counterparts.is_empty(),
        "an approved recipient was addressed: {h:?}"
    );
}

fn history_and_novelty_facts_follow_what_the_agent_did(s: Store) {
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    let fresh = s
        .agent_history(&agent.id, "host://a", &["a@x.org".into()], 100)
        .unwrap();
    assert_eq!((fresh.prior_drafts, fresh.target_seen), (0, false));
    assert_eq!(fresh.new_counterparts, ["a@x.org"]);
    assert!(file(&s, &agent.id, "d1", 100, 1000));
    assert!(file(&s, &agent.id, "d2", 220, 1000));
    s.record_counterparts(&agent.id, &["a@x.org".into()], 100)
        .unwrap();
    s.record_counterparts(&agent.id, &["a@x.org".into()], 101)
        .unwrap();
    let h = s
        .agent_history(
            &agent.id,
            "host://a",
            &["a@x.org".into(), "b@x.org".into()],
            230,
        )
        .unwrap();
    assert_eq!((h.prior_drafts, h.target_seen, h.last_minute), (2, true, 1));
    assert_eq!(
        h.new_counterparts,
        ["b@x.org"],
        "only the one never addressed"
    );
    assert_eq!(h.usual_per_minute_x100, 100, "2 drafts over 2 minutes");
    decide(&s, "d2", "sha256:00", Status::Approved, "j2").unwrap();
    decide(&s, "d1", "sha256:00", Status::Rejected, "j1").unwrap();
    let history = s.history(10).unwrap();
    let ids: Vec<&str> = history.iter().map(|h| h.action.id.as_str()).collect();
    assert_eq!(ids, ["d1", "d2"], "most recently decided first");
    assert_eq!(
        (history[0].approver.as_str(), history[0].reason.as_deref()),
        ("ana", Some("because"))
    );
}

#[test]
fn the_same_events_hash_to_the_same_chain_on_both_backends() {
    let Some(pg) = fixture::postgres() else {
        return;
    };
    let lite = Store::open_in_memory().unwrap();
    for s in [&lite, &pg] {
        s.audit(
            5,
            AuditEvent::Delivery,
            Some("d"),
            &json!({"ok": true, "n": 1.5, "é": "✓\u{202e}"}),
        )
        .unwrap();
        assert!(crate::policy::accept(s, 1, "sha256:a", b"one"));
        s.record_policy_refusal(6, &json!({"reason": null}))
            .unwrap();
        s.checkpoint(&key(1), 7).unwrap();
    }
    assert_eq!(
        lite.audit_rows().unwrap(),
        pg.audit_rows().unwrap(),
        "row for row, hash for hash"
    );
    assert_eq!(lite.checkpoints().unwrap(), pg.checkpoints().unwrap());
    assert!(pg.verify_audit(&trust()).unwrap().is_intact());
}

#[test]
fn a_postgres_database_is_migrated_once_and_a_newer_schema_is_refused() {
    let Some(server) = fixture::server_url() else {
        return;
    };
    let url = fixture::new_database(&server);
    let s = Store::open_postgres(&url).unwrap();
    assert_eq!(s.backend_name(), "postgres");
    s.add_agent("a", &new_token(), 1).unwrap();
    drop(s);
    let s = Store::open_postgres(&url).unwrap();
    assert_eq!(s.agents().unwrap().len(), 1, "data survives a reopen");
    s.execute_batch("UPDATE countersign_schema SET version = 99")
        .unwrap();
    drop(s);
    assert!(matches!(
        Store::open_postgres(&url),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

/// Opens a PostgreSQL store on `url`, files the agent `name` through it, reads it back and
/// drops the store, all on the calling thread's terms.
fn open_use_and_drop(url: &str, name: &str) {
    let s = Store::open_postgres(url).unwrap();
    s.add_agent(name, &new_token(), 1).unwrap();
    assert!(
        s.agents().unwrap().iter().any(|a| a.name == name),
        "{name}: the agent written through this store reads back"
    );
    drop(s);
}

#[test]
fn a_postgres_store_opens_works_and_closes_from_plain_threads_and_async_code_alike() {
    let Some(server) = fixture::server_url() else {
        return;
    };
    let url = fixture::new_database(&server);
    // The synchronous client panics if it drives its runtime on a thread running async tasks:
    // each place the store may be called from must route the call around that.
    open_use_and_drop(&url, "plain-thread");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    multi.block_on(async { open_use_and_drop(&url, "multi-thread-block-on") });
    let u = url.clone();
    multi
        .block_on(multi.spawn(async move { open_use_and_drop(&u, "multi-thread-task") }))
        .unwrap();
    let u = url.clone();
    multi
        .block_on(multi.spawn_blocking(move || open_use_and_drop(&u, "multi-thread-blocking")))
        .unwrap();
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    current.block_on(async { open_use_and_drop(&url, "current-thread-task") });
    let u = url.clone();
    current
        .block_on(current.spawn_blocking(move || open_use_and_drop(&u, "current-thread-blocking")))
        .unwrap();
}

#[test]
fn an_unreachable_or_refusing_server_is_a_clear_error_at_open() {
    let Some(server) = fixture::server_url() else {
        return;
    };
    let (userinfo, host) = server.rsplit_once('@').unwrap();
    let (user, _) = userinfo.rsplit_once(':').unwrap();
    let wrong_password = format!("{user}:wrong@{host}");
    let err = Store::open_postgres(&wrong_password)
        .unwrap_err()
        .to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Store::open_postgres(&format!("postgres://u:p@127.0.0.1:{port}/d")).unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
    assert!(!err.to_string().contains(":p@"), "no password in {err}");
}

fn team_state_rosters_challenges_sessions_and_claims_behave_alike(s: Store) {
    use countersign_store::{AcceptedRoster, ClaimRow, NewSession};
    let detail = serde_json::json!({"serial": 2});
    let roster = |serial: u64, sha: &'static str, team: &'static str| AcceptedRoster {
        team,
        serial,
        sha256: sha,
        bytes: b"{}",
        signature_json: "{}",
        at: 10,
        audit_detail: &detail,
    };
    // Roster: the first is accepted, a newer one too; older, or other bytes under the same
    // serial, or another team's: refused, nothing written.
    assert!(s.roster_in_force().unwrap().is_none());
    assert!(s.accept_roster(&roster(1, "sha256:a", "payments")).unwrap());
    assert!(s.accept_roster(&roster(2, "sha256:b", "payments")).unwrap());
    assert!(s.accept_roster(&roster(2, "sha256:b", "payments")).unwrap());
    assert!(!s.accept_roster(&roster(1, "sha256:a", "payments")).unwrap());
    assert!(!s.accept_roster(&roster(2, "sha256:c", "payments")).unwrap());
    assert!(!s.accept_roster(&roster(3, "sha256:d", "platform")).unwrap());
    let r = s.roster_in_force().unwrap().unwrap();
    assert_eq!(
        (r.serial, r.sha256.as_str(), r.team.as_str()),
        (2, "sha256:b", "payments")
    );
    // Challenges: single use, for their key only, not after they lapse.
    s.issue_challenge("n1", "k1", 100, 160).unwrap();
    s.issue_challenge("n2", "k1", 100, 160).unwrap();
    assert!(!s.consume_challenge("n1", "k2", 120).unwrap());
    assert!(s.consume_challenge("n1", "k1", 120).unwrap());
    assert!(!s.consume_challenge("n1", "k1", 121).unwrap());
    assert!(!s.consume_challenge("n2", "k1", 161).unwrap());
    // Sessions: by token hash, until they lapse or end.
    let hash = hash_token("cs_session");
    s.open_session(&NewSession {
        token_hash: &hash,
        team: "payments",
        keyid: "k1",
        approver: "eng",
        at: 100,
        expires_at: 200,
    })
    .unwrap();
    assert_eq!(s.session(&hash, 150).unwrap().unwrap().approver, "eng");
    assert!(s.session(&hash, 201).unwrap().is_none());
    assert!(s.session(&hash_token("cs_other"), 150).unwrap().is_none());
    assert!(s.end_session(&hash, 160).unwrap());
    assert!(!s.end_session(&hash, 161).unwrap());
    assert!(s.session(&hash, 150).unwrap().is_none());
    // Claims: one live claim per draft; its holder renews; a lapsed one may be taken over.
    let agent = s.add_agent("bot", &new_token(), 1).unwrap();
    assert!(file(&s, &agent.id, "d1", 100, 10_000));
    let claim = |keyid: &str, at: i64| ClaimRow {
        action_id: "d1".into(),
        keyid: keyid.into(),
        approver: keyid.to_uppercase(),
        claimed_at: at,
        until: at + 600,
    };
    assert_eq!(s.claim(&claim("k1", 100)).unwrap().keyid, "k1");
    assert_eq!(s.claim(&claim("k2", 200)).unwrap().keyid, "k1");
    assert_eq!(s.claim(&claim("k1", 300)).unwrap().until, 900);
    assert_eq!(s.claim(&claim("k2", 901)).unwrap().keyid, "k2");
    assert_eq!(s.claims(950).unwrap().len(), 1);
    assert!(s.claims(1502).unwrap().is_empty());
    assert!(!s.release_claim("d1", "k1").unwrap());
    assert!(s.release_claim("d1", "k2").unwrap());
    let ev = events(&s);
    assert_eq!(ev.iter().filter(|e| *e == "team.roster_loaded").count(), 3);
    assert!(ev.contains(&"team.login".to_owned()) && ev.contains(&"team.logout".to_owned()));
}
