//! A decision made while an agent long-polls for it, timed. Shared with the CLI's tests by
//! `#[path]` (a broker replica decides while the agent waits on another).
#![allow(dead_code, clippy::unwrap_used)] // each including suite uses what it needs

use std::time::{Duration, Instant};

use countersign_broker::{Broker, DecisionInput};
use countersign_core::api::{DecisionResponse, Submitted};

/// `decider` approves `submitted` while `client` long-polls for it (`wait_s` seconds at most),
/// the poll started 300 ms earlier so that it is waiting; the answer and how long after the
/// approval it arrived.
pub fn approve_while_long_polling(
    runtime: &tokio::runtime::Runtime,
    client: &countersign_gate::Client,
    decider: &Broker,
    submitted: &Submitted,
    wait_s: u64,
) -> (DecisionResponse, Duration) {
    let waiting = {
        let (client, id) = (client.clone(), submitted.id.clone());
        runtime.spawn(async move {
            let answer = client.decision(&id, wait_s).await;
            (answer, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    decider
        .decide(
            &submitted.id,
            &submitted.action_digest,
            DecisionInput::Approve,
        )
        .unwrap();
    let decided = Instant::now();
    let (answer, answered) = runtime.block_on(waiting).unwrap();
    (answer.unwrap(), answered.saturating_duration_since(decided))
}
