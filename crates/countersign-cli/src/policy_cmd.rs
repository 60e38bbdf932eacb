//! `countersign policy sign|check`: a team lead signs `policy.toml` with their key; anyone can
//! check a signed policy against the pinned lead keys before shipping it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use countersign_broker::host;
use countersign_core::dsse::Envelope;
use countersign_core::policy::{self, LoadedPolicy, Policy};
use countersign_core::TrustedKeys;

use crate::StateArgs;

/// Where the policy of `serve` comes from.
#[derive(Args, Clone, Default)]
pub struct PolicyArgs {
    /// A lead-signed policy.toml (thresholds, org domains, sensitive patterns). Refused unless
    /// its signature verifies against --lead-trust.
    #[arg(long, env = "COUNTERSIGN_POLICY")]
    pub policy: Option<PathBuf>,
    /// The policy's DSSE signature (default: the policy path + `.sig`).
    #[arg(long, env = "COUNTERSIGN_POLICY_SIGNATURE")]
    pub policy_signature: Option<PathBuf>,
    /// Trust file pinning the lead keys (`countersign key export-public --role lead`).
    #[arg(long, env = "COUNTERSIGN_LEAD_TRUST")]
    pub lead_trust: Option<PathBuf>,
}

impl PolicyArgs {
    /// As the broker's loader takes them.
    pub fn files(&self) -> countersign_broker::policy::PolicyFiles {
        countersign_broker::policy::PolicyFiles {
            policy: self.policy.clone(),
            signature: self.policy_signature.clone(),
            lead_trust: self.lead_trust.clone(),
        }
    }
}

/// `countersign policy …`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Sign policy.toml with this machine's key (pin it as a lead: `key export-public --role
    /// lead`); writes the DSSE envelope to --out (default: FILE.sig).
    Sign {
        /// The policy file.
        file: PathBuf,
        /// Where to write the signature.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Check a signed policy offline: parse it, verify its signature against the lead keys,
    /// and print its serial, SHA-256 and thresholds as JSON.
    Check {
        /// The policy file.
        file: PathBuf,
        /// Its signature (default: FILE.sig).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Trust file pinning the lead keys.
        #[arg(long)]
        lead_trust: PathBuf,
    },
}

fn sig_path(file: &std::path::Path, explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".sig");
        p.into()
    })
}

/// Reads `file` and its signature (default FILE.sig) and verifies them against the lead keys
/// pinned in `lead_trust`.
///
/// # Errors
/// Unreadable files, a signature that is not a DSSE envelope or does not verify, an invalid
/// policy.
pub fn verify_files(
    file: &std::path::Path,
    signature: Option<PathBuf>,
    lead_trust: &std::path::Path,
) -> Result<LoadedPolicy> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let sig = sig_path(file, signature);
    let envelope: Envelope = serde_json::from_value(countersign_core::json::parse_strict(
        &std::fs::read(&sig).with_context(|| format!("reading {}", sig.display()))?,
    )?)
    .context("the signature file is not a DSSE envelope")?;
    let trusted = TrustedKeys::from_json(
        &std::fs::read(lead_trust).with_context(|| format!("reading {}", lead_trust.display()))?,
    )?;
    LoadedPolicy::verify(&bytes, &envelope, &trusted)
        .with_context(|| format!("refusing policy {}", file.display()))
}

/// Runs `countersign policy …`.
pub fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Sign { file, out, state } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = std::str::from_utf8(&bytes).context("policy is not UTF-8")?;
            // Never sign what would be refused on load.
            Policy::parse(text)?;
            let dir = host::data_dir(state.data_dir.as_deref())?;
            let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
            let envelope = policy::sign(&bytes, &signer.key);
            let out = sig_path(&file, out);
            std::fs::write(&out, serde_json::to_vec_pretty(&envelope)?)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "countersign: signed {} ({}) with {} → {}",
                file.display(),
                policy::sha256_of(&bytes),
                signer.key.key_id(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check {
            file,
            signature,
            lead_trust,
        } => {
            let loaded = verify_files(&file, signature, &lead_trust)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "serial": loaded.policy.serial,
                    "sha256": loaded.sha256,
                    "signers": loaded.signers,
                    "policy": loaded.policy,
                }))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
