//! Commands that act on the broker's own state: serve, agent, key.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use countersign_broker::host;
use countersign_broker::{Broker, BrokerConfig};

use crate::StateArgs;

pub(crate) fn serve(
    state: &StateArgs,
    listen: SocketAddr,
    policy: &crate::policy_cmd::PolicyArgs,
) -> Result<ExitCode> {
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let store = host::open_store(&dir)?;
    let policy = countersign_broker::policy::load_policy_files(
        &store,
        &policy.files(),
        countersign_broker::now(),
    )
    .map_err(anyhow::Error::msg)?;
    if let Some(p) = &policy {
        eprintln!(
            "countersign: policy serial {} ({}) in force",
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
                policy,
                ..BrokerConfig::default()
            },
        );
        let listener = host::bind(listen).await?;
        let bound = listener.local_addr()?;
        let (name, keyid) = broker.approver();
        eprintln!("countersign: agent API on http://{bound} (data dir {}, approver {name} {keyid}, key in {location:?})", dir.display());
        let _expiry = broker.spawn_expiry_loop();
        countersign_broker::http::serve(listener, broker, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn agent_add(state: &StateArgs, name: &str, token_only: bool) -> Result<ExitCode> {
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let store = host::open_store(&dir)?;
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
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let store = host::open_store(&dir)?;
    for a in store.agents()? {
        println!("{}\t{}", a.name, a.id);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export_public(state: &StateArgs, role: &str) -> Result<ExitCode> {
    if role != "approver" && role != "lead" {
        bail!("--role must be approver or lead, not `{role}`");
    }
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let (signer, _) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let entry = signer.key.trusted_key(&signer.name, role);
    println!("{}", serde_json::to_string_pretty(&entry)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn queue(state: &StateArgs, json: bool, pending_only: bool) -> Result<ExitCode> {
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let store = host::open_store(&dir)?;
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
