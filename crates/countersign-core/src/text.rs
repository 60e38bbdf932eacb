//! Characters that hide what text says: invisible, bidirectional and control characters
//! (the "Trojan Source" class, CVE-2021-42574; Unicode TR #36 §2.2; UAX #9 for bidi controls).

/// What kind of hidden character was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Bidirectional formatting (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C).
    Bidi,
    /// Zero-width or otherwise invisible (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, U+180E,
    /// tags U+E0000–U+E007F, variation selectors).
    Invisible,
    /// C0/C1 control characters other than tab, line feed and carriage return (incl. ESC, the
    /// start of ANSI escapes).
    Control,
}

/// Classifies one character; `None` for ordinary visible characters.
pub fn classify(c: char) -> Option<Hidden> {
    match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some(Hidden::Bidi),
        '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{180E}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0000}'..='\u{E007F}' => Some(Hidden::Invisible),
        '\t' | '\n' | '\r' => None,
        c if c.is_control() => Some(Hidden::Control),
        _ => None,
    }
}

/// Counts hidden characters in `s` by kind: `(bidi, invisible, control)`.
///
/// Runs of ASCII are checked byte by byte (only C0 controls other than tab, line feed and
/// carriage return, and DEL, hide anything there); other characters go through [`classify`].
/// Same result as classifying every character, several times faster on large ASCII payloads.
pub fn count_hidden(s: &str) -> (usize, usize, usize) {
    let (mut bidi, mut invisible, mut control) = (0, 0, 0);
    let mut rest = s;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        control += rest.as_bytes()[..ascii]
            .iter()
            .filter(|&&b| b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r'))
            .count();
        rest = &rest[ascii..];
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            match classify(c) {
                Some(Hidden::Bidi) => bidi += 1,
                Some(Hidden::Invisible) => invisible += 1,
                Some(Hidden::Control) => control += 1,
                None => {}
            }
            rest = chars.as_str();
        }
    }
    (bidi, invisible, control)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classifies every character, as `count_hidden` did before its ASCII fast path.
    fn reference(s: &str) -> (usize, usize, usize) {
        s.chars()
            .fold((0, 0, 0), |(b, i, c), ch| match classify(ch) {
                Some(Hidden::Bidi) => (b + 1, i, c),
                Some(Hidden::Invisible) => (b, i + 1, c),
                Some(Hidden::Control) => (b, i, c + 1),
                None => (b, i, c),
            })
    }

    #[test]
    fn the_ascii_fast_path_counts_exactly_what_classifying_every_character_counts() {
        // Every character up to U+2100 (C0, DEL, C1, soft hyphen, ALM, bidi marks, zero
        // widths), then tags and variation selectors, between ASCII runs of all kinds.
        let mut all: String = (0u32..=0x2100).filter_map(char::from_u32).collect();
        all.push_str("plain\tascii\r\n\u{7f}\u{1b}[31m\u{E0041}\u{FE0F}\u{FEFF}end");
        for text in [
            all.as_str(),
            "",
            "ascii only\n",
            "\u{202E}",
            "a\u{0085}b\u{009F}",
        ] {
            assert_eq!(count_hidden(text), reference(text), "{text:?}");
        }
        assert!(reference(&all).2 > 60, "the C0 and C1 controls are counted");
    }

    #[test]
    fn trojan_source_characters_are_classified() {
        assert_eq!(
            classify('\u{202E}'),
            Some(Hidden::Bidi),
            "RIGHT-TO-LEFT OVERRIDE"
        );
        assert_eq!(
            classify('\u{200B}'),
            Some(Hidden::Invisible),
            "ZERO WIDTH SPACE"
        );
        assert_eq!(
            classify('\u{1b}'),
            Some(Hidden::Control),
            "ESC starts ANSI escapes"
        );
        assert_eq!(classify('\n'), None);
        assert_eq!(classify('é'), None);
        assert_eq!(count_hidden("a\u{202E}b\u{200B}\u{1b}"), (1, 1, 1));
    }
}
