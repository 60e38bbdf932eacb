//! Novelty and bursts: the first time an agent acts on a target, writes to a recipient or
//! calls a host, and submission rates far above its usual one.
//!
//! The core does no IO: the caller (the broker) looks the facts up in the store's history
//! and passes them in [`History`]; [`counterparts`] says what to look up.

use super::{RiskContext, Scorer};
use crate::action::{Action, Payload};

/// What the store knows about the submitting agent's past, as of this draft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Drafts the agent submitted before this one (all time).
    pub prior_drafts: u64,
    /// Whether the agent submitted a draft on this same target before.
    pub target_seen: bool,
    /// Recipients and hosts of this draft ([`counterparts`]) the agent never addressed before.
    pub new_counterparts: Vec<String>,
    /// Recipients and hosts of this draft ([`counterparts`]) the agent addressed in a draft
    /// that was approved (as signed, edits included) before the cut-off the caller chose: the
    /// impact panel calls them `known`, every other recipient `new`.
    pub approved_counterparts: Vec<String>,
    /// Drafts the agent submitted in the last 60 seconds, this one excluded.
    pub last_minute: u32,
    /// The agent's usual drafts per minute over its history (drafts / minutes active), × 100.
    pub usual_per_minute_x100: u32,
}

/// Fewer prior drafts than this: too little history to call anything new.
const MIN_HISTORY: u64 = 5;

/// E-mail recipients of the action ([`super::recipient::find`]), lower case, deduplicated.
pub fn recipients(action: &Action) -> Vec<String> {
    let mut out: Vec<String> = super::recipient::find(action)
        .into_iter()
        .filter(|r| r.domain.is_some())
        .map(|r| r.counterpart)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The recipients and hosts a draft addresses: every recipient ([`super::recipient::find`]:
/// e-mail addresses, names, handles and accounts, as [`super::recipient::Recipient::counterpart`])
/// and the host of an HTTP request, lower case.
pub fn counterparts(action: &Action) -> Vec<String> {
    let mut out: Vec<String> = super::recipient::find(action)
        .into_iter()
        .map(|r| r.counterpart)
        .collect();
    out.sort();
    out.dedup();
    // Only a request has a host; `typed` copies the payload, which may be megabytes.
    if action.kind != crate::action::ActionKind::HttpRequest {
        return out;
    }
    if let Ok(Payload::HttpRequest(h)) = action.typed() {
        if let Some(host) = url::Url::parse(&h.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            out.push(host);
        }
    }
    out
}

/// Runs the detector.
pub fn detect(action: &Action, _payload: &Payload, ctx: &RiskContext, s: &mut Scorer) {
    let Some(h) = &ctx.history else { return };
    if h.prior_drafts >= MIN_HISTORY {
        if !h.target_seen {
            s.add(
                "novelty.target",
                10,
                format!("first time this agent acts on `{}`", action.target),
                "/target",
            );
        }
        if let Some(first) = h.new_counterparts.first() {
            s.add(
                "novelty.counterpart",
                15,
                format!("first time this agent addresses `{first}`"),
                "/payload",
            );
        }
    }
    let usual = f64::from(h.usual_per_minute_x100.max(10)) / 100.0;
    if h.last_minute >= 10 && f64::from(h.last_minute) > 5.0 * usual {
        s.add(
            "novelty.burst",
            15,
            format!(
                "{} drafts in the last minute, far above this agent's usual rate",
                h.last_minute
            ),
            "/",
        );
    }
}
