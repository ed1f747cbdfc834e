//! Configuration: the TOML file, parsed strictly and then validated as a whole.
//!
//! Parsing (`toml` + serde with `deny_unknown_fields`) catches unknown keys and wrong
//! types; [`validate`] then checks the meaning (dates, amounts, references between awards
//! and workloads, overlapping attribution rules) and reports every problem at once, each
//! naming its key and echoing the bad value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

mod channels;
mod check;
pub use channels::{topic_region, url_problem, Channel, ChannelKind, Route, SnsFormat};
mod raw;
use raw::*;
mod keys;
pub mod schedule;

/// Every problem found in a configuration file, in file order.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

/// One problem: the key it concerns (`awards[1].expiry`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        if let [only] = self.problems.as_slice() {
            return write!(f, "{}: {only}", self.path.display());
        }
        write!(
            f,
            "{}: {}",
            self.path.display(),
            crate::model::text::count(n as u64, "problem", "problems")
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// The key the account's own alerts are remembered and routed under, in place of an
/// award's id (`[[channels]] awards` may name it); no award may take it.
pub const ACCOUNT_KEY: &str = "account";

/// The programs an award can come from (see DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    BedrockPoc,
    ActivateFounders,
    ActivatePortfolio,
    BuildForStartups,
    GenaiAccelerator,
    Other,
}

impl Program {
    const ALL: [(&'static str, Program); 6] = [
        ("bedrock_poc", Program::BedrockPoc),
        ("activate_founders", Program::ActivateFounders),
        ("activate_portfolio", Program::ActivatePortfolio),
        ("build_for_startups", Program::BuildForStartups),
        ("genai_accelerator", Program::GenaiAccelerator),
        ("other", Program::Other),
    ];

    /// The program's full name: "Bedrock POC", "Activate Portfolio".
    pub fn label_long(self) -> &'static str {
        match self {
            Program::BedrockPoc => "Bedrock POC",
            Program::ActivateFounders => "Activate Founders",
            Program::ActivatePortfolio => "Activate Portfolio",
            Program::BuildForStartups => "Build for Startups",
            Program::GenaiAccelerator => "GenAI Accelerator",
            Program::Other => "credit",
        }
    }

    /// How finance names the program in a sentence.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Program::BedrockPoc => "POC",
            Program::ActivateFounders => "Activate Founders",
            Program::ActivatePortfolio => "Activate Portfolio",
            Program::BuildForStartups => "Build for Startups",
            Program::GenaiAccelerator => "GenAI Accelerator",
            Program::Other => "credit",
        }
    }
}

/// What spend a program's award is meant to fund (DOMAIN.md, "Credit awards").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The account's eligible spend (the general platform, an AI-first company).
    Account,
    /// One workload's Bedrock spend (a bounded GenAI experiment).
    WorkloadBedrock,
    /// One workload's spend, every service (a distinct build-out).
    Workload,
}

/// A program's usual terms, as DOMAIN.md reports them for 2026: every award is
/// discretionary, so these size a proposal, never an award.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    /// The band an award falls in (floor, ceiling).
    pub min: f64,
    pub max: f64,
    /// How long an award usually lasts.
    pub term_days: i64,
    /// Days from application to credits, unless `[plan] lead_days` says otherwise.
    pub lead_days: i64,
    pub scope: Scope,
    /// Granted once per company (false: once per workload, like a POC per initiative).
    pub once: bool,
}

impl Program {
    /// The programs one could apply to, in the order a plan lists them.
    pub const PROPOSABLE: [Program; 5] = [
        Program::BedrockPoc,
        Program::ActivateFounders,
        Program::ActivatePortfolio,
        Program::BuildForStartups,
        Program::GenaiAccelerator,
    ];

    /// Its name in the config and the JSON (`bedrock_poc`).
    pub fn name(self) -> &'static str {
        Program::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("other", |(s, _)| s)
    }

    /// The program named `name` in the config.
    pub fn from_name(name: &str) -> Option<Program> {
        Program::ALL
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, p)| *p)
    }

    /// Its usual terms; None for `other`.
    pub fn terms(self) -> Option<Terms> {
        let t = |min, max, term_days, lead_days, scope, once| Terms {
            min,
            max,
            term_days,
            lead_days,
            scope,
            once,
        };
        Some(match self {
            // $10K-$50K for a 60-120 day window, through a partner in about two weeks.
            Program::BedrockPoc => t(10_000.0, 50_000.0, 120, 14, Scope::WorkloadBedrock, false),
            // $1K-$5K, about 12 months.
            Program::ActivateFounders => t(1_000.0, 5_000.0, 365, 14, Scope::Account, true),
            // Up to $100K (floor about $25K), up to about 24 months.
            Program::ActivatePortfolio => t(25_000.0, 100_000.0, 730, 14, Scope::Account, true),
            // About $25K for a distinct build-out workload.
            Program::BuildForStartups => t(25_000.0, 25_000.0, 365, 30, Scope::Workload, true),
            // $200K-$1M in tranches; a cohort, 60-90 days from application to credits.
            Program::GenaiAccelerator => t(200_000.0, 1_000_000.0, 365, 90, Scope::Account, true),
            Program::Other => return None,
        })
    }
}

/// Which Cost Explorer services a workload counts or an award may pay for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSet {
    All,
    Only(Vec<ServiceSelector>),
}

impl ServiceSet {
    /// How many Cost Explorer services it admits (None: all), AWS's second key for the
    /// order credits are drawn in. "bedrock" counts as the three services it stands for.
    pub fn breadth(&self) -> Option<usize> {
        match self {
            ServiceSet::All => None,
            ServiceSet::Only(list) => Some(
                list.iter()
                    .map(|s| match s {
                        ServiceSelector::Bedrock => 3,
                        ServiceSelector::Exact(_) => 1,
                    })
                    .sum(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSelector {
    /// Every service Bedrock is billed under: "Amazon Bedrock" (Amazon's models),
    /// "Amazon Bedrock Service" (Claude) and "... (Amazon Bedrock Edition)" listings.
    Bedrock,
    /// One Cost Explorer SERVICE value, exactly.
    Exact(String),
}

/// Short names accepted in `services = [...]`, with the Cost Explorer SERVICE they stand for.
pub(crate) const SERVICE_ALIASES: [(&str, &str); 12] = [
    ("opensearch", "Amazon OpenSearch Service"),
    ("s3", "Amazon Simple Storage Service"),
    ("lambda", "AWS Lambda"),
    ("step_functions", "AWS Step Functions"),
    ("cloudwatch", "AmazonCloudWatch"),
    ("sagemaker", "Amazon SageMaker"),
    ("ec2", "Amazon Elastic Compute Cloud - Compute"),
    ("ec2_other", "EC2 - Other"),
    ("rds", "Amazon Relational Database Service"),
    ("elb", "Amazon Elastic Load Balancing"),
    ("vpc", "Amazon Virtual Private Cloud"),
    ("dynamodb", "Amazon DynamoDB"),
];

impl ServiceSelector {
    pub fn matches(&self, service: &str) -> bool {
        match self {
            ServiceSelector::Bedrock => crate::model::usage_type::is_bedrock_service(service),
            ServiceSelector::Exact(name) => name == service,
        }
    }
}

impl ServiceSet {
    pub fn matches(&self, service: &str) -> bool {
        match self {
            ServiceSet::All => true,
            ServiceSet::Only(list) => list.iter().any(|s| s.matches(service)),
        }
    }

    /// Whether some service could be in both sets.
    fn intersects(&self, other: &ServiceSet) -> bool {
        match (self, other) {
            (ServiceSet::All, _) | (_, ServiceSet::All) => true,
            (ServiceSet::Only(a), ServiceSet::Only(b)) => a.iter().any(|x| {
                b.iter().any(|y| match (x, y) {
                    (ServiceSelector::Bedrock, ServiceSelector::Bedrock) => true,
                    (ServiceSelector::Bedrock, ServiceSelector::Exact(s))
                    | (ServiceSelector::Exact(s), ServiceSelector::Bedrock) => {
                        ServiceSelector::Bedrock.matches(s)
                    }
                    (ServiceSelector::Exact(s), ServiceSelector::Exact(t)) => s == t,
                })
            }),
        }
    }
}

/// A `*`-wildcard pattern over usage-type strings (`*Claude*`, `USE1-Nova*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        let parts: Vec<&str> = self.0.split('*').collect();
        if parts.len() == 1 {
            return self.0 == text;
        }
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        if !text.starts_with(first) || text.len() < first.len() + last.len() {
            return false;
        }
        let mut rest = &text[first.len()..];
        for middle in &parts[1..parts.len() - 1] {
            match rest.find(middle) {
                Some(i) => rest = &rest[i + middle.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }

    /// False only when no string can match both: a literal pattern the other does not
    /// match, or literal prefixes (or suffixes) that clash.
    fn may_overlap(&self, other: &Glob) -> bool {
        if !self.0.contains('*') {
            return other.matches(&self.0);
        }
        if !other.0.contains('*') {
            return self.matches(&other.0);
        }
        let prefix = |g: &Glob| g.0.split('*').next().unwrap_or("").to_string();
        let suffix = |g: &Glob| g.0.rsplit('*').next().unwrap_or("").to_string();
        let (pa, pb) = (prefix(self), prefix(other));
        let (sa, sb) = (suffix(self), suffix(other));
        (pa.starts_with(&pb) || pb.starts_with(&pa)) && (sa.ends_with(&sb) || sb.ends_with(&sa))
    }
}

/// One attribution rule: every condition it states must hold for a line to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub tag: Option<(String, String)>,
    pub account: Option<String>,
    pub usage_type: Option<Glob>,
    /// Over the caller's ARN (line-item sources only).
    pub principal: Option<Glob>,
    /// Over the resource id: an application inference profile's ARN.
    pub resource: Option<Glob>,
}

/// How a tag rule names a tag of the calling principal (CUR 2.0's `tags` column) rather
/// than of the resource.
pub const PRINCIPAL_TAG_PREFIX: &str = "iamPrincipal/";

impl Rule {
    fn may_overlap(&self, other: &Rule) -> bool {
        if let (Some((ka, va)), Some((kb, vb))) = (&self.tag, &other.tag) {
            if ka == kb && va != vb {
                return false;
            }
        }
        if let (Some(a), Some(b)) = (&self.account, &other.account) {
            if a != b {
                return false;
            }
        }
        for (a, b) in [
            (&self.usage_type, &other.usage_type),
            (&self.principal, &other.principal),
            (&self.resource, &other.resource),
        ] {
            if let (Some(a), Some(b)) = (a, b) {
                if !a.may_overlap(b) {
                    return false;
                }
            }
        }
        true
    }

    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((k, v)) = &self.tag {
            parts.push(format!("tag {k}={v}"));
        }
        if let Some(a) = &self.account {
            parts.push(format!("account {a}"));
        }
        if let Some(g) = &self.usage_type {
            parts.push(format!("usage type {}", g.as_str()));
        }
        if let Some(g) = &self.principal {
            parts.push(format!("principal {}", g.as_str()));
        }
        if let Some(g) = &self.resource {
            parts.push(format!("resource {}", g.as_str()));
        }
        parts.join(" and ")
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub priority: Option<i64>,
    /// False for batch-shaped work (pipelines, evaluations) that could use batch inference.
    pub interactive: bool,
    pub services: ServiceSet,
    /// The exact service names in `services`, with their keys (`workloads[0].services[1]`).
    pub named_services: Vec<(String, String)>,
    pub rules: Vec<Rule>,
    pub assumptions: Assumptions,
}

#[derive(Debug, Clone)]
pub struct Award {
    pub id: String,
    pub program: Program,
    /// Everything granted: the sum of the tranches.
    pub amount: f64,
    /// What is granted and when, sorted by date: one tranche on `start` unless
    /// `tranches` is configured (top-ups are tranches too).
    pub tranches: Vec<(NaiveDate, f64)>,
    /// The plan line's points, (date, consumed by the end of it), dates and amounts
    /// rising; empty: the straight line from start to expiry.
    pub plan: Vec<(NaiveDate, f64)>,
    pub currency: String,
    pub start: NaiveDate,
    /// The last day the credit applies (inclusive).
    pub expiry: NaiveDate,
    pub workloads: Vec<String>,
    pub services: ServiceSet,
    /// The exact service names in `services`, with their keys.
    pub named_services: Vec<(String, String)>,
    /// Whether Marketplace-billed models count against the award.
    pub marketplace_covered: bool,
    /// The AWS credit (a numeric id from the Billing API) this award is, if known.
    pub credit_id: Option<String>,
    /// With a line-item source (cur, focus, athena): the credit's name on the bill's
    /// Credit lines (their description), whose applied dollars are AWS's view of it.
    pub credit_name: Option<String>,
    /// No alert about this award is sent up to and including this day.
    pub snooze_until: Option<NaiveDate>,
    /// What the award had paid before a day, for an award older than the cost data:
    /// the data's days from that day on are counted on top of it, the days before are
    /// not.
    pub consumed_before: Option<Opening>,
}

/// What `tranches` grant before `day`.
pub(super) fn granted_before(tranches: &[(NaiveDate, f64)], day: NaiveDate) -> f64 {
    tranches
        .iter()
        .filter(|(d, _)| *d < day)
        .fold(0.0, |sum, (_, a)| sum + a)
}

/// An award's balance brought forward: `amount` consumed from its start to the day
/// before `date`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opening {
    pub date: NaiveDate,
    pub amount: f64,
}

impl Award {
    /// Whether AWS's order cannot tell the two apart (the same start, expiry and number
    /// of services), so which pays first is a guess.
    pub fn ties_with(&self, other: &Award) -> bool {
        self.start == other.start
            && self.expiry == other.expiry
            && self.services.breadth() == other.services.breadth()
    }

    /// Granted before `day` (the tranches dated earlier).
    pub fn granted_before(&self, day: NaiveDate) -> f64 {
        granted_before(&self.tranches, day)
    }

    /// What the plan line says should be consumed by the end of `day`, and its rate a
    /// day then: through `plan`'s points, from nothing the day before `start` to
    /// `amount` at `expiry` (a straight line when no plan is configured). The rate is
    /// the mean over the period where the plan is flat.
    pub fn planned(&self, day: NaiveDate) -> (f64, f64) {
        let before = self.start.pred_opt().unwrap_or(self.start);
        let mut points = vec![(before, 0.0)];
        points.extend(self.plan.iter().copied());
        if points.last().is_some_and(|(d, _)| *d < self.expiry) {
            points.push((self.expiry, self.amount));
        }
        let mean = self.amount / ((self.expiry - before).num_days().max(1) as f64);
        let rate = |a: (NaiveDate, f64), b: (NaiveDate, f64)| {
            let r = (b.1 - a.1) / ((b.0 - a.0).num_days().max(1) as f64);
            if r > 0.0 {
                r
            } else {
                mean
            }
        };
        if day <= before {
            return (0.0, rate(points[0], points[1.min(points.len() - 1)]));
        }
        for w in points.windows(2) {
            let (a, b) = (w[0], w[1]);
            if day <= b.0 {
                let r = (b.1 - a.1) / ((b.0 - a.0).num_days().max(1) as f64);
                return (a.1 + r * (day - a.0).num_days() as f64, rate(a, b));
            }
        }
        let last = points[points.len() - 1];
        (last.1, mean)
    }

    /// An award of program `other` paying every service (Marketplace not covered) for
    /// `workloads`, granted in `tranches` (sorted here); for the model's tests and the
    /// backtest.
    pub fn granted(
        id: &str,
        start: NaiveDate,
        expiry: NaiveDate,
        mut tranches: Vec<(NaiveDate, f64)>,
        workloads: &[&str],
    ) -> Award {
        tranches.sort_by_key(|(d, _)| *d);
        Award {
            id: id.into(),
            program: Program::Other,
            amount: tranches.iter().map(|(_, a)| a).sum(),
            tranches,
            plan: Vec::new(),
            currency: "USD".into(),
            start,
            expiry,
            workloads: workloads.iter().map(|w| w.to_string()).collect(),
            services: ServiceSet::All,
            named_services: vec![],
            marketplace_covered: false,
            credit_id: None,
            credit_name: None,
            snooze_until: None,
            consumed_before: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// A recording of Cost Explorer responses (see fixtures/README.md).
    Fixtures { path: PathBuf },
    /// Live Cost Explorer and Billing, through the fetch cache in the state folder.
    Aws(AwsSource),
    /// The bill's line items: a CUR 2.0 or FOCUS export.
    Export(ExportSource),
    /// The organisation's CUR 2.0 table in Athena.
    Athena(AthenaSource),
}

impl SourceConfig {
    /// The `kind` key's value.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Fixtures { .. } => "fixtures",
            SourceConfig::Aws(_) => "aws",
            SourceConfig::Export(e) => e.format.as_str(),
            SourceConfig::Athena(_) => "athena",
        }
    }
}

/// `[source]` with `kind = "athena"`.
#[derive(Debug, Clone, PartialEq)]
pub struct AthenaSource {
    pub database: String,
    pub table: String,
    pub workgroup: String,
    /// Where Athena writes results (`s3://...`); None: the workgroup's own.
    pub output_location: Option<String>,
    /// The most a run may scan, in bytes; None: no cap.
    pub max_scanned_bytes: Option<u64>,
    /// How to reach AWS.
    pub aws: AwsSource,
}

/// Where an export is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportLocation {
    /// The export's folder (its `data/` and `metadata/`), a folder of data files, or one
    /// data file.
    Local(PathBuf),
    /// The export in S3, copied into the state folder before it is read.
    S3(S3Location),
}

/// Where an export lives in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The export's key prefix, ending in `/` (empty: the bucket's root).
    pub prefix: String,
}

impl S3Location {
    /// `s3://bucket/prefix/export/` read; Err(why) when it is not such a URL.
    pub fn parse(url: &str) -> Result<S3Location, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(format!(
                "{bucket:?} in {url:?} is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)"
            ));
        }
        let mut prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// The local copy's folder for this export under `state`.
    pub fn local(&self, state: &std::path::Path) -> PathBuf {
        state
            .join("exports")
            .join(crate::file_safe(&self.bucket))
            .join(&self.prefix)
    }
}

/// `[source]` with `kind = "cur"` or `"focus"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSource {
    pub format: crate::model::line::ExportFormat,
    pub location: ExportLocation,
    /// How to reach AWS (S3).
    pub aws: AwsSource,
}

/// A number of seconds from the config as a duration, clamped to what a duration can
/// hold (validation keeps every such key far below that).
pub fn seconds(s: f64) -> chrono::Duration {
    let millis = (s * 1000.0).round();
    if !millis.is_finite() || millis <= 0.0 {
        return chrono::Duration::zero();
    }
    chrono::Duration::try_milliseconds(millis as i64).unwrap_or(chrono::Duration::MAX)
}

/// The settings of `[source]` left out; also what SNS channels use with a recording
/// source (the default credential chain).
impl Default for AwsSource {
    fn default() -> Self {
        AwsSource {
            profile: None,
            region: None,
            max_attempts: 3,
            connect_timeout_seconds: 5.0,
            attempt_timeout_seconds: 20.0,
            operation_timeout_seconds: 60.0,
            min_refresh_hours: 6.0,
            recent_days: 3,
            max_requests: None,
            account_id: None,
        }
    }
}

impl AwsSource {
    /// `min_refresh_hours` as a duration.
    pub(crate) fn min_refresh(&self) -> chrono::Duration {
        seconds(self.min_refresh_hours * 3600.0)
    }
}

impl AlertConfig {
    /// `repeat_interval_hours` as a duration.
    pub(crate) fn repeat_interval(&self) -> chrono::Duration {
        seconds(self.repeat_interval_hours * 3600.0)
    }
}

impl EmailConfig {
    /// `retry_base_minutes` as a duration.
    pub(crate) fn retry_base(&self) -> chrono::Duration {
        seconds(self.retry_base_minutes * 60.0)
    }

    /// `retry_max_hours` as a duration.
    pub(crate) fn retry_max(&self) -> chrono::Duration {
        seconds(self.retry_max_hours * 3600.0)
    }
}

/// `[source]` with `kind = "aws"`.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSource {
    /// A named profile; `--profile` overrides it. None: the default chain.
    pub profile: Option<String>,
    /// None: the chain's region, else us-east-1.
    pub region: Option<String>,
    /// Attempts per request, retries included.
    pub max_attempts: u32,
    pub connect_timeout_seconds: f64,
    pub attempt_timeout_seconds: f64,
    pub operation_timeout_seconds: f64,
    /// Days that can still change are fetched again only when older than this.
    pub min_refresh_hours: f64,
    /// The last this-many days are always treated as changeable.
    pub recent_days: i64,
    /// Most Cost Explorer requests one run may make; `--max-requests` overrides it.
    pub max_requests: Option<u64>,
    /// The 12-digit account whose credits the Billing API is asked for. None: credits
    /// are not read.
    pub account_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub from: String,
    pub transport: TransportConfig,
    /// Days between digests to finance; 0 sends none.
    pub digest_every_days: i64,
    pub retry_base_minutes: f64,
    pub retry_max_hours: f64,
    pub max_attempts: u32,
    /// Finished deliveries older than this many days are pruned from the outbox.
    pub prune_after_days: i64,
}

/// How messages leave the outbox.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportConfig {
    /// Written as `.eml` files into a folder.
    File {
        outbox: PathBuf,
    },
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// STARTTLS, required (the default).
    StartTls,
    /// Implicit TLS, usually port 465.
    Tls,
    /// No encryption: only to a loopback address, only with `allow_plaintext = true`.
    Plain,
}

/// Where the SMTP password is read from at send time. Never the config file itself.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// An extra CA certificate (PEM) trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<SecretSource>,
    pub connect_timeout_seconds: f64,
    pub command_timeout_seconds: f64,
}

#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub recipients: Vec<String>,
    /// Consumed-percentage thresholds, ascending.
    pub thresholds: Vec<f64>,
    pub slack_days: i64,
    /// Drift between modelled and AWS-reported remaining, as a percentage of the award,
    /// above which an alert goes out.
    pub drift_tolerance_percent: f64,
    /// An alert still in force is sent again after this many hours.
    pub repeat_interval_hours: f64,
    /// A spike is worth an alert only this many dollars above the day's expected spend,
    pub spike_min_amount: f64,
    /// and this share of it (0.5: half again the expected day).
    pub spike_min_share: f64,
}

/// `alerts.spike_min_amount` unless configured.
pub const SPIKE_MIN_AMOUNT: f64 = 50.0;
/// `alerts.spike_min_share` unless configured.
pub const SPIKE_MIN_SHARE: f64 = 0.5;

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    pub burn_window_days: i64,
    /// The order awards that may pay the same spend are drawn in.
    pub drawdown_order: DrawdownOrder,
}

/// The order credits are drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawdownOrder {
    /// AWS's: the soonest expiry first, then the fewest eligible services, then the
    /// oldest; the order they are listed in breaks a remaining tie.
    Aws,
    /// The order the awards are listed in the file (where an award's terms differ).
    Listed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HintConfig {
    /// The organisation's share of uncached input that is a stable, cacheable prefix,
    /// where a workload states none (None: the hints' default range).
    pub cacheable_share: Option<f64>,
    /// The organisation's share of a model's traffic routine enough for a smaller
    /// model, where a workload states none (None: the hints' default range).
    pub routine_share: Option<f64>,
    /// Hints saving less than this a month are not shown.
    pub min_monthly_saving: f64,
    /// Days after `as_of` a lever is taken to start saving, for its runway effect.
    pub start_after_days: i64,
}

/// `[plan]`: how `creditburn plan` proposes the next awards, and when it warns.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    /// The `apply_by` alert goes out this many days before a program's apply-by date.
    pub alert_days_before: i64,
    /// Days from application to credits, per program (the defaults, `Program::lead_days`,
    /// overridden by `lead_days`).
    pub lead_days: Vec<(Program, i64)>,
    /// Programs never proposed (not eligible, or not wanted).
    pub exclude: Vec<Program>,
    /// Whether the ask is sized with the hints' levers applied (as an application
    /// should be: a naive uncached projection invites a downgrade).
    pub assume_levers: bool,
}

impl PlanConfig {
    /// Days from application to credits for `program`.
    pub fn lead_days(&self, program: Program) -> i64 {
        self.lead_days
            .iter()
            .find(|(p, _)| *p == program)
            .map_or(program.terms().map_or(0, |t| t.lead_days), |(_, d)| *d)
    }
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            alert_days_before: raw::default_apply_alert_days(),
            lead_days: Vec::new(),
            exclude: Vec::new(),
            assume_levers: true,
        }
    }
}

/// What a workload's owner knows of it that the bill cannot show, each a share from 0 to
/// 1 (None: what the bill shows, else the hints' default range).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Assumptions {
    /// Of its on-demand tokens, the share nobody waits for (batch, Flex).
    pub batchable_share: Option<f64>,
    /// Of its uncached input, the share that is a stable prefix.
    pub cacheable_share: Option<f64>,
    /// Of its traffic on a model, the share routine enough for a smaller model.
    pub routine_share: Option<f64>,
}

/// `[pricing]`: a table of one's own layered over the shipped one, and overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PricingConfig {
    pub table: Option<PathBuf>,
    pub overrides: Vec<crate::pricing::Override>,
}

/// A validated configuration. Workloads are in attribution order: the first that matches
/// a line takes it.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: SourceConfig,
    pub state_path: PathBuf,
    pub email: EmailConfig,
    pub alerts: AlertConfig,
    pub analysis: AnalysisConfig,
    pub hints: HintConfig,
    pub plan: PlanConfig,
    pub pricing: PricingConfig,
    /// The prices the hints and the price check use: the shipped table, the table of
    /// one's own over it, the overrides over both.
    pub prices: std::sync::Arc<crate::pricing::PriceTable>,
    pub workloads: Vec<Workload>,
    pub awards: Vec<Award>,
    /// When `creditburn daemon` runs; None when the file has no `[schedule]`.
    pub schedule: Option<ScheduleConfig>,
    /// Where the daemon serves `/health` and `/metrics`, if anywhere.
    pub listen: Option<std::net::SocketAddr>,
    /// Where alerts go besides email, each with its route.
    pub channels: Vec<Channel>,
    /// The bearer token `/` and `/metrics` ask for (`[daemon] token_env` or
    /// `token_file`); None: they are open (the listener stays on loopback by default).
    pub daemon_token: Option<SecretSource>,
    /// Where people reach the status page (`[daemon] public_url`): Slack links to it.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub schedule: crate::config::schedule::Schedule,
    pub jitter_seconds: u64,
}

impl Config {
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// Whether any rule names an account: only then does the cost table split each
    /// line's dollars between accounts (and the plan ask for the joint slices that make
    /// the split exact).
    pub fn rules_use_accounts(&self) -> bool {
        self.workloads
            .iter()
            .flat_map(|w| &w.rules)
            .any(|r| r.account.is_some())
    }

    /// The globs the rules put on the principal and on the resource, in attribution
    /// order: what a line-item source groups those columns by.
    pub fn rule_globs(&self) -> (Vec<Glob>, Vec<Glob>) {
        let rules = || self.workloads.iter().flat_map(|w| &w.rules);
        (
            rules().filter_map(|r| r.principal.clone()).collect(),
            rules().filter_map(|r| r.resource.clone()).collect(),
        )
    }

    /// The tag keys the rules use, sorted, each once.
    pub fn rule_tag_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .workloads
            .iter()
            .flat_map(|w| &w.rules)
            .filter_map(|r| r.tag.as_ref().map(|(k, _)| k.as_str()))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The currency every award is in (validation makes them agree).
    pub fn currency(&self) -> &str {
        self.awards
            .first()
            .map(|a| a.currency.as_str())
            .unwrap_or("USD")
    }
}

// ---- bounds: every number a run computes with stays far from overflow --------------------

/// The largest award amount accepted, in USD.
pub(crate) const MAX_AMOUNT: f64 = 1e9;
/// The longest award, start to expiry.
pub(crate) const MAX_AWARD_DAYS: i64 = 3660;
pub(crate) use crate::model::page::{MAX_YEAR, MIN_YEAR};
pub(crate) const MAX_SLACK_DAYS: i64 = 365;
pub(crate) const MAX_REPEAT_HOURS: f64 = 8760.0;
pub(crate) const MAX_RETRY_BASE_MINUTES: f64 = 1440.0;
pub(crate) const MAX_RETRY_MAX_HOURS: f64 = 720.0;
pub(crate) const MAX_SEND_ATTEMPTS: u32 = 1000;
pub(crate) const MAX_DIGEST_DAYS: i64 = 365;
pub(crate) const MAX_START_AFTER_DAYS: i64 = 365;
/// The most creditburn reads of a price table.
pub(crate) const MAX_PRICE_TABLE_FILE: u64 = 16 << 20;
pub(crate) const MAX_PRUNE_DAYS: i64 = 3660;

// ---- loading and validation ----------------------------------------------------------

/// Reads, parses and validates the file at `path`. Relative paths inside it are resolved
/// against the file's own folder.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let fail = |key: &str, message: String| ConfigError {
        path: path.to_path_buf(),
        problems: vec![Problem {
            key: key.to_string(),
            message,
        }],
    };
    let text = crate::read_bounded(path, crate::MAX_CONFIG_FILE)
        .and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text")
            })
        })
        .map_err(|e| {
            fail(
                "",
                format!(
                    "cannot read the config ({e}); pass --config PATH, or start from a copy of config/example.toml"
                ),
            )
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut config = parse(&text, base).map_err(|mut problems| {
        problems.extend(own_table_problems(&text, base));
        ConfigError {
            path: path.to_path_buf(),
            problems,
        }
    })?;
    load_prices(&mut config).map_err(|problems| ConfigError {
        path: path.to_path_buf(),
        problems,
    })?;
    Ok(config)
}

/// The shipped table, `own` over it, the overrides over both; problems added to `p`.
fn resolve_prices(
    own: Option<&crate::pricing::PriceTable>,
    overrides: &[crate::pricing::Override],
    p: &mut Problems,
) -> crate::pricing::PriceTable {
    let mut table = crate::pricing::PriceTable::shipped().clone();
    if let Some(own) = own {
        table.layer(own);
        for q in table.dangling_moves() {
            p.add("pricing.table", format!("model {}: {}", q.key, q.message));
        }
    }
    for q in table.apply(overrides) {
        p.add(q.key, q.message);
    }
    table
}

/// Reads `[pricing] table` and resolves the prices with it (the overrides over it).
fn load_prices(config: &mut Config) -> Result<(), Vec<Problem>> {
    let Some(file) = config.pricing.table.clone() else {
        return Ok(());
    };
    let own = own_table(&file)?;
    let mut p = Problems(Vec::new());
    let prices = resolve_prices(Some(&own), &config.pricing.overrides, &mut p);
    if !p.0.is_empty() {
        return Err(p.0);
    }
    config.prices = std::sync::Arc::new(prices);
    Ok(())
}

/// A table of one's own, its problems keyed `pricing.table` and naming the file.
fn own_table(file: &Path) -> Result<crate::pricing::PriceTable, Vec<Problem>> {
    let fail = |message: String| {
        vec![Problem {
            key: "pricing.table".into(),
            message,
        }]
    };
    let text = crate::read_bounded(file, MAX_PRICE_TABLE_FILE)
        .and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text")
            })
        })
        .map_err(|e| {
            fail(format!(
                "{}: cannot read the price table ({e}); `creditburn pricing import` makes one from the AWS Price List",
                file.display()
            ))
        })?;
    crate::pricing::PriceTable::parse(&text).map_err(|problems| {
        problems
            .into_iter()
            .map(|q| Problem {
                key: "pricing.table".into(),
                message: format!(
                    "{}: {}{}",
                    file.display(),
                    if q.key.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", q.key)
                    },
                    q.message
                ),
            })
            .collect()
    })
}

/// The problems of `[pricing] table` when the rest of the file has problems too (so
/// every problem is named at once): the table is read if the key names one.
fn own_table_problems(text: &str, base: &Path) -> Vec<Problem> {
    let table = toml::from_str::<toml::Table>(text).ok().and_then(|t| {
        t.get("pricing")?
            .get("table")?
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(|s| tidy(&base.join(s)))
    });
    table.map_or_else(Vec::new, |file| own_table(&file).err().unwrap_or_default())
}

/// Parses and validates configuration text; `base` is the folder relative paths start from.
pub fn parse(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
    // Only a syntax error stops the listing: unknown keys are collected (and dropped),
    // then the sections are read and validated, every problem named.
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        vec![Problem {
            key: String::new(),
            message: one_line(&e.to_string()),
        }]
    })?;
    let mut problems = keys::take_unknown(&mut table, &shape(), "");
    match toml::Value::Table(table.clone()).try_into::<RawConfig>() {
        Ok(raw) => match validate(raw, base) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        },
        Err(e) => {
            let sections = section_problems(&table);
            if sections.is_empty() {
                problems.push(Problem {
                    key: String::new(),
                    message: one_line(&e.to_string()),
                });
            }
            problems.extend(sections);
            Err(problems)
        }
    }
}

/// The tables the file may hold and the keys of each, from the `Raw*` structs.
fn shape() -> keys::Shape {
    use keys::{fields_of, Child, Shape};
    fn leaf(fields: &'static [&'static str]) -> Shape {
        Shape {
            fields,
            children: Vec::new(),
        }
    }
    Shape {
        fields: fields_of::<RawConfig>(),
        children: vec![
            ("source", Child::Table(leaf(fields_of::<RawSource>()))),
            ("state", Child::Table(leaf(fields_of::<RawState>()))),
            (
                "email",
                Child::Table(Shape {
                    fields: fields_of::<RawEmail>(),
                    children: vec![("smtp", Child::Table(leaf(fields_of::<RawSmtp>())))],
                }),
            ),
            ("alerts", Child::Table(leaf(fields_of::<RawAlerts>()))),
            ("analysis", Child::Table(leaf(fields_of::<RawAnalysis>()))),
            ("hints", Child::Table(leaf(fields_of::<RawHints>()))),
            ("plan", Child::Table(leaf(fields_of::<RawPlan>()))),
            (
                "pricing",
                Child::Table(Shape {
                    fields: fields_of::<RawPricing>(),
                    children: vec![(
                        "overrides",
                        Child::Array {
                            name: None,
                            shape: leaf(fields_of::<crate::pricing::RawOverride>()),
                        },
                    )],
                }),
            ),
            ("schedule", Child::Table(leaf(fields_of::<RawSchedule>()))),
            ("daemon", Child::Table(leaf(fields_of::<RawDaemon>()))),
            (
                "workloads",
                Child::Array {
                    name: None,
                    shape: Shape {
                        fields: fields_of::<RawWorkload>(),
                        children: vec![(
                            "rules",
                            Child::Array {
                                name: None,
                                shape: leaf(fields_of::<RawRule>()),
                            },
                        )],
                    },
                },
            ),
            (
                "awards",
                Child::Array {
                    name: Some("id"),
                    shape: Shape {
                        fields: fields_of::<RawAward>(),
                        children: vec![
                            (
                                "tranches",
                                Child::Array {
                                    name: None,
                                    shape: leaf(fields_of::<RawTranche>()),
                                },
                            ),
                            (
                                "plan",
                                Child::Array {
                                    name: None,
                                    shape: leaf(fields_of::<RawTranche>()),
                                },
                            ),
                        ],
                    },
                },
            ),
        ],
    }
}

/// When the file as a whole cannot be read into the `Raw*` structs (a value of the
/// wrong type, a required key missing), each section is read on its own so that every
/// section's problem is named, not only the first.
fn section_problems(table: &toml::Table) -> Vec<Problem> {
    fn read<T: serde::de::DeserializeOwned>(
        key: String,
        value: &toml::Value,
        out: &mut Vec<Problem>,
    ) {
        if let Err(e) = value.clone().try_into::<T>() {
            out.push(Problem {
                key,
                message: one_line(&e.to_string()),
            });
        }
    }
    let mut out = Vec::new();
    for (name, required) in [
        ("source", true),
        ("state", true),
        ("email", true),
        ("alerts", true),
    ] {
        if required && !table.contains_key(name) {
            out.push(Problem {
                key: name.to_string(),
                message: format!("is missing; add a [{name}] table (see config/example.toml)"),
            });
        }
    }
    for (name, value) in table {
        let key = name.clone();
        match name.as_str() {
            "source" => read::<RawSource>(key, value, &mut out),
            "state" => read::<RawState>(key, value, &mut out),
            "email" => read::<RawEmail>(key, value, &mut out),
            "alerts" => read::<RawAlerts>(key, value, &mut out),
            "analysis" => read::<RawAnalysis>(key, value, &mut out),
            "hints" => read::<RawHints>(key, value, &mut out),
            "plan" => read::<RawPlan>(key, value, &mut out),
            "pricing" => read::<RawPricing>(key, value, &mut out),
            "schedule" => read::<RawSchedule>(key, value, &mut out),
            "daemon" => read::<RawDaemon>(key, value, &mut out),
            "workloads" | "awards" => match value.as_array() {
                None => out.push(Problem {
                    key,
                    message: format!("must be an array of tables ([[{name}]])"),
                }),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if name == "awards" {
                            read::<RawAward>(
                                award_key(i, item.get("id").and_then(|v| v.as_str())),
                                item,
                                &mut out,
                            );
                        } else {
                            read::<RawWorkload>(format!("workloads[{i}]"), item, &mut out);
                        }
                    }
                }
            },
            _ => {}
        }
    }
    out
}

/// How an award is named in a problem: by its id (`awards["poc"]`), or by its index
/// when it has none.
fn award_key(index: usize, id: Option<&str>) -> String {
    match id.filter(|id| !id.trim().is_empty()) {
        Some(id) => format!("awards[{id:?}]"),
        None => format!("awards[{index}]"),
    }
}

/// Removes `.` and `dir/..` pairs lexically, so messages say `outbox`, not `config/../outbox`.
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// A serde or TOML message on one line, in words rather than Rust's type names.
fn one_line(s: &str) -> String {
    let mut line = crate::model::text::one_line(s);
    for (rust, words) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected a boolean", "expected true or false"),
    ] {
        line = line.replace(rust, words);
    }
    line
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    // Only the strict YYYY-MM-DD form: "2026-1-5" or "05/01/2026" are refused.
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn looks_like_address(s: &str) -> bool {
    // "Name <a@b>" or "a@b"; lettre does the full parse at delivery.
    let addr = match (s.find('<'), s.rfind('>')) {
        (Some(i), Some(j)) if i < j => &s[i + 1..j],
        _ => s,
    };
    let mut parts = addr.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !addr.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

/// Parses a `services` list. Aliases are lowercase and service names are matched exactly
/// as AWS spells them, so an entry that differs from either only by case (or by white
/// space) is a problem rather than a name that silently matches nothing. Returns the set
/// and the exact names with their keys, so the analysis can warn about a name the data
/// never shows.
fn parse_services(
    values: &[String],
    key: &str,
    problems: &mut Problems,
) -> (ServiceSet, Vec<(String, String)>) {
    let mut list = Vec::new();
    let mut named = Vec::new();
    let known_names = || {
        SERVICE_ALIASES
            .iter()
            .map(|(_, name)| *name)
            .chain(crate::model::usage_type::BEDROCK_SERVICES)
    };
    for (i, v) in values.iter().enumerate() {
        let entry_key = format!("{key}[{i}]");
        let lower = v.to_lowercase();
        match v.as_str() {
            "all" if values.len() > 1 => {
                problems.add(
                    entry_key,
                    "\"all\" stands alone: it covers every service, so the other entries say nothing; keep only \"all\", or list the services without it",
                );
                return (ServiceSet::All, Vec::new());
            }
            "all" => return (ServiceSet::All, Vec::new()),
            "bedrock" => list.push(ServiceSelector::Bedrock),
            _ if v.trim().is_empty() => problems.add(entry_key, "service name is empty"),
            _ if v.trim() != v || v.chars().any(char::is_control) => problems.add(
                entry_key,
                format!("{v:?} has leading or trailing white space or a control character; AWS's service names have none"),
            ),
            alias if SERVICE_ALIASES.iter().any(|(a, _)| *a == alias) => {
                let name = SERVICE_ALIASES
                    .iter()
                    .find(|(a, _)| *a == alias)
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default();
                list.push(ServiceSelector::Exact(name));
            }
            _ if lower == "all"
                || lower == "bedrock"
                || SERVICE_ALIASES.iter().any(|(a, _)| *a == lower) =>
            {
                problems.add(
                    entry_key,
                    format!("{v:?} differs from the alias {lower:?} only by case; aliases are lowercase"),
                )
            }
            _ if known_names().any(|n| n.to_lowercase() == lower && n != v) => {
                let name = known_names()
                    .find(|n| n.to_lowercase() == lower)
                    .unwrap_or_default();
                problems.add(
                    entry_key,
                    format!("{v:?} differs from the Cost Explorer service {name:?} only by case; service names are matched exactly"),
                )
            }
            alias
                if alias
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                let known: Vec<&str> = SERVICE_ALIASES.iter().map(|(a, _)| *a).collect();
                problems.add(
                    entry_key,
                    format!(
                        "unknown service {v:?}; use all, bedrock, {} or an exact Cost Explorer service name",
                        known.join(", ")
                    ),
                )
            }
            exact => {
                list.push(ServiceSelector::Exact(exact.to_string()));
                named.push((entry_key, exact.to_string()));
            }
        }
    }
    if list.is_empty() && values.is_empty() {
        problems.add(key, "is empty; leave it out to count every service");
    }
    (ServiceSet::Only(list), named)
}

fn validate(raw: RawConfig, base: &Path) -> Result<Config, Vec<Problem>> {
    use check::*;
    let mut p = Problems(Vec::new());
    let resolve = |s: &str| tidy(&base.join(s));
    let source = check_source(&raw.source, &resolve, &mut p);
    if raw.state.path.trim().is_empty() {
        p.add("state.path", "is empty; give a folder for the state store");
    }
    let email = check_email(&raw.email, &resolve, &mut p);
    let alerts = check_alerts(&raw.alerts, &mut p);
    let analysis = check_analysis(&raw.analysis, &mut p);
    let hints = check_hints(&raw.hints, &mut p);
    let plan = check_plan(&raw.plan, &mut p);
    let pricing = check_pricing(&raw.pricing, &resolve, &mut p);
    // With a table of one's own, `load` reads it and resolves the prices then.
    let prices = match &pricing.table {
        Some(_) => crate::pricing::PriceTable::shipped().clone(),
        None => resolve_prices(None, &pricing.overrides, &mut p),
    };
    let workloads = check_workloads(&raw.workloads, &mut p);
    check_rules_for_source(&workloads, &source, &mut p);
    let awards = check_awards(&raw.awards, &raw.workloads, analysis.drawdown_order, &mut p);
    check_credit_names(&awards, &source, &mut p);
    let (schedule, listen) = check_schedule(raw.schedule.as_ref(), raw.daemon.as_ref(), &mut p);
    let (daemon_token, public_url) = check_daemon(raw.daemon.as_ref(), &resolve, &mut p);
    let channels = channels::check_channels(
        &raw.channels,
        &raw.awards.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        &raw.workloads
            .iter()
            .map(|w| w.name.clone())
            .collect::<Vec<_>>(),
        &resolve,
        &mut p,
    );
    if !p.0.is_empty() {
        return Err(p.0);
    }
    Ok(Config {
        source,
        state_path: resolve(&raw.state.path),
        email,
        alerts,
        analysis,
        hints,
        plan,
        pricing,
        prices: std::sync::Arc::new(prices),
        workloads,
        awards,
        schedule,
        listen,
        channels,
        daemon_token,
        public_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        let cases = [
            ("*Claude*", "USE1-Claude4.6Sonnet-input-tokens", true),
            ("USE1-Nova*", "USE1-NovaLite-output-tokens", true),
            ("USE1-Nova*", "USW2-NovaLite-output-tokens", false),
            ("*-input-tokens", "USE1-NovaLite-input-tokens", true),
            ("*-input-tokens", "USE1-NovaLite-input-tokens-batch", false),
            ("USE1-*-tokens", "USE1-tokens", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, text, expect) in cases {
            assert_eq!(
                Glob(pattern.into()).matches(text),
                expect,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn glob_overlap() {
        let cases = [
            ("USE1-Nova*", "USE1-Claude*", false),
            ("*Claude*", "USE1-Claude*-input-tokens", true),
            ("*-input-tokens", "*-output-tokens", false),
            ("USE1-*", "*-batch", true),
            ("USE1-NovaLite-input-tokens", "USE1-Nova*", true),
            ("USE1-NovaLite-input-tokens", "USE1-Claude*", false),
        ];
        for (a, b, expect) in cases {
            let (a, b) = (Glob(a.into()), Glob(b.into()));
            assert_eq!(a.may_overlap(&b), expect, "{a:?} vs {b:?}");
            assert_eq!(b.may_overlap(&a), expect, "{b:?} vs {a:?}");
        }
    }
}

#[cfg(test)]
mod s3_location_tests {
    use super::S3Location;

    #[test]
    fn an_export_url_is_its_bucket_and_prefix() {
        assert_eq!(
            S3Location::parse("s3://example-cur-bucket/cur/creditburn-cur/").unwrap(),
            S3Location {
                bucket: "example-cur-bucket".into(),
                prefix: "cur/creditburn-cur/".into()
            }
        );
        assert_eq!(S3Location::parse("s3://bucket.one/e").unwrap().prefix, "e/");
        assert_eq!(S3Location::parse("s3://bucket").unwrap().prefix, "");
        for bad in [
            "s3://",
            "s3://Bucket/x",
            "s3://ab/x",
            "https://b/x",
            "s3://b_c/x",
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
