//! `countersign serve --database postgres://…`: the same broker and agent API over PostgreSQL,
//! and a clear refusal of a URL it cannot use.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use countersign_broker::{Broker, BrokerConfig, DecisionInput, Signer};
use countersign_core::api::Status;
use countersign_core::ApproverKey;
use countersign_store::Store;

#[path = "../../../countersign-store/tests/store/pg_fixture.rs"]
mod pg_fixture;

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

#[test]
fn serve_over_postgres_takes_a_draft_and_hands_back_a_decision_written_by_another_broker() {
    let Some(server) = pg_fixture::server_url() else {
        return;
    };
    let url = pg_fixture::new_database(&server);
    let dir = tempfile::tempdir().unwrap();
    let added = countersign(dir.path())
        .args(["agent", "add", "pg-bot", "--token-only"])
        .env("COUNTERSIGN_DATABASE", &url)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = String::from_utf8(added.stdout).unwrap().trim().to_string();
    let port = free_port();
    let mut serve = countersign(dir.path())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(|| {
        let client =
            countersign_gate::Client::new(&format!("http://127.0.0.1:{port}"), token.clone())
                .unwrap();
        let mut healthy = false;
        for _ in 0..200 {
            if runtime.block_on(client.health()).is_ok() {
                healthy = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(healthy, "serve --database answers on its port");
        let draft = serde_json::from_value(serde_json::json!({
            "kind": "shell.exec", "target": "host://build-01", "summary": "clean the cache",
            "payload": {"argv": ["rm", "-rf", "/var/cache/build"]}
        }))
        .unwrap();
        let submitted = runtime.block_on(client.submit(&draft)).unwrap();
        assert_eq!(submitted.status, Status::Pending);

        // A second broker on the same database (the approver's), as another replica would be.
        let store = Arc::new(Store::open_postgres(&url).unwrap());
        let row = store
            .action(&submitted.id)
            .unwrap()
            .expect("committed in PostgreSQL");
        assert_eq!(
            (row.agent.as_str(), row.action_digest.as_str()),
            ("pg-bot", submitted.action_digest.as_str())
        );
        let approver = runtime.block_on(async {
            Broker::headless(
                store.clone(),
                Signer {
                    key: ApproverKey::from_seed(&zeroize::Zeroizing::new([9; 32])),
                    name: "lead".into(),
                },
                BrokerConfig::default(),
            )
        });
        let waiting = {
            let client = client.clone();
            let id = submitted.id.clone();
            runtime.spawn(async move { client.decision(&id, 20).await })
        };
        std::thread::sleep(Duration::from_millis(300));
        approver
            .decide(
                &submitted.id,
                &submitted.action_digest,
                DecisionInput::Approve,
            )
            .unwrap();
        let answer = runtime.block_on(waiting).unwrap().unwrap();
        assert_eq!(
            answer.status,
            Status::Approved,
            "the long-poll on `serve` sees the decision"
        );
        assert!(answer.envelope.is_some(), "with its signed envelope");
        let audit = store.verify_audit_chain().unwrap();
        assert_eq!(audit, None, "both brokers' rows form one intact chain");
        let queue = countersign(dir.path())
            .args(["queue", "--json"])
            .env("COUNTERSIGN_DATABASE", &url)
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&queue.stdout);
        assert!(
            listed.contains(&submitted.id) && listed.contains("approved"),
            "{listed}"
        );
    });
    let _ = serve.kill();
    let out = serve.wait_with_output().unwrap();
    if let Err(panic) = result {
        eprintln!("serve's stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        std::panic::resume_unwind(panic);
    }
}
