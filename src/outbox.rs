//! The delivery outbox and the alert state, in the state store (SQLite, the same file as
//! the fetch cache).
//!
//! A run commits the messages it decided to send together with the new alert state in
//! one transaction (synchronous=FULL) before any is sent; the sender then works through
//! what is due, marking each message sent, retrying, or failed. So a process killed at any
//! point loses nothing: what was committed is sent by a later run, and at most the one
//! message whose send was in flight can go out twice (with the same Message-ID).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::cache::CacheError;
use crate::notify::AlertState;

/// A message ready to go: its bytes are final, so a retry sends the very same message.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub message_id: String,
    /// `alert`, `resolved`, `digest` or `test`.
    pub kind: String,
    pub award: Option<String>,
    pub subject: String,
    pub recipients: Vec<String>,
    pub eml: Vec<u8>,
}

/// A queued message the sender should try now.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub id: i64,
    pub message: Queued,
    pub attempts: u32,
}

/// A message that will not be retried, for the report and the digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    pub message_id: String,
    pub subject: String,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// Delivery counts for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Deliveries {
    pub pending: u64,
    pub sent: u64,
    pub failed: Vec<Failed>,
}

/// Backoff between attempts: `base * 2^(attempts - 1)`, at most `max`; after
/// `max_attempts` a transient failure becomes a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            base: Duration::minutes(5),
            max: Duration::hours(6),
            max_attempts: 20,
        }
    }
}

impl Retry {
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2i32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.base
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

pub struct Outbox {
    path: PathBuf,
    conn: Connection,
}

fn fail(path: &Path, e: impl std::fmt::Display) -> CacheError {
    CacheError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn parse_time(path: &Path, s: &str) -> Result<DateTime<Utc>, CacheError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| fail(path, format!("bad time {s:?} in the outbox")))
}

impl Outbox {
    /// Opens (creating on first use) the outbox in the state folder `dir`.
    /// What the outbox in the state folder `dir` holds, read without writing anything
    /// (so `report` works on a read-only state folder); empty when there is no outbox.
    pub fn read_deliveries(dir: &Path) -> Result<Deliveries, CacheError> {
        let path = dir.join(crate::cache::FILE_NAME);
        if !path.exists() {
            return Ok(Deliveries::default());
        }
        let conn = crate::cache::open_read_only(&path)?;
        let has_outbox: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| fail(&path, e))?;
        if !has_outbox {
            return Ok(Deliveries::default());
        }
        Outbox { path, conn }.deliveries()
    }

    pub fn open(dir: &Path) -> Result<Outbox, CacheError> {
        let (path, conn) = crate::cache::open_store(dir)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS alert_state (
                 award TEXT NOT NULL,
                 rule TEXT NOT NULL,
                 state TEXT NOT NULL,
                 PRIMARY KEY (award, rule)
             );
             CREATE TABLE IF NOT EXISTS outbox (
                 id INTEGER PRIMARY KEY,
                 message_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 award TEXT,
                 subject TEXT NOT NULL,
                 recipients TEXT NOT NULL,
                 eml BLOB NOT NULL,
                 queued_at TEXT NOT NULL,
                 status TEXT NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 next_attempt_at TEXT NOT NULL,
                 last_error TEXT,
                 done_at TEXT,
                 UNIQUE (message_id, recipients)
             );
             CREATE TABLE IF NOT EXISTS digest (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 last_sent_on TEXT NOT NULL
             );",
        )
        .map_err(|e| fail(&path, e))?;
        Ok(Outbox { path, conn })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every alert state remembered.
    pub fn alert_states(&self) -> Result<Vec<AlertState>, CacheError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state FROM alert_state ORDER BY award, rule")
            .map_err(|e| fail(&self.path, e))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| fail(&self.path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| fail(&self.path, e))?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(|e| fail(&self.path, e)))
            .collect()
    }

    /// The day the last digest was queued.
    pub fn last_digest(&self) -> Result<Option<NaiveDate>, CacheError> {
        let day: Option<String> = self
            .conn
            .query_row("SELECT last_sent_on FROM digest WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| fail(&self.path, e))?;
        day.map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| fail(&self.path, format!("bad digest day {d:?}")))
        })
        .transpose()
    }

    /// Commits `messages`, the alert `states` that go with them, and the digest day, all
    /// at once. A message already queued for the same recipients is not queued again.
    pub fn commit(
        &mut self,
        messages: &[Queued],
        states: &[AlertState],
        digest_on: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<usize, CacheError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| fail(&path, e))?;
        let mut queued = 0;
        for m in messages {
            queued += tx
                .execute(
                    "INSERT OR IGNORE INTO outbox
                         (message_id, kind, award, subject, recipients, eml, queued_at, status, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?7)",
                    params![
                        m.message_id,
                        m.kind,
                        m.award,
                        m.subject,
                        m.recipients.join(","),
                        m.eml,
                        now.to_rfc3339()
                    ],
                )
                .map_err(|e| fail(&path, e))?;
        }
        tx.execute("DELETE FROM alert_state", [])
            .map_err(|e| fail(&path, e))?;
        for s in states {
            let json = serde_json::to_string(s).map_err(|e| fail(&path, e))?;
            tx.execute(
                "INSERT INTO alert_state (award, rule, state) VALUES (?1, ?2, ?3)",
                params![s.award, s.rule, json],
            )
            .map_err(|e| fail(&path, e))?;
        }
        if let Some(day) = digest_on {
            tx.execute(
                "INSERT INTO digest (id, last_sent_on) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET last_sent_on = excluded.last_sent_on",
                params![day.to_string()],
            )
            .map_err(|e| fail(&path, e))?;
        }
        tx.commit().map_err(|e| fail(&path, e))?;
        Ok(queued)
    }

    /// Pending messages whose next attempt is due at `now`, oldest first.
    pub fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, CacheError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, message_id, kind, award, subject, recipients, eml, attempts
                 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY id",
            )
            .map_err(|e| fail(&self.path, e))?;
        let rows = stmt
            .query_map(params![now.to_rfc3339()], |r| {
                Ok(Due {
                    id: r.get(0)?,
                    message: Queued {
                        message_id: r.get(1)?,
                        kind: r.get(2)?,
                        award: r.get(3)?,
                        subject: r.get(4)?,
                        recipients: r
                            .get::<_, String>(5)?
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                        eml: r.get(6)?,
                    },
                    attempts: r.get(7)?,
                })
            })
            .map_err(|e| fail(&self.path, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| fail(&self.path, e))
    }

    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), CacheError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, done_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now.to_rfc3339()],
            )
            .map_err(|e| fail(&self.path, e))?;
        Ok(())
    }

    /// Notes a transient failure: retried after the backoff, or failed for good once
    /// `retry.max_attempts` is reached. Returns whether it will be retried.
    pub fn mark_retry(
        &self,
        due: &Due,
        error: &str,
        now: DateTime<Utc>,
        retry: &Retry,
    ) -> Result<bool, CacheError> {
        let attempts = due.attempts + 1;
        if attempts >= retry.max_attempts {
            self.mark_failed(due.id, &format!("{error} (after {attempts} attempts)"), now)?;
            return Ok(false);
        }
        let next = now
            .checked_add_signed(retry.delay(attempts))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.conn
            .execute(
                "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                params![due.id, attempts, next.to_rfc3339(), error],
            )
            .map_err(|e| fail(&self.path, e))?;
        Ok(true)
    }

    pub fn mark_failed(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<(), CacheError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, done_at = ?3 WHERE id = ?1",
                params![id, error, now.to_rfc3339()],
            )
            .map_err(|e| fail(&self.path, e))?;
        Ok(())
    }

    /// Counts and the failed messages, for the report and the digest.
    pub fn deliveries(&self) -> Result<Deliveries, CacheError> {
        let count = |status: &str| -> Result<u64, CacheError> {
            self.conn
                .query_row(
                    "SELECT count(*) FROM outbox WHERE status = ?1",
                    params![status],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| fail(&self.path, e))
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT message_id, subject, coalesce(last_error, ''), done_at FROM outbox
                 WHERE status = 'failed' ORDER BY id",
            )
            .map_err(|e| fail(&self.path, e))?;
        let rows: Vec<(String, String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| fail(&self.path, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| fail(&self.path, e))?;
        let failed = rows
            .into_iter()
            .map(|(message_id, subject, error, at)| {
                Ok(Failed {
                    message_id,
                    subject,
                    error,
                    failed_at: parse_time(&self.path, &at)?,
                })
            })
            .collect::<Result<_, CacheError>>()?;
        Ok(Deliveries {
            pending: count("pending")?,
            sent: count("sent")?,
            failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry::default();
        let minutes: Vec<i64> = (1..=9).map(|a| r.delay(a).num_minutes()).collect();
        assert_eq!(minutes, [5, 10, 20, 40, 80, 160, 320, 360, 360]);
    }

    fn message(id: &str) -> Queued {
        Queued {
            message_id: id.into(),
            kind: "alert".into(),
            award: Some("poc".into()),
            subject: format!("subject {id}"),
            recipients: vec!["a@example.com".into(), "b@example.com".into()],
            eml: b"From: x\r\n\r\nbody".to_vec(),
        }
    }

    #[test]
    fn queue_retry_fail_and_send() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        let t0: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().unwrap();
        assert_eq!(
            outbox
                .commit(&[message("<a>"), message("<b>")], &[], None, t0)
                .unwrap(),
            2
        );
        // The same message to the same recipients is never queued twice.
        assert_eq!(outbox.commit(&[message("<a>")], &[], None, t0).unwrap(), 0);
        let due = outbox.due(t0).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(
            due[0].message.recipients,
            ["a@example.com", "b@example.com"]
        );
        let retry = Retry::default();
        assert!(outbox
            .mark_retry(&due[0], "connection refused", t0, &retry)
            .unwrap());
        outbox
            .mark_failed(due[1].id, "550 no such user", t0)
            .unwrap();
        // Not due again until the backoff passed.
        assert!(outbox.due(t0 + Duration::minutes(4)).unwrap().is_empty());
        let again = outbox.due(t0 + Duration::minutes(5)).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        outbox
            .mark_sent(again[0].id, t0 + Duration::minutes(5))
            .unwrap();
        let d = outbox.deliveries().unwrap();
        assert_eq!((d.pending, d.sent), (0, 1));
        assert_eq!(d.failed.len(), 1);
        assert_eq!(d.failed[0].error, "550 no such user");
    }
}
