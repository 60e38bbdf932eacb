//! Data exposure in content: secrets, personal data and one-time codes in any text the action
//! carries (message bodies, file content, HTTP bodies and headers, tool arguments, the summary).
//!
//! Secrets: well-known key formats (AWS, GitHub, Slack, Stripe, Google, OpenAI-style, JWT),
//! PEM private keys, connection strings with a password, `password=`-style assignments, and a
//! Shannon-entropy check for long random-looking tokens. Personal data: e-mail addresses,
//! phone numbers, card numbers (Luhn), IBANs (ISO 13616 mod-97), US SSNs and UK NI numbers,
//! passport numbers next to the word. One-time codes next to words like "code" or "OTP".

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::Scorer;
use crate::action::Action;

/// Compiles a pattern of this module with ASCII `\d`, `\s` and `\b`: the Unicode classes keep
/// the regex engine off its fast paths, and a 1 MiB payload must score in milliseconds (the
/// formats looked for are ASCII anyway).
pub(crate) fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module, covered by its tests.
    #[allow(clippy::unwrap_used)]
    Regex::new(&ascii_classes(pattern)).unwrap()
}

/// `pattern` with `\d`, `\s` and `\b` rewritten to their ASCII forms (see [`re`]).
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some('s') => out.push_str(if in_class {
                    r"\t\n\x0B\x0C\r "
                } else {
                    r"[\t\n\x0B\x0C\r ]"
                }),
                Some('b') if !in_class => out.push_str(r"(?-u:\b)"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A leading `^` or `]` belongs to the class.
                let rest = chars.as_str();
                if let Some(first) = rest.chars().next().filter(|f| *f == '^') {
                    out.push(first);
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

static SECRET_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("an AWS access key", re(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
        (
            "a GitHub token",
            re(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
        ),
        ("a Slack token", re(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
        ("a Stripe secret key", re(r"\b[rs]k_live_[0-9A-Za-z]{16,}")),
        ("a Google API key", re(r"\bAIza[0-9A-Za-z_-]{35}")),
        (
            "an API secret key",
            re(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
        ),
        (
            "a JSON Web Token",
            re(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ),
        (
            "a private key",
            re(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
        ),
        (
            "a connection string with a password",
            re(
                r"(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver)://[^\s:/@]+:[^\s@/]+@",
            ),
        ),
        (
            "a password or secret assignment",
            re(
                r#"(?i)(?:\b|_)(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)\b["']?\s*[:=]\s*["']?[^\s"',;]{6,}"#,
            ),
        ),
    ]
});

const TOKEN_RX: &str = r"[A-Za-z0-9+/_=-]{24,}";
const PHONE_RX: &str = r"(?:\+|\b)\d[\d .()-]{7,17}\d\b";
const IBAN_RX: &str = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b";
const NINO_RX: &str = r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b";
const OTP_RX: &str = r"(?i)\b(?:otp|passcode|one[- ]time\s+(?:code|password|pin)|(?:verification|security|auth(?:entication)?|login|sign[- ]?in|2fa|mfa|confirmation|access|reset)\s+(?:code|pin|token))\b[^0-9\n]{0,20}\b(\d{4,8})\b";
const PASSWORD_SHARE_RX: &str =
    r"(?i)\b(?:passwords?|passphrase|passcode|pin)\s*(?:is|was|:|=|->)\s*\S{4,}";

static TOKEN: LazyLock<Regex> = LazyLock::new(|| re(TOKEN_RX));
pub(crate) static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| re(PHONE_RX));
static DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\d{4}-\d{2}-\d{2}|\d{2}[./]\d{2}[./]\d{4}"));
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d(?:[ -]?\d){12,18}\b"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(IBAN_RX));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{3})-(\d{2})-(\d{4})\b"));
static NINO: LazyLock<Regex> = LazyLock::new(|| re(NINO_RX));
static PASSPORT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bpassport(?:\s+(?:no|number|num|#))?\.?[\s:#]*([A-Z0-9]{6,9})\b"));
static OTP: LazyLock<Regex> = LazyLock::new(|| re(OTP_RX));
static PASSWORD_SHARE: LazyLock<Regex> = LazyLock::new(|| re(PASSWORD_SHARE_RX));

/// The patterns without a literal the regex engine can skip ahead to (each one a full pass of
/// the lazy DFA, about 2 ms per MiB), in one set: one pass tells which of them can match, and
/// only those run. `None` if the set could not be built: then every pattern runs.
const SLOW: [&str; 6] = [
    TOKEN_RX,
    PHONE_RX,
    IBAN_RX,
    NINO_RX,
    OTP_RX,
    PASSWORD_SHARE_RX,
];
static SLOW_SET: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new(SLOW.iter().map(|p| ascii_classes(p))).ok());

/// Which of the [`SLOW`] patterns match somewhere in `text` (exactly as each would alone).
fn slow_candidates(text: &str) -> [bool; 6] {
    match SLOW_SET.as_ref() {
        Some(set) => {
            let hits = set.matches(text);
            std::array::from_fn(|i| hits.matched(i))
        }
        None => [true; 6],
    }
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Luhn checksum (ISO/IEC 7812) over the digits of `s`.
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN check digits (ISO 13616: move the first four characters to the end, letters to
/// numbers A=10…Z=35, the number mod 97 must be 1).
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c.to_digit(10),
            'A'..='Z' => Some(u32::from(c) - u32::from('A') + 10),
            _ => None,
        };
        let Some(v) = v else { return false };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Whether a token looks like a random secret rather than a word, a path or a hex digest:
/// mixed upper case, lower case and digits, and high entropy.
fn random_looking(token: &str) -> bool {
    let t = token.trim_end_matches('=');
    let upper = t.chars().filter(char::is_ascii_uppercase).count();
    let lower = t.chars().filter(char::is_ascii_lowercase).count();
    let digit = t.chars().filter(char::is_ascii_digit).count();
    t.len() >= 24 && upper >= 2 && lower >= 2 && digit >= 2 && entropy(t) >= 4.2
}

/// Runs the detector over every text of the action.
pub fn detect(action: &Action, s: &mut Scorer) {
    let mut emails = 0usize;
    let mut first_email = None;
    for (pointer, key, text) in super::content_strings(action) {
        if text.len() < 4 {
            continue;
        }
        let [token, phone, iban, nino, otp, password_share] = slow_candidates(text);
        for (what, rx) in SECRET_FORMATS.iter() {
            if let Some(m) = rx.find(text) {
                let points = if what.contains("private key") { 50 } else { 45 };
                s.add_span(
                    "exposure.secret",
                    points,
                    format!("contains {what}"),
                    pointer.clone(),
                    m.range(),
                );
            }
        }
        if token && !s.has("exposure.secret") {
            if let Some(m) = TOKEN.find_iter(text).find(|m| {
                let t = m.as_str();
                random_looking(t) && !t.contains('/') || random_looking(t) && t.len() >= 32
            }) {
                s.add_span(
                    "exposure.high_entropy",
                    25,
                    format!(
                        "contains a random-looking {}-character token (a secret?)",
                        m.len()
                    ),
                    pointer.clone(),
                    m.range(),
                );
            }
        }
        let addressed = key.is_some_and(super::audience::is_recipient_key);
        for m in EMAIL.find_iter(text).filter(|_| !addressed) {
            emails += 1;
            first_email.get_or_insert((pointer.clone(), m.range()));
        }
        if let Some(m) = CARD.find_iter(text).find(|m| luhn(m.as_str())) {
            s.add_span(
                "exposure.card_number",
                35,
                "contains a payment card number (Luhn check passes)".into(),
                pointer.clone(),
                m.range(),
            );
        }
        // An account number in an addressing argument (`recipient`, `iban`) is where a payment
        // goes, not data leaking out; the money detector weighs it.
        let account_field = key.is_some_and(|k| {
            let k = k.to_ascii_lowercase();
            super::audience::is_recipient_key(&k) || k.contains("iban") || k.contains("account")
        });
        if let Some(m) = (iban && !account_field)
            .then(|| IBAN.find_iter(text).find(|m| iban_valid(m.as_str())))
            .flatten()
        {
            s.add_span(
                "exposure.iban",
                15,
                "contains a bank account number (IBAN, check digits valid)".into(),
                pointer.clone(),
                m.range(),
            );
        }
        if let Some(m) = SSN.captures_iter(text).find(|c| {
            let area = &c[1];
            area != "000"
                && area != "666"
                && !area.starts_with('9')
                && &c[2] != "00"
                && &c[3] != "0000"
        }) {
            if let Some(all) = m.get(0) {
                s.add_span(
                    "exposure.national_id",
                    35,
                    "contains a US social security number".into(),
                    pointer.clone(),
                    all.range(),
                );
            }
        } else if let Some(m) = nino.then(|| NINO.find(text)).flatten() {
            s.add_span(
                "exposure.national_id",
                35,
                "contains a UK national insurance number".into(),
                pointer.clone(),
                m.range(),
            );
        }
        if let Some(c) = PASSPORT
            .captures(text)
            .filter(|c| c[1].chars().any(|ch| ch.is_ascii_digit()))
        {
            if let Some(all) = c.get(0) {
                s.add_span(
                    "exposure.passport",
                    30,
                    "contains a passport number".into(),
                    pointer.clone(),
                    all.range(),
                );
            }
        }
        if let Some(c) = otp.then(|| OTP.captures(text)).flatten() {
            if let Some(all) = c.get(0) {
                s.add_span(
                    "exposure.one_time_code",
                    40,
                    format!(
                        "contains what looks like a one-time or security code (`{}`)",
                        &c[1]
                    ),
                    pointer.clone(),
                    all.range(),
                );
            }
        }
        if let Some(m) = password_share.then(|| PASSWORD_SHARE.find(text)).flatten() {
            s.add_span(
                "exposure.password",
                40,
                "shares a password or PIN".into(),
                pointer.clone(),
                m.range(),
            );
        }
        let phone_number = |m: &regex::Match<'_>| {
            let digits = m.as_str().chars().filter(char::is_ascii_digit).count();
            (10..=15).contains(&digits) && !luhn(m.as_str()) && !DATE.is_match(m.as_str())
        };
        if let Some(m) = phone
            .then(|| PHONE.find_iter(text).find(phone_number))
            .flatten()
        {
            s.add_span(
                "exposure.phone",
                10,
                "contains a phone number".into(),
                pointer.clone(),
                m.range(),
            );
        }
    }
    if emails >= 3 {
        if let Some((pointer, range)) = first_email {
            s.add_span(
                "exposure.emails",
                if emails >= 10 { 25 } else { 15 },
                format!("contains {emails} e-mail addresses (personal data)"),
                pointer,
                range,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_pass_prefilter_says_exactly_which_slow_patterns_match() {
        let texts = [
            "let value = compute(input); // ordinary code, ~60 bytes",
            "call me on +44 20 7946 0958 tomorrow",
            "pay GB82 WEST 1234 5698 7654 32 today",
            "NI number AB 12 34 56 C on file",
            "your verification code is 482913",
            "the password is hunter22",
            "token AbCdEf0123456789GhIjKlMnOpQrStUv here",
            "PASSWORD: Tr0ub4dor&3 and pin = 1234",
        ];
        let singles: Vec<Regex> = SLOW.iter().map(|p| re(p)).collect();
        let mut seen = [false; 6];
        for text in texts {
            let each: Vec<bool> = singles.iter().map(|r| r.is_match(text)).collect();
            assert_eq!(slow_candidates(text).to_vec(), each, "{text}");
            for (s, e) in seen.iter_mut().zip(&each) {
                *s |= e;
            }
        }
        assert_eq!(
            seen, [true; 6],
            "every slow pattern matched at least one text"
        );
    }
}
