//! `countersign team …`: build and sign a team roster (leads), and act as an approver of a team
//! server from the command line: log in with the approver key (Ed25519 challenge, no
//! password), list and follow the queue, claim, approve, reject. Keys never leave this
//! machine: only signatures are uploaded.
//!
//! The session (server URL, team, bearer token, the roster serial seen) is kept in
//! `<data dir>/team-session.json` (mode 0600); the roster is verified against the pinned lead
//! keys (`--lead-trust`) at every login and never accepted older than the serial seen before.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use clap::{Args, Subcommand};
use countersign_broker::host;
use countersign_core::decision::{
    parse_body, Approver, RiskSummary, Verdict, DECISION_LIFETIME_S, DECISION_PAYLOAD_TYPE,
};
use countersign_core::digest::{action_digest, canonical_json};
use countersign_core::dsse::{pae, Signature};
use countersign_core::team::{
    sign_roster, ChallengeRequest, LoginChallenge, LoginRequest, Roster, RosterDocument,
    SignOutcome, SignatureUpload, TeamDraft, TeamDraftDetail, TeamSession, VerifiedRoster,
    ROSTER_TYPE,
};
use countersign_core::{DecisionBody, TrustedKey, TrustedKeys};
use serde::{Deserialize, Serialize};

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

/// The saved approver session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSession {
    server: String,
    ca_cert: Option<PathBuf>,
    session: TeamSession,
    roster_serial: u64,
}

const SESSION_FILE: &str = "team-session.json";

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

fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca_cert {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{}: not a PEM certificate", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().context("building the HTTP client")
}

/// The body of a successful answer, or an error with the server's `{code, message}`.
async fn answer<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T> {
    let status = r.status();
    let text = r.text().await.context("reading the server's answer")?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or(text);
        bail!("the team server answered {status}: {message}");
    }
    countersign_core::json::parse_strict(text.as_bytes())
        .map_err(anyhow::Error::msg)
        .and_then(|v| Ok(serde_json::from_value(v)?))
        .with_context(|| format!("unexpected answer from the team server: {text}"))
}

fn session_path(state: &StateArgs) -> Result<PathBuf> {
    Ok(host::data_dir(state.data_dir.as_deref())?.join(SESSION_FILE))
}

fn load_session(state: &StateArgs) -> Result<SavedSession> {
    let path = session_path(state)?;
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "no team session ({}): run `countersign team login`",
            path.display()
        )
    })?;
    countersign_core::json::parse_strict(&bytes)
        .map_err(anyhow::Error::msg)
        .and_then(|v| Ok(serde_json::from_value(v)?))
        .with_context(|| format!("{}: unreadable", path.display()))
}

fn save_session(state: &StateArgs, s: &SavedSession) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = session_path(state)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(s)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn login(
    server: &str,
    lead_trust: &Path,
    ca_cert: Option<PathBuf>,
    state: &StateArgs,
) -> Result<ExitCode> {
    let server = server.trim_end_matches('/').to_owned();
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        bail!("--server must be an http:// or https:// URL, got `{server}`");
    }
    let anchors = TrustedKeys::from_json(
        &std::fs::read(lead_trust).with_context(|| format!("reading {}", lead_trust.display()))?,
    )
    .with_context(|| lead_trust.display().to_string())?;
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let client = http_client(ca_cert.as_deref())?;
    let doc: RosterDocument = answer(
        client
            .get(format!("{server}/v1/team/roster"))
            .send()
            .await
            .with_context(|| format!("reaching {server}"))?,
    )
    .await?;
    let bytes = B64
        .decode(&doc.roster)
        .context("the server's roster is not base64")?;
    let roster = VerifiedRoster::verify(&bytes, &doc.signature, &anchors).map_err(|e| {
        anyhow!(
            "the server's roster does not verify against {}: {e}",
            lead_trust.display()
        )
    })?;
    let seen = load_session(state).ok().filter(|s| s.server == server);
    if let Some(s) = &seen {
        if roster.roster.serial < s.roster_serial {
            bail!(
                "the server offers roster serial {}, older than serial {} seen before: refusing a rollback",
                roster.roster.serial,
                s.roster_serial
            );
        }
    }
    let me = roster.member(&signer.key.key_id()).ok_or_else(|| {
        anyhow!(
            "this approver key ({}) is not a live key of team `{}`'s roster (serial {}); ask a lead to add `countersign key export-public` to it",
            signer.key.key_id(),
            roster.roster.team,
            roster.roster.serial
        )
    })?;
    let challenge: LoginChallenge = answer(
        client
            .post(format!("{server}/v1/team/login/challenge"))
            .json(&ChallengeRequest {
                keyid: signer.key.key_id(),
            })
            .send()
            .await?,
    )
    .await?;
    if challenge.team != roster.roster.team || challenge.keyid != signer.key.key_id() {
        bail!(
            "the server's challenge is for team `{}` and key {}: not ours, not signed",
            challenge.team,
            challenge.keyid
        );
    }
    let signature = challenge.sign(&signer.key);
    let session: TeamSession = answer(
        client
            .post(format!("{server}/v1/team/login"))
            .json(&LoginRequest {
                challenge,
                signature,
            })
            .send()
            .await?,
    )
    .await?;
    eprintln!(
        "logged in to team `{}` at {server} as {} ({}, {}); session until {}",
        session.team, session.approver, me.role, session.keyid, session.expires_at
    );
    save_session(
        state,
        &SavedSession {
            server,
            ca_cert,
            session,
            roster_serial: roster.roster.serial,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

struct Connected {
    saved: SavedSession,
    client: reqwest::Client,
}

impl Connected {
    fn open(state: &StateArgs) -> Result<Connected> {
        let saved = load_session(state)?;
        let client = http_client(saved.ca_cert.as_deref())?;
        Ok(Connected { saved, client })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.saved.server)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.saved.session.token)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.saved.session.token)
    }
}

async fn logout(state: &StateArgs) -> Result<ExitCode> {
    let c = Connected::open(state)?;
    let r = c.post("/v1/team/logout").send().await?;
    if !r.status().is_success() && r.status() != reqwest::StatusCode::UNAUTHORIZED {
        answer::<serde_json::Value>(r).await?;
    }
    std::fs::remove_file(session_path(state)?)?;
    eprintln!("logged out");
    Ok(ExitCode::SUCCESS)
}

async fn drafts(state: &StateArgs, json: bool) -> Result<ExitCode> {
    let c = Connected::open(state)?;
    let list: Vec<TeamDraft> = answer(c.get("/v1/team/drafts").send().await?).await?;
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
    let c = Connected::open(state)?;
    let d: TeamDraftDetail = answer(c.get(&format!("/v1/team/drafts/{id}")).send().await?).await?;
    check_digest(&d)?;
    println!("{}", serde_json::to_string_pretty(&d)?);
    Ok(ExitCode::SUCCESS)
}

async fn claim(id: &str, state: &StateArgs) -> Result<ExitCode> {
    let c = Connected::open(state)?;
    let claim: countersign_core::team::Claim = answer(
        c.post(&format!("/v1/team/drafts/{id}/claim"))
            .send()
            .await?,
    )
    .await?;
    eprintln!(
        "draft {id} in review by {} until {}",
        claim.approver, claim.until
    );
    Ok(ExitCode::SUCCESS)
}

/// The action the server shows must hash to the digest it names (never trust the server's
/// digest: it is what gets signed).
fn check_digest(d: &TeamDraftDetail) -> Result<()> {
    let computed = action_digest(&d.detail.action).to_string();
    if computed != d.detail.action_digest {
        bail!(
            "the server names digest {} but the action it sent hashes to {computed}: refusing to sign",
            d.detail.action_digest
        );
    }
    Ok(())
}

async fn decide(
    id: &str,
    verdict: Verdict,
    reason: Option<String>,
    shown: Option<String>,
    state: &StateArgs,
) -> Result<ExitCode> {
    let c = Connected::open(state)?;
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    if signer.key.key_id() != c.saved.session.keyid {
        bail!(
            "the session is for key {}, this machine's key is {}: log in again",
            c.saved.session.keyid,
            signer.key.key_id()
        );
    }
    let d: TeamDraftDetail = answer(c.get(&format!("/v1/team/drafts/{id}")).send().await?).await?;
    check_digest(&d)?;
    if let Some(shown) = &shown {
        if shown != &d.detail.action_digest {
            bail!(
                "draft {id} is now {}, not the {shown} you reviewed: refusing to sign",
                d.detail.action_digest
            );
        }
    }
    let local = countersign_core::risk::score(&d.detail.action);
    if local.score != d.detail.risk.score {
        eprintln!(
            "note: the server scores this draft {}, this machine scores it {} (without the team policy's context)",
            d.detail.risk.score, local.score
        );
    }
    let bytes = match (&d.awaiting, verdict) {
        (Some(env), Verdict::Approved) => {
            let bytes = B64.decode(&env.payload).context("awaiting payload")?;
            let body = parse_body(&bytes).map_err(|e| anyhow!("awaiting body: {e}"))?;
            if body.action != d.detail.action
                || body.action_digest != d.detail.action_digest
                || body.action_id != id
                || body.verdict != Verdict::Approved
            {
                bail!(
                    "the approval awaiting signatures is not for the draft shown: refusing to sign"
                );
            }
            eprintln!(
                "co-signing the approval started by {} (expires at {})",
                body.approver.name, body.exp
            );
            bytes
        }
        _ => {
            let iat = countersign_broker::now();
            let body = DecisionBody {
                v: 1,
                verdict,
                reason,
                action_id: id.into(),
                agent: d.draft.summary.agent.clone(),
                action: d.detail.action.clone(),
                action_digest: d.detail.action_digest.clone(),
                approver: Approver {
                    keyid: signer.key.key_id(),
                    name: c.saved.session.approver.clone(),
                },
                risk: RiskSummary {
                    score: d.detail.risk.score,
                    level: d.detail.risk.level,
                },
                policy_sha256: d.policy_sha256.clone(),
                iat,
                exp: iat + DECISION_LIFETIME_S,
                jti: uuid::Uuid::new_v4().to_string(),
            };
            canonical_json(&body)?
        }
    };
    let signature = Signature {
        keyid: signer.key.key_id(),
        sig: B64.encode(signer.key.sign(&pae(DECISION_PAYLOAD_TYPE, &bytes))),
    };
    let outcome: SignOutcome = answer(
        c.post(&format!("/v1/team/drafts/{id}/signatures"))
            .json(&SignatureUpload {
                payload: B64.encode(&bytes),
                signature,
            })
            .send()
            .await?,
    )
    .await?;
    println!("{}", serde_json::to_string(&outcome)?);
    match outcome {
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
    let c = Connected::open(state)?;
    let client = http_client(c.saved.ca_cert.as_deref())?;
    let mut r = client
        .get(c.url("/v1/team/events"))
        .bearer_auth(&c.saved.session.token)
        .timeout(std::time::Duration::from_secs(365 * 24 * 3600))
        .send()
        .await?;
    if !r.status().is_success() {
        answer::<serde_json::Value>(r).await?;
        return Ok(ExitCode::FAILURE);
    }
    let mut buf = String::new();
    let mut seen = 0usize;
    while let Some(chunk) = r.chunk().await? {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    println!("{}", data.trim_start());
                    seen += 1;
                }
            }
            if count.is_some_and(|n| seen >= n) {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
