//! The use cases. Each takes the broker (store, signer, notifier) and plain data, so the HTTP
//! API, the Tauri commands, the CLI and the tests call the same code.

use std::sync::Arc;
use std::time::Duration;

use countersign_core::action::{Action, Draft, DraftError};
use countersign_core::api::{
    ActionDetail, ActionSummary, ApiError, DecisionInfo, DecisionResponse, EditPreview, ErrorCode,
    HistoryEntry, NewAgent, QueueEvent, Status, Submitted,
};
use countersign_core::crash;
use countersign_core::decision::{
    Approver, DecisionBody, RiskSummary, Verdict, DECISION_LIFETIME_S,
};
use countersign_core::digest::action_digest;
use countersign_core::policy::{LoadedPolicy, Requirement};
use countersign_core::review::Review;
use countersign_core::{review, risk, ApproverKey, Envelope, Risk, RiskLevel};
use countersign_store::{ActionRow, AgentRow, NewAction, NewDecision, Store, StoreError};
use tokio::sync::broadcast;

use crate::now;
use crate::policy::{PolicyFiles, PolicyState};
use countersign_core::policy_view::PolicyRefusal;

mod batch;
pub(crate) mod cosign;
pub(crate) mod team;

pub use batch::MAX_BATCH;

/// How often a long-poll re-reads the store while it waits, by default (see
/// [`Broker::wait_decision`] and [`BrokerConfig::store_recheck`]).
pub const STORE_RECHECK: Duration = Duration::from_secs(1);

/// Longest rejection reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// Largest `POST /v1/actions` body, in bytes, by default: 8 MiB, so that a `file.write` of
/// 5 MiB (issue #5: large payloads reviewed in the window) fits with room for JSON escaping or
/// a `before` of a few MiB. A bigger body is refused with 413 before it is read past the limit.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Tunables.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Largest request body, in bytes (default [`MAX_BODY_BYTES`], 8 MiB).
    pub max_body_bytes: usize,
    /// Most pending drafts one agent may have at once (default 100).
    pub max_pending_per_agent: u32,
    /// How often undecided drafts are checked for expiry (default 1 s).
    pub expiry_tick: Duration,
    /// Webhook delivery: attempts (default 5) and first backoff (default 500 ms, doubling).
    pub webhook_attempts: u32,
    /// First webhook backoff.
    pub webhook_backoff: Duration,
    /// The verified lead-signed policy in force at start ([`crate::policy::start_policy`]);
    /// `None`: every draft waits for one approver and scoring knows no organisation domains.
    /// [`Broker::reload_policy`] replaces it at run time.
    pub policy: Option<Arc<LoadedPolicy>>,
    /// Where the policy comes from, for reloads, the policy view and signing an edit; `None`
    /// when no policy is configured.
    pub policy_files: Option<PolicyFiles>,
    /// A policy refused at start (the last good one stayed in force), shown in the window.
    pub policy_refusal: Option<PolicyRefusal>,
    /// How often a long-poll re-reads the store while it waits (default [`STORE_RECHECK`]):
    /// how late it sees a decision nobody told it about (another process on the same SQLite
    /// file; on PostgreSQL, one whose notification was lost while the listener reconnected).
    pub store_recheck: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_body_bytes: MAX_BODY_BYTES,
            max_pending_per_agent: 100,
            expiry_tick: Duration::from_secs(1),
            webhook_attempts: 5,
            webhook_backoff: Duration::from_millis(500),
            policy: None,
            policy_files: None,
            policy_refusal: None,
            store_recheck: STORE_RECHECK,
        }
    }
}

/// The approver's key and display name.
pub struct Signer {
    /// The private key.
    pub key: ApproverKey,
    /// Display name written into decisions.
    pub name: String,
}

/// What a desktop notification says about a new pending draft.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingNotice {
    /// Draft id.
    pub id: String,
    /// Agent name.
    pub agent: String,
    /// Kind, e.g. `acl.change`.
    pub kind: String,
    /// Risk band.
    pub level: RiskLevel,
    /// Score.
    pub score: u8,
    /// The agent's one-line summary (untrusted).
    pub summary: String,
    /// Pending drafts in all.
    pub pending: u32,
}

/// How the broker tells the outside world (desktop notification, tray, UI) about changes.
pub trait Notifier: Send + Sync {
    /// A new draft is pending (after it is committed).
    fn draft_pending(&self, notice: &PendingNotice);
    /// The queue changed (submitted, decided, expired).
    fn queue_changed(&self, event: &QueueEvent);
    /// A policy was loaded or refused ([`Broker::policy_view`] says what is in force now).
    fn policy_changed(&self) {}
}

/// A notifier that only logs (headless `countersign serve`, tests).
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn draft_pending(&self, n: &PendingNotice) {
        tracing::info!(id = %n.id, agent = %n.agent, kind = %n.kind, score = n.score, "draft pending");
    }
    fn queue_changed(&self, _: &QueueEvent) {}
}

/// The human's decision as the UI sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionInput {
    /// Approve the action as shown.
    Approve,
    /// Reject, with a reason the agent receives.
    Reject {
        /// Non-empty, at most [`MAX_REASON_CHARS`] characters.
        reason: String,
    },
}

/// Why a use case failed; maps onto [`ApiError`] at the boundaries.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Bad input (draft, reason, id).
    #[error("{0}")]
    BadRequest(String),
    /// Unknown draft (or not this agent's).
    #[error("no draft with id {0}")]
    NotFound(String),
    /// Not pending any more, or the digest shown is not the stored one.
    #[error("{0}")]
    Conflict(String),
    /// Past its expiry.
    #[error("draft {0} expired before it was decided")]
    Expired(String),
    /// The approver may not do this (e.g. sign a policy without a lead key).
    #[error("{0}")]
    Forbidden(String),
    /// No valid approver session (team API): the message says why.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many pending drafts for this agent.
    #[error("agent `{agent}` already has {max} pending drafts; wait for decisions")]
    TooManyPending {
        /// Agent name.
        agent: String,
        /// The cap.
        max: u32,
    },
    /// The store failed; nothing was acknowledged.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl From<&BrokerError> for ApiError {
    fn from(e: &BrokerError) -> ApiError {
        let code = match e {
            BrokerError::BadRequest(_) => ErrorCode::BadRequest,
            BrokerError::NotFound(_) => ErrorCode::NotFound,
            BrokerError::Conflict(_) => ErrorCode::Conflict,
            BrokerError::Expired(_) => ErrorCode::Expired,
            BrokerError::Forbidden(_) => ErrorCode::Forbidden,
            BrokerError::Unauthorized(_) => ErrorCode::Unauthorized,
            BrokerError::TooManyPending { .. } => ErrorCode::RateLimited,
            BrokerError::Store(StoreError::AgentExists(_)) => ErrorCode::Conflict,
            BrokerError::Store(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> ApiError {
        ApiError::from(&e)
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) signer: Signer,
    pub(crate) notifier: Arc<dyn Notifier>,
    events: broadcast::Sender<QueueEvent>,
    http: reqwest::Client,
    pub(crate) config: BrokerConfig,
    pub(crate) policy: PolicyState,
    /// On PostgreSQL, hears of decisions committed by other replicas (stops when dropped).
    _follower: Option<countersign_store::DecisionFollower>,
    /// The pending count of the last event published here (events announced by another
    /// replica carry it instead of counting again).
    last_pending: std::sync::atomic::AtomicU32,
}

/// The broker. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

/// What a decision signs: the action, its digest and its risk.
struct Signed<'a> {
    action: &'a Action,
    digest: &'a str,
    risk: &'a Risk,
}

/// An approver's edit may change the summary and the payload, not what kind of action it is,
/// where it acts, or the state it claims to start from: a changed kind or target would be a
/// different action the agent never asked for (and its gate would not expect).
fn check_edit(original: &Action, edited: &Action) -> Result<(), BrokerError> {
    if edited.kind != original.kind {
        return Err(BrokerError::BadRequest(format!(
            "an edit keeps the kind: the draft is {}, the edit is {}",
            original.kind, edited.kind
        )));
    }
    if edited.target != original.target {
        return Err(BrokerError::BadRequest(
            "an edit keeps the target; reject the draft and ask the agent for another target"
                .into(),
        ));
    }
    if edited.before != original.before {
        return Err(BrokerError::BadRequest(
            "an edit keeps `before` (the agent's account of the current state)".into(),
        ));
    }
    edited
        .validate()
        .map_err(|e| BrokerError::BadRequest(format!("invalid edit: {e}")))
}

fn summary_of(row: &ActionRow) -> ActionSummary {
    ActionSummary {
        id: row.id.clone(),
        agent: row.agent.clone(),
        kind: row.action.kind,
        target: row.action.target.clone(),
        summary: row.action.summary.clone(),
        status: row.status,
        score: row.risk.score,
        level: row.risk.level,
        action_digest: row.action_digest.clone(),
        created_at: row.created_at,
        expires_at: row.expires_at,
    }
}

/// Checks an agent name: 1–64 of `A–Z a–z 0–9 . _ -`.
fn check_agent_name(name: &str) -> Result<(), BrokerError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BrokerError::BadRequest(format!(
            "agent name `{name}` must be 1–64 characters of A–Z, a–z, 0–9, '.', '_' or '-'"
        )))
    }
}

/// Registers an agent in `store` (no key needed): the token is returned once and only its
/// hash is stored.
///
/// # Errors
/// [`BrokerError::BadRequest`] for an invalid name, [`BrokerError::Store`] with
/// `AgentExists` if the name is taken.
pub fn register_agent(store: &Store, name: &str) -> Result<NewAgent, BrokerError> {
    check_agent_name(name)?;
    let token = countersign_store::new_token();
    store.add_agent(name, &token, now())?;
    Ok(NewAgent {
        name: name.into(),
        token,
    })
}

impl Broker {
    /// A broker over `store`, signing with `signer`. Must be called inside a tokio runtime
    /// only if webhooks or the expiry loop are used.
    pub fn new(
        store: Arc<Store>,
        signer: Signer,
        notifier: Arc<dyn Notifier>,
        config: BrokerConfig,
    ) -> Broker {
        let (events, _) = broadcast::channel(1024);
        let policy = PolicyState::new(config.policy.clone(), config.policy_refusal.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            let follower = store.follow_decisions(move |id| {
                if let Some(inner) = weak.upgrade() {
                    Broker { inner }.decided_elsewhere(id);
                }
            });
            let follower = follower.unwrap_or_else(|e| {
                tracing::warn!("decisions of other replicas are seen late: {e}");
                None
            });
            Inner {
                store,
                signer,
                notifier,
                events,
                http,
                config,
                policy,
                _follower: follower,
                last_pending: std::sync::atomic::AtomicU32::new(0),
            }
        });
        Broker { inner }
    }

    /// Publishes a decision the store's follower heard of (see
    /// [`Store::follow_decisions`]): made by another replica on the same PostgreSQL database,
    /// or by this one (which already published it; queue events are idempotent). Wakes the
    /// long-polls waiting on that draft.
    fn decided_elsewhere(&self, payload: &str) {
        if let Some(id) = payload.strip_prefix(countersign_store::pg::CHANGED_PREFIX) {
            // A submission, signature or claim on another replica: wake this replica's
            // listeners (the team stream re-reads the draft) without a store read here.
            let _ = self.inner.events.send(QueueEvent {
                id: id.into(),
                status: Status::Pending,
                pending: self
                    .inner
                    .last_pending
                    .load(std::sync::atomic::Ordering::Relaxed),
            });
            return;
        }
        let id = payload;
        match self.inner.store.action(id) {
            Ok(Some(row)) => self.publish(&row.id, row.status),
            Ok(None) => tracing::warn!("a decision was announced on draft {id}, which is unknown"),
            Err(e) => tracing::warn!("reading draft {id} after its decision: {e}"),
        }
    }

    /// A broker whose notifier only logs.
    pub fn headless(store: Arc<Store>, signer: Signer, config: BrokerConfig) -> Broker {
        Broker::new(store, signer, Arc::new(LogNotifier), config)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Tunables.
    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    /// The approver key (to sign for a team server: [`crate::team_client::TeamClient::decide`]).
    pub fn signer_key(&self) -> &countersign_core::ApproverKey {
        &self.inner.signer.key
    }

    /// The approver's public identity: (name, key id).
    pub fn approver(&self) -> (String, String) {
        (
            self.inner.signer.name.clone(),
            self.inner.signer.key.key_id(),
        )
    }

    /// Subscribes to queue changes.
    pub fn subscribe(&self) -> broadcast::Receiver<QueueEvent> {
        self.inner.events.subscribe()
    }

    fn publish(&self, id: &str, status: Status) {
        let pending = self.inner.store.pending_count().unwrap_or(0);
        self.inner
            .last_pending
            .store(pending, std::sync::atomic::Ordering::Relaxed);
        let event = QueueEvent {
            id: id.into(),
            status,
            pending,
        };
        self.inner.notifier.queue_changed(&event);
        let _ = self.inner.events.send(event);
    }

    /// Registers an agent; the token is returned once and only its hash is stored.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] for an invalid name, a conflict if it exists.
    pub fn add_agent(&self, name: &str) -> Result<NewAgent, BrokerError> {
        register_agent(&self.inner.store, name)
    }

    /// The agent a bearer token belongs to.
    ///
    /// # Errors
    /// Store errors.
    pub fn authenticate(&self, token: &str) -> Result<Option<AgentRow>, BrokerError> {
        Ok(self.inner.store.agent_by_token(token)?)
    }

    /// Validates and commits a draft from `agent`; acknowledged only after the commit.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] with what and where for a malformed draft;
    /// [`BrokerError::TooManyPending`]; store errors.
    pub fn submit(&self, agent: &AgentRow, body: &[u8]) -> Result<Submitted, BrokerError> {
        let draft = Draft::parse(body).map_err(|e| match e {
            DraftError::Json(j) => BrokerError::BadRequest(format!("malformed JSON: {j}")),
            DraftError::Invalid(a) => BrokerError::BadRequest(format!("invalid draft: {a}")),
        })?;
        self.submit_draft(agent, &draft)
    }

    /// Commits an already validated draft.
    ///
    /// # Errors
    /// See [`Broker::submit`].
    pub fn submit_draft(&self, agent: &AgentRow, draft: &Draft) -> Result<Submitted, BrokerError> {
        let action = draft.action();
        let digest = action_digest(&action).to_string();
        let policy = self.policy();
        let policy = policy.as_deref();
        let mut ctx = policy.map(|p| p.policy.risk_context()).unwrap_or_default();
        // Novelty and bursts need the agent's history; without it the other detectors still run.
        let counterparts = risk::novelty::counterparts(&action);
        ctx.history = self
            .inner
            .store
            .agent_history(&agent.id, &action.target, &counterparts, now())
            .ok();
        let risk = risk::score_with(&action, &ctx);
        let id = uuid::Uuid::new_v4().to_string();
        let created_at = now();
        let expires_at = created_at + draft.expires_in_s() as i64;
        let inserted = self.inner.store.insert_action(
            &NewAction {
                id: &id,
                agent_id: &agent.id,
                action: &action,
                action_digest: &digest,
                risk: &risk,
                callback_url: draft.callback_url.as_deref(),
                created_at,
                expires_at,
            },
            self.inner.config.max_pending_per_agent,
        )?;
        if !inserted {
            return Err(BrokerError::TooManyPending {
                agent: agent.name.clone(),
                max: self.inner.config.max_pending_per_agent,
            });
        }
        // Novelty bookkeeping only: a failure here must not fail a committed submission.
        if let Err(e) = self
            .inner
            .store
            .record_counterparts(&agent.id, &counterparts, created_at)
        {
            tracing::warn!("recording counterparts: {e}");
        }
        if let Some(p) = policy {
            let requirement = p.policy.requirement(&agent.name, action.kind, risk.score);
            let read_only = p.policy.read_only_approval(&agent.name, &action, &risk);
            let requirement = if read_only.is_some() {
                Requirement::AutoApprove
            } else {
                requirement
            };
            if let Some(status) = self.decide_by_policy(&id, p, requirement, read_only)? {
                return Ok(Submitted {
                    id,
                    status,
                    agent: agent.name.clone(),
                    action_digest: digest,
                    risk,
                    expires_at,
                });
            }
        }
        let pending = self.inner.store.pending_count().unwrap_or(0);
        self.inner.notifier.draft_pending(&PendingNotice {
            id: id.clone(),
            agent: agent.name.clone(),
            kind: action.kind.as_str().into(),
            level: risk.level,
            score: risk.score,
            summary: action.summary.clone(),
            pending,
        });
        self.publish(&id, Status::Pending);
        Ok(Submitted {
            id,
            status: Status::Pending,
            agent: agent.name.clone(),
            action_digest: digest,
            risk,
            expires_at,
        })
    }

    /// The queue: pending drafts (at most `pending`), then the most recent decided ones (at
    /// most `decided`); decided drafts never push a pending one out.
    ///
    /// # Errors
    /// Store errors.
    pub fn list(&self, pending: u32, decided: u32) -> Result<Vec<ActionSummary>, BrokerError> {
        // Summaries straight from the indexed columns: the queue never holds payloads.
        Ok(self.inner.store.action_summaries(pending, decided)?)
    }

    /// Decided drafts, most recently decided first (at most `limit`), with who, when and why.
    ///
    /// # Errors
    /// Store errors.
    pub fn history(&self, limit: u32) -> Result<Vec<HistoryEntry>, BrokerError> {
        Ok(self
            .inner
            .store
            .history(limit)?
            .into_iter()
            .map(|h| HistoryEntry {
                draft: summary_of(&h.action),
                approver: h.approver,
                decided_at: h.decided_at,
                reason: h.reason,
            })
            .collect())
    }

    /// Everything the detail view shows.
    ///
    /// # Errors
    /// [`BrokerError::NotFound`]; store errors.
    pub fn detail(&self, id: &str) -> Result<ActionDetail, BrokerError> {
        let row = self
            .inner
            .store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        let decision = self.inner.store.decision(id)?.map(|d| DecisionInfo {
            verdict: d.verdict,
            reason: d.reason,
            approver: d.approver,
            keyid: d.keyid,
            decided_at: d.decided_at,
            envelope: d.envelope,
        });
        // A decided draft's recipients are judged as they stood when it was decided (its own
        // approval does not make them known); a pending one's by every approval so far.
        let before = decision.as_ref().map_or(i64::MAX, |d| d.decided_at);
        Ok(ActionDetail {
            summary: summary_of(&row),
            review: self.review_of(&row.agent_id, &row.action, &row.risk, before),
            risk: row.risk.clone(),
            action_digest: row.action_digest.clone(),
            callback_url: row.callback_url.clone(),
            cosign_needed: if decision.is_none() {
                self.cosign_needed(&row)
            } else {
                None
            },
            cosign: match (&decision, self.inner.store.awaiting_cosign(id)?) {
                (None, Some(pending)) => Some(self.cosign_info(&pending)?),
                _ => None,
            },
            action: row.action,
            decision,
        })
    }

    /// A human's decision. Re-checks that `shown_digest` is the stored digest, that the draft
    /// is still pending and not expired; signs the decision body (DSSE, Ed25519) and commits
    /// decision + audit row in one transaction before anything is delivered.
    ///
    /// # Errors
    /// [`BrokerError::Conflict`] (digest differs, already decided), [`BrokerError::Expired`],
    /// [`BrokerError::BadRequest`] (empty or over-long reason), [`BrokerError::NotFound`].
    pub fn decide(
        &self,
        id: &str,
        shown_digest: &str,
        input: DecisionInput,
    ) -> Result<DecisionInfo, BrokerError> {
        let (row, t) = self.decidable(id, shown_digest)?;
        let (status, verdict, reason) = match input {
            DecisionInput::Approve => {
                self.check_may_approve(&row)?;
                (Status::Approved, Verdict::Approved, None)
            }
            DecisionInput::Reject { reason } => {
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(BrokerError::BadRequest(
                        "a rejection needs a reason the agent can act on".into(),
                    ));
                }
                if reason.chars().count() > MAX_REASON_CHARS {
                    return Err(BrokerError::BadRequest(format!(
                        "reason is over {MAX_REASON_CHARS} characters"
                    )));
                }
                (Status::Rejected, Verdict::Rejected, Some(reason))
            }
        };
        let info = self.sign_and_record(&row, status, verdict, reason, t)?;
        Ok(info)
    }

    /// The diff, impact, risk and digest of `edited` as it would be signed, without changing
    /// anything (the detail view calls it on every edit). `id` is the draft being edited.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] when the edit is not a valid action or changes what may not
    /// change (see [`Broker::decide_edited`]); [`BrokerError::NotFound`].
    pub fn preview_edit(&self, id: &str, edited: &Action) -> Result<EditPreview, BrokerError> {
        let row = self
            .inner
            .store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        check_edit(&row.action, edited)?;
        let risk = self.score(edited);
        Ok(EditPreview {
            action_digest: action_digest(edited).to_string(),
            review: self.review_of(&row.agent_id, edited, &risk, i64::MAX),
            risk,
        })
    }

    /// Approves the approver's edit of draft `id`: `shown_digest` must still be the stored
    /// draft's digest (the edit started from what was shown). The edit must be a valid action
    /// of the same kind, on the same target, with the same `before` (the agent's account of
    /// the current state, which the diff relies on); summary and payload may change. Its
    /// digest and risk are recomputed, the policy must allow approving both the draft's and the
    /// edit's risk, and the signed
    /// body carries the edited action, so the gate runs the edit. The audit row records the
    /// shown and the signed digest. An edit identical to the draft is a plain approval.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] for an invalid or out-of-bounds edit; otherwise as
    /// [`Broker::decide`].
    pub fn decide_edited(
        &self,
        id: &str,
        shown_digest: &str,
        edited: Action,
    ) -> Result<DecisionInfo, BrokerError> {
        let row = self
            .inner
            .store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        check_edit(&row.action, &edited)?;
        let digest = action_digest(&edited).to_string();
        if digest == row.action_digest {
            return self.decide(id, shown_digest, DecisionInput::Approve);
        }
        let t = self.check_decidable(&row, shown_digest)?;
        let risk = self.score(&edited);
        // The policy must allow approving both the draft and the edit: an edit cannot turn a
        // draft that needs a lead (or is blocked) into one any approver may sign.
        self.check_may_approve(&row)?;
        let mut as_edited = row.clone();
        as_edited.risk = risk.clone();
        self.check_may_approve(&as_edited)?;
        let signed = Signed {
            action: &edited,
            digest: &digest,
            risk: &risk,
        };
        self.sign_and_record_as(&row, &signed, Status::Approved, Verdict::Approved, None, t)
    }

    /// The review of `action` (by agent `agent_id`, scored `risk`) as the detail view shows it:
    /// recipients judged with the policy's domains and the agent's drafts approved before
    /// `before` (Unix seconds, exclusive). When the store cannot say, recipients say
    /// "history not looked up" rather than "new".
    fn review_of(&self, agent_id: &str, action: &Action, risk: &Risk, before: i64) -> Review {
        let mut ctx = self.risk_context();
        let counterparts = risk::novelty::counterparts(action);
        ctx.history = match self
            .inner
            .store
            .approved_counterparts(agent_id, &counterparts, before)
        {
            Ok(approved) => Some(risk::novelty::History {
                approved_counterparts: approved,
                ..risk::novelty::History::default()
            }),
            Err(e) => {
                tracing::warn!("looking up approved recipients: {e}");
                None
            }
        };
        review::review_with(action, risk, &ctx)
    }

    /// Scores an edit with the policy's context. The agent's history (novelty, bursts) is left
    /// out: the store now holds the draft itself, which would make its own target look familiar.
    fn score(&self, action: &Action) -> Risk {
        risk::score_with(action, &self.risk_context())
    }

    /// What the scorer knows from the policy in force (domains, sensitive patterns), without
    /// history.
    fn risk_context(&self) -> risk::RiskContext {
        self.policy()
            .map(|p| p.policy.risk_context())
            .unwrap_or_default()
    }

    /// Refuses an approval the policy does not allow this approver alone: a `lead_required`
    /// draft needs a key pinned as `lead`, a `two_approvers` one a second approver's
    /// co-signature; a `blocked` one nobody may approve.
    fn check_may_approve(&self, row: &ActionRow) -> Result<(), BrokerError> {
        let Some(p) = self.policy() else {
            return Ok(());
        };
        match p.policy.requirement(&row.agent, row.action.kind, row.risk.score) {
            Requirement::LeadRequired if !self.approver_is_lead() => {
                Err(BrokerError::Conflict(format!(
                    "policy serial {} requires a lead to approve a score of {}; this approver's key is not pinned as a lead: approve it for co-signing and send the co-sign request to a lead",
                    p.policy.serial, row.risk.score
                )))
            }
            Requirement::TwoApprovers => Err(BrokerError::Conflict(format!(
                "policy serial {} requires two approvers for a score of {}: approve it for co-signing and send the co-sign request to a second approver",
                p.policy.serial, row.risk.score
            ))),
            Requirement::Blocked => Err(BrokerError::Conflict(format!(
                "policy serial {} blocks a score of {}",
                p.policy.serial, row.risk.score
            ))),
            _ => Ok(()),
        }
    }

    /// Auto-approves or blocks a committed draft when the policy says so: a signed decision
    /// and an audit row like a human's, with the policy as the reason (and `rule`, the rule
    /// that decided when it was not the score bands). `None`: a human decides.
    fn decide_by_policy(
        &self,
        id: &str,
        p: &LoadedPolicy,
        requirement: Requirement,
        rule: Option<String>,
    ) -> Result<Option<Status>, BrokerError> {
        let (status, verdict, why) = match requirement {
            Requirement::AutoApprove => (Status::Approved, Verdict::Approved, "auto-approved"),
            Requirement::Blocked => (Status::Rejected, Verdict::Rejected, "blocked"),
            Requirement::OneApprover | Requirement::TwoApprovers | Requirement::LeadRequired => {
                return Ok(None)
            }
        };
        let row = self
            .inner
            .store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        let reason = format!(
            "{why} by policy serial {} ({}): {}",
            p.policy.serial,
            p.sha256,
            rule.unwrap_or_else(|| format!("risk score {}", row.risk.score))
        );
        self.sign_and_record(&row, status, verdict, Some(reason), now())?;
        Ok(Some(status))
    }

    /// Loads draft `id` and checks it can be decided now: see [`Broker::check_decidable`].
    fn decidable(&self, id: &str, shown_digest: &str) -> Result<(ActionRow, i64), BrokerError> {
        let row = self
            .inner
            .store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        let t = self.check_decidable(&row, shown_digest)?;
        Ok((row, t))
    }

    /// The decision re-checks: the digest the human saw is the stored one, the draft is still
    /// pending, and not expired (an expired draft is expired on the spot). Returns now.
    fn check_decidable(&self, row: &ActionRow, shown_digest: &str) -> Result<i64, BrokerError> {
        let id = &row.id;
        if row.action_digest != shown_digest {
            return Err(BrokerError::Conflict(format!(
                "the draft shown ({shown_digest}) is not the stored draft ({}); reload it",
                row.action_digest
            )));
        }
        if row.status != Status::Pending {
            return Err(BrokerError::Conflict(format!(
                "draft {id} is already {}",
                row.status.as_str()
            )));
        }
        let t = now();
        if t >= row.expires_at {
            self.expire_one(row)?;
            return Err(BrokerError::Expired(id.into()));
        }
        Ok(t)
    }

    fn sign_and_record(
        &self,
        row: &ActionRow,
        status: Status,
        verdict: Verdict,
        reason: Option<String>,
        t: i64,
    ) -> Result<DecisionInfo, BrokerError> {
        let signed = Signed {
            action: &row.action,
            digest: &row.action_digest,
            risk: &row.risk,
        };
        self.sign_and_record_as(row, &signed, status, verdict, reason, t)
    }

    /// The decision body this app's approver signs over `signed` for draft `row`, issued at `t`.
    fn decision_body(
        &self,
        row: &ActionRow,
        signed: &Signed<'_>,
        verdict: Verdict,
        reason: Option<String>,
        t: i64,
    ) -> DecisionBody {
        let signer = &self.inner.signer;
        DecisionBody {
            v: 1,
            verdict,
            reason,
            action_id: row.id.clone(),
            agent: row.agent.clone(),
            action: signed.action.clone(),
            action_digest: signed.digest.to_owned(),
            approver: Approver {
                keyid: signer.key.key_id(),
                name: signer.name.clone(),
            },
            risk: RiskSummary {
                score: signed.risk.score,
                level: signed.risk.level,
            },
            policy_sha256: self.policy().map(|p| p.sha256.clone()),
            iat: t,
            exp: t + DECISION_LIFETIME_S,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Signs a decision over `signed` (the stored action, or the approver's edit of it) and
    /// records it against `row`, whose stored digest the compare-and-set checks.
    fn sign_and_record_as(
        &self,
        row: &ActionRow,
        signed: &Signed<'_>,
        status: Status,
        verdict: Verdict,
        reason: Option<String>,
        t: i64,
    ) -> Result<DecisionInfo, BrokerError> {
        let body = self.decision_body(row, signed, verdict, reason, t);
        crash::point(crash::DECIDE_BEFORE_SIGN);
        let envelope = body.sign(&self.inner.signer.key);
        self.record_signed(row, status, &body, envelope, &self.inner.signer.name, t)
    }

    /// Commits a signed decision (`body` in `envelope`, signed by `approvers`) on `row` with
    /// its audit row, then tells the UI and the agent's webhook.
    fn record_signed(
        &self,
        row: &ActionRow,
        status: Status,
        body: &DecisionBody,
        envelope: Envelope,
        approvers: &str,
        t: i64,
    ) -> Result<DecisionInfo, BrokerError> {
        self.inner
            .store
            .record_decision(&NewDecision {
                action_id: &row.id,
                shown_digest: &row.action_digest,
                signed_digest: &body.action_digest,
                status,
                verdict: body.verdict,
                reason: body.reason.as_deref(),
                approver: approvers,
                keyid: &body.approver.keyid,
                jti: &body.jti,
                envelope: &envelope,
                decided_at: t,
            })
            .map_err(|e| match e {
                StoreError::NotPending { id, status } => {
                    BrokerError::Conflict(format!("draft {id} is already {status}"))
                }
                other => BrokerError::Store(other),
            })?;
        crash::point(crash::DECIDE_AFTER_COMMIT);
        if status == Status::Approved {
            // The recipients of the action as signed (an edit's, not the draft's) become known
            // to the impact panel. Bookkeeping only: a failure must not fail a committed decision,
            // and it leaves them "new", the cautious side.
            let counterparts = risk::novelty::counterparts(&body.action);
            if let Err(e) =
                self.inner
                    .store
                    .record_approved_counterparts(&row.agent_id, &counterparts, t)
            {
                tracing::warn!("recording approved recipients: {e}");
            }
        }
        self.publish(&row.id, status);
        if let Some(url) = &row.callback_url {
            crate::webhook::spawn_delivery(
                self.clone(),
                row.id.clone(),
                url.clone(),
                envelope.clone(),
            );
        }
        Ok(DecisionInfo {
            verdict: body.verdict,
            reason: body.reason.clone(),
            approver: approvers.to_owned(),
            keyid: body.approver.keyid.clone(),
            decided_at: t,
            envelope,
        })
    }

    fn expire_one(&self, row: &ActionRow) -> Result<(), BrokerError> {
        let reason = format!(
            "expired: nobody decided within {} s",
            row.expires_at - row.created_at
        );
        match self.sign_and_record(row, Status::Expired, Verdict::Rejected, Some(reason), now()) {
            Ok(_) | Err(BrokerError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Expires every pending draft past its expiry with a signed rejection; returns their ids.
    ///
    /// # Errors
    /// Store errors.
    pub fn expire_due(&self) -> Result<Vec<String>, BrokerError> {
        let due = self.inner.store.due_for_expiry(now())?;
        for row in &due {
            self.expire_one(row)?;
        }
        Ok(due.into_iter().map(|r| r.id).collect())
    }

    /// Signs a checkpoint of the audit chain (its newest row's sequence number and hash, see
    /// [`countersign_store::checkpoint`]) when at least `every` rows were added since the last
    /// one; `every = 1` signs any head not yet signed, as at shutdown.
    ///
    /// # Errors
    /// Store errors.
    pub fn checkpoint_audit(&self, every: i64) -> Result<(), BrokerError> {
        self.inner
            .store
            .checkpoint_if(&self.inner.signer.key, now(), every)?;
        Ok(())
    }

    /// Runs [`Broker::expire_due`] every `expiry_tick` until the broker is dropped elsewhere,
    /// and signs an audit checkpoint every [`countersign_store::CHECKPOINT_EVERY`] rows.
    pub fn spawn_expiry_loop(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let tick = self.inner.config.expiry_tick;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(inner) = weak.upgrade() else { return };
                let broker = Broker { inner };
                let result = tokio::task::spawn_blocking(move || {
                    broker.expire_due()?;
                    broker.checkpoint_audit(countersign_store::CHECKPOINT_EVERY)
                })
                .await;
                if let Ok(Err(e)) = result {
                    tracing::error!("expiry check failed: {e}");
                }
            }
        })
    }

    /// Status of `agent`'s draft `id`.
    ///
    /// # Errors
    /// [`BrokerError::NotFound`] if there is no such draft for this agent.
    pub fn status_for(&self, agent: &AgentRow, id: &str) -> Result<ActionRow, BrokerError> {
        match self.inner.store.action(id)? {
            Some(row) if row.agent_id == agent.id => Ok(row),
            _ => Err(BrokerError::NotFound(id.into())),
        }
    }

    /// Long-poll: the decision on `agent`'s draft `id`, waiting up to `wait` for one. Woken by
    /// this broker's own decisions at once, on PostgreSQL by another replica's as soon as its
    /// notification arrives ([`Store::follow_decisions`]), and otherwise (another process on
    /// the same SQLite file) within [`BrokerConfig::store_recheck`].
    /// A draft past its expiry is expired on the spot (signed rejection).
    ///
    /// # Errors
    /// [`BrokerError::NotFound`]; store errors.
    pub async fn wait_decision(
        &self,
        agent: &AgentRow,
        id: &str,
        wait: Duration,
    ) -> Result<DecisionResponse, BrokerError> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let row = self.status_for(agent, id)?;
            if row.status == Status::Pending && now() >= row.expires_at {
                self.expire_one(&row)?;
                continue;
            }
            if row.status != Status::Pending {
                let envelope = self.inner.store.decision(id)?.map(|d| d.envelope);
                return Ok(DecisionResponse {
                    id: id.into(),
                    status: row.status,
                    envelope,
                });
            }
            let until_expiry = Duration::from_secs((row.expires_at - now()).max(0) as u64);
            // Events come from this process and, on PostgreSQL, from other replicas' commits;
            // re-reading the store every `store_recheck` also sees a decision another process
            // wrote on the same SQLite file (`countersign cosign import` next to a running app).
            let sleep_until = deadline
                .min(tokio::time::Instant::now() + until_expiry + Duration::from_millis(50))
                .min(tokio::time::Instant::now() + self.inner.config.store_recheck);
            loop {
                match tokio::time::timeout_at(sleep_until, events.recv()).await {
                    Err(_) => break,
                    Ok(Ok(ev)) if ev.id == id => break,
                    Ok(Ok(_)) => continue,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => break,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let row = self.status_for(agent, id)?;
                let envelope = match row.status {
                    Status::Pending => None,
                    _ => self.inner.store.decision(id)?.map(|d| d.envelope),
                };
                return Ok(DecisionResponse {
                    id: id.into(),
                    status: row.status,
                    envelope,
                });
            }
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
}
