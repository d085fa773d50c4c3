//! Ctrl-C as load testers expect it: the first press stops the run
//! gracefully (users finish the requests they are in, and the results are
//! written); a second stops at once, and what was measured until then is
//! still written, marked interrupted.
//!
//! loadgate installs the process's SIGINT handler itself, before the engine
//! starts. goose's own would exit the process with code 1, writing nothing,
//! on any press once the run had been stopped for whatever reason (an
//! abort, an unreachable target, SIGTERM, a first Ctrl-C). Both go through
//! the `ctrlc` crate, which takes one handler per process, so goose's
//! registration fails and it runs without one.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::Notify;

use super::engine;

/// Presses of Ctrl-C so far in this process.
static PRESSES: AtomicU32 = AtomicU32::new(0);

/// Woken by every press after the first.
static AGAIN: Notify = Notify::const_new();

/// Installs the handler; once per process, later calls change nothing.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
            engine::stop("SIGINT received");
        } else {
            AGAIN.notify_one();
        }
    });
}

/// Whether Ctrl-C has been pressed.
pub fn pressed() -> bool {
    PRESSES.load(Ordering::SeqCst) > 0
}

/// Returns once Ctrl-C has been pressed a second time.
pub async fn pressed_again() {
    AGAIN.notified().await;
}
