//! Requests without a valid token cannot starve the agents that have one: they are limited by
//! a global bucket and one per source address, answered 429 without a database lookup once
//! the budget is spent, while tokens that authenticated before go on to their own limits.

use std::net::SocketAddr;
use std::time::Duration;

use countersign_broker::http::ApiConfig;
use countersign_core::api::ErrorCode;
use countersign_gate::Client;

use crate::fixture::{draft, draft_json, start_api, Fixture};
use crate::hardening::{exchange, post};

/// The error code of one request with a token no agent has.
async fn with_bad_token(f: &Fixture, token: &str) -> Option<ErrorCode> {
    let bad = Client::new(&f.base, token.into()).unwrap();
    bad.status("no-such-draft")
        .await
        .unwrap_err()
        .api_error()
        .map(|a| a.code)
}

/// A raw request from the source address `from` (any loopback address) with `token`: the
/// status line.
async fn from_source(f: &Fixture, from: &str, token: &str) -> String {
    let server: SocketAddr = f.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(server).await.unwrap();
    let body = serde_json::to_string(&draft_json("shell.exec")).unwrap();
    let answer = exchange(stream, &post(&server.to_string(), token, &body)).await;
    answer.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_flood_of_bad_tokens_gets_401_then_429_while_a_known_agent_is_still_served() {
    let f = start_api(ApiConfig {
        unauthenticated_burst: 10,
        unauthenticated_per_second: 4.0,
        per_source_burst: 1000,
        ..ApiConfig::default()
    })
    .await;
    let honest = f.client();
    honest
        .submit(&draft("shell.exec"))
        .await
        .expect("the honest agent's first submission");

    let mut codes = Vec::new();
    for i in 0..60 {
        codes.push(with_bad_token(&f, &format!("cs_guess{i}")).await);
    }
    let unauthorized = codes
        .iter()
        .filter(|c| **c == Some(ErrorCode::Unauthorized))
        .count();
    let limited = codes
        .iter()
        .filter(|c| **c == Some(ErrorCode::RateLimited))
        .count();
    assert!(
        (10..=12).contains(&unauthorized),
        "about the burst of 10 bad tokens is answered 401 (a few more refill at 4/s): {codes:?}"
    );
    assert_eq!(
        unauthorized + limited,
        60,
        "every other bad token is 429: {codes:?}"
    );
    let missing = exchange(
        tokio::net::TcpStream::connect(f.base.trim_start_matches("http://"))
            .await
            .unwrap(),
        format!(
            "GET /v1/actions/x HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            f.base.trim_start_matches("http://")
        )
        .as_bytes(),
    )
    .await;
    assert!(
        missing.starts_with("HTTP/1.1 429"),
        "a missing token counts as a failure too: {missing}"
    );

    // The honest agent goes on within its own limits during the flood.
    for _ in 0..5 {
        honest
            .submit(&draft("shell.exec"))
            .await
            .expect("a known agent is not held by the flood's limit");
    }
    assert_eq!(f.broker.store().pending_count().unwrap(), 6);

    // An agent never seen before waits for the bucket to refill (documented), then is known.
    let newcomer = f.broker.add_agent("a2").unwrap();
    let newcomer = Client::new(&f.base, newcomer.token).unwrap();
    let e = newcomer.submit(&draft("shell.exec")).await.unwrap_err();
    assert_eq!(
        e.api_error().map(|a| a.code),
        Some(ErrorCode::RateLimited),
        "{e}"
    );
    assert!(e.to_string().contains("without a valid agent token"), "{e}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    newcomer
        .submit(&draft("shell.exec"))
        .await
        .expect("after the refill the new agent authenticates");
    for i in 0..20 {
        with_bad_token(&f, &format!("cs_more{i}")).await;
    }
    newcomer
        .submit(&draft("shell.exec"))
        .await
        .expect("once known, the new agent is served through the next flood");
}

#[tokio::test]
async fn one_sources_flood_of_bad_tokens_leaves_other_sources_their_share() {
    let f = start_api(ApiConfig {
        unauthenticated_burst: 1000,
        per_source_burst: 5,
        per_source_per_second: 0.01,
        ..ApiConfig::default()
    })
    .await;
    f.client()
        .submit(&draft("shell.exec"))
        .await
        .expect("the honest agent authenticated before the flood");
    for i in 0..5 {
        assert!(
            from_source(&f, "127.0.0.1", &format!("cs_a{i}"))
                .await
                .starts_with("HTTP/1.1 401"),
            "within its burst a bad token is 401"
        );
    }
    let answer = from_source(&f, "127.0.0.1", "cs_a5").await;
    assert!(
        answer.starts_with("HTTP/1.1 429"),
        "the flooding source is throttled: {answer}"
    );
    let other = from_source(&f, "127.0.0.2", "cs_b0").await;
    assert!(
        other.starts_with("HTTP/1.1 401"),
        "another source still gets its own answer, not the flood's 429: {other}"
    );
    assert!(
        from_source(&f, "127.0.0.1", &f.token)
            .await
            .starts_with("HTTP/1.1 201"),
        "a token that authenticated before is still served from the flooding source"
    );
}
