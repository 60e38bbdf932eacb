//! The signed decision: the body a DSSE envelope carries, and the checks a gate makes on it.
//!
//! Body (JSON, canonicalized with RFC 8785 before signing):
//!
//! ```json
//! { "v": 1, "verdict": "approved", "reason": null,
//!   "action_id": "0b6f…", "agent": "forum-bot", "action": { …the full approved action… },
//!   "action_digest": "sha256:…", "approver": { "keyid": "sha256:…", "name": "ana" },
//!   "risk": { "score": 70, "level": "high" }, "policy_sha256": "sha256:…",
//!   "iat": 1790000000, "exp": 1790000300, "jti": "5d1c…" }
//! ```

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::Action;
use crate::digest::{action_digest, canonical_json};
use crate::dsse::{Envelope, VerifyError};
use crate::keys::{ApproverKey, KeyId, TrustedKeys};
use crate::risk::RiskLevel;
use crate::time::UnixSeconds;

/// DSSE `payloadType` of a decision body.
pub const DECISION_PAYLOAD_TYPE: &str = "application/vnd.countersign.decision.v1+json";

/// How long a signed approval stays usable after it is issued: 5 minutes, in seconds.
pub const DECISION_LIFETIME_S: i64 = 5 * 60;

/// Clock skew a gate tolerates on `iat` and `exp`, in seconds.
pub const MAX_CLOCK_SKEW_S: i64 = 60;

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Verdict {
    /// A human approved the action in `action`.
    Approved,
    /// A human rejected it, or it expired undecided (`reason` says which).
    Rejected,
}

/// Who signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Approver {
    /// Key id of the approver's key.
    pub keyid: KeyId,
    /// Display name.
    pub name: String,
}

/// The risk as it was when the decision was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct RiskSummary {
    /// 0–100.
    pub score: u8,
    /// Band of the score.
    pub level: RiskLevel,
}

/// The signed body of a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct DecisionBody {
    /// Format version, 1.
    pub v: u32,
    /// Approved or rejected.
    pub verdict: Verdict,
    /// Why (required for rejections; `expired` for drafts that timed out).
    pub reason: Option<String>,
    /// The broker's id of the draft.
    pub action_id: String,
    /// The agent the decision is for (its audience).
    pub agent: String,
    /// The full action as approved (after any edit).
    pub action: Action,
    /// `SHA-256(JCS(action))`.
    pub action_digest: String,
    /// The signer.
    pub approver: Approver,
    /// Risk at decision time.
    pub risk: RiskSummary,
    /// `sha256:` of the signed policy file in force when the decision was taken (absent when
    /// no policy was loaded). Auto-approvals and policy blocks name the policy in `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub policy_sha256: Option<String>,
    /// Issued at, Unix seconds.
    #[ts(type = "number")]
    pub iat: UnixSeconds,
    /// Expires at, Unix seconds; a gate refuses it afterwards.
    #[ts(type = "number")]
    pub exp: UnixSeconds,
    /// Unique id; a gate accepts each `jti` once.
    pub jti: String,
}

impl DecisionBody {
    /// Canonical bytes and a one-signature envelope.
    pub fn sign(&self, key: &ApproverKey) -> Envelope {
        // A DecisionBody always serializes to JSON (string keys, finite numbers).
        let bytes = canonical_json(self).unwrap_or_default();
        Envelope::sign(DECISION_PAYLOAD_TYPE, &bytes, key)
    }
}

/// What the gate expects of a decision, beyond a valid signature.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The draft id the broker gave on submit.
    pub action_id: &'a str,
    /// The agent the gate acts for.
    pub agent: &'a str,
    /// Now, Unix seconds.
    pub now: UnixSeconds,
}

/// Why a gate will not execute. Every variant is "not approved"; the message is the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The envelope did not verify.
    #[error("signature: {0}")]
    Signature(#[from] VerifyError),
    /// The body is not a decision.
    #[error("decision body is malformed: {0}")]
    Body(String),
    /// A human (or expiry) said no.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The body is for another draft or agent.
    #[error("audience mismatch: {0}")]
    Audience(String),
    /// `action_digest` does not match `action`.
    #[error("digest mismatch: the signed digest is {signed}, the action hashes to {computed}")]
    Digest {
        /// In the body.
        signed: String,
        /// Recomputed.
        computed: String,
    },
    /// Outside `iat`..`exp` (with skew), or an over-long lifetime.
    #[error("not fresh: {0}")]
    Expired(String),
    /// The `jti` was used before.
    #[error("replay: decision {0} was already used")]
    Replay(String),
    /// Genuine signatures, but not enough distinct approvers (or no lead) for the quorum.
    #[error("quorum not met: {0}")]
    Quorum(String),
    /// Taken under another policy than the one the gate pins, or one that blocks it.
    #[error("policy: {0}")]
    Policy(String),
}

/// How many distinct approvers a decision needs: what a policy band asks for, enforced by the
/// gate. Counted over distinct pinned keys (one key pinned under two names counts once); a
/// revoked key counts zero, and so does a key pinned under the requesting agent's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// Distinct counted signers required (at least 1).
    pub approvals: usize,
    /// Whether one of them must be pinned with role `lead`.
    pub lead: bool,
}

impl Quorum {
    /// The stricter of `self` and `other`: the larger count, and a lead if either needs one.
    pub fn at_least(self, other: Quorum) -> Quorum {
        Quorum {
            approvals: self.approvals.max(other.approvals),
            lead: self.lead || other.lead,
        }
    }
}

impl Default for Quorum {
    /// One approver, no lead: a single valid pinned signature.
    fn default() -> Self {
        Quorum {
            approvals: 1,
            lead: false,
        }
    }
}

/// Verifies a decision envelope for execution: pinned signature, payload type, strict body,
/// audience, digest binding, freshness (±[`MAX_CLOCK_SKEW_S`]), and an approved verdict.
/// Single use (`jti`) is the caller's durable ledger's job.
///
/// # Errors
/// [`GateError`] saying why it must not run.
pub fn verify_decision(
    envelope: &Envelope,
    trusted: &TrustedKeys,
    expect: &Expectations<'_>,
) -> Result<DecisionBody, GateError> {
    verify_decision_quorum(envelope, trusted, expect, Quorum::default())
}

/// [`verify_decision`] with a [`Quorum`] of signers, checked last: a genuine rejection stays a
/// rejection (any one approver may say no), an approval short of approvers fails with
/// [`GateError::Quorum`].
///
/// # Errors
/// [`GateError`] saying why it must not run.
pub fn verify_decision_quorum(
    envelope: &Envelope,
    trusted: &TrustedKeys,
    expect: &Expectations<'_>,
    quorum: Quorum,
) -> Result<DecisionBody, GateError> {
    let (body, signers) = verify_signed(envelope, trusted)?;
    if body.action_id != expect.action_id {
        return Err(GateError::Audience(format!(
            "decision is for draft {}, not {}",
            body.action_id, expect.action_id
        )));
    }
    if body.agent != expect.agent {
        return Err(GateError::Audience(format!(
            "decision is for agent `{}`, not `{}`",
            body.agent, expect.agent
        )));
    }
    check_freshness(&body, expect.now)?;
    if body.verdict != Verdict::Approved {
        return Err(GateError::Rejected(
            body.reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
        ));
    }
    check_quorum(&body, &signers, trusted, quorum)?;
    Ok(body)
}

/// Checks signature, payload type, body shape and digest binding only (no audience, time or
/// verdict): what `countersign verify` reports offline.
///
/// # Errors
/// [`GateError::Signature`], [`GateError::Body`] or [`GateError::Digest`].
pub fn verify_decision_signature(
    envelope: &Envelope,
    trusted: &TrustedKeys,
) -> Result<DecisionBody, GateError> {
    verify_signed(envelope, trusted).map(|(body, _)| body)
}

/// The body and the distinct pinned, unrevoked key ids that signed it.
fn verify_signed(
    envelope: &Envelope,
    trusted: &TrustedKeys,
) -> Result<(DecisionBody, Vec<KeyId>), GateError> {
    let verified = envelope.verify(DECISION_PAYLOAD_TYPE, trusted)?;
    Ok((parse_body(&verified.body)?, verified.signers))
}

/// Parses decision body bytes (strict JSON, version 1, a valid action) and checks that
/// `action_digest` is the digest of `action`. Says nothing about signatures.
///
/// # Errors
/// [`GateError::Body`] or [`GateError::Digest`].
pub fn parse_body(bytes: &[u8]) -> Result<DecisionBody, GateError> {
    let value = crate::json::parse_strict(bytes).map_err(|e| GateError::Body(e.to_string()))?;
    let body: DecisionBody =
        serde_json::from_value(value).map_err(|e| GateError::Body(e.to_string()))?;
    if body.v != 1 {
        return Err(GateError::Body(format!("unsupported version {}", body.v)));
    }
    body.action
        .validate()
        .map_err(|e| GateError::Body(format!("signed action is invalid: {e}")))?;
    let computed = action_digest(&body.action).to_string();
    if computed != body.action_digest {
        return Err(GateError::Digest {
            signed: body.action_digest.clone(),
            computed,
        });
    }
    Ok(body)
}

/// Checks that `signers` (distinct live pinned key ids that verified over `body`, as
/// [`Envelope::verify`] returns them) meet `quorum`: the requesting agent's own key is not
/// counted, and with `quorum.lead` one counted key must be pinned as `lead`.
///
/// # Errors
/// [`GateError::Quorum`] saying how many counted and what was required.
pub fn check_quorum(
    body: &DecisionBody,
    signers: &[KeyId],
    trusted: &TrustedKeys,
    quorum: Quorum,
) -> Result<(), GateError> {
    // `signers` are distinct key ids of live keys (Envelope::verify); the requester's own key
    // never counts towards approving its own action.
    let counted: Vec<_> = signers
        .iter()
        .filter_map(|id| trusted.get(id))
        .filter(|k| k.approver != body.agent)
        .collect();
    let needed = quorum.approvals.max(1);
    if counted.len() < needed {
        return Err(GateError::Quorum(format!(
            "{} distinct approver(s) signed, {needed} required (revoked keys and the requesting agent's own key do not count)",
            counted.len()
        )));
    }
    if quorum.lead && !counted.iter().any(|k| k.role == "lead") {
        return Err(GateError::Quorum(
            "a signature by a key pinned as `lead` is required".into(),
        ));
    }
    Ok(())
}

fn check_freshness(body: &DecisionBody, now: UnixSeconds) -> Result<(), GateError> {
    if body.exp <= body.iat || body.exp - body.iat > DECISION_LIFETIME_S {
        return Err(GateError::Expired(format!(
            "lifetime {}s is outside 1..={DECISION_LIFETIME_S}s",
            body.exp - body.iat
        )));
    }
    if body.iat > now + MAX_CLOCK_SKEW_S {
        return Err(GateError::Expired(format!(
            "issued {}s in the future",
            body.iat - now
        )));
    }
    if now > body.exp + MAX_CLOCK_SKEW_S {
        return Err(GateError::Expired(format!(
            "expired {}s ago",
            now - body.exp
        )));
    }
    Ok(())
}
