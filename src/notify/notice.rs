//! What a run tells, before it is shaped for a channel: one notice per award with
//! alerts raised (its alerts in force, the raised ones first, and its hints), one per
//! resolution. Email, Slack, SNS and webhooks all render the same notices, so every
//! channel tells the same things.

use chrono::{DateTime, Utc};

use crate::analyse::alerts::{Alert, Rule, Severity};
use crate::analyse::analysis::AwardStatus;
use crate::analyse::hints::{Hint, HintKind};
use crate::analyse::report::Report;
use crate::notify::state::{Event, EventKind};

/// What a message is for; stored in the outbox by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Alert,
    Resolved,
    Digest,
    Test,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Resolved => "resolved",
            MessageKind::Digest => "digest",
            MessageKind::Test => "test",
        }
    }
}

/// One thing to tell about one award (or, without one, about the account or the plan).
#[derive(Debug, Clone)]
pub struct Notice<'r> {
    /// `Alert` or `Resolved`.
    pub kind: MessageKind,
    pub award_id: &'r str,
    /// The award as the report has it; None for a resolution of an award no longer
    /// configured.
    pub award: Option<&'r AwardStatus>,
    /// Unique per message: `<as_of>.<award>.<rule>.<event>.<time>`; every channel's
    /// message id is built from it, so a retried message keeps its id.
    pub key: String,
    /// Marked `[stale data]` when the figures could not be refreshed.
    pub subject: String,
    /// The event that leads it (the most severe raised, or the resolution).
    pub lead: &'r Event,
    /// For an alert: every alert in force for the award, the raised ones first, most
    /// severe first. For a resolution: the alert resolved.
    pub alerts: Vec<&'r Alert>,
    pub hints: Vec<&'r Hint>,
}

impl Notice<'_> {
    pub fn severity(&self) -> Severity {
        self.lead.alert.severity
    }

    /// The workloads the award funds (none when it is no longer configured).
    pub fn workloads(&self) -> &[String] {
        self.award.map(|a| a.workloads.as_slice()).unwrap_or(&[])
    }
}

pub(crate) fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

pub(crate) fn stale_subject(report: &Report, subject: &str) -> String {
    if report.source.stale {
        format!("[stale data] {subject}")
    } else {
        subject.to_string()
    }
}

/// This run's notices: one per award with new, escalated or repeated alerts (its subject
/// is the most severe alert's), in the report's order, then one per resolved alert.
pub fn notices<'r>(report: &'r Report, events: &'r [Event], now: DateTime<Utc>) -> Vec<Notice<'r>> {
    let mut out = Vec::new();
    for award in &report.awards {
        let mut raised: Vec<&Event> = events
            .iter()
            .filter(|e| e.alert.award == award.id && e.kind != EventKind::Resolved)
            .collect();
        if raised.is_empty() {
            continue;
        }
        // Most severe first; for `consumed`, the highest threshold first.
        raised.sort_by(|a, b| {
            b.alert
                .severity
                .cmp(&a.alert.severity)
                .then(b.alert.level.total_cmp(&a.alert.level))
        });
        // Every alert in force for the award, the raised ones first.
        let mut alerts: Vec<&Alert> = raised.iter().map(|e| &e.alert).collect();
        for a in report.alerts.iter().filter(|a| a.award == award.id) {
            if !alerts.iter().any(|b| b.rule == a.rule) {
                alerts.push(a);
            }
        }
        // Saving money on an award that will be forfeited anyway is no help: such an
        // award's message carries only the advice to spend it. Forfeited as AWS draws
        // it, that is: an award AWS spends on other workloads before its expiry (no
        // `forfeit_risk` alert, whatever its workloads' view says) gets its savings.
        let forfeited = report
            .alerts
            .iter()
            .any(|a| a.award == award.id && a.rule == Rule::ForfeitRisk);
        let hints: Vec<&Hint> = report
            .hints
            .iter()
            .filter(|h| h.award.as_deref() == Some(award.id.as_str()))
            .filter(|h| !forfeited || h.kind == HintKind::PullWorkForward)
            .collect();
        let lead = raised[0];
        out.push(Notice {
            kind: MessageKind::Alert,
            award_id: &award.id,
            award: Some(award),
            key: format!(
                "{}.{}.{}.{}.{}",
                report.as_of,
                award.id,
                lead.alert.rule,
                lead.kind.as_str(),
                stamp(now)
            ),
            subject: stale_subject(report, &lead.alert.subject),
            lead,
            alerts,
            hints,
        });
    }
    // Alerts that are not about an award (the account's `out_of_pocket`, the plan's
    // `apply_by`): a notice per key, without an award, after the awards'.
    let mut keys: Vec<&str> = Vec::new();
    for e in events.iter().filter(|e| e.kind != EventKind::Resolved) {
        let key = e.alert.award.as_str();
        if !report.awards.iter().any(|a| a.id == key) && !keys.contains(&key) {
            keys.push(key);
        }
    }
    for key in keys {
        let mut raised: Vec<&Event> = events
            .iter()
            .filter(|e| e.alert.award == key && e.kind != EventKind::Resolved)
            .collect();
        raised.sort_by_key(|e| std::cmp::Reverse(e.alert.severity));
        let lead = raised[0];
        out.push(Notice {
            kind: MessageKind::Alert,
            award_id: &lead.alert.award,
            award: None,
            key: format!(
                "{}.{}.{}.{}.{}",
                report.as_of,
                key,
                lead.alert.rule,
                lead.kind.as_str(),
                stamp(now)
            ),
            subject: stale_subject(report, &lead.alert.subject),
            lead,
            alerts: raised.iter().map(|e| &e.alert).collect(),
            hints: Vec::new(),
        });
    }
    for e in events.iter().filter(|e| e.kind == EventKind::Resolved) {
        out.push(Notice {
            kind: MessageKind::Resolved,
            award_id: &e.alert.award,
            award: report.awards.iter().find(|a| a.id == e.alert.award),
            key: format!(
                "{}.{}.{}.resolved.{}",
                report.as_of,
                e.alert.award,
                e.alert.rule,
                stamp(now)
            ),
            subject: stale_subject(report, &format!("Resolved: {}", e.alert.subject)),
            lead: e,
            alerts: vec![&e.alert],
            hints: Vec::new(),
        });
    }
    out
}
