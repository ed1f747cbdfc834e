//! What to tell finance this run, given the alerts now and the alert state remembered
//! from earlier runs. Pure: the state comes in and goes out; `outbox` stores it.
//!
//! An alert is keyed by (award, rule). It is sent when the state is entered, again when it
//! escalates (a higher severity, or for `consumed` a higher threshold) or, unless it is
//! only info, when `repeat_interval` has passed since it was last sent, and a short "resolved" message
//! goes out when it clears. A snoozed award sends nothing until its snooze ends; its state
//! is left as it was so the alert fires when the snooze is over.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::analyse::alerts::{Alert, Rule, Severity};

/// What the store remembers of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub award: String,
    pub rule: Rule,
    pub severity: Severity,
    pub level: f64,
    pub subject: String,
    /// When it was last queued for sending.
    pub last_sent: DateTime<Utc>,
    /// False once it resolved (kept so a return counts as new).
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    New,
    Escalated,
    Repeat,
    Resolved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Escalated => "escalated",
            EventKind::Repeat => "repeat",
            EventKind::Resolved => "resolved",
        }
    }
}

/// One thing to tell finance. For `Resolved`, `alert` is the alert as it last stood.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub alert: Alert,
}

/// The events of this run and the state to remember after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub events: Vec<Event>,
    pub states: Vec<AlertState>,
}

/// When each award's alerts are snoozed until (inclusive), if they are.
pub(crate) type Snoozes<'a> = &'a dyn Fn(&str) -> Option<NaiveDate>;

pub fn decide(
    current: &[Alert],
    previous: &[AlertState],
    snoozed_until: Snoozes<'_>,
    as_of: NaiveDate,
    now: DateTime<Utc>,
    repeat_interval: Duration,
) -> Decision {
    let snoozed = |award: &str| snoozed_until(award).is_some_and(|until| as_of <= until);
    let mut events = Vec::new();
    let mut states: Vec<AlertState> = Vec::new();
    for alert in current {
        let before = previous
            .iter()
            .find(|s| s.award == alert.award && s.rule == alert.rule && s.active);
        if snoozed(&alert.award) {
            states.extend(before.cloned());
            continue;
        }
        let kind = match before {
            None => Some(EventKind::New),
            Some(s) if alert.severity > s.severity || alert.level > s.level => {
                Some(EventKind::Escalated)
            }
            // An info alert (a consumed threshold, an award used up that a stacked one
            // took over from) is a milestone: news once, never repeated.
            Some(s) if alert.severity > Severity::Info && now - s.last_sent >= repeat_interval => {
                Some(EventKind::Repeat)
            }
            Some(_) => None,
        };
        let last_sent = match (kind, before) {
            (Some(_), _) | (None, None) => now,
            (None, Some(s)) => s.last_sent,
        };
        if let Some(kind) = kind {
            events.push(Event {
                kind,
                alert: alert.clone(),
            });
        }
        states.push(AlertState {
            award: alert.award.clone(),
            rule: alert.rule,
            severity: alert.severity,
            level: alert.level,
            subject: alert.subject.clone(),
            last_sent,
            active: true,
        });
    }
    for s in previous.iter().filter(|s| s.active) {
        let still = current
            .iter()
            .any(|a| a.award == s.award && a.rule == s.rule);
        if still {
            continue;
        }
        if snoozed(&s.award) {
            states.push(s.clone());
            continue;
        }
        events.push(Event {
            kind: EventKind::Resolved,
            alert: Alert {
                award: s.award.clone(),
                rule: s.rule,
                severity: s.severity,
                level: s.level,
                subject: s.subject.clone(),
            },
        });
        states.push(AlertState {
            active: false,
            last_sent: now,
            ..s.clone()
        });
    }
    Decision { events, states }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(award: &str, rule: Rule, severity: Severity, level: f64) -> Alert {
        Alert {
            award: award.into(),
            rule,
            severity,
            level,
            subject: format!("{award} {rule} {level}"),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Runs `decide` over a sequence of (time, alerts), feeding each run's state to the
    /// next; returns the events of each run as "kind award rule".
    fn runs(steps: &[(&str, Vec<Alert>)], snooze: Option<(&str, &str)>) -> Vec<Vec<String>> {
        let mut state = Vec::new();
        let snoozes = move |award: &str| snooze.filter(|(a, _)| *a == award).map(|(_, d)| day(d));
        steps
            .iter()
            .map(|(now, alerts)| {
                let now = at(now);
                let d = decide(
                    alerts,
                    &state,
                    &snoozes,
                    now.date_naive(),
                    now,
                    Duration::hours(24),
                );
                state = d.states;
                d.events
                    .iter()
                    .map(|e| format!("{} {} {}", e.kind.as_str(), e.alert.award, e.alert.rule))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn enter_repeat_escalate_resolve() {
        use Severity::*;
        let risk = |s| alert("poc", Rule::ExhaustionRisk, s, 0.0);
        let got = runs(
            &[
                ("2026-11-20T08:00:00Z", vec![risk(Warning)]),
                // A second run the same day, or after a restart: nothing again.
                ("2026-11-20T09:00:00Z", vec![risk(Warning)]),
                // A day later: the repeat interval has passed.
                ("2026-11-21T08:00:00Z", vec![risk(Warning)]),
                // Worse: escalated at once.
                ("2026-11-21T10:00:00Z", vec![risk(Critical)]),
                // Back to warning within the interval: quiet (no de-escalation mail).
                ("2026-11-21T12:00:00Z", vec![risk(Warning)]),
                // Cleared: one resolved message, then silence.
                ("2026-11-21T14:00:00Z", vec![]),
                ("2026-11-21T16:00:00Z", vec![]),
                // Back: new again.
                ("2026-11-22T08:00:00Z", vec![risk(Warning)]),
            ],
            None,
        );
        assert_eq!(
            got,
            [
                vec!["new poc exhaustion_risk"],
                vec![],
                vec!["repeat poc exhaustion_risk"],
                vec!["escalated poc exhaustion_risk"],
                vec![],
                vec!["resolved poc exhaustion_risk"],
                vec![],
                vec!["new poc exhaustion_risk"],
            ]
        );
    }

    #[test]
    fn a_higher_threshold_escalates() {
        let consumed = |level| alert("poc", Rule::Consumed, Severity::Info, level);
        let got = runs(
            &[
                ("2026-11-01T08:00:00Z", vec![consumed(50.0)]),
                ("2026-11-01T09:00:00Z", vec![consumed(75.0)]),
                ("2026-11-01T10:00:00Z", vec![consumed(75.0)]),
                // Days later, still at 75%: a milestone is news once, never repeated.
                ("2026-11-03T10:00:00Z", vec![consumed(75.0)]),
                ("2026-11-04T10:00:00Z", vec![consumed(100.0)]),
                ("2026-11-09T10:00:00Z", vec![consumed(100.0)]),
            ],
            None,
        );
        assert_eq!(
            got,
            [
                vec!["new poc consumed"],
                vec!["escalated poc consumed"],
                vec![],
                vec![],
                vec!["escalated poc consumed"],
                vec![],
            ]
        );
    }

    #[test]
    fn a_snoozed_award_waits_until_the_snooze_ends() {
        let risk = alert("poc", Rule::ForfeitRisk, Severity::Warning, 0.0);
        let got = runs(
            &[
                ("2026-11-20T08:00:00Z", vec![risk.clone()]),
                ("2026-11-25T08:00:00Z", vec![risk.clone()]),
                ("2026-11-30T08:00:00Z", vec![]),
                ("2026-12-01T08:00:00Z", vec![risk.clone()]),
                ("2026-12-02T08:00:00Z", vec![risk.clone()]),
            ],
            Some(("poc", "2026-12-01")),
        );
        // Snoozed through 2026-12-01 inclusive: silence, even when it cleared and came back.
        assert_eq!(
            got,
            [vec![], vec![], vec![], vec![], vec!["new poc forfeit_risk"]]
        );
    }
}
