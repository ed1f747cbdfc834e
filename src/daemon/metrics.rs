//! The daemon's health and Prometheus metrics, rendered from what the state store holds:
//! the last report, the outbox and the last run. Pure: the HTTP listener in `daemon`
//! reads the store on each scrape and calls [`render`].

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::model::deliveries::Deliveries;
use crate::model::outcome::Outcome;

/// Everything one scrape shows.
pub struct Snapshot<'a> {
    /// The last run's report (`report --format json`), if a run finished.
    pub report: Option<&'a Value>,
    /// When the last run finished, and how.
    pub last_run: Option<(DateTime<Utc>, Outcome)>,
    pub deliveries: &'a Deliveries,
    /// Cost Explorer requests made since the state store was created.
    pub requests_total: u64,
}

/// The content type of [`render`]'s exposition.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;
type GaugeF = Gauge<f64, AtomicU64>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = GaugeF::default();
    g.set(value);
    registry.register(name, help, g);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// The OpenMetrics text exposition, encoded by the Prometheus project's client
/// (`prometheus-client`). Counters are named without `_total`; the encoder adds it.
pub fn render(s: &Snapshot) -> String {
    let mut registry = Registry::default();
    let awards: Vec<&Value> = s
        .report
        .and_then(|r| r["awards"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let str_of = |a: &Value, k: &str| a[k].as_str().unwrap_or_default().to_string();
    let mut per_award = |name: &str, help: &str, field: &str| {
        let family = Family::<Labels, GaugeF>::default();
        for a in &awards {
            if let Some(v) = a[field].as_f64() {
                family
                    .get_or_create(&vec![
                        ("award".to_string(), str_of(a, "id")),
                        ("currency".to_string(), str_of(a, "currency")),
                    ])
                    .set(v);
            }
        }
        registry.register(name, help, family);
    };
    per_award(
        "creditburn_award_remaining",
        "Balance left on the award.",
        "remaining",
    );
    per_award(
        "creditburn_award_consumed",
        "Covered spend so far.",
        "consumed",
    );
    per_award(
        "creditburn_award_daily_burn",
        "Mean covered spend a day over the burn window.",
        "daily_burn",
    );
    per_award(
        "creditburn_award_trailing_mean_runway_days",
        "Days the balance lasts at the trailing-mean daily burn, not the forecast (absent when not burning).",
        "runway_days",
    );
    per_award(
        "creditburn_award_projected_unused_at_expiry",
        "Balance the forecast (P50) leaves at expiry, as the report and emails give it.",
        "projected_unused_at_expiry",
    );
    // The forecast's quantiles, as the report and the emails give them: the day the
    // balance runs out (absent when it lasts to expiry) and what is left at expiry.
    let as_of = s
        .report
        .and_then(|r| r["as_of"].as_str())
        .and_then(|d| d.parse::<NaiveDate>().ok());
    let exhaustion = Family::<Labels, GaugeF>::default();
    let exhaustion_days = Family::<Labels, GaugeF>::default();
    let unused = Family::<Labels, GaugeF>::default();
    for a in &awards {
        for (key, quantile) in [("p10", "0.1"), ("p50", "0.5"), ("p90", "0.9")] {
            let labels = vec![
                ("award".to_string(), str_of(a, "id")),
                ("currency".to_string(), str_of(a, "currency")),
                ("quantile".to_string(), quantile.to_string()),
            ];
            let date = a["forecast"]["exhaustion_date"][key]
                .as_str()
                .and_then(|d| d.parse::<NaiveDate>().ok());
            if let Some(date) = date {
                let midnight = date.and_time(NaiveTime::MIN).and_utc().timestamp();
                exhaustion.get_or_create(&labels).set(midnight as f64);
                if let Some(as_of) = as_of {
                    exhaustion_days
                        .get_or_create(&labels)
                        .set((date - as_of).num_days() as f64);
                }
            }
            if let Some(v) = a["forecast"]["unused_at_expiry"][key].as_f64() {
                unused.get_or_create(&labels).set(v);
            }
        }
    }
    registry.register(
        "creditburn_award_forecast_exhaustion_timestamp_seconds",
        "The day (UTC midnight) the forecast runs the balance out, per quantile (absent when it lasts to expiry).",
        exhaustion,
    );
    registry.register(
        "creditburn_award_forecast_days_to_exhaustion",
        "Days from the report's as-of to the forecast's exhaustion date, per quantile (absent when it lasts to expiry).",
        exhaustion_days,
    );
    registry.register(
        "creditburn_award_forecast_unused_at_expiry",
        "Balance the forecast leaves at expiry, per quantile.",
        unused,
    );
    let statuses = Family::<Labels, GaugeF>::default();
    for a in &awards {
        statuses
            .get_or_create(&vec![
                ("award".to_string(), str_of(a, "id")),
                ("status".to_string(), str_of(a, "status")),
            ])
            .set(1.0);
    }
    registry.register(
        "creditburn_award_status",
        "The award's status, as a label.",
        statuses,
    );
    if let Some((at, outcome)) = &s.last_run {
        gauge(
            &mut registry,
            "creditburn_last_run_timestamp_seconds",
            "When the last run finished.",
            at.timestamp() as f64,
        );
        gauge(
            &mut registry,
            "creditburn_last_run_success",
            "1 when the last run succeeded.",
            if outcome.is_ok() { 1.0 } else { 0.0 },
        );
    }
    if let Some(r) = s.report {
        let stale = r["source"]["stale"].as_bool().unwrap_or(false);
        gauge(
            &mut registry,
            "creditburn_data_stale",
            "1 when the last run fell back to cached figures.",
            if stale { 1.0 } else { 0.0 },
        );
        // What the last run paid its source: Cost Explorer's pages, or Athena's scans
        // (the one a line-item export in S3 pays is S3's, not counted here).
        match r["source"]["kind"].as_str() {
            Some("athena") => {
                gauge(
                    &mut registry,
                    "creditburn_athena_bytes_scanned_last_run",
                    "Bytes the last run's Athena queries scanned.",
                    r["source"]["bytes_scanned"].as_f64().unwrap_or(0.0),
                );
                gauge(
                    &mut registry,
                    "creditburn_athena_cost_dollars_last_run",
                    "What the last run's Athena queries cost ($5 per TB, 10 MB at least a query).",
                    r["source"]["request_cost"].as_f64().unwrap_or(0.0),
                );
            }
            Some("cur") | Some("focus") => {}
            _ => {
                gauge(
                    &mut registry,
                    "creditburn_cost_explorer_requests_last_run",
                    "Cost Explorer requests the last run made.",
                    r["source"]["requests"].as_f64().unwrap_or(0.0),
                );
                gauge(
                    &mut registry,
                    "creditburn_cost_explorer_cost_dollars_last_run",
                    "What the last run's requests cost.",
                    r["source"]["request_cost"].as_f64().unwrap_or(0.0),
                );
            }
        }
    }
    counter(
        &mut registry,
        "creditburn_cost_explorer_requests",
        "Cost Explorer requests made, all runs.",
        s.requests_total,
    );
    counter(
        &mut registry,
        "creditburn_messages_sent",
        "Deliveries made (one per recipient), all time.",
        s.deliveries.sent,
    );
    counter(
        &mut registry,
        "creditburn_messages_failed",
        "Deliveries refused for good, all time.",
        s.deliveries.failed_total,
    );
    gauge(
        &mut registry,
        "creditburn_messages_pending",
        "Deliveries waiting in the outbox.",
        s.deliveries.pending as f64,
    );
    let waiting: u64 = s.deliveries.waiting.iter().map(|w| w.messages).sum();
    gauge(
        &mut registry,
        "creditburn_messages_held",
        "Queued deliveries that met an error (a refused login, a server down) and wait.",
        waiting as f64,
    );
    let mut out = String::new();
    // Encoding into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// `/health`: 200 when the last run (if any) succeeded, 503 with the reason otherwise;
/// then a line per error holding queued deliveries (a refused login, a server down).
pub fn health(
    last_run: Option<&(DateTime<Utc>, Outcome)>,
    deliveries: &Deliveries,
) -> (u16, String) {
    let (status, mut body) = match last_run {
        None => (200, "ok: no run yet\n".to_string()),
        Some((at, outcome)) if outcome.is_ok() => (200, format!("ok: last run {at}\n")),
        Some((at, outcome)) => (503, format!("last run {at} {outcome}\n")),
    };
    for w in &deliveries.waiting {
        let _ = writeln!(
            body,
            "{} waiting: {}",
            crate::model::text::count(w.messages, "delivery", "deliveries"),
            w.error
        );
    }
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::deliveries::Waiting;

    #[test]
    fn health_names_what_holds_the_queue() {
        let at: DateTime<Utc> = "2026-11-21T08:00:00Z".parse().unwrap();
        let held = Deliveries {
            pending: 6,
            waiting: vec![Waiting {
                error: "535 5.7.8 Authentication failed for [redacted]".into(),
                messages: 6,
            }],
            ..Deliveries::default()
        };
        let failed = (
            at,
            Outcome::Failed("6 deliveries held, none lost".to_string()),
        );
        let (status, body) = health(Some(&failed), &held);
        assert_eq!(status, 503);
        assert_eq!(
            body,
            "last run 2026-11-21 08:00:00 UTC failed: 6 deliveries held, none lost\n\
             6 deliveries waiting: 535 5.7.8 Authentication failed for [redacted]\n"
        );
        let ok = (at, Outcome::Ok);
        assert_eq!(health(Some(&ok), &Deliveries::default()).0, 200);
    }

    #[test]
    fn each_source_reports_what_it_paid_under_its_own_name() {
        let deliveries = Deliveries::default();
        let of = |source: serde_json::Value| {
            let report = serde_json::json!({ "source": source });
            render(&Snapshot {
                report: Some(&report),
                last_run: None,
                deliveries: &deliveries,
                requests_total: 0,
            })
        };
        let athena = of(serde_json::json!({
            "kind": "athena", "requests": 14, "request_cost": 0.02, "bytes_scanned": 4_000_000_000u64
        }));
        assert!(
            athena.contains("creditburn_athena_bytes_scanned_last_run 4000000000"),
            "{athena}"
        );
        assert!(
            athena.contains("creditburn_athena_cost_dollars_last_run 0.02"),
            "{athena}"
        );
        assert!(
            !athena.contains("creditburn_cost_explorer_requests_last_run"),
            "{athena}"
        );
        let aws = of(serde_json::json!({"kind": "aws", "requests": 5, "request_cost": 0.05}));
        assert!(
            aws.contains("creditburn_cost_explorer_requests_last_run 5"),
            "{aws}"
        );
        assert!(!aws.contains("athena"), "{aws}");
        let cur = of(serde_json::json!({"kind": "cur", "requests": 0, "request_cost": 0.0}));
        assert!(!cur.contains("_last_run 0"), "{cur}");
    }

    #[test]
    fn counters_keep_their_names_and_held_deliveries_are_a_gauge() {
        let deliveries = Deliveries {
            sent: 12,
            failed_total: 3,
            waiting: vec![Waiting {
                error: "x".into(),
                messages: 2,
            }],
            ..Deliveries::default()
        };
        let text = render(&Snapshot {
            report: None,
            last_run: None,
            deliveries: &deliveries,
            requests_total: 7,
        });
        for line in [
            "creditburn_messages_sent_total 12",
            "creditburn_messages_failed_total 3",
            "creditburn_cost_explorer_requests_total 7",
            "creditburn_messages_held 2.0",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
    }
}
