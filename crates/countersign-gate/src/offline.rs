//! Offline verification of a decision envelope, for `countersign verify` and audits: is this
//! envelope genuine, bound to its action, and what does it say? Verdict and freshness are
//! reported, not enforced, so a tool can show an old or rejected decision as exactly that.
//! Nothing is recorded: this never makes an envelope usable or unusable.

use countersign_core::api::DecisionResponse;
use countersign_core::decision::{
    verify_decision, verify_decision_signature, DecisionBody, Expectations, GateError, Verdict,
    DECISION_PAYLOAD_TYPE,
};
use countersign_core::dsse::Envelope;
use countersign_core::keys::{TrustedKey, TrustedKeys};
use countersign_core::time::UnixSeconds;

/// Whether a decision is within its validity window at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Within `iat`..`exp` (with the allowed clock skew): a gate would accept it now.
    Fresh,
    /// Outside its window or with an over-long lifetime; the text says how.
    Stale(String),
}

/// What an envelope proves.
#[derive(Debug, Clone)]
pub struct OfflineReport {
    /// The verified, digest-bound body.
    pub body: DecisionBody,
    /// The pinned keys whose signatures verified (each counted once).
    pub signers: Vec<TrustedKey>,
    /// Approved or rejected (`body.verdict`, repeated for convenience).
    pub verdict: Verdict,
    /// Freshness at the time given to [`verify_offline_at`].
    pub freshness: Freshness,
}

/// Why an envelope is not a genuine decision.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The bytes are not a DSSE envelope (or a decision response carrying one).
    #[error("not a DSSE envelope: {0}")]
    Parse(String),
    /// Signature, payload type, body or digest binding failed.
    #[error("{0}")]
    Invalid(GateError),
}

/// [`verify_offline_at`] at the current time.
///
/// # Errors
/// See [`verify_offline_at`].
pub fn verify_offline(
    envelope_bytes: &[u8],
    trusted: &TrustedKeys,
) -> Result<OfflineReport, OfflineError> {
    verify_offline_at(envelope_bytes, trusted, crate::unix_now())
}

/// Verifies `envelope_bytes` — a DSSE envelope, or a decision response (`{"id", "status",
/// "envelope"}`) carrying one — against the pinned `trusted` keys: payload type, signature,
/// strict body and digest binding. Verdict and freshness at `now` (Unix seconds) are reported
/// in the result, not treated as errors.
///
/// # Errors
/// [`OfflineError::Parse`] for bytes that are not an envelope; [`OfflineError::Invalid`] when
/// the envelope is not a genuine, digest-bound decision signed by a pinned key.
pub fn verify_offline_at(
    envelope_bytes: &[u8],
    trusted: &TrustedKeys,
    now: UnixSeconds,
) -> Result<OfflineReport, OfflineError> {
    let envelope = parse_envelope(envelope_bytes)?;
    let body = verify_decision_signature(&envelope, trusted).map_err(OfflineError::Invalid)?;
    let signer_ids = envelope
        .verify(DECISION_PAYLOAD_TYPE, trusted)
        .map_err(|e| OfflineError::Invalid(e.into()))?
        .signers;
    let signers = trusted
        .iter()
        .filter(|(k, _)| signer_ids.contains(&k.keyid))
        .map(|(k, _)| k.clone())
        .collect();
    // The body's own audience is used, so only freshness and verdict can fail below; the core
    // checks freshness before the verdict, so a rejection means the decision was fresh.
    let expect = Expectations {
        action_id: &body.action_id,
        agent: &body.agent,
        now,
    };
    let freshness = match verify_decision(&envelope, trusted, &expect) {
        Ok(_) | Err(GateError::Rejected(_)) => Freshness::Fresh,
        Err(GateError::Expired(why)) => Freshness::Stale(why),
        Err(other) => return Err(OfflineError::Invalid(other)),
    };
    Ok(OfflineReport {
        verdict: body.verdict,
        body,
        signers,
        freshness,
    })
}

fn parse_envelope(bytes: &[u8]) -> Result<Envelope, OfflineError> {
    let value = countersign_core::json::parse_strict(bytes)
        .map_err(|e| OfflineError::Parse(e.to_string()))?;
    if value.get("envelope").is_some() {
        let response: DecisionResponse =
            serde_json::from_value(value).map_err(|e| OfflineError::Parse(e.to_string()))?;
        return response.envelope.ok_or_else(|| {
            OfflineError::Parse(format!(
                "decision response for {} has no envelope (status {})",
                response.id,
                response.status.as_str()
            ))
        });
    }
    serde_json::from_value(value).map_err(|e| OfflineError::Parse(e.to_string()))
}
