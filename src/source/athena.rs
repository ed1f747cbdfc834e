//! The organisation's CUR 2.0 table in Athena: one aggregate query per billing period
//! (daily cost and usage by account, service, usage type, line-item type, the rules' tag
//! keys, and the principal and resource as the classes the rules' globs tell apart),
//! pruned by the `billing_period` partition; polled, its results paged (1,000 rows a
//! page, the header skipped) and each period's rows kept in the state folder. A period
//! with no estimated row (every line invoiced) is closed and never asked again.
//!
//! The SQL is generated from the rules: every identifier quoted and every literal
//! escaped (`quote_identifier`, `quote_literal`, `like_pattern`); no config value is
//! pasted in as text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};

use crate::config::{AthenaSource, Glob};
use crate::model::line::LineItem;
use crate::source::lines::Wants;

/// Athena's price: $5 per TB scanned, at least 10 MB a query.
pub const DOLLARS_PER_TB: f64 = 5.0;
pub const MIN_BYTES_PER_QUERY: u64 = 10 * 1_000_000;

/// What a query's scan costs.
pub fn scan_cost(bytes: u64) -> f64 {
    bytes.max(MIN_BYTES_PER_QUERY) as f64 / 1e12 * DOLLARS_PER_TB
}

/// `"name"`, with any `"` doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with any `'` doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A `*` glob as a LIKE pattern with `\` as its escape: `%`, `_` and `\` in the glob's
/// text stand for themselves.
pub fn like_pattern(glob: &str) -> String {
    glob.split('*')
        .map(|part| {
            part.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        })
        .collect::<Vec<_>>()
        .join("%")
}

/// The result's columns before the tags, and after them.
const HEAD: [&str; 8] = [
    "day",
    "account",
    "account_name",
    "service",
    "usage_type",
    "record_type",
    "principal",
    "resource",
];
const TAIL: [&str; 5] = ["credit", "currency", "cost", "quantity", "estimated"];

/// The aggregate query of one billing period (`YYYY-MM`).
pub fn query(
    source: &AthenaSource,
    wants: &Wants,
    principals: &[Glob],
    resources: &[Glob],
    period: &str,
) -> String {
    let day = "substr(CAST(line_item_usage_start_date AS varchar), 1, 10)".to_string();
    let service = "COALESCE(element_at(product, 'product_name'), CASE WHEN product_product_family = 'Amazon Bedrock' OR element_at(product, 'model') IS NOT NULL THEN 'Amazon Bedrock' ELSE line_item_product_code END)".to_string();
    let credit =
        "CASE WHEN line_item_line_item_type = 'Credit' THEN line_item_line_item_description END"
            .to_string();
    // A column the rules read through globs: grouped by which globs match, one of its
    // values standing for the class (the rules decide alike on every value of it).
    let class = |column: &str, globs: &[Glob], read: bool| -> (String, Vec<String>) {
        if !read {
            return ("CAST(NULL AS varchar)".to_string(), Vec::new());
        }
        if globs.is_empty() {
            return (column.to_string(), vec![column.to_string()]);
        }
        let tests = globs
            .iter()
            .map(|g| {
                format!(
                    "({column} LIKE {} ESCAPE '\\')",
                    quote_literal(&like_pattern(g.as_str()))
                )
            })
            .collect();
        (format!("min({column})"), tests)
    };
    let (principal, principal_groups) =
        class("line_item_iam_principal", principals, wants.principal);
    let (resource, resource_groups) = class("line_item_resource_id", resources, wants.resource);
    let tags: Vec<String> =
        super::lines::tag_key_names(crate::model::line::ExportFormat::Cur, &wants.tag_keys)
            .into_iter()
            .map(|(principal_tag, names)| {
                let map = if principal_tag {
                    "tags"
                } else {
                    "resource_tags"
                };
                let lookups: Vec<String> = names
                    .iter()
                    .map(|n| format!("element_at({map}, {})", quote_literal(n)))
                    .collect();
                if lookups.len() == 1 {
                    lookups[0].clone()
                } else {
                    format!("COALESCE({})", lookups.join(", "))
                }
            })
            .collect();
    let mut select = vec![
        format!("{day} AS day"),
        "line_item_usage_account_id AS account".to_string(),
        "line_item_usage_account_name AS account_name".to_string(),
        format!("{service} AS service"),
        "line_item_usage_type AS usage_type".to_string(),
        "line_item_line_item_type AS record_type".to_string(),
        format!("{principal} AS principal"),
        format!("{resource} AS resource"),
    ];
    for (i, t) in tags.iter().enumerate() {
        select.push(format!("{t} AS tag_{i}"));
    }
    select.extend([
        format!("{credit} AS credit"),
        "line_item_currency_code AS currency".to_string(),
        "sum(line_item_unblended_cost) AS cost".to_string(),
        "sum(line_item_usage_amount) AS quantity".to_string(),
        "max(CASE WHEN bill_invoice_id IS NULL OR bill_invoice_id = '' THEN 1 ELSE 0 END) AS estimated".to_string(),
    ]);
    let mut group = vec![
        day,
        "line_item_usage_account_id".to_string(),
        "line_item_usage_account_name".to_string(),
        service,
        "line_item_usage_type".to_string(),
        "line_item_line_item_type".to_string(),
    ];
    group.extend(principal_groups);
    group.extend(resource_groups);
    group.extend(tags);
    group.push(credit);
    group.push("line_item_currency_code".to_string());
    format!(
        "SELECT {}\nFROM {}.{}\nWHERE billing_period = {}\nGROUP BY {}",
        select.join(",\n  "),
        quote_identifier(&source.database),
        quote_identifier(&source.table),
        quote_literal(period),
        group.join(",\n  ")
    )
}

/// A failure of the Athena source, naming the query or the period.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error("athena, billing period {period}: {message}")]
    Query { period: String, message: String },
    #[error("athena, billing period {period}: the result is not the query's: {message}")]
    Result { period: String, message: String },
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One period's result rows (the header left out), each value None where Athena gave
/// none.
pub type Rows = Vec<Vec<Option<String>>>;

/// What a run's queries came to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scanned {
    pub queries: u64,
    pub requests: u64,
    pub bytes: u64,
    pub cost: f64,
    /// Periods read from the kept results without a query.
    pub kept: usize,
}

/// How long to wait for a query, and between polls.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub most: Duration,
    pub timeout: Duration,
}

impl Default for Polling {
    fn default() -> Polling {
        Polling {
            first: Duration::from_millis(200),
            most: Duration::from_secs(5),
            timeout: Duration::from_secs(900),
        }
    }
}

/// Runs `sql` and returns its rows (the header skipped), adding to `scanned`.
pub async fn run_query(
    client: &aws_sdk_athena::Client,
    source: &AthenaSource,
    sql: &str,
    period: &str,
    polling: Polling,
    scanned: &mut Scanned,
) -> Result<Rows, AthenaError> {
    let fail = |message: String| AthenaError::Query {
        period: period.to_string(),
        message,
    };
    let sdk_error = |e: &dyn std::error::Error| {
        crate::model::text::cap(&crate::model::text::error_line(e), 300)
    };
    let mut start = client
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(&source.database)
                .build(),
        )
        .work_group(&source.workgroup);
    if let Some(location) = &source.output_location {
        start = start.result_configuration(
            ResultConfiguration::builder()
                .output_location(location)
                .build(),
        );
    }
    scanned.requests += 1;
    scanned.queries += 1;
    let started = start.send().await.map_err(|e| fail(sdk_error(&e)))?;
    let id = started
        .query_execution_id()
        .ok_or_else(|| fail("StartQueryExecution gave no query id".into()))?
        .to_string();
    let began = tokio::time::Instant::now();
    let mut wait = polling.first;
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(polling.most);
        scanned.requests += 1;
        let got = client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| fail(sdk_error(&e)))?;
        let execution = got
            .query_execution()
            .ok_or_else(|| fail(format!("query {id}: GetQueryExecution gave no execution")))?;
        let status = execution.status();
        let state = status.and_then(|s| s.state());
        let bytes = execution
            .statistics()
            .and_then(|s| s.data_scanned_in_bytes())
            .unwrap_or(0)
            .max(0) as u64;
        match state {
            Some(QueryExecutionState::Succeeded) => {
                scanned.bytes += bytes;
                scanned.cost += scan_cost(bytes);
                break;
            }
            Some(QueryExecutionState::Failed) | Some(QueryExecutionState::Cancelled) => {
                scanned.bytes += bytes;
                scanned.cost += scan_cost(bytes);
                return Err(fail(format!(
                    "query {id} {}: {}",
                    state.map(|s| s.as_str()).unwrap_or("failed").to_lowercase(),
                    status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given")
                )));
            }
            _ if began.elapsed() > polling.timeout => {
                return Err(fail(format!(
                    "query {id} has not finished after {} s; it may still be running (see the workgroup's history)",
                    polling.timeout.as_secs()
                )));
            }
            _ => {}
        }
    }
    let mut rows: Rows = Vec::new();
    let mut token: Option<String> = None;
    let mut first = true;
    let mut width = None;
    loop {
        scanned.requests += 1;
        let page = client
            .get_query_results()
            .query_execution_id(&id)
            .max_results(1000)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| fail(sdk_error(&e)))?;
        let Some(set) = page.result_set() else { break };
        for (i, row) in set.rows().iter().enumerate() {
            let values: Vec<Option<String>> = row
                .data()
                .iter()
                .map(|d| d.var_char_value().map(str::to_string))
                .collect();
            if first && i == 0 {
                // The header: the columns must be the query's, in its order.
                width = Some(values.len());
                let names: Vec<&str> = values.iter().map(|v| v.as_deref().unwrap_or("")).collect();
                let expected = expected_columns(values.len());
                if names != expected {
                    return Err(AthenaError::Result {
                        period: period.to_string(),
                        message: format!("its header is {names:?}"),
                    });
                }
                continue;
            }
            if Some(values.len()) != width {
                return Err(AthenaError::Result {
                    period: period.to_string(),
                    message: format!(
                        "a row of {} values under a header of {width:?}",
                        values.len()
                    ),
                });
            }
            rows.push(values);
        }
        first = false;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(rows)
}

/// The result's column names for a result `width` wide.
fn expected_columns(width: usize) -> Vec<String> {
    let tags = width.saturating_sub(HEAD.len() + TAIL.len());
    HEAD.iter()
        .map(|c| c.to_string())
        .chain((0..tags).map(|i| format!("tag_{i}")))
        .chain(TAIL.iter().map(|c| c.to_string()))
        .collect()
}

/// Each row of `rows` as a line item, handed to `sink`.
pub fn emit(
    rows: &Rows,
    tag_count: usize,
    period: &str,
    sink: &mut dyn FnMut(&LineItem<'_>),
) -> Result<(), AthenaError> {
    let bad = |message: String| AthenaError::Result {
        period: period.to_string(),
        message,
    };
    let number = |v: &Option<String>, what: &str| -> Result<f64, AthenaError> {
        match v.as_deref() {
            None | Some("") => Ok(0.0),
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{what} {t:?} is not a number"))),
        }
    };
    for row in rows {
        if row.len() != HEAD.len() + tag_count + TAIL.len() {
            return Err(bad(format!("a row of {} values", row.len())));
        }
        let text = |i: usize| row[i].as_deref().filter(|t| !t.is_empty());
        let day = text(0).ok_or_else(|| bad("a row without a day".into()))?;
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| bad(format!("day {day:?} is not a date")))?;
        let tail = HEAD.len() + tag_count;
        if let Some(currency) = text(tail + 1) {
            if currency != "USD" {
                return Err(bad(format!(
                    "line_item_currency_code is {currency:?}; creditburn reads bills in USD"
                )));
            }
        }
        let tags: Vec<Option<&str>> = (0..tag_count).map(|i| text(HEAD.len() + i)).collect();
        let line = LineItem {
            date,
            account: text(1),
            account_name: text(2),
            service: text(3),
            usage_type: text(4),
            record_type: text(5).ok_or_else(|| bad("a row without a line item type".into()))?,
            principal: text(6),
            resource: text(7),
            tags: &tags,
            credit: text(tail),
            cost: number(&row[tail + 2], "cost")?,
            quantity: number(&row[tail + 3], "quantity")?,
            estimated: matches!(text(tail + 4), Some("1") | Some("true")),
        };
        sink(&line);
    }
    Ok(())
}

/// Whether a period's rows are all invoiced: AWS will not restate it.
pub fn closed(rows: &Rows, tag_count: usize) -> bool {
    let at = HEAD.len() + tag_count + TAIL.len() - 1;
    !rows.is_empty()
        && rows.iter().all(|r| {
            matches!(
                r.get(at).and_then(|v| v.as_deref()),
                Some("0") | Some("false")
            )
        })
}

/// Where a period's kept result lives: a file per period under a folder named by the
/// query's text (another query, another folder).
pub fn kept_path(state: &Path, sql_without_period: &str, period: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(sql_without_period.as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    state
        .join("athena")
        .join(key)
        .join(format!("{period}.json"))
}

pub fn read_kept(path: &Path) -> Option<Rows> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn keep(path: &Path, rows: &Rows) -> Result<(), AthenaError> {
    let text = serde_json::to_string(rows).expect("rows serialise");
    super::write_whole(path, text.as_bytes()).map_err(|e| AthenaError::Local {
        path: path.to_path_buf(),
        source: e,
    })
}

pub fn client(sdk: &SdkConfig) -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::new(sdk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_literals_and_patterns_are_escaped() {
        assert_eq!(quote_identifier("cur"), "\"cur\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("o'brien"), "'o''brien'");
        assert_eq!(
            like_pattern("arn:aws:sts::1:assumed-role/bot/*"),
            "arn:aws:sts::1:assumed-role/bot/%"
        );
        assert_eq!(like_pattern("a_b%c\\*"), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn the_scan_is_priced_at_five_dollars_a_terabyte_with_ten_megabytes_at_least() {
        assert_eq!(scan_cost(0), 10e6 / 1e12 * 5.0);
        assert_eq!(scan_cost(2_000_000_000_000), 10.0);
    }
}
