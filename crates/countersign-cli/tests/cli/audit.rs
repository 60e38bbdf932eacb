//! `countersign audit verify` and `audit export` on a real data directory.

use std::process::Command;

use countersign_core::ApproverKey;
use countersign_store::{AuditEvent, Store, DB_FILE};

fn audit(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn audit_verify_accepts_an_intact_log_and_names_an_edited_row_after_export() {
    let dir = tempfile::tempdir().unwrap();
    let key = ApproverKey::from_seed(&zeroize::Zeroizing::new([3; 32]));
    let trust = dir.path().join("trust.json");
    std::fs::write(
        &trust,
        serde_json::to_vec(&key.trusted_key("ana", "approver")).unwrap(),
    )
    .unwrap();
    let store = Store::open(&dir.path().join(DB_FILE)).unwrap();
    for i in 0..5 {
        store
            .audit(
                1_790_000_000 + i,
                AuditEvent::Submitted,
                Some("d"),
                &serde_json::json!({"i": i}),
            )
            .unwrap();
    }
    store.checkpoint(&key, 1_790_000_010).unwrap().unwrap();
    let trust_arg = trust.to_str().unwrap();

    let (code, text) = audit(dir.path(), &["verify", "--trust", trust_arg]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("5 rows") && text.contains("intact"), "{text}");

    let export = dir.path().join("audit.jsonl");
    let (code, text) = audit(dir.path(), &["export", "--out", export.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        lines.lines().count(),
        6,
        "5 rows and 1 checkpoint:\n{lines}"
    );
    assert!(lines
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    let export_arg = export.to_str().unwrap();
    let (code, text) = audit(
        dir.path(),
        &["verify", "--trust", trust_arg, "--from", export_arg],
    );
    assert_eq!(code, 0, "the export verifies on its own: {text}");
    std::fs::write(&export, lines.replacen("\"i\":3", "\"i\":8", 1)).unwrap();
    let (code, text) = audit(
        dir.path(),
        &["verify", "--trust", trust_arg, "--from", export_arg],
    );
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains("row 4 was edited"),
        "an edited export is caught too: {text}"
    );

    store
        .write()
        .execute(
            "UPDATE audit SET detail_json = '{\"i\":9}' WHERE seq = 2",
            [],
        )
        .unwrap();
    let (code, text) = audit(dir.path(), &["verify", "--trust", trust_arg]);
    assert_eq!(code, 4, "tampering exits 4: {text}");
    assert!(text.contains("row 2 was edited"), "{text}");

    let other = dir.path().join("other.json");
    let stranger = ApproverKey::from_seed(&zeroize::Zeroizing::new([4; 32]));
    std::fs::write(
        &other,
        serde_json::to_vec(&stranger.trusted_key("eve", "approver")).unwrap(),
    )
    .unwrap();
    let (code, text) = audit(dir.path(), &["verify", "--trust", other.to_str().unwrap()]);
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains("checkpoint at row 5 does not verify"),
        "{text}"
    );
}
