//! The policy at run time: the broker watches policy.toml, its signature and the lead trust
//! file and reloads; a refused file (invalid, unsigned, rollback) leaves the previous policy in
//! force, is audited and shown; a start-up with a refused file keeps the last good policy; and
//! a lead signs an edit in place (preview first), which goes through the same reload.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::policy::{start_policy, PolicyFiles, Reload};
use countersign_broker::policy_watch::watch_policy;
use countersign_broker::{Broker, BrokerConfig, BrokerError, Signer};
use countersign_core::api::Status;
use countersign_core::policy::{self, Requirement};
use countersign_core::ApproverKey;
use countersign_store::Store;

use crate::fixture::seed_key;

/// Thresholds: lead from 50, blocked from `blocked`.
fn text(serial: u64, blocked: u8) -> String {
    format!(
        "serial = {serial}\norg_domains = [\"example.com\"]\n\n[thresholds]\nlead_required_from = 50\nblocked_from = {blocked}\n"
    )
}

/// `rm -rf /tmp/build`: in the lead band (50–79) of the policies above.
const MEDIUM: &str = r#"{"kind":"shell.exec","target":"host://a","summary":"s","payload":{"argv":["rm","-rf","/tmp/build"]}}"#;

struct Setup {
    dir: tempfile::TempDir,
    files: PolicyFiles,
}

impl Setup {
    /// A temp dir whose lead trust file pins seed 1 as a lead (and seed 7 too when
    /// `local_is_lead`: the broker's own key).
    fn new(local_is_lead: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = vec![seed_key(1).trusted_key("lea", "lead")];
        if local_is_lead {
            keys.push(seed_key(7).trusted_key("ana", "lead"));
        }
        let trust = dir.path().join("lead.json");
        std::fs::write(
            &trust,
            serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap(),
        )
        .unwrap();
        let files = PolicyFiles {
            policy: Some(dir.path().join("policy.toml")),
            signature: None,
            lead_trust: Some(trust),
        };
        Setup { dir, files }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` signed by `key` (signature first, like an editor saving two files).
    fn write(&self, text: &str, key: &ApproverKey) {
        let env = policy::sign(text.as_bytes(), key);
        std::fs::write(
            self.path("policy.toml.sig"),
            serde_json::to_vec(&env).unwrap(),
        )
        .unwrap();
        std::fs::write(self.path("policy.toml"), text).unwrap();
    }

    fn store(&self) -> Arc<Store> {
        Arc::new(Store::open(&self.path("db.sqlite3")).unwrap())
    }

    /// A broker with key seed 7 started the way the app starts one.
    fn broker(&self) -> Result<Broker, String> {
        let store = self.store();
        let start = start_policy(&store, &self.files, countersign_broker::now())?;
        Ok(Broker::headless(
            store,
            Signer {
                key: seed_key(7),
                name: "ana".into(),
            },
            BrokerConfig {
                policy: start.policy,
                policy_files: Some(self.files.clone()),
                policy_refusal: start.refusal,
                ..BrokerConfig::default()
            },
        ))
    }
}

fn submit(b: &Broker, draft: &str) -> countersign_core::api::Submitted {
    let agent = match b.store().agents().unwrap().into_iter().next() {
        Some(a) => a,
        None => {
            let token = b.add_agent("a1").unwrap().token;
            b.authenticate(&token).unwrap().unwrap()
        }
    };
    b.submit(&agent, draft.as_bytes()).unwrap()
}

fn events(b: &Broker) -> Vec<(String, serde_json::Value)> {
    b.store()
        .audit_rows()
        .unwrap()
        .into_iter()
        .filter(|r| r.event.starts_with("policy."))
        .map(|r| (r.event, r.detail))
        .collect()
}

fn serial_in_force(b: &Broker) -> u64 {
    b.policy().expect("a policy is in force").policy.serial
}

#[test]
fn a_newer_signed_policy_is_reloaded_and_audited_with_its_sha256_and_serial() {
    let s = Setup::new(false);
    s.write(&text(1, 80), &seed_key(1));
    let b = s.broker().unwrap();
    assert_eq!(serial_in_force(&b), 1);
    s.write(&text(2, 60), &seed_key(1));
    let Reload::Loaded(p) = b.reload_policy() else {
        panic!("a newer signed policy must be loaded");
    };
    assert_eq!(serial_in_force(&b), 2);
    let ev = events(&b);
    assert_eq!(ev.len(), 2, "one policy.loaded row per load: {ev:?}");
    assert_eq!(ev[1].0, "policy.loaded");
    assert_eq!(ev[1].1["serial"], 2);
    assert_eq!(ev[1].1["sha256"], p.sha256.as_str());
    assert!(matches!(b.reload_policy(), Reload::Unchanged));
    assert_eq!(events(&b).len(), 2, "an unchanged file is not a new load");
    assert_eq!(b.store().verify_audit_chain().unwrap(), None);
}

#[test]
fn an_invalid_file_is_refused_with_field_and_line_and_the_previous_policy_stays() {
    let s = Setup::new(false);
    s.write(&text(1, 80), &seed_key(1));
    let b = s.broker().unwrap();
    let bad = "serial = 2\n\n[thresholds]\nlead_required_from = \"fifty\"\n";
    s.write(bad, &seed_key(1));
    let Reload::Refused(r) = b.reload_policy() else {
        panic!("an invalid policy must be refused");
    };
    assert!(
        r.message.contains("line 4") && r.message.contains("[thresholds] lead_required_from"),
        "the refusal names the line and field: {}",
        r.message
    );
    assert_eq!(serial_in_force(&b), 1, "the previous policy stays in force");
    let view = b.policy_view();
    assert_eq!(
        view.refusal.as_ref().map(|r| r.message.as_str()),
        Some(r.message.as_str()),
        "the window shows the refusal"
    );
    let ev = events(&b);
    assert_eq!(ev.last().unwrap().0, "policy.refused");
    assert_eq!(
        ev.last().unwrap().1["sha256"],
        policy::sha256_of(bad.as_bytes()).as_str(),
        "the audit row names the refused file's SHA-256"
    );
    assert_eq!(b.store().verify_audit_chain().unwrap(), None);
}

#[test]
fn a_policy_signed_by_a_key_that_is_not_a_pinned_lead_is_refused() {
    let s = Setup::new(false);
    s.write(&text(1, 80), &seed_key(1));
    let b = s.broker().unwrap();
    s.write(&text(2, 30), &seed_key(9));
    let Reload::Refused(r) = b.reload_policy() else {
        panic!("an unpinned signer must be refused");
    };
    assert!(r.message.contains("signature"), "{}", r.message);
    assert_eq!(r.serial, Some(2), "the refusal names the serial offered");
    assert_eq!(serial_in_force(&b), 1);
}

/// Polls `f` for up to 10 s (the watcher reloads after its debounce).
fn eventually(what: &str, f: impl Fn() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_file_swapped_in_at_run_time_is_refused_and_the_old_policy_keeps_deciding() {
    let s = Setup::new(false);
    // An attacker who can write the files keeps an old, validly signed policy (serial 1, which
    // blocked nothing below 95) and swaps it back in after serial 2 (blocked from 50) is in
    // force.
    let old = text(1, 95);
    let old_sig = serde_json::to_vec(&policy::sign(old.as_bytes(), &seed_key(1))).unwrap();
    s.write(&text(1, 95), &seed_key(1));
    let b = s.broker().unwrap();
    let _watcher = watch_policy(&b).unwrap().expect("a policy is configured");
    s.write(&text(2, 50), &seed_key(1));
    eventually("serial 2 in force", || serial_in_force(&b) == 2);

    std::fs::write(s.path("policy.toml.sig"), &old_sig).unwrap();
    std::fs::write(s.path("policy.toml"), &old).unwrap();
    eventually("the rollback refused", || {
        b.policy_view()
            .refusal
            .is_some_and(|r| r.message.contains("rollback"))
    });
    assert_eq!(serial_in_force(&b), 2, "serial 2 stays in force");
    // Reading the refused file is no change: it is not refused (and audited) over and over.
    std::thread::sleep(Duration::from_millis(1500));
    let refusals = events(&b)
        .iter()
        .filter(|(e, _)| e == "policy.refused")
        .count();
    assert_eq!(refusals, 1, "one refusal for one swapped-in file");
    let sub = submit(&b, MEDIUM);
    assert!(
        (50..95).contains(&sub.risk.score),
        "the draft must fall where the policies differ: {}",
        sub.risk.score
    );
    assert_eq!(
        sub.status,
        Status::Rejected,
        "serial 2 (blocked from 50) decides, not the rolled-back serial 1"
    );
    let ev = events(&b);
    assert!(
        ev.iter()
            .any(|(e, d)| e == "policy.refused" && d["serial"] == 1),
        "the refusal is audited with the serial offered: {ev:?}"
    );
    assert_eq!(b.store().verify_audit_chain().unwrap(), None);
}

#[test]
fn a_start_with_a_refused_file_keeps_the_last_good_policy_and_shows_why() {
    let s = Setup::new(false);
    s.write(&text(3, 80), &seed_key(1));
    drop(s.broker().unwrap());
    std::fs::write(s.path("policy.toml"), text(4, 80)).unwrap(); // edited, not re-signed
    let b = s
        .broker()
        .expect("the last good policy keeps the app running");
    assert_eq!(serial_in_force(&b), 3);
    let refusal = b.policy_view().refusal.expect("the refusal is shown");
    assert!(refusal.message.contains("signature"), "{}", refusal.message);
    assert_eq!(events(&b).last().unwrap().0, "policy.refused");
}

#[test]
fn a_start_with_a_refused_file_and_no_last_good_policy_fails_closed() {
    let s = Setup::new(false);
    s.write("serial = 1\nthresholds = 3\n", &seed_key(1));
    let err = s
        .broker()
        .err()
        .expect("no policy to run with: refuse to start");
    assert!(
        err.contains("line 2") && err.contains("no last good policy"),
        "{err}"
    );
}

#[test]
fn the_preview_lists_drafts_whose_requirement_moves() {
    let s = Setup::new(true);
    s.write(&text(1, 95), &seed_key(1));
    let b = s.broker().unwrap();
    let medium = submit(&b, MEDIUM);
    let harmless = submit(
        &b,
        r#"{"kind":"shell.exec","target":"host://a","summary":"s","payload":{"argv":["ls"]}}"#,
    );
    let p = b.preview_policy(&text(2, 50), 200).unwrap();
    assert_eq!(p.scored, 2);
    assert_eq!(p.moves.len(), 1, "{:?}", p.moves);
    let m = &p.moves[0];
    assert_eq!(m.id, medium.id);
    assert_eq!(
        (m.requirement_old, m.requirement_new),
        (Requirement::LeadRequired, Requirement::Blocked)
    );
    assert_eq!(m.score_old, m.score_new, "only the thresholds changed");
    assert_eq!((p.before.lead_required, p.after.blocked), (1, 1));
    assert!(!p.moves.iter().any(|m| m.id == harmless.id));
    let err = b.preview_policy("serial = 2\n[thresholds]\nblocked = 1\n", 200);
    assert!(
        matches!(&err, Err(BrokerError::BadRequest(m)) if m.contains("line 3") && m.contains("blocked")),
        "an invalid edit is refused with line and field: {:?}",
        err.map(|_| ())
    );
}

#[test]
fn only_a_pinned_lead_may_sign_and_the_serial_must_increase() {
    let s = Setup::new(false);
    s.write(&text(1, 95), &seed_key(1));
    let b = s.broker().unwrap();
    let view = b.policy_view();
    assert!(!view.editable);
    assert!(
        view.read_only_reason
            .unwrap()
            .contains("not pinned as a lead"),
        "the read-only line says why"
    );
    let err = b.sign_and_apply_policy(&text(2, 40)).unwrap_err();
    assert!(matches!(err, BrokerError::Forbidden(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(s.path("policy.toml")).unwrap(),
        text(1, 95),
        "nothing written"
    );

    let s = Setup::new(true);
    s.write(&text(5, 95), &seed_key(1));
    let b = s.broker().unwrap();
    assert!(b.policy_view().editable);
    let err = b.sign_and_apply_policy(&text(5, 40)).unwrap_err();
    assert!(err.to_string().contains("serial must increase"), "{err}");
    let err = b
        .sign_and_apply_policy("serial = 6\nbogus = 1\n")
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(serial_in_force(&b), 5);
}

#[test]
fn a_signed_edit_is_written_atomically_put_in_force_and_decides_new_drafts() {
    let s = Setup::new(true);
    s.write(&text(1, 95), &seed_key(1));
    let b = s.broker().unwrap();
    assert_eq!(submit(&b, MEDIUM).status, Status::Pending);
    let view = b.sign_and_apply_policy(&text(2, 50)).unwrap();
    let in_force = view.in_force.expect("the new policy is in force");
    assert_eq!(in_force.policy.serial, 2);
    assert_eq!(in_force.signer_names, vec!["ana".to_owned()]);
    assert_eq!(
        submit(&b, MEDIUM).status,
        Status::Rejected,
        "blocked from 50"
    );
    // The files on disk verify on their own: a restart loads the same policy.
    let written = std::fs::read(s.path("policy.toml")).unwrap();
    assert_eq!(policy::sha256_of(&written), in_force.sha256);
    assert!(leftovers(s.dir.path()).is_empty(), "no temp files left");
    drop(b);
    assert_eq!(serial_in_force(&s.broker().unwrap()), 2);
    let loaded: Vec<_> = events(&s.broker().unwrap())
        .into_iter()
        .filter(|(e, _)| e == "policy.loaded")
        .map(|(_, d)| d["serial"].as_u64().unwrap())
        .collect();
    assert_eq!(
        loaded,
        vec![1, 2, 2, 2],
        "every load is audited: serial 1, the signed edit, and each restart"
    );
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}
