//! Integration tests of the gate: a real HTTP client against a stand-in broker on loopback,
//! real Ed25519 signatures, a real SQLite ledger in a temp dir, real child processes.

// Test helpers panic on broken set-up by design; clippy.toml allows unwrap only inside
// `#[test]` functions, not in the helpers of an integration-test binary.
#![allow(clippy::unwrap_used)]

mod client;
mod exec;
mod fixture;
mod flow;
mod offline;
mod quorum;
mod replay;
