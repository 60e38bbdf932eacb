//! RFC 8785 canonicalization and the action digest.

use countersign_core::digest::{action_digest, canonical_json};
use serde_json::Value;

fn jcs(input: &str) -> String {
    let v: Value = serde_json::from_str(input).unwrap();
    String::from_utf8(canonical_json(&v).unwrap()).unwrap()
}

#[test]
fn rfc8785_section_3_2_2_sample_canonicalizes_exactly() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    assert_eq!(
        jcs(input),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#,
        "RFC 8785 §3.2.2's example output"
    );
}

#[test]
fn rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units() {
    let input = r#"{
        "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let out: Value = serde_json::from_str(&jcs(input)).unwrap();
    let text = jcs(input);
    let order: Vec<&str> = ["\\r", "\"1\"", "\u{80}", "ö", "€", "😀", "\u{fb33}"].to_vec();
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys must follow RFC 8785 §3.2.3's order: {text}"
    );
    assert_eq!(out.as_object().unwrap().len(), 7);
}

#[test]
fn the_digest_ignores_key_order_and_whitespace_but_not_content() {
    let a = crate::draft(serde_json::from_str(r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls","-l"],"cwd":"/tmp"}}"#).unwrap());
    let b = crate::draft(serde_json::from_str("{ \"payload\" : {\"cwd\":\"/tmp\", \"argv\":[\"ls\",\"-l\"]},\n \"summary\":\"s\",\"target\":\"t\",\"kind\":\"shell.exec\"}").unwrap());
    let c = crate::draft(serde_json::from_str(r#"{"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls","-L"],"cwd":"/tmp"}}"#).unwrap());
    assert_eq!(action_digest(&a.action()), action_digest(&b.action()));
    assert_ne!(
        action_digest(&a.action()),
        action_digest(&c.action()),
        "one changed byte changes the digest"
    );
    assert!(action_digest(&a.action()).as_str().starts_with("sha256:"));
}

#[test]
fn delivery_metadata_is_not_part_of_the_action_digest() {
    let base = serde_json::json!({"kind":"shell.exec","target":"t","summary":"s","payload":{"argv":["ls"]}});
    let mut with = base.clone();
    with["callback_url"] = "http://127.0.0.1:9/hook".into();
    with["expires_in_s"] = 60.into();
    assert_eq!(
        action_digest(&crate::draft(base).action()),
        action_digest(&crate::draft(with).action())
    );
}
