//! `creditburn plan` and what-if's launches and awards, on worked numbers: a flat $100 a
//! day whose award runs out on a day one can count to.

use chrono::NaiveDate;
use creditburn::analyse::burn::{self, Launch, Spend};
use creditburn::analyse::plan;
use creditburn::config::{Config, Program};

fn d(i: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i)
}

/// One workload `w` on Bedrock, funded by an Activate Portfolio award of `amount` from
/// day 0 to day 364.
fn config(amount: f64) -> Config {
    parse(&config_text("", "activate_portfolio", amount, d(0), d(364)))
}

/// One workload `w`, funded by award "a" of `program` and `amount` from `start` to
/// `expiry`, with `plan` as the `[plan]` table's body.
fn config_text(
    plan: &str,
    program: &str,
    amount: f64,
    start: NaiveDate,
    expiry: NaiveDate,
) -> String {
    format!(
        r#"
[source]
kind = "fixtures"
path = "rec"
[state]
path = "state"
[email]
from = "creditburn <cb@example.com>"
outbox = "outbox"
[alerts]
recipients = ["finance@example.com"]
[plan]
{plan}
[[workloads]]
name = "w"
priority = 1
rules = [{{ tag = "workload=w" }}]
[[awards]]
id = "{}"
program = "{program}"
amount = {amount}
start = "{start}"
expiry = "{expiry}"
workloads = ["w"]
"#,
        program.trim_start_matches("activate_")
    )
}

fn parse(text: &str) -> Config {
    creditburn::config::parse(text, std::path::Path::new("."))
        .unwrap_or_else(|p| panic!("{p:?}\n{text}"))
}

/// $100 a day on `w` for days 0-59, drawn through the model with `config`'s awards.
fn model(config: &Config) -> burn::Model {
    let spend = Spend::of_one("w", (0..60).map(|t| (d(t), 100.0)), None);
    burn::model(
        &spend,
        &config.awards,
        &Default::default(),
        creditburn::config::DrawdownOrder::Aws,
        d(59),
        None,
        burn::SpikeCheck::default(),
    )
}

/// The plan's inputs as of day 59, without levers or Billing credits.
fn inputs<'a>(config: &'a Config, model: &'a burn::Model) -> plan::Inputs<'a> {
    plan::Inputs {
        config,
        projector: &model.projector,
        workloads: &[],
        credits: &[],
        as_of: d(59),
        levers: false,
    }
}

fn the_plan(config: &Config, model: &burn::Model) -> plan::Plan {
    plan::plan(&inputs(config, model))
}

#[test]
fn the_ask_the_date_and_the_stake_follow_from_a_known_out_of_pocket_date() {
    let config = config(9_000.0);
    let model = model(&config);
    // $6,000 of the $9,000 paid by day 59; $3,000 more at $100 a day lasts days 60-89,
    // so the account starts paying on day 90 (a flat series: every quantile agrees).
    assert_eq!(model.out_of_pocket.begins.p50, Some(d(90)));
    let p = the_plan(&config, &model);
    assert_eq!(p.out_of_pocket_begins.p50, Some(d(90)));
    let oop_p10 = p.out_of_pocket_begins.p10.unwrap();
    let find = |program: Program| {
        p.recommendations
            .iter()
            .find(|r| r.program == program)
            .unwrap_or_else(|| panic!("{program:?} in {:#?}", p))
    };
    // A POC for w: its usual 120 days from day 90 at $100 a day is $12,000, inside the
    // $10K-$50K band; apply 14 days before the P10 date; $1,400 is at stake (14 days).
    let poc = find(Program::BedrockPoc);
    assert_eq!(poc.workload.as_deref(), Some("w"));
    assert!((poc.need - 12_000.0).abs() < 0.01, "{poc:#?}");
    assert!((poc.amount - 12_000.0).abs() < 0.01);
    assert_eq!(poc.covers_from, d(90));
    assert_eq!(poc.covers_until, d(209));
    assert_eq!(poc.apply_by, oop_p10 - chrono::Days::new(14));
    assert!((poc.at_stake - 1_400.0).abs() < 0.01, "{poc:#?}");
    // Founders: 365 days would need $36,500; the ceiling of $5,000 covers 50 days.
    let founders = find(Program::ActivateFounders);
    assert!((founders.need - 36_500.0).abs() < 0.01, "{founders:#?}");
    assert_eq!(founders.amount, 5_000.0);
    assert_eq!(founders.covers_until, d(139));
    // The Accelerator's 90 days' lead time is already past: apply now, and what goes
    // unpaid until the credits land (day 59 + 90 = day 149) is at stake: days 90-148.
    let acc = find(Program::GenaiAccelerator);
    assert!(acc.apply_by < d(59));
    assert!((acc.at_stake - 5_900.0).abs() < 0.01, "{acc:#?}");
    assert_eq!(acc.amount, 200_000.0, "the band's floor");
    assert!(acc.reasons.iter().any(|r| r.contains("has passed")));
    // Portfolio is granted: it is not proposed again.
    assert!(p
        .recommendations
        .iter()
        .all(|r| r.program != Program::ActivatePortfolio));
    let why = p
        .not_proposed
        .iter()
        .find(|n| n.program == Program::ActivatePortfolio)
        .unwrap();
    assert!(
        why.why.contains("already granted (portfolio)"),
        "{}",
        why.why
    );
    // Soonest date first.
    assert!(p
        .recommendations
        .windows(2)
        .all(|w| w[0].apply_by <= w[1].apply_by));
    // The apply_by alert: Build for Startups (30 days' lead: day 60, a day away) and the
    // Accelerator (passed) are due within 14 days; the POC and Founders (day 76) are not.
    let alert = creditburn::analyse::alerts::apply_by(&p, 14).unwrap();
    assert_eq!(alert.level, 2.0);
    assert_eq!(
        alert.severity,
        creditburn::analyse::alerts::Severity::Critical
    );
    assert!(
        alert
            .subject
            .contains("Build for Startups for w for $25,000.00"),
        "{}",
        alert.subject
    );
    assert!(!alert.subject.contains("Bedrock POC"), "{}", alert.subject);
}

#[test]
fn a_poc_already_granted_for_the_workload_is_not_proposed_again() {
    let mut config = config(9_000.0);
    let mut poc = config.awards[0].clone();
    poc.id = "poc-w".into();
    poc.program = Program::BedrockPoc;
    poc.expiry = d(120);
    poc.tranches = vec![(d(0), 1.0)];
    poc.amount = 1.0;
    config.awards.push(poc);
    let model = model(&config);
    let p = the_plan(&config, &model);
    assert!(p
        .recommendations
        .iter()
        .all(|r| r.program != Program::BedrockPoc));
    assert!(p
        .not_proposed
        .iter()
        .any(|n| n.program == Program::BedrockPoc && n.why.contains("poc-w")));
}

#[test]
fn the_projection_adds_up_to_the_forecast_month_by_month() {
    let config = config(9_000.0);
    let model = model(&config);
    let rows = plan::projection(&inputs(&config, &model));
    let months = plan::months(&model.projector);
    assert_eq!(months.len(), 12);
    // The first month starts the day after the data (2 March) and runs to 31 March.
    assert_eq!((months[0].1, months[0].2), (d(60), d(89)));
    let mut lines = model.projector.spend_lines(1, &[]);
    for (month, from, to) in &months {
        let mut forecast = 0.0;
        let mut day = *from;
        while day <= *to {
            forecast += lines(day).iter().map(|(_, v)| v).sum::<f64>();
            day = day.succ_opt().unwrap();
        }
        let rows_sum: f64 = rows
            .iter()
            .filter(|r| &r.month == month)
            .map(|r| r.spend_p50)
            .sum();
        assert!(
            (rows_sum - forecast).abs() < 1e-6,
            "{month}: {rows_sum} vs {forecast}"
        );
    }
    // $100 a day: 30 days of March.
    let march: f64 = rows
        .iter()
        .filter(|r| r.month == "2026-03")
        .map(|r| r.spend_p50)
        .sum();
    assert!((march - 3_000.0).abs() < 0.01, "{march}");
}

#[test]
fn what_if_a_launch_and_a_new_award_on_a_stacked_pair() {
    // A POC of $6,000 (days 0-120) stacked on Portfolio's $20,000 (days 0-364), $100 a
    // day: the POC runs out on day 59, Portfolio lasts 200 days, to day 259.
    let mut config = config(20_000.0);
    let mut poc = config.awards[0].clone();
    poc.id = "poc".into();
    poc.program = Program::BedrockPoc;
    poc.expiry = d(120);
    poc.tranches = vec![(d(0), 6_000.0)];
    poc.amount = 6_000.0;
    config.awards.insert(0, poc);
    let model = model(&config);
    use creditburn::analyse::whatif::{what_if, Scenario};
    let launch = Launch {
        workload: "w".into(),
        from: d(60),
        daily: 100.0,
        service: "Amazon Bedrock".into(),
    };
    // The launch doubles the spend: Portfolio's $20,000 lasts 100 days, to day 159.
    let r = what_if(
        &model.projector,
        &Scenario {
            launches: vec![launch.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    let portfolio = &r.awards[1];
    assert_eq!(
        portfolio.before.as_ref().unwrap().exhaustion_date.p50,
        Some(d(259))
    );
    assert_eq!(portfolio.after.exhaustion_date.p50, Some(d(159)));
    assert_eq!(r.out_of_pocket_before.p50, Some(d(260)));
    assert_eq!(r.out_of_pocket_after.p50, Some(d(160)));
    // A new POC of $10,000 for days 60-180 expires before Portfolio, so AWS draws it
    // first: at $200 a day it lasts 50 days (to day 109), then Portfolio 100 (to 209).
    let mut new = creditburn::config::Award::granted(
        "new-poc",
        d(60),
        d(180),
        vec![(d(60), 10_000.0)],
        &["w"],
    );
    new.program = Program::BedrockPoc;
    let r = what_if(
        &model.projector,
        &Scenario {
            launches: vec![launch],
            awards: vec![new.clone()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.awards.len(), 3);
    assert_eq!(r.awards[2].award, "new-poc");
    assert!(r.awards[2].before.is_none());
    assert_eq!(r.awards[2].after.exhaustion_date.p50, Some(d(109)));
    assert_eq!(r.awards[1].after.exhaustion_date.p50, Some(d(209)));
    assert_eq!(r.out_of_pocket_after.p50, Some(d(210)));
    // Without the launch: $100 a day, the new POC lasts to day 159, Portfolio to 359.
    let r = what_if(
        &model.projector,
        &Scenario {
            awards: vec![new],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.awards[2].after.exhaustion_date.p50, Some(d(159)));
    assert_eq!(r.awards[1].after.exhaustion_date.p50, Some(d(359)));
    assert_eq!(r.out_of_pocket_after.p50, Some(d(360)));
    // An award that starts inside the data is refused, naming it.
    let early =
        creditburn::config::Award::granted("early", d(10), d(180), vec![(d(10), 1.0)], &["w"]);
    let err = what_if(
        &model.projector,
        &Scenario {
            awards: vec![early],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.contains("award \"early\" starts 2026-01-11"), "{err}");
}

#[test]
fn the_demo_poc_is_eaten_by_the_platform_as_aws_draws_it() {
    let (config, table) = crate::support::demo();
    let report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    let poc = report
        .awards
        .iter()
        .find(|a| a.id == "poc-support")
        .unwrap();
    // What the other workloads drew of it, and what its own workload did, make up the
    // whole $25,000: AWS's balance is gone while the workload view shows $10,892.26.
    let others: f64 = poc
        .account_view
        .drawn_by_others
        .iter()
        .map(|d| d.amount)
        .sum();
    assert!((others - 15_273.47).abs() < 0.01, "{others}");
    assert!(poc.account_view.remaining < 0.005);
    assert!((poc.remaining - 10_892.26).abs() < 0.01);
    let alert = report
        .alerts
        .iter()
        .find(|a| a.award == "poc-support" && a.rule.as_str() == "credit_drawn_by_others")
        .unwrap();
    assert_eq!(
        alert.severity,
        creditburn::analyse::alerts::Severity::Critical
    );
    assert!(
        alert
            .subject
            .contains("platform $12,110.98, document-pipeline $2,524.55"),
        "{}",
        alert.subject
    );
    assert!(
        alert.subject.contains("out of pocket from 2027-11-15"),
        "{}",
        alert.subject
    );
    // The account's own alert heads the list.
    assert_eq!(report.alerts[0].rule.as_str(), "out_of_pocket");
    assert_eq!(report.alerts[0].award, "account");
}

#[test]
fn what_is_forfeited_is_aws_balance_at_expiry_not_the_workload_view() {
    let (config, table) = crate::support::demo();
    let report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    let award = |id: &str| report.awards.iter().find(|a| a.id == id).unwrap();
    let alert = |id: &str, rule: &str| {
        report
            .alerts
            .iter()
            .find(|a| a.award == id && a.rule.as_str() == rule)
    };
    let pull_forward = |id: &str| {
        report.hints.iter().find(|h| {
            h.kind == creditburn::analyse::levers::HintKind::PullWorkForward
                && h.award.as_deref() == Some(id)
        })
    };
    // bfs-docs: its own workload leaves $4,536.23 at expiry, but AWS has already drawn
    // it to $0.00 for the platform: nothing will be forfeited, so no forfeit alert, no
    // advice to spend more on it, and a saving on its workload is not called wasted.
    let bfs = award("bfs-docs");
    assert_eq!(
        bfs.status,
        creditburn::analyse::project::Status::ForfeitRisk
    );
    assert!((bfs.projected_unused_at_expiry - 4_536.23).abs() < 0.01);
    assert!(bfs.account_view.unused_at_expiry < 0.005);
    assert!(alert("bfs-docs", "forfeit_risk").is_none());
    assert!(alert("bfs-docs", "credit_drawn_by_others").is_some());
    assert!(pull_forward("bfs-docs").is_none());
    for h in &report.hints {
        assert!(
            !h.text.contains("bfs-docs is on course to be forfeited"),
            "{}",
            h.text
        );
    }
    // The accelerator: AWS draws it for the whole account once Portfolio runs out, so
    // it forfeits $9,837.06, not the $54,995.63 its workloads leave; the alert and the
    // advice give AWS's figure and name the other.
    let acc = award("accelerator");
    assert!((acc.projected_unused_at_expiry - 54_995.63).abs() < 0.01);
    assert!((acc.account_view.unused_at_expiry - 9_837.06).abs() < 0.01);
    let forfeit = alert("accelerator", "forfeit_risk").unwrap();
    assert!(
        forfeit.subject.contains(
            "will leave $9,837.06 unused when it expires on 2027-11-14, as AWS draws it (its workloads' own figures leave $54,995.63)"
        ),
        "{}",
        forfeit.subject
    );
    let hint = pull_forward("accelerator").unwrap();
    assert!((hint.monthly_saving - 9_837.06).abs() < 0.01);
    assert!(
        hint.text
            .starts_with("$9,837.06 of award accelerator will be forfeited"),
        "{}",
        hint.text
    );
    // 359 days left: $9,837.06 / 359 = $27.40 a day.
    assert!(
        hint.text.ends_with("about $27.40 a day more"),
        "{}",
        hint.text
    );
}

#[test]
fn billing_credits_count_as_granted_by_the_words_of_their_description() {
    use plan::program_of_description as of;
    assert_eq!(
        of("AWS Activate Founders Credits"),
        Some(Program::ActivateFounders)
    );
    assert_eq!(
        of("AWS Activate - Portfolio (Acme Ventures)"),
        Some(Program::ActivatePortfolio)
    );
    assert_eq!(
        of("Generative AI Accelerator, tranche 2"),
        Some(Program::GenaiAccelerator)
    );
    assert_eq!(
        of("AWS Build for Startups credit"),
        Some(Program::BuildForStartups)
    );
    assert_eq!(
        of("Amazon Bedrock Proof of Concept"),
        Some(Program::BedrockPoc)
    );
    assert_eq!(of("Bedrock POC credits"), Some(Program::BedrockPoc));
    // Whole words only: a research credit for "Epoch" is no POC, and Free Tier or a
    // support credit names no program.
    assert_eq!(of("AWS Promotional Credit - Epoch AI research"), None);
    assert_eq!(of("AWS Free Tier"), None);
    assert_eq!(of(""), None);

    // A Founders credit and an Accelerator credit on the Billing API that no award
    // names: neither is proposed again; the research credit changes nothing.
    let config = config(9_000.0);
    let model = model(&config);
    let credit = |id: &str, description: &str| creditburn::model::credits::Credit {
        credit_id: id.into(),
        credit_type: "Promotion".into(),
        description: description.into(),
        currency: "USD".into(),
        initial_amount: 1_000.0,
        remaining_amount: 0.0,
        start_date: d(0),
        end_date: Some(d(364)),
        exhaust_date: None,
        applicable_products: Vec::new(),
        status: "ENABLED".into(),
    };
    let credits = [
        credit("111", "AWS Activate Founders Credits"),
        credit("222", "Generative AI Accelerator, tranche 1"),
        credit("333", "AWS Promotional Credit - Epoch AI research"),
    ];
    let p = plan::plan(&plan::Inputs {
        credits: &credits,
        ..inputs(&config, &model)
    });
    let proposed: Vec<Program> = p.recommendations.iter().map(|r| r.program).collect();
    assert_eq!(
        proposed,
        [Program::BuildForStartups, Program::BedrockPoc],
        "{p:#?}"
    );
    for (program, by) in [
        (
            Program::ActivateFounders,
            "credit 111: AWS Activate Founders Credits",
        ),
        (
            Program::GenaiAccelerator,
            "credit 222: Generative AI Accelerator, tranche 1",
        ),
    ] {
        let why = p
            .not_proposed
            .iter()
            .find(|n| n.program == program)
            .unwrap();
        assert!(why.why.contains(by), "{}", why.why);
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        // Any award before, around or after the data, any burn (gaps, zeros, spikes),
        // any lead time (past dates, longer than the projection) and alert window: the
        // plan never panics, every ask is inside its program's band, covers what it says
        // from no earlier than its date, and the stakes are finite dollars.
        #[test]
        fn plan_never_panics_and_its_asks_stay_in_their_bands(
            program in prop::sample::select(vec![
                "activate_portfolio", "bedrock_poc", "activate_founders", "build_for_startups",
                "genai_accelerator", "other",
            ]),
            amount in 1.0f64..400_000.0,
            start in 0u64..400,
            days in 1u64..900,
            leads in prop::array::uniform5(0i64..=365),
            alert_days_before in 0i64..120,
            daily in prop::collection::vec(
                prop_oneof![3 => 0.0f64..3_000.0, 1 => Just(0.0), 1 => 10_000.0f64..80_000.0],
                1..240,
            ),
        ) {
            let plan = format!(
                "alert_days_before = {alert_days_before}\nlead_days = {{ bedrock_poc = {}, activate_founders = {}, activate_portfolio = {}, build_for_startups = {}, genai_accelerator = {} }}",
                leads[0], leads[1], leads[2], leads[3], leads[4]
            );
            let config = parse(&config_text(&plan, program, amount, d(start), d(start + days)));
            let last = d(daily.len() as u64 - 1);
            let spend = Spend::of_one(
                "w",
                daily.iter().enumerate().map(|(i, v)| (d(i as u64), *v)),
                None,
            );
            let model = burn::model(
                &spend,
                &config.awards,
                &Default::default(),
                creditburn::config::DrawdownOrder::Aws,
                last,
                None,
                burn::SpikeCheck::default(),
            );
            let p = plan::plan(&plan::Inputs {
                config: &config,
                projector: &model.projector,
                workloads: &[],
                credits: &[],
                as_of: last,
                levers: false,
            });
            for r in &p.recommendations {
                let terms = r.program.terms().unwrap();
                prop_assert!(r.amount >= terms.min && r.amount <= terms.max, "{r:#?}");
                prop_assert!(r.amount_p90 >= terms.min && r.amount_p90 <= terms.max, "{r:#?}");
                prop_assert!(r.covers_from <= r.covers_until, "{r:#?}");
                prop_assert!(r.covers_until <= p.projected_until, "{r:#?}");
                prop_assert!(r.apply_by <= r.covers_from, "{r:#?}");
                prop_assert!(r.at_stake.is_finite() && r.at_stake >= 0.0, "{r:#?}");
                prop_assert!(r.need.is_finite() && r.need >= 0.0, "{r:#?}");
                prop_assert!(r.covers_from > last, "{r:#?}");
            }
            // The account's date, and the programs it proposes, never come before the data.
            if let Some(p50) = p.out_of_pocket_begins.p50 {
                prop_assert!(p50 > last);
            }
            let _ = creditburn::analyse::alerts::apply_by(&p, alert_days_before);
        }
    }
}
