//! The levers that stretch credits, each a pure function of one workload's model over
//! the last 30 days (its lines of the bill, priced: `tokens::ModelCheck`), the price
//! table and what is assumed of the workload (`Context`).
//!
//! A lever says, per usage line, the share of the line's billed dollars it would save:
//! low, middle and high, from the spread of its assumption (a share the bill cannot
//! show). Its saving is the sum of billed x share over its lines, so it is never below 0
//! nor above the spend it applies to. Shares of a price come from the table's list
//! prices (the alternative's price over the line's own), applied to billed dollars: a
//! discount on the bill is taken to carry over to the alternative (the hint says so where
//! the price check found the bill off list). A line whose alternative has no price in the
//! table is left out, never guessed.
//!
//! Levers on the same tokens are alternatives or compose (`Group`): a token goes to one
//! tier (batch, Flex, standard instead of Priority or latency-optimized) and one model
//! (a smaller or a newer one); routing, caching, trimming the context and provisioned
//! throughput compose with those. `combined` applies them all together.

use serde::Serialize;

use crate::analyse::tokens::{ModelCheck, PricedLine};
use crate::model::money::money;
use crate::model::usage_type::{Route, Tier, TokenKind};
use crate::pricing::{Key, ModelInfo, Price, PriceTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    BatchInference,
    PromptCaching,
    SmallerModel,
    NewerModel,
    GlobalRouting,
    FlexTier,
    PriorityPremium,
    LatencyOptimized,
    LongContext,
    ProvisionedThroughput,
    PullWorkForward,
}

impl HintKind {
    pub const LEVERS: [HintKind; 10] = [
        HintKind::BatchInference,
        HintKind::PromptCaching,
        HintKind::SmallerModel,
        HintKind::NewerModel,
        HintKind::GlobalRouting,
        HintKind::FlexTier,
        HintKind::PriorityPremium,
        HintKind::LatencyOptimized,
        HintKind::LongContext,
        HintKind::ProvisionedThroughput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HintKind::BatchInference => "batch_inference",
            HintKind::PromptCaching => "prompt_caching",
            HintKind::SmallerModel => "smaller_model",
            HintKind::NewerModel => "newer_model",
            HintKind::GlobalRouting => "global_routing",
            HintKind::FlexTier => "flex_tier",
            HintKind::PriorityPremium => "priority_premium",
            HintKind::LatencyOptimized => "latency_optimized",
            HintKind::LongContext => "long_context",
            HintKind::ProvisionedThroughput => "provisioned_throughput",
            HintKind::PullWorkForward => "pull_work_forward",
        }
    }

    pub fn from_name(s: &str) -> Option<HintKind> {
        HintKind::LEVERS
            .into_iter()
            .chain([HintKind::PullWorkForward])
            .find(|k| k.as_str() == s)
    }

    /// Levers of one group act on the same tokens as alternatives: combined, a line
    /// saves the most any of them saves, not their sum.
    pub fn group(self) -> Group {
        match self {
            HintKind::BatchInference
            | HintKind::FlexTier
            | HintKind::PriorityPremium
            | HintKind::LatencyOptimized => Group::Tier,
            HintKind::SmallerModel | HintKind::NewerModel => Group::Model,
            HintKind::GlobalRouting => Group::Route,
            HintKind::PromptCaching => Group::Cache,
            HintKind::LongContext => Group::Context,
            HintKind::ProvisionedThroughput | HintKind::PullWorkForward => Group::Capacity,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Tier,
    Model,
    Route,
    Cache,
    Context,
    Capacity,
}

/// Dollars a month: the middle figure and the ends of the assumption's spread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Saving {
    #[serde(serialize_with = "crate::model::money::cents")]
    pub low: f64,
    #[serde(serialize_with = "crate::model::money::cents")]
    pub mid: f64,
    #[serde(serialize_with = "crate::model::money::cents")]
    pub high: f64,
}

/// A share the bill cannot show: low, middle and high (equal when the workload states
/// it), and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub low: f64,
    pub mid: f64,
    pub high: f64,
    pub why: String,
}

impl Share {
    pub fn exact(v: f64, why: String) -> Share {
        Share {
            low: v,
            mid: v,
            high: v,
            why,
        }
    }

    fn at(&self, i: usize) -> f64 {
        [self.low, self.mid, self.high][i]
    }

    /// "50%", or "50% (25-75%)" with a spread.
    pub fn words(&self) -> String {
        if self.low == self.high {
            pct(self.mid)
        } else {
            format!("{} ({}-{})", pct(self.mid), pct(self.low), pct(self.high))
        }
    }
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// Dollars per 1M tokens: "$0.035", "$3.30".
pub fn per_million(p: f64) -> String {
    let two = format!("{p:.2}");
    if (two.parse::<f64>().unwrap_or(p) - p).abs() < 1e-9 {
        format!("${two}")
    } else {
        let s = format!("{p:.6}");
        format!("${}", s.trim_end_matches('0'))
    }
}

/// A price a lever used, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceUsed {
    /// The usage type it prices (`USE1-NovaPro-input-tokens`), or for an alternative the
    /// table's key (`NovaPro USE1 batch regional input`).
    pub what: String,
    pub per_million: f64,
    pub source: String,
    pub checked: chrono::NaiveDate,
}

/// What a lever saves on one line of the bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub service: String,
    pub marketplace: bool,
    pub usage_type: String,
    /// The line's billed dollars over the last 30 days.
    pub cost: f64,
    /// The share of them saved: low, middle, high.
    pub rate: [f64; 3],
}

/// One lever on one model of a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Lever {
    pub kind: HintKind,
    /// `ModelCheck::model`: the bill's name for the model.
    pub model: String,
    /// `ModelCheck::model_id`.
    pub model_id: Option<String>,
    pub cuts: Vec<Cut>,
    /// What on the bill set it off.
    pub trigger: String,
    /// What to do, as a verb phrase.
    pub action: String,
    /// The saving worked out in words, every figure in it.
    pub arithmetic: String,
    pub assumptions: Vec<String>,
    pub prices: Vec<PriceUsed>,
}

impl Lever {
    pub fn saving(&self) -> Saving {
        let at = |i: usize| self.cuts.iter().map(|c| c.cost * c.rate[i]).sum();
        Saving {
            low: at(0),
            mid: at(1),
            high: at(2),
        }
    }

    pub fn usage_types(&self) -> Vec<String> {
        let mut out: Vec<String> = self.cuts.iter().map(|c| c.usage_type.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// What a workload's levers assume: its name, whether people wait for it, and the
/// shares the bill cannot show (None: the levers that need it do not apply).
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub workload: &'a str,
    /// Of its on-demand tokens, the share nobody waits for: batch, Flex, no Priority.
    pub batchable: Option<Share>,
    /// Of its uncached input, the share that is a stable prefix.
    pub cacheable: Share,
    /// Of its traffic on a model, the share routine enough for a smaller model.
    pub routine: Share,
    pub prices: &'a PriceTable,
}

/// The defaults where neither the workload nor `[hints]` states a share.
pub const BATCHABLE_DEFAULT: (f64, f64, f64) = (0.5, 1.0, 1.0);
pub const CACHEABLE_DEFAULT: (f64, f64, f64) = (0.25, 0.5, 0.75);
pub const ROUTINE_DEFAULT: (f64, f64, f64) = (0.1, 0.3, 0.5);
/// How many times a cached prefix is read before it expires, where the bill shows no
/// cache writes to measure it by.
pub const READS_PER_WRITE_DEFAULT: f64 = 4.0;
/// Prompt caching is offered where uncached input is at least this share of a model's
/// token dollars.
pub const CACHE_MIN_INPUT_SHARE: f64 = 0.25;
/// Of the calls above 200K input tokens, the share that could be trimmed under it.
pub const TRIMMABLE: (f64, f64, f64) = (0.25, 0.5, 0.75);

impl<'a> Context<'a> {
    /// The context of a workload: its own shares, else `[hints]`'s, else the defaults.
    pub fn of(
        w: &'a crate::config::Workload,
        hints: &crate::config::HintConfig,
        prices: &'a PriceTable,
    ) -> Context<'a> {
        let key = |k: &str| format!("workloads[{:?}].{k}", w.name);
        let (lo, mid, hi) = BATCHABLE_DEFAULT;
        let batchable = match w.assumptions.batchable_share {
            Some(v) => Some(Share::exact(v, format!("{} = {v} (configured)", key("batchable_share")))),
            None if !w.interactive => Some(Share {
                low: lo,
                mid,
                high: hi,
                why: format!("{} is not interactive (interactive = false), so nobody waits for its calls; at least {} of them are assumed to fit a 24-hour batch window (set {} to your figure)", w.name, pct(lo), key("batchable_share")),
            }),
            None => None,
        };
        let (lo, mid, hi) = CACHEABLE_DEFAULT;
        let cacheable = match (w.assumptions.cacheable_share, hints.cacheable_share) {
            (Some(v), _) => Share::exact(v, format!("{} = {v} (configured)", key("cacheable_share"))),
            (None, Some(v)) => Share::exact(v, format!("hints.cacheable_input_share = {v} (configured)")),
            (None, None) => Share {
                low: lo,
                mid,
                high: hi,
                why: format!("the bill cannot tell a stable prefix (system prompt, shared context) from the rest of a prompt: {} of the uncached input is assumed cacheable, between {} and {} (set {} to your figure)", pct(mid), pct(lo), pct(hi), key("cacheable_share")),
            },
        };
        let (lo, mid, hi) = ROUTINE_DEFAULT;
        let routine = match (w.assumptions.routine_share, hints.routine_share) {
            (Some(v), _) => Share::exact(v, format!("{} = {v} (configured)", key("routine_share"))),
            (None, Some(v)) => Share::exact(v, format!("hints.downsize_share = {v} (configured)")),
            (None, None) => Share {
                low: lo,
                mid,
                high: hi,
                why: format!("the bill cannot tell routine calls from hard ones: {} of the traffic is assumed routine, between {} and {} (set {} to your figure)", pct(mid), pct(lo), pct(hi), key("routine_share")),
            },
        };
        Context {
            workload: &w.name,
            batchable,
            cacheable,
            routine,
            prices,
        }
    }
}

/// Every lever that applies to one model of the workload.
pub fn all(ctx: &Context, m: &ModelCheck) -> Vec<Lever> {
    [
        batch_inference(ctx, m),
        flex_tier(ctx, m),
        priority_premium(ctx, m),
        latency_optimized(ctx, m),
        long_context(ctx, m),
        global_routing(ctx, m),
        prompt_caching(ctx, m),
        smaller_model(ctx, m),
        newer_model(ctx, m),
        provisioned_throughput(ctx, m),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The levers together on one workload, per line of the bill: 1 - the product over
/// groups of (1 - the largest share any lever of the group saves on the line), at each
/// end of the spread. A line's combined share is at most the sum of its levers' shares
/// and at most 1.
pub fn combined_cuts(levers: &[Lever]) -> Vec<Cut> {
    use std::collections::BTreeMap;
    // Line -> (its cut, group -> the largest rate at each end of the spread).
    type Best = BTreeMap<Group, [f64; 3]>;
    let mut lines: BTreeMap<(&str, &str), (Cut, Best)> = BTreeMap::new();
    for l in levers {
        for c in &l.cuts {
            let (_, groups) = lines
                .entry((c.service.as_str(), c.usage_type.as_str()))
                .or_insert_with(|| (c.clone(), BTreeMap::new()));
            let best = groups.entry(l.kind.group()).or_insert([0.0; 3]);
            for (b, r) in best.iter_mut().zip(c.rate) {
                *b = b.max(r);
            }
        }
    }
    lines
        .into_values()
        .map(|(cut, groups)| Cut {
            rate: [0, 1, 2].map(|i| {
                1.0 - groups
                    .values()
                    .map(|r| 1.0 - r[i].clamp(0.0, 1.0))
                    .product::<f64>()
            }),
            ..cut
        })
        .collect()
}

/// The saving of `combined_cuts`: at most the sum of the parts, and at most the spend.
pub fn combined(levers: &[Lever]) -> Saving {
    let cuts = combined_cuts(levers);
    let at = |i: usize| cuts.iter().map(|c| c.cost * c.rate[i]).sum();
    Saving {
        low: at(0),
        mid: at(1),
        high: at(2),
    }
}

// ---- prices of the alternatives ----------------------------------------------------------

/// The table's price for the tokens of `l` as `kind`, at `tier` and `route`, on `to` (a
/// model of the table) or on the line's own model.
fn alternative<'p>(
    prices: &'p PriceTable,
    l: &PricedLine,
    to: Option<&'p ModelInfo>,
    kind: TokenKind,
    tier: Tier,
    route: Route,
) -> Option<(PriceUsed, &'p Price)> {
    let mut u = l.usage.clone();
    u.token_kind = kind;
    let (bill_name, price): (String, &Price) = match to.or_else(|| prices.model(&l.usage.bill_name))
    {
        Some(m) => {
            let (b, p) = prices.alternative(&u, m, tier, route)?;
            (b.to_string(), p)
        }
        None => {
            let mut k = Key::of(&u)?;
            k.tier = tier;
            k.route = route;
            let p = prices.price(&k)?;
            (k.bill_name, p)
        }
    };
    Some((
        PriceUsed {
            what: format!(
                "{bill_name} {} {} {} {}",
                u.region.as_deref().unwrap_or_default(),
                tier.as_str(),
                route.as_str(),
                kind.as_str()
            ),
            per_million: price.per_million,
            source: price.source.clone(),
            checked: price.checked,
        },
        price,
    ))
}

fn own_price(l: &PricedLine) -> Option<PriceUsed> {
    l.price.as_ref().map(|p| PriceUsed {
        what: l.usage_type.clone(),
        per_million: p.per_million,
        source: p.source.clone(),
        checked: p.checked,
    })
}

/// A line moved to another price: saves `share x (1 - to / from)` of its billed dollars.
struct Moved<'a> {
    line: &'a PricedLine,
    from: f64,
    to: f64,
    to_price: PriceUsed,
}

/// The lever of lines moved to other prices, where the other price is lower.
fn moved_lever(
    kind: HintKind,
    m: &ModelCheck,
    moves: Vec<Moved>,
    share: &Share,
    trigger: String,
    action: String,
    mut assumptions: Vec<String>,
) -> Option<Lever> {
    let moves: Vec<Moved> = moves
        .into_iter()
        .filter(|mv| mv.to < mv.from && mv.from > 0.0 && mv.line.cost > 0.0)
        .collect();
    if moves.is_empty() {
        return None;
    }
    let mut prices = Vec::new();
    let mut terms = Vec::new();
    let mut cuts = Vec::new();
    for mv in &moves {
        let keep = mv.to / mv.from;
        cuts.push(Cut {
            service: mv.line.service.clone(),
            marketplace: mv.line.usage.marketplace,
            usage_type: mv.line.usage_type.clone(),
            cost: mv.line.cost,
            rate: [0, 1, 2].map(|i| share.at(i) * (1.0 - keep)),
        });
        terms.push(format!(
            "{} of {} x {} x (1 - {} / {})",
            money(mv.line.cost),
            mv.line.usage_type,
            pct(share.mid),
            per_million(mv.to),
            per_million(mv.from)
        ));
        prices.extend(own_price(mv.line));
        prices.push(mv.to_price.clone());
    }
    prices.dedup();
    assumptions.insert(0, share.why.clone());
    let mut lever = Lever {
        kind,
        model: m.model.clone(),
        model_id: m.model_id.clone(),
        cuts,
        trigger,
        action,
        arithmetic: String::new(),
        assumptions,
        prices,
    };
    lever.arithmetic = arithmetic(&terms, &lever.saving(), share);
    Some(lever)
}

/// "a + b = $S a month", with the ends of the spread when it has one.
fn arithmetic(terms: &[String], s: &Saving, share: &Share) -> String {
    let mut out = format!(
        "{} = {} a month (the last 30 days' tokens, prices per 1M tokens)",
        terms.join(" + "),
        money(s.mid)
    );
    if share.low != share.high {
        out.push_str(&format!(
            "; at {} and {}: {} to {}",
            pct(share.low),
            pct(share.high),
            money(s.low),
            money(s.high)
        ));
    }
    out
}

/// What the table knows of the model.
fn info_of<'a>(ctx: &'a Context, m: &ModelCheck) -> Option<&'a ModelInfo> {
    ctx.prices.model_by_id(m.model_id.as_deref()?)
}

fn model_name(m: &ModelCheck) -> &str {
    m.name.as_deref().unwrap_or(&m.model)
}

/// The lines of `m` at `tier` whose kind is one of `kinds`.
fn lines_at<'a>(
    m: &'a ModelCheck,
    tier: Tier,
    kinds: &'a [TokenKind],
) -> impl Iterator<Item = &'a PricedLine> + 'a {
    m.token_lines().filter(move |l| {
        l.usage.tier == tier && kinds.contains(&l.usage.token_kind) && l.price.is_some()
    })
}

const IN_OUT: [TokenKind; 2] = [TokenKind::Input, TokenKind::Output];

/// `lines` moved to the price of the same tokens on model `to` (None: their own model)
/// at the tier and route `target` gives each; lines without that price are left out.
fn moved_to<'a>(
    ctx: &'a Context,
    lines: impl Iterator<Item = &'a PricedLine>,
    to: Option<&'a ModelInfo>,
    target: impl Fn(&PricedLine) -> (Tier, Route),
) -> Vec<Moved<'a>> {
    lines
        .filter_map(|l| {
            let (tier, route) = target(l);
            let (to_price, p) = alternative(ctx.prices, l, to, l.usage.token_kind, tier, route)?;
            Some(Moved {
                line: l,
                from: l.price.as_ref()?.per_million,
                to: p.per_million,
                to_price,
            })
        })
        .collect()
}

/// Input and output lines of `m` at `from_tier` moved to `to_tier` of the same model
/// and route.
fn tier_moves<'a>(
    ctx: &'a Context,
    m: &'a ModelCheck,
    from_tier: Tier,
    to_tier: Tier,
) -> Vec<Moved<'a>> {
    moved_to(ctx, lines_at(m, from_tier, &IN_OUT), None, |l| {
        (to_tier, l.usage.route)
    })
}

/// Batch inference: work nobody waits for, run as batch jobs at the model's batch price.
///
/// For each standard-tier input and output line with a batch price for the same model,
/// region and route: `billed x batchable share x (1 - batch price / on-demand price)`
/// (about half). The share is the workload's `batchable_share`, else, for a workload
/// that is not interactive, 100% (50% to 100%). Interactive workloads that state no
/// share get none.
pub fn batch_inference(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let share = ctx.batchable.as_ref()?;
    let name = model_name(m);
    moved_lever(
        HintKind::BatchInference,
        m,
        tier_moves(ctx, m, Tier::Standard, Tier::Batch),
        share,
        format!("{} runs {name} on demand and nobody waits for its calls", ctx.workload),
        format!("run {name}'s on-demand calls as batch inference jobs"),
        vec!["a batch job returns within 24 hours, reads its prompts from S3 and writes its answers there".into()],
    )
}

/// Flex: the same discount as batch for calls that can wait, kept as ordinary calls.
///
/// For each standard-tier input and output line with a Flex price: `billed x batchable
/// share x (1 - flex price / standard price)`. Only some models offer Flex (Nova Pro,
/// Nova 2, gpt-oss, ...); Flex and batch are alternatives for the same tokens.
pub fn flex_tier(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let share = ctx.batchable.as_ref()?;
    let name = model_name(m);
    moved_lever(
        HintKind::FlexTier,
        m,
        tier_moves(ctx, m, Tier::Standard, Tier::Flex),
        share,
        format!("{} runs {name} at the standard tier and nobody waits for its calls", ctx.workload),
        format!("send {name}'s calls with service_tier = flex"),
        vec!["a Flex call may wait, or be throttled first when capacity is short: for work that can retry".into()],
    )
}

/// Priority paid on batch-shaped work: the premium back by moving to standard.
///
/// For each priority-tier line: `billed x batchable share x (1 - standard / priority)`
/// (Priority is about 1.75x). Only for workloads whose calls nobody waits for.
pub fn priority_premium(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let share = ctx.batchable.as_ref()?;
    let name = model_name(m);
    moved_lever(
        HintKind::PriorityPremium,
        m,
        tier_moves(ctx, m, Tier::Priority, Tier::Standard),
        share,
        format!(
            "{} pays the Priority tier for {name} though nobody waits for its calls",
            ctx.workload
        ),
        format!("send {name}'s calls at the standard tier"),
        vec![
            "Priority buys faster, first-served answers, which work nobody waits for does not need"
                .into(),
        ],
    )
}

/// The latency-optimized premium: standard instead, where latency matters less.
///
/// For each latency-optimized line: `billed x share x (1 - standard / latency-optimized)`
/// (the premium is about 25%). The share is the batchable share where there is one, else
/// 50% (0% to 100%): whether a call needs the lower latency is the workload's to judge.
pub fn latency_optimized(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let name = model_name(m);
    let share = ctx.batchable.clone().unwrap_or(Share {
        low: 0.0,
        mid: 0.5,
        high: 1.0,
        why: format!("{} is interactive: half its latency-optimized calls are assumed not to need the lower latency, between none and all", ctx.workload),
    });
    moved_lever(
        HintKind::LatencyOptimized,
        m,
        tier_moves(ctx, m, Tier::LatencyOptimized, Tier::Standard),
        &share,
        format!(
            "{} pays the latency-optimized premium on {name}",
            ctx.workload
        ),
        format!("send {name}'s calls that can wait a little at the standard tier"),
        Vec::new(),
    )
}

/// The long-context premium (input above 200K tokens): trimmed prompts pay standard.
///
/// For each long-context line: `billed x trimmable share x (1 - standard / long-context)`
/// (input costs 2x above 200K tokens, output 1.5x). The share is 50% (25% to 75%): the
/// bill cannot tell how many of those calls need that much context.
pub fn long_context(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let name = model_name(m);
    let (low, mid, high) = TRIMMABLE;
    let share = Share {
        low,
        mid,
        high,
        why: format!("the bill cannot tell how many calls need more than 200K input tokens: {} of them are assumed trimmable under it (fewer or smaller retrieved chunks), between {} and {}", pct(mid), pct(low), pct(high)),
    };
    let kinds = TokenKind::TOKENS;
    let moves = moved_to(ctx, lines_at(m, Tier::LongContext, &kinds), None, |l| {
        (Tier::Standard, l.usage.route)
    });
    moved_lever(
        HintKind::LongContext,
        m,
        moves,
        &share,
        format!(
            "{} sends {name} prompts above 200K input tokens, at the long-context price",
            ctx.workload
        ),
        format!("trim {name}'s prompts under 200K input tokens"),
        Vec::new(),
    )
}

/// Global cross-region inference: the global profile's cheaper price for in-region or
/// geographic calls of a model that has one.
///
/// For each regional line with a global price for the same model, tier and kind:
/// `billed x (1 - global / regional)` (geographic is 1.1x global on Claude 4.5+, Haiku
/// 4.5 and Nova 2: a saving of 1/11). No share is assumed: where data may be processed
/// is the customer's to judge, and the hint says so rather than judging it.
pub fn global_routing(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let name = model_name(m);
    let kinds = TokenKind::TOKENS;
    let regional = m.token_lines().filter(|l| {
        l.usage.route == Route::Regional && kinds.contains(&l.usage.token_kind) && l.price.is_some()
    });
    let moves = moved_to(ctx, regional, None, |l| (l.usage.tier, Route::Global));
    moved_lever(
        HintKind::GlobalRouting,
        m,
        moves,
        &Share::exact(1.0, "every call can name the global inference profile (the global. prefix of the model id)".into()),
        format!("{} calls {name} in-region or through a geographic profile, and {name} has global prices", ctx.workload),
        format!("call {name} through its global cross-region inference profile"),
        vec!["the global profile may serve a call from any commercial AWS region: whether the workload's data may leave its geography is yours to judge".into()],
    )
}

/// Prompt caching: a stable prefix written once and read back at a fraction of input.
///
/// Offered where the model has cache prices and its uncached standard-tier input is at
/// least `CACHE_MIN_INPUT_SHARE` of its token dollars. With `w` the cache write price
/// and `r` the cache read price, both over the input price, and `n` reads per write (the
/// bill's own cache reads over its cache writes where it shows both, else
/// `READS_PER_WRITE_DEFAULT`), a cacheable token costs `(w + n x r) / (n + 1)` of input
/// instead of all of it, so per input line: `billed x cacheable share x (1 - (w + n x r)
/// / (n + 1))`. Caching pays from `n > (w - 1) / (1 - r)` reads per write (a 5-minute
/// write at 1.25x: from the first read; a 1-hour write at 2x: from the second); at or
/// below it the lever is not offered. The write's lifetime is the one the bill shows
/// most of (5 minutes where it shows none).
pub fn prompt_caching(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let name = model_name(m);
    let input: Vec<&PricedLine> = lines_at(m, Tier::Standard, &[TokenKind::Input]).collect();
    let input_cost: f64 = input.iter().map(|l| l.cost).sum();
    if m.billed <= 0.0 || input_cost < CACHE_MIN_INPUT_SHARE * m.billed {
        return None;
    }
    let reuse = Reuse::of(m);
    let share = &ctx.cacheable;
    let cached = cached_lines(ctx, &input, &reuse, share);
    if cached.cuts.is_empty() {
        return None;
    }
    let mut assumptions = vec![share.why.clone(), reuse.why.clone()];
    if let Some((w, r)) = cached.ratios {
        assumptions.push(format!(
            "a {} cache write costs {} of input and a read {}; caching pays from {:.2} reads per write",
            if reuse.write_kind == TokenKind::CacheWrite1h { "1-hour" } else { "5-minute" },
            pct(w),
            pct(r),
            cached.break_even.max(0.0)
        ));
    }
    if let Some(min) = info_of(ctx, m).and_then(|i| i.min_cache_tokens) {
        assumptions.push(format!(
            "only a stable prefix of at least {min} tokens can be cached on {name}; shorter prompts gain nothing"
        ));
    }
    let mut lever = Lever {
        kind: HintKind::PromptCaching,
        model: m.model.clone(),
        model_id: m.model_id.clone(),
        cuts: cached.cuts,
        trigger: format!(
            "{} sends {name} {} of uncached input in 30 days ({} of its token dollars{}{})",
            ctx.workload,
            money(input_cost),
            pct(input_cost / m.billed),
            m.cache_read_share
                .map(|s| format!("; {} of what it sends is read from the cache", pct(s)))
                .unwrap_or_default(),
            m.input_per_output
                .map(|r| format!("; {r:.1} tokens sent per token written back"))
                .unwrap_or_default()
        ),
        action: format!("cache the stable prefix of {name}'s prompts"),
        arithmetic: String::new(),
        assumptions,
        prices: cached.prices,
    };
    lever.arithmetic = arithmetic(&cached.terms, &lever.saving(), share);
    Some(lever)
}

/// How a model's cache is reused: reads per write and the write's lifetime.
struct Reuse {
    /// Reads per write: the bill's own, else `READS_PER_WRITE_DEFAULT`.
    n: f64,
    why: String,
    /// The lifetime the bill shows most of (5 minutes where it shows none).
    write_kind: TokenKind,
}

impl Reuse {
    fn of(m: &ModelCheck) -> Reuse {
        let t = |k: TokenKind| m.tokens.get(k).unwrap_or(0.0);
        let write_kind = if t(TokenKind::CacheWrite1h) > t(TokenKind::CacheWrite) {
            TokenKind::CacheWrite1h
        } else {
            TokenKind::CacheWrite
        };
        let reads = t(TokenKind::CacheRead);
        let writes = t(TokenKind::CacheWrite) + t(TokenKind::CacheWrite1h);
        if reads > 0.0 && writes > 0.0 {
            Reuse {
                n: reads / writes,
                why: format!(
                    "each cached token is read {:.1} times per write, as the bill shows ({} reads / {} writes in 30 days)",
                    reads / writes,
                    crate::model::text::short_count(reads),
                    crate::model::text::short_count(writes)
                ),
                write_kind,
            }
        } else {
            Reuse {
                n: READS_PER_WRITE_DEFAULT,
                why: format!("the bill shows no cache reuse to measure: each cached prefix is assumed read {READS_PER_WRITE_DEFAULT} times before it expires"),
                write_kind,
            }
        }
    }
}

/// What caching saves on each input line whose reuse pays.
#[derive(Default)]
struct Cached {
    cuts: Vec<Cut>,
    terms: Vec<String>,
    prices: Vec<PriceUsed>,
    /// The most reads per write any line needs to pay.
    break_even: f64,
    /// The first line's write and read prices over its input price.
    ratios: Option<(f64, f64)>,
}

/// Per input line with a cache read and write price: with `w` and `r` the write and
/// read price over input, a cacheable token costs `(w + n x r) / (n + 1)` of input, and
/// the line saves `share x (1 - that)` where `n > (w - 1) / (1 - r)`.
fn cached_lines(ctx: &Context, input: &[&PricedLine], reuse: &Reuse, share: &Share) -> Cached {
    let mut out = Cached::default();
    let n = reuse.n;
    for l in input {
        let Some(p_in) = l.price.as_ref().map(|p| p.per_million) else {
            continue;
        };
        let route = l.usage.route;
        let (Some((read_used, read)), Some((write_used, write))) = (
            alternative(
                ctx.prices,
                l,
                None,
                TokenKind::CacheRead,
                Tier::Standard,
                route,
            ),
            alternative(ctx.prices, l, None, reuse.write_kind, Tier::Standard, route),
        ) else {
            continue;
        };
        if p_in <= 0.0 || read.per_million >= p_in {
            continue;
        }
        let (w, r) = (write.per_million / p_in, read.per_million / p_in);
        out.ratios.get_or_insert((w, r));
        let needed = (w - 1.0) / (1.0 - r);
        out.break_even = out.break_even.max(needed);
        if n <= needed {
            continue;
        }
        let kept = (w + n * r) / (n + 1.0);
        out.cuts.push(Cut {
            service: l.service.clone(),
            marketplace: l.usage.marketplace,
            usage_type: l.usage_type.clone(),
            cost: l.cost,
            rate: [0, 1, 2].map(|i| share.at(i) * (1.0 - kept)),
        });
        out.terms.push(format!(
            "{} of {} x {} x (1 - ({} + {n:.1} x {}) / ({:.1} x {}))",
            money(l.cost),
            l.usage_type,
            pct(share.mid),
            per_million(write.per_million),
            per_million(read.per_million),
            n + 1.0,
            per_million(p_in)
        ));
        out.prices.extend(own_price(l));
        out.prices.push(write_used);
        out.prices.push(read_used);
    }
    out.prices.dedup();
    out
}

/// Lines of `m` moved to model `to` at the same kind, tier and route.
fn model_moves<'a>(ctx: &'a Context, m: &'a ModelCheck, to: &'a ModelInfo) -> Vec<Moved<'a>> {
    let priced = m.token_lines().filter(|l| l.price.is_some());
    moved_to(ctx, priced, Some(to), |l| (l.usage.tier, l.usage.route))
}

/// A smaller model for the routine share of the traffic (the table's `smaller`).
///
/// For each line with a price on the smaller model at the same kind, tier and route:
/// `billed x routine share x (1 - smaller price / price)`. The share is the workload's
/// `routine_share`, else `hints.downsize_share`, else 30% (10% to 50%).
pub fn smaller_model(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let info = info_of(ctx, m)?;
    let to_move = info.smaller.as_ref()?;
    let to = ctx.prices.model_by_id(&to_move.model)?;
    let name = model_name(m);
    moved_lever(
        HintKind::SmallerModel,
        m,
        model_moves(ctx, m, to),
        &ctx.routine,
        format!("{} runs all of its {name} traffic on {name}, and {} is a smaller model of the same family", ctx.workload, to.name),
        format!("send {name}'s routine calls to {}", to.name),
        vec![to_move.note.clone()],
    )
}

/// A legacy model dearer than its successor (the table's `successor`): Opus 4.1 to
/// Opus 4.5 costs about a third.
///
/// For each line with a price on the successor at the same kind, tier and route:
/// `billed x share x (1 - successor price / price)`, the share 100% (50% to 100%: some
/// traffic may stay while the answers are compared). Not offered where the successor
/// costs the same or more.
pub fn newer_model(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let info = info_of(ctx, m)?;
    let to_move = info.successor.as_ref()?;
    let to = ctx.prices.model_by_id(&to_move.model)?;
    let name = model_name(m);
    let share = Share {
        low: 0.5,
        mid: 1.0,
        high: 1.0,
        why: format!("all of {name}'s traffic can move to {}; as little as half may, while the answers are compared", to.name),
    };
    moved_lever(
        HintKind::NewerModel,
        m,
        model_moves(ctx, m, to),
        &share,
        format!(
            "{} runs {name}, a legacy model, and its successor {} costs less",
            ctx.workload, to.name
        ),
        format!("move {name}'s calls to {}", to.name),
        vec![to_move.note.clone()],
    )
}

/// Provisioned throughput: model-unit hours against the tokens that went through them.
///
/// The tokens through the commitment are the model's token lines billed at under 1% of
/// their list cost (not billed per token); at on-demand prices they would cost `E`. With
/// `P` the model-unit hours' cost: where `E < P`, on demand saves `P - E` (all of `P`
/// when no token went through: idle capacity). A 1- or 6-month commitment is paid until
/// its term ends: the saving starts at renewal.
pub fn provisioned_throughput(ctx: &Context, m: &ModelCheck) -> Option<Lever> {
    let p = m.provisioned.as_ref()?;
    if p.cost <= 0.0 {
        return None;
    }
    let name = model_name(m);
    let through: Vec<&PricedLine> = m
        .token_lines()
        .filter(|l| l.list_cost().is_some_and(|c| c > 0.0 && l.cost <= 0.01 * c))
        .collect();
    let on_demand: f64 = through.iter().filter_map(|l| l.list_cost()).sum();
    if on_demand >= p.cost {
        return None;
    }
    let saving = p.cost - on_demand;
    let rate = saving / p.cost;
    let cuts: Vec<Cut> = m
        .lines
        .iter()
        .filter(|l| l.usage.token_kind == TokenKind::ModelUnits && l.cost > 0.0)
        .map(|l| Cut {
            service: l.service.clone(),
            marketplace: l.usage.marketplace,
            usage_type: l.usage_type.clone(),
            cost: l.cost,
            rate: [rate; 3],
        })
        .collect();
    let mut prices: Vec<PriceUsed> = through.iter().filter_map(|l| own_price(l)).collect();
    prices.dedup();
    Some(Lever {
        kind: HintKind::ProvisionedThroughput,
        model: m.model.clone(),
        model_id: m.model_id.clone(),
        cuts,
        trigger: if through.is_empty() {
            format!(
                "{} paid {} for {:.0} model-unit hours of {name} in 30 days and no token went through them",
                ctx.workload,
                money(p.cost),
                p.model_unit_hours
            )
        } else {
            format!(
                "{} paid {} for {:.0} model-unit hours of {name} in 30 days; the tokens through them cost {} on demand",
                ctx.workload,
                money(p.cost),
                p.model_unit_hours,
                money(on_demand)
            )
        },
        action: if through.is_empty() {
            format!("release {name}'s idle provisioned throughput")
        } else {
            format!("serve {name} on demand instead of provisioned throughput")
        },
        arithmetic: format!(
            "{} of model-unit hours - {} of the same tokens on demand = {} a month",
            money(p.cost),
            money(on_demand),
            money(saving)
        ),
        assumptions: vec![
            "a 1- or 6-month commitment is paid to the end of its term: the saving starts when it would renew".into(),
        ],
        prices,
    })
}
