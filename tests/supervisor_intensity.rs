//! Restart intensity: too many restarts within the window and the supervisor
//! stops its children in reverse order and fails.

mod support;

use support::*;
use tokio_supervisor::{
    Backoff, EventKind, ExitReason, Phase, Restart, Supervisor, SupervisorError,
};

#[tokio::test(start_paused = true)]
async fn exceeded_stops_all_in_reverse_order_and_names_the_child() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("sup")
        .intensity(2, secs(1))
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(scripted("b", &log, &alive, vec![Act::Serve]))
        .child(scripted("c", &log, &alive, vec![Act::ErrAfter(ms(10))]).backoff(Backoff::none()))
        .child(scripted("d", &log, &alive, vec![Act::Serve]))
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
            max,
            window,
        } => {
            assert_eq!(supervisor, "sup");
            assert_eq!(child, "sup/c");
            assert_eq!(*reason, ExitReason::Failed("fail".into()));
            assert_eq!((*max, *window), (2, secs(1)));
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("`sup`") && msg.contains("`sup/c`"), "{msg}");

    assert_eq!(
        log.matching("c:start").len(),
        3,
        "two restarts allowed, the third is refused"
    );
    assert_eq!(log.matching("stop"), ["d:stop", "b:stop", "a:stop"]);
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);

    let events = drain(&mut rx);
    assert!(events
        .iter()
        .any(|(p, k)| p == "sup" && matches!(k, EventKind::SupervisorFailed { .. })));
    let snap = h.which_children().await;
    assert_eq!(
        snap[2].phase,
        Phase::Terminated(ExitReason::Failed("fail".into()))
    );
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn zero_intensity_fails_on_the_first_restart() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .intensity(0, secs(5))
        .child(scripted("c", &log, &alive, vec![Act::PanicAfter(ms(1))]))
        .start_ok()
        .await;
    let err = h.wait().await.unwrap_err();
    assert!(matches!(
        err,
        SupervisorError::IntensityExceeded { max: 0, .. }
    ));
    assert_eq!(log.matching("start"), ["c:start:1"]);
}

#[tokio::test(start_paused = true)]
async fn the_window_slides() {
    // OTP's multiple_restarts: 1 restart per second; restarts 1.1 s apart
    // never exceed it.
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .intensity(1, secs(1))
        .child(scripted("c", &log, &alive, vec![Act::ErrAfter(ms(1100))]).backoff(Backoff::none()))
        .start_ok()
        .await;
    tokio::time::sleep(secs(30)).await;
    assert!(!h.is_finished());
    assert!(log.matching("start").len() >= 27);
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn exits_that_are_not_restarted_do_not_count() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .intensity(0, secs(60))
        .child(scripted("t", &log, &alive, vec![Act::ErrAfter(ms(1))]).restart(Restart::Temporary))
        .child(scripted("n", &log, &alive, vec![Act::OkAfter(ms(1))]))
        .child(scripted("s", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    assert!(
        !h.is_finished(),
        "no restart happened, so intensity 0 holds"
    );
    let snap = h.which_children().await;
    assert_eq!(snap.len(), 2, "the temporary child is gone");
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Completed));
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn backoff_throttles_one_child_below_the_default_intensity() {
    // With the defaults (exponential backoff from 100 ms, 10 restarts in
    // 10 s), one child failing over and over never fails its supervisor.
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("c", &log, &alive, vec![Act::ErrAfter(ms(1))]))
        .start_ok()
        .await;
    tokio::time::sleep(secs(300)).await;
    assert!(!h.is_finished());
    assert!(log.matching("start").len() >= 10);
    h.shutdown().await.unwrap();
}
