//! The burn model: the awards drawn down by actual spend up to the last day of data, then
//! by each workload's forecast (P10, P50 and P90 paths) up to the last expiry, in two
//! views. Pure, and free of polars.
//!
//! - The workload view: each award pays only the spend of the workloads it was granted
//!   for (and its services, and Marketplace if covered), in the drawdown order.
//! - The account view: every award pays any eligible spend of the account, whichever
//!   workload it belongs to (unattributed spend included), in the same order: what AWS
//!   does. A POC that expires first is then eaten by the platform.
//!
//! Dates and amounts come with P10/P50/P90 by running the drawdown over the quantile
//! paths of every workload at once: the P90 spend path gives the earliest exhaustion
//! (the P10 date) and the least left unused (the P10 amount).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::drawdown::{self, Credit, Ledger, Outlook, Setup};
use crate::analyse::forecast::{self, Blend, Method};
use crate::config::{Award, DrawdownOrder};
use crate::model::money::cents;

/// What decides which award may pay a line: its workload (None: unattributed), service
/// and whether it is billed through Marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    pub workload: Option<String>,
    pub service: String,
    pub marketplace: bool,
}

/// Every usage line of the account up to the last day of data, by day.
pub struct Spend {
    pub kinds: Vec<Kind>,
    pub days: BTreeMap<NaiveDate, Vec<(usize, f64)>>,
    /// The first day AWS marks estimated, if any (its figures may still grow).
    pub estimated_from: Option<NaiveDate>,
}

impl Spend {
    /// One workload's Bedrock spend, a figure a day (the backtest's and the tests'
    /// histories).
    pub fn of_one(
        workload: &str,
        daily: impl IntoIterator<Item = (NaiveDate, f64)>,
        estimated_from: Option<NaiveDate>,
    ) -> Spend {
        Spend {
            kinds: vec![Kind {
                workload: Some(workload.to_string()),
                service: "Amazon Bedrock".into(),
                marketplace: false,
            }],
            days: daily.into_iter().map(|(d, v)| (d, vec![(0, v)])).collect(),
            estimated_from,
        }
    }
}

/// A workload whose last days of data look still arriving (see `LATE_DAYS`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StillArriving {
    pub workload: String,
    /// The first of those days.
    pub from: NaiveDate,
    pub days: usize,
    /// What the forecast (P50) expects of those days beyond what AWS shows so far,
    /// counted as spend on the day after the data.
    #[serde(serialize_with = "cents")]
    pub expected_more: f64,
}

/// How many of the last days of data may be still arriving: estimated by AWS and under
/// `LATE_SHARE` of the median of the week before. The forecast is fitted to the days
/// before them, and what it expects of them beyond what AWS shows is spent the day after
/// the data, so that an exhaustion is not put off by figures AWS has yet to fill in.
pub const LATE_DAYS: usize = 2;
pub const LATE_SHARE: f64 = 0.5;

/// The trailing days of `y` (the last `estimated` of which AWS marks estimated) that
/// look still arriving: from the first of the last `LATE_DAYS` under `LATE_SHARE` of the
/// median of the seven days before it.
pub fn still_arriving(y: &[f64], estimated: usize) -> usize {
    let n = y.len();
    let from = n.saturating_sub(LATE_DAYS.min(estimated));
    (from.max(7)..n)
        .find(|&i| {
            let mut week = y[i - 7..i].to_vec();
            week.sort_by(f64::total_cmp);
            week[3] > 0.0 && y[i] < LATE_SHARE * week[3]
        })
        .map_or(0, |i| n - i)
}

/// What the Billing API says of the account's credits, for the account view.
#[derive(Debug, Clone, Default)]
pub struct Billing {
    /// Per award (by index, may be shorter): the products its credit applies to, when
    /// the award names a credit AWS lists with products (None: the award's `services`).
    pub products: Vec<Option<Vec<String>>>,
    /// Credits on the account that no award names: drawn in the account view only.
    pub others: Vec<OtherCredit>,
}

/// A credit on the account that no award names.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherCredit {
    pub credit_id: String,
    pub start: NaiveDate,
    pub expiry: NaiveDate,
    /// What it holds from which day.
    pub tranches: Vec<(NaiveDate, f64)>,
    /// `applicableProductNames`.
    pub products: Vec<String>,
}

/// A credit no award names, as AWS draws it (`drawn_by_others`: every workload that
/// drew it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtherCreditView {
    pub credit_id: String,
    #[serde(flatten)]
    pub account_view: AccountView,
}

/// Whether a credit whose `applicableProductNames` are `products` pays for a Cost
/// Explorer service: "All AWS services" (or no list) covers every one; otherwise a name
/// covers the service of that name, the services named after it ("Amazon Elastic
/// Compute Cloud" covers "Amazon Elastic Compute Cloud - Compute", and "EC2 - Other"
/// too), and "Amazon Bedrock" every service Bedrock is billed under.
pub fn products_cover(products: &[String], service: &str) -> bool {
    products_breadth(products).is_none()
        || products.iter().any(|p| {
            service == p
                || service
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with(" - "))
                || (p == "Amazon Bedrock" && crate::model::usage_type::is_bedrock_service(service))
                // EBS, NAT gateways and Elastic IPs: billed by Cost Explorer apart.
                || (p == "Amazon Elastic Compute Cloud" && service == "EC2 - Other")
        })
}

/// How many products a list names (None: all), AWS's second key for the drawdown order.
pub fn products_breadth(products: &[String]) -> Option<usize> {
    let all = products.is_empty()
        || products
            .iter()
            .any(|p| p.trim().eq_ignore_ascii_case("All AWS services"));
    (!all).then_some(products.len())
}

/// Low, middle and high: for dates and amounts, P10, P50 and P90.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles<T> {
    pub p10: T,
    pub p50: T,
    pub p90: T,
}

impl<T> Quantiles<T> {
    /// From a figure per spend path (0: P10 spend, 1: P50, 2: P90) that rises with
    /// spend (amounts paid out of pocket): P10 from the P10 spend path.
    pub(crate) fn rising(f: impl Fn(usize) -> T) -> Quantiles<T> {
        Quantiles {
            p10: f(0),
            p50: f(1),
            p90: f(2),
        }
    }

    /// From a figure that falls as spend rises (a date something runs out, a balance
    /// left): P10 from the P90 spend path.
    pub(crate) fn falling(f: impl Fn(usize) -> T) -> Quantiles<T> {
        Quantiles {
            p10: f(2),
            p50: f(1),
            p90: f(0),
        }
    }
}

fn money_quantiles<S: serde::Serializer>(q: &Quantiles<f64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Quantiles", 3)?;
    st.serialize_field("p10", &crate::model::money::round2(q.p10))?;
    st.serialize_field("p50", &crate::model::money::round2(q.p50))?;
    st.serialize_field("p90", &crate::model::money::round2(q.p90))?;
    st.end()
}

/// The forecast's verdict on one award, in the workload view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AwardForecast {
    /// The forecast method of each funded workload, by name.
    pub method: BTreeMap<String, Blend>,
    /// The day the balance runs out, if before expiry (null: it lasts).
    pub exhaustion_date: Quantiles<Option<NaiveDate>>,
    #[serde(serialize_with = "money_quantiles")]
    pub unused_at_expiry: Quantiles<f64>,
}

/// The plan line (straight from start to expiry, or through `Award::plan`) and where
/// consumption stands against it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pace {
    /// What the plan has consumed by `as_of`.
    #[serde(serialize_with = "cents")]
    pub planned: f64,
    /// Consumed less planned: positive is ahead of plan (exhaustion risk), negative
    /// behind it (forfeit risk).
    #[serde(serialize_with = "cents")]
    pub ahead: f64,
    /// `ahead` in days of the plan's daily rate.
    pub ahead_days: f64,
    /// `ahead`, `behind` or `on_plan` (within the slack days).
    pub verdict: &'static str,
}

/// The award as AWS draws it: by all eligible spend of the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountView {
    #[serde(serialize_with = "cents")]
    pub consumed: f64,
    #[serde(serialize_with = "cents")]
    pub remaining: f64,
    /// Projected (P50) exhaustion, if before expiry.
    pub exhaustion_date: Option<NaiveDate>,
    /// Projected (P50) balance left at expiry.
    #[serde(serialize_with = "cents")]
    pub unused_at_expiry: f64,
    /// Spend of workloads the award was not granted for that AWS paid from it, largest
    /// first ("unattributed" for spend no workload took).
    pub drawn_by_others: Vec<DrawnBy>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawnBy {
    pub workload: String,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
}

/// When the account starts paying: spend some award could pay but none has left, in the
/// account view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutOfPocket {
    /// Eligible spend already paid out of pocket, up to the last day of data.
    #[serde(serialize_with = "cents")]
    pub to_date: f64,
    /// The first day after the data that eligible spend goes unpaid (null: not within
    /// the horizon). P10 is the earliest.
    pub begins: Quantiles<Option<NaiveDate>>,
    #[serde(serialize_with = "money_quantiles")]
    pub next_30_days: Quantiles<f64>,
    #[serde(serialize_with = "money_quantiles")]
    pub next_90_days: Quantiles<f64>,
}

/// One award in the model.
#[derive(Debug, Clone, PartialEq)]
pub struct AwardBurn {
    /// Paid by the award up to the last day of data (workload view).
    pub consumed: f64,
    /// Its balance at the end of the last day of data (0 outside its period).
    pub remaining: f64,
    /// Per day it paid something, the amount.
    pub daily: Vec<(NaiveDate, f64)>,
    /// Eligible spend of its workloads it left unpaid because it was empty.
    pub out_of_pocket: f64,
    /// The day it ran out, if it has.
    pub exhausted_on: Option<NaiveDate>,
    pub forecast: AwardForecast,
    /// The mean daily amount it pays on the P50 path from the last day of data to
    /// expiry (0 when that span is empty).
    pub projected_daily: f64,
    pub account_view: AccountView,
    /// What it pays after the last day of data, cumulatively, per day to expiry, on the
    /// P10, P50 and P90 spend paths (for the chart).
    pub paths: [Vec<(NaiveDate, f64)>; 3],
}

/// A day of a workload's spend beyond what the forecast's noise explains, by an amount
/// worth reading (`SpikeCheck`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spike {
    pub workload: String,
    pub date: NaiveDate,
    #[serde(serialize_with = "cents")]
    pub spend: f64,
    /// The forecast for the day (P50), from the days before.
    #[serde(serialize_with = "cents")]
    pub expected: f64,
    /// The most the forecast's noise explains for the day (`Forecast::one_day_ahead`:
    /// about one day in a thousand of a series without spikes is above it).
    #[serde(serialize_with = "cents")]
    pub threshold: f64,
    /// The usage types that moved most against their mean of the 14 days before, in
    /// dollars (filled in by the analysis).
    pub movers: Vec<Mover>,
    /// How much of the jump above `expected` the movers account for, in dollars.
    #[serde(serialize_with = "cents")]
    pub explained: f64,
}

impl Spike {
    /// Whether the movers account for most (half or more) of the jump above expected.
    pub fn movers_explain(&self) -> bool {
        self.explained >= 0.5 * (self.spend - self.expected)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mover {
    pub usage_type: String,
    #[serde(serialize_with = "cents")]
    pub change: f64,
}

pub struct Model {
    pub awards: Vec<AwardBurn>,
    /// The awards' indices in the order they are drawn.
    pub order: Vec<usize>,
    /// Per workload, the latest of its last days of data checked that is a spike
    /// (`SpikeCheck`; unattributed spend is not checked).
    pub spikes: Vec<Spike>,
    pub out_of_pocket: OutOfPocket,
    /// Each workload's forecast method (the key "" is unattributed spend).
    pub methods: BTreeMap<String, Blend>,
    /// The credits no award names, in the account view.
    pub others: Vec<OtherCreditView>,
    /// Workloads whose last days of data look still arriving.
    pub still_arriving: Vec<StillArriving>,
    /// What the future was drawn from: a changed input (a lever on a workload's spend)
    /// is drawn again through the same steps, without fitting the forecasts again.
    pub projector: std::sync::Arc<Projector>,
}

/// How many of the last days of data are checked for a spike at least: a day's figures
/// can still rise after the run that first saw it.
pub const SPIKE_DAYS: usize = 3;
/// The most days checked for a spike: the days since the last run's data, when runs
/// were missed or its data was stale (a runaway job that began while none ran is caught
/// on its first day), up to two weeks.
pub const MAX_SPIKE_DAYS: usize = 14;

/// How many of the last days of data up to `end` are checked for a spike, given the
/// last day of data the last run analysed, if one is known: the days since it and the
/// `SPIKE_DAYS - 1` before them that it saw (their figures may have risen since), within
/// `SPIKE_DAYS..=MAX_SPIKE_DAYS`. Daily runs check `SPIKE_DAYS`.
pub fn spike_days(end: NaiveDate, last_run: Option<NaiveDate>) -> usize {
    last_run.map_or(SPIKE_DAYS, |last| {
        let new = (end - last).num_days().max(0) as usize;
        (new + SPIKE_DAYS - 1).clamp(SPIKE_DAYS, MAX_SPIKE_DAYS)
    })
}

/// What makes a day a spike worth an alert: beyond what the forecast's noise explains
/// (`Forecast::one_day_ahead`'s threshold), and an impact worth reading: at least
/// `min_amount` dollars and `min_share` of the day's expected spend above what was
/// expected. `days` of the last days of data are checked (`spike_days`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeCheck {
    pub days: usize,
    pub min_amount: f64,
    pub min_share: f64,
}

impl Default for SpikeCheck {
    /// A daily run's check with the configuration's default floors.
    fn default() -> SpikeCheck {
        SpikeCheck {
            days: SPIKE_DAYS,
            min_amount: crate::config::SPIKE_MIN_AMOUNT,
            min_share: crate::config::SPIKE_MIN_SHARE,
        }
    }
}

impl SpikeCheck {
    /// Whether `spend` on a day forecast at `expected`, with `threshold` the most the
    /// noise explains, is a spike.
    pub fn is_spike(&self, spend: f64, expected: f64, threshold: f64) -> bool {
        let above = spend - expected;
        spend > threshold && above >= self.min_amount && above >= self.min_share * expected
    }
}

/// The days the forecast reaches past the last day of data: to the last expiry, and at
/// least far enough for the 90-day out-of-pocket figure.
/// How far past the last award's expiry the future is drawn: the year after it, so
/// that when the account starts paying (at the latest the day after the last expiry)
/// the plan has a year of the spend that follows to size the next award on.
pub const BEYOND_LAST_EXPIRY: usize = 365;

/// The days drawn after `end`: to a year past the last expiry, at least a year (the
/// plan's 12-month projection), at most ten.
fn horizon(awards: &[Award], end: NaiveDate) -> usize {
    let last = awards.iter().map(|a| a.expiry).max().unwrap_or(end);
    ((last - end).num_days().max(0) as usize + BEYOND_LAST_EXPIRY).clamp(366, 3660)
}

/// Runs the model on the account's spend up to `end` (the last day of data that counts,
/// at most `as_of`), as named steps: who may pay what (`views`), the past (`replay`),
/// each workload's series and forecast (`series`, `fit`), the future on each quantile
/// path (`Projector::project`), and what that says of each award and of the account.
///
/// `only` forces one forecast method on every workload (the backtest's baselines); None
/// lets each series' own backtest choose. `spikes` says which of the last days of data
/// are checked for a spike, and what makes one.
pub fn model(
    spend: &Spend,
    awards: &[Award],
    billing: &Billing,
    order: DrawdownOrder,
    end: NaiveDate,
    only: Option<Method>,
    spikes: SpikeCheck,
) -> Model {
    let views = views(&spend.kinds, awards, billing, order);
    let (mut past, past_account) = replay(spend, &views, end);
    // Kept apart, so the projections' copies of the past ledger carry none of it.
    let past_paid = past.paid.take().unwrap_or_default();
    let series = series(spend, end);
    let h = horizon(awards, end);
    let estimated = spend.estimated_from.map_or(0, |e| {
        ((end - e).num_days() + 1).clamp(0, series.len as i64) as usize
    });
    let fitted = fit(&series, h, only, spikes, estimated);
    let (methods, spikes, still_arriving) = fit_findings(&series, &fitted, end);
    let projector = Projector {
        views,
        past,
        past_paid,
        past_account,
        fits: series
            .names
            .iter()
            .zip(series.shares)
            .zip(fitted)
            .map(|((_, shares), f)| Fit {
                forecast: f.forecast,
                shares,
                late: f.late,
                more: f.more,
            })
            .collect(),
        kinds: spend.kinds.clone(),
        end,
        until: end + chrono::Days::new(h as u64),
        awards: awards.to_vec(),
        billing: billing.clone(),
        order,
        launches: Vec::new(),
    };
    let projection = projector.project(&[]);
    let out_awards = awards
        .iter()
        .enumerate()
        .map(|(c, a)| award_burn(&projector, &projection, c, a, &methods))
        .collect();
    let others = billing
        .others
        .iter()
        .enumerate()
        .map(|(i, o)| OtherCreditView {
            credit_id: o.credit_id.clone(),
            // Its balance the day after the data: one AWS reported is granted then.
            account_view: projector.account_view_of(
                &projection,
                awards.len() + i,
                &[],
                (end + chrono::Days::new(1)).max(o.start).min(o.expiry),
            ),
        })
        .collect();
    Model {
        order: projector.views.workload_order.clone(),
        others,
        still_arriving,
        out_of_pocket: projector.out_of_pocket(&projection),
        awards: out_awards,
        spikes,
        methods,
        projector: std::sync::Arc::new(projector),
    }
}

/// Who may pay what: the awards in the workload view (an award pays only its
/// workloads' spend), and in the account view (any eligible spend, with AWS's products
/// where the Billing API lists them, then the credits no award names).
#[derive(Debug, Clone)]
pub struct Views {
    credits: Vec<Credit>,
    workload_order: Vec<usize>,
    workload_eligible: Vec<Vec<bool>>,
    account_credits: Vec<Credit>,
    account_order: Vec<usize>,
    account_eligible: Vec<Vec<bool>>,
    /// Per award, what it had paid before the data (`Award::consumed_before`).
    openings: Vec<f64>,
}

impl Views {
    fn workload(&self) -> Setup<'_> {
        Setup {
            credits: &self.credits,
            order: self.workload_order.clone(),
            eligible: &self.workload_eligible,
        }
    }

    fn account(&self) -> Setup<'_> {
        Setup {
            credits: &self.account_credits,
            order: self.account_order.clone(),
            eligible: &self.account_eligible,
        }
    }
}

/// Step 1: who may pay which kind of spend, in both views.
fn views(kinds: &[Kind], awards: &[Award], billing: &Billing, order: DrawdownOrder) -> Views {
    let mut credits: Vec<Credit> = awards
        .iter()
        .map(|a| Credit {
            start: a.start,
            expiry: a.expiry,
            tranches: a.tranches.clone(),
            breadth: a.services.breadth(),
        })
        .collect();
    let covers = |a: &Award, k: &Kind| {
        a.services.matches(&k.service) && (a.marketplace_covered || !k.marketplace)
    };
    let workload_eligible = awards
        .iter()
        .map(|a| {
            kinds
                .iter()
                .map(|k| {
                    k.workload.as_ref().is_some_and(|w| a.workloads.contains(w)) && covers(a, k)
                })
                .collect()
        })
        .collect();
    let products = |c: usize| billing.products.get(c).and_then(|p| p.as_deref());
    let mut account_credits: Vec<Credit> = credits
        .iter()
        .enumerate()
        .map(|(c, credit)| Credit {
            breadth: products(c).map_or(credit.breadth, products_breadth),
            ..credit.clone()
        })
        .chain(billing.others.iter().map(|o| Credit {
            start: o.start,
            expiry: o.expiry,
            tranches: o.tranches.clone(),
            breadth: products_breadth(&o.products),
        }))
        .collect();
    let account_eligible = awards
        .iter()
        .enumerate()
        .map(|(c, a)| {
            kinds
                .iter()
                .map(|k| match products(c) {
                    Some(p) => {
                        products_cover(p, &k.service) && (a.marketplace_covered || !k.marketplace)
                    }
                    None => covers(a, k),
                })
                .collect()
        })
        .chain(billing.others.iter().map(|o| {
            kinds
                .iter()
                .map(|k| !k.marketplace && products_cover(&o.products, &k.service))
                .collect()
        }))
        .collect();
    let workload_order = drawdown::order(&credits, order);
    let account_order = drawdown::order(&account_credits, order);
    // An award with a balance brought forward pays from the opening's day on (the
    // days before are in it); the order is AWS's, by its real start.
    for (c, a) in awards.iter().enumerate() {
        if let Some(o) = a.consumed_before {
            credits[c].start = credits[c].start.max(o.date);
            account_credits[c].start = account_credits[c].start.max(o.date);
        }
    }
    Views {
        workload_order,
        account_order,
        credits,
        workload_eligible,
        account_credits,
        account_eligible,
        openings: awards
            .iter()
            .map(|a| a.consumed_before.map_or(0.0, |o| o.amount))
            .collect(),
    }
}

/// Step 2: the actual spend up to `end`, paid in both views.
fn replay(spend: &Spend, views: &Views, end: NaiveDate) -> (Ledger, Ledger) {
    let kinds = spend.kinds.len();
    let (workload, account) = (views.workload(), views.account());
    let mut past = Ledger::new(views.credits.len(), kinds).recording();
    let mut past_account = Ledger::new(views.account_credits.len(), kinds);
    // A balance brought forward was paid in both views, before any day replayed.
    for (c, opening) in views.openings.iter().enumerate() {
        past.drawn[c] = *opening;
        past_account.drawn[c] = *opening;
    }
    for (day, lines) in spend.days.range(..=end) {
        past.day(&workload, *day, lines);
        past_account.day(&account, *day, lines);
    }
    (past, past_account)
}

/// Each workload's daily spend (None: unattributed), and the shares of its last four
/// weeks' spend by kind that its forecast is split by.
struct Series {
    len: usize,
    /// In name order.
    names: Vec<Option<String>>,
    y: Vec<Vec<f64>>,
    shares: Vec<Vec<(usize, f64)>>,
}

/// Step 3: the series the forecasts are fitted to.
fn series(spend: &Spend, end: NaiveDate) -> Series {
    let first = spend.days.keys().next().copied().unwrap_or(end);
    let len = ((end - first).num_days().max(-1) + 1) as usize;
    // Workload -> (its daily spend, its last four weeks' spend by kind).
    type Of = (Vec<f64>, BTreeMap<usize, f64>);
    let mut by_name: BTreeMap<Option<String>, Of> = BTreeMap::new();
    let recent_from = end - chrono::Days::new(27);
    for (day, lines) in spend.days.range(..=end) {
        let i = (*day - first).num_days() as usize;
        for &(k, cost) in lines {
            let (y, mix) = by_name
                .entry(spend.kinds[k].workload.clone())
                .or_insert_with(|| (vec![0.0; len], BTreeMap::new()));
            y[i] += cost;
            if *day >= recent_from && cost > 0.0 {
                *mix.entry(k).or_default() += cost;
            }
        }
    }
    let mut out = Series {
        len,
        names: Vec::new(),
        y: Vec::new(),
        shares: Vec::new(),
    };
    for (name, (y, mix)) in by_name {
        let total: f64 = mix.values().sum();
        out.names.push(name);
        out.y.push(y);
        out.shares.push(
            mix.into_iter()
                .filter(|(_, v)| *v > 0.0)
                .map(|(k, v)| (k, v / total))
                .collect(),
        );
    }
    out
}

/// A workload's forecast and what it says of the last days of data.
struct Fitted {
    forecast: forecast::Forecast,
    /// The latest spike: (days before the end, spend, P50, the noise's threshold).
    spike: Option<(usize, f64, f64, f64)>,
    /// Its last days still arriving (the forecast starts at the first of them).
    late: usize,
    /// What the forecast expects of those days beyond what AWS shows, per path.
    more: [f64; 3],
}

/// Step 4: every workload's forecast, the expensive step. The fits are independent:
/// shared out over the machine's cores, each thread taking the next workload when it is
/// done with one (a trending series costs several times a steady one, so equal shares
/// would leave a core idle).
fn fit(
    series: &Series,
    horizon: usize,
    only: Option<Method>,
    spikes: SpikeCheck,
    estimated: usize,
) -> Vec<Fitted> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(series.names.len().max(1));
    let fit_one = |i: usize| -> Fitted {
        let y = &series.y[i];
        let late = still_arriving(y, estimated);
        let f = forecast::forecast_by(&y[..y.len() - late], horizon + late, only);
        // The latest of the last days checked (not still arriving: a dip, not a spike)
        // that is a spike, if any.
        let spike = series.names[i].as_ref().and_then(|_| {
            let last = y.len() - late;
            (last.saturating_sub(spikes.days)..last)
                .rev()
                .find_map(|i| {
                    let (expected, threshold) = f.one_day_ahead(&y[..=i])?;
                    spikes.is_spike(y[i], expected, threshold).then_some((
                        y.len() - 1 - i,
                        y[i],
                        expected,
                        threshold,
                    ))
                })
        });
        let more = |q: usize| -> f64 {
            (0..late)
                .map(|j| (f.path(q)[j] - y[y.len() - late + j]).max(0.0))
                .sum()
        };
        let more = [more(0), more(1), more(2)];
        Fitted {
            forecast: f,
            spike,
            late,
            more,
        }
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut fitted: Vec<(usize, Fitted)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (next, fit_one) = (&next, &fit_one);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= series.names.len() {
                            break;
                        }
                        done.push((i, fit_one(i)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    fitted.sort_by_key(|(i, _)| *i);
    fitted.into_iter().map(|(_, f)| f).collect()
}

/// The methods, the spikes and the days still arriving the fits found.
fn fit_findings(
    series: &Series,
    fitted: &[Fitted],
    end: NaiveDate,
) -> (BTreeMap<String, Blend>, Vec<Spike>, Vec<StillArriving>) {
    let mut methods = BTreeMap::new();
    let mut spikes = Vec::new();
    let mut arriving = Vec::new();
    for (w, f) in series.names.iter().zip(fitted) {
        methods.insert(w.clone().unwrap_or_default(), f.forecast.blend.clone());
        if f.late > 0 {
            arriving.push(StillArriving {
                workload: w.clone().unwrap_or_else(|| "unattributed".into()),
                from: end - chrono::Days::new(f.late as u64 - 1),
                days: f.late,
                expected_more: f.more[1],
            });
        }
        if let (Some(name), Some((back, spend, expected, threshold))) = (w, f.spike) {
            spikes.push(Spike {
                workload: name.clone(),
                date: end - chrono::Days::new(back as u64),
                spend,
                expected,
                threshold,
                movers: Vec::new(),
                explained: 0.0,
            });
        }
    }
    (methods, spikes, arriving)
}

/// A workload's forecast as the projection draws it.
#[derive(Debug, Clone)]
struct Fit {
    forecast: forecast::Forecast,
    shares: Vec<(usize, f64)>,
    late: usize,
    more: [f64; 3],
}

/// A change to one workload's spend from a day after the data on: each of its kinds
/// (a service, Marketplace or not) cut by a share of its spend.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjust {
    pub workload: String,
    /// The first day the cut applies: after the last day of data.
    pub from: NaiveDate,
    /// (service, Marketplace, share of that kind's spend cut, 0 to 1).
    pub cuts: Vec<(String, bool, f64)>,
}

impl Adjust {
    /// What is left of a line of `kind` from `from` on, as a share of it.
    fn factor(&self, kind: &Kind) -> f64 {
        if kind.workload.as_deref() != Some(self.workload.as_str()) {
            return 1.0;
        }
        self.cuts
            .iter()
            .filter(|(service, marketplace, _)| {
                *service == kind.service && *marketplace == kind.marketplace
            })
            .map(|(_, _, cut)| 1.0 - cut.clamp(0.0, 1.0))
            .product()
    }
}

/// The future, drawn on each quantile path in both views.
pub struct Projection {
    /// Per spend path (0: P10 spend, 1: P50, 2: P90): per credit what it says, and the
    /// ledger at the end of the horizon.
    workload: Vec<(Vec<Outlook>, Ledger)>,
    account: Vec<(Vec<Outlook>, Ledger)>,
}

/// Every payment each award made and is drawn to make, per award: (day, kind, amount).
pub struct Payments<'a> {
    pub past: &'a [Vec<(NaiveDate, usize, f64)>],
    /// On the P10, P50 and P90 spend paths.
    pub paths: [Vec<Vec<(NaiveDate, usize, f64)>>; 3],
}

/// What the model keeps to draw the future again on changed spend: the views, the
/// ledgers at the end of the data, and every workload's forecast.
#[derive(Debug, Clone)]
pub struct Projector {
    views: Views,
    past: Ledger,
    /// Per award, every payment of the past (workload view): (day, kind, amount).
    past_paid: Vec<Vec<(NaiveDate, usize, f64)>>,
    past_account: Ledger,
    fits: Vec<Fit>,
    kinds: Vec<Kind>,
    end: NaiveDate,
    until: NaiveDate,
    /// What the views were made from, to make them again for a what-if's new awards
    /// and kinds.
    awards: Vec<Award>,
    billing: Billing,
    order: DrawdownOrder,
    /// Spend a what-if adds: per launch, its kinds' shares, first day and daily amount.
    launches: Vec<Added>,
}

/// A launch as the projection draws it: its kinds' shares, first day and daily amount.
type Added = (Vec<(usize, f64)>, NaiveDate, f64);

/// Spend to come that the data cannot show: a launch, or a new workload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Launch {
    pub workload: String,
    /// The first day it spends (after the last day of data).
    pub from: NaiveDate,
    /// What it adds a day, on every spend path.
    #[serde(serialize_with = "cents")]
    pub daily: f64,
    /// For a workload the data does not have: the service it is billed under.
    pub service: String,
}

impl Projector {
    /// The model with `launches` added to the spend to come and `awards` granted (each
    /// starting after the data, so the past is unchanged): the views made again with
    /// them, the ledgers at the end of the data grown to hold them. A launch on a
    /// workload the data has is spread over its kinds as its recent spend is; on a new
    /// one it is a kind of its own (its `service`, not Marketplace). Err names what
    /// starts too early.
    pub fn with(&self, launches: &[Launch], awards: &[Award]) -> Result<Projector, String> {
        let mut p = self.clone();
        for a in awards {
            if a.start <= self.end {
                return Err(format!(
                    "award {:?} starts {}, not after the last day of data ({}): a what-if award is one applied for",
                    a.id, a.start, self.end
                ));
            }
        }
        for l in launches {
            if l.from <= self.end {
                return Err(format!(
                    "the launch of {} starts {}, not after the last day of data ({})",
                    l.workload, l.from, self.end
                ));
            }
            let shares: Vec<(usize, f64)> = self
                .fits
                .iter()
                .find(|f| {
                    f.shares.first().is_some_and(|(k, _)| {
                        self.kinds[*k].workload.as_deref() == Some(&l.workload)
                    })
                })
                .map(|f| f.shares.clone())
                .unwrap_or_default();
            let shares = if shares.is_empty() {
                let kind = Kind {
                    workload: Some(l.workload.clone()),
                    service: l.service.clone(),
                    marketplace: false,
                };
                let k = match p.kinds.iter().position(|x| *x == kind) {
                    Some(k) => k,
                    None => {
                        p.kinds.push(kind);
                        p.past.add_kinds(1);
                        p.past_account.add_kinds(1);
                        p.kinds.len() - 1
                    }
                };
                vec![(k, 1.0)]
            } else {
                shares
            };
            p.launches.push((shares, l.from, l.daily));
        }
        let n = self.awards.len();
        for (i, a) in awards.iter().enumerate() {
            p.awards.push(a.clone());
            p.past.insert_credit(n + i, p.kinds.len());
            p.past_account.insert_credit(n + i, p.kinds.len());
            p.past_paid.push(Vec::new());
        }
        p.views = views(&p.kinds, &p.awards, &p.billing, p.order);
        Ok(p)
    }

    /// The awards' ids and expiries, in the model's order (a what-if's after the
    /// config's).
    pub fn awards(&self) -> impl Iterator<Item = (&str, NaiveDate)> {
        self.awards.iter().map(|a| (a.id.as_str(), a.expiry))
    }
    /// The last day of data the future is drawn from.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// The kinds of spend the payments name by index.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// What award `c` had paid before the data (its opening), 0 without one.
    pub fn opening(&self, c: usize) -> f64 {
        self.views.openings.get(c).copied().unwrap_or(0.0)
    }

    /// What award `c` has been granted by the end of `day`.
    pub fn granted_by(&self, c: usize, day: NaiveDate) -> f64 {
        self.views.credits[c].granted_by(day)
    }

    /// Per award (workload view), every payment (day, kind, amount): the past as
    /// replayed, and on each spend path (P10, P50, P90) from the day after the data to
    /// the last expiry.
    pub fn payments(&self) -> Payments<'_> {
        let n = self.views.credits.len();
        let paths = std::array::from_fn(|q| {
            let mut l = self.past.clone();
            l.paid = Some(vec![Vec::new(); n]);
            drawdown::project(
                &self.views.workload(),
                &mut l,
                self.end,
                self.until,
                self.lines_on(q, &[], None),
            );
            l.paid.unwrap_or_default()
        });
        Payments {
            past: &self.past_paid,
            paths,
        }
    }

    /// The last day the future is drawn to.
    pub fn until(&self) -> NaiveDate {
        self.until
    }

    /// Each day's forecast spend on path `q` (0: P10, 1: P50, 2: P90) with `adjust`
    /// applied, as (kind, amount) lines: what the projections draw.
    pub fn spend_lines<'a>(
        &'a self,
        q: usize,
        adjust: &'a [Adjust],
    ) -> impl FnMut(NaiveDate) -> Vec<(usize, f64)> + 'a {
        self.lines_on(q, adjust, None)
    }

    /// On each spend path (P10, P50, P90) with `adjust` applied, every line no credit
    /// pays after the data, as AWS draws the credits (the account view): (day, kind,
    /// amount), days rising.
    pub fn unpaid_lines(&self, adjust: &[Adjust]) -> [Vec<(NaiveDate, usize, f64)>; 3] {
        per_path(|q| {
            let mut l = self.past_account.clone().recording_unpaid();
            drawdown::project(
                &self.views.account(),
                &mut l,
                self.end,
                self.until,
                self.lines_on(q, adjust, None),
            );
            l.unpaid_lines.unwrap_or_default()
        })
    }

    /// The awards' indices in the order the workload view draws them.
    pub fn order(&self) -> &[usize] {
        &self.views.workload_order
    }

    /// Each day's forecast lines on spend path `q`, with `adjust` applied; only the
    /// kinds `keep` maps (to the index it gives them), all when None.
    fn lines_on<'a>(
        &'a self,
        q: usize,
        adjust: &'a [Adjust],
        keep: Option<&'a [Option<usize>]>,
    ) -> impl FnMut(NaiveDate) -> Vec<(usize, f64)> + 'a {
        // Per kind, the cuts that touch it: (from, what is left), worked out once
        // rather than for every line of every day.
        let cuts: Vec<Vec<(NaiveDate, f64)>> = self
            .kinds
            .iter()
            .map(|kind| {
                adjust
                    .iter()
                    .map(|a| (a.from, a.factor(kind)))
                    .filter(|(_, f)| *f != 1.0)
                    .collect()
            })
            .collect();
        move |day: NaiveDate| {
            let t = (day - self.end).num_days() as usize - 1;
            let mut out = Vec::new();
            for f in &self.fits {
                let forecast = f.forecast.path(q).get(t + f.late).copied().unwrap_or(0.0);
                // What the days still arriving owe is spend already made: no lever
                // cuts it.
                let more = if t == 0 { f.more[q] } else { 0.0 };
                let v = forecast + more;
                if v <= 0.0 {
                    continue;
                }
                for &(k, share) in &f.shares {
                    let k2 = match keep {
                        Some(map) => match map[k] {
                            Some(k2) => k2,
                            None => continue,
                        },
                        None => k,
                    };
                    let factor: f64 = cuts[k]
                        .iter()
                        .filter(|(from, _)| day >= *from)
                        .map(|(_, f)| f)
                        .product();
                    let spend = if factor == 1.0 {
                        v * share
                    } else {
                        forecast * share * factor + more * share
                    };
                    out.push((k2, spend));
                }
            }
            for (shares, from, daily) in &self.launches {
                if day < *from {
                    continue;
                }
                for &(k, share) in shares {
                    let k2 = match keep {
                        Some(map) => match map.get(k).copied().flatten() {
                            Some(k2) => k2,
                            None => continue,
                        },
                        None => k,
                    };
                    out.push((k2, daily * share));
                }
            }
            out
        }
    }

    /// Step 5: the future on the P10, P50 and P90 spend paths in both views, with
    /// `adjust` applied (none: the model's own).
    pub fn project(&self, adjust: &[Adjust]) -> Projection {
        let [a, b, c] = per_path(|q| {
            let mut w = self.past.clone();
            let wo = drawdown::project(
                &self.views.workload(),
                &mut w,
                self.end,
                self.until,
                self.lines_on(q, adjust, None),
            );
            let mut l = self.past_account.clone();
            let o = drawdown::project(
                &self.views.account(),
                &mut l,
                self.end,
                self.until,
                self.lines_on(q, adjust, None),
            );
            ((wo, w), (o, l))
        });
        let (workload, account) = [a, b, c].into_iter().unzip();
        Projection { workload, account }
    }

    /// The workload view on the P50 path with `adjust` applied, drawn only for the
    /// awards its workload's spend can reach (and, through the workloads they fund, the
    /// awards theirs can: the rest cannot change): per award its outlook, None for an
    /// award outside that reach. Cheap enough to run once per hint.
    pub fn workload_p50(&self, adjust: &Adjust) -> Vec<Option<Outlook>> {
        let eligible = &self.views.workload_eligible;
        let n = self.views.credits.len();
        let mut in_kinds: Vec<bool> = self
            .kinds
            .iter()
            .map(|k| k.workload.as_deref() == Some(adjust.workload.as_str()))
            .collect();
        let mut in_credits = vec![false; n];
        loop {
            let mut grew = false;
            for c in 0..n {
                if !in_credits[c] && (0..self.kinds.len()).any(|k| in_kinds[k] && eligible[c][k]) {
                    in_credits[c] = true;
                    grew = true;
                    for k in 0..self.kinds.len() {
                        in_kinds[k] |= eligible[c][k];
                    }
                }
            }
            if !grew {
                break;
            }
        }
        let credits: Vec<usize> = (0..n).filter(|&c| in_credits[c]).collect();
        let mut keep: Vec<Option<usize>> = vec![None; self.kinds.len()];
        let mut kept = 0;
        for (k, inside) in in_kinds.iter().enumerate() {
            if *inside {
                keep[k] = Some(kept);
                kept += 1;
            }
        }
        let sub_credits: Vec<Credit> = credits
            .iter()
            .map(|&c| self.views.credits[c].clone())
            .collect();
        let sub_eligible: Vec<Vec<bool>> = credits
            .iter()
            .map(|&c| {
                (0..self.kinds.len())
                    .filter(|&k| in_kinds[k])
                    .map(|k| eligible[c][k])
                    .collect()
            })
            .collect();
        let order = self
            .views
            .workload_order
            .iter()
            .filter_map(|c| credits.iter().position(|x| x == c))
            .collect();
        let setup = Setup {
            credits: &sub_credits,
            order,
            eligible: &sub_eligible,
        };
        let mut ledger = self.past.restricted(&credits, kept);
        let outlooks = drawdown::project(
            &setup,
            &mut ledger,
            self.end,
            self.until,
            self.lines_on(1, std::slice::from_ref(adjust), Some(&keep)),
        );
        let mut out = vec![None; n];
        for (i, c) in credits.into_iter().enumerate() {
            out[c] = Some(outlooks[i]);
        }
        out
    }

    /// Award `c`'s forecast in the workload view of `projection`.
    pub fn award_forecast(
        &self,
        projection: &Projection,
        c: usize,
    ) -> (Quantiles<Option<NaiveDate>>, Quantiles<f64>) {
        let o = |q: usize| projection.workload[q].0[c];
        (
            Quantiles::falling(|q| o(q).exhaustion),
            Quantiles::falling(|q| o(q).unused_at_expiry),
        )
    }

    /// Credit `c` as AWS draws it: paid to date, its balance on `on`, the P50 outlook,
    /// and the spend of workloads other than `own` it paid, largest first.
    fn account_view_of(
        &self,
        projection: &Projection,
        c: usize,
        own: &[String],
        on: NaiveDate,
    ) -> AccountView {
        let mut drawn_by: BTreeMap<String, f64> = BTreeMap::new();
        for (k, amount) in self.past_account.by_kind[c].iter().enumerate() {
            let w = &self.kinds[k].workload;
            if *amount > 0.0 && !w.as_ref().is_some_and(|w| own.contains(w)) {
                *drawn_by
                    .entry(w.clone().unwrap_or_else(|| "unattributed".into()))
                    .or_default() += amount;
            }
        }
        let mut drawn_by_others: Vec<DrawnBy> = drawn_by
            .into_iter()
            .filter(|(_, v)| *v >= 0.005)
            .map(|(workload, amount)| DrawnBy { workload, amount })
            .collect();
        drawn_by_others.sort_by(|x, y| y.amount.total_cmp(&x.amount));
        let outlook = projection.account[1].0[c];
        AccountView {
            consumed: self.past_account.drawn[c],
            remaining: self.past_account.balance(&self.views.account(), c, on),
            exhaustion_date: outlook.exhaustion,
            unused_at_expiry: outlook.unused_at_expiry,
            drawn_by_others,
        }
    }

    /// When the account starts paying, in the account view of `projection`.
    pub fn out_of_pocket(&self, projection: &Projection) -> OutOfPocket {
        let end = self.end;
        let unpaid_after = |l: &Ledger, days: u64| -> f64 {
            let to = end + chrono::Days::new(days);
            l.unpaid_daily
                .iter()
                .filter(|(d, _)| *d > end && *d <= to)
                .map(|(_, v)| v)
                .sum()
        };
        let begins = |l: &Ledger| {
            l.unpaid_daily
                .iter()
                .find(|(d, v)| *d > end && *v >= 0.005)
                .map(|(d, _)| *d)
        };
        OutOfPocket {
            to_date: self.past_account.unpaid_daily.iter().map(|(_, v)| v).sum(),
            begins: Quantiles::falling(|q| begins(&projection.account[q].1)),
            next_30_days: Quantiles::rising(|q| unpaid_after(&projection.account[q].1, 30)),
            next_90_days: Quantiles::rising(|q| unpaid_after(&projection.account[q].1, 90)),
        }
    }

    /// Award `c` in the account view of `projection`, P50: (exhaustion, unused at expiry).
    pub fn account_outlook(&self, projection: &Projection, c: usize) -> (Option<NaiveDate>, f64) {
        let o = projection.account[1].0[c];
        (o.exhaustion, o.unused_at_expiry)
    }
}

/// `f` on the three spend paths (P10, P50, P90) at once: each path's drawdown is
/// independent of the others', so they run on their own threads.
fn per_path<T: Send>(f: impl Fn(usize) -> T + Sync) -> [T; 3] {
    std::thread::scope(|s| {
        let f = &f;
        let others = [s.spawn(move || f(1)), s.spawn(move || f(2))];
        let p10 = f(0);
        let [p50, p90] = others.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        [p10, p50, p90]
    })
}

/// Step 6: one award in the model, from the past and the projection.
fn award_burn(
    p: &Projector,
    projection: &Projection,
    c: usize,
    a: &Award,
    methods: &BTreeMap<String, Blend>,
) -> AwardBurn {
    let end = p.end;
    let method = a
        .workloads
        .iter()
        .map(|w| {
            (
                w.clone(),
                methods
                    .get(w)
                    .cloned()
                    .unwrap_or_else(|| Blend::of(Method::NoSpend)),
            )
        })
        .collect();
    let path = |q: usize| -> Vec<(NaiveDate, f64)> {
        let mut total = 0.0;
        projection.workload[q].1.daily[c]
            .iter()
            .filter(|(d, _)| *d > end && *d <= a.expiry)
            .map(|(d, v)| {
                total += v;
                (*d, total)
            })
            .collect()
    };
    let paths = [path(0), path(1), path(2)];
    // The mean it pays a day on the P50 path, from the day after the data (or its
    // start) to expiry.
    let from = end.max(a.start.pred_opt().unwrap_or(a.start));
    let projected_days = (a.expiry - from).num_days();
    let projected_daily = match paths[1].last() {
        Some((_, paid)) if projected_days > 0 => paid / projected_days as f64,
        _ => 0.0,
    };
    let (exhaustion_date, unused_at_expiry) = p.award_forecast(projection, c);
    let on = end.max(a.start).min(a.expiry);
    AwardBurn {
        paths,
        consumed: p.past.drawn[c],
        remaining: p.past.balance(&p.views.workload(), c, on),
        daily: p.past.daily[c].clone(),
        out_of_pocket: p.past.out_of_pocket[c],
        exhausted_on: p.past.exhausted_on[c],
        forecast: AwardForecast {
            method,
            exhaustion_date,
            unused_at_expiry,
        },
        projected_daily,
        account_view: p.account_view_of(projection, c, &a.workloads, on),
    }
}

/// The verdict on an award within its period with a balance left, from its P50
/// projection: an exhaustion more than `slack` days before expiry is a risk; a balance
/// left at expiry worth more than `slack` days of its projected daily draw is a forfeit
/// risk (any balance, when nothing is drawn); otherwise on track.
pub fn verdict(
    exhaustion: Option<NaiveDate>,
    unused_at_expiry: f64,
    projected_daily: f64,
    expiry: NaiveDate,
    slack: i64,
) -> crate::analyse::project::Status {
    use crate::analyse::project::Status;
    match exhaustion {
        Some(d) if (expiry - d).num_days() > slack => Status::ExhaustionRisk,
        Some(_) => Status::OnTrack,
        None if unused_at_expiry >= 0.005 && unused_at_expiry > projected_daily * slack as f64 => {
            Status::ForfeitRisk
        }
        None => Status::OnTrack,
    }
}

/// The plan line's position at `as_of` and the consumption against it.
pub fn pace(award: &Award, consumed: f64, as_of: NaiveDate, slack_days: i64) -> Pace {
    let (planned, rate) = award.planned(as_of);
    let ahead = consumed - planned;
    let ahead_days = if rate > 0.0 { ahead / rate } else { 0.0 };
    let verdict = if ahead_days > slack_days as f64 {
        "ahead"
    } else if ahead_days < -(slack_days as f64) {
        "behind"
    } else {
        "on_plan"
    };
    Pace {
        planned,
        ahead,
        ahead_days: (ahead_days * 10.0).round() / 10.0,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::project::Status;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i as u64)
    }

    fn award(id: &str, start: i64, expiry: i64, amount: f64, workloads: &[&str]) -> Award {
        Award::granted(
            id,
            day(start),
            day(expiry),
            vec![(day(start), amount)],
            workloads,
        )
    }

    #[test]
    fn a_spike_is_beyond_the_noise_and_worth_reading() {
        // Expected $200, the noise reaching $260: $320 is $120 above, over $50 and over
        // half of $200, a spike.
        let check = SpikeCheck::default();
        assert!(check.is_spike(320.0, 200.0, 260.0));
        // Within the noise, however far above.
        assert!(!check.is_spike(320.0, 200.0, 330.0));
        // Beyond the noise but under the floors: $276 against $210 is $66 above, under
        // half of $210; $40 against $20 is twice, but only $20 above.
        assert!(!check.is_spike(276.0, 210.0, 250.0));
        assert!(!check.is_spike(40.0, 20.0, 30.0));
        // The floors are configurable: at zero, beyond the noise is enough.
        let bare = SpikeCheck {
            min_amount: 0.0,
            min_share: 0.0,
            ..check
        };
        assert!(bare.is_spike(276.0, 210.0, 250.0));
    }

    #[test]
    fn the_spike_check_covers_the_days_since_the_last_run_within_its_bounds() {
        let end = day(100);
        assert_eq!(spike_days(end, None), SPIKE_DAYS);
        // Daily runs, a rerun, or a last run "after" this one (an older --as-of).
        assert_eq!(spike_days(end, Some(day(99))), SPIKE_DAYS);
        assert_eq!(spike_days(end, Some(day(100))), SPIKE_DAYS);
        assert_eq!(spike_days(end, Some(day(105))), SPIKE_DAYS);
        // Six new days (runs missed, or data stuck): those six and the two before them
        // that the last run saw early; a month: two weeks.
        assert_eq!(spike_days(end, Some(day(94))), 8);
        assert_eq!(spike_days(end, Some(day(70))), MAX_SPIKE_DAYS);
    }

    /// The model as of day `end`, in AWS's order, each series' own method.
    fn run(spend: &Spend, awards: &[Award], end: i64) -> Model {
        model(
            spend,
            awards,
            &Billing::default(),
            DrawdownOrder::Aws,
            day(end),
            None,
            SpikeCheck::default(),
        )
    }

    /// Steady spend per workload per day over days 0..days.
    fn spend(per_day: &[(&str, f64)], days: i64) -> Spend {
        Spend {
            kinds: per_day
                .iter()
                .map(|(w, _)| Kind {
                    workload: Some(w.to_string()),
                    service: "Amazon Bedrock".into(),
                    marketplace: false,
                })
                .collect(),
            days: (0..days)
                .map(|t| {
                    (
                        day(t),
                        per_day
                            .iter()
                            .enumerate()
                            .map(|(k, (_, v))| (k, *v))
                            .collect(),
                    )
                })
                .collect(),
            estimated_from: None,
        }
    }

    #[test]
    fn two_awards_on_one_workload_are_drawn_one_after_the_other() {
        // $100 a day from day 0. The POC ($5,000, expires day 120) is drawn first: days
        // 0-49 empty it; Portfolio ($10,000, expires day 364) pays from day 50, so by day
        // 59 it has paid 10 x $100.
        let awards = [
            award("portfolio", 0, 364, 10_000.0, &["w"]),
            award("poc", 0, 120, 5_000.0, &["w"]),
        ];
        let m = run(&spend(&[("w", 100.0)], 60), &awards, 59);
        let (portfolio, poc) = (&m.awards[0], &m.awards[1]);
        assert_eq!(poc.consumed, 5_000.0);
        assert_eq!(poc.exhausted_on, Some(day(49)));
        assert_eq!(poc.remaining, 0.0);
        assert_eq!(portfolio.consumed, 1_000.0);
        assert_eq!(portfolio.remaining, 9_000.0);
        // Forecast at $100 a day: the $9,000 left lasts 90 days, to day 149.
        let p50 = portfolio.forecast.exhaustion_date.p50.unwrap();
        assert!((p50 - day(149)).num_days().abs() <= 1, "{p50}");
        // Listed order: Portfolio first, the POC untouched until it is empty.
        let m = model(
            &spend(&[("w", 100.0)], 60),
            &awards,
            &Billing::default(),
            DrawdownOrder::Listed,
            day(59),
            None,
            SpikeCheck::default(),
        );
        assert_eq!((m.awards[0].consumed, m.awards[1].consumed), (6_000.0, 0.0));
    }

    #[test]
    fn in_the_account_view_the_platform_eats_the_poc_that_expires_first() {
        // GenAI $100 a day, platform $200 a day, 30 days. The POC ($6,000 to day 100)
        // funds GenAI; Portfolio ($100,000 to day 300) the platform.
        let awards = [
            award("poc", 0, 100, 6_000.0, &["genai"]),
            award("portfolio", 0, 300, 100_000.0, &["platform"]),
        ];
        let s = spend(&[("genai", 100.0), ("platform", 200.0)], 30);
        let m = run(&s, &awards, 29);
        let poc = &m.awards[0];
        // Workload view: 30 x $100.
        assert_eq!(poc.consumed, 3_000.0);
        // As AWS draws it: $300 a day empties it in 20 days; the platform drew 20 x $200.
        assert_eq!(poc.account_view.consumed, 6_000.0);
        assert_eq!(poc.account_view.remaining, 0.0);
        assert_eq!(
            poc.account_view.drawn_by_others,
            vec![DrawnBy {
                workload: "platform".into(),
                amount: 4_000.0
            }]
        );
        // Portfolio then paid the last 10 days of both: 10 x $300.
        assert_eq!(m.awards[1].account_view.consumed, 3_000.0);
        assert_eq!(
            m.awards[1].account_view.drawn_by_others[0].workload,
            "genai"
        );
        // Nothing unpaid yet, and Portfolio's $97,000 lasts past the 90-day horizon.
        assert_eq!(m.out_of_pocket.to_date, 0.0);
        assert_eq!(m.out_of_pocket.next_90_days.p50, 0.0);
    }

    #[test]
    fn in_the_account_view_aws_products_decide_eligibility_and_unnamed_credits_draw_first() {
        // GenAI $100 a day on Bedrock, the platform $200 a day on EC2, days 0..29.
        let kinds = vec![
            Kind {
                workload: Some("genai".into()),
                service: "Amazon Bedrock Service".into(),
                marketplace: false,
            },
            Kind {
                workload: Some("platform".into()),
                service: "Amazon Elastic Compute Cloud - Compute".into(),
                marketplace: false,
            },
        ];
        let s = Spend {
            kinds,
            days: (0..30)
                .map(|t| (day(t), vec![(0, 100.0), (1, 200.0)]))
                .collect(),
            estimated_from: None,
        };
        let awards = [
            award("poc", 0, 100, 6_000.0, &["genai"]),
            award("portfolio", 0, 300, 100_000.0, &["platform"]),
        ];
        // AWS lists the POC's credit for Amazon Bedrock only, and a $2,000 credit no
        // award names, for EC2, expiring on day 50 (so drawn first).
        let billing = Billing {
            products: vec![Some(vec!["Amazon Bedrock".into()]), None],
            others: vec![OtherCredit {
                credit_id: "9001".into(),
                start: day(0),
                expiry: day(50),
                tranches: vec![(day(0), 2_000.0)],
                products: vec!["Amazon Elastic Compute Cloud".into()],
            }],
        };
        let m = model(
            &s,
            &awards,
            &billing,
            DrawdownOrder::Aws,
            day(29),
            None,
            SpikeCheck::default(),
        );
        // The POC pays only the Bedrock spend: 30 x $100, as in its workload view.
        let poc = &m.awards[0].account_view;
        assert_eq!((poc.consumed, poc.remaining), (3_000.0, 3_000.0));
        assert!(poc.drawn_by_others.is_empty());
        // The unnamed credit pays the EC2 spend for 10 days ($2,000); Portfolio the
        // other 20 days ($4,000).
        assert_eq!(m.others[0].credit_id, "9001");
        let other = &m.others[0].account_view;
        assert_eq!((other.consumed, other.remaining), (2_000.0, 0.0));
        assert_eq!(other.drawn_by_others[0].workload, "platform");
        assert_eq!(m.awards[1].account_view.consumed, 4_000.0);
        // Without the Billing API, the POC (all services, soonest expiry) pays both.
        let m = run(&s, &awards, 29);
        assert_eq!(m.awards[0].account_view.consumed, 6_000.0);
        assert!(m.others.is_empty());
    }

    #[test]
    fn a_last_day_still_arriving_is_forecast_not_taken_as_a_drop() {
        // $100 a day for 59 days, then $20 on the last day (day 59), which AWS marks
        // estimated: most of it has not arrived. An award of $7,000 to day 364 has $1,080
        // left after day 59; at $100 a day (the $80 still to come counted on day 60) it
        // runs out on day 69, where a forecast taking the $20 as news would put it off.
        let mut s = spend(&[("w", 100.0)], 60);
        s.days.insert(day(59), vec![(0, 20.0)]);
        s.estimated_from = Some(day(45));
        let awards = [award("a", 0, 364, 7_000.0, &["w"])];
        let m = run(&s, &awards, 59);
        assert_eq!(m.awards[0].remaining, 1_080.0);
        let late = &m.still_arriving[0];
        assert_eq!(
            (late.workload.as_str(), late.from, late.days),
            ("w", day(59), 1)
        );
        assert!((late.expected_more - 80.0).abs() < 2.0, "{late:?}");
        let p50 = m.awards[0].forecast.exhaustion_date.p50.unwrap();
        assert!((p50 - day(69)).num_days().abs() <= 1, "{p50}");
        // Not estimated, the same day is a real drop: nothing is added.
        s.estimated_from = None;
        assert!(run(&s, &awards, 59).still_arriving.is_empty());
        // A day estimated but at its usual level is not still arriving.
        let mut s = spend(&[("w", 100.0)], 60);
        s.estimated_from = Some(day(45));
        assert!(run(&s, &awards, 59).still_arriving.is_empty());
        assert_eq!(still_arriving(&[100.0; 10], 2), 0);
        assert_eq!(
            still_arriving(
                &[100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 10.0, 5.0],
                2
            ),
            2
        );
        assert_eq!(
            still_arriving(
                &[100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 10.0, 5.0],
                1
            ),
            1
        );
        assert_eq!(still_arriving(&[10.0, 5.0], 2), 0);
    }

    #[test]
    fn aws_product_names_cover_their_services() {
        let p = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(products_cover(&p(&["All AWS services"]), "AWS Lambda"));
        assert!(products_cover(&[], "AWS Lambda"));
        let ec2 = p(&["Amazon Elastic Compute Cloud"]);
        assert!(products_cover(
            &ec2,
            "Amazon Elastic Compute Cloud - Compute"
        ));
        assert!(!products_cover(&ec2, "Amazon Elastic Compute Cloud Extra"));
        assert!(!products_cover(&ec2, "AWS Lambda"));
        let bedrock = p(&["Amazon Bedrock"]);
        for s in [
            "Amazon Bedrock",
            "Amazon Bedrock Service",
            "Claude 3 Haiku (Amazon Bedrock Edition)",
        ] {
            assert!(products_cover(&bedrock, s), "{s}");
        }
        assert_eq!(products_breadth(&ec2), Some(1));
        assert_eq!(products_breadth(&p(&["all aws services"])), None);
    }

    #[test]
    fn when_the_credits_run_out_the_out_of_pocket_spend_is_dated_and_summed() {
        // $100 a day, one award of $4,000 to day 364: 30 days paid, $1,000 left at day 29
        // lasts 10 more days; from day 40 every day is out of pocket.
        let awards = [award("a", 0, 364, 4_000.0, &["w"])];
        let m = run(&spend(&[("w", 100.0)], 30), &awards, 29);
        let begins = m.out_of_pocket.begins.p50.unwrap();
        assert!((begins - day(40)).num_days().abs() <= 1, "{begins}");
        // Next 30 days: about 20 days x $100 unpaid; next 90: about 80 days.
        assert!((m.out_of_pocket.next_30_days.p50 - 2_000.0).abs() <= 100.0);
        assert!((m.out_of_pocket.next_90_days.p50 - 8_000.0).abs() <= 100.0);
        assert!(m.out_of_pocket.next_90_days.p10 <= m.out_of_pocket.next_90_days.p50);
        assert!(m.out_of_pocket.next_90_days.p50 <= m.out_of_pocket.next_90_days.p90);
    }

    #[test]
    fn edge_dates_no_spend_yet_a_future_start_and_an_exhausted_award() {
        // No spend at all: nothing is forecast, the whole amount is left at expiry.
        let awards = [award("a", 0, 100, 1_000.0, &["w"])];
        let m = run(&spend(&[("w", 0.0)], 30), &awards, 29);
        assert_eq!(m.methods["w"], Blend::of(Method::NoSpend));
        assert_eq!(m.awards[0].forecast.unused_at_expiry.p50, 1_000.0);
        assert_eq!(
            verdict(None, 1_000.0, m.awards[0].projected_daily, day(100), 7),
            Status::ForfeitRisk
        );
        // An award starting tomorrow (day 30): the forecast ($100 a day) draws it from
        // then, so the $1,000 runs out on day 39.
        let awards = [award("a", 30, 100, 1_000.0, &["w"])];
        let m = run(&spend(&[("w", 100.0)], 30), &awards, 29);
        assert_eq!(m.awards[0].consumed, 0.0);
        let p50 = m.awards[0].forecast.exhaustion_date.p50.unwrap();
        assert!((p50 - day(39)).num_days().abs() <= 1, "{p50}");
        // Exhausted on day 9: $1,000 at $100 a day, the rest of its spend out of pocket.
        let awards = [award("a", 0, 100, 1_000.0, &["w"])];
        let m = run(&spend(&[("w", 100.0)], 30), &awards, 29);
        assert_eq!(m.awards[0].exhausted_on, Some(day(9)));
        assert_eq!(m.awards[0].out_of_pocket, 2_000.0);
        assert_eq!(m.awards[0].forecast.exhaustion_date.p50, None);
    }

    #[test]
    fn a_tranche_refills_the_balance_on_its_date() {
        // $100 a day; $2,000 on day 0 and $3,000 on day 40, to day 200. Empty on day 19,
        // out of pocket days 20-39, refilled on day 40: empty again on day 69.
        let mut a = award("acc", 0, 200, 5_000.0, &["w"]);
        a.tranches = vec![(day(0), 2_000.0), (day(40), 3_000.0)];
        let m = run(&spend(&[("w", 100.0)], 30), &[a], 29);
        let b = &m.awards[0];
        assert_eq!(b.exhausted_on, Some(day(19)));
        assert_eq!(b.out_of_pocket, 1_000.0);
        let p50 = b.forecast.exhaustion_date.p50.unwrap();
        assert!((p50 - day(69)).num_days().abs() <= 1, "{p50}");
    }

    #[test]
    fn pace_against_the_straight_plan_line() {
        // $10,000 over 100 days is $100 a day; by day 49 the plan has used $5,000.
        let a = award("a", 0, 99, 10_000.0, &["w"]);
        let p = pace(&a, 6_000.0, day(49), 7);
        assert_eq!(
            (p.planned, p.ahead, p.ahead_days, p.verdict),
            (5_000.0, 1_000.0, 10.0, "ahead")
        );
        let p = pace(&a, 4_500.0, day(49), 7);
        assert_eq!((p.ahead_days, p.verdict), (-5.0, "on_plan"));
        assert_eq!(pace(&a, 3_000.0, day(49), 7).verdict, "behind");
        // Before the start nothing is planned; from expiry on, everything.
        assert_eq!(pace(&a, 0.0, day(0) - chrono::Days::new(5), 7).planned, 0.0);
        assert_eq!(pace(&a, 10_000.0, day(120), 7).planned, 10_000.0);
    }

    #[test]
    fn pace_against_a_configured_plan() {
        // $10,000 over days 0..99, planned slow then fast: $2,000 by day 49 ($40 a day),
        // the other $8,000 by day 99 ($160 a day).
        let mut a = award("a", 0, 99, 10_000.0, &["w"]);
        a.plan = vec![(day(49), 2_000.0)];
        let p = pace(&a, 3_000.0, day(49), 7);
        assert_eq!((p.planned, p.ahead, p.ahead_days), (2_000.0, 1_000.0, 25.0));
        assert_eq!(p.verdict, "ahead");
        // Day 74: $2,000 + 25 x $160 = $6,000 planned; $5,200 consumed is 5 days behind.
        let p = pace(&a, 5_200.0, day(74), 7);
        assert_eq!(
            (p.planned, p.ahead_days, p.verdict),
            (6_000.0, -5.0, "on_plan")
        );
        // A flat stretch of plan measures days at the mean rate ($100 a day).
        a.plan = vec![(day(19), 1_000.0), (day(49), 1_000.0)];
        let p = pace(&a, 2_000.0, day(30), 7);
        assert_eq!((p.planned, p.ahead_days), (1_000.0, 10.0));
    }
}
