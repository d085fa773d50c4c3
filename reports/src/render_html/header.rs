//! The page's header: what ran, against what, when, and how much.

use std::fmt::Write;

use crate::{escape::xml, results::Results, units};

/// The scenario's name and description, the target, the start and the
/// request count: what a reader checks first that this is the right run.
pub(super) fn render(page: &mut String, results: &Results) {
    let _ = write!(
        page,
        "<header>\n<p class=\"eyebrow\">loadgate report</p>\n<h1>{}</h1>\n",
        xml(&results.scenario.name)
    );
    if let Some(description) = &results.scenario.description {
        let _ = writeln!(page, "<p class=\"lede\">{}</p>", xml(description));
    }
    let _ = write!(
        page,
        "<p class=\"meta\"><span>{}</span><span>{}</span><span>{} requests in {}</span></p>\n</header>\n",
        xml(&results.environment.target),
        xml(&results.run.started_at),
        units::count(results.overall.all.count),
        units::duration_ms(results.run.duration_ms),
    );
}
