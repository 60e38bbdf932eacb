//! Crash points for the crash-safety tests (`crates/countersign-cli/tests/crash/`).
//!
//! [`point`] is a no-op unless the crate is built with the `crash-points` cargo feature, which
//! is off by default and enabled only by that test target (`cargo test -p countersign-cli
//! --features crash-points --test crash`). With the feature on, a process whose environment
//! variable [`CRASH_AT_ENV`] names the step is killed there with `kill -KILL <own pid>` (no
//! destructor, no flush, no SQLite rollback), after printing `crash point <name>` on standard
//! error so the test can tell the crash happened at the step it named; if `kill` cannot be
//! run, it aborts instead (SIGABRT, the same to the database and the ledger).
//!
//! The named steps of a decision, in the order the broker runs them:
//! [`DECIDE_BEFORE_SIGN`], [`DECIDE_AFTER_CAS`], [`DECIDE_BEFORE_COMMIT`],
//! [`DECIDE_AFTER_COMMIT`]; of the gate: [`GATE_AFTER_CONSUME`].

/// Environment variable naming the step to crash at (only read with the `crash-points` feature).
pub const CRASH_AT_ENV: &str = "COUNTERSIGN_CRASH_AT";
/// The decision body is built, not yet signed; nothing is written.
pub const DECIDE_BEFORE_SIGN: &str = "decide-before-sign";
/// Inside the decision's transaction: the compare-and-set pending → decided matched, the
/// decision and audit rows are not written yet.
pub const DECIDE_AFTER_CAS: &str = "decide-after-cas";
/// Inside the decision's transaction: decision and audit rows written, `COMMIT` not yet run.
pub const DECIDE_BEFORE_COMMIT: &str = "decide-before-commit";
/// The transaction committed; the envelope has not left the broker (no event, no webhook, no
/// reply to the window).
pub const DECIDE_AFTER_COMMIT: &str = "decide-after-commit";
/// The gate recorded the decision's `jti` in its ledger and has not executed the action.
pub const GATE_AFTER_CONSUME: &str = "gate-after-consume";

/// Kills the process (SIGKILL) if it was built with the `crash-points` feature and
/// `COUNTERSIGN_CRASH_AT` equals `name`; otherwise does nothing.
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "crash-points")]
    if std::env::var(CRASH_AT_ENV).is_ok_and(|at| at == name) {
        eprintln!("crash point {name}");
        // `unsafe` is forbidden in this workspace, so no libc::kill: the kill(1) command.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::thread::sleep(std::time::Duration::from_secs(5));
        std::process::abort();
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = name;
}
