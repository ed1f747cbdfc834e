//! Benchmark: a large organisation on the loopback Cost Explorer. 60 workloads tagged
//! across 12 accounts and 3 regions, Claude (billed as "Amazon Bedrock Service") and Nova
//! ("Amazon Bedrock") models plus OpenSearch Serverless, S3 and Lambda, untagged EC2 and
//! RDS in every account, 13 months of daily data, served in pages of 400 groups (days
//! split across pages, as AWS does). Each Bedrock line's quantity is the tokens its
//! dollars buy at list price, as on a real bill, so the hints are priced; every fourth
//! workload is not interactive. `SCALE_PRICE_ALL=1` gives the regions the shipped price
//! table lacks (USW2, EUC1) us-east-1's prices, the advice's worst case.
//!
//!     cargo bench --bench scale
//!     cargo bench --profile dev --bench scale -- --check   # the quick check CI runs
//!
//! Prints the requests and cost of a cold backfill, the wall time and peak memory of a
//! warm run (the binary, same day: everything from the cache) and of the next day's run
//! (the open month fetched again), the cost table's rows, the memory per row (from two
//! sizes of the organisation), and checks that every award's consumed equals its tagged
//! spend to the cent. Targets: warm run under 0.5 s and under 150 MB; under 1 KB a row;
//! `run` on 1,000 awards under 5 s, `report` and `check-config` on 5,000 under 1 GB;
//! every award's consumed its tagged spend. A missed target exits 1. `--check` is the
//! quick run CI makes: a small organisation, the figures' correctness judged, times
//! printed only.
//! With `SCALE_KEEP=1` it keeps each organisation's config and cache and prints where.

#[allow(dead_code)]
#[path = "../tests/it/aws_server.rs"]
mod aws_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use serde_json::{json, Value};

const ACCOUNTS: usize = 12;
const REGIONS: [&str; 3] = ["USE1", "USW2", "EUC1"];
const CLAUDE: &str = "Amazon Bedrock Service";
const NOVA: &str = "Amazon Bedrock";
const GROUPS_PER_PAGE: usize = 400;

fn account(a: usize) -> String {
    format!("{:012}", 400_000_000_000u64 + a as u64)
}

/// A deterministic pseudo-random number in [0, 1) from a seed.
fn noise(seed: u64) -> f64 {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// One usage line: (day index, account, service, usage type, tag value, cost, quantity).
type Line = (usize, usize, &'static str, String, Option<String>, f64, f64);

/// Every usage line of the organisation over `days` days, with `workloads` workloads.
fn lines(days: usize, workloads: usize) -> Vec<Line> {
    let mut out = Vec::new();
    for d in 0..days {
        // A ramp over the year and a weekly dip.
        let trend = 1.0 + d as f64 / days as f64;
        let weekly = if d % 7 >= 5 { 0.7 } else { 1.0 };
        for w in 0..workloads {
            let a = w % ACCOUNTS;
            let region = REGIONS[a % REGIONS.len()];
            let tag = Some(format!("w{w:02}"));
            let scale = trend * weekly * (0.5 + noise((d * 1000 + w) as u64));
            // (service, usage type, dollars a day, list price per 1K tokens): the bill's
            // quantity is the tokens those dollars buy at list, as on a real bill.
            let bedrock: &[(&'static str, &str, f64, f64)] = if w % 2 == 0 {
                &[
                    (CLAUDE, "Claude4.6Sonnet-input-tokens", 40.0, 0.0033),
                    (CLAUDE, "Claude4.6Sonnet-output-tokens", 60.0, 0.0165),
                    (
                        CLAUDE,
                        "Claude4.6Sonnet-cache-read-input-token-count",
                        4.0,
                        0.00033,
                    ),
                ]
            } else {
                &[
                    (NOVA, "NovaLite-input-tokens", 3.0, 0.00006),
                    (NOVA, "NovaLite-output-tokens", 5.0, 0.00024),
                ]
            };
            let support: [(&'static str, &str, f64, f64); 3] = [
                ("Amazon OpenSearch Service", "SearchOCU", 11.52, 0.24),
                (
                    "Amazon Simple Storage Service",
                    "TimedStorage-ByteHrs",
                    0.9,
                    0.00077,
                ),
                ("AWS Lambda", "Lambda-GB-Second", 1.7, 0.0000167),
            ];
            for (service, kind, base, per_unit) in bedrock.iter().chain(support.iter()) {
                let cost = base * scale;
                out.push((
                    d,
                    a,
                    *service,
                    format!("{region}-{kind}"),
                    tag.clone(),
                    cost,
                    cost / per_unit,
                ));
            }
        }
        for a in 0..ACCOUNTS {
            let region = REGIONS[a % REGIONS.len()];
            for (service, kind, cost) in [
                (
                    "Amazon Elastic Compute Cloud - Compute",
                    "BoxUsage:c7g.2xlarge",
                    55.0,
                ),
                (
                    "Amazon Relational Database Service",
                    "Multi-AZUsage:db.r6g.2xl",
                    43.0,
                ),
            ] {
                out.push((d, a, service, format!("{region}-{kind}"), None, cost, 24.0));
            }
        }
    }
    out
}

fn metrics(cost: f64, quantity: f64) -> Value {
    json!({
        "UnblendedCost": {"Amount": format!("{cost:.10}"), "Unit": "USD"},
        "UsageQuantity": {"Amount": format!("{quantity:.6}"), "Unit": "N/A"},
    })
}

/// Writes the organisation as a recording the loopback server loads (one page a query:
/// the server paginates by itself). Returns each workload's tagged spend per day.
fn write_org(dir: &Path, first: NaiveDate, days: usize, workloads: usize) -> Vec<Vec<f64>> {
    let all = lines(days, workloads);
    let mut tagged = vec![vec![0.0; days]; workloads];
    // (day, key0, usage type) -> (cost, quantity), per slice.
    type Slice = BTreeMap<(usize, String, String), (f64, f64)>;
    let (mut by_service, mut by_account, mut by_tag) = (Slice::new(), Slice::new(), Slice::new());
    let mut credits = Slice::new();
    for (d, a, service, usage_type, tag, cost, quantity) in &all {
        let add = |slice: &mut Slice, key: String| {
            let e = slice
                .entry((*d, key, usage_type.clone()))
                .or_insert((0.0, 0.0));
            e.0 += cost;
            e.1 += quantity;
        };
        add(&mut by_service, service.to_string());
        add(&mut by_account, account(*a));
        add(
            &mut by_tag,
            format!("workload${}", tag.clone().unwrap_or_default()),
        );
        if let Some(t) = tag {
            let w: usize = t[1..].parse().unwrap();
            tagged[w][*d] += cost;
        }
        let e = credits
            .entry((*d, "Credit".into(), service.to_string()))
            .or_insert((0.0, 0.0));
        e.0 -= cost * 0.8;
    }
    let usage_filter = json!({"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}});
    let queries = [
        (
            "usage-by-service",
            json!([{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]),
            usage_filter.clone(),
            &by_service,
        ),
        (
            "usage-by-account",
            json!([{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]),
            usage_filter.clone(),
            &by_account,
        ),
        (
            "usage-by-tag-workload",
            json!([{"Type": "TAG", "Key": "workload"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]),
            usage_filter.clone(),
            &by_tag,
        ),
        (
            "other-by-record-type",
            json!([{"Type": "DIMENSION", "Key": "RECORD_TYPE"}, {"Type": "DIMENSION", "Key": "SERVICE"}]),
            json!({"Not": usage_filter}),
            &credits,
        ),
    ];
    let last = first + chrono::Days::new(days as u64);
    let mut exchanges = Vec::new();
    for (name, group_by, filter, slice) in queries {
        let mut results = Vec::new();
        for d in 0..days {
            let day = first + chrono::Days::new(d as u64);
            let groups: Vec<Value> = slice
                .range((d, String::new(), String::new())..(d + 1, String::new(), String::new()))
                .map(|((_, k, u), (c, q))| json!({"Keys": [k, u], "Metrics": metrics(*c, *q)}))
                .collect();
            results.push(json!({
                "TimePeriod": {"Start": day.to_string(), "End": day.succ_opt().unwrap().to_string()},
                "Total": {}, "Groups": groups, "Estimated": false,
            }));
        }
        let body = json!({"GroupDefinitions": group_by, "ResultsByTime": results, "DimensionValueAttributes": []});
        let file = format!("{name}.json");
        std::fs::write(dir.join(&file), body.to_string()).unwrap();
        exchanges.push(json!({
            "query": name,
            "request": {
                "TimePeriod": {"Start": first.to_string(), "End": last.to_string()},
                "Granularity": "DAILY",
                "Metrics": ["UnblendedCost", "UsageQuantity"],
                "Filter": filter,
                "GroupBy": group_by,
            },
            "response": file,
        }));
    }
    let manifest = json!({"format": "creditburn-recording/1", "operation": "GetCostAndUsage", "exchanges": exchanges});
    std::fs::write(dir.join("recording.json"), manifest.to_string()).unwrap();
    tagged
}

fn config_text(state: &Path, first: NaiveDate, workloads: usize) -> String {
    let mut t = format!(
        "[source]\nkind = \"aws\"\nmax_attempts = 2\n[state]\npath = {:?}\n[email]\nfrom = \"cb@example.com\"\noutbox = {:?}\n\
         [alerts]\nrecipients = [\"finance@example.com\"]\n",
        state.join("state").display().to_string(),
        state.join("outbox").display().to_string()
    );
    // With SCALE_PRICE_ALL=1, the regions the shipped table does not price (USW2,
    // EUC1) get us-east-1's prices from a table of the organisation's own, so every
    // workload's models are priced and every lever drawn: the advice's worst case.
    if std::env::var_os("SCALE_PRICE_ALL").is_some() {
        let mut own = String::from("format = \"creditburn-prices/1\"\n");
        for (k, p) in creditburn::pricing::PriceTable::shipped().prices() {
            if k.region != "USE1" {
                continue;
            }
            own.push_str(&format!(
                "[[prices]]\nbill_name = {:?}\nregions = [\"USW2\", \"EUC1\"]\ntier = {:?}\nroute = {:?}\nunit = {:?}\n{} = {:?}\nsource = \"scale bench: us-east-1's price\"\nchecked = \"2026-12-01\"\n",
                k.bill_name,
                k.tier.as_str(),
                k.route.as_str(),
                p.unit.as_str(),
                k.kind.as_str(),
                p.per_million
            ));
        }
        std::fs::write(state.join("prices.toml"), own).unwrap();
        t.push_str("[pricing]\ntable = \"prices.toml\"\n");
    }
    for w in 0..workloads {
        // Every fourth workload is batch-shaped: nobody waits for its calls.
        t.push_str(&format!(
            "[[workloads]]\nname = \"w{w:02}\"\npriority = {w}\ninteractive = {}\nrules = [{{ tag = \"workload=w{w:02}\" }}]\n",
            w % 4 != 3
        ));
    }
    for w in 0..workloads {
        t.push_str(&format!(
            "[[awards]]\nid = \"award-w{w:02}\"\nprogram = \"bedrock_poc\"\namount = 500000\nstart = \"{first}\"\nexpiry = \"2027-06-30\"\nworkloads = [\"w{w:02}\"]\n"
        ));
    }
    t
}

/// Starts `program` from a small Python process and reports its own wall time and peak
/// memory: a child forked straight from this benchmark would inherit the benchmark's
/// peak (Linux keeps the largest RSS the process ever had, across exec), which holds the
/// whole organisation. The time runs from the fork to the exit, so the interpreter's own
/// start (tens of milliseconds) is not counted as creditburn's.
const PEAK_WRAPPER: &str = "import os, sys, time\n\
started = time.monotonic()\n\
pid = os.fork()\n\
if pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n\
_, status, usage = os.wait4(pid, 0)\n\
sys.stderr.write('wall-s %.6f\\n' % (time.monotonic() - started))\n\
sys.stderr.write('peak-kb %d\\n' % usage.ru_maxrss)\n\
sys.exit(os.waitstatus_to_exitcode(status))\n";

/// Runs `creditburn report --format json` against `server`: (report, stderr, wall
/// seconds, peak resident memory in MB).
fn report(
    server: &aws_server::FakeCostExplorer,
    config: &Path,
    now: &str,
) -> (Value, String, f64, f64) {
    let (out, err, seconds, mb) = timed(server, config, now, &["report", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out).unwrap();
    (report, err, seconds, mb)
}

/// Runs `creditburn ARGS --as-of 2026-11-30 --now NOW --config CONFIG` against
/// `server`: (stdout, stderr, wall seconds, peak resident memory in MB).
fn timed(
    server: &aws_server::FakeCostExplorer,
    config: &Path,
    now: &str,
    args: &[&str],
) -> (Vec<u8>, String, f64, f64) {
    let out = Command::new("python3")
        .args(["-c", PEAK_WRAPPER, env!("CARGO_BIN_EXE_creditburn")])
        .args(args)
        .args(["--as-of", "2026-11-30", "--now", now])
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("AWS_ENDPOINT_URL_COST_EXPLORER", &server.url)
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .expect("python3 runs creditburn");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "creditburn failed: {err}");
    // The binary's own wall time, from its fork to its exit: not the wrapper's start.
    let seconds: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("wall-s "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the wrapper reports the wall time");
    let peak_kb: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-kb "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the wrapper reports the peak");
    (out.stdout, err, seconds, peak_kb / 1024.0)
}

/// The targets a run judges, and those it missed: any missed, the bench exits 1.
#[derive(Default)]
struct Targets {
    missed: Vec<String>,
}

impl Targets {
    /// "met" or "MISSED", remembering a miss.
    fn judge(&mut self, name: &str, met: bool) -> &'static str {
        if met {
            "met"
        } else {
            self.missed.push(name.to_string());
            "MISSED"
        }
    }

    fn finish(self) {
        if !self.missed.is_empty() {
            println!("MISSED: {}", self.missed.join(", "));
            std::process::exit(1);
        }
    }
}

/// Many awards on a smaller organisation (30 workloads, 60 days): by default `run` with
/// 1,000 of them (every one at risk, so every one an email with its chart), `report` and
/// `check-config` with 5,000. Each award is stacked on a workload with an expiry of its
/// own. Prints the wall time and peak memory of each against its target; `timing`
/// false (the quick check, whatever the build) prints them without judging.
fn awards_scale(targets: &mut Targets, sizes: [usize; 2], timing: bool) {
    let (workloads, days) = (30, 60);
    let first = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap() - chrono::Days::new(days as u64 - 1);
    let data = tempfile::tempdir().unwrap();
    write_org(data.path(), first, days, workloads);
    let server = aws_server::FakeCostExplorer::with_page_size(data.path(), Some(GROUPS_PER_PAGE));
    for (awards, command, seconds_target, mb_target) in [
        (sizes[0], "run", Some(5.0), None),
        (sizes[1], "report", None, Some(1024.0)),
        (sizes[1], "check-config", None, Some(1024.0)),
    ] {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("creditburn.toml");
        let mut text = config_text(work.path(), first, workloads);
        for i in workloads..awards {
            let expiry = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
                + chrono::Days::new((i / workloads) as u64);
            text.push_str(&format!(
                "[[awards]]\nid = \"extra-{i:05}\"\nprogram = \"other\"\namount = 50000\nstart = \"{first}\"\nexpiry = \"{expiry}\"\nworkloads = [\"w{:02}\"]\n",
                i % workloads
            ));
        }
        std::fs::write(&config, text).unwrap();
        // The cache filled first: the figures are the command's own.
        report(&server, &config, "2026-12-01T08:00:00Z");
        let args: &[&str] = match command {
            "report" => &["report", "--format", "json"],
            other => &[other],
        };
        let (_, _, seconds, mb) = timed(&server, &config, "2026-12-01T09:00:00Z", args);
        let name = format!("{command} with {awards} awards");
        let mut line = format!("{name}: {seconds:.2} s, peak {mb:.0} MB");
        if let Some(t) = seconds_target.filter(|_| timing) {
            line.push_str(&format!(
                "   target: < {t} s {}",
                targets.judge(&name, seconds < t)
            ));
        }
        if let Some(t) = mb_target.filter(|_| timing) {
            line.push_str(&format!(
                "   target: < {t:.0} MB {}",
                targets.judge(&name, mb < t)
            ));
        }
        println!("{line}");
    }
}

fn rows(stderr: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("cost table: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Builds an organisation of `workloads` workloads over `days` days; returns the cold,
/// warm and next-day runs.
fn measure(workloads: usize, days: usize) -> Measured {
    let first = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap() - chrono::Days::new(days as u64 - 1);
    let data = tempfile::tempdir().unwrap();
    let tagged = write_org(data.path(), first, days, workloads);
    let server = aws_server::FakeCostExplorer::with_page_size(data.path(), Some(GROUPS_PER_PAGE));
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("creditburn.toml");
    std::fs::write(&config, config_text(work.path(), first, workloads)).unwrap();

    let (cold, cold_err, cold_s, cold_mb) = report(&server, &config, "2026-12-01T08:00:00Z");
    let (warm, warm_err, warm_s, warm_mb) = report(&server, &config, "2026-12-01T09:00:00Z");
    let (next, _, next_s, next_mb) = report(&server, &config, "2026-12-02T08:00:00Z");
    // SCALE_KEEP=1 keeps the organisation's config and cache, to profile a warm run.
    if std::env::var_os("SCALE_KEEP").is_some() {
        let kept = work.keep();
        eprintln!(
            "kept {workloads} workloads: {}",
            kept.join("creditburn.toml").display()
        );
    }
    // Every award's consumed equals its workload's tagged spend, to the cent.
    let mut mismatches = 0;
    for (w, spend) in tagged.iter().enumerate() {
        let want = (spend.iter().sum::<f64>() * 100.0).round() / 100.0;
        let id = format!("award-w{w:02}");
        for r in [&cold, &warm, &next] {
            let got = r["awards"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == id.as_str())
                .and_then(|a| a["consumed"].as_f64())
                .unwrap();
            if (got - want).abs() > 0.005 {
                mismatches += 1;
                eprintln!("{id}: consumed {got}, tagged spend {want}");
            }
        }
    }
    assert_eq!(warm["source"]["requests"], 0, "{warm_err}");
    Measured {
        rows: rows(&warm_err),
        cold_requests: cold["source"]["requests"].as_u64().unwrap(),
        cold_seconds: cold_s,
        cold_mb,
        warm_seconds: warm_s,
        warm_mb,
        next_requests: next["source"]["requests"].as_u64().unwrap(),
        next_seconds: next_s,
        next_mb,
        mismatches,
        usage_total: warm["data"]["usage_total"].as_f64().unwrap(),
        approximated: warm["data"]["approximated"].as_f64().unwrap(),
        stale: cold_err.contains("STALE") || cold["source"]["stale"] == true,
    }
}

struct Measured {
    rows: f64,
    cold_requests: u64,
    cold_seconds: f64,
    cold_mb: f64,
    warm_seconds: f64,
    warm_mb: f64,
    next_requests: u64,
    next_seconds: f64,
    next_mb: f64,
    mismatches: usize,
    usage_total: f64,
    approximated: f64,
    stale: bool,
}

fn main() {
    let mut targets = Targets::default();
    if std::env::args().any(|a| a == "--check") {
        check(&mut targets);
    } else {
        full(&mut targets);
    }
    targets.finish();
}

/// `--check`, the quick run CI makes (in any build): a small organisation (12 workloads,
/// 60 days) whose every award's consumed must equal its tagged spend to the cent over a
/// cold, a warm and a next-day run, and the awards commands at 200 and 500 awards. Its
/// times and memory are printed, not judged: CI's debug build and shared machine say
/// nothing of the release binary's.
fn check(targets: &mut Targets) {
    let m = measure(12, 60);
    println!(
        "check: 12 workloads, 60 days: {:.0} rows, cold {} requests, warm {:.2} s, next day {} requests",
        m.rows, m.cold_requests, m.warm_seconds, m.next_requests
    );
    println!(
        "awards whose consumed differs from their tagged spend by a cent or more: {} of {} (3 runs each)   target: none {}",
        m.mismatches,
        12 * 3,
        targets.judge("consumed equals tagged spend", m.mismatches == 0)
    );
    println!(
        "data stale on the cold run: {}   target: no {}",
        m.stale,
        targets.judge("fresh data", !m.stale)
    );
    awards_scale(targets, [200, 500], false);
}

fn full(targets: &mut Targets) {
    let days = 395; // 2025-11-01 to 2026-11-30: the 13 months Cost Explorer looks back
    println!(
        "large organisation: 60 workloads tagged across {ACCOUNTS} accounts and {} regions, {days} days, pages of {GROUPS_PER_PAGE} groups",
        REGIONS.len()
    );
    let small = measure(30, days);
    let full = measure(60, days);
    println!("cost table: {:.0} rows (usage {:.2} USD, of which {:.2} split in proportion between accounts and tags)", full.rows, full.usage_total, full.approximated);
    println!(
        "cold backfill: {} requests (${:.2}), {:.2} s, peak {:.0} MB{}",
        full.cold_requests,
        full.cold_requests as f64 * 0.01,
        full.cold_seconds,
        full.cold_mb,
        if full.stale { " (STALE)" } else { "" }
    );
    println!(
        "warm run (same day, all from the cache): {:.3} s, peak {:.1} MB   targets: < 0.5 s {}, < 150 MB {}",
        full.warm_seconds,
        full.warm_mb,
        targets.judge("warm run time", full.warm_seconds < 0.5),
        targets.judge("warm run memory", full.warm_mb < 150.0)
    );
    println!(
        "next day's run ({} requests, the open month again): {:.3} s, peak {:.1} MB",
        full.next_requests, full.next_seconds, full.next_mb
    );
    let per_row = (full.warm_mb - small.warm_mb) * 1024.0 * 1024.0 / (full.rows - small.rows);
    println!(
        "memory per cost row: {:.0} bytes (warm peak {:.1} MB at {:.0} rows, {:.1} MB at {:.0} rows)   target: < 1 KB {}",
        per_row,
        small.warm_mb,
        small.rows,
        full.warm_mb,
        full.rows,
        targets.judge("memory per row", per_row < 1024.0)
    );
    let mismatches = full.mismatches + small.mismatches;
    println!(
        "awards whose consumed differs from their tagged spend by a cent or more: {} of {} (3 runs each)   target: none {}",
        mismatches,
        (60 + 30) * 3,
        targets.judge("consumed equals tagged spend", mismatches == 0)
    );
    awards_scale(targets, [1_000, 5_000], true);
}
