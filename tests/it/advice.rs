//! Hints and alerts on hand-made figures, with the arithmetic worked out.

use chrono::NaiveDate;
use creditburn::analyse::alerts::{self, Severity};
use creditburn::analyse::analysis::{AwardStatus, ModelSpend, WorkloadSpend};
use creditburn::analyse::hints::{self, HintKind};
use creditburn::analyse::project::Status;
use creditburn::config::{AlertConfig, HintConfig, Program};
use creditburn::model::usage_type::TokenKind;

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
        not_covered: 0.0,
        workloads: vec!["eval".into()],
        no_data_reasons: vec![],
        credit: None,
        tranches: vec![],
        forecast: Default::default(),
        pace: Default::default(),
        account_view: Default::default(),
        projected_draw: Default::default(),
        daily: vec![],
    }
}

fn spend(model: &str, kind: TokenKind, batch: bool, marketplace: bool, last_30: f64) -> ModelSpend {
    ModelSpend {
        model: model.into(),
        token_kind: kind,
        batch,
        marketplace,
        cost: last_30,
        quantity: last_30 * 100.0,
        last_30_days: last_30,
        last_30_days_quantity: last_30 * 100.0,
    }
}

const HINTS: HintConfig = HintConfig {
    cacheable_share: Some(0.5),
    routine_share: Some(0.3),
    min_monthly_saving: 10.0,
    start_after_days: 7,
};

#[test]
fn hint_arithmetic() {
    use TokenKind::*;
    let workload = WorkloadSpend {
        name: "eval".into(),
        forecast_method: creditburn::analyse::forecast::Blend::of(
            creditburn::analyse::forecast::Method::Ets,
        ),
        spike: None,
        award: Some("poc".into()),
        interactive: false,
        cost: 1050.0,
        last_30_days: 1050.0,
        excluded_by_services: 0.0,
        excluded_services: vec![],
        by_service: vec![],
        bedrock: vec![
            spend("Claude4.6Sonnet", Input, false, false, 600.0),
            spend("Claude4.6Sonnet", Output, false, false, 300.0),
            spend("Claude4.6Sonnet", Input, true, false, 100.0),
            spend("Claude 3 Haiku", Input, false, true, 50.0),
        ],
    };
    // The award has $3,000 left at $100 a day: 30 days of runway.
    let awards = [award(Status::ExhaustionRisk, 3000.0, 100.0)];
    let got = hints::hints(&[workload], &awards, &HINTS);
    let found: Vec<(HintKind, f64, Option<f64>)> = got
        .iter()
        .map(|h| {
            (
                h.kind,
                (h.monthly_saving * 100.0).round() / 100.0,
                h.runway_days_gained,
            )
        })
        .collect();
    // Batch: on-demand, own-model input + output = 600 + 300 = 900; half is 450.
    //   450 / 30 = 15 a day off the burn: 3000 / 85 = 35.29 days, +5.3.
    // Caching: Sonnet input (600 + 100 batch) = 700 of its 1,000 token spend (70% >= 40%),
    //   no cache reads: 700 * 0.5 cacheable * (1 - 0.10) = 315. 10.5 a day: 3000 / 89.5
    //   = 33.52 days, +3.5.
    // Smaller tier: Sonnet to Haiku 4.5 at 1/3 of the price: 1000 * 0.3 * 2/3 = 200.
    //   6.67 a day: 3000 / 93.33 = 32.14 days, +2.1.
    // The Marketplace Haiku is priced by its seller: no hint.
    assert_eq!(
        found,
        [
            (HintKind::BatchInference, 450.0, Some(5.3)),
            (HintKind::PromptCaching, 315.0, Some(3.5)),
            (HintKind::SmallerModel, 200.0, Some(2.1)),
        ]
    );
}

#[test]
fn interactive_workloads_get_no_batch_hint_and_small_savings_are_dropped() {
    let workload = WorkloadSpend {
        name: "chat".into(),
        forecast_method: creditburn::analyse::forecast::Blend::of(
            creditburn::analyse::forecast::Method::Ets,
        ),
        spike: None,
        award: None,
        interactive: true,
        cost: 20.0,
        last_30_days: 20.0,
        excluded_by_services: 0.0,
        excluded_services: vec![],
        by_service: vec![],
        // Caching would save 20 * 0.5 * 0.75 = 7.5 < 10; Nova Lite to Micro 20 * 0.3 * 0.42 = 2.5.
        bedrock: vec![spend("NovaLite", TokenKind::Input, false, false, 20.0)],
    };
    assert!(hints::hints(&[workload], &[], &HINTS).is_empty());
}

#[test]
fn forfeit_risk_hint_pulls_work_forward() {
    let mut a = award(Status::ForfeitRisk, 9000.0, 50.0);
    a.projected_exhaustion_date = None;
    // 9,000 - 50 * 39 = 7,050 unused; 7,050 / 39 = 180.77 more a day uses it.
    a.projected_unused_at_expiry = 7050.0;
    let got = hints::hints(&[], &[a], &HINTS);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind, HintKind::PullWorkForward);
    assert_eq!(got[0].monthly_saving, 7050.0);
    assert!(got[0].text.contains("$180.77 a day"), "{}", got[0].text);
}

fn alert_config() -> AlertConfig {
    AlertConfig {
        recipients: vec!["f@example.com".into()],
        thresholds: vec![50.0, 75.0, 90.0],
        slack_days: 7,
        drift_tolerance_percent: 5.0,
        repeat_interval_hours: 24.0,
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
