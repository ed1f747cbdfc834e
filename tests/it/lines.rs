//! The bill's line items as a source: the same bill read from Cost Explorer and from a
//! CUR 2.0 export (Parquet, gzipped CSV) makes the same report to the cent; the real
//! FOCUS sample reads to its hand-checked figures; the rules on principals and
//! inference profiles; partly delivered periods; bad files named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use creditburn::analyse::table::{self, CostTable};
use creditburn::config::Config;

use crate::curgen::{self, CurLine, Options};
use crate::support::{creditburn, demo_config, repo, report_json};

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
    let text = |name: &str| crate::support::text_column(df, name);
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
    let (costs, quantities) = (
        crate::support::f64_column(df, table::COST),
        crate::support::f64_column(df, table::QUANTITY),
    );
    let estimated = crate::support::bool_column(df, "estimated");
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

/// `config/NAME` with its relative paths made absolute: the data in the repository, the
/// state and outbox in `dir`; `edit` applied to the text.
fn repo_config(name: &str, dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config").join(name))
        .unwrap()
        .replace("../fixtures/", &format!("{}/fixtures/", repo().display()))
        .replace("../state/", &format!("{}/state/", dir.display()))
        .replace("../outbox/", &format!("{}/outbox/", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn workload_cost(report: &serde_json::Value, name: &str) -> f64 {
    report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no workload {name}"))["cost"]
        .as_f64()
        .unwrap()
}

#[test]
fn two_workloads_in_one_account_are_told_apart_by_principal_and_by_inference_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo_config("cur-demo.toml", dir.path(), |t| t);
    let report = report_json(&config, &[]);
    // The totals fixtures/generate_cur_demo.py printed (fixtures/README.md).
    assert_eq!(workload_cost(&report, "support-bot"), 23920.82);
    assert_eq!(workload_cost(&report, "doc-search"), 8600.02);
    assert_eq!(workload_cost(&report, "platform"), 11013.41);
    assert_eq!(report["data"]["unattributed"], 822.46);
    assert_eq!(report["data"]["usage_total"], 44356.70);
    assert_eq!(report["data"]["credits_applied"], 43534.25);
    assert_eq!(report["data"]["estimated_from"], "2026-11-01");
    assert_eq!(report["data"]["warnings"], serde_json::json!([]));
    // AWS's view of each award from the bill's Credit lines of its credit_name: the
    // POC for support-bot is gone, eaten by doc-search's Bedrock spend too (AWS draws the
    // soonest expiry first), as the account view's model of AWS's order says.
    let award = |id: &str| {
        report["awards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()
            .clone()
    };
    for (id, aws_remaining) in [
        ("poc-support", 0.0),
        ("poc-docsearch", 2479.17),
        ("portfolio", 88986.59),
    ] {
        let a = award(id);
        assert_eq!(a["credit"]["basis"], "line_items", "{id}");
        assert_eq!(a["credit"]["found"], true, "{id}");
        assert_eq!(
            a["credit"]["aws_remaining"].as_f64().unwrap(),
            aws_remaining,
            "{id}"
        );
        assert_eq!(
            a["account_view"]["remaining"].as_f64().unwrap(),
            aws_remaining,
            "{id}: the model of AWS's order"
        );
    }
    let credits = report["data"]["credits_applied_by_credit"]
        .as_array()
        .unwrap();
    assert_eq!(
        credits[0]["credit"],
        "AWS Credits: Amazon Bedrock POC (PC-77310)"
    );
    assert_eq!(credits[0]["amount"], 25000.0);
    assert_eq!(credits[0]["last_day"], "2026-11-15");
    // The shared runner role's calls outside the profile are no workload's.
    let unattributed = report["data"]["unattributed_by_service"]
        .as_array()
        .unwrap();
    assert_eq!(unattributed.len(), 1, "{unattributed:?}");
    assert_eq!(
        unattributed[0]["service"],
        "Claude 3 Haiku (Amazon Bedrock Edition)"
    );

    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("the export needs INCLUDE_IAM_PRINCIPAL_DATA: the rules of support-bot")
            && stdout.contains("the export needs INCLUDE_RESOURCES: the rules of doc-search"),
        "{stdout}"
    );
}

/// A small CUR 2.0 bill: a day of Bedrock spend by a role, through a profile.
fn small_bill() -> Vec<CurLine> {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    (0..3)
        .map(|i| CurLine {
            day: day + chrono::Duration::days(i),
            hour: 5,
            account: "111122223333".into(),
            account_name: "genai".into(),
            line_item_type: "Usage".into(),
            product_code: "AmazonBedrockService".into(),
            product_name: Some("Amazon Bedrock Service".into()),
            product_family: Some("Amazon Bedrock".into()),
            model: Some("Claude Sonnet 4.6".into()),
            usage_type: Some("USE1-Claude4.6Sonnet-input-tokens".into()),
            usage_amount: 1000.0,
            cost: 3.30,
            resource: Some(
                "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/p1".into(),
            ),
            principal: Some("arn:aws:sts::111122223333:assumed-role/bot/s1".into()),
            invoiced: false,
            ..CurLine::default()
        })
        .collect()
}

const SMALL_CUR_CONFIG: &str = r#"
[source]
kind = "cur"
path = "export"
[state]
path = "state"
[email]
from = "creditburn@example.com"
transport = "file"
outbox = "outbox"
[alerts]
recipients = ["finance@example.com"]
[[workloads]]
name = "bot"
rules = [{ iam_principal = "arn:aws:sts::111122223333:assumed-role/bot/*" }]
[[awards]]
id = "poc"
program = "bedrock_poc"
amount = 1000
start = "2026-11-01"
expiry = "2027-01-31"
workloads = ["bot"]
"#;

#[test]
fn a_rule_on_a_column_the_export_lacks_is_named_with_the_option_that_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, relative) = curgen::data_file(
        &dir.path().join("export"),
        "e",
        "2026-11",
        1,
        "snappy.parquet",
    );
    let mut file = curgen::ParquetCur::create(
        &path,
        Options {
            resources: true,
            principals: false,
        },
    );
    for l in small_bill() {
        file.push(l);
    }
    file.finish();
    curgen::write_manifest(&dir.path().join("export"), "e", "2026-11", &[relative]);
    let config = dir.path().join("c.toml");
    std::fs::write(&config, SMALL_CUR_CONFIG).unwrap();
    let report = report_json(&config, &[]);
    assert_eq!(workload_cost(&report, "bot"), 0.0);
    let warnings = report["data"]["warnings"].to_string();
    assert!(
        warnings.contains("no line_item_iam_principal column")
            && warnings.contains("INCLUDE_IAM_PRINCIPAL_DATA"),
        "{warnings}"
    );
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no line_item_iam_principal column"));
}

#[test]
fn a_rule_cost_explorer_cannot_evaluate_is_a_configuration_error_there() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, rule, key) in [
        (
            "aws",
            r#"{ iam_principal = "arn:aws:sts::1:assumed-role/x/*" }"#,
            "iam_principal",
        ),
        (
            "fixtures",
            r#"{ resource = "arn:aws:bedrock:*" }"#,
            "resource",
        ),
        ("aws", r#"{ tag = "iamPrincipal/team=a" }"#, "tag"),
        (
            "focus",
            r#"{ iam_principal = "arn:aws:sts::1:assumed-role/x/*" }"#,
            "iam_principal",
        ),
    ] {
        let text = SMALL_CUR_CONFIG
            .replace("kind = \"cur\"", &format!("kind = {kind:?}"))
            .replace(
                r#"{ iam_principal = "arn:aws:sts::111122223333:assumed-role/bot/*" }"#,
                rule,
            )
            .replace(
                "path = \"export\"\n",
                if kind == "aws" {
                    ""
                } else {
                    "path = \"export\"\n"
                },
            );
        let config = dir.path().join("c.toml");
        std::fs::write(&config, text).unwrap();
        let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{kind} {rule}: {stderr}");
        assert!(
            stderr.contains(&format!("workloads[0].rules[0].{key}")) && stderr.contains("cur"),
            "{kind} {rule}: {stderr}"
        );
    }
    // An award's credit_name reads the bill's Credit lines, which Cost Explorer lacks.
    let text = SMALL_CUR_CONFIG
        .replace("kind = \"cur\"\npath = \"export\"\n", "kind = \"aws\"\n")
        .replace(
            "rules = [{ iam_principal = \"arn:aws:sts::111122223333:assumed-role/bot/*\" }]",
            "rules = [{ tag = \"team=bot\" }]",
        )
        .replace(
            "workloads = [\"bot\"]",
            "workloads = [\"bot\"]\ncredit_name = \"AWS Activate Credits\"",
        );
    let config = dir.path().join("c.toml");
    std::fs::write(&config, text).unwrap();
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(".credit_name") && stderr.contains("credit_id"),
        "{stderr}"
    );
}

/// The demo export copied into `dir`, for a test to change.
fn demo_export_copy(dir: &Path) -> PathBuf {
    let to = dir.join("cur-demo");
    crate::support::copy_recording(&repo().join("fixtures/cur-demo"), &to);
    to
}

#[test]
fn a_period_partly_delivered_is_left_out_and_said_never_read_as_zero() {
    let dir = tempfile::tempdir().unwrap();
    let export = demo_export_copy(dir.path());
    let config = repo_config("cur-demo.toml", dir.path(), |t| {
        t.replace(
            &format!("{}/fixtures/cur-demo", repo().display()),
            &export.display().to_string(),
        )
    });
    // November's manifest lists a second file that has not arrived.
    let manifest = export.join("metadata/BILLING_PERIOD=2026-11/cur-demo-Manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "cur-demo-00001.snappy.parquet\"",
        "cur-demo-00001.snappy.parquet\", \"s3://example-cur-bucket/cur/cur-demo/data/BILLING_PERIOD=2026-11/cur-demo-00002.snappy.parquet\"",
    );
    std::fs::write(&manifest, text).unwrap();
    let report = report_json(&config, &[]);
    assert_eq!(report["data"]["last_day"], "2026-10-31");
    assert_eq!(report["source"]["stale"], true);
    let reasons = report["source"]["stale_reasons"].to_string();
    assert!(
        reasons.contains("billing period 2026-11") && reasons.contains("cur-demo-00002"),
        "{reasons}"
    );
    // The same hole in October, before data that is there, would read as a month of no
    // spend: refused, naming the period.
    std::fs::remove_file(export.join("data/BILLING_PERIOD=2026-10/cur-demo-00001.snappy.parquet"))
        .unwrap();
    let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(stderr.contains("billing period 2026-10"), "{stderr}");
}

#[test]
fn a_restated_period_is_read_from_its_newest_manifest_only() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let period = "2026-11";
    // The first delivery, then a restatement to a new file with one day more.
    let (old, old_rel) = curgen::data_file(&export, "e", period, 1, "snappy.parquet");
    let mut file = curgen::ParquetCur::create(&old, Options::ALL);
    for l in small_bill() {
        file.push(l);
    }
    file.finish();
    let (new, new_rel) = curgen::data_file(&export, "e", period, 2, "snappy.parquet");
    let mut file = curgen::ParquetCur::create(&new, Options::ALL);
    let mut restated = small_bill();
    restated.push(CurLine {
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 5).unwrap(),
        ..restated[0].clone()
    });
    for l in restated {
        file.push(l);
    }
    file.finish();
    curgen::write_manifest(&export, "e", period, &[old_rel]);
    let config = dir.path().join("c.toml");
    std::fs::write(&config, SMALL_CUR_CONFIG).unwrap();
    assert_eq!(workload_cost(&report_json(&config, &[]), "bot"), 9.90);
    curgen::write_manifest(&export, "e", period, &[new_rel]);
    let report = report_json(&config, &[]);
    assert_eq!(workload_cost(&report, "bot"), 13.20);
    assert_eq!(report["data"]["last_day"], "2026-11-05");
}

#[test]
fn a_bad_export_file_is_one_line_naming_it_with_a_documented_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let write_config = |path: &str| {
        std::fs::write(
            &config,
            SMALL_CUR_CONFIG.replace("path = \"export\"", &format!("path = {path:?}")),
        )
        .unwrap();
    };
    let run = || {
        let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Not there.
    write_config("nothing-here");
    let (code, stderr) = run();
    assert_eq!(code, Some(66), "{stderr}");
    assert!(stderr.contains("nothing-here"), "{stderr}");
    // A CSV that is not a CUR 2.0 export.
    std::fs::write(dir.path().join("other.csv"), "a,b\n1,2\n").unwrap();
    write_config("other.csv");
    let (code, stderr) = run();
    assert_eq!(code, Some(65), "{stderr}");
    assert!(
        stderr.contains("other.csv") && stderr.contains("line_item_usage_start_date"),
        "{stderr}"
    );
    // A monthly export: a usage line spanning the month.
    let mut lines = small_bill();
    let csv = dir.path().join("monthly.csv.gz");
    curgen::write_csv_gz(&csv, Options::ALL, &lines);
    let text = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&csv).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let monthly = text.replacen("2026-11-02T06:00:00.000Z", "2026-12-01T00:00:00.000Z", 1);
    assert_ne!(monthly, text);
    std::fs::write(dir.path().join("monthly.csv"), monthly).unwrap();
    write_config("monthly.csv");
    let (code, stderr) = run();
    assert_eq!(code, Some(65), "{stderr}");
    assert!(
        stderr.contains("monthly.csv: line 2") && stderr.contains("DAILY or HOURLY"),
        "{stderr}"
    );
    // A bill in another currency.
    std::fs::write(dir.path().join("eur.csv"), text.replace(",USD,", ",EUR,")).unwrap();
    write_config("eur.csv");
    let (code, stderr) = run();
    assert_eq!(code, Some(65), "{stderr}");
    assert!(stderr.contains("\"EUR\""), "{stderr}");
    // A cost that is not a number.
    lines[1].cost = f64::NAN;
    curgen::write_csv_gz(&csv, Options::ALL, &lines);
    write_config("monthly.csv.gz");
    let (code, stderr) = run();
    assert_eq!(code, Some(65), "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("not a number"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

/// A CUR 2.0 file's line items folded into the cost table, as `run` reads them.
fn fold(files: &[PathBuf], tag_keys: &[&str]) -> CostTable {
    use creditburn::source::lines;
    let wants = lines::Wants {
        tag_keys: tag_keys.iter().map(|k| k.to_string()).collect(),
        principal: true,
        resource: true,
    };
    let mut fold = creditburn::analyse::lines::LineFold::new(
        creditburn::model::line::ExportFormat::Cur,
        wants.tag_keys.clone(),
    );
    let mut counts = lines::ReadCounts::default();
    lines::read(
        creditburn::model::line::ExportFormat::Cur,
        files,
        &wants,
        &mut counts,
        &mut |l| fold.add(l),
    )
    .unwrap();
    fold.saw_columns(counts.principal_column, counts.resource_column);
    fold.finish().unwrap()
}

fn column_sum(table: &CostTable, from: usize, to: usize) -> f64 {
    table
        .df
        .column(table::COST)
        .unwrap()
        .f64()
        .unwrap()
        .slice(from as i64, to - from)
        .iter()
        .flatten()
        .sum()
}

fn arbitrary_line() -> impl proptest::strategy::Strategy<Value = CurLine> {
    use proptest::prelude::*;
    (
        0i64..40,
        0u32..24,
        0usize..3,
        prop_oneof![Just("Usage"), Just("Credit"), Just("Tax"), Just("Usage")],
        0usize..4,
        -50_000i64..500_000,
        proptest::option::of(0usize..3),
        proptest::option::of(0usize..3),
        any::<bool>(),
    )
        .prop_map(
            |(day, hour, account, kind, usage, cents, team, who, invoiced)| CurLine {
                day: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
                    + chrono::Duration::days(day),
                hour,
                account: format!("{:012}", 100 + account),
                account_name: format!("account {account}"),
                line_item_type: kind.into(),
                product_code: "AmazonBedrockService".into(),
                product_name: Some(["Amazon Bedrock Service", "AWS Lambda"][usage % 2].into()),
                product_family: (usage % 2 == 0).then(|| "Amazon Bedrock".into()),
                usage_type: Some(format!(
                    "USE1-Claude4.6Sonnet-{}",
                    ["input-tokens", "output-tokens"][usage / 2]
                )),
                usage_amount: (cents.abs() as f64) / 7.0,
                cost: if kind == "Credit" {
                    -(cents.abs() as f64) / 100.0
                } else {
                    cents as f64 / 100.0
                },
                principal: who.map(|w| format!("arn:aws:sts::1:assumed-role/r{w}/s")),
                resource: who.map(|w| {
                    format!("arn:aws:bedrock:us-east-1:1:application-inference-profile/p{w}")
                }),
                description: (kind == "Credit").then(|| format!("credit {}", account % 2)),
                resource_tags: team
                    .map(|t| vec![("user_team".to_string(), format!("t\"{t}'"))])
                    .unwrap_or_default(),
                invoiced,
                ..CurLine::default()
            },
        )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever the line items, the table's rows add up to them: usage to the usage,
    /// credits by name to the credits, Parquet and CSV to the same table.
    #[test]
    fn the_fold_keeps_every_dollar_whichever_file_holds_it(
        lines in proptest::collection::vec(arbitrary_line(), 1..300)
    ) {
        proptest::prop_assume!(lines.iter().any(|l| l.line_item_type == "Usage"));
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("a.snappy.parquet");
        let mut file = curgen::ParquetCur::create(&parquet, Options::ALL);
        for l in &lines {
            file.push(l.clone());
        }
        file.finish();
        let csv = dir.path().join("a.csv.gz");
        curgen::write_csv_gz(&csv, Options::ALL, &lines);

        let from_parquet = fold(&[parquet], &["team"]);
        let from_csv = fold(&[csv], &["team"]);
        proptest::prop_assert!(from_parquet.df.equals_missing(&from_csv.df));

        let t = &from_parquet;
        let usage: f64 = lines.iter().filter(|l| l.line_item_type == "Usage").map(|l| l.cost).sum();
        let all: f64 = lines.iter().map(|l| l.cost).sum();
        proptest::prop_assert!((column_sum(t, 0, t.usage_rows) - usage).abs() < 1e-6);
        proptest::prop_assert!((column_sum(t, 0, t.df.height()) - all).abs() < 1e-6);
        proptest::prop_assert!(t.df.height() <= lines.len());
        let credits: f64 = lines.iter().filter(|l| l.line_item_type == "Credit").map(|l| -l.cost).sum();
        let by_name: f64 = t.export.as_ref().unwrap().applied_credits.values().flat_map(|d| d.values()).flat_map(|s| s.values()).sum();
        proptest::prop_assert!((credits - by_name).abs() < 1e-6);
        let usage_days: Vec<chrono::NaiveDate> = lines.iter().filter(|l| l.line_item_type == "Usage").map(|l| l.day).collect();
        proptest::prop_assert_eq!(t.first_day, *usage_days.iter().min().unwrap());
        proptest::prop_assert_eq!(t.last_day, *usage_days.iter().max().unwrap());
    }
}

/// `creditburn ARGS` with nothing from the environment but `server` as the AWS service
/// whose endpoint variable is `endpoint` (AWS_ENDPOINT_URL_S3, ..._ATHENA), and test
/// credentials.
fn with_aws(
    server: &crate::aws_server::FakeCostExplorer,
    endpoint: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(args)
        .env_clear()
        .env(endpoint, &server.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap()
}

/// A command's JSON output, which must have succeeded.
fn json_of(out: std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn with_s3(server: &crate::aws_server::FakeCostExplorer, args: &[&str]) -> std::process::Output {
    with_aws(server, "AWS_ENDPOINT_URL_S3", args)
}

#[test]
fn an_export_in_s3_is_copied_once_and_reads_as_the_folder_does() {
    let dir = tempfile::tempdir().unwrap();
    // The bucket: the demo export under cur/cur-demo/, as its manifests name it.
    let bucket = dir.path().join("bucket");
    let export = bucket.join("cur/cur-demo");
    crate::support::copy_recording(&repo().join("fixtures/cur-demo"), &export);
    let server = crate::aws_server::FakeCostExplorer::start(&repo().join("fixtures/demo"));
    // Two keys a page: the six objects take three pages.
    server.set_s3("example-cur-bucket", &bucket, 2);
    let local = repo_config("cur-demo.toml", dir.path(), |t| t);
    let from_folder = comparable(report_json(&local, &[]));
    let config = repo_config("cur-demo.toml", dir.path(), |t| {
        t.replace(
            &format!("{:?}", format!("{}/fixtures/cur-demo", repo().display())),
            "\"s3://example-cur-bucket/cur/cur-demo/\"",
        )
    });
    let report = |server: &crate::aws_server::FakeCostExplorer| {
        let out = with_s3(
            server,
            &[
                "report",
                "--format",
                "json",
                "--config",
                config.to_str().unwrap(),
            ],
        );
        json_of(out)
    };
    let first = report(&server);
    assert_same(
        &from_folder,
        &comparable(first.clone()),
        "the folder's and S3's reports",
    );
    let requests = server.s3_requests();
    let count =
        |op: &str, requests: &[(String, String)]| requests.iter().filter(|(o, _)| o == op).count();
    assert_eq!(count("ListObjectsV2", &requests), 3, "{requests:?}");
    assert_eq!(
        count("GetObject", &requests),
        6,
        "three manifests, three data files: {requests:?}"
    );

    // The next run fetches the manifests again, not the data files it holds.
    report(&server);
    let again = &server.s3_requests()[requests.len()..];
    assert_eq!(count("GetObject", again), 3, "{again:?}");
    assert!(
        again
            .iter()
            .all(|(_, k)| k.ends_with("Manifest.json") || k.starts_with("cur/")),
        "{again:?}"
    );

    // check-config reads the copy without a request.
    let before = server.s3_requests().len();
    let out = with_s3(
        &server,
        &["check-config", "--config", config.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.s3_requests().len(), before);

    // A restated month whose new data file cannot be fetched: the sync stops half-way,
    // and the copy from before (its manifests too) still stands in.
    let november = export.join("data/BILLING_PERIOD=2026-11/cur-demo-00001.snappy.parquet");
    // A new modification time: the fake S3's ETag changes with it.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&november)
        .unwrap()
        .set_modified(later)
        .unwrap();
    server.s3_fail_keys("BILLING_PERIOD=2026-11/cur-demo-00001");
    let half = report(&server);
    assert_eq!(half["source"]["stale"], true, "{}", half["source"]);
    assert_same(
        &from_folder,
        &comparable(half),
        "the copy's report after a half sync",
    );
    server.s3_fail_keys("no such key");

    // S3 down: the copy stands in, and the report says the data is stale.
    server.s3_fail_next(100);
    let stale = report(&server);
    assert_eq!(stale["source"]["stale"], true);
    assert!(stale["source"]["stale_reasons"]
        .to_string()
        .contains("the export in S3"));
    assert_same(&from_folder, &comparable(stale), "the copy's report");

    // The policy the configuration needs reads exactly that export.
    let out = creditburn(&["iam-policy", "--config", config.to_str().unwrap()]);
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let read = statements
        .iter()
        .find(|s| s["Sid"] == "CreditburnExportRead")
        .unwrap();
    assert_eq!(read["Action"], serde_json::json!(["s3:GetObject"]));
    assert_eq!(
        read["Resource"],
        "arn:aws:s3:::example-cur-bucket/cur/cur-demo/*"
    );
    let list = statements
        .iter()
        .find(|s| s["Sid"] == "CreditburnExportList")
        .unwrap();
    assert_eq!(list["Resource"], "arn:aws:s3:::example-cur-bucket");
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        serde_json::json!(["cur/cur-demo/*"])
    );

    // Without a copy to fall back on, the run cannot go on: exit 69, naming the bucket.
    let fresh = tempfile::tempdir().unwrap();
    let config = repo_config("cur-demo.toml", fresh.path(), |t| {
        t.replace(
            &format!("{:?}", format!("{}/fixtures/cur-demo", repo().display())),
            "\"s3://example-cur-bucket/cur/cur-demo/\"",
        )
    });
    let out = with_s3(&server, &["report", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("s3://example-cur-bucket/cur/cur-demo/"),
        "{stderr}"
    );
}

/// `lines` as the CUR 2.0 table Athena would query (partitioned by `billing_period`),
/// in a SQLite file: maps as JSON text.
fn athena_table(file: &Path, table_name: &str, lines: &[CurLine]) {
    let db = rusqlite::Connection::open(file).unwrap();
    let quoted = table_name.replace('"', "\"\"");
    db.execute_batch(&format!(
        "CREATE TABLE \"{quoted}\" (
            bill_invoice_id TEXT, line_item_usage_start_date TEXT, line_item_usage_end_date TEXT,
            line_item_usage_account_id TEXT, line_item_usage_account_name TEXT,
            line_item_line_item_type TEXT, line_item_product_code TEXT, line_item_usage_type TEXT,
            line_item_usage_amount REAL, line_item_unblended_cost REAL, line_item_currency_code TEXT,
            line_item_line_item_description TEXT, line_item_resource_id TEXT,
            line_item_iam_principal TEXT, product_product_family TEXT, product TEXT,
            resource_tags TEXT, tags TEXT, billing_period TEXT)"
    ))
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    {
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO \"{quoted}\" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'USD', ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))
            .unwrap();
        let map = |pairs: &[(String, String)]| {
            serde_json::to_string(&pairs.iter().cloned().collect::<BTreeMap<_, _>>()).unwrap()
        };
        for l in lines {
            let start = l.day.and_hms_opt(l.hour, 0, 0).unwrap();
            let mut product = Vec::new();
            if let Some(n) = &l.product_name {
                product.push(("product_name".to_string(), n.clone()));
            }
            if let Some(m) = &l.model {
                product.push(("model".to_string(), m.clone()));
            }
            insert
                .execute(rusqlite::params![
                    l.invoiced.then(|| format!("INV-{}", l.day.format("%Y%m"))),
                    start.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                    (start + chrono::Duration::hours(1))
                        .format("%Y-%m-%d %H:%M:%S%.3f")
                        .to_string(),
                    l.account,
                    l.account_name,
                    l.line_item_type,
                    l.product_code,
                    l.usage_type,
                    l.usage_amount,
                    l.cost,
                    l.description,
                    l.resource,
                    l.principal,
                    l.product_family,
                    map(&product),
                    map(&l.resource_tags),
                    map(&l.principal_tags),
                    l.day.format("%Y-%m").to_string(),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn with_athena(
    server: &crate::aws_server::FakeCostExplorer,
    args: &[&str],
) -> std::process::Output {
    with_aws(server, "AWS_ENDPOINT_URL_ATHENA", args)
}

/// The demo config reading `database`.`table` from Athena.
fn athena_config(config_path: &Path, table: &str) -> PathBuf {
    let text = std::fs::read_to_string(config_path).unwrap();
    let start = text.find("kind = \"fixtures\"").unwrap();
    let path_line = start + text[start..].find("\npath = ").unwrap() + 1;
    let end = path_line + text[path_line..].find('\n').unwrap();
    let text = format!(
        "{}kind = \"athena\"\ndatabase = \"cur\"\ntable = {table:?}\noutput_location = \"s3://example-athena-results/creditburn/\"{}",
        &text[..start],
        &text[end..]
    );
    let out = config_path.with_file_name("athena.toml");
    std::fs::write(&out, text).unwrap();
    out
}

#[test]
fn athena_runs_the_generated_sql_and_makes_the_same_report_as_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _, table) = demo_table(dir.path());
    // The days a run needs: from the first award's start (Athena is asked for those
    // billing periods only).
    let lines: Vec<CurLine> = as_cur_lines(&table)
        .into_iter()
        .filter(|l| l.day >= chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap())
        .collect();
    let export = dir.path().join("export");
    write_parquet_export(&export, &lines);
    let cur = export_config(&config_path, "cur", &export);
    let from_files = comparable(report_json(&cur, &["--as-of", "2026-11-20"]));
    let file = dir.path().join("athena.sqlite3");
    athena_table(&file, "creditburn_cur", &lines);
    let server = crate::aws_server::FakeCostExplorer::start(&repo().join("fixtures/demo"));
    // 200 rows a page: a period's result takes several pages.
    server.set_athena("cur", &file, 200);
    let config = athena_config(&config_path, "creditburn_cur");
    let report = |server: &crate::aws_server::FakeCostExplorer| {
        let out = with_athena(
            server,
            &[
                "report",
                "--format",
                "json",
                "--as-of",
                "2026-11-20",
                "--now",
                "2026-11-21T06:00:00Z",
                "--config",
                config.to_str().unwrap(),
            ],
        );
        json_of(out)
    };
    let first = report(&server);
    assert_eq!(first["source"]["kind"], "athena");
    assert!(first["source"]["bytes_scanned"].as_u64().unwrap() > 0);
    assert_same(
        &from_files,
        &comparable(first),
        "the files' and Athena's reports",
    );
    let log = server.athena_requests();
    let started: Vec<&String> = log
        .iter()
        .filter(|(op, _)| op == "StartQueryExecution")
        .map(|(_, sql)| sql)
        .collect();
    // One query per billing period, each pruned by its partition.
    assert_eq!(started.len(), 4, "{started:?}");
    for (sql, period) in started
        .iter()
        .zip(["2026-08", "2026-09", "2026-10", "2026-11"])
    {
        assert!(
            sql.contains(&format!("WHERE billing_period = '{period}'")),
            "{sql}"
        );
    }
    assert!(
        log.iter().filter(|(op, _)| op == "GetQueryResults").count() > 5,
        "paged: {log:?}"
    );

    // The closed months (all invoiced) are kept: the next run asks for November only.
    let again = report(&server);
    let log2 = &server.athena_requests()[log.len()..];
    let started2: Vec<&String> = log2
        .iter()
        .filter(|(op, _)| op == "StartQueryExecution")
        .map(|(_, sql)| sql)
        .collect();
    assert_eq!(started2.len(), 1, "{started2:?}");
    assert!(started2[0].contains("'2026-11'"));
    assert_same(&from_files, &comparable(again), "the kept months' report");

    // A cap on what a run may scan: the first period's query reaches it, and the next
    // period, with nothing kept, cannot be read.
    let capped = config.with_file_name("capped.toml");
    std::fs::write(
        &capped,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(
                "kind = \"athena\"",
                "kind = \"athena\"\nmax_scanned_gb = 0.000001",
            )
            .replace(
                &format!("{:?}", dir.path().join("state").display().to_string()),
                &format!(
                    "{:?}",
                    dir.path().join("capped-state").display().to_string()
                ),
            ),
    )
    .unwrap();
    let before = server.athena_requests().len();
    let out = with_athena(
        &server,
        &[
            "report",
            "--as-of",
            "2026-11-20",
            "--now",
            "2026-11-21T06:00:00Z",
            "--config",
            capped.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("billing period 2026-09") && stderr.contains("max_scanned_gb"),
        "{stderr}"
    );
    let started = server.athena_requests()[before..]
        .iter()
        .filter(|(op, _)| op == "StartQueryExecution")
        .count();
    assert_eq!(started, 1);

    // The policy for this source: its workgroup's query actions and its table's catalog.
    let out = creditburn(&["iam-policy", "--config", config.to_str().unwrap()]);
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let query = statements
        .iter()
        .find(|s| s["Sid"] == "CreditburnAthenaQuery")
        .unwrap();
    assert_eq!(query["Resource"], "arn:aws:athena:*:*:workgroup/primary");
    let catalog = statements
        .iter()
        .find(|s| s["Sid"] == "CreditburnAthenaCatalog")
        .unwrap();
    assert!(catalog["Resource"]
        .to_string()
        .contains("table/cur/creditburn_cur"));
    let results = statements
        .iter()
        .find(|s| s["Sid"] == "CreditburnAthenaResults")
        .unwrap();
    assert!(results["Resource"]
        .to_string()
        .contains("arn:aws:s3:::example-athena-results/creditburn/*"));
}

#[test]
fn athena_sql_escapes_what_the_rules_say_and_a_failed_query_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = small_bill();
    // A tag key and value, and a role name, with quotes in them.
    lines[0].resource_tags = vec![("user_o'team".into(), "it's".into())];
    lines[1].principal = Some("arn:aws:sts::111122223333:assumed-role/o'bot/s1".into());
    lines[2].principal = Some("arn:aws:sts::111122223333:assumed-role/o_bot/s1".into());
    let file = dir.path().join("athena.sqlite3");
    athena_table(&file, "cur\"table", &lines);
    let server = crate::aws_server::FakeCostExplorer::start(&repo().join("fixtures/demo"));
    server.set_athena("cur", &file, 1000);
    let config = dir.path().join("c.toml");
    let text = SMALL_CUR_CONFIG
        .replace(
            "kind = \"cur\"\npath = \"export\"",
            "kind = \"athena\"\ndatabase = \"cur\"\ntable = 'cur\"table'",
        )
        .replace(
            "[[workloads]]\nname = \"bot\"\nrules = [{ iam_principal = \"arn:aws:sts::111122223333:assumed-role/bot/*\" }]",
            "[[workloads]]\nname = \"bot\"\npriority = 1\nrules = [{ tag = \"o'team=it's\" }]\n[[workloads]]\nname = \"obot\"\npriority = 2\nrules = [{ iam_principal = \"arn:aws:sts::111122223333:assumed-role/o'bot/*\" }]",
        );
    std::fs::write(&config, &text).unwrap();
    let args = [
        "report",
        "--format",
        "json",
        "--as-of",
        "2026-11-04",
        "--now",
        "2026-11-05T00:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ];
    let out = with_athena(&server, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(workload_cost(&report, "bot"), 3.30);
    // The `_` in o_bot is a character, not LIKE's wildcard: only o'bot's line is obot's.
    assert_eq!(workload_cost(&report, "obot"), 3.30);
    assert_eq!(report["data"]["unattributed"], 3.30);
    let sql = &server.athena_requests()[0].1;
    assert!(sql.contains("FROM \"cur\".\"cur\"\"table\""), "{sql}");
    assert!(sql.contains("'user_o''team'"), "{sql}");
    assert!(sql.contains("o''bot/%"), "{sql}");

    // A table that is not there: the query fails, and the run says which period and why.
    std::fs::write(
        &config,
        text.replace("table = 'cur\"table'", "table = \"missing\""),
    )
    .unwrap();
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let out = with_athena(&server, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("billing period 2026-11") && stderr.contains("missing"),
        "{stderr}"
    );
}

#[test]
fn a_bedrock_line_is_known_by_its_family_and_model_not_by_its_product_code() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    // Claude's lines as a Marketplace listing bills them: an opaque product code, and
    // (here) no product name: only the family and the model say Bedrock.
    let lines: Vec<CurLine> = small_bill()
        .into_iter()
        .map(|l| CurLine {
            product_code: "prod-5kq2xzh3b7ydw".into(),
            product_name: None,
            ..l
        })
        .collect();
    let (path, relative) = curgen::data_file(&export, "e", "2026-11", 1, "snappy.parquet");
    let mut file = curgen::ParquetCur::create(&path, Options::ALL);
    for l in lines {
        file.push(l);
    }
    file.finish();
    curgen::write_manifest(&export, "e", "2026-11", &[relative]);
    let config = dir.path().join("c.toml");
    std::fs::write(&config, SMALL_CUR_CONFIG).unwrap();
    let report = report_json(&config, &[]);
    let bot = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "bot")
        .unwrap();
    assert_eq!(bot["cost"], 9.9);
    assert_eq!(bot["by_service"][0]["service"], "Amazon Bedrock");
    assert_eq!(bot["bedrock"][0]["model"], "Claude4.6Sonnet", "{bot}");
    assert_eq!(bot["bedrock"][0]["token_kind"], "input");
}
