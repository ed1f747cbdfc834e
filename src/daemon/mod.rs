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

pub mod http;
pub mod metrics;

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use crate::config::schedule::Schedule;
use crate::model::outcome::Outcome;
use crate::store::daemon_state::DaemonState;
use crate::store::StoreError;

pub(crate) const LOCK_FILE: &str = "daemon.lock";

/// Where time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves at `when` (at once if it has passed).
    fn sleep_until(&self, when: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
pub(crate) struct SystemClock;

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
    #[error("{}: cannot open the lock file ({source}); state.path must be a folder creditburn can write", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
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
pub(crate) type Job = Box<dyn Fn(DateTime<Utc>) -> Result<(), String> + Send + Sync>;

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
        outcome: Outcome,
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
        // A run ends the same way whether it finished on its own or within the grace
        // period after shutdown came: its outcome is remembered, then logged.
        let mut finish = |done: Result<Result<(), String>, _>| -> Result<(), StoreError> {
            let outcome =
                describe(&done.unwrap_or_else(|_| Err("the run stopped without a result".into())));
            state.record(slot, &outcome, clock.now())?;
            log(&Event::Finished { slot, outcome });
            Ok(())
        };
        tokio::select! {
            done = &mut rx => finish(done)?,
            _ = &mut shutdown => {
                match tokio::time::timeout(settings.grace, &mut rx).await {
                    Ok(done) => finish(done)?,
                    Err(_) => log(&Event::Abandoned { slot }),
                }
                log(&Event::Stopped);
                return Ok(());
            }
        }
    }
}

fn describe(outcome: &Result<(), String>) -> Outcome {
    match outcome {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Failed(e.clone()),
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
            state.record(at(p), &Outcome::Ok, at(p)).unwrap();
        }
        let clock = Arc::new(FakeClock(Mutex::new(at(start))));
        let settings = Settings {
            schedule: crate::config::schedule::parse(line, None).unwrap(),
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
