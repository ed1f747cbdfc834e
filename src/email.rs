//! Rendering alert emails for finance: subject, plain text and HTML. Pure; building the
//! MIME message and writing it is `deliver`'s job.

use crate::alerts::Alert;
use crate::analysis::AwardStatus;
use crate::analysis::Status;
use crate::hints::{Hint, HintKind};
use crate::report::{money, projection_sentence, wrap, Report};

/// One email about one award.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEmail {
    pub award: String,
    /// Stable across runs on the same day: `<as_of>.<award>.<rule>`.
    pub key: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One email per award that has alerts; its subject is the most severe alert's.
pub fn render(report: &Report) -> Vec<AlertEmail> {
    let mut out = Vec::new();
    for award in &report.awards {
        let mut alerts: Vec<&Alert> = report
            .alerts
            .iter()
            .filter(|a| a.award == award.id)
            .collect();
        if alerts.is_empty() {
            continue;
        }
        alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
        // Saving money on an award that will be forfeited anyway is no help: such an
        // award's email carries only the advice to spend it.
        let hints: Vec<&Hint> = report
            .hints
            .iter()
            .filter(|h| h.award.as_deref() == Some(award.id.as_str()))
            .filter(|h| award.status != Status::ForfeitRisk || h.kind == HintKind::PullWorkForward)
            .collect();
        let subject = if report.source.stale {
            format!("[stale data] {}", alerts[0].subject)
        } else {
            alerts[0].subject.clone()
        };
        out.push(AlertEmail {
            award: award.id.clone(),
            key: format!("{}.{}.{}", report.as_of, award.id, alerts[0].rule),
            subject,
            text: text(report, award, &alerts, &hints),
            html: html(report, award, &alerts, &hints),
        });
    }
    out
}

/// Spend of the award's workloads it does not pay for (Marketplace models, other services).
const NOT_COVERED: &str = "Not covered by this award";

fn facts(a: &AwardStatus) -> Vec<(&'static str, String)> {
    vec![
        ("Program", a.program.label().to_string()),
        ("Amount", money(a.amount)),
        (
            "Consumed",
            format!("{} ({}%)", money(a.consumed), a.consumed_percent),
        ),
        ("Remaining", money(a.remaining)),
        (
            "Daily burn",
            format!("{} (last {} days)", money(a.daily_burn), a.burn_window_days),
        ),
        ("Start", a.start_date.to_string()),
        (
            "Expiry",
            format!("{} ({} days left)", a.expiry_date, a.days_left),
        ),
        (
            "Projected exhaustion",
            a.projected_exhaustion_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not before expiry".to_string()),
        ),
        (
            "Projected unused at expiry",
            money(a.projected_unused_at_expiry),
        ),
        ("Status", a.status.as_str().replace('_', " ")),
        ("Workloads", a.workloads.join(", ")),
    ]
}

/// The warning every alert built on stale data carries.
fn stale_banner(report: &Report) -> Option<String> {
    report.source.stale.then(|| {
        format!(
            "Stale data: fetching fresh figures failed ({}). The figures below end on {}.",
            report.source.stale_reasons.join("; "),
            report.data.last_day
        )
    })
}

fn text(report: &Report, a: &AwardStatus, alerts: &[&Alert], hints: &[&Hint]) -> String {
    let mut s = String::new();
    if let Some(banner) = stale_banner(report) {
        s.push_str(&wrap(&banner, 72));
        s.push('\n');
    }
    s.push_str(&wrap(
        &format!(
            "Award {} as of {}: {}",
            a.id,
            report.as_of,
            projection_sentence(a)
        ),
        72,
    ));
    s.push('\n');
    for (k, v) in facts(a) {
        s.push_str(&format!("{k:<28}{v}\n"));
    }
    if a.not_covered > 0.0 {
        s.push_str(&format!("{:<28}{}\n", NOT_COVERED, money(a.not_covered)));
    }
    s.push_str("\nWhy you are receiving this\n");
    for al in alerts {
        s.push_str(&wrap(
            &format!("- [{}] {}", al.severity.as_str(), al.subject),
            72,
        ));
    }
    if !hints.is_empty() {
        s.push_str("\nWhat would help\n");
        for h in hints {
            let runway = h
                .runway_days_gained
                .map(|d| format!(" (+{d:.0} days of runway)"))
                .unwrap_or_default();
            s.push_str(&wrap(&format!("- {}{runway}", h.text), 72));
        }
    }
    s.push('\n');
    s.push_str(&footer(report));
    s
}

fn footer(report: &Report) -> String {
    let d = &report.data;
    let mut s = format!(
        "Figures from Cost Explorer data {} to {}",
        d.first_day, d.last_day
    );
    if let Some(e) = d.estimated_from {
        s.push_str(&format!("; days from {e} are AWS estimates"));
    }
    s.push('.');
    let mut out = wrap(&s, 72);
    out.push_str("Sent by creditburn.\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(report: &Report, a: &AwardStatus, alerts: &[&Alert], hints: &[&Hint]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
    h.push_str(&format!(
        "<title>{}</title></head>\n",
        escape(&alerts[0].subject)
    ));
    h.push_str(
        "<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:680px\">\n",
    );
    if let Some(banner) = stale_banner(report) {
        h.push_str(&format!(
            "<p style=\"background:#fff3cd;border:1px solid #e0b000;padding:8px\"><b>{}</b></p>\n",
            escape(&banner)
        ));
    }
    h.push_str(&format!(
        "<h2 style=\"margin-bottom:4px\">{}</h2>\n",
        escape(&alerts[0].subject)
    ));
    h.push_str(&format!(
        "<p style=\"font-size:15px\">Award <b>{}</b> as of {}: {}</p>\n",
        escape(&a.id),
        report.as_of,
        escape(&projection_sentence(a))
    ));
    h.push_str("<table style=\"border-collapse:collapse;font-size:14px\">\n");
    let mut rows = facts(a);
    if a.not_covered > 0.0 {
        rows.push((NOT_COVERED, money(a.not_covered)));
    }
    for (k, v) in rows {
        h.push_str(&format!(
            "<tr><th style=\"text-align:left;padding:4px 12px 4px 0;border-bottom:1px solid #ddd\">{}</th><td style=\"padding:4px 0;border-bottom:1px solid #ddd\">{}</td></tr>\n",
            escape(k),
            escape(&v)
        ));
    }
    h.push_str("</table>\n<h3>Why you are receiving this</h3>\n<ul>\n");
    for al in alerts {
        h.push_str(&format!(
            "<li><b>{}</b>: {}</li>\n",
            al.severity.as_str(),
            escape(&al.subject)
        ));
    }
    h.push_str("</ul>\n");
    if !hints.is_empty() {
        h.push_str(
            "<h3>What would help</h3>\n<table style=\"border-collapse:collapse;font-size:14px\">\n",
        );
        h.push_str("<tr><th style=\"text-align:left;padding:4px 8px 4px 0\">Lever</th><th style=\"text-align:right;padding:4px 8px\">Worth</th><th style=\"text-align:right;padding:4px 8px\">Runway</th><th style=\"text-align:left;padding:4px 0\">Detail</th></tr>\n");
        for hint in hints {
            let lever = serde_json::to_value(hint.kind)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr><td style=\"padding:4px 8px 4px 0;vertical-align:top\">{}</td><td style=\"text-align:right;padding:4px 8px;vertical-align:top\">{}</td><td style=\"text-align:right;padding:4px 8px;vertical-align:top\">{}</td><td style=\"padding:4px 0\">{}</td></tr>\n",
                escape(&lever),
                escape(&hint.worth()),
                hint.runway_days_gained.map(|d| format!("+{d:.0} days")).unwrap_or_else(|| "-".into()),
                escape(&hint.text)
            ));
        }
        h.push_str("</table>\n");
    }
    h.push_str(&format!(
        "<p style=\"color:#666;font-size:12px\">{}</p>\n</body></html>\n",
        escape(footer(report).trim()).replace('\n', "<br>")
    ));
    h
}
