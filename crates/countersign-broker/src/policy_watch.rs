//! Reloads the policy when its files change: a `notify` watcher on the directories holding
//! `policy.toml`, its `.sig` and the lead trust file (a directory, because an atomic rename
//! replaces the file a watch on the file itself would follow), debounced so that a burst of
//! writes (an editor's save, "sign and apply" writing two files) reloads once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::policy::Reload;
use crate::Broker;

/// Quiet time after the last change before the policy is reloaded.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Watches while alive; dropping it stops the watcher.
pub struct PolicyWatcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyWatcher")
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Size and modification time of each file (`None` when it cannot be read): `stat` only, which
/// raises no file event.
fn stamps(files: &[PathBuf]) -> Vec<Option<(u64, std::time::SystemTime)>> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

/// Starts watching the broker's policy files; `Ok(None)` when no policy is configured.
/// Each change runs [`Broker::reload_policy`] on the watcher's thread.
///
/// # Errors
/// A message when the OS watcher cannot be created or a directory cannot be watched.
pub fn watch_policy(broker: &Broker) -> Result<Option<PolicyWatcher>, String> {
    let files: Vec<PathBuf> = broker
        .config()
        .policy_files
        .as_ref()
        .map(|f| f.watched())
        .unwrap_or_default()
        .iter()
        .map(|p| absolute(p))
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    let handler_broker = broker.clone();
    let handler_files = files.clone();
    let mut seen = stamps(&files);
    let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| {
        let events = match res {
            Ok(events) => events,
            Err(e) => {
                tracing::error!("policy watcher: {e}");
                return;
            }
        };
        if !events
            .iter()
            .any(|e| handler_files.iter().any(|f| absolute(&e.path) == *f))
        {
            return;
        }
        // Reading the files to reload them is itself an event on some platforms (inotify
        // reports opens): reload only when a file's size or modification time changed, or a
        // refused file would be refused (and audited) again every debounce period.
        let now = stamps(&handler_files);
        if now == seen {
            return;
        }
        seen = now;
        match handler_broker.reload_policy() {
            Reload::Loaded(p) => tracing::info!(
                serial = p.policy.serial,
                "policy file changed: new policy in force"
            ),
            Reload::Refused(r) => {
                tracing::warn!("policy file changed and was refused: {}", r.message)
            }
            Reload::Unchanged | Reload::NotConfigured => {}
        }
    })
    .map_err(|e| format!("cannot watch the policy files: {e}"))?;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            f.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        debouncer
            .watcher()
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    }
    Ok(Some(PolicyWatcher {
        _debouncer: debouncer,
    }))
}
