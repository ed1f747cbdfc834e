//! The cost table: every decoded Cost Explorer page normalised into one polars DataFrame
//! with a row per (date, account, service, usage type, tags, record type).
//!
//! Cost Explorer groups by at most two dimensions per query, so usage arrives as slices
//! that share USAGE_TYPE: (SERVICE, USAGE_TYPE), (LINKED_ACCOUNT, USAGE_TYPE) and one
//! (TAG key, USAGE_TYPE) per tag key; and joint slices of each tag key with SERVICE and
//! (when the rules name accounts) LINKED_ACCOUNT, over all usage types. Within one day
//! and usage type the rows are rebuilt from the slices the rules need (`Needs`: the
//! account only when a rule names one), each tag key's values split between accounts
//! and the services between tag values by the day's joint slices (`solve_day`), exact
//! wherever the slices and the joints' amounts settle it. What they leave open is split
//! in proportion; those dollars are flagged `approximated` and totalled, never hidden
//! (ARCHITECTURE.md, "The query plan", says which cells and why). Every slice sums to
//! the same total, so the table's usage total is the service slice's total.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use aws_sdk_costexplorer::types::{GroupDefinitionType, MetricValue};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use crate::model::page::{CostPage, RecordScope, MAX_YEAR, MIN_YEAR};

pub const DATE: &str = "date";
pub const ACCOUNT: &str = "account";
pub const SERVICE: &str = "service";
pub const USAGE_TYPE: &str = "usage_type";
pub const RECORD_TYPE: &str = "record_type";
pub const COST: &str = "cost";
pub const QUANTITY: &str = "quantity";
pub(crate) const ESTIMATED: &str = "estimated";
pub const APPROXIMATED: &str = "approximated";
/// Who called (the IAM principal's ARN) and through what (the resource: an inference
/// profile's ARN): line-item sources only, null in a table from Cost Explorer.
pub const PRINCIPAL: &str = "principal";
pub const RESOURCE: &str = "resource";

/// The column holding tag `key` (null where the line has no such tag).
pub(crate) fn tag_column(key: &str) -> String {
    format!("tag:{key}")
}

/// The normalised table and what was learnt building it.
#[derive(Debug, Clone)]
pub struct CostTable {
    /// The usage lines first (`usage_rows` of them), then the other record types.
    pub df: DataFrame,
    /// How many of the first rows are usage lines (record type Usage): the analysis
    /// takes them as a slice of the table rather than a filtered copy.
    pub usage_rows: usize,
    pub tag_keys: Vec<String>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Usage dollars split between accounts, services or tags in proportion to cost.
    pub approximated_cost: f64,
    /// Account names from Cost Explorer's DimensionValueAttributes (or the export's
    /// account name column).
    pub account_names: BTreeMap<String, String>,
    /// What a line-item export said beyond Cost Explorer's dimensions; None from Cost
    /// Explorer.
    pub export: Option<crate::model::line::ExportFacts>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{}: {message}", file.display())]
    Page { file: PathBuf, message: String },
    #[error("{0}")]
    Recording(String),
    #[error("building the cost table: {0}")]
    Polars(#[from] PolarsError),
}

/// Days since 1970-01-01, polars' physical Date.
pub(crate) fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

pub fn from_epoch_days(n: i32) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(n as i64)
}

enum Slice<'a> {
    Service,
    Account,
    /// The tag key, borrowed from the page's GroupDefinitions.
    Tag(&'a str),
    /// The joint of a tag key (borrowed) and the account or the service, over all usage
    /// types.
    Joint(&'a str, Side),
    Other,
}

/// The dimension a joint slice pairs a tag key with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Account,
    Service,
}

/// A value (borrowed from the decoded pages: no row allocates a string) with its cost and
/// quantity.
type Part<'a> = (Option<&'a str>, f64, f64);

/// Which splits the table makes: what the rules (and nothing else downstream) need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Split each usage type's dollars between accounts. Without it, the account column
    /// is empty (null) and the rows are (service, usage type, tags): no rule can tell
    /// accounts apart, so nothing is lost, and no row is a guess between accounts.
    pub accounts: bool,
}

impl Needs {
    /// Every split the slices allow (recordings read without a config).
    pub const ALL: Needs = Needs { accounts: true };

    pub fn of(config: &crate::config::Config) -> Needs {
        Needs {
            accounts: config.rules_use_accounts(),
        }
    }
}

impl Default for Needs {
    fn default() -> Needs {
        Needs::ALL
    }
}

#[derive(Default)]
struct Cell<'a> {
    services: Vec<Part<'a>>,
    accounts: Vec<Part<'a>>,
    tags: BTreeMap<&'a str, Vec<Part<'a>>>,
    estimated: bool,
}

/// The joint slice of one tag key with the account or the service on one day: the cost
/// and quantity of each (tag value, account or service) pair with any.
type Amounts<'a> = BTreeMap<(Option<&'a str>, &'a str), [f64; 2]>;

/// One cell's split of a tag key's values with the account or the service, as solved
/// from the day's joint slice: the flows, and whether the joint determines them.
type Solved<'a> = (Vec<Flow<'a>>, bool);

/// A cell's slices as the rows are built from them: a slice the cell lacks is its whole
/// (one part without a value).
struct CellParts<'a> {
    total: (f64, f64),
    services: Vec<Part<'a>>,
    accounts: Vec<Part<'a>>,
    /// Per tag key, in `tag_keys` order.
    tags: Vec<Vec<Part<'a>>>,
}

impl<'a> Cell<'a> {
    fn parts(&self, tag_keys: &[String]) -> CellParts<'a> {
        let total = sum(&self.services);
        let or_whole = |parts: Option<&Vec<Part<'a>>>| -> Vec<Part<'a>> {
            match parts {
                Some(p) if !p.is_empty() => p.clone(),
                _ => vec![(None, total.0, total.1)],
            }
        };
        CellParts {
            total,
            services: or_whole(Some(&self.services)),
            accounts: or_whole(Some(&self.accounts)),
            tags: tag_keys
                .iter()
                .map(|k| or_whole(self.tags.get(k.as_str())))
                .collect(),
        }
    }
}

/// A tag value's dollars (and quantity) in one account: (tag value, account, cost,
/// quantity).
type Flow<'a> = (Option<&'a str>, &'a str, f64, f64);

/// A cell's splits of one tag key's values, solved from the day's joint slices: with
/// the account and with the service.
#[derive(Clone, Copy, Default)]
struct Joints<'s, 'a> {
    account: Option<&'s Solved<'a>>,
    service: Option<&'s Solved<'a>>,
}

/// A row of a cell being rebuilt: its account, its service, one value per tag key (in `tag_keys`
/// order), and its shares of the cell's cost and quantity.
#[derive(Clone)]
struct Row<'a> {
    account: Option<&'a str>,
    service: Option<&'a str>,
    tags: Vec<Option<&'a str>>,
    cost: f64,
    quantity: f64,
}

#[derive(Default)]
struct Columns<'a> {
    date: Vec<i32>,
    account: Vec<Option<&'a str>>,
    service: Vec<Option<&'a str>>,
    usage_type: Vec<Option<&'a str>>,
    record_type: Vec<&'a str>,
    tags: BTreeMap<&'a str, Vec<Option<&'a str>>>,
    cost: Vec<f64>,
    quantity: Vec<f64>,
    estimated: Vec<bool>,
    approximated: Vec<bool>,
}

fn classify(page: &CostPage) -> Result<Slice<'_>, String> {
    let defs: Vec<(String, String)> = page
        .output
        .group_definitions()
        .iter()
        .map(|g| {
            let kind = match g.r#type() {
                Some(GroupDefinitionType::Tag) => "TAG",
                Some(GroupDefinitionType::Dimension) => "DIMENSION",
                _ => "OTHER",
            };
            (kind.to_string(), g.key().unwrap_or_default().to_string())
        })
        .collect();
    let d = |k: &str| ("DIMENSION".to_string(), k.to_string());
    let slice = match (page.scope, defs.as_slice()) {
        (RecordScope::Usage, [a, b]) if *a == d("SERVICE") && *b == d("USAGE_TYPE") => {
            Slice::Service
        }
        (RecordScope::Usage, [a, b]) if *a == d("LINKED_ACCOUNT") && *b == d("USAGE_TYPE") => {
            Slice::Account
        }
        (RecordScope::Usage, [(t, _), b]) if t == "TAG" && *b == d("USAGE_TYPE") => {
            Slice::Tag(page.output.group_definitions()[0].key().unwrap_or_default())
        }
        (RecordScope::Usage, [(t, _), b]) if t == "TAG" && *b == d("LINKED_ACCOUNT") => {
            Slice::Joint(
                page.output.group_definitions()[0].key().unwrap_or_default(),
                Side::Account,
            )
        }
        (RecordScope::Usage, [(t, _), b]) if t == "TAG" && *b == d("SERVICE") => Slice::Joint(
            page.output.group_definitions()[0].key().unwrap_or_default(),
            Side::Service,
        ),
        (RecordScope::NotUsage, [a, b]) if *a == d("RECORD_TYPE") && *b == d("SERVICE") => {
            Slice::Other
        }
        _ => {
            let shown: Vec<String> = defs.iter().map(|(t, k)| format!("{t}:{k}")).collect();
            return Err(format!(
                "GroupDefinitions [{}] for a {:?} query is not part of creditburn's query plan (see ARCHITECTURE.md)",
                shown.join(", "),
                page.scope
            ));
        }
    };
    Ok(slice)
}

/// A metric's amount and unit ("" when absent).
fn amount<'m>(
    metrics: Option<&'m HashMap<String, MetricValue>>,
    name: &str,
) -> Result<(f64, &'m str), String> {
    let Some(m) = metrics.and_then(|m| m.get(name)) else {
        return Ok((0.0, ""));
    };
    let text = m.amount().unwrap_or("0");
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{name} amount {text:?} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("{name} amount {text:?} is not finite"));
    }
    Ok((value, m.unit().unwrap_or_default()))
}

/// Builds the cost table from every page of a recording or a live fetch, with every split
/// the slices allow.
pub fn normalise(pages: &[CostPage]) -> Result<CostTable, TableError> {
    normalise_for(pages, Needs::ALL)
}

/// Builds the cost table from every page, with the splits `needs` asks for.
pub fn normalise_for(pages: &[CostPage], needs: Needs) -> Result<CostTable, TableError> {
    let mut table = TableBuilder::new(needs);
    table.add(pages)?;
    table.finish()
}

/// The cost table built from pages a range of days at a time, so that only one range's
/// decoded pages need be held (a year of a large organisation's pages is several times
/// the table). Each `add` must hold every query's pages of its days: a day's slices are
/// rejoined within one `add`.
#[derive(Default)]
pub struct TableBuilder {
    needs: Needs,
    usage: Vec<DataFrame>,
    others: Vec<DataFrame>,
    seen_service: bool,
    seen_account: bool,
    any_usage: bool,
    tag_keys: BTreeSet<String>,
    account_names: BTreeMap<String, String>,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
    approximated_cost: f64,
}

impl TableBuilder {
    pub fn new(needs: Needs) -> TableBuilder {
        TableBuilder {
            needs,
            ..TableBuilder::default()
        }
    }

    /// Adds the rows of `pages`: every query's pages of some whole days.
    pub fn add(&mut self, pages: &[CostPage]) -> Result<(), TableError> {
        let Read {
            cells,
            joints,
            others,
            tag_keys,
        } = self.read(pages)?;
        self.any_usage |= !cells.is_empty();
        // A key without pages in these days has no value on their lines: the column is
        // added, all null, when the parts are put together.
        let tag_keys: Vec<String> = tag_keys.into_iter().collect();
        let keys: Vec<(NaiveDate, &str)> = cells.keys().copied().collect();
        let parts: Vec<CellParts> = cells.values().map(|c| c.parts(&tag_keys)).collect();
        let solved = solve_joints(&keys, &parts, &joints, &tag_keys, self.needs);
        let mut cols = Columns::default();
        for (((date, usage_type), cell), (parts, solved)) in keys
            .iter()
            .zip(cells.values())
            .zip(parts.iter().zip(&solved))
        {
            let joints: Vec<Joints> = solved
                .iter()
                .map(|(account, service)| Joints {
                    account: account.as_ref(),
                    service: service.as_ref(),
                })
                .collect();
            self.approximated_cost += cols.push_cell(
                *date,
                usage_type,
                cell.estimated,
                parts,
                &tag_keys,
                &joints,
                self.needs,
            );
        }
        drop(cells);
        self.usage.extend(cols.frame(&tag_keys)?);
        self.others.extend(others.frame(&tag_keys)?);
        self.tag_keys.extend(tag_keys);
        Ok(())
    }

    /// Reads `pages` into the usage cells of each (day, usage type), the joint slices of
    /// each day, and the rows of the other record types; notes the slices seen, the days
    /// and the account names.
    fn read<'a>(&mut self, pages: &'a [CostPage]) -> Result<Read<'a>, TableError> {
        let mut cells: BTreeMap<(NaiveDate, &str), Cell> = BTreeMap::new();
        let mut joints: BTreeMap<(NaiveDate, &str, Side), Amounts> = BTreeMap::new();
        let mut others = Columns::default();
        let mut tag_keys = BTreeSet::new();

        for page in pages {
            let fail = |message: String| TableError::Page {
                file: page.file.clone(),
                message,
            };
            let slice = classify(page).map_err(fail)?;
            match &slice {
                Slice::Service => self.seen_service = true,
                Slice::Account => self.seen_account = true,
                Slice::Tag(k) => {
                    tag_keys.insert(k.to_string());
                }
                Slice::Joint(..) | Slice::Other => {}
            }
            for attr in page.output.dimension_value_attributes() {
                if let (Some(value), Some(name)) = (
                    attr.value(),
                    attr.attributes().and_then(|a| a.get("description")),
                ) {
                    self.account_names.insert(value.to_string(), name.clone());
                }
            }
            for result in page.output.results_by_time() {
                let start = result.time_period().map(|p| p.start()).unwrap_or_default();
                let date = NaiveDate::parse_from_str(start, "%Y-%m-%d")
                    .map_err(|_| fail(format!("TimePeriod Start {start:?} is not a date")))?;
                if !(MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
                    return Err(fail(format!(
                        "TimePeriod Start {date} is outside the years {MIN_YEAR} to {MAX_YEAR}"
                    )));
                }
                self.first = Some(self.first.map_or(date, |d| d.min(date)));
                self.last = Some(self.last.map_or(date, |d| d.max(date)));
                let estimated = result.estimated();
                for group in result.groups() {
                    let keys = group.keys();
                    if keys.len() != 2 {
                        return Err(fail(format!(
                            "a group on {date} has {} keys, not 2",
                            keys.len()
                        )));
                    }
                    let (cost, unit) = amount(group.metrics(), "UnblendedCost").map_err(&fail)?;
                    if !unit.is_empty() && unit != "USD" {
                        return Err(fail(format!(
                            "UnblendedCost on {date} is in {unit}, not USD"
                        )));
                    }
                    let (quantity, _) = amount(group.metrics(), "UsageQuantity").map_err(&fail)?;
                    if let Slice::Other = slice {
                        others.push_row(date, None, Some(&keys[1]), None, &keys[0], &[]);
                        others.cost.push(cost);
                        others.quantity.push(quantity);
                        others.estimated.push(estimated);
                        others.approximated.push(false);
                        continue;
                    }
                    if let Slice::Joint(k, side) = slice {
                        if cost != 0.0 || quantity != 0.0 {
                            let e = joints
                                .entry((date, k, side))
                                .or_default()
                                .entry((tag_value(&keys[0]), &keys[1]))
                                .or_default();
                            e[0] += cost;
                            e[1] += quantity;
                        }
                        continue;
                    }
                    let cell = cells.entry((date, keys[1].as_str())).or_default();
                    cell.estimated |= estimated;
                    match &slice {
                        Slice::Service => cell.services.push((Some(&keys[0]), cost, quantity)),
                        Slice::Account => cell.accounts.push((Some(&keys[0]), cost, quantity)),
                        Slice::Tag(k) => {
                            cell.tags.entry(*k).or_default().push((
                                tag_value(&keys[0]),
                                cost,
                                quantity,
                            ));
                        }
                        Slice::Joint(..) | Slice::Other => {}
                    }
                }
            }
        }
        Ok(Read {
            cells,
            joints,
            others,
            tag_keys,
        })
    }

    /// The table of every part added.
    pub fn finish(self) -> Result<CostTable, TableError> {
        let (Some(first), Some(last), true) = (self.first, self.last, self.any_usage) else {
            return Err(no_usage());
        };
        if !self.seen_service || !self.seen_account {
            return Err(TableError::Recording(format!(
                "the recording lacks the {} query; see the query plan in ARCHITECTURE.md",
                if self.seen_service {
                    "usage-by-account (LINKED_ACCOUNT, USAGE_TYPE)"
                } else {
                    "usage-by-service (SERVICE, USAGE_TYPE)"
                }
            )));
        }
        let tag_keys: Vec<String> = self.tag_keys.into_iter().collect();
        let mut order: Vec<String> = [DATE, ACCOUNT, SERVICE, USAGE_TYPE, RECORD_TYPE]
            .iter()
            .map(|c| c.to_string())
            .collect();
        order.extend(tag_keys.iter().map(|k| tag_column(k)));
        order.extend(
            [PRINCIPAL, RESOURCE, COST, QUANTITY, ESTIMATED, APPROXIMATED]
                .iter()
                .map(|c| c.to_string()),
        );
        let usage_rows = self.usage.iter().map(|p| p.height()).sum();
        let mut df: Option<DataFrame> = None;
        for mut part in self.usage.into_iter().chain(self.others) {
            for name in tag_keys
                .iter()
                .map(|k| tag_column(k))
                .chain([PRINCIPAL.to_string(), RESOURCE.to_string()])
            {
                if part.column(&name).is_err() {
                    let nulls: Vec<Option<&str>> = vec![None; part.height()];
                    part.with_column(Column::new(name.as_str().into(), nulls))?;
                }
            }
            let part = part.select(order.iter().map(|c| c.as_str()))?;
            match &mut df {
                None => df = Some(part),
                Some(df) => {
                    df.vstack_mut_owned(part)?;
                }
            }
        }
        let df = df.ok_or_else(no_usage)?;

        Ok(CostTable {
            df,
            usage_rows,
            tag_keys,
            first_day: first,
            last_day: last,
            approximated_cost: self.approximated_cost,
            account_names: self.account_names,
            export: None,
        })
    }
}

/// A cell's parts of the dimension a joint slice pairs the tag with.
fn side_parts<'p, 'a>(parts: &'p CellParts<'a>, side: Side) -> &'p [Part<'a>] {
    match side {
        Side::Account => &parts.accounts,
        Side::Service => &parts.services,
    }
}

/// What `TableBuilder::read` made of some pages.
struct Read<'a> {
    cells: BTreeMap<(NaiveDate, &'a str), Cell<'a>>,
    joints: BTreeMap<(NaiveDate, &'a str, Side), Amounts<'a>>,
    others: Columns<'a>,
    tag_keys: BTreeSet<String>,
}

/// A cell's splits of one tag key: with the account, with the service.
type SolvedPair<'a> = (Option<Solved<'a>>, Option<Solved<'a>>);

/// Each day's joint slices solved over all of the day's cells at once (a tag value's
/// amount in a service or account that day binds its cells together): per cell (in the
/// order of `keys`, grouped by day) and tag key, its splits. Only the splits asked for
/// (`needs`) and that could vary.
fn solve_joints<'a>(
    keys: &[(NaiveDate, &str)],
    parts: &[CellParts<'a>],
    joints: &BTreeMap<(NaiveDate, &str, Side), Amounts<'a>>,
    tag_keys: &[String],
    needs: Needs,
) -> Vec<Vec<SolvedPair<'a>>> {
    let mut solved: Vec<Vec<SolvedPair>> = vec![vec![(None, None); tag_keys.len()]; keys.len()];
    let mut start = 0;
    while start < keys.len() {
        let date = keys[start].0;
        let end = start + keys[start..].iter().take_while(|k| k.0 == date).count();
        let day = &parts[start..end];
        for (i, key) in tag_keys.iter().enumerate() {
            for side in [Side::Account, Side::Service] {
                let Some(amounts) = joints.get(&(date, key.as_str(), side)) else {
                    continue;
                };
                let of = |p| side_parts(p, side);
                let wanted = match side {
                    Side::Account => needs.accounts,
                    Side::Service => day.iter().any(|p| of(p).len() > 1),
                };
                if !wanted {
                    continue;
                }
                let cells: Vec<(&[Part], &[Part])> =
                    day.iter().map(|p| (p.tags[i].as_slice(), of(p))).collect();
                for (j, out) in solve_day(&cells, amounts).into_iter().enumerate() {
                    match side {
                        Side::Account => solved[start + j][i].0 = out,
                        Side::Service => solved[start + j][i].1 = out,
                    }
                }
            }
        }
        start = end;
    }
    solved
}

/// The version of how the table is built from pages and laid out: a table part kept by
/// an earlier layout is not read. Raise it with any change to what `TableBuilder::add`
/// makes of a page.
pub const TABLE_LAYOUT: u32 = 2;

/// The first bytes of an encoded part: a part of another layout is not read.
const PART_MAGIC: &[u8; 8] = b"CBTABLE1";

impl TableBuilder {
    /// Adds every part of `other` (built from other days).
    pub fn merge(&mut self, other: TableBuilder) {
        self.usage.extend(other.usage);
        self.others.extend(other.others);
        self.seen_service |= other.seen_service;
        self.seen_account |= other.seen_account;
        self.any_usage |= other.any_usage;
        self.tag_keys.extend(other.tag_keys);
        self.account_names.extend(other.account_names);
        let pick = |a: Option<NaiveDate>,
                    b: Option<NaiveDate>,
                    f: fn(NaiveDate, NaiveDate) -> NaiveDate| {
            match (a, b) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, b) => a.or(b),
            }
        };
        self.first = pick(self.first, other.first, NaiveDate::min);
        self.last = pick(self.last, other.last, NaiveDate::max);
        self.approximated_cost += other.approximated_cost;
    }

    /// The parts added, as bytes `decode` reads back: each text column as its distinct
    /// values and a code per row. None when a column is of a type a part does not hold.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Writer(PART_MAGIC.to_vec());
        for flag in [self.seen_service, self.seen_account, self.any_usage] {
            out.u8(flag as u8);
        }
        out.strings(self.tag_keys.iter().map(|k| Some(k.as_str())));
        out.u32(self.account_names.len());
        for (id, name) in &self.account_names {
            out.text(Some(id));
            out.text(Some(name));
        }
        for day in [self.first, self.last] {
            out.u8(day.is_some() as u8);
            out.i32(day.map_or(0, epoch_days));
        }
        out.0.extend(self.approximated_cost.to_le_bytes());
        for frames in [&self.usage, &self.others] {
            out.u32(frames.len());
            for df in frames {
                out.frame(df)?;
            }
        }
        Some(out.0)
    }

    /// A part `encode` wrote; None for any other bytes.
    pub fn decode(bytes: &[u8]) -> Option<TableBuilder> {
        let mut r = Reader(bytes.strip_prefix(PART_MAGIC.as_slice())?);
        let mut b = TableBuilder {
            seen_service: r.u8()? == 1,
            seen_account: r.u8()? == 1,
            any_usage: r.u8()? == 1,
            ..TableBuilder::default()
        };
        for key in r.strings()? {
            b.tag_keys.insert(key?.to_string());
        }
        for _ in 0..r.u32()? {
            let (id, name) = (r.text()??, r.text()??);
            b.account_names.insert(id.to_string(), name.to_string());
        }
        let mut day = || -> Option<Option<NaiveDate>> {
            let some = r.u8()? == 1;
            let n = r.i32()?;
            if !some {
                return Some(None);
            }
            let day = NaiveDate::default().checked_add_signed(chrono::Duration::days(n as i64))?;
            (MIN_YEAR..=MAX_YEAR)
                .contains(&day.year())
                .then_some(Some(day))
        };
        (b.first, b.last) = (day()?, day()?);
        b.approximated_cost = f64::from_le_bytes(r.take(8)?.try_into().ok()?);
        for i in 0..2 {
            for _ in 0..r.u32()? {
                let df = r.frame()?;
                if i == 0 {
                    b.usage.push(df)
                } else {
                    b.others.push(df)
                }
            }
        }
        r.0.is_empty().then_some(b)
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend((v as u32).to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend(v.to_le_bytes());
    }
    fn text(&mut self, v: Option<&str>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u32(v.len());
                self.0.extend(v.as_bytes());
            }
        }
    }
    fn strings<'a>(&mut self, values: impl ExactSizeIterator<Item = Option<&'a str>>) {
        self.u32(values.len());
        for v in values {
            self.text(v);
        }
    }
    fn frame(&mut self, df: &DataFrame) -> Option<()> {
        let height = df.height();
        if height > u32::MAX as usize {
            return None;
        }
        self.u32(height);
        self.u32(df.width());
        for c in df.columns() {
            self.text(Some(c.name().as_str()));
            match c.dtype() {
                DataType::Date => {
                    self.u8(0);
                    let days = c.cast(&DataType::Int32).ok()?;
                    for d in days.i32().ok()?.iter() {
                        self.i32(d?);
                    }
                }
                DataType::String => {
                    self.u8(1);
                    let (distinct, codes) = distinct_codes(c.str().ok()?.iter());
                    self.strings(distinct.into_iter());
                    for code in codes {
                        self.u32(code as usize);
                    }
                }
                DataType::Float64 => {
                    self.u8(2);
                    for v in c.f64().ok()?.iter() {
                        self.0.extend(v?.to_le_bytes());
                    }
                }
                DataType::Boolean => {
                    self.u8(3);
                    for v in c.bool().ok()?.iter() {
                        self.u8(v? as u8);
                    }
                }
                _ => return None,
            }
        }
        Some(())
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// A text value: Some(None) for a null.
    fn text(&mut self) -> Option<Option<&'a str>> {
        match self.u8()? {
            0 => Some(None),
            1 => {
                let n = self.u32()?;
                Some(Some(std::str::from_utf8(self.take(n)?).ok()?))
            }
            _ => None,
        }
    }
    fn strings(&mut self) -> Option<Vec<Option<&'a str>>> {
        let n = self.u32()?;
        if n > self.0.len() {
            return None;
        }
        (0..n).map(|_| self.text()).collect()
    }
    fn frame(&mut self) -> Option<DataFrame> {
        let height = self.u32()?;
        let width = self.u32()?;
        let mut columns = Vec::with_capacity(width.min(64));
        for _ in 0..width {
            let name = self.text()??;
            let column = match self.u8()? {
                0 => {
                    let bytes = self.take(height.checked_mul(4)?)?;
                    let days: Vec<i32> = bytes
                        .chunks_exact(4)
                        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    // Days of the years a page may hold, as `add` checked them.
                    let year = |y| NaiveDate::from_ymd_opt(y, 1, 1).map(epoch_days);
                    let (lo, hi) = (year(MIN_YEAR)?, year(MAX_YEAR + 1)?);
                    if days.iter().any(|d| !(lo..hi).contains(d)) {
                        return None;
                    }
                    Column::new(name.into(), days).cast(&DataType::Date).ok()?
                }
                1 => {
                    let distinct = self.strings()?;
                    let bytes = self.take(height.checked_mul(4)?)?;
                    let codes: Vec<IdxSize> = bytes
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as IdxSize)
                        .collect();
                    if codes.iter().any(|c| *c as usize >= distinct.len()) {
                        return None;
                    }
                    gathered(name, distinct, codes).ok()?
                }
                2 => {
                    let bytes = self.take(height.checked_mul(8)?)?;
                    let values: Vec<f64> = bytes
                        .chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                        .collect();
                    Column::new(name.into(), values)
                }
                3 => {
                    let bytes = self.take(height)?;
                    let values: Vec<bool> = bytes.iter().map(|b| *b == 1).collect();
                    Column::new(name.into(), values)
                }
                _ => return None,
            };
            columns.push(column);
        }
        DataFrame::new(height, columns).ok()
    }
}

/// A tag group's value: tag keys come back as "key$value", or "key$" when the line has
/// no such tag.
fn tag_value(key: &str) -> Option<&str> {
    key.split_once('$')
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn no_usage() -> TableError {
    TableError::Recording("the recording holds no usage: no day has any cost group".to_string())
}

/// A text column whose rows share one copy of each distinct value's text: a day's lines
/// repeat a few services and usage types thousands of times, and a row's own copy of a
/// long name would cost its length again. The distinct values are put in a column once
/// and gathered to the rows, each row a view of its value.
pub(crate) fn shared_text(name: &str, values: &[Option<&str>]) -> PolarsResult<Column> {
    let (distinct, codes) = distinct_codes(values.iter().copied());
    gathered(name, distinct, codes)
}

/// The distinct values, in order of first appearance, and each value's index among them.
fn distinct_codes<'v>(
    values: impl Iterator<Item = Option<&'v str>>,
) -> (Vec<Option<&'v str>>, Vec<IdxSize>) {
    let mut index: PlHashMap<Option<&str>, IdxSize> = PlHashMap::new();
    let mut distinct = Vec::new();
    let codes = values
        .map(|v| {
            *index.entry(v).or_insert_with(|| {
                distinct.push(v);
                (distinct.len() - 1) as IdxSize
            })
        })
        .collect();
    (distinct, codes)
}

/// The column of `distinct[code]` for each code: each row a view of its value's text.
fn gathered(name: &str, distinct: Vec<Option<&str>>, codes: Vec<IdxSize>) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), distinct)
        .take(&IdxCa::from_vec(name.into(), codes))?
        .into_column())
}

impl<'a> Columns<'a> {
    /// The rows as a DataFrame, a column per tag key in `tag_keys`; None without rows.
    fn frame(self, tag_keys: &[String]) -> PolarsResult<Option<DataFrame>> {
        let mut cols = self;
        let height = cols.date.len();
        if height == 0 {
            return Ok(None);
        }
        let mut columns = vec![
            Column::new(DATE.into(), cols.date).cast(&DataType::Date)?,
            shared_text(ACCOUNT, &cols.account)?,
            shared_text(SERVICE, &cols.service)?,
            shared_text(USAGE_TYPE, &cols.usage_type)?,
            shared_text(
                RECORD_TYPE,
                &cols
                    .record_type
                    .iter()
                    .map(|r| Some(*r))
                    .collect::<Vec<_>>(),
            )?,
        ];
        for key in tag_keys {
            let values = cols
                .tags
                .remove(key.as_str())
                .unwrap_or_else(|| vec![None; height]);
            columns.push(shared_text(&tag_column(key), &values)?);
        }
        columns.extend([
            Column::new(COST.into(), cols.cost),
            Column::new(QUANTITY.into(), cols.quantity),
            Column::new(ESTIMATED.into(), cols.estimated),
            Column::new(APPROXIMATED.into(), cols.approximated),
        ]);
        Ok(Some(DataFrame::new(height, columns)?))
    }

    fn push_row(
        &mut self,
        date: NaiveDate,
        account: Option<&'a str>,
        service: Option<&'a str>,
        usage_type: Option<&'a str>,
        record_type: &'a str,
        tags: &[(&'a str, Option<&'a str>)],
    ) {
        self.date.push(epoch_days(date));
        self.account.push(account);
        self.service.push(service);
        self.usage_type.push(usage_type);
        self.record_type.push(record_type);
        let height = self.date.len();
        let value_of = |key: &str| tags.iter().find(|(k, _)| *k == key).and_then(|(_, v)| *v);
        for (key, column) in self.tags.iter_mut() {
            column.push(value_of(key));
            debug_assert_eq!(column.len(), height);
        }
        for (key, value) in tags {
            if !self.tags.contains_key(key) {
                let mut column = vec![None; height - 1];
                column.push(*value);
                self.tags.insert(key, column);
            }
        }
    }

    /// Adds the rows of one (day, usage type); returns the dollars split by proportion.
    /// `supports` holds, per tag key, the cell's splits solved from the day's joint
    /// slices with the account and with the service, where fetched.
    #[allow(clippy::too_many_arguments)]
    fn push_cell(
        &mut self,
        date: NaiveDate,
        usage_type: &'a str,
        estimated: bool,
        parts: &CellParts<'a>,
        tag_keys: &'a [String],
        supports: &[Joints<'_, 'a>],
        needs: Needs,
    ) -> f64 {
        let (total_cost, total_quantity) = parts.total;
        let (rows, exact) = cell_rows(parts, supports, needs);
        for row in &rows {
            let named: Vec<(&'a str, Option<&'a str>)> = tag_keys
                .iter()
                .map(|k| k.as_str())
                .zip(row.tags.iter().copied())
                .collect();
            self.push_row(
                date,
                row.account,
                row.service,
                Some(usage_type),
                "Usage",
                &named,
            );
            self.cost.push(total_cost * row.cost);
            self.quantity.push(total_quantity * row.quantity);
            self.estimated.push(estimated);
            self.approximated.push(!exact);
        }
        if exact {
            0.0
        } else {
            total_cost
        }
    }
}

/// The rows of one cell as shares of its cost and quantity, and whether they are the
/// bill's: by account first (when needed), then each tag key's values within their
/// accounts, then the services within their tag values.
fn cell_rows<'a>(
    parts: &CellParts<'a>,
    supports: &[Joints<'_, 'a>],
    needs: Needs,
) -> (Vec<Row<'a>>, bool) {
    let total_cost = parts.total.0;
    let CellParts {
        services,
        accounts,
        tags,
        ..
    } = parts;
    // Each slice is split by its own total, so the rows always sum to the service
    // slice's total; a slice whose total differs (slices fetched at different times
    // from a live cache) makes the cell approximated, never smaller or larger.
    let used_accounts = needs.accounts.then_some(accounts);
    let disagree = used_accounts
        .into_iter()
        .chain(tags.iter())
        .any(|parts| (sum(parts).0 - total_cost).abs() > 0.01);
    let (rows, by_tags) = tag_rows(used_accounts, tags, supports);
    let (rows, by_services) = service_rows(rows, services, supports);
    (rows, !disagree && by_tags && by_services)
}

/// The rows by account (when `accounts` are used, else one) and each tag key's values,
/// within their accounts where the joint with the account was solved, else in
/// proportion; and whether that is exact.
fn tag_rows<'a>(
    accounts: Option<&Vec<Part<'a>>>,
    tags: &[Vec<Part<'a>>],
    supports: &[Joints<'_, 'a>],
) -> (Vec<Row<'a>>, bool) {
    let mut exact = true;
    let mut rows: Vec<Row<'a>> = match accounts {
        Some(accounts) => {
            let (c, q) = sum(accounts);
            accounts
                .iter()
                .map(|(a, pc, pq)| Row {
                    account: *a,
                    service: None,
                    tags: Vec::new(),
                    cost: share(*pc, c, accounts.len()),
                    quantity: share(*pq, q, accounts.len()),
                })
                .collect()
        }
        None => vec![Row {
            account: None,
            service: None,
            tags: Vec::new(),
            cost: 1.0,
            quantity: 1.0,
        }],
    };
    for (parts, joints) in tags.iter().zip(supports) {
        let joint = accounts.and(joints.account);
        rows = match joint {
            Some((flows, determined)) => {
                exact &= determined;
                let (crossed, one_way) = cross_by(
                    rows,
                    flows,
                    |r| r.account,
                    |f| Some(f.1),
                    |r, f| r.tags.push(f.0),
                );
                exact &= one_way;
                crossed
            }
            None => {
                exact &= rows.len() <= 1 || parts.len() <= 1;
                cross(rows, parts, |r, v| r.tags.push(v))
            }
        };
    }
    (rows, exact)
}

/// `rows` with the cell's services: within the tag values of the first key whose joint
/// with the service was solved (a usage type several services bill, such as
/// TimedStorage-ByteHrs, split as the bill splits it), else in proportion; and whether
/// that is exact.
fn service_rows<'a>(
    rows: Vec<Row<'a>>,
    services: &[Part<'a>],
    supports: &[Joints<'_, 'a>],
) -> (Vec<Row<'a>>, bool) {
    let mut exact = true;
    let by_service = (services.len() > 1)
        .then(|| {
            supports
                .iter()
                .enumerate()
                .find_map(|(i, joints)| Some((i, joints.service?)))
        })
        .flatten();
    let rows = match by_service {
        Some((i, (flows, determined))) => {
            exact &= determined;
            let (crossed, one_way) = cross_by(
                rows,
                flows,
                |r| r.tags[i],
                |f| f.0,
                |r, f| r.service = Some(f.1),
            );
            exact &= one_way;
            crossed
        }
        _ => {
            exact &= rows.len() <= 1 || services.len() <= 1;
            cross(rows, services, |r, s| r.service = s)
        }
    };
    (rows, exact)
}

/// The cost and quantity of some parts.
fn sum(parts: &[Part]) -> (f64, f64) {
    parts
        .iter()
        .fold((0.0, 0.0), |(c, q), p| (c + p.1, q + p.2))
}

/// `part` as a share of `total`; an even share of `n` when the total is nothing.
fn share(part: f64, total: f64, n: usize) -> f64 {
    if total.abs() > 1e-12 {
        part / total
    } else {
        1.0 / n as f64
    }
}

/// Every row with every value of `parts` (set on the row by `set`), in proportion to the
/// values' cost and quantity.
fn cross<'a>(
    rows: Vec<Row<'a>>,
    parts: &[Part<'a>],
    set: impl Fn(&mut Row<'a>, Option<&'a str>),
) -> Vec<Row<'a>> {
    let (c, q) = sum(parts);
    let mut out = Vec::with_capacity(rows.len() * parts.len());
    for row in rows {
        for (value, pc, pq) in parts {
            let mut next = row.clone();
            set(&mut next, *value);
            next.cost *= share(*pc, c, parts.len());
            next.quantity *= share(*pq, q, parts.len());
            out.push(next);
        }
    }
    out
}

/// Each row with the flows of its group (`row_key` of the row, `flow_key` of the flow:
/// its account, or its tag value), in proportion to them within the group, each set on
/// the row by `set`; and whether that was exact: in every group, one row or one flow.
fn cross_by<'a>(
    rows: Vec<Row<'a>>,
    flows: &[Flow<'a>],
    row_key: impl Fn(&Row<'a>) -> Option<&'a str>,
    flow_key: impl Fn(&Flow<'a>) -> Option<&'a str>,
    set: impl Fn(&mut Row<'a>, &Flow<'a>),
) -> (Vec<Row<'a>>, bool) {
    let mut exact = true;
    let mut out = Vec::with_capacity(rows.len().max(flows.len()));
    let mut in_group: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for row in &rows {
        *in_group.entry(row_key(row)).or_default() += 1;
    }
    let mut of_group: BTreeMap<Option<&str>, Vec<&Flow>> = BTreeMap::new();
    for flow in flows {
        of_group.entry(flow_key(flow)).or_default().push(flow);
    }
    let none = Vec::new();
    for row in rows {
        let key = row_key(&row);
        let here = of_group.get(&key).unwrap_or(&none);
        let (c, q) = here.iter().fold((0.0, 0.0), |(c, q), f| (c + f.2, q + f.3));
        exact &= here.len() <= 1 || in_group[&key] <= 1;
        for flow in here {
            let mut next = row.clone();
            set(&mut next, flow);
            next.cost *= share(flow.2, c, here.len());
            next.quantity *= share(flow.3, q, here.len());
            out.push(next);
        }
    }
    (out, exact)
}

/// Each of a day's cells split between one tag key's values and the accounts (or the
/// services), from the cells' own slices (`cells`: the tag values' parts and the
/// accounts' or services' parts of each) and the day's joint slice (`joint`): the
/// amount of each (tag value, account or service) pair over all the day's usage types.
///
/// The unknowns are each cell's pairs the joint shows. They must add up to the cell's
/// slices (each tag value's part, each account's part) and, over the day's cells, to the
/// joint's amount of each pair. Any of those sums with one unknown left settles it
/// (`settle`): a tag value in one account gives it all, an account with one tag value
/// left takes the rest, a pair found in one cell only of the day is the joint's amount
/// less what the other usage types took. A cell whose pairs are all settled is the
/// bill's, exact; what a cycle leaves open is fitted in proportion along the pairs
/// (`fit`), not exact. Where the joint's amounts disagree with the slices (fetched at
/// other times), the day is solved from the pairs alone; a cell whose slices leave a
/// value with no pair, or a pair below nothing, gets None: the plain product.
fn solve_day<'a>(
    cells: &[(&[Part<'a>], &[Part<'a>])],
    joint: &Amounts<'a>,
) -> Vec<Option<Solved<'a>>> {
    solve_with(cells, joint, true).unwrap_or_else(|| {
        solve_with(cells, joint, false).unwrap_or_else(|| cells.iter().map(|_| None).collect())
    })
}

/// `solve_day`, with the joint's amounts as sums to meet (`amounts`) or only its pairs.
/// None when the amounts disagree with the slices.
fn solve_with<'a>(
    cells: &[(&[Part<'a>], &[Part<'a>])],
    joint: &Amounts<'a>,
    amounts: bool,
) -> Option<Vec<Option<Solved<'a>>>> {
    // The sums: each cell's tag values and accounts, and (with amounts) each pair of the
    // day. `left` is what each has not yet given to a settled unknown.
    let mut left: Vec<[f64; 2]> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut pairs: BTreeMap<(Option<&str>, &str), usize> = BTreeMap::new();
    // The unknowns: (cell, tag value, account or service, its sums).
    let mut unknowns: Vec<(usize, usize, usize, [Option<usize>; 3])> = Vec::new();
    // Per cell: its first sum, and whether its slices leave a value with dollars unpaired.
    let mut first_sum = Vec::with_capacity(cells.len());
    let mut unpaired = vec![false; cells.len()];
    for (c, (tags, sides)) in cells.iter().enumerate() {
        let base = left.len();
        first_sum.push(base);
        for (_, cost, quantity) in tags.iter().chain(sides.iter()) {
            left.push([*cost, *quantity]);
            members.push(Vec::new());
        }
        for (v, (value, _, _)) in tags.iter().enumerate() {
            for (x, (side, _, _)) in sides.iter().enumerate() {
                let Some(side) = side else { continue };
                let Some(amount) = joint.get(&(*value, *side)) else {
                    continue;
                };
                let pair = amounts.then(|| {
                    *pairs.entry((*value, *side)).or_insert_with(|| {
                        left.push(*amount);
                        members.push(Vec::new());
                        left.len() - 1
                    })
                });
                let u = unknowns.len();
                let sums = [Some(base + v), Some(base + tags.len() + x), pair];
                for k in sums.into_iter().flatten() {
                    members[k].push(u);
                }
                unknowns.push((c, v, x, sums));
            }
        }
        unpaired[c] = (base..base + tags.len() + sides.len())
            .any(|k| members[k].is_empty() && left[k] != [0.0, 0.0]);
    }
    if amounts && unpaired.iter().any(|u| *u) {
        return None;
    }
    let mut value: Vec<Option<[f64; 2]>> = vec![None; unknowns.len()];
    settle(&unknowns, &members, &mut left, &mut value);
    // The rounding each cell's quantities allow.
    let slack: Vec<f64> = cells
        .iter()
        .map(|(tags, _)| 1e-6 * (1.0 + sum(tags).1.abs()))
        .collect();
    let negative =
        |u: usize| value[u].is_some_and(|v| v[0] < -0.005 || v[1] < -slack[unknowns[u].0]);
    if amounts {
        let pair_balanced = pairs.values().all(|&k| {
            let open = members[k].iter().any(|u| value[*u].is_none());
            open || left[k][0].abs() <= 0.01 + 1e-9 * left[k][0].abs()
        });
        if !pair_balanced || (0..unknowns.len()).any(negative) {
            return None;
        }
    }
    let mut out = Vec::with_capacity(cells.len());
    let mut of_cell: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (u, (c, ..)) in unknowns.iter().enumerate() {
        of_cell[*c].push(u);
    }
    for (c, (tags, sides)) in cells.iter().enumerate() {
        let mine = &of_cell[c];
        if unpaired[c] || mine.iter().any(|u| negative(*u)) {
            out.push(None);
            continue;
        }
        let base = first_sum[c];
        let nodes = tags.len() + sides.len();
        let balanced = (base..base + nodes).all(|k| left[k][0].abs() <= 0.01);
        let open: Vec<usize> = (0..mine.len())
            .filter(|i| value[mine[*i]].is_none())
            .collect();
        let mut flows: Vec<[f64; 2]> = mine.iter().map(|u| value[*u].unwrap_or([0.0; 2])).collect();
        if !open.is_empty() {
            let edges: Vec<(usize, usize)> = mine
                .iter()
                .map(|u| (unknowns[*u].1, tags.len() + unknowns[*u].2))
                .collect();
            if !fit(
                tags.len(),
                &edges,
                &open,
                &left[base..base + nodes],
                &mut flows,
            ) {
                out.push(None);
                continue;
            }
        }
        // A pair that carries nothing is no line of the bill; a pair the rounding took
        // below nothing carries nothing.
        let solved: Vec<Flow<'a>> = mine
            .iter()
            .zip(&flows)
            .map(|(u, f)| (unknowns[*u].1, unknowns[*u].2, f[0].max(0.0), f[1].max(0.0)))
            .filter(|(_, _, c, q)| *c != 0.0 || *q != 0.0)
            .filter_map(|(v, x, c, q)| Some((tags[v].0, sides[x].0?, c, q)))
            .collect();
        out.push(Some((solved, open.is_empty() && balanced)));
    }
    Some(out)
}

/// Settles every unknown that a sum with it alone left open forces: it takes what the
/// sum has left, which the unknown's other sums then no longer have.
fn settle(
    unknowns: &[(usize, usize, usize, [Option<usize>; 3])],
    members: &[Vec<usize>],
    left: &mut [[f64; 2]],
    value: &mut [Option<[f64; 2]>],
) {
    let mut open: Vec<usize> = members.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..members.len()).filter(|k| open[*k] == 1).collect();
    while let Some(k) = ready.pop() {
        if open[k] != 1 {
            continue;
        }
        let Some(&u) = members[k].iter().find(|u| value[**u].is_none()) else {
            continue;
        };
        let v = left[k];
        value[u] = Some(v);
        for s in unknowns[u].3.into_iter().flatten() {
            left[s][0] -= v[0];
            left[s][1] -= v[1];
            open[s] -= 1;
            if open[s] == 1 {
                ready.push(s);
            }
        }
    }
}

/// The pairs `open` (in cycles) given what their nodes have `left`, in proportion:
/// iterative proportional fitting from the product of the totals, the tag values' side
/// (nodes below `t`) and the accounts' side scaled in turn until both agree to a
/// millionth of a cent. False when it has not converged in 400 rounds (the totals
/// leave no room along the pairs): the caller takes the plain product instead.
fn fit(
    t: usize,
    edges: &[(usize, usize)],
    open: &[usize],
    left: &[[f64; 2]],
    flows: &mut [[f64; 2]],
) -> bool {
    for m in 0..2 {
        let want = |k: usize| left[k][m].max(0.0);
        let mut flow: Vec<f64> = open
            .iter()
            .map(|e| want(edges[*e].0) * want(edges[*e].1))
            .collect();
        let mut converged = false;
        for round in 0..400 {
            let mut got = vec![0.0; left.len()];
            for (e, f) in open.iter().zip(&flow) {
                got[edges[*e].0] += f;
                got[edges[*e].1] += f;
            }
            let off = open
                .iter()
                .flat_map(|e| [edges[*e].0, edges[*e].1])
                .map(|k| (got[k] - want(k)).abs())
                .fold(0.0, f64::max);
            if off <= 1e-8 {
                converged = true;
                break;
            }
            let tag_side = round % 2 == 0;
            for (e, f) in open.iter().zip(flow.iter_mut()) {
                let (u, v) = edges[*e];
                let k = if (u < t) == tag_side { u } else { v };
                if got[k].abs() > 1e-12 {
                    *f *= want(k) / got[k];
                }
            }
        }
        if !converged {
            return false;
        }
        for (e, f) in open.iter().zip(flow) {
            flows[*e][m] = f;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A shared text column holds the values it was given, row for row, nulls
        /// included, whatever their repeats.
        #[test]
        fn a_shared_text_column_holds_its_values(
            values in proptest::collection::vec(
                proptest::option::of(prop_oneof![
                    Just("Amazon Bedrock Service".to_string()),
                    Just("Usage".to_string()),
                    "[a-zA-Z0-9-]{0,40}",
                ]),
                0..200,
            )
        ) {
            let borrowed: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let column = shared_text("c", &borrowed).unwrap();
            prop_assert_eq!(column.name().as_str(), "c");
            let back: Vec<Option<&str>> = column.str().unwrap().iter().collect();
            prop_assert_eq!(back, borrowed);
        }
    }

    fn a_part() -> TableBuilder {
        let df = DataFrame::new(
            3,
            vec![
                Column::new(DATE.into(), vec![20_000, 20_001, 20_001])
                    .cast(&DataType::Date)
                    .unwrap(),
                shared_text(
                    SERVICE,
                    &[
                        Some("Amazon Bedrock Service"),
                        None,
                        Some("Amazon Bedrock Service"),
                    ],
                )
                .unwrap(),
                shared_text(&tag_column("team"), &[None, Some("w01"), Some("")]).unwrap(),
                Column::new(COST.into(), vec![1.25, -0.5, 1e-9]),
                Column::new(ESTIMATED.into(), vec![true, false, true]),
            ],
        )
        .unwrap();
        let mut part = TableBuilder {
            seen_service: true,
            any_usage: true,
            first: Some(from_epoch_days(20_000)),
            last: Some(from_epoch_days(20_001)),
            approximated_cost: 0.1 + 0.2,
            ..TableBuilder::default()
        };
        part.usage.push(df.clone());
        part.others.push(df.slice(1, 1));
        part.tag_keys.insert("team".into());
        part.account_names
            .insert("111122223333".into(), "prod".into());
        part
    }

    #[test]
    fn a_part_reads_back_as_it_was_encoded() {
        let part = a_part();
        let back = TableBuilder::decode(&part.encode().unwrap()).unwrap();
        assert_eq!(back.usage.len(), 1);
        assert!(back.usage[0].equals_missing(&part.usage[0]));
        assert!(back.others[0].equals_missing(&part.others[0]));
        assert_eq!(
            (back.seen_service, back.seen_account, back.any_usage),
            (true, false, true)
        );
        assert_eq!((back.first, back.last), (part.first, part.last));
        assert_eq!(
            back.approximated_cost.to_bits(),
            part.approximated_cost.to_bits()
        );
        assert_eq!(back.tag_keys, part.tag_keys);
        assert_eq!(back.account_names, part.account_names);
    }

    proptest! {
        /// Damaged bytes (cut short, a byte changed, another layout) are refused or read
        /// as some part: never a panic.
        #[test]
        fn damaged_part_bytes_never_panic(cut in 0usize..2000, at in 0usize..2000, byte: u8) {
            let bytes = a_part().encode().unwrap();
            let cut = cut.min(bytes.len());
            prop_assert!(cut == bytes.len() || TableBuilder::decode(&bytes[..cut]).is_none());
            let mut changed = bytes.clone();
            let at = at % changed.len();
            changed[at] = byte;
            let _ = TableBuilder::decode(&changed);
            changed[..8].copy_from_slice(b"CBTABLE0");
            prop_assert!(TableBuilder::decode(&changed).is_none());
        }
    }
}
