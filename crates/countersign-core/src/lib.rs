//! Countersign's pure domain.
//!
//! Everything here is deterministic and free of IO, so the broker, the gate and the desktop
//! shell agree byte for byte on what an action is, what its digest is, and what a signed
//! decision says:
//!
//! - [`json`]: strict JSON parsing of untrusted input (duplicate keys, I-JSON number range, depth);
//! - [`action`]: the six action kinds, their payload schemas, and the [`action::Draft`] an agent submits;
//! - [`digest`]: `SHA-256(JCS(action))` per RFC 8785;
//! - [`diff`], [`jsondiff`], [`review`], [`risk`]: what the reviewer sees (line and structural
//!   diffs, change, impact, score);
//! - [`dsse`], [`decision`], [`keys`]: the signed decision in a DSSE envelope (Ed25519);
//! - [`cosign`]: the request and response files of co-signing across machines;
//! - [`policy`]: the lead-signed policy (domains, sensitive patterns, score thresholds);
//! - [`policy_view`]: the app's policy view and the "what would change" preview of an edit;
//! - [`team`]: team mode's signed roster, approver login challenge and signature uploads;
//! - [`text`]: hidden characters (bidi, zero-width, control);
//! - [`crash`]: crash points for the crash-safety tests (no-ops unless built with `crash-points`).

pub mod action;
pub mod api;
pub mod cosign;
pub mod crash;
pub mod decision;
pub mod diff;
pub mod digest;
pub mod dsse;
pub mod json;
pub mod jsondiff;
pub mod keys;
pub mod policy;
pub mod policy_view;
pub mod review;
pub mod risk;
pub mod spot;
pub mod team;
pub mod text;
pub mod time;

pub use action::{Action, ActionKind, Draft};
pub use decision::{DecisionBody, Verdict};
pub use digest::Digest;
pub use dsse::Envelope;
pub use keys::{ApproverKey, KeyId, TrustedKey, TrustedKeys};
pub use risk::{Risk, RiskFactor, RiskLevel};
