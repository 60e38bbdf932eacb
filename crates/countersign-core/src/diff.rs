//! Diffs the reviewer sees: line diffs with word-level highlights (via `similar`), and the
//! principal diff of an access change.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, DiffTag, DiffableStr, TextDiff as SimilarDiff};
use ts_rs::TS;

use crate::action::Grant;

/// Lines of unchanged context kept around each change.
pub const CONTEXT_LINES: usize = 3;

/// Longest the line diff may search for a minimal diff; past it the rest of the texts is
/// diffed coarsely (still a correct diff: every line is shown, only less aligned).
pub const LINE_DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// A replacement with more lines than this on either side is shown without word-level
/// highlights: a word diff across thousands of lines costs seconds and highlights noise.
pub const INLINE_MAX_LINES: usize = 500;

/// Time budget of all word-level highlights of one diff, counted from the end of the line diff
/// (issue #5: a 5 MiB diff must show in under 500 ms). Replacements reached after it are shown
/// without highlights; every line is still shown.
pub const INLINE_BUDGET: Duration = Duration::from_millis(200);

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
    /// Part of the change within the line. Left out of the JSON when false (most segments): a
    /// 5 MiB diff has 100,000 lines, and its JSON crosses IPC and is parsed on the UI thread.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(as = "Option<bool>", optional)]
    pub emphasized: bool,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiffLine {
    /// Context, added or removed.
    pub tag: LineTag,
    /// 1-based line number in the old text; absent (left out of the JSON) for an added line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub old_line: Option<u32>,
    /// 1-based line number in the new text; absent (left out of the JSON) for a removed line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
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
    /// Set when the lines were left out, to be fetched in pages ([`TextDiff::outlined`]): one
    /// entry per hunk, in order, and every hunk's `lines` is then empty. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub outline: Option<Vec<HunkOutline>>,
}

/// Lines of a diff above which the review desk receives it as an outline and fetches the
/// lines' text in pages ([`TextDiff::outlined`]): a 5 MiB file is 100,000 lines, 11 MiB of
/// JSON as [`DiffLine`]s, which the window would otherwise receive and parse whole before
/// showing the first 40 (issue #5: a 5 MiB diff shows in under 500 ms).
pub const OUTLINE_ABOVE: usize = 2_000;

/// Most lines one page request returns ([`lines_page`]).
pub const MAX_PAGE_LINES: usize = 5_000;

/// A hunk's lines without their text: enough to lay out, number and fold every line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HunkOutline {
    /// Number of the hunk's lines in the whole diff before it (the global index of its first
    /// line, what a page request counts in).
    pub first: u32,
    /// 1-based old line number of the hunk's first line on the old side; 0 when the hunk has
    /// no line there (a new file).
    pub old_start: u32,
    /// 1-based new line number of the hunk's first line on the new side; 0 when it has none.
    pub new_start: u32,
    /// One character per line: `' '` context (on both sides), `'+'` added (new side only),
    /// `'-'` removed (old side only). Line numbers count up from the starts accordingly.
    pub tags: String,
}

/// Lines `[from, to)` of `lines` (a diff's lines in order, as [`TextDiff::outlined`] returns
/// them), at most [`MAX_PAGE_LINES`].
///
/// # Errors
/// A message naming the range when `from > to`, `to` is past the last line, or the range is
/// longer than [`MAX_PAGE_LINES`].
pub fn lines_page(lines: &[DiffLine], from: u32, to: u32) -> Result<&[DiffLine], String> {
    let (f, t) = (from as usize, to as usize);
    if f > t || t > lines.len() {
        return Err(format!(
            "lines {from}..{to} are not within the diff's {} lines",
            lines.len()
        ));
    }
    if t - f > MAX_PAGE_LINES {
        return Err(format!(
            "lines {from}..{to}: at most {MAX_PAGE_LINES} lines per request"
        ));
    }
    Ok(&lines[f..t])
}

impl TextDiff {
    /// Number of lines in all hunks (as outlined when it is).
    pub fn line_count(&self) -> usize {
        match &self.outline {
            Some(o) => o.iter().map(|h| h.tags.len()).sum(),
            None => self.hunks.iter().map(|h| h.lines.len()).sum(),
        }
    }

    /// This diff as an outline when it has more than `above` lines: the hunks keep their
    /// headers and lose their lines, which are returned in order (global index = position)
    /// for [`lines_page`]. `None` when it is small enough to send whole, or already outlined.
    pub fn outlined(&mut self, above: usize) -> Option<Vec<DiffLine>> {
        if self.outline.is_some() || self.line_count() <= above {
            return None;
        }
        let mut outline = Vec::with_capacity(self.hunks.len());
        let mut all = Vec::with_capacity(self.line_count());
        for h in &mut self.hunks {
            let lines = std::mem::take(&mut h.lines);
            let start =
                |side: fn(&DiffLine) -> Option<u32>| lines.iter().find_map(side).unwrap_or(0);
            let old_start = start(|l| l.old_line);
            let new_start = start(|l| l.new_line);
            outline.push(HunkOutline {
                first: u32::try_from(all.len()).unwrap_or(u32::MAX),
                old_start,
                new_start,
                tags: lines
                    .iter()
                    .map(|l| match l.tag {
                        LineTag::Context => ' ',
                        LineTag::Added => '+',
                        LineTag::Removed => '-',
                    })
                    .collect(),
            });
            all.extend(lines);
        }
        self.outline = Some(outline);
        Some(all)
    }

    /// Diffs `old` against `new` line by line (Myers over the lines found in both texts, at
    /// most [`LINE_DIFF_TIMEOUT`]; see the private `line_ops`), with word-level emphasis inside changed
    /// lines (replacements of up to [`INLINE_MAX_LINES`] lines, within [`INLINE_BUDGET`]) and
    /// [`CONTEXT_LINES`] of context.
    pub fn compute(old: &str, new: &str) -> TextDiff {
        // Lines with their endings; `similar` also ends a line at a lone `\r`.
        let old_lines = old.tokenize_lines();
        let new_lines = new.tokenize_lines();
        let ops = line_ops(&old_lines, &new_lines, Instant::now() + LINE_DIFF_TIMEOUT);
        let inline_deadline = Instant::now() + INLINE_BUDGET;
        let mut hunks = Vec::new();
        let (mut added, mut removed) = (0u32, 0u32);
        for group in similar::group_diff_ops(ops, CONTEXT_LINES) {
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
            let mut push =
                |tag: ChangeTag,
                 old_index: Option<usize>,
                 new_index: Option<usize>,
                 parts: &mut dyn Iterator<Item = (bool, Cow<'_, str>)>| {
                    let tag = match tag {
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
                    for (emphasized, text) in parts {
                        let text = text.trim_end_matches(['\n', '\r']);
                        if text.is_empty() {
                            continue;
                        }
                        match segments.last_mut() {
                            Some(prev) if prev.emphasized == emphasized => prev.text.push_str(text),
                            _ => segments.push(Segment {
                                text: text.to_string(),
                                emphasized,
                            }),
                        }
                    }
                    lines.push(DiffLine {
                        tag,
                        old_line: old_index.map(|i| i as u32 + 1),
                        new_line: new_index.map(|i| i as u32 + 1),
                        segments,
                    });
                };
            for op in &group {
                let (tag, old_at, new_at) = op.as_tag_tuple();
                let highlight = tag == DiffTag::Replace
                    && old_at.len() <= INLINE_MAX_LINES
                    && new_at.len() <= INLINE_MAX_LINES
                    && Instant::now() < inline_deadline;
                if highlight {
                    // The replaced lines alone, diffed again to get at `similar`'s word diff.
                    let part = SimilarDiff::configure()
                        .algorithm(similar::Algorithm::Myers)
                        .deadline(inline_deadline)
                        .diff_slices(&old_lines[old_at.clone()], &new_lines[new_at.clone()]);
                    for part_op in part.ops() {
                        for change in
                            part.iter_inline_changes_deadline(part_op, Some(inline_deadline))
                        {
                            push(
                                change.tag(),
                                change.old_index().map(|i| i + old_at.start),
                                change.new_index().map(|i| i + new_at.start),
                                &mut change.iter_strings_lossy(),
                            );
                        }
                    }
                } else {
                    for change in op.iter_changes(&old_lines, &new_lines) {
                        push(
                            change.tag(),
                            change.old_index(),
                            change.new_index(),
                            &mut std::iter::once((false, change.to_string_lossy())),
                        );
                    }
                }
            }
            hunks.push(Hunk { header, lines });
        }
        TextDiff {
            hunks,
            added,
            removed,
            outline: None,
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

/// The line operations turning `old` into `new` (lines with their endings, as `similar` splits
/// them): Myers (Myers 1986, "An O(ND) difference algorithm") over only the lines that occur in
/// both texts, then every other line deleted or inserted where it stands. A line absent from
/// the other text can never be part of their longest common subsequence, so leaving it out
/// keeps the diff minimal, while a rewrite no longer costs Myers its O(N·D) search (GNU diff and
/// git's xdiff discard such lines the same way). Lines are compared as small integers. Past
/// `deadline` the search ends with a coarser, still correct, diff.
fn line_ops<'a>(old: &[&'a str], new: &[&'a str], deadline: Instant) -> Vec<similar::DiffOp> {
    use similar::DiffOp;
    // Each distinct line gets an id; `sides[id]` says on which sides it occurs (bit 0 old, bit 1 new).
    let mut ids: HashMap<&'a str, u32> = HashMap::with_capacity(old.len() + new.len());
    let mut sides: Vec<u8> = Vec::new();
    let mut id_of = |line: &'a str, side: u8| {
        let next = ids.len() as u32;
        let id = *ids.entry(line).or_insert(next);
        if id == next {
            sides.push(0);
        }
        sides[id as usize] |= side;
        id
    };
    let old_ids: Vec<u32> = old.iter().map(|&l| id_of(l, 1)).collect();
    let new_ids: Vec<u32> = new.iter().map(|&l| id_of(l, 2)).collect();
    let shared = |ids: &[u32]| -> Vec<usize> {
        (0..ids.len())
            .filter(|&i| sides[ids[i] as usize] == 3)
            .collect()
    };
    let (old_kept, new_kept) = (shared(&old_ids), shared(&new_ids));
    let old_f: Vec<u32> = old_kept.iter().map(|&i| old_ids[i]).collect();
    let new_f: Vec<u32> = new_kept.iter().map(|&i| new_ids[i]).collect();
    let matched = similar::capture_diff_slices_deadline(
        similar::Algorithm::Myers,
        &old_f,
        &new_f,
        Some(deadline),
    );

    let mut out = Vec::new();
    let change =
        |out: &mut Vec<DiffOp>, o: std::ops::Range<usize>, n: std::ops::Range<usize>| match (
            o.is_empty(),
            n.is_empty(),
        ) {
            (true, true) => {}
            (false, true) => out.push(DiffOp::Delete {
                old_index: o.start,
                old_len: o.len(),
                new_index: n.start,
            }),
            (true, false) => out.push(DiffOp::Insert {
                old_index: o.start,
                new_index: n.start,
                new_len: n.len(),
            }),
            (false, false) => out.push(DiffOp::Replace {
                old_index: o.start,
                old_len: o.len(),
                new_index: n.start,
                new_len: n.len(),
            }),
        };
    let (mut o, mut n) = (0, 0);
    for op in matched {
        let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        else {
            continue;
        };
        // Matched lines in the original texts, split where discarded lines sit between them.
        let mut k = 0;
        while k < len {
            let (po, pn) = (old_kept[old_index + k], new_kept[new_index + k]);
            let mut run = 1;
            while k + run < len
                && old_kept[old_index + k + run] == po + run
                && new_kept[new_index + k + run] == pn + run
            {
                run += 1;
            }
            change(&mut out, o..po, n..pn);
            match out.last_mut() {
                Some(DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                }) if *old_index + *len == po && *new_index + *len == pn => *len += run,
                _ => out.push(DiffOp::Equal {
                    old_index: po,
                    new_index: pn,
                    len: run,
                }),
            }
            (o, n) = (po + run, pn + run);
            k += run;
        }
    }
    change(&mut out, o..old.len(), n..new.len());
    out
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

#[cfg(test)]
mod outline_tests {
    use super::*;

    /// The lines as the desk rebuilds them from an outline: tag and numbers, no text.
    fn rebuilt(outline: &[HunkOutline]) -> Vec<(LineTag, Option<u32>, Option<u32>)> {
        let mut out = Vec::new();
        for h in outline {
            let (mut old, mut new) = (h.old_start, h.new_start);
            for c in h.tags.chars() {
                let (tag, o, n) = match c {
                    ' ' => (LineTag::Context, Some(old), Some(new)),
                    '+' => (LineTag::Added, None, Some(new)),
                    '-' => (LineTag::Removed, Some(old), None),
                    other => panic!("unknown tag {other:?}"),
                };
                old += u32::from(o.is_some());
                new += u32::from(n.is_some());
                out.push((tag, o, n));
            }
        }
        out
    }

    #[test]
    fn an_outline_numbers_every_line_as_the_full_diff_does_and_the_pages_hold_the_text() {
        // Several hunks with context, replacements, pure additions and removals.
        let old: String = (0..3_000).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..3_000)
            .filter(|i| i % 700 != 5)
            .map(|i| {
                if i % 500 == 7 {
                    format!("changed {i}\n")
                } else {
                    format!("line {i}\n")
                }
            })
            .chain((0..50).map(|i| format!("tail {i}\n")))
            .collect();
        let full = TextDiff::compute(&old, &new);
        assert!(full.hunks.len() > 3, "fixture: several hunks");
        let mut paged = full.clone();
        assert!(
            paged.outlined(full.line_count()).is_none(),
            "not above the limit: sent whole"
        );
        let lines = paged.outlined(10).expect("above the limit: outlined");
        assert!(paged.outlined(10).is_none(), "outlining twice does nothing");
        assert!(
            paged.hunks.iter().all(|h| h.lines.is_empty()),
            "no text left in the hunks"
        );
        let flat: Vec<&DiffLine> = full.hunks.iter().flat_map(|h| &h.lines).collect();
        assert_eq!(lines.len(), flat.len());
        assert!(
            lines.iter().zip(&flat).all(|(a, b)| a == *b),
            "the pages hold every line as computed"
        );
        let outline = paged.outline.as_ref().expect("outline");
        let want: Vec<_> = flat
            .iter()
            .map(|l| (l.tag, l.old_line, l.new_line))
            .collect();
        assert_eq!(
            rebuilt(outline),
            want,
            "tags and starts rebuild every line's numbers"
        );
        let firsts: Vec<u32> = outline.iter().map(|h| h.first).collect();
        let mut at = 0u32;
        for (h, first) in full.hunks.iter().zip(&firsts) {
            assert_eq!(*first, at, "first = lines before the hunk");
            at += h.lines.len() as u32;
        }
        assert_eq!(paged.line_count(), flat.len());
        let json = serde_json::to_string(&paged).expect("json");
        assert!(
            json.len() < 20 * flat.len(),
            "the outline is small: {} bytes",
            json.len()
        );
    }

    #[test]
    fn a_page_request_outside_the_diff_or_too_long_is_refused_by_name() {
        let new: String = (0..6_000).map(|i| format!("{i}\n")).collect();
        let lines = TextDiff::compute("", &new).outlined(0).expect("outlined");
        assert_eq!(
            lines_page(&lines, 10, 12).expect("in range")[0].segments[0].text,
            "10"
        );
        assert_eq!(
            lines_page(&lines, 6_000, 6_000)
                .expect("empty at the end")
                .len(),
            0
        );
        for (from, to, says) in [
            (5, 4, "not within"),
            (5_999, 6_001, "not within"),
            (0, 5_001, "at most 5000"),
        ] {
            let e = lines_page(&lines, from, to).expect_err("refused");
            assert!(
                e.contains(says) && e.contains(&format!("{from}..{to}")),
                "{e}"
            );
        }
    }
}
