//! Size and blast radius: how many people or principals a change reaches and how large it is.

use super::Scorer;
use crate::action::{Action, Payload};

/// Runs the detector.
pub fn detect(action: &Action, payload: &Payload, s: &mut Scorer) {
    let (count, what, pointer) = match payload {
        Payload::AclChange(acl) => (acl.grants.len(), "principals", "/payload/grants"),
        _ => (
            super::novelty::recipients(action).len(),
            "recipients",
            "/payload",
        ),
    };
    let points = match count {
        0..=5 => 0,
        6..=20 => 10,
        21..=100 => 20,
        _ => 30,
    };
    if points > 0 {
        s.add(
            "size.blast_radius",
            points,
            format!("reaches {count} {what}"),
            pointer,
        );
    }
    if let Payload::FileWrite(f) = payload {
        let before = action.before_text().unwrap_or("");
        let changed = changed_lines(before, &f.content);
        let points = match changed {
            0..=200 => 0,
            201..=2000 => 10,
            _ => 20,
        };
        if points > 0 {
            s.add(
                "size.large_change",
                points,
                format!("changes {changed} lines"),
                "/payload/content",
            );
        }
    }
    let bytes = action.payload.to_string().len();
    if bytes > 256 * 1024 {
        s.add(
            "size.large_payload",
            10,
            format!("a {} KiB payload is hard to review", bytes / 1024),
            "/payload",
        );
    }
}

/// Lines present on one side only (a multiset-free estimate of a diff's size, linear time so
/// a 1 MiB file scores in milliseconds).
fn changed_lines(before: &str, after: &str) -> usize {
    use std::collections::HashSet;
    let old: HashSet<&str> = before.lines().collect();
    let new: HashSet<&str> = after.lines().collect();
    after.lines().filter(|l| !old.contains(l)).count()
        + before.lines().filter(|l| !new.contains(l)).count()
}
