//! "Pause notifications for 1 hour" (tray): which desktop notifications still show while paused.
//!
//! The rule, as the README states it: a pause holds back the notifications for new drafts, the
//! reminders about high-risk drafts and the notices of drafts that expired, for one hour or
//! until resumed. Reminders about **critical** drafts still show: a critical draft left alone is
//! denied at its expiry (fail closed), and the engineer who paused the noise must still learn
//! that a critical one is waiting. The tray and the window show that notifications are paused
//! and until when. Times are Unix seconds passed in by the caller, so the rule is tested with any
//! clock.

use countersign_core::RiskLevel;

/// How long one pause lasts, in seconds.
pub const PAUSE_FOR_S: i64 = 60 * 60;

/// A desktop notification, as far as the pause is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// A new pending draft (or a burst of them), at the highest level among them.
    NewDraft(RiskLevel),
    /// A high-risk draft still waiting, at its level.
    Reminder(RiskLevel),
    /// Drafts that expired undecided and were denied by default.
    Expired,
}

/// The pause state: `until` is the end of the current pause, Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pause {
    until: Option<i64>,
}

impl Pause {
    /// When the pause in force at `now` ends; `None` when notifications are not paused (never
    /// paused, resumed, or the hour is over).
    pub fn until(&self, now: i64) -> Option<i64> {
        self.until.filter(|&u| u > now)
    }

    /// The tray's toggle: pauses for [`PAUSE_FOR_S`] from `now` when not paused, resumes when
    /// paused. Returns the new end of the pause (`None`: resumed).
    pub fn toggle(&mut self, now: i64) -> Option<i64> {
        self.until = match self.until(now) {
            Some(_) => None,
            None => Some(now + PAUSE_FOR_S),
        };
        self.until
    }

    /// Whether `alert` is shown at `now` (see the module documentation for the rule).
    pub fn allows(&self, alert: Alert, now: i64) -> bool {
        self.until(now).is_none() || alert == Alert::Reminder(RiskLevel::Critical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    #[test]
    fn notifications_show_when_never_paused() {
        let p = Pause::default();
        assert_eq!(p.until(T0), None);
        assert!(p.allows(Alert::NewDraft(RiskLevel::Low), T0));
        assert!(p.allows(Alert::Reminder(RiskLevel::High), T0));
        assert!(p.allows(Alert::Expired, T0));
    }

    #[test]
    fn a_pause_holds_back_everything_but_critical_reminders_for_one_hour() {
        let mut p = Pause::default();
        assert_eq!(p.toggle(T0), Some(T0 + 3600));
        let during = T0 + 3599;
        assert_eq!(p.until(during), Some(T0 + 3600));
        for held in [
            Alert::NewDraft(RiskLevel::Critical),
            Alert::NewDraft(RiskLevel::Low),
            Alert::Reminder(RiskLevel::High),
            Alert::Expired,
        ] {
            assert!(
                !p.allows(held, during),
                "{held:?} is held back while paused"
            );
        }
        assert!(
            p.allows(Alert::Reminder(RiskLevel::Critical), during),
            "a critical draft's reminder still shows: it would be denied at expiry unseen"
        );
    }

    #[test]
    fn the_pause_ends_by_itself_after_the_hour() {
        let mut p = Pause::default();
        p.toggle(T0);
        assert_eq!(p.until(T0 + 3600), None, "over at the hour");
        assert!(p.allows(Alert::NewDraft(RiskLevel::Low), T0 + 3600));
        assert_eq!(
            p.toggle(T0 + 4000),
            Some(T0 + 4000 + 3600),
            "after a pause ran out, the toggle pauses again rather than resuming"
        );
    }

    #[test]
    fn toggling_during_a_pause_resumes_at_once() {
        let mut p = Pause::default();
        p.toggle(T0);
        assert_eq!(p.toggle(T0 + 60), None);
        assert_eq!(p.until(T0 + 61), None);
        assert!(p.allows(Alert::NewDraft(RiskLevel::Medium), T0 + 61));
    }
}
