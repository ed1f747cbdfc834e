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

/// The example config rewritten to read `recording` and write into `dir`.
pub fn demo_config(dir: &Path, recording: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/example.toml")).unwrap();
    let text = text
        .replace(
            "\"../fixtures/demo\"",
            &format!("{:?}", recording.display().to_string()),
        )
        .replace(
            "\"../outbox\"",
            &format!("{:?}", dir.join("outbox").display().to_string()),
        )
        .replace(
            "\"../state\"",
            &format!("{:?}", dir.join("state").display().to_string()),
        );
    let path = dir.join("creditburn.toml");
    std::fs::write(&path, text).unwrap();
    path
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
