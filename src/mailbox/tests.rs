//! Unit tests of the mailbox's machinery, driven without a supervisor.

use std::sync::Arc;
use std::time::Duration;

use super::shared::Port;
use super::*;
use crate::lifecycle::{ExitReason, Phase};
use crate::Context;

fn inbox<T: Send + 'static>(m: &Mailbox<T>, ctx: &Context) -> Inbox<T> {
    Inbox::new(m.shared.take().unwrap(), m.shared.clone(), ctx.clone())
}

#[tokio::test]
async fn the_receiving_end_goes_back_when_the_inbox_is_dropped() {
    let (tx, m) = channel::<u32>(4);
    let ctx = Context::detached("app/w");
    tx.send(1).await.unwrap();
    let mut a = inbox(&m, &ctx);
    assert!(matches!(m.shared.take(), Err(MailboxError::Taken { .. })));
    assert_eq!(a.recv().await, Some(1));
    tx.send(2).await.unwrap();
    drop(a);
    let mut b = inbox(&m, &ctx);
    assert_eq!(
        b.try_recv(),
        Some(2),
        "queued messages wait for the next run"
    );
}

#[tokio::test]
async fn recv_ends_when_the_run_is_cancelled_and_leaves_the_queue() {
    let (tx, m) = channel::<u32>(4);
    let ctx = Context::detached("app/w");
    let mut a = inbox(&m, &ctx);
    tx.send(1).await.unwrap();
    ctx.token().cancel();
    assert_eq!(a.recv().await, None);
    assert_eq!(a.recv_many(&mut Vec::new(), 4).await, 0);
    assert_eq!(a.len(), 1);
    assert_eq!(a.try_recv(), Some(1));
}

#[tokio::test]
async fn a_close_drops_the_queue_and_refuses_sends_with_the_path() {
    let (tx, m) = channel::<u32>(4);
    let port: Arc<dyn Port> = m.shared.clone();
    port.attach(&"app/w".into());
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    let reason = ExitReason::CircuitOpen {
        restarts: 3,
        window: Some(Duration::from_secs(1)),
    };
    port.phase(&Phase::Terminated(reason.clone()));
    let err = tx.send(3).await.unwrap_err();
    assert_eq!(
        err.error(),
        &MailboxError::Terminated {
            path: "app/w".into(),
            reason
        }
    );
    assert_eq!(err.into_message(), 3);
    let stats = port.stats();
    assert_eq!((stats.queued, stats.dropped, stats.refused), (0, 2, 1));
    // Restarted by hand: open again.
    port.phase(&Phase::Starting);
    tx.send(4).await.unwrap();
    port.removed();
    assert!(matches!(
        tx.try_send(5).unwrap_err().error(),
        MailboxError::Removed { path } if path == "app/w"
    ));
    assert_eq!(port.stats().dropped, 3);
}

#[tokio::test]
async fn a_close_while_a_run_holds_the_inbox_drains_it_when_given_back() {
    let (tx, m) = channel::<u32>(4);
    let ctx = Context::detached("app/w");
    let a = inbox(&m, &ctx);
    tx.send(1).await.unwrap();
    let port: Arc<dyn Port> = m.shared.clone();
    port.removed();
    assert_eq!(port.stats().queued, 1, "held by the run");
    drop(a);
    assert_eq!((port.stats().queued, port.stats().dropped), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_sender_waiting_for_room_is_refused_when_the_child_terminates() {
    let (tx, m) = channel::<u32>(1);
    let port: Arc<dyn Port> = m.shared.clone();
    tx.send(1).await.unwrap();
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(2).await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    port.phase(&Phase::Terminated(ExitReason::Shutdown));
    let err = waiting.await.unwrap().unwrap_err();
    assert!(err.error().is_closed());
    assert_eq!(err.into_message(), 2);
}

#[tokio::test(start_paused = true)]
async fn send_timeout_and_wait_running_give_up_after_their_timeout() {
    let (tx, m) = channel::<u32>(1);
    let port: Arc<dyn Port> = m.shared.clone();
    tx.send(1).await.unwrap();
    let err = tx
        .send_timeout(2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err.error(), MailboxError::Timeout { .. }));
    assert_eq!(port.stats().refused, 1);
    assert!(matches!(
        tx.wait_running(Duration::from_millis(50)).await,
        Err(MailboxError::Timeout { .. })
    ));
    let waiter = tokio::spawn({
        let tx = tx.clone();
        async move { tx.wait_running(Duration::from_secs(5)).await }
    });
    tokio::task::yield_now().await;
    port.phase(&Phase::Running);
    waiter.await.unwrap().unwrap();
    assert!(tx.is_running());
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_unanswered_is_reply_lost_not_a_hang() {
    let (tx, m) = channel::<Reply<u32>>(4);
    let ctx = Context::detached("app/w");
    let mut a = inbox(&m, &ctx);
    let req = tokio::spawn({
        let tx = tx.clone();
        async move { tx.request(|r| r, Duration::from_secs(60)).await }
    });
    let reply = a.recv().await.unwrap();
    drop(reply); // the run crashed holding it
    assert!(matches!(
        req.await.unwrap(),
        Err(MailboxError::ReplyLost { .. })
    ));
    let req = tokio::spawn({
        let tx = tx.clone();
        async move { tx.request(|r| r, Duration::from_secs(60)).await }
    });
    let _ = a.recv().await.unwrap().send(7);
    assert_eq!(req.await.unwrap(), Ok(7));
}

#[test]
fn capacity_is_kept_within_tokios_bounds() {
    assert_eq!(channel::<()>(0).0.capacity(), 1);
    assert_eq!(channel::<()>(usize::MAX).0.capacity(), MAX_CAPACITY);
}

#[test]
fn a_lookup_of_the_wrong_type_is_an_error() {
    let (_tx, m) = channel::<u32>(1);
    let port: Arc<dyn Port> = m.shared.clone();
    assert!(sender_of::<u32>(port.clone(), "app/w").is_ok());
    assert!(matches!(
        sender_of::<String>(port, "app/w"),
        Err(MailboxError::WrongType { .. })
    ));
}

/// A waker that records that it was woken.
fn flag_waker() -> (std::task::Waker, Arc<std::sync::atomic::AtomicBool>) {
    struct Flag(Arc<std::sync::atomic::AtomicBool>);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    (Arc::new(Flag(flag.clone())).into(), flag)
}

/// The stop signal is polled again only when the waker changes: a stop
/// wakes whichever task parked last, never a stale one only.
#[test]
fn a_stop_wakes_the_waker_of_the_last_park() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::task::{Context as Cx, Poll};
    let (_tx, m) = channel::<u32>(1);
    let ctx = Context::detached("app/w");
    let mut inbox = inbox(&m, &ctx);
    let (a, woke_a) = flag_waker();
    let (b, woke_b) = flag_waker();
    assert!(inbox.poll_recv(&mut Cx::from_waker(&a)).is_pending());
    assert!(inbox.poll_recv(&mut Cx::from_waker(&a)).is_pending());
    assert!(inbox.poll_recv(&mut Cx::from_waker(&b)).is_pending());
    ctx.token().cancel();
    assert!(woke_b.load(SeqCst), "the last waker is woken");
    assert!(!woke_a.load(SeqCst));
    assert_eq!(inbox.poll_recv(&mut Cx::from_waker(&b)), Poll::Ready(None));
}
