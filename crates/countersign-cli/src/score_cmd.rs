//! `countersign score`: the risk score of drafts, offline (no app, no broker, no key), for
//! evaluation and CI.
//!
//! `countersign score draft.json` prints one JSON object: `{score, level, factors,
//! action_digest}`. `countersign score --jsonl FILE|-` reads one draft per line and prints one
//! object per line (`{"line": N, …}`, or `{"line": N, "error": {code, message}}` for a line
//! that is not a valid draft); blank lines are skipped. Exit 0 when every draft was scored,
//! 1 when any was refused.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use countersign_core::action::DraftError;
use countersign_core::risk::{score_with, RiskContext};
use countersign_core::Draft;
use serde_json::{json, Value};

/// Arguments of `countersign score`.
#[derive(Args)]
pub struct ScoreArgs {
    /// A draft (JSON), or `-` for standard input.
    #[arg(default_value = "-")]
    input: PathBuf,
    /// One draft per line (JSON Lines); prints one result per line.
    #[arg(long)]
    jsonl: bool,
    /// An organisation domain (repeatable): recipients, principals and hosts elsewhere count as
    /// outside. Added to the domains of --policy.
    #[arg(long = "org-domain", value_name = "DOMAIN")]
    org_domains: Vec<String>,
    /// A policy.toml whose org domains and sensitive patterns the score uses. Its signature is
    /// not checked: offline scoring decides nothing (the broker verifies the policy it enforces).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

fn open(input: &PathBuf) -> anyhow::Result<Box<dyn BufRead>> {
    if input.as_os_str() == "-" {
        Ok(Box::new(std::io::BufReader::new(std::io::stdin())))
    } else {
        let f = std::fs::File::open(input)
            .with_context(|| format!("cannot open {}", input.display()))?;
        Ok(Box::new(std::io::BufReader::new(f)))
    }
}

/// The result for one draft, as JSON.
fn scored(bytes: &[u8], ctx: &RiskContext) -> Result<Value, Value> {
    match Draft::parse(bytes) {
        Ok(draft) => {
            let action = draft.action();
            let risk = score_with(&action, ctx);
            let mut v = serde_json::to_value(&risk).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert(
                    "action_digest".into(),
                    json!(countersign_core::digest::action_digest(&action).to_string()),
                );
            }
            Ok(v)
        }
        Err(e) => {
            let code = match e {
                DraftError::Json(_) => "malformed_json",
                DraftError::Invalid(_) => "invalid_draft",
            };
            Err(json!({ "code": code, "message": e.to_string() }))
        }
    }
}

/// Runs `countersign score`.
pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let mut ctx = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            countersign_core::policy::Policy::parse(&text)?.risk_context()
        }
        None => RiskContext::default(),
    };
    ctx.org_domains
        .extend(args.org_domains.iter().map(|d| d.to_ascii_lowercase()));
    let mut input = open(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.jsonl {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        return match scored(&bytes, &ctx) {
            Ok(v) => {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!(
                    "countersign: {}",
                    e["message"].as_str().unwrap_or("invalid draft")
                );
                Ok(ExitCode::FAILURE)
            }
        };
    }
    let mut failed = false;
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        n += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = match scored(&line, &ctx) {
            Ok(Value::Object(mut m)) => {
                m.insert("line".into(), json!(n));
                Value::Object(m)
            }
            Ok(other) => other,
            Err(e) => {
                failed = true;
                json!({ "line": n, "error": e })
            }
        };
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
