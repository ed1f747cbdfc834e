//! Benchmark: a month of CUR 2.0 line items as Parquet (AWS Data Exports' layout), read by
//! `creditburn report` against arrow-rs itself scanning and grouping the same columns.
//!
//! The bills are drawn at random (seeded) from one parametrised family (`Shape`): 60
//! workloads across 12 accounts and 3 regions, a third told apart by a resource tag, a
//! third by the IAM principal (a role whose sessions vary line to line), a third by an
//! application inference profile; each with 4 Bedrock token usage types (Claude or Nova)
//! and 4 of the services around it (OpenSearch, S3, Lambda, CloudWatch), its spend level
//! and growth drawn per workload; untagged EC2 in every account; a day's dollars spread
//! over hourly line items. Every workload has its own award.
//!
//!     cargo bench --bench lines                       # 1M, 3M and 10M rows
//!     LINES_ROWS=1000000 LINES_SEEDS=5 cargo bench --bench lines
//!     cargo bench --profile dev --bench lines -- --check   # the quick check CI runs
//!
//! Prints, per bill: the rows, the file's size, the time arrow-rs takes to scan the
//! columns creditburn reads and group them by the cost table's key (the engine's own
//! figure, measured in the same run), and the wall time and peak memory of `creditburn
//! report` on it (the whole analysis: read, fold, attribution, burn model, forecast,
//! report), and checks that each award's consumed is its workload's spend and that the
//! usage total is the bill's to the cent. Targets: the report within 1.5x of the engine's
//! scan and group at 10M rows, peak memory under 1 GB, time linear in rows (the time per
//! million rows at 10M within 1.5x of that at 1M). A missed target exits 1. Generated
//! files are kept under target/bench-lines/ and reused.

#[path = "curgen.rs"]
mod curgen;
#[path = "../support/peak.rs"]
mod peak;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, MapArray, StringArray};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use polars::prelude::PlHashMap;

use curgen::{CurLine, Options, ParquetCur};

const REGIONS: [&str; 3] = ["USE1", "USW2", "EUC1"];
const DAYS: i64 = 30;

/// A bill's shape: the family the bench draws from.
#[derive(Debug, Clone, Copy)]
struct Shape {
    workloads: usize,
    accounts: usize,
    rows: usize,
    seed: u64,
}

/// A small deterministic generator (xorshift64*): the bench needs no statistics crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// How a workload's lines are told apart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum By {
    Tag,
    Principal,
    Profile,
}

struct Workload {
    name: String,
    account: String,
    region: &'static str,
    by: By,
    claude: bool,
    level: f64,
    growth: f64,
}

fn workloads(shape: Shape, rng: &mut Rng) -> Vec<Workload> {
    (0..shape.workloads)
        .map(|i| Workload {
            name: format!("w{i:03}"),
            account: format!("{:012}", 100_000_000_000u64 + (i % shape.accounts) as u64),
            region: REGIONS[i % REGIONS.len()],
            by: [By::Tag, By::Principal, By::Profile][i % 3],
            claude: i % 2 == 0,
            level: (rng.range(3.0, 7.5)).exp(),
            growth: rng.range(-0.01, 0.03),
        })
        .collect()
}

/// The usage types of a workload: (product code, product name, family, usage type,
/// dollars per unit).
fn usage_types(w: &Workload) -> Vec<(String, String, Option<String>, String, f64)> {
    let r = w.region;
    let (service, model, prices) = if w.claude {
        (
            "Amazon Bedrock Service",
            "Claude4.6Sonnet",
            [3.3e-3, 16.5e-3, 0.33e-3, 4.125e-3],
        )
    } else {
        (
            "Amazon Bedrock",
            "NovaPro",
            [0.8e-3, 3.2e-3, 0.2e-3, 0.8e-3],
        )
    };
    let mut out: Vec<(String, String, Option<String>, String, f64)> = [
        "input-tokens",
        "output-tokens",
        "cache-read-input-token-count",
        "cache-write-input-token-count",
    ]
    .iter()
    .zip(prices)
    .map(|(kind, price)| {
        (
            service.replace(' ', ""),
            service.to_string(),
            Some("Amazon Bedrock".to_string()),
            format!("{r}-{model}-{kind}"),
            price,
        )
    })
    .collect();
    for (code, name, usage) in [
        (
            "AmazonES",
            "Amazon OpenSearch Service",
            "ServerlessIndexingOCU",
        ),
        (
            "AmazonS3",
            "Amazon Simple Storage Service",
            "TimedStorage-ByteHrs",
        ),
        ("AWSLambda", "AWS Lambda", "Lambda-GB-Second"),
        (
            "AmazonCloudWatch",
            "AmazonCloudWatch",
            "DataProcessing-Bytes",
        ),
    ] {
        out.push((code.into(), name.into(), None, format!("{r}-{usage}"), 0.01));
    }
    out
}

/// Writes the bill as one billing period of an export folder; returns the usage total.
fn write_bill(shape: Shape, export: &Path) -> f64 {
    let mut rng = Rng(shape.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let ws = workloads(shape, &mut rng);
    let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let cells = shape.workloads * 9 * DAYS as usize;
    let per_cell = (shape.rows / cells).max(1);
    let (path, relative) = curgen::data_file(export, "bench", "2026-11", 1, "snappy.parquet");
    let mut file = ParquetCur::create(&path, Options::ALL);
    let mut total = 0.0;
    for day in 0..DAYS {
        let date = first + chrono::Duration::days(day);
        for w in &ws {
            let dollars = w.level * (1.0 + w.growth).powi(day as i32);
            let mut types = usage_types(w);
            // Untagged EC2 in the workload's account: nobody's.
            types.push((
                "AmazonEC2".into(),
                "Amazon Elastic Compute Cloud - Compute".into(),
                None,
                format!("{}-BoxUsage:m7i.xlarge", w.region),
                0.2,
            ));
            let shares = [0.30, 0.25, 0.05, 0.05, 0.12, 0.08, 0.05, 0.02, 0.08];
            for ((code, name, family, usage_type, price), share) in types.iter().zip(shares) {
                let cell = dollars * share * rng.range(0.9, 1.1);
                let ec2 = code == "AmazonEC2";
                // Each line item its own share of the cell, as on a real bill: costs that
                // repeat would compress (and decode) better than a bill's do.
                let weights: Vec<f64> = (0..per_cell).map(|_| rng.range(0.5, 1.5)).collect();
                let sum: f64 = weights.iter().sum();
                for (j, weight) in weights.iter().enumerate() {
                    let cost = cell * weight / sum;
                    total += cost;
                    let session = j % 40;
                    let base = CurLine {
                        day: date,
                        hour: (j % 24) as u32,
                        account: w.account.clone(),
                        account_name: format!("acct-{}", &w.account[9..]),
                        line_item_type: "Usage".into(),
                        product_code: code.clone(),
                        product_name: Some(name.clone()),
                        product_family: family.clone(),
                        model: None,
                        usage_type: Some(usage_type.clone()),
                        usage_amount: cost / price,
                        cost,
                        resource: Some(if ec2 {
                            format!("i-{:017x}", j)
                        } else if w.by == By::Profile && family.is_some() {
                            format!(
                                "arn:aws:bedrock:us-east-1:{}:application-inference-profile/{}p",
                                w.account, w.name
                            )
                        } else {
                            format!("arn:aws:{}:::{}-{}", code.to_lowercase(), w.name, j % 4)
                        }),
                        principal: Some(if w.by == By::Principal && !ec2 {
                            format!(
                                "arn:aws:sts::{}:assumed-role/{}/session-{session}",
                                w.account, w.name
                            )
                        } else {
                            format!(
                                "arn:aws:sts::{}:assumed-role/shared-runner/s-{session}",
                                w.account
                            )
                        }),
                        resource_tags: if w.by == By::Tag && !ec2 {
                            vec![("user_team".to_string(), w.name.clone())]
                        } else {
                            vec![]
                        },
                        invoiced: false,
                        ..CurLine::default()
                    };
                    file.push(base);
                }
            }
        }
    }
    file.finish();
    curgen::write_manifest(export, "bench", "2026-11", &[relative]);
    total
}

fn config(shape: Shape, dir: &Path, export: &Path) -> PathBuf {
    let mut rng = Rng(shape.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let ws = workloads(shape, &mut rng);
    let mut text = format!(
        "[source]\nkind = \"cur\"\npath = {:?}\n[state]\npath = {:?}\n[email]\nfrom = \"c@example.com\"\ntransport = \"file\"\noutbox = {:?}\n[alerts]\nrecipients = [\"f@example.com\"]\n",
        export.display().to_string(),
        dir.join("state").display().to_string(),
        dir.join("outbox").display().to_string()
    );
    for (i, w) in ws.iter().enumerate() {
        let rule = match w.by {
            By::Tag => format!("{{ tag = \"team={}\" }}", w.name),
            By::Principal => format!(
                "{{ iam_principal = \"arn:aws:sts::{}:assumed-role/{}/*\" }}",
                w.account, w.name
            ),
            By::Profile => format!(
                "{{ resource = \"arn:aws:bedrock:*:{}:application-inference-profile/{}p\" }}",
                w.account, w.name
            ),
        };
        text.push_str(&format!(
            "[[workloads]]\nname = {:?}\npriority = {i}\nrules = [{rule}]\n",
            w.name
        ));
    }
    for w in &ws {
        text.push_str(&format!(
            "[[awards]]\nid = \"poc-{0}\"\nprogram = \"bedrock_poc\"\namount = 50000\nstart = \"2026-11-01\"\nexpiry = \"2027-02-28\"\nworkloads = [{0:?}]\n",
            w.name
        ));
    }
    let path = dir.join("creditburn.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The columns creditburn reads of a CUR 2.0 file for these rules, scanned by arrow-rs
/// and grouped by the cost table's key (day, account, product name, usage type, line
/// item type, principal, resource, the tag): the engine's own time for the same work.
fn engine_scan_and_group(file: &Path) -> (f64, usize, f64) {
    let started = Instant::now();
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(file).unwrap()).unwrap();
    let schema = Arc::clone(builder.schema());
    let wanted = [
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        "line_item_usage_account_id",
        "line_item_usage_account_name",
        "line_item_line_item_type",
        "line_item_product_code",
        "line_item_usage_type",
        "line_item_usage_amount",
        "line_item_unblended_cost",
        "line_item_currency_code",
        "line_item_line_item_description",
        "line_item_resource_id",
        "line_item_iam_principal",
        "product_product_family",
        "product",
        "resource_tags",
        "bill_invoice_id",
    ];
    let indices: Vec<usize> = wanted.iter().map(|n| schema.index_of(n).unwrap()).collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .unwrap();
    let mut codes: PlHashMap<String, u32> = PlHashMap::default();
    let mut groups: PlHashMap<Vec<u32>, (f64, f64)> = PlHashMap::default();
    let mut key = Vec::with_capacity(8);
    let mut total = 0.0;
    let code = |s: Option<&str>, codes: &mut PlHashMap<String, u32>| -> u32 {
        match s {
            None => 0,
            Some(s) => match codes.get(s) {
                Some(c) => *c,
                None => {
                    let c = codes.len() as u32 + 1;
                    codes.insert(s.to_string(), c);
                    c
                }
            },
        }
    };
    let text = |b: &arrow_array::RecordBatch, name: &str| -> StringArray {
        b.column_by_name(name).unwrap().as_string::<i32>().clone()
    };
    fn map_get<'m>(m: &'m MapArray, i: usize, key: &str) -> Option<&'m str> {
        let offsets = m.value_offsets();
        let keys = m.keys().as_string::<i32>();
        let values = m.values().as_string::<i32>();
        (offsets[i] as usize..offsets[i + 1] as usize)
            .find(|&j| keys.value(j) == key)
            .map(|j| values.value(j))
    }
    for batch in reader {
        let b = batch.unwrap();
        let start = b
            .column_by_name("line_item_usage_start_date")
            .unwrap()
            .as_primitive::<TimestampMillisecondType>()
            .clone();
        let (account, kind, usage, principal, resource) = (
            text(&b, "line_item_usage_account_id"),
            text(&b, "line_item_line_item_type"),
            text(&b, "line_item_usage_type"),
            text(&b, "line_item_iam_principal"),
            text(&b, "line_item_resource_id"),
        );
        let product = b.column_by_name("product").unwrap().as_map().clone();
        let tags = b.column_by_name("resource_tags").unwrap().as_map().clone();
        let cost = b
            .column_by_name("line_item_unblended_cost")
            .unwrap()
            .as_primitive::<arrow_array::types::Float64Type>()
            .clone();
        let amount = b
            .column_by_name("line_item_usage_amount")
            .unwrap()
            .as_primitive::<arrow_array::types::Float64Type>()
            .clone();
        let tags_keys = tags.keys().as_string::<i32>().clone();
        let tags_values = tags.values().as_string::<i32>().clone();
        for i in 0..b.num_rows() {
            key.clear();
            key.push(start.value(i).div_euclid(86_400_000) as u32);
            for s in [&account, &kind, &usage, &principal, &resource] {
                key.push(code(s.is_valid(i).then(|| s.value(i)), &mut codes));
            }
            let name = map_get(&product, i, "product_name");
            key.push(code(name, &mut codes));
            let offsets = tags.value_offsets();
            let team = (offsets[i] as usize..offsets[i + 1] as usize)
                .find(|&j| tags_keys.value(j) == "user_team")
                .map(|j| tags_values.value(j));
            key.push(code(team, &mut codes));
            let entry = match groups.get_mut(key.as_slice()) {
                Some(e) => e,
                None => groups.entry(key.clone()).or_default(),
            };
            entry.0 += cost.value(i);
            entry.1 += amount.value(i);
            total += cost.value(i);
        }
    }
    (started.elapsed().as_secs_f64(), groups.len(), total)
}

/// `creditburn report --format json` on `config`: (report, wall seconds, peak MB).
fn report(config: &Path) -> (serde_json::Value, f64, f64) {
    let out = Command::new("python3")
        .args(["-c", peak::PEAK_WRAPPER, env!("CARGO_BIN_EXE_creditburn")])
        .args(["report", "--format", "json", "--config"])
        .arg(config)
        .output()
        .expect("python3 runs creditburn");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "creditburn failed: {err}");
    let (seconds, mb) = peak::wall_and_peak(&err);
    (serde_json::from_slice(&out.stdout).unwrap(), seconds, mb)
}

struct Run {
    rows: usize,
    engine: f64,
    full: f64,
    peak_mb: f64,
}

fn main() {
    // `--check`: CI's quick run in the test build, one small bill each of two seeds:
    // the figures judged (to the cent), the times printed only.
    let check = std::env::args().any(|a| a == "--check");
    let sizes: Vec<usize> = std::env::var("LINES_ROWS")
        .ok()
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| {
            if check {
                vec![100_000]
            } else {
                vec![1_000_000, 3_000_000, 10_000_000]
            }
        });
    let seeds: u64 = std::env::var("LINES_SEEDS")
        .ok()
        .map(|v| v.parse().unwrap())
        .unwrap_or(if check { 2 } else { 3 });
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join(if check {
        "target/bench-lines-check"
    } else {
        "target/bench-lines"
    });
    let mut runs: Vec<Run> = Vec::new();
    let mut failures = Vec::new();
    println!(
        "{:>10} {:>5} {:>8} {:>9} {:>9} {:>7} {:>8} {:>9}",
        "rows", "seed", "file MB", "engine s", "report s", "ratio", "peak MB", "groups"
    );
    for &rows in &sizes {
        // The largest size once: its generation alone takes a while.
        let n_seeds = if rows >= 10_000_000 { 1 } else { seeds };
        for seed in 1..=n_seeds {
            let shape = Shape {
                workloads: 60,
                accounts: 12,
                rows,
                seed,
            };
            let dir = keep.join(format!("{rows}-{seed}"));
            let export = dir.join("export");
            let total_file = dir.join("total");
            let total: f64 = match std::fs::read_to_string(&total_file) {
                Ok(t) => t.trim().parse().unwrap(),
                Err(_) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    let t0 = Instant::now();
                    let total = write_bill(shape, &export);
                    std::fs::write(&total_file, format!("{total}")).unwrap();
                    eprintln!(
                        "generated {rows} rows (seed {seed}) in {:.1} s",
                        t0.elapsed().as_secs_f64()
                    );
                    total
                }
            };
            let _ = std::fs::remove_dir_all(dir.join("state"));
            let file = curgen::data_file(&export, "bench", "2026-11", 1, "snappy.parquet").0;
            let size_mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
            let (engine, groups, engine_total) = engine_scan_and_group(&file);
            let config = config(shape, &dir, &export);
            let (report, full, peak_mb) = report(&config);
            // The figures are the bill's: each award's consumed is its workload's spend,
            // and the usage total is what was written, to the cent.
            let usage_total = report["data"]["usage_total"].as_f64().unwrap();
            if (usage_total - total).abs() > 0.01 || (engine_total - total).abs() > 0.01 {
                failures.push(format!(
                    "{rows} rows seed {seed}: usage total {usage_total} (engine {engine_total}), written {total}"
                ));
            }
            for award in report["awards"].as_array().unwrap() {
                let workload = award["workloads"][0].as_str().unwrap();
                let spend = report["workloads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|w| w["name"] == workload)
                    .unwrap()["cost"]
                    .as_f64()
                    .unwrap();
                let consumed = award["consumed"].as_f64().unwrap();
                if (consumed - spend.min(50_000.0)).abs() > 0.011 || spend == 0.0 {
                    failures.push(format!(
                        "{rows} rows seed {seed}: {} consumed {consumed}, its workload spent {spend}",
                        award["id"]
                    ));
                }
            }
            println!(
                "{:>10} {:>5} {:>8.1} {:>9.3} {:>9.3} {:>7.2} {:>8.0} {:>9}",
                rows,
                seed,
                size_mb,
                engine,
                full,
                full / engine,
                peak_mb,
                groups
            );
            runs.push(Run {
                rows,
                engine,
                full,
                peak_mb,
            });
        }
    }
    // Per size: the spread over seeds.
    println!();
    let mut per_million = Vec::new();
    for &rows in &sizes {
        let of: Vec<&Run> = runs.iter().filter(|r| r.rows == rows).collect();
        let spread = |f: &dyn Fn(&Run) -> f64| {
            let mut v: Vec<f64> = of.iter().map(|r| f(r)).collect();
            v.sort_by(f64::total_cmp);
            (v[0], v[v.len() / 2], v[v.len() - 1])
        };
        let (rlo, rmid, rhi) = spread(&|r| r.full / r.engine);
        let (tlo, tmid, thi) = spread(&|r| r.full);
        let (_, _, peak) = spread(&|r| r.peak_mb);
        let m = rows as f64 / 1e6;
        println!(
            "{rows:>10} rows, {} bill(s): report {tlo:.2}/{tmid:.2}/{thi:.2} s (min/median/max), {:.3} s per million rows; ratio to the engine {rlo:.2}/{rmid:.2}/{rhi:.2}; peak {peak:.0} MB",
            of.len(),
            tmid / m
        );
        per_million.push((rows, tmid / m, rmid, peak));
    }
    let mut missed = Vec::new();
    if check {
        println!("(--check: the figures are judged, not the times of a debug build)");
    } else if let Some(&(rows, _, ratio, peak)) = per_million.iter().max_by_key(|p| p.0) {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "target: report within 1.5x of the engine's scan and group at {rows} rows: {ratio:.2}x, {}",
            verdict(ratio <= 1.5)
        );
        println!(
            "target: peak memory under 1 GB at {rows} rows: {peak:.0} MB, {}",
            verdict(peak < 1024.0)
        );
        if ratio > 1.5 {
            missed.push("ratio");
        }
        if peak >= 1024.0 {
            missed.push("memory");
        }
        if let Some(&(small, small_pm, _, _)) = per_million.iter().min_by_key(|p| p.0) {
            if small < rows {
                let (_, big_pm, _, _) = per_million.iter().max_by_key(|p| p.0).unwrap();
                let growth = big_pm / small_pm;
                println!(
                    "target: linear in rows (time per million rows at {rows} within 1.5x of that at {small}): {growth:.2}x, {}",
                    verdict(growth <= 1.5)
                );
                if growth > 1.5 {
                    missed.push("linearity");
                }
            }
        }
    }
    for f in &failures {
        println!("WRONG: {f}");
    }
    if !missed.is_empty() || !failures.is_empty() {
        std::process::exit(1);
    }
}
