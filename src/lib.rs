//! creditburn: how a company's AWS credit awards are burning, every day and in money.
//!
//! See ARCHITECTURE.md for the map. The binary (`main.rs`) only calls [`cli::main`].

pub mod alerts;
pub mod analysis;
pub mod aws;
pub mod cache;
pub mod chart;
pub mod cli;
pub mod config;
pub mod credits;
pub mod daemon;
pub mod deliver;
pub mod email;
pub mod hints;
pub mod integrity;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod plan;
pub mod recording;
pub mod report;
pub mod schedule;
pub mod schema;
pub mod table;
pub mod usage_type;

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by
/// `_`: safe as a file name on every platform.
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A test hook: when the environment variable `CREDITBURN_FAILPOINT` names `step`, the
/// process aborts there, as a kill would. The kill tests use it to stop a run at each
/// step of delivery; it does nothing otherwise.
pub(crate) fn failpoint(step: &str) {
    if std::env::var("CREDITBURN_FAILPOINT").as_deref() == Ok(step) {
        eprintln!("failpoint {step}: aborting");
        std::process::abort();
    }
}
