//! Data exposure in content: secrets, personal data, one-time codes.

use rstest::rstest;
use serde_json::json;

use countersign_core::risk::exposure::{entropy, iban_valid, luhn};

use super::{check, org, scored};

fn post(body: &str) -> serde_json::Value {
    json!({"kind":"message.post","target":"f://1","summary":"s","payload":{"channel":"c","body": body}})
}

#[rstest]
#[case::aws_key("here: AKIAIOSFODNN7EXAMPLE ok", "exposure.secret", true)]
#[case::github_token(
    "token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "exposure.secret",
    true
)]
#[case::slack_token("xoxb-123456789012-abcdefghijkl", "exposure.secret", true)]
#[case::private_key(
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
    "exposure.secret",
    true
)]
#[case::connection_string(
    "use postgres://app:hunter22@db.internal:5432/app",
    "exposure.secret",
    true
)]
#[case::password_assignment("DB_PASSWORD=Sup3rS3cret!", "exposure.secret", true)]
#[case::connection_string_without_password(
    "use postgres://db.internal:5432/app",
    "exposure.secret",
    false
)]
#[case::random_token("key: q8Zr3Lw0Xn5Tb2Vy7Pk4Hs9Jd6Mf1Ga", "exposure.high_entropy", true)]
#[case::hex_digest_is_not_a_secret(
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "exposure.high_entropy",
    false
)]
#[case::prose_is_not_a_secret(
    "The deployment finished without errors yesterday afternoon",
    "exposure.high_entropy",
    false
)]
#[case::card_number("card 4111 1111 1111 1111 exp 12/29", "exposure.card_number", true)]
#[case::card_like_but_bad_luhn("order 4111 1111 1111 1112", "exposure.card_number", false)]
#[case::iban("pay to DE89 3704 0044 0532 0130 00 today", "exposure.iban", true)]
#[case::iban_bad_check_digits("pay to DE88 3704 0044 0532 0130 00 today", "exposure.iban", false)]
#[case::ssn("SSN 123-45-6789", "exposure.national_id", true)]
#[case::invalid_ssn_area("ref 000-12-3456", "exposure.national_id", false)]
#[case::nino("NI number AB 12 34 56 C", "exposure.national_id", true)]
#[case::passport("passport number: X1234567", "exposure.passport", true)]
#[case::otp("Your verification code is 493021", "exposure.one_time_code", true)]
#[case::security_code("the security code: 8812", "exposure.one_time_code", true)]
#[case::just_a_number("we shipped 4930 units", "exposure.one_time_code", false)]
#[case::password_shared("the password is Tr0ub4dor&3", "exposure.password", true)]
#[case::phone("call me at +1 (415) 555-0132", "exposure.phone", true)]
#[case::emails("a@x.io, b@y.io, c@z.io", "exposure.emails", true)]
#[case::one_email("write to a@x.io", "exposure.emails", false)]
fn data_in_content(#[case] body: &str, #[case] factor: &str, #[case] fires: bool) {
    check(&scored(post(body), &org()), factor, fires);
}

#[test]
fn a_secret_gets_a_span_on_its_text() {
    let risk = scored(post("here: AKIAIOSFODNN7EXAMPLE ok"), &org());
    let f = risk
        .factors
        .iter()
        .find(|f| f.id == "exposure.secret")
        .unwrap();
    let span = f.span.expect("a text factor carries its span");
    assert_eq!(
        (span.start, span.end),
        (6, 26),
        "the span covers exactly the key"
    );
    assert_eq!(f.pointer, "/payload/body");
}

#[test]
fn checksums_follow_their_standards() {
    assert!(luhn("4111111111111111") && luhn("378282246310005"));
    assert!(!luhn("4111111111111112"));
    assert!(iban_valid("GB82 WEST 1234 5698 7654 32") && iban_valid("DE89370400440532013000"));
    assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
    assert!(entropy("aaaa") < 0.01 && entropy("abcd") > 1.99);
}
