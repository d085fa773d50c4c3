//! Scenario text → [`Plan`]: the one fallible conversion.
//!
//! Two passes over the text: serde_yaml_ng deserialises it into the raw
//! [`crate::yaml`] types (structure, field names, types), and
//! [`SourceMap`] records where every field is. The raw scenario is then
//! checked field by field; each problem becomes a [`ScenarioError`] at the
//! field's position, and all of them are returned together. serde itself
//! stops at its first error, so structural problems (unknown fields, wrong
//! types) come one at a time; everything checked here comes all at once.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use crate::duration::{DurationError, parse_duration, whole_micros};
use crate::plan::{
    AbortWhen, Budget, Budgets, Capture, Checks, Flow, JsonCheck, JsonExpectation, OpenModel, Plan,
    RateSpan, ServerBudget, Stage, StageShape, StatusCheck, Step, ThinkTime, Tls, UserPool,
    Weighted, Work,
};
use crate::yaml::{self, DurationText, LoadModel, RateText, Request, Scenario};
use crate::error::{ScenarioError, ScenarioErrors, did_you_mean, hint};
use crate::source_map::{Position, SourceMap, child_index, child_key};
use crate::template::{CaptureSlot, Scope, Template, Vars, valid_capture_name};

/// The newest format version this loader reads.
pub const FORMAT_VERSION: u32 = 3;
/// The oldest scenario format version still read. Version 2 added the open
/// model; version 3 `pace`, `server_metrics`, `budgets.server` and `abort`.
/// An older file means the same under the newest version.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads and validates the scenario at `path`. Relative paths inside it
/// (`users.csv`) are resolved against the file's directory; errors name the
/// file as `path` is written.
///
/// # Errors
/// Every problem found, each with `file:line:column: field.path: message`.
pub fn load_plan(path: &Path, vars: &Vars) -> Result<Plan, ScenarioErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors::new(vec![ScenarioError {
            source: source.clone(),
            line: 1,
            column: 1,
            path: ".".into(),
            message: format!("cannot read the scenario: {e}"),
        }])
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    parse_plan(&source, &text, base_dir, vars)
}

/// Validates scenario `text`, naming it `source_name` in errors and resolving
/// relative paths against `base_dir`.
///
/// # Errors
/// Every problem found, each with `file:line:column: field.path: message`.
pub fn parse_plan(
    source_name: &str,
    text: &str,
    base_dir: &Path,
    vars: &Vars,
) -> Result<Plan, ScenarioErrors> {
    let map = SourceMap::parse(text);
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| ScenarioErrors::new(vec![serde_error(source_name, &map, e)]))?;
    let mut builder = Builder {
        source: source_name,
        map: &map,
        errors: Vec::new(),
        base_dir,
        vars,
        version: scenario.version,
    };
    let plan = builder.plan(scenario);
    if builder.errors.is_empty() {
        Ok(plan.expect("no errors means a plan"))
    } else {
        Err(ScenarioErrors::new(builder.errors))
    }
}

/// Turns serde's first error into a located one, rewriting unknown field and
/// variant messages into "did you mean" form.
fn serde_error(
    source: &str,
    map: &SourceMap,
    error: serde_path_to_error::Error<serde_yaml_ng::Error>,
) -> ScenarioError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let mut message = inner.to_string();
    if let Some(location) = inner.location() {
        message = message.replace(
            &format!(" at line {} column {}", location.line(), location.column()),
            "",
        );
    }
    // serde_yaml_ng prefixes its own (container) path: drop it, ours is better.
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
        && path.starts_with(prefix)
    {
        message = rest.to_owned();
    }
    let (position, message) = if let Some(rest) = message.strip_prefix("unknown field ") {
        (map.key(&path), unknown_name("field", rest))
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        (map.value(&path), unknown_name("value", rest))
    } else if message.starts_with("missing field") || map.contains(&path) {
        (map.value(&path), message)
    } else if let Some(location) = inner.location() {
        let position = Position {
            line: location.line(),
            column: location.column(),
        };
        (position, message)
    } else {
        (map.value(&path), message)
    };
    let message = message.replace(
        "data did not match any variant of untagged enum OneOrMany",
        "expected one value or a list of values",
    );
    ScenarioError {
        source: source.to_owned(),
        line: position.line,
        column: position.column,
        path,
        message,
    }
}

/// ``unknown field `x` (did you mean `y`?)`` from serde's
/// ``unknown field `x`, expected one of `a`, `b` ``.
fn unknown_name(what: &str, rest: &str) -> String {
    let quoted: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match quoted.split_first() {
        Some((name, candidates)) => format!("unknown {what} `{name}`{}", hint(name, candidates)),
        None => format!("unknown {what} {rest}"),
    }
}

struct Builder<'a> {
    source: &'a str,
    map: &'a SourceMap,
    errors: Vec<ScenarioError>,
    base_dir: &'a Path,
    vars: &'a Vars,
    /// The file's format version, which decides the fields it may use.
    version: u32,
}

/// Where a request appears, which decides what it may do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Setup,
    Mix,
    FlowStep,
}

const SETUP_RULE: &str = "setup steps can use values captured by earlier setup steps";
const MIX_RULE: &str = "the `requests` mix can use values captured in `setup`";
const FLOW_RULE: &str =
    "a flow step can use values captured in `setup` or by earlier steps of its flow";

/// Capture names and slots while walking the file.
struct Captures {
    slots: IndexMap<String, CaptureSlot>,
    all: HashSet<String>,
}

impl Captures {
    fn slot(&mut self, name: &str) -> CaptureSlot {
        let next = CaptureSlot(self.slots.len());
        *self.slots.entry(name.to_owned()).or_insert(next)
    }
}

impl Builder<'_> {
    fn error_at(&mut self, position: Position, path: &str, message: impl Into<String>) {
        self.errors.push(ScenarioError {
            source: self.source.to_owned(),
            line: position.line,
            column: position.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// An error located at the value of `path`.
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.error_at(self.map.value(path), path, message);
    }

    /// An error located at the key of `path` (the field itself is the problem).
    fn error_key(&mut self, path: &str, message: impl Into<String>) {
        self.error_at(self.map.key(path), path, message);
    }

    fn duration(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        if text.bare_number {
            self.error(path, DurationError::new(&text.text, true).to_string());
            return None;
        }
        parse_duration(&text.text)
            .map_err(|e| self.error(path, e.to_string()))
            .ok()
    }

    fn plan(&mut self, s: Scenario) -> Option<Plan> {
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&s.version) {
            self.error(
                "version",
                format!(
                    "version {} is not supported; this loadgate reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}",
                    s.version
                ),
            );
        }
        if s.name.trim().is_empty() {
            self.error("name", "the name must not be empty");
        }
        if let Some(target) = &s.target
            && !(target.starts_with("http://") || target.starts_with("https://"))
        {
            self.error(
                "target",
                format!("{target:?} is not an http:// or https:// URL"),
            );
        }
        let (stages, open) = match s.load.model {
            LoadModel::Closed => (self.stages(&s.load), None),
            LoadModel::Open => match self.open_stages(&s.load, s.version) {
                Some((stages, open)) => (Some(stages), Some(open)),
                None => (None, None),
            },
        };
        let think_time = self.think_time(s.think_time.as_ref());
        let users = self.user_pool(s.users.as_ref());
        let tls = Tls {
            verify_certificates: !s.tls.as_ref().is_some_and(|t| t.insecure),
        };
        let mut captures = Captures {
            slots: IndexMap::new(),
            all: s
                .setup
                .iter()
                .chain(&s.requests)
                .chain(s.flows.iter().flat_map(|f| &f.steps))
                .flat_map(|r| r.capture.keys().cloned())
                .collect(),
        };
        let (setup, setup_visible) = self.setup(&s.setup, &mut captures);
        let work = self.work(&s, &setup_visible, &mut captures);
        let mut names: Vec<&str> = Vec::new();
        for request in s
            .setup
            .iter()
            .chain(&s.requests)
            .chain(s.flows.iter().flat_map(|f| &f.steps))
        {
            if !names.contains(&request.name.as_str()) {
                names.push(&request.name);
            }
        }
        let stage_names: Vec<&str> = s
            .load
            .stages
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        let budgets = self.budgets(s.budgets.as_ref(), &names, &stage_names);
        for (name, budget) in &budgets.requests {
            if budget.max_dropped_rate.is_some() {
                self.error_key(
                    &child_key(&child_key("budgets.requests", name), "max_dropped_rate"),
                    "arrivals are dropped before a request is chosen: put max_dropped_rate under budgets.overall",
                );
            }
        }
        if budgets.overall.max_dropped_rate.is_some() && s.load.model == LoadModel::Closed {
            self.error_key(
                "budgets.overall.max_dropped_rate",
                "only an open model (`model: open`) drops arrivals",
            );
        }
        if s.load.model == LoadModel::Open && s.think_time.is_some() {
            self.error_key(
                "think_time",
                "the open model's schedule sets the pace: think_time does not apply",
            );
        }
        let pace = s.pace.as_ref().and_then(|text| {
            self.needs_version(3, "pace");
            if s.load.model == LoadModel::Open {
                self.error_key(
                    "pace",
                    "the open model's schedule sets the pace: use a rate instead",
                );
            }
            if s.think_time.is_some() {
                self.error_key(
                    "pace",
                    "pace and think_time both set the time between iterations: keep one",
                );
            }
            self.duration("pace", text).filter(|d| {
                let positive = !d.is_zero();
                if !positive {
                    self.error("pace", "the pace must be longer than 0");
                }
                positive
            })
        });
        let server_metrics = s.server_metrics.as_ref().map(|m| {
            self.needs_version(3, "server_metrics");
            let url = m.url.trim();
            if !(url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://"))
            {
                self.error(
                    "server_metrics.url",
                    format!("{url:?} is neither an http(s):// URL nor a path below the target (/metrics)"),
                );
            }
            url.to_owned()
        });
        Some(Plan {
            source: self.source.to_owned(),
            name: s.name,
            description: s.description.unwrap_or_default(),
            target: s.target,
            stages: stages?,
            think_time: think_time?,
            users: users?,
            tls,
            setup,
            work: work?,
            captures: captures.slots.into_keys().collect(),
            budgets,
            open,
            pace,
            server_metrics,
            max_total: None,
        })
    }

    /// Reports `path` when the file's version is older than `needed`.
    fn needs_version(&mut self, needed: u32, path: &str) {
        let version = self.version;
        if version < needed {
            self.error_key(
                path,
                format!("`{path}` needs `version: {needed}` (this file says version {version})"),
            );
        }
    }

    /// The stages of an open model: each sets an arrival `rate` (a ramp
    /// moves to it, a hold keeps it), and `max_users` bounds concurrency.
    /// The stages' users are `max_users` throughout, so everything that
    /// reads stages (names, timeline, `--users`) works for both models.
    fn open_stages(
        &mut self,
        load: &yaml::Load,
        version: u32,
    ) -> Option<(Vec<Stage>, OpenModel)> {
        let before = self.errors.len();
        if version < 2 {
            self.error(
                "load.model",
                "the open model needs `version: 2` (this file says version 1)",
            );
        }
        let max_users = match load.max_users {
            Some(n) if n >= 1 => n,
            Some(_) => {
                self.error("load.max_users", "max_users must be at least 1");
                0
            }
            None => {
                self.error(
                    "load",
                    "the open model needs `max_users`: the most requests in flight at once",
                );
                0
            }
        };
        if load.stages.is_empty() {
            self.error(
                "load.stages",
                "add at least one stage, e.g. `- {rate: 100/s, ramp: 30s}`",
            );
        }
        let mut stages = Vec::new();
        let mut rates = Vec::new();
        let mut rate = 0.0;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, raw) in load.stages.iter().enumerate() {
            let path = child_index("load.stages", i);
            if raw.users.is_some() {
                self.error_key(
                    &child_key(&path, "users"),
                    "an open-model stage sets `rate`, not `users` (`load.max_users` bounds users)",
                );
            }
            if let Some(name) = raw.name.as_deref()
                && let Some(first) = names.insert(name, i)
            {
                self.error(
                    &child_key(&path, "name"),
                    format!("stage name `{name}` is already used by load.stages[{first}]"),
                );
            }
            let stated = raw.rate.as_deref().and_then(|text| {
                parse_rate(text)
                    .map_err(|message| self.error(&child_key(&path, "rate"), message))
                    .ok()
            });
            let (duration, to_rate) = match (&raw.ramp, &raw.hold) {
                (Some(ramp), None) => {
                    let Some(to) = stated else {
                        if raw.rate.is_none() {
                            self.error(&path, "a ramp needs `rate`: the arrival rate at its end");
                        }
                        continue;
                    };
                    (self.duration(&child_key(&path, "ramp"), ramp), to)
                }
                (None, Some(hold)) => {
                    if let Some(to) = stated
                        && (to - rate).abs() > 1e-9
                    {
                        self.error(
                            &child_key(&path, "rate"),
                            format!("a hold keeps the rate of the stage before ({rate}/s); use a ramp to change it"),
                        );
                    }
                    (self.duration(&child_key(&path, "hold"), hold), rate)
                }
                _ => {
                    self.error(
                        &path,
                        "a stage needs `ramp: DURATION` (with `rate`) or `hold: DURATION`",
                    );
                    continue;
                }
            };
            let Some(duration) = duration else { continue };
            rates.push(RateSpan {
                from_per_sec: rate,
                to_per_sec: to_rate,
            });
            rate = to_rate;
            stages.push(Stage {
                name: raw.name.clone(),
                shape: if stages.is_empty() {
                    StageShape::Ramp {
                        to_users: max_users,
                    }
                } else {
                    StageShape::Hold
                },
                duration,
            });
        }
        if self.errors.len() == before
            && rates
                .iter()
                .all(|r| r.from_per_sec == 0.0 && r.to_per_sec == 0.0)
        {
            self.error(
                "load.stages",
                "no stage has any arrivals: ramp to a rate above 0/s",
            );
        }
        (self.errors.len() == before).then_some((stages, OpenModel { rates }))
    }

    fn stages(&mut self, load: &yaml::Load) -> Option<Vec<Stage>> {
        let before = self.errors.len();
        if load.max_users.is_some() {
            self.error_key(
                "load.max_users",
                "`max_users` belongs to the open model (`model: open`)",
            );
        }
        if load.stages.is_empty() {
            self.error(
                "load.stages",
                "add at least one stage, e.g. `- {users: 10, ramp: 30s}`",
            );
        }
        let mut stages = Vec::new();
        let mut users = 0;
        let mut peak = 0;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, raw) in load.stages.iter().enumerate() {
            let path = child_index("load.stages", i);
            if raw.rate.is_some() {
                self.error_key(
                    &child_key(&path, "rate"),
                    "`rate` belongs to the open model (`model: open`); a closed-model stage sets `users`",
                );
            }
            if let Some(name) = raw.name.as_deref() {
                if name.trim().is_empty() {
                    self.error(&child_key(&path, "name"), "a stage name must not be empty");
                } else if let Some(first) = names.insert(name, i) {
                    self.error(
                        &child_key(&path, "name"),
                        format!("stage name `{name}` is already used by load.stages[{first}]"),
                    );
                }
            }
            let (shape, duration) = match (&raw.ramp, &raw.hold) {
                (Some(_), Some(_)) => {
                    self.error_key(
                        &child_key(&path, "hold"),
                        "a stage is either a ramp or a hold, not both: split it into two stages",
                    );
                    continue;
                }
                (None, None) => {
                    self.error(
                        &path,
                        "a stage needs `ramp: DURATION` (with `users`) or `hold: DURATION`",
                    );
                    continue;
                }
                (Some(ramp), None) => {
                    let duration = self.duration(&child_key(&path, "ramp"), ramp);
                    let Some(to_users) = raw.users else {
                        self.error(&path, "a ramp needs `users`: the users at its end");
                        continue;
                    };
                    users = to_users;
                    (StageShape::Ramp { to_users }, duration)
                }
                (None, Some(hold)) => {
                    let duration = self.duration(&child_key(&path, "hold"), hold);
                    if let Some(stated) = raw.users
                        && stated != users
                    {
                        self.error(
                            &child_key(&path, "users"),
                            format!(
                                "a hold keeps the users of the stage before ({users}); use a ramp to change them"
                            ),
                        );
                    }
                    if duration == Some(Duration::ZERO) {
                        self.error(&child_key(&path, "hold"), "a hold must last longer than 0s");
                    }
                    (StageShape::Hold, duration)
                }
            };
            peak = peak.max(users);
            if let Some(duration) = duration {
                stages.push(Stage {
                    name: raw.name.clone(),
                    shape,
                    duration,
                });
            }
        }
        if self.errors.len() > before {
            return None;
        }
        if peak == 0 {
            self.error(
                "load.stages",
                "no stage has any users: ramp to at least 1 user",
            );
        }
        if stages.iter().all(|s| s.duration.is_zero()) {
            self.error("load.stages", "the stages add up to 0s");
        }
        (self.errors.len() == before).then_some(stages)
    }

    fn think_time(&mut self, raw: Option<&yaml::ThinkTime>) -> Option<ThinkTime> {
        match raw {
            None => Some(ThinkTime::None),
            Some(yaml::ThinkTime::Fixed(d)) => {
                self.duration("think_time", d).map(ThinkTime::Fixed)
            }
            Some(yaml::ThinkTime::Range(r)) => {
                let min = self.duration("think_time.min", &r.min);
                let max = self.duration("think_time.max", &r.max);
                let (min, max) = (min?, max?);
                if max < min {
                    self.error(
                        "think_time.max",
                        format!(
                            "`max` ({}) is shorter than `min` ({})",
                            r.max.text, r.min.text
                        ),
                    );
                    return None;
                }
                Some(ThinkTime::Uniform { min, max })
            }
        }
    }

    fn user_pool(&mut self, raw: Option<&yaml::UserPool>) -> Option<UserPool> {
        let Some(raw) = raw else {
            return Some(UserPool::DEFAULT);
        };
        match (&raw.csv, raw.range) {
            (Some(_), Some(_)) => {
                self.error_key("users.range", "give either `csv` or `range`, not both");
                None
            }
            (None, None) => {
                self.error(
                    "users",
                    "give `csv: path/to/keys.csv` or `range: {from: 21, to: 1000}`",
                );
                None
            }
            (None, Some(yaml::UserRange { from, to })) => {
                if from == 0 || from > to {
                    self.error(
                        "users.range",
                        format!("`from` ({from}) must be at least 1 and at most `to` ({to})"),
                    );
                    return None;
                }
                Some(UserPool::DemoRange { from, to })
            }
            (Some(file), None) => {
                let resolved = self.base_dir.join(file);
                let text = match std::fs::read_to_string(&resolved) {
                    Ok(text) => text,
                    Err(e) => {
                        self.error(
                            "users.csv",
                            format!("cannot read {} ({e})", resolved.display()),
                        );
                        return None;
                    }
                };
                match parse_keys(&text) {
                    Ok(keys) => Some(UserPool::Keys(keys)),
                    Err(e) => {
                        self.error("users.csv", format!("{}: {e}", resolved.display()));
                        None
                    }
                }
            }
        }
    }

    fn setup(
        &mut self,
        raw: &[Request],
        captures: &mut Captures,
    ) -> (Vec<Step>, HashMap<String, CaptureSlot>) {
        let mut visible = HashMap::new();
        let mut steps = Vec::new();
        self.unique_names("setup", raw.iter().map(|r| r.name.as_str()));
        for (i, request) in raw.iter().enumerate() {
            let path = child_index("setup", i);
            if let Some(step) = self.step(
                &path,
                request,
                Place::Setup,
                &mut visible,
                &HashMap::new(),
                captures,
            ) {
                steps.push(step);
            }
        }
        (steps, visible)
    }

    fn work(
        &mut self,
        s: &Scenario,
        setup_visible: &HashMap<String, CaptureSlot>,
        captures: &mut Captures,
    ) -> Option<Vec<Weighted>> {
        let before = self.errors.len();
        let mut items: Vec<(f64, Work)> = Vec::new();
        self.unique_names("requests", s.requests.iter().map(|r| r.name.as_str()));
        for (i, request) in s.requests.iter().enumerate() {
            let path = child_index("requests", i);
            let weight = self.weight(&path, request.weight);
            let mut visible = setup_visible.clone();
            let step = self.step(
                &path,
                request,
                Place::Mix,
                &mut visible,
                &HashMap::new(),
                captures,
            );
            if let (Some(weight), Some(step)) = (weight, step) {
                items.push((weight, Work::Request(step)));
            }
        }
        self.unique_names("flows", s.flows.iter().map(|f| f.name.as_str()));
        for (i, flow) in s.flows.iter().enumerate() {
            let path = child_index("flows", i);
            let weight = self.weight(&path, flow.weight);
            if flow.name.trim().is_empty() {
                self.error(&child_key(&path, "name"), "a flow name must not be empty");
            }
            let steps_path = child_key(&path, "steps");
            if flow.steps.is_empty() {
                self.error(&steps_path, "a flow needs at least one step");
            }
            self.unique_names(&steps_path, flow.steps.iter().map(|r| r.name.as_str()));
            let mut visible = setup_visible.clone();
            let mut steps = Vec::new();
            for (j, request) in flow.steps.iter().enumerate() {
                let step_path = child_index(&steps_path, j);
                if let Some(step) = self.step(
                    &step_path,
                    request,
                    Place::FlowStep,
                    &mut visible,
                    setup_visible,
                    captures,
                ) {
                    steps.push(step);
                }
            }
            if let Some(weight) = weight {
                items.push((
                    weight,
                    Work::Flow(Flow {
                        name: flow.name.clone(),
                        steps,
                    }),
                ));
            }
        }
        if s.requests.is_empty() && s.flows.is_empty() {
            self.error(
                ".",
                "nothing to send: add `requests` (a weighted mix) or `flows`",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        let total: f64 = items.iter().map(|(w, _)| w).sum();
        Some(
            items
                .into_iter()
                .map(|(weight, work)| Weighted {
                    share: weight / total,
                    work,
                })
                .collect(),
        )
    }

    fn weight(&mut self, path: &str, weight: Option<f64>) -> Option<f64> {
        let weight = weight.unwrap_or(1.0);
        if weight.is_finite() && weight > 0.0 {
            Some(weight)
        } else {
            self.error(
                &child_key(path, "weight"),
                format!("weight {weight} must be a number greater than 0"),
            );
            None
        }
    }

    fn unique_names<'n>(&mut self, list: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.enumerate() {
            let path = child_key(&child_index(list, i), "name");
            if name.trim().is_empty() {
                self.error(&path, "a name must not be empty");
            } else if let Some(first) = seen.insert(name, i) {
                self.error(
                    &path,
                    format!(
                        "`{name}` is already the name of {}",
                        child_index(list, first)
                    ),
                );
            }
        }
    }

    /// Compiles one request; `visible` gains its captures afterwards (so a
    /// request cannot read its own capture). `setup_visible` tells a flow
    /// step which names setup already captured.
    fn step(
        &mut self,
        path: &str,
        r: &Request,
        place: Place,
        visible: &mut HashMap<String, CaptureSlot>,
        setup_visible: &HashMap<String, CaptureSlot>,
        captures: &mut Captures,
    ) -> Option<Step> {
        let before = self.errors.len();
        if place != Place::Mix && r.weight.is_some() {
            self.error_key(
                &child_key(path, "weight"),
                "`weight` applies to the `requests` mix and to flows, not to setup or flow steps",
            );
        }
        let rule = match place {
            Place::Setup => SETUP_RULE,
            Place::Mix => MIX_RULE,
            Place::FlowStep => FLOW_RULE,
        };
        let snapshot = visible.clone();
        let scope = Scope {
            vars: self.vars,
            visible: &snapshot,
            elsewhere: &captures.all,
            rule,
        };
        let path_field = child_key(path, "path");
        if !r.path.starts_with('/') {
            self.error(
                &path_field,
                format!(
                    "{:?} must start with `/`: the target supplies scheme and host",
                    r.path
                ),
            );
        }
        let url_path = self.template(&path_field, &r.path, &scope);
        let mut headers = Vec::new();
        for (name, value) in &r.headers {
            let header_path = child_key(&child_key(path, "headers"), name);
            if let Some(t) = self.template(&header_path, value, &scope) {
                headers.push((name.clone(), t));
            }
        }
        let body = r.body.as_ref().and_then(|body| {
            let body_path = child_key(path, "body");
            Template::compile_json(body, &scope)
                .map_err(|errors| {
                    for (relative, message) in errors {
                        let field = match relative.strip_prefix('.') {
                            Some(key) => child_key(&body_path, key),
                            None => format!("{body_path}{relative}"),
                        };
                        self.error(&field, message);
                    }
                })
                .ok()
        });
        let timeout = match &r.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(t) => {
                let timeout_path = child_key(path, "timeout");
                let d = self.duration(&timeout_path, t);
                if d == Some(Duration::ZERO) {
                    self.error(&timeout_path, "a timeout must be longer than 0s");
                }
                d
            }
        };
        let checks = self.checks(&child_key(path, "checks"), r.checks.as_ref());
        let capture_path = child_key(path, "capture");
        if place == Place::Mix && !r.capture.is_empty() {
            self.error_key(
                &capture_path,
                "the `requests` mix runs in random order, so nothing can rely on its captures: capture in `setup` or in a flow",
            );
        }
        let mut step_captures = Vec::new();
        for (name, pointer) in &r.capture {
            let field = child_key(&capture_path, name);
            if !valid_capture_name(name) {
                self.error_key(
                    &field,
                    format!(
                        "`{name}` cannot name a capture: use letters, digits and _ (not key, seq, random or var)"
                    ),
                );
                continue;
            }
            if place == Place::FlowStep && setup_visible.contains_key(name) {
                self.error_key(
                    &field,
                    format!("`{name}` is already captured in `setup`: pick another name"),
                );
                continue;
            }
            if !pointer.starts_with('/') {
                self.error(
                    &field,
                    format!("{pointer:?} is not a JSON pointer (e.g. /id or /items/0/id)"),
                );
                continue;
            }
            let slot = captures.slot(name);
            visible.insert(name.clone(), slot);
            step_captures.push(Capture {
                name: name.clone(),
                slot,
                pointer: pointer.clone(),
            });
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Step {
            name: r.name.clone(),
            method: r.method,
            path: url_path?,
            headers,
            body,
            timeout: timeout?,
            checks: checks?,
            captures: step_captures,
        })
    }

    fn template(&mut self, path: &str, text: &str, scope: &Scope<'_>) -> Option<Template> {
        Template::compile(text, scope)
            .map_err(|errors| {
                for message in errors {
                    self.error(path, message);
                }
            })
            .ok()
    }

    fn checks(&mut self, path: &str, raw: Option<&yaml::Checks>) -> Option<Checks> {
        let Some(raw) = raw else {
            return Some(Checks {
                status: StatusCheck::AnySuccess,
                json: Vec::new(),
                body_contains: Vec::new(),
                headers_present: Vec::new(),
            });
        };
        let before = self.errors.len();
        let status = match &raw.status {
            None => StatusCheck::AnySuccess,
            Some(codes) => {
                let codes = codes.to_vec();
                let status_path = child_key(path, "status");
                if codes.is_empty() {
                    self.error(&status_path, "list at least one status code");
                }
                for code in &codes {
                    if !(100..=599).contains(code) {
                        self.error(
                            &status_path,
                            format!("{code} is not an HTTP status code (100-599)"),
                        );
                    }
                }
                StatusCheck::OneOf(codes)
            }
        };
        let mut json = Vec::new();
        for (i, check) in raw.json.iter().enumerate() {
            let check_path = child_index(&child_key(path, "json"), i);
            if !(check.pointer.is_empty() || check.pointer.starts_with('/')) {
                self.error(
                    &child_key(&check_path, "pointer"),
                    format!(
                        "{:?} is not a JSON pointer (e.g. /id or /items/0/id)",
                        check.pointer
                    ),
                );
            }
            let expect = match (&check.equals, check.exists) {
                (Some(value), None) => match serde_json::to_value(value) {
                    Ok(value) => JsonExpectation::Equals(value),
                    Err(e) => {
                        self.error(&child_key(&check_path, "equals"), format!("not JSON: {e}"));
                        continue;
                    }
                },
                (None, Some(exists)) => JsonExpectation::Exists(exists),
                _ => {
                    self.error(&check_path, "give exactly one of `equals` or `exists`");
                    continue;
                }
            };
            json.push(JsonCheck {
                pointer: check.pointer.clone(),
                expect,
            });
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Checks {
            status,
            json,
            body_contains: raw
                .body_contains
                .as_ref()
                .map(|b| b.to_vec())
                .unwrap_or_default(),
            headers_present: raw.header.as_ref().map(|h| h.to_vec()).unwrap_or_default(),
        })
    }

    fn budgets(
        &mut self,
        raw: Option<&yaml::Budgets>,
        request_names: &[&str],
        stage_names: &[&str],
    ) -> Budgets {
        let Some(raw) = raw else {
            return Budgets::default();
        };
        let during = raw.during.as_ref().map(|during| {
            for (i, name) in during.iter().enumerate() {
                if !stage_names.contains(&name.as_str()) {
                    let suffix = if stage_names.is_empty() {
                        " (no stage has a name: add `name:` to a stage)".to_owned()
                    } else {
                        hint(name, stage_names)
                    };
                    self.error(
                        &child_index("budgets.during", i),
                        format!("no stage is named `{name}`{suffix}"),
                    );
                }
            }
            during.clone()
        });
        let overall = raw
            .overall
            .as_ref()
            .map(|b| self.budget("budgets.overall", b))
            .unwrap_or_default();
        let mut requests = IndexMap::new();
        for (name, budget) in &raw.requests {
            let path = child_key("budgets.requests", name);
            if !request_names.contains(&name.as_str()) {
                let suffix = match did_you_mean(name, request_names.iter().copied()) {
                    Some(best) => format!(" (did you mean `{best}`?)"),
                    None => format!(" (names: {})", request_names.join(", ")),
                };
                self.error_key(
                    &path,
                    format!("no request or step is named `{name}`{suffix}"),
                );
            }
            let resolved = self.budget(&path, budget);
            requests.insert(name.clone(), resolved);
        }
        if raw.server.is_some() {
            self.needs_version(3, "budgets.server");
        }
        let server = raw
            .server
            .as_ref()
            .map(|server| ServerBudget {
                min_cache_hit_ratio: server.cache_hit_ratio.as_ref().and_then(|b| {
                    self.fraction(
                        "budgets.server.cache_hit_ratio.min",
                        &b.min,
                        "a cache hit ratio",
                    )
                }),
                max_db_pool_utilization: server.db_pool_utilization.as_ref().and_then(|b| {
                    self.fraction(
                        "budgets.server.db_pool_utilization.max",
                        &b.max,
                        "a pool utilization",
                    )
                }),
            })
            .unwrap_or_default();
        Budgets {
            during,
            overall,
            requests,
            server,
        }
    }

    fn budget(&mut self, path: &str, raw: &yaml::Budget) -> Budget {
        let mut micros = |field: &str, text: &Option<DurationText>| {
            text.as_ref().and_then(|t| {
                self.duration(&child_key(path, field), t)
                    .map(whole_micros)
            })
        };
        let p50_us = micros("p50", &raw.p50);
        let p95_us = micros("p95", &raw.p95);
        let p99_us = micros("p99", &raw.p99);
        let ordered = [
            ("p50", &raw.p50, p50_us),
            ("p95", &raw.p95, p95_us),
            ("p99", &raw.p99, p99_us),
        ];
        for pair in ordered.windows(2) {
            if let [
                (lo_name, Some(lo_text), Some(lo)),
                (hi_name, Some(hi_text), Some(hi)),
            ] = pair
                && hi < lo
            {
                self.error(
                    &child_key(path, hi_name),
                    format!(
                        "{hi_name} ({}) is below {lo_name} ({}): a higher percentile cannot be faster",
                        hi_text.text, lo_text.text
                    ),
                );
            }
        }
        let max_error_rate = raw.max_error_rate.as_ref().and_then(|rate| {
            self.fraction(&child_key(path, "max_error_rate"), rate, "an error rate")
        });
        let max_dropped_rate = raw.max_dropped_rate.as_ref().and_then(|rate| {
            self.fraction(&child_key(path, "max_dropped_rate"), rate, "a dropped rate")
        });
        let min_rps = raw.min_rps.and_then(|rps| {
            if rps.is_finite() && rps >= 0.0 {
                Some(rps)
            } else {
                self.error(
                    &child_key(path, "min_rps"),
                    format!(
                        "{rps} is not a request rate (a number of requests per second, 0 or more)"
                    ),
                );
                None
            }
        });
        let abort = raw.abort.as_ref().and_then(|abort| {
            let window = self.duration(&child_key(path, "abort.window"), &abort.window);
            let after = self.duration(&child_key(path, "abort.after"), &abort.after);
            let (window, after) = (window?, after?);
            if window < Duration::from_secs(1) {
                self.error(
                    &child_key(path, "abort.window"),
                    "the window must be at least 1s: budgets are checked once a second",
                );
                return None;
            }
            if p50_us.is_none() && p95_us.is_none() && p99_us.is_none() && max_error_rate.is_none()
            {
                self.error_key(
                    &child_key(path, "abort"),
                    "abort watches latency (p50, p95, p99) and error-rate limits: this budget has none",
                );
                return None;
            }
            Some(AbortWhen { window, after })
        });
        if raw.abort.is_some() {
            self.needs_version(3, &child_key(path, "abort"));
        }
        Budget {
            p50_us,
            p95_us,
            p99_us,
            max_error_rate,
            min_rps,
            max_dropped_rate,
            abort,
        }
    }

    /// A share, `1%` or `0.01`, between 0 and 1; `what` names it in errors.
    fn fraction(&mut self, field: &str, rate: &RateText, what: &str) -> Option<f64> {
        let value = match rate {
            RateText::Fraction(f) => Some(*f),
            RateText::Text(t) => t
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok())
                .map(|p| p / 100.0),
        };
        match value {
            Some(v) if (0.0..=1.0).contains(&v) => Some(v),
            _ => {
                let shown = match rate {
                    RateText::Fraction(f) => f.to_string(),
                    RateText::Text(t) => format!("{t:?}"),
                };
                self.error(
                    field,
                    format!("{shown} is not {what} (use 1% or 0.01, between 0 and 1)"),
                );
                None
            }
        }
    }
}

/// An arrival rate: `200/s`, `600/m`, `3600/h`, or a bare number per second.
fn parse_rate(text: &str) -> Result<f64, String> {
    let (number, per_seconds) = match text.trim().rsplit_once('/') {
        None => (text.trim(), 1.0),
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some((n, "h")) => (n, 3600.0),
        Some(_) => (text, f64::NAN),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && per_seconds.is_finite() => Ok(n / per_seconds),
        _ => Err(format!(
            "{text:?} is not an arrival rate (use 200/s, 600/m or 3600/h)"
        )),
    }
}

/// Keys from a CSV file: one key per line, or a header row with a `key`
/// column. Blank lines and lines starting with `#` are skipped.
fn parse_keys(text: &str) -> Result<Vec<String>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .peekable();
    let column = match lines.peek() {
        None => return Err("the file has no keys".to_owned()),
        Some((_, header)) if header.contains(',') || header.eq_ignore_ascii_case("key") => {
            let column = header
                .split(',')
                .position(|c| unquote(c).eq_ignore_ascii_case("key"))
                .ok_or("the header row has no `key` column")?;
            lines.next();
            column
        }
        Some(_) => 0,
    };
    let mut keys = Vec::new();
    for (number, line) in lines {
        match line.split(',').nth(column).map(unquote) {
            Some(key) if !key.is_empty() => keys.push(key.to_owned()),
            _ => return Err(format!("line {number} has no key")),
        }
    }
    if keys.is_empty() {
        return Err("the file has no keys".to_owned());
    }
    Ok(keys)
}

fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(cell)
}

#[cfg(test)]
mod tests;
