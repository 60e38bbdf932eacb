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
pub fn count_hidden(s: &str) -> (usize, usize, usize) {
    s.chars()
        .fold((0, 0, 0), |(b, i, c), ch| match classify(ch) {
            Some(Hidden::Bidi) => (b + 1, i, c),
            Some(Hidden::Invisible) => (b, i + 1, c),
            Some(Hidden::Control) => (b, i, c + 1),
            None => (b, i, c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
