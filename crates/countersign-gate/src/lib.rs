//! Agent side of Countersign: the gate between an agent's draft and the world.
//!
//! An agent files a draft with the broker and may act only on a decision that a human signed
//! in the app. This crate is everything the agent side needs for that:
//!
//! - [`client`]: the broker's HTTP API (submit, status, long-poll for the decision);
//! - [`gate`]: the flow — submit, wait, verify ([`countersign_core::decision::verify_decision`]),
//!   record single use, return the *signed* action — and [`gate::verify_for_execution`] for
//!   envelopes that arrive another way (a webhook);
//! - [`ledger`]: the durable single-use record of decision `jti`s (SQLite, `synchronous=FULL`);
//! - [`exec`]: running the approved action (a command, a script, or an executor fed the
//!   action's canonical JSON);
//! - [`offline`]: checking an envelope after the fact (`countersign verify`).
//!
//! ```no_run
//! # async fn demo(trusted: countersign_core::TrustedKeys, draft: countersign_core::Draft)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use countersign_gate::{client::Client, exec, gate, ledger::Ledger};
//!
//! let client = Client::new("http://127.0.0.1:7823", "cs_…".into())?;
//! let ledger = Ledger::open_in(std::path::Path::new("/var/lib/my-agent/countersign"))?;
//! let approved = gate::run_gated(&client, &draft, &trusted, &ledger, Default::default()).await?;
//! // Execute what the human approved, never the agent's own copy.
//! let status = exec::execute(&approved.body.action, None)?;
//! # let _ = status; Ok(()) }
//! ```

pub mod client;
pub mod exec;
pub mod gate;
pub mod ledger;
pub mod offline;

pub use client::{Client, ClientError};
pub use exec::{execute, ExecError};
pub use gate::{
    run_gated, verify_for_execution, verify_for_execution_with, Approved, GateFailure, GateOptions,
};
pub use ledger::{Ledger, LedgerError};
pub use offline::{verify_offline, Freshness, OfflineError, OfflineReport};

use countersign_core::time::UnixSeconds;

/// The current time in Unix seconds. A clock before 1970 reads as 0, which makes every decision
/// look issued in the future and so refused: wrong clocks fail closed.
pub fn unix_now() -> UnixSeconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| UnixSeconds::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}
