//! The agent's HTTP client for the broker's API (routes in [`countersign_core::api`]).
//!
//! Every `/v1/actions` request carries `Authorization: Bearer <agent token>`. The token lives
//! in a zeroized buffer, the header built from it is marked sensitive, and [`Client`]'s `Debug`
//! redacts it; nothing here logs it.
//!
//! Waiting is a loop of long-polls (`GET /v1/actions/{id}/decision?wait=S`, `S` ≤
//! [`MAX_WAIT_S`]) bounded by one overall deadline. Transient failures (connection refused or
//! reset, 429, 502–504) are retried with exponential backoff inside that deadline, so a broker
//! restart while a human is still reading the draft does not lose the decision.

use std::net::IpAddr;
use std::time::Duration;

use countersign_core::action::Draft;
use countersign_core::api::{
    ActionStatus, ApiError, DecisionResponse, Health, Submitted, MAX_WAIT_S,
};
use countersign_core::dsse::Envelope;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use zeroize::Zeroizing;

/// How long establishing a TCP (and TLS) connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed for a request beyond the long-poll `wait` it asks for (or for a plain request).
pub const REQUEST_MARGIN: Duration = Duration::from_secs(15);

/// Largest response body the client reads, in bytes: 16 MiB. A decision's envelope carries the
/// whole action base64-encoded (4/3 of its size), and the broker accepts drafts of up to 8 MiB
/// (`countersign_broker::MAX_BODY_BYTES`): about 11 MiB, with room to spare.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Shortest interval between two long-polls, so a broker that answers 202 at once (ignoring
/// `wait`) is not polled in a tight loop.
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// First and largest delay between retries of a transient failure.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(4);

/// Why a request to the broker did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL or token cannot be used (bad scheme, a query string, a token that is not a
    /// valid header value). Nothing was sent.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The broker answered with its `{code, message}` error body.
    #[error("broker answered HTTP {status}: {error}")]
    Api {
        /// HTTP status code, e.g. 401.
        status: u16,
        /// The parsed error body; `error.code` is what to act on.
        error: ApiError,
    },
    /// The request did not complete: connection refused or reset, TLS failure, request timeout.
    #[error("could not reach the broker: {}", flatten(.error))]
    Transport {
        /// The underlying error (its URL never contains the token).
        error: reqwest::Error,
    },
    /// The broker answered something this client does not understand: an unexpected status,
    /// a body that is not the documented JSON, or an inconsistent answer.
    #[error("unexpected response from the broker (HTTP {status}): {detail}")]
    UnexpectedResponse {
        /// HTTP status code.
        status: u16,
        /// What was wrong, with a short, escaped excerpt of the body where useful.
        detail: String,
    },
    /// No decision arrived before the deadline. The draft may still be pending in the app.
    #[error(
        "no decision within {}s{}",
        .waited.as_secs(),
        .last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default()
    )]
    Timeout {
        /// How long the client waited in all.
        waited: Duration,
        /// The transient error seen last, if the broker was unreachable near the end.
        last_error: Option<Box<ClientError>>,
    },
}

impl ClientError {
    /// Whether retrying the same request later may succeed: transport failures and HTTP 429,
    /// 502, 503, 504. An authentication, validation or not-found error is never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } | ClientError::UnexpectedResponse { status, .. } => {
                matches!(status, 429 | 502 | 503 | 504)
            }
            ClientError::Config(_) | ClientError::Timeout { .. } => false,
        }
    }

    /// The API error body, when the broker sent one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(error: reqwest::Error) -> Self {
        ClientError::Transport { error }
    }
}

/// `reqwest::Error` shows only its top line; the cause ("connection refused") is in its chain.
fn flatten(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// A client of one broker, acting as one agent (the token's). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Zeroizing<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Client {
    /// A client for the broker at `base_url` (e.g. `http://127.0.0.1:7823`; a path prefix such
    /// as `https://host/countersign/` is kept) authenticating with the agent's bearer `token`.
    ///
    /// Connections time out after [`CONNECT_TIMEOUT`]; redirects are not followed (a bearer
    /// token must not travel to another address); loopback URLs bypass any proxy settings.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the URL is not `http`/`https` with a host, carries
    /// credentials, a query or a fragment, or the token is empty or not a valid header value.
    pub fn new(base_url: &str, token: String) -> Result<Client, ClientError> {
        let token = Zeroizing::new(token);
        let base = Url::parse(base_url)
            .map_err(|e| ClientError::Config(format!("base URL `{base_url}`: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(ClientError::Config(format!(
                "base URL `{base_url}` must be http or https with a host"
            )));
        }
        if base.cannot_be_a_base() || base.query().is_some() || base.fragment().is_some() {
            return Err(ClientError::Config(format!(
                "base URL `{base_url}` must not have a query or fragment"
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ClientError::Config(
                "base URL must not carry credentials; the token is sent as a bearer header".into(),
            ));
        }
        if token.trim().is_empty() || HeaderValue::from_str(&format!("Bearer {}", *token)).is_err()
        {
            return Err(ClientError::Config(
                "the agent token is empty or contains characters not allowed in a header".into(),
            ));
        }
        let loopback = is_loopback(&base);
        if base.scheme() == "http" && !loopback {
            tracing::warn!(
                host = base.host_str().unwrap_or_default(),
                "the broker URL is plain http to a non-loopback host; the agent token travels unencrypted"
            );
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("countersign-gate/", env!("CARGO_PKG_VERSION")));
        if loopback {
            builder = builder.no_proxy();
        }
        let http = builder.build()?;
        Ok(Client { http, base, token })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `GET /v1/health` (no token): whether a broker answers at the base URL.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn health(&self) -> Result<Health, ClientError> {
        let url = self.url(&["v1", "health"])?;
        let resp = self.http.get(url).timeout(REQUEST_MARGIN).send().await?;
        expect_json(resp, StatusCode::OK, "health").await
    }

    /// `POST /v1/actions`: files `draft` for review. The broker answers `201` once the draft is
    /// committed; the answer names the draft id, the agent it was filed under (from the token),
    /// the action's digest, the risk Countersign computed and the expiry.
    ///
    /// # Errors
    /// [`ClientError::Api`] with code `bad_request` (invalid draft), `unauthorized`,
    /// `rate_limited`, …; [`ClientError::Transport`]; [`ClientError::UnexpectedResponse`].
    pub async fn submit(&self, draft: &Draft) -> Result<Submitted, ClientError> {
        let url = self.url(&["v1", "actions"])?;
        let resp = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth()?)
            .json(draft)
            .timeout(REQUEST_MARGIN)
            .send()
            .await?;
        expect_json(resp, StatusCode::CREATED, "submission receipt").await
    }

    /// `GET /v1/actions/{id}`: the draft's current status.
    ///
    /// # Errors
    /// [`ClientError::Api`] with code `not_found` for an unknown id (or another agent's), and
    /// the other variants of [`ClientError`].
    pub async fn status(&self, id: &str) -> Result<ActionStatus, ClientError> {
        let url = self.url(&["v1", "actions", id])?;
        let resp = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.auth()?)
            .timeout(REQUEST_MARGIN)
            .send()
            .await?;
        expect_json(resp, StatusCode::OK, "action status").await
    }

    /// One long-poll: `GET /v1/actions/{id}/decision?wait=S`, where `S` is `wait_s` capped at
    /// [`MAX_WAIT_S`] seconds. `200` means decided (the envelope is present: an approval, a
    /// rejection, or the signed rejection of an expired draft); `202` means still pending
    /// (`envelope` is `None`).
    ///
    /// # Errors
    /// [`ClientError::UnexpectedResponse`] for a 200 without an envelope or a 202 with one,
    /// and the other variants of [`ClientError`].
    pub async fn decision(&self, id: &str, wait_s: u64) -> Result<DecisionResponse, ClientError> {
        let wait_s = wait_s.min(MAX_WAIT_S);
        let mut url = self.url(&["v1", "actions", id, "decision"])?;
        url.query_pairs_mut()
            .append_pair("wait", &wait_s.to_string());
        let resp = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.auth()?)
            .timeout(Duration::from_secs(wait_s) + REQUEST_MARGIN)
            .send()
            .await?;
        let status = resp.status();
        let (code, body) = read_limited(resp).await?;
        let decided = match status {
            StatusCode::OK => true,
            StatusCode::ACCEPTED => false,
            _ => return Err(error_from(code, &body)),
        };
        let answer: DecisionResponse = parse_json(code, &body, "decision response")?;
        match (decided, &answer.envelope) {
            (true, None) => Err(ClientError::UnexpectedResponse {
                status: code,
                detail: "decided (200) but the envelope is null".into(),
            }),
            (false, Some(_)) => Err(ClientError::UnexpectedResponse {
                status: code,
                detail: "still pending (202) but an envelope is present".into(),
            }),
            _ => Ok(answer),
        }
    }

    /// Long-polls until the draft is decided and returns the signed envelope (approval or
    /// rejection: verifying it is the caller's job), or gives up after `timeout`.
    ///
    /// Transient failures ([`ClientError::is_transient`]) are retried with exponential backoff
    /// (250 ms doubling to 4 s) while time remains; other errors end the wait at once.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when `timeout` passes first (carrying the last transient error,
    /// if any); otherwise the first non-transient error.
    pub async fn wait_for_decision(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<Envelope, ClientError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut backoff = BACKOFF_START;
        let mut last_error: Option<ClientError> = None;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout {
                    waited: now - started,
                    last_error: last_error.map(Box::new),
                });
            }
            let wait_s = (deadline - now).as_secs().min(MAX_WAIT_S);
            let poll = tokio::time::timeout_at(deadline, self.decision(id, wait_s)).await;
            match poll {
                Err(_elapsed) => continue,
                Ok(Ok(DecisionResponse {
                    envelope: Some(envelope),
                    ..
                })) => return Ok(envelope),
                Ok(Ok(pending)) => {
                    tracing::debug!(id, status = pending.status.as_str(), "still pending");
                    last_error = None;
                    backoff = BACKOFF_START;
                    sleep_until_or(now + MIN_POLL_INTERVAL, deadline).await;
                }
                Ok(Err(e)) if e.is_transient() => {
                    tracing::debug!(id, error = %e, retry_in_ms = backoff.as_millis() as u64, "transient error while waiting");
                    last_error = Some(e);
                    sleep_until_or(Instant::now() + backoff, deadline).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::Config("base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn auth(&self) -> Result<HeaderValue, ClientError> {
        let value = Zeroizing::new(format!("Bearer {}", *self.token));
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            ClientError::Config("the agent token is not a valid header value".into())
        })?;
        header.set_sensitive(true);
        Ok(header)
    }
}

async fn sleep_until_or(at: Instant, deadline: Instant) {
    tokio::time::sleep_until(at.min(deadline)).await;
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Reads the body, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_limited(mut resp: reqwest::Response) -> Result<(u16, Vec<u8>), ClientError> {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ClientError::UnexpectedResponse {
                status,
                detail: format!("body is larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

async fn expect_json<T: DeserializeOwned>(
    resp: reqwest::Response,
    expected: StatusCode,
    what: &str,
) -> Result<T, ClientError> {
    let ok = resp.status() == expected;
    let (status, body) = read_limited(resp).await?;
    if !ok {
        return Err(error_from(status, &body));
    }
    parse_json(status, &body, what)
}

/// Parses a response strictly (duplicate keys, number range), like every input from outside.
fn parse_json<T: DeserializeOwned>(status: u16, body: &[u8], what: &str) -> Result<T, ClientError> {
    let value = countersign_core::json::parse_strict(body).map_err(|e| {
        ClientError::UnexpectedResponse {
            status,
            detail: format!("{what} is not valid JSON: {e}"),
        }
    })?;
    serde_json::from_value(value).map_err(|e| ClientError::UnexpectedResponse {
        status,
        detail: format!("{what} does not have the documented shape: {e}"),
    })
}

/// An error status: the `{code, message}` body when there is one, else an excerpt.
fn error_from(status: u16, body: &[u8]) -> ClientError {
    match parse_json::<ApiError>(status, body, "error body") {
        Ok(error) => ClientError::Api { status, error },
        Err(_) => ClientError::UnexpectedResponse {
            status,
            detail: format!("no {{code, message}} body; body starts `{}`", excerpt(body)),
        },
    }
}

/// At most 200 characters of a body, with control characters escaped so a hostile body cannot
/// drive the terminal.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(200)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::new("http://127.0.0.1:1", "cs_secret-token".into()).unwrap();
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("cs_secret-token"),
            "the token must not leak into logs: {shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn base_urls_that_could_misroute_the_token_are_refused() {
        for bad in [
            "ftp://127.0.0.1/",
            "http://user:pw@127.0.0.1/",
            "http://127.0.0.1/?x=1",
            "mailto:a@b",
            "not a url",
        ] {
            assert!(
                matches!(Client::new(bad, "t".into()), Err(ClientError::Config(_))),
                "{bad} must be refused before any request is sent"
            );
        }
        assert!(
            matches!(
                Client::new("http://127.0.0.1/", "bad\ntoken".into()),
                Err(ClientError::Config(_))
            ),
            "a token with a newline could inject headers"
        );
    }

    #[test]
    fn routes_keep_a_path_prefix_and_escape_the_id() {
        let client = Client::new("https://broker.example/countersign/", "t".into()).unwrap();
        let url = client.url(&["v1", "actions", "a/b?c", "decision"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://broker.example/countersign/v1/actions/a%2Fb%3Fc/decision",
            "an id must stay one path segment"
        );
    }

    #[test]
    fn excerpts_escape_control_characters() {
        assert_eq!(excerpt(b"a\x1b[31mb"), "a\\u{1b}[31mb");
    }

    #[test]
    fn only_overload_and_transport_errors_are_transient() {
        let api = |status| ClientError::Api {
            status,
            error: ApiError::new(countersign_core::api::ErrorCode::Internal, "x"),
        };
        assert!(api(503).is_transient());
        assert!(api(429).is_transient());
        assert!(
            !api(401).is_transient(),
            "a bad token does not heal by retrying"
        );
        assert!(!api(500).is_transient());
    }
}
