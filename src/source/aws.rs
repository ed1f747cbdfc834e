//! Live AWS: SDK clients from aws-config's default chain, the paginated Cost Explorer
//! fetches of the query plan, and the refresh of the cache. The only module that knows
//! aws-config and talks to AWS.
//!
//! Credentials and region come from the default chain (environment, profile, SSO,
//! container and instance roles); `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_COST_EXPLORER`
//! and `AWS_ENDPOINT_URL_BILLING` are honoured by that chain, so a run can be pointed at a
//! server on loopback. Retries are bounded and every attempt and operation has a timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_billing as billing;
use aws_sdk_costexplorer as ce;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use ce::types::{DateInterval, Granularity};
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Award, AwsSource};
use crate::model::credits::{Allocation, AwsCredits, Credit};
use crate::model::page::RecordScope;
use crate::source::integrity::{check_slices, Page, QueryCheck, SliceTotals};
use crate::source::plan::{Query, METRICS};
use crate::store::cache::{self, Cache};
use crate::store::StoreError;

/// What one Cost Explorer request costs: every page is one request.
pub const COST_PER_REQUEST: f64 = 0.01;

/// Builds the shared SDK configuration: default credential chain, the profile if one is
/// named, region from the chain or the config (Cost Explorer and Billing answer in
/// us-east-1), bounded retries and timeouts.
pub async fn sdk_config(source: &AwsSource, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(source.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(StdDuration::from_secs_f64(source.connect_timeout_seconds))
                .operation_attempt_timeout(StdDuration::from_secs_f64(
                    source.attempt_timeout_seconds,
                ))
                .operation_timeout(StdDuration::from_secs_f64(source.operation_timeout_seconds))
                .build(),
        );
    if let Some(profile) = profile.or(source.profile.as_deref()) {
        loader = loader.profile_name(profile);
    }
    let region = RegionProviderChain::first_try(source.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::new("us-east-1"));
    loader.region(region).load().await
}

/// The SDK config for `source` (with `--profile` if given), its credentials resolved
/// once: what every command that talks to AWS starts from.
pub(crate) async fn connect(
    source: &AwsSource,
    profile: Option<&str>,
) -> Result<SdkConfig, NoCredentials> {
    let sdk = sdk_config(source, profile).await;
    check_credentials(&sdk, profile.or(source.profile.as_deref())).await?;
    Ok(sdk)
}

/// The credential chain found nothing to sign requests with.
#[derive(Debug, thiserror::Error)]
#[error("no AWS credentials were found ({0}); give them with AWS_PROFILE or --profile (a profile in ~/.aws/config), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a role (an EC2 instance profile, IRSA on EKS); see deploy/README.md")]
pub(crate) struct NoCredentials(pub String);

/// Resolves credentials once, before any request, so that their absence is one line
/// rather than the same failure repeated for every query.
pub(crate) async fn check_credentials(
    sdk: &SdkConfig,
    profile: Option<&str>,
) -> Result<(), NoCredentials> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let Some(provider) = sdk.credentials_provider() else {
        return Err(NoCredentials("no credential provider is configured".into()));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| {
            let cause = crate::model::text::cap(&crate::model::text::error_line(&e), 200);
            NoCredentials(match profile {
                Some(p) => format!("profile {p:?}: {cause}"),
                None => cause,
            })
        })
}

/// No usable cost data: the fetch failed and the cache could not stand in.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unavailable(pub String);

/// Why a fetch stopped. Each names what happened in one line.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("AWS throttled the request after every retry: {0}")]
    Throttled(String),
    #[error("AWS answered with a server error: {0}")]
    Server(String),
    #[error("AWS did not answer in time: {0}")]
    Timeout(String),
    #[error("AWS's answer could not be decoded: {0}")]
    Malformed(String),
    #[error("the request to AWS failed: {0}")]
    Other(String),
    #[error("AWS's answer failed an integrity check, so it was not cached: {0}")]
    Integrity(String),
    #[error("--max-requests {0} reached; the rest comes from the cache")]
    Budget(u64),
}

fn classify<E>(err: SdkError<E, HttpResponse>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = crate::model::text::error_line(&err);
    match &err {
        SdkError::TimeoutError(_) => FetchError::Timeout(detail),
        SdkError::DispatchFailure(d) if d.is_timeout() => FetchError::Timeout(detail),
        SdkError::ResponseError(_) => FetchError::Malformed(detail),
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            let code = s.err().code();
            if matches!(code, Some("LimitExceededException" | "ThrottlingException")) {
                FetchError::Throttled(detail)
            } else if status >= 500 {
                FetchError::Server(format!("HTTP {status}: {detail}"))
            } else if (200..300).contains(&status) || code.is_none() {
                // A success status whose body is not the operation's answer.
                FetchError::Malformed(format!("HTTP {status}: {detail}"))
            } else {
                FetchError::Other(format!("HTTP {status}: {detail}"))
            }
        }
        _ => FetchError::Other(detail),
    }
}

/// Keeps the raw body of each successful response, for the cache and for recordings.
#[derive(Debug, Clone, Default)]
struct Capture {
    request: Arc<Mutex<Option<Vec<u8>>>>,
    response: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "creditburn-capture"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(mut slot) = self.response.lock() {
            *slot = context.response().body().bytes().map(<[u8]>::to_vec);
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(mut slot) = self.request.lock() {
            *slot = context.request().body().bytes().map(<[u8]>::to_vec);
        }
        Ok(())
    }
}

/// Counts the requests a run makes and enforces `--max-requests`.
#[derive(Debug, Clone, Default)]
pub struct RequestBudget {
    pub limit: Option<u64>,
    /// Successful requests: what AWS charges for.
    pub made: u64,
}

impl RequestBudget {
    pub fn cost(&self) -> f64 {
        self.made as f64 * COST_PER_REQUEST
    }
}

/// One HTTP exchange: the request body the SDK sent and the raw response body.
#[derive(Debug, Clone)]
pub struct RawExchange {
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    /// The response as the SDK decoded it.
    pub output: ce::operation::get_cost_and_usage::GetCostAndUsageOutput,
}

/// A Cost Explorer client for the query plan.
pub struct CostExplorer {
    client: ce::Client,
}

impl CostExplorer {
    pub fn new(sdk: &SdkConfig) -> CostExplorer {
        CostExplorer {
            client: ce::Client::new(sdk),
        }
    }

    /// Every page of `query` over `[start, end)`, following NextPageToken. Nothing is
    /// returned unless every page arrived and decoded.
    /// Fetches one query over `[start, end)`, following NextPageToken, each page handed
    /// to `on_page` as it arrives (and dropped after, unless it keeps it); an error from
    /// `on_page` stops the query.
    pub async fn fetch(
        &self,
        query: &Query,
        start: NaiveDate,
        end: NaiveDate,
        budget: &mut RequestBudget,
        mut on_page: impl FnMut(RawExchange) -> Result<(), FetchError>,
    ) -> Result<(), FetchError> {
        let period = DateInterval::builder()
            .start(start.to_string())
            .end(end.to_string())
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        let mut token: Option<String> = None;
        loop {
            if budget.limit.is_some_and(|limit| budget.made >= limit) {
                return Err(FetchError::Budget(budget.limit.unwrap_or_default()));
            }
            let capture = Capture::default();
            let output = self
                .client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .set_metrics(Some(METRICS.iter().map(|m| m.to_string()).collect()))
                .filter(query.filter())
                .set_group_by(Some(query.group_definitions()))
                .set_next_page_token(token.clone())
                .customize()
                .interceptor(capture.clone())
                .send()
                .await
                .map_err(classify)?;
            budget.made += 1;
            let take =
                |slot: &Arc<Mutex<Option<Vec<u8>>>>| slot.lock().ok().and_then(|mut s| s.take());
            let (Some(request), Some(response)) = (take(&capture.request), take(&capture.response))
            else {
                return Err(FetchError::Malformed(
                    "the response body was not captured".into(),
                ));
            };
            token = output.next_page_token().map(str::to_string);
            let last = token.is_none();
            on_page(RawExchange {
                request,
                response,
                output,
            })?;
            if last {
                return Ok(());
            }
        }
    }
}

/// How a query's fetch is going, after each page: for a progress bar or a log line.
#[derive(Debug, Clone)]
pub struct Progress<'q> {
    pub query: &'q str,
    /// The days asked for, `[from, to)`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Pages of this query so far, and the days they reach (a page ends after a
    /// number of groups, so a day may be partly in the next).
    pub pages: u64,
    pub days: u64,
    /// Requests the run has paid for so far, every query's.
    pub requests: u64,
    /// Whether the query's last page has come.
    pub done: bool,
}

impl Progress<'_> {
    /// The days asked for.
    pub fn total_days(&self) -> u64 {
        (self.to - self.from).num_days().max(0) as u64
    }

    /// The pages still to come, estimated from the pages the days so far took.
    pub fn pages_left(&self) -> Option<u64> {
        if self.done {
            return Some(0);
        }
        (self.days > 0).then(|| {
            let total = self.pages as f64 * self.total_days() as f64 / self.days as f64;
            (total.ceil() as u64).saturating_sub(self.pages).max(1)
        })
    }
}

/// Counts one query's pages as they come, for `Progress`.
struct PageCount<'q> {
    query: &'q str,
    from: NaiveDate,
    to: NaiveDate,
    /// Requests made before the query's first page.
    before: u64,
    pages: u64,
    days: u64,
}

impl<'q> PageCount<'q> {
    fn new(query: &'q str, (from, to): (NaiveDate, NaiveDate), before: u64) -> PageCount<'q> {
        PageCount {
            query,
            from,
            to,
            before,
            pages: 0,
            days: 0,
        }
    }

    /// The progress after one more page: the days it reaches from `from`.
    fn page(
        &mut self,
        page: &ce::operation::get_cost_and_usage::GetCostAndUsageOutput,
    ) -> Progress<'q> {
        self.pages += 1;
        let reached = page
            .results_by_time()
            .last()
            .and_then(|r| r.time_period())
            .and_then(|p| NaiveDate::parse_from_str(p.start(), "%Y-%m-%d").ok())
            .map(|day| ((day - self.from).num_days() + 1).max(0) as u64);
        self.days = reached.unwrap_or(self.days).max(self.days);
        Progress {
            query: self.query,
            from: self.from,
            to: self.to,
            pages: self.pages,
            days: self.days,
            requests: self.before + self.pages,
            done: page.next_page_token().is_none(),
        }
    }
}

/// Fetches every query of the plan over `[start, end)`, fresh, keeping each exchange's
/// request and response bodies for a recording; `progress` hears of each page.
pub async fn record(
    client: &CostExplorer,
    queries: &[Query],
    (start, end): (NaiveDate, NaiveDate),
    budget: &mut RequestBudget,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<crate::source::recording::RecordedQuery>, (String, FetchError)> {
    let mut out = Vec::new();
    for query in queries {
        let mut pages = Vec::new();
        let mut count = PageCount::new(&query.name, (start, end), budget.made);
        client
            .fetch(query, start, end, budget, |page| {
                progress(&count.page(&page.output));
                pages.push((page.request, page.response));
                Ok(())
            })
            .await
            .map_err(|e| (query.name.clone(), e))?;
        out.push((query.name.clone(), pages));
    }
    Ok(out)
}

/// What a refresh did.
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    pub budget: RequestBudget,
    /// Queries that could not be fetched, with why; their cached days are used.
    pub failures: Vec<(String, FetchError)>,
    /// Queries fetched, with the range asked for and the days stored.
    pub fetched: Vec<(String, NaiveDate, NaiveDate, usize)>,
}

/// When a refresh runs and what it may ask for.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy<'f> {
    pub now: DateTime<Utc>,
    /// Which cached days are fresh enough not to ask for again.
    pub freshness: &'f cache::Freshness,
    /// The most requests the run may pay for.
    pub max_requests: Option<u64>,
}

/// Brings the cache up to date for `queries` over `[start, end)`: fetches only what
/// [`cache::days_to_fetch`] says can still change, stores each query in one transaction.
/// A failed query leaves its cached days as they were. `progress` hears of each page.
pub async fn refresh(
    client: &CostExplorer,
    store: &mut Cache,
    queries: &[Query],
    (start, end): (NaiveDate, NaiveDate),
    policy: RefreshPolicy<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Refresh, StoreError> {
    let RefreshPolicy {
        now,
        freshness,
        max_requests,
    } = policy;
    let mut out = Refresh {
        budget: RequestBudget {
            limit: max_requests,
            made: 0,
        },
        ..Refresh::default()
    };
    // Fetch and check every due query first, store after: the usage slices fetched
    // together must agree before any of them replaces what the cache holds. Each page is
    // checked as it arrives and staged in a file beside the store, so only one decoded
    // page is held at a time, however long the backfill.
    let mut good = Vec::new();
    for query in queries {
        let cached = store.cached_days(&query.name)?;
        let Some((from, to)) = cache::days_to_fetch(&cached, start, end, now, freshness) else {
            continue;
        };
        let before = out.budget.made;
        let expected = query.expected(from, to);
        let mut check = QueryCheck::new(&query.name, &expected);
        let mut staged = store.stage()?;
        let mut staging: Option<StoreError> = None;
        let mut count = PageCount::new(&query.name, (from, to), before);
        let fetched = client
            .fetch(query, from, to, &mut out.budget, |page| {
                check
                    .page(&Page {
                        file: None,
                        output: &page.output,
                    })
                    .map_err(|e| FetchError::Integrity(e.to_string()))?;
                progress(&count.page(&page.output));
                staged.push(&page.response).map_err(|e| {
                    let message = e.to_string();
                    staging = Some(e);
                    FetchError::Other(message)
                })
            })
            .await;
        if let Some(e) = staging {
            return Err(e);
        }
        let requests = out.budget.made - before;
        match fetched {
            Ok(()) => good.push((query, from, to, requests, staged, check.finish().0)),
            Err(e) => {
                store.log_request(now, &query.name, requests, &e.to_string())?;
                out.failures.push((query.name.clone(), e));
            }
        }
    }
    let usage: Vec<usize> = (0..good.len())
        .filter(|&i| good[i].0.scope == RecordScope::Usage)
        .collect();
    if usage.len() > 1 {
        let from = usage.iter().map(|&i| good[i].1).max().unwrap_or(start);
        let to = usage.iter().map(|&i| good[i].2).min().unwrap_or(end);
        let within: Vec<crate::source::integrity::Totals> = usage
            .iter()
            .map(|&i| {
                let totals = &good[i].5;
                totals
                    .iter()
                    .filter(|((day, _), _)| (from..to).contains(day))
                    .map(|(k, v)| (k.clone(), *v))
                    .collect()
            })
            .collect();
        let slices: Vec<_> = usage
            .iter()
            .zip(&within)
            .map(|(&i, totals)| SliceTotals {
                query: good[i].0.name.as_str(),
                joint: good[i].0.expected(from, to).joint(),
                pages: None,
                totals,
            })
            .collect();
        if let Err(e) = check_slices(&slices) {
            let why = FetchError::Integrity(e.to_string());
            for &i in usage.iter().rev() {
                let (query, _, _, requests, _, _) = good.remove(i);
                store.log_request(now, &query.name, requests, &why.to_string())?;
                out.failures.push((query.name.clone(), why.clone()));
            }
        }
    }
    for (query, from, to, requests, staged, _) in good {
        let days = store.store_staged(&query.name, staged, now)?;
        store.log_request(now, &query.name, requests, "ok")?;
        out.fetched.push((query.name.clone(), from, to, days));
    }
    Ok(out)
}

/// A Billing client for the credits.
pub struct Billing {
    client: billing::Client,
}

fn day_of(t: &aws_smithy_types::DateTime) -> Option<NaiveDate> {
    DateTime::from_timestamp(t.secs(), 0).map(|d| d.date_naive())
}

fn to_datetime(d: NaiveDate) -> aws_smithy_types::DateTime {
    let secs = d
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default();
    aws_smithy_types::DateTime::from_secs(secs)
}

/// An amount of the Billing API, checked: present, a finite number, in USD (Cost
/// Explorer's currency, which every award is measured in). `what` names it in the
/// error: `credit 1234's remainingAmount`.
fn amount(a: Option<&billing::types::Amount>, what: &str) -> Result<f64, FetchError> {
    // The SDK fills a required member AWS left out with an empty value.
    let a = a
        .filter(|a| !a.currency_amount().trim().is_empty())
        .ok_or_else(|| {
            FetchError::Malformed(format!(
                "{what} is missing; a balance AWS did not report is not $0"
            ))
        })?;
    let text = crate::model::text::excerpt(a.currency_amount());
    let v: f64 = a
        .currency_amount()
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| FetchError::Malformed(format!("{what} {text:?} is not a number")))?;
    if a.currency_code() != "USD" {
        return Err(FetchError::Malformed(format!(
            "{what} is in {:?}; creditburn counts in USD, as Cost Explorer reports",
            crate::model::text::excerpt(a.currency_code())
        )));
    }
    Ok(v)
}

impl Billing {
    pub fn new(sdk: &SdkConfig) -> Billing {
        Billing {
            client: billing::Client::new(sdk),
        }
    }

    /// Every credit on `account_id` active in the last year (GetCredits looks back at most
    /// a year).
    pub async fn credits(
        &self,
        account_id: &str,
        today: NaiveDate,
    ) -> Result<Vec<Credit>, FetchError> {
        let output = self
            .client
            .get_credits()
            .account_id(account_id)
            .start_date(to_datetime(today - chrono::Duration::days(364)))
            .send()
            .await
            .map_err(classify)?;
        output.credits().iter().map(credit_of).collect()
    }

    /// How much of credit `credit_id` AWS applied, per service and month, over
    /// `[start, end)`, following nextToken.
    pub(crate) async fn allocations(
        &self,
        account_id: &str,
        credit_id: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<(Vec<Allocation>, u64), FetchError> {
        let id: i64 = credit_id
            .parse()
            .map_err(|_| FetchError::Other(format!("credit id {credit_id:?} is not numeric")))?;
        let mut out = Vec::new();
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_credit_allocation_history()
                .account_id(account_id)
                .credit_id(id)
                .start_date(to_datetime(start))
                .end_date(to_datetime(end))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(classify)?;
            pages += 1;
            for e in page.credit_allocation_history_list() {
                let value = amount(
                    e.credit_amount(),
                    &format!(
                        "credit {}'s allocation for {} in {}",
                        crate::model::text::excerpt(credit_id),
                        crate::model::text::excerpt(e.applied_service_name()),
                        crate::model::text::excerpt(e.billing_month())
                    ),
                )?;
                // YYYY-MM, a month a bill may hold: the months are compared as text.
                let month = e.billing_month();
                let valid = month.len() == 7
                    && NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok_and(
                        |d| {
                            (crate::model::page::MIN_YEAR..=crate::model::page::MAX_YEAR)
                                .contains(&chrono::Datelike::year(&d))
                        },
                    );
                if !valid {
                    return Err(FetchError::Malformed(format!(
                        "credit {}'s allocation month {:?} is not a month of the form YYYY-MM",
                        crate::model::text::excerpt(credit_id),
                        crate::model::text::excerpt(month)
                    )));
                }
                out.push(Allocation {
                    credit_id: e.credit_id().to_string(),
                    service: e.applied_service_name().to_string(),
                    month: e.billing_month().to_string(),
                    // Applications are negative (they reduce the bill); a positive entry
                    // is a reversal, and takes away from what was applied.
                    amount: -value,
                    estimated: e.is_estimated_bill(),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok((out, pages));
            }
        }
    }
}

/// One credit of GetCredits, every value checked: its amounts (`amount`), its dates
/// (within the years a bill may hold: a bad date is no 1970), its status (ENABLED or
/// DISABLED: a missing or unknown one is not taken for enabled). A credit that fails is
/// an error naming it, and the snapshot is not kept.
fn credit_of(c: &billing::types::CreditData) -> Result<Credit, FetchError> {
    let id = crate::model::text::excerpt(c.credit_id());
    let what = |field: &str| format!("credit {id}'s {field}");
    let date = |t: &aws_smithy_types::DateTime, field: &str| {
        day_of(t)
            .filter(|d| {
                (crate::model::page::MIN_YEAR..=crate::model::page::MAX_YEAR)
                    .contains(&chrono::Datelike::year(d))
            })
            .ok_or_else(|| {
                FetchError::Malformed(format!("{} is not a date a bill holds", what(field)))
            })
    };
    let status = match c.credit_status() {
        Some(billing::types::CreditStatus::Enabled) => "ENABLED",
        Some(billing::types::CreditStatus::Disabled) => "DISABLED",
        Some(other) => {
            return Err(FetchError::Malformed(format!(
                "{} {:?} is neither ENABLED nor DISABLED",
                what("creditStatus"),
                crate::model::text::excerpt(other.as_str())
            )))
        }
        None => {
            return Err(FetchError::Malformed(format!(
                "{} is missing; a credit is not taken for enabled unsaid",
                what("creditStatus")
            )))
        }
    };
    Ok(Credit {
        credit_id: c.credit_id().to_string(),
        credit_type: c.credit_type().to_string(),
        description: c.description().to_string(),
        currency: "USD".to_string(),
        initial_amount: amount(c.initial_amount(), &what("initialAmount"))?,
        remaining_amount: amount(c.remaining_amount(), &what("remainingAmount"))?,
        start_date: date(c.start_date(), "startDate")?,
        end_date: c.end_date().map(|t| date(t, "endDate")).transpose()?,
        exhaust_date: c
            .exhaust_date()
            .map(|t| date(t, "exhaustDate"))
            .transpose()?,
        applicable_products: c.applicable_product_names().to_vec(),
        status: status.to_string(),
    })
}

/// What a credits refresh produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct CreditRefresh {
    /// The snapshot to use: fresh, or the last one stored when the fetch failed.
    pub snapshot: Option<AwsCredits>,
    pub failure: Option<FetchError>,
    /// Billing requests made (pages included).
    pub requests: u64,
}

/// Reads the account's credits and, for each credit an award names, its allocation
/// history since the award's start (at most 24 months back). A snapshot younger than
/// `min_refresh` is reused; a failed fetch falls back to the newest stored one.
pub(crate) async fn refresh_credits(
    client: &Billing,
    store: &Cache,
    account_id: &str,
    awards: &[Award],
    now: DateTime<Utc>,
    min_refresh: chrono::Duration,
) -> Result<CreditRefresh, StoreError> {
    let latest = store.latest_credits(account_id)?;
    if let Some(snapshot) = &latest {
        if now - snapshot.fetched_at < min_refresh {
            return Ok(CreditRefresh {
                snapshot: latest,
                ..CreditRefresh::default()
            });
        }
    }
    let today = now.date_naive();
    let mut requests = 0;
    let fetched: Result<AwsCredits, FetchError> = async {
        let credits = client.credits(account_id, today).await?;
        requests += 1;
        let mut allocations = Vec::new();
        for award in awards {
            let Some(id) = &award.credit_id else { continue };
            if !credits.iter().any(|c| &c.credit_id == id) {
                continue;
            }
            let earliest = today - chrono::Duration::days(730);
            let start = award.start.max(earliest).min(today);
            let (entries, pages) = client.allocations(account_id, id, start, today).await?;
            allocations.extend(entries);
            requests += pages;
        }
        Ok(AwsCredits {
            fetched_at: now,
            credits,
            allocations,
        })
    }
    .await;
    Ok(match fetched {
        Ok(snapshot) => {
            store.store_credits(account_id, &snapshot)?;
            CreditRefresh {
                snapshot: Some(snapshot),
                failure: None,
                requests,
            }
        }
        Err(e) => CreditRefresh {
            snapshot: latest,
            failure: Some(e),
            requests,
        },
    })
}

/// [`refresh_credits`] for the account `source.account_id` names; None when it names none.
pub(crate) async fn refresh_source_credits(
    sdk: &SdkConfig,
    store: &Cache,
    source: &AwsSource,
    awards: &[Award],
    now: DateTime<Utc>,
) -> Result<Option<CreditRefresh>, StoreError> {
    let Some(account) = &source.account_id else {
        return Ok(None);
    };
    let client = Billing::new(sdk);
    refresh_credits(&client, store, account, awards, now, source.min_refresh())
        .await
        .map(Some)
}
