//! The gated flow end to end: submit, wait, verify, record, execute the signed action.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_core::action::Draft;
use countersign_core::decision::{GateError, Verdict};
use countersign_core::digest::action_digest;
use countersign_core::dsse::{Envelope, VerifyError};
use countersign_core::ApproverKey;
use countersign_gate::client::ClientError;
use countersign_gate::{execute, run_gated, Approved, GateFailure, GateOptions};
use serde_json::json;

use crate::fixture::{self, answer_with, approve_all, body_for, never_decide, tamper, Fixture};

/// What the CLI does: run the gate, and execute the signed action only on success.
async fn gated_then_execute(fx: &Fixture, draft: &Draft) -> Result<Approved, GateFailure> {
    let approved = run_gated(
        &fx.client,
        draft,
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            ..GateOptions::default()
        },
    )
    .await?;
    let status = execute(&approved.body.action, None).expect("the approved command starts");
    assert!(status.success(), "the approved command succeeds");
    Ok(approved)
}

fn shell_draft_writing(fx: &Fixture, file: &str, text: &str) -> Draft {
    let argv = fixture::write_file_argv(&fx.path(file), text);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    fixture::shell_draft(&argv)
}

#[tokio::test]
async fn approved_decision_is_verified_recorded_and_its_argv_executed() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let draft = shell_draft_writing(&fx, "ran.txt", "ran");
    let seen = Arc::new(Mutex::new(None));
    let seen_in_callback = seen.clone();

    let approved = run_gated(
        &fx.client,
        &draft,
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            on_submitted: Some(Box::new(move |s| {
                *seen_in_callback.lock().unwrap() = Some(s.id.clone());
            })),
            ..GateOptions::default()
        },
    )
    .await
    .expect("a fresh approval signed by the pinned key is accepted");

    assert_eq!(
        seen.lock().unwrap().as_deref(),
        Some(approved.submitted.id.as_str()),
        "the caller learns the draft id as soon as it is filed"
    );
    assert_eq!(approved.body.verdict, Verdict::Approved);
    assert_eq!(approved.body.action, draft.action());
    assert!(!approved.edited(), "nobody edited this draft");
    assert!(
        fx.ledger.is_consumed(&approved.body.jti).unwrap(),
        "the jti is recorded before the caller gets to execute"
    );

    let status = execute(&approved.body.action, None).unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(fx.path("ran.txt")).unwrap();
    assert_eq!(written, "ran\n", "the approved argv ran");
}

#[tokio::test]
async fn the_signed_action_runs_not_the_agents_copy_when_the_human_edited_it() {
    let fx = Fixture::new(|k| {
        answer_with(&k.approver, |body| {
            let file = match &body.action.payload["argv"][2] {
                serde_json::Value::String(s) => s.replace("draft-text", "edited-text"),
                other => panic!("unexpected argv {other}"),
            };
            body.action.payload = json!({ "argv": ["sh", "-c", file] });
            body.action_digest = action_digest(&body.action).to_string();
        })
    })
    .await;
    let draft = shell_draft_writing(&fx, "out.txt", "draft-text");

    let approved = gated_then_execute(&fx, &draft).await.unwrap();

    assert!(
        approved.edited(),
        "the approved digest differs from the submitted one"
    );
    assert_eq!(
        std::fs::read_to_string(fx.path("out.txt")).unwrap(),
        "edited-text\n",
        "the gate executes the action from the signed body, never the agent's own draft"
    );
}

#[tokio::test]
async fn rejection_is_reported_with_its_reason_and_nothing_runs() {
    let fx = Fixture::new(|k| {
        let key = k.approver.clone();
        Arc::new(move |filed: &fixture::Filed| {
            Some(body_for(filed, &key, Verdict::Rejected).sign(&key))
        })
    })
    .await;
    let draft = shell_draft_writing(&fx, "ran.txt", "ran");

    let err = gated_then_execute(&fx, &draft).await.unwrap_err();

    match &err {
        GateFailure::Rejected { reason } => assert_eq!(reason, "grants too broad"),
        other => panic!("expected a rejection, got {other}"),
    }
    assert!(err.is_rejection());
    assert!(
        !fx.path("ran.txt").exists(),
        "a rejected action must never execute"
    );
}

/// Runs the flow against a broker answering with `responder`'s envelope and returns the
/// failure, asserting that the draft's command did not run.
async fn refused_with(responder: impl FnOnce(&fixture::Keys) -> fixture::Responder) -> GateError {
    let fx = Fixture::new(responder).await;
    let draft = shell_draft_writing(&fx, "ran.txt", "ran");
    let err = gated_then_execute(&fx, &draft).await.unwrap_err();
    assert!(
        !fx.path("ran.txt").exists(),
        "nothing may run when the decision is refused ({err})"
    );
    match err {
        GateFailure::Refused(e) => e,
        other => panic!("expected a refusal, got {other}"),
    }
}

fn signed_then(
    key: &Arc<ApproverKey>,
    after: impl Fn(Envelope) -> Envelope + Send + Sync + 'static,
) -> fixture::Responder {
    let key = key.clone();
    Arc::new(move |filed: &fixture::Filed| {
        Some(after(body_for(filed, &key, Verdict::Approved).sign(&key)))
    })
}

#[tokio::test]
async fn payload_changed_after_signing_is_refused() {
    let err =
        refused_with(|k| signed_then(&k.approver, |env| tamper(&env, "echo ran", "echo rAn")))
            .await;
    assert!(
        matches!(
            err,
            GateError::Signature(VerifyError::NoTrustedSignature { .. })
        ),
        "one changed byte breaks the signature: {err}"
    );
}

#[tokio::test]
async fn signed_digest_that_does_not_match_the_action_is_refused() {
    let err = refused_with(|k| {
        answer_with(&k.approver, |body| {
            body.action.summary = "something else".into();
        })
    })
    .await;
    assert!(
        matches!(err, GateError::Digest { .. }),
        "the signed digest must bind the signed action: {err}"
    );
}

#[tokio::test]
async fn signature_by_an_unpinned_key_is_refused() {
    let err = refused_with(|_| {
        let stranger = Arc::new(ApproverKey::generate());
        approve_all(&stranger)
    })
    .await;
    assert!(
        matches!(
            err,
            GateError::Signature(VerifyError::NoTrustedSignature { signatures: 1 })
        ),
        "only pinned approvers count: {err}"
    );
}

#[tokio::test]
async fn wrong_payload_type_is_refused() {
    let err = refused_with(|k| {
        let key = k.approver.clone();
        Arc::new(move |filed: &fixture::Filed| {
            let body = body_for(filed, &key, Verdict::Approved);
            let bytes = countersign_core::digest::canonical_json(&body).unwrap();
            Some(Envelope::sign("application/json", &bytes, &key))
        })
    })
    .await;
    assert!(
        matches!(err, GateError::Signature(VerifyError::PayloadType { .. })),
        "a signature over another kind of document is not a decision: {err}"
    );
}

#[tokio::test]
async fn expired_decision_is_refused() {
    let err = refused_with(|k| {
        answer_with(&k.approver, |body| {
            body.iat -= 1000;
            body.exp -= 1000;
        })
    })
    .await;
    assert!(
        matches!(err, GateError::Expired(_)),
        "an approval past exp + skew is stale: {err}"
    );
}

#[tokio::test]
async fn decision_for_another_agent_is_refused() {
    let err =
        refused_with(|k| answer_with(&k.approver, |body| body.agent = "deploy-bot".into())).await;
    assert!(
        matches!(err, GateError::Audience(_)),
        "another agent's approval must not unlock this one: {err}"
    );
}

#[tokio::test]
async fn decision_for_another_draft_is_refused() {
    let err = refused_with(|k| {
        answer_with(&k.approver, |body| {
            body.action_id = "00000000-0000-4000-8000-000000000000".into();
        })
    })
    .await;
    assert!(
        matches!(err, GateError::Audience(_)),
        "an approval of another draft must not unlock this one: {err}"
    );
}

#[tokio::test]
async fn no_decision_before_the_timeout_is_a_wait_failure_naming_the_draft() {
    let fx = Fixture::new(|_| never_decide()).await;
    let draft = shell_draft_writing(&fx, "ran.txt", "ran");
    let err = run_gated(
        &fx.client,
        &draft,
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_millis(1500)),
            ..GateOptions::default()
        },
    )
    .await
    .unwrap_err();
    match err {
        GateFailure::Wait { id, error } => {
            assert_eq!(
                id,
                fx.broker.filed()[0].id,
                "the caller can look the draft up later"
            );
            assert!(matches!(error, ClientError::Timeout { .. }), "{error}");
        }
        other => panic!("expected a wait failure, got {other}"),
    }
    assert!(!fx.path("ran.txt").exists());
}

#[tokio::test]
async fn invalid_draft_is_a_submit_failure_with_the_brokers_reason() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let draft = fixture::shell_draft(&[""]);
    let err = run_gated(
        &fx.client,
        &draft,
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions::default(),
    )
    .await
    .unwrap_err();
    match err {
        GateFailure::Submit(ClientError::Api { status: 400, error }) => {
            assert!(error.message.contains("/payload/argv"), "{}", error.message);
        }
        other => panic!("expected a 400 from submit, got {other}"),
    }
}
