//! `[read_only_tools]` of `policy.toml`: tool calls an MCP server annotated read-only may be
//! approved by the policy itself (off unless the section is present).
//!
//! ```toml
//! [read_only_tools]
//! auto_approve_below = 20        # 1–101: tool.call drafts marked read-only and scoring < 20
//! agents = ["mcp-files"]         # optional: only these agents (default: every agent)
//! ```
//!
//! `readOnlyHint` is the wrapped server's claim (the MCP specification calls tool annotations
//! untrusted hints), so the rule never trusts it alone. A draft passes only when all hold:
//! it is a `tool.call` whose payload says `read_only_hint: true` (as `countersign mcp-proxy`
//! files it); the policy's bands ask for no more than one approver for its agent, kind and
//! score (the rule never loosens `lead_required` or `blocked`); its risk score, computed by
//! Countersign from the whole draft, is below `auto_approve_below`; and no detector found an
//! effect other than reading in its name or arguments (a factor of the `tool.`, `shell.`,
//! `sql.`, `access.` or `input.` families: `delete_file` claiming read-only, a `command`
//! argument, a `DROP TABLE`). Everything else waits for a human like any draft.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::{Action, Payload};
use crate::risk::Risk;

use super::{Policy, PolicyError, Requirement};

/// Risk-factor families that name an effect other than reading: any of them in a draft
/// contradicts a read-only claim.
const EFFECT_FAMILIES: &[&str] = &["tool.", "shell.", "sql.", "access.", "input."];

/// The `[read_only_tools]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ReadOnlyTools {
    /// Read-only tool calls scoring strictly below this (1–101) are approved by the policy.
    pub auto_approve_below: u8,
    /// Only drafts from these agents; empty or absent: every agent.
    #[serde(default)]
    pub agents: Vec<String>,
}

impl ReadOnlyTools {
    /// Checks the values; errors name the field and its line in `text` (the policy file).
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] for `auto_approve_below` outside 1–101 or an empty agent name.
    pub fn validate(&self, text: &str) -> Result<(), PolicyError> {
        if !(1..=101).contains(&self.auto_approve_below) {
            return Err(PolicyError::Syntax {
                line: line_of(text, "auto_approve_below"),
                message: format!(
                    "[read_only_tools] auto_approve_below: must be 1–101, got {}",
                    self.auto_approve_below
                ),
            });
        }
        if self.agents.iter().any(|a| a.trim().is_empty()) {
            return Err(PolicyError::Syntax {
                line: line_of(text, "agents"),
                message: "[read_only_tools] agents: an agent name is empty".into(),
            });
        }
        Ok(())
    }

    /// Why this rule approves a draft from `agent` (`action` as filed, `risk` as scored),
    /// the policy's bands aside; `None`: it does not.
    fn approves(&self, agent: &str, action: &Action, risk: &Risk) -> Option<String> {
        if !(self.agents.is_empty() || self.agents.iter().any(|a| a == agent)) {
            return None;
        }
        let Ok(Payload::ToolCall(call)) = action.typed() else {
            return None;
        };
        if call.read_only_hint != Some(true) || risk.score >= self.auto_approve_below {
            return None;
        }
        if risk.factors.iter().any(|f| {
            EFFECT_FAMILIES
                .iter()
                .any(|family| f.id.starts_with(family))
        }) {
            return None;
        }
        Some(format!(
            "[read_only_tools]: tool `{}` is annotated read-only by its server and scores {} (below {}) with no sign of an effect other than reading",
            call.tool, risk.score, self.auto_approve_below
        ))
    }
}

impl Policy {
    /// Why the `[read_only_tools]` rule approves a draft from `agent` (`action` as filed,
    /// `risk` as Countersign scored it), for the signed decision's reason and the audit row;
    /// `None` when the section is absent, the bands ask for a lead or block the score, or any
    /// condition of the rule fails (see the module docs).
    pub fn read_only_approval(&self, agent: &str, action: &Action, risk: &Risk) -> Option<String> {
        let rule = self.read_only_tools.as_ref()?;
        if self.requirement(agent, action.kind, risk.score) != Requirement::OneApprover {
            return None;
        }
        rule.approves(agent, action, risk)
    }
}

/// 1-based line of the first `key =` inside the `[read_only_tools]` table of `text` (1 when
/// not found: the error still names the field).
fn line_of(text: &str, key: &str) -> usize {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_table = t.split('#').next().unwrap_or(t).trim() == "[read_only_tools]";
        } else if in_table && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return i + 1;
        }
    }
    1
}
