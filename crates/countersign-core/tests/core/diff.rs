//! What the reviewer sees, as snapshots.

use countersign_core::action::Grant;
use countersign_core::diff::{PrincipalDiff, TextDiff};
use countersign_core::jsondiff::PathOp;
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

/// `(pointer, op)` of each listed path of a review's change, or `None` when it has no paths.
fn paths_of(change: &Change) -> Option<Vec<(String, PathOp)>> {
    let (Change::Json { paths, .. } | Change::Text { paths, .. }) = change else {
        panic!("not a text or JSON change: {change:?}");
    };
    paths.as_ref().map(|p| {
        p.changes
            .iter()
            .map(|c| (c.pointer.clone(), c.op))
            .collect()
    })
}

#[test]
fn a_tool_call_with_before_lists_the_changed_argument_paths() {
    let call = |before: Option<serde_json::Value>| {
        let mut draft = serde_json::json!({"kind": "tool.call", "target": "mcp://db/query",
            "summary": "s", "payload": {"tool": "query", "server": "db",
            "arguments": {"sql": "select 1", "limits": {"rows": 5000}, "dry_run": false}}});
        if let Some(b) = before {
            draft["before"] = b;
        }
        review(&crate::draft(draft).action()).change
    };
    let change = call(Some(serde_json::json!(
        {"sql": "select 1", "limits": {"rows": 500}, "dry_run": true}
    )));
    assert_eq!(
        paths_of(&change),
        Some(vec![
            ("/dry_run".into(), PathOp::Changed),
            ("/limits/rows".into(), PathOp::Changed)
        ]),
        "the previous arguments are diffed path by path"
    );
    let without = call(None);
    assert_eq!(paths_of(&without), None, "no previous arguments, no paths");
    assert!(
        serde_json::to_value(&without)
            .unwrap()
            .get("paths")
            .is_none(),
        "absent paths are left out of the JSON"
    );
}

#[rstest::rstest]
#[case::json_file(
    "/srv/app/config.json",
    r#"{"a":1,"b":[1]}"#,
    r#"{"a":2,"b":[1,2]}"#,
    true
)]
#[case::upper_case_extension("/srv/app/CONFIG.Json", r#"{"a":1}"#, r#"{"a":2}"#, true)]
#[case::another_extension("/srv/app/config.yaml", r#"{"a":1}"#, r#"{"a":2}"#, false)]
#[case::a_name_ending_in_json("/srv/app/notjson", r#"{"a":1}"#, r#"{"a":2}"#, false)]
#[case::old_text_not_json("/srv/app/config.json", "{oops", r#"{"a":2}"#, false)]
#[case::new_text_not_json("/srv/app/config.json", r#"{"a":1}"#, "[1,", false)]
#[case::duplicate_keys_are_not_guessed(
    "/srv/app/config.json",
    r#"{"a":1}"#,
    r#"{"a":2,"a":3}"#,
    false
)]
fn a_json_file_write_lists_its_changed_paths(
    #[case] path: &str,
    #[case] before: &str,
    #[case] content: &str,
    #[case] listed: bool,
) {
    let action = crate::draft(
        serde_json::json!({"kind": "file.write", "target": "file:///srv",
        "summary": "s", "before": before, "payload": {"path": path, "content": content}}),
    )
    .action();
    let change = review(&action).change;
    assert_eq!(
        paths_of(&change).is_some(),
        listed,
        "paths only for a .json file whose both texts parse strictly: {change:?}"
    );
    if let Some(paths) = paths_of(&change) {
        assert_eq!(paths[0], ("/a".into(), PathOp::Changed));
    }
    let Change::Text { diff, .. } = &change else {
        unreachable!()
    };
    assert_eq!(
        (diff.added, diff.removed),
        (1, 1),
        "the line diff stays, paths or not"
    );
}

#[test]
fn a_new_json_file_has_no_paths() {
    let action = crate::draft(
        serde_json::json!({"kind": "file.write", "target": "file:///srv",
        "summary": "s", "payload": {"path": "/srv/a.json", "content": "{\"a\":1}"}}),
    )
    .action();
    assert_eq!(
        paths_of(&review(&action).change),
        None,
        "without before there is nothing to compare"
    );
}

/// Texts of up to 40 lines drawn from a few distinct lines, so that they share many.
fn text_of_few_lines() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec!["a", "b", "c", "d", "x y", "", "a\r"]),
        0..40,
    )
    .prop_map(|lines| lines.iter().map(|l| format!("{l}\n")).collect())
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    /// The line diff leaves out the lines found on one side only before Myers runs (diff.rs
    /// `line_ops`); that must neither lose minimality nor misplace a line.
    #[test]
    fn the_diff_is_as_small_as_myers_and_every_line_is_where_it_says(
        old in text_of_few_lines(),
        new in text_of_few_lines(),
    ) {
        let diff = TextDiff::compute(&old, &new);
        let reference = similar::TextDiff::from_lines(&old, &new);
        let changed = reference
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .count();
        proptest::prop_assert_eq!(
            (diff.added + diff.removed) as usize,
            changed,
            "as few added and removed lines as similar's own Myers diff"
        );
        let old_lines: Vec<&str> = old.lines().collect();
        let new_lines: Vec<&str> = new.lines().collect();
        for line in diff.hunks.iter().flat_map(|h| &h.lines) {
            let text: String = line.segments.iter().map(|s| s.text.as_str()).collect();
            if let Some(n) = line.old_line {
                proptest::prop_assert_eq!(old_lines[n as usize - 1].trim_end_matches('\r'), text.as_str());
            }
            if let Some(n) = line.new_line {
                proptest::prop_assert_eq!(new_lines[n as usize - 1].trim_end_matches('\r'), text.as_str());
            }
        }
    }
}

#[test]
fn a_diff_line_leaves_out_what_it_does_not_have_and_reads_back_the_same() {
    let diff = TextDiff::compute("a\nold words\n", "a\nnew words\n");
    let json = serde_json::to_value(&diff).unwrap();
    let added = &json["hunks"][0]["lines"][2];
    assert_eq!(added["tag"], "added");
    assert!(
        added.get("old_line").is_none(),
        "an added line has no old line number, and says nothing about it: {added}"
    );
    assert_eq!(
        added["segments"],
        serde_json::json!([{"text": "new", "emphasized": true}, {"text": " words"}]),
        "only emphasized segments carry the flag"
    );
    let back: TextDiff = serde_json::from_value(json).unwrap();
    assert_eq!(back, diff, "absent fields read back as None and false");
}
