//! DSSE, the Dead Simple Signing Envelope (in-toto,
//! <https://github.com/secure-systems-lab/dsse/blob/master/envelope.md>), with Ed25519.
//!
//! Wire shape: `{"payload": <base64>, "payloadType": <string>, "signatures": [{"keyid", "sig"}]}`.
//! Each signature is Ed25519 over `PAE(payloadType, payload)` where
//! `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN in ASCII decimal.
//! Several signatures over one body are DSSE's multi-signature; verification counts each pinned
//! key at most once.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use ed25519_dalek::Signature as EdSignature;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use ed25519_dalek::VerifyingKey;

use crate::keys::{ApproverKey, KeyId, TrustedKey, TrustedKeys};

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Envelope {
    /// Standard base64 (RFC 4648 §4) of the signed body.
    pub payload: String,
    /// Media type of the body, e.g. [`crate::decision::DECISION_PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over `PAE(payloadType, payload)`.
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Signature {
    /// Hint only: the signer's key id. Never used to choose a trusted key.
    pub keyid: String,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// Why an envelope did not verify. Every variant means "not approved".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `payloadType` is not the one expected.
    #[error("payload type is `{found}`, expected `{expected}`")]
    PayloadType {
        /// Expected type.
        expected: String,
        /// Type in the envelope.
        found: String,
    },
    /// `payload` is not valid base64.
    #[error("payload is not base64")]
    PayloadEncoding,
    /// No signature verified against any pinned key.
    #[error("no signature verifies against a pinned key ({signatures} signature(s) present)")]
    NoTrustedSignature {
        /// How many signatures the envelope carried.
        signatures: usize,
    },
}

/// Pre-Authentication Encoding (DSSE v1).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` as `payload_type` with one key.
    pub fn sign(payload_type: &str, payload: &[u8], key: &ApproverKey) -> Envelope {
        let mut env = Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: Vec::new(),
        };
        env.signatures.push(Signature {
            keyid: key.key_id(),
            sig: B64.encode(key.sign(&pae(payload_type, payload))),
        });
        env
    }

    /// Adds this key's signature over the same body (DSSE multi-signature): how a second
    /// approver or a lead co-signs a decision.
    ///
    /// # Errors
    /// [`VerifyError::PayloadEncoding`] when the payload is not base64.
    pub fn add_signature(&mut self, key: &ApproverKey) -> Result<(), VerifyError> {
        let body = B64
            .decode(&self.payload)
            .map_err(|_| VerifyError::PayloadEncoding)?;
        self.signatures.push(Signature {
            keyid: key.key_id(),
            sig: B64.encode(key.sign(&pae(&self.payload_type, &body))),
        });
        Ok(())
    }

    /// Verifies the envelope against pinned keys and returns the body and the ids of the
    /// distinct pinned, unrevoked keys whose signature verified (`verify_strict`: canonical `S`, no
    /// small-order `R` or keys).
    ///
    /// # Errors
    /// [`VerifyError`] for a wrong payload type, bad base64, or no verifying pinned key.
    pub fn verify(
        &self,
        expected_type: &str,
        trusted: &TrustedKeys,
    ) -> Result<Verified, VerifyError> {
        if self.payload_type != expected_type {
            return Err(VerifyError::PayloadType {
                expected: expected_type.into(),
                found: self.payload_type.clone(),
            });
        }
        let body = B64
            .decode(&self.payload)
            .map_err(|_| VerifyError::PayloadEncoding)?;
        let message = pae(&self.payload_type, &body);
        let mut signers: Vec<KeyId> = Vec::new();
        for s in &self.signatures {
            // Revoked keys are skipped: their signatures count zero.
            let fresh = trusted.live().filter(|(k, _)| !signers.contains(&k.keyid));
            if let Some(pinned) = signed_by(fresh, &message, s) {
                signers.push(pinned.keyid.clone());
            }
        }
        if signers.is_empty() {
            return Err(VerifyError::NoTrustedSignature {
                signatures: self.signatures.len(),
            });
        }
        Ok(Verified { body, signers })
    }
}

/// The first of `keys` whose public key verifies `sig` over `message` (a PAE, see [`pae`])
/// with `verify_strict`; `None` for a malformed signature or no such key.
pub fn signed_by<'a>(
    mut keys: impl Iterator<Item = (&'a TrustedKey, &'a VerifyingKey)>,
    message: &[u8],
    sig: &Signature,
) -> Option<&'a TrustedKey> {
    let raw = <[u8; 64]>::try_from(B64.decode(&sig.sig).ok()?).ok()?;
    let sig = EdSignature::from_bytes(&raw);
    keys.find(|(_, vk)| vk.verify_strict(message, &sig).is_ok())
        .map(|(k, _)| k)
}

/// A verified envelope's body and signers.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed bytes.
    pub body: Vec<u8>,
    /// Distinct pinned key ids that signed, in the order found.
    pub signers: Vec<KeyId>,
}
