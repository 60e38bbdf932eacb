//! The agent HTTP API (axum). Routes and shapes: [`countersign_core::api`]. There is no route
//! that approves or rejects; decisions come only from the app window.
//!
//! Hardening (ARCHITECTURE.md, trust model §7): loopback listener; exact `Host` allow-list
//! (DNS rebinding); any request with `Origin` or a `Sec-Fetch-*` header refused (browsers);
//! `Content-Type: application/json` required on POST; body size limit; bearer tokens looked up
//! by hash; every error is `{code, message}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use countersign_core::api::{ActionStatus, ApiError, ErrorCode, Health, MAX_WAIT_S};
use countersign_store::AgentRow;

use crate::{Broker, BrokerError};

/// Shared state of the API.
#[derive(Clone)]
struct Api {
    broker: Broker,
    allowed_hosts: Vec<String>,
}

/// An error response: the HTTP status and the `{code, message}` body.
pub struct HttpError(StatusCode, ApiError);

impl HttpError {
    fn new(code: ErrorCode, message: impl Into<String>) -> HttpError {
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

/// The router, for a listener bound to `bound` (used to build the `Host` allow-list).
pub fn router(broker: Broker, bound: SocketAddr) -> Router {
    let port = bound.port();
    let allowed_hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let api = Api {
        broker,
        allowed_hosts,
    };
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/actions", post(submit))
        .route("/v1/actions/{id}", get(status))
        .route("/v1/actions/{id}/decision", get(decision))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(api.clone(), guard))
        .with_state(api)
}

/// Serves the API on `listener` until `shutdown` resolves.
///
/// # Errors
/// IO errors from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    broker: Broker,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    axum::serve(listener, router(broker, bound))
        .with_graceful_shutdown(shutdown)
        .await
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
    next.run(req).await
}

async fn not_found() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such route; see /v1/actions")
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

async fn health() -> Json<Health> {
    Json(Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn authenticate(api: &Api, headers: &HeaderMap) -> Result<AgentRow, HttpError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::Unauthorized,
                "missing `Authorization: Bearer <agent token>`",
            )
        })?
        .to_owned();
    let broker = api.broker.clone();
    let agent = blocking(move || broker.authenticate(&token)).await?;
    agent.ok_or_else(|| HttpError::new(ErrorCode::Unauthorized, "unknown or revoked agent token"))
}

async fn blocking<T: Send + 'static>(
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

async fn submit(State(api): State<Api>, req: Request<Body>) -> Result<Response, HttpError> {
    let (parts, body) = req.into_parts();
    let agent = authenticate(&api, &parts.headers).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(HttpError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type must be application/json, got `{content_type}`"),
        ));
    }
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

async fn status(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ActionStatus>, HttpError> {
    let agent = authenticate(&api, &headers).await?;
    let broker = api.broker.clone();
    let row = blocking(move || broker.status_for(&agent, &id)).await?;
    Ok(Json(ActionStatus {
        id: row.id,
        status: row.status,
        action_digest: row.action_digest,
        expires_at: row.expires_at,
    }))
}

async fn decision(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let agent = authenticate(&api, &headers).await?;
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
