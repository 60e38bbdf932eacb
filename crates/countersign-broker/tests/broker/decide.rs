//! Deciding (through the use case, as the app does) and delivering signed decisions.

use std::time::Duration;

use countersign_broker::{BrokerError, DecisionInput};
use countersign_core::api::Status;
use countersign_core::decision::{verify_decision, Expectations, Verdict};

use crate::fixture::{draft, seed_key, start};

fn now() -> i64 {
    countersign_broker::now()
}

#[tokio::test]
async fn an_approval_reaches_the_waiting_agent_as_a_verifiable_envelope() {
    let f = start().await;
    let client = f.client();
    let s = client.submit(&draft("acl.change")).await.unwrap();
    let waiter = {
        let client = f.client();
        let id = s.id.clone();
        tokio::spawn(async move { client.decision(&id, 10).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let broker = f.broker.clone();
    let (id, digest) = (s.id.clone(), s.action_digest.clone());
    tokio::task::spawn_blocking(move || broker.decide(&id, &digest, DecisionInput::Approve))
        .await
        .unwrap()
        .unwrap();
    let response = waiter.await.unwrap().unwrap();
    assert_eq!(response.status, Status::Approved);
    let envelope = response
        .envelope
        .expect("a decided draft carries its envelope");
    let body = verify_decision(
        &envelope,
        &f.trusted,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: now(),
        },
    )
    .expect("the envelope verifies against the pinned approver key");
    assert_eq!(body.verdict, Verdict::Approved);
    assert_eq!(
        body.action,
        draft("acl.change").action(),
        "the signed body carries the full action"
    );
    assert_eq!(body.action_digest, s.action_digest);
    let stranger =
        countersign_core::TrustedKeys::from_keys(vec![seed_key(9).trusted_key("eve", "approver")])
            .unwrap();
    assert!(verify_decision(
        &envelope,
        &stranger,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: now()
        }
    )
    .is_err());
}

#[tokio::test]
async fn a_pending_long_poll_answers_202_without_an_envelope() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let r = f
        .raw()
        .get(format!("{}/v1/actions/{}/decision?wait=1", f.base, s.id))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let body: countersign_core::api::DecisionResponse = r.json().await.unwrap();
    assert_eq!(body.status, Status::Pending);
    assert!(body.envelope.is_none());
    let r = f
        .raw()
        .get(format!("{}/v1/actions/{}/decision?wait=61", f.base, s.id))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "waits over 60 s are refused");
}

#[tokio::test]
async fn a_rejection_carries_its_reason_and_needs_one() {
    let f = start().await;
    let s = f.client().submit(&draft("acl.change")).await.unwrap();
    let err = f
        .broker
        .decide(
            &s.id,
            &s.action_digest,
            DecisionInput::Reject {
                reason: "   ".into(),
            },
        )
        .unwrap_err();
    assert!(matches!(err, BrokerError::BadRequest(_)), "{err}");
    f.broker
        .decide(
            &s.id,
            &s.action_digest,
            DecisionInput::Reject {
                reason: "user_data is PII; ask data-eng".into(),
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
    let e = verify_decision(
        &env,
        &f.trusted,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: now(),
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("user_data is PII"), "{e}");
}

#[tokio::test]
async fn the_digest_shown_must_be_the_stored_digest() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let other = countersign_core::digest::Digest::of_bytes(b"something else").to_string();
    let err = f
        .broker
        .decide(&s.id, &other, DecisionInput::Approve)
        .unwrap_err();
    assert!(matches!(err, BrokerError::Conflict(_)), "{err}");
    assert_eq!(
        f.broker.store().action(&s.id).unwrap().unwrap().status,
        Status::Pending
    );
}

#[tokio::test]
async fn a_draft_is_decided_once_even_when_two_approvers_race() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..8 {
        let b = f.broker.clone();
        let (id, d) = (s.id.clone(), s.action_digest.clone());
        handles.push(std::thread::spawn(move || {
            if i % 2 == 0 {
                b.decide(&id, &d, DecisionInput::Approve)
            } else {
                b.decide(
                    &id,
                    &d,
                    DecisionInput::Reject {
                        reason: "no".into(),
                    },
                )
            }
        }));
    }
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one decision may win: {results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, BrokerError::Conflict(_))));
}

#[tokio::test]
async fn an_undecided_draft_expires_into_a_signed_rejection() {
    let f = start().await;
    let mut d = draft("shell.exec");
    d.expires_in_s = Some(1);
    let s = f.client().submit(&d).await.unwrap();
    let r = f.client().decision(&s.id, 5).await.unwrap();
    assert_eq!(r.status, Status::Expired);
    let env = r
        .envelope
        .expect("expiry is answered with a signed rejection");
    let e = verify_decision(
        &env,
        &f.trusted,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: now(),
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    let err = f
        .broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Conflict(_)),
        "an expired draft can no longer be approved: {err}"
    );
}

#[tokio::test]
async fn the_callback_url_receives_the_envelope() {
    use axum::{routing::post, Json, Router};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<countersign_core::Envelope>(1);
    let app = Router::new().route(
        "/hook",
        post(move |Json(env): Json<countersign_core::Envelope>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(env).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let f = start().await;
    let mut d = draft("shell.exec");
    d.callback_url = Some(hook);
    let s = f.client().submit(&d).await.unwrap();
    let broker = f.broker.clone();
    let (id, digest) = (s.id.clone(), s.action_digest.clone());
    tokio::task::spawn_blocking(move || broker.decide(&id, &digest, DecisionInput::Approve))
        .await
        .unwrap()
        .unwrap();
    let env = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered in time")
        .unwrap();
    verify_decision(
        &env,
        &f.trusted,
        &Expectations {
            action_id: &s.id,
            agent: "a1",
            now: now(),
        },
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = f.broker.store().audit_rows().unwrap();
    assert!(
        rows.iter()
            .any(|r| r.event == "decision.delivery" && r.detail["status"] == 200),
        "each delivery attempt is audited"
    );
}
