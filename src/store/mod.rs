//! The state store: one SQLite file (rusqlite, bundled) in the state folder, holding the
//! fetch cache, the outbox, the alert state and the daemon's state. The only layer that
//! knows rusqlite. One error type, one way to open it for writing (migrating the schema,
//! [`schema`]) and one to open it for reading only.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub mod cache;
pub mod daemon_state;
pub mod outbox;
pub mod schema;

pub(crate) const FILE_NAME: &str = "creditburn.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {message}", path.display())]
    Store { path: PathBuf, message: String },
}

/// Opens the state store in `dir` (creating the folder and file on first use): WAL,
/// synchronous=FULL so a committed transaction survives a crash, and the schema brought
/// to the current version ([`crate::store::schema`]).
pub(crate) fn open_store(dir: &Path) -> Result<(PathBuf, Connection), StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail_path(dir, format!("cannot create the state folder: {e}")))?;
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        create_complete(&path)?;
    }
    refuse_empty(&path)?;
    let mut conn = Connection::open(&path).map_err(|e| fail_path(&path, e))?;
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| fail_path(&path, e))?;
    // Checked before the journal mode is set: a file that is not SQLite is named as such.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| sqlite_error(&path, e))?;
    refuse_schemaless(&path, &conn)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;",
    )
    .map_err(|e| fail_path(&path, e))?;
    schema::migrate(&mut conn).map_err(|e| damaged(&path, e))?;
    Ok((path, conn))
}

/// Creates the store at `path` whole: made and brought to the current schema under a
/// name of its own, then linked into place, so no kill can leave a 0-byte or schema-less
/// store behind (one that would be refused, or taken for a fresh start). A creation a
/// kill interrupted leaves only its own file, removed by a later one.
fn create_complete(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    remove_stale_creations(dir);
    let tmp = dir.join(format!("{FILE_NAME}.creating-{}", std::process::id()));
    let remove = |p: &Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    };
    remove(&tmp);
    {
        let mut conn = Connection::open(&tmp).map_err(|e| fail_path(&tmp, e))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(|e| fail_path(&tmp, e))?;
        crate::failpoint("store-created");
        schema::migrate(&mut conn).map_err(|e| damaged(&tmp, e))?;
        crate::failpoint("store-migrated");
        // Closing the only connection checkpoints the WAL into the file.
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail_path(&tmp, e))?;
    // A link fails where a file is already in place (another creator won): that one
    // stands. Where links are not supported, a rename does (the state lock keeps a
    // second writer away).
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => std::fs::rename(&tmp, path).map_err(|e| fail_path(path, e))?,
    }
    crate::failpoint("store-linked");
    remove(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Files of creations a kill interrupted (older than a minute: not one in progress).
fn remove_stale_creations(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if name.starts_with(&format!("{FILE_NAME}.creating-")) && stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A store without creditburn's schema (no version, no table of ours) is no fresh
/// start: an interrupted first run of an older creditburn, or another program's
/// database. Taken as new, it would send every alert again; it is refused like a 0-byte
/// file.
fn refuse_schemaless(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let version = schema::version(conn).map_err(|e| damaged(path, e))?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| sqlite_error(path, e))?;
    if version == 0 && tables == 0 {
        return Err(fail_path(
            path,
            "holds no creditburn tables (an interrupted first run, or another program's database), so it is not a creditburn state store; remove it to start afresh (every alert would then be sent again), or point state.path at another folder",
        ));
    }
    Ok(())
}

/// SQLite takes an empty file for a new database: a store truncated to 0 bytes would
/// silently forget every alert sent and send them all again, so it is refused.
fn refuse_empty(path: &Path) -> Result<(), StoreError> {
    if path.exists() && !path.is_file() {
        return Err(fail_path(
            path,
            "is not a file, so not a creditburn state store; move it away, or point state.path at another folder",
        ));
    }
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(fail_path(
            path,
            "is empty (0 bytes), not a creditburn state store; restore it from a backup, or remove it to start afresh (every alert would then be sent again)",
        ));
    }
    Ok(())
}

/// Opens the store at `path` for reading only: no table, pragma or file is written. A
/// store on a read-only folder (a mounted snapshot, an auditor's copy) that SQLite cannot
/// open for shared reading is opened as immutable.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    use rusqlite::OpenFlags;
    refuse_empty(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let readable = |conn: &Connection| {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_ok()
    };
    if let Ok(conn) = Connection::open_with_flags(path, flags) {
        if readable(&conn) {
            return current_schema(path, conn);
        }
    }
    let escaped: String = path
        .display()
        .to_string()
        .chars()
        .map(|c| match c {
            '%' => "%25".to_string(),
            '?' => "%3f".to_string(),
            '#' => "%23".to_string(),
            c => c.to_string(),
        })
        .collect();
    let uri = format!("file:{escaped}?immutable=1");
    let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
        .map_err(|e| fail_path(path, e))?;
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(sqlite_error(path, e));
    }
    current_schema(path, conn)
}

/// A store opened read-only at the current schema: one written by an older creditburn is
/// copied into memory and migrated there, the file left untouched.
fn current_schema(path: &Path, conn: Connection) -> Result<Connection, StoreError> {
    refuse_schemaless(path, &conn)?;
    let version = schema::version(&conn).map_err(|e| damaged(path, e))?;
    if version == schema::VERSION {
        return Ok(conn);
    }
    if version > schema::VERSION {
        return Err(fail_path(path, schema::SchemaError::Newer(version)));
    }
    let mut copy = Connection::open_in_memory().map_err(|e| fail_path(path, e))?;
    rusqlite::backup::Backup::new(&conn, &mut copy)
        .and_then(|b| b.run_to_completion(256, std::time::Duration::ZERO, None))
        .map_err(|e| fail_path(path, e))?;
    schema::migrate(&mut copy).map_err(|e| damaged(path, e))?;
    Ok(copy)
}

/// A schema error, with what to do when SQLite found the file damaged.
fn damaged(path: &Path, e: schema::SchemaError) -> StoreError {
    let text = e.to_string();
    if text.contains("malformed") {
        fail_path(
            path,
            format!("is damaged ({text}); restore it from a backup, or move it away to start afresh (every alert would then be sent again)"),
        )
    } else {
        fail_path(path, text)
    }
}

/// A store SQLite cannot read: "not a database" gets a sentence saying what to do.
fn sqlite_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => fail_path(
            path,
            "is not a creditburn state store (file is not a database); point state.path at a folder of its own, or restore the store from a backup",
        ),
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => fail_path(
            path,
            format!("is damaged ({e}); restore it from a backup, or move it away to start afresh (every alert would then be sent again)"),
        ),
        _ => fail_path(path, e),
    }
}

fn fail_path(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
