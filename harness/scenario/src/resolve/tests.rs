use std::path::Path;
use std::time::Duration;

use super::users::parse_keys;
use super::*;
use crate::plan::{
    Budgets, CaptureSource, JsonExpectation, LatencyOf, StageShape, StatusCheck, ThinkTime,
    UserPool, Work,
};
use crate::template::{CaptureSlot, TemplateContext};

fn parse(yaml: &str) -> Result<Plan, ScenarioErrors> {
    parse_plan(
        "s.yaml",
        yaml,
        Path::new("."),
        &Vars::new().set("TENANT", "acme"),
    )
}

/// Compares the whole error output, one line per error, printing both sides.
#[track_caller]
fn assert_errors(yaml: &str, expected: &[&str]) {
    let got = match parse(yaml) {
        Ok(_) => "<no errors>".to_owned(),
        Err(e) => e.to_string(),
    };
    let want = expected.join("\n");
    assert!(
        got == want,
        "\n--- yaml ---\n{yaml}\n--- got ---\n{got}\n--- want ---\n{want}\n"
    );
}

const MINIMAL: &str = "\
version: 1
name: minimal
load:
  stages:
    - {users: 10, ramp: 30s}
    - {name: steady, hold: 5m}
    - {users: 0, ramp: 30s}
requests:
  - name: health
    method: GET
    path: /health
";

#[test]
fn minimal_scenario_resolves_with_defaults() {
    let plan = parse(MINIMAL).unwrap();
    assert_eq!(plan.name(), "minimal");
    assert_eq!(plan.source(), "s.yaml");
    assert_eq!(plan.users(), &UserPool::DemoRange { from: 21, to: 1000 });
    assert_eq!(plan.users().len(), 980);
    assert_eq!(plan.users().key(0), "demo-key-21");
    assert_eq!(plan.users().key(980), "demo-key-21");
    assert_eq!(plan.users().key(979), "demo-key-1000");
    assert_eq!(plan.think_time(), ThinkTime::None);
    assert!(plan.tls().verify_certificates);
    assert_eq!(plan.stages().len(), 3);
    assert_eq!(plan.stages()[1].shape(), StageShape::Hold);
    assert_eq!(plan.total_duration(), Duration::from_secs(360));
    assert_eq!(plan.peak_users(), 10);
    assert_eq!(shape(&plan), "10,30s;10,5m;0,30s");
    let Work::Request(step) = plan.pick(0.5) else {
        panic!("a request")
    };
    assert_eq!(step.timeout, DEFAULT_TIMEOUT);
    assert_eq!(step.redirects, DEFAULT_REDIRECTS);
    assert_eq!(step.redirects, 10);
    assert!(plan.cookies(), "a cookie jar per user by default");
    assert_eq!(step.checks.status, StatusCheck::AnySuccess);
    assert!(step.checks.status.accepts(204));
    assert!(!step.checks.status.accepts(404));
    assert_eq!(plan.budgets(), &Budgets::default());
}

/// The engine's tick, as the run uses it.
const SECOND: Duration = Duration::from_secs(1);

fn shape(plan: &Plan) -> String {
    crate::timeline::outline(&plan.timeline(SECOND))
}

#[test]
fn timeline_maps_offsets_to_stages() {
    let timeline = parse(MINIMAL).unwrap().timeline(SECOND);
    let stages = timeline.stages();
    assert_eq!(stages[1].start, Duration::from_secs(30));
    assert_eq!(stages[1].end, Duration::from_secs(330));
    assert_eq!((stages[1].from_users, stages[1].to_users), (10, 10));
    assert_eq!((stages[2].from_users, stages[2].to_users), (10, 0));
    assert_eq!(timeline.stage_at(Duration::ZERO).index, 0);
    assert_eq!(
        timeline.stage_at(Duration::from_secs(30)).name.as_deref(),
        Some("steady")
    );
    assert_eq!(timeline.stage_at(Duration::from_secs(329)).index, 1);
    assert_eq!(timeline.stage_at(Duration::from_secs(330)).index, 2);
    assert_eq!(timeline.stage_at(Duration::from_secs(9999)).index, 2);
}

#[test]
fn weights_are_normalised_across_requests_and_flows() {
    let yaml = "\
version: 1
name: w
load: {stages: [{users: 1, ramp: 1s}]}
requests:
  - {name: a, weight: 3, method: GET, path: /a}
  - {name: b, method: GET, path: /b}
flows:
  - name: f
    weight: 4
    steps:
      - {name: c, method: GET, path: /c}
";
    let plan = parse(yaml).unwrap();
    let shares: Vec<(String, f64)> = plan
        .work()
        .iter()
        .map(|w| (w.work.name().to_owned(), w.share))
        .collect();
    assert_eq!(
        shares,
        vec![("a".into(), 0.375), ("b".into(), 0.125), ("f".into(), 0.5)]
    );
    assert_eq!(plan.pick(0.0).name(), "a");
    assert_eq!(plan.pick(0.374).name(), "a");
    assert_eq!(plan.pick(0.4).name(), "b");
    assert_eq!(plan.pick(0.5).name(), "f");
    assert_eq!(plan.pick(0.999_999).name(), "f");
    assert_eq!(plan.request_names(), vec!["a", "b", "c"]);
}

struct User {
    seq: u64,
    captured: Vec<Option<String>>,
}

impl TemplateContext for User {
    fn key(&self) -> &str {
        "demo-key-42"
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn random(&mut self, low: i64, _high: i64) -> i64 {
        low
    }
    fn captured(&self, slot: CaptureSlot) -> Option<&str> {
        self.captured[slot.0].as_deref()
    }
}

#[test]
fn captures_flow_from_setup_and_earlier_steps() {
    let yaml = "\
version: 1
name: c
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - name: login
    method: POST
    path: /login
    body: {key: '{{ key }}'}
    capture: {token: /token}
requests:
  - name: me
    method: GET
    path: /me
    headers: {Authorization: 'Bearer {{ token }}'}
flows:
  - name: crud
    steps:
      - name: create
        method: POST
        path: /t/{{ var.TENANT }}/items
        body: {name: 'item-{{ seq }}', n: '{{ random(1, 9) }}'}
        checks:
          status: [201]
          json: [{pointer: /id, exists: true}, {pointer: /kind, equals: item}]
          body_contains: id
          header: [content-type]
        capture: {item_id: /id}
      - {name: read, method: GET, path: '/items/{{ item_id }}', timeout: 2s}
";
    let plan = parse(yaml).unwrap();
    assert_eq!(plan.capture_names(), ["token", "item_id"]);
    let mut user = User {
        seq: 5,
        captured: vec![Some("t0k".into()), Some("77".into())],
    };
    let mut out = String::new();
    plan.setup()[0]
        .body
        .as_ref()
        .unwrap()
        .render(&mut user, &mut out)
        .unwrap();
    assert_eq!(out, r#"{"key":"demo-key-42"}"#);
    let Work::Request(me) = &plan.work()[0].work else {
        panic!()
    };
    out.clear();
    me.headers[0].1.render(&mut user, &mut out).unwrap();
    assert_eq!(out, "Bearer t0k");
    let Work::Flow(flow) = &plan.work()[1].work else {
        panic!()
    };
    let create = &flow.steps[0];
    assert_eq!(create.path.as_literal(), Some("/t/acme/items"));
    out.clear();
    create
        .body
        .as_ref()
        .unwrap()
        .render(&mut user, &mut out)
        .unwrap();
    assert_eq!(out, r#"{"name":"item-5","n":1}"#);
    assert_eq!(create.checks.status, StatusCheck::OneOf(vec![201]));
    assert_eq!(create.checks.json[0].expect, JsonExpectation::Exists(true));
    assert_eq!(
        create.checks.json[1].expect,
        JsonExpectation::Equals(serde_json::json!("item"))
    );
    assert_eq!(create.checks.body_contains, ["id"]);
    assert_eq!(create.checks.headers_present, ["content-type"]);
    assert_eq!(create.captures[0].slot, CaptureSlot(1));
    assert_eq!(create.captures[0].source, CaptureSource::Json("/id".into()));
    out.clear();
    flow.steps[1].path.render(&mut user, &mut out).unwrap();
    assert_eq!(out, "/items/77");
    assert_eq!(flow.steps[1].timeout, Duration::from_secs(2));
}

#[test]
fn think_time_tls_and_user_range() {
    let yaml = "\
version: 1
name: t
load: {stages: [{users: 1, ramp: 1s}]}
think_time: {min: 100ms, max: 1s}
tls: {insecure: true}
users: {range: {from: 1, to: 10}}
requests: [{name: a, method: GET, path: /a}]
";
    let plan = parse(yaml).unwrap();
    assert_eq!(
        plan.think_time(),
        ThinkTime::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1)
        }
    );
    assert!(!plan.tls().verify_certificates);
    assert_eq!(plan.users().key(3), "demo-key-4");
    assert_eq!(plan.users().key(10), "demo-key-1");
}

#[test]
fn csv_user_pools_resolve_relative_to_the_scenario() {
    let dir = std::env::temp_dir().join(format!("loadgate-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plain.csv"), "k1\n\n# comment\nk2\n").unwrap();
    std::fs::write(dir.join("header.csv"), "id,key\n1,\"a\"\n2,b\n").unwrap();
    std::fs::write(dir.join("empty.csv"), "key\n").unwrap();
    let yaml = |file: &str| {
        format!(
            "version: 1\nname: u\nload: {{stages: [{{users: 1, ramp: 1s}}]}}\nusers: {{csv: {file}}}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
        )
    };
    let keys = |file: &str| match parse_plan("u.yaml", &yaml(file), &dir, &Vars::new()) {
        Ok(plan) => Ok(plan.users().clone()),
        Err(e) => Err(e.to_string()),
    };
    assert_eq!(
        keys("plain.csv"),
        Ok(UserPool::Keys(vec!["k1".into(), "k2".into()]))
    );
    assert_eq!(
        keys("header.csv"),
        Ok(UserPool::Keys(vec!["a".into(), "b".into()]))
    );
    let empty = keys("empty.csv").unwrap_err();
    assert_eq!(
        empty,
        format!(
            "u.yaml:4:14: users.csv: {}: the file has no keys",
            dir.join("empty.csv").display()
        )
    );
    let missing = keys("missing.csv").unwrap_err();
    assert!(
        missing.starts_with("u.yaml:4:14: users.csv: cannot read "),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(parse_keys("key,name\nk,n\n"), Ok(vec!["k".into()]));
    assert_eq!(
        parse_keys("name,id\nk,n\n"),
        Err("the header row has no `key` column".into())
    );
    assert_eq!(
        parse_keys("key,name\n,n\n"),
        Err("line 2 has no key".into())
    );
}

#[test]
fn budgets_resolve_to_microseconds_and_fractions() {
    let yaml = "\
version: 1
name: b
load: {stages: [{users: 1, ramp: 1s}, {name: steady, hold: 1m}]}
requests: [{name: a, method: GET, path: /a}]
budgets:
  during: [steady]
  overall: {p95: 200ms, p99: 500ms, max_error_rate: 1%}
  requests:
    a: {p50: 800us, p95: 2s, max_error_rate: 0.05, min_rps: 10}
";
    let plan = parse(yaml).unwrap();
    let budgets = plan.budgets();
    assert_eq!(budgets.during, Some(vec!["steady".to_owned()]));
    assert_eq!(budgets.overall.p95_us, Some(200_000));
    assert_eq!(budgets.overall.p99_us, Some(500_000));
    assert_eq!(budgets.overall.max_error_rate, Some(0.01));
    assert_eq!(budgets.requests["a"].p50_us, Some(800));
    assert_eq!(budgets.requests["a"].p95_us, Some(2_000_000));
    assert_eq!(budgets.requests["a"].max_error_rate, Some(0.05));
    assert_eq!(budgets.requests["a"].min_rps, Some(10.0));
}

// ---- errors: every path, with its exact `file:line:column: path: message` ----

#[test]
fn bad_duration_in_a_stage() {
    assert_errors(
        "\
version: 1
name: x
load:
  stages:
    - users: 10
      ramp: 30s
    - users: 10
      hold: 10 min
requests: [{name: a, method: GET, path: /a}]
",
        &[r#"s.yaml:8:13: load.stages[1].hold: "10 min" is not a duration (use 10m, 90s, 1h30m)"#],
    );
}

#[test]
fn reports_every_semantic_error_at_once() {
    assert_errors(
        "\
version: 1
name: x
load:
  stages:
    - {users: 10, ramp: -5s}
    - {name: steady, hold: 30}
think_time: ''
requests:
  - name: a
    method: GET
    path: /a/{{ nope }}
    timeout: 1 s
budgets:
  during: [stedy]
  requests:
    b: {p95: 10ms}
",
        &[
            r#"s.yaml:5:25: load.stages[0].ramp: "-5s" is not a duration (use 10m, 90s, 1h30m)"#,
            "s.yaml:6:28: load.stages[1].hold: 30 is not a duration: add a unit (use 30s, 10m, 1h30m)",
            r#"s.yaml:7:13: think_time: "" is not a duration (use 10m, 90s, 1h30m)"#,
            "s.yaml:11:11: requests[0].path: unknown placeholder `{{ nope }}` (use key, seq, random(LOW, HIGH), var.NAME or a captured name)",
            r#"s.yaml:12:14: requests[0].timeout: "1 s" is not a duration (use 10m, 90s, 1h30m)"#,
            "s.yaml:14:12: budgets.during[0]: no stage is named `stedy` (did you mean `steady`?)",
            "s.yaml:16:5: budgets.requests.b: no request or step is named `b` (names: a)",
        ],
    );
}

#[test]
fn unknown_top_level_field_suggests_the_right_one() {
    assert_errors(
        "\
version: 1
name: x
thinktime: 1s
load: {stages: [{users: 1, ramp: 1s}]}
",
        &["s.yaml:3:1: thinktime: unknown field `thinktime` (did you mean `think_time`?)"],
    );
}

#[test]
fn unknown_nested_field_suggests_the_right_one() {
    assert_errors(
        "\
version: 1
name: x
load:
  stages:
    - users: 1
      rmap: 1s
",
        &["s.yaml:6:7: load.stages[0].rmap: unknown field `rmap` (did you mean `ramp`?)"],
    );
}

#[test]
fn unknown_field_without_a_close_match_lists_the_fields() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
tls: {verify: false}
",
        &["s.yaml:4:7: tls.verify: unknown field `verify` (expected one of: insecure)"],
    );
}

#[test]
fn unknown_method_suggests_one() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: a, method: GETT, path: /a}]
",
        &["s.yaml:4:30: requests[0].method: unknown value `GETT` (did you mean `GET`?)"],
    );
}

#[test]
fn wrong_type_and_missing_fields() {
    assert_errors(
        "\
version: 1
name: x
load:
  stages:
    - {users: many, ramp: 1s}
",
        &["s.yaml:5:15: load.stages[0].users: invalid type: string \"many\", expected u32"],
    );
    assert_errors(
        "version: 1\nname: x\n",
        &["s.yaml:1:1: missing field `load`"],
    );
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: a, path: /a}]
",
        &["s.yaml:4:12: requests[0]: missing field `method`"],
    );
}

#[test]
fn yaml_syntax_errors_keep_their_position() {
    assert_errors(
        "version: 1\nname: 'x\n",
        &[
            "s.yaml:3:1: name: found unexpected end of stream, while scanning a quoted scalar at line 2 column 7",
        ],
    );
}

#[test]
fn stage_shape_errors() {
    assert_errors(
        "\
version: 1
name: x
load:
  model: closed
  max_users: 5
  stages:
    - {users: 10, ramp: 1s, hold: 1s}
    - {name: a}
    - {ramp: 1s}
    - {users: 3, hold: 1m}
    - {name: a, hold: 0s, rate: 5/s}
requests: [{name: r, method: GET, path: /r}]
",
        &[
            "s.yaml:5:3: load.max_users: `max_users` belongs to the open model (`model: open`)",
            "s.yaml:7:29: load.stages[0].hold: a stage is either a ramp or a hold, not both: split it into two stages",
            "s.yaml:8:7: load.stages[1]: a stage needs `ramp: DURATION` (with `users`) or `hold: DURATION`",
            "s.yaml:9:7: load.stages[2]: a ramp needs `users`: the users at its end",
            "s.yaml:10:15: load.stages[3].users: a hold keeps the users of the stage before (0); use a ramp to change them",
            "s.yaml:11:14: load.stages[4].name: stage name `a` is already used by load.stages[1]",
            "s.yaml:11:23: load.stages[4].hold: a hold must last longer than 0s",
            "s.yaml:11:27: load.stages[4].rate: `rate` belongs to the open model (`model: open`); a closed-model stage sets `users`",
        ],
    );
}

#[test]
fn the_open_model_needs_version_2_max_users_and_rates() {
    assert_errors(
        "\
version: 1
name: x
load:
  model: open
  stages:
    - {rate: 200/s, ramp: 30s}
    - {users: 4, hold: 1m, rate: 300/s}
    - {ramp: 5s, rate: fast}
    - {ramp: 5s}
requests: [{name: r, method: GET, path: /r}]
",
        &[
            "s.yaml:4:3: load: the open model needs `max_users`: the most requests in flight at once",
            "s.yaml:4:10: load.model: the open model needs `version: 2` (this file says version 1)",
            "s.yaml:7:8: load.stages[1].users: an open-model stage sets `rate`, not `users` (`load.max_users` bounds users)",
            "s.yaml:7:34: load.stages[1].rate: a hold keeps the rate of the stage before (200/s); use a ramp to change it",
            "s.yaml:8:24: load.stages[2].rate: \"fast\" is not an arrival rate (use 200/s, 600/m or 3600/h)",
            "s.yaml:9:7: load.stages[3]: a ramp needs `rate`: the arrival rate at its end",
        ],
    );
}

/// Both models check stage names alike: an empty name is an error in an
/// open model too, with the closed model's message, and a name is used once.
#[test]
fn stage_names_are_checked_alike_in_both_models() {
    assert_errors(
        "\
version: 2
name: x
load:
  model: open
  max_users: 5
  stages:
    - {name: '', rate: 10/s, ramp: 1s}
    - {name: steady, hold: 1m}
    - {name: steady, hold: 1m}
requests: [{name: r, method: GET, path: /r}]
",
        &[
            "s.yaml:7:14: load.stages[0].name: a stage name must not be empty",
            "s.yaml:9:14: load.stages[2].name: stage name `steady` is already used by load.stages[1]",
        ],
    );
    assert_errors(
        "\
version: 2
name: x
load:
  stages:
    - {name: '', users: 1, ramp: 1s}
    - {name: steady, hold: 1m}
    - {name: steady, hold: 1m}
requests: [{name: r, method: GET, path: /r}]
",
        &[
            "s.yaml:5:14: load.stages[0].name: a stage name must not be empty",
            "s.yaml:7:14: load.stages[2].name: stage name `steady` is already used by load.stages[1]",
        ],
    );
}

#[test]
fn an_empty_stage_list_shows_a_stage_of_its_model() {
    assert_errors(
        "\
version: 2
name: x
load: {model: open, max_users: 1, stages: []}
requests: [{name: r, method: GET, path: /r}]
",
        &["s.yaml:3:43: load.stages: add at least one stage, e.g. `- {rate: 100/s, ramp: 30s}`"],
    );
    assert_errors(
        "\
version: 2
name: x
load: {stages: []}
requests: [{name: r, method: GET, path: /r}]
",
        &["s.yaml:3:16: load.stages: add at least one stage, e.g. `- {users: 10, ramp: 30s}`"],
    );
}

#[test]
fn dropped_rate_budgets_belong_to_an_open_model_overall() {
    assert_errors(
        "\
version: 2
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
budgets:
  overall: {max_dropped_rate: 1%}
  requests:
    r: {max_dropped_rate: 2%}
",
        &[
            "s.yaml:6:13: budgets.overall.max_dropped_rate: only an open model (`model: open`) drops arrivals",
            "s.yaml:8:9: budgets.requests.r.max_dropped_rate: arrivals are dropped before a request is chosen: put max_dropped_rate under budgets.overall",
        ],
    );
}

#[test]
fn an_open_model_limits_its_dropped_arrivals_to_1_percent_unless_it_says_otherwise() {
    let open = |budgets: &str| {
        parse(&format!(
            "version: 2
name: x
load: {{model: open, max_users: 2, stages: [{{rate: 10/s, ramp: 1s}}]}}
requests: [{{name: r, method: GET, path: /r}}]
{budgets}"
        ))
        .unwrap()
        .budgets()
        .overall
        .max_dropped_rate
    };
    assert_eq!(open(""), Some(0.01), "no budgets at all");
    assert_eq!(open("budgets:\n  overall: {p99: 1s}"), Some(0.01));
    assert_eq!(
        open("budgets:\n  overall: {max_dropped_rate: 5%}"),
        Some(0.05)
    );
    let closed = parse(
        "version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
",
    )
    .unwrap();
    assert_eq!(closed.budgets().overall.max_dropped_rate, None);
}

#[test]
fn open_model_arrivals_follow_the_rates() {
    let plan = parse_plan(
        "s.yaml",
        "\
version: 2
name: x
load:
  model: open
  max_users: 50
  stages:
    - {rate: 100/s, ramp: 2s}
    - {name: steady, hold: 3s}
    - {rate: 6000/m, ramp: 1s}
requests: [{name: r, method: GET, path: /r}]
",
        Path::new("."),
        &Vars::new(),
    )
    .unwrap();
    assert_eq!(plan.peak_users(), 50);
    assert_eq!(shape(&plan), "50,2s;50,3s;50,1s");
    let arrivals: Vec<Duration> = plan.timeline(SECOND).arrivals().collect();
    // A ramp 0 → 100/s over 2 s brings 100 arrivals, the hold 300, the
    // last stage (100/s held, as 6000/m) 100.
    assert_eq!(arrivals.len(), 500);
    assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "in order");
    let in_hold: Vec<&Duration> = arrivals
        .iter()
        .filter(|t| **t >= Duration::from_secs(2) && **t < Duration::from_secs(5))
        .collect();
    assert_eq!(in_hold.len(), 300);
    let gap = *in_hold[1] - *in_hold[0];
    assert!(
        (gap.as_secs_f64() - 0.01).abs() < 1e-6,
        "evenly spaced: {gap:?}"
    );
    // On the ramp, arrivals come closer together.
    assert!(arrivals[1] - arrivals[0] > arrivals[99] - arrivals[98]);

    // Half the rate over half the time, on the engine's whole seconds: 1 s,
    // 1.5 s and 0.5 s run as 1 s, 2 s and 1 s (a stage keeps at least one),
    // so 25 + 100 + 50 arrivals.
    let scaled = plan.scaled(0.5).unwrap();
    assert_eq!(scaled.peak_users(), 25);
    assert_eq!(shape(&scaled), "25,1s;25,2s;25,1s");
    assert_eq!(scaled.timeline(SECOND).arrivals().count(), 175);
}

#[test]
fn load_without_users_or_time() {
    assert_errors(
        "\
version: 6
name: ''
target: localhost:8080
load: {stages: [{users: 0, ramp: 0s}]}
",
        &[
            "s.yaml:1:1: nothing to send: add `requests` (a weighted mix) or `flows`",
            "s.yaml:1:10: version: version 6 is not supported; this loadgate reads versions 1 to 5",
            "s.yaml:2:7: name: the name must not be empty",
            "s.yaml:3:9: target: \"localhost:8080\" is not an http:// or https:// URL",
            "s.yaml:4:16: load.stages: no stage has any users: ramp to at least 1 user",
            "s.yaml:4:16: load.stages: the stages add up to 0s",
        ],
    );
}

#[test]
fn capture_scope_errors() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - {name: s, method: GET, path: '/{{ later }}', capture: {tok: /t}}
requests:
  - name: r
    method: GET
    path: /r/{{ item_id }}
    capture: {other: /id}
flows:
  - name: f
    steps:
      - {name: a, method: GET, path: '/a/{{ item_id }}', capture: {item_id: /id, tok: /x}}
      - {name: b, method: GET, path: /b, capture: {seq: /x, ok: 'no-slash'}, weight: 2}
  - name: g
    steps:
      - {name: c, method: GET, path: '/c/{{ item_id }}', capture: {later: /l}}
",
        &[
            "s.yaml:5:34: setup[0].path: `{{ later }}` is not captured before this point (setup steps can use values captured by earlier setup steps)",
            "s.yaml:9:11: requests[0].path: `{{ item_id }}` is not captured before this point (the `requests` mix can use values captured in `setup`)",
            "s.yaml:10:5: requests[0].capture: the `requests` mix runs in random order, so nothing can rely on its captures: capture in `setup` or in a flow",
            "s.yaml:14:38: flows[0].steps[0].path: `{{ item_id }}` is not captured before this point (a flow step can use values captured in `setup` or by earlier steps of its flow)",
            "s.yaml:14:82: flows[0].steps[0].capture.tok: `tok` is already captured in `setup`: pick another name",
            "s.yaml:15:52: flows[0].steps[1].capture.seq: `seq` cannot name a capture: use letters, digits and _ (not key, seq, random or var)",
            "s.yaml:15:65: flows[0].steps[1].capture.ok: \"no-slash\" is not a JSON pointer (e.g. /id or /items/0/id) or a response header (header:X-Request-Id)",
            "s.yaml:15:78: flows[0].steps[1].weight: `weight` applies to the `requests` mix and to flows, not to setup or flow steps",
            "s.yaml:18:38: flows[1].steps[0].path: `{{ item_id }}` is not captured before this point (a flow step can use values captured in `setup` or by earlier steps of its flow)",
        ],
    );
}

#[test]
fn request_errors() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
think_time: {min: 2s, max: 1s}
users: {range: {from: 0, to: 5}}
requests:
  - name: a
    weight: 0
    method: GET
    path: api/{{ key
    headers: {X-Tenant: '{{ var.MISSING }}'}
    body:
      list: [1, '{{ kye }}']
    timeout: 0s
    checks:
      status: [99]
      json: [{pointer: id, exists: true}, {pointer: /x}]
  - {name: a, method: GET, path: /a}
flows:
  - {name: f, steps: []}
",
        &[
            "s.yaml:4:28: think_time.max: `max` (1s) is shorter than `min` (2s)",
            "s.yaml:5:16: users.range: `from` (0) must be at least 1 and at most `to` (5)",
            "s.yaml:8:13: requests[0].weight: weight 0 must be a number greater than 0",
            "s.yaml:10:11: requests[0].path: \"api/{{ key\" must start with `/`: the target supplies scheme and host",
            "s.yaml:10:11: requests[0].path: `{{` is never closed with `}}` in \"api/{{ key\"",
            "s.yaml:11:25: requests[0].headers.X-Tenant: `{{ var.MISSING }}` is not set (pass --var MISSING=VALUE or set MISSING in the environment)",
            "s.yaml:13:17: requests[0].body.list[1]: unknown placeholder `{{ kye }}` (did you mean `{{ key }}`?)",
            "s.yaml:14:14: requests[0].timeout: a timeout must be longer than 0s",
            "s.yaml:16:15: requests[0].checks.status: 99 is not an HTTP status code (100-599)",
            "s.yaml:17:24: requests[0].checks.json[0].pointer: \"id\" is not a JSON pointer (e.g. /id or /items/0/id)",
            "s.yaml:17:43: requests[0].checks.json[1]: give exactly one of `equals` or `exists`",
            "s.yaml:18:12: requests[1].name: `a` is already the name of requests[0]",
            "s.yaml:20:22: flows[0].steps: a flow needs at least one step",
        ],
    );
}

#[test]
fn budget_errors() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: get_server, method: GET, path: /s}]
budgets:
  during: [steady]
  overall: {p50: 300ms, p95: 200ms, max_error_rate: 2, min_rps: -1}
  requests:
    get_sever: {p99: 1x, max_error_rate: 'one%'}
",
        &[
            "s.yaml:6:12: budgets.during[0]: no stage is named `steady` (no stage has a name: add `name:` to a stage)",
            "s.yaml:7:30: budgets.overall.p95: p95 (200ms) is below p50 (300ms): a higher percentile cannot be faster",
            "s.yaml:7:53: budgets.overall.max_error_rate: 2 is not an error rate (use 1% or 0.01, between 0 and 1)",
            "s.yaml:7:65: budgets.overall.min_rps: -1 is not a request rate (a number of requests per second, 0 or more)",
            "s.yaml:9:5: budgets.requests.get_sever: no request or step is named `get_sever` (did you mean `get_server`?)",
            "s.yaml:9:22: budgets.requests.get_sever.p99: \"1x\" is not a duration (use 10m, 90s, 1h30m)",
            "s.yaml:9:42: budgets.requests.get_sever.max_error_rate: \"one%\" is not an error rate (use 1% or 0.01, between 0 and 1)",
        ],
    );
}

#[test]
fn unreadable_file_is_an_error_too() {
    let err = load_plan(Path::new("/nonexistent/x.yaml"), &Vars::new()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/x.yaml:1:1: cannot read the scenario: "),
        "{err}"
    );
}

/// A cheap stand-in for fuzzing: every prefix of every shipped scenario, and
/// a few degenerate documents, must give a plan or errors, never a panic.
#[test]
fn truncated_and_degenerate_input_never_panics() {
    for text in [
        "",
        "~",
        "[]",
        "42",
        "version: 1",
        "---\n---\n",
        "a: &x 1\nb: *x\n",
        "? [a]\n: 1\n",
    ] {
        assert!(parse(text).is_err(), "{text:?}");
    }
    for path in super::shipped_tests::shipped_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                let _ = parse(&text[..cut]);
            }
            cut += 13;
        }
    }
}

#[test]
fn untagged_value_errors_say_what_is_expected() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: a, method: GET, path: /a, checks: {status: ok}}]
",
        &["s.yaml:4:62: requests[0].checks.status: expected one value or a list of values"],
    );
}

#[test]
fn user_pool_and_body_shape_errors() {
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
users: {csv: k.csv, range: {from: 1, to: 2}}
requests:
  - name: a
    method: POST
    path: /a
    body: {when: !now x, 1: ok, list: [{? [k] : v}]}
",
        &[
            "s.yaml:4:21: users.range: give either `csv` or `range`, not both",
            "s.yaml:9:18: requests[0].body.when: YAML tags (`!name`) cannot be written as JSON",
            "s.yaml:9:40: requests[0].body.list[0]: JSON object keys must be strings",
        ],
    );
    assert_errors(
        "\
version: 1
name: x
load: {stages: [{users: 1, ramp: 1s}]}
users: {}
requests: [{name: a, method: GET, path: /a}]
",
        &["s.yaml:4:8: users: give `csv: path/to/keys.csv` or `range: {from: 21, to: 1000}`"],
    );
}

#[test]
fn version_3_fields_resolve() {
    let plan = parse(
        "\
version: 3
name: x
pace: 250ms
server_metrics: {url: /metrics}
load: {stages: [{users: 2, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
budgets:
  overall: {p99: 500ms, abort: {window: 10s, after: 30s}}
  server:
    cache_hit_ratio: {min: 85%}
    db_pool_utilization: {max: 0.8}
",
    )
    .unwrap();
    assert_eq!(plan.pace(), Some(Duration::from_millis(250)));
    assert_eq!(plan.server_metrics(), Some("/metrics"));
    let budgets = plan.budgets();
    assert_eq!(
        budgets.overall.abort,
        Some(crate::plan::AbortWhen {
            window: Duration::from_secs(10),
            after: Duration::from_secs(30)
        })
    );
    assert_eq!(budgets.server.min_cache_hit_ratio, Some(0.85));
    assert_eq!(budgets.server.max_db_pool_utilization, Some(0.8));
}

#[test]
fn version_3_fields_need_version_3_and_sound_values() {
    assert_errors(
        "\
version: 2
name: x
pace: 0s
think_time: 1s
server_metrics: {url: metrics}
load: {stages: [{users: 2, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
budgets:
  overall: {min_rps: 5, abort: {window: 500ms, after: 30s}}
  requests:
    r: {abort: {window: 5s, after: 5s}}
  server:
    cache_hit_ratio: {min: 120%}
",
        &[
            "s.yaml:3:1: pace: `pace` needs `version: 3` (this file says version 2)",
            "s.yaml:3:1: pace: pace and think_time both set the time between iterations: keep one",
            "s.yaml:3:7: pace: the pace must be longer than 0",
            "s.yaml:5:1: server_metrics: `server_metrics` needs `version: 3` (this file says version 2)",
            "s.yaml:5:23: server_metrics.url: \"metrics\" is neither an http(s):// URL nor a path below the target (/metrics)",
            "s.yaml:9:25: budgets.overall.abort: `budgets.overall.abort` needs `version: 3` (this file says version 2)",
            "s.yaml:9:41: budgets.overall.abort.window: the window must be at least 1s: budgets are checked once a second",
            "s.yaml:11:9: budgets.requests.r.abort: abort watches latency (p50, p95, p99) and error-rate limits: this budget has none",
            "s.yaml:11:9: budgets.requests.r.abort: `budgets.requests.r.abort` needs `version: 3` (this file says version 2)",
            "s.yaml:12:3: budgets.server: `budgets.server` needs `version: 3` (this file says version 2)",
            "s.yaml:13:28: budgets.server.cache_hit_ratio.min: \"120%\" is not a cache hit ratio (use 1% or 0.01, between 0 and 1)",
        ],
    );
}

// ---- version 4: cookies, http_version, redirects, header captures ----

#[test]
fn version_4_fields_resolve() {
    let plan = parse(
        "\
version: 4
name: x
cookies: false
http_version: HTTP/1.1
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - name: login
    method: POST
    path: /login
    redirects: 0
    capture: {token: 'header:X-Request-Token', etag: 'header: ETag', id: /id}
flows:
  - name: f
    steps:
      - {name: a, method: GET, path: '/a/{{ id }}', headers: {X-Token: '{{ token }}'}, redirects: 20}
      - {name: b, method: GET, path: /b}
",
    )
    .unwrap();
    assert!(!plan.cookies());
    let login = &plan.setup()[0];
    assert_eq!(login.redirects, 0);
    let sources: Vec<(&str, &CaptureSource)> = login
        .captures
        .iter()
        .map(|c| (c.name.as_str(), &c.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("token", &CaptureSource::Header("x-request-token".into())),
            ("etag", &CaptureSource::Header("etag".into())),
            ("id", &CaptureSource::Json("/id".into())),
        ]
    );
    assert_eq!(plan.capture_names(), ["token", "etag", "id"]);
    let Work::Flow(flow) = &plan.work()[0].work else {
        panic!("a flow")
    };
    assert_eq!(flow.steps[0].redirects, MAX_REDIRECTS);
    assert_eq!(flow.steps[1].redirects, DEFAULT_REDIRECTS);
}

#[test]
fn version_4_defaults_when_left_out() {
    let plan = parse(
        "\
version: 4
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
",
    )
    .unwrap();
    assert!(plan.cookies());
    assert_eq!(plan.work()[0].work.steps()[0].redirects, 10);
    let with_cookies = parse(
        "\
version: 4
name: x
cookies: true
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
",
    )
    .unwrap();
    assert!(with_cookies.cookies());
}

#[test]
fn http_1_1_is_accepted_however_written() {
    for written in ["1.1", "'1.1'", "HTTP/1.1", "http/1.1", "'Http/1.1'", "~"] {
        let yaml = format!(
            "version: 4\nname: x\nhttp_version: {written}\nload: {{stages: [{{users: 1, ramp: 1s}}]}}\nrequests: [{{name: r, method: GET, path: /r}}]\n"
        );
        if let Err(e) = parse(&yaml) {
            panic!("{written}: {e}");
        }
    }
}

#[test]
fn http_2_is_refused_at_the_field() {
    for written in ["2", "2.0", "h2", "H2", "HTTP/2", "'http/2'", "HTTP/2.0"] {
        let yaml = format!(
            "version: 4\nname: x\nhttp_version: {written}\nload: {{stages: [{{users: 1, ramp: 1s}}]}}\nrequests: [{{name: r, method: GET, path: /r}}]\n"
        );
        let shown = written.trim_matches('\'');
        assert_errors(
            &yaml,
            &[&format!(
                "s.yaml:3:15: http_version: \"{shown}\" is HTTP/2, which loadgate does not support: it speaks HTTP/1.1 only (see \"Protocols\" in scenarios/README.md)"
            )],
        );
    }
}

#[test]
fn other_http_versions_name_the_accepted_one() {
    for written in ["1.0", "HTTP/3", "h3", "'1'", "'HTTP 1.1'"] {
        let yaml = format!(
            "version: 4\nname: x\nhttp_version: {written}\nload: {{stages: [{{users: 1, ramp: 1s}}]}}\nrequests: [{{name: r, method: GET, path: /r}}]\n"
        );
        let shown = written.trim_matches('\'');
        assert_errors(
            &yaml,
            &[&format!(
                "s.yaml:3:15: http_version: \"{shown}\" is not an HTTP version loadgate speaks: the only accepted value is \"1.1\" (or \"HTTP/1.1\")"
            )],
        );
    }
}

#[test]
fn version_4_fields_need_version_4() {
    assert_errors(
        "\
version: 3
name: x
cookies: false
http_version: '1.1'
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - {name: s, method: GET, path: /s, redirects: 3, capture: {tok: 'header:X-Token', id: /id}}
requests:
  - name: r
    method: GET
    path: /r
    redirects: 0
",
        &[
            "s.yaml:3:1: cookies: `cookies` needs `version: 4` (this file says version 3)",
            "s.yaml:4:1: http_version: `http_version` needs `version: 4` (this file says version 3)",
            "s.yaml:7:38: setup[0].redirects: `setup[0].redirects` needs `version: 4` (this file says version 3)",
            "s.yaml:7:67: setup[0].capture.tok: a capture from a response header (`header:Name`) needs `version: 4` (this file says version 3)",
            "s.yaml:12:5: requests[0].redirects: `requests[0].redirects` needs `version: 4` (this file says version 3)",
        ],
    );
}

#[test]
fn latency_of_needs_version_5_and_is_all_or_ok() {
    assert_errors(
        "\
version: 4
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
budgets: {latency_of: ok}
",
        &[
            "s.yaml:5:11: budgets.latency_of: `budgets.latency_of` needs `version: 5` (this file says version 4)",
        ],
    );
    let judged = |value: &str| {
        let yaml = format!(
            "version: 5\nname: x\nload: {{stages: [{{users: 1, ramp: 1s}}]}}\nrequests: [{{name: r, method: GET, path: /r}}]\nbudgets: {{{value}}}\n"
        );
        parse(&yaml).map(|plan| plan.budgets().latency_of)
    };
    assert_eq!(judged("latency_of: ok").unwrap(), LatencyOf::Ok);
    assert_eq!(judged("latency_of: all").unwrap(), LatencyOf::All);
    assert_eq!(
        judged("during: null").unwrap(),
        LatencyOf::All,
        "the default"
    );
    let bad = judged("latency_of: failed").unwrap_err().to_string();
    assert!(bad.contains("s.yaml:5:23: budgets.latency_of"), "{bad}");
    assert!(bad.contains("expected one of: all, ok"), "{bad}");
}

#[test]
fn version_4_values_are_checked_in_older_files_too() {
    // The version error does not hide what else is wrong with the value.
    assert_errors(
        "\
version: 2
name: x
http_version: h2
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r, redirects: 21}]
",
        &[
            "s.yaml:3:1: http_version: `http_version` needs `version: 4` (this file says version 2)",
            "s.yaml:3:15: http_version: \"h2\" is HTTP/2, which loadgate does not support: it speaks HTTP/1.1 only (see \"Protocols\" in scenarios/README.md)",
            "s.yaml:5:45: requests[0].redirects: `requests[0].redirects` needs `version: 4` (this file says version 2)",
            "s.yaml:5:56: requests[0].redirects: 21 redirects is more than loadgate follows: use 0 (follow none) to 20",
        ],
    );
}

#[test]
fn bad_redirects_and_header_captures() {
    assert_errors(
        "\
version: 4
name: x
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - name: s
    method: GET
    path: /s
    redirects: 300
    capture:
      a: 'header:'
      b: 'header:X Token'
      c: 'header:x:y'
      d: 'Header:X-Token'
      e: /ok
requests: [{name: r, method: GET, path: /r, redirects: 4294967295}]
",
        &[
            "s.yaml:8:16: setup[0].redirects: 300 redirects is more than loadgate follows: use 0 (follow none) to 20",
            "s.yaml:10:10: setup[0].capture.a: \"header:\" names no header: write one after the colon, e.g. header:X-Request-Id",
            "s.yaml:11:10: setup[0].capture.b: \"X Token\" is not an HTTP header name: use letters, digits and -, e.g. header:X-Request-Id",
            "s.yaml:12:10: setup[0].capture.c: \"x:y\" is not an HTTP header name: use letters, digits and -, e.g. header:X-Request-Id",
            "s.yaml:13:10: setup[0].capture.d: \"Header:X-Token\" is not a JSON pointer (e.g. /id or /items/0/id) or a response header (header:X-Request-Id)",
            "s.yaml:15:56: requests[0].redirects: 4294967295 redirects is more than loadgate follows: use 0 (follow none) to 20",
        ],
    );
}

#[test]
fn structural_errors_of_version_4_fields() {
    assert_errors(
        "\
version: 4
name: x
cookies: maybe
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r}]
",
        &["s.yaml:3:10: cookies: invalid type: string \"maybe\", expected a boolean"],
    );
    assert_errors(
        "\
version: 4
name: x
load: {stages: [{users: 1, ramp: 1s}]}
requests: [{name: r, method: GET, path: /r, redirects: -1}]
",
        &["s.yaml:4:56: requests[0].redirects: invalid type: integer `-1`, expected u32"],
    );
}

/// The README's form: a plain, unquoted `header:Name` in block style.
#[test]
fn header_captures_need_no_quotes() {
    let plan = parse(
        "\
version: 4
name: x
load: {stages: [{users: 1, ramp: 1s}]}
setup:
  - name: login
    method: POST
    path: /login
    capture:
      request_id: header:X-Request-Id
requests: [{name: r, method: GET, path: '/r/{{ request_id }}'}]
",
    )
    .unwrap();
    assert_eq!(
        plan.setup()[0].captures[0].source,
        CaptureSource::Header("x-request-id".into())
    );
}
