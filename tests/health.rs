//! The health endpoints over real HTTP on 127.0.0.1 (feature `health`).
//!
//! Real sockets, so real time; no step waits for time to pass: the child's
//! state changes are driven by the test.
#![cfg(feature = "health")]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use support::*;
use tokio_supervisor::health::Health;
use tokio_supervisor::{Backoff, Restart, Supervisor};

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.expect("response");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn readyz_flips_while_a_child_backs_off() {
    let remote = Remote::default();
    let h = Supervisor::builder("app")
        .child(remote.spec("steady"))
        .child(
            remote
                .gated("feed")
                .restart(Restart::Permanent)
                .backoff(Backoff::fixed(Duration::from_secs(3600))),
        )
        .start_ok()
        .await;
    let server = Health::new(&h)
        .backoff_threshold(Duration::ZERO)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();

    assert_eq!(get(addr, "/livez").await, (200, "ok\n".into()));
    assert_eq!(get(addr, "/readyz").await, (200, "ready\n".into()));

    // The feed fails and backs off for an hour: not ready, and why.
    remote.exit("app/feed", How::Abnormal).await;
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("`app/feed` has been backing off"), "{body}");
    assert_eq!(get(addr, "/livez").await.0, 200, "still live");

    // Brought back by hand: ready again.
    h.terminate_child("feed").await.unwrap();
    h.restart_child("feed").await.unwrap();
    assert_eq!(get(addr, "/readyz").await, (200, "ready\n".into()));

    assert_eq!(get(addr, "/nope").await.0, 404);
    #[cfg(feature = "prometheus")]
    {
        let (status, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains(r#"supervisor_child_starts_total{path="app/feed"} 2"#),
            "{body}"
        );
    }

    h.shutdown().await.unwrap();
    // The endpoints stop with the supervisor.
    let refused = tokio::net::TcpStream::connect(addr).await;
    let served = match refused {
        Err(_) => false,
        Ok(stream) => {
            // Accepted by the OS backlog at most; nobody answers.
            let res =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await;
            match res {
                Ok((mut sender, conn)) => {
                    tokio::spawn(conn);
                    let req = Request::get("/livez")
                        .header("host", "x")
                        .body(Empty::new())
                        .unwrap();
                    sender.send_request(req).await.is_ok()
                }
                Err(_) => false,
            }
        }
    };
    assert!(!served, "no answer after the supervisor stopped");
    drop(server);
}

#[tokio::test]
async fn readiness_waits_for_ready_gated_children_and_the_threshold() {
    let remote = Remote::default();
    let h = Supervisor::dynamic("app").start_ok().await;
    let health = Health::new(&h).backoff_threshold(Duration::from_secs(3600));
    assert!(health.readiness().await.ready);
    assert!(health.is_live().await);
    // A ready-gated child that is not ready yet.
    remote.hang_next("app/slow-1");
    let h2 = h.clone();
    let spec = remote.gated("slow");
    tokio::spawn(async move { h2.start_child(spec).await });
    settle().await;
    let r = health.readiness().await;
    assert!(!r.ready);
    assert_eq!(r.reasons, ["`app/slow-1` is not ready yet"]);
    // Backing off, but under the threshold: ready.
    h.terminate_child("slow-1").await.unwrap();
    let p = h
        .start_child(
            remote
                .spec("w")
                .restart(Restart::Permanent)
                .backoff(Backoff::fixed(Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    remote.exit(&p, How::Abnormal).await;
    assert!(health.readiness().await.ready);
    h.shutdown().await.unwrap();
    assert!(!health.is_live().await);
    assert!(!health.readiness().await.ready);
}
