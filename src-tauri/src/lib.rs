//! The Countersign desktop app: a thin Tauri shell over [`countersign_broker`].
//!
//! At start it opens the data dir, the store and the approver key (fail closed: no key, no app),
//! starts the agent API on loopback, and shows the review window. New drafts raise a desktop
//! notification (notify-rust), update the tray's pending count, and are pushed to the window
//! as `queue-changed` events. Approve/reject are Tauri commands granted to the main window only
//! (build.rs + capabilities/main.json) and re-checked in the broker. The app can also join a
//! team server and review its queue ([`team`]).

mod commands;
mod confirm;
mod cosign;
#[cfg_attr(not(unix), allow(dead_code))]
mod footprint;
mod notify;
mod pause;
mod reminders;
mod shell;
mod team;
mod tray;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::Parser;
use countersign_broker::host;
use countersign_broker::keystore::KeyStoreKind;
use countersign_broker::{Broker, BrokerConfig};
use tauri::Manager;
use tauri_plugin_window_state::StateFlags;

/// Command-line options of the app.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "countersign-app",
    version,
    about = "Countersign: review and sign what your AI agents want to do."
)]
pub struct AppArgs {
    /// Data directory (database, key file). Default: the platform data dir.
    #[arg(long, env = "COUNTERSIGN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Loopback address of the agent API.
    #[arg(long, env = "COUNTERSIGN_LISTEN", default_value = host::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Where the approver key is kept: auto, keyring or file.
    #[arg(long, env = "COUNTERSIGN_KEY_STORE", default_value = "auto")]
    pub key_store: KeyStoreKind,
    /// Approver display name written into decisions (default: $USER).
    #[arg(long, env = "COUNTERSIGN_APPROVER")]
    pub approver: Option<String>,
    /// A lead-signed policy.toml; the app refuses to start with one it cannot verify.
    #[arg(long, env = "COUNTERSIGN_POLICY")]
    pub policy: Option<PathBuf>,
    /// The policy's DSSE signature (default: the policy path + `.sig`).
    #[arg(long, env = "COUNTERSIGN_POLICY_SIGNATURE")]
    pub policy_signature: Option<PathBuf>,
    /// Trust file pinning the lead keys that may sign the policy.
    #[arg(long, env = "COUNTERSIGN_LEAD_TRUST")]
    pub lead_trust: Option<PathBuf>,
    /// How long a high-risk draft waits before a reminder notification, and between reminders:
    /// a whole number with an optional unit s, m or h (no unit: seconds).
    #[arg(long, env = "COUNTERSIGN_REMIND_AFTER", default_value = "5m")]
    pub remind_after: reminders::RemindAfter,
}

/// State shared by the commands.
pub struct AppState {
    /// The broker.
    pub broker: Broker,
    /// Base URL of the agent API.
    pub api_url: String,
    /// Data dir.
    pub data_dir: PathBuf,
    /// Notifications, pause and tray state shared with the shell's threads.
    pub desk: Arc<notify::Desk>,
    /// The lines of the last large diff sent as an outline ([`commands::get_action`]), for
    /// [`commands::get_diff_lines`].
    pub diff_pages: std::sync::Mutex<Option<commands::DiffPages>>,
    /// Reloads the policy when its files change (kept alive with the app).
    pub _policy_watcher: Option<countersign_broker::policy_watch::PolicyWatcher>,
}

/// Webview debugging and automation switches from the environment would let another process
/// script the review window (and so approve). A release build never honours them; a debug
/// build keeps them only when tauri-driver asks for automation (`TAURI_WEBVIEW_AUTOMATION`),
/// which is how the end-to-end tests drive the real window.
fn strip_webview_debugging() {
    let automation = cfg!(debug_assertions)
        && std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true");
    if automation {
        tracing::warn!("webview automation enabled (debug build under tauri-driver)");
        return;
    }
    for var in [
        "TAURI_WEBVIEW_AUTOMATION",
        "WEBKIT_INSPECTOR_SERVER",
        "WEBKIT_INSPECTOR_HTTP_SERVER",
        "WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS",
    ] {
        std::env::remove_var(var);
    }
}

// Tauri's generated context contains a `process::exit` in code we do not control.
#[allow(clippy::disallowed_methods)]
fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

/// Runs the app; returns the process exit code.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COUNTERSIGN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Before any thread starts, and before the re-exec so that it keeps them removed.
    strip_webview_debugging();
    footprint::reexec_with_lean_settings();
    let args = AppArgs::parse();
    match start(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("countersign-app: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: AppArgs) -> anyhow::Result<()> {
    let data_dir = host::data_dir(args.data_dir.as_deref())?;
    let running: Arc<OnceLock<Broker>> = Arc::default();
    let failed: Arc<std::sync::Mutex<Option<anyhow::Error>>> = Arc::default();
    let app = tauri::Builder::default()
        // First: a second launch on the same data dir hands over to the running app (which
        // comes to the front) and exits 0 before it opens the store, the key or the port.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance_id(&data_dir))
                .callback(|app, _argv, _cwd| {
                    tracing::info!("second launch: bringing the window to the front");
                    shell::open_window(app, None);
                })
                .build(),
        )
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
                .build(),
        )
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::list_actions,
            commands::list_history,
            commands::get_action,
            commands::get_diff_lines,
            commands::approve,
            commands::approve_batch,
            commands::preview_edit,
            commands::approve_edited,
            commands::reject,
            commands::add_agent,
            commands::app_info,
            commands::policy_view,
            commands::preview_policy,
            commands::sign_policy,
            commands::shell_state,
            cosign::approve_for_cosign,
            cosign::export_cosign,
            cosign::review_cosign,
            cosign::sign_cosign,
            cosign::import_cosign,
            team::team_status,
            team::team_join,
            team::team_leave,
            team::team_drafts,
            team::team_draft,
            team::team_claim,
            team::team_release,
            team::team_approve,
            team::team_reject,
        ])
        .setup({
            let running = running.clone();
            let failed = failed.clone();
            move |app| {
                // An error returned from here would panic inside the event loop: keep it, and
                // leave the loop; `start` then reports it and exits 1 (fail closed).
                match open_desk(app.handle(), &args, &data_dir) {
                    Ok(broker) => {
                        let _ = running.set(broker);
                        exit_on_sigterm(app.handle().clone());
                    }
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            *f = Some(e);
                        }
                        app.handle().exit(1);
                    }
                }
                Ok(())
            }
        })
        .build(context())?;
    app.run_return(move |_, event| {
        if let tauri::RunEvent::Exit = event {
            // Sign the audit head at shutdown, so that every row written is covered.
            if let Some(broker) = running.get() {
                if let Err(e) = broker.checkpoint_audit(1) {
                    tracing::error!("audit checkpoint at exit: {e}");
                }
            }
        }
    });
    let failure = failed.lock().ok().and_then(|mut f| f.take());
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// SIGTERM (logout, `kill`, a service manager) ends the app the way Quit does: the audit head
/// is signed and the window state saved before the process exits.
fn exit_on_sigterm(app: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
                tracing::info!("SIGTERM: quitting");
                app.exit(0);
            }
            Err(e) => tracing::warn!("SIGTERM handler not installed: {e}"),
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}

/// The D-Bus name part that makes the app single-instance per data dir: the identifier plus a
/// digest of the data dir, so two data dirs (two approvers' profiles) still run side by side.
fn instance_id(data_dir: &std::path::Path) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    format!("dev.countersign.app.d{}", hex::encode(&digest[..8]))
}

/// Opens the store and the approver key, loads the policy, binds the agent API and starts the
/// broker, the tray, the reminders and the API server. Fails closed: any error stops the app.
fn open_desk(
    app: &tauri::AppHandle,
    args: &AppArgs,
    data_dir: &std::path::Path,
) -> anyhow::Result<Broker> {
    let data_dir = data_dir.to_path_buf();
    let store = host::open_store(&data_dir)?;
    let (signer, location) =
        host::open_signer(&data_dir, args.key_store, args.approver.as_deref())?;
    tracing::info!(data_dir = %data_dir.display(), key = ?location, "starting");
    let policy_files = countersign_broker::policy::PolicyFiles {
        policy: args.policy.clone(),
        signature: args.policy_signature.clone(),
        lead_trust: args.lead_trust.clone(),
    };
    // A refused policy file keeps the last good policy (shown in a banner); with none to keep,
    // the app does not start.
    let start_policy =
        countersign_broker::policy::start_policy(&store, &policy_files, countersign_broker::now())
            .map_err(anyhow::Error::msg)?;

    let listener = tauri::async_runtime::block_on(async {
        let l = host::bind(args.listen).await?;
        l.into_std().map_err(|e| anyhow::anyhow!("listener: {e}"))
    })?;
    let bound = listener.local_addr()?;
    let api_url = format!("http://{bound}");

    let notifier = Arc::new(notify::DesktopNotifier::default());
    let broker = Broker::new(
        store,
        signer,
        notifier.clone(),
        BrokerConfig {
            policy: start_policy.policy,
            policy_files: Some(policy_files),
            policy_refusal: start_policy.refusal,
            ..BrokerConfig::default()
        },
    );
    let policy_watcher =
        countersign_broker::policy_watch::watch_policy(&broker).map_err(anyhow::Error::msg)?;

    notifier.attach(app.clone());
    tray::create_tray(app, notifier.desk())?;
    notifier.refresh_tray(broker.store().pending_count().unwrap_or(0));
    shell::set_remind_after(args.remind_after.0.as_secs());
    let (expired_tx, expired_rx) = std::sync::mpsc::channel();
    notifier.announce_expired_to(expired_tx);
    reminders::spawn(
        broker.clone(),
        notifier.desk(),
        args.remind_after,
        expired_rx,
    );
    // A saved team session is followed again at once (its stream, its notifications).
    app.manage(team::TeamState::resume(
        app.clone(),
        notifier.desk(),
        data_dir.clone(),
    ));
    app.manage(AppState {
        diff_pages: std::sync::Mutex::new(None),
        broker: broker.clone(),
        api_url: api_url.clone(),
        data_dir,
        desk: notifier.desk(),
        _policy_watcher: policy_watcher,
    });
    let api_broker = broker.clone();
    tauri::async_runtime::spawn(async move {
        let _expiry = api_broker.spawn_expiry_loop();
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("agent API listener: {e}");
                return;
            }
        };
        tracing::info!("agent API on {api_url}");
        if let Err(e) =
            countersign_broker::http::serve(listener, api_broker, std::future::pending()).await
        {
            tracing::error!("agent API stopped: {e}");
        }
    });
    Ok(broker)
}
