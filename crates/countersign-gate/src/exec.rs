//! Executing an approved action — always the action from the signed body.
//!
//! - `shell.exec` with `argv`: the program runs directly (`execve`, no shell), so the argument
//!   boundaries the human saw are the ones the program gets;
//! - `shell.exec` with `script`: `/bin/sh -c <script>`;
//! - any other kind: Countersign does not know how to post to your forum or change your ACLs,
//!   so an *executor* command does it. It receives the approved action on stdin as RFC 8785
//!   canonical JSON (the exact bytes the digest covers, so `sha256(stdin)` equals
//!   `COUNTERSIGN_ACTION_DIGEST` without the `sha256:` prefix) and `COUNTERSIGN_ACTION_DIGEST`,
//!   `COUNTERSIGN_ACTION_KIND` in its environment.
//!
//! Standard output and error are inherited. A `shell.exec` command gets an empty stdin
//! (`/dev/null`): nothing that the human did not see flows into it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use countersign_core::action::{Action, ActionError, ActionKind, Payload, ShellExecPayload};
use countersign_core::digest::{action_digest, canonical_json};

/// Environment variable carrying the approved action's digest (`sha256:<hex>`) to an executor.
pub const ENV_ACTION_DIGEST: &str = "COUNTERSIGN_ACTION_DIGEST";

/// Environment variable carrying the approved action's kind (e.g. `message.post`).
pub const ENV_ACTION_KIND: &str = "COUNTERSIGN_ACTION_KIND";

/// Why an approved action was not run (or its run could not be observed).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The action does not fit its kind's schema (cannot happen for a verified body, whose
    /// action was validated; kept so that nothing malformed ever runs).
    #[error("the approved action is invalid: {0}")]
    Invalid(ActionError),
    /// A `shell.exec` action and an executor command were both given: which one should run?
    #[error("a shell.exec action runs its own approved command; an executor command was also given, refusing the ambiguity (drop the command after `--`)")]
    Ambiguous,
    /// A non-shell action needs an executor command, and none (or an empty one) was given.
    #[error(
        "a {kind} action needs an executor command (after `--`) that performs it; nothing was run"
    )]
    NoExecutor {
        /// The action's kind.
        kind: ActionKind,
    },
    /// `cwd` is relative: its meaning would depend on where the gate runs, which the human did
    /// not see.
    #[error("working directory `{0}` is not absolute; refusing to guess what it is relative to")]
    RelativeCwd(String),
    /// The program could not be started (not found, not executable, bad `cwd`).
    #[error("cannot start `{program}`: {error}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The approved action could not be written to the executor's stdin (other than the
    /// executor closing it early). The executor has been waited for.
    #[error("cannot pass the approved action to the executor: {0}")]
    Stdin(std::io::Error),
    /// Waiting for the process failed.
    #[error("cannot wait for the command: {0}")]
    Wait(std::io::Error),
}

/// Runs the approved `action` (see the module docs) and returns the exit status of the
/// command or executor. Blocks until it exits.
///
/// `executor` is a program and its arguments; required for every kind but `shell.exec`, and
/// refused for `shell.exec`.
///
/// # Errors
/// [`ExecError`]; for every variant but [`ExecError::Stdin`] and [`ExecError::Wait`] nothing
/// was started.
pub fn execute(action: &Action, executor: Option<&[String]>) -> Result<ExitStatus, ExecError> {
    let payload = action.typed().map_err(ExecError::Invalid)?;
    match (payload, executor) {
        (Payload::ShellExec(_), Some(_)) => Err(ExecError::Ambiguous),
        (Payload::ShellExec(shell), None) => run_shell(&shell),
        (_, Some(executor)) if !executor.is_empty() => run_executor(action, executor),
        (_, _) => Err(ExecError::NoExecutor { kind: action.kind }),
    }
}

fn run_shell(shell: &ShellExecPayload) -> Result<ExitStatus, ExecError> {
    let mut command = match (&shell.argv, &shell.script) {
        (Some(argv), _) => {
            // `typed()` guarantees a non-empty program name.
            let (program, args) = argv.split_first().ok_or_else(|| {
                ExecError::Invalid(ActionError {
                    pointer: "/payload/argv".into(),
                    message: "is empty".into(),
                })
            })?;
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        (None, Some(script)) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(script);
            c
        }
        (None, None) => {
            return Err(ExecError::Invalid(ActionError {
                pointer: "/payload".into(),
                message: "give exactly one of `argv` or `script`".into(),
            }))
        }
    };
    if let Some(cwd) = &shell.cwd {
        if !Path::new(cwd).is_absolute() {
            return Err(ExecError::RelativeCwd(cwd.clone()));
        }
        command.current_dir(cwd);
    }
    if let Some(env) = &shell.env {
        command.envs(env);
    }
    command.stdin(Stdio::null());
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|error| ExecError::Spawn { program, error })?;
    child.wait().map_err(ExecError::Wait)
}

fn run_executor(action: &Action, executor: &[String]) -> Result<ExitStatus, ExecError> {
    let (program, args) = executor
        .split_first()
        .ok_or(ExecError::NoExecutor { kind: action.kind })?;
    // An Action always has a canonical form (string keys, finite numbers); if it ever did not,
    // refusing is the safe answer.
    let input = canonical_json(action).map_err(|e| {
        ExecError::Invalid(ActionError {
            pointer: "/".into(),
            message: format!("cannot be serialized: {e}"),
        })
    })?;
    let mut child = Command::new(program)
        .args(args)
        .env(ENV_ACTION_DIGEST, action_digest(action).as_str())
        .env(ENV_ACTION_KIND, action.kind.as_str())
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|error| ExecError::Spawn {
            program: program.clone(),
            error,
        })?;
    let written = match child.stdin.take() {
        // Dropping `stdin` at the end of this arm closes it: the executor sees end of input.
        Some(mut stdin) => stdin.write_all(&input).and_then(|()| stdin.flush()),
        None => Ok(()),
    };
    let status = child.wait().map_err(ExecError::Wait)?;
    match written {
        // The executor chose not to read all of its input; its exit status says how it went.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(ExecError::Stdin(e)),
        Ok(()) => Ok(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(kind: ActionKind, payload: serde_json::Value) -> Action {
        Action {
            kind,
            target: "t".into(),
            summary: "s".into(),
            payload,
            before: None,
        }
    }

    #[test]
    fn argv_exit_status_is_returned() {
        let a = action(
            ActionKind::ShellExec,
            json!({"argv": ["sh", "-c", "exit 7"]}),
        );
        let status = execute(&a, None).unwrap();
        assert_eq!(
            status.code(),
            Some(7),
            "the caller propagates the command's exit code"
        );
    }

    #[test]
    fn relative_cwd_is_refused() {
        let a = action(
            ActionKind::ShellExec,
            json!({"argv": ["true"], "cwd": "some/dir"}),
        );
        assert!(matches!(execute(&a, None), Err(ExecError::RelativeCwd(_))));
    }

    #[test]
    fn an_empty_executor_counts_as_none() {
        let a = action(ActionKind::ToolCall, json!({"tool": "x", "arguments": {}}));
        assert!(matches!(
            execute(&a, Some(&[])),
            Err(ExecError::NoExecutor {
                kind: ActionKind::ToolCall
            })
        ));
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let a = action(
            ActionKind::ShellExec,
            json!({"argv": ["/nonexistent/countersign-test-program"]}),
        );
        assert!(matches!(execute(&a, None), Err(ExecError::Spawn { .. })));
    }
}
