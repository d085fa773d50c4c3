//! `loadgate`: parses the command line, runs the command, exits with its code.

use clap::Parser;
use harness::cli::Cli;

fn main() {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.worker_threads() {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build().expect("a tokio runtime");
    let exit = runtime.block_on(harness::execute(cli));
    std::process::exit(exit.code());
}
