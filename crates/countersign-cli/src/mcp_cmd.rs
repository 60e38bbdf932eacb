//! `countersign mcp-proxy -- <server command…>`: an MCP gateway that holds every tool call for a
//! signed human decision.
//!
//! It is a stdio MCP server (JSON-RPC 2.0, one message per line, as the MCP specification's
//! stdio transport defines) that spawns the wrapped server and forwards every message both ways
//! unchanged — except `tools/call` requests. Each of those becomes a `tool.call` draft (tool,
//! server, arguments), waits for the decision through [`countersign_gate::run_gated`] (verified
//! against the pinned keys, single use recorded), and reaches the wrapped server only when
//! approved, carrying the tool name and arguments **from the signed body**. Otherwise the
//! gateway answers the client itself and the wrapped server never sees the call.
//!
//! Calls are gated concurrently: while one waits for a human, other requests, responses and
//! notifications flow. A `notifications/cancelled` for a call still waiting abandons it. A call
//! that carries a `progressToken` gets `notifications/progress` while it waits.
//!
//! Every call is drafted, read-only tools included: a tool the wrapped server's `tools/list`
//! annotated `readOnlyHint: true` is drafted with `read_only_hint: true` in its payload, and
//! only the lead-signed policy's `[read_only_tools]` rule may then approve it without a human
//! (with a signed decision and an audit row citing the policy; see
//! [`countersign_core::policy::ReadOnlyTools`]). Annotations are the server's own claim (the
//! specification calls them untrusted hints): the gateway decides nothing from them itself.
//!
//! Messages from the client are parsed strictly ([`countersign_core::json::parse_strict`]):
//! a line with duplicate keys could read as `tools/list` to us and `tools/call` to the server,
//! so it is answered with a parse error instead of forwarded. A JSON-RPC batch that contains a
//! `tools/call` is refused as a whole (batches left MCP in its 2025-06-18 revision).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use countersign_core::{ActionKind, Draft, TrustedKeys};
use countersign_gate::{run_gated, Client, GateOptions, Ledger};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::{AbortHandle, JoinSet};

/// JSON-RPC 2.0 error codes (JSON-RPC 2.0 specification §5.1).
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// How long the wrapped server may take to exit after its stdin closed before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `countersign mcp-proxy`.
#[derive(Args)]
pub struct McpProxyArgs {
    /// Trust file with the pinned approver key(s) (`countersign key export-public`).
    #[arg(long, env = "COUNTERSIGN_TRUST")]
    trust: PathBuf,
    /// Base URL of the Countersign agent API.
    #[arg(long, env = "COUNTERSIGN_API", default_value = "http://127.0.0.1:7823")]
    api: String,
    /// Seconds a tool call waits for a decision before it is refused (keep it below the MCP
    /// client's own request timeout).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Directory of the single-use ledger (default: the platform data dir's `gate/`).
    #[arg(long, env = "COUNTERSIGN_GATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Seconds between progress notifications sent while a call waits for its decision, to
    /// calls that carry a `progressToken` (clients may reset their request timeout on them).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    progress_every: u64,
    /// Server name in drafts (default: the `serverInfo.name` the wrapped server reports).
    #[arg(long)]
    name: Option<String>,
    /// The wrapped MCP server: program and arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

/// Responses from the wrapped server the gateway reads (to learn tool annotations and the
/// server's name), keyed by the JSON text of the request id.
#[derive(Clone, Copy)]
enum Watch {
    Initialize,
    ToolsList,
}

/// What the concurrent parts of the gateway share.
struct Shared {
    client: Client,
    trusted: TrustedKeys,
    ledger: Ledger,
    timeout: Duration,
    progress_every: Duration,
    name: Option<String>,
    fallback_name: String,
    /// Tool name → annotated `readOnlyHint: true`, from every `tools/list` page seen.
    read_only: Mutex<HashMap<String, bool>>,
    reported_name: Mutex<Option<String>>,
    watched: Mutex<HashMap<String, Watch>>,
    /// `None` once shutting down: closing the channel closes the wrapped server's stdin.
    to_server: Mutex<Option<UnboundedSender<String>>>,
    to_client: Mutex<Option<UnboundedSender<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn send_server(&self, line: String) {
        if let Some(tx) = lock(&self.to_server).as_ref() {
            let _ = tx.send(line);
        }
    }

    fn send_client(&self, message: &Value) {
        if let Some(tx) = lock(&self.to_client).as_ref() {
            let _ = tx.send(message.to_string());
        }
    }

    fn server_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| lock(&self.reported_name).clone())
            .unwrap_or_else(|| self.fallback_name.clone())
    }

    /// Remembers requests whose responses carry tool annotations or the server's name.
    fn watch(&self, message: &Value) {
        let kind = match message.get("method").and_then(Value::as_str) {
            Some("initialize") => Watch::Initialize,
            Some("tools/list") => Watch::ToolsList,
            _ => return,
        };
        if let Some(id) = message.get("id") {
            lock(&self.watched).insert(id.to_string(), kind);
        }
    }

    /// Reads a message of the wrapped server (forwarded unchanged whatever this finds).
    fn observe_server(&self, line: &str) {
        if lock(&self.watched).is_empty() {
            return;
        }
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let Some(id) = message
            .get("id")
            .filter(|_| message.get("method").is_none())
        else {
            return;
        };
        let Some(kind) = lock(&self.watched).remove(&id.to_string()) else {
            return;
        };
        let Some(result) = message.get("result") else {
            return;
        };
        match kind {
            Watch::Initialize => {
                if let Some(name) = result.pointer("/serverInfo/name").and_then(Value::as_str) {
                    *lock(&self.reported_name) = Some(name.to_owned());
                }
            }
            Watch::ToolsList => {
                let tools = result.get("tools").and_then(Value::as_array);
                let mut read_only = lock(&self.read_only);
                for tool in tools.into_iter().flatten() {
                    if let Some(name) = tool.get("name").and_then(Value::as_str) {
                        let hint = tool.pointer("/annotations/readOnlyHint") == Some(&json!(true));
                        read_only.insert(name.to_owned(), hint);
                    }
                }
            }
        }
    }
}

fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The answer to a tool call that was not approved.
///
/// The MCP specification (Tools, "Error Handling") distinguishes protocol errors (JSON-RPC
/// errors: unknown tool, invalid arguments) from tool execution errors, which servers report
/// as a result with `isError: true` so that the model sees them and can adjust. A refusal is
/// the second kind: the request was well-formed and the tool exists, the call was just not
/// allowed to run — and the model should read the human's reason (and, say, not retry the same
/// deletion). Malformed `tools/call` requests still get JSON-RPC errors.
fn refusal(id: Value, reason: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {
        "content": [{"type": "text", "text": reason}],
        "isError": true,
    }})
}

pub(crate) fn mcp_proxy(args: McpProxyArgs) -> Result<std::process::ExitCode> {
    let trusted = TrustedKeys::from_json(
        &std::fs::read(&args.trust).with_context(|| format!("reading {}", args.trust.display()))?,
    )?;
    let token =
        std::env::var("COUNTERSIGN_TOKEN").map_err(|_| anyhow!("COUNTERSIGN_TOKEN is not set"))?;
    let ledger = Ledger::open_in(&crate::gate_cmd::state_dir(args.state_dir.as_ref())?)?;
    let client = Client::new(&args.api, token)?;
    let fallback_name = args
        .command
        .first()
        .map(|p| {
            std::path::Path::new(p)
                .file_stem()
                .map_or_else(|| p.clone(), |s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let shared = Shared {
        client,
        trusted,
        ledger,
        timeout: Duration::from_secs(args.timeout),
        progress_every: Duration::from_secs(args.progress_every),
        name: args.name.clone(),
        fallback_name,
        read_only: Mutex::default(),
        reported_name: Mutex::default(),
        watched: Mutex::default(),
        to_server: Mutex::default(),
        to_client: Mutex::default(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let code = runtime.block_on(run(Arc::new(shared), &args.command))?;
    // Gate tasks blocked in a ledger write must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(std::process::ExitCode::from(code))
}

async fn run(shared: Arc<Shared>, command: &[String]) -> Result<u8> {
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| anyhow!("no MCP server command after `--`"))?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the MCP server `{program}`"))?;
    let mut server_in = child.stdin.take().context("no stdin for the server")?;
    let server_out = child.stdout.take().context("no stdout for the server")?;

    let (to_server, mut server_rx) = unbounded_channel::<String>();
    let (to_client, mut client_rx) = unbounded_channel::<String>();
    *lock(&shared.to_server) = Some(to_server);
    *lock(&shared.to_client) = Some(to_client);

    let server_writer = tokio::spawn(async move {
        while let Some(line) = server_rx.recv().await {
            let ok = server_in.write_all(line.as_bytes()).await.is_ok()
                && server_in.write_all(b"\n").await.is_ok()
                && server_in.flush().await.is_ok();
            if !ok {
                break;
            }
        }
        // Dropping `server_in` closes the server's stdin: the stdio transport's shutdown.
    });
    let client_writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(line) = client_rx.recv().await {
            let ok = out.write_all(line.as_bytes()).await.is_ok()
                && out.write_all(b"\n").await.is_ok()
                && out.flush().await.is_ok();
            if !ok {
                break;
            }
        }
    });
    let reader_shared = shared.clone();
    let mut server_reader = tokio::spawn(async move {
        let mut lines = BufReader::new(server_out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            reader_shared.observe_server(&line);
            if let Some(tx) = lock(&reader_shared.to_client).as_ref() {
                let _ = tx.send(line);
            }
        }
    });

    let mut calls = JoinSet::new();
    let mut waiting: HashMap<String, AbortHandle> = HashMap::new();
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut server_gone = false;
    loop {
        tokio::select! {
            line = input.next_line() => match line {
                Ok(Some(line)) => on_client_line(&shared, &mut calls, &mut waiting, line),
                Ok(None) | Err(_) => break,
            },
            _ = &mut server_reader => { server_gone = true; break },
            Some(_) = calls.join_next(), if !calls.is_empty() => {},
        }
    }

    // Shutdown (MCP stdio transport): close the server's stdin, give it time to exit, then kill.
    calls.abort_all();
    lock(&shared.to_server).take();
    let _ = server_writer.await;
    let status = match tokio::time::timeout(SHUTDOWN_GRACE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    if !server_gone {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut server_reader).await;
    }
    lock(&shared.to_client).take();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, client_writer).await;
    Ok(status
        .and_then(|s| s.code())
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1))
}

fn is_tool_call(message: &Value) -> bool {
    message.get("method").and_then(Value::as_str) == Some("tools/call")
}

fn on_client_line(
    shared: &Arc<Shared>,
    calls: &mut JoinSet<()>,
    waiting: &mut HashMap<String, AbortHandle>,
    line: String,
) {
    let message = match countersign_core::json::parse_strict(line.as_bytes()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("refused a client message that is not strict JSON: {e}");
            shared.send_client(&rpc_error(
                Value::Null,
                PARSE_ERROR,
                &format!("Countersign gateway: not strict JSON: {e}"),
            ));
            return;
        }
    };
    match &message {
        Value::Array(items) if items.iter().any(is_tool_call) => {
            let errors: Vec<Value> = items
                .iter()
                .filter_map(|m| m.get("id").cloned())
                .map(|id| {
                    rpc_error(
                        id,
                        INVALID_REQUEST,
                        "Countersign gateway: a batch with tools/call is not gated; send calls one by one",
                    )
                })
                .collect();
            if !errors.is_empty() {
                shared.send_client(&Value::Array(errors));
            }
        }
        Value::Array(items) => {
            items.iter().for_each(|m| shared.watch(m));
            shared.send_server(line);
        }
        m if is_tool_call(m) => {
            let Some(id) = m.get("id").cloned() else {
                tracing::warn!("dropped a tools/call notification (a call needs an id)");
                return;
            };
            waiting.retain(|_, h| !h.is_finished());
            let handle = calls.spawn(gate_call(shared.clone(), message));
            waiting.insert(id.to_string(), handle);
        }
        m if m.get("method").and_then(Value::as_str) == Some("notifications/cancelled") => {
            let request = m.pointer("/params/requestId").map(Value::to_string);
            match request.and_then(|r| waiting.remove(&r)) {
                // The server never saw the call: abandon the wait, forward nothing.
                Some(handle) => handle.abort(),
                None => shared.send_server(line),
            }
        }
        m => {
            shared.watch(m);
            shared.send_server(line);
        }
    }
}

/// Gates one `tools/call` request: forwards it (with the approved tool and arguments) or answers
/// the client with the reason it did not run.
async fn gate_call(shared: Arc<Shared>, request: Value) {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").and_then(Value::as_object);
    let Some(tool) = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        shared.send_client(&rpc_error(
            id,
            INVALID_PARAMS,
            "tools/call needs params.name (a string)",
        ));
        return;
    };
    let arguments = match params.and_then(|p| p.get("arguments")) {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            shared.send_client(&rpc_error(
                id,
                INVALID_PARAMS,
                "tools/call params.arguments must be an object",
            ));
            return;
        }
    };
    let read_only = lock(&shared.read_only).get(&tool) == Some(&true);
    let _progress = request
        .pointer("/params/_meta/progressToken")
        .cloned()
        .map(|token| AbortOnDrop(tokio::spawn(report_waiting(shared.clone(), token))));
    match approve(&shared, &tool, arguments, read_only).await {
        Ok((tool, arguments)) => {
            let mut forwarded = request;
            forwarded["params"]["name"] = tool.into();
            forwarded["params"]["arguments"] = arguments;
            shared.send_server(forwarded.to_string());
        }
        Err(e) => {
            let reason = format!("Countersign: the call to `{tool}` was not approved — {e:#}");
            tracing::warn!("{reason}");
            shared.send_client(&refusal(id, &reason));
        }
    }
}

/// Aborts a task when dropped: the progress ticker ends with its call, however the call ends
/// (decided, cancelled, or the gateway shutting down).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `notifications/progress` (MCP "Progress", `progress` increasing) for a call that
/// carries a `progressToken`, every `progress_every`, while it waits for a human: a client
/// that resets its request timeout on progress keeps waiting instead of giving up.
async fn report_waiting(shared: Arc<Shared>, token: Value) {
    let mut progress = 0_u64;
    loop {
        tokio::time::sleep(shared.progress_every).await;
        progress += 1;
        shared.send_client(&json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {
                "progressToken": token,
                "progress": progress,
                "message": "Waiting for a human decision in Countersign",
            },
        }));
    }
}

/// Files the draft, waits for the verified and recorded approval, and returns the tool name and
/// arguments as signed.
async fn approve(
    shared: &Shared,
    tool: &str,
    arguments: Value,
    read_only: bool,
) -> Result<(String, Value)> {
    let server = shared.server_name();
    let mut payload = json!({"tool": tool, "server": server, "arguments": arguments});
    if read_only {
        // The server's claim, shown to the reviewer; only the policy's rule acts on it.
        payload["read_only_hint"] = true.into();
    }
    let draft = Draft::from_value(json!({
        "kind": "tool.call",
        "target": format!("mcp://{server}/{tool}"),
        "summary": format!("MCP tool call: {tool} on {server}"),
        "payload": payload,
    }))
    .context("the call cannot be drafted")?;
    let opts = GateOptions {
        timeout: Some(shared.timeout),
        on_submitted: None,
        quorum: Default::default(),
        policy: None,
    };
    let approved = run_gated(
        &shared.client,
        &draft,
        &shared.trusted,
        &shared.ledger,
        opts,
    )
    .await?;
    let action = &approved.body.action;
    if action.kind != ActionKind::ToolCall {
        bail!(
            "the approved action is a {:?}, not a tool call",
            action.kind
        );
    }
    if action.payload.get("server").and_then(Value::as_str) != Some(server.as_str()) {
        bail!("the approved call is for another server");
    }
    let tool = action
        .payload
        .get("tool")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the approved call names no tool"))?;
    let arguments = action
        .payload
        .get("arguments")
        .filter(|a| a.is_object())
        .ok_or_else(|| anyhow!("the approved arguments are not an object"))?;
    Ok((tool.to_owned(), arguments.clone()))
}
