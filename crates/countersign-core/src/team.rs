//! Team mode: the lead-signed roster, the approver login challenge, and what an approver's app
//! uploads to a team server (a signature, never a key).
//!
//! **Roster** (`roster.json`, strict JSON, signed like the policy by a DSSE envelope in
//! `roster.json.sig` with payload type [`ROSTER_PAYLOAD_TYPE`]):
//!
//! ```json
//! { "v": 1, "type": "countersign.team-roster", "team": "payments", "serial": 3,
//!   "keys": [ { "keyid": "sha256:…", "alg": "ed25519", "public_key": "…",
//!               "approver": "ana", "role": "lead" }, … ] }
//! ```
//!
//! The roster is verified against the *anchors*: the lead keys the server operator and every
//! approver's app pin (`--lead-trust`, the same file that pins the policy's signers). A roster
//! names who may approve and who is a lead; its `serial` only grows (an older or different
//! roster under the same serial is refused: no rollback).
//!
//! **Login** (no passwords): the server issues a [`LoginChallenge`] naming the team, the
//! approver's key id, a random nonce and a 60 s lifetime; the app signs its RFC 8785 bytes as a
//! DSSE payload of type [`LOGIN_PAYLOAD_TYPE`] with the approver key; the server verifies the
//! signature against the roster entry of that key, consumes the nonce (single use) and opens a
//! session bound to the team.
//!
//! **Decisions**: the first approver's app builds the [`crate::DecisionBody`] from the draft it
//! was shown and signs it; later approvers sign the *same body bytes*. Each upload is a
//! [`SignatureUpload`]: the payload (so the server can check it is the body it holds) and one
//! signature. The server releases the multi-signature envelope when the policy's quorum is met,
//! counted against the roster ([`crate::decision::check_quorum`]).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::digest::canonical_json;
use crate::dsse::{pae, signed_by, Envelope, Signature};
use crate::keys::{ApproverKey, KeyId, TrustedKey, TrustedKeys};
use crate::policy::sha256_of;

/// DSSE `payloadType` of a roster.
pub const ROSTER_PAYLOAD_TYPE: &str = "application/vnd.countersign.team-roster.v1+json";
/// DSSE `payloadType` of a login challenge.
pub const LOGIN_PAYLOAD_TYPE: &str = "application/vnd.countersign.team-login.v1+json";
/// `type` of a roster file.
pub const ROSTER_TYPE: &str = "countersign.team-roster";
/// How long a login challenge may be answered, in seconds.
pub const CHALLENGE_LIFETIME_S: i64 = 60;
/// How long an approver session lasts, in seconds (8 hours).
pub const SESSION_LIFETIME_S: i64 = 8 * 3600;
/// Largest roster file read, in bytes.
pub const MAX_ROSTER_BYTES: usize = 256 * 1024;

/// The team roster: who may approve, and who is a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Roster {
    /// Format version, 1.
    pub v: u32,
    /// Always [`ROSTER_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Team name: 1–64 of `A–Z a–z 0–9 . _ -`. Sessions and challenges are bound to it.
    pub team: String,
    /// Grows with every signed change (from 1); an older roster is refused.
    #[ts(type = "number")]
    pub serial: u64,
    /// The approvers' public keys, `role` `approver` or `lead`; revoked entries count zero.
    pub keys: Vec<TrustedKey>,
}

/// Why a roster was refused. The roster in force (if any) stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// Not a roster of the expected shape.
    #[error("roster: {0}")]
    Invalid(String),
    /// The signature does not verify against a pinned lead key.
    #[error("roster signature: {0}")]
    Signature(String),
    /// Older than (or a different file under the serial of) the roster in force.
    #[error("roster serial {found} is not newer than serial {in_force} in force (a changed roster needs a higher serial): refusing a rollback")]
    Rollback {
        /// The offered serial.
        found: u64,
        /// The serial in force.
        in_force: u64,
    },
    /// Another team's roster.
    #[error("roster is for team `{found}`, this server serves team `{expected}`")]
    Team {
        /// The roster's team.
        found: String,
        /// The team expected.
        expected: String,
    },
}

/// Checks a team name: 1–64 of `A–Z a–z 0–9 . _ -`.
///
/// # Errors
/// [`RosterError::Invalid`] naming the rule.
pub fn check_team_name(team: &str) -> Result<(), RosterError> {
    let ok = !team.is_empty()
        && team.len() <= 64
        && team
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RosterError::Invalid(format!(
            "team `{team}` must be 1–64 characters of A–Z, a–z, 0–9, '.', '_' or '-'"
        )))
    }
}

impl Roster {
    /// Parses a roster file (strict JSON: duplicate keys and unknown fields refused) and
    /// checks it: version 1, type, team name, serial ≥ 1, every key valid (see
    /// [`TrustedKeys::from_keys`]), roles `approver` or `lead`, each key id and each approver
    /// name once, and at least one live lead.
    ///
    /// # Errors
    /// [`RosterError::Invalid`] naming the field.
    pub fn parse(bytes: &[u8]) -> Result<(Roster, TrustedKeys), RosterError> {
        if bytes.len() > MAX_ROSTER_BYTES {
            return Err(RosterError::Invalid(format!(
                "{} bytes, more than the {MAX_ROSTER_BYTES} allowed",
                bytes.len()
            )));
        }
        let value = crate::json::parse_strict(bytes)
            .map_err(|e| RosterError::Invalid(format!("not JSON: {e}")))?;
        let roster: Roster =
            serde_json::from_value(value).map_err(|e| RosterError::Invalid(e.to_string()))?;
        if roster.v != 1 || roster.kind != ROSTER_TYPE {
            return Err(RosterError::Invalid(format!(
                "expected v 1 and type `{ROSTER_TYPE}`, found v {} and type `{}`",
                roster.v, roster.kind
            )));
        }
        check_team_name(&roster.team)?;
        if roster.serial == 0 {
            return Err(RosterError::Invalid("serial must be at least 1".into()));
        }
        for (i, k) in roster.keys.iter().enumerate() {
            if k.role != "approver" && k.role != "lead" {
                return Err(RosterError::Invalid(format!(
                    "keys[{i}] ({}): role `{}` is neither `approver` nor `lead`",
                    k.approver, k.role
                )));
            }
            if roster.keys[..i].iter().any(|o| o.keyid == k.keyid) {
                return Err(RosterError::Invalid(format!(
                    "keys[{i}]: key {} is listed twice",
                    k.keyid
                )));
            }
            if roster.keys[..i].iter().any(|o| o.approver == k.approver) {
                return Err(RosterError::Invalid(format!(
                    "keys[{i}]: approver `{}` is listed twice (one key per approver; revoke the old one by rotating)",
                    k.approver
                )));
            }
        }
        let trusted = TrustedKeys::from_keys(roster.keys.clone())
            .map_err(|e| RosterError::Invalid(e.to_string()))?;
        if !trusted.live().any(|(k, _)| k.role == "lead") {
            return Err(RosterError::Invalid(
                "no live key with role `lead`: nobody could sign the next roster or approve lead-required drafts".into(),
            ));
        }
        Ok((roster, trusted))
    }
}

/// A roster whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedRoster {
    /// The parsed roster.
    pub roster: Roster,
    /// Its keys, checked.
    pub keys: TrustedKeys,
    /// `sha256:` of the file's exact bytes.
    pub sha256: String,
    /// The anchor lead keys that signed it.
    pub signers: Vec<KeyId>,
}

/// Signs roster bytes with a lead's key: the DSSE envelope to ship next to `roster.json`.
pub fn sign_roster(roster_bytes: &[u8], key: &ApproverKey) -> Envelope {
    Envelope::sign(ROSTER_PAYLOAD_TYPE, roster_bytes, key)
}

impl VerifiedRoster {
    /// Verifies `envelope` over `roster_bytes` against the keys of `anchors` pinned with role
    /// `lead`, then parses the roster.
    ///
    /// # Errors
    /// [`RosterError::Signature`] when no anchor lead signed or the envelope signs other
    /// bytes; [`RosterError::Invalid`] for the content.
    pub fn verify(
        roster_bytes: &[u8],
        envelope: &Envelope,
        anchors: &TrustedKeys,
    ) -> Result<VerifiedRoster, RosterError> {
        let leads: Vec<TrustedKey> = anchors
            .iter()
            .filter(|(k, _)| k.role == "lead")
            .map(|(k, _)| k.clone())
            .collect();
        let leads = TrustedKeys::from_keys(leads).map_err(|_| {
            RosterError::Signature(
                "no key with role `lead` is pinned in the lead trust file".into(),
            )
        })?;
        let verified = envelope
            .verify(ROSTER_PAYLOAD_TYPE, &leads)
            .map_err(|e| RosterError::Signature(e.to_string()))?;
        if verified.body != roster_bytes {
            return Err(RosterError::Signature(
                "the signature is over other bytes than this roster file (edited after signing?)"
                    .into(),
            ));
        }
        let (roster, keys) = Roster::parse(roster_bytes)?;
        Ok(VerifiedRoster {
            roster,
            keys,
            sha256: sha256_of(roster_bytes),
            signers: verified.signers,
        })
    }

    /// Refuses a rollback: `in_force` is the `(serial, sha256)` last accepted, if any. The same
    /// serial is accepted only for the same bytes.
    ///
    /// # Errors
    /// [`RosterError::Rollback`].
    pub fn check_not_older(&self, in_force: Option<(u64, &str)>) -> Result<(), RosterError> {
        match in_force {
            Some((serial, _)) if self.roster.serial < serial => Err(RosterError::Rollback {
                found: self.roster.serial,
                in_force: serial,
            }),
            Some((serial, sha)) if self.roster.serial == serial && sha != self.sha256 => {
                Err(RosterError::Rollback {
                    found: self.roster.serial,
                    in_force: serial,
                })
            }
            _ => Ok(()),
        }
    }

    /// The live roster entry of `keyid`, if any.
    pub fn member(&self, keyid: &str) -> Option<&TrustedKey> {
        self.keys.live().map(|(k, _)| k).find(|k| k.keyid == keyid)
    }
}

/// What an approver's app signs to log in (RFC 8785 bytes as a DSSE payload of type
/// [`LOGIN_PAYLOAD_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LoginChallenge {
    /// Format version, 1.
    pub v: u32,
    /// The team the session will be bound to.
    pub team: String,
    /// The approver key that must sign.
    pub keyid: KeyId,
    /// 32 random bytes, hex; single use.
    pub nonce: String,
    /// Issued at, Unix seconds.
    #[ts(type = "number")]
    pub iat: i64,
    /// Must be answered by then, Unix seconds.
    #[ts(type = "number")]
    pub exp: i64,
}

impl LoginChallenge {
    /// The exact bytes signed: RFC 8785 canonical JSON.
    pub fn bytes(&self) -> Vec<u8> {
        // A LoginChallenge always serializes (strings and integers).
        canonical_json(self).unwrap_or_default()
    }

    /// The approver's answer: an Ed25519 signature over the DSSE PAE of [`Self::bytes`].
    pub fn sign(&self, key: &ApproverKey) -> Signature {
        let body = self.bytes();
        Signature {
            keyid: key.key_id(),
            sig: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key.sign(&pae(LOGIN_PAYLOAD_TYPE, &body)),
            ),
        }
    }

    /// Whether `sig` is `member`'s signature over this challenge (`verify_strict`).
    pub fn verify(&self, sig: &Signature, keys: &TrustedKeys) -> Option<TrustedKey> {
        let message = pae(LOGIN_PAYLOAD_TYPE, &self.bytes());
        let live = keys.live().filter(|(k, _)| k.keyid == self.keyid);
        signed_by(live, &message, sig).cloned()
    }
}

/// One signature over a decision body, uploaded by an approver's app
/// (`POST /v1/team/drafts/{id}/signatures`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct SignatureUpload {
    /// Standard base64 of the decision body's exact bytes: the body the app built (first
    /// signer) or the one the server handed out (later signers).
    pub payload: String,
    /// The approver's signature over the DSSE PAE of the payload
    /// ([`crate::decision::DECISION_PAYLOAD_TYPE`]).
    pub signature: Signature,
}

/// `POST /v1/team/login/challenge`: the key that wants to log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ChallengeRequest {
    /// The approver key's id (`sha256:…`); it must be a live key of the roster.
    pub keyid: KeyId,
}

/// `POST /v1/team/login`: the challenge as issued and the approver's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LoginRequest {
    /// The challenge exactly as the server issued it.
    pub challenge: LoginChallenge,
    /// [`LoginChallenge::sign`] by the challenged key.
    pub signature: Signature,
}

/// An approver session (the answer to a login). Send `Authorization: Bearer <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct TeamSession {
    /// Bearer token, shown once (the server stores its SHA-256 only).
    pub token: String,
    /// The team the session is bound to.
    pub team: String,
    /// The approver's roster name.
    pub approver: String,
    /// The approver's key id.
    pub keyid: KeyId,
    /// `approver` or `lead`, from the roster.
    pub role: String,
    /// Session end, Unix seconds.
    #[ts(type = "number")]
    pub expires_at: i64,
}

/// `GET /v1/team/roster`: the roster in force, for apps to verify against their anchors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct RosterDocument {
    /// Standard base64 of the roster file's exact bytes.
    pub roster: String,
    /// The DSSE envelope that signs them.
    pub signature: Envelope,
}

/// `GET /v1/team/policy`: the lead-signed policy in force, for apps to verify against their
/// anchors and to compute each draft's band themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PolicyDocument {
    /// Standard base64 of `policy.toml`'s exact bytes.
    pub policy: String,
    /// The DSSE envelope that signs them.
    pub signature: Envelope,
}

/// A reviewer's claim of a draft ("in review").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Claim {
    /// Roster name of the reviewer.
    pub approver: String,
    /// Their key id.
    pub keyid: KeyId,
    /// The claim lapses then (Unix seconds) unless renewed.
    #[ts(type = "number")]
    pub until: i64,
}

/// A pending draft as the team sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TeamDraft {
    /// The queue row.
    pub summary: crate::api::ActionSummary,
    /// What the policy in force requires for it.
    pub requirement: crate::policy::Requirement,
    /// Signatures it needs in all (distinct roster keys) and whether one must be a lead.
    pub required: crate::cosign::Required,
    /// Who has signed an approval awaiting more signatures (roster names), in order.
    pub signers: Vec<String>,
    /// Who is reviewing it, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub claim: Option<Claim>,
    /// Leads are notified first; set once it waited unclaimed past the escalation time and
    /// every approver is notified.
    pub escalated: bool,
}

/// `GET /v1/team/drafts/{id}`: everything an approver's app needs to review and sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TeamDraftDetail {
    /// The team's view of the draft.
    pub draft: TeamDraft,
    /// Action, digest, risk factors, diff and impact (computed by the server; the app
    /// recomputes digest and risk itself).
    pub detail: crate::api::ActionDetail,
    /// The approval awaiting more signatures: its body (`payload`, exact bytes to sign) and
    /// the signatures so far. Absent when nobody has signed yet: the first approver's app
    /// builds the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub awaiting: Option<Envelope>,
    /// `policy_sha256` a new decision body must name (absent without a policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub policy_sha256: Option<String>,
    /// The server's clock, Unix seconds (a new body's `iat` must be within 60 s of it).
    #[ts(type = "number")]
    pub now: i64,
}

/// The answer to a signature upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export)]
pub enum SignOutcome {
    /// The quorum is met: the multi-signature envelope was committed and released to the agent.
    Released {
        /// Roster names of the counted signers.
        signers: Vec<String>,
        /// The envelope the agent receives.
        envelope: Envelope,
    },
    /// Recorded; the approval waits for more signatures.
    Awaiting {
        /// Roster names of the signers so far.
        signers: Vec<String>,
        /// What is still missing, in words.
        missing: String,
    },
    /// A signed rejection was committed and released to the agent.
    Rejected {
        /// The envelope the agent receives.
        envelope: Envelope,
    },
}

/// One event of `GET /v1/team/events` (Server-Sent Events, `data:` is this JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum TeamEvent {
    /// Every pending draft (first event of a stream, and after a stream fell behind).
    Snapshot {
        /// The pending drafts.
        drafts: Vec<TeamDraft>,
    },
    /// A draft was submitted, signed, claimed or released, or escalated.
    Pending {
        /// Its team view.
        draft: Box<TeamDraft>,
        /// Whether this approver should be notified (routing: leads first for drafts that
        /// need a lead; everyone once escalated or when anyone may approve).
        notify: bool,
    },
    /// A draft left the queue.
    Decided {
        /// Draft id.
        id: String,
        /// `approved`, `rejected` or `expired`.
        status: crate::api::Status,
    },
}

/// How the desktop app's link to its team server stands (command `team_status`, event
/// `team-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TeamConnection {
    /// Opening the event stream.
    Connecting,
    /// The event stream is open: the queue shown is live.
    Live,
    /// The stream failed; the app retries after `retry_in_s` (backoff up to a minute).
    Retrying,
    /// The session ended (expired or logged out): log in again.
    Expired,
}

/// The desktop app's team session as the window shows it (never the bearer token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TeamLink {
    /// The team server's URL.
    pub server: String,
    /// The team.
    pub team: String,
    /// This approver's roster name.
    pub approver: String,
    /// This approver's key id.
    pub keyid: KeyId,
    /// `approver` or `lead`.
    pub role: String,
    /// Session end, Unix seconds.
    #[ts(type = "number")]
    pub expires_at: i64,
    /// The roster serial verified at login.
    #[ts(type = "number")]
    pub roster_serial: u64,
    /// The lead trust file used to join (to log in again).
    pub lead_trust: Option<String>,
    /// Extra CA certificate (PEM) for the server's TLS certificate.
    pub ca_cert: Option<String>,
    /// The event stream's state.
    pub connection: TeamConnection,
    /// The last failure, when retrying or expired.
    pub error: Option<String>,
    /// Seconds until the next attempt, when retrying.
    pub retry_in_s: Option<u32>,
    /// Grows with every change of the link in this app, across joins: of a command's answer
    /// and a status event that cross on their way to the window, the window keeps the one
    /// with the larger version (the newer state).
    #[ts(type = "number")]
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster_bytes(keys: &[TrustedKey], serial: u64) -> Vec<u8> {
        serde_json::to_vec(&Roster {
            v: 1,
            kind: ROSTER_TYPE.into(),
            team: "payments".into(),
            serial,
            keys: keys.to_vec(),
        })
        .unwrap()
    }

    #[test]
    fn a_roster_signed_by_an_anchor_lead_verifies_and_an_edited_one_does_not() {
        let lead = ApproverKey::generate();
        let eng = ApproverKey::generate();
        let keys = [
            lead.trusted_key("lena", "lead"),
            eng.trusted_key("ed", "approver"),
        ];
        let anchors = TrustedKeys::from_keys(vec![lead.trusted_key("lena", "lead")]).unwrap();
        let bytes = roster_bytes(&keys, 1);
        let env = sign_roster(&bytes, &lead);
        let v = VerifiedRoster::verify(&bytes, &env, &anchors).unwrap();
        assert_eq!(v.roster.team, "payments");
        assert_eq!(v.member(&eng.key_id()).unwrap().role, "approver");

        let mut edited = bytes.clone();
        let at = edited.len() - 3;
        edited[at] = b' ';
        assert!(matches!(
            VerifiedRoster::verify(&edited, &env, &anchors),
            Err(RosterError::Signature(_))
        ));
        // Signed by a roster member who is no anchor: refused.
        let env = sign_roster(&bytes, &eng);
        assert!(matches!(
            VerifiedRoster::verify(&bytes, &env, &anchors),
            Err(RosterError::Signature(_))
        ));
    }

    #[test]
    fn rosters_with_bad_roles_duplicates_or_no_lead_are_refused_with_the_field() {
        let lead = ApproverKey::generate();
        let eng = ApproverKey::generate();
        let mut admin = eng.trusted_key("ed", "admin");
        let bytes = roster_bytes(&[lead.trusted_key("lena", "lead"), admin.clone()], 1);
        let err = Roster::parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("keys[1]") && err.contains("admin"), "{err}");
        admin.role = "approver".into();
        let dup = roster_bytes(
            &[
                lead.trusted_key("lena", "lead"),
                lead.trusted_key("x", "lead"),
            ],
            1,
        );
        assert!(Roster::parse(&dup)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let no_lead = roster_bytes(&[admin], 1);
        assert!(Roster::parse(&no_lead)
            .unwrap_err()
            .to_string()
            .contains("lead"));
        let zero = roster_bytes(&[lead.trusted_key("lena", "lead")], 0);
        assert!(Roster::parse(&zero)
            .unwrap_err()
            .to_string()
            .contains("serial"));
        let mut extra = crate::json::parse_strict(&zero).unwrap();
        extra["serial"] = 1.into();
        extra["admins"] = serde_json::json!([]);
        let err = Roster::parse(&serde_json::to_vec(&extra).unwrap()).unwrap_err();
        assert!(err.to_string().contains("admins"), "{err}");
    }

    #[test]
    fn an_older_roster_or_other_bytes_under_the_same_serial_is_a_rollback() {
        let lead = ApproverKey::generate();
        let anchors = TrustedKeys::from_keys(vec![lead.trusted_key("lena", "lead")]).unwrap();
        let bytes = roster_bytes(&[lead.trusted_key("lena", "lead")], 2);
        let v = VerifiedRoster::verify(&bytes, &sign_roster(&bytes, &lead), &anchors).unwrap();
        assert!(v.check_not_older(None).is_ok());
        assert!(v.check_not_older(Some((2, &v.sha256))).is_ok());
        assert!(v.check_not_older(Some((1, "sha256:x"))).is_ok());
        assert_eq!(
            v.check_not_older(Some((3, "sha256:x"))),
            Err(RosterError::Rollback {
                found: 2,
                in_force: 3
            })
        );
        assert!(v.check_not_older(Some((2, "sha256:other"))).is_err());
    }

    #[test]
    fn a_login_answer_verifies_only_for_the_challenged_live_key() {
        let ana = ApproverKey::generate();
        let bob = ApproverKey::generate();
        let mut revoked = bob.trusted_key("bob", "approver");
        let keys =
            TrustedKeys::from_keys(vec![ana.trusted_key("ana", "approver"), revoked.clone()])
                .unwrap();
        let ch = LoginChallenge {
            v: 1,
            team: "payments".into(),
            keyid: ana.key_id(),
            nonce: "00".repeat(32),
            iat: 1,
            exp: 61,
        };
        assert_eq!(ch.verify(&ch.sign(&ana), &keys).unwrap().approver, "ana");
        // Bob's signature over Ana's challenge: refused.
        assert!(ch.verify(&ch.sign(&bob), &keys).is_none());
        // A signature over another nonce: refused.
        let other = LoginChallenge {
            nonce: "11".repeat(32),
            ..ch.clone()
        };
        assert!(ch.verify(&other.sign(&ana), &keys).is_none());
        // A revoked key's signature counts zero.
        revoked.revoke(5, "lost");
        let keys = TrustedKeys::from_keys(vec![revoked]).unwrap();
        let bobs = LoginChallenge {
            keyid: bob.key_id(),
            ..ch
        };
        assert!(bobs.verify(&bobs.sign(&bob), &keys).is_none());
    }
}
