//! Single use: an approval unlocks one execution, across restarts and racing processes.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use countersign_core::decision::{Expectations, GateError, Verdict};
use countersign_core::dsse::Envelope;
use countersign_gate::{run_gated, verify_for_execution, GateFailure, GateOptions, Ledger};

use crate::fixture::{self, approve_all, body_for, Filed, Fixture, AGENT};

/// One approved envelope from a full gated run, with the expectations it was checked against.
async fn one_approval(fx: &Fixture) -> (Envelope, String) {
    let approved = run_gated(
        &fx.client,
        &fixture::shell_draft(&["true"]),
        &fx.keys.trusted,
        &fx.ledger,
        GateOptions {
            timeout: Some(Duration::from_secs(5)),
            ..GateOptions::default()
        },
    )
    .await
    .expect("the first use is accepted");
    (approved.envelope, approved.submitted.id)
}

fn expect(id: &str) -> Expectations<'_> {
    Expectations {
        action_id: id,
        agent: AGENT,
        now: countersign_gate::unix_now(),
    }
}

fn assert_replay(result: Result<countersign_core::DecisionBody, GateFailure>, why: &str) {
    match result {
        Err(GateFailure::Refused(GateError::Replay(_))) => {}
        Err(other) => panic!("{why}: expected a replay refusal, got {other}"),
        Ok(_) => panic!("{why}: a second use was accepted"),
    }
}

#[tokio::test]
async fn same_envelope_twice_is_refused_the_second_time() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let (envelope, id) = one_approval(&fx).await;

    let second = verify_for_execution(&envelope, &fx.keys.trusted, &fx.ledger, &expect(&id));

    assert_replay(second, "an approval is good for one execution");
}

#[tokio::test]
async fn replay_is_refused_after_the_ledger_is_reopened() {
    let fx = Fixture::new(|k| approve_all(&k.approver)).await;
    let (envelope, id) = one_approval(&fx).await;
    let path = fx.ledger.path().to_owned();
    drop(fx.ledger);

    let reopened = Ledger::open(&path).unwrap();
    let second = verify_for_execution(&envelope, &fx.keys.trusted, &reopened, &expect(&id));

    assert_replay(
        second,
        "a restart must not make a used approval usable again",
    );
}

#[test]
fn racing_processes_on_one_envelope_exactly_one_wins() {
    let keys = fixture::keys();
    let filed = Filed {
        id: "race-1".into(),
        action: fixture::shell_draft(&["true"]).action(),
    };
    let envelope = body_for(&filed, &keys.approver, Verdict::Approved).sign(&keys.approver);
    let dir = tempfile::tempdir().unwrap();
    let path = Ledger::default_path(dir.path());
    Ledger::open(&path).unwrap();

    const RACERS: usize = 8;
    let barrier = Arc::new(Barrier::new(RACERS));
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                let barrier = barrier.clone();
                let (path, envelope, trusted) = (&path, &envelope, &keys.trusted);
                scope.spawn(move || {
                    // Each racer has its own connection, as a separate process would.
                    let ledger = Ledger::open(path).unwrap();
                    barrier.wait();
                    verify_for_execution(envelope, trusted, &ledger, &expect("race-1"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1, "exactly one racer may execute: {outcomes:?}");
    for loser in outcomes.into_iter().filter(Result::is_err) {
        assert_replay(loser, "every other racer sees the first one's record");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_sharing_one_ledger_exactly_one_wins() {
    let keys = fixture::keys();
    let filed = Filed {
        id: "race-2".into(),
        action: fixture::shell_draft(&["true"]).action(),
    };
    let envelope =
        Arc::new(body_for(&filed, &keys.approver, Verdict::Approved).sign(&keys.approver));
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open_in(dir.path()).unwrap());
    let trusted = Arc::new(keys.trusted);

    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (envelope, ledger, trusted) = (envelope.clone(), ledger.clone(), trusted.clone());
            tokio::task::spawn_blocking(move || {
                verify_for_execution(&envelope, &trusted, &ledger, &expect("race-2")).is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }

    assert_eq!(
        winners, 1,
        "one shared ledger handle serializes its users too"
    );
}
