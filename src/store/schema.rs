//! The state store's schema, versioned (`PRAGMA user_version`) with migrations, so an
//! upgrade of creditburn keeps the alert history, the outbox and the cache.
//!
//! - Version 0 is a store written before the schema had a version: its tables are those
//!   of version 1, some possibly not created yet. A file with tables of its own is
//!   refused as foreign rather than adopted.
//! - Each migration runs in one transaction with the bump of `user_version`, so a kill
//!   during an upgrade leaves the store at the old version, intact.
//! - A store written by a newer creditburn (a higher version) is refused, naming both.
//!
//! Every table of the store is declared here and nowhere else.

use rusqlite::Connection;

/// The version this creditburn writes.
pub const VERSION: i64 = 5;

/// Tables a store written before versioning can hold.
const VERSION_1_TABLES: [&str; 9] = [
    "ce_day",
    "ce_query",
    "credit_snapshot",
    "ce_request",
    "alert_state",
    "outbox",
    "digest",
    "daemon",
    "last_report",
];

/// Version 1: the schema as first shipped.
const VERSION_1: &str = "
    CREATE TABLE IF NOT EXISTS ce_day (
        query TEXT NOT NULL,
        day TEXT NOT NULL,
        result TEXT NOT NULL,
        estimated INTEGER NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (query, day)
    );
    CREATE TABLE IF NOT EXISTS ce_query (
        query TEXT PRIMARY KEY,
        group_definitions TEXT NOT NULL,
        dimension_value_attributes TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS credit_snapshot (
        fetched_at TEXT NOT NULL,
        account_id TEXT NOT NULL,
        snapshot TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ce_request (
        at TEXT NOT NULL,
        query TEXT NOT NULL,
        pages INTEGER NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS alert_state (
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
    );
    CREATE TABLE IF NOT EXISTS daemon (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_slot TEXT NOT NULL,
        last_outcome TEXT NOT NULL,
        finished_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS last_report (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        saved_at TEXT NOT NULL,
        report TEXT NOT NULL
    );";

/// Version 2: one body per message and a delivery row per recipient (version 1 kept a
/// copy of the message for each recipient).
const VERSION_2: &str = "
    CREATE TABLE message (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        award TEXT,
        subject TEXT NOT NULL,
        eml BLOB NOT NULL,
        queued_at TEXT NOT NULL
    );
    CREATE TABLE delivery (
        id INTEGER PRIMARY KEY,
        message INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        done_at TEXT,
        UNIQUE (message, recipient)
    );
    CREATE INDEX delivery_status ON delivery (status, next_attempt_at);
    -- What pruning removed, so the all-time counts stay counts.
    CREATE TABLE delivery_pruned (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sent INTEGER NOT NULL,
        failed INTEGER NOT NULL
    );
    INSERT INTO delivery_pruned (id, sent, failed) VALUES (1, 0, 0);
    INSERT INTO message (message_id, kind, award, subject, eml, queued_at)
        SELECT message_id, kind, award, subject, eml, min(queued_at)
        FROM outbox GROUP BY message_id;
    INSERT INTO delivery (message, recipient, status, attempts, next_attempt_at, last_error, done_at)
        SELECT m.id, o.recipients, o.status, o.attempts, o.next_attempt_at, o.last_error, o.done_at
        FROM outbox o JOIN message m ON m.message_id = o.message_id
        ORDER BY o.id;
    DROP TABLE outbox;";

/// Version 3: the cost table of each range of cached days, as built from them, so a run
/// reads a settled month's table instead of decoding its pages again. A part is derived
/// data: `Cache::store` deletes every part whose days it changes.
const VERSION_3: &str = "
    CREATE TABLE ce_table (
        start TEXT NOT NULL,
        end_before TEXT NOT NULL,
        plan TEXT NOT NULL,
        part BLOB NOT NULL,
        PRIMARY KEY (start, end_before)
    );";

/// The migrations: `MIGRATIONS[n]` takes a store from version `n` to `n + 1`.
/// Version 4: a message may go to a channel (Slack, SNS, a webhook) instead of by email;
/// NULL is email. A channel's message has one delivery, to the channel.
const VERSION_4: &str = "
    ALTER TABLE message ADD COLUMN channel TEXT;";

/// Version 5: the status page made from the last report, which the daemon serves on `/`.
const VERSION_5: &str = "
    ALTER TABLE last_report ADD COLUMN page TEXT;";

const MIGRATIONS: [fn(&rusqlite::Transaction) -> rusqlite::Result<()>; VERSION as usize] = [
    |tx| tx.execute_batch(VERSION_1),
    |tx| {
        tx.execute_batch(VERSION_2)?;
        // Early stores kept all recipients of a copy in one comma-separated field.
        let joined: Vec<(i64, String)> = tx
            .prepare("SELECT id, recipient FROM delivery WHERE recipient LIKE '%,%'")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, recipients) in joined {
            for r in recipients.split(',').filter(|r| !r.is_empty()) {
                tx.execute(
                    "INSERT OR IGNORE INTO delivery (message, recipient, status, attempts, next_attempt_at, last_error, done_at)
                     SELECT message, ?2, status, attempts, next_attempt_at, last_error, done_at FROM delivery WHERE id = ?1",
                    rusqlite::params![id, r],
                )?;
            }
            tx.execute("DELETE FROM delivery WHERE id = ?1", [id])?;
        }
        Ok(())
    },
    |tx| tx.execute_batch(VERSION_3),
    |tx| tx.execute_batch(VERSION_4),
    |tx| tx.execute_batch(VERSION_5),
];

/// Why a store cannot be brought to [`VERSION`].
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaError {
    /// Written by a newer creditburn.
    Newer(i64),
    /// Not a creditburn store: it holds a table creditburn never made.
    Foreign(String),
    Sqlite(String),
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaError::Newer(v) => write!(
                f,
                "was written by a newer creditburn (schema version {v}; this one knows up to {VERSION}); upgrade creditburn"
            ),
            SchemaError::Foreign(table) => write!(
                f,
                "is not a creditburn state store (it has a table {table:?}); point state.path at a folder of its own"
            ),
            SchemaError::Sqlite(e) => write!(f, "{e}"),
        }
    }
}

fn sqlite(e: rusqlite::Error) -> SchemaError {
    SchemaError::Sqlite(e.to_string())
}

/// The store's schema version.
pub fn version(conn: &Connection) -> Result<i64, SchemaError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)
}

/// Brings the store to [`VERSION`], one migration per transaction. Returns the version
/// it was at.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64, SchemaError> {
    let found = version(conn)?;
    if found > VERSION {
        return Err(SchemaError::Newer(found));
    }
    if found == 0 {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(sqlite)?;
        let tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(sqlite)?
            .collect::<Result<_, _>>()
            .map_err(sqlite)?;
        if let Some(t) = tables
            .iter()
            .find(|t| !VERSION_1_TABLES.contains(&t.as_str()) && !t.starts_with("sqlite_"))
        {
            return Err(SchemaError::Foreign(t.clone()));
        }
    }
    for (from, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(sqlite)?;
        step(&tx).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_reaches_the_current_version_and_migrating_again_does_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(version(&conn).unwrap(), VERSION);
        assert_eq!(migrate(&mut conn).unwrap(), VERSION);
    }

    #[test]
    fn a_newer_or_foreign_store_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        assert_eq!(migrate(&mut conn), Err(SchemaError::Newer(VERSION + 1)));
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER)")
            .unwrap();
        assert_eq!(
            migrate(&mut conn),
            Err(SchemaError::Foreign("invoices".into()))
        );
    }
}
