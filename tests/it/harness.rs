//! What the tests and the benchmarks share (the benchmarks include this file by path):
//! the demo config pointed into a temporary folder, and the daemon as a process. It uses
//! nothing but std, so both can.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example config rewritten to read `recording` and write into `dir`. Each path it
/// rewrites must be there, once: a drifted example fails here, not later in a test that
/// checks nothing was written to the wrong folder.
pub fn demo_config(dir: &Path, recording: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(repo().join("config/example.toml")).unwrap();
    for (from, to) in [
        ("\"../fixtures/demo\"", recording.to_path_buf()),
        ("\"../outbox\"", dir.join("outbox")),
        ("\"../state\"", dir.join("state")),
    ] {
        text = rewrite(&text, from, &format!("{:?}", to.display().to_string()));
    }
    let path = dir.join("creditburn.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `text` with `from` replaced by `to`; panics unless `from` occurs exactly once.
pub fn rewrite(text: &str, from: &str, to: &str) -> String {
    let found = text.matches(from).count();
    assert_eq!(
        found, 1,
        "config/example.toml holds {from} {found} times, not once: the harness no longer matches the example"
    );
    text.replacen(from, to, 1)
}

/// A daemon process whose stderr lines arrive on a channel.
pub struct Daemon {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Daemon {
    pub fn start(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_creditburn"))
            .args(["daemon", "--config", config.to_str().unwrap()])
            .args(extra)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Daemon { child, lines }
    }

    /// Waits up to `limit` for a line containing `text`; returns everything seen.
    pub fn wait_for(&self, text: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(text);
                    seen.push(line);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} within {limit:?}; saw {seen:#?}");
    }

    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        (status.code(), started.elapsed())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on (at the moment of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Edits of a config's text that fail when the text to edit is not there: a test whose
/// edit found nothing would otherwise run on the unedited config and pass for the wrong
/// reason.
pub trait Edit {
    /// Every occurrence of `from` replaced by `to`; panics when there is none.
    fn edited(&self, from: &str, to: &str) -> String;
    /// The first occurrence of `from` replaced by `to`; panics when there is none.
    fn edited_once(&self, from: &str, to: &str) -> String;
}

impl Edit for str {
    fn edited(&self, from: &str, to: &str) -> String {
        assert!(self.contains(from), "the text to edit holds no {from:?}");
        self.replace(from, to)
    }

    fn edited_once(&self, from: &str, to: &str) -> String {
        assert!(self.contains(from), "the text to edit holds no {from:?}");
        self.replacen(from, to, 1)
    }
}
