//! Novelty and bursts from history facts; size and blast radius.

use countersign_core::risk::novelty::History;
use rstest::rstest;
use serde_json::json;

use super::{check, org, scored, tool};

fn with_history(h: History) -> countersign_core::risk::RiskContext {
    let mut ctx = org();
    ctx.history = Some(h);
    ctx
}

#[rstest]
#[case::new_target(History { prior_drafts: 20, ..History::default() }, "novelty.target", true)]
#[case::known_target(History { prior_drafts: 20, target_seen: true, ..History::default() }, "novelty.target", false)]
#[case::too_little_history(History { prior_drafts: 2, ..History::default() }, "novelty.target", false)]
#[case::new_recipient(History { prior_drafts: 20, target_seen: true, new_counterparts: vec!["a@b.test".into()], ..History::default() }, "novelty.counterpart", true)]
#[case::burst(History { prior_drafts: 500, target_seen: true, last_minute: 40, usual_per_minute_x100: 50, ..History::default() }, "novelty.burst", true)]
#[case::usual_rate(History { prior_drafts: 500, target_seen: true, last_minute: 12, usual_per_minute_x100: 1000, ..History::default() }, "novelty.burst", false)]
fn history(#[case] h: History, #[case] factor: &str, #[case] fires: bool) {
    check(
        &scored(
            tool("send_email", json!({"to":["a@example.com"]})),
            &with_history(h),
        ),
        factor,
        fires,
    );
}

#[test]
fn many_recipients_widen_the_blast_radius() {
    let to: Vec<String> = (0..30).map(|i| format!("u{i}@example.com")).collect();
    let risk = scored(tool("send_email", json!({ "to": to })), &org());
    check(&risk, "size.blast_radius", true);
}

#[test]
fn counterparts_are_what_novelty_looks_up() {
    let action = crate::draft(tool(
        "send_email",
        json!({"to":["A@Example.com"],"cc":"b@x.test"}),
    ))
    .action();
    assert_eq!(
        countersign_core::risk::novelty::counterparts(&action),
        vec!["a@example.com".to_string(), "b@x.test".to_string()]
    );
}
