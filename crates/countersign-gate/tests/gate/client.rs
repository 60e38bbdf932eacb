//! The HTTP client against the stand-in broker: errors, long-poll, retries, timeouts.

use std::time::{Duration, Instant};

use countersign_core::api::{ErrorCode, Status, MAX_WAIT_S};
use countersign_gate::{Client, ClientError};

use crate::fixture::{self, approve_all, never_decide, MockBroker};

#[tokio::test]
async fn unknown_token_is_surfaced_as_an_unauthorized_api_error() {
    let keys = fixture::keys();
    let broker = MockBroker::start(approve_all(&keys.approver)).await;
    let client = Client::new(&broker.url, "cs_wrong".into()).unwrap();

    let err = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap_err();

    match &err {
        ClientError::Api { status, error } => {
            assert_eq!(*status, 401);
            assert_eq!(
                error.code,
                ErrorCode::Unauthorized,
                "agents act on the code"
            );
            assert_eq!(error.message, "unknown or revoked agent token");
        }
        other => panic!("expected the broker's {{code, message}}, got {other}"),
    }
    assert!(!err.is_transient(), "a bad token does not heal by retrying");
    assert!(
        !err.to_string().contains("cs_wrong"),
        "the token never appears in an error: {err}"
    );
}

#[tokio::test]
async fn submit_returns_the_receipt_and_status_follows_it() {
    let broker = MockBroker::start(never_decide()).await;
    let client = broker.client();

    let health = client.health().await.unwrap();
    assert!(health.ok);
    let submitted = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap();
    assert_eq!(submitted.status, Status::Pending);
    assert_eq!(submitted.agent, fixture::AGENT);
    let status = client.status(&submitted.id).await.unwrap();
    assert_eq!(status.id, submitted.id);
    assert_eq!(status.action_digest, submitted.action_digest);
}

#[tokio::test]
async fn unknown_draft_is_a_not_found_api_error() {
    let broker = MockBroker::start(never_decide()).await;
    let err = broker.client().status("no-such-id").await.unwrap_err();
    assert_eq!(
        err.api_error().map(|e| e.code),
        Some(ErrorCode::NotFound),
        "{err}"
    );
}

#[tokio::test]
async fn error_without_a_json_body_is_an_unexpected_response_with_escaped_excerpt() {
    let broker = MockBroker::start(never_decide()).await;
    let err = broker
        .client()
        .status("plain-text-error")
        .await
        .unwrap_err();
    match &err {
        ClientError::UnexpectedResponse { status, detail } => {
            assert_eq!(*status, 500);
            assert!(detail.contains("boom"), "{detail}");
            assert!(
                !detail.contains('\u{1b}'),
                "terminal escapes from the body are escaped, not printed: {detail}"
            );
        }
        other => panic!("expected an unexpected-response error, got {other}"),
    }
}

#[tokio::test]
async fn pending_decision_is_202_without_envelope() {
    let broker = MockBroker::start(never_decide()).await;
    let client = broker.client();
    let id = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap()
        .id;

    let answer = client.decision(&id, 0).await.unwrap();

    assert_eq!(answer.status, Status::Pending);
    assert!(answer.envelope.is_none());
}

#[tokio::test]
async fn long_poll_wait_is_capped_at_the_api_maximum() {
    let broker = MockBroker::start(never_decide()).await;
    let client = broker.client();
    let id = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap()
        .id;

    client.decision(&id, 3600).await.unwrap();

    assert_eq!(
        broker.waits(),
        vec![MAX_WAIT_S.to_string()],
        "the broker refuses a wait above MAX_WAIT_S, so the client never asks for one"
    );
}

#[tokio::test]
async fn wait_times_out_when_the_broker_keeps_answering_pending() {
    let broker = MockBroker::start(never_decide()).await;
    let client = broker.client();
    let id = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap()
        .id;
    let started = Instant::now();

    let err = client
        .wait_for_decision(&id, Duration::from_millis(2500))
        .await
        .unwrap_err();

    let took = started.elapsed();
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                last_error: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(6),
        "the timeout is honoured, neither early nor late: {took:?}"
    );
    let polls = broker.polls();
    assert!(
        (2..=4).contains(&polls),
        "an immediate 202 is re-polled, but not in a tight loop: {polls} polls"
    );
}

#[tokio::test]
async fn wait_retries_through_a_temporarily_unavailable_broker() {
    let keys = fixture::keys();
    let broker = MockBroker::start(approve_all(&keys.approver)).await;
    let client = broker.client();
    let id = client
        .submit(&fixture::shell_draft(&["true"]))
        .await
        .unwrap()
        .id;
    broker.make_unavailable_for(3);

    let envelope = client
        .wait_for_decision(&id, Duration::from_secs(10))
        .await
        .expect("503s are transient and retried within the deadline");

    assert_eq!(broker.polls(), 4, "three 503s, then the decision");
    assert!(!envelope.signatures.is_empty());
}

#[tokio::test]
async fn unreachable_broker_times_out_carrying_the_connection_error() {
    // Bind then drop a listener: its port is (almost certainly) closed afterwards.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(&format!("http://127.0.0.1:{port}"), "t".into()).unwrap();

    let err = client
        .wait_for_decision("some-id", Duration::from_millis(1200))
        .await
        .unwrap_err();

    match err {
        ClientError::Timeout {
            last_error: Some(last),
            ..
        } => assert!(
            matches!(*last, ClientError::Transport { .. }),
            "the last error explains why: {last}"
        ),
        other => panic!("expected a timeout with the connection error, got {other}"),
    }
}
