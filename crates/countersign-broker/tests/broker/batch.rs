//! Batch approval (the app's `approve_batch`): only drafts at the lowest level, each re-checked
//! in Rust and signed on its own; everything else stays pending and is reported.

use std::collections::HashSet;
use std::sync::Arc;

use countersign_broker::{BrokerConfig, BrokerError, DecisionInput, MAX_BATCH};
use countersign_core::api::{BatchDraft, ErrorCode, Status, Submitted};
use countersign_core::decision::DECISION_PAYLOAD_TYPE;
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::{DecisionBody, RiskLevel, TrustedKeys, Verdict};

use crate::fixture::{seed_key, start, start_with, Fixture};

const GRANT: &str = r#"{"kind":"acl.change","target":"warehouse://analytics/user_data","summary":"Let everyone query user_data","payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"}]}}"#;

/// A harmless team post; `n` makes each one a distinct draft.
fn thanks(n: usize) -> String {
    format!(
        r#"{{"kind":"message.post","target":"forum://eng/thread/{n}","summary":"thanks {n}","payload":{{"channel":"data-eng","audience":"team:data-eng","body":"Thanks, fixed ({n})."}}}}"#
    )
}

fn submit(f: &Fixture, draft: &str) -> Submitted {
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    f.broker.submit(&agent, draft.as_bytes()).unwrap()
}

fn low(f: &Fixture, n: usize) -> Submitted {
    let s = submit(f, &thanks(n));
    assert_eq!(
        s.risk.level,
        RiskLevel::Low,
        "fixture: a team thank-you is low risk: {:?}",
        s.risk
    );
    s
}

fn as_shown(s: &Submitted) -> BatchDraft {
    BatchDraft {
        id: s.id.clone(),
        action_digest: s.action_digest.clone(),
    }
}

fn status(f: &Fixture, id: &str) -> Status {
    f.broker.store().action(id).unwrap().unwrap().status
}

fn approvals_in_audit(f: &Fixture) -> usize {
    f.broker
        .store()
        .audit_rows()
        .unwrap()
        .iter()
        .filter(|r| r.event == countersign_store::AuditEvent::Approved.as_str())
        .count()
}

#[tokio::test]
async fn each_low_draft_of_a_batch_gets_its_own_signed_decision_and_audit_row() {
    let f = start().await;
    let drafts: Vec<_> = (0..3).map(|n| low(&f, n)).collect();
    let batch: Vec<_> = drafts.iter().map(as_shown).collect();
    let result = f.broker.approve_batch(&batch).unwrap();
    assert_eq!(
        result.approved,
        drafts.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        "every low draft is approved, in the order asked: {result:?}"
    );
    assert!(result.refused.is_empty(), "{result:?}");
    let mut jtis = HashSet::new();
    for d in &drafts {
        assert_eq!(status(&f, &d.id), Status::Approved);
        let row = f.broker.store().decision(&d.id).unwrap().unwrap();
        let verified = row
            .envelope
            .verify(DECISION_PAYLOAD_TYPE, &f.trusted)
            .expect("each envelope verifies on its own");
        let body: DecisionBody =
            serde_json::from_value(countersign_core::json::parse_strict(&verified.body).unwrap())
                .unwrap();
        assert_eq!(body.verdict, Verdict::Approved);
        assert_eq!(
            body.action_id, d.id,
            "each envelope is bound to its own draft"
        );
        assert_eq!(body.action_digest, d.action_digest);
        jtis.insert(body.jti);
    }
    assert_eq!(jtis.len(), 3, "three envelopes, three single-use ids");
    assert_eq!(approvals_in_audit(&f), 3, "one audit row per approval");
    assert!(f.broker.store().verify_audit_chain().is_ok());
}

#[tokio::test]
async fn a_high_draft_slipped_into_a_batch_is_refused_and_left_pending() {
    let f = start().await;
    let a = low(&f, 1);
    let grant = submit(&f, GRANT);
    assert!(
        matches!(grant.risk.level, RiskLevel::High | RiskLevel::Critical),
        "fixture: the all-employees grant is high or critical: {:?}",
        grant.risk
    );
    let b = low(&f, 2);
    // A window (or anything speaking to the command) that slips the grant's id and its correct
    // digest into a batch of low drafts.
    let result = f
        .broker
        .approve_batch(&[as_shown(&a), as_shown(&grant), as_shown(&b)])
        .unwrap();
    assert_eq!(result.approved, vec![a.id.clone(), b.id.clone()]);
    assert_eq!(result.refused.len(), 1, "{result:?}");
    let refusal = &result.refused[0];
    assert_eq!(refusal.id, grant.id);
    assert_eq!(refusal.error.code, ErrorCode::Conflict);
    assert!(
        refusal.error.message.contains("only low-risk drafts"),
        "the reason says why: {}",
        refusal.error.message
    );
    assert_eq!(
        status(&f, &grant.id),
        Status::Pending,
        "the grant still waits for a human"
    );
    assert!(
        f.broker.store().decision(&grant.id).unwrap().is_none(),
        "nothing was signed for the grant"
    );
    assert_eq!(approvals_in_audit(&f), 2, "no audit approval for the grant");
    // The grant can still be decided one by one, as any other draft.
    f.broker
        .decide(
            &grant.id,
            &grant.action_digest,
            DecisionInput::Reject {
                reason: "no".into(),
            },
        )
        .unwrap();
}

#[tokio::test]
async fn a_batch_of_only_a_critical_draft_signs_nothing() {
    let f = start().await;
    let grant = submit(&f, GRANT);
    let result = f.broker.approve_batch(&[as_shown(&grant)]).unwrap();
    assert!(result.approved.is_empty(), "{result:?}");
    assert_eq!(status(&f, &grant.id), Status::Pending);
    assert_eq!(approvals_in_audit(&f), 0);
}

#[tokio::test]
async fn a_changed_digest_a_decided_draft_and_an_unknown_id_are_refused_each_with_its_reason() {
    let f = start().await;
    let changed = low(&f, 1);
    let decided = low(&f, 2);
    let fine = low(&f, 3);
    f.broker
        .decide(&decided.id, &decided.action_digest, DecisionInput::Approve)
        .unwrap();
    let other_digest = countersign_core::digest::Digest::of_bytes(b"another draft").to_string();
    let result = f
        .broker
        .approve_batch(&[
            BatchDraft {
                id: changed.id.clone(),
                action_digest: other_digest,
            },
            as_shown(&decided),
            BatchDraft {
                id: "no-such-draft".into(),
                action_digest: fine.action_digest.clone(),
            },
            as_shown(&fine),
        ])
        .unwrap();
    assert_eq!(result.approved, vec![fine.id.clone()]);
    let codes: Vec<_> = result
        .refused
        .iter()
        .map(|r| (r.id.as_str(), r.error.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            (changed.id.as_str(), ErrorCode::Conflict),
            (decided.id.as_str(), ErrorCode::Conflict),
            ("no-such-draft", ErrorCode::NotFound),
        ]
    );
    assert!(result.refused[0]
        .error
        .message
        .contains("is not the stored draft"));
    assert_eq!(
        status(&f, &changed.id),
        Status::Pending,
        "a draft whose digest differs from the one shown stays pending"
    );
    assert_eq!(
        approvals_in_audit(&f),
        2,
        "the single approval and the batch's one"
    );
}

#[tokio::test]
async fn an_empty_batch_a_repeated_id_or_an_oversized_batch_signs_nothing() {
    let f = start().await;
    let a = low(&f, 1);
    let err = f.broker.approve_batch(&[]).unwrap_err();
    assert!(matches!(err, BrokerError::BadRequest(_)), "{err}");
    let err = f
        .broker
        .approve_batch(&[as_shown(&a), as_shown(&a)])
        .unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
    let many = vec![as_shown(&a); MAX_BATCH + 1];
    let err = f.broker.approve_batch(&many).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    assert_eq!(status(&f, &a.id), Status::Pending, "nothing was signed");
    assert_eq!(approvals_in_audit(&f), 0);
}

#[tokio::test]
async fn a_low_draft_the_policy_gives_to_a_lead_is_not_approved_in_a_batch() {
    // Policy: a lead for any score from 5 (the thank-you posts score below 5, shell runs 10).
    let text = "serial = 1\n\n[thresholds]\nlead_required_from = 5\n";
    let lead = seed_key(7); // the broker's own key is the lead: it could approve one by one
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let env = policy::sign(text.as_bytes(), &lead);
    let p = Arc::new(LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap());
    let f = start_with(BrokerConfig {
        policy: Some(p),
        ..BrokerConfig::default()
    })
    .await;
    let post = low(&f, 1);
    let shell = submit(
        &f,
        r#"{"kind":"shell.exec","target":"host://build-01","summary":"list files","payload":{"argv":["ls","-la"]}}"#,
    );
    assert_eq!(shell.risk.level, RiskLevel::Low, "{:?}", shell.risk);
    assert!(
        shell.risk.score >= 5,
        "fixture: the shell draft is in the lead band"
    );
    let result = f
        .broker
        .approve_batch(&[as_shown(&post), as_shown(&shell)])
        .unwrap();
    assert_eq!(result.approved, vec![post.id.clone()]);
    assert_eq!(result.refused.len(), 1);
    assert!(
        result.refused[0].error.message.contains("lead_required"),
        "{:?}",
        result.refused[0]
    );
    assert_eq!(status(&f, &shell.id), Status::Pending);
}
