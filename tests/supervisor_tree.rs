//! Trees: escalation through several levels, failed starts at any depth,
//! group restarts that wait for readiness in order, paths everywhere.

mod support;

use support::*;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, EventKind, ExitReason, Phase, Restart, ShutdownOrder, Strategy,
    Supervisor, SupervisorError,
};

/// leaf fails → `mid` exceeds its intensity and fails → `root` (intensity 0)
/// fails too: the root's `wait()` returns the escalation, naming the child
/// of the root whose exit broke the limit.
#[tokio::test(start_paused = true)]
async fn escalation_reaches_the_root() {
    let log = Log::default();
    let alive = Alive::default();
    let mid = Supervisor::builder("mid")
        .intensity(0, secs(10))
        .child(scripted("leaf", &log, &alive, vec![Act::ErrAfter(ms(50))]).backoff(Backoff::none()))
        .child(scripted("sibling", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap();
    let sup = Supervisor::builder("root")
        .intensity(0, secs(10))
        .child(scripted("before", &log, &alive, vec![Act::Serve]))
        .child(mid)
        .child(scripted("after", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    let err = h.wait().await.unwrap_err();
    match &err {
        SupervisorError::IntensityExceeded {
            supervisor,
            child,
            reason,
            ..
        } => {
            assert_eq!(supervisor, "root");
            assert_eq!(child, "root/mid");
            let ExitReason::Failed(msg) = reason else {
                panic!("{reason:?}")
            };
            assert!(
                msg.contains("`root/mid` exceeded its restart intensity"),
                "{msg}"
            );
            assert!(msg.contains("`root/mid/leaf`"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        log.matching("stop"),
        ["sibling:stop", "after:stop", "before:stop"],
        "mid stopped its own children, then root stopped the rest in reverse"
    );
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
    let failed: Vec<_> = drain(&mut rx)
        .into_iter()
        .filter(|(_, k)| matches!(k, EventKind::SupervisorFailed { .. }))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(failed, ["root/mid", "root"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_three_levels_down_names_the_full_path() {
    let log = Log::default();
    let alive = Alive::default();
    let pool = Supervisor::builder("pool")
        .child(scripted("conn", &log, &alive, vec![Act::Serve]))
        .child(scripted("auth", &log, &alive, vec![Act::ErrBeforeReady(ms(5))]).wait_ready(secs(1)))
        .build()
        .unwrap();
    let db = Supervisor::builder("db")
        .child(scripted("cache", &log, &alive, vec![Act::Serve]))
        .child(pool)
        .build()
        .unwrap();
    let err = Supervisor::builder("app")
        .child(scripted("metrics", &log, &alive, vec![Act::Serve]))
        .child(db)
        .child(scripted("api", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SupervisorError::StartFailed {
            path: "app/db/pool/auth".into(),
            reason: ExitReason::Failed("init failed".into()),
        }
    );
    assert_eq!(
        log.matching("stop"),
        ["conn:stop", "cache:stop", "metrics:stop"],
        "every level stopped what it had started, in reverse"
    );
    assert!(log.matching("api").is_empty());
    assert_eq!(alive_tasks(), 0);
}

/// A group restart waits for each ready-gated child before starting the
/// next, as the initial start does.
#[tokio::test(start_paused = true)]
async fn group_restart_waits_for_readiness_in_order() {
    let log = Log::default();
    let gated = |name: &'static str, ready_after: u64| {
        let log = log.clone();
        ChildSpec::new(
            name,
            service_fn(move |ctx| {
                let log = log.clone();
                async move {
                    log.push(format!("{name}:start:{}", ctx.attempt()));
                    tokio::time::sleep(ms(ready_after)).await;
                    log.push(format!("{name}:ready"));
                    ctx.ready();
                    if name == "b" && ctx.attempt() == 1 {
                        tokio::time::sleep(ms(100)).await;
                        return Err("b fails once".into());
                    }
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        )
        .restart(Restart::Permanent)
        .backoff(Backoff::none())
        .wait_ready(secs(1))
    };
    let h = Supervisor::builder("sup")
        .strategy(Strategy::OneForAll)
        .child(gated("a", 30))
        .child(gated("b", 20))
        .child(gated("c", 10))
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    let timed: Vec<_> = log.timed();
    let t0 = timed[0].0;
    let entries: Vec<_> = timed
        .into_iter()
        .map(|(t, e)| format!("{}:{e}", (t - t0).as_millis()))
        .collect();
    assert_eq!(
        entries,
        [
            "0:a:start:1",
            "30:a:ready",
            "30:b:start:1",
            "50:b:ready",
            "50:c:start:1",
            "60:c:ready",
            // b fails at 150; c and a are stopped, then all start in order,
            // each after the previous one's readiness.
            "150:a:start:2",
            "180:a:ready",
            "180:b:start:2",
            "200:b:ready",
            "200:c:start:2",
            "210:c:ready",
        ]
    );
    let children = h.which_children().await;
    assert!(children.iter().all(|c| c.phase == Phase::Running));
    assert_eq!(
        children.iter().map(|c| c.restarts).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    h.shutdown().await.unwrap();
}

/// A group restart stops the siblings one at a time in reverse order (OTP)
/// or, under `ShutdownOrder::Concurrent`, all at once: the restart then
/// waits for the slowest sibling, not for the sum. The starts are in start
/// order either way.
#[tokio::test(start_paused = true)]
async fn a_group_restart_stops_siblings_in_the_shutdown_order() {
    for (order, restart_at) in [
        (ShutdownOrder::Reverse, 600),
        (ShutdownOrder::Concurrent, 400),
    ] {
        let log = Log::default();
        let alive = Alive::default();
        let child = |name, script| {
            scripted(name, &log, &alive, script)
                .restart(Restart::Permanent)
                .backoff(Backoff::none())
        };
        let h = Supervisor::builder("sup")
            .strategy(Strategy::OneForAll)
            .shutdown_order(order)
            .child(child("a", vec![Act::SlowStop(ms(300))]))
            .child(child("b", vec![Act::ErrAfter(ms(100)), Act::Serve]))
            .child(child("c", vec![Act::SlowStop(ms(200))]))
            .start_ok()
            .await;
        tokio::time::sleep(secs(1)).await;
        let timed = log.timed();
        let t0 = timed[0].0;
        let at = |entry: &str| {
            timed
                .iter()
                .find(|(_, e)| e == entry)
                .map(|(t, _)| (*t - t0).as_millis())
                .unwrap_or_else(|| panic!("{order:?}: no {entry} in {timed:?}"))
        };
        match order {
            ShutdownOrder::Reverse => {
                assert_eq!(at("c:stopping"), 100, "{order:?}");
                assert_eq!(at("a:stopping"), 300, "{order:?}: after c has ended");
            }
            ShutdownOrder::Concurrent => {
                assert_eq!(at("c:stopping"), 100, "{order:?}");
                assert_eq!(at("a:stopping"), 100, "{order:?}: with c");
            }
        }
        assert_eq!(at("a:start:2"), restart_at, "{order:?}");
        let starts: Vec<_> = log.matching("start:2");
        assert_eq!(starts, ["a:start:2", "b:start:2", "c:start:2"], "{order:?}");
        let children = h.which_children().await;
        assert!(
            children.iter().all(|c| c.phase == Phase::Running),
            "{order:?}"
        );
        assert_eq!(
            children.iter().map(|c| c.restarts).collect::<Vec<_>>(),
            [1, 1, 1],
            "{order:?}"
        );
        h.shutdown().await.unwrap();
        assert_eq!(alive.count(), 0, "{order:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn paths_in_snapshots_events_and_commands() {
    let log = Log::default();
    let alive = Alive::default();
    let db = Supervisor::builder("db")
        .child(
            scripted(
                "pool",
                &log,
                &alive,
                vec![Act::ErrAfter(ms(10)), Act::Serve],
            )
            .backoff(Backoff::none()),
        )
        .build()
        .unwrap();
    let sup = Supervisor::builder("app").child(db).build().unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(ms(50)).await;
    let paths: std::collections::BTreeSet<_> = drain(&mut rx).into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.contains("app/db/pool") && paths.contains("app/db") && paths.contains("app"),
        "{paths:?}"
    );
    // Commands reach the nested child by relative or full path.
    h.terminate_child("db/pool").await.unwrap();
    h.restart_child("app/db/pool").await.unwrap();
    let err = h.delete_child("db/nope").await.unwrap_err();
    assert_eq!(err.to_string(), "no child `app/db/nope`");
    let err = h.terminate_child("db/pool/deeper").await.unwrap_err();
    assert_eq!(err.to_string(), "`app/db/pool` is not a running supervisor");
    h.shutdown().await.unwrap();
}

/// A nested supervisor restarted by its parent registers its children's
/// counters again; the old incarnation's must leave the registry (their
/// counts kept in the totals), or the registry grows with every restart.
#[tokio::test(start_paused = true)]
async fn a_restarted_nested_supervisor_does_not_grow_the_metrics_registry() {
    let inner = Supervisor::builder("inner")
        .intensity(0, secs(1))
        .child(
            ChildSpec::new(
                "flaky",
                service_fn(|_ctx| async move {
                    tokio::time::sleep(ms(10)).await;
                    Err::<(), tokio_supervisor::BoxError>("boom".into())
                }),
            )
            .restart(Restart::Permanent)
            .backoff(Backoff::none()),
        )
        .child(ChildSpec::new(
            "steady",
            service_fn(|ctx| async move {
                ctx.cancelled().await;
                Ok(())
            }),
        ))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .intensity(u32::MAX, secs(1))
        .child(
            ChildSpec::from(inner)
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    tokio::time::sleep(ms(1_000)).await;
    let m = h.metrics();
    let restarts = m.total.restarts;
    assert!(
        restarts >= 50,
        "the nested supervisor was restarted: {restarts}"
    );
    assert_eq!(
        m.children.len(),
        3,
        "app/inner, app/inner/flaky, app/inner/steady: {:?}",
        m.children.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
    let flaky_starts = m.total.starts;
    assert!(flaky_starts > restarts, "totals kept the departed counts");
    h.shutdown().await.unwrap();
}
