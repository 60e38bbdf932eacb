//! Attacks on the broker and on a gate fed by the real broker, each test named for the attack.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::{BrokerConfig, DecisionInput};
use countersign_core::api::{ApiError, ErrorCode};
use countersign_core::decision::{Expectations, GateError};
use countersign_core::Envelope;
use countersign_gate::{verify_for_execution, GateFailure, Ledger};
use reqwest::StatusCode;

use crate::fixture::{draft, draft_json, start, start_in, Fixture};

async fn post(
    f: &Fixture,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    f.raw()
        .post(format!("{}/v1/actions", f.base))
        .bearer_auth(&f.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Submits a draft, approves it as the human would, and returns (draft id, envelope).
async fn approved(f: &Fixture, draft_value: serde_json::Value) -> (String, Envelope) {
    let d = countersign_core::Draft::from_value(draft_value).unwrap();
    let s = f.client().submit(&d).await.unwrap();
    f.broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap();
    let r = f.client().decision(&s.id, 0).await.unwrap();
    (
        s.id,
        r.envelope.expect("decided drafts carry their envelope"),
    )
}

fn expect<'a>(id: &'a str, agent: &'a str) -> Expectations<'a> {
    Expectations {
        action_id: id,
        agent,
        now: countersign_gate::unix_now(),
    }
}

#[tokio::test]
async fn ten_thousand_deep_nesting_is_400_and_the_broker_keeps_serving() {
    let f = start().await;
    let deep = format!(
        r#"{{"kind":"tool.call","target":"t","summary":"s","payload":{{"tool":"x","arguments":{}{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = post(&f, "application/json", deep).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: ApiError = r.json().await.unwrap();
    assert!(
        err.message.contains("nesting deeper than"),
        "{}",
        err.message
    );
    f.client()
        .submit(&draft("shell.exec"))
        .await
        .expect("no stack overflow: the broker still answers");
}

#[tokio::test]
async fn a_ten_mebibyte_body_is_413_before_it_is_read() {
    let f = start().await;
    let r = post(&f, "application/json", vec![b' '; 10 * 1024 * 1024]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(f.broker.store().pending_count().unwrap(), 0);
}

#[tokio::test]
async fn a_csrf_form_post_is_refused() {
    let f = start().await;
    let json = serde_json::to_string(&draft_json("shell.exec")).unwrap();
    // The content types an HTML form can send without a CORS preflight.
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let r = post(&f, content_type, json.clone()).await;
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type} must be refused"
        );
    }
    assert_eq!(f.broker.store().pending_count().unwrap(), 0);
}

#[tokio::test]
async fn every_path_and_verb_outside_the_api_answers_404_or_405() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let id = &s.id;
    let cases = [
        ("GET", "/".to_string()),
        ("GET", "/admin".into()),
        ("GET", "/v1".into()),
        ("GET", "/v1/agents".into()),
        ("POST", "/v1/agents".into()),
        ("GET", "/v1/actions".into()),
        ("DELETE", "/v1/actions".into()),
        ("POST", "/v1/health".into()),
        ("PUT", format!("/v1/actions/{id}")),
        ("DELETE", format!("/v1/actions/{id}/decision")),
        ("POST", format!("/v1/actions/{id}/reject")),
        ("GET", format!("/v1/actions/{id}/approve")),
        ("GET", "/v1/actions/..%2f..%2fetc%2fpasswd".into()),
        ("GET", "/v2/actions".into()),
        ("OPTIONS", "/v1/actions".into()),
        ("TRACE", "/v1/health".into()),
    ];
    for (method, path) in cases {
        let r = f
            .raw()
            .request(method.parse().unwrap(), format!("{}{path}", f.base))
            .bearer_auth(&f.token)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 404 | 405),
            "{method} {path} answered {}",
            r.status()
        );
    }
    assert_eq!(
        f.client().status(id).await.unwrap().status,
        countersign_core::api::Status::Pending
    );
}

#[tokio::test]
async fn sql_injection_strings_are_stored_and_returned_verbatim() {
    let f = start().await;
    let evil = "x'); DROP TABLE actions; -- \" OR 1=1; /* */ \\'";
    let mut d = draft_json("shell.exec");
    d["summary"] = serde_json::json!(evil);
    d["target"] = serde_json::json!(format!("host://{evil}"));
    let s = f
        .client()
        .submit(&countersign_core::Draft::from_value(d.clone()).unwrap())
        .await
        .unwrap();
    let row = f.broker.store().action(&s.id).unwrap().unwrap();
    assert_eq!(row.action.summary, evil);
    assert_eq!(row.action.target, format!("host://{evil}"));
    assert_eq!(
        s.action_digest,
        countersign_core::digest::action_digest(
            &countersign_core::Draft::from_value(d).unwrap().action()
        )
        .to_string(),
        "the digest covers the exact bytes"
    );
    assert_eq!(
        f.broker.list(10, 10).unwrap().len(),
        1,
        "the actions table is still there"
    );
}

#[tokio::test]
async fn payload_swap_after_approval_is_refused_and_the_genuine_envelope_runs_once() {
    let f = start().await;
    let state = tempfile::tempdir().unwrap();
    let ledger = Ledger::open_in(state.path()).unwrap();
    let (id, env) = approved(&f, draft_json("shell.exec")).await;
    let body = String::from_utf8(B64.decode(&env.payload).unwrap()).unwrap();
    for (from, to) in [("\"-la\"", "\"-lR\""), ("build-01", "build-02")] {
        let swapped = Envelope {
            payload: B64.encode(body.replacen(from, to, 1)),
            ..env.clone()
        };
        let e =
            verify_for_execution(&swapped, &f.trusted, &ledger, &expect(&id, "a1")).unwrap_err();
        assert!(
            matches!(e, GateFailure::Refused(GateError::Signature(_))),
            "{from} -> {to}: {e}"
        );
    }
    verify_for_execution(&env, &f.trusted, &ledger, &expect(&id, "a1"))
        .expect("the genuine envelope still verifies: refusals consumed nothing");
    let e = verify_for_execution(&env, &f.trusted, &ledger, &expect(&id, "a1")).unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Replay(_))),
        "{e}"
    );
}

#[tokio::test]
async fn replay_after_restart_of_broker_and_gate_is_refused() {
    let f = start().await;
    let state = tempfile::tempdir().unwrap();
    let (id, env) = approved(&f, draft_json("shell.exec")).await;
    let trusted = f.trusted.clone();
    verify_for_execution(
        &env,
        &trusted,
        &Ledger::open_in(state.path()).unwrap(),
        &expect(&id, "a1"),
    )
    .unwrap();
    let dir = f.stop().await;
    let f2 = start_in(dir, BrokerConfig::default(), false).await;
    let again = f2
        .client()
        .decision(&id, 0)
        .await
        .unwrap()
        .envelope
        .unwrap();
    assert_eq!(
        again, env,
        "the restarted broker serves the same signed decision"
    );
    let e = verify_for_execution(
        &again,
        &trusted,
        &Ledger::open_in(state.path()).unwrap(),
        &expect(&id, "a1"),
    )
    .unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Replay(_))),
        "{e}"
    );
}

#[tokio::test]
async fn another_agents_approval_is_refused_by_this_agents_gate() {
    let f = start().await;
    let state = tempfile::tempdir().unwrap();
    let ledger = Ledger::open_in(state.path()).unwrap();
    let (id, env) = approved(&f, draft_json("shell.exec")).await;
    let e = verify_for_execution(&env, &f.trusted, &ledger, &expect(&id, "a2")).unwrap_err();
    assert!(
        matches!(e, GateFailure::Refused(GateError::Audience(_))),
        "{e}"
    );
    verify_for_execution(&env, &f.trusted, &ledger, &expect(&id, "a1"))
        .expect("the refusal did not consume the approval");
}

#[tokio::test]
async fn a_signed_rejection_never_verifies_for_execution() {
    let f = start().await;
    let state = tempfile::tempdir().unwrap();
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    f.broker
        .decide(
            &s.id,
            &s.action_digest,
            DecisionInput::Reject {
                reason: "no".into(),
            },
        )
        .unwrap();
    let env = f
        .client()
        .decision(&s.id, 0)
        .await
        .unwrap()
        .envelope
        .unwrap();
    let e = verify_for_execution(
        &env,
        &f.trusted,
        &Ledger::open_in(state.path()).unwrap(),
        &expect(&s.id, "a1"),
    )
    .unwrap_err();
    assert!(e.is_rejection(), "{e}");
    let err = f.client().status("x").await.unwrap_err();
    assert_eq!(err.api_error().map(|a| a.code), Some(ErrorCode::NotFound));
}
