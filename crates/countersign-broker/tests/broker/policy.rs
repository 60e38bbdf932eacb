//! The lead-signed policy in the broker: auto-approvals and blocks are signed decisions with
//! the policy as the reason, `lead_required` needs a lead's key, every decision names the
//! policy's SHA-256, and an older policy is refused (no rollback), even after a restart.

use std::sync::Arc;

use countersign_broker::policy::load_policy;
use countersign_broker::{BrokerConfig, DecisionInput};
use countersign_core::api::Status;
use countersign_core::decision::DECISION_PAYLOAD_TYPE;
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::{DecisionBody, TrustedKeys, Verdict};
use countersign_store::Store;

use crate::fixture::{seed_key, start_with, Fixture};

fn policy_text(serial: u64) -> String {
    format!(
        "serial = {serial}\norg_domains = [\"example.com\"]\n\n[thresholds]\nauto_approve_below = 5\nlead_required_from = 50\nblocked_from = 80\n"
    )
}

/// The policy signed by the lead with seed `lead_seed`; the broker's own key has seed 7.
fn loaded(serial: u64, lead_seed: u8) -> Arc<LoadedPolicy> {
    let lead = seed_key(lead_seed);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let text = policy_text(serial);
    let env = policy::sign(text.as_bytes(), &lead);
    Arc::new(LoadedPolicy::verify(text.as_bytes(), &env, &trusted).unwrap())
}

async fn with_policy(p: Arc<LoadedPolicy>) -> Fixture {
    start_with(BrokerConfig {
        policy: Some(p),
        ..BrokerConfig::default()
    })
    .await
}

fn submit(f: &Fixture, draft: &str) -> countersign_core::api::Submitted {
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    f.broker.submit(&agent, draft.as_bytes()).unwrap()
}

fn body_of(f: &Fixture, id: &str) -> DecisionBody {
    let row = f
        .broker
        .store()
        .decision(id)
        .unwrap()
        .expect("a signed decision is stored");
    let verified = row
        .envelope
        .verify(DECISION_PAYLOAD_TYPE, &f.trusted)
        .unwrap();
    serde_json::from_value(countersign_core::json::parse_strict(&verified.body).unwrap()).unwrap()
}

const HARMLESS: &str = r#"{"kind":"message.post","target":"forum://eng/1","summary":"thanks","payload":{"channel":"data-eng","audience":"team:data-eng","body":"Thanks, fixed."}}"#;
const GRANT: &str = r#"{"kind":"acl.change","target":"w://a","summary":"s","payload":{"resource":"analytics.user_data","grants":[{"principal":"all-employees","permission":"read"}]}}"#;
const MEDIUM: &str = r#"{"kind":"shell.exec","target":"host://a","summary":"s","payload":{"argv":["rm","-rf","/tmp/build"]}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_low_score_is_auto_approved_with_a_signed_decision_naming_the_policy() {
    let p = loaded(1, 7);
    let f = with_policy(p.clone()).await;
    let s = submit(&f, HARMLESS);
    assert_eq!(
        s.status,
        Status::Approved,
        "score {} is under auto_approve_below",
        s.risk.score
    );
    let body = body_of(&f, &s.id);
    assert_eq!(body.verdict, Verdict::Approved);
    assert_eq!(body.policy_sha256.as_deref(), Some(p.sha256.as_str()));
    assert!(body
        .reason
        .unwrap()
        .contains("auto-approved by policy serial 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_score_in_the_blocked_band_gets_a_signed_rejection() {
    let f = with_policy(loaded(1, 7)).await;
    let s = submit(&f, GRANT);
    assert_eq!(s.status, Status::Rejected, "score {}", s.risk.score);
    let body = body_of(&f, &s.id);
    assert_eq!(body.verdict, Verdict::Rejected);
    assert!(body.reason.unwrap().contains("blocked by policy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn lead_required_needs_the_approver_to_hold_a_lead_key() {
    // Signed by another lead: this broker's key (seed 7) is not a lead.
    let f = with_policy(loaded(1, 9)).await;
    let s = submit(&f, MEDIUM);
    assert_eq!(s.status, Status::Pending, "score {}", s.risk.score);
    assert!(
        s.risk.score >= 50,
        "the draft must be in the lead band: {:?}",
        s.risk
    );
    let err = f
        .broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .unwrap_err();
    assert!(err.to_string().contains("requires a lead"), "{err}");
    // A rejection needs no lead.
    f.broker
        .decide(
            &s.id,
            &s.action_digest,
            DecisionInput::Reject {
                reason: "no".into(),
            },
        )
        .unwrap();

    let f = with_policy(loaded(1, 7)).await;
    let s = submit(&f, MEDIUM);
    f.broker
        .decide(&s.id, &s.action_digest, DecisionInput::Approve)
        .expect("a lead may approve");
    assert!(body_of(&f, &s.id).policy_sha256.is_some());
}

#[test]
fn an_older_policy_is_refused_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let lead = seed_key(1);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let signed = |serial: u64| {
        let text = policy_text(serial);
        let env = serde_json::to_vec(&policy::sign(text.as_bytes(), &lead)).unwrap();
        (text, env)
    };
    let (v2, s2) = signed(2);
    let (v1, s1) = signed(1);
    {
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        load_policy(&store, v2.as_bytes(), &s2, &trusted, 1).unwrap();
        load_policy(&store, v2.as_bytes(), &s2, &trusted, 2)
            .expect("the same policy again is fine");
    }
    let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
    let err = load_policy(&store, v1.as_bytes(), &s1, &trusted, 3).unwrap_err();
    assert!(err.to_string().contains("rollback"), "{err}");
    let changed = policy_text(2).replace("blocked_from = 80", "blocked_from = 100");
    let env = serde_json::to_vec(&policy::sign(changed.as_bytes(), &lead)).unwrap();
    assert!(
        load_policy(&store, changed.as_bytes(), &env, &trusted, 4).is_err(),
        "a changed policy needs a higher serial"
    );
    let (v3, s3) = signed(3);
    load_policy(&store, v3.as_bytes(), &s3, &trusted, 5).expect("a newer policy is accepted");
}

#[test]
fn an_unverifiable_policy_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
    let files = countersign_broker::policy::PolicyFiles {
        policy: Some(dir.path().join("policy.toml")),
        signature: None,
        lead_trust: None,
    };
    std::fs::write(dir.path().join("policy.toml"), policy_text(1)).unwrap();
    let err = countersign_broker::policy::load_policy_files(&store, &files, 1).unwrap_err();
    assert!(err.contains("no --lead-trust"), "{err}");
    let trust = dir.path().join("lead.json");
    std::fs::write(
        &trust,
        serde_json::to_vec(&seed_key(1).trusted_key("lea", "lead")).unwrap(),
    )
    .unwrap();
    let env = policy::sign(policy_text(1).as_bytes(), &seed_key(2));
    std::fs::write(
        dir.path().join("policy.toml.sig"),
        serde_json::to_vec(&env).unwrap(),
    )
    .unwrap();
    let files = countersign_broker::policy::PolicyFiles {
        lead_trust: Some(trust),
        ..files
    };
    let err = countersign_broker::policy::load_policy_files(&store, &files, 1).unwrap_err();
    assert!(
        err.contains("refusing policy") && err.contains("signature"),
        "{err}"
    );
}
