//! The approver's side of the team API ([`crate::team_http`]), shared by `countersign team …`
//! and the desktop app: log in with the approver key (Ed25519 challenge, no password), read
//! and follow the queue, claim, and decide by signing locally and uploading one signature.
//! The key never leaves this machine.
//!
//! What is checked here rather than trusted from the server:
//! - the roster must verify against the lead keys pinned in the lead trust file
//!   ([`VerifiedRoster::verify`]), its serial never below the one seen before from the same
//!   server (no rollback), and this key must be a live member of it;
//! - a login challenge must name the roster's team and this key;
//! - the action shown must hash to the digest named ([`check_digest`]), and to the digest the
//!   approver reviewed;
//! - an approval awaiting more signatures is co-signed only when its body is for the draft
//!   shown ([`body_to_sign`]).
//!
//! The session (server URL, CA file, bearer token, roster serial seen) is kept in
//! `<data dir>/team-session.json` (mode 0600, [`save_session`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::api::{ApiError, ErrorCode};
use countersign_core::decision::{
    parse_body, Approver, RiskSummary, Verdict, DECISION_LIFETIME_S, DECISION_PAYLOAD_TYPE,
};
use countersign_core::digest::{action_digest, canonical_json};
use countersign_core::dsse::{pae, Signature};
use countersign_core::team::{
    ChallengeRequest, Claim, LoginChallenge, LoginRequest, PolicyDocument, RosterDocument,
    RosterError, SignOutcome, SignatureUpload, TeamDraft, TeamDraftDetail, TeamEvent, TeamSession,
    VerifiedRoster,
};
use countersign_core::{ApproverKey, DecisionBody, TrustedKeys};
use serde::{Deserialize, Serialize};

/// The session file in the data dir.
pub const SESSION_FILE: &str = "team-session.json";

/// Deadline of each request other than the event stream.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The server sends a keep-alive comment every 15 s: a stream silent for this long is dead.
pub const EVENT_SILENCE: Duration = Duration::from_secs(45);

/// Largest single event read from the stream, in bytes (a snapshot of a full queue fits).
const MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// An approver session as saved on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSession {
    /// Base URL of the team server, without a trailing `/`.
    pub server: String,
    /// Extra CA certificate (PEM) trusted for the server's TLS certificate.
    pub ca_cert: Option<PathBuf>,
    /// The lead trust file the roster was verified against (to log in again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_trust: Option<PathBuf>,
    /// The session the server issued (the bearer token included).
    pub session: TeamSession,
    /// The roster serial verified at login: a later login refuses an older one.
    pub roster_serial: u64,
}

/// Why a team operation failed. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TeamClientError {
    /// A bad argument: the URL, a file that cannot be read.
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached (refused, timed out, TLS failed).
    #[error("cannot reach the team server at {server}: {cause}")]
    Unreachable {
        /// The server URL.
        server: String,
        /// What failed, with its causes.
        cause: String,
    },
    /// The roster the server offers does not verify against the pinned lead keys.
    #[error("the server's roster does not verify against {trust}: {cause}")]
    Roster {
        /// The lead trust file.
        trust: String,
        /// Why.
        cause: RosterError,
    },
    /// The server offers an older roster than the one seen before.
    #[error("the server offers roster serial {offered}, older than serial {seen} seen before: refusing a rollback")]
    Rollback {
        /// The serial offered.
        offered: u64,
        /// The serial seen at the last login.
        seen: u64,
    },
    /// This approver key is not a live member of the team's roster.
    #[error("this approver key ({keyid}) is not a live key of team `{team}`'s roster (serial {serial}); ask a lead to add `countersign key export-public` to it")]
    NotInRoster {
        /// This key's id.
        keyid: String,
        /// The team.
        team: String,
        /// The roster serial.
        serial: u64,
    },
    /// No session is saved.
    #[error("not logged in to a team ({0} does not exist): log in first")]
    NoSession(String),
    /// The server no longer knows the session (expired, logged out, or the server's
    /// sessions were reset).
    #[error("the team session has ended (expired or logged out): log in again")]
    SessionExpired,
    /// The server refused the request with its `{code, message}`.
    #[error("the team server answered {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's error code, when it sent one.
        code: Option<ErrorCode>,
        /// The server's message (or its raw answer).
        message: String,
    },
    /// What the server sent cannot be signed (it is not what the approver reviewed).
    #[error("{0}")]
    Refused(String),
    /// The server answered something that is not the API's shape.
    #[error("unexpected answer from the team server: {0}")]
    Answer(String),
    /// A local file (the session) could not be read or written.
    #[error("{path}: {cause}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        cause: String,
    },
}

impl TeamClientError {
    /// The code a front end acts on: `unauthorized` means "log in again".
    pub fn code(&self) -> ErrorCode {
        match self {
            TeamClientError::Invalid(_) => ErrorCode::BadRequest,
            TeamClientError::Unreachable { .. } => ErrorCode::Internal,
            TeamClientError::Roster { .. }
            | TeamClientError::Rollback { .. }
            | TeamClientError::NotInRoster { .. } => ErrorCode::Forbidden,
            TeamClientError::NoSession(_) | TeamClientError::SessionExpired => {
                ErrorCode::Unauthorized
            }
            TeamClientError::Server { code, status, .. } => code.unwrap_or(match status {
                400 => ErrorCode::BadRequest,
                401 => ErrorCode::Unauthorized,
                403 => ErrorCode::Forbidden,
                404 => ErrorCode::NotFound,
                409 => ErrorCode::Conflict,
                _ => ErrorCode::Internal,
            }),
            TeamClientError::Refused(_) => ErrorCode::Conflict,
            TeamClientError::Answer(_) | TeamClientError::File { .. } => ErrorCode::Internal,
        }
    }

    /// Whether the session is gone and only a new login helps.
    pub fn session_ended(&self) -> bool {
        matches!(
            self,
            TeamClientError::SessionExpired | TeamClientError::NoSession(_)
        )
    }
}

impl From<TeamClientError> for ApiError {
    fn from(e: TeamClientError) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}

type Result<T, E = TeamClientError> = std::result::Result<T, E>;

/// `e` and its causes, `: `-separated (reqwest's own message omits them).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !out.contains(&more) {
            out.push_str(": ");
            out.push_str(&more);
        }
        source = s.source();
    }
    out
}

/// Checks and normalises a server URL: `http://` or `https://`, no trailing `/`.
///
/// # Errors
/// [`TeamClientError::Invalid`].
pub fn server_url(server: &str) -> Result<String> {
    let server = server.trim().trim_end_matches('/').to_owned();
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(server),
        _ => Err(TeamClientError::Invalid(format!(
            "the team server must be an http:// or https:// URL, got `{server}`"
        ))),
    }
}

/// The HTTP client: no redirects, a 30 s deadline, and `ca_cert` trusted besides the
/// platform's roots.
///
/// # Errors
/// [`TeamClientError::Invalid`] when the CA file is unreadable or not PEM.
pub fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_cert {
        let pem = std::fs::read(ca).map_err(|e| {
            TeamClientError::Invalid(format!("CA certificate {}: {e}", ca.display()))
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|_| {
            TeamClientError::Invalid(format!("{}: not a PEM certificate", ca.display()))
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| TeamClientError::Invalid(format!("building the HTTP client: {}", chain(&e))))
}

/// Sends `req`, mapping a transport failure to [`TeamClientError::Unreachable`].
async fn send(server: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    req.send().await.map_err(|e| TeamClientError::Unreachable {
        server: server.to_owned(),
        cause: chain(&e),
    })
}

/// Whether a 401 means the session ended (authenticated calls) or the request was refused
/// (login: the server's message says why).
#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Session,
    Login,
}

/// The error of a non-success answer: the server's `{code, message}` when it sent one.
async fn failure(r: reqwest::Response, auth: Auth) -> TeamClientError {
    let status = r.status();
    if status == reqwest::StatusCode::UNAUTHORIZED && auth == Auth::Session {
        return TeamClientError::SessionExpired;
    }
    let text = r.text().await.unwrap_or_default();
    let parsed = countersign_core::json::parse_strict(text.as_bytes())
        .ok()
        .and_then(|v| serde_json::from_value::<ApiError>(v).ok());
    match parsed {
        Some(e) => TeamClientError::Server {
            status: status.as_u16(),
            code: Some(e.code),
            message: e.message,
        },
        None => TeamClientError::Server {
            status: status.as_u16(),
            code: None,
            message: if text.trim().is_empty() {
                status.to_string()
            } else {
                text.chars().take(500).collect()
            },
        },
    }
}

/// The body of a successful answer as `T` (strict JSON), or the server's error.
async fn answer<T: serde::de::DeserializeOwned>(r: reqwest::Response, auth: Auth) -> Result<T> {
    if !r.status().is_success() {
        return Err(failure(r, auth).await);
    }
    let bytes = r
        .bytes()
        .await
        .map_err(|e| TeamClientError::Answer(format!("reading it: {}", chain(&e))))?;
    parse(&bytes)
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    countersign_core::json::parse_strict(bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| {
            let text: String = String::from_utf8_lossy(bytes).chars().take(300).collect();
            TeamClientError::Answer(format!("{e}: {text}"))
        })
}

/// `<data_dir>/team-session.json`.
pub fn session_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SESSION_FILE)
}

/// The saved session.
///
/// # Errors
/// [`TeamClientError::NoSession`] when none is saved; [`TeamClientError::File`] when it is
/// unreadable.
pub fn load_session(data_dir: &Path) -> Result<SavedSession> {
    let path = session_path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TeamClientError::NoSession(path.display().to_string()))
        }
        Err(e) => {
            return Err(TeamClientError::File {
                path: path.display().to_string(),
                cause: e.to_string(),
            })
        }
    };
    countersign_core::json::parse_strict(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|cause| TeamClientError::File {
            path: path.display().to_string(),
            cause: format!("unreadable session: {cause}"),
        })
}

/// Saves the session atomically, mode 0600 (it holds the bearer token).
///
/// # Errors
/// [`TeamClientError::File`].
pub fn save_session(data_dir: &Path, s: &SavedSession) -> Result<()> {
    let path = session_path(data_dir);
    let file = |cause: String| TeamClientError::File {
        path: path.display().to_string(),
        cause,
    };
    let bytes = serde_json::to_vec_pretty(s).map_err(|e| file(e.to_string()))?;
    crate::keystore::write_atomically(&path, &bytes, 0o600).map_err(|e| file(e.to_string()))
}

/// Deletes the saved session (nothing to delete is fine).
///
/// # Errors
/// [`TeamClientError::File`].
pub fn forget_session(data_dir: &Path) -> Result<()> {
    let path = session_path(data_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TeamClientError::File {
            path: path.display().to_string(),
            cause: e.to_string(),
        }),
    }
}

/// Where and how to log in.
#[derive(Debug, Clone)]
pub struct LoginTarget {
    /// The team server's URL (checked by [`server_url`]).
    pub server: String,
    /// The trust file pinning the team's lead keys.
    pub lead_trust: PathBuf,
    /// Extra CA certificate (PEM) for the server's TLS certificate.
    pub ca_cert: Option<PathBuf>,
}

/// A successful login: the session to save and this approver's roster role.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The session (save it with [`save_session`]).
    pub saved: SavedSession,
    /// `approver` or `lead`, from the verified roster.
    pub role: String,
}

/// Logs in: fetches the roster and verifies it against the lead trust file (and against the
/// serial in `previous` when it is for the same server), checks that `key` is a live member,
/// then answers the server's challenge with a signature by `key`.
///
/// # Errors
/// [`TeamClientError::Invalid`] for the URL or the trust file, [`TeamClientError::Unreachable`],
/// [`TeamClientError::Roster`], [`TeamClientError::Rollback`], [`TeamClientError::NotInRoster`],
/// [`TeamClientError::Server`] when the server refuses the challenge or its answer.
pub async fn login(
    target: &LoginTarget,
    key: &ApproverKey,
    previous: Option<&SavedSession>,
) -> Result<LoggedIn> {
    let server = server_url(&target.server)?;
    let trust = target.lead_trust.display().to_string();
    let anchors_bytes = std::fs::read(&target.lead_trust)
        .map_err(|e| TeamClientError::Invalid(format!("lead trust file {trust}: {e}")))?;
    let anchors = TrustedKeys::from_json(&anchors_bytes)
        .map_err(|e| TeamClientError::Invalid(format!("lead trust file {trust}: {e}")))?;
    let http = http_client(target.ca_cert.as_deref())?;
    let doc: RosterDocument = answer(
        send(&server, http.get(format!("{server}/v1/team/roster"))).await?,
        Auth::Login,
    )
    .await?;
    let bytes = B64
        .decode(&doc.roster)
        .map_err(|_| TeamClientError::Answer("the roster is not base64".into()))?;
    let roster = VerifiedRoster::verify(&bytes, &doc.signature, &anchors).map_err(|cause| {
        TeamClientError::Roster {
            trust: trust.clone(),
            cause,
        }
    })?;
    if let Some(seen) = previous.filter(|p| p.server == server) {
        if roster.roster.serial < seen.roster_serial {
            return Err(TeamClientError::Rollback {
                offered: roster.roster.serial,
                seen: seen.roster_serial,
            });
        }
    }
    let keyid = key.key_id();
    let me = roster
        .member(&keyid)
        .ok_or_else(|| TeamClientError::NotInRoster {
            keyid: keyid.clone(),
            team: roster.roster.team.clone(),
            serial: roster.roster.serial,
        })?;
    let challenge: LoginChallenge = answer(
        send(
            &server,
            http.post(format!("{server}/v1/team/login/challenge"))
                .json(&ChallengeRequest {
                    keyid: keyid.clone(),
                }),
        )
        .await?,
        Auth::Login,
    )
    .await?;
    if challenge.team != roster.roster.team || challenge.keyid != keyid {
        return Err(TeamClientError::Refused(format!(
            "the server's challenge is for team `{}` and key {}: not ours, not signed",
            challenge.team, challenge.keyid
        )));
    }
    let signature = challenge.sign(key);
    let session: TeamSession = answer(
        send(
            &server,
            http.post(format!("{server}/v1/team/login"))
                .json(&LoginRequest {
                    challenge,
                    signature,
                }),
        )
        .await?,
        Auth::Login,
    )
    .await?;
    Ok(LoggedIn {
        role: me.role.clone(),
        saved: SavedSession {
            server,
            ca_cert: target.ca_cert.clone(),
            lead_trust: Some(target.lead_trust.clone()),
            session,
            roster_serial: roster.roster.serial,
        },
    })
}

/// The action the server shows must hash to the digest it names: the digest is what gets
/// signed, so it is recomputed here, never taken from the server.
///
/// # Errors
/// [`TeamClientError::Refused`].
pub fn check_digest(d: &TeamDraftDetail) -> Result<()> {
    let computed = action_digest(&d.detail.action).to_string();
    if computed != d.detail.action_digest {
        return Err(TeamClientError::Refused(format!(
            "the server names digest {} but the action it sent hashes to {computed}: refusing to sign",
            d.detail.action_digest
        )));
    }
    Ok(())
}

/// A decision to sign.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Approve or reject.
    pub verdict: Verdict,
    /// The rejection's reason (the agent receives it, signed).
    pub reason: Option<String>,
    /// The digest the approver reviewed; the draft must still be that one.
    pub shown_digest: Option<String>,
}

/// The exact bytes to sign for `decision` on draft `d` (id `id`), and the name of the
/// approver who started an approval being co-signed:
/// - an approval with `d.awaiting` set co-signs the body the server holds, after checking it
///   is an approval of this very draft and action;
/// - otherwise a new [`DecisionBody`] is built from the draft shown, by `approver`, at `now`.
///
/// # Errors
/// [`TeamClientError::Refused`] when the awaiting body is not for the draft shown;
/// [`TeamClientError::Answer`] when it is not a decision body.
pub fn body_to_sign(
    d: &TeamDraftDetail,
    id: &str,
    approver: Approver,
    decision: &Decision,
    now: i64,
) -> Result<(Vec<u8>, Option<String>)> {
    match (&d.awaiting, decision.verdict) {
        (Some(env), Verdict::Approved) => {
            let bytes = B64
                .decode(&env.payload)
                .map_err(|_| TeamClientError::Answer("the awaiting body is not base64".into()))?;
            let body = parse_body(&bytes)
                .map_err(|e| TeamClientError::Answer(format!("the awaiting body: {e}")))?;
            if body.action != d.detail.action
                || body.action_digest != d.detail.action_digest
                || body.action_id != id
                || body.verdict != Verdict::Approved
            {
                return Err(TeamClientError::Refused(
                    "the approval awaiting signatures is not for the draft shown: refusing to sign"
                        .into(),
                ));
            }
            Ok((bytes, Some(body.approver.name)))
        }
        _ => {
            let body = DecisionBody {
                v: 1,
                verdict: decision.verdict,
                reason: decision.reason.clone(),
                action_id: id.into(),
                agent: d.draft.summary.agent.clone(),
                action: d.detail.action.clone(),
                action_digest: d.detail.action_digest.clone(),
                approver,
                risk: RiskSummary {
                    score: d.detail.risk.score,
                    level: d.detail.risk.level,
                },
                policy_sha256: d.policy_sha256.clone(),
                iat: now,
                exp: now + DECISION_LIFETIME_S,
                jti: uuid::Uuid::new_v4().to_string(),
            };
            let bytes = canonical_json(&body)
                .map_err(|e| TeamClientError::Answer(format!("the decision body: {e}")))?;
            Ok((bytes, None))
        }
    }
}

/// What a signature upload did.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The server's answer: released, awaiting more signatures, or rejected.
    pub outcome: SignOutcome,
    /// Who started the approval this signature co-signed, if any.
    pub cosigned: Option<String>,
    /// The risk score computed on this machine (without the team policy's context) and the
    /// server's, when they differ.
    pub score_mismatch: Option<(u8, u8)>,
}

/// A logged-in approver: the saved session and an HTTP client for it.
#[derive(Debug, Clone)]
pub struct TeamClient {
    saved: SavedSession,
    http: reqwest::Client,
}

impl TeamClient {
    /// A client for `saved`.
    ///
    /// # Errors
    /// [`TeamClientError::Invalid`] when the session's CA file is unusable.
    pub fn new(saved: SavedSession) -> Result<TeamClient> {
        let http = http_client(saved.ca_cert.as_deref())?;
        Ok(TeamClient { saved, http })
    }

    /// The session.
    pub fn saved(&self) -> &SavedSession {
        &self.saved
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.saved.server))
            .bearer_auth(&self.saved.session.token)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.saved.server))
            .bearer_auth(&self.saved.session.token)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T> {
        answer(send(&self.saved.server, req).await?, Auth::Session).await
    }

    /// Ends the session on the server (a session the server no longer knows counts as ended).
    ///
    /// # Errors
    /// [`TeamClientError::Unreachable`], [`TeamClientError::Server`].
    pub async fn logout(&self) -> Result<()> {
        let r = send(&self.saved.server, self.post("/v1/team/logout")).await?;
        if r.status().is_success() || r.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        Err(failure(r, Auth::Session).await)
    }

    /// The team's pending drafts.
    ///
    /// # Errors
    /// [`TeamClientError::SessionExpired`], [`TeamClientError::Unreachable`],
    /// [`TeamClientError::Server`].
    pub async fn drafts(&self) -> Result<Vec<TeamDraft>> {
        self.call(self.get("/v1/team/drafts")).await
    }

    /// One draft with its diff, impact and risk, its digest checked ([`check_digest`]).
    ///
    /// # Errors
    /// As [`Self::drafts`]; [`TeamClientError::Refused`] when the digest does not match.
    pub async fn draft(&self, id: &str) -> Result<TeamDraftDetail> {
        let d: TeamDraftDetail = self
            .call(self.get(&format!("/v1/team/drafts/{}", path_segment(id)?)))
            .await?;
        check_digest(&d)?;
        Ok(d)
    }

    /// Marks draft `id` "in review" by this approver.
    ///
    /// # Errors
    /// As [`Self::drafts`].
    pub async fn claim(&self, id: &str) -> Result<Claim> {
        self.call(self.post(&format!("/v1/team/drafts/{}/claim", path_segment(id)?)))
            .await
    }

    /// Gives up this approver's claim of draft `id`.
    ///
    /// # Errors
    /// As [`Self::drafts`].
    pub async fn release(&self, id: &str) -> Result<()> {
        let url = format!(
            "{}/v1/team/drafts/{}/claim",
            self.saved.server,
            path_segment(id)?
        );
        let r = send(
            &self.saved.server,
            self.http.delete(url).bearer_auth(&self.saved.session.token),
        )
        .await?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(failure(r, Auth::Session).await)
        }
    }

    /// Decides draft `id` with `key`: reads the draft again, checks its digest (and that it is
    /// the one reviewed), builds or co-signs the decision body ([`body_to_sign`]), signs it
    /// here and uploads the signature.
    ///
    /// # Errors
    /// [`TeamClientError::Refused`] when `key` is not the session's key, the draft changed,
    /// or the awaiting body is not for it; as [`Self::drafts`] otherwise (the server's
    /// refusals, e.g. "already signed", come as [`TeamClientError::Server`]).
    pub async fn decide(
        &self,
        key: &ApproverKey,
        id: &str,
        decision: &Decision,
    ) -> Result<Decided> {
        if key.key_id() != self.saved.session.keyid {
            return Err(TeamClientError::Refused(format!(
                "the session is for key {}, this machine's key is {}: log in again",
                self.saved.session.keyid,
                key.key_id()
            )));
        }
        let d = self.draft(id).await?;
        if let Some(shown) = &decision.shown_digest {
            if shown != &d.detail.action_digest {
                return Err(TeamClientError::Refused(format!(
                    "draft {id} is now {}, not the {shown} you reviewed: refusing to sign",
                    d.detail.action_digest
                )));
            }
        }
        let context = self.verified_policy(&d).await?;
        let local = countersign_core::risk::score_with(&d.detail.action, &context).score;
        let approver = Approver {
            keyid: key.key_id(),
            name: self.saved.session.approver.clone(),
        };
        let (bytes, cosigned) = body_to_sign(&d, id, approver, decision, crate::now())?;
        let signature = Signature {
            keyid: key.key_id(),
            sig: B64.encode(key.sign(&pae(DECISION_PAYLOAD_TYPE, &bytes))),
        };
        let outcome: SignOutcome = self
            .call(
                self.post(&format!("/v1/team/drafts/{}/signatures", path_segment(id)?))
                    .json(&SignatureUpload {
                        payload: B64.encode(&bytes),
                        signature,
                    }),
            )
            .await?;
        Ok(Decided {
            outcome,
            cosigned,
            score_mismatch: (local != d.detail.risk.score).then_some((local, d.detail.risk.score)),
        })
    }

    /// When the draft names a policy, fetches it (`GET /v1/team/policy`), verifies it against
    /// the lead trust file of the login and checks it is the policy the draft names: an
    /// approver signs only under a policy the team's leads signed. Returns its risk context
    /// (org domains, sensitive patterns) for the local rescoring; the default without one.
    ///
    /// # Errors
    /// [`TeamClientError::Refused`] when the policy does not verify or is another one.
    async fn verified_policy(
        &self,
        d: &TeamDraftDetail,
    ) -> Result<countersign_core::risk::RiskContext> {
        let Some(named) = &d.policy_sha256 else {
            return Ok(Default::default());
        };
        let refused = |m: String| TeamClientError::Refused(m);
        let trust = self.saved.lead_trust.as_ref().ok_or_else(|| {
            refused(
                "the session has no lead trust file to verify the policy with: log in again".into(),
            )
        })?;
        let anchors = std::fs::read(trust)
            .map_err(|e| refused(format!("{}: {e}", trust.display())))
            .and_then(|b| {
                TrustedKeys::from_json(&b).map_err(|e| refused(format!("{}: {e}", trust.display())))
            })?;
        let doc: PolicyDocument = self.call(self.get("/v1/team/policy")).await?;
        let bytes = B64
            .decode(&doc.policy)
            .map_err(|e| refused(format!("the team's policy is not base64: {e}")))?;
        let loaded =
            countersign_core::policy::LoadedPolicy::verify(&bytes, &doc.signature, &anchors)
                .map_err(|e| {
                    refused(format!(
                        "the team's policy does not verify against {}: {e}; refusing to sign",
                        trust.display()
                    ))
                })?;
        if &loaded.sha256 != named {
            return Err(refused(format!(
                "the draft is decided under policy {named}, the team serves {}: refusing to sign",
                loaded.sha256
            )));
        }
        Ok(loaded.policy.risk_context())
    }

    /// Opens the event stream (`GET /v1/team/events`): a snapshot first, then every change.
    ///
    /// # Errors
    /// As [`Self::drafts`].
    pub async fn events(&self) -> Result<EventStream> {
        let r = send(
            &self.saved.server,
            // The stream outlives the client's request deadline; silence is caught per read.
            self.get("/v1/team/events")
                .timeout(Duration::from_secs(365 * 24 * 3600)),
        )
        .await?;
        if !r.status().is_success() {
            return Err(failure(r, Auth::Session).await);
        }
        Ok(EventStream {
            server: self.saved.server.clone(),
            response: r,
            buf: Vec::new(),
        })
    }
}

/// Draft ids are UUIDs: anything else is refused rather than put into a URL path.
fn path_segment(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(id)
    } else {
        Err(TeamClientError::Invalid(format!(
            "draft id `{}` is not a draft id",
            id.escape_debug()
        )))
    }
}

/// The team's Server-Sent Events, parsed ([W3C Server-Sent Events]: `data:` lines of one
/// event joined by `\n`, comments and other fields ignored).
///
/// [W3C Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#[derive(Debug)]
pub struct EventStream {
    server: String,
    response: reqwest::Response,
    buf: Vec<u8>,
}

impl EventStream {
    /// The next event; `None` when the server ended the stream.
    ///
    /// # Errors
    /// [`TeamClientError::Unreachable`] when the connection fails or stays silent longer than
    /// [`EVENT_SILENCE`]; [`TeamClientError::Answer`] for an event that is not a
    /// [`TeamEvent`].
    pub async fn next(&mut self) -> Result<Option<TeamEvent>> {
        loop {
            if let Some(data) = take_event(&mut self.buf) {
                match data {
                    Some(json) => return parse(json.as_bytes()).map(Some),
                    None => continue,
                }
            }
            if self.buf.len() > MAX_EVENT_BYTES {
                return Err(TeamClientError::Answer(format!(
                    "an event over {MAX_EVENT_BYTES} bytes"
                )));
            }
            let chunk = tokio::time::timeout(EVENT_SILENCE, self.response.chunk())
                .await
                .map_err(|_| TeamClientError::Unreachable {
                    server: self.server.clone(),
                    cause: format!(
                        "the event stream was silent for {} s",
                        EVENT_SILENCE.as_secs()
                    ),
                })?
                .map_err(|e| TeamClientError::Unreachable {
                    server: self.server.clone(),
                    cause: chain(&e),
                })?;
            match chunk {
                Some(bytes) => self.buf.extend_from_slice(&bytes),
                None => return Ok(None),
            }
        }
    }
}

/// Takes one complete event (up to a blank line) off the front of `buf`: `Some(Some(data))`
/// for an event with data, `Some(None)` for one without (a keep-alive comment), `None` when no
/// complete event is buffered yet.
fn take_event(buf: &mut Vec<u8>) -> Option<Option<String>> {
    let normalized_end = find_blank_line(buf)?;
    let (end, sep) = normalized_end;
    let raw: Vec<u8> = buf.drain(..end + sep).collect();
    let text = String::from_utf8_lossy(&raw[..end]);
    let mut data: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(rest);
                }
                None => data = Some(rest.to_owned()),
            }
        }
    }
    Some(data)
}

/// Where the first event ends: its length and the separator's (`\n\n` or `\r\n\r\n`).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn server_urls_must_be_http_or_https_and_lose_their_trailing_slash() {
        assert_eq!(
            server_url(" https://team.example:8443/ ").unwrap(),
            "https://team.example:8443"
        );
        assert_eq!(
            server_url("http://127.0.0.1:1").unwrap(),
            "http://127.0.0.1:1"
        );
        for bad in ["", "team.example", "ftp://x", "https://", "http://a b"] {
            assert!(server_url(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn events_are_split_at_blank_lines_with_comments_skipped_and_data_lines_joined() {
        let mut buf = b": keep-alive\n\nevent: pending\ndata: {\"a\":\ndata: 1}\n\nevent: x\r\ndata: 2\r\n\r\ndata: partial".to_vec();
        assert_eq!(take_event(&mut buf), Some(None), "a comment is no event");
        assert_eq!(take_event(&mut buf), Some(Some("{\"a\":\n1}".into())));
        assert_eq!(take_event(&mut buf), Some(Some("2".into())));
        assert_eq!(take_event(&mut buf), None, "an incomplete event waits");
        assert_eq!(buf, b"data: partial");
    }

    #[test]
    fn only_draft_ids_go_into_a_url_path() {
        assert!(path_segment("0b6f4a1e-7c52-4d3e-9a1b-2c3d4e5f6a7b").is_ok());
        for bad in ["", "../roster", "a/b", "a?b", "x#y"] {
            assert!(path_segment(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn a_401_on_a_session_call_means_log_in_again() {
        let e = TeamClientError::SessionExpired;
        assert_eq!(e.code(), ErrorCode::Unauthorized);
        assert!(e.session_ended());
        assert!(e.to_string().contains("log in again"));
        let refused = TeamClientError::Server {
            status: 409,
            code: Some(ErrorCode::Conflict),
            message: "already signed".into(),
        };
        assert_eq!(ApiError::from(refused).code, ErrorCode::Conflict);
    }
}
