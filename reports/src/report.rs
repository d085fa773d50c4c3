//! Writing every report of a run into one directory: what `loadgate run`
//! calls at the end of a run and `loadgate report` calls on a saved one.
//!
//! Each file is written atomically ([`write_file_atomic`]), so a CI step or
//! a browser reading the directory mid-run never sees half a report. The
//! names are [`files`]'.

use std::path::{Path, PathBuf};

use crate::{
    charts::{self, Chart, ChartData, ChartError},
    compare::Comparison,
    files,
    histogram::CodecError,
    hlog, junit, markdown, render_html,
    results::{Results, ResultsError, write_file_atomic},
};

/// What [`render_all`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `report.html`.
    pub html: PathBuf,
    /// The PNG charts the results have data for, in [`Chart::ALL`] order.
    pub charts: Vec<PathBuf>,
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
    /// `histograms.hlog`.
    pub hlog: PathBuf,
}

impl Rendered {
    /// Every file written.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.html.as_path())
            .chain(self.charts.iter().map(PathBuf::as_path))
            .chain([
                self.junit.as_path(),
                self.summary.as_path(),
                self.hlog.as_path(),
            ])
    }
}

/// Rendering or writing the reports failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A histogram in the results does not decode.
    #[error(transparent)]
    Histogram(#[from] CodecError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The output directory could not be created or a file written.
    #[error(transparent)]
    Write(#[from] ResultsError),
}

/// Writes `report.html`, the PNG charts, `junit.xml`, `summary.md` and
/// the interval log `histograms.hlog` into `out_dir` (created if missing),
/// replacing earlier ones; the PNG of a chart these results have no data
/// for is removed if an earlier run left one. Everything but
/// `results.json`, which the caller writes first so nothing measured is
/// lost to a report that fails.
///
/// The small CI files are written first: if a chart fails, CI still gets
/// its verdict.
pub fn render_all(results: &Results, out_dir: &Path) -> Result<Rendered, RenderError> {
    render_all_with(results, None, hlog::Interval::default(), out_dir)
}

/// As [`render_all`], with the comparison against a baseline in
/// `summary.md` and the report, and the interval log's intervals
/// `hlog_interval` long.
pub fn render_all_with(
    results: &Results,
    comparison: Option<&Comparison>,
    hlog_interval: hlog::Interval,
    out_dir: &Path,
) -> Result<Rendered, RenderError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ResultsError::Io {
        path: out_dir.display().to_string(),
        source,
    })?;
    let junit_path = out_dir.join(files::JUNIT);
    write_file_atomic(&junit_path, junit::render(results).as_bytes())?;
    let summary_path = out_dir.join(files::SUMMARY);
    let mut summary = markdown::render(results);
    if let Some(comparison) = comparison {
        summary.push('\n');
        summary.push_str(&comparison.to_markdown());
    }
    write_file_atomic(&summary_path, summary.as_bytes())?;
    let hlog_path = out_dir.join(files::HLOG);
    write_file_atomic(&hlog_path, &hlog::render(results, hlog_interval)?)?;

    let data = ChartData::new(results)?;
    let mut chart_paths = Vec::with_capacity(Chart::ALL.len());
    for chart in Chart::ALL {
        let path = out_dir.join(chart.file_name());
        if data.charts().contains(&chart) {
            write_file_atomic(&path, &charts::png(&data, chart)?)?;
            chart_paths.push(path);
        } else {
            // A chart these results have no data for (the server's, the
            // generator's): an earlier run's PNG must not pass for this
            // run's.
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ResultsError::Io {
                        path: path.display().to_string(),
                        source: e,
                    }
                    .into());
                }
                _ => {}
            }
        }
    }
    let html_path = out_dir.join(files::HTML);
    let html = render_html::render_with(results, Ok(data), comparison);
    write_file_atomic(&html_path, html.as_bytes())?;

    Ok(Rendered {
        html: html_path,
        charts: chart_paths,
        junit: junit_path,
        summary: summary_path,
        hlog: hlog_path,
    })
}
