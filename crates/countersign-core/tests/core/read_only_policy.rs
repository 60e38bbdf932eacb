//! `[read_only_tools]`: a tool call its MCP server annotates read-only is approved by the
//! policy only when the claim, the bands, the score and the detectors all agree (a bad section
//! names its field and line: `policy.rs`, `invalid_files_name_the_line_and_the_field`).

use countersign_core::policy::Policy;
use countersign_core::risk;
use rstest::rstest;
use serde_json::{json, Value};

use crate::draft;

const RULE: &str = "serial = 1\n\n[read_only_tools]\nauto_approve_below = 50\n";

/// Why `policy` approves a `tool.call` of `tool` with `arguments` (and `read_only_hint` when
/// given) from `agent`, scored by Countersign.
fn approval(
    policy: &str,
    agent: &str,
    tool: &str,
    arguments: Value,
    hint: Option<bool>,
) -> Option<String> {
    let mut payload = json!({"tool": tool, "server": "files", "arguments": arguments});
    if let Some(h) = hint {
        payload["read_only_hint"] = h.into();
    }
    let action = draft(json!({
        "kind": "tool.call", "target": format!("mcp://files/{tool}"), "summary": "MCP tool call",
        "payload": payload,
    }))
    .action();
    let scored = risk::score(&action);
    Policy::parse(policy)
        .unwrap()
        .read_only_approval(agent, &action, &scored)
}

#[test]
fn a_read_only_call_under_the_rule_is_approved_with_a_reason_citing_the_rule() {
    let why = approval(
        RULE,
        "mcp",
        "read_file",
        json!({"path": "/srv/notes.txt"}),
        Some(true),
    )
    .expect("read_file, annotated read-only, scoring 0 < 50, passes");
    assert!(why.starts_with("[read_only_tools]"), "{why}");
    assert!(
        why.contains("read_file") && why.contains("below 50"),
        "{why}"
    );
}

#[rstest]
#[case::no_section("serial = 1\n", "mcp", "read_file", json!({"path": "/a"}), Some(true))]
#[case::no_annotation(RULE, "mcp", "read_file", json!({"path": "/a"}), None)]
#[case::annotated_not_read_only(RULE, "mcp", "read_file", json!({"path": "/a"}), Some(false))]
#[case::destructive_name_claims_read_only(RULE, "mcp", "purge_logs", json!({"path": "/a"}), Some(true))]
#[case::command_argument(RULE, "mcp", "read_file", json!({"path": "/a", "command": "rm -rf /"}), Some(true))]
#[case::sql_that_writes(RULE, "mcp", "query", json!({"sql": "DROP TABLE users"}), Some(true))]
#[case::score_at_or_over_the_bound(
    "serial = 1\n[read_only_tools]\nauto_approve_below = 50\n",
    "mcp", "read_file", json!({"query": "password=hunter2"}), Some(true)
)]
#[case::agent_not_listed(
    "serial = 1\n[read_only_tools]\nauto_approve_below = 50\nagents = [\"files-bot\"]\n",
    "mcp", "read_file", json!({"path": "/a"}), Some(true)
)]
#[case::bands_need_a_lead(
    "serial = 1\n[thresholds]\nlead_required_from = 0\n[read_only_tools]\nauto_approve_below = 50\n",
    "mcp", "read_file", json!({"path": "/a"}), Some(true)
)]
#[case::bands_block(
    "serial = 1\n[agents.mcp]\nblocked_from = 0\n[read_only_tools]\nauto_approve_below = 50\n",
    "mcp", "read_file", json!({"path": "/a"}), Some(true)
)]
fn the_rule_does_not_approve(
    #[case] policy: &str,
    #[case] agent: &str,
    #[case] tool: &str,
    #[case] arguments: Value,
    #[case] hint: Option<bool>,
) {
    let why = approval(policy, agent, tool, arguments, hint);
    assert_eq!(why, None, "this draft must wait for a human");
}

#[test]
fn a_listed_agent_is_approved() {
    let policy =
        "serial = 1\n[read_only_tools]\nauto_approve_below = 50\nagents = [\"files-bot\"]\n";
    assert!(approval(
        policy,
        "files-bot",
        "read_file",
        json!({"path": "/a"}),
        Some(true)
    )
    .is_some());
}
