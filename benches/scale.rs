//! Benchmark: large organisations on the loopback Cost Explorer, 13 months of daily data
//! served in pages of 400 groups (days split across pages, as AWS does), drawn from one
//! parametrised family (`Org`):
//!
//! - `tagged`: 60 workloads tagged across 12 accounts and 3 regions, 5 or 6 usage types
//!   each: Claude (billed as "Amazon Bedrock Service") or Nova ("Amazon Bedrock") plus
//!   OpenSearch Serverless, S3 and Lambda; untagged EC2 and RDS in every account; rules
//!   by tag only.
//! - `per-account`: 60 workloads, each in one of 12 accounts, 21 usage types a workload
//!   (5 Bedrock, 16 from a pool of 20 support usage types, so each is shared by about 20
//!   workloads across the accounts of a region; about 500,000 line items a year), and a
//!   platform workload matched by its account (untagged spend there, some in the same
//!   usage types as the tagged): rules by tag and by account, so the plan asks for the
//!   tag with the account too.
//! - `per-account-240`: the same shape with 240 workloads across 48 accounts, to show
//!   how time and memory grow.
//!
//! Each Bedrock line's quantity is the tokens its dollars buy at list price, as on a real
//! bill, so the hints are priced; every fourth workload is not interactive.
//! `SCALE_PRICE_ALL=1` gives the regions the shipped price table lacks (USW2, EUC1)
//! us-east-1's prices, the advice's worst case.
//!
//!     cargo bench --bench scale
//!     cargo bench --profile dev --bench scale -- --check   # the quick check CI runs
//!
//! Prints, per organisation: the cost table's rows against the bill's distinct cells,
//! the dollars approximated, the requests, time and peak memory of a cold backfill, the
//! wall time and peak memory of a warm run (the binary, same day: everything from the
//! cache) and of the next day's run (the open month fetched again), and checks that
//! every award's consumed equals its workload's spend to the cent; then the growth from
//! 60 to 240 workloads per thousand cells. Targets: rows at most 1.2x the bill's cells;
//! nothing approximated (every tag value here sits in one account, and the joint slices
//! settle the usage types several services bill); cold backfill under
//! 400 MB; warm run under 0.5 s and under 150 MB (the 60-workload organisations); under
//! 1 KB a row; `run` on 1,000 awards under 5 s, `report` and `check-config` on 5,000
//! under 1 GB; every award's consumed its workload's spend. A missed target exits 1.
//! `--check` is the quick run CI makes: both shapes small, their figures judged, times
//! printed only. With `SCALE_KEEP=1` it keeps each organisation's config and cache and
//! prints where; `SCALE_ORGS=tagged,per-account` measures only those organisations
//! (without the growth, per-row and awards figures unless both per-account sizes run).

#[allow(dead_code)]
#[path = "../tests/it/aws_server.rs"]
mod aws_server;
#[path = "support/peak.rs"]
mod peak;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use serde_json::{json, Value};

const REGIONS: [&str; 3] = ["USE1", "USW2", "EUC1"];
const CLAUDE: &str = "Amazon Bedrock Service";
const NOVA: &str = "Amazon Bedrock";
const GROUPS_PER_PAGE: usize = 400;

/// An organisation's shape, the family the bench draws from.
#[derive(Debug, Clone, Copy)]
struct Org {
    name: &'static str,
    workloads: usize,
    /// Workload `w` runs in account `w % accounts`, in that account's region.
    accounts: usize,
    /// 21 usage types a workload (5 Bedrock, 16 of a shared pool of support services)
    /// rather than the 5 or 6 of the first organisation.
    wide: bool,
    /// A platform workload matched by its account (the first): untagged EC2, RDS and
    /// support services there are its, so the rules name accounts as well as tags.
    platform: bool,
}

/// The first organisation: 60 workloads tagged across 12 accounts, rules by tag only.
const TAGGED: Org = Org {
    name: "tagged",
    workloads: 60,
    accounts: 12,
    wide: false,
    platform: false,
};

/// A workload per account and a platform account: 21 usage types a workload, each
/// support usage type shared by about 20 workloads across the accounts of its region;
/// rules by tag and by account.
const PER_ACCOUNT: Org = Org {
    name: "per-account",
    workloads: 60,
    accounts: 12,
    wide: true,
    platform: true,
};

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

/// (service, usage type, dollars a day, list price per unit): the bill's quantity is
/// what those dollars buy at list, as on a real bill.
type Kind = (&'static str, &'static str, f64, f64);

const CLAUDE_KINDS: [Kind; 5] = [
    (CLAUDE, "Claude4.6Sonnet-input-tokens", 40.0, 0.0033),
    (CLAUDE, "Claude4.6Sonnet-output-tokens", 60.0, 0.0165),
    (
        CLAUDE,
        "Claude4.6Sonnet-cache-read-input-token-count",
        4.0,
        0.00033,
    ),
    (CLAUDE, "Claude4.5Haiku-input-tokens", 6.0, 0.0011),
    (CLAUDE, "Claude4.5Haiku-output-tokens", 9.0, 0.0055),
];
const NOVA_KINDS: [Kind; 5] = [
    (NOVA, "NovaLite-input-tokens", 3.0, 0.00006),
    (NOVA, "NovaLite-output-tokens", 5.0, 0.00024),
    (NOVA, "NovaPro-input-tokens", 8.0, 0.0008),
    (NOVA, "NovaPro-output-tokens", 12.0, 0.0032),
    (NOVA, "TitanEmbeddingsV2-Text-input-tokens", 1.0, 0.00002),
];
/// A narrow workload's support usage types: OpenSearch, S3 storage, Lambda (of `POOL`).
const SUPPORT: [usize; 3] = [0, 2, 5];
/// The shared pool a wide workload's 16 support usage types come from.
const POOL: [Kind; 20] = [
    ("Amazon OpenSearch Service", "SearchOCU", 11.52, 0.24),
    ("Amazon OpenSearch Service", "IndexingOCU", 5.76, 0.24),
    (
        "Amazon Simple Storage Service",
        "TimedStorage-ByteHrs",
        0.9,
        0.00077,
    ),
    (
        "Amazon Simple Storage Service",
        "Requests-Tier1",
        0.4,
        0.000005,
    ),
    (
        "Amazon Simple Storage Service",
        "Requests-Tier2",
        0.1,
        0.0000004,
    ),
    ("AWS Lambda", "Lambda-GB-Second", 1.7, 0.0000167),
    ("AWS Lambda", "Request", 0.3, 0.0000002),
    ("Amazon DynamoDB", "ReadRequestUnits", 0.6, 0.00000025),
    ("Amazon DynamoDB", "WriteRequestUnits", 0.8, 0.00000125),
    ("Amazon DynamoDB", "TimedStorage-ByteHrs", 0.2, 0.00034),
    ("AmazonCloudWatch", "DataProcessing-Bytes", 0.7, 0.5),
    ("AmazonCloudWatch", "TimedStorage-ByteHrs", 0.1, 0.03),
    (
        "Amazon Simple Queue Service",
        "Requests-RBP",
        0.2,
        0.0000004,
    ),
    ("AWS Step Functions", "StateTransition", 0.5, 0.000025),
    ("Amazon API Gateway", "ApiGatewayRequest", 0.9, 0.0000035),
    ("AWS Key Management Service", "KMS-Requests", 0.1, 0.000003),
    (
        "Amazon Elastic Container Service",
        "Fargate-vCPU-Hours:perCPU",
        2.4,
        0.04,
    ),
    (
        "Amazon Elastic Container Service",
        "Fargate-GB-Hours",
        0.5,
        0.0044,
    ),
    (
        "AWS Secrets Manager",
        "AWSSecretsManager-Secrets",
        0.05,
        0.0133,
    ),
    (
        "Amazon Virtual Private Cloud",
        "NatGateway-Hours",
        1.1,
        0.045,
    ),
];

/// The usage types of workload `w` in `org`.
fn kinds(org: &Org, w: usize) -> Vec<Kind> {
    let bedrock: &[Kind] = match (org.wide, w.is_multiple_of(2)) {
        (false, true) => &CLAUDE_KINDS[..3],
        (false, false) => &NOVA_KINDS[..2],
        (true, true) => &CLAUDE_KINDS,
        (true, false) => &NOVA_KINDS,
    };
    let mut out = bedrock.to_vec();
    if org.wide {
        out.extend((0..16).map(|j| POOL[(w * 7 + j) % POOL.len()]));
    } else {
        out.extend(SUPPORT.map(|i| POOL[i]));
    }
    out
}

/// Every usage line of `org` over `days` days.
fn lines(days: usize, org: &Org) -> Vec<Line> {
    let mut out = Vec::new();
    for d in 0..days {
        // A ramp over the year and a weekly dip.
        let trend = 1.0 + d as f64 / days as f64;
        let weekly = if d % 7 >= 5 { 0.7 } else { 1.0 };
        for w in 0..org.workloads {
            let a = w % org.accounts;
            let region = REGIONS[a % REGIONS.len()];
            let tag = Some(format!("w{w:03}"));
            let scale = trend * weekly * (0.5 + noise((d * 1000 + w) as u64));
            for (service, kind, base, per_unit) in kinds(org, w) {
                let cost = base * scale;
                out.push((
                    d,
                    a,
                    service,
                    format!("{region}-{kind}"),
                    tag.clone(),
                    cost,
                    cost / per_unit,
                ));
            }
        }
        for a in 0..org.accounts {
            let region = REGIONS[a % REGIONS.len()];
            let mut untagged = vec![
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
            ];
            // The platform account's own share of the support services its workloads
            // use too: untagged beside their tagged lines, in one account.
            if org.platform && a == 0 {
                untagged.extend(POOL[..4].iter().map(|(s, k, c, _)| (*s, *k, *c)));
            }
            for (service, kind, cost) in untagged {
                let cost = cost * (0.9 + 0.2 * noise((d * 7919 + a) as u64));
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

/// What `write_org` wrote: each award's workload's spend (the tagged spend of each
/// workload, then the platform's untagged spend in its account), and the bill's
/// distinct cells (day, account, service, usage type, tag; and credit groups).
struct Written {
    spend: Vec<(String, f64)>,
    cells: usize,
    /// The dollars of the usage types several services bill on the same day (S3,
    /// DynamoDB and CloudWatch all bill TimedStorage-ByteHrs): the cells only the joint
    /// slices' amounts settle.
    shared: f64,
}

/// Writes the organisation as a recording the loopback server loads (one page a query:
/// the server paginates by itself).
fn write_org(dir: &Path, first: NaiveDate, days: usize, org: &Org) -> Written {
    let all = lines(days, org);
    let mut spend = vec![0.0; org.workloads + 1];
    // (day, key0, key1) -> (cost, quantity), per slice.
    type Slice = BTreeMap<(usize, String, String), (f64, f64)>;
    let (mut by_service, mut by_account, mut by_tag) = (Slice::new(), Slice::new(), Slice::new());
    let (mut joint, mut credits) = (Slice::new(), Slice::new());
    let mut tag_service = Slice::new();
    let mut cells = std::collections::BTreeSet::new();
    for (d, a, service, usage_type, tag, cost, quantity) in &all {
        cells.insert((*d, *a, *service, usage_type.as_str(), tag.as_deref()));
        let add = |slice: &mut Slice, key: String, second: &str| {
            let e = slice
                .entry((*d, key, second.to_string()))
                .or_insert((0.0, 0.0));
            e.0 += cost;
            e.1 += quantity;
        };
        let tag_key = format!("workload${}", tag.clone().unwrap_or_default());
        add(&mut by_service, service.to_string(), usage_type);
        add(&mut by_account, account(*a), usage_type);
        add(&mut by_tag, tag_key.clone(), usage_type);
        add(&mut tag_service, tag_key.clone(), service);
        add(&mut joint, tag_key, &account(*a));
        match tag {
            Some(t) => spend[t[1..].parse::<usize>().unwrap()] += cost,
            None if org.platform && *a == 0 => spend[org.workloads] += cost,
            None => {}
        }
        let e = credits
            .entry((*d, "Credit".into(), service.to_string()))
            .or_insert((0.0, 0.0));
        e.0 -= cost * 0.8;
    }
    let credit_cells = credits.len();
    let mut services_of: BTreeMap<(usize, &str), std::collections::BTreeSet<&str>> =
        BTreeMap::new();
    for (d, _, service, usage_type, ..) in &all {
        services_of
            .entry((*d, usage_type.as_str()))
            .or_default()
            .insert(service);
    }
    let shared: f64 = all
        .iter()
        .filter(|l| services_of[&(l.0, l.3.as_str())].len() > 1)
        .map(|l| l.5)
        .fold(0.0, |a, b| a + b);
    let usage_filter = json!({"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}});
    let mut queries = vec![
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
    // The tag with the service, and (when the rules name an account and a tag) with the
    // account: the joints the plan asks for.
    queries.insert(
        3,
        (
            "usage-by-service-and-tag-workload",
            json!([{"Type": "TAG", "Key": "workload"}, {"Type": "DIMENSION", "Key": "SERVICE"}]),
            usage_filter.clone(),
            &tag_service,
        ),
    );
    if org.platform {
        queries.push((
            "usage-by-account-and-tag-workload",
            json!([{"Type": "TAG", "Key": "workload"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]),
            usage_filter.clone(),
            &joint,
        ));
    }
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
    let mut named: Vec<(String, f64)> = (0..org.workloads)
        .map(|w| (format!("award-w{w:03}"), spend[w]))
        .collect();
    if org.platform {
        named.push(("award-platform".to_string(), spend[org.workloads]));
    }
    Written {
        spend: named,
        cells: cells.len() + credit_cells,
        shared,
    }
}

fn config_text(state: &Path, first: NaiveDate, org: &Org) -> String {
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
    for w in 0..org.workloads {
        // Every fourth workload is batch-shaped: nobody waits for its calls.
        t.push_str(&format!(
            "[[workloads]]\nname = \"w{w:03}\"\npriority = {w}\ninteractive = {}\nrules = [{{ tag = \"workload=w{w:03}\" }}]\n",
            w % 4 != 3
        ));
    }
    if org.platform {
        // After every tagged workload: the platform account's untagged lines.
        t.push_str(&format!(
            "[[workloads]]\nname = \"platform\"\npriority = {}\nrules = [{{ account = \"{}\" }}]\n",
            org.workloads,
            account(0)
        ));
        t.push_str(&format!(
            "[[awards]]\nid = \"award-platform\"\nprogram = \"activate_portfolio\"\namount = 5000000\nstart = \"{first}\"\nexpiry = \"2027-06-30\"\nworkloads = [\"platform\"]\n"
        ));
    }
    for w in 0..org.workloads {
        t.push_str(&format!(
            "[[awards]]\nid = \"award-w{w:03}\"\nprogram = \"bedrock_poc\"\namount = 500000\nstart = \"{first}\"\nexpiry = \"2027-06-30\"\nworkloads = [\"w{w:03}\"]\n"
        ));
    }
    t
}

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
        .args(["-c", peak::PEAK_WRAPPER, env!("CARGO_BIN_EXE_creditburn")])
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
    let (seconds, mb) = peak::wall_and_peak(&err);
    (out.stdout, err, seconds, mb)
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
    let org = Org {
        workloads: 30,
        ..TAGGED
    };
    let (workloads, days) = (org.workloads, 60);
    let first = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap() - chrono::Days::new(days as u64 - 1);
    let data = tempfile::tempdir().unwrap();
    write_org(data.path(), first, days, &org);
    let server = aws_server::FakeCostExplorer::with_page_size(data.path(), Some(GROUPS_PER_PAGE));
    for (awards, command, seconds_target, mb_target) in [
        (sizes[0], "run", Some(5.0), None),
        (sizes[1], "report", None, Some(1024.0)),
        (sizes[1], "check-config", None, Some(1024.0)),
    ] {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("creditburn.toml");
        let mut text = config_text(work.path(), first, &org);
        for i in workloads..awards {
            let expiry = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
                + chrono::Days::new((i / workloads) as u64);
            text.push_str(&format!(
                "[[awards]]\nid = \"extra-{i:05}\"\nprogram = \"other\"\namount = 50000\nstart = \"{first}\"\nexpiry = \"{expiry}\"\nworkloads = [\"w{:03}\"]\n",
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

/// Builds `org` over `days` days; returns the cold, warm and next-day runs.
fn measure(org: &Org, days: usize) -> Measured {
    let first = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap() - chrono::Days::new(days as u64 - 1);
    let data = tempfile::tempdir().unwrap();
    let written = write_org(data.path(), first, days, org);
    let server = aws_server::FakeCostExplorer::with_page_size(data.path(), Some(GROUPS_PER_PAGE));
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("creditburn.toml");
    std::fs::write(&config, config_text(work.path(), first, org)).unwrap();

    let (cold, cold_err, cold_s, cold_mb) = report(&server, &config, "2026-12-01T08:00:00Z");
    let (warm, warm_err, warm_s, warm_mb) = report(&server, &config, "2026-12-01T09:00:00Z");
    let (next, _, next_s, next_mb) = report(&server, &config, "2026-12-02T08:00:00Z");
    // SCALE_KEEP=1 keeps the organisation's config and cache, to profile a warm run.
    if std::env::var_os("SCALE_KEEP").is_some() {
        let kept = work.keep();
        eprintln!(
            "kept {} ({} workloads): {}",
            org.name,
            org.workloads,
            kept.join("creditburn.toml").display()
        );
    }
    // Every award's consumed equals its workload's spend, to the cent.
    let mut mismatches = 0;
    for (id, spend) in &written.spend {
        let want = (spend * 100.0).round() / 100.0;
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
                eprintln!(
                    "{}: {id}: consumed {got}, its workload's spend {want}",
                    org.name
                );
            }
        }
    }
    assert_eq!(warm["source"]["requests"], 0, "{warm_err}");
    Measured {
        awards: written.spend.len(),
        cells: written.cells,
        shared: written.shared,
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
    awards: usize,
    cells: usize,
    shared: f64,
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

/// The figures every organisation is judged on, whatever the build: each award's
/// consumed its workload's spend, fresh data, the table's rows against the bill's cells,
/// and no dollar approximated: each tag value sits in one account, and its spend in a
/// usage type several services bill (TimedStorage-ByteHrs) is its amount in the service
/// less its other usage types there, so the slices determine every cell.
fn judge_figures(targets: &mut Targets, org: &Org, m: &Measured) {
    let ratio = m.rows / m.cells as f64;
    println!(
        "  cost table: {:.0} rows for the bill's {} cells ({ratio:.2}x)   target: <= 1.2x {}",
        m.rows,
        m.cells,
        targets.judge(&format!("{}: rows", org.name), ratio <= 1.2)
    );
    println!(
        "  approximated: {:.2} of {:.2} USD ({:.2}%; in usage types several services bill: {:.2})   target: 0 {}",
        m.approximated,
        m.usage_total,
        100.0 * m.approximated / m.usage_total,
        m.shared,
        targets.judge(
            &format!("{}: approximated", org.name),
            m.approximated == 0.0
        )
    );
    println!(
        "  awards whose consumed differs from their workload's spend by a cent or more: {} of {} (3 runs each)   target: none {}",
        m.mismatches,
        m.awards * 3,
        targets.judge(&format!("{}: consumed", org.name), m.mismatches == 0)
    );
    println!(
        "  data stale on the cold run: {}   target: no {}",
        m.stale,
        targets.judge(&format!("{}: fresh data", org.name), !m.stale)
    );
}

/// `--check`, the quick run CI makes (in any build): both organisation shapes small (12
/// workloads, 60 days), each judged on its figures over a cold, a warm and a next-day
/// run, and the awards commands at 200 and 500 awards. Times and memory are printed, not
/// judged: CI's debug build and shared machine say nothing of the release binary's.
fn check(targets: &mut Targets) {
    for org in [TAGGED, PER_ACCOUNT] {
        let org = Org {
            workloads: 12,
            accounts: 4,
            ..org
        };
        let m = measure(&org, 60);
        println!(
            "check {}: 12 workloads, 60 days: cold {} requests, warm {:.2} s, next day {} requests",
            org.name, m.cold_requests, m.warm_seconds, m.next_requests
        );
        judge_figures(targets, &org, &m);
    }
    awards_scale(targets, [200, 500], false);
}

fn full(targets: &mut Targets) {
    let days = 395; // 2025-11-01 to 2026-11-30: the 13 months Cost Explorer looks back
    let large = Org {
        name: "per-account-240",
        workloads: 240,
        accounts: 48,
        ..PER_ACCOUNT
    };
    // SCALE_ORGS=tagged,per-account measures only those (the growth and per-row figures
    // need per-account and per-account-240).
    let only = std::env::var("SCALE_ORGS").ok();
    let mut measured = Vec::new();
    for org in [TAGGED, PER_ACCOUNT, large] {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|n| n == org.name))
        {
            continue;
        }
        println!(
            "{}: {} workloads across {} accounts and {} regions, {} usage types a workload{}, {days} days, pages of {GROUPS_PER_PAGE} groups",
            org.name,
            org.workloads,
            org.accounts,
            REGIONS.len(),
            if org.wide { 21 } else { 5 },
            if org.platform { ", a platform account (rules by tag and by account)" } else { " (rules by tag)" },
        );
        let m = measure(&org, days);
        judge_figures(targets, &org, &m);
        // The 240-workload organisation shows the growth; the targets are the 60's.
        let judged = org.workloads <= 60;
        let cold_mark = if judged {
            targets.judge(
                &format!("{}: cold backfill memory", org.name),
                m.cold_mb < 400.0,
            )
        } else {
            "(growth, not judged)"
        };
        println!(
            "  cold backfill: {} requests (${:.2}), {:.2} s, peak {:.0} MB   target: < 400 MB {cold_mark}",
            m.cold_requests,
            m.cold_requests as f64 * 0.01,
            m.cold_seconds,
            m.cold_mb,
        );
        let (time_mark, memory_mark) = if judged {
            (
                targets.judge(
                    &format!("{}: warm run time", org.name),
                    m.warm_seconds < 0.5,
                ),
                targets.judge(&format!("{}: warm run memory", org.name), m.warm_mb < 150.0),
            )
        } else {
            ("(growth, not judged)", "(growth, not judged)")
        };
        println!(
            "  warm run (same day, all from the cache): {:.3} s, peak {:.1} MB   targets: < 0.5 s {time_mark}, < 150 MB {memory_mark}",
            m.warm_seconds, m.warm_mb
        );
        println!(
            "  next day's run ({} requests, the open month again): {:.3} s, peak {:.1} MB",
            m.next_requests, m.next_seconds, m.next_mb
        );
        measured.push((org, m));
    }
    let of = |name: &str| {
        measured
            .iter()
            .find(|(o, _)| o.name == name)
            .map(|(_, m)| m)
    };
    let (Some(small), Some(large)) = (of(PER_ACCOUNT.name), of("per-account-240")) else {
        return;
    };
    // Growth: from 60 workloads to 240 of the same shape, per thousand of the bill's
    // cells.
    let per = |m: &Measured, v: f64| v / (m.cells as f64 / 1000.0);
    println!(
        "growth, 60 to 240 workloads ({} to {} cells, {:.1}x): warm run {:.3} to {:.3} s ({:.1}x; {:.2} to {:.2} ms per 1,000 cells), peak {:.1} to {:.1} MB ({:.1}x; {:.2} to {:.2} MB per 1,000 cells); cold peak {:.0} to {:.0} MB",
        small.cells,
        large.cells,
        large.cells as f64 / small.cells as f64,
        small.warm_seconds,
        large.warm_seconds,
        large.warm_seconds / small.warm_seconds,
        per(small, small.warm_seconds * 1000.0),
        per(large, large.warm_seconds * 1000.0),
        small.warm_mb,
        large.warm_mb,
        large.warm_mb / small.warm_mb,
        per(small, small.warm_mb),
        per(large, large.warm_mb),
        small.cold_mb,
        large.cold_mb,
    );
    let (a, b) = (small, large);
    let per_row = (b.warm_mb - a.warm_mb) * 1024.0 * 1024.0 / (b.rows - a.rows);
    println!(
        "memory per cost row: {:.0} bytes (warm peak {:.1} MB at {:.0} rows, {:.1} MB at {:.0} rows)   target: < 1 KB {}",
        per_row,
        a.warm_mb,
        a.rows,
        b.warm_mb,
        b.rows,
        targets.judge("memory per row", per_row < 1024.0)
    );
    awards_scale(targets, [1_000, 5_000], true);
}
