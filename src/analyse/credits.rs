//! AWS's own view of the credits (from the Billing API) and its reconciliation with the
//! modelled awards. Pure: the fetching is `aws`'s job, the storing `cache`'s.
//!
//! AWS applies the credit that expires soonest to the largest eligible charges first, so a
//! POC credit is drawn down by the whole account's EC2 and RDS, not only by the workload
//! it was granted for. The modelled remaining (from attributed spend) and AWS's remaining
//! therefore drift apart; the drift is shown per award and alerts above a tolerance.

use std::collections::BTreeMap;

use crate::analyse::analysis::AwardStatus;
use crate::config::Award;
use crate::model::credits::{Allocation, Credit, Reconciliation};
use crate::model::money::money;

/// Reconciles each award that names a credit with AWS's figures.
pub(crate) fn reconcile(
    awards: &[Award],
    statuses: &[AwardStatus],
    credits: &[Credit],
    allocations: &[Allocation],
) -> BTreeMap<String, Reconciliation> {
    let mut out = BTreeMap::new();
    for (award, status) in awards.iter().zip(statuses) {
        let Some(id) = &award.credit_id else { continue };
        let credit = credits.iter().find(|c| &c.credit_id == id);
        let aws_remaining = credit.map(|c| c.remaining_amount).unwrap_or(0.0);
        let mut by_service: BTreeMap<&str, f64> = BTreeMap::new();
        let since = format!(
            "{:04}-{:02}",
            chrono::Datelike::year(&award.start),
            chrono::Datelike::month(&award.start)
        );
        for a in allocations
            .iter()
            .filter(|a| &a.credit_id == id && a.month >= since)
        {
            *by_service.entry(a.service.as_str()).or_default() += a.amount;
        }
        out.insert(
            award.id.clone(),
            view(
                award,
                status,
                (id, credit.is_some(), "billing_api"),
                aws_remaining,
                by_service,
            ),
        );
    }
    out
}

/// An award's credit as AWS sees it beside the award's own remaining: the drift, and
/// what was applied per service, largest first. `credit`: its id (or name), whether AWS
/// has it, and where the view comes from.
fn view(
    award: &Award,
    status: &AwardStatus,
    (credit_id, found, basis): (&str, bool, &'static str),
    aws_remaining: f64,
    by_service: BTreeMap<&str, f64>,
) -> Reconciliation {
    let drift = status.remaining - aws_remaining;
    let mut applied_by_service: Vec<(String, f64)> = by_service
        .into_iter()
        .map(|(s, v)| (s.to_string(), crate::model::money::round2(v)))
        .collect();
    applied_by_service.sort_by(|a, b| b.1.total_cmp(&a.1));
    Reconciliation {
        credit_id: credit_id.to_string(),
        found,
        aws_remaining,
        drift,
        drift_percent: (drift / award.amount * 1000.0).round() / 10.0,
        applied_by_service,
        basis,
    }
}

/// Each award that names a credit by `credit_name`, against what the bill's Credit lines
/// of that name applied from its start to `as_of`: AWS's remaining is what was granted
/// by then less that.
pub(crate) fn reconcile_bill(
    awards: &[Award],
    statuses: &[AwardStatus],
    export: &crate::model::line::ExportFacts,
    as_of: chrono::NaiveDate,
) -> BTreeMap<String, Reconciliation> {
    let mut out = BTreeMap::new();
    for (award, status) in awards.iter().zip(statuses) {
        let Some(name) = &award.credit_name else {
            continue;
        };
        let days = export.applied_credits.get(name);
        let mut by_service: BTreeMap<&str, f64> = BTreeMap::new();
        let until = as_of.min(award.expiry);
        if let Some(days) = days.filter(|_| award.start <= until) {
            for services in days.range(award.start..=until).map(|(_, s)| s) {
                for (service, v) in services {
                    *by_service.entry(service.as_str()).or_default() += v;
                }
            }
        }
        let applied: f64 = by_service.values().sum();
        let granted: f64 = award
            .tranches
            .iter()
            .filter(|(d, _)| *d <= as_of)
            .map(|(_, v)| v)
            .sum();
        let aws_remaining = crate::model::money::round2(granted - applied);
        out.insert(
            award.id.clone(),
            view(
                award,
                status,
                (name, days.is_some(), "line_items"),
                aws_remaining,
                by_service,
            ),
        );
    }
    out
}

/// `[[awards]]` entries for `credits`, ready to paste into the config: amounts and dates
/// from AWS; the workloads are left for a person to name.
pub(crate) fn adoption_toml(credits: &[&Credit]) -> String {
    /// One `[[awards]]` entry, written by the TOML serializer: text from AWS (an id, a
    /// date) is quoted and escaped as TOML needs, never pasted into the file.
    #[derive(serde::Serialize)]
    struct Adopted<'a> {
        id: String,
        program: &'static str,
        amount: f64,
        currency: &'a str,
        start: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        expiry: Option<String>,
        credit_id: &'a str,
        workloads: Vec<String>,
    }
    #[derive(serde::Serialize)]
    struct File<'a> {
        awards: Vec<Adopted<'a>>,
    }
    // A comment line holds no line break and no control character.
    let comment = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut out = String::new();
    for c in credits {
        out.push_str(&format!(
            "# {} ({}): {} of {} {} left\n",
            comment(&c.description),
            comment(&c.credit_type),
            crate::model::money::money(c.remaining_amount),
            crate::model::money::money(c.initial_amount),
            comment(&c.currency)
        ));
        out.push_str("# Fill in `workloads` with the workloads this credit funds, and `program` if you know it.\n");
        if c.end_date.is_none() {
            out.push_str("# AWS gives no expiry: add expiry = \"YYYY-MM-DD\".\n");
        }
        let entry = File {
            awards: vec![Adopted {
                id: format!("credit-{}", c.credit_id),
                program: "other",
                amount: crate::model::money::round2(c.initial_amount),
                currency: &c.currency,
                start: c.start_date.to_string(),
                expiry: c.end_date.map(|d| d.to_string()),
                credit_id: &c.credit_id,
                workloads: Vec::new(),
            }],
        };
        out.push_str(&toml::to_string(&entry).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// AWS's view of an award's credit, in words.
pub(crate) fn drift_sentence(c: &Reconciliation) -> String {
    if !c.found {
        return if c.basis == "line_items" {
            format!(
                "the bill applies no credit named {:?} (credit_name): check the name against the credits the report lists.",
                c.credit_id
            )
        } else {
            format!("AWS lists no credit {} on the account.", c.credit_id)
        };
    }
    let direction = if c.drift >= 0.0 { "less" } else { "more" };
    format!(
        "AWS shows {} left on credit {}, {} ({}%) {direction} than the award's own workloads explain.",
        money(c.aws_remaining),
        c.credit_id,
        money(c.drift.abs()),
        c.drift_percent.abs()
    )
}
