//! `countersign`: the command line.
//!
//! - `countersign serve`: the broker and agent API, headless (no window, no approvals: drafts
//!   wait for an app on the same data dir, and expire with a signed rejection);
//! - `countersign agent add NAME` / `agent list`: agent identities (token printed once);
//! - `countersign queue`: the drafts waiting in the data dir (read-only);
//! - `countersign key export-public`: the approver's public key, the trust file gates pin;
//!   `key rotate --trust FILE`: a new key, the old one revoked in the trust file;
//! - `countersign audit verify` / `audit export`: check the audit log's hash chain and signed
//!   checkpoints (exit 4 when tampered with), or write it as JSON Lines;
//! - `countersign exec --action draft.json --trust approver.pub -- EXECUTOR…`: submit, wait,
//!   verify, record single use, then run the approved action;
//! - `countersign verify --envelope e.json --trust approver.pub`: check an envelope offline;
//! - `countersign mcp-proxy -- SERVER…`: an MCP gateway holding each `tools/call` for a signed
//!   decision;
//! - `countersign score draft.json` (or `--jsonl`): the risk score and its factors, offline;
//! - `countersign policy sign policy.toml` / `policy check`: the lead-signed policy;
//! - `countersign cosign export ID` / `cosign sign FILE` / `cosign import FILE`: a lead on
//!   another machine co-signs a draft the local approver may not approve alone.
//!
//! Exit codes: 0 success; 1 not approved / verification failed / error; the executor's own code
//! when it ran and failed; 2 bad usage (clap).

mod cosign_cmd;
mod gate_cmd;
mod hook_cmd;
mod host_cmd;
mod mcp_cmd;
mod policy_cmd;
mod score_cmd;
mod team_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use countersign_broker::keystore::KeyStoreKind;

#[derive(Parser)]
#[command(
    name = "countersign",
    version,
    about = "A human between AI agents and the world: gate agent actions on signed human approval."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the broker's state lives (shared by the app and `serve`).
#[derive(Args, Clone)]
struct StateArgs {
    /// Data directory (database, key file). Default: the platform data dir.
    #[arg(long, env = "COUNTERSIGN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where the approver key is kept: auto, keyring or file.
    #[arg(long, env = "COUNTERSIGN_KEY_STORE", default_value = "auto")]
    key_store: KeyStoreKind,
    /// Approver display name written into decisions (default: $USER).
    #[arg(long, env = "COUNTERSIGN_APPROVER")]
    approver: Option<String>,
    /// A team's shared PostgreSQL database, as a URL
    /// (postgres://USER:PASSWORD@HOST:PORT/DATABASE); prefer the environment variable, which
    /// other users cannot read from the process list. Default: the SQLite file in the data dir.
    /// The approver key stays in the data dir (or the keychain) either way.
    #[arg(long, env = "COUNTERSIGN_DATABASE", value_name = "URL")]
    database: Option<String>,
}

impl StateArgs {
    /// The data dir and the store (`--database`, else the SQLite file in the data dir).
    fn open(&self) -> anyhow::Result<(PathBuf, std::sync::Arc<countersign_store::Store>)> {
        let dir = countersign_broker::host::data_dir(self.data_dir.as_deref())?;
        let store = countersign_broker::host::open_database(&dir, self.database.as_deref())?;
        Ok((dir, store))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker and agent API without a window.
    Serve {
        #[command(flatten)]
        state: StateArgs,
        /// Loopback address for the agent API.
        #[arg(long, default_value = countersign_broker::host::DEFAULT_LISTEN, env = "COUNTERSIGN_LISTEN")]
        listen: std::net::SocketAddr,
        /// Also serve the agent API on this Unix domain socket (mode 0600; other users'
        /// connections are dropped). Clients send `Host: localhost`.
        #[arg(long, env = "COUNTERSIGN_UNIX_SOCKET")]
        unix_socket: Option<PathBuf>,
        #[command(flatten)]
        policy: policy_cmd::PolicyArgs,
        #[command(flatten)]
        team: team_cmd::TeamServeArgs,
    },
    /// Team mode: build and sign the roster (leads); log in to a team server and review its
    /// queue as an approver (keys stay here; only signatures are uploaded).
    Team {
        #[command(subcommand)]
        command: team_cmd::TeamCommand,
    },
    /// The team lead's signed policy.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
    /// Manage agent identities.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Co-signing across machines with files: export a draft awaiting a lead's signature,
    /// sign a request as the lead, import the response.
    Cosign {
        #[command(subcommand)]
        command: cosign_cmd::CosignCommand,
    },
    /// The approver key.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The audit log: verify its chain and signed checkpoints, or export it.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// List drafts in the queue (pending first) from the data dir, read-only.
    Queue {
        #[command(flatten)]
        state: StateArgs,
        /// Print JSON (one array of queue rows) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only pending drafts.
        #[arg(long)]
        pending: bool,
    },
    /// Submit a draft, wait for a signed human decision, verify it, and run the approved action.
    Exec(gate_cmd::ExecArgs),
    /// Verify a decision envelope offline and print its body.
    Verify(gate_cmd::VerifyArgs),
    /// Score drafts offline: print the risk score and its factors as JSON.
    Score(score_cmd::ScoreArgs),
    /// Agent integrations: gate a coding agent's tool calls.
    Hook {
        #[command(subcommand)]
        command: HookCommand,
    },
    /// MCP gateway (stdio): wraps an MCP server and holds each tools/call for a signed decision.
    McpProxy(mcp_cmd::McpProxyArgs),
}

#[derive(Subcommand)]
enum HookCommand {
    /// Claude Code PreToolUse hook: reads the hook event on stdin, waits for a signed decision,
    /// answers allow/deny (with updatedInput when the approver edited it) on stdout.
    ClaudeCode(hook_cmd::ClaudeCodeArgs),
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Create an agent identity and print its bearer token (once; only its hash is stored).
    Add {
        /// Agent name: 1–64 of A–Z a–z 0–9 . _ -
        name: String,
        #[command(flatten)]
        state: StateArgs,
        /// Print only the token (for scripts).
        #[arg(long)]
        token_only: bool,
    },
    /// List agents.
    List {
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the approver's public key as a trust file entry (JSON) for gates to pin.
    ExportPublic {
        #[command(flatten)]
        state: StateArgs,
        /// Role recorded in the entry: approver or lead.
        #[arg(long, default_value = "approver")]
        role: String,
    },
    /// Replace the approver key with a new one (in the keychain or the encrypted file, wherever
    /// the current key is), revoke the old key in the trust file (atomic rewrite: `revoked_at`
    /// now, `revoked_reason`), pin the new one there, and print the new trust entry. Gates using
    /// the file then refuse every envelope the old key signed, old ones included.
    Rotate {
        #[command(flatten)]
        state: StateArgs,
        /// Trust file to update (must exist; rewritten as {"keys": [...]}).
        #[arg(long)]
        trust: PathBuf,
        /// Why the old key is revoked, recorded in the trust file.
        #[arg(long, default_value = "rotated")]
        reason: String,
        /// Role of the new key: approver or lead (default: the old key's role in the file,
        /// else approver).
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every row against the hash chain and every signed checkpoint; exit 4 and name
    /// each edited, deleted, reordered or truncated row or bad checkpoint.
    Verify {
        #[command(flatten)]
        state: StateArgs,
        /// Trust file with the key(s) checkpoints must be signed by (default: this approver's).
        #[arg(long)]
        trust: Option<PathBuf>,
        /// Verify this export (`audit export`) instead of the data dir's database.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Write the log and its checkpoints as JSON Lines.
    Export {
        #[command(flatten)]
        state: StateArgs,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COUNTERSIGN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            state,
            listen,
            unix_socket,
            policy,
            team,
        } => host_cmd::serve(&state, listen, unix_socket, &policy, &team),
        Command::Team { command } => team_cmd::run(command),
        Command::Policy { command } => policy_cmd::run(command),
        Command::Cosign { command } => cosign_cmd::run(command),
        Command::Agent {
            command:
                AgentCommand::Add {
                    name,
                    state,
                    token_only,
                },
        } => host_cmd::agent_add(&state, &name, token_only),
        Command::Agent {
            command: AgentCommand::List { state },
        } => host_cmd::agent_list(&state),
        Command::Key {
            command: KeyCommand::ExportPublic { state, role },
        } => host_cmd::export_public(&state, &role),
        Command::Key {
            command:
                KeyCommand::Rotate {
                    state,
                    trust,
                    reason,
                    role,
                },
        } => host_cmd::rotate(&state, &trust, &reason, role.as_deref()),
        Command::Audit {
            command: AuditCommand::Verify { state, trust, from },
        } => host_cmd::audit_verify(&state, trust.as_deref(), from.as_deref()),
        Command::Audit {
            command: AuditCommand::Export { state, out },
        } => host_cmd::audit_export(&state, out.as_deref()),
        Command::Queue {
            state,
            json,
            pending,
        } => host_cmd::queue(&state, json, pending),
        Command::Exec(args) => gate_cmd::exec(args),
        Command::Verify(args) => gate_cmd::verify(args),
        Command::Score(args) => score_cmd::score(args),
        Command::Hook {
            command: HookCommand::ClaudeCode(args),
        } => hook_cmd::claude_code(args),
        Command::McpProxy(args) => mcp_cmd::mcp_proxy(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("countersign: {e:#}");
            ExitCode::FAILURE
        }
    }
}
