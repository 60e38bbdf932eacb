//! What the reviewer sees, as snapshots.

use countersign_core::action::Grant;
use countersign_core::diff::{PrincipalDiff, TextDiff};
use countersign_core::review::{review, Change};

#[test]
fn a_config_edit_shows_changed_words() {
    let old = "[exporter]\nsource = \"analytics.user_data\"\nbatch_size = 500\nlog_level = \"info\"\n\n[retention]\ndays = 30\n";
    let new = "[exporter]\nsource = \"analytics.user_data\"\nbatch_size = 2000\nlog_level = \"debug\"\n\n[retention]\ndays = 30\n";
    let diff = TextDiff::compute(old, new);
    assert_eq!((diff.added, diff.removed), (2, 2));
    insta::assert_snapshot!(diff.to_text());
}

#[test]
fn a_new_post_is_all_added_lines() {
    let diff = TextDiff::compute(
        "",
        "Easiest fix: grant all-employees read.\nThen dashboards work.\n",
    );
    assert_eq!((diff.added, diff.removed), (2, 0));
    insta::assert_snapshot!(diff.to_text());
}

#[test]
fn equal_texts_have_no_hunks() {
    assert!(TextDiff::compute("a\nb\n", "a\nb\n").hunks.is_empty());
}

#[test]
fn the_principal_diff_names_who_gains_and_who_loses() {
    let g = |p: &str, perm: &str| Grant {
        principal: p.into(),
        permission: perm.into(),
    };
    let d = PrincipalDiff::compute(
        "analytics.user_data",
        Some(&[g("data-eng", "admin"), g("interns", "read")]),
        &[g("data-eng", "admin"), g("all-employees", "read")],
    );
    assert_eq!(d.gained, [g("all-employees", "read")]);
    assert_eq!(d.lost, [g("interns", "read")]);
    assert_eq!(d.kept, [g("data-eng", "admin")]);
}

#[test]
fn a_shell_command_is_shown_argument_by_argument() {
    let a = crate::draft(
        serde_json::json!({"kind":"shell.exec","target":"host://a","summary":"s",
        "payload":{"argv":["rm","-rf","/tmp/a b"],"cwd":"/srv"}}),
    )
    .action();
    match review(&a).change {
        Change::Command { argv, cwd, .. } => {
            assert_eq!(
                argv.unwrap(),
                ["rm", "-rf", "/tmp/a b"],
                "arguments keep their boundaries"
            );
            assert_eq!(cwd.as_deref(), Some("/srv"));
        }
        other => panic!("expected a command view, got {other:?}"),
    }
}

#[test]
fn a_tool_calls_read_only_claim_is_shown_as_the_servers_claim() {
    let call = |hint: serde_json::Value| {
        let mut payload = serde_json::json!({"tool": "read_file", "server": "files", "arguments": {"path": "/a"}});
        if !hint.is_null() {
            payload["read_only_hint"] = hint;
        }
        review(
            &crate::draft(
                serde_json::json!({"kind": "tool.call", "target": "mcp://files/read_file",
                "summary": "s", "payload": payload}),
            )
            .action(),
        )
        .impact
    };
    let claimed = call(serde_json::json!(true));
    let line = claimed
        .iter()
        .find(|i| i.label == "Server claims")
        .expect("the claim is in the impact panel");
    assert!(
        line.value.contains("not verified") && line.flagged,
        "{line:?}"
    );
    for hint in [serde_json::json!(false), serde_json::Value::Null] {
        assert!(
            call(hint.clone())
                .iter()
                .all(|i| i.label != "Server claims"),
            "no claim shown for {hint}"
        );
    }
}
