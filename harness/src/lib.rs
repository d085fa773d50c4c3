//! loadgate: scenario → plan → goose run → recorder → results → verdict.
//!
//! The first layer turns a scenario file into a validated [`Plan`],
//! knowing nothing of goose or HTTP clients so it can be tested (and fuzzed)
//! alone:
//!
//! * [`scenario`]: the YAML format (version 3) as serde types, and its JSON Schema;
//! * [`source_map`]: where each field sits in the file, for error positions;
//! * [`resolve`]: the one fallible conversion, [`load_plan`] / [`parse_plan`];
//! * [`plan`]: the resolved [`Plan`] (stages, timeline, goose test plan, budgets);
//! * [`overrides`]: `--scale`, `--duration` and `--users` as pure functions;
//! * [`duration`]: human durations (`30s`, `1h30m`, `250ms`);
//! * [`template`]: `{{ ... }}` placeholders compiled for cheap rendering;
//! * [`scenario_error`]: `file:line:column: path: message` errors with hints.
//!
//! The run layer drives the plan on goose and records it:
//!
//! * [`attack`]: the plan as a goose attack (users, stages, think time);
//! * [`user`]: one virtual user: render, send, check, capture, record;
//! * [`schedule`]: the open model's arrivals, handed to idle users when due;
//! * [`exchange`]: the one seam through which requests reach the network;
//! * [`recorder`]: HDR histograms (µs) per request name and per second, and
//!   the abort watches;
//! * [`generator_cpu`]: the generator's own CPU use;
//! * [`scrape`]: the target's Prometheus metrics, before, during and after;
//! * [`assemble`] and [`budget`]: the results file and its verdicts;
//! * [`run`], [`progress`], [`verdict`], [`cli`]: the `loadgate` commands.

pub mod assemble;
pub mod attack;
pub mod budget;
pub mod cli;
pub mod duration;
pub mod exchange;
pub mod generator_cpu;
pub mod overrides;
pub mod plan;
pub mod progress;
pub mod recorder;
pub mod resolve;
pub mod run;
pub mod scenario;
pub mod scenario_error;
pub mod schedule;
pub mod scrape;
pub mod source_map;
pub mod template;
pub mod user;
pub mod verdict;

pub use plan::Plan;
pub use resolve::{load_plan, parse_plan};
pub use scenario_error::{ScenarioError, ScenarioErrors};
pub use template::Vars;

use cli::{Cli, Command, Exit};

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
fn report(args: &cli::ReportArgs) -> Exit {
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
        .and_then(|()| run::render_reports(&results, comparison.as_ref(), &out_dir))
    {
        eprintln!("error: {e:#}");
        return Exit::BadInput;
    }
    print!("{}", verdict::table(&results));
    if let Some(comparison) = &comparison {
        print!("\n{}", comparison.to_terminal());
    }
    println!(
        "report: {}",
        out_dir.join(reports::report::HTML_FILE).display()
    );
    if comparison.as_ref().is_some_and(|c| c.has_regression()) {
        Exit::BudgetFailed
    } else {
        Exit::Success
    }
}

/// `loadgate compare`: the comparison, printed, and exit 1 on a regression.
fn compare(args: &cli::CompareArgs) -> Exit {
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
            cli::CompareFormat::Text => comparison.to_terminal(),
            cli::CompareFormat::Markdown => comparison.to_markdown(),
            cli::CompareFormat::Html => comparison.to_html(),
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

/// Warnings and errors to stderr; `RUST_LOG` overrides.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
