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

/// Every file read, or the first that cannot be, named. A directory
/// stands for its `shard-*/results.json` files, as an Indexed Job's pods
/// write them to a shared volume.
fn read(paths: &[PathBuf]) -> Result<Vec<ShardFile>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = shard_files(path)?;
            if found.is_empty() {
                return Err(format!(
                    "{}: no shard-*/results.json in this directory",
                    path.display()
                ));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .iter()
        .map(|path| {
            Ok(ShardFile {
                file: path.display().to_string(),
                results: Results::read(path).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

/// `DIR/shard-*/results.json`, sorted.
fn shard_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("shard-"))
        .map(|entry| entry.path().join(reports::files::RESULTS))
        .filter(|file| file.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// `merged/` beside the folder of the first shard's file: shards written
/// to `DIR/shard-0/results.json`… merge into `DIR/merged/`.
fn default_out_dir(first: &Path) -> PathBuf {
    if first.is_dir() {
        return first.join("merged");
    }
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
