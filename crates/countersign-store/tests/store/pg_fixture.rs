//! The PostgreSQL server of the tests: its URL from `COUNTERSIGN_TEST_PG` (set by
//! `scripts/pg-test.sh`), and a fresh database on it per test. Shared with other crates' tests
//! by `#[path]`, so every suite treats a missing server the same way: a failure in CI
//! (`CI=true`), a loud skip elsewhere.
#![allow(dead_code, clippy::unwrap_used)] // each including suite uses what it needs

/// The server's URL, or `None` (skipped locally) / a panic (in CI) when there is none.
pub fn server_url() -> Option<String> {
    match std::env::var("COUNTERSIGN_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => panic!(
            "CI=true but COUNTERSIGN_TEST_PG is not set: the PostgreSQL suite must run \
             (scripts/pg-test.sh cargo test ...)"
        ),
        _ => {
            eprintln!(
                "\n!!! SKIPPED on PostgreSQL: COUNTERSIGN_TEST_PG is not set. Run \
                 `scripts/pg-test.sh cargo test -p countersign-store` to test that backend. !!!\n"
            );
            None
        }
    }
}

/// A new database on the test server; its URL.
pub fn new_database(server: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("cs_{}_{n}_{nanos}", std::process::id());
    let mut admin = ::postgres::Client::connect(server, ::postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
