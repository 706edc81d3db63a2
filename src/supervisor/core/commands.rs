//! The handles' requests about this supervisor's own children:
//! `start_child`, `terminate_child`, `restart_child`, `delete_child`.
//!
//! The answers are OTP's (see `ControlError`). A request never blocks the
//! supervisor: one that has to wait (a ready-gated start, a graceful stop)
//! leaves its reply with the child, answered when the input comes. (A path
//! into a nested supervisor, `which_children` and `count_children` are the
//! driver's: they need no state change.)

use std::sync::Arc;

use super::child::{Child, Waiter};
use super::decision::RestartState;
use super::state::{By, State, Then};
use super::{Answer, Core, Mode, Request, Step};
use crate::event::EventKind;
use crate::supervisor::builder::validate_spec;
use crate::supervisor::protocol::TaskId;
use crate::{ChildSpec, ControlError};

impl<R> Core<R> {
    pub(super) fn on_request(&mut self, request: Request<R>) {
        match request {
            Request::Start { spec, task, reply } => self.cmd_start(*spec, task, reply),
            Request::Terminate { name, only, reply } => {
                self.cmd_terminate(&name, only.as_ref(), reply);
            }
            Request::Restart { name, reply } => self.cmd_restart(&name, reply),
            Request::Delete { name, reply } => {
                let answer = self.stopped_child(&name).map(|slot| self.remove(slot));
                self.reply(reply, Answer::Done(answer));
            }
        }
    }

    fn cmd_start(&mut self, mut spec: ChildSpec, task: bool, reply: R) {
        if let Err(e) = self.check_start(&mut spec, task) {
            return self.reply(reply, Answer::Added(Err(e)));
        }
        let path = super::child_path(&self.path, &spec.name, &mut self.scratch);
        let counters = self.metrics.register(&path);
        let mut child = Child::new(Arc::new(spec), counters, self.now);
        let id = self.keep(reply);
        child.wait(Waiter::Added(id));
        let slot = self.table.push(child);
        if task {
            // A task: answered once spawned, ready (holding its permit) or not.
            self.spawn(slot, By::Plan, false);
            self.finish_manual_start(slot);
        } else {
            self.spawn(slot, By::Request, false);
        }
    }

    /// Whether `spec` may be started here: names it (a dynamic
    /// supervisor numbers its children), gives it the defaults, and
    /// checks it.
    fn check_start(&mut self, spec: &mut ChildSpec, task: bool) -> Result<(), ControlError> {
        self.refuse_if_stopping()?;
        if let Some(Some(max)) = self.config.dynamic {
            if self.table.len() >= max {
                return Err(ControlError::MaxChildren {
                    supervisor: self.path.to_string(),
                    max,
                });
            }
        }
        // A dynamic supervisor numbers the children it is given; a task keeps
        // its name, to be found by it.
        if self.config.dynamic.is_some() && !task {
            if let Err(reason) = crate::spec::check_name(&spec.name) {
                return Err(ControlError::InvalidName {
                    path: self.path_for(&spec.name),
                    name: spec.name.to_string(),
                    reason,
                });
            }
            // The next number whose name no child has taken (a task may
            // have been given one by hand): at most one try per child.
            let base = spec.name.clone();
            loop {
                self.next_dynamic_id = self.next_dynamic_id.wrapping_add(1);
                spec.name = format!("{base}-{}", self.next_dynamic_id).into();
                if self.table.slot_of(&spec.name).is_none() {
                    break;
                }
            }
        }
        if spec.nested.as_ref().is_some_and(|c| self.lineage_has(c)) {
            return Err(ControlError::InvalidSpec(
                crate::ConfigError::NestedInItself {
                    path: self.path_for(&spec.name),
                },
            ));
        }
        if !task {
            spec.inherit(&self.config.defaults);
        }
        if let Err(e) = validate_spec(&self.path, spec, self.config.auto_shutdown) {
            return Err(match e {
                crate::ConfigError::InvalidName { path, name, reason } => {
                    ControlError::InvalidName { path, name, reason }
                }
                other => ControlError::InvalidSpec(other),
            });
        }
        if let Some(existing) = self
            .table
            .slot_of(&spec.name)
            .and_then(|s| self.table.get(s))
        {
            let path = existing.path().to_string();
            return Err(if existing.is_live() {
                ControlError::AlreadyRunning { path }
            } else {
                ControlError::AlreadyPresent { path }
            });
        }
        Ok(())
    }

    /// Called when a child started by a request is ready (at once for one
    /// that is not ready-gated).
    pub(super) fn finish_manual_start(&mut self, slot: usize) {
        let Some(child) = self.table.get(slot) else {
            return;
        };
        let added = child.is_being_added();
        let path = child.path().clone();
        self.answer_starts(slot, Ok(()));
        if added {
            tracing::info!(path = %path, "child added");
            self.emit(&path, EventKind::ChildAdded);
        }
    }

    fn cmd_terminate(&mut self, name: &str, only: Option<&TaskId>, reply: R) {
        if let Err(e) = self.refuse_if_stopping() {
            return self.reply(reply, Answer::Done(Err(e)));
        }
        // A task's handle acts on its own task only, never on a newer
        // child that has taken its name since.
        let slot = self.table.slot_of(name).filter(|&s| {
            only.is_none_or(|id| {
                self.table
                    .get(s)
                    .is_some_and(|c| c.spec.on_exit.as_ref().is_some_and(|hook| id.is(hook)))
            })
        });
        let Some(slot) = slot else {
            let path = self.path_for(name);
            return self.reply(reply, Answer::Done(Err(ControlError::NotFound { path })));
        };
        if self.group_trigger == Some(slot) {
            // OTP: the pending restart is dropped, and the siblings it had
            // stopped stay down.
            self.abandon_group_restart();
        }
        self.plan.retain(|s| *s != Step::Start(slot));
        if self.current == Some(Step::Start(slot)) {
            self.current = None;
        }
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if let State::Stopping { then, .. } = &mut child.state {
            // Stopped by a group restart: it stays down now.
            *then = Then::Stay;
        }
        // The plan still waits for its end in its turn, but does not start
        // it again.
        for step in self.plan.iter_mut() {
            if *step == Step::Stop(slot, Then::Regroup) {
                *step = Step::Stop(slot, Then::Stay);
            }
        }
        if self.table.get(slot).is_some_and(Child::is_live) {
            // Answered when the run has ended (OTP's terminate_child is
            // synchronous too).
            let id = self.keep(reply);
            if let Some(child) = self.table.get_mut(slot) {
                child.wait(Waiter::Terminated(id));
            }
            self.stop_child(slot, Then::Stay);
        } else {
            // Waiting to restart, or already terminated: `ok`, again.
            self.stop_child(slot, Then::Stay);
            self.remove_if_done(slot);
            self.reply(reply, Answer::Done(Ok(())));
        }
    }

    fn cmd_restart(&mut self, name: &str, reply: R) {
        let slot = match self.stopped_child(name) {
            Ok(slot) => slot,
            Err(e) => return self.reply(reply, Answer::Done(Err(e))),
        };
        let id = self.keep(reply);
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        // Terminated (by hand, completed, or given up by its breaker): a
        // restart by hand closes the breaker and starts the backoff over.
        child.restart_state = RestartState::new(&child.spec);
        child.wait(Waiter::Restarted(id));
        tracing::info!(path = %child.path(), "restart by hand");
        self.spawn(slot, By::Request, false);
    }

    fn refuse_if_stopping(&self) -> Result<(), ControlError> {
        if self.mode == Mode::Stopping {
            Err(ControlError::ShuttingDown {
                supervisor: self.path.to_string(),
            })
        } else {
            Ok(())
        }
    }

    /// The slot of the child `name` if it is terminated: what
    /// `restart_child` and `delete_child` need (OTP: `running`,
    /// `restarting` and `not_found` otherwise).
    fn stopped_child(&self, name: &str) -> Result<usize, ControlError> {
        self.refuse_if_stopping()?;
        let path = || self.path_for(name);
        let found = self.table.slot_of(name);
        let Some((slot, child)) = found.and_then(|s| Some((s, self.table.get(s)?))) else {
            return Err(ControlError::NotFound { path: path() });
        };
        if is_restarting(child) || self.queued_for_regroup(slot) {
            Err(ControlError::Restarting { path: path() })
        } else if child.is_live() {
            Err(ControlError::Running { path: path() })
        } else {
            Ok(slot)
        }
    }
}

/// OTP's `restarting`: waiting for an automatic restart, or in a restart
/// attempt that is not ready yet (or, see the caller, to be stopped and
/// started again by the group restart under way).
fn is_restarting(child: &Child) -> bool {
    matches!(
        child.state,
        State::Pending { .. }
            | State::BackingOff { .. }
            | State::Starting { restart: true, .. }
            | State::Stopping {
                then: Then::Regroup,
                ..
            }
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{child, done, Bench};
    use super::super::{Answer, End, Request};
    use crate::{ControlError, Supervisor};

    fn bench() -> Bench {
        let sup = Supervisor::builder("app")
            .child(child("a"))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b
    }

    #[test]
    fn terminate_is_answered_once_the_run_has_ended() {
        let mut b = bench();
        b.request(Request::Terminate {
            name: "a".into(),
            only: None,
            reply: 1,
        });
        assert_eq!(b.log(), ["cancel a"], "not answered yet");
        b.end("a", End::Returned);
        assert_eq!(b.log(), [done(1)]);
    }

    #[test]
    fn restart_and_delete_need_a_terminated_child() {
        let mut b = bench();
        b.request(Request::Delete {
            name: "a".into(),
            reply: 1,
        });
        let running = Answer::Done(Err(ControlError::Running {
            path: "app/a".into(),
        }));
        assert_eq!(b.log(), [format!("answer 1 {running:?}")]);
        b.request(Request::Terminate {
            name: "a".into(),
            only: None,
            reply: 2,
        });
        b.end("a", End::Returned);
        b.log();
        b.request(Request::Restart {
            name: "a".into(),
            reply: 3,
        });
        assert_eq!(b.log(), ["spawn a", &done(3)]);
        b.request(Request::Terminate {
            name: "a".into(),
            only: None,
            reply: 4,
        });
        b.end("a", End::Returned);
        assert_eq!(b.log(), ["cancel a", &done(4)]);
        b.request(Request::Delete {
            name: "a".into(),
            reply: 5,
        });
        assert_eq!(b.log(), [done(5)]);
        assert_eq!(b.core.counts().specs, 0);
    }

    #[test]
    fn a_dynamic_supervisor_numbers_its_children_and_keeps_to_its_maximum() {
        let sup = Supervisor::dynamic("pool").max_children(1).build().unwrap();
        let mut b = Bench::start(sup);
        b.log();
        let start = |reply| Request::Start {
            spec: Box::new(child("w")),
            task: false,
            reply,
        };
        b.request(start(1));
        let added = Answer::Added(Ok("pool/w-1".into()));
        assert_eq!(
            b.log(),
            ["spawn w-1".to_owned(), format!("answer 1 {added:?}")]
        );
        b.request(start(2));
        let full = Answer::Added(Err(ControlError::MaxChildren {
            supervisor: "pool".into(),
            max: 1,
        }));
        assert_eq!(b.log(), [format!("answer 2 {full:?}")]);
        // Ended for good: removed, and the room is free again.
        b.end("w-1", End::Returned);
        assert_eq!(b.core.counts().specs, 0);
    }

    /// OTP's `terminate_child` is synchronous: a group restart under way
    /// waits for the member terminated meanwhile, in its turn, and does not
    /// start it again.
    #[test]
    fn a_group_restart_waits_for_a_member_terminated_meanwhile() {
        let sup = Supervisor::builder("app")
            .strategy(crate::Strategy::RestForOne)
            .children(["a", "b", "c", "d"].map(|n| child(n).backoff(crate::Backoff::none())))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.end("b", super::super::testing::failed());
        assert_eq!(b.log(), ["cancel d"]);
        b.request(Request::Terminate {
            name: "c".into(),
            only: None,
            reply: 1,
        });
        assert_eq!(b.log(), ["cancel c"]);
        b.end("d", End::Returned);
        assert!(b.log().is_empty(), "c has not ended yet");
        b.end("c", End::Returned);
        assert_eq!(b.log(), [done(1), "spawn b".into(), "spawn d".into()]);
    }
}
