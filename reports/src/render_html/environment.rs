//! Where, when and how the run happened, and the scenario file as run.

use std::fmt::Write;

use crate::{
    basis::Basis,
    escape::xml,
    markdown::{run_status_sentence, sharding_sentence},
    results::{GeneratorStats, Results, RunStatus},
    units,
};

/// 7. Where, when and how the run happened.
pub(super) fn render(page: &mut String, results: &Results) {
    let env = &results.environment;
    let scenario = &results.scenario;
    let mut rows: Vec<(&str, String)> = vec![
        (
            "Tool",
            format!("{} {}", results.tool.name, results.tool.version),
        ),
        (
            "Target",
            format!(
                "{}{}",
                env.target,
                if env.in_process_target {
                    " (bundled service, in-process)"
                } else {
                    ""
                }
            ),
        ),
        ("Scenario", format!("{} ({})", scenario.name, scenario.file)),
        ("Started", results.run.started_at.clone()),
        ("Duration", units::duration_ms(results.run.duration_ms)),
        (
            "Status",
            match results.run.status {
                RunStatus::Completed => "completed".to_owned(),
                _ => run_status_sentence(results),
            },
        ),
        ("Latency basis", Basis::of(results).summary()),
        ("CPUs", env.cpu_count.to_string()),
    ];
    if let Some(sharding) = sharding_sentence(results) {
        rows.push(("Generators", sharding));
    }
    if let Some(g) = &results.generator {
        rows.push(("Generator", generator_text(g, results.version)));
    }
    rows.push(("OS", env.os.clone()));
    let stages: Vec<String> = scenario
        .stages
        .iter()
        .map(|s| {
            let users = if s.from_users == s.to_users {
                format!("{} users", s.to_users)
            } else {
                format!("{} → {} users", s.from_users, s.to_users)
            };
            format!(
                "{} {} ({})",
                s.name.as_deref().unwrap_or("stage"),
                users,
                units::duration_ms(s.end_ms.saturating_sub(s.start_ms))
            )
        })
        .collect();
    rows.push(("Stages", stages.join(" · ")));
    if !scenario.judged_stages.is_empty() {
        rows.push(("Budgets judge", scenario.judged_stages.join(", ")));
    }
    let o = &scenario.overrides;
    let overrides: Vec<String> = [
        o.scale.map(|v| format!("scale ×{v}")),
        o.duration_ms
            .map(|v| format!("duration {}", units::duration_ms(v))),
        o.users.map(|v| format!("{v} users")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !overrides.is_empty() {
        rows.push(("Overrides", overrides.join(", ")));
    }

    page.push_str("<section>\n<h2>Environment</h2>\n<dl class=\"env\">\n");
    for (key, value) in rows {
        let _ = writeln!(page, "<dt>{key}</dt><dd>{}</dd>", xml(&value));
    }
    page.push_str("</dl>\n");
    if !scenario.source.is_empty() {
        let _ = writeln!(
            page,
            "<details><summary>Scenario file as run</summary><pre>{}</pre></details>",
            xml(&scenario.source)
        );
    }
    page.push_str("</section>\n");
}

/// The generator's CPU and start lag, and how many judged seconds the
/// fixed rule found saturated (a results file before version 4 counted
/// seconds above 85% of all cores).
fn generator_text(g: &GeneratorStats, version: u32) -> String {
    let mut text = format!(
        "CPU mean {}, max {} of all cores",
        units::rate(g.cpu_mean),
        units::rate(g.cpu_max)
    );
    if let Some(thread) = g.thread_cpu_max {
        text.push_str(&format!(
            "; busiest thread {} of a core",
            units::rate(thread)
        ));
    }
    if let Some(lag) = g.start_lag_p99_max_us {
        text.push_str(&format!(
            "; start lag p99 at most {}",
            units::latency_us(lag as f64)
        ));
    }
    let rule = if version >= 4 {
        format!(
            "a thread above {} of a core, or a start-lag p99 above {}, in a judged second",
            units::rate(GeneratorStats::SATURATED_THREAD_CPU),
            units::latency_us(GeneratorStats::SATURATED_START_LAG_P99_US as f64)
        )
    } else {
        "above 85% of all cores".to_owned()
    };
    text.push_str(&format!(
        "; {} saturated ({rule})",
        units::duration_ms(u64::from(g.saturated_seconds) * 1000)
    ));
    text
}
