//! Countersign's broker: the use cases every front end shares, and the agent HTTP API.
//!
//! - [`Broker::submit`]: an agent's draft becomes a committed pending action with a risk score;
//! - [`Broker::decide`]: a human's approve/reject, re-checked against the store and signed;
//! - [`Broker::approve_batch`]: several low-risk drafts at once, each re-checked and signed;
//! - [`Broker::approve_for_cosign`], [`Broker::import_cosign_response`]: co-signing across
//!   machines (a lead on another machine adds a signature to the same decision body);
//! - [`Broker::expire_due`]: undecided drafts past their expiry get a signed rejection;
//! - [`Broker::wait_decision`]: the long-poll behind `GET /v1/actions/{id}/decision`;
//! - [`http::router`]: the agent API (there is no approve route);
//! - [`policy::load_policy`]: the lead-signed policy (thresholds, domains), rollback refused;
//!   [`Broker::reload_policy`] and [`policy_watch`] reload it when its files change;
//! - [`keystore`]: the approver key in the OS keychain or a passphrase-encrypted file;
//! - [`team_client`]: an approver's client of a team server (the CLI's and the app's).
//!
//! The broker knows no window: the desktop shell passes a [`Notifier`]; `countersign serve`
//! passes one that only logs.

pub mod host;
pub mod http;
pub mod keystore;
mod limits;
pub mod openapi;
pub mod policy;
pub mod policy_watch;
pub mod team_client;
pub mod team_http;
pub mod tls;
mod usecases;
mod webhook;

pub use usecases::cosign::{export_cosign_request, review_cosign_request, sign_cosign_request};
pub use usecases::team::{Member, Team, TeamFiles, TeamStartError, CLAIM_TTL_S};
pub use usecases::{
    register_agent, Broker, BrokerConfig, BrokerError, DecisionInput, LogNotifier, Notifier,
    PendingNotice, Signer, MAX_BATCH, MAX_BODY_BYTES,
};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
