//! `countersign exec` and `countersign verify` as an agent runs them, against a real broker:
//! the approved action runs; a rejection, an expiry, a tampered or replayed envelope run nothing.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

mod audit;
mod cosign;
mod gate_policy;
mod hook;
mod mcp;
mod policy;
mod postgres;
mod quorum;
mod rotate;
mod score;
mod start_errors;
mod team;
#[cfg(unix)]
mod transport;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::{Broker, BrokerConfig, DecisionInput, Signer};
use countersign_core::api::Status;
use countersign_core::decision::Expectations;
use countersign_core::ApproverKey;
use countersign_gate::{verify_for_execution, GateFailure, Ledger};
use countersign_store::Store;

struct World {
    broker: Broker,
    base: String,
    token: String,
    dir: tempfile::TempDir,
    /// Keeps the broker's server and expiry loop running for the test's life.
    _runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("db.sqlite3")).unwrap());
        let key = ApproverKey::from_seed(&zeroize::Zeroizing::new([3; 32]));
        std::fs::write(
            dir.path().join("trust.json"),
            serde_json::to_vec(&key.trusted_key("ana", "approver")).unwrap(),
        )
        .unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let broker = runtime.block_on(async {
            let b = Broker::headless(
                store,
                Signer {
                    key,
                    name: "ana".into(),
                },
                BrokerConfig::default(),
            );
            b.spawn_expiry_loop();
            b
        });
        let token = broker.add_agent("bot").unwrap().token;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(countersign_broker::http::serve(
            listener,
            broker.clone(),
            std::future::pending(),
        ));
        World {
            broker,
            base,
            token,
            dir,
            _runtime: runtime,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_draft(&self, name: &str, draft: serde_json::Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, serde_json::to_vec(&draft).unwrap()).unwrap();
        p
    }

    /// Starts `countersign exec` on a draft, with extra args after `--`.
    fn exec(&self, draft: &Path, executor: &[&str]) -> std::process::Child {
        self.exec_with(draft, &[], executor)
    }

    /// Starts `countersign exec` on a draft with extra options (`flags`), and `executor` after `--`.
    fn exec_with(&self, draft: &Path, flags: &[&str], executor: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(["exec", "--action"])
            .arg(draft)
            .args(flags)
            .arg("--trust")
            .arg(self.path("trust.json"))
            .args(["--api", &self.base, "--timeout", "30", "--state-dir"])
            .arg(self.path("gate"))
            .arg("--envelope-out")
            .arg(self.path("envelope.json"))
            .arg("--")
            .args(executor)
            .env("COUNTERSIGN_TOKEN", &self.token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until one draft is pending and returns (id, digest).
    fn pending(&self) -> (String, String) {
        for _ in 0..200 {
            if let Some(row) = self
                .broker
                .store()
                .actions(10)
                .unwrap()
                .into_iter()
                .find(|r| r.status == Status::Pending)
            {
                return (row.id, row.action_digest);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no draft became pending");
    }
}

fn marker_draft(marker: &Path) -> serde_json::Value {
    serde_json::json!({"kind": "shell.exec", "target": "host://test", "summary": "touch a marker",
        "payload": {"argv": ["sh", "-c", format!("echo ran > '{}'", marker.display())]}})
}

fn finish(child: std::process::Child) -> (Output, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

#[test]
fn an_approved_shell_command_runs_once_approved() {
    let w = World::new();
    let marker = w.path("marker");
    let child = w.exec(&w.write_draft("d.json", marker_draft(&marker)), &[]);
    let (id, digest) = w.pending();
    assert!(!marker.exists(), "nothing may run before the decision");
    w.broker
        .decide(&id, &digest, DecisionInput::Approve)
        .unwrap();
    let (out, stderr) = finish(child);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "ran");
    assert!(stderr.contains("approved by ana"), "{stderr}");
}

#[test]
fn a_rejected_draft_exits_3_with_the_reason_and_runs_nothing() {
    let w = World::new();
    let marker = w.path("marker");
    let draft = serde_json::json!({"kind": "acl.change", "target": "w://user_data", "summary": "open up",
        "payload": {"resource": "analytics.user_data", "grants": [{"principal": "all-employees", "permission": "read"}]}});
    let exec_cmd = format!("cat > '{}'", marker.display());
    let child = w.exec(&w.write_draft("d.json", draft), &["sh", "-c", &exec_cmd]);
    let (id, digest) = w.pending();
    w.broker
        .decide(
            &id,
            &digest,
            DecisionInput::Reject {
                reason: "user_data is PII".into(),
            },
        )
        .unwrap();
    let (out, stderr) = finish(child);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("user_data is PII"),
        "the agent learns why: {stderr}"
    );
    assert!(!marker.exists(), "a rejected action must not run");
}

#[test]
fn an_expired_draft_exits_3_and_runs_nothing() {
    let w = World::new();
    let marker = w.path("marker");
    let mut draft = marker_draft(&marker);
    draft["expires_in_s"] = 1.into();
    let (out, stderr) = finish(w.exec(&w.write_draft("d.json", draft), &[]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");
    assert!(!marker.exists());
}

#[test]
fn a_replayed_or_modified_envelope_from_the_real_broker_is_refused() {
    let w = World::new();
    let marker = w.path("marker");
    let child = w.exec(&w.write_draft("d.json", marker_draft(&marker)), &[]);
    let (id, digest) = w.pending();
    w.broker
        .decide(&id, &digest, DecisionInput::Approve)
        .unwrap();
    assert!(finish(child).0.status.success());
    let envelope: countersign_core::Envelope = serde_json::from_value(
        countersign_core::json::parse_strict(&std::fs::read(w.path("envelope.json")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let trusted =
        countersign_core::TrustedKeys::from_json(&std::fs::read(w.path("trust.json")).unwrap())
            .unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: "bot",
        now: countersign_broker::now(),
    };

    // Replay: the gate recorded the jti in its ledger before running; reopening it (a restart) keeps that.
    let ledger = Ledger::open_in(&w.path("gate")).unwrap();
    let replay = verify_for_execution(&envelope, &trusted, &ledger, &expect).unwrap_err();
    assert!(
        matches!(
            replay,
            GateFailure::Refused(countersign_core::decision::GateError::Replay(_))
        ),
        "{replay}"
    );

    // One byte of the approved command changed after signing.
    let body = String::from_utf8(B64.decode(&envelope.payload).unwrap())
        .unwrap()
        .replace("echo ran", "echo RAN");
    let tampered = countersign_core::Envelope {
        payload: B64.encode(body),
        ..envelope.clone()
    };
    let fresh = Ledger::open_in(&w.path("gate2")).unwrap();
    assert!(matches!(
        verify_for_execution(&tampered, &trusted, &fresh, &expect),
        Err(GateFailure::Refused(_))
    ));

    // `countersign verify` reports a genuine envelope and refuses the tampered one (exit 4).
    let ok = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["verify", "--envelope"])
        .arg(w.path("envelope.json"))
        .arg("--trust")
        .arg(w.path("trust.json"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"verdict\": \"approved\""));
    std::fs::write(
        w.path("tampered.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["verify", "--envelope"])
        .arg(w.path("tampered.json"))
        .arg("--trust")
        .arg(w.path("trust.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(4));
}

#[test]
fn a_draft_that_is_not_valid_is_refused_before_anything_is_sent() {
    let w = World::new();
    let p = w.write_draft("bad.json", serde_json::json!({"kind": "shell.exec", "target": "t", "summary": "s", "payload": {"argv": []}}));
    let (out, stderr) = finish(w.exec(&p, &[]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("/payload/argv"), "{stderr}");
    assert_eq!(w.broker.store().pending_count().unwrap(), 0);
}
