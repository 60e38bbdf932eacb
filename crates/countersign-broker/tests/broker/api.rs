//! The agent API's contract: status codes, `{code, message}` errors, and the absence of any
//! approve route.

use countersign_broker::MAX_BODY_BYTES;
use countersign_core::api::{ApiError, ErrorCode, Status};
use reqwest::StatusCode;

use crate::fixture::{draft, draft_json, start, start_with};

async fn post_raw(
    f: &crate::fixture::Fixture,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, ApiError) {
    let r = f
        .raw()
        .post(format!("{}/v1/actions", f.base))
        .bearer_auth(&f.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let err: ApiError = r
        .json()
        .await
        .expect("every error is a {code, message} JSON body");
    (status, err)
}

#[tokio::test]
async fn submit_answers_201_with_digest_and_risk_and_the_draft_is_pending() {
    let f = start().await;
    let s = f.client().submit(&draft("acl.change")).await.unwrap();
    assert_eq!(s.status, Status::Pending);
    assert_eq!(s.agent, "a1");
    assert_eq!(
        s.action_digest,
        countersign_core::digest::action_digest(&draft("acl.change").action()).to_string(),
        "the digest is SHA-256 over the RFC 8785 form of the action"
    );
    assert!(
        s.risk.score >= 50,
        "granting all-employees read on user_data is at least high risk: {:?}",
        s.risk
    );
    assert!(
        s.risk
            .factors
            .iter()
            .any(|x| x.reason.contains("all-employees") && x.reason.contains("user_data")),
        "a factor must name the broad principal and the resource: {:?}",
        s.risk.factors
    );
    let row = f
        .broker
        .store()
        .action(&s.id)
        .unwrap()
        .expect("acknowledged means committed");
    assert_eq!(row.status, Status::Pending);
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401() {
    let f = start().await;
    let bad = countersign_gate::Client::new(&f.base, "cs_not-a-real-token".into()).unwrap();
    let e = bad.submit(&draft("shell.exec")).await.unwrap_err();
    assert_eq!(
        e.api_error().map(|a| a.code),
        Some(ErrorCode::Unauthorized),
        "{e}"
    );
    let r = f
        .raw()
        .post(format!("{}/v1/actions", f.base))
        .json(&draft_json("shell.exec"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        f.broker.store().pending_count().unwrap(),
        0,
        "nothing may be stored for a bad token"
    );
}

#[tokio::test]
async fn bodies_over_the_eight_mebibyte_limit_are_413() {
    let f = start().await;
    let mut d = draft_json("shell.exec");
    d["payload"]["argv"] = serde_json::json!(["echo", "x".repeat(MAX_BODY_BYTES)]);
    let (status, err) = post_raw(&f, serde_json::to_vec(&d).unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err.code, ErrorCode::PayloadTooLarge);
    assert!(
        err.message.contains(&MAX_BODY_BYTES.to_string()),
        "the message names the limit: {}",
        err.message
    );
    assert_eq!(MAX_BODY_BYTES, 8 * 1024 * 1024, "the documented limit");
}

/// 100,000 lines of about 52 bytes: a 5 MiB file.
fn five_mebibyte_file() -> String {
    (0..100_000)
        .map(|i| {
            format!(
                "let value_{i:08} = compute(input, {}, \"the label\");\n",
                i % 97
            )
        })
        .collect()
}

#[tokio::test]
async fn a_five_mebibyte_file_write_is_committed_scored_reviewed_and_its_decision_delivered() {
    let f = start().await;
    let content = five_mebibyte_file();
    assert!(content.len() >= 5 * 1024 * 1024, "fixture: 5 MiB");
    let draft = countersign_core::Draft::from_value(serde_json::json!({
        "kind": "file.write", "target": "file:///srv/app/generated.rs", "summary": "regenerate",
        "payload": {"path": "/srv/app/generated.rs", "content": content},
    }))
    .unwrap();
    let s = f
        .client()
        .submit(&draft)
        .await
        .expect("a 5 MiB file.write fits under the body limit");
    assert_eq!(s.status, Status::Pending);

    let detail = f.broker.detail(&s.id).unwrap();
    let countersign_core::review::Change::Text { diff, .. } = &detail.review.change else {
        panic!(
            "a file.write is reviewed as a text diff: {:?}",
            detail.review.change
        );
    };
    assert_eq!(
        (diff.added, diff.removed),
        (100_000, 0),
        "every line of the new file is in the diff"
    );

    f.broker
        .decide(
            &s.id,
            &s.action_digest,
            countersign_broker::DecisionInput::Approve,
        )
        .unwrap();
    let envelope = f
        .client()
        .decision(&s.id, 0)
        .await
        .expect("the agent's client reads an envelope carrying the whole 5 MiB action")
        .envelope
        .expect("decided drafts carry their envelope");
    let body = countersign_core::decision::verify_decision_signature(&envelope, &f.trusted)
        .expect("the envelope verifies");
    assert_eq!(
        body.action.payload["content"].as_str().map(str::len),
        Some(content.len()),
        "the signed action carries the whole content"
    );
}

#[tokio::test]
async fn malformed_drafts_are_400_and_say_what_and_where() {
    let f = start().await;
    let cases: &[(&str, &str)] = &[
        (
            r#"{"kind":"shell.exec","kind":"file.write","target":"t","summary":"s","payload":{}}"#,
            "duplicate key `kind`",
        ),
        (
            r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"extra":1}"#,
            "unknown field `extra`",
        ),
        (
            r#"{"kind":"db.drop","target":"t","summary":"s","payload":{}}"#,
            "unknown kind `db.drop`",
        ),
        (
            r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"expires_in_s":9007199254740993}"#,
            "/expires_in_s",
        ),
        (
            r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"],"cmd":"x"}}"#,
            "(at /payload)",
        ),
        (
            r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":[]}}"#,
            "/payload/argv",
        ),
        (
            r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"expires_in_s":90000}"#,
            "/expires_in_s",
        ),
        (
            r#"{"kind":"http.request","target":"t","summary":"s","payload":{"method":"GET","url":"file:///etc/passwd"}}"#,
            "/payload/url",
        ),
        (r#"{"kind":"shell.exec","#, "malformed JSON"),
    ];
    for (body, needle) in cases {
        let (status, err) = post_raw(&f, body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert!(
            err.message.contains(needle),
            "message for {body} should mention {needle:?}, was: {}",
            err.message
        );
    }
    assert_eq!(
        f.broker.store().pending_count().unwrap(),
        0,
        "no malformed draft may be stored"
    );
}

#[tokio::test]
async fn there_is_no_route_that_approves() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    for (method, path) in [
        ("POST", format!("/v1/actions/{}/approve", s.id)),
        ("POST", format!("/v1/actions/{}/decision", s.id)),
        ("PUT", format!("/v1/actions/{}/decision", s.id)),
        ("PATCH", format!("/v1/actions/{}", s.id)),
        ("POST", format!("/v1/actions/{}", s.id)),
        ("DELETE", format!("/v1/actions/{}", s.id)),
    ] {
        let r = f
            .raw()
            .request(method.parse().unwrap(), format!("{}{path}", f.base))
            .bearer_auth(&f.token)
            .header("content-type", "application/json")
            .body(r#"{"verdict":"approved"}"#)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 404 | 405),
            "{method} {path} answered {}",
            r.status()
        );
    }
    let status = f.client().status(&s.id).await.unwrap();
    assert_eq!(
        status.status,
        Status::Pending,
        "no HTTP request may decide a draft"
    );
}

#[tokio::test]
async fn browser_requests_and_foreign_hosts_are_403() {
    let f = start().await;
    let url = format!("{}/v1/actions", f.base);
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = f
            .raw()
            .post(&url)
            .bearer_auth(&f.token)
            .header(name, value)
            .json(&draft_json("shell.exec"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{name} must be refused (CSRF from browsers)"
        );
    }
    let r = f
        .raw()
        .post(&url)
        .bearer_auth(&f.token)
        .header("host", "attacker.example:80")
        .json(&draft_json("shell.exec"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a foreign Host must be refused (DNS rebinding)"
    );
    let r = f
        .raw()
        .post(&url)
        .bearer_auth(&f.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(f.broker.store().pending_count().unwrap(), 0);
}

#[tokio::test]
async fn an_agent_cannot_see_another_agents_draft() {
    let f = start().await;
    let s = f.client().submit(&draft("shell.exec")).await.unwrap();
    let other = f.broker.add_agent("a2").unwrap();
    let c2 = countersign_gate::Client::new(&f.base, other.token).unwrap();
    let e = c2.status(&s.id).await.unwrap_err();
    assert_eq!(e.api_error().map(|a| a.code), Some(ErrorCode::NotFound));
    let e = c2.decision(&s.id, 0).await.unwrap_err();
    assert_eq!(e.api_error().map(|a| a.code), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn the_pending_cap_per_agent_answers_429() {
    let f = start_with(countersign_broker::BrokerConfig {
        max_pending_per_agent: 2,
        ..Default::default()
    })
    .await;
    let c = f.client();
    c.submit(&draft("shell.exec")).await.unwrap();
    c.submit(&draft("shell.exec")).await.unwrap();
    let e = c.submit(&draft("shell.exec")).await.unwrap_err();
    assert_eq!(e.api_error().map(|a| a.code), Some(ErrorCode::RateLimited));
    let other = f.broker.add_agent("a2").unwrap();
    let c2 = countersign_gate::Client::new(&f.base, other.token).unwrap();
    c2.submit(&draft("shell.exec"))
        .await
        .expect("one agent's flood must not block another agent");
}
