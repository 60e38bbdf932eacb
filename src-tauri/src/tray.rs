//! The tray icon: the pending count, "Open Countersign", "Pause notifications for 1 hour"
//! (a toggle; while paused it reads "Resume notifications (paused, N min left)"), and "Quit".

use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

use crate::notify::Desk;

const TRAY_ID: &str = "countersign";

/// The menu lines that change.
struct TrayItems {
    count: MenuItem<Wry>,
    pause: MenuItem<Wry>,
}

/// "3 drafts pending" etc.
fn count_text(pending: u32) -> String {
    match pending {
        0 => "Nothing pending".to_string(),
        1 => "1 draft pending".to_string(),
        n => format!("{n} drafts pending"),
    }
}

/// The pause line: what a click does, and while paused how long is left.
pub fn pause_text(paused_until: Option<i64>, now: i64) -> String {
    match paused_until {
        None => "Pause notifications for 1 hour".to_string(),
        Some(until) => format!(
            "Resume notifications (paused, {} min left)",
            ((until - now).max(0) + 59) / 60
        ),
    }
}

/// Creates the tray icon and its menu.
///
/// # Errors
/// Tauri errors creating the menu or icon.
pub fn create_tray(app: &AppHandle, desk: Arc<Desk>) -> tauri::Result<()> {
    let count = MenuItem::with_id(app, "count", count_text(0), false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Countersign", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", pause_text(None, 0), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&count, &open, &pause, &quit])?;
    app.manage(TrayItems { count, pause });
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip("Countersign")
        .on_menu_event(move |app, event| match event.id.as_ref() {
            "open" => crate::shell::open_window(app, None),
            "pause" => {
                desk.toggle_pause();
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

/// Asks for the tray to show `pending` and the pause. Updates are coalesced on the tray thread
/// and applied at most every [`TRAY_REFRESH`], one at a time on the main thread: a burst of
/// submissions once made tray calls re-enter each other there (tray-icon's `RefCell` panicked).
pub fn show_state(app: &AppHandle, pending: u32, paused_until: Option<i64>) {
    let tx = REFRESH.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<TrayState>();
        let app = app.clone();
        let spawned = std::thread::Builder::new()
            .name("tray".into())
            .spawn(move || refresh_loop(&app, &rx));
        if let Err(e) = spawned {
            tracing::warn!("tray updates off: {e}");
        }
        Mutex::new(tx)
    });
    if let Ok(tx) = tx.lock() {
        let _ = tx.send((pending, paused_until));
    }
}

/// Most often the tray is redrawn.
const TRAY_REFRESH: Duration = Duration::from_millis(250);

/// Pending drafts, and the end of the notification pause (Unix seconds).
type TrayState = (u32, Option<i64>);

static REFRESH: OnceLock<Mutex<mpsc::Sender<TrayState>>> = OnceLock::new();

/// The tray thread: takes the newest state, applies it on the main thread, waits until done.
fn refresh_loop(app: &AppHandle, rx: &mpsc::Receiver<TrayState>) {
    while let Ok(mut state) = rx.recv() {
        std::thread::sleep(TRAY_REFRESH);
        while let Ok(newer) = rx.try_recv() {
            state = newer;
        }
        let (done_tx, done_rx) = mpsc::channel();
        let handle = app.clone();
        let posted = app.run_on_main_thread(move || {
            apply(&handle, state.0, state.1);
            let _ = done_tx.send(());
        });
        if posted.is_err() {
            return; // the event loop is gone: the app is quitting
        }
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
    }
}

/// Applies the state to the tray (tooltip, title where supported, menu); main thread only.
fn apply(app: &AppHandle, pending: u32, paused_until: Option<i64>) {
    let now = countersign_broker::now();
    let mut tooltip = format!("Countersign: {}", count_text(pending).to_lowercase());
    if let Some(until) = paused_until {
        tooltip += &format!(
            "; notifications paused ({} min left)",
            ((until - now).max(0) + 59) / 60
        );
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(&tooltip));
        let _ = tray.set_title(Some(&pending.to_string()));
    }
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.count.set_text(count_text(pending));
        let _ = items.pause.set_text(pause_text(paused_until, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_line_says_what_a_click_does_and_how_long_is_left() {
        assert_eq!(pause_text(None, 0), "Pause notifications for 1 hour");
        assert_eq!(
            pause_text(Some(3600), 0),
            "Resume notifications (paused, 60 min left)"
        );
        assert_eq!(
            pause_text(Some(3600), 3599),
            "Resume notifications (paused, 1 min left)",
            "partial minutes round up"
        );
        assert_eq!(count_text(0), "Nothing pending");
        assert_eq!(count_text(12), "12 drafts pending");
    }
}
