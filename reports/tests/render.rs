//! The reports rendered from fixture results files (passing, failing, and
//! a paced run with everything results version 3 added), checked the way
//! their readers use them: the HTML offline, the PNGs decoded, the JUnit
//! file parsed, the Markdown compared exactly.
//!
//! `LOADGATE_BLESS=1 cargo test -p reports --test render` regenerates the
//! committed fixtures (`tests/fixtures/*.json`, `*.summary.md`).

#[path = "fixtures/generate.rs"]
mod generate;

use std::{fs, path::PathBuf};

use reports::{
    budget_table,
    charts::{self, Chart, ChartData},
    files, histogram, junit, markdown, render_all, render_html,
    results::{LatencyBasis, Results, RunStatus},
    terminal,
};

/// Every committed fixture.
const FIXTURES: [&str; 3] = ["passing", "failing", "paced"];

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn blessing() -> bool {
    std::env::var_os("LOADGATE_BLESS").is_some()
}

fn generated(name: &str) -> Results {
    match name {
        "passing" => generate::passing(),
        "failing" => generate::failing(),
        "paced" => generate::paced(),
        _ => unreachable!("no fixture {name}"),
    }
}

/// The committed fixture `name` (one of [`FIXTURES`]); when blessing,
/// freshly generated and written first, so every test sees the new one.
fn fixture(name: &str) -> Results {
    let path = fixtures_dir().join(format!("{name}.json"));
    if blessing() {
        let results = generated(name);
        results.write_atomic(&path).unwrap();
        return results;
    }
    Results::read(&path).unwrap_or_else(|e| panic!("{e}; regenerate with LOADGATE_BLESS=1"))
}

/// `results` with every histogram re-encoded here, so two results with the
/// same histograms compare equal whatever deflate produced the bytes.
fn normalized(mut results: Results) -> Results {
    let windows = std::iter::once(&mut results.overall)
        .chain(results.requests.iter_mut())
        .flat_map(|s| std::iter::once(&mut s.all).chain(s.judged.as_mut()));
    for window in windows {
        let h = window
            .decode_histogram()
            .expect("fixture histograms decode");
        window.histogram = histogram::encode(&h);
        if let Some(raw) = &mut window.service_histogram {
            let h = histogram::decode(raw).expect("fixture histograms decode");
            *raw = histogram::encode(&h);
        }
    }
    results
}

/// Whether two JSON values agree, numbers to 1e-12 relative (serde_json
/// reads floats back to within an ulp, not always exactly); the first
/// difference's path otherwise.
fn differs(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            ((x - y).abs() > 1e-12 * x.abs().max(y.abs())).then(|| format!("{path}: {x} != {y}"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| differs(x, y, &format!("{path}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().find_map(|(k, v)| {
                y.get(k).map_or_else(
                    || Some(format!("{path}.{k}: missing")),
                    |w| differs(v, w, &format!("{path}.{k}")),
                )
            })
        }
        _ => (a != b).then(|| format!("{path}: {a} != {b}")),
    }
}

#[test]
fn committed_fixtures_match_the_generator() {
    for name in FIXTURES {
        let committed = serde_json::to_value(normalized(fixture(name))).unwrap();
        let fresh = serde_json::to_value(normalized(generated(name))).unwrap();
        if let Some(difference) = differs(&committed, &fresh, name) {
            panic!(
                "tests/fixtures/{name}.json is stale ({difference}); regenerate with\n  \
                 LOADGATE_BLESS=1 cargo test -p reports --test render"
            );
        }
    }
    assert!(fixture("passing").verdict.passed);
    assert!(!fixture("failing").verdict.passed);
    assert!(!fixture("paced").verdict.passed);
}

/// Every `src=`, `href=` and CSS `url(` in `html`, with what follows.
fn references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for needle in [
        "src=", "href=", "url(", "@import", "<script", "<link", "<iframe",
    ] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(needle) {
            let start = from + at;
            let end = (start + 80).min(html.len());
            let end = (end..=html.len())
                .find(|&i| html.is_char_boundary(i))
                .unwrap();
            found.push(html[start..end].to_owned());
            from = start + needle.len();
        }
    }
    found
}

#[test]
fn the_html_report_needs_nothing_outside_the_file() {
    for name in FIXTURES {
        let results = fixture(name);
        let html = render_html::render(&results);
        let refs = references(&html);
        assert!(refs.is_empty(), "{name}: external references: {refs:#?}");
        // The SVG namespace is a name, not a fetch; the target is text.
        assert!(html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(html.contains("http://127.0.0.1:8080"));
        let charts = ChartData::new(&results).unwrap().charts().len();
        assert_eq!(html.matches("<svg").count(), charts, "{name}");
    }
    // The paced run has every chart; the others lack the generator's and
    // the server's.
    assert_eq!(
        ChartData::new(&fixture("paced")).unwrap().charts(),
        Chart::ALL
    );
    assert_eq!(
        ChartData::new(&fixture("passing")).unwrap().charts(),
        [
            Chart::Latency,
            Chart::Throughput,
            Chart::Users,
            Chart::Percentiles
        ]
    );
    // And the check itself catches what it should.
    assert_eq!(
        references("<img src=\"a.png\"><a href=\"x\"></a><style>b{background:url(c)}</style>")
            .len(),
        3
    );
}

#[test]
fn the_html_report_reads_in_review_order() {
    let html = render_html::render(&fixture("failing"));
    let order = [
        "aria-label=\"verdict\"",
        "<h2>Budgets</h2>",
        "aria-label=\"Latency over time",
        "aria-label=\"Throughput and errors",
        "aria-label=\"Active users",
        "<h2>Latency distribution</h2>",
        "aria-label=\"Latency by percentile",
        "<h2>Endpoints</h2>",
        "<h2>Environment</h2>",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|needle| {
            html.find(needle)
                .unwrap_or_else(|| panic!("missing {needle}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {positions:?}"
    );
}

#[test]
fn the_banner_says_which_budgets_failed_and_by_how_much() {
    let results = fixture("failing");
    let html = render_html::render(&results);
    let failed: Vec<_> = results.budgets.iter().filter(|b| !b.passed).collect();
    assert!(
        failed.len() >= 3,
        "the failing fixture fails several budgets"
    );
    let banner = &html[html.find("class=\"banner fail\"").expect("a failed banner")..];
    let banner = &banner[..banner.find("</section>").unwrap()];
    assert!(banner.contains(&format!(
        "{} of {} budgets failed.",
        failed.len(),
        results.budgets.len()
    )));
    assert_eq!(banner.matches("<li>").count(), failed.len());
    assert!(
        banner.contains("<strong>list_servers p95</strong>"),
        "{banner}"
    );
    assert!(banner.contains("budget ≤ 150 ms"), "{banner}");
    assert!(banner.contains("class=\"excess\">+"), "{banner}");

    let html = render_html::render(&fixture("passing"));
    assert!(html.contains("class=\"banner pass\""));
    assert!(html.contains("All 18 budgets held."));
    assert!(!html.contains("td class=\"num fail\""));
}

#[test]
fn the_html_shows_breakdown_and_environment() {
    let html = render_html::render(&fixture("failing"));
    for text in [
        "<span class=\"chip server\">503 <b>",
        "<span class=\"chip server\">timeout <b>",
        "<span class=\"chip ok\">201 <b>",
        "<dt>Tool</dt><dd>loadgate 0.1.0</dd>",
        "<dt>CPUs</dt><dd>2</dd>",
        "<dt>Started</dt><dd>2025-06-02T09:30:00Z</dd>",
        "<dt>Duration</dt><dd>1m 15s</dd>",
        "<dt>Scenario</dt><dd>Normal load (scenarios/normal.yaml)</dd>",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
}

/// A PNG's size and RGB pixels.
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Dark pixels (text, not grid or background) in the given rectangle.
fn ink(pixels: &[u8], width: u32, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> usize {
    ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let i = ((y * width + x) * 3) as usize;
            pixels[i..i + 3].iter().all(|&c| c < 160)
        })
        .count()
}

#[test]
fn every_png_decodes_at_its_size_with_text_in_the_label_areas() {
    // The paced fixture has every chart, the small ones included.
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_all(&fixture("paced"), dir.path()).unwrap();
    assert_eq!(rendered.charts.len(), Chart::ALL.len());
    for (chart, path) in Chart::ALL.iter().zip(&rendered.charts) {
        assert_eq!(path.file_name().unwrap(), chart.file_name());
        let (w, h, pixels) = decode_png(&fs::read(path).unwrap());
        assert_eq!((w, h), chart.png_size(), "{chart:?}");
        // Below the x axis: the time or percentile labels. (Ticks and the
        // axis are light grey, so only text counts as ink.)
        let x_labels = ink(
            &pixels,
            w,
            charts::Y_LABEL_AREA..w,
            h - charts::X_LABEL_AREA..h,
        );
        // Left of the y axis: the value labels.
        let y_labels = ink(&pixels, w, 0..charts::Y_LABEL_AREA - 10, 40..h - 40);
        // Above the plot: the title.
        let title = ink(&pixels, w, 0..w, 0..30);
        assert!(x_labels > 30, "{chart:?}: x labels blank ({x_labels})");
        assert!(y_labels > 30, "{chart:?}: y labels blank ({y_labels})");
        assert!(title > 200, "{chart:?}: title blank ({title})");
    }
}

#[test]
fn render_all_writes_every_file_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let rendered = render_all(&fixture("passing"), &out).unwrap();
    let mut written: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    // The interval log too: one call gives the harness the whole directory
    // but results.json.
    let mut expected = [
        files::HLOG,
        files::JUNIT,
        files::LATENCY_PNG,
        files::PERCENTILES_PNG,
        files::HTML,
        files::SUMMARY,
        files::THROUGHPUT_PNG,
        files::USERS_PNG,
    ];
    expected.sort_unstable();
    assert_eq!(written, expected);
    assert_eq!(rendered.files().count(), written.len());
    assert!(rendered.files().all(|f| f.starts_with(&out)));

    // With the generator's CPU and the server's metrics, their charts too.
    let rendered = render_all(&fixture("paced"), &out).unwrap();
    let names: Vec<_> = rendered
        .charts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            files::LATENCY_PNG,
            files::THROUGHPUT_PNG,
            files::USERS_PNG,
            files::GENERATOR_PNG,
            files::PERCENTILES_PNG,
            files::SERVER_PNG
        ]
    );
    // A later run without them into the same directory: their PNGs go,
    // rather than pass for that run's.
    render_all(&fixture("passing"), &out).unwrap();
    assert!(!out.join(files::GENERATOR_PNG).exists());
    assert!(!out.join(files::SERVER_PNG).exists());
    assert!(out.join(files::LATENCY_PNG).exists());
    // The interval log reads back as the run's histograms: the overall one
    // and one per request, tagged.
    let hlog = fs::read_to_string(out.join(files::HLOG)).unwrap();
    let intervals = hlog.lines().filter(|l| !l.starts_with('#')).count();
    assert!(intervals > fixture("passing").requests.len(), "{hlog}");
}

#[test]
fn junit_has_one_testcase_per_budget_failing_where_the_budget_failed() {
    for name in FIXTURES {
        let results = fixture(name);
        let xml = junit::render(&results);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), results.budgets.len(), "{name}");
        for (case, budget) in cases.iter().zip(&results.budgets) {
            let failure = case.children().find(|n| n.has_tag_name("failure"));
            // A budget that aborted the run failed it, whatever it measured.
            assert_eq!(
                failure.is_none(),
                budget.passed && !budget.aborted_run(),
                "{name}: {budget:?}"
            );
            assert_eq!(
                case.attribute("classname"),
                Some(format!("loadgate.{}", budget.scope).as_str())
            );
            if let Some(failure) = failure {
                let message = failure.attribute("message").unwrap();
                let measured =
                    reports::units::metric_value(budget.metric, budget.measured.unwrap());
                let limit = reports::units::metric_value(budget.metric, budget.limit);
                assert!(message.contains(&measured), "{message}");
                assert!(message.contains(&limit), "{message}");
            }
        }
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(
            suite.attribute("failures"),
            Some(results.verdict.failed_budgets.to_string().as_str())
        );
    }
}

#[test]
fn markdown_summaries_match_the_committed_files() {
    for name in FIXTURES {
        let path = fixtures_dir().join(format!("{name}.summary.md"));
        let rendered = markdown::render(&fixture(name));
        if blessing() {
            fs::write(&path, &rendered).unwrap();
        }
        let expected = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            rendered == expected,
            "{} differs from what renders; regenerate with LOADGATE_BLESS=1 if intended.\n\
             --- expected ({})\n{expected}\n--- rendered\n{rendered}\n---",
            path.display(),
            path.display(),
        );
    }
}

#[test]
fn a_four_hour_run_stays_under_two_megabytes() {
    let results = generate::endurance();
    assert_eq!(results.series.len(), 14_400);
    assert_eq!(results.requests.len(), 5);
    let data = ChartData::new(&results).unwrap();
    let html = render_html::render_with(&results, Ok(data), None);
    assert!(
        html.len() < 2_000_000,
        "report.html of a 4-hour run is {} bytes",
        html.len()
    );
    // Each time-series line is thinned to about two points per pixel
    // column, not one per second.
    let longest = html
        .split("points=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].split(' ').count())
        .max()
        .unwrap();
    assert!(
        longest <= 2 * charts::SVG_SIZE.0 as usize,
        "{longest} points"
    );

    // To look at it: LOADGATE_LOOK_DIR=/tmp/endurance cargo test … four_hour
    if let Some(dir) = std::env::var_os("LOADGATE_LOOK_DIR") {
        render_all(&results, std::path::Path::new(&dir)).unwrap();
    }
}

/// The part of `html` from `start` to the end of its `</section>`.
fn section<'a>(html: &'a str, start: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("missing {start}"));
    let rest = &html[from..];
    &rest[..rest.find("</section>").expect("a closed section")]
}

fn ms(us: u64) -> String {
    reports::units::latency_us(us as f64)
}

#[test]
fn the_paced_fixture_has_what_it_is_meant_to_show() {
    let results = fixture("paced");
    assert!(matches!(
        results.run.latency_basis,
        LatencyBasis::Corrected {
            expected_interval_us: 200_000
        }
    ));
    assert_eq!(results.run.status, RunStatus::Aborted);
    let aborting: Vec<_> = results.budgets.iter().filter(|b| b.aborted_run()).collect();
    assert_eq!(aborting.len(), 1);
    // The hard case: within its limit over the shortened run, but it
    // stopped the run, so it fails it.
    assert!(aborting[0].passed, "{:?}", aborting[0]);
    let server = results.server.as_ref().unwrap();
    assert!(server.count_mismatch.is_some());
    assert!(server.failed_scrapes > 0);
    assert!(results.generator.as_ref().unwrap().warning.is_some());
    assert!(results.series.iter().all(|s| s.generator_cpu.is_some()));
    assert!(results.requests.iter().all(|r| r.phases.is_some()));
    let server_budgets: Vec<_> = results
        .budgets
        .iter()
        .filter(|b| b.scope == "server")
        .collect();
    assert_eq!(server_budgets.len(), 2);
    assert!(server_budgets.iter().any(|b| b.passed));
    assert!(server_budgets.iter().any(|b| !b.passed));
    // The corrected p99 is above the raw one: the correction did something.
    let overall = results.overall.judged_window();
    assert!(overall.latency.p99_us > overall.service_latency.unwrap().p99_us);
}

#[test]
fn the_html_says_what_latencies_count_from_before_the_budgets() {
    let results = fixture("paced");
    let html = render_html::render(&results);
    let basis = section(&html, "aria-label=\"latency basis\"");
    assert!(basis.contains("coordinated-omission corrected"), "{basis}");
    assert!(
        basis.contains("one iteration every 200 ms per user"),
        "{basis}"
    );
    // Corrected and raw, side by side.
    let window = results.overall.judged_window();
    let raw = window.service_latency.unwrap();
    assert!(basis.contains("corrected (budgets judge)"), "{basis}");
    assert!(basis.contains("raw (uncorrected)"), "{basis}");
    for us in [
        window.latency.p50_us,
        window.latency.p95_us,
        window.latency.p99_us,
        raw.p50_us,
        raw.p95_us,
        raw.p99_us,
    ] {
        assert!(basis.contains(&ms(us)), "{} missing in {basis}", ms(us));
    }
    assert!(html.find("aria-label=\"latency basis\"") < html.find("<h2>Budgets</h2>"));
    // Per endpoint, in the distribution table: each cell with its raw value.
    let distribution = section(&html, "<h2>Latency distribution</h2>");
    for stats in &results.requests {
        let raw = stats.judged_window().service_latency.unwrap();
        assert!(
            distribution.contains(&format!(
                "<span class=\"sub\">raw {}</span>",
                ms(raw.p99_us)
            )),
            "{}",
            stats.name
        );
    }
    // The latency chart draws the raw p99 as the open model draws service
    // time, and says so.
    let over_time = section(&html, "<h2>Over time</h2>");
    assert!(over_time.contains("p99 raw (uncorrected)"));
    assert!(over_time.contains("coordinated-omission corrected"));
    assert!(!over_time.contains("p99 service time"));

    // Unpaced, without a schedule: from the send, nothing to correct.
    let html = render_html::render(&fixture("passing"));
    let basis = section(&html, "aria-label=\"latency basis\"");
    assert!(basis.contains("Latencies count from each request&#39;s send"));
    assert!(basis.contains("nothing to correct"));
    assert!(!basis.contains("<table"));
}

/// The paced fixture as an open model's run: latency from when each
/// arrival was due, service time beside it.
fn as_open_model(mut results: Results) -> Results {
    results.run.latency_basis = LatencyBasis::IntendedStart;
    results.arrivals = Some(reports::results::ArrivalStats {
        intended: 4_700,
        started: 4_577,
        dropped: 123,
        late: 310,
        ..Default::default()
    });
    results
}

#[test]
fn dropped_arrivals_and_a_target_too_slow_show_in_every_report() {
    let mut results = as_open_model(fixture("paced"));
    let arrivals = results.arrivals.as_mut().unwrap();
    arrivals.target_too_slow = Some("arrivals waited for a free user (`max_users` 20)".into());
    results.overall.all.errors.dropped = 123;
    let all = results.overall.all.clone();

    let html = render_html::render(&results);
    let note = section(&html, "aria-label=\"target too slow\"");
    assert!(note.contains("Target too slow for max_users"), "{note}");
    assert!(note.contains("<code>max_users</code>"), "{note}");
    let endpoints = section(&html, "<h2>Endpoints</h2>");
    assert!(endpoints.contains("dropped <b>123</b>"), "{endpoints}");

    let summary = markdown::render(&results);
    assert!(summary.contains("> ⚠️ Target too slow for max_users: arrivals waited"));
    assert!(summary.contains(&format!(
        "{} requests and 123 arrivals dropped unsent in",
        reports::units::count(all.count)
    )));

    let table = terminal::verdict_table(&results);
    assert!(table.contains(&format!(
        "{} failed, 123 arrivals dropped unsent;",
        all.errors.requests_failed()
    )));
    assert!(table.contains("\nTARGET TOO SLOW FOR MAX_USERS: arrivals waited"));

    let xml = junit::render(&results);
    assert!(xml.contains("<property name=\"dropped_arrivals\" value=\"123\"/>"));
    assert!(xml.contains("<property name=\"target_too_slow\""));
}

#[test]
fn an_open_model_keeps_its_wording_and_shows_service_time_beside() {
    let results = as_open_model(fixture("paced"));
    let html = render_html::render(&results);
    // What the harness's end-to-end test looks for.
    assert!(html.contains("p99 service time"));
    assert!(html.contains("latency counts from when each was due"));
    let basis = section(&html, "aria-label=\"latency basis\"");
    assert!(basis.contains("from due (budgets judge)"), "{basis}");
    assert!(basis.contains("service time"), "{basis}");
    assert!(!basis.contains("coordinated-omission corrected"), "{basis}");
    let summary = markdown::render(&results);
    assert!(
        summary.contains("from when each arrival was due"),
        "{summary}"
    );
    assert!(summary.contains("service time"), "{summary}");

    // A version 2 file has no basis field, so reads as `Sent`; with
    // arrivals and service times it was an open model all the same.
    let mut v2 = results;
    v2.run.latency_basis = LatencyBasis::Sent;
    let html = render_html::render(&v2);
    assert!(html.contains("p99 service time"));
    assert!(section(&html, "aria-label=\"latency basis\"").contains("from due"));
}

#[test]
fn the_html_shows_the_server_generator_and_phases() {
    let results = fixture("paced");
    let html = render_html::render(&results);
    let server = results.server.as_ref().unwrap();

    let section_html = section(&html, "<h2>Server</h2>");
    let mismatch = section_html
        .find("class=\"warning plain\"")
        .expect("the count mismatch as a warning");
    assert!(section_html[mismatch..].contains("Request counts disagree"));
    for text in [
        format!(
            "<dt>Requests, server</dt><dd>{}</dd>",
            reports::units::count(server.requests.unwrap())
        ),
        format!(
            "<dt>Requests, client</dt><dd>{} sent, {} answered</dd>",
            reports::units::count(server.client_requests),
            reports::units::count(server.client_responses)
        ),
        format!(
            "{} failed",
            reports::units::count(u64::from(server.failed_scrapes))
        ),
        format!(
            "<dt>Cache hit ratio</dt><dd>{} (any layer)</dd>",
            reports::units::rate(server.cache_hit_ratio.unwrap())
        ),
        "of 20 connections".to_owned(),
        "<h3>Cache layers</h3>".to_owned(),
        "<th scope=\"row\">any layer</th>".to_owned(),
        "aria-label=\"Server: cache hits and DB pool".to_owned(),
    ] {
        assert!(section_html.contains(&text), "missing {text}");
    }
    for layer in &server.cache_layers {
        assert!(section_html.contains(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            layer.layer,
            reports::units::count(layer.hits),
            reports::units::count(layer.misses)
        )));
    }
    let latency = server.latency.unwrap();
    for us in [latency.p50_us, latency.p95_us, latency.p99_us] {
        assert!(section_html.contains(&ms(us)));
    }

    // The generator: a warning box right after the verdict, its CPU drawn
    // over time, and in the run's facts.
    let alert = section(&html, "role=\"alert\"");
    assert!(alert.contains("Load generator saturated"));
    assert!(alert.contains("<code>loadgate serve</code>"), "{alert}");
    assert!(html.find("aria-label=\"verdict\"") < html.find("role=\"alert\""));
    assert!(section(&html, "<h2>Over time</h2>").contains("aria-label=\"Load generator CPU"));
    let generator = results.generator.as_ref().unwrap();
    assert!(html.contains(&format!(
        "<dt>Generator</dt><dd>CPU mean {}, max {} of all cores",
        reports::units::rate(generator.cpu_mean),
        reports::units::rate(generator.cpu_max)
    )));

    // Where the time goes: each endpoint's phases beside its whole latency.
    let phases = section(&html, "<h2>Where the time goes</h2>");
    for stats in results.requests.iter().chain([&results.overall]) {
        let p = stats.phases.as_ref().unwrap();
        let row = &phases[phases
            .find(&format!("<th scope=\"row\">{}</th>", stats.name))
            .unwrap_or_else(|| panic!("no phases row for {}", stats.name))..];
        let row = &row[..row.find("</tr>").unwrap()];
        for us in [
            p.connect.p50_us,
            p.ttfb.p50_us,
            p.ttfb.p99_us,
            p.transfer.p95_us,
            stats.all.service_latency.unwrap().p99_us,
        ] {
            assert!(
                row.contains(&ms(us)),
                "{}: {} not in {row}",
                stats.name,
                ms(us)
            );
        }
        assert!(row.contains(&reports::units::count(p.connects)));
    }

    // A target whose metrics could not be read: said, not shown as zeros.
    let mut unscraped = results.clone();
    let server = unscraped.server.as_mut().unwrap();
    (server.scrapes, server.requests, server.latency) = (0, None, None);
    let html = render_html::render(&unscraped);
    let section_html = section(&html, "<h2>Server</h2>");
    assert!(section_html.contains("No scrape returned metrics"));
    assert!(!section_html.contains("<h3>Cache layers</h3>"));
    assert!(
        markdown::render(&unscraped)
            .contains("**Server:** no scrape of `http://127.0.0.1:8080/metrics` returned metrics.")
    );

    // None of it without the data.
    let html = render_html::render(&fixture("failing"));
    for absent in [
        "<h2>Server</h2>",
        "role=\"alert\"",
        "<h2>Where the time goes</h2>",
        "Generator CPU",
        "<h3>Server budgets</h3>",
    ] {
        assert!(!html.contains(absent), "{absent}");
    }
}

#[test]
fn the_html_marks_the_budget_that_aborted_the_run_and_the_server_budgets() {
    let results = fixture("paced");
    let html = render_html::render(&results);
    let banner = section(&html, "aria-label=\"verdict\"");
    assert!(banner.contains(&format!(
        "{} of {} budgets failed.",
        results.verdict.failed_budgets,
        results.budgets.len()
    )));
    assert!(banner.contains("The run was aborted after 50s: overall p99 over the last 5s was"));
    assert!(banner.contains("<strong>overall p99</strong>"));
    assert!(banner.contains("<span class=\"excess\">aborted the run at 0:50</span>"));
    assert_eq!(
        banner.matches("<li>").count(),
        results.verdict.failed_budgets as usize
    );

    let budgets = section(&html, "<h2>Budgets</h2>");
    // The overall row's p99 cell: failed (it stopped the run), and says when.
    let overall = &budgets[budgets.find("<tr class=\"overall\">").unwrap()..];
    let overall = &overall[..overall.find("</tr>").unwrap()];
    let p99 = overall.split("<td").nth(3).unwrap();
    assert!(p99.contains("class=\"num fail\""), "{p99}");
    assert!(p99.contains("aborted at 0:50"), "{p99}");
    assert_eq!(budgets.matches("aborted at").count(), 1);
    assert!(
        budgets
            .contains("overall p95, overall p99, overall error rate (abort: 5s window, after 8s)")
    );

    // Server budgets: their own table, measured against the limit, not an
    // empty `server` row of the endpoint table.
    assert!(
        budget_table::rows(&results)
            .iter()
            .all(|r| r.scope != "server")
    );
    assert!(!budgets.contains("<th scope=\"row\">server</th>"));
    let server = &budgets[budgets.find("<h3>Server budgets</h3>").unwrap()..];
    for b in results.budgets.iter().filter(|b| b.scope == "server") {
        let row = &server[server
            .find(&format!("<th scope=\"row\">{}</th>", b.metric.label()))
            .unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        let class = if b.passed { "pass" } else { "fail" };
        assert!(row.contains(&format!("class=\"num {class}\"")), "{row}");
        assert!(row.contains(&budget_table::measured_text(b)), "{row}");
        assert!(row.contains(&budget_table::limit_text(b)), "{row}");
    }
}

#[test]
fn the_markdown_summary_has_the_basis_warnings_server_and_every_failure() {
    let results = fixture("paced");
    let summary = markdown::render(&results);
    let failures: Vec<&str> = summary.lines().filter(|l| l.starts_with("- ❌")).collect();
    assert_eq!(failures.len(), results.verdict.failed_budgets as usize);
    assert!(
        failures
            .iter()
            .any(|l| l.contains("overall p99") && l.contains("aborted the run at 0:50"))
    );
    assert!(
        failures
            .iter()
            .any(|l| l.contains("server db pool utilization"))
    );
    for text in [
        "> ⚠️ The run was aborted after 50s: overall p99",
        "> ⚠️ The load generator was saturated",
        "**Latency basis:** coordinated-omission corrected",
        "**Server budgets:** cache hit ratio ✅",
        "db pool utilization ❌",
        "**Server** (11 scrapes, 1 failed)",
        "> ⚠️ Request counts disagree",
        "Generator CPU mean",
    ] {
        assert!(summary.contains(text), "missing {text}:\n{summary}");
    }
    // Compact: no longer than the budget table and a few lines.
    assert!(summary.lines().count() < 45, "{summary}");
}

#[test]
fn junit_fails_the_aborting_budget_and_judges_the_servers() {
    let results = fixture("paced");
    let xml = junit::render(&results);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name").unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    let failure = |name: &str| {
        case(name)
            .children()
            .find(|n| n.has_tag_name("failure"))
            .map(|f| f.attribute("message").unwrap().to_owned())
    };
    let aborted = failure("overall p99").expect("the aborting budget fails");
    assert!(aborted.contains("aborted the run at 0:50"), "{aborted}");
    assert_eq!(
        case("server cache hit ratio").attribute("classname"),
        Some("loadgate.server")
    );
    assert_eq!(failure("server cache hit ratio ≥ 75%"), None);
    let pool = failure("server db pool utilization ≤ 60%").expect("over its budget");
    assert!(pool.contains("against a budget of ≤ 60%"), "{pool}");
    let property = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .map(str::to_owned)
    };
    assert_eq!(
        property("latency_basis").as_deref(),
        Some("corrected (expected interval 200 ms)")
    );
    assert_eq!(property("run_status").as_deref(), Some("aborted"));
    assert!(property("generator_warning").is_some());
    assert!(property("server_count_mismatch").is_some());
    let passing = junit::render(&fixture("passing"));
    assert!(!passing.contains("generator_warning"));
    assert!(passing.contains("name=\"latency_basis\" value=\"sent\""));
}

#[test]
fn the_verdict_table_lists_every_budget_and_ends_with_the_verdict() {
    let results = fixture("passing");
    let table = terminal::verdict_table(&results);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "budget                           measured    limit          verdict"
    );
    assert_eq!(
        lines[1],
        "overall p95                        113 ms <= 200 ms         pass"
    );
    assert_eq!(lines.len(), 1 + results.budgets.len() + 4, "{table}");
    let overall = &results.overall.all;
    assert_eq!(
        lines[lines.len() - 3],
        format!(
            "{} requests in 75.0s ({:.1}/s), {} failed; p50 {} p95 {} p99 {}",
            overall.count,
            overall.rps,
            overall.errors.total(),
            ms(overall.latency.p50_us),
            ms(overall.latency.p95_us),
            ms(overall.latency.p99_us)
        )
    );
    let (ok, failed) = (
        overall.ok.as_ref().unwrap(),
        overall.failed.as_ref().unwrap(),
    );
    assert_eq!(
        lines[lines.len() - 2],
        format!(
            "  successful ({}): p50 {} p95 {} p99 {}; failed ({}): p50 {} p95 {} p99 {}; budgets judge both together",
            ok.count,
            ms(ok.latency.p50_us),
            ms(ok.latency.p95_us),
            ms(ok.latency.p99_us),
            failed.count,
            ms(failed.latency.p50_us),
            ms(failed.latency.p95_us),
            ms(failed.latency.p99_us),
        )
    );
    assert_eq!(ok.count + failed.count, overall.count);
    assert_eq!(lines[lines.len() - 1], "PASSED: all 18 budgets held");

    let paced = terminal::verdict_table(&fixture("paced"));
    assert!(paced.contains("\nserver: "), "{paced}");
    assert!(paced.contains("\nWARNING: The load generator was saturated"));
    assert!(paced.ends_with(
        "ABORTED: a budget was breached for its whole abort window; 9 of 20 budgets broken\n"
    ));
}

#[test]
fn an_empty_run_has_no_latency_or_rate_in_the_verdict_table() {
    let mut results = fixture("failing");
    let all = results.overall.all.clone();
    results.overall.all = reports::results::Window {
        count: 0,
        errors: Default::default(),
        rps: 0.0,
        error_rate: 0.0,
        latency: Default::default(),
        ..all
    };
    let table = terminal::verdict_table(&results);
    assert!(
        table.contains("\n0 requests in 75.0s (–/s), 0 failed; p50 – p95 – p99 –\n"),
        "{table}"
    );
}

#[test]
fn the_interval_log_has_one_interval_per_step_of_the_series_adding_up_to_the_run() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let results = fixture("passing");
    for (step, expected) in [("1s", results.series.len()), ("10s", 8)] {
        let log = reports::hlog::render(&results, step.parse().unwrap()).unwrap();
        let mut starts = Vec::new();
        let mut whole = histogram::new_histogram();
        for entry in IntervalLogIterator::new(&log) {
            if let LogEntry::Interval(interval) = entry.expect("well formed") {
                if interval.tag().is_some() {
                    continue;
                }
                whole
                    .add(histogram::decode(interval.encoded_histogram()).unwrap())
                    .unwrap();
                starts.push((interval.start_timestamp(), interval.duration()));
            }
        }
        assert_eq!(starts.len(), expected, "{step}: {starts:?}");
        let last = starts.last().unwrap();
        assert_eq!(
            (last.0 + last.1).as_millis(),
            u128::from(results.run.duration_ms),
            "{step}: the last interval ends with the run"
        );
        let in_series: u64 = results.series.iter().map(|s| s.count).sum();
        assert_eq!(whole.len(), in_series, "{step}: the intervals add up");
    }
}
