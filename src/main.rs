//! The `sessionize` binary: parse the command line, call the library, choose the exit code.
//! Errors go to stderr with their whole chain of context.

use clap::Parser;
use sessionize::cli::{Cli, Command};
use sessionize::error;

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(error::exit::FAILURE);
        }
    };
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
                let report = sessionize::run(&settings, &options).await?;
                println!("{report}");
                Ok(report.exit_code)
            }
            Command::Generate(args) => {
                let summary = sessionize::generate::generate(&args.into())?;
                println!("{summary}");
                Ok(error::exit::OK)
            }
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(error::exit_code(&e));
        }
    }
}
