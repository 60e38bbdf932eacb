//! Co-signing between two machines, as two data dirs with their own keys: the engineer's app
//! (a broker in this process on data dir E) approves a draft that needs a lead, `countersign
//! cosign export` writes the request, `countersign cosign sign` on the lead's data dir L adds
//! the lead's signature, the app imports the response, and `countersign exec --approvals 2
//! --lead` — waiting all along — runs the action under the two-signature envelope.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use countersign_broker::policy::PolicyFiles;
use countersign_broker::{Broker, BrokerConfig, Signer};
use countersign_core::api::Status;
use countersign_store::Store;

use crate::{finish, marker_draft};

const PASSPHRASE: &str = "correct horse battery staple";

fn countersign(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args(["--key-store", "file"])
        .env("COUNTERSIGN_KEY_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn an_engineer_and_a_lead_on_two_data_dirs_produce_an_envelope_the_gate_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (eng, lead) = (dir.path().join("engineer"), dir.path().join("lead"));
    let path = |name: &str| dir.path().join(name);

    // Keys and trust: each machine exports its public key; the lead signs the policy.
    let eng_pub = ok(countersign(
        &eng,
        &["key", "export-public", "--approver", "eng"],
        None,
    ))
    .stdout;
    let lead_pub = ok(countersign(
        &lead,
        &[
            "key",
            "export-public",
            "--role",
            "lead",
            "--approver",
            "lea",
        ],
        None,
    ))
    .stdout;
    std::fs::write(path("lead.pub"), &lead_pub).unwrap();
    let team = format!(
        "{{\"keys\": [{}, {}]}}",
        String::from_utf8(eng_pub).unwrap(),
        String::from_utf8(lead_pub).unwrap()
    );
    std::fs::write(path("team.json"), team).unwrap();
    std::fs::write(
        path("policy.toml"),
        "serial = 1\n[thresholds]\nlead_required_from = 0\n",
    )
    .unwrap();
    ok(countersign(
        &lead,
        &["policy", "sign", path("policy.toml").to_str().unwrap()],
        None,
    ));

    // The engineer's app on data dir E.
    let store = Arc::new(Store::open(&eng.join(countersign_store::DB_FILE)).unwrap());
    let policy = countersign_broker::policy::load_policy_files(
        &store,
        &PolicyFiles {
            policy: Some(path("policy.toml")),
            signature: None,
            lead_trust: Some(path("lead.pub")),
        },
        countersign_broker::now(),
    )
    .unwrap();
    let key = countersign_broker::keystore::load_file_with(&eng, PASSPHRASE).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = runtime.block_on(async {
        Broker::headless(
            store,
            Signer {
                key,
                name: "eng".into(),
            },
            BrokerConfig {
                policy,
                ..BrokerConfig::default()
            },
        )
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

    // The agent's gate demands two approvers, one of them a lead.
    let marker = path("marker");
    std::fs::write(
        path("d.json"),
        serde_json::to_vec(&marker_draft(&marker)).unwrap(),
    )
    .unwrap();
    let gate = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["exec", "--action"])
        .arg(path("d.json"))
        .arg("--trust")
        .arg(path("team.json"))
        .args([
            "--approvals",
            "2",
            "--lead",
            "--api",
            &base,
            "--timeout",
            "60",
            "--state-dir",
        ])
        .arg(path("gate"))
        .env("COUNTERSIGN_TOKEN", &token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let row = (0..200)
        .find_map(|_| {
            let row = broker
                .store()
                .actions(10)
                .unwrap()
                .into_iter()
                .find(|r| r.status == Status::Pending);
            if row.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            row
        })
        .expect("the draft is filed");
    assert!(broker.detail(&row.id).unwrap().cosign_needed.is_some());
    broker
        .approve_for_cosign(&row.id, &row.action_digest)
        .unwrap();

    // Machine E exports; machine L reviews and signs after typing the digest's first 8 digits.
    let request = path("request.json");
    ok(countersign(
        &eng,
        &[
            "cosign",
            "export",
            &row.id,
            "--out",
            request.to_str().unwrap(),
        ],
        None,
    ));
    let refused = countersign(
        &lead,
        &["cosign", "sign", request.to_str().unwrap()],
        Some("no\n"),
    );
    assert_eq!(
        refused.status.code(),
        Some(3),
        "no confirmation, no signature"
    );
    assert!(!path("request.response.json").exists());
    let prefix = &row.action_digest["sha256:".len().."sha256:".len() + 8];
    let signed = ok(countersign(
        &lead,
        &["cosign", "sign", request.to_str().unwrap()],
        Some(&format!("{prefix}\n")),
    ));
    let shown = String::from_utf8_lossy(&signed.stderr);
    assert!(shown.contains("risk scored here"), "{shown}");
    assert!(shown.contains(&row.action_digest), "{shown}");
    assert!(
        !marker.exists(),
        "nothing runs before the lead's signature is imported"
    );

    // The engineer imports the response with the CLI, next to the running app: quorum met,
    // envelope recorded; the app's long-poll sees it in the store and releases it.
    let imported = ok(countersign(
        &eng,
        &[
            "cosign",
            "import",
            path("request.response.json").to_str().unwrap(),
            "--policy",
            path("policy.toml").to_str().unwrap(),
            "--lead-trust",
            path("lead.pub").to_str().unwrap(),
            "--approver",
            "eng",
        ],
        None,
    ));
    let outcome = String::from_utf8_lossy(&imported.stdout);
    assert!(outcome.contains("\"outcome\": \"released\""), "{outcome}");
    let started = std::time::Instant::now();
    let (out, stderr) = finish(gate);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "ran");
    assert!(
        stderr.contains("eng (approver") && stderr.contains("lea (lead"),
        "both signers named: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a decision written by another process reaches the waiting agent within seconds: {:?}",
        started.elapsed()
    );
    let again = countersign(
        &eng,
        &[
            "cosign",
            "import",
            path("request.response.json").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        again.status.code(),
        Some(4),
        "a second import of the same response is refused"
    );
}

#[test]
fn cosign_export_of_a_draft_that_awaits_nothing_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = countersign(dir.path(), &["cosign", "export", "no-such-draft"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no draft with id no-such-draft"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
