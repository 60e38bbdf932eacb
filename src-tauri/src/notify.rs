//! The desktop side of [`countersign_broker::Notifier`]: a notify-rust notification per new
//! pending draft, the tray's pending count, and the `queue-changed` event to the window.
//!
//! Bursts are coalesced: the first draft after a quiet spell is shown at once (the submission
//! to notification path stays short), drafts arriving in the next [`COALESCE_WINDOW`] are held,
//! then shown as one notification ("12 new drafts, 2 high"), or as themselves when only one came.
//!
//! Every notification carries an "Open" action (the freedesktop `default` action): a dedicated
//! thread waits for it (never the submission path) and then brings the window to the front with
//! that draft open, or the queue for a coalesced one. The tray's pause ([`crate::pause`]) decides
//! what is shown while paused.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use countersign_broker::{Notifier, PendingNotice};
use countersign_core::api::{QueueEvent, Status};
use countersign_core::RiskLevel;
use tauri::{AppHandle, Emitter};

use crate::pause::{Alert, Pause};

/// How long after a shown notification further drafts are gathered into one.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(2);

/// What the notifier, the tray and the reminder thread share: the app, the pause, the count.
#[derive(Default)]
pub struct Desk {
    app: OnceLock<AppHandle>,
    pause: Mutex<Pause>,
    /// Pending drafts, as of the last queue change.
    pending: AtomicU32,
    /// End of the pause last shown (to notice a pause that ran out).
    shown_pause: Mutex<Option<i64>>,
    /// A tray update is queued on the main thread (a burst of queue changes queues one).
    tray_queued: AtomicBool,
}

impl Desk {
    /// The running app, once attached.
    pub fn app(&self) -> Option<&AppHandle> {
        self.app.get()
    }

    /// When the current pause ends (Unix seconds), `None` when not paused.
    pub fn paused_until(&self) -> Option<i64> {
        let now = countersign_broker::now();
        self.pause.lock().map(|p| p.until(now)).unwrap_or(None)
    }

    /// Pauses for an hour, or resumes; returns the new end of the pause. Updates the tray and
    /// tells the window.
    pub fn toggle_pause(&self) -> Option<i64> {
        let now = countersign_broker::now();
        let until = self.pause.lock().map(|mut p| p.toggle(now)).unwrap_or(None);
        tracing::info!(paused_until = ?until, "notifications {}", if until.is_some() { "paused" } else { "resumed" });
        self.refresh_pause();
        until
    }

    /// Shows the pause state on the tray and in the window when it changed (a pause that ran
    /// out included); called on every toggle and on the reminder thread's ticks.
    pub fn refresh_pause(&self) {
        let until = self.paused_until();
        let changed = self
            .shown_pause
            .lock()
            .map(|mut shown| std::mem::replace(&mut *shown, until) != until)
            .unwrap_or(true);
        if let Some(app) = self.app() {
            crate::tray::show_state(app, self.pending.load(Ordering::Relaxed), until);
            if changed {
                crate::shell::emit_state(app, until);
            }
        }
    }

    /// Shows `b` unless the pause holds `alert` back; its "Open" action opens what it is about.
    pub fn show(&self, b: &Bubble, alert: Alert) {
        let allowed = self
            .pause
            .lock()
            .map(|p| p.allows(alert, countersign_broker::now()))
            .unwrap_or(true);
        if allowed {
            show(b, self.app().cloned());
        } else {
            tracing::info!(draft = %b.ids.join(","), ?alert, "desktop notification held back: notifications are paused");
        }
    }
}

/// Notifier for the desktop app.
#[derive(Default)]
pub struct DesktopNotifier {
    desk: Arc<Desk>,
    /// Feeds the notification thread (started on first use).
    queue: OnceLock<Mutex<mpsc::Sender<PendingNotice>>>,
    /// Tells the reminder thread about expired drafts ([`crate::reminders::spawn`]).
    expired: OnceLock<Mutex<mpsc::Sender<String>>>,
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
    /// Drafts of the team server's queue (its "Open" opens the Team view).
    pub team: bool,
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
        team: false,
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
        team: false,
    }
}

impl Bubble {
    /// What its "Open" action opens: the draft when it stands for one, else `None` (the queue).
    pub fn opens(&self) -> Option<String> {
        match self.ids.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

/// Gathers what arrives within `window` of now; `None` when the sender is gone.
pub fn gather<T>(rx: &mpsc::Receiver<T>, window: Duration) -> Option<Vec<T>> {
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
fn run_notifications(rx: mpsc::Receiver<PendingNotice>, desk: Arc<Desk>) {
    let show = |b: Bubble| desk.show(&b, Alert::NewDraft(b.level));
    while let Ok(first) = rx.recv() {
        show(single(&first));
        let Some(batch) = gather(&rx, COALESCE_WINDOW) else {
            return;
        };
        match batch.as_slice() {
            [] => {}
            [one] => show(single(one)),
            many => show(coalesced(many)),
        }
    }
}

/// The freedesktop action a click on the notification (or `dunstctl action`) invokes.
const OPEN_ACTION: &str = "default";

/// Most notifications whose "Open" action is awaited at once (one thread each).
const MAX_ACTION_WAITERS: usize = 64;

/// Notifications whose "Open" action is being awaited now.
static ACTION_WAITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Shows a bubble with its "Open" action (blocking D-Bus call; never on the submission path).
/// With `app`, a thread of its own waits for the action and opens the draft in the window.
fn show(b: &Bubble, app: Option<AppHandle>) {
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
        .action(OPEN_ACTION, "Open")
        .timeout(notify_rust::Timeout::Milliseconds(10_000));
    #[cfg(all(unix, not(target_os = "macos")))]
    notification.urgency(urgency);
    let _ = urgency;
    let drafts = b.ids.join(",");
    match notification.show() {
        #[cfg(all(unix, not(target_os = "macos")))]
        Ok(handle) => {
            tracing::info!(draft = %drafts, notification_id = handle.id(), "desktop notification shown");
            let Some(app) = app else { return };
            // A server that keeps notifications until dismissed never says "closed": cap the
            // waiting threads (and their D-Bus connections) rather than let them pile up.
            if ACTION_WAITERS.fetch_add(1, Ordering::SeqCst) >= MAX_ACTION_WAITERS {
                ACTION_WAITERS.fetch_sub(1, Ordering::SeqCst);
                tracing::warn!(draft = %drafts, "notification shown without its Open action: {MAX_ACTION_WAITERS} already wait");
                return;
            }
            let opens = b.opens();
            let team = b.team;
            let waiter = move || {
                handle.wait_for_action(|action| {
                    if action == OPEN_ACTION {
                        tracing::info!(draft = ?opens, team, "notification action: open");
                        match opens {
                            Some(id) if team => crate::shell::open_team_draft(&app, id),
                            opens => crate::shell::open_window(&app, opens),
                        }
                    }
                });
                ACTION_WAITERS.fetch_sub(1, Ordering::SeqCst);
            };
            if let Err(e) = std::thread::Builder::new()
                .name("notify-action".into())
                .spawn(waiter)
            {
                ACTION_WAITERS.fetch_sub(1, Ordering::SeqCst);
                tracing::warn!("notification action not awaited: {e}");
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Ok(_) => {
            let _ = app;
            tracing::info!(draft = %drafts, "desktop notification shown")
        }
        Err(e) => tracing::warn!(draft = %drafts, "desktop notification failed: {e}"),
    }
}

impl DesktopNotifier {
    /// Connects the notifier to the running app (in `setup`).
    pub fn attach(&self, app: AppHandle) {
        let _ = self.desk.app.set(app);
    }

    /// The state it shares with the tray and the reminder thread.
    pub fn desk(&self) -> Arc<Desk> {
        self.desk.clone()
    }

    /// Where expired draft ids go from now on (the reminder thread's receiver).
    pub fn announce_expired_to(&self, tx: mpsc::Sender<String>) {
        let _ = self.expired.set(Mutex::new(tx));
    }

    /// Shows `pending` on the tray (tooltip, title where supported, the menu's count line).
    /// Never waits for the main thread (tray calls from another thread block until it runs
    /// them, and this is on the submission path: a flood of drafts slowed to the window's
    /// pace): the update is queued there, at most one at a time, and shows the newest count.
    pub fn refresh_tray(&self, pending: u32) {
        self.desk.pending.store(pending, Ordering::Relaxed);
        let Some(app) = self.desk.app() else { return };
        if self.desk.tray_queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let (handle, desk) = (app.clone(), self.desk.clone());
        let queued = app.run_on_main_thread(move || {
            desk.tray_queued.store(false, Ordering::SeqCst);
            let pending = desk.pending.load(Ordering::Relaxed);
            crate::tray::show_state(&handle, pending, desk.paused_until());
        });
        if let Err(e) = queued {
            self.desk.tray_queued.store(false, Ordering::SeqCst);
            tracing::warn!("tray count not updated: {e}");
        }
    }
}

/// Shortens agent-supplied text to one line for a notification: at most `max` characters,
/// hidden characters dropped (a notification cannot mark them; the window does).
pub fn one_line(s: &str, max: usize) -> String {
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
            let desk = self.desk.clone();
            if let Err(e) = std::thread::Builder::new()
                .name("notify".into())
                .spawn(move || run_notifications(rx, desk))
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
        if event.status == Status::Expired {
            if let Some(tx) = self.expired.get() {
                let _ = tx.lock().map(|tx| tx.send(event.id.clone()));
            }
        }
        if let Some(app) = self.desk.app() {
            if let Err(e) = app.emit("queue-changed", event) {
                tracing::warn!("queue-changed event not delivered: {e}");
            }
        }
    }

    fn policy_changed(&self) {
        // No payload: the window asks `policy_view` for what is in force now.
        if let Some(app) = self.desk.app() {
            if let Err(e) = app.emit("policy-changed", ()) {
                tracing::warn!("policy-changed event not delivered: {e}");
            }
        }
    }
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
    fn a_notification_for_one_draft_opens_it_and_a_coalesced_one_opens_the_queue() {
        assert_eq!(
            single(&notice("d1", "x", RiskLevel::Low)).opens(),
            Some("d1".to_string())
        );
        let burst = [
            notice("a", "x", RiskLevel::Low),
            notice("b", "y", RiskLevel::High),
        ];
        assert_eq!(coalesced(&burst).opens(), None);
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
