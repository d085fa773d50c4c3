//! What a task is: the action it runs, its priority, the states it moves
//! through, and the record the API shows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    error::{Error, Result},
    model::{Status, format_rfc3339_ms},
};

/// A lifecycle action on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Stop,
    Restart,
    HealthCheck,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Start,
        Action::Stop,
        Action::Restart,
        Action::HealthCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::HealthCheck => "health_check",
        }
    }

    /// The status the server has once the action is done; a health check
    /// leaves it as it was.
    pub fn resulting_status(self) -> Option<Status> {
        match self {
            Action::Start | Action::Restart => Some(Status::Running),
            Action::Stop => Some(Status::Stopped),
            Action::HealthCheck => None,
        }
    }

    /// The metric type of the point a done action records.
    pub fn metric_type(self) -> &'static str {
        match self {
            Action::Start => "action_start",
            Action::Stop => "action_stop",
            Action::Restart => "action_restart",
            Action::HealthCheck => "action_health_check",
        }
    }
}

/// Which tasks workers take first. Declared highest first: the derived
/// order and [`Priority::index`] both follow it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    /// Highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// 0 for high, 1 for normal, 2 for low.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for a worker.
    Queued,
    /// A worker is running an attempt.
    Running,
    /// Done; it never runs again.
    Succeeded,
    /// An attempt failed; the next one waits for its backoff.
    Retrying,
    /// Failed its last retry, or failed in a way no retry can mend: in the
    /// dead-letter queue until replayed.
    Dead,
}

impl TaskState {
    pub const ALL: [TaskState; 5] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Retrying,
        TaskState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Retrying => "retrying",
            TaskState::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the task will never run again unless replayed.
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Dead)
    }
}

macro_rules! parse_by_name {
    ($ty:ty, $field:literal) => {
        impl $ty {
            /// Parses the wire name, or fails naming the field and the accepted values.
            pub fn parse(text: &str) -> Result<Self> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        Error::validation(
                            $field,
                            format!("{text:?} is not one of {}", names.join(", ")),
                        )
                    })
            }
        }
    };
}

parse_by_name!(Action, "action");
parse_by_name!(Priority, "priority");

/// Body of `POST /api/v1/servers/{id}/actions`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionInput {
    #[schema(value_type = Action)]
    pub action: String,
    /// Default `normal`.
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
}

impl ActionInput {
    pub fn validate(self) -> Result<(Action, Priority)> {
        let action = Action::parse(&self.action)?;
        let priority = self
            .priority
            .as_deref()
            .map(Priority::parse)
            .transpose()?
            .unwrap_or_default();
        Ok((action, priority))
    }
}

/// A task to enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTask {
    pub user_id: i64,
    pub server_id: i64,
    pub action: Action,
    pub priority: Priority,
}

/// A task as a queue keeps it; times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: i64,
    pub user_id: i64,
    pub server_id: i64,
    pub action: Action,
    pub priority: Priority,
    pub state: TaskState,
    /// Attempts started, the one running included.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When it was enqueued, or replayed: its latency counts from here.
    pub enqueued_at: i64,
    pub updated_at: i64,
    /// When a task that is retrying may run again.
    pub next_attempt_at: Option<i64>,
}

impl TaskRecord {
    pub fn view(&self) -> Task {
        Task {
            id: self.id,
            server_id: self.server_id,
            action: self.action,
            priority: self.priority,
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            enqueued_at: format_rfc3339_ms(self.enqueued_at),
            updated_at: format_rfc3339_ms(self.updated_at),
            next_attempt_at: self.next_attempt_at.map(format_rfc3339_ms),
        }
    }
}

/// A task, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: i64,
    pub server_id: i64,
    pub action: Action,
    pub priority: Priority,
    pub state: TaskState,
    /// Attempts started, the one running included.
    pub attempts: u32,
    /// Why the last failed attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// RFC 3339, UTC: when it was enqueued (or replayed).
    pub enqueued_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// RFC 3339, UTC: when a retrying task runs again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// One page of the caller's dead tasks, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub page: u32,
    pub per_page: u32,
    /// Dead tasks over all pages.
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()).unwrap(), action);
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::json!(action.as_str())
            );
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::parse(priority.as_str()).unwrap(), priority);
            assert_eq!(Priority::ALL[priority.index()], priority);
        }
        for state in TaskState::ALL {
            assert_eq!(TaskState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn a_bad_action_names_its_field() {
        let err = ActionInput {
            action: "reboot".into(),
            priority: None,
        }
        .validate()
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Validation {
                    field: "action",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = ActionInput {
            action: "start".into(),
            priority: Some("urgent".into()),
        }
        .validate()
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Validation {
                    field: "priority",
                    ..
                }
            ),
            "{err:?}"
        );
        let ok = ActionInput {
            action: "health_check".into(),
            priority: None,
        }
        .validate()
        .unwrap();
        assert_eq!(ok, (Action::HealthCheck, Priority::Normal));
    }
}
