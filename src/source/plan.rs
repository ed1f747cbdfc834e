//! The query plan: the few GetCostAndUsage queries that give attribution and the Bedrock
//! breakdown everything they need (see ARCHITECTURE.md, "The query plan").
//!
//! Cost Explorer allows two group-bys per query, so usage is fetched as slices sharing
//! USAGE_TYPE, one per other dimension, each tag key's joint slices with the service and
//! (when a rule names an account) the account, and non-usage record types (credits,
//! refunds, tax) in one more. The number of queries depends only on how many tag keys
//! the rules use and whether they name accounts: five for one key, six with accounts,
//! whatever the number of workloads and awards.

use aws_sdk_costexplorer::types::{
    Dimension, DimensionValues, Expression, GroupDefinition, GroupDefinitionType,
};

use chrono::{Datelike, NaiveDate};

use crate::config::Config;
use crate::model::page::RecordScope;

/// The metrics every query asks for.
pub(crate) const METRICS: [&str; 2] = ["UnblendedCost", "UsageQuantity"];

/// One query of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Stable name, used for the cache and recordings: `usage-by-service`, ...
    pub name: String,
    pub scope: RecordScope,
    /// The two group-bys: (TAG or DIMENSION, key).
    pub group_by: [(GroupDefinitionType, String); 2],
}

impl Query {
    fn usage(name: &str, first: (GroupDefinitionType, &str)) -> Query {
        Query {
            name: name.to_string(),
            scope: RecordScope::Usage,
            group_by: [
                (first.0, first.1.to_string()),
                (GroupDefinitionType::Dimension, "USAGE_TYPE".to_string()),
            ],
        }
    }

    /// `RECORD_TYPE = Usage`, or its negation.
    pub fn filter(&self) -> Expression {
        let usage = Expression::builder()
            .dimensions(
                DimensionValues::builder()
                    .key(Dimension::RecordType)
                    .values("Usage")
                    .build(),
            )
            .build();
        match self.scope {
            RecordScope::Usage => usage,
            RecordScope::NotUsage => Expression::builder().not(usage).build(),
        }
    }

    /// What a request of this query over `[start, end)` asks for, for the integrity
    /// checks of its answer.
    pub fn expected(&self, start: NaiveDate, end: NaiveDate) -> Expected {
        Expected {
            scope: self.scope,
            group_by: self
                .group_by
                .iter()
                .map(|(kind, key)| (kind_name(Some(kind)), key.clone()))
                .collect(),
            start,
            end,
        }
    }

    /// Whether this is a joint slice (a tag key with the service or the account): the
    /// table is built without it, approximated, when the cache lacks its days (a store
    /// from before the plan asked for it, a fetch that failed).
    pub fn joint(&self) -> bool {
        joint(
            self.scope,
            &kind_name(Some(&self.group_by[0].0)),
            &self.group_by[1].1,
        )
    }

    pub fn group_definitions(&self) -> Vec<GroupDefinition> {
        self.group_by
            .iter()
            .map(|(kind, key)| {
                GroupDefinition::builder()
                    .r#type(kind.clone())
                    .key(key)
                    .build()
            })
            .collect()
    }
}

/// The queries for `config`: usage by service, by account, by each tag key the rules use,
/// each tag key with the service and (when the rules name accounts too) with the
/// account, and the other record types by service.
pub fn queries(config: &Config) -> Vec<Query> {
    let tag_keys = config.rule_tag_keys();
    let mut out = vec![
        Query::usage(
            "usage-by-service",
            (GroupDefinitionType::Dimension, "SERVICE"),
        ),
        Query::usage(
            "usage-by-account",
            (GroupDefinitionType::Dimension, "LINKED_ACCOUNT"),
        ),
    ];
    for key in &tag_keys {
        out.push(Query::usage(
            &format!("usage-by-tag-{key}"),
            (GroupDefinitionType::Tag, key),
        ));
    }
    // The joints of a tag key with the service and (when the rules name accounts) with
    // the account, over all usage types: which tag values sit in which services and
    // accounts each day, so that the table splits a usage type's dollars between them as
    // the bill does rather than in proportion.
    let mut sides = vec!["SERVICE"];
    if config.rules_use_accounts() {
        sides.push("LINKED_ACCOUNT");
    }
    for side in sides {
        for key in &tag_keys {
            out.push(Query {
                name: joint_name(key, side),
                scope: RecordScope::Usage,
                group_by: [
                    (GroupDefinitionType::Tag, key.to_string()),
                    (GroupDefinitionType::Dimension, side.to_string()),
                ],
            });
        }
    }
    out.push(Query {
        name: "other-by-record-type".to_string(),
        scope: RecordScope::NotUsage,
        group_by: [
            (GroupDefinitionType::Dimension, "RECORD_TYPE".to_string()),
            (GroupDefinitionType::Dimension, "SERVICE".to_string()),
        ],
    });
    out
}

/// The name of the query grouped by tag `key` and `side` (SERVICE or LINKED_ACCOUNT).
pub fn joint_name(key: &str, side: &str) -> String {
    let side = if side == "SERVICE" {
        "service"
    } else {
        "account"
    };
    format!("usage-by-{side}-and-tag-{key}")
}

/// How far back Cost Explorer answers: 13 months plus the current one.
pub(crate) const LOOKBACK_MONTHS: i32 = 13;

/// The days a live run needs, and the part of them Cost Explorer still answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first day needed: the earliest award start (or 90 days before `as_of`
    /// without awards). Cached days from here on are read, however old.
    pub start: NaiveDate,
    /// The first day Cost Explorer answers for (`LOOKBACK_MONTHS` back, from the first
    /// of that month): days before it are never asked for, only read from the cache.
    pub reach: NaiveDate,
    /// The day after the last needed: `as_of` inclusive, but never today, whose figures
    /// are still partial.
    pub end: NaiveDate,
}

impl Window {
    /// The days `[from, end)` a run may ask Cost Explorer for.
    pub fn fetchable(&self) -> (NaiveDate, NaiveDate) {
        (self.start.max(self.reach).min(self.end), self.end)
    }

    /// The days `[start, end)` read from the cache.
    pub fn needed(&self) -> (NaiveDate, NaiveDate) {
        (self.start.min(self.end), self.end)
    }
}

/// The days a live run needs as of `as_of`, on `today`.
pub fn history(config: &Config, as_of: NaiveDate, today: NaiveDate) -> Window {
    let months = today.year() * 12 + today.month0() as i32 - LOOKBACK_MONTHS;
    let reach = NaiveDate::from_ymd_opt(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(today);
    let start = config
        .awards
        .iter()
        .map(|a| a.start)
        .min()
        .unwrap_or_else(|| {
            as_of
                .checked_sub_days(chrono::Days::new(90))
                .unwrap_or(as_of)
        });
    Window {
        start,
        reach,
        end: as_of.succ_opt().unwrap_or(as_of).min(today),
    }
}

/// `[start, end)` cut at the first of each month: the ranges a live run reads from the
/// cache one at a time.
pub fn months(start: NaiveDate, end: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        let next = from
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.with_day(1))
            .map_or(end, |d| d.min(end));
        out.push((from, next));
        from = next;
    }
    out
}

/// What a query asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub scope: RecordScope,
    /// The group-bys as (`DIMENSION` or `TAG`, key).
    pub group_by: Vec<(String, String)>,
    /// The requested period, `[start, end)`.
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Expected {
    /// Whether this is a joint slice (a tag key with the account or the service, over
    /// all usage types).
    pub fn joint(&self) -> bool {
        match self.group_by.as_slice() {
            [(first, _), (_, second)] => joint(self.scope, first, second),
            _ => false,
        }
    }
}

/// Whether a usage query grouped first by a `first` kind and second by `second` is a
/// joint slice: a tag with a dimension other than USAGE_TYPE.
fn joint(scope: RecordScope, first: &str, second: &str) -> bool {
    scope == RecordScope::Usage && first == "TAG" && second != "USAGE_TYPE"
}

/// The kind of a group definition as the wire spells it.
pub(crate) fn kind_name(kind: Option<&GroupDefinitionType>) -> String {
    match kind {
        Some(GroupDefinitionType::Tag) => "TAG".into(),
        Some(GroupDefinitionType::Dimension) => "DIMENSION".into(),
        Some(GroupDefinitionType::CostCategory) => "COST_CATEGORY".into(),
        Some(other) => other.as_str().to_string(),
        None => "NONE".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_range_is_cut_at_the_first_of_each_month() {
        let cut = |a: &str, b: &str| -> Vec<(String, String)> {
            months(day(a), day(b))
                .into_iter()
                .map(|(f, t)| (f.to_string(), t.to_string()))
                .collect()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            cut("2026-01-31", "2026-03-15"),
            vec![
                pair("2026-01-31", "2026-02-01"),
                pair("2026-02-01", "2026-03-01"),
                pair("2026-03-01", "2026-03-15"),
            ]
        );
        assert_eq!(
            cut("2025-12-01", "2026-01-01"),
            vec![pair("2025-12-01", "2026-01-01")]
        );
        assert_eq!(
            cut("2026-11-12", "2026-11-13"),
            vec![pair("2026-11-12", "2026-11-13")]
        );
        assert!(cut("2026-11-12", "2026-11-12").is_empty());
        assert!(cut("2026-11-13", "2026-11-12").is_empty());
    }
}
