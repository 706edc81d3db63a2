//! systemd notifications (feature `systemd`), read from a Unix datagram
//! socket bound as `NOTIFY_SOCKET`.
#![cfg(all(feature = "systemd", unix))]

mod support;

use std::os::unix::net::UnixDatagram;

use support::*;
use tokio_supervisor::{Backoff, Restart, Supervisor};

/// Every message received so far, without blocking (on the paused clock,
/// waiting on a socket would let time run ahead).
fn received(sock: &UnixDatagram) -> Vec<String> {
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn ready_status_watchdog_and_stopping() {
    let dir = std::env::temp_dir().join(format!("tokio-supervisor-sd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_nonblocking(true).unwrap();
    // This test binary has one test: nothing else reads the environment.
    std::env::set_var("NOTIFY_SOCKET", &path);
    std::env::set_var("WATCHDOG_USEC", "2000000"); // 2 s: ping every 1 s
    std::env::remove_var("WATCHDOG_PID");

    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .child(scripted("steady", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("flaky", &log, &alive, vec![Act::ErrAfter(ms(1_500))])
                .restart(Restart::Permanent)
                .backoff(Backoff::none())
                .restart_limit(1, secs(60)),
        )
        .start_ok()
        .await;
    assert_eq!(
        received(&sock),
        ["READY=1\nSTATUS=running\n", "WATCHDOG=1\n"]
    );

    tokio::time::sleep(ms(1_100)).await;
    assert_eq!(received(&sock), ["WATCHDOG=1\n"], "pinged every second");

    tokio::time::sleep(ms(500)).await; // flaky fails at 1.5 s: restarted
    assert_eq!(
        received(&sock),
        ["STATUS=restarting app/flaky (attempt 2)\n"]
    );

    tokio::time::sleep(ms(1_500)).await; // fails again at 3 s: given up
    let got = received(&sock);
    assert!(got.contains(&"WATCHDOG=1\n".to_owned()), "{got:?}");
    assert!(
        got.iter()
            .any(|m| m.starts_with("STATUS=gave up on app/flaky: circuit open")),
        "{got:?}"
    );

    h.shutdown().await.unwrap();
    assert_eq!(received(&sock), ["STOPPING=1\nSTATUS=stopping\n"]);
    // No more pings once stopped.
    tokio::time::sleep(secs(5)).await;
    assert!(received(&sock).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
