//! Several broker replicas on one PostgreSQL database: racing approvers get one outcome, and a
//! long-poll on one replica wakes when another records the decision (`LISTEN`/`NOTIFY`).
//! Skipped (loudly) without `COUNTERSIGN_TEST_PG`, as the store's PostgreSQL suite is.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use countersign_broker::{Broker, BrokerConfig, DecisionInput, Signer};
use countersign_core::api::{Status, Submitted};
use countersign_store::{AgentRow, Store};

use crate::fixture::{draft, seed_key};
use crate::long_poll::approve_while_long_polling;

#[path = "../../../countersign-store/tests/store/pg_fixture.rs"]
mod pg_fixture;

/// Two brokers on one fresh database, as two `countersign serve --database` processes would
/// be, with the agent `a1` registered through the first.
struct Replicas {
    url: String,
    a: Broker,
    b: Broker,
    agent: AgentRow,
    token: String,
}

/// [`Replicas`], replica B with `config_b`; `None` when no PostgreSQL server is configured.
fn replicas(config_b: BrokerConfig) -> Option<Replicas> {
    let url = pg_fixture::new_database(&pg_fixture::server_url()?);
    let replica = |seed: u8, config: BrokerConfig| {
        Broker::headless(
            Arc::new(Store::open_postgres(&url).unwrap()),
            Signer {
                key: seed_key(seed),
                name: format!("approver-{seed}"),
            },
            config,
        )
    };
    let a = replica(7, BrokerConfig::default());
    let b = replica(8, config_b);
    let token = a.add_agent("a1").unwrap().token;
    let agent = b.store().agent_by_token(&token).unwrap().unwrap();
    Some(Replicas {
        url,
        a,
        b,
        agent,
        token,
    })
}

impl Replicas {
    /// A draft filed through replica A.
    fn submit(&self) -> Submitted {
        self.a
            .submit_draft(&self.agent, &draft("acl.change"))
            .unwrap()
    }
}

#[test]
fn approvers_racing_on_two_replicas_produce_one_outcome_and_one_audit_row() {
    let Some(replicas) = replicas(BrokerConfig::default()) else {
        return;
    };
    let submitted = replicas.submit();
    const DECIDERS: usize = 8;
    let start = Arc::new(Barrier::new(DECIDERS));
    let outcomes: Vec<Option<Status>> = std::thread::scope(|scope| {
        let deciders: Vec<_> = (0..DECIDERS)
            .map(|i| {
                let broker = if i % 2 == 0 { &replicas.a } else { &replicas.b };
                let (start, submitted) = (start.clone(), &submitted);
                scope.spawn(move || {
                    let (input, status) = if i % 4 < 2 {
                        (DecisionInput::Approve, Status::Approved)
                    } else {
                        let reason = format!("decider {i} says no");
                        (DecisionInput::Reject { reason }, Status::Rejected)
                    };
                    start.wait();
                    broker
                        .decide(&submitted.id, &submitted.action_digest, input)
                        .ok()
                        .map(|_| status)
                })
            })
            .collect();
        deciders.into_iter().map(|d| d.join().unwrap()).collect()
    });
    let won: Vec<Status> = outcomes.into_iter().flatten().collect();
    assert_eq!(
        won.len(),
        1,
        "exactly one of {DECIDERS} racing decisions wins across both replicas: {won:?}"
    );
    for replica in [&replicas.a, &replicas.b] {
        let store = replica.store();
        let row = store.action(&submitted.id).unwrap().unwrap();
        assert_eq!(row.status, won[0], "both replicas read the winner's status");
        let decision = store.decision(&submitted.id).unwrap();
        assert!(decision.is_some(), "the decision row of the winner exists");
    }
    let store = replicas.b.store();
    let decided: Vec<_> = store
        .audit_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.action_id.as_deref() == Some(submitted.id.as_str()))
        .filter(|r| r.event != "action.submitted")
        .collect();
    assert_eq!(
        decided.len(),
        1,
        "one audit row records the one decision: {:?}",
        decided.iter().map(|r| &r.event).collect::<Vec<_>>()
    );
    assert_eq!(
        store.verify_audit_chain().unwrap(),
        None,
        "the rows both replicas wrote form one intact chain"
    );
}

/// Replica B re-reads the store only once a minute: only a notification can wake its polls.
fn deaf_to_the_store() -> BrokerConfig {
    BrokerConfig {
        store_recheck: Duration::from_secs(60),
        ..BrokerConfig::default()
    }
}

#[test]
fn a_long_poll_on_one_replica_wakes_when_another_replica_decides() {
    let Some(replicas) = replicas(deaf_to_the_store()) else {
        return;
    };
    long_poll_on_b_wakes_on_a_decision_on_a(&replicas);
}

#[test]
fn the_decision_listener_reconnects_after_its_connection_is_killed() {
    let Some(replicas) = replicas(deaf_to_the_store()) else {
        return;
    };
    let mut admin = ::postgres::Client::connect(&replicas.url, ::postgres::NoTls).unwrap();
    // The listeners' server processes, once both replicas have one and none is in `old`.
    let mut listeners_other_than = |old: &[i32]| -> Vec<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids: Vec<i32> = admin
                .query(
                    "SELECT pid FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = $1",
                    &[&countersign_store::pg::LISTENER_NAME],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            if pids.len() == 2 && pids.iter().all(|p| !old.contains(p)) {
                return pids;
            }
            assert!(
                Instant::now() < deadline,
                "each replica (re)connects its listener: {pids:?}, old {old:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = listeners_other_than(&[]);
    let mut killer = ::postgres::Client::connect(&replicas.url, ::postgres::NoTls).unwrap();
    for pid in &first {
        let killed: bool = killer
            .query_one("SELECT pg_terminate_backend($1)", &[pid])
            .unwrap()
            .get(0);
        assert!(killed, "listener {pid} is terminated");
    }
    let second = listeners_other_than(&first);
    eprintln!("listeners {first:?} terminated; reconnected as {second:?}");
    long_poll_on_b_wakes_on_a_decision_on_a(&replicas);
}

/// An agent long-polls replica B over HTTP (10 s) while replica A approves its draft; the poll
/// must answer with A's envelope well before its timeout.
fn long_poll_on_b_wakes_on_a_decision_on_a(replicas: &Replicas) {
    let submitted = replicas.submit();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(countersign_broker::http::serve(
            listener,
            replicas.b.clone(),
            std::future::pending(),
        ));
        countersign_gate::Client::new(&base, replicas.token.clone()).unwrap()
    });
    const WAIT_S: u64 = 10;
    let (answer, latency) =
        approve_while_long_polling(&runtime, &client, &replicas.a, &submitted, WAIT_S);
    eprintln!("decision on replica A to long-poll answer on replica B: {latency:?}");
    assert_eq!(answer.status, Status::Approved);
    assert!(
        answer.envelope.is_some(),
        "replica B hands over the envelope replica A signed"
    );
    assert!(
        latency < Duration::from_secs(2),
        "the long-poll (wait {WAIT_S} s, store re-read every 60 s) wakes on the \
         notification, not its timeout: {latency:?}"
    );
}
