//! Team mode end to end: two `countersign serve` replicas on one PostgreSQL database with a
//! lead-signed roster and policy; an engineer and a lead, each on their own data dir (their
//! keys never leave it), log in to different replicas with the challenge, follow the queue,
//! and approve through the team API; the agent's gate receives a two-signature envelope.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::postgres::pg_fixture;

/// Strict JSON of a command's output.
fn json(bytes: &[u8]) -> Value {
    countersign_core::json::parse_strict(bytes).unwrap()
}

fn countersign(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_countersign"));
    c.env("COUNTERSIGN_DATA_DIR", data)
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env("COUNTERSIGN_KEY_PASSPHRASE", "correct horse battery staple")
        .env_remove("COUNTERSIGN_DATABASE")
        .env_remove("COUNTERSIGN_API")
        .env_remove("COUNTERSIGN_TOKEN");
    // Each data dir's approver is named after it (engineer, lead, a, b, agent).
    if let Some(name) = data.file_name() {
        c.env("COUNTERSIGN_APPROVER", name);
    }
    c
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run(data: &Path, args: &[&str]) -> Output {
    countersign(data).args(args).output().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Everything a team needs on disk: an engineer's and a lead's data dirs (keys created on
/// first use), the lead trust file (anchors), the roster and policy signed by the lead, and a
/// trust file with both keys for the gate.
struct TeamFiles {
    root: tempfile::TempDir,
}

impl TeamFiles {
    fn new(policy: &str) -> TeamFiles {
        let root = tempfile::tempdir().unwrap();
        let t = TeamFiles { root };
        let eng = ok(run(
            &t.engineer(),
            &["key", "export-public", "--role", "approver"],
        ))
        .stdout;
        let lead = ok(run(&t.lead(), &["key", "export-public", "--role", "lead"])).stdout;
        std::fs::write(t.path("eng.json"), &eng).unwrap();
        std::fs::write(t.path("lead-trust.json"), &lead).unwrap();
        let both = serde_json::json!({"keys": [
            json(&eng),
            json(&lead),
        ]});
        std::fs::write(t.path("gate-trust.json"), both.to_string()).unwrap();
        let roster = ok(run(
            &t.lead(),
            &[
                "team",
                "roster",
                "--team",
                "payments",
                "--serial",
                "1",
                t.s("eng.json"),
                t.s("lead-trust.json"),
            ],
        ))
        .stdout;
        std::fs::write(t.path("roster.json"), roster).unwrap();
        ok(run(&t.lead(), &["team", "sign-roster", t.s("roster.json")]));
        std::fs::write(t.path("policy.toml"), policy).unwrap();
        ok(run(&t.lead(), &["policy", "sign", t.s("policy.toml")]));
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn s(&self, name: &str) -> &str {
        // Leaked for the test's life: argument lists want &str.
        Box::leak(self.path(name).display().to_string().into_boxed_str())
    }

    fn engineer(&self) -> PathBuf {
        self.path("engineer")
    }

    fn lead(&self) -> PathBuf {
        self.path("lead")
    }

    /// A replica: `countersign serve --database url` with the team roster and policy, on a
    /// free loopback port, once it answers.
    fn replica(&self, name: &str, url: &str) -> (Child, u16) {
        let port = free_port();
        let child = countersign(&self.path(name))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                url,
                "--policy",
                self.s("policy.toml"),
                "--lead-trust",
                self.s("lead-trust.json"),
                "--team-roster",
                self.s("roster.json"),
                "--escalate-after",
                "2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "replica {name} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        (child, port)
    }
}

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn pending_id(data: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ok(run(data, &["team", "drafts", "--json"]));
        let list = json(&out.stdout).as_array().unwrap().clone();
        if let Some(d) = list.first() {
            return d["summary"]["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no draft reached the team queue");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_engineer_and_a_lead_on_two_replicas_release_a_two_signature_envelope_to_the_gate() {
    let Some(server) = pg_fixture::server_url() else {
        eprintln!("skipped: no PostgreSQL server configured (run under scripts/pg-test.sh)");
        return;
    };
    let url = pg_fixture::new_database(&server);
    let t = TeamFiles::new("serial = 1\n[thresholds]\ntwo_approvers_from = 1\n");
    let token = String::from_utf8(
        ok(countersign(&t.path("a"))
            .args([
                "agent",
                "add",
                "deploy-bot",
                "--token-only",
                "--database",
                &url,
            ])
            .output()
            .unwrap())
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let (a, port_a) = t.replica("a", &url);
    let (b, port_b) = t.replica("b", &url);
    let mut procs = Kill(vec![a, b]);

    // The engineer logs in to replica B, the lead to replica A: the roster verified against
    // the pinned lead key, the challenge signed with the approver key.
    let server_a = format!("http://127.0.0.1:{port_a}");
    let server_b = format!("http://127.0.0.1:{port_b}");
    let eng = t.engineer();
    let lead = t.lead();
    let login = |data: &Path, server: &str| {
        let out = ok(run(
            data,
            &[
                "team",
                "login",
                "--server",
                server,
                "--lead-trust",
                t.s("lead-trust.json"),
            ],
        ));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(login(&eng, &server_b).contains("as engineer"));
    assert!(login(&lead, &server_a).contains("(lead"));
    let session = std::fs::read_to_string(eng.join("team-session.json")).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(eng.join("team-session.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the session file is private: {mode:o}");
    assert!(session.contains("\"team\": \"payments\""));

    // The engineer follows the queue on B (a snapshot, then the draft when it arrives on A).
    let watch = countersign(&eng)
        .args(["team", "watch", "--count", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // The agent submits through replica A and waits for a decision its gate verifies with
    // both keys pinned, demanding two approvers, one a lead.
    let marker = t.path("ran");
    std::fs::write(
        t.path("draft.json"),
        serde_json::json!({"kind": "shell.exec", "target": "host://test", "summary": "touch a marker",
            "payload": {"argv": ["sh", "-c", format!("echo ran > '{}'", marker.display())]}})
        .to_string(),
    )
    .unwrap();
    let exec = countersign(&t.path("agent"))
        .args([
            "exec",
            "--action",
            t.s("draft.json"),
            "--trust",
            t.s("gate-trust.json"),
            "--api",
            &server_a,
            "--approvals",
            "2",
            "--lead",
            "--timeout",
            "60",
            "--state-dir",
            t.s("gate"),
            "--envelope-out",
            t.s("envelope.json"),
        ])
        .env("COUNTERSIGN_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let id = pending_id(&eng);
    let watched = watch.wait_with_output().unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&watched.stdout)
        .lines()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(events[0]["type"], "snapshot");
    assert_eq!(events[1]["type"], "pending", "{events:?}");
    assert_eq!(events[1]["draft"]["summary"]["id"], id.as_str());
    assert_eq!(events[1]["draft"]["requirement"], "two_approvers");

    // The engineer claims it (in review to the lead) and signs on B: one signature, waiting.
    ok(run(&eng, &["team", "claim", &id]));
    let listed = ok(run(&lead, &["team", "drafts", "--json"])).stdout;
    let listed = json(&listed);
    assert_eq!(listed[0]["claim"]["approver"], "engineer");
    let first = ok(run(&eng, &["team", "approve", &id]));
    let first = json(&first.stdout);
    assert_eq!(first["outcome"], "awaiting", "{first}");
    assert!(!marker.exists(), "nothing runs on one signature");
    // A second signature by the same key counts once.
    let again = run(&eng, &["team", "approve", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already signed"));

    // The lead co-signs the same body on A: released.
    let second = ok(run(&lead, &["team", "approve", &id]));
    let second = json(&second.stdout);
    assert_eq!(second["outcome"], "released", "{second}");
    assert_eq!(second["signers"], serde_json::json!(["engineer", "lead"]));

    let out = exec.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the gate runs the approved action: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "ran");
    let envelope = json(&std::fs::read(t.path("envelope.json")).unwrap());
    assert_eq!(envelope["signatures"].as_array().unwrap().len(), 2);

    // The audit log on the shared database names the logins and the roster, and verifies.
    let audit = ok(countersign(&t.path("a"))
        .args(["audit", "export", "--database", &url])
        .output()
        .unwrap())
    .stdout;
    let audit = String::from_utf8_lossy(&audit);
    assert!(audit.contains("team.roster_loaded") && audit.contains("team.login"));
    assert!(audit.contains("action.awaiting_cosign") && audit.contains("action.approved"));
    procs.0.iter_mut().for_each(|c| {
        let _ = c.kill();
    });
}
