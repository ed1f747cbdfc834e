//! The analysis on small hand-checked inputs: one case per status, the burn window, and
//! attribution (first match wins, the workloads' spend and the unattributed add up to the
//! recorded total).

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use aws_sdk_costexplorer::types::{
    DateInterval, Group, GroupDefinition, GroupDefinitionType, MetricValue, ResultByTime,
};
use chrono::NaiveDate;
use creditburn::analyse::analysis::{self};
use creditburn::analyse::project::Status;
use creditburn::analyse::project::{project, Inputs, Projection};
use creditburn::analyse::table;
use creditburn::model::page::{CostPage, RecordScope};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// `per_day` spent every day from `first` to `last` inclusive.
fn flat(first: &str, last: &str, per_day: f64) -> BTreeMap<NaiveDate, f64> {
    let mut out = BTreeMap::new();
    let mut d = day(first);
    while d <= day(last) {
        out.insert(d, per_day);
        d = d.succ_opt().unwrap();
    }
    out
}

/// An award of $1,000 from 2026-01-01 to 2026-01-31, 14-day window, 7 days of slack.
fn check(daily: &BTreeMap<NaiveDate, f64>, as_of: &str, expect: Projection) {
    let inputs = Inputs {
        amount: 1000.0,
        start: day("2026-01-01"),
        expiry: day("2026-01-31"),
        daily,
        data_through: day(as_of),
        opening: None,
    };
    assert_eq!(project(&inputs, day(as_of), 14, 7), expect);
}

#[test]
fn on_track() {
    // $40 a day, Jan 1-10: consumed 400, remaining 600. The window is the 10 days since
    // start, so burn = 400 / 10 = 40. Runway 600 / 40 = 15 days; days left 31 - 10 = 21;
    // 14 <= 15 <= 28, on track. Runs out on Jan 10 + 15 = Jan 25; unused max(0, 600 - 840) = 0.
    check(
        &flat("2026-01-01", "2026-01-10", 40.0),
        "2026-01-10",
        Projection {
            consumed: 400.0,
            daily_burn: 40.0,
            burn_range: (40.0, 40.0),
            burn_window_days: 10,
            days_left: 21,
            runway_days: Some(15.0),
            exhaustion_date: Some(day("2026-01-25")),
            unused_at_expiry: 0.0,
            status: Status::OnTrack,
        },
    );
}

#[test]
fn exhaustion_risk() {
    // $50 a day: consumed 500, remaining 500, burn 50, runway 10 < 21 - 7 = 14.
    // Runs out on Jan 10 + 10 = Jan 20, 11 days before expiry.
    check(
        &flat("2026-01-01", "2026-01-10", 50.0),
        "2026-01-10",
        Projection {
            consumed: 500.0,
            daily_burn: 50.0,
            burn_range: (50.0, 50.0),
            burn_window_days: 10,
            days_left: 21,
            runway_days: Some(10.0),
            exhaustion_date: Some(day("2026-01-20")),
            unused_at_expiry: 0.0,
            status: Status::ExhaustionRisk,
        },
    );
}

#[test]
fn forfeit_risk() {
    // $20 a day: consumed 200, remaining 800, burn 20, runway 40 > 21 + 7 = 28.
    // Jan 10 + 40 = Feb 19 is after expiry, so no exhaustion date; unused 800 - 20 * 21 = 380.
    check(
        &flat("2026-01-01", "2026-01-10", 20.0),
        "2026-01-10",
        Projection {
            consumed: 200.0,
            daily_burn: 20.0,
            burn_range: (20.0, 20.0),
            burn_window_days: 10,
            days_left: 21,
            runway_days: Some(40.0),
            exhaustion_date: None,
            unused_at_expiry: 380.0,
            status: Status::ForfeitRisk,
        },
    );
}

#[test]
fn exhausted() {
    // $120 a day: 960 after Jan 8, 1,080 after Jan 9, so it ran out on Jan 9.
    // Consumed 1,200 by Jan 10; burn 120.
    check(
        &flat("2026-01-01", "2026-01-10", 120.0),
        "2026-01-10",
        Projection {
            consumed: 1200.0,
            daily_burn: 120.0,
            burn_range: (120.0, 120.0),
            burn_window_days: 10,
            days_left: 21,
            runway_days: Some(0.0),
            exhaustion_date: Some(day("2026-01-09")),
            unused_at_expiry: 0.0,
            status: Status::Exhausted,
        },
    );
}

#[test]
fn expired() {
    // $20 a day all January, as of Feb 5: consumption stops at expiry, 31 * 20 = 620;
    // 380 was forfeited. The window ends at expiry: Jan 18-31, 14 days, burn 20.
    let mut daily = flat("2026-01-01", "2026-02-05", 20.0);
    daily.insert(day("2026-02-01"), 999.0); // after expiry: not the award's
    check(
        &daily,
        "2026-02-05",
        Projection {
            consumed: 620.0,
            daily_burn: 20.0,
            burn_range: (20.0, 20.0),
            burn_window_days: 14,
            days_left: 0,
            runway_days: None,
            exhaustion_date: None,
            unused_at_expiry: 380.0,
            status: Status::Expired,
        },
    );
}

#[test]
fn not_started() {
    check(
        &BTreeMap::new(),
        "2025-12-20",
        Projection {
            consumed: 0.0,
            daily_burn: 0.0,
            burn_range: (0.0, 0.0),
            burn_window_days: 0,
            days_left: 42,
            runway_days: None,
            exhaustion_date: None,
            unused_at_expiry: 1000.0,
            status: Status::NotStarted,
        },
    );
}

#[test]
fn burn_is_the_trailing_window_of_a_ramp() {
    // 10 * i dollars on Jan i. As of Jan 20 the 14-day window is Jan 7-20:
    // 10 * (7 + ... + 20) = 10 * 189 = 1,890, / 14 = 135. Consumed 10 * 210 = 2,100.
    let daily: BTreeMap<NaiveDate, f64> = (1..=20)
        .map(|i| (day(&format!("2026-01-{i:02}")), 10.0 * i as f64))
        .collect();
    let inputs = Inputs {
        amount: 5000.0,
        start: day("2026-01-01"),
        expiry: day("2026-03-31"),
        daily: &daily,
        data_through: day("2026-01-20"),
        opening: None,
    };
    let p = project(&inputs, day("2026-01-20"), 14, 7);
    assert_eq!(p.consumed, 2100.0);
    assert_eq!(p.burn_window_days, 14);
    assert_eq!(p.daily_burn, 135.0);
    // Runway 2,900 / 135 = 21.48 days: runs out on Jan 20 + 22 = Feb 11.
    assert_eq!(p.exhaustion_date, Some(day("2026-02-11")));
    assert_eq!(p.status, Status::ExhaustionRisk);
}

// ---- attribution on a tiny table -----------------------------------------------------

fn metric(cost: f64) -> std::collections::HashMap<String, MetricValue> {
    [
        ("UnblendedCost", cost.to_string(), "USD"),
        ("UsageQuantity", (cost * 10.0).to_string(), "N/A"),
    ]
    .into_iter()
    .map(|(k, v, u)| {
        (
            k.to_string(),
            MetricValue::builder().amount(v).unit(u).build(),
        )
    })
    .collect()
}

fn page(scope: RecordScope, defs: [(&str, &str); 2], groups: &[(&str, &str, f64)]) -> CostPage {
    page_on("2026-03-01", "2026-03-02", scope, defs, groups)
}

/// `page`, of the day from `start` to `end`.
fn page_on(
    start: &str,
    end: &str,
    scope: RecordScope,
    defs: [(&str, &str); 2],
    groups: &[(&str, &str, f64)],
) -> CostPage {
    let mut result = ResultByTime::builder()
        .time_period(
            DateInterval::builder()
                .start(start)
                .end(end)
                .build()
                .unwrap(),
        )
        .estimated(false);
    for (a, b, cost) in groups {
        result = result.groups(
            Group::builder()
                .keys(*a)
                .keys(*b)
                .set_metrics(Some(metric(*cost)))
                .build(),
        );
    }
    finish_page(
        GetCostAndUsageOutput::builder().results_by_time(result.build()),
        scope,
        defs,
    )
}

/// A test page from its results: the group definitions added, in `scope`.
pub(crate) fn finish_page(
    mut output: aws_sdk_costexplorer::operation::get_cost_and_usage::builders::GetCostAndUsageOutputBuilder,
    scope: RecordScope,
    defs: [(&str, &str); 2],
) -> CostPage {
    for (kind, key) in defs {
        output = output.group_definitions(
            GroupDefinition::builder()
                .r#type(GroupDefinitionType::from(kind))
                .key(key)
                .build(),
        );
    }
    CostPage {
        query: "test".into(),
        file: PathBuf::from("test.json"),
        scope,
        output: output.build(),
    }
}

fn small_table() -> table::CostTable {
    use RecordScope::*;
    let svc = ("DIMENSION", "SERVICE");
    let ut = ("DIMENSION", "USAGE_TYPE");
    let pages = vec![
        page(
            Usage,
            [svc, ut],
            &[
                ("Amazon Bedrock", "USE1-Claude4.6Sonnet-input-tokens", 30.0),
                (
                    "Amazon Simple Storage Service",
                    "TimedStorage-ByteHrs",
                    10.0,
                ),
                (
                    "Amazon Elastic Compute Cloud - Compute",
                    "USE1-BoxUsage:c7g.large",
                    5.0,
                ),
            ],
        ),
        page(
            Usage,
            [("DIMENSION", "LINKED_ACCOUNT"), ut],
            &[
                ("111111111111", "USE1-Claude4.6Sonnet-input-tokens", 30.0),
                // S3 in two accounts and under two tags: split in proportion.
                ("111111111111", "TimedStorage-ByteHrs", 6.0),
                ("222222222222", "TimedStorage-ByteHrs", 4.0),
                ("222222222222", "USE1-BoxUsage:c7g.large", 5.0),
            ],
        ),
        page(
            Usage,
            [("TAG", "workload"), ut],
            &[
                ("workload$rag", "USE1-Claude4.6Sonnet-input-tokens", 24.0),
                ("workload$", "USE1-Claude4.6Sonnet-input-tokens", 6.0),
                ("workload$rag", "TimedStorage-ByteHrs", 5.0),
                ("workload$", "TimedStorage-ByteHrs", 5.0),
                ("workload$", "USE1-BoxUsage:c7g.large", 5.0),
            ],
        ),
        page(
            NotUsage,
            [("DIMENSION", "RECORD_TYPE"), svc],
            &[("Credit", "Amazon Bedrock", -24.0)],
        ),
    ];
    table::normalise(&pages).unwrap()
}

#[test]
fn a_day_of_the_bill_outside_the_years_2000_to_2200_is_refused_naming_its_file() {
    // A hand-made recording dated near the calendar's end would otherwise overflow the
    // day after its last day; one from 1999 is no AWS bill either.
    let ut = ("DIMENSION", "USAGE_TYPE");
    let pages = |start: &str, end: &str| {
        let line = |key| [(key, "USE1-Nova2Lite-input-tokens", 1.0)];
        vec![
            page_on(
                start,
                end,
                RecordScope::Usage,
                [("DIMENSION", "SERVICE"), ut],
                &line("Amazon Bedrock"),
            ),
            page_on(
                start,
                end,
                RecordScope::Usage,
                [("DIMENSION", "LINKED_ACCOUNT"), ut],
                &line("111111111111"),
            ),
        ]
    };
    for (start, end) in [("9999-12-30", "9999-12-31"), ("1999-12-31", "2000-01-01")] {
        let message = table::normalise(&pages(start, end))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("{start} is outside the years 2000 to 2200"))
                && message.contains("test.json"),
            "{message}"
        );
    }
    let last = table::normalise(&pages("2200-12-31", "2201-01-01")).unwrap();
    assert_eq!(last.last_day.to_string(), "2200-12-31");
}

#[test]
fn attribution_first_match_wins_and_adds_up() {
    let config =
        creditburn::config::parse(crate::support::SMALL_CONFIG, std::path::Path::new(".")).unwrap();
    let table = small_table();
    let a = analysis::analyse(&table, &config, day("2026-03-01"), None, None).unwrap();
    let spend = |name: &str| a.workloads.iter().find(|w| w.name == name).unwrap().cost;
    // Bedrock: 24 tagged rag. S3: tag and account both vary, so each of the four
    // (account, tag) cells gets 10 * (account share) * (tag share):
    //   111/rag 10*.6*.5 = 3, 111/none = 3, 222/rag 10*.4*.5 = 2, 222/none = 2.
    // rag (priority 1) takes both rag cells: 24 + 3 + 2 = 29.
    // platform takes account 222 untagged: S3 2 + EC2 5 = 7.
    // Unattributed: Bedrock untagged 6 + S3 111/none 3 = 9. Total 45.
    assert!((spend("rag") - 29.0).abs() < 1e-9, "rag {}", spend("rag"));
    assert!((spend("platform") - 7.0).abs() < 1e-9);
    assert!((a.data.unattributed - 9.0).abs() < 1e-9);
    assert!((a.data.usage_total - 45.0).abs() < 1e-9);
    // The workloads took 29 + 7 = 36 of it, by hand.
    assert!((a.data.attributed - 36.0).abs() < 1e-9);
    // Only the S3 line was split.
    assert!((a.data.approximated - 10.0).abs() < 1e-9);
    assert!((a.data.credits_applied - 24.0).abs() < 1e-9);
    // The award counts rag's spend on its one day: 29.
    assert!((a.awards[0].consumed - 29.0).abs() < 1e-9);
    let rag = a.workloads.iter().find(|w| w.name == "rag").unwrap();
    let sonnet = &rag.bedrock[0];
    assert_eq!(
        (sonnet.model.as_str(), sonnet.token_kind.as_str()),
        ("Claude4.6Sonnet", "input")
    );
}

#[test]
fn usage_the_price_table_does_not_price_is_one_warning_naming_it() {
    use RecordScope::*;
    let ut = ("DIMENSION", "USAGE_TYPE");
    let lines: &[(&str, &str, f64)] = &[
        ("Amazon Bedrock", "USE1-Mystery7B-input-tokens", 3.0),
        ("Amazon Bedrock", "EUC1-NovaPro-input-tokens", 2.0),
        ("Amazon Bedrock", "USE1-NovaPro-input-tokens", 0.8),
    ];
    let tagged: Vec<(&str, &str, f64)> = lines
        .iter()
        .map(|(_, u, c)| ("workload$rag", *u, *c))
        .collect();
    let accounts: Vec<(&str, &str, f64)> = lines
        .iter()
        .map(|(_, u, c)| ("111111111111", *u, *c))
        .collect();
    let table = table::normalise(&[
        page(Usage, [("DIMENSION", "SERVICE"), ut], lines),
        page(Usage, [("DIMENSION", "LINKED_ACCOUNT"), ut], &accounts),
        page(Usage, [("TAG", "workload"), ut], &tagged),
    ])
    .unwrap();
    let config =
        creditburn::config::parse(crate::support::SMALL_CONFIG, std::path::Path::new(".")).unwrap();
    let a = analysis::analyse(&table, &config, day("2026-03-01"), None, None).unwrap();
    let warning: Vec<&String> = a
        .data
        .warnings
        .iter()
        .filter(|w| w.contains("no price"))
        .collect();
    assert_eq!(warning.len(), 1, "{:?}", a.data.warnings);
    assert!(
        warning[0].contains("(EUC1: NovaPro; USE1: Mystery7B)"),
        "{}",
        warning[0]
    );
    let rag = a.workloads.iter().find(|w| w.name == "rag").unwrap();
    let checks: Vec<(&str, &str)> = rag
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.price_check.as_str()))
        .collect();
    assert_eq!(checks, [("Mystery7B", "unpriced"), ("NovaPro", "unpriced")]);
}

#[test]
fn demo_workloads_and_unattributed_add_up_to_the_recorded_total() {
    // The total from the recording's JSON, summed group by group apart from creditburn's
    // code; the workloads' spend each summed from its own lines; what no workload took.
    let (config, table) = crate::support::demo();
    let a = analysis::analyse(&table, &config, table.last_day, None, None).unwrap();
    let recorded = crate::support::recorded_usage_total(
        &crate::support::repo().join("fixtures/demo"),
        &table.last_day.to_string(),
    );
    assert!(recorded > 50_000.0, "{recorded}");
    assert!(
        (a.data.usage_total - recorded).abs() < 1e-6,
        "{} != {recorded}",
        a.data.usage_total
    );
    let by_workload: f64 = a.workloads.iter().map(|w| w.cost).sum();
    assert!(
        (by_workload + a.data.unattributed - recorded).abs() < 1e-6,
        "{by_workload} + {} != {recorded}",
        a.data.unattributed
    );
    assert!((by_workload - a.data.attributed).abs() < 1e-6);
    assert_eq!(
        a.data.approximated, 0.0,
        "the demo's slices never vary together"
    );
}

#[test]
fn burn_stops_at_the_last_day_of_data() {
    // $40 a day Jan 1-10, but as of Jan 14 with data only through Jan 10 (a failed fetch,
    // or today's figures not in yet): the window is Jan 1-10, burn 40, not 400 / 14.
    let daily = flat("2026-01-01", "2026-01-10", 40.0);
    let inputs = Inputs {
        amount: 1000.0,
        start: day("2026-01-01"),
        expiry: day("2026-01-31"),
        daily: &daily,
        data_through: day("2026-01-10"),
        opening: None,
    };
    let p = project(&inputs, day("2026-01-14"), 14, 7);
    assert_eq!(
        (p.daily_burn, p.burn_window_days, p.days_left),
        (40.0, 10, 17)
    );
    // Runway 600 / 40 = 15 days from Jan 14: Jan 29, within 17 - 7 .. 17 + 7: on track.
    assert_eq!(p.exhaustion_date, Some(day("2026-01-29")));
    assert_eq!(p.status, Status::OnTrack);
}

#[test]
fn no_data_only_where_the_figures_look_like_a_configuration_mistake() {
    use creditburn::analyse::project::{no_data_reasons, Suspicion};
    let workloads = vec!["rag".to_string()];
    let base = Suspicion {
        status: Status::ForfeitRisk,
        matched: 0.0,
        unattributed: 500.0,
        excluded: 0.0,
        dead_keys: &[],
        workloads: &workloads,
        start: day("2026-10-01"),
    };
    // Nothing matched while spend goes unattributed.
    let reasons = no_data_reasons(&base, "services Amazon Bedrock Service $500.00");
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("match no spend since 2026-10-01"));
    assert!(reasons[1].contains("Amazon Bedrock Service $500.00"));
    // A few cents unattributed are no reason to doubt the rules.
    let cents = Suspicion {
        unattributed: 0.4,
        ..base
    };
    assert!(no_data_reasons(&cents, "").is_empty());
    // Excluded spend doubts a forfeit verdict, not an exhaustion one.
    let excluded = Suspicion {
        matched: 1000.0,
        excluded: 300.0,
        ..base
    };
    assert_eq!(no_data_reasons(&excluded, "").len(), 1);
    let exhausting = Suspicion {
        status: Status::ExhaustionRisk,
        ..excluded
    };
    assert!(no_data_reasons(&exhausting, "").is_empty());
    // A tag key without values doubts a forfeit too.
    let dead = Suspicion {
        matched: 1000.0,
        dead_keys: &["Workload"],
        ..base
    };
    assert!(no_data_reasons(&dead, "")[0].contains("\"Workload\""));
    // Not started and expired awards keep their status.
    for status in [Status::NotStarted, Status::Expired] {
        assert!(no_data_reasons(&Suspicion { status, ..base }, "x").is_empty());
    }
}

#[test]
fn slices_that_disagree_keep_the_service_total_and_are_flagged() {
    // Live, slices can come from fetches at different times (one query throttled, its
    // cached days older): an account slice of $30 + $30 against a service slice of $100
    // must neither lose $40 nor hide it.
    use RecordScope::*;
    let ut = ("DIMENSION", "USAGE_TYPE");
    let pages = vec![
        page(
            Usage,
            [("DIMENSION", "SERVICE"), ut],
            &[(
                "Amazon Bedrock Service",
                "USE1-Claude4.6Sonnet-input-tokens",
                100.0,
            )],
        ),
        page(
            Usage,
            [("DIMENSION", "LINKED_ACCOUNT"), ut],
            &[
                ("111111111111", "USE1-Claude4.6Sonnet-input-tokens", 30.0),
                ("222222222222", "USE1-Claude4.6Sonnet-input-tokens", 30.0),
            ],
        ),
    ];
    let t = table::normalise(&pages).unwrap();
    let total: f64 =
        t.df.column(table::COST)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .flatten()
            .sum();
    assert!((total - 100.0).abs() < 1e-9, "{total}");
    assert!((t.approximated_cost - 100.0).abs() < 1e-9);
}

// ---- the burn model end to end: stacks, the account view, spikes ------------------------

/// One usage line: service, usage type, account, tag value ("" for none), cost.
type Line = (&'static str, &'static str, &'static str, &'static str, f64);

/// A table of `days` days from 2026-03-01, each with the lines (service, usage type,
/// account, tag value or "", cost) that `lines(day index)` gives, in all three usage
/// slices so that they agree.
fn days_table(days: i64, lines: impl Fn(i64) -> Vec<Line>) -> table::CostTable {
    table::normalise(&days_pages(days, lines)).unwrap()
}

/// The pages of `days_table`: the service, account and tag slices.
fn days_pages(days: i64, lines: impl Fn(i64) -> Vec<Line>) -> Vec<CostPage> {
    use RecordScope::*;
    let first = day("2026-03-01");
    let period = |i: i64| {
        DateInterval::builder()
            .start((first + chrono::Days::new(i as u64)).to_string())
            .end((first + chrono::Days::new(i as u64 + 1)).to_string())
            .build()
            .unwrap()
    };
    let slice =
        |scope: RecordScope, defs: [(&str, &str); 2], key: &dyn Fn(&Line) -> (String, String)| {
            let mut output = GetCostAndUsageOutput::builder();
            for i in 0..days {
                let mut result = ResultByTime::builder()
                    .time_period(period(i))
                    .estimated(false);
                let mut merged: BTreeMap<(String, String), f64> = BTreeMap::new();
                for l in lines(i) {
                    *merged.entry(key(&l)).or_default() += l.4;
                }
                for ((a, b), cost) in merged {
                    result = result.groups(
                        Group::builder()
                            .keys(a)
                            .keys(b)
                            .set_metrics(Some(metric(cost)))
                            .build(),
                    );
                }
                output = output.results_by_time(result.build());
            }
            finish_page(output, scope, defs)
        };
    let ut = ("DIMENSION", "USAGE_TYPE");
    let pages = vec![
        slice(Usage, [("DIMENSION", "SERVICE"), ut], &|l| {
            (l.0.to_string(), l.1.to_string())
        }),
        slice(Usage, [("DIMENSION", "LINKED_ACCOUNT"), ut], &|l| {
            (l.2.to_string(), l.1.to_string())
        }),
        slice(Usage, [("TAG", "workload"), ut], &|l| {
            (format!("workload${}", l.3), l.1.to_string())
        }),
    ];
    pages
}

/// `page` with only its days in `[from, to)`.
fn days_within(page: &CostPage, from: NaiveDate, to: NaiveDate) -> CostPage {
    let results: Vec<ResultByTime> = page
        .output
        .results_by_time()
        .iter()
        .filter(|r| {
            let d = day(r.time_period().unwrap().start());
            from <= d && d < to
        })
        .cloned()
        .collect();
    CostPage {
        query: page.query.clone(),
        file: page.file.clone(),
        scope: page.scope,
        output: GetCostAndUsageOutput::builder()
            .set_results_by_time(Some(results))
            .set_group_definitions(Some(page.output.group_definitions().to_vec()))
            .build(),
    }
}

/// Every row of a table as text, sorted: the same rows in any order compare equal.
fn rows(t: &table::CostTable) -> Vec<String> {
    let df = &t.df;
    let mut out: Vec<String> = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| match c.get(i).unwrap() {
                    polars::prelude::AnyValue::Float64(v) => format!("{v:.9}"),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_table_built_a_month_at_a_time_is_the_table_built_at_once() {
    // 75 days from 1 March over three months: Bedrock tagged `rag`, S3 split between two
    // accounts and two tags (approximated), EC2 untagged; and a credit each day.
    let mut pages = days_pages(75, |i| {
        vec![
            (
                "Amazon Bedrock Service",
                INPUT,
                "111111111111",
                "rag",
                100.0 + i as f64,
            ),
            (
                "Amazon Simple Storage Service",
                "TimedStorage-ByteHrs",
                "111111111111",
                "rag",
                6.0,
            ),
            (
                "Amazon Simple Storage Service",
                "TimedStorage-ByteHrs",
                "222222222222",
                "docs",
                4.0,
            ),
            (
                "Amazon Elastic Compute Cloud - Compute",
                EC2,
                "222222222222",
                "",
                200.0,
            ),
        ]
    });
    let mut credits = GetCostAndUsageOutput::builder();
    for i in 0..75u64 {
        let d = day("2026-03-01") + chrono::Days::new(i);
        credits = credits.results_by_time(
            ResultByTime::builder()
                .time_period(
                    DateInterval::builder()
                        .start(d.to_string())
                        .end(d.succ_opt().unwrap().to_string())
                        .build()
                        .unwrap(),
                )
                .estimated(i >= 70)
                .groups(
                    Group::builder()
                        .keys("Credit")
                        .keys("Amazon Bedrock Service")
                        .set_metrics(Some(metric(-50.0)))
                        .build(),
                )
                .build(),
        );
    }
    // Listed first, so that the whole table's rows are not in record-type order by luck.
    pages.insert(
        0,
        finish_page(
            credits,
            RecordScope::NotUsage,
            [("DIMENSION", "RECORD_TYPE"), ("DIMENSION", "SERVICE")],
        ),
    );
    let whole = table::normalise(&pages).unwrap();
    let mut builder = table::TableBuilder::default();
    for (from, to) in [
        ("2026-03-01", "2026-04-01"),
        ("2026-04-01", "2026-05-01"),
        ("2026-05-01", "2026-05-15"),
    ] {
        let month: Vec<CostPage> = pages
            .iter()
            .map(|p| days_within(p, day(from), day(to)))
            .collect();
        builder.add(&month).unwrap();
    }
    let monthly = builder.finish().unwrap();
    // A day: Bedrock, EC2, S3 in each of two accounts times two tags, and a credit.
    assert_eq!(monthly.df.height(), 75 * 7);
    assert_eq!(rows(&monthly), rows(&whole));
    assert_eq!(
        (monthly.first_day, monthly.last_day),
        (day("2026-03-01"), day("2026-05-14"))
    );
    assert_eq!(monthly.tag_keys, whole.tag_keys);
    // S3's $10 a day is split between two accounts and two tags.
    assert!(
        (whole.approximated_cost - 750.0).abs() < 1e-6,
        "{}",
        whole.approximated_cost
    );
    assert!((monthly.approximated_cost - whole.approximated_cost).abs() < 1e-6);
    // The usage lines come first, whatever order the pages came in: the analysis takes
    // them as a slice.
    for t in [&whole, &monthly] {
        assert_eq!(t.usage_rows, 75 * 6);
        let kinds: Vec<Option<&str>> =
            t.df.column(table::RECORD_TYPE)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .collect();
        assert!(kinds[..t.usage_rows].iter().all(|k| *k == Some("Usage")));
        assert!(kinds[t.usage_rows..].iter().all(|k| *k == Some("Credit")));
    }
}

const INPUT: &str = "USE1-Claude4.6Sonnet-input-tokens";
const OUTPUT: &str = "USE1-Claude4.6Sonnet-output-tokens";
const EC2: &str = "USE1-BoxUsage:c7g.large";

/// `days` days from 1 March: rag $100 a day on Bedrock (tagged), the platform $200 a day
/// on EC2 in its own account, untagged.
fn rag_and_platform(days: i64) -> table::CostTable {
    days_table(days, |_| {
        vec![
            (
                "Amazon Bedrock Service",
                INPUT,
                "111111111111",
                "rag",
                100.0,
            ),
            (
                "Amazon Elastic Compute Cloud - Compute",
                EC2,
                "222222222222",
                "",
                200.0,
            ),
        ]
    })
}

#[test]
fn breakdowns_summed_by_line_match_the_days_they_come_from() {
    // 40 days from 1 March, as of 9 April (the last 30 days: from 11 March, day 10).
    // rag: Sonnet input $100 a day, output $50 a day from day 20, and EC2 tagged rag
    // ($10 a day), which rag's services exclude. The platform: EC2 $200 a day.
    const EC2_SERVICE: &str = "Amazon Elastic Compute Cloud - Compute";
    let t = days_table(40, |d| {
        let mut lines = vec![
            (
                "Amazon Bedrock Service",
                INPUT,
                "111111111111",
                "rag",
                100.0,
            ),
            // Another usage type than the platform's, or the slices would be split in
            // proportion between them.
            (
                EC2_SERVICE,
                "USE1-BoxUsage:m7g.large",
                "111111111111",
                "rag",
                10.0,
            ),
            (EC2_SERVICE, EC2, "222222222222", "", 200.0),
        ];
        if d >= 20 {
            lines.push((
                "Amazon Bedrock Service",
                OUTPUT,
                "111111111111",
                "rag",
                50.0,
            ));
        }
        lines
    });
    let config =
        creditburn::config::parse(crate::support::SMALL_CONFIG, std::path::Path::new(".")).unwrap();
    let a = analysis::analyse(&t, &config, day("2026-04-09"), None, None).unwrap();
    let rag = a.workloads.iter().find(|w| w.name == "rag").unwrap();
    let platform = a.workloads.iter().find(|w| w.name == "platform").unwrap();
    // rag: 40 * 100 + 20 * 50 = 5,000; in the last 30 days 30 * 100 + 20 * 50 = 4,000.
    assert_eq!((rag.cost, rag.last_30_days), (5_000.0, 4_000.0));
    assert_eq!(rag.by_service.len(), 1);
    assert_eq!(
        (rag.by_service[0].cost, rag.by_service[0].last_30_days),
        (5_000.0, 4_000.0)
    );
    let kind = |k: &str| {
        rag.bedrock
            .iter()
            .find(|m| m.token_kind.as_str() == k)
            .unwrap()
    };
    assert_eq!(
        (kind("input").cost, kind("input").last_30_days),
        (4_000.0, 3_000.0)
    );
    assert_eq!(
        (kind("output").cost, kind("output").last_30_days),
        (1_000.0, 1_000.0)
    );
    // The EC2 tagged rag: excluded by rag's services, $400, $300 of it recent.
    assert_eq!(rag.excluded_by_services, 400.0);
    assert_eq!(rag.excluded_services[0].service, EC2_SERVICE);
    assert_eq!(rag.excluded_services[0].last_30_days, 300.0);
    assert_eq!((platform.cost, platform.last_30_days), (8_000.0, 6_000.0));
    assert_eq!((a.data.unattributed, a.data.usage_total), (400.0, 13_400.0));
    // The award draws rag's two Bedrock lines day by day: all 5,000 of them, and the
    // trailing burn is the last 14 days' $150 a day.
    assert_eq!(a.awards[0].consumed, 5_000.0);
    assert_eq!(a.awards[0].daily_burn, 150.0);
}

#[test]
fn a_poc_stacked_on_portfolio_is_drawn_first_and_eaten_by_the_platform_in_the_account_view() {
    // 40 days from 1 March: rag $100 a day on Bedrock (tagged), the platform $200 a day
    // on EC2 in its own account. The POC ($3,000, to 29 May) funds rag; Portfolio
    // ($50,000, to the end of 2027) funds rag and the platform.
    let t = rag_and_platform(40);
    let text = crate::support::SMALL_CONFIG.replacen(
        "amount = 25000",
        "amount = 3000",
        1,
    ) + "[[awards]]\nid = \"portfolio\"\nprogram = \"activate_portfolio\"\namount = 50000\nstart = \"2026-03-01\"\nexpiry = \"2027-12-31\"\nworkloads = [\"rag\", \"platform\"]\n";
    let config = creditburn::config::parse(&text, std::path::Path::new(".")).unwrap();
    let a = analysis::analyse(&t, &config, day("2026-04-09"), None, None).unwrap();
    let (poc, portfolio) = (&a.awards[0], &a.awards[1]);
    // Workload view: the POC expires first, so it pays rag's first 30 days ($3,000);
    // Portfolio pays the platform's 40 days and rag's last 10: $8,000 + $1,000.
    assert_eq!(
        (poc.consumed, poc.remaining, poc.status),
        (3_000.0, 0.0, Status::Exhausted)
    );
    assert_eq!(poc.projected_exhaustion_date, Some(day("2026-03-30")));
    assert_eq!(portfolio.consumed, 9_000.0);
    // Account view: the POC pays $300 a day of both and is empty after 10 days, $2,000
    // of it drawn by the platform.
    assert_eq!(poc.account_view.consumed, 3_000.0);
    assert_eq!(poc.account_view.drawn_by_others[0].workload, "platform");
    assert_eq!(poc.account_view.drawn_by_others[0].amount, 2_000.0);
    // Portfolio: $41,000 left at $300 a day lasts about 137 days, to about 24 August.
    let p50 = portfolio.projected_exhaustion_date.unwrap();
    assert!((p50 - day("2026-08-24")).num_days().abs() <= 2, "{p50}");
    let q = &portfolio.forecast.exhaustion_date;
    assert!(q.p10.unwrap() <= p50 && q.p90.is_none_or(|d| d >= p50));
    assert_eq!(portfolio.status, Status::ExhaustionRisk);
    // Nothing unpaid: the account starts paying when Portfolio runs out.
    assert_eq!(a.out_of_pocket.to_date, 0.0);
    let begins = a.out_of_pocket.begins.p50.unwrap();
    assert!((begins - p50).num_days().abs() <= 2, "{begins} vs {p50}");
}

#[test]
fn a_day_beyond_the_noise_raises_a_spike_alert_naming_what_moved_and_leaves_the_forecast() {
    // rag: $100 a day of input and $20 of output tokens for 60 days; on the last day an
    // evaluation run adds $900 of input tokens.
    let lines = |spike: Option<i64>| {
        move |i: i64| {
            let extra = if spike == Some(i) { 900.0 } else { 0.0 };
            // A little weekly wobble, so the series is not constant.
            let wobble = [0.0, 4.0, -3.0, 2.0, -5.0, 1.0, 1.0][(i % 7) as usize];
            vec![
                (
                    "Amazon Bedrock Service",
                    INPUT,
                    "111111111111",
                    "rag",
                    100.0 + wobble + extra,
                ),
                (
                    "Amazon Bedrock Service",
                    OUTPUT,
                    "111111111111",
                    "rag",
                    20.0,
                ),
            ]
        }
    };
    let config =
        creditburn::config::parse(crate::support::SMALL_CONFIG, std::path::Path::new(".")).unwrap();
    let as_of = day("2026-04-29");
    // The report with a spike on day `spike` (of 60), the last run as of `last_run`.
    let assess = |spike: Option<i64>, last_run: Option<NaiveDate>| {
        creditburn::analyse::report::assess(
            &days_table(60, lines(spike)),
            &config,
            as_of,
            None,
            last_run,
        )
        .unwrap()
    };
    let spike_alert = |report: &creditburn::analyse::report::Report| {
        report
            .alerts
            .iter()
            .find(|a| a.rule == creditburn::analyse::alerts::Rule::Spike)
            .cloned()
    };
    let calm = assess(None, None);
    let spiked = assess(Some(59), None);
    assert_eq!(spike_alert(&calm), None);
    let spike = spike_alert(&spiked).expect("a spike alert");
    assert_eq!(spike.award, "poc");
    assert!(
        spike
            .subject
            .starts_with("rag spent $1,022.00 on 2026-04-29"),
        "{}",
        spike.subject
    );
    // The input tokens moved by $900 plus the day's wobble against their 14-day mean.
    let w = &spiked.workloads[0];
    let movers = &w.spike.as_ref().unwrap().movers;
    assert_eq!(movers.len(), 1, "{movers:?}");
    assert_eq!(movers[0].usage_type, INPUT);
    assert!((movers[0].change - 900.0).abs() < 10.0, "{movers:?}");
    // The forecast is not moved by the one day: the projected unused balance differs by
    // about the $900 spent, not by weeks of a higher burn.
    let (c, s) = (&calm.awards[0], &spiked.awards[0]);
    let moved = c.projected_unused_at_expiry - s.projected_unused_at_expiry;
    assert!((moved - 900.0).abs() < 300.0, "moved by {moved}");
    // A spike two days before the last day of data (a missed run, or figures that
    // filled in late) is still caught, with its own date; the alert's level is the day,
    // so the same spike seen again is not news and a later one is.
    let old = spike_alert(&assess(Some(57), None)).expect("a spike alert for 2026-04-27");
    assert!(
        old.subject.starts_with("rag spent $1,024.00 on 2026-04-27"),
        "{}",
        old.subject
    );
    assert!(spike.level > old.level);
    // A spike five days back is past the usual look-back; when the last run's data
    // ended six days back (runs were missed) the days since are all checked, and it is
    // caught; so it is when that run saw the day itself, perhaps before it filled in.
    assert_eq!(spike_alert(&assess(Some(54), None)), None);
    assert_eq!(
        spike_alert(&assess(Some(54), Some(day("2026-04-28")))),
        None
    );
    let caught = spike_alert(&assess(Some(54), Some(day("2026-04-23"))))
        .expect("a spike alert for 2026-04-24");
    assert_eq!(
        spike_alert(&assess(Some(54), Some(day("2026-04-25")))).map(|a| a.level),
        Some(caught.level)
    );
    assert!(
        caught
            .subject
            .starts_with("rag spent $1,021.00 on 2026-04-24"),
        "{}",
        caught.subject
    );
}

#[test]
fn awards_aws_order_cannot_tell_apart_are_named_in_the_warnings() {
    // Two awards with the same start, expiry and services on different workloads: the
    // config accepts them (no workload is shared), but in the account view which pays
    // first is a guess, and the report says so.
    let t = rag_and_platform(10);
    let text = crate::support::SMALL_CONFIG.to_string()
        + "[[awards]]\nid = \"platform-credit\"\nprogram = \"other\"\namount = 1000\nstart = \"2026-03-01\"\nexpiry = \"2026-05-29\"\nworkloads = [\"platform\"]\n";
    let config = creditburn::config::parse(&text, std::path::Path::new(".")).unwrap();
    let a = analysis::analyse(&t, &config, day("2026-03-10"), None, None).unwrap();
    assert!(
        a.data
            .warnings
            .iter()
            .any(|w| w.contains("\"poc\" and \"platform-credit\"")
                && w.contains("the account view draws \"poc\" first")),
        "{:?}",
        a.data.warnings
    );
    // In the file's order, as warned: the POC pays all $3,000 of both workloads.
    assert_eq!(a.awards[0].account_view.consumed, 3_000.0);
    assert_eq!(a.awards[1].account_view.consumed, 0.0);
}

/// SMALL_CONFIG with the POC's amount line replaced by `award` (its tranches) and its
/// dates by `start` to `expiry`.
fn config_with_poc(award: &str, start: &str, expiry: &str) -> creditburn::config::Config {
    let text = crate::support::SMALL_CONFIG;
    for needle in [
        "amount = 25000",
        "start = \"2026-03-01\"",
        "expiry = \"2026-05-29\"",
    ] {
        assert!(text.contains(needle), "SMALL_CONFIG has {needle}");
    }
    let text = text
        .replace("amount = 25000", award)
        .replace("start = \"2026-03-01\"", &format!("start = \"{start}\""))
        .replace("expiry = \"2026-05-29\"", &format!("expiry = \"{expiry}\""));
    creditburn::config::parse(&text, std::path::Path::new(".")).unwrap_or_else(|p| panic!("{p:?}"))
}

#[test]
fn an_award_with_nothing_granted_yet_has_not_run_out() {
    // rag spends $100 a day from 1 March (30 days to 30 March). Its award starts on
    // 1 March but its only tranche, $5,000, comes on 15 April: by 30 March nothing is
    // granted, nothing is consumed, and it has not run out of anything. (Regression: it
    // read "exhausted", with a run-out date in the future.)
    let table = rag_and_platform(30);
    let config = config_with_poc(
        "tranches = [{ date = \"2026-04-15\", amount = 5000 }]",
        "2026-03-01",
        "2026-12-31",
    );
    let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
    let poc = &a.awards[0];
    assert_eq!(poc.consumed, 0.0);
    assert_ne!(poc.status, Status::Exhausted);
    // From 15 April it pays $100 a day: $5,000 lasts 50 days, to about 3 June, long
    // before its expiry: an exhaustion risk, dated after the tranche.
    assert_eq!(poc.status, Status::ExhaustionRisk);
    let d = poc.projected_exhaustion_date.unwrap();
    assert!((d - day("2026-06-03")).num_days().abs() <= 1, "{d}");
    let alerts = creditburn::analyse::alerts::decide(&a.awards, &config.alerts);
    assert!(
        alerts
            .iter()
            .all(|al| al.rule != creditburn::analyse::alerts::Rule::Exhausted),
        "{alerts:?}"
    );
}

#[test]
fn a_tranche_dated_as_of_counts_that_day_and_a_top_up_ahead_is_no_exhaustion() {
    // $1,000 on 1 March and $2,000 on 30 March (as of that day): by 30 March rag has
    // spent $3,000, all of it paid: $1,000 by 10 March, nothing from 11 to 29 March (out
    // of pocket, $1,900), and $100 on 30 March from the new tranche: $1,100 consumed.
    let table = rag_and_platform(30);
    let config = config_with_poc(
        "tranches = [{ date = \"2026-03-01\", amount = 1000 }, { date = \"2026-03-30\", amount = 2000 }]",
        "2026-03-01",
        "2026-12-31",
    );
    let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
    let poc = &a.awards[0];
    assert!((poc.consumed - 1_100.0).abs() < 1e-6, "{}", poc.consumed);
    assert!(
        (poc.out_of_pocket - 1_900.0).abs() < 1e-6,
        "{}",
        poc.out_of_pocket
    );
    // $1,900 left at $100 a day runs out on 18 April: not exhausted, at risk.
    assert_eq!(poc.status, Status::ExhaustionRisk);
    let d = poc.projected_exhaustion_date.unwrap();
    assert!((d - day("2026-04-18")).num_days().abs() <= 1, "{d}");
    // As of 29 March the first tranche is spent and the second is still to come: a
    // top-up ahead, so not exhausted either; it runs out 20 days after it arrives.
    let a = analysis::analyse(&table, &config, day("2026-03-29"), None, None).unwrap();
    let poc = &a.awards[0];
    assert!((poc.consumed - 1_000.0).abs() < 1e-6);
    assert_ne!(poc.status, Status::Exhausted);
    let d = poc.projected_exhaustion_date.unwrap();
    assert!((d - day("2026-04-18")).num_days().abs() <= 1, "{d}");
    // With no tranche to come, $1,000 spent by 10 March is exhausted, on that day.
    let config = config_with_poc("amount = 1000", "2026-03-01", "2026-12-31");
    let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
    assert_eq!(a.awards[0].status, Status::Exhausted);
    assert_eq!(
        a.awards[0].projected_exhaustion_date,
        Some(day("2026-03-10"))
    );
}

#[test]
fn an_award_older_than_the_data_is_flagged_with_its_missing_days_never_read_as_zero() {
    // The data starts on 1 March; the POC started on 1 February. Its 28 days of February
    // are not in the data: at rag's $100 a day they are likely about $2,800. Its
    // consumed ($3,000, March alone) is no figure to act on: no_data, naming the days.
    let table = rag_and_platform(30);
    let config = config_with_poc("amount = 25000", "2026-02-01", "2026-12-31");
    let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
    let poc = &a.awards[0];
    assert_eq!(poc.status, Status::NoData);
    assert!(poc.opening.is_none());
    assert!(
        poc.no_data_reasons[0].starts_with(
            "its days 2026-02-01 to 2026-02-28 (28 days) are not in the data, which starts on 2026-03-01"
        ) && poc.no_data_reasons[0].contains("likely about $2,800.00")
            && poc.no_data_reasons[0]
                .contains("consumed_before = { date = \"2026-03-01\", amount = ... }"),
        "{:?}",
        poc.no_data_reasons
    );
    assert!(
        a.data
            .warnings
            .iter()
            .any(|w| w.contains("2026-02-01 to 2026-02-28")),
        "{:?}",
        a.data.warnings
    );
    // An opening dated before the data still leaves days missing: 15 to 28 February.
    let config = config_with_poc(
        "amount = 25000\nconsumed_before = { date = \"2026-02-15\", amount = 1400 }",
        "2026-02-01",
        "2026-12-31",
    );
    let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
    assert_eq!(a.awards[0].status, Status::NoData);
    assert!(
        a.awards[0].no_data_reasons[0]
            .starts_with("its days 2026-02-15 to 2026-02-28 (14 days) are not in the data")
            && a.awards[0].no_data_reasons[0].contains("likely about $1,400.00"),
        "{:?}",
        a.awards[0].no_data_reasons
    );
}

#[test]
fn a_balance_brought_forward_counts_once_and_the_data_counts_from_its_day() {
    // $2,800 paid before 1 March (the data's first day), then rag's $100 a day for 30
    // days: $5,800 consumed of $25,000, $19,200 left; burning $100 a day it lasts 192
    // days, to about 8 October, long before its 31 December expiry.
    let table = rag_and_platform(30);
    // In the account view it pays the platform's $200 a day too.
    let expect = |opening: &str, date: &str, amount: f64, account: f64| {
        let config = config_with_poc(
            &format!("amount = 25000\n{opening}"),
            "2026-02-01",
            "2026-12-31",
        );
        let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
        let poc = &a.awards[0];
        assert!(poc.no_data_reasons.is_empty(), "{:?}", poc.no_data_reasons);
        assert!((poc.consumed - 5_800.0).abs() < 1e-6, "{}", poc.consumed);
        assert!((poc.remaining - 19_200.0).abs() < 1e-6, "{}", poc.remaining);
        assert!((poc.daily_burn - 100.0).abs() < 1e-6, "{}", poc.daily_burn);
        assert_eq!(poc.runway_days, Some(192.0));
        assert!(
            (poc.account_view.consumed - account).abs() < 1e-6,
            "{}",
            poc.account_view.consumed
        );
        assert_eq!(poc.status, Status::ExhaustionRisk);
        let d = poc.projected_exhaustion_date.unwrap();
        assert!((d - day("2026-10-08")).num_days().abs() <= 1, "{d}");
        let o = poc.opening.as_ref().unwrap();
        assert_eq!((o.date, o.amount, o.source), (day(date), amount, "config"));
    };
    expect(
        "consumed_before = { date = \"2026-03-01\", amount = 2800 }",
        "2026-03-01",
        2800.0,
        2_800.0 + 30.0 * 300.0,
    );
    // Dated inside the data: the data's days before it are in the opening, not counted
    // again ($3,800 by 11 March, then 20 days of $100).
    expect(
        "consumed_before = { date = \"2026-03-11\", amount = 3800 }",
        "2026-03-11",
        3800.0,
        3_800.0 + 20.0 * 300.0,
    );
}

#[test]
fn a_balance_brought_forward_that_cannot_be_is_refused_naming_the_key() {
    for (opening, says) in [
        (
            "{ date = \"2026-02-01\", amount = 10 }",
            "awards[\"poc\"].consumed_before.date: 2026-02-01 is not after the award's start 2026-02-01",
        ),
        (
            "{ date = \"2026-03-01\", amount = 25001 }",
            "awards[\"poc\"].consumed_before.amount: 25001 must be what the award had paid before 2026-03-01: from 0 to the 25000 granted by then",
        ),
        (
            "{ date = \"2026-03-01\", amount = nan }",
            "awards[\"poc\"].consumed_before.amount: NaN must be what the award had paid before 2026-03-01, 0 or more",
        ),
        (
            "{ date = \"2027-01-02\", amount = 10 }",
            "awards[\"poc\"].consumed_before.date: 2027-01-02 is after the day after expiry 2026-12-31",
        ),
        (
            "{ date = \"March\", amount = 10 }",
            "awards[\"poc\"].consumed_before.date: \"March\" is not a date",
        ),
    ] {
        let text = crate::support::SMALL_CONFIG
            .replace("amount = 25000", &format!("amount = 25000\nconsumed_before = {opening}"))
            .replace("start = \"2026-03-01\"", "start = \"2026-02-01\"")
            .replace("expiry = \"2026-05-29\"", "expiry = \"2026-12-31\"");
        let problems = creditburn::config::parse(&text, std::path::Path::new("."))
            .err()
            .map(|p| p.iter().map(|p| format!("{p}\n")).collect::<String>())
            .unwrap_or_default();
        assert!(problems.contains(says), "{opening}: {problems}");
    }
}

#[test]
fn the_verdict_at_and_around_its_slack_boundaries() {
    use creditburn::analyse::burn::verdict;
    let expiry = day("2026-12-31");
    // Slack 7: running out 8 days before expiry is a risk, 7 is on track.
    assert_eq!(
        verdict(Some(day("2026-12-23")), 0.0, 100.0, expiry, 7),
        Status::ExhaustionRisk
    );
    assert_eq!(
        verdict(Some(day("2026-12-24")), 0.0, 100.0, expiry, 7),
        Status::OnTrack
    );
    assert_eq!(
        verdict(Some(expiry), 0.0, 100.0, expiry, 7),
        Status::OnTrack
    );
    // Lasting to expiry at $100 a day: left over beyond 7 days' draw ($700) is a
    // forfeit risk; $700 exactly, or less, is on track.
    assert_eq!(verdict(None, 700.01, 100.0, expiry, 7), Status::ForfeitRisk);
    assert_eq!(verdict(None, 700.0, 100.0, expiry, 7), Status::OnTrack);
    assert_eq!(verdict(None, 699.99, 100.0, expiry, 7), Status::OnTrack);
    // Nothing drawn: any balance of a cent or more is forfeited; less is nothing.
    assert_eq!(verdict(None, 0.01, 0.0, expiry, 7), Status::ForfeitRisk);
    assert_eq!(verdict(None, 0.004, 0.0, expiry, 7), Status::OnTrack);
    // Slack 0: a day early is already a risk.
    assert_eq!(
        verdict(Some(day("2026-12-30")), 0.0, 100.0, expiry, 0),
        Status::ExhaustionRisk
    );
}

#[test]
fn the_reported_status_is_the_verdict_at_its_slack_boundaries() {
    // rag spends a flat $100 a day from 1 March; as of 30 March $3,000 is consumed. The
    // award expires on 31 December; slack is 7 days.
    let table = rag_and_platform(30);
    let status = |amount: f64| {
        let config = config_with_poc(&format!("amount = {amount}"), "2026-03-01", "2026-12-31");
        let a = analysis::analyse(&table, &config, day("2026-03-30"), None, None).unwrap();
        let poc = a.awards[0].clone();
        (
            poc.status,
            poc.projected_exhaustion_date,
            poc.projected_unused_at_expiry,
        )
    };
    // $26,800 left lasts 268 days from 31 March: it runs out on 23 December, 8 days
    // before expiry: a risk. $26,900 lasts to 24 December, 7 days before: on track.
    let (s, d, _) = status(29_800.0);
    assert_eq!((s, d), (Status::ExhaustionRisk, Some(day("2026-12-23"))));
    let (s, d, _) = status(29_900.0);
    assert_eq!((s, d), (Status::OnTrack, Some(day("2026-12-24"))));
    // 31 March to 31 December is 276 days: $27,600. $699 left over is under 7 days' draw,
    // on track; $701 is over it, a forfeit risk.
    let (s, d, unused) = status(3_000.0 + 27_600.0 + 699.0);
    assert_eq!((s, d), (Status::OnTrack, None));
    assert!((unused - 699.0).abs() < 0.01, "{unused}");
    let (s, _, unused) = status(3_000.0 + 27_600.0 + 701.0);
    assert_eq!(s, Status::ForfeitRisk);
    assert!((unused - 701.0).abs() < 0.01, "{unused}");
}

#[test]
fn a_status_whose_range_crosses_a_threshold_is_uncertain_and_alerts_at_most_a_warning() {
    // rag spends about $100 a day from 1 March, a five-day pattern of +-25% (no weekday
    // pattern to take out); as of 29 April its award, to 30 June, has 62 days to run:
    // about $6,000 spent and $6,200 to come. Swept across sizes around that, some put
    // the P50 on one side of a threshold and one end of the P10-P90 range on the other.
    let pattern = [1.25, 0.8, 1.1, 0.9, 0.95];
    let table = days_table(60, |i| {
        vec![(
            "Amazon Bedrock Service",
            INPUT,
            "111111111111",
            "rag",
            100.0 * pattern[(i % 5) as usize],
        )]
    });
    let as_of = day("2026-04-29");
    let assess = |amount: f64| {
        let config = config_with_poc(&format!("amount = {amount}"), "2026-03-01", "2026-06-30");
        let a = analysis::analyse(&table, &config, as_of, None, None).unwrap();
        (a.awards[0].clone(), config)
    };
    use creditburn::analyse::analysis::Confidence;
    let (mut uncertain_forfeit, mut uncertain_on_track) = (false, false);
    for step in 0..=40 {
        let (poc, _) = assess(11_000.0 + 100.0 * step as f64);
        // The other statuses the range reaches, and only when it reaches one.
        assert_eq!(
            poc.confidence == Confidence::Uncertain,
            !poc.range_reaches.is_empty(),
            "{poc:?}"
        );
        assert!(!poc.range_reaches.contains(&poc.status));
        if poc.confidence == Confidence::Uncertain {
            uncertain_forfeit |=
                poc.status == Status::ForfeitRisk && poc.range_reaches.contains(&Status::OnTrack);
            uncertain_on_track |= poc.status == Status::OnTrack;
        }
    }
    assert!(uncertain_forfeit && uncertain_on_track);
    // Far from every threshold the verdict is firm.
    let (short, _) = assess(8_000.0);
    assert_eq!(
        (short.status, short.confidence),
        (Status::ExhaustionRisk, Confidence::Firm)
    );
    let (long, _) = assess(20_000.0);
    assert_eq!(
        (long.status, long.confidence),
        (Status::ForfeitRisk, Confidence::Firm)
    );
    // An exhaustion more than 30 days early is critical when firm, a warning at most when
    // the range reaches on track; the subject says so.
    let (mut early, config) = assess(8_000.0);
    early.projected_exhaustion_date = Some(early.expiry_date - chrono::Days::new(40));
    let severity = |a: &creditburn::analyse::analysis::AwardStatus| {
        let alerts = creditburn::analyse::alerts::decide(std::slice::from_ref(a), &config.alerts);
        let risk = alerts
            .into_iter()
            .find(|al| al.rule == creditburn::analyse::alerts::Rule::ExhaustionRisk)
            .expect("an exhaustion alert");
        (risk.severity, risk.subject)
    };
    use creditburn::analyse::alerts::Severity;
    assert_eq!(severity(&early).0, Severity::Critical);
    early.confidence = Confidence::Uncertain;
    early.range_reaches = vec![Status::OnTrack];
    let (s, subject) = severity(&early);
    assert_eq!(s, Severity::Warning);
    assert!(
        subject.ends_with(", though the range reaches on track"),
        "{subject}"
    );
    // The JSON names it.
    let json = serde_json::to_value(&early).unwrap();
    assert_eq!(json["confidence"], "uncertain");
    assert_eq!(json["range_reaches"][0], "on_track");
}

#[test]
fn a_spike_its_movers_do_not_explain_says_so_and_one_under_the_floors_is_no_alert() {
    // rag: eight usage types at $25 a day each ($200), with a little weekly wobble; on
    // the last day every one of them doubles: $200 above the expected $200, spread
    // evenly, so the three biggest movers explain $75 of it, under half.
    let lines = |spike: Option<i64>, by: f64| {
        move |i: i64| {
            let wobble = [0.0, 0.4, -0.3, 0.2, -0.5, 0.1, 0.1][(i % 7) as usize];
            (0..8)
                .map(|k| {
                    let usage_type: &'static str = [
                        "UT-A", "UT-B", "UT-C", "UT-D", "UT-E", "UT-F", "UT-G", "UT-H",
                    ][k];
                    let cost = 25.0 + wobble + if spike == Some(i) { by } else { 0.0 };
                    (
                        "Amazon Bedrock Service",
                        usage_type,
                        "111111111111",
                        "rag",
                        cost,
                    )
                })
                .collect()
        }
    };
    let config =
        creditburn::config::parse(crate::support::SMALL_CONFIG, std::path::Path::new(".")).unwrap();
    let as_of = day("2026-04-29");
    let spike_alert = |spike: Option<i64>, by: f64| {
        creditburn::analyse::report::assess(
            &days_table(60, lines(spike, by)),
            &config,
            as_of,
            None,
            None,
        )
        .unwrap()
        .alerts
        .into_iter()
        .find(|a| a.rule == creditburn::analyse::alerts::Rule::Spike)
    };
    let alert = spike_alert(Some(59), 25.0).expect("a spike alert");
    assert!(
        alert
            .subject
            .contains("(the usage types that moved explain only $75."),
        "{}",
        alert.subject
    );
    // A jump of $5 a usage type ($40 in all, 20% of the day) is far beyond this calm
    // series' noise, but under both floors ($50, half the day): no alert.
    assert_eq!(spike_alert(Some(59), 5.0), None);
    assert_eq!(spike_alert(None, 0.0), None);
}
