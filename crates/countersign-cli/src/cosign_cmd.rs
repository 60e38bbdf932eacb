//! `countersign cosign export|sign|import`: co-signing across machines with files (format:
//! `countersign_core::cosign`).
//!
//! - `export ID`: the request file for a draft this data dir's approver approved for
//!   co-signing (read-only; no key needed);
//! - `sign FILE`: on the lead's machine, checks the file, prints the action, its impact and a
//!   locally computed risk score (a differing claimed score is printed as a RISK MISMATCH),
//!   asks the human to type the first 8 hex digits of the digest, and writes the response;
//! - `import FILE`: on the originating machine, verifies the response against the pinned keys
//!   (this approver and the policy's leads) and, when the quorum is met, records the
//!   multi-signature decision; the app or `serve` on this data dir re-reads its store every
//!   second while an agent waits, and delivers it.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use countersign_broker::{host, Broker, BrokerConfig};
use countersign_core::api::CosignOutcome;
use countersign_core::cosign::MAX_FILE_BYTES;

use crate::policy_cmd::PolicyArgs;
use crate::StateArgs;

/// `countersign cosign …`.
#[derive(Subcommand)]
pub enum CosignCommand {
    /// Write the co-sign request of a draft awaiting co-signature (approved here by someone
    /// who is not a lead) for a lead to sign on their machine.
    Export {
        /// The draft id.
        id: String,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Review a co-sign request and, after typing the first 8 hex digits of its digest, add
    /// this machine's signature over the same decision body: writes the response file.
    Sign {
        /// The request file.
        file: PathBuf,
        /// Output file (default: FILE with `.response.json` in place of `.json`).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
        /// Score with this lead-signed policy (its domains and sensitive patterns); refuse to
        /// sign what it blocks.
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Import a co-sign response into this data dir: each signature must verify against this
    /// approver's key or a lead key of the policy; when the quorum is met the decision is
    /// recorded and released.
    Import {
        /// The response file.
        file: PathBuf,
        #[command(flatten)]
        state: StateArgs,
        /// The policy in force here (the same flags as `serve`); its lead keys are the
        /// co-signers that count.
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_FILE_BYTES as u64 {
        bail!(
            "{} is {len} bytes, over the {MAX_FILE_BYTES}-byte limit",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write_out(out: Option<&Path>, json: &[u8]) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, json).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(json)?;
            stdout.write_all(b"\n")?;
            Ok(())
        }
    }
}

pub(crate) fn run(command: CosignCommand) -> Result<ExitCode> {
    match command {
        CosignCommand::Export { id, out, state } => {
            let (_, store) = state.open()?;
            let request = countersign_broker::export_cosign_request(&store, &id)?;
            write_out(out.as_deref(), &serde_json::to_vec_pretty(&request)?)?;
            if let Some(p) = &out {
                eprintln!(
                    "countersign: co-sign request for draft {id} written to {}",
                    p.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CosignCommand::Sign {
            file,
            out,
            state,
            policy,
        } => sign(&file, out, &state, &policy),
        CosignCommand::Import {
            file,
            state,
            policy,
        } => import(&file, &state, &policy),
    }
}

fn sign(
    file: &Path,
    out: Option<PathBuf>,
    state: &StateArgs,
    policy: &PolicyArgs,
) -> Result<ExitCode> {
    let bytes = read_file(file)?;
    let loaded = match (&policy.policy, &policy.lead_trust) {
        (Some(p), Some(t)) => Some(crate::policy_cmd::verify_files(
            p,
            policy.policy_signature.clone(),
            t,
        )?),
        (None, None) => None,
        _ => bail!("--policy and --lead-trust go together"),
    };
    let ctx = loaded
        .as_ref()
        .map(|p| p.policy.risk_context())
        .unwrap_or_default();
    let review = countersign_broker::review_cosign_request(&bytes, &ctx)?;
    let r = &review.request;
    // Agent text is untrusted: print it escaped, so control characters cannot drive the terminal.
    eprintln!(
        "Co-sign request for draft {} from agent `{}`",
        r.action_id,
        r.agent.escape_debug()
    );
    eprintln!(
        "  requested by {}; the signed body expires at {}",
        review.requested_by, review.exp
    );
    eprintln!(
        "  {} on {}: {}",
        r.action.kind.as_str(),
        r.action.target.escape_debug(),
        r.action.summary.escape_debug()
    );
    eprintln!(
        "  action: {}",
        serde_json::to_string(&r.action)?.escape_debug()
    );
    eprintln!(
        "  impact: {}",
        serde_json::to_string(&review.review.impact)?.escape_debug()
    );
    eprintln!(
        "  risk scored here: {} ({})",
        review.risk.score,
        review.risk.level.as_str()
    );
    for f in &review.risk.factors {
        eprintln!("    +{} {}: {}", f.points, f.id, f.reason.escape_debug());
    }
    if let Some(note) = &review.risk_mismatch {
        eprintln!("\n  !!! {note} !!!\n");
    }
    if let Some(p) = &loaded {
        if p.policy
            .requirement(&r.agent, r.action.kind, review.risk.score)
            == countersign_core::policy::Requirement::Blocked
        {
            eprintln!(
                "countersign: REFUSED — policy serial {} blocks a score of {}",
                p.policy.serial, review.risk.score
            );
            return Ok(ExitCode::from(crate::gate_cmd::EXIT_REFUSED));
        }
    }
    let hex = r.action_digest.trim_start_matches("sha256:");
    let prefix = hex.get(..8).unwrap_or(hex);
    eprintln!("  digest: {}", r.action_digest);
    eprint!("Type the first 8 hex digits of the digest to sign, anything else to stop: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != prefix {
        eprintln!("countersign: not signed.");
        return Ok(ExitCode::from(crate::gate_cmd::EXIT_REJECTED));
    }
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let response = countersign_broker::sign_cosign_request(&bytes, &r.action_digest, &signer.key)?;
    let out = out.unwrap_or_else(|| {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_else(|| "cosign".into());
        file.with_file_name(format!("{name}.response.json"))
    });
    write_out(Some(&out), &serde_json::to_vec_pretty(&response)?)?;
    eprintln!(
        "countersign: signed by {} ({}); send {} back to the requester",
        signer.name,
        signer.key.key_id(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn import(file: &Path, state: &StateArgs, policy: &PolicyArgs) -> Result<ExitCode> {
    let bytes = read_file(file)?;
    let (dir, store) = state.open()?;
    let policy = countersign_broker::policy::load_policy_files(
        &store,
        &policy.files(),
        countersign_broker::now(),
    )
    .map_err(anyhow::Error::msg)?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let broker = Broker::headless(
        store,
        signer,
        BrokerConfig {
            policy,
            ..BrokerConfig::default()
        },
    );
    let outcome = match broker.import_cosign_response(&bytes) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("countersign: co-sign response REFUSED — {e}");
            return Ok(ExitCode::from(crate::gate_cmd::EXIT_REFUSED));
        }
    };
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    match outcome {
        CosignOutcome::Released { id, .. } => {
            eprintln!("countersign: quorum met; draft {id} is approved and released")
        }
        CosignOutcome::Awaiting { id, cosign } => {
            eprintln!("countersign: draft {id} still awaits: {}", cosign.missing)
        }
    }
    Ok(ExitCode::SUCCESS)
}
