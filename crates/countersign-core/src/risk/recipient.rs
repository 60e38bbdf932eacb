//! Recipients of messages and transfers: who an e-mail, an invitation, a share or a payment
//! goes to, found in a tool call's arguments and in an HTTP request's JSON or form body.
//!
//! One finder serves the risk score ([`super::audience`], [`super::novelty`], [`super::size`])
//! and the impact panel, so a recipient the panel lists is one the score judged.
//!
//! - An e-mail address counts when any member it sits under is recipient-like
//!   ([`super::audience::is_recipient_key`], or a name made of recipient
//!   words such as `toAddresses`, `bccList`, `rcpt`): `{"message": {"to": [{"email": …}]}}` and
//!   `{"to": [{"value": …}]}` both count.
//! - A name, handle or account number (no e-mail address in it) counts when the member that
//!   holds it is an addressing key (`to`, `cc`, `recipients`, …) or a payee key (`payee`,
//!   `iban`, `beneficiary`, `to_account`, and `account` in a payment or transfer tool).

use std::ops::Range;

use serde_json::Value;

use super::audience::is_recipient_key;
use super::exposure::EMAIL;
use super::identifier_words;
use crate::action::{Action, ActionKind};

/// One recipient of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// JSON Pointer (RFC 6901) of the string it was found in, e.g. `/payload/arguments/to/0`
    /// (`/payload/body` for one inside an HTTP body).
    pub pointer: String,
    /// Byte range of the recipient inside the string at `pointer`, when it was found there.
    pub span: Option<Range<usize>>,
    /// As written: an e-mail address, or a name, handle or account (trimmed).
    pub value: String,
    /// How the store's history names it ([`super::novelty::counterparts`]): lower case, runs of
    /// white space as one space.
    pub counterpart: String,
    /// The domain of an e-mail address, lower case; `None` for a name or an account, whose
    /// side (inside or outside the organisation) cannot be told from the text.
    pub domain: Option<String>,
}

/// Words that make a member name hold recipients wherever they appear in it
/// (`bccRecipients`, `invitee_list`).
const RECIPIENT_WORDS: &[&str] = &[
    "recipient",
    "recipients",
    "rcpt",
    "cc",
    "bcc",
    "attendee",
    "attendees",
    "invitee",
    "invitees",
    "participant",
    "participants",
];
/// Verbs that, before `to`, address someone (`send_to`, `forwardTo`).
const ADDRESSING_VERBS: &[&str] = &[
    "send", "mail", "forward", "reply", "share", "pay", "transfer", "wire", "deliver", "notify",
];
/// Words of member names that name who a transfer goes to.
const PAYEE_WORDS: &[&str] = &[
    "payee",
    "payees",
    "beneficiary",
    "beneficiaries",
    "iban",
    "creditor",
    "counterparty",
];
/// Words of tool names that move money or goods, where a plain `account` is the payee's.
const TRANSFER_TOOL_WORDS: &[&str] = &[
    "pay", "payment", "payout", "transfer", "wire", "remit", "send", "refund", "withdraw",
];
/// Longest name shown, in characters (an account number or a handle is far shorter; a longer
/// text is cut with `…`).
const MAX_NAME_CHARS: usize = 120;

/// Whether a member name addresses recipients (see the module documentation).
fn addresses(key: &str) -> bool {
    if is_recipient_key(key) {
        return true;
    }
    let words = identifier_words(key);
    words.iter().any(|w| RECIPIENT_WORDS.contains(&w.as_str()))
        || (words.len() > 1 && words[0] == "to")
        || words
            .windows(2)
            .any(|p| p[1] == "to" && ADDRESSING_VERBS.contains(&p[0].as_str()))
}

/// Whether a member name holds a payee; `transfer_tool`: the tool moves money or goods.
fn payee(key: &str, transfer_tool: bool) -> bool {
    let words = identifier_words(key);
    if words.iter().any(|w| PAYEE_WORDS.contains(&w.as_str())) {
        return true;
    }
    let account = words.iter().any(|w| w == "account" || w == "wallet");
    account
        && (transfer_tool
            || words.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "to" | "destination" | "recipient" | "target" | "number" | "receiving"
                )
            }))
}

/// Member names whose strings are names of recipients (not only e-mail addresses): `to`,
/// `cc`, `recipients`, `share_with`, … — not the looser `user`, `member`, `with`, `address`,
/// whose values are often not recipients at all.
fn names_recipient(key: &str, transfer_tool: bool) -> bool {
    let k = key.to_ascii_lowercase();
    if matches!(
        k.as_str(),
        "user" | "users" | "member" | "members" | "with" | "address" | "addresses"
    ) {
        return false;
    }
    if payee(key, transfer_tool) || is_recipient_key(key) {
        return true;
    }
    // `to_date`, `to_version`: a member starting with `to` holds a name only when the next
    // word says it is someone (`toAddress`, `to_user`); e-mail addresses under it count anyway.
    let words = identifier_words(key);
    words.iter().any(|w| RECIPIENT_WORDS.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| p[1] == "to" && ADDRESSING_VERBS.contains(&p[0].as_str()))
        || (words.len() > 1
            && words[0] == "to"
            && matches!(
                words[1].as_str(),
                "address"
                    | "addresses"
                    | "email"
                    | "emails"
                    | "user"
                    | "users"
                    | "list"
                    | "phone"
                    | "number"
                    | "account"
                    | "contact"
                    | "contacts"
                    | "name"
                    | "names"
            ))
}

/// `text` lower case with runs of white space as one space, trimmed.
pub fn counterpart_of(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

struct Finder<'a> {
    transfer_tool: bool,
    /// For strings inside an HTTP body: the body, to locate each recipient in it.
    body: Option<&'a str>,
    out: Vec<Recipient>,
}

impl Finder<'_> {
    fn walk(&mut self, v: &Value, key: Option<&str>, under: bool, pointer: &mut String) {
        match v {
            Value::String(t) => self.text(t, key, under, pointer),
            Value::Number(n) if key.is_some_and(|k| names_recipient(k, self.transfer_tool)) => {
                self.text(&n.to_string(), key, under, pointer)
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    if self.body.is_none() {
                        pointer.push_str(&format!("/{i}"));
                    }
                    self.walk(item, key, under, pointer);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = pointer.len();
                    if self.body.is_none() {
                        crate::json::push_token(pointer, k);
                    }
                    let under = under || addresses(k) || payee(k, self.transfer_tool);
                    self.walk(item, Some(k), under, pointer);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, t: &str, key: Option<&str>, under: bool, pointer: &str) {
        if !under {
            return;
        }
        let mut any = false;
        for m in EMAIL.find_iter(t) {
            any = true;
            let value = m.as_str();
            let domain = value.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
            let span = match self.body {
                None => Some(m.range()),
                Some(body) => body.find(value).map(|i| i..i + value.len()),
            };
            self.push(pointer, span, value.to_owned(), domain);
        }
        let value = t.trim();
        if !any && !value.is_empty() && key.is_some_and(|k| names_recipient(k, self.transfer_tool))
        {
            let span = match self.body {
                None => {
                    let start = t.len() - t.trim_start().len();
                    Some(start..start + value.len())
                }
                Some(body) => body.find(value).map(|i| i..i + value.len()),
            };
            let shown = match value.char_indices().nth(MAX_NAME_CHARS) {
                Some((i, _)) => format!("{}…", &value[..i]),
                None => value.to_owned(),
            };
            let counterpart = counterpart_of(value);
            if !self.out.iter().any(|r| r.counterpart == counterpart) {
                self.out.push(Recipient {
                    pointer: pointer.to_owned(),
                    span,
                    value: shown,
                    counterpart,
                    domain: None,
                });
            }
        }
    }

    fn push(
        &mut self,
        pointer: &str,
        span: Option<Range<usize>>,
        value: String,
        domain: Option<String>,
    ) {
        let counterpart = counterpart_of(&value);
        if self.out.iter().any(|r| r.counterpart == counterpart) {
            return;
        }
        self.out.push(Recipient {
            pointer: pointer.to_owned(),
            span,
            value,
            counterpart,
            domain,
        });
    }
}

/// The recipients of `action`, each once (the first place it appears), members in the order
/// of their names, array items in order: tool-call arguments, and the body of an HTTP request when it is JSON or a form
/// (`application/x-www-form-urlencoded`). Other kinds have none (a post's channel and audience
/// are shown as such).
pub fn find(action: &Action) -> Vec<Recipient> {
    match action.kind {
        ActionKind::ToolCall => {
            let Some(arguments) = action.payload.get("arguments") else {
                return Vec::new();
            };
            let tool = action
                .payload
                .get("tool")
                .and_then(Value::as_str)
                .unwrap_or("");
            let transfer_tool = identifier_words(tool)
                .iter()
                .any(|w| TRANSFER_TOOL_WORDS.contains(&w.as_str()));
            let mut f = Finder {
                transfer_tool,
                body: None,
                out: Vec::new(),
            };
            f.walk(arguments, None, false, &mut "/payload/arguments".to_owned());
            f.out
        }
        ActionKind::HttpRequest => {
            let Some(body) = action.payload.get("body").and_then(Value::as_str) else {
                return Vec::new();
            };
            let mut f = Finder {
                transfer_tool: false,
                body: Some(body),
                out: Vec::new(),
            };
            let pointer = &mut "/payload/body".to_owned();
            if let Ok(json) = serde_json::from_str::<Value>(body) {
                f.walk(&json, None, false, pointer);
            } else if !body.trim().contains(char::is_whitespace) && body.contains('=') {
                for (k, v) in url::form_urlencoded::parse(body.trim().as_bytes()) {
                    let under = addresses(&k) || payee(&k, false);
                    f.text(&v, Some(&k), under, pointer);
                }
            }
            f.out
        }
        _ => Vec::new(),
    }
}
