//! Export to Prometheus, with the `prometheus-client` crate (feature
//! `prometheus`).
//!
//! [`SupervisorHandle::prometheus_collector`](crate::SupervisorHandle::prometheus_collector)
//! gives a collector to register in your own `Registry`; it reads the tree's
//! counters at each scrape (no lock a child could meet, nothing done between
//! scrapes). It exposes:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `supervisor_children_active` | gauge | |
//! | `supervisor_child_starts_total` | counter | `path` |
//! | `supervisor_child_restarts_total` | counter | `path` |
//! | `supervisor_child_exits_total` | counter | `path`, `reason` |
//! | `supervisor_circuit_open_total` | counter | `path` |
//! | `supervisor_intensity_exceeded_total` | counter | `supervisor` |
//! | `supervisor_child_uptime_seconds` | histogram (of ended runs) | |
//! | `supervisor_mailbox_queued` | gauge | `path` |
//! | `supervisor_mailbox_capacity` | gauge | `path` |
//! | `supervisor_mailbox_dropped_total` | counter | `path` |
//! | `supervisor_mailbox_refused_total` | counter | `path` |
//!
//! The `supervisor_mailbox_*` series exist for the children with a
//! [mailbox](crate::mailbox).
//!
//! Per-path series exist for the children currently in the tree; a removed
//! child's series go with it (the label set stays bounded), the totals of
//! `MetricsSnapshot` keep counting.
//!
//! ```
//! # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use prometheus_client::registry::Registry;
//!
//! let app = Supervisor::builder("app")
//!     .child(ChildSpec::new("w", service_fn(|ctx| async move {
//!         ctx.cancelled().await;
//!         Ok(())
//!     })))
//!     .build()?
//!     .start()
//!     .await?;
//! let mut registry = Registry::default();
//! registry.register_collector(Box::new(app.prometheus_collector()));
//!
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry)?;
//! assert!(text.contains(r#"supervisor_child_starts_total{path="app/w"} 1"#));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::metrics::{MetricsSnapshot, Registry};

/// A `prometheus-client` collector of a supervision tree's metrics; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct PrometheusCollector {
    registry: Arc<Registry>,
}

impl PrometheusCollector {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        PrometheusCollector { registry }
    }
}

fn counter_per_path(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    s: &MetricsSnapshot,
    value: impl Fn(&crate::metrics::Counts) -> u64,
) -> Result<(), fmt::Error> {
    let mut e = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for c in &s.children {
        let labels = [("path", c.path.to_string())];
        e.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value(&c.counts), None)?;
    }
    Ok(())
}

/// The mailbox series, for the children that have one.
fn mailboxes(encoder: &mut DescriptorEncoder<'_>, s: &MetricsSnapshot) -> Result<(), fmt::Error> {
    let with_mailbox = || {
        s.children
            .iter()
            .filter_map(|c| Some((c.path.to_string(), c.mailbox?)))
    };
    type Value = fn(&crate::MailboxStats) -> u64;
    let gauges: [(&str, &str, Value); 2] = [
        (
            "supervisor_mailbox_queued",
            "Messages queued in the child's mailbox",
            |m| m.queued as u64,
        ),
        (
            "supervisor_mailbox_capacity",
            "Capacity of the child's mailbox",
            |m| m.capacity as u64,
        ),
    ];
    for (name, help, value) in gauges {
        let mut e = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (path, m) in with_mailbox() {
            e.encode_family(&[("path", path)])?
                .encode_gauge(&(value(&m) as i64))?;
        }
    }
    let counters: [(&str, &str, Value); 2] = [
        (
            "supervisor_mailbox_dropped",
            "Messages dropped unreceived from the child's mailbox as it terminated or was removed",
            |m| m.dropped,
        ),
        (
            "supervisor_mailbox_refused",
            "Sends refused by the child's mailbox (full, closed, or timed out)",
            |m| m.refused,
        ),
    ];
    for (name, help, value) in counters {
        let mut e = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (path, m) in with_mailbox() {
            e.encode_family(&[("path", path)])?
                .encode_counter::<NoLabelSet, _, u64>(&value(&m), None)?;
        }
    }
    Ok(())
}

impl Collector for PrometheusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let s = self.registry.snapshot();
        encoder
            .encode_descriptor(
                "supervisor_children_active",
                "Children with a live task",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&s.active)?;
        counter_per_path(
            &mut encoder,
            "supervisor_child_starts",
            "Tasks spawned for the child (first starts and restarts)",
            &s,
            |c| c.starts,
        )?;
        counter_per_path(
            &mut encoder,
            "supervisor_child_restarts",
            "Automatic restarts of the child",
            &s,
            |c| c.restarts,
        )?;
        {
            let mut e = encoder.encode_descriptor(
                "supervisor_child_exits",
                "Ended runs of the child, by exit reason",
                None,
                MetricType::Counter,
            )?;
            for c in &s.children {
                for (reason, n) in &c.counts.exits {
                    let labels = [("path", c.path.to_string()), ("reason", reason.clone())];
                    e.encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(n, None)?;
                }
            }
        }
        counter_per_path(
            &mut encoder,
            "supervisor_circuit_open",
            "Times the child's circuit breaker opened",
            &s,
            |c| c.circuit_open,
        )?;
        {
            let mut e = encoder.encode_descriptor(
                "supervisor_intensity_exceeded",
                "Times the supervisor exceeded its restart intensity",
                None,
                MetricType::Counter,
            )?;
            for sup in &s.supervisors {
                let labels = [("supervisor", sup.path.to_string())];
                e.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&sup.intensity_exceeded, None)?;
            }
        }
        mailboxes(&mut encoder, &s)?;
        // Per-bucket counts: the encoder accumulates them itself.
        let count = s.uptime_buckets.iter().map(|(_, n)| n).sum();
        encoder
            .encode_descriptor(
                "supervisor_child_uptime_seconds",
                "How long runs lasted, for ended runs",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(
                s.uptime_total.as_secs_f64(),
                count,
                &s.uptime_buckets,
                None,
            )?;
        Ok(())
    }
}
