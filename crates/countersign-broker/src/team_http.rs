//! The team API (`/v1/team/…`), served next to the agent API by `countersign serve
//! --team-roster`. Approvers' apps log in with an Ed25519 challenge, read the queue, follow it
//! as Server-Sent Events, claim drafts, and upload signatures; the server never holds their
//! keys. Shapes: [`countersign_core::team`].
//!
//! | Method, path | Auth | Body → answer |
//! |---|---|---|
//! | `GET /v1/team/roster` | none | → [`RosterDocument`] |
//! | `POST /v1/team/login/challenge` | none | [`ChallengeRequest`] → [`LoginChallenge`] |
//! | `POST /v1/team/login` | none | [`LoginRequest`] → [`TeamSession`] |
//! | `POST /v1/team/logout` | session | → 204 |
//! | `GET /v1/team/policy` | session | → [`PolicyDocument`] |
//! | `GET /v1/team/drafts` | session | → `[TeamDraft]` |
//! | `GET /v1/team/drafts/{id}` | session | → [`TeamDraftDetail`] |
//! | `POST`/`DELETE /v1/team/drafts/{id}/claim` | session | → [`Claim`] / 204 |
//! | `POST /v1/team/drafts/{id}/signatures` | session | [`SignatureUpload`] → [`SignOutcome`] |
//! | `GET /v1/team/events` | session | → `text/event-stream` of [`TeamEvent`] |
//!
//! The agent API's guards apply (Host allow-list, browsers refused, request deadline, every
//! error `{code, message}`); requests without a valid session share the unauthenticated
//! request limits with the agent API.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use countersign_core::api::ErrorCode;
use countersign_core::team::{
    ChallengeRequest, LoginRequest, RosterDocument, SignatureUpload, TeamEvent,
};
#[allow(unused_imports)]
use countersign_core::team::{
    Claim, LoginChallenge, PolicyDocument, SignOutcome, TeamDraftDetail, TeamSession,
};
use futures_util::stream::{self, Stream};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use crate::http::{bearer_token, blocking, require_json, Api, HttpError, Source};
use crate::{Member, Team};

/// Largest team request body other than a signature upload, in bytes.
const MAX_SMALL_BODY: usize = 64 * 1024;

/// The team routes, to merge into the agent API's router (same state and guards).
pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/team/roster", get(roster))
        .route("/v1/team/login/challenge", post(challenge))
        .route("/v1/team/login", post(login))
        .route("/v1/team/logout", post(logout))
        .route("/v1/team/policy", get(policy))
        .route("/v1/team/drafts", get(drafts))
        .route("/v1/team/drafts/{id}", get(draft))
        .route("/v1/team/drafts/{id}/claim", post(claim).delete(release))
        .route("/v1/team/drafts/{id}/signatures", post(sign))
        .route("/v1/team/events", get(events))
}

fn team_of(api: &Api) -> Result<Arc<Team>, HttpError> {
    api.team.clone().ok_or_else(|| {
        HttpError::new(
            ErrorCode::NotFound,
            "this broker does not serve a team (start it with --team-roster)",
        )
    })
}

/// A strict JSON body of at most `limit` bytes with `Content-Type: application/json`.
async fn json_body<T: DeserializeOwned>(req: Request<Body>, limit: usize) -> Result<T, HttpError> {
    let (parts, body) = req.into_parts();
    require_json(&parts.headers)?;
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        HttpError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is over the {limit}-byte limit"),
        )
    })?;
    let value = countersign_core::json::parse_strict(&bytes)
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("body: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("body: {e}")))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).map(str::to_owned)
}

/// The approver of the request's session, after the unauthenticated-request limits.
async fn member(api: &Api, source: &Source, headers: &HeaderMap) -> Result<Member, HttpError> {
    let team = team_of(api)?;
    api.admit_unauthenticated(source)?;
    let Some(token) = bearer(headers) else {
        api.charge_unauthenticated(source);
        return Err(HttpError::new(
            ErrorCode::Unauthorized,
            "missing `Authorization: Bearer <approver session>`; log in at /v1/team/login",
        ));
    };
    let result = blocking(move || team.authenticate(&token)).await;
    if result.is_err() {
        api.charge_unauthenticated(source);
    }
    result
}

async fn roster(State(api): State<Api>) -> Result<Json<RosterDocument>, HttpError> {
    let team = team_of(&api)?;
    Ok(Json(blocking(move || team.roster_document()).await?))
}

async fn challenge(
    State(api): State<Api>,
    source: Source,
    req: Request<Body>,
) -> Result<Json<LoginChallenge>, HttpError> {
    let team = team_of(&api)?;
    api.admit_unauthenticated(&source)?;
    let body: ChallengeRequest = json_body(req, MAX_SMALL_BODY).await?;
    let result = blocking(move || team.challenge(&body.keyid)).await;
    if result.is_err() {
        api.charge_unauthenticated(&source);
    }
    Ok(Json(result?))
}

async fn login(
    State(api): State<Api>,
    source: Source,
    req: Request<Body>,
) -> Result<Response, HttpError> {
    let team = team_of(&api)?;
    api.admit_unauthenticated(&source)?;
    let body: LoginRequest = json_body(req, MAX_SMALL_BODY).await?;
    let result = blocking(move || team.login(&body)).await;
    if result.is_err() {
        api.charge_unauthenticated(&source);
    }
    Ok((StatusCode::CREATED, Json(result?)).into_response())
}

async fn logout(
    State(api): State<Api>,
    source: Source,
    headers: HeaderMap,
) -> Result<StatusCode, HttpError> {
    member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    let token = bearer(&headers).unwrap_or_default();
    blocking(move || team.logout(&token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn policy(
    State(api): State<Api>,
    source: Source,
    headers: HeaderMap,
) -> Result<Json<PolicyDocument>, HttpError> {
    member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    Ok(Json(blocking(move || team.policy_document()).await?))
}

async fn drafts(
    State(api): State<Api>,
    source: Source,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    Ok(Json(blocking(move || team.drafts()).await?).into_response())
}

async fn draft(
    State(api): State<Api>,
    Path(id): Path<String>,
    source: Source,
    headers: HeaderMap,
) -> Result<Json<TeamDraftDetail>, HttpError> {
    member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    Ok(Json(blocking(move || team.draft(&id)).await?))
}

async fn claim(
    State(api): State<Api>,
    Path(id): Path<String>,
    source: Source,
    headers: HeaderMap,
) -> Result<Json<Claim>, HttpError> {
    let m = member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    Ok(Json(blocking(move || team.claim(&m, &id)).await?))
}

async fn release(
    State(api): State<Api>,
    Path(id): Path<String>,
    source: Source,
    headers: HeaderMap,
) -> Result<StatusCode, HttpError> {
    let m = member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    blocking(move || team.release(&m, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sign(
    State(api): State<Api>,
    Path(id): Path<String>,
    source: Source,
    req: Request<Body>,
) -> Result<Json<SignOutcome>, HttpError> {
    let m = member(&api, &source, req.headers()).await?;
    let team = team_of(&api)?;
    // The payload carries the whole action: the agent API's body limit, base64-encoded, plus
    // room for the rest.
    let limit = api.max_body_bytes() / 3 * 4 + MAX_SMALL_BODY;
    let upload: SignatureUpload = json_body(req, limit).await?;
    Ok(Json(blocking(move || team.sign(&m, &id, &upload)).await?))
}

/// `GET /v1/team/events`: a [`TeamEvent::Snapshot`] first, then every change; `notify` is
/// computed for the session's approver ([`Team::notifies`]). A keep-alive comment every 15 s.
async fn events(
    State(api): State<Api>,
    source: Source,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, HttpError> {
    let m = member(&api, &source, &headers).await?;
    let team = team_of(&api)?;
    let rx = team.subscribe();
    let t = team.clone();
    let drafts = blocking(move || t.drafts()).await?;
    let first = TeamEvent::Snapshot { drafts };
    let state = (Some(first), rx, team, m);
    let stream = stream::unfold(state, |(first, mut rx, team, m)| async move {
        if let Some(ev) = first {
            return Some((Ok(to_sse(&ev)), (None, rx, team, m)));
        }
        let ev = match rx.recv().await {
            Ok(TeamEvent::Pending { draft, notify }) => {
                let notify = notify || Team::notifies(&m, &draft);
                TeamEvent::Pending { draft, notify }
            }
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let t = team.clone();
                let drafts = tokio::task::spawn_blocking(move || t.drafts())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                TeamEvent::Snapshot { drafts }
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(to_sse(&ev)), (None, rx, team, m)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_sse(ev: &TeamEvent) -> Event {
    let name = match ev {
        TeamEvent::Snapshot { .. } => "snapshot",
        TeamEvent::Pending { .. } => "pending",
        TeamEvent::Decided { .. } => "decided",
    };
    Event::default()
        .event(name)
        .data(serde_json::to_string(ev).unwrap_or_default())
}
