//! The embedded queue: the same semantics as the Redis one, in this
//! process. Single-instance, and its tasks are gone when the process
//! ends; a service that must share work or survive restarts uses Redis.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};

use tokio::sync::watch;

use super::{
    FINISHED_TTL, Finish, ReplayError,
    task::{NewTask, Priority, TaskRecord, TaskState},
};

/// Tasks waiting, running and recently finished, behind one lock: every
/// operation is a few map updates, far shorter than the attempts.
#[derive(Debug)]
pub struct MemoryQueue {
    state: Mutex<State>,
    /// Bumped whenever a task becomes takeable, so idle workers wake.
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    tasks: HashMap<i64, TaskRecord>,
    ready: [VecDeque<i64>; 3],
    /// `(due, id)` of tasks waiting for their backoff, per priority.
    delayed: [BTreeSet<(i64, i64)>; 3],
    /// `(died at, id)` per user.
    dead: HashMap<i64, BTreeSet<(i64, i64)>>,
    /// `(finished at, id)` of succeeded tasks, oldest first, to forget
    /// them after [`FINISHED_TTL`].
    succeeded: VecDeque<(i64, i64)>,
}

/// An attempt a worker holds: the task as it was taken, and the attempt
/// number that must still be the task's for the outcome to count.
#[derive(Debug, Clone)]
pub struct MemoryDelivery {
    pub task: TaskRecord,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic under the lock leaves the maps consistent (each operation
        // finishes its updates before anything can panic), so carry on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn enqueue(&self, new: NewTask, now: i64) -> TaskRecord {
        let task = {
            let mut state = self.lock();
            state.next_id += 1;
            let task = TaskRecord {
                id: state.next_id,
                user_id: new.user_id,
                server_id: new.server_id,
                action: new.action,
                priority: new.priority,
                state: TaskState::Queued,
                attempts: 0,
                last_error: None,
                enqueued_at: now,
                updated_at: now,
                next_attempt_at: None,
            };
            state.ready[new.priority.index()].push_back(task.id);
            state.tasks.insert(task.id, task.clone());
            task
        };
        self.wake();
        task
    }

    pub fn get(&self, user_id: i64, id: i64) -> Option<TaskRecord> {
        self.lock()
            .tasks
            .get(&id)
            .filter(|t| t.user_id == user_id)
            .cloned()
    }

    pub fn dead_page(&self, user_id: i64, page: u32, per_page: u32) -> (Vec<TaskRecord>, i64) {
        let state = self.lock();
        let Some(dead) = state.dead.get(&user_id) else {
            return (Vec::new(), 0);
        };
        let skip = page.saturating_sub(1) as usize * per_page as usize;
        let items = dead
            .iter()
            .rev()
            .skip(skip)
            .take(per_page as usize)
            .filter_map(|(_, id)| state.tasks.get(id).cloned())
            .collect();
        (items, dead.len() as i64)
    }

    pub fn replay(&self, user_id: i64, id: i64, now: i64) -> Result<TaskRecord, ReplayError> {
        let task = {
            let mut state = self.lock();
            let state = &mut *state;
            let task = state
                .tasks
                .get_mut(&id)
                .filter(|t| t.user_id == user_id)
                .ok_or(ReplayError::NotFound)?;
            if task.state != TaskState::Dead {
                return Err(ReplayError::NotDead(task.state));
            }
            task.state = TaskState::Queued;
            task.attempts = 0;
            task.enqueued_at = now;
            task.updated_at = now;
            let task = task.clone();
            if let Some(dead) = state.dead.get_mut(&user_id) {
                dead.retain(|(_, dead_id)| *dead_id != id);
            }
            state.ready[task.priority.index()].push_back(id);
            task
        };
        self.wake();
        Ok(task)
    }

    /// Takes the first waiting task in `order`, or says which change to
    /// wait for.
    pub fn take(&self, order: [Priority; 3], now: i64) -> Result<MemoryDelivery, u64> {
        let mut state = self.lock();
        let state = &mut *state;
        for priority in order {
            while let Some(id) = state.ready[priority.index()].pop_front() {
                let Some(task) = state.tasks.get_mut(&id) else {
                    continue;
                };
                if !matches!(task.state, TaskState::Queued | TaskState::Retrying) {
                    continue;
                }
                task.state = TaskState::Running;
                task.attempts += 1;
                task.updated_at = now;
                task.next_attempt_at = None;
                return Ok(MemoryDelivery { task: task.clone() });
            }
        }
        Err(*self.changed.borrow())
    }

    /// Waits until a task may have become takeable since `seen`, or `within`.
    pub async fn wait(&self, seen: u64, within: Duration) {
        let mut changes = self.changed.subscribe();
        let _ = tokio::time::timeout(within, changes.wait_for(|n| *n != seen)).await;
    }

    /// Records an attempt's outcome. `None` when the attempt is no longer
    /// the task's (it cannot be, in one process, but the Redis queue's
    /// contract says so and the workers handle it).
    pub fn finish(
        &self,
        delivery: &MemoryDelivery,
        finish: &Finish,
        now: i64,
    ) -> Option<TaskRecord> {
        let mut state = self.lock();
        let state = &mut *state;
        let task = state.tasks.get_mut(&delivery.task.id)?;
        if task.state != TaskState::Running || task.attempts != delivery.task.attempts {
            return None;
        }
        task.updated_at = now;
        match finish {
            Finish::Succeeded => {
                task.state = TaskState::Succeeded;
                task.last_error = None;
            }
            Finish::Retry { error, after } => {
                let due = now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX));
                task.state = TaskState::Retrying;
                task.last_error = Some(error.clone());
                task.next_attempt_at = Some(due);
                state.delayed[task.priority.index()].insert((due, task.id));
            }
            Finish::Dead { error } => {
                task.state = TaskState::Dead;
                task.last_error = Some(error.clone());
                state
                    .dead
                    .entry(task.user_id)
                    .or_default()
                    .insert((now, task.id));
            }
        }
        let task = task.clone();
        if task.state == TaskState::Succeeded {
            state.succeeded.push_back((now, task.id));
            let forget_before = now.saturating_sub(FINISHED_TTL.as_millis() as i64);
            while let Some(&(at, id)) = state.succeeded.front() {
                if at >= forget_before {
                    break;
                }
                state.succeeded.pop_front();
                state.tasks.remove(&id);
            }
        }
        Some(task)
    }

    /// Moves the retries due by `now` back to their ready queues.
    pub fn promote_due(&self, now: i64) -> u64 {
        let moved = {
            let mut state = self.lock();
            let state = &mut *state;
            let mut moved = 0;
            for priority in Priority::ALL {
                let delayed = &mut state.delayed[priority.index()];
                let later = delayed.split_off(&(now.saturating_add(1), i64::MIN));
                let due = std::mem::replace(delayed, later);
                for (_, id) in due {
                    state.ready[priority.index()].push_back(id);
                    moved += 1;
                }
            }
            moved
        };
        if moved > 0 {
            self.wake();
        }
        moved
    }

    /// Tasks waiting to be taken (ready or waiting for their backoff), by
    /// priority, highest first.
    pub fn depth(&self) -> [u64; 3] {
        let state = self.lock();
        Priority::ALL
            .map(|p| (state.ready[p.index()].len() + state.delayed[p.index()].len()) as u64)
    }
}
