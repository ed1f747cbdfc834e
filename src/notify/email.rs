//! Rendering alert emails for finance: subject, plain text and HTML. Pure; building the
//! MIME message and writing it is `deliver`'s job.

use chrono::{DateTime, Utc};

use crate::analyse::alerts::Alert;
use crate::analyse::analysis::AwardStatus;
use crate::analyse::hints::Hint;
use crate::analyse::report::{projection_sentence, Report};
use crate::model::deliveries::Deliveries;
use crate::model::money::money;
use crate::model::text::{capitalised, wrap};
use crate::notify::state::Event;

/// The Content-ID of the chart an email may carry inline.
pub const CHART_CID: &str = "burn-down@creditburn";

pub use crate::notify::notice::MessageKind;
use crate::notify::notice::{stale_subject, stamp, Notice};

/// One email: an alert about one award, a resolution, the digest, or a test.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEmail {
    pub kind: MessageKind,
    pub award: Option<String>,
    /// Unique per message: `<as_of>.<award>.<rule>.<event>.<time>`; the Message-ID is
    /// built from it, so a retried message keeps its id.
    pub key: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A PNG shown inline in the HTML (Content-ID [`CHART_CID`]).
    pub chart: Option<Vec<u8>>,
    /// The digest's small charts, one per award shown: (Content-ID, PNG).
    pub award_charts: Vec<(String, Vec<u8>)>,
}

/// The emails for this run's events: one per award with new, escalated or repeated
/// alerts (its subject is the most severe alert's), and one short message per resolved
/// alert.
pub fn render(report: &Report, events: &[Event], now: DateTime<Utc>) -> Vec<AlertEmail> {
    crate::notify::notice::notices(report, events, now)
        .iter()
        .map(|n| email_of(report, n))
        .collect()
}

fn email_of(report: &Report, n: &Notice) -> AlertEmail {
    match (n.kind, n.award) {
        (MessageKind::Alert, Some(award)) => AlertEmail {
            kind: MessageKind::Alert,
            award: Some(award.id.clone()),
            key: n.key.clone(),
            subject: n.subject.clone(),
            text: text(report, award, &n.alerts, &n.hints),
            html: html(report, award, &n.alerts, &n.hints),
            chart: crate::notify::chart::burn_down(award, report.as_of),
            award_charts: Vec::new(),
        },
        _ => {
            let body = resolved_body(report, n);
            let mut text = wrap(&body, 72);
            text.push('\n');
            text.push_str(&footer(report));
            let html = format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:680px\">\n<h2>{title}</h2>\n<p>{}</p>\n<p style=\"color:#666;font-size:12px\">{}</p>\n</body></html>\n",
                escape(&body).replace("\n\n", "</p><p>"),
                escape(footer(report).trim()).replace('\n', "<br>"),
                title = escape(&n.subject),
            );
            AlertEmail {
                kind: n.kind,
                award: Some(n.award_id.to_string()),
                key: n.key.clone(),
                subject: n.subject.clone(),
                text,
                html,
                chart: None,
                award_charts: Vec::new(),
            }
        }
    }
}

/// A notice without an award's figures, in words: a resolution (what no longer holds,
/// and where the award stands now), or an alert about the account or the plan (every
/// alert in force under its key, and when the account starts paying).
pub(crate) fn resolved_body(report: &Report, n: &Notice) -> String {
    let account = crate::analyse::report::out_of_pocket_sentence(&report.out_of_pocket);
    if n.kind == MessageKind::Alert {
        let alerts: Vec<String> = n
            .alerts
            .iter()
            .map(|a| format!("- [{}] {}", a.severity.as_str(), a.subject))
            .collect();
        return format!(
            "As of {}:\n{}\n\n{}",
            report.as_of,
            alerts.join("\n"),
            capitalised(&account)
        );
    }
    let (whom, now_text) = match n.award {
        Some(a) => (format!("award {}", n.award_id), projection_sentence(a)),
        None if report.awards.iter().all(|a| a.id != n.award_id)
            && n.lead.alert.rule.is_account() =>
        {
            (format!("the {}", n.award_id), capitalised(&account))
        }
        None => (
            format!("award {}", n.award_id),
            "The award is no longer in the configuration.".to_string(),
        ),
    };
    format!(
        "As of {}, this no longer holds for {whom}: {}\n\nNow: {now_text}",
        report.as_of, n.lead.alert.subject
    )
}

/// Spend of the award's workloads it does not pay for (Marketplace models, other services).
const NOT_COVERED: &str = "Not covered by this award";

pub(crate) fn facts(a: &AwardStatus) -> Vec<(&'static str, String)> {
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
            crate::analyse::report::exhaustion_range(a)
                .unwrap_or_else(|| "not before expiry".to_string()),
        ),
        (
            "Projected unused at expiry",
            format!(
                "{} (P10 {}, P90 {})",
                money(a.projected_unused_at_expiry),
                money(a.forecast.unused_at_expiry.p10),
                money(a.forecast.unused_at_expiry.p90)
            ),
        ),
        (
            "Pace against plan",
            format!(
                "{} {} ({:+.1} days; plan {} by now)",
                money(a.pace.ahead.abs()),
                if a.pace.ahead >= 0.0 {
                    "ahead"
                } else {
                    "behind"
                },
                a.pace.ahead_days,
                money(a.pace.planned)
            ),
        ),
        (
            "As AWS draws it",
            format!(
                "{} left{}",
                money(a.account_view.remaining),
                a.account_view
                    .exhaustion_date
                    .map(|d| format!(", runs out on {d}"))
                    .unwrap_or_default()
            ),
        ),
        (
            "Status",
            match a.uncertainty() {
                Some(unsure) => format!(
                    "{} (uncertain: {unsure})",
                    a.status.as_str().replace('_', " ")
                ),
                None => a.status.as_str().replace('_', " "),
            },
        ),
        ("Workloads", a.workloads.join(", ")),
    ]
}

/// The warning every alert built on stale data carries.
pub(crate) fn stale_banner(report: &Report) -> Option<String> {
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
            s.push_str(&wrap(&format!("{}. {}", h.number, h.text), 72));
            s.push_str(&wrap(&format!("   How: {}", h.arithmetic), 72));
        }
    }
    let models = models_of(report, a);
    let table = crate::analyse::report::models_table(models);
    if !table.is_empty() {
        s.push_str("\nTokens behind the spend");
        s.push_str(&table);
    }
    s.push('\n');
    s.push_str(&footer(report));
    s
}

/// The workloads an award funds, as the report has them.
fn models_of<'r>(
    report: &'r Report,
    a: &AwardStatus,
) -> Vec<&'r crate::analyse::analysis::WorkloadSpend> {
    report
        .workloads
        .iter()
        .filter(|w| a.workloads.contains(&w.name))
        .collect()
}

pub(crate) fn footer(report: &Report) -> String {
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

pub(crate) fn escape(s: &str) -> String {
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
    h.push_str(&format!(
        "<p><img src=\"cid:{CHART_CID}\" width=\"{}\" height=\"{}\" alt=\"Burn-down of {}: the balance so far (blue), the plan (grey), the projection at the current burn with its range (orange), where it runs out (purple dot), today (green dashes) and the expiry (red).\" style=\"border:1px solid #ddd\"></p>\n",
        crate::notify::chart::WIDTH,
        crate::notify::chart::HEIGHT,
        escape(&a.id)
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
            let lever = hint.kind.as_str().replace('_', " ");
            h.push_str(&format!(
                "<tr><td style=\"padding:4px 8px 4px 0;vertical-align:top\">{}</td><td style=\"text-align:right;padding:4px 8px;vertical-align:top\">{}</td><td style=\"text-align:right;padding:4px 8px;vertical-align:top\">{}</td><td style=\"padding:4px 0\">{}<br><span style=\"color:#555;font-size:12px\">How: {}</span></td></tr>\n",
                escape(&lever),
                escape(&hint.worth()),
                hint.runway_days_gained.map(|d| format!("+{d:.0} days")).unwrap_or_else(|| "-".into()),
                escape(&hint.text),
                escape(&hint.arithmetic)
            ));
        }
        h.push_str("</table>\n");
    }
    let models = models_of(report, a);
    if models.iter().any(|w| !w.models.is_empty()) {
        h.push_str("<h3>Tokens behind the spend, last 30 days</h3>\n<table style=\"border-collapse:collapse;font-size:14px\">\n");
        h.push_str("<tr><th style=\"text-align:left;padding:4px 12px 4px 0\">Model</th><th style=\"text-align:right;padding:4px 12px 4px 0\">Input tokens</th><th style=\"text-align:right;padding:4px 12px 4px 0\">Output tokens</th><th style=\"text-align:right;padding:4px 12px 4px 0\">Billed</th><th style=\"text-align:right;padding:4px 12px 4px 0\">Per 1M in / out</th><th style=\"text-align:left;padding:4px 0\">Against list</th></tr>\n");
        for w in &models {
            for m in &w.models {
                let tokens = |v: Option<f64>| v.map_or("-".into(), crate::model::text::short_count);
                let price = |k: &str| {
                    m.effective_per_million
                        .get(k)
                        .map_or("-".into(), |p| crate::analyse::levers::per_million(*p))
                };
                let check = match (m.price_check, m.bill_vs_list_percent) {
                    (crate::analyse::tokens::PriceCheck::Mismatch, Some(p)) => format!("{p:+.1}%"),
                    (c, _) => c.as_str().replace('_', " "),
                };
                h.push_str(&format!(
                    "<tr><td style=\"{CELL}\">{} ({})</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{} / {}</td><td style=\"{CELL}\">{}</td></tr>\n",
                    escape(m.name.as_deref().unwrap_or(&m.model)),
                    escape(&w.name),
                    tokens(m.tokens.input),
                    tokens(m.tokens.output),
                    money(m.billed),
                    price("input"),
                    price("output"),
                    escape(&check)
                ));
            }
        }
        h.push_str("</table>\n");
    }
    h.push_str(&format!(
        "<p style=\"color:#666;font-size:12px\">{}</p>\n</body></html>\n",
        escape(footer(report).trim()).replace('\n', "<br>")
    ));
    h
}

/// The digest: every award's status, even when nothing is wrong, with the alerts in force
/// and any message that could not be delivered.
/// A digest table cell: padded on the right so neighbouring figures never touch.
const CELL: &str = "padding:4px 12px 4px 0;border-bottom:1px solid #eee";
/// A money cell: as [`CELL`], right-aligned so the digits line up.
const MONEY_CELL: &str =
    "padding:4px 12px 4px 0;border-bottom:1px solid #eee;text-align:right;white-space:nowrap";

/// The most awards the digest's table lists, at-risk ones first; the rest are counted.
pub const DIGEST_ROWS: usize = 200;
/// The most awards the digest draws a small chart for (those that need an eye first):
/// each is an inline image of about 15 KB.
pub const DIGEST_CHARTS: usize = 12;

/// The dates and balances of an award, each with its P10-P90 range beside it.
fn digest_dates(a: &AwardStatus) -> Vec<(&'static str, String)> {
    let q = &a.forecast.unused_at_expiry;
    let mut rows = vec![
        (
            "Consumed",
            format!(
                "{} of {} ({}%), {} left",
                money(a.consumed),
                money(a.amount),
                a.consumed_percent,
                money(a.remaining)
            ),
        ),
        (
            "Runs out",
            crate::analyse::report::exhaustion_range(a)
                .unwrap_or_else(|| "not before expiry".to_string()),
        ),
        (
            "Unused at expiry",
            format!(
                "{} (P10 {}, P90 {})",
                money(a.projected_unused_at_expiry),
                money(q.p10),
                money(q.p90)
            ),
        ),
        (
            "Expires",
            format!("{} ({} days left)", a.expiry_date, a.days_left),
        ),
    ];
    if let Some(unsure) = a.uncertainty() {
        rows.push(("Uncertain", unsure));
    }
    rows
}

/// The most awards (at risk first) the digest says in a sentence each, and the most
/// alerts, warnings and failed messages it lists: beyond, a count and where to look.
pub const DIGEST_DETAIL: usize = 50;

/// Whether an award needs finance's eye: a risk, no reliable data, or used up with its
/// spend paid out of pocket (used up while the awards stacked behind it pay is not).
pub(crate) fn needs_attention(a: &AwardStatus) -> bool {
    use crate::analyse::project::Status;
    match a.status {
        Status::ExhaustionRisk | Status::ForfeitRisk | Status::NoData => true,
        Status::Exhausted => a.out_of_pocket >= 0.005,
        _ => false,
    }
}

/// The award's status in words, ", uncertain" when its range reaches another.
pub(crate) fn status_words(a: &AwardStatus) -> String {
    let status = a.status.as_str().replace('_', " ");
    match a.confidence {
        crate::analyse::analysis::Confidence::Firm => status,
        crate::analyse::analysis::Confidence::Uncertain => format!("{status}, uncertain"),
    }
}

/// The awards that need attention first, then the rest, each in the order given.
pub(crate) fn attention_first<'a>(
    awards: impl IntoIterator<Item = &'a AwardStatus> + Clone,
) -> Vec<&'a AwardStatus> {
    let mut ordered: Vec<&AwardStatus> = awards
        .clone()
        .into_iter()
        .filter(|a| needs_attention(a))
        .collect();
    ordered.extend(awards.into_iter().filter(|a| !needs_attention(a)));
    ordered
}

/// `items`, at most `max` of them, and a line saying how many more there are.
fn at_most<T>(items: &[T], max: usize) -> (&[T], Option<String>) {
    if items.len() <= max {
        (items, None)
    } else {
        (
            &items[..max],
            Some(format!(
                "... and {} more (creditburn report lists them all)",
                items.len() - max
            )),
        )
    }
}

pub fn render_digest(report: &Report, deliveries: &Deliveries, now: DateTime<Utc>) -> AlertEmail {
    use crate::analyse::project::Status;
    let at_risk = report
        .awards
        .iter()
        .filter(|a| needs_attention(a) && a.status != Status::NoData)
        .count();
    let no_data = report
        .awards
        .iter()
        .filter(|a| a.status == Status::NoData)
        .count();
    let subject = stale_subject(
        report,
        &format!(
            "Credits digest as of {}: {}, {} at risk{}",
            report.as_of,
            crate::model::text::count(report.awards.len() as u64, "award", "awards"),
            at_risk,
            if no_data > 0 {
                format!(", {no_data} without reliable data")
            } else {
                String::new()
            }
        ),
    );
    let mut text = String::new();
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:760px\">\n<h2>{t}</h2>\n",
        t = escape(&subject)
    );
    if let Some(banner) = stale_banner(report) {
        text.push_str(&wrap(&banner, 72));
        text.push('\n');
        html.push_str(&format!(
            "<p style=\"background:#fff3cd;border:1px solid #e0b000;padding:8px\"><b>{}</b></p>\n",
            escape(&banner)
        ));
    }
    // When the account starts paying, as AWS draws the credits: what finance acts on
    // first, so it heads the digest.
    if !report.awards.is_empty() {
        let line = capitalised(&crate::analyse::report::out_of_pocket_sentence(
            &report.out_of_pocket,
        ));
        text.push_str(&wrap(&line, 72));
        text.push('\n');
        html.push_str(&format!("<p><b>{}</b></p>\n", escape(&line)));
    }
    html.push_str("<table style=\"border-collapse:collapse;font-size:14px\">\n<tr>");
    for (h, align) in [
        ("Award", "left"),
        ("Amount", "right"),
        ("Consumed", "right"),
        ("Remaining", "right"),
        ("Burn a day", "right"),
        ("Expires", "left"),
        ("Status", "left"),
    ] {
        html.push_str(&format!("<th style=\"text-align:{align};padding:4px 12px 4px 0;border-bottom:2px solid #999\">{h}</th>"));
    }
    html.push_str("</tr>\n");
    // The awards that need attention first (in the order configured), then the rest:
    // a digest of thousands of awards stays readable and bounded.
    let ordered = attention_first(&report.awards);
    let sentences: Vec<&AwardStatus> = if report.awards.len() <= DIGEST_DETAIL {
        report.awards.iter().collect()
    } else {
        ordered
            .iter()
            .copied()
            .filter(|a| needs_attention(a))
            .collect()
    };
    let (sentences, more_sentences) = at_most(&sentences, DIGEST_DETAIL);
    for a in sentences {
        text.push_str(&wrap(
            &format!(
                "{} ({}{}): {}",
                a.id,
                a.status.as_str().replace('_', " "),
                match a.confidence {
                    crate::analyse::analysis::Confidence::Firm => "",
                    crate::analyse::analysis::Confidence::Uncertain => ", uncertain",
                },
                projection_sentence(a)
            ),
            72,
        ));
    }
    if let Some(more) = &more_sentences {
        text.push_str(&wrap(more, 72));
    }
    let rows: Vec<&AwardStatus> = if report.awards.len() <= DIGEST_ROWS {
        report.awards.iter().collect()
    } else {
        ordered.clone()
    };
    let (rows, more_rows) = at_most(&rows, DIGEST_ROWS);
    for a in rows {
        html.push_str(&format!(
            "<tr><td style=\"{CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{MONEY_CELL}\">{}</td><td style=\"{CELL}\">{}</td><td style=\"{CELL}\">{}</td></tr>\n",
            escape(&a.id),
            money(a.amount),
            money(a.consumed),
            money(a.remaining),
            money(a.daily_burn),
            a.expiry_date,
            match a.confidence {
                crate::analyse::analysis::Confidence::Firm => a.status.as_str().replace('_', " "),
                c => format!("{} ({})", a.status.as_str().replace('_', " "), c.as_str()),
            }
        ));
    }
    html.push_str("</table>\n");
    if let Some(more) = &more_rows {
        html.push_str(&format!("<p>{}</p>\n", escape(more)));
    }
    // Each award in a block, instead of a paragraph: its small chart (the first
    // DIGEST_CHARTS, those that need an eye first) and each figure and date with its
    // range beside it. The plain-text part keeps the sentences.
    let mut charts = Vec::new();
    for a in sentences {
        html.push_str(&format!(
            "<div style=\"border-top:1px solid #ddd;padding:8px 0\"><h3 style=\"margin:4px 0\">{} <span style=\"font-weight:normal;font-size:13px\">({})</span></h3>\n",
            escape(&a.id),
            escape(&status_words(a))
        ));
        if charts.len() < DIGEST_CHARTS {
            if let Some(png) =
                crate::notify::chart::png(a, report.as_of, crate::notify::chart::SMALL)
            {
                let cid = format!("burn-down-{}@creditburn", charts.len() + 1);
                html.push_str(&format!(
                    "<img src=\"cid:{cid}\" width=\"{}\" height=\"{}\" alt=\"Burn-down of {}\" style=\"border:1px solid #ddd;max-width:100%;height:auto\"><br>\n",
                    crate::notify::chart::SMALL.width,
                    crate::notify::chart::SMALL.height,
                    escape(&a.id)
                ));
                charts.push((cid, png));
            }
        }
        html.push_str("<table style=\"border-collapse:collapse;font-size:14px\">\n");
        for (k, v) in digest_dates(a) {
            html.push_str(&format!(
                "<tr><th style=\"text-align:left;font-weight:normal;color:#555;{CELL}\">{}</th><td style=\"{CELL}\">{}</td></tr>\n",
                escape(k),
                escape(&v)
            ));
        }
        html.push_str("</table></div>\n");
    }
    if let Some(more) = &more_sentences {
        html.push_str(&format!("<p>{}</p>\n", escape(more)));
    }
    // The credits no award names, as AWS draws them.
    for line in report
        .other_credits
        .iter()
        .map(crate::analyse::report::other_credit_sentence)
    {
        text.push('\n');
        text.push_str(&wrap(&capitalised(&line), 72));
        html.push_str(&format!("<p>{}</p>\n", escape(&capitalised(&line))));
    }
    if !report.alerts.is_empty() {
        text.push_str("\nAlerts in force\n");
        html.push_str("<h3>Alerts in force</h3>\n<ul>\n");
        let (alerts, more) = at_most(&report.alerts, DIGEST_DETAIL);
        if let Some(more) = more {
            text.push_str(&wrap(&more, 72));
            html.push_str(&format!("<li>{}</li>\n", escape(&more)));
        }
        for al in alerts {
            text.push_str(&wrap(
                &format!("- [{}] {}", al.severity.as_str(), al.subject),
                72,
            ));
            html.push_str(&format!(
                "<li><b>{}</b>: {}</li>\n",
                al.severity.as_str(),
                escape(&al.subject)
            ));
        }
        html.push_str("</ul>\n");
    }
    if !report.data.warnings.is_empty() {
        text.push_str("\nWarnings about the data and the configuration\n");
        html.push_str("<h3>Warnings about the data and the configuration</h3>\n<ul>\n");
        let (warnings, more) = at_most(&report.data.warnings, DIGEST_DETAIL);
        if let Some(more) = more {
            text.push_str(&wrap(&more, 72));
            html.push_str(&format!("<li>{}</li>\n", escape(&more)));
        }
        for w in warnings {
            text.push_str(&wrap(&format!("- {w}"), 72));
            html.push_str(&format!("<li>{}</li>\n", escape(w)));
        }
        html.push_str("</ul>\n");
    }
    if !deliveries.failed.is_empty() {
        text.push_str("\nMessages that could not be delivered\n");
        html.push_str("<h3>Messages that could not be delivered</h3>\n<ul>\n");
        let (failed, more) = at_most(&deliveries.failed, DIGEST_DETAIL);
        if let Some(more) = more {
            text.push_str(&wrap(&more, 72));
            html.push_str(&format!("<li>{}</li>\n", escape(&more)));
        }
        for f in failed {
            text.push_str(&wrap(
                &format!(
                    "- {} ({}): {}",
                    f.subject,
                    f.failed_at.format("%Y-%m-%d %H:%M UTC"),
                    f.error
                ),
                72,
            ));
            html.push_str(&format!(
                "<li>{} ({}): {}</li>\n",
                escape(&f.subject),
                f.failed_at.format("%Y-%m-%d %H:%M UTC"),
                escape(&f.error)
            ));
        }
        html.push_str("</ul>\n");
    }
    text.push('\n');
    text.push_str(&footer(report));
    html.push_str(&format!(
        "<p style=\"color:#666;font-size:12px\">{}</p>\n</body></html>\n",
        escape(footer(report).trim()).replace('\n', "<br>")
    ));
    AlertEmail {
        kind: MessageKind::Digest,
        award: None,
        key: format!("{}.digest.{}", report.as_of, stamp(now)),
        subject,
        text,
        html,
        chart: None,
        award_charts: charts,
    }
}

/// `creditburn send-test-email`: proves the configuration delivers.
pub(crate) fn render_test(
    transport: &str,
    recipients: &[String],
    now: DateTime<Utc>,
) -> AlertEmail {
    let body = format!(
        "This is a test message from creditburn, sent {} through {transport} to {}. If you can read it, alerts and digests will reach you the same way.",
        now.format("%Y-%m-%d %H:%M:%S UTC"),
        recipients.join(", ")
    );
    AlertEmail {
        kind: MessageKind::Test,
        award: None,
        key: format!("test.{}", stamp(now)),
        subject: "creditburn test message".into(),
        text: wrap(&body, 72),
        html: format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>creditburn test message</title></head><body style=\"font-family:Arial,Helvetica,sans-serif\"><p>{}</p></body></html>\n",
            escape(&body)
        ),
        chart: None,
        award_charts: Vec::new(),
    }
}
