//! A stand-in broker on 127.0.0.1:0 that plays the agent API's routes and answers decisions
//! with envelopes signed by a real approver key, plus helpers to build drafts and decisions.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::action::{Action, ActionKind, Draft};
use countersign_core::api::{
    ActionStatus, ApiError, DecisionResponse, ErrorCode, Health, Status, Submitted,
};
use countersign_core::decision::{Approver, DecisionBody, RiskSummary, Verdict};
use countersign_core::digest::action_digest;
use countersign_core::dsse::Envelope;
use countersign_core::{ApproverKey, TrustedKeys};
use countersign_gate::{Client, Ledger};
use serde_json::{json, Value};

/// The agent the stand-in broker files every draft under.
pub const AGENT: &str = "forum-bot";
/// The only token it accepts.
pub const TOKEN: &str = "cs_test-agent-token";

/// A draft the stand-in broker has filed.
#[derive(Debug, Clone)]
pub struct Filed {
    pub id: String,
    pub action: Action,
}

/// How the stand-in broker answers a decision long-poll: `None` = still pending (202).
pub type Responder = Arc<dyn Fn(&Filed) -> Option<Envelope> + Send + Sync>;

struct Inner {
    filed: Vec<Filed>,
    responder: Responder,
    /// Decision polls to answer with 503 before answering normally.
    unavailable: usize,
    polls: usize,
    waits: Vec<String>,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

/// A running stand-in broker; stops when dropped.
pub struct MockBroker {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockBroker {
    pub async fn start(responder: Responder) -> MockBroker {
        let shared = Shared(Arc::new(Mutex::new(Inner {
            filed: Vec::new(),
            responder,
            unavailable: 0,
            polls: 0,
            waits: Vec::new(),
        })));
        let app = Router::new()
            .route("/v1/health", get(health))
            .route("/v1/actions", post(submit))
            .route("/v1/actions/{id}", get(status))
            .route("/v1/actions/{id}/decision", get(decision))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockBroker { url, shared, task }
    }

    /// Answer the next `n` decision polls with 503.
    pub fn make_unavailable_for(&self, n: usize) {
        self.shared.0.lock().unwrap().unavailable = n;
    }

    pub fn polls(&self) -> usize {
        self.shared.0.lock().unwrap().polls
    }

    /// The `wait` query values the decision route received, in order.
    pub fn waits(&self) -> Vec<String> {
        self.shared.0.lock().unwrap().waits.clone()
    }

    pub fn filed(&self) -> Vec<Filed> {
        self.shared.0.lock().unwrap().filed.clone()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url, TOKEN.into()).unwrap()
    }
}

fn api_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(ApiError::new(code, message))).into_response()
}

/// The 401 answer for a request without the fixture's token, `None` when it has it.
fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if ok {
        None
    } else {
        Some(api_error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "unknown or revoked agent token",
        ))
    }
}

async fn health() -> Json<Health> {
    Json(Health {
        ok: true,
        version: "test".into(),
    })
}

async fn submit(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/json",
        );
    }
    let draft = match Draft::parse(&body) {
        Ok(d) => d,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                &e.to_string(),
            )
        }
    };
    let action = draft.action();
    let filed = Filed {
        id: uuid::Uuid::new_v4().to_string(),
        action: action.clone(),
    };
    s.0.lock().unwrap().filed.push(filed.clone());
    let submitted = Submitted {
        id: filed.id,
        status: Status::Pending,
        agent: AGENT.into(),
        action_digest: action_digest(&action).to_string(),
        risk: countersign_core::risk::score(&action),
        expires_at: countersign_gate::unix_now() + draft.expires_in_s() as i64,
    };
    (StatusCode::CREATED, Json(submitted)).into_response()
}

fn find(s: &Shared, id: &str) -> Option<Filed> {
    s.0.lock()
        .unwrap()
        .filed
        .iter()
        .find(|f| f.id == id)
        .cloned()
}

async fn status(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    if id == "plain-text-error" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<html>\u{1b}[31mboom</html>",
        )
            .into_response();
    }
    match find(&s, &id) {
        Some(f) => Json(ActionStatus {
            id: f.id,
            status: Status::Pending,
            action_digest: action_digest(&f.action).to_string(),
            expires_at: countersign_gate::unix_now() + 900,
        })
        .into_response(),
        None => api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such draft"),
    }
}

async fn decision(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let responder = {
        let mut inner = s.0.lock().unwrap();
        inner.polls += 1;
        inner
            .waits
            .push(query.get("wait").cloned().unwrap_or_default());
        if inner.unavailable > 0 {
            inner.unavailable -= 1;
            drop(inner);
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal,
                "restarting",
            );
        }
        inner.responder.clone()
    };
    let Some(filed) = find(&s, &id) else {
        return api_error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such draft");
    };
    match responder(&filed) {
        Some(envelope) => (
            StatusCode::OK,
            Json(DecisionResponse {
                id,
                status: Status::Approved,
                envelope: Some(envelope),
            }),
        )
            .into_response(),
        None => (
            StatusCode::ACCEPTED,
            Json(DecisionResponse {
                id,
                status: Status::Pending,
                envelope: None,
            }),
        )
            .into_response(),
    }
}

/// The approver, and the trust list a gate pins for them.
pub struct Keys {
    pub approver: Arc<ApproverKey>,
    pub trusted: TrustedKeys,
}

pub fn keys() -> Keys {
    let approver = ApproverKey::generate();
    let trusted = TrustedKeys::from_keys(vec![approver.trusted_key("ana", "approver")]).unwrap();
    Keys {
        approver: Arc::new(approver),
        trusted,
    }
}

/// A fresh decision body for `filed`, for the fixture's agent, valid for 5 minutes from now.
pub fn body_for(filed: &Filed, key: &ApproverKey, verdict: Verdict) -> DecisionBody {
    let now = countersign_gate::unix_now();
    DecisionBody {
        v: 1,
        verdict,
        reason: match verdict {
            Verdict::Approved => None,
            Verdict::Rejected => Some("grants too broad".into()),
        },
        action_id: filed.id.clone(),
        agent: AGENT.into(),
        action: filed.action.clone(),
        action_digest: action_digest(&filed.action).to_string(),
        approver: Approver {
            keyid: key.key_id(),
            name: "ana".into(),
        },
        risk: RiskSummary {
            score: 10,
            level: countersign_core::RiskLevel::Low,
        },
        policy_sha256: None,
        iat: now,
        exp: now + 300,
        jti: uuid::Uuid::new_v4().to_string(),
    }
}

/// A responder that signs whatever `edit` makes of a fresh approval.
pub fn answer_with(
    key: &Arc<ApproverKey>,
    edit: impl Fn(&mut DecisionBody) + Send + Sync + 'static,
) -> Responder {
    let key = key.clone();
    Arc::new(move |filed: &Filed| {
        let mut body = body_for(filed, &key, Verdict::Approved);
        edit(&mut body);
        Some(body.sign(&key))
    })
}

/// A responder that approves every draft as submitted.
pub fn approve_all(key: &Arc<ApproverKey>) -> Responder {
    answer_with(key, |_| {})
}

/// A responder for which nothing is ever decided.
pub fn never_decide() -> Responder {
    Arc::new(|_: &Filed| None)
}

/// Replaces the first occurrence of `from` in the envelope's decoded payload with `to`,
/// keeping the signature as it was.
pub fn tamper(envelope: &Envelope, from: &str, to: &str) -> Envelope {
    let body = String::from_utf8(B64.decode(&envelope.payload).unwrap()).unwrap();
    assert!(
        body.contains(from),
        "`{from}` must be in the signed body to tamper with it"
    );
    let mut tampered = envelope.clone();
    tampered.payload = B64.encode(body.replacen(from, to, 1));
    tampered
}

/// A `shell.exec` draft running `argv` directly.
pub fn shell_draft(argv: &[&str]) -> Draft {
    draft(
        ActionKind::ShellExec,
        json!({ "argv": argv }),
        "run a command",
    )
}

pub fn draft(kind: ActionKind, payload: Value, summary: &str) -> Draft {
    Draft {
        kind,
        target: "host://build-box".into(),
        summary: summary.into(),
        payload,
        before: None,
        callback_url: None,
        expires_in_s: Some(60),
    }
}

/// A `sh -c '… > FILE'` argv writing `text` into `file`.
pub fn write_file_argv(file: &Path, text: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo {text} > '{}'", file.display()),
    ]
}

/// Everything one gated run needs: a broker, a client, pinned keys and a ledger in a temp dir.
pub struct Fixture {
    pub broker: MockBroker,
    pub client: Client,
    pub keys: Keys,
    pub ledger: Ledger,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture whose broker answers with `responder(keys)`.
    pub async fn new(responder: impl FnOnce(&Keys) -> Responder) -> Fixture {
        let keys = keys();
        let broker = MockBroker::start(responder(&keys)).await;
        let client = broker.client();
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_in(&dir.path().join("state")).unwrap();
        Fixture {
            broker,
            client,
            keys,
            ledger,
            dir,
        }
    }

    /// A path in the fixture's temp dir.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}
