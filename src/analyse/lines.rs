//! The cost table from the bill's line items: every line item (CUR 2.0, FOCUS, an
//! Athena aggregate) folded into one row per (day, account, service, usage type, record
//! type, tags, principal, resource), their cost and quantity summed. The same table
//! Cost Explorer's pages make, with two more line columns, so attribution, the burn model,
//! alerts and the report read it unchanged. Line items are exact: nothing is split in
//! proportion, so no row is `approximated`.
//!
//! The fold keeps one entry per distinct row, its texts interned once: a month of ten
//! million line items is a few hundred thousand rows, and the fold's memory is theirs,
//! never the line items'.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::analyse::table::{
    self, epoch_days, from_epoch_days, shared_text, tag_column, CostTable, TableError,
};
use crate::config::{Config, Glob};
use crate::model::line::{ExportFacts, ExportFormat, LineItem, CREDIT, USAGE};

/// Texts interned: code 0 is "no value".
#[derive(Default)]
struct Interner {
    codes: PlHashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

impl Interner {
    fn code(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return 0;
        };
        if let Some(&code) = self.codes.get(text) {
            return code;
        }
        self.texts.push(text.into());
        let code = self.texts.len() as u32;
        self.codes.insert(text.into(), code);
        code
    }

    fn text(&self, code: u32) -> Option<&str> {
        (code > 0).then(|| &*self.texts[code as usize - 1])
    }
}

/// A column the rules read only through globs (the principal, the resource), kept as a
/// class: every text that the same globs match maps to the first such text seen. The
/// rules decide alike on a line and on its class, so attribution is unchanged; the rows
/// are not split by every session name or instance id the bill carries (a role's
/// sessions vary from line to line).
struct Classes {
    globs: Vec<Glob>,
    /// Each text seen, its class's code.
    of: PlHashMap<Box<str>, u32>,
    /// Each set of globs matched, its class's code.
    by_matches: PlHashMap<Vec<bool>, u32>,
}

impl Classes {
    fn new(globs: Vec<Glob>) -> Classes {
        Classes {
            globs,
            of: PlHashMap::new(),
            by_matches: PlHashMap::new(),
        }
    }

    /// The code of `text`'s class: its own text interned when no glob is kept.
    fn code(&mut self, text: Option<&str>, interner: &mut Interner) -> u32 {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return 0;
        };
        if self.globs.is_empty() {
            return interner.code(Some(text));
        }
        if let Some(&code) = self.of.get(text) {
            return code;
        }
        let matches: Vec<bool> = self.globs.iter().map(|g| g.matches(text)).collect();
        let code = *self
            .by_matches
            .entry(matches)
            .or_insert_with(|| interner.code(Some(text)));
        self.of.insert(text.into(), code);
        code
    }
}

#[derive(Clone, Copy, Default)]
struct Sums {
    cost: f64,
    quantity: f64,
    estimated: bool,
}

/// The positions in a row's key.
const K_DATE: usize = 0;
const K_ACCOUNT: usize = 1;
const K_SERVICE: usize = 2;
const K_USAGE_TYPE: usize = 3;
const K_RECORD_TYPE: usize = 4;
const K_PRINCIPAL: usize = 5;
const K_RESOURCE: usize = 6;
const K_TAGS: usize = 7;

/// Line items folded into the cost table's rows.
pub struct LineFold {
    format: ExportFormat,
    tag_keys: Vec<String>,
    text: Interner,
    principals: Classes,
    resources: Classes,
    rows: PlHashMap<Box<[u32]>, Sums>,
    key: Vec<u32>,
    usage_code: u32,
    account_names: BTreeMap<String, String>,
    applied_credits: BTreeMap<String, BTreeMap<NaiveDate, BTreeMap<String, f64>>>,
    line_items: u64,
    principal_column: bool,
    resource_column: bool,
}

impl LineFold {
    /// A fold keeping the tags `tag_keys` (the rules' tag keys, in `LineItem::tags`
    /// order).
    pub fn new(format: ExportFormat, tag_keys: Vec<String>) -> LineFold {
        let mut text = Interner::default();
        let usage_code = text.code(Some(USAGE));
        LineFold {
            format,
            key: Vec::with_capacity(K_TAGS + tag_keys.len()),
            tag_keys,
            text,
            principals: Classes::new(Vec::new()),
            resources: Classes::new(Vec::new()),
            rows: PlHashMap::new(),
            usage_code,
            account_names: BTreeMap::new(),
            applied_credits: BTreeMap::new(),
            line_items: 0,
            principal_column: false,
            resource_column: false,
        }
    }

    /// A fold for `config`'s rules: their tag keys, and the principal and resource kept
    /// as classes of what the rules' globs match (`Classes`).
    pub fn for_rules(format: ExportFormat, config: &Config) -> LineFold {
        let mut fold = LineFold::new(
            format,
            config
                .rule_tag_keys()
                .iter()
                .map(|k| k.to_string())
                .collect(),
        );
        let (principals, resources) = config.rule_globs();
        fold.principals = Classes::new(principals);
        fold.resources = Classes::new(resources);
        fold
    }

    /// The tag keys a line item's `tags` are read against.
    pub fn tag_keys(&self) -> &[String] {
        &self.tag_keys
    }

    /// Notes which of the optional line columns the data has.
    pub fn saw_columns(&mut self, principal: bool, resource: bool) {
        self.principal_column |= principal;
        self.resource_column |= resource;
    }

    pub fn add(&mut self, line: &LineItem<'_>) {
        debug_assert_eq!(line.tags.len(), self.tag_keys.len());
        self.line_items += 1;
        self.key.clear();
        self.key.push(epoch_days(line.date) as u32);
        for text in [
            line.account,
            line.service,
            line.usage_type,
            Some(line.record_type),
        ] {
            let code = self.text.code(text);
            self.key.push(code);
        }
        let principal = self.principals.code(line.principal, &mut self.text);
        let resource = self.resources.code(line.resource, &mut self.text);
        self.key.extend([principal, resource]);
        for tag in line.tags {
            let code = self.text.code(*tag);
            self.key.push(code);
        }
        let sums = match self.rows.get_mut(self.key.as_slice()) {
            Some(sums) => sums,
            None => self
                .rows
                .entry(self.key.clone().into_boxed_slice())
                .or_default(),
        };
        sums.cost += line.cost;
        sums.quantity += line.quantity;
        sums.estimated |= line.estimated;
        if let (Some(id), Some(name)) = (line.account, line.account_name) {
            if !name.is_empty() && !self.account_names.contains_key(id) {
                self.account_names.insert(id.to_string(), name.to_string());
            }
        }
        if line.record_type == CREDIT && line.cost != 0.0 {
            let credit = line.credit.filter(|c| !c.is_empty()).unwrap_or("(unnamed)");
            *self
                .applied_credits
                .entry(credit.to_string())
                .or_default()
                .entry(line.date)
                .or_default()
                .entry(line.service.unwrap_or_default().to_string())
                .or_default() -= line.cost;
        }
    }

    /// How many line items were folded.
    pub fn line_items(&self) -> u64 {
        self.line_items
    }

    /// The table: usage rows first, each part by day, then account, service, usage type.
    pub fn finish(self) -> Result<CostTable, TableError> {
        let LineFold {
            format,
            tag_keys,
            text,
            rows,
            usage_code,
            account_names,
            applied_credits,
            line_items,
            principal_column,
            resource_column,
            ..
        } = self;
        let mut rows: Vec<(Box<[u32]>, Sums)> = rows.into_iter().collect();
        let label = |code: u32| text.text(code).unwrap_or("");
        rows.sort_unstable_by(|(a, _), (b, _)| {
            (a[K_RECORD_TYPE] != usage_code)
                .cmp(&(b[K_RECORD_TYPE] != usage_code))
                .then(a[K_DATE].cmp(&b[K_DATE]))
                .then_with(|| {
                    a[K_ACCOUNT..]
                        .iter()
                        .map(|&c| label(c))
                        .cmp(b[K_ACCOUNT..].iter().map(|&c| label(c)))
                })
        });
        let usage_rows = rows
            .iter()
            .take_while(|(k, _)| k[K_RECORD_TYPE] == usage_code)
            .count();
        if usage_rows == 0 {
            return Err(TableError::Recording(format!(
                "the {} data holds no usage line items",
                format.as_str()
            )));
        }
        let days = rows[..usage_rows].iter().map(|(k, _)| k[K_DATE] as i32);
        let (first, last) = days.fold((i32::MAX, i32::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
        let texts = |at: usize| -> Vec<Option<&str>> {
            rows.iter().map(|(k, _)| text.text(k[at])).collect()
        };
        let height = rows.len();
        let mut columns = vec![
            Column::new(
                table::DATE.into(),
                rows.iter()
                    .map(|(k, _)| k[K_DATE] as i32)
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)?,
            shared_text(table::ACCOUNT, &texts(K_ACCOUNT))?,
            shared_text(table::SERVICE, &texts(K_SERVICE))?,
            shared_text(table::USAGE_TYPE, &texts(K_USAGE_TYPE))?,
            shared_text(table::RECORD_TYPE, &texts(K_RECORD_TYPE))?,
        ];
        for (i, key) in tag_keys.iter().enumerate() {
            columns.push(shared_text(&tag_column(key), &texts(K_TAGS + i))?);
        }
        columns.extend([
            shared_text(table::PRINCIPAL, &texts(K_PRINCIPAL))?,
            shared_text(table::RESOURCE, &texts(K_RESOURCE))?,
            Column::new(
                table::COST.into(),
                rows.iter().map(|(_, s)| s.cost).collect::<Vec<_>>(),
            ),
            Column::new(
                table::QUANTITY.into(),
                rows.iter().map(|(_, s)| s.quantity).collect::<Vec<_>>(),
            ),
            Column::new(
                table::ESTIMATED.into(),
                rows.iter().map(|(_, s)| s.estimated).collect::<Vec<_>>(),
            ),
            Column::new(table::APPROXIMATED.into(), vec![false; height]),
        ]);
        let df = DataFrame::new(height, columns)?;
        Ok(CostTable {
            df,
            usage_rows,
            tag_keys,
            first_day: from_epoch_days(first),
            last_day: from_epoch_days(last),
            approximated_cost: 0.0,
            account_names,
            export: Some(ExportFacts {
                format,
                principal_column,
                resource_column,
                applied_credits,
                line_items,
            }),
        })
    }
}
