//! Diffs the reviewer sees: line diffs with word-level highlights (via `similar`), and the
//! principal diff of an access change.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff as SimilarDiff};
use ts_rs::TS;

use crate::action::Grant;

/// Lines of unchanged context kept around each change.
pub const CONTEXT_LINES: usize = 3;

/// A line's role in a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum LineTag {
    /// Unchanged.
    Context,
    /// Only in the new text.
    Added,
    /// Only in the old text.
    Removed,
}

/// A run of a line's text; `emphasized` marks the words that changed within a changed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Segment {
    /// The text, without the line ending.
    pub text: String,
    /// Part of the change within the line.
    pub emphasized: bool,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiffLine {
    /// Context, added or removed.
    pub tag: LineTag,
    /// 1-based line number in the old text.
    pub old_line: Option<u32>,
    /// 1-based line number in the new text.
    pub new_line: Option<u32>,
    /// The line's text in segments.
    pub segments: Vec<Segment>,
}

/// A group of changes with context, as in a unified diff hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Hunk {
    /// The `@@ -a,b +c,d @@` header.
    pub header: String,
    /// Its lines.
    pub lines: Vec<DiffLine>,
}

/// A line diff of two texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TextDiff {
    /// Hunks in order; empty when the texts are equal.
    pub hunks: Vec<Hunk>,
    /// Lines added.
    pub added: u32,
    /// Lines removed.
    pub removed: u32,
}

impl TextDiff {
    /// Diffs `old` against `new` line by line (Myers), with word-level emphasis inside changed
    /// lines and [`CONTEXT_LINES`] of context.
    pub fn compute(old: &str, new: &str) -> TextDiff {
        let diff = SimilarDiff::configure()
            .algorithm(similar::Algorithm::Myers)
            .timeout(std::time::Duration::from_secs(2))
            .diff_lines(old, new);
        let mut hunks = Vec::new();
        let (mut added, mut removed) = (0u32, 0u32);
        for group in diff.grouped_ops(CONTEXT_LINES) {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let old_range = first.old_range().start..last.old_range().end;
            let new_range = first.new_range().start..last.new_range().end;
            let header = format!(
                "@@ -{} +{} @@",
                range_text(&old_range),
                range_text(&new_range)
            );
            let mut lines = Vec::new();
            for op in &group {
                for change in diff.iter_inline_changes(op) {
                    let tag = match change.tag() {
                        ChangeTag::Equal => LineTag::Context,
                        ChangeTag::Insert => {
                            added += 1;
                            LineTag::Added
                        }
                        ChangeTag::Delete => {
                            removed += 1;
                            LineTag::Removed
                        }
                    };
                    let mut segments: Vec<Segment> = Vec::new();
                    for (emphasized, text) in change.iter_strings_lossy() {
                        let text = text.trim_end_matches(['\n', '\r']).to_string();
                        if text.is_empty() {
                            continue;
                        }
                        match segments.last_mut() {
                            Some(prev) if prev.emphasized == emphasized => {
                                prev.text.push_str(&text)
                            }
                            _ => segments.push(Segment { text, emphasized }),
                        }
                    }
                    lines.push(DiffLine {
                        tag,
                        old_line: change.old_index().map(|i| i as u32 + 1),
                        new_line: change.new_index().map(|i| i as u32 + 1),
                        segments,
                    });
                }
            }
            hunks.push(Hunk { header, lines });
        }
        TextDiff {
            hunks,
            added,
            removed,
        }
    }

    /// The diff as unified-diff text (`-`/`+`/space prefixes), with changed words in
    /// `[-…-]`/`{+…+}` brackets as `git diff --word-diff=plain` writes them.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for h in &self.hunks {
            out.push_str(&h.header);
            out.push('\n');
            for l in &h.lines {
                let (prefix, open, close) = match l.tag {
                    LineTag::Context => (' ', "", ""),
                    LineTag::Added => ('+', "{+", "+}"),
                    LineTag::Removed => ('-', "[-", "-]"),
                };
                out.push(prefix);
                let whole = l.segments.iter().all(|s| s.emphasized);
                for s in &l.segments {
                    if s.emphasized && !whole {
                        out.push_str(open);
                        out.push_str(&s.text);
                        out.push_str(close);
                    } else {
                        out.push_str(&s.text);
                    }
                }
                out.push('\n');
            }
        }
        out
    }
}

fn range_text(r: &std::ops::Range<usize>) -> String {
    let len = r.end - r.start;
    let start = if len == 0 { r.start } else { r.start + 1 };
    format!("{start},{len}")
}

/// Who gains and who loses access in an `acl.change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PrincipalDiff {
    /// The resource.
    pub resource: String,
    /// Grants only after the change.
    pub gained: Vec<Grant>,
    /// Grants only before the change.
    pub lost: Vec<Grant>,
    /// Grants on both sides.
    pub kept: Vec<Grant>,
    /// Whether the current grants were given; without them every grant shows as gained.
    pub before_known: bool,
}

impl PrincipalDiff {
    /// Compares grant sets (order and duplicates ignored).
    pub fn compute(resource: &str, before: Option<&[Grant]>, after: &[Grant]) -> PrincipalDiff {
        let mut old: Vec<Grant> = before.unwrap_or_default().to_vec();
        let mut new: Vec<Grant> = after.to_vec();
        old.sort();
        old.dedup();
        new.sort();
        new.dedup();
        PrincipalDiff {
            resource: resource.into(),
            gained: new.iter().filter(|g| !old.contains(g)).cloned().collect(),
            lost: old.iter().filter(|g| !new.contains(g)).cloned().collect(),
            kept: new.iter().filter(|g| old.contains(g)).cloned().collect(),
            before_known: before.is_some(),
        }
    }
}
