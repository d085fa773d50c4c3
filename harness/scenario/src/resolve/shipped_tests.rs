//! The shipped scenarios (every `.yaml` under `scenarios/`, subfolders
//! included) against the architecture they encode: each validates, the
//! shapes keep the §0/§5 overall budgets and §7's latencies per endpoint,
//! `scenarios/benchmarks/` is §7's table row by row, and no throughput
//! floor asks for more than its shape can produce.
//!
//! The architecture's numbers are copied here, so that nothing outside the
//! repository is read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::plan::{StageShape, ThinkTime, UserPool};
use crate::{Plan, Vars, load_plan};

/// Architecture §7, "Performance Benchmarks", one row per endpoint: the
/// request name every shipped scenario gives it, P50, P95 and P99 in µs,
/// and the RPS.
const SECTION_7: [(&str, u64, u64, u64, f64); 5] = [
    ("health", 5_000, 10_000, 15_000, 10_000.0),
    ("list_servers", 50_000, 150_000, 300_000, 5_000.0),
    ("create_server", 100_000, 250_000, 500_000, 1_000.0),
    ("get_server", 30_000, 80_000, 150_000, 8_000.0),
    ("get_metrics", 40_000, 100_000, 200_000, 6_000.0),
];

/// The api tier's quota per key (architecture §3: 10,000 requests/min).
const API_TIER_PER_SEC: f64 = 10_000.0 / 60.0;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// Every `.yaml` under `scenarios/`, subfolders included, sorted.
pub(super) fn shipped_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&scenarios_dir(), &mut found);
    found.sort();
    found
}

/// A shipped scenario by its path below `scenarios/`, without `.yaml`.
fn shipped(name: &str) -> Plan {
    load_plan(&scenarios_dir().join(format!("{name}.yaml")), &Vars::new()).unwrap()
}

fn shape(plan: &Plan) -> String {
    crate::timeline::outline(&plan.timeline(Duration::from_secs(1)))
}

#[test]
fn every_shipped_scenario_validates() {
    let dir = scenarios_dir();
    let mut names = Vec::new();
    for path in shipped_files() {
        if let Err(e) = load_plan(&path, &Vars::new()) {
            panic!("{e}");
        }
        let relative = path.strip_prefix(&dir).unwrap().with_extension("");
        names.push(relative.to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "actions",
            "benchmarks/create_server",
            "benchmarks/get_metrics",
            "benchmarks/get_server",
            "benchmarks/health",
            "benchmarks/list_servers",
            "endurance",
            "normal",
            "peak",
            "peak-open",
            "smoke",
            "spike",
            "spike-open",
            "stress",
        ]
    );
}

#[test]
fn shipped_shapes_match_the_architecture() {
    // Shape, peak users (max_users in the open model), stages, and the
    // overall throughput floor (worked out in each file's comment).
    let cases = [
        ("smoke", 8, "8,2s;8,6s;0,2s", None),
        ("normal", 100, "100,30s;100,5m;0,15s", Some(200.0)),
        ("peak", 500, "500,1m;500,10m;0,30s", Some(1_000.0)),
        ("stress", 1000, "1000,2m;1000,5m;0,30s", Some(2_000.0)),
        ("spike", 500, "500,30s;500,2m;0,30s", Some(1_000.0)),
        ("endurance", 200, "200,2m;200,4h;0,1m", Some(360.0)),
        ("peak-open", 500, "500,1m;500,10m;500,30s", Some(1_080.0)),
        ("spike-open", 500, "500,30s;500,2m;500,30s", Some(1_080.0)),
    ];
    for (name, peak, outline, min_rps) in cases {
        let plan = shipped(name);
        assert_eq!(plan.peak_users(), peak, "{name}");
        assert_eq!(shape(&plan), outline, "{name}");
        let budgets = plan.budgets();
        assert_eq!(budgets.during, Some(vec!["steady".to_owned()]), "{name}");
        assert_eq!(budgets.overall.p95_us, Some(200_000), "{name}");
        assert_eq!(budgets.overall.p99_us, Some(500_000), "{name}");
        assert_eq!(budgets.overall.max_error_rate, Some(0.01), "{name}");
        assert_eq!(budgets.overall.min_rps, min_rps, "{name}");
        let open = plan.open_model().is_some();
        let dropped = open.then_some(0.01);
        assert_eq!(budgets.overall.max_dropped_rate, dropped, "{name}");
        for (request, p50, p95, p99, _rps) in SECTION_7 {
            let budget = &budgets.requests[request];
            assert_eq!(
                (budget.p50_us, budget.p95_us, budget.p99_us),
                (Some(p50), Some(p95), Some(p99)),
                "{name} {request}"
            );
            assert_eq!(
                budget.min_rps, None,
                "{name} {request}: §7's RPS is a benchmark per endpoint, not this shape's"
            );
        }
    }
    assert_eq!(shipped("smoke").total_duration(), Duration::from_secs(10));
}

#[test]
fn benchmark_rows_are_the_section_7_table() {
    for (request, p50, p95, p99, rate) in SECTION_7 {
        let name = format!("benchmarks/{request}");
        let plan = shipped(&name);
        let open = plan.open_model().expect("a benchmark row is an open model");
        let work: Vec<&str> = plan.work().iter().map(|w| w.work.name()).collect();
        assert_eq!(work, [request], "{name}: one request, nothing else");
        let rates: Vec<(f64, f64)> = open
            .rates
            .iter()
            .map(|r| (r.from_per_sec, r.to_per_sec))
            .collect();
        assert_eq!(rates, [(0.0, rate), (rate, rate)], "{name}");
        let max_users = plan.peak_users();
        assert_eq!(
            shape(&plan),
            format!("{max_users},10s;{max_users},1m"),
            "{name}: a 10 s ramp and a 60 s hold"
        );
        assert_eq!(plan.stages()[1].name(), Some("steady"), "{name}");

        let budgets = plan.budgets();
        assert_eq!(budgets.during, Some(vec!["steady".to_owned()]), "{name}");
        let budget = &budgets.requests[request];
        assert_eq!(
            (budget.p50_us, budget.p95_us, budget.p99_us),
            (Some(p50), Some(p95), Some(p99)),
            "{name}"
        );
        let floor = budget.min_rps.expect("a benchmark row has a floor");
        assert!((floor - 0.99 * rate).abs() < 1e-9, "{name}: {floor}");
        assert_eq!(budgets.overall.max_dropped_rate, Some(0.01), "{name}");
        assert_eq!(budgets.overall.max_error_rate, Some(0.01), "{name}");

        // Users and keys: every user has a key of its own from the api
        // tier, and no key runs above half its quota.
        let users = f64::from(max_users);
        assert!(users >= (rate / 83.0).ceil(), "{name}: {max_users} users");
        assert!(
            rate / users <= API_TIER_PER_SEC / 2.0,
            "{name}: {} requests/s per key",
            rate / users
        );
        let UserPool::DemoRange { from, .. } = *plan.users() else {
            panic!("{name}: a benchmark row uses the seeded demo keys");
        };
        assert!(from > 20, "{name}: demo users 1-20 are not api tier");
        assert!(
            plan.users().len() >= max_users as usize,
            "{name}: a key each"
        );
        // Little's law: enough users for the rate if every request took
        // its P95 budget.
        assert!(
            users >= rate * p95 as f64 / 1e6,
            "{name}: {max_users} users for {rate}/s at {p95} µs"
        );
    }
}

/// The requests per second `request` (or all of them, for `None`) gets in
/// a plan's judged stages when every request takes its whole P99 budget
/// (the overall one where it has none of its own): the least a target
/// that meets the budgets gives. An open model's rate does not depend on
/// latency; a closed model's users wait for each response, and then for
/// their think time or pace.
fn rps_at_the_p99_budgets(plan: &Plan, request: Option<&str>) -> f64 {
    let budgets = plan.budgets();
    let p99 = |step: &str| {
        let us = budgets
            .requests
            .get(step)
            .and_then(|b| b.p99_us)
            .or(budgets.overall.p99_us)
            .unwrap_or_else(|| panic!("{}: {step} has no P99 budget", plan.name()));
        Duration::from_micros(us).as_secs_f64()
    };
    let (mut iteration_secs, mut requests_per_iteration) = (0.0, 0.0);
    for weighted in plan.work() {
        for step in weighted.work.steps() {
            iteration_secs += weighted.share * p99(&step.name);
            if request.is_none_or(|r| r == step.name) {
                requests_per_iteration += weighted.share;
            }
        }
    }
    // The least users, or arrival rate, over the judged stages.
    let judged = budgets.during.clone().unwrap_or_default();
    let mut users = 0;
    let mut least = f64::INFINITY;
    for (i, stage) in plan.stages().iter().enumerate() {
        if let StageShape::Ramp { to_users } | StageShape::Step { to_users } = stage.shape() {
            users = to_users;
        }
        if !stage.name().is_some_and(|n| judged.iter().any(|j| j == n)) {
            continue;
        }
        let iterations_per_sec = match plan.open_model() {
            Some(open) => open.rates[i].from_per_sec.min(open.rates[i].to_per_sec),
            None => {
                let wait = match plan.think_time() {
                    ThinkTime::None => 0.0,
                    ThinkTime::Fixed(pause) => pause.as_secs_f64(),
                    ThinkTime::Uniform { min, max } => (min + max).as_secs_f64() / 2.0,
                };
                let cycle = match plan.pace() {
                    Some(pace) => pace.as_secs_f64().max(iteration_secs),
                    None => wait + iteration_secs,
                };
                f64::from(users) / cycle
            }
        };
        least = least.min(iterations_per_sec * requests_per_iteration);
    }
    assert!(least.is_finite(), "{}: no judged stage", plan.name());
    least
}

/// The bug this replaces: `normal.yaml`'s 100 thinking users, at most
/// about 330 requests/s in all, carried `min_rps: 10000` for `/health`.
#[test]
fn every_throughput_floor_is_one_its_shape_can_produce() {
    let mut floors = 0;
    for path in shipped_files() {
        let plan = load_plan(&path, &Vars::new()).unwrap();
        let budgets = plan.budgets();
        let scopes = std::iter::once((None, &budgets.overall))
            .chain(budgets.requests.iter().map(|(n, b)| (Some(n.as_str()), b)));
        for (scope, budget) in scopes {
            let Some(floor) = budget.min_rps else {
                continue;
            };
            floors += 1;
            let produced = rps_at_the_p99_budgets(&plan, scope);
            assert!(
                floor <= produced,
                "{}: {} min_rps {floor} but the shape gives {produced:.1}/s at its P99 budgets",
                path.display(),
                scope.unwrap_or("overall")
            );
        }
    }
    assert_eq!(floors, 12, "7 shapes and 5 benchmark rows have a floor");
}

#[test]
fn the_rate_at_the_p99_budgets_counts_think_time_and_latency() {
    let plan = crate::parse_plan(
        "s.yaml",
        "version: 1\nname: x\nload: {stages: [{users: 100, ramp: 30s}, {name: steady, hold: 5m}]}\n\
         think_time: {min: 100ms, max: 500ms}\nrequests: [{name: health, method: GET, path: /health}]\n\
         budgets: {during: [steady], requests: {health: {p99: 15ms, min_rps: 10000}}}\n",
        Path::new("."),
        &Vars::new(),
    )
    .unwrap();
    let produced = rps_at_the_p99_budgets(&plan, Some("health"));
    // 100 users / (300 ms of mean think time + 15 ms) = 317/s: far from
    // the floor of 10,000 that normal.yaml once carried.
    assert!((produced - 100.0 / 0.315).abs() < 1e-6, "{produced}");
    assert_eq!(
        produced,
        rps_at_the_p99_budgets(&plan, None),
        "one request per iteration"
    );
}
