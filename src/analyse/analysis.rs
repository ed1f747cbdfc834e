//! The analysis: a pure function of the cost table, the configuration and `as_of` (and
//! of what the shell read for it: AWS's credits, the last run's last day of data).
//!
//! It attributes every usage line to at most one workload (the first, in attribution
//! order, whose services and one of whose rules match), then measures each award against
//! the spend of the workloads it funds: consumed, remaining, recent burn, the projected
//! exhaustion date, the balance projected unused at expiry, and a status. It never reads
//! the clock and never does I/O.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::analyse::burn;
use crate::analyse::project::{no_data_reasons, project, Inputs, Status, Suspicion};
use crate::analyse::table::{self, CostTable};
use crate::config::{Award, Config, Program};
use crate::model::money::{cents, cents_pair, round2};
use crate::model::usage_type::{self, TokenKind};

/// Columns the analysis adds to the cost table.
pub(crate) const WORKLOAD: &str = "workload";
pub(crate) const MARKETPLACE: &str = "marketplace";
pub(crate) const MODEL: &str = "model";
pub(crate) const TOKEN_KIND: &str = "token_kind";
pub(crate) const BATCH: &str = "batch";
/// The first workload whose rules matched a line that its `services` then excluded, for
/// lines no workload took.
pub(crate) const EXCLUDED_BY: &str = "excluded_by";
/// Each row's line: its index among the rows of `Attributed::lines`.
pub(crate) const LINE: &str = "line";
/// A line's cost and quantity over the last `RECENT_DAYS` (`line_sums`).
const RECENT_COST: &str = "recent_cost";
const RECENT_QUANTITY: &str = "recent_quantity";

/// How many trailing days the per-workload "recent" figures and the hints look at.
pub(crate) const RECENT_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct AwardStatus {
    pub id: String,
    pub program: Program,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    pub currency: String,
    #[serde(serialize_with = "cents")]
    pub consumed: f64,
    #[serde(serialize_with = "cents")]
    pub remaining: f64,
    /// Spend beyond the amount, paid out of pocket.
    #[serde(serialize_with = "cents")]
    pub out_of_pocket: f64,
    pub consumed_percent: f64,
    pub start_date: NaiveDate,
    pub expiry_date: NaiveDate,
    /// Mean covered spend a day over the burn window ending at `as_of`.
    #[serde(serialize_with = "cents")]
    pub daily_burn: f64,
    /// The range of recent daily burns (trailing 7 days, the window, 28 days): the
    /// projection's spread.
    #[serde(serialize_with = "cents_pair")]
    pub daily_burn_range: (f64, f64),
    pub burn_window_days: i64,
    /// Days after `as_of` up to and including expiry.
    pub days_left: i64,
    /// Days the remaining balance lasts at `daily_burn` (null when the burn is zero).
    pub runway_days: Option<f64>,
    pub projected_exhaustion_date: Option<NaiveDate>,
    #[serde(serialize_with = "cents")]
    pub projected_unused_at_expiry: f64,
    pub status: Status,
    /// Whether the forecast's P10-P90 range stays within the status (`firm`) or crosses
    /// a status threshold (`uncertain`); `firm` for statuses no forecast decides.
    pub confidence: Confidence,
    /// The other statuses the P10-P90 range reaches, when `uncertain`.
    pub range_reaches: Vec<Status>,
    /// Spend of the funded workloads the award does not pay for (Marketplace models
    /// unless covered, services outside `services`), since start.
    #[serde(serialize_with = "cents")]
    pub not_covered: f64,
    pub workloads: Vec<String>,
    /// Why the status is `no_data`: what looks like a configuration mistake (empty
    /// otherwise).
    pub no_data_reasons: Vec<String>,
    /// AWS's view of the credit the award names, when the Billing API was read.
    pub credit: Option<crate::model::credits::Reconciliation>,
    /// The balance brought forward for an award older than the data, and where it comes
    /// from (null: the data reaches the award's start, or nothing says what it paid
    /// before, and `no_data_reasons` names the days missing).
    pub opening: Option<OpeningView>,
    /// What is granted and when (one tranche on the start date unless configured).
    pub tranches: Vec<Tranche>,
    /// The forecast's P10/P50/P90 exhaustion date and unused balance at expiry, and the
    /// method per workload; `projected_exhaustion_date`, `projected_unused_at_expiry`
    /// and `status` are its P50.
    pub forecast: burn::AwardForecast,
    /// Consumption against the straight plan line from start to expiry.
    pub pace: burn::Pace,
    /// The award as AWS draws it: by every eligible dollar of the account, in AWS's
    /// order, whichever workload spends it.
    pub account_view: burn::AccountView,
    /// Covered spend per day from start to `as_of` (or expiry), for the burn-down chart.
    #[serde(skip)]
    pub daily: Vec<(NaiveDate, f64)>,
    /// What the forecast has it pay after the data, cumulatively per day, on the P10,
    /// P50 and P90 spend paths, for the chart's projection and band.
    #[serde(skip)]
    pub projected_draw: [Vec<(NaiveDate, f64)>; 3],
}

/// How sure a status is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The P10-P90 range gives the same status at both ends.
    Firm,
    /// The range crosses a status threshold: runs out before expiry at one end and not
    /// at the other, or forfeits at one end and not at the other.
    Uncertain,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Firm => "firm",
            Confidence::Uncertain => "uncertain",
        }
    }
}

impl AwardStatus {
    /// What AWS forfeits at expiry is its own balance then, as it draws the credits over
    /// the whole account (the account view, P50), not what the award's workloads leave of
    /// it. That figure, when it differs from the workload view's by more than
    /// `tolerance_percent` of the award; None when the two agree, so the workload view's
    /// figure, with its P10-P90, stands.
    pub fn forfeit_as_aws_draws(&self, tolerance_percent: f64) -> Option<f64> {
        if matches!(self.status, Status::NotStarted | Status::Expired) {
            return None;
        }
        let aws = self.account_view.unused_at_expiry;
        let gap = (aws - self.projected_unused_at_expiry).abs();
        (gap >= 0.005 && gap > self.amount * tolerance_percent / 100.0).then_some(aws)
    }

    /// "likely to be forfeited, but the range reaches on track": an uncertain status in
    /// words; None when the status is firm.
    pub fn uncertainty(&self) -> Option<String> {
        let likely = match self.status {
            Status::ExhaustionRisk => "likely to run out before it expires",
            Status::ForfeitRisk => "likely to be forfeited",
            _ => "likely on track",
        };
        Some(format!(
            "{likely}, but the range reaches {}",
            self.range_reaches_words()?
        ))
    }

    /// "on track", "an early run-out and a forfeit": the other statuses an uncertain
    /// status's range reaches; None when the status is firm.
    pub fn range_reaches_words(&self) -> Option<String> {
        let reaches: Vec<&str> = self
            .range_reaches
            .iter()
            .map(|s| match s {
                Status::ExhaustionRisk => "an early run-out",
                Status::ForfeitRisk => "a forfeit",
                _ => "on track",
            })
            .collect();
        (!reaches.is_empty()).then(|| reaches.join(" and "))
    }
}

/// An award's balance brought forward: what it had paid before `date`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpeningView {
    pub date: NaiveDate,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    /// `config` (the award's `consumed_before`) or `billing` (the Billing API's
    /// allocation history of its credit, the months before `date`).
    pub source: &'static str,
}

/// What is known of an award's days before the data.
#[derive(Debug, Clone, Default)]
struct OpeningNote {
    view: Option<OpeningView>,
    /// Its days `[from, to)` that neither the data nor an opening holds.
    gap: Option<(NaiveDate, NaiveDate)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tranche {
    pub date: NaiveDate,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    /// Whether it is granted by `as_of`.
    pub granted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceSpend {
    pub service: String,
    #[serde(serialize_with = "cents")]
    pub cost: f64,
    #[serde(serialize_with = "cents")]
    pub last_30_days: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelSpend {
    pub model: String,
    pub token_kind: TokenKind,
    pub batch: bool,
    pub marketplace: bool,
    #[serde(serialize_with = "cents")]
    pub cost: f64,
    pub quantity: f64,
    #[serde(serialize_with = "cents")]
    pub last_30_days: f64,
    pub last_30_days_quantity: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpend {
    pub name: String,
    /// How its daily spend is forecast (see `analyse::forecast`).
    /// The methods blended, most weight first ("ets_log+level").
    pub forecast_method: crate::analyse::forecast::Blend,
    /// Its last day of data, when above the forecast's P99 for it.
    pub spike: Option<burn::Spike>,
    /// The award funding this workload at `as_of`, if any.
    pub award: Option<String>,
    pub interactive: bool,
    #[serde(serialize_with = "cents")]
    pub cost: f64,
    #[serde(serialize_with = "cents")]
    pub last_30_days: f64,
    /// Spend the workload's rules match but its `services` exclude and that no later
    /// workload takes (it stays unattributed), by service.
    #[serde(serialize_with = "cents")]
    pub excluded_by_services: f64,
    pub excluded_services: Vec<ServiceSpend>,
    pub by_service: Vec<ServiceSpend>,
    pub bedrock: Vec<ModelSpend>,
    /// Its Bedrock models over the last 30 days: tokens, tiers, routes, and the bill
    /// checked against the price table.
    pub models: Vec<crate::analyse::tokens::ModelCheck>,
    /// Every optimisation lever applied together, dollars a month (filled in with the
    /// hints; the levers that touch the same tokens are not added twice).
    pub combined_saving: Option<crate::analyse::levers::Saving>,
    /// Its Bedrock usage lines over the last 30 days.
    #[serde(skip)]
    pub bedrock_usage: Vec<crate::analyse::tokens::UsageSpend>,
}

/// A credit the bill applied, by name (line-item sources only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedCredit {
    pub credit: String,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// Each credit of `export` applied on or before `as_of`, largest first.
fn applied_by_credit(
    export: Option<&crate::model::line::ExportFacts>,
    as_of: NaiveDate,
) -> Vec<AppliedCredit> {
    let Some(export) = export else {
        return Vec::new();
    };
    let mut out: Vec<AppliedCredit> = export
        .applied_credits
        .iter()
        .filter_map(|(credit, days)| {
            let days: Vec<(&NaiveDate, f64)> = days
                .range(..=as_of)
                .map(|(d, by_service)| (d, by_service.values().sum()))
                .collect();
            Some(AppliedCredit {
                credit: credit.clone(),
                amount: days.iter().map(|(_, v)| *v).sum(),
                first_day: *days.first()?.0,
                last_day: *days.last()?.0,
            })
        })
        .collect();
    out.sort_by(|a, b| b.amount.total_cmp(&a.amount).then(a.credit.cmp(&b.credit)));
    // In cents by a running total, so the credits shown add up to the credits applied
    // as shown (each rounded alone, two credits can miss the total by a cent).
    let mut running = 0.0;
    for c in &mut out {
        let before = round2(running);
        running += c.amount;
        c.amount = round2(round2(running) - before);
    }
    out
}

/// What the data covered and how it adds up.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// The first day up to `as_of` whose figures are still estimated, if any.
    pub estimated_from: Option<NaiveDate>,
    #[serde(serialize_with = "cents")]
    pub usage_total: f64,
    #[serde(serialize_with = "cents")]
    pub attributed: f64,
    #[serde(serialize_with = "cents")]
    pub unattributed: f64,
    /// Usage split between accounts, services or tags in proportion to cost.
    #[serde(serialize_with = "cents")]
    pub approximated: f64,
    /// Credits AWS applied (RECORD_TYPE Credit), as a positive amount.
    #[serde(serialize_with = "cents")]
    pub credits_applied: f64,
    /// Other non-usage record types (refunds, tax, ...), signed as billed.
    pub other_record_types: BTreeMap<String, f64>,
    /// From a line-item export: each credit the bill applied up to `as_of`, by name
    /// (its Credit lines' description), with the days it was applied on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credits_applied_by_credit: Vec<AppliedCredit>,
    pub unattributed_by_service: Vec<ServiceSpend>,
    /// Bedrock usage types whose token kind was not recognised (kept in every total).
    pub unrecognised_usage_types: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub as_of: NaiveDate,
    pub currency: String,
    pub data: DataSummary,
    pub awards: Vec<AwardStatus>,
    pub workloads: Vec<WorkloadSpend>,
    /// When the account starts paying, in the account view.
    pub out_of_pocket: burn::OutOfPocket,
    /// The Billing API's credits that no award names, as AWS draws them.
    pub other_credits: Vec<burn::OtherCreditView>,
    /// The burn model's future, to draw again on changed spend (hints, what-if).
    pub projector: std::sync::Arc<burn::Projector>,
}

/// Analyses `table` as of the end of day `as_of`.
///
/// `aws`, the Billing API's credits when they were read, decides eligibility in the
/// account view (`applicableProductNames`) and adds the credits no award names to it.
/// `last_run`, the last day of data the last `run` analysed when the state remembers
/// it, widens the spike check to the days since (`burn::spike_days`).
pub fn analyse(
    table: &CostTable,
    config: &Config,
    as_of: NaiveDate,
    aws: Option<&crate::model::credits::AwsCredits>,
    last_run: Option<NaiveDate>,
) -> PolarsResult<Analysis> {
    let Attributed { rows, lines } = attribute(table, config)?;
    let usage = usage_up_to(&rows, table, as_of)?;
    // Every row up to `as_of`, as a lazy plan: the other record types and the
    // estimated days are read from it.
    let as_of_day = table::epoch_days(as_of);
    let upto = rows
        .lazy()
        .filter(col(table::DATE).cast(DataType::Int32).lt_eq(lit(as_of_day)));
    // The usage summed by line: every breakdown that needs no day is an aggregation of
    // these few thousand rows rather than of the table's. "Recent" ends at the last day
    // of data: a live source a day or two behind `as_of` still has 30 days of it.
    let by_line = line_sums(&usage, &lines, as_of.min(table.last_day))?;
    let totals = totals(&usage, &by_line)?;
    let (credits_applied, other_record_types) = record_types(upto.clone())?;
    let estimated_from = estimated_from(upto)?;
    let unrecognised_usage_types = unrecognised(&by_line)?;
    let mut warnings = Vec::new();
    let keys_without_values = data_warnings(table, config, &usage, as_of, &mut warnings)?;
    let unattributed_top = top_unattributed(
        &by_line.clone().lazy().filter(col(WORKLOAD).is_null()),
        &totals.unattributed_by_service,
        table,
    )?;
    let mut daily = Daily::of(&usage, &lines)?;
    daily.spend.estimated_from = estimated_from;
    let end = as_of.min(table.last_day);
    let billing = billing(config, aws, table.first_day, end, &mut warnings);
    let (effective, notes) = openings(&config.awards, aws, table.first_day, as_of);
    let model = burn::model(
        &daily.spend,
        &effective,
        &billing,
        config.analysis.drawdown_order,
        end,
        None,
        burn::SpikeCheck {
            days: burn::spike_days(end, last_run),
            min_amount: config.alerts.spike_min_amount,
            min_share: config.alerts.spike_min_share,
        },
    );
    warnings.extend(model.still_arriving.iter().map(still_arriving_warning));
    let context = Context {
        as_of,
        data_through: table.last_day,
        keys_without_values: &keys_without_values,
        unattributed_top: &unattributed_top,
    };
    let awards = effective
        .iter()
        .zip(&model.awards)
        .zip(notes)
        .map(|((a, b), note)| award_status(&daily, a, b, note, config, &context))
        .collect::<PolarsResult<Vec<_>>>()?;
    for a in &awards {
        for reason in &a.no_data_reasons {
            warnings.push(format!("award {:?}: {reason}", a.id));
        }
    }
    let workloads = workload_spends(config, &model, &by_line, (&usage, &lines), as_of)?;
    warnings.extend(workloads.iter().filter_map(excluded_warning));
    warnings.extend(unpriced_warning(&workloads));
    Ok(Analysis {
        as_of,
        currency: config.currency().to_string(),
        data: DataSummary {
            first_day: table.first_day,
            last_day: table.last_day,
            estimated_from,
            usage_total: totals.usage_total,
            attributed: totals.usage_total - totals.unattributed,
            unattributed: totals.unattributed,
            approximated: totals.approximated,
            credits_applied,
            other_record_types,
            credits_applied_by_credit: applied_by_credit(table.export.as_ref(), as_of),
            unattributed_by_service: totals.unattributed_by_service,
            unrecognised_usage_types,
            warnings,
        },
        awards,
        workloads,
        out_of_pocket: model.out_of_pocket,
        other_credits: model.others,
        projector: model.projector,
    })
}

/// The usage rows up to `as_of`: the table's first rows, a slice and not a copy, unless
/// days after `as_of` must be cut off.
fn usage_up_to(rows: &DataFrame, table: &CostTable, as_of: NaiveDate) -> PolarsResult<DataFrame> {
    let usage = rows.slice(0, table.usage_rows);
    if as_of >= table.last_day {
        return Ok(usage);
    }
    usage
        .lazy()
        .filter(
            col(table::DATE)
                .cast(DataType::Int32)
                .lt_eq(lit(table::epoch_days(as_of))),
        )
        .collect()
}

/// The usage total and what no workload took.
struct Totals {
    usage_total: f64,
    unattributed: f64,
    unattributed_by_service: Vec<ServiceSpend>,
    /// Usage split between accounts, services or tags in proportion to cost.
    approximated: f64,
}

fn totals(usage: &DataFrame, by_line: &DataFrame) -> PolarsResult<Totals> {
    let unattributed_rows = by_line.clone().lazy().filter(col(WORKLOAD).is_null());
    Ok(Totals {
        usage_total: sum_f64(usage, table::COST)?,
        unattributed: sum_f64(
            &unattributed_rows
                .clone()
                .select([col(table::COST)])
                .collect()?,
            table::COST,
        )?,
        unattributed_by_service: by_service_of(unattributed_rows)?,
        approximated: sum_f64(
            &usage
                .clone()
                .lazy()
                .filter(col(table::APPROXIMATED))
                .select([col(table::COST)])
                .collect()?,
            table::COST,
        )?,
    })
}

/// The non-usage record types: the credits AWS applied (as a positive amount), and the
/// rest (refunds, tax, ...) signed as billed.
fn record_types(upto: LazyFrame) -> PolarsResult<(f64, BTreeMap<String, f64>)> {
    let others = upto
        .filter(col(table::RECORD_TYPE).neq(lit("Usage")))
        .group_by([col(table::RECORD_TYPE)])
        .agg([col(table::COST).sum()])
        .collect()?;
    let mut other_record_types = BTreeMap::new();
    let mut credits_applied = 0.0;
    for (kind, cost) in strings(&others, table::RECORD_TYPE)?
        .into_iter()
        .zip(floats(&others, table::COST)?)
    {
        let kind = kind.unwrap_or_default();
        if kind == "Credit" {
            credits_applied = -cost;
        } else {
            other_record_types.insert(kind, round2(cost));
        }
    }
    Ok((credits_applied, other_record_types))
}

/// The first day up to `as_of` AWS still marks estimated.
fn estimated_from(upto: LazyFrame) -> PolarsResult<Option<NaiveDate>> {
    let estimated = upto
        .filter(col(table::ESTIMATED))
        .select([col(table::DATE).cast(DataType::Int32).min()])
        .collect()?;
    Ok(estimated
        .column(table::DATE)?
        .i32()?
        .get(0)
        .map(table::from_epoch_days))
}

/// The Bedrock usage types whose token kind was not recognised.
fn unrecognised(by_line: &DataFrame) -> PolarsResult<Vec<String>> {
    let unrecognised = by_line
        .clone()
        .lazy()
        .filter(col(TOKEN_KIND).eq(lit(TokenKind::Other.as_str())))
        .select([col(table::USAGE_TYPE).unique().sort(Default::default())])
        .collect()?;
    Ok(strings(&unrecognised, table::USAGE_TYPE)?
        .into_iter()
        .flatten()
        .collect())
}

/// What the data and the config say together that a reader must know: data that ends
/// before or starts after `as_of`, tag keys without values, service names the data
/// never shows, awards AWS's order cannot tell apart. Returns the tag keys without
/// values.
fn data_warnings(
    table: &CostTable,
    config: &Config,
    usage: &DataFrame,
    as_of: NaiveDate,
    warnings: &mut Vec<String>,
) -> PolarsResult<std::collections::BTreeSet<String>> {
    if as_of > table.last_day {
        warnings.push(format!(
            "the data ends on {}, {} day(s) before as-of {as_of}; the burn is measured up to the last day of data",
            table.last_day,
            (as_of - table.last_day).num_days()
        ));
    }
    if as_of < table.first_day {
        warnings.push(format!(
            "as-of {as_of} is before the data starts on {}; nothing is consumed yet",
            table.first_day
        ));
    }
    // Tag keys the rules name that hold no value at all (a key typed with the wrong case
    // comes back from Cost Explorer as all "key$", or not at all in a recording).
    let mut keys_without_values = std::collections::BTreeSet::new();
    for w in &config.workloads {
        for r in &w.rules {
            if let Some((key, _)) = &r.tag {
                if !table.tag_keys.contains(key) {
                    warnings.push(format!(
                        "workload {:?} has a rule on tag {key:?}, which the data has no grouping for; that rule matches nothing",
                        w.name
                    ));
                    keys_without_values.insert(key.clone());
                } else if usage.height() > 0
                    && usage.column(&table::tag_column(key))?.null_count() == usage.height()
                    && keys_without_values.insert(key.clone())
                {
                    warnings.push(format!(
                        "tag {key:?} (named by workload {:?}) has no value on any line of the data; tag keys are case-sensitive, and a tag counts only once activated as a cost allocation tag",
                        w.name
                    ));
                }
            }
        }
    }
    warnings.extend(export_column_warnings(table, config));
    let services_seen: std::collections::BTreeSet<&str> = table
        .df
        .column(table::SERVICE)?
        .str()?
        .iter()
        .flatten()
        .collect();
    let named = config
        .workloads
        .iter()
        .flat_map(|w| &w.named_services)
        .chain(config.awards.iter().flat_map(|a| &a.named_services));
    for (key, name) in named {
        if !services_seen.contains(name.as_str()) {
            warnings.push(format!(
                "{key}: {name:?} is neither an alias nor a service in the cost data, so it matches nothing; Cost Explorer's names are case-sensitive"
            ));
        }
    }
    // Awards AWS's order cannot tell apart draw the same spend of the account in the
    // order they are listed: a guess, in the account view (the config check refuses it
    // when they share a workload). One warning a class of them.
    if config.analysis.drawdown_order == crate::config::DrawdownOrder::Aws {
        let mut classes: BTreeMap<(NaiveDate, NaiveDate, Option<usize>), Vec<&str>> =
            BTreeMap::new();
        for a in &config.awards {
            classes
                .entry((a.start, a.expiry, a.services.breadth()))
                .or_default()
                .push(&a.id);
        }
        for ids in classes.into_values().filter(|c| c.len() > 1) {
            warnings.push(if ids.len() == 2 {
                format!(
                    "awards {:?} and {:?} have the same start, expiry and number of services, so AWS's order cannot say which pays first; the account view draws {:?} first (the order listed)",
                    ids[0], ids[1], ids[0]
                )
            } else {
                format!(
                    "{} awards have the same start, expiry and number of services ({}), so AWS's order cannot say which pays first; the account view draws them in the order listed",
                    crate::model::text::thousands(ids.len() as u64),
                    crate::model::text::listed(&ids, 3)
                )
            });
        }
    }
    Ok(keys_without_values)
}

fn still_arriving_warning(late: &burn::StillArriving) -> String {
    format!(
        "{}'s last {} of data (from {}) {} estimated by AWS and under half the week before; the forecast takes {} as still arriving and counts {} more spend for {} (its P50 less what AWS shows)",
        late.workload,
        if late.days == 1 { "day".to_string() } else { format!("{} days", late.days) },
        late.from,
        if late.days == 1 { "is" } else { "are" },
        if late.days == 1 { "it" } else { "them" },
        crate::model::money::money(late.expected_more),
        if late.days == 1 { "it" } else { "them" },
    )
}

/// Each workload's spend: by service, excluded by its services, by model, its Bedrock
/// lines checked against the price table, its forecast, spike and the award paying it
/// now. One aggregation per breakdown, shared out to the workloads: a group-by of the
/// lines each, whatever the number of workloads. `rows` are the usage rows and their
/// lines (for a spike's movers).
fn workload_spends(
    config: &Config,
    model: &burn::Model,
    by_line: &DataFrame,
    (usage, lines): (&DataFrame, &DataFrame),
    as_of: NaiveDate,
) -> PolarsResult<Vec<WorkloadSpend>> {
    let mut by_service = grouped_by_service(by_line, WORKLOAD)?;
    let mut excluded = grouped_by_service(by_line, EXCLUDED_BY)?;
    let mut models = models_by_workload(by_line)?;
    let mut usage_lines = usage_by_workload(by_line)?;
    let mut workloads = Vec::new();
    for w in &config.workloads {
        let by_service = by_service.remove(&w.name).unwrap_or_default();
        let excluded_services = excluded.remove(&w.name).unwrap_or_default();
        let spike = match model.spikes.iter().find(|s| s.workload == w.name) {
            Some(s) => {
                let movers = movers(usage, lines, &w.name, s.date)?;
                Some(burn::Spike {
                    explained: movers.iter().map(|m| m.change).sum(),
                    movers,
                    ..s.clone()
                })
            }
            None => None,
        };
        let bedrock_usage = usage_lines.remove(&w.name).unwrap_or_default();
        workloads.push(WorkloadSpend {
            name: w.name.clone(),
            spike,
            forecast_method: model.methods.get(&w.name).cloned().unwrap_or_else(|| {
                crate::analyse::forecast::Blend::of(crate::analyse::forecast::Method::NoSpend)
            }),
            award: paying_award(config, model, &w.name, as_of),
            interactive: w.interactive,
            cost: by_service.iter().map(|s| s.cost).sum(),
            last_30_days: by_service.iter().map(|s| s.last_30_days).sum(),
            excluded_by_services: excluded_services.iter().map(|s| s.cost).sum(),
            excluded_services,
            by_service,
            bedrock: models.remove(&w.name).unwrap_or_default(),
            models: crate::analyse::tokens::check(&bedrock_usage, &config.prices),
            combined_saving: None,
            bedrock_usage,
        });
    }
    Ok(workloads)
}

/// The award paying a workload at `as_of`: of those funding it and active, the first in
/// the drawdown order with a balance left (else the first active, else any).
fn paying_award(
    config: &Config,
    model: &burn::Model,
    workload: &str,
    as_of: NaiveDate,
) -> Option<String> {
    let workload = workload.to_string();
    let active: Vec<(usize, &Award)> = model
        .order
        .iter()
        .map(|&i| (i, &config.awards[i]))
        .filter(|(_, a)| a.workloads.contains(&workload) && a.start <= as_of && as_of <= a.expiry)
        .collect();
    active
        .iter()
        .find(|(i, _)| model.awards[*i].remaining >= 0.005)
        .or(active.first())
        .map(|(_, a)| *a)
        .or_else(|| {
            config
                .awards
                .iter()
                .find(|a| a.workloads.contains(&workload))
        })
        .map(|a| a.id.clone())
}

/// One warning for every model and region the price table does not price: their
/// tokens are not counted and no lever is offered on them.
fn unpriced_warning(workloads: &[WorkloadSpend]) -> Option<String> {
    let mut unpriced: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for w in workloads {
        for m in &w.models {
            for l in m.token_lines().filter(|l| l.price.is_none()) {
                unpriced
                    .entry(l.usage.region.clone().unwrap_or_else(|| "no region".into()))
                    .or_default()
                    .insert(l.usage.bill_name.clone());
            }
        }
    }
    if unpriced.is_empty() {
        return None;
    }
    let listed: Vec<String> = unpriced
        .iter()
        .map(|(region, names)| {
            format!(
                "{region}: {}",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    Some(format!(
        "the price table has no price for some Bedrock usage on the bill ({}); those models' tokens go uncounted and get no hint: `creditburn pricing import` builds a table from the AWS Price List for their regions (pricing/README.md)",
        listed.join("; ")
    ))
}

/// Rules on a column the export lacks match nothing: each such rule's workload, with the
/// export option that adds the column.
pub(crate) fn export_column_warnings(table: &CostTable, config: &Config) -> Vec<String> {
    let Some(export) = &table.export else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for w in &config.workloads {
        let principal = w.rules.iter().any(|r| r.principal.is_some());
        let resource = w.rules.iter().any(|r| r.resource.is_some());
        if principal && !export.principal_column {
            warnings.push(format!(
                "workload {:?} has an iam_principal rule, but the export has no line_item_iam_principal column, so that rule matches nothing; create the export with INCLUDE_IAM_PRINCIPAL_DATA (deploy/README.md)",
                w.name
            ));
        }
        if resource && !export.resource_column {
            warnings.push(format!(
                "workload {:?} has a resource rule, but the export has no {} column, so that rule matches nothing; create the export with INCLUDE_RESOURCES (deploy/README.md)",
                w.name,
                export.format.resource_column()
            ));
        }
    }
    warnings
}

/// The warning for spend a workload's rules match but its services exclude.
fn excluded_warning(w: &WorkloadSpend) -> Option<String> {
    if w.excluded_by_services < 0.005 {
        return None;
    }
    let services: Vec<String> = w
        .excluded_services
        .iter()
        .take(3)
        .map(|s| format!("{} {}", s.service, crate::model::money::money(s.cost)))
        .collect();
    Some(format!(
        "workload {:?}: its rules match {} that its services exclude ({}); list those services, or narrow the rules, if that spend is meant to count",
        w.name,
        crate::model::money::money(w.excluded_by_services),
        services.join(", ")
    ))
}

/// Credits on the account that no award names.
pub(crate) fn unclaimed<'a>(
    awards: &[Award],
    credits: &'a [crate::model::credits::Credit],
) -> Vec<&'a crate::model::credits::Credit> {
    credits
        .iter()
        .filter(|c| {
            !awards
                .iter()
                .any(|a| a.credit_id.as_deref() == Some(c.credit_id.as_str()))
        })
        .collect()
}

/// What the account view takes from the Billing API: the products of each award's
/// credit, and the credits no award names. A credit that started before the data is
/// counted from the balance AWS reported when it was read (from the day after the data
/// at the latest; its draws before that are not replayed); one without an expiry is
/// left out. Both are warned about.
/// The awards as the model draws them, each older than the data (`first_day`) with its
/// balance brought forward where something says what it paid before: the config's
/// `consumed_before`, else the Billing API's allocation history of the credit it names,
/// summed over the whole months before the data. An award older than the data with
/// neither keeps a gap: its days before the data are never read as zero spend.
fn openings(
    awards: &[Award],
    aws: Option<&crate::model::credits::AwsCredits>,
    first_day: NaiveDate,
    as_of: NaiveDate,
) -> (Vec<Award>, Vec<OpeningNote>) {
    awards
        .iter()
        .map(|a| opening(a, aws, first_day, as_of))
        .unzip()
}

/// One award of `openings`.
fn opening(
    a: &Award,
    aws: Option<&crate::model::credits::AwsCredits>,
    first_day: NaiveDate,
    as_of: NaiveDate,
) -> (Award, OpeningNote) {
    let mut award = a.clone();
    let mut note = OpeningNote::default();
    let started = a.start <= as_of;
    // The days missing from `from` up to the data (or the day after expiry), of an
    // award that has started.
    let gap = |from: NaiveDate| {
        (started && from < first_day)
            .then(|| (from, first_day.min(a.expiry.succ_opt().unwrap_or(a.expiry))))
    };
    let (opening, source) = match a.consumed_before {
        Some(o) => (Some(o), "config"),
        None if started && a.start < first_day => {
            let applied =
                billing_applied_before(a, aws, first_day).map(|amount| crate::config::Opening {
                    date: first_day,
                    amount: amount.clamp(0.0, a.granted_before(first_day)),
                });
            award.consumed_before = applied;
            (applied, "billing")
        }
        None => (None, ""),
    };
    match opening {
        Some(o) => {
            note.view = Some(OpeningView {
                date: o.date,
                amount: o.amount,
                source,
            });
            note.gap = gap(o.date);
        }
        None => note.gap = gap(a.start),
    }
    (award, note)
}

/// What the Billing API applied of the credit `a` names in the whole months before
/// `first_day`, when the data starts on a month's first day (a month cut in two cannot
/// be split) and the snapshot lists the credit.
fn billing_applied_before(
    a: &Award,
    aws: Option<&crate::model::credits::AwsCredits>,
    first_day: NaiveDate,
) -> Option<f64> {
    use chrono::Datelike;
    let (id, aws) = a.credit_id.as_deref().zip(aws)?;
    if first_day.day() != 1 || !aws.credits.iter().any(|c| c.credit_id == id) {
        return None;
    }
    let month = |d: NaiveDate| format!("{:04}-{:02}", d.year(), d.month());
    let (from, to) = (month(a.start), month(first_day));
    Some(
        aws.allocations
            .iter()
            .filter(|x| x.credit_id == id && x.month >= from && x.month < to)
            .map(|x| x.amount)
            .sum(),
    )
}

fn billing(
    config: &Config,
    aws: Option<&crate::model::credits::AwsCredits>,
    first_day: NaiveDate,
    end: NaiveDate,
    warnings: &mut Vec<String>,
) -> burn::Billing {
    let Some(aws) = aws else {
        return burn::Billing::default();
    };
    let products = config
        .awards
        .iter()
        .map(|a| {
            let id = a.credit_id.as_deref()?;
            let c = aws.credits.iter().find(|c| c.credit_id == id)?;
            (!c.applicable_products.is_empty()).then(|| c.applicable_products.clone())
        })
        .collect();
    let read_on = aws.fetched_at.date_naive();
    let mut others = Vec::new();
    let unnamed = unclaimed(&config.awards, &aws.credits);
    // An award without a credit_id may be one of those credits: drawing both would
    // count its dollars twice, so the unnamed credits stay out until every award names
    // its credit.
    let without: Vec<&str> = config
        .awards
        .iter()
        .filter(|a| a.credit_id.is_none())
        .map(|a| a.id.as_str())
        .collect();
    if !unnamed.is_empty() && !without.is_empty() {
        warnings.push(format!(
            "the account view leaves out the {} AWS lists that no award names ({}), since award(s) {} name no credit_id and may be one of them; set each award's credit_id (creditburn credits lists them) to count them",
            crate::model::text::count(unnamed.len() as u64, "credit", "credits"),
            unnamed.iter().map(|c| c.credit_id.as_str()).collect::<Vec<_>>().join(", "),
            without.join(", ")
        ));
        return burn::Billing { products, others };
    }
    for c in unnamed {
        let Some(expiry) = c.end_date else {
            warnings.push(format!(
                "credit {} (no award names it) has no expiry in AWS's records; the account view leaves it out",
                c.credit_id
            ));
            continue;
        };
        // Expired before the data, or switched off: it pays nothing here.
        if expiry < first_day || c.status.eq_ignore_ascii_case("DISABLED") {
            continue;
        }
        let tranches = if c.start_date >= first_day {
            vec![(c.start_date, c.initial_amount)]
        } else {
            // From the day it was read, or the day after the data if that is sooner.
            let from = read_on.min(end + chrono::Days::new(1));
            if from > expiry {
                // Expired by then: what AWS shows left was forfeited, and its draws
                // before are not replayed.
                continue;
            }
            let from = from.max(c.start_date);
            warnings.push(format!(
                "credit {} (no award names it) started on {}, before the data; the account view counts it from the {} AWS reported left on {from}",
                c.credit_id,
                c.start_date,
                crate::model::money::money(c.remaining_amount)
            ));
            vec![(from, c.remaining_amount)]
        };
        others.push(burn::OtherCredit {
            credit_id: c.credit_id.clone(),
            start: c.start_date,
            expiry,
            tranches,
            products: c.applicable_products.clone(),
        });
    }
    burn::Billing { products, others }
}

/// The usage types of `workload` whose spend on `day` rose most above their mean of the
/// 14 days before, largest first (at most three).
fn movers(
    usage: &DataFrame,
    lines: &DataFrame,
    workload: &str,
    day: NaiveDate,
) -> PolarsResult<Vec<burn::Mover>> {
    let d = table::epoch_days(day);
    let date = || col(table::DATE).cast(DataType::Int32);
    // The rows of the 14 days before and the day itself; the workload's by their line.
    let rows = usage
        .clone()
        .lazy()
        .filter(date().gt_eq(lit(d - 14)).and(date().lt_eq(lit(d))))
        .select([col(LINE), date().alias("day"), col(table::COST)])
        .collect()?;
    let of_workload: Vec<bool> = lines
        .column(WORKLOAD)?
        .str()?
        .iter()
        .map(|w| w == Some(workload))
        .collect();
    let usage_types: Vec<Option<&str>> = lines.column(table::USAGE_TYPE)?.str()?.iter().collect();
    // Usage type -> (the day's spend, the 14 days before's).
    let mut moved: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let (line, days, cost) = (
        rows.column(LINE)?.idx()?,
        rows.column("day")?.i32()?,
        rows.column(table::COST)?.f64()?,
    );
    for ((line, day), cost) in line.iter().zip(days.iter()).zip(cost.iter()) {
        let (Some(line), Some(day)) = (line, day) else {
            continue;
        };
        if !of_workload.get(line as usize).copied().unwrap_or(false) {
            continue;
        }
        let usage_type = usage_types[line as usize].unwrap_or_default();
        let entry = moved.entry(usage_type).or_default();
        if day == d {
            entry.0 += cost.unwrap_or(0.0);
        } else {
            entry.1 += cost.unwrap_or(0.0);
        }
    }
    let mut out: Vec<burn::Mover> = moved
        .into_iter()
        .map(|(usage_type, (today, before))| burn::Mover {
            usage_type: usage_type.to_string(),
            change: today - before / 14.0,
        })
        .filter(|m| m.change >= 0.005)
        .collect();
    out.sort_by(|a, b| {
        b.change
            .total_cmp(&a.change)
            .then(a.usage_type.cmp(&b.usage_type))
    });
    out.truncate(3);
    Ok(out)
}

fn token_kind_from(s: Option<&str>) -> TokenKind {
    s.and_then(TokenKind::from_name).unwrap_or(TokenKind::Other)
}

/// The usage rows summed by line: the line's columns (`Attributed::lines`), with
/// `COST`, `QUANTITY` and their sums over the `RECENT_DAYS` up to `last`
/// (`RECENT_COST`, `RECENT_QUANTITY`). Lines without a usage row are left out.
fn line_sums(usage: &DataFrame, lines: &DataFrame, last: NaiveDate) -> PolarsResult<DataFrame> {
    let recent = col(table::DATE)
        .cast(DataType::Int32)
        .gt(lit(table::epoch_days(last) - RECENT_DAYS as i32));
    let recent_sum = |c: &str| when(recent.clone()).then(col(c)).otherwise(lit(0.0)).sum();
    let sums = usage
        .clone()
        .lazy()
        .group_by([col(LINE)])
        .agg([
            col(table::COST).sum(),
            col(table::QUANTITY).sum(),
            recent_sum(table::COST).alias(RECENT_COST),
            recent_sum(table::QUANTITY).alias(RECENT_QUANTITY),
        ])
        .collect()?;
    let mut out = lines.take(sums.column(LINE)?.idx()?)?;
    out.hstack_mut(&[
        sums.column(table::COST)?.clone(),
        sums.column(table::QUANTITY)?.clone(),
        sums.column(RECENT_COST)?.clone(),
        sums.column(RECENT_QUANTITY)?.clone(),
    ])?;
    Ok(out)
}

/// Spend by service of `lines` (summed by `line_sums`), largest first.
fn by_service_of(lines: LazyFrame) -> PolarsResult<Vec<ServiceSpend>> {
    let all = lines.with_column(lit("").alias("all"));
    Ok(services_by(all, "all")?.remove("").unwrap_or_default())
}

/// Spend by service for every value of the column `by` (a workload column) of `lines`
/// (summed by `line_sums`), each list largest first.
fn grouped_by_service(
    lines: &DataFrame,
    by: &str,
) -> PolarsResult<HashMap<String, Vec<ServiceSpend>>> {
    services_by(lines.clone().lazy().filter(col(by).is_not_null()), by)
}

fn services_by(lines: LazyFrame, by: &str) -> PolarsResult<HashMap<String, Vec<ServiceSpend>>> {
    let df = lines
        .group_by([col(by), col(table::SERVICE)])
        .agg([
            col(table::COST).sum(),
            col(RECENT_COST).sum().alias("recent"),
        ])
        .sort(
            [table::COST],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()?;
    let mut out: HashMap<String, Vec<ServiceSpend>> = HashMap::new();
    for (((key, service), cost), last_30_days) in strings(&df, by)?
        .into_iter()
        .zip(strings(&df, table::SERVICE)?)
        .zip(floats(&df, table::COST)?)
        .zip(floats(&df, "recent")?)
    {
        out.entry(key.unwrap_or_default())
            .or_default()
            .push(ServiceSpend {
                service: service.unwrap_or_default(),
                cost,
                last_30_days,
            });
    }
    Ok(out)
}

/// Bedrock spend per workload by model, token kind, batch and Marketplace, of `lines`
/// (summed by `line_sums`), largest first.
fn models_by_workload(lines: &DataFrame) -> PolarsResult<HashMap<String, Vec<ModelSpend>>> {
    let models = lines
        .clone()
        .lazy()
        .filter(col(WORKLOAD).is_not_null().and(col(MODEL).is_not_null()))
        .group_by([
            col(WORKLOAD),
            col(MODEL),
            col(TOKEN_KIND),
            col(BATCH),
            col(MARKETPLACE),
        ])
        .agg([
            col(table::COST).sum(),
            col(table::QUANTITY).sum(),
            col(RECENT_COST).sum(),
            col(RECENT_QUANTITY).sum(),
        ])
        .sort(
            [table::COST],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()?;
    let workload = models.column(WORKLOAD)?.str()?;
    let model = models.column(MODEL)?.str()?;
    let token_kind = models.column(TOKEN_KIND)?.str()?;
    let batch = models.column(BATCH)?.bool()?;
    let marketplace = models.column(MARKETPLACE)?.bool()?;
    let cost = models.column(table::COST)?.f64()?;
    let quantity = models.column(table::QUANTITY)?.f64()?;
    let recent_cost = models.column(RECENT_COST)?.f64()?;
    let recent_quantity = models.column(RECENT_QUANTITY)?.f64()?;
    let mut out: HashMap<String, Vec<ModelSpend>> = HashMap::new();
    for i in 0..models.height() {
        out.entry(workload.get(i).unwrap_or_default().to_string())
            .or_default()
            .push(ModelSpend {
                model: model.get(i).unwrap_or_default().to_string(),
                token_kind: token_kind_from(token_kind.get(i)),
                batch: batch.get(i).unwrap_or(false),
                marketplace: marketplace.get(i).unwrap_or(false),
                cost: cost.get(i).unwrap_or(0.0),
                quantity: quantity.get(i).unwrap_or(0.0),
                last_30_days: recent_cost.get(i).unwrap_or(0.0),
                last_30_days_quantity: recent_quantity.get(i).unwrap_or(0.0),
            });
    }
    Ok(out)
}

/// Each workload's Bedrock usage lines (service and usage type) over the last
/// `RECENT_DAYS`, of `lines` (summed by `line_sums`).
fn usage_by_workload(
    lines: &DataFrame,
) -> PolarsResult<HashMap<String, Vec<crate::analyse::tokens::UsageSpend>>> {
    let df = lines
        .clone()
        .lazy()
        .filter(col(WORKLOAD).is_not_null().and(col(MODEL).is_not_null()))
        .group_by([col(WORKLOAD), col(table::SERVICE), col(table::USAGE_TYPE)])
        .agg([col(RECENT_COST).sum(), col(RECENT_QUANTITY).sum()])
        .sort(
            [table::SERVICE, table::USAGE_TYPE],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let mut out: HashMap<String, Vec<crate::analyse::tokens::UsageSpend>> = HashMap::new();
    for (((w, service), usage_type), (cost, quantity)) in strings(&df, WORKLOAD)?
        .into_iter()
        .zip(strings(&df, table::SERVICE)?)
        .zip(strings(&df, table::USAGE_TYPE)?)
        .zip(
            floats(&df, RECENT_COST)?
                .into_iter()
                .zip(floats(&df, RECENT_QUANTITY)?),
        )
    {
        out.entry(w.unwrap_or_default())
            .or_default()
            .push(crate::analyse::tokens::UsageSpend {
                service: service.unwrap_or_default(),
                usage_type: usage_type.unwrap_or_default(),
                last_30_days: cost,
                last_30_days_quantity: quantity,
            });
    }
    Ok(out)
}

/// One Bedrock usage line of a workload on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyUsage {
    pub date: NaiveDate,
    pub workload: String,
    pub service: String,
    pub usage_type: String,
    pub cost: f64,
    /// In the bill's unit for the usage type.
    pub quantity: f64,
}

/// Every workload's Bedrock usage lines by day, up to `as_of` (`creditburn export
/// --table tokens`), attributed as the analysis attributes them.
pub fn daily_bedrock(
    table: &CostTable,
    config: &Config,
    as_of: NaiveDate,
) -> PolarsResult<Vec<DailyUsage>> {
    let Attributed { rows, lines } = attribute(table, config)?;
    let usage = usage_up_to(&rows, table, as_of)?;
    let sums = usage
        .lazy()
        .group_by([col(table::DATE).cast(DataType::Int32), col(LINE)])
        .agg([col(table::COST).sum(), col(table::QUANTITY).sum()])
        .sort([table::DATE, LINE], SortMultipleOptions::default())
        .collect()?;
    let mut info = lines.take(sums.column(LINE)?.idx()?)?;
    info.hstack_mut(&[
        sums.column(table::DATE)?.clone().with_name("day".into()),
        sums.column(table::COST)?.clone(),
        sums.column(table::QUANTITY)?.clone(),
    ])?;
    let days = info.column("day")?.i32()?.clone();
    let workloads = strings(&info, WORKLOAD)?;
    let models = strings(&info, MODEL)?;
    let services = strings(&info, table::SERVICE)?;
    let usage_types = strings(&info, table::USAGE_TYPE)?;
    let costs = floats(&info, table::COST)?;
    let quantities = floats(&info, table::QUANTITY)?;
    let mut out = Vec::new();
    for i in 0..info.height() {
        let (Some(workload), Some(_), Some(day)) = (&workloads[i], &models[i], days.get(i)) else {
            continue;
        };
        out.push(DailyUsage {
            date: table::from_epoch_days(day),
            workload: workload.clone(),
            service: services[i].clone().unwrap_or_default(),
            usage_type: usage_types[i].clone().unwrap_or_default(),
            cost: costs[i],
            quantity: quantities[i],
        });
    }
    Ok(out)
}

pub(crate) fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

pub(crate) fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    Ok(df
        .column(name)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect())
}

fn sum_f64(df: &DataFrame, name: &str) -> PolarsResult<f64> {
    Ok(df.column(name)?.f64()?.sum().unwrap_or(0.0))
}

/// The cost table attributed: its rows with the index of their line (`LINE`), and a row
/// per distinct line (account, service, usage type, record type, tags) with the
/// attribution's columns (`WORKLOAD`, `EXCLUDED_BY`, `MARKETPLACE`, `MODEL`,
/// `TOKEN_KIND`, `BATCH`).
pub(crate) struct Attributed {
    pub rows: DataFrame,
    pub lines: DataFrame,
}

/// Attributes each distinct line once: the workload (first match wins), the workload
/// whose services excluded it, and for Bedrock lines the model, token kind, batch and
/// Marketplace flags.
pub(crate) fn attribute(table: &CostTable, config: &Config) -> PolarsResult<Attributed> {
    let df = &table.df;
    // A line's key: its account, service, usage type, record type and tags, in that order.
    let mut key_columns = vec![
        table::ACCOUNT.to_string(),
        table::SERVICE.to_string(),
        table::USAGE_TYPE.to_string(),
        table::RECORD_TYPE.to_string(),
    ];
    key_columns.push(table::PRINCIPAL.to_string());
    key_columns.push(table::RESOURCE.to_string());
    key_columns.extend(table.tag_keys.iter().map(|k| table::tag_column(k)));
    const TAGS: usize = 6;
    // Each rule's tag condition as (tag column, value); None where the data has no such
    // tag key, so the rule matches nothing.
    type Condition<'c> = Option<(usize, &'c str)>;
    let conditions: Vec<Vec<Option<Condition>>> = config
        .workloads
        .iter()
        .map(|w| {
            w.rules
                .iter()
                .map(|r| {
                    r.tag.as_ref().map(|(k, v)| {
                        table
                            .tag_keys
                            .iter()
                            .position(|t| t == k)
                            .map(|i| (i, v.as_str()))
                    })
                })
                .collect()
        })
        .collect();
    // The lines of a large table repeat the same account, service, usage type and tags
    // on every day: each distinct line is decided once (the rules' matching, the usage
    // type's parse), and every row takes the decision of its line.
    struct Decision {
        workload: Option<usize>,
        excluded_by: Option<usize>,
        marketplace: bool,
        parsed: Option<usage_type::BedrockUsage>,
    }
    let decide = |key: &[Option<&str>]| -> Decision {
        let account = key[0];
        let service = key[1].unwrap_or_default();
        let usage_type = key[2].unwrap_or_default();
        let is_usage = key[3] == Some("Usage");
        let (principal, resource) = (key[4], key[5]);
        let rules_match =
            |(w, conditions): &(&crate::config::Workload, &Vec<Option<Condition>>)| {
                w.rules.iter().zip(conditions.iter()).any(|(r, tag)| {
                    r.account.as_deref().is_none_or(|a| account == Some(a))
                        && r.usage_type.as_ref().is_none_or(|g| g.matches(usage_type))
                        && r.principal
                            .as_ref()
                            .is_none_or(|g| principal.is_some_and(|p| g.matches(p)))
                        && r.resource
                            .as_ref()
                            .is_none_or(|g| resource.is_some_and(|x| g.matches(x)))
                        && tag.is_none_or(|c| c.is_some_and(|(t, v)| key[TAGS + t] == Some(v)))
                })
            };
        let (mut matched, mut excluded) = (None, None);
        if is_usage {
            for (k, (w, _)) in config
                .workloads
                .iter()
                .zip(conditions.iter())
                .enumerate()
                .filter(|(_, pair)| rules_match(pair))
            {
                if w.services.matches(service) {
                    matched = Some(k);
                    break;
                }
                excluded.get_or_insert(k);
            }
        }
        Decision {
            workload: matched,
            // Only spend that no workload took is "lost" to a services list.
            excluded_by: excluded.filter(|_| matched.is_none()),
            marketplace: is_usage && usage_type::is_marketplace(service, usage_type),
            parsed: if is_usage {
                usage_type::parse(service, usage_type)
            } else {
                None
            },
        }
    };

    let n = df.height();
    let mut decisions: Vec<Decision> = Vec::new();
    let mut lines: PlHashMap<Vec<Option<&str>>, usize> = PlHashMap::new();
    let mut line_of: Vec<IdxSize> = Vec::with_capacity(n);
    // The first row of each line, whose key columns are the line's.
    let mut first_row: Vec<IdxSize> = Vec::new();
    // Each column read once, in order, in step (random access into a chunked array per
    // row and per workload was most of the analysis's time on large tables).
    let columns: Vec<&StringChunked> = key_columns
        .iter()
        .map(|c| df.column(c)?.str())
        .collect::<PolarsResult<_>>()?;
    let mut values: Vec<_> = columns.iter().map(|c| c.iter()).collect();
    let mut key: Vec<Option<&str>> = Vec::with_capacity(key_columns.len());
    for i in 0..n {
        key.clear();
        key.extend(values.iter_mut().map(|v| v.next().flatten()));
        let line = match lines.get(key.as_slice()) {
            Some(&line) => line,
            None => {
                decisions.push(decide(&key));
                first_row.push(i as IdxSize);
                lines.insert(key.clone(), decisions.len() - 1);
                decisions.len() - 1
            }
        };
        line_of.push(line as IdxSize);
    }
    // The attribution's columns are a value per line: every aggregation sums the rows
    // by line first and reads the rest from the line (the rows hold no copy of a
    // workload's name, model or token kind).
    let name = |k: Option<usize>| k.map(|k| config.workloads[k].name.as_str());
    let mut by_line = df
        .select(key_columns.iter().map(|c| c.as_str()))?
        .take(&IdxCa::from_vec(LINE.into(), first_row))?;
    by_line.hstack_mut(&[
        Column::new(
            WORKLOAD.into(),
            decisions
                .iter()
                .map(|d| name(d.workload))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            EXCLUDED_BY.into(),
            decisions
                .iter()
                .map(|d| name(d.excluded_by))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            MARKETPLACE.into(),
            decisions.iter().map(|d| d.marketplace).collect::<Vec<_>>(),
        ),
        Column::new(
            MODEL.into(),
            decisions
                .iter()
                .map(|d| d.parsed.as_ref().map(|p| p.model.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            TOKEN_KIND.into(),
            decisions
                .iter()
                .map(|d| d.parsed.as_ref().map(|p| p.token_kind.as_str()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            BATCH.into(),
            decisions
                .iter()
                .map(|d| d.parsed.as_ref().is_some_and(|p| p.batch))
                .collect::<Vec<_>>(),
        ),
    ])?;
    let rows = df.hstack(&[IdxCa::from_vec(LINE.into(), line_of).into_column()])?;
    Ok(Attributed {
        rows,
        lines: by_line,
    })
}

/// What every award's status needs besides its own rows.
struct Context<'a> {
    as_of: NaiveDate,
    data_through: NaiveDate,
    keys_without_values: &'a std::collections::BTreeSet<String>,
    /// The largest unattributed services and tag values, as a phrase.
    unattributed_top: &'a str,
}

/// A phrase naming the largest unattributed services and, per tag key, tag values.
fn top_unattributed(
    unattributed: &LazyFrame,
    by_service: &[ServiceSpend],
    table: &CostTable,
) -> PolarsResult<String> {
    let mut parts = Vec::new();
    let services: Vec<String> = by_service
        .iter()
        .take(3)
        .map(|s| format!("{} {}", s.service, crate::model::money::money(s.cost)))
        .collect();
    if !services.is_empty() {
        parts.push(format!("services {}", services.join(", ")));
    }
    for key in &table.tag_keys {
        let column = table::tag_column(key);
        let df = unattributed
            .clone()
            .group_by([col(column.as_str())])
            .agg([col(table::COST).sum()])
            .sort(
                [table::COST],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .limit(3)
            .collect()?;
        let values: Vec<String> = strings(&df, &column)?
            .into_iter()
            .zip(floats(&df, table::COST)?)
            .map(|(v, cost)| {
                let v = v.map_or("(no tag)".to_string(), |v| format!("{key}={v}"));
                format!("{v} {}", crate::model::money::money(cost))
            })
            .collect();
        if !values.is_empty() {
            parts.push(format!("tag values {}", values.join(", ")));
        }
    }
    Ok(parts.join("; "))
}

/// Usage per workload and day, by service and Marketplace flag, with the unattributed
/// and the excluded spend per day: everything an award's figures are drawn from, built
/// in one pass over the table for all awards.
struct Daily {
    /// Workload -> (day, service, Marketplace, cost).
    funded: HashMap<String, Vec<(NaiveDate, String, bool, f64)>>,
    /// Every usage line by day, unattributed included: what the burn model draws.
    spend: burn::Spend,
    unattributed: BTreeMap<NaiveDate, f64>,
    /// Workload whose services excluded the spend -> day -> cost.
    excluded: HashMap<String, BTreeMap<NaiveDate, f64>>,
}

impl Daily {
    fn of(usage: &DataFrame, lines: &DataFrame) -> PolarsResult<Daily> {
        // What each line is to the burn: its kind (workload, service, Marketplace) and
        // the workload whose services excluded it.
        let workloads = strings(lines, WORKLOAD)?;
        let services = strings(lines, table::SERVICE)?;
        let marketplace = lines.column(MARKETPLACE)?.bool()?;
        let excluded_by = strings(lines, EXCLUDED_BY)?;
        // (workload, service, Marketplace), in order: a kind's rank sorts as it does.
        type LineKind = (Option<String>, String, bool);
        let line_kind: Vec<LineKind> = workloads
            .into_iter()
            .zip(services)
            .enumerate()
            .map(|(i, (w, s))| {
                (
                    w,
                    s.unwrap_or_default(),
                    marketplace.get(i).unwrap_or(false),
                )
            })
            .collect();
        let mut ranked: Vec<&LineKind> = line_kind.iter().collect();
        ranked.sort();
        ranked.dedup();
        let rank_of: Vec<u32> = line_kind
            .iter()
            .map(|k| ranked.binary_search(&k).unwrap_or_default() as u32)
            .collect();
        let mut excluders: Vec<&String> = excluded_by.iter().flatten().collect();
        excluders.sort();
        excluders.dedup();
        let excluder_of: Vec<Option<u32>> = excluded_by
            .iter()
            .map(|w| {
                w.as_ref()
                    .map(|w| excluders.binary_search(&w).unwrap_or_default() as u32)
            })
            .collect();
        // One pass over the rows: cost per (day, kind), excluded per (day, workload).
        let days = usage.column(table::DATE)?.cast(&DataType::Int32)?;
        let (days, line, cost) = (
            days.i32()?,
            usage.column(LINE)?.idx()?,
            usage.column(table::COST)?.f64()?,
        );
        let mut by_day_kind: PlHashMap<(i32, u32), f64> = PlHashMap::new();
        let mut by_day_excluder: PlHashMap<(i32, u32), f64> = PlHashMap::new();
        for ((day, line), cost) in days.iter().zip(line.iter()).zip(cost.iter()) {
            let (Some(day), Some(line)) = (day, line) else {
                continue;
            };
            let cost = cost.unwrap_or(0.0);
            *by_day_kind
                .entry((day, rank_of[line as usize]))
                .or_default() += cost;
            if let Some(w) = excluder_of[line as usize] {
                *by_day_excluder.entry((day, w)).or_default() += cost;
            }
        }
        let mut excluded: HashMap<String, BTreeMap<NaiveDate, f64>> = HashMap::new();
        for ((day, w), cost) in by_day_excluder {
            excluded
                .entry(excluders[w as usize].clone())
                .or_default()
                .insert(table::from_epoch_days(day), cost);
        }
        // By day, then workload (unattributed first), service and Marketplace.
        let mut sums: Vec<((i32, u32), f64)> = by_day_kind.into_iter().collect();
        sums.sort_by_key(|s| s.0);
        let mut unattributed: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        let mut funded: HashMap<String, Vec<(NaiveDate, String, bool, f64)>> = HashMap::new();
        let mut kinds: HashMap<burn::Kind, usize> = HashMap::new();
        let mut spend = burn::Spend {
            kinds: Vec::new(),
            days: BTreeMap::new(),
            estimated_from: None,
        };
        for ((d, rank), cost) in sums {
            let (workload, service, marketplace) = ranked[rank as usize];
            let day = table::from_epoch_days(d);
            if workload.is_none() {
                *unattributed.entry(day).or_default() += cost;
            }
            let kind = burn::Kind {
                workload: workload.clone(),
                service: service.clone(),
                marketplace: *marketplace,
            };
            let next = kinds.len();
            let k = *kinds.entry(kind.clone()).or_insert_with(|| {
                spend.kinds.push(kind);
                next
            });
            spend.days.entry(day).or_default().push((k, cost));
            if let Some(workload) = workload {
                funded.entry(workload.clone()).or_default().push((
                    day,
                    service.clone(),
                    *marketplace,
                    cost,
                ));
            }
        }
        Ok(Daily {
            funded,
            spend,
            unattributed,
            excluded,
        })
    }
}

/// Why an award older than the data has no figure to trust: the days `gap` are missing,
/// with their likely size at the pace of its first four weeks of data, and what to set.
fn gap_reason(
    award: &Award,
    burn: &burn::AwardBurn,
    (from, to): (NaiveDate, NaiveDate),
    source: &crate::config::SourceConfig,
) -> String {
    let export = matches!(source, crate::config::SourceConfig::Export(_));
    let days = (to - from).num_days().max(0);
    let first: Vec<f64> = burn
        .daily
        .iter()
        .filter(|(d, _)| *d >= to && (*d - to).num_days() < 28)
        .map(|(_, v)| *v)
        .collect();
    let likely = if first.is_empty() {
        String::new()
    } else {
        let pace = first.iter().sum::<f64>() / 28.0;
        format!(
            ", likely about {} at the pace of its first 28 days of data",
            crate::model::money::money(pace * days as f64)
        )
    };
    let billing = if award.credit_id.is_some() || export {
        ""
    } else {
        " (or its credit_id, for the Billing API's figure when the data starts on a month's first day)"
    };
    format!(
        "its days {} are not in the data, which starts on {to} ({}): its consumed leaves out what it paid then{likely}; set consumed_before = {{ date = \"{to}\", amount = ... }} to what it had paid by then{billing}",
        crate::model::text::days(from, to),
        if export {
            "the export holds nothing older"
        } else {
            "Cost Explorer reaches 13 months back; older days come from the cache only"
        },
    )
}

/// An award's days and the spend around it within `period`: what it paid per day (the
/// drawdown; every day its workloads spent, at least 0), its workloads' spend it may not
/// pay for, all their spend, the usage no workload took, the spend their rules match but
/// their services exclude, and the tag keys their rules name that have no value.
struct PeriodSpend<'a> {
    by_day: BTreeMap<NaiveDate, f64>,
    not_covered: f64,
    matched: f64,
    unattributed: f64,
    excluded: f64,
    dead_keys: Vec<&'a str>,
}

fn period_spend<'a>(
    daily: &Daily,
    award: &Award,
    burn: &burn::AwardBurn,
    config: &'a Config,
    context: &Context,
    period: &std::ops::RangeInclusive<NaiveDate>,
) -> PeriodSpend<'a> {
    // What the award paid per day (the drawdown), and the spend of its workloads it may
    // not pay for.
    let mut by_day: BTreeMap<NaiveDate, f64> = burn.daily.iter().copied().collect();
    let mut not_covered = 0.0;
    let mut matched = 0.0;
    for w in &award.workloads {
        for (day, service, marketplace, cost) in daily.funded.get(w).into_iter().flatten() {
            if !period.contains(day) {
                continue;
            }
            matched += cost;
            by_day.entry(*day).or_insert(0.0);
            if !(award.services.matches(service) && (award.marketplace_covered || !marketplace)) {
                not_covered += cost;
            }
        }
    }
    let unattributed: f64 = daily
        .unattributed
        .range(period.clone())
        .map(|(_, c)| c)
        .sum();
    let excluded: f64 = award
        .workloads
        .iter()
        .filter_map(|w| daily.excluded.get(w))
        .flat_map(|days| days.range(period.clone()).map(|(_, c)| c))
        .sum();
    let dead_keys: Vec<&'a str> = config
        .workloads
        .iter()
        .filter(|w| award.workloads.contains(&w.name))
        .flat_map(|w| &w.rules)
        .filter_map(|r| r.tag.as_ref().map(|(k, _)| k.as_str()))
        .filter(|k| context.keys_without_values.contains(*k))
        .collect();
    PeriodSpend {
        by_day,
        not_covered,
        matched,
        unattributed,
        excluded,
        dead_keys,
    }
}

/// The status, exhaustion date and unused balance the report gives an award: the dated
/// statuses (not started, expired) from the trailing-mean projection; exhausted when
/// something was granted, none of it is left and no tranche is still to come; otherwise
/// the forecast's P50 through `burn::verdict`.
/// With the status, the other statuses the forecast's P10-P90 range reaches (none for a
/// status no forecast decides).
fn verdict_of(
    award: &Award,
    burn: &burn::AwardBurn,
    projection: &crate::analyse::project::Projection,
    as_of: NaiveDate,
    slack: i64,
) -> (Status, Option<NaiveDate>, f64, Vec<Status>) {
    let f = &burn.forecast;
    let in_period = as_of >= award.start && as_of <= award.expiry;
    // Used up: something was granted, none of it is left, and no tranche is still to
    // come. An award whose first tranche is later has run out of nothing; one with a
    // top-up ahead has its forecast's verdict.
    let granted: f64 = award
        .tranches
        .iter()
        .filter(|(d, _)| *d <= as_of)
        .map(|(_, a)| a)
        .sum();
    let to_come = award.tranches.iter().any(|(d, _)| *d > as_of);
    let used_up = in_period && burn.remaining < 0.005 && granted > 0.0 && !to_come;
    match projection.status {
        Status::NotStarted | Status::Expired => (
            projection.status,
            projection.exhaustion_date.or(f.exhaustion_date.p50),
            if projection.status == Status::Expired {
                projection.unused_at_expiry
            } else {
                f.unused_at_expiry.p50
            },
            Vec::new(),
        ),
        _ if used_up => (
            Status::Exhausted,
            burn.exhausted_on.or(f.exhaustion_date.p50),
            0.0,
            Vec::new(),
        ),
        _ => {
            let (d, u) = (&f.exhaustion_date, &f.unused_at_expiry);
            let at = |date, unused| {
                burn::verdict(date, unused, burn.projected_daily, award.expiry, slack)
            };
            let status = at(d.p50, u.p50);
            // The high-spend end of the range runs out soonest and leaves least; the
            // low-spend end the other way.
            let mut reaches = Vec::new();
            for q in [at(d.p10, u.p10), at(d.p90, u.p90)] {
                if q != status && !reaches.contains(&q) {
                    reaches.push(q);
                }
            }
            (
                status,
                f.exhaustion_date.p50,
                f.unused_at_expiry.p50,
                reaches,
            )
        }
    }
}

fn award_status(
    daily: &Daily,
    award: &Award,
    burn: &burn::AwardBurn,
    note: OpeningNote,
    config: &Config,
    context: &Context,
) -> PolarsResult<AwardStatus> {
    let (as_of, data_through) = (context.as_of, context.data_through);
    // The days the data counts for it: from its start, or from the day its balance
    // was brought forward.
    let pays_from = award
        .consumed_before
        .map_or(award.start, |o| o.date.max(award.start));
    let period = pays_from..=award.expiry;
    let PeriodSpend {
        by_day,
        not_covered,
        matched,
        unattributed,
        excluded,
        dead_keys,
    } = period_spend(daily, award, burn, config, context, &period);
    // The trailing-mean figures (consumed, burn, runway) and the dated statuses.
    let projection = project(
        &Inputs {
            amount: award.amount,
            start: award.start,
            expiry: award.expiry,
            daily: &by_day,
            data_through,
            opening: award.consumed_before.map(|o| (o.date, o.amount)),
        },
        as_of,
        config.analysis.burn_window_days,
        config.alerts.slack_days,
    );
    let slack = config.alerts.slack_days;
    let (status, exhaustion_date, unused_at_expiry, range_reaches) =
        verdict_of(award, burn, &projection, as_of, slack);
    let no_data_reasons = no_data_reasons(
        &Suspicion {
            status,
            matched,
            unattributed,
            excluded,
            dead_keys: &dead_keys,
            workloads: &award.workloads,
            start: award.start,
        },
        context.unattributed_top,
    );
    let mut no_data_reasons = no_data_reasons;
    if let Some(gap) = note.gap {
        no_data_reasons.insert(0, gap_reason(award, burn, gap, &config.source));
    }
    let (status, range_reaches) = if no_data_reasons.is_empty() {
        (status, range_reaches)
    } else {
        (Status::NoData, Vec::new())
    };
    let consumed = projection.consumed;
    Ok(AwardStatus {
        id: award.id.clone(),
        program: award.program,
        amount: award.amount,
        currency: award.currency.clone(),
        consumed,
        remaining: (award.amount - consumed).max(0.0),
        out_of_pocket: burn.out_of_pocket,
        consumed_percent: (consumed / award.amount * 1000.0).round() / 10.0,
        start_date: award.start,
        expiry_date: award.expiry,
        daily_burn: projection.daily_burn,
        daily_burn_range: projection.burn_range,
        burn_window_days: projection.burn_window_days,
        days_left: projection.days_left,
        runway_days: projection.runway_days.map(|r| (r * 10.0).round() / 10.0),
        projected_exhaustion_date: exhaustion_date,
        projected_unused_at_expiry: unused_at_expiry,
        status,
        confidence: if range_reaches.is_empty() {
            Confidence::Firm
        } else {
            Confidence::Uncertain
        },
        range_reaches,
        not_covered,
        workloads: award.workloads.clone(),
        no_data_reasons,
        credit: None,
        opening: note.view,
        tranches: award
            .tranches
            .iter()
            .map(|(date, amount)| Tranche {
                date: *date,
                amount: *amount,
                granted: *date <= as_of,
            })
            .collect(),
        forecast: burn.forecast.clone(),
        pace: burn::pace(award, consumed, as_of, slack),
        account_view: burn.account_view.clone(),
        projected_draw: burn.paths.clone(),
        daily: by_day
            .range(award.start..=as_of.min(award.expiry))
            .map(|(d, v)| (*d, *v))
            .collect(),
    })
}
