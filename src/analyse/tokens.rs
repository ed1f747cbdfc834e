//! Tokens from the bill, checked against the price table. Pure.
//!
//! Each Bedrock usage line of a workload over the last 30 days (`analysis::RECENT_DAYS`)
//! is read (`usage_type::parse`) and priced by the table (`PriceTable::of`). The bill's
//! quantity is in the offer's pricing unit, so tokens = quantity x the unit's tokens, and
//! the list cost = quantity x the price per unit. Per model (the table's model when it
//! knows the bill name, else the bill's own name) the lines give the tokens by kind, the
//! tiers and routes as shares of spend, the billed dollars and the list cost, the cache
//! read share and the input per output.
//!
//! The price check holds each line's billed dollars against its list cost: `ok` within
//! 2% (and a cent), `mismatch` beyond (a discount, a new price, or an entry in the wrong
//! unit: a thousandfold slip cannot pass), `unpriced` when the table has no entry. A
//! model is as good as its worst line: unpriced before mismatch before ok. Provisioned
//! throughput (model-unit hours) is not tokens: it is reported beside them, not checked.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::money::cents;
use crate::model::usage_type::{self, BedrockUsage, TokenKind};
use crate::pricing::{Price, PriceTable};

/// How far billed dollars may be from the list cost and still be "at list".
pub const PRICE_TOLERANCE: f64 = 0.02;

/// One Bedrock usage line of a workload over the last 30 days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSpend {
    pub service: String,
    pub usage_type: String,
    #[serde(serialize_with = "cents")]
    pub last_30_days: f64,
    /// In the bill's unit for the usage type.
    pub last_30_days_quantity: f64,
}

/// A line of the bill with its price, if the table has one.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    pub service: String,
    pub usage_type: String,
    pub usage: BedrockUsage,
    /// Billed over the last 30 days.
    pub cost: f64,
    /// The bill's quantity over the same days, in the price's unit.
    pub quantity: f64,
    pub price: Option<Price>,
}

impl PricedLine {
    pub fn tokens(&self) -> Option<f64> {
        self.price.as_ref().map(|p| self.quantity * p.unit.tokens())
    }

    /// The same quantity at the table's price.
    pub fn list_cost(&self) -> Option<f64> {
        self.price.as_ref().map(|p| self.quantity * p.per_unit())
    }

    pub fn check(&self) -> PriceCheck {
        match self.list_cost() {
            None => PriceCheck::Unpriced,
            Some(list) if (self.cost - list).abs() <= PRICE_TOLERANCE * list + 0.01 => {
                PriceCheck::Ok
            }
            Some(_) => PriceCheck::Mismatch,
        }
    }

    /// Whether it counts tokens (not model units).
    pub fn is_tokens(&self) -> bool {
        TokenKind::TOKENS.contains(&self.usage.token_kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceCheck {
    Ok,
    Mismatch,
    Unpriced,
}

impl PriceCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceCheck::Ok => "ok",
            PriceCheck::Mismatch => "mismatch",
            PriceCheck::Unpriced => "unpriced",
        }
    }
}

/// Tokens by kind over the last 30 days; a kind is null when a line of it has no price
/// (its unit, so its tokens, are then unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tokens {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_write_1h: Option<f64>,
}

impl Tokens {
    pub fn get(&self, kind: TokenKind) -> Option<f64> {
        match kind {
            TokenKind::Input => self.input,
            TokenKind::Output => self.output,
            TokenKind::CacheRead => self.cache_read,
            TokenKind::CacheWrite => self.cache_write,
            TokenKind::CacheWrite1h => self.cache_write_1h,
            _ => None,
        }
    }

    fn slot(&mut self, kind: TokenKind) -> Option<&mut Option<f64>> {
        match kind {
            TokenKind::Input => Some(&mut self.input),
            TokenKind::Output => Some(&mut self.output),
            TokenKind::CacheRead => Some(&mut self.cache_read),
            TokenKind::CacheWrite => Some(&mut self.cache_write),
            TokenKind::CacheWrite1h => Some(&mut self.cache_write_1h),
            _ => None,
        }
    }
}

/// Provisioned throughput billed over the last 30 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Provisioned {
    /// Model-unit hours.
    pub model_unit_hours: f64,
    #[serde(serialize_with = "cents")]
    pub cost: f64,
}

/// One model of a workload over the last 30 days, checked against the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCheck {
    /// The bill's name for it (`Claude4.6Sonnet`, `Claude 3 Haiku (Amazon Bedrock
    /// Edition)`): the first of `bill_names`.
    pub model: String,
    /// The price table's id for it (`claude-sonnet-4.6`), when the table knows it.
    pub model_id: Option<String>,
    /// How people name it, when the table knows it.
    pub name: Option<String>,
    /// The names the bill gives it here.
    pub bill_names: Vec<String>,
    pub tokens: Tokens,
    /// Shares of its spend by tier and by route.
    pub tiers: BTreeMap<&'static str, f64>,
    pub routes: BTreeMap<&'static str, f64>,
    /// Dollars billed for its tokens.
    #[serde(serialize_with = "cents")]
    pub billed: f64,
    /// The same tokens at the table's prices (null when a line is unpriced).
    #[serde(serialize_with = "crate::model::money::cents_option")]
    pub list_cost: Option<f64>,
    pub price_check: PriceCheck,
    /// The bill against the list cost of its priced lines, in percent (negative: below
    /// list).
    pub bill_vs_list_percent: Option<f64>,
    /// Cache reads as a share of the tokens sent to the model.
    pub cache_read_share: Option<f64>,
    /// Tokens sent to the model per token it wrote back.
    pub input_per_output: Option<f64>,
    /// Billed dollars per 1M tokens, by kind.
    pub effective_per_million: BTreeMap<&'static str, f64>,
    pub provisioned: Option<Provisioned>,
    #[serde(skip)]
    pub lines: Vec<PricedLine>,
}

impl ModelCheck {
    /// The token lines (not model units).
    pub fn token_lines(&self) -> impl Iterator<Item = &PricedLine> {
        self.lines.iter().filter(|l| l.is_tokens())
    }

    /// Billed / list over the priced token lines, when they have a list cost.
    pub fn bill_ratio(&self) -> Option<f64> {
        let (billed, list) = self
            .token_lines()
            .filter_map(|l| l.list_cost().map(|c| (l.cost, c)))
            .fold((0.0, 0.0), |(b, l), (x, y)| (b + x, l + y));
        (list > 0.0).then(|| billed / list)
    }
}

/// Every model of a workload's Bedrock lines, largest first.
pub fn check(usage: &[UsageSpend], prices: &PriceTable) -> Vec<ModelCheck> {
    let mut by_model: BTreeMap<String, Vec<PricedLine>> = BTreeMap::new();
    for u in usage {
        if u.last_30_days.abs() < 1e-9 && u.last_30_days_quantity.abs() < 1e-9 {
            continue;
        }
        let Some(parsed) = usage_type::parse(&u.service, &u.usage_type) else {
            continue;
        };
        if !(parsed.token_kind == TokenKind::ModelUnits
            || TokenKind::TOKENS.contains(&parsed.token_kind))
        {
            continue;
        }
        let model = prices
            .model(&parsed.bill_name)
            .map_or_else(|| parsed.bill_name.clone(), |m| m.id.clone());
        by_model.entry(model).or_default().push(PricedLine {
            service: u.service.clone(),
            usage_type: u.usage_type.clone(),
            price: prices.of(&parsed).cloned(),
            usage: parsed,
            cost: u.last_30_days,
            quantity: u.last_30_days_quantity,
        });
    }
    let mut out: Vec<ModelCheck> = by_model
        .into_iter()
        .map(|(model, lines)| summarise(model, lines, prices))
        .collect();
    out.sort_by(|a, b| b.billed.total_cmp(&a.billed).then(a.model.cmp(&b.model)));
    out
}

fn share_map<'a>(
    parts: impl Iterator<Item = (&'a str, f64)>,
    total: f64,
) -> BTreeMap<&'a str, f64> {
    let mut out: BTreeMap<&str, f64> = BTreeMap::new();
    for (k, v) in parts {
        *out.entry(k).or_default() += v;
    }
    if total > 0.0 {
        for v in out.values_mut() {
            *v = (*v / total * 10_000.0).round() / 10_000.0;
        }
    }
    out
}

fn summarise(key: String, lines: Vec<PricedLine>, prices: &PriceTable) -> ModelCheck {
    let tokens: Vec<&PricedLine> = lines.iter().filter(|l| l.is_tokens()).collect();
    let billed: f64 = tokens.iter().map(|l| l.cost).sum();
    let mut by_kind = Tokens {
        input: Some(0.0),
        output: Some(0.0),
        cache_read: Some(0.0),
        cache_write: Some(0.0),
        cache_write_1h: Some(0.0),
    };
    let mut unknown = Vec::new();
    let mut cost_by_kind: BTreeMap<TokenKind, f64> = BTreeMap::new();
    for l in &tokens {
        *cost_by_kind.entry(l.usage.token_kind).or_default() += l.cost;
        match (l.tokens(), by_kind.slot(l.usage.token_kind)) {
            (Some(t), Some(slot)) => *slot = Some(slot.unwrap_or(0.0) + t),
            _ => unknown.push(l.usage.token_kind),
        }
    }
    for kind in unknown {
        if let Some(slot) = by_kind.slot(kind) {
            *slot = None;
        }
    }
    let check = tokens
        .iter()
        .map(|l| l.check())
        .max()
        .unwrap_or(PriceCheck::Ok);
    let list_cost =
        (check != PriceCheck::Unpriced).then(|| tokens.iter().filter_map(|l| l.list_cost()).sum());
    let priced: (f64, f64) = tokens
        .iter()
        .filter_map(|l| l.list_cost().map(|c| (l.cost, c)))
        .fold((0.0, 0.0), |(b, s), (x, y)| (b + x, s + y));
    let bill_vs_list_percent =
        (priced.1 > 0.0).then(|| ((priced.0 / priced.1 - 1.0) * 1000.0).round() / 10.0);
    let t = |k: TokenKind| by_kind.get(k);
    let sent = [
        TokenKind::Input,
        TokenKind::CacheRead,
        TokenKind::CacheWrite,
        TokenKind::CacheWrite1h,
    ]
    .iter()
    .map(|k| t(*k))
    .sum::<Option<f64>>();
    let cache_read_share = match (sent, t(TokenKind::CacheRead)) {
        (Some(sent), Some(read)) if sent > 0.0 => Some(round4(read / sent)),
        _ => None,
    };
    let input_per_output = match (sent, t(TokenKind::Output)) {
        (Some(sent), Some(out)) if out > 0.0 => Some((sent / out * 100.0).round() / 100.0),
        _ => None,
    };
    let effective_per_million = cost_by_kind
        .iter()
        .filter_map(|(k, c)| {
            let n = t(*k)?;
            (n > 0.0).then(|| (k.as_str(), (c / n * 1e6 * 10_000.0).round() / 10_000.0))
        })
        .collect();
    let provisioned = lines
        .iter()
        .filter(|l| l.usage.token_kind == TokenKind::ModelUnits)
        .fold(None, |acc: Option<Provisioned>, l| {
            let mut p = acc.unwrap_or_default();
            p.model_unit_hours += l.quantity;
            p.cost += l.cost;
            Some(p)
        });
    let mut bill_names: Vec<String> = lines.iter().map(|l| l.usage.bill_name.clone()).collect();
    bill_names.sort();
    bill_names.dedup();
    let mut tokens_rounded = by_kind.clone();
    for kind in TokenKind::TOKENS {
        if let Some(Some(v)) = tokens_rounded.slot(kind) {
            *v = v.round();
        }
    }
    let info = prices.model_by_id(&key);
    ModelCheck {
        name: info.map(|m| m.name.clone()),
        model_id: info.map(|m| m.id.clone()),
        model: bill_names.first().cloned().unwrap_or(key),
        bill_names,
        tokens: tokens_rounded,
        tiers: share_map(
            tokens.iter().map(|l| (l.usage.tier.as_str(), l.cost)),
            billed,
        ),
        routes: share_map(
            tokens.iter().map(|l| (l.usage.route.as_str(), l.cost)),
            billed,
        ),
        billed,
        list_cost,
        price_check: check,
        bill_vs_list_percent,
        cache_read_share,
        input_per_output,
        effective_per_million,
        provisioned,
        lines,
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(service: &str, usage_type: &str, cost: f64, quantity: f64) -> UsageSpend {
        UsageSpend {
            service: service.into(),
            usage_type: usage_type.into(),
            last_30_days: cost,
            last_30_days_quantity: quantity,
        }
    }

    #[test]
    fn tokens_and_the_price_check_on_a_hand_made_bill() {
        let prices = PriceTable::shipped();
        let claude = "Amazon Bedrock Service";
        let nova = "Amazon Bedrock";
        let usage = [
            // Sonnet 4.6 in-region: 2M input tokens (2,000 x 1K) at $3.30 = $6.60;
            // 0.5M output at $16.50 = $8.25; 6M cache reads at $0.33 = $1.98.
            line(claude, "USE1-Claude4.6Sonnet-input-tokens", 6.60, 2_000.0),
            line(claude, "USE1-Claude4.6Sonnet-output-tokens", 8.25, 500.0),
            line(
                claude,
                "USE1-Claude4.6Sonnet-cache-read-input-token-count",
                1.98,
                6_000.0,
            ),
            // Nova Micro billed 20% under list: 10M input at $0.035 would be $0.35.
            line(nova, "USE1-NovaMicro-input-tokens", 0.28, 10_000.0),
            // A table entry off by a thousand: the bill says $3.00 for what the table
            // would price at $0.003 (a "1K tokens" quantity read as tokens).
            line(nova, "USE1-Llama3-3-70B-input-tokens", 3.00, 4.1667),
            // No price for this model anywhere in the table.
            line(nova, "USE1-Mystery7B-input-tokens", 1.00, 100.0),
        ];
        let got = check(&usage, prices);
        let by = |m: &str| got.iter().find(|c| c.model == m).unwrap();
        let sonnet = by("Claude4.6Sonnet");
        assert_eq!(sonnet.model_id.as_deref(), Some("claude-sonnet-4.6"));
        assert_eq!(sonnet.price_check, PriceCheck::Ok);
        assert_eq!(sonnet.tokens.input, Some(2_000_000.0));
        assert_eq!(sonnet.tokens.cache_read, Some(6_000_000.0));
        assert_eq!(sonnet.tokens.cache_write, Some(0.0));
        // 6M reads of 8M tokens sent; 8M sent per 0.5M out.
        assert_eq!(sonnet.cache_read_share, Some(0.75));
        assert_eq!(sonnet.input_per_output, Some(16.0));
        assert_eq!(sonnet.routes.get("regional"), Some(&1.0));
        assert!((sonnet.list_cost.unwrap() - 16.83).abs() < 1e-9);
        assert_eq!(sonnet.effective_per_million.get("input"), Some(&3.3));
        let micro = by("NovaMicro");
        assert_eq!(micro.price_check, PriceCheck::Mismatch);
        assert_eq!(micro.bill_vs_list_percent, Some(-20.0));
        // $3.00 against $0.003 of list: caught, not believed.
        let llama = by("Llama3-3-70B");
        assert_eq!(llama.price_check, PriceCheck::Mismatch);
        let mystery = by("Mystery7B");
        assert_eq!(mystery.price_check, PriceCheck::Unpriced);
        assert_eq!(mystery.list_cost, None);
        assert_eq!(mystery.tokens.input, None);
        // Largest first.
        assert_eq!(got[0].model, "Claude4.6Sonnet");
    }
}
