//! A Cost Explorer on loopback for tests: an HTTP/1.1 server speaking the awsJson1.1
//! protocol. It answers GetCostAndUsage from the demo recording's days for whatever period
//! and grouping is asked, paginates by itself, logs every request, and can be told to
//! misbehave (throttle, fail, hang, truncate, send garbage) for the next requests.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// What the server does with one request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answers normally (to place a fault later in a sequence).
    Pass,
    /// HTTP 400 LimitExceededException, as AWS throttles.
    Throttle,
    /// HTTP 500 with an InternalServerError body... as the SDK sees a 5xx.
    ServerError,
    /// Reads the request and never answers.
    Hang,
    /// Announces the whole body, sends half, closes.
    Truncate,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
}

/// A query's result: the header, then the rows, each value None for NULL.
type Table = Vec<Vec<Option<String>>>;

#[derive(Default)]
struct State {
    /// GetCredits' answer, and GetCreditAllocationHistory's pages.
    billing: Option<(Value, Vec<Value>)>,
    /// Billing answers 500 to everything.
    billing_down: bool,
    faults: VecDeque<Fault>,
    /// Every request: (X-Amz-Target, JSON body).
    log: Vec<(String, Value)>,
    /// SNS Publish requests answered, each its form fields.
    published: Vec<BTreeMap<String, String>>,
    /// Error codes the next SNS requests are answered with, in order.
    sns_faults: VecDeque<&'static str>,
    /// S3: the bucket, the folder whose files are its objects (the key is the path
    /// from it), and the keys a ListObjectsV2 page holds at most.
    s3: Option<(String, std::path::PathBuf, usize)>,
    /// S3 requests answered: (operation, key or prefix).
    s3_log: Vec<(String, String)>,
    /// S3 answers the next requests with 500.
    s3_faults: usize,
    /// S3 answers 500 to a GetObject of any key holding this text.
    s3_failing_key: Option<String>,
    /// Athena: the database name, the SQLite file holding its tables, and the rows a
    /// GetQueryResults page holds at most.
    athena: Option<(String, std::path::PathBuf, usize)>,
    /// Athena queries started: id -> (SQL, its result or error, polls so far).
    athena_queries: BTreeMap<String, (String, Result<Table, String>, usize)>,
    /// Athena requests: (operation, the SQL or the query id).
    athena_log: Vec<(String, String)>,
}

pub struct FakeCostExplorer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// Groups per page by default: small enough that a four-month backfill of the demo takes
/// several pages, and that days are split across pages.
pub const GROUPS_PER_PAGE: usize = 1000;

impl FakeCostExplorer {
    /// Starts a server holding every day of the recording in `dir`, answering pages of
    /// [`GROUPS_PER_PAGE`] groups.
    pub fn start(dir: &std::path::Path) -> FakeCostExplorer {
        FakeCostExplorer::with_page_size(dir, Some(GROUPS_PER_PAGE))
    }

    /// Starts a server whose pages hold at most `groups_per_page` groups (None: one page).
    pub fn with_page_size(
        dir: &std::path::Path,
        groups_per_page: Option<usize>,
    ) -> FakeCostExplorer {
        let data = Arc::new(load(dir));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (data, state) = (data.clone(), shared.clone());
                std::thread::spawn(move || serve(stream, &data, &state, groups_per_page));
            }
        });
        FakeCostExplorer { url, state }
    }

    /// Serves the files under `root` as the objects of `bucket` (S3, path-style), a
    /// listing at most `page` keys a page.
    pub fn set_s3(&self, bucket: &str, root: &std::path::Path, page: usize) {
        self.state.lock().unwrap().s3 = Some((bucket.to_string(), root.to_path_buf(), page));
    }

    /// The S3 requests answered so far: (ListObjectsV2 or GetObject, prefix or key).
    pub fn s3_requests(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().s3_log.clone()
    }

    /// S3 answers a GetObject of any key holding `text` with a server error.
    pub fn s3_fail_keys(&self, text: &str) {
        self.state.lock().unwrap().s3_failing_key = Some(text.to_string());
    }

    /// S3 answers the next `n` requests with a server error.
    pub fn s3_fail_next(&self, n: usize) {
        self.state.lock().unwrap().s3_faults = n;
    }

    /// Answers Athena by running each query's SQL with SQLite over `file`, attached as
    /// `database` (its maps are JSON text, read by an `element_at` of the same meaning as
    /// Athena's); results `page` rows a page at most.
    pub fn set_athena(&self, database: &str, file: &std::path::Path, page: usize) {
        self.state.lock().unwrap().athena = Some((database.to_string(), file.to_path_buf(), page));
    }

    /// The Athena requests so far: (operation, the SQL for StartQueryExecution, else the
    /// query id).
    pub fn athena_requests(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().athena_log.clone()
    }

    /// The next requests meet these faults, in order, then the server behaves again.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .faults
            .extend(faults.iter().cloned());
    }

    /// The GetCostAndUsage requests received so far.
    pub fn requests(&self) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|(target, _)| target.ends_with("GetCostAndUsage"))
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Makes the Billing operations answer: `credits` for GetCredits, and `history`
    /// page by page (linked by nextToken) for GetCreditAllocationHistory.
    pub fn set_billing(&self, credits: Value, history: Vec<Value>) {
        self.state.lock().unwrap().billing = Some((credits, history));
    }

    /// From now on Billing answers every request with a server error.
    pub fn set_billing_down(&self) {
        self.state.lock().unwrap().billing_down = true;
    }

    /// The Billing requests received so far: (operation, body).
    pub fn billing_requests(&self) -> Vec<(String, Value)> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|(target, _)| target.starts_with("AWSBilling."))
            .cloned()
            .collect()
    }

    /// The SNS messages published so far: each Publish request's form fields
    /// (`TopicArn`, `Message`, `Subject`, ...).
    pub fn published(&self) -> Vec<BTreeMap<String, String>> {
        self.state.lock().unwrap().published.clone()
    }

    /// The next SNS requests are refused with these error codes (`AuthorizationError`,
    /// `Throttled`, ...), in order, then SNS behaves again.
    pub fn sns_fail_next(&self, codes: &[&'static str]) {
        self.state
            .lock()
            .unwrap()
            .sns_faults
            .extend(codes.iter().copied());
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

/// The recording's days, by (group-bys, filter): the key of what a query asks for.
type Data = BTreeMap<String, (Value, Vec<Value>)>;

fn shape(group_by: &Value, filter: &Value) -> String {
    format!("{group_by}|{filter}")
}

fn load(dir: &std::path::Path) -> Data {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recording.json")).unwrap())
            .unwrap();
    let mut data = Data::new();
    for exchange in manifest["exchanges"].as_array().unwrap() {
        let request = &exchange["request"];
        let body: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(exchange["response"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let entry = data
            .entry(shape(&request["GroupBy"], &request["Filter"]))
            .or_insert_with(|| (body["GroupDefinitions"].clone(), Vec::new()));
        // The recording splits some days over pages: merge their groups.
        for result in body["ResultsByTime"].as_array().unwrap() {
            let same_day = entry.1.last_mut().filter(|last: &&mut Value| {
                last["TimePeriod"]["Start"] == result["TimePeriod"]["Start"]
            });
            match same_day {
                Some(last) => {
                    let more = result["Groups"].as_array().unwrap().clone();
                    last["Groups"].as_array_mut().unwrap().extend(more);
                }
                None => entry.1.push(result.clone()),
            }
        }
    }
    data
}

fn serve(stream: TcpStream, data: &Data, state: &Mutex<State>, groups_per_page: Option<usize>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        // Request line and headers.
        let mut target = String::new();
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim_end().to_string();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        // S3 speaks REST: a GET of the bucket (a listing) or of a key.
        if target.is_empty() && request_line.starts_with("GET /") {
            let (status, kind, payload) = s3_answer(&request_line, state);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nx-amz-request-id: fake\r\nETag: \"fake\"\r\nContent-Length: {}\r\n\r\n",
                payload.len()
            );
            if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&payload).is_err() {
                return;
            }
            continue;
        }
        // SNS speaks the query protocol: a form, answered in XML.
        if body.starts_with(b"Action=") {
            let (status, payload) = sns_answer(&body, state);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nx-amzn-RequestId: fake\r\nContent-Length: {}\r\n\r\n",
                payload.len()
            );
            if writer.write_all(head.as_bytes()).is_err()
                || writer.write_all(payload.as_bytes()).is_err()
            {
                return;
            }
            continue;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (mut fault, billing) = {
            let mut s = state.lock().unwrap();
            s.log.push((target.clone(), request.clone()));
            (s.faults.pop_front(), s.billing.clone())
        };
        if target.starts_with("AWSBilling.") && state.lock().unwrap().billing_down {
            fault = Some(Fault::ServerError);
        }
        let (status, payload) = match fault {
            None | Some(Fault::Pass) if target.starts_with("AmazonAthena.") => athena_answer(&target, &request, state),
            None | Some(Fault::Pass) if target.starts_with("AWSBilling.") => billing_answer(&target, &request, billing),
            None | Some(Fault::Pass) => answer(&target, &request, data, groups_per_page),
            Some(Fault::Throttle) => (
                "400 Bad Request",
                json!({"__type": "com.amazonaws.costexplorer#LimitExceededException", "message": "Rate exceeded"}).to_string(),
            ),
            Some(Fault::ServerError) => (
                "500 Internal Server Error",
                json!({"__type": "InternalServerError", "message": "oops"}).to_string(),
            ),
            Some(Fault::Hang) => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Some(Fault::Truncate) => {
                let full = answer(&target, &request, data, groups_per_page).1;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n",
                    full.len()
                );
                let _ = writer.write_all(head.as_bytes());
                let _ = writer.write_all(&full.as_bytes()[..full.len() / 2]);
                return;
            }
            Some(Fault::Garbage) => ("200 OK", "<html>upstream timed out</html>".to_string()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fake\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(payload.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// Percent-decoding of a URL's path or query value.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every file under `dir`, as (key, path), sorted by key.
fn objects(root: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut Vec<(String, std::path::PathBuf)>,
    ) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((key, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// An S3 answer: ListObjectsV2 (paged by continuation token) or GetObject, from the
/// files of the configured folder; (status, content type, body).
fn s3_answer(request_line: &str, state: &Mutex<State>) -> (&'static str, &'static str, Vec<u8>) {
    let target = request_line.split(' ').nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decoded(k), percent_decoded(v))
        })
        .collect();
    let path = percent_decoded(path.trim_start_matches('/'));
    let (bucket, key) = path.split_once('/').unwrap_or((&path, ""));
    let mut s = state.lock().unwrap();
    let error = |status, code: &str, message: &str| {
        (
            status,
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fake</RequestId></Error>").into_bytes(),
        )
    };
    if s.s3_faults > 0 {
        s.s3_faults -= 1;
        return error(
            "500 Internal Server Error",
            "InternalError",
            "We encountered an internal error.",
        );
    }
    let Some((name, root, page)) = s.s3.clone() else {
        return error(
            "404 Not Found",
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    };
    if bucket != name {
        return error(
            "404 Not Found",
            "NoSuchBucket",
            "The specified bucket does not exist",
        );
    }
    if key.is_empty() && params.get("list-type").map(String::as_str) == Some("2") {
        let prefix = params.get("prefix").cloned().unwrap_or_default();
        s.s3_log.push(("ListObjectsV2".into(), prefix.clone()));
        let start: usize = params
            .get("continuation-token")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let all: Vec<(String, std::path::PathBuf)> = objects(&root)
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        let shown = &all[start.min(all.len())..(start + page).min(all.len())];
        let truncated = start + page < all.len();
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{name}</Name><Prefix>{prefix}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{page}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
            shown.len()
        );
        for (key, path) in shown {
            let meta = std::fs::metadata(path).unwrap();
            let modified: chrono::DateTime<chrono::Utc> = meta.modified().unwrap().into();
            let etag = format!(
                "{:x}",
                meta.len() * 31 + modified.timestamp_subsec_nanos() as u64
            );
            xml.push_str(&format!(
                "<Contents><Key>{key}</Key><LastModified>{}</LastModified><ETag>&quot;{etag}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                modified.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                meta.len()
            ));
        }
        if truncated {
            xml.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                start + page
            ));
        }
        xml.push_str("</ListBucketResult>");
        return ("200 OK", "application/xml", xml.into_bytes());
    }
    s.s3_log.push(("GetObject".into(), key.to_string()));
    if s.s3_failing_key.as_deref().is_some_and(|t| key.contains(t)) {
        return error(
            "500 Internal Server Error",
            "InternalError",
            "We encountered an internal error.",
        );
    }
    match std::fs::read(root.join(key)) {
        Ok(bytes) => ("200 OK", "application/octet-stream", bytes),
        Err(_) => error(
            "404 Not Found",
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}

/// Runs `sql` on SQLite over `file` attached as `database`: the header (column names),
/// then every row, each value as Athena gives it (text; None for NULL).
fn run_sql(
    database: &str,
    file: &std::path::Path,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    use rusqlite::functions::FunctionFlags;
    let db = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    db.execute(
        "ATTACH DATABASE ?1 AS ?2",
        rusqlite::params![file.to_str().unwrap(), database],
    )
    .map_err(|e| e.to_string())?;
    // Athena's LIKE is case-sensitive; SQLite's is not unless told.
    db.execute_batch("PRAGMA case_sensitive_like = ON")
        .map_err(|e| e.to_string())?;
    db.create_scalar_function(
        "element_at",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let map: Option<String> = ctx.get(0)?;
            let key: String = ctx.get(1)?;
            Ok(map
                .and_then(|m| serde_json::from_str::<serde_json::Map<String, Value>>(&m).ok())
                .and_then(|m| m.get(&key).and_then(|v| v.as_str().map(str::to_string))))
        },
    )
    .map_err(|e| e.to_string())?;
    let mut statement = db.prepare(sql).map_err(|e| e.to_string())?;
    let names: Vec<Option<String>> = statement
        .column_names()
        .map(|n| Some(n.to_string()))
        .collect();
    let width = names.len();
    let mut out = vec![names];
    let mut rows = statement.query([]).map_err(|e| e.to_string())?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            use rusqlite::types::ValueRef;
            values.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => None,
                ValueRef::Integer(n) => Some(n.to_string()),
                ValueRef::Real(x) => Some(format!("{x}")),
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Some("<blob>".to_string()),
            });
        }
        out.push(values);
    }
    Ok(out)
}

/// An Athena answer: StartQueryExecution runs the SQL at once; GetQueryExecution says
/// RUNNING on the first poll, then SUCCEEDED (or FAILED with the engine's error);
/// GetQueryResults pages the rows, the header first.
fn athena_answer(target: &str, request: &Value, state: &Mutex<State>) -> (&'static str, String) {
    let mut s = state.lock().unwrap();
    let Some((database, file, page)) = s.athena.clone() else {
        return (
            "400 Bad Request",
            json!({"__type": "InvalidRequestException", "Message": "no Athena here"}).to_string(),
        );
    };
    let operation = target.trim_start_matches("AmazonAthena.").to_string();
    match operation.as_str() {
        "StartQueryExecution" => {
            let sql = request["QueryString"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            s.athena_log.push((operation, sql.clone()));
            if request["QueryExecutionContext"]["Database"] != json!(database) {
                return ("400 Bad Request", json!({"__type": "InvalidRequestException", "Message": format!("database {} not found", request["QueryExecutionContext"]["Database"])}).to_string());
            }
            let id = format!("q-{:04}", s.athena_queries.len() + 1);
            let result = run_sql(&database, &file, &sql);
            s.athena_queries.insert(id.clone(), (sql, result, 0));
            ("200 OK", json!({"QueryExecutionId": id}).to_string())
        }
        "GetQueryExecution" => {
            let id = request["QueryExecutionId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            s.athena_log.push((operation, id.clone()));
            let Some((sql, result, polls)) = s.athena_queries.get_mut(&id) else {
                return (
                    "400 Bad Request",
                    json!({"__type": "InvalidRequestException", "Message": "no such query"})
                        .to_string(),
                );
            };
            *polls += 1;
            let (state, reason) = match (&*result, *polls) {
                (_, 1) => ("RUNNING", None),
                (Ok(_), _) => ("SUCCEEDED", None),
                (Err(e), _) => ("FAILED", Some(format!("SYNTAX_ERROR: {e}"))),
            };
            let scanned = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let mut status = json!({"State": state});
            if let Some(reason) = reason {
                status["StateChangeReason"] = json!(reason);
            }
            (
                "200 OK",
                json!({"QueryExecution": {
                    "QueryExecutionId": id,
                    "Query": sql,
                    "Status": status,
                    "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 12},
                }})
                .to_string(),
            )
        }
        "GetQueryResults" => {
            let id = request["QueryExecutionId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            s.athena_log.push((operation, id.clone()));
            let Some((_, Ok(rows), _)) = s.athena_queries.get(&id) else {
                return ("400 Bad Request", json!({"__type": "InvalidRequestException", "Message": "the query has no results"}).to_string());
            };
            let max = request["MaxResults"].as_u64().unwrap_or(1000).min(1000) as usize;
            let page = page.min(max);
            let from: usize = request["NextToken"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let to = (from + page).min(rows.len());
            let data: Vec<Value> = rows[from..to]
                .iter()
                .map(|row| {
                    json!({"Data": row.iter().map(|v| match v {
                        Some(t) => json!({"VarCharValue": t}),
                        None => json!({}),
                    }).collect::<Vec<_>>()})
                })
                .collect();
            let columns: Vec<Value> = rows[0]
                .iter()
                .map(|n| json!({"Name": n, "Label": n, "Type": "varchar"}))
                .collect();
            let mut answer = json!({
                "ResultSet": {"Rows": data, "ResultSetMetadata": {"ColumnInfo": columns}},
                "UpdateCount": 0,
            });
            if to < rows.len() {
                answer["NextToken"] = json!(to.to_string());
            }
            ("200 OK", answer.to_string())
        }
        _ => (
            "400 Bad Request",
            json!({"__type": "UnknownOperationException", "message": target}).to_string(),
        ),
    }
}

/// `application/x-www-form-urlencoded` decoded.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// SNS Publish, as AWS answers it: the limits checked, the message logged.
fn sns_answer(body: &[u8], state: &Mutex<State>) -> (&'static str, String) {
    let fields = form(body);
    let error = |status: &'static str, code: &str, message: &str| {
        (
            status,
            format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"
            ),
        )
    };
    if fields.get("Action").map(String::as_str) != Some("Publish") {
        return error("400 Bad Request", "InvalidAction", "only Publish is faked");
    }
    let fault = state.lock().unwrap().sns_faults.pop_front();
    if let Some(code) = fault {
        let status = match code {
            "AuthorizationError" => "403 Forbidden",
            "NotFound" => "404 Not Found",
            "Throttled" => "400 Bad Request",
            _ => "400 Bad Request",
        };
        return error(status, code, "refused by the fake");
    }
    let message = fields.get("Message").cloned().unwrap_or_default();
    let subject = fields.get("Subject").cloned().unwrap_or_default();
    if message.is_empty() || message.len() > 256 * 1024 {
        return error("400 Bad Request", "InvalidParameter", "Message");
    }
    if subject.chars().count() >= 100 || subject.chars().any(|c| c.is_control()) {
        return error("400 Bad Request", "InvalidParameter", "Subject");
    }
    let mut s = state.lock().unwrap();
    s.published.push(fields);
    let id = s.published.len();
    (
        "200 OK",
        format!(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>00000000-0000-0000-0000-{id:012}</MessageId></PublishResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></PublishResponse>"
        ),
    )
}

/// A well-formed answer: the days in the requested period, one page of them.
fn answer(
    target: &str,
    request: &Value,
    data: &Data,
    groups_per_page: Option<usize>,
) -> (&'static str, String) {
    if !target.ends_with("GetCostAndUsage") {
        return (
            "400 Bad Request",
            json!({"__type": "UnknownOperationException", "message": target}).to_string(),
        );
    }
    let Some((group_definitions, days)) = data.get(&shape(&request["GroupBy"], &request["Filter"]))
    else {
        return (
            "400 Bad Request",
            json!({"__type": "ValidationException", "message": "no such grouping in the fake"})
                .to_string(),
        );
    };
    let (start, end) = (
        request["TimePeriod"]["Start"].as_str().unwrap_or_default(),
        request["TimePeriod"]["End"].as_str().unwrap_or_default(),
    );
    // Like AWS, one ResultByTime for every day of the period, empty where nothing was spent.
    let by_day: BTreeMap<&str, &Value> = days
        .iter()
        .map(|d| (d["TimePeriod"]["Start"].as_str().unwrap_or_default(), d))
        .collect();
    // Each day of the period with its recorded answer, borrowed: a page copies only its
    // own groups, so a long backfill's hundreds of pages do not each copy the year.
    let mut in_period: Vec<(String, Option<&Value>)> = Vec::new();
    let (Ok(mut day), Ok(last)) = (
        chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d"),
        chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d"),
    ) else {
        return (
            "400 Bad Request",
            json!({"__type": "ValidationException", "message": "bad TimePeriod"}).to_string(),
        );
    };
    while day < last {
        let key = day.to_string();
        let recorded = by_day.get(key.as_str()).copied();
        in_period.push((key, recorded));
        day = day.succ_opt().unwrap();
    }
    // A day's ResultByTime without its groups.
    let head = |(key, recorded): &(String, Option<&Value>)| -> Value {
        let mut day = match recorded {
            Some(v) => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "Groups")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => {
                let next = chrono::NaiveDate::parse_from_str(key, "%Y-%m-%d")
                    .unwrap()
                    .succ_opt()
                    .unwrap();
                json!({
                    "TimePeriod": {"Start": key, "End": next.to_string()},
                    "Total": {}, "Estimated": false
                })
            }
        };
        day["Groups"] = json!([]);
        day
    };
    let offset: usize = request["NextPageToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("offset:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Like AWS, a page ends after a number of groups, not at a day boundary: a day whose
    // groups do not fit is split, and the next page repeats its TimePeriod with the rest.
    // An empty day takes one place.
    let items: Vec<(usize, Option<&Value>)> = in_period
        .iter()
        .enumerate()
        .flat_map(|(i, (_, day))| {
            let groups = day
                .and_then(|d| d["Groups"].as_array())
                .filter(|g| !g.is_empty());
            match groups {
                None => vec![(i, None)],
                Some(groups) => groups.iter().map(|g| (i, Some(g))).collect(),
            }
        })
        .collect();
    let size = groups_per_page.unwrap_or(usize::MAX);
    let mut page: Vec<Value> = Vec::new();
    for (i, group) in items.iter().skip(offset).take(size) {
        if page.last().and_then(|d| d["TimePeriod"]["Start"].as_str())
            != Some(in_period[*i].0.as_str())
        {
            page.push(head(&in_period[*i]));
        }
        if let Some(g) = group {
            page.last_mut().unwrap()["Groups"]
                .as_array_mut()
                .unwrap()
                .push((*g).clone());
        }
    }
    let mut body = json!({
        "GroupDefinitions": group_definitions,
        "ResultsByTime": page,
        "DimensionValueAttributes": [],
    });
    if offset.saturating_add(size) < items.len() {
        body["NextPageToken"] = Value::from(format!("offset:{}", offset + size));
    }
    ("200 OK", body.to_string())
}

fn billing_answer(
    target: &str,
    request: &Value,
    billing: Option<(Value, Vec<Value>)>,
) -> (&'static str, String) {
    let Some((credits, history)) = billing else {
        return (
            "400 Bad Request",
            json!({"__type": "AccessDeniedException", "message": "billing is not set up in the fake"}).to_string(),
        );
    };
    match target {
        "AWSBilling.GetCredits" => ("200 OK", credits.to_string()),
        "AWSBilling.GetCreditAllocationHistory" => {
            let page: usize = request["nextToken"]
                .as_str()
                .and_then(|t| t.strip_prefix("page:"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut body = history.get(page).cloned().unwrap_or_else(|| json!({}));
            if page + 1 < history.len() {
                body["nextToken"] = Value::from(format!("page:{}", page + 1));
            }
            body["partialResults"] = Value::from(false);
            ("200 OK", body.to_string())
        }
        other => (
            "400 Bad Request",
            json!({"__type": "UnknownOperationException", "message": other}).to_string(),
        ),
    }
}
