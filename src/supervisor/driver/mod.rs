//! The supervisor's driver: one tokio task per supervisor, and the only
//! part of it that touches tokio.
//!
//! It owns the inbox (a run's end, a run's `ready()`, a handle's command),
//! one timer set to the core's earliest deadline, the stop token, and each
//! live run's link (its context and task). It turns what wakes it into the
//! core's inputs, stamped with the time, and carries the core's actions out:
//! spawn a run, cancel it, abort it, answer a command, send an event,
//! publish the state. It sleeps in one poll of those sources and wakes only
//! on an event, never on an interval (but the systemd watchdog's, which is
//! one).
//!
//! Only the driver stops a run, and only when the core says so.

mod route;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::core::{Action, Answer, Core, End, Input};
use super::protocol::{Msg, Reply, State};
use super::{Config, Scope, Tree};
use crate::event::{Event, EventKind};
use crate::link::Outcome;
use crate::link::{Reports, RunLink};
use crate::{Context, SupervisorError};

/// The room for actions the queue keeps between events.
const KEPT_ACTIONS: usize = 16;

/// What a driver is connected to.
pub(crate) struct Wiring {
    pub(crate) path: Arc<str>,
    pub(crate) stop: CancellationToken,
    pub(crate) scope: Arc<Scope>,
    pub(crate) tx: mpsc::UnboundedSender<Msg>,
    pub(crate) rx: mpsc::UnboundedReceiver<Msg>,
    pub(crate) state: watch::Sender<State>,
    /// For a nested supervisor: its own context, told `ready` once started.
    pub(crate) parent: Option<Context>,
}

/// A request's reply channel, as the core holds it (opaque to it).
#[derive(Debug)]
pub(crate) enum Pending {
    Added(Reply<String>),
    Done(Reply<()>),
}

/// A live run, as the driver holds it.
#[derive(Debug)]
struct Live {
    link: RunLink,
    /// Its task, kept to abort it; it reports its end itself.
    task: JoinHandle<()>,
    run: u64,
    /// A nested supervisor's inbox, made as its run is spawned.
    nested: Option<mpsc::UnboundedSender<Msg>>,
}

impl Live {
    /// Aborts the run. A nested supervisor is killed instead: it aborts its
    /// own children and ends once they have ended (its task, aborted, could
    /// not wait for them).
    fn abort(&self) {
        if let Some(tx) = &self.nested {
            if tx
                .send(Msg::Command(super::protocol::Command::Kill))
                .is_ok()
            {
                return;
            }
        }
        self.task.abort();
    }
}

/// What woke the driver.
enum Woken {
    Msg(Msg),
    /// The core's earliest deadline, which has passed.
    Deadline(Instant),
    Stop,
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    Watchdog,
}

pub(crate) struct Driver {
    core: Core<Pending>,
    /// Each live run's link, by its child's slot.
    links: Vec<Option<Live>>,
    actions: VecDeque<Action<Pending>>,
    /// A sender of the inbox, as the runs report to it.
    reports: Arc<dyn Reports>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Completes once the supervisor's stop token is cancelled.
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Set to the core's earliest deadline.
    timer: Option<Pin<Box<Sleep>>>,
    /// The time of the input being handled: one reading of the clock per
    /// input, shared by what it leads to.
    now: Instant,
    /// The systemd watchdog's next ping (root only, feature `systemd`).
    watchdog: Option<Pin<Box<Sleep>>>,
    tree: Arc<Tree>,
    /// The tree and the supervisors this one runs inside, for its children.
    scope: Arc<Scope>,
    state: watch::Sender<State>,
    parent: Option<Context>,
    /// Whether this (root) supervisor notifies systemd.
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    systemd: bool,
}

impl Driver {
    pub(crate) fn new(config: Arc<Config>, w: Wiring) -> Self {
        #[cfg(feature = "systemd")]
        let systemd = w.parent.is_none() && crate::systemd::enabled();
        #[cfg(not(feature = "systemd"))]
        let systemd = false;
        let links = Vec::with_capacity(config.children.len());
        let core = Core::new(
            config,
            w.path,
            w.scope.tree.metrics.clone(),
            w.scope.lineage.clone(),
            Instant::now().into_std(),
        );
        Driver {
            core,
            links,
            actions: VecDeque::new(),
            reports: Arc::new(w.tx),
            rx: w.rx,
            stop: Box::pin(w.stop.cancelled_owned()),
            timer: None,
            now: Instant::now(),
            watchdog: None,
            tree: w.scope.tree.clone(),
            scope: w.scope,
            state: w.state,
            parent: w.parent,
            systemd,
        }
    }

    /// Runs the supervisor until it has stopped, and returns its outcome.
    #[allow(clippy::manual_async_fn)] // see the comment below
    pub(crate) fn run(mut self) -> impl Future<Output = Result<(), SupervisorError>> + Send {
        // An `async` block that uses `self` as it captured it: an `async fn`
        // would move its argument into a local of its own, and its future
        // would hold the driver twice.
        async move {
            self.core.set_listening(self.listening());
            self.now = Instant::now();
            self.core.begin(self.now.into_std(), &mut self.actions);
            self.execute();
            while !self.core.finished() {
                let woken = poll_fn(|cx| self.poll_event(cx)).await;
                let now = Instant::now();
                match woken {
                    Woken::Msg(msg) => self.on_msg(msg, now),
                    // The time of the deadline at least, whatever the
                    // clock's rounding.
                    Woken::Deadline(at) => self.feed(Input::Tick, now.max(at)),
                    Woken::Stop => self.feed(Input::Stop, now),
                    Woken::Watchdog => self.watchdog(now),
                }
            }
            let outcome = self.core.outcome();
            match &outcome {
                Ok(()) => tracing::info!(supervisor = %self.core.path(), "supervisor stopped"),
                Err(e) => {
                    tracing::error!(supervisor = %self.core.path(), error = %e, "supervisor failed");
                }
            }
            let path = self.core.path().clone();
            self.event(&path, EventKind::ShutdownDone);
            self.publish(|d| State::Stopped {
                started: d.core.started(),
                outcome: outcome.clone(),
                children: Arc::new(d.core.snapshots(Instant::now().into_std())),
            });
            outcome
        }
    }

    /// The next event, in order of precedence: a message (a run's end, a
    /// `ready()`, a command), the core's deadline, the stop token (until
    /// the supervisor stops).
    fn poll_event(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Woken> {
        // `None` cannot come: the driver holds a sender of its own (in
        // `reports`).
        if let Poll::Ready(Some(msg)) = self.rx.poll_recv(cx) {
            return Poll::Ready(Woken::Msg(msg));
        }
        if let Some(at) = self.core.next_deadline().map(Instant::from_std) {
            let timer = match &mut self.timer {
                Some(t) if t.deadline() == at => t,
                Some(t) => {
                    t.as_mut().reset(at);
                    t
                }
                None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
            };
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woken::Deadline(at));
            }
        }
        if let Some(w) = &mut self.watchdog {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woken::Watchdog);
            }
        }
        if !self.core.stopping() && self.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woken::Stop);
        }
        Poll::Pending
    }

    fn on_msg(&mut self, msg: Msg, now: Instant) {
        match msg {
            Msg::Exit(exit) => {
                let slot = exit.slot;
                if let Some(link) = self.links.get_mut(slot) {
                    if link.as_ref().is_some_and(|l| l.run as u32 == exit.run) {
                        *link = None;
                    }
                }
                let end = end_of(exit.outcome);
                let input = Input::Exit {
                    slot,
                    run: exit.run,
                    end,
                };
                self.feed(input, now);
            }
            Msg::Ready { slot, run } => self.feed(Input::Ready { slot, run }, now),
            Msg::Command(cmd) => self.on_command(cmd, now),
        }
    }

    /// Hands `input` to the core, and carries out what it leads to.
    fn feed(&mut self, input: Input<Pending>, now: Instant) {
        self.now = now;
        self.core.set_listening(self.listening());
        self.core.handle(input, now.into_std(), &mut self.actions);
        self.execute();
    }

    /// Carries out the queued actions (an action may queue more).
    fn execute(&mut self) {
        while let Some(action) = self.actions.pop_front() {
            match action {
                Action::Spawn { slot, run, attempt } => self.spawn(slot, run, attempt),
                Action::Cancel { slot } => {
                    if let Some(link) = self.link(slot) {
                        link.link.request_stop();
                    }
                }
                Action::Abort { slot } => {
                    if let Some(link) = self.link(slot) {
                        link.abort();
                    }
                }
                Action::Beat { slot, run } => {
                    let last = self
                        .link(slot)
                        .and_then(|l| l.link.last_heartbeat())
                        .map(Instant::into_std);
                    let now = self.now.into_std();
                    self.core
                        .handle(Input::Beat { slot, run, last }, now, &mut self.actions);
                }
                Action::Answer { reply, answer } => answer_with(reply, answer),
                Action::Event { path, kind } => {
                    #[cfg(feature = "systemd")]
                    if let (true, EventKind::GaveUp { reason }) = (self.systemd, &kind) {
                        crate::systemd::status(&format!("gave up on {path}: {reason}"));
                    }
                    self.event(&path, kind);
                }
                Action::Settle { hook, reason } => hook(&reason),
                Action::Started => self.started(),
                Action::Stopping => self.stopping(),
            }
        }
        // The room a burst (a thousand children started at once) made the
        // queue grow to is given back.
        if self.actions.capacity() > KEPT_ACTIONS {
            self.actions = VecDeque::new();
        }
    }

    fn link(&self, slot: usize) -> Option<&Live> {
        self.links.get(slot).and_then(Option::as_ref)
    }

    /// Spawns a run of the child in `slot`.
    fn spawn(&mut self, slot: usize, run: u64, attempt: u32) {
        let (Some(spec), Some(path)) = (self.core.spec(slot), self.core.child_path_of(slot)) else {
            return;
        };
        #[cfg(feature = "systemd")]
        if self.systemd && attempt > 1 {
            crate::systemd::status(&format!("restarting {path} (attempt {attempt})"));
        }
        let span = run_span(path, attempt);
        let link = RunLink::new(
            path.clone(),
            attempt,
            self.reports.clone(),
            self.scope.clone(),
            slot,
            run,
            self.now,
        );
        // A nested supervisor's inbox is made here, so that its parent can
        // reach it (to forward commands, to kill its subtree) from the start.
        let (link, nested) = if spec.is_supervisor() {
            let (tx, rx) = mpsc::unbounded_channel();
            (link.with_inbox(Box::new((tx.clone(), rx))), Some(tx))
        } else {
            (link, None)
        };
        let task = Arc::clone(&spec.service).spawn(link.clone(), span);
        if self.links.len() <= slot {
            self.links.resize_with(slot + 1, || None);
        }
        self.links[slot] = Some(Live {
            link,
            task,
            run,
            nested,
        });
    }

    /// Every child has started.
    fn started(&mut self) {
        self.publish(|_| State::Running);
        if let Some(ctx) = &self.parent {
            ctx.ready();
        }
        #[cfg(feature = "systemd")]
        if self.systemd {
            crate::systemd::ready();
            if crate::systemd::watchdog_interval().is_some() {
                self.watchdog(Instant::now());
            }
        }
    }

    /// Pings the systemd watchdog and sets the next ping, while the tree
    /// runs: a stopping or wedged supervisor stops pinging, and systemd acts.
    fn watchdog(&mut self, _now: Instant) {
        self.watchdog = None;
        #[cfg(feature = "systemd")]
        if !self.core.stopping() {
            crate::systemd::watchdog();
            if let Some(every) = crate::systemd::watchdog_interval() {
                if let Some(at) = super::core::deadline(_now.into_std(), every) {
                    let at = Instant::from_std(at);
                    self.watchdog = Some(Box::pin(tokio::time::sleep_until(at)));
                }
            }
        }
    }

    /// The stop has begun.
    fn stopping(&mut self) {
        #[cfg(feature = "systemd")]
        if self.systemd {
            crate::systemd::stopping();
        }
        // Nobody waits for `Stopping`: a handle's `started()` has returned
        // already if the start had completed, and otherwise waits for
        // `Stopped`; `wait()` waits for `Stopped`. So it is stored for
        // `borrow()` without waking anyone.
        if self.state.receiver_count() > 0 {
            let started = self.core.started();
            self.state.send_if_modified(|s| {
                *s = State::Stopping { started };
                false
            });
        }
    }

    /// Publishes the supervisor's state to its handles. A nested supervisor
    /// has none (its parent reaches it by commands, and learns of its start
    /// from `ready()`), and neither has a root whose handles are all gone:
    /// then nothing is made, snapshots included, and nobody is notified.
    fn publish(&self, state: impl FnOnce(&Self) -> State) {
        if self.state.receiver_count() > 0 {
            self.state.send_replace(state(self));
        }
    }

    /// Whether events are wanted: by a subscriber, or to tell systemd of a
    /// give-up.
    fn listening(&self) -> bool {
        self.systemd || self.tree.subscribed()
    }

    /// Sends an event, if anyone listens.
    fn event(&self, path: &Arc<str>, kind: EventKind) {
        if let Some(events) = self.tree.listened() {
            let _ = events.send(Event {
                path: path.clone(),
                at: SystemTime::now(),
                kind,
            });
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropped before the core finished (the runtime shut down under us,
        // or a panic): abort the runs, so that no task is left that nobody
        // owns, and tell the handles instead of leaving them waiting.
        for link in self.links.iter().flatten() {
            link.abort();
        }
        // A nested supervisor's children leave the tree's metrics with it
        // (their counts stay in the totals): its parent may start it again,
        // and the new one registers its children anew. A root's stay, for
        // the handles to read after the stop.
        self.core.retire(self.parent.is_some());
        if self.parent.is_none() {
            // The root has stopped: every subscriber's stream ends, after
            // the last event.
            self.tree.close();
        }
        if !matches!(*self.state.borrow(), State::Stopped { .. }) {
            self.publish(|d| State::Stopped {
                started: d.core.started(),
                outcome: Err(SupervisorError::Lost {
                    supervisor: d.core.path().to_string(),
                }),
                children: Arc::new(d.core.snapshots(Instant::now().into_std())),
            });
        }
    }
}

/// Sends the core's answer on the request's channel.
fn answer_with(reply: Pending, answer: Answer) {
    match (reply, answer) {
        (Pending::Added(r), Answer::Added(a)) => {
            let _ = r.send(a);
        }
        (Pending::Done(r), Answer::Done(a)) => {
            let _ = r.send(a);
        }
        // Invariant: the core answers a request with its own kind of
        // answer. A mismatch would drop the reply, which answers
        // `Stopped`: never a hang.
        (_, answer) => debug_assert!(false, "mismatched answer {answer:?}"),
    }
}

/// Reads how a run ended: a returned error rendered now, its panics
/// contained, and a nested supervisor's own error kept.
fn end_of(outcome: Outcome) -> End {
    match outcome {
        Outcome::Returned(Ok(())) => End::Returned,
        Outcome::Returned(Err(e)) => {
            let supervisor = e.downcast_ref::<SupervisorError>().cloned();
            let mut text = String::new();
            if !matches!(supervisor, Some(SupervisorError::IntensityExceeded { .. })) {
                crate::contain::render_error(&**e, &mut text);
            }
            End::Failed {
                text: text.into(),
                fatal: e.downcast_ref::<crate::Fatal>().is_some(),
                supervisor,
            }
        }
        // The payload is dropped here, its panics contained.
        Outcome::Panicked(payload) => End::Panicked(panic_message(&**payload).into()),
        Outcome::Aborted => End::Aborted,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// The run happens inside a `child{path, attempt}` span, attached only
/// when a subscriber wants it: otherwise the future is spawned bare.
#[inline(never)]
fn run_span(path: &str, attempt: u32) -> Option<tracing::Span> {
    let span = tracing::info_span!(
        "child",
        path = %path,
        attempt,
        wall_time = tracing::field::Empty,
        cpu_time = tracing::field::Empty,
    );
    (!span.is_disabled()).then_some(span)
}
