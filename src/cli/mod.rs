//! The command line: argument parsing, the order of the steps, and exit codes. This is
//! the imperative shell around the pure analysis: it reads the config and the data,
//! passes `as_of` in, and writes what comes out.

/// `say` with `format!` arguments.
macro_rules! say {
    ($($arg:tt)*) => { say(&format!($($arg)*)) };
}

mod apply_plan;
mod check_config;
mod credits;
mod daemon;
mod export;
mod iam_policy;
mod load;
mod pricing;
mod progress;
mod record;
mod run;
mod send_test;
mod what_if;

use load::prepare;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use chrono::{DateTime, Utc};

use crate::analyse::report::Report;
use crate::analyse::report::SourceStatus;
use crate::analyse::table::{self, CostTable, TableError};
use crate::config::{self, Config, ConfigError, SourceConfig};
use crate::deliver::{self, DeliverError};
use crate::model::credits::AwsCredits;
use crate::model::page::CostPage;
use crate::model::text::count;
use crate::notify::email;
use crate::notify::state as notify;
use crate::source::aws;
use crate::source::plan;
use crate::source::recording::{self, SourceError};
use crate::store::cache::{Cache, Freshness};
use crate::store::daemon_state::DaemonState;
use crate::store::outbox::{Outbox, Retry};
use crate::store::StoreError;

/// Exit codes (also listed in the README), from sysexits.h where one fits.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something unexpected inside creditburn.
    pub(crate) const FAILURE: u8 = 1;
    /// Bad arguments (clap's own code).
    pub(crate) const USAGE: u8 = 2;
    /// The cost data is malformed, truncated or empty.
    pub(crate) const DATA: u8 = 65;
    /// A file the config names does not exist.
    pub(crate) const NO_INPUT: u8 = 66;
    /// The outbox could not be written.
    pub(crate) const CANT_CREATE: u8 = 73;
    /// Some message could not be delivered yet; it stays queued and is retried.
    pub(crate) const TEMPFAIL: u8 = 75;
    /// A file could not be read.
    pub(crate) const IO: u8 = 74;
    /// No usable cost data: the fetch failed and the cache holds nothing to fall back on.
    pub(crate) const UNAVAILABLE: u8 = 69;
    /// The configuration is invalid.
    pub const CONFIG: u8 = 78;
}

#[derive(Debug, Parser)]
#[command(
    name = "creditburn",
    version,
    about = "How your AWS credit awards are burning: consumed, runway, projected exhaustion or forfeit, and alerts for finance",
    after_help = "Exit codes: 0 ok, 1 internal error, 2 bad arguments, 65 malformed or empty cost data, 66 missing input file, 69 no usable cost data (fetch failed, cache empty), 73 outbox or state store not writable, 75 a message not delivered yet (queued for retry), 74 read error, 78 invalid configuration."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The configuration file (see config/example.toml).
    #[arg(long, value_name = "PATH", default_value = "creditburn.toml")]
    pub config: PathBuf,
    /// The day to report as of (YYYY-MM-DD). Defaults to the last day a recording covers,
    /// or today (UTC) for live data.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub as_of: Option<NaiveDate>,
    /// The AWS profile to use (live source only); overrides source.profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// At most this many Cost Explorer requests ($0.01 each) in this run (live source
    /// only); the rest comes from the cache. Overrides source.max_requests.
    #[arg(long, value_name = "N")]
    pub max_requests: Option<u64>,
    /// How logs are written to stderr: `text` for people, `json` (one object a line) for
    /// log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Set by the daemon for the runs it starts: it holds the state lock for them.
    #[arg(long, hide = true)]
    pub under_daemon: bool,
    /// The current time (RFC 3339), for tests and replaying a past day; default: the clock.
    #[arg(long, value_name = "TIME", hide = true, value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One pass: load the data, analyse it, decide alerts and write them to the outbox.
    Run {
        #[command(flatten)]
        common: Common,
    },
    /// Print the status of every award and workload without alerting.
    Report {
        #[command(flatten)]
        common: Common,
        /// `table` fits an 80-column terminal; `json` is a stable contract; `html` is the
        /// status page (what the daemon serves on `/`), self-contained.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Write to this file (replaced whole) instead of standard output.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// List the account's credits per the Billing API (live source with
    /// source.account_id), with the award that names each.
    Credits {
        #[command(flatten)]
        common: Common,
        /// Print `[[awards]]` entries, amounts and dates filled in, for the credits no
        /// award names yet.
        #[arg(long)]
        adopt: bool,
    },
    /// Fetch the query plan live and write it as a recording that `source.kind =
    /// "fixtures"` replays (Cost Explorer requests are charged, $0.01 each).
    Record {
        #[command(flatten)]
        common: Common,
        /// The folder to write the recording into (created; must not hold one already).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace account ids and tag values, consistently; the replacements are printed
        /// to stderr, not written.
        #[arg(long)]
        scrub: bool,
    },
    /// Run on the `[schedule]` of the config until SIGTERM or SIGINT: one pass like
    /// `run` at each slot, one catch-up pass after downtime, never two at once.
    Daemon {
        #[command(flatten)]
        common: Common,
        /// Also run once right away at start.
        #[arg(long)]
        run_at_start: bool,
    },
    /// Send a test message now, to check a route end to end: by email to the alert
    /// recipients through the configured transport, or with --channel to that channel.
    #[command(alias = "send-test-email")]
    SendTest {
        #[command(flatten)]
        common: Common,
        /// The `[[channels]]` entry to send to, by its name; default: email.
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// Validate the configuration and report every problem at once.
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
    /// Draw a hint's lever (or any lever on a workload), a planned launch or an award
    /// applied for through the burn model: every award before and after, without any
    /// AWS request or write.
    ///
    /// Prints every award's exhaustion date and unused balance at expiry, and when the
    /// account starts paying out of pocket, before and after the lever, each with its
    /// P10-P90 range. A live source's cache is read; nothing is fetched or written.
    #[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["hint", "lever", "launch", "award"])))]
    WhatIf {
        #[command(flatten)]
        common: Common,
        /// The hint's number in the report (`creditburn report` lists them).
        #[arg(long, value_name = "N", conflicts_with_all = ["lever", "workload"])]
        hint: Option<usize>,
        /// A lever (batch_inference, prompt_caching, smaller_model, newer_model,
        /// global_routing, flex_tier, priority_premium, latency_optimized,
        /// long_context, provisioned_throughput), or `all` for every lever together.
        #[arg(long, value_name = "KIND", requires = "workload")]
        lever: Option<String>,
        /// The workload the lever applies to.
        #[arg(long, value_name = "NAME")]
        workload: Option<String>,
        /// The first day the lever saves (after the last day of data); default
        /// hints.start_after_days after --as-of.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        from: Option<NaiveDate>,
        /// A planned launch or a new workload: spend added every day from a day after
        /// the data, on every spend path (`service=` names the service of a new
        /// workload, default Amazon Bedrock). Repeatable.
        #[arg(long, value_name = "workload=NAME,from=DATE,daily=AMOUNT")]
        launch: Vec<String>,
        /// An award applied for, starting after the data: it pays every service
        /// (Marketplace not covered) for the workloads named with workload= (repeat the
        /// key), or for every workload. Repeatable.
        #[arg(
            long,
            value_name = "program=P,amount=A,start=DATE,expiry=DATE[,workload=NAME]"
        )]
        award: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The next awards to apply for: per program the company could still use, the ask
    /// (P50, with P90 beside it), the date to apply by and what is at stake.
    ///
    /// From the day the account starts paying out of pocket (as AWS draws the credits)
    /// and the forecast beyond it, with the hints' levers assumed applied ([plan]
    /// assume_levers). Programs already granted (the config's awards, the Billing API's
    /// credits) are not proposed again. With --projection, writes the numbers an
    /// application asks for instead: per month, workload and model, the projected
    /// tokens and spend (CSV at --out) and a one-page summary (Markdown, beside it).
    /// No AWS request is made; a live source's cache is read.
    Plan {
        #[command(flatten)]
        common: Common,
        /// Write the 12-month projection (CSV) and the application's summary (.md beside
        /// it) instead of printing the plan.
        #[arg(long, requires = "out")]
        projection: bool,
        /// The CSV to write with --projection (replaced whole).
        #[arg(long, value_name = "FILE.csv")]
        out: Option<PathBuf>,
        /// Size the ask without the hints' levers.
        #[arg(long)]
        no_levers: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write the day-by-day series behind the report (or the tokens) as CSV or Parquet:
    /// one row per day per award and workload, the forecast's P10/P50/P90 up to each
    /// award's expiry. The columns are listed in the README.
    Export {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum)]
        format: export::ExportFormat,
        /// The file to write (replaced whole, never left half written).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = export::ExportTable::Series)]
        table: export::ExportTable,
    },
    /// Print the IAM policy this configuration needs: deploy/iam-policy.json, and
    /// sns:Publish on each SNS channel's topic (and on nothing else).
    IamPolicy {
        #[command(flatten)]
        common: Common,
    },
    /// Bedrock prices: build a table from the AWS Price List, or show the one in use.
    Pricing {
        #[command(subcommand)]
        command: PricingCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Build a price table from AWS Price List files, offline: bulk offer files
    /// (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<Offer>/current/<region>/index.json
    /// for AmazonBedrock, AmazonBedrockFoundationModels and AmazonBedrockService) or
    /// saved `aws pricing get-products` output. Prints TOML for `[pricing] table`.
    Import {
        /// The offer files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the table here instead of standard output.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// The day each price is marked checked (YYYY-MM-DD); default today (UTC).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        checked: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Print the prices a run uses: the shipped table, `[pricing] table` over it and
    /// the overrides over both, each price with its source and the day it was checked.
    Show {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether `--log-format json` is in force: then every line on stderr is a JSON object.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Installs the tracing subscriber: creditburn's events to stderr, as text or JSON lines.
/// The libraries' own events (the AWS SDK's retries and credential chain, hyper) are not
/// shown: what they mean reaches the operator as creditburn's one-line messages.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let only_ours = tracing_subscriber::filter::Targets::new()
        .with_target("creditburn", tracing::Level::INFO)
        .with_default(tracing_subscriber::filter::LevelFilter::OFF);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(only_ours);
    let _ = match format {
        LogFormat::Text => registry.with(layer.without_time()).try_init(),
        LogFormat::Json => {
            JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            registry.with(layer.json().flatten_event(true)).try_init()
        }
    };
}

/// A line for the operator on stderr: as written, or with `--log-format json` as one
/// JSON object (a `warning: ` or `error: ` prefix becomes the level).
pub(crate) fn say(text: &str) {
    if !JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{text}");
    } else if let Some(rest) = text.strip_prefix("warning: ") {
        tracing::warn!("{rest}");
    } else if let Some(rest) = text.strip_prefix("error: ") {
        tracing::error!("{rest}");
    } else {
        tracing::info!("{text}");
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Html,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

/// Parses the arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            // One line: clap's first, then where to look.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            let args: Vec<String> = std::env::args().collect();
            let json = args
                .windows(2)
                .any(|w| w[0] == "--log-format" && w[1] == "json")
                || args.iter().any(|a| a == "--log-format=json");
            init_logging(if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            });
            say!("error: {first} (see creditburn --help)");
            return ExitCode::from(exit::USAGE);
        }
    };
    init_logging(match &cli.command {
        Command::Run { common }
        | Command::Daemon { common, .. }
        | Command::Report { common, .. }
        | Command::Record { common, .. }
        | Command::Credits { common, .. }
        | Command::SendTest { common, .. }
        | Command::IamPolicy { common }
        | Command::Export { common, .. }
        | Command::CheckConfig { common }
        | Command::WhatIf { common, .. }
        | Command::Plan { common, .. }
        | Command::Pricing {
            command: PricingCommand::Show { common },
        } => common.log_format,
        Command::Pricing {
            command: PricingCommand::Import { log_format, .. },
        } => *log_format,
    });
    match execute(cli.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            let code = exit_code(&err);
            if let Some(config_error) = err.downcast_ref::<ConfigError>() {
                say!("error: {config_error}");
            } else {
                say!("error: {}", chain_line(&err));
            }
            ExitCode::from(code)
        }
    }
}

/// An error and its causes on one line, each cause once: a cause whose text its error
/// already shows (thiserror's `{source}` in a message) is not repeated.
fn chain_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    crate::model::text::one_line(&line)
}

/// Maps the typed errors at the boundaries to documented exit codes.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<ConfigError>()
            || cause.is::<Misconfigured>()
            || cause.is::<aws::NoCredentials>()
        {
            return exit::CONFIG;
        }
        if let Some(e) = cause.downcast_ref::<SourceError>() {
            return match e {
                SourceError::Missing { .. } => exit::NO_INPUT,
                SourceError::Io { .. } => exit::IO,
                SourceError::Invalid { .. } => exit::DATA,
                SourceError::Unwritable { .. } => exit::CANT_CREATE,
            };
        }
        if let Some(e) = cause.downcast_ref::<crate::source::lines::LinesError>() {
            use crate::source::lines::LinesError;
            return match e {
                LinesError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    exit::NO_INPUT
                }
                LinesError::Io { .. } => exit::IO,
                LinesError::Invalid { .. } => exit::DATA,
            };
        }
        if let Some(crate::source::s3::S3Error::Local { .. }) =
            cause.downcast_ref::<crate::source::s3::S3Error>()
        {
            return exit::CANT_CREATE;
        }
        if let Some(e) = cause.downcast_ref::<TableError>() {
            return match e {
                TableError::Polars(_) => exit::FAILURE,
                _ => exit::DATA,
            };
        }
        if cause.is::<aws::Unavailable>() {
            return exit::UNAVAILABLE;
        }
        if cause.is::<StoreError>() {
            return exit::CANT_CREATE;
        }
        if let Some(e) = cause.downcast_ref::<DeliverError>() {
            return match e {
                DeliverError::Write { .. } | DeliverError::OutboxFolder { .. } => exit::CANT_CREATE,
                DeliverError::Address { .. }
                | DeliverError::Setup { .. }
                | DeliverError::Channel { .. } => exit::CONFIG,
                DeliverError::Build { .. } => exit::FAILURE,
            };
        }
        if cause.is::<CantWrite>() {
            return exit::CANT_CREATE;
        }
        if cause.is::<Undelivered>() {
            return exit::TEMPFAIL;
        }
        if cause.is::<BadArgument>() {
            return exit::USAGE;
        }
        if let Some(e) = cause.downcast_ref::<pricing::InputError>() {
            return match e {
                pricing::InputError::Missing { .. } => exit::NO_INPUT,
                pricing::InputError::Io { .. } => exit::IO,
                pricing::InputError::Offer(_) => exit::DATA,
                pricing::InputError::Unwritable { .. } => exit::CANT_CREATE,
            };
        }
        if cause.is::<crate::pricing::offer::OfferError>() {
            return exit::DATA;
        }
        if let Some(e) = cause.downcast_ref::<crate::daemon::DaemonError>() {
            return match e {
                crate::daemon::DaemonError::Locked { .. } => exit::TEMPFAIL,
                _ => exit::CANT_CREATE,
            };
        }
    }
    exit::FAILURE
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig { common } => check_config::check_config(&common),
        Command::Record { common, out, scrub } => record::record(&common, &out, scrub),
        Command::Credits { common, adopt } => credits::credits(&common, adopt),
        Command::SendTest { common, channel } => send_test::send_test(&common, channel.as_deref()),
        Command::Report {
            common,
            format,
            out,
        } => {
            let (_, report) = prepare(&common)?;
            let text = match format {
                ReportFormat::Table => report.to_table(),
                ReportFormat::Json => format!("{}\n", report.to_json()),
                ReportFormat::Html => {
                    let now = common.now.unwrap_or_else(Utc::now);
                    crate::notify::page::render(&report, now).html
                }
            };
            match out {
                None => print!("{text}"),
                Some(path) => {
                    write_whole(&path, |f| {
                        use std::io::Write as _;
                        f.write_all(text.as_bytes()).map_err(|e| e.to_string())
                    })?;
                    say!("wrote the report to {}", path.display());
                }
            }
            Ok(())
        }
        Command::Run { common } => {
            let config = config::load(&common.config)?;
            let _lock = if common.under_daemon {
                None
            } else {
                Some(crate::daemon::lock(&config.state_path)?)
            };
            run::run(&common)
        }
        Command::Daemon {
            common,
            run_at_start,
        } => daemon::daemon(common, run_at_start),
        Command::WhatIf {
            common,
            hint,
            lever,
            workload,
            from,
            launch,
            award,
            format,
        } => what_if::what_if(
            &common,
            &what_if::Choice {
                hint,
                lever,
                workload,
                from,
                launches: launch,
                awards: award,
            },
            format,
        ),
        Command::Plan {
            common,
            projection,
            out,
            no_levers,
            format,
        } => apply_plan::plan(
            &common,
            &apply_plan::Options {
                projection,
                out: out.as_deref(),
                no_levers,
                format,
            },
        ),
        Command::Export {
            common,
            format,
            out,
            table,
        } => export::export(&common, format, table, &out),
        Command::IamPolicy { common } => {
            let config = config::load(&common.config)?;
            println!("{}", iam_policy::policy(&config));
            Ok(())
        }
        Command::Pricing { command } => match command {
            PricingCommand::Import {
                files,
                out,
                checked,
                ..
            } => pricing::import(&files, out.as_deref(), checked),
            PricingCommand::Show { common } => pricing::show(&common),
        },
    }
}

/// A command-line value that names nothing usable (a hint number past the list, a
/// workload not in the config): exit 2, like any bad argument.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadArgument(String);

/// The command cannot run with this configuration (a live-only command on a recording,
/// `daemon` without `[schedule]`): exit 78, like any configuration problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Misconfigured(String);

/// Some message could not be delivered (yet); it stays queued for a later run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Undelivered(String);

/// The configured channels, ready to send: every problem of theirs checked first (a
/// secret not set, a file unreadable), and for SNS topics the credential chain of
/// `[source]` (the default chain with a recording), its credentials resolved, so a
/// problem stops a run before it commits anything.
pub(crate) fn open_channels(
    config: &Config,
    profile: Option<&str>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<deliver::channel::Channels> {
    if let Some(first) = deliver::channel::problems(&config.channels)
        .into_iter()
        .next()
    {
        return Err(first.into());
    }
    let sns = config
        .channels
        .iter()
        .any(|c| matches!(c.kind, crate::config::ChannelKind::Sns { .. }));
    let sdk = if sns {
        let source = match &config.source {
            crate::config::SourceConfig::Aws(a) => a.clone(),
            crate::config::SourceConfig::Export(e) => e.aws.clone(),
            crate::config::SourceConfig::Athena(a) => a.aws.clone(),
            crate::config::SourceConfig::Fixtures { .. } => crate::config::AwsSource::default(),
        };
        Some(rt.block_on(aws::connect(&source, profile))?)
    } else {
        None
    };
    let client = |region: &str| {
        let sdk = sdk.as_ref().expect("connected when a channel is SNS");
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk)
                .region(aws_sdk_sns::config::Region::new(region.to_string()))
                .build(),
        )
    };
    // hyper's client needs a runtime to be built in.
    let _entered = rt.enter();
    Ok(deliver::channel::Channels::build(
        &config.channels,
        &client,
    )?)
}

/// A file a command was asked to write could not be written (exit 73).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot be written: {message}", path.display())]
pub(crate) struct CantWrite {
    pub path: PathBuf,
    pub message: String,
}

/// Writes `out` whole: `fill` writes into a file beside it, which is synced and renamed
/// into place, so a reader never sees half a file and a failure leaves the old one.
pub(crate) fn write_whole(
    out: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), CantWrite> {
    let fail = |message: String| CantWrite {
        path: out.to_path_buf(),
        message,
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        fail(format!(
            "{e}; check that the folder {} exists and is writable",
            dir.display()
        ))
    })?;
    fill(tmp.as_file_mut()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    tmp.persist(out).map_err(|e| fail(e.error.to_string()))?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
