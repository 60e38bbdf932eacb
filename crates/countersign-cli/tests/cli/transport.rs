//! `countersign serve --unix-socket`: the agent API on a private Unix domain socket.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn countersign(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_countersign"));
    c.env("COUNTERSIGN_DATA_DIR", dir.join("data"))
        .env("COUNTERSIGN_KEY_STORE", "file")
        .env("COUNTERSIGN_KEY_PASSPHRASE", "correct horse battery staple");
    c
}

fn over_socket(path: &Path, request: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_answers_agents_on_a_unix_socket_only_its_user_can_open() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let token = countersign(dir.path())
        .args(["agent", "add", "sock-bot", "--token-only"])
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let mut server = countersign(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--unix-socket"])
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while !socket.exists() && waited < 300 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    let result = std::panic::catch_unwind(|| {
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let health = over_socket(
            &socket,
            "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let body =
            r#"{"kind":"shell.exec","target":"host://x","summary":"ls","payload":{"argv":["ls"]}}"#;
        let submit = over_socket(
            &socket,
            &format!(
                "POST /v1/actions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(submit.starts_with("HTTP/1.1 201"), "{submit}");
    });
    let _ = server.kill();
    let _ = server.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
