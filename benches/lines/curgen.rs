//! Writes CUR 2.0 exports as AWS Data Exports lays them out: Parquet (snappy) or gzipped
//! CSV data files under `data/BILLING_PERIOD=YYYY-MM/`, and each period's manifest under
//! `metadata/BILLING_PERIOD=YYYY-MM/`. Shared by the integration tests (the same bill
//! from Cost Explorer and from CUR) and the line-item benchmark (`benches/lines`).
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, MapBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// One CUR 2.0 line item.
#[derive(Debug, Clone, Default)]
pub struct CurLine {
    pub day: NaiveDate,
    /// The hour of `day` its usage started (an hourly export has one line an hour).
    pub hour: u32,
    pub account: String,
    pub account_name: String,
    /// `line_item_line_item_type`: Usage, Credit, Tax, ...
    pub line_item_type: String,
    pub product_code: String,
    /// `product['product_name']`, the service as Cost Explorer names it.
    pub product_name: Option<String>,
    pub product_family: Option<String>,
    /// `product['model']` on Bedrock lines.
    pub model: Option<String>,
    pub usage_type: Option<String>,
    pub usage_amount: f64,
    pub cost: f64,
    pub resource: Option<String>,
    pub principal: Option<String>,
    pub description: Option<String>,
    /// `resource_tags`, keys as CUR writes them (`user_team`).
    pub resource_tags: Vec<(String, String)>,
    /// `tags`: principal tags (`iamPrincipal/team`).
    pub principal_tags: Vec<(String, String)>,
    /// Whether the period is invoiced (`bill_invoice_id` set): AWS no longer changes it.
    pub invoiced: bool,
}

/// Which optional columns an export has: INCLUDE_RESOURCES and
/// INCLUDE_IAM_PRINCIPAL_DATA.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub resources: bool,
    pub principals: bool,
}

impl Options {
    pub const ALL: Options = Options {
        resources: true,
        principals: true,
    };
}

fn schema(options: Options) -> Arc<Schema> {
    let ts = || DataType::Timestamp(TimeUnit::Millisecond, None);
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let map = |name: &str| {
        Field::new(
            name,
            DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(
                        vec![
                            Field::new("key", DataType::Utf8, false),
                            Field::new("value", DataType::Utf8, true),
                        ]
                        .into(),
                    ),
                    false,
                )),
                false,
            ),
            true,
        )
    };
    let mut fields = vec![
        Field::new("bill_billing_period_start_date", ts(), true),
        text("bill_invoice_id"),
        text("bill_payer_account_id"),
        Field::new("line_item_usage_start_date", ts(), true),
        Field::new("line_item_usage_end_date", ts(), true),
        text("line_item_usage_account_id"),
        text("line_item_usage_account_name"),
        text("line_item_line_item_type"),
        text("line_item_product_code"),
        text("line_item_usage_type"),
        Field::new("line_item_usage_amount", DataType::Float64, true),
        Field::new("line_item_unblended_cost", DataType::Float64, true),
        text("line_item_currency_code"),
        text("line_item_line_item_description"),
        text("line_item_operation"),
    ];
    if options.resources {
        fields.push(text("line_item_resource_id"));
    }
    if options.principals {
        fields.push(text("line_item_iam_principal"));
    }
    fields.extend([
        text("product_product_family"),
        text("product_region_code"),
        map("product"),
        map("resource_tags"),
        map("tags"),
    ]);
    Arc::new(Schema::new(fields))
}

fn millis(day: NaiveDate, hour: u32) -> i64 {
    day.and_hms_opt(hour, 0, 0)
        .expect("an hour of the day")
        .and_utc()
        .timestamp_millis()
}

fn period_start(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1).expect("the first of a month")
}

/// Rows a Parquet row group holds (Data Exports writes large row groups).
const ROW_GROUP_ROWS: usize = 1 << 20;
/// Rows buffered before they are handed to the writer as a record batch.
const BATCH_ROWS: usize = 65_536;

/// A CUR 2.0 Parquet file being written, a record batch at a time.
pub struct ParquetCur {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
    options: Options,
    lines: Vec<CurLine>,
    pub rows: u64,
}

impl ParquetCur {
    pub fn create(path: &Path, options: Options) -> ParquetCur {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the data folder");
        }
        let schema = schema(options);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(
            File::create(path).expect("a Parquet file"),
            Arc::clone(&schema),
            Some(props),
        )
        .expect("a Parquet writer");
        ParquetCur {
            writer,
            schema,
            options,
            lines: Vec::with_capacity(BATCH_ROWS),
            rows: 0,
        }
    }

    pub fn push(&mut self, line: CurLine) {
        self.lines.push(line);
        self.rows += 1;
        if self.lines.len() == BATCH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        let batch = batch(&self.schema, self.options, &self.lines);
        self.writer.write(&batch).expect("a record batch written");
        self.lines.clear();
    }

    pub fn finish(mut self) -> u64 {
        self.flush();
        self.writer.close().expect("the Parquet file closed");
        self.rows
    }
}

fn batch(schema: &Arc<Schema>, options: Options, lines: &[CurLine]) -> RecordBatch {
    let text = |f: &dyn Fn(&CurLine) -> Option<String>| -> ArrayRef {
        let mut b = StringBuilder::new();
        for l in lines {
            b.append_option(f(l));
        }
        Arc::new(b.finish())
    };
    let ts = |f: &dyn Fn(&CurLine) -> i64| -> ArrayRef {
        let mut b = TimestampMillisecondBuilder::new();
        for l in lines {
            b.append_value(f(l));
        }
        Arc::new(b.finish())
    };
    let number = |f: &dyn Fn(&CurLine) -> f64| -> ArrayRef {
        let mut b = Float64Builder::new();
        for l in lines {
            b.append_value(f(l));
        }
        Arc::new(b.finish())
    };
    let map = |f: &dyn Fn(&CurLine) -> Vec<(String, String)>| -> ArrayRef {
        let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for l in lines {
            for (k, v) in f(l) {
                b.keys().append_value(k);
                b.values().append_value(v);
            }
            b.append(true).expect("a map row");
        }
        Arc::new(b.finish())
    };
    let mut columns: Vec<ArrayRef> = vec![
        ts(&|l| millis(period_start(l.day), 0)),
        text(&|l| {
            l.invoiced
                .then(|| format!("INV-{}", period_start(l.day).format("%Y%m")))
        }),
        text(&|_| Some("999999999999".into())),
        ts(&|l| millis(l.day, l.hour)),
        ts(&|l| millis(l.day, l.hour) + 3_600_000),
        text(&|l| Some(l.account.clone())),
        text(&|l| Some(l.account_name.clone())),
        text(&|l| Some(l.line_item_type.clone())),
        text(&|l| Some(l.product_code.clone())),
        text(&|l| l.usage_type.clone()),
        number(&|l| l.usage_amount),
        number(&|l| l.cost),
        text(&|_| Some("USD".into())),
        text(&|l| l.description.clone()),
        text(&|_| Some("InvokeModel".into())),
    ];
    if options.resources {
        columns.push(text(&|l| l.resource.clone()));
    }
    if options.principals {
        columns.push(text(&|l| l.principal.clone()));
    }
    columns.extend([
        text(&|l| l.product_family.clone()),
        text(&|_| Some("us-east-1".into())),
        map(&|l| {
            let mut m = Vec::new();
            if let Some(name) = &l.product_name {
                m.push(("product_name".to_string(), name.clone()));
            }
            if let Some(model) = &l.model {
                m.push(("model".to_string(), model.clone()));
            }
            m
        }),
        map(&|l| l.resource_tags.clone()),
        map(&|l| l.principal_tags.clone()),
    ]);
    RecordBatch::try_new(Arc::clone(schema), columns).expect("a record batch")
}

/// Writes `lines` as a gzipped CUR 2.0 CSV (map columns as JSON objects, as the CSV
/// export writes them).
pub fn write_csv_gz(path: &Path, options: Options, lines: &[CurLine]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("the data folder");
    }
    let file = File::create(path).expect("a CSV file");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut w = csv::Writer::from_writer(gz);
    let schema = schema(options);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    w.write_record(&names).expect("the header");
    let iso = |day: NaiveDate, hour: u32| {
        day.and_hms_opt(hour, 0, 0)
            .expect("an hour")
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let json = |pairs: &[(String, String)]| {
        serde_json::to_string(
            &pairs
                .iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .expect("JSON")
    };
    for l in lines {
        let mut row: Vec<String> = vec![
            iso(period_start(l.day), 0),
            if l.invoiced {
                format!("INV-{}", period_start(l.day).format("%Y%m"))
            } else {
                String::new()
            },
            "999999999999".into(),
            iso(l.day, l.hour),
            (l.day.and_hms_opt(l.hour, 0, 0).expect("an hour") + chrono::Duration::hours(1))
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            l.account.clone(),
            l.account_name.clone(),
            l.line_item_type.clone(),
            l.product_code.clone(),
            l.usage_type.clone().unwrap_or_default(),
            format!("{}", l.usage_amount),
            format!("{}", l.cost),
            "USD".into(),
            l.description.clone().unwrap_or_default(),
            "InvokeModel".into(),
        ];
        if options.resources {
            row.push(l.resource.clone().unwrap_or_default());
        }
        if options.principals {
            row.push(l.principal.clone().unwrap_or_default());
        }
        let mut product = Vec::new();
        if let Some(name) = &l.product_name {
            product.push(("product_name".to_string(), name.clone()));
        }
        if let Some(model) = &l.model {
            product.push(("model".to_string(), model.clone()));
        }
        row.extend([
            l.product_family.clone().unwrap_or_default(),
            "us-east-1".into(),
            json(&product),
            json(&l.resource_tags),
            json(&l.principal_tags),
        ]);
        w.write_record(&row).expect("a row");
    }
    w.into_inner()
        .expect("the CSV flushed")
        .finish()
        .expect("the gzip stream closed");
}

/// The data file of `period` (`YYYY-MM`) at `index` in the export folder, and its name
/// in the manifest.
pub fn data_file(
    export: &Path,
    name: &str,
    period: &str,
    index: usize,
    ext: &str,
) -> (PathBuf, String) {
    let relative = format!("data/BILLING_PERIOD={period}/{name}-{index:05}.{ext}");
    (export.join(&relative), relative)
}

/// Writes `period`'s manifest listing `files` (their paths from the export folder), as
/// the S3 URLs Data Exports writes.
pub fn write_manifest(export: &Path, name: &str, period: &str, files: &[String]) {
    let dir = export.join(format!("metadata/BILLING_PERIOD={period}"));
    std::fs::create_dir_all(&dir).expect("the metadata folder");
    let manifest = serde_json::json!({
        "executionId": format!("{period}-exec"),
        "exportArn": format!("arn:aws:bcm-data-exports:us-east-1:999999999999:export/{name}"),
        "exportName": name,
        "billingPeriod": {"start": format!("{period}-01T00:00:00.000Z")},
        "bucket": "example-cur-bucket",
        "dataFiles": files
            .iter()
            .map(|f| format!("s3://example-cur-bucket/cur/{name}/{f}"))
            .collect::<Vec<_>>(),
    });
    let mut file = File::create(dir.join(format!("{name}-Manifest.json"))).expect("the manifest");
    file.write_all(
        serde_json::to_string_pretty(&manifest)
            .expect("JSON")
            .as_bytes(),
    )
    .expect("the manifest written");
}
