//! The team lead's policy: the organisation's domains, sensitive resource patterns, and
//! thresholds that map a draft's risk score to what it needs (`auto_approve`, `one_approver`,
//! `two_approvers`, `lead_required`, `blocked`), per agent and per action kind.
//!
//! `policy.toml` (TOML 1.0; unknown fields refused, errors name the field and line):
//!
//! ```toml
//! serial = 3                          # increases with every signed change; older is refused
//! org_domains = ["example.com"]
//! sensitive = ["*user_data*", "payroll"]
//!
//! [thresholds]                        # scores are 0–100
//! auto_approve_below = 10             # optional: scores < 10 need nobody (off by default)
//! two_approvers_from = 60             # optional: scores >= 60 need two distinct approvers
//! lead_required_from = 75             # scores >= 75 need a lead's key
//! blocked_from = 95                   # optional: scores >= 95 are refused outright
//!
//! [kinds."shell.exec"]                # per kind, field by field over [thresholds]
//! lead_required_from = 50
//!
//! [agents.build-bot]                  # per agent, over the kind's and the default
//! blocked_from = 60
//!
//! [read_only_tools]                   # optional (off by default): MCP tools annotated
//! auto_approve_below = 20             # read-only, scoring < 20, no effect found ([`ReadOnlyTools`])
//! ```
//!
//! The policy is signed by a lead: a DSSE envelope (payload type [`POLICY_PAYLOAD_TYPE`])
//! whose payload is the file's exact bytes (TOML has no canonical form, so the bytes are what
//! is signed and what [`LoadedPolicy::sha256`] names). [`LoadedPolicy::verify`] accepts it only
//! when a key pinned with role `lead` signed those bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use ts_rs::TS;

use crate::action::ActionKind;
use crate::decision::{DecisionBody, GateError, Quorum};
use crate::dsse::Envelope;
use crate::keys::{KeyId, TrustedKeys};
use crate::risk::RiskContext;

mod read_only;
pub use read_only::ReadOnlyTools;

/// DSSE payload type of a signed policy.
pub const POLICY_PAYLOAD_TYPE: &str = "application/vnd.countersign.policy.v1+toml";

/// What a draft needs before it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Requirement {
    /// Approved by the policy itself, with a signed decision saying so.
    AutoApprove,
    /// Any approver.
    OneApprover,
    /// Two distinct approvers (`approvals = 2`): the first signs, a second pinned key
    /// co-signs the same body; the gate counts distinct live keys, never the requester's.
    TwoApprovers,
    /// An approver whose key is pinned with role `lead`.
    LeadRequired,
    /// Refused by the policy, with a signed rejection saying so.
    Blocked,
}

impl Requirement {
    /// Snake-case name, e.g. `lead_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::AutoApprove => "auto_approve",
            Requirement::OneApprover => "one_approver",
            Requirement::TwoApprovers => "two_approvers",
            Requirement::LeadRequired => "lead_required",
            Requirement::Blocked => "blocked",
        }
    }

    /// The signatures a decision approving under this requirement must carry: one approver
    /// (also for `auto_approve`, signed by the app's key), two distinct approvers, or one key
    /// pinned as `lead`. `None` for `blocked`: nothing may approve it.
    pub fn quorum(self) -> Option<Quorum> {
        match self {
            Requirement::AutoApprove | Requirement::OneApprover => Some(Quorum::default()),
            Requirement::TwoApprovers => Some(Quorum {
                approvals: 2,
                lead: false,
            }),
            Requirement::LeadRequired => Some(Quorum {
                approvals: 1,
                lead: true,
            }),
            Requirement::Blocked => None,
        }
    }
}

/// Score bands. Every bound is optional; absent means "never" (for `auto_approve_below` and
/// `blocked_from`) or "inherit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Thresholds {
    /// Scores strictly below this are approved by the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub auto_approve_below: Option<u8>,
    /// Scores at or above this need two distinct approvers (below `lead_required_from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub two_approvers_from: Option<u8>,
    /// Scores at or above this need a lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub lead_required_from: Option<u8>,
    /// Scores at or above this are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub blocked_from: Option<u8>,
}

impl Thresholds {
    /// These bands, each unset one taken from `base`.
    pub fn over(&self, base: &Thresholds) -> Thresholds {
        Thresholds {
            auto_approve_below: self.auto_approve_below.or(base.auto_approve_below),
            two_approvers_from: self.two_approvers_from.or(base.two_approvers_from),
            lead_required_from: self.lead_required_from.or(base.lead_required_from),
            blocked_from: self.blocked_from.or(base.blocked_from),
        }
    }

    /// The requirement for `score` under these bands; the strictest band that applies wins.
    pub fn requirement(&self, score: u8) -> Requirement {
        if self.blocked_from.is_some_and(|b| score >= b) {
            Requirement::Blocked
        } else if self.lead_required_from.is_some_and(|l| score >= l) {
            Requirement::LeadRequired
        } else if self.two_approvers_from.is_some_and(|t| score >= t) {
            Requirement::TwoApprovers
        } else if self.auto_approve_below.is_some_and(|a| score < a) {
            Requirement::AutoApprove
        } else {
            Requirement::OneApprover
        }
    }
}

/// A parsed policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Policy {
    /// Increases with every change; a policy with a lower serial than the one in force is
    /// refused (no rollback).
    #[ts(type = "number")]
    pub serial: u64,
    /// The organisation's domains.
    #[serde(default)]
    pub org_domains: Vec<String>,
    /// Sensitive resource patterns (case-insensitive substrings, `*` any run).
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// Default bands.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Bands per action kind (`"shell.exec"`), over the defaults.
    #[serde(default)]
    pub kinds: BTreeMap<String, Thresholds>,
    /// Bands per agent name, over the kind's and the defaults.
    #[serde(default)]
    pub agents: BTreeMap<String, Thresholds>,
    /// `[read_only_tools]`: tool calls their MCP server annotates read-only, approved by the
    /// policy below a score (see [`ReadOnlyTools`]). Absent: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub read_only_tools: Option<ReadOnlyTools>,
}

/// Why a policy was refused. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not valid policy TOML.
    #[error("policy.toml line {line}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// What is wrong (names the field).
        message: String,
    },
    /// Valid TOML, inconsistent values.
    #[error("policy.toml: {0}")]
    Invalid(String),
    /// The signature does not verify against a pinned lead key.
    #[error("policy signature: {0}")]
    Signature(String),
    /// Older than the policy in force.
    #[error("policy serial {found} is not newer than serial {in_force} in force (a changed policy needs a higher serial): refusing a rollback")]
    Rollback {
        /// Serial of the offered policy.
        found: u64,
        /// Serial in force.
        in_force: u64,
    },
}

impl Policy {
    /// Parses policy TOML.
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] with the line and the field, [`PolicyError::Invalid`] for an
    /// unknown kind, a bound over 100, or bands out of order.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            let message = e.message().trim();
            PolicyError::Syntax {
                line,
                message: match field_at(text, line) {
                    Some(field) if !message.contains(&field) => format!("{field}: {message}"),
                    _ => message.to_owned(),
                },
            }
        })?;
        for kind in policy.kinds.keys() {
            if ActionKind::parse(kind).is_none() {
                return Err(PolicyError::Invalid(format!(
                    "[kinds.\"{kind}\"]: unknown action kind"
                )));
            }
        }
        let all = std::iter::once(("thresholds".to_owned(), &policy.thresholds))
            .chain(
                policy
                    .kinds
                    .iter()
                    .map(|(k, t)| (format!("kinds.\"{k}\""), t)),
            )
            .chain(
                policy
                    .agents
                    .iter()
                    .map(|(a, t)| (format!("agents.{a}"), t)),
            );
        for (name, t) in all {
            for (field, v) in [
                ("auto_approve_below", t.auto_approve_below),
                ("two_approvers_from", t.two_approvers_from),
                ("lead_required_from", t.lead_required_from),
                ("blocked_from", t.blocked_from),
            ] {
                if v.is_some_and(|v| v > 101) {
                    return Err(PolicyError::Invalid(format!(
                        "[{name}] {field} must be 0–101"
                    )));
                }
            }
            for (field, bound) in [
                ("two_approvers_from", t.two_approvers_from),
                ("lead_required_from", t.lead_required_from),
            ] {
                if let (Some(a), Some(b)) = (t.auto_approve_below, bound) {
                    if a > b {
                        return Err(PolicyError::Invalid(format!(
                            "[{name}] auto_approve_below ({a}) is above {field} ({b})"
                        )));
                    }
                }
            }
        }
        if let Some(rule) = &policy.read_only_tools {
            rule.validate(text)?;
        }
        Ok(policy)
    }

    /// The bands in force for `agent` submitting a draft of `kind`.
    pub fn thresholds_for(&self, agent: &str, kind: ActionKind) -> Thresholds {
        let kind_t = self
            .kinds
            .get(kind.as_str())
            .map_or_else(|| self.thresholds.clone(), |k| k.over(&self.thresholds));
        self.agents
            .get(agent)
            .map_or(kind_t.clone(), |a| a.over(&kind_t))
    }

    /// What a draft with `score` from `agent` of `kind` needs.
    pub fn requirement(&self, agent: &str, kind: ActionKind, score: u8) -> Requirement {
        self.thresholds_for(agent, kind).requirement(score)
    }

    /// The scoring context this policy gives (domains and sensitive patterns).
    pub fn risk_context(&self) -> RiskContext {
        RiskContext {
            org_domains: self
                .org_domains
                .iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect(),
            sensitive_patterns: self.sensitive.clone(),
            history: None,
        }
    }
}

/// The field a TOML error on 1-based `line` concerns, e.g. `[thresholds] lead_required_from`:
/// the key on that line, under the last table header above it. toml's own message names the
/// field only for some errors (not for a wrong type), and the operator needs to know which.
fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?.trim();
    let key = here
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.split('#').next().unwrap_or(l).trim());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t} {k}")),
        (None, Some(k)) => Some(k.to_owned()),
        (_, None) if here.starts_with('[') => Some(here.to_owned()),
        _ => None,
    }
}

/// A policy whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPolicy {
    /// The parsed policy.
    pub policy: Policy,
    /// `sha256:` + hex of the file's exact bytes; recorded in every decision.
    pub sha256: String,
    /// The policy file as signed (UTF-8), shown in the app's policy view.
    pub text: String,
    /// The pinned lead keys that signed it.
    pub signers: Vec<KeyId>,
    /// Who holds those keys (`approver` of each signer's trust entry), in the same order.
    pub signer_names: Vec<String>,
    /// Every key pinned with role `lead` (approvals of `lead_required` drafts need one).
    pub lead_keys: Vec<KeyId>,
    /// The DSSE envelope that signed it (as verified), so that it can be handed on for others
    /// to verify (a team server's `GET /v1/team/policy`).
    pub envelope: Envelope,
    /// Every entry of the trust file the policy was verified against (leads and approvers,
    /// public keys and revocations included): whose co-signatures count when a `lead_required`
    /// or `two_approvers` draft is approved by someone else first.
    pub approvers: Vec<crate::keys::TrustedKey>,
}

/// `sha256:` + lower-case hex of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Signs policy bytes with a lead's key: the DSSE envelope to ship next to `policy.toml`.
pub fn sign(policy_bytes: &[u8], key: &crate::ApproverKey) -> Envelope {
    Envelope::sign(POLICY_PAYLOAD_TYPE, policy_bytes, key)
}

impl LoadedPolicy {
    /// Verifies `envelope` over `policy_bytes` against the keys of `trusted` pinned with role
    /// `lead`, then parses the policy.
    ///
    /// # Errors
    /// [`PolicyError::Signature`] when no lead key is pinned, no pinned lead key signed, or
    /// the envelope signs other bytes; [`PolicyError::Syntax`]/[`PolicyError::Invalid`] for
    /// the content.
    pub fn verify(
        policy_bytes: &[u8],
        envelope: &Envelope,
        trusted: &TrustedKeys,
    ) -> Result<LoadedPolicy, PolicyError> {
        let approvers: Vec<_> = trusted.iter().map(|(k, _)| k.clone()).collect();
        let leads: Vec<_> = trusted
            .iter()
            .filter(|(k, _)| k.role == "lead")
            .map(|(k, _)| k.clone())
            .collect();
        let lead_keys: Vec<KeyId> = leads.iter().map(|k| k.keyid.clone()).collect();
        let leads = TrustedKeys::from_keys(leads).map_err(|_| {
            PolicyError::Signature(
                "no key with role `lead` is pinned in the lead trust file".into(),
            )
        })?;
        let verified = envelope
            .verify(POLICY_PAYLOAD_TYPE, &leads)
            .map_err(|e| PolicyError::Signature(e.to_string()))?;
        if verified.body != policy_bytes {
            return Err(PolicyError::Signature(
                "the signature is over other bytes than this policy file (edited after signing?)"
                    .into(),
            ));
        }
        let text = std::str::from_utf8(policy_bytes)
            .map_err(|_| PolicyError::Invalid("not UTF-8".into()))?;
        let signer_names = verified
            .signers
            .iter()
            .map(|id| {
                leads
                    .iter()
                    .find(|(k, _)| &k.keyid == id)
                    .map_or_else(String::new, |(k, _)| k.approver.clone())
            })
            .collect();
        Ok(LoadedPolicy {
            envelope: envelope.clone(),
            policy: Policy::parse(text)?,
            sha256: sha256_of(policy_bytes),
            text: text.to_owned(),
            signers: verified.signers,
            signer_names,
            lead_keys,
            approvers,
        })
    }

    /// The quorum this policy demands of a decision approving `body`: the requirement of its
    /// agent, kind and score, where the score is the higher of the one signed in the body and
    /// the one this policy's context gives the signed action (a broker cannot lower the band
    /// by understating the score; novelty factors only the broker knows stay in the signed one).
    ///
    /// # Errors
    /// [`GateError::Policy`] when the body was taken under another policy (its `policy_sha256`
    /// is not this one's) or the band is `blocked`.
    pub fn quorum_for(&self, body: &DecisionBody) -> Result<Quorum, GateError> {
        if body.policy_sha256.as_deref() != Some(self.sha256.as_str()) {
            return Err(GateError::Policy(format!(
                "taken under policy {}, not the pinned {} (serial {})",
                body.policy_sha256.as_deref().unwrap_or("(none)"),
                self.sha256,
                self.policy.serial
            )));
        }
        let local = crate::risk::score_with(&body.action, &self.policy.risk_context()).score;
        let score = body.risk.score.max(local);
        let requirement = self
            .policy
            .requirement(&body.agent, body.action.kind, score);
        requirement.quorum().ok_or_else(|| {
            GateError::Policy(format!(
                "policy serial {} blocks a score of {score}: no approval may run",
                self.policy.serial
            ))
        })
    }

    /// Refuses a rollback: `in_force` is the `(serial, sha256)` last accepted, if any. The same
    /// serial is accepted only for the same bytes.
    ///
    /// # Errors
    /// [`PolicyError::Rollback`].
    pub fn check_not_older(&self, in_force: Option<(u64, &str)>) -> Result<(), PolicyError> {
        match in_force {
            Some((serial, sha))
                if self.policy.serial < serial
                    || (self.policy.serial == serial && self.sha256 != sha) =>
            {
                Err(PolicyError::Rollback {
                    found: self.policy.serial,
                    in_force: serial,
                })
            }
            _ => Ok(()),
        }
    }
}
