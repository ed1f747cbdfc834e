//! How a long fetch shows its progress: on a terminal, a bar per query (indicatif); in
//! logs (stderr not a terminal, or `--log-format json`), a line every
//! `CREDITBURN_PROGRESS_SECONDS` (default 10) with the same figures, and one when the
//! query's last page comes if any came before. A cold backfill is hundreds of pages,
//! minutes against the real endpoint; a warm run's one page a query shows nothing.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::*;
use crate::source::aws::Progress;

/// The interval between log lines when no `CREDITBURN_PROGRESS_SECONDS` says otherwise.
const DEFAULT_EVERY: Duration = Duration::from_secs(10);

/// A query that takes no more pages than this shows no progress of its own: the line
/// when it ends says it all.
const QUIET_PAGES: u64 = 1;

pub(super) struct FetchProgress {
    bars: bool,
    every: Duration,
    /// The query being fetched, when it began, and its bar or its last line.
    current: Option<Current>,
}

struct Current {
    query: String,
    started: Instant,
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl FetchProgress {
    /// Bars when stderr is a terminal and the log is text; lines otherwise.
    pub(super) fn new() -> FetchProgress {
        let json = JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed);
        let every = std::env::var("CREDITBURN_PROGRESS_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_EVERY, Duration::from_secs_f64);
        FetchProgress {
            bars: !json && std::io::stderr().is_terminal(),
            every,
            current: None,
        }
    }

    /// Hears of one page.
    pub(super) fn page(&mut self, p: &Progress) {
        if self.current.as_ref().is_none_or(|c| c.query != p.query) {
            self.finish();
            self.current = Some(Current {
                query: p.query.to_string(),
                started: Instant::now(),
                bar: None,
                last_line: None,
            });
        }
        let bars = self.bars;
        let every = self.every;
        let Some(current) = self.current.as_mut() else {
            return;
        };
        if p.done && p.pages <= QUIET_PAGES {
            return;
        }
        let left = p.pages_left();
        let eta = left.filter(|_| p.pages > 0).map(|left| {
            current
                .started
                .elapsed()
                .mul_f64(left as f64 / p.pages as f64)
        });
        if bars {
            let bar = current.bar.get_or_insert_with(|| {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:20}] {pos}/{len} pages, {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(p.query.to_string());
                bar
            });
            bar.set_message(short_figures(p, eta));
            bar.set_length(p.pages + left.unwrap_or(0));
            bar.set_position(p.pages);
            return;
        }
        // A line each `every` from the query's start, and its last page's when any came
        // before: a query done within the interval says nothing but its closing line.
        let due = current.last_line.unwrap_or(current.started).elapsed() >= every;
        if (due && !p.done) || (p.done && current.last_line.is_some()) {
            current.last_line = Some(Instant::now());
            say!("fetching {}: {}", p.query, figures(p, eta));
        }
    }

    /// Ends the current query's bar.
    pub(super) fn finish(&mut self) {
        if let Some(bar) = self.current.take().and_then(|c| c.bar) {
            bar.finish_and_clear();
        }
    }
}

impl Drop for FetchProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A page's figures: pages, days covered, requests paid so far, what is left.
fn figures(p: &Progress, eta: Option<Duration>) -> String {
    let mut out = format!(
        "{} ({} of {} days, to {}), {} so far (${:.2})",
        count(p.pages, "page", "pages"),
        p.days.min(p.total_days()),
        p.total_days(),
        p.from + chrono::Days::new(p.days.saturating_sub(1)),
        count(p.requests, "request", "requests"),
        p.requests as f64 * aws::COST_PER_REQUEST
    );
    match (p.done, p.pages_left(), eta) {
        (true, ..) => out.push_str(", done"),
        (false, Some(left), Some(eta)) => out.push_str(&format!(
            ", about {} left (~{})",
            count(left, "page", "pages"),
            human(eta)
        )),
        _ => {}
    }
    out
}

/// A bar's figures, short enough for a line of a terminal beside the query and the bar:
/// days covered, requests paid so far, an estimate of the time left.
fn short_figures(p: &Progress, eta: Option<Duration>) -> String {
    let mut out = format!(
        "{}/{} days, {} req (${:.2})",
        p.days.min(p.total_days()),
        p.total_days(),
        p.requests,
        p.requests as f64 * aws::COST_PER_REQUEST
    );
    if let (false, Some(eta)) = (p.done, eta) {
        out.push_str(&format!(", ~{} left", human(eta)));
    }
    out
}

/// A duration as a person says it: 45s, 3m 10s, 1h 05m.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}
