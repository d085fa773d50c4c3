//! What rendering one templated request costs: the work
//! `harness::user::VirtualUser::render` does before every send, filling
//! the path, each header value and the JSON body of a compiled step into
//! fresh strings. It runs once per request on the generator's cores.
//!
//! The step comes from a plan built by `harness::parse_plan` from the small
//! scenario below, so the templates are compiled exactly as in a run; it
//! uses every kind of run-time placeholder: `{{ key }}`, `{{ seq }}`,
//! `{{ random(1, 100) }}` and a value captured by the setup step, in the
//! path, in headers and in the body. `VirtualUser::render` is private and
//! its user needs an HTTP client, so the loop below repeats its body line
//! for line over a context with the same state (key, capture table,
//! `SmallRng`, sequence number); keep the two in step. A second line
//! renders the same request into buffers kept across requests, which the
//! harness does not do (yet), to size what that would save.
//!
//! `cargo bench -p benches --bench render_request`

use std::{hint::black_box, path::Path};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::{
    Vars,
    plan::{Step, Work},
    template::{CaptureSlot, TemplateContext},
};
use rand::{Rng, SeedableRng, rngs::SmallRng};

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

/// A virtual user's rendering state, as `VirtualUser` holds it.
struct User {
    key: String,
    captures: Vec<Option<String>>,
    rng: SmallRng,
    seq: u64,
}

impl TemplateContext for User {
    fn key(&self) -> &str {
        &self.key
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn random(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..=high)
    }

    fn captured(&self, slot: CaptureSlot) -> Option<&str> {
        self.captures.get(slot.0)?.as_deref()
    }
}

/// A step with its placeholders filled in, as `user::Rendered`.
struct Rendered {
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// `VirtualUser::render`, line for line.
fn render(user: &mut User, step: &Step) -> Option<Rendered> {
    let mut path = String::new();
    step.path.render(user, &mut path).ok()?;
    let mut headers = Vec::with_capacity(step.headers.len());
    for (name, value) in &step.headers {
        let mut text = String::new();
        value.render(user, &mut text).ok()?;
        headers.push((name.clone(), text));
    }
    let body = match &step.body {
        None => None,
        Some(template) => {
            let mut text = String::new();
            template.render(user, &mut text).ok()?;
            Some(text)
        }
    };
    Some(Rendered {
        path,
        headers,
        body,
    })
}

fn render_request(c: &mut Criterion) {
    let plan = harness::parse_plan("render.yaml", SCENARIO, Path::new("."), &Vars::new())
        .expect("the bench scenario is valid");
    let step = match &plan.work()[0].work {
        Work::Request(step) => step,
        Work::Flow(_) => unreachable!("the scenario has one request"),
    };
    let mut captures = vec![None; plan.capture_names().len()];
    let slot = plan
        .capture_names()
        .iter()
        .position(|name| name == "my_server_id")
        .expect("the setup captures my_server_id");
    captures[slot] = Some("4242".to_owned());
    let mut user = User {
        key: plan.users().key(0).into_owned(),
        captures,
        rng: SmallRng::seed_from_u64(0),
        seq: 0,
    };

    let example = render(&mut user, step).expect("every placeholder has a value");
    let body: serde_json::Value =
        serde_json::from_str(example.body.as_deref().expect("a body")).expect("the body is JSON");
    assert_eq!(body["parent"], "4242");
    assert!(body["priority"].is_i64(), "a lone random() is a number");
    assert!(
        example
            .path
            .starts_with("/api/v1/servers/4242?attempt=0&shard=")
    );
    assert_eq!(example.headers[0].1, "Bearer demo-key-21");

    let mut group = c.benchmark_group("template");
    group.throughput(Throughput::Elements(1));
    group.bench_function("render one request (path, 3 headers, JSON body)", |b| {
        b.iter(|| {
            user.seq += 1;
            black_box(render(&mut user, black_box(step)))
        });
    });
    // Not what the harness does today: the same rendering into one set of
    // buffers per user, cleared before each request (`exchange::Outgoing`
    // only borrows them), to size what reusing them would save.
    let mut reused = Rendered {
        path: String::new(),
        headers: step
            .headers
            .iter()
            .map(|(name, _)| (name.clone(), String::new()))
            .collect(),
        body: Some(String::new()),
    };
    group.bench_function("same, into buffers reused across requests", |b| {
        b.iter(|| {
            user.seq += 1;
            let step = black_box(step);
            reused.path.clear();
            step.path.render(&mut user, &mut reused.path).ok()?;
            for ((_, value), (_, text)) in step.headers.iter().zip(&mut reused.headers) {
                text.clear();
                value.render(&mut user, text).ok()?;
            }
            if let (Some(template), Some(text)) = (&step.body, &mut reused.body) {
                text.clear();
                template.render(&mut user, text).ok()?;
            }
            Some(black_box(&reused).path.len())
        });
    });
    group.finish();
}

criterion_group!(benches, render_request);
criterion_main!(benches);
