//! Spikes worth an email: how often a history without a spike raises one, and how often
//! an injected one-day spike is caught.
//!
//! The histories are organisations of 20 workloads without a spike: each $40 to $800 a
//! day (log-uniform), 10% daily noise, a slow trend (-20% to +20% over the 150 days).
//! Every workload is checked as of each of its days 60 to 149, the day as the last day of
//! data (the check a daily run makes as it first sees the day), by the model's own
//! `burn::model` with the floors at zero; the bench then applies the floors, so it can
//! print the rate of days beyond the noise alone and of alerts. Detection: a one-day
//! spike of 2x, 3x or 10x injected into a fresh history on a day drawn from 60 to 149,
//! checked as of that day.

use creditburn::analyse::burn::{self, Spend, SpikeCheck};
use creditburn::config::DrawdownOrder;

use super::{day, Judge, Rng};

const WORKLOADS: usize = 20;
const DAYS: usize = 150;
const FIRST_CHECKED: usize = 60;

/// A history without a spike.
fn history(rng: &mut Rng) -> Vec<f64> {
    let level = rng.log_uniform(40.0, 800.0);
    let trend = rng.uniform(-0.2, 0.2);
    (0..DAYS)
        .map(|t| level * (1.0 + trend * t as f64 / DAYS as f64) * rng.noise(0.10))
        .collect()
}

/// The spike the model finds on the last day of `y` (floors at zero): (spend, expected,
/// threshold).
fn check_last(y: &[f64]) -> Option<(f64, f64, f64)> {
    let spend = Spend::of_one(
        "w",
        y.iter().enumerate().map(|(t, v)| (day(t as i64), *v)),
        None,
    );
    let model = burn::model(
        &spend,
        &[],
        &burn::Billing::default(),
        DrawdownOrder::Aws,
        day(y.len() as i64 - 1),
        None,
        SpikeCheck {
            days: 1,
            min_amount: 0.0,
            min_share: 0.0,
        },
    );
    model
        .spikes
        .first()
        .map(|s| (s.spend, s.expected, s.threshold))
}

pub fn measure(judge: &mut Judge, check: bool) {
    let orgs = if check { 1 } else { 3 };
    println!();
    println!(
        "== spikes: {orgs} organisation(s) of {WORKLOADS} workloads without a spike, days {FIRST_CHECKED}-{} checked; injected spikes",
        DAYS - 1
    );
    let floors = SpikeCheck::default();
    let mut rng = Rng(0x5EED_5EED_1234_5678);
    let (mut checked, mut beyond, mut alerts) = (0, 0, 0);
    let mut worst: Vec<String> = Vec::new();
    for _ in 0..orgs * WORKLOADS {
        let y = history(&mut rng);
        for end in FIRST_CHECKED..DAYS {
            checked += 1;
            if let Some((spend, expected, threshold)) = check_last(&y[..=end]) {
                beyond += 1;
                if floors.is_spike(spend, expected, threshold) {
                    alerts += 1;
                    worst.push(format!("${spend:.2} against ${expected:.2} expected"));
                }
            }
        }
    }
    let per_1000 = |n: usize| n as f64 / checked as f64 * 1000.0;
    println!(
        "workload-days checked {checked}: beyond the noise {beyond} ({:.2} per 1,000), alerts with the floors (${} and {:.0}% above expected) {alerts} ({:.2} per 1,000)",
        per_1000(beyond),
        floors.min_amount,
        floors.min_share * 100.0,
        per_1000(alerts)
    );
    for w in worst.iter().take(5) {
        println!("  false alert: {w}");
    }
    let injections = if check { 30 } else { 200 };
    let mut caught = Vec::new();
    for factor in [2.0, 3.0, 10.0] {
        let mut hit = 0;
        for _ in 0..injections {
            let mut y = history(&mut rng);
            let on = FIRST_CHECKED + (rng.next() * (DAYS - FIRST_CHECKED) as f64) as usize;
            y[on] *= factor;
            if let Some((spend, expected, threshold)) = check_last(&y[..=on]) {
                hit += usize::from(floors.is_spike(spend, expected, threshold));
            }
        }
        let rate = hit as f64 / injections as f64 * 100.0;
        println!("injected {factor}x spikes caught: {hit} of {injections} ({rate:.1}%)");
        caught.push((factor, rate));
    }
    judge.judge(
        "spikes beyond the noise",
        format!(
            "spikes: {:.2} workload-days in 1,000 beyond the noise without the floors (at most 1)",
            per_1000(beyond)
        ),
        per_1000(beyond) <= 1.0,
        true,
    );
    judge.judge(
        "spikes false alerts",
        format!(
            "spikes: {:.2} false alerts per 1,000 workload-days (at most 1)",
            per_1000(alerts)
        ),
        per_1000(alerts) <= 1.0,
        true,
    );
    let three = caught.iter().find(|c| c.0 == 3.0).map_or(0.0, |c| c.1);
    judge.judge(
        "spikes 3x caught",
        format!("spikes: {three:.1}% of 3x spikes caught (at least 95)"),
        three >= 95.0,
        true,
    );
}
