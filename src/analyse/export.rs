//! The series behind the report, a row per day, for finance's own tools
//! (`creditburn export`). Pure: the rows come from the burn model's own payments (the
//! ledger that gives the report its figures), so an award's covered spend adds up to its
//! `consumed`, and from the cost table's usage lines for the tokens.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::analyse::analysis::DailyUsage;
use crate::analyse::burn::Projector;
use crate::analyse::report::Report;
use crate::model::usage_type::{self, TokenKind};
use crate::pricing::PriceTable;

/// One day of one award for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    pub date: NaiveDate,
    pub award: String,
    /// The workload paid for; empty on an award's opening row (what it had paid before
    /// the data, dated the day before the data's first day it covers).
    pub workload: String,
    /// What the award paid for the workload that day; None on forecast days.
    pub covered_spend: Option<f64>,
    /// The award's consumed at the end of the day, every workload and its opening
    /// included (on forecast days, on the P50 path).
    pub consumed_to_date: f64,
    /// Its balance at the end of the day (0 outside its period; forecast: P50 path).
    pub remaining: f64,
    /// True for days of data, false for the forecast.
    pub actual: bool,
    /// On forecast days, what the award pays for the workload on the P10, P50 and P90
    /// spend paths; None on days of data.
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    /// True for days of data AWS still marks estimated (their figures may grow).
    pub estimated: bool,
    /// The award's status in the report (`no_data` flags figures that probably come
    /// from a configuration mistake), so a sheet shows the flag beside the figures.
    pub status: &'static str,
}

/// `x` in whole cents.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A running total shown in cents: each value is given in cents such that every
/// running total of the values shown is the exact running total in cents, so the rows of
/// a column add up to its rounded total, to the cent.
#[derive(Default)]
struct Cents {
    exact: f64,
    shown: f64,
}

impl Cents {
    fn next(&mut self, v: f64) -> f64 {
        self.exact += v;
        let total = cents(self.exact);
        let row = cents(total - self.shown);
        self.shown = total;
        row
    }
}

fn cents_keeping_totals(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = Cents::default();
    values.map(|v| total.next(v)).collect()
}

/// Sums payments per (day, workload of their kind).
fn by_day_and_workload(
    payments: &[(NaiveDate, usize, f64)],
    workload_of: &[Option<usize>],
) -> BTreeMap<(NaiveDate, usize), f64> {
    let mut out = BTreeMap::new();
    for &(day, kind, amount) in payments {
        if let Some(w) = workload_of[kind] {
            *out.entry((day, w)).or_insert(0.0) += amount;
        }
    }
    out
}

/// Every award's days, each of its workloads a row: the days of data in its period
/// (what it paid), then the days from the day after the data to its expiry (the
/// forecast's P10, P50 and P90 of what it pays). An award with an opening has one more
/// row, first, with an empty workload. Dollars are in cents, the covered spend rounded so
/// that an award's rows add up to its `consumed` and to each day's `consumed_to_date`.
pub fn series(report: &Report, projector: &Projector) -> Vec<SeriesRow> {
    let mut rows = exact_series(report, projector);
    let mut start = 0;
    while start < rows.len() {
        let award = rows[start].award.clone();
        let len = rows[start..]
            .iter()
            .take_while(|r| r.award == award)
            .count();
        let block = &mut rows[start..start + len];
        let rounded = cents_keeping_totals(block.iter().filter_map(|r| r.covered_spend));
        for (r, v) in block
            .iter_mut()
            .filter(|r| r.covered_spend.is_some())
            .zip(rounded)
        {
            r.covered_spend = Some(v);
        }
        for r in block.iter_mut() {
            r.consumed_to_date = cents(r.consumed_to_date);
            r.remaining = cents(r.remaining);
            for p in [&mut r.p10, &mut r.p50, &mut r.p90] {
                *p = p.map(cents);
            }
        }
        start += len;
    }
    rows
}

fn exact_series(report: &Report, projector: &Projector) -> Vec<SeriesRow> {
    let payments = projector.payments();
    let end = projector.end();
    let mut rows = Vec::new();
    let estimated_from = report.data.estimated_from;
    for (c, a) in report.awards.iter().enumerate() {
        let status = a.status.as_str();
        let workload_of: Vec<Option<usize>> = projector
            .kinds()
            .iter()
            .map(|k| {
                k.workload
                    .as_ref()
                    .and_then(|w| a.workloads.iter().position(|x| x == w))
            })
            .collect();
        let balance = |day: NaiveDate, consumed: f64| {
            if day < a.start_date || day > a.expiry_date {
                0.0
            } else {
                (projector.granted_by(c, day) - consumed).max(0.0)
            }
        };
        let opening = projector.opening(c);
        let first = a.start_date.max(report.data.first_day);
        let mut consumed = opening;
        if opening > 0.0 {
            let day = first.pred_opt().unwrap_or(first);
            rows.push(SeriesRow {
                date: day,
                award: a.id.clone(),
                workload: String::new(),
                covered_spend: Some(opening),
                consumed_to_date: consumed,
                remaining: balance(day, consumed),
                actual: true,
                p10: None,
                p50: None,
                p90: None,
                estimated: false,
                status,
            });
        }
        let past = by_day_and_workload(&payments.past[c], &workload_of);
        let mut day = first;
        while day <= a.expiry_date.min(end) {
            let paid: Vec<f64> = (0..a.workloads.len())
                .map(|w| past.get(&(day, w)).copied().unwrap_or(0.0))
                .collect();
            consumed += paid.iter().sum::<f64>();
            for (w, name) in a.workloads.iter().enumerate() {
                rows.push(SeriesRow {
                    date: day,
                    award: a.id.clone(),
                    workload: name.clone(),
                    covered_spend: Some(paid[w]),
                    consumed_to_date: consumed,
                    remaining: balance(day, consumed),
                    actual: true,
                    p10: None,
                    p50: None,
                    p90: None,
                    estimated: estimated_from.is_some_and(|e| day >= e),
                    status,
                });
            }
            day = day.succ_opt().expect("a day the calendar holds");
        }
        let paths: Vec<BTreeMap<(NaiveDate, usize), f64>> = payments
            .paths
            .iter()
            .map(|p| by_day_and_workload(&p[c], &workload_of))
            .collect();
        let mut day = end
            .succ_opt()
            .expect("a day the calendar holds")
            .max(a.start_date);
        while day <= a.expiry_date {
            let on = |q: usize, w: usize| paths[q].get(&(day, w)).copied().unwrap_or(0.0);
            consumed += (0..a.workloads.len()).map(|w| on(1, w)).sum::<f64>();
            for (w, name) in a.workloads.iter().enumerate() {
                rows.push(SeriesRow {
                    date: day,
                    award: a.id.clone(),
                    workload: name.clone(),
                    covered_spend: None,
                    consumed_to_date: consumed,
                    remaining: balance(day, consumed),
                    actual: false,
                    p10: Some(on(0, w)),
                    p50: Some(on(1, w)),
                    p90: Some(on(2, w)),
                    estimated: false,
                    status,
                });
            }
            day = day.succ_opt().expect("a day the calendar holds");
        }
    }
    rows
}

/// One day of one workload's use of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub date: NaiveDate,
    pub workload: String,
    /// The price table's id for the model when it knows the bill's name, else the
    /// bill's own name for it (the report's `model_id`, else its `model`).
    pub model: String,
    /// Tokens by kind; None when a line of that kind has no price (so no known unit).
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub cache_read_tokens: Option<f64>,
    pub cache_write_tokens: Option<f64>,
    pub cache_write_1h_tokens: Option<f64>,
    /// Billed dollars of the model's token and model-unit lines that day.
    pub spend: f64,
}

/// Per day, workload and model: tokens by kind and spend, read and priced as the
/// report's `models` are (tokens = the bill's quantity x the price unit's tokens).
pub fn tokens(usage: &[DailyUsage], prices: &PriceTable) -> Vec<TokenRow> {
    let mut rows: BTreeMap<(NaiveDate, String, String), TokenRow> = BTreeMap::new();
    for u in usage {
        let Some(parsed) = usage_type::parse(&u.service, &u.usage_type) else {
            continue;
        };
        // The lines the report's `models` read: tokens and model units.
        if !(parsed.token_kind == TokenKind::ModelUnits
            || TokenKind::TOKENS.contains(&parsed.token_kind))
        {
            continue;
        }
        let price = prices.of(&parsed);
        let model = prices
            .model(&parsed.bill_name)
            .map_or_else(|| parsed.bill_name.clone(), |m| m.id.clone());
        let row = rows
            .entry((u.date, u.workload.clone(), model.clone()))
            .or_insert_with(|| TokenRow {
                date: u.date,
                workload: u.workload.clone(),
                model,
                input_tokens: Some(0.0),
                output_tokens: Some(0.0),
                cache_read_tokens: Some(0.0),
                cache_write_tokens: Some(0.0),
                cache_write_1h_tokens: Some(0.0),
                spend: 0.0,
            });
        row.spend += u.cost;
        let slot = match parsed.token_kind {
            TokenKind::Input => &mut row.input_tokens,
            TokenKind::Output => &mut row.output_tokens,
            TokenKind::CacheRead => &mut row.cache_read_tokens,
            TokenKind::CacheWrite => &mut row.cache_write_tokens,
            TokenKind::CacheWrite1h => &mut row.cache_write_1h_tokens,
            _ => continue,
        };
        *slot = match (*slot, price) {
            (Some(sum), Some(p)) => Some(sum + u.quantity * p.unit.tokens()),
            _ => None,
        };
    }
    let mut rows: Vec<TokenRow> = rows.into_values().collect();
    for r in &mut rows {
        for t in [
            &mut r.input_tokens,
            &mut r.output_tokens,
            &mut r.cache_read_tokens,
            &mut r.cache_write_tokens,
            &mut r.cache_write_1h_tokens,
        ] {
            *t = t.map(f64::round);
        }
    }
    // Spend in cents, each workload's rows for a model adding up to their total.
    let mut totals: BTreeMap<(String, String), Cents> = BTreeMap::new();
    for r in &mut rows {
        r.spend = totals
            .entry((r.workload.clone(), r.model.clone()))
            .or_default()
            .next(r.spend);
    }
    rows
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn rounded_rows_add_up_to_the_rounded_total_at_every_row(
            values in proptest::collection::vec(0.0f64..10_000.0, 0..400),
        ) {
            let rounded = cents_keeping_totals(values.iter().copied());
            let mut exact = 0.0;
            let mut shown = 0.0;
            for (v, r) in values.iter().zip(&rounded) {
                exact += v;
                shown += r;
                prop_assert!((shown - cents(exact)).abs() < 1e-6, "{shown} vs {exact}");
                prop_assert!((r - v).abs() <= 0.0100001, "{r} for {v}");
                prop_assert!((r * 100.0 - (r * 100.0).round()).abs() < 1e-6);
            }
        }
    }
}
