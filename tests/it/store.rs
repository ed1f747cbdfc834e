//! The state store across upgrades: a store written by the previous schema (version 1,
//! `fixtures/state-v1`, written by creditburn at e348c62: a demo run through the file
//! transport, then a week later six alert copies queued for an SMTP server that was down)
//! opened by this one; and the files that are not a store.

use crate::harness::Edit;
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
        .edited("expiry = \"2027-08-11\"", "expiry = \"2027-07-31\"");
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
    // copies that waited go out. The rules added since (the account's out-of-pocket
    // start, awards drawn by others, the date to apply by) are news, and bfs-docs'
    // forfeit is resolved: AWS will have drawn it to $0.00 by its expiry.
    let out = creditburn(&[
        "run",
        "--now",
        "2026-11-28T09:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "events: new account out_of_pocket, new poc-support credit_drawn_by_others, \
             new bfs-docs credit_drawn_by_others, new portfolio credit_drawn_by_others, \
             new account apply_by, resolved bfs-docs forfeit_risk; queued 10, sent 16"
        ),
        "{err}"
    );
    assert_eq!(user_version(&store), creditburn::store::schema::VERSION);
    let r = report(&config);
    assert_eq!(r["deliveries"]["sent"], 22, "{}", r["deliveries"]);
    assert_eq!(r["deliveries"]["pending"], 0);
    // One body per message now: three then and five now, not a body per copy.
    let conn = Connection::open(&store).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM delivery"), 22);
    assert_eq!(count("SELECT count(*) FROM message"), 11);
}

#[test]
fn a_newer_foreign_or_empty_store_is_refused_naming_the_file() {
    type Case = (&'static str, fn(&Path), &'static str);
    let cases: [Case; 5] = [
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
            // Regression: an SQLite file without a table (a first run killed between
            // creating the file and its schema) was taken for a fresh start, and every
            // alert was sent again.
            "schemaless",
            |p| {
                Connection::open(p)
                    .unwrap()
                    .execute_batch("CREATE TABLE t (x INTEGER); DROP TABLE t;")
                    .unwrap();
            },
            "holds no creditburn tables",
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
        for command in ["run", "report", "check-config"] {
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

/// The store in `state`: absent, or complete (creditburn's schema at its version).
fn absent_or_complete(state: &Path) -> Result<bool, String> {
    let path = state.join("creditburn.sqlite3");
    if !path.exists() {
        return Ok(false);
    }
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if version == creditburn::store::schema::VERSION && tables > 0 {
        Ok(true)
    } else {
        Err(format!("version {version}, {tables} tables"))
    }
}

#[test]
fn no_kill_while_the_store_is_first_made_leaves_it_half_made() {
    // Regression: a kill in the millisecond between creating the store file and writing
    // its first page left a 0-byte store that every later run refused (exit 73). The
    // daemon's first act is to make the store, so its start is where the kills land.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[schedule]\ncron = \"0 0 1 1 *\"\n"),
    )
    .unwrap();
    let state = dir.path().join("state");
    let daemon = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_creditburn"));
        cmd.args(["daemon", "--config"]).arg(&config);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    };
    // At each step of the making: killed there, the next run finds a store it can use.
    for step in ["store-created", "store-migrated", "store-linked"] {
        let _ = std::fs::remove_dir_all(&state);
        let status = daemon(&[("CREDITBURN_FAILPOINT", step)]).wait().unwrap();
        assert!(!status.success(), "{step}: the failpoint aborts");
        absent_or_complete(&state).unwrap_or_else(|e| panic!("{step}: {e}"));
        let out = crate::support::run_next_morning(&config);
        assert!(
            out.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(absent_or_complete(&state), Ok(true));
    }
    // And 300 kills at moments spread over the daemon's start.
    let mut seed: u64 = 0x2026_1205;
    let (mut made, mut not_yet) = (0, 0);
    for i in 0..300 {
        let _ = std::fs::remove_dir_all(&state);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = std::time::Duration::from_micros((seed >> 33) % 60_000);
        let mut child = daemon(&[]);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        match absent_or_complete(&state) {
            Ok(true) => made += 1,
            Ok(false) => not_yet += 1,
            Err(e) => panic!("kill {i} after {delay:?} left the store half made: {e}"),
        }
    }
    // The kills fell both before and after the store was made.
    assert!(made > 0 && not_yet > 0, "{made} made, {not_yet} not yet");
    // A store the kills left is used by the next run as it is.
    let out = crate::support::run_next_morning(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
