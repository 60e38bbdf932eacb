//! Approver keys (Ed25519, RFC 8032) and the trust list gates pin.
//!
//! A key id is `sha256:` + hex SHA-256 of the raw 32-byte public key. Gates never trust the key
//! id written in an envelope: they verify each signature against their pinned keys and count
//! the keys that verify.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::digest::Digest;

/// Key id: `sha256:<hex of SHA-256(raw public key)>`.
pub type KeyId = String;

/// An approver's private signing key. No `Serialize`, a redacted `Debug`, and zeroized on drop
/// (ed25519-dalek's `zeroize` feature).
pub struct ApproverKey {
    key: SigningKey,
}

impl std::fmt::Debug for ApproverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApproverKey({}, secret redacted)", self.key_id())
    }
}

// The only field is ed25519-dalek's `SigningKey`, which zeroizes its secret when dropped
// (its `zeroize` feature, enabled in the workspace manifest); the marker lets callers and
// tests require it.
impl zeroize::ZeroizeOnDrop for ApproverKey {}

impl ApproverKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> ApproverKey {
        ApproverKey {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// A key from its 32-byte seed (RFC 8032 §5.1.5 "private key").
    pub fn from_seed(seed: &Zeroizing<[u8; 32]>) -> ApproverKey {
        ApproverKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte seed, for storage in a keychain or an encrypted file only.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        key_id(&self.verifying_key())
    }

    /// Ed25519 signature (64 bytes) over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The public record a gate pins, naming the approver and their role.
    pub fn trusted_key(&self, approver: &str, role: &str) -> TrustedKey {
        TrustedKey {
            keyid: self.key_id(),
            alg: "ed25519".into(),
            public_key: B64.encode(self.verifying_key().as_bytes()),
            approver: approver.into(),
            role: role.into(),
            revoked_at: None,
            revoked_reason: None,
        }
    }
}

/// The id of a public key.
pub fn key_id(key: &VerifyingKey) -> KeyId {
    Digest::of_bytes(key.as_bytes()).to_string()
}

/// One pinned public key, as `countersign key export-public` prints it (JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct TrustedKey {
    /// `sha256:<hex>` of the raw public key; checked against `public_key` on load.
    pub keyid: KeyId,
    /// Always `ed25519`.
    pub alg: String,
    /// Standard base64 (RFC 4648 §4) of the 32-byte public key.
    pub public_key: String,
    /// Who holds the private key.
    pub approver: String,
    /// `approver` or `lead`.
    pub role: String,
    /// Set when the key was revoked (Unix seconds; after a rotation or a loss): its signatures
    /// then count zero, whenever they were made. Absent for a live key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub revoked_at: Option<i64>,
    /// Why the key was revoked (`countersign key rotate --reason`, e.g. "rotated", "laptop
    /// lost"); only with `revoked_at`. Informational: revocation is `revoked_at` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub revoked_reason: Option<String>,
}

impl TrustedKey {
    /// Marks this key revoked at `at` (Unix seconds) for `reason`. Its signatures then count
    /// zero at every gate pinning the trust file, including signatures made before `at`: a
    /// rotation or a loss means nobody can say which old signatures were genuine.
    pub fn revoke(&mut self, at: i64, reason: &str) {
        self.revoked_at = Some(at);
        self.revoked_reason = Some(reason.to_owned());
    }
}

/// Why a trust file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Not JSON of the expected shape.
    #[error("trust file is not a key object or {{\"keys\": [...]}}: {0}")]
    Shape(String),
    /// A key's fields are wrong.
    #[error("trusted key #{index}: {message}")]
    Key {
        /// Position in the file, from 0.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// No keys at all: nothing could ever verify.
    #[error("trust file lists no keys")]
    Empty,
}

/// The keys a gate pins. Built from a trust file that is either one [`TrustedKey`] object or
/// `{"keys": [TrustedKey, ...]}`.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<(TrustedKey, VerifyingKey)>,
}

impl TrustedKeys {
    /// Parses and checks a trust file (strict JSON).
    ///
    /// # Errors
    /// [`TrustError`] when the JSON is malformed, a key is not a valid Ed25519 point, its
    /// `keyid` does not match its `public_key`, or the list is empty.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedKeys, TrustError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct List {
            keys: Vec<TrustedKey>,
        }
        let value =
            crate::json::parse_strict(bytes).map_err(|e| TrustError::Shape(e.to_string()))?;
        let list = if value.get("keys").is_some() {
            serde_json::from_value::<List>(value).map(|l| l.keys)
        } else {
            serde_json::from_value::<TrustedKey>(value).map(|k| vec![k])
        }
        .map_err(|e| TrustError::Shape(e.to_string()))?;
        Self::from_keys(list)
    }

    /// Checks a list of keys.
    ///
    /// # Errors
    /// See [`TrustedKeys::from_json`].
    pub fn from_keys(list: Vec<TrustedKey>) -> Result<TrustedKeys, TrustError> {
        if list.is_empty() {
            return Err(TrustError::Empty);
        }
        let mut keys = Vec::with_capacity(list.len());
        for (index, k) in list.into_iter().enumerate() {
            let err = |message: String| TrustError::Key { index, message };
            if k.revoked_reason.is_some() && k.revoked_at.is_none() {
                return Err(err(
                    "revoked_reason without revoked_at: is this key revoked or not?".into(),
                ));
            }
            if k.alg != "ed25519" {
                return Err(err(format!("unsupported alg `{}`; only ed25519", k.alg)));
            }
            let raw = B64
                .decode(&k.public_key)
                .map_err(|e| err(format!("public_key is not base64: {e}")))?;
            let raw: [u8; 32] = raw
                .try_into()
                .map_err(|_| err("public_key must be 32 bytes".into()))?;
            let vk = VerifyingKey::from_bytes(&raw)
                .map_err(|_| err("public_key is not a valid Ed25519 point".into()))?;
            if vk.is_weak() {
                return Err(err("public_key is a weak (small-order) point".into()));
            }
            if key_id(&vk) != k.keyid {
                return Err(err(format!(
                    "keyid {} does not match public_key (expected {})",
                    k.keyid,
                    key_id(&vk)
                )));
            }
            keys.push((k, vk));
        }
        Ok(TrustedKeys { keys })
    }

    /// The pinned keys with their parsed public halves.
    pub fn iter(&self) -> impl Iterator<Item = (&TrustedKey, &VerifyingKey)> {
        self.keys.iter().map(|(k, v)| (k, v))
    }

    /// The pinned keys that are not revoked: the only ones whose signatures count.
    pub fn live(&self) -> impl Iterator<Item = (&TrustedKey, &VerifyingKey)> {
        self.iter().filter(|(k, _)| k.revoked_at.is_none())
    }

    /// The entries as listed in the trust file (revoked ones included).
    pub fn entries(&self) -> Vec<TrustedKey> {
        self.keys.iter().map(|(k, _)| k.clone()).collect()
    }

    /// The first pinned entry with this key id.
    pub fn get(&self, keyid: &str) -> Option<&TrustedKey> {
        self.keys.iter().map(|(k, _)| k).find(|k| k.keyid == keyid)
    }
}

/// A trust list after a key rotation: every entry of `old` (by key id) not yet revoked is
/// revoked at `at` (Unix seconds) for `reason`, `old` is appended as revoked if the list did
/// not pin it (so a gate using this file refuses it for sure), and `new` is appended unless
/// its key id is already listed. Other entries are kept as they are, in order.
pub fn rotated(
    mut entries: Vec<TrustedKey>,
    old: TrustedKey,
    new: TrustedKey,
    at: i64,
    reason: &str,
) -> Vec<TrustedKey> {
    let mut found = false;
    for e in entries.iter_mut().filter(|e| e.keyid == old.keyid) {
        found = true;
        if e.revoked_at.is_none() {
            e.revoke(at, reason);
        }
    }
    if !found {
        let mut old = old;
        old.revoke(at, reason);
        entries.push(old);
    }
    if !entries.iter().any(|e| e.keyid == new.keyid) {
        entries.push(new);
    }
    entries
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(seed: u8) -> ApproverKey {
        ApproverKey::from_seed(&Zeroizing::new([seed; 32]))
    }

    #[test]
    fn a_rotation_revokes_the_old_key_keeps_others_and_pins_the_new_one() {
        let (old, new, other) = (key(1), key(2), key(3));
        let list = vec![
            other.trusted_key("bob", "lead"),
            old.trusted_key("ana", "approver"),
        ];
        let out = rotated(
            list,
            old.trusted_key("ana", "approver"),
            new.trusted_key("ana", "approver"),
            1_790_000_000,
            "laptop lost",
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], other.trusted_key("bob", "lead"), "others untouched");
        assert_eq!(out[1].revoked_at, Some(1_790_000_000));
        assert_eq!(out[1].revoked_reason.as_deref(), Some("laptop lost"));
        assert_eq!(out[2], new.trusted_key("ana", "approver"));
        let trusted = TrustedKeys::from_keys(out).unwrap();
        let live: Vec<_> = trusted.live().map(|(k, _)| k.keyid.clone()).collect();
        assert_eq!(
            live,
            vec![other.key_id(), new.key_id()],
            "the old key is not live"
        );
    }

    #[test]
    fn a_rotation_pins_an_unlisted_old_key_as_revoked_and_keeps_an_earlier_revocation() {
        let (old, new) = (key(1), key(2));
        let out = rotated(
            vec![new.trusted_key("ana", "approver")],
            old.trusted_key("ana", "approver"),
            new.trusted_key("ana", "approver"),
            5,
            "rotated",
        );
        assert_eq!(out.len(), 2, "the new key is not listed twice");
        assert_eq!(out[1].keyid, old.key_id());
        assert_eq!(out[1].revoked_at, Some(5));
        let again = rotated(
            out,
            old.trusted_key("ana", "approver"),
            new.trusted_key("ana", "approver"),
            9,
            "x",
        );
        assert_eq!(
            again[1].revoked_at,
            Some(5),
            "the first revocation time stands"
        );
    }

    #[test]
    fn a_reason_without_a_revocation_time_is_refused() {
        let mut k = key(1).trusted_key("ana", "approver");
        k.revoked_reason = Some("rotated".into());
        let e = TrustedKeys::from_keys(vec![k]).unwrap_err();
        assert!(
            e.to_string().contains("revoked_reason without revoked_at"),
            "{e}"
        );
    }
}
