//! The reports rendered from fixture results files, one passing and one
//! failing, checked the way their readers use them: the HTML offline, the
//! PNGs decoded, the JUnit file parsed, the Markdown compared exactly.
//!
//! `LOADGATE_BLESS=1 cargo test -p reports --test render` regenerates the
//! committed fixtures (`tests/fixtures/*.json`, `*.summary.md`).

#[path = "fixtures/generate.rs"]
mod generate;

use std::{fs, path::PathBuf};

use reports::{
    charts::{self, Chart, ChartData},
    histogram, junit, markdown, render_all, render_html,
    results::Results,
};

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
        _ => unreachable!("no fixture {name}"),
    }
}

/// The committed fixture `name` (`passing` or `failing`); when blessing,
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
    for name in ["passing", "failing"] {
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
    for name in ["passing", "failing"] {
        let html = render_html::render(&fixture(name));
        let refs = references(&html);
        assert!(refs.is_empty(), "{name}: external references: {refs:#?}");
        // The SVG namespace is a name, not a fetch; the target is text.
        assert!(html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(html.contains("http://127.0.0.1:8080"));
        assert_eq!(html.matches("<svg").count(), Chart::ALL.len(), "{name}");
    }
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
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_all(&fixture("failing"), dir.path()).unwrap();
    assert_eq!(rendered.charts.len(), Chart::ALL.len());
    let (width, height) = charts::PNG_SIZE;
    for (chart, path) in Chart::ALL.iter().zip(&rendered.charts) {
        assert_eq!(path.file_name().unwrap(), chart.file_name());
        let (w, h, pixels) = decode_png(&fs::read(path).unwrap());
        assert_eq!((w, h), (width, height), "{chart:?}");
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
    assert_eq!(
        written,
        [
            "junit.xml",
            "latency.png",
            "percentiles.png",
            "report.html",
            "summary.md",
            "throughput.png",
            "users.png"
        ]
    );
    assert_eq!(rendered.files().count(), written.len());
    assert!(rendered.files().all(|f| f.starts_with(&out)));
}

#[test]
fn junit_has_one_testcase_per_budget_failing_where_the_budget_failed() {
    for name in ["passing", "failing"] {
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
            assert_eq!(failure.is_none(), budget.passed, "{name}: {budget:?}");
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
        let failures = results.budgets.iter().filter(|b| !b.passed).count();
        assert_eq!(
            suite.attribute("failures"),
            Some(failures.to_string().as_str())
        );
    }
}

#[test]
fn markdown_summaries_match_the_committed_files() {
    for name in ["passing", "failing"] {
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
