//! The lead-signed policy: parsing with line numbers, thresholds per kind and agent, signature
//! against pinned lead keys only, no rollback.

use countersign_core::action::ActionKind;
use countersign_core::policy::{self, LoadedPolicy, Policy, PolicyError, Requirement};
use countersign_core::{ApproverKey, TrustedKeys};
use rstest::rstest;

const POLICY: &str = r#"serial = 3
org_domains = ["example.com"]
sensitive = ["*ledger*"]

[thresholds]
auto_approve_below = 10
lead_required_from = 75
blocked_from = 95

[kinds."shell.exec"]
lead_required_from = 50

[agents.build-bot]
blocked_from = 60

[agents.pay-bot]
two_approvers_from = 40
"#;

fn key(seed: u8) -> ApproverKey {
    ApproverKey::from_seed(&zeroize::Zeroizing::new([seed; 32]))
}

#[rstest]
#[case::low_is_auto("forum-bot", ActionKind::MessagePost, 5, Requirement::AutoApprove)]
#[case::middle_needs_one("forum-bot", ActionKind::MessagePost, 40, Requirement::OneApprover)]
#[case::high_needs_a_lead("forum-bot", ActionKind::MessagePost, 80, Requirement::LeadRequired)]
#[case::top_is_blocked("forum-bot", ActionKind::MessagePost, 97, Requirement::Blocked)]
#[case::kind_override("forum-bot", ActionKind::ShellExec, 55, Requirement::LeadRequired)]
#[case::agent_override_over_kind("build-bot", ActionKind::ShellExec, 61, Requirement::Blocked)]
#[case::agent_inherits_kind("build-bot", ActionKind::ShellExec, 52, Requirement::LeadRequired)]
#[case::below_two_needs_one("pay-bot", ActionKind::MessagePost, 39, Requirement::OneApprover)]
#[case::two_from_its_bound("pay-bot", ActionKind::MessagePost, 40, Requirement::TwoApprovers)]
#[case::lead_over_two("pay-bot", ActionKind::MessagePost, 75, Requirement::LeadRequired)]
#[case::kind_lead_over_agent_two("pay-bot", ActionKind::ShellExec, 50, Requirement::LeadRequired)]
fn thresholds_map_scores_to_requirements(
    #[case] agent: &str,
    #[case] kind: ActionKind,
    #[case] score: u8,
    #[case] expected: Requirement,
) {
    let p = Policy::parse(POLICY).unwrap();
    assert_eq!(p.requirement(agent, kind, score), expected);
}

#[test]
fn auto_approve_is_off_unless_the_policy_sets_it() {
    let p = Policy::parse("serial = 1\n").unwrap();
    assert_eq!(
        p.requirement("a", ActionKind::MessagePost, 0),
        Requirement::OneApprover,
        "a policy without bands changes nothing"
    );
}

#[rstest]
#[case::unknown_field(
    "serial = 1\n[thresholds]\nauto_aprove_below = 3\n",
    3,
    "auto_aprove_below"
)]
#[case::wrong_type("serial = 1\norg_domains = \"example.com\"\n", 2, "")]
#[case::missing_serial("org_domains = []\n", 1, "serial")]
#[case::read_only_tools_zero(
    "serial = 1\n\n[read_only_tools]\nauto_approve_below = 0\n",
    4,
    "auto_approve_below"
)]
#[case::read_only_tools_over_101(
    "serial = 1\n[read_only_tools]\nauto_approve_below = 102\n",
    3,
    "auto_approve_below"
)]
#[case::read_only_tools_not_a_byte(
    "serial = 1\n[read_only_tools]\nauto_approve_below = 300\n",
    3,
    "auto_approve_below"
)]
#[case::read_only_tools_empty_agent(
    "serial = 1\n[read_only_tools]\nauto_approve_below = 20\nagents = [\"\"]\n",
    4,
    "agents"
)]
#[case::read_only_tools_unknown_field(
    "serial = 1\n[read_only_tools]\nauto_approve_under = 20\n",
    3,
    "auto_approve_under"
)]
#[case::read_only_tools_missing_bound(
    "serial = 1\n[read_only_tools]\nagents = [\"a\"]\n",
    2,
    "auto_approve_below"
)]
fn invalid_files_name_the_line_and_the_field(
    #[case] text: &str,
    #[case] line: usize,
    #[case] field: &str,
) {
    match Policy::parse(text) {
        Err(PolicyError::Syntax { line: l, message }) => {
            assert_eq!(l, line, "{message}");
            assert!(message.contains(field), "{message} should name `{field}`");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[rstest]
#[case::auto_approve(Requirement::AutoApprove, Some((1, false)))]
#[case::one_approver(Requirement::OneApprover, Some((1, false)))]
#[case::two_approvers(Requirement::TwoApprovers, Some((2, false)))]
#[case::lead_required(Requirement::LeadRequired, Some((1, true)))]
#[case::blocked(Requirement::Blocked, None)]
fn each_band_names_the_quorum_a_gate_demands(
    #[case] r: Requirement,
    #[case] expected: Option<(usize, bool)>,
) {
    assert_eq!(r.quorum().map(|q| (q.approvals, q.lead)), expected);
}

#[test]
fn an_unknown_kind_and_crossed_bands_are_refused() {
    let e = Policy::parse(
        "serial = 1\n[thresholds]\nauto_approve_below = 50\ntwo_approvers_from = 40\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("auto_approve_below (50) is above two_approvers_from (40)"),
        "{e}"
    );
    let e = Policy::parse("serial = 1\n[agents.x]\ntwo_approvers_from = 102\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("[agents.x] two_approvers_from must be 0–101"),
        "{e}"
    );
    assert!(matches!(
        Policy::parse("serial = 1\n[kinds.\"shell.run\"]\nblocked_from = 3\n"),
        Err(PolicyError::Invalid(_))
    ));
    assert!(matches!(
        Policy::parse(
            "serial = 1\n[thresholds]\nauto_approve_below = 80\nlead_required_from = 50\n"
        ),
        Err(PolicyError::Invalid(_))
    ));
}

#[test]
fn a_policy_signed_by_a_pinned_lead_verifies() {
    let lead = key(1);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let env = policy::sign(POLICY.as_bytes(), &lead);
    let loaded = LoadedPolicy::verify(POLICY.as_bytes(), &env, &trusted).unwrap();
    assert_eq!(loaded.policy.serial, 3);
    assert_eq!(loaded.sha256, policy::sha256_of(POLICY.as_bytes()));
    assert_eq!(loaded.signers, vec![lead.key_id()]);
    assert_eq!(
        loaded.policy.risk_context().org_domains,
        vec!["example.com"]
    );
}

#[test]
fn an_approver_key_cannot_sign_a_policy() {
    let k = key(1);
    let trusted = TrustedKeys::from_keys(vec![k.trusted_key("ana", "approver")]).unwrap();
    let env = policy::sign(POLICY.as_bytes(), &k);
    let err = LoadedPolicy::verify(POLICY.as_bytes(), &env, &trusted).unwrap_err();
    assert!(err.to_string().contains("lead"), "{err}");
}

#[test]
fn an_unpinned_key_or_an_edited_file_is_refused() {
    let lead = key(1);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let stranger = policy::sign(POLICY.as_bytes(), &key(2));
    assert!(matches!(
        LoadedPolicy::verify(POLICY.as_bytes(), &stranger, &trusted),
        Err(PolicyError::Signature(_))
    ));
    let env = policy::sign(POLICY.as_bytes(), &lead);
    let edited = POLICY.replace("blocked_from = 95", "blocked_from = 100");
    let err = LoadedPolicy::verify(edited.as_bytes(), &env, &trusted).unwrap_err();
    assert!(err.to_string().contains("other bytes"), "{err}");
}

#[test]
fn an_older_policy_or_a_changed_one_with_the_same_serial_is_a_rollback() {
    let lead = key(1);
    let trusted = TrustedKeys::from_keys(vec![lead.trusted_key("lea", "lead")]).unwrap();
    let loaded = LoadedPolicy::verify(
        POLICY.as_bytes(),
        &policy::sign(POLICY.as_bytes(), &lead),
        &trusted,
    )
    .unwrap();
    assert!(loaded.check_not_older(None).is_ok());
    assert!(loaded.check_not_older(Some((2, "sha256:x"))).is_ok());
    assert!(
        loaded.check_not_older(Some((3, &loaded.sha256))).is_ok(),
        "reloading the same file is fine"
    );
    assert!(matches!(
        loaded.check_not_older(Some((3, "sha256:other"))),
        Err(PolicyError::Rollback { .. })
    ));
    assert!(matches!(
        loaded.check_not_older(Some((4, "sha256:x"))),
        Err(PolicyError::Rollback {
            found: 3,
            in_force: 4
        })
    ));
}
