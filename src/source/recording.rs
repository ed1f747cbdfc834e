//! Recorded Cost Explorer sessions: read a recording folder and decode every page with
//! aws-sdk-costexplorer's own deserializer.
//!
//! A recording is a folder with `recording.json` (the manifest: for each HTTP exchange,
//! the GetCostAndUsage request as it was sent and the file holding the raw response body)
//! and the response files themselves. Replay sends each recorded request through a real
//! SDK client whose HTTP client answers, in process, with the recorded bytes, so the
//! output types are exactly those a live call produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_costexplorer as ce;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use ce::operation::get_cost_and_usage::GetCostAndUsageOutput;
use ce::types::{
    CostCategoryValues, DateInterval, Dimension, DimensionValues, Expression, Granularity,
    GroupDefinition, GroupDefinitionType, MatchOption, TagValues,
};
use serde::Deserialize;

use crate::model::page::{CostPage, RecordScope};
use serde_json::Value;

pub(crate) const MANIFEST: &str = "recording.json";
pub(crate) const FORMAT: &str = "creditburn-recording/1";

/// Why a recording could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: no such file or folder; check source.path, or record one with `creditburn record --out DIR`", path.display())]
    Missing { path: PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// Where a recording is to be written cannot take it.
    #[error("{}: {message}", path.display())]
    Unwritable { path: PathBuf, message: String },
}

/// Checks, before any request is paid for, that `dir` can take a new recording: it does
/// not exist yet (its parent folder can be written) or is an empty folder.
pub(crate) fn check_out(dir: &Path) -> Result<(), SourceError> {
    let fail = |message: String| SourceError::Unwritable {
        path: dir.to_path_buf(),
        message,
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err(fail(
                "is not a folder; give --out a new or empty folder".into(),
            ));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| fail(format!("cannot be read ({e})")))?;
        if entries.count() > 0 {
            return Err(fail(
                "is not empty (a recording may already be here); give --out a new or empty folder"
                    .into(),
            ));
        }
    }
    crate::writable_folder(dir).map_err(|e| {
        fail(match e {
            crate::Unwritable::NotAFolder => {
                "is not a folder; give --out a new or empty folder".to_string()
            }
            crate::Unwritable::Create(e) | crate::Unwritable::Write(e) => {
                format!("cannot be written ({e}); give --out a folder you can write")
            }
        })
    })
}

impl SourceError {
    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        SourceError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    operation: String,
    #[serde(default)]
    #[allow(dead_code)]
    recorded_at: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    exchanges: Vec<Exchange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    query: String,
    /// Kept as raw JSON: replay checks the SDK sends exactly this.
    request: serde_json::Value,
    response: String,
}

/// A GetCostAndUsage request in its wire (awsJson1_1) form.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordedRequest {
    pub time_period: WirePeriod,
    pub granularity: String,
    pub metrics: Vec<String>,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub group_by: Vec<WireGroup>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WirePeriod {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireGroup {
    pub r#type: String,
    pub key: String,
}

impl RecordedRequest {
    /// What the request asked for, for the integrity checks.
    fn expected(
        &self,
        scope: RecordScope,
        manifest: &Path,
        at: &str,
    ) -> Result<crate::source::plan::Expected, SourceError> {
        let day = |s: &str| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                SourceError::invalid(
                    manifest,
                    format!("{at}: request TimePeriod {s:?} is not a date"),
                )
            })
        };
        Ok(crate::source::plan::Expected {
            scope,
            group_by: self
                .group_by
                .iter()
                .map(|g| (g.r#type.clone(), g.key.clone()))
                .collect(),
            start: day(&self.time_period.start)?,
            end: day(&self.time_period.end)?,
        })
    }

    fn scope(&self) -> Option<RecordScope> {
        let usage = serde_json::json!({"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}});
        match &self.filter {
            Some(f) if *f == usage => Some(RecordScope::Usage),
            Some(f)
                if f.get("Not") == Some(&usage) && f.as_object().map(|o| o.len()) == Some(1) =>
            {
                Some(RecordScope::NotUsage)
            }
            _ => None,
        }
    }
}

/// Reads the recording in `dir` and decodes every page, checking that each query's pages
/// follow one another by NextPageToken and that none stops half-way.
pub async fn replay(dir: &Path) -> Result<Vec<CostPage>, SourceError> {
    let manifest_path = dir.join(MANIFEST);
    let manifest: Manifest = {
        let bytes = read(&manifest_path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            SourceError::invalid(
                &manifest_path,
                format!(
                    "is not a creditburn recording manifest ({}); record one with `creditburn record --out DIR`",
                    crate::model::text::excerpt(&e.to_string().replace(
                        "struct Manifest",
                        "an object with format, operation and exchanges"
                    ))
                ),
            )
        })?
    };
    if manifest.format != FORMAT {
        return Err(SourceError::invalid(
            &manifest_path,
            format!("format {:?} is not {FORMAT:?}", manifest.format),
        ));
    }
    if manifest.operation != "GetCostAndUsage" {
        return Err(SourceError::invalid(
            &manifest_path,
            format!("operation {:?} is not GetCostAndUsage", manifest.operation),
        ));
    }
    if manifest.exchanges.is_empty() {
        return Err(SourceError::invalid(
            &manifest_path,
            "the recording is empty: it lists no exchanges",
        ));
    }

    // The token each query's next page must carry; None once a query is complete.
    let mut pending: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut pages = Vec::with_capacity(manifest.exchanges.len());
    let mut expected: BTreeMap<String, crate::source::plan::Expected> = BTreeMap::new();
    for (i, exchange) in manifest.exchanges.iter().enumerate() {
        let at = format!("exchanges[{i}] ({})", exchange.query);
        let request: RecordedRequest =
            serde_json::from_value(exchange.request.clone()).map_err(|e| {
                SourceError::invalid(
                    &manifest_path,
                    format!("{at}: request is not a GetCostAndUsage request: {e}"),
                )
            })?;
        let scope = request.scope().ok_or_else(|| {
            SourceError::invalid(
                &manifest_path,
                format!(
                    "{at}: the request's Filter is neither RECORD_TYPE = Usage nor its negation"
                ),
            )
        })?;
        let sent = request.next_page_token.clone();
        match (pending.get(&exchange.query), &sent) {
            (None, None) => {}
            (Some(Some(expected)), Some(token)) if expected == token => {}
            (Some(None), _) => {
                return Err(SourceError::invalid(
                    &manifest_path,
                    format!("{at}: the query already ended (its last page had no NextPageToken)"),
                ))
            }
            _ => {
                return Err(SourceError::invalid(
                    &manifest_path,
                    format!("{at}: NextPageToken does not follow the previous page of this query"),
                ))
            }
        }
        let file = dir.join(&exchange.response);
        let body = read(&file)?;
        let output = decode(&request, &exchange.request, body)
            .await
            .map_err(|e| match e {
                Decode::Request(m) => SourceError::invalid(&manifest_path, format!("{at}: {m}")),
                Decode::Response(m) => SourceError::invalid(&file, m),
            })?;
        pending.insert(exchange.query.clone(), output.next_page_token.clone());
        let this = request.expected(scope, &manifest_path, &at)?;
        match expected.get(&exchange.query) {
            None => {
                expected.insert(exchange.query.clone(), this);
            }
            Some(first) if *first == this => {}
            Some(_) => {
                return Err(SourceError::invalid(
                    &manifest_path,
                    format!("{at}: the request differs from the query's first page (period, grouping or filter)"),
                ))
            }
        }
        pages.push(CostPage {
            query: exchange.query.clone(),
            file,
            scope,
            output,
        });
    }
    if let Some((query, _)) = pending.iter().find(|(_, token)| token.is_some()) {
        return Err(SourceError::invalid(
            &manifest_path,
            format!("the recording ends in the middle of query {query:?}: its last page has a NextPageToken"),
        ));
    }
    plan_shape(&expected).map_err(|m| SourceError::invalid(&manifest_path, m))?;
    check(&pages, &expected).map_err(|e| {
        SourceError::invalid(e.file.as_deref().unwrap_or(&manifest_path), e.to_string())
    })?;
    Ok(pages)
}

/// The plan's name for a query of this scope and grouping; None for a query creditburn
/// never asks.
fn plan_name(e: &crate::source::plan::Expected) -> Option<String> {
    let g: Vec<(&str, &str)> = e
        .group_by
        .iter()
        .map(|(t, k)| (t.as_str(), k.as_str()))
        .collect();
    match (e.scope, g.as_slice()) {
        (RecordScope::Usage, [("DIMENSION", "SERVICE"), ("DIMENSION", "USAGE_TYPE")]) => {
            Some("usage-by-service".into())
        }
        (RecordScope::Usage, [("DIMENSION", "LINKED_ACCOUNT"), ("DIMENSION", "USAGE_TYPE")]) => {
            Some("usage-by-account".into())
        }
        (RecordScope::Usage, [("TAG", key), ("DIMENSION", "USAGE_TYPE")]) => {
            Some(format!("usage-by-tag-{key}"))
        }
        (
            RecordScope::Usage,
            [("TAG", key), ("DIMENSION", side @ ("LINKED_ACCOUNT" | "SERVICE"))],
        ) => Some(crate::source::plan::joint_name(key, side)),
        (RecordScope::NotUsage, [("DIMENSION", "RECORD_TYPE"), ("DIMENSION", "SERVICE")]) => {
            Some("other-by-record-type".into())
        }
        _ => None,
    }
}

/// Each query of a recording is a query of creditburn's plan, under the plan's name for
/// its grouping, so none is there twice (a slice listed again under another name would
/// count its spend twice); and the queries every plan has (by service, by account, the
/// other record types: the credits) are there. A tag key the config's rules use and the
/// recording lacks is the analysis's to flag (its rule matches nothing: the award's
/// status is `no_data`, never a forfeit), as for live data where the tag is not active.
fn plan_shape(expected: &BTreeMap<String, crate::source::plan::Expected>) -> Result<(), String> {
    for (name, e) in expected {
        let grouping = e
            .group_by
            .iter()
            .map(|(t, k)| format!("{t}:{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        match plan_name(e) {
            None => {
                return Err(format!(
                    "query {name:?} groups by [{grouping}], which is no query of creditburn's plan; record one with `creditburn record --out DIR`"
                ))
            }
            Some(plan) if plan != *name => {
                return Err(format!(
                    "query {name:?} groups by [{grouping}], which is the plan's {plan:?} query: a query under another name would count its spend again"
                ))
            }
            Some(_) => {}
        }
    }
    for needed in [
        "usage-by-service",
        "usage-by-account",
        "other-by-record-type",
    ] {
        if !expected.contains_key(needed) {
            return Err(format!(
                "the recording has no {needed:?} query, which every plan asks; record one with `creditburn record --out DIR`"
            ));
        }
    }
    Ok(())
}

/// The integrity checks of a whole recording: each query against its request, then the
/// usage slices against one another.
fn check(
    pages: &[CostPage],
    expected: &BTreeMap<String, crate::source::plan::Expected>,
) -> Result<(), crate::source::integrity::IntegrityError> {
    use crate::source::integrity::{check_query, check_slices, Page, SliceTotals};
    let mut slices = Vec::new();
    for (query, expected) in expected {
        let of_query: Vec<Page> = pages
            .iter()
            .filter(|p| &p.query == query)
            .map(|p| Page {
                file: Some(&p.file),
                output: &p.output,
            })
            .collect();
        let (totals, day_pages) = check_query(query, expected, &of_query)?;
        if expected.scope == RecordScope::Usage {
            let by_service = expected.group_by.first().is_some_and(|g| g.1 == "SERVICE");
            slices.push((
                !by_service,
                query.as_str(),
                expected.joint(),
                day_pages,
                totals,
            ));
        }
    }
    // The service slice first: its totals are the table's.
    slices.sort_by_key(|s| s.0);
    let refs: Vec<_> = slices
        .iter()
        .map(|(_, query, joint, pages, totals)| SliceTotals {
            query,
            joint: *joint,
            pages: Some(pages),
            totals,
        })
        .collect();
    check_slices(&refs)
}

fn read(path: &Path) -> Result<Vec<u8>, SourceError> {
    crate::read_bounded(path, crate::MAX_RECORDING_FILE).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SourceError::Missing {
            path: path.to_path_buf(),
        },
        _ => SourceError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// Sends `request` through an SDK client whose transport checks that the body the SDK
/// serialised is the recorded request (`raw`) and answers with the recorded `body`.
/// Which side of an exchange could not be replayed.
enum Decode {
    Request(String),
    Response(String),
}

async fn decode(
    request: &RecordedRequest,
    raw: &Value,
    body: Vec<u8>,
) -> Result<GetCostAndUsageOutput, Decode> {
    let config = replay_config()
        .http_client(ReplayClient {
            expected_request: Some(Arc::new(raw.clone())),
            body: Arc::new(body),
        })
        .build();
    let client = ce::Client::from_conf(config);
    let period = DateInterval::builder()
        .start(&request.time_period.start)
        .end(&request.time_period.end)
        .build()
        .map_err(|e| Decode::Request(format!("request TimePeriod: {e}")))?;
    let filter = request
        .filter
        .as_ref()
        .map(expression)
        .transpose()
        .map_err(|e| Decode::Request(format!("request Filter: {e}")))?;
    let mut call = client
        .get_cost_and_usage()
        .time_period(period)
        .granularity(Granularity::from(request.granularity.as_str()))
        .set_metrics(Some(request.metrics.clone()))
        .set_filter(filter)
        .set_next_page_token(request.next_page_token.clone());
    for g in &request.group_by {
        call = call.group_by(
            GroupDefinition::builder()
                .r#type(GroupDefinitionType::from(g.r#type.as_str()))
                .key(&g.key)
                .build(),
        );
    }
    call.send().await.map_err(|e| match e {
        ce::error::SdkError::DispatchFailure(_) => Decode::Request(format!(
            "replaying the recorded request failed: {}",
            crate::model::text::error_line(&e)
        )),
        _ => Decode::Response(format!(
            "not a valid GetCostAndUsage response ({}); record it again, or restore the file",
            crate::model::text::root_cause(&e)
        )),
    })
}

/// An SDK client configuration for in-process replay: static credentials, no retries.
fn replay_config() -> ce::config::Builder {
    ce::Config::builder()
        .behavior_version(ce::config::BehaviorVersion::latest())
        .region(ce::config::Region::new("us-east-1"))
        .credentials_provider(ce::config::Credentials::new(
            "recording",
            "recording",
            None,
            None,
            "recording",
        ))
        .retry_config(ce::config::retry::RetryConfig::disabled())
}

/// Decodes one GetCostAndUsage response body with the SDK's deserializer (the cache's
/// way back from stored JSON to SDK types).
pub(crate) async fn decode_body(body: Vec<u8>) -> Result<GetCostAndUsageOutput, String> {
    let config = replay_config()
        .http_client(ReplayClient {
            expected_request: None,
            body: Arc::new(body),
        })
        .build();
    ce::Client::from_conf(config)
        .get_cost_and_usage()
        .send()
        .await
        .map_err(|e| {
            format!(
                "not a valid GetCostAndUsage response ({})",
                crate::model::text::root_cause(&e)
            )
        })
}

/// Builds the SDK's filter Expression from its wire JSON (And, Or, Not, Dimensions,
/// Tags, CostCategories).
pub fn expression(json: &Value) -> Result<Expression, String> {
    let object = json
        .as_object()
        .ok_or_else(|| format!("{json} is not an expression object"))?;
    let list = |v: &Value| -> Result<Vec<Expression>, String> {
        v.as_array()
            .ok_or_else(|| format!("{v} is not a list of expressions"))?
            .iter()
            .map(expression)
            .collect()
    };
    let mut builder = Expression::builder();
    for (operator, value) in object {
        builder = match operator.as_str() {
            "And" => builder.set_and(Some(list(value)?)),
            "Or" => builder.set_or(Some(list(value)?)),
            "Not" => builder.not(expression(value)?),
            "Dimensions" => {
                let (key, values, options) = key_values(value)?;
                builder.dimensions(
                    DimensionValues::builder()
                        .key(Dimension::from(key.as_str()))
                        .set_values(values)
                        .set_match_options(options)
                        .build(),
                )
            }
            "Tags" => {
                let (key, values, options) = key_values(value)?;
                builder.tags(
                    TagValues::builder()
                        .key(key)
                        .set_values(values)
                        .set_match_options(options)
                        .build(),
                )
            }
            "CostCategories" => {
                let (key, values, options) = key_values(value)?;
                builder.cost_categories(
                    CostCategoryValues::builder()
                        .key(key)
                        .set_values(values)
                        .set_match_options(options)
                        .build(),
                )
            }
            other => return Err(format!("unknown operator {other:?}")),
        };
    }
    Ok(builder.build())
}

type KeyValues = (String, Option<Vec<String>>, Option<Vec<MatchOption>>);

fn key_values(json: &Value) -> Result<KeyValues, String> {
    let strings = |name: &str| -> Result<Option<Vec<String>>, String> {
        match json.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{name} holds {v}, not a string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(format!("{name} is {other}, not a list")),
        }
    };
    let key = json
        .get("Key")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{json} has no Key"))?
        .to_string();
    let options = strings("MatchOptions")?
        .map(|list| list.iter().map(|o| MatchOption::from(o.as_str())).collect());
    Ok((key, strings("Values")?, options))
}

/// An HTTP client that answers every request with one recorded body.
#[derive(Debug, Clone)]
struct ReplayClient {
    /// The request the SDK must send, when replaying a recording.
    expected_request: Option<Arc<Value>>,
    body: Arc<Vec<u8>>,
}

impl HttpConnector for ReplayClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if let Some(expected) = &self.expected_request {
            let sent: Option<Value> = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok());
            if sent.as_ref() != Some(expected.as_ref()) {
                let sent = sent
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "no JSON body".into());
                let message =
                    format!("the SDK sent {sent}, which is not the recorded request {expected}");
                return HttpConnectorFuture::ready(Err(ConnectorError::user(message.into())));
            }
        }
        let status = StatusCode::try_from(200u16).expect("200 is a valid status code");
        let mut response = HttpResponse::new(status, SdkBody::from(self.body.as_ref().clone()));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for ReplayClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// One query's exchanges, as fetched live: (query name, [(request body, response body)]).
pub(crate) type RecordedQuery = (String, Vec<(Vec<u8>, Vec<u8>)>);

/// What scrubbing replaced, for the person who must adjust their config to match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scrubbed {
    pub accounts: std::collections::BTreeMap<String, String>,
    /// (tag key, value) to the value written instead.
    pub tag_values: std::collections::BTreeMap<(String, String), String>,
}

impl Scrubbed {
    fn account(&mut self, real: &str) -> String {
        let n = self.accounts.len() as u64 + 1;
        self.accounts
            .entry(real.to_string())
            .or_insert_with(|| format!("{:012}", 100_000_000_000 + n))
            .clone()
    }

    fn tag_value(&mut self, key: &str, value: &str) -> String {
        let n = self.tag_values.keys().filter(|(k, _)| k == key).count() + 1;
        self.tag_values
            .entry((key.to_string(), value.to_string()))
            .or_insert_with(|| format!("{key}-value-{n}"))
            .clone()
    }
}

/// Replaces account ids and tag values in one response body, consistently through
/// `map`. Group keys are rewritten by what the body's GroupDefinitions say they are.
fn scrub_body(body: &mut Value, map: &mut Scrubbed) {
    let kinds: Vec<(String, String)> = body["GroupDefinitions"]
        .as_array()
        .map(|defs| {
            defs.iter()
                .map(|d| {
                    (
                        d["Type"].as_str().unwrap_or_default().to_string(),
                        d["Key"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(results) = body["ResultsByTime"].as_array_mut() {
        for result in results {
            for group in result["Groups"].as_array_mut().into_iter().flatten() {
                for (i, key) in group["Keys"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let Some(text) = key.as_str().map(str::to_string) else {
                        continue;
                    };
                    match kinds.get(i).map(|(t, k)| (t.as_str(), k.as_str())) {
                        Some(("DIMENSION", "LINKED_ACCOUNT")) => {
                            *key = Value::from(map.account(&text))
                        }
                        Some(("TAG", _)) => {
                            if let Some((k, v)) = text.split_once('$') {
                                if !v.is_empty() {
                                    *key = Value::from(format!("{k}${}", map.tag_value(k, v)));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if kinds
        .iter()
        .any(|(t, k)| t == "DIMENSION" && k == "LINKED_ACCOUNT")
    {
        for attr in body["DimensionValueAttributes"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some(real) = attr["Value"].as_str().map(str::to_string) {
                let fake = map.account(&real);
                attr["Value"] = Value::from(fake.clone());
                if attr["Attributes"].get("description").is_some() {
                    attr["Attributes"]["description"] = Value::from(format!("account {fake}"));
                }
            }
        }
    }
}

/// Writes `queries` as a recording in `dir` (created if needed; an existing recording
/// there is refused). With `scrub`, account ids and tag values are replaced
/// consistently; the replacements are returned, never written.
pub fn write(dir: &Path, queries: &[RecordedQuery], scrub: bool) -> Result<Scrubbed, SourceError> {
    let manifest_path = dir.join(MANIFEST);
    if manifest_path.exists() {
        return Err(SourceError::invalid(
            &manifest_path,
            "a recording is already here; choose an empty folder",
        ));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    let mut map = Scrubbed::default();
    let mut exchanges = Vec::new();
    for (query, pages) in queries {
        let folder = crate::file_safe(query);
        std::fs::create_dir_all(dir.join(&folder)).map_err(io(&dir.join(&folder)))?;
        for (i, (request, response)) in pages.iter().enumerate() {
            let request: Value = serde_json::from_slice(request).map_err(|e| {
                SourceError::invalid(&manifest_path, format!("{query}: request body: {e}"))
            })?;
            let relative = format!("{folder}/page-{:03}.json", i + 1);
            let path = dir.join(&relative);
            let bytes = if scrub {
                let mut body: Value = serde_json::from_slice(response)
                    .map_err(|e| SourceError::invalid(&path, format!("response body: {e}")))?;
                scrub_body(&mut body, &mut map);
                serde_json::to_vec(&body).map_err(|e| SourceError::invalid(&path, e.to_string()))?
            } else {
                response.clone()
            };
            std::fs::write(&path, bytes).map_err(io(&path))?;
            exchanges.push(
                serde_json::json!({"query": query, "request": request, "response": relative}),
            );
        }
    }
    let manifest = serde_json::json!({
        "format": FORMAT,
        "operation": "GetCostAndUsage",
        "recorded_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "description": if scrub { "recorded by creditburn record --scrub" } else { "recorded by creditburn record" },
        "exchanges": exchanges,
    });
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| SourceError::invalid(&manifest_path, e.to_string()))?;
    std::fs::write(&manifest_path, text + "\n").map_err(io(&manifest_path))?;
    Ok(map)
}
