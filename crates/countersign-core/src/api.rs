//! Wire types shared by the agent HTTP API, the gate's client and the desktop UI (the
//! TypeScript side is generated from these by ts-rs into `ui/src/bindings/`).
//!
//! Agent HTTP API (JSON; `Authorization: Bearer <agent token>` on every `/v1/actions` route):
//!
//! | route | success | body |
//! |---|---|---|
//! | `POST /v1/actions` | 201 | [`Submitted`] (request: [`crate::action::Draft`]) |
//! | `GET /v1/actions/{id}` | 200 | [`ActionStatus`] |
//! | `GET /v1/actions/{id}/decision?wait=S` | 200 decided, 202 still pending | [`DecisionResponse`] |
//! | `GET /v1/health` | 200 | [`Health`] (no token) |
//! | `GET /v1/openapi.json` | 200 | this API as an OpenAPI 3.1 document (no token; `docs/openapi.json`) |
//!
//! Every error is an [`ApiError`] `{code, message}`. There is no route that approves.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::{Action, ActionKind};
use crate::decision::Verdict;
use crate::dsse::Envelope;
use crate::review::Review;
use crate::risk::{Risk, RiskLevel};
use crate::time::UnixSeconds;

/// Longest `wait` a decision long-poll may ask for, in seconds.
pub const MAX_WAIT_S: u64 = 60;

/// Where a draft is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Status {
    /// Waiting for a human.
    Pending,
    /// Approved; the envelope carries the approved action.
    Approved,
    /// Rejected by a human.
    Rejected,
    /// Nobody decided before `expires_at`; answered with a signed rejection.
    Expired,
}

impl Status {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Approved,
            Status::Rejected,
            Status::Expired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// `201` answer to a submission: the draft is committed and pending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Submitted {
    /// Draft id (UUID v4 text).
    pub id: String,
    /// `pending`; `approved` or `rejected` when the policy auto-approved or blocked it (the
    /// signed decision is then ready at once).
    pub status: Status,
    /// The agent the draft was filed under (from its token).
    pub agent: String,
    /// `sha256:<hex>` of the RFC 8785 canonical action.
    pub action_digest: String,
    /// Risk computed by Countersign.
    pub risk: Risk,
    /// When it expires undecided, Unix seconds.
    #[ts(type = "number")]
    #[schema(value_type = i64)]
    pub expires_at: UnixSeconds,
}

/// `GET /v1/actions/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct ActionStatus {
    /// Draft id.
    pub id: String,
    /// Current status.
    pub status: Status,
    /// Digest of the action as submitted.
    pub action_digest: String,
    /// Expiry, Unix seconds.
    #[ts(type = "number")]
    #[schema(value_type = i64)]
    pub expires_at: UnixSeconds,
}

/// `GET /v1/actions/{id}/decision`: the envelope once decided (200), `null` while pending (202).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct DecisionResponse {
    /// Draft id.
    pub id: String,
    /// Current status.
    pub status: Status,
    /// The signed decision (DSSE), present unless pending.
    pub envelope: Option<Envelope>,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Health {
    /// Always true when it answers.
    pub ok: bool,
    /// Countersign's version.
    pub version: String,
}

/// Error codes at the HTTP and IPC boundaries (small on purpose: the UI and agents act on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// 400: malformed or invalid input; the message says what and where.
    BadRequest,
    /// 401: missing or unknown bearer token.
    Unauthorized,
    /// 403: the request is not allowed from where it came (browser origin, host).
    Forbidden,
    /// 404: no such draft (for this agent).
    NotFound,
    /// 409: the draft is no longer pending, or the digest shown is not the stored one.
    Conflict,
    /// 410: the draft expired.
    Expired,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: not `application/json`.
    UnsupportedMediaType,
    /// 429: too many pending drafts or requests for this agent.
    RateLimited,
    /// 500/503: Countersign could not complete it (nothing was approved).
    Internal,
    /// The approver cancelled the app's confirmation dialog; nothing was signed. Desktop app
    /// only (a Tauri command's answer); the agent API never sends it.
    Cancelled,
}

/// The one error shape: `{"code": "bad_request", "message": "…"}`.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema, thiserror::Error,
)]
#[error("{code:?}: {message}")]
#[ts(export)]
pub struct ApiError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What was wrong and where, in one or two sentences.
    pub message: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// A row of the review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ActionSummary {
    /// Draft id.
    pub id: String,
    /// Agent name.
    pub agent: String,
    /// Kind.
    pub kind: ActionKind,
    /// Target.
    pub target: String,
    /// The agent's one-line summary (untrusted text).
    pub summary: String,
    /// Status.
    pub status: Status,
    /// Score, 0–100.
    pub score: u8,
    /// Band.
    pub level: RiskLevel,
    /// `sha256:` of the RFC 8785 canonical action: what a batch approval sends back for this
    /// row ([`BatchDraft`]), so the app signs only what the queue showed.
    pub action_digest: String,
    /// Submitted at, Unix seconds.
    #[ts(type = "number")]
    pub created_at: UnixSeconds,
    /// Expires at, Unix seconds.
    #[ts(type = "number")]
    pub expires_at: UnixSeconds,
}

/// One draft of a batch approval: its id and the digest the window showed for it
/// ([`ActionSummary::action_digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BatchDraft {
    /// Draft id.
    pub id: String,
    /// `sha256:` digest the window showed; the stored draft must still have it.
    pub action_digest: String,
}

/// A draft of a batch that was not approved, and why; it is left as it was (pending, unless it
/// was already decided or has just expired).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BatchRefusal {
    /// Draft id.
    pub id: String,
    /// Why: `conflict` (not low risk, not pending, digest changed, policy), `expired`,
    /// `not_found`, `bad_request` (listed twice) or `internal`.
    pub error: ApiError,
}

/// The outcome of a batch approval: each approved draft got its own signed decision and audit
/// row; each refused one is listed with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BatchResult {
    /// Ids approved, in the order asked.
    pub approved: Vec<String>,
    /// Ids refused, in the order asked, each with its reason.
    pub refused: Vec<BatchRefusal>,
}

/// The decision as the app shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DecisionInfo {
    /// Approved or rejected.
    pub verdict: Verdict,
    /// Reason given (rejections, expiry).
    pub reason: Option<String>,
    /// Approver name.
    pub approver: String,
    /// Approver key id.
    pub keyid: String,
    /// When, Unix seconds.
    #[ts(type = "number")]
    pub decided_at: UnixSeconds,
    /// The envelope as delivered.
    pub envelope: Envelope,
}

/// Everything the detail view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ActionDetail {
    /// The queue row.
    pub summary: ActionSummary,
    /// The full action as submitted.
    pub action: Action,
    /// Its digest; the UI sends it back with approve/reject.
    pub action_digest: String,
    /// Risk with every factor.
    pub risk: Risk,
    /// Diff and impact.
    pub review: Review,
    /// The callback URL, if any.
    pub callback_url: Option<String>,
    /// The decision, once taken.
    pub decision: Option<DecisionInfo>,
    /// Set when this app's approver cannot approve the draft alone (a policy band needs a
    /// lead): approving then records a partial signature and waits for a co-signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cosign_needed: Option<crate::cosign::Required>,
    /// Set while an approval of this draft awaits co-signatures: who signed, what is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cosign: Option<CosignInfo>,
}

/// One signer of an approval awaiting co-signatures, as pinned in this app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CosignSigner {
    /// Approver name from the trust entry.
    pub name: String,
    /// `approver` or `lead`.
    pub role: String,
    /// Key id.
    pub keyid: String,
}

/// An approval awaiting co-signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CosignInfo {
    /// The distinct pinned keys whose signatures verified so far.
    pub signers: Vec<CosignSigner>,
    /// What the decision needs in all.
    pub required: crate::cosign::Required,
    /// What is still missing, in words (e.g. "a signature by a key pinned as `lead`").
    pub missing: String,
    /// When the signed body expires (Unix seconds): co-signatures must arrive before.
    #[ts(type = "number")]
    pub exp: UnixSeconds,
}

/// What importing a co-sign response did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export)]
pub enum CosignOutcome {
    /// The quorum is met: the multi-signature envelope was recorded and released to the agent.
    Released {
        /// The draft.
        id: String,
        /// Everyone whose signature counted.
        signers: Vec<CosignSigner>,
    },
    /// Signatures were added; more are needed.
    Awaiting {
        /// The draft.
        id: String,
        /// The state now.
        cosign: CosignInfo,
    },
}

/// What the co-signer's window shows about a co-sign request, computed locally from the
/// action in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CosignReview {
    /// The request as read (its `risk` is the origin's claim).
    pub request: crate::cosign::CosignRequest,
    /// Diff and impact computed here.
    pub review: Review,
    /// Risk scored here (the one to trust).
    pub risk: Risk,
    /// Set, loudly worded, when the file's risk differs from the local score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub risk_mismatch: Option<String>,
    /// Who signed so far, as the signed body names its first approver (a claim: this app may
    /// not pin that key; the originating app verifies every signature).
    pub requested_by: String,
    /// When the signed body expires (Unix seconds).
    #[ts(type = "number")]
    pub exp: UnixSeconds,
}

/// A new agent identity: the token is shown once and only its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NewAgent {
    /// Agent name.
    pub name: String,
    /// Bearer token (`cs_` + 43 base64url characters). Shown once.
    pub token: String,
}

/// What the app shows about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppInfo {
    /// Base URL of the agent API, e.g. `http://127.0.0.1:7823`.
    pub api_url: String,
    /// Approver display name.
    pub approver: String,
    /// Approver key id.
    pub keyid: String,
    /// Where the database and key file live.
    pub data_dir: String,
    /// Version.
    pub version: String,
}

/// Pushed to the UI when the queue changes (Tauri event `queue-changed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct QueueEvent {
    /// The draft that changed.
    pub id: String,
    /// Its new status.
    pub status: Status,
    /// Number of pending drafts after the change.
    pub pending: u32,
}

/// Pushed to the window (Tauri event `open-draft`) when a notification's "Open" action or the
/// tray brings the window to the front: the draft to open, or `null` for the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OpenDraft {
    /// Draft id, or `None` for the queue (a coalesced notification, the tray).
    pub id: Option<String>,
    /// A draft of the team server's queue, not of this desktop's.
    #[serde(default)]
    pub team: bool,
}

/// The desktop shell's state the window shows (command `shell_state`, event `shell-state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ShellState {
    /// While notifications are paused (tray): when the pause ends, Unix seconds; else `None`.
    #[ts(type = "number | null")]
    pub notifications_paused_until: Option<UnixSeconds>,
    /// How long a high-risk draft waits before a reminder, seconds.
    #[ts(type = "number")]
    pub remind_after_s: u64,
}

/// What the detail view shows for an action the approver is editing, before anything is signed:
/// the diff and impact, the risk, and the digest the edited action would be signed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EditPreview {
    /// `sha256:` of the RFC 8785 canonical edited action.
    pub action_digest: String,
    /// Risk of the edited action, scored like a submission (same policy context).
    pub risk: Risk,
    /// Diff and impact of the edited action.
    pub review: Review,
}

/// A decided draft in the history view: who decided, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HistoryEntry {
    /// The queue row (its status is the outcome).
    pub draft: ActionSummary,
    /// Who signed the decision (the app's approver also signs expiries and policy decisions).
    pub approver: String,
    /// When, Unix seconds.
    #[ts(type = "number")]
    pub decided_at: UnixSeconds,
    /// Why (rejections, expiries, policy decisions).
    pub reason: Option<String>,
}
