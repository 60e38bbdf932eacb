//! Canonical digests: `sha256:` + hex of SHA-256 over the RFC 8785 (JSON Canonicalization
//! Scheme) serialization of a value.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::action::Action;

/// A digest as text: `sha256:` followed by 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// The digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The text form, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the text form; `None` unless it is `sha256:` and 64 lower-case hex digits.
    pub fn parse(s: &str) -> Option<Digest> {
        let hex = s.strip_prefix("sha256:")?;
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Digest(s.to_owned()))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 8785 canonical JSON bytes of any serializable value.
///
/// # Errors
/// Only if `value` cannot be represented as JSON (e.g. a map with non-string keys).
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// `SHA-256(JCS(action))`: the digest an approval is bound to.
pub fn action_digest(action: &Action) -> Digest {
    // An Action is strings, an enum and serde_json::Values with string keys: always JSON.
    let bytes = canonical_json(action).unwrap_or_default();
    Digest::of_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_text_form_round_trips() {
        let d = Digest::of_bytes(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256(\"abc\") from FIPS 180-2 appendix B.1"
        );
        assert_eq!(Digest::parse(d.as_str()), Some(d));
        assert_eq!(Digest::parse("sha256:ABC"), None);
    }
}
