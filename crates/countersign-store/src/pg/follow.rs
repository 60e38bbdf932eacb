//! Follows decisions committed by any replica on the database: a connection of its own (not
//! from the pool) runs `LISTEN` on [`DECIDED_CHANNEL`] on a thread of its own, and hands each
//! notification's payload (a draft id) to a callback.
//!
//! The decision's transaction sends the `NOTIFY` (see `record_decision`), and PostgreSQL
//! delivers a notification only when that transaction commits
//! (<https://www.postgresql.org/docs/current/sql-notify.html>), so a listener never hears of a
//! decision that rolled back. A notification sent while the listener is reconnecting is lost:
//! callers keep a slower re-read of the store as a backstop (the broker's long-poll re-reads
//! every `STORE_RECHECK`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, Config, NoTls};

use super::DECIDED_CHANNEL;

/// How long the listener waits for a notification before it checks whether to stop.
const POLL: Duration = Duration::from_millis(250);

/// How often an idle listener checks its connection with a query (a server that went away
/// without closing the socket is noticed this late at most).
const PING_EVERY: Duration = Duration::from_secs(15);

/// Wait before reconnecting after the connection failed; doubles up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(200);

/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// A running listener (see the module documentation). Dropping it stops the thread within
/// [`POLL`]; the drop itself does not wait.
pub struct DecisionFollower {
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for DecisionFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecisionFollower")
    }
}

impl Drop for DecisionFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the listener thread on `config`'s database; `on_decided` gets each decided draft's
/// id, on that thread, in commit order (a decision made through this very store included).
///
/// # Errors
/// The OS's error when the thread cannot be started. Connection failures are not errors: the
/// thread logs them and reconnects with a growing pause (up to [`RECONNECT_MAX`]).
pub(crate) fn start(
    config: Config,
    on_decided: impl Fn(&str) + Send + 'static,
) -> std::io::Result<DecisionFollower> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name("countersign-listen".into())
        .spawn(move || follow(&config, &stopped, &on_decided))?;
    Ok(DecisionFollower { stop })
}

/// The listener thread: connect, `LISTEN`, relay, and start again whenever the connection
/// fails, until `stop` is set.
fn follow(config: &Config, stop: &AtomicBool, on_decided: &dyn Fn(&str)) {
    let mut pause = RECONNECT_FIRST;
    while !stop.load(Ordering::Relaxed) {
        let failure = match listen(config) {
            Ok(mut client) => {
                pause = RECONNECT_FIRST;
                relay(&mut client, stop, on_decided)
            }
            Err(e) => Some(e),
        };
        let Some(e) = failure else { return };
        tracing::warn!(
            "PostgreSQL listener for decisions: {}; reconnecting in {pause:?}",
            super::describe(&e)
        );
        let resume = Instant::now() + pause;
        while Instant::now() < resume && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL.min(resume.saturating_duration_since(Instant::now())));
        }
        pause = (pause * 2).min(RECONNECT_MAX);
    }
}

/// `application_name` of the listening connection, so that an operator (or a test) can tell
/// it from the pool's in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "countersign-listen";

/// A new connection listening on [`DECIDED_CHANNEL`].
fn listen(config: &Config) -> Result<Client, postgres::Error> {
    let mut client = config
        .clone()
        .application_name(LISTENER_NAME)
        .connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {DECIDED_CHANNEL}"))?;
    Ok(client)
}

/// Hands each notification to `on_decided` until `stop` is set (`None`) or the connection
/// fails (its error).
fn relay(
    client: &mut Client,
    stop: &AtomicBool,
    on_decided: &dyn Fn(&str),
) -> Option<postgres::Error> {
    let mut pinged = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut batch: Vec<String> = Vec::new();
        {
            let mut notifications = client.notifications();
            match notifications.timeout_iter(POLL).next() {
                Ok(Some(n)) => batch.push(n.payload().to_owned()),
                Ok(None) => {}
                Err(e) => return Some(e),
            }
            // Then whatever else already arrived, without waiting: a burst of submissions is
            // handled as one batch, after the decisions in it.
            while !batch.is_empty() && batch.len() < MAX_BATCH {
                match notifications.iter().next() {
                    Ok(Some(n)) => batch.push(n.payload().to_owned()),
                    Ok(None) => break,
                    Err(e) => return Some(e),
                }
            }
        }
        deliver(&batch, on_decided);
        if client.is_closed() || pinged.elapsed() >= PING_EVERY {
            if let Err(e) = client.batch_execute("SELECT 1") {
                return Some(e);
            }
            pinged = Instant::now();
        }
    }
    None
}

/// Most notifications handled as one batch.
const MAX_BATCH: usize = 4096;

/// Hands `batch`'s payloads to `on_decided`: decisions first (they wake waiting agents), then
/// the other changes (`changed:<id>`), each distinct payload once.
fn deliver(batch: &[String], on_decided: &dyn Fn(&str)) {
    let mut seen = std::collections::HashSet::new();
    let (changes, decisions): (Vec<&String>, Vec<&String>) = batch
        .iter()
        .partition(|p| p.starts_with(super::CHANGED_PREFIX));
    for payload in decisions.into_iter().chain(changes) {
        if seen.insert(payload.as_str()) {
            on_decided(payload);
        }
    }
}
