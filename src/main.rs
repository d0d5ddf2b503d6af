//! The `sessionize` binary: parse the command line, set up logging, call the library,
//! choose the exit code. Errors go to stderr with their whole chain of context (as a JSON
//! log line with `--log-format json`).

use clap::Parser;
use sessionize::cli::{Cli, Command};
use sessionize::logging::LogFormat;
use sessionize::{error, logging, progress};

fn main() {
    let cli = Cli::parse();
    let log_format = cli.log_format();
    if let Err(e) = logging::init(log_format, cli.verbosity()) {
        eprintln!("error: {e:#}");
        std::process::exit(error::exit_code(&e));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(error::exit::FAILURE);
        }
    };
    let show_progress = log_format == LogFormat::Text && cli.verbosity() >= 0;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => {
                let options = args.options()?;
                let dry_run = args.dry_run;
                let settings = sessionize::config::resolve(&args.into())?;
                if dry_run {
                    println!("{}", sessionize::dry_run(&settings, &options).await?);
                    return Ok(error::exit::OK);
                }
                if show_progress {
                    progress::enable();
                }
                let report = sessionize::run(&settings, &options).await;
                progress::finish();
                let report = report?;
                println!("{report}");
                Ok(report.exit_code)
            }
            Command::Generate(args) => {
                let summary = sessionize::generate::generate(&args.into())?;
                println!("{summary}");
                Ok(error::exit::OK)
            }
            Command::Query(args) if args.list_examples => {
                print!("{}", sessionize::query::list_examples());
                Ok(error::exit::OK)
            }
            Command::Query(args) => {
                let settings = sessionize::config::resolve_for_reading(&(&args.location).into())?;
                sessionize::query::query(&settings, &args.request()).await?;
                Ok(error::exit::OK)
            }
            Command::Tables(args) => {
                let settings = sessionize::config::resolve_for_reading(&(&args.location).into())?;
                sessionize::query::tables(&settings, args.format.map(Into::into)).await?;
                Ok(error::exit::OK)
            }
            Command::Validate(args) => {
                let settings = sessionize::config::resolve(&args.job.into())?;
                let validation = sessionize::validate::validate(&settings).await?;
                print!("{validation}");
                Ok(error::exit::OK)
            }
            #[cfg(feature = "distributed")]
            Command::Scheduler(args) => {
                sessionize::cluster::run_scheduler(args.into()).await?;
                Ok(error::exit::OK)
            }
            #[cfg(feature = "distributed")]
            Command::Executor(args) => {
                sessionize::cluster::run_executor(args.into()).await?;
                Ok(error::exit::OK)
            }
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let code = error::exit_code(&e);
            match log_format {
                LogFormat::Text => eprintln!("error: {e:#}"),
                LogFormat::Json => {
                    tracing::error!(error = %format!("{e:#}"), exit_code = code, "failed")
                }
            }
            std::process::exit(code);
        }
    }
}
