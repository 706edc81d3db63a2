//! Backoff delays between restarts, measured on virtual time.

mod support;

use std::time::Duration;

use support::*;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_supervisor::{Backoff, EventKind, Restart, Supervisor};

/// Runs one child with `script` and `backoff` for `run_for`, and returns the
/// delays announced in `BackingOff` events and the start instants.
async fn observe(
    script: Vec<Act>,
    backoff: Backoff,
    run_for: Duration,
) -> (Vec<Duration>, Vec<Instant>) {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("sup")
        .intensity(1000, secs(1))
        .child(
            scripted("c", &log, &alive, script)
                .restart(Restart::Permanent)
                .backoff(backoff),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(run_for).await;
    h.shutdown().await.unwrap();
    let delays = drain(&mut rx)
        .into_iter()
        .filter_map(|(_, k)| match k {
            EventKind::BackingOff { delay } => Some(delay),
            _ => None,
        })
        .collect();
    let starts = log
        .timed()
        .into_iter()
        .filter(|(_, e)| e.contains(":start:"))
        .map(|(t, _)| t)
        .collect();
    (delays, starts)
}

/// The gap between start `i` and `i + 1` is the run (`run`) plus the delay,
/// to the timer's 1 ms resolution. The last delay may have been cut short by
/// the shutdown.
fn assert_gaps(starts: &[Instant], run: Duration, delays: &[Duration]) {
    assert!(starts.len() + 1 >= delays.len(), "{} starts", starts.len());
    for (i, d) in delays.iter().take(starts.len() - 1).enumerate() {
        let gap = starts[i + 1] - starts[i];
        let expected = run + *d;
        assert!(
            gap >= expected && gap <= expected + ms(1),
            "gap {i}: {gap:?}, expected {expected:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn exponential_delays_exactly_as_configured() {
    let backoff = Backoff::exponential(ms(100), ms(1000)).reset_after(secs(60));
    let (delays, starts) = observe(vec![Act::ErrAfter(ms(10))], backoff, ms(4000)).await;
    let expected = [100, 200, 400, 800, 1000, 1000].map(ms);
    assert_eq!(delays[..6], expected);
    assert_gaps(&starts, ms(10), &expected);
}

#[tokio::test(start_paused = true)]
async fn multiplier_three() {
    let backoff = Backoff::exponential(ms(10), ms(10_000))
        .multiplier(3.0)
        .reset_after(secs(60));
    let (delays, starts) = observe(vec![Act::ErrAfter(ms(1))], backoff, ms(1000)).await;
    let expected = [10, 30, 90, 270].map(ms);
    assert_eq!(delays[..4], expected);
    assert_gaps(&starts, ms(1), &expected);
}

#[tokio::test(start_paused = true)]
async fn fixed_and_none() {
    let (delays, starts) = observe(
        vec![Act::ErrAfter(ms(10))],
        Backoff::fixed(ms(250)),
        ms(1000),
    )
    .await;
    assert!(delays.len() >= 3 && delays.iter().all(|d| *d == ms(250)));
    assert_gaps(&starts, ms(10), &delays);

    let (delays, starts) = observe(vec![Act::ErrAfter(ms(10))], Backoff::none(), ms(100)).await;
    assert!(delays.is_empty(), "a zero delay is not a backoff");
    assert!(starts.len() >= 9);
    assert_gaps(&starts, ms(10), &[Duration::ZERO; 8]);
}

#[tokio::test(start_paused = true)]
async fn a_stable_run_resets_the_delay() {
    let backoff = Backoff::exponential(ms(100), secs(10)).reset_after(secs(5));
    let script = vec![
        Act::ErrAfter(ms(10)),
        Act::ErrAfter(ms(10)),
        Act::ErrAfter(ms(10)),
        Act::ErrAfter(secs(6)), // stable: the next delay starts over
        Act::ErrAfter(ms(10)),
        Act::Serve,
    ];
    let (delays, _) = observe(script, backoff, secs(10)).await;
    assert_eq!(delays, [100, 200, 400, 100, 200].map(ms));
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_reproducible_and_within_band() {
    let backoff = || {
        Backoff::exponential(ms(100), secs(1))
            .jitter(0.5)
            .seed(42)
            .reset_after(secs(60))
    };
    let (d1, starts) = observe(vec![Act::ErrAfter(ms(10))], backoff(), secs(5)).await;
    let (d2, _) = observe(vec![Act::ErrAfter(ms(10))], backoff(), secs(5)).await;
    assert!(d1.len() >= 6);
    assert_eq!(d1, d2, "same seed, same delays");
    for (i, d) in d1.iter().enumerate() {
        let base = backoff().base_delay(i as u32);
        assert!(*d <= base && *d >= base / 2, "delay {i}: {d:?} vs {base:?}");
    }
    assert!(
        d1.iter()
            .enumerate()
            .any(|(i, d)| *d != backoff().base_delay(i as u32)),
        "jitter changed something"
    );
    assert_gaps(&starts, ms(10), &d1);
}

/// A zero delay restarts at once, without the timer: tokio's timer rounds
/// any sleep up to its next millisecond tick, so a restart through it would
/// move the paused clock to that tick (the runtime, idle but for that timer,
/// jumps to it). A hundred restarts of a child that fails at once
/// (`Act::Err`, no timer of its own) leave the clock where it was; with the
/// restart sent through the timer queue instead, it moves 99 ms.
#[tokio::test(start_paused = true)]
async fn a_zero_backoff_never_touches_the_timer() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("sup")
        .intensity(u32::MAX, secs(1))
        .child(
            scripted("c", &log, &alive, vec![Act::Err])
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    // Between two ticks of tokio's timer (1 ms), where a timer due now
    // would wait for the next tick.
    tokio::time::advance(Duration::from_micros(500)).await;
    let t0 = Instant::now();
    let h = sup.start().await.unwrap();
    // Events wake this task; none of them waits on the clock. (A lagging
    // receiver only skips events: the log is what is counted.) A closed
    // channel would return at once, for ever: the test fails instead.
    while log.matching("c:start:").len() < 100 {
        if let Err(RecvError::Closed) = rx.recv().await {
            panic!(
                "the supervisor stopped after {} starts",
                log.matching("c:start:").len()
            );
        }
    }
    assert_eq!(Instant::now() - t0, Duration::ZERO);
    h.shutdown().await.unwrap();
}
