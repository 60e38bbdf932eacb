//! `countersign team …`: build and sign a team roster (leads), and act as an approver of a team
//! server from the command line: log in with the approver key (Ed25519 challenge, no
//! password), list and follow the queue, claim, approve, reject. Keys never leave this
//! machine: only signatures are uploaded.
//!
//! The client itself (roster verification, challenge, body building and signing, the event
//! stream, the session file) is [`countersign_broker::team_client`], shared with the desktop
//! app; this module parses arguments and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use countersign_broker::host;
use countersign_broker::team_client::{self, Decision, LoginTarget, TeamClient};
use countersign_core::decision::Verdict;
use countersign_core::team::{sign_roster, Roster, SignOutcome, ROSTER_TYPE};
use countersign_core::{TrustedKey, TrustedKeys};

use crate::StateArgs;

/// Options of `countersign serve` for a team server.
#[derive(Args, Clone, Default)]
pub struct TeamServeArgs {
    /// Serve the team API too, for the team in this lead-signed roster (verified against
    /// --lead-trust; an older roster than the one the team recorded is refused).
    #[arg(long, env = "COUNTERSIGN_TEAM_ROSTER")]
    pub team_roster: Option<PathBuf>,
    /// The roster's DSSE signature (default: the roster path + `.sig`).
    #[arg(long, env = "COUNTERSIGN_TEAM_ROSTER_SIGNATURE")]
    pub team_roster_signature: Option<PathBuf>,
    /// Seconds a draft that needs a lead waits unclaimed before every approver is notified.
    #[arg(long, default_value_t = 300)]
    pub escalate_after: i64,
    /// TLS certificate chain (PEM, leaf first). With --tls-key, the API is served over TLS
    /// and may listen on a non-loopback address.
    #[arg(long, env = "COUNTERSIGN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "COUNTERSIGN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long, conflicts_with = "tls_cert")]
    pub plain_http: bool,
    /// A `Host` value clients use to reach this server (HOST:PORT), besides the loopback
    /// names; repeatable.
    #[arg(long = "public-host", value_name = "HOST:PORT")]
    pub public_hosts: Vec<String>,
}

/// `countersign team …`.
#[derive(Subcommand)]
pub enum TeamCommand {
    /// Print a roster (JSON) from public key entries (`countersign key export-public
    /// --role approver|lead` of each member); sign it with `team sign-roster`.
    Roster {
        /// Team name: 1–64 of A–Z a–z 0–9 . _ -
        #[arg(long)]
        team: String,
        /// Serial: higher than the roster in force.
        #[arg(long)]
        serial: u64,
        /// Public key entries (one JSON object or {"keys": [...]} per file).
        #[arg(required = true)]
        keys: Vec<PathBuf>,
    },
    /// Sign roster.json with this machine's key (a lead key pinned in every --lead-trust);
    /// writes the DSSE envelope to --out (default: FILE.sig).
    SignRoster {
        /// The roster file.
        file: PathBuf,
        /// Where to write the signature.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Log in to a team server with the approver key.
    Login {
        /// The team server, e.g. https://countersign.example.com:8443
        #[arg(long)]
        server: String,
        /// Trust file pinning the team's lead keys: the roster must verify against it.
        #[arg(long)]
        lead_trust: PathBuf,
        /// Extra CA certificate (PEM) to trust for the server's TLS certificate.
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// End the session.
    Logout {
        #[command(flatten)]
        state: StateArgs,
    },
    /// List the team's pending drafts (JSON with --json).
    Drafts {
        #[command(flatten)]
        state: StateArgs,
        /// Print the JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one draft: action, digest, risk, diff, who signed so far (JSON).
    Show {
        /// Draft id.
        id: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Mark a draft "in review" by you for the others.
    Claim {
        /// Draft id.
        id: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Approve a draft: recompute its digest here, sign the decision body locally, upload the
    /// signature. Prints the outcome (released, or awaiting more signatures).
    Approve {
        /// Draft id.
        id: String,
        /// The digest you reviewed (`team show`); refused if the draft is another.
        #[arg(long)]
        digest: Option<String>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Reject a draft with a reason (signed locally; one rejection ends it).
    Reject {
        /// Draft id.
        id: String,
        /// Why (the agent receives it in the signed decision).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Follow the queue: one JSON event per line (snapshot, pending with `notify`, decided).
    Watch {
        #[command(flatten)]
        state: StateArgs,
        /// Stop after this many events (default: run until interrupted).
        #[arg(long)]
        count: Option<usize>,
    },
}

/// Runs a `team` subcommand.
pub fn run(command: TeamCommand) -> Result<ExitCode> {
    match command {
        TeamCommand::Roster { team, serial, keys } => roster(&team, serial, &keys),
        TeamCommand::SignRoster { file, out, state } => sign_roster_file(&file, out, &state),
        TeamCommand::Login {
            server,
            lead_trust,
            ca_cert,
            state,
        } => runtime()?.block_on(login(&server, &lead_trust, ca_cert, &state)),
        TeamCommand::Logout { state } => runtime()?.block_on(logout(&state)),
        TeamCommand::Drafts { state, json } => runtime()?.block_on(drafts(&state, json)),
        TeamCommand::Show { id, state } => runtime()?.block_on(show(&id, &state)),
        TeamCommand::Claim { id, state } => runtime()?.block_on(claim(&id, &state)),
        TeamCommand::Approve { id, digest, state } => {
            runtime()?.block_on(decide(&id, Verdict::Approved, None, digest, &state))
        }
        TeamCommand::Reject { id, reason, state } => {
            runtime()?.block_on(decide(&id, Verdict::Rejected, Some(reason), None, &state))
        }
        TeamCommand::Watch { state, count } => runtime()?.block_on(watch(&state, count)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn roster(team: &str, serial: u64, files: &[PathBuf]) -> Result<ExitCode> {
    let mut keys: Vec<TrustedKey> = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let t = TrustedKeys::from_json(&bytes).with_context(|| f.display().to_string())?;
        keys.extend(t.entries());
    }
    let roster = Roster {
        v: 1,
        kind: ROSTER_TYPE.into(),
        team: team.into(),
        serial,
        keys,
    };
    let text = serde_json::to_string_pretty(&roster)?;
    Roster::parse(text.as_bytes()).map_err(|e| anyhow!("{e}"))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn sign_roster_file(file: &Path, out: Option<PathBuf>, state: &StateArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let (roster, _) = Roster::parse(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let envelope = sign_roster(&bytes, &signer.key);
    let out = out.unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".sig");
        p.into()
    });
    std::fs::write(&out, serde_json::to_vec_pretty(&envelope)?)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "signed roster of team `{}` serial {} with {} ({}) → {}",
        roster.team,
        roster.serial,
        signer.name,
        signer.key.key_id(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn data_dir(state: &StateArgs) -> Result<PathBuf> {
    Ok(host::data_dir(state.data_dir.as_deref())?)
}

fn connect(state: &StateArgs) -> Result<TeamClient> {
    let saved = team_client::load_session(&data_dir(state)?)?;
    Ok(TeamClient::new(saved)?)
}

async fn login(
    server: &str,
    lead_trust: &Path,
    ca_cert: Option<PathBuf>,
    state: &StateArgs,
) -> Result<ExitCode> {
    let dir = data_dir(state)?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let previous = team_client::load_session(&dir).ok();
    let target = LoginTarget {
        server: server.into(),
        lead_trust: lead_trust.into(),
        ca_cert,
    };
    let done = team_client::login(&target, &signer.key, previous.as_ref()).await?;
    let (saved, session) = (&done.saved, &done.saved.session);
    eprintln!(
        "logged in to team `{}` at {} as {} ({}, {}); session until {}",
        session.team, saved.server, session.approver, done.role, session.keyid, session.expires_at
    );
    team_client::save_session(&dir, saved)?;
    Ok(ExitCode::SUCCESS)
}

async fn logout(state: &StateArgs) -> Result<ExitCode> {
    let c = connect(state)?;
    c.logout().await?;
    team_client::forget_session(&data_dir(state)?)?;
    eprintln!("logged out");
    Ok(ExitCode::SUCCESS)
}

async fn drafts(state: &StateArgs, json: bool) -> Result<ExitCode> {
    let list = connect(state)?.drafts().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    for d in &list {
        let s = &d.summary;
        let review = d
            .claim
            .as_ref()
            .map(|c| format!(" [in review by {}]", c.approver))
            .unwrap_or_default();
        println!(
            "{}\t{:>3} {:<8}\t{}\t{}\t{}\tneeds {}{}{}",
            s.id,
            s.score,
            s.level.as_str(),
            s.agent,
            s.kind,
            s.summary,
            d.requirement.as_str(),
            if d.signers.is_empty() {
                String::new()
            } else {
                format!(" (signed: {})", d.signers.join(", "))
            },
            review
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(id: &str, state: &StateArgs) -> Result<ExitCode> {
    let d = connect(state)?.draft(id).await?;
    println!("{}", serde_json::to_string_pretty(&d)?);
    Ok(ExitCode::SUCCESS)
}

async fn claim(id: &str, state: &StateArgs) -> Result<ExitCode> {
    let claim = connect(state)?.claim(id).await?;
    eprintln!(
        "draft {id} in review by {} until {}",
        claim.approver, claim.until
    );
    Ok(ExitCode::SUCCESS)
}

async fn decide(
    id: &str,
    verdict: Verdict,
    reason: Option<String>,
    shown: Option<String>,
    state: &StateArgs,
) -> Result<ExitCode> {
    let c = connect(state)?;
    let (signer, _) = host::open_signer(
        &data_dir(state)?,
        state.key_store,
        state.approver.as_deref(),
    )?;
    let decision = Decision {
        verdict,
        reason,
        shown_digest: shown,
    };
    let done = c.decide(&signer.key, id, &decision).await?;
    if let Some((here, server)) = done.score_mismatch {
        eprintln!(
            "note: the server scores this draft {server}, this machine scores it {here} (without the team policy's context)"
        );
    }
    if let Some(by) = &done.cosigned {
        eprintln!("co-signed the approval started by {by}");
    }
    println!("{}", serde_json::to_string(&done.outcome)?);
    match done.outcome {
        SignOutcome::Released { signers, .. } => {
            eprintln!(
                "approved: released to the agent, signed by {}",
                signers.join(" + ")
            )
        }
        SignOutcome::Awaiting { signers, missing } => eprintln!(
            "signed ({}); awaiting more signatures: {missing}",
            signers.join(" + ")
        ),
        SignOutcome::Rejected { .. } => eprintln!("rejected: the signed rejection was released"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch(state: &StateArgs, count: Option<usize>) -> Result<ExitCode> {
    let mut events = connect(state)?.events().await?;
    let mut seen = 0usize;
    while let Some(event) = events.next().await? {
        println!("{}", serde_json::to_string(&event)?);
        seen += 1;
        if count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
