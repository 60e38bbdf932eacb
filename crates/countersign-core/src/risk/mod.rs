//! Risk: a score from 0 to 100 that Countersign computes from the draft alone (never from the
//! agent's claims), as a capped sum of named factors, each with points, a one-line reason, the
//! JSON Pointer (RFC 6901) of the part of the action it fired on and, for text, the byte span
//! inside that string.
//!
//! Bands: low 0–24, medium 25–49, high 50–74, critical 75–100.
//!
//! Detectors, one module each, all pure functions of the action and a [`RiskContext`] (the
//! organisation's domains, sensitive resource patterns and history facts the caller looked up):
//!
//! - [`access`]: grants to broad or outside principals, escalation, sensitive resources;
//! - [`exposure`]: secrets, personal data and one-time codes in content;
//! - [`audience`]: broad or external audiences, recipients and hosts outside the organisation;
//! - [`shell`], [`sql`], [`tool`]: destructive or irreversible effects (parsed, not grepped);
//! - [`size`]: blast radius (recipients, principals, size of the change);
//! - [`recipient`]: who messages and transfers go to (shared by the detectors and the impact);
//! - [`novelty`]: first contact with a target, recipient or host; bursts;
//! - [`hidden`]: bidirectional and invisible characters;
//! - [`injection`]: instructions addressed to an AI agent planted in content.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::action::{Action, Payload};

pub mod access;
pub mod audience;
pub mod exposure;
pub mod hidden;
pub mod injection;
pub mod novelty;
pub mod recipient;
pub mod shell;
pub mod size;
pub mod sql;
pub mod tool;

/// Band of a score.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS, utoipa::ToSchema,
)]
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

/// A byte range `[start, end)` inside the string a factor's pointer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct TextSpan {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// One named contribution to the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
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
    /// Where inside the string at `pointer` it fired, when it fired on part of a text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub span: Option<TextSpan>,
}

/// A scored action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Risk {
    /// Sum of the factors' points, capped at 100.
    pub score: u8,
    /// Band of the score.
    pub level: RiskLevel,
    /// Every factor that fired, largest first.
    pub factors: Vec<RiskFactor>,
}

/// What the scorer knows beyond the draft: the organisation (from the policy) and facts from
/// the store's history. The default knows nothing, and the detectors then judge the draft alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskContext {
    /// The organisation's domains, lower case, e.g. `example.com` (subdomains included).
    /// Recipients, principals and hosts elsewhere are "outside".
    pub org_domains: Vec<String>,
    /// Extra sensitive resource patterns: case-insensitive substrings, `*` matches any run.
    pub sensitive_patterns: Vec<String>,
    /// History of the submitting agent, when the caller looked it up.
    pub history: Option<novelty::History>,
}

impl RiskContext {
    /// Whether `domain` (a host or an e-mail domain) is one of the organisation's domains or
    /// a subdomain of one. `None` when no domains are configured: nothing can be judged.
    pub fn is_internal_domain(&self, domain: &str) -> Option<bool> {
        if self.org_domains.is_empty() {
            return None;
        }
        let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        Some(self.org_domains.iter().any(|org| {
            let org = org.trim().trim_start_matches("*.").to_ascii_lowercase();
            d == org || d.ends_with(&format!(".{org}"))
        }))
    }

    /// The configured pattern or built-in word that makes `name` look sensitive.
    pub fn sensitive(&self, name: &str) -> Option<String> {
        let n = name.to_ascii_lowercase();
        if let Some(p) = self
            .sensitive_patterns
            .iter()
            .find(|p| glob_contains(&n, &p.to_ascii_lowercase()))
        {
            return Some(p.clone());
        }
        access::SENSITIVE_WORDS
            .iter()
            .find(|w| n.contains(*w))
            .map(|w| (*w).to_owned())
    }
}

/// Whether `text` contains a run matching `pattern`, where `*` matches any characters.
fn glob_contains(text: &str, pattern: &str) -> bool {
    let mut rest = text;
    for part in pattern.split('*').filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Collects factors while the detectors run.
#[derive(Debug, Default)]
pub struct Scorer {
    factors: Vec<RiskFactor>,
}

impl Scorer {
    /// Adds a factor on a whole value.
    pub fn add(&mut self, id: &str, points: u8, reason: String, pointer: impl Into<String>) {
        self.push(id, points, reason, pointer.into(), None);
    }

    /// Adds a factor on a byte range of the string at `pointer`.
    pub fn add_span(
        &mut self,
        id: &str,
        points: u8,
        reason: String,
        pointer: impl Into<String>,
        range: std::ops::Range<usize>,
    ) {
        let span = TextSpan {
            start: u32::try_from(range.start).unwrap_or(u32::MAX),
            end: u32::try_from(range.end).unwrap_or(u32::MAX),
        };
        self.push(id, points, reason, pointer.into(), Some(span));
    }

    fn push(
        &mut self,
        id: &str,
        points: u8,
        reason: String,
        pointer: String,
        span: Option<TextSpan>,
    ) {
        // One factor per id: the strongest instance speaks for the others, so a long list of
        // the same finding cannot drown the rest of the explanation nor inflate the score.
        if let Some(existing) = self.factors.iter_mut().find(|f| f.id == id) {
            if points > existing.points {
                *existing = RiskFactor {
                    id: id.into(),
                    points,
                    reason,
                    pointer,
                    span,
                };
            }
            return;
        }
        self.factors.push(RiskFactor {
            id: id.into(),
            points,
            reason,
            pointer,
            span,
        });
    }

    /// Whether a factor with this id fired.
    pub fn has(&self, id: &str) -> bool {
        self.factors.iter().any(|f| f.id == id)
    }

    fn finish(mut self) -> Risk {
        self.factors
            .sort_by(|a, b| b.points.cmp(&a.points).then(a.id.cmp(&b.id)));
        let total: u32 = self.factors.iter().map(|f| u32::from(f.points)).sum();
        let score = u8::try_from(total.min(100)).unwrap_or(100);
        Risk {
            score,
            level: RiskLevel::of(score),
            factors: self.factors,
        }
    }
}

/// Scores an action knowing nothing about the organisation or history; see [`score_with`].
pub fn score(action: &Action) -> Risk {
    score_with(action, &RiskContext::default())
}

/// Scores an action. Deterministic; an action whose payload does not fit its kind scores 100
/// (fail closed: what cannot be understood is never low risk).
pub fn score_with(action: &Action, ctx: &RiskContext) -> Risk {
    let mut s = Scorer::default();
    match action.typed() {
        Err(e) => s.add(
            "input.unparseable",
            100,
            format!("payload could not be understood: {e}"),
            e.pointer,
        ),
        Ok(payload) => {
            access::detect(action, &payload, ctx, &mut s);
            exposure::detect(action, &mut s);
            audience::detect(action, &payload, ctx, &mut s);
            match &payload {
                Payload::ShellExec(sh) => shell::detect(sh, &mut s),
                Payload::ToolCall(t) => {
                    tool::detect(t, &mut s);
                    for (pointer, key, text) in strings(&t.arguments, "/payload/arguments") {
                        if key.is_some_and(tool::is_command_key) && !sql::looks_like_sql(text) {
                            shell::detect_in_argument(text, &pointer, &mut s);
                        }
                    }
                }
                Payload::HttpRequest(h) => tool::detect_http(h, &mut s),
                Payload::FileWrite(f) => tool::detect_file(action, f, &mut s),
                _ => {}
            }
            sql::detect(action, &mut s);
            size::detect(action, &payload, &mut s);
            novelty::detect(action, &payload, ctx, &mut s);
        }
    }
    hidden::detect(action, &mut s);
    injection::detect(action, &mut s);
    s.finish()
}

/// Every string in `v` (object keys excluded) with its JSON Pointer under `base` and the
/// name of the object member that holds it (the nearest key, for arrays the array's key).
pub fn strings<'a>(v: &'a Value, base: &str) -> Vec<(String, Option<&'a str>, &'a str)> {
    fn walk<'a>(
        v: &'a Value,
        key: Option<&'a str>,
        pointer: &mut String,
        out: &mut Vec<(String, Option<&'a str>, &'a str)>,
    ) {
        match v {
            Value::String(t) => out.push((pointer.clone(), key, t)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    walk(item, key, pointer, out);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = pointer.len();
                    crate::json::push_token(pointer, k);
                    walk(item, Some(k), pointer, out);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, None, &mut base.to_owned(), &mut out);
    out
}

/// The text a human or a recipient will read in the action: message bodies, file content,
/// HTTP bodies, tool arguments, the summary. `(pointer, member name, text)`.
pub fn content_strings(action: &Action) -> Vec<(String, Option<&str>, &str)> {
    let mut out = strings(&action.payload, "/payload");
    out.push(("/summary".into(), Some("summary"), action.summary.as_str()));
    out
}

/// Lower-case words of an identifier: `sendMoney`, `send_money`, `drive.share-file` →
/// `send money`, `drive share file`.
pub fn identifier_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}
