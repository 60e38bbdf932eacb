//! `countersign hook claude-code` on recorded PreToolUse events in Claude Code's published
//! format, against a real broker.

use std::io::Write;
use std::process::{Command, Stdio};

use countersign_broker::DecisionInput;
use countersign_core::ActionKind;
use serde_json::Value;

use crate::World;

/// Runs the hook on `event` (a file in hook_events/, `{{DIR}}` replaced by the world's dir);
/// `decide` gets (id, digest) once the draft is pending. Returns the parsed stdout.
fn run_hook(w: &World, event: &str, decide: impl FnOnce(&World, &str, &str)) -> Value {
    run_hook_with(w, event, &[], decide)
}

/// [`run_hook`] with `extra` arguments for the hook.
fn run_hook_with(
    w: &World,
    event: &str,
    extra: &[&str],
    decide: impl FnOnce(&World, &str, &str),
) -> Value {
    let raw = std::fs::read_to_string(format!(
        "{}/tests/cli/hook_events/{event}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let dir = w.path("").display().to_string();
    let raw = raw.replace("{{DIR}}", dir.trim_end_matches('/'));
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["hook", "claude-code", "--trust"])
        .arg(w.path("trust.json"))
        .args(["--api", &w.base, "--timeout", "30", "--state-dir"])
        .arg(w.path("gate"))
        .args(extra)
        .env("COUNTERSIGN_TOKEN", &w.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let (id, digest) = w.pending();
    decide(w, &id, &digest);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the hook answers in JSON, exit 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_value(countersign_core::json::parse_strict(&out.stdout).unwrap()).unwrap()
}

fn decision(out: &Value) -> (&str, &str) {
    let h = &out["hookSpecificOutput"];
    assert_eq!(h["hookEventName"], "PreToolUse");
    (
        h["permissionDecision"].as_str().unwrap(),
        h["permissionDecisionReason"].as_str().unwrap(),
    )
}

#[test]
fn an_approved_bash_call_is_allowed_and_was_drafted_as_a_shell_script() {
    let w = World::new();
    let out = run_hook(&w, "bash.json", |w, id, d| {
        w.broker.decide(id, d, DecisionInput::Approve).unwrap();
    });
    let (verdict, reason) = decision(&out);
    assert_eq!(verdict, "allow");
    assert!(reason.contains("ana"), "{reason}");
    assert!(
        out["hookSpecificOutput"].get("updatedInput").is_none(),
        "nothing was edited"
    );
    let row = &w.broker.store().actions(5).unwrap()[0];
    assert_eq!(row.action.kind, ActionKind::ShellExec);
    assert_eq!(
        row.action.payload["script"],
        "rm -rf build/ && make release"
    );
    assert_eq!(
        row.action.summary,
        "Clean and rebuild the release artifacts"
    );
}

#[test]
fn a_rejected_call_is_denied_with_the_reason() {
    let w = World::new();
    let out = run_hook(&w, "mcp.json", |w, id, d| {
        w.broker
            .decide(
                id,
                d,
                DecisionInput::Reject {
                    reason: "never delete payments".into(),
                },
            )
            .unwrap();
    });
    let (verdict, reason) = decision(&out);
    assert_eq!(verdict, "deny");
    assert!(reason.contains("never delete payments"), "{reason}");
    let row = &w.broker.store().actions(5).unwrap()[0];
    assert_eq!(row.action.kind, ActionKind::ToolCall);
    assert_eq!(row.action.payload["server"], "github");
    assert_eq!(row.action.payload["tool"], "delete_repository");
}

#[test]
fn an_edit_is_drafted_with_the_files_real_before_and_after() {
    let w = World::new();
    std::fs::write(w.path("app.toml"), "name = \"app\"\nlog_level = \"info\"\n").unwrap();
    let out = run_hook(&w, "edit.json", |w, id, d| {
        w.broker.decide(id, d, DecisionInput::Approve).unwrap();
    });
    assert_eq!(decision(&out).0, "allow");
    let row = &w.broker.store().actions(5).unwrap()[0];
    assert_eq!(row.action.kind, ActionKind::FileWrite);
    assert_eq!(
        row.action.before_text(),
        Some("name = \"app\"\nlog_level = \"info\"\n")
    );
    assert_eq!(
        row.action.payload["content"],
        "name = \"app\"\nlog_level = \"debug\"\n"
    );
}

#[test]
fn a_web_fetch_is_drafted_as_a_get_request() {
    let w = World::new();
    let out = run_hook(&w, "webfetch.json", |w, id, d| {
        w.broker
            .decide(
                id,
                d,
                DecisionInput::Reject {
                    reason: "not that site".into(),
                },
            )
            .unwrap();
    });
    assert_eq!(decision(&out).0, "deny");
    let row = &w.broker.store().actions(5).unwrap()[0];
    assert_eq!(row.action.kind, ActionKind::HttpRequest);
    assert_eq!(
        row.action.payload["url"],
        "https://docs.example.com/runbook"
    );
}

#[test]
fn unreadable_input_and_an_unreachable_app_are_denied() {
    let w = World::new();
    for (stdin, api) in [
        ("{not json", w.base.as_str()),
        (
            r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"#,
            "http://127.0.0.1:9",
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(["hook", "claude-code", "--trust"])
            .arg(w.path("trust.json"))
            .args(["--api", api, "--timeout", "2", "--state-dir"])
            .arg(w.path("gate"))
            .env("COUNTERSIGN_TOKEN", &w.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let v: Value =
            serde_json::from_value(countersign_core::json::parse_strict(&out.stdout).unwrap())
                .unwrap();
        assert_eq!(decision(&v).0, "deny", "fail closed for {stdin} via {api}");
    }
}

/// Approves the pending draft with `edit` applied to its action's payload.
fn approve_edited(w: &World, id: &str, digest: &str, edit: impl FnOnce(&mut Value)) {
    let mut action = w.broker.store().action(id).unwrap().unwrap().action;
    edit(&mut action.payload);
    w.broker.decide_edited(id, digest, action).unwrap();
}

#[test]
fn an_approval_with_edits_is_denied_with_the_approved_input_to_call_again() {
    let w = World::new();
    let out = run_hook(&w, "bash.json", |w, id, d| {
        approve_edited(w, id, d, |p| p["script"] = "rm -rf build/tmp".into());
    });
    let (verdict, reason) = decision(&out);
    assert_eq!(
        verdict, "deny",
        "an edit is not run through updatedInput by default: Claude Code may drop it and run the unedited call"
    );
    assert!(
        out["hookSpecificOutput"].get("updatedInput").is_none(),
        "{out}"
    );
    assert!(reason.contains("call Bash again"), "{reason}");
    assert!(
        reason.contains(r#""command":"rm -rf build/tmp""#),
        "the reason carries the approved input: {reason}"
    );
    assert!(
        !reason.contains("make release"),
        "not the unedited command: {reason}"
    );
}

#[test]
fn with_apply_edits_an_edited_command_is_allowed_with_the_whole_updated_input() {
    let w = World::new();
    let out = run_hook_with(&w, "bash.json", &["--apply-edits"], |w, id, d| {
        approve_edited(w, id, d, |p| p["script"] = "rm -rf build/tmp".into());
    });
    let (verdict, reason) = decision(&out);
    assert_eq!(verdict, "allow", "{reason}");
    assert_eq!(
        out["hookSpecificOutput"]["updatedInput"],
        serde_json::json!({
            "command": "rm -rf build/tmp",
            "description": "Clean and rebuild the release artifacts",
            "timeout": 120000
        }),
        "updatedInput replaces the whole tool input, so the untouched fields stay"
    );
}

#[test]
fn an_edited_edit_is_denied_even_with_apply_edits_and_names_the_write_to_make() {
    let w = World::new();
    std::fs::write(w.path("app.toml"), "name = \"app\"\nlog_level = \"info\"\n").unwrap();
    let out = run_hook_with(&w, "edit.json", &["--apply-edits"], |w, id, d| {
        approve_edited(w, id, d, |p| {
            p["content"] = "name = \"app\"\nlog_level = \"warn\"\n".into()
        });
    });
    let (verdict, reason) = decision(&out);
    assert_eq!(
        verdict, "deny",
        "an Edit cannot take a whole file as its input"
    );
    assert!(reason.contains("call Write again"), "{reason}");
    assert!(reason.contains(r#"log_level = \"warn\""#), "{reason}");
    assert_eq!(
        std::fs::read_to_string(w.path("app.toml")).unwrap(),
        "name = \"app\"\nlog_level = \"info\"\n",
        "the hook itself never writes"
    );
}
