//! The plan's steps, prepared once per run for the wire, and rendered per
//! request into buffers each user keeps.
//!
//! Everything about a step that does not change between requests is done
//! here once: its method, its header names, the values of headers without
//! placeholders, a literal path (parsed into the request target) or body,
//! the index of its name in the recorder. What is left per request is filling placeholders into the
//! user's own [`Buffers`], which keep their capacity from one request to
//! the next.

use http::{
    Method, Uri,
    header::{HeaderName, HeaderValue},
};
use scenario::{
    plan::{Plan, Step},
    template::TemplateContext,
    yaml,
};

use super::exchange::{HeaderList, Outgoing, Transport};

/// Every step of a plan, prepared: setup, and each work item of the mix
/// in the plan's order ([`Plan::pick_index`] picks one).
#[derive(Debug)]
pub struct PreparedPlan {
    pub setup: Vec<PreparedStep>,
    pub work: Vec<Vec<PreparedStep>>,
}

impl PreparedPlan {
    /// `names` are the recorder's request names, in its order; literal
    /// paths are parsed once into request targets below `transport`'s.
    pub fn new(plan: &Plan, names: &[String], transport: &Transport) -> Self {
        let prepare = |steps: &[Step]| {
            steps
                .iter()
                .map(|step| PreparedStep::new(step, names, transport))
                .collect()
        };
        Self {
            setup: prepare(plan.setup()),
            work: plan
                .work()
                .iter()
                .map(|w| prepare(w.work.steps()))
                .collect(),
        }
    }
}

/// One step, ready to render.
#[derive(Debug)]
pub struct PreparedStep {
    pub step: Step,
    /// Index of the step's name among the recorder's names.
    pub name: u16,
    method: Method,
    /// The request target of a literal path below the target, parsed once.
    literal_uri: Option<Uri>,
    headers: Vec<(HeaderName, HeaderPart)>,
    /// Why the step can never be sent (a header name that is not one);
    /// each attempt fails with this, as a request the client refused.
    invalid: Option<String>,
}

#[derive(Debug)]
enum HeaderPart {
    Fixed(HeaderValue),
    /// Index into the step's headers, whose value template is rendered.
    Templated(usize),
}

/// Why a step was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsendable {
    /// A placeholder has no value yet (a capture that failed): the step is
    /// skipped, as a real client would not send it.
    Unfilled,
    /// The rendered request is not valid HTTP (a header value with a
    /// newline, say); it counts as a failed request.
    Invalid(String),
}

/// A user's buffers for the request being rendered; a clone is another
/// user's, so it starts empty.
#[derive(Debug, Default)]
pub struct Buffers {
    path: String,
    headers: HeaderList,
    body: String,
}

impl Clone for Buffers {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PreparedStep {
    fn new(step: &Step, names: &[String], transport: &Transport) -> Self {
        let name = names
            .iter()
            .position(|n| *n == step.name)
            .and_then(|i| u16::try_from(i).ok())
            .expect("every step name is registered with the recorder");
        let mut invalid = None;
        let headers = step
            .headers
            .iter()
            .enumerate()
            .filter_map(|(i, (name, value))| {
                let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                    invalid = Some(format!("invalid header name {name:?}"));
                    return None;
                };
                let part = match value.as_literal().map(HeaderValue::from_str) {
                    Some(Ok(fixed)) => HeaderPart::Fixed(fixed),
                    Some(Err(_)) => {
                        invalid = Some(format!("invalid header {name}: {value:?}"));
                        return None;
                    }
                    None => HeaderPart::Templated(i),
                };
                Some((header, part))
            })
            .collect();
        Self {
            name,
            method: method(step.method),
            literal_uri: step
                .path
                .as_literal()
                .and_then(|path| transport.request_target(path)),
            headers,
            invalid,
            step: step.clone(),
        }
    }

    /// Fills the step's placeholders from `user` into `buffers`, and
    /// returns the request that borrows them.
    pub fn render<'b>(
        &'b self,
        user: &mut impl TemplateContext,
        buffers: &'b mut Buffers,
    ) -> Result<Outgoing<'b>, Unsendable> {
        if let Some(why) = &self.invalid {
            return Err(Unsendable::Invalid(why.clone()));
        }
        let Buffers {
            path,
            headers,
            body,
        } = buffers;
        let path: &str = match self.step.path.as_literal() {
            Some(literal) => literal,
            None => {
                path.clear();
                self.step
                    .path
                    .render(user, path)
                    .map_err(|_| Unsendable::Unfilled)?;
                path
            }
        };
        headers.clear();
        for (name, part) in &self.headers {
            match part {
                HeaderPart::Fixed(value) => headers.push_fixed(name.clone(), value.clone()),
                HeaderPart::Templated(i) => {
                    let (_, template) = &self.step.headers[*i];
                    headers
                        .push_rendered(name.clone(), |text| template.render(user, text))
                        .map_err(|_| Unsendable::Unfilled)?
                        .map_err(|refused| {
                            Unsendable::Invalid(format!("invalid header {name}: {:?}", refused.0))
                        })?;
                }
            }
        }
        let body = match &self.step.body {
            None => None,
            Some(template) if let Some(literal) = template.as_literal() => Some(literal.as_bytes()),
            Some(template) => {
                body.clear();
                template
                    .render(user, body)
                    .map_err(|_| Unsendable::Unfilled)?;
                Some(body.as_bytes())
            }
        };
        Ok(Outgoing {
            method: &self.method,
            path,
            uri: self.literal_uri.as_ref(),
            headers,
            body,
            timeout: self.step.timeout,
            redirects: self.step.redirects,
        })
    }
}

fn method(method: yaml::Method) -> Method {
    match method {
        yaml::Method::Get => Method::GET,
        yaml::Method::Post => Method::POST,
        yaml::Method::Put => Method::PUT,
        yaml::Method::Patch => Method::PATCH,
        yaml::Method::Delete => Method::DELETE,
        yaml::Method::Head => Method::HEAD,
        yaml::Method::Options => Method::OPTIONS,
    }
}
