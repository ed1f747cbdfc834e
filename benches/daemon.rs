//! Benchmark: the daemon's idle memory and CPU, and the wall time of one run on
//! fixtures/demo. Figures, not a pass/fail test.
//!
//!     cargo bench --bench daemon
//!
//! (the release-built binary; memory of a debug build says little). Target: idle
//! resident memory under 30 MB.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "../tests/it/harness.rs"]
mod harness;

use harness::{free_port, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_creditburn");

/// The example config pointed at the demo recording, with its state and outbox in `dir`,
/// a yearly schedule (so the daemon idles) and the HTTP listener on.
fn config(dir: &Path, port: u16) -> PathBuf {
    let path = harness::demo_config(dir, &harness::repo().join("fixtures/demo"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text = format!(
        "{text}\n[schedule]\ncron = \"0 0 1 1 *\"\n\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn idle(child: &Child, seconds: u64) -> (u64, u64, f64) {
    let pid = child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = (cpu_seconds(pid) - before) / seconds as f64 * 100.0;
    (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"), cpu)
}

fn main() {
    let idle_seconds = 10;
    println!("creditburn daemon ({BIN})");

    // Started and idle, no run yet.
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&config(dir.path(), free_port()), &[], &[]);
    daemon.wait_for("daemon: schedule", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    let (rss, _, cpu) = idle(&daemon.child, idle_seconds);
    daemon.terminate();
    println!(
        "idle, before any run:      RSS {:>6.1} MB, CPU {cpu:.2}% over {idle_seconds} s",
        rss as f64 / 1024.0
    );

    // After one run on fixtures/demo, idle again.
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&config(dir.path(), free_port()), &["--run-at-start"], &[]);
    daemon.wait_for(": ok", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    let (rss_after, peak, cpu) = idle(&daemon.child, idle_seconds);
    daemon.terminate();
    println!(
        "idle, after one demo run:  RSS {:>6.1} MB, CPU {cpu:.2}% over {idle_seconds} s (peak during the run {:.1} MB)",
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    let idle_met = rss.max(rss_after) < 30 * 1024;
    println!(
        "target: idle resident memory under 30 MB {}",
        if idle_met { "met" } else { "MISSED" }
    );

    // The wall time of one `run` on fixtures/demo, from a fresh state each time.
    let mut times = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), free_port());
        let started = Instant::now();
        let out = Command::new(BIN)
            .args(["run", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "one run on fixtures/demo:  median {:.3} s (min {:.3}, max {:.3}; 5 runs, fresh state each)",
        times[2], times[0], times[4]
    );
    if !idle_met {
        std::process::exit(1);
    }
}
