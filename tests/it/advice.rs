//! Hints and alerts on hand-made figures, with the arithmetic worked out.

use chrono::NaiveDate;
use creditburn::analyse::alerts::{self, Severity};
use std::path::Path;

use creditburn::analyse::analysis::AwardStatus;
use creditburn::analyse::hints::HintKind;
use creditburn::analyse::levers;
use creditburn::analyse::project::Status;
use creditburn::analyse::tokens::{self, PriceCheck, UsageSpend};
use creditburn::config::{AlertConfig, Assumptions, Config, HintConfig, Program, Workload};
use creditburn::pricing::PriceTable;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn award(status: Status, remaining: f64, daily_burn: f64) -> AwardStatus {
    AwardStatus {
        id: "poc".into(),
        program: Program::BedrockPoc,
        amount: 25000.0,
        currency: "USD".into(),
        consumed: 25000.0 - remaining,
        remaining,
        out_of_pocket: 0.0,
        consumed_percent: ((25000.0 - remaining) / 250.0 * 10.0).round() / 10.0,
        start_date: day("2026-10-01"),
        expiry_date: day("2026-12-29"),
        daily_burn,
        daily_burn_range: (daily_burn, daily_burn),
        burn_window_days: 14,
        days_left: 39,
        runway_days: Some(remaining / daily_burn),
        projected_exhaustion_date: Some(day("2026-12-08")),
        projected_unused_at_expiry: 0.0,
        status,
        confidence: creditburn::analyse::analysis::Confidence::Firm,
        range_reaches: Vec::new(),
        not_covered: 0.0,
        workloads: vec!["eval".into()],
        no_data_reasons: vec![],
        credit: None,
        opening: None,
        tranches: vec![],
        forecast: Default::default(),
        pace: Default::default(),
        account_view: Default::default(),
        projected_draw: Default::default(),
        daily: vec![],
    }
}

/// A workload's Bedrock lines over the last 30 days: (service, usage type, cost, quantity
/// in the bill's unit).
fn bill(lines: &[(&str, &str, f64, f64)]) -> Vec<UsageSpend> {
    lines
        .iter()
        .map(|(service, usage_type, cost, quantity)| UsageSpend {
            service: service.to_string(),
            usage_type: usage_type.to_string(),
            last_30_days: *cost,
            last_30_days_quantity: *quantity,
        })
        .collect()
}

const NOVA: &str = "Amazon Bedrock";
const CLAUDE: &str = "Amazon Bedrock Service";

/// The levers of one model's lines, with what a workload assumes: not interactive (so
/// 100% batchable, 50% to 100%) or interactive, and the default ranges otherwise.
fn levers_of(lines: &[(&str, &str, f64, f64)], interactive: bool) -> Vec<levers::Lever> {
    let prices = PriceTable::shipped();
    let checks = tokens::check(&bill(lines), prices);
    let workload = workload_named("w", interactive, Assumptions::default());
    let ctx = levers::Context::of(&workload, &HINTS, prices);
    checks.iter().flat_map(|m| levers::all(&ctx, m)).collect()
}

fn workload_named(name: &str, interactive: bool, assumptions: Assumptions) -> Workload {
    let config = creditburn::config::parse(
        &format!(
            "{}\n[[workloads]]\nname = {name:?}\npriority = 3\ninteractive = {interactive}\nrules = [{{ tag = \"workload={name}\" }}]\n",
            crate::support::SMALL_CONFIG
        ),
        Path::new("."),
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    let mut w = config.workload(name).unwrap().clone();
    w.assumptions = assumptions;
    w
}

const HINTS: HintConfig = HintConfig {
    cacheable_share: None,
    routine_share: None,
    min_monthly_saving: 10.0,
    start_after_days: 7,
};

/// (kind, low, middle, high saving), rounded to cents.
fn savings(levers: &[levers::Lever]) -> Vec<(HintKind, f64, f64, f64)> {
    let c = |v: f64| (v * 100.0).round() / 100.0;
    let mut out: Vec<_> = levers
        .iter()
        .map(|l| {
            let s = l.saving();
            (l.kind, c(s.low), c(s.mid), c(s.high))
        })
        .collect();
    out.sort_by_key(|s| s.0);
    out
}

#[test]
fn batch_and_flex_on_nova_pro_for_work_nobody_waits_for() {
    // Nova Pro, standard tier: 10M input tokens (10,000 x 1K) at $0.80 = $8.00 and 1M
    // output at $3.20 = $3.20. Batch and Flex are both half price: (8.00 + 3.20) x 100%
    // batchable x (1 - 0.40 / 0.80) = $5.60; at the low end (50% batchable) $2.80.
    let got = levers_of(
        &[
            (NOVA, "USE1-NovaPro-input-tokens", 8.00, 10_000.0),
            (NOVA, "USE1-NovaPro-output-tokens", 3.20, 1_000.0),
        ],
        false,
    );
    let by_kind = savings(&got);
    assert!(
        by_kind.contains(&(HintKind::BatchInference, 2.8, 5.6, 5.6)),
        "{by_kind:?}"
    );
    assert!(
        by_kind.contains(&(HintKind::FlexTier, 2.8, 5.6, 5.6)),
        "{by_kind:?}"
    );
    // Batch and Flex are alternatives for the same tokens: together they save what one
    // does, not twice. The smaller model (Nova Lite, 30% routine: 1 - 0.06/0.80 = 1 -
    // 0.24/3.20 = 92.5% cheaper, so a share of 0.2775) and caching (Nova's writes are
    // free, a read 25% of input: at 4 reads per write a cached token costs 0.2 of input,
    // so half the input cached saves 0.4 of it) compose with them. The input line keeps
    // (1 - 0.5) x (1 - 0.2775) x (1 - 0.4) = 0.21675 of $8.00, the output line
    // (1 - 0.5) x (1 - 0.2775) = 0.36125 of $3.20: 6.266 + 2.044 = $8.31 saved.
    let combined = levers::combined(&got);
    assert!((combined.mid - 8.31).abs() < 1e-9, "{combined:?}");
    let sum: f64 = got.iter().map(|l| l.saving().mid).sum();
    assert!(combined.mid < sum);
    let batch = got
        .iter()
        .find(|l| l.kind == HintKind::BatchInference)
        .unwrap();
    assert_eq!(
        batch.arithmetic,
        "$8.00 of USE1-NovaPro-input-tokens x 100% x (1 - $0.40 / $0.80) + $3.20 of USE1-NovaPro-output-tokens x 100% x (1 - $1.60 / $3.20) = $5.60 a month (the last 30 days' tokens, prices per 1M tokens); at 50% and 100%: $2.80 to $5.60"
    );
    assert_eq!(
        batch.usage_types(),
        ["USE1-NovaPro-input-tokens", "USE1-NovaPro-output-tokens"]
    );
    assert!(batch
        .prices
        .iter()
        .any(|p| p.what == "NovaPro USE1 batch regional input" && p.per_million == 0.4));
    // Interactive, with no batchable share stated: neither batch nor Flex.
    let got = levers_of(&[(NOVA, "USE1-NovaPro-input-tokens", 8.00, 10_000.0)], true);
    assert!(!got
        .iter()
        .any(|l| matches!(l.kind, HintKind::BatchInference | HintKind::FlexTier)));
}

#[test]
fn premiums_paid_priority_latency_optimized_and_long_context() {
    // Priority on batch-shaped work: 1M Nova Pro input at $1.40; standard is $0.80:
    // 1.40 x 100% x (1 - 0.80 / 1.40) = $0.60.
    let got = levers_of(
        &[(NOVA, "USE1-NovaPro-input-tokens-priority", 1.40, 1_000.0)],
        false,
    );
    assert!(
        savings(&got).contains(&(HintKind::PriorityPremium, 0.3, 0.6, 0.6)),
        "{:?}",
        savings(&got)
    );
    // Latency-optimized on interactive work: 1M input at $1.00, standard $0.80; half the
    // calls assumed not to need it (0% to 100%): 1.00 x 50% x 0.2 = $0.10.
    let got = levers_of(
        &[(
            NOVA,
            "USE1-NovaPro-input-tokens-latency-optimized",
            1.00,
            1_000.0,
        )],
        true,
    );
    assert_eq!(savings(&got), [(HintKind::LatencyOptimized, 0.0, 0.1, 0.2)]);
    // Long context, Sonnet 4.5 on the global profile: 1M input at $6.00 against $3.00
    // standard; half the calls trimmable (25% to 75%): 6.00 x 50% x (1 - 3/6) = $1.50.
    let got = levers_of(
        &[(
            CLAUDE,
            "USE1-Claude4.5Sonnet-input-tokens-long-context-cross-region-global",
            6.00,
            1_000.0,
        )],
        true,
    );
    assert!(
        savings(&got).contains(&(HintKind::LongContext, 0.75, 1.5, 2.25)),
        "{:?}",
        savings(&got)
    );
}

#[test]
fn global_routing_smaller_and_newer_models_on_claude() {
    // Sonnet 4.6 in-region: 1M input at $3.30 and 0.2M output at $16.50 = $3.30.
    // Global is 1.1x cheaper: 6.60 x (1 - 3.00 / 3.30) = $0.60.
    // Caching (input is half its token dollars; no reuse on the bill, so 4 reads per
    // 5-minute write): 3.30 x 50% (25% to 75%) x (1 - (1.25 + 4 x 0.1) / 5) = $1.1055.
    // Haiku 4.5 in-region ($1.10 / $5.50) for the routine 30% (10% to 50%):
    // 3.30 x 0.3 x (1 - 1.10/3.30) + 3.30 x 0.3 x (1 - 5.50/16.50) = 0.66 + 0.66 = $1.32.
    let got = levers_of(
        &[
            (CLAUDE, "USE1-Claude4.6Sonnet-input-tokens", 3.30, 1_000.0),
            (CLAUDE, "USE1-Claude4.6Sonnet-output-tokens", 3.30, 200.0),
        ],
        true,
    );
    assert_eq!(
        savings(&got),
        [
            (HintKind::PromptCaching, 0.55, 1.11, 1.66),
            (HintKind::SmallerModel, 0.44, 1.32, 2.2),
            (HintKind::GlobalRouting, 0.6, 0.6, 0.6),
        ]
    );
    let global = got
        .iter()
        .find(|l| l.kind == HintKind::GlobalRouting)
        .unwrap();
    assert!(global
        .assumptions
        .iter()
        .any(|a| a.contains("may leave its geography")));
    // Opus 4.1 ($15 / $75, one price) to its successor Opus 4.5 in-region ($5.50 /
    // $27.50): 1M input ($15.00) and 0.1M output ($7.50) save 1 - 5.5/15 = 63.3% of
    // $22.50 = $14.25 with all the traffic moved, $7.13 with half.
    let got = levers_of(
        &[
            (CLAUDE, "USE1-Claude4.1Opus-input-tokens", 15.00, 1_000.0),
            (CLAUDE, "USE1-Claude4.1Opus-output-tokens", 7.50, 100.0),
        ],
        true,
    );
    let by_kind = savings(&got);
    assert!(
        by_kind.contains(&(HintKind::NewerModel, 7.13, 14.25, 14.25)),
        "{by_kind:?}"
    );
    // Sonnet 4 to Sonnet 4.5 costs the same: no newer_model hint.
    let got = levers_of(
        &[(CLAUDE, "USE1-Claude4Sonnet-input-tokens", 3.00, 1_000.0)],
        true,
    );
    assert!(!got.iter().any(|l| l.kind == HintKind::NewerModel));
}

#[test]
fn prompt_caching_from_the_bills_own_reuse() {
    // Sonnet 4.6 in-region: 10M uncached input at $3.30 = $33.00, 0.5M output $8.25,
    // 8M cache reads at $0.33 = $2.64, 2M 5-minute writes at $4.125 = $8.25. The bill
    // shows 4 reads per write; a cached token costs (1.25 + 4 x 0.1) / 5 = 0.33 of input,
    // so half the uncached input cached saves 33.00 x 50% x 0.67 = $11.055.
    let got = levers_of(
        &[
            (CLAUDE, "USE1-Claude4.6Sonnet-input-tokens", 33.00, 10_000.0),
            (CLAUDE, "USE1-Claude4.6Sonnet-output-tokens", 8.25, 500.0),
            (
                CLAUDE,
                "USE1-Claude4.6Sonnet-cache-read-input-token-count",
                2.64,
                8_000.0,
            ),
            (
                CLAUDE,
                "USE1-Claude4.6Sonnet-cache-write-input-token-count",
                8.25,
                2_000.0,
            ),
        ],
        true,
    );
    let caching = got
        .iter()
        .find(|l| l.kind == HintKind::PromptCaching)
        .unwrap();
    let s = caching.saving();
    assert!((s.mid - 11.055).abs() < 1e-9, "{s:?}");
    assert!(
        (s.low - 5.5275).abs() < 1e-9 && (s.high - 16.5825).abs() < 1e-9,
        "{s:?}"
    );
    assert!(
        caching
            .assumptions
            .iter()
            .any(|a| a.contains("read 4.0 times per write, as the bill shows")),
        "{:?}",
        caching.assumptions
    );
    assert!(caching
        .assumptions
        .iter()
        .any(|a| a.contains("at least 1024 tokens")));
    // Writes read less than once pay more than they save: a 1-hour write (2x) read 0.5
    // times per write (1M reads of 2M writes) needs 1.11: no caching hint.
    let got = levers_of(
        &[
            (CLAUDE, "USE1-Claude4.6Sonnet-input-tokens", 33.00, 10_000.0),
            (
                CLAUDE,
                "USE1-Claude4.6Sonnet-cache-read-input-token-count",
                0.33,
                1_000.0,
            ),
            (
                CLAUDE,
                "USE1-Claude4.6Sonnet-cache-write-input-token-count-1h",
                13.20,
                2_000.0,
            ),
        ],
        true,
    );
    assert!(!got.iter().any(|l| l.kind == HintKind::PromptCaching));
}

#[test]
fn provisioned_throughput_idle_and_against_on_demand() {
    // 10 model-unit hours of Nova Micro ($605.00), no tokens through them: all of it.
    let got = levers_of(
        &[(
            NOVA,
            "USE1-NovaMicro-ProvisionedThroughput-NoCommit-ModelUnits",
            605.00,
            10.0,
        )],
        true,
    );
    assert_eq!(
        savings(&got),
        [(HintKind::ProvisionedThroughput, 605.0, 605.0, 605.0)]
    );
    // 100M input tokens went through them (billed $0: not per token); on demand they
    // would have cost 100 x $0.035 = $3.50: $605.00 - $3.50 = $601.50.
    let got = levers_of(
        &[
            (
                NOVA,
                "USE1-NovaMicro-ProvisionedThroughput-NoCommit-ModelUnits",
                605.00,
                10.0,
            ),
            (NOVA, "USE1-NovaMicro-input-tokens", 0.0, 100_000.0),
        ],
        true,
    );
    let pt = got
        .iter()
        .find(|l| l.kind == HintKind::ProvisionedThroughput)
        .unwrap();
    assert!((pt.saving().mid - 601.5).abs() < 1e-9);
    assert!(
        pt.arithmetic.starts_with(
            "$605.00 of model-unit hours - $3.50 of the same tokens on demand = $601.50"
        ),
        "{}",
        pt.arithmetic
    );
}

#[test]
fn a_workload_no_lever_applies_to_gets_none() {
    // Titan embeddings, interactive: no batch, cache, global route, smaller or newer
    // model in the table.
    let got = levers_of(
        &[(
            NOVA,
            "USE1-TitanEmbeddingsV2-Text-input-tokens",
            2.00,
            100_000.0,
        )],
        true,
    );
    assert!(got.is_empty(), "{got:?}");
    // Unpriced lines give nothing either: no saving is guessed.
    let got = levers_of(
        &[(NOVA, "USE1-Mystery7B-input-tokens", 50.00, 1_000.0)],
        false,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_table_entry_in_the_wrong_unit_is_caught_and_the_hints_say_so() {
    // The table's own Nova Pro row, its unit wrongly "1M tokens": the bill's 10,000
    // (thousands of tokens) then reads as 10 billion tokens, $8,000 of list price for an
    // $8.00 bill. The price check says mismatch, and the hint says its figures rest on it.
    let mut prices = PriceTable::shipped().clone();
    let wrong = PriceTable::parse(
        r#"format = "creditburn-prices/1"
[[prices]]
bill_name = "NovaPro"
regions = ["USE1"]
unit = "1M tokens"
input = 0.80
output = 3.20
source = "a slip"
checked = "2026-12-01"
"#,
    )
    .unwrap();
    prices.layer(&wrong);
    let checks = tokens::check(
        &bill(&[(NOVA, "USE1-NovaPro-input-tokens", 8.00, 10_000.0)]),
        &prices,
    );
    assert_eq!(checks[0].price_check, PriceCheck::Mismatch);
    assert_eq!(checks[0].bill_vs_list_percent, Some(-99.9));
}

/// The demo organisation's config, parsed.
fn demo() -> (Config, creditburn::analyse::table::CostTable) {
    crate::support::demo()
}

#[test]
fn demo_hints_carry_their_arithmetic_prices_and_runway_effect() {
    let (config, table) = demo();
    let as_of = table.last_day;
    let report = creditburn::analyse::report::assess(&table, &config, as_of, None, None).unwrap();
    let kinds: Vec<HintKind> = report.hints.iter().map(|h| h.kind).collect();
    for k in [
        HintKind::PromptCaching,
        HintKind::SmallerModel,
        HintKind::GlobalRouting,
        HintKind::NewerModel,
        HintKind::BatchInference,
        HintKind::FlexTier,
        HintKind::PullWorkForward,
    ] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    for (i, h) in report.hints.iter().enumerate() {
        assert_eq!(h.number, i + 1);
        assert!(h.monthly_saving_range.low <= h.monthly_saving + 1e-9);
        assert!(
            h.monthly_saving <= h.monthly_saving_range.high + 1e-9,
            "{h:?}"
        );
        if h.kind != HintKind::PullWorkForward {
            assert!(
                !h.arithmetic.is_empty() && !h.prices.is_empty() && !h.usage_types.is_empty(),
                "{h:?}"
            );
            assert!(h.prices.iter().all(|p| !p.source.is_empty()));
        }
    }
    // Nova Pro is billed 20% under list: its hints say so.
    let nova: Vec<_> = report
        .hints
        .iter()
        .filter(|h| h.model_id.as_deref() == Some("nova-pro"))
        .collect();
    assert!(!nova.is_empty());
    for h in nova {
        assert_eq!(h.price_check, Some(PriceCheck::Mismatch));
        assert!(h.text.contains("your bill is 20% below list"), "{}", h.text);
    }
    // The POC runs out sooner than it expires, in its workload's view.
    let caching = report
        .hints
        .iter()
        .find(|h| {
            h.kind == HintKind::PromptCaching && h.workload.as_deref() == Some("support-assistant")
        })
        .unwrap();
    // But AWS has already drawn the POC to $0.00 for other spend: the hint promises no
    // days the invoice does not gain.
    assert_eq!(caching.runway_days_gained, None, "{caching:?}");
    assert!(!caching.text.contains("runs out"), "{}", caching.text);
    // bfs-docs is on course to be forfeited in its workload's view, but AWS has drawn it
    // to $0.00 for other spend: a saving there is real money, and no caveat says
    // otherwise.
    let newer = report
        .hints
        .iter()
        .find(|h| h.kind == HintKind::NewerModel)
        .unwrap();
    assert_eq!(newer.runway_days_gained, None);
    assert_eq!(newer.unused_at_expiry_change, Some(0.0));
    assert!(!newer.text.contains("forfeited"), "{}", newer.text);
    // Were AWS to leave it unused too, the saving would only grow the forfeit.
    let forfeited = hints_with_bfs_docs_forfeited_as_aws_draws_it(&config, &table);
    let newer = forfeited
        .hints
        .iter()
        .find(|h| h.kind == HintKind::NewerModel)
        .unwrap();
    assert!(newer.unused_at_expiry_change.unwrap() > 0.0);
    assert!(
        newer.text.contains("bfs-docs is on course to be forfeited"),
        "{}",
        newer.text
    );
    // Every workload with a lever has its combined saving, at most the sum of the parts.
    for w in &report.workloads {
        let parts: f64 = report
            .hints
            .iter()
            .filter(|h| {
                h.workload.as_deref() == Some(w.name.as_str())
                    && h.kind != HintKind::PullWorkForward
            })
            .map(|h| h.monthly_saving)
            .sum();
        if let Some(c) = &w.combined_saving {
            assert!(c.mid <= parts + 1e-6, "{}: {c:?} > {parts}", w.name);
        }
    }
}

#[test]
fn the_runway_drawn_for_one_workload_alone_is_the_models_own() {
    // With nothing cut, the projection of a workload's reach gives every award it
    // reaches the P50 the whole model gives it.
    let (config, table) = demo();
    let analysis =
        creditburn::analyse::analysis::analyse(&table, &config, table.last_day, None, None)
            .unwrap();
    for w in &config.workloads {
        let adjust = creditburn::analyse::burn::Adjust {
            workload: w.name.clone(),
            from: table.last_day + chrono::Days::new(1),
            cuts: Vec::new(),
        };
        let alone = analysis.projector.workload_p50(&adjust);
        for (a, o) in analysis.awards.iter().zip(alone) {
            if let Some(o) = o {
                assert_eq!(
                    o.exhaustion, a.forecast.exhaustion_date.p50,
                    "{} for {}",
                    a.id, w.name
                );
                assert!(
                    (o.unused_at_expiry - a.forecast.unused_at_expiry.p50).abs() < 1e-6,
                    "{} for {}",
                    a.id,
                    w.name
                );
            }
        }
    }
}

#[test]
fn what_if_on_a_stacked_pair_moves_the_poc_and_the_portfolio_behind_it() {
    use creditburn::analyse::burn::{self, Adjust, Spend};
    let d = |i: u64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i);
    // $100 a day of Bedrock for 60 days. The POC ($6,000, days 0-120) is stacked on
    // Portfolio ($20,000, days 0-364): the POC expires first, so it pays first.
    let spend = Spend::of_one("w", (0..60).map(|t| (d(t), 100.0)), None);
    let awards = [
        creditburn::config::Award::granted("poc", d(0), d(120), vec![(d(0), 6_000.0)], &["w"]),
        creditburn::config::Award::granted(
            "portfolio",
            d(0),
            d(364),
            vec![(d(0), 20_000.0)],
            &["w"],
        ),
    ];
    let model = burn::model(
        &spend,
        &awards,
        &Default::default(),
        creditburn::config::DrawdownOrder::Aws,
        d(59),
        None,
        burn::SpikeCheck::default(),
    );
    // The POC has $0 left after day 59 ($6,000 at $100 a day): it ran out on day 59.
    // Portfolio has paid nothing, and at $100 a day its $20,000 lasts 200 days: to day
    // 259. Halving the spend from day 60 makes it last 400 days: past its expiry (day
    // 364), with 20,000 - 305 x 50 = $4,750 left.
    let adjust = Adjust {
        workload: "w".into(),
        from: d(60),
        cuts: vec![("Amazon Bedrock".into(), false, 0.5)],
    };
    let r = creditburn::analyse::whatif::what_if(&model.projector, &lever(adjust)).unwrap();
    let portfolio = &r.awards[1];
    let before = portfolio.before.as_ref().unwrap();
    let p50 = before.exhaustion_date.p50.unwrap();
    assert!((p50 - d(259)).num_days().abs() <= 1, "{p50}");
    assert_eq!(portfolio.after.exhaustion_date.p50, None);
    assert!(
        (portfolio.after.unused_at_expiry.p50 - 4_750.0).abs() <= 100.0,
        "{:?}",
        portfolio.after
    );
    assert_eq!(before.unused_at_expiry.p50, 0.0);
    // The POC is spent either way.
    assert_eq!(
        r.awards[0].before.as_ref().unwrap().unused_at_expiry.p50,
        0.0
    );
    assert_eq!(r.awards[0].after.unused_at_expiry.p50, 0.0);
    // The account pays out of pocket from day 260 before; after, only from the day after
    // the last expiry (day 365), when no credit is left.
    let before = r.out_of_pocket_before.p50.unwrap();
    assert!((before - d(260)).num_days().abs() <= 1, "{before}");
    assert_eq!(r.out_of_pocket_after.p50, Some(d(365)));
}

#[test]
fn forfeit_risk_hint_pulls_work_forward_naming_who_absorbs_it() {
    let (config, table) = demo();
    let report = hints_with_bfs_docs_forfeited_as_aws_draws_it(&config, &table);
    let bfs = report
        .hints
        .iter()
        .find(|h| h.kind == HintKind::PullWorkForward && h.award.as_deref() == Some("bfs-docs"))
        .unwrap();
    // $4,536.23 unused over the 72 days to 2027-01-31: $63.00 a day.
    assert!(
        (bfs.monthly_saving - 4536.23).abs() < 0.005,
        "{}",
        bfs.monthly_saving
    );
    assert_eq!(bfs.workload, None);
    assert_eq!(bfs.absorbed_by.as_deref(), Some("document-pipeline"));
    assert!(
        bfs.text.contains("document-pipeline (not interactive"),
        "{}",
        bfs.text
    );
    assert!(bfs.text.contains("$63.00 a day"), "{}", bfs.text);
    assert_eq!(
        bfs.arithmetic,
        "$4,536.23 / 72 days left = $63.00 a day more"
    );
}

/// The demo's hints as they would be were AWS's balance of bfs-docs at expiry what its
/// workload leaves of it ($4,536.23; AWS has in fact drawn it to $0.00 for other spend).
fn hints_with_bfs_docs_forfeited_as_aws_draws_it(
    config: &creditburn::config::Config,
    table: &creditburn::analyse::table::CostTable,
) -> creditburn::analyse::hints::Advice {
    let mut analysis =
        creditburn::analyse::analysis::analyse(table, config, table.last_day, None, None).unwrap();
    let bfs = analysis
        .awards
        .iter_mut()
        .find(|a| a.id == "bfs-docs")
        .unwrap();
    bfs.account_view.unused_at_expiry = bfs.projected_unused_at_expiry;
    creditburn::analyse::hints::advise(
        &analysis.workloads,
        &analysis.awards,
        config,
        Some(&analysis.projector),
        table.last_day,
    )
}

fn alert_config() -> AlertConfig {
    AlertConfig {
        recipients: vec!["f@example.com".into()],
        thresholds: vec![50.0, 75.0, 90.0],
        slack_days: 7,
        drift_tolerance_percent: 5.0,
        repeat_interval_hours: 24.0,
        spike_min_amount: creditburn::config::SPIKE_MIN_AMOUNT,
        spike_min_share: creditburn::config::SPIKE_MIN_SHARE,
    }
}

#[test]
fn alerts_name_the_risk_and_the_highest_threshold_passed() {
    // 25,000 - 3,000 = 22,000 consumed: 88%, past 50 and 75 but not 90.
    let a = award(Status::ExhaustionRisk, 3000.0, 100.0);
    let got = alerts::decide(&[a], &alert_config());
    let rules: Vec<(&str, Severity, f64)> = got
        .iter()
        .map(|a| (a.rule.as_str(), a.severity, a.level))
        .collect();
    assert_eq!(
        rules,
        [
            ("exhaustion_risk", Severity::Warning, 0.0),
            ("consumed", Severity::Info, 75.0)
        ]
    );
    assert_eq!(
        got[0].subject,
        "POC award poc runs out on 2026-12-08, 21 days before it expires"
    );
    assert_eq!(
        got[1].subject,
        "POC award poc has used 75% of $25,000.00 ($22,000.00 consumed)"
    );
}

#[test]
fn on_track_below_thresholds_is_quiet() {
    let a = award(Status::OnTrack, 20000.0, 100.0); // 20% consumed
    assert!(alerts::decide(&[a], &alert_config()).is_empty());
}

#[test]
fn running_out_a_month_early_is_critical() {
    let mut a = award(Status::ExhaustionRisk, 3000.0, 100.0);
    a.projected_exhaustion_date = Some(day("2026-11-20")); // 39 days before expiry
    assert_eq!(
        alerts::decide(&[a], &alert_config())[0].severity,
        Severity::Critical
    );
}

#[test]
fn a_lever_does_not_cut_spend_already_made_that_is_still_arriving() {
    use creditburn::analyse::burn::{self, Adjust, Spend};
    let d = |i: u64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i);
    // $100 a day for 59 days, then $20 on day 59, which AWS marks estimated: about $80
    // of it is still to arrive, and the model counts it on day 60. $7,000 granted to day
    // 364 has $1,080 left after day 59.
    let spend = Spend::of_one(
        "w",
        (0..59).map(|t| (d(t), 100.0)).chain([(d(59), 20.0)]),
        Some(d(45)),
    );
    let awards = [creditburn::config::Award::granted(
        "a",
        d(0),
        d(364),
        vec![(d(0), 7_000.0)],
        &["w"],
    )];
    let model = burn::model(
        &spend,
        &awards,
        &Default::default(),
        creditburn::config::DrawdownOrder::Aws,
        d(59),
        None,
        burn::SpikeCheck::default(),
    );
    let more = model.still_arriving[0].expected_more;
    assert!((more - 80.0).abs() < 2.0, "{more}");
    // Cutting every dollar from day 60 leaves the $80 still owed for day 59: the award
    // keeps $1,080 less that, not all of it.
    let adjust = Adjust {
        workload: "w".into(),
        from: d(60),
        cuts: vec![("Amazon Bedrock".into(), false, 1.0)],
    };
    let r = creditburn::analyse::whatif::what_if(&model.projector, &lever(adjust)).unwrap();
    let unused = r.awards[0].after.unused_at_expiry.p50;
    assert!(
        (unused - (1_080.0 - more)).abs() < 0.01,
        "{unused} vs {}",
        1_080.0 - more
    );
}

#[test]
fn a_lever_starting_after_the_poc_runs_out_is_drawn_on_the_award_behind_it() {
    // The demo's POC runs out on 2026-12-06 (P50). A lever starting 20 days after
    // as-of (2026-12-10) saves the accelerator's money, not the POC's: the hint names
    // the accelerator, which is on course to be forfeited, so the saving leaves more of
    // it unused.
    let (mut config, table) = demo();
    config.hints.start_after_days = 20;
    let report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    let caching = report
        .hints
        .iter()
        .find(|h| {
            h.kind == HintKind::PromptCaching && h.workload.as_deref() == Some("support-assistant")
        })
        .unwrap();
    assert_eq!(caching.award.as_deref(), Some("accelerator"));
    assert_eq!(caching.runway_days_gained, None);
    assert!(
        caching.unused_at_expiry_change.unwrap() > 0.0,
        "{caching:?}"
    );
    assert!(
        caching
            .text
            .contains("accelerator is on course to be forfeited"),
        "{}",
        caching.text
    );
}

/// A what-if of one lever.
fn lever(adjust: creditburn::analyse::burn::Adjust) -> creditburn::analyse::whatif::Scenario {
    creditburn::analyse::whatif::Scenario {
        adjust: Some(adjust),
        ..Default::default()
    }
}
