//! The per-award arithmetic, pure and free of polars: from an award's daily covered
//! spend to its balance, burn, runway, exhaustion date and unused balance at expiry
//! (`project`), and when those figures look like a configuration mistake
//! (`no_data_reasons`). Every date is computed with checked arithmetic.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `as_of` is before the award's start.
    NotStarted,
    OnTrack,
    /// At the current burn the award runs out more than `slack_days` before expiry; the
    /// spend after that is paid out of pocket.
    ExhaustionRisk,
    /// At the current burn, money that would last more than `slack_days` is left at
    /// expiry and forfeited.
    ForfeitRisk,
    /// Consumed has reached the amount before expiry.
    Exhausted,
    /// `as_of` is after the expiry date.
    Expired,
    /// The award's figures probably come from a configuration mistake, not from its
    /// spend: its workloads match no spend while other spend is unattributed, or the
    /// verdict would be a forfeit while their `services` exclude spend their rules
    /// match, or a rule names a tag key the data has no values for. No forfeit alert is
    /// sent on such a number; `no_data_reasons` says why.
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not_started",
            Status::OnTrack => "on_track",
            Status::ExhaustionRisk => "exhaustion_risk",
            Status::ForfeitRisk => "forfeit_risk",
            Status::Exhausted => "exhausted",
            Status::Expired => "expired",
            Status::NoData => "no_data",
        }
    }
}

/// What hints that an award's figures come from a configuration mistake.
pub struct Suspicion<'a> {
    /// The status the projection gives.
    pub status: Status,
    /// All spend of the funded workloads in the award's period, covered or not.
    pub matched: f64,
    /// Usage no workload took, in the award's period.
    pub unattributed: f64,
    /// Spend the funded workloads' rules match but their services exclude, in the period.
    pub excluded: f64,
    /// Tag keys the funded workloads' rules name that have no value in the data.
    pub dead_keys: &'a [&'a str],
    pub workloads: &'a [String],
    pub start: NaiveDate,
}

/// Unattributed spend below this (in the award's period) is too little to suspect the
/// rules of missing it.
pub(crate) const MIN_UNATTRIBUTED: f64 = 1.0;

/// Why an award's figures are probably a configuration mistake (empty when they are
/// not): its workloads match nothing while spend goes unattributed, or a forfeit verdict
/// rests on rules whose spend the services exclude or on a tag key without values.
pub fn no_data_reasons(s: &Suspicion, unattributed_top: &str) -> Vec<String> {
    if matches!(s.status, Status::NotStarted | Status::Expired) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let names = s.workloads.join(", ");
    if s.matched.abs() < 0.005 && s.unattributed >= MIN_UNATTRIBUTED {
        out.push(format!(
            "its workloads ({names}) match no spend since {} while {} of usage is unattributed; check their rules and services",
            s.start,
            crate::model::money::money(s.unattributed)
        ));
    }
    let doubtful = matches!(s.status, Status::ForfeitRisk) || s.matched.abs() < 0.005;
    if doubtful && s.excluded >= 0.005 {
        out.push(format!(
            "its workloads' rules match {} that their services exclude, so the forfeit figure may be a configuration mistake",
            crate::model::money::money(s.excluded)
        ));
    }
    if doubtful && !s.dead_keys.is_empty() {
        let mut keys: Vec<&str> = s.dead_keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        out.push(format!(
            "a rule of its workloads names tag {}, which has no value in the data (tag keys are case-sensitive)",
            keys.iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !out.is_empty() && !unattributed_top.is_empty() {
        out.push(format!("largest unattributed: {unattributed_top}"));
    }
    out
}

/// What the projection needs to know about one award.
pub struct Inputs<'a> {
    pub amount: f64,
    pub start: NaiveDate,
    pub expiry: NaiveDate,
    /// Covered spend per day (days without spend may be absent).
    pub daily: &'a BTreeMap<NaiveDate, f64>,
    /// The last day the cost data covers: the burn window never reaches past it, so
    /// days with no data yet are not mistaken for days with no spend.
    pub data_through: NaiveDate,
    /// A balance brought forward: (day, consumed before it). The days before it are in
    /// the amount and not read from `daily`; the burn window starts on it at the earliest.
    pub opening: Option<(NaiveDate, f64)>,
}

impl Inputs<'_> {
    /// The first day `daily` counts, and what was consumed before it.
    fn opening(&self) -> (NaiveDate, f64) {
        self.opening
            .map_or((self.start, 0.0), |(d, v)| (d.max(self.start), v))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub consumed: f64,
    pub daily_burn: f64,
    /// The lowest and highest trailing mean over 7 days, the window, and 28 days: the
    /// projection's range (a ramp shows as a high short-window mean).
    pub burn_range: (f64, f64),
    pub burn_window_days: i64,
    pub days_left: i64,
    pub runway_days: Option<f64>,
    pub exhaustion_date: Option<NaiveDate>,
    pub unused_at_expiry: f64,
    pub status: Status,
}

/// The arithmetic of one award, as of the end of `as_of`:
/// - consumed: covered spend from start to min(as_of, expiry);
/// - daily burn: consumed over the last `window` days ending at min(as_of, expiry, the
///   last day of data), fewer if the award is younger, divided by the number of days;
/// - runway: remaining / burn; the balance runs out on as_of + ceil(runway) days;
/// - days left: expiry - as_of (the days still to come, expiry included);
/// - unused at expiry: remaining - burn * days left, at least 0;
/// - status: exhausted if nothing remains; exhaustion risk if runway < days left - slack;
///   forfeit risk if runway > days left + slack (or the burn is zero); else on track.
pub fn project(inputs: &Inputs, as_of: NaiveDate, window: i64, slack: i64) -> Projection {
    let end = as_of.min(inputs.expiry).max(inputs.start);
    let days_left = (inputs.expiry - as_of).num_days().max(0);

    if as_of < inputs.start {
        return Projection {
            consumed: 0.0,
            daily_burn: 0.0,
            burn_window_days: 0,
            days_left,
            runway_days: None,
            exhaustion_date: None,
            unused_at_expiry: inputs.amount,
            status: Status::NotStarted,
            burn_range: (0.0, 0.0),
        };
    }
    let (from, opening) = inputs.opening();
    let consumed: f64 = opening + inputs.daily.range(from..=end).map(|(_, v)| v).sum::<f64>();
    let remaining = (inputs.amount - consumed).max(0.0);
    let window_end = end.min(inputs.data_through).max(from);
    let back = |days: i64| {
        window_end
            .checked_sub_days(chrono::Days::new(days.clamp(1, 3660) as u64 - 1))
            .unwrap_or(from)
            .max(from)
    };
    let window_start = back(window);
    let burn_window_days = (window_end - window_start).num_days() + 1;
    let window_spend: f64 = inputs
        .daily
        .range(window_start..=window_end)
        .map(|(_, v)| v)
        .sum();
    let daily_burn = window_spend / burn_window_days as f64;
    let trailing = |days: i64| {
        let from = back(days);
        let n = (window_end - from).num_days() + 1;
        inputs
            .daily
            .range(from..=window_end)
            .map(|(_, v)| v)
            .sum::<f64>()
            / n as f64
    };
    let means = [trailing(7), daily_burn, trailing(28)];
    let burn_range = (
        means.iter().copied().fold(f64::INFINITY, f64::min),
        means.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );

    if as_of > inputs.expiry {
        return Projection {
            consumed,
            daily_burn,
            burn_window_days,
            days_left: 0,
            runway_days: None,
            exhaustion_date: ran_out_on(inputs, end),
            unused_at_expiry: remaining,
            status: Status::Expired,
            burn_range,
        };
    }
    if remaining <= 0.0 {
        return Projection {
            consumed,
            daily_burn,
            burn_window_days,
            days_left,
            runway_days: Some(0.0),
            exhaustion_date: ran_out_on(inputs, end),
            unused_at_expiry: 0.0,
            status: Status::Exhausted,
            burn_range,
        };
    }
    let runway = (daily_burn > 0.0).then(|| remaining / daily_burn);
    // A runway longer than the days left is "not before expiry", however long it is: the
    // date is computed only when it falls before expiry, so no runway can overflow it.
    let exhaustion_date = runway
        .map(f64::ceil)
        .filter(|r| *r <= days_left as f64)
        .and_then(|r| as_of.checked_add_days(chrono::Days::new(r as u64)));
    let unused_at_expiry = (remaining - daily_burn * days_left as f64).max(0.0);
    let status = match runway {
        Some(r) if r < days_left.saturating_sub(slack) as f64 => Status::ExhaustionRisk,
        Some(r) if r <= days_left.saturating_add(slack) as f64 => Status::OnTrack,
        _ => Status::ForfeitRisk,
    };
    Projection {
        consumed,
        daily_burn,
        burn_range,
        burn_window_days,
        days_left,
        runway_days: runway,
        exhaustion_date,
        unused_at_expiry,
        status,
    }
}

/// The day cumulative covered spend (from the opening, if any) first reached the amount,
/// if it has.
fn ran_out_on(inputs: &Inputs, end: NaiveDate) -> Option<NaiveDate> {
    let (from, mut total) = inputs.opening();
    if total >= inputs.amount {
        // Used up before the balance was brought forward.
        return from.pred_opt();
    }
    for (day, v) in inputs.daily.range(from..=end) {
        total += v;
        if total >= inputs.amount {
            return Some(*day);
        }
    }
    None
}
