//! Mailboxes: addresses that survive restarts (`ChildSpec::with_mailbox`).

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tokio_supervisor::{
    mailbox, Backoff, ChildSpec, ExitReason, MailboxError, Phase, Reply, Restart, Strategy,
    Supervisor,
};

#[derive(Debug)]
enum Msg {
    /// Recorded, with the attempt of the run that received it.
    Val(u32),
    /// The run panics with it in hand.
    Panic,
    /// Answered with the attempt.
    Attempt(Reply<u32>),
    /// The run panics, holding the reply.
    PanicWith(Reply<u32>),
}

type Got = Arc<Mutex<Vec<(u32, u32)>>>;

/// A child that records the values it receives as `(attempt, value)`.
fn recorder(name: &str, mailbox: tokio_supervisor::Mailbox<Msg>, got: &Got) -> ChildSpec {
    let got = got.clone();
    ChildSpec::with_mailbox_fn(name, mailbox, move |ctx, mut inbox| {
        let got = got.clone();
        async move {
            while let Some(msg) = inbox.recv().await {
                match msg {
                    Msg::Val(v) => got.lock().unwrap().push((ctx.attempt(), v)),
                    Msg::Panic => panic!("asked to"),
                    Msg::PanicWith(reply) => {
                        assert!(!reply.is_closed());
                        panic!("asked to, with the reply in hand");
                    }
                    Msg::Attempt(reply) => {
                        let _ = reply.send(ctx.attempt());
                    }
                }
            }
            Ok(())
        }
    })
}

fn got(g: &Got) -> Vec<(u32, u32)> {
    g.lock().unwrap().clone()
}

async fn snapshot(
    h: &tokio_supervisor::SupervisorHandle,
    path: &str,
) -> tokio_supervisor::ChildSnapshot {
    h.child(path).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_sender_made_before_the_start_reaches_the_first_run() {
    let (tx, mb) = mailbox::channel(8);
    for v in 1..=3 {
        tx.send(Msg::Val(v)).await.unwrap();
    }
    assert_eq!(tx.len(), 3);
    let g = Got::default();
    let spec = recorder("w", mb, &g);
    assert_eq!(tx.path(), "w", "its name until a supervisor has it");
    let app = Supervisor::builder("app").child(spec).start_ok().await;
    settle().await;
    assert_eq!(got(&g), [(1, 1), (1, 2), (1, 3)]);
    assert_eq!(tx.path(), "app/w");
    assert!(tx.is_running());
    app.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn messages_queued_during_a_panic_restart_wait_for_the_next_run() {
    let (tx, mb) = mailbox::channel(8);
    let g = Got::default();
    let app = Supervisor::builder("app")
        .child(recorder("w", mb, &g).backoff(Backoff::fixed(ms(100))))
        .start_ok()
        .await;
    for m in [Msg::Val(1), Msg::Panic, Msg::Val(2), Msg::Val(3)] {
        tx.send(m).await.unwrap();
    }
    settle().await;
    // The panic lost its own message (at most once); the rest wait.
    assert_eq!(got(&g), [(1, 1)]);
    let w = snapshot(&app, "w").await;
    assert_eq!(w.phase, Phase::BackingOff);
    assert_eq!(w.mailbox.unwrap().queued, 2);
    assert!(!tx.is_running() && !tx.is_closed());
    tx.send(Msg::Val(4)).await.unwrap(); // while backing off
    tokio::time::advance(ms(100)).await;
    settle().await;
    assert_eq!(got(&g), [(1, 1), (2, 2), (2, 3), (2, 4)]);
    let w = snapshot(&app, "w").await;
    assert_eq!((w.restarts, w.mailbox.unwrap().queued), (1, 0));
    app.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn messages_survive_a_group_restart() {
    let (tx, mb) = mailbox::channel(8);
    let (boom, boom_mb) = mailbox::channel(8);
    let g = Got::default();
    let other = Got::default();
    let app = Supervisor::builder("app")
        .strategy(Strategy::OneForAll)
        .child(recorder("a", mb, &g).backoff(Backoff::fixed(ms(50))))
        .child(recorder("b", boom_mb, &other).backoff(Backoff::fixed(ms(50))))
        .start_ok()
        .await;
    tx.send(Msg::Val(1)).await.unwrap();
    settle().await;
    boom.send(Msg::Panic).await.unwrap();
    settle().await;
    // `b` crashed: `a` was stopped with it, and both wait to restart.
    assert_ne!(snapshot(&app, "a").await.phase, Phase::Running);
    tx.send(Msg::Val(2)).await.unwrap();
    tx.send(Msg::Val(3)).await.unwrap();
    assert_eq!(got(&g), [(1, 1)]);
    tokio::time::advance(ms(50)).await;
    settle().await;
    assert_eq!(got(&g), [(1, 1), (2, 2), (2, 3)]);
    assert_eq!(tx.request(Msg::Attempt, secs(1)).await, Ok(2));
    assert_eq!(boom.request(Msg::Attempt, secs(1)).await, Ok(2));
    app.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_mailbox_refuses_try_send_and_times_out_send_timeout() {
    let (tx, mb) = mailbox::channel::<u32>(2);
    let gate = Arc::new(tokio::sync::Notify::new());
    let app = Supervisor::builder("app")
        .child(ChildSpec::with_mailbox_fn("slow", mb, {
            let gate = gate.clone();
            move |_ctx, mut inbox| {
                let gate = gate.clone();
                async move {
                    gate.notified().await;
                    while inbox.recv().await.is_some() {}
                    Ok(())
                }
            }
        }))
        .start_ok()
        .await;
    tx.send(1).await.unwrap();
    tx.try_send(2).unwrap();
    let err = tx.try_send(3).unwrap_err();
    assert_eq!(
        err.error(),
        &MailboxError::Full {
            path: "app/slow".into(),
            capacity: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "mailbox of `app/slow` is full (2 messages)"
    );
    assert_eq!(err.into_message(), 3);
    let err = tx.send_timeout(4, ms(10)).await.unwrap_err();
    assert!(matches!(err.error(), MailboxError::Timeout { .. }));
    // A plain send waits for room.
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(5).await }
    });
    settle().await;
    assert!(!waiting.is_finished());
    let stats = snapshot(&app, "slow").await.mailbox.unwrap();
    assert_eq!((stats.capacity, stats.queued, stats.refused), (2, 2, 2));
    let m = app.metrics();
    assert_eq!(m.children[0].mailbox, Some(stats));
    gate.notify_one();
    waiting.await.unwrap().unwrap();
    settle().await;
    assert!(tx.is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_given_up_child_refuses_sends_with_its_path_and_drops_its_queue() {
    let (tx, mb) = mailbox::channel(8);
    let g = Got::default();
    let app = Supervisor::builder("app")
        .child(
            recorder("fragile", mb, &g)
                .restart(Restart::Permanent)
                .backoff(Backoff::none())
                .restart_limit(1, secs(60)),
        )
        .start_ok()
        .await;
    // A request queued behind the fatal messages: lost with the queue.
    for m in [Msg::Panic, Msg::Panic, Msg::Val(1), Msg::Val(2)] {
        tx.send(m).await.unwrap();
    }
    let pending = tokio::spawn({
        let tx = tx.clone();
        async move { tx.request(Msg::Attempt, secs(60)).await }
    });
    settle().await;
    let f = snapshot(&app, "fragile").await;
    assert!(matches!(
        f.phase,
        Phase::Terminated(ExitReason::CircuitOpen { .. })
    ));
    let stats = f.mailbox.unwrap();
    assert_eq!((stats.queued, stats.dropped), (0, 3));
    assert!(got(&g).is_empty());
    assert!(matches!(
        pending.await.unwrap(),
        Err(MailboxError::ReplyLost { .. })
    ));
    assert!(tx.is_closed());
    let err = tx.send(Msg::Val(3)).await.unwrap_err();
    match err.error() {
        MailboxError::Terminated { path, reason } => {
            assert_eq!(path, "app/fragile");
            assert!(matches!(reason, ExitReason::CircuitOpen { .. }));
        }
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("child `app/fragile` has terminated (circuit open"));
    assert!(tx.wait_running(secs(1)).await.unwrap_err().is_closed());
    assert_eq!(snapshot(&app, "fragile").await.mailbox.unwrap().refused, 1);
    // Restarted by hand, it takes messages again.
    app.restart_child("fragile").await.unwrap();
    tx.send(Msg::Val(4)).await.unwrap();
    settle().await;
    assert_eq!(got(&g), [(3, 4)]);
    app.shutdown().await.unwrap();
    let err = tx.try_send(Msg::Val(5)).unwrap_err();
    assert!(matches!(
        err.error(),
        MailboxError::Terminated {
            reason: ExitReason::Shutdown,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_reply_lost_to_a_crash_is_an_error_and_the_next_request_is_answered() {
    let (tx, mb) = mailbox::channel(8);
    let app = Supervisor::builder("app")
        .child(recorder("svc", mb, &Got::default()).backoff(Backoff::fixed(ms(200))))
        .start_ok()
        .await;
    let lost = tx.request(Msg::PanicWith, secs(5)).await;
    assert_eq!(
        lost,
        Err(MailboxError::ReplyLost {
            path: "app/svc".into()
        })
    );
    // Backing off for 200 ms: a shorter timeout gives up, a longer one
    // gets the next run's answer.
    let err = tx.request(Msg::Attempt, ms(100)).await.unwrap_err();
    assert!(matches!(err, MailboxError::Timeout { .. }));
    assert_eq!(tx.request(Msg::Attempt, secs(5)).await, Ok(2));
    tx.wait_running(secs(1)).await.unwrap();
    app.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_childs_mailbox_is_reached_by_its_path() {
    let jobs = Supervisor::dynamic("jobs").start_ok().await;
    let g = Got::default();
    let (_, mb) = mailbox::channel(8);
    let path = jobs
        .start_child(recorder("job", mb, &g).restart(Restart::Transient))
        .await
        .unwrap();
    let tx = jobs.mailbox::<Msg>(&path).unwrap();
    assert_eq!(tx.path(), path);
    tx.send(Msg::Val(7)).await.unwrap();
    settle().await;
    assert_eq!(got(&g), [(1, 7)]);
    // A relative path works too; the wrong type and no child are errors.
    let rel = path.strip_prefix("jobs/").unwrap();
    assert!(jobs.mailbox::<Msg>(rel).is_ok());
    assert!(matches!(
        jobs.mailbox::<String>(&path),
        Err(MailboxError::WrongType { .. })
    ));
    assert_eq!(
        jobs.mailbox::<Msg>("nobody").unwrap_err(),
        MailboxError::NotFound {
            path: "jobs/nobody".into()
        }
    );
    // A dynamic child that ends is removed: so is its address.
    jobs.terminate_child(&path).await.unwrap();
    settle().await;
    assert_eq!(
        tx.try_send(Msg::Val(8)).unwrap_err().error(),
        &MailboxError::Removed { path: path.clone() }
    );
    assert!(matches!(
        jobs.mailbox::<Msg>(&path),
        Err(MailboxError::NotFound { .. })
    ));
    jobs.shutdown().await.unwrap();
}

#[cfg(feature = "prometheus")]
#[tokio::test(start_paused = true)]
async fn prometheus_exports_each_mailbox() {
    let (tx, mb) = mailbox::channel::<u32>(1);
    let app = Supervisor::builder("app")
        .child(ChildSpec::with_mailbox_fn(
            "idle",
            mb,
            |ctx, _inbox| async move {
                ctx.cancelled().await;
                Ok(())
            },
        ))
        .start_ok()
        .await;
    tx.send(1).await.unwrap();
    assert!(tx.try_send(2).is_err());
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(app.prometheus_collector()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        r#"supervisor_mailbox_queued{path="app/idle"} 1"#,
        r#"supervisor_mailbox_capacity{path="app/idle"} 1"#,
        r#"supervisor_mailbox_dropped_total{path="app/idle"} 0"#,
        r#"supervisor_mailbox_refused_total{path="app/idle"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    app.shutdown().await.unwrap();
}

/// The handles and the futures of the public async methods are `Send`
/// (and the handles `Sync`), checked at compile time.
#[allow(dead_code)]
fn auto_traits() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let (tx, mb) = mailbox::channel::<Msg>(1);
    send_sync(&tx);
    send_sync(&mb);
    send(&tx.send(Msg::Val(1)));
    send(&tx.send_timeout(Msg::Val(1), secs(1)));
    send(&tx.request(Msg::Attempt, secs(1)));
    send(&tx.wait_running(secs(1)));
    fn inbox(mut inbox: tokio_supervisor::Inbox<Msg>) {
        send_sync(&inbox);
        send(&inbox.recv());
        send(&inbox.recv_many(&mut Vec::new(), 1));
    }
    let _ = inbox;
}

#[tokio::test(start_paused = true)]
async fn an_aborted_run_gives_the_inbox_back() {
    let (tx, mb) = mailbox::channel::<u32>(4);
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = Supervisor::builder("app")
        .child(
            ChildSpec::with_mailbox_fn("stubborn", mb, {
                let got = got.clone();
                move |ctx, mut inbox| {
                    let got = got.clone();
                    async move {
                        if ctx.attempt() == 1 {
                            // Holds its inbox and ignores the stop: aborted.
                            std::future::pending::<()>().await;
                        }
                        while let Some(v) = inbox.recv().await {
                            got.lock().unwrap().push(v);
                        }
                        Ok(())
                    }
                }
            })
            .shutdown(tokio_supervisor::Shutdown::Graceful(ms(10))),
        )
        .start_ok()
        .await;
    tx.send(1).await.unwrap();
    app.terminate_child("stubborn").await.unwrap();
    let s = snapshot(&app, "stubborn").await;
    assert_eq!(s.last_exit, Some(ExitReason::Aborted));
    assert_eq!(
        s.mailbox.unwrap().dropped,
        1,
        "stopped: its queue is dropped"
    );
    app.restart_child("stubborn").await.unwrap();
    tx.send(2).await.unwrap();
    settle().await;
    assert_eq!(
        *got.lock().unwrap(),
        [2],
        "the next run took the inbox back"
    );
    app.shutdown().await.unwrap();
}
