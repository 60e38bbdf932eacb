//! Actions and drafts.
//!
//! An agent submits a [`Draft`]: the [`Action`] it wants to take plus delivery metadata
//! (`callback_url`, `expires_in_s`). The action is what a human approves and what the signed
//! decision carries byte for byte; its digest is [`crate::digest::action_digest`].
//!
//! Wire shape of a draft (JSON object, unknown fields refused):
//!
//! ```json
//! { "kind": "acl.change", "target": "warehouse://analytics/user_data",
//!   "summary": "Let everyone query user_data",
//!   "payload": { "resource": "analytics.user_data",
//!                "grants": [{ "principal": "all-employees", "permission": "read" }] },
//!   "before": [{ "principal": "data-eng", "permission": "admin" }],
//!   "callback_url": "http://127.0.0.1:9000/hook", "expires_in_s": 900 }
//! ```
//!
//! Payload and `before` schemas per kind are the `*Payload` types below.

use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::json;

/// Longest `target`, in characters.
pub const MAX_TARGET_CHARS: usize = 2048;
/// Longest `summary`, in characters.
pub const MAX_SUMMARY_CHARS: usize = 500;
/// Default lifetime of a pending draft: 15 minutes, in seconds.
pub const DEFAULT_EXPIRES_IN_S: u64 = 15 * 60;
/// Longest lifetime of a pending draft: 24 hours, in seconds.
pub const MAX_EXPIRES_IN_S: u64 = 24 * 60 * 60;

/// What an action does. Serialized as the dotted names shown on each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub enum ActionKind {
    /// `message.post`: a forum or chat post ([`MessagePostPayload`]).
    #[serde(rename = "message.post")]
    MessagePost,
    /// `shell.exec`: a command line or script ([`ShellExecPayload`]).
    #[serde(rename = "shell.exec")]
    ShellExec,
    /// `file.write`: replace a file's content ([`FileWritePayload`]).
    #[serde(rename = "file.write")]
    FileWrite,
    /// `acl.change`: set the grants on a resource ([`AclChangePayload`]).
    #[serde(rename = "acl.change")]
    AclChange,
    /// `http.request`: an outgoing HTTP request ([`HttpRequestPayload`]).
    #[serde(rename = "http.request")]
    HttpRequest,
    /// `tool.call`: a named tool with JSON arguments, as MCP and function-calling agents send
    /// ([`ToolCallPayload`]).
    #[serde(rename = "tool.call")]
    ToolCall,
}

impl ActionKind {
    /// All kinds, in a stable order.
    pub const ALL: [ActionKind; 6] = [
        ActionKind::MessagePost,
        ActionKind::ShellExec,
        ActionKind::FileWrite,
        ActionKind::AclChange,
        ActionKind::HttpRequest,
        ActionKind::ToolCall,
    ];

    /// The wire name, e.g. `"shell.exec"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::MessagePost => "message.post",
            ActionKind::ShellExec => "shell.exec",
            ActionKind::FileWrite => "file.write",
            ActionKind::AclChange => "acl.change",
            ActionKind::HttpRequest => "http.request",
            ActionKind::ToolCall => "tool.call",
        }
    }

    /// Parses a wire name; `None` for an unknown kind.
    pub fn parse(name: &str) -> Option<ActionKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The action exactly as a human approves it. Its RFC 8785 canonical form is what the digest
/// covers and what the signed decision carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Action {
    /// What the action does.
    pub kind: ActionKind,
    /// Where it acts: a URL or URI-like name (`forum://eng/thread/42`, `file:///etc/app.toml`).
    pub target: String,
    /// One line from the agent saying what it wants. Untrusted; shown as text.
    pub summary: String,
    /// Kind-specific content (see the `*Payload` types).
    pub payload: Value,
    /// Current state, for the diff (kind-specific; see [`Action::validate`]). Absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub before: Option<Value>,
}

/// What an agent submits: an action plus delivery metadata. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Draft {
    /// See [`Action::kind`].
    pub kind: ActionKind,
    /// See [`Action::target`].
    pub target: String,
    /// See [`Action::summary`].
    pub summary: String,
    /// See [`Action::payload`].
    pub payload: Value,
    /// See [`Action::before`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub before: Option<Value>,
    /// `http` or `https` URL the signed decision is also POSTed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub callback_url: Option<String>,
    /// Seconds until an undecided draft expires: 1 to [`MAX_EXPIRES_IN_S`], default
    /// [`DEFAULT_EXPIRES_IN_S`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    #[schema(minimum = 1, maximum = 86400)] // 86400 = MAX_EXPIRES_IN_S
    pub expires_in_s: Option<u64>,
}

/// Why a draft or action was refused: where (a JSON Pointer, RFC 6901) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {pointer})")]
pub struct ActionError {
    /// JSON Pointer of the offending value, `/` for the whole document.
    pub pointer: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl ActionError {
    fn at(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        let pointer = pointer.into();
        ActionError {
            pointer: if pointer.is_empty() {
                "/".into()
            } else {
                pointer
            },
            message: message.into(),
        }
    }
}

/// Why a submitted body was refused before it became a draft.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// Not strict JSON (syntax, duplicate key, number range, depth).
    #[error("malformed JSON: {0}")]
    Json(#[from] json::JsonError),
    /// JSON, but not a valid draft.
    #[error("invalid draft: {0}")]
    Invalid(#[from] ActionError),
}

impl Draft {
    /// Parses and validates a draft from untrusted bytes.
    ///
    /// # Errors
    /// [`DraftError::Json`] for ambiguous JSON, [`DraftError::Invalid`] for a missing or unknown
    /// field, an unknown kind, a payload that does not fit its kind, or an out-of-range value.
    pub fn parse(bytes: &[u8]) -> Result<Draft, DraftError> {
        let value = json::parse_strict(bytes)?;
        Ok(Self::from_value(value)?)
    }

    /// Validates a draft already parsed with [`json::parse_strict`].
    ///
    /// # Errors
    /// See [`Draft::parse`].
    pub fn from_value(value: Value) -> Result<Draft, ActionError> {
        if let Some(kind) = value.get("kind").and_then(Value::as_str) {
            if ActionKind::parse(kind).is_none() {
                return Err(ActionError::at(
                    "/kind",
                    format!(
                        "unknown kind `{kind}`; expected one of {}",
                        ActionKind::ALL.map(ActionKind::as_str).join(", ")
                    ),
                ));
            }
        }
        let draft: Draft = from_value_at(value, "")?;
        if let Some(url) = &draft.callback_url {
            check_http_url(url, "/callback_url")?;
        }
        if let Some(s) = draft.expires_in_s {
            if s == 0 || s > MAX_EXPIRES_IN_S {
                return Err(ActionError::at(
                    "/expires_in_s",
                    format!("must be between 1 and {MAX_EXPIRES_IN_S} seconds, got {s}"),
                ));
            }
        }
        draft.action_ref().validate()?;
        Ok(draft)
    }

    fn action_ref(&self) -> Action {
        Action {
            kind: self.kind,
            target: self.target.clone(),
            summary: self.summary.clone(),
            payload: self.payload.clone(),
            before: self.before.clone(),
        }
    }

    /// The action this draft asks for.
    pub fn action(&self) -> Action {
        self.action_ref()
    }

    /// Lifetime in seconds, with the default applied.
    pub fn expires_in_s(&self) -> u64 {
        self.expires_in_s.unwrap_or(DEFAULT_EXPIRES_IN_S)
    }
}

/// The payload of an action, typed by its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `message.post`
    MessagePost(MessagePostPayload),
    /// `shell.exec`
    ShellExec(ShellExecPayload),
    /// `file.write`
    FileWrite(FileWritePayload),
    /// `acl.change`
    AclChange(AclChangePayload),
    /// `http.request`
    HttpRequest(HttpRequestPayload),
    /// `tool.call`
    ToolCall(ToolCallPayload),
}

/// `message.post` payload. `before`, when given, is the current body (a string) of the post
/// being edited; absent means a new post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct MessagePostPayload {
    /// Channel, forum or thread the post goes to, e.g. `eng-help`.
    pub channel: String,
    /// Who can read it, e.g. `all-employees` or `team:data-eng`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub audience: Option<String>,
    /// The post's text (Markdown is shown raw).
    pub body: String,
    /// Id of the message this replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reply_to: Option<String>,
}

/// `shell.exec` payload: exactly one of `argv` (run directly, no shell) or `script` (run by
/// `/bin/sh -c`). `before` is not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ShellExecPayload {
    /// Program and arguments; the first element is the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub argv: Option<Vec<String>>,
    /// A POSIX shell script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub script: Option<String>,
    /// Working directory (absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub env: Option<BTreeMap<String, String>>,
}

/// `file.write` payload. `before`, when given, is the file's current content (a string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct FileWritePayload {
    /// Path of the file to write.
    pub path: String,
    /// The complete new content (UTF-8 text).
    pub content: String,
}

/// One access grant: a principal and a permission on the action's resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Grant {
    /// Who: a user, group or role name, e.g. `all-employees`, `user:ana@example.com`.
    pub principal: String,
    /// What: e.g. `read`, `write`, `admin`.
    pub permission: String,
}

/// `acl.change` payload: the complete set of grants after the change. `before`, when given,
/// is the current set of grants (an array of [`Grant`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct AclChangePayload {
    /// The resource, e.g. `analytics.user_data`.
    pub resource: String,
    /// Grants after the change.
    pub grants: Vec<Grant>,
}

/// `http.request` payload. `before` is not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct HttpRequestPayload {
    /// HTTP method in upper case, e.g. `POST` (RFC 9110 §9).
    pub method: String,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Request body as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub body: Option<String>,
}

/// `tool.call` payload: a named tool and its JSON arguments, as an MCP `tools/call` or a
/// function call carries them. `before`, when given, is any JSON describing current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ToolCallPayload {
    /// Tool name, e.g. `github.create_issue` or `send_email`.
    pub tool: String,
    /// The MCP server or integration that provides the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub server: Option<String>,
    /// Arguments: a JSON object.
    pub arguments: Value,
    /// The MCP server's `readOnlyHint` annotation for this tool (MCP `ToolAnnotations`), as
    /// `countersign mcp-proxy` read it from the server's `tools/list`. The server's claim, not
    /// a fact: the risk score ignores it, and only a policy's `[read_only_tools]` rule acts on
    /// it ([`crate::policy::ReadOnlyTools`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub read_only_hint: Option<bool>,
}

impl Action {
    /// Checks the action against its kind's schema and limits.
    ///
    /// `before` must be a string for `message.post` and `file.write`, an array of grants for
    /// `acl.change`, absent for `shell.exec` and `http.request`, and any JSON for `tool.call`.
    ///
    /// # Errors
    /// [`ActionError`] naming the JSON Pointer of the first problem.
    pub fn validate(&self) -> Result<(), ActionError> {
        check_text(&self.target, "/target", MAX_TARGET_CHARS)?;
        check_text(&self.summary, "/summary", MAX_SUMMARY_CHARS)?;
        json::check_value(&self.payload)
            .map_err(|e| ActionError::at("/payload", e.message().to_owned()))?;
        if let Some(before) = &self.before {
            json::check_value(before)
                .map_err(|e| ActionError::at("/before", e.message().to_owned()))?;
        }
        self.typed()?;
        match (self.kind, &self.before) {
            (_, None) => {}
            (ActionKind::MessagePost | ActionKind::FileWrite, Some(b)) if !b.is_string() => {
                return Err(ActionError::at(
                    "/before",
                    format!("must be a string (the current text) for {}", self.kind),
                ))
            }
            (ActionKind::AclChange, Some(b)) => {
                from_value_at::<Vec<Grant>>(b.clone(), "/before")?;
            }
            (ActionKind::ShellExec | ActionKind::HttpRequest, Some(_)) => {
                return Err(ActionError::at(
                    "/before",
                    format!("is not used by {}; leave it out", self.kind),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// The payload, typed by kind.
    ///
    /// # Errors
    /// [`ActionError`] when the payload does not fit the kind's schema.
    pub fn typed(&self) -> Result<Payload, ActionError> {
        let p = self.payload.clone();
        Ok(match self.kind {
            ActionKind::MessagePost => {
                let m: MessagePostPayload = from_value_at(p, "/payload")?;
                check_text(&m.channel, "/payload/channel", MAX_TARGET_CHARS)?;
                Payload::MessagePost(m)
            }
            ActionKind::ShellExec => {
                let s: ShellExecPayload = from_value_at(p, "/payload")?;
                match (&s.argv, &s.script) {
                    (Some(argv), None) => {
                        if argv.first().is_none_or(|p| p.is_empty()) {
                            return Err(ActionError::at(
                                "/payload/argv",
                                "must start with a non-empty program name",
                            ));
                        }
                    }
                    (None, Some(script)) => {
                        if script.trim().is_empty() {
                            return Err(ActionError::at("/payload/script", "must not be empty"));
                        }
                    }
                    _ => {
                        return Err(ActionError::at(
                            "/payload",
                            "give exactly one of `argv` or `script`",
                        ))
                    }
                }
                if argv_or_script_has_nul(&s) {
                    return Err(ActionError::at(
                        "/payload",
                        "NUL characters cannot be executed",
                    ));
                }
                Payload::ShellExec(s)
            }
            ActionKind::FileWrite => {
                let f: FileWritePayload = from_value_at(p, "/payload")?;
                if f.path.is_empty() || f.path.contains('\0') {
                    return Err(ActionError::at("/payload/path", "must be a non-empty path"));
                }
                Payload::FileWrite(f)
            }
            ActionKind::AclChange => {
                let a: AclChangePayload = from_value_at(p, "/payload")?;
                check_text(&a.resource, "/payload/resource", MAX_TARGET_CHARS)?;
                for (i, g) in a.grants.iter().enumerate() {
                    check_text(&g.principal, &format!("/payload/grants/{i}/principal"), 512)?;
                    check_text(
                        &g.permission,
                        &format!("/payload/grants/{i}/permission"),
                        64,
                    )?;
                }
                Payload::AclChange(a)
            }
            ActionKind::HttpRequest => {
                let h: HttpRequestPayload = from_value_at(p, "/payload")?;
                let valid_method =
                    !h.method.is_empty() && h.method.bytes().all(|b| b.is_ascii_uppercase());
                if !valid_method {
                    return Err(ActionError::at(
                        "/payload/method",
                        "must be an upper-case HTTP method such as GET or POST",
                    ));
                }
                check_http_url(&h.url, "/payload/url")?;
                Payload::HttpRequest(h)
            }
            ActionKind::ToolCall => {
                let t: ToolCallPayload = from_value_at(p, "/payload")?;
                check_text(&t.tool, "/payload/tool", 256)?;
                if !t.arguments.is_object() {
                    return Err(ActionError::at(
                        "/payload/arguments",
                        "must be a JSON object",
                    ));
                }
                Payload::ToolCall(t)
            }
        })
    }

    /// `before` as text, for kinds whose current state is text.
    pub fn before_text(&self) -> Option<&str> {
        self.before.as_ref().and_then(Value::as_str)
    }
}

fn argv_or_script_has_nul(s: &ShellExecPayload) -> bool {
    s.argv.iter().flatten().any(|a| a.contains('\0'))
        || s.script.as_deref().is_some_and(|x| x.contains('\0'))
}

fn check_text(s: &str, pointer: &str, max: usize) -> Result<(), ActionError> {
    if s.trim().is_empty() {
        return Err(ActionError::at(pointer, "must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(ActionError::at(
            pointer,
            format!("is {n} characters long; the limit is {max}"),
        ));
    }
    Ok(())
}

fn check_http_url(s: &str, pointer: &str) -> Result<(), ActionError> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(ActionError::at(
            pointer,
            format!(
                "must be an http or https URL with a host, got scheme `{}`",
                u.scheme()
            ),
        )),
        Err(e) => Err(ActionError::at(pointer, format!("is not a URL: {e}"))),
    }
}

/// Deserializes `value` as `T`, reporting serde's complaint at `pointer`.
fn from_value_at<T: DeserializeOwned>(value: Value, pointer: &str) -> Result<T, ActionError> {
    serde_json::from_value(value).map_err(|e| ActionError::at(pointer, e.to_string()))
}
