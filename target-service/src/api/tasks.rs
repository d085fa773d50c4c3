//! The background queue's API: enqueue an action on a server, follow its
//! task, list the dead-letter queue and replay from it. Every task is its
//! owner's: another user's id is a 404, as for servers.

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    api::{pagination::Page, servers::cached_server},
    error::{Error, Json, Result},
    queue::task::{ActionInput, NewTask, Task, TaskPage, TaskRecord},
    state::AppState,
    store::User,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/servers/{id}/actions", post(enqueue_action))
        .route("/api/v1/tasks/dead", get(dead_tasks))
        .route("/api/v1/tasks/{id}", get(get_task))
        .route("/api/v1/tasks/{id}/replay", post(replay_task))
}

/// Ids are numbers; anything else cannot name a server or a task.
fn id(text: &str, what: &'static str) -> Result<i64> {
    text.parse().map_err(|_| Error::NotFound(what))
}

/// 202 with the task and where to follow it.
fn accepted(task: &TaskRecord) -> Result<impl IntoResponse + use<>> {
    let location = HeaderValue::from_str(&format!("/api/v1/tasks/{}", task.id))
        .map_err(anyhow::Error::from)?;
    Ok((
        StatusCode::ACCEPTED,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(task.view()),
    ))
}

/// Queues a lifecycle action on one of the caller's servers. The action
/// runs later, in a worker; follow it at the `Location`.
#[utoipa::path(post, path = "/api/v1/servers/{id}/actions", tag = "tasks", params(("id" = i64, Path)),
    request_body = ActionInput, security(("api_key" = [])),
    responses(
        (status = 202, body = Task, headers(("Location" = String, description = "URL of the task"))),
        (status = 404, description = "No such server of the caller's", body = crate::error::ErrorBody),
        (status = 422, description = "Unknown action or priority; `field` names it", body = crate::error::ErrorBody),
    ))]
pub async fn enqueue_action(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(server): Path<String>,
    Json(input): Json<ActionInput>,
) -> Result<impl IntoResponse> {
    let server_id = id(&server, "server")?;
    let (action, priority) = input.validate()?;
    cached_server(&state, user.id, server_id).await?;
    let task = state
        .queue
        .enqueue(NewTask {
            user_id: user.id,
            server_id,
            action,
            priority,
        })
        .await?;
    state.telemetry.task_enqueued(priority);
    accepted(&task)
}

/// One of the caller's tasks: its state, attempts and last error.
/// Succeeded tasks are kept for an hour.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = i64, Path)), security(("api_key" = [])),
    responses((status = 200, body = Task), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_task(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(task): Path<String>,
) -> Result<impl IntoResponse> {
    let task = state.queue.get(user.id, id(&task, "task")?).await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(task.view()),
    ))
}

/// Query of `GET /api/v1/tasks/dead`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadParams {
    /// 1-based page number (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    page: Option<String>,
    /// Items per page (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    per_page: Option<String>,
}

/// The caller's dead-letter queue, newest first: tasks that failed their
/// last retry, or failed in a way no retry mends.
#[utoipa::path(get, path = "/api/v1/tasks/dead", tag = "tasks", params(DeadParams), security(("api_key" = [])),
    responses(
        (status = 200, body = TaskPage),
        (status = 400, description = "Bad page or per_page over 1000", body = crate::error::ErrorBody),
    ))]
pub async fn dead_tasks(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Query(params): Query<DeadParams>,
) -> Result<impl IntoResponse> {
    let Page { page, per_page } = Page::parse(params.page.as_deref(), params.per_page.as_deref())?;
    let (tasks, total) = state.queue.dead_page(user.id, page, per_page).await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(TaskPage {
            items: tasks.iter().map(TaskRecord::view).collect(),
            page,
            per_page,
            total,
        }),
    ))
}

/// Puts one of the caller's dead tasks back in its queue, its attempts
/// reset; its latency counts from now.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/replay", tag = "tasks", params(("id" = i64, Path)), security(("api_key" = [])),
    responses(
        (status = 202, body = Task, headers(("Location" = String, description = "URL of the task"))),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The task is not dead", body = crate::error::ErrorBody),
    ))]
pub async fn replay_task(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(task): Path<String>,
) -> Result<impl IntoResponse> {
    let task = state.queue.replay(user.id, id(&task, "task")?).await?;
    state.telemetry.task_enqueued(task.priority);
    accepted(&task)
}
