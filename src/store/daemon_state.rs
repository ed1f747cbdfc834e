//! What the daemon remembers between starts: the last slot run and how it ended, and the
//! last report (for `/metrics`, and its last day of data for the spike check's look-back).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::model::outcome::Outcome;

/// What the daemon remembers between starts.
pub struct DaemonState {
    conn: Connection,
    path: PathBuf,
}

impl DaemonState {
    pub fn open(state: &Path) -> Result<DaemonState, StoreError> {
        let (path, conn) = super::open_store(state)?;
        Ok(DaemonState { conn, path })
    }

    /// The slot of the last run, and how it ended.
    pub(crate) fn last_run(&self) -> Result<Option<(DateTime<Utc>, Outcome)>, StoreError> {
        self.when_and_outcome("last_slot")
    }

    /// Keeps the report of the last run, for the metrics.
    pub(crate) fn save_report(
        &self,
        report_json: &str,
        page: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO last_report (id, saved_at, report, page) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, report = excluded.report, page = excluded.page",
                params![at.to_rfc3339(), report_json, page],
            )
            .map_err(|e| super::fail_path(&self.path, e))?;
        Ok(())
    }

    /// The last day of data the last run's report analysed (the sooner of its `as_of`
    /// and its data's last day), from the state folder `dir`, read only; None when no
    /// run has saved one (or the folder holds no store yet).
    pub(crate) fn last_analysed_day(dir: &Path) -> Result<Option<NaiveDate>, StoreError> {
        let path = dir.join(super::FILE_NAME);
        if !path.exists() {
            return Ok(None);
        }
        let conn = super::open_read_only(&path)?;
        let days: Option<(Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT json_extract(report, '$.as_of'), json_extract(report, '$.data.last_day')
                 FROM last_report WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| super::fail_path(&path, e))?;
        let Some((Some(as_of), Some(last_day))) = days else {
            return Ok(None);
        };
        let date = |t: &str| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                super::fail_path(&path, format!("the last report's day {t:?} is not a date"))
            })
        };
        Ok(Some(date(&as_of)?.min(date(&last_day)?)))
    }

    pub(crate) fn last_report(&self) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT report FROM last_report WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| super::fail_path(&self.path, e))?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| super::fail_path(&self.path, e)))
            .transpose()
    }

    /// The status page made from the last report, if a run has saved one.
    pub(crate) fn last_page(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT page FROM last_report WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| super::fail_path(&self.path, e))
    }

    /// When the last run finished and how.
    pub(crate) fn last_finished(&self) -> Result<Option<(DateTime<Utc>, Outcome)>, StoreError> {
        self.when_and_outcome("finished_at")
    }

    /// A time column of the daemon's row, with the outcome beside it.
    fn when_and_outcome(
        &self,
        column: &str,
    ) -> Result<Option<(DateTime<Utc>, Outcome)>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                &format!("SELECT {column}, last_outcome FROM daemon WHERE id = 1"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| super::fail_path(&self.path, e))?;
        row.map(|(at, outcome)| {
            DateTime::parse_from_rfc3339(&at)
                .map(|t| (t.with_timezone(&Utc), Outcome::parse(&outcome)))
                .map_err(|_| super::fail_path(&self.path, format!("bad time {at:?}")))
        })
        .transpose()
    }

    pub fn record(
        &self,
        slot: DateTime<Utc>,
        outcome: &Outcome,
        finished: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO daemon (id, last_slot, last_outcome, finished_at) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET last_slot = excluded.last_slot,
                     last_outcome = excluded.last_outcome, finished_at = excluded.finished_at",
                params![slot.to_rfc3339(), outcome.to_string(), finished.to_rfc3339()],
            )
            .map_err(|e| super::fail_path(&self.path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_runs_last_day_is_read_back_and_absent_before_any_run() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DaemonState::last_analysed_day(dir.path()).unwrap(), None);
        let state = DaemonState::open(dir.path()).unwrap();
        // A store without a report yet (a daemon that has not run).
        assert_eq!(DaemonState::last_analysed_day(dir.path()).unwrap(), None);
        let at = DateTime::parse_from_rfc3339("2026-11-21T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // The day the last run analysed, after saving `report`.
        let after = |report: &str| {
            state.save_report(report, "<html></html>", at).unwrap();
            DaemonState::last_analysed_day(dir.path())
        };
        assert_eq!(
            after(r#"{"as_of": "2026-11-20", "data": {"last_day": "2026-11-19"}}"#).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 19)
        );
        // An --as-of before the data's end: the as_of.
        assert_eq!(
            after(r#"{"as_of": "2026-11-10", "data": {"last_day": "2026-11-19"}}"#).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 10)
        );
        // A saved report that is not one: an error the shell warns about.
        assert!(after("not json").is_err());
    }
}
