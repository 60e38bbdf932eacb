//! `kill -9` at each step of a decision and of the gate (issue 4): on restart no envelope exists
//! without its committed decision and audit row, the audit chain verifies
//! (`countersign audit verify`), the draft is still pending or decided exactly once, and a gate
//! killed after recording the `jti` never runs the action (neither then nor on a re-delivery).
//!
//! Built only with the `crash-points` feature (`cargo test -p countersign-cli --features
//! crash-points --test crash`): [`countersign_core::crash::point`] kills the process with
//! SIGKILL (`kill -9` of its own pid) at the step named by `COUNTERSIGN_CRASH_AT`. The decide
//! path is the broker's use case, which the app's window calls too; the "app" here is this test binary run again as a child process
//! ([`child_app_approves`]), so that it can die while the test survives. The gate is the real
//! `countersign exec`, built with the same feature.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use countersign_broker::{Broker, BrokerConfig, BrokerError, DecisionInput, Signer};
use countersign_core::api::Status;
use countersign_core::crash;
use countersign_core::decision::{Expectations, GateError};
use countersign_core::{ApproverKey, TrustedKeys};
use countersign_gate::{verify_for_execution, GateFailure, Ledger};
use countersign_store::{Store, DB_FILE};

/// SIGKILL: what `kill -9` sends (the crash point kills its own process with it).
const SIGKILL: i32 = 9;
/// Where the child app finds its data directory, draft id and shown digest.
const CHILD_DIR: &str = "CRASH_TEST_DIR";
const CHILD_ID: &str = "CRASH_TEST_ID";
const CHILD_DIGEST: &str = "CRASH_TEST_DIGEST";

fn key() -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([5; 32]))
}

/// The app's broker over the data directory `dir` (a fresh open: what a restart sees).
fn open_broker(dir: &Path) -> Broker {
    let store = Arc::new(Store::open(&dir.join(DB_FILE)).unwrap());
    Broker::headless(
        store,
        Signer {
            key: key(),
            name: "ana".into(),
        },
        BrokerConfig::default(),
    )
}

/// The child process: the app deciding on one draft as the window's approve click does. It is
/// expected to die at the crash point named in its environment; printing `decided` means it
/// did not.
#[test]
#[ignore = "the app process of the crash tests; they start it themselves"]
fn child_app_approves() {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).unwrap());
    let broker = open_broker(&dir);
    let id = std::env::var(CHILD_ID).unwrap();
    let digest = std::env::var(CHILD_DIGEST).unwrap();
    broker.decide(&id, &digest, DecisionInput::Approve).unwrap();
    println!("decided");
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trust.json"),
            serde_json::to_vec(&key().trusted_key("ana", "approver")).unwrap(),
        )
        .unwrap();
        World { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn trusted(&self) -> TrustedKeys {
        TrustedKeys::from_json(&std::fs::read(self.path("trust.json")).unwrap()).unwrap()
    }

    /// A shell command that appends one line to `marker` each time it runs.
    fn marker_draft(&self) -> serde_json::Value {
        let marker = self.path("marker");
        serde_json::json!({"kind": "shell.exec", "target": "host://test", "summary": "count a run",
            "payload": {"argv": ["sh", "-c", format!("echo ran >> '{}'", marker.display())]}})
    }

    /// How many times the marker command ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("marker"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Registers agent `bot` and files the marker draft; returns (id, digest). The broker is
    /// closed again before the function returns.
    fn file_draft(&self) -> (String, String) {
        let broker = open_broker(self.dir.path());
        let token = broker.add_agent("bot").unwrap().token;
        let agent = broker.authenticate(&token).unwrap().unwrap();
        let body = serde_json::to_vec(&self.marker_draft()).unwrap();
        let submitted = broker.submit(&agent, &body).unwrap();
        (submitted.id, submitted.action_digest)
    }

    /// Runs the app as a child process that approves `id` and crashes at `step`.
    fn app_approving(&self, id: &str, digest: &str, step: &str) -> Output {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_app_approves",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, self.dir.path())
            .env(CHILD_ID, id)
            .env(CHILD_DIGEST, digest)
            .env(crash::CRASH_AT_ENV, step)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `countersign audit verify` on the data directory: (exit code, output).
    fn audit_verify(&self) -> (Option<i32>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(["audit", "verify", "--data-dir"])
            .arg(self.dir.path())
            .arg("--trust")
            .arg(self.path("trust.json"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    }
}

/// Asserts the process died of the crash point `step` (SIGKILL, after naming the step).
fn assert_crashed_at(out: &Output, step: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        Some(SIGKILL),
        "the process must die at {step}, not exit ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(&format!("crash point {step}")),
        "it died at the named step:\n{stderr}"
    );
    assert!(
        !stdout.contains("decided"),
        "the decision did not return: {stdout}"
    );
}

/// Decisions and audit rows about `id`: (decision jtis, approved audit jtis, submitted rows).
fn records(broker: &Broker, id: &str) -> (Vec<String>, Vec<String>, usize) {
    let decisions: Vec<String> = {
        let conn = broker.store().read();
        let mut stmt = conn
            .prepare("SELECT jti FROM decisions WHERE action_id = ?1")
            .unwrap();
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    };
    let audit = broker.store().audit_rows().unwrap();
    let mine = audit.iter().filter(|r| r.action_id.as_deref() == Some(id));
    let approved = mine
        .clone()
        .filter(|r| r.event == "action.approved")
        .map(|r| r.detail["jti"].as_str().unwrap().to_owned())
        .collect();
    let submitted = mine.filter(|r| r.event == "action.submitted").count();
    (decisions, approved, submitted)
}

/// Kills the app at `step` of approving a draft, restarts it and checks what the restart sees;
/// `committed`: whether the decision reached the disk before the crash.
fn crash_while_approving(step: &str, committed: bool) {
    let w = World::new();
    let (id, digest) = w.file_draft();
    let out = w.app_approving(&id, &digest, step);
    assert_crashed_at(&out, step);

    // Restart.
    let broker = open_broker(w.dir.path());
    let row = broker.store().action(&id).unwrap().unwrap();
    let (decisions, approved, submitted) = records(&broker, &id);
    assert_eq!(submitted, 1, "the submission's audit row survives");
    if committed {
        assert_eq!(row.status, Status::Approved, "a committed decision stays");
        assert_eq!(decisions.len(), 1, "exactly one decision: {decisions:?}");
    } else {
        assert_eq!(
            row.status,
            Status::Pending,
            "a decision that did not commit leaves the draft pending"
        );
        assert!(
            decisions.is_empty(),
            "no envelope is stored without a committed decision: {decisions:?}"
        );
    }
    assert_eq!(
        decisions, approved,
        "every stored envelope has its audit row with the same jti, and no audit row lacks one"
    );
    let (code, text) = w.audit_verify();
    assert_eq!(code, Some(0), "the chain verifies after the crash: {text}");
    assert!(text.contains("intact"), "{text}");

    // The human decides again: a pending draft is decided now, a decided one refuses.
    let again = broker.decide(&id, &digest, DecisionInput::Approve);
    if committed {
        assert!(
            matches!(&again, Err(BrokerError::Conflict(m)) if m.contains("already approved")),
            "a draft is decided once: {:?}",
            again.map(|_| ())
        );
    } else {
        again.unwrap();
    }
    let (decisions, approved, _) = records(&broker, &id);
    assert_eq!(decisions.len(), 1, "decided exactly once: {decisions:?}");
    assert_eq!(decisions, approved);
    let (code, text) = w.audit_verify();
    assert_eq!(code, Some(0), "{text}");

    // The envelope the agent receives verifies and its action runs once.
    let envelope = broker.store().decision(&id).unwrap().unwrap().envelope;
    let ledger = Ledger::open_in(&w.path("gate")).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: "bot",
        now: countersign_broker::now(),
    };
    let body = verify_for_execution(&envelope, &w.trusted(), &ledger, &expect).unwrap();
    assert_eq!(body.action_digest, digest);
}

#[test]
fn killed_before_signing_the_draft_stays_pending_and_is_decided_once_after_restart() {
    crash_while_approving(crash::DECIDE_BEFORE_SIGN, false);
}

#[test]
fn killed_after_the_compare_and_set_the_draft_stays_pending_and_the_chain_verifies() {
    crash_while_approving(crash::DECIDE_AFTER_CAS, false);
}

#[test]
fn killed_before_commit_no_envelope_or_audit_row_survives() {
    crash_while_approving(crash::DECIDE_BEFORE_COMMIT, false);
}

#[test]
fn killed_after_commit_the_decision_and_its_audit_row_survive_and_it_cannot_be_decided_again() {
    crash_while_approving(crash::DECIDE_AFTER_COMMIT, true);
}

#[test]
fn a_gate_killed_after_recording_the_jti_never_runs_the_action_even_when_it_is_redelivered() {
    let w = World::new();
    // The broker serves the agent API in this process; the gate is `countersign exec`.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = open_broker(w.dir.path());
    let token = broker.add_agent("bot").unwrap().token;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(countersign_broker::http::serve(
        listener,
        broker.clone(),
        std::future::pending(),
    ));
    let draft = w.path("draft.json");
    std::fs::write(&draft, serde_json::to_vec(&w.marker_draft()).unwrap()).unwrap();
    let exec = |crash_at: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_countersign"));
        cmd.args(["exec", "--action"])
            .arg(&draft)
            .arg("--trust")
            .arg(w.path("trust.json"))
            .args(["--api", &api, "--timeout", "30", "--state-dir"])
            .arg(w.path("gate"))
            .env("COUNTERSIGN_TOKEN", &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(step) = crash_at {
            cmd.env(crash::CRASH_AT_ENV, step);
        }
        cmd.spawn().unwrap()
    };
    let approve_next = || {
        for _ in 0..400 {
            let pending = broker
                .store()
                .actions(100)
                .unwrap()
                .into_iter()
                .find(|r| r.status == Status::Pending);
            if let Some(row) = pending {
                broker
                    .decide(&row.id, &row.action_digest, DecisionInput::Approve)
                    .unwrap();
                return row.id;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the gate filed no draft");
    };

    // Control: without a crash the approved command runs once.
    let child = exec(None);
    approve_next();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.runs(), 1, "the control run executes once");

    // The gate dies right after recording the jti, before it executes.
    let child = exec(Some(crash::GATE_AFTER_CONSUME));
    let id = approve_next();
    let out = child.wait_with_output().unwrap();
    assert_crashed_at(&out, crash::GATE_AFTER_CONSUME);
    assert_eq!(w.runs(), 1, "the killed gate ran nothing");

    // Restarted, the gate is handed the same decision again (a re-delivery, a retry): refused.
    let envelope = broker.store().decision(&id).unwrap().unwrap().envelope;
    let ledger = Ledger::open_in(&w.path("gate")).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: "bot",
        now: countersign_broker::now(),
    };
    let again = verify_for_execution(&envelope, &w.trusted(), &ledger, &expect).unwrap_err();
    assert!(
        matches!(again, GateFailure::Refused(GateError::Replay(_))),
        "the jti recorded before the crash makes the re-delivery a replay: {again}"
    );
    assert_eq!(w.runs(), 1, "the action never ran for the crashed gate");
}
