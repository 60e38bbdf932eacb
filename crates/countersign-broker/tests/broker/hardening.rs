//! Local API hardening over the real server: per-agent rate limit, request timeouts, and the
//! Unix domain socket transport.

use std::time::{Duration, Instant};

use countersign_broker::http::ApiConfig;
use countersign_core::api::ErrorCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::fixture::{draft, draft_json, start_api};

/// Sends raw bytes over a stream and reads the whole answer (the request says `Connection: close`).
pub async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> String {
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

pub fn post(host: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/actions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_flooding_agent_gets_429_while_another_agent_is_still_served() {
    let f = start_api(ApiConfig {
        burst: 5,
        per_second: 0.1,
        ..ApiConfig::default()
    })
    .await;
    let flood = f.client();
    for _ in 0..5 {
        let e = flood.status("no-such-draft").await.unwrap_err();
        assert_eq!(e.api_error().map(|a| a.code), Some(ErrorCode::NotFound));
    }
    let e = flood.submit(&draft("shell.exec")).await.unwrap_err();
    assert_eq!(
        e.api_error().map(|a| a.code),
        Some(ErrorCode::RateLimited),
        "the sixth request in a burst of five is throttled: {e}"
    );
    assert_eq!(
        f.broker.store().pending_count().unwrap(),
        0,
        "a throttled draft is not filed"
    );
    let other = f.broker.add_agent("a2").unwrap();
    let quiet = countersign_gate::Client::new(&f.base, other.token).unwrap();
    quiet
        .submit(&draft("shell.exec"))
        .await
        .expect("another agent has its own bucket");
}

#[tokio::test]
async fn the_rate_limit_bucket_refills_over_time() {
    let f = start_api(ApiConfig {
        burst: 1,
        per_second: 1.0,
        ..ApiConfig::default()
    })
    .await;
    let c = f.client();
    // One token a second: slow enough that a loaded machine cannot refill the bucket between
    // the first two requests, fast enough to keep the test short.
    c.submit(&draft("shell.exec")).await.unwrap();
    let e = c.submit(&draft("shell.exec")).await.unwrap_err();
    assert_eq!(e.api_error().map(|a| a.code), Some(ErrorCode::RateLimited));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.submit(&draft("shell.exec"))
        .await
        .expect("one token is back after 1 s at 1/s");
}

#[tokio::test]
async fn a_client_that_trickles_its_body_gets_408_and_nothing_is_filed() {
    let f = start_api(ApiConfig {
        request_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    })
    .await;
    let addr = f.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = serde_json::to_string(&draft_json("shell.exec")).unwrap();
    let head = post(&addr, &f.token, &body);
    let started = Instant::now();
    // Everything but the last 10 bytes of the body, then silence.
    stream.write_all(&head[..head.len() - 10]).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("the server answers instead of waiting forever")
        .unwrap();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(f.broker.store().pending_count().unwrap(), 0);
}

#[tokio::test]
async fn a_long_poll_may_outlast_the_request_timeout() {
    let f = start_api(ApiConfig {
        request_timeout: Duration::from_millis(200),
        ..ApiConfig::default()
    })
    .await;
    let c = f.client();
    let s = c.submit(&draft("shell.exec")).await.unwrap();
    let started = Instant::now();
    let r = c
        .decision(&s.id, 1)
        .await
        .expect("a pending long poll answers 202");
    assert!(r.envelope.is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the wait was served in full, not cut at 200 ms"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_unix_socket_is_private_to_its_user_and_serves_the_same_guarded_api() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = start_api(ApiConfig::default()).await;
    let path = f.dir.path().join("api.sock");
    std::fs::write(&path, b"not a socket").unwrap();
    let refused = countersign_broker::http::serve_unix(
        path.clone(),
        f.broker.clone(),
        ApiConfig::default(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::AlreadyExists,
        "an ordinary file at the socket path is never deleted"
    );
    std::fs::remove_file(&path).unwrap();
    tokio::spawn(countersign_broker::http::serve_unix(
        path.clone(),
        f.broker.clone(),
        ApiConfig::default(),
        std::future::pending(),
    ));
    let mut waited = 0;
    while !path.exists() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the owner may connect");

    let connect = || tokio::net::UnixStream::connect(path.clone());
    let body = serde_json::to_string(&draft_json("shell.exec")).unwrap();
    let answer = exchange(
        connect().await.unwrap(),
        &post("localhost", &f.token, &body),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(f.broker.store().pending_count().unwrap(), 1);

    let answer = exchange(
        connect().await.unwrap(),
        &post("evil.example", &f.token, &body),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 403"),
        "a foreign Host is refused here too: {answer}"
    );
    let answer = exchange(
        connect().await.unwrap(),
        &post("localhost", "cs_wrong", &body),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let mut with_origin = post("localhost", &f.token, &body);
    let at = with_origin
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap();
    with_origin.splice(at..at, b"\r\nOrigin: http://evil.example".iter().copied());
    let answer = exchange(connect().await.unwrap(), &with_origin).await;
    assert!(
        answer.starts_with("HTTP/1.1 403"),
        "browsers are refused: {answer}"
    );
    assert_eq!(f.broker.store().pending_count().unwrap(), 1);
}
