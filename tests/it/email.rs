//! Snapshots of the rendered alert emails on fixtures/demo (UPDATE_EXPECT=1 to refresh).

use expect_test::expect_file;

fn demo_emails() -> Vec<creditburn::email::AlertEmail> {
    let (config, table) = crate::support::demo();
    let report = creditburn::report::assess(&table, &config, table.last_day, None).unwrap();
    // A first run: every alert is new.
    let now = "2026-11-21T08:00:00Z".parse().unwrap();
    let decision = creditburn::notify::decide(
        &report.alerts,
        &[],
        &|_| None,
        report.as_of,
        now,
        chrono::Duration::hours(24),
    );
    creditburn::email::render(&report, &decision.events, now)
}

#[test]
fn poc_exhaustion_email() {
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("poc-support"))
        .unwrap();
    assert_eq!(
        e.subject,
        "POC award poc-support runs out on 2026-12-08, 21 days before it expires"
    );
    expect_file!["snapshots/poc-support.txt"].assert_eq(&e.text);
    expect_file!["snapshots/poc-support.html"].assert_eq(&e.html);
}

#[test]
fn forfeit_email_suggests_pulling_work_forward() {
    let emails = demo_emails();
    let e = emails
        .iter()
        .find(|e| e.award.as_deref() == Some("bfs-docs"))
        .unwrap();
    assert!(e.html.contains("pull work forward"), "{}", e.html);
    // Savings would only grow the forfeit: none are offered for this award.
    assert!(!e.text.contains("batch inference"), "{}", e.text);
    assert!(e.html.contains("at stake"));
    expect_file!["snapshots/bfs-docs.txt"].assert_eq(&e.text);
}

#[test]
fn on_track_award_sends_no_email() {
    assert!(demo_emails()
        .iter()
        .all(|e| e.award.as_deref() != Some("portfolio")));
}
