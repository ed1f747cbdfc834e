//! Integrity checks on Cost Explorer answers, before they are cached or turned into a
//! cost table: pure functions of the decoded pages and the request that produced them.
//!
//! One query's pages must answer its request (the same GroupDefinitions, periods inside
//! the requested range, the record types its filter allows) and hold every group once,
//! with both metrics and a numeric amount. A day may be split over pages (AWS ends a
//! page after a number of groups, not at a day boundary); its groups are merged, never
//! overwritten. Then every usage slice (by service, by account, by each tag key) covers
//! the same spend, so their day totals must agree to a cent: a slice that disagrees was
//! truncated, scaled or mangled on the way, and its numbers must not reach finance.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use chrono::NaiveDate;

use crate::model::page::RecordScope;
use crate::model::text::excerpt;
use crate::source::plan::{kind_name, Expected, METRICS};

/// Why an answer cannot be used: the query, the page file (when there is one), the day
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{query}{}: {message}", day.map(|d| format!(", {d}")).unwrap_or_default())]
pub(crate) struct IntegrityError {
    pub query: String,
    pub file: Option<PathBuf>,
    pub day: Option<NaiveDate>,
    pub message: String,
}

/// One page of a query's answer, with the file it came from (None when live).
pub(crate) struct Page<'a> {
    pub file: Option<&'a Path>,
    pub output: &'a GetCostAndUsageOutput,
}

/// Cost per (day, the group's last key): for the usage slices, which all group by
/// USAGE_TYPE second, the cost of each usage type each day.
pub(crate) type Totals = BTreeMap<(NaiveDate, String), f64>;

/// The page file that holds each day (the first of them, for a day split over pages),
/// so that an error names the page a reader can open.
pub(crate) type DayPages = BTreeMap<NaiveDate, PathBuf>;

/// Checks one query's pages against its request and returns its cost per day and usage
/// type (all groups of the day, merged across pages), with the page holding each day.
pub(crate) fn check_query(
    query: &str,
    expected: &Expected,
    pages: &[Page],
) -> Result<(Totals, DayPages), IntegrityError> {
    let mut check = QueryCheck::new(query, expected);
    for page in pages {
        check.page(page)?;
    }
    Ok(check.finish())
}

/// `check_query` a page at a time, as the pages arrive: a page can be dropped once
/// checked. It keeps the totals, the page of each day and a digest of each group seen.
pub(crate) struct QueryCheck<'e> {
    query: String,
    expected: &'e Expected,
    totals: Totals,
    day_pages: DayPages,
    /// Each group seen, as its day and a digest of its keys: a group given twice for a
    /// day is refused, in whatever pages.
    seen: BTreeSet<(NaiveDate, u64)>,
}

impl<'e> QueryCheck<'e> {
    pub(crate) fn new(query: &str, expected: &'e Expected) -> QueryCheck<'e> {
        QueryCheck {
            query: query.to_string(),
            expected,
            totals: Totals::new(),
            day_pages: DayPages::new(),
            seen: BTreeSet::new(),
        }
    }

    pub(crate) fn finish(self) -> (Totals, DayPages) {
        (self.totals, self.day_pages)
    }

    /// Checks one more page of the query.
    pub(crate) fn page(&mut self, page: &Page) -> Result<(), IntegrityError> {
        let (query, expected) = (self.query.as_str(), self.expected);
        let (totals, day_pages, seen) = (&mut self.totals, &mut self.day_pages, &mut self.seen);
        let fail = |day: Option<NaiveDate>, message: String| IntegrityError {
            query: query.to_string(),
            file: page.file.map(Path::to_path_buf),
            day,
            message,
        };
        let defs: Vec<(String, String)> = page
            .output
            .group_definitions()
            .iter()
            .map(|g| {
                (
                    kind_name(g.r#type()),
                    g.key().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if defs != expected.group_by {
            let show = |d: &[(String, String)]| {
                d.iter()
                    .map(|(t, k)| format!("{t}:{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(fail(
                None,
                format!(
                    "GroupDefinitions [{}] differ from the request's [{}]",
                    excerpt(&show(&defs)),
                    show(&expected.group_by)
                ),
            ));
        }
        let mut on_this_page = BTreeSet::new();
        for result in page.output.results_by_time() {
            let start = result.time_period().map(|p| p.start()).unwrap_or_default();
            let day = NaiveDate::parse_from_str(start, "%Y-%m-%d").map_err(|_| {
                fail(
                    None,
                    format!("TimePeriod Start {:?} is not a date", excerpt(start)),
                )
            })?;
            if day < expected.start || day >= expected.end {
                return Err(fail(
                    Some(day),
                    format!(
                        "the period is outside the request's {} to {} (end exclusive)",
                        expected.start, expected.end
                    ),
                ));
            }
            if !on_this_page.insert(day) {
                return Err(fail(
                    Some(day),
                    "the period appears twice on one page".to_string(),
                ));
            }
            if let Some(file) = page.file {
                day_pages.entry(day).or_insert_with(|| file.to_path_buf());
            }
            for group in result.groups() {
                let keys = group.keys().to_vec();
                if keys.len() != expected.group_by.len() {
                    return Err(fail(
                        Some(day),
                        format!(
                            "a group has {} keys, not {}",
                            keys.len(),
                            expected.group_by.len()
                        ),
                    ));
                }
                if expected.scope == RecordScope::NotUsage
                    && expected
                        .group_by
                        .first()
                        .is_some_and(|g| g.1 == "RECORD_TYPE")
                    && keys.first().is_some_and(|k| k == "Usage")
                {
                    return Err(fail(
                        Some(day),
                        "a Usage record in a query whose filter excludes Usage".to_string(),
                    ));
                }
                let mut cost = 0.0;
                for metric in METRICS {
                    let value = group.metrics().and_then(|m| m.get(metric)).ok_or_else(|| {
                        fail(
                            Some(day),
                            format!(
                                "group {} has no {metric} metric",
                                excerpt(&keys.join(" / "))
                            ),
                        )
                    })?;
                    let text = value.amount().ok_or_else(|| {
                        fail(
                            Some(day),
                            format!(
                                "group {} has no {metric} Amount",
                                excerpt(&keys.join(" / "))
                            ),
                        )
                    })?;
                    let amount: f64 = text
                        .trim()
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite())
                        .ok_or_else(|| {
                            fail(
                                Some(day),
                                format!("{metric} amount {:?} is not a number", excerpt(text)),
                            )
                        })?;
                    if metric == "UnblendedCost" {
                        cost = amount;
                    } else if expected.scope == RecordScope::Usage && amount < 0.0 {
                        return Err(fail(
                            Some(day),
                            format!(
                                "usage group {} has a negative {metric} ({amount}); usage is never negative",
                                excerpt(&keys.join(" / "))
                            ),
                        ));
                    }
                }
                let credit = expected.scope == RecordScope::NotUsage
                    && expected
                        .group_by
                        .first()
                        .is_some_and(|g| g.1 == "RECORD_TYPE")
                    && keys.first().is_some_and(|k| k == "Credit");
                if credit && cost > 0.005 {
                    return Err(fail(
                        Some(day),
                        format!(
                            "credit group {} has a positive amount ({cost}); credits applied reduce the bill and are never positive, so the answer is altered",
                            excerpt(&keys.join(" / "))
                        ),
                    ));
                }
                if expected.scope == RecordScope::Usage && cost < -0.005 {
                    return Err(fail(
                        Some(day),
                        format!(
                            "usage group {} has a negative cost ({cost}); usage is never negative (credits and refunds are other record types)",
                            excerpt(&keys.join(" / "))
                        ),
                    ));
                }
                if !seen.insert((day, digest(&keys))) {
                    return Err(fail(
                        Some(day),
                        format!(
                            "group {} appears twice for the day",
                            excerpt(&keys.join(" / "))
                        ),
                    ));
                }
                let last = keys.last().cloned().unwrap_or_default();
                *totals.entry((day, last)).or_insert(0.0) += cost;
            }
        }
        Ok(())
    }
}

/// A group's keys as 64 bits (`DefaultHasher::new`, keyed the same on every run): a day
/// holds a few thousand groups, far too few for two to share one by chance.
fn digest(keys: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    keys.hash(&mut h);
    h.finish()
}

/// Whether two day totals agree: to a cent, plus a relative allowance for the rounding
/// of many small amounts.
fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.01 + 1e-9 * a.abs().max(b.abs())
}

/// One usage slice's totals for `check_slices`: its query, the page holding each day
/// (when read from files), and its totals per day and last key. A `joint` slice (a tag
/// key with the account) has no usage type: only its day totals are compared.
pub(crate) struct SliceTotals<'a> {
    pub query: &'a str,
    pub joint: bool,
    pub pages: Option<&'a DayPages>,
    pub totals: &'a Totals,
}

/// Checks that every usage slice gives the same total for every day and usage type any
/// of them covers (they all group by USAGE_TYPE, so a slice whose amounts were scaled,
/// dropped or relabelled on the way disagrees), and every joint slice the same total
/// each day. The first slice is the reference.
pub(crate) fn check_slices(slices: &[SliceTotals]) -> Result<(), IntegrityError> {
    let Some(first) = slices.first() else {
        return Ok(());
    };
    let (reference, base) = (first.query, first.totals);
    let disagree = |slice: &SliceTotals, cell: &(NaiveDate, String), got: f64, want: f64| {
        let on = if slice.joint {
            "the day's usage".to_string()
        } else {
            format!("usage type {}", excerpt(&cell.1))
        };
        IntegrityError {
            query: slice.query.to_string(),
            file: slice.pages.and_then(|p| p.get(&cell.0)).cloned(),
            day: Some(cell.0),
            message: format!(
                "the usage slices disagree on {on}: {} totals {got:.2} USD but {reference} totals {want:.2} USD; every slice covers the same spend, so the answer is incomplete or altered",
                slice.query
            ),
        }
    };
    let (joints, by_type): (Vec<&SliceTotals>, Vec<&SliceTotals>) =
        slices[1..].iter().partition(|s| s.joint);
    let cells: BTreeSet<&(NaiveDate, String)> = std::iter::once(base)
        .chain(by_type.iter().map(|s| s.totals))
        .flat_map(|t| t.keys())
        .collect();
    for cell in cells {
        let want = base.get(cell).copied().unwrap_or(0.0);
        for slice in &by_type {
            let got = slice.totals.get(cell).copied().unwrap_or(0.0);
            if !agree(want, got) {
                return Err(disagree(slice, cell, got, want));
            }
        }
    }
    let days = |t: &Totals| -> BTreeMap<NaiveDate, f64> {
        let mut out = BTreeMap::new();
        for ((day, _), cost) in t {
            *out.entry(*day).or_insert(0.0) += cost;
        }
        out
    };
    let base_days = days(base);
    for slice in joints {
        let of_slice = days(slice.totals);
        let all: BTreeSet<&NaiveDate> = base_days.keys().chain(of_slice.keys()).collect();
        for day in all {
            let want = base_days.get(day).copied().unwrap_or(0.0);
            let got = of_slice.get(day).copied().unwrap_or(0.0);
            if !agree(want, got) {
                return Err(disagree(slice, &(*day, String::new()), got, want));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_costexplorer::types::{DateInterval, Group, ResultByTime};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_query_without_group_bys_is_refused_not_a_panic() {
        let output = GetCostAndUsageOutput::builder()
            .set_group_definitions(Some(vec![]))
            .results_by_time(
                ResultByTime::builder()
                    .time_period(
                        DateInterval::builder()
                            .start("2026-11-01")
                            .end("2026-11-02")
                            .build()
                            .unwrap(),
                    )
                    .groups(Group::builder().set_keys(Some(vec![])).build())
                    .build(),
            )
            .build();
        let expected = Expected {
            scope: RecordScope::NotUsage,
            group_by: vec![],
            start: day("2026-11-01"),
            end: day("2026-11-02"),
        };
        let got = check_query(
            "q",
            &expected,
            &[Page {
                file: None,
                output: &output,
            }],
        );
        assert!(got.unwrap_err().message.contains("no UnblendedCost metric"));
    }
}
