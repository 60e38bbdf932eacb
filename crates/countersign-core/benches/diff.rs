//! Benchmark of the review of a 5 MiB `file.write` (run: `cargo bench -p countersign-core --bench
//! diff`): what the broker does before the window can show the diff (issue #5: "time to show a
//! 5 MiB diff < 500 ms").
//!
//! Prints the median time of [`TextDiff::compute`] for a new 5 MiB file (every line added) and
//! for an edit of a 5 MiB file (one line in 50 changed: word-level highlights in 2,000 lines)
//! and for its rewrite (every line changed: one replacement of 100,000 lines),
//! of the whole [`review`](countersign_core::review::review), and of serialising the review to
//! JSON (what crosses IPC), with its size. `COUNTERSIGN_BENCH_ROUNDS` (default 10) scales it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use countersign_core::diff::TextDiff;
use countersign_core::review::review;
use countersign_core::Draft;

/// 100,000 lines of about 52 bytes: 5 MiB.
fn file(lines: usize) -> String {
    (0..lines)
        .map(|i| {
            format!(
                "let value_{i:08} = compute(input, {}, \"the label\");\n",
                i % 97
            )
        })
        .collect()
}

/// `old` with one line in `every` changed in a word.
fn edited(old: &str, every: usize) -> String {
    old.lines()
        .enumerate()
        .map(|(i, l)| {
            if i % every == every / 2 {
                format!("{}\n", l.replace("compute(input", "compute_checked(input"))
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::var("COUNTERSIGN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let old = file(100_000);
    let new = edited(&old, 50);
    let rewritten = edited(&old, 1);
    println!(
        "5 MiB diffs ({} bytes, {} lines), median of {rounds}:",
        old.len(),
        old.lines().count()
    );
    for (name, before, after) in [
        ("new file", "", old.as_str()),
        ("edit", &old, &new),
        ("rewrite", &old, &rewritten),
    ] {
        let compute = median(rounds, || {
            black_box(TextDiff::compute(black_box(before), black_box(after)));
        });
        let mut draft = serde_json::json!({
            "kind": "file.write",
            "target": "file:///srv/app/generated.rs",
            "summary": "regenerate",
            "payload": {"path": "/srv/app/generated.rs", "content": after},
        });
        if !before.is_empty() {
            draft["before"] = serde_json::Value::String(before.to_string());
        }
        let bytes = serde_json::to_vec(&draft).unwrap_or_default();
        let action = Draft::parse(&bytes)
            .unwrap_or_else(|e| panic!("bench draft: {e}"))
            .action();
        let whole = median(rounds, || {
            black_box(review(black_box(&action)));
        });
        let r = review(&action);
        let mut size = 0;
        let json = median(rounds, || {
            size = serde_json::to_vec(black_box(&r)).map_or(0, |v| v.len());
        });
        println!(
            "  {name:<9} diff {}   review {}   review → JSON {} ({:.1} MiB)",
            ms(compute),
            ms(whole),
            ms(json),
            size as f64 / (1024.0 * 1024.0)
        );
    }
}
