//! The command line: argument types ([`args`]), the commands' bodies
//! (`loadgate run` in [`run`], the others here) and the progress line while
//! a run goes ([`progress`]). The verdict table after a run is the terminal
//! renderer of the `reports` crate.

pub mod args;
pub mod merge;
pub mod progress;
pub mod run;

pub use args::{Cli, Command, Exit};

use scenario::{Vars, duration, load_plan};

/// Runs one `loadgate` command to its exit code; `main` only parses and exits.
pub async fn execute(cli: Cli) -> Exit {
    init_logging();
    match cli.command {
        Command::Run(args) => match run::run(&args).await {
            Ok(output) => {
                run::print_summary(&output);
                output.exit
            }
            Err(run::RunError::BadInput(message)) => {
                eprintln!("{message}");
                Exit::BadInput
            }
            Err(run::RunError::Failed(e)) => {
                eprintln!("error: {e:#}");
                Exit::Unreachable
            }
        },
        Command::Validate(args) => validate(&args.scenarios),
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare(&args),
        Command::Merge(args) => merge::merge(&args),
        Command::Serve(args) => serve(args.config).await,
    }
}

/// `loadgate validate`: every error of every file, then the exit code.
fn validate(paths: &[std::path::PathBuf]) -> Exit {
    let mut exit = Exit::Success;
    for path in paths {
        match load_plan(path, &Vars::new().with_env()) {
            Ok(plan) => println!(
                "{}: ok ({} stages, {}, peak {} users)",
                path.display(),
                plan.stages().len(),
                duration::format_duration(plan.total_duration()),
                plan.peak_users()
            ),
            Err(errors) => {
                eprint!("{errors}");
                exit = Exit::BadInput;
            }
        }
    }
    exit
}

/// `loadgate report`: re-renders a saved run's reports.
fn report(args: &args::ReportArgs) -> Exit {
    let read = || -> Result<_, String> {
        let results = reports::results::Results::read(&args.results).map_err(|e| e.to_string())?;
        let baseline = args
            .baseline
            .as_deref()
            .map(reports::compare::read_baseline)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok((results, baseline))
    };
    let (results, baseline) = match read() {
        Ok(both) => both,
        Err(message) => {
            eprintln!("{message}");
            return Exit::BadInput;
        }
    };
    let comparison = baseline.map(|baseline| {
        reports::compare::compare(
            &baseline,
            &results,
            &args.results.display().to_string(),
            &args.compare.rules(),
        )
    });
    let out_dir = args.out.clone().unwrap_or_else(|| {
        args.results
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| ".".into(), std::path::Path::to_path_buf)
    });
    if let Err(e) = std::fs::create_dir_all(&out_dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            reports::report::render_all_with(
                &results,
                comparison.as_ref(),
                args.hlog_interval,
                &out_dir,
            )
            .map(drop)
            .map_err(anyhow::Error::from)
        })
    {
        eprintln!("error: {e:#}");
        return Exit::BadInput;
    }
    print!("{}", reports::terminal::verdict_table(&results));
    if let Some(comparison) = &comparison {
        print!("\n{}", comparison.to_terminal());
    }
    println!("report: {}", out_dir.join(reports::files::HTML).display());
    if comparison.as_ref().is_some_and(|c| c.has_regression()) {
        Exit::BudgetFailed
    } else {
        Exit::Success
    }
}

/// `loadgate compare`: the comparison, printed, and exit 1 on a regression.
fn compare(args: &args::CompareArgs) -> Exit {
    let read = || -> Result<_, String> {
        let baseline =
            reports::compare::read_baseline(&args.baseline).map_err(|e| e.to_string())?;
        let current = reports::results::Results::read(&args.current).map_err(|e| e.to_string())?;
        Ok((baseline, current))
    };
    let (baseline, current) = match read() {
        Ok(both) => both,
        Err(message) => {
            eprintln!("{message}");
            return Exit::BadInput;
        }
    };
    let comparison = reports::compare::compare(
        &baseline,
        &current,
        &args.current.display().to_string(),
        &args.rules.rules(),
    );
    print!(
        "{}",
        match args.format {
            args::CompareFormat::Text => comparison.to_terminal(),
            args::CompareFormat::Markdown => comparison.to_markdown(),
            args::CompareFormat::Html => comparison.to_html(),
        }
    );
    if comparison.has_regression() {
        Exit::BudgetFailed
    } else {
        Exit::Success
    }
}

/// `loadgate serve`: the reference service until Ctrl-C or SIGTERM.
async fn serve(config: target_service::Config) -> Exit {
    let service = match target_service::start(config).await {
        Ok(service) => service,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Exit::BadInput;
        }
    };
    eprintln!(
        "serving on {}; Ctrl-C or SIGTERM drains and stops",
        service.base_url()
    );
    target_service::serve::shutdown_signal().await;
    match service.shutdown().await {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::BadInput
        }
    }
}

/// Warnings and errors to stderr; `RUST_LOG` overrides. The certificate
/// verifier's own error lines are off: a failed handshake is already a
/// counted `connect` failure, and a line per attempt would bury the rest.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,rustls_platform_verifier=off")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
