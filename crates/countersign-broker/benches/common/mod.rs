//! What the API benchmarks share: the load (16 concurrent agents submitting over real HTTP),
//! the decision-to-delivery measurement, and how figures are printed.
#![allow(dead_code)] // each benchmark uses what it needs

use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::{Broker, BrokerConfig, DecisionInput, Signer};
use countersign_core::{ApproverKey, Draft};
use countersign_gate::Client;
use countersign_store::Store;

/// Concurrent agents submitting in the throughput run.
pub const AGENTS: usize = 16;

/// The unsigned integer in the environment variable `name`, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0.0–1.0, nearest rank) of `sorted`; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `d` in milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Prints `  p50 …  p99 …  max …` of `lat`, sorting it first.
pub fn print_spread(lat: &mut [Duration]) {
    lat.sort();
    println!(
        "  p50 {}  p99 {}  max {}",
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.99)),
        ms(*lat.last().unwrap_or(&Duration::ZERO))
    );
}

/// The `i`th draft of a run: a low-risk forum reply, distinct by its number.
pub fn draft(i: usize) -> Draft {
    Draft::from_value(serde_json::json!({
        "kind": "message.post",
        "target": "forum://eng-help/thread/42",
        "summary": format!("reply #{i}"),
        "payload": {"channel": "eng-help", "audience": "team:data-eng",
                    "body": format!("Try restarting the exporter ({i}); see the runbook.")}
    }))
    .expect("valid bench draft")
}

/// A headless broker on `store` without a pending limit, signing with a new key.
pub fn broker(store: Arc<Store>) -> Broker {
    Broker::headless(
        store,
        Signer {
            key: ApproverKey::generate(),
            name: "bench".into(),
        },
        BrokerConfig {
            max_pending_per_agent: u32::MAX,
            ..Default::default()
        },
    )
}

/// Registers [`AGENTS`] agents through `broker`; their tokens.
pub fn agents(broker: &Broker) -> Vec<String> {
    (0..AGENTS)
        .map(|i| {
            broker
                .add_agent(&format!("agent-{i}"))
                .expect("agent")
                .token
        })
        .collect()
}

/// Serves `broker`'s agent API on a free loopback port until the process ends; its base URL.
pub async fn serve(broker: &Broker) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(countersign_broker::http::serve(
        listener,
        broker.clone(),
        std::future::pending(),
    ));
    base
}

/// The throughput run: agent `i` (token `tokens[i]`) submits `per_agent` drafts one after
/// another to `bases[i % bases.len()]`, all agents at once; prints submissions per second and
/// the latency of `POST /v1/actions` (201 = committed), and returns the submissions per second.
pub async fn submissions(bases: &[String], tokens: &[String], per_agent: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let client = Client::new(&bases[i % bases.len()], token.clone()).expect("client");
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
    let total = lat.len();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "POST /v1/actions, {} concurrent agents, {total} submissions committed in {:.2} s",
        tokens.len(),
        elapsed.as_secs_f64()
    );
    println!("  throughput: {rate:.0} submissions/s");
    print!("  latency:");
    print_spread(&mut lat);
    rate
}

/// The delivery run, `decisions` times: the agent with `token` submits to `submit_base` and
/// long-polls on `poll_base`; `decider` approves (the use case the app calls: signing and
/// commit included); returns the times from the decision's start to the agent holding the
/// signed envelope.
pub async fn decision_delivery(
    decider: &Broker,
    submit_base: &str,
    poll_base: &str,
    token: &str,
    decisions: usize,
) -> Vec<Duration> {
    let submitter = Client::new(submit_base, token.into()).expect("client");
    let mut delivery = Vec::with_capacity(decisions);
    for i in 0..decisions {
        let s = submitter.submit(&draft(i)).await.expect("submit");
        let waiter = {
            let client = Client::new(poll_base, token.into()).expect("client");
            let id = s.id.clone();
            tokio::spawn(async move {
                let r = client.decision(&id, 30).await.expect("long-poll");
                (Instant::now(), r)
            })
        };
        // Let the long-poll reach the broker before deciding.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = decider.clone();
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
    delivery
}
