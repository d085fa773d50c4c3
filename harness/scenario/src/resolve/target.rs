//! `target` and `server_metrics`: where the system under test answers, and
//! where its Prometheus metrics are scraped.
//!
//! Only the scheme is checked: the harness's HTTP client speaks nothing
//! else, and whether the host answers is a question for the run.

use super::Builder;
use crate::yaml::ServerMetrics;

impl Builder<'_> {
    pub(super) fn target(&mut self, target: Option<&String>) {
        if let Some(target) = target
            && !is_http_url(target)
        {
            self.error(
                "target",
                format!("{target:?} is not an http:// or https:// URL"),
            );
        }
    }

    /// The metrics URL as written; a path is joined to the target at run
    /// time, since `--target` may replace it.
    pub(super) fn server_metrics(&mut self, raw: Option<&ServerMetrics>) -> Option<String> {
        raw.map(|m| {
            self.needs_version(3, "server_metrics");
            let url = m.url.trim();
            if !(url.starts_with('/') || is_http_url(url)) {
                self.error(
                    "server_metrics.url",
                    format!("{url:?} is neither an http(s):// URL nor a path below the target (/metrics)"),
                );
            }
            url.to_owned()
        })
    }
}

fn is_http_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}
