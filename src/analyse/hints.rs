//! Optimisation hints, priced in dollars a month and in runway days. Pure.
//!
//! Each hint is computed from the workload's Bedrock spend over the last 30 days
//! (`analysis::RECENT_DAYS`), so "a month" means the last 30 days' pattern repeated:
//! - batch inference: non-interactive workloads pay about half the on-demand token price
//!   in batch, so the saving is half their on-demand input and output token spend;
//! - prompt caching: a cached read costs ~10% of the input price on Claude and ~25% on
//!   Nova, so the saving is uncached input spend x `cacheable_input_share` x (1 - that
//!   ratio); it is offered where input is at least 40% of the model's token spend and
//!   cache reads are under half of its input tokens (the one-off cache-write premium,
//!   25% on Claude, is left out: it is paid once per prefix);
//! - a smaller tier: the price ratio between tiers (from DOMAIN.md's list prices) applied
//!   to `downsize_share` of the model's token spend;
//! - pull work forward: when an award is on course to be forfeited, the amount at stake
//!   and the extra daily spend that would use it before expiry.

use serde::Serialize;

use crate::analyse::analysis::{AwardStatus, ModelSpend, WorkloadSpend, RECENT_DAYS};
use crate::analyse::project::Status;
use crate::config::HintConfig;
use crate::model::money::cents;
use crate::model::usage_type::TokenKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    BatchInference,
    PromptCaching,
    SmallerModel,
    PullWorkForward,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hint {
    pub kind: HintKind,
    pub workload: Option<String>,
    pub award: Option<String>,
    pub model: Option<String>,
    /// Dollars a month saved; for `pull_work_forward`, the dollars that would otherwise
    /// be forfeited.
    #[serde(serialize_with = "cents")]
    pub monthly_saving: f64,
    /// Days the award's runway grows if the saving is made (null when the award is not
    /// burning or the hint is not a saving).
    pub runway_days_gained: Option<f64>,
    pub text: String,
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

/// Smaller tiers by model-name fragment: (fragment, smaller model, price ratio).
/// Ratios from the list prices in DOMAIN.md (input and output scale alike).
const TIERS: [(&str, &str, f64); 4] = [
    ("opus", "Claude Sonnet", 3.0 / 5.0),
    ("sonnet", "Claude Haiku 4.5", 1.0 / 3.0),
    ("novapro", "Nova Lite", 0.06 / 0.80),
    ("novalite", "Nova Micro", 0.035 / 0.06),
];

/// Price of a cached read relative to uncached input, by model family.
fn cached_read_ratio(model: &str) -> Option<f64> {
    let m = model.to_ascii_lowercase();
    if m.contains("claude") {
        Some(0.10)
    } else if m.contains("nova") {
        Some(0.25)
    } else {
        None
    }
}

fn money(v: f64) -> String {
    crate::model::money::money(v)
}

/// A lever for one workload before pricing: kind, model, monthly saving, sentence.
type Candidate = (HintKind, Option<String>, f64, String);

/// Every hint the workloads' spend and the awards' projections support, largest first.
pub fn hints(
    workloads: &[WorkloadSpend],
    awards: &[AwardStatus],
    config: &HintConfig,
) -> Vec<Hint> {
    let mut out = Vec::new();
    for w in workloads {
        let award = w
            .award
            .as_ref()
            .and_then(|id| awards.iter().find(|a| &a.id == id));
        for (kind, model, saving, text) in candidates(w, config) {
            if saving >= config.min_monthly_saving {
                out.push(Hint {
                    kind,
                    workload: Some(w.name.clone()),
                    award: w.award.clone(),
                    model,
                    monthly_saving: saving,
                    runway_days_gained: award.and_then(|a| runway_gain(a, saving)),
                    text,
                });
            }
        }
    }

    // Awards on course to be forfeited: the advice reverses.
    for a in awards {
        if a.status == Status::ForfeitRisk
            && a.projected_unused_at_expiry >= config.min_monthly_saving
            && a.days_left > 0
        {
            let per_day = a.projected_unused_at_expiry / a.days_left as f64;
            out.push(Hint {
                kind: HintKind::PullWorkForward,
                workload: None,
                award: Some(a.id.clone()),
                model: None,
                monthly_saving: a.projected_unused_at_expiry,
                runway_days_gained: None,
                text: format!(
                    "{} of award {} will be forfeited on {} at the current pace; pulling planned work (evaluations, re-indexing, backfills) forward by about {} a day uses it",
                    money(a.projected_unused_at_expiry),
                    a.id,
                    a.expiry_date,
                    money(per_day)
                ),
            });
        }
    }
    out.sort_by(|a, b| b.monthly_saving.total_cmp(&a.monthly_saving));
    out
}

/// Days of runway a monthly saving buys an award that is burning towards exhaustion.
fn runway_gain(a: &AwardStatus, monthly: f64) -> Option<f64> {
    if !matches!(a.status, Status::ExhaustionRisk | Status::OnTrack) || a.daily_burn <= 0.0 {
        return None;
    }
    let new_burn = a.daily_burn - monthly / RECENT_DAYS as f64;
    if new_burn <= 0.0 {
        return None;
    }
    let gain = a.remaining / new_burn - a.remaining / a.daily_burn;
    Some((gain * 10.0).round() / 10.0)
}

/// Every lever the workload's last 30 days of Bedrock spend supports.
fn candidates(w: &WorkloadSpend, config: &HintConfig) -> Vec<Candidate> {
    let mut out = Vec::new();
    // Marketplace models are priced by their seller: none of the ratios apply.
    let own: Vec<&ModelSpend> = w.bedrock.iter().filter(|m| !m.marketplace).collect();

    // Batch inference for work nobody waits on.
    if !w.interactive {
        let on_demand: f64 = own
            .iter()
            .filter(|m| !m.batch && matches!(m.token_kind, TokenKind::Input | TokenKind::Output))
            .map(|m| m.last_30_days)
            .sum();
        let saving = on_demand * 0.5;
        out.push((
            HintKind::BatchInference,
            None,
            saving,
            format!(
                "{} is not interactive but ran {} of on-demand Bedrock tokens in the last 30 days; batch inference costs about half, saving about {} a month",
                w.name,
                money(on_demand),
                money(saving)
            ),
        ));
    }

    // Per model: prompt caching and a smaller tier.
    let mut models: Vec<&str> = own.iter().map(|m| m.model.as_str()).collect();
    models.sort();
    models.dedup();
    for model in models {
        let rows: Vec<&&ModelSpend> = own
            .iter()
            .filter(|m| m.model == model && m.token_kind != TokenKind::Other)
            .collect();
        let spend = |kind: TokenKind| -> (f64, f64) {
            rows.iter()
                .filter(|m| m.token_kind == kind)
                .fold((0.0, 0.0), |(c, q), m| {
                    (c + m.last_30_days, q + m.last_30_days_quantity)
                })
        };
        let total: f64 = rows.iter().map(|m| m.last_30_days).sum();
        if total <= 0.0 {
            continue;
        }
        let (input_cost, input_qty) = spend(TokenKind::Input);
        let (_, read_qty) = spend(TokenKind::CacheRead);
        let read_share = read_qty / (read_qty + input_qty).max(f64::MIN_POSITIVE);
        if let Some(ratio) = cached_read_ratio(model) {
            if input_cost / total >= 0.4 && read_share < 0.5 {
                let saving = input_cost * config.cacheable_share.unwrap_or(0.5) * (1.0 - ratio);
                out.push((
                    HintKind::PromptCaching,
                    Some(model.to_string()),
                    saving,
                    format!(
                        "{} spent {} on uncached {} input in the last 30 days ({:.0}% of its tokens for that model); caching a stable prefix on {:.0}% of it saves about {} a month",
                        w.name,
                        money(input_cost),
                        model,
                        input_cost / total * 100.0,
                        config.cacheable_share.unwrap_or(0.5) * 100.0,
                        money(saving)
                    ),
                ));
            }
        }
        let lower = model.to_ascii_lowercase();
        if let Some((_, smaller, ratio)) = TIERS.iter().find(|(frag, _, _)| lower.contains(frag)) {
            let saving = total * config.routine_share.unwrap_or(0.3) * (1.0 - ratio);
            out.push((
                HintKind::SmallerModel,
                Some(model.to_string()),
                saving,
                format!(
                    "{} spent {} on {} in the last 30 days; moving the routine {:.0}% of it to {} (about {:.0}% of the price) saves about {} a month",
                    w.name,
                    money(total),
                    model,
                    config.routine_share.unwrap_or(0.3) * 100.0,
                    smaller,
                    ratio * 100.0,
                    money(saving)
                ),
            ));
        }
    }
    out
}
