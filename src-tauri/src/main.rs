//! `countersign-app`: the Countersign desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    countersign_app::run()
}
