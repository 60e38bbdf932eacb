//! The agent HTTP API (axum). Routes and shapes: [`countersign_core::api`]. There is no route
//! that approves or rejects; decisions come only from the app window.
//!
//! Hardening (ARCHITECTURE.md, trust model §7): loopback listener; exact `Host` allow-list
//! (DNS rebinding); any request with `Origin` or a `Sec-Fetch-*` header refused (browsers);
//! `Content-Type: application/json` required on POST; body size limit; bearer tokens looked up
//! by hash; a token bucket per agent ([`ApiConfig::burst`], [`ApiConfig::per_second`]: one
//! agent's flood gets 429 while the others go on); requests without a valid token limited by
//! a global bucket and one per source address ([`ApiConfig::unauthenticated_burst`],
//! [`ApiConfig::per_source_burst`]: a flood of bad tokens gets 429 without reaching the
//! database, while tokens that authenticated before are never held by those buckets); a
//! deadline on every request
//! ([`ApiConfig::request_timeout`], 408: a client that trickles its body cannot hold a worker);
//! every error is `{code, message}`. [`serve_unix`] offers the same API on a Unix domain socket
//! (mode 0600, connections from other users refused).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use countersign_core::action::Draft;
use countersign_core::api::{
    ActionStatus, ApiError, DecisionResponse, ErrorCode, Health, Submitted, MAX_WAIT_S,
};
use countersign_store::AgentRow;

use crate::limits::{Limited, RateLimiter, Unauthenticated};
use crate::{Broker, BrokerError};

/// Limits of the agent API (the body size and pending cap are in [`crate::BrokerConfig`]).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Requests one agent may make at once before it is throttled: the token bucket's
    /// capacity (default 256).
    pub burst: u32,
    /// Requests per second one agent may sustain: the bucket's refill rate (default 64).
    pub per_second: f64,
    /// Longest a request may take, reading its body included (default 10 s); a long poll gets
    /// its `wait` on top.
    pub request_timeout: Duration,
    /// Requests without a valid token (missing, or unknown to the store) the whole API answers
    /// with 401 in a burst, from all sources together (default 64); past it, such requests get
    /// 429 without a database lookup. A token that authenticated before skips this check.
    pub unauthenticated_burst: u32,
    /// Refill rate of that global bucket, per second (default 16).
    pub unauthenticated_per_second: f64,
    /// The same limit per source (the peer's IP address; all Unix socket clients are one
    /// source), so one source's flood leaves other sources their share (default 32).
    pub per_source_burst: u32,
    /// Refill rate of each source's bucket, per second (default 8).
    pub per_source_per_second: f64,
    /// Further `Host` values accepted besides the loopback names (team mode: the name and
    /// port clients use to reach the server, e.g. `countersign.example.com:8443`).
    pub hosts: Vec<String>,
    /// Team mode: serve the team API (`/v1/team/…`, see [`crate::team_http`]) too.
    pub team: Option<Arc<crate::Team>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            burst: 256,
            per_second: 64.0,
            request_timeout: Duration::from_secs(10),
            unauthenticated_burst: 64,
            unauthenticated_per_second: 16.0,
            per_source_burst: 32,
            per_source_per_second: 8.0,
            hosts: Vec::new(),
            team: None,
        }
    }
}

/// Shared state of the API.
#[derive(Clone)]
pub(crate) struct Api {
    broker: Broker,
    allowed_hosts: Vec<String>,
    config: Arc<ApiConfig>,
    limiter: Arc<RateLimiter>,
    unauthenticated: Arc<Unauthenticated>,
    pub(crate) team: Option<Arc<crate::Team>>,
}

impl Api {
    /// Refuses a request without valid credentials when its source (or everyone) is over
    /// the unauthenticated-request limit.
    pub(crate) fn admit_unauthenticated(&self, source: &Source) -> Result<(), HttpError> {
        self.unauthenticated
            .admit(&source.0, &self.config)
            .map_err(too_many_failures)
    }

    /// Counts a request whose credentials were refused against its source's limit.
    pub(crate) fn charge_unauthenticated(&self, source: &Source) {
        self.unauthenticated.charge(&source.0, &self.config);
    }

    /// The agent API's body limit, in bytes.
    pub(crate) fn max_body_bytes(&self) -> usize {
        self.broker.config().max_body_bytes
    }
}

/// An error response: the HTTP status and the `{code, message}` body.
pub struct HttpError(StatusCode, ApiError);

impl HttpError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
        HttpError(status_of(code), ApiError::new(code, message))
    }
}

/// The HTTP status for an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Expired => StatusCode::GONE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        // Never produced by the agent API (the approver's dialog is in the app).
        ErrorCode::Cancelled => StatusCode::CONFLICT,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<BrokerError> for HttpError {
    fn from(e: BrokerError) -> HttpError {
        if let BrokerError::Store(inner) = &e {
            tracing::error!("store error: {inner}");
        }
        let api = ApiError::from(&e);
        HttpError(status_of(api.code), api)
    }
}

/// The router, for a listener bound to `bound` (used to build the `Host` allow-list), with
/// the default [`ApiConfig`].
pub fn router(broker: Broker, bound: SocketAddr) -> Router {
    router_with(broker, bound, ApiConfig::default())
}

/// The router for a TCP listener bound to `bound`, with `config`'s limits.
pub fn router_with(broker: Broker, bound: SocketAddr, config: ApiConfig) -> Router {
    let port = bound.port();
    let mut allowed_hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    allowed_hosts.extend(config.hosts.iter().cloned());
    router_for(broker, allowed_hosts, config)
}

fn router_for(broker: Broker, allowed_hosts: Vec<String>, config: ApiConfig) -> Router {
    let api = Api {
        broker,
        allowed_hosts,
        team: config.team.clone(),
        config: Arc::new(config),
        limiter: Arc::default(),
        unauthenticated: Arc::default(),
    };
    let team = if api.team.is_some() {
        crate::team_http::routes()
    } else {
        Router::new()
    };
    Router::new()
        .merge(team)
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/actions", post(submit))
        .route("/v1/actions/{id}", get(status))
        .route("/v1/actions/{id}/decision", get(decision))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(api.clone(), guard))
        .with_state(api)
}

/// Serves the API on `listener` until `shutdown` resolves, with the default [`ApiConfig`].
///
/// # Errors
/// IO errors from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    broker: Broker,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, broker, ApiConfig::default(), shutdown).await
}

/// Serves the API on `listener` with `config`'s limits until `shutdown` resolves.
///
/// # Errors
/// IO errors from the listener.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    broker: Broker,
    config: ApiConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    // The peer address is the source of the unauthenticated-request limit.
    let app =
        router_with(broker, bound, config).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The `Host` a client on the Unix socket sends (curl and most HTTP clients send `localhost`).
pub const UNIX_SOCKET_HOST: &str = "localhost";

/// Serves the API on a Unix domain socket at `path` until `shutdown` resolves: the socket is
/// created with mode 0600, and a connection from a process of another user is closed
/// unanswered (its peer credentials are checked, so the moment between bind and chmod is no
/// window). A stale socket at `path` is replaced; any other file there is an error. The only
/// `Host` accepted is [`UNIX_SOCKET_HOST`]; browsers cannot reach a Unix socket, and the
/// `Origin`/`Sec-Fetch-*` refusal applies as on TCP.
///
/// # Errors
/// IO errors binding or serving, or `AlreadyExists` when `path` is not a socket.
#[cfg(unix)]
pub async fn serve_unix(
    path: PathBuf,
    broker: Broker,
    config: ApiConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
    let path = path.as_path();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(_) => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let owner = std::fs::metadata(path)?.uid();
    let router = router_for(broker, vec![UNIX_SOCKET_HOST.into()], config);
    axum::serve(OwnerOnly { listener, owner }, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A Unix listener that drops connections from processes of other users.
#[cfg(unix)]
struct OwnerOnly {
    listener: tokio::net::UnixListener,
    owner: u32,
}

#[cfg(unix)]
impl axum::serve::Listener for OwnerOnly {
    type Io = tokio::net::UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => match stream.peer_cred() {
                    Ok(cred) if cred.uid() == self.owner => return (stream, addr),
                    Ok(cred) => {
                        tracing::warn!(
                            uid = cred.uid(),
                            "refused a Unix socket connection from another user"
                        );
                    }
                    Err(e) => tracing::warn!("Unix socket peer credentials: {e}"),
                },
                Err(e) => {
                    tracing::warn!("Unix socket accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Refuses requests browsers could make and requests for other hosts.
async fn guard(State(api): State<Api>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if headers.contains_key(header::ORIGIN)
        || headers.keys().any(|k| k.as_str().starts_with("sec-fetch-"))
    {
        return HttpError::new(
            ErrorCode::Forbidden,
            "requests from web browsers are refused (Origin or Sec-Fetch-* header present)",
        )
        .into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !api.allowed_hosts.iter().any(|a| a == host) {
        return HttpError::new(
            ErrorCode::Forbidden,
            format!(
                "Host `{host}` is not allowed; use one of {}",
                api.allowed_hosts.join(", ")
            ),
        )
        .into_response();
    }
    // A long poll may legitimately take its `wait` (at most MAX_WAIT_S); everything else, and
    // the reading of a body, gets the request timeout.
    let mut limit = api.config.request_timeout;
    if req.uri().path().ends_with("/decision") {
        limit += Duration::from_secs(MAX_WAIT_S);
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => HttpError(
            StatusCode::REQUEST_TIMEOUT,
            ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "request not completed within {} ms; nothing was recorded unless a 201 says so",
                    limit.as_millis()
                ),
            ),
        )
        .into_response(),
    }
}

async fn not_found() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> HttpError {
    HttpError(
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::new(
            ErrorCode::NotFound,
            "method not allowed on this route (there is no approve route)",
        ),
    )
}

#[utoipa::path(get, path = "/v1/health", tag = "meta", responses(
        (status = 200, description = "The broker answers", body = Health),
        (status = 403, description = "A browser's request (`Origin` or `Sec-Fetch-*`) or a `Host` not allowed", body = ApiError),
        (status = 408, description = "Not completed within the request deadline", body = ApiError),
    ))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Where a request comes from, for the unauthenticated-request limit: the peer's IP address
/// on TCP (served with connect info), else one shared source.
#[derive(Debug, Clone)]
pub(crate) struct Source(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let tcp = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let tls = parts
            .extensions
            .get::<ConnectInfo<crate::tls::TlsPeer>>()
            .map(|c| c.0 .0);
        Ok(Source(tcp.or(tls).map_or_else(
            || "local socket".to_owned(),
            |a| a.ip().to_string(),
        )))
    }
}

fn too_many_failures(l: Limited) -> HttpError {
    HttpError::new(
        ErrorCode::RateLimited,
        format!(
            "too many requests without a valid agent token {} (burst {}, {}/s); retry in {} ms",
            l.scope,
            l.rate.burst,
            l.rate.per_second,
            l.wait.as_millis().min(3_600_000)
        ),
    )
}

/// Refuses a body whose `Content-Type` is not `application/json` (a CSRF form post, a typo).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), HttpError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(HttpError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type must be application/json, got `{content_type}`"),
        ))
    }
}

/// The token of an `Authorization: Bearer <token>` header, if any (trimmed, non-empty).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The agent a request's bearer token names, after the unauthenticated-request limits (for a
/// token not seen to authenticate before) and the agent's own rate limit.
async fn authenticate(
    api: &Api,
    source: &Source,
    headers: &HeaderMap,
) -> Result<AgentRow, HttpError> {
    let token = bearer_token(headers);
    let limits = &api.unauthenticated;
    let Some(token) = token else {
        limits
            .admit(&source.0, &api.config)
            .map_err(too_many_failures)?;
        limits.charge(&source.0, &api.config);
        return Err(HttpError::new(
            ErrorCode::Unauthorized,
            "missing `Authorization: Bearer <agent token>`",
        ));
    };
    let hash = countersign_store::hash_token(token);
    if !limits.is_known(&hash) {
        limits
            .admit(&source.0, &api.config)
            .map_err(too_many_failures)?;
    }
    let broker = api.broker.clone();
    let token = token.to_owned();
    let agent = blocking(move || broker.authenticate(&token)).await?;
    limits.remember(hash, agent.is_some());
    let Some(agent) = agent else {
        limits.charge(&source.0, &api.config);
        return Err(HttpError::new(
            ErrorCode::Unauthorized,
            "unknown or revoked agent token",
        ));
    };
    api.limiter
        .take(&agent.id, api.config.agent_rate())
        .map_err(|retry| {
            HttpError::new(
                ErrorCode::RateLimited,
                format!(
                    "agent `{}` is over its rate limit of {} requests/s (burst {}); retry in {} ms",
                    agent.name,
                    api.config.per_second,
                    api.config.burst,
                    retry.as_millis().min(3_600_000)
                ),
            )
        })?;
    Ok(agent)
}

/// The OpenAPI 3.1 document of this API ([`crate::openapi`]).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses(
        (status = 200, description = "This API's OpenAPI 3.1 document", content_type = "application/json", body = Object),
        (status = 403, description = "A browser's request (`Origin` or `Sec-Fetch-*`) or a `Host` not allowed", body = ApiError),
        (status = 408, description = "Not completed within the request deadline", body = ApiError),
    ))]
pub(crate) async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::openapi_json(),
    )
        .into_response()
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, HttpError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            HttpError::new(
                ErrorCode::Internal,
                "internal task failed; nothing was recorded",
            )
        })?
        .map_err(HttpError::from)
}

#[utoipa::path(post, path = "/v1/actions", tag = "actions",
    request_body(content = Draft, content_type = "application/json", example = json!({
        "kind": "shell.exec", "target": "host://build-01", "summary": "Clean the build cache",
        "payload": {"argv": ["rm", "-rf", "/var/cache/build"]}
    })),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Committed; pending unless the policy decided it at once", body = Submitted,
            links(
                ("status" = (operation_id = "status", parameters(("id" = "$response.body#/id")),
                    description = "The draft's status, by the `id` of this answer")),
                ("decision" = (operation_id = "decision", parameters(("id" = "$response.body#/id")),
                    description = "The draft's signed decision, by the `id` of this answer")),
            )),
        (status = 400, description = "Malformed or invalid draft; the message says where", body = ApiError),
        (status = 401, description = "Missing, unknown or revoked bearer token", body = ApiError),
        (status = 403, description = "A browser's request (`Origin` or `Sec-Fetch-*`) or a `Host` not allowed", body = ApiError),
        (status = 408, description = "Not completed within the request deadline", body = ApiError),
        (status = 429, description = "The agent is over its rate limit or its cap of pending drafts, or too many requests came without a valid token", body = ApiError),
        (status = 500, description = "Countersign could not complete it; nothing was approved", body = ApiError),
        (status = 409, description = "Conflict", body = ApiError),
        (status = 413, description = "Body over the size limit (8 MiB by default)", body = ApiError),
        (status = 415, description = "`Content-Type` is not `application/json`", body = ApiError),
    ))]
pub(crate) async fn submit(
    State(api): State<Api>,
    source: Source,
    req: Request<Body>,
) -> Result<Response, HttpError> {
    let (parts, body) = req.into_parts();
    let agent = authenticate(&api, &source, &parts.headers).await?;
    require_json(&parts.headers)?;
    let limit = api.broker.config().max_body_bytes;
    let too_large = || {
        HttpError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is over the {limit}-byte limit"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes = to_bytes(body, limit).await.map_err(|_| too_large())?;
    let broker = api.broker.clone();
    let submitted = blocking(move || broker.submit(&agent, &bytes)).await?;
    Ok((StatusCode::CREATED, Json(submitted)).into_response())
}

#[utoipa::path(get, path = "/v1/actions/{id}", tag = "actions",
    params(("id" = String, Path, description = "Draft id from the 201 answer")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The draft's status", body = ActionStatus),
        (status = 400, description = "Malformed id", body = ApiError),
        (status = 401, description = "Missing, unknown or revoked bearer token", body = ApiError),
        (status = 403, description = "A browser's request (`Origin` or `Sec-Fetch-*`) or a `Host` not allowed", body = ApiError),
        (status = 408, description = "Not completed within the request deadline", body = ApiError),
        (status = 429, description = "The agent is over its rate limit or its cap of pending drafts, or too many requests came without a valid token", body = ApiError),
        (status = 500, description = "Countersign could not complete it; nothing was approved", body = ApiError),
        (status = 404, description = "No such draft for this agent", body = ApiError),
    ))]
pub(crate) async fn status(
    State(api): State<Api>,
    Path(id): Path<String>,
    source: Source,
    headers: HeaderMap,
) -> Result<Json<ActionStatus>, HttpError> {
    let agent = authenticate(&api, &source, &headers).await?;
    let broker = api.broker.clone();
    let row = blocking(move || broker.status_for(&agent, &id)).await?;
    Ok(Json(ActionStatus {
        id: row.id,
        status: row.status,
        action_digest: row.action_digest,
        expires_at: row.expires_at,
    }))
}

#[utoipa::path(get, path = "/v1/actions/{id}/decision", tag = "actions",
    params(("id" = String, Path, description = "Draft id from the 201 answer"),
           ("wait" = Option<u64>, Query, minimum = 0, maximum = 60,
            description = "Seconds to wait for a decision (long poll), 0 to 60; default 0")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Decided: the signed envelope", body = DecisionResponse),
        (status = 202, description = "Still pending: `envelope` is null", body = DecisionResponse),
        (status = 400, description = "Malformed id, unknown query parameter or bad `wait`", body = ApiError),
        (status = 401, description = "Missing, unknown or revoked bearer token", body = ApiError),
        (status = 403, description = "A browser's request (`Origin` or `Sec-Fetch-*`) or a `Host` not allowed", body = ApiError),
        (status = 408, description = "Not completed within the request deadline", body = ApiError),
        (status = 429, description = "The agent is over its rate limit or its cap of pending drafts, or too many requests came without a valid token", body = ApiError),
        (status = 500, description = "Countersign could not complete it; nothing was approved", body = ApiError),
        (status = 404, description = "No such draft for this agent", body = ApiError),
        (status = 410, description = "Expired", body = ApiError),
    ))]
pub(crate) async fn decision(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    source: Source,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let agent = authenticate(&api, &source, &headers).await?;
    if let Some(k) = query.keys().find(|k| k.as_str() != "wait") {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("unknown query parameter `{k}`; only `wait`"),
        ));
    }
    let wait = match query.get("wait") {
        None => 0,
        Some(w) => w
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_S)
            .ok_or_else(|| {
                HttpError::new(
                    ErrorCode::BadRequest,
                    format!("`wait` must be whole seconds from 0 to {MAX_WAIT_S}, got `{w}`"),
                )
            })?,
    };
    let response = api
        .broker
        .wait_decision(&agent, &id, Duration::from_secs(wait))
        .await
        .map_err(HttpError::from)?;
    let code = if response.envelope.is_some() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(response)).into_response())
}
