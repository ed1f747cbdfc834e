//! The command line: argument parsing, the order of the steps, and exit codes. This is
//! the imperative shell around the pure analysis: it reads the config and the data,
//! passes `as_of` in, and writes what comes out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, ConfigError, SourceConfig};
use crate::deliver::{self, DeliverError};
use crate::email;
use crate::recording::{self, SourceError};
use crate::report::Report;
use crate::table::{self, CostTable, TableError};

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
    /// A file could not be read.
    pub const IO: u8 = 74;
    /// The configuration is invalid.
    pub const CONFIG: u8 = 78;
}

#[derive(Debug, Parser)]
#[command(
    name = "creditburn",
    version,
    about = "How your AWS credit awards are burning: consumed, runway, projected exhaustion or forfeit, and alerts for finance",
    after_help = "Exit codes: 0 ok, 1 internal error, 2 bad arguments, 65 malformed or empty cost data, 66 missing input file, 73 outbox not writable, 74 read error, 78 invalid configuration."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Common {
    /// The configuration file (see config/example.toml).
    #[arg(long, value_name = "PATH", default_value = "creditburn.toml")]
    pub config: PathBuf,
    /// The day to report as of (YYYY-MM-DD). Defaults to the last day a recording covers,
    /// or today (UTC) for live data.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub as_of: Option<NaiveDate>,
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
    /// Validate the configuration and report every problem at once.
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
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
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match execute(cli.command) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            let code = exit_code(&err);
            if let Some(config_error) = err.downcast_ref::<ConfigError>() {
                eprintln!("error: {config_error}");
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}

/// Maps the typed errors at the boundaries to documented exit codes.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<ConfigError>() {
            return exit::CONFIG;
        }
        if let Some(e) = cause.downcast_ref::<SourceError>() {
            return match e {
                SourceError::Missing { .. } => exit::NO_INPUT,
                SourceError::Io { .. } => exit::IO,
                SourceError::Invalid { .. } => exit::DATA,
            };
        }
        if let Some(e) = cause.downcast_ref::<TableError>() {
            return match e {
                TableError::Polars(_) => exit::FAILURE,
                _ => exit::DATA,
            };
        }
        if let Some(e) = cause.downcast_ref::<DeliverError>() {
            return match e {
                DeliverError::Write { .. } => exit::CANT_CREATE,
                DeliverError::Address { .. } => exit::CONFIG,
                DeliverError::Build { .. } => exit::FAILURE,
            };
        }
    }
    exit::FAILURE
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig { common } => {
            let config = config::load(&common.config)?;
            println!(
                "{}: ok ({} award{}, {} workload{})",
                common.config.display(),
                config.awards.len(),
                if config.awards.len() == 1 { "" } else { "s" },
                config.workloads.len(),
                if config.workloads.len() == 1 { "" } else { "s" },
            );
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
            let (config, report) = prepare(&common)?;
            let emails = email::render(&report);
            let written = deliver::write_outbox(
                &emails,
                &config.email,
                &config.alerts.recipients,
                SystemTime::now(),
            )?;
            for a in &report.awards {
                eprintln!(
                    "award {}: {} consumed of {}, {}",
                    a.id,
                    crate::report::money(a.consumed),
                    crate::report::money(a.amount),
                    a.status.as_str()
                );
            }
            eprintln!(
                "as of {}: {} alert{} on {} award{}; wrote {} email{} to {}",
                report.as_of,
                report.alerts.len(),
                if report.alerts.len() == 1 { "" } else { "s" },
                report.awards.len(),
                if report.awards.len() == 1 { "" } else { "s" },
                written.len(),
                if written.len() == 1 { "" } else { "s" },
                config.email.outbox.display()
            );
            for path in written {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

/// Loads config and data and computes the report: everything but delivery.
fn prepare(common: &Common) -> anyhow::Result<(Config, Report)> {
    let config = config::load(&common.config)?;
    let (table, default_as_of) = load_table(&config)?;
    let as_of = common.as_of.unwrap_or(default_as_of);
    let report =
        crate::report::assess(&table, &config, as_of).context("analysing the cost table")?;
    Ok((config, report))
}

/// Reads the configured source; returns the table and the default `as_of` for it.
fn load_table(config: &Config) -> anyhow::Result<(CostTable, NaiveDate)> {
    match &config.source {
        SourceConfig::Fixtures { path } => {
            let pages = runtime()?.block_on(recording::replay(path))?;
            let table = table::normalise(&pages)?;
            eprintln!(
                "read {} page{} from {}: {} to {}, {} rows",
                pages.len(),
                if pages.len() == 1 { "" } else { "s" },
                path.display(),
                table.first_day,
                table.last_day,
                table.df.height()
            );
            let last = table.last_day;
            Ok((table, last))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
