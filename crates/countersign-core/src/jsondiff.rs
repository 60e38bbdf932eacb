//! Structural diff of two JSON values: which paths were added, removed or changed, each named
//! by its JSON Pointer (RFC 6901). Shown above the line diff of a JSON draft (issue #5), so a
//! reviewer sees `/limits/max_rows: 500 → 5000` instead of hunting through reflowed text.
//!
//! The output is bounded whatever the input: at most [`MAX_PATHS`] entries (the rest are only
//! counted), and every value and pointer shortened to [`MAX_VALUE_CHARS`] /
//! [`MAX_POINTER_CHARS`] with the number of characters cut. A whole added or removed subtree is
//! one entry, and values past the cap are never serialised, so the cost is one walk over the
//! parts both sides share plus the serialisation of the shown values.

use std::cmp::Ordering;
use std::io;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::json::push_token;

/// Most entries listed; further changes are counted in [`JsonPaths::more`].
pub const MAX_PATHS: usize = 500;

/// Longest value text kept, in characters (Unicode scalar values); the rest is counted in
/// [`PathChange::old_cut`] / [`PathChange::new_cut`].
pub const MAX_VALUE_CHARS: usize = 200;

/// Longest pointer kept, in characters; the rest is counted in [`PathChange::pointer_cut`]
/// (a key can be megabytes long).
pub const MAX_POINTER_CHARS: usize = 400;

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum PathOp {
    /// Only in the new value (`new` is set).
    Added,
    /// Only in the old value (`old` is set).
    Removed,
    /// In both, different: a scalar with another value or type, or a container replaced by a
    /// scalar or by the other kind of container (`old` and `new` are set).
    Changed,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PathChange {
    /// JSON Pointer (RFC 6901: `~` escaped as `~0`, `/` as `~1`), e.g. `/limits/max_rows` or
    /// `/items/3`; the empty string is the whole value.
    pub pointer: String,
    /// Characters cut from the end of `pointer` (absent when none were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pointer_cut: Option<u32>,
    /// Added, removed or changed.
    pub op: PathOp,
    /// The old value as compact JSON, e.g. `500` or `{"a":1}`; absent for `added`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub old: Option<String>,
    /// Characters cut from the end of `old` (absent when none were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub old_cut: Option<u32>,
    /// The new value as compact JSON; absent for `removed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub new: Option<String>,
    /// Characters cut from the end of `new` (absent when none were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub new_cut: Option<u32>,
}

/// The changed paths between two JSON values, in document order (object members in key order,
/// as `serde_json` keeps them; array items by index).
///
/// Objects are compared member by member, arrays index by index (an item inserted at the front
/// shows as every later index changed, plus one added at the end: the line diff below shows the
/// insertion). Equal values give no entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JsonPaths {
    /// The first [`MAX_PATHS`] changes.
    pub changes: Vec<PathChange>,
    /// How many further changes were found and not listed (0 when all are listed).
    pub more: u32,
}

impl JsonPaths {
    /// The changes that turn `old` into `new`.
    pub fn compute(old: &Value, new: &Value) -> JsonPaths {
        let mut walk = Walk {
            out: JsonPaths::default(),
            pointer: String::new(),
        };
        walk.value(old, new);
        walk.out
    }

    /// Whether `old` and `new` are equal.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.more == 0
    }
}

struct Walk {
    out: JsonPaths,
    /// Pointer of the value being compared; tokens are pushed and truncated as the walk goes.
    pointer: String,
}

impl Walk {
    fn value(&mut self, old: &Value, new: &Value) {
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => self.object(a, b),
            (Value::Array(a), Value::Array(b)) => self.array(a, b),
            (a, b) if a == b => {}
            (a, b) => self.push(PathOp::Changed, Some(a), Some(b)),
        }
    }

    /// Members in key order: `serde_json`'s `Map` is sorted by key (no `preserve_order`), so a
    /// merge of the two key sequences is document order.
    fn object(&mut self, a: &Map<String, Value>, b: &Map<String, Value>) {
        let mut old = a.iter().peekable();
        let mut new = b.iter().peekable();
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
            };
            let len = self.pointer.len();
            match order {
                Ordering::Less => {
                    if let Some((k, v)) = old.next() {
                        push_token(&mut self.pointer, k);
                        self.push(PathOp::Removed, Some(v), None);
                    }
                }
                Ordering::Greater => {
                    if let Some((k, v)) = new.next() {
                        push_token(&mut self.pointer, k);
                        self.push(PathOp::Added, None, Some(v));
                    }
                }
                Ordering::Equal => {
                    if let (Some((k, va)), Some((_, vb))) = (old.next(), new.next()) {
                        push_token(&mut self.pointer, k);
                        self.value(va, vb);
                    }
                }
            }
            self.pointer.truncate(len);
        }
    }

    fn array(&mut self, a: &[Value], b: &[Value]) {
        let len = self.pointer.len();
        let shared = a.len().min(b.len());
        for (i, (va, vb)) in a.iter().zip(b).enumerate() {
            self.index(i);
            self.value(va, vb);
            self.pointer.truncate(len);
        }
        let (op, rest) = if a.len() > b.len() {
            (PathOp::Removed, &a[shared..])
        } else {
            (PathOp::Added, &b[shared..])
        };
        for (i, v) in rest.iter().enumerate() {
            if self.full() {
                // Past the cap only the count matters: no pointer, no value text.
                self.out.more = self.out.more.saturating_add(saturate(rest.len() - i));
                break;
            }
            self.index(shared + i);
            match op {
                PathOp::Removed => self.push(op, Some(v), None),
                _ => self.push(op, None, Some(v)),
            }
            self.pointer.truncate(len);
        }
    }

    fn index(&mut self, i: usize) {
        use std::fmt::Write as _;
        let _ = write!(self.pointer, "/{i}");
    }

    fn full(&self) -> bool {
        self.out.changes.len() >= MAX_PATHS
    }

    fn push(&mut self, op: PathOp, old: Option<&Value>, new: Option<&Value>) {
        if self.full() {
            self.out.more = self.out.more.saturating_add(1);
            return;
        }
        let (pointer, pointer_cut) = shorten(&self.pointer, MAX_POINTER_CHARS);
        let (old, old_cut) = old.map(compact).unzip();
        let (new, new_cut) = new.map(compact).unzip();
        self.out.changes.push(PathChange {
            pointer,
            pointer_cut,
            op,
            old,
            old_cut: old_cut.flatten(),
            new,
            new_cut: new_cut.flatten(),
        });
    }
}

/// `s` cut to `max` characters, and how many were cut (`None` when none were).
fn shorten(s: &str, max: usize) -> (String, Option<u32>) {
    match s.char_indices().nth(max) {
        None => (s.to_owned(), None),
        Some((at, _)) => (
            s[..at].to_owned(),
            Some(saturate(count_chars(&s.as_bytes()[at..]))),
        ),
    }
}

/// Characters in UTF-8 bytes (that start at a character boundary): the bytes that are not
/// continuation bytes (`10xxxxxx`).
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `v` as compact JSON, cut to [`MAX_VALUE_CHARS`], and how many characters were cut. The text
/// past the cut is counted as it is written, never kept: a 5 MiB subtree costs no allocation.
fn compact(v: &Value) -> (String, Option<u32>) {
    let mut w = Capped {
        kept: Vec::new(),
        chars: 0,
        cut: 0,
    };
    // Writing a `Value` fails only when the writer does, and this one never does.
    let _ = serde_json::to_writer(&mut w, v);
    let text = String::from_utf8(w.kept)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    (text, (w.cut > 0).then(|| saturate(w.cut)))
}

/// A writer keeping the first [`MAX_VALUE_CHARS`] characters and counting the rest.
struct Capped {
    kept: Vec<u8>,
    /// Characters in `kept`.
    chars: usize,
    /// Characters written after `kept` filled up.
    cut: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.cut > 0 {
            self.cut += count_chars(buf);
            return Ok(buf.len());
        }
        // Byte by byte, so the cut falls on a character boundary even when a write splits a
        // character: continuation bytes follow their first byte into `kept`.
        for (i, &b) in buf.iter().enumerate() {
            let starts_char = (b as i8) >= -0x40;
            if starts_char && self.chars == MAX_VALUE_CHARS {
                self.cut += count_chars(&buf[i..]);
                return Ok(buf.len());
            }
            if starts_char {
                self.chars += 1;
            }
            self.kept.push(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    /// `(pointer, op, old, new)` of each change, for compact tables.
    fn rows(old: &Value, new: &Value) -> Vec<(String, PathOp, Option<String>, Option<String>)> {
        let paths = JsonPaths::compute(old, new);
        assert_eq!(paths.more, 0, "small inputs are never capped");
        paths
            .changes
            .into_iter()
            .map(|c| (c.pointer, c.op, c.old, c.new))
            .collect()
    }

    fn row(
        pointer: &str,
        op: PathOp,
        old: Option<&str>,
        new: Option<&str>,
    ) -> (String, PathOp, Option<String>, Option<String>) {
        (pointer.into(), op, old.map(Into::into), new.map(Into::into))
    }

    use PathOp::{Added, Changed, Removed};

    #[rstest]
    #[case::nested_objects(
        json!({"db": {"host": "a", "pool": {"max": 5, "min": 1}}, "keep": true}),
        json!({"db": {"host": "b", "pool": {"max": 50}, "tls": {"on": true}}, "keep": true}),
        vec![
            row("/db/host", Changed, Some("\"a\""), Some("\"b\"")),
            row("/db/pool/max", Changed, Some("5"), Some("50")),
            row("/db/pool/min", Removed, Some("1"), None),
            row("/db/tls", Added, None, Some("{\"on\":true}")),
        ],
    )]
    #[case::array_grows(
        json!({"xs": [1, 2]}),
        json!({"xs": [1, 3, [4], {"k": null}]}),
        vec![
            row("/xs/1", Changed, Some("2"), Some("3")),
            row("/xs/2", Added, None, Some("[4]")),
            row("/xs/3", Added, None, Some("{\"k\":null}")),
        ],
    )]
    #[case::array_shrinks(
        json!([{"a": 1}, {"a": 2}, "x"]),
        json!([{"a": 1, "b": 0}]),
        vec![
            row("/0/b", Added, None, Some("0")),
            row("/1", Removed, Some("{\"a\":2}"), None),
            row("/2", Removed, Some("\"x\""), None),
        ],
    )]
    #[case::scalar_type_changes(
        json!({"n": 1, "s": "1", "b": true, "z": null}),
        json!({"n": "1", "s": 1, "b": "true", "z": false}),
        vec![
            row("/b", Changed, Some("true"), Some("\"true\"")),
            row("/n", Changed, Some("1"), Some("\"1\"")),
            row("/s", Changed, Some("\"1\""), Some("1")),
            row("/z", Changed, Some("null"), Some("false")),
        ],
    )]
    #[case::object_replaced_by_a_scalar_is_one_change(
        json!({"cfg": {"a": {"b": 1}, "c": [1, 2]}}),
        json!({"cfg": "off"}),
        vec![row("/cfg", Changed, Some("{\"a\":{\"b\":1},\"c\":[1,2]}"), Some("\"off\""))],
    )]
    #[case::array_replaced_by_an_object(
        json!({"v": [1]}),
        json!({"v": {"0": 1}}),
        vec![row("/v", Changed, Some("[1]"), Some("{\"0\":1}"))],
    )]
    #[case::whole_value_is_the_empty_pointer(
        json!(1),
        json!([1]),
        vec![row("", Changed, Some("1"), Some("[1]"))],
    )]
    #[case::keys_are_escaped_per_rfc_6901(
        json!({"a/b": 1, "m~n": {"~/": 1}, "": 0}),
        json!({"a/b": 2, "m~n": {"~/": 2}, "": 1}),
        vec![
            row("/", Changed, Some("0"), Some("1")),
            row("/a~1b", Changed, Some("1"), Some("2")),
            row("/m~0n/~0~1", Changed, Some("1"), Some("2")),
        ],
    )]
    #[case::equal_values_have_no_entries(
        json!({"a": [1, {"b": [null, 1.5, "x"]}], "c": {}}),
        json!({"a": [1, {"b": [null, 1.5, "x"]}], "c": {}}),
        vec![],
    )]
    fn changes_are_listed_in_document_order(
        #[case] old: Value,
        #[case] new: Value,
        #[case] want: Vec<(String, PathOp, Option<String>, Option<String>)>,
    ) {
        assert_eq!(rows(&old, &new), want);
    }

    #[test]
    fn equal_values_are_empty() {
        let v = json!({"a": [1, 2, {"b": "c"}]});
        let paths = JsonPaths::compute(&v, &v.clone());
        assert!(paths.is_empty(), "{paths:?}");
        assert_eq!(JsonPaths::compute(&v, &v), JsonPaths::default());
    }

    #[test]
    fn past_the_cap_changes_are_only_counted() {
        let old = json!({"xs": (0..1000).collect::<Vec<_>>(), "z": {"a": 1, "b": 2}});
        let new = json!({"xs": (0..1000).map(|i| i + 1).collect::<Vec<_>>(), "z": {"c": 3}});
        let paths = JsonPaths::compute(&old, &new);
        assert_eq!(paths.changes.len(), MAX_PATHS, "listed up to the cap");
        assert_eq!(
            paths.more as usize,
            1000 + 3 - MAX_PATHS,
            "every further change is counted, in arrays and objects alike"
        );
        assert_eq!(paths.changes[0].pointer, "/xs/0");
        assert_eq!(paths.changes[MAX_PATHS - 1].pointer, "/xs/499");

        let grown = json!({"xs": vec![0; 2000]});
        let paths = JsonPaths::compute(&json!({"xs": []}), &grown);
        assert_eq!(
            (paths.changes.len(), paths.more as usize),
            (MAX_PATHS, 2000 - MAX_PATHS),
            "added array items past the cap are counted, not listed"
        );
    }

    #[test]
    fn long_values_are_cut_with_the_count_of_characters_cut() {
        let long = "é".repeat(1000);
        let paths = JsonPaths::compute(&json!({"s": "x"}), &json!({"s": long}));
        let c = &paths.changes[0];
        let new = c.new.as_deref().unwrap_or_default();
        assert_eq!(new.chars().count(), MAX_VALUE_CHARS, "kept to the limit");
        assert!(new.starts_with("\"éé"), "{new}");
        assert_eq!(
            c.new_cut,
            Some((1000 + 2 - MAX_VALUE_CHARS) as u32),
            "the cut is counted in characters, closing quote included"
        );
        assert_eq!(
            (c.old.as_deref(), c.old_cut),
            (Some("\"x\""), None),
            "short values are whole"
        );

        let exact = "a".repeat(MAX_VALUE_CHARS - 2);
        let paths = JsonPaths::compute(&json!(null), &json!(exact));
        assert_eq!(
            paths.changes[0].new_cut, None,
            "a value of exactly the limit is not cut"
        );
    }

    #[test]
    fn long_pointers_are_cut_too() {
        let key = "k".repeat(10_000);
        let paths = JsonPaths::compute(&json!({}), &json!({ key.clone(): 1 }));
        let c = &paths.changes[0];
        assert_eq!(c.pointer.chars().count(), MAX_POINTER_CHARS);
        assert_eq!(c.pointer_cut, Some((10_001 - MAX_POINTER_CHARS) as u32));
    }

    #[test]
    fn a_large_document_gives_a_bounded_list() {
        // About 5 MiB of objects, every one changed: the list stays a few hundred entries.
        let old: Vec<Value> = (0..60_000)
            .map(|i| json!({"id": i, "name": format!("item {i}"), "tags": ["a", "b"], "on": true}))
            .collect();
        let new: Vec<Value> = old
            .iter()
            .map(|v| {
                let mut v = v.clone();
                v["on"] = json!(false);
                v
            })
            .collect();
        let (old, new) = (Value::Array(old), Value::Array(new));
        let paths = JsonPaths::compute(&old, &new);
        assert_eq!(paths.changes.len(), MAX_PATHS);
        assert_eq!(paths.more as usize, 60_000 - MAX_PATHS);
        let size = serde_json::to_vec(&paths).map_or(0, |v| v.len());
        assert!(size < 64 * 1024, "{size} bytes of JSON for the list");
    }
}
