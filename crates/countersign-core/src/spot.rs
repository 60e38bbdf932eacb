//! Where each risk factor fired, in the lines the review desk shows: the risk panel's "show
//! where" jumps to that line of the change's diff and marks the fired text (issue #5: "a click
//! that jumps to the span it fired on").
//!
//! A factor names a JSON Pointer (RFC 6901) into the action and, when it fired on part of a
//! string, a byte range of it ([`crate::risk::TextSpan`]). The desk shows two kinds of change as
//! a line diff whose new side is built from the action:
//!
//! - a post's body (`/payload/body`) or a file's content (`/payload/content`), line for line
//!   ([`Change::Text`]);
//! - a tool call's arguments (`/payload/arguments`; the whole `/payload` when the payload was
//!   not understood) pretty-printed by `serde_json` ([`Change::Json`]).
//!
//! [`spots`] turns each factor that points into that text into a 1-based line of the new side
//! and a column range in UTF-16 code units (what the page's strings count). Factors on other
//! fields (a command's argument, a header, a grant) are found by the desk through the fields'
//! pointers and get no spot here.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::action::Action;
use crate::review::Change;
use crate::risk::{Risk, TextSpan};

/// Where one risk factor fired inside the new text of the change's diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Spot {
    /// Index of the factor in [`Risk::factors`].
    pub factor: u32,
    /// 1-based line number in the new text: the diff line whose `new_line` this is.
    pub line: u32,
    /// Start of the fired text in that line (its text without the line ending), in UTF-16
    /// code units.
    pub start: u32,
    /// End (exclusive), in UTF-16 code units; a span running past the end of its first line
    /// stops there. Equal to `start` when the factor names a whole value without a span (the
    /// value starts there).
    pub end: u32,
}

/// The spots of `risk`'s factors in `change`, the review of `action`, in factor order; factors
/// outside the diffed text, or whose span does not fall on character boundaries of it, have
/// none. Linear in the size of the diffed text per factor.
pub fn spots(action: &Action, change: &Change, risk: &Risk) -> Vec<Spot> {
    let Some(shown) = shown_text(action, change) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, f) in risk.factors.iter().enumerate() {
        let found = match &shown {
            Shown::Text { pointer, text } if f.pointer == *pointer => {
                f.span.as_ref().and_then(|span| text_spot(text, span))
            }
            Shown::Text { .. } => None,
            Shown::Json { root, value } => f
                .pointer
                .strip_prefix(root)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .and_then(|rest| json_spot(value, rest, f.span.as_ref())),
        };
        if let Some((line, start, end)) = found {
            out.push(Spot {
                factor: u32::try_from(i).unwrap_or(u32::MAX),
                line,
                start,
                end,
            });
        }
    }
    out
}

/// The text the change's diff shows on its new side, and where it sits in the action.
enum Shown<'a> {
    /// The string at `pointer`, diffed line for line.
    Text {
        pointer: &'static str,
        text: &'a str,
    },
    /// The value at `root`, pretty-printed.
    Json {
        root: &'static str,
        value: &'a Value,
    },
}

fn shown_text<'a>(action: &'a Action, change: &Change) -> Option<Shown<'a>> {
    let field = |name: &str| action.payload.get(name);
    match change {
        // `review::review` builds a text change only from a payload it understood.
        Change::Text { .. } => {
            let pointer = match action.kind.as_str() {
                "message.post" => "/payload/body",
                "file.write" => "/payload/content",
                _ => return None,
            };
            let text = field(&pointer["/payload/".len()..])?.as_str()?;
            Some(Shown::Text { pointer, text })
        }
        // The same choice as `review::review`: a payload that is not understood shows raw.
        Change::Json { .. } if action.typed().is_ok() => Some(Shown::Json {
            root: "/payload/arguments",
            value: field("arguments")?,
        }),
        Change::Json { .. } => Some(Shown::Json {
            root: "/payload",
            value: &action.payload,
        }),
        _ => None,
    }
}

/// Whether the byte at `i` ends a line as `similar`'s line tokenizer (the diff's) ends one:
/// after `\n`, and at a `\r` not followed by `\n`.
fn ends_line(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\n' => true,
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    }
}

fn utf16_len(s: &str) -> u32 {
    u32::try_from(s.encode_utf16().count()).unwrap_or(u32::MAX)
}

/// Line and UTF-16 column range of the byte range `span` of `text`.
fn text_spot(text: &str, span: &TextSpan) -> Option<(u32, u32, u32)> {
    let (s, e) = (span.start as usize, span.end as usize);
    if e < s {
        return None;
    }
    text.get(s..e)?;
    let bytes = text.as_bytes();
    let mut line = 1u32;
    let mut line_start = 0usize;
    for i in 0..s {
        if ends_line(bytes, i) {
            line += 1;
            line_start = i + 1;
        }
    }
    // The line's text stops at its ending (`\r`, `\n` or `\r\n`), as the diff's segments do;
    // a span starting inside the ending marks the end of the text.
    let line_end = bytes[line_start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |p| line_start + p);
    let (s, e) = (s.min(line_end), e.min(line_end));
    let start = utf16_len(&text[line_start..s]);
    let end = start + utf16_len(&text[s..e]);
    Some((line, start, end))
}

/// Line and UTF-16 column range, in `serde_json::to_string_pretty(value)`, of the value at the
/// JSON Pointer `rest` (relative to `value`) and of `span` inside it when it is a string.
fn json_spot(value: &Value, rest: &str, span: Option<&TextSpan>) -> Option<(u32, u32, u32)> {
    let mut line = 1u32;
    let mut col = 0u32; // where the current value starts on its line
    let mut depth = 0u32;
    let mut at = value;
    let tokens: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else {
        rest[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    for token in &tokens {
        // Each member or element of a non-empty container starts on a line of its own after
        // the opening bracket, indented two spaces per level (serde_json's PrettyFormatter).
        depth += 1;
        line += 1;
        let indent = 2 * depth;
        match at {
            Value::Object(map) => {
                let mut found = None;
                for (k, v) in map {
                    if k == token {
                        found = Some(v);
                        break;
                    }
                    line += lines_of(v);
                }
                let key = serde_json::to_string(token).ok()?;
                col = indent + utf16_len(&key) + 2;
                at = found?;
            }
            Value::Array(items) => {
                let index: usize = token.parse().ok()?;
                if token.len() > 1 && token.starts_with('0') {
                    return None;
                }
                for v in items.get(..index)? {
                    line += lines_of(v);
                }
                col = indent;
                at = items.get(index)?;
            }
            _ => return None,
        }
    }
    match (at, span) {
        (Value::String(text), Some(span)) => {
            let (s, e) = (span.start as usize, span.end as usize);
            if e < s {
                return None;
            }
            text.get(s..e)?;
            // The string is one line in JSON: its escapes (`\n`, `\"`, `\u001b`) keep it so.
            let escaped = |t: &str| serde_json::to_string(t).ok().map(|j| utf16_len(&j) - 2);
            let start = col + 1 + escaped(&text[..s])?;
            let end = col + 1 + escaped(&text[..e])?;
            Some((line, start, end))
        }
        _ => Some((line, col, col)),
    }
}

/// Lines `v` takes in pretty-printed JSON: one for a scalar or an empty container; the
/// brackets' two plus their contents otherwise.
fn lines_of(v: &Value) -> u32 {
    match v {
        Value::Object(m) if !m.is_empty() => 2 + m.values().map(lines_of).sum::<u32>(),
        Value::Array(a) if !a.is_empty() => 2 + a.iter().map(lines_of).sum::<u32>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::LineTag;
    use crate::review::review;
    use crate::risk::{RiskFactor, RiskLevel};
    use similar::DiffableStr as _;

    fn factor(pointer: &str, span: Option<(u32, u32)>) -> RiskFactor {
        RiskFactor {
            id: "test.factor".into(),
            points: 10,
            reason: "fired".into(),
            pointer: pointer.into(),
            span: span.map(|(start, end)| TextSpan { start, end }),
        }
    }

    fn risk(factors: Vec<RiskFactor>) -> Risk {
        Risk {
            score: 10,
            level: RiskLevel::Low,
            factors,
        }
    }

    fn action(kind: &str, payload: Value) -> Action {
        serde_json::from_value(serde_json::json!({
            "kind": kind, "target": "t://x", "summary": "s", "payload": payload,
        }))
        .expect("test action")
    }

    /// The text of new line `line` in the review's diff, segments joined.
    fn diff_line(change: &Change, line: u32) -> String {
        let diff = match change {
            Change::Text { diff, .. } | Change::Json { diff, .. } => diff,
            _ => panic!("not a text diff"),
        };
        let l = diff
            .hunks
            .iter()
            .flat_map(|h| &h.lines)
            .find(|l| l.new_line == Some(line) && l.tag != LineTag::Removed)
            .unwrap_or_else(|| panic!("no new line {line} in the diff"));
        l.segments.iter().map(|s| s.text.as_str()).collect()
    }

    fn utf16_slice(s: &str, start: u32, end: u32) -> String {
        let units: Vec<u16> = s.encode_utf16().collect();
        String::from_utf16(&units[start as usize..end as usize]).expect("whole characters")
    }

    #[test]
    fn a_span_in_a_post_body_lands_on_its_line_and_columns_in_utf16() {
        // Line breaks of every kind the diff knows, and characters outside the BMP before the
        // span (two UTF-16 units each, four bytes).
        let body = "hello\r\nsecond line\rthird 🙂🙂 key=AKIAIOSFODNN7EXAMPLE end\nlast";
        let a = action(
            "message.post",
            serde_json::json!({"channel": "#eng", "body": body}),
        );
        let needle = "AKIAIOSFODNN7EXAMPLE";
        let s = body.find(needle).expect("fixture") as u32;
        let r = risk(vec![
            factor("/summary", None),
            factor("/payload/body", Some((s, s + needle.len() as u32))),
        ]);
        let change = review(&a).change;
        let spots = spots(&a, &change, &r);
        assert_eq!(
            spots.len(),
            1,
            "only the body's factor has a spot: {spots:?}"
        );
        let spot = &spots[0];
        assert_eq!(
            (spot.factor, spot.line),
            (1, 3),
            "third line (after \\r\\n and a lone \\r)"
        );
        assert_eq!(
            utf16_slice(&diff_line(&change, spot.line), spot.start, spot.end),
            needle,
            "the columns pick out exactly the fired text in the diff's line"
        );
    }

    #[test]
    fn every_span_of_a_file_maps_to_the_text_the_diff_shows_there() {
        // Property over all spans of a file mixing endings and wide characters: the spot's
        // columns, read in the diff's line, give the span's text up to the line's end.
        let content = "α\nβγ\r\n\r\nδ😀ε\rζ\n\nlast line";
        let a = action(
            "file.write",
            serde_json::json!({"path": "/x", "content": content}),
        );
        let change = review(&a).change;
        let lines: Vec<&str> = content.tokenize_lines();
        let bounds: Vec<usize> = (0..=content.len())
            .filter(|&i| content.is_char_boundary(i))
            .collect();
        for &s in &bounds {
            for &e in bounds.iter().filter(|&&e| e >= s) {
                let r = risk(vec![factor("/payload/content", Some((s as u32, e as u32)))]);
                let spot = spots(&a, &change, &r)
                    .pop()
                    .expect("a spot for every valid span");
                let shown = diff_line(&change, spot.line);
                // The tokenizer's line that holds byte s is the spot's line.
                let mut offset = 0;
                let holder = lines
                    .iter()
                    .position(|l| {
                        let hit = s < offset + l.len() || offset + l.len() == content.len();
                        offset += l.len();
                        hit
                    })
                    .expect("a line holds every byte");
                assert_eq!(spot.line as usize, holder + 1, "span {s}..{e}");
                let want: String = content[s..e]
                    .chars()
                    .take_while(|c| *c != '\n' && *c != '\r')
                    .collect();
                assert_eq!(
                    utf16_slice(&shown, spot.start, spot.end),
                    want,
                    "span {s}..{e}"
                );
            }
        }
    }

    #[test]
    fn a_span_that_splits_a_character_or_runs_backwards_has_no_spot() {
        let a = action(
            "file.write",
            serde_json::json!({"path": "/x", "content": "😀 ok"}),
        );
        let change = review(&a).change;
        for (s, e) in [(1, 4), (0, 2), (3, 2), (0, 99)] {
            let r = risk(vec![factor("/payload/content", Some((s, e)))]);
            assert!(
                spots(&a, &change, &r).is_empty(),
                "span {s}..{e} is not text"
            );
        }
    }

    #[test]
    fn a_tool_argument_lands_on_its_pretty_printed_line_escapes_included() {
        let args = serde_json::json!({
            "a/b": {"x": [1, {"deep": "v"}], "e": {}},
            "list": [[], "one", {"k~": "two"}],
            "sql": "SELECT \"name\"\n FROM users; -- drop table users",
        });
        let a = action(
            "tool.call",
            serde_json::json!({"tool": "db", "arguments": args}),
        );
        let change = review(&a).change;
        let sql = args["sql"].as_str().expect("fixture");
        let s = sql.find("drop table").expect("fixture") as u32;
        let cases: Vec<(RiskFactor, String)> = vec![
            (
                factor("/payload/arguments/sql", Some((s, s + 10))),
                "drop table".into(),
            ),
            (
                factor("/payload/arguments/a~1b/x/1/deep", None),
                "\"v\"".into(),
            ),
            (
                factor("/payload/arguments/list/2/k~0", None),
                "\"two\"".into(),
            ),
            (factor("/payload/arguments/list/0", None), "[]".into()),
            (factor("/payload/arguments/a~1b/e", None), "{}".into()),
        ];
        let r = risk(cases.iter().map(|(f, _)| f.clone()).collect());
        let found = spots(&a, &change, &r);
        assert_eq!(found.len(), cases.len(), "{found:?}");
        for (spot, (f, want)) in found.iter().zip(&cases) {
            let line = diff_line(&change, spot.line);
            if f.span.is_some() {
                assert_eq!(
                    utf16_slice(&line, spot.start, spot.end),
                    *want,
                    "{}",
                    f.pointer
                );
            } else {
                assert_eq!(
                    spot.start, spot.end,
                    "{}: a whole value marks where it starts",
                    f.pointer
                );
                assert!(
                    utf16_slice(&line, spot.start, utf16_len(&line)).starts_with(want.as_str()),
                    "{}: line {:?} from column {}",
                    f.pointer,
                    line,
                    spot.start
                );
            }
        }
        let nowhere = risk(vec![
            factor("/payload/arguments/missing", None),
            factor("/payload/arguments/list/7", None),
            factor("/payload/arguments/list/01", None),
            factor("/payload/argumentsX", None),
            factor("/payload/tool", None),
        ]);
        assert!(
            spots(&a, &change, &nowhere).is_empty(),
            "pointers outside the arguments"
        );
    }

    #[test]
    fn other_changes_have_no_spots() {
        let a = action(
            "shell.exec",
            serde_json::json!({"argv": ["rm", "-rf", "/"]}),
        );
        let change = review(&a).change;
        let r = risk(vec![
            factor("/payload/argv", None),
            factor("/payload/argv/2", Some((0, 1))),
        ]);
        assert!(spots(&a, &change, &r).is_empty());
    }
}
