//! The desktop side of [`countersign_broker::Notifier`]: a notify-rust notification per new
//! pending draft, the tray's pending count, and the `queue-changed` event to the window.

use std::sync::OnceLock;

use countersign_broker::{Notifier, PendingNotice};
use countersign_core::api::QueueEvent;
use countersign_core::RiskLevel;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

const TRAY_ID: &str = "countersign";

/// Notifier for the desktop app.
#[derive(Default)]
pub struct DesktopNotifier {
    app: OnceLock<AppHandle>,
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
fn one_line(s: &str, max: usize) -> String {
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
        let summary = format!(
            "{} wants {} — {} risk ({})",
            n.agent,
            n.kind,
            n.level.as_str(),
            n.score
        );
        let body = one_line(&n.summary, 140);
        let urgency = match n.level {
            RiskLevel::Low => notify_rust::Urgency::Low,
            RiskLevel::Medium => notify_rust::Urgency::Normal,
            RiskLevel::High | RiskLevel::Critical => notify_rust::Urgency::Critical,
        };
        let id = n.id.clone();
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Countersign")
            .summary(&summary)
            .body(&body)
            .timeout(notify_rust::Timeout::Milliseconds(10_000));
        #[cfg(all(unix, not(target_os = "macos")))]
        notification.urgency(urgency);
        let _ = urgency;
        // D-Bus calls block (up to the bus timeout if the notification server hangs): keep them
        // off the submission path, which is acknowledged as soon as the draft is committed.
        let spawned = std::thread::Builder::new().name("notify".into()).spawn(move || match notification.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => tracing::info!(draft = %id, notification_id = handle.id(), "desktop notification shown"),
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => tracing::info!(draft = %id, "desktop notification shown"),
            Err(e) => tracing::warn!(draft = %id, "desktop notification failed: {e}"),
        });
        if let Err(e) = spawned {
            tracing::warn!("desktop notification not shown: {e}");
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
