//! Reminders about high-risk drafts left waiting, and notices of drafts denied by default.
//!
//! A high or critical draft still pending [`RemindAfter`] after it was filed raises a reminder
//! notification (critical urgency), then again every further interval while it waits: once per
//! draft per interval. A draft that reaches its expiry undecided is rejected by the broker with
//! a signed decision (deny by default, [`countersign_broker::Broker::expire_due`]); the desk then
//! says so in one notification for all the drafts that expired together.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_broker::Broker;
use countersign_core::api::{ActionSummary, Status};
use countersign_core::RiskLevel;

use crate::notify::{gather, one_line, Bubble, Desk, COALESCE_WINDOW};
use crate::pause::Alert;

/// How long a high-risk draft waits before the first reminder, and between reminders.
/// Parsed from `COUNTERSIGN_REMIND_AFTER` / `--remind-after`: a whole number with an optional
/// unit `s`, `m` or `h` (no unit: seconds), e.g. `5m` (the default), `90s`, `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemindAfter(pub Duration);

impl Default for RemindAfter {
    fn default() -> Self {
        RemindAfter(Duration::from_secs(5 * 60))
    }
}

impl FromStr for RemindAfter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => t.split_at(i),
            None => (t, "s"),
        };
        let n: u64 = digits.parse().map_err(|_| {
            format!("remind-after `{s}`: expected a whole number with an optional unit s, m or h, e.g. 5m")
        })?;
        let secs = match unit {
            "s" => Some(n),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            other => {
                return Err(format!(
                    "remind-after `{s}`: unknown unit `{other}` (use s, m or h)"
                ))
            }
        }
        .ok_or_else(|| format!("remind-after `{s}`: too large"))?;
        if secs == 0 {
            return Err(format!("remind-after `{s}`: must be at least one second"));
        }
        Ok(RemindAfter(Duration::from_secs(secs)))
    }
}

/// Which drafts are due a reminder: remembers when each was last reminded.
#[derive(Debug)]
pub struct Reminders {
    after: i64,
    last: HashMap<String, i64>,
}

impl Reminders {
    /// Reminders every `after` (at least one second).
    pub fn new(after: RemindAfter) -> Self {
        Reminders {
            after: i64::try_from(after.0.as_secs().max(1)).unwrap_or(i64::MAX),
            last: HashMap::new(),
        }
    }

    /// The drafts of `queue` to remind about at `now` (Unix seconds): pending, high or critical,
    /// filed at least `after` ago and not reminded in the last `after`. Each one returned counts
    /// as reminded at `now`; drafts no longer pending are forgotten.
    pub fn due(&mut self, queue: &[ActionSummary], now: i64) -> Vec<ActionSummary> {
        let waiting: Vec<&ActionSummary> = queue
            .iter()
            .filter(|s| s.status == Status::Pending && s.level >= RiskLevel::High)
            .collect();
        self.last
            .retain(|id, _| waiting.iter().any(|s| &s.id == id));
        let mut due = Vec::new();
        for s in waiting {
            let waited = now - s.created_at >= self.after;
            let quiet = self
                .last
                .get(&s.id)
                .is_none_or(|&at| now - at >= self.after);
            if waited && quiet {
                self.last.insert(s.id.clone(), now);
                due.push(s.clone());
            }
        }
        due
    }
}

/// "12 min" / "1 h 5 min" / "40 s": a wait as a person reads it.
fn minutes(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    }
}

/// The reminder for one waiting draft.
pub fn reminder(s: &ActionSummary, now: i64) -> Bubble {
    Bubble {
        summary: format!(
            "Still waiting: {} wants {} — {} risk ({})",
            one_line(&s.agent, 40),
            s.kind,
            s.level.as_str(),
            s.score
        ),
        body: format!(
            "Pending for {}; denied by default in {} if nobody decides. {}",
            minutes(now - s.created_at),
            minutes(s.expires_at - now),
            one_line(&s.summary, 100)
        ),
        level: RiskLevel::Critical,
        ids: vec![s.id.clone()],
        team: false,
    }
}

/// One reminder for many waiting drafts (opens the queue).
pub fn many_reminders(due: &[ActionSummary]) -> Bubble {
    let critical = due
        .iter()
        .filter(|s| s.level == RiskLevel::Critical)
        .count();
    Bubble {
        summary: format!(
            "Still waiting: {} high-risk drafts ({critical} critical)",
            due.len()
        ),
        body: "Each is denied by default at its expiry if nobody decides.".into(),
        level: RiskLevel::Critical,
        ids: due.iter().map(|s| s.id.clone()).collect(),
        team: false,
    }
}

/// The notice for drafts that expired undecided (the broker signed a rejection for each).
pub fn expired(drafts: &[ActionSummary]) -> Bubble {
    let level = drafts
        .iter()
        .map(|s| s.level)
        .max()
        .unwrap_or(RiskLevel::Low);
    match drafts {
        [one] => Bubble {
            summary: format!(
                "Expired, denied by default: {} wanted {} ({} risk)",
                one_line(&one.agent, 40),
                one.kind,
                one.level.as_str()
            ),
            body: format!(
                "Nobody decided in time; the agent received a signed rejection. {}",
                one_line(&one.summary, 100)
            ),
            level,
            ids: vec![one.id.clone()],
            team: false,
        },
        many => Bubble {
            summary: format!("{} drafts expired, denied by default", many.len()),
            body: "Nobody decided in time; each agent received a signed rejection.".into(),
            level,
            ids: many.iter().map(|s| s.id.clone()).collect(),
            team: false,
        },
    }
}

/// How often the queue is checked for reminders: a quarter of the interval, between 250 ms and
/// 30 s.
fn tick(after: RemindAfter) -> Duration {
    (after.0 / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

/// Runs the reminder loop on its own thread until `expired_ids` is closed: reminders on every
/// tick, and a notice for the drafts that expired (their ids arrive on `expired_ids`, gathered
/// for [`COALESCE_WINDOW`]). Also lets the tray show the end of a pause that ran out.
pub fn spawn(broker: Broker, desk: Arc<Desk>, after: RemindAfter, expired_ids: Receiver<String>) {
    let run = move || {
        let mut reminders = Reminders::new(after);
        let tick = tick(after);
        let mut next = Instant::now() + tick;
        loop {
            match expired_ids.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(first) => {
                    let mut ids = vec![first];
                    ids.extend(gather(&expired_ids, COALESCE_WINDOW).unwrap_or_default());
                    let drafts: Vec<ActionSummary> = ids
                        .iter()
                        .filter_map(|id| broker.detail(id).ok().map(|d| d.summary))
                        .collect();
                    if !drafts.is_empty() {
                        desk.show(&expired(&drafts), Alert::Expired);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    next = Instant::now() + tick;
                    desk.refresh_pause();
                    let queue = match broker.list(crate::commands::QUEUE_PENDING_LIMIT, 0) {
                        Ok(q) => q,
                        Err(e) => {
                            tracing::warn!("reminder check: {e}");
                            continue;
                        }
                    };
                    let now = countersign_broker::now();
                    let due = reminders.due(&queue, now);
                    match due.as_slice() {
                        [] => {}
                        [one] => desk.show(&reminder(one, now), Alert::Reminder(one.level)),
                        many => {
                            let level = many.iter().map(|s| s.level).max();
                            desk.show(
                                &many_reminders(many),
                                Alert::Reminder(level.unwrap_or(RiskLevel::High)),
                            )
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name("remind".into()).spawn(run) {
        tracing::warn!("reminders off: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;
    use countersign_core::ActionKind;

    const T0: i64 = 1_800_000_000;

    fn draft(id: &str, level: RiskLevel, created_at: i64) -> ActionSummary {
        ActionSummary {
            id: id.into(),
            agent: "ops-bot".into(),
            kind: ActionKind::AclChange,
            target: "warehouse://x".into(),
            summary: "grant".into(),
            status: Status::Pending,
            score: 80,
            level,
            created_at,
            expires_at: created_at + 3600,
            action_digest: "sha256:00".into(),
        }
    }

    #[test]
    fn remind_after_reads_seconds_minutes_and_hours_and_refuses_the_rest() {
        assert_eq!("5m".parse::<RemindAfter>().unwrap().0.as_secs(), 300);
        assert_eq!("90s".parse::<RemindAfter>().unwrap().0.as_secs(), 90);
        assert_eq!("2".parse::<RemindAfter>().unwrap().0.as_secs(), 2);
        assert_eq!("1h".parse::<RemindAfter>().unwrap().0.as_secs(), 3600);
        assert_eq!(RemindAfter::default().0.as_secs(), 300);
        for bad in ["", "0", "5 minutes", "-3", "m", "1d"] {
            let e = bad.parse::<RemindAfter>().unwrap_err();
            assert!(e.contains("remind-after"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_high_risk_draft_is_reminded_once_per_interval_while_it_waits() {
        let mut r = Reminders::new(RemindAfter(Duration::from_secs(300)));
        let q = vec![draft("h", RiskLevel::High, T0)];
        assert!(r.due(&q, T0 + 299).is_empty(), "not before the interval");
        assert_eq!(r.due(&q, T0 + 300).len(), 1, "at the interval");
        assert!(r.due(&q, T0 + 301).is_empty(), "once per interval");
        assert!(r.due(&q, T0 + 599).is_empty());
        assert_eq!(r.due(&q, T0 + 600).len(), 1, "again after another interval");
    }

    #[test]
    fn low_and_medium_drafts_and_decided_ones_get_no_reminder() {
        let mut r = Reminders::new(RemindAfter(Duration::from_secs(60)));
        let mut decided = draft("d", RiskLevel::Critical, T0);
        decided.status = Status::Approved;
        let q = vec![
            draft("l", RiskLevel::Low, T0),
            draft("m", RiskLevel::Medium, T0),
            decided,
            draft("c", RiskLevel::Critical, T0),
        ];
        let due: Vec<String> = r.due(&q, T0 + 60).into_iter().map(|s| s.id).collect();
        assert_eq!(due, vec!["c".to_string()]);
    }

    #[test]
    fn a_draft_decided_then_seen_again_is_not_remembered() {
        let mut r = Reminders::new(RemindAfter(Duration::from_secs(60)));
        let q = vec![draft("c", RiskLevel::Critical, T0)];
        assert_eq!(r.due(&q, T0 + 60).len(), 1);
        assert!(r.due(&[], T0 + 61).is_empty());
        assert!(r.last.is_empty(), "decided drafts are forgotten");
    }

    #[test]
    fn the_reminder_says_how_long_it_waited_and_that_expiry_denies_it() {
        let b = reminder(&draft("c", RiskLevel::Critical, T0), T0 + 360);
        assert_eq!(
            b.summary,
            "Still waiting: ops-bot wants acl.change — critical risk (80)"
        );
        assert!(
            b.body
                .starts_with("Pending for 6 min; denied by default in 54 min"),
            "{}",
            b.body
        );
        assert_eq!(
            b.level,
            RiskLevel::Critical,
            "reminders are critical urgency"
        );
        let two = many_reminders(&[
            draft("a", RiskLevel::High, T0),
            draft("b", RiskLevel::Critical, T0),
        ]);
        assert_eq!(
            two.summary,
            "Still waiting: 2 high-risk drafts (1 critical)"
        );
    }

    #[test]
    fn expired_drafts_are_announced_as_denied_by_default() {
        let one = expired(&[draft("a", RiskLevel::High, T0)]);
        assert_eq!(
            one.summary,
            "Expired, denied by default: ops-bot wanted acl.change (high risk)"
        );
        assert_eq!(one.ids, vec!["a".to_string()]);
        let many = expired(&[
            draft("a", RiskLevel::Low, T0),
            draft("b", RiskLevel::Critical, T0),
        ]);
        assert_eq!(many.summary, "2 drafts expired, denied by default");
        assert_eq!(many.level, RiskLevel::Critical);
    }
}
