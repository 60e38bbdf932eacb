//! The gated flow: submit a draft, wait for the human's decision, verify it, record its single
//! use durably, and hand back the approved action — the one the caller must execute.
//!
//! Order matters and is the point of this module:
//!
//! 1. verify (pinned signature, payload type, strict body, audience, digest binding, freshness,
//!    verdict) with [`countersign_core::decision::verify_decision`];
//! 2. record the `jti` in the [`Ledger`] and wait for the commit;
//! 3. only then return `Ok`, so the caller executes exactly once, and only what was signed.

use std::time::Duration;

use countersign_core::action::Draft;
use countersign_core::api::Submitted;
use countersign_core::decision::{
    verify_decision_quorum, DecisionBody, Expectations, GateError, Quorum,
};
use countersign_core::dsse::Envelope;
use countersign_core::policy::LoadedPolicy;

use crate::client::{Client, ClientError};
use crate::ledger::{Ledger, LedgerError};

/// Extra time the gate waits beyond the draft's own lifetime: the broker answers an undecided
/// draft with a signed rejection at expiry, and that answer should still reach the gate.
pub const EXPIRY_GRACE: Duration = Duration::from_secs(60);

/// Why the gated flow ended without an approval. Every variant means "do not execute".
#[derive(Debug, thiserror::Error)]
pub enum GateFailure {
    /// The draft could not be filed (invalid draft, bad token, broker unreachable, …).
    #[error("could not submit the draft: {0}")]
    Submit(ClientError),
    /// The draft was filed but no decision could be obtained (timeout, broker error).
    #[error("no decision for draft {id}: {error}")]
    Wait {
        /// The draft id, to look it up later.
        id: String,
        /// What went wrong.
        error: ClientError,
    },
    /// A genuine, fresh decision for this agent and draft says no (a human rejected it, or it
    /// expired undecided).
    #[error("rejected: {reason}")]
    Rejected {
        /// The reason in the signed body (`expired` for drafts nobody decided in time).
        reason: String,
    },
    /// The decision must not be trusted: bad or unpinned signature, wrong payload type,
    /// malformed body, digest mismatch, wrong audience, not fresh, or a replay.
    #[error("decision refused: {0}")]
    Refused(GateError),
    /// The ledger could not record the single use, so nothing may run.
    #[error("cannot record the decision as used, so it will not run: {0}")]
    Ledger(LedgerError),
}

impl GateFailure {
    /// True for a real "no" from a human (or expiry), as opposed to a failure or an attack.
    pub fn is_rejection(&self) -> bool {
        matches!(self, GateFailure::Rejected { .. })
    }
}

impl From<GateError> for GateFailure {
    fn from(e: GateError) -> Self {
        match e {
            GateError::Rejected(reason) => GateFailure::Rejected { reason },
            other => GateFailure::Refused(other),
        }
    }
}

impl From<LedgerError> for GateFailure {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Replay { jti, .. } => GateFailure::Refused(GateError::Replay(jti)),
            other => GateFailure::Ledger(other),
        }
    }
}

/// Callback given the broker's receipt as soon as a draft is filed.
pub type OnSubmitted<'a> = Box<dyn FnOnce(&Submitted) + Send + 'a>;

/// Options of [`run_gated`].
#[derive(Default)]
pub struct GateOptions<'a> {
    /// How long to wait for a decision after submitting. `None`: the draft's lifetime
    /// ([`Draft::expires_in_s`]) plus [`EXPIRY_GRACE`].
    pub timeout: Option<Duration>,
    /// Called once, right after the broker acknowledged the draft (e.g. to print its id and
    /// risk while the human reviews it).
    pub on_submitted: Option<OnSubmitted<'a>>,
    /// Signers the decision must carry (default: one pinned approver). Checked by the gate
    /// itself, whatever the broker's policy said: a broker that releases an envelope short of
    /// the quorum gets [`GateError::Quorum`], and nothing is recorded or run.
    pub quorum: Quorum,
    /// The lead-signed policy the gate pins, if any: the decision must have been taken under
    /// it (its `policy_sha256`), and its band for the signed action and score raises
    /// `quorum` (two approvers, a lead; see [`LoadedPolicy::quorum_for`]). Checked before the
    /// `jti` is recorded; a refusal records nothing.
    pub policy: Option<&'a LoadedPolicy>,
}

impl std::fmt::Debug for GateOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateOptions")
            .field("timeout", &self.timeout)
            .field(
                "on_submitted",
                &self.on_submitted.as_ref().map(|_| "<callback>"),
            )
            .field("quorum", &self.quorum)
            .field("policy", &self.policy.map(|p| &p.sha256))
            .finish()
    }
}

/// A verified, recorded approval.
#[derive(Debug, Clone)]
pub struct Approved {
    /// The broker's receipt for the submission.
    pub submitted: Submitted,
    /// The signed decision. `body.action` is what to execute — it differs from the draft
    /// when the human edited it.
    pub body: DecisionBody,
    /// The envelope as received, for the caller's records.
    pub envelope: Envelope,
}

impl Approved {
    /// Whether the human changed the action before approving it (the approved digest differs
    /// from the submitted one).
    pub fn edited(&self) -> bool {
        self.body.action_digest != self.submitted.action_digest
    }
}

/// Submits `draft`, waits for the decision, verifies it against `trusted` (and `opts.quorum`)
/// for the agent and draft id the broker named in its receipt, and records its `jti` in `ledger` before
/// returning. The caller executes `Approved::body.action` afterwards, never its own draft.
///
/// Prints nothing; `opts.on_submitted` receives the receipt. The ledger write is a short
/// blocking SQLite commit on the calling thread.
///
/// # Errors
/// [`GateFailure`] says why nothing may run.
pub async fn run_gated(
    client: &Client,
    draft: &Draft,
    trusted: &countersign_core::TrustedKeys,
    ledger: &Ledger,
    opts: GateOptions<'_>,
) -> Result<Approved, GateFailure> {
    let submitted = client.submit(draft).await.map_err(GateFailure::Submit)?;
    tracing::info!(id = %submitted.id, agent = %submitted.agent, score = submitted.risk.score, "draft submitted");
    if let Some(callback) = opts.on_submitted {
        callback(&submitted);
    }
    let timeout = opts
        .timeout
        .unwrap_or_else(|| Duration::from_secs(draft.expires_in_s()) + EXPIRY_GRACE);
    let envelope = client
        .wait_for_decision(&submitted.id, timeout)
        .await
        .map_err(|error| GateFailure::Wait {
            id: submitted.id.clone(),
            error,
        })?;
    let expect = Expectations {
        action_id: &submitted.id,
        agent: &submitted.agent,
        now: crate::unix_now(),
    };
    let quorum = match opts.policy {
        // Read the signed body first (nothing recorded), then demand its band's quorum.
        Some(policy) => {
            let body = verify_decision_quorum(&envelope, trusted, &expect, Quorum::default())?;
            opts.quorum.at_least(policy.quorum_for(&body)?)
        }
        None => opts.quorum,
    };
    let body = verify_for_execution_with(&envelope, trusted, ledger, &expect, quorum)?;
    Ok(Approved {
        submitted,
        body,
        envelope,
    })
}

/// Verifies `envelope` for execution (see [`countersign_core::decision::verify_decision`]) and records its `jti` as used.
/// On `Ok` the returned body's `action` may be executed once; usable on its own, e.g. by a
/// webhook receiver that got the envelope by POST.
///
/// # Errors
/// [`GateFailure::Rejected`] for a genuine rejection, [`GateFailure::Refused`] for anything
/// untrustworthy (including a replay), [`GateFailure::Ledger`] when the use cannot be recorded.
pub fn verify_for_execution(
    envelope: &Envelope,
    trusted: &countersign_core::TrustedKeys,
    ledger: &Ledger,
    expect: &Expectations<'_>,
) -> Result<DecisionBody, GateFailure> {
    verify_for_execution_with(envelope, trusted, ledger, expect, Quorum::default())
}

/// [`verify_for_execution`] requiring `quorum` (several distinct approvers, or a lead) of the
/// envelope's signatures; see [`verify_decision_quorum`]. Nothing is recorded unless it holds.
///
/// # Errors
/// As [`verify_for_execution`]; [`GateError::Quorum`] (refused) when too few count.
pub fn verify_for_execution_with(
    envelope: &Envelope,
    trusted: &countersign_core::TrustedKeys,
    ledger: &Ledger,
    expect: &Expectations<'_>,
    quorum: Quorum,
) -> Result<DecisionBody, GateFailure> {
    let body = verify_decision_quorum(envelope, trusted, expect, quorum)?;
    ledger.consume(&body.jti, &body.action_id)?;
    countersign_core::crash::point(countersign_core::crash::GATE_AFTER_CONSUME);
    tracing::info!(id = %body.action_id, jti = %body.jti, approver = %body.approver.name, "approval verified and recorded");
    Ok(body)
}
