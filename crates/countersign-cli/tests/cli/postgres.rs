//! `countersign serve --database postgres://…`: the same broker and agent API over PostgreSQL,
//! and a clear refusal of a URL it cannot use.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::{Broker, BrokerConfig, Signer};
use countersign_core::api::{DecisionResponse, Status, Submitted};
use countersign_core::ApproverKey;
use countersign_store::Store;

#[path = "../../../countersign-store/tests/store/pg_fixture.rs"]
pub(crate) mod pg_fixture;

#[path = "../../../countersign-broker/tests/broker/long_poll.rs"]
mod long_poll;

fn countersign(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_countersign"));
    c.env("COUNTERSIGN_DATA_DIR", dir.join("data"))
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env("COUNTERSIGN_KEY_PASSPHRASE", "correct horse battery staple")
        .env_remove("COUNTERSIGN_DATABASE");
    c
}

#[test]
fn serve_refuses_a_database_url_it_cannot_use_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        ("mysql://ana@db/cs", "must start with postgres://"),
        ("postgres://ana:s3cret@db:5432/", "names no database"),
        (
            "postgres://ana:s3cret@db/cs?sslmode=require",
            "sslmode=require",
        ),
    ] {
        let out = countersign(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url} must not start a broker");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{url}: {stderr}");
        assert!(
            !stderr.contains("s3cret"),
            "the password is never printed: {stderr}"
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = countersign(dir.path())
        .args(["agent", "list"])
        .env(
            "COUNTERSIGN_DATABASE",
            format!("postgres://ana@127.0.0.1:{port}/cs"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("connect"),
        "an unreachable server is a start-up error naming the connection: {stderr}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Registers the agent `pg-bot` in the database at `url`; its token.
fn add_agent(dir: &Path, url: &str) -> String {
    let added = countersign(dir)
        .args(["agent", "add", "pg-bot", "--token-only"])
        .env("COUNTERSIGN_DATABASE", url)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    String::from_utf8(added.stdout).unwrap().trim().to_string()
}

/// `countersign serve --database url` on a free loopback port (stderr piped); the process and
/// the port.
fn spawn_serve(dir: &Path, url: &str) -> (Child, u16) {
    let port = free_port();
    let serve = countersign(dir)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (serve, port)
}

/// `countersign serve` on a fresh database of the test server, with the agent `pg-bot`.
struct Served {
    url: String,
    /// Holds the data directory (the approver key) for the test's life.
    dir: tempfile::TempDir,
    token: String,
    serve: Child,
    port: u16,
}

/// [`Served`], or `None` when no PostgreSQL server is configured (see `pg_fixture`).
fn serve_new_database() -> Option<Served> {
    let url = pg_fixture::new_database(&pg_fixture::server_url()?);
    let dir = tempfile::tempdir().unwrap();
    let token = add_agent(dir.path(), &url);
    let (serve, port) = spawn_serve(dir.path(), &url);
    Some(Served {
        url,
        dir,
        token,
        serve,
        port,
    })
}

/// An agent client of the broker on `port`, once that broker answers (within 10 s).
fn healthy_client(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    token: &str,
) -> countersign_gate::Client {
    let client =
        countersign_gate::Client::new(&format!("http://127.0.0.1:{port}"), token.into()).unwrap();
    for _ in 0..200 {
        if runtime.block_on(client.health()).is_ok() {
            return client;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("serve --database answers on its port within 10 s");
}

/// A draft the risk rules hold for a human.
fn risky_draft() -> countersign_core::action::Draft {
    serde_json::from_value(serde_json::json!({
        "kind": "shell.exec", "target": "host://build-01", "summary": "clean the cache",
        "payload": {"argv": ["rm", "-rf", "/var/cache/build"]}
    }))
    .unwrap()
}

/// An approver's broker on `store` (another replica) approves `submitted` while `client`
/// long-polls for it (up to 20 s); the answer and how long after the approval it came.
fn approve_while_long_polling(
    runtime: &tokio::runtime::Runtime,
    client: &countersign_gate::Client,
    store: &Arc<Store>,
    submitted: &Submitted,
) -> (DecisionResponse, Duration) {
    let approver = Broker::headless(
        store.clone(),
        Signer {
            key: ApproverKey::from_seed(&zeroize::Zeroizing::new([9; 32])),
            name: "lead".into(),
        },
        BrokerConfig::default(),
    );
    long_poll::approve_while_long_polling(runtime, client, &approver, submitted, 20)
}

#[test]
fn serve_over_postgres_stops_cleanly_on_ctrl_c() {
    let Some(mut served) = serve_new_database() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(|| {
        let client = healthy_client(&runtime, served.port, &served.token);
        // Use the pool (a submission, a long-poll) so that shutdown has clients to close.
        let submitted = runtime.block_on(client.submit(&risky_draft())).unwrap();
        let answer = runtime.block_on(client.decision(&submitted.id, 1)).unwrap();
        assert_eq!(answer.status, Status::Pending);
    });
    let interrupted = Command::new("kill")
        .args(["-INT", &served.serve.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success(), "kill -INT reaches serve");
    let stopped_by = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = served.serve.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > stopped_by {
            let _ = served.serve.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = served.serve.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Err(panic) = result {
        eprintln!("serve's stderr:\n{stderr}");
        std::panic::resume_unwind(panic);
    }
    assert!(
        !stderr.contains("panicked"),
        "closing the PostgreSQL pool at shutdown must not panic:\n{stderr}"
    );
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "serve exits 0 within 20 s of Ctrl-C (None: it had to be killed):\n{stderr}"
    );
}

#[test]
fn serve_over_postgres_takes_a_draft_and_hands_back_a_decision_written_by_another_broker() {
    let Some(mut served) = serve_new_database() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(|| {
        let client = healthy_client(&runtime, served.port, &served.token);
        let submitted = runtime.block_on(client.submit(&risky_draft())).unwrap();
        assert_eq!(submitted.status, Status::Pending);

        // A second broker on the same database (the approver's), as another replica would be.
        let store = Arc::new(Store::open_postgres(&served.url).unwrap());
        let row = store
            .action(&submitted.id)
            .unwrap()
            .expect("committed in PostgreSQL");
        assert_eq!(
            (row.agent.as_str(), row.action_digest.as_str()),
            ("pg-bot", submitted.action_digest.as_str())
        );
        let (answer, _) = approve_while_long_polling(&runtime, &client, &store, &submitted);
        assert_eq!(
            answer.status,
            Status::Approved,
            "the long-poll on `serve` sees the decision"
        );
        assert!(answer.envelope.is_some(), "with its signed envelope");
        let audit = store.verify_audit_chain().unwrap();
        assert_eq!(audit, None, "both brokers' rows form one intact chain");
        let queue = countersign(served.dir.path())
            .args(["queue", "--json"])
            .env("COUNTERSIGN_DATABASE", &served.url)
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&queue.stdout);
        assert!(
            listed.contains(&submitted.id) && listed.contains("approved"),
            "{listed}"
        );
    });
    let _ = served.serve.kill();
    let out = served.serve.wait_with_output().unwrap();
    if let Err(panic) = result {
        eprintln!("serve's stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_replica_killed_right_after_acknowledging_drafts_loses_none_of_them() {
    let Some(mut first) = serve_new_database() else {
        return;
    };
    let second_dir = tempfile::tempdir().unwrap();
    let (mut second, second_port) = spawn_serve(second_dir.path(), &first.url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let to_first = healthy_client(&runtime, first.port, &first.token);
        let to_second = healthy_client(&runtime, second_port, &first.token);
        // Agents keep submitting to the first replica; it is killed (SIGKILL) as soon as it
        // has acknowledged a dozen drafts, with more requests in flight.
        let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<Submitted>::new()));
        let submitters: Vec<_> = (0..4)
            .map(|_| {
                let (client, acknowledged) = (to_first.clone(), acknowledged.clone());
                runtime.spawn(async move {
                    while let Ok(submitted) = client.submit(&risky_draft()).await {
                        acknowledged.lock().unwrap().push(submitted);
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while acknowledged.lock().unwrap().len() < 12 {
            assert!(Instant::now() < deadline, "the first replica takes drafts");
            std::thread::sleep(Duration::from_millis(1));
        }
        first.serve.kill().unwrap();
        first.serve.wait().unwrap();
        let killed_after = acknowledged.lock().unwrap().len();
        for submitter in submitters {
            runtime.block_on(submitter).unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        eprintln!(
            "{killed_after} drafts acknowledged when the first replica was killed, {} in all",
            acknowledged.len()
        );
        for submitted in &acknowledged {
            let status = runtime.block_on(to_second.status(&submitted.id)).unwrap();
            assert_eq!(
                (status.status, status.action_digest.as_str()),
                (Status::Pending, submitted.action_digest.as_str()),
                "the second replica serves every draft the first acknowledged ({})",
                submitted.id
            );
        }
        let last = acknowledged.last().unwrap();
        let store = Arc::new(Store::open_postgres(&first.url).unwrap());
        let (answer, latency) = approve_while_long_polling(&runtime, &to_second, &store, last);
        eprintln!("approval to long-poll answer on the surviving replica: {latency:?}");
        assert_eq!(
            (answer.status, answer.envelope.is_some()),
            (Status::Approved, true),
            "the surviving replica hands over the decision on the last acknowledged draft"
        );
        assert!(
            latency < Duration::from_secs(2),
            "its long-poll answers promptly: {latency:?}"
        );
        assert_eq!(
            store.verify_audit_chain().unwrap(),
            None,
            "the chain is intact after the kill"
        );
    }));
    let _ = second.kill();
    let out = second.wait_with_output().unwrap();
    if let Err(panic) = result {
        eprintln!(
            "the second replica's stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::panic::resume_unwind(panic);
    }
}
