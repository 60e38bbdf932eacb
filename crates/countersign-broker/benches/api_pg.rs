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
//! `COUNTERSIGN_BENCH_SUBMISSIONS` (default 200 per agent) and `COUNTERSIGN_BENCH_DECISIONS`
//! (default 100) scale it, as for `api`.

mod common;

use std::sync::Arc;

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
}
