//! HTTP health endpoints for Kubernetes and load balancers (feature
//! `health`).
//!
//! | path | answers 200 when | else |
//! |---|---|---|
//! | `/livez` | the root supervisor's loop answers a query (within 1 s) | 503 |
//! | `/readyz` | the tree has started and is not stopping, no ready-gated child is waiting for its readiness, and no child has been backing off longer than the threshold (10 s by default) | 503, with the reasons |
//! | `/metrics` | (with feature `prometheus`) the Prometheus text exposition | |
//!
//! Liveness asks the event loop itself, so a wedged supervisor fails it and
//! Kubernetes restarts the pod; readiness follows the children, so a pod
//! whose feed is reconnecting leaves the load balancer until it is back.
//!
//! ```no_run
//! # use tokio_supervisor::{health::Health, Supervisor};
//! # async fn f(app: tokio_supervisor::SupervisorHandle) -> std::io::Result<()> {
//! let server = Health::new(&app)
//!     .backoff_threshold(std::time::Duration::from_secs(30))
//!     .serve("0.0.0.0:8080")
//!     .await?;
//! println!("health on http://{}", server.local_addr());
//! # Ok(())
//! # }
//! ```
//!
//! The server runs on its own task until the supervisor stops or the
//! [`HealthServer`] is dropped.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::{JoinHandle, JoinSet};

use crate::lifecycle::Phase;
use crate::SupervisorHandle;

/// Configures and starts the health endpoints of a supervision tree; see the
/// [module docs](self).
#[derive(Debug, Clone)]
#[must_use = "a Health does nothing until `serve` is called"]
pub struct Health {
    handle: SupervisorHandle,
    backoff_threshold: Duration,
    live_timeout: Duration,
}

/// The answer of `/readyz`, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether the tree is ready.
    pub ready: bool,
    /// Why not, one line per reason, naming the child's path.
    pub reasons: Vec<String>,
}

impl Health {
    /// Health endpoints for the tree of `handle` (usually the root's).
    pub fn new(handle: &SupervisorHandle) -> Self {
        Health {
            handle: handle.clone(),
            backoff_threshold: Duration::from_secs(10),
            live_timeout: Duration::from_secs(1),
        }
    }

    /// How long a child may back off before the tree is not ready (10 s by
    /// default; zero: as soon as any child backs off; `Duration::MAX`:
    /// never for backing off).
    pub fn backoff_threshold(mut self, threshold: Duration) -> Self {
        self.backoff_threshold = threshold;
        self
    }

    /// Whether the supervisor's loop answers within the liveness timeout.
    pub async fn is_live(&self) -> bool {
        !self.handle.is_finished()
            && tokio::time::timeout(self.live_timeout, self.handle.count_children())
                .await
                .is_ok()
    }

    /// The readiness of the tree now.
    pub async fn readiness(&self) -> Readiness {
        let mut reasons = vec![];
        if !self.handle.is_running() {
            reasons.push(format!(
                "supervisor `{}` is not running",
                self.handle.name()
            ));
        }
        let tree = self.handle.tree().await;
        for c in tree.iter() {
            match c.phase {
                Phase::Starting | Phase::Restarting => {
                    reasons.push(format!("`{}` is not ready yet", c.path));
                }
                Phase::BackingOff if c.in_phase_for > self.backoff_threshold => {
                    reasons.push(format!(
                        "`{}` has been backing off for {:?}",
                        c.path, c.in_phase_for
                    ));
                }
                _ => {}
            }
        }
        Readiness {
            ready: reasons.is_empty(),
            reasons,
        }
    }

    /// Binds `addr` and serves the endpoints on a task of their own, until
    /// the supervisor stops or the returned [`HealthServer`] is dropped.
    ///
    /// # Errors
    ///
    /// The error of binding `addr`.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<HealthServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        #[cfg(feature = "prometheus")]
        let registry = {
            let mut r = prometheus_client::registry::Registry::default();
            r.register_collector(Box::new(self.handle.prometheus_collector()));
            std::sync::Arc::new(r)
        };
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = self.handle.wait() => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let health = self.clone();
                        #[cfg(feature = "prometheus")]
                        let registry = registry.clone();
                        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let health = health.clone();
                            #[cfg(feature = "prometheus")]
                            let registry = registry.clone();
                            async move {
                                Ok::<_, Infallible>(
                                    health
                                        .answer(
                                            req.uri().path(),
                                            #[cfg(feature = "prometheus")]
                                            &registry,
                                        )
                                        .await,
                                )
                            }
                        });
                        connections.spawn(async move {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(HealthServer { local_addr, task })
    }

    async fn answer(
        &self,
        path: &str,
        #[cfg(feature = "prometheus")] registry: &prometheus_client::registry::Registry,
    ) -> Response<Full<Bytes>> {
        let (status, body) = match path {
            "/livez" => {
                if self.is_live().await {
                    (StatusCode::OK, "ok\n".to_owned())
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not live\n".to_owned())
                }
            }
            "/readyz" => {
                let r = self.readiness().await;
                if r.ready {
                    (StatusCode::OK, "ready\n".to_owned())
                } else {
                    let mut body = String::from("not ready\n");
                    for reason in r.reasons {
                        body.push_str(&reason);
                        body.push('\n');
                    }
                    (StatusCode::SERVICE_UNAVAILABLE, body)
                }
            }
            #[cfg(feature = "prometheus")]
            "/metrics" => {
                let mut text = String::new();
                match prometheus_client::encoding::text::encode(&mut text, registry) {
                    Ok(()) => (StatusCode::OK, text),
                    Err(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "encoding failed\n".to_owned(),
                    ),
                }
            }
            _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    }
}

/// The running health endpoints; dropping it stops them.
#[derive(Debug)]
pub struct HealthServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HealthServer {
    /// The address the endpoints listen on (useful after binding port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
