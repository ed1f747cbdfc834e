//! The status page: every award with its burn-down chart (inline SVG), its status, the
//! projected date or unused balance with the P10-P90 range, its pace, AWS's view of the
//! same credit, the hints, and when the account starts paying; how fresh the figures
//! are at the top. Pure: the report in, one self-contained HTML document out (no
//! script, no external asset, its one style block allowed by hash in a strict
//! Content-Security-Policy). The daemon serves it on `/`; `report --format html` writes
//! it for a scheduled job.

use chrono::{DateTime, Utc};

use crate::analyse::analysis::AwardStatus;
use crate::analyse::report::{projection_sentence, Report};
use crate::model::text::capitalised;
use crate::notify::email::{
    attention_first, escape, facts, needs_attention, stale_banner, status_words,
};

/// The page's styles: readable on a phone (one column, the chart scaled to the width)
/// and on a desk.
const STYLE: &str = "body{font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;margin:0 auto;max-width:980px;padding:12px}\
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:0 0 4px}\
.fresh{color:#555;font-size:13px}.stale{background:#fff3cd;border:1px solid #e0b000;padding:8px}\
.award{border-top:2px solid #ddd;padding:12px 0}\
.status{display:inline-block;padding:2px 8px;border-radius:10px;font-size:13px;background:#eee}\
.risk{background:#fde2e1}.ok{background:#e3f4e6}\
.chart svg{width:100%;height:auto;max-width:720px}\
table{border-collapse:collapse;font-size:14px;width:100%;max-width:720px}\
th{text-align:left;font-weight:normal;color:#555;padding:4px 12px 4px 0;vertical-align:top;width:40%}\
td{padding:4px 0;border-bottom:1px solid #eee}\
li{margin:4px 0}";

/// The page and the Content-Security-Policy that lets it show and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub html: String,
    pub csp: String,
}

/// `default-src 'none'`: no script, no frame, no fetch of any kind; the style block by
/// its hash; images only inline (the charts are SVG elements of the page itself).
pub fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn status_badge(a: &AwardStatus) -> String {
    let class = if needs_attention(a) { "risk" } else { "ok" };
    format!(
        "<span class=\"status {class}\">{}</span>",
        escape(&status_words(a))
    )
}

/// The status page of `report`, made at `now`.
pub fn render(report: &Report, now: DateTime<Utc>) -> Page {
    let csp = content_security_policy();
    let title = format!("creditburn: credits as of {}", report.as_of);
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{}</title><style>{STYLE}</style></head>\n<body>\n<h1>{}</h1>\n",
        escape(&csp),
        escape(&title),
        escape(&title)
    );
    let d = &report.data;
    h.push_str(&format!(
        "<p class=\"fresh\" id=\"freshness\">Figures from Cost Explorer data {} to {}{}. Page made {} UTC.</p>\n",
        d.first_day,
        d.last_day,
        d.estimated_from
            .map(|e| format!("; days from {e} are AWS estimates"))
            .unwrap_or_default(),
        now.format("%Y-%m-%d %H:%M")
    ));
    if let Some(banner) = stale_banner(report) {
        h.push_str(&format!(
            "<p class=\"stale\"><b>{}</b></p>\n",
            escape(&banner)
        ));
    }
    if !report.awards.is_empty() {
        h.push_str(&format!(
            "<p id=\"out-of-pocket\">{}</p>\n",
            escape(&capitalised(
                &crate::analyse::report::out_of_pocket_sentence(&report.out_of_pocket)
            ))
        ));
    }
    // Those that need an eye first, then the rest, each in the configured order.
    for a in attention_first(&report.awards) {
        h.push_str(&format!(
            "<section class=\"award\" id=\"award-{}\" data-award=\"{}\">\n<h2>{} {}</h2>\n<p>{}</p>\n",
            escape(&a.id),
            escape(&a.id),
            escape(&a.id),
            status_badge(a),
            escape(&projection_sentence(a))
        ));
        if let Some(svg) = crate::notify::chart::burn_down_svg(a, report.as_of) {
            h.push_str("<div class=\"chart\">");
            // plotters' document, minus its XML declaration: an element of this page.
            let start = svg.find("<svg").unwrap_or(0);
            h.push_str(&svg[start..]);
            h.push_str("</div>\n");
        }
        h.push_str("<table>\n");
        for (k, v) in facts(a) {
            h.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>\n",
                escape(k),
                escape(&v)
            ));
        }
        h.push_str("</table>\n");
        let hints: Vec<_> = report
            .hints
            .iter()
            .filter(|x| x.award.as_deref() == Some(a.id.as_str()))
            .collect();
        if !hints.is_empty() {
            h.push_str("<h3>What would help</h3>\n<ol>\n");
            for x in hints {
                h.push_str(&format!(
                    "<li>{} <i>({}{})</i></li>\n",
                    escape(&x.text),
                    escape(&x.worth()),
                    x.runway_days_gained
                        .map(|d| format!(", +{d:.0} days of runway"))
                        .unwrap_or_default()
                ));
            }
            h.push_str("</ol>\n");
        }
        h.push_str("</section>\n");
    }
    if !report.alerts.is_empty() {
        h.push_str("<h2>Alerts in force</h2>\n<ul>\n");
        for al in &report.alerts {
            h.push_str(&format!(
                "<li><b>{}</b>: {}</li>\n",
                al.severity.as_str(),
                escape(&al.subject)
            ));
        }
        h.push_str("</ul>\n");
    }
    let q = &report.deliveries;
    h.push_str(&format!(
        "<p class=\"fresh\">Messages: {} sent, {} waiting, {} failed.</p>\n</body></html>\n",
        q.sent, q.pending, q.failed_total
    ));
    Page { html: h, csp }
}
