//! loadgate: scenario → plan → run → results → verdict.
