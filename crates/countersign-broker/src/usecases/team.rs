//! Team mode (see [`countersign_core::team`] for the formats): the roster in force, approver
//! login by an Ed25519 challenge, the team's view of pending drafts, claims, routing, and
//! decisions assembled from signatures uploaded by approvers' apps. The server holds no
//! approver key for these: it checks each uploaded signature against the roster and releases
//! the envelope once the policy's quorum is met.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::api::{ActionSummary, Status};
use countersign_core::cosign::Required;
use countersign_core::decision::{
    check_quorum, parse_body, GateError, Quorum, Verdict, DECISION_LIFETIME_S,
    DECISION_PAYLOAD_TYPE, MAX_CLOCK_SKEW_S,
};
use countersign_core::digest::canonical_json;
use countersign_core::dsse::{pae, signed_by, Envelope};
use countersign_core::policy::Requirement;
use countersign_core::team::{
    Claim, LoginChallenge, LoginRequest, PolicyDocument, RosterDocument, RosterError, SignOutcome,
    SignatureUpload, TeamDraft, TeamDraftDetail, TeamEvent, TeamSession, VerifiedRoster,
    CHALLENGE_LIFETIME_S, MAX_ROSTER_BYTES, SESSION_LIFETIME_S,
};
use countersign_core::{DecisionBody, TrustedKey, TrustedKeys};
use countersign_store::{
    hash_token, new_token, AcceptedRoster, ActionRow, ClaimRow, CosignRow, NewSession, StoreError,
};
use serde_json::json;
use tokio::sync::broadcast;

use super::{summary_of, Broker, BrokerError};
use crate::now;

/// How long a claim lasts unless renewed, in seconds.
pub const CLAIM_TTL_S: i64 = 10 * 60;

/// Where the roster comes from (`countersign serve --team-roster`).
#[derive(Debug, Clone)]
pub struct TeamFiles {
    /// `roster.json`.
    pub roster: PathBuf,
    /// Its DSSE signature; default: the roster path with `.sig` appended.
    pub signature: Option<PathBuf>,
    /// The anchors: a trust file whose `lead` keys may sign rosters (`--lead-trust`).
    pub anchors: PathBuf,
    /// Seconds a draft that needs a lead waits unclaimed before every approver is notified.
    pub escalate_after_s: i64,
}

/// Why team mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum TeamStartError {
    /// A file could not be read.
    #[error("{path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The anchors file is not a trust file.
    #[error("{path}: {message}")]
    Anchors {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The roster was refused and no good roster is recorded.
    #[error("{path}: {cause}")]
    Roster {
        /// The roster file.
        path: PathBuf,
        /// Why.
        cause: RosterError,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// An authenticated approver (a live roster key with an open session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Key id.
    pub keyid: String,
    /// Roster name.
    pub name: String,
    /// `approver` or `lead`.
    pub role: String,
}

impl Member {
    fn is_lead(&self) -> bool {
        self.role == "lead"
    }
}

/// Team mode's state in one broker process (each replica has its own; the roster, sessions,
/// challenges and claims live in the shared store).
pub struct Team {
    broker: Broker,
    anchors: TrustedKeys,
    roster: RwLock<Arc<VerifiedRoster>>,
    escalate_after_s: i64,
    escalated: Mutex<HashSet<String>>,
    events: broadcast::Sender<TeamEvent>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Team({})", self.team())
    }
}

fn read(path: &Path, limit: usize) -> Result<Vec<u8>, TeamStartError> {
    let bytes = std::fs::read(path).map_err(|cause| TeamStartError::Read {
        path: path.into(),
        cause,
    })?;
    if bytes.len() > limit {
        return Err(TeamStartError::Read {
            path: path.into(),
            cause: std::io::Error::other(format!("over {limit} bytes")),
        });
    }
    Ok(bytes)
}

fn envelope_of(bytes: &[u8]) -> Result<Envelope, RosterError> {
    let value = countersign_core::json::parse_strict(bytes)
        .map_err(|e| RosterError::Signature(format!("not a DSSE envelope: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| RosterError::Signature(format!("not a DSSE envelope: {e}")))
}

fn unauthorized(message: impl Into<String>) -> BrokerError {
    BrokerError::Unauthorized(message.into())
}

fn conflict_of(e: StoreError) -> BrokerError {
    match e {
        StoreError::NotPending { id, status } => {
            BrokerError::Conflict(format!("draft {id} is {status}"))
        }
        other => BrokerError::Store(other),
    }
}

impl Team {
    /// Starts team mode for `broker`: reads the anchors and the roster, verifies the roster
    /// against the anchors' lead keys, refuses a rollback against the roster the store
    /// recorded (another replica may have put a newer one in force: that one then stays, after
    /// verifying it again), and records it with a `team.roster_loaded` audit row.
    ///
    /// # Errors
    /// [`TeamStartError`]: unreadable files, a refused roster with no good one recorded.
    pub fn start(broker: Broker, files: &TeamFiles) -> Result<Arc<Team>, TeamStartError> {
        let anchor_bytes = read(&files.anchors, MAX_ROSTER_BYTES)?;
        let anchors =
            TrustedKeys::from_json(&anchor_bytes).map_err(|e| TeamStartError::Anchors {
                path: files.anchors.clone(),
                message: e.to_string(),
            })?;
        let sig_path = files.signature.clone().unwrap_or_else(|| {
            let mut p = files.roster.clone().into_os_string();
            p.push(".sig");
            p.into()
        });
        let bytes = read(&files.roster, MAX_ROSTER_BYTES)?;
        let sig = read(&sig_path, MAX_ROSTER_BYTES)?;
        let store = broker.store();
        let offered =
            envelope_of(&sig).and_then(|env| VerifiedRoster::verify(&bytes, &env, &anchors));
        let recorded = store.roster_in_force()?;
        let roster = match offered {
            Ok(v) => {
                let in_force = recorded.as_ref().map(|r| (r.serial, r.sha256.as_str()));
                match (v.check_not_older(in_force), &recorded) {
                    (Ok(()), _) => {
                        if let Some(r) = &recorded {
                            if r.team != v.roster.team {
                                return Err(TeamStartError::Roster {
                                    path: files.roster.clone(),
                                    cause: RosterError::Team {
                                        found: v.roster.team.clone(),
                                        expected: r.team.clone(),
                                    },
                                });
                            }
                        }
                        accept(store, &v, &bytes, &sig, &files.roster)?;
                        v
                    }
                    (Err(cause), Some(r)) => {
                        tracing::warn!(
                            "{}: {cause}; keeping serial {} recorded by the team",
                            files.roster.display(),
                            r.serial
                        );
                        reverify(&anchors, &r.bytes, &r.signature_json).map_err(|cause| {
                            TeamStartError::Roster {
                                path: files.roster.clone(),
                                cause,
                            }
                        })?
                    }
                    (Err(cause), None) => {
                        return Err(TeamStartError::Roster {
                            path: files.roster.clone(),
                            cause,
                        })
                    }
                }
            }
            Err(cause) => {
                return Err(TeamStartError::Roster {
                    path: files.roster.clone(),
                    cause,
                });
            }
        };
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Team {
            broker,
            anchors,
            roster: RwLock::new(Arc::new(roster)),
            escalate_after_s: files.escalate_after_s,
            escalated: Mutex::default(),
            events,
        }))
    }

    /// The team's name.
    pub fn team(&self) -> String {
        self.roster_now().roster.team.clone()
    }

    /// The roster in force, re-read from the store when another replica put a newer one in
    /// force (verified again against the anchors before it is used).
    pub fn roster(&self) -> Result<Arc<VerifiedRoster>, BrokerError> {
        let current = self.roster_now();
        if let Some(r) = self.broker.store().roster_in_force()? {
            if r.serial > current.roster.serial {
                let v = reverify(&self.anchors, &r.bytes, &r.signature_json).map_err(|e| {
                    BrokerError::Forbidden(format!(
                        "the roster recorded by the team (serial {}) does not verify: {e}",
                        r.serial
                    ))
                })?;
                let v = Arc::new(v);
                *self.roster.write().unwrap_or_else(|p| p.into_inner()) = v.clone();
                return Ok(v);
            }
        }
        Ok(current)
    }

    fn roster_now(&self) -> Arc<VerifiedRoster> {
        self.roster
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The roster in force as bytes and signature, for apps to verify against their anchors.
    ///
    /// # Errors
    /// Store errors.
    pub fn roster_document(&self) -> Result<RosterDocument, BrokerError> {
        let r = self
            .broker
            .store()
            .roster_in_force()?
            .ok_or_else(|| BrokerError::NotFound("roster".into()))?;
        let signature = envelope_of(r.signature_json.as_bytes())
            .map_err(|e| BrokerError::Forbidden(e.to_string()))?;
        Ok(RosterDocument {
            roster: B64.encode(&r.bytes),
            signature,
        })
    }

    /// The policy this replica decides under (bytes and signature), for apps to verify.
    ///
    /// # Errors
    /// [`BrokerError::NotFound`] when no policy is in force.
    pub fn policy_document(&self) -> Result<PolicyDocument, BrokerError> {
        let in_force = self
            .broker
            .policy()
            .ok_or_else(|| BrokerError::NotFound("policy (this team runs without one)".into()))?;
        Ok(PolicyDocument {
            policy: B64.encode(in_force.text.as_bytes()),
            signature: in_force.envelope.clone(),
        })
    }

    /// A login challenge for `keyid`, which must be a live roster key; recorded (single use)
    /// in the store so that any replica accepts the answer.
    ///
    /// # Errors
    /// [`BrokerError::Unauthorized`] for a key not in the roster (or revoked); store errors.
    pub fn challenge(&self, keyid: &str) -> Result<LoginChallenge, BrokerError> {
        let roster = self.roster()?;
        if roster.member(keyid).is_none() {
            return Err(unauthorized(format!(
                "key {keyid} is not a live key of team `{}`'s roster (serial {})",
                roster.roster.team, roster.roster.serial
            )));
        }
        let t = now();
        let challenge = LoginChallenge {
            v: 1,
            team: roster.roster.team.clone(),
            keyid: keyid.into(),
            nonce: hex::encode(rand::random::<[u8; 32]>()),
            iat: t,
            exp: t + CHALLENGE_LIFETIME_S,
        };
        self.broker
            .store()
            .issue_challenge(&challenge.nonce, keyid, t, challenge.exp)?;
        Ok(challenge)
    }

    /// Answers a login: the challenge must be for this team, not lapsed, signed by the
    /// challenged live roster key, and its nonce unused (it is consumed); then a session is
    /// opened with a `team.login` audit row. The token is returned once.
    ///
    /// # Errors
    /// [`BrokerError::Unauthorized`] with the reason; store errors.
    pub fn login(&self, req: &LoginRequest) -> Result<TeamSession, BrokerError> {
        let roster = self.roster()?;
        let ch = &req.challenge;
        let t = now();
        if ch.v != 1 || ch.team != roster.roster.team {
            return Err(unauthorized(format!(
                "the challenge is for team `{}`, this server serves `{}`",
                ch.team, roster.roster.team
            )));
        }
        if t > ch.exp {
            return Err(unauthorized("the challenge lapsed; ask for a new one"));
        }
        let Some(member) = ch.verify(&req.signature, &roster.keys) else {
            return Err(unauthorized(
                "the signature does not verify with the challenged key's roster entry",
            ));
        };
        if !self
            .broker
            .store()
            .consume_challenge(&ch.nonce, &ch.keyid, t)?
        {
            return Err(unauthorized(
                "unknown, lapsed or already used challenge nonce; ask for a new one",
            ));
        }
        let token = new_token();
        let expires_at = t + SESSION_LIFETIME_S;
        self.broker.store().open_session(&NewSession {
            token_hash: &hash_token(&token),
            team: &roster.roster.team,
            keyid: &member.keyid,
            approver: &member.approver,
            at: t,
            expires_at,
        })?;
        Ok(TeamSession {
            token,
            team: roster.roster.team.clone(),
            approver: member.approver,
            keyid: member.keyid,
            role: member.role,
            expires_at,
        })
    }

    /// The approver a session token belongs to: the session must be open, bound to this
    /// team, and its key still live in the roster in force (a revocation ends it at once).
    ///
    /// # Errors
    /// [`BrokerError::Unauthorized`]; store errors.
    pub fn authenticate(&self, token: &str) -> Result<Member, BrokerError> {
        let t = now();
        let session = self
            .broker
            .store()
            .session(&hash_token(token), t)?
            .ok_or_else(|| unauthorized("unknown, ended or lapsed approver session; log in"))?;
        let roster = self.roster()?;
        if session.team != roster.roster.team {
            return Err(unauthorized(format!(
                "the session is for team `{}`, not `{}`",
                session.team, roster.roster.team
            )));
        }
        let entry = roster.member(&session.keyid).ok_or_else(|| {
            unauthorized(format!(
                "key {} is no longer a live key of the roster (serial {})",
                session.keyid, roster.roster.serial
            ))
        })?;
        Ok(Member {
            keyid: entry.keyid.clone(),
            name: entry.approver.clone(),
            role: entry.role.clone(),
        })
    }

    /// Ends a session (logout), audited.
    ///
    /// # Errors
    /// Store errors.
    pub fn logout(&self, token: &str) -> Result<(), BrokerError> {
        self.broker.store().end_session(&hash_token(token), now())?;
        Ok(())
    }

    fn requirement(&self, row: &ActionRow) -> Requirement {
        match self.broker.policy() {
            Some(p) => p
                .policy
                .requirement(&row.agent, row.action.kind, row.risk.score),
            None => Requirement::OneApprover,
        }
    }

    fn requirement_of(&self, s: &ActionSummary) -> Requirement {
        match self.broker.policy() {
            Some(p) => p.policy.requirement(&s.agent, s.kind, s.score),
            None => Requirement::OneApprover,
        }
    }

    fn team_draft(
        &self,
        row: &ActionRow,
        claims: &[ClaimRow],
        roster: &VerifiedRoster,
    ) -> Result<TeamDraft, BrokerError> {
        let awaiting = self.broker.store().awaiting_cosign(&row.id)?;
        Ok(self.view(summary_of(row), awaiting.as_ref(), claims, roster))
    }

    /// The team view of a pending draft from its queue row, the approval awaiting signatures
    /// on it (if any) and the live claims.
    fn view(
        &self,
        summary: ActionSummary,
        awaiting: Option<&CosignRow>,
        claims: &[ClaimRow],
        roster: &VerifiedRoster,
    ) -> TeamDraft {
        let requirement = self.requirement_of(&summary);
        let quorum = requirement.quorum().unwrap_or_default();
        let signers = awaiting
            .map(|p| signer_names(roster, &p.envelope))
            .unwrap_or_default();
        let claim = claims
            .iter()
            .find(|c| c.action_id == summary.id)
            .map(|c| Claim {
                approver: c.approver.clone(),
                keyid: c.keyid.clone(),
                until: c.until,
            });
        let escalated = self
            .escalated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&summary.id);
        TeamDraft {
            summary,
            requirement,
            required: Required {
                approvals: u32::try_from(quorum.approvals).unwrap_or(u32::MAX),
                lead: quorum.lead,
            },
            signers,
            claim,
            escalated,
        }
    }

    /// Every pending draft as the team sees it, riskiest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn drafts(&self) -> Result<Vec<TeamDraft>, BrokerError> {
        let store = self.broker.store();
        let roster = self.roster()?;
        let claims = store.claims(now())?;
        let awaiting = store.all_awaiting_cosign()?;
        Ok(self
            .pending_summaries()?
            .into_iter()
            .map(|s| {
                let a = awaiting.iter().find(|a| a.action_id == s.id);
                self.view(s, a, &claims, &roster)
            })
            .collect())
    }

    fn pending_summaries(&self) -> Result<Vec<ActionSummary>, BrokerError> {
        Ok(self
            .broker
            .store()
            .action_summaries(u32::MAX, 0)?
            .into_iter()
            .filter(|s| s.status == Status::Pending)
            .collect())
    }

    /// One draft with its detail, the approval awaiting signatures (if any), and what a new
    /// decision body must name.
    ///
    /// # Errors
    /// [`BrokerError::NotFound`]; store errors.
    pub fn draft(&self, id: &str) -> Result<TeamDraftDetail, BrokerError> {
        let store = self.broker.store();
        let row = store
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        let roster = self.roster()?;
        let claims = store.claims(now())?;
        let awaiting = match store.awaiting_cosign(id)? {
            Some(p) if row.status == Status::Pending => Some(p.envelope),
            _ => None,
        };
        Ok(TeamDraftDetail {
            draft: self.team_draft(&row, &claims, &roster)?,
            detail: self.broker.detail(id)?,
            awaiting,
            policy_sha256: self.broker.policy().map(|p| p.sha256.clone()),
            now: now(),
        })
    }

    /// Claims draft `id` for `member` ("in review" to the others) for [`CLAIM_TTL_S`]; renews
    /// their own claim.
    ///
    /// # Errors
    /// [`BrokerError::Conflict`] naming the reviewer when someone else holds a live claim;
    /// [`BrokerError::NotFound`]; store errors.
    pub fn claim(&self, member: &Member, id: &str) -> Result<Claim, BrokerError> {
        let store = self.broker.store();
        self.pending_row(id)?;
        let t = now();
        let held = store.claim(&ClaimRow {
            action_id: id.into(),
            keyid: member.keyid.clone(),
            approver: member.name.clone(),
            claimed_at: t,
            until: t + CLAIM_TTL_S,
        })?;
        self.broker.publish(id, Status::Pending);
        if held.keyid != member.keyid {
            return Err(BrokerError::Conflict(format!(
                "draft {id} is in review by {} until {}",
                held.approver, held.until
            )));
        }
        Ok(Claim {
            approver: held.approver,
            keyid: held.keyid,
            until: held.until,
        })
    }

    /// Draft `id`, which must still be pending.
    fn pending_row(&self, id: &str) -> Result<ActionRow, BrokerError> {
        let row = self
            .broker
            .store()
            .action(id)?
            .ok_or_else(|| BrokerError::NotFound(id.into()))?;
        if row.status != Status::Pending {
            return Err(BrokerError::Conflict(format!(
                "draft {id} is already {}",
                row.status.as_str()
            )));
        }
        Ok(row)
    }

    /// Commits `member`'s signed rejection (`body`, the uploaded payload and signature) of
    /// `row` and releases it to the agent.
    fn reject_with(
        &self,
        row: &ActionRow,
        body: &DecisionBody,
        upload: &SignatureUpload,
        member: &Member,
        t: i64,
    ) -> Result<SignOutcome, BrokerError> {
        let envelope = Envelope {
            payload: upload.payload.clone(),
            payload_type: DECISION_PAYLOAD_TYPE.into(),
            signatures: vec![upload.signature.clone()],
        };
        let info =
            self.broker
                .record_signed(row, Status::Rejected, body, envelope, &member.name, t)?;
        self.forget(&row.id);
        Ok(SignOutcome::Rejected {
            envelope: info.envelope,
        })
    }

    /// Releases `member`'s claim of `id` (a no-op when they hold none).
    ///
    /// # Errors
    /// Store errors.
    pub fn release(&self, member: &Member, id: &str) -> Result<(), BrokerError> {
        if self.broker.store().release_claim(id, &member.keyid)? {
            self.broker.publish(id, Status::Pending);
        }
        Ok(())
    }

    /// Records `member`'s signature over a decision body for draft `id`.
    ///
    /// - No approval awaits signatures: the payload is a new body, which must be the
    ///   canonical (RFC 8785) form of a decision for this draft, agent and unedited action,
    ///   naming `member` as approver, the stored risk, the policy in force, `iat` within
    ///   60 s of the server's clock and a lifetime of at most 300 s. A rejection (reason
    ///   required) is committed at once; an approval is committed when this signature meets
    ///   the policy's quorum, and otherwise waits for more signatures.
    /// - An approval awaits signatures: the payload must be that body, byte for byte; the
    ///   signature is added (one key counts once) and the envelope is released when the quorum
    ///   is met, counted against the roster (revoked keys zero, the agent's own key never).
    ///
    /// - A rejection may always be proposed as a new body: it ends the draft, an approval
    ///   awaiting more signatures included (one "no" is enough).
    ///
    /// The signature must verify with `member`'s own live roster key.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] (malformed or mismatched body, bad signature),
    /// [`BrokerError::Conflict`] (decided, another body awaits, already signed),
    /// [`BrokerError::Forbidden`] (blocked by the policy), [`BrokerError::Expired`].
    pub fn sign(
        &self,
        member: &Member,
        id: &str,
        upload: &SignatureUpload,
    ) -> Result<SignOutcome, BrokerError> {
        let store = self.broker.store();
        let row = self.pending_row(id)?;
        let t = now();
        if t >= row.expires_at {
            return Err(BrokerError::Expired(id.into()));
        }
        let bytes = B64
            .decode(&upload.payload)
            .map_err(|e| BrokerError::BadRequest(format!("payload is not base64: {e}")))?;
        let roster = self.roster()?;
        let own: Vec<TrustedKey> = roster.member(&member.keyid).cloned().into_iter().collect();
        let own = TrustedKeys::from_keys(own)
            .map_err(|_| unauthorized("your key is no longer in the roster"))?;
        let message = pae(DECISION_PAYLOAD_TYPE, &bytes);
        if signed_by(own.live(), &message, &upload.signature).is_none() {
            return Err(BrokerError::BadRequest(format!(
                "the signature does not verify with {}'s roster key ({}) over this payload",
                member.name, member.keyid
            )));
        }
        let requirement = self.requirement(&row);
        let quorum = requirement.quorum().ok_or_else(|| {
            BrokerError::Forbidden(format!(
                "the policy blocks draft {id} (score {}): nobody may approve it",
                row.risk.score
            ))
        })?;
        let signature = upload.signature.clone();
        let pending = match store.awaiting_cosign(id)? {
            Some(p) if self.body_of(&p)?.exp >= t => Some(p),
            Some(_) => {
                store.clear_awaiting_cosign(id, t)?;
                None
            }
            None => None,
        };
        let Some(pending) = pending else {
            let body = self.check_new_body(&row, member, &bytes, t)?;
            if body.verdict == Verdict::Rejected {
                return self.reject_with(&row, &body, upload, member, t);
            }
            let envelope = Envelope {
                payload: upload.payload.clone(),
                payload_type: DECISION_PAYLOAD_TYPE.into(),
                signatures: vec![signature],
            };
            return self.approve_with(&row, &body, envelope, quorum, &roster, None, t);
        };
        let ours = B64
            .decode(&pending.envelope.payload)
            .map_err(|e| BrokerError::BadRequest(e.to_string()))?;
        if bytes != ours {
            // Anyone may still say no: a signed rejection ends the draft, approvals awaiting
            // more signatures included.
            if let Ok(body) = self.check_new_body(&row, member, &bytes, t) {
                if body.verdict == Verdict::Rejected {
                    return self.reject_with(&row, &body, upload, member, t);
                }
            }
            return Err(BrokerError::Conflict(format!(
                "an approval of draft {id} already awaits signatures on another body: fetch the draft and sign its `awaiting` payload (or reject it)"
            )));
        }
        let body = self.body_of(&pending)?;
        let already = signers_of(&roster.keys, &message, &pending.envelope);
        if already.contains(&member.keyid) {
            return Err(BrokerError::Conflict(format!(
                "{} already signed this approval; a second signature by one key counts once",
                member.name
            )));
        }
        let mut envelope = pending.envelope.clone();
        envelope.signatures.push(signature);
        self.approve_with(
            &row,
            &body,
            envelope,
            quorum,
            &roster,
            Some(member.keyid.clone()),
            t,
        )
    }

    /// Commits `envelope` as the approval when its roster signers meet `quorum`; else records
    /// it as awaiting signatures (`added`: the co-signer just added, `None` for the first).
    #[allow(clippy::too_many_arguments)]
    fn approve_with(
        &self,
        row: &ActionRow,
        body: &DecisionBody,
        envelope: Envelope,
        quorum: Quorum,
        roster: &VerifiedRoster,
        added: Option<String>,
        t: i64,
    ) -> Result<SignOutcome, BrokerError> {
        let store = self.broker.store();
        let message = pae(
            DECISION_PAYLOAD_TYPE,
            &B64.decode(&envelope.payload).unwrap_or_default(),
        );
        let counted = signers_of(&roster.keys, &message, &envelope);
        let names = signer_names(roster, &envelope);
        match check_quorum(body, &counted, &roster.keys, quorum) {
            Ok(()) => {
                let info = self.broker.record_signed(
                    row,
                    Status::Approved,
                    body,
                    envelope,
                    &names.join(" + "),
                    t,
                )?;
                self.forget(&row.id);
                Ok(SignOutcome::Released {
                    signers: names,
                    envelope: info.envelope,
                })
            }
            Err(GateError::Quorum(why)) => {
                let required = Required {
                    approvals: u32::try_from(quorum.approvals).unwrap_or(u32::MAX),
                    lead: quorum.lead,
                };
                match added {
                    None => store
                        .record_awaiting_cosign(
                            &CosignRow {
                                action_id: row.id.clone(),
                                envelope,
                                required,
                                created_at: t,
                            },
                            &row.action_digest,
                            &body.approver.name,
                            &body.approver.keyid,
                        )
                        .map_err(conflict_of)?,
                    Some(keyid) => store
                        .add_cosignatures(&row.id, &envelope, &[keyid], t)
                        .map_err(conflict_of)?,
                }
                self.broker.publish(&row.id, Status::Pending);
                let missing = if quorum.lead && !names_have_lead(roster, &counted) {
                    format!("{why}; one of them must be a lead")
                } else {
                    why
                };
                Ok(SignOutcome::Awaiting {
                    signers: names,
                    missing,
                })
            }
            Err(other) => Err(BrokerError::BadRequest(other.to_string())),
        }
    }

    fn body_of(&self, pending: &CosignRow) -> Result<DecisionBody, BrokerError> {
        let bytes = B64
            .decode(&pending.envelope.payload)
            .map_err(|e| BrokerError::BadRequest(e.to_string()))?;
        parse_body(&bytes).map_err(|e| BrokerError::BadRequest(e.to_string()))
    }

    /// The checks on a body proposed by the first signer (see [`Team::sign`]).
    fn check_new_body(
        &self,
        row: &ActionRow,
        member: &Member,
        bytes: &[u8],
        t: i64,
    ) -> Result<DecisionBody, BrokerError> {
        let bad = |m: String| BrokerError::BadRequest(format!("decision body: {m}"));
        let body = parse_body(bytes).map_err(|e| bad(e.to_string()))?;
        if canonical_json(&body).ok().as_deref() != Some(bytes) {
            return Err(bad("not in RFC 8785 canonical form".into()));
        }
        if body.v != 1 {
            return Err(bad(format!("v must be 1, found {}", body.v)));
        }
        if body.action_id != row.id || body.agent != row.agent {
            return Err(bad(format!(
                "for draft {} of agent `{}`, this draft is {} of `{}`",
                body.action_id, body.agent, row.id, row.agent
            )));
        }
        if body.action != row.action || body.action_digest != row.action_digest {
            return Err(bad(
                "its action is not the stored draft (edits are not taken through the team API: reject with a suggestion instead)".into(),
            ));
        }
        if body.approver.keyid != member.keyid || body.approver.name != member.name {
            return Err(bad(format!(
                "it names approver {} ({}), the session is {} ({})",
                body.approver.name, body.approver.keyid, member.name, member.keyid
            )));
        }
        if body.risk.score != row.risk.score || body.risk.level != row.risk.level {
            return Err(bad(format!(
                "risk {} ({}) is not the stored {} ({})",
                body.risk.score,
                body.risk.level.as_str(),
                row.risk.score,
                row.risk.level.as_str()
            )));
        }
        let policy = self.broker.policy().map(|p| p.sha256.clone());
        if body.policy_sha256 != policy {
            return Err(bad(format!(
                "policy_sha256 {:?} is not the policy in force {:?}",
                body.policy_sha256, policy
            )));
        }
        if (body.iat - t).abs() > MAX_CLOCK_SKEW_S {
            return Err(bad(format!(
                "iat {} is more than {MAX_CLOCK_SKEW_S} s from the server's clock {t}",
                body.iat
            )));
        }
        if body.exp <= body.iat || body.exp - body.iat > DECISION_LIFETIME_S {
            return Err(bad(format!(
                "exp - iat must be 1 to {DECISION_LIFETIME_S} s, found {}",
                body.exp - body.iat
            )));
        }
        if body.jti.is_empty() || body.jti.len() > 128 {
            return Err(bad("jti must be 1 to 128 characters".into()));
        }
        match body.verdict {
            Verdict::Rejected => {
                let reason = body.reason.as_deref().unwrap_or("").trim();
                if reason.is_empty() {
                    return Err(bad("a rejection needs a reason".into()));
                }
            }
            Verdict::Approved => {}
        }
        Ok(body)
    }

    fn forget(&self, id: &str) {
        self.escalated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Subscribes to the team's events (see [`Team::spawn_events`]).
    pub fn subscribe(&self) -> broadcast::Receiver<TeamEvent> {
        self.events.subscribe()
    }

    /// Whether `member` should be notified of `draft`: leads first when it needs a lead;
    /// everyone once it was escalated or when any approver may sign.
    pub fn notifies(member: &Member, draft: &TeamDraft) -> bool {
        draft.requirement != Requirement::LeadRequired || draft.escalated || member.is_lead()
    }

    /// Turns the broker's queue events (from this replica and, on PostgreSQL, from the
    /// others) into team events, and escalates drafts that need a lead and waited unclaimed
    /// longer than the escalation time (checked every second).
    pub fn spawn_events(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let team = self.clone();
        let mut queue = self.broker.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tokio::select! {
                    ev = queue.recv() => match ev {
                        Ok(ev) => {
                            let t = team.clone();
                            let _ = tokio::task::spawn_blocking(move || t.announce(&ev.id)).await;
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let t = team.clone();
                            let _ = tokio::task::spawn_blocking(move || t.resnapshot()).await;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        let t = team.clone();
                        let _ = tokio::task::spawn_blocking(move || t.escalate_due()).await;
                    }
                }
            }
        })
    }

    fn announce(&self, id: &str) {
        let event = (|| -> Result<Option<TeamEvent>, BrokerError> {
            let store = self.broker.store();
            let Some(row) = store.action(id)? else {
                return Ok(None);
            };
            if row.status != Status::Pending {
                self.forget(id);
                return Ok(Some(TeamEvent::Decided {
                    id: id.into(),
                    status: row.status,
                }));
            }
            let claims = store.claims(now())?;
            let roster = self.roster()?;
            let draft = self.team_draft(&row, &claims, &roster)?;
            Ok(Some(TeamEvent::Pending {
                draft: Box::new(draft),
                notify: false,
            }))
        })();
        match event {
            Ok(Some(e)) => {
                let _ = self.events.send(e);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("team event for draft {id}: {e}"),
        }
    }

    fn resnapshot(&self) {
        match self.drafts() {
            Ok(drafts) => {
                let _ = self.events.send(TeamEvent::Snapshot { drafts });
            }
            Err(e) => tracing::warn!("team snapshot: {e}"),
        }
    }

    fn escalate_due(&self) {
        let due = (|| -> Result<Vec<TeamDraft>, BrokerError> {
            let t = now();
            // Only drafts that need a lead, waited long enough and were not escalated yet are
            // read further: the check runs every second.
            let candidates: Vec<ActionSummary> = {
                let escalated = self.escalated.lock().unwrap_or_else(|p| p.into_inner());
                self.pending_summaries()?
                    .into_iter()
                    .filter(|s| {
                        self.requirement_of(s) == Requirement::LeadRequired
                            && t - s.created_at >= self.escalate_after_s
                            && !escalated.contains(&s.id)
                    })
                    .collect()
            };
            if candidates.is_empty() {
                return Ok(Vec::new());
            }
            let store = self.broker.store();
            let claims = store.claims(t)?;
            let roster = self.roster()?;
            let mut out = Vec::new();
            for s in candidates {
                if claims.iter().any(|c| c.action_id == s.id) {
                    continue;
                }
                self.escalated
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(s.id.clone());
                let awaiting = store.awaiting_cosign(&s.id)?;
                out.push(self.view(s, awaiting.as_ref(), &claims, &roster));
            }
            Ok(out)
        })();
        match due {
            Ok(drafts) => {
                for draft in drafts {
                    let _ = self.events.send(TeamEvent::Pending {
                        draft: Box::new(draft),
                        notify: true,
                    });
                }
            }
            Err(e) => tracing::warn!("team escalation: {e}"),
        }
    }
}

/// Verifies a recorded roster again (bytes and envelope JSON) against `anchors`.
fn reverify(
    anchors: &TrustedKeys,
    bytes: &[u8],
    signature_json: &str,
) -> Result<VerifiedRoster, RosterError> {
    let env = envelope_of(signature_json.as_bytes())?;
    VerifiedRoster::verify(bytes, &env, anchors)
}

fn accept(
    store: &countersign_store::Store,
    v: &VerifiedRoster,
    bytes: &[u8],
    sig: &[u8],
    path: &Path,
) -> Result<(), TeamStartError> {
    let detail = json!({
        "team": v.roster.team,
        "serial": v.roster.serial,
        "sha256": v.sha256,
        "signers": v.signers,
        "source": path.display().to_string(),
    });
    let accepted = store.accept_roster(&AcceptedRoster {
        team: &v.roster.team,
        serial: v.roster.serial,
        sha256: &v.sha256,
        bytes,
        signature_json: &String::from_utf8_lossy(sig),
        at: now(),
        audit_detail: &detail,
    })?;
    if accepted {
        Ok(())
    } else {
        Err(TeamStartError::Roster {
            path: path.into(),
            cause: RosterError::Rollback {
                found: v.roster.serial,
                in_force: store.roster_in_force()?.map_or(0, |r| r.serial),
            },
        })
    }
}

/// Distinct live roster key ids among `envelope`'s signatures over `message`.
fn signers_of(keys: &TrustedKeys, message: &[u8], envelope: &Envelope) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sig in &envelope.signatures {
        if let Some(k) = signed_by(keys.live(), message, sig) {
            if !out.contains(&k.keyid) {
                out.push(k.keyid.clone());
            }
        }
    }
    out
}

fn signer_names(roster: &VerifiedRoster, envelope: &Envelope) -> Vec<String> {
    let message = pae(
        DECISION_PAYLOAD_TYPE,
        &B64.decode(&envelope.payload).unwrap_or_default(),
    );
    signers_of(&roster.keys, &message, envelope)
        .iter()
        .filter_map(|id| roster.keys.get(id))
        .map(|k| k.approver.clone())
        .collect()
}

fn names_have_lead(roster: &VerifiedRoster, ids: &[String]) -> bool {
    ids.iter()
        .filter_map(|id| roster.keys.get(id))
        .any(|k| k.role == "lead")
}
