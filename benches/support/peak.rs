//! Measuring the creditburn binary from a benchmark: its own wall time and peak memory.

/// Starts `program` from a small Python process and reports its own wall time and peak
/// memory: a child forked straight from a benchmark would inherit the benchmark's peak
/// (Linux keeps the largest RSS the process ever had, across exec), which holds the
/// generated data. The time runs from the fork to the exit, so the interpreter's own
/// start (tens of milliseconds) is not counted as creditburn's.
pub const PEAK_WRAPPER: &str = "import os, sys, time\n\
started = time.monotonic()\n\
pid = os.fork()\n\
if pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n\
_, status, usage = os.wait4(pid, 0)\n\
sys.stderr.write('wall-s %.6f\\n' % (time.monotonic() - started))\n\
sys.stderr.write('peak-kb %d\\n' % usage.ru_maxrss)\n\
sys.exit(os.waitstatus_to_exitcode(status))\n";

/// The wall seconds and peak resident megabytes the wrapper wrote to `stderr`.
pub fn wall_and_peak(stderr: &str) -> (f64, f64) {
    let field = |name: &str| -> f64 {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("the wrapper reports {name}"))
    };
    (field("wall-s "), field("peak-kb ") / 1024.0)
}
