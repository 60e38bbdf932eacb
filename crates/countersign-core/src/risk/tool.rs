//! Effects of tool calls, HTTP requests and file writes, inferred without per-tool
//! configuration: the verbs in a tool's name (`send_email`, `deleteFile`, `drive.share`,
//! `update_password`), the names of its arguments (`password`, `amount`, `recipient`), and
//! the amount of money a transfer moves.

use serde_json::Value;

use super::Scorer;
use crate::action::{Action, FileWritePayload, HttpRequestPayload, ToolCallPayload};

/// Effect classes a verb can imply, strongest first within the table.
const VERBS: &[(&[&str], &str, u8, &str)] = &[
    (
        &[
            "delete",
            "remove",
            "destroy",
            "drop",
            "purge",
            "wipe",
            "erase",
            "truncate",
            "rm",
            "unlink",
            "trash",
            "revoke",
            "terminate",
            "deprovision",
            "uninstall",
            "kill",
            "archive",
            "cancel",
            "close",
            "disable",
            "clear",
        ],
        "tool.delete",
        30,
        "delete or disable something",
    ),
    (
        &[
            "transfer",
            "pay",
            "payment",
            "send_money",
            "wire",
            "refund",
            "withdraw",
            "purchase",
            "buy",
            "charge",
            "checkout",
            "order",
            "invoice",
            "payout",
            "donate",
            "money",
            "transaction",
            "schedule_transaction",
        ],
        "tool.money",
        30,
        "move money",
    ),
    (
        &[
            "password",
            "credential",
            "credentials",
            "passwd",
            "secret",
            "apikey",
            "token",
            "mfa",
            "2fa",
            "otp",
            "keys",
            "ssh",
            "api_key",
            "access_key",
        ],
        "tool.credentials",
        35,
        "change or reveal credentials",
    ),
    (
        &[
            "share",
            "grant",
            "invite",
            "permission",
            "permissions",
            "acl",
            "collaborator",
            "collaborators",
            "role",
            "roles",
            "access",
            "publish",
            "expose",
            "unlock",
            "add_member",
            "add_user",
            "member",
            "members",
        ],
        "tool.share",
        25,
        "share something or change who has access",
    ),
    (
        &[
            "send",
            "email",
            "mail",
            "post",
            "message",
            "reply",
            "forward",
            "tweet",
            "comment",
            "notify",
            "sms",
            "dm",
            "broadcast",
            "announce",
            "upload",
            "submit",
            "webhook",
        ],
        "tool.send",
        15,
        "send something to someone",
    ),
    (
        &[
            "execute", "exec", "run", "eval", "shell", "command", "script", "deploy", "install",
            "merge", "push", "release", "migrate", "restart",
        ],
        "tool.execute",
        20,
        "run code or deploy",
    ),
    (
        &[
            "update",
            "set",
            "write",
            "edit",
            "modify",
            "change",
            "create",
            "add",
            "append",
            "rename",
            "move",
            "insert",
            "put",
            "patch",
            "upsert",
            "reset",
            "book",
            "reserve",
            "schedule",
            "append_to",
        ],
        "tool.write",
        10,
        "change something",
    ),
];

/// Verbs that only read.
const READ_VERBS: &[&str] = &[
    "get", "list", "read", "search", "find", "fetch", "query", "show", "view", "describe",
    "lookup", "check", "count", "download", "retrieve", "browse", "open",
];

/// Argument names that reveal an effect even when the tool's name does not.
const ARG_HINTS: &[(&[&str], &str, u8, &str)] = &[
    (
        &[
            "password",
            "new_password",
            "newpassword",
            "passwd",
            "secret",
            "api_key",
            "apikey",
            "private_key",
            "mfa_secret",
        ],
        "tool.credentials",
        35,
        "sets a password or secret",
    ),
    (
        &[
            "amount",
            "sum",
            "total",
            "price",
            "value_usd",
            "quantity_usd",
        ],
        "tool.money",
        20,
        "moves an amount",
    ),
    (
        &[
            "iban",
            "account_number",
            "routing_number",
            "swift",
            "bic",
            "wallet",
            "wallet_address",
        ],
        "tool.money",
        20,
        "names a bank account",
    ),
    (
        &[
            "recipient",
            "recipients",
            "to",
            "cc",
            "bcc",
            "email",
            "emails",
            "phone",
            "phone_number",
        ],
        "tool.send",
        15,
        "addresses someone",
    ),
    (
        &[
            "share_with",
            "role",
            "permission",
            "grantee",
            "invitee",
            "invitees",
            "collaborator",
        ],
        "tool.share",
        25,
        "changes access",
    ),
];

/// Argument names that carry a command line for a shell (`{"command": "ls -la"}`).
pub fn is_command_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "command" | "cmd" | "shell" | "bash" | "script" | "command_line" | "commandline"
    )
}

/// Runs the detector on a tool call.
pub fn detect(t: &ToolCallPayload, s: &mut Scorer) {
    let words = super::identifier_words(&t.tool);
    let joined = words.join("_");
    // One tool does one thing: the strongest effect its name implies speaks for it
    // (`schedule_transaction` moves money; it does not also "change something").
    let mut best: Option<(&str, u8, &str, String)> = None;
    for (verbs, id, points, effect) in VERBS {
        let hit = words
            .iter()
            .find(|w| verbs.contains(&w.as_str()))
            .cloned()
            .or_else(|| {
                verbs
                    .iter()
                    .find(|v| v.contains('_') && joined.contains(*v))
                    .map(|v| (*v).to_owned())
            });
        if let Some(verb) = hit {
            if best.as_ref().is_none_or(|b| *points > b.1) {
                best = Some((id, *points, effect, verb));
            }
        }
    }
    let fired_by_name = best.is_some();
    if let Some((id, points, effect, verb)) = best {
        s.add(
            id,
            points,
            format!("tool `{}` looks like it will {effect} (`{verb}`)", t.tool),
            "/payload/tool",
        );
    }
    let reads_only = !fired_by_name && words.iter().any(|w| READ_VERBS.contains(&w.as_str()));
    arguments(
        &t.arguments,
        "/payload/arguments",
        reads_only,
        fired_by_name,
        s,
    );
    money(&t.arguments, "/payload/arguments", s);
}

/// Argument names: effects the tool's name did not reveal. A read-only tool (`get_…`,
/// `search_…`) only counts credential arguments.
fn arguments(args: &Value, base: &str, reads_only: bool, named: bool, s: &mut Scorer) {
    let Value::Object(map) = args else { return };
    for (key, value) in map {
        let k = key.to_ascii_lowercase();
        for (names, id, points, what) in ARG_HINTS {
            // When the name already said what the tool does, only secrets and money in its
            // arguments add to it; a read-only tool only counts secrets.
            let strong = *id == "tool.credentials" || (*id == "tool.money" && !reads_only);
            if !names.contains(&k.as_str()) || ((reads_only || named) && !strong) {
                continue;
            }
            if s.has(id) || value.is_null() {
                continue;
            }
            let mut pointer = base.to_owned();
            crate::json::push_token(&mut pointer, key);
            s.add(id, *points, format!("argument `{key}` {what}"), pointer);
        }
        if let Value::Object(_) = value {
            let mut pointer = base.to_owned();
            crate::json::push_token(&mut pointer, key);
            arguments(value, &pointer, reads_only, named, s);
        }
    }
}

/// Money movement: the largest amount-like argument, in points growing with its size.
fn money(args: &Value, base: &str, s: &mut Scorer) {
    if !s.has("tool.money") {
        return;
    }
    let mut best: Option<(f64, String)> = None;
    for (pointer, key, v) in numbers(args, base) {
        let k = key.to_ascii_lowercase();
        if ["amount", "sum", "total", "price", "value"]
            .iter()
            .any(|a| k.contains(a))
            && best.as_ref().is_none_or(|b| v > b.0)
        {
            best = Some((v, pointer));
        }
    }
    if let Some((amount, pointer)) = best {
        let points = match amount {
            a if a >= 10_000.0 => 30,
            a if a >= 1_000.0 => 20,
            a if a >= 100.0 => 10,
            _ => 5,
        };
        s.add(
            "tool.money_amount",
            points,
            format!("moves an amount of {amount}"),
            pointer,
        );
    }
}

fn numbers(v: &Value, base: &str) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    if let Value::Object(map) = v {
        for (k, item) in map {
            let mut pointer = base.to_owned();
            crate::json::push_token(&mut pointer, k);
            match item {
                Value::Number(n) => out.extend(n.as_f64().map(|f| (pointer, k.clone(), f))),
                Value::String(t) => {
                    let cleaned: String = t
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '.')
                        .collect();
                    if let Ok(f) = cleaned.parse::<f64>() {
                        if t.chars().any(|c| c.is_ascii_digit()) && t.len() < 32 {
                            out.push((pointer, k.clone(), f));
                        }
                    }
                }
                Value::Object(_) => out.extend(numbers(item, &pointer)),
                _ => {}
            }
        }
    }
    out
}

/// Runs the detector on an HTTP request: the method, and the URL path's verbs.
pub fn detect_http(h: &HttpRequestPayload, s: &mut Scorer) {
    let method = h.method.to_ascii_uppercase();
    if method == "DELETE" {
        s.add(
            "http.delete",
            30,
            "`DELETE` removes something on the server".into(),
            "/payload/method",
        );
    } else if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
        s.add(
            "http.mutating",
            15,
            format!("`{}` changes state on the server", h.method),
            "/payload/method",
        );
    }
    if let Some(body) = h.body.as_deref() {
        if let Ok(v) = serde_json::from_str::<Value>(body) {
            if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
                arguments(&v, "/payload/body", false, false, s);
                if s.has("tool.money") {
                    money(&v, "/payload/body", s);
                }
            }
        }
    }
    if let Some(header) = h.headers.as_ref().and_then(|hs| {
        hs.keys().find(|k| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "authorization" | "cookie" | "x-api-key"
            )
        })
    }) {
        s.add(
            "http.credentials",
            10,
            format!("sends credentials (`{header}` header)"),
            format!("/payload/headers/{header}"),
        );
    }
}

/// Runs the detector on a file write.
pub fn detect_file(action: &Action, f: &FileWritePayload, s: &mut Scorer) {
    let p = f.path.to_ascii_lowercase();
    if [
        ".toml",
        ".yaml",
        ".yml",
        ".json",
        ".ini",
        ".conf",
        ".env",
        ".cfg",
        ".properties",
    ]
    .iter()
    .any(|ext| p.ends_with(ext))
    {
        s.add(
            "file.config",
            10,
            format!("changes configuration `{}`", f.path),
            "/payload/path",
        );
    }
    if [
        ".ssh/",
        "authorized_keys",
        "/etc/",
        ".bashrc",
        ".profile",
        ".zshrc",
        "sudoers",
        ".git/hooks/",
        ".github/workflows/",
        "crontab",
    ]
    .iter()
    .any(|x| p.contains(x))
    {
        s.add(
            "file.sensitive_path",
            35,
            format!("`{}` controls logins, start-up or CI", f.path),
            "/payload/path",
        );
    }
    if action.before.is_none() {
        s.add(
            "file.unknown_before",
            5,
            "current content not given: the diff shows the whole file".into(),
            "/before",
        );
    }
    if f.content.is_empty() && action.before_text().is_some_and(|b| !b.is_empty()) {
        s.add(
            "file.emptied",
            25,
            format!("empties `{}`", f.path),
            "/payload/content",
        );
    }
}
