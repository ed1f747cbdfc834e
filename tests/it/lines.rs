//! The bill's line items as a source: the same bill read from Cost Explorer and from a
//! CUR 2.0 export (Parquet, gzipped CSV) makes the same report to the cent; the real
//! FOCUS sample reads to its hand-checked figures; the rules on principals and
//! inference profiles; partly delivered periods; bad files named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use creditburn::analyse::table::{self, CostTable};
use creditburn::config::Config;

use crate::curgen::{self, CurLine, Options};
use crate::support::{demo_config, repo, report_json};

/// The demo's configuration and the cost table its recording makes.
fn demo_table(dir: &Path) -> (PathBuf, Config, CostTable) {
    let config_path = demo_config(dir, &repo().join("fixtures/demo"));
    let config = creditburn::config::load(&config_path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pages = rt
        .block_on(creditburn::source::recording::replay(
            &repo().join("fixtures/demo"),
        ))
        .unwrap();
    let table = table::normalise_for(&pages, table::Needs::of(&config)).unwrap();
    (config_path, config, table)
}

/// Every row of `table` as CUR 2.0 line items: each row's cost and quantity split
/// between two hours of its day (a quarter and the rest), its tags as CUR writes them.
fn as_cur_lines(table: &CostTable) -> Vec<CurLine> {
    let df = &table.df;
    let text = |name: &str| -> Vec<Option<String>> {
        df.column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    let numbers = |name: &str| -> Vec<f64> {
        df.column(name)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect()
    };
    let dates: Vec<i32> = df
        .column(table::DATE)
        .unwrap()
        .date()
        .unwrap()
        .physical()
        .iter()
        .map(|d| d.unwrap())
        .collect();
    let (accounts, services, usage_types, record_types) = (
        text(table::ACCOUNT),
        text(table::SERVICE),
        text(table::USAGE_TYPE),
        text(table::RECORD_TYPE),
    );
    let tags: Vec<(String, Vec<Option<String>>)> = table
        .tag_keys
        .iter()
        .map(|k| (k.clone(), text(&format!("tag:{k}"))))
        .collect();
    let (costs, quantities) = (numbers(table::COST), numbers(table::QUANTITY));
    let estimated: Vec<bool> = df
        .column("estimated")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let mut lines = Vec::new();
    for i in 0..df.height() {
        let service = services[i].clone().unwrap_or_default();
        let bedrock =
            service.starts_with("Amazon Bedrock") || service.ends_with("(Amazon Bedrock Edition)");
        let account = accounts[i].clone().unwrap_or_default();
        let line = CurLine {
            day: table::from_epoch_days(dates[i]),
            hour: 0,
            account_name: table
                .account_names
                .get(&account)
                .cloned()
                .unwrap_or_default(),
            account,
            line_item_type: record_types[i].clone().unwrap(),
            // Claude's product code is an opaque one: only its family and name say Bedrock.
            product_code: if service.ends_with("(Amazon Bedrock Edition)") {
                format!("prod-{:08x}", service.len() * 7919)
            } else {
                service.replace(' ', "")
            },
            product_name: Some(service.clone()),
            product_family: bedrock.then(|| "Amazon Bedrock".to_string()),
            usage_type: usage_types[i].clone(),
            description: (record_types[i].as_deref() == Some("Credit"))
                .then(|| "AWS Activate Credits".to_string()),
            resource_tags: tags
                .iter()
                .filter_map(|(k, v)| v[i].clone().map(|v| (format!("user_{k}"), v)))
                .collect(),
            invoiced: !estimated[i],
            ..CurLine::default()
        };
        let (cost, quantity) = (costs[i], quantities[i]);
        lines.push(CurLine {
            hour: 3,
            cost: cost * 0.25,
            usage_amount: quantity * 0.25,
            ..line.clone()
        });
        lines.push(CurLine {
            hour: 15,
            cost: cost - cost * 0.25,
            usage_amount: quantity - quantity * 0.25,
            ..line
        });
    }
    lines
}

/// `lines` as a Parquet export folder: a data file and a manifest per billing period.
fn write_parquet_export(export: &Path, lines: &[CurLine]) {
    let mut by_period: BTreeMap<String, Vec<&CurLine>> = BTreeMap::new();
    for l in lines {
        by_period
            .entry(l.day.format("%Y-%m").to_string())
            .or_default()
            .push(l);
    }
    for (period, lines) in by_period {
        let (path, relative) = curgen::data_file(export, "cur", &period, 1, "snappy.parquet");
        let mut file = curgen::ParquetCur::create(&path, Options::ALL);
        for l in lines {
            file.push(l.clone());
        }
        file.finish();
        curgen::write_manifest(export, "cur", &period, &[relative]);
    }
}

/// The demo config read from `path` as a `kind` export.
fn export_config(config_path: &Path, kind: &str, path: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config_path).unwrap();
    let start = text.find("kind = \"fixtures\"").unwrap();
    let path_line = start + text[start..].find("\npath = ").unwrap() + 1;
    let end = path_line + text[path_line..].find('\n').unwrap();
    let text = format!(
        "{}kind = {kind:?}\npath = {:?}{}",
        &text[..start],
        path.display().to_string(),
        &text[end..]
    );
    let out = config_path.with_file_name(format!("{kind}.toml"));
    std::fs::write(&out, text).unwrap();
    out
}

/// The paths at which `a` and `b` differ, with both values: an assertion's message that
/// says where.
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (x.get(key), y.get(key));
                match (va, vb) {
                    (Some(va), Some(vb)) => differences(va, vb, &format!("{at}.{key}"), out),
                    _ => out.push(format!("{at}.{key}: {va:?} / {vb:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(va, vb, &format!("{at}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} / {b}")),
        _ => {}
    }
}

fn assert_same(a: &serde_json::Value, b: &serde_json::Value, what: &str) {
    let mut out = Vec::new();
    differences(a, b, "", &mut out);
    assert!(out.is_empty(), "{what} differ:\n{}", out.join("\n"));
}

/// The report without what names its source.
/// and the credits by name only line items carry (they must add up to the credits
/// applied).
fn comparable(mut report: serde_json::Value) -> serde_json::Value {
    report.as_object_mut().unwrap().remove("source");
    let data = report["data"].as_object_mut().unwrap();
    if let Some(by_credit) = data.remove("credits_applied_by_credit") {
        let total: f64 = by_credit
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["amount"].as_f64().unwrap())
            .sum();
        assert!(
            (total - data["credits_applied"].as_f64().unwrap()).abs() < 0.005,
            "the credits by name add up to {total}, not to the credits applied: {}",
            data["credits_applied"]
        );
    }
    report
}

#[test]
fn the_same_bill_from_cost_explorer_and_from_cur_makes_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _, table) = demo_table(dir.path());
    assert_eq!(table.approximated_cost, 0.0, "the demo's splits are exact");
    let lines = as_cur_lines(&table);
    let from_ce = comparable(report_json(&config_path, &[]));

    let export = dir.path().join("export");
    write_parquet_export(&export, &lines);
    let cur = export_config(&config_path, "cur", &export);
    let from_parquet = comparable(report_json(&cur, &[]));
    assert_same(
        &from_ce,
        &from_parquet,
        "Cost Explorer's and CUR 2.0 Parquet's reports",
    );

    let csv = dir.path().join("cur.csv.gz");
    curgen::write_csv_gz(&csv, Options::ALL, &lines);
    let cur_csv = export_config(&config_path, "cur", &csv);
    assert_same(
        &from_ce,
        &comparable(report_json(&cur_csv, &[])),
        "Cost Explorer's and CUR 2.0 CSV's reports",
    );
}

#[test]
fn the_real_focus_sample_reads_to_its_hand_checked_figures() {
    let config = repo().join("config/focus-sample.toml");
    let dir = tempfile::tempdir().unwrap();
    // The state and outbox in a temporary folder; the data where the config says.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("../fixtures/", &format!("{}/fixtures/", repo().display()))
        .replace("../state/", &format!("{}/state/", dir.path().display()))
        .replace("../outbox/", &format!("{}/outbox/", dir.path().display()));
    let config = dir.path().join("focus.toml");
    std::fs::write(&config, text).unwrap();
    let report = report_json(&config, &[]);
    let data = &report["data"];
    assert_eq!(report["source"]["kind"], "focus");
    assert_eq!(data["first_day"], "2024-09-01");
    assert_eq!(data["last_day"], "2024-09-30");
    // The sample's README: BilledCost over the AWS rows is 18.0066, one credit of -2.6137.
    assert_eq!(data["usage_total"], 20.62);
    assert_eq!(data["credits_applied"], 2.61);
    let billed = data["usage_total"].as_f64().unwrap() - data["credits_applied"].as_f64().unwrap();
    assert!((billed - 18.0066).abs() < 0.01, "{billed}");
    let credits = data["credits_applied_by_credit"].as_array().unwrap();
    assert_eq!(credits.len(), 1);
    assert_eq!(
        credits[0]["credit"],
        "AWS Open Source Promotional Credits, credit from account: 391835788720"
    );
    assert_eq!(credits[0]["amount"], 2.61);
    assert_eq!(credits[0]["first_day"], "2024-09-24");
    // Per service: what no workload takes, by service, plus what the workloads take.
    let service_total = |name: &str| -> f64 {
        let unattributed: f64 = data["unattributed_by_service"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["service"] == name)
            .map(|s| s["cost"].as_f64().unwrap())
            .sum();
        let attributed: f64 = report["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| w["by_service"].as_array().unwrap())
            .filter(|s| s["service"] == name)
            .map(|s| s["cost"].as_f64().unwrap())
            .sum();
        unattributed + attributed
    };
    assert!((service_total("Amazon Elastic Compute Cloud") - 18.66).abs() < 0.015);
    assert!((service_total("Amazon Relational Database Service") - 0.75).abs() < 0.015);
    // Tags from the JSON `Tags` column.
    let workload = |name: &str| {
        report["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name)
            .unwrap()["cost"]
            .clone()
    };
    assert_eq!(workload("bright-path"), 15.96);
}
