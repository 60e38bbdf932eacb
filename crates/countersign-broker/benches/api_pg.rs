//! Benchmark of the agent API on PostgreSQL, one broker replica against two, next to the
//! embedded SQLite figures of the `api` bench (run it against a throwaway server:
//! `scripts/pg-test.sh cargo bench -p countersign-broker --bench api_pg`, which sets
//! `COUNTERSIGN_TEST_PG`; without it the bench says so and measures nothing).
//!
//! For one and then two replicas (brokers in this process, each with its own connection pool
//! and decision listener, as `countersign serve --database` processes would have, on one fresh
//! database), prints:
//! - submissions per second and p50/p99 latency of `POST /v1/actions` (201 = committed), with
//!   16 concurrent agents spread evenly over the replicas;
//! - time from a decision on the first replica to the waiting agent holding the signed
//!   envelope from its long-poll on the last replica (with two: woken by `NOTIFY`), p50/p99.
//!
//! Then team mode on two replicas: an engineer's signature uploaded to the first replica (the
//! approval awaits a second approver), a lead's to the second; the time from the lead's upload
//! (verified against the roster, quorum counted, committed) to the agent, long-polling the
//! first replica, holding the two-signature envelope, p50/p99.
//!
//! `COUNTERSIGN_BENCH_SUBMISSIONS` (default 200 per agent) and `COUNTERSIGN_BENCH_DECISIONS`
//! (default 100) scale it, as for `api`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::{Broker, BrokerConfig, Member, Signer, Team, TeamFiles};
use countersign_core::decision::{Approver, RiskSummary, Verdict, DECISION_PAYLOAD_TYPE};
use countersign_core::digest::canonical_json;
use countersign_core::dsse::{pae, Signature};
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::team::{sign_roster, LoginRequest, Roster, SignOutcome, SignatureUpload};
use countersign_core::{ApproverKey, DecisionBody, TrustedKeys};
use countersign_gate::Client;
use countersign_store::Store;

use common::{decision_delivery, env_usize, print_spread, submissions};

#[path = "../../countersign-store/tests/store/pg_fixture.rs"]
mod pg_fixture;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = pg_fixture::server_url() else {
        return;
    };
    let per_agent = env_usize("COUNTERSIGN_BENCH_SUBMISSIONS", 200);
    let decisions = env_usize("COUNTERSIGN_BENCH_DECISIONS", 100);
    for replicas in [1, 2] {
        // The fixture's client is synchronous: it runs its own runtime, outside this one.
        let url = tokio::task::block_in_place(|| pg_fixture::new_database(&server));
        let brokers: Vec<_> = (0..replicas)
            .map(|_| common::broker(Arc::new(Store::open_postgres(&url).expect("store"))))
            .collect();
        let tokens = common::agents(&brokers[0]);
        let mut bases = Vec::new();
        for broker in &brokers {
            bases.push(common::serve(broker).await);
        }
        println!("== PostgreSQL, {replicas} replica(s) on one database");
        submissions(&bases, &tokens, per_agent).await;
        let (first, last) = (&bases[0], &bases[bases.len() - 1]);
        let mut delivery = decision_delivery(&brokers[0], first, last, &tokens[0], decisions).await;
        println!(
            "decision on the first replica → agent long-polling the {} has the signed envelope \
             ({decisions} decisions, incl. signing and commit)",
            if replicas == 1 { "same one" } else { "second" }
        );
        print_spread(&mut delivery);
    }
    let url = tokio::task::block_in_place(|| pg_fixture::new_database(&server));
    team_delivery(&url, decisions).await;
}

/// A team member's key: the lead (seed 1) or the engineer (seed 2).
fn member_key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([seed; 32]))
}

/// Two replicas in team mode on `url` (policy: every draft needs two approvers); measures
/// the lead's completing upload → agent holding the envelope, `decisions` times.
async fn team_delivery(url: &str, decisions: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (lead, eng) = (member_key(1), member_key(2));
    let roster = serde_json::to_vec(&Roster {
        v: 1,
        kind: countersign_core::team::ROSTER_TYPE.into(),
        team: "bench".into(),
        serial: 1,
        keys: vec![
            lead.trusted_key("lead", "lead"),
            eng.trusted_key("eng", "approver"),
        ],
    })
    .expect("roster");
    let write =
        |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
    write("roster.json", &roster);
    write(
        "roster.json.sig",
        &serde_json::to_vec(&sign_roster(&roster, &lead)).expect("sig"),
    );
    write(
        "anchors.json",
        &serde_json::to_vec(&lead.trusted_key("lead", "lead")).expect("anchors"),
    );
    let text = "serial = 1\n[thresholds]\ntwo_approvers_from = 0\n";
    let anchors = TrustedKeys::from_keys(vec![lead.trusted_key("lead", "lead")]).expect("keys");
    let loaded = Arc::new(
        LoadedPolicy::verify(
            text.as_bytes(),
            &policy::sign(text.as_bytes(), &lead),
            &anchors,
        )
        .expect("policy"),
    );
    let files = TeamFiles {
        roster: dir.path().join("roster.json"),
        signature: None,
        anchors: dir.path().join("anchors.json"),
        escalate_after_s: 300,
    };
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = Arc::new(Store::open_postgres(url).expect("store"));
        let broker = Broker::headless(
            store,
            Signer {
                key: ApproverKey::generate(),
                name: "server".into(),
            },
            BrokerConfig {
                policy: Some(loaded.clone()),
                max_pending_per_agent: u32::MAX,
                ..Default::default()
            },
        );
        let team =
            tokio::task::block_in_place(|| Team::start(broker.clone(), &files)).expect("team");
        let base = common::serve(&broker).await;
        replicas.push((broker, team, base));
    }
    let token = replicas[0].0.add_agent("team-agent").expect("agent").token;
    let login = |team: &Team, key: &ApproverKey| -> Member {
        let challenge = team.challenge(&key.key_id()).expect("challenge");
        let session = team
            .login(&LoginRequest {
                signature: challenge.sign(key),
                challenge,
            })
            .expect("login");
        team.authenticate(&session.token).expect("session")
    };
    let (eng_m, lead_m) =
        tokio::task::block_in_place(|| (login(&replicas[0].1, &eng), login(&replicas[1].1, &lead)));
    let client = Client::new(&replicas[0].2, token.clone()).expect("client");
    let mut delivery = Vec::with_capacity(decisions);
    let mut uploads = Vec::with_capacity(decisions);
    for i in 0..decisions {
        let s = client.submit(&common::draft(i)).await.expect("submit");
        let waiter = {
            let client = Client::new(&replicas[0].2, token.clone()).expect("client");
            let id = s.id.clone();
            tokio::spawn(async move {
                let r = client.decision(&id, 30).await.expect("long-poll");
                (Instant::now(), r)
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let detail = tokio::task::block_in_place(|| replicas[0].1.draft(&s.id)).expect("draft");
        let iat = countersign_broker::now();
        let body = DecisionBody {
            v: 1,
            verdict: Verdict::Approved,
            reason: None,
            action_id: s.id.clone(),
            agent: detail.draft.summary.agent.clone(),
            action: detail.detail.action.clone(),
            action_digest: detail.detail.action_digest.clone(),
            approver: Approver {
                keyid: eng.key_id(),
                name: "eng".into(),
            },
            risk: RiskSummary {
                score: detail.detail.risk.score,
                level: detail.detail.risk.level,
            },
            policy_sha256: detail.policy_sha256.clone(),
            iat,
            exp: iat + 300,
            jti: format!("bench-{i}-{iat}"),
        };
        let bytes = canonical_json(&body).expect("body");
        let upload = |key: &ApproverKey| SignatureUpload {
            payload: B64.encode(&bytes),
            signature: Signature {
                keyid: key.key_id(),
                sig: B64.encode(key.sign(&pae(DECISION_PAYLOAD_TYPE, &bytes))),
            },
        };
        let (first, second) = (upload(&eng), upload(&lead));
        let t = Instant::now();
        let out = tokio::task::block_in_place(|| replicas[0].1.sign(&eng_m, &s.id, &first))
            .expect("first signature");
        uploads.push(t.elapsed());
        assert!(matches!(out, SignOutcome::Awaiting { .. }));
        let decided_at = Instant::now();
        let out = tokio::task::block_in_place(|| replicas[1].1.sign(&lead_m, &s.id, &second))
            .expect("second signature");
        assert!(matches!(out, SignOutcome::Released { .. }));
        let (received_at, r) = waiter.await.expect("waiter");
        let envelope = r.envelope.expect("the waiting agent receives the envelope");
        assert_eq!(envelope.signatures.len(), 2);
        delivery.push(received_at.saturating_duration_since(decided_at));
    }
    println!(
        "== PostgreSQL, team mode, 2 replicas: engineer signs on the first, lead on the second"
    );
    println!("first signature recorded (verified against the roster, awaiting a second):");
    common::print_spread(&mut uploads);
    println!(
        "lead's signature on the second replica → agent long-polling the first has the \
         two-signature envelope ({decisions} decisions):"
    );
    common::print_spread(&mut delivery);
}
