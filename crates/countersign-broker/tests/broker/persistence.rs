//! What survives a restart, and the audit chain.

use countersign_broker::BrokerConfig;
use countersign_core::api::Status;

use crate::fixture::{draft, start, start_in};

#[tokio::test]
async fn pending_drafts_survive_a_restart() {
    let f = start().await;
    let s = f.client().submit(&draft("acl.change")).await.unwrap();
    let dir = f.stop().await;
    let f2 = start_in(dir, BrokerConfig::default(), false).await;
    let status = f2
        .client()
        .status(&s.id)
        .await
        .expect("the same token works after a restart");
    assert_eq!(status.status, Status::Pending);
    assert_eq!(status.action_digest, s.action_digest);
    assert_eq!(f2.broker.list(10, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn every_submission_and_decision_is_in_an_intact_audit_chain() {
    let f = start().await;
    let s = f.client().submit(&draft("acl.change")).await.unwrap();
    f.broker
        .decide(
            &s.id,
            &s.action_digest,
            countersign_broker::DecisionInput::Approve,
        )
        .unwrap();
    let events: Vec<String> = f
        .broker
        .store()
        .audit_rows()
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert_eq!(
        events,
        ["agent.added", "action.submitted", "action.approved"]
    );
    assert_eq!(
        f.broker.store().verify_audit_chain().unwrap(),
        None,
        "the chain must verify"
    );
    {
        let conn = f.broker.store().write();
        conn.execute("UPDATE audit SET detail_json = '{}' WHERE seq = 2", [])
            .unwrap();
    }
    assert_eq!(
        f.broker.store().verify_audit_chain().unwrap(),
        Some(2),
        "an edited row must break the chain"
    );
}

#[tokio::test]
async fn the_audit_head_is_signed_by_the_approver_at_shutdown_and_every_n_rows() {
    let f = start().await;
    for _ in 0..3 {
        f.client().submit(&draft("shell.exec")).await.unwrap();
    }
    f.broker.checkpoint_audit(10).unwrap();
    assert!(
        f.broker.store().checkpoints().unwrap().is_empty(),
        "4 rows are fewer than 10: no checkpoint yet"
    );
    f.broker.checkpoint_audit(1).unwrap();
    let report = f.broker.store().verify_audit(&f.trusted).unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(
        (
            report.checkpoints,
            report.checkpointed_seq,
            report.unsigned_tail()
        ),
        (1, 4, 0),
        "the shutdown checkpoint covers every row, signed by the broker's approver key"
    );
    {
        let conn = f.broker.store().write();
        conn.execute("DELETE FROM audit WHERE seq = 4", []).unwrap();
    }
    let report = f.broker.store().verify_audit(&f.trusted).unwrap();
    assert_eq!(
        report.problems,
        vec![countersign_store::AuditProblem::Truncated {
            checkpoint: 4,
            last: 3
        }],
        "dropping the newest row is visible once it was checkpointed"
    );
}
