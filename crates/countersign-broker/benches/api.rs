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

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::{Broker, BrokerConfig, Notifier, PendingNotice, Signer};
use countersign_core::api::QueueEvent;
use countersign_core::ApproverKey;
use countersign_gate::Client;
use countersign_store::Store;

use common::{decision_delivery, draft, env_usize, print_spread, submissions};

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
    let broker = common::broker(store);
    let tokens = common::agents(&broker);
    let base = common::serve(&broker).await;

    // 1. Submissions.
    submissions(std::slice::from_ref(&base), &tokens, per_agent).await;

    // 2. Decision → waiting agent.
    let mut delivery = decision_delivery(&broker, &base, &base, &tokens[0], decisions).await;
    println!("decision → waiting agent has the signed envelope ({decisions} decisions, incl. signing and commit)");
    print_spread(&mut delivery);

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
    let base = common::serve(&notified).await;
    let client = Client::new(&base, token).expect("client");
    let mut to_notice = Vec::with_capacity(decisions);
    for i in 0..decisions {
        let t = Instant::now();
        client.submit(&draft(i)).await.expect("submit");
        let at = rx.recv_timeout(Duration::from_secs(5)).expect("notified");
        to_notice.push(at.saturating_duration_since(t));
    }
    println!("submission → notifier has the committed draft ({decisions} drafts; the app shows it on its notification thread, coalescing bursts)");
    print_spread(&mut to_notice);
}
