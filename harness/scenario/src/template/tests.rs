use std::collections::{HashMap, HashSet};

use super::*;

struct Ctx {
    key: String,
    seq: u64,
    captured: Vec<Option<String>>,
}

impl TemplateContext for Ctx {
    fn key(&self) -> &str {
        &self.key
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn random(&mut self, low: i64, high: i64) -> i64 {
        (low + high) / 2
    }
    fn captured(&self, slot: CaptureSlot) -> Option<&str> {
        self.captured.get(slot.0).and_then(|v| v.as_deref())
    }
}

fn ctx() -> Ctx {
    Ctx {
        key: "demo-key-21".into(),
        seq: 7,
        captured: vec![Some("42".into()), None, Some("a\"b".into())],
    }
}

struct Fixture {
    vars: Vars,
    visible: HashMap<String, CaptureSlot>,
    elsewhere: HashSet<String>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            vars: Vars::new().set("TENANT", "acme").set("QUOTE", "say \"hi\""),
            visible: [
                ("server_id".to_owned(), CaptureSlot(0)),
                ("token".to_owned(), CaptureSlot(1)),
                ("weird".to_owned(), CaptureSlot(2)),
            ]
            .into(),
            elsewhere: ["later_id".to_owned()].into(),
        }
    }
    fn scope(&self) -> Scope<'_> {
        Scope {
            vars: &self.vars,
            visible: &self.visible,
            elsewhere: &self.elsewhere,
            rule: "test rule",
        }
    }
    fn compile(&self, text: &str) -> Result<Template, Vec<String>> {
        Template::compile(text, &self.scope())
    }
    fn render(&self, text: &str) -> String {
        let mut out = String::new();
        self.compile(text)
            .unwrap()
            .render(&mut ctx(), &mut out)
            .unwrap();
        out
    }
}

#[test]
fn renders_every_placeholder_kind() {
    let f = Fixture::new();
    assert_eq!(f.render("/plain"), "/plain");
    assert_eq!(f.render("Bearer {{ key }}"), "Bearer demo-key-21");
    assert_eq!(f.render("srv-{{seq}}"), "srv-7");
    assert_eq!(f.render("{{ random(1, 1000) }}"), "500");
    assert_eq!(f.render("{{ random( -10 ,10 ) }}"), "0");
    assert_eq!(f.render("/t/{{ var.TENANT }}/x"), "/t/acme/x");
    assert_eq!(f.render("/servers/{{ server_id }}"), "/servers/42");
    assert_eq!(f.render("{ single braces }"), "{ single braces }");
}

#[test]
fn variables_become_literals_at_compile_time() {
    let f = Fixture::new();
    let t = f.compile("/t/{{ var.TENANT }}").unwrap();
    assert_eq!(t.as_literal(), Some("/t/acme"));
    assert_eq!(f.compile("{{ key }}").unwrap().as_literal(), None);
}

#[test]
fn render_appends_to_a_reused_buffer() {
    let f = Fixture::new();
    let t = f.compile("/s/{{ seq }}").unwrap();
    let mut out = String::from("GET ");
    t.render(&mut ctx(), &mut out).unwrap();
    assert_eq!(out, "GET /s/7");
}

#[test]
fn missing_capture_is_a_render_error() {
    let f = Fixture::new();
    let t = f.compile("Bearer {{ token }}").unwrap();
    let mut out = String::new();
    assert_eq!(
        t.render(&mut ctx(), &mut out),
        Err(RenderError::MissingCapture("token".into()))
    );
    assert_eq!(t.captures().collect::<Vec<_>>(), vec![CaptureSlot(1)]);
}

#[test]
fn compile_errors() {
    let f = Fixture::new();
    let cases: &[(&str, &str)] = &[
        (
            "{{ nope }}",
            "unknown placeholder `{{ nope }}` (use key, seq, random(LOW, HIGH), var.NAME or a captured name)",
        ),
        (
            "{{ kye }}",
            "unknown placeholder `{{ kye }}` (did you mean `{{ key }}`?)",
        ),
        (
            "{{ server_idd }}",
            "unknown placeholder `{{ server_idd }}` (did you mean `{{ server_id }}`?)",
        ),
        (
            "{{ 1 + 1 }}",
            "unknown placeholder `{{ 1 + 1 }}` (use key, seq, random(LOW, HIGH), var.NAME or a captured name)",
        ),
        ("{{ }}", "empty placeholder `{{ }}`"),
        (
            "/a/{{ key",
            "`{{` is never closed with `}}` in \"/a/{{ key\"",
        ),
        (
            "/a/{{ key {{ seq }}",
            "`{{` is never closed with `}}` in \"/a/{{ key {{ seq }}\"",
        ),
        ("/a/key }}", "`}}` without a matching `{{` in \"/a/key }}\""),
        (
            "{{ random(5, 1) }}",
            "`{{ random(5, 1) }}`: low (5) is greater than high (1)",
        ),
        (
            "{{ random(a, 1) }}",
            "`{{ random(a, 1) }}` needs two integers, low and high: `{{ random(1, 1000) }}`",
        ),
        (
            "{{ random(1) }}",
            "`{{ random(1) }}` needs two integers, low and high: `{{ random(1, 1000) }}`",
        ),
        (
            "{{ var.NOPE }}",
            "`{{ var.NOPE }}` is not set (pass --var NOPE=VALUE or set NOPE in the environment)",
        ),
        (
            "{{ var.1x }}",
            "`{{ var.1x }}`: `1x` is not a variable name",
        ),
        (
            "{{ later_id }}",
            "`{{ later_id }}` is not captured before this point (test rule)",
        ),
    ];
    for (text, want) in cases {
        let got = f.compile(text).unwrap_err();
        assert_eq!(
            got,
            vec![want.to_string()],
            "\n text: {text}\n  got: {got:?}\n want: {want}"
        );
    }
    let several = f.compile("{{ a1 }}/{{ b2 }}").unwrap_err();
    assert_eq!(several.len(), 2);
}

#[test]
fn json_bodies() {
    let f = Fixture::new();
    let body: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        "name: \"srv-{{ key }}-{{ seq }}\"\ntransport: stdio\nn: \"{{ seq }}\"\nr: \"{{ random(2, 4) }}\"\nnote: \"{{ weird }} {{ var.QUOTE }}\"\nconfig: {a: [1, true, null, 2.5]}\n",
    )
    .unwrap();
    let t = Template::compile_json(&body, &f.scope()).unwrap();
    let mut out = String::new();
    t.render(&mut ctx(), &mut out).unwrap();
    assert_eq!(
        out,
        r#"{"name":"srv-demo-key-21-7","transport":"stdio","n":7,"r":3,"note":"a\"b say \"hi\"","config":{"a":[1,true,null,2.5]}}"#
    );
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["note"], "a\"b say \"hi\"");
}

#[test]
fn json_body_errors_carry_relative_paths() {
    let f = Fixture::new();
    let body: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("config:\n  list: [ok, \"{{ nope }}\"]\n").unwrap();
    let errors = Template::compile_json(&body, &f.scope()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, ".config.list[1]");
}

#[test]
fn display_writes_placeholders_back() {
    let f = Fixture::new();
    let t = f
        .compile("/s/{{server_id}}?r={{ random(1,2) }}&k={{key}}")
        .unwrap();
    assert_eq!(
        t.to_string(),
        "/s/{{ server_id }}?r={{ random(1, 2) }}&k={{ key }}"
    );
}

#[test]
fn vars_parse_assignments() {
    assert_eq!(
        Vars::parse_assignment("TOKEN=a=b"),
        Ok(("TOKEN".into(), "a=b".into()))
    );
    assert!(Vars::parse_assignment("no-equals").is_err());
    assert!(Vars::parse_assignment("1X=2").is_err());
}
