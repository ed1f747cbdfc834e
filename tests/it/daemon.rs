//! The daemon as a process: one instance per state folder, and SIGTERM in the middle of
//! a run (stopped within 10 seconds, state intact, lock released).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::aws_server::{FakeCostExplorer, Fault};
use crate::harness::Daemon;
use crate::support::{demo_config, repo};

fn with_schedule(config: &Path, line: &str) {
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(&format!("\n[schedule]\ncron = \"{line}\"\n"));
    std::fs::write(config, text).unwrap();
}

#[test]
fn two_daemons_on_one_state_never_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    with_schedule(&config, "0 0 1 1 *");
    let mut first = Daemon::start(&config, &[], &[]);
    first.wait_for("daemon: schedule", Duration::from_secs(30));
    // A second daemon, and a one-shot run, are both turned away while it lives.
    for args in [vec!["daemon"], vec!["run"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_creditburn"))
            .args(&args)
            .args(["--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{args:?}: {err}");
        assert!(err.contains("holds the lock"), "{err}");
    }
    let (code, took) = first.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Gone: the state is free again.
    let out = Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_mid_run_stops_within_ten_seconds_and_leaves_the_state_sound() {
    let server = FakeCostExplorer::start(&repo().join("fixtures/demo"));
    // Every request hangs: the run sits in a fetch when the signal comes.
    server.fail_next(&[Fault::Hang; 8]);
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[source]").unwrap();
    let end = text[start..].find("[state]").unwrap() + start;
    let live = "[source]\nkind = \"aws\"\nmax_attempts = 1\nattempt_timeout_seconds = 60\noperation_timeout_seconds = 120\n\n";
    std::fs::write(&config, format!("{}{live}{}", &text[..start], &text[end..])).unwrap();
    with_schedule(&config, "0 0 1 1 *");
    let env = [
        ("AWS_ENDPOINT_URL_COST_EXPLORER", server.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ];
    let mut daemon = Daemon::start(&config, &["--run-at-start"], &env);
    daemon.wait_for("started", Duration::from_secs(30));
    // Let the run reach its hanging request.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !server.requests().is_empty(),
        "the run reached Cost Explorer"
    );
    let (code, took) = daemon.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    let seen: Vec<String> = daemon.lines.try_iter().collect();
    assert!(
        seen.iter().any(|l| l.contains("abandoned at shutdown")),
        "{seen:#?}"
    );
    // The state store is sound and free: a plain SQLite check, then the lock.
    let db = rusqlite::Connection::open(dir.path().join("state/creditburn.sqlite3")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(db);
    let relock = Command::new("flock")
        .args([
            "-n",
            dir.path().join("state/daemon.lock").to_str().unwrap(),
            "true",
        ])
        .status()
        .unwrap();
    assert!(relock.success(), "the lock was released");
}

/// A loopback address and port nothing listens on.
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn request(addr: &str, method: &str, path: &str) -> String {
    request_with(addr, method, path, "")
}

/// A request with `headers` (each line ending in CRLF) added.
fn request_with(addr: &str, method: &str, path: &str, headers: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn get(addr: &str, path: &str) -> String {
    request(addr, "GET", path)
}

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn health_and_metrics_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    with_schedule(&config, "0 0 1 1 *");
    let addr = free_addr();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[daemon]\nlisten = \"{addr}\"\n"));
    std::fs::write(&config, text).unwrap();
    let mut daemon = Daemon::start(&config, &["--run-at-start"], &[]);
    daemon.wait_for(": ok", Duration::from_secs(60));

    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let metrics = get(&addr, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    // The hand-checked figures of the POC award, and the run's deliveries.
    for line in [
        "creditburn_award_remaining{award=\"poc-support\",currency=\"USD\"} 10892.26",
        "creditburn_award_daily_burn{award=\"poc-support\",currency=\"USD\"} 619.09",
        // The trailing mean's runway and the forecast's, named apart: the report and
        // the emails give the forecast's date (2026-12-06, 16 days after as-of).
        "creditburn_award_trailing_mean_runway_days{award=\"poc-support\",currency=\"USD\"} 17.6",
        "creditburn_award_forecast_days_to_exhaustion{award=\"poc-support\",currency=\"USD\",quantile=\"0.5\"} 16.0",
        "creditburn_award_forecast_days_to_exhaustion{award=\"poc-support\",currency=\"USD\",quantile=\"0.1\"} 13.0",
        "creditburn_award_forecast_exhaustion_timestamp_seconds{award=\"poc-support\",currency=\"USD\",quantile=\"0.9\"} 1796947200.0",
        "creditburn_award_forecast_unused_at_expiry{award=\"bfs-docs\",currency=\"USD\",quantile=\"0.5\"} 4536.23",
        "creditburn_award_status{award=\"bfs-docs\",status=\"forfeit_risk\"} 1",
        "creditburn_last_run_success 1",
        "creditburn_messages_sent_total 14",
        "# TYPE creditburn_cost_explorer_requests counter",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    // The Prometheus project's own parser reads the exposition.
    let parsed = parse_exposition(body(&metrics));
    for family in [
        "creditburn_award_remaining gauge 5",
        "creditburn_award_status gauge 5",
        "creditburn_messages_sent counter 1",
        "creditburn_cost_explorer_requests counter 1",
        "creditburn_last_run_success gauge 1",
    ] {
        assert!(
            parsed.lines().any(|l| l == family),
            "{family:?} not in\n{parsed}"
        );
    }
    assert!(get(&addr, "/nope").starts_with("HTTP/1.1 404"));
    let post = request(&addr, "POST", "/health");
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(
        post.to_ascii_lowercase().contains("allow: get, head"),
        "{post}"
    );
    let head = request(&addr, "HEAD", "/health");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body(&head), "", "HEAD has no body");

    // A flood of connections that never send a request must not stop /health from
    // answering: each is cut off after the header timeout, and at most a bounded number
    // are served at once.
    let flood: Vec<std::net::TcpStream> = (0..400)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    assert!(flood.len() > 300, "opened {}", flood.len());
    let started = std::time::Instant::now();
    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "/health took {:?} under the flood",
        started.elapsed()
    );
    drop(flood);
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0));
}

/// `name type samples` per metric family, as `prometheus_client`'s OpenMetrics parser
/// (Python, from PyPI: tests/requirements.txt) reads `text`; it fails on any syntax error.
fn parse_exposition(text: &str) -> String {
    use std::io::Write;
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\nfor f in parse(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test installs prometheus_client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the exposition does not parse: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn logs_are_json_lines_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    with_schedule(&config, "0 0 1 1 *");
    let mut daemon = Daemon::start(&config, &["--run-at-start", "--log-format", "json"], &[]);
    let seen = daemon.wait_for("outcome", Duration::from_secs(60));
    daemon.terminate();
    let events: Vec<serde_json::Value> = seen
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let finished = events
        .iter()
        .find(|e| e["outcome"].is_string())
        .expect("a run's outcome");
    assert_eq!(finished["outcome"], "ok");
    assert_eq!(finished["level"], "INFO");
    assert!(finished["slot"].is_string());
    assert!(
        events.iter().any(|e| e["schedule"] == "0 0 1 1 *"),
        "{events:#?}"
    );
}

#[test]
fn the_status_page_and_metrics_need_the_token_and_health_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    with_schedule(&config, "0 0 1 1 *");
    let addr = free_addr();
    let token = "s3cret-daemon-token-0123456789";
    std::fs::write(dir.path().join("daemon-token"), format!("{token}\n")).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[daemon]\nlisten = \"{addr}\"\ntoken_file = \"daemon-token\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let mut daemon = Daemon::start(&config, &["--run-at-start"], &[]);
    daemon.wait_for(": ok", Duration::from_secs(60));

    let bearer = format!("Authorization: Bearer {token}\r\n");
    for path in ["/", "/metrics"] {
        let open = get(&addr, path);
        assert!(open.starts_with("HTTP/1.1 401"), "{path}: {open}");
        assert!(
            open.to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{open}"
        );
        assert!(
            !open.contains("poc-support"),
            "{path}: no figure without the token"
        );
        let wrong = request_with(
            &addr,
            "GET",
            path,
            "Authorization: Bearer s3cret-daemon-token-012345678\r\n",
        );
        assert!(wrong.starts_with("HTTP/1.1 401"), "{path}: {wrong}");
        let longer = request_with(
            &addr,
            "GET",
            path,
            &format!("Authorization: Bearer {token}x\r\n"),
        );
        assert!(longer.starts_with("HTTP/1.1 401"), "{path}: {longer}");
        let ok = request_with(&addr, "GET", path, &bearer);
        assert!(ok.starts_with("HTTP/1.1 200"), "{path}: {ok}");
    }
    assert!(get(&addr, "/health").starts_with("HTTP/1.1 200"));

    let page = request_with(&addr, "GET", "/", &bearer);
    let (head, html) = page.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    for id in [
        "poc-support",
        "accelerator",
        "bfs-docs",
        "founders",
        "portfolio",
    ] {
        assert!(html.contains(&format!("id=\"award-{id}\"")), "{id}");
    }
    assert!(!html.contains(token), "the token is not on the page");
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0));
}
