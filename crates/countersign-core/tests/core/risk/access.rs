//! Access widening: broad and outside principals, escalation, sensitive resources.

use rstest::rstest;
use serde_json::{json, Value};

use super::{check, org, scored, tool};

fn acl(resource: &str, grants: Value, before: Value) -> Value {
    json!({"kind":"acl.change","target":"w://a","summary":"s",
        "payload":{"resource": resource, "grants": grants}, "before": before})
}

#[rstest]
#[case::everyone(acl("docs.handbook", json!([{"principal":"everyone","permission":"read"}]), json!([])), "access.broad_principal", true)]
#[case::star(acl("docs.handbook", json!([{"principal":"*","permission":"read"}]), json!([])), "access.broad_principal", true)]
#[case::gcp_all_users(acl("bucket", json!([{"principal":"allUsers","permission":"reader"}]), json!([])), "access.broad_principal", true)]
#[case::domain_wide_group(acl("drive/file", json!([{"principal":"domain:example.com","permission":"read"}]), json!([])), "access.broad_principal", true)]
#[case::existing_broad_grant_is_not_new(acl("docs.handbook", json!([{"principal":"everyone","permission":"read"}]), json!([{"principal":"everyone","permission":"read"}])), "access.broad_principal", false)]
#[case::named_team(acl("docs.handbook", json!([{"principal":"team:data-eng","permission":"read"}]), json!([])), "access.broad_principal", false)]
#[case::outside_person(acl("docs.plan", json!([{"principal":"user:mallory@evil.test","permission":"read"}]), json!([])), "access.outside_principal", true)]
#[case::inside_person(acl("docs.plan", json!([{"principal":"user:alice@eng.example.com","permission":"read"}]), json!([])), "access.outside_principal", false)]
#[case::read_to_admin(acl("repo", json!([{"principal":"bob","permission":"admin"}]), json!([{"principal":"bob","permission":"read"}])), "access.escalation", true)]
#[case::admin_kept(acl("repo", json!([{"principal":"bob","permission":"read"}]), json!([{"principal":"bob","permission":"admin"}])), "access.escalation", false)]
#[case::sensitive_name(acl("prod.customers_pii", json!([{"principal":"bob","permission":"read"}]), json!([])), "access.sensitive_resource", true)]
#[case::plain_name(acl("docs.handbook", json!([{"principal":"bob","permission":"read"}]), json!([])), "access.sensitive_resource", false)]
#[case::tool_share_outside(tool("share_file", json!({"file_id":"q3-plan","email":"x@evil.test","role":"writer"})), "access.outside_principal", true)]
#[case::tool_share_inside(tool("share_file", json!({"file_id":"q3-plan","email":"bob@example.com","role":"writer"})), "access.outside_principal", false)]
#[case::tool_owner_role(tool("drive.permissions.create", json!({"file":"x","role":"owner","emailAddress":"a@example.com"})), "access.escalation", true)]
#[case::tool_anyone_link(tool("drive.update", json!({"file":"x","role":"reader","type":"anyone"})), "access.broad_principal", true)]
#[case::tool_share_sensitive(tool("share_document", json!({"name":"payroll-2024.xlsx","with":"bob@example.com"})), "access.sensitive_resource", true)]
fn access_widening(#[case] draft: Value, #[case] factor: &str, #[case] fires: bool) {
    check(&scored(draft, &org()), factor, fires);
}

#[test]
fn policy_patterns_make_a_resource_sensitive() {
    let mut ctx = org();
    ctx.sensitive_patterns = vec!["ledger*q4".into()];
    let risk = scored(
        acl(
            "fin.ledger_2024_q4",
            json!([{"principal":"bob","permission":"read"}]),
            json!([]),
        ),
        &ctx,
    );
    check(&risk, "access.sensitive_resource", true);
}

#[test]
fn without_org_domains_no_principal_is_called_outside() {
    let risk = scored(
        acl(
            "docs.plan",
            json!([{"principal":"user:mallory@evil.test","permission":"read"}]),
            json!([]),
        ),
        &countersign_core::risk::RiskContext::default(),
    );
    check(&risk, "access.outside_principal", false);
}
