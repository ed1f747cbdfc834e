//! The daemon: runs the pipeline on a schedule until told to stop.
//!
//! - One process per state folder: a lock file (`daemon.lock`, an OS file lock, released
//!   when the process ends however it ends) is held for the daemon's life, and `run`
//!   takes it for its pass, so two instances never work on one state at once.
//! - Runs never overlap: the loop waits for a run to finish before it looks at the clock
//!   again; slots that passed during a long run are not run late, the next slot is.
//! - After downtime one missed run is caught up at start: the last slot run is kept in
//!   the state store.
//! - Shutdown is a future passed in (SIGTERM/SIGINT in `cli`). Waiting, it stops at once;
//!   during a run it gives the run `grace` to finish, then abandons it. Every write the
//!   run makes is a committed transaction, so abandoning it corrupts nothing.
//! - Time comes from a [`Clock`], so tests drive it.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::cache::{open_store, CacheError};
use crate::schedule::Schedule;

pub const LOCK_FILE: &str = "daemon.lock";

/// Where time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves at `when` (at once if it has passed).
    fn sleep_until(&self, when: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, when: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let wait = (when - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{}: another creditburn (daemon or run) is working on this state folder; it holds the lock", path.display())]
    Locked { path: PathBuf },
    #[error("{}: cannot open the lock file: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] CacheError),
}

/// The state folder's lock, held while the value lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the state folder's lock, or says who holds it.
pub fn lock(state: &Path) -> Result<StateLock, DaemonError> {
    std::fs::create_dir_all(state).map_err(|source| DaemonError::Lock {
        path: state.to_path_buf(),
        source,
    })?;
    let path = state.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DaemonError::Lock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file, path }),
        Err(std::fs::TryLockError::WouldBlock) => Err(DaemonError::Locked { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(DaemonError::Lock { path, source }),
    }
}

/// What the daemon remembers between starts.
pub struct DaemonState {
    conn: Connection,
    path: PathBuf,
}

impl DaemonState {
    pub fn open(state: &Path) -> Result<DaemonState, CacheError> {
        let (path, conn) = open_store(state)?;
        Ok(DaemonState { conn, path })
    }

    /// The slot of the last run, and how it ended.
    pub fn last_run(&self) -> Result<Option<(DateTime<Utc>, String)>, CacheError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT last_slot, last_outcome FROM daemon WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| fail(&self.path, e))?;
        row.map(|(slot, outcome)| {
            DateTime::parse_from_rfc3339(&slot)
                .map(|t| (t.with_timezone(&Utc), outcome))
                .map_err(|_| fail(&self.path, format!("bad slot {slot:?}")))
        })
        .transpose()
    }

    /// Keeps the report of the last run, for the metrics.
    pub fn save_report(&self, report_json: &str, at: DateTime<Utc>) -> Result<(), CacheError> {
        self.conn
            .execute(
                "INSERT INTO last_report (id, saved_at, report) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, report = excluded.report",
                params![at.to_rfc3339(), report_json],
            )
            .map_err(|e| fail(&self.path, e))?;
        Ok(())
    }

    pub fn last_report(&self) -> Result<Option<serde_json::Value>, CacheError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT report FROM last_report WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| fail(&self.path, e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| fail(&self.path, e)))
            .transpose()
    }

    /// When the last run finished and how.
    pub fn last_finished(&self) -> Result<Option<(DateTime<Utc>, String)>, CacheError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT finished_at, last_outcome FROM daemon WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| fail(&self.path, e))?;
        row.map(|(at, outcome)| {
            DateTime::parse_from_rfc3339(&at)
                .map(|t| (t.with_timezone(&Utc), outcome))
                .map_err(|_| fail(&self.path, format!("bad time {at:?}")))
        })
        .transpose()
    }

    fn record(
        &self,
        slot: DateTime<Utc>,
        outcome: &str,
        finished: DateTime<Utc>,
    ) -> Result<(), CacheError> {
        self.conn
            .execute(
                "INSERT INTO daemon (id, last_slot, last_outcome, finished_at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET last_slot = excluded.last_slot,
                     last_outcome = excluded.last_outcome, finished_at = excluded.finished_at",
                params![slot.to_rfc3339(), outcome, finished.to_rfc3339()],
            )
            .map_err(|e| fail(&self.path, e))?;
        Ok(())
    }
}

fn fail(path: &Path, e: impl std::fmt::Display) -> CacheError {
    CacheError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// How the daemon behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    pub schedule: Schedule,
    /// A random delay up to this long after each slot (spreads many instances).
    pub jitter: StdDuration,
    /// How long a run in progress may take to finish after shutdown is asked.
    pub grace: StdDuration,
    /// Run once right away at start (unless a catch-up run does already).
    pub run_at_start: bool,
}

/// One run: given its slot, runs the pipeline to the end and says how it went.
pub type Job = Box<dyn Fn(DateTime<Utc>) -> Result<(), String> + Send + Sync>;

/// What happened, for the log and for tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A run of this slot started (`late` when caught up after downtime).
    Started {
        slot: DateTime<Utc>,
        late: bool,
    },
    Finished {
        slot: DateTime<Utc>,
        outcome: String,
    },
    /// Shutdown came during a run that did not finish within the grace period.
    Abandoned {
        slot: DateTime<Utc>,
    },
    Stopped,
}

/// Runs `job` on `settings.schedule` until `shutdown` resolves. `log` hears every event.
pub async fn run(
    clock: &dyn Clock,
    settings: &Settings,
    state: &DaemonState,
    job: std::sync::Arc<Job>,
    shutdown: impl Future<Output = ()>,
    log: &mut dyn FnMut(&Event),
) -> Result<(), DaemonError> {
    tokio::pin!(shutdown);
    // Catch up one missed run after downtime.
    let mut pending: Option<(DateTime<Utc>, bool)> = match state.last_run()? {
        Some((last, _)) => {
            let now = clock.now();
            settings
                .schedule
                .missed(last, now)
                .then(|| (latest_slot(&settings.schedule, last, now), true))
        }
        None => None,
    };
    if pending.is_none() && settings.run_at_start {
        pending = Some((clock.now(), false));
    }
    loop {
        let (slot, late) = match pending.take() {
            Some(p) => p,
            None => {
                let Some(next) = settings.schedule.next_after(clock.now()) else {
                    log(&Event::Stopped);
                    return Ok(());
                };
                let wake = next + jitter(settings.jitter);
                // Stopping wins over a slot that is due at the same moment.
                tokio::select! {
                    biased;
                    _ = &mut shutdown => {
                        log(&Event::Stopped);
                        return Ok(());
                    }
                    _ = clock.sleep_until(wake) => (next, false),
                }
            }
        };
        log(&Event::Started { slot, late });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let runner = job.clone();
        // The job blocks (in `cli` it waits for a child process), so it gets a thread.
        std::thread::spawn(move || {
            let _ = tx.send(runner(slot));
        });
        tokio::pin!(rx);
        let outcome = tokio::select! {
            done = &mut rx => done.unwrap_or_else(|_| Err("the run stopped without a result".into())),
            _ = &mut shutdown => {
                match tokio::time::timeout(settings.grace, &mut rx).await {
                    Ok(done) => {
                        let outcome = describe(&done.unwrap_or_else(|_| Err("the run stopped".into())));
                        state.record(slot, &outcome, clock.now())?;
                        log(&Event::Finished { slot, outcome });
                    }
                    Err(_) => log(&Event::Abandoned { slot }),
                }
                log(&Event::Stopped);
                return Ok(());
            }
        };
        let outcome = describe(&outcome);
        state.record(slot, &outcome, clock.now())?;
        log(&Event::Finished { slot, outcome });
    }
}

fn describe(outcome: &Result<(), String>) -> String {
    match outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    }
}

/// The last slot in `(since, now]`: the one a catch-up run stands for.
fn latest_slot(schedule: &Schedule, since: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut slot = since;
    while let Some(next) = schedule.next_after(slot).filter(|t| *t <= now) {
        slot = next;
    }
    slot
}

fn jitter(max: StdDuration) -> Duration {
    if max.is_zero() {
        return Duration::zero();
    }
    // Good enough spread without a random-number dependency.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::milliseconds((nanos % max.as_millis().max(1) as u64) as i64)
}

/// Most connections the listener serves at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 256;
/// A connection that has not sent its request head by then is closed.
const HEADER_TIMEOUT: StdDuration = StdDuration::from_secs(2);
/// Bound on one whole connection.
const CONNECTION_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// Serves `/health` and `/metrics` from the state store in `state` until the task is
/// dropped, with hyper: one request per connection, at most [`MAX_CONNECTIONS`] at once,
/// a slow or silent client cut off after [`HEADER_TIMEOUT`], GET and HEAD only. An
/// accept error (out of file descriptors) backs off instead of spinning. Each request
/// reads the store afresh; nothing is shared with the runs.
pub async fn serve(listener: tokio::net::TcpListener, state: PathBuf) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = StdDuration::from_millis(10);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = StdDuration::from_millis(10);
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, "daemon: cannot accept a connection: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(StdDuration::from_secs(1));
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(request, state).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(permit);
        });
    }
}

async fn handle(
    request: hyper::Request<hyper::body::Incoming>,
    state: PathBuf,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    use hyper::header::{ALLOW, CONTENT_TYPE};
    use hyper::{Method, Response, StatusCode};
    let text = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, content_type)
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap_or_default()
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = request.uri().path().to_string();
    // The store is read on the blocking pool, never on the thread that serves.
    let answer = tokio::task::spawn_blocking(move || respond(&path, &state)).await;
    match answer {
        Ok((status, content_type, body)) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type,
            body,
        ),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the scrape failed\n".into(),
        ),
    }
}

/// What one scrape reads from the state store.
struct Scrape {
    report: Option<serde_json::Value>,
    last_run: Option<(DateTime<Utc>, String)>,
    deliveries: crate::outbox::Deliveries,
    requests_total: u64,
}

fn scrape(state: &Path) -> Result<Scrape, CacheError> {
    let daemon = DaemonState::open(state)?;
    Ok(Scrape {
        report: daemon.last_report()?,
        last_run: daemon.last_finished()?,
        deliveries: crate::outbox::Outbox::open(state)?.deliveries()?,
        requests_total: crate::cache::Cache::open(state)?.requests_total()?,
    })
}

fn respond(path: &str, state: &Path) -> (u16, &'static str, String) {
    match (path, scrape(state)) {
        (_, Err(e)) => (
            503,
            "text/plain; charset=utf-8",
            format!("state store: {e}\n"),
        ),
        ("/health", Ok(s)) => {
            let (status, body) = crate::metrics::health(s.last_run.as_ref(), &s.deliveries);
            (status, "text/plain; charset=utf-8", body)
        }
        ("/metrics", Ok(s)) => (
            200,
            crate::metrics::CONTENT_TYPE,
            crate::metrics::render(&crate::metrics::Snapshot {
                report: s.report.as_ref(),
                last_run: s.last_run,
                deliveries: &s.deliveries,
                requests_total: s.requests_total,
            }),
        ),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "try /health or /metrics\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A clock that jumps: sleeping moves it to the wake time at once.
    struct FakeClock(Mutex<DateTime<Utc>>);

    impl Clock for FakeClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
        fn sleep_until(
            &self,
            when: DateTime<Utc>,
        ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            let mut t = self.0.lock().unwrap();
            if when > *t {
                *t = when;
            }
            Box::pin(std::future::ready(()))
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Runs the daemon from `start` until it has started `runs` runs; returns its events.
    fn drive(
        line: &str,
        start: &str,
        previous: Option<&str>,
        runs: usize,
        job_takes: Duration,
    ) -> Vec<Event> {
        let dir = tempfile::tempdir().unwrap();
        let state = DaemonState::open(dir.path()).unwrap();
        if let Some(p) = previous {
            state.record(at(p), "ok", at(p)).unwrap();
        }
        let clock = Arc::new(FakeClock(Mutex::new(at(start))));
        let settings = Settings {
            schedule: crate::schedule::parse(line, None).unwrap(),
            jitter: StdDuration::ZERO,
            grace: StdDuration::from_secs(1),
            run_at_start: false,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let job_clock = clock.clone();
        let running = Arc::new(Mutex::new(0));
        let running_in_job = running.clone();
        let job: Job = Box::new(move |_slot| {
            let mut n = running_in_job.lock().unwrap();
            *n += 1;
            assert_eq!(*n, 1, "two runs at once");
            drop(n);
            // The run takes time on the clock.
            let mut t = job_clock.0.lock().unwrap();
            *t += job_takes;
            drop(t);
            *running_in_job.lock().unwrap() -= 1;
            Ok(())
        });
        let mut events = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut stop_rx = stop_rx;
            let shutdown = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            let mut log = |e: &Event| {
                events.push(e.clone());
                let started = events
                    .iter()
                    .filter(|e| matches!(e, Event::Started { .. }))
                    .count();
                if started >= runs && matches!(e, Event::Finished { .. }) {
                    let _ = stop_tx.send(true);
                }
            };
            run(
                clock.as_ref(),
                &settings,
                &state,
                Arc::new(job),
                shutdown,
                &mut log,
            )
            .await
            .unwrap();
        });
        events
    }

    fn started(events: &[Event]) -> Vec<(String, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Started { slot, late } => Some((slot.to_rfc3339(), *late)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn runs_on_schedule_and_catches_up_once() {
        // Never run before: the first run is the next slot, none is "caught up".
        let e = drive(
            "15 7 * * *",
            "2026-11-22T06:00:00Z",
            None,
            2,
            Duration::minutes(1),
        );
        assert_eq!(
            started(&e),
            [
                ("2026-11-22T07:15:00+00:00".into(), false),
                ("2026-11-23T07:15:00+00:00".into(), false)
            ]
        );
        // Down for three days: one catch-up run for the latest missed slot, then on time.
        let e = drive(
            "15 7 * * *",
            "2026-11-22T09:00:00Z",
            Some("2026-11-19T07:15:00Z"),
            2,
            Duration::minutes(1),
        );
        assert_eq!(
            started(&e),
            [
                ("2026-11-22T07:15:00+00:00".into(), true),
                ("2026-11-23T07:15:00+00:00".into(), false)
            ]
        );
    }

    #[test]
    fn a_long_run_never_overlaps_the_next() {
        // Every 10 minutes, each run taking 25: runs follow one another, the slots that
        // passed meanwhile are not run late.
        let e = drive(
            "*/10 * * * *",
            "2026-11-22T06:55:00Z",
            None,
            3,
            Duration::minutes(25),
        );
        assert_eq!(
            started(&e),
            [
                ("2026-11-22T07:00:00+00:00".into(), false),
                ("2026-11-22T07:30:00+00:00".into(), false),
                ("2026-11-22T08:00:00+00:00".into(), false),
            ]
        );
    }

    #[test]
    fn the_lock_admits_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(matches!(lock(dir.path()), Err(DaemonError::Locked { .. })));
        drop(first);
        assert!(lock(dir.path()).is_ok());
    }
}
