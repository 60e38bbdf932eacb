//! Access widening: who gains what on which resource.
//!
//! Fires on `acl.change` grants (compared with `before`, the grants in force) and on tool calls
//! and HTTP bodies whose arguments name principals: broad groups (`all-employees`, `*`,
//! `allUsers`, `domain:example.com`), principals outside the organisation's domains,
//! read → write → admin escalation, and resources whose names look sensitive.

use serde_json::Value;

use super::{RiskContext, Scorer};
use crate::action::{Action, ActionKind, Grant, Payload};

/// Principals that mean "a large group of people".
pub const BROAD_PRINCIPALS: &[&str] = &[
    "*",
    "all",
    "everyone",
    "all-employees",
    "all_employees",
    "allemployees",
    "all-staff",
    "all-users",
    "allusers",
    "allauthenticatedusers",
    "authenticated",
    "public",
    "anyone",
    "anyonewithlink",
    "anyone_with_link",
    "domain",
    "org",
    "organization",
    "company",
];

/// Words in resource names that suggest sensitive data.
pub const SENSITIVE_WORDS: &[&str] = &[
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
    "medical",
    "prod",
    "billing",
    "payment",
    "finance",
    "ssn",
    "private",
    "confidential",
];

/// Whether a principal names a broad group: a listed name (optionally behind a `type:`
/// prefix, e.g. `group:everyone`) or a whole domain (`domain:example.com`, `@example.com`).
pub fn is_broad(principal: &str) -> bool {
    let p = principal.trim().to_ascii_lowercase();
    let bare = p.rsplit(':').next().unwrap_or(&p);
    BROAD_PRINCIPALS.contains(&p.as_str())
        || BROAD_PRINCIPALS.contains(&bare)
        || p.starts_with("domain:")
        || (p.starts_with('@') && p.contains('.'))
        || p.starts_with("*@")
}

/// Rank of a permission: 1 read, 2 write, 3 admin. Unknown permissions rank as write.
pub fn permission_rank(p: &str) -> u8 {
    match p.to_ascii_lowercase().as_str() {
        "read" | "view" | "viewer" | "reader" | "select" | "commenter" | "list" | "get" => 1,
        "write" | "edit" | "editor" | "writer" | "insert" | "update" | "delete" | "contributor" => {
            2
        }
        "admin" | "owner" | "all" | "manage" | "grant" | "maintainer" | "organizer"
        | "fileorganizer" | "superuser" | "root" => 3,
        _ => 2,
    }
}

/// The domain of a principal that names a person or a domain (`user:a@b.com`, `a@b.com`,
/// `domain:b.com`), if any.
fn principal_domain(principal: &str) -> Option<&str> {
    let bare = principal.rsplit(':').next().unwrap_or(principal);
    if let Some((_, d)) = bare.rsplit_once('@') {
        return (!d.is_empty()).then_some(d);
    }
    principal
        .strip_prefix("domain:")
        .filter(|d| d.contains('.'))
}

/// Runs the detector.
pub fn detect(action: &Action, payload: &Payload, ctx: &RiskContext, s: &mut Scorer) {
    if let Payload::AclChange(acl) = payload {
        acl_change(action, acl, ctx, s);
    }
    if matches!(action.kind, ActionKind::ToolCall | ActionKind::HttpRequest) {
        arguments(action, ctx, s);
    }
}

fn acl_change(
    action: &Action,
    acl: &crate::action::AclChangePayload,
    ctx: &RiskContext,
    s: &mut Scorer,
) {
    let before: Vec<Grant> = action
        .before
        .clone()
        .and_then(|b| serde_json::from_value(b).ok())
        .unwrap_or_default();
    let sensitive = ctx.sensitive(&acl.resource);
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
        if let Some(domain) = principal_domain(&g.principal) {
            if ctx.is_internal_domain(domain) == Some(false) {
                s.add(
                    "access.outside_principal",
                    40,
                    format!(
                        "grants {} on `{}` to `{}` outside the organisation",
                        g.permission, acl.resource, g.principal
                    ),
                    pointer.clone(),
                );
            }
        }
        let prior = before
            .iter()
            .filter(|b| b.principal == g.principal)
            .map(|b| permission_rank(&b.permission))
            .max()
            .unwrap_or(0);
        let rank = permission_rank(&g.permission);
        if rank >= 2 && rank > prior {
            s.add(
                "access.escalation",
                if rank == 3 { 25 } else { 15 },
                format!("raises `{}` to {}", g.principal, g.permission),
                pointer,
            );
        }
    }
    let broad_gain = acl
        .grants
        .iter()
        .position(|g| !before.contains(g) && is_broad(&g.principal));
    if let (Some(i), Some(_)) = (broad_gain, sensitive.as_ref()) {
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

/// Member names that carry a principal or a permission in tool arguments.
const PRINCIPAL_KEYS: &[&str] = &[
    "principal",
    "grantee",
    "member",
    "members",
    "user",
    "users",
    "email",
    "emails",
    "group",
    "type",
    "audience",
    "share_with",
    "sharewith",
    "with",
    "to",
    "invitee",
    "invitees",
    "role_for",
];
const PERMISSION_KEYS: &[&str] = &[
    "role",
    "permission",
    "permissions",
    "access",
    "access_level",
    "level",
    "scope",
];

fn arguments(action: &Action, ctx: &RiskContext, s: &mut Scorer) {
    let strings = super::strings(&action.payload, "/payload");
    for (pointer, _key, text) in &strings {
        if is_broad(text) {
            s.add(
                "access.broad_principal",
                30,
                format!("names the broad group `{text}`"),
                pointer.clone(),
            );
        }
    }
    // A grant-like call: a permission argument above read, and a principal argument.
    let grants_words = match &action.payload {
        Value::Object(m) => m
            .get("tool")
            .and_then(Value::as_str)
            .map(super::identifier_words)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let grants_access = grants_words.iter().any(|w| {
        matches!(
            w.as_str(),
            "share"
                | "grant"
                | "invite"
                | "permission"
                | "permissions"
                | "acl"
                | "collaborator"
                | "member"
                | "role"
        )
    });
    for (pointer, key, text) in &strings {
        let Some(key) = key.map(str::to_ascii_lowercase) else {
            continue;
        };
        if PERMISSION_KEYS.contains(&key.as_str()) && permission_rank(text) == 3 {
            s.add(
                "access.escalation",
                25,
                format!("asks for the `{text}` role"),
                pointer.clone(),
            );
        }
        if grants_access && PRINCIPAL_KEYS.contains(&key.as_str()) {
            if let Some(domain) = principal_domain(text) {
                if ctx.is_internal_domain(domain) == Some(false) {
                    s.add(
                        "access.outside_principal",
                        40,
                        format!("gives access to `{text}` outside the organisation"),
                        pointer.clone(),
                    );
                }
            }
        }
    }
    if grants_access {
        let names: Vec<&str> = strings
            .iter()
            .filter(|(_, k, _)| {
                k.is_some_and(|k| {
                    [
                        "file", "file_id", "resource", "path", "name", "document", "folder",
                        "repo", "table",
                    ]
                    .contains(&k.to_ascii_lowercase().as_str())
                })
            })
            .map(|(_, _, t)| *t)
            .collect();
        if let Some((name, word)) = names.iter().find_map(|n| ctx.sensitive(n).map(|w| (*n, w))) {
            s.add(
                "access.sensitive_resource",
                20,
                format!("shares `{name}`, which looks sensitive (`{word}`)"),
                "/payload/arguments",
            );
        }
    }
}
