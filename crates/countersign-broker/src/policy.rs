//! Loading the lead-signed policy: verify the signature against the pinned lead keys, parse,
//! and refuse a rollback against the serial the store remembers.

use countersign_core::dsse::Envelope;
use countersign_core::policy::{LoadedPolicy, PolicyError};
use countersign_core::TrustedKeys;
use countersign_store::{Store, StoreError};

/// Why a policy was not loaded. The previous policy (if any) stays in force.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The signature file is not a DSSE envelope.
    #[error("policy signature file is not a DSSE envelope: {0}")]
    Envelope(String),
    /// Signature, content or rollback.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// Verifies `policy_bytes` with the DSSE envelope in `signature_bytes` against the keys of
/// `trusted` pinned with role `lead`, refuses a policy older than the one the store last
/// accepted, and records it as in force.
///
/// # Errors
/// [`PolicyLoadError`]: unverifiable, invalid (line and field), or a rollback.
pub fn load_policy(
    store: &Store,
    policy_bytes: &[u8],
    signature_bytes: &[u8],
    trusted: &TrustedKeys,
    now: i64,
) -> Result<LoadedPolicy, PolicyLoadError> {
    let value = countersign_core::json::parse_strict(signature_bytes)
        .map_err(|e| PolicyLoadError::Envelope(e.to_string()))?;
    let envelope: Envelope =
        serde_json::from_value(value).map_err(|e| PolicyLoadError::Envelope(e.to_string()))?;
    let loaded = LoadedPolicy::verify(policy_bytes, &envelope, trusted)?;
    let in_force = store.policy_in_force()?;
    loaded.check_not_older(in_force.as_ref().map(|(s, h)| (*s, h.as_str())))?;
    if !store.accept_policy(loaded.policy.serial, &loaded.sha256, now)? {
        let in_force = store.policy_in_force()?.map_or(0, |(s, _)| s);
        return Err(PolicyError::Rollback {
            found: loaded.policy.serial,
            in_force,
        }
        .into());
    }
    Ok(loaded)
}

/// Where a signed policy comes from on the command line (`--policy`, `--policy-signature`,
/// `--lead-trust`), shared by `countersign serve` and the app.
#[derive(Debug, Clone, Default)]
pub struct PolicyFiles {
    /// `policy.toml`.
    pub policy: Option<std::path::PathBuf>,
    /// Its DSSE signature; default: the policy path with `.sig` appended.
    pub signature: Option<std::path::PathBuf>,
    /// Trust file with the pinned lead keys (role `lead`).
    pub lead_trust: Option<std::path::PathBuf>,
}

/// Reads, verifies and records the policy named by `files`; `Ok(None)` when no policy is
/// given. Refuses (with a message naming the file and the reason) a policy without a lead
/// trust file, one whose signature does not verify, an invalid one, or a rollback.
///
/// # Errors
/// A message for the operator; the caller must not start with a policy it could not verify.
pub fn load_policy_files(
    store: &Store,
    files: &PolicyFiles,
    now: i64,
) -> Result<Option<std::sync::Arc<LoadedPolicy>>, String> {
    let Some(path) = &files.policy else {
        if files.lead_trust.is_some() || files.signature.is_some() {
            return Err("--lead-trust and --policy-signature need --policy".into());
        }
        return Ok(None);
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let Some(trust_path) = &files.lead_trust else {
        return Err(format!(
            "refusing policy {}: no --lead-trust file to verify its signature against",
            path.display()
        ));
    };
    let sig_path = files.signature.clone().unwrap_or_else(|| {
        let mut p = path.clone().into_os_string();
        p.push(".sig");
        p.into()
    });
    let policy_bytes = read(path)?;
    let sig_bytes = read(&sig_path)?;
    let trusted = TrustedKeys::from_json(&read(trust_path)?)
        .map_err(|e| format!("lead trust file {}: {e}", trust_path.display()))?;
    load_policy(store, &policy_bytes, &sig_bytes, &trusted, now)
        .map(|p| Some(std::sync::Arc::new(p)))
        .map_err(|e| format!("refusing policy {}: {e}", path.display()))
}
