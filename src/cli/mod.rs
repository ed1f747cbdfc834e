//! The command line: argument parsing, the order of the steps, and exit codes. This is
//! the imperative shell around the pure analysis: it reads the config and the data,
//! passes `as_of` in, and writes what comes out.

/// `say` with `format!` arguments.
macro_rules! say {
    ($($arg:tt)*) => { say(&format!($($arg)*)) };
}

use std::path::PathBuf;
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
    pub const FAILURE: u8 = 1;
    /// Bad arguments (clap's own code).
    pub const USAGE: u8 = 2;
    /// The cost data is malformed, truncated or empty.
    pub const DATA: u8 = 65;
    /// A file the config names does not exist.
    pub const NO_INPUT: u8 = 66;
    /// The outbox could not be written.
    pub const CANT_CREATE: u8 = 73;
    /// Some message could not be delivered yet; it stays queued and is retried.
    pub const TEMPFAIL: u8 = 75;
    /// A file could not be read.
    pub const IO: u8 = 74;
    /// No usable cost data: the fetch failed and the cache holds nothing to fall back on.
    pub const UNAVAILABLE: u8 = 69;
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
pub struct Cli {
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
        /// `table` fits an 80-column terminal; `json` is a stable contract.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
    /// Send a test message to the alert recipients through the configured transport,
    /// now, to check the email settings end to end.
    SendTestEmail {
        #[command(flatten)]
        common: Common,
    },
    /// Validate the configuration and report every problem at once.
    CheckConfig {
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
        | Command::SendTestEmail { common }
        | Command::CheckConfig { common } => common.log_format,
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
pub fn exit_code(err: &anyhow::Error) -> u8 {
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
                DeliverError::Address { .. } | DeliverError::Setup { .. } => exit::CONFIG,
                DeliverError::Build { .. } => exit::FAILURE,
            };
        }
        if cause.is::<Undelivered>() {
            return exit::TEMPFAIL;
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
        Command::CheckConfig { common } => {
            let config = config::load(&common.config)?;
            // What the file alone cannot tell, checked as `run` checks it before it
            // commits: addresses as lettre reads them, the password, the CA file, the
            // outbox folder, the state store.
            let mut problems: Vec<config::Problem> =
                deliver::problems(&config.email, &config.alerts.recipients)
                    .into_iter()
                    .map(|e| config::Problem {
                        key: String::new(),
                        message: e.to_string(),
                    })
                    .collect();
            let store = config.state_path.join(crate::store::FILE_NAME);
            if store.exists() {
                if let Err(e) = crate::store::open_read_only(&store) {
                    problems.push(config::Problem {
                        key: String::new(),
                        message: e.to_string(),
                    });
                }
            }
            if !problems.is_empty() {
                return Err(ConfigError {
                    path: common.config.clone(),
                    problems,
                }
                .into());
            }
            // The data is checked before "ok" is said: a recording that cannot be read
            // is the error, not a footnote to an "ok".
            let checked = data_check(&config, &common)?;
            println!(
                "{}: ok ({}, {})",
                common.config.display(),
                count(config.awards.len() as u64, "award", "awards"),
                count(config.workloads.len() as u64, "workload", "workloads"),
            );
            match checked {
                Err(why) => println!("rules not checked against cost data: {why}"),
                Ok((against, report)) => {
                    let warnings = &report.data.warnings;
                    println!(
                        "rules checked against {against}: {}",
                        count(warnings.len() as u64, "warning", "warnings")
                    );
                    for w in warnings {
                        println!("warning: {w}");
                    }
                }
            }
            Ok(())
        }
        Command::Record { common, out, scrub } => {
            let config = config::load(&common.config)?;
            let SourceConfig::Aws(source) = &config.source else {
                return Err(Misconfigured(format!(
                    "{}: source.kind is \"fixtures\"; record needs source.kind = \"aws\"",
                    common.config.display()
                ))
                .into());
            };
            // Before any request is paid for.
            recording::check_out(&out)?;
            let now = common.now.unwrap_or_else(Utc::now);
            let as_of = common.as_of.unwrap_or(now.date_naive());
            let queries = plan::queries(&config);
            let window = plan::history(&config, as_of, now.date_naive());
            let mut budget = aws::RequestBudget {
                limit: common.max_requests.or(source.max_requests),
                made: 0,
            };
            let fetched = runtime()?.block_on(async {
                let sdk = aws::sdk_config(source, common.profile.as_deref()).await;
                aws::check_credentials(
                    &sdk,
                    common.profile.as_deref().or(source.profile.as_deref()),
                )
                .await?;
                Ok::<_, anyhow::Error>(
                    aws::record(&aws::CostExplorer::new(&sdk), &queries, window, &mut budget).await,
                )
            })?;
            say!(
                "cost explorer: {} (${:.2})",
                count(budget.made, "request", "requests"),
                budget.cost()
            );
            let fetched = fetched.map_err(|(query, e)| {
                aws::Unavailable(format!("{query}: {e}; nothing was written"))
            })?;
            let map = recording::write(&out, &fetched, scrub)?;
            for (real, fake) in &map.accounts {
                say!("scrubbed account {real} -> {fake}");
            }
            for ((key, real), fake) in &map.tag_values {
                say!("scrubbed tag {key}={real} -> {key}={fake}");
            }
            let pages: usize = fetched.iter().map(|(_, p)| p.len()).sum();
            say!(
                "wrote {} of {} ({} to {}) to {}",
                count(pages as u64, "page", "pages"),
                count(fetched.len() as u64, "query", "queries"),
                window.0,
                window.1,
                out.display()
            );
            Ok(())
        }
        Command::Credits { common, adopt } => {
            let config = config::load(&common.config)?;
            let snapshot = read_credits(&config, &common)?;
            if adopt {
                let unclaimed =
                    crate::analyse::credits::unclaimed(&config.awards, &snapshot.credits);
                if unclaimed.is_empty() {
                    say!("every credit on the account is named by an award");
                }
                print!("{}", crate::analyse::credits::adoption_toml(&unclaimed));
            } else {
                print!(
                    "{}",
                    crate::analyse::report::credits_table(&snapshot, &config.awards)
                );
            }
            Ok(())
        }
        Command::Report { common, format } => {
            let (_, report) = prepare(&common)?;
            match format {
                Format::Table => print!("{}", report.to_table()),
                Format::Json => println!("{}", report.to_json()),
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
            run(&common)
        }
        Command::Daemon {
            common,
            run_at_start,
        } => daemon(common, run_at_start),
        Command::SendTestEmail { common } => {
            let config = config::load(&common.config)?;
            let now = common.now.unwrap_or_else(Utc::now);
            let transport = deliver::Transport::from_config(&config.email)?;
            let email = email::render_test(&transport.describe(), &config.alerts.recipients, now);
            let message = deliver::queue(
                std::slice::from_ref(&email),
                &config.email,
                &config.alerts.recipients,
                SystemTime::from(now),
            )?;
            let rt = runtime()?;
            for m in &message {
                for r in &m.recipients {
                    rt.block_on(transport.send(&m.message_id, r, &m.eml))
                        .map_err(|e| {
                            let what = format!("the test message was not delivered to {r}: {}", e.message);
                            match e.failure {
                                deliver::Failure::Held => anyhow::Error::new(Misconfigured(format!(
                                    "{what}; fix [email.smtp] (the login, TLS or sender) and try again"
                                ))),
                                _ => Undelivered(what).into(),
                            }
                        })?;
                }
            }
            say!(
                "sent a test message to {} through {}",
                config.alerts.recipients.join(", "),
                transport.describe()
            );
            Ok(())
        }
    }
}

/// `creditburn daemon`: holds the state lock, runs `run` on the schedule, stops on
/// SIGTERM or SIGINT (a run in progress gets 8 seconds to finish).
fn daemon(common: Common, run_at_start: bool) -> anyhow::Result<()> {
    use crate::daemon::{self, Event};
    let config = config::load(&common.config)?;
    let Some(schedule) = config.schedule.clone() else {
        return Err(Misconfigured(format!(
            "{}: there is no [schedule] table; add one with cron = \"15 7 * * *\" (see config/example.toml)",
            common.config.display()
        )).into());
    };
    let lock = daemon::lock(&config.state_path)?;
    let state = DaemonState::open(&config.state_path)?;
    let settings = daemon::Settings {
        schedule: schedule.schedule,
        jitter: std::time::Duration::from_secs(schedule.jitter_seconds),
        grace: std::time::Duration::from_secs(8),
        run_at_start,
    };
    tracing::info!(
        schedule = %settings.schedule.line,
        zone = %settings.schedule.zone,
        lock = %lock.path.display(),
        "daemon: schedule {:?} ({}), lock {}",
        settings.schedule.line,
        settings.schedule.zone,
        lock.path.display()
    );
    // Each pass runs as a child `creditburn run`: the daemon stays small between runs
    // (a run's memory goes back with its process) and a crashing run cannot take it down.
    let exe = std::env::current_exe().context("finding the creditburn binary")?;
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--under-daemon".into(),
        "--log-format".into(),
        match common.log_format {
            LogFormat::Text => "text".into(),
            LogFormat::Json => "json".into(),
        },
        "--config".into(),
        common.config.clone().into_os_string(),
    ];
    if let Some(p) = &common.profile {
        args.extend(["--profile".into(), p.into()]);
    }
    if let Some(n) = common.max_requests {
        args.extend(["--max-requests".into(), n.to_string().into()]);
    }
    let running: std::sync::Arc<std::sync::Mutex<Option<u32>>> = Default::default();
    let current = running.clone();
    let job: daemon::Job = Box::new(move |_slot| {
        let mut child = std::process::Command::new(&exe)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.id());
        let status = child.wait().map_err(|e| e.to_string());
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match status?.code() {
            Some(0) => Ok(()),
            Some(code) => Err(format!("creditburn run exited {code}")),
            None => Err("creditburn run was killed".into()),
        }
    });
    let job = std::sync::Arc::new(job);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        if let Some(addr) = config.listen {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                let what = match e.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another process listens there; stop it or choose another port"
                    }
                    _ => "use an address and port of this machine creditburn may bind",
                };
                Misconfigured(format!(
                    "daemon.listen: cannot listen on {addr} ({e}); {what}"
                ))
            })?;
            tracing::info!(listen = %addr, "daemon: serving /health and /metrics on http://{addr}");
            tokio::spawn(daemon::http::serve(listener, config.state_path.clone()));
        }
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be watched");
            tokio::select! {
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "daemon: SIGTERM, stopping"),
                _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "daemon: SIGINT, stopping"),
            }
        };
        let mut log = |e: &Event| match e {
            Event::Started { slot, late } => tracing::info!(
                slot = %slot,
                late,
                "daemon: run for {slot}{} started",
                if *late { " (caught up after downtime)" } else { "" }
            ),
            Event::Finished { slot, outcome } => {
                if outcome.is_ok() {
                    tracing::info!(slot = %slot, outcome = %outcome, "daemon: run for {slot}: {outcome}")
                } else {
                    tracing::error!(slot = %slot, outcome = %outcome, "daemon: run for {slot}: {outcome}")
                }
            }
            Event::Abandoned { slot } => tracing::warn!(
                slot = %slot,
                "daemon: run for {slot} abandoned at shutdown; its committed work stands"
            ),
            Event::Stopped => tracing::info!("daemon: stopped"),
        };
        daemon::run(
            &daemon::SystemClock,
            &settings,
            &state,
            job,
            shutdown,
            &mut log,
        )
        .await
        .map_err(anyhow::Error::from)
    })?;
    // A run abandoned at shutdown is stopped too; its committed work stands.
    if let Some(pid) = *running.lock().unwrap_or_else(|e| e.into_inner()) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    drop(lock);
    Ok(())
}

/// The command cannot run with this configuration (a live-only command on a recording,
/// `daemon` without `[schedule]`): exit 78, like any configuration problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Misconfigured(String);

/// Some message could not be delivered (yet); it stays queued for a later run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Undelivered(String);

/// `creditburn run`: the report, the alert events against the remembered state, the
/// emails (and the digest when due) committed to the outbox with the new state in one
/// transaction, then everything due sent.
fn run(common: &Common) -> anyhow::Result<()> {
    let (config, report) = prepare(common)?;
    let now = common.now.unwrap_or_else(Utc::now);
    // The transport (its password, CA file, outbox folder) is built and checked before
    // anything is committed: a problem here leaves the alert state and the queue as they
    // were, so fixing it loses no message.
    if let Some(first) = deliver::problems(&config.email, &config.alerts.recipients)
        .into_iter()
        .next()
    {
        return Err(first.into());
    }
    let transport = deliver::Transport::from_config(&config.email)?;
    DaemonState::open(&config.state_path)?.save_report(&report.to_json(), now)?;
    let mut outbox = Outbox::open(&config.state_path)?;
    let previous = outbox.alert_states()?;
    let snoozes = |award: &str| {
        config
            .awards
            .iter()
            .find(|a| a.id == award)
            .and_then(|a| a.snooze_until)
    };
    let repeat = config.alerts.repeat_interval();
    let decision = notify::decide(
        &report.alerts,
        &previous,
        &snoozes,
        report.as_of,
        now,
        repeat,
    );
    let mut emails = email::render(&report, &decision.events, now);
    let every = config.email.digest_every_days;
    let digest_due = every > 0
        && outbox
            .last_digest()?
            .is_none_or(|last| (now.date_naive() - last).num_days() >= every);
    if digest_due {
        emails.push(email::render_digest(&report, &outbox.deliveries()?, now));
    }
    let queued = deliver::queue(
        &emails,
        &config.email,
        &config.alerts.recipients,
        SystemTime::from(now),
    )?;
    let fresh = outbox.commit(
        &queued,
        &decision.states,
        digest_due.then(|| now.date_naive()),
        now,
    )?;
    crate::failpoint("after-commit");

    let retry = Retry {
        base: config.email.retry_base(),
        max: config.email.retry_max(),
        max_attempts: config.email.max_attempts,
    };
    let sent = runtime()?.block_on(deliver::send_due(&transport, &outbox, now, &retry))?;
    let pruned = outbox.prune(now - chrono::Duration::days(config.email.prune_after_days))?;
    if pruned > 0 {
        say!(
            "pruned {} finished more than {} days ago",
            count(pruned, "delivery", "deliveries"),
            config.email.prune_after_days
        );
    }

    for a in &report.awards {
        say!(
            "award {}: {} consumed of {}, {}",
            a.id,
            crate::model::money::money(a.consumed),
            crate::model::money::money(a.amount),
            a.status.as_str()
        );
    }
    let kinds: Vec<String> = decision
        .events
        .iter()
        .map(|e| format!("{} {} {}", e.kind.as_str(), e.alert.award, e.alert.rule))
        .collect();
    say!(
        "as of {}: {} in force; events: {}; queued {}, sent {} via {}",
        report.as_of,
        count(report.alerts.len() as u64, "alert", "alerts"),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        fresh,
        sent.sent.len(),
        transport.describe()
    );
    for d in &sent.sent {
        println!("sent: {} to {}", d.subject, d.recipient);
    }
    for (d, error) in &sent.retrying {
        tracing::warn!(subject = %d.subject, recipient = %d.recipient, error = %error,
            "will retry {:?} to {}: {error}", d.subject, d.recipient);
    }
    for (d, error) in &sent.failed {
        tracing::error!(subject = %d.subject, recipient = %d.recipient, error = %error,
            "not delivered, will not retry {:?} to {}: {error}", d.subject, d.recipient);
    }
    if let Some((error, held)) = &sent.held {
        return Err(Misconfigured(format!(
            "{} held, none lost: {error}; fix [email.smtp] (the login, TLS or sender address) and run again to send them",
            count(*held, "delivery", "deliveries"),
        ))
        .into());
    }
    if !sent.retrying.is_empty() || !sent.failed.is_empty() || sent.waiting > 0 {
        let waiting = sent.retrying.len() + sent.waiting;
        return Err(Undelivered(format!(
            "{} waiting to be retried, {} failed for good; see the report's deliveries",
            count(waiting as u64, "message", "messages"),
            sent.failed.len()
        ))
        .into());
    }
    Ok(())
}

/// The account's credits for `creditburn credits`: fresh, or the newest stored snapshot
/// when the Billing API cannot be reached.
fn read_credits(config: &Config, common: &Common) -> anyhow::Result<AwsCredits> {
    let SourceConfig::Aws(source) = &config.source else {
        return Err(Misconfigured(format!(
            "{}: source.kind is \"fixtures\"; reading credits needs source.kind = \"aws\" and source.account_id",
            common.config.display()
        )).into());
    };
    if source.account_id.is_none() {
        return Err(Misconfigured(format!(
            "{}: source.account_id is not set; name the 12-digit account whose credits to read",
            common.config.display()
        ))
        .into());
    }
    let now = common.now.unwrap_or_else(Utc::now);
    let store = Cache::open(&config.state_path)?;
    let refresh = runtime()?
        .block_on(async {
            let sdk = aws::sdk_config(source, common.profile.as_deref()).await;
            aws::check_credentials(
                &sdk,
                common.profile.as_deref().or(source.profile.as_deref()),
            )
            .await?;
            Ok::<_, anyhow::Error>(
                aws::refresh_source_credits(&sdk, &store, source, &config.awards, now).await?,
            )
        })?
        .unwrap_or_default();
    match (refresh.snapshot, refresh.failure) {
        (Some(snapshot), None) => Ok(snapshot),
        (Some(snapshot), Some(e)) => {
            say!(
                "warning: credits: {e}; showing the snapshot of {}",
                snapshot.fetched_at
            );
            Ok(snapshot)
        }
        (None, Some(e)) => Err(aws::Unavailable(format!(
            "credits: {e}; no snapshot in {}",
            store.path().display()
        ))
        .into()),
        (None, None) => Err(aws::Unavailable("credits: nothing was read".into()).into()),
    }
}

/// Loads config and data and computes the report: everything but delivery.
fn prepare(common: &Common) -> anyhow::Result<(Config, Report)> {
    let config = config::load(&common.config)?;
    let (table, as_of, source, aws_credits) = load_table(&config, common)?;
    let mut report = crate::analyse::report::assess(&table, &config, as_of, aws_credits.as_ref())
        .context("analysing the cost table")?;
    report.source = source;
    report.deliveries = Outbox::read_deliveries(&config.state_path)?;
    Ok((config, report))
}

/// What the source gave: the cost table, `as_of`, where the data came from, and AWS's
/// credits when they were read.
type Loaded = (CostTable, NaiveDate, SourceStatus, Option<AwsCredits>);

/// Reads the configured source.
fn load_table(config: &Config, common: &Common) -> anyhow::Result<Loaded> {
    match &config.source {
        SourceConfig::Fixtures { path } => {
            let pages = runtime()?.block_on(recording::replay(path))?;
            let table = table::normalise(&pages)?;
            say!(
                "read {} from {}: {} to {}, {} rows",
                count(pages.len() as u64, "page", "pages"),
                path.display(),
                table.first_day,
                table.last_day,
                table.df.height()
            );
            let as_of = common.as_of.unwrap_or(table.last_day);
            let status = SourceStatus {
                kind: "fixtures".into(),
                ..SourceStatus::default()
            };
            Ok((table, as_of, status, None))
        }
        SourceConfig::Aws(source) => load_live(config, source, common),
    }
}

/// Every query's cached days in `[start, end)` as decoded pages, and the queries the
/// cache holds nothing for.
fn cached_pages<'q>(
    store: &Cache,
    queries: &'q [plan::Query],
    (start, end): (NaiveDate, NaiveDate),
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(Vec<CostPage>, Vec<&'q str>)> {
    let mut pages = Vec::new();
    let mut missing = Vec::new();
    for query in queries {
        let Some(body) = store.response_body(&query.name, start, end)? else {
            missing.push(query.name.as_str());
            continue;
        };
        let output =
            rt.block_on(recording::decode_body(body))
                .map_err(|m| SourceError::Invalid {
                    path: store.path().to_path_buf(),
                    message: format!("cached {}: {}", query.name, crate::model::text::excerpt(&m)),
                })?;
        pages.push(CostPage {
            query: query.name.clone(),
            file: store.path().to_path_buf(),
            scope: query.scope,
            output,
        });
    }
    Ok((pages, missing))
}

/// What `check-config` checked the rules against: a phrase naming the data, and the
/// report built on it; None with why when there is no data to check against.
fn data_check(
    config: &Config,
    common: &Common,
) -> anyhow::Result<Result<(String, Report), String>> {
    let (table, described) = match &config.source {
        SourceConfig::Fixtures { path } => {
            let pages = runtime()?.block_on(recording::replay(path))?;
            (
                table::normalise(&pages)?,
                format!("the recording {}", path.display()),
            )
        }
        SourceConfig::Aws(_) => {
            let file = config.state_path.join(crate::store::FILE_NAME);
            if !file.exists() {
                return Ok(Err(format!(
                    "no cached cost data yet in {} (check-config makes no AWS request; run `creditburn run` first)",
                    file.display()
                )));
            }
            let now = common.now.unwrap_or_else(Utc::now);
            let as_of = common.as_of.unwrap_or(now.date_naive());
            let queries = plan::queries(config);
            let window = plan::history(config, as_of, now.date_naive());
            let store = match Cache::open_read_only(&config.state_path) {
                Ok(store) => store,
                Err(e) => return Ok(Err(format!("the cache cannot be read: {e}"))),
            };
            let (pages, missing) = match cached_pages(&store, &queries, window, &runtime()?) {
                Ok(read) => read,
                Err(e) => return Ok(Err(format!("the cache cannot be read: {e:#}"))),
            };
            if !missing.is_empty() {
                return Ok(Err(format!(
                    "the cache {} holds nothing for {} yet (check-config makes no AWS request)",
                    file.display(),
                    missing.join(", ")
                )));
            }
            (
                table::normalise(&pages)?,
                format!(
                    "the cached data in {} (no AWS request made)",
                    file.display()
                ),
            )
        }
    };
    let as_of = common.as_of.unwrap_or(table.last_day);
    let report = crate::analyse::report::assess(&table, config, as_of, None)
        .context("analysing the cost table")?;
    Ok(Ok((
        format!(
            "{described}, {} to {}",
            table.first_day,
            table.last_day.min(as_of)
        ),
        report,
    )))
}

/// The live path: refresh the cache from Cost Explorer, then read every query back from
/// the cache, so fresh and cached days take one road to the table.
fn load_live(
    config: &Config,
    source: &crate::config::AwsSource,
    common: &Common,
) -> anyhow::Result<Loaded> {
    let now = common.now.unwrap_or_else(Utc::now);
    let as_of = common.as_of.unwrap_or(now.date_naive());
    let queries = plan::queries(config);
    let (start, end) = plan::history(config, as_of, now.date_naive());
    let mut store = Cache::open(&config.state_path)?;
    let freshness = Freshness {
        min_refresh: source.min_refresh(),
        recent_days: source.recent_days,
        ..Freshness::default()
    };
    let rt = runtime()?;
    let (refresh, credits) = rt.block_on(async {
        let sdk = aws::sdk_config(source, common.profile.as_deref()).await;
        aws::check_credentials(
            &sdk,
            common.profile.as_deref().or(source.profile.as_deref()),
        )
        .await?;
        let client = aws::CostExplorer::new(&sdk);
        let refresh = aws::refresh(
            &client,
            &mut store,
            &queries,
            (start, end),
            now,
            &freshness,
            common.max_requests.or(source.max_requests),
        )
        .await?;
        let credits =
            aws::refresh_source_credits(&sdk, &store, source, &config.awards, now).await?;
        Ok::<_, anyhow::Error>((refresh, credits))
    })?;
    if let Some(c) = &credits {
        match (&c.failure, &c.snapshot) {
            (Some(e), Some(s)) => say!(
                "warning: credits: {e}; using the snapshot of {}",
                s.fetched_at
            ),
            (Some(e), None) => say!("warning: credits: {e}; no snapshot to fall back on"),
            (None, Some(s)) => say!(
                "credits: {} on the account (read {}, {})",
                s.credits.len(),
                s.fetched_at,
                count(c.requests, "billing request", "billing requests")
            ),
            (None, None) => {}
        }
    }
    for (query, from, to, days) in &refresh.fetched {
        say!("fetched {query}: {from} to {to}, {days} days");
    }
    for (query, e) in &refresh.failures {
        say!("warning: {query}: {e}; using cached days");
    }
    say!(
        "cost explorer: {} (${:.2}), cache {}",
        count(refresh.budget.made, "request", "requests"),
        refresh.budget.cost(),
        store.path().display()
    );

    let (pages, missing) = cached_pages(&store, &queries, (start, end), &rt)?;
    if !missing.is_empty() {
        // Each cause once, with the queries it stopped.
        let mut why: Vec<(String, Vec<&str>)> = Vec::new();
        for (q, e) in &refresh.failures {
            let text = e.to_string();
            match why.iter_mut().find(|(t, _)| *t == text) {
                Some((_, queries)) => queries.push(q),
                None => why.push((text, vec![q])),
            }
        }
        let why: Vec<String> = why
            .iter()
            .map(|(text, queries)| format!("{}: {text}", queries.join(", ")))
            .collect();
        return Err(aws::Unavailable(crate::model::text::cap(
            &format!(
                "no cost data for {} from {start} in the cache {} and the fetch did not bring it ({}); check the network, the endpoint and the credentials, the next run tries again",
                missing.join(", "),
                store.path().display(),
                if why.is_empty() {
                    "no request was allowed".to_string()
                } else {
                    why.join("; ")
                }
            ),
            700,
        ))
        .into());
    }
    let table = table::normalise(&pages)?;
    say!(
        "cost table: {} rows, {} to {}",
        table.df.height(),
        table.first_day,
        table.last_day
    );
    let mut stale_reasons: Vec<String> = refresh
        .failures
        .iter()
        .map(|(q, e)| {
            format!(
                "{q}: {e}; its figures are from the cache, through {}",
                table.last_day
            )
        })
        .collect();
    if let Some(e) = credits.as_ref().and_then(|c| c.failure.as_ref()) {
        stale_reasons.push(format!("credits: {e}"));
    }
    let status = SourceStatus {
        kind: "aws".into(),
        requests: refresh.budget.made,
        request_cost: refresh.budget.cost(),
        stale: !stale_reasons.is_empty(),
        stale_reasons,
    };
    Ok((table, as_of, status, credits.and_then(|c| c.snapshot)))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
