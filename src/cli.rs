//! The command line, as clap sees it. The only module that knows clap: it turns what the
//! user typed into the plain structs of `config.rs` and `generate.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::RunOptions;
use crate::config::{RunOverrides, parse_duration_or_zero};
use crate::engine::Resources;
use crate::error::UserError;
use crate::events::OnBadFile;
use crate::generate::GenerateOptions;
use crate::logging::LogFormat;
use crate::query::{QueryRequest, Statements};
use crate::results::Format;
use crate::scope::DayRequest;

macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  finished
  1  a failure (storage, engine, internal); the previous output is left in place
  2  bad input, configuration, SQL or usage (the message names the file, the column,
     the key or the position in the SQL)
  3  the run finished but skipped unreadable input files (--on-bad-file skip)
  4  another run holds the output's lock"
    };
}

const EXIT_CODES: &str = concat!(
    exit_codes!(),
    "

Environment:
  SESSIONIZE_INPUT, SESSIONIZE_OUTPUT, SESSIONIZE_CONFIG, SESSIONIZE_TIMEOUT,
  SESSIONIZE_ON_BAD_FILE, SESSIONIZE_WAIT_FOR_LOCK, SESSIONIZE_DATE, SESSIONIZE_FROM,
  SESSIONIZE_TO, SESSIONIZE_ENGINE, SESSIONIZE_SCHEDULER, SESSIONIZE_JOB_TIMEOUT,
  SESSIONIZE_FORMAT stand in for
  the flags of the same name; SESSIONIZE_LOG_FORMAT for --log-format; SESSIONIZE_LOG (or
  RUST_LOG) sets the log level (info, debug, sessionize=debug,datafusion=info);
  DATAFUSION_* tune the engine (DATAFUSION_EXECUTION_TARGET_PARTITIONS=4)."
);

const RUN_HELP: &str = concat!(
    "Examples:
  sessionize run --input data/events --output out --timeout 30m
  sessionize run --config nightly.toml --date yesterday     # the nightly cron run
  sessionize run --config nightly.toml --from 2026-11-01 --to 2026-11-07 --dry-run

",
    exit_codes!()
);

const QUERY_HELP: &str = concat!(
    "Examples:
  sessionize query --output out \"select landing_page, sum(sessions) from metrics_by_landing_page where dt >= '2026-11-01' group by 1 order by 2 desc limit 10\"
  sessionize query --output out -f report.sql --format json --out report.jsonl
  sessionize query --output out --example top_landing_pages
  sessionize query --output out            (an interactive prompt on a terminal)

Tables: every folder of the output (sessions, rejects, metrics_*, data_quality, users, …),
with dt as a partition column; events, the input mapped onto the canonical columns, when an
input is configured (--input, SESSIONIZE_INPUT or [input] path).

",
    exit_codes!()
);

const TABLES_HELP: &str = concat!(
    "Example:\n  sessionize tables --output out\n\n",
    exit_codes!()
);

const VALIDATE_HELP: &str = concat!(
    "Example:\n  sessionize validate --config sessionize.toml\n\n",
    exit_codes!()
);

#[derive(Debug, Parser)]
#[command(name = "sessionize", version, about = "Turns raw web and app events into visitor sessions and marketing metrics.", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text for a person, or one JSON object per line for a log shipper.
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text, env = "SESSIONIZE_LOG_FORMAT")]
    pub log_format: LogFormatArg,
    /// More log lines (-v debug, -vv trace); SESSIONIZE_LOG or RUST_LOG override it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Fewer log lines (-q warnings and errors, -qq errors) and no progress bar.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl Cli {
    pub fn log_format(&self) -> LogFormat {
        match self.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }

    /// The number of -v minus the number of -q.
    pub fn verbosity(&self) -> i8 {
        i8::try_from(self.verbose).unwrap_or(i8::MAX) - i8::try_from(self.quiet).unwrap_or(i8::MAX)
    }
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
    /// Run SQL on the output tables; without SQL, an interactive prompt on a terminal.
    #[command(after_help = QUERY_HELP)]
    Query(QueryArgs),
    /// List the output tables, their days (dt partitions) and the rows in each.
    #[command(after_help = TABLES_HELP)]
    Tables(TablesArgs),
    /// Check a config and the input's schema against it, without running.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Run a Ballista scheduler that knows sessionize's functions (for --engine ballista).
    #[cfg(feature = "distributed")]
    #[command(
        after_help = "Example:\n  sessionize scheduler --bind-host 0.0.0.0 --external-host scheduler.internal\n\nSee README, \"Running on a cluster\"."
    )]
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor that knows sessionize's functions (for --engine ballista).
    #[cfg(feature = "distributed")]
    #[command(
        after_help = "Example:\n  sessionize executor --scheduler-host scheduler.internal --bind-host 0.0.0.0 --external-host worker1.internal\n\nS3: the run's [s3] endpoint, region and allow_http reach the executors with each\njob; credentials come from each executor's own AWS_* variables or instance role.\nSee README, \"Running on a cluster\"."
    )]
    Executor(ExecutorArgs),
}

#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: String,
    /// gRPC port clients and executors connect to.
    #[arg(long, default_value_t = 50050)]
    pub port: u16,
    /// The host name executors and clients reach this scheduler at.
    #[arg(long, default_value = "localhost")]
    pub external_host: String,
}

#[cfg(feature = "distributed")]
impl From<SchedulerArgs> for crate::cluster::SchedulerOptions {
    fn from(args: SchedulerArgs) -> Self {
        crate::cluster::SchedulerOptions {
            bind_host: args.bind_host,
            port: args.port,
            external_host: args.external_host,
        }
    }
}

#[cfg(feature = "distributed")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler's host.
    #[arg(long, default_value = "localhost")]
    pub scheduler_host: String,
    /// The scheduler's port.
    #[arg(long, default_value_t = 50050)]
    pub scheduler_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: String,
    /// The host name the scheduler and the other executors reach this one at.
    #[arg(long)]
    pub external_host: Option<String>,
    /// Arrow Flight port, which serves shuffle data to the other executors.
    #[arg(long, default_value_t = 50051)]
    pub port: u16,
    /// gRPC port, which receives tasks from the scheduler.
    #[arg(long, default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks run at once (default: one per core).
    #[arg(long)]
    pub vcores: Option<usize>,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long)]
    pub work_dir: Option<String>,
}

#[cfg(feature = "distributed")]
impl From<ExecutorArgs> for crate::cluster::ExecutorOptions {
    fn from(args: ExecutorArgs) -> Self {
        crate::cluster::ExecutorOptions {
            scheduler_host: args.scheduler_host,
            scheduler_port: args.scheduler_port,
            bind_host: args.bind_host,
            external_host: args.external_host,
            port: args.port,
            grpc_port: args.grpc_port,
            vcores: args.vcores,
            work_dir: args.work_dir,
        }
    }
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// SQL to run: one statement or several separated by `;`. Without it (nor -f nor
    /// --example) the SQL is read from stdin, or asked for at a prompt on a terminal.
    pub sql: Option<String>,
    /// A file of SQL statements to run in order.
    #[arg(short = 'f', long = "file", conflicts_with_all = ["sql", "example"])]
    pub file: Option<PathBuf>,
    /// Run one of the example queries (see --list-examples).
    #[arg(long, conflicts_with = "sql")]
    pub example: Option<String>,
    /// List the example queries and exit.
    #[arg(long)]
    pub list_examples: bool,
    /// How results are written: table (default on a terminal), csv (default otherwise),
    /// json (one object per line) or parquet (needs --out or a redirect).
    #[arg(long, value_enum, env = "SESSIONIZE_FORMAT")]
    pub format: Option<FormatArg>,
    /// Write the results to this file (format from its extension unless --format).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print each query's plan instead of running it.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub location: ReadArgs,
}

/// Where the outputs to read are.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The output directory (or s3://bucket/prefix) of a run.
    #[arg(long, env = "SESSIONIZE_OUTPUT")]
    pub output: Option<String>,
    /// The input, to query it as `events` (mapped as the run maps it).
    #[arg(long, env = "SESSIONIZE_INPUT")]
    pub input: Option<String>,
    /// TOML config file: its [output], [input], [columns] and [s3] sections are used.
    #[arg(long, env = "SESSIONIZE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// table (default on a terminal), csv (default otherwise) or json.
    #[arg(long, value_enum, env = "SESSIONIZE_FORMAT")]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub location: ReadArgs,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub job: JobArgs,
}

/// Where a job reads and writes, and its session timeout: what `run` and `validate` share.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Parquet events: a file, a directory (read recursively, dt=… folders included) or a
    /// glob (else [input] path).
    #[arg(long, env = "SESSIONIZE_INPUT")]
    pub input: Option<String>,
    /// Directory the tables are written to, one folder per table, partitioned by dt (else
    /// [output] path).
    #[arg(long, env = "SESSIONIZE_OUTPUT")]
    pub output: Option<String>,
    /// TOML config file; flags override it.
    #[arg(long, env = "SESSIONIZE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Inactivity that ends a session, like 30m or 90s.
    #[arg(long, env = "SESSIONIZE_TIMEOUT")]
    pub timeout: Option<String>,
    /// Where the job runs: local (this process), ballista (a Ballista cluster: needs
    /// --scheduler and an s3:// output) or ballista-standalone (a Ballista scheduler and
    /// executors in this process); the last two need a build with `--features distributed`
    /// (else [engine] kind; default local).
    #[arg(
        long,
        env = "SESSIONIZE_ENGINE",
        value_name = "local|ballista|ballista-standalone"
    )]
    pub engine: Option<String>,
    /// The Ballista scheduler of --engine ballista, like df://scheduler:50050 (else [engine]
    /// scheduler).
    #[arg(long, env = "SESSIONIZE_SCHEDULER")]
    pub scheduler: Option<String>,
    /// On the Ballista engines, how long one job (one query of the run) may take before the
    /// run fails, like 2h or 90m (else [engine] job_timeout; default 2h).
    #[arg(long, env = "SESSIONIZE_JOB_TIMEOUT")]
    pub job_timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Table,
    Csv,
    Json,
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

impl QueryArgs {
    pub fn request(&self) -> QueryRequest {
        let statements = match (&self.sql, &self.file, &self.example) {
            (Some(sql), _, _) => Statements::Text(sql.clone()),
            (None, Some(file), _) => Statements::File(file.clone()),
            (None, None, Some(name)) => Statements::Example(name.clone()),
            (None, None, None) => Statements::StdinOrPrompt,
        };
        QueryRequest {
            statements,
            format: self.format.map(Format::from),
            out: self.out.clone(),
            explain: self.explain,
        }
    }
}

impl From<&ReadArgs> for RunOverrides {
    fn from(args: &ReadArgs) -> Self {
        RunOverrides {
            input: args.input.clone(),
            output: args.output.clone(),
            config: args.config.clone(),
            timeout: None,
            engine: None,
            scheduler: None,
            job_timeout: None,
        }
    }
}

impl From<JobArgs> for RunOverrides {
    fn from(args: JobArgs) -> Self {
        RunOverrides {
            input: args.input,
            output: args.output,
            config: args.config,
            timeout: args.timeout,
            engine: args.engine,
            scheduler: args.scheduler,
            job_timeout: args.job_timeout,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,
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
    /// The memory the run may use, like 2GiB, 512MiB or 4GB (default: no limit). Past
    /// half of it, sorts and aggregates spill to disk under --temp-dir; the rest is left
    /// for what the engine does not count (Parquet buffers, batches in flight).
    #[arg(long, env = "SESSIONIZE_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Where spill files and the run's scratch tables go (default: the system's
    /// temporary directory, $TMPDIR). Both are removed when the run ends.
    #[arg(long, env = "SESSIONIZE_TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BadFilePolicy {
    Fail,
    Skip,
}

impl RunArgs {
    /// How the run behaves, validated.
    pub fn options(&self) -> Result<RunOptions, UserError> {
        let wait_for_lock = parse_duration_or_zero(&self.wait_for_lock)
            .map_err(|m| UserError::flag("--wait-for-lock", m))?;
        let memory_limit = self
            .memory_limit
            .as_deref()
            .map(parse_bytes)
            .transpose()
            .map_err(|m| UserError::flag("--memory-limit", m))?;
        Ok(RunOptions {
            resources: Resources {
                memory_limit,
                temp_dir: self.temp_dir.clone(),
            },
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
        args.job.into()
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

/// A size like 2GiB, 512MiB, 1.5GB or 1000000 (bytes), as a number of bytes.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a size like 2GiB or 512MiB, got {text:?}"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB"
            ));
        }
    };
    let bytes = number * scale as f64;
    if bytes < (64u64 << 20) as f64 {
        return Err(format!(
            "{text:?} is too little to run in: give at least 64MiB"
        ));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_in_both_units() {
        assert_eq!(parse_bytes("2GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_bytes("512MiB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("100000000"), Ok(100_000_000));
        assert_eq!(parse_bytes(" 4 gb "), Ok(4_000_000_000));
        assert!(
            parse_bytes("2 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_bytes("lots").unwrap_err().contains("expected a size"));
        assert!(parse_bytes("1MiB").unwrap_err().contains("at least 64MiB"));
    }
}
