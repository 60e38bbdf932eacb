//! The agent-side commands: `exec` and `verify`.
//!
//! `exec` exit codes: the executor's own code when the approved action ran; 3 when a human
//! rejected the draft or it expired; 4 when the decision was refused (bad or unpinned
//! signature, digest mismatch, wrong audience, stale, replay); 1 for any other failure
//! (unreadable draft, broker unreachable, timeout). Nothing runs unless the decision verified
//! and its single use was recorded.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use countersign_core::decision::{Quorum, Verdict};
use countersign_core::{Draft, TrustedKeys};
use countersign_gate::{
    execute, run_gated, verify_offline, Client, Freshness, GateFailure, GateOptions, Ledger,
};

/// Exit code: a human rejected the draft, or it expired undecided.
pub const EXIT_REJECTED: u8 = 3;
/// Exit code: the decision could not be trusted.
pub const EXIT_REFUSED: u8 = 4;

/// `countersign exec`.
#[derive(Args)]
pub struct ExecArgs {
    /// The draft (JSON file, `-` for standard input): kind, target, summary, payload, before…
    #[arg(long)]
    action: PathBuf,
    /// Trust file with the pinned approver key(s) (`countersign key export-public`).
    #[arg(long)]
    trust: PathBuf,
    /// Base URL of the Countersign agent API.
    #[arg(long, env = "COUNTERSIGN_API", default_value = "http://127.0.0.1:7823")]
    api: String,
    /// File holding the agent's bearer token (else the COUNTERSIGN_TOKEN environment variable;
    /// never pass a token as an argument, where other users can read it).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Seconds to wait for a decision (default: the draft's lifetime plus a minute).
    #[arg(long)]
    timeout: Option<u64>,
    /// Directory of the gate's single-use ledger (default: the platform data dir's `gate/`).
    #[arg(long, env = "COUNTERSIGN_GATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Also write the received envelope here.
    #[arg(long)]
    envelope_out: Option<PathBuf>,
    /// Run only decisions taken under this lead-signed policy (its `policy_sha256`), signed by
    /// the quorum its band asks for the action's score (`two_approvers`: two distinct keys of
    /// --trust; `lead_required`: one pinned as `lead`), on top of --approvals/--lead. The
    /// policy's signature (FILE.sig) is checked against --lead-trust before anything is
    /// submitted.
    #[arg(long, requires = "lead_trust")]
    policy: Option<PathBuf>,
    /// Trust file pinning the lead keys that sign the policy.
    #[arg(long)]
    lead_trust: Option<PathBuf>,
    #[command(flatten)]
    quorum: QuorumArgs,
    /// Executor for non-shell actions: receives the approved action JSON on stdin.
    #[arg(last = true)]
    executor: Vec<String>,
}

/// The quorum a gate demands of an envelope's signatures, whatever the broker released.
#[derive(Args, Clone, Copy)]
pub struct QuorumArgs {
    /// Run only a decision signed by at least N distinct approvers pinned in --trust (each key
    /// counts once, however many ids or signatures it has; a revoked key and a key pinned under
    /// the requesting agent's own name count zero).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    approvals: u16,
    /// Run only a decision that one of those approvers signed with a key pinned as role `lead`.
    #[arg(long)]
    lead: bool,
}

impl QuorumArgs {
    fn quorum(self) -> Quorum {
        Quorum {
            approvals: usize::from(self.approvals),
            lead: self.lead,
        }
    }
}

/// `countersign verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Envelope file (a DSSE envelope, or a decision response carrying one).
    #[arg(long)]
    envelope: PathBuf,
    /// Trust file with the pinned approver key(s).
    #[arg(long)]
    trust: PathBuf,
    /// Exit 3 unless the decision is an approval that is still fresh.
    #[arg(long)]
    require_approved: bool,
    /// Exit 4 unless the signers meet this quorum (`--approvals N`, `--lead`).
    #[command(flatten)]
    quorum: QuorumArgs,
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn load_trust(path: &PathBuf) -> Result<TrustedKeys> {
    let bytes = read_input(path)?;
    TrustedKeys::from_json(&bytes).with_context(|| format!("trust file {}", path.display()))
}

fn token(args: &ExecArgs) -> Result<String> {
    let token = match &args.token_file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading token file {}", p.display()))?,
        None => std::env::var("COUNTERSIGN_TOKEN").map_err(|_| {
            anyhow::anyhow!("no agent token: set COUNTERSIGN_TOKEN or pass --token-file (create one with `countersign agent add NAME`)")
        })?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        bail!("the agent token is empty");
    }
    Ok(token)
}

/// The gate's ledger directory: `explicit`, else the platform data dir's `gate/`.
pub(crate) fn state_dir(explicit: Option<&PathBuf>) -> Result<PathBuf> {
    // Ledger::open_in creates the directory itself, private to its owner (0700).
    Ok(match explicit {
        Some(d) => d.clone(),
        None => countersign_broker::host::data_dir(None)?.join("gate"),
    })
}

pub(crate) fn exec(args: ExecArgs) -> Result<ExitCode> {
    let bytes = read_input(&args.action)?;
    let draft = Draft::parse(&bytes).with_context(|| format!("draft {}", args.action.display()))?;
    let trusted = load_trust(&args.trust)?;
    let policy = match (&args.policy, &args.lead_trust) {
        (Some(p), Some(t)) => match crate::policy_cmd::verify_files(p, None, t) {
            Ok(loaded) => Some(loaded),
            Err(e) => {
                eprintln!("countersign: policy REFUSED — {e:#}. Nothing was submitted.");
                return Ok(ExitCode::from(EXIT_REFUSED));
            }
        },
        _ => None,
    };
    let token = token(&args)?;
    let ledger = Ledger::open_in(&state_dir(args.state_dir.as_ref())?)?;
    let client = Client::new(&args.api, token)?;
    let executor = (!args.executor.is_empty()).then_some(args.executor.as_slice());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let outcome = runtime.block_on(run_gated(
        &client,
        &draft,
        &trusted,
        &ledger,
        GateOptions {
            timeout: args.timeout.map(Duration::from_secs),
            on_submitted: Some(Box::new(|s| {
                eprintln!(
                    "countersign: draft {} submitted as `{}` — risk {} ({}); waiting for a human decision",
                    s.id,
                    s.agent,
                    s.risk.score,
                    s.risk.level.as_str()
                );
            })),
            quorum: args.quorum.quorum(),
            policy: policy.as_ref(),
        },
    ));
    let approved = match outcome {
        Ok(a) => a,
        Err(GateFailure::Rejected { reason }) => {
            eprintln!("countersign: NOT APPROVED — {reason}. Nothing was run.");
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
        Err(GateFailure::Refused(e)) => {
            eprintln!("countersign: decision REFUSED — {e}. Nothing was run.");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
        Err(e) => {
            eprintln!("countersign: {e}. Nothing was run.");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(out) = &args.envelope_out {
        std::fs::write(out, serde_json::to_vec_pretty(&approved.envelope)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let signers = approved_by(&approved.envelope, &trusted);
    eprintln!(
        "countersign: approved by {}{}; running the approved action",
        signers,
        if approved.edited() {
            " after editing it"
        } else {
            ""
        }
    );
    let status = execute(&approved.body.action, executor)?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// "ana (approver, sha256:…), lea (lead, sha256:…)": the pinned keys that signed.
fn approved_by(envelope: &countersign_core::Envelope, trusted: &TrustedKeys) -> String {
    let ids = envelope
        .verify(countersign_core::decision::DECISION_PAYLOAD_TYPE, trusted)
        .map(|v| v.signers)
        .unwrap_or_default();
    ids.iter()
        .filter_map(|id| trusted.get(id))
        .map(|k| format!("{} ({}, {})", k.approver, k.role, k.keyid))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let bytes = read_input(&args.envelope)?;
    let trusted = load_trust(&args.trust)?;
    let report = match verify_offline(&bytes, &trusted) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("countersign: INVALID — {e}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    let verdict = match report.verdict {
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
    };
    let freshness = match &report.freshness {
        Freshness::Fresh => "fresh".to_string(),
        Freshness::Stale(why) => format!("stale: {why}"),
    };
    let out = serde_json::json!({
        "valid": true,
        "verdict": verdict,
        "reason": report.body.reason,
        "freshness": freshness,
        "action_id": report.body.action_id,
        "agent": report.body.agent,
        "action_digest": report.body.action_digest,
        "signers": report.signers.iter().map(|k| serde_json::json!({"keyid": k.keyid, "approver": k.approver, "role": k.role})).collect::<Vec<_>>(),
        "iat": report.body.iat,
        "exp": report.body.exp,
        "jti": report.body.jti,
        "action": report.body.action,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    // One key pinned under two entries is one signer.
    let mut signer_ids: Vec<String> = Vec::new();
    for k in &report.signers {
        if !signer_ids.contains(&k.keyid) {
            signer_ids.push(k.keyid.clone());
        }
    }
    if let Err(e) = countersign_core::decision::check_quorum(
        &report.body,
        &signer_ids,
        &trusted,
        args.quorum.quorum(),
    ) {
        eprintln!("countersign: INVALID — {e}");
        return Ok(ExitCode::from(EXIT_REFUSED));
    }
    if args.require_approved
        && (report.verdict != Verdict::Approved || report.freshness != Freshness::Fresh)
    {
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    Ok(ExitCode::SUCCESS)
}
