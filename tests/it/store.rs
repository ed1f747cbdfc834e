//! The state store across upgrades: a store written by the previous schema (version 1,
//! `fixtures/state-v1`, written by creditburn at e348c62: a demo run through the file
//! transport, then a week later six alert copies queued for an SMTP server that was down)
//! opened by this one; and the files that are not a store.

use std::path::Path;

use rusqlite::Connection;
use serde_json::Value;

use crate::support::{creditburn, demo_config, repo};

fn user_version(store: &Path) -> i64 {
    Connection::open(store)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn report(config: &Path) -> Value {
    crate::support::report_json(config, &[])
}

/// The demo config as it was when the fixture was written: three awards (no accelerator,
/// no Founders), Portfolio to 31 July 2027.
fn v1_demo_config(dir: &Path) -> std::path::PathBuf {
    let config = demo_config(dir, &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    let blocks: Vec<&str> = text
        .split("\n[[awards]]\n")
        .filter(|b| !b.starts_with("id = \"accelerator\"") && !b.starts_with("id = \"founders\""))
        .collect();
    let text = blocks
        .join("\n[[awards]]\n")
        .replace("expiry = \"2027-08-11\"", "expiry = \"2027-07-31\"");
    assert_eq!(text.matches("\n[[awards]]\n").count(), 3, "{text}");
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_store_of_the_previous_schema_keeps_its_history_and_queue_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let config = v1_demo_config(dir.path());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let store = dir.path().join("state/creditburn.sqlite3");
    std::fs::copy(repo().join("fixtures/state-v1/creditburn.sqlite3"), &store).unwrap();
    assert_eq!(user_version(&store), 0, "the fixture predates versioning");

    // `report` reads it as it is: upgraded in memory, the file untouched.
    let before = std::fs::read(&store).unwrap();
    let r = report(&config);
    assert_eq!(r["deliveries"]["sent"], 6, "{}", r["deliveries"]);
    assert_eq!(r["deliveries"]["pending"], 6);
    assert!(r["deliveries"]["waiting"][0]["error"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    assert_eq!(std::fs::read(&store).unwrap(), before);

    // An hour after the last run: no alert is repeated (the history survived), and the six
    // copies that waited go out.
    let out = creditburn(&[
        "run",
        "--now",
        "2026-11-28T09:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("events: none; queued 0, sent 6"), "{err}");
    assert_eq!(user_version(&store), creditburn::store::schema::VERSION);
    let r = report(&config);
    assert_eq!(r["deliveries"]["sent"], 12, "{}", r["deliveries"]);
    assert_eq!(r["deliveries"]["pending"], 0);
    // One body per message now: three messages, not six copies.
    let conn = Connection::open(&store).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM delivery"), 12);
    assert_eq!(count("SELECT count(*) FROM message"), 6);
}

#[test]
fn a_newer_foreign_or_empty_store_is_refused_naming_the_file() {
    type Case = (&'static str, fn(&Path), &'static str);
    let cases: [Case; 4] = [
        (
            "truncated",
            |p| {
                let bytes =
                    std::fs::read(repo().join("fixtures/state-v1/creditburn.sqlite3")).unwrap();
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
            },
            "is damaged",
        ),
        (
            "newer",
            |p| {
                std::fs::copy(repo().join("fixtures/state-v1/creditburn.sqlite3"), p).unwrap();
                Connection::open(p)
                    .unwrap()
                    .pragma_update(None, "user_version", 99)
                    .unwrap();
            },
            "was written by a newer creditburn (schema version 99",
        ),
        (
            "foreign",
            |p| {
                Connection::open(p)
                    .unwrap()
                    .execute_batch("CREATE TABLE invoices (id INTEGER)")
                    .unwrap();
            },
            "is not a creditburn state store (it has a table \"invoices\")",
        ),
        (
            "not sqlite",
            |p| std::fs::write(p, "just some text, not a database at all\n".repeat(200)).unwrap(),
            "is not a creditburn state store (file is not a database)",
        ),
    ];
    for (name, make, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let store = dir.path().join("state/creditburn.sqlite3");
        make(&store);
        let before = std::fs::read(&store).unwrap();
        for command in ["run", "report"] {
            let out = creditburn(&[command, "--config", config.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(73), "{name} {command}: {err}");
            // One line, naming the file and what is wrong.
            let line = err.lines().last().unwrap_or_default();
            assert!(line.starts_with("error: "), "{name} {command}: {err}");
            assert!(
                line.contains(store.to_str().unwrap()),
                "{name} {command}: {err}"
            );
            assert!(line.contains(says), "{name} {command}: {err}");
            assert_eq!(err.matches("error").count(), 1, "{name} {command}: {err}");
        }
        assert_eq!(
            std::fs::read(&store).unwrap(),
            before,
            "{name}: left as it was"
        );
    }
}
