//! Property tests: generated configs, recordings and projections. Never a panic, exit
//! codes from the README's table, and for data that is accepted, totals that add up.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use creditburn::analyse::project::Status;
use creditburn::analyse::project::{project, Inputs};
use creditburn::analyse::table::CostTable;
use creditburn::notify::state::{Event, EventKind};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{copy_recording, creditburn, demo_config, repo, SMALL_CONFIG};

/// The exit codes the README documents.
const EXIT_CODES: [i32; 11] = [0, 1, 2, 65, 66, 69, 73, 74, 75, 78, 101];

fn documented(code: Option<i32>) -> bool {
    code.is_some_and(|c| c != 101 && EXIT_CODES.contains(&c))
}

fn demo_table() -> &'static (creditburn::config::Config, CostTable) {
    static DEMO: OnceLock<(creditburn::config::Config, CostTable)> = OnceLock::new();
    DEMO.get_or_init(crate::support::demo)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Everything pure from a table to the emails: assess, render every award's alert email,
/// the digest and the charts. Returns the usage total, attributed and unattributed.
fn whole_pipeline(
    table: &CostTable,
    config: &creditburn::config::Config,
    as_of: NaiveDate,
) -> (f64, f64, f64) {
    let report = creditburn::analyse::report::assess(table, config, as_of, None, None).unwrap();
    let events: Vec<Event> = report
        .alerts
        .iter()
        .map(|a| Event {
            kind: EventKind::New,
            alert: a.clone(),
        })
        .collect();
    let now = as_of.and_hms_opt(8, 0, 0).unwrap().and_utc();
    creditburn::notify::email::render(&report, &events, now);
    creditburn::notify::email::render_digest(&report, &Default::default(), now);
    for a in &report.awards {
        creditburn::notify::chart::burn_down(a, as_of);
        assert!(a.projected_unused_at_expiry >= 0.0);
        assert!(a.projected_unused_at_expiry <= a.amount + 0.005, "{a:?}");
        if let Some(d) = a.projected_exhaustion_date {
            assert!(d <= a.expiry_date, "{a:?}");
        }
    }
    let d = &report.data;
    // The workloads' spend, each summed from its own lines, and the unattributed add up
    // to the table's usage rows summed one by one, apart from the analysis.
    let by_workload: f64 = report.workloads.iter().map(|w| w.cost).sum();
    let by_row = crate::support::table_usage_total(table, as_of);
    let tolerance = 1e-6 * by_row.abs().max(1.0);
    assert!(
        (d.usage_total - by_row).abs() <= tolerance,
        "usage total {} against the rows' {by_row}",
        d.usage_total
    );
    (by_row, by_workload, d.unattributed)
}

fn day_strategy() -> impl Strategy<Value = NaiveDate> {
    (0i64..4000)
        .prop_map(|n| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(n as u64))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The projection on any burn, tiny or huge, any window and slack the config allows.
    #[test]
    fn projection_never_panics_and_stays_in_bounds(
        amount in prop_oneof![Just(1e9), 0.01f64..1e9],
        start in day_strategy(),
        length in 0i64..3660,
        as_of_offset in -30i64..4000,
        spends in prop::collection::vec(prop_oneof![Just(0.0), 1e-12f64..1e-3, 0.0f64..1e7], 0..60),
        window in 1i64..=90,
        slack in 0i64..=365,
    ) {
        let expiry = start + chrono::Days::new(length as u64);
        let as_of = if as_of_offset < 0 {
            start - chrono::Days::new((-as_of_offset) as u64)
        } else {
            start + chrono::Days::new(as_of_offset as u64)
        };
        let daily: BTreeMap<NaiveDate, f64> = spends
            .iter()
            .enumerate()
            .map(|(i, v)| (start + chrono::Days::new(i as u64 * 3), *v))
            .collect();
        let inputs = Inputs { amount, start, expiry, daily: &daily, data_through: as_of, opening: None };
        let p = project(&inputs, as_of, window, slack);
        prop_assert!(p.unused_at_expiry >= 0.0 && p.unused_at_expiry <= amount);
        prop_assert!(p.daily_burn >= 0.0 && p.daily_burn.is_finite());
        if let Some(d) = p.exhaustion_date {
            prop_assert!(d <= expiry);
        }
        if p.status == Status::ForfeitRisk {
            prop_assert!(p.unused_at_expiry >= 0.0);
        }
    }
}

/// Numbers for every bounded key, in range and far out of it.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e300".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        (0u32..100_000).prop_map(|n| n.to_string()),
        (0.0f64..1e12).prop_map(|v| format!("{v:.4}")),
    ]
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("9223372036854775807".to_string()),
        (0i64..100_000).prop_map(|n| n.to_string()),
    ]
}

/// The small config with generated numbers and dates.
fn generated_config() -> impl Strategy<Value = String> {
    (
        number(),
        integer(),
        number(),
        number(),
        number(),
        integer(),
        integer(),
        (1990i32..2300, 1u32..13, 1u32..29),
        (0i64..5000),
        prop::collection::vec(number(), 0..4),
    )
        .prop_map(
            |(amount, slack, repeat, base, max, window, digest, (y, m, d), length, thresholds)| {
                let start = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                let expiry = start
                    .checked_add_days(chrono::Days::new(length as u64))
                    .unwrap_or(start);
                SMALL_CONFIG
                    .replace("amount = 25000", &format!("amount = {amount}"))
                    .replace(
                        "slack_days = 7",
                        &format!("slack_days = {slack}\nrepeat_interval_hours = {repeat}"),
                    )
                    .replace("thresholds = [50, 90]", &format!("thresholds = [{}]", thresholds.join(", ")))
                    .replace(
                        "outbox = \"outbox\"",
                        &format!(
                            "outbox = \"outbox\"\nretry_base_minutes = {base}\nretry_max_hours = {max}\ndigest_every_days = {digest}"
                        ),
                    )
                    .replace("start = \"2026-03-01\"", &format!("start = \"{start}\""))
                    .replace("expiry = \"2026-05-29\"", &format!("expiry = \"{expiry}\""))
                    + &format!("[analysis]\nburn_window_days = {window}\n")
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any generated config is refused with named problems or accepted; an accepted one
    /// runs the whole pure pipeline on the demo's table without a panic, and the
    /// workloads' spend plus the unattributed equals the table's rows summed one by one.
    #[test]
    fn generated_configs_never_panic(text in generated_config(), as_of in day_strategy()) {
        match creditburn::config::parse(&text, Path::new("/tmp/cb")) {
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    prop_assert!(!p.message.is_empty());
                }
            }
            Ok(config) => {
                let (_, table) = demo_table();
                let (total, by_workload, unattributed) = whole_pipeline(table, &config, as_of);
                prop_assert!(
                    (by_workload + unattributed - total).abs() <= 1e-6 * total.abs().max(1.0),
                    "{} + {} != {}", by_workload, unattributed, total
                );
            }
        }
    }
}

/// One way to damage a page of a recording.
#[derive(Debug, Clone)]
enum Mutation {
    Scale(f64),
    Negate,
    NullAmount,
    DropMetrics,
    DropGroup,
    DuplicateGroup,
    DuplicateDay,
    MoveDay(i64),
    EmptyDay,
    RenameKey,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop_oneof![Just(1e-9), Just(0.0), Just(1e9), 0.5f64..2.0].prop_map(Mutation::Scale),
        Just(Mutation::Negate),
        Just(Mutation::NullAmount),
        Just(Mutation::DropMetrics),
        Just(Mutation::DropGroup),
        Just(Mutation::DuplicateGroup),
        Just(Mutation::DuplicateDay),
        (-400i64..400).prop_map(Mutation::MoveDay),
        Just(Mutation::EmptyDay),
        Just(Mutation::RenameKey),
    ]
}

const PAGES: [&str; 6] = [
    "usage-by-service/page-001.json",
    "usage-by-service/page-003.json",
    "usage-by-account/page-002.json",
    "usage-by-tag-workload/page-001.json",
    "usage-by-tag-workload/page-004.json",
    "other-by-record-type/page-001.json",
];

fn apply(body: &mut Value, m: &Mutation, day_pick: usize, group_pick: usize) {
    let results = body["ResultsByTime"].as_array_mut().unwrap();
    let with_groups: Vec<usize> = (0..results.len())
        .filter(|&i| !results[i]["Groups"].as_array().unwrap().is_empty())
        .collect();
    let Some(&r) = with_groups.get(day_pick % with_groups.len().max(1)) else {
        return;
    };
    if let Mutation::DuplicateDay = m {
        let copy = results[r].clone();
        results.push(copy);
        return;
    }
    let result = &mut results[r];
    if let Mutation::MoveDay(by) = m {
        let start = result["TimePeriod"]["Start"].as_str().unwrap();
        let d = NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap();
        let moved = d + chrono::Duration::days(*by);
        result["TimePeriod"] = serde_json::json!({"Start": moved.to_string(), "End": moved.succ_opt().unwrap().to_string()});
        return;
    }
    if let Mutation::EmptyDay = m {
        result["Groups"] = serde_json::json!([]);
        return;
    }
    let groups = result["Groups"].as_array_mut().unwrap();
    let g = group_pick % groups.len();
    match m {
        Mutation::DropGroup => {
            groups.remove(g);
        }
        Mutation::DuplicateGroup => {
            let copy = groups[g].clone();
            groups.push(copy);
        }
        Mutation::RenameKey => {
            groups[g]["Keys"][1] = Value::from("USE1-Something-Else");
        }
        Mutation::DropMetrics => {
            groups[g].as_object_mut().unwrap().remove("Metrics");
        }
        Mutation::NullAmount => groups[g]["Metrics"]["UnblendedCost"]["Amount"] = Value::Null,
        Mutation::Scale(f) => scale(&mut groups[g], *f),
        Mutation::Negate => scale(&mut groups[g], -1.0),
        Mutation::DuplicateDay | Mutation::MoveDay(_) | Mutation::EmptyDay => {}
    }
}

fn scale(group: &mut Value, f: f64) {
    let cost = &mut group["Metrics"]["UnblendedCost"]["Amount"];
    let v: f64 = cost.as_str().unwrap().parse().unwrap();
    *cost = Value::from(format!("{}", v * f));
}

/// The usage total of the undamaged demo.
fn demo_total() -> f64 {
    static TOTAL: OnceLock<f64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        let (config, table) = demo_table();
        whole_pipeline(table, config, table.last_day).0
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A damaged recording is refused naming a file, or accepted with the same usage
    /// total to a cent (a damage too small to matter, or one outside usage); never a
    /// panic, never changed totals.
    #[test]
    fn damaged_recordings_are_refused_or_change_nothing(
        page in 0usize..PAGES.len(),
        m in mutation(),
        day_pick in 0usize..1000,
        group_pick in 0usize..1000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec");
        copy_recording(&repo().join("fixtures/demo"), &rec);
        let path = rec.join(PAGES[page]);
        let mut body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        apply(&mut body, &m, day_pick, group_pick);
        std::fs::write(&path, body.to_string()).unwrap();
        let pages = runtime().block_on(creditburn::source::recording::replay(&rec));
        let table = pages.map_err(|e| e.to_string()).and_then(|p| {
            creditburn::analyse::table::normalise(&p).map_err(|e| e.to_string())
        });
        match table {
            Err(message) => {
                prop_assert!(message.contains("rec"), "{message}");
                prop_assert!(message.len() < 600, "{message}");
            }
            Ok(table) => {
                let (config, _) = demo_table();
                let (total, by_workload, unattributed) =
                    whole_pipeline(&table, config, table.last_day.max(config.awards[0].start));
                prop_assert!((by_workload + unattributed - total).abs() <= 1e-6 * total.abs().max(1.0));
                prop_assert!(
                    (total - demo_total()).abs() <= 0.02,
                    "{m:?} on {} was accepted with total {total} instead of {}",
                    PAGES[page],
                    demo_total()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The binary on generated configs: an exit code from the README's table, never 101,
    /// and a refused config writes nothing.
    #[test]
    fn generated_configs_exit_with_documented_codes(text in generated_config()) {
        let dir = tempfile::tempdir().unwrap();
        let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
        // The small config's keys, on the demo recording.
        let text = text
            .replace("path = \"rec\"", &format!("path = {:?}", repo().join("fixtures/demo").display().to_string()))
            .replace("path = \"state\"", &format!("path = {:?}", dir.path().join("state").display().to_string()))
            .replace("outbox = \"outbox\"", &format!("outbox = {:?}", dir.path().join("outbox").display().to_string()));
        std::fs::write(&config, text).unwrap();
        let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(documented(out.status.code()), "{:?}: {err}", out.status.code());
        prop_assert!(!err.contains("panicked"), "{err}");
        if out.status.code() == Some(78) {
            prop_assert!(!dir.path().join("outbox").exists());
        }
    }
}

/// A credit for the drawdown properties: start offset, length, tranches, breadth.
fn credit_strategy() -> impl Strategy<Value = creditburn::analyse::drawdown::Credit> {
    (
        0i64..60,
        0i64..120,
        prop::collection::vec((0i64..120, prop_oneof![0.01f64..100.0, 1.0f64..1e6]), 1..4),
        prop::option::of(1usize..5),
    )
        .prop_map(|(start, len, tranches, breadth)| {
            let day0 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let start_day = day0 + chrono::Days::new(start as u64);
            let mut t: Vec<(NaiveDate, f64)> = tranches
                .into_iter()
                .map(|(d, a)| (start_day + chrono::Days::new(d.min(len) as u64), a))
                .collect();
            t.sort_by_key(|(d, _)| *d);
            creditburn::analyse::drawdown::Credit {
                start: start_day,
                expiry: start_day + chrono::Days::new(len as u64),
                tranches: t,
                breadth,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any credits, eligibility and spend: no dollar paid twice or lost (paid plus unpaid
    /// is the positive spend), no credit pays more than it was granted, and the balance
    /// never goes negative.
    #[test]
    fn the_drawdown_pays_each_dollar_once_and_never_beyond_a_grant(
        credits in prop::collection::vec(credit_strategy(), 1..5),
        eligible_bits in prop::collection::vec(any::<bool>(), 20),
        listed in any::<bool>(),
        days in prop::collection::vec(
            prop::collection::vec((0usize..4, prop_oneof![Just(0.0), -5.0f64..0.0, 0.0f64..1e5]), 0..6),
            0..200,
        ),
    ) {
        use creditburn::analyse::drawdown::{order, Ledger, Setup};
        let kinds = 4;
        let eligible: Vec<Vec<bool>> = (0..credits.len())
            .map(|c| (0..kinds).map(|k| eligible_bits[(c * kinds + k) % 20]).collect())
            .collect();
        let order_kind = if listed {
            creditburn::config::DrawdownOrder::Listed
        } else {
            creditburn::config::DrawdownOrder::Aws
        };
        let setup = Setup { credits: &credits, order: order(&credits, order_kind), eligible: &eligible };
        let mut l = Ledger::new(credits.len(), kinds);
        let day0 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut positive = 0.0;
        for (i, lines) in days.iter().enumerate() {
            let day = day0 + chrono::Days::new(i as u64);
            l.day(&setup, day, lines);
            positive += lines.iter().map(|(_, c)| c.max(0.0)).sum::<f64>();
            for (c, credit) in credits.iter().enumerate() {
                prop_assert!(l.drawn[c] <= credit.granted_by(day) + 1e-6 * credit.total().max(1.0));
                prop_assert!(l.balance(&setup, c, day) >= 0.0);
            }
        }
        let paid: f64 = l.drawn.iter().sum();
        let unpaid: f64 = l.unpaid.iter().sum();
        prop_assert!((paid + unpaid - positive).abs() <= 1e-6 * positive.max(1.0), "{paid} + {unpaid} != {positive}");
        let by_kind: f64 = l.by_kind.iter().flatten().sum();
        prop_assert!((by_kind - paid).abs() <= 1e-6 * paid.max(1.0));
    }

    /// Any history: the forecast's paths are finite, not negative, and ordered day by
    /// day and cumulatively (P10 <= P50 <= P90).
    #[test]
    fn the_forecast_paths_are_finite_and_ordered(
        history in prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..1e-3, 0.0f64..1e6], 0..120),
        horizon in 1usize..200,
    ) {
        let f = creditburn::analyse::forecast::forecast(&history, horizon);
        let (mut c10, mut c50, mut c90) = (0.0, 0.0, 0.0);
        for i in 0..horizon {
            for v in [f.p10[i], f.p50[i], f.p90[i]] {
                prop_assert!(v.is_finite() && v >= 0.0, "{v} in {f:?}");
            }
            prop_assert!(f.p10[i] <= f.p50[i] && f.p50[i] <= f.p90[i], "day {i} in {f:?}");
            c10 += f.p10[i];
            c50 += f.p50[i];
            c90 += f.p90[i];
            prop_assert!(c10 <= c50 * (1.0 + 1e-9) + 1e-9 && c50 <= c90 * (1.0 + 1e-9) + 1e-9);
        }
    }
}

/// Usage types across the three naming families, tiers, routes and kinds, with the price
/// per unit of the bill's quantity they are billed near.
const BILL_LINES: &[(&str, &str, f64)] = &[
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.6Sonnet-input-tokens",
        0.0033,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.6Sonnet-output-tokens",
        0.0165,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.6Sonnet-cache-read-input-token-count",
        0.00033,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.6Sonnet-cache-write-input-token-count",
        0.004125,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.6Sonnet-cache-write-input-token-count-1h",
        0.0066,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.5Sonnet-input-tokens-cross-region-global",
        0.003,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.5Sonnet-input-tokens-long-context",
        0.0066,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.1Opus-input-tokens",
        0.015,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.1Opus-output-tokens",
        0.075,
    ),
    (
        "Amazon Bedrock Service",
        "USE1-Claude4.5Haiku-input-tokens-batch",
        0.00055,
    ),
    ("Amazon Bedrock", "USE1-NovaPro-input-tokens", 0.0008),
    ("Amazon Bedrock", "USE1-NovaPro-output-tokens", 0.0032),
    (
        "Amazon Bedrock",
        "USE1-NovaPro-input-tokens-priority",
        0.0014,
    ),
    (
        "Amazon Bedrock",
        "USE1-NovaPro-input-tokens-latency-optimized",
        0.001,
    ),
    ("Amazon Bedrock", "USE1-NovaPro-input-tokens-flex", 0.0004),
    ("Amazon Bedrock", "USE1-NovaMicro-input-tokens", 0.000035),
    (
        "Amazon Bedrock",
        "USE1-NovaMicro-ProvisionedThroughput-NoCommit-ModelUnits",
        60.5,
    ),
    ("Amazon Bedrock", "USE1-Nova2.0Lite-input-tokens", 0.00033),
    (
        "Amazon Bedrock",
        "USE1-Nova2.0Lite-output-tokens-cross-region-global",
        0.0025,
    ),
    ("Amazon Bedrock", "USE1-Mystery7B-input-tokens", 0.001),
    (
        "Claude Sonnet 4.6 (Amazon Bedrock Edition)",
        "USE1-MP:USE1_InputTokenCount-Units",
        3.3,
    ),
    (
        "Claude Sonnet 4.6 (Amazon Bedrock Edition)",
        "USE1-MP:USE1_CacheReadInputTokenCount_Global-Units",
        0.3,
    ),
    (
        "Claude Opus 4.7 (Amazon Bedrock Edition)",
        "USE1-MP:USE1_output_tokens_standard-Units",
        27.5,
    ),
    (
        "Claude 3 Haiku (Amazon Bedrock Edition)",
        "USE1-MP:USE1_InputTokenCount-Units",
        0.25,
    ),
];

fn share_strategy() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        (0.0f64..=1.0).prop_map(Some),
        Just(Some(0.0)),
        Just(Some(1.0))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bill: every lever saves between 0 and the spend of the lines it acts on, its
    /// spread is in order, and all of a workload's levers together save at most the sum
    /// of the parts and at most what it spent.
    #[test]
    fn every_saving_is_within_the_spend_it_applies_to(
        lines in prop::collection::vec(
            (0..BILL_LINES.len(), 0.0f64..2_000_000.0, prop_oneof![Just(1.0), 0.5f64..1.5, Just(0.0)]),
            1..12,
        ),
        interactive in any::<bool>(),
        batchable in share_strategy(),
        cacheable in share_strategy(),
        routine in share_strategy(),
    ) {
        use creditburn::analyse::levers;
        let usage: Vec<creditburn::analyse::tokens::UsageSpend> = lines
            .iter()
            .map(|(i, quantity, factor)| {
                let (service, usage_type, per_unit) = BILL_LINES[*i];
                let quantity = if usage_type.ends_with("ModelUnits") { quantity / 10_000.0 } else { *quantity };
                creditburn::analyse::tokens::UsageSpend {
                    service: service.into(),
                    usage_type: usage_type.into(),
                    last_30_days: quantity * per_unit * factor,
                    last_30_days_quantity: quantity,
                }
            })
            .collect();
        let prices = creditburn::pricing::PriceTable::shipped();
        let checks = creditburn::analyse::tokens::check(&usage, prices);
        let mut workload = demo_table().0.workloads[0].clone();
        workload.interactive = interactive;
        workload.assumptions = creditburn::config::Assumptions {
            batchable_share: batchable,
            cacheable_share: cacheable,
            routine_share: routine,
        };
        let hints = creditburn::config::HintConfig {
            cacheable_share: None,
            routine_share: None,
            min_monthly_saving: 0.0,
            start_after_days: 7,
        };
        let ctx = levers::Context::of(&workload, &hints, prices);
        let all: Vec<levers::Lever> = checks.iter().flat_map(|m| levers::all(&ctx, m)).collect();
        let spent: f64 = usage.iter().map(|u| u.last_30_days).sum();
        for l in &all {
            let s = l.saving();
            let applies_to: f64 = l.cuts.iter().map(|c| c.cost).sum();
            prop_assert!(s.low >= 0.0 && s.low <= s.mid + 1e-9 && s.mid <= s.high + 1e-9, "{l:?}");
            prop_assert!(s.high <= applies_to * (1.0 + 1e-12) + 1e-9, "{:?} saves {s:?} of {applies_to}", l.kind);
            for c in &l.cuts {
                prop_assert!(c.rate.iter().all(|r| (0.0..=1.0).contains(r)), "{c:?}");
            }
        }
        let combined = levers::combined(&all);
        let parts = |f: fn(&levers::Saving) -> f64| all.iter().map(|l| f(&l.saving())).sum::<f64>();
        prop_assert!(combined.mid <= parts(|s| s.mid) * (1.0 + 1e-12) + 1e-9, "{combined:?}");
        prop_assert!(combined.high <= parts(|s| s.high) * (1.0 + 1e-12) + 1e-9);
        prop_assert!(combined.high <= spent * (1.0 + 1e-12) + 1e-9, "{combined:?} of {spent}");
        prop_assert!(combined.low >= 0.0);
    }
}

/// An award id: anything from the whole of Unicode up to 1,000 characters, or a short
/// one from a few characters that clean to the same (`x y`, `x_y`, `x.y`, `<x>`).
fn award_id() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 1..1000).prop_map(String::from_iter),
        "[xy _.<>é-]{1,4}",
    ]
    .prop_filter("an id is not blank", |s| !s.trim().is_empty())
}

/// A TOML string holding `text`, whatever it holds.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The Message-ID and name of each file in `dir`'s outbox.
fn outbox(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .map(|e| {
            let path = e.unwrap().path();
            let eml = std::fs::read_to_string(&path).unwrap();
            let id = eml
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap_or_else(|| panic!("{} has no Message-ID", path.display()))
                .to_string();
            (id, path.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

/// RFC 5322's msg-id: `<` dot-atom-text `@` dot-atom-text `>`.
fn valid_message_id(id: &str) -> bool {
    let Some((left, right)) = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .and_then(|i| i.split_once('@'))
    else {
        return false;
    };
    [left, right].iter().all(|part| {
        !part.is_empty()
            && !part.starts_with('.')
            && !part.ends_with('.')
            && !part.contains("..")
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// Whatever the awards are called, every message the run queues reaches a file of its
    /// own exactly once: the demo's five messages are five files with five valid,
    /// different Message-IDs and names a filesystem takes, and the next run writes none
    /// again.
    #[test]
    fn every_queued_message_reaches_its_own_file_exactly_once(
        ids in proptest::collection::vec(award_id(), 5)
            .prop_filter("the ids differ, and none is the account's key", |ids| {
                let mut seen = std::collections::BTreeSet::new();
                ids.iter().all(|i| i != "account" && seen.insert(i.clone()))
            }),
    ) {
        use crate::harness::Edit;
        let dir = tempfile::tempdir().unwrap();
        let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
        let mut text = std::fs::read_to_string(&config).unwrap();
        for (from, to) in ["poc-support", "accelerator", "bfs-docs", "founders", "portfolio"]
            .iter()
            .zip(&ids)
        {
            text = text.edited_once(&format!("id = \"{from}\""), &format!("id = {}", toml_string(to)));
        }
        std::fs::write(&config, text).unwrap();
        let run = |now: &str| creditburn(&["run", "--now", now, "--config", config.to_str().unwrap()]);
        let out = run("2026-11-21T08:00:00Z");
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(out.status.success(), "{:?}: {err}", out.status.code());
        prop_assert!(err.contains("queued 14, sent 14"), "{err}");
        let files = outbox(dir.path());
        prop_assert_eq!(files.len(), 7, "{:?}", files);
        let mut message_ids: Vec<&String> = files.iter().map(|(id, _)| id).collect();
        message_ids.dedup();
        prop_assert_eq!(message_ids.len(), 7, "{:?}", files);
        for (id, name) in &files {
            prop_assert!(valid_message_id(id), "{id}");
            prop_assert!(name.len() <= 255 && !name.contains('/'), "{name}");
        }
        // The next run has nothing new to say: no message is written twice.
        let out = run("2026-11-21T09:00:00Z");
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        prop_assert_eq!(outbox(dir.path()), files);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The accelerator granted in tranches dated around as-of (before it, on it, after
    /// it), of any size: no award reads exhausted without having consumed something it
    /// was granted, none consumes more than it was granted by as-of, and none has a
    /// negative balance.
    #[test]
    fn no_award_is_exhausted_without_consumption(
        back in 0u64..6,
        tranches in proptest::collection::vec(
            (-3i64..=3, prop_oneof![Just(0.01), Just(1.0), Just(500.0), Just(100_000.0)]),
            1..4,
        ),
    ) {
        use crate::harness::Edit;
        let (_, table) = demo_table();
        let as_of = table.last_day - chrono::Days::new(back);
        let dated: Vec<(NaiveDate, f64)> = tranches
            .iter()
            .map(|(offset, amount)| (as_of + chrono::Duration::days(*offset), *amount))
            .collect();
        let start = dated.iter().map(|(d, _)| *d).min().unwrap();
        let list: Vec<String> = dated
            .iter()
            .map(|(d, a)| format!("{{ date = \"{d}\", amount = {a} }}"))
            .collect();
        let text = std::fs::read_to_string(repo().join("config/example.toml"))
            .unwrap()
            .edited_once("start = \"2026-11-15\"", &format!("start = \"{start}\""))
            .edited_once(
                "tranches = [\n  { date = \"2026-11-15\", amount = 100000 },\n  { date = \"2027-01-14\", amount = 100000 },\n  { date = \"2027-03-15\", amount = 100000 },\n]",
                &format!("tranches = [{}]", list.join(", ")),
            );
        let config = creditburn::config::parse(&text, &repo().join("config"))
            .unwrap_or_else(|p| panic!("{p:?}"));
        let report = creditburn::analyse::report::assess(table, &config, as_of, None, None).unwrap();
        for a in &report.awards {
            let granted: f64 = a.tranches.iter().filter(|t| t.date <= as_of).map(|t| t.amount).sum();
            if a.status == Status::Exhausted {
                prop_assert!(granted > 0.0 && a.consumed >= 0.005, "{} exhausted: {a:?}", a.id);
            }
            prop_assert!(a.consumed <= granted + 0.005, "{}: {} of {granted}", a.id, a.consumed);
            prop_assert!(a.remaining >= 0.0);
        }
    }
}

/// One way to damage a recording's manifest: a query's exchanges listed again (under
/// its name or another), a query renamed, or dropped.
#[derive(Debug, Clone)]
enum Listing {
    Repeat,
    RepeatAs(&'static str),
    RenameTo(&'static str),
    Drop,
}

const QUERIES: [&str; 4] = [
    "usage-by-service",
    "usage-by-account",
    "usage-by-tag-workload",
    "other-by-record-type",
];

fn listing() -> impl Strategy<Value = Listing> {
    // The plan's names, and two it does not have.
    let mut names = QUERIES.to_vec();
    names.extend(["usage-by-service-again", "credits"]);
    let name = proptest::sample::select(names);
    prop_oneof![
        Just(Listing::Repeat),
        name.clone().prop_map(Listing::RepeatAs),
        name.prop_map(Listing::RenameTo),
        Just(Listing::Drop),
    ]
}

/// The usage total and the credits applied of a recording's report, or why it was
/// refused.
fn totals_of(rec: &Path) -> Result<(f64, f64), String> {
    let pages = runtime()
        .block_on(creditburn::source::recording::replay(rec))
        .map_err(|e| e.to_string())?;
    let table = creditburn::analyse::table::normalise(&pages).map_err(|e| e.to_string())?;
    let (config, _) = demo_table();
    let r = creditburn::analyse::report::assess(&table, config, table.last_day, None, None)
        .map_err(|e| e.to_string())?;
    Ok((r.data.usage_total, r.data.credits_applied))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A recording whose queries are listed again, renamed or missing is refused naming
    /// the recording, or read with the same usage and credits to a cent: never counted
    /// twice, never read as none.
    #[test]
    fn a_recording_with_queries_repeated_or_renamed_is_refused_or_changes_nothing(
        query in 0usize..QUERIES.len(),
        how in listing(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec");
        copy_recording(&repo().join("fixtures/demo"), &rec);
        let manifest = rec.join("recording.json");
        let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        let exchanges = m["exchanges"].as_array_mut().unwrap();
        let of_query: Vec<Value> = exchanges
            .iter()
            .filter(|e| e["query"] == QUERIES[query])
            .cloned()
            .collect();
        match &how {
            Listing::Repeat => exchanges.extend(of_query),
            Listing::RepeatAs(name) => exchanges.extend(of_query.into_iter().map(|mut e| {
                e["query"] = Value::from(*name);
                e
            })),
            Listing::RenameTo(name) => {
                for e in exchanges.iter_mut().filter(|e| e["query"] == QUERIES[query]) {
                    e["query"] = Value::from(*name);
                }
            }
            Listing::Drop => exchanges.retain(|e| e["query"] != QUERIES[query]),
        }
        std::fs::write(&manifest, m.to_string()).unwrap();
        let demo = totals_of(&repo().join("fixtures/demo")).unwrap();
        match totals_of(&rec) {
            Err(message) => {
                prop_assert!(message.contains("rec") || message.contains("recording"), "{message}");
                prop_assert!(message.len() < 600, "{message}");
            }
            Ok((usage, credits)) => {
                prop_assert!(
                    (usage - demo.0).abs() <= 0.02 && (credits - demo.1).abs() <= 0.02,
                    "{how:?} of {} was accepted with usage {usage} and credits {credits} instead of {:?}",
                    QUERIES[query],
                    demo
                );
            }
        }
    }
}
