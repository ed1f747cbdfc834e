//! Optimisation hints: every lever of every workload's models (`levers`), priced on the
//! bill's own tokens at the table's prices, with what it does to the funding award drawn
//! through the burn model; and, for an award on course to be forfeited, pulling work
//! forward. Pure.
//!
//! "A month" is the last 30 days of data (`analysis::RECENT_DAYS`, to `as_of` or the last
//! day of data, whichever is earlier) repeated. A hint's runway effect is the burn model
//! run again (`burn::Projector::workload_p50`: the drawdown with the stacked awards,
//! tranches and the forecast's P50) with the lever's cut applied to the workload's spend
//! from `hints.start_after_days` after `as_of`, read on the award paying the workload
//! when the lever starts (the first in the drawdown order the P50 has not emptied by
//! then): `runway_days_gained` is how much later it runs out (to its expiry, when it then
//! lasts), `unused_at_expiry_change` how much more it leaves unused.

use chrono::NaiveDate;
use serde::Serialize;

use crate::analyse::analysis::{AwardStatus, WorkloadSpend};
use crate::analyse::burn::{Adjust, Projector};
use crate::analyse::levers::{self, Context, Lever};
use crate::analyse::project::Status;
use crate::analyse::tokens::{ModelCheck, PriceCheck};
use crate::config::Config;
use crate::model::money::{cents, cents_option, money};

pub use crate::analyse::levers::{Cut, HintKind, PriceUsed, Saving};

/// The ends of a saving's spread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Range {
    #[serde(serialize_with = "cents")]
    pub low: f64,
    #[serde(serialize_with = "cents")]
    pub high: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hint {
    /// Its place in the report's list, from 1 (`creditburn what-if --hint N`).
    pub number: usize,
    pub kind: HintKind,
    pub workload: Option<String>,
    /// The award paying the workload when the lever starts (its runway figures are
    /// that award's), else the one paying it now; for `pull_work_forward`, the award.
    pub award: Option<String>,
    /// The bill's name for the model (`Claude4.6Sonnet`).
    pub model: Option<String>,
    /// The price table's id for the model (`claude-sonnet-4.6`), when it knows it.
    pub model_id: Option<String>,
    /// For `pull_work_forward`: the workload that could absorb the spend.
    pub absorbed_by: Option<String>,
    /// Dollars a month saved (the middle of the assumption's spread); for
    /// `pull_work_forward`, the dollars that would otherwise be forfeited.
    #[serde(serialize_with = "cents")]
    pub monthly_saving: f64,
    pub monthly_saving_range: Range,
    /// Days later the award runs out with the lever applied (to its expiry when it then
    /// lasts); null when the award does not run out before expiry anyway, or when AWS
    /// has already drawn it to nothing for other spend (the days would be its workloads'
    /// view only: the invoice gains none).
    pub runway_days_gained: Option<f64>,
    /// How much more the award leaves unused at expiry with the lever applied, as AWS
    /// draws it: at most what AWS forfeits (0 when AWS spends the award anyway).
    #[serde(serialize_with = "cents_option")]
    pub unused_at_expiry_change: Option<f64>,
    /// What on the bill set it off.
    pub trigger: String,
    /// The saving worked out in words.
    pub arithmetic: String,
    pub assumptions: Vec<String>,
    /// The prices it used, with their sources.
    pub prices: Vec<PriceUsed>,
    pub usage_types: Vec<String>,
    /// The price check of the model it acts on.
    pub price_check: Option<PriceCheck>,
    /// One sentence for people.
    pub text: String,
    /// What it saves per line of the bill.
    #[serde(skip)]
    pub cuts: Vec<Cut>,
}

impl Hint {
    /// What the hint is worth, in its own terms.
    pub(crate) fn worth(&self) -> String {
        match self.kind {
            HintKind::PullWorkForward => format!("{} at stake", money(self.monthly_saving)),
            _ => format!("{} a month", money(self.monthly_saving)),
        }
    }
}

/// The hints, largest first, and per workload every lever together.
#[derive(Debug, Clone, Default)]
pub struct Advice {
    pub hints: Vec<Hint>,
    /// Per workload with a lever: the saving of all its levers applied together.
    pub combined: Vec<(String, Saving)>,
}

/// Every hint the workloads' last 30 days and the awards' forecasts support.
///
/// `projector` draws the runway effects (None: not drawn); `as_of` dates the levers'
/// start (`hints.start_after_days` after it).
pub fn advise(
    workloads: &[WorkloadSpend],
    awards: &[AwardStatus],
    config: &Config,
    projector: Option<&Projector>,
    as_of: NaiveDate,
) -> Advice {
    let mut advice = Advice::default();
    let from = start_date(config, projector, as_of);
    for w in workloads {
        let Some(workload) = config.workload(&w.name) else {
            continue;
        };
        let ctx = Context::of(workload, &config.hints, &config.prices);
        let levers: Vec<(Lever, &ModelCheck)> = w
            .models
            .iter()
            .flat_map(|m| levers::all(&ctx, m).into_iter().map(move |l| (l, m)))
            .collect();
        if levers.is_empty() {
            continue;
        }
        let all: Vec<Lever> = levers.iter().map(|(l, _)| l.clone()).collect();
        advice
            .combined
            .push((w.name.clone(), levers::combined(&all)));
        let drawn = Drawn {
            projector,
            awards,
            from,
            tolerance_percent: config.alerts.drift_tolerance_percent,
        };
        advice.hints.extend(
            levers
                .into_iter()
                .filter(|(l, _)| l.saving().mid >= config.hints.min_monthly_saving)
                .map(|(l, m)| lever_hint(w, l, m, &drawn)),
        );
    }
    advice
        .hints
        .extend(pull_work_forward(workloads, awards, config));
    advice.hints.sort_by(|a, b| {
        b.monthly_saving
            .total_cmp(&a.monthly_saving)
            .then(a.kind.cmp(&b.kind))
            .then(a.workload.cmp(&b.workload))
            .then(a.model.cmp(&b.model))
    });
    for (i, h) in advice.hints.iter_mut().enumerate() {
        h.number = i + 1;
    }
    advice
}

/// What a hint's runway effect is drawn with: the burn model (None: not drawn), the
/// awards, and the day levers start.
struct Drawn<'a> {
    projector: Option<&'a Projector>,
    awards: &'a [AwardStatus],
    from: Option<NaiveDate>,
    /// Within it, the workload and account views' forfeits agree.
    tolerance_percent: f64,
}

/// One lever of workload `w`'s model `m` as a hint, its runway effect drawn.
fn lever_hint(w: &WorkloadSpend, lever: Lever, m: &ModelCheck, drawn: &Drawn) -> Hint {
    let saving = lever.saving();
    let paying = match (drawn.projector, drawn.from) {
        (Some(p), Some(from)) => paying_on(p, w, drawn.awards, from),
        _ => None,
    };
    let award = paying
        .map(|c| drawn.awards[c].id.clone())
        .or(w.award.clone());
    let (gained, unused_change) = match (drawn.projector, drawn.from, paying) {
        (Some(p), Some(from), Some(c)) => {
            let a = &drawn.awards[c];
            let (gained, more) = runway_effect(p, w, a, c, &lever.cuts, from);
            // What is forfeited is AWS's balance at expiry: none more when AWS's order
            // spends the award anyway (the saving is then real money), and at most
            // what AWS forfeits.
            let more = match a.forfeit_as_aws_draws(drawn.tolerance_percent) {
                Some(aws) => more.map(|m| m.min(aws)),
                None => more,
            };
            // Days gained on an award AWS has already drawn to nothing for other spend
            // are days of its workloads' view only: the invoice gains none.
            let gained = gained.filter(|_| a.account_view.remaining >= 0.005);
            (gained, more)
        }
        _ => (None, None),
    };
    let notes = [
        effect_words(award.as_deref(), drawn.awards, gained, unused_change),
        model_note(m),
    ];
    Hint {
        number: 0,
        kind: lever.kind,
        workload: Some(w.name.clone()),
        award,
        model: Some(lever.model.clone()),
        model_id: lever.model_id.clone(),
        absorbed_by: None,
        monthly_saving: saving.mid,
        monthly_saving_range: Range {
            low: saving.low,
            high: saving.high,
        },
        runway_days_gained: gained,
        unused_at_expiry_change: unused_change,
        text: format!(
            "{}: {}; about {} a month{}{}",
            w.name,
            lever.action,
            money(saving.mid),
            if saving.low != saving.high {
                format!(" ({} to {})", money(saving.low), money(saving.high))
            } else {
                String::new()
            },
            notes
                .into_iter()
                .flatten()
                .map(|n| format!("; {n}"))
                .collect::<String>()
        ),
        usage_types: lever.usage_types(),
        price_check: Some(m.price_check),
        trigger: lever.trigger,
        arithmetic: lever.arithmetic,
        assumptions: lever.assumptions,
        prices: lever.prices,
        cuts: lever.cuts,
    }
}

/// What a saving does to the funding award, when it matters to finance: runway gained
/// before it runs out, or more of it forfeited at expiry (as AWS draws it).
fn effect_words(
    award: Option<&str>,
    awards: &[AwardStatus],
    gained: Option<f64>,
    unused_change: Option<f64>,
) -> Option<String> {
    let a = awards.iter().find(|a| Some(a.id.as_str()) == award)?;
    match (gained, unused_change) {
        (Some(d), _) if d >= 1.0 => Some(format!(
            "{} then runs out {d:.0} day{} later",
            a.id,
            if d == 1.0 { "" } else { "s" }
        )),
        (_, Some(more)) if more >= 0.005 && a.status == Status::ForfeitRisk => Some(format!(
            "but {} is on course to be forfeited, so this leaves {} more of it unused at expiry",
            a.id,
            money(more)
        )),
        _ => None,
    }
}

/// What a hint on a model must say of its prices: a bill off list, lines unpriced.
fn model_note(m: &ModelCheck) -> Option<String> {
    match m.price_check {
        PriceCheck::Ok => None,
        PriceCheck::Mismatch => Some(match m.bill_vs_list_percent {
            Some(p) => format!(
                "priced from list-price ratios, and your bill is {:.0}% {} list for this model: the saving assumes that carries over",
                p.abs(),
                if p < 0.0 { "below" } else { "above" }
            ),
            None => "priced from list-price ratios, and your bill does not match the list price for this model".into(),
        }),
        PriceCheck::Unpriced => {
            let n = m.token_lines().filter(|l| l.price.is_none()).count();
            Some(format!(
                "{} of this model {} no price in the table and {} left out",
                crate::model::text::count(n as u64, "usage type", "usage types"),
                if n == 1 { "has" } else { "have" },
                if n == 1 { "is" } else { "are" }
            ))
        }
    }
}

/// Every lever the bill prices on `w`'s models (none when the workload is not in the
/// config).
pub fn levers_of(config: &Config, w: &WorkloadSpend) -> Vec<Lever> {
    let Some(cw) = config.workload(&w.name) else {
        return Vec::new();
    };
    let ctx = Context::of(cw, &config.hints, &config.prices);
    w.models.iter().flat_map(|m| levers::all(&ctx, m)).collect()
}

/// Every lever on `w` applied together, as cuts on its lines (`levers::combined_cuts`).
pub fn all_cuts(config: &Config, w: &WorkloadSpend) -> Vec<Cut> {
    levers::combined_cuts(&levers_of(config, w))
}

/// The first day a lever saves: `hints.start_after_days` after `as_of`, and after the
/// last day of data (a lever changes spend to come).
pub fn start_date(
    config: &Config,
    projector: Option<&Projector>,
    as_of: NaiveDate,
) -> Option<NaiveDate> {
    let after = as_of.checked_add_days(chrono::Days::new(
        config.hints.start_after_days.max(0) as u64
    ))?;
    let data = projector.map(|p| p.end()).unwrap_or(as_of).succ_opt()?;
    Some(after.max(data))
}

/// The cut a lever makes on its workload's spend, as the burn model takes it: per kind
/// (service, Marketplace) the share of its last 30 days' spend saved.
pub fn adjust_of(w: &WorkloadSpend, cuts: &[Cut], from: NaiveDate) -> Adjust {
    use std::collections::BTreeMap;
    let mut saved: BTreeMap<(String, bool), f64> = BTreeMap::new();
    for c in cuts {
        *saved.entry((c.service.clone(), c.marketplace)).or_default() += c.cost * c.rate[1];
    }
    let spend_of = |service: &str, marketplace: bool| -> f64 {
        w.bedrock_usage
            .iter()
            .filter(|u| {
                u.service == service
                    && crate::model::usage_type::is_marketplace(&u.service, &u.usage_type)
                        == marketplace
            })
            .map(|u| u.last_30_days)
            .sum()
    };
    Adjust {
        workload: w.name.clone(),
        from,
        cuts: saved
            .into_iter()
            .filter_map(|((service, marketplace), s)| {
                let spend = spend_of(&service, marketplace);
                (spend > 0.0).then(|| (service, marketplace, (s / spend).clamp(0.0, 1.0)))
            })
            .collect(),
    }
}

/// The award paying the workload on `from`: of the awards funding it and active that
/// day, the first in the drawdown order that the model's P50 has not emptied by then.
fn paying_on(
    projector: &Projector,
    w: &WorkloadSpend,
    awards: &[AwardStatus],
    from: NaiveDate,
) -> Option<usize> {
    projector.order().iter().copied().find(|&c| {
        awards.get(c).is_some_and(|a| {
            a.workloads.contains(&w.name)
                && a.start_date <= from
                && from <= a.expiry_date
                && a.status != Status::Expired
                && a.forecast.exhaustion_date.p50.is_none_or(|d| d > from)
        })
    })
}

/// Award `c`'s runway gained and unused change when `cuts` apply from `from`.
fn runway_effect(
    projector: &Projector,
    w: &WorkloadSpend,
    award: &AwardStatus,
    c: usize,
    cuts: &[Cut],
    from: NaiveDate,
) -> (Option<f64>, Option<f64>) {
    let after = projector.workload_p50(&adjust_of(w, cuts, from));
    let Some(Some(after)) = after.get(c) else {
        return (None, None);
    };
    let before = (
        award.forecast.exhaustion_date.p50,
        award.forecast.unused_at_expiry.p50,
    );
    let gained = before.0.map(|d0| {
        let d1 = after.exhaustion.unwrap_or(award.expiry_date);
        (d1 - d0).num_days() as f64
    });
    (gained, Some(after.unused_at_expiry - before.1))
}

/// Awards on course to be forfeited: the advice reverses. The workload named to absorb
/// the spend is the award's non-interactive one with the most spend in the last 30
/// days (evaluations, re-indexing and backfills run there), else its largest.
fn pull_work_forward(
    workloads: &[WorkloadSpend],
    awards: &[AwardStatus],
    config: &Config,
) -> Vec<Hint> {
    let mut out = Vec::new();
    for a in awards {
        if a.status != Status::ForfeitRisk || a.days_left <= 0 {
            continue;
        }
        // What AWS forfeits is its own balance at expiry (P50 only), when that differs
        // from the workload view's figure.
        let aws = a.forfeit_as_aws_draws(config.alerts.drift_tolerance_percent);
        let unused = aws.unwrap_or(a.projected_unused_at_expiry);
        if unused < config.hints.min_monthly_saving {
            continue;
        }
        let per_day = unused / a.days_left as f64;
        let absorber = workloads
            .iter()
            .filter(|w| a.workloads.contains(&w.name))
            .max_by(|x, y| {
                (!x.interactive)
                    .cmp(&!y.interactive)
                    .then(x.last_30_days.total_cmp(&y.last_30_days))
            });
        let who = match absorber {
            Some(w) if !w.interactive => format!(
                "{} (not interactive: evaluations, re-indexing and backfills fit there) could absorb it",
                w.name
            ),
            Some(w) => format!("{} could absorb it", w.name),
            None => "its workloads could absorb it".into(),
        };
        out.push(Hint {
            number: 0,
            kind: HintKind::PullWorkForward,
            workload: None,
            award: Some(a.id.clone()),
            model: None,
            model_id: None,
            absorbed_by: absorber.map(|w| w.name.clone()),
            monthly_saving: unused,
            monthly_saving_range: match aws {
                Some(_) => Range {
                    low: unused,
                    high: unused,
                },
                None => Range {
                    low: a.forecast.unused_at_expiry.p10,
                    high: a.forecast.unused_at_expiry.p90,
                },
            },
            runway_days_gained: None,
            unused_at_expiry_change: Some(-unused),
            trigger: match aws {
                Some(_) => format!(
                    "award {} is on course to leave {} unused when it expires on {}, as AWS draws it over the whole account (P50; its workloads' own figures leave {})",
                    a.id,
                    money(unused),
                    a.expiry_date,
                    money(a.projected_unused_at_expiry)
                ),
                None => format!(
                    "award {} is on course to leave {} unused when it expires on {} (forecast P50; P10 {}, P90 {})",
                    a.id,
                    money(unused),
                    a.expiry_date,
                    money(a.forecast.unused_at_expiry.p10),
                    money(a.forecast.unused_at_expiry.p90)
                ),
            },
            arithmetic: format!(
                "{} / {} days left = {} a day more",
                money(unused),
                a.days_left,
                money(per_day)
            ),
            assumptions: vec![
                "planned work (evaluations, re-indexing, backfills) can run earlier than planned".into(),
            ],
            prices: Vec::new(),
            usage_types: Vec::new(),
            price_check: None,
            text: format!(
                "{} of award {} will be forfeited on {} at the current pace; {who} by pulling planned work forward, about {} a day more",
                money(unused),
                a.id,
                a.expiry_date,
                money(per_day)
            ),
            cuts: Vec::new(),
        });
    }
    out
}
