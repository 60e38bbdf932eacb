//! Co-signing across machines (see [`countersign_core::cosign`] for the files):
//!
//! - [`Broker::approve_for_cosign`]: this app's approver signs a draft that needs a lead it is
//!   not; the draft stays pending, "awaiting co-signature";
//! - [`export_cosign_request`] / [`Broker::cosign_request`]: the request file for the lead;
//! - [`review_cosign_request`] / [`Broker::sign_cosign_request`]: the lead's side — the same
//!   diff and impact, a local score, and a signature over the same body bytes;
//! - [`Broker::import_cosign_response`]: each new signature verified against the pinned keys,
//!   and the multi-signature envelope released once the quorum is met.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::api::{CosignInfo, CosignOutcome, CosignReview, CosignSigner, Status};
use countersign_core::cosign::{
    risk_mismatch, CosignRequest, CosignResponse, Required, REQUEST_TYPE,
};
use countersign_core::decision::{
    check_quorum, parse_body, GateError, Quorum, Verdict, DECISION_PAYLOAD_TYPE,
};
use countersign_core::dsse::{pae, signed_by as signer_of};
use countersign_core::policy::Requirement;
use countersign_core::risk::RiskContext;
use countersign_core::{review, risk, ApproverKey, Envelope, TrustedKeys};
use countersign_store::{ActionRow, CosignRow, Store, StoreError};

use super::{Broker, BrokerError, Signed};
use crate::now;

fn bad(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::BadRequest(e.to_string())
}

/// The request file for draft `id`'s approval awaiting co-signatures, from the store alone
/// (no key needed: `countersign cosign export`).
///
/// # Errors
/// [`BrokerError::NotFound`] for an unknown draft, [`BrokerError::Conflict`] when it does not
/// await a co-signature; store errors.
pub fn export_cosign_request(store: &Store, id: &str) -> Result<CosignRequest, BrokerError> {
    let row = store
        .action(id)?
        .ok_or_else(|| BrokerError::NotFound(id.into()))?;
    let pending = awaiting(store, &row)?;
    let body = body_of(&pending)?;
    Ok(CosignRequest {
        v: 1,
        kind: REQUEST_TYPE.into(),
        action_id: row.id,
        agent: row.agent,
        action: row.action,
        action_digest: row.action_digest,
        risk: row.risk,
        policy_sha256: body.policy_sha256,
        required: pending.required,
        envelope: pending.envelope,
    })
}

fn awaiting(store: &Store, row: &ActionRow) -> Result<CosignRow, BrokerError> {
    if row.status != Status::Pending {
        return Err(BrokerError::Conflict(format!(
            "draft {} is already {}",
            row.id,
            row.status.as_str()
        )));
    }
    store.awaiting_cosign(&row.id)?.ok_or_else(|| {
        BrokerError::Conflict(format!(
            "draft {} does not await a co-signature (approve it for co-signing first)",
            row.id
        ))
    })
}

fn body_of(pending: &CosignRow) -> Result<countersign_core::DecisionBody, BrokerError> {
    let bytes = B64.decode(&pending.envelope.payload).map_err(|e| {
        BrokerError::Store(StoreError::Corrupt {
            table: "cosign_pending",
            column: "envelope_json",
            message: e.to_string(),
        })
    })?;
    parse_body(&bytes).map_err(|e| {
        BrokerError::Store(StoreError::Corrupt {
            table: "cosign_pending",
            column: "envelope_json",
            message: e.to_string(),
        })
    })
}

/// What the co-signer sees of request `bytes`: the file checked for consistency, diff and
/// impact from its action, a risk score computed here with `ctx`, and a loud mismatch note
/// when the file's claimed risk differs.
///
/// # Errors
/// [`BrokerError::BadRequest`] for a malformed or inconsistent (tampered) file.
pub fn review_cosign_request(bytes: &[u8], ctx: &RiskContext) -> Result<CosignReview, BrokerError> {
    let request = CosignRequest::parse(bytes).map_err(bad)?;
    let body = request.check().map_err(bad)?;
    let local = risk::score_with(&request.action, ctx);
    Ok(CosignReview {
        // The organisation's domains judge the recipients; this machine has no history of the
        // agent, so known or new is left open.
        review: review::review_with(&request.action, &local, ctx),
        risk_mismatch: risk_mismatch(&request.risk, &local),
        risk: local,
        requested_by: format!("{} ({})", body.approver.name, body.approver.keyid),
        exp: body.exp,
        request,
    })
}

/// Signs request `bytes` with `key` after the checks of [`review_cosign_request`]:
/// `shown_digest` must be the digest the co-signer was shown, the body must still be fresh,
/// and `key` must not have signed it already.
///
/// # Errors
/// [`BrokerError::BadRequest`] (malformed, tampered), [`BrokerError::Conflict`] (another
/// digest shown, already signed by this key), [`BrokerError::Expired`].
pub fn sign_cosign_request(
    bytes: &[u8],
    shown_digest: &str,
    key: &ApproverKey,
) -> Result<CosignResponse, BrokerError> {
    let request = CosignRequest::parse(bytes).map_err(bad)?;
    let body = request.check().map_err(bad)?;
    if request.action_digest != shown_digest {
        return Err(BrokerError::Conflict(format!(
            "the request approves {}, the review showed {shown_digest}",
            request.action_digest
        )));
    }
    if now() > body.exp {
        return Err(BrokerError::Expired(format!(
            "{} (its approval expired at {}; ask for a new co-sign request)",
            request.action_id, body.exp
        )));
    }
    let own = TrustedKeys::from_keys(vec![key.trusted_key("self", "approver")])
        .map_err(|e| BrokerError::BadRequest(e.to_string()))?;
    if request.envelope.verify(DECISION_PAYLOAD_TYPE, &own).is_ok() {
        return Err(BrokerError::Conflict(
            "this key already signed the request; a second signature by one key counts once".into(),
        ));
    }
    request.sign(key).map_err(bad)
}

impl Broker {
    /// What approving `row` needs beyond this app's approver, if anything: a `lead_required`
    /// draft signed by a key that is not pinned as lead needs one lead more; a
    /// `two_approvers` draft needs a second approver whoever signs first.
    pub(super) fn cosign_needed(&self, row: &ActionRow) -> Option<Required> {
        let p = self.policy()?;
        let lead = self.approver_is_lead();
        match p
            .policy
            .requirement(&row.agent, row.action.kind, row.risk.score)
        {
            Requirement::LeadRequired if !lead => Some(Required {
                approvals: 2,
                lead: true,
            }),
            Requirement::TwoApprovers => Some(Required {
                approvals: 2,
                lead: false,
            }),
            _ => None,
        }
    }

    /// Whether this app's approver key is pinned as a lead by the policy's trust file.
    pub(crate) fn approver_is_lead(&self) -> bool {
        self.policy()
            .is_some_and(|p| p.lead_keys.contains(&self.inner.signer.key.key_id()))
    }

    /// The keys whose signatures count towards a co-signed approval: this app's approver (as
    /// pinned by the policy's trust file, or as an `approver` when it is not pinned there) and
    /// every key of that trust file, revocations kept.
    fn cosigners(&self) -> Result<TrustedKeys, BrokerError> {
        let signer = &self.inner.signer;
        let mut keys = Vec::new();
        let pinned = self
            .policy()
            .map(|p| p.approvers.clone())
            .unwrap_or_default();
        if !pinned.iter().any(|k| k.keyid == signer.key.key_id()) {
            keys.push(signer.key.trusted_key(&signer.name, "approver"));
        }
        keys.extend(pinned);
        TrustedKeys::from_keys(keys).map_err(|e| BrokerError::BadRequest(e.to_string()))
    }

    /// Approves draft `id` as the first of several signers (its policy band needs a lead this
    /// approver is not): signs the decision body, records it as awaiting co-signature with an
    /// audit row, and leaves the draft pending. Export the request with
    /// [`Broker::cosign_request`].
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] when the draft needs no co-signature (approve it plainly);
    /// otherwise as [`Broker::decide`], and [`BrokerError::Conflict`] when it already awaits one.
    pub fn approve_for_cosign(
        &self,
        id: &str,
        shown_digest: &str,
    ) -> Result<CosignInfo, BrokerError> {
        let (row, t) = self.decidable(id, shown_digest)?;
        let required = self.cosign_needed(&row).ok_or_else(|| {
            BrokerError::BadRequest(format!(
                "draft {id} needs no co-signature: this approver may approve it alone"
            ))
        })?;
        if let Some(old) = self.inner.store.awaiting_cosign(id)? {
            if body_of(&old)?.exp >= t {
                return Err(BrokerError::Conflict(format!(
                    "draft {id} already awaits a co-signature"
                )));
            }
            // The earlier partial approval expired before a lead co-signed: start again.
            self.inner.store.clear_awaiting_cosign(id, t)?;
        }
        let signed = Signed {
            action: &row.action,
            digest: &row.action_digest,
            risk: &row.risk,
        };
        let body = self.decision_body(&row, &signed, Verdict::Approved, None, t);
        let envelope = body.sign(&self.inner.signer.key);
        let pending = CosignRow {
            action_id: row.id.clone(),
            envelope,
            required,
            created_at: t,
        };
        self.inner
            .store
            .record_awaiting_cosign(
                &pending,
                &row.action_digest,
                &self.inner.signer.name,
                &body.approver.keyid,
            )
            .map_err(|e| match e {
                StoreError::NotPending { id, status } => {
                    BrokerError::Conflict(format!("draft {id} is already {status}"))
                }
                other => BrokerError::Store(other),
            })?;
        self.publish(&row.id, Status::Pending);
        self.cosign_info(&pending)
    }

    /// Who signed an approval awaiting co-signatures and what is missing.
    pub(super) fn cosign_info(&self, pending: &CosignRow) -> Result<CosignInfo, BrokerError> {
        let trusted = self.cosigners()?;
        let body = body_of(pending)?;
        let signers = pending
            .envelope
            .verify(DECISION_PAYLOAD_TYPE, &trusted)
            .map(|v| v.signers)
            .unwrap_or_default();
        let quorum = Quorum {
            approvals: pending.required.approvals as usize,
            lead: pending.required.lead,
        };
        let names = named(&trusted, &signers);
        let missing = match check_quorum(&body, &signers, &trusted, quorum) {
            Ok(()) => "nothing".into(),
            Err(GateError::Quorum(why))
                if quorum.lead && !names.iter().any(|s| s.role == "lead") =>
            {
                format!("{why}; one of them must be a key pinned as `lead`")
            }
            Err(GateError::Quorum(why)) => why,
            Err(other) => other.to_string(),
        };
        Ok(CosignInfo {
            signers: names,
            required: pending.required,
            missing,
            exp: body.exp,
        })
    }

    /// The request file for draft `id` (see [`export_cosign_request`]).
    ///
    /// # Errors
    /// As [`export_cosign_request`].
    pub fn cosign_request(&self, id: &str) -> Result<CosignRequest, BrokerError> {
        export_cosign_request(&self.inner.store, id)
    }

    /// [`review_cosign_request`] scored with this app's policy context.
    ///
    /// # Errors
    /// As [`review_cosign_request`].
    pub fn review_cosign_request(&self, bytes: &[u8]) -> Result<CosignReview, BrokerError> {
        review_cosign_request(bytes, &self.risk_context())
    }

    /// [`sign_cosign_request`] with this app's key, refused when this app's policy blocks the
    /// locally scored risk.
    ///
    /// # Errors
    /// As [`sign_cosign_request`]; [`BrokerError::Conflict`] when the local policy blocks it.
    pub fn sign_cosign_request(
        &self,
        bytes: &[u8],
        shown_digest: &str,
    ) -> Result<CosignResponse, BrokerError> {
        let review = self.review_cosign_request(bytes)?;
        if let Some(p) = self.policy() {
            let agent = &review.request.agent;
            let kind = review.request.action.kind;
            if p.policy.requirement(agent, kind, review.risk.score) == Requirement::Blocked {
                return Err(BrokerError::Conflict(format!(
                    "policy serial {} blocks a score of {} here",
                    p.policy.serial, review.risk.score
                )));
            }
        }
        sign_cosign_request(bytes, shown_digest, &self.inner.signer.key)
    }

    /// Imports a co-sign response for a draft awaiting co-signatures here: the body must be
    /// byte for byte the one this app signed, each signature not seen before must verify
    /// against a live key of [`Broker::cosigners`] (unpinned, revoked or over another body:
    /// refused, nothing changes), and at least one must add a new signer. When the quorum is
    /// then met (distinct keys once, revoked zero, the requesting agent never), the
    /// multi-signature envelope is committed as the decision with its audit row and released
    /// to the agent; otherwise the signatures are kept and the draft keeps waiting.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] for a malformed, foreign or unverifiable response;
    /// [`BrokerError::Conflict`] when the draft does not await co-signatures or nothing new was
    /// signed; [`BrokerError::Expired`] when the signed body expired (approve again).
    pub fn import_cosign_response(&self, bytes: &[u8]) -> Result<CosignOutcome, BrokerError> {
        let (response, body_bytes) = CosignResponse::parse(bytes).map_err(bad)?;
        let id = response.action_id.clone();
        let row = self
            .inner
            .store
            .action(&id)?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        let pending = awaiting(&self.inner.store, &row)?;
        let ours = B64
            .decode(&pending.envelope.payload)
            .map_err(|e| BrokerError::BadRequest(e.to_string()))?;
        if body_bytes != ours || response.envelope.payload_type != pending.envelope.payload_type {
            return Err(BrokerError::BadRequest(format!(
                "the response signs another decision body than the one this app signed for draft {id} (other digest, draft or issue): refused"
            )));
        }
        let body = body_of(&pending)?;
        let t = now();
        if t > body.exp {
            return Err(BrokerError::Expired(format!(
                "{id} (its approval expired at {}; approve it again and send a new request)",
                body.exp
            )));
        }
        let trusted = self.cosigners()?;
        let message = pae(&pending.envelope.payload_type, &ours);
        let mut merged = pending.envelope.clone();
        let mut counted: Vec<String> = trusted_signers(&trusted, &message, &merged);
        let mut added = Vec::new();
        for (i, sig) in response.envelope.signatures.iter().enumerate() {
            if merged.signatures.iter().any(|s| s.sig == sig.sig) {
                continue;
            }
            let Some(signer) = signer_of(trusted.live(), &message, sig) else {
                let revoked = signer_of(trusted.iter(), &message, sig)
                    .map(|k| format!(" (key {} of {} is revoked)", k.keyid, k.approver))
                    .unwrap_or_default();
                return Err(BrokerError::BadRequest(format!(
                    "signature #{} (key id hint {}) does not verify against any live pinned key{revoked}: unpinned, revoked, or over another body; nothing was imported",
                    i + 1,
                    sig.keyid
                )));
            };
            if counted.contains(&signer.keyid) {
                continue;
            }
            counted.push(signer.keyid.clone());
            added.push(signer.keyid.clone());
            merged.signatures.push(sig.clone());
        }
        if added.is_empty() {
            return Err(BrokerError::Conflict(format!(
                "the response adds no new signer to draft {id}: every signature in it is by a key that already signed (one key counts once)"
            )));
        }
        let quorum = Quorum {
            approvals: pending.required.approvals as usize,
            lead: pending.required.lead,
        };
        if check_quorum(&body, &counted, &trusted, quorum).is_ok() {
            let names = named(&trusted, &counted);
            let approvers = names
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(" + ");
            self.record_signed(&row, Status::Approved, &body, merged, &approvers, t)?;
            return Ok(CosignOutcome::Released { id, signers: names });
        }
        self.inner.store.add_cosignatures(&id, &merged, &added, t)?;
        self.publish(&id, Status::Pending);
        let updated = CosignRow {
            envelope: merged,
            ..pending
        };
        Ok(CosignOutcome::Awaiting {
            id,
            cosign: self.cosign_info(&updated)?,
        })
    }
}

/// Distinct live pinned key ids among `envelope`'s signatures over `message`.
fn trusted_signers(trusted: &TrustedKeys, message: &[u8], envelope: &Envelope) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sig in &envelope.signatures {
        if let Some(k) = signer_of(trusted.live(), message, sig) {
            if !out.contains(&k.keyid) {
                out.push(k.keyid.clone());
            }
        }
    }
    out
}

fn named(trusted: &TrustedKeys, ids: &[String]) -> Vec<CosignSigner> {
    ids.iter()
        .filter_map(|id| trusted.get(id))
        .map(|k| CosignSigner {
            name: k.approver.clone(),
            role: k.role.clone(),
            keyid: k.keyid.clone(),
        })
        .collect()
}
