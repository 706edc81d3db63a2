//! The `metrics` facade: the same figures, emitted as events happen, read
//! back with `metrics-util`'s debugging recorder.
#![cfg(feature = "metrics")]

mod support;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use support::*;

#[tokio::test(start_paused = true)]
async fn the_facade_sees_the_same_figures_as_the_snapshot() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let log = Log::default();
    let alive = Alive::default();
    let h = every_metric_moves(&log, &alive).await;
    let m = h.metrics();

    let seen = snapshotter.snapshot().into_vec();
    let counter = |name: &str, labels: &[(&str, &str)]| -> u64 {
        seen.iter()
            .filter(|(k, _, _, _)| k.kind() == MetricKind::Counter && k.key().name() == name)
            .filter(|(k, _, _, _)| {
                labels
                    .iter()
                    .all(|(lk, lv)| k.key().labels().any(|l| l.key() == *lk && l.value() == *lv))
            })
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    for c in &m.children {
        let p = c.path.as_ref();
        assert_eq!(
            counter("supervisor_child_starts_total", &[("path", p)]),
            c.counts.starts,
            "{p}"
        );
        assert_eq!(
            counter("supervisor_child_restarts_total", &[("path", p)]),
            c.counts.restarts,
            "{p}"
        );
        for (reason, n) in &c.counts.exits {
            assert_eq!(
                counter(
                    "supervisor_child_exits_total",
                    &[("path", p), ("reason", reason)]
                ),
                *n,
                "{p} {reason}"
            );
        }
        assert_eq!(
            counter("supervisor_circuit_open_total", &[("path", p)]),
            c.counts.circuit_open
        );
    }
    assert_eq!(
        counter("supervisor_circuit_open_total", &[("path", "app/flaky")]),
        1
    );
    assert_eq!(
        counter(
            "supervisor_intensity_exceeded_total",
            &[("supervisor", "app/inner")]
        ),
        1
    );
    let gauge = seen
        .iter()
        .find(|(k, _, _, _)| k.key().name() == "supervisor_children_active")
        .map(|(_, _, _, v)| match v {
            DebugValue::Gauge(g) => g.into_inner(),
            _ => f64::NAN,
        });
    assert_eq!(gauge, Some(m.active as f64));
    let uptimes = seen
        .iter()
        .find(|(k, _, _, _)| k.key().name() == "supervisor_child_uptime_seconds")
        .map(|(_, _, _, v)| match v {
            DebugValue::Histogram(h) => h.len(),
            _ => 0,
        });
    assert_eq!(uptimes, Some(m.total.exits.values().sum::<u64>() as usize));
    h.shutdown().await.unwrap();
}
