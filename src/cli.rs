//! The command line, as clap sees it. The only module that knows clap: it turns what the
//! user typed into the plain structs of `config.rs` and `generate.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::RunOptions;
use crate::config::{RunOverrides, parse_duration_or_zero};
use crate::error::UserError;
use crate::events::OnBadFile;
use crate::generate::GenerateOptions;
use crate::scope::DayRequest;

const EXIT_CODES: &str = "\
Exit codes:
  0  the run finished
  1  a failure (storage, engine, internal); the previous output is left in place
  2  bad input or configuration (the message names the file, the column or the key)
  3  the run finished but skipped unreadable input files (--on-bad-file skip)
  4  another run holds the output's lock";

const RUN_HELP: &str = "\
Examples:
  sessionize run --input data/events --output out --timeout 30m
  sessionize run --config nightly.toml --date yesterday     # the nightly cron run
  sessionize run --config nightly.toml --from 2026-11-01 --to 2026-11-07 --dry-run

Exit codes:
  0  the run finished
  1  a failure (storage, engine, internal); the previous output is left in place
  2  bad input or configuration (the message names the file, the column or the key)
  3  the run finished but skipped unreadable input files (--on-bad-file skip)
  4  another run holds the output's lock";

#[derive(Debug, Parser)]
#[command(name = "sessionize", version, about = "Turns raw web and app events into visitor sessions and marketing metrics.", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sessionize events and write the sessions and metrics tables.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Write deterministic synthetic events as Parquet, one folder per day (dt=YYYY-MM-DD).
    #[command(
        after_help = "Example:\n  sessionize generate --events 100000 --days 7 --seed 1 --output /tmp/events"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Parquet events: a file, a directory (read recursively, dt=… folders included) or a glob.
    #[arg(long, env = "SESSIONIZE_INPUT")]
    pub input: Option<String>,
    /// Directory the tables are written to, one folder per table, partitioned by dt.
    #[arg(long, env = "SESSIONIZE_OUTPUT")]
    pub output: Option<String>,
    /// TOML config file; flags override it.
    #[arg(long, env = "SESSIONIZE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Inactivity that ends a session, like 30m or 90s.
    #[arg(long)]
    pub timeout: Option<String>,
    /// What to do with an input file that cannot be read: fail the run, or skip it (the
    /// run then exits with code 3 and lists the file in its report).
    #[arg(long, value_enum, default_value_t = BadFilePolicy::Fail, env = "SESSIONIZE_ON_BAD_FILE")]
    pub on_bad_file: BadFilePolicy,
    /// How long to wait for another run on the same output to finish, like 10m (default:
    /// fail at once with exit code 4).
    #[arg(long, default_value = "0s", env = "SESSIONIZE_WAIT_FOR_LOCK")]
    pub wait_for_lock: String,
    /// Compute one day (YYYY-MM-DD, "yesterday" or "today" in the reporting time zone)
    /// and replace its partitions, continuing from what earlier runs wrote. Without
    /// --date or --from/--to, every day of the input is computed.
    #[arg(long, env = "SESSIONIZE_DATE", conflicts_with_all = ["from", "to"])]
    pub date: Option<String>,
    /// First day of a range to compute (with --to; alone: that one day).
    #[arg(long, env = "SESSIONIZE_FROM")]
    pub from: Option<String>,
    /// Last day of a range to compute.
    #[arg(long, env = "SESSIONIZE_TO")]
    pub to: Option<String>,
    /// Print which input files and output partitions the run would touch; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BadFilePolicy {
    Fail,
    Skip,
}

impl RunArgs {
    /// How the run behaves, validated.
    pub fn options(&self) -> Result<RunOptions, UserError> {
        let wait_for_lock =
            parse_duration_or_zero(&self.wait_for_lock).map_err(|message| UserError::Config {
                origin: "command line".into(),
                key: "--wait-for-lock".into(),
                message,
            })?;
        Ok(RunOptions {
            on_bad_file: match self.on_bad_file {
                BadFilePolicy::Fail => OnBadFile::Fail,
                BadFilePolicy::Skip => OnBadFile::Skip,
            },
            wait_for_lock,
            days: match &self.date {
                Some(day) => DayRequest {
                    from: Some(day.clone()),
                    to: Some(day.clone()),
                },
                None => DayRequest {
                    from: self.from.clone(),
                    to: self.to.clone(),
                },
            },
        })
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many events to write (before duplicates are added).
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// How many days the events span.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed: the same seed always writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = "2026-11-01")]
    pub start: String,
    /// Directory to write into.
    #[arg(long)]
    pub output: PathBuf,
    /// Share of events delivered one to three days late, in a later day's folder
    /// (`late.parquet`), like 0.02.
    #[arg(long, default_value_t = 0.0)]
    pub late_share: f64,
    /// Bots to add: users with an event every few minutes over every day.
    #[arg(long, default_value_t = 0)]
    pub bots: u32,
}

impl From<RunArgs> for RunOverrides {
    fn from(args: RunArgs) -> Self {
        RunOverrides {
            input: args.input,
            output: args.output,
            config: args.config,
            timeout: args.timeout,
        }
    }
}

impl From<GenerateArgs> for GenerateOptions {
    fn from(args: GenerateArgs) -> Self {
        GenerateOptions {
            events: args.events,
            days: args.days,
            seed: args.seed,
            start: args.start,
            output: args.output,
            late_share: args.late_share,
            bots: args.bots,
        }
    }
}
