//! Risk: a score from 0 to 100 that Countersign computes from the draft alone (never from the
//! agent's claims), as a capped sum of named factors, each with points, a one-line reason and
//! the JSON Pointer (RFC 6901) of the part of the action it fired on.
//!
//! Bands: low 0–24, medium 25–49, high 50–74, critical 75–100.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::action::{Action, ActionKind, Grant, Payload};
use crate::text::count_hidden;

/// Band of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum RiskLevel {
    /// 0–24.
    Low,
    /// 25–49.
    Medium,
    /// 50–74.
    High,
    /// 75–100.
    Critical,
}

impl RiskLevel {
    /// The band a score falls in.
    pub fn of(score: u8) -> RiskLevel {
        match score {
            0..=24 => RiskLevel::Low,
            25..=49 => RiskLevel::Medium,
            50..=74 => RiskLevel::High,
            _ => RiskLevel::Critical,
        }
    }

    /// Lower-case name, e.g. `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

/// One named contribution to the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RiskFactor {
    /// Stable id of the detector, e.g. `access.broad_principal`.
    pub id: String,
    /// Points added (1–100).
    pub points: u8,
    /// One line a human understands, e.g. "grants read on `user_data` to `all-employees`".
    pub reason: String,
    /// JSON Pointer into the action where it fired, e.g. `/payload/grants/0`.
    pub pointer: String,
}

/// A scored action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Risk {
    /// Sum of the factors' points, capped at 100.
    pub score: u8,
    /// Band of the score.
    pub level: RiskLevel,
    /// Every factor that fired, largest first.
    pub factors: Vec<RiskFactor>,
}

/// Principals that mean "a large group of people".
const BROAD_PRINCIPALS: &[&str] = &[
    "*",
    "all",
    "everyone",
    "all-employees",
    "all-users",
    "allusers",
    "allauthenticatedusers",
    "public",
    "anyone",
    "domain",
    "org",
    "company",
];

/// Words in resource names that suggest sensitive data.
const SENSITIVE_WORDS: &[&str] = &[
    "user_data",
    "userdata",
    "users",
    "pii",
    "personal",
    "customer",
    "secret",
    "credential",
    "password",
    "token",
    "salary",
    "payroll",
    "health",
    "prod",
    "billing",
    "payment",
];

fn is_broad(principal: &str) -> bool {
    let p = principal.trim().to_ascii_lowercase();
    let bare = p.rsplit(':').next().unwrap_or(&p);
    BROAD_PRINCIPALS.contains(&p.as_str()) || BROAD_PRINCIPALS.contains(&bare)
}

fn sensitive_word(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    SENSITIVE_WORDS.iter().copied().find(|w| n.contains(w))
}

fn permission_rank(p: &str) -> u8 {
    match p.to_ascii_lowercase().as_str() {
        "read" | "view" | "viewer" | "reader" | "select" => 1,
        "write" | "edit" | "editor" | "writer" | "insert" | "update" | "delete" => 2,
        "admin" | "owner" | "all" | "manage" | "grant" => 3,
        _ => 2,
    }
}

struct Scorer {
    factors: Vec<RiskFactor>,
}

impl Scorer {
    fn add(&mut self, id: &str, points: u8, reason: String, pointer: impl Into<String>) {
        self.factors.push(RiskFactor {
            id: id.into(),
            points,
            reason,
            pointer: pointer.into(),
        });
    }
}

/// Scores an action. Deterministic; an action whose payload does not fit its kind scores 100
/// (fail closed: what cannot be understood is never low risk).
pub fn score(action: &Action) -> Risk {
    let mut s = Scorer {
        factors: Vec::new(),
    };
    match action.typed() {
        Err(e) => s.add(
            "input.unparseable",
            100,
            format!("payload could not be understood: {e}"),
            e.pointer,
        ),
        Ok(payload) => score_payload(action, &payload, &mut s),
    }
    hidden_characters(action, &mut s);
    s.factors
        .sort_by(|a, b| b.points.cmp(&a.points).then(a.id.cmp(&b.id)));
    let total: u32 = s.factors.iter().map(|f| u32::from(f.points)).sum();
    let score = total.min(100) as u8;
    Risk {
        score,
        level: RiskLevel::of(score),
        factors: s.factors,
    }
}

fn score_payload(action: &Action, payload: &Payload, s: &mut Scorer) {
    match payload {
        Payload::AclChange(acl) => {
            let before: Vec<Grant> = action
                .before
                .clone()
                .and_then(|b| serde_json::from_value(b).ok())
                .unwrap_or_default();
            let sensitive = sensitive_word(&acl.resource);
            for (i, g) in acl.grants.iter().enumerate() {
                if before.contains(g) {
                    continue;
                }
                let pointer = format!("/payload/grants/{i}");
                if is_broad(&g.principal) {
                    s.add(
                        "access.broad_principal",
                        45,
                        format!(
                            "grants {} on `{}` to `{}`",
                            g.permission, acl.resource, g.principal
                        ),
                        pointer.clone(),
                    );
                }
                let prior = before
                    .iter()
                    .filter(|b| b.principal == g.principal)
                    .map(|b| permission_rank(&b.permission))
                    .max()
                    .unwrap_or(0);
                if permission_rank(&g.permission) >= 2 && permission_rank(&g.permission) > prior {
                    s.add(
                        "access.escalation",
                        15,
                        format!("raises `{}` to {}", g.principal, g.permission),
                        pointer,
                    );
                }
            }
            let broad_gain = acl
                .grants
                .iter()
                .position(|g| !before.contains(g) && is_broad(&g.principal));
            if let (Some(i), Some(_)) = (broad_gain, sensitive) {
                s.add(
                    "access.sensitive_to_broad",
                    15,
                    format!(
                        "exposes sensitive `{}` to the broad group `{}`",
                        acl.resource, acl.grants[i].principal
                    ),
                    format!("/payload/grants/{i}"),
                );
            }
            if let Some(word) = sensitive {
                s.add(
                    "access.sensitive_resource",
                    20,
                    format!("`{}` looks sensitive (`{word}`)", acl.resource),
                    "/payload/resource",
                );
            }
        }
        Payload::MessagePost(m) => {
            if let Some(aud) = m.audience.as_deref().filter(|a| is_broad(a)) {
                s.add(
                    "audience.broad",
                    15,
                    format!("visible to `{aud}`"),
                    "/payload/audience",
                );
            }
            let body = m.body.to_ascii_lowercase();
            let advises_grant = ["grant", "give", "share", "access", "permission"]
                .iter()
                .any(|w| body.contains(w));
            if let Some(p) = BROAD_PRINCIPALS
                .iter()
                .filter(|p| p.len() > 3)
                .find(|p| body.contains(*p))
                .filter(|_| advises_grant)
            {
                s.add(
                    "content.advises_broad_access",
                    30,
                    format!("advises giving access to `{p}`"),
                    "/payload/body",
                );
            }
            if let Some(word) = sensitive_word(&body) {
                if advises_grant {
                    s.add(
                        "content.sensitive_data",
                        10,
                        format!("mentions sensitive data (`{word}`) next to access advice"),
                        "/payload/body",
                    );
                }
            }
        }
        Payload::ShellExec(sh) => {
            let words = shell_words(sh);
            let pointer = if sh.argv.is_some() {
                "/payload/argv"
            } else {
                "/payload/script"
            };
            s.add(
                "shell.executes",
                10,
                "runs a program on this machine".into(),
                pointer,
            );
            if sh.script.is_some() {
                s.add(
                    "shell.script",
                    10,
                    "runs a shell script (expansions and pipes)".into(),
                    pointer,
                );
            }
            let has = |w: &str| words.iter().any(|x| x == w);
            let recursive_force = words.iter().any(|w| {
                w.starts_with('-') && !w.starts_with("--") && w.contains('r') && w.contains('f')
            });
            if has("rm") && recursive_force {
                s.add(
                    "shell.recursive_delete",
                    40,
                    "deletes recursively (`rm -rf`)".into(),
                    pointer,
                );
            }
            if has("sudo") || has("doas") {
                s.add(
                    "shell.privileged",
                    20,
                    "runs as another user (`sudo`)".into(),
                    pointer,
                );
            }
            let pipes_to_shell = words
                .windows(2)
                .any(|w| w[0] == "|" && SHELLS.contains(&w[1].as_str()));
            if (has("curl") || has("wget")) && pipes_to_shell {
                s.add(
                    "shell.remote_code",
                    40,
                    "pipes a download into a shell".into(),
                    pointer,
                );
            }
            if has("chmod") && words.iter().any(|w| w.contains("777")) {
                s.add(
                    "shell.world_writable",
                    25,
                    "makes files world-writable".into(),
                    pointer,
                );
            }
        }
        Payload::FileWrite(f) => {
            let p = f.path.to_ascii_lowercase();
            if [".toml", ".yaml", ".yml", ".json", ".ini", ".conf", ".env"]
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
            if action.before.is_none() {
                s.add(
                    "file.unknown_before",
                    5,
                    "current content not given: the diff shows the whole file".into(),
                    "/before",
                );
            }
        }
        Payload::HttpRequest(h) => {
            if !matches!(h.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
                s.add(
                    "http.mutating",
                    15,
                    format!("`{}` changes state on the server", h.method),
                    "/payload/method",
                );
            }
        }
        Payload::ToolCall(t) => {
            let name = t.tool.to_ascii_lowercase();
            let verbs = [
                "delete", "remove", "send", "share", "transfer", "grant", "invite", "post", "pay",
                "password",
            ];
            if let Some(v) = verbs.iter().find(|v| name.contains(*v)) {
                s.add(
                    "tool.effect",
                    25,
                    format!("tool `{}` looks like it will {v}", t.tool),
                    "/payload/tool",
                );
            }
        }
    }
    if action.kind == ActionKind::ToolCall || action.kind == ActionKind::HttpRequest {
        scan_arguments(&action.payload, s);
    }
}

/// Programs that run their `-c` argument as a script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"];

/// The words a command will run, with `sh -c SCRIPT` (also behind `sudo`, `env`, …) unwrapped
/// so a script cannot hide inside an argv. A coarse split on whitespace and shell operators;
/// full parsing (brush-parser) belongs to the shell detector.
fn shell_words(sh: &crate::action::ShellExecPayload) -> Vec<String> {
    fn split(script: &str, out: &mut Vec<String>) {
        let mut spaced = String::with_capacity(script.len() * 2);
        for c in script.chars() {
            match c {
                '|' | ';' | '&' | '(' | ')' | '`' | '$' | '\n' => {
                    spaced.push(' ');
                    spaced.push(c);
                    spaced.push(' ');
                }
                '"' | '\'' => spaced.push(' '),
                c => spaced.push(c),
            }
        }
        out.extend(spaced.split_whitespace().map(|w| basename(w).to_owned()));
    }
    fn basename(w: &str) -> &str {
        w.rsplit('/').next().unwrap_or(w)
    }
    let mut words = Vec::new();
    match (&sh.argv, &sh.script) {
        (Some(argv), _) => {
            let mut i = 0;
            while i < argv.len() {
                let program = basename(&argv[i]);
                words.push(program.to_owned());
                if SHELLS.contains(&program) {
                    let flag = argv[i + 1..].iter().position(|a| {
                        a.starts_with('-') && !a.starts_with("--") && a.contains('c')
                    });
                    if let Some(pos) = flag {
                        if let Some(script) = argv.get(i + 2 + pos) {
                            split(script, &mut words);
                        }
                        i += pos + 3;
                        continue;
                    }
                }
                i += 1;
            }
        }
        (None, Some(script)) => split(script, &mut words),
        _ => {}
    }
    words
}

/// Looks for broad principals inside arbitrary JSON arguments (tool calls, HTTP bodies).
fn scan_arguments(payload: &Value, s: &mut Scorer) {
    fn walk(v: &Value, pointer: &mut String, out: &mut Option<(String, String)>) {
        match v {
            Value::String(text) if out.is_none() && is_broad(text) => {
                *out = Some((pointer.clone(), text.clone()));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    walk(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = pointer.len();
                    crate::json::push_token(pointer, k);
                    walk(item, pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut found = None;
    walk(payload, &mut "/payload".to_string(), &mut found);
    if let Some((pointer, principal)) = found {
        s.add(
            "access.broad_principal",
            30,
            format!("names the broad group `{principal}`"),
            pointer,
        );
    }
}

fn hidden_characters(action: &Action, s: &mut Scorer) {
    fn collect(v: &Value, out: &mut String) {
        match v {
            Value::String(t) => out.push_str(t),
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            Value::Object(map) => map.iter().for_each(|(k, i)| {
                out.push_str(k);
                collect(i, out);
            }),
            _ => {}
        }
    }
    let mut text = format!("{}{}", action.summary, action.target);
    collect(&action.payload, &mut text);
    let (bidi, invisible, control) = count_hidden(&text);
    if bidi > 0 {
        s.add("content.bidi", 25, format!("{bidi} bidirectional control character(s) can make text read differently than it runs"), "/payload");
    }
    if invisible + control > 0 {
        s.add(
            "content.invisible",
            15,
            format!("{} invisible or control character(s)", invisible + control),
            "/payload",
        );
    }
}
