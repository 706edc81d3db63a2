//! The supervisor's state machine, without a runtime (feature `machine`).
//!
//! A [`Supervisor`](crate::Supervisor) is two parts: this state machine,
//! which holds every rule (the child table, the plans, restarts, intensity,
//! the answers to commands) and never awaits, spawns or reads a clock; and
//! a driver, one tokio task, that feeds it what happens and carries out
//! what it asks. This module exports the first part, so that a program can
//! drive it on a clock of its own: to simulate a supervision tree
//! deterministically, or to test its rules against a model with no runtime
//! (as this crate's `tests/model.rs` does).
//!
//! You hand [`Machine::handle`] an [`Input`] and the instant it happened;
//! it appends [`Action`]s: spawn a run of a child, cancel it, abort it,
//! answer a request, send an event. Each `Spawn` must be answered, some
//! time later, by exactly one [`Input::Exit`] for that run. Time passes
//! by [`Input::Tick`] at or after [`Machine::next_deadline`].
//!
//! Not covered by semver: the shape of the inputs and actions follows the
//! supervisor's needs.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::time::{Duration, Instant};
//! use tokio_supervisor::machine::{Action, End, Input, Machine};
//! use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
//!
//! let sup = Supervisor::builder("app")
//!     .child(ChildSpec::new("w", service_fn(|_| async { Ok(()) })))
//!     .build()
//!     .unwrap();
//! let t0 = Instant::now();
//! let mut m: Machine<()> = Machine::of(&sup, t0);
//! let mut out = VecDeque::new();
//! m.begin(t0, &mut out);
//! let Some(Action::Spawn { slot, run, attempt: 1 }) = out.pop_front() else {
//!     panic!("the child is started first");
//! };
//! // The run fails; a `Permanent` child backs off (100 ms), then restarts.
//! m.handle(Input::Exit { slot, run: run as u32, end: End::Panicked("boom".into()) }, t0, &mut out);
//! assert_eq!(m.next_deadline(), Some(t0 + Duration::from_millis(100)));
//! out.clear();
//! m.handle(Input::Tick, t0 + Duration::from_millis(100), &mut out);
//! assert!(matches!(out.pop_front(), Some(Action::Spawn { attempt: 2, .. })));
//! ```

pub use crate::supervisor::core::{Action, Answer, Core as Machine, End, Input, Request};
pub use crate::supervisor::protocol::TaskId;
