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
                let settings = sessionize::config::resolve(&args.into())?;
                let summary = sessionize::run(&settings).await?;
                println!("{summary}");
                Ok(())
            }
            Command::Generate(args) => {
                let summary = sessionize::generate::generate(&args.into())?;
                println!("{summary}");
                Ok(())
            }
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(error::exit_code(&e));
    }
}
