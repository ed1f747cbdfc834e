//! The binary end to end on fixtures/demo: the JSON contract, `run` writing the outbox,
//! `check-config`, and bad input (exit codes, one-line errors, nothing written).

use crate::harness::Edit;
use std::path::Path;

use serde_json::Value;

use crate::support::{award, copy_recording, creditburn, demo_config, repo};

fn json_report(config: &Path, extra: &[&str]) -> Value {
    crate::support::report_json(config, extra)
}

#[test]
fn report_json_contract_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let r = json_report(&config, &[]);
    // --as-of defaults to the last day the recording covers.
    assert_eq!(r["as_of"], "2026-11-20");
    assert_eq!(r["currency"], "USD");
    for key in ["awards", "workloads", "alerts", "hints"] {
        assert!(r[key].is_array(), "{key} is an array");
    }
    let awards = r["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 5);
    for a in awards {
        for key in [
            "amount",
            "consumed",
            "remaining",
            "daily_burn",
            "projected_unused_at_expiry",
        ] {
            assert!(a[key].is_number(), "{key} is a number in {a}");
        }
        for key in ["id", "program", "start_date", "expiry_date", "status"] {
            assert!(a[key].is_string(), "{key} is a string in {a}");
        }
        let p = &a["projected_exhaustion_date"];
        assert!(p.is_null() || p.as_str().is_some_and(|s| s.len() == 10));
    }
    let status = |id: &str| award(&r, id)["status"].as_str().unwrap().to_string();
    assert_eq!(status("poc-support"), "exhaustion_risk");
    assert_eq!(status("bfs-docs"), "forfeit_risk");
    assert_eq!(status("portfolio"), "on_track");
    let poc = award(&r, "poc-support");
    assert_eq!(poc["projected_exhaustion_date"], "2026-12-06");
    assert_eq!(poc["program"], "bedrock_poc");
    let bfs = award(&r, "bfs-docs");
    assert!(bfs["projected_exhaustion_date"].is_null());
    assert!(bfs["projected_unused_at_expiry"].as_f64().unwrap() > 1000.0);

    let kinds: Vec<&str> = r["hints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "batch_inference",
        "prompt_caching",
        "smaller_model",
        "pull_work_forward",
    ] {
        assert!(kinds.contains(&kind), "a {kind} hint in {kinds:?}");
    }
    // The workloads' spend (each rounded to the cent) and the unattributed add up to the
    // recording's own total, summed from its JSON.
    let d = &r["data"];
    let recorded = crate::support::recorded_usage_total(
        &crate::support::repo().join("fixtures/demo"),
        r["as_of"].as_str().unwrap(),
    );
    let workloads: f64 = r["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["cost"].as_f64().unwrap())
        .sum();
    let parts = workloads + d["unattributed"].as_f64().unwrap();
    let cents = r["workloads"].as_array().unwrap().len() as f64 * 0.005 + 0.005;
    assert!((recorded - parts).abs() <= cents, "{parts} != {recorded}");
    assert!((d["usage_total"].as_f64().unwrap() - recorded).abs() <= 0.005);
}

#[test]
fn the_demo_gives_the_figures_of_the_generators_own_ledger() {
    // fixtures/demo.expected.json holds what fixtures/generate_demo.py derives from the
    // lines it generated, by plain arithmetic apart from creditburn's code: the usage,
    // what each workload and nothing took, the credits applied, and each award's
    // consumed, spend it does not cover, and the day it ran out.
    let expected: Value =
        serde_json::from_slice(&std::fs::read(repo().join("fixtures/demo.expected.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let near = |got: &Value, want: &Value, what: &str| {
        let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
        assert!(
            (g - w).abs() <= 0.011,
            "{what}: {g} where the ledger has {w}"
        );
    };
    let days = expected["as_of"].as_object().unwrap();
    assert_eq!(days.len(), 2);
    for (as_of, want) in days {
        let r = json_report(&config, &["--as-of", as_of]);
        let d = &r["data"];
        for key in ["usage_total", "unattributed", "credits_applied"] {
            near(&d[key], &want[key], &format!("{as_of} {key}"));
        }
        for (name, cost) in want["workloads"].as_object().unwrap() {
            let w = r["workloads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["name"] == *name)
                .unwrap_or_else(|| panic!("{as_of}: no workload {name}"));
            near(&w["cost"], cost, &format!("{as_of} workload {name}"));
        }
        for (id, figures) in want["awards"].as_object().unwrap() {
            let a = award(&r, id);
            near(
                &a["consumed"],
                &figures["consumed"],
                &format!("{as_of} {id} consumed"),
            );
            near(
                &a["not_covered"],
                &figures["not_covered"],
                &format!("{as_of} {id} not covered"),
            );
            match figures["exhausted_on"].as_str() {
                Some(day) => {
                    assert_eq!(a["status"], "exhausted", "{as_of} {id}");
                    assert_eq!(a["projected_exhaustion_date"], day, "{as_of} {id}");
                }
                None => assert_ne!(a["status"], "exhausted", "{as_of} {id}"),
            }
        }
    }
}

#[test]
fn as_of_moves_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let r = json_report(&config, &["--as-of", "2026-10-10"]);
    assert_eq!(r["as_of"], "2026-10-10");
    let poc = award(&r, "poc-support").clone();
    // Before the launch the POC burns slowly: it is on course to be forfeited.
    assert_eq!(poc["status"], "forfeit_risk");
    let r = json_report(&config, &["--as-of", "2026-09-15"]);
    let poc = award(&r, "poc-support").clone();
    assert_eq!(poc["status"], "not_started");
}

#[test]
fn report_table_fits_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("poc-support"));
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line:?}",
            line.chars().count()
        );
    }
}

#[test]
fn run_writes_multipart_alerts_to_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let now = "2026-11-21T08:00:00Z";
    let out = creditburn(&["run", "--now", now, "--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = outbox_files(dir.path());
    // Three awards at risk and Founders used up (Portfolio behind it), each new; the
    // POC, bfs-docs and Portfolio drawn by other spend as AWS draws them (the first two
    // already at $0.00, which leads their messages); the account's out-of-pocket start;
    // and the first digest.
    assert_eq!(
        files,
        [
            "2026-11-20.accelerator.forfeit_risk.new.20261121T080000Z.eml",
            "2026-11-20.account.out_of_pocket.new.20261121T080000Z.eml",
            "2026-11-20.bfs-docs.credit_drawn_by_others.new.20261121T080000Z.eml",
            "2026-11-20.digest.20261121T080000Z.eml",
            "2026-11-20.founders.consumed.new.20261121T080000Z.eml",
            "2026-11-20.poc-support.credit_drawn_by_others.new.20261121T080000Z.eml",
            "2026-11-20.portfolio.credit_drawn_by_others.new.20261121T080000Z.eml",
        ]
    );
    let eml = std::fs::read_to_string(dir.path().join("outbox").join(&files[5])).unwrap();
    assert!(eml.contains("Content-Type: multipart/alternative"));
    assert!(eml.contains("Content-Type: text/plain"));
    assert!(eml.contains("Content-Type: text/html"));
    assert!(eml.contains("To: finance@example.com, cfo@example.com"));
    assert!(eml.contains(
        "Message-ID: <2026-11-20.poc-support.credit_drawn_by_others.new.20261121T080000Z@creditburn>"
    ));
    assert!(eml.contains(
        "Subject: POC award poc-support: AWS's balance is already $0.00, drawn by\r\n other spend"
    ));
    // Its own run-out, by its workload's figures, is in the same message.
    assert!(eml.contains("POC award poc-support runs out on 2026-12-06, 23 days before"));

    // A second run, later the same day or after a restart, repeats nothing.
    let again = creditburn(&[
        "run",
        "--now",
        "2026-11-21T09:30:00Z",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert_eq!(outbox_files(dir.path()).len(), 7);
    // A day later the warnings still in force are sent again, once (not the info
    // alerts: a consumed threshold is news once); the digest waits a week.
    let next_day = creditburn(&[
        "run",
        "--now",
        "2026-11-22T08:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(next_day.status.success());
    let files = outbox_files(dir.path());
    // Five messages repeat: the account's out-of-pocket start, the accelerator's
    // forfeit, and the three awards drawn by others (the POC's run-out within its).
    assert_eq!(files.len(), 12, "{files:?}");
    assert!(files.contains(
        &"2026-11-20.poc-support.credit_drawn_by_others.repeat.20261122T080000Z.eml".to_string()
    ));
    // Founders at 100% consumed (info: Portfolio pays behind it) was sent once only.
    assert!(
        files.iter().any(|f| f.contains(".founders.consumed.new.")),
        "{files:?}"
    );
    assert!(
        !files
            .iter()
            .any(|f| f.contains(".founders.consumed.repeat.")),
        "{files:?}"
    );
}

#[test]
fn a_run_killed_before_its_commit_saves_no_report_for_the_next_spike_check() {
    // The next run's spike check looks back to the saved report's last day: a run that
    // committed no alerts must not move it on.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let run = |failpoint: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_creditburn"));
        cmd.args(["run", "--now", "2026-11-21T08:00:00Z", "--config"])
            .arg(&config);
        if let Some(step) = failpoint {
            cmd.env("CREDITBURN_FAILPOINT", step);
        }
        cmd.output().unwrap()
    };
    let saved = || -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("state/creditburn.sqlite3")).unwrap();
        conn.query_row("SELECT count(*) FROM last_report", [], |r| r.get(0))
            .unwrap()
    };
    assert!(!run(Some("before-commit")).status.success());
    assert_eq!(saved(), 0);
    assert!(outbox_files(dir.path()).is_empty());
    let out = run(None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(saved(), 1);
}

/// The demo config with award `from` renamed `to` everywhere it is named.
fn rename_award(config: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let named = format!("id = \"{from}\"");
    assert!(text.contains(&named), "the demo names award {from}");
    std::fs::write(config, text.edited(&named, &format!("id = {to:?}"))).unwrap();
}

#[test]
fn awards_whose_ids_read_alike_or_are_long_each_get_their_own_message_file() {
    // Regression: "x y" and "x_y" made one file name, and the second message counted as
    // written while it never was; an id of 200 characters made a name too long to write,
    // and the failure stopped every message after it.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    // The POC and bfs-docs each send a credit_drawn_by_others message, and so does
    // Portfolio.
    rename_award(&config, "poc-support", "x y");
    rename_award(&config, "bfs-docs", "x_y");
    let long = format!("portfolio {}", "é".repeat(200));
    rename_award(&config, "portfolio", &long);
    let out = crate::support::run_next_morning(&config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("queued 14, sent 14"), "{err}");
    // Seven messages (two recipients each): seven files, each holding its own message.
    let files = outbox_files(dir.path());
    assert_eq!(files.len(), 7, "{files:?}");
    let mut ids = Vec::new();
    for f in &files {
        assert!(f.len() <= 120, "{f}");
        let eml = std::fs::read_to_string(dir.path().join("outbox").join(f)).unwrap();
        let id = eml
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap()
            .to_string();
        // RFC 5322's msg-id: dot-atom-text @ dot-atom-text, within angle brackets.
        let inner = id
            .strip_prefix('<')
            .and_then(|i| i.strip_suffix('>'))
            .unwrap();
        let (left, right) = inner.split_once('@').unwrap();
        for part in [left, right] {
            assert!(
                !part.is_empty()
                    && !part.starts_with('.')
                    && !part.ends_with('.')
                    && !part.contains(".."),
                "{id}"
            );
            assert!(
                part.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)),
                "{id}"
            );
        }
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7);
    let written = |subject: &str| {
        files
            .iter()
            .map(|f| std::fs::read_to_string(dir.path().join("outbox").join(f)).unwrap())
            .filter(|eml| eml.contains(subject))
            .count()
    };
    assert_eq!(
        written("Subject: Build for Startups award x_y: AWS's"),
        1,
        "bfs-docs' (now x_y's) message is written"
    );
    assert_eq!(
        written("Subject: POC award x y: AWS's"),
        1,
        "the POC's (now x y's) message is written"
    );
    // A second run finds each file its own: nothing is written twice.
    let again = creditburn(&[
        "run",
        "--now",
        "2026-11-21T09:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert_eq!(outbox_files(dir.path()).len(), 7);
}

#[test]
fn a_file_of_another_message_under_the_same_name_is_kept_and_this_one_written_beside() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let outbox = dir.path().join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let taken = outbox.join("2026-11-20.bfs-docs.credit_drawn_by_others.new.20261121T080000Z.eml");
    std::fs::write(
        &taken,
        "Message-ID: <someone-else@example.com>\r\n\r\nnot ours\r\n",
    )
    .unwrap();
    let out = crate::support::run_next_morning(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&taken).unwrap(),
        "Message-ID: <someone-else@example.com>\r\n\r\nnot ours\r\n"
    );
    let beside =
        outbox.join("2026-11-20.bfs-docs.credit_drawn_by_others.new.20261121T080000Z.2.eml");
    assert!(std::fs::read_to_string(beside)
        .unwrap()
        .contains("Subject: Build for Startups award bfs-docs: AWS's"));
}

/// The names in the file transport's outbox folder, sorted.
fn outbox_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn check_config_exits_78_naming_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .edited("amount = 25000", "amount = 0")
        // bfs-docs's expiry (Founders, listed after it, has the same).
        .edited_once("expiry = \"2027-01-31\"", "expiry = \"2026-01-31\"");
    std::fs::write(&config, text).unwrap();
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("awards[\"poc-support\"].amount: 0 must be a positive amount"),
        "{err}"
    );
    assert!(
        err.contains("awards[\"bfs-docs\"].expiry: 2026-01-31 is before start 2026-08-01"),
        "{err}"
    );
    // run refuses it too, and writes nothing.
    let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    assert!(!dir.path().join("outbox").exists());

    let ok = creditburn(&[
        "check-config",
        "--config",
        repo().join("config/example.toml").to_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn missing_config_file() {
    let out = creditburn(&["report", "--config", "/nonexistent/creditburn.toml"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/creditburn.toml"), "{err}");
}

#[test]
fn bad_arguments_exit_2() {
    let out = creditburn(&["report", "--as-of", "20261120"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("20261120"));
}

/// Damages a copy of the demo recording with `damage`, runs `run`, and checks the exit
/// code, that stderr is one line naming `names`, and that no outbox was created.
fn bad_recording(damage: impl FnOnce(&Path), code: i32, names: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    copy_recording(&repo().join("fixtures/demo"), &rec);
    damage(&rec);
    let config = demo_config(dir.path(), &rec);
    let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(names), "names {names}: {err}");
    assert!(err.contains(says), "says {says}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !dir.path().join("outbox").exists(),
        "nothing written on bad input"
    );
}

#[test]
fn truncated_page() {
    bad_recording(
        |rec| {
            let p = rec.join("usage-by-tag-workload/page-002.json");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        },
        65,
        "usage-by-tag-workload/page-002.json",
        "not a valid GetCostAndUsage response",
    );
}

#[test]
fn malformed_page() {
    bad_recording(
        |rec| {
            std::fs::write(
                rec.join("usage-by-service/page-001.json"),
                "<html>502 Bad Gateway</html>",
            )
            .unwrap()
        },
        65,
        "usage-by-service/page-001.json",
        "not a valid GetCostAndUsage response",
    );
}

#[test]
fn missing_page() {
    bad_recording(
        |rec| std::fs::remove_file(rec.join("usage-by-account/page-003.json")).unwrap(),
        66,
        "usage-by-account/page-003.json",
        "no such file",
    );
}

#[test]
fn missing_recording() {
    bad_recording(
        |rec| std::fs::remove_dir_all(rec).unwrap(),
        66,
        "recording.json",
        "no such file",
    );
}

#[test]
fn empty_recording() {
    bad_recording(
        |rec| {
            std::fs::write(
                rec.join("recording.json"),
                r#"{"format": "creditburn-recording/1", "operation": "GetCostAndUsage", "exchanges": []}"#,
            )
            .unwrap()
        },
        65,
        "recording.json",
        "empty",
    );
}

#[test]
fn malformed_manifest() {
    bad_recording(
        |rec| std::fs::write(rec.join("recording.json"), "{\"format\": ").unwrap(),
        65,
        "recording.json",
        "is not a creditburn recording manifest",
    );
}

#[test]
fn recording_cut_off_mid_query() {
    bad_recording(
        |rec| {
            let p = rec.join("recording.json");
            let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let exchanges = m["exchanges"].as_array_mut().unwrap();
            let last_tag_page = exchanges
                .iter()
                .rposition(|e| e["query"] == "usage-by-tag-workload")
                .unwrap();
            exchanges.remove(last_tag_page);
            std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
        },
        65,
        "recording.json",
        "ends in the middle of query \"usage-by-tag-workload\"",
    );
}

#[test]
fn page_with_no_usage_groups() {
    bad_recording(
        |rec| {
            let p = rec.join("recording.json");
            let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let only_credits: Vec<Value> = m["exchanges"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["query"] == "other-by-record-type")
                .cloned()
                .collect();
            m["exchanges"] = Value::Array(only_credits);
            std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
        },
        65,
        "recording.json",
        "has no \"usage-by-service\" query",
    );
}

/// The demo recording's manifest, edited by `edit`.
fn edit_manifest(rec: &Path, edit: impl FnOnce(&mut Vec<Value>)) {
    let p = rec.join("recording.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let mut exchanges = m["exchanges"].as_array().unwrap().clone();
    edit(&mut exchanges);
    m["exchanges"] = Value::Array(exchanges);
    std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
}

/// The exchanges of `query`, renamed `to`.
fn renamed(exchanges: &[Value], query: &str, to: &str) -> Vec<Value> {
    exchanges
        .iter()
        .filter(|e| e["query"] == query)
        .map(|e| {
            let mut e = e.clone();
            e["query"] = Value::String(to.into());
            e
        })
        .collect()
}

#[test]
fn a_query_listed_again_under_another_name_or_missing_is_refused() {
    // Regression: usage-by-service listed twice (once as "extra") doubled the usage,
    // and the credits query twice doubled the credits applied; without the credits
    // query they read $0.
    bad_recording(
        |rec| edit_manifest(rec, |ex| ex.extend(renamed(ex, "usage-by-service", "extra"))),
        65,
        "recording.json",
        "query \"extra\" groups by [DIMENSION:SERVICE, DIMENSION:USAGE_TYPE], which is the plan's \"usage-by-service\" query",
    );
    bad_recording(
        |rec| {
            edit_manifest(rec, |ex| {
                ex.extend(renamed(ex, "other-by-record-type", "credits-again"))
            })
        },
        65,
        "recording.json",
        "which is the plan's \"other-by-record-type\" query",
    );
    bad_recording(
        |rec| {
            edit_manifest(rec, |ex| {
                ex.retain(|e| e["query"] != "other-by-record-type")
            })
        },
        65,
        "recording.json",
        "has no \"other-by-record-type\" query",
    );
}

#[test]
fn a_positive_credit_is_refused_naming_its_page_and_day() {
    // Regression: credits with positive amounts on one page read as $22,141 applied
    // instead of $53,474, with no warning.
    bad_recording(
        |rec| {
            let page = rec.join("other-by-record-type/page-002.json");
            let text = std::fs::read_to_string(&page).unwrap();
            std::fs::write(&page, text.replace("\"Amount\":\"-", "\"Amount\":\"")).unwrap();
        },
        65,
        "other-by-record-type/page-002.json",
        "has a positive amount",
    );
}

#[test]
fn slices_that_disagree_are_named_by_the_page_holding_the_day() {
    // Regression: the error named a query's first page, which did not hold the day.
    bad_recording(
        |rec| {
            let page = rec.join("usage-by-account/page-002.json");
            let mut body: Value =
                serde_json::from_str(&std::fs::read_to_string(&page).unwrap()).unwrap();
            let last = body["ResultsByTime"].as_array().unwrap().len() - 1;
            let group =
                &mut body["ResultsByTime"][last]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"];
            let v: f64 = group.as_str().unwrap().parse().unwrap();
            *group = Value::String(format!("{}", v + 50.0));
            std::fs::write(&page, serde_json::to_string(&body).unwrap()).unwrap();
        },
        65,
        "usage-by-account/page-002.json",
        "the usage slices disagree",
    );
}

#[test]
fn recorded_request_the_sdk_would_not_send() {
    // The SDK is the judge of what was asked: a field it does not send is caught.
    bad_recording(
        |rec| {
            let p = rec.join("recording.json");
            let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            m["exchanges"][0]["request"]["Colour"] = Value::from("red");
            std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
        },
        65,
        "recording.json: exchanges[0] (usage-by-tag-workload)",
        "not the recorded request",
    );
}

#[test]
fn recorded_filter_is_rebuilt_for_the_sdk() {
    let usage = serde_json::json!({"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}});
    let nested = serde_json::json!({"And": [usage, {"Not": {"Tags": {"Key": "env", "Values": ["dev"], "MatchOptions": ["EQUALS"]}}}]});
    let e = creditburn::source::recording::expression(&nested).unwrap();
    let and = e.and();
    assert_eq!(and.len(), 2);
    assert_eq!(and[0].dimensions().unwrap().values(), ["Usage"]);
    assert_eq!(and[1].not().unwrap().tags().unwrap().key(), Some("env"));
    let err =
        creditburn::source::recording::expression(&serde_json::json!({"Xor": []})).unwrap_err();
    assert!(err.contains("Xor"), "{err}");
}

#[test]
fn what_a_run_needs_beyond_the_file_is_checked_by_check_config_and_before_run_commits() {
    // Regression: check-config said ok, then run committed messages and alert state and
    // exited 78, for an unset password_env, a missing password_file or ca_file, or an
    // address lettre refuses when it builds the message.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = crate::support::with_smtp(
        &std::fs::read_to_string(&config).unwrap(),
        "host = \"smtp.example.com\"\nca_file = \"missing-ca.pem\"\nusername = \"cb\"\npassword_env = \"CB_TEST_UNSET_PASSWORD\"",
    )
    .edited(
        "recipients = [\"finance@example.com\", \"cfo@example.com\"]",
        "recipients = [\"root@localhost.\", \"Fin\\r\\nance <f@example.com>\", \"Nul\\u0000 <n@example.com>\", \"ok@example.com\"]",
    );
    std::fs::write(&config, &text).unwrap();
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    for expected in [
        "5 problems",
        "alerts.recipients[0]: \"root@localhost.\" is not an address",
        "alerts.recipients[1]: \"Fin\\r\\nance <f@example.com>\"",
        "alerts.recipients[2]: \"Nul\\0 <n@example.com>\"",
        "email.smtp.password_env: the environment variable CB_TEST_UNSET_PASSWORD is not set",
        "email.smtp.ca_file:",
    ] {
        assert!(err.contains(expected), "{expected:?} not in {err}");
    }
    let out = crate::support::run_next_morning(&config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("alerts.recipients[0]"), "{err}");
    assert!(
        !dir.path().join("state/creditburn.sqlite3").exists(),
        "nothing committed: {err}"
    );
    // Fixed (a password file that is missing is named the same way), then fixed again.
    let text = text
        .edited("\"root@localhost.\", \"Fin\\r\\nance <f@example.com>\", \"Nul\\u0000 <n@example.com>\", ", "")
        .edited("ca_file = \"missing-ca.pem\"\n", "")
        .edited("password_env = \"CB_TEST_UNSET_PASSWORD\"", "password_file = \"no-such-password\"");
    std::fs::write(&config, &text).unwrap();
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("email.smtp.password_file:") && err.contains("no-such-password"),
        "{err}"
    );
}

#[test]
fn an_unwritable_outbox_folder_is_refused_before_anything_is_committed() {
    // Regression: a file where the outbox folder should be committed the messages and
    // their alert state, then exited 75 with "File exists (os error 17)".
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    std::fs::write(dir.path().join("outbox"), "not a folder").unwrap();
    let args = [
        "run",
        "--now",
        "2026-11-21T08:00:00Z",
        "--config",
        config.to_str().unwrap(),
    ];
    let out = creditburn(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(73), "{err}");
    let error: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error.len(), 1, "{err}");
    assert!(error[0].contains("outbox: cannot be the outbox"), "{err}");
    assert_eq!(error[0].matches("is not a folder").count(), 1, "{err}");
    // Nothing was committed: no message queued, no alert state advanced.
    let db = dir.path().join("state/creditburn.sqlite3");
    if db.exists() {
        let db = rusqlite::Connection::open(&db).unwrap();
        for table in ["message", "delivery", "alert_state"] {
            let rows: i64 = db
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 0, "{table}");
        }
    }
    // Once the folder can be written, the run sends everything.
    std::fs::remove_file(dir.path().join("outbox")).unwrap();
    let later = [
        "run",
        "--now",
        "2026-11-21T08:06:00Z",
        "--config",
        config.to_str().unwrap(),
    ];
    let out = creditburn(&later);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outbox_files(dir.path()).len(), 7);
}

#[test]
fn an_unwritable_state_store_exits_73() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    std::fs::write(dir.path().join("state"), "not a folder").unwrap();
    let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(73), "{err}");
    assert!(err.contains("state"), "{err}");
    assert!(!dir.path().join("outbox").exists());
}

#[test]
fn amount_that_is_not_a_number() {
    // The SDK takes Amount as a string; the normaliser must refuse it, naming the file.
    bad_recording(
        |rec| {
            let p = rec.join("usage-by-service/page-002.json");
            let text = std::fs::read_to_string(&p).unwrap();
            let at = text.find("\"Amount\":\"").unwrap() + "\"Amount\":\"".len();
            let end = at + text[at..].find('"').unwrap();
            std::fs::write(&p, format!("{}12,5{}", &text[..at], &text[end..])).unwrap();
        },
        65,
        "usage-by-service/page-002.json",
        "amount \"12,5\" is not a number",
    );
}

fn workload<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no workload {name}"))
}

/// Damages the JSON of one page of a copy of the demo recording.
fn bad_page(file: &str, damage: impl Fn(&mut Value), names: &str, says: &str) {
    let file = file.to_string();
    bad_recording(
        move |rec| {
            let path = rec.join(&file);
            let mut body: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            damage(&mut body);
            std::fs::write(&path, body.to_string()).unwrap();
        },
        65,
        names,
        says,
    );
}

fn first_groups(body: &mut Value) -> &mut Vec<Value> {
    body["ResultsByTime"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| !r["Groups"].as_array().unwrap().is_empty())
        .unwrap()["Groups"]
        .as_array_mut()
        .unwrap()
}

#[test]
fn a_duplicated_day_is_refused_not_summed() {
    bad_page(
        "usage-by-service/page-001.json",
        |body| {
            let results = body["ResultsByTime"].as_array_mut().unwrap();
            let copy = results[3].clone();
            results.insert(4, copy);
        },
        "usage-by-service/page-001.json",
        "the period appears twice on one page",
    );
}

#[test]
fn a_duplicated_group_is_refused() {
    bad_page(
        "usage-by-account/page-002.json",
        |body| {
            let groups = first_groups(body);
            let copy = groups[0].clone();
            groups.push(copy);
        },
        "usage-by-account/page-002.json",
        "appears twice for the day",
    );
}

#[test]
fn a_missing_metric_is_refused_not_read_as_zero() {
    bad_page(
        "usage-by-tag-workload/page-001.json",
        |body| {
            first_groups(body)[0]
                .as_object_mut()
                .unwrap()
                .remove("Metrics");
        },
        "usage-by-tag-workload/page-001.json",
        "has no UnblendedCost metric",
    );
}

#[test]
fn a_null_amount_is_refused_not_read_as_zero() {
    bad_page(
        "usage-by-service/page-002.json",
        |body| first_groups(body)[0]["Metrics"]["UsageQuantity"]["Amount"] = Value::Null,
        "usage-by-service/page-002.json",
        "has no UsageQuantity Amount",
    );
}

#[test]
fn a_period_outside_the_request_is_refused() {
    bad_page(
        "usage-by-account/page-003.json",
        |body| {
            let results = body["ResultsByTime"].as_array_mut().unwrap();
            let last = results.last_mut().unwrap();
            last["TimePeriod"] = serde_json::json!({"Start": "2027-03-01", "End": "2027-03-02"});
        },
        "usage-by-account/page-003.json",
        "outside the request's",
    );
}

#[test]
fn a_slice_scaled_on_the_way_is_refused() {
    bad_page(
        "usage-by-tag-workload/page-002.json",
        |body| {
            for result in body["ResultsByTime"].as_array_mut().unwrap() {
                for group in result["Groups"].as_array_mut().unwrap() {
                    let cost = &mut group["Metrics"]["UnblendedCost"]["Amount"];
                    let v: f64 = cost.as_str().unwrap().parse().unwrap();
                    *cost = Value::from(format!("{}", v * 1e-9));
                }
            }
        },
        "usage-by-tag-workload",
        "the usage slices disagree",
    );
}

#[test]
fn negated_usage_is_refused() {
    bad_page(
        "usage-by-service/page-001.json",
        |body| {
            let cost = &mut first_groups(body)[0]["Metrics"]["UnblendedCost"]["Amount"];
            let v: f64 = cost.as_str().unwrap().parse().unwrap();
            *cost = Value::from(format!("{}", -v - 1.0));
        },
        "usage-by-service/page-001.json",
        "negative cost",
    );
}

#[test]
fn a_negative_usage_quantity_is_refused() {
    // Found by the error-path audit: a negative UsageQuantity passed every check.
    bad_page(
        "usage-by-service/page-001.json",
        |body| {
            let q = &mut first_groups(body)[0]["Metrics"]["UsageQuantity"]["Amount"];
            let v: f64 = q.as_str().unwrap().parse().unwrap();
            *q = Value::from(format!("{}", -v - 1.0));
        },
        "usage-by-service/page-001.json",
        "negative UsageQuantity",
    );
}

#[test]
fn a_record_type_the_filter_excludes_is_refused() {
    bad_page(
        "other-by-record-type/page-001.json",
        |body| first_groups(body)[0]["Keys"][0] = Value::from("Usage"),
        "other-by-record-type/page-001.json",
        "filter excludes Usage",
    );
}

#[test]
fn group_definitions_that_differ_from_the_request_are_refused() {
    bad_page(
        "usage-by-account/page-001.json",
        |body| body["GroupDefinitions"][0]["Key"] = Value::from("REGION"),
        "usage-by-account/page-001.json",
        "differ from the request's",
    );
}

/// The demo config with `edits` applied, in a fresh folder; returns (folder, config).
fn edited_demo(edits: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let mut text = std::fs::read_to_string(&config).unwrap();
    for (old, new) in edits {
        assert!(text.contains(old), "{old}");
        text = text.edited(old, new);
    }
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

#[test]
fn claude_spend_under_amazon_bedrock_service_counts_for_the_bedrock_alias() {
    // Regression: the bedrock alias knew only "Amazon Bedrock", so the POC lost all of
    // its Claude spend (billed as "Amazon Bedrock Service") and read as a forfeit risk.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let r = json_report(&config, &[]);
    let poc = award(&r, "poc-support");
    assert_eq!(poc["consumed"], 14107.74);
    assert_eq!(poc["status"], "exhaustion_risk");
    let support = workload(&r, "support-assistant");
    let services: Vec<&str> = support["by_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert!(services.contains(&"Amazon Bedrock Service"), "{services:?}");
    assert!(services.contains(&"Amazon Bedrock"), "{services:?}");
    let models: Vec<&str> = support["bedrock"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert!(models.contains(&"Claude4.6Sonnet"), "{models:?}");
    assert_eq!(support["excluded_by_services"], 0.0);
    assert!(r["data"]["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn a_tag_key_typo_gives_no_data_not_a_forfeit_email() {
    // Regression: `Workload=` for `workload=` read as $0 consumed and an email telling
    // finance the whole award would be forfeited, while check-config said ok.
    let (dir, config) = edited_demo(&[(
        "tag = \"workload=support-assistant\"",
        "tag = \"Workload=support-assistant\"",
    )]);
    let r = json_report(&config, &[]);
    let poc = award(&r, "poc-support");
    assert_eq!(poc["status"], "no_data");
    let reasons = poc["no_data_reasons"].to_string();
    assert!(reasons.contains("match no spend"), "{reasons}");
    assert!(reasons.contains("\\\"Workload\\\""), "{reasons}");
    assert!(reasons.contains("workload=support-assistant"), "{reasons}");
    assert!(reasons.contains("Amazon Bedrock Service"), "{reasons}");
    assert!(!r["alerts"].to_string().contains("poc-support will leave"));

    let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = outbox_files(dir.path());
    assert!(
        !files.iter().any(|f| f.contains("poc-support.forfeit_risk")),
        "{files:?}"
    );
    // The digest carries the warning.
    let digest = files.iter().find(|f| f.contains("digest")).unwrap();
    let text = std::fs::read_to_string(dir.path().join("outbox").join(digest)).unwrap();
    assert!(text.contains("without reliable data"), "{text}");
    assert!(text.contains("Warnings about the data"), "{text}");

    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        said.contains("rules checked against the recording"),
        "{said}"
    );
    assert!(said.contains("warning: award \"poc-support\""), "{said}");
}

#[test]
fn services_that_exclude_what_the_rules_match_are_shown_and_no_forfeit_is_claimed() {
    let (_dir, config) = edited_demo(&[(
        "services = [\"bedrock\", \"opensearch\", \"s3\", \"lambda\", \"cloudwatch\"]",
        "services = [\"opensearch\", \"s3\", \"lambda\", \"cloudwatch\"]",
    )]);
    let r = json_report(&config, &[]);
    let support = workload(&r, "support-assistant");
    let excluded = support["excluded_by_services"].as_f64().unwrap();
    // Its Bedrock spend: all of it, Claude, Titan and the Marketplace Haiku.
    assert!(excluded > 12000.0, "{excluded}");
    assert_eq!(award(&r, "poc-support")["status"], "no_data");
    let warnings = r["data"]["warnings"].to_string();
    assert!(warnings.contains("that its services exclude"), "{warnings}");
}

#[test]
fn an_exact_service_name_the_data_never_shows_is_a_warning_naming_the_key() {
    let (_dir, config) = edited_demo(&[(
        "services = [\"bedrock\", \"opensearch\", \"s3\", \"lambda\", \"cloudwatch\"]",
        "services = [\"bedrock\", \"opensearch\", \"s3\", \"lambda\", \"cloudwatch\", \"Amazon Kendra\"]",
    )]);
    let r = json_report(&config, &[]);
    let warnings = r["data"]["warnings"].to_string();
    assert!(warnings.contains("workloads[0].services[5]"), "{warnings}");
    assert!(warnings.contains("Amazon Kendra"), "{warnings}");
}

#[test]
fn a_brand_new_award_with_a_tiny_burn_does_not_panic() {
    // Regression: an award whose workloads spent under about $0.015 in the burn window
    // overflowed the runway's date arithmetic (exit 101), after the outbox commit.
    // A workload of $0.14 a day funded by the largest award accepted: a runway of
    // billions of days.
    let (dir, config) = edited_demo(&[(
        "expiry = \"2027-08-11\"\nworkloads = [\"platform\"]",
        "expiry = \"2027-08-11\"\nworkloads = [\"platform\"]\n\n[[workloads]]\nname = \"tiny\"\npriority = 0\nrules = [{ usage_type = \"USE1-ServerlessStorage\" }]\n\n[[awards]]\nid = \"tiny\"\nprogram = \"other\"\namount = 1000000000\nstart = \"2026-11-01\"\nexpiry = \"2036-09-01\"\nworkloads = [\"tiny\"]",
    )]);
    let r = json_report(&config, &[]);
    let tiny = award(&r, "tiny");
    assert!(tiny["daily_burn"].as_f64().unwrap() < 1.0, "{tiny}");
    assert_eq!(tiny["projected_exhaustion_date"], Value::Null);
    assert_eq!(tiny["status"], "forfeit_risk");
    for _ in 0..2 {
        let out = creditburn(&["run", "--config", config.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(dir.path().join("outbox").exists());
}

#[test]
fn a_bad_body_is_quoted_by_a_short_excerpt_at_most() {
    // Regression: the SDK's Debug of a decode error carried the whole raw body (account
    // ids, tag values, hundreds of KB) into the one error line.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    copy_recording(&repo().join("fixtures/demo"), &rec);
    let page = rec.join("usage-by-account/page-001.json");
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(&page).unwrap()).unwrap();
    body["ResultsByTime"][0]["Groups"][0]["Metrics"] = Value::from("x".repeat(100_000));
    std::fs::write(&page, body.to_string()).unwrap();
    let config = demo_config(dir.path(), &rec);
    let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(err.len() < 600, "{} bytes: {err:.300}", err.len());
    assert!(!err.contains("111111111111"), "{err}");
    assert!(err.contains("usage-by-account/page-001.json"), "{err}");
}

#[test]
fn live_only_commands_on_a_recording_and_a_daemon_without_schedule_exit_78() {
    // Regression: these are configuration problems, not internal errors (exit 1).
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let config = config.to_str().unwrap();
    let out_dir = dir.path().join("rec");
    for args in [
        vec!["credits", "--config", config],
        vec![
            "record",
            "--config",
            config,
            "--out",
            out_dir.to_str().unwrap(),
        ],
        vec!["daemon", "--config", config],
    ] {
        let out = creditburn(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("creditburn.toml"), "{err}");
    }
}

#[test]
fn report_reads_the_state_store_without_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let config = config.to_str().unwrap();
    assert_eq!(
        creditburn(&["run", "--config", config]).status.code(),
        Some(0)
    );
    let db = dir.path().join("state/creditburn.sqlite3");
    let before = std::fs::read(&db).unwrap();
    let out = creditburn(&["report", "--format", "json", "--config", config]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["deliveries"]["sent"], 14, "{}", r["deliveries"]);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "report changed the store"
    );
}

#[test]
fn an_empty_state_store_is_an_error_not_a_fresh_start() {
    // Regression: a store truncated to 0 bytes was taken for a new one, and every alert
    // was sent again.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/creditburn.sqlite3"), b"").unwrap();
    for command in ["run", "report"] {
        let out = creditburn(&[command, "--config", config.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(73), "{command}: {err}");
        assert!(err.contains("creditburn.sqlite3"), "{err}");
        assert!(err.contains("is empty (0 bytes)"), "{err}");
        assert!(!dir.path().join("outbox").exists());
    }
}

#[test]
fn an_endless_file_is_refused_at_a_size_limit_not_read_forever() {
    // Regression: a response path pointing at /dev/zero hung, reading without end.
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("rec");
    crate::support::copy_recording(&repo().join("fixtures/demo"), &recording);
    let manifest = recording.join("recording.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        "\"usage-by-tag-workload/page-001.json\"",
        "\"/dev/zero\"",
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let config = demo_config(dir.path(), &recording);
    let started = std::time::Instant::now();
    let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("is larger than 64 MiB"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // The same bound on the config file and on a password file.
    let out = creditburn(&["check-config", "--config", "/dev/zero"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("is larger than 4 MiB"), "{err}");
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = crate::support::with_smtp(
        &std::fs::read_to_string(&config).unwrap(),
        "host = \"smtp.example.com\"\nusername = \"cb\"\npassword_file = \"/dev/zero\"",
    );
    std::fs::write(&config, text).unwrap();
    let out = creditburn(&["check-config", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("email.smtp.password_file: /dev/zero: is larger than 1 MiB"),
        "{err}"
    );
}

#[test]
fn the_readme_command_table_is_one_table_naming_every_command() {
    // Regression: a stray line split the table in two.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("| command | what it does |")
        .expect("the command table");
    let table: Vec<&str> = readme[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect();
    let help = creditburn(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(commands.len(), 12, "{help}");
    for c in commands {
        assert!(
            table
                .iter()
                .any(|row| row.starts_with(&format!("| `creditburn {c}"))),
            "{c} is not in the command table:\n{}",
            table.join("\n")
        );
    }
    // Two columns in every row (an escaped \| is text, not a column).
    for row in &table {
        assert_eq!(row.replace("\\|", "").matches('|').count(), 3, "{row}");
    }
}

#[test]
fn the_report_table_has_one_money_format_and_shows_ids_whole() {
    // Regression: "$25.0K" beside "$6356", and ids cut to 13 characters, so two renewals
    // ("activate-portfolio-2026-h1", "activate-portfolio-2026-h2") looked alike.
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .edited("id = \"bfs-docs\"", "id = \"activate-portfolio-2026-h1\"")
        .edited("id = \"portfolio\"", "id = \"activate-portfolio-2026-h2\"");
    std::fs::write(&config, text).unwrap();
    let out = creditburn(&["report", "--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    for line in table.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
    }
    let awards: String = table
        .lines()
        .skip_while(|l| !l.starts_with("AWARD"))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    expect_test::expect![[r#"
        AWARD            AMOUNT  CONSUMED    REMAIN  BURN/DAY    EXPIRES STATUS
        poc-support     $25,000   $14,108   $10,892      $619 2026-12-29 exhaustion_risk
        accelerator    $300,000        $0  $300,000        $0 2027-11-14 forfeit_risk
        activate-portfolio-2026-h1
                        $15,000    $6,356    $8,644       $57 2027-01-31 forfeit_risk
        founders         $5,000    $5,000        $0        $0 2027-07-31 exhausted
        activate-portfolio-2026-h2
                       $100,000   $25,507   $74,493      $279 2027-08-11 on_track
    "#]]
    .assert_eq(&awards);
}

/// The error-path audit's cases: each ends in one `error:` line naming the thing and
/// what to do, with its cause once, and the documented exit code.
#[test]
fn error_paths_are_one_line_naming_the_thing_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let base = demo_config(dir.path(), &repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&base).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    std::fs::create_dir_all(dir.path().join("full")).unwrap();
    std::fs::write(dir.path().join("full/x"), "x").unwrap();
    std::fs::write(dir.path().join("not-a-ca.pem"), "just text\n").unwrap();
    let live = text.edited("kind = \"fixtures\"", "kind = \"aws\"");
    let live = {
        let start = live.find("\npath = ").unwrap();
        let end = start + 1 + live[start + 1..].find('\n').unwrap();
        format!("{}{}", &live[..start], &live[end..])
    };
    let cases: Vec<(Vec<String>, u8, Vec<&str>)> = vec![
        (
            vec!["run".into(), "--config".into(), "/nonexistent/creditburn.toml".into()],
            78,
            vec!["/nonexistent/creditburn.toml", "pass --config PATH"],
        ),
        (
            vec!["run".into(), "--config".into(), write("one.toml", &text.edited("amount = 25000", "amount = 0"))],
            78,
            vec!["awards[\"poc-support\"].amount: 0 must be a positive"],
        ),
        (
            vec!["daemon".into(), "--config".into(), write("cron.toml", &format!("{text}\n[schedule]\ncron = \"61 7 * * *\"\n"))],
            78,
            vec!["minute 61 is outside 0-59"],
        ),
        (
            vec!["daemon".into(), "--config".into(), write("never.toml", &format!("{text}\n[schedule]\ncron = \"0 0 30 2 *\"\n"))],
            78,
            vec!["never fires"],
        ),
        (
            vec!["daemon".into(), "--config".into(), write("busy.toml", &format!("{text}\n[schedule]\ncron = \"0 0 1 1 *\"\n\n[daemon]\nlisten = \"{busy_addr}\"\n"))],
            78,
            vec!["daemon.listen", "another process listens there"],
        ),
        (
            vec!["run".into(), "--config".into(), write("file-state.toml", &text.edited(&format!("{:?}", dir.path().join("state").display().to_string()), &format!("{:?}", dir.path().join("one.toml").display().to_string())))],
            73,
            vec!["state.path must be a folder"],
        ),
        (
            vec!["run".into(), "--as-of".into(), "yesterday".into()],
            2,
            vec!["\"yesterday\" is not a date", "creditburn --help"],
        ),
        (
            vec!["check-config".into(), "--config".into(), write("ca.toml", &crate::support::with_smtp(&text, &format!("host = \"smtp.example.com\"\nca_file = {:?}", dir.path().join("not-a-ca.pem").display().to_string())))],
            78,
            vec!["email.smtp.ca_file", "holds no PEM certificate"],
        ),
        (
            vec!["record".into(), "--out".into(), dir.path().join("full").display().to_string(), "--config".into(), write("live.toml", &live)],
            73,
            vec!["is not empty", "give --out a new or empty folder"],
        ),
    ];
    for (args, code, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = creditburn(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code as i32), "{args:?}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {err}");
        assert_eq!(err.lines().last(), Some(errors[0]), "{args:?}: {err}");
        for s in says {
            assert!(errors[0].contains(s), "{args:?}: {s:?} not in {err}");
        }
        // No cause said twice ("File exists (os error 17): File exists (os error 17)").
        if let Some(os) = errors[0].find("(os error") {
            let cause = &errors[0][os..];
            let cause = &cause[..cause.find(')').unwrap() + 1];
            assert_eq!(errors[0].matches(cause).count(), 1, "{err}");
        }
        assert!(
            !errors[0].contains("Some(") && !errors[0].contains(" { "),
            "{err}"
        );
    }
    // With --log-format json, even a bad argument is a JSON line.
    let out = creditburn(&["run", "--log-format", "json", "--as-of", "yesterday"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["level"], "ERROR");
    drop(busy);
}
