//! What rendering one templated request costs:
//! `harness::run::request::PreparedStep::render`, which every virtual user
//! calls before every send. It fills the path, each templated header value
//! and the JSON body of a step prepared once per run into buffers the user
//! keeps across requests, and builds the header values hyper sends. It
//! runs once per request on the generator's cores.
//!
//! The step comes from a plan built by `harness::parse_plan` from the small
//! scenario below, so the templates are compiled exactly as in a run; it
//! uses every kind of run-time placeholder: `{{ key }}`, `{{ seq }}`,
//! `{{ random(1, 100) }}` and a value captured by the setup step, in the
//! path, in headers and in the body, over a virtual user's own
//! `TemplateState` (key, capture table, `SmallRng`, sequence number).
//!
//! `cargo bench -p benches --bench render_request`

use std::{hint::black_box, path::Path};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::{
    Vars,
    run::{
        exchange::Transport,
        request::{Buffers, PreparedPlan},
        user::TemplateState,
    },
};

const SCENARIO: &str = r#"
version: 1
name: Render bench
load:
  model: closed
  stages:
    - {name: steady, users: 1, ramp: 1s}
setup:
  - name: find_server
    method: GET
    path: /api/v1/servers?page=1&per_page=10
    headers:
      Authorization: Bearer {{ key }}
    capture:
      my_server_id: /items/0/id
requests:
  - name: rename_server
    weight: 1
    method: PATCH
    path: /api/v1/servers/{{ my_server_id }}?attempt={{ seq }}&shard={{ random(1, 100) }}
    headers:
      Authorization: Bearer {{ key }}
      X-Request-Id: loadgate-{{ seq }}
      Content-Type: application/json
    body:
      name: "loadgate-{{ key }}-{{ seq }}"
      status: running
      priority: "{{ random(1, 100) }}"
      parent: "{{ my_server_id }}"
      config:
        url: http://127.0.0.1:9000/mcp
        args: ["--port", "9001", "--verbose"]
        env: {REGION: eu-1}
"#;

fn render_request(c: &mut Criterion) {
    let plan = harness::parse_plan("render.yaml", SCENARIO, Path::new("."), &Vars::new())
        .expect("the bench scenario is valid");
    let names: Vec<String> = plan
        .request_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let transport = Transport::new("http://127.0.0.1:8080", true, true).expect("a valid target");
    let prepared = PreparedPlan::new(&plan, &names, &transport);
    let step = &prepared.work[0][0];
    let mut user = TemplateState::new(&plan, 0);
    let slot = plan
        .capture_names()
        .iter()
        .position(|name| name == "my_server_id")
        .expect("the setup captures my_server_id");
    user.captures[slot] = Some("4242".to_owned());
    let mut buffers = Buffers::default();

    let example = step
        .render(&mut user, &mut buffers)
        .expect("every placeholder has a value");
    let body: serde_json::Value =
        serde_json::from_slice(example.body.expect("a body")).expect("the body is JSON");
    assert_eq!(body["parent"], "4242");
    assert!(body["priority"].is_i64(), "a lone random() is a number");
    assert!(
        example
            .path
            .starts_with("/api/v1/servers/4242?attempt=0&shard=")
    );
    assert_eq!(
        example.headers.iter().next().map(|(_, value)| value),
        Some(&b"Bearer demo-key-21"[..])
    );

    let mut group = c.benchmark_group("template");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "render one request (path, 3 headers, JSON body) into reused buffers",
        |b| {
            b.iter(|| {
                user.seq += 1;
                black_box(step.render(&mut user, &mut buffers).map(|r| r.path.len()))
            });
        },
    );
    group.finish();
}

criterion_group!(benches, render_request);
criterion_main!(benches);
