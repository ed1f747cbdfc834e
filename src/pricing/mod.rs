//! Bedrock's prices as data, keyed the way the bill names things: the usage type's
//! billing name (`Claude4.6Sonnet`, `NovaPro`) or, for a Marketplace listing, its
//! product (`Claude 3 Haiku (Amazon Bedrock Edition)`); the region code; the token
//! kind; the tier and the route. Pure: the shell reads the files.
//!
//! creditburn ships one table (`pricing/bedrock.toml`, compiled in). A table of one's
//! own (`[pricing] table`, for example made by `creditburn pricing import` from the AWS
//! Price List) is layered over it, and `[[pricing.overrides]]` (a negotiated discount)
//! over both. Every price carries its source and the day it was checked; prices are
//! held per 1M tokens whatever unit the offer quotes (normalised once, when a table is
//! read or imported), with the unit the bill's quantity counts in beside it.

pub mod offer;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::model::usage_type::{BedrockUsage, Route, Tier, TokenKind};

/// The first line of every table: what the file is.
pub const FORMAT: &str = "creditburn-prices/1";

/// The table creditburn ships.
pub const SHIPPED: &str = include_str!("../../pricing/bedrock.toml");

/// The largest price accepted, in dollars per 1M tokens: a bound far above any model's,
/// so a unit slip of a thousand is refused rather than believed.
pub const MAX_PER_MILLION: f64 = 10_000.0;

/// A problem in a table or an override: the key it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}

/// How many tokens one unit of the bill's quantity (Cost Explorer's UsageQuantity,
/// CUR's `line_item_usage_amount`) counts: the offer's pricing unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Unit {
    #[serde(rename = "tokens")]
    Tokens,
    #[serde(rename = "1K tokens")]
    Thousand,
    #[serde(rename = "1M tokens")]
    Million,
}

impl Unit {
    pub fn tokens(self) -> f64 {
        match self {
            Unit::Tokens => 1.0,
            Unit::Thousand => 1_000.0,
            Unit::Million => 1_000_000.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Tokens => "tokens",
            Unit::Thousand => "1K tokens",
            Unit::Million => "1M tokens",
        }
    }

    pub fn from_name(s: &str) -> Option<Unit> {
        [Unit::Tokens, Unit::Thousand, Unit::Million]
            .into_iter()
            .find(|u| u.as_str() == s)
    }
}

/// One price.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Price {
    /// Dollars per 1M tokens.
    pub per_million: f64,
    /// The unit the bill's quantity is in for this usage type.
    pub unit: Unit,
    pub source: String,
    pub checked: NaiveDate,
}

impl Price {
    /// Dollars per unit of the bill's quantity.
    pub fn per_unit(&self) -> f64 {
        self.per_million * self.unit.tokens() / 1e6
    }
}

/// What a price is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub bill_name: String,
    pub region: String,
    pub kind: TokenKind,
    pub tier: Tier,
    pub route: Route,
}

impl Key {
    /// The key of a line of the bill; None without a region (no price is keyed so).
    pub fn of(u: &BedrockUsage) -> Option<Key> {
        Some(Key {
            bill_name: u.bill_name.clone(),
            region: u.region.clone()?,
            kind: u.token_kind,
            tier: u.tier,
            route: u.route,
        })
    }
}

/// A move to another model of the table, with what to check before making it.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The other model's id.
    pub model: String,
    pub note: String,
}

/// What the table knows of a model besides its prices.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The table's own id (`claude-sonnet-4.6`).
    pub id: String,
    /// How people name it (`Claude Sonnet 4.6`).
    pub name: String,
    /// Every name the bill gives it: billing names and Marketplace products.
    pub bill_names: Vec<String>,
    /// The shortest prompt prefix it caches, in tokens.
    pub min_cache_tokens: Option<u32>,
    /// A smaller model of the same family for routine work.
    pub smaller: Option<Move>,
    /// The model that replaces it, for a legacy model.
    pub successor: Option<Move>,
    pub source: String,
    pub checked: NaiveDate,
}

/// The prices and the models, keyed for lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    models: Vec<ModelInfo>,
    prices: BTreeMap<Key, Price>,
    /// Bill name -> index into `models`.
    by_bill_name: HashMap<String, usize>,
}

// ---- the file ----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    format: String,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    prices: Vec<RawRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: String,
    name: String,
    bill_names: Vec<String>,
    min_cache_tokens: Option<u32>,
    smaller: Option<RawMove>,
    successor: Option<RawMove>,
    source: String,
    checked: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMove {
    model: String,
    note: String,
}

/// The prices of one model in some regions at one tier and route, per 1M tokens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    bill_name: String,
    regions: Vec<String>,
    #[serde(default = "standard")]
    tier: String,
    #[serde(default = "regional")]
    route: String,
    unit: String,
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
    source: String,
    checked: String,
}

impl RawRow {
    fn kinds(&self) -> RawKinds {
        RawKinds {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_write: self.cache_write,
            cache_write_1h: self.cache_write_1h,
        }
    }
}

/// A price per kind of token, per 1M tokens (the fields of a row or an override; not
/// flattened into them, so the config's key check can read their fields).
#[derive(Debug, Default)]
struct RawKinds {
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
}

impl RawKinds {
    fn each(&self) -> [(TokenKind, Option<f64>); 5] {
        [
            (TokenKind::Input, self.input),
            (TokenKind::Output, self.output),
            (TokenKind::CacheRead, self.cache_read),
            (TokenKind::CacheWrite, self.cache_write),
            (TokenKind::CacheWrite1h, self.cache_write_1h),
        ]
    }

    /// The prices given, each checked (finite, 0 or more, within `MAX_PER_MILLION`).
    fn checked(&self, key: &str, problems: &mut Vec<Problem>) -> BTreeMap<TokenKind, f64> {
        let mut out = BTreeMap::new();
        for (kind, value) in self.each() {
            let Some(v) = value else { continue };
            if !v.is_finite() || v < 0.0 {
                problems.push(problem(
                    format!("{key}.{}", kind.as_str()),
                    format!("{v} is not a price (dollars per 1M tokens, 0 or more)"),
                ));
            } else if v > MAX_PER_MILLION {
                problems.push(problem(
                    format!("{key}.{}", kind.as_str()),
                    format!("{v} dollars per 1M tokens is above {MAX_PER_MILLION}; prices are per 1M tokens (a price per token or per 1K needs converting)"),
                ));
            } else {
                out.insert(kind, v);
            }
        }
        out
    }
}

fn standard() -> String {
    "standard".into()
}
fn regional() -> String {
    "regional".into()
}

fn date(s: &str, key: String, problems: &mut Vec<Problem>) -> Option<NaiveDate> {
    let d = (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .filter(|d| {
            (crate::model::page::MIN_YEAR..=crate::model::page::MAX_YEAR)
                .contains(&chrono::Datelike::year(d))
        });
    if d.is_none() {
        problems.push(problem(
            key,
            format!("{s:?} is not a date of the form YYYY-MM-DD"),
        ));
    }
    d
}

fn text(s: &str, key: String, what: &str, problems: &mut Vec<Problem>) -> Option<String> {
    if s.trim().is_empty() {
        problems.push(problem(key, format!("is empty; give {what}")));
        None
    } else if s.trim() != s || s.chars().any(char::is_control) {
        problems.push(problem(
            key,
            format!("{s:?} has leading or trailing white space or a control character"),
        ));
        None
    } else {
        Some(s.to_string())
    }
}

fn regions(list: &[String], key: &str, problems: &mut Vec<Problem>) -> Vec<String> {
    if list.is_empty() {
        problems.push(problem(
            key,
            "is empty; list the region codes the prices hold in (USE1, EUC1, ...)",
        ));
    }
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        if crate::model::usage_type::is_region_code(r) {
            out.push(r.clone());
        } else {
            problems.push(problem(
                format!("{key}[{i}]"),
                format!("{r:?} is not a region code as the bill writes it (USE1, USW2, EUC1, APN1, ...)"),
            ));
        }
    }
    out
}

fn tier(s: &str, key: String, problems: &mut Vec<Problem>) -> Option<Tier> {
    let t = Tier::from_name(s);
    if t.is_none() {
        let known: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
        problems.push(problem(
            key,
            format!("unknown tier {s:?}; use one of {}", known.join(", ")),
        ));
    }
    t
}

fn route(s: &str, key: String, problems: &mut Vec<Problem>) -> Option<Route> {
    let r = Route::from_name(s);
    if r.is_none() {
        problems.push(problem(
            key,
            format!("unknown route {s:?}; use regional (in-region or geographic) or global"),
        ));
    }
    r
}

fn unit(s: &str, key: String, problems: &mut Vec<Problem>) -> Option<Unit> {
    let u = Unit::from_name(s);
    if u.is_none() {
        problems.push(problem(
            key,
            format!("unknown unit {s:?}; the bill counts tokens in \"tokens\", \"1K tokens\" or \"1M tokens\""),
        ));
    }
    u
}

impl PriceTable {
    /// The table creditburn ships, parsed once.
    pub fn shipped() -> &'static PriceTable {
        static TABLE: std::sync::OnceLock<PriceTable> = std::sync::OnceLock::new();
        // A unit test parses the shipped text, so this default is never reached there.
        TABLE.get_or_init(|| PriceTable::parse(SHIPPED).unwrap_or_default())
    }

    /// Reads a table's text, every problem named by its key (`prices[3].input`).
    pub fn parse(text: &str) -> Result<PriceTable, Vec<Problem>> {
        let raw: RawTable = toml::from_str(text)
            .map_err(|e| vec![problem("", crate::model::text::one_line(&e.to_string()))])?;
        let mut problems = Vec::new();
        if raw.format != FORMAT {
            problems.push(problem(
                "format",
                format!("{:?} is not {FORMAT:?}", raw.format),
            ));
        }
        let mut table = PriceTable::default();
        for (i, m) in raw.models.iter().enumerate() {
            if let Some(model) = model_info(m, &format!("models[{i}]"), &mut problems) {
                table.add_model(model, &format!("models[{i}]"), &mut problems);
            }
        }
        let mut seen: HashMap<Key, usize> = HashMap::new();
        for (i, row) in raw.prices.iter().enumerate() {
            let key = format!("prices[{i}]");
            for (k, price) in price_row(row, &key, &mut problems) {
                match seen.get(&k) {
                    Some(j) => problems.push(problem(
                        key.clone(),
                        format!(
                            "{} {} {} {} {} is already priced by prices[{j}]",
                            k.bill_name,
                            k.region,
                            k.tier.as_str(),
                            k.route.as_str(),
                            k.kind.as_str()
                        ),
                    )),
                    None => {
                        seen.insert(k.clone(), i);
                        table.prices.insert(k, price);
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(table)
        } else {
            Err(problems)
        }
    }

    fn add_model(&mut self, model: ModelInfo, key: &str, problems: &mut Vec<Problem>) {
        if let Some(j) = self.models.iter().position(|m| m.id == model.id) {
            problems.push(problem(
                format!("{key}.id"),
                format!("{:?} is already the id of models[{j}]", model.id),
            ));
            return;
        }
        for b in &model.bill_names {
            if let Some(&j) = self.by_bill_name.get(b) {
                problems.push(problem(
                    format!("{key}.bill_names"),
                    format!("{b:?} is already a bill name of {}", self.models[j].id),
                ));
                return;
            }
        }
        let i = self.models.len();
        for b in &model.bill_names {
            self.by_bill_name.insert(b.clone(), i);
        }
        self.models.push(model);
    }

    /// The moves (`smaller`, `successor`) naming no model of the table: checked on the
    /// table a run uses, after every layer, so a table of one's own may name a shipped
    /// model.
    pub fn dangling_moves(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for m in &self.models {
            for (what, mv) in [("smaller", &m.smaller), ("successor", &m.successor)] {
                if let Some(mv) = mv {
                    if self.model_by_id(&mv.model).is_none() {
                        out.push(problem(
                            format!("{}.{what}.model", m.id),
                            format!("{:?} is not the id of a model in the table", mv.model),
                        ));
                    }
                }
            }
        }
        out
    }

    /// `other` over this table: its prices replace those of the same key, its models
    /// those of the same id (a bill name then belongs to the newer model).
    pub fn layer(&mut self, other: &PriceTable) {
        for m in &other.models {
            self.models.retain(|o| o.id != m.id);
            self.models.push(m.clone());
        }
        self.by_bill_name.clear();
        for (i, m) in self.models.iter().enumerate() {
            for b in &m.bill_names {
                self.by_bill_name.insert(b.clone(), i);
            }
        }
        for (k, p) in &other.prices {
            self.prices.insert(k.clone(), p.clone());
        }
    }

    /// Applies the overrides in order; an override that matches no price is a problem
    /// naming it (`pricing.overrides[0]`).
    pub fn apply(&mut self, overrides: &[Override]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, o) in overrides.iter().enumerate() {
            let key = format!("pricing.overrides[{i}]");
            let matches = |k: &Key| {
                k.bill_name == o.bill_name
                    && o.regions.as_ref().is_none_or(|r| r.contains(&k.region))
                    && o.tier.is_none_or(|t| t == k.tier)
                    && o.route.is_none_or(|r| r == k.route)
            };
            match &o.change {
                Change::Discount(percent) => {
                    let mut n = 0;
                    for (k, p) in self.prices.iter_mut() {
                        if matches(k) {
                            p.per_million *= 1.0 - percent / 100.0;
                            p.source = o.source.clone();
                            p.checked = o.checked;
                            n += 1;
                        }
                    }
                    if n == 0 {
                        problems.push(problem(key, format!("{:?} matches no price of the table (bill names are matched exactly; `creditburn pricing show` lists them)", o.bill_name)));
                    }
                }
                Change::Prices { unit, prices } => {
                    let (Some(regions), Some(tier), Some(route)) = (&o.regions, o.tier, o.route)
                    else {
                        problems.push(problem(key, "a price of one's own needs regions, tier and route, so it says exactly what it prices"));
                        continue;
                    };
                    for region in regions {
                        for (kind, per_million) in prices {
                            let k = Key {
                                bill_name: o.bill_name.clone(),
                                region: region.clone(),
                                kind: *kind,
                                tier,
                                route,
                            };
                            let Some(unit) = unit.or_else(|| self.prices.get(&k).map(|p| p.unit))
                            else {
                                problems.push(problem(format!("{key}.unit"), format!("is needed: the table has no {} {region} price to take it from", o.bill_name)));
                                continue;
                            };
                            self.prices.insert(
                                k,
                                Price {
                                    per_million: *per_million,
                                    unit,
                                    source: o.source.clone(),
                                    checked: o.checked,
                                },
                            );
                        }
                    }
                }
            }
        }
        problems
    }

    pub fn price(&self, key: &Key) -> Option<&Price> {
        self.prices.get(key)
    }

    /// The price of a line of the bill, if the table has one.
    pub fn of(&self, u: &BedrockUsage) -> Option<&Price> {
        self.price(&Key::of(u)?)
    }

    /// The model a bill name belongs to.
    pub fn model(&self, bill_name: &str) -> Option<&ModelInfo> {
        self.by_bill_name.get(bill_name).map(|&i| &self.models[i])
    }

    pub fn model_by_id(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The price of the same tokens as `u` with another model, tier or route: the first
    /// of the model's bill names with a price, the line's own naming family (billing
    /// name or Marketplace product) first.
    pub fn alternative<'a>(
        &'a self,
        u: &BedrockUsage,
        model: &'a ModelInfo,
        tier: Tier,
        route: Route,
    ) -> Option<(&'a str, &'a Price)> {
        let region = u.region.as_ref()?;
        let marketplace_name =
            |b: &str| b.ends_with(crate::model::usage_type::BEDROCK_EDITION_SUFFIX);
        let mut names: Vec<&String> = model.bill_names.iter().collect();
        names.sort_by_key(|b| marketplace_name(b) != u.marketplace);
        names.into_iter().find_map(|b| {
            let k = Key {
                bill_name: b.clone(),
                region: region.clone(),
                kind: u.token_kind,
                tier,
                route,
            };
            self.prices.get(&k).map(|p| (b.as_str(), p))
        })
    }

    /// How many prices it holds.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    pub fn prices(&self) -> impl Iterator<Item = (&Key, &Price)> {
        self.prices.iter()
    }

    /// Adds a price (the import's way in); an existing one of the same key is replaced.
    pub fn insert(&mut self, key: Key, price: Price) {
        self.prices.insert(key, price);
    }

    /// The table as a file `parse` reads back: the models, then one row per bill name,
    /// region, tier, route, unit and source.
    pub fn to_toml(&self) -> String {
        let mut out = format!("format = {FORMAT:?}\n");
        for m in &self.models {
            out.push_str("\n[[models]]\n");
            let _ = writeln!(out, "id = {:?}", m.id);
            let _ = writeln!(out, "name = {:?}", m.name);
            let _ = writeln!(out, "bill_names = {:?}", m.bill_names);
            if let Some(n) = m.min_cache_tokens {
                let _ = writeln!(out, "min_cache_tokens = {n}");
            }
            for (what, mv) in [("smaller", &m.smaller), ("successor", &m.successor)] {
                if let Some(mv) = mv {
                    let _ = writeln!(
                        out,
                        "{what} = {{ model = {:?}, note = {:?} }}",
                        mv.model, mv.note
                    );
                }
            }
            let _ = writeln!(out, "source = {:?}", m.source);
            let _ = writeln!(out, "checked = \"{}\"", m.checked);
        }
        // Rows: the kinds of one (bill name, region, tier, route, unit, source, checked).
        type RowKey<'a> = (&'a str, &'a str, Tier, Route, &'a str, &'a str, NaiveDate);
        let mut rows: BTreeMap<RowKey, Vec<(TokenKind, f64)>> = BTreeMap::new();
        for (k, p) in &self.prices {
            rows.entry((
                &k.bill_name,
                &k.region,
                k.tier,
                k.route,
                p.unit.as_str(),
                &p.source,
                p.checked,
            ))
            .or_default()
            .push((k.kind, p.per_million));
        }
        for ((bill_name, region, tier, route, unit, source, checked), kinds) in rows {
            out.push_str("\n[[prices]]\n");
            let _ = writeln!(out, "bill_name = {bill_name:?}");
            let _ = writeln!(out, "regions = [{region:?}]");
            let _ = writeln!(out, "tier = {:?}", tier.as_str());
            let _ = writeln!(out, "route = {:?}", route.as_str());
            let _ = writeln!(out, "unit = {unit:?}");
            for (kind, v) in kinds {
                let _ = writeln!(out, "{} = {v:?}", kind.as_str());
            }
            let _ = writeln!(out, "source = {source:?}");
            let _ = writeln!(out, "checked = \"{checked}\"");
        }
        out
    }
}

fn model_info(m: &RawModel, key: &str, problems: &mut Vec<Problem>) -> Option<ModelInfo> {
    let before = problems.len();
    let id = text(&m.id, format!("{key}.id"), "the model's id", problems);
    let name = text(&m.name, format!("{key}.name"), "the model's name", problems);
    if m.bill_names.is_empty() {
        problems.push(problem(
            format!("{key}.bill_names"),
            "is empty; list the names the bill gives the model",
        ));
    }
    for (j, b) in m.bill_names.iter().enumerate() {
        text(b, format!("{key}.bill_names[{j}]"), "a bill name", problems);
    }
    if m.min_cache_tokens == Some(0) {
        problems.push(problem(
            format!("{key}.min_cache_tokens"),
            "is 0; leave it out where the model does not cache",
        ));
    }
    let source = text(
        &m.source,
        format!("{key}.source"),
        "where the facts come from",
        problems,
    );
    let checked = date(&m.checked, format!("{key}.checked"), problems);
    let mv = |raw: &Option<RawMove>| {
        raw.as_ref().map(|r| Move {
            model: r.model.clone(),
            note: r.note.clone(),
        })
    };
    if problems.len() > before {
        return None;
    }
    Some(ModelInfo {
        id: id?,
        name: name?,
        bill_names: m.bill_names.clone(),
        min_cache_tokens: m.min_cache_tokens,
        smaller: mv(&m.smaller),
        successor: mv(&m.successor),
        source: source?,
        checked: checked?,
    })
}

fn price_row(row: &RawRow, key: &str, problems: &mut Vec<Problem>) -> Vec<(Key, Price)> {
    let before = problems.len();
    let bill_name = text(
        &row.bill_name,
        format!("{key}.bill_name"),
        "the bill's name for the model",
        problems,
    );
    let regions = regions(&row.regions, &format!("{key}.regions"), problems);
    let tier = tier(&row.tier, format!("{key}.tier"), problems);
    let route = route(&row.route, format!("{key}.route"), problems);
    let unit = unit(&row.unit, format!("{key}.unit"), problems);
    let prices = row.kinds().checked(key, problems);
    if prices.is_empty() && problems.len() == before {
        problems.push(problem(
            key,
            "prices nothing; give input, output, cache_read, cache_write or cache_write_1h",
        ));
    }
    let source = text(
        &row.source,
        format!("{key}.source"),
        "where the price comes from",
        problems,
    );
    let checked = date(&row.checked, format!("{key}.checked"), problems);
    let (Some(bill_name), Some(tier), Some(route), Some(unit), Some(source), Some(checked)) =
        (bill_name, tier, route, unit, source, checked)
    else {
        return Vec::new();
    };
    if problems.len() > before {
        return Vec::new();
    }
    let mut out = Vec::new();
    for region in &regions {
        for (kind, per_million) in &prices {
            out.push((
                Key {
                    bill_name: bill_name.clone(),
                    region: region.clone(),
                    kind: *kind,
                    tier,
                    route,
                },
                Price {
                    per_million: *per_million,
                    unit,
                    source: source.clone(),
                    checked,
                },
            ));
        }
    }
    out
}

// ---- overrides (`[[pricing.overrides]]`) ----------------------------------------------

/// An override as written in the config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    bill_name: String,
    regions: Option<Vec<String>>,
    tier: Option<String>,
    route: Option<String>,
    /// Percent off every matching price.
    discount_percent: Option<f64>,
    unit: Option<String>,
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
    source: String,
    checked: String,
}

impl RawOverride {
    fn kinds(&self) -> RawKinds {
        RawKinds {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_write: self.cache_write,
            cache_write_1h: self.cache_write_1h,
        }
    }
}

/// What an override changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Percent off every price it matches.
    Discount(f64),
    /// Prices of one's own, per 1M tokens.
    Prices {
        unit: Option<Unit>,
        prices: BTreeMap<TokenKind, f64>,
    },
}

/// A change to the table from the config: a negotiated discount, or a price of one's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub bill_name: String,
    /// None: every region, tier or route.
    pub regions: Option<Vec<String>>,
    pub tier: Option<Tier>,
    pub route: Option<Route>,
    pub change: Change,
    pub source: String,
    pub checked: NaiveDate,
}

impl Override {
    /// Checks one override as written, its problems named under `key`.
    pub fn check(raw: &RawOverride, key: &str) -> Result<Override, Vec<Problem>> {
        let mut problems = Vec::new();
        let bill_name = text(
            &raw.bill_name,
            format!("{key}.bill_name"),
            "the bill's name for the model",
            &mut problems,
        );
        let regions = raw
            .regions
            .as_ref()
            .map(|r| regions(r, &format!("{key}.regions"), &mut problems));
        let tier = raw
            .tier
            .as_ref()
            .and_then(|t| tier(t, format!("{key}.tier"), &mut problems));
        let route = raw
            .route
            .as_ref()
            .and_then(|r| route(r, format!("{key}.route"), &mut problems));
        let unit = raw
            .unit
            .as_ref()
            .and_then(|u| unit(u, format!("{key}.unit"), &mut problems));
        let prices = raw.kinds().checked(key, &mut problems);
        let change = match raw.discount_percent {
            Some(d) if !prices.is_empty() || raw.unit.is_some() => {
                problems.push(problem(
                    format!("{key}.discount_percent"),
                    format!("{d} comes with prices of its own; give either a discount or prices"),
                ));
                None
            }
            Some(d) if !(d > 0.0 && d <= 100.0) => {
                problems.push(problem(
                    format!("{key}.discount_percent"),
                    format!("{d} is not a percentage above 0 and at most 100"),
                ));
                None
            }
            Some(d) => Some(Change::Discount(d)),
            None if prices.is_empty() => {
                problems.push(problem(
                    key,
                    "changes nothing; give discount_percent, or prices (input, output, cache_read, cache_write, cache_write_1h) per 1M tokens",
                ));
                None
            }
            None => Some(Change::Prices { unit, prices }),
        };
        let source = text(
            &raw.source,
            format!("{key}.source"),
            "where the price comes from (a contract, an addendum)",
            &mut problems,
        );
        let checked = date(&raw.checked, format!("{key}.checked"), &mut problems);
        match (bill_name, change, source, checked) {
            (Some(bill_name), Some(change), Some(source), Some(checked)) if problems.is_empty() => {
                Ok(Override {
                    bill_name,
                    regions,
                    tier,
                    route,
                    change,
                    source,
                    checked,
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_its_moves_name_its_models() {
        let t = PriceTable::parse(SHIPPED).unwrap_or_else(|p| panic!("{p:?}"));
        assert!(t.len() > 50, "{} prices", t.len());
        assert_eq!(t.dangling_moves(), []);
        assert_eq!(&t, PriceTable::shipped());
        // Every model with a bill name is reachable by it.
        for m in t.models() {
            for b in &m.bill_names {
                assert_eq!(t.model(b).map(|m| m.id.as_str()), Some(m.id.as_str()));
            }
        }
    }

    #[test]
    fn a_table_written_out_reads_back_the_same() {
        let t = PriceTable::shipped();
        let again = PriceTable::parse(&t.to_toml()).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(&again, t);
    }

    fn problems_of(text: &str) -> Vec<String> {
        match PriceTable::parse(text) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
        }
    }

    #[test]
    fn bad_tables_name_every_problem_by_key() {
        let text = r#"
format = "creditburn-prices/1"
[[prices]]
bill_name = "NovaPro"
regions = ["us-east-1"]
tier = "cheap"
unit = "per token"
input = -1
output = 3200.5e3
source = ""
checked = "2026-13-01"

[[prices]]
bill_name = "NovaLite"
regions = ["USE1"]
unit = "1K tokens"
input = 0.06
source = "x"
checked = "2026-11-30"

[[prices]]
bill_name = "NovaLite"
regions = ["USE1"]
unit = "1K tokens"
input = 0.07
source = "y"
checked = "2026-11-30"
"#;
        let got = problems_of(text);
        for expect in [
            "prices[0].regions[0]: \"us-east-1\" is not a region code",
            "prices[0].tier: unknown tier \"cheap\"",
            "prices[0].unit: unknown unit \"per token\"",
            "prices[0].input: -1 is not a price",
            "prices[0].output: 3200500 dollars per 1M tokens is above",
            "prices[0].source: is empty",
            "prices[0].checked: \"2026-13-01\" is not a date",
            "prices[2]: NovaLite USE1 standard regional input is already priced by prices[1]",
        ] {
            assert!(
                got.iter().any(|g| g.starts_with(expect)),
                "{expect:?} in {got:#?}"
            );
        }
    }

    #[test]
    fn a_table_of_ones_own_may_name_a_shipped_model_as_a_move() {
        let own = PriceTable::parse(
            r#"format = "creditburn-prices/1"
[[models]]
id = "claude-opus-4.1"
name = "Claude Opus 4.1"
bill_names = ["Claude4.1Opus"]
successor = { model = "claude-opus-4.5", note = "x" }
smaller = { model = "claude-sonnet-9", note = "y" }
source = "ours"
checked = "2026-12-01"
"#,
        )
        .unwrap();
        let mut t = PriceTable::shipped().clone();
        t.layer(&own);
        let dangling = t.dangling_moves();
        assert_eq!(dangling.len(), 1, "{dangling:?}");
        assert_eq!(dangling[0].key, "claude-opus-4.1.smaller.model");
    }

    fn override_of(text: &str) -> Result<Override, Vec<Problem>> {
        let raw: RawOverride = toml::from_str(text).unwrap();
        Override::check(&raw, "pricing.overrides[0]")
    }

    #[test]
    fn a_discount_scales_every_matching_price_and_one_matching_nothing_is_named() {
        let mut t = PriceTable::shipped().clone();
        let key = Key {
            bill_name: "NovaMicro".into(),
            region: "USE1".into(),
            kind: TokenKind::Input,
            tier: Tier::Standard,
            route: Route::Regional,
        };
        let before = t.price(&key).unwrap().per_million;
        let o = override_of(
            r#"bill_name = "NovaMicro"
discount_percent = 20
source = "our private pricing addendum"
checked = "2026-06-01""#,
        )
        .unwrap();
        assert!(t.apply(&[o]).is_empty());
        let after = t.price(&key).unwrap();
        assert!((after.per_million - before * 0.8).abs() < 1e-12);
        assert_eq!(after.source, "our private pricing addendum");
        let o = override_of(
            r#"bill_name = "Nova Micro"
discount_percent = 20
source = "x"
checked = "2026-06-01""#,
        )
        .unwrap();
        let p = t.apply(&[o]);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("matches no price"), "{p:?}");
    }

    #[test]
    fn bad_overrides_are_named() {
        let p = override_of(
            r#"bill_name = "NovaMicro"
discount_percent = 120
source = "x"
checked = "2026-06-01""#,
        )
        .unwrap_err();
        assert_eq!(p[0].key, "pricing.overrides[0].discount_percent");
        let p = override_of(
            r#"bill_name = "NovaMicro"
source = "x"
checked = "2026-06-01""#,
        )
        .unwrap_err();
        assert!(p[0].message.contains("changes nothing"), "{p:?}");
    }
}
