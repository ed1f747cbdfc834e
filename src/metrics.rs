//! The daemon's health and Prometheus metrics, rendered from what the state store holds:
//! the last report, the outbox and the last run. Pure: the HTTP listener in `daemon`
//! reads the store on each scrape and calls [`render`].

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::outbox::Deliveries;

/// Everything one scrape shows.
pub struct Snapshot<'a> {
    /// The last run's report (`report --format json`), if a run finished.
    pub report: Option<&'a Value>,
    /// When the last run finished, and how ("ok" or "failed: ...").
    pub last_run: Option<(DateTime<Utc>, String)>,
    pub deliveries: &'a Deliveries,
    /// Cost Explorer requests made since the state store was created.
    pub requests_total: u64,
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn metric(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The Prometheus text exposition.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let awards: Vec<&Value> = s
        .report
        .and_then(|r| r["awards"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let per_award = |field: &str| -> Vec<(String, f64)> {
        awards
            .iter()
            .filter_map(|a| {
                let v = a[field].as_f64()?;
                Some((
                    format!(
                        "{{award=\"{}\",currency=\"{}\"}}",
                        label(a["id"].as_str().unwrap_or_default()),
                        label(a["currency"].as_str().unwrap_or_default())
                    ),
                    v,
                ))
            })
            .collect()
    };
    metric(
        &mut out,
        "creditburn_award_remaining",
        "Balance left on the award.",
        "gauge",
        &per_award("remaining"),
    );
    metric(
        &mut out,
        "creditburn_award_consumed",
        "Covered spend so far.",
        "gauge",
        &per_award("consumed"),
    );
    metric(
        &mut out,
        "creditburn_award_daily_burn",
        "Mean covered spend a day over the burn window.",
        "gauge",
        &per_award("daily_burn"),
    );
    metric(
        &mut out,
        "creditburn_award_days_to_exhaustion",
        "Days the balance lasts at the daily burn (absent when not burning).",
        "gauge",
        &per_award("runway_days"),
    );
    metric(
        &mut out,
        "creditburn_award_projected_unused_at_expiry",
        "Balance projected to be forfeited at expiry.",
        "gauge",
        &per_award("projected_unused_at_expiry"),
    );
    let statuses: Vec<(String, f64)> = awards
        .iter()
        .map(|a| {
            (
                format!(
                    "{{award=\"{}\",status=\"{}\"}}",
                    label(a["id"].as_str().unwrap_or_default()),
                    label(a["status"].as_str().unwrap_or_default())
                ),
                1.0,
            )
        })
        .collect();
    metric(
        &mut out,
        "creditburn_award_status",
        "The award's status, as a label.",
        "gauge",
        &statuses,
    );
    if let Some((at, outcome)) = &s.last_run {
        metric(
            &mut out,
            "creditburn_last_run_timestamp_seconds",
            "When the last run finished.",
            "gauge",
            &[(String::new(), at.timestamp() as f64)],
        );
        metric(
            &mut out,
            "creditburn_last_run_success",
            "1 when the last run succeeded.",
            "gauge",
            &[(String::new(), if outcome == "ok" { 1.0 } else { 0.0 })],
        );
    }
    if let Some(r) = s.report {
        let stale = r["source"]["stale"].as_bool().unwrap_or(false);
        metric(
            &mut out,
            "creditburn_data_stale",
            "1 when the last run fell back to cached figures.",
            "gauge",
            &[(String::new(), if stale { 1.0 } else { 0.0 })],
        );
        let requests = r["source"]["requests"].as_f64().unwrap_or(0.0);
        metric(
            &mut out,
            "creditburn_cost_explorer_requests_last_run",
            "Cost Explorer requests the last run made.",
            "gauge",
            &[(String::new(), requests)],
        );
        let cost = r["source"]["request_cost"].as_f64().unwrap_or(0.0);
        metric(
            &mut out,
            "creditburn_cost_explorer_cost_dollars_last_run",
            "What the last run's requests cost.",
            "gauge",
            &[(String::new(), cost)],
        );
    }
    metric(
        &mut out,
        "creditburn_cost_explorer_requests_total",
        "Cost Explorer requests made, all runs.",
        "counter",
        &[(String::new(), s.requests_total as f64)],
    );
    metric(
        &mut out,
        "creditburn_messages_sent_total",
        "Messages delivered (one per recipient).",
        "counter",
        &[(String::new(), s.deliveries.sent as f64)],
    );
    metric(
        &mut out,
        "creditburn_messages_failed_total",
        "Messages refused for good.",
        "counter",
        &[(String::new(), s.deliveries.failed.len() as f64)],
    );
    metric(
        &mut out,
        "creditburn_messages_pending",
        "Messages waiting in the outbox.",
        "gauge",
        &[(String::new(), s.deliveries.pending as f64)],
    );
    out
}

/// `/health`: 200 when the last run (if any) succeeded, 503 with the reason otherwise;
/// then a line per error holding queued deliveries (a refused login, a server down).
pub fn health(
    last_run: Option<&(DateTime<Utc>, String)>,
    deliveries: &Deliveries,
) -> (u16, String) {
    let (status, mut body) = match last_run {
        None => (200, "ok: no run yet\n".to_string()),
        Some((at, outcome)) if outcome == "ok" => (200, format!("ok: last run {at}\n")),
        Some((at, outcome)) => (503, format!("last run {at} {outcome}\n")),
    };
    for w in &deliveries.waiting {
        let _ = writeln!(
            body,
            "{} {} waiting: {}",
            w.messages,
            if w.messages == 1 {
                "delivery"
            } else {
                "deliveries"
            },
            w.error
        );
    }
    (status, body)
}
