//! Commands that act on the broker's own state: serve, agent, key, queue, audit.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use countersign_broker::host;
use countersign_broker::{Broker, BrokerConfig};
use countersign_core::TrustedKeys;
use countersign_store::checkpoint::audit_jsonl;

use crate::StateArgs;

pub(crate) fn serve(
    state: &StateArgs,
    listen: SocketAddr,
    unix_socket: Option<std::path::PathBuf>,
    policy: &crate::policy_cmd::PolicyArgs,
    team: &crate::team_cmd::TeamServeArgs,
) -> Result<ExitCode> {
    let tls = match (&team.tls_cert, &team.tls_key) {
        (Some(cert), Some(key)) => Some(countersign_broker::tls::server_config(cert, key)?),
        _ => None,
    };
    if !listen.ip().is_loopback() && tls.is_none() && !team.plain_http {
        bail!(
            "--listen {listen} is not a loopback address: serve TLS (--tls-cert, --tls-key) or, behind a TLS-terminating proxy, pass --plain-http"
        );
    }
    if team.team_roster.is_some() && policy.lead_trust.is_none() {
        bail!(
            "--team-roster needs --lead-trust: the pinned lead keys the roster must be signed by"
        );
    }
    let (dir, store) = state.open()?;
    let policy_files = policy.files();
    let start =
        countersign_broker::policy::start_policy(&store, &policy_files, countersign_broker::now())
            .map_err(anyhow::Error::msg)?;
    if let Some(r) = &start.refusal {
        eprintln!("countersign: {}; keeping the last good policy", r.message);
    }
    if let Some(p) = &start.policy {
        eprintln!(
            "countersign: policy serial {} ({}) in force; watching its files for changes",
            p.policy.serial, p.sha256
        );
    }
    let (signer, location) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let broker = Broker::headless(
            store,
            signer,
            BrokerConfig {
                policy: start.policy,
                policy_files: Some(policy_files),
                policy_refusal: start.refusal,
                ..BrokerConfig::default()
            },
        );
        let _watcher =
            countersign_broker::policy_watch::watch_policy(&broker).map_err(anyhow::Error::msg)?;
        let team_state = match &team.team_roster {
            Some(roster) => {
                let files = countersign_broker::TeamFiles {
                    roster: roster.clone(),
                    signature: team.team_roster_signature.clone(),
                    anchors: policy.lead_trust.clone().unwrap_or_default(),
                    escalate_after_s: team.escalate_after,
                };
                let t = countersign_broker::Team::start(broker.clone(), &files)?;
                let r = t.roster()?;
                eprintln!(
                    "countersign: team `{}` roster serial {} ({} keys, {}) in force; team API on /v1/team",
                    r.roster.team,
                    r.roster.serial,
                    r.roster.keys.len(),
                    r.sha256
                );
                Some(t)
            }
            None => None,
        };
        let _team_events = team_state.as_ref().map(|t| t.spawn_events());
        let config = countersign_broker::http::ApiConfig {
            hosts: team.public_hosts.clone(),
            team: team_state,
            ..Default::default()
        };
        let listener = if listen.ip().is_loopback() {
            host::bind(listen).await?
        } else {
            tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?
        };
        let bound = listener.local_addr()?;
        let (name, keyid) = broker.approver();
        let database = host::database_label(&dir, state.database.as_deref());
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!("countersign: agent API on {scheme}://{bound} (data dir {}, database {database}, approver {name} {keyid}, key in {location:?})", dir.display());
        let _expiry = broker.spawn_expiry_loop();
        if let Some(path) = unix_socket.clone() {
            eprintln!("countersign: agent API also on unix:{}", path.display());
            let unix_broker = broker.clone();
            tokio::spawn(async move {
                let served = countersign_broker::http::serve_unix(
                    path,
                    unix_broker,
                    countersign_broker::http::ApiConfig::default(),
                    std::future::pending(),
                )
                .await;
                if let Err(e) = served {
                    tracing::error!("agent API on the Unix socket stopped: {e}");
                }
            });
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tls {
            Some(tls) => {
                countersign_broker::tls::serve_tls(listener, broker.clone(), config, tls, shutdown)
                    .await?
            }
            None => {
                countersign_broker::http::serve_with(listener, broker.clone(), config, shutdown)
                    .await?
            }
        }
        // Sign the audit head at shutdown, so that every row written is covered.
        broker.checkpoint_audit(1)?;
        if let Some(path) = &unix_socket {
            let _ = std::fs::remove_file(path);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn agent_add(state: &StateArgs, name: &str, token_only: bool) -> Result<ExitCode> {
    let (_, store) = state.open()?;
    // Registering an agent needs no key: do not touch the keychain for it.
    let token = countersign_broker::register_agent(&store, name)?;
    if token_only {
        println!("{}", token.token);
    } else {
        println!(
            "Agent `{}` created. Its token is shown once; only a hash is stored:\n",
            token.name
        );
        println!("  export COUNTERSIGN_TOKEN={}", token.token);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn agent_list(state: &StateArgs) -> Result<ExitCode> {
    let (_, store) = state.open()?;
    for a in store.agents()? {
        println!("{}\t{}", a.name, a.id);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export_public(state: &StateArgs, role: &str) -> Result<ExitCode> {
    check_role(role)?;
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let entry = signer.key.trusted_key(&signer.name, role);
    println!("{}", serde_json::to_string_pretty(&entry)?);
    Ok(ExitCode::SUCCESS)
}

fn check_role(role: &str) -> Result<()> {
    if role != "approver" && role != "lead" {
        bail!("--role must be approver or lead, not `{role}`");
    }
    Ok(())
}

/// `countersign key rotate`: new key in the same store, old key revoked in `trust`, new entry
/// printed. The trust file is read and checked before the key changes, so a wrong path or a
/// broken file rotates nothing.
pub(crate) fn rotate(
    state: &StateArgs,
    trust: &std::path::Path,
    reason: &str,
    role: Option<&str>,
) -> Result<ExitCode> {
    let reason = reason.trim();
    if reason.is_empty() {
        bail!("--reason must not be empty: say why the old key is revoked");
    }
    if let Some(role) = role {
        check_role(role)?;
    }
    let entries = TrustedKeys::from_json(
        &std::fs::read(trust)
            .with_context(|| format!("reading the trust file {}", trust.display()))?,
    )
    .with_context(|| format!("trust file {}", trust.display()))?
    .entries();
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let rotated = countersign_broker::keystore::rotate(&dir, state.key_store)?;
    let pinned = entries.iter().find(|e| e.keyid == rotated.old.key_id());
    let name = match (state.approver.as_deref(), pinned) {
        (Some(n), _) => n.to_owned(),
        (None, Some(e)) => e.approver.clone(),
        (None, None) => host::approver_name(None),
    };
    let role = role
        .map(str::to_owned)
        .or_else(|| pinned.map(|e| e.role.clone()))
        .unwrap_or_else(|| "approver".into());
    let new_entry = rotated.new.trusted_key(&name, &role);
    let updated = countersign_core::keys::rotated(
        entries,
        rotated.old.trusted_key(&name, &role),
        new_entry.clone(),
        countersign_broker::now(),
        reason,
    );
    let json = serde_json::to_vec_pretty(&serde_json::json!({ "keys": updated }))?;
    if let Err(e) = countersign_broker::keystore::write_atomically(trust, &json, 0o644) {
        bail!(
            "the key was rotated (new key {}, stored in {:?}) but {} could not be updated: {e}. Revoke {} there by hand and pin:\n{}",
            new_entry.keyid,
            rotated.location,
            trust.display(),
            rotated.old.key_id(),
            serde_json::to_string_pretty(&new_entry)?
        );
    }
    eprintln!(
        "countersign: key rotated in {:?}: {} is revoked in {} ({reason}); the new key is {}. Copy the trust file to every gate.",
        rotated.location,
        rotated.old.key_id(),
        trust.display(),
        new_entry.keyid
    );
    println!("{}", serde_json::to_string_pretty(&new_entry)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn queue(state: &StateArgs, json: bool, pending_only: bool) -> Result<ExitCode> {
    let (_, store) = state.open()?;
    let rows: Vec<_> = store
        .actions(1000)?
        .into_iter()
        .filter(|r| !pending_only || r.status == countersign_core::api::Status::Pending)
        .collect();
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "agent": r.agent, "kind": r.action.kind, "target": r.action.target,
                    "summary": r.action.summary, "status": r.status, "score": r.risk.score,
                    "level": r.risk.level, "action_digest": r.action_digest,
                    "created_at": r.created_at, "expires_at": r.expires_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &rows {
            // Agent text is untrusted: print it escaped, so control characters cannot drive the terminal.
            println!(
                "{}  {:<8} {:>3} {:<8} {:<12} {:<14} {}",
                r.id,
                r.status.as_str(),
                r.risk.score,
                r.risk.level.as_str(),
                r.agent,
                r.action.kind.as_str(),
                r.action.summary.escape_debug()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `countersign audit verify`: exit 0 when the log is intact, 4 when it was tampered with.
pub(crate) fn audit_verify(
    state: &StateArgs,
    trust: Option<&std::path::Path>,
    from: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let trusted = match trust {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the trust file {}", path.display()))?;
            TrustedKeys::from_json(&bytes)?
        }
        // The checkpoints are signed with the approver's key: verify against its public half.
        None => {
            let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
            TrustedKeys::from_keys(vec![signer.key.trusted_key(&signer.name, "approver")])?
        }
    };
    let report = match from {
        // An export (countersign audit export) checked away from the database it came from.
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the export {}", path.display()))?;
            let (rows, checkpoints) = countersign_store::checkpoint::parse_audit_jsonl(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            countersign_store::checkpoint::verify_log(&rows, &checkpoints, &trusted)
        }
        None => host::open_database(&dir, state.database.as_deref())?.verify_audit(&trusted)?,
    };
    println!(
        "audit: {} rows (last {}), {} signed checkpoint(s) covering rows 1..={}, {} newer row(s) covered by the hash chain only",
        report.rows,
        report.last_seq,
        report.checkpoints,
        report.checkpointed_seq,
        report.unsigned_tail()
    );
    if report.is_intact() {
        println!("audit: intact");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("audit: TAMPERED: {problem}");
    }
    Ok(ExitCode::from(4))
}

/// `countersign audit export`: the log and its checkpoints as JSON Lines.
pub(crate) fn audit_export(state: &StateArgs, out: Option<&std::path::Path>) -> Result<ExitCode> {
    use std::io::Write as _;
    let (_, store) = state.open()?;
    let lines = audit_jsonl(&store.audit_rows()?, &store.checkpoints()?);
    let mut sink: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    for line in lines {
        writeln!(sink, "{line}")?;
    }
    sink.flush()?;
    Ok(ExitCode::SUCCESS)
}
