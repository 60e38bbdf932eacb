//! Executing approved actions: commands, scripts, and executors fed the approved JSON.

use std::time::Duration;

use countersign_core::action::{Action, ActionKind};
use countersign_core::digest::{action_digest, canonical_json, Digest};
use countersign_gate::exec::{ENV_ACTION_DIGEST, ENV_ACTION_KIND};
use countersign_gate::{execute, run_gated, ExecError, GateOptions};
use serde_json::json;

use crate::fixture::{self, approve_all, Fixture};

fn sh(script: String) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script]
}

fn forum_post() -> countersign_core::Draft {
    fixture::draft(
        ActionKind::MessagePost,
        json!({ "channel": "eng-help", "audience": "team:data-eng", "body": "Try `VACUUM`. ünïcödé ✓" }),
        "answer a question",
    )
}

#[tokio::test]
async fn executor_receives_the_approved_action_as_canonical_json_on_stdin() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let approved = run_gated(
        &fx.client,
        &forum_post(),
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            ..GateOptions::default()
        },
    )
    .await
    .unwrap();
    let (stdin_file, env_file) = (fx.path("stdin.json"), fx.path("env.txt"));
    let executor = sh(format!(
        "cat > '{}'; printf '%s %s' \"${ENV_ACTION_DIGEST}\" \"${ENV_ACTION_KIND}\" > '{}'",
        stdin_file.display(),
        env_file.display()
    ));

    let status = execute(&approved.body.action, Some(&executor)).unwrap();

    assert!(status.success());
    let received = std::fs::read(&stdin_file).unwrap();
    let parsed: Action =
        serde_json::from_value(countersign_core::json::parse_strict(&received).unwrap()).unwrap();
    assert_eq!(
        parsed, approved.body.action,
        "the executor gets the signed action"
    );
    assert_eq!(
        received,
        canonical_json(&approved.body.action).unwrap(),
        "exactly the RFC 8785 bytes the digest covers"
    );
    let digest = action_digest(&approved.body.action);
    assert_eq!(
        Digest::of_bytes(&received),
        digest,
        "an executor can check sha256(stdin) against the approved digest"
    );
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        format!("{digest} message.post"),
        "digest and kind are in the executor's environment"
    );
}

#[test]
fn shell_exec_with_an_executor_too_is_refused_as_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ran.txt");
    let action =
        fixture::shell_draft(&["sh", "-c", &format!("touch '{}'", file.display())]).action();
    let executor = sh(format!(
        "touch '{}'",
        dir.path().join("executor-ran").display()
    ));

    let err = execute(&action, Some(&executor)).unwrap_err();

    assert!(matches!(err, ExecError::Ambiguous), "{err}");
    assert!(!file.exists(), "neither the command…");
    assert!(
        !dir.path().join("executor-ran").exists(),
        "…nor the executor runs"
    );
}

#[test]
fn non_shell_action_without_an_executor_is_refused() {
    let err = execute(&forum_post().action(), None).unwrap_err();
    assert!(
        matches!(
            err,
            ExecError::NoExecutor {
                kind: ActionKind::MessagePost
            }
        ),
        "Countersign cannot post on its own; it needs the agent's executor: {err}"
    );
    assert!(err.to_string().contains("nothing was run"), "{err}");
}

#[test]
fn script_runs_under_sh_in_its_cwd_with_its_env() {
    let dir = tempfile::tempdir().unwrap();
    let action = fixture::draft(
        ActionKind::ShellExec,
        json!({
            "script": "printf '%s' \"$GREETING\" > out.txt",
            "cwd": dir.path().to_str().unwrap(),
            "env": { "GREETING": "hello from the approved env" }
        }),
        "write a file",
    )
    .action();

    let status = execute(&action, None).unwrap();

    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "hello from the approved env",
        "the relative path resolves in the approved cwd"
    );
}

#[test]
fn argv_reaches_the_program_verbatim_without_shell_expansion() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("arg.txt");
    let sneaky = format!("$(touch '{}')", dir.path().join("pwned").display());
    let action = fixture::shell_draft(&[
        "sh",
        "-c",
        &format!("printf '%s' \"$1\" > '{}'", out.display()),
        "sh",
        &sneaky,
    ])
    .action();

    assert!(execute(&action, None).unwrap().success());

    assert_eq!(std::fs::read_to_string(&out).unwrap(), sneaky);
    assert!(
        !dir.path().join("pwned").exists(),
        "argv elements are data, never re-parsed by a shell"
    );
}

#[test]
fn shell_commands_get_an_empty_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdin.txt");
    let action =
        fixture::shell_draft(&["sh", "-c", &format!("cat > '{}'", out.display())]).action();

    assert!(execute(&action, None).unwrap().success());

    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"",
        "nothing the human did not approve flows into the command"
    );
}

#[test]
fn executor_that_ignores_stdin_still_reports_its_status() {
    let action = forum_post().action();
    let status = execute(&action, Some(&sh("exit 3".into()))).unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "the executor's own verdict is what counts"
    );
}
