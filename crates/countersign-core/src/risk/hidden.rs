//! Hidden characters: bidirectional controls (Trojan Source, CVE-2021-42574) and invisible or
//! control characters anywhere in the action, which can make text read differently than it
//! runs or is sent.

use serde_json::Value;

use super::Scorer;
use crate::action::Action;
use crate::text::count_hidden;

/// Runs the detector.
pub fn detect(action: &Action, s: &mut Scorer) {
    fn collect(v: &Value, out: &mut String) {
        match v {
            Value::String(t) => out.push_str(t),
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            Value::Object(map) => map.iter().for_each(|(k, i)| {
                out.push_str(k);
                collect(i, out);
            }),
            _ => {}
        }
    }
    let mut text = format!("{}{}", action.summary, action.target);
    collect(&action.payload, &mut text);
    let (bidi, invisible, control) = count_hidden(&text);
    if bidi > 0 {
        s.add("content.bidi", 25, format!("{bidi} bidirectional control character(s) can make text read differently than it runs"), "/payload");
    }
    if invisible + control > 0 {
        s.add(
            "content.invisible",
            15,
            format!("{} invisible or control character(s)", invisible + control),
            "/payload",
        );
    }
}
