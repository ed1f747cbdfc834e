//! The live source end to end, against the loopback Cost Explorer: pagination, the
//! cache, throttling, server errors, a server that never answers, bad bodies, the request
//! cap, and the stale fallback.

use crate::harness::Edit;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws_server::{FakeCostExplorer, Fault};
use crate::support::{copy_recording, creditburn, demo_config, repo};

/// The demo config switched to the live source, with short timeouts for tests.
fn live_config(dir: &Path) -> PathBuf {
    let path = demo_config(dir, &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("[source]").unwrap();
    let end = text[start..].find("[state]").unwrap() + start;
    let source = "[source]\nkind = \"aws\"\nmax_attempts = 2\nconnect_timeout_seconds = 1\n\
                  attempt_timeout_seconds = 1\noperation_timeout_seconds = 4\n\n";
    std::fs::write(&path, format!("{}{source}{}", &text[..start], &text[end..])).unwrap();
    path
}

/// Runs the binary against `server` with test credentials and nothing else from the
/// environment, on a fixed clock.
fn live(server: &FakeCostExplorer, args: &[&str], now: &str) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--now", now]);
    against(server, &all, true)
}

/// Runs the binary against `server` with nothing from the environment but its
/// endpoints (and, with `credentials`, test credentials and a region).
fn against(server: &FakeCostExplorer, args: &[&str], credentials: bool) -> Output {
    against_with(server, args, credentials, &[])
}

/// `against`, with `env` set too.
fn against_with(
    server: &FakeCostExplorer,
    args: &[&str],
    credentials: bool,
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_creditburn"));
    isolated(command.args(args), server, credentials)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `command` with nothing from the environment but `server`'s endpoints (and, with
/// `credentials`, test credentials and a region).
fn isolated<'c>(
    command: &'c mut Command,
    server: &FakeCostExplorer,
    credentials: bool,
) -> &'c mut Command {
    command
        .env_clear()
        .env("AWS_ENDPOINT_URL_COST_EXPLORER", &server.url)
        .env("AWS_ENDPOINT_URL_BILLING", &server.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        );
    if credentials {
        command
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", "us-east-1");
    }
    command
}

const DAY1: &str = "2026-11-21T08:00:00Z";
const DAY2: &str = "2026-11-22T08:00:00Z";

fn report(server: &FakeCostExplorer, config: &Path, now: &str, extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "report",
        "--format",
        "json",
        "--as-of",
        "2026-11-20",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = live(server, &args, now);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (serde_json::from_slice(&out.stdout).unwrap(), err)
}

/// `report --format json --as-of AS_OF` on `config` against `server` at `now`.
fn report_as_of(server: &FakeCostExplorer, config: &Path, as_of: &str, now: &str) -> Value {
    let out = live(
        server,
        &[
            "report",
            "--format",
            "json",
            "--as-of",
            as_of,
            "--config",
            config.to_str().unwrap(),
        ],
        now,
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn awards(r: &Value) -> Vec<(String, String, String, String)> {
    r["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].to_string(),
                a["consumed"].to_string(),
                a["daily_burn"].to_string(),
                a["status"].to_string(),
            )
        })
        .collect()
}

fn fixture_report() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let out = creditburn(&[
        "report",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cold_backfill_paginates_then_the_same_day_reads_the_cache() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());

    let (r, err) = report(&server, &config, DAY1, &[]);
    // 2026-08-01 (the first award) to 2026-11-20: 112 days; pages of 1,000 groups, so
    // 3,224 groups by service and by account take 4 pages each, 3,656 by tag 4, 2,000
    // of the tag with the service 2, 408 of the tag with the account (the rules name
    // both) 1 and 1,416 other records 2: 17 requests, days split across pages.
    let requests = server.requests();
    assert_eq!(requests.len(), 17, "{err}");
    assert_eq!(r["source"]["requests"], 17);
    assert_eq!(r["source"]["request_cost"], 0.17);
    assert_eq!(r["source"]["stale"], false);
    assert_eq!(requests[0]["TimePeriod"]["Start"], "2026-08-01");
    assert_eq!(requests[0]["TimePeriod"]["End"], "2026-11-21");
    assert!(requests[0].get("NextPageToken").is_none());
    assert_eq!(requests[1]["NextPageToken"], "offset:1000");
    assert_eq!(requests[2]["NextPageToken"], "offset:2000");
    // Every award tells the same story as the recording.
    assert_eq!(awards(&r), awards(&fixture_report()));

    // The same day again: everything is fresh, no request at all.
    server.clear_log();
    let (again, _) = report(&server, &config, DAY1, &[]);
    assert_eq!(server.requests().len(), 0);
    assert_eq!(again["source"]["requests"], 0);
    assert_eq!(awards(&again), awards(&r));

    // The next day: only the open month is asked again, one page a query.
    server.clear_log();
    let (next, _) = report(&server, &config, DAY2, &[]);
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    for q in &requests {
        assert_eq!(q["TimePeriod"]["Start"], "2026-11-01");
    }
    assert_eq!(awards(&next), awards(&r));
}

#[test]
fn a_long_backfill_shows_its_progress_in_lines_and_json() {
    // Pages of 100 groups: 35 pages by service alone. Every page a line (the interval
    // set to nothing), with the figures a reader needs.
    let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), Some(100));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let args = [
        "report",
        "--format",
        "json",
        "--as-of",
        "2026-11-20",
        "--now",
        DAY1,
        "--config",
        config.to_str().unwrap(),
    ];
    let every_page = [("CREDITBURN_PROGRESS_SECONDS", "0")];
    let out = against_with(&server, &args, true, &every_page);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("fetching usage-by-service: "))
        .collect();
    // Stderr is no terminal here: lines, no bar; the first page's says what is left.
    assert_eq!(lines.len(), 33, "{err}");
    assert!(
        lines[0].starts_with("fetching usage-by-service: 1 page (5 of 112 days, to 2026-08-05), 1 request so far ($0.01), about 22 pages left (~"),
        "{}",
        lines[0]
    );
    assert!(
        lines[32].starts_with("fetching usage-by-service: 33 pages (112 of 112 days, to 2026-11-20), 33 requests so far ($0.33), done"),
        "{}",
        lines[32]
    );
    // The next query counts the run's requests on from there.
    assert!(
        err.contains("fetching usage-by-account: 1 page (5 of 112 days, to 2026-08-05), 34 requests so far ($0.34)"),
        "{err}"
    );
    // With the default interval a backfill this quick says only what it fetched.
    let quiet = tempfile::tempdir().unwrap();
    let config = live_config(quiet.path());
    let mut quick = args;
    quick[8] = config.to_str().unwrap();
    let out = against_with(&server, &quick, true, &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("fetching "), "{err}");
    // Under --log-format json, each progress line is a JSON object like every other.
    let json = tempfile::tempdir().unwrap();
    let config = live_config(json.path());
    let mut with_json: Vec<&str> = args.to_vec();
    with_json[8] = config.to_str().unwrap();
    with_json.extend(["--log-format", "json"]);
    let out = against_with(&server, &with_json, true, &every_page);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let progress: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("fetching usage-by-tag-workload: "))
        })
        .collect();
    assert!(progress.len() > 30, "{err}");
    assert_eq!(progress[0]["level"], "INFO");
    // `record` shows the same.
    let out_dir = dir.path().join("recorded");
    let config = live_config(dir.path());
    let out = record_with(&server, &config, &out_dir, false, &every_page);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("fetching other-by-record-type: 1 page (") && err.contains(", done"),
        "{err}"
    );
}

#[test]
fn on_a_terminal_a_backfill_shows_a_bar_per_query() {
    // util-linux's `script` gives the run a pseudo-terminal, as a person at a shell.
    let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), Some(100));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let command = format!(
        "{} report --as-of 2026-11-20 --now {DAY1} --config {}",
        env!("CARGO_BIN_EXE_creditburn"),
        config.display()
    );
    let mut script = Command::new("script");
    let out = isolated(script.args(["-qec", &command, "/dev/null"]), &server, true)
        .env("TERM", "xterm")
        .env("CREDITBURN_PROGRESS_SECONDS", "0")
        .output()
        .expect("util-linux's script runs (apt-get install util-linux)");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}");
    // A bar (the query, its fill, pages of the estimate, the figures), not log lines.
    assert!(screen.contains("usage-by-service ["), "{screen}");
    assert!(
        screen.contains(" pages, 5/112 days, 1 req ($0.01)"),
        "{screen}"
    );
    assert!(!screen.contains("fetching usage-by-service:"), "{screen}");
}

#[test]
fn without_the_joint_slices_the_run_goes_on_stale_with_the_same_figures() {
    // An endpoint that answers every query but the tag's joints with the service and the
    // account (as a store from before the plan asked for them, whose first fetch of them
    // fails): the table is built from the other slices, the run says which are missing,
    // and the figures are the recording's (no demo cell needs the joints).
    let data = tempfile::tempdir().unwrap();
    crate::support::copy_recording(&repo().join("fixtures/demo"), data.path());
    let manifest = data.path().join("recording.json");
    let mut recording: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    recording["exchanges"]
        .as_array_mut()
        .unwrap()
        .retain(|e| !e["query"].as_str().unwrap().contains("-and-tag-"));
    std::fs::write(&manifest, recording.to_string()).unwrap();
    let server = FakeCostExplorer::start(data.path());
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let (r, err) = report(&server, &config, DAY1, &[]);
    assert_eq!(r["source"]["stale"], true, "{err}");
    let reasons = r["source"]["stale_reasons"].to_string();
    for joint in [
        "usage-by-service-and-tag-workload",
        "usage-by-account-and-tag-workload",
    ] {
        assert!(reasons.contains(joint), "{reasons}");
        assert!(err.contains(&format!("warning: {joint}: ")), "{err}");
    }
    assert_eq!(awards(&r), awards(&fixture_report()));
}

#[test]
fn throttling_then_success_is_retried() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    server.fail_next(&[Fault::Throttle]);
    let (r, err) = report(&server, &config, DAY1, &[]);
    // One refused attempt, then the 17 requests that count.
    assert_eq!(server.requests().len(), 18, "{err}");
    assert_eq!(r["source"]["requests"], 17);
    assert_eq!(r["source"]["stale"], false);
}

/// Warms a cache on DAY1, then runs DAY2 with `faults` waiting; returns the report.
fn warm_then_fail(faults: &[Fault]) -> (Value, String, Duration) {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let (fresh, _) = report(&server, &config, DAY1, &[]);
    server.fail_next(faults);
    let started = Instant::now();
    let (r, err) = report(&server, &config, DAY2, &[]);
    // Whatever failed, the figures are the cached ones, not zero.
    assert_eq!(awards(&r), awards(&fresh), "{err}");
    (r, err, started.elapsed())
}

#[test]
fn server_errors_fall_back_to_the_cache() {
    let (r, err, _) = warm_then_fail(&[Fault::ServerError, Fault::ServerError]);
    assert_eq!(r["source"]["stale"], true);
    let reasons = r["source"]["stale_reasons"].to_string();
    assert!(
        reasons.contains("usage-by-service") && reasons.contains("server error"),
        "{reasons}"
    );
    assert!(err.contains("warning: usage-by-service"), "{err}");
}

#[test]
fn cached_days_older_than_cost_explorer_reaches_are_kept_and_read() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let run = |as_of: &str, now: &str| report_as_of(&server, &config, as_of, now);
    // August is cached early in September 2026.
    run("2026-08-31", "2026-09-02T08:00:00Z");
    // Thirteen months later Cost Explorer reaches back to 2026-09-01 only: August is
    // read from the cache, never asked for, and the awards started on 2026-08-01 read
    // what the whole recording gives.
    server.clear_log();
    let r = run("2026-11-20", "2027-10-05T08:00:00Z");
    let requests = server.requests();
    assert!(!requests.is_empty());
    for q in &requests {
        assert_eq!(q["TimePeriod"]["Start"], "2026-09-01", "{q}");
    }
    assert_eq!(r["data"]["first_day"], "2026-08-01");
    assert_eq!(r["source"]["stale"], false, "{}", r["source"]);
    assert_eq!(awards(&r), awards(&fixture_report()));
}

#[test]
fn a_partly_cached_query_names_its_own_gap_and_last_day() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let run = |as_of: &str, now: &str| report_as_of(&server, &config, as_of, now);
    // The cache is warmed through 2026-11-10; ten days later the first query's fetch
    // fails while the others bring their days through 2026-11-20.
    run("2026-11-10", "2026-11-11T08:00:00Z");
    server.fail_next(&[Fault::ServerError, Fault::ServerError]);
    let r = run("2026-11-20", DAY1);
    assert_eq!(r["source"]["stale"], true);
    let reasons: Vec<String> = r["source"]["stale_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("usage-by-service: ")
            && reasons[0].contains("server error")
            && reasons[0].ends_with(
                "the cache lacks its days 2026-11-11 to 2026-11-20 (10 days), whose figures leave this query out"
            ),
        "{reasons:?}"
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (r, err, took) = warm_then_fail(&[Fault::Hang, Fault::Hang]);
    assert_eq!(r["source"]["stale"], true);
    assert!(
        r["source"]["stale_reasons"]
            .to_string()
            .contains("did not answer in time"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_garbage_body_is_not_data() {
    let (r, _, _) = warm_then_fail(&[Fault::Garbage]);
    assert_eq!(r["source"]["stale"], true);
    let reasons = r["source"]["stale_reasons"].to_string();
    assert!(reasons.contains("could not be decoded"), "{reasons}");
}

#[test]
fn a_truncated_body_is_not_data() {
    let (r, _, _) = warm_then_fail(&[Fault::Truncate, Fault::Truncate]);
    assert_eq!(r["source"]["stale"], true);
}

#[test]
fn nothing_cached_and_nothing_fetched_exits_69_and_writes_nothing() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    server.fail_next(&[Fault::ServerError, Fault::ServerError]);
    let out = live(
        &server,
        &[
            "run",
            "--as-of",
            "2026-11-20",
            "--config",
            config.to_str().unwrap(),
        ],
        DAY1,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("no cost data for usage-by-service"), "{err}");
    assert!(!dir.path().join("outbox").exists());
}

#[test]
fn a_half_fetched_query_is_not_stored() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    // The first query's first page arrives, then the cap stops its second: none of it
    // may land in the cache.
    let out = live(
        &server,
        &[
            "report",
            "--as-of",
            "2026-11-20",
            "--max-requests",
            "1",
            "--config",
            config.to_str().unwrap(),
        ],
        DAY1,
    );
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(dir.path().join("state/creditburn.sqlite3")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM ce_day", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "a query cut off after one page must leave no rows");
}

#[test]
fn a_query_failing_on_its_second_page_keeps_its_old_days() {
    let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), Some(400));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    report(&server, &config, DAY1, &[]);
    let db = rusqlite::Connection::open(dir.path().join("state/creditburn.sqlite3")).unwrap();
    let snapshot = |db: &rusqlite::Connection| -> Vec<(String, String)> {
        let mut stmt = db
            .prepare(
                "SELECT day, fetched_at FROM ce_day WHERE query = 'usage-by-service' ORDER BY day",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = snapshot(&db);
    // In early January the estimated November and all of December are asked again: 63
    // days, about 670 groups, two pages of 400. The first arrives, the second fails on
    // both attempts.
    server.fail_next(&[Fault::Pass, Fault::ServerError, Fault::ServerError]);
    let args = [
        "report",
        "--format",
        "json",
        "--as-of",
        "2027-01-02",
        "--config",
        config.to_str().unwrap(),
    ];
    let out = live(&server, &args, "2027-01-03T08:00:00Z");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["source"]["stale"], true);
    assert!(r["source"]["stale_reasons"]
        .to_string()
        .contains("usage-by-service"));
    let after = snapshot(&db);
    assert_eq!(after.len(), before.len());
    assert!(after == before, "a day of the failed query was rewritten");
}

#[test]
fn max_requests_caps_a_run_and_the_rest_is_stale() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    report(&server, &config, DAY1, &[]);
    server.clear_log();
    let (r, _) = report(&server, &config, DAY2, &["--max-requests", "2"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(r["source"]["requests"], 2);
    assert_eq!(r["source"]["stale"], true);
    assert!(r["source"]["stale_reasons"]
        .to_string()
        .contains("--max-requests 2 reached"));
}

#[test]
fn alerts_on_stale_data_say_so() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    report(&server, &config, DAY1, &[]);
    server.fail_next(&[Fault::ServerError, Fault::ServerError]);
    let out = live(
        &server,
        &[
            "run",
            "--as-of",
            "2026-11-20",
            "--config",
            config.to_str().unwrap(),
        ],
        DAY2,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outbox = dir.path().join("outbox");
    let alert = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy()
                .contains("poc-support.credit_drawn_by_others.new")
        })
        .expect("the POC alert is in the outbox");
    let eml = std::fs::read_to_string(alert).unwrap();
    assert!(
        eml.contains("Subject: [stale data] POC award poc-support"),
        "{eml}"
    );
    assert!(
        eml.contains("Stale data: fetching fresh figures failed"),
        "{eml}"
    );
}

fn epoch(day: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

fn credit(id: &str, kind: &str, initial: &str, left: &str, start: &str, end: &str) -> Value {
    serde_json::json!({
        "creditId": id, "accountId": "111111111111", "creditType": kind,
        "description": format!("{kind} credit {id}"),
        "initialAmount": {"currencyCode": "USD", "currencyAmount": initial},
        "remainingAmount": {"currencyCode": "USD", "currencyAmount": left},
        "startDate": epoch(start), "endDate": epoch(end), "creditStatus": "ENABLED",
        "applicableProductNames": ["All AWS services"]
    })
}

/// The POC's credit: $25,000, $9,000 left, 2026-10-01 to 2026-12-29.
fn poc_credit() -> Value {
    credit(
        "1001",
        "Promotion",
        "25000",
        "9000.00",
        "2026-10-01",
        "2026-12-29",
    )
}

fn applied(id: &str, service: &str, month: &str, amount: &str) -> Value {
    serde_json::json!({
        "creditId": id, "accountId": "111111111111", "appliedServiceName": service,
        "billingMonth": month, "isEstimatedBill": month == "2026-11",
        "creditAmount": {"currencyCode": "USD", "currencyAmount": amount}
    })
}

/// The live config with an account and the POC award linked to credit 1001, the
/// credits and their history as in `set_demo_billing`.
fn billing_setup(server: &FakeCostExplorer, dir: &Path) -> PathBuf {
    let config = billing_config(dir);
    set_demo_billing(server);
    config
}

/// The live config of `billing_setup`, the server's Billing answers left as they are.
fn billing_config(dir: &Path) -> PathBuf {
    let config = live_config(dir);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .edited(
            "kind = \"aws\"\n",
            "kind = \"aws\"\naccount_id = \"111111111111\"\n",
        )
        // The POC's (the first award of the assistant), not the accelerator's.
        .edited_once(
            "workloads = [\"support-assistant\"]",
            "workloads = [\"support-assistant\"]\ncredit_id = \"1001\"",
        );
    std::fs::write(&config, text).unwrap();
    config
}

fn set_demo_billing(server: &FakeCostExplorer) {
    server.set_billing(
        serde_json::json!({"credits": [
            poc_credit(),
            credit("2002", "Promotion", "5000", "4200.50", "2026-06-01", "2027-05-31"),
        ]}),
        vec![
            serde_json::json!({"creditAllocationHistoryList": [
                applied("1001", "Amazon Bedrock", "2026-10", "-3100.25"),
                applied("1001", "Amazon Elastic Compute Cloud - Compute", "2026-10", "-2400"),
            ]}),
            serde_json::json!({"creditAllocationHistoryList": [
                applied("1001", "Amazon Bedrock", "2026-11", "-9000"),
                applied("1001", "Amazon Elastic Compute Cloud - Compute", "2026-11", "-1499.75"),
            ]}),
        ],
    );
}

#[test]
fn credits_are_reconciled_and_drift_alerts() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_setup(&server, dir.path());
    let (r, err) = report(&server, &config, DAY1, &[]);
    let poc = crate::support::award(&r, "poc-support");
    let c = &poc["credit"];
    // Modelled remaining 10,892.26 (see the issue 2 hand check) against AWS's 9,000.00:
    // 1,892.26 that the POC's own workload does not explain, 7.6% of $25,000 > 5%.
    assert_eq!(c["credit_id"], "1001", "{err}");
    assert_eq!(c["aws_remaining"], 9000.0);
    assert_eq!(c["drift"], 1892.26);
    assert_eq!(c["drift_percent"], 7.6);
    // AWS's allocation history, both pages: Bedrock 12,100.25, EC2 3,899.75.
    assert_eq!(
        c["applied_by_service"],
        serde_json::json!([
            ["Amazon Bedrock", 12100.25],
            ["Amazon Elastic Compute Cloud - Compute", 3899.75]
        ])
    );
    let drift_alert = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "credit_drift")
        .unwrap();
    assert_eq!(
        drift_alert["subject"],
        "POC award poc-support: AWS shows $9,000.00 left on credit 1001, $1,892.26 (7.6%) less than the award's own workloads explain."
    );
    assert_eq!(r["unclaimed_credits"], serde_json::json!(["2002"]));
    assert_eq!(r["credits"].as_array().unwrap().len(), 2);
    // Four awards name no credit_id, so credit 2002 may be one of them: the account view
    // leaves it out rather than count its dollars twice, and says so.
    assert_eq!(r["other_credits"], serde_json::json!([]));
    let warnings = r["data"]["warnings"].to_string();
    assert!(
        warnings.contains("leaves out the 1 credit AWS lists that no award names (2002), since award(s) accelerator, bfs-docs, founders, portfolio name no credit_id"),
        "{warnings}"
    );
    // GetCredits once, the allocation history in two pages.
    let ops: Vec<String> = server
        .billing_requests()
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert_eq!(
        ops,
        [
            "AWSBilling.GetCredits",
            "AWSBilling.GetCreditAllocationHistory",
            "AWSBilling.GetCreditAllocationHistory"
        ]
    );
    let first = &server.billing_requests()[0].1;
    assert_eq!(first["accountId"], "111111111111");

    // The same day again: the snapshot is fresh, Billing is not asked.
    server.clear_log();
    report(&server, &config, DAY1, &[]);
    assert!(server.billing_requests().is_empty());
}

#[test]
fn in_the_account_view_the_products_aws_lists_decide_what_a_credit_pays() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_setup(&server, dir.path());
    let poc_view = |r: &Value| crate::support::award(r, "poc-support")["account_view"].clone();
    let (r, _) = report(&server, &config, DAY1, &[]);
    let drawn = poc_view(&r)["drawn_by_others"].to_string();
    assert!(drawn.contains("platform"), "{drawn}");
    // The same credit listed for Amazon Bedrock only: the platform's EC2 and RDS no
    // longer draw it, and the document pipeline's Nova and Haiku still do.
    let mut bedrock_only = poc_credit();
    bedrock_only["applicableProductNames"] = serde_json::json!(["Amazon Bedrock"]);
    server.set_billing(
        serde_json::json!({"credits": [bedrock_only]}),
        vec![serde_json::json!({"creditAllocationHistoryList": []})],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = billing_config(dir.path());
    let (r, err) = report(&server, &config, DAY1, &[]);
    let view = poc_view(&r);
    let drawn = view["drawn_by_others"].to_string();
    assert!(!drawn.contains("platform"), "{drawn} {err}");
    assert!(drawn.contains("document-pipeline"), "{drawn}");

    // Every award names its credit: then the credits no award names are drawn too.
    // 2002 started (2026-06-01) before the data, so it counts from the $4,200.50 AWS
    // reported, from the day after the data (it was read later); 2003 expired
    // (2026-11-10) before it was read, so what AWS shows left was forfeited.
    let mut credits = vec![
        poc_credit(),
        credit(
            "2002",
            "Promotion",
            "5000",
            "4200.50",
            "2026-06-01",
            "2027-05-31",
        ),
        credit(
            "2003",
            "Promotion",
            "1000",
            "300.00",
            "2026-05-01",
            "2026-11-10",
        ),
    ];
    for id in ["3003", "3004", "3005", "3006"] {
        credits.push(credit(
            id,
            "Promotion",
            "1000",
            "0",
            "2026-08-01",
            "2027-12-31",
        ));
    }
    server.set_billing(
        serde_json::json!({ "credits": credits }),
        vec![serde_json::json!({"creditAllocationHistoryList": []})],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = billing_config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    for (award, id) in [
        ("accelerator", "3003"),
        ("bfs-docs", "3004"),
        ("founders", "3005"),
        ("portfolio", "3006"),
    ] {
        let line = format!("id = \"{award}\"\n");
        assert!(text.contains(&line), "{award} in {text}");
        text = text.edited(&line, &format!("{line}credit_id = \"{id}\"\n"));
    }
    std::fs::write(&config, text).unwrap();
    let (r, err) = report(&server, &config, DAY1, &[]);
    let others = r["other_credits"].as_array().unwrap();
    assert_eq!(others.len(), 1, "{others:?} {err}");
    let other = &others[0];
    assert_eq!(other["credit_id"], "2002");
    assert_eq!(
        (other["consumed"].as_f64(), other["remaining"].as_f64()),
        (Some(0.0), Some(4200.5))
    );
    let warnings = r["data"]["warnings"].to_string();
    assert!(
        warnings.contains("credit 2002 (no award names it) started on 2026-06-01, before the data; the account view counts it from the $4,200.50 AWS reported left on 2026-11-21"),
        "{warnings}"
    );
}

#[test]
fn unclaimed_credits_can_be_adopted() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_setup(&server, dir.path());
    let out = live(
        &server,
        &["credits", "--config", config.to_str().unwrap()],
        DAY1,
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("1001") && table.contains("poc-support"),
        "{table}"
    );
    assert!(
        table.contains("2002") && table.contains("(none)"),
        "{table}"
    );

    let out = live(
        &server,
        &["credits", "--adopt", "--config", config.to_str().unwrap()],
        DAY1,
    );
    let toml_text = String::from_utf8(out.stdout).unwrap();
    let parsed: toml::Value = toml::from_str(&toml_text).unwrap();
    let award = &parsed["awards"][0];
    assert_eq!(award["id"].as_str(), Some("credit-2002"));
    assert_eq!(award["amount"].as_float(), Some(5000.0));
    assert_eq!(award["start"].as_str(), Some("2026-06-01"));
    assert_eq!(award["expiry"].as_str(), Some("2027-05-31"));
    assert_eq!(award["credit_id"].as_str(), Some("2002"));
    assert!(
        !toml_text.contains("credit-1001"),
        "1001 is already an award"
    );
}

#[test]
fn a_billing_failure_keeps_the_last_snapshot_and_marks_it_stale() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_setup(&server, dir.path());
    report(&server, &config, DAY1, &[]);
    // The next day Cost Explorer answers but Billing fails every attempt.
    server.set_billing_down();
    let (r, err) = report(&server, &config, DAY2, &[]);
    let poc = crate::support::award(&r, "poc-support");
    assert_eq!(
        poc["credit"]["aws_remaining"], 9000.0,
        "the snapshot stands in: {err}"
    );
    assert_eq!(r["source"]["stale"], true);
    let reasons = r["source"]["stale_reasons"].to_string();
    assert!(
        reasons.contains("credits: AWS answered with a server error"),
        "{reasons}"
    );
}

/// `creditburn record` into `out`, as of the demo's last day.
fn record(server: &FakeCostExplorer, config: &Path, out: &Path, scrub: bool) -> Output {
    record_with(server, config, out, scrub, &[])
}

/// `record`, with `env` set too.
fn record_with(
    server: &FakeCostExplorer,
    config: &Path,
    out: &Path,
    scrub: bool,
    env: &[(&str, &str)],
) -> Output {
    let mut args = vec![
        "record",
        "--as-of",
        "2026-11-20",
        "--now",
        DAY1,
        "--out",
        out.to_str().unwrap(),
    ];
    if scrub {
        args.push("--scrub");
    }
    args.extend(["--config", config.to_str().unwrap()]);
    against_with(server, &args, true, env)
}

/// The JSON report of the recording in `dir`, replayed with the demo config.
fn replay_report(dir: &Path) -> Value {
    let config_dir = tempfile::tempdir().unwrap();
    let config = demo_config(config_dir.path(), dir);
    crate::support::report_json(&config, &["--as-of", "2026-11-20"])
}

#[test]
fn record_writes_a_recording_that_replays_to_the_same_story() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let out_dir = dir.path().join("recorded");
    let out = record(&server, &config, &out_dir, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("wrote 17 pages of 6 queries"), "{err}");
    // Replayed as fixtures, the recording tells what the live run tells.
    let (live_report, _) = report(&server, &config, DAY1, &[]);
    assert_eq!(awards(&replay_report(&out_dir)), awards(&live_report));
    // A second record into the same folder is refused rather than mixing recordings,
    // before any request is paid for (exit 73: --out cannot take it).
    let before = server.requests().len();
    assert_eq!(
        record(&server, &config, &out_dir, false).status.code(),
        Some(73)
    );
    assert_eq!(server.requests().len(), before, "no request was made");
}

#[test]
fn record_scrub_replaces_accounts_and_tag_values_consistently() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let out_dir = dir.path().join("scrubbed");
    let out = record(&server, &config, &out_dir, true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("scrubbed account 111111111111 -> "), "{err}");
    assert!(
        err.contains("scrubbed tag workload=support-assistant -> workload=workload-value-"),
        "{err}"
    );
    let mut all = String::new();
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for page in std::fs::read_dir(&path).unwrap() {
                all.push_str(&std::fs::read_to_string(page.unwrap().path()).unwrap());
            }
        }
    }
    for secret in [
        "111111111111",
        "222222222222",
        "prod-genai",
        "support-assistant",
        "document-pipeline",
    ] {
        assert!(!all.contains(secret), "{secret} survived scrubbing");
    }
    // It still replays, and the money is all there.
    let (live_report, _) = report(&server, &config, DAY1, &[]);
    assert_eq!(
        replay_report(&out_dir)["data"]["usage_total"],
        live_report["data"]["usage_total"]
    );
}

#[test]
fn the_iam_policy_allows_exactly_the_operations_creditburn_calls() {
    let policy: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/iam-policy.json")).unwrap(),
    )
    .unwrap();
    let mut actions: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|s| assert_eq!(s["Effect"], "Allow"))
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "billing:GetCreditAllocationHistory",
            "billing:GetCredits",
            "ce:GetCostAndUsage"
        ]
    );
    // And those are the operations the code sends: the loopback server saw only these.
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_setup(&server, dir.path());
    report(&server, &config, DAY1, &[]);
    let mut ops: Vec<String> = server
        .billing_requests()
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    ops.extend(
        server
            .requests()
            .iter()
            .map(|_| "AWSInsightsIndexService.GetCostAndUsage".to_string()),
    );
    ops.sort();
    ops.dedup();
    assert_eq!(
        ops,
        [
            "AWSBilling.GetCreditAllocationHistory",
            "AWSBilling.GetCredits",
            "AWSInsightsIndexService.GetCostAndUsage"
        ]
    );
}

/// The live config with every award starting on `start`, so a backfill is short.
fn live_config_from(dir: &Path, start: &str) -> PathBuf {
    let path = live_config(dir);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("start = \"") {
            out.push_str(&format!("start = \"{start}\""));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// A report without the `source` block (requests differ with the page size).
fn figures(mut r: Value) -> Value {
    r.as_object_mut().unwrap().remove("source");
    r
}

#[test]
fn pages_that_split_a_day_are_merged_not_overwritten() {
    // Regression: the cache stored each page's ResultByTime under (query, day), so when a
    // page ended inside a day the next page's groups replaced the first page's. The same
    // data served at any page size must give the very same report, to the cent.
    let mut reports = Vec::new();
    for size in [Some(1), Some(7), Some(400), None] {
        let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), size);
        let dir = tempfile::tempdir().unwrap();
        let config = live_config_from(dir.path(), "2026-11-12");
        let (r, err) = report(&server, &config, DAY1, &[]);
        let requests = server.requests().len();
        if size == Some(1) {
            // Nine days of about 30 groups in each usage slice: hundreds of pages, so
            // nearly every day is split.
            assert!(requests > 500, "{requests} requests: {err}");
        }
        if size.is_none() {
            assert_eq!(requests, 6, "{err}");
        }
        reports.push((size, figures(r)));
    }
    let (_, unlimited) = reports.last().unwrap().clone();
    assert!(unlimited["data"]["usage_total"].as_f64().unwrap() > 1000.0);
    for (size, r) in &reports {
        assert_eq!(r, &unlimited, "page size {size:?} changed the figures");
    }
}

/// A copy of the demo recording with `damage` applied to the JSON of `file`.
fn damaged_demo(dir: &Path, file: &str, damage: impl Fn(&mut Value)) -> PathBuf {
    let rec = dir.join("rec");
    copy_recording(&repo().join("fixtures/demo"), &rec);
    let path = rec.join(file);
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    damage(&mut body);
    std::fs::write(&path, body.to_string()).unwrap();
    rec
}

#[test]
fn a_slice_that_disagrees_keeps_the_cached_days_and_marks_the_run_stale() {
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let good = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let (first, _) = report(&good, &config, DAY1, &[]);
    let db = dir.path().join("state/creditburn.sqlite3");
    let cached = || {
        let db = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = db
            .prepare("SELECT query, day, result FROM ce_day ORDER BY query, day")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<(String, String, String)>>()
    };
    let before = cached();
    // The account slice scaled by 1e-9 on the way: every amount of its last page.
    let data = tempfile::tempdir().unwrap();
    let rec = damaged_demo(data.path(), "usage-by-account/page-003.json", |body| {
        for result in body["ResultsByTime"].as_array_mut().unwrap() {
            for group in result["Groups"].as_array_mut().unwrap() {
                let cost = &mut group["Metrics"]["UnblendedCost"]["Amount"];
                let v: f64 = cost.as_str().unwrap().parse().unwrap();
                *cost = Value::from(format!("{}", v * 1e-9));
            }
        }
    });
    let bad = FakeCostExplorer::start(&rec);
    let (r, err) = report(&bad, &config, DAY2, &[]);
    assert_eq!(r["source"]["stale"], true, "{err}");
    let reasons = r["source"]["stale_reasons"].to_string();
    assert!(reasons.contains("usage slices disagree"), "{reasons}");
    assert!(reasons.contains("usage-by-account"), "{reasons}");
    assert_eq!(awards(&r), awards(&first));
    assert!(
        cached() == before,
        "a day of a disagreeing answer was cached"
    );
    assert!(err.contains("integrity"), "{err}");

    // With nothing cached to fall back on, the run has no data: exit 69, never a total
    // built on the altered slice.
    let fresh = tempfile::tempdir().unwrap();
    let config = live_config(fresh.path());
    let out = live(
        &bad,
        &["report", "--config", config.to_str().unwrap()],
        DAY1,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("usage slices disagree"), "{err}");
}

#[test]
fn check_config_reads_the_cache_without_any_request_or_write() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let args = ["check-config", "--config", config.to_str().unwrap()];
    // Before any run: nothing to check against, and no state store is created.
    let out = live(&server, &args, DAY1);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("rules not checked against cost data"),
        "{said}"
    );
    assert!(!dir.path().join("state").exists());
    report(&server, &config, DAY1, &[]);
    server.clear_log();
    let db = dir.path().join("state/creditburn.sqlite3");
    let before = std::fs::read(&db).unwrap();
    let out = live(&server, &args, DAY2);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("rules checked against the cached data"),
        "{said}"
    );
    assert!(said.contains("no AWS request made"), "{said}");
    assert!(server.requests().is_empty());
    assert!(
        std::fs::read(&db).unwrap() == before,
        "check-config changed the store"
    );
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            Just(Fault::Pass),
            Just(Fault::Throttle),
            Just(Fault::ServerError),
            Just(Fault::Truncate),
            Just(Fault::Garbage),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

        /// Live answers at any page size, with faults anywhere: a documented exit code,
        /// never a panic; a run that is not stale tells exactly what an unpaginated,
        /// faultless run tells, and a stale one says why.
        #[test]
        fn live_answers_give_documented_exits_and_the_same_figures(
            size in prop_oneof![Just(None), (1usize..2000).prop_map(Some)],
            faults in prop::collection::vec(fault(), 0..4),
        ) {
            let reference = {
                let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), None);
                let dir = tempfile::tempdir().unwrap();
                let config = live_config_from(dir.path(), "2026-11-12");
                figures(report(&server, &config, DAY1, &[]).0)
            };
            let server = FakeCostExplorer::with_page_size(&repo().join("fixtures/demo"), size);
            server.fail_next(&faults);
            let dir = tempfile::tempdir().unwrap();
            let config = live_config_from(dir.path(), "2026-11-12");
            let args = ["report", "--format", "json", "--as-of", "2026-11-20", "--config", config.to_str().unwrap()];
            let out = live(&server, &args, DAY1);
            let err = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            prop_assert!(matches!(code, Some(0 | 69)), "{code:?}: {err}");
            prop_assert!(!err.contains("panicked"), "{err}");
            if code == Some(0) {
                let r: Value = serde_json::from_slice(&out.stdout).unwrap();
                if r["source"]["stale"] == false {
                    prop_assert_eq!(figures(r), reference);
                } else {
                    prop_assert!(!r["source"]["stale_reasons"].as_array().unwrap().is_empty());
                }
            }
        }
    }
}

#[test]
fn no_credentials_is_one_line_saying_how_to_give_them() {
    // Regression: six WARN lines of the SDK's debug structures and a 1,200-character
    // error repeating the cause once per query.
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let rec = dir.path().join("rec");
    for command in ["run", "report", "record", "credits"] {
        let mut args = vec![command, "--config", config.to_str().unwrap()];
        if command == "record" {
            args.extend(["--out", rec.to_str().unwrap()]);
        }
        let out = against(&server, &args, false);
        let err = String::from_utf8_lossy(&out.stderr);
        if command == "credits" {
            // The demo config names no account: that is said first.
            assert_eq!(out.status.code(), Some(78), "{command}: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(78), "{command}: {err}");
        assert_eq!(err.lines().count(), 1, "{command}: {err}");
        assert!(
            err.starts_with("error: no AWS credentials were found"),
            "{command}: {err}"
        );
        assert!(
            err.contains("AWS_PROFILE") && err.contains("--profile"),
            "{err}"
        );
        assert!(err.len() < 600, "{} bytes: {err}", err.len());
        assert!(
            !err.contains("Some(") && !err.contains("{ "),
            "debug output: {err}"
        );
        assert!(server.requests().is_empty(), "no request goes out unsigned");
    }
}

#[test]
fn with_json_logs_every_line_on_stderr_is_a_json_object() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path());
    let c = config.to_str().unwrap();
    // A run with progress, summaries and a warning (a query the server breaks), then a
    // run that fails (a bad config), each with --log-format json.
    server.fail_next(&[Fault::Garbage]);
    let ok = live(
        &server,
        &["run", "--log-format", "json", "--config", c],
        DAY1,
    );
    std::fs::write(dir.path().join("bad.toml"), "[source]\nkind = 1\n").unwrap();
    let bad = live(
        &server,
        &[
            "run",
            "--log-format",
            "json",
            "--config",
            dir.path().join("bad.toml").to_str().unwrap(),
        ],
        DAY1,
    );
    assert_eq!(bad.status.code(), Some(78));
    let mut levels = Vec::new();
    for out in [&ok, &bad] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty());
        for line in err.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nin:\n{err}"));
            assert!(v["message"].is_string(), "{line}");
            levels.push(v["level"].as_str().unwrap().to_string());
        }
    }
    for level in ["INFO", "WARN", "ERROR"] {
        assert!(
            levels.iter().any(|l| l == level),
            "no {level} line: {levels:?}"
        );
    }
}

#[test]
fn the_billing_apis_gaps_are_refused_naming_the_credit_not_read_as_numbers() {
    // Regression: a missing remainingAmount read as $0 ("AWS shows $0.00 left"), NaN and
    // inf parsed, the currency went unchecked, a bad date became 1970-01-01 and a
    // missing status counted as enabled. Each is now an error naming the credit: the
    // last good snapshot stands in (here none: the run says so and goes on without).
    type Damage = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "missing",
            Box::new(|c: &mut Value| {
                c.as_object_mut().unwrap().remove("remainingAmount");
            }),
            "credit 1001's remainingAmount is missing",
        ),
        (
            "NaN",
            Box::new(|c: &mut Value| c["remainingAmount"]["currencyAmount"] = "NaN".into()),
            "credit 1001's remainingAmount \"NaN\" is not a number",
        ),
        (
            "inf",
            Box::new(|c: &mut Value| c["initialAmount"]["currencyAmount"] = "inf".into()),
            "credit 1001's initialAmount \"inf\" is not a number",
        ),
        (
            "EUR",
            Box::new(|c: &mut Value| c["remainingAmount"]["currencyCode"] = "EUR".into()),
            "credit 1001's remainingAmount is in \"EUR\"",
        ),
        (
            "status",
            Box::new(|c: &mut Value| {
                c.as_object_mut().unwrap().remove("creditStatus");
            }),
            "credit 1001's creditStatus is missing",
        ),
        (
            "date",
            Box::new(|c: &mut Value| c["startDate"] = (-5_000_000_000_i64).into()),
            "credit 1001's startDate is not a date a bill holds",
        ),
    ];
    for (name, damage, says) in cases {
        let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
        let dir = tempfile::tempdir().unwrap();
        let config = billing_config(dir.path());
        let mut poc = poc_credit();
        damage(&mut poc);
        server.set_billing(
            serde_json::json!({"credits": [poc]}),
            vec![serde_json::json!({"creditAllocationHistoryList": []})],
        );
        let (r, err) = report(&server, &config, DAY1, &[]);
        assert!(err.contains(says), "{name}: {err}");
        assert_eq!(r["source"]["stale"], true, "{name}");
        // Nothing of the refused snapshot reaches a figure.
        let poc = crate::support::award(&r, "poc-support");
        assert!(poc["credit"].is_null(), "{name}: {poc}");
    }
}

#[test]
fn a_reversal_in_the_allocation_history_takes_away_from_what_was_applied() {
    // Regression: a positive entry (a reversal) was added to the credit applied.
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_config(dir.path());
    server.set_billing(
        serde_json::json!({"credits": [poc_credit()]}),
        vec![serde_json::json!({"creditAllocationHistoryList": [
            applied("1001", "Amazon Bedrock", "2026-10", "-3100.25"),
            applied("1001", "Amazon Bedrock", "2026-11", "100.25"),
        ]})],
    );
    let (r, err) = report(&server, &config, DAY1, &[]);
    let poc = crate::support::award(&r, "poc-support");
    let applied = &poc["credit"]["applied_by_service"];
    assert_eq!(applied[0][0], "Amazon Bedrock", "{err}: {applied}");
    assert_eq!(applied[0][1], 3000.0, "{applied}");
}

#[test]
fn adopted_awards_are_written_by_the_toml_serializer_whatever_aws_says() {
    // Regression: the TOML was written by string formatting, AWS's text unescaped: a
    // description with a line break, or an id with a quote, made another file.
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    let dir = tempfile::tempdir().unwrap();
    let config = billing_config(dir.path());
    let mut odd = credit(
        "2002\" evil = \"1",
        "Prom\"otion",
        "5000",
        "4200.50",
        "2026-06-01",
        "2027-05-31",
    );
    odd["description"] = "line one\n[[awards]]\nid = \"injected\"".into();
    server.set_billing(
        serde_json::json!({"credits": [poc_credit(), odd]}),
        vec![serde_json::json!({"creditAllocationHistoryList": []})],
    );
    let out = live(
        &server,
        &["credits", "--adopt", "--config", config.to_str().unwrap()],
        DAY1,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let awards = parsed["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 1, "{text}");
    assert_eq!(awards[0]["credit_id"].as_str(), Some("2002\" evil = \"1"));
    assert_eq!(awards[0]["id"].as_str(), Some("credit-2002\" evil = \"1"));
}

#[test]
fn an_award_older_than_cost_explorer_reaches_opens_with_what_the_billing_api_applied() {
    // On 2027-09-21 Cost Explorer reaches back to 2026-08-01. The POC's credit started
    // on 2026-06-01: what AWS applied of it in June and July (1,000.00 + 1,500.50 +
    // 200.00, less a 100.00 reversal: 2,600.50) is its balance brought forward, and the
    // data's days from 2026-08-01 count on top: the POC's consumed is that of the same
    // award started on 2026-08-01, plus 2,600.50.
    let now = "2027-09-21T08:00:00Z";
    let consumed = |start: &str| {
        let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
        let dir = tempfile::tempdir().unwrap();
        let config = billing_config(dir.path());
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("start = \"2026-10-01\""));
        std::fs::write(
            &config,
            text.replacen("start = \"2026-10-01\"", &format!("start = \"{start}\""), 1),
        )
        .unwrap();
        server.set_billing(
            serde_json::json!({"credits": [credit(
                "1001", "Promotion", "25000", "9000.00", start, "2026-12-29"
            )]}),
            vec![serde_json::json!({"creditAllocationHistoryList": [
                applied("1001", "Amazon Bedrock", "2026-06", "-1000"),
                applied("1001", "Amazon Bedrock", "2026-07", "-1500.50"),
                applied("1001", "Amazon Elastic Compute Cloud - Compute", "2026-07", "-200"),
                applied("1001", "Amazon Bedrock", "2026-07", "100"),
                applied("1001", "Amazon Bedrock", "2026-08", "-5000"),
            ]})],
        );
        let (r, err) = report(&server, &config, now, &[]);
        let poc = crate::support::award(&r, "poc-support").clone();
        assert_eq!(r["data"]["first_day"], "2026-08-01", "{err}");
        poc
    };
    let from_august = consumed("2026-08-01");
    assert!(from_august["opening"].is_null());
    let from_june = consumed("2026-06-01");
    assert_eq!(
        from_june["opening"],
        serde_json::json!({"date": "2026-08-01", "amount": 2600.5, "source": "billing"})
    );
    assert!(
        from_june["no_data_reasons"].as_array().unwrap().is_empty(),
        "{from_june}"
    );
    let (a, b) = (
        from_august["consumed"].as_f64().unwrap(),
        from_june["consumed"].as_f64().unwrap(),
    );
    assert!((b - (a + 2600.50)).abs() < 0.006, "{a} + 2,600.50 != {b}");
}

#[test]
fn an_allocation_month_that_is_no_month_is_refused_naming_the_credit() {
    // Allocation months are compared as YYYY-MM text: one that is not such a month would
    // fall outside (or inside) a range by its spelling.
    for month in ["2026-13", "2026-7", "July"] {
        let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
        let dir = tempfile::tempdir().unwrap();
        let config = billing_config(dir.path());
        server.set_billing(
            serde_json::json!({"credits": [poc_credit()]}),
            vec![serde_json::json!({"creditAllocationHistoryList": [
                applied("1001", "Amazon Bedrock", month, "-3100.25"),
            ]})],
        );
        let (r, err) = report(&server, &config, DAY1, &[]);
        assert!(
            err.contains(&format!(
                "credit 1001's allocation month {month:?} is not a month of the form YYYY-MM"
            )),
            "{month}: {err}"
        );
        assert_eq!(r["source"]["stale"], true, "{month}");
    }
}
