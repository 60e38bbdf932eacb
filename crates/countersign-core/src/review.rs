//! What the detail view shows for an action: the change (a diff suited to the kind) and the
//! impact (who or what is affected).
//!
//! Issue #5 (review desk) asks of the impact: for messages and transfers, each recipient
//! flagged as known, new or external ([`crate::risk::recipient`], judged with the
//! [`RiskContext`] the broker holds: the policy's organisation domains and the agent's approved
//! history); for shell, each command of the pipeline with its effect ([`crate::risk::shell`],
//! the same classification as the score).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::action::{Action, Grant, Payload};
use crate::diff::{PrincipalDiff, TextDiff};
use crate::jsondiff::JsonPaths;
use crate::risk::recipient::Recipient;
use crate::risk::shell::Step;
use crate::risk::{Risk, RiskContext};
use crate::spot::Spot;

/// The change an action makes, shaped for its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum Change {
    /// A text diff: a file's content, or a post's body (empty → body for a new post).
    Text {
        /// What the text is, e.g. `post body in #eng-help` or the file path.
        label: String,
        /// The diff; for a new post or file every line is added.
        diff: TextDiff,
        /// Whether `before` was given. When false the old side is shown as empty.
        before_known: bool,
        /// The changed paths, for a `file.write` to a `.json` file whose old and new content
        /// both parse as strict JSON ([`crate::json::parse_strict`]); absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        paths: Option<JsonPaths>,
    },
    /// Who gains and who loses access.
    Principals {
        /// The principal diff.
        diff: PrincipalDiff,
    },
    /// A command as it will run.
    Command {
        /// Program and arguments, one element per argument, exactly as `execve` will receive
        /// them; absent for a script.
        argv: Option<Vec<String>>,
        /// The script, run by `/bin/sh -c`; absent for argv.
        script: Option<String>,
        /// Working directory.
        cwd: Option<String>,
        /// Extra environment, `NAME=value`.
        env: Vec<String>,
    },
    /// An HTTP request as it will be sent.
    Request {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// `Name: value` lines.
        headers: Vec<String>,
        /// Body text.
        body: Option<String>,
    },
    /// A tool call: its arguments as pretty JSON, diffed against `before` when given.
    Json {
        /// Tool name, with its server when known (`server/tool`).
        label: String,
        /// Diff of pretty-printed JSON.
        diff: TextDiff,
        /// The changed paths from `before` (the previous arguments) to the arguments; absent
        /// when `before` was not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        paths: Option<JsonPaths>,
    },
}

/// One line of the impact panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImpactItem {
    /// What it is, e.g. `Audience`, `Gains access`.
    pub label: String,
    /// The value, e.g. `all-employees`.
    pub value: String,
    /// Worth drawing attention to (a broad group, a new principal, a privileged effect).
    pub flagged: bool,
    /// JSON Pointer (RFC 6901) of the field of the action it comes from, e.g.
    /// `/payload/audience`, when it comes from one: the risk panel jumps here for a factor on
    /// that field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pointer: Option<String>,
    /// A second, quieter line: where a shell command sits in its script, outermost first, e.g.
    /// `in a subshell ( … ) · if the previous succeeds (&&)` or `pipeline 2 of 2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

impl ImpactItem {
    /// This item, naming the field it comes from.
    fn at(mut self, pointer: &str) -> ImpactItem {
        self.pointer = Some(pointer.into());
        self
    }
}

/// Change and impact of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Review {
    /// The diff.
    pub change: Change,
    /// Who or what is affected.
    pub impact: Vec<ImpactItem>,
    /// Where the risk factors fired in the change's diff ([`crate::spot`]); filled by
    /// [`review_scored`], empty (and left out of the JSON) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<Spot>>", optional)]
    pub spots: Vec<Spot>,
}

/// [`review`] with the [`Spot`]s of `risk` (the action's risk, as shown beside the review),
/// knowing nothing of the organisation or the agent's history (recipients' statuses say so).
pub fn review_scored(action: &Action, risk: &Risk) -> Review {
    review_with(action, risk, &RiskContext::default())
}

/// [`review_scored`] judging recipients with `ctx`: `external` when outside
/// `ctx.org_domains`, else `known` when in `ctx.history`'s `approved_counterparts`, `new`
/// otherwise. Only `org_domains` and `history.approved_counterparts` are read; with no
/// domains or no history each recipient says what could not be judged.
pub fn review_with(action: &Action, risk: &Risk, ctx: &RiskContext) -> Review {
    let mut r = review_in(action, ctx);
    r.spots = crate::spot::spots(action, &r.change, risk);
    r
}

/// Most recipients listed one by one; one more item sums up the rest.
pub const MAX_RECIPIENTS: usize = 100;

/// The impact item of one recipient: `value — status`, flagged when external or new.
fn recipient_item(r: &Recipient, ctx: &RiskContext) -> ImpactItem {
    let (status, flagged) = recipient_status(r, ctx);
    item("Recipient", format!("{} — {status}", r.value), flagged).at(&r.pointer)
}

/// A recipient's status and whether it is flagged; see [`review_with`].
fn recipient_status(r: &Recipient, ctx: &RiskContext) -> (String, bool) {
    let side = r.domain.as_deref().map(|d| ctx.is_internal_domain(d));
    if side == Some(Some(false)) {
        return ("external".into(), true);
    }
    let mut parts = Vec::new();
    let mut flagged = false;
    match &ctx.history {
        Some(h) if h.approved_counterparts.contains(&r.counterpart) => parts.push("known".into()),
        Some(_) => {
            parts.push("new".to_owned());
            flagged = true;
        }
        None => parts.push("history not looked up".into()),
    }
    if side == Some(None) {
        parts.push("inside or outside unknown: no organisation domains configured".into());
    }
    (parts.join("; "), flagged)
}

/// The recipients of `action` as impact items (at most [`MAX_RECIPIENTS`], then a summary).
fn recipient_items(action: &Action, ctx: &RiskContext) -> Vec<ImpactItem> {
    let found = crate::risk::recipient::find(action);
    let mut items: Vec<ImpactItem> = found.iter().map(|r| recipient_item(r, ctx)).collect();
    if items.len() > MAX_RECIPIENTS {
        let rest = items.split_off(MAX_RECIPIENTS);
        let flagged = rest.iter().filter(|i| i.flagged).count();
        items.push(item(
            "More recipients",
            format!(
                "{} more, {flagged} of them external or new: the change shows them all",
                rest.len()
            ),
            flagged > 0,
        ));
    }
    items
}

/// One impact item per shell command ([`crate::risk::shell::steps`]): label `Command N`, value
/// the command and its effects (`rm -rf build — deletes recursively (`rm -rf`)`), note its
/// place (`pipeline 2 of 2`, `if the previous succeeds (&&)`, …), flagged when an effect is a
/// risk factor.
fn step_items(steps: &[Step], pointer: &str) -> Vec<ImpactItem> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let label = format!("Command {}", i + 1);
            let effects = if s.effects.is_empty() {
                "effect not recognised".to_owned()
            } else {
                s.effects
                    .iter()
                    .map(|e| e.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let value = if s.command.is_empty() {
                effects
            } else {
                format!("{} — {effects}", s.command)
            };
            let mut it = item(&label, value, s.flagged()).at(pointer);
            if !s.place.is_empty() {
                it.note = Some(s.place.join(" · "));
            }
            it
        })
        .collect()
}

fn item(label: &str, value: impl Into<String>, flagged: bool) -> ImpactItem {
    ImpactItem {
        label: label.into(),
        value: value.into(),
        flagged,
        pointer: None,
        note: None,
    }
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// The changed paths of a write to a `.json` file (any case), when both texts parse as strict
/// JSON; `None` for another file or a text that does not parse (the line diff still shows it).
fn json_file_paths(path: &str, before: &str, content: &str) -> Option<JsonPaths> {
    let ext = path.len().checked_sub(5).and_then(|at| path.get(at..))?;
    if !ext.eq_ignore_ascii_case(".json") {
        return None;
    }
    let old = crate::json::parse_strict(before.as_bytes()).ok()?;
    let new = crate::json::parse_strict(content.as_bytes()).ok()?;
    Some(JsonPaths::compute(&old, &new))
}

/// Builds the review of a valid action; an invalid payload yields its raw JSON. Recipients are
/// listed without the organisation's domains or history ([`review_with`] has them).
pub fn review(action: &Action) -> Review {
    review_in(action, &RiskContext::default())
}

fn review_in(action: &Action, ctx: &RiskContext) -> Review {
    let Ok(payload) = action.typed() else {
        return Review {
            spots: Vec::new(),
            change: Change::Json {
                label: format!("{} (payload not understood)", action.kind),
                diff: TextDiff::compute("", &pretty(&action.payload)),
                paths: None,
            },
            impact: vec![item("Target", action.target.clone(), true).at("/target")],
        };
    };
    let before_text = action.before_text();
    match payload {
        Payload::MessagePost(m) => {
            let audience = m.audience.clone().unwrap_or_else(|| "(not stated)".into());
            Review {
                spots: Vec::new(),
                change: Change::Text {
                    label: format!(
                        "{} in {}",
                        if before_text.is_some() {
                            "edited post"
                        } else {
                            "new post"
                        },
                        m.channel
                    ),
                    diff: TextDiff::compute(before_text.unwrap_or(""), &m.body),
                    before_known: before_text.is_some(),
                    paths: None,
                },
                impact: vec![
                    item("Channel", m.channel, false).at("/payload/channel"),
                    item(
                        "Audience",
                        audience.clone(),
                        crate::risk::score(action)
                            .factors
                            .iter()
                            .any(|f| f.id == "audience.broad"),
                    )
                    .at("/payload/audience"),
                    item(
                        "Readers act on it",
                        "advice in a post can be followed by anyone who reads it",
                        false,
                    ),
                ],
            }
        }
        Payload::FileWrite(f) => Review {
            spots: Vec::new(),
            change: Change::Text {
                label: f.path.clone(),
                diff: TextDiff::compute(before_text.unwrap_or(""), &f.content),
                before_known: before_text.is_some(),
                paths: before_text.and_then(|b| json_file_paths(&f.path, b, &f.content)),
            },
            impact: vec![item("File", f.path, false).at("/payload/path")],
        },
        Payload::AclChange(a) => {
            let before: Option<Vec<Grant>> = action
                .before
                .clone()
                .and_then(|b| serde_json::from_value(b).ok());
            let diff = PrincipalDiff::compute(&a.resource, before.as_deref(), &a.grants);
            let risk = crate::risk::score(action);
            let mut impact =
                vec![item("Resource", a.resource.clone(), false).at("/payload/resource")];
            for g in &diff.gained {
                let broad = risk.factors.iter().any(|f| {
                    f.id == "access.broad_principal"
                        && f.reason.contains(&format!("`{}`", g.principal))
                });
                impact.push(item(
                    "Gains access",
                    format!("{} ({})", g.principal, g.permission),
                    broad,
                ));
            }
            for g in &diff.lost {
                impact.push(item(
                    "Loses access",
                    format!("{} ({})", g.principal, g.permission),
                    false,
                ));
            }
            Review {
                spots: Vec::new(),
                change: Change::Principals { diff },
                impact,
            }
        }
        Payload::ShellExec(s) => {
            let pointer = crate::risk::shell::pointer_of(&s);
            let mut impact = step_items(&crate::risk::shell::steps(&s), pointer);
            impact.push(
                item(
                    "In",
                    s.cwd
                        .clone()
                        .unwrap_or_else(|| "(the gate's directory)".into()),
                    false,
                )
                .at("/payload/cwd"),
            );
            Review {
                spots: Vec::new(),
                change: Change::Command {
                    argv: s.argv,
                    script: s.script,
                    cwd: s.cwd,
                    env: s
                        .env
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect(),
                },
                impact,
            }
        }
        Payload::HttpRequest(h) => {
            let host = url::Url::parse(&h.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let mut impact = vec![
                item("Host", host, false).at("/payload/url"),
                item(
                    "Method",
                    h.method.clone(),
                    !matches!(h.method.as_str(), "GET" | "HEAD"),
                )
                .at("/payload/method"),
            ];
            impact.extend(recipient_items(action, ctx));
            Review {
                spots: Vec::new(),
                impact,
                change: Change::Request {
                    method: h.method,
                    url: h.url,
                    headers: h
                        .headers
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect(),
                    body: h.body,
                },
            }
        }
        Payload::ToolCall(t) => {
            let label = match &t.server {
                Some(s) => format!("{s}/{}", t.tool),
                None => t.tool.clone(),
            };
            let old = action.before.as_ref().map(pretty).unwrap_or_default();
            let mut impact = vec![item("Tool", label.clone(), false).at("/payload/tool")];
            if t.read_only_hint == Some(true) {
                // The MCP server's annotation: shown as its claim, flagged because a policy
                // rule may act on it ([`crate::policy::ReadOnlyTools`]).
                impact.push(item(
                    "Server claims",
                    "read-only (readOnlyHint; not verified)",
                    true,
                ));
            }
            impact.extend(recipient_items(action, ctx));
            // An MCP shell tool's command line (`{"command": "rm -rf …"}`), as the score reads it.
            for (pointer, key, text) in crate::risk::strings(&t.arguments, "/payload/arguments") {
                if key.is_some_and(crate::risk::tool::is_command_key)
                    && !crate::risk::sql::looks_like_sql(text)
                {
                    impact.extend(step_items(
                        &crate::risk::shell::script_steps(text),
                        &pointer,
                    ));
                }
            }
            Review {
                spots: Vec::new(),
                change: Change::Json {
                    label,
                    diff: TextDiff::compute(&old, &pretty(&t.arguments)),
                    paths: action
                        .before
                        .as_ref()
                        .map(|b| JsonPaths::compute(b, &t.arguments)),
                },
                impact,
            }
        }
    }
}
