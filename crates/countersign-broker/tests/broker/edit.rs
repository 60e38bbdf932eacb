//! Edit before approve: the approver's edit is what gets signed, and nothing else changes.

use countersign_broker::BrokerError;
use countersign_core::api::Status;
use countersign_core::decision::{verify_decision, Expectations};
use countersign_core::digest::action_digest;
use countersign_core::{Action, ActionKind};

use crate::fixture::{draft, start};

fn edited_shell(argv: &[&str]) -> Action {
    let mut action = draft("shell.exec").action();
    action.payload = serde_json::json!({ "argv": argv });
    action
}

#[tokio::test]
async fn an_edited_approval_signs_the_edit_and_the_agent_receives_it() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let edited = edited_shell(&["ls", "-l", "/tmp"]);
    let broker = f.broker.clone();
    let (id, shown, e) = (s.id.clone(), s.action_digest.clone(), edited.clone());
    tokio::task::spawn_blocking(move || broker.decide_edited(&id, &shown, e))
        .await
        .unwrap()
        .expect("a valid edit of the same kind and target is approved");
    let response = f.client().decision(&s.id, 1).await.unwrap();
    assert_eq!(response.status, Status::Approved);
    let body = verify_decision(
        &response.envelope.expect("decided drafts carry an envelope"),
        &f.trusted,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: countersign_broker::now(),
        },
    )
    .expect("the edited decision verifies like any other");
    assert_eq!(
        body.action, edited,
        "the signed body carries the edit, not the draft"
    );
    assert_eq!(body.action_digest, action_digest(&edited).to_string());
    assert_ne!(body.action_digest, s.action_digest);

    let audit = f.broker.store().audit_rows().unwrap();
    let approved = audit
        .iter()
        .find(|r| r.event == "action.approved")
        .expect("the approval is audited");
    assert_eq!(
        approved.detail["action_digest"], s.action_digest,
        "the audit row keeps the digest the approver was shown"
    );
    assert_eq!(
        approved.detail["signed_digest"], body.action_digest,
        "and the digest that was signed"
    );
    assert_eq!(f.broker.store().verify_audit_chain().unwrap(), None);
}

#[tokio::test]
async fn an_edit_that_changes_the_kind_or_target_or_is_invalid_is_refused_and_nothing_is_decided() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let mut other_kind = draft("shell.exec").action();
    other_kind.kind = ActionKind::MessagePost;
    other_kind.payload = serde_json::json!({"channel": "eng", "body": "hi"});
    let mut other_target = edited_shell(&["ls"]);
    other_target.target = "host://prod-db-01".into();
    let mut invalid_payload = draft("shell.exec").action();
    invalid_payload.payload = serde_json::json!({"argv": []});
    let mut unknown_field = draft("shell.exec").action();
    unknown_field.payload = serde_json::json!({"argv": ["ls"], "sudo": true});
    let mut new_before = edited_shell(&["ls"]);
    new_before.before = Some(serde_json::json!("old"));
    for (case, edit) in [
        ("kind", other_kind),
        ("target", other_target),
        ("empty argv", invalid_payload),
        ("unknown payload field", unknown_field),
        ("before", new_before),
    ] {
        assert!(
            matches!(
                f.broker.preview_edit(&s.id, &edit),
                Err(BrokerError::BadRequest(_))
            ),
            "{case}: the preview refuses it too"
        );
        let r = f.broker.decide_edited(&s.id, &s.action_digest, edit);
        assert!(
            matches!(r, Err(BrokerError::BadRequest(_))),
            "{case}: refused as a bad request, got {r:?}"
        );
    }
    let row = f.broker.store().action(&s.id).unwrap().unwrap();
    assert_eq!(
        row.status,
        Status::Pending,
        "a refused edit decides nothing"
    );
}

#[tokio::test]
async fn an_edit_needs_the_digest_that_was_shown_and_a_pending_draft() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let stale = f
        .broker
        .decide_edited(&s.id, "sha256:00", edited_shell(&["ls", "/"]));
    assert!(matches!(stale, Err(BrokerError::Conflict(_))), "{stale:?}");
    f.broker
        .decide_edited(&s.id, &s.action_digest, edited_shell(&["ls", "/"]))
        .unwrap();
    let again = f
        .broker
        .decide_edited(&s.id, &s.action_digest, edited_shell(&["ls", "/etc"]));
    assert!(
        matches!(again, Err(BrokerError::Conflict(_))),
        "a decided draft cannot be approved again with another edit: {again:?}"
    );
}

#[tokio::test]
async fn the_preview_scores_the_edit_without_deciding_anything() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let dangerous = edited_shell(&["rm", "-rf", "/var/lib/postgresql"]);
    let preview = f.broker.preview_edit(&s.id, &dangerous).unwrap();
    assert_eq!(preview.action_digest, action_digest(&dangerous).to_string());
    assert!(
        preview.risk.score > s.risk.score,
        "a destructive edit scores higher ({} vs {})",
        preview.risk.score,
        s.risk.score
    );
    let row = f.broker.store().action(&s.id).unwrap().unwrap();
    assert_eq!(row.status, Status::Pending);
    assert_eq!(
        row.action_digest, s.action_digest,
        "the stored draft is untouched"
    );
}

#[tokio::test]
async fn the_history_lists_decided_drafts_with_who_when_and_why_newest_first() {
    let f = start().await;
    let a = f.client().submit(&draft("shell.exec")).await.unwrap();
    let b = f.client().submit(&draft("acl.change")).await.unwrap();
    let pending = f.client().submit(&draft("shell.exec")).await.unwrap();
    f.broker
        .decide(
            &a.id,
            &a.action_digest,
            countersign_broker::DecisionInput::Approve,
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    f.broker
        .decide(
            &b.id,
            &b.action_digest,
            countersign_broker::DecisionInput::Reject {
                reason: "never all-employees".into(),
            },
        )
        .unwrap();
    let h = f.broker.history(10).unwrap();
    let ids: Vec<_> = h.iter().map(|e| e.draft.id.as_str()).collect();
    assert_eq!(
        ids,
        [b.id.as_str(), a.id.as_str()],
        "decided drafts only, newest decision first"
    );
    assert!(!ids.contains(&pending.id.as_str()));
    assert_eq!(h[0].draft.status, Status::Rejected);
    assert_eq!(h[0].approver, "ana");
    assert_eq!(h[0].reason.as_deref(), Some("never all-employees"));
    assert_eq!(h[1].draft.status, Status::Approved);
    assert_eq!(h[1].reason, None);
    assert!(h[0].decided_at >= h[1].decided_at);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_cannot_take_a_draft_out_of_the_lead_band_for_a_non_lead() {
    use countersign_core::policy::{self, LoadedPolicy};
    // A policy signed by a lead (seed 9); this broker's key (seed 7) is not a lead.
    let lead = crate::fixture::seed_key(9);
    let trusted =
        countersign_core::TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let text = "serial = 1\n\n[thresholds]\nlead_required_from = 50\n";
    let env = policy::sign(text.as_bytes(), &lead);
    let loaded = LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap();
    let f = crate::fixture::start_with(countersign_broker::BrokerConfig {
        policy: Some(std::sync::Arc::new(loaded)),
        ..countersign_broker::BrokerConfig::default()
    })
    .await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    let s = f
        .broker
        .submit(
            &agent,
            br#"{"kind":"shell.exec","target":"host://a","summary":"s","payload":{"argv":["rm","-rf","/tmp/build"]}}"#,
        )
        .unwrap();
    assert!(s.risk.score >= 50, "in the lead band: {:?}", s.risk);
    let mut harmless = f.broker.store().action(&s.id).unwrap().unwrap().action;
    harmless.payload = serde_json::json!({"argv": ["ls", "/tmp/build"]});
    let preview = f.broker.preview_edit(&s.id, &harmless).unwrap();
    assert!(
        preview.risk.score < 50,
        "the edit alone scores low: {:?}",
        preview.risk
    );
    let err = f
        .broker
        .decide_edited(&s.id, &s.action_digest, harmless)
        .unwrap_err();
    assert!(
        err.to_string().contains("requires a lead"),
        "the draft's own band still applies: {err}"
    );
}
