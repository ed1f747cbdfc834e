//! The drawn suite: burn histories drawn at random, with a seed, from parametrised
//! families, so the forecast is judged on histories nobody chose for it.
//!
//! Each history is one workload and one POC-sized award: the award runs 90 to 365 days
//! and starts 0 to 60 days into the data (a workload is often funded as it starts); the workload's level is $40 to $800 a day
//! (log-uniform); its daily noise 5% to 35%; a weekly pattern (weekends at 15% to 60%
//! of a weekday) on every `weekly` history and one in five of the others; one to three
//! one-day spikes (3x to 15x) on every `spikes` history and one in seven of the others.
//! The award is sized at 0.6 to 1.4 times the workload's expected spend over its period
//! (the shape without noise or spikes), so some run out and some are forfeited.

use super::{award, Rng, Scenario};

/// The families, drawn in turn so that each has as many histories as the others.
pub const FAMILIES: [&str; 10] = [
    "steady",
    "weekly",
    "linear_ramp",
    "exponential_ramp",
    "adoption",
    "launch",
    "launch_plateau",
    "decline",
    "relaunch",
    "spikes",
];

impl Rng {
    /// Uniform on [lo, hi).
    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }

    /// Log-uniform on [lo, hi).
    pub(super) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.uniform(lo.ln(), hi.ln()).exp()
    }
}

/// `count` histories drawn with `seed`.
pub fn drawn(seed: u64, count: usize) -> Vec<Scenario> {
    let mut rng =
        Rng(0xD1B5_4A32_D192_ED03 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1));
    // A few draws to mix a small seed through the state.
    for _ in 0..8 {
        rng.next();
    }
    (0..count).map(|i| one(&mut rng, i)).collect()
}

/// The shape of a family before noise: a function of the day, with its parameters drawn.
fn shape(rng: &mut Rng, family: &str, days: f64, level: f64) -> Box<dyn Fn(f64) -> f64> {
    match family {
        "steady" | "weekly" | "spikes" => Box::new(move |_| level),
        "linear_ramp" => {
            let growth = rng.uniform(1.5, 5.0);
            Box::new(move |t| level * (1.0 + (growth - 1.0) * t / days))
        }
        "exponential_ramp" => {
            let rate = rng.uniform(3.0f64.ln(), 30.0f64.ln()) / days;
            Box::new(move |t| level * (rate * t).exp())
        }
        "adoption" => {
            let low = level * rng.uniform(0.05, 0.3);
            let mid = days * rng.uniform(0.3, 0.8);
            let width = rng.uniform(7.0, 25.0);
            Box::new(move |t| low + (level - low) / (1.0 + (-(t - mid) / width).exp()))
        }
        "launch" => {
            let before = level * rng.uniform(0.1, 0.4);
            let on = days * rng.uniform(0.2, 0.8);
            Box::new(move |t| if t < on { before } else { level })
        }
        "launch_plateau" => {
            let before = level * rng.uniform(0.1, 0.3);
            let on = days * rng.uniform(0.2, 0.7);
            let ramp = rng.uniform(14.0, 45.0);
            Box::new(move |t| {
                if t < on {
                    before
                } else {
                    before + (level - before) * ((t - on) / ramp).min(1.0)
                }
            })
        }
        // Linear to a floor, or halving every 30 to 150 days.
        "decline" if rng.next() < 0.5 => {
            let floor = level * rng.uniform(0.1, 0.5);
            let until = days * rng.uniform(0.5, 1.2);
            Box::new(move |t| (level - (level - floor) * t / until).max(floor))
        }
        "decline" => {
            let rate = 2.0f64.ln() / rng.uniform(30.0, 150.0);
            Box::new(move |t| level * (-rate * t).exp())
        }
        "relaunch" => {
            let floor = level * rng.uniform(0.15, 0.4);
            let on = days * rng.uniform(0.3, 0.7);
            let after = level * rng.uniform(0.7, 1.5);
            Box::new(move |t| {
                if t < on {
                    level - (level - floor) * t / on
                } else {
                    after
                }
            })
        }
        _ => unreachable!("{family}"),
    }
}

fn one(rng: &mut Rng, i: usize) -> Scenario {
    let family = FAMILIES[i % FAMILIES.len()];
    let length = rng.uniform(90.0, 366.0) as i64;
    let start = rng.uniform(0.0, 61.0) as i64;
    let expiry = start + length - 1;
    let days = expiry as usize + 1;
    let level = rng.log_uniform(40.0, 800.0);
    let noise = rng.uniform(0.05, 0.35);
    let f = shape(rng, family, days as f64, level);
    let weekend = if family == "weekly" || rng.next() < 0.2 {
        rng.uniform(0.15, 0.6)
    } else {
        1.0
    };
    // Weekends are days 5 and 6 of each week; the first day of data is a Thursday.
    let expected: Vec<f64> = (0..days)
        .map(|t| f(t as f64) * if (t + 3) % 7 >= 5 { weekend } else { 1.0 })
        .collect();
    let mut y: Vec<f64> = expected.iter().map(|v| v * rng.noise(noise)).collect();
    let spikes = if family == "spikes" || rng.next() < 1.0 / 7.0 {
        1 + (rng.next() * 3.0) as usize
    } else {
        0
    };
    for _ in 0..spikes {
        let day = rng.uniform(10.0, days as f64) as usize;
        y[day.min(days - 1)] *= rng.uniform(3.0, 15.0);
    }
    let amount = expected[start as usize..].iter().sum::<f64>() * rng.uniform(0.6, 1.4);
    Scenario {
        name: format!("{family}/{i}"),
        workloads: vec![("w".into(), y)],
        awards: vec![award("a", start, expiry, vec![(start, amount)], &["w"])],
        subject: 0,
        account_view: false,
    }
}
