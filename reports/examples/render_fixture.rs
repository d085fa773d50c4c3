//! Renders a results file's reports into a directory:
//! `cargo run -p reports --example render_fixture -- RESULTS.json OUT_DIR`.
//! For looking at reports while `loadgate report` is not there yet.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(results), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: render_fixture RESULTS.json OUT_DIR");
        std::process::exit(2);
    };
    let results = reports::results::Results::read(&results).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    match reports::render_all(&results, &out) {
        Ok(rendered) => {
            for file in rendered.files() {
                println!("{}", file.display());
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}
