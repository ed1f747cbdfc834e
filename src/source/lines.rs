//! Reading the bill's line items: a CUR 2.0 or FOCUS export (Parquet, or CSV plain or
//! gzipped) as AWS Data Exports writes it, streamed a record batch (or a CSV record) at a
//! time, only the columns used, each line item handed to a sink as a `LineItem`.
//!
//! An export folder holds `data/BILLING_PERIOD=YYYY-MM/...` and
//! `metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`; the manifest (rewritten on
//! every refresh) decides which data files are a period's current ones. A file the
//! manifest lists that is not there makes the period partly delivered: it is left out
//! and said, never read as a period of zero spend.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, MapArray, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::config::PRINCIPAL_TAG_PREFIX;
use crate::model::line::{ExportFormat, LineItem};
use crate::model::page::{MAX_YEAR, MIN_YEAR};

/// What went wrong reading an export, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(path: &Path, message: impl Into<String>) -> LinesError {
    LinesError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The data files of one billing period, as its manifest lists them (or as found).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// `YYYY-MM`, or the file's name for a lone file or a folder without manifests.
    pub name: String,
    pub files: Vec<PathBuf>,
    /// Files the manifest lists that are not there.
    pub missing: Vec<String>,
}

/// The billing periods at `path`: an export folder (its manifests decide), a folder of
/// data files (every one found), or one data file.
pub fn periods(path: &Path) -> Result<Vec<Period>, LinesError> {
    let io = |e| LinesError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![Period {
            name: file_name(path),
            files: vec![path.to_path_buf()],
            missing: vec![],
        }]);
    }
    let metadata = path.join("metadata");
    if metadata.is_dir() {
        return manifest_periods(path, &metadata);
    }
    let mut files = Vec::new();
    files_under(path, is_data_file, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(invalid(
            path,
            "holds no export data files (*.parquet, *.csv, *.csv.gz) and no metadata/ folder of manifests",
        ));
    }
    Ok(files
        .into_iter()
        .map(|f| Period {
            name: file_name(&f),
            files: vec![f],
            missing: vec![],
        })
        .collect())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn is_data_file(path: &Path) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    name.ends_with(".parquet") || name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// Every file under `dir` (at any depth) that `keep` takes, added to `out`.
fn files_under(
    dir: &Path,
    keep: fn(&Path) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<(), LinesError> {
    let io = |e| LinesError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            files_under(&path, keep, out)?;
        } else if keep(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    file_name(path).ends_with("Manifest.json")
}

/// Each `metadata/BILLING_PERIOD=YYYY-MM/` folder's newest manifest, its `dataFiles`
/// found under the export folder by their path from `data/`.
fn manifest_periods(export: &Path, metadata: &Path) -> Result<Vec<Period>, LinesError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| LinesError::Io { path, source: e }
    };
    let mut periods = Vec::new();
    for entry in std::fs::read_dir(metadata).map_err(io(metadata))? {
        let dir = entry.map_err(io(metadata))?.path();
        let Some(period) = file_name(&dir)
            .strip_prefix("BILLING_PERIOD=")
            .map(str::to_string)
        else {
            continue;
        };
        if !dir.is_dir() {
            continue;
        }
        let mut manifests = Vec::new();
        files_under(&dir, is_manifest, &mut manifests)?;
        let newest = manifests
            .into_iter()
            .map(|m| {
                let modified = std::fs::metadata(&m).and_then(|md| md.modified()).ok();
                (modified, m)
            })
            .max();
        let Some((_, manifest)) = newest else {
            return Err(invalid(
                &dir,
                "holds no *Manifest.json; the export's delivery of this period is incomplete",
            ));
        };
        let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
        let listed = manifest_data_files(&text).map_err(|m| invalid(&manifest, m))?;
        let (mut files, mut missing) = (Vec::new(), Vec::new());
        for url in listed {
            let Some(at) = url.find("/data/") else {
                return Err(invalid(
                    &manifest,
                    format!("dataFiles entry {url:?} has no /data/ in its path"),
                ));
            };
            let local = export.join(&url[at + 1..]);
            if local.is_file() {
                files.push(local);
            } else {
                missing.push(url[at + 1..].to_string());
            }
        }
        periods.push(Period {
            name: period,
            files,
            missing,
        });
    }
    periods.sort_by(|a, b| a.name.cmp(&b.name));
    if periods.is_empty() {
        return Err(invalid(
            metadata,
            "holds no BILLING_PERIOD=YYYY-MM folder; is this an AWS Data Exports export?",
        ));
    }
    Ok(periods)
}

/// The `dataFiles` of a Data Exports manifest.
pub fn manifest_data_files(text: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a manifest (JSON): {e}"))?;
    let files = value
        .get("dataFiles")
        .and_then(|f| f.as_array())
        .ok_or("the manifest has no dataFiles list")?;
    files
        .iter()
        .map(|f| {
            f.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("dataFiles holds {f}, not a path"))
        })
        .collect()
}

/// How one format's columns are read.
struct Spec {
    start: &'static str,
    end: &'static str,
    account: &'static str,
    account_name: &'static str,
    record_type: &'static str,
    /// FOCUS's `ServiceName`; CUR 2.0 takes the product map's `product_name`.
    service: Option<&'static str>,
    product_code: Option<&'static str>,
    product_family: Option<&'static str>,
    product_map: Option<&'static str>,
    usage_type: &'static str,
    quantity: &'static str,
    cost: &'static str,
    resource: &'static str,
    principal: Option<&'static str>,
    description: &'static str,
    currency: &'static str,
    provider: Option<&'static str>,
    invoice: &'static str,
    /// The resource tags' map column, and the principal tags' one.
    resource_tags: &'static str,
    principal_tags: Option<&'static str>,
}

const CUR: Spec = Spec {
    start: "line_item_usage_start_date",
    end: "line_item_usage_end_date",
    account: "line_item_usage_account_id",
    account_name: "line_item_usage_account_name",
    record_type: "line_item_line_item_type",
    service: None,
    product_code: Some("line_item_product_code"),
    product_family: Some("product_product_family"),
    product_map: Some("product"),
    usage_type: "line_item_usage_type",
    quantity: "line_item_usage_amount",
    cost: "line_item_unblended_cost",
    resource: "line_item_resource_id",
    principal: Some("line_item_iam_principal"),
    description: "line_item_line_item_description",
    currency: "line_item_currency_code",
    provider: None,
    invoice: "bill_invoice_id",
    resource_tags: "resource_tags",
    principal_tags: Some("tags"),
};

const FOCUS: Spec = Spec {
    start: "ChargePeriodStart",
    end: "ChargePeriodEnd",
    account: "SubAccountId",
    account_name: "SubAccountName",
    record_type: "ChargeCategory",
    service: Some("ServiceName"),
    product_code: None,
    product_family: None,
    product_map: None,
    usage_type: "x_UsageType",
    quantity: "ConsumedQuantity",
    cost: "BilledCost",
    resource: "ResourceId",
    principal: None,
    description: "ChargeDescription",
    currency: "BillingCurrency",
    provider: Some("ProviderName"),
    invoice: "InvoiceId",
    resource_tags: "Tags",
    principal_tags: None,
};

fn spec(format: ExportFormat) -> &'static Spec {
    match format {
        ExportFormat::Cur => &CUR,
        ExportFormat::Focus => &FOCUS,
    }
}

/// The product family CUR 2.0 gives every Bedrock line (DOMAIN.md, "Exports").
const BEDROCK_FAMILY: &str = "Amazon Bedrock";

/// Where each column the reader uses sits in a file (None: the file lacks it).
#[derive(Debug, Default, Clone)]
struct Layout {
    start: Option<usize>,
    end: Option<usize>,
    account: Option<usize>,
    account_name: Option<usize>,
    record_type: Option<usize>,
    service: Option<usize>,
    product_code: Option<usize>,
    product_family: Option<usize>,
    product_map: Option<usize>,
    usage_type: Option<usize>,
    quantity: Option<usize>,
    cost: Option<usize>,
    resource: Option<usize>,
    principal: Option<usize>,
    description: Option<usize>,
    currency: Option<usize>,
    provider: Option<usize>,
    invoice: Option<usize>,
    resource_tags: Option<usize>,
    principal_tags: Option<usize>,
}

impl Layout {
    /// Each column's index in `names` (the columns a file has), checking the required
    /// ones are there.
    fn of(spec: &Spec, names: &[&str], path: &Path) -> Result<Layout, LinesError> {
        let at = |name: &str| names.iter().position(|n| *n == name);
        let opt = |name: Option<&str>| name.and_then(at);
        let layout = Layout {
            start: at(spec.start),
            end: at(spec.end),
            account: at(spec.account),
            account_name: at(spec.account_name),
            record_type: at(spec.record_type),
            service: opt(spec.service),
            product_code: opt(spec.product_code),
            product_family: opt(spec.product_family),
            product_map: opt(spec.product_map),
            usage_type: at(spec.usage_type),
            quantity: at(spec.quantity),
            cost: at(spec.cost),
            resource: at(spec.resource),
            principal: opt(spec.principal),
            description: at(spec.description),
            currency: at(spec.currency),
            provider: opt(spec.provider),
            invoice: at(spec.invoice),
            resource_tags: at(spec.resource_tags),
            principal_tags: opt(spec.principal_tags),
        };
        let mut lacking: Vec<&str> = [
            (spec.start, layout.start),
            (spec.account, layout.account),
            (spec.record_type, layout.record_type),
            (spec.cost, layout.cost),
        ]
        .into_iter()
        .filter(|(_, i)| i.is_none())
        .map(|(name, _)| name)
        .collect();
        if let (Some(service), None) = (spec.service, layout.service) {
            lacking.push(service);
        }
        if let (Some(code), None) = (spec.product_code, layout.product_code) {
            lacking.push(code);
        }
        if !lacking.is_empty() {
            return Err(invalid(
                path,
                format!(
                    "lacks the column(s) {}; is it a {} export?",
                    lacking.join(", "),
                    if std::ptr::eq(spec, &CUR) {
                        "CUR 2.0"
                    } else {
                        "FOCUS"
                    }
                ),
            ));
        }
        Ok(layout)
    }

    /// The layout without the principal and resource columns the rules do not read,
    /// noting in `counts` which of them the file has.
    fn wanted(mut self, wants: &Wants, counts: &mut ReadCounts) -> Layout {
        counts.principal_column |= self.principal.is_some();
        counts.resource_column |= self.resource.is_some();
        if !wants.principal {
            self.principal = None;
        }
        if !wants.resource {
            self.resource = None;
        }
        self
    }

    /// The columns read, by index.
    fn used(&self) -> Vec<usize> {
        let mut used: Vec<usize> = [
            self.start,
            self.end,
            self.account,
            self.account_name,
            self.record_type,
            self.service,
            self.product_code,
            self.product_family,
            self.product_map,
            self.usage_type,
            self.quantity,
            self.cost,
            self.resource,
            self.principal,
            self.description,
            self.currency,
            self.provider,
            self.invoice,
            self.resource_tags,
            self.principal_tags,
        ]
        .into_iter()
        .flatten()
        .collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    /// The same layout with each index replaced by its position among `used` (a
    /// projected batch holds only those columns, in file order).
    fn projected(&self, used: &[usize]) -> Layout {
        let p = |i: Option<usize>| i.and_then(|i| used.iter().position(|u| *u == i));
        Layout {
            start: p(self.start),
            end: p(self.end),
            account: p(self.account),
            account_name: p(self.account_name),
            record_type: p(self.record_type),
            service: p(self.service),
            product_code: p(self.product_code),
            product_family: p(self.product_family),
            product_map: p(self.product_map),
            usage_type: p(self.usage_type),
            quantity: p(self.quantity),
            cost: p(self.cost),
            resource: p(self.resource),
            principal: p(self.principal),
            description: p(self.description),
            currency: p(self.currency),
            provider: p(self.provider),
            invoice: p(self.invoice),
            resource_tags: p(self.resource_tags),
            principal_tags: p(self.principal_tags),
        }
    }
}

/// Where a tag key the rules use is found: the map column and the keys to try in it.
#[derive(Debug, Clone)]
struct TagKey {
    principal: bool,
    names: Vec<String>,
}

/// The keys a rule's tag key takes in the export: CUR 2.0 writes a user tag `team` as
/// `user_team` in `resource_tags` (an AWS tag `aws:createdBy` as `aws_createdBy`) and a
/// principal tag as `iamPrincipal/team` in `tags`; FOCUS keeps the key (or writes
/// `user:team`).
fn tag_keys(format: ExportFormat, keys: &[String]) -> Vec<TagKey> {
    keys.iter()
        .map(|key| {
            if key.starts_with(PRINCIPAL_TAG_PREFIX) {
                return TagKey {
                    principal: true,
                    names: vec![key.clone()],
                };
            }
            let names = match format {
                ExportFormat::Cur => match key.strip_prefix("aws:") {
                    Some(rest) => vec![format!("aws_{rest}"), key.clone()],
                    None => vec![format!("user_{key}"), key.clone()],
                },
                ExportFormat::Focus => vec![key.clone(), format!("user:{key}")],
            };
            TagKey {
                principal: false,
                names,
            }
        })
        .collect()
}

/// Each tag key's map column (true: the principal tags') and the names to try in it,
/// as `format` writes them: what an Athena query looks up too.
pub(crate) fn tag_key_names(format: ExportFormat, keys: &[String]) -> Vec<(bool, Vec<String>)> {
    tag_keys(format, keys)
        .into_iter()
        .map(|t| (t.principal, t.names))
        .collect()
}

/// What a read came to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadCounts {
    pub files: usize,
    pub line_items: u64,
    /// Rows of other providers in a FOCUS file (Azure, Oracle, ...), left out.
    pub other_providers: u64,
    pub bytes: u64,
    /// Whether any file had the principal column, and the resource column.
    pub principal_column: bool,
    pub resource_column: bool,
}

/// One row, whatever the file's kind.
trait Row {
    fn text(&self, col: Option<usize>) -> Option<&str>;
    fn map_value(&self, col: Option<usize>, key: &str) -> Option<&str>;
    fn number(&self, col: usize) -> Result<Option<f64>, String>;
    fn day(&self, col: usize) -> Result<Option<NaiveDate>, String>;
}

/// What the rules read of a line beyond Cost Explorer's dimensions: the tag keys (in
/// the order `LineItem::tags` holds their values), and whether any rule reads the
/// principal or the resource. A column no rule reads is not read (its values, a session
/// name or an instance id per line, would only split the rows).
#[derive(Debug, Clone, Default)]
pub struct Wants {
    pub tag_keys: Vec<String>,
    pub principal: bool,
    pub resource: bool,
}

impl Wants {
    pub fn of(config: &crate::config::Config) -> Wants {
        let (principals, resources) = config.rule_globs();
        Wants {
            tag_keys: config
                .rule_tag_keys()
                .iter()
                .map(|k| k.to_string())
                .collect(),
            principal: !principals.is_empty(),
            resource: !resources.is_empty(),
        }
    }
}

/// Reads every line item of `files` in `format`, calling `sink` for each.
pub fn read(
    format: ExportFormat,
    files: &[PathBuf],
    wants: &Wants,
    counts: &mut ReadCounts,
    sink: &mut dyn FnMut(&LineItem<'_>),
) -> Result<(), LinesError> {
    let spec = spec(format);
    let tags = self::tag_keys(format, &wants.tag_keys);
    for path in files {
        counts.files += 1;
        counts.bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let name = file_name(path).to_ascii_lowercase();
        if name.ends_with(".parquet") {
            read_parquet(spec, path, wants, &tags, counts, sink)?;
        } else if name.ends_with(".csv.gz") || name.ends_with(".gz") {
            let file = open(path)?;
            read_csv(
                spec,
                path,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
                wants,
                &tags,
                counts,
                sink,
            )?;
        } else if name.ends_with(".csv") {
            read_csv(spec, path, open(path)?, wants, &tags, counts, sink)?;
        } else {
            return Err(invalid(
                path,
                "is not an export data file (*.parquet, *.csv or *.csv.gz)",
            ));
        }
    }
    Ok(())
}

fn open(path: &Path) -> Result<File, LinesError> {
    File::open(path).map_err(|e| LinesError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Turns one row into a line item and hands it on; `at` names the row in an error.
fn emit<R: Row>(
    spec: &Spec,
    l: &Layout,
    tags: &[TagKey],
    row: &R,
    counts: &mut ReadCounts,
    sink: &mut dyn FnMut(&LineItem<'_>),
) -> Result<(), String> {
    if let Some(provider) = row.text(l.provider) {
        if provider != "AWS" && provider != "Amazon Web Services" {
            counts.other_providers += 1;
            return Ok(());
        }
    }
    let start = l.start.expect("checked by Layout::of");
    let Some(date) = row.day(start)? else {
        return Err(format!("{} is empty", spec.start));
    };
    let record_type = row
        .text(l.record_type)
        .ok_or_else(|| format!("{} is empty", spec.record_type))?;
    if let Some(currency) = row.text(l.currency) {
        if currency != "USD" {
            return Err(format!(
                "{} is {currency:?}; creditburn reads bills in USD",
                spec.currency
            ));
        }
    }
    if record_type == "Usage" {
        if let Some(end) = l.end {
            if let Some(end) = row.day(end)? {
                if (end - date).num_days() > 1 {
                    return Err(format!(
                        "a usage line runs from {date} to {end}: the export's time granularity is monthly; creditburn needs a DAILY or HOURLY export"
                    ));
                }
            }
        }
    }
    let cost = row
        .number(l.cost.expect("checked by Layout::of"))?
        .ok_or_else(|| format!("{} is empty", spec.cost))?;
    let quantity = match l.quantity {
        Some(q) => row.number(q)?.unwrap_or(0.0),
        None => 0.0,
    };
    let product_name = row.map_value(l.product_map, "product_name");
    let service = match spec.service {
        Some(_) => row.text(l.service),
        None => {
            let bedrock = row.text(l.product_family) == Some(BEDROCK_FAMILY)
                || row.map_value(l.product_map, "model").is_some();
            match product_name {
                Some(name) => Some(name),
                // A Bedrock line whose product has no name is still Bedrock: its code
                // may be an opaque one (Claude's is).
                None if bedrock => Some("Amazon Bedrock"),
                None => row.text(l.product_code),
            }
        }
    };
    let values: Vec<Option<&str>> = tags
        .iter()
        .map(|t| {
            let column = if t.principal {
                l.principal_tags
            } else {
                l.resource_tags
            };
            t.names
                .iter()
                .find_map(|n| row.map_value(column, n))
                .filter(|v| !v.is_empty())
        })
        .collect();
    let line = LineItem {
        date,
        account: row.text(l.account),
        account_name: row.text(l.account_name),
        service,
        usage_type: row.text(l.usage_type),
        record_type,
        principal: row.text(l.principal),
        resource: row.text(l.resource),
        tags: &values,
        credit: row.text(l.description),
        cost,
        quantity,
        estimated: l.invoice.is_some() && row.text(l.invoice).is_none(),
    };
    counts.line_items += 1;
    sink(&line);
    Ok(())
}

/// A day from text: `2026-04-01`, `2026-04-01T00:00:00Z`, `2024-09-18 22:00:00`.
fn parse_day(text: &str) -> Result<NaiveDate, String> {
    let day = text
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|_| text.len() == 10 || matches!(text.as_bytes().get(10), Some(b'T') | Some(b' ')))
        .ok_or_else(|| format!("{text:?} is not a date or timestamp"))?;
    in_range(day)
}

fn in_range(day: NaiveDate) -> Result<NaiveDate, String> {
    use chrono::Datelike;
    if (MIN_YEAR..=MAX_YEAR).contains(&day.year()) {
        Ok(day)
    } else {
        Err(format!(
            "{day} is outside the years {MIN_YEAR} to {MAX_YEAR}"
        ))
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))
}

// ---- CSV ----

/// A CSV cell that holds no value: empty, or the literal NULL some writers use.
fn csv_value(cell: Option<&str>) -> Option<&str> {
    cell.filter(|c| !c.is_empty() && *c != "NULL")
}

struct CsvRow<'r> {
    record: &'r csv::StringRecord,
    /// Each map column parsed (by column index).
    maps: Vec<(usize, BTreeMap<String, String>)>,
}

impl Row for CsvRow<'_> {
    fn text(&self, col: Option<usize>) -> Option<&str> {
        csv_value(col.and_then(|c| self.record.get(c)))
    }

    fn map_value(&self, col: Option<usize>, key: &str) -> Option<&str> {
        let col = col?;
        self.maps
            .iter()
            .find(|(c, _)| *c == col)
            .and_then(|(_, m)| m.get(key))
            .map(String::as_str)
    }

    fn number(&self, col: usize) -> Result<Option<f64>, String> {
        csv_value(self.record.get(col))
            .map(parse_number)
            .transpose()
    }

    fn day(&self, col: usize) -> Result<Option<NaiveDate>, String> {
        csv_value(self.record.get(col)).map(parse_day).transpose()
    }
}

/// A map cell of a CSV export: a JSON object (`{"user_team":"support"}`), or the
/// `{key=value, key=value}` form Athena prints.
fn parse_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    if text.is_empty() || text == "NULL" || text == "{}" {
        return Ok(BTreeMap::new());
    }
    if let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        return Ok(map
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect());
    }
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("{:?} is not a map (JSON object)", excerpt(text)))?;
    inner
        .split(", ")
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{:?} is not a map (JSON object)", excerpt(text)))
        })
        .collect()
}

fn excerpt(text: &str) -> String {
    crate::model::text::excerpt(text)
}

fn read_csv(
    spec: &Spec,
    path: &Path,
    input: impl Read,
    wants: &Wants,
    tags: &[TagKey],
    counts: &mut ReadCounts,
    sink: &mut dyn FnMut(&LineItem<'_>),
) -> Result<(), LinesError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 16, input));
    let headers = reader
        .headers()
        .map_err(|e| invalid(path, format!("reading its header: {e}")))?
        .clone();
    let names: Vec<&str> = headers.iter().collect();
    let layout = Layout::of(spec, &names, path)?.wanted(wants, counts);
    let mut map_columns = vec![layout.product_map];
    if tags.iter().any(|t| !t.principal) {
        map_columns.push(layout.resource_tags);
    }
    if tags.iter().any(|t| t.principal) {
        map_columns.push(layout.principal_tags);
    }
    let map_columns: Vec<usize> = map_columns.into_iter().flatten().collect();
    let mut record = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(invalid(path, format!("line {}: {e}", line + 1))),
        }
        line += 1;
        let mut maps = Vec::with_capacity(map_columns.len());
        for &c in &map_columns {
            let map = parse_map(record.get(c).unwrap_or(""))
                .map_err(|m| invalid(path, format!("line {line}, {}: {m}", names[c])))?;
            maps.push((c, map));
        }
        let row = CsvRow {
            record: &record,
            maps,
        };
        emit(spec, &layout, tags, &row, counts, sink)
            .map_err(|m| invalid(path, format!("line {line}: {m}")))?;
    }
    Ok(())
}

// ---- Parquet ----

/// A string column of a batch, whichever way Arrow holds it.
enum Text<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    /// Dictionary-encoded: each row's key, and the dictionary.
    Dict(Vec<Option<usize>>, Box<Text<'a>>),
}

impl<'a> Text<'a> {
    fn of(array: &'a dyn Array) -> Option<Text<'a>> {
        if let Some(a) = array.as_string_opt::<i32>() {
            return Some(Text::Utf8(a));
        }
        if let Some(a) = array.as_string_opt::<i64>() {
            return Some(Text::Large(a));
        }
        if let Some(a) = array.as_string_view_opt() {
            return Some(Text::View(a));
        }
        if let Some(d) = array.as_any_dictionary_opt() {
            let values = Text::of(d.values().as_ref())?;
            let keys = d.keys();
            let normalized = d.normalized_keys();
            let keys = (0..keys.len())
                .map(|i| keys.is_valid(i).then(|| normalized[i]))
                .collect();
            return Some(Text::Dict(keys, Box::new(values)));
        }
        None
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Text::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Text::View(a) => a.is_valid(i).then(|| a.value(i)),
            Text::Dict(keys, values) => keys[i].and_then(|k| values.get(k)),
        }
    }
}

/// One column of a batch, read as the reader needs it.
enum Cell<'a> {
    Text(Text<'a>),
    /// Days since 1970-01-01.
    Days(Vec<Option<i64>>),
    Number(Vec<Option<f64>>),
    Map(&'a MapArray, Text<'a>, Text<'a>),
    Absent,
}

const DAY_SECONDS: i64 = 86_400;

/// A primitive column's values through `f`, None where null.
fn mapped<T: ArrowPrimitiveType, U>(
    array: &ArrayRef,
    f: impl Fn(T::Native) -> U,
) -> Vec<Option<U>> {
    array
        .as_primitive::<T>()
        .iter()
        .map(|v| v.map(&f))
        .collect()
}

fn cell<'a>(array: &'a ArrayRef, name: &str) -> Result<Cell<'a>, String> {
    let dt = array.data_type();
    let per_day = |unit: &TimeUnit| match unit {
        TimeUnit::Second => DAY_SECONDS,
        TimeUnit::Millisecond => DAY_SECONDS * 1_000,
        TimeUnit::Microsecond => DAY_SECONDS * 1_000_000,
        TimeUnit::Nanosecond => DAY_SECONDS * 1_000_000_000,
    };
    Ok(match dt {
        DataType::Timestamp(unit, _) => {
            let n = per_day(unit);
            Cell::Days(match unit {
                TimeUnit::Second => mapped::<TimestampSecondType, _>(array, |v| v.div_euclid(n)),
                TimeUnit::Millisecond => {
                    mapped::<TimestampMillisecondType, _>(array, |v| v.div_euclid(n))
                }
                TimeUnit::Microsecond => {
                    mapped::<TimestampMicrosecondType, _>(array, |v| v.div_euclid(n))
                }
                TimeUnit::Nanosecond => {
                    mapped::<TimestampNanosecondType, _>(array, |v| v.div_euclid(n))
                }
            })
        }
        DataType::Date32 => Cell::Days(mapped::<Date32Type, _>(array, i64::from)),
        DataType::Date64 => Cell::Days(mapped::<Date64Type, _>(array, |v| {
            v.div_euclid(DAY_SECONDS * 1_000)
        })),
        DataType::Float64 => Cell::Number(mapped::<Float64Type, _>(array, |v| v)),
        DataType::Float32 => Cell::Number(mapped::<Float32Type, _>(array, f64::from)),
        DataType::Int64 => Cell::Number(mapped::<Int64Type, _>(array, |v| v as f64)),
        DataType::Int32 => Cell::Number(mapped::<Int32Type, _>(array, f64::from)),
        DataType::Decimal128(_, scale) => {
            let divisor = 10f64.powi(i32::from(*scale));
            Cell::Number(mapped::<Decimal128Type, _>(array, |v| v as f64 / divisor))
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let keys = Text::of(map.keys().as_ref())
                .ok_or_else(|| format!("{name}: a map whose keys are not text"))?;
            let values = Text::of(map.values().as_ref())
                .ok_or_else(|| format!("{name}: a map whose values are not text"))?;
            Cell::Map(map, keys, values)
        }
        DataType::Null => Cell::Absent,
        _ => match Text::of(array.as_ref()) {
            Some(t) => Cell::Text(t),
            None => {
                return Err(format!(
                    "{name} has the type {dt}, which creditburn cannot read"
                ))
            }
        },
    })
}

struct BatchRow<'b, 'a> {
    cells: &'b [Cell<'a>],
    i: usize,
}

impl Row for BatchRow<'_, '_> {
    fn text(&self, col: Option<usize>) -> Option<&str> {
        match col.map(|c| &self.cells[c]) {
            Some(Cell::Text(t)) => t.get(self.i).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    fn map_value(&self, col: Option<usize>, key: &str) -> Option<&str> {
        let Some(Cell::Map(map, keys, values)) = col.map(|c| &self.cells[c]) else {
            // A map held as JSON text is not read from Parquet.
            return None;
        };
        if map.is_null(self.i) {
            return None;
        }
        let offsets = map.value_offsets();
        let (from, to) = (offsets[self.i] as usize, offsets[self.i + 1] as usize);
        (from..to)
            .find(|&j| keys.get(j) == Some(key))
            .and_then(|j| values.get(j))
    }

    fn number(&self, col: usize) -> Result<Option<f64>, String> {
        match &self.cells[col] {
            Cell::Number(v) => Ok(v[self.i].filter(|x| x.is_finite())),
            Cell::Text(t) => t
                .get(self.i)
                .filter(|s| !s.is_empty())
                .map(parse_number)
                .transpose(),
            Cell::Absent => Ok(None),
            _ => Err("not a number".to_string()),
        }
    }

    fn day(&self, col: usize) -> Result<Option<NaiveDate>, String> {
        match &self.cells[col] {
            Cell::Days(v) => v[self.i]
                .map(|d| {
                    NaiveDate::default()
                        .checked_add_signed(chrono::Duration::days(d))
                        .ok_or_else(|| format!("day {d} is out of range"))
                        .and_then(in_range)
                })
                .transpose(),
            Cell::Text(t) => t
                .get(self.i)
                .filter(|s| !s.is_empty())
                .map(parse_day)
                .transpose(),
            Cell::Absent => Ok(None),
            _ => Err("not a date".to_string()),
        }
    }
}

/// Rows a record batch holds.
const BATCH_ROWS: usize = 8192;

fn read_parquet(
    spec: &Spec,
    path: &Path,
    wants: &Wants,
    tags: &[TagKey],
    counts: &mut ReadCounts,
    sink: &mut dyn FnMut(&LineItem<'_>),
) -> Result<(), LinesError> {
    let parquet_error = |e: parquet::errors::ParquetError| invalid(path, format!("{e}"));
    let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(parquet_error)?;
    let schema = Arc::clone(builder.schema());
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let layout = Layout::of(spec, &names, path)?.wanted(wants, counts);
    let mut used = layout.used();
    if !tags.iter().any(|t| !t.principal) {
        used.retain(|&c| Some(c) != layout.resource_tags);
    }
    if !tags.iter().any(|t| t.principal) {
        used.retain(|&c| Some(c) != layout.principal_tags);
    }
    let projected = layout.projected(&used);
    let mask = ProjectionMask::roots(builder.parquet_schema(), used.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_error)?;
    let mut row_base = 0usize;
    for batch in reader {
        let batch: RecordBatch =
            batch.map_err(|e| invalid(path, format!("reading a record batch: {e}")))?;
        let cells: Vec<Cell> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields().iter())
            .map(|(a, f)| cell(a, f.name()))
            .collect::<Result<_, _>>()
            .map_err(|m| invalid(path, m))?;
        for i in 0..batch.num_rows() {
            let row = BatchRow { cells: &cells, i };
            emit(spec, &projected, tags, &row, counts, sink)
                .map_err(|m| invalid(path, format!("row {}: {m}", row_base + i + 1)))?;
        }
        row_base += batch.num_rows();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_from_every_timestamp_form_aws_writes() {
        for text in [
            "2026-04-01",
            "2026-04-01T00:00:00Z",
            "2026-04-01T23:00:00.000Z",
            "2026-04-01 22:00:00",
        ] {
            assert_eq!(
                parse_day(text),
                Ok(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()),
                "{text}"
            );
        }
        for bad in ["", "2026-13-01", "01/04/2026", "2026-04-01X", "1066-10-14"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn map_cells_are_json_or_athena_text() {
        let m = parse_map(r#"{"user_team":"support","user_env":"prod"}"#).unwrap();
        assert_eq!(m["user_team"], "support");
        let m = parse_map("{user_team=support, user_env=prod}").unwrap();
        assert_eq!(m["user_env"], "prod");
        assert!(parse_map("").unwrap().is_empty());
        assert!(parse_map("NULL").unwrap().is_empty());
        assert!(parse_map("team").is_err());
    }

    #[test]
    fn tag_keys_take_the_names_each_format_writes() {
        let keys = ["team".to_string(), "iamPrincipal/team".to_string()];
        let cur = tag_keys(ExportFormat::Cur, &keys);
        assert_eq!(cur[0].names, ["user_team", "team"]);
        assert!(!cur[0].principal);
        assert_eq!(cur[1].names, ["iamPrincipal/team"]);
        assert!(cur[1].principal);
        let focus = tag_keys(ExportFormat::Focus, &keys[..1]);
        assert_eq!(focus[0].names, ["team", "user:team"]);
    }

    #[test]
    fn a_manifest_lists_its_data_files() {
        let text = r#"{"executionId":"x","dataFiles":["s3://b/p/e/data/BILLING_PERIOD=2026-04/e-00001.snappy.parquet"]}"#;
        assert_eq!(
            manifest_data_files(text).unwrap(),
            ["s3://b/p/e/data/BILLING_PERIOD=2026-04/e-00001.snappy.parquet"]
        );
        assert!(manifest_data_files("{}").is_err());
        assert!(manifest_data_files("not json").is_err());
    }
}
