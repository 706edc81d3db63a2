//! The per-child restart limit (circuit breaker), and how it interacts with
//! the backoff's stable-run reset and the supervisor's intensity.

mod support;

use support::*;
use tokio_supervisor::{
    Backoff, EventKind, ExitReason, Phase, Restart, Supervisor, SupervisorError,
};

#[tokio::test(start_paused = true)]
async fn circuit_opens_after_n_restarts_and_siblings_keep_running() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("sup")
        .child(scripted("steady", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("flaky", &log, &alive, vec![Act::ErrAfter(ms(10))])
                .backoff(Backoff::none())
                .restart_limit(3, secs(60)),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(secs(1)).await;

    let snap = h.which_children().await;
    assert_eq!(snap.len(), 2, "the given-up child stays visible");
    let flaky = &snap[1];
    assert_eq!(
        flaky.phase,
        Phase::Terminated(ExitReason::CircuitOpen {
            restarts: 3,
            window: Some(secs(60))
        })
    );
    assert_eq!((flaky.starts, flaky.restarts, flaky.failures), (4, 3, 4));
    assert_eq!(flaky.last_exit, Some(ExitReason::Failed("fail".into())));
    assert_eq!(snap[0].phase, Phase::Running, "the sibling keeps running");
    assert!(!h.is_finished(), "the supervisor keeps running");

    let gave_up: Vec<_> = drain(&mut rx)
        .into_iter()
        .filter(|(_, k)| matches!(k, EventKind::GaveUp { .. }))
        .collect();
    assert_eq!(gave_up.len(), 1);
    assert_eq!(gave_up[0].0, "sup/flaky");

    // Nothing restarts it later, however long we wait.
    tokio::time::sleep(secs(120)).await;
    assert_eq!(log.matching("flaky:start").len(), 4);
    h.shutdown().await.unwrap();
    assert_eq!(log.matching("stop"), ["steady:stop"]);
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_more_than_the_window_never_open_it() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(
            scripted("c", &log, &alive, vec![Act::ErrAfter(ms(1100))])
                .backoff(Backoff::none())
                .restart_limit(1, secs(1)),
        )
        .start_ok()
        .await;
    tokio::time::sleep(secs(60)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Running);
    assert!(snap[0].restarts >= 50, "{}", snap[0].restarts);
    h.shutdown().await.unwrap();
}

/// Other supervisors shipped this bug: the stable-run reset cleared the
/// breaker too, and a child that failed just after each reset restarted 38
/// times against a limit of 3.
#[tokio::test(start_paused = true)]
async fn stable_run_reset_never_resets_the_breaker() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("sup")
        .intensity(1000, secs(60))
        .child(
            scripted("c", &log, &alive, vec![Act::ErrAfter(ms(5_001))])
                .restart(Restart::Permanent)
                .backoff(Backoff::exponential(ms(100), secs(30)).reset_after(secs(5)))
                .restart_limit(3, secs(60)),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(secs(120)).await;

    let snap = h.which_children().await;
    assert!(
        matches!(
            snap[0].phase,
            Phase::Terminated(ExitReason::CircuitOpen { restarts: 3, .. })
        ),
        "{:?}",
        snap[0].phase
    );
    assert_eq!(
        snap[0].starts, 4,
        "1 start + 3 restarts, then the circuit opens"
    );
    let delays: Vec<_> = drain(&mut rx)
        .into_iter()
        .filter_map(|(_, k)| match k {
            EventKind::BackingOff { delay } => Some(delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [ms(100); 3], "each stable run did reset the delay");
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stable_run_reset_never_resets_the_intensity() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .intensity(3, secs(60))
        .child(
            scripted("c", &log, &alive, vec![Act::ErrAfter(ms(5_001))])
                .backoff(Backoff::exponential(ms(100), secs(30)).reset_after(secs(5))),
        )
        .start_ok()
        .await;
    let err = h.wait().await.unwrap_err();
    assert!(
        matches!(&err, SupervisorError::IntensityExceeded { max: 3, child, .. } if child == "sup/c"),
        "{err}"
    );
    assert_eq!(log.matching("start").len(), 4);
}

/// A limit over the child's whole life (a window of `Duration::MAX`) has no
/// window, and says so in serde output (`null`), rather than `Duration::MAX`.
#[tokio::test(start_paused = true)]
async fn a_lifetime_limit_serializes_without_a_window() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(
            scripted("c", &log, &alive, vec![Act::Err])
                .backoff(tokio_supervisor::Backoff::none())
                .restart_limit(1, std::time::Duration::MAX),
        )
        .start_ok()
        .await;
    settle().await;
    let snap = h.which_children().await;
    assert_eq!(
        snap[0].phase,
        Phase::Terminated(ExitReason::CircuitOpen {
            restarts: 1,
            window: None
        })
    );
    let json = serde_json::to_string(&snap[0]).unwrap();
    assert!(json.contains(r#""window":null"#), "{json}");
    assert!(!json.contains("18446744073709551615"), "{json}");
    assert_eq!(
        snap[0].phase.to_string(),
        "terminated (circuit open: more than 1 restarts)"
    );
    h.shutdown().await.unwrap();
}
