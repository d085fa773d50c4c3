//! `loadgate merge`: the shards' results files → one run's results.json,
//! its reports and the exit code a run of the whole would have.

use std::path::{Path, PathBuf};

use reports::results::{Results, RunStatus};

use super::args::{Exit, MergeArgs};
use crate::merge::{self, ShardFile};

/// Runs `loadgate merge`; every refusal names the file and is exit 2.
pub fn merge(args: &MergeArgs) -> Exit {
    let shards = match read(&args.results) {
        Ok(shards) => shards,
        Err(message) => {
            eprintln!("{message}");
            return Exit::BadInput;
        }
    };
    let merged = match merge::merge(shards, args.allow_partial) {
        Ok(merged) => merged,
        Err(e) => {
            eprintln!("{e}");
            return Exit::BadInput;
        }
    };
    for warning in &merged.warnings {
        eprintln!("warning: {warning}");
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.results[0]));
    let results = &merged.results;
    let written = std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))
        .and_then(|()| {
            results
                .write_atomic(&out_dir.join(reports::files::RESULTS))
                .map_err(|e| e.to_string())
        })
        .and_then(|()| {
            reports::report::render_all_with(results, None, args.hlog_interval, &out_dir)
                .map(drop)
                .map_err(|e| e.to_string())
        });
    if let Err(message) = written {
        eprintln!("error: {message}");
        return Exit::BadInput;
    }
    print!("{}", reports::terminal::verdict_table(results));
    let from = results.run.merged.as_ref().map_or(0, |m| m.shards.len());
    println!(
        "merged {from} shards of run {}\nresults: {}\nreport:  {}",
        results.run.run_id.as_deref().unwrap_or("?"),
        out_dir.join(reports::files::RESULTS).display(),
        out_dir.join(reports::files::HTML).display()
    );
    exit(results)
}

/// Every file read, or the first that cannot be, named.
fn read(paths: &[PathBuf]) -> Result<Vec<ShardFile>, String> {
    paths
        .iter()
        .map(|path| {
            Ok(ShardFile {
                file: path.display().to_string(),
                results: Results::read(path).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

/// `merged/` beside the folder of the first shard's file: shards written
/// to `DIR/shard-0/results.json`… merge into `DIR/merged/`.
fn default_out_dir(first: &Path) -> PathBuf {
    let folder = first.parent().unwrap_or(Path::new("."));
    folder.parent().unwrap_or(Path::new(".")).join("merged")
}

/// The exit code of a run with these results.
fn exit(results: &Results) -> Exit {
    match results.run.status {
        RunStatus::Completed if results.verdict.passed => Exit::Success,
        RunStatus::Completed | RunStatus::Aborted => Exit::BudgetFailed,
        RunStatus::Unreachable => Exit::Unreachable,
        RunStatus::Interrupted => Exit::Interrupted,
    }
}
