//! The delivery outbox and the alert state, in the state store (SQLite, the same file as
//! the fetch cache).
//!
//! A run commits the messages it decided to send together with the new alert state in
//! one transaction (synchronous=FULL) before any is sent; the sender then works through
//! what is due, marking each delivery sent, retrying, held or failed. So a process killed
//! at any point loses nothing: what was committed is sent by a later run, and at most the
//! one delivery in flight can go out twice (with the same Message-ID).
//!
//! A message is stored once (`message`), with a delivery row per recipient (`delivery`),
//! so a thousand recipients cost a thousand small rows, not a thousand copies. Finished
//! deliveries older than the configured age are pruned; the alert state never is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::model::deliveries::{Deliveries, Failed, Waiting};
use crate::notify::email::MessageKind;
use crate::notify::state::AlertState;
use crate::store::{fail_path as fail, StoreError};

/// A message ready to go: its bytes are final, so a retry sends the very same message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Queued {
    pub message_id: String,
    pub kind: MessageKind,
    pub award: Option<String>,
    pub subject: String,
    /// Each gets a delivery of its own, so an address the server refuses fails alone.
    /// A channel's message has one, the channel ([`channel_recipient`]).
    pub recipients: Vec<String>,
    /// The message's bytes: the MIME message, or what the channel is sent.
    pub eml: Vec<u8>,
    /// The channel it goes to (its `name`); None is email.
    pub channel: Option<String>,
}

/// The recipient a channel's delivery is recorded under, as the report and the digest
/// show it.
pub(crate) fn channel_recipient(channel: &str) -> String {
    format!("channel {channel}")
}

/// One delivery the sender should try now: a message to one recipient.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Due {
    pub id: i64,
    pub message_id: String,
    pub subject: String,
    pub recipient: String,
    /// The message's bytes, shared by its deliveries.
    pub eml: Arc<Vec<u8>>,
    pub attempts: u32,
}

/// Which deliveries a pass works through: email's, or one channel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via<'a> {
    Email,
    Channel(&'a str),
}

impl Via<'_> {
    fn channel(self) -> Option<String> {
        match self {
            Via::Email => None,
            Via::Channel(c) => Some(c.to_string()),
        }
    }
}

/// Backoff between attempts: `base * 2^(attempts - 1)`, at most `max`; after
/// `max_attempts` a transient failure becomes a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Retry {
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
    pub(crate) fn delay(&self, attempts: u32) -> Duration {
        let factor = 2i32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.base
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

pub(crate) struct Outbox {
    path: PathBuf,
    conn: Connection,
}

fn parse_time(path: &Path, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| fail(path, format!("bad time {s:?} in the outbox")))
}

impl Outbox {
    /// What the outbox in the state folder `dir` holds, read without writing anything
    /// (so `report` works on a read-only state folder); empty when there is no store.
    pub(crate) fn read_deliveries(dir: &Path) -> Result<Deliveries, StoreError> {
        let path = dir.join(crate::store::FILE_NAME);
        if !path.exists() {
            return Ok(Deliveries::default());
        }
        let conn = crate::store::open_read_only(&path)?;
        Outbox { path, conn }.deliveries()
    }

    /// Opens (creating on first use) the outbox in the state folder `dir`.
    pub fn open(dir: &Path) -> Result<Outbox, StoreError> {
        let (path, conn) = crate::store::open_store(dir)?;
        Ok(Outbox { path, conn })
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        fail(&self.path, e)
    }

    /// Every alert state remembered.
    pub(crate) fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state FROM alert_state ORDER BY award, rule")
            .map_err(|e| self.fail(e))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(|e| self.fail(e)))
            .collect()
    }

    /// The day the last digest was queued.
    pub(crate) fn last_digest(&self) -> Result<Option<NaiveDate>, StoreError> {
        let day: Option<String> = self
            .conn
            .query_row("SELECT last_sent_on FROM digest WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(e))?;
        day.map(|d| {
            NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| self.fail(format!("bad digest day {d:?}")))
        })
        .transpose()
    }

    /// Commits `messages`, the alert `states` that go with them, and the digest day, all
    /// at once. Returns the deliveries queued: a message already queued for a recipient
    /// is not queued for it again.
    pub fn commit(
        &mut self,
        messages: &[Queued],
        states: &[AlertState],
        digest_on: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| fail(&path, e))?;
        let mut queued = 0;
        let at = now.to_rfc3339();
        for m in messages {
            tx.execute(
                "INSERT OR IGNORE INTO message (message_id, kind, award, subject, eml, queued_at, channel)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![m.message_id, m.kind.as_str(), m.award, m.subject, m.eml, at, m.channel],
            )
            .map_err(|e| fail(&path, e))?;
            let id: i64 = tx
                .query_row(
                    "SELECT id FROM message WHERE message_id = ?1",
                    [&m.message_id],
                    |r| r.get(0),
                )
                .map_err(|e| fail(&path, e))?;
            for r in &m.recipients {
                queued += tx
                    .execute(
                        "INSERT OR IGNORE INTO delivery (message, recipient, status, next_attempt_at)
                         VALUES (?1, ?2, 'pending', ?3)",
                        params![id, r, at],
                    )
                    .map_err(|e| fail(&path, e))?;
            }
        }
        tx.execute("DELETE FROM alert_state", [])
            .map_err(|e| fail(&path, e))?;
        for s in states {
            let json = serde_json::to_string(s).map_err(|e| fail(&path, e))?;
            tx.execute(
                "INSERT INTO alert_state (award, rule, state) VALUES (?1, ?2, ?3)",
                params![s.award, s.rule.as_str(), json],
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

    /// Pending deliveries whose next attempt is due at `now`, oldest first, of every
    /// route. Each message's bytes are read once and shared by its deliveries.
    #[cfg(test)]
    pub(crate) fn due(&self, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
        self.due_where(now, None)
    }

    /// As [`Outbox::due`], for one route: email's deliveries, or one channel's.
    pub(crate) fn due_via(&self, now: DateTime<Utc>, via: Via) -> Result<Vec<Due>, StoreError> {
        self.due_where(now, Some(via))
    }

    fn due_where(&self, now: DateTime<Utc>, via: Option<Via>) -> Result<Vec<Due>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.id, d.message, m.message_id, m.subject, d.recipient, d.attempts
                 FROM delivery d JOIN message m ON m.id = d.message
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                   AND (?2 = 0 OR m.channel IS ?3)
                 ORDER BY m.id, d.id",
            )
            .map_err(|e| self.fail(e))?;
        type Row = (i64, i64, String, String, String, u32);
        let (filtered, channel) = match via {
            None => (0, None),
            Some(v) => (1, v.channel()),
        };
        let rows: Vec<Row> = stmt
            .query_map(params![now.to_rfc3339(), filtered, channel], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))?;
        let mut bodies: HashMap<i64, Arc<Vec<u8>>> = HashMap::new();
        let mut due = Vec::with_capacity(rows.len());
        for (id, message, message_id, subject, recipient, attempts) in rows {
            let eml = match bodies.get(&message) {
                Some(b) => b.clone(),
                None => {
                    let b: Vec<u8> = self
                        .conn
                        .query_row("SELECT eml FROM message WHERE id = ?1", [message], |r| {
                            r.get(0)
                        })
                        .map_err(|e| self.fail(e))?;
                    let b = Arc::new(b);
                    bodies.insert(message, b.clone());
                    b
                }
            };
            due.push(Due {
                id,
                message_id,
                subject,
                recipient,
                eml,
                attempts,
            });
        }
        Ok(due)
    }

    pub(crate) fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE delivery SET status = 'sent', attempts = attempts + 1, done_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now.to_rfc3339()],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Marks every delivery in `ids` sent, in one commit (the `.eml` folder holds one file
    /// for all the recipients of a message).
    pub(crate) fn mark_all_sent(
        &mut self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| fail(&path, e))?;
        for id in ids {
            tx.execute(
                "UPDATE delivery SET status = 'sent', attempts = attempts + 1, done_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now.to_rfc3339()],
            )
            .map_err(|e| fail(&path, e))?;
        }
        tx.commit().map_err(|e| fail(&path, e))
    }

    /// Notes a transient failure: retried after the backoff, or failed for good once
    /// `retry.max_attempts` is reached. Returns whether it will be retried.
    pub(crate) fn mark_retry(
        &self,
        due: &Due,
        error: &str,
        now: DateTime<Utc>,
        retry: &Retry,
    ) -> Result<bool, StoreError> {
        self.mark_retry_after(due, error, now, retry, Duration::zero())
    }

    /// As [`Outbox::mark_retry`], not sooner than `at_least` from now (a receiver's
    /// Retry-After).
    pub(crate) fn mark_retry_after(
        &self,
        due: &Due,
        error: &str,
        now: DateTime<Utc>,
        retry: &Retry,
        at_least: Duration,
    ) -> Result<bool, StoreError> {
        let attempts = due.attempts + 1;
        if attempts >= retry.max_attempts {
            self.mark_failed(due.id, &format!("{error} (after {attempts} attempts)"), now)?;
            return Ok(false);
        }
        let next = now
            .checked_add_signed(retry.delay(attempts).max(at_least))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.conn
            .execute(
                "UPDATE delivery SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                params![due.id, attempts, next.to_rfc3339(), error],
            )
            .map_err(|e| self.fail(e))?;
        Ok(true)
    }

    /// Notes why every pending delivery of a route is held back (a refused login, a TLS
    /// setting, a revoked webhook): the operator's to fix, so no attempt is counted and
    /// none is given up; each is tried again by the next run.
    pub(crate) fn mark_held(&self, error: &str, via: Via) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE delivery SET last_error = ?1 WHERE status = 'pending'
                 AND message IN (SELECT id FROM message WHERE channel IS ?2)",
                params![error, via.channel()],
            )
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    /// Puts failed deliveries back in the queue with `error`, the attempt that failed
    /// them not counted: a refusal that proved to be the sender's, not theirs.
    pub(crate) fn requeue(&self, ids: &[i64], error: &str) -> Result<(), StoreError> {
        for id in ids {
            self.conn
                .execute(
                    "UPDATE delivery SET status = 'pending', attempts = max(attempts - 1, 0), done_at = NULL, last_error = ?2 WHERE id = ?1",
                    params![id, error],
                )
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    /// Makes no pending delivery of a route due before `until` (a rate limit's
    /// Retry-After): no attempt counted.
    pub(crate) fn defer(&self, via: Via, until: DateTime<Utc>) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE delivery SET next_attempt_at = max(next_attempt_at, ?1) WHERE status = 'pending'
                 AND message IN (SELECT id FROM message WHERE channel IS ?2)",
                params![until.to_rfc3339(), via.channel()],
            )
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    /// The channels with deliveries still pending.
    pub(crate) fn pending_channels(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT m.channel FROM delivery d JOIN message m ON m.id = d.message
                 WHERE d.status = 'pending' AND m.channel IS NOT NULL ORDER BY m.channel",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e));
        rows
    }

    /// Fails every pending delivery of `channel` with `error`, in one commit: the channel
    /// was taken out of the configuration. Returns how many.
    pub(crate) fn fail_channel(
        &self,
        channel: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE delivery SET status = 'failed', last_error = ?2, done_at = ?3
                 WHERE status = 'pending' AND message IN (SELECT id FROM message WHERE channel = ?1)",
                params![channel, error, now.to_rfc3339()],
            )
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    pub(crate) fn mark_failed(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE delivery SET status = 'failed', attempts = attempts + 1, last_error = ?2, done_at = ?3 WHERE id = ?1",
                params![id, error, now.to_rfc3339()],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Removes deliveries finished (sent or failed) before `before`, and the messages
    /// left with none; their counts are kept. Pending deliveries and the alert state are
    /// never pruned. Returns the deliveries removed.
    pub(crate) fn prune(&mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| fail(&path, e))?;
        let cutoff = before.to_rfc3339();
        let count = |status: &str| -> Result<i64, StoreError> {
            tx.query_row(
                "SELECT count(*) FROM delivery WHERE status = ?1 AND done_at < ?2",
                params![status, cutoff],
                |r| r.get(0),
            )
            .map_err(|e| fail(&path, e))
        };
        let (sent, failed) = (count("sent")?, count("failed")?);
        tx.execute(
            "UPDATE delivery_pruned SET sent = sent + ?1, failed = failed + ?2 WHERE id = 1",
            params![sent, failed],
        )
        .map_err(|e| fail(&path, e))?;
        let removed = tx
            .execute(
                "DELETE FROM delivery WHERE status IN ('sent', 'failed') AND done_at < ?1",
                params![cutoff],
            )
            .map_err(|e| fail(&path, e))?;
        tx.execute(
            "DELETE FROM message WHERE id NOT IN (SELECT message FROM delivery)",
            [],
        )
        .map_err(|e| fail(&path, e))?;
        tx.commit().map_err(|e| fail(&path, e))?;
        Ok(removed as u64)
    }

    /// Counts, the failed deliveries and what holds the waiting ones, for the report,
    /// the digest and `/health`.
    pub fn deliveries(&self) -> Result<Deliveries, StoreError> {
        let count = |status: &str| -> Result<u64, StoreError> {
            self.conn
                .query_row(
                    "SELECT count(*) FROM delivery WHERE status = ?1",
                    params![status],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| self.fail(e))
        };
        let (pruned_sent, pruned_failed): (i64, i64) = self
            .conn
            .query_row(
                "SELECT sent, failed FROM delivery_pruned WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.fail(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.message_id, m.subject, d.recipient, coalesce(d.last_error, ''), d.done_at
                 FROM delivery d JOIN message m ON m.id = d.message
                 WHERE d.status = 'failed' ORDER BY d.id",
            )
            .map_err(|e| self.fail(e))?;
        let rows: Vec<(String, String, String, String, String)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))?;
        let failed: Vec<Failed> = rows
            .into_iter()
            .map(|(message_id, subject, recipient, error, at)| {
                Ok(Failed {
                    message_id,
                    subject,
                    recipient,
                    error,
                    failed_at: parse_time(&self.path, &at)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT last_error, count(*) FROM delivery
                 WHERE status = 'pending' AND last_error IS NOT NULL
                 GROUP BY last_error ORDER BY count(*) DESC, last_error",
            )
            .map_err(|e| self.fail(e))?;
        let waiting: Vec<Waiting> = stmt
            .query_map([], |r| {
                Ok(Waiting {
                    error: r.get(0)?,
                    messages: r.get::<_, i64>(1)? as u64,
                })
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))?;
        let failed_total = failed.len() as u64 + pruned_failed as u64;
        Ok(Deliveries {
            pending: count("pending")?,
            sent: count("sent")? + pruned_sent as u64,
            failed,
            failed_total,
            waiting,
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
            kind: MessageKind::Alert,
            award: Some("poc".into()),
            subject: format!("subject {id}"),
            recipients: vec!["a@example.com".into(), "b@example.com".into()],
            eml: b"From: x\r\n\r\nbody".to_vec(),
            channel: None,
        }
    }

    fn rows(outbox: &Outbox, table: &str) -> i64 {
        outbox
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
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
            4
        );
        // One body per message, a delivery per recipient.
        assert_eq!(
            (rows(&outbox, "message"), rows(&outbox, "delivery")),
            (2, 4)
        );
        // The same message to the same recipients is never queued twice.
        assert_eq!(outbox.commit(&[message("<a>")], &[], None, t0).unwrap(), 0);
        let due = outbox.due(t0).unwrap();
        assert_eq!(due.len(), 4);
        assert_eq!(due[0].recipient, "a@example.com");
        assert_eq!(due[1].recipient, "b@example.com");
        assert!(
            Arc::ptr_eq(&due[0].eml, &due[1].eml),
            "the body is read once"
        );
        let retry = Retry::default();
        assert!(outbox
            .mark_retry(&due[0], "connection refused", t0, &retry)
            .unwrap());
        outbox
            .mark_failed(due[1].id, "550 no such user", t0)
            .unwrap();
        outbox.mark_sent(due[2].id, t0).unwrap();
        outbox.mark_sent(due[3].id, t0).unwrap();
        // Not due again until the backoff passed.
        assert!(outbox.due(t0 + Duration::minutes(4)).unwrap().is_empty());
        let d = outbox.deliveries().unwrap();
        assert_eq!(
            d.waiting,
            [Waiting {
                error: "connection refused".into(),
                messages: 1
            }]
        );
        let again = outbox.due(t0 + Duration::minutes(5)).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        outbox
            .mark_sent(again[0].id, t0 + Duration::minutes(5))
            .unwrap();
        let d = outbox.deliveries().unwrap();
        assert_eq!((d.pending, d.sent, d.failed_total), (0, 3, 1));
        assert_eq!(d.failed.len(), 1);
        assert_eq!(d.failed[0].error, "550 no such user");
        assert_eq!(d.failed[0].recipient, "b@example.com");
        assert!(d.waiting.is_empty());
    }

    #[test]
    fn held_deliveries_keep_their_attempts_and_stay_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        let t0: DateTime<Utc> = "2026-11-20T08:00:00Z".parse().unwrap();
        outbox.commit(&[message("<a>")], &[], None, t0).unwrap();
        assert_eq!(
            outbox.mark_held("535 login refused", Via::Email).unwrap(),
            2
        );
        let due = outbox.due(t0).unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|d| d.attempts == 0));
        let d = outbox.deliveries().unwrap();
        assert_eq!((d.pending, d.failed_total), (2, 0));
        assert_eq!(d.waiting[0].messages, 2);
    }

    #[test]
    fn pruning_removes_old_finished_deliveries_and_keeps_the_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        let t0: DateTime<Utc> = "2026-06-01T08:00:00Z".parse().unwrap();
        outbox
            .commit(&[message("<old>"), message("<pending>")], &[], None, t0)
            .unwrap();
        let due = outbox.due(t0).unwrap();
        outbox.mark_sent(due[0].id, t0).unwrap();
        outbox.mark_failed(due[1].id, "550", t0).unwrap();
        let t1 = t0 + Duration::days(100);
        outbox.commit(&[message("<new>")], &[], None, t1).unwrap();
        let new = outbox.due(t1).unwrap();
        let new: Vec<&Due> = new.iter().filter(|d| d.message_id == "<new>").collect();
        outbox.mark_sent(new[0].id, t1).unwrap();
        let before = outbox.deliveries().unwrap();
        assert_eq!(outbox.prune(t1 - Duration::days(90)).unwrap(), 2);
        let after = outbox.deliveries().unwrap();
        assert_eq!(after.sent, before.sent);
        assert_eq!(after.failed_total, before.failed_total);
        assert_eq!(after.pending, before.pending);
        assert!(after.failed.is_empty());
        // "<old>" is gone with its deliveries; "<pending>" still has two waiting.
        assert_eq!(rows(&outbox, "message"), 2);
        assert_eq!(outbox.due(t1).unwrap().len(), 3);
    }
}
