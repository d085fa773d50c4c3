//! `{{ ... }}` placeholders in request paths, header values and bodies.
//!
//! Templates are compiled once, when the plan is built, into a list of
//! segments: literal text plus the few dynamic values a request can need.
//! Everything knowable up front is resolved then (`{{ var.NAME }}` becomes
//! literal text; a captured variable's name becomes a slot number), so every
//! mistake is a validation error with a position, and rendering at run time
//! is a loop of `push_str` into a reusable buffer with no allocation.
//!
//! Placeholders:
//!
//! | placeholder          | value                                                          |
//! |----------------------|----------------------------------------------------------------|
//! | `{{ key }}`          | the user's API key from the user pool                          |
//! | `{{ seq }}`          | a per-run sequence number supplied by the runner               |
//! | `{{ random(1, 10) }}`| a random integer in the inclusive range                        |
//! | `{{ var.NAME }}`     | `--var NAME=value` or the environment, fixed at plan time      |
//! | `{{ NAME }}`         | a value captured from an earlier response (see `plan` docs)    |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};

/// Variables for `{{ var.NAME }}`: `--var NAME=value` pairs, optionally
/// backed by the process environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    use_env: bool,
}

impl Vars {
    /// No variables, no environment: what tests want.
    pub fn new() -> Self {
        Self::default()
    }

    /// Falls back to the process environment for names not set explicitly,
    /// as the CLI does.
    pub fn with_env(mut self) -> Self {
        self.use_env = true;
        self
    }

    /// Sets `name` to `value`, replacing any earlier value.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(name.into(), value.into());
        self
    }

    /// Parses a `NAME=value` command-line assignment.
    ///
    /// # Errors
    /// When there is no `=` or the name is not an identifier.
    pub fn parse_assignment(assignment: &str) -> Result<(String, String), String> {
        match assignment.split_once('=') {
            Some((name, value)) if is_identifier(name) => Ok((name.to_owned(), value.to_owned())),
            _ => Err(format!(
                "`{assignment}` is not a NAME=value assignment (NAME: letters, digits, _)"
            )),
        }
    }

    /// The value of `name`, explicit values first, then the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.use_env.then(|| std::env::var(name).ok()).flatten())
    }
}

/// A captured variable's slot in a user's capture table, fixed at plan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaptureSlot(pub usize);

/// What a running user supplies to render a template.
pub trait TemplateContext {
    /// The user's API key.
    fn key(&self) -> &str;
    /// The sequence number for the request being rendered; all `{{ seq }}`
    /// in one request see the same number.
    fn seq(&self) -> u64;
    /// A random integer in `low..=high` (`low <= high` is guaranteed).
    fn random(&mut self, low: i64, high: i64) -> i64;
    /// The value captured into `slot`, if the user has captured it yet.
    fn captured(&self, slot: CaptureSlot) -> Option<&str>;
}

/// Why a template could not be rendered at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The capture this template reads has not produced a value (the earlier
    /// response failed or lacked the field).
    #[error("`{{{{ {0} }}}}` has no value: the response it is captured from did not provide it")]
    MissingCapture(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Key,
    Seq,
    Random { low: i64, high: i64 },
    Captured { slot: CaptureSlot, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `json_escape`: the value lands inside a JSON string literal.
    Value {
        value: Value,
        json_escape: bool,
    },
}

/// A compiled template; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

/// What a template may refer to, decided by where it appears.
#[derive(Debug)]
pub struct Scope<'a> {
    /// Variables for `{{ var.NAME }}`.
    pub vars: &'a Vars,
    /// Captures readable here, with their slots.
    pub visible: &'a HashMap<String, CaptureSlot>,
    /// Captures that exist somewhere in the scenario but are not readable here
    /// (captured later, or in another flow): for a precise message.
    pub elsewhere: &'a HashSet<String>,
    /// Where captures are readable from, for the message about `elsewhere`.
    pub rule: &'a str,
}

/// Placeholder as written, before resolution.
#[derive(Debug)]
enum Raw<'t> {
    Key,
    Seq,
    Random(i64, i64),
    Var(&'t str),
    Name(&'t str),
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names a capture may not take because placeholders already mean something.
pub const RESERVED_NAMES: &[&str] = &["key", "seq", "random", "var"];

/// Whether `name` can name a captured variable.
pub fn valid_capture_name(name: &str) -> bool {
    is_identifier(name) && !RESERVED_NAMES.contains(&name)
}

enum Piece<'t> {
    Text(&'t str),
    Placeholder(Raw<'t>),
}

/// Splits `text` into literal text and placeholders, or lists what is wrong.
fn split(text: &str) -> Result<Vec<Piece<'_>>, Vec<String>> {
    let mut pieces = Vec::new();
    let mut errors = Vec::new();
    let mut rest = text;
    loop {
        let open = rest.find("{{");
        let close = rest.find("}}");
        match (open, close) {
            (None, None) => {
                if !rest.is_empty() {
                    pieces.push(Piece::Text(rest));
                }
                break;
            }
            (Some(o), Some(c)) if c < o => {
                errors.push(format!("`}}}}` without a matching `{{{{` in {text:?}"));
                break;
            }
            (None, Some(_)) => {
                errors.push(format!("`}}}}` without a matching `{{{{` in {text:?}"));
                break;
            }
            (Some(_), None) => {
                errors.push(format!("`{{{{` is never closed with `}}}}` in {text:?}"));
                break;
            }
            (Some(o), Some(_)) => {
                if o > 0 {
                    pieces.push(Piece::Text(&rest[..o]));
                }
                let inner_start = o + 2;
                let c = rest[inner_start..]
                    .find("}}")
                    .map(|i| i + inner_start)
                    .expect("a `}}` follows");
                let inner = &rest[inner_start..c];
                if inner.contains("{{") {
                    errors.push(format!("`{{{{` is never closed with `}}}}` in {text:?}"));
                    break;
                }
                match parse_placeholder(inner.trim()) {
                    Ok(raw) => pieces.push(Piece::Placeholder(raw)),
                    Err(e) => errors.push(e),
                }
                rest = &rest[c + 2..];
            }
        }
    }
    if errors.is_empty() {
        Ok(pieces)
    } else {
        Err(errors)
    }
}

fn parse_placeholder(inner: &str) -> Result<Raw<'_>, String> {
    match inner {
        "key" => return Ok(Raw::Key),
        "seq" => return Ok(Raw::Seq),
        "" => return Err("empty placeholder `{{ }}`".to_owned()),
        _ => {}
    }
    if let Some(args) = inner
        .strip_prefix("random")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
    {
        let bad = || {
            format!(
                "`{{{{ {inner} }}}}` needs two integers, low and high: `{{{{ random(1, 1000) }}}}`"
            )
        };
        let (low, high) = args.split_once(',').ok_or_else(bad)?;
        let low: i64 = low.trim().parse().map_err(|_| bad())?;
        let high: i64 = high.trim().parse().map_err(|_| bad())?;
        if low > high {
            return Err(format!(
                "`{{{{ {inner} }}}}`: low ({low}) is greater than high ({high})"
            ));
        }
        return Ok(Raw::Random(low, high));
    }
    if let Some(name) = inner.strip_prefix("var.") {
        if is_identifier(name) {
            return Ok(Raw::Var(name));
        }
        return Err(format!(
            "`{{{{ {inner} }}}}`: `{name}` is not a variable name"
        ));
    }
    if is_identifier(inner) {
        return Ok(Raw::Name(inner));
    }
    Err(format!(
        "unknown placeholder `{{{{ {inner} }}}}` (use key, seq, random(LOW, HIGH), var.NAME or a captured name)"
    ))
}

impl Template {
    /// A template that is only literal text.
    pub fn literal(text: impl Into<String>) -> Self {
        let mut template = Template::default();
        template.push_literal(&text.into());
        template
    }

    /// Compiles plain text (a path or header value).
    ///
    /// # Errors
    /// Every problem in the text: unbalanced braces, unknown placeholders,
    /// unset variables, captures not readable here.
    pub fn compile(text: &str, scope: &Scope<'_>) -> Result<Self, Vec<String>> {
        let mut template = Template::default();
        template.append(text, scope, false)?;
        Ok(template)
    }

    /// Compiles a request body (any YAML value) into a template producing
    /// JSON. Placeholders are allowed in string values; their values are
    /// JSON-escaped when rendered. A string that is exactly one `{{ seq }}` or
    /// `{{ random(..) }}` renders as a JSON number rather than a string.
    ///
    /// # Errors
    /// A list of `(relative path, message)`, the path like `.config.name` or
    /// `[0]` relative to the body.
    pub fn compile_json(
        body: &serde_yaml_ng::Value,
        scope: &Scope<'_>,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut template = Template::default();
        let mut errors = Vec::new();
        template.json_value(body, "", scope, &mut errors);
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }

    fn json_value(
        &mut self,
        value: &serde_yaml_ng::Value,
        path: &str,
        scope: &Scope<'_>,
        errors: &mut Vec<(String, String)>,
    ) {
        use serde_yaml_ng::Value as Y;
        match value {
            Y::Null => self.push_literal("null"),
            Y::Bool(b) => self.push_literal(if *b { "true" } else { "false" }),
            Y::Number(n) => {
                if n.as_f64().is_some_and(|f| !f.is_finite()) {
                    errors.push((path.to_owned(), format!("{n} cannot be written as JSON")));
                } else {
                    self.push_literal(&n.to_string());
                }
            }
            Y::String(s) => {
                if !s.contains("{{") && !s.contains("}}") {
                    self.push_literal(&json_string(s));
                    return;
                }
                let numeric = matches!(
                    split(s).as_deref(),
                    Ok([Piece::Placeholder(Raw::Seq | Raw::Random(..))])
                );
                if numeric {
                    if let Err(e) = self.append(s, scope, false) {
                        errors.extend(e.into_iter().map(|m| (path.to_owned(), m)));
                    }
                    return;
                }
                self.push_literal("\"");
                if let Err(e) = self.append(s, scope, true) {
                    errors.extend(e.into_iter().map(|m| (path.to_owned(), m)));
                }
                self.push_literal("\"");
            }
            Y::Sequence(items) => {
                self.push_literal("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.push_literal(",");
                    }
                    self.json_value(item, &format!("{path}[{i}]"), scope, errors);
                }
                self.push_literal("]");
            }
            Y::Mapping(map) => {
                self.push_literal("{");
                for (i, (key, item)) in map.iter().enumerate() {
                    let key = match key {
                        Y::String(s) => s.clone(),
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        _ => {
                            errors.push((
                                path.to_owned(),
                                "JSON object keys must be strings".to_owned(),
                            ));
                            continue;
                        }
                    };
                    if i > 0 {
                        self.push_literal(",");
                    }
                    self.push_literal(&json_string(&key));
                    self.push_literal(":");
                    self.json_value(item, &format!("{path}.{key}"), scope, errors);
                }
                self.push_literal("}");
            }
            Y::Tagged(_) => errors.push((
                path.to_owned(),
                "YAML tags (`!name`) cannot be written as JSON".to_owned(),
            )),
        }
    }

    fn append(
        &mut self,
        text: &str,
        scope: &Scope<'_>,
        json_escape: bool,
    ) -> Result<(), Vec<String>> {
        let pieces = split(text)?;
        let mut errors = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    if json_escape {
                        let quoted = json_string(t);
                        self.push_literal(&quoted[1..quoted.len() - 1]);
                    } else {
                        self.push_literal(t);
                    }
                }
                Piece::Placeholder(raw) => {
                    let value = match raw {
                        Raw::Key => Value::Key,
                        Raw::Seq => Value::Seq,
                        Raw::Random(low, high) => Value::Random { low, high },
                        Raw::Var(name) => {
                            match scope.vars.get(name) {
                                Some(v) if json_escape => {
                                    let quoted = json_string(&v);
                                    self.push_literal(&quoted[1..quoted.len() - 1]);
                                }
                                Some(v) => self.push_literal(&v),
                                None => errors.push(format!(
                                    "`{{{{ var.{name} }}}}` is not set (pass --var {name}=VALUE or set {name} in the environment)"
                                )),
                            }
                            continue;
                        }
                        Raw::Name(name) => match scope.visible.get(name) {
                            Some(slot) => Value::Captured {
                                slot: *slot,
                                name: name.to_owned(),
                            },
                            None if scope.elsewhere.contains(name) => {
                                errors.push(format!(
                                    "`{{{{ {name} }}}}` is not captured before this point ({})",
                                    scope.rule
                                ));
                                continue;
                            }
                            None => {
                                let mut candidates: Vec<&str> = vec!["key", "seq"];
                                candidates.extend(scope.visible.keys().map(String::as_str));
                                candidates.sort_unstable();
                                let suggestion = crate::error::did_you_mean(
                                    name,
                                    candidates.iter().copied(),
                                )
                                .map(|c| format!(" (did you mean `{{{{ {c} }}}}`?)"))
                                .unwrap_or_else(|| {
                                    " (use key, seq, random(LOW, HIGH), var.NAME or a captured name)"
                                        .to_owned()
                                });
                                errors.push(format!(
                                    "unknown placeholder `{{{{ {name} }}}}`{suggestion}"
                                ));
                                continue;
                            }
                        },
                    };
                    self.segments.push(Segment::Value { value, json_escape });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Segment::Literal(last)) = self.segments.last_mut() {
            last.push_str(text);
        } else {
            self.segments.push(Segment::Literal(text.to_owned()));
        }
    }

    /// The text, when the template has no run-time placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [] => Some(""),
            [Segment::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The capture slots this template reads.
    pub fn captures(&self) -> impl Iterator<Item = CaptureSlot> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Value {
                value: Value::Captured { slot, .. },
                ..
            } => Some(*slot),
            _ => None,
        })
    }

    /// Appends the rendered template to `out` (which is not cleared, so a
    /// caller can reuse one buffer per user).
    ///
    /// # Errors
    /// [`RenderError::MissingCapture`] when a captured value is not there yet;
    /// `out` then holds a partial rendering.
    pub fn render(
        &self,
        ctx: &mut impl TemplateContext,
        out: &mut String,
    ) -> Result<(), RenderError> {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Value { value, json_escape } => match value {
                    Value::Key => push_value(out, ctx.key(), *json_escape),
                    Value::Seq => {
                        let _ = write!(out, "{}", ctx.seq());
                    }
                    Value::Random { low, high } => {
                        let _ = write!(out, "{}", ctx.random(*low, *high));
                    }
                    Value::Captured { slot, name } => match ctx.captured(*slot) {
                        Some(v) => push_value(out, v, *json_escape),
                        None => return Err(RenderError::MissingCapture(name.clone())),
                    },
                },
            }
        }
        Ok(())
    }
}

/// Writes the template back with its placeholders, e.g. `/api/v1/servers/{{ server_id }}`.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => f.write_str(text)?,
                Segment::Value { value, .. } => match value {
                    Value::Key => f.write_str("{{ key }}")?,
                    Value::Seq => f.write_str("{{ seq }}")?,
                    Value::Random { low, high } => write!(f, "{{{{ random({low}, {high}) }}}}")?,
                    Value::Captured { name, .. } => write!(f, "{{{{ {name} }}}}")?,
                },
            }
        }
        Ok(())
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

fn push_value(out: &mut String, value: &str, json_escape: bool) {
    if !json_escape {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
