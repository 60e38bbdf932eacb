//! Benchmark of the review of a 5 MiB `file.write` (run: `cargo bench -p countersign-core --bench
//! diff`): what the broker does before the window can show the diff (issue #5: "time to show a
//! 5 MiB diff < 500 ms").
//!
//! Prints the median time of [`TextDiff::compute`] for a new 5 MiB file (every line added) and
//! for an edit of a 5 MiB file (one line in 50 changed: word-level highlights in 2,000 lines)
//! and for its rewrite (every line changed: one replacement of 100,000 lines),
//! of the whole [`review`](countersign_core::review::review), and of serialising the review to
//! JSON (what crosses IPC), with its size. Then the same for a 5 MiB `.json` file, whose review
//! also lists its changed paths ([`JsonPaths::compute`], issue #5), for an edit (one item in 50
//! changed) and a rewrite (every item changed: the list is capped). `COUNTERSIGN_BENCH_ROUNDS`
//! (default 10) scales it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use countersign_core::diff::TextDiff;
use countersign_core::json::parse_strict;
use countersign_core::jsondiff::JsonPaths;
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

/// A pretty-printed JSON document of `items` objects (about 150 bytes each); in `changed` of
/// them (`i % every == 0`) a limit and a flag differ.
fn json_file(items: usize, every: usize) -> String {
    let list: Vec<serde_json::Value> = (0..items)
        .map(|i| {
            let changed = every > 0 && i % every == 0;
            serde_json::json!({
                "id": i,
                "name": format!("item {i:08}"),
                "tags": ["alpha", "beta"],
                "limits": {"rows": if changed { 5000 } else { 500 }, "on": !changed},
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"version": 1, "items": list}))
        .unwrap_or_default()
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

    let old = json_file(28_000, 0);
    let old_value = parse_strict(old.as_bytes()).unwrap_or_else(|e| panic!("bench JSON: {e}"));
    println!(
        "5 MiB JSON file ({} bytes, {} lines), median of {rounds}:",
        old.len(),
        old.lines().count()
    );
    for (name, every) in [("edit", 50), ("rewrite", 1)] {
        let new = json_file(28_000, every);
        let new_value = parse_strict(new.as_bytes()).unwrap_or_else(|e| panic!("bench JSON: {e}"));
        let paths = JsonPaths::compute(&old_value, &new_value);
        let compute = median(rounds, || {
            black_box(JsonPaths::compute(
                black_box(&old_value),
                black_box(&new_value),
            ));
        });
        let parse = median(rounds, || {
            black_box(parse_strict(black_box(old.as_bytes())).is_ok());
        });
        let action = Draft::from_value(serde_json::json!({
            "kind": "file.write",
            "target": "file:///srv/app/items.json",
            "summary": "regenerate",
            "before": old,
            "payload": {"path": "/srv/app/items.json", "content": new},
        }))
        .unwrap_or_else(|e| panic!("bench draft: {e}"))
        .action();
        let whole = median(rounds, || {
            black_box(review(black_box(&action)));
        });
        let size = serde_json::to_vec(&paths).map_or(0, |v| v.len());
        println!(
            "  {name:<9} paths {} ({} listed + {} more, {:.1} KiB)   parse one side {}   review {}",
            ms(compute),
            paths.changes.len(),
            paths.more,
            size as f64 / 1024.0,
            ms(parse),
            ms(whole),
        );
    }
}
