//! Strict JSON for untrusted input.
//!
//! `serde_json` alone keeps the last of two duplicate keys and accepts integers that lose
//! precision in other languages. An approval must mean the same thing to every reader of the
//! bytes, so input from outside is parsed here first and refused when it is ambiguous:
//!
//! - duplicate object keys (RFC 8259 §4 leaves their meaning undefined; I-JSON, RFC 7493 §2.3,
//!   forbids them);
//! - numbers whose magnitude exceeds 2^53 (I-JSON, RFC 7493 §2.2: beyond it, integers are not
//!   exactly representable as IEEE 754 doubles, so readers disagree);
//! - nesting deeper than [`MAX_DEPTH`].
//!
//! Errors name the JSON Pointer (RFC 6901) of the offending value and, from `serde_json`, the
//! line and column.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Largest magnitude a JSON number may have: 2^53 (RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Deepest nesting of arrays and objects accepted (the top-level value is depth 1).
pub const MAX_DEPTH: usize = 64;

/// Why a document was refused; `Display` gives the reason, the JSON Pointer and the position.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

impl JsonError {
    /// The full message, e.g. ``duplicate key `a` in object at /payload at line 1 column 30``.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Parses one JSON document strictly (see the module docs); trailing data is an error.
///
/// # Errors
/// [`JsonError`] for a syntax error, a duplicate key, an out-of-range number, or excessive depth.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed {
        at: At::Root,
        depth: 1,
    }
    .deserialize(&mut de)
    .map_err(|e| JsonError(e.to_string()))?;
    de.end().map_err(|e| JsonError(e.to_string()))?;
    Ok(value)
}

/// Checks an already-parsed value for numbers outside ±2^53 and for excessive depth.
/// Used on values built in memory (e.g. an edited action) before they are signed.
///
/// # Errors
/// [`JsonError`] naming the JSON Pointer of the first offending value.
pub fn check_value(value: &Value) -> Result<(), JsonError> {
    fn walk(v: &Value, pointer: &mut String, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError(format!(
                "nesting deeper than {MAX_DEPTH} levels at {}",
                display_pointer(pointer)
            )));
        }
        match v {
            Value::Number(n) => {
                let too_big = match (n.as_u64(), n.as_i64(), n.as_f64()) {
                    (Some(u), _, _) => u > MAX_SAFE_INTEGER as u64,
                    (_, Some(i), _) => i.unsigned_abs() > MAX_SAFE_INTEGER as u64,
                    (_, _, Some(f)) => f.abs() > MAX_SAFE_INTEGER,
                    _ => true,
                };
                if too_big {
                    return Err(number_error(&n.to_string(), pointer));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    walk(item, pointer, depth + 1)?;
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = pointer.len();
                    push_token(pointer, k);
                    walk(item, pointer, depth + 1)?;
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(value, &mut String::new(), 1)
}

fn number_error(shown: &str, pointer: &str) -> JsonError {
    JsonError(format!(
        "number {shown} at {} is outside ±2^53 (RFC 7493 §2.2); send it as a string",
        display_pointer(pointer)
    ))
}

/// Appends one reference token to a JSON Pointer, escaping `~` and `/` (RFC 6901 §3).
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// The pointer as shown in messages: the empty pointer (the whole document) is shown as `/`.
pub fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

/// Where a value sits: a chain of tokens up to the root, turned into a JSON Pointer only for an
/// error message (a pointer string per value cost more than the rest of the parse).
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn pointer(&self) -> String {
        let mut chain = Vec::new();
        let mut at = self;
        while let At::Key(up, _) | At::Index(up, _) = at {
            chain.push(at);
            at = up;
        }
        let mut pointer = String::new();
        for at in chain.iter().rev() {
            match at {
                At::Key(_, key) => push_token(&mut pointer, key),
                At::Index(_, i) => pointer.push_str(&format!("/{i}")),
                At::Root => {}
            }
        }
        pointer
    }
}

struct StrictSeed<'a> {
    at: At<'a>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "nesting deeper than {MAX_DEPTH} levels at {}",
                display_pointer(&self.at.pointer())
            )));
        }
        deserializer.deserialize_any(self)
    }
}

impl StrictSeed<'_> {
    fn check_integer<E: de::Error>(
        &self,
        magnitude: u64,
        shown: &dyn fmt::Display,
    ) -> Result<(), E> {
        if magnitude > MAX_SAFE_INTEGER as u64 {
            Err(E::custom(
                number_error(&shown.to_string(), &self.at.pointer()).0,
            ))
        } else {
            Ok(())
        }
    }

    fn check_number<E: de::Error>(&self, as_f64: f64, shown: &dyn fmt::Display) -> Result<(), E> {
        if as_f64.abs() > MAX_SAFE_INTEGER {
            Err(E::custom(
                number_error(&shown.to_string(), &self.at.pointer()).0,
            ))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.check_integer(v.unsigned_abs(), &v)?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.check_integer(v, &v)?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.check_number(v, &v)?;
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            match seq.next_element_seed(StrictSeed {
                at: At::Index(&self.at, items.len()),
                depth: self.depth + 1,
            })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = At::Key(&self.at, &key);
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{key}` at {} (RFC 7493 §2.3)",
                    at.pointer()
                )));
            }
            let value = map.next_value_seed(StrictSeed {
                at,
                depth: self.depth + 1,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_pointer() {
        let err = parse_strict(br#"{"payload":{"a":1,"a":2}}"#).unwrap_err();
        assert!(
            err.message().contains("duplicate key `a` at /payload/a"),
            "{err}"
        );
    }

    #[test]
    fn numbers_beyond_two_to_the_53_are_refused() {
        assert!(
            parse_strict(b"9007199254740992").is_ok(),
            "2^53 itself is exact"
        );
        let err = parse_strict(br#"{"n":[9007199254740993]}"#).unwrap_err();
        assert!(err.message().contains("/n/0"), "{err}");
        assert!(
            parse_strict(b"-1e300").is_err(),
            "huge floats are refused too"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_strict(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_strict(ok.as_bytes()).is_ok());
    }

    #[test]
    fn trailing_data_is_refused() {
        assert!(parse_strict(br#"{} {}"#).is_err());
    }

    #[test]
    fn the_pointer_runs_through_arrays_and_objects() {
        let err = parse_strict(br#"{"a":[{},{"b/":{"x":1,"x":2}}]}"#).unwrap_err();
        assert!(err.message().contains("at /a/1/b~1/x "), "{err}");
        let err = parse_strict(br#"[0,[1,{"n":1e300}]]"#).unwrap_err();
        assert!(err.message().contains("at /1/1/n "), "{err}");
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let err = parse_strict(br#"{"a/b~":{"x":1,"x":1}}"#).unwrap_err();
        assert!(err.message().contains("/a~1b~0/x"), "{err}");
    }
}
