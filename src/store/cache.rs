//! The state store's fetch cache: every day of every Cost Explorer query fetched so far,
//! in SQLite (rusqlite, bundled), with when it was fetched and whether AWS marked it
//! estimated.
//!
//! Each row holds one `ResultByTime` exactly as AWS returned it, so the cache can rebuild
//! a response body that the SDK decodes like any other. A query's pages are stored in one
//! transaction only once all of them arrived: a half-fetched page sequence never lands.
//! [`days_to_fetch`] is the pure policy deciding what a run must ask for again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::model::credits::AwsCredits;
use crate::store::{fail_path, open_read_only, open_store, StoreError, FILE_NAME};

/// What the cache knows about one day of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CachedDay {
    pub estimated: bool,
    pub fetched_at: DateTime<Utc>,
}

/// When cached days count as settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Days that can still change are fetched again only when older than this: Cost
    /// Explorer refreshes at most three times a day.
    pub min_refresh: Duration,
    /// The last this-many days before today are always treated as changeable.
    pub recent_days: i64,
    /// A closed month's figures can still move until this day of the next month.
    pub month_closes_on_day: u32,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            min_refresh: Duration::hours(6),
            recent_days: 3,
            month_closes_on_day: 5,
        }
    }
}

/// The range `[first, end)` a run must fetch for one query, or None when the cache
/// already holds every day of `[start, end)` in a settled or fresh enough state.
///
/// A day must be fetched when it is missing, or when it can still change (AWS marked it
/// estimated, it is within `recent_days` of today, it is in the open month, or in the
/// previous month before that month closes) and it was fetched longer ago than
/// `min_refresh`. One request covers from the first such day to `end`.
pub(crate) fn days_to_fetch(
    cached: &BTreeMap<NaiveDate, CachedDay>,
    start: NaiveDate,
    end: NaiveDate,
    now: DateTime<Utc>,
    policy: &Freshness,
) -> Option<(NaiveDate, NaiveDate)> {
    let today = now.date_naive();
    let open_month = (today.year(), today.month());
    let previous_month = {
        let first = today.with_day(1).unwrap_or(today);
        let last_of_previous = first - Duration::days(1);
        (last_of_previous.year(), last_of_previous.month())
    };
    let changeable = |day: NaiveDate, c: &CachedDay| {
        let month = (day.year(), day.month());
        c.estimated
            || day >= today - Duration::days(policy.recent_days)
            || month == open_month
            || (month == previous_month && today.day() <= policy.month_closes_on_day)
    };
    let mut day = start;
    while day < end {
        let due = match cached.get(&day) {
            None => true,
            Some(c) => changeable(day, c) && now - c.fetched_at >= policy.min_refresh,
        };
        if due {
            return Some((day, end));
        }
        day = day.succ_opt()?;
    }
    None
}

/// The runs of days in `[start, end)` that `cached` lacks, each as `[from, to)`.
pub(crate) fn gaps(
    cached: &BTreeMap<NaiveDate, CachedDay>,
    start: NaiveDate,
    end: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut day = start;
    while day < end {
        let Some(next) = day.succ_opt() else { break };
        if !cached.contains_key(&day) {
            match out.last_mut() {
                Some((_, to)) if *to == day => *to = next,
                _ => out.push((day, next)),
            }
        }
        day = next;
    }
    out
}

pub struct Cache {
    path: PathBuf,
    conn: Connection,
    /// Opened for reading only: a table part built is not kept.
    read_only: bool,
}

impl Cache {
    /// Opens (creating on first use) the cache in the state folder `dir`.
    pub fn open(dir: &Path) -> Result<Cache, StoreError> {
        let (path, conn) = open_store(dir)?;
        Ok(Cache {
            path,
            conn,
            read_only: false,
        })
    }

    /// Opens an existing cache for reading only: no folder or table is created, no
    /// pragma is set, nothing is written (`check-config` reads it this way).
    pub(crate) fn open_read_only(dir: &Path) -> Result<Cache, StoreError> {
        let path = dir.join(FILE_NAME);
        let conn = open_read_only(&path)?;
        Ok(Cache {
            path,
            conn,
            read_only: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        fail_path(&self.path, e)
    }

    /// The days cached for `query`, with their state.
    pub(crate) fn cached_days(
        &self,
        query: &str,
    ) -> Result<BTreeMap<NaiveDate, CachedDay>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT day, estimated, fetched_at FROM ce_day WHERE query = ?1")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map(params![query], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (day, estimated, fetched_at) = row.map_err(|e| self.fail(e))?;
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .map_err(|_| self.fail(format!("ce_day holds a bad day {day:?}")))?;
            let fetched_at = DateTime::parse_from_rfc3339(&fetched_at)
                .map_err(|_| self.fail(format!("ce_day holds a bad time {fetched_at:?}")))?
                .with_timezone(&Utc);
            out.insert(
                day,
                CachedDay {
                    estimated,
                    fetched_at,
                },
            );
        }
        Ok(out)
    }

    /// Stores every page of one query's answer in one transaction. `pages` are the raw
    /// response bodies, already decoded successfully by the SDK.
    pub fn store(
        &mut self,
        query: &str,
        pages: &[Vec<u8>],
        fetched_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.store_pages(query, pages.iter().map(|p| Ok(p.clone())), fetched_at)
    }

    /// A place for one query's pages while they are fetched and checked, before any is
    /// stored: an unnamed file beside the store (gone when dropped), so that a year of
    /// pages is never held in memory.
    pub fn stage(&self) -> Result<Staged, StoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let file = tempfile::tempfile_in(dir).map_err(|e| {
            fail_path(
                dir,
                format!("cannot make a staging file for fetched pages: {e}"),
            )
        })?;
        Ok(Staged {
            dir: dir.to_path_buf(),
            file: std::io::BufWriter::new(file),
            pages: 0,
        })
    }

    /// Stores the pages `staged` holds, as `store_pages`.
    pub fn store_staged(
        &mut self,
        query: &str,
        staged: Staged,
        fetched_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        use std::io::{Read, Seek};
        let Staged { dir, file, pages } = staged;
        let fail = |e: &dyn std::fmt::Display| {
            fail_path(&dir, format!("reading the staged pages back: {e}"))
        };
        let mut file = file.into_inner().map_err(|e| fail(&e))?;
        file.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| fail(&e))?;
        let mut reader = std::io::BufReader::new(file);
        let mut left = pages;
        let read = std::iter::from_fn(|| {
            if left == 0 {
                return None;
            }
            left -= 1;
            let mut len = [0u8; 8];
            let page = reader.read_exact(&mut len).and_then(|_| {
                let mut body = vec![0u8; u64::from_le_bytes(len) as usize];
                reader.read_exact(&mut body).map(|_| body)
            });
            Some(page.map_err(|e| fail(&e)))
        });
        self.store_pages(query, read, fetched_at)
    }

    /// `store`, the pages read one at a time: only one page and one day are held, so a
    /// year of a large organisation's pages is stored in the memory of one.
    pub fn store_pages(
        &mut self,
        query: &str,
        pages: impl IntoIterator<Item = Result<Vec<u8>, StoreError>>,
        fetched_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let fail = |e: &dyn std::fmt::Display| fail_path(&path, e);
        let mut group_definitions = Value::Array(Vec::new());
        let mut attributes: BTreeMap<String, Value> = BTreeMap::new();
        let at = fetched_at.to_rfc3339();
        let tx = self.conn.transaction().map_err(|e| fail(&e))?;
        // A day split over pages (AWS ends a page after a number of groups) is merged, so
        // the later page adds to the day rather than overwriting it: the day being read
        // is held until the next begins, and a day that comes back after another is
        // merged with what this call wrote of it.
        let mut current: Option<(String, bool, Value)> = None;
        let mut written: BTreeSet<String> = BTreeSet::new();
        let write =
            |day: String, estimated: bool, result: Value, written: &mut BTreeSet<String>| {
                let again = written.contains(&day);
                write_day(&tx, query, &day, estimated, result, again, &at).map_err(|e| fail(&e))?;
                written.insert(day);
                Ok::<_, StoreError>(())
            };
        for page in pages {
            let body: Value = serde_json::from_slice(&page?).map_err(|e| fail(&e))?;
            if let Some(g) = body.get("GroupDefinitions") {
                group_definitions = g.clone();
            }
            for a in body
                .get("DimensionValueAttributes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = a.get("Value").and_then(Value::as_str) {
                    attributes.insert(v.to_string(), a.clone());
                }
            }
            let Value::Object(mut body) = body else {
                continue;
            };
            let Some(Value::Array(results)) = body.remove("ResultsByTime") else {
                continue;
            };
            for result in results {
                let day = result
                    .pointer("/TimePeriod/Start")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let estimated = result
                    .get("Estimated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match &mut current {
                    Some((d, was_estimated, merged)) if *d == day => {
                        *was_estimated |= estimated;
                        merge_day(merged, &result);
                    }
                    _ => {
                        if let Some((d, e, r)) = current.take() {
                            write(d, e, r, &mut written)?;
                        }
                        current = Some((day, estimated, result));
                    }
                }
            }
        }
        if let Some((d, e, r)) = current.take() {
            write(d, e, r, &mut written)?;
        }
        // The table parts built from days this changes are out of date.
        if let (Some(first), Some(last)) = (written.first(), written.last()) {
            tx.execute(
                "DELETE FROM ce_table WHERE start <= ?1 AND end_before > ?2",
                params![last, first],
            )
            .map_err(|e| fail(&e))?;
        }
        keep_head(&tx, query, &group_definitions, attributes).map_err(|e| fail(&e))?;
        tx.commit().map_err(|e| fail(&e))?;
        Ok(written.len())
    }

    /// A GetCostAndUsage response body holding every cached day of `query` in
    /// `[start, end)`, or None when none is cached.
    pub(crate) fn response_body(
        &self,
        query: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let head: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT group_definitions, dimension_value_attributes FROM ce_query WHERE query = ?1",
                params![query],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        let Some((group_definitions, attributes)) = head else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT result FROM ce_day WHERE query = ?1 AND day >= ?2 AND day < ?3 ORDER BY day",
            )
            .map_err(|e| self.fail(e))?;
        let results: Vec<String> = stmt
            .query_map(params![query, start.to_string(), end.to_string()], |row| {
                row.get(0)
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))?;
        if results.is_empty() {
            return Ok(None);
        }
        let body = format!(
            "{{\"GroupDefinitions\":{group_definitions},\"ResultsByTime\":[{}],\"DimensionValueAttributes\":{attributes}}}",
            results.join(",")
        );
        Ok(Some(body.into_bytes()))
    }

    /// Whether any day of `query` in `[start, end)` is cached.
    pub(crate) fn holds_days(
        &self,
        query: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM ce_day WHERE query = ?1 AND day >= ?2 AND day < ?3)",
                params![query, start.to_string(), end.to_string()],
                |row| row.get(0),
            )
            .map_err(|e| self.fail(e))
    }

    /// The table part kept for the cached days in `[start, end)` under `plan`, if any.
    /// A part is only a shortcut: a store that cannot give one gives None.
    pub(crate) fn table_part(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        plan: &str,
    ) -> Option<Vec<u8>> {
        self.conn
            .query_row(
                "SELECT part FROM ce_table WHERE start = ?1 AND end_before = ?2 AND plan = ?3",
                params![start.to_string(), end.to_string(), plan],
                |row| row.get(0),
            )
            .optional()
            .ok()
            .flatten()
    }

    /// What changes when another connection (another creditburn process) commits to the
    /// store: a part built from days read before a change is not kept after it.
    pub(crate) fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| self.fail(e))
    }

    /// Keeps `part`, the table built from the cached days in `[start, end)` under `plan`,
    /// in place of any part overlapping those days, unless another process committed to
    /// the store since `read_at` (its `data_version` when the days were read): those days
    /// may have changed. Nothing is kept in a store opened read-only. Whether it was kept.
    pub(crate) fn keep_table_part(
        &mut self,
        start: NaiveDate,
        end: NaiveDate,
        plan: &str,
        part: &[u8],
        read_at: i64,
    ) -> Result<bool, StoreError> {
        if self.read_only {
            return Ok(false);
        }
        let (start, end) = (start.to_string(), end.to_string());
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| fail_path(&self.path, e))?;
        let now: i64 = tx
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| fail_path(&self.path, e))?;
        if now != read_at {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM ce_table WHERE start < ?2 AND end_before > ?1",
            params![start, end],
        )
        .map_err(|e| fail_path(&self.path, e))?;
        tx.execute(
            "INSERT INTO ce_table (start, end_before, plan, part) VALUES (?1, ?2, ?3, ?4)",
            params![start, end, plan, part],
        )
        .map_err(|e| fail_path(&self.path, e))?;
        tx.commit().map_err(|e| fail_path(&self.path, e))?;
        Ok(true)
    }

    /// Cost Explorer requests logged since the store was created.
    pub(crate) fn requests_total(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(sum(pages), 0) FROM ce_request", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.fail(e))
    }

    /// Notes one query's requests (successful pages are what AWS charges for).
    pub(crate) fn log_request(
        &self,
        at: DateTime<Utc>,
        query: &str,
        pages: u64,
        outcome: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO ce_request (at, query, pages, outcome) VALUES (?1, ?2, ?3, ?4)",
                params![at.to_rfc3339(), query, pages as i64, outcome],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

impl Cache {
    /// Keeps one Billing snapshot (credits and their allocation history); earlier ones
    /// stay as history.
    pub(crate) fn store_credits(
        &self,
        account_id: &str,
        snapshot: &AwsCredits,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(snapshot).map_err(|e| self.fail(e))?;
        self.conn
            .execute(
                "INSERT INTO credit_snapshot (fetched_at, account_id, snapshot) VALUES (?1, ?2, ?3)",
                params![snapshot.fetched_at.to_rfc3339(), account_id, json],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The newest Billing snapshot for `account_id`.
    pub(crate) fn latest_credits(
        &self,
        account_id: &str,
    ) -> Result<Option<AwsCredits>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT snapshot FROM credit_snapshot WHERE account_id = ?1
                 ORDER BY fetched_at DESC, rowid DESC LIMIT 1",
                params![account_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| self.fail(e)))
            .transpose()
    }
}

/// Writes one day of `query`'s answer; `again` when this store already wrote it (a day
/// split over pages that are not next to each other), which adds to what it wrote.
fn write_day(
    tx: &rusqlite::Transaction,
    query: &str,
    day: &str,
    estimated: bool,
    mut result: Value,
    again: bool,
    at: &str,
) -> Result<(), String> {
    if again {
        let before: String = tx
            .query_row(
                "SELECT result FROM ce_day WHERE query = ?1 AND day = ?2",
                params![query, day],
                |row| row.get(0),
            )
            .map_err(|e| e.to_string())?;
        let mut before: Value = serde_json::from_str(&before).map_err(|e| e.to_string())?;
        merge_day(&mut before, &result);
        result = before;
    }
    let estimated = estimated
        || result
            .get("Estimated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    result["Estimated"] = Value::from(estimated);
    tx.execute(
        "INSERT INTO ce_day (query, day, result, estimated, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (query, day) DO UPDATE SET
             result = excluded.result,
             estimated = excluded.estimated,
             fetched_at = excluded.fetched_at",
        params![query, day, result.to_string(), estimated, at],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Keeps a query's group definitions and account names (`attributes`, added to those
/// kept: an answer only names the accounts it mentions); when they change, every kept
/// table part is out of date (each holds them).
fn keep_head(
    tx: &rusqlite::Transaction,
    query: &str,
    group_definitions: &Value,
    mut attributes: BTreeMap<String, Value>,
) -> rusqlite::Result<()> {
    // Account names accumulate: an answer only names the accounts it mentions.
    let previous: Option<String> = tx
        .query_row(
            "SELECT dimension_value_attributes FROM ce_query WHERE query = ?1",
            params![query],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(Value::Array(old)) = previous.and_then(|p| serde_json::from_str(&p).ok()) {
        for a in old {
            if let Some(v) = a.get("Value").and_then(Value::as_str) {
                attributes.entry(v.to_string()).or_insert(a.clone());
            }
        }
    }
    let attributes = Value::Array(attributes.into_values().collect()).to_string();
    let group_definitions = group_definitions.to_string();
    // Every part holds the query's group definitions and account names: when they
    // change, no part is up to date.
    let head: Option<(String, String)> = tx
        .query_row(
            "SELECT group_definitions, dimension_value_attributes FROM ce_query WHERE query = ?1",
            params![query],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if head.as_ref() != Some(&(group_definitions.clone(), attributes.clone())) {
        tx.execute("DELETE FROM ce_table", [])?;
    }
    tx.execute(
        "INSERT INTO ce_query (query, group_definitions, dimension_value_attributes)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (query) DO UPDATE SET
             group_definitions = excluded.group_definitions,
             dimension_value_attributes = excluded.dimension_value_attributes",
        params![query, group_definitions, attributes],
    )?;
    Ok(())
}

/// One query's pages, fetched and checked, waiting in a file to be stored
/// (`Cache::stage`, `Cache::store_staged`).
pub struct Staged {
    dir: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    pages: usize,
}

impl Staged {
    /// Adds a page's raw response body.
    pub fn push(&mut self, body: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        self.file
            .write_all(&(body.len() as u64).to_le_bytes())
            .and_then(|_| self.file.write_all(body))
            .map_err(|e| fail_path(&self.dir, format!("cannot stage a fetched page: {e}")))?;
        self.pages += 1;
        Ok(())
    }
}

/// Adds the groups of `more` (a ResultByTime of the same day) to `day`'s, and its
/// estimate.
fn merge_day(day: &mut Value, more: &Value) {
    let estimated = |v: &Value| v.get("Estimated").and_then(Value::as_bool).unwrap_or(false);
    let either = estimated(day) || estimated(more);
    day["Estimated"] = Value::from(either);
    let more = more
        .get("Groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match day.get_mut("Groups").and_then(Value::as_array_mut) {
        Some(groups) => groups.extend(more),
        None => day["Groups"] = Value::Array(more),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Days `first..=last` cached at `fetched`, estimated from `estimated_from`.
    fn cached(
        first: &str,
        last: &str,
        estimated_from: &str,
        fetched: &str,
    ) -> BTreeMap<NaiveDate, CachedDay> {
        let mut out = BTreeMap::new();
        let mut d = day(first);
        while d <= day(last) {
            out.insert(
                d,
                CachedDay {
                    estimated: d >= day(estimated_from),
                    fetched_at: at(fetched),
                },
            );
            d = d.succ_opt().unwrap();
        }
        out
    }

    #[test]
    fn gaps_are_the_runs_of_days_the_cache_lacks() {
        let mut c = cached(
            "2026-01-01",
            "2026-01-31",
            "2027-01-01",
            "2026-02-10T00:00:00Z",
        );
        for d in ["2026-01-05", "2026-01-06", "2026-01-20"] {
            c.remove(&day(d));
        }
        assert_eq!(
            gaps(&c, day("2025-12-30"), day("2026-02-03")),
            vec![
                (day("2025-12-30"), day("2026-01-01")),
                (day("2026-01-05"), day("2026-01-07")),
                (day("2026-01-20"), day("2026-01-21")),
                (day("2026-02-01"), day("2026-02-03")),
            ]
        );
        assert!(gaps(&c, day("2026-01-07"), day("2026-01-20")).is_empty());
        assert_eq!(
            crate::model::text::day_runs(&gaps(&c, day("2026-01-01"), day("2026-02-03")), 2),
            "2026-01-05 to 2026-01-06 (2 days), 2026-01-20 and 1 more"
        );
    }

    #[test]
    fn refetch_policy() {
        let p = Freshness::default();
        let (start, end) = (day("2026-01-01"), day("2026-11-22"));
        // Cold: everything.
        assert_eq!(
            days_to_fetch(&BTreeMap::new(), start, end, at("2026-11-22T08:00:00Z"), &p),
            Some((start, end))
        );
        // Fetched yesterday morning through yesterday, November estimated: the open month
        // is refetched (and today, which is missing).
        let c = cached(
            "2026-01-01",
            "2026-11-21",
            "2026-11-01",
            "2026-11-21T08:00:00Z",
        );
        assert_eq!(
            days_to_fetch(&c, start, end, at("2026-11-22T08:00:00Z"), &p),
            Some((day("2026-11-01"), end))
        );
        // An hour after a full fetch: nothing, even the estimated days.
        let c = cached(
            "2026-01-01",
            "2026-11-21",
            "2026-11-01",
            "2026-11-22T07:00:00Z",
        );
        assert_eq!(
            days_to_fetch(&c, start, day("2026-11-22"), at("2026-11-22T08:00:00Z"), &p),
            None
        );
        // Early in a month the previous month is not closed yet: it is refetched too,
        // even where AWS no longer marks it estimated.
        let c = cached(
            "2026-01-01",
            "2026-12-02",
            "2026-12-01",
            "2026-12-02T08:00:00Z",
        );
        assert_eq!(
            days_to_fetch(&c, start, day("2026-12-03"), at("2026-12-03T08:00:00Z"), &p),
            Some((day("2026-11-01"), day("2026-12-03")))
        );
        // A settled past day older than min_refresh stays cached.
        let c = cached(
            "2026-01-01",
            "2026-03-31",
            "2026-12-01",
            "2026-04-10T08:00:00Z",
        );
        assert_eq!(
            days_to_fetch(&c, start, day("2026-04-01"), at("2026-11-22T08:00:00Z"), &p),
            None
        );
    }

    #[test]
    fn store_and_rebuild_a_body() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(dir.path()).unwrap();
        let page = |days: &[(&str, bool)]| {
            let results: Vec<Value> = days
                .iter()
                .map(|(d, e)| {
                    serde_json::json!({"TimePeriod": {"Start": d, "End": d}, "Total": {}, "Groups": [], "Estimated": e})
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                "ResultsByTime": results,
                "DimensionValueAttributes": []
            }))
            .unwrap()
        };
        let t = at("2026-11-22T08:00:00Z");
        let n = cache
            .store(
                "q",
                &[
                    page(&[("2026-11-01", true), ("2026-11-02", true)]),
                    page(&[("2026-11-03", true)]),
                ],
                t,
            )
            .unwrap();
        assert_eq!(n, 3);
        // A refetch overwrites a day rather than adding one.
        cache
            .store("q", &[page(&[("2026-11-02", false)])], t)
            .unwrap();
        let days = cache.cached_days("q").unwrap();
        assert_eq!(days.len(), 3);
        assert!(!days[&day("2026-11-02")].estimated);
        let body = cache
            .response_body("q", day("2026-11-02"), day("2026-11-04"))
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["ResultsByTime"].as_array().unwrap().len(), 2);
        // A day split over two pages keeps the groups of both.
        let split = |groups: &[&str]| {
            let groups: Vec<Value> = groups
                .iter()
                .map(|k| serde_json::json!({"Keys": [k], "Metrics": {}}))
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                "ResultsByTime": [{"TimePeriod": {"Start": "2026-11-05", "End": "2026-11-06"}, "Groups": groups, "Estimated": true}],
            }))
            .unwrap()
        };
        cache
            .store("q", &[split(&["a", "b"]), split(&["c"])], t)
            .unwrap();
        let body = cache
            .response_body("q", day("2026-11-05"), day("2026-11-06"))
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["ResultsByTime"][0]["Groups"].as_array().unwrap().len(), 3);
        // A day that comes back after another day (pages read a page at a time) adds to
        // what was written of it, and keeps its estimate.
        let on = |start: &str, end: &str, groups: &[&str], estimated: bool| {
            let groups: Vec<Value> = groups
                .iter()
                .map(|k| serde_json::json!({"Keys": [k], "Metrics": {}}))
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "ResultsByTime": [{"TimePeriod": {"Start": start, "End": end}, "Groups": groups, "Estimated": estimated}],
            }))
            .unwrap()
        };
        let n = cache
            .store(
                "q",
                &[
                    on("2026-11-07", "2026-11-08", &["a"], true),
                    on("2026-11-08", "2026-11-09", &["b"], false),
                    on("2026-11-07", "2026-11-08", &["c", "d"], false),
                ],
                t,
            )
            .unwrap();
        assert_eq!(n, 2);
        let body = cache
            .response_body("q", day("2026-11-07"), day("2026-11-08"))
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["ResultsByTime"][0]["Groups"].as_array().unwrap().len(), 3);
        assert!(cache.cached_days("q").unwrap()[&day("2026-11-07")].estimated);
        assert!(cache
            .response_body("other", day("2026-11-01"), day("2026-11-04"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_table_part_is_kept_until_a_day_it_was_built_from_is_stored_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(dir.path()).unwrap();
        let page = |d: &str, attributes: &str| {
            format!(
                r#"{{"GroupDefinitions": [{{"Type": "DIMENSION", "Key": "SERVICE"}}], "ResultsByTime": [{{"TimePeriod": {{"Start": "{d}", "End": "{d}"}}, "Groups": [], "Estimated": false}}], "DimensionValueAttributes": [{attributes}]}}"#
            )
            .into_bytes()
        };
        let t = at("2026-11-22T08:00:00Z");
        cache.store("q", &[page("2026-10-10", "")], t).unwrap();
        let v = cache.data_version().unwrap();
        let (oct, nov, dec) = (day("2026-10-01"), day("2026-11-01"), day("2026-12-01"));
        cache.keep_table_part(oct, nov, "p", b"october", v).unwrap();
        cache
            .keep_table_part(nov, dec, "p", b"november", v)
            .unwrap();
        assert_eq!(
            cache.table_part(oct, nov, "p").as_deref(),
            Some(&b"october"[..])
        );
        // Another plan, or other days, have no part.
        assert_eq!(cache.table_part(oct, nov, "other plan"), None);
        assert_eq!(cache.table_part(oct, day("2026-10-31"), "p"), None);
        // A part of days overlapping a kept one replaces it.
        assert!(cache
            .keep_table_part(nov, day("2026-11-20"), "p", b"to the 20th", v)
            .unwrap());
        assert_eq!(cache.table_part(nov, dec, "p"), None);
        cache
            .keep_table_part(nov, dec, "p", b"november", v)
            .unwrap();
        // Storing a November day drops November's part, not October's.
        cache.store("q", &[page("2026-11-30", "")], t).unwrap();
        assert_eq!(cache.table_part(nov, dec, "p"), None);
        assert_eq!(
            cache.table_part(oct, nov, "p").as_deref(),
            Some(&b"october"[..])
        );
        // New account names are in every part: none is kept. (This connection's own
        // commits leave its data_version as it was.)
        assert!(cache
            .keep_table_part(nov, dec, "p", b"november", v)
            .unwrap());
        let named = r#"{"Value": "111122223333", "Attributes": {"description": "prod"}}"#;
        cache.store("q", &[page("2026-11-30", named)], t).unwrap();
        assert_eq!(cache.table_part(oct, nov, "p"), None);
        // A store opened read-only keeps nothing.
        drop(cache);
        let mut read_only = Cache::open_read_only(dir.path()).unwrap();
        let v = read_only.data_version().unwrap();
        assert!(!read_only
            .keep_table_part(oct, nov, "p", b"october", v)
            .unwrap());
        assert_eq!(read_only.table_part(oct, nov, "p"), None);
        assert!(read_only.holds_days("q", oct, dec).unwrap());
        assert!(!read_only.holds_days("q", dec, day("2027-01-01")).unwrap());
        // Another process storing days between the read and the keep: nothing is kept.
        let mut cache = Cache::open(dir.path()).unwrap();
        let v = cache.data_version().unwrap();
        let mut other = Cache::open(dir.path()).unwrap();
        other.store("q", &[page("2026-10-11", named)], t).unwrap();
        assert!(!cache.keep_table_part(oct, nov, "p", b"october", v).unwrap());
        assert_eq!(cache.table_part(oct, nov, "p"), None);
        let v = cache.data_version().unwrap();
        assert!(cache.keep_table_part(oct, nov, "p", b"october", v).unwrap());
    }
}
