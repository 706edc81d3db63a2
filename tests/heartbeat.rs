//! The heartbeat watchdog: a child that stops beating is hung, cancelled,
//! aborted if it ignores that, and restarted per its policy.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tokio::time::Instant;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Context, EventKind, ExitReason, Phase, Restart, Shutdown,
    Supervisor,
};

/// A child that beats every `every` until `beats` beats are done (forever
/// if `None`), then goes silent; it obeys cancellation unless `stubborn`.
fn beating(
    name: &str,
    every: std::time::Duration,
    beats: Option<u32>,
    stubborn: bool,
    log: &Log,
) -> ChildSpec {
    let log = log.clone();
    let name_s = name.to_owned();
    ChildSpec::new(
        name,
        service_fn(move |ctx: Context| {
            let (log, name) = (log.clone(), name_s.clone());
            async move {
                log.push(format!("{name}:start:{}", ctx.attempt()));
                let mut n = 0;
                loop {
                    if beats.is_none_or(|b| n < b) {
                        ctx.heartbeat();
                        n += 1;
                    }
                    tokio::select! {
                        _ = ctx.cancelled(), if !stubborn => {
                            log.push(format!("{name}:cancelled"));
                            return Ok(());
                        }
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            }
        }),
    )
}

fn exits(
    rx: &mut tokio::sync::broadcast::Receiver<tokio_supervisor::Event>,
) -> Vec<(Instant, ExitReason)> {
    let mut out = vec![];
    while let Ok(e) = rx.try_recv() {
        if let EventKind::Exited { reason } = e.kind {
            out.push((Instant::now(), reason));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn hung_is_detected_at_the_deadline_and_not_before() {
    let log = Log::default();
    let sup = Supervisor::builder("app")
        .child(
            beating("silent", secs(10), Some(0), false, &log)
                .heartbeat(secs(2))
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(ms(1_999)).await;
    assert!(exits(&mut rx).is_empty(), "not before the deadline");
    assert_eq!(h.which_children().await[0].phase, Phase::Running);
    tokio::time::sleep(ms(1)).await;
    settle().await;
    let timed = log.timed();
    let cancelled = timed
        .iter()
        .find(|(_, e)| e == "silent:cancelled")
        .unwrap()
        .0;
    assert_eq!(cancelled - t0, secs(2), "at the deadline");
    let snap = h.which_children().await;
    assert_eq!(
        snap[0].last_exit,
        Some(ExitReason::Hung { timeout: secs(2) })
    );
    assert_eq!(
        (snap[0].starts, snap[0].restarts),
        (2, 1),
        "restarted per its policy"
    );
    assert_eq!(h.metrics().total.exits.get("hung"), Some(&1));
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_heartbeating_child_is_never_flagged() {
    let log = Log::default();
    let h = Supervisor::builder("app")
        .child(beating("steady", ms(1_900), None, false, &log).heartbeat(secs(2)))
        .start_ok()
        .await;
    tokio::time::sleep(secs(600)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Running);
    assert_eq!(snap[0].starts, 1);
    assert_eq!(snap[0].last_exit, None);
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_deadline_follows_the_last_beat() {
    let log = Log::default();
    let h = Supervisor::builder("app")
        .child(
            beating("fading", secs(1), Some(5), false, &log)
                .heartbeat(ms(2_500))
                .restart(Restart::Permanent)
                .backoff(Backoff::fixed(secs(100))),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    tokio::time::sleep(secs(10)).await;
    // Beats at 0, 1, 2, 3, 4 s; silent after: hung at 4 + 2.5 s.
    let cancelled = log
        .timed()
        .into_iter()
        .find(|(_, e)| e == "fading:cancelled")
        .unwrap()
        .0;
    assert_eq!(cancelled - t0, ms(6_500));
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_hung_child_that_ignores_cancellation_is_still_replaced() {
    let log = Log::default();
    let alive = Alive::default();
    let (log2, alive2) = (log.clone(), alive.clone());
    // Never beats, and never stops when asked.
    let spec = ChildSpec::new(
        "stuck",
        service_fn(move |ctx| {
            let guard = alive2.enter();
            log2.push(format!("stuck:start:{}", ctx.attempt()));
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            }
        }),
    )
    .heartbeat(secs(2))
    .shutdown(Shutdown::Graceful(secs(3)))
    .restart(Restart::Permanent)
    .backoff(Backoff::none());
    let sup = Supervisor::builder("app").child(spec).build().unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(ms(5_001)).await;
    let e = exits(&mut rx);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1, ExitReason::Hung { timeout: secs(2) });
    let starts = log.timed();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[1].0 - t0,
        secs(5),
        "hung at 2 s, aborted at 2 + 3 s, replaced at once"
    );
    assert_eq!(h.which_children().await[0].phase, Phase::Running);
    assert_eq!(alive.count(), 1, "the stuck run is gone");
    h.shutdown().await.unwrap();
    assert_eq!(alive.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_starts_once_a_gated_child_is_ready() {
    let readied = Arc::new(Mutex::new(None));
    let r2 = readied.clone();
    let spec = ChildSpec::new(
        "slow",
        service_fn(move |ctx| {
            let r2 = r2.clone();
            async move {
                tokio::time::sleep(secs(5)).await; // longer than the heartbeat
                *r2.lock().unwrap() = Some(Instant::now());
                ctx.ready();
                ctx.cancelled().await;
                Ok(())
            }
        }),
    )
    .wait_ready(secs(10))
    .heartbeat(secs(2));
    let h = Supervisor::builder("app").child(spec).start_ok().await;
    let ready_at = readied.lock().unwrap().unwrap();
    tokio::time::sleep(ms(1_999)).await;
    assert_eq!(h.which_children().await[0].phase, Phase::Running);
    tokio::time::sleep(ms(10)).await;
    let snap = h.which_children().await;
    assert_eq!(
        snap[0].last_exit,
        Some(ExitReason::Hung { timeout: secs(2) })
    );
    assert!(Instant::now() - ready_at >= secs(2));
}
