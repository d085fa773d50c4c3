//! `setup`, the `requests` mix and `flows`: the lists of requests, their
//! names and weights. Each request itself is compiled in [`super::step`].
//!
//! The lists differ in which captures a request can read (see
//! [`super::step::Place`]): setup runs once in order, the mix in random
//! order, a flow's steps in order on every iteration.

use std::collections::HashMap;

use super::Builder;
use super::step::{Captures, Place};
use crate::plan::{Flow, Step, Weighted, Work};
use crate::source_map::{child_index, child_key};
use crate::template::CaptureSlot;
use crate::yaml::{Request, Scenario};

impl Builder<'_> {
    /// The setup steps, and the captures they leave readable for the mix
    /// and the flows.
    pub(super) fn setup(
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

    /// The `requests` mix and the flows, as one weighted list whose shares
    /// add up to 1.
    pub(super) fn work(
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

    /// Names in one list must be non-empty and distinct: reports and
    /// budgets tell requests apart by name.
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
}

/// Every request of the scenario in file order: setup, the mix, then each
/// flow's steps.
pub(super) fn every_request(s: &Scenario) -> impl Iterator<Item = &Request> {
    s.setup
        .iter()
        .chain(&s.requests)
        .chain(s.flows.iter().flat_map(|f| &f.steps))
}
