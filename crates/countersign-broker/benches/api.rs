//! Benchmark of the agent API (run: `cargo bench -p countersign-broker --bench api`).
//!
//! Prints:
//! - submissions per second and p50/p99 latency of `POST /v1/actions` (201 = committed to
//!   SQLite with `synchronous=FULL`) with 16 concurrent agents over real HTTP on loopback;
//! - time from a decision (the use case the app calls) to the waiting agent holding the signed
//!   envelope from its long-poll, p50/p99;
//! - time from an agent starting `POST /v1/actions` to the broker handing the committed draft
//!   to the notifier (what the desktop app turns into a notification on its own thread), p50/p99.
//!
//! `COUNTERSIGN_BENCH_SUBMISSIONS` (default 200 per agent) and `COUNTERSIGN_BENCH_DECISIONS`
//! (default 100) scale it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::{Broker, BrokerConfig, DecisionInput, Notifier, PendingNotice, Signer};
use countersign_core::api::QueueEvent;
use countersign_core::{ApproverKey, Draft};
use countersign_gate::Client;
use countersign_store::Store;

const AGENTS: usize = 16;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn draft(i: usize) -> Draft {
    Draft::from_value(serde_json::json!({
        "kind": "message.post",
        "target": "forum://eng-help/thread/42",
        "summary": format!("reply #{i}"),
        "payload": {"channel": "eng-help", "audience": "team:data-eng",
                    "body": format!("Try restarting the exporter ({i}); see the runbook.")}
    }))
    .expect("valid bench draft")
}

/// Records when each draft reached the notifier.
struct Stopwatch(std::sync::Mutex<std::sync::mpsc::Sender<Instant>>);

impl Notifier for Stopwatch {
    fn draft_pending(&self, _: &PendingNotice) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(Instant::now());
        }
    }
    fn queue_changed(&self, _: &QueueEvent) {}
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let per_agent = env_usize("COUNTERSIGN_BENCH_SUBMISSIONS", 200);
    let decisions = env_usize("COUNTERSIGN_BENCH_DECISIONS", 100);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("bench.sqlite3")).expect("store"));
    let config = BrokerConfig {
        max_pending_per_agent: u32::MAX,
        ..Default::default()
    };
    let broker = Broker::headless(
        store,
        Signer {
            key: ApproverKey::generate(),
            name: "bench".into(),
        },
        config,
    );
    let tokens: Vec<String> = (0..AGENTS)
        .map(|i| {
            broker
                .add_agent(&format!("agent-{i}"))
                .expect("agent")
                .token
        })
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(countersign_broker::http::serve(
        listener,
        broker.clone(),
        std::future::pending(),
    ));

    // 1. Submissions.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in &tokens {
        let client = Client::new(&base, token.clone()).expect("client");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_agent);
            for i in 0..per_agent {
                let d = draft(i);
                let t = Instant::now();
                client.submit(&d).await.expect("submit");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    lat.sort();
    let total = lat.len();
    println!(
        "POST /v1/actions, {AGENTS} concurrent agents, {total} submissions committed in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  throughput: {:.0} submissions/s",
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency: p50 {}  p99 {}  max {}",
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap_or(&Duration::ZERO))
    );

    // 2. Decision → waiting agent.
    let client = Client::new(&base, tokens[0].clone()).expect("client");
    let mut delivery = Vec::with_capacity(decisions);
    for i in 0..decisions {
        let s = client.submit(&draft(i)).await.expect("submit");
        let waiter = {
            let client = Client::new(&base, tokens[0].clone()).expect("client");
            let id = s.id.clone();
            tokio::spawn(async move {
                let r = client.decision(&id, 30).await.expect("long-poll");
                (Instant::now(), r)
            })
        };
        // Let the long-poll reach the broker before deciding.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = broker.clone();
        let decided_at = Instant::now();
        tokio::task::spawn_blocking(move || {
            b.decide(&s.id, &s.action_digest, DecisionInput::Approve)
        })
        .await
        .expect("task")
        .expect("decide");
        let (received_at, r) = waiter.await.expect("waiter");
        assert!(
            r.envelope.is_some(),
            "the waiting agent must receive the envelope"
        );
        delivery.push(received_at.saturating_duration_since(decided_at));
    }
    delivery.sort();
    println!("decision → waiting agent has the signed envelope ({decisions} decisions, incl. signing and commit)");
    println!(
        "  p50 {}  p99 {}  max {}",
        ms(percentile(&delivery, 0.50)),
        ms(percentile(&delivery, 0.99)),
        ms(*delivery.last().unwrap_or(&Duration::ZERO))
    );

    // 3. Submission → notifier.
    let (tx, rx) = std::sync::mpsc::channel();
    let store = Arc::new(Store::open(&dir.path().join("notify.sqlite3")).expect("store"));
    let notified = Broker::new(
        store,
        Signer {
            key: ApproverKey::generate(),
            name: "bench".into(),
        },
        Arc::new(Stopwatch(std::sync::Mutex::new(tx))),
        BrokerConfig {
            max_pending_per_agent: u32::MAX,
            ..Default::default()
        },
    );
    let token = notified.add_agent("notify-agent").expect("agent").token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(countersign_broker::http::serve(
        listener,
        notified,
        std::future::pending(),
    ));
    let client = Client::new(&base, token).expect("client");
    let mut to_notice = Vec::with_capacity(decisions);
    for i in 0..decisions {
        let t = Instant::now();
        client.submit(&draft(i)).await.expect("submit");
        let at = rx.recv_timeout(Duration::from_secs(5)).expect("notified");
        to_notice.push(at.saturating_duration_since(t));
    }
    to_notice.sort();
    println!("submission → notifier has the committed draft ({decisions} drafts; the app shows it on its notification thread, coalescing bursts)");
    println!(
        "  p50 {}  p99 {}  max {}",
        ms(percentile(&to_notice, 0.50)),
        ms(percentile(&to_notice, 0.99)),
        ms(*to_notice.last().unwrap_or(&Duration::ZERO))
    );
}
