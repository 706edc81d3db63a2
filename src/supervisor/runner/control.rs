//! Commands from handles: `start_child`, `terminate_child`,
//! `restart_child`, `delete_child`, `which_children`, `count_children`.
//!
//! The answers are OTP's (see `ControlError`). A path with a `/` is
//! forwarded, minus its first segment, to the nested supervisor that segment
//! names. Commands never block the loop: one that has to wait (a ready-gated
//! start, a graceful stop) leaves its reply with the child, answered when the
//! event comes.

use std::sync::Arc;

use super::{emit, Command, Mode, Msg, Reply, Runner, Step, TaskId};
use crate::event::EventKind;
use crate::lifecycle::Phase;
use crate::supervisor::builder::validate_spec;
use crate::supervisor::child::{Child, Waiter};
use crate::supervisor::decision::RestartState;
use crate::supervisor::ChildCounts;
use crate::{ChildSpec, ControlError};

impl Runner {
    pub(super) fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::WhichChildren(reply) => {
                let _ = reply.send(self.snapshots());
            }
            Command::WhichChildrenAt { path, reply } => {
                if path.is_empty() {
                    let _ = reply.send(Ok(self.snapshots()));
                } else {
                    let (head, rest) = split(&path);
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    self.forward(&head, Command::WhichChildrenAt { path, reply });
                }
            }
            Command::CountChildren(reply) => {
                let _ = reply.send(self.counts());
            }
            Command::Kill => self.kill_all(),
            Command::Start {
                at,
                spec,
                task,
                reply,
            } => {
                if at.is_empty() {
                    self.cmd_start(*spec, task, reply);
                } else {
                    let (head, rest) = split(&at);
                    let (head, rest) = (head.to_owned(), rest.to_owned());
                    let cmd = Command::Start {
                        at: rest,
                        spec,
                        task,
                        reply,
                    };
                    self.forward(&head, cmd);
                }
            }
            Command::Terminate { path, only, reply } => match split(&path) {
                (name, "") => self.cmd_terminate(name, only.as_ref(), reply),
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    self.forward(&head, Command::Terminate { path, only, reply });
                }
            },
            Command::Restart { path, reply } => match split(&path) {
                (name, "") => self.cmd_restart(name, reply),
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    self.forward(&head, Command::Restart { path, reply });
                }
            },
            Command::Delete { path, reply } => match split(&path) {
                (name, "") => self.cmd_delete(name, reply),
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    self.forward(&head, Command::Delete { path, reply });
                }
            },
        }
    }

    /// Sends `cmd` on to the nested supervisor `name`.
    fn forward(&mut self, name: &str, cmd: Command) {
        let path = self.child_path(name);
        let Some(child) = self.table.slot_of(name).and_then(|s| self.table.get(s)) else {
            return cmd.refuse(ControlError::NotFound { path });
        };
        let tx = child.run.as_ref().and_then(|r| r.nested.clone());
        // Unanswered from now on, the command names the nested supervisor.
        let cmd = cmd.forwarded_to(child.path());
        match tx {
            Some(tx) => {
                if let Err(e) = tx.send(Msg::Command(cmd)) {
                    if let Msg::Command(cmd) = e.0 {
                        cmd.refuse(ControlError::NotASupervisor { path });
                    }
                }
            }
            None => cmd.refuse(ControlError::NotASupervisor { path }),
        }
    }

    fn cmd_start(&mut self, mut spec: ChildSpec, task: bool, reply: Reply<String>) {
        if let Err(e) = self.refuse_if_stopping() {
            let _ = reply.send(Err(e));
            return;
        }
        if let Some(Some(max)) = self.config.dynamic {
            if self.table.len() >= max {
                let _ = reply.send(Err(ControlError::MaxChildren {
                    supervisor: self.path.to_string(),
                    max,
                }));
                return;
            }
        }
        // A dynamic supervisor numbers the children it is given; a task keeps
        // its name, to be found by it.
        if self.config.dynamic.is_some() && !task {
            if let Err(reason) = crate::spec::check_name(&spec.name) {
                let _ = reply.send(Err(ControlError::InvalidName {
                    path: self.child_path(&spec.name),
                    name: spec.name.to_string(),
                    reason,
                }));
                return;
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
        if spec.nested.as_ref().is_some_and(|c| self.scope.contains(c)) {
            let _ = reply.send(Err(ControlError::InvalidSpec(
                crate::ConfigError::NestedInItself {
                    path: self.child_path(&spec.name),
                },
            )));
            return;
        }
        if !task {
            spec.inherit(&self.config.defaults);
        }
        if let Err(e) = validate_spec(&self.path, &spec, self.config.auto_shutdown) {
            let _ = reply.send(Err(match e {
                crate::ConfigError::InvalidName { path, name, reason } => {
                    ControlError::InvalidName { path, name, reason }
                }
                other => ControlError::InvalidSpec(other),
            }));
            return;
        }
        if let Some(existing) = self
            .table
            .slot_of(&spec.name)
            .and_then(|s| self.table.get(s))
        {
            let path = existing.path().to_string();
            let _ = reply.send(Err(if existing.run.is_some() {
                ControlError::AlreadyRunning { path }
            } else {
                ControlError::AlreadyPresent { path }
            }));
            return;
        }
        let path = super::child_path(&self.path, &spec.name, &mut self.scratch);
        let counters = self.tree.metrics.register(&path);
        let mut child = Child::new(Arc::new(spec), counters, self.clock.now());
        child.wait(Waiter::Added(reply));
        let slot = self.table.push(child);
        self.spawn(slot, true);
        if task {
            // A task: answered once spawned, ready (holding its permit) or not.
            if let Some(run) = self.table.get_mut(slot).and_then(|c| c.run.as_mut()) {
                run.manual = false;
            }
            self.finish_manual_start(slot);
        }
    }

    /// Called when a child started by a command is ready (at once for one
    /// that is not ready-gated).
    pub(super) fn finish_manual_start(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let added = child.is_being_added();
        child.answer_starts(Ok(()));
        if added {
            let path = child.path().clone();
            tracing::info!(path = %path, "child added");
            emit(&self.tree, &path, || EventKind::ChildAdded);
        }
    }

    fn cmd_terminate(&mut self, name: &str, only: Option<&TaskId>, reply: Reply<()>) {
        if let Err(e) = self.refuse_if_stopping() {
            let _ = reply.send(Err(e));
            return;
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
            let _ = reply.send(Err(ControlError::NotFound {
                path: self.child_path(name),
            }));
            return;
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
        child.pending_start = false;
        if child.run.is_some() {
            // Answered when the task has ended (OTP's terminate_child is
            // synchronous too).
            child.wait(Waiter::Terminated(reply));
            self.stop_child(slot);
        } else {
            // Waiting to restart, or already terminated: `ok`, again.
            self.stop_child(slot);
            self.remove_if_done(slot);
            let _ = reply.send(Ok(()));
        }
    }

    /// Calls off the group restart in progress: the children it was to
    /// start again stay down, terminated.
    fn abandon_group_restart(&mut self) {
        self.clear_plan();
        let now = self.clock.now();
        for slot in self.table.slots() {
            let Some(child) = self.table.get_mut(slot).filter(|c| c.pending_start) else {
                continue;
            };
            child.pending_start = false;
            if child.run.is_none() && !matches!(child.phase, Phase::Terminated(_)) {
                child.set_phase(Phase::Terminated(crate::ExitReason::Shutdown), now);
            }
        }
    }

    fn cmd_restart(&mut self, name: &str, reply: Reply<()>) {
        let slot = match self.stopped_child(name) {
            Ok(slot) => slot,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        // Terminated (by hand, completed, or given up by its breaker): a
        // restart by hand closes the breaker and starts the backoff over.
        child.restart_state = RestartState::new(&child.spec);
        child.set_phase(Phase::Starting, self.clock.now());
        child.wait(Waiter::Restarted(reply));
        tracing::info!(path = %child.path(), "restart by hand");
        self.spawn(slot, true);
    }

    fn cmd_delete(&mut self, name: &str, reply: Reply<()>) {
        let answer = self.stopped_child(name).map(|slot| self.remove(slot));
        let _ = reply.send(answer);
    }

    pub(super) fn counts(&self) -> ChildCounts {
        let mut c = ChildCounts::default();
        for child in self.table.iter() {
            c.specs += 1;
            if child.run.is_some() {
                c.active += 1;
            }
            if child.spec.is_supervisor() {
                c.supervisors += 1;
            } else {
                c.workers += 1;
            }
        }
        c
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
        let path = || self.child_path(name);
        let found = self.table.slot_of(name);
        let Some((slot, child)) = found.and_then(|s| Some((s, self.table.get(s)?))) else {
            return Err(ControlError::NotFound { path: path() });
        };
        if is_restarting(child) {
            Err(ControlError::Restarting { path: path() })
        } else if child.run.is_some() {
            Err(ControlError::Running { path: path() })
        } else {
            Ok(slot)
        }
    }

    fn child_path(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }
}

impl Command {
    /// The command, sent on to the nested supervisor at `path`.
    fn forwarded_to(self, path: &Arc<str>) -> Command {
        let to = || path.clone();
        match self {
            Command::Start {
                at,
                spec,
                task,
                reply,
            } => Command::Start {
                at,
                spec,
                task,
                reply: reply.forwarded_to(to()),
            },
            Command::Terminate { path, only, reply } => Command::Terminate {
                path,
                only,
                reply: reply.forwarded_to(to()),
            },
            Command::Restart { path, reply } => Command::Restart {
                path,
                reply: reply.forwarded_to(to()),
            },
            Command::Delete { path, reply } => Command::Delete {
                path,
                reply: reply.forwarded_to(to()),
            },
            Command::WhichChildrenAt { path, reply } => Command::WhichChildrenAt {
                path,
                reply: reply.forwarded_to(to()),
            },
            other @ (Command::WhichChildren(_) | Command::CountChildren(_) | Command::Kill) => {
                other
            }
        }
    }

    /// Answers the command with `err`.
    pub(super) fn refuse(self, err: ControlError) {
        match self {
            Command::Start { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Command::Terminate { reply, .. }
            | Command::Restart { reply, .. }
            | Command::Delete { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Command::WhichChildrenAt { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Command::WhichChildren(_) | Command::CountChildren(_) | Command::Kill => {}
        }
    }
}

/// OTP's `restarting`: waiting for an automatic restart, or in a restart
/// attempt that is not ready yet.
fn is_restarting(child: &Child) -> bool {
    child.pending_start || matches!(child.phase, Phase::BackingOff | Phase::Restarting)
}

/// `"db/pool/conn"` → `("db", "pool/conn")`; `"db"` → `("db", "")`.
fn split(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or((path, ""))
}
