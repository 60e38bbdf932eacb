//! `countersign mcp-proxy` at the protocol level, wrapping `cat` (which answers every message
//! with itself, so whatever the gateway forwards comes straight back): what is forwarded
//! unchanged, what the gateway answers itself, and that a call goes out only as approved.
//! The MCP Python SDK drives it as a real client and server in clients/python/tests.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use countersign_broker::DecisionInput;
use serde_json::{json, Value};

use crate::World;

struct Proxy {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Proxy {
    fn start(w: &World) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(["mcp-proxy", "--trust"])
            .arg(w.path("trust.json"))
            .args([
                "--api",
                &w.base,
                "--timeout",
                "30",
                "--name",
                "echo",
                "--state-dir",
            ])
            .arg(w.path("gate"))
            .args(["--", "cat"])
            .env("COUNTERSIGN_TOKEN", &w.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Proxy {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the gateway answers within 30 s")
    }

    fn next(&self) -> Value {
        serde_json::from_str(&self.next_line()).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PING: &str = r#"{"jsonrpc":"2.0","id":"ping-1","method":"ping"}"#;

#[test]
fn every_message_but_a_tool_call_is_forwarded_unchanged() {
    let w = World::new();
    let mut p = Proxy::start(&w);
    for line in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"a b"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"result":{"roots":[]}}"#,
        r#"[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","id":4,"method":"resources/list"}]"#,
    ] {
        p.send(line);
        assert_eq!(p.next_line(), line, "forwarded byte for byte");
    }
    assert_eq!(w.broker.store().actions(5).unwrap().len(), 0);
}

#[test]
fn a_line_that_is_not_strict_json_is_answered_and_not_forwarded() {
    let w = World::new();
    let mut p = Proxy::start(&w);
    // Read as tools/list by a last-key-wins parser, as tools/call by a first-key-wins one.
    p.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"rm"}}"#);
    let answer = p.next();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    assert_eq!(answer["id"], Value::Null);
    p.send(PING);
    assert_eq!(
        p.next_line(),
        PING,
        "the refused line never reached the server"
    );
}

#[test]
fn a_batch_with_a_tool_call_is_refused_whole_and_malformed_calls_get_json_rpc_errors() {
    let w = World::new();
    let mut p = Proxy::start(&w);
    p.send(r#"[{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"rm","arguments":{}}},{"jsonrpc":"2.0","id":6,"method":"ping"}]"#);
    let batch = p.next();
    let ids: Vec<_> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, [json!(5), json!(6)]);
    assert!(batch
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["error"]["code"] == -32600));
    p.send(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{}}}"#);
    let no_name = p.next();
    assert_eq!(
        (no_name["id"].clone(), no_name["error"]["code"].clone()),
        (json!(7), json!(-32602))
    );
    p.send(
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"rm","arguments":[1]}}"#,
    );
    assert_eq!(p.next()["error"]["code"], -32602);
    p.send(PING);
    assert_eq!(p.next_line(), PING);
    assert_eq!(
        w.broker.store().actions(5).unwrap().len(),
        0,
        "nothing was drafted"
    );
}

#[test]
fn an_approved_call_goes_out_with_the_signed_tool_and_arguments_and_keeps_its_id_and_meta() {
    let w = World::new();
    let mut p = Proxy::start(&w);
    p.send(r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/srv/db"},"_meta":{"progressToken":42}}}"#);
    let (id, digest) = w.pending();
    let mut edited = w.broker.store().actions(5).unwrap()[0].action.clone();
    assert_eq!(edited.target, "mcp://echo/delete_file");
    assert_eq!(
        edited.payload,
        json!({"tool": "delete_file", "server": "echo", "arguments": {"path": "/srv/db"}})
    );
    edited.payload["arguments"] = json!({"path": "/tmp/scratch"});
    w.broker.decide_edited(&id, &digest, edited).unwrap();
    let forwarded = p.next();
    assert_eq!(forwarded["id"], "c1");
    assert_eq!(forwarded["method"], "tools/call");
    assert_eq!(forwarded["params"]["name"], "delete_file");
    assert_eq!(
        forwarded["params"]["arguments"],
        json!({"path": "/tmp/scratch"}),
        "the server gets the approved arguments"
    );
    assert_eq!(forwarded["params"]["_meta"]["progressToken"], 42);
}

#[test]
fn a_rejected_call_is_a_tool_error_with_the_reason_and_a_cancelled_one_is_abandoned() {
    let w = World::new();
    let mut p = Proxy::start(&w);
    p.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop_table","arguments":{"t":"users"}}}"#);
    let (id, digest) = w.pending();
    w.broker
        .decide(
            &id,
            &digest,
            DecisionInput::Reject {
                reason: "users is production".into(),
            },
        )
        .unwrap();
    let answer = p.next();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("users is production"), "{text}");

    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop_table","arguments":{"t":"orders"}}}"#);
    let (id, digest) = w.pending();
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}"#);
    p.send(PING);
    assert_eq!(
        p.next_line(),
        PING,
        "the cancellation itself is not forwarded"
    );
    w.broker
        .decide(&id, &digest, DecisionInput::Approve)
        .unwrap();
    // Time for a (wrongly) still-waiting gate to receive the decision and forward the call.
    std::thread::sleep(Duration::from_millis(1500));
    p.send(PING);
    assert_eq!(
        p.next_line(),
        PING,
        "a call the client cancelled is not forwarded, even when approved later"
    );
}

#[test]
fn without_a_token_or_a_server_it_stops_at_once_with_the_reason_and_no_protocol_output() {
    let w = World::new();
    let run = |token: Option<&str>, server: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_countersign"));
        cmd.args(["mcp-proxy", "--trust"])
            .arg(w.path("trust.json"))
            .args(["--api", &w.base, "--state-dir"])
            .arg(w.path("gate"))
            .args(["--", server])
            .env_remove("COUNTERSIGN_TOKEN")
            .stdin(Stdio::null());
        if let Some(t) = token {
            cmd.env("COUNTERSIGN_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    let no_token = run(None, "cat");
    assert_eq!(no_token.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("COUNTERSIGN_TOKEN is not set"));
    assert!(
        no_token.stdout.is_empty(),
        "stdout carries only MCP messages"
    );
    let no_server = run(Some(&w.token), "/nonexistent/mcp-server");
    assert_eq!(no_server.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no_server.stderr).contains("starting the MCP server"),
        "{}",
        String::from_utf8_lossy(&no_server.stderr)
    );
}
