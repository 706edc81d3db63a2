//! The Prometheus collector: the text exposition, parsed back, matches the
//! metrics snapshot.
#![cfg(feature = "prometheus")]

mod support;

use std::collections::BTreeMap;

use prometheus_client::registry::Registry;
use support::*;

/// `name{labels}` → value, from the text exposition format.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series value");
            (series.to_owned(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_exposition_matches_the_snapshot() {
    let log = Log::default();
    let alive = Alive::default();
    let h = every_metric_moves(&log, &alive).await;

    let mut registry = Registry::default();
    registry.register_collector(Box::new(h.prometheus_collector()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let series = parse(&text);
    let m = h.metrics();

    assert_eq!(series["supervisor_children_active"], m.active as f64);
    assert_eq!(
        m.active, 1,
        "steady runs; flaky gave up; inner is backing off"
    );
    for c in &m.children {
        let p = &c.path;
        assert_eq!(
            series[&format!("supervisor_child_starts_total{{path=\"{p}\"}}")],
            c.counts.starts as f64,
            "{p}"
        );
        assert_eq!(
            series[&format!("supervisor_child_restarts_total{{path=\"{p}\"}}")],
            c.counts.restarts as f64,
            "{p}"
        );
        for (reason, n) in &c.counts.exits {
            assert_eq!(
                series
                    [&format!("supervisor_child_exits_total{{path=\"{p}\",reason=\"{reason}\"}}")],
                *n as f64
            );
        }
        assert_eq!(
            series[&format!("supervisor_circuit_open_total{{path=\"{p}\"}}")],
            c.counts.circuit_open as f64
        );
    }
    assert_eq!(
        series[r#"supervisor_child_exits_total{path="app/flaky",reason="panicked"}"#],
        3.0
    );
    assert_eq!(
        series[r#"supervisor_circuit_open_total{path="app/flaky"}"#],
        1.0
    );
    assert_eq!(
        series[r#"supervisor_intensity_exceeded_total{supervisor="app/inner"}"#],
        1.0
    );
    // The uptime histogram: every ended run, summed.
    let ended: u64 = m.total.exits.values().sum();
    assert_eq!(
        series["supervisor_child_uptime_seconds_count"],
        ended as f64
    );
    assert_eq!(
        series["supervisor_child_uptime_seconds_sum"],
        m.uptime_total.as_secs_f64()
    );
    assert_eq!(
        series[r#"supervisor_child_uptime_seconds_bucket{le="+Inf"}"#],
        ended as f64
    );
    assert_eq!(
        series[r#"supervisor_child_uptime_seconds_bucket{le="0.1"}"#], ended as f64,
        "every run so far lasted at most 100 ms"
    );
    h.shutdown().await.unwrap();
}
