//! Commands from handles, routed: a path with a `/` goes on, minus its first
//! segment, to the nested supervisor that segment names; a read
//! (`which_children`, `count_children`) is answered from the core's state;
//! the rest is a request for the core.

use std::sync::Arc;

use super::{Driver, Pending};
use crate::supervisor::core::{Input, Request};
use crate::supervisor::protocol::{Command, Msg};
use crate::ControlError;

impl Driver {
    pub(super) fn on_command(&mut self, cmd: Command, now: tokio::time::Instant) {
        let request = match cmd {
            Command::WhichChildren(reply) => {
                let _ = reply.send(self.core.snapshots(now.into_std()));
                return;
            }
            Command::WhichChildrenAt { path, reply } => {
                if path.is_empty() {
                    let _ = reply.send(Ok(self.core.snapshots(now.into_std())));
                } else {
                    let (head, rest) = split(&path);
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    self.forward(&head, Command::WhichChildrenAt { path, reply });
                }
                return;
            }
            Command::CountChildren(reply) => {
                let _ = reply.send(self.core.counts());
                return;
            }
            Command::Kill => return self.feed(Input::Kill, now),
            Command::Start {
                at,
                spec,
                task,
                reply,
            } => {
                if !at.is_empty() {
                    let (head, rest) = split(&at);
                    let (head, at) = (head.to_owned(), rest.to_owned());
                    let cmd = Command::Start {
                        at,
                        spec,
                        task,
                        reply,
                    };
                    return self.forward(&head, cmd);
                }
                Request::Start {
                    spec,
                    task,
                    reply: Pending::Added(reply),
                }
            }
            Command::Terminate { path, only, reply } => match split(&path) {
                (name, "") => Request::Terminate {
                    name: name.to_owned(),
                    only,
                    reply: Pending::Done(reply),
                },
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    return self.forward(&head, Command::Terminate { path, only, reply });
                }
            },
            Command::Restart { path, reply } => match split(&path) {
                (name, "") => Request::Restart {
                    name: name.to_owned(),
                    reply: Pending::Done(reply),
                },
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    return self.forward(&head, Command::Restart { path, reply });
                }
            },
            Command::Delete { path, reply } => match split(&path) {
                (name, "") => Request::Delete {
                    name: name.to_owned(),
                    reply: Pending::Done(reply),
                },
                (head, rest) => {
                    let (head, path) = (head.to_owned(), rest.to_owned());
                    return self.forward(&head, Command::Delete { path, reply });
                }
            },
        };
        self.feed(Input::Request(request), now);
    }

    /// Sends `cmd` on to the nested supervisor `name`.
    fn forward(&mut self, name: &str, cmd: Command) {
        let path = self.core.path_for(name);
        let Some(slot) = self.core.slot_of(name) else {
            return refuse(cmd, ControlError::NotFound { path });
        };
        let (Some(child), tx) = (
            self.core.child_path_of(slot),
            self.link(slot).and_then(|l| l.nested.clone()),
        ) else {
            return refuse(cmd, ControlError::NotFound { path });
        };
        // Unanswered from now on, the command names the nested supervisor.
        let cmd = forwarded_to(cmd, child);
        match tx {
            Some(tx) => {
                if let Err(e) = tx.send(Msg::Command(cmd)) {
                    if let Msg::Command(cmd) = e.0 {
                        refuse(cmd, ControlError::NotASupervisor { path });
                    }
                }
            }
            None => refuse(cmd, ControlError::NotASupervisor { path }),
        }
    }
}

/// The command, sent on to the nested supervisor at `path`.
fn forwarded_to(cmd: Command, path: &Arc<str>) -> Command {
    let to = || path.clone();
    match cmd {
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
        other @ (Command::WhichChildren(_) | Command::CountChildren(_) | Command::Kill) => other,
    }
}

/// Answers the command with `err`.
fn refuse(cmd: Command, err: ControlError) {
    match cmd {
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

/// `"db/pool/conn"` → `("db", "pool/conn")`; `"db"` → `("db", "")`.
fn split(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or((path, ""))
}
