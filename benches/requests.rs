//! Benchmark: how many Cost Explorer requests (at $0.01 each) creditburn makes for a cold
//! 13-month backfill and for a warm daily run, with 1, 10 and 50 workloads and 1, 5 and
//! 20 awards. Counts, not timings; runs against the loopback Cost Explorer the tests use
//! (1,000 groups a page, days split across pages), through the same library code as
//! `creditburn run`.
//!
//!     cargo bench --profile dev --bench requests
//!
//! Target: a warm daily run makes one request a query of the plan, at most 6 (one tag
//! key, rules by tag and by account: the three usage slices, the tag's joints with the
//! service and the account, the other record types), whatever the number of workloads
//! and awards. (Before the joint slices the plan had 4 queries and the target was 4.)

#[allow(dead_code)]
#[path = "../tests/it/aws_server.rs"]
mod aws_server;

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use creditburn::config;
use creditburn::source::{aws, plan};
use creditburn::store::cache;

/// The most requests a warm daily run may make: one a query of a plan with one tag key
/// and rules by account.
const WARM_TARGET: u64 = 6;

/// A config with `workloads` workloads (tag rules on one key, every third by account)
/// and `awards` awards over consecutive, non-overlapping 20-day windows from the first
/// day Cost Explorer still answers, the last running into next year.
fn config_text(workloads: usize, awards: usize) -> String {
    let mut t = String::from(
        "[source]\nkind = \"aws\"\n[state]\npath = \"state\"\n[email]\nfrom = \"cb@example.com\"\noutbox = \"outbox\"\n\
         [alerts]\nrecipients = [\"finance@example.com\"]\n",
    );
    for w in 0..workloads {
        let rule = if w % 3 == 2 {
            format!("{{ account = \"{:012}\" }}", 300_000_000_000u64 + w as u64)
        } else {
            format!("{{ tag = \"workload=w{w}\" }}")
        };
        t.push_str(&format!(
            "[[workloads]]\nname = \"w{w}\"\npriority = {w}\nrules = [{rule}]\n"
        ));
    }
    let first = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
    for a in 0..awards {
        let start = first + Duration::days(20 * a as i64);
        let expiry = if a + 1 == awards {
            NaiveDate::from_ymd_opt(2027, 6, 30).unwrap()
        } else {
            start + Duration::days(19)
        };
        t.push_str(&format!(
            "[[awards]]\nid = \"a{a}\"\nprogram = \"other\"\namount = 10000\nstart = \"{start}\"\nexpiry = \"{expiry}\"\nworkloads = [\"w{}\"]\n",
            a % workloads
        ));
    }
    t
}

fn count(
    runtime: &tokio::runtime::Runtime,
    config: &config::Config,
    state: &Path,
    now: DateTime<Utc>,
) -> u64 {
    let source = match &config.source {
        config::SourceConfig::Aws(s) => s.clone(),
        _ => unreachable!("the benchmark config is live"),
    };
    let mut store = cache::Cache::open(state).expect("state store opens");
    let as_of = now.date_naive();
    let window = plan::history(config, as_of, now.date_naive()).fetchable();
    let queries = plan::queries(config);
    let refresh = runtime.block_on(async {
        let sdk = aws::sdk_config(&source, None).await;
        let client = aws::CostExplorer::new(&sdk);
        aws::refresh(
            &client,
            &mut store,
            &queries,
            window,
            aws::RefreshPolicy {
                now,
                freshness: &cache::Freshness::default(),
                max_requests: None,
            },
            &mut |_| {},
        )
        .await
    });
    let refresh = refresh.expect("the cache works");
    assert!(refresh.failures.is_empty(), "{:?}", refresh.failures);
    refresh.budget.made
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = aws_server::FakeCostExplorer::start(&root.join("fixtures/demo"));
    std::env::set_var("AWS_ENDPOINT_URL_COST_EXPLORER", &server.url);
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDBENCH");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "bench");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let day1: DateTime<Utc> = "2026-11-21T08:00:00Z".parse().unwrap();
    let day2 = day1 + Duration::days(1);

    println!(
        "Cost Explorer requests ($0.01 each); loopback server, {} groups a page",
        aws_server::GROUPS_PER_PAGE
    );
    println!(
        "{:>9} {:>6} {:>7} {:>16} {:>14} {:>14} {:>10}",
        "workloads",
        "awards",
        "queries",
        "cold backfill",
        "same-day rerun",
        "warm next day",
        "target"
    );
    let mut worst_warm = 0;
    let mut missed = false;
    for workloads in [1, 10, 50] {
        for awards in [1, 5, 20] {
            let dir = tempfile::tempdir().unwrap();
            let config = config::parse(&config_text(workloads, awards), dir.path())
                .unwrap_or_else(|p| panic!("benchmark config: {p:?}"));
            let state = dir.path().join("state");
            let cold = count(&runtime, &config, &state, day1);
            let rerun = count(&runtime, &config, &state, day1 + Duration::hours(1));
            let warm = count(&runtime, &config, &state, day2);
            worst_warm = worst_warm.max(warm);
            let queries = plan::queries(&config).len() as u64;
            let met = warm <= queries && warm <= WARM_TARGET;
            missed |= !met;
            println!(
                "{:>9} {:>6} {:>7} {:>10} (${:.2}) {:>14} {:>8} (${:.2}) {:>10}",
                workloads,
                awards,
                queries,
                cold,
                cold as f64 * aws::COST_PER_REQUEST,
                rerun,
                warm,
                warm as f64 * aws::COST_PER_REQUEST,
                if met { "met" } else { "MISSED" }
            );
        }
    }
    println!(
        "worst warm daily run: {worst_warm} requests (target: one a query, at most {WARM_TARGET}) {}",
        if missed { "MISSED" } else { "met" }
    );
    if missed {
        std::process::exit(1);
    }
}
