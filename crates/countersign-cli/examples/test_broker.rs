//! A real broker for tests written in other languages (the Python SDK's and the MCP gateway's
//! pytest suites): the broker runs in-process on `127.0.0.1:0`, and decisions go through its
//! use case (`Broker::decide`), as the app's window does. There is no HTTP route that approves,
//! by design; this helper is the test's stand-in for the human, and it is an example, never
//! installed.
//!
//! `test_broker DIR [POLICY_TOML]` prints one JSON line `{"api", "token", "agent", "trust"}` (the agent
//! `bot`'s token and a trust file in DIR), then answers one JSON line per command line on stdin:
//!
//! - `{"op": "next_pending", "timeout_s": 20}` → `{"id", "digest", "action"}` of a pending
//!   draft not returned before (the oldest, up to drafts filed in the same second), or
//!   `{"error"}` after the timeout;
//! - `{"op": "approve", "id", "digest"}` / `{"op": "reject", "id", "digest", "reason"}` →
//!   `{"ok": true}` or `{"error"}`; `{"op": "approve_edited", "id", "digest", "action"}` approves
//!   the approver's edit of the action (`Broker::decide_edited`);
//! - `{"op": "count"}` → `{"count": N}`: drafts filed so far; `{"op": "drafts"}` →
//!   `{"drafts": [{id, status, action, risk}]}`, oldest first; `{"op": "audit"}` →
//!   `{"rows": [{event, action_id, detail}]}`, the audit log in order.
//!
//! With `POLICY_TOML`, the broker runs under that policy, signed by the same key pinned as a
//! lead (the policy's own rules, e.g. `[read_only_tools]`, then decide without the helper).
//!
//! It exits when stdin closes.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use countersign_broker::{Broker, BrokerConfig, DecisionInput, Signer};
use countersign_core::api::Status;
use countersign_core::ApproverKey;
use countersign_store::Store;
use serde_json::{json, Value};

fn main() -> Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow!("usage: test_broker DIR"))?,
    );
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(Store::open(&dir.join("db.sqlite3"))?);
    let key = ApproverKey::from_seed(&zeroize::Zeroizing::new([7; 32]));
    let trust = dir.join("trust.json");
    std::fs::write(
        &trust,
        serde_json::to_vec(&key.trusted_key("ana", "approver"))?,
    )?;
    let mut config = BrokerConfig::default();
    if let Some(path) = std::env::args().nth(2) {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
        let signature = serde_json::to_vec(&countersign_core::policy::sign(&bytes, &key))?;
        let leads = countersign_core::TrustedKeys::from_keys(vec![key.trusted_key("ana", "lead")])?;
        let loaded = countersign_broker::policy::load_policy(
            &store,
            &bytes,
            &signature,
            &leads,
            countersign_broker::now(),
        )?;
        config.policy = Some(Arc::new(loaded));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let broker = runtime.block_on(async {
        let b = Broker::headless(
            store,
            Signer {
                key,
                name: "ana".into(),
            },
            config,
        );
        b.spawn_expiry_loop();
        b
    });
    let token = broker.add_agent("bot")?.token;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let api = format!("http://{}", listener.local_addr()?);
    runtime.spawn(countersign_broker::http::serve(
        listener,
        broker.clone(),
        std::future::pending(),
    ));

    let mut out = std::io::stdout().lock();
    let hello = json!({"api": api, "token": token, "agent": "bot", "trust": trust});
    writeln!(out, "{hello}")?;
    out.flush()?;
    let mut seen = HashSet::new();
    // Decisions run in the runtime's context, as in the app, so callbacks are delivered.
    let _runtime = runtime.enter();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match command(&broker, &mut seen, &line) {
            Ok(v) => v,
            Err(e) => json!({ "error": format!("{e:#}") }),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

fn command(broker: &Broker, seen: &mut HashSet<String>, line: &str) -> Result<Value> {
    let cmd: Value = serde_json::from_str(line).context("command is not JSON")?;
    let text = |k: &str| {
        cmd.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("command has no `{k}`"))
    };
    match text("op")?.as_str() {
        "next_pending" => {
            let timeout = cmd.get("timeout_s").and_then(Value::as_f64).unwrap_or(20.0);
            let deadline = Instant::now() + Duration::from_secs_f64(timeout);
            loop {
                let mut rows = broker.store().actions(1000)?;
                rows.reverse(); // oldest first (ties within a second: any order)
                if let Some(row) = rows
                    .into_iter()
                    .find(|r| r.status == Status::Pending && !seen.contains(&r.id))
                {
                    seen.insert(row.id.clone());
                    return Ok(
                        json!({"id": row.id, "digest": row.action_digest, "action": row.action}),
                    );
                }
                if Instant::now() > deadline {
                    return Err(anyhow!("no new pending draft within {timeout}s"));
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        "approve" => {
            broker.decide(&text("id")?, &text("digest")?, DecisionInput::Approve)?;
            Ok(json!({"ok": true}))
        }
        "approve_edited" => {
            let edited: countersign_core::Action = serde_json::from_value(
                cmd.get("action")
                    .cloned()
                    .ok_or_else(|| anyhow!("command has no `action`"))?,
            )?;
            broker.decide_edited(&text("id")?, &text("digest")?, edited)?;
            Ok(json!({"ok": true}))
        }
        "reject" => {
            let reason = text("reason")?;
            broker.decide(
                &text("id")?,
                &text("digest")?,
                DecisionInput::Reject { reason },
            )?;
            Ok(json!({"ok": true}))
        }
        "count" => Ok(json!({"count": broker.store().actions(100_000)?.len()})),
        "drafts" => {
            let rows = broker.store().actions(100_000)?;
            let drafts: Vec<Value> = rows
                .into_iter()
                .rev()
                .map(
                    |r| json!({"id": r.id, "status": r.status, "action": r.action, "risk": r.risk}),
                )
                .collect();
            Ok(json!({ "drafts": drafts }))
        }
        "audit" => {
            let rows: Vec<Value> = broker
                .store()
                .audit_rows()?
                .into_iter()
                .map(|r| json!({"event": r.event, "action_id": r.action_id, "detail": r.detail}))
                .collect();
            Ok(json!({ "rows": rows }))
        }
        other => Err(anyhow!("unknown op `{other}`")),
    }
}
