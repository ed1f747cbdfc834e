//! Benchmark: the daemon's idle memory and CPU, and the wall time of one run on
//! fixtures/demo. Figures, not a pass/fail test.
//!
//!     cargo bench --bench daemon
//!
//! (the release-built binary; memory of a debug build says little). Target: idle
//! resident memory under 30 MB.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_creditburn");

/// The example config pointed at the demo recording, with its state and outbox in `dir`,
/// a yearly schedule (so the daemon idles) and the HTTP listener on.
fn config(dir: &Path, port: u16) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("config/example.toml"))
        .unwrap()
        .replace(
            "\"../fixtures/demo\"",
            &format!("{:?}", root.join("fixtures/demo").display().to_string()),
        )
        .replace(
            "\"../outbox\"",
            &format!("{:?}", dir.join("outbox").display().to_string()),
        )
        .replace(
            "\"../state\"",
            &format!("{:?}", dir.join("state").display().to_string()),
        );
    let text = format!(
        "{text}\n[schedule]\ncron = \"0 0 1 1 *\"\n\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    let path = dir.join("creditburn.toml");
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

fn start(config: &Path, extra: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["daemon", "--config", config.to_str().unwrap()])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn wait_for(rx: &std::sync::mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if rx.recv_timeout(left).is_ok_and(|l| l.contains(text)) {
            return;
        }
    }
    panic!("no {text:?} from the daemon");
}

fn idle(child: &Child, seconds: u64) -> (u64, u64, f64) {
    let pid = child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = (cpu_seconds(pid) - before) / seconds as f64 * 100.0;
    (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"), cpu)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn main() {
    let idle_seconds = 10;
    println!("creditburn daemon ({BIN})");

    // Started and idle, no run yet.
    let dir = tempfile::tempdir().unwrap();
    let (child, rx) = start(&config(dir.path(), free_port()), &[]);
    wait_for(&rx, "daemon: schedule");
    std::thread::sleep(Duration::from_secs(1));
    let (rss, _, cpu) = idle(&child, idle_seconds);
    stop(child);
    println!(
        "idle, before any run:      RSS {:>6.1} MB, CPU {cpu:.2}% over {idle_seconds} s",
        rss as f64 / 1024.0
    );

    // After one run on fixtures/demo, idle again.
    let dir = tempfile::tempdir().unwrap();
    let (child, rx) = start(&config(dir.path(), free_port()), &["--run-at-start"]);
    wait_for(&rx, ": ok");
    std::thread::sleep(Duration::from_secs(1));
    let (rss, peak, cpu) = idle(&child, idle_seconds);
    stop(child);
    println!(
        "idle, after one demo run:  RSS {:>6.1} MB, CPU {cpu:.2}% over {idle_seconds} s (peak during the run {:.1} MB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!("target: idle resident memory under 30 MB");

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
}
