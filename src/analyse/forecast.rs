//! The forecast of one workload's daily spend, with a range. Pure.
//!
//! Several methods are fitted to the history and scored on the series' own
//! rolling-origin backtest: each forecasts the last 7, 14, 21 and 28 days from the days
//! before them, and its error is the sum of the absolute log ratios of actual to
//! forecast cumulative spend. The methods within twice the best's error are blended,
//! weighted by the inverse square of their errors. The range is calibrated per horizon
//! on the blend's own rolling-origin residuals (`Calibration`: split conformal
//! prediction): the blend forecasts from the holdouts' origins and from every four
//! weeks further back (up to 16 weeks, while two weeks are left to train on), its log
//! ratio of actual to forecast cumulative spend is measured at every day ahead from a
//! week, the growth of its size with the days ahead is fitted (the exponent of a power
//! law, shrunk towards `GROWTH_EXPONENT` when few spans are measured), and the 10th and
//! 90th percentiles of the residuals on that one scale, widened (`RESIDUAL_WIDEN`),
//! scale the cumulative forecast into the P10 and P90 paths at each day ahead. So a
//! series whose errors grow fast with the horizon (a ramp misread) gets a range that
//! widens as fast, and a steady one a range that stays narrow. The range is never
//! narrower than the series' own daily noise allows (`noise_floor`), whatever its few
//! origins happened to show.
//!
//! The methods:
//! - `ets`: grafana's augurs AutoETS (additive or multiplicative error, trend none,
//!   additive or damped), on a weekly MSTL decomposition once there are four weeks;
//! - `ets_log`: the same on the logarithm of spend, so a ramp that compounds is a trend;
//! - `linear_cumulative`: a straight line through cumulative spend (the mean rate);
//! - `level`: the mean since the last level shift, in whole weeks, at most eight;
//! - `trailing_mean`: the mean of the last 14 days.
//!
//! Before fitting, a day far above its neighbours (a Hampel filter over a centred week)
//! is brought down to their median, so that a one-day evaluation run does not move the
//! forecast for weeks; the actual spend of that day still counts where it is paid.
//! After a level shift (augurs' changepoint detection on log spend, where the week after
//! is at least e^0.5 times above or below the week before) only the days since it are
//! fitted and backtested. The trend methods (`ets`, `ets_log`) are candidates only when
//! the last six weeks show a trend to carry on (`trend_shows`): the slope of log spend at
//! least 1.5 standard errors from zero, and a rise not under a third of the rise over
//! the six weeks before.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use serde::Serialize;

/// How a workload's spend was forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// No spend in the history: none is forecast.
    NoSpend,
    Ets,
    EtsLog,
    LinearCumulative,
    /// The mean since the last level shift (a launch, a relaunch), at most 8 weeks.
    Level,
    TrailingMean,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::NoSpend => "no_spend",
            Method::Ets => "ets",
            Method::EtsLog => "ets_log",
            Method::LinearCumulative => "linear_cumulative",
            Method::Level => "level",
            Method::TrailingMean => "trailing_mean",
        }
    }
}

/// The methods blended into a forecast, the one with most weight first; named as one
/// string, "ets_log+level".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blend(pub Vec<Method>);

impl Blend {
    pub fn of(method: Method) -> Blend {
        Blend(vec![method])
    }

    pub fn label(&self) -> String {
        if self.0.is_empty() {
            return Method::NoSpend.as_str().to_string();
        }
        self.0
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("+")
    }
}

impl Serialize for Blend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

/// The methods the backtest chooses among, simplest last (a tie goes to the simpler).
const CANDIDATES: [Method; 5] = [
    Method::Ets,
    Method::EtsLog,
    Method::LinearCumulative,
    Method::Level,
    Method::TrailingMean,
];
/// The most days the level method averages.
const LEVEL_DAYS: usize = 56;

/// The held-out spans of the series' own backtest, in days.
const HOLDOUTS: [usize; 4] = [7, 14, 21, 28];
/// The most days of history the ETS methods are fitted to.
pub const MAX_HISTORY: usize = 120;
/// The fewest days a backtest may train on.
const MIN_TRAIN: usize = 14;
/// The trailing mean's window, and the shortest history the other methods are fitted to.
pub const TRAILING_DAYS: usize = 14;
/// The spread (log ratio per unit of `growth`) assumed when the history is too short
/// to measure one.
const DEFAULT_SPREAD: f64 = 0.12;
/// How much wider than the residual quantiles the range is drawn. The origins overlap
/// (each holds the last seven days), so their residuals are a few independent draws,
/// and the 10th to 90th percentile of a few draws understates the spread of the next
/// one. The backtest bench chose the factor for the range's coverage (2.0 with the four
/// holdouts alone).
const RESIDUAL_WIDEN: f64 = 1.8;
/// How many standard deviations of the series' noise the range reaches at least (the
/// normal's 84th percentile, not its 90th: the dates are whole days, so a range holds the
/// truth at its ends too, and at short horizons a range the width of the noise's P10-P90
/// held it nine times in ten on the backtest bench's drawn suite, against 84-87% at 1.0).
const FLOOR_Z: f64 = 1.0;

/// A forecast of daily spend over the days after the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The method with the most weight in the blend.
    pub method: Method,
    /// Every method blended into the P50 (the backtest's best, and those within twice its
    /// error), most weight first.
    pub blend: Blend,
    /// Daily spend on the P10, P50 and P90 paths: index 0 is the first day after the
    /// history. The paths' cumulative sums are the quantiles of cumulative spend.
    pub p10: Vec<f64>,
    pub p50: Vec<f64>,
    pub p90: Vec<f64>,
    /// The log-ratio quantiles (0.1 and 0.9) behind the range, per day ahead to the
    /// power `exponent`, widened; the range is at least the series' noise floor besides.
    pub spread: (f64, f64),
    /// How the range grows with the days ahead, measured on the series' own residuals.
    pub exponent: f64,
    /// Where in the history the fit began (after leading days without spend and the last
    /// level shift), and how it fitted: the spike check's one-day forecasts fit the same.
    start: usize,
    how: How,
}

impl Forecast {
    fn zero(horizon: usize) -> Forecast {
        Forecast {
            method: Method::NoSpend,
            blend: Blend::of(Method::NoSpend),
            p10: vec![0.0; horizon],
            p50: vec![0.0; horizon],
            p90: vec![0.0; horizon],
            spread: (0.0, 0.0),
            exponent: GROWTH_EXPONENT,
            start: 0,
            how: How::detect(),
        }
    }

    /// The path of quantile `q` (0: P10, 1: P50, 2: P90).
    pub fn path(&self, q: usize) -> &[f64] {
        match q {
            0 => &self.p10,
            1 => &self.p50,
            _ => &self.p90,
        }
    }
}

/// Forecasts `horizon` days after `history` (daily spend, oldest first, the last element
/// the last day of data). Leading days without spend are ignored.
pub fn forecast(history: &[f64], horizon: usize) -> Forecast {
    forecast_by(history, horizon, None)
}

/// `forecast`, by one method only when `only` is given (the backtest's baselines), its
/// range still measured on the series' own backtest.
pub fn forecast_by(history: &[f64], horizon: usize, only: Option<Method>) -> Forecast {
    let first = history.iter().position(|v| *v > 0.0);
    let Some(first) = first else {
        return Forecast::zero(horizon);
    };
    let y: Vec<f64> = history[first..].iter().map(|v| v.max(0.0)).collect();
    let n = y.len();

    // The series' own backtest: each candidate's forecasts of the held-out days.
    // After a level shift (a launch, a relaunch) the days before it say nothing of the
    // days to come: the methods are fitted, and backtested, on the days since it. With
    // under three weeks of those, the level since the shift is the forecast.
    //
    // A one-day spike is flattened first (the baselines keep their definitions), so that
    // neither a fit nor a holdout's score is moved by it.
    let y = match only {
        Some(_) => y,
        None => despike(&y),
    };
    let shift = match only {
        Some(_) => 0,
        None => {
            let from = n.saturating_sub(MAX_HISTORY);
            match level_start(&y[from..]) {
                0 => 0,
                s => from + s,
            }
        }
    };
    let y = y[shift..].to_vec();
    let n = y.len();
    // Cut at its last level shift already, unless one method is forced.
    let mut how = How {
        since: match only {
            Some(_) => Since::Detect,
            None => Since::Cut,
        },
        ..How::detect()
    };
    // Each method's forecast from the whole series, where it is fitted first (the ETS
    // methods: AutoETS chooses its model there, and the backtests refit that model).
    let mut finals: Vec<(Method, Vec<f64>)> = Vec::new();
    let holdouts: Vec<usize> = HOLDOUTS
        .iter()
        .copied()
        .filter(|k| n >= k + MIN_TRAIN)
        .collect();
    let candidates: Vec<Method> = match only {
        Some(m) => vec![m],
        None if shift > 0 && holdouts.is_empty() => vec![Method::Level],
        None => CANDIDATES.to_vec(),
    };
    // (method, its error: the sum over holdouts of |log ratio| of cumulative spend, its
    // forecast of each holdout).
    let mut tried: Vec<(Method, f64, Vec<Vec<f64>>)> = Vec::new();
    // A trend method extrapolates the slope it fitted: on a curve that has flattened (an
    // adoption curve saturated) the ramp earlier in the history still moves it, and no
    // holdout can tell. With no trend to show over the last six weeks, it is no candidate.
    let trending = only.is_some() || trend_shows(&y);
    for method in candidates {
        if !trending && matches!(method, Method::Ets | Method::EtsLog) {
            continue;
        }
        if only.is_none()
            && n < TRAILING_DAYS
            && !matches!(method, Method::TrailingMean | Method::Level)
        {
            continue;
        }
        if let (Method::Ets | Method::EtsLog, false) = (method, holdouts.is_empty()) {
            match ets_point(method, &y, horizon, None) {
                Some((p, pin)) => {
                    finals.push((method, p));
                    how.pins.push((method, pin));
                }
                None => continue,
            }
        }
        let mut score = 0.0;
        let mut points = Vec::new();
        for &k in &holdouts {
            let (train, test) = y.split_at(n - k);
            let Some(p) = point_with(method, train, k, &how) else {
                break;
            };
            score += log_ratio(test.iter().sum(), p.iter().sum()).map_or(10.0, f64::abs);
            points.push(p);
        }
        if points.len() == holdouts.len() {
            tried.push((method, score, points));
        }
    }
    // The methods within twice the best's error are blended, weighted by the inverse
    // square of their errors: on a series where several do about as well, their mean
    // errs less than any one pick (a steady level after a launch), and a method that
    // misses a ramp gets no say.
    let best = tried.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    let weights: Vec<(Method, f64)> = tried
        .iter()
        .filter(|t| t.1 <= 2.0 * best + 1e-9)
        .map(|t| (t.0, 1.0 / (t.1 + 0.01).powi(2)))
        .collect();
    let origins = blend_origins(
        &y,
        &holdouts,
        &tried,
        &weights,
        (only.is_none()).then_some(&how),
    );
    let calibration = Calibration::measure(&y, &origins);
    let parts: Vec<(Method, f64, Vec<f64>)> = weights
        .iter()
        .filter_map(|(m, w)| {
            let p = match finals.iter().find(|f| f.0 == *m) {
                Some((_, p)) => p.clone(),
                None => point_with(*m, &y, horizon, &how)?,
            };
            Some((*m, *w, p))
        })
        .collect();
    // Most weight first; the sort is stable, so a tie keeps the candidates' order.
    let mut ranked: Vec<&(Method, f64, Vec<f64>)> = parts.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (method, p50, blend) = match ranked.as_slice() {
        [] => match point(Method::TrailingMean, &y, horizon) {
            Some(p) => (Method::TrailingMean, p, Blend::of(Method::TrailingMean)),
            None => return Forecast::zero(horizon),
        },
        [(m, _, p)] => (*m, p.clone(), Blend::of(*m)),
        many => {
            let forecasts: Vec<(f64, Vec<f64>)> =
                many.iter().map(|(_, w, p)| (*w, p.clone())).collect();
            (
                many[0].0,
                blend(&forecasts),
                Blend(many.iter().map(|t| t.0).collect()),
            )
        }
    };
    // The range: the residual quantiles per day ahead, widened (the origins overlap, so
    // few of their residuals are independent draws), and at least what the series' own
    // daily noise alone gives.
    let noise = day_noise(&weekday_adjusted_log(&y[n.saturating_sub(LEVEL_DAYS)..]));
    Forecast {
        method,
        blend,
        p10: calibration.path(&p50, noise, false),
        p90: calibration.path(&p50, noise, true),
        p50,
        spread: calibration.spread,
        exponent: calibration.exponent,
        start: first + shift,
        how,
    }
}

/// The weighted mean of forecasts, day by day.
fn blend(forecasts: &[(f64, Vec<f64>)]) -> Vec<f64> {
    let total: f64 = forecasts.iter().map(|(w, _)| w).sum();
    let len = forecasts.first().map_or(0, |(_, p)| p.len());
    (0..len)
        .map(|j| forecasts.iter().map(|(w, p)| w * p[j]).sum::<f64>() / total)
        .collect()
}

/// The blend's forecast from each calibration origin of `y`, `(k, the k days after
/// y[..n - k])`: the holdouts (their forecasts are in `tried`), and, given `how` to fit
/// with, every `ORIGIN_STEP` days further back while `MIN_TRAIN` days are left to train
/// on, so that the long horizons are measured too.
fn blend_origins(
    y: &[f64],
    holdouts: &[usize],
    tried: &[(Method, f64, Vec<Vec<f64>>)],
    weights: &[(Method, f64)],
    how: Option<&How>,
) -> Vec<(usize, Vec<f64>)> {
    let n = y.len();
    let mut origins: Vec<(usize, Vec<f64>)> = Vec::new();
    for (i, &k) in holdouts.iter().enumerate() {
        let parts: Vec<(f64, Vec<f64>)> = weights
            .iter()
            .filter_map(|(m, w)| {
                let t = tried.iter().find(|t| t.0 == *m)?;
                Some((*w, t.2[i].clone()))
            })
            .collect();
        if parts.is_empty() {
            break;
        }
        origins.push((k, blend(&parts)));
    }
    let Some(how) = how else {
        return origins;
    };
    let longest = holdouts.last().copied().unwrap_or(0);
    let further = (longest + ORIGIN_STEP..=MAX_ORIGIN)
        .step_by(ORIGIN_STEP)
        .filter(|k| n >= k + MIN_TRAIN);
    for k in further {
        let parts: Option<Vec<(f64, Vec<f64>)>> = weights
            .iter()
            .map(|(m, w)| Some((*w, point_with(*m, &y[..n - k], k, how)?)))
            .collect();
        match parts {
            Some(parts) if !parts.is_empty() => origins.push((k, blend(&parts))),
            _ => break,
        }
    }
    origins
}

/// The range's calibration on the series' own rolling-origin residuals: how the log
/// ratio of actual to forecast cumulative spend grows with the days ahead (`exponent`,
/// the slope of log mean absolute residual against log days ahead, over spans of days
/// that double), and its 10th and 90th percentiles per day ahead to that power
/// (`spread`), widened by `RESIDUAL_WIDEN`. Split conformal prediction, with the
/// residuals of every horizon brought to one scale by the measured growth.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Calibration {
    exponent: f64,
    spread: (f64, f64),
    /// The furthest day ahead the residuals measured (at least the longest holdout's).
    measured_to: usize,
}

impl Calibration {
    /// From the blend's forecasts from each origin, `(k, forecast of the k days after
    /// y[..n - k])`.
    fn measure(y: &[f64], origins: &[(usize, Vec<f64>)]) -> Calibration {
        let n = y.len();
        // (days ahead, log ratio), from a week ahead: single days are noise the
        // cumulative path does not carry.
        let mut pairs: Vec<(usize, f64)> = Vec::new();
        for (k, predicted) in origins {
            let test = &y[n - k..];
            let (mut actual, mut cum) = (0.0, 0.0);
            for (j, (a, p)) in test.iter().zip(predicted).enumerate() {
                actual += a;
                cum += p;
                if j + 1 >= 7 {
                    if let Some(r) = log_ratio(actual, cum) {
                        pairs.push((j + 1, r));
                    }
                }
            }
        }
        // Too few residuals to measure anything (a history of days since a launch): the
        // default spread, growing with the fourth root of the days ahead.
        if pairs.len() < 7 {
            return Calibration {
                exponent: UNMEASURED_EXPONENT,
                spread: (-DEFAULT_SPREAD, DEFAULT_SPREAD),
                measured_to: HOLDOUTS[3],
            };
        }
        // The growth: mean |r| over days 7-13, 14-27, 28-55, 56-111 ahead, each span
        // with at least a week of pairs, against the span's middle day, in logs.
        let spans: Vec<(f64, f64)> = [(7, 14), (14, 28), (28, 56), (56, 112)]
            .iter()
            .filter_map(|&(from, to)| {
                let r: Vec<f64> = pairs
                    .iter()
                    .filter(|(j, _)| (from..to).contains(j))
                    .map(|(_, r)| r.abs())
                    .collect();
                (r.len() >= 7).then(|| {
                    let mean = r.iter().sum::<f64>() / r.len() as f64;
                    (((from + to) as f64 / 2.0).ln(), mean.max(1e-6).ln())
                })
            })
            .collect();
        let exponent = if spans.len() >= 2 {
            // Shrunk towards the usual growth by the spans measured: two spans say less
            // than four.
            let measured = least_squares(&spans).0.clamp(0.0, MAX_EXPONENT);
            let weight = (spans.len() as f64 - 1.0) / 3.0;
            weight * measured + (1.0 - weight) * GROWTH_EXPONENT
        } else {
            GROWTH_EXPONENT
        };
        let mut r: Vec<f64> = pairs
            .iter()
            .map(|(j, r)| r / (*j as f64).powf(exponent))
            .collect();
        r.sort_by(f64::total_cmp);
        let spread = (
            quantile(&r, 0.1) * RESIDUAL_WIDEN,
            quantile(&r, 0.9) * RESIDUAL_WIDEN,
        );
        // The furthest day ahead a residual was measured at: beyond it the growth is
        // extrapolated.
        let measured_to = pairs
            .iter()
            .map(|(j, _)| *j)
            .max()
            .unwrap_or(0)
            .max(HOLDOUTS[3]);
        Calibration {
            exponent,
            spread,
            measured_to,
        }
    }

    /// The P90 path (`upper`) or the P10 path about the daily `p50`, for a series whose
    /// days vary by `noise` (`noise_floor`).
    fn path(&self, p50: &[f64], noise: f64, upper: bool) -> Vec<f64> {
        let z = if upper { self.spread.1 } else { self.spread.0 };
        let mut out = Vec::with_capacity(p50.len());
        let (mut cum, mut last) = (0.0, 0.0);
        for (j, p) in p50.iter().enumerate() {
            cum += p;
            let f = noise_floor(noise, j + 1);
            let z = z * self.scale(j + 1);
            // The P10 never above the P50 and the P90 never below, whatever the sign of
            // the residuals (a series whose every holdout was under-forecast).
            let z = if upper {
                z.max(f).max(0.0)
            } else {
                z.min(-f).min(0.0)
            };
            // Day by day too: the noise floor narrows with the days ahead, and a window
            // of days (a tranche, an expiry) must see the paths in order. This also keeps
            // rounding from putting a zero-width range's P90 below its P50.
            let gap = cum * z.exp() - last;
            let day = if upper {
                gap.max(*p)
            } else {
                gap.clamp(0.0, *p)
            };
            out.push(day);
            last += day;
        }
        out
    }

    /// What the residual quantiles are multiplied by `days` ahead: `days` to the
    /// measured power up to the furthest day ahead measured, and beyond it no faster than
    /// the square root of the days (a level that wanders at random), so that a growth
    /// measured over a few weeks is not carried on for a year: at a power of 1 the range
    /// of a year ahead would reach from nothing to many times the whole year's spend.
    fn scale(&self, days: usize) -> f64 {
        let (d, to) = (days as f64, self.measured_to as f64);
        if days <= self.measured_to {
            d.powf(self.exponent)
        } else {
            to.powf(self.exponent) * (d / to).powf(self.exponent.min(BEYOND_EXPONENT))
        }
    }
}

/// The most the range grows per log day ahead beyond the days its residuals measured.
const BEYOND_EXPONENT: f64 = 0.5;
/// How the default spread (`DEFAULT_SPREAD`) grows with the days ahead, for a series too
/// short to measure its residuals: the fourth root, as the range grew for every series
/// until 2026-12 (at the prior `GROWTH_EXPONENT` the demo's newly launched workload read
/// a P90 fourteen times its P50 three months ahead).
const UNMEASURED_EXPONENT: f64 = 0.25;

/// The step between calibration origins beyond the holdouts, in days: 56, 84 and 112
/// days back. Each costs a fit of every method in the blend.
const ORIGIN_STEP: usize = 28;
/// The furthest calibration origin back from the end of the history, in days.
const MAX_ORIGIN: usize = 112;
/// The most the range may grow per log day ahead: a trend misread grows the error in
/// proportion to the days.
const MAX_EXPONENT: f64 = 1.0;

/// How the log-ratio error of cumulative spend grows with the horizon in days, where a
/// series' own residuals cannot measure it (fewer than two spans of days ahead), and
/// what a measurement from two or three spans is shrunk towards. Between a level's error
/// (which does not grow) and a trend's (which grows with the days); the backtest bench's
/// drawn suite (`cargo bench --bench backtest`) chose it with `RESIDUAL_WIDEN` for the
/// range's coverage at 14, 30 and 60 days.
pub const GROWTH_EXPONENT: f64 = 0.75;

/// The least the log ratio of cumulative spend can err, `days` days ahead, on a series
/// whose days vary by `noise` (the standard deviation of log spend) about a level
/// estimated from up to `LEVEL_DAYS` of them: the P90 of the noise of those days' sum and of
/// the level's own error. A calm series gets a narrow range, a noisy one a wide one.
fn noise_floor(noise: f64, days: usize) -> f64 {
    FLOOR_Z * noise.min(MAX_NOISE) * (1.0 / days.max(1) as f64 + 1.0 / LEVEL_DAYS as f64).sqrt()
}

/// The most day-to-day noise of log spend the floor takes at its word. Beyond it the
/// spend switches on and off (a day without spend is 1% of the mean day, a change of
/// about 4.6), where the noise of a sum no longer shrinks as a small one's does: a
/// regular two days on, one day off would otherwise read as a P90 nine hundred times
/// the P50 tomorrow.
const MAX_NOISE: f64 = 1.0;

/// The last day of `y` against what `method` forecast for it from the days before:
/// (the P50, the threshold the day's noise reaches). The threshold lifts the P50 by
/// `SPIKE_Z` robust standard deviations of the day-to-day log ratio against the median
/// of the week before, over the last eight weeks (at least 5%). `method` is fitted from
/// `start` as `how` says. None with fewer than 15 days.
fn one_day_ahead(y: &[f64], method: Method, start: usize, how: &How) -> Option<(f64, f64)> {
    let n = y.len();
    if n < 15 || method == Method::NoSpend {
        return None;
    }
    let history = &y[..n - 1];
    let from = start.min(history.len());
    let p50 = match point_with(method, &history[from..], 1, how) {
        Some(p) => p,
        None => point(method, history, 1)?,
    };
    beyond_the_noise(y, *p50.first()?)
}

impl Forecast {
    /// `one_day_ahead` by this forecast's main method, fitted as the forecast was: from
    /// the same start (its level shift found once, not again for each day checked) and
    /// with the ETS model it chose. `y` is the history the forecast was made from up to
    /// the day checked.
    pub fn one_day_ahead(&self, y: &[f64]) -> Option<(f64, f64)> {
        one_day_ahead(y, self.method, self.start, &self.how)
    }
}

/// (`p50`, the threshold the last day of `y`'s noise reaches above it).
fn beyond_the_noise(y: &[f64], p50: f64) -> Option<(f64, f64)> {
    let n = y.len();
    let history = &y[..n - 1];
    let floor = log_floor(history);
    let from = 7.max(n.saturating_sub(57));
    let ratios: Vec<f64> = (from..n - 1)
        .map(|t| ((y[t] + floor) / (median(y[t - 7..t].to_vec()) + floor)).ln())
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let center = median(ratios.clone());
    let sigma = (median(ratios.iter().map(|r| (r - center).abs()).collect()) * 1.4826).max(0.05);
    Some((p50, (p50 + floor) * (SPIKE_Z * sigma).exp() - floor))
}

/// How many robust standard deviations of its noise above the forecast a day must be to
/// be beyond what the noise explains: about one workload-day in a thousand of a series
/// without spikes, across workloads and days (the normal's 99.9th percentile is 3.09;
/// the noise is measured on eight weeks, and its estimate errs). The backtest bench
/// measures the rate (`BACKTEST_SUITES=spikes`): at 2.33 (the P99) it was 8.7 days in
/// a thousand.
pub const SPIKE_Z: f64 = 3.3;

/// What is added to spend before taking its logarithm, so that days without spend stay
/// finite: 1% of the mean day.
fn log_floor(y: &[f64]) -> f64 {
    (y.iter().sum::<f64>() / y.len().max(1) as f64 * 0.01).max(1e-6)
}

/// ln(actual / predicted), when both are positive.
fn log_ratio(actual: f64, predicted: f64) -> Option<f64> {
    (actual > 0.0 && predicted > 0.0).then(|| (actual / predicted).ln())
}

/// The `q` quantile of sorted values (linear between ranks).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The point forecast of one method, `h` days after `y`; None when it cannot be fitted.
pub fn point(method: Method, y: &[f64], h: usize) -> Option<Vec<f64>> {
    point_with(method, y, h, &How::detect())
}

/// How `point_with` fits: where the level method's days begin, and the ETS models
/// AutoETS chose on the whole series, which a backtest refits instead of choosing again
/// (a choice among six models costs six fits; the warm run on the scale bench spent
/// most of its time there).
#[derive(Debug, Clone, PartialEq)]
struct How {
    since: Since,
    pins: Vec<(Method, Pin)>,
}

impl How {
    /// Looking for the level shift in the days given, and choosing every ETS model.
    fn detect() -> How {
        How {
            since: Since::Detect,
            pins: Vec::new(),
        }
    }
}

/// The ETS model AutoETS chose: its type as AutoETS spells it ("AAN": additive error,
/// additive trend, no season) and whether its trend is damped.
#[derive(Debug, Clone, PartialEq)]
struct Pin {
    spec: String,
    damped: bool,
}

/// Where the level method's days begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    /// After the last level shift in the days given (`level_start`).
    Detect,
    /// The days given are already cut at their last level shift (`forecast_by` cuts the
    /// series once, so its backtests and calibration origins need not look for it again,
    /// the costliest step of a steady series' forecast).
    Cut,
}

fn point_with(method: Method, y: &[f64], h: usize, how: &How) -> Option<Vec<f64>> {
    if y.is_empty() {
        return None;
    }
    let n = y.len();
    let out = match method {
        Method::NoSpend => vec![0.0; h],
        Method::TrailingMean => {
            let tail = &y[n.saturating_sub(TRAILING_DAYS)..];
            vec![tail.iter().sum::<f64>() / tail.len() as f64; h]
        }
        Method::LinearCumulative => {
            // Least squares of cumulative spend on the day number: the slope is the rate.
            let mut cum = 0.0;
            let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
            for (i, v) in y.iter().enumerate() {
                cum += v;
                let x = (i + 1) as f64;
                sx += x;
                sy += cum;
                sxx += x * x;
                sxy += x * cum;
            }
            let m = n as f64;
            let den = m * sxx - sx * sx;
            let slope = if den.abs() < 1e-12 {
                cum / m
            } else {
                (m * sxy - sx * sy) / den
            };
            vec![slope.max(0.0); h]
        }
        Method::Level => {
            let clean = despike(&y[n.saturating_sub(MAX_HISTORY)..]);
            let shift = match how.since {
                Since::Detect => level_start(&clean),
                Since::Cut => 0,
            };
            let from = shift.max(clean.len().saturating_sub(LEVEL_DAYS));
            let tail = &clean[from..];
            // Whole weeks once there is one, so a weekly pattern averages out.
            let days = if tail.len() >= 7 {
                tail.len() / 7 * 7
            } else {
                tail.len()
            };
            let tail = &tail[tail.len() - days..];
            vec![tail.iter().sum::<f64>() / days.max(1) as f64; h]
        }
        Method::Ets | Method::EtsLog => {
            let pin = how.pins.iter().find(|p| p.0 == method).map(|p| &p.1);
            return ets_point(method, y, h, pin).map(|(p, _)| p);
        }
    };
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The ETS methods' point forecast, `h` days after `y`, by the model `pin` names (chosen
/// by AutoETS when None), and the model it was.
fn ets_point(method: Method, y: &[f64], h: usize, pin: Option<&Pin>) -> Option<(Vec<f64>, Pin)> {
    // The last MAX_HISTORY days at most: older spend says little about the next
    // months, and the fits cost in proportion to the days.
    let y = &y[y.len().saturating_sub(MAX_HISTORY)..];
    let clean = despike(y);
    let log = method == Method::EtsLog;
    let floor = log_floor(&clean);
    let series: Vec<f64> = if log {
        clean.iter().map(|v| (v + floor).ln()).collect()
    } else {
        clean
    };
    let (predicted, pin) = ets(&series, h, log, pin)?;
    let out: Vec<f64> = predicted
        .into_iter()
        .map(|v| if log { v.exp() - floor } else { v })
        .map(|v| if v.is_finite() { v.max(0.0) } else { f64::NAN })
        .collect();
    out.iter().all(|v| v.is_finite()).then_some((out, pin))
}

/// AutoETS (trend none, additive or damped) on `y`, on a weekly MSTL decomposition once
/// there are four weeks of it; with `log`, `y` is log spend and the error additive.
fn ets(y: &[f64], h: usize, log: bool, pin: Option<&Pin>) -> Option<(Vec<f64>, Pin)> {
    // On log spend an additive error is already a multiplicative one on spend: the
    // multiplicative-error models would only double the fits.
    let pinned = pin.and_then(|p| AutoETS::new(1, p.spec.as_str()).ok()?.damped(p.damped).ok());
    let auto = match pinned {
        Some(auto) => auto,
        None if log => AutoETS::new(1, "AZN").ok()?,
        None => AutoETS::non_seasonal(),
    };
    let chosen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let point = if y.len() >= 28 {
        let trend = Chosen {
            auto,
            chosen: chosen.clone(),
        };
        MSTLModel::new(vec![7], trend)
            .fit(y)
            .ok()?
            .predict(h, None)
            .ok()?
            .point
    } else {
        let fitted = auto.fit(y).ok()?;
        *chosen.lock().ok()? = Some(Pin::of(fitted.model()));
        fitted.predict(h, None).ok()?.point
    };
    let pin = chosen.lock().ok()?.take()?;
    (point.len() == h).then_some((point, pin))
}

impl Pin {
    fn of(model: &augurs::ets::model::Model) -> Pin {
        Pin {
            spec: model.model_type().to_string(),
            damped: model.damped(),
        }
    }
}

/// AutoETS as MSTL's trend model, keeping the model it chose.
#[derive(Debug)]
struct Chosen {
    auto: AutoETS,
    chosen: std::sync::Arc<std::sync::Mutex<Option<Pin>>>,
}

type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl augurs::mstl::TrendModel for Chosen {
    fn name(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed("AutoETS")
    }

    fn fit(
        &self,
        y: &[f64],
    ) -> Result<Box<dyn augurs::mstl::FittedTrendModel + Sync + Send>, BoxedError> {
        let fitted = self.auto.fit(y)?;
        if let Ok(mut chosen) = self.chosen.lock() {
            *chosen = Some(Pin::of(fitted.model()));
        }
        Ok(Box::new(ChosenFitted(fitted)))
    }
}

#[derive(Debug)]
struct ChosenFitted(augurs::ets::FittedAutoETS);

impl augurs::mstl::FittedTrendModel for ChosenFitted {
    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxedError> {
        Ok(self.0.predict_inplace(horizon, level, forecast)?)
    }

    fn predict_in_sample_inplace(
        &self,
        level: Option<f64>,
        forecast: &mut augurs::Forecast,
    ) -> Result<(), BoxedError> {
        Ok(self.0.predict_in_sample_inplace(level, forecast)?)
    }

    fn training_data_size(&self) -> Option<usize> {
        Some(self.0.training_data_size())
    }
}

/// Where the current level of `y` begins: the day after the last changepoint that
/// Bayesian online changepoint detection (augurs, a Normal-Gamma prior) finds in log
/// spend (the weekday pattern taken out from four weeks, the day-to-day noise scaled to
/// one) with a whole week after it, that week's median at least `STEP` above or below
/// the week before's. 0 when there is none.
pub fn level_start(y: &[f64]) -> usize {
    use augurs::changepoint::{Detector, NormalGammaDetector};
    let n = y.len();
    if n < 7 {
        return 0;
    }
    let x = weekday_adjusted_log(y);
    let scale = day_noise(&x).max(0.01);
    let center = median(x.clone());
    let z: Vec<f64> = x.iter().map(|v| (v - center) / scale).collect();
    let points = NormalGammaDetector::default().detect_changepoints(&z);
    // A step, not a bend in a ramp: the week after it at least STEP (in log) above or
    // below the week before.
    points
        .iter()
        .rev()
        .map(|p| p + 1)
        // A whole week after it, or a weekend in a short series reads as a step.
        .filter(|&p| p >= 3 && p + 7 <= n)
        .find(|&p| {
            let before = median(x[p.saturating_sub(7)..p].to_vec());
            let after = median(x[p..p + 7].to_vec());
            (after - before).abs() >= STEP
        })
        .unwrap_or(0)
}

/// The days over which a trend must show for the trend methods to be candidates.
const TREND_DAYS: usize = 42;
/// The least t statistic of the slope of log spend over `TREND_DAYS` that shows a
/// trend. The backtest bench chose it (window and threshold) as the strictest test that
/// leaves every ramp's error where it was; simulated on the bench's curves, it takes the
/// trend methods out about two runs in three on a saturated adoption curve and one in
/// twenty on a linear ramp.
const TREND_T: f64 = 1.5;

/// How many times slower than over the `TREND_DAYS` before them the last `TREND_DAYS`
/// may rise and still show a trend to carry on. An adoption curve past its inflection
/// slows by e^(-42/15), about 16 times, over six weeks on the backtest bench's curve; a
/// straight-line ramp in dollars slows in log by the ratio of its levels, about 1.3
/// times. The backtest bench chose it: at 3 the adoption curve errs 0.79 mean days at
/// 30 days (0.96 without, 0.80 at 4, 0.89 at 5; 12 seeds), the linear ramps 1.27 (1.24
/// without).
const SLOWED: f64 = 3.0;

/// Whether the last `TREND_DAYS` of `y` (all of it when shorter) show a trend to carry
/// on: the least squares slope of weekday-adjusted log spend is at least `TREND_T` of its
/// standard errors from zero, the day's noise measured from day-to-day changes
/// (`day_noise`), and a rise is not under a `SLOWED`th of the rise over the
/// `TREND_DAYS` before (a curve flattening out).
fn trend_shows(y: &[f64]) -> bool {
    let n = y.len();
    let Some((slope, error)) = log_slope(&y[n.saturating_sub(TREND_DAYS)..]) else {
        return false;
    };
    if n >= 2 * TREND_DAYS && slope > 0.0 {
        if let Some((before, _)) = log_slope(&y[n - 2 * TREND_DAYS..n - TREND_DAYS]) {
            if slope * SLOWED < before {
                return false;
            }
        }
    }
    slope.abs() >= TREND_T * error
}

/// The least squares slope of weekday-adjusted log spend over `y`, per day, and its
/// standard error; None under three days.
fn log_slope(y: &[f64]) -> Option<(f64, f64)> {
    let x = weekday_adjusted_log(y);
    if x.len() < 3 {
        return None;
    }
    let points: Vec<(f64, f64)> = x.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect();
    let (slope, sxx) = least_squares(&points);
    // A series without noise shows a trend when it moves at all.
    let error = day_noise(&x).max(1e-9) / sxx.sqrt();
    Some((slope, error))
}

/// The least squares slope of `points` (x, y), and the sum of squares of x about its
/// mean (the slope's standard error is the noise over its square root).
fn least_squares(points: &[(f64, f64)]) -> (f64, f64) {
    let m = points.len() as f64;
    let xm = points.iter().map(|p| p.0).sum::<f64>() / m;
    let ym = points.iter().map(|p| p.1).sum::<f64>() / m;
    let sxx: f64 = points.iter().map(|p| (p.0 - xm).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - xm) * (p.1 - ym)).sum();
    (sxy / sxx, sxx)
}

/// Log spend, the weekday pattern taken out once there are four weeks: each weekday's
/// median gap to its centred week's mean.
fn weekday_adjusted_log(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    let floor = log_floor(y);
    let mut x: Vec<f64> = y.iter().map(|v| (v.max(0.0) + floor).ln()).collect();
    if n >= 28 {
        let mut gaps: [Vec<f64>; 7] = Default::default();
        for t in 3..n - 3 {
            let mean = x[t - 3..=t + 3].iter().sum::<f64>() / 7.0;
            gaps[t % 7].push(x[t] - mean);
        }
        let effect: Vec<f64> = gaps.into_iter().map(median).collect();
        for (t, v) in x.iter_mut().enumerate() {
            *v -= effect[t % 7];
        }
    }
    x
}

/// The robust standard deviation of one day's noise in `x` (log spend), from day-to-day
/// changes: a trend or a level shift moves few of them.
fn day_noise(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let diffs: Vec<f64> = x.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    median(diffs) * 1.4826 / std::f64::consts::SQRT_2
}

/// The least change in log spend (about 1.6 times up, or 0.6 down) that is a level shift.
const STEP: f64 = 0.5;

/// Brings a day far above the median of its centred week (more than 4 scaled median
/// absolute deviations, and more than half again the median) down to that median.
pub fn despike(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    let mut out = y.to_vec();
    for i in 0..n {
        let window: Vec<f64> = y[i.saturating_sub(3)..(i + 4).min(n)].to_vec();
        if window.len() < 4 {
            continue;
        }
        let med = median(window.clone());
        let mad = median(window.iter().map(|v| (v - med).abs()).collect()) * 1.4826;
        if y[i] > med + 4.0 * mad && y[i] > med * 1.5 {
            out[i] = med;
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(v: &[f64]) -> f64 {
        v.iter().sum()
    }

    #[test]
    fn no_spend_forecasts_none() {
        let f = forecast(&[0.0; 30], 10);
        assert_eq!(f.method, Method::NoSpend);
        assert_eq!(total(&f.p90), 0.0);
        let f = forecast(&[], 5);
        assert_eq!(f.p50, vec![0.0; 5]);
    }

    #[test]
    fn a_trend_shows_when_its_slope_stands_out_of_the_days_noise() {
        // 27 days alternating $110/$90 (a noise of 0.2083 in log spend, as below; under
        // four weeks, no weekday pattern is taken out) on a ramp of r a day in log spend.
        // The alternation adds nothing to the slope (as many highs as lows either side
        // of the middle day), nor the ramp to the median day-to-day change. The slope's
        // standard error is 0.2083 / sqrt(sum (i - 13)^2 = 1638) = 0.005147, so the trend
        // shows from 1.5 * 0.005147 = 0.0077 a day.
        let ramp = |r: f64| -> Vec<f64> {
            (0..27)
                .map(|t| (if t % 2 == 0 { 110.0 } else { 90.0 }) * (r * t as f64).exp())
                .collect()
        };
        assert!(!trend_shows(&ramp(0.0)));
        assert!(!trend_shows(&ramp(0.0075)));
        assert!(trend_shows(&ramp(0.0080)));
        // Down as well as up: a decline is a trend.
        assert!(!trend_shows(&ramp(-0.0075)));
        assert!(trend_shows(&ramp(-0.0080)));
        // Only the last six weeks count: a ramp that has flattened shows none.
        let mut flattened: Vec<f64> = (0..60).map(|t| 100.0 + 10.0 * t as f64).collect();
        flattened.extend((0..42).map(|t| if t % 2 == 0 { 770.0 } else { 630.0 }));
        assert!(!trend_shows(&flattened));
        // No noise at all: any move shows, none does not.
        assert!(trend_shows(
            &(0..42).map(|t| 100.0 + t as f64).collect::<Vec<_>>()
        ));
        assert!(!trend_shows(&[100.0; 42]));
        assert!(!trend_shows(&[100.0, 200.0]));
    }

    #[test]
    fn a_rise_that_has_slowed_to_under_a_third_shows_no_trend() {
        // No noise, so any slope shows: 42 days rising 0.03 a day in log spend, then 42
        // rising r a day. Under 0.03 / SLOWED = 0.01 the curve is flattening out.
        let curve = |r: f64| -> Vec<f64> {
            (0..84usize)
                .map(|t| {
                    let log = 0.03 * t.min(42) as f64 + r * t.saturating_sub(42) as f64;
                    100.0 * log.exp()
                })
                .collect()
        };
        assert!(!trend_shows(&curve(0.0099)));
        assert!(trend_shows(&curve(0.0101)));
        // A ramp steady in log, or speeding up, goes on.
        assert!(trend_shows(&curve(0.03)));
        assert!(trend_shows(&curve(0.06)));
        // A decline after a rise has not slowed: it has turned, and is a trend.
        assert!(trend_shows(&curve(-0.02)));
        // The six weeks before count only when they are all there.
        assert!(trend_shows(&curve(0.0099)[1..]));
    }

    #[test]
    fn a_saturated_curve_is_forecast_without_the_trend_methods() {
        // An adoption curve: a ramp from $100 to $700 over 60 days, then six weeks flat
        // (about $700, alternating $770/$630). The trend methods fitted to the ramp would
        // carry it on; the forecast is the level.
        let mut y: Vec<f64> = (0..60).map(|t| 100.0 + 10.0 * t as f64).collect();
        y.extend((0..42).map(|t| if t % 2 == 0 { 770.0 } else { 630.0 }));
        let f = forecast(&y, 30);
        assert!(
            !f.blend
                .0
                .iter()
                .any(|m| matches!(m, Method::Ets | Method::EtsLog)),
            "{}",
            f.blend.label()
        );
        let p50 = total(&f.p50);
        assert!(
            (p50 - 21_000.0).abs() < 21_000.0 * 0.05,
            "{p50} by {}",
            f.blend.label()
        );
    }

    #[test]
    fn a_steady_series_forecasts_its_level_and_a_narrow_range() {
        let y = vec![100.0; 60];
        let f = forecast(&y, 30);
        let t = total(&f.p50);
        assert!((t - 3000.0).abs() < 30.0, "{t} by {:?}", f.method);
        assert!(total(&f.p10) <= t && t <= total(&f.p90));
        assert!(total(&f.p90) / t < 1.2, "{:?}", f.spread);
    }

    #[test]
    fn the_range_is_at_least_what_the_series_daily_noise_gives_and_no_wider_on_a_calm_one() {
        // Days alternating 10% above and below $100: every day-to-day change of log
        // spend (1% of the mean day added) is ln(111/91) = 0.19867, a noise of
        // 0.19867 * 1.4826 / sqrt(2) = 0.2083 (under four weeks, no weekday pattern
        // is taken out). 30 days ahead the floor is then
        // 1.0 * 0.2083 * sqrt(1/30 + 1/56) = 0.0470 of cumulative spend (FLOOR_Z).
        let y: Vec<f64> = (0..84)
            .map(|t| if t % 2 == 0 { 110.0 } else { 90.0 })
            .collect();
        let noise = day_noise(&weekday_adjusted_log(&y[..27]));
        assert!((noise - 0.2083).abs() < 0.0005, "{noise}");
        assert!((noise_floor(noise, 30) - 0.0470).abs() < 0.0005);
        // The forecast measures the noise on its last eight weeks, the weekday pattern
        // taken out (part of the alternation is in it).
        let noise = day_noise(&weekday_adjusted_log(&y[y.len() - LEVEL_DAYS..]));
        let floor = noise_floor(noise, 30);
        assert!(floor > 0.02, "{floor}");
        let f = forecast(&y, 30);
        let (p10, p50, p90) = (total(&f.p10), total(&f.p50), total(&f.p90));
        assert!((p50 - 3000.0).abs() < 30.0, "{p50}");
        assert!((p90 / p50).ln() >= floor - 1e-9, "{p90} / {p50}");
        assert!((p10 / p50).ln() <= -floor + 1e-9, "{p10} / {p50}");
        // The same level with no noise: no wider than its (empty) residuals and noise.
        let calm = forecast(&[100.0; 84], 30);
        assert!(
            total(&calm.p90) - total(&calm.p10) < 1e-6,
            "{:?}",
            calm.spread
        );
    }

    #[test]
    fn the_range_is_in_order_day_by_day_on_one_sided_residuals_and_intermittent_spend() {
        let in_order = |f: &Forecast| {
            for i in 0..f.p50.len() {
                assert!(
                    f.p10[i] <= f.p50[i] && f.p50[i] <= f.p90[i],
                    "day {i}: {f:?}"
                );
            }
        };
        // A 30% rise (under a level shift's step) 24 days ago: no day-to-day noise at
        // all, and every origin under-forecast or (before the rise) hit exactly, so no
        // residual is negative and the low quantile is not below zero.
        let mut y = vec![100.0; 60];
        y.extend([130.0; 24]);
        let f = forecast(&y, 30);
        in_order(&f);
        assert!(f.spread.0 > -1e-9, "{:?}", f.spread);
        // Two days on, one off: the noise read is large (ln 101 a change), but taken at
        // MAX_NOISE, so tomorrow's P90 is at most e^(1.0 * sqrt(1 + 1/56)) = 2.74
        // times the P50, and 30 days out the floor is 1.0 * 0.2259 = 0.226.
        let y: Vec<f64> = (0..84)
            .map(|t| if t % 3 == 2 { 0.0 } else { 100.0 })
            .collect();
        let f = forecast(&y, 30);
        in_order(&f);
        assert!(
            f.p90[0] <= 2.75 * f.p50[0] + 1e-9,
            "{} {}",
            f.p90[0],
            f.p50[0]
        );
        assert!((noise_floor(10.0, 30) - 0.226).abs() < 0.001);
    }

    #[test]
    fn the_calibration_measures_how_the_errors_grow_with_the_days_ahead() {
        // 140 days of $100, and the blend's forecasts from origins 7 to 112 days back
        // erring by a log ratio of cumulative spend of 0.002 * j^g, j days ahead: g = 1
        // (a trend misread: the error grows with the days) or g = 0 (a level misread).
        let y = vec![100.0; 140];
        let origins = |g: f64, ks: &[usize]| -> Vec<(usize, Vec<f64>)> {
            let cum = |j: usize| 100.0 * j as f64 * (-0.002 * (j as f64).powf(g)).exp();
            ks.iter()
                .map(|&k| (k, (1..=k).map(|j| cum(j) - cum(j - 1)).collect()))
                .collect()
        };
        let all = [7, 14, 21, 28, 56, 84, 112];
        let trend = Calibration::measure(&y, &origins(1.0, &all));
        assert!(trend.exponent > 0.95, "{trend:?}");
        // Each residual is 0.002 j: per j^exponent about 0.002, widened.
        assert!(
            (trend.spread.1 / RESIDUAL_WIDEN - 0.002).abs() < 0.0004,
            "{trend:?}"
        );
        // A level misread errs as much a week ahead as two months ahead.
        let level = Calibration::measure(&y, &origins(0.0, &all));
        assert!(level.exponent < 1e-9, "{level:?}");
        assert!(
            (level.spread.0 - 0.002 * RESIDUAL_WIDEN).abs() < 1e-9
                && (level.spread.1 - 0.002 * RESIDUAL_WIDEN).abs() < 1e-9,
            "{level:?}"
        );
        // The holdouts alone measure two spans (7-13 and 14-27 days ahead): the growth
        // they show is shrunk two thirds of the way to the usual one. Their pairs sit low
        // in the second span (mean 19.1 days against its middle 21), so the slope reads
        // ln(19.1 / 10) / ln(21 / 10.5) = 0.934 there.
        let short = Calibration::measure(&y, &origins(1.0, &all[..4]));
        let expected = 0.934 / 3.0 + 2.0 / 3.0 * GROWTH_EXPONENT;
        assert!((short.exponent - expected).abs() < 0.01, "{short:?}");
        // Fewer than seven pairs: the default spread, growing with the fourth root.
        let none = Calibration::measure(&y[..20], &origins(1.0, &[7]));
        assert_eq!(none.spread, (-DEFAULT_SPREAD, DEFAULT_SPREAD));
        assert_eq!(none.exponent, UNMEASURED_EXPONENT);
        // Beyond the furthest day ahead measured (112 here) the range grows no faster
        // than the square root of the days: a year ahead is not the measured power law
        // carried on.
        assert_eq!(trend.measured_to, 112);
        let year = trend.scale(365) / trend.scale(112);
        assert!((year - (365.0f64 / 112.0).sqrt()).abs() < 1e-9, "{year}");
        assert!((trend.scale(56) - 56f64.powf(trend.exponent)).abs() < 1e-9);
    }

    #[test]
    fn a_linear_ramp_is_followed_not_averaged() {
        // 10, 20, .. 600 a day: the next 30 days at 610..900 sum to 22,650.
        let y: Vec<f64> = (1..=60).map(|i| i as f64 * 10.0).collect();
        let f = forecast(&y, 30);
        let t = total(&f.p50);
        assert!(
            (t - 22_650.0).abs() / 22_650.0 < 0.1,
            "{t} by {:?}",
            f.method
        );
        // The trailing mean (535 a day) would say 16,050.
        assert!(total(&f.p90) >= 22_650.0 * 0.95);
    }

    #[test]
    fn a_one_day_spike_does_not_move_the_forecast() {
        let mut y = vec![100.0; 60];
        y[50] = 5000.0;
        let f = forecast(&y, 30);
        let t = total(&f.p50);
        assert!((t - 3000.0).abs() < 150.0, "{t} by {:?}", f.method);
    }

    #[test]
    fn a_step_launch_is_followed_at_its_new_level() {
        let mut y = vec![100.0; 40];
        y.extend(vec![400.0; 20]);
        let f = forecast(&y, 30);
        let t = total(&f.p50);
        assert!(
            (t - 12_000.0).abs() / 12_000.0 < 0.1,
            "{t} by {:?}",
            f.method
        );
    }

    #[test]
    fn a_weekly_pattern_keeps_its_weekly_total() {
        let y: Vec<f64> = (0..56)
            .map(|i| if i % 7 >= 5 { 20.0 } else { 120.0 })
            .collect();
        let f = forecast(&y, 28);
        let t = total(&f.p50);
        // Four weeks of 5 x 120 + 2 x 20 = 2,560.
        assert!((t - 2560.0).abs() / 2560.0 < 0.05, "{t} by {:?}", f.method);
    }

    #[test]
    fn a_day_far_above_its_forecast_is_beyond_its_noise_and_an_ordinary_day_is_not() {
        // Noisy around 100 (+-10%), then 400 on the last day.
        let mut y: Vec<f64> = (0..60)
            .map(|i| 100.0 + ((i * 37) % 21) as f64 - 10.0)
            .collect();
        let (p50, p99) = one_day_ahead(&y, Method::Ets, 0, &How::detect()).unwrap();
        assert!((p50 - 100.0).abs() < 15.0, "{p50}");
        assert!(p99 > y[59] && p99 < 160.0, "{p99}");
        y[59] = 400.0;
        let (_, p99) = one_day_ahead(&y, Method::Ets, 0, &How::detect()).unwrap();
        assert!(y[59] > p99);
        assert_eq!(
            one_day_ahead(&y[..10], Method::Ets, 0, &How::detect()),
            None
        );
    }

    #[test]
    fn the_level_starts_after_a_launch_and_not_inside_a_steady_or_weekly_series() {
        let noisy = |i: usize| 1.0 + (((i * 37) % 21) as f64 - 10.0) / 100.0;
        let mut y: Vec<f64> = (0..60).map(|i| 100.0 * noisy(i)).collect();
        assert_eq!(level_start(&y), 0);
        let weekly: Vec<f64> = (0..84)
            .map(|i| if i % 7 >= 5 { 20.0 } else { 120.0 } * noisy(i))
            .collect();
        assert_eq!(level_start(&weekly), 0);
        // Under four weeks the weekday pattern stays in: a weekend at the end of the
        // data is not a step down (ending on a Monday, 20 days).
        let short: Vec<f64> = (0..20)
            .map(|i| {
                if i % 7 == 4 || i % 7 == 5 {
                    20.0
                } else {
                    120.0
                }
            })
            .collect();
        assert_eq!(level_start(&short), 0);
        y.extend((60..80).map(|i| 400.0 * noisy(i)));
        assert_eq!(level_start(&y), 60);
        // The level method then averages the 14 whole days since the launch.
        let f = point(Method::Level, &y, 3).unwrap();
        let since: f64 = y[66..80].iter().sum::<f64>() / 14.0;
        assert!((f[0] - since).abs() < 1e-9, "{f:?} against {since}");
    }

    #[test]
    fn despike_flattens_an_isolated_day_but_not_a_step() {
        let mut y = vec![10.0; 20];
        y[10] = 100.0;
        assert_eq!(despike(&y)[10], 10.0);
        let step: Vec<f64> = (0..20).map(|i| if i < 10 { 10.0 } else { 50.0 }).collect();
        assert_eq!(despike(&step), step);
    }
}
