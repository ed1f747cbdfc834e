//! The report: the analysis, its alerts and hints, as JSON (a stable contract) or as a
//! table that fits an 80-column terminal. Pure.

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::alerts::Alert;
use crate::analyse::analysis::{Analysis, AwardStatus, DataSummary, WorkloadSpend};
use crate::analyse::credits::{self, drift_sentence};
use crate::analyse::hints::Hint;
use crate::model::credits::{AwsCredits, Credit};
use crate::model::money::{dollars, money};
use crate::model::text::wrap;

/// Where the figures came from, and whether they are complete.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStatus {
    /// The source's kind: `fixtures`, `aws`, `cur`, `focus` or `athena`.
    pub kind: String,
    /// The paid requests this run made, and what they cost: Cost Explorer's (each page
    /// is one); Athena's calls, priced by the bytes their queries scanned.
    pub requests: u64,
    #[serde(serialize_with = "crate::model::money::cents")]
    pub request_cost: f64,
    /// Athena: the bytes this run's queries scanned (`request_cost` is their price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_scanned: Option<u64>,
    /// True when a fetch failed and cached figures stood in for fresh ones.
    pub stale: bool,
    pub stale_reasons: Vec<String>,
}

/// `report --format json`. Later work only adds fields.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub as_of: NaiveDate,
    pub currency: String,
    pub awards: Vec<AwardStatus>,
    pub workloads: Vec<WorkloadSpend>,
    /// When the account starts paying out of pocket (the account view).
    pub out_of_pocket: crate::analyse::burn::OutOfPocket,
    /// Credits on the account no award names, as AWS draws them (the account view).
    pub other_credits: Vec<crate::analyse::burn::OtherCreditView>,
    pub alerts: Vec<Alert>,
    pub hints: Vec<Hint>,
    pub data: DataSummary,
    pub source: SourceStatus,
    /// The account's credits per the Billing API (empty when not read).
    pub credits: Vec<Credit>,
    /// Ids of credits on the account that no award names (`creditburn credits --adopt`).
    pub unclaimed_credits: Vec<String>,
    /// When the credits were read.
    pub credits_fetched_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The outbox: messages waiting, sent, and failed for good.
    pub deliveries: crate::model::deliveries::Deliveries,
    /// The next awards to apply for (`creditburn plan`).
    pub plan: Option<crate::analyse::plan::Plan>,
    /// The burn model's future, to draw again with a lever applied (`what-if`).
    #[serde(skip)]
    pub projector: Option<std::sync::Arc<crate::analyse::burn::Projector>>,
}

/// The whole pure pipeline: analysis, reconciliation with AWS's credits when they were
/// read, then alerts and hints, as one report. `last_run` as in `analysis::analyse`.
pub fn assess(
    table: &crate::analyse::table::CostTable,
    config: &crate::config::Config,
    as_of: NaiveDate,
    aws: Option<&AwsCredits>,
    last_run: Option<NaiveDate>,
) -> polars::prelude::PolarsResult<Report> {
    let mut analysis = crate::analyse::analysis::analyse(table, config, as_of, aws, last_run)?;
    if let Some(aws) = aws {
        let mut views = credits::reconcile(
            &config.awards,
            &analysis.awards,
            &aws.credits,
            &aws.allocations,
        );
        for award in &mut analysis.awards {
            award.credit = views.remove(&award.id);
        }
    }
    if let Some(export) = &table.export {
        let mut views = credits::reconcile_bill(&config.awards, &analysis.awards, export, as_of);
        for award in &mut analysis.awards {
            if let Some(view) = views.remove(&award.id) {
                award.credit = Some(view);
            }
        }
    }
    // The account's own alert first: it heads the digest.
    let mut alerts: Vec<_> = crate::analyse::alerts::out_of_pocket(&analysis.out_of_pocket, as_of)
        .into_iter()
        .collect();
    alerts.extend(crate::analyse::alerts::decide(
        &analysis.awards,
        &config.alerts,
    ));
    alerts.extend(crate::analyse::alerts::drawn_by_others_all(
        &analysis.awards,
        &analysis.out_of_pocket,
        &config.alerts,
    ));
    alerts.extend(crate::analyse::alerts::spikes(&analysis.workloads));
    let advice = crate::analyse::hints::advise(
        &analysis.workloads,
        &analysis.awards,
        config,
        Some(&analysis.projector),
        as_of,
    );
    for (name, saving) in advice.combined {
        if let Some(w) = analysis.workloads.iter_mut().find(|w| w.name == name) {
            w.combined_saving = Some(saving);
        }
    }
    // The next awards, from the same projection, and the alert when a date to apply by
    // is near.
    let aws_credits: &[crate::model::credits::Credit] = aws.map_or(&[], |a| &a.credits);
    let plan = crate::analyse::plan::plan(&crate::analyse::plan::Inputs {
        config,
        projector: &analysis.projector,
        workloads: &analysis.workloads,
        credits: aws_credits,
        as_of,
        levers: config.plan.assume_levers,
    });
    alerts.extend(crate::analyse::alerts::apply_by(
        &plan,
        config.plan.alert_days_before,
    ));
    let mut report = Report::new(&analysis, alerts, advice.hints);
    report.plan = Some(plan);
    if let Some(aws) = aws {
        report.credits = aws.credits.clone();
        report.unclaimed_credits =
            crate::analyse::analysis::unclaimed(&config.awards, &aws.credits)
                .into_iter()
                .map(|c| c.credit_id.clone())
                .collect();
        report.credits_fetched_at = Some(aws.fetched_at);
    }
    Ok(report)
}

impl Report {
    pub fn new(analysis: &Analysis, alerts: Vec<Alert>, hints: Vec<Hint>) -> Report {
        Report {
            as_of: analysis.as_of,
            currency: analysis.currency.clone(),
            awards: analysis.awards.clone(),
            workloads: analysis.workloads.clone(),
            out_of_pocket: analysis.out_of_pocket.clone(),
            other_credits: analysis.other_credits.clone(),
            alerts,
            hints,
            data: analysis.data.clone(),
            source: SourceStatus::default(),
            credits: Vec::new(),
            unclaimed_credits: Vec::new(),
            credits_fetched_at: None,
            deliveries: Default::default(),
            plan: None,
            projector: Some(analysis.projector.clone()),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The human view, at most 80 columns wide.
    pub(crate) fn to_table(&self) -> String {
        let mut out = String::new();
        let d = &self.data;
        out.push_str(&format!("creditburn as of {}\n", self.as_of));
        if self.source.stale {
            out.push_str(&wrap(
                &format!("STALE DATA: {}", self.source.stale_reasons.join("; ")),
                80,
            ));
        }
        out.push_str(&wrap(
            &format!(
                "data {} to {}{}",
                d.first_day,
                d.last_day,
                d.estimated_from
                    .map(|e| format!(", estimated by AWS from {e}"))
                    .unwrap_or_default()
            ),
            80,
        ));
        out.push('\n');
        out.push_str(&format!(
            "{:<13} {:>9} {:>9} {:>9} {:>9} {:>10} {}\n",
            "AWARD", "AMOUNT", "CONSUMED", "REMAIN", "BURN/DAY", "EXPIRES", "STATUS"
        ));
        for a in &self.awards {
            out.push_str(&labelled_row(
                &a.id,
                13,
                &format!(
                    "{:>9} {:>9} {:>9} {:>9} {:>10} {}",
                    dollars(a.amount),
                    dollars(a.consumed),
                    dollars(a.remaining),
                    dollars(a.daily_burn),
                    a.expiry_date,
                    a.status.as_str()
                ),
            ));
        }
        out.push('\n');
        for a in &self.awards {
            out.push_str(&wrap(&format!("{}: {}", a.id, projection_sentence(a)), 80));
            if let Some(c) = &a.credit {
                out.push_str(&wrap(&format!("  {}", drift_sentence(c)), 80));
            }
        }
        if !self.awards.is_empty() {
            out.push_str(&wrap(&out_of_pocket_sentence(&self.out_of_pocket), 80));
        }
        if !self.unclaimed_credits.is_empty() {
            out.push_str(&wrap(
                &format!(
                    "credits on the account that no award names: {} (creditburn credits --adopt)",
                    self.unclaimed_credits.join(", ")
                ),
                80,
            ));
        }
        for c in &self.other_credits {
            out.push_str(&wrap(&format!("  {}", other_credit_sentence(c)), 80));
        }
        out.push_str(&format!(
            "\n{:<24} {:>12} {:>12}  {}\n",
            "WORKLOAD", "SPEND", "LAST 30D", "AWARD"
        ));
        for w in &self.workloads {
            out.push_str(&labelled_row(
                &w.name,
                24,
                &format!(
                    "{:>12} {:>12}  {}",
                    money(w.cost),
                    money(w.last_30_days),
                    w.award.as_deref().unwrap_or("-")
                ),
            ));
        }
        out.push_str(&format!(
            "{:<24} {:>12}\n{:<24} {:>12}\n",
            "(unattributed)",
            money(d.unattributed),
            "(total usage)",
            money(d.usage_total)
        ));
        if d.credits_applied != 0.0 {
            out.push_str(&format!(
                "{:<24} {:>12}\n",
                "(credits applied by AWS)",
                money(d.credits_applied)
            ));
        }
        for c in &d.credits_applied_by_credit {
            out.push_str(&wrap(
                &format!(
                    "(credit) {} applied by {} ({} to {})",
                    money(c.amount),
                    crate::model::text::one_line(&c.credit),
                    c.first_day,
                    c.last_day
                ),
                80,
            ));
        }
        out.push_str(&models_table(&self.workloads));
        if !self.alerts.is_empty() {
            out.push_str("\nALERTS\n");
            for a in &self.alerts {
                out.push_str(&wrap(
                    &format!("[{}] {}", a.severity.as_str(), a.subject),
                    80,
                ));
            }
        }
        if !self.hints.is_empty() {
            out.push_str(
                "\nHINTS (creditburn what-if --hint N draws one through the burn model)\n",
            );
            for h in &self.hints {
                out.push_str(&wrap(&format!("{}. {}", h.number, h.text), 80));
            }
        }
        for f in &self.deliveries.failed {
            out.push_str(&wrap(
                &format!("not delivered: {} ({})", f.subject, f.error),
                80,
            ));
        }
        for w in &d.warnings {
            out.push_str(&wrap(&format!("warning: {w}"), 80));
        }
        if d.approximated > 0.0 {
            out.push_str(&wrap(
                &format!(
                    "note: {} of usage was split between accounts, services or tags in proportion to cost",
                    money(d.approximated)
                ),
                80,
            ));
        }
        out
    }
}

/// Where an award's balance brought forward comes from, in words (empty without one).
fn opening_phrase(a: &AwardStatus) -> String {
    a.opening.as_ref().map_or_else(String::new, |o| {
        format!(
            " ({} of it before {}, {})",
            money(o.amount),
            o.date,
            if o.source == "billing" {
                "as AWS's Billing API applied the credit"
            } else {
                "as configured in consumed_before"
            }
        )
    })
}

/// The projection of one award in words.
pub(crate) fn projection_sentence(a: &AwardStatus) -> String {
    use crate::analyse::project::Status::*;
    let burn = money(a.daily_burn);
    match a.status {
        NotStarted => format!("starts on {}; nothing is consumed yet.", a.start_date),
        NoData => format!(
            "NO RELIABLE DATA: {}. As configured, {} of {} is consumed; no projection is made until the configuration matches the spend.",
            a.no_data_reasons.join("; "),
            money(a.consumed),
            money(a.amount)
        ),
        Expired => format!(
            "expired on {} with {} of {} consumed{}; {} was left unused.",
            a.expiry_date,
            money(a.consumed),
            money(a.amount),
            opening_phrase(a),
            money(a.projected_unused_at_expiry)
        ),
        Exhausted if a.out_of_pocket < 0.005 => format!(
            "used up{}; the awards stacked behind it have paid its workloads since, and nothing is out of pocket.",
            a.projected_exhaustion_date.map(|d| format!(" on {d}")).unwrap_or_default(),
        ),
        Exhausted => format!(
            "used up{}; {} has been paid out of pocket since, and spend is running at {burn} a day.",
            a.projected_exhaustion_date.map(|d| format!(" on {d}")).unwrap_or_default(),
            money(a.out_of_pocket)
        ),
        ExhaustionRisk | OnTrack | ForfeitRisk => {
            let mut s = format!(
                "{} of {} consumed ({}%){}, {burn} a day over the last {} days; ",
                money(a.consumed),
                money(a.amount),
                a.consumed_percent,
                opening_phrase(a),
                a.burn_window_days
            );
            let how = forecast_phrase(a);
            match a.projected_exhaustion_date {
                Some(d) => s.push_str(&format!(
                    "the forecast{how} says the remaining {} runs out {}, {} days before it expires on {}.",
                    money(a.remaining),
                    exhaustion_range(a).unwrap_or_else(|| format!("on {d}")),
                    (a.expiry_date - d).num_days(),
                    a.expiry_date
                )),
                None => s.push_str(&format!(
                    "the forecast{how} says {} of the remaining {} will be left unused when it expires on {} ({} days from now){}.",
                    money(a.projected_unused_at_expiry),
                    money(a.remaining),
                    a.expiry_date,
                    a.days_left,
                    unused_range(a)
                )),
            }
            if let Some(unsure) = a.uncertainty() {
                s.push_str(&format!(" Uncertain: {unsure}."));
            }
            if let Some(drawn) = drawn_by_others(a) {
                s.push(' ');
                s.push_str(&drawn);
            }
            s
        }
    }
}

/// When the account starts paying, as AWS draws the credits.
/// A credit no award names, as AWS draws it.
pub(crate) fn other_credit_sentence(other: &crate::analyse::burn::OtherCreditView) -> String {
    let c = &other.account_view;
    let outlook = match c.exhaustion_date {
        Some(d) => format!("runs out on {d} (P50)"),
        None if c.remaining < 0.005 => "used up".to_string(),
        None => format!("{} left at expiry (P50)", money(c.unused_at_expiry)),
    };
    format!(
        "credit {} as AWS draws it: {} paid, {} left; {outlook}.",
        other.credit_id,
        money(c.consumed),
        money(c.remaining)
    )
}

pub(crate) fn out_of_pocket_sentence(o: &crate::analyse::burn::OutOfPocket) -> String {
    let when = match (o.begins.p10, o.begins.p50, o.begins.p90) {
        (_, Some(p50), _) => format!(
            "eligible spend starts going unpaid {} (P10 to P90: {} to {})",
            p50,
            o.begins.p10.map_or("-".to_string(), |d| d.to_string()),
            o.begins.p90.map_or("later".to_string(), |d| d.to_string())
        ),
        (Some(p10), None, _) => {
            format!("the credits most likely last the horizon, but could run short from {p10}")
        }
        (None, None, _) => "the credits cover eligible spend over the whole horizon".to_string(),
    };
    format!(
        "out of pocket (as AWS draws the credits): {} so far; {when}; next 30 days {} (P90 {}), next 90 days {} (P90 {}).",
        money(o.to_date),
        money(o.next_30_days.p50),
        money(o.next_30_days.p90),
        money(o.next_90_days.p50),
        money(o.next_90_days.p90)
    )
}

/// " (ets for support-assistant)": the forecast method per workload.
fn forecast_phrase(a: &AwardStatus) -> String {
    let methods: Vec<String> = a
        .forecast
        .method
        .iter()
        .map(|(w, m)| format!("{} for {w}", m.label()))
        .collect();
    if methods.is_empty() {
        String::new()
    } else {
        format!(" ({})", methods.join(", "))
    }
}

/// How sure the projected exhaustion is: "between 2026-12-01 and 2026-12-15, most likely
/// 2026-12-07" (P10, P90, P50); None when the award is not projected to run out.
pub(crate) fn exhaustion_range(a: &AwardStatus) -> Option<String> {
    let p50 = a.projected_exhaustion_date?;
    let q = &a.forecast.exhaustion_date;
    let lo = q.p10.unwrap_or(p50).min(p50);
    Some(match q.p90 {
        Some(hi) if lo == hi => format!("on {p50}"),
        Some(hi) => format!("between {lo} and {}, most likely {p50}", hi.max(p50)),
        None => format!("between {lo} and not before expiry, most likely {p50}"),
    })
}

/// ", between $X and $Y (P10 to P90)" for the unused balance, when the range is known.
fn unused_range(a: &AwardStatus) -> String {
    let q = &a.forecast.unused_at_expiry;
    if (q.p90 - q.p10).abs() < 0.005 {
        return String::new();
    }
    format!(", between {} and {}", money(q.p10), money(q.p90))
}

/// "In AWS's order, platform's spend drew $12,110.98 of it ...": the account view, when
/// other workloads consume the award's credit.
pub(crate) fn drawn_by_others(a: &AwardStatus) -> Option<String> {
    let v = &a.account_view;
    let total: f64 = v.drawn_by_others.iter().map(|d| d.amount).sum();
    if total < 0.005 {
        return None;
    }
    let who: Vec<String> = v
        .drawn_by_others
        .iter()
        .take(3)
        .map(|d| format!("{} {}", d.workload, money(d.amount)))
        .collect();
    Some(format!(
        "AWS applies the credit to the whole account, soonest expiry first: other workloads have drawn {} of it ({}), so AWS's balance is {}{}.",
        money(total),
        who.join(", "),
        money(v.remaining),
        match v.exhaustion_date {
            Some(d) => format!(" and runs out on {d}"),
            None => String::new(),
        }
    ))
}

/// `creditburn credits`: the account's credits, 80 columns.
pub(crate) fn credits_table(snapshot: &AwsCredits, awards: &[crate::config::Award]) -> String {
    let mut out = format!(
        "credits read {}\n",
        snapshot.fetched_at.format("%Y-%m-%d %H:%M UTC")
    );
    out.push_str(&format!(
        "{:<12} {:<10} {:>9} {:>9} {:>10} {:<9} {}\n",
        "CREDIT", "TYPE", "INITIAL", "LEFT", "EXPIRES", "STATUS", "AWARD"
    ));
    for c in &snapshot.credits {
        let award = awards
            .iter()
            .find(|a| a.credit_id.as_deref() == Some(c.credit_id.as_str()))
            .map(|a| a.id.as_str())
            .unwrap_or("(none)");
        out.push_str(&format!(
            "{:<12} {:<10} {:>9} {:>9} {:>10} {:<9} {}\n",
            clip(&c.credit_id, 12),
            clip(&c.credit_type, 10),
            dollars(c.initial_amount),
            dollars(c.remaining_amount),
            c.end_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            clip(&c.status.to_lowercase(), 9),
            award
        ));
    }
    out
}

/// Each workload's Bedrock models over the last 30 days: tokens in and out, billed
/// dollars, the effective price per 1M tokens and the price check; empty without any.
pub(crate) fn models_table<'a>(workloads: impl IntoIterator<Item = &'a WorkloadSpend>) -> String {
    use crate::model::text::short_count;
    let mut out = String::new();
    for w in workloads.into_iter().filter(|w| !w.models.is_empty()) {
        if out.is_empty() {
            out.push_str(&format!(
                "\n{:<22} {:>7} {:>7} {:>9} {:>8} {:>8} {}\n",
                "MODEL, LAST 30 DAYS", "IN", "OUT", "BILLED", "$/1M IN", "$/1M OUT", "PRICES"
            ));
        }
        out.push_str(&format!("{}\n", w.name));
        for m in &w.models {
            let tokens = |v: Option<f64>| v.map_or("-".into(), short_count);
            let price = |k: &str| {
                m.effective_per_million
                    .get(k)
                    .map_or("-".into(), |p| crate::analyse::levers::per_million(*p))
            };
            let check = match (m.price_check, m.bill_vs_list_percent) {
                (crate::analyse::tokens::PriceCheck::Mismatch, Some(p)) => format!("{p:+.0}%"),
                (c, _) => c.as_str().to_string(),
            };
            out.push_str(&format!(
                "  {:<20} {:>7} {:>7} {:>9} {:>8} {:>8} {}\n",
                clip(m.name.as_deref().unwrap_or(&m.model), 20),
                tokens(m.tokens.input),
                tokens(m.tokens.output),
                dollars(m.billed),
                price("input"),
                price("output"),
                check
            ));
        }
    }
    out
}

/// A table row whose first cell is `label`, shown whole: padded to `width`, or, when
/// longer, on a line of its own above the row.
fn labelled_row(label: &str, width: usize, rest: &str) -> String {
    if label.chars().count() <= width {
        format!("{label:<width$} {rest}\n")
    } else {
        format!("{label}\n{:<width$} {rest}\n", "")
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('~');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_get_a_line_of_their_own() {
        assert_eq!(labelled_row("poc", 5, "x"), "poc   x\n");
        assert_eq!(
            labelled_row("activate-portfolio-2026-renewal", 5, "x"),
            "activate-portfolio-2026-renewal\n      x\n"
        );
    }
}
