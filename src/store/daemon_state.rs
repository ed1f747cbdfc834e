//! What the daemon remembers between starts: the last slot run and how it ended, and the
//! last report (for `/metrics`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
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
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO last_report (id, saved_at, report) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, report = excluded.report",
                params![at.to_rfc3339(), report_json],
            )
            .map_err(|e| super::fail_path(&self.path, e))?;
        Ok(())
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
