//! The window side of the desktop shell: bringing the review window to the front with a draft
//! open (notification action, tray, a second launch), and telling it the shell's state.

use countersign_core::api::{OpenDraft, ShellState};
use tauri::{AppHandle, Emitter, Manager};

/// Event telling the window which draft to open ([`OpenDraft`]).
pub const OPEN_DRAFT_EVENT: &str = "open-draft";

/// Event carrying the shell's state ([`ShellState`]).
pub const SHELL_STATE_EVENT: &str = "shell-state";

/// The reminder interval the app runs with, seconds (set once at start).
static REMIND_AFTER_S: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Records the reminder interval the window is told about.
pub fn set_remind_after(secs: u64) {
    let _ = REMIND_AFTER_S.set(secs);
}

/// The shell's state with the pause ending at `paused_until`.
pub fn state(paused_until: Option<i64>) -> ShellState {
    ShellState {
        notifications_paused_until: paused_until,
        remind_after_s: REMIND_AFTER_S.get().copied().unwrap_or(300),
    }
}

/// Shows, unminimises and focuses the main window, then asks it to open `draft` (`None`: the
/// queue).
pub fn open_window(app: &AppHandle, draft: Option<String>) {
    open(
        app,
        OpenDraft {
            id: draft,
            team: false,
        },
    );
}

/// Brings the main window to the front on draft `id` of the team server's queue.
pub fn open_team_draft(app: &AppHandle, id: String) {
    open(
        app,
        OpenDraft {
            id: Some(id),
            team: true,
        },
    );
}

fn open(app: &AppHandle, target: OpenDraft) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        if let Err(e) = w.set_focus() {
            tracing::warn!("focusing the window: {e}");
        }
    }
    if let Err(e) = app.emit_to("main", OPEN_DRAFT_EVENT, target) {
        tracing::warn!("open-draft event not delivered: {e}");
    }
}

/// Tells the window the pause state changed.
pub fn emit_state(app: &AppHandle, paused_until: Option<i64>) {
    if let Err(e) = app.emit_to("main", SHELL_STATE_EVENT, state(paused_until)) {
        tracing::warn!("shell-state event not delivered: {e}");
    }
}
