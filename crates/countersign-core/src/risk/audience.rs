//! Audience and destination: who will see or receive the result.
//!
//! Posts to broad or external audiences and channels; e-mails, messages, invitations and
//! transfers to recipients outside the organisation's domains; URLs (the request's own and
//! links in content) to hosts outside them. Without configured domains, only what is outside
//! by construction (raw public IP addresses) counts as unknown.

use std::net::IpAddr;

use super::{RiskContext, Scorer};
use crate::action::{Action, Payload};

/// Member names that hold recipients in tool arguments.
const RECIPIENT_KEYS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "recipient",
    "recipients",
    "email",
    "emails",
    "address",
    "addresses",
    "participants",
    "attendees",
    "invitee",
    "invitees",
    "share_with",
    "sharewith",
    "user_email",
    "email_address",
    "destination",
    "target_email",
    "guests",
    "members",
    "member",
    "user",
    "users",
    "with",
    "forward_to",
    "reply_to",
];

/// Whether an argument name holds recipients (`to`, `cc`, `recipients`, …).
pub fn is_recipient_key(key: &str) -> bool {
    RECIPIENT_KEYS.contains(&key.to_ascii_lowercase().as_str())
}

/// Words in audiences and channel names that mean "outside the organisation".
const EXTERNAL_WORDS: &[&str] = &[
    "external", "public", "guest", "partner", "vendor", "customer", "shared-", "internet", "world",
];

/// Runs the detector.
pub fn detect(action: &Action, payload: &Payload, ctx: &RiskContext, s: &mut Scorer) {
    match payload {
        Payload::MessagePost(m) => {
            if let Some(aud) = m.audience.as_deref().filter(|a| super::access::is_broad(a)) {
                s.add(
                    "audience.broad",
                    15,
                    format!("visible to `{aud}`"),
                    "/payload/audience",
                );
            }
            for (pointer, name) in [
                ("/payload/audience", m.audience.as_deref()),
                ("/payload/channel", Some(m.channel.as_str())),
            ] {
                let Some(name) = name else { continue };
                let lower = name.to_ascii_lowercase();
                if let Some(w) = EXTERNAL_WORDS.iter().find(|w| lower.contains(*w)) {
                    s.add(
                        "audience.external",
                        25,
                        format!(
                            "`{name}` looks outside the organisation (`{}`)",
                            w.trim_end_matches('-')
                        ),
                        pointer,
                    );
                }
            }
            advice(&m.body, s);
        }
        Payload::HttpRequest(h) => {
            if let Some((host, internal)) = host_of(&h.url, ctx) {
                if internal == Some(false) {
                    s.add(
                        "destination.unknown_host",
                        25,
                        format!("sends the request to `{host}`, outside the organisation"),
                        "/payload/url",
                    );
                } else if internal.is_none() && is_public_ip(&host) {
                    s.add(
                        "destination.unknown_host",
                        20,
                        format!("sends the request to the bare address `{host}`"),
                        "/payload/url",
                    );
                }
            }
        }
        _ => {}
    }
    recipients(action, ctx, s);
    links(action, payload, ctx, s);
}

/// A forum post that advises widening access, the first step of the incident this product
/// exists for: the post is as dangerous as the grant it talks people into.
fn advice(body: &str, s: &mut Scorer) {
    let body = body.to_ascii_lowercase();
    let advises_grant = ["grant", "give", "share", "access", "permission"]
        .iter()
        .any(|w| body.contains(w));
    if !advises_grant {
        return;
    }
    if let Some(p) = super::access::BROAD_PRINCIPALS
        .iter()
        .filter(|p| p.len() > 3)
        .find(|p| body.contains(*p))
    {
        s.add(
            "content.advises_broad_access",
            30,
            format!("advises giving access to `{p}`"),
            "/payload/body",
        );
    }
    if let Some(word) = super::access::SENSITIVE_WORDS
        .iter()
        .find(|w| body.contains(*w))
    {
        s.add(
            "content.sensitive_data",
            10,
            format!("mentions sensitive data (`{word}`) next to access advice"),
            "/payload/body",
        );
    }
}

fn recipients(action: &Action, ctx: &RiskContext, s: &mut Scorer) {
    for r in super::recipient::find(action) {
        let Some(domain) = &r.domain else { continue };
        if ctx.is_internal_domain(domain) == Some(false) {
            let reason = format!("addressed to `{}`, outside the organisation", r.value);
            match r.span {
                Some(span) => s.add_span("audience.outside_recipient", 40, reason, r.pointer, span),
                None => s.add("audience.outside_recipient", 40, reason, r.pointer),
            }
        }
    }
}

static URL: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| super::exposure::re(r#"(?i)\b(?:https?://|www\.)[^\s"'<>)\]]+"#));

fn links(action: &Action, payload: &Payload, ctx: &RiskContext, s: &mut Scorer) {
    if ctx.org_domains.is_empty() {
        return;
    }
    for (pointer, key, text) in super::content_strings(action) {
        if matches!(payload, Payload::HttpRequest(_)) && key == Some("url") {
            continue;
        }
        for m in URL.find_iter(text) {
            let url = if m.as_str().to_ascii_lowercase().starts_with("www.") {
                format!("http://{}", m.as_str())
            } else {
                m.as_str().to_owned()
            };
            if let Some((host, Some(false))) = host_of(&url, ctx) {
                s.add_span(
                    "destination.unknown_link",
                    15,
                    format!("links to `{host}`, outside the organisation"),
                    pointer.clone(),
                    m.range(),
                );
                break;
            }
        }
    }
}

/// The host of a URL and whether it is internal (`None`: cannot be judged). Loopback is
/// always internal.
fn host_of(url: &str, ctx: &RiskContext) -> Option<(String, Option<bool>)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return Some((host, Some(true)));
    }
    let internal = ctx.is_internal_domain(&host);
    Some((host, internal))
}

fn is_public_ip(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => !(v4.is_private() || v4.is_loopback() || v4.is_link_local()),
        Ok(IpAddr::V6(v6)) => !v6.is_loopback(),
        Err(_) => false,
    }
}
