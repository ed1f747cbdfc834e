//! Shared helpers: the demo config with its paths pointed into a temporary folder, and
//! running the binary.

use crate::harness::Edit;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use creditburn::analyse::table::CostTable;
use creditburn::config::Config;

pub use crate::harness::{demo_config, repo};

/// `config` text switched to the SMTP transport, with `smtp` as its `[email.smtp]` keys
/// (the `.eml` folder's `outbox` key removed).
pub fn with_smtp(config: &str, smtp: &str) -> String {
    let outbox = config
        .find("\noutbox = ")
        .expect("the config has an outbox key");
    let line_end = outbox + 1 + config[outbox + 1..].find('\n').unwrap();
    format!("{}{}", &config[..outbox], &config[line_end..])
        .edited("transport = \"file\"", "transport = \"smtp\"")
        .edited("\n[alerts]", &format!("\n[email.smtp]\n{smtp}\n\n[alerts]"))
}

/// `creditburn report --format json --config CONFIG EXTRA...`, which must succeed, parsed.
pub fn report_json(config: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "report",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = creditburn(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn creditburn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(args)
        .output()
        .expect("the creditburn binary runs")
}

/// Copies a recording folder so a test can damage its copy.
pub fn copy_recording(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A small valid configuration: a tagged RAG workload on a POC award, and a platform
/// account.
pub const SMALL_CONFIG: &str = r#"
[source]
kind = "fixtures"
path = "rec"
[state]
path = "state"
[email]
from = "creditburn <cb@example.com>"
outbox = "outbox"
[alerts]
recipients = ["finance@example.com"]
thresholds = [50, 90]
slack_days = 7
[[workloads]]
name = "rag"
priority = 1
services = ["bedrock", "s3"]
rules = [{ tag = "workload=rag" }]
[[workloads]]
name = "platform"
priority = 2
rules = [{ account = "222222222222" }]
[[awards]]
id = "poc"
program = "bedrock_poc"
amount = 25000
start = "2026-03-01"
expiry = "2026-05-29"
workloads = ["rag"]
"#;

/// The demo config and the demo recording's cost table, through the library.
pub fn demo() -> (Config, CostTable) {
    let dir = tempfile::tempdir().unwrap();
    let config =
        creditburn::config::load(&demo_config(dir.path(), &repo().join("fixtures/demo"))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pages = runtime
        .block_on(creditburn::source::recording::replay(
            &repo().join("fixtures/demo"),
        ))
        .unwrap();
    (
        config,
        creditburn::analyse::table::normalise(&pages).unwrap(),
    )
}

/// The usage dollars of a recording up to and including `through` (YYYY-MM-DD), summed
/// from its usage-by-service pages' JSON, group by group: apart from every line of
/// creditburn's code that reads, tables and attributes the bill.
pub fn recorded_usage_total(dir: &Path, through: &str) -> f64 {
    let mut total = 0.0;
    for page in walk(&dir.join("usage-by-service")) {
        let body: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
        for day in body["ResultsByTime"].as_array().unwrap() {
            if day["TimePeriod"]["Start"].as_str().unwrap() > through {
                continue;
            }
            for group in day["Groups"].as_array().into_iter().flatten() {
                let amount = group["Metrics"]["UnblendedCost"]["Amount"]
                    .as_str()
                    .unwrap();
                total += amount.parse::<f64>().unwrap();
            }
        }
    }
    total
}

/// The cost of a table's usage rows dated up to `as_of`, summed row by row from the
/// table itself: apart from the analysis' sums.
pub fn table_usage_total(table: &CostTable, as_of: chrono::NaiveDate) -> f64 {
    use polars::prelude::AnyValue;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let until = (as_of - epoch).num_days() as i32;
    let (dates, costs) = (
        table.df.column("date").unwrap(),
        table.df.column("cost").unwrap(),
    );
    let mut total = 0.0;
    for i in 0..table.usage_rows {
        let AnyValue::Date(d) = dates.get(i).unwrap() else {
            panic!("row {i}'s date is not a date")
        };
        if d <= until {
            if let AnyValue::Float64(c) = costs.get(i).unwrap() {
                total += c;
            }
        }
    }
    total
}

/// `creditburn run` on `config` the morning after the demo's last day of data
/// (`--now 2026-11-21T08:00:00Z`).
pub fn run_next_morning(config: &Path) -> Output {
    creditburn(&[
        "run",
        "--now",
        "2026-11-21T08:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ])
}

/// Award `id` of a JSON report.
pub fn award<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    let awards = report["awards"].as_array().expect("awards is an array");
    awards
        .iter()
        .find(|a| a["id"] == id)
        .expect("the award is reported")
}

/// Headless Chromium (Debian's package) on `page` at `width` x `height`, with the flags
/// this machine's closed network needs, and `extra` arguments (`--dump-dom`,
/// `--screenshot=...`).
pub fn chromium(dir: &Path, page: &Path, width: u32, height: u32, extra: &[String]) -> Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (scripts/test installs Debian's chromium)")
}

/// A screenshot of `page` at `width` x `height`: (width, height, RGB bytes).
pub fn screenshot(dir: &Path, page: &Path, width: u32, height: u32) -> (u32, u32, Vec<u8>) {
    let shot = dir.join("shot.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        dir,
        page,
        width,
        height,
        &[format!("--screenshot={}", shot.display())],
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let rgb: Vec<u8> = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

/// How many pixels of `rgb` are within `tolerance` of `color` in every channel.
pub fn count_near(rgb: &[u8], color: (u8, u8, u8), tolerance: i32) -> usize {
    rgb.chunks(3)
        .filter(|p| {
            (p[0] as i32 - color.0 as i32).abs() < tolerance
                && (p[1] as i32 - color.1 as i32).abs() < tolerance
                && (p[2] as i32 - color.2 as i32).abs() < tolerance
        })
        .count()
}

/// A number column of a cost table's frame (no nulls).
pub fn f64_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<f64> {
    df.column(name)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

/// A flag column of a cost table's frame (no nulls).
pub fn bool_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<bool> {
    df.column(name)
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

/// A text column of a cost table's frame, each value owned (None where null).
pub fn text_column(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}
