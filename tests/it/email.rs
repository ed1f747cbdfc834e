//! Snapshots of the rendered alert emails on fixtures/demo (UPDATE_EXPECT=1 to refresh).

use crate::harness::Edit;
use expect_test::expect_file;

fn demo_emails() -> Vec<creditburn::notify::email::AlertEmail> {
    let (config, table) = crate::support::demo();
    let report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    first_run_emails(&report)
}

/// The emails a first run sends on `report`: every alert is new.
fn first_run_emails(
    report: &creditburn::analyse::report::Report,
) -> Vec<creditburn::notify::email::AlertEmail> {
    let now = "2026-11-21T08:00:00Z".parse().unwrap();
    let decision = creditburn::notify::state::decide(
        &report.alerts,
        &[],
        &|_| None,
        report.as_of,
        now,
        chrono::Duration::hours(24),
    );
    creditburn::notify::email::render(report, &decision.events, now)
}

#[test]
fn poc_exhaustion_email() {
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("poc-support"))
        .unwrap();
    // AWS's balance of it is already gone, drawn by other spend: that leads.
    assert!(
        e.subject
            .starts_with("POC award poc-support: AWS's balance is already $0.00, drawn by other spend ($15,273.47 so far: platform $12,110.98"),
        "{}",
        e.subject
    );
    assert!(e.text.contains("runs out on 2026-12-06"), "{}", e.text);
    expect_file!["snapshots/poc-support.txt"].assert_eq(&e.text);
    expect_file!["snapshots/poc-support.html"].assert_eq(&e.html);
}

#[test]
fn forfeit_email_suggests_pulling_work_forward() {
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("accelerator"))
        .unwrap();
    // What AWS forfeits: its balance at expiry as it draws the credits.
    assert!(
        e.subject.starts_with(
            "GenAI Accelerator award accelerator will leave $9,837.06 unused when it expires on 2027-11-14, as AWS draws it"
        ),
        "{}",
        e.subject
    );
    assert!(e.html.contains("pull work forward"), "{}", e.html);
    assert!(e.html.contains("$9,837.06 at stake"), "{}", e.html);
}

#[test]
fn an_award_aws_has_already_spent_gets_no_advice_to_spend_more() {
    // bfs-docs: its own workload leaves $4,536.23 of it at expiry, but AWS has drawn it
    // to $0.00 for other spend. Its message says so, asks no one to pull work forward,
    // and offers its workload's savings, which are real money now.
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("bfs-docs"))
        .unwrap();
    assert!(
        e.subject
            .starts_with("Build for Startups award bfs-docs: AWS's balance is already $0.00"),
        "{}",
        e.subject
    );
    assert!(!e.html.contains("pull work forward"), "{}", e.html);
    assert!(!e.text.contains("will be forfeited"), "{}", e.text);
    assert!(!e.text.contains("on course to be forfeited"), "{}", e.text);
    assert!(
        e.text
            .contains("document-pipeline: move Claude Opus 4.1's calls to Claude Opus 4.5"),
        "{}",
        e.text
    );
    expect_file!["snapshots/bfs-docs.txt"].assert_eq(&e.text);
}

#[test]
fn on_track_award_sends_no_email_but_for_what_aws_draws() {
    // Portfolio is on track in its workloads' view: its only message is that AWS draws
    // it for other spend too, so that it runs out on 2027-02-15.
    let emails = demo_emails();
    let portfolio: Vec<_> = emails
        .iter()
        .filter(|e| e.award.as_deref() == Some("portfolio"))
        .collect();
    assert_eq!(portfolio.len(), 1);
    assert!(
        portfolio[0].subject.contains("as AWS draws it, its balance of $91,526.13 runs out on 2027-02-15, where its workloads' own figures last to 2027-08-11"),
        "{}",
        portfolio[0].subject
    );
}

/// Screenshots `html` in headless Chromium (Debian's package) at 800x1200.
fn screenshot(dir: &std::path::Path, html: &str) -> (u32, u32, Vec<u8>) {
    let page = dir.join("email.html");
    std::fs::write(&page, html).unwrap();
    crate::support::screenshot(dir, &page, 800, 1200)
}

fn count_near(rgb: &[u8], color: (u8, u8, u8)) -> usize {
    crate::support::count_near(rgb, color, 12)
}

#[test]
fn the_alert_email_looks_right_in_a_browser() {
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("poc-support"))
        .unwrap();
    let chart = e
        .chart
        .as_ref()
        .expect("the alert carries a burn-down chart");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chart.png"), chart).unwrap();
    // As a mail client does: the cid: reference resolves to the inline part.
    let html = e.html.replace(
        &format!("cid:{}", creditburn::notify::email::CHART_CID),
        "chart.png",
    );
    let (w, h, rgb) = screenshot(dir.path(), &html);
    assert_eq!((w, h), (800, 1200));
    let white = count_near(&rgb, (255, 255, 255));
    let total = (w * h) as usize;
    assert!(
        white < total * 97 / 100,
        "the page is blank: {white} of {total} pixels white"
    );
    // The chart is on screen: its balance line (blue) and projection (orange).
    let c = creditburn::notify::chart::ACTUAL;
    let blue = count_near(&rgb, (c.0, c.1, c.2));
    let c = creditburn::notify::chart::PROJECTION;
    let orange = count_near(&rgb, (c.0, c.1, c.2));
    assert!(
        blue > 300 && orange > 150,
        "chart colours on screen: blue {blue}, orange {orange}"
    );
    // The markers: the expiry line drawn whole (not clipped at the edge), today's
    // dashes, and the dot where the projection runs out.
    let c = creditburn::notify::chart::EXPIRY;
    let red = count_near(&rgb, (c.0, c.1, c.2));
    let c = creditburn::notify::chart::TODAY;
    let green = count_near(&rgb, (c.0, c.1, c.2));
    let c = creditburn::notify::chart::EXHAUSTION;
    let purple = count_near(&rgb, (c.0, c.1, c.2));
    assert!(
        red > 600 && green > 200 && purple > 100,
        "markers on screen: expiry {red}, today {green}, runs out {purple}"
    );
    // And without the chart file those colours are gone: they came from the chart.
    std::fs::remove_file(dir.path().join("chart.png")).unwrap();
    let (_, _, bare) = screenshot(dir.path(), &html);
    for c in [
        creditburn::notify::chart::PROJECTION,
        creditburn::notify::chart::EXHAUSTION,
        creditburn::notify::chart::TODAY,
    ] {
        assert!(count_near(&bare, (c.0, c.1, c.2)) < 20);
    }
}

#[test]
fn the_digest_table_pads_every_cell() {
    // Regression: the digest's cells had no padding, so figures ran together
    // ("$100,000.00$30,506.55").
    let (config, table) = crate::support::demo();
    let report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    let now = "2026-11-21T08:00:00Z".parse().unwrap();
    let digest = creditburn::notify::email::render_digest(&report, &Default::default(), now);
    let cells: Vec<&str> = digest.html.split("<td").skip(1).collect();
    assert!(
        cells.len() >= 21,
        "three awards of seven cells: {}",
        cells.len()
    );
    for cell in cells {
        let style = cell
            .strip_prefix(" style=\"")
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("a cell without style: <td{cell}"));
        assert!(style.contains("padding:4px 12px"), "{style}");
    }
    // The money columns line up on the right.
    assert!(digest
        .html
        .contains("text-align:right;white-space:nowrap\">$100,000.00</td>"));
    // It says when the account starts paying, as AWS draws the credits (the demo's
    // figures: fixtures/README.md).
    let text = digest.text.replace("\n", " ");
    assert!(
        text.contains("Out of pocket (as AWS draws the credits): $2,247.65 so far"),
        "{}",
        digest.text
    );
    // It heads the digest, before the table, in bold.
    let head = digest
        .html
        .find("<p><b>Out of pocket (as AWS draws the credits)");
    let table = digest.html.find("<table");
    assert!(head.is_some() && head < table, "{}", digest.html);
    assert!(digest
        .text
        .starts_with("Out of pocket (as AWS draws the credits)"));
}

/// The demo's report, as `report --format json` and as the 80-column table: the JSON
/// contract and the table finance reads, pinned so a reshaping of the code cannot move
/// them (UPDATE_EXPECT=1 to refresh after a change meant to show).
#[test]
fn the_report_json_and_table_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        crate::support::demo_config(dir.path(), &crate::support::repo().join("fixtures/demo"));
    let json = crate::support::report_json(&config, &[]);
    let mut json = serde_json::to_string_pretty(&json).unwrap();
    json.push('\n');
    // The recording's path is the one thing that depends on where the test runs.
    let json = json.replace(
        &crate::support::repo()
            .join("fixtures/demo")
            .display()
            .to_string(),
        "<repo>/fixtures/demo",
    );
    expect_file!["snapshots/report.json"].assert_eq(&json);
    let out = crate::support::creditburn(&["report", "--config", config.to_str().unwrap()]);
    assert!(out.status.success());
    expect_file!["snapshots/report.txt"].assert_eq(&String::from_utf8(out.stdout).unwrap());
}

#[test]
fn the_digest_of_a_thousand_awards_stays_bounded_and_names_what_it_leaves_out() {
    // Regression: the digest listed every award in full (and every pair of awards AWS's
    // order could not tell apart): 33 MB at 400 awards.
    let (_, table) = crate::support::demo();
    let mut text = String::new();
    for i in 0..1_000 {
        // Each a different expiry within a year, funding one of the three workloads.
        let expiry =
            chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() + chrono::Days::new(i % 300);
        let workload = ["platform", "document-pipeline", "support-assistant"][i as usize % 3];
        text.push_str(&format!(
            "[[awards]]\nid = \"many-{i:04}\"\nprogram = \"other\"\namount = {}\nstart = \"2026-08-01\"\nexpiry = \"{expiry}\"\nworkloads = [\"{workload}\"]\n",
            100_000 + i
        ));
    }
    let base = std::fs::read_to_string(crate::support::repo().join("config/example.toml")).unwrap();
    assert!(base.contains("drawdown_order = \"aws\""));
    let many = creditburn::config::parse(
        &format!(
            "{}\n{text}",
            base.edited("drawdown_order = \"aws\"", "drawdown_order = \"listed\"")
        ),
        &crate::support::repo().join("config"),
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(many.awards.len(), 1_005);
    let report =
        creditburn::analyse::report::assess(&table, &many, table.last_day, None, None).unwrap();
    let now = "2026-11-21T08:00:00Z".parse().unwrap();
    let digest = creditburn::notify::email::render_digest(&report, &Default::default(), now);
    let size = digest.text.len() + digest.html.len();
    assert!(size < 250_000, "{size} bytes");
    assert!(
        digest
            .html
            .contains("... and 805 more (creditburn report lists them all)"),
        "the table names what it leaves out"
    );
    assert!(digest
        .text
        .contains("more (creditburn report lists them all)"));
    // The awards that need attention come first, in full.
    assert!(
        digest.text.contains("poc-support (exhaustion risk)"),
        "{}",
        &digest.text[..2000]
    );
}

#[test]
fn an_uncertain_verdict_says_so_in_the_alert_the_digest_and_its_subject() {
    let (config, table) = crate::support::demo();
    let mut report =
        creditburn::analyse::report::assess(&table, &config, table.last_day, None, None).unwrap();
    // bfs-docs is a forfeit risk on the demo; its range made to reach on track.
    let a = report
        .awards
        .iter_mut()
        .find(|a| a.id == "bfs-docs")
        .unwrap();
    assert_eq!(a.status, creditburn::analyse::project::Status::ForfeitRisk);
    assert_eq!(
        a.confidence,
        creditburn::analyse::analysis::Confidence::Firm
    );
    a.confidence = creditburn::analyse::analysis::Confidence::Uncertain;
    a.range_reaches = vec![creditburn::analyse::project::Status::OnTrack];
    // As AWS draws it, nothing is left of it at expiry; made to agree with its
    // workloads' view, so that the forfeit is theirs and its range stands.
    a.account_view.unused_at_expiry = a.projected_unused_at_expiry;
    report.alerts = creditburn::analyse::alerts::decide(&report.awards, &config.alerts);
    let emails = first_run_emails(&report);
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("bfs-docs"))
        .unwrap();
    assert!(
        e.subject.ends_with(", though the range reaches on track"),
        "{}",
        e.subject
    );
    for body in [&e.text, &e.html] {
        assert!(
            body.contains(
                "forfeit risk (uncertain: likely to be forfeited, but the range reaches on track)"
            ),
            "{body}"
        );
    }
    let now = "2026-11-21T08:00:00Z".parse().unwrap();
    let digest = creditburn::notify::email::render_digest(&report, &Default::default(), now);
    assert!(
        digest.text.contains("bfs-docs (forfeit risk, uncertain):"),
        "{}",
        digest.text
    );
    assert!(
        digest
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains("Uncertain: likely to be forfeited, but the range reaches on track."),
        "{}",
        digest.text
    );
}
