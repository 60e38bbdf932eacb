//! countersign-core: canonical digests, DSSE envelopes, diffs, strict drafts and risk.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

mod cosign;
mod diff;
mod digest;
mod drafts;
mod dsse;
mod impact;
mod policy;
mod properties;
mod read_only_policy;
mod risk;
mod secret_key;
mod vectors;

#[allow(clippy::unwrap_used)]
/// A draft from JSON that must be valid.
pub fn draft(value: serde_json::Value) -> countersign_core::Draft {
    countersign_core::Draft::from_value(value).unwrap()
}
