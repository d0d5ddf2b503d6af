//! The command line, as clap sees it. The only module that knows clap: it turns what the
//! user typed into the plain structs of `config.rs` and `generate.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::RunOverrides;
use crate::generate::GenerateOptions;

const EXIT_CODES: &str = "\
Exit codes:
  0  the run finished
  1  a failure (storage, engine, internal)
  2  bad input or configuration (the message names the file, the column or the key)";

#[derive(Debug, Parser)]
#[command(name = "sessionize", version, about = "Turns raw web and app events into visitor sessions and marketing metrics.", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sessionize events and write the sessions and metrics tables.
    #[command(after_help = concat!(
        "Example:\n  sessionize run --input data/events --output out --timeout 30m\n\n",
        "Exit codes:\n  0  the run finished\n  1  a failure (storage, engine, internal)\n",
        "  2  bad input or configuration"))]
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
        }
    }
}
