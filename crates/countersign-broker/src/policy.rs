//! The lead-signed policy at start and at run time: verify the signature against the pinned
//! lead keys, parse, refuse a rollback against the serial the store remembers, and record the
//! policy in force together with its `policy.loaded` audit row (one transaction). A refused
//! policy gets a `policy.refused` audit row, a log line and a banner in the window, and the
//! previous policy stays in force.
//!
//! At start, a refused policy file does not leave the app without a policy: the last good
//! policy the store recorded (bytes and signature) is verified again against the lead trust
//! file and stays in force. When there is none (or it no longer verifies), start-up fails: a
//! configured policy is never silently dropped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use countersign_core::dsse::Envelope;
use countersign_core::policy::{self, LoadedPolicy, Policy, PolicyError};
use countersign_core::policy_view::{
    self, PolicyInForce, PolicyPreview, PolicyRefusal, PolicyView, StoredDraft,
};
use countersign_core::TrustedKeys;
use countersign_store::{AcceptedPolicy, Store, StoreError};
use serde_json::json;

use crate::{now, Broker, BrokerError};

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

fn parse_envelope(signature_bytes: &[u8]) -> Result<Envelope, PolicyLoadError> {
    let value = countersign_core::json::parse_strict(signature_bytes)
        .map_err(|e| PolicyLoadError::Envelope(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| PolicyLoadError::Envelope(e.to_string()))
}

/// Verifies `policy_bytes` with the DSSE envelope in `signature_bytes` against the keys of
/// `trusted` pinned with role `lead`, refuses a policy older than the one the store last
/// accepted, and records it as in force with a `policy.loaded` audit row (one transaction).
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
    load_policy_from(store, "", policy_bytes, signature_bytes, trusted, now)
}

fn load_policy_from(
    store: &Store,
    source: &str,
    policy_bytes: &[u8],
    signature_bytes: &[u8],
    trusted: &TrustedKeys,
    now: i64,
) -> Result<LoadedPolicy, PolicyLoadError> {
    let envelope = parse_envelope(signature_bytes)?;
    let loaded = LoadedPolicy::verify(policy_bytes, &envelope, trusted)?;
    let in_force = store.policy_in_force()?;
    loaded.check_not_older(in_force.as_ref().map(|(s, h)| (*s, h.as_str())))?;
    let signature_json = String::from_utf8_lossy(signature_bytes);
    let detail = json!({
        "serial": loaded.policy.serial,
        "sha256": loaded.sha256,
        "signers": loaded.signers,
        "source": source,
    });
    let accepted = store.accept_policy(&AcceptedPolicy {
        serial: loaded.policy.serial,
        sha256: &loaded.sha256,
        bytes: policy_bytes,
        signature_json: &signature_json,
        at: now,
        audit_detail: &detail,
    })?;
    if !accepted {
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
    pub policy: Option<PathBuf>,
    /// Its DSSE signature; default: the policy path with `.sig` appended.
    pub signature: Option<PathBuf>,
    /// Trust file with the pinned lead keys (role `lead`).
    pub lead_trust: Option<PathBuf>,
}

/// The three paths of a configured policy.
#[derive(Debug, Clone)]
pub(crate) struct PolicyPaths {
    pub(crate) policy: PathBuf,
    pub(crate) signature: PathBuf,
    pub(crate) lead_trust: PathBuf,
}

impl PolicyFiles {
    /// The paths, or `Ok(None)` when no policy is configured.
    fn paths(&self) -> Result<Option<PolicyPaths>, String> {
        let Some(path) = &self.policy else {
            if self.lead_trust.is_some() || self.signature.is_some() {
                return Err("--lead-trust and --policy-signature need --policy".into());
            }
            return Ok(None);
        };
        let Some(trust) = &self.lead_trust else {
            return Err(format!(
                "refusing policy {}: no --lead-trust file to verify its signature against",
                path.display()
            ));
        };
        let signature = self.signature.clone().unwrap_or_else(|| {
            let mut p = path.clone().into_os_string();
            p.push(".sig");
            p.into()
        });
        Ok(Some(PolicyPaths {
            policy: path.clone(),
            signature,
            lead_trust: trust.clone(),
        }))
    }

    /// Every file whose change should reload the policy (empty when none is configured).
    pub fn watched(&self) -> Vec<PathBuf> {
        self.paths()
            .ok()
            .flatten()
            .map(|p| vec![p.policy, p.signature, p.lead_trust])
            .unwrap_or_default()
    }
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

fn read_trust(p: &Path) -> Result<TrustedKeys, String> {
    TrustedKeys::from_json(&read(p)?).map_err(|e| format!("lead trust file {}: {e}", p.display()))
}

/// A refusal for `source` with `message`; the sha256 and serial of `bytes` when readable.
fn refusal(source: &Path, bytes: Option<&[u8]>, message: String, at: i64) -> PolicyRefusal {
    PolicyRefusal {
        at,
        source: source.display().to_string(),
        message,
        sha256: bytes.map(policy::sha256_of),
        serial: bytes
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| Policy::parse(t).ok())
            .map(|p| p.serial),
    }
}

/// Reads, verifies and records the policy at `paths`. `Ok(None)`: the file's bytes are the
/// ones already in force (`in_force_sha256`), nothing to do.
fn read_and_load(
    store: &Store,
    paths: &PolicyPaths,
    in_force_sha256: Option<&str>,
    now: i64,
) -> Result<Option<LoadedPolicy>, PolicyRefusal> {
    let policy_bytes = read(&paths.policy).map_err(|m| refusal(&paths.policy, None, m, now))?;
    let bad = |m: String| refusal(&paths.policy, Some(&policy_bytes), m, now);
    if in_force_sha256 == Some(policy::sha256_of(&policy_bytes).as_str()) {
        return Ok(None);
    }
    let sig = read(&paths.signature).map_err(bad)?;
    let trusted = read_trust(&paths.lead_trust).map_err(bad)?;
    load_policy_from(
        store,
        &paths.policy.display().to_string(),
        &policy_bytes,
        &sig,
        &trusted,
        now,
    )
    .map(Some)
    .map_err(|e| bad(format!("refusing policy {}: {e}", paths.policy.display())))
}

/// Records a refusal: audit row and log line. An audit failure is logged too: the refusal
/// itself stands either way.
fn record_refusal(store: &Store, r: &PolicyRefusal) {
    tracing::error!(source = %r.source, "{}; the previous policy stays in force", r.message);
    let detail = json!({
        "source": r.source, "reason": r.message, "sha256": r.sha256, "serial": r.serial,
    });
    if let Err(e) = store.record_policy_refusal(r.at, &detail) {
        tracing::error!("recording the policy refusal in the audit log: {e}");
    }
}

/// The policy the app or `countersign serve` starts with.
#[derive(Debug, Clone, Default)]
pub struct StartPolicy {
    /// In force; `None` only when no policy is configured.
    pub policy: Option<Arc<LoadedPolicy>>,
    /// The configured file was refused and the last good policy kept: why.
    pub refusal: Option<PolicyRefusal>,
}

/// Reads, verifies and records the policy named by `files`. When the file is refused (bad
/// signature, invalid content with its line and field, rollback), the refusal is audited and
/// the last good policy recorded in the store is verified again and kept in force.
///
/// # Errors
/// A message for the operator when a policy is configured but none can be put in force
/// (refused and no last good one, or the arguments are inconsistent): the caller must not
/// start without the policy it was told to enforce.
pub fn start_policy(store: &Store, files: &PolicyFiles, now: i64) -> Result<StartPolicy, String> {
    let Some(paths) = files.paths()? else {
        return Ok(StartPolicy::default());
    };
    let refused = match read_and_load(store, &paths, None, now) {
        Ok(loaded) => {
            return Ok(StartPolicy {
                policy: loaded.map(Arc::new),
                refusal: None,
            })
        }
        Err(r) => r,
    };
    record_refusal(store, &refused);
    let last_good = || -> Result<LoadedPolicy, String> {
        let rec = store
            .recorded_policy()
            .map_err(|e| e.to_string())?
            .ok_or("no policy was accepted before")?;
        let (Some(bytes), Some(sig)) = (rec.bytes, rec.signature_json) else {
            return Err("the store holds no copy of the last policy".into());
        };
        let trusted = read_trust(&paths.lead_trust)?;
        let envelope = parse_envelope(sig.as_bytes()).map_err(|e| e.to_string())?;
        LoadedPolicy::verify(&bytes, &envelope, &trusted).map_err(|e| e.to_string())
    };
    match last_good() {
        Ok(p) => {
            tracing::warn!(
                serial = p.policy.serial,
                sha256 = %p.sha256,
                "keeping the last good policy"
            );
            Ok(StartPolicy {
                policy: Some(Arc::new(p)),
                refusal: Some(refused),
            })
        }
        Err(why) => Err(format!(
            "{} (and no last good policy to keep: {why})",
            refused.message
        )),
    }
}

/// Reads, verifies and records the policy named by `files`; `Ok(None)` when no policy is
/// given. Unlike [`start_policy`] it never falls back: for one-shot checks.
///
/// # Errors
/// A message naming the file and the reason.
pub fn load_policy_files(
    store: &Store,
    files: &PolicyFiles,
    now: i64,
) -> Result<Option<Arc<LoadedPolicy>>, String> {
    let Some(paths) = files.paths()? else {
        return Ok(None);
    };
    match read_and_load(store, &paths, None, now) {
        Ok(p) => Ok(p.map(Arc::new)),
        Err(r) => Err(r.message),
    }
}

/// The broker's policy state: the policy in force (swapped on reload), the last refusal, and
/// a lock that serialises reloads (the file watcher and "sign and apply" may both reload).
pub(crate) struct PolicyState {
    in_force: RwLock<Option<Arc<LoadedPolicy>>>,
    refusal: Mutex<Option<PolicyRefusal>>,
    reload: Mutex<()>,
}

impl PolicyState {
    pub(crate) fn new(p: Option<Arc<LoadedPolicy>>, refusal: Option<PolicyRefusal>) -> Self {
        PolicyState {
            in_force: RwLock::new(p),
            refusal: Mutex::new(refusal),
            reload: Mutex::new(()),
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone)]
pub enum Reload {
    /// No policy is configured.
    NotConfigured,
    /// The files hold the policy already in force.
    Unchanged,
    /// A new policy is in force.
    Loaded(Arc<LoadedPolicy>),
    /// The files were refused; the previous policy stays in force.
    Refused(PolicyRefusal),
}

impl Broker {
    /// The policy in force now, if any.
    pub fn policy(&self) -> Option<Arc<LoadedPolicy>> {
        self.inner
            .policy
            .in_force
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn configured_paths(&self) -> Option<PolicyPaths> {
        self.inner.config.policy_files.as_ref()?.paths().ok()?
    }

    /// Reloads take turns (the file watcher and "sign and apply" may both reload).
    fn reload_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .policy
            .reload
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn set_refusal(&self, r: Option<PolicyRefusal>) {
        *self
            .inner
            .policy
            .refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = r;
    }

    /// Reads the configured policy files again: a verified, newer policy replaces the one in
    /// force (audited); a refused one is audited, logged and shown, and the previous policy
    /// stays in force.
    pub fn reload_policy(&self) -> Reload {
        let Some(paths) = self.configured_paths() else {
            return Reload::NotConfigured;
        };
        let _one_at_a_time = self.reload_guard();
        self.reload_locked(&paths)
    }

    /// [`Broker::reload_policy`] with the reload lock held by the caller.
    fn reload_locked(&self, paths: &PolicyPaths) -> Reload {
        let current = self.policy();
        let outcome = match read_and_load(
            &self.inner.store,
            paths,
            current.as_ref().map(|p| p.sha256.as_str()),
            now(),
        ) {
            Ok(None) => return Reload::Unchanged,
            Ok(Some(p)) => {
                let p = Arc::new(p);
                tracing::info!(serial = p.policy.serial, sha256 = %p.sha256, "policy reloaded");
                *self
                    .inner
                    .policy
                    .in_force
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
                self.set_refusal(None);
                Reload::Loaded(p)
            }
            Err(r) => {
                record_refusal(&self.inner.store, &r);
                self.set_refusal(Some(r.clone()));
                Reload::Refused(r)
            }
        };
        self.inner.notifier.policy_changed();
        outcome
    }

    /// Whether this approver may sign the policy: `Err(reason)` when no policy is configured,
    /// the lead trust file is unreadable, or the approver's key is not pinned there as a live
    /// `lead` key.
    fn lead_paths(&self) -> Result<(PolicyPaths, TrustedKeys), String> {
        let Some(paths) = self.configured_paths() else {
            return Err(
                "No policy file is configured (start with --policy and --lead-trust to have one)."
                    .into(),
            );
        };
        let trusted = read_trust(&paths.lead_trust)?;
        let keyid = self.inner.signer.key.key_id();
        let is_lead = trusted
            .live()
            .any(|(k, _)| k.keyid == keyid && k.role == "lead");
        if !is_lead {
            return Err(format!(
                "Read-only: your key {keyid} is not pinned as a lead in {}.",
                paths.lead_trust.display()
            ));
        }
        Ok((paths, trusted))
    }

    /// What the policy view shows: the policy in force, the last refusal, and whether this
    /// approver may edit it (and why not).
    pub fn policy_view(&self) -> PolicyView {
        let editable = self.lead_paths().err();
        PolicyView {
            in_force: self.policy().map(|p| PolicyInForce::of(&p)),
            refusal: self
                .inner
                .policy
                .refusal
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            editable: editable.is_none(),
            read_only_reason: editable,
            path: self
                .inner
                .config
                .policy_files
                .as_ref()
                .and_then(|f| f.policy.as_ref())
                .map(|p| p.display().to_string()),
        }
    }

    /// Rescores the last `limit` drafts (at most [`policy_view::MAX_PREVIEW_DRAFTS`]) under
    /// the edited policy `text` and the policy in force. Read-only.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] naming the field and line when `text` is not a valid
    /// policy; store errors.
    pub fn preview_policy(&self, text: &str, limit: u32) -> Result<PolicyPreview, BrokerError> {
        let edited = Policy::parse(text).map_err(|e| BrokerError::BadRequest(e.to_string()))?;
        let rows = self
            .inner
            .store
            .recent_actions(limit.clamp(1, policy_view::MAX_PREVIEW_DRAFTS))?;
        let drafts: Vec<StoredDraft<'_>> = rows
            .iter()
            .map(|r| StoredDraft {
                id: &r.id,
                agent: &r.agent,
                action: &r.action,
                risk: &r.risk,
            })
            .collect();
        let current = self.policy();
        Ok(policy_view::preview(
            &drafts,
            current.as_ref().map(|p| &p.policy),
            &edited,
        ))
    }

    /// Signs the edited policy `text` with this approver's key, writes `policy.toml` and its
    /// `.sig` atomically (temp file + rename), and reloads through [`Broker::reload_policy`]
    /// (so it is verified, audited and put in force like any other policy file).
    ///
    /// # Errors
    /// [`BrokerError::Forbidden`] when this approver's key is not a pinned lead key;
    /// [`BrokerError::BadRequest`] for an invalid policy (field and line) or a serial not above
    /// the one in force; [`BrokerError::Conflict`] when the written policy is refused.
    pub fn sign_and_apply_policy(&self, text: &str) -> Result<PolicyView, BrokerError> {
        let (paths, trusted) = self.lead_paths().map_err(BrokerError::Forbidden)?;
        let edited = Policy::parse(text).map_err(|e| BrokerError::BadRequest(e.to_string()))?;
        let in_force = self.inner.store.policy_in_force()?.map(|(s, _)| s);
        if let Some(serial) = in_force.filter(|s| edited.serial <= *s) {
            return Err(BrokerError::BadRequest(format!(
                "serial must increase: the policy in force has serial {serial}, the edit has {}",
                edited.serial
            )));
        }
        let envelope = policy::sign(text.as_bytes(), &self.inner.signer.key);
        // Check what is about to be written verifies, before anything touches the files.
        LoadedPolicy::verify(text.as_bytes(), &envelope, &trusted)
            .map_err(|e| BrokerError::Conflict(e.to_string()))?;
        let sig = serde_json::to_vec_pretty(&envelope)
            .map_err(|e| BrokerError::Conflict(format!("encoding the signature: {e}")))?;
        // Hold the reload lock from the first write to the reload: the file watcher then sees
        // both files written and finds the policy already in force.
        let _one_at_a_time = self.reload_guard();
        write_atomically(&paths.signature, &sig)?;
        write_atomically(&paths.policy, text.as_bytes())?;
        match self.reload_locked(&paths) {
            Reload::Loaded(_) | Reload::Unchanged => Ok(self.policy_view()),
            Reload::Refused(r) => Err(BrokerError::Conflict(r.message)),
            Reload::NotConfigured => Err(BrokerError::Conflict("no policy configured".into())),
        }
    }
}

/// Writes `bytes` to `path` through a temp file in the same directory, flushed to disk, then
/// renamed over `path` (readers see the old or the new file, never a half-written one).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BrokerError> {
    use std::io::Write as _;
    let fail =
        |e: std::io::Error| BrokerError::Conflict(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let tmp = dir.join(name);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}
