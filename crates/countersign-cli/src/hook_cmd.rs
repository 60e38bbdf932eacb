//! `countersign hook claude-code`: a Claude Code `PreToolUse` hook that gates every matched tool
//! call on a signed human decision.
//!
//! Input: the hook event Claude Code writes on stdin (JSON: `session_id`, `cwd`,
//! `hook_event_name`, `tool_name`, `tool_input`, …; fields we do not use are ignored). The tool
//! call becomes a draft — `Bash` → `shell.exec` (script), `Write`/`Edit`/`MultiEdit` →
//! `file.write` with the file's real content before and after, `WebFetch` → `http.request`,
//! `mcp__server__tool` → `tool.call`, anything else → `tool.call` — which waits in the app.
//!
//! Output (stdout, exit 0): the documented hook output
//! `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"|"deny",
//! "permissionDecisionReason": "…", "updatedInput": {…}?}}`. `allow` only after the signed
//! decision verified against the pinned keys and its single use was recorded. Everything
//! else — rejection, expiry, a refused signature, a timeout, unreadable input, an unreachable
//! app — is `deny` with the reason (fail closed).
//!
//! An approval *with edits* is by default a `deny` whose reason gives the approved input for
//! the agent to call again (that call is drafted and approved in its turn): Claude Code has
//! been seen to drop `updatedInput` silently (anthropics/claude-code#15897 with several hooks,
//! #32348 in `-p` mode, #47853 for `Edit`, #79321 for `Bash`), and an `allow` whose
//! `updatedInput` is dropped would run the call as the agent asked, not as approved. With
//! `--apply-edits`, the hook answers `allow` with `updatedInput` (the whole tool input, as the
//! hooks reference requires) when the tool can take the edit as its input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use countersign_core::{Action, ActionKind, Draft, TrustedKeys};
use countersign_gate::{run_gated, Client, GateOptions, Ledger};
use serde_json::{json, Map, Value};

/// Largest file whose current content is read for the diff (bytes).
const MAX_BEFORE_BYTES: u64 = 4 * 1024 * 1024;

/// `countersign hook claude-code`.
#[derive(Args)]
pub struct ClaudeCodeArgs {
    /// Trust file with the pinned approver key(s) (`countersign key export-public`).
    #[arg(long, env = "COUNTERSIGN_TRUST")]
    trust: PathBuf,
    /// Base URL of the Countersign agent API.
    #[arg(long, env = "COUNTERSIGN_API", default_value = "http://127.0.0.1:7823")]
    api: String,
    /// Seconds to wait for a decision before denying (keep it below the hook's own `timeout`).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Directory of the single-use ledger (default: the platform data dir's `gate/`).
    #[arg(long, env = "COUNTERSIGN_GATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Answer an approval with edits as `allow` + `updatedInput` instead of a `deny` that
    /// gives the agent the approved input to call again. Only for Claude Code versions that
    /// apply `updatedInput` (some drop it silently and would run the unedited call).
    #[arg(long)]
    apply_edits: bool,
}

/// The hook's answer.
fn answer(decision: &str, reason: &str, updated_input: Option<Value>) -> Value {
    let mut out = json!({
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    });
    if let Some(input) = updated_input {
        out["updatedInput"] = input;
    }
    json!({ "hookSpecificOutput": out })
}

pub(crate) fn claude_code(args: ClaudeCodeArgs) -> Result<std::process::ExitCode> {
    let mut stdin = Vec::new();
    let out = match std::io::Read::read_to_end(&mut std::io::stdin(), &mut stdin) {
        Ok(_) => match gate(&args, &stdin) {
            Ok(out) => out,
            Err(e) => answer("deny", &format!("Countersign: not approved — {e:#}"), None),
        },
        Err(e) => answer(
            "deny",
            &format!("Countersign: cannot read the hook event: {e}"),
            None,
        ),
    };
    println!("{out}");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The parts of a hook event we use.
struct Event {
    cwd: Option<String>,
    session: Option<String>,
    tool_name: String,
    tool_input: Map<String, Value>,
}

fn parse_event(bytes: &[u8]) -> Result<Event> {
    let v = countersign_core::json::parse_strict(bytes).context("hook event is not valid JSON")?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(name) = field("hook_event_name") {
        if name != "PreToolUse" {
            bail!("this hook handles PreToolUse events, not {name}");
        }
    }
    Ok(Event {
        cwd: field("cwd"),
        session: field("session_id"),
        tool_name: field("tool_name").ok_or_else(|| anyhow!("hook event has no `tool_name`"))?,
        tool_input: v
            .get("tool_input")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| anyhow!("hook event has no `tool_input` object"))?,
    })
}

fn text(input: &Map<String, Value>, key: &str) -> Result<String> {
    input
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("tool_input.{key} is missing or not a string"))
}

fn one_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        line.chars().take(max - 1).collect::<String>() + "…"
    } else {
        line.to_owned()
    }
}

/// The file's current text, `None` when it does not exist.
fn current_text(path: &Path) -> Result<Option<String>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        Ok(m) if m.len() > MAX_BEFORE_BYTES => bail!(
            "{} is over {MAX_BEFORE_BYTES} bytes; cannot show its diff",
            path.display()
        ),
        Ok(_) => {
            Ok(Some(std::fs::read_to_string(path).with_context(|| {
                format!("{} is not UTF-8 text", path.display())
            })?))
        }
    }
}

/// Applies one Claude Code edit (`old_string` → `new_string`, once or everywhere) as the tool
/// would: the old string must occur, and exactly once unless `replace_all`.
fn apply_edit(content: &str, edit: &Map<String, Value>) -> Result<String> {
    let old = text(edit, "old_string")?;
    let new = text(edit, "new_string")?;
    let all = edit
        .get("replace_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let count = content.matches(&old).count();
    match (count, all) {
        (0, _) => bail!("old_string does not occur in the file; the edit would fail"),
        (1, _) | (_, true) => Ok(if all {
            content.replace(&old, &new)
        } else {
            content.replacen(&old, &new, 1)
        }),
        (n, false) => bail!("old_string occurs {n} times; the edit would be ambiguous"),
    }
}

/// Maps a tool call to a draft.
fn to_draft(e: &Event) -> Result<Draft> {
    let i = &e.tool_input;
    let session = e.session.as_deref().unwrap_or("unknown session");
    let value = match e.tool_name.as_str() {
        "Bash" => {
            let command = text(i, "command")?;
            let summary = i
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| one_line(&command, 120));
            let mut payload = json!({ "script": command });
            if let Some(cwd) = &e.cwd {
                payload["cwd"] = cwd.clone().into();
            }
            json!({"kind": "shell.exec", "target": format!("claude-code://{session}/bash"), "summary": summary, "payload": payload})
        }
        "Write" | "Edit" | "MultiEdit" => {
            let path = text(i, "file_path")?;
            let before = current_text(Path::new(&path))?;
            let content = match e.tool_name.as_str() {
                "Write" => text(i, "content")?,
                "Edit" => apply_edit(
                    before.as_deref().ok_or_else(|| {
                        anyhow!("{path} does not exist; Edit needs an existing file")
                    })?,
                    i,
                )?,
                _ => {
                    let mut c = before.clone().ok_or_else(|| {
                        anyhow!("{path} does not exist; MultiEdit needs an existing file")
                    })?;
                    let edits = i
                        .get("edits")
                        .and_then(Value::as_array)
                        .ok_or_else(|| anyhow!("tool_input.edits is missing"))?;
                    for edit in edits {
                        c = apply_edit(
                            &c,
                            edit.as_object()
                                .ok_or_else(|| anyhow!("an edit is not an object"))?,
                        )?;
                    }
                    c
                }
            };
            let mut d = json!({"kind": "file.write", "target": format!("file://{path}"),
                "summary": format!("{} {path}", if before.is_some() { "Edit" } else { "Create" }),
                "payload": {"path": path, "content": content}});
            if let Some(b) = before {
                d["before"] = b.into();
            }
            d
        }
        "WebFetch" => {
            let url = text(i, "url")?;
            json!({"kind": "http.request", "target": url.clone(), "summary": format!("Fetch {url}"),
                "payload": {"method": "GET", "url": url}})
        }
        name => {
            let (server, tool) = match name.strip_prefix("mcp__").and_then(|r| r.split_once("__")) {
                Some((server, tool)) => (Some(server.to_owned()), tool.to_owned()),
                None => (None, name.to_owned()),
            };
            let mut payload = json!({"tool": tool, "arguments": Value::Object(i.clone())});
            if let Some(s) = &server {
                payload["server"] = s.clone().into();
            }
            let target = match &server {
                Some(s) => format!("mcp://{s}/{tool}"),
                None => format!("claude-code://{session}/{tool}"),
            };
            json!({"kind": "tool.call", "target": target, "summary": format!("Call {name}"), "payload": payload})
        }
    };
    Ok(Draft::from_value(value)?)
}

/// The tool and the whole tool input that perform the approved action, when it differs from
/// what the agent asked: the same tool where it can take the edit as input, `Write` for an
/// edited `Edit`/`MultiEdit` (the approved action is the file's whole new content).
fn edited_call(
    e: &Event,
    submitted: &Action,
    approved: &Action,
) -> Result<Option<(String, Value)>> {
    if submitted == approved {
        return Ok(None);
    }
    let field = |key: &str| {
        approved
            .payload
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow!("the approved {} has no `{key}`", approved.kind.as_str()))
    };
    let mut input = e.tool_input.clone();
    let tool = match (e.tool_name.as_str(), approved.kind) {
        ("Bash", ActionKind::ShellExec) => {
            let script = approved.payload.get("script").and_then(Value::as_str);
            let script = script.ok_or_else(|| anyhow!("the approved command is not a script"))?;
            input.insert("command".into(), script.into());
            "Bash"
        }
        ("Write" | "Edit" | "MultiEdit", ActionKind::FileWrite) => {
            input = Map::new();
            input.insert("file_path".into(), field("path")?);
            input.insert("content".into(), field("content")?);
            "Write"
        }
        ("WebFetch", ActionKind::HttpRequest) => {
            input.insert("url".into(), field("url")?);
            "WebFetch"
        }
        (name, ActionKind::ToolCall) if !matches!(name, "Bash" | "Write" | "Edit" | "MultiEdit" | "WebFetch") => {
            input = field("arguments")?
                .as_object()
                .cloned()
                .ok_or_else(|| anyhow!("approved arguments are not an object"))?;
            name
        }
        (name, _) => bail!("the approver edited this {name} call in a way the tool cannot take as input; ask the agent to redo it"),
    };
    Ok(Some((tool.to_owned(), Value::Object(input))))
}

fn gate(args: &ClaudeCodeArgs, stdin: &[u8]) -> Result<Value> {
    let event = parse_event(stdin)?;
    let draft = to_draft(&event)?;
    let trusted = TrustedKeys::from_json(
        &std::fs::read(&args.trust).with_context(|| format!("reading {}", args.trust.display()))?,
    )?;
    let token =
        std::env::var("COUNTERSIGN_TOKEN").map_err(|_| anyhow!("COUNTERSIGN_TOKEN is not set"))?;
    let ledger = Ledger::open_in(&crate::gate_cmd::state_dir(args.state_dir.as_ref())?)?;
    let client = Client::new(&args.api, token)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let opts = GateOptions {
        timeout: Some(Duration::from_secs(args.timeout)),
        on_submitted: None,
        quorum: Default::default(),
        policy: None,
    };
    let approved = runtime.block_on(run_gated(&client, &draft, &trusted, &ledger, opts))?;
    let approver = &approved.body.approver.name;
    let id = &approved.body.action_id;
    Ok(
        match edited_call(&event, &draft.action(), &approved.body.action)? {
            None => answer(
                "allow",
                &format!("Approved in Countersign by {approver} (draft {id})"),
                None,
            ),
            Some((tool, input)) if args.apply_edits && tool == event.tool_name => answer(
                "allow",
                &format!("Approved in Countersign by {approver} (draft {id}), edited by the approver"),
                Some(input),
            ),
            Some((tool, input)) => answer(
                "deny",
                &format!(
                    "Countersign: {approver} approved this call only with edits (draft {id}), so it was not run as asked. To run what was approved, call {tool} again with exactly this input: {input}"
                ),
                None,
            ),
        },
    )
}
