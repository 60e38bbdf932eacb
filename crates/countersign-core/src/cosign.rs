//! Co-signing across machines: the files two Countersign apps exchange when a draft needs more
//! than the local approver (a policy band that requires a lead).
//!
//! 1. The engineer approves; their app signs the decision body and keeps the draft pending,
//!    "awaiting co-signature", and exports a **co-sign request** ([`CosignRequest`]).
//! 2. The lead's app imports it, checks that the file is self-consistent ([`CosignRequest::check`]:
//!    the action, its digest and the body agree), shows the diff and impact computed from the
//!    action in the file and a risk score computed locally (never the file's; a difference is
//!    reported by [`risk_mismatch`]), and on approval adds the lead's signature over the *same
//!    body bytes*: a **co-sign response** ([`CosignResponse`]).
//! 3. The engineer's app imports the response: the body bytes must be exactly the ones it
//!    signed, each new signature must verify against a pinned key, and when the quorum is met
//!    the multi-signature DSSE envelope is released to the agent.
//!
//! Both files are JSON (UTF-8, strict: duplicate keys and unknown fields refused):
//!
//! ```json
//! { "v": 1, "type": "countersign.cosign-request",
//!   "action_id": "…", "agent": "forum-bot",
//!   "action": { …the full action… }, "action_digest": "sha256:…",
//!   "risk": { "score": 82, "level": "critical", "factors": [ … ] },
//!   "policy_sha256": "sha256:…",
//!   "required": { "approvals": 2, "lead": true },
//!   "envelope": { "payload": "<base64 of the exact decision body>", "payloadType": "…",
//!                 "signatures": [ { "keyid": "sha256:…", "sig": "…" } ] } }
//!
//! { "v": 1, "type": "countersign.cosign-response",
//!   "action_id": "…", "action_digest": "sha256:…",
//!   "envelope": { …the same payload, the signatures so far plus the new one… } }
//! ```
//!
//! The body's `exp` was fixed at the first signature, so a co-signature must come back within
//! the decision lifetime ([`crate::decision::DECISION_LIFETIME_S`]); after that the engineer
//! approves again and exports a new request.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::Action;
use crate::decision::{parse_body, DecisionBody, Verdict, DECISION_PAYLOAD_TYPE};
use crate::digest::action_digest;
use crate::dsse::Envelope;
use crate::keys::ApproverKey;
use crate::risk::Risk;

/// `type` of a co-sign request file.
pub const REQUEST_TYPE: &str = "countersign.cosign-request";
/// `type` of a co-sign response file.
pub const RESPONSE_TYPE: &str = "countersign.cosign-response";
/// Largest co-sign file read, in bytes: 24 MiB. A request holds its action twice, as JSON and
/// base64-encoded in the envelope's signed body (4/3 of its size); the agent API accepts drafts
/// of up to 8 MiB (`countersign_broker::MAX_BODY_BYTES`), so about 19 MiB, plus signatures.
pub const MAX_FILE_BYTES: usize = 24 * 1024 * 1024;

/// The signers a decision still needs, as the originating app's policy asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Required {
    /// Distinct approvers in all (the local one included).
    pub approvals: u32,
    /// Whether one of them must be pinned as `lead`.
    pub lead: bool,
}

/// A pending draft exported for co-signing (see the module docs for the shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct CosignRequest {
    /// Format version, 1.
    pub v: u32,
    /// Always [`REQUEST_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The originating broker's draft id.
    pub action_id: String,
    /// The agent that submitted it.
    pub agent: String,
    /// The full action to be approved.
    pub action: Action,
    /// `SHA-256(JCS(action))`.
    pub action_digest: String,
    /// The risk as the originating app scored it. Shown for comparison only: the importing app
    /// scores the action itself.
    pub risk: Risk,
    /// The policy in force at the origin, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub policy_sha256: Option<String>,
    /// What the decision still needs.
    pub required: Required,
    /// The decision body to sign (`payload`, exact bytes) and the signatures so far.
    pub envelope: Envelope,
}

/// A co-signed decision on its way back to the originating app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct CosignResponse {
    /// Format version, 1.
    pub v: u32,
    /// Always [`RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The draft id of the request.
    pub action_id: String,
    /// The action digest of the request.
    pub action_digest: String,
    /// The request's envelope with the co-signer's signature added.
    pub envelope: Envelope,
}

/// Why a co-sign file was refused. Nothing is signed or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    /// Not JSON of the expected shape, or too large.
    #[error("not a Countersign co-sign {expected} file: {message}")]
    Shape {
        /// `request` or `response`.
        expected: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file's parts disagree: the action, its digest and the signed body must describe one
    /// and the same decision.
    #[error("the co-sign file is inconsistent (altered?): {0}")]
    Tampered(String),
}

fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    expected: &'static str,
    kind: &str,
    version: impl Fn(&T) -> (u32, &str),
) -> Result<T, CosignError> {
    let shape = |message: String| CosignError::Shape { expected, message };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(shape(format!(
            "{} bytes is over the {MAX_FILE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let value = crate::json::parse_strict(bytes).map_err(|e| shape(e.to_string()))?;
    let file: T = serde_json::from_value(value).map_err(|e| shape(e.to_string()))?;
    let (v, found) = version(&file);
    if v != 1 || found != kind {
        return Err(shape(format!(
            "type `{found}` version {v}; expected `{kind}` version 1"
        )));
    }
    Ok(file)
}

/// The decision body in `envelope` (exact bytes), checked against the file's own claims.
fn body_of(
    envelope: &Envelope,
    action_id: &str,
    action_digest_claimed: &str,
) -> Result<(Vec<u8>, DecisionBody), CosignError> {
    let tampered = CosignError::Tampered;
    if envelope.payload_type != DECISION_PAYLOAD_TYPE {
        return Err(tampered(format!(
            "the envelope's payload type is `{}`, not a decision",
            envelope.payload_type
        )));
    }
    let bytes = B64
        .decode(&envelope.payload)
        .map_err(|_| tampered("the envelope's payload is not base64".into()))?;
    let body = parse_body(&bytes).map_err(|e| tampered(format!("the signed body: {e}")))?;
    if body.verdict != Verdict::Approved {
        return Err(tampered("the signed body is not an approval".into()));
    }
    if body.action_id != action_id {
        return Err(tampered(format!(
            "the signed body is for draft {}, the file says {action_id}",
            body.action_id
        )));
    }
    if body.action_digest != action_digest_claimed {
        return Err(tampered(format!(
            "the signed body approves {}, the file says {action_digest_claimed}",
            body.action_digest
        )));
    }
    Ok((bytes, body))
}

impl CosignRequest {
    /// Parses a request file (strict JSON, version 1, [`REQUEST_TYPE`]).
    ///
    /// # Errors
    /// [`CosignError::Shape`].
    pub fn parse(bytes: &[u8]) -> Result<CosignRequest, CosignError> {
        parse(bytes, "request", REQUEST_TYPE, |r: &CosignRequest| {
            (r.v, r.kind.as_str())
        })
    }

    /// Checks that the file describes one decision: the action hashes to `action_digest`, and
    /// the signed body carries that very action, digest, draft id, agent and policy, as an
    /// approval. Returns the body the co-signer would sign. Signatures are not checked here
    /// (the importing app may not pin the requester's key; the originating app checks all).
    ///
    /// # Errors
    /// [`CosignError::Tampered`] naming the first disagreement.
    pub fn check(&self) -> Result<DecisionBody, CosignError> {
        self.action
            .validate()
            .map_err(|e| CosignError::Tampered(format!("the action is invalid: {e}")))?;
        let computed = action_digest(&self.action).to_string();
        if computed != self.action_digest {
            return Err(CosignError::Tampered(format!(
                "the action hashes to {computed}, the file says {}",
                self.action_digest
            )));
        }
        let (_, body) = body_of(&self.envelope, &self.action_id, &self.action_digest)?;
        if body.action != self.action {
            return Err(CosignError::Tampered(
                "the signed body carries another action than the file shows".into(),
            ));
        }
        if body.agent != self.agent {
            return Err(CosignError::Tampered(format!(
                "the signed body is for agent `{}`, the file says `{}`",
                body.agent, self.agent
            )));
        }
        if body.policy_sha256 != self.policy_sha256 {
            return Err(CosignError::Tampered(
                "the signed body names another policy than the file".into(),
            ));
        }
        Ok(body)
    }

    /// Checks the request ([`CosignRequest::check`]) and adds `key`'s signature over the same
    /// body bytes: the response to send back.
    ///
    /// # Errors
    /// As [`CosignRequest::check`].
    pub fn sign(&self, key: &ApproverKey) -> Result<CosignResponse, CosignError> {
        self.check()?;
        let mut envelope = self.envelope.clone();
        envelope
            .add_signature(key)
            .map_err(|e| CosignError::Tampered(e.to_string()))?;
        Ok(CosignResponse {
            v: 1,
            kind: RESPONSE_TYPE.into(),
            action_id: self.action_id.clone(),
            action_digest: self.action_digest.clone(),
            envelope,
        })
    }
}

impl CosignResponse {
    /// Parses a response file (strict JSON, version 1, [`RESPONSE_TYPE`]) and returns it with
    /// the exact body bytes its envelope carries, checked to be an approval of
    /// `action_digest` for `action_id` as the file claims. The caller compares those bytes
    /// with the body it signed and verifies the signatures.
    ///
    /// # Errors
    /// [`CosignError`].
    pub fn parse(bytes: &[u8]) -> Result<(CosignResponse, Vec<u8>), CosignError> {
        let response = parse(bytes, "response", RESPONSE_TYPE, |r: &CosignResponse| {
            (r.v, r.kind.as_str())
        })?;
        let (body, _) = body_of(
            &response.envelope,
            &response.action_id,
            &response.action_digest,
        )?;
        Ok((response, body))
    }
}

/// A loud, human-readable account of how the file's risk differs from the local score, or
/// `None` when score, level and factor names agree. Factors the origin saw from its own
/// history (novelty, bursts) can differ legitimately; the reviewer is told either way.
pub fn risk_mismatch(file: &Risk, local: &Risk) -> Option<String> {
    let names = |r: &Risk| {
        let mut v: Vec<String> = r.factors.iter().map(|f| f.id.clone()).collect();
        v.sort();
        v
    };
    let (in_file, here) = (names(file), names(local));
    if file.score == local.score && file.level == local.level && in_file == here {
        return None;
    }
    let only_file: Vec<&str> = in_file
        .iter()
        .filter(|n| !here.contains(n))
        .map(String::as_str)
        .collect();
    let only_here: Vec<&str> = here
        .iter()
        .filter(|n| !in_file.contains(n))
        .map(String::as_str)
        .collect();
    Some(format!(
        "RISK MISMATCH: the file claims {} ({}), this app scores the same action {} ({}); factors only in the file: [{}]; only here: [{}]",
        file.score,
        file.level.as_str(),
        local.score,
        local.level.as_str(),
        only_file.join(", "),
        only_here.join(", ")
    ))
}
