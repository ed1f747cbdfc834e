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

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::drawdown::{self, Credit, Ledger, Outlook, Setup};
use crate::analyse::forecast::{self, Method};
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
}

/// Low, middle and high: for dates and amounts, P10, P50 and P90.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles<T> {
    pub p10: T,
    pub p50: T,
    pub p90: T,
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
    pub method: BTreeMap<String, Method>,
    /// The day the balance runs out, if before expiry (null: it lasts).
    pub exhaustion_date: Quantiles<Option<NaiveDate>>,
    #[serde(serialize_with = "money_quantiles")]
    pub unused_at_expiry: Quantiles<f64>,
}

/// The plan line (straight from start to expiry) and where consumption stands against
/// it.
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
}

pub struct Model {
    pub awards: Vec<AwardBurn>,
    pub out_of_pocket: OutOfPocket,
    /// Each workload's forecast method (the key "" is unattributed spend).
    pub methods: BTreeMap<String, Method>,
}

/// The days the forecast reaches past the last day of data: to the last expiry, and at
/// least far enough for the 90-day out-of-pocket figure.
fn horizon(awards: &[Award], end: NaiveDate) -> usize {
    let last = awards.iter().map(|a| a.expiry).max().unwrap_or(end);
    ((last - end).num_days().max(0) as usize).clamp(90, 3660)
}

/// Runs the model on the account's spend up to `end` (the last day of data that counts,
/// at most `as_of`).
pub fn model(spend: &Spend, awards: &[Award], order: DrawdownOrder, end: NaiveDate) -> Model {
    let credits: Vec<Credit> = awards
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
    let workload_view = Setup {
        credits: &credits,
        order: drawdown::order(&credits, order),
        eligible: awards
            .iter()
            .map(|a| {
                spend
                    .kinds
                    .iter()
                    .map(|k| {
                        k.workload.as_ref().is_some_and(|w| a.workloads.contains(w)) && covers(a, k)
                    })
                    .collect()
            })
            .collect(),
    };
    let account_view = Setup {
        credits: &credits,
        order: drawdown::order(&credits, order),
        eligible: awards
            .iter()
            .map(|a| spend.kinds.iter().map(|k| covers(a, k)).collect())
            .collect(),
    };

    // The past.
    let (n, kinds) = (credits.len(), spend.kinds.len());
    let mut past = Ledger::new(n, kinds);
    let mut past_account = Ledger::new(n, kinds);
    for (day, lines) in spend.days.range(..=end) {
        past.day(&workload_view, *day, lines);
        past_account.day(&account_view, *day, lines);
    }

    // Each workload's daily series, forecast, and the mix of kinds its spend is split by.
    let h = horizon(awards, end);
    let first = spend.days.keys().next().copied().unwrap_or(end);
    let len = ((end - first).num_days().max(-1) + 1) as usize;
    let mut series: HashMap<Option<String>, Vec<f64>> = HashMap::new();
    let mut mix: HashMap<Option<String>, HashMap<usize, f64>> = HashMap::new();
    let recent_from = end - chrono::Days::new(27);
    for (day, lines) in spend.days.range(..=end) {
        let i = (*day - first).num_days() as usize;
        for &(k, cost) in lines {
            let w = &spend.kinds[k].workload;
            series.entry(w.clone()).or_insert_with(|| vec![0.0; len])[i] += cost;
            if *day >= recent_from && cost > 0.0 {
                *mix.entry(w.clone()).or_default().entry(k).or_default() += cost;
            }
        }
    }
    // Per workload: its forecast and the shares of its spend by kind.
    let mut forecasts: Vec<(forecast::Forecast, Vec<(usize, f64)>)> = Vec::new();
    let mut methods = BTreeMap::new();
    let mut names: Vec<&Option<String>> = series.keys().collect();
    names.sort();
    for w in names {
        let f = forecast::forecast(&series[w], h);
        methods.insert(w.clone().unwrap_or_default(), f.method);
        let weights = mix.get(w).cloned().unwrap_or_default();
        let total: f64 = weights.values().sum();
        let mut shares: Vec<(usize, f64)> = weights
            .into_iter()
            .filter(|(_, v)| *v > 0.0)
            .map(|(k, v)| (k, v / total))
            .collect();
        shares.sort_by_key(|(k, _)| *k);
        forecasts.push((f, shares));
    }
    let lines_on = |q: usize| {
        let forecasts = &forecasts;
        move |day: NaiveDate| -> Vec<(usize, f64)> {
            let t = (day - end).num_days() as usize - 1;
            let mut out = Vec::new();
            for (f, shares) in forecasts {
                let v = f.path(q).get(t).copied().unwrap_or(0.0);
                if v > 0.0 {
                    out.extend(shares.iter().map(|(k, s)| (*k, v * s)));
                }
            }
            out
        }
    };
    let until = end + chrono::Days::new(h as u64);
    // Spend quantile q (0: P10 spend, 2: P90 spend) for both views.
    let mut workload_outlooks: Vec<Vec<Outlook>> = Vec::new();
    let mut workload_ledgers: Vec<Ledger> = Vec::new();
    let mut account_outlooks: Vec<Vec<Outlook>> = Vec::new();
    let mut account_ledgers: Vec<Ledger> = Vec::new();
    for q in 0..3 {
        let mut l = past.clone();
        workload_outlooks.push(drawdown::project(
            &workload_view,
            &mut l,
            end,
            until,
            lines_on(q),
        ));
        workload_ledgers.push(l);
        let mut l = past_account.clone();
        account_outlooks.push(drawdown::project(
            &account_view,
            &mut l,
            end,
            until,
            lines_on(q),
        ));
        account_ledgers.push(l);
    }

    let out_awards = awards
        .iter()
        .enumerate()
        .map(|(c, a)| {
            let o = |q: usize| workload_outlooks[q][c];
            let method = a
                .workloads
                .iter()
                .map(|w| {
                    (
                        w.clone(),
                        methods.get(w).copied().unwrap_or(Method::NoSpend),
                    )
                })
                .collect();
            // The days from the day after the data (or the award's start) to expiry.
            let from = end.max(a.start.pred_opt().unwrap_or(a.start));
            let projected_days = (a.expiry - from).num_days();
            let projected_daily = if projected_days > 0 {
                let paid: f64 = workload_ledgers[1].daily[c]
                    .iter()
                    .filter(|(d, _)| *d > end && *d <= a.expiry)
                    .map(|(_, v)| v)
                    .sum();
                paid / projected_days as f64
            } else {
                0.0
            };
            let mut drawn_by: BTreeMap<String, f64> = BTreeMap::new();
            for (k, amount) in past_account.by_kind[c].iter().enumerate() {
                let w = &spend.kinds[k].workload;
                if *amount > 0.0 && !w.as_ref().is_some_and(|w| a.workloads.contains(w)) {
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
            AwardBurn {
                consumed: past.drawn[c],
                remaining: past.balance(&workload_view, c, end.max(a.start).min(a.expiry)),
                daily: past.daily[c].clone(),
                out_of_pocket: past.out_of_pocket[c],
                exhausted_on: past.exhausted_on[c],
                forecast: AwardForecast {
                    method,
                    exhaustion_date: Quantiles {
                        p10: o(2).exhaustion,
                        p50: o(1).exhaustion,
                        p90: o(0).exhaustion,
                    },
                    unused_at_expiry: Quantiles {
                        p10: o(2).unused_at_expiry,
                        p50: o(1).unused_at_expiry,
                        p90: o(0).unused_at_expiry,
                    },
                },
                projected_daily,
                account_view: AccountView {
                    consumed: past_account.drawn[c],
                    remaining: past_account.balance(
                        &account_view,
                        c,
                        end.max(a.start).min(a.expiry),
                    ),
                    exhaustion_date: account_outlooks[1][c].exhaustion,
                    unused_at_expiry: account_outlooks[1][c].unused_at_expiry,
                    drawn_by_others,
                },
            }
        })
        .collect();

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
    let out_of_pocket = OutOfPocket {
        to_date: past_account.unpaid_daily.iter().map(|(_, v)| v).sum(),
        begins: Quantiles {
            p10: begins(&account_ledgers[2]),
            p50: begins(&account_ledgers[1]),
            p90: begins(&account_ledgers[0]),
        },
        next_30_days: Quantiles {
            p10: unpaid_after(&account_ledgers[0], 30),
            p50: unpaid_after(&account_ledgers[1], 30),
            p90: unpaid_after(&account_ledgers[2], 30),
        },
        next_90_days: Quantiles {
            p10: unpaid_after(&account_ledgers[0], 90),
            p50: unpaid_after(&account_ledgers[1], 90),
            p90: unpaid_after(&account_ledgers[2], 90),
        },
    };
    Model {
        awards: out_awards,
        out_of_pocket,
        methods,
    }
}

/// The plan line's position at `as_of` and the consumption against it.
pub fn pace(award: &Award, consumed: f64, as_of: NaiveDate, slack_days: i64) -> Pace {
    let period = ((award.expiry - award.start).num_days() + 1).max(1) as f64;
    let elapsed = ((as_of.min(award.expiry) - award.start).num_days() + 1).max(0) as f64;
    let rate = award.amount / period;
    let planned = rate * elapsed;
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
