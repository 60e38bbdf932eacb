//! Audience and destination: broad or external audiences, outside recipients, unknown hosts.

use rstest::rstest;
use serde_json::{json, Value};

use super::{check, org, scored, tool};

fn post(channel: &str, audience: &str, body: &str) -> Value {
    json!({"kind":"message.post","target":"f://1","summary":"s",
        "payload":{"channel": channel, "audience": audience, "body": body}})
}

fn http(method: &str, url: &str) -> Value {
    json!({"kind":"http.request","target":"api://x","summary":"s","payload":{"method": method, "url": url}})
}

#[rstest]
#[case::broad_audience(post("general", "all-employees", "hi"), "audience.broad", true)]
#[case::team_audience(post("data-eng", "team:data-eng", "hi"), "audience.broad", false)]
#[case::external_channel(post("ext-partner-acme", "team:x", "hi"), "audience.external", true)]
#[case::public_audience(post("news", "public", "hi"), "audience.external", true)]
#[case::email_outside(tool("send_email", json!({"to":["bob@example.com","eve@attacker.test"],"subject":"s","body":"b"})), "audience.outside_recipient", true)]
#[case::email_inside(tool("send_email", json!({"to":["bob@example.com"],"subject":"s","body":"b"})), "audience.outside_recipient", false)]
#[case::subdomain_is_inside(tool("send_email", json!({"recipients":["bob@mail.example.com"]})), "audience.outside_recipient", false)]
#[case::lookalike_is_outside(tool("send_email", json!({"recipients":["bob@example.com.evil.test"]})), "audience.outside_recipient", true)]
#[case::request_outside(
    http("POST", "https://collect.evil.test/x"),
    "destination.unknown_host",
    true
)]
#[case::request_inside(
    http("POST", "https://api.example.com/x"),
    "destination.unknown_host",
    false
)]
#[case::request_loopback(
    http("POST", "http://127.0.0.1:9000/x"),
    "destination.unknown_host",
    false
)]
#[case::link_outside(
    post("general", "team:x", "see https://evil.test/login"),
    "destination.unknown_link",
    true
)]
#[case::link_inside(
    post("general", "team:x", "see https://wiki.example.com/page"),
    "destination.unknown_link",
    false
)]
#[case::incident_advice(
    post(
        "eng-help",
        "all-employees",
        "Just grant all-employees read on user_data."
    ),
    "content.advises_broad_access",
    true
)]
fn audience_and_destination(#[case] draft: Value, #[case] factor: &str, #[case] fires: bool) {
    check(&scored(draft, &org()), factor, fires);
}

#[test]
fn a_bare_public_address_is_unknown_even_without_org_domains() {
    let risk = scored(http("POST", "http://203.0.113.9/x"), &Default::default());
    check(&risk, "destination.unknown_host", true);
}
