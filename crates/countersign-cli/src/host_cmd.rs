//! Commands that act on the broker's own state: serve, agent, key.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use countersign_broker::host;
use countersign_broker::{Broker, BrokerConfig};

use crate::StateArgs;

pub(crate) fn serve(state: &StateArgs, listen: SocketAddr) -> Result<ExitCode> {
    let dir = host::data_dir(state.data_dir.as_deref())?;
    let store = host::open_store(&dir)?;
    let (signer, location) = host::open_signer(&dir, state.key_store, state.approver.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let broker = Broker::headless(store, signer, BrokerConfig::default());
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
