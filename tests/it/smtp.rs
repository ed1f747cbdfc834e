//! Delivery against a real SMTP server on loopback (aiosmtpd, tests/smtp_server.py):
//! plain to loopback, STARTTLS and implicit TLS with a throwaway CA (accepted only when
//! the CA is configured), AUTH with the password from the environment, the server down
//! then back, a 5xx recipient, send-test-email, and a kill at each step of a run.

use crate::harness::Edit;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{demo_config, repo};

/// The SMTP server, killed when dropped.
struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    child: Child,
}

impl SmtpServer {
    fn start(maildir: &Path, args: &[&str]) -> SmtpServer {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/smtp_server.py"))
            .arg("--maildir")
            .arg(maildir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs tests/smtp_server.py (scripts/test installs aiosmtpd)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the SMTP server starts within 30 s");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?} (is aiosmtpd installed? run scripts/test)"));
        SmtpServer {
            port,
            maildir: maildir.to_path_buf(),
            child,
        }
    }

    /// The raw messages received, in order.
    fn messages(&self) -> Vec<String> {
        received(&self.maildir)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

/// A throwaway CA and a certificate it signed for localhost / 127.0.0.1.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=creditburn test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// The demo config sending through SMTP with `smtp` (the `[email.smtp]` keys), retrying
/// after one minute.
fn smtp_config(dir: &Path, smtp: &str) -> PathBuf {
    let path = demo_config(dir, &repo().join("fixtures/demo"));
    let text = crate::support::with_smtp(
        &std::fs::read_to_string(&path).unwrap(),
        &format!("{smtp}\nconnect_timeout_seconds = 2\ncommand_timeout_seconds = 5"),
    )
    .edited("retry_base_minutes = 5", "retry_base_minutes = 1");
    std::fs::write(&path, text).unwrap();
    path
}

fn plain(port: u16) -> String {
    format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\nallow_plaintext = true")
}

fn creditburn_run(config: &Path, now: &str, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(["run", "--now", now, "--config", config.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

const T0: &str = "2026-11-21T08:00:00Z";

#[test]
fn plain_smtp_to_loopback_delivers_every_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&dir.path().join("mail"), &[]);
    let config = smtp_config(dir.path(), &plain(server.port));
    let out = creditburn_run(&config, T0, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `run` names each delivery once, with its recipient (it printed "sent: <subject>"
    // twice per message, naming no one).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut sent: Vec<&str> = stdout.lines().filter(|l| l.starts_with("sent: ")).collect();
    assert_eq!(sent.len(), 14, "{stdout}");
    assert_eq!(
        sent.iter()
            .filter(|l| l.ends_with(" to finance@example.com"))
            .count(),
        7,
        "{stdout}"
    );
    assert_eq!(
        sent.iter()
            .filter(|l| l.ends_with(" to cfo@example.com"))
            .count(),
        7,
        "{stdout}"
    );
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 14, "each line once: {stdout}");
    // Seven messages (six alerts and the digest), one copy to each recipient.
    let got = server.messages();
    let subjects: Vec<&str> = got.iter().filter_map(|m| header(m, "Subject")).collect();
    assert_eq!(got.len(), 14, "{subjects:?}");
    assert!(subjects
        .iter()
        .any(|s| s.starts_with("POC award poc-support: AWS's balance is already $0.00")));
    assert!(subjects
        .iter()
        .any(|s| s.starts_with("Credits digest as of 2026-11-20")));
    let to_finance = got
        .iter()
        .filter(|m| header(m, "X-Envelope-To") == Some("finance@example.com"))
        .count();
    assert_eq!(to_finance, 7);
    for m in &got {
        assert_eq!(
            header(m, "To"),
            Some("finance@example.com, cfo@example.com")
        );
        assert!(header(m, "Message-ID").is_some_and(|id| id.ends_with("@creditburn>")));
    }
    // Run again, then restart and run again: nothing repeats.
    creditburn_run(&config, "2026-11-21T09:00:00Z", &[]);
    creditburn_run(&config, "2026-11-21T10:00:00Z", &[]);
    assert_eq!(server.messages().len(), 14);
}

#[test]
fn plaintext_to_a_remote_host_is_refused_by_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = smtp_config(
        dir.path(),
        "host = \"smtp.example.com\"\nport = 25\nsecurity = \"plain\"\nallow_plaintext = true",
    );
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("email.smtp.host: \"smtp.example.com\" is not a loopback address"),
        "{err}"
    );
}

#[test]
fn starttls_needs_the_ca_then_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = SmtpServer::start(
        &dir.path().join("mail"),
        &[
            "--starttls",
            pki.cert.to_str().unwrap(),
            pki.key.to_str().unwrap(),
        ],
    );
    // Without the CA the self-signed chain is refused: nothing is delivered, all is held
    // (the operator's to fix: exit 78, no attempt counted).
    let without = format!("host = \"localhost\"\nport = {}", server.port);
    let config = smtp_config(dir.path(), &without);
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("14 deliveries held, none lost"), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(server.messages().is_empty());
    // With it, the next run delivers all five over TLS.
    let with = format!("{without}\nca_file = {:?}", pki.ca.to_str().unwrap());
    let config = smtp_config(dir.path(), &with);
    let out = creditburn_run(&config, "2026-11-21T08:02:00Z", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 14);
}

#[test]
fn implicit_tls_with_auth_reads_the_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let secret = "s3cret-not-in-logs";
    let server = SmtpServer::start(
        &dir.path().join("mail"),
        &[
            "--implicit-tls",
            pki.cert.to_str().unwrap(),
            pki.key.to_str().unwrap(),
            "--auth",
            &format!("creditburn:{secret}"),
        ],
    );
    let smtp = format!(
        "host = \"localhost\"\nport = {}\nsecurity = \"tls\"\nca_file = {:?}\nusername = \"creditburn\"\npassword_env = \"TEST_SMTP_PASSWORD\"",
        server.port,
        pki.ca.to_str().unwrap()
    );
    let config = smtp_config(dir.path(), &smtp);
    // No password in the environment: a configuration error naming the variable.
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(
            "email.smtp.password_env: the environment variable TEST_SMTP_PASSWORD is not set"
        ),
        "{err}"
    );
    // With it: delivered, and the password appears in no output.
    let out = creditburn_run(
        &config,
        "2026-11-21T08:02:00Z",
        &[("TEST_SMTP_PASSWORD", secret)],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(secret));
    assert_eq!(server.messages().len(), 14);
}

#[test]
fn server_down_then_back_delivers_what_waited() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on, for now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = smtp_config(dir.path(), &plain(port));
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("will retry"), "{err}");
    // The server comes up on that port; the next run after the backoff sends each once.
    let server = SmtpServer::start(&dir.path().join("mail"), &["--port", &port.to_string()]);
    let out = creditburn_run(&config, "2026-11-21T08:02:00Z", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 14);
    creditburn_run(&config, "2026-11-21T08:30:00Z", &[]);
    assert_eq!(server.messages().len(), 14);
}

#[test]
fn a_4xx_is_retried_and_a_5xx_recipient_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(
        &dir.path().join("mail"),
        &["--tempfail", "1", "--reject", "cfo@example.com"],
    );
    let config = smtp_config(dir.path(), &plain(server.port));
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    // The first message to finance meets a 451 and waits; cfo@example.com is refused with
    // 550, each copy failing for good; finance's other six arrive.
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains("1 message waiting to be retried, 7 failed for good"),
        "{err}"
    );
    assert_eq!(server.messages().len(), 6);
    // After the backoff the waiting one goes out; the refused ones stay failed.
    let out = creditburn_run(&config, "2026-11-21T08:02:00Z", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 7);
    let report = Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args([
            "report",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let failed = report["deliveries"]["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 7);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("550"),
        "{failed:?}"
    );
    // A week later the digest names them (its copy to cfo@ is refused again: exit 75).
    let out = creditburn_run(&config, "2026-11-28T08:00:00Z", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    let digest = server
        .messages()
        .into_iter()
        .find(|m| {
            header(m, "Subject").is_some_and(|s| s.starts_with("Credits digest"))
                && m.contains("could not be delivered")
        })
        .expect("the next digest lists the failed messages");
    assert!(digest.contains("550"));
}

#[test]
fn send_test_email_checks_the_configuration_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&dir.path().join("mail"), &[]);
    let config = smtp_config(dir.path(), &plain(server.port));
    let out = Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(["send-test-email", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = server.messages();
    assert_eq!(got.len(), 2, "one copy to each recipient");
    assert_eq!(header(&got[0], "Subject"), Some("creditburn test message"));
    drop(server);
    // With the server gone it says so, with a non-zero exit.
    let out = Command::new(env!("CARGO_BIN_EXE_creditburn"))
        .args(["send-test-email", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the test message was not delivered"));
}

/// Message-IDs received, in order.
fn ids(server: &SmtpServer) -> Vec<String> {
    server
        .messages()
        .iter()
        .filter_map(|m| header(m, "Message-ID").map(str::to_string))
        .collect()
}

#[test]
fn a_kill_at_any_step_loses_nothing_and_duplicates_at_most_the_message_in_flight() {
    // Reference: an uninterrupted run.
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&dir.path().join("mail"), &[]);
    let config = smtp_config(dir.path(), &plain(server.port));
    creditburn_run(&config, T0, &[]);
    let mut expected = ids(&server);
    expected.sort();
    assert_eq!(
        expected.len(),
        14,
        "seven messages, a copy to each of two recipients"
    );

    for step in ["after-commit", "before-send", "after-send"] {
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start(&dir.path().join("mail"), &[]);
        let config = smtp_config(dir.path(), &plain(server.port));
        let killed = creditburn_run(&config, T0, &[("CREDITBURN_FAILPOINT", step)]);
        assert!(
            !killed.status.success(),
            "{step}: the failpoint stops the run"
        );
        // Restart: the next run picks up what was committed.
        let out = creditburn_run(&config, "2026-11-21T08:01:00Z", &[]);
        assert!(
            out.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got = ids(&server);
        got.sort();
        // Every copy arrives; at most the one in flight when killed arrives twice.
        let mut missing = expected.clone();
        for id in &got {
            if let Some(i) = missing.iter().position(|m| m == id) {
                missing.remove(i);
            }
        }
        assert!(missing.is_empty(), "{step}: lost {missing:?}");
        assert!(
            got.len() <= expected.len() + 1,
            "{step}: more than one duplicate: {got:?}"
        );
    }
}

#[test]
fn a_server_that_never_greets_times_out_and_keeps_the_messages() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let smtp = format!("{}\n", plain(port));
    let config = smtp_config(dir.path(), &smtp);
    let started = std::time::Instant::now();
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("will retry"), "{err}");
    assert!(err.contains("14 messages waiting to be retried"), "{err}");
    // One bounded wait (2 s to connect + 3 x 5 s of commands), then the pass stops: the
    // other copies are not each made to wait for a server that does not answer.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn the_password_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = SmtpServer::start(
        &dir.path().join("mail"),
        &[
            "--starttls",
            pki.cert.to_str().unwrap(),
            pki.key.to_str().unwrap(),
            "--auth",
            "creditburn:from-a-file",
        ],
    );
    // As systemd's LoadCredential leaves it: the secret and a newline.
    std::fs::write(dir.path().join("smtp-password"), "from-a-file\n").unwrap();
    let smtp = format!(
        "host = \"localhost\"\nport = {}\nca_file = {:?}\nusername = \"creditburn\"\npassword_file = {:?}",
        server.port,
        pki.ca.to_str().unwrap(),
        dir.path().join("smtp-password").to_str().unwrap()
    );
    let config = smtp_config(dir.path(), &smtp);
    let out = creditburn_run(&config, T0, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 14);
}

/// Every byte creditburn wrote or said: its output, the state folder's files (the
/// SQLite store and its journal), and the messages the server received.
fn everything(outputs: &[&Output], dir: &Path, server: &SmtpServer) -> Vec<u8> {
    let mut all = Vec::new();
    for o in outputs {
        all.extend_from_slice(&o.stdout);
        all.extend_from_slice(&o.stderr);
    }
    fn walk(p: &Path, all: &mut Vec<u8>) {
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), all);
            }
        } else if p.extension().is_none_or(|e| e != "pem" && e != "key") {
            all.extend(std::fs::read(p).unwrap_or_default());
        }
    }
    walk(&dir.join("state"), &mut all);
    for m in server.messages() {
        all.extend_from_slice(m.as_bytes());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_server_that_echoes_the_credential_gets_it_into_no_output_and_holds_the_messages() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for echo in ["plain", "base64"] {
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start(
            &dir.path().join("mail"),
            &["--auth", "creditburn:the-right-one", "--echo-auth", echo],
        );
        let wrong = "wr0ng-Pa55word-echoed";
        let smtp = format!(
            "{}\nusername = \"creditburn\"\npassword_env = \"TEST_SMTP_PASSWORD\"",
            plain(server.port)
        );
        let config = smtp_config(dir.path(), &smtp);
        let text = creditburn_run(&config, T0, &[("TEST_SMTP_PASSWORD", wrong)]);
        let err = String::from_utf8_lossy(&text.stderr);
        // The login is the operator's to fix: exit 78, every delivery held, none failed.
        assert_eq!(text.status.code(), Some(78), "{echo}: {err}");
        assert!(
            err.contains("14 deliveries held, none lost"),
            "{echo}: {err}"
        );
        assert!(err.contains("535"), "{echo}: {err}");
        assert!(err.contains("[redacted]"), "{echo}: {err}");
        let json = Command::new(env!("CARGO_BIN_EXE_creditburn"))
            .args([
                "run",
                "--log-format",
                "json",
                "--now",
                "2026-11-21T08:05:00Z",
            ])
            .args(["--config", config.to_str().unwrap()])
            .env("TEST_SMTP_PASSWORD", wrong)
            .output()
            .unwrap();
        assert_eq!(json.status.code(), Some(78), "{echo}");
        let report = Command::new(env!("CARGO_BIN_EXE_creditburn"))
            .args(["report", "--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let parsed: Value = serde_json::from_slice(&report.stdout).unwrap();
        let deliveries = &parsed["deliveries"];
        assert_eq!(deliveries["pending"], 14, "{echo}: {deliveries}");
        assert_eq!(deliveries["failed"].as_array().unwrap().len(), 0);
        let waiting = deliveries["waiting"][0]["error"].as_str().unwrap();
        assert!(waiting.contains("535") && waiting.len() < 400, "{waiting}");
        // Fixed: the same six go out, and the digest names no failure.
        let fixed = creditburn_run(
            &config,
            "2026-11-21T08:10:00Z",
            &[("TEST_SMTP_PASSWORD", "the-right-one")],
        );
        assert!(
            fixed.status.success(),
            "{echo}: {}",
            String::from_utf8_lossy(&fixed.stderr)
        );
        assert_eq!(server.messages().len(), 14, "{echo}");
        let all = everything(&[&text, &json, &report, &fixed], dir.path(), &server);
        for form in [
            wrong.to_string(),
            b64.encode(wrong),
            b64.encode(format!("\0creditburn\0{wrong}")),
        ] {
            assert!(!contains(&all, &form), "{echo}: {form:?} leaked");
        }
    }
}

#[test]
fn a_refused_sender_holds_every_message_until_it_is_fixed() {
    // Found by the error-path audit: a server refusing MAIL FROM with a bare 550 failed
    // every message for good.
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refusing = SmtpServer::start(
        &dir.path().join("mail"),
        &["--port", &port.to_string(), "--reject-sender"],
    );
    let config = smtp_config(dir.path(), &plain(port));
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("14 deliveries held, none lost"), "{err}");
    assert!(err.contains("refuses the sender"), "{err}");
    drop(refusing);
    let server = SmtpServer::start(&dir.path().join("mail"), &["--port", &port.to_string()]);
    let out = creditburn_run(&config, "2026-11-21T08:05:00Z", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 14);
}

#[test]
fn implicit_tls_to_a_server_that_speaks_plaintext_is_a_tls_problem_that_holds_the_queue() {
    // Regression: the handshake's failure was taken as temporary (exit 75, an attempt
    // counted), where a TLS problem is the operator's: exit 78, every message held.
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&dir.path().join("mail"), &[]);
    let config = smtp_config(
        dir.path(),
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"",
            server.port
        ),
    );
    let out = creditburn_run(&config, T0, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("14 deliveries held, none lost"), "{err}");
    let db = rusqlite::Connection::open(dir.path().join("state/creditburn.sqlite3")).unwrap();
    let attempts: i64 = db
        .query_row("SELECT coalesce(sum(attempts), 0) FROM delivery", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(attempts, 0, "no attempt counted");
    assert!(server.messages().is_empty());
}
