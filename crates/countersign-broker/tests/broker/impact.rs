//! The impact panel's recipients in the detail view (issue #5): external by the policy's
//! organisation domains, known when an approved draft of the same agent addressed them (as
//! signed, after edits), new otherwise.

use std::sync::Arc;

use countersign_broker::{BrokerConfig, DecisionInput};
use countersign_core::api::Submitted;
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::review::ImpactItem;
use countersign_core::{Action, TrustedKeys};
use serde_json::json;

use crate::fixture::{seed_key, start_with, Fixture};

/// A lead-signed policy for `example.com` under which the fixture's approver may approve what
/// these tests send (nothing auto-approved).
fn org_policy() -> Arc<LoadedPolicy> {
    let lead = seed_key(9);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let text = "serial = 1\norg_domains = [\"example.com\"]\n\n[thresholds]\nlead_required_from = 95\nblocked_from = 99\n";
    let env = policy::sign(text.as_bytes(), &lead);
    Arc::new(LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap())
}

async fn with_org() -> Fixture {
    start_with(BrokerConfig {
        policy: Some(org_policy()),
        ..BrokerConfig::default()
    })
    .await
}

fn email(arguments: serde_json::Value) -> serde_json::Value {
    json!({"kind": "tool.call", "target": "mcp://mail/send_email", "summary": "mail",
        "payload": {"tool": "send_email", "server": "mail", "arguments": arguments}})
}

fn submit(f: &Fixture, draft: &serde_json::Value) -> Submitted {
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    f.broker
        .submit(&agent, draft.to_string().as_bytes())
        .unwrap()
}

fn approve(f: &Fixture, s: &Submitted) {
    f.broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap();
}

/// The detail view's recipient items: `(value, flagged, pointer)`.
fn recipients(items: &[ImpactItem]) -> Vec<(String, bool, String)> {
    items
        .iter()
        .filter(|i| i.label == "Recipient")
        .map(|i| {
            (
                i.value.clone(),
                i.flagged,
                i.pointer.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn detail_recipients(f: &Fixture, id: &str) -> Vec<(String, bool, String)> {
    recipients(&f.broker.detail(id).unwrap().review.impact)
}

fn r(value: &str, flagged: bool, pointer: &str) -> (String, bool, String) {
    (value.into(), flagged, pointer.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drafts_recipients_are_known_new_or_external_from_the_policy_and_approved_history() {
    let f = with_org().await;
    let first = submit(
        &f,
        &email(json!({"to": ["alice@example.com"], "body": "hi"})),
    );
    approve(&f, &first);
    let rejected = submit(
        &f,
        &email(json!({"to": ["dave@example.com"], "body": "hi"})),
    );
    f.broker
        .decide(
            &rejected.id,
            &rejected.action_digest,
            DecisionInput::Reject {
                reason: "no".into(),
            },
        )
        .unwrap();

    let s = submit(
        &f,
        &email(json!({
            "to": ["alice@example.com", "carol@example.com", "ceo@example.com.evil.io"],
            "cc": "bob@evil.io",
            "message": {"bcc": [{"address": "dave@example.com"}]},
            "body": "hi"
        })),
    );
    assert_eq!(
        detail_recipients(&f, &s.id),
        [
            r("bob@evil.io — external", true, "/payload/arguments/cc"),
            r(
                "dave@example.com — new",
                true,
                "/payload/arguments/message/bcc/0/address"
            ),
            r(
                "alice@example.com — known",
                false,
                "/payload/arguments/to/0"
            ),
            r("carol@example.com — new", true, "/payload/arguments/to/1"),
            r(
                "ceo@example.com.evil.io — external",
                true,
                "/payload/arguments/to/2"
            ),
        ],
        "alice was in an approved draft, dave only in a rejected one, the rest never; the \
         look-alike and bob are outside example.com"
    );
    assert_eq!(
        detail_recipients(&f, &first.id),
        [r(
            "alice@example.com — new",
            true,
            "/payload/arguments/to/0"
        )],
        "a decided draft is judged as it stood when decided: its own approval does not make \
         its recipient known"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_edit_makes_its_own_recipients_known_not_the_drafts() {
    let f = with_org().await;
    let s = submit(&f, &email(json!({"to": "frank@example.com", "body": "hi"})));
    let mut edited: Action = f.broker.detail(&s.id).unwrap().action;
    edited.payload["arguments"]["to"] = json!("grace@example.com");
    f.broker
        .decide_edited(&s.id, &s.action_digest, edited)
        .unwrap();

    let next = submit(
        &f,
        &email(json!({"to": ["frank@example.com", "grace@example.com"], "body": "hi"})),
    );
    assert_eq!(
        detail_recipients(&f, &next.id),
        [
            r("frank@example.com — new", true, "/payload/arguments/to/0"),
            r(
                "grace@example.com — known",
                false,
                "/payload/arguments/to/1"
            ),
        ],
        "what was signed counts, not what the agent first asked for"
    );

    let mut preview: Action = f.broker.detail(&next.id).unwrap().action;
    preview.payload["arguments"]["to"] = json!(["grace@example.com", "eve@evil.io"]);
    let p = f.broker.preview_edit(&next.id, &preview).unwrap();
    assert_eq!(
        recipients(&p.review.impact),
        [
            r(
                "grace@example.com — known",
                false,
                "/payload/arguments/to/0"
            ),
            r("eve@evil.io — external", true, "/payload/arguments/to/1"),
        ],
        "an edit's preview judges its recipients the same way"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_policy_the_detail_says_it_cannot_tell_inside_from_outside() {
    let f = start_with(BrokerConfig::default()).await;
    let s = submit(&f, &email(json!({"to": "alice@example.com", "body": "hi"})));
    assert_eq!(
        detail_recipients(&f, &s.id),
        [r(
            "alice@example.com — new; inside or outside unknown: no organisation domains configured",
            true,
            "/payload/arguments/to"
        )]
    );
}
