//! A running broker on a temp-dir SQLite file, an agent token, and the approver's trust list.

use std::sync::Arc;
use std::time::Duration;

use countersign_broker::http::ApiConfig;
use countersign_broker::{Broker, BrokerConfig, Signer};
use countersign_core::{ApproverKey, TrustedKeys};
use countersign_gate::Client;
use countersign_store::Store;
use tokio::sync::oneshot;

pub struct Fixture {
    pub broker: Broker,
    pub base: String,
    pub token: String,
    pub trusted: TrustedKeys,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn seed_key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([seed; 32]))
}

pub async fn start() -> Fixture {
    start_with(BrokerConfig::default()).await
}

pub async fn start_with(config: BrokerConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, config, true).await
}

/// Starts a broker on `dir` (reusing its database); registers agent `a1` when `fresh`.
pub async fn start_in(dir: tempfile::TempDir, config: BrokerConfig, fresh: bool) -> Fixture {
    start_full(dir, config, ApiConfig::default(), fresh).await
}

/// Starts a fresh broker whose HTTP API has `api`'s limits.
pub async fn start_api(api: ApiConfig) -> Fixture {
    start_full(
        tempfile::tempdir().unwrap(),
        BrokerConfig::default(),
        api,
        true,
    )
    .await
}

/// [`start_in`] with the API's limits.
pub async fn start_full(
    dir: tempfile::TempDir,
    config: BrokerConfig,
    api: ApiConfig,
    fresh: bool,
) -> Fixture {
    let store = Arc::new(Store::open(&dir.path().join("db.sqlite3")).unwrap());
    let key = seed_key(7);
    let trusted = TrustedKeys::from_keys(vec![key.trusted_key("ana", "approver")]).unwrap();
    let broker = Broker::headless(
        store,
        Signer {
            key,
            name: "ana".into(),
        },
        config,
    );
    let token = if fresh {
        broker.add_agent("a1").unwrap().token
    } else {
        std::fs::read_to_string(dir.path().join("token")).unwrap()
    };
    std::fs::write(dir.path().join("token"), &token).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(countersign_broker::http::serve_with(
        listener,
        broker.clone(),
        api,
        async {
            let _ = stopped.await;
        },
    ));
    Fixture {
        broker,
        base,
        token,
        trusted,
        dir,
        stop: Some(stop),
    }
}

impl Fixture {
    pub fn client(&self) -> Client {
        Client::new(&self.base, self.token.clone()).unwrap()
    }

    /// Stops the HTTP server and hands back the temp dir (for a restart).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// A raw HTTP request with reqwest, for the cases the typed client cannot express.
    pub fn raw(&self) -> reqwest::Client {
        reqwest::Client::new()
    }
}

pub fn draft_json(kind: &str) -> serde_json::Value {
    match kind {
        "shell.exec" => serde_json::json!({
            "kind": "shell.exec", "target": "host://build-01", "summary": "list files",
            "payload": {"argv": ["ls", "-la"]}
        }),
        "acl.change" => serde_json::json!({
            "kind": "acl.change", "target": "warehouse://analytics/user_data",
            "summary": "Let everyone query user_data",
            "payload": {"resource": "analytics.user_data", "grants": [
                {"principal": "data-eng", "permission": "admin"},
                {"principal": "all-employees", "permission": "read"}]},
            "before": [{"principal": "data-eng", "permission": "admin"}]
        }),
        other => panic!("no fixture draft for {other}"),
    }
}

pub fn draft(kind: &str) -> countersign_core::Draft {
    countersign_core::Draft::from_value(draft_json(kind)).unwrap()
}
