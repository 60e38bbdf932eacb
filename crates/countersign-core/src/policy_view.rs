//! What the app's policy view shows (the policy in force, the last refusal, whether this
//! approver may edit it) and the "what would change" preview of an edited policy: the last
//! drafts rescored under the edited policy, and those whose requirement moves.
//!
//! The preview is pure: the broker hands it the stored drafts; it recomputes both scores here
//! so that a change of domains or sensitive patterns shows as well as a change of thresholds.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::{Action, ActionKind};
use crate::policy::{Policy, Requirement, Thresholds};
use crate::risk::{self, Risk};

/// How many recent drafts the preview rescores unless told otherwise.
pub const DEFAULT_PREVIEW_DRAFTS: u32 = 200;

/// Most drafts one preview may rescore.
pub const MAX_PREVIEW_DRAFTS: u32 = 5_000;

/// The policy in force, as the policy view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyInForce {
    /// The parsed policy.
    pub policy: Policy,
    /// The signed policy.toml text.
    pub text: String,
    /// `sha256:<hex>` of the file's bytes (recorded in every decision).
    pub sha256: String,
    /// Key ids of the pinned lead keys that signed it.
    pub signers: Vec<String>,
    /// Who holds those keys, in the same order.
    pub signer_names: Vec<String>,
    /// The default bands as score ranges, lowest first.
    pub bands: Vec<Band>,
    /// Per-kind and per-agent overrides, each with its effective bands over the defaults.
    pub overrides: Vec<Override>,
}

/// A contiguous range of scores that needs one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Band {
    /// What these scores need.
    pub requirement: Requirement,
    /// Lowest score of the range (0–100).
    pub from: u8,
    /// Highest score of the range, inclusive (0–100).
    pub to: u8,
}

/// One `[kinds."…"]` or `[agents.…]` table of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Override {
    /// `kind` or `agent`.
    pub scope: String,
    /// The kind (`shell.exec`) or agent name.
    pub name: String,
    /// The fields the table sets.
    pub set: Thresholds,
    /// Its bands over the defaults (an agent's table applies over a kind's when both do).
    pub bands: Vec<Band>,
}

/// The score ranges of `t`, lowest first: what [`Thresholds::requirement`] answers for each
/// score 0–100, grouped.
pub fn bands(t: &Thresholds) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    for score in 0..=100u8 {
        let requirement = t.requirement(score);
        match out.last_mut() {
            Some(b) if b.requirement == requirement => b.to = score,
            _ => out.push(Band {
                requirement,
                from: score,
                to: score,
            }),
        }
    }
    out
}

impl PolicyInForce {
    /// The view of a verified policy.
    pub fn of(p: &crate::policy::LoadedPolicy) -> PolicyInForce {
        let tables = |scope: &str, m: &std::collections::BTreeMap<String, Thresholds>| {
            m.iter()
                .map(|(name, t)| Override {
                    scope: scope.to_owned(),
                    name: name.clone(),
                    set: t.clone(),
                    bands: bands(&t.over(&p.policy.thresholds)),
                })
                .collect::<Vec<_>>()
        };
        let mut overrides = tables("kind", &p.policy.kinds);
        overrides.extend(tables("agent", &p.policy.agents));
        PolicyInForce {
            policy: p.policy.clone(),
            text: p.text.clone(),
            sha256: p.sha256.clone(),
            signers: p.signers.clone(),
            signer_names: p.signer_names.clone(),
            bands: bands(&p.policy.thresholds),
            overrides,
        }
    }
}

/// A policy the app refused (the previous one stayed in force).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyRefusal {
    /// When (Unix seconds).
    #[ts(type = "number")]
    pub at: i64,
    /// The file refused.
    pub source: String,
    /// Why: names the field and line, or the signature problem, or the rollback.
    pub message: String,
    /// `sha256:<hex>` of the refused file, when it could be read.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its `serial`, when it parsed.
    #[ts(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

/// Everything the policy view shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyView {
    /// The policy in force; absent when the app runs without one.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_force: Option<PolicyInForce>,
    /// The last refusal since the policy in force was loaded, if any.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<PolicyRefusal>,
    /// Whether this approver may edit and sign the policy (their key is pinned as a lead).
    pub editable: bool,
    /// When not editable: why, in one line.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_reason: Option<String>,
    /// Where the policy file lives, when one is configured.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One draft whose requirement changes under the edited policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyMove {
    /// Draft id.
    pub id: String,
    /// Agent name.
    pub agent: String,
    /// Kind.
    pub kind: ActionKind,
    /// Score under the policy in force.
    pub score_old: u8,
    /// Score under the edited policy.
    pub score_new: u8,
    /// Requirement under the policy in force.
    pub requirement_old: Requirement,
    /// Requirement under the edited policy.
    pub requirement_new: Requirement,
}

/// Drafts per requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BandCounts {
    /// `auto_approve`.
    pub auto_approve: u32,
    /// `one_approver`.
    pub one_approver: u32,
    /// `two_approvers`.
    pub two_approvers: u32,
    /// `lead_required`.
    pub lead_required: u32,
    /// `blocked`.
    pub blocked: u32,
}

impl BandCounts {
    fn add(&mut self, r: Requirement) {
        let slot = match r {
            Requirement::AutoApprove => &mut self.auto_approve,
            Requirement::OneApprover => &mut self.one_approver,
            Requirement::TwoApprovers => &mut self.two_approvers,
            Requirement::LeadRequired => &mut self.lead_required,
            Requirement::Blocked => &mut self.blocked,
        };
        *slot += 1;
    }
}

/// What an edited policy would change on the last drafts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PolicyPreview {
    /// The edited policy as parsed (what would be signed).
    pub policy: Policy,
    /// Drafts rescored.
    pub scored: u32,
    /// Drafts whose score changes (domains or sensitive patterns changed).
    pub rescored: u32,
    /// Requirements under the policy in force.
    pub before: BandCounts,
    /// Requirements under the edited policy.
    pub after: BandCounts,
    /// The drafts whose requirement changes, newest first.
    pub moves: Vec<PolicyMove>,
    /// The serial the edit must exceed (the one in force), if any.
    #[ts(optional, type = "number")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_in_force: Option<u64>,
}

/// A stored draft to rescore.
#[derive(Debug, Clone, Copy)]
pub struct StoredDraft<'a> {
    /// Draft id.
    pub id: &'a str,
    /// Agent name.
    pub agent: &'a str,
    /// The action.
    pub action: &'a Action,
    /// The risk stored when it was submitted (its novelty factors are kept: the history they
    /// came from is not replayed).
    pub risk: &'a Risk,
}

/// The score of `d` under `policy` (none: no domains, no patterns): the detectors rerun on the
/// action with the policy's context, plus the stored novelty factors, capped at 100.
pub fn rescore(d: &StoredDraft<'_>, policy: Option<&Policy>) -> u8 {
    let ctx = policy.map(Policy::risk_context).unwrap_or_default();
    let fresh = u32::from(risk::score_with(d.action, &ctx).score);
    let novelty: u32 = d
        .risk
        .factors
        .iter()
        .filter(|f| f.id.starts_with("novelty."))
        .map(|f| u32::from(f.points))
        .sum();
    u8::try_from((fresh + novelty).min(100)).unwrap_or(100)
}

fn requirement(policy: Option<&Policy>, d: &StoredDraft<'_>, score: u8) -> Requirement {
    // Without a policy every draft waits for one approver.
    policy.map_or(Requirement::OneApprover, |p| {
        p.requirement(d.agent, d.action.kind, score)
    })
}

/// Rescores `drafts` under the policy in force (`old`) and the edited one (`new`).
pub fn preview(drafts: &[StoredDraft<'_>], old: Option<&Policy>, new: &Policy) -> PolicyPreview {
    let mut out = PolicyPreview {
        policy: new.clone(),
        scored: 0,
        rescored: 0,
        before: BandCounts::default(),
        after: BandCounts::default(),
        moves: Vec::new(),
        serial_in_force: old.map(|p| p.serial),
    };
    for d in drafts {
        let score_old = rescore(d, old);
        let score_new = rescore(d, Some(new));
        let requirement_old = requirement(old, d, score_old);
        let requirement_new = requirement(Some(new), d, score_new);
        out.scored += 1;
        out.rescored += u32::from(score_old != score_new);
        out.before.add(requirement_old);
        out.after.add(requirement_new);
        if requirement_old != requirement_new {
            out.moves.push(PolicyMove {
                id: d.id.to_owned(),
                agent: d.agent.to_owned(),
                kind: d.action.kind,
                score_old,
                score_new,
                requirement_old,
                requirement_new,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(a: Option<u8>, l: Option<u8>, b: Option<u8>) -> Thresholds {
        Thresholds {
            auto_approve_below: a,
            two_approvers_from: None,
            lead_required_from: l,
            blocked_from: b,
        }
    }

    fn ranges(t: &Thresholds) -> Vec<(Requirement, u8, u8)> {
        bands(t)
            .into_iter()
            .map(|b| (b.requirement, b.from, b.to))
            .collect()
    }

    #[test]
    fn bands_cover_0_to_100_with_the_strictest_band_winning() {
        use Requirement::*;
        assert_eq!(ranges(&t(None, None, None)), vec![(OneApprover, 0, 100)]);
        assert_eq!(
            ranges(&t(Some(10), Some(75), Some(95))),
            vec![
                (AutoApprove, 0, 9),
                (OneApprover, 10, 74),
                (LeadRequired, 75, 94),
                (Blocked, 95, 100)
            ]
        );
        // Blocked below the lead bound: no lead band at all.
        assert_eq!(
            ranges(&t(None, Some(80), Some(60))),
            vec![(OneApprover, 0, 59), (Blocked, 60, 100)]
        );
        // 101 means "never".
        assert_eq!(
            ranges(&t(None, Some(50), Some(101))),
            vec![(OneApprover, 0, 49), (LeadRequired, 50, 100)]
        );
        // Two approvers between one approver and a lead; a lead bound below it hides it.
        let two = |from, lead| Thresholds {
            two_approvers_from: Some(from),
            ..t(Some(10), lead, Some(95))
        };
        assert_eq!(
            ranges(&two(60, Some(80))),
            vec![
                (AutoApprove, 0, 9),
                (OneApprover, 10, 59),
                (TwoApprovers, 60, 79),
                (LeadRequired, 80, 94),
                (Blocked, 95, 100)
            ]
        );
        assert_eq!(
            ranges(&two(70, Some(50))),
            vec![
                (AutoApprove, 0, 9),
                (OneApprover, 10, 49),
                (LeadRequired, 50, 94),
                (Blocked, 95, 100)
            ]
        );
    }
}
