//! `creditburn export`: the file read back by readers other than the writer (Python's csv
//! module, Apache Arrow for Parquet), its columns as documented, and its dollars the
//! report's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{creditburn, repo, report_json};

const SERIES: [&str; 12] = [
    "date",
    "award",
    "workload",
    "covered_spend",
    "consumed_to_date",
    "remaining",
    "actual",
    "p10",
    "p50",
    "p90",
    "estimated",
    "status",
];

const TOKENS: [&str; 9] = [
    "date",
    "workload",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "spend",
];

/// Exports the demo and reads the file back with Python.
fn export(dir: &Path, format: &str, table: &str) -> Value {
    let out = dir.join(format!("{table}.{format}"));
    let config = repo().join("config/example.toml");
    let run = creditburn(&[
        "export",
        "--config",
        config.to_str().unwrap(),
        "--format",
        format,
        "--table",
        table,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = Command::new("python3")
        .arg(repo().join("tests/read_export.py"))
        .arg(&out)
        .arg(format)
        .output()
        .expect("python3 runs");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    serde_json::from_slice(&read.stdout).unwrap()
}

/// A JSON array of strings.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect()
}

/// A cell as a number: CSV's text, Parquet's number; None for an empty cell.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.parse().unwrap_or_else(|_| panic!("{s:?} is no number"))),
        Value::Number(n) => n.as_f64(),
        other => panic!("{other} is no number"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[test]
fn the_series_reads_back_in_csv_and_parquet_and_adds_up_to_each_awards_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_json(&repo().join("config/example.toml"), &[]);
    let as_of = report["as_of"].as_str().unwrap().to_string();
    for format in ["csv", "parquet"] {
        let got = export(dir.path(), format, "series");
        let columns = strings(&got["columns"]);
        assert_eq!(columns, SERIES, "{format}");
        if format == "parquet" {
            let types = strings(&got["types"]);
            assert_eq!(types[0], "date32[day]");
            assert_eq!(types[6], "bool");
            assert!(types[3..6].iter().all(|t| *t == "double"), "{types:?}");
        }
        let rows = got["rows"].as_array().unwrap();
        let award_status: BTreeMap<&str, &str> = report["awards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].as_str().unwrap(), a["status"].as_str().unwrap()))
            .collect();
        let mut covered: BTreeMap<String, f64> = BTreeMap::new();
        let mut last_consumed: BTreeMap<String, f64> = BTreeMap::new();
        let mut forecast_days: BTreeMap<String, (String, String)> = BTreeMap::new();
        for r in rows {
            let r = r.as_array().unwrap();
            let (date, award) = (text(&r[0]), text(&r[1]));
            let actual = text(&r[6]) == "true" || text(&r[6]) == "True";
            if actual {
                assert!(date <= as_of, "{format}: actual row after as_of: {r:?}");
                *covered.entry(award.clone()).or_default() +=
                    number(&r[3]).expect("an actual day has its covered spend");
                last_consumed.insert(award.clone(), number(&r[4]).unwrap());
                assert!(number(&r[7]).is_none() && number(&r[8]).is_none());
            } else {
                assert!(
                    date > as_of,
                    "{format}: forecast row on a day of data: {r:?}"
                );
                assert!(number(&r[3]).is_none());
                for q in &r[7..10] {
                    assert!(number(q).unwrap() >= 0.0);
                }
                let e = forecast_days
                    .entry(award)
                    .or_insert((date.clone(), date.clone()));
                e.1 = e.1.clone().max(date.clone());
            }
            assert!(number(&r[5]).unwrap() >= 0.0, "remaining is never negative");
            // The estimated days are flagged, and only those.
            let estimated = text(&r[10]) == "true" || text(&r[10]) == "True";
            let from = report["data"]["estimated_from"].as_str();
            assert_eq!(
                estimated,
                actual && from.is_some_and(|f| date.as_str() >= f),
                "{format}: {r:?}"
            );
            assert_eq!(
                text(&r[11]),
                award_status[text(&r[1]).as_str()],
                "{format}: the award's status on its rows"
            );
        }
        for a in report["awards"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap();
            let consumed = a["consumed"].as_f64().unwrap();
            let sum = covered.get(id).copied().unwrap_or(0.0);
            assert!(
                (sum - consumed).abs() < 0.005,
                "{format}: {id}: the rows add up to {sum}, the report says {consumed}"
            );
            if let Some(last) = last_consumed.get(id) {
                assert!(
                    (last - consumed).abs() < 0.005,
                    "{format}: {id}: {last} vs {consumed}"
                );
            }
            // The forecast runs to the expiry, not beyond.
            let expiry = a["expiry_date"].as_str().unwrap();
            if let Some((_, to)) = forecast_days.get(id) {
                assert_eq!(to, expiry, "{format}: {id}");
            } else {
                assert!(
                    expiry <= as_of.as_str(),
                    "{format}: {id} has no forecast rows"
                );
            }
        }
    }
}

#[test]
fn the_tokens_table_reads_back_and_agrees_with_the_reports_last_30_days() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_json(&repo().join("config/example.toml"), &[]);
    let last =
        chrono::NaiveDate::parse_from_str(report["data"]["last_day"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap();
    let from = (last - chrono::Days::new(29)).to_string();
    for format in ["csv", "parquet"] {
        let got = export(dir.path(), format, "tokens");
        let columns = strings(&got["columns"]);
        assert_eq!(columns, TOKENS, "{format}");
        // Per workload and model over the last 30 days: spend and input tokens.
        let mut sums: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
        for r in got["rows"].as_array().unwrap() {
            let r = r.as_array().unwrap();
            if text(&r[0]) < from {
                continue;
            }
            let e = sums.entry((text(&r[1]), text(&r[2]))).or_default();
            e.0 += number(&r[8]).unwrap();
            e.1 += number(&r[3]).unwrap_or(0.0);
        }
        let mut checked = 0;
        for w in report["workloads"].as_array().unwrap() {
            for m in w["models"].as_array().unwrap() {
                let model = m["model_id"].as_str().or(m["model"].as_str()).unwrap();
                let key = (w["name"].as_str().unwrap().to_string(), model.to_string());
                let Some((spend, input)) = sums.get(&key) else {
                    panic!("{format}: {key:?} is in the report, not the export");
                };
                let billed = m["billed"].as_f64().unwrap();
                assert!(
                    (spend - billed).abs() < 0.02,
                    "{format}: {key:?}: {spend} vs {billed}"
                );
                if let Some(tokens) = m["tokens"]["input"].as_f64() {
                    assert!(
                        (input - tokens).abs() <= tokens * 1e-6 + 30.0,
                        "{format}: {key:?}: {input} vs {tokens}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 3, "{format}: {checked} models checked");
    }
}

#[test]
fn an_export_that_cannot_be_written_exits_73_and_leaves_no_half_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-folder/series.csv");
    let run = creditburn(&[
        "export",
        "--config",
        repo().join("config/example.toml").to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("no-such-folder"));
    assert!(!out.exists());
}
