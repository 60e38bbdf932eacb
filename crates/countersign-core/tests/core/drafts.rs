//! Strict parsing of drafts from untrusted bytes: every refusal names where.

use countersign_core::action::{Draft, DraftError};
use rstest::rstest;

const OK: &str =
    r#"{"kind":"shell.exec","target":"host://a","summary":"list","payload":{"argv":["ls"]}}"#;

#[test]
fn a_valid_draft_parses() {
    let d = Draft::parse(OK.as_bytes()).unwrap();
    assert_eq!(d.expires_in_s(), 15 * 60, "default lifetime is 15 minutes");
}

#[rstest]
#[case::duplicate_key(r#"{"kind":"shell.exec","kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]}}"#, "duplicate key `kind`")]
#[case::nested_duplicate(
    r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"],"argv":["rm"]}}"#,
    "/payload/argv"
)]
#[case::big_integer(r#"{"kind":"tool.call","target":"t","summary":"s","payload":{"tool":"pay","arguments":{"cents":9007199254740993}}}"#, "/payload/arguments/cents")]
#[case::unknown_top_field(
    r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"risk":0}"#,
    "unknown field `risk`"
)]
#[case::unknown_kind(
    r#"{"kind":"shell.run","target":"t","summary":"s","payload":{}}"#,
    "unknown kind `shell.run`"
)]
#[case::missing_summary(
    r#"{"kind":"shell.exec","target":"t","payload":{"argv":["ls"]}}"#,
    "missing field `summary`"
)]
#[case::empty_target(
    r#"{"kind":"shell.exec","target":" ","summary":"s","payload":{"argv":["ls"]}}"#,
    "/target"
)]
#[case::argv_and_script(
    r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"],"script":"ls"}}"#,
    "exactly one of"
)]
#[case::unknown_payload_field(r#"{"kind":"file.write","target":"t","summary":"s","payload":{"path":"/a","content":"x","mode":"777"}}"#, "unknown field `mode`")]
#[case::before_wrong_type(r#"{"kind":"file.write","target":"t","summary":"s","payload":{"path":"/a","content":"x"},"before":{"x":1}}"#, "/before")]
#[case::acl_before_not_grants(r#"{"kind":"acl.change","target":"t","summary":"s","payload":{"resource":"r","grants":[]},"before":["x"]}"#, "/before")]
#[case::lowercase_method(r#"{"kind":"http.request","target":"t","summary":"s","payload":{"method":"post","url":"https://a.example"}}"#, "/payload/method")]
#[case::tool_arguments_not_object(
    r#"{"kind":"tool.call","target":"t","summary":"s","payload":{"tool":"x","arguments":[1]}}"#,
    "/payload/arguments"
)]
#[case::callback_not_http(r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"callback_url":"javascript:alert(1)"}"#, "/callback_url")]
#[case::zero_lifetime(r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]},"expires_in_s":0}"#, "/expires_in_s")]
#[case::nul_in_argv(
    r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls","a\u0000b"]}}"#,
    "NUL"
)]
#[case::not_json(r#"{"kind": shell.exec}"#, "malformed JSON")]
#[case::trailing_garbage(
    r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]}} x"#,
    "malformed JSON"
)]
fn bad_drafts_are_refused_saying_where(#[case] input: &str, #[case] needle: &str) {
    let err = Draft::parse(input.as_bytes()).unwrap_err();
    assert!(matches!(err, DraftError::Json(_) | DraftError::Invalid(_)));
    assert!(
        err.to_string().contains(needle),
        "error for {input} should contain {needle:?}: {err}"
    );
}
