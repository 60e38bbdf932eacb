//! The desktop side of [`countersign_broker::Notifier`]: a notify-rust notification per new
//! pending draft, the tray's pending count, and the `queue-changed` event to the window.
//!
//! Bursts are coalesced: the first draft after a quiet spell is shown at once (the submission
//! to notification path stays short), drafts arriving in the next [`COALESCE_WINDOW`] are held,
//! then shown as one notification ("12 new drafts, 2 high"), or as themselves when only one came.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use countersign_broker::{Notifier, PendingNotice};
use countersign_core::api::QueueEvent;
use countersign_core::RiskLevel;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

const TRAY_ID: &str = "countersign";

/// How long after a shown notification further drafts are gathered into one.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(2);

/// Notifier for the desktop app.
#[derive(Default)]
pub struct DesktopNotifier {
    app: OnceLock<AppHandle>,
    /// Feeds the notification thread (started on first use).
    queue: OnceLock<Mutex<mpsc::Sender<PendingNotice>>>,
}

/// What one desktop notification says.
#[derive(Debug, Clone, PartialEq)]
pub struct Bubble {
    /// Title line.
    pub summary: String,
    /// Body.
    pub body: String,
    /// Highest risk among the drafts it stands for (sets the urgency).
    pub level: RiskLevel,
    /// The drafts it stands for.
    pub ids: Vec<String>,
}

/// The notification for one draft.
pub fn single(n: &PendingNotice) -> Bubble {
    Bubble {
        summary: format!(
            "{} wants {} — {} risk ({})",
            n.agent,
            n.kind,
            n.level.as_str(),
            n.score
        ),
        body: one_line(&n.summary, 140),
        level: n.level,
        ids: vec![n.id.clone()],
    }
}

/// One notification for a burst of drafts: "12 new drafts, 1 critical, 2 high", and the agents
/// with their counts (most drafts first).
pub fn coalesced(batch: &[PendingNotice]) -> Bubble {
    let count = |l: RiskLevel| batch.iter().filter(|n| n.level == l).count();
    let mut summary = format!("{} new drafts", batch.len());
    for (level, name) in [(RiskLevel::Critical, "critical"), (RiskLevel::High, "high")] {
        let c = count(level);
        if c > 0 {
            summary += &format!(", {c} {name}");
        }
    }
    let mut agents: Vec<(String, usize)> = Vec::new();
    for n in batch {
        match agents.iter_mut().find(|(a, _)| *a == n.agent) {
            Some((_, c)) => *c += 1,
            None => agents.push((n.agent.clone(), 1)),
        }
    }
    agents.sort_by_key(|a| std::cmp::Reverse(a.1));
    let from = agents
        .iter()
        .map(|(a, c)| format!("{} ({c})", one_line(a, 40)))
        .collect::<Vec<_>>()
        .join(", ");
    Bubble {
        summary,
        body: one_line(&format!("from {from}"), 200),
        level: batch
            .iter()
            .map(|n| n.level)
            .max()
            .unwrap_or(RiskLevel::Low),
        ids: batch.iter().map(|n| n.id.clone()).collect(),
    }
}

/// Gathers the notices that arrive within `window` of now; `None` when the sender is gone.
fn gather(rx: &mpsc::Receiver<PendingNotice>, window: Duration) -> Option<Vec<PendingNotice>> {
    let deadline = Instant::now() + window;
    let mut batch = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => batch.push(n),
            Err(RecvTimeoutError::Timeout) => return Some(batch),
            Err(RecvTimeoutError::Disconnected) => return (!batch.is_empty()).then_some(batch),
        }
    }
}

/// The notification thread: first draft at once, then one bubble per window.
fn run_notifications(rx: mpsc::Receiver<PendingNotice>) {
    while let Ok(first) = rx.recv() {
        show(&single(&first));
        let Some(batch) = gather(&rx, COALESCE_WINDOW) else {
            return;
        };
        match batch.as_slice() {
            [] => {}
            [one] => show(&single(one)),
            many => show(&coalesced(many)),
        }
    }
}

/// Shows a bubble (blocking D-Bus call; only ever on the notification thread).
fn show(b: &Bubble) {
    let urgency = match b.level {
        RiskLevel::Low => notify_rust::Urgency::Low,
        RiskLevel::Medium => notify_rust::Urgency::Normal,
        RiskLevel::High | RiskLevel::Critical => notify_rust::Urgency::Critical,
    };
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Countersign")
        .summary(&b.summary)
        .body(&b.body)
        .timeout(notify_rust::Timeout::Milliseconds(10_000));
    #[cfg(all(unix, not(target_os = "macos")))]
    notification.urgency(urgency);
    let _ = urgency;
    let drafts = b.ids.join(",");
    match notification.show() {
        #[cfg(all(unix, not(target_os = "macos")))]
        Ok(handle) => {
            tracing::info!(draft = %drafts, notification_id = handle.id(), "desktop notification shown")
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Ok(_) => tracing::info!(draft = %drafts, "desktop notification shown"),
        Err(e) => tracing::warn!(draft = %drafts, "desktop notification failed: {e}"),
    }
}

impl DesktopNotifier {
    /// Connects the notifier to the running app (in `setup`).
    pub fn attach(&self, app: AppHandle) {
        let _ = self.app.set(app);
    }

    /// Shows `pending` on the tray (tooltip and, where supported, title).
    pub fn refresh_tray(&self, pending: u32) {
        let Some(app) = self.app.get() else { return };
        if let Some(tray) = app.tray_by_id(TRAY_ID) {
            let text = match pending {
                0 => "Countersign: nothing pending".to_string(),
                1 => "Countersign: 1 draft pending".to_string(),
                n => format!("Countersign: {n} drafts pending"),
            };
            let _ = tray.set_tooltip(Some(&text));
            let _ = tray.set_title(Some(&pending.to_string()));
        }
    }
}

/// Shortens agent-supplied text to one line for a notification: at most `max` characters,
/// hidden characters dropped (a notification cannot mark them; the window does).
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| countersign_core::text::classify(*c).is_none())
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() > max {
        clean
            .chars()
            .take(max.saturating_sub(1))
            .collect::<String>()
            + "…"
    } else {
        clean
    }
}

impl Notifier for DesktopNotifier {
    fn draft_pending(&self, n: &PendingNotice) {
        // D-Bus calls block (up to the bus timeout if the notification server hangs): they run
        // on their own thread, off the submission path, which is acknowledged once committed.
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            if let Err(e) = std::thread::Builder::new()
                .name("notify".into())
                .spawn(move || run_notifications(rx))
            {
                tracing::warn!("desktop notifications off: {e}");
            }
            Mutex::new(tx)
        });
        let sent = queue
            .lock()
            .map(|tx| tx.send(n.clone()).is_ok())
            .unwrap_or(false);
        if !sent {
            tracing::warn!(draft = %n.id, "desktop notification not shown: notification thread gone");
        }
    }

    fn queue_changed(&self, event: &QueueEvent) {
        self.refresh_tray(event.pending);
        if let Some(app) = self.app.get() {
            if let Err(e) = app.emit("queue-changed", event) {
                tracing::warn!("queue-changed event not delivered: {e}");
            }
        }
    }

    fn policy_changed(&self) {
        // No payload: the window asks `policy_view` for what is in force now.
        if let Some(app) = self.app.get() {
            if let Err(e) = app.emit("policy-changed", ()) {
                tracing::warn!("policy-changed event not delivered: {e}");
            }
        }
    }
}

/// Creates the tray icon with "Open" and "Quit".
///
/// # Errors
/// Tauri errors creating the menu or icon.
pub fn create_tray(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Countersign", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip("Countersign")
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;

    fn notice(id: &str, agent: &str, level: RiskLevel) -> PendingNotice {
        PendingNotice {
            id: id.into(),
            agent: agent.into(),
            kind: "shell.exec".into(),
            level,
            score: 50,
            summary: "do\u{202E} things\nnow".into(),
            pending: 1,
        }
    }

    #[test]
    fn a_single_draft_names_agent_kind_and_risk_with_hidden_characters_dropped() {
        let b = single(&notice("1", "build-bot", RiskLevel::High));
        assert_eq!(b.summary, "build-bot wants shell.exec — high risk (50)");
        assert_eq!(b.body, "do things now");
        assert_eq!(b.level, RiskLevel::High);
    }

    #[test]
    fn a_burst_becomes_one_notification_counting_the_risky_drafts_and_the_agents() {
        let mut batch: Vec<_> = (0..9)
            .map(|i| notice(&i.to_string(), "build-bot", RiskLevel::Low))
            .collect();
        batch.push(notice("h1", "forum-bot", RiskLevel::High));
        batch.push(notice("h2", "forum-bot", RiskLevel::High));
        batch.push(notice("c1", "ops-bot", RiskLevel::Critical));
        let b = coalesced(&batch);
        assert_eq!(b.summary, "12 new drafts, 1 critical, 2 high");
        assert_eq!(b.body, "from build-bot (9), forum-bot (2), ops-bot (1)");
        assert_eq!(
            b.level,
            RiskLevel::Critical,
            "urgency follows the riskiest draft"
        );
        assert_eq!(b.ids.len(), 12);
    }

    #[test]
    fn gathering_stops_at_the_window_and_keeps_what_arrived() {
        let (tx, rx) = mpsc::channel();
        tx.send(notice("a", "x", RiskLevel::Low)).unwrap();
        tx.send(notice("b", "x", RiskLevel::Low)).unwrap();
        let started = Instant::now();
        let batch = gather(&rx, Duration::from_millis(100)).unwrap();
        assert_eq!(batch.len(), 2);
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(tx);
        assert_eq!(
            gather(&rx, Duration::from_millis(100)),
            None,
            "sender gone, nothing held"
        );
    }
}
