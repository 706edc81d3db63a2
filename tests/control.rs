//! Run-time control: every command against every child state, answers after
//! stop, the dynamic supervisor, events and their lag, and a concurrent
//! run whose views (snapshots, counts, metrics, events) must agree.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use tokio::sync::broadcast::error::RecvError;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, ControlError, EventKind, ExitReason, Phase, Restart, Shutdown,
    Supervisor, SupervisorHandle,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Added by `start_child`, ready-gated, not ready yet.
    Starting,
    Running,
    BackingOff,
    /// An automatic restart attempt that is not ready yet.
    Restarting,
    /// Asked to stop, not stopped yet.
    Stopping,
    Terminated,
    GivenUp,
}

const STATES: [State; 7] = [
    State::Starting,
    State::Running,
    State::BackingOff,
    State::Restarting,
    State::Stopping,
    State::Terminated,
    State::GivenUp,
];

/// A supervisor with `keeper` and a ready-gated child `c` in `state`.
async fn with_child_in(state: State, remote: &Remote) -> SupervisorHandle {
    let h = Supervisor::builder("sup")
        .intensity(100, secs(10))
        .child(remote.spec("keeper"))
        .start_ok()
        .await;
    let c = remote
        .gated("c")
        .restart(Restart::Permanent)
        .wait_ready(secs(60))
        .shutdown(Shutdown::Graceful(secs(20)))
        .backoff(Backoff::fixed(secs(5)));
    match state {
        State::Starting => {
            remote.hang_next("sup/c");
            let h2 = h.clone();
            tokio::spawn(async move { h2.start_child(c).await });
            settle().await;
        }
        State::Running => {
            h.start_child(c).await.unwrap();
        }
        State::BackingOff => {
            h.start_child(c).await.unwrap();
            remote.exit("sup/c", How::Abnormal).await;
        }
        State::Restarting => {
            h.start_child(c).await.unwrap();
            remote.hang_next("sup/c");
            remote.exit("sup/c", How::Abnormal).await;
            tokio::time::sleep(secs(6)).await; // the attempt at 5 s hangs
        }
        State::Stopping => {
            remote.slow_stop("sup/c", secs(10));
            h.start_child(c).await.unwrap();
            let h2 = h.clone();
            tokio::spawn(async move { h2.terminate_child("c").await });
            settle().await;
        }
        State::Terminated => {
            h.start_child(c).await.unwrap();
            h.terminate_child("c").await.unwrap();
        }
        State::GivenUp => {
            h.start_child(c.restart_limit(0, secs(60))).await.unwrap();
            remote.exit("sup/c", How::Abnormal).await;
        }
    }
    let phase = h
        .which_children()
        .await
        .iter()
        .find(|c| &*c.name == "c")
        .unwrap()
        .phase
        .clone();
    let expected = match state {
        State::Starting => Phase::Starting,
        State::Running => Phase::Running,
        State::BackingOff => Phase::BackingOff,
        State::Restarting => Phase::Restarting,
        State::Stopping => Phase::Stopping,
        State::Terminated => Phase::Terminated(ExitReason::Shutdown),
        State::GivenUp => Phase::Terminated(ExitReason::CircuitOpen {
            restarts: 0,
            window: Some(secs(60)),
        }),
    };
    assert_eq!(phase, expected, "setting up {state:?}");
    h
}

fn matches_answer<T: std::fmt::Debug>(got: &Result<T, ControlError>, want: &str) -> bool {
    matches!(
        (got, want),
        (Ok(_), "ok")
            | (Err(ControlError::AlreadyRunning { .. }), "already_running")
            | (Err(ControlError::AlreadyPresent { .. }), "already_present")
            | (Err(ControlError::Running { .. }), "running")
            | (Err(ControlError::Restarting { .. }), "restarting")
    )
}

#[tokio::test(start_paused = true)]
async fn every_command_against_every_state() {
    // state, start_child(same name), terminate_child, restart_child, delete_child
    let table = [
        (
            State::Starting,
            "already_running",
            "ok",
            "running",
            "running",
        ),
        (
            State::Running,
            "already_running",
            "ok",
            "running",
            "running",
        ),
        (
            State::BackingOff,
            "already_present",
            "ok",
            "restarting",
            "restarting",
        ),
        (
            State::Restarting,
            "already_running",
            "ok",
            "restarting",
            "restarting",
        ),
        (
            State::Stopping,
            "already_running",
            "ok",
            "running",
            "running",
        ),
        (State::Terminated, "already_present", "ok", "ok", "ok"),
        (State::GivenUp, "already_present", "ok", "ok", "ok"),
    ];
    assert_eq!(table.len(), STATES.len());
    for (state, start, terminate, restart, delete) in table {
        // start_child with the same name
        let remote = Remote::default();
        let h = with_child_in(state, &remote).await;
        let got = h.start_child(remote.spec("c")).await;
        assert!(
            matches_answer(&got, start),
            "{state:?} start_child: {got:?}"
        );

        // terminate_child: always ok; the child ends up terminated, or removed
        // (a failed start_child keeps nothing).
        let remote = Remote::default();
        let h = with_child_in(state, &remote).await;
        let got = h.terminate_child("c").await;
        assert!(
            matches_answer(&got, terminate),
            "{state:?} terminate_child: {got:?}"
        );
        let after = h.which_children().await;
        match after.iter().find(|c| &*c.name == "c") {
            Some(c) => assert!(
                matches!(c.phase, Phase::Terminated(_)),
                "{state:?}: {:?}",
                c.phase
            ),
            None => assert_eq!(
                state,
                State::Starting,
                "only a start in progress is dropped"
            ),
        }
        tokio::time::sleep(secs(30)).await;
        let c = h
            .which_children()
            .await
            .into_iter()
            .find(|c| &*c.name == "c");
        assert!(
            c.is_none_or(|c| matches!(c.phase, Phase::Terminated(_))),
            "{state:?}: not restarted after terminate_child"
        );

        // restart_child
        let remote = Remote::default();
        let h = with_child_in(state, &remote).await;
        let got = h.restart_child("c").await;
        assert!(
            matches_answer(&got, restart),
            "{state:?} restart_child: {got:?}"
        );
        if got.is_ok() {
            let c = h
                .which_children()
                .await
                .into_iter()
                .find(|c| &*c.name == "c")
                .unwrap();
            assert_eq!(c.phase, Phase::Running, "{state:?}");
        }

        // delete_child
        let remote = Remote::default();
        let h = with_child_in(state, &remote).await;
        let got = h.delete_child("c").await;
        assert!(
            matches_answer(&got, delete),
            "{state:?} delete_child: {got:?}"
        );
        let present = h.which_children().await.iter().any(|c| &*c.name == "c");
        assert_eq!(present, got.is_err(), "{state:?}");
        assert!(!h.is_finished());
    }
}

#[tokio::test(start_paused = true)]
async fn a_start_in_progress_cut_short_answers_start_failed() {
    let remote = Remote::default();
    remote.hang_next("sup/c");
    let h = Supervisor::builder("sup")
        .child(remote.spec("keeper"))
        .start_ok()
        .await;
    let h2 = h.clone();
    let start = tokio::spawn(async move { h2.start_child(remote.gated("c")).await });
    settle().await;
    h.terminate_child("c").await.unwrap();
    let err = start.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ControlError::StartFailed { ref reason, .. } if *reason == ExitReason::Shutdown),
        "{err}"
    );
    assert_eq!(names(&h).await, ["keeper"], "nothing kept");
}

#[tokio::test(start_paused = true)]
async fn restart_child_closes_an_open_circuit() {
    let remote = Remote::default();
    let h = Supervisor::builder("sup")
        .child(
            remote
                .spec("c")
                .restart(Restart::Permanent)
                .backoff(Backoff::none())
                .restart_limit(1, secs(60)),
        )
        .start_ok()
        .await;
    remote.exit("sup/c", How::Abnormal).await; // restart 1: allowed
    remote.exit("sup/c", How::Abnormal).await; // restart 2: the circuit opens
    assert!(matches!(
        h.which_children().await[0].phase,
        Phase::Terminated(ExitReason::CircuitOpen { .. })
    ));
    h.restart_child("c").await.unwrap();
    // The breaker starts over: one restart allowed again.
    remote.exit("sup/c", How::Abnormal).await;
    assert_eq!(h.which_children().await[0].phase, Phase::Running);
    remote.exit("sup/c", How::Abnormal).await;
    assert!(matches!(
        h.which_children().await[0].phase,
        Phase::Terminated(ExitReason::CircuitOpen { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn commands_while_stopping_and_after_stop() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("slow", &log, &alive, vec![Act::SlowStop(secs(5))]))
        .start_ok()
        .await;
    h.request_shutdown();
    settle().await;
    let stopping = ControlError::ShuttingDown {
        supervisor: "sup".into(),
    };
    assert_eq!(h.terminate_child("slow").await, Err(stopping.clone()));
    assert_eq!(h.restart_child("slow").await, Err(stopping.clone()));
    assert_eq!(h.delete_child("slow").await, Err(stopping.clone()));
    assert_eq!(h.start_child(remote_spec("x")).await, Err(stopping.clone()));
    h.wait().await.unwrap();

    let stopped = ControlError::Stopped {
        supervisor: "sup".into(),
    };
    let t0 = tokio::time::Instant::now();
    assert_eq!(h.terminate_child("slow").await, Err(stopped.clone()));
    assert_eq!(h.restart_child("slow").await, Err(stopped.clone()));
    assert_eq!(h.delete_child("slow").await, Err(stopped.clone()));
    assert_eq!(h.start_child(remote_spec("x")).await, Err(stopped.clone()));
    assert_eq!(
        h.start_child_in("nested", remote_spec("x")).await,
        Err(stopped)
    );
    assert_eq!(t0.elapsed(), Duration::ZERO, "answered at once");
    // Queries answer from the final state.
    assert_eq!(h.which_children().await.len(), 1);
    assert_eq!(counts(&h).await, [1, 0, 0, 1]);
    assert_eq!(h.metrics().total.starts, 1);
    assert_eq!(h.shutdown().await, Ok(()));
}

fn remote_spec(name: &str) -> ChildSpec {
    Remote::default().spec(name)
}

#[test]
fn commands_after_the_runtime_is_gone_answer_stopped() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let h = rt.block_on(async {
        Supervisor::builder("sup")
            .child(remote_spec("c"))
            .build()
            .unwrap()
            .start()
            .await
            .unwrap()
    });
    drop(rt);
    let rt2 = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt2.block_on(async {
        let stopped = Err(ControlError::Stopped {
            supervisor: "sup".into(),
        });
        assert_eq!(h.terminate_child("c").await, stopped);
        assert_eq!(h.restart_child("c").await, stopped);
        assert_eq!(h.delete_child("c").await, stopped);
        assert!(h.start_child(remote_spec("d")).await.is_err());
        assert_eq!(h.which_children().await.len(), 1);
        let _ = h.count_children().await;
        let _ = h.metrics();
    });
}

#[tokio::test(start_paused = true)]
async fn dynamic_supervisor_ids_and_max_children() {
    let remote = Remote::default();
    let h = Supervisor::dynamic("pool").max_children(3).start_ok().await;
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(h.start_child(remote.spec("conn")).await.unwrap());
    }
    assert_eq!(ids, ["pool/conn-1", "pool/conn-2", "pool/conn-3"]);
    assert_eq!(
        h.start_child(remote.spec("conn")).await,
        Err(ControlError::MaxChildren {
            supervisor: "pool".into(),
            max: 3
        })
    );
    // A child waiting to restart still counts toward the maximum.
    let h2 = Supervisor::dynamic("pool2")
        .max_children(1)
        .start_ok()
        .await;
    let p = h2
        .start_child(
            remote
                .spec("w")
                .restart(Restart::Permanent)
                .backoff(Backoff::fixed(secs(5))),
        )
        .await
        .unwrap();
    remote.exit(&p, How::Abnormal).await;
    assert!(matches!(
        h2.start_child(remote.spec("w")).await,
        Err(ControlError::MaxChildren { .. })
    ));
    // Ids are never reused, and address their own child only.
    // A terminated dynamic child is removed (Elixir's DynamicSupervisor;
    // it was kept until `delete_child` before): nothing left to delete.
    h.terminate_child(&ids[1]).await.unwrap();
    assert_eq!(
        h.delete_child(&ids[1]).await,
        Err(ControlError::NotFound {
            path: "pool/conn-2".into()
        })
    );
    let next = h.start_child(remote.spec("conn")).await.unwrap();
    assert_eq!(next, "pool/conn-4");
    assert!(remote.alive(&ids[0]) && remote.alive(&ids[2]));
}

#[tokio::test(start_paused = true)]
async fn events_cover_the_lifecycle_with_paths_and_times() {
    let remote = Remote::default();
    let nested = Supervisor::dynamic("inner").build().unwrap();
    let sup = Supervisor::builder("app")
        .intensity(1, secs(60))
        .child(remote.gated("ready").backoff(Backoff::fixed(ms(100))))
        .child(remote.spec("flaky").restart_limit(0, secs(60)))
        .child(nested)
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let before = std::time::SystemTime::now();
    let h = sup.start().await.unwrap();
    h.start_child_in("inner", remote.spec("added").restart(Restart::Temporary))
        .await
        .unwrap();
    remote.exit("app/inner/added-1", How::Normal).await; // removed
    remote.exit("app/flaky", How::Abnormal).await; // gave up
    remote.exit("app/ready", How::Abnormal).await; // backing off, restarted
    tokio::time::sleep(ms(200)).await;
    remote.exit("app/ready", How::Panic).await; // second restart: intensity 1 exceeded
    let _ = h.wait().await;
    let mut seen: HashMap<&'static str, Vec<String>> = HashMap::new();
    while let Ok(e) = rx.try_recv() {
        assert!(e.at >= before, "timestamps are wall-clock");
        let kind = match e.kind {
            EventKind::Started { .. } => "started",
            EventKind::Ready => "ready",
            EventKind::Exited { .. } => "exited",
            EventKind::BackingOff { .. } => "backing_off",
            EventKind::Restarted { .. } => "restarted",
            EventKind::GaveUp { .. } => "gave_up",
            EventKind::ChildAdded => "child_added",
            EventKind::ChildRemoved => "child_removed",
            EventKind::SupervisorStarted => "supervisor_started",
            EventKind::SupervisorFailed { .. } => "supervisor_failed",
            EventKind::ShutdownStarted => "shutdown_started",
            EventKind::ShutdownDone => "shutdown_done",
            _ => "other",
        };
        seen.entry(kind).or_default().push(e.path.to_string());
    }
    let has = |kind: &str, path: &str| seen.get(kind).is_some_and(|v| v.iter().any(|p| p == path));
    assert!(has("started", "app/ready"));
    assert!(has("ready", "app/ready"));
    assert!(has("exited", "app/flaky"));
    assert!(has("backing_off", "app/ready"));
    assert!(has("restarted", "app/ready"));
    assert!(has("gave_up", "app/flaky"));
    assert!(
        has("child_added", "app/inner/added-1"),
        "nested events reach the root"
    );
    assert!(has("child_removed", "app/inner/added-1"));
    assert!(has("supervisor_started", "app/inner"));
    assert!(has("supervisor_failed", "app"));
    assert!(has("shutdown_started", "app"));
    assert!(has("shutdown_done", "app/inner"));
    assert!(has("shutdown_done", "app"));
    assert!(!seen.contains_key("other"), "{seen:?}");
}

/// A subscriber that does not read loses the oldest events and is told how
/// many; the supervisor is never slowed by it.
#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_lags_and_never_slows_the_supervisor() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("app")
        .intensity(1_000_000, secs(1))
        .child(scripted("c", &log, &alive, vec![Act::ErrAfter(ms(1))]).backoff(Backoff::none()))
        .build()
        .unwrap();
    let mut slow = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(ms(2_000)).await;
    let starts = log.matching("start").len();
    assert!(starts >= 1_990, "restarts went on at full speed: {starts}");
    // 3 events a cycle (exited, restarted, started): far more than 1024.
    match slow.recv().await {
        Err(RecvError::Lagged(n)) => assert!(n as usize > 3 * starts - 1_100, "lost {n}"),
        other => panic!("expected a lag, got {other:?}"),
    }
    // After the lag, the subscriber reads on from the oldest kept event.
    assert!(slow.recv().await.is_ok());
    h.shutdown().await.unwrap();
}

/// Several tasks issue random commands while children crash on their own;
/// afterwards, `which_children`, `count_children`, the metrics and the
/// events all tell the same story.
#[tokio::test(start_paused = true)]
async fn concurrent_commands_and_crashes_keep_every_view_consistent() {
    let mut rng = fastrand::Rng::with_seed(7);
    let crashing = |name: String, period: u64| {
        ChildSpec::new(
            name,
            service_fn(move |ctx| async move {
                tokio::select! {
                    _ = ctx.cancelled() => Ok(()),
                    _ = tokio::time::sleep(ms(period)) => Err("crash".into()),
                }
            }),
        )
        .restart(Restart::Permanent)
        .backoff(Backoff::fixed(ms(period / 2 + 1)))
    };
    let mut b = Supervisor::builder("sup").intensity(10_000, secs(1));
    for i in 0..8 {
        b = b.child(crashing(format!("w{i}"), 10 + 7 * i));
    }
    let sup = b.build().unwrap();
    let mut events = sup.subscribe();
    let h = sup.start().await.unwrap();

    let collector = tokio::spawn(async move {
        let mut log = vec![];
        loop {
            match events.recv().await {
                Ok(e) => log.push(e),
                Err(RecvError::Closed) => return log,
                Err(RecvError::Lagged(n)) => panic!("the collector lagged by {n}"),
            }
        }
    });

    let mut tasks = vec![];
    for t in 0..4 {
        let h = h.clone();
        let seed = rng.u64(..);
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            for _ in 0..150 {
                let name = format!("w{}", rng.usize(0..10)); // w8, w9 may not exist
                let res = match rng.u8(0..5) {
                    0 => h.terminate_child(&name).await.map(|_| ()),
                    1 => h.restart_child(&name).await,
                    2 => h.delete_child(&name).await,
                    3 => h
                        .start_child(crashing(name.clone(), 40 + 10 * t))
                        .await
                        .map(|_| ()),
                    _ => {
                        let _ = h.which_children().await;
                        Ok(())
                    }
                };
                if let Err(e) = res {
                    assert!(
                        matches!(
                            e,
                            ControlError::NotFound { .. }
                                | ControlError::Running { .. }
                                | ControlError::Restarting { .. }
                                | ControlError::AlreadyRunning { .. }
                                | ControlError::AlreadyPresent { .. }
                        ),
                        "{e}"
                    );
                }
                tokio::time::sleep(ms(rng.u64(1..40))).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Quiesce: stop everything that still restarts, then read every view.
    for c in h.which_children().await {
        h.terminate_child(&c.name).await.unwrap();
    }
    let snap = h.which_children().await;
    let counts = h.count_children().await;
    let metrics = h.metrics();
    assert_eq!(counts.specs, snap.len());
    assert_eq!(counts.active, 0);
    assert_eq!(metrics.active, 0);
    assert_eq!(counts.workers, snap.len());
    assert_eq!(
        metrics
            .children
            .iter()
            .map(|c| c.path.to_string())
            .collect::<Vec<_>>(),
        {
            let mut p: Vec<_> = snap.iter().map(|c| c.path.to_string()).collect();
            p.sort();
            p
        },
        "metrics list exactly the children in the table"
    );
    for c in &snap {
        assert!(
            matches!(c.phase, Phase::Terminated(_)),
            "{}: {:?}",
            c.path,
            c.phase
        );
        let m = metrics.children.iter().find(|m| m.path == c.path).unwrap();
        assert_eq!(m.counts.starts, c.starts, "{}", c.path);
        assert_eq!(m.counts.restarts, c.restarts, "{}", c.path);
        assert_eq!(m.counts.failures(), c.failures, "{}", c.path);
    }

    h.shutdown().await.unwrap();
    let log = collector.await.unwrap();
    // Events per path since the path's current child was added: count the
    // last generation of each path (a deleted and re-added name starts over).
    let mut started: HashMap<String, u64> = HashMap::new();
    let mut exited: HashMap<String, u64> = HashMap::new();
    for e in &log {
        let p = e.path.to_string();
        match &e.kind {
            EventKind::ChildRemoved => {
                started.remove(&p);
                exited.remove(&p);
            }
            EventKind::Started { attempt: 1 } => {
                // A first start of a new child under a reused name.
                started.insert(p.clone(), 1);
                exited.insert(p, 0);
            }
            EventKind::Started { .. } => *started.entry(p).or_default() += 1,
            EventKind::Exited { .. } => *exited.entry(p).or_default() += 1,
            _ => {}
        }
    }
    for c in &snap {
        let p = c.path.to_string();
        assert_eq!(
            started.get(&p).copied().unwrap_or(0),
            c.starts,
            "events vs snapshot: {p}"
        );
        assert_eq!(
            exited.get(&p).copied().unwrap_or(0),
            c.starts,
            "every run ended: {p}"
        );
    }
    assert_eq!(
        metrics.total.starts,
        log.iter()
            .filter(|e| matches!(e.kind, EventKind::Started { .. }))
            .count() as u64,
        "total starts: metrics vs events"
    );
    // The run did stress something: crashes, deletions and additions.
    let count = |f: fn(&EventKind) -> bool| log.iter().filter(|e| f(&e.kind)).count();
    let removed = count(|k| matches!(k, EventKind::ChildRemoved));
    let added = count(|k| matches!(k, EventKind::ChildAdded));
    eprintln!(
        "restarts {} removed {removed} added {added} events {}",
        metrics.total.restarts,
        log.len()
    );
    assert!(metrics.total.restarts > 200, "{}", metrics.total.restarts);
    assert!(removed > 5 && added > 5, "removed {removed}, added {added}");
}

/// `child(path)`: one snapshot by path, relative or full, at any depth,
/// and `NotFound` with the full path otherwise.
#[tokio::test(start_paused = true)]
async fn one_child_by_path() {
    let remote = Remote::default();
    let db = Supervisor::builder("db")
        .child(remote.spec("pool"))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .child(db)
        .child(remote.spec("feed"))
        .start_ok()
        .await;
    for path in ["db/pool", "app/db/pool"] {
        let c = h.child(path).await.unwrap();
        assert_eq!((&*c.path, &c.phase), ("app/db/pool", &Phase::Running));
    }
    assert_eq!(&*h.child("feed").await.unwrap().path, "app/feed");
    assert_eq!(&*h.child("app/db").await.unwrap().path, "app/db");
    assert_eq!(
        h.child("db/nope").await,
        Err(ControlError::NotFound {
            path: "app/db/nope".into()
        })
    );
    assert!(matches!(
        h.child("feed/x").await,
        Err(ControlError::NotASupervisor { .. })
    ));
    h.shutdown().await.unwrap();
    // After the stop, the final snapshots still answer for direct children.
    assert_eq!(
        h.child("feed").await.unwrap().phase,
        Phase::Terminated(ExitReason::Shutdown)
    );
}

/// A stop is visible at once, from every clone, before the loop has run.
#[tokio::test(start_paused = true)]
async fn a_stop_request_is_visible_at_once() {
    let remote = Remote::default();
    let h = Supervisor::builder("app")
        .child(remote.spec("w"))
        .start_ok()
        .await;
    let other = h.clone();
    assert!(h.is_running() && !h.is_stopping());
    h.request_shutdown();
    assert!(other.is_stopping(), "no yield needed");
    assert!(!other.is_running());
    h.wait().await.unwrap();
    assert!(!h.is_stopping() && h.is_finished());
    // kill() too.
    let h = Supervisor::builder("app")
        .child(remote.spec("w2"))
        .start_ok()
        .await;
    let k = h.clone();
    let killing = tokio::spawn(async move { k.kill().await });
    tokio::task::yield_now().await;
    assert!(h.is_stopping() || h.is_finished());
    killing.await.unwrap().unwrap();
}

/// An empty static supervisor (OTP allows it), filled at run time with
/// `start_child` under the children's own names: each strategy applies to
/// the children added, in the order they were added.
#[tokio::test(start_paused = true)]
async fn an_empty_static_supervisor_filled_at_run_time_follows_its_strategy() {
    for (strategy, restarted) in [
        (tokio_supervisor::Strategy::OneForOne, vec!["b"]),
        (tokio_supervisor::Strategy::OneForAll, vec!["a", "b", "c"]),
        (tokio_supervisor::Strategy::RestForOne, vec!["b", "c"]),
    ] {
        let remote = Remote::default();
        let h = Supervisor::builder("app")
            .strategy(strategy)
            .start_ok()
            .await;
        assert!(h.which_children().await.is_empty());
        for name in ["a", "b", "c"] {
            let spec = remote.spec(name).backoff(Backoff::none());
            assert_eq!(h.start_child(spec).await.unwrap(), format!("app/{name}"));
        }
        remote.exit("app/b", How::Abnormal).await;
        settle().await;
        for name in ["a", "b", "c"] {
            let runs = remote.runs(&format!("app/{name}"));
            let want = if restarted.contains(&name) { 2 } else { 1 };
            assert_eq!(runs, want, "{strategy:?}: {name}");
        }
        h.shutdown().await.unwrap();
    }
}
