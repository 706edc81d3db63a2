//! Tracing: each run inside a `child{path, attempt}` span, tasks' wall and
//! CPU time recorded on it, lifecycle logs at sensible levels with the path.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tokio_supervisor::{Backoff, Restart, Supervisor};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type FieldList = Vec<(String, String)>;

/// A captured event: level, message, fields, names of the enclosing spans.
type CapturedEvent = (Level, String, FieldList, Vec<String>);

#[derive(Debug, Clone)]
struct Captured {
    /// (span name, span fields, in order of recording)
    spans: Vec<(String, FieldList)>,
    events: Vec<CapturedEvent>,
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Captured>>);

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

/// The index of a span in `Captured::spans`, kept in its extensions.
struct SpanIndex(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut f = Fields(vec![]);
        attrs.record(&mut f);
        let mut c = self.0.lock().unwrap();
        c.spans.push((attrs.metadata().name().to_owned(), f.0));
        let index = c.spans.len() - 1;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let mut f = Fields(vec![]);
        values.record(&mut f);
        if let Some(span) = ctx.span(id) {
            if let Some(SpanIndex(i)) = span.extensions().get::<SpanIndex>() {
                self.0.lock().unwrap().spans[*i].1.extend(f.0);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut f = Fields(vec![]);
        event.record(&mut f);
        let message =
            f.0.iter()
                .find(|(k, _)| k == "message")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
        let scope = ctx
            .event_scope(event)
            .map(|s| s.map(|span| span.name().to_owned()).collect())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .events
            .push((*event.metadata().level(), message, f.0, scope));
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let cap = Capture(Arc::new(Mutex::new(Captured {
        spans: vec![],
        events: vec![],
    })));
    let subscriber = tracing_subscriber::registry().with(cap.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (cap, guard)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(start_paused = true)]
async fn each_run_is_inside_a_child_span_with_path_and_attempt() {
    let (cap, _guard) = capture();
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::ErrAfter(ms(10)), Act::Serve])
                .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    tokio::time::sleep(ms(50)).await; // the first run fails at 10 ms
    h.shutdown().await.unwrap();
    let c = cap.0.lock().unwrap().clone();
    let child_spans: Vec<_> = c.spans.iter().filter(|(n, _)| n == "child").collect();
    assert_eq!(child_spans.len(), 2, "one span per run");
    assert_eq!(field(&child_spans[0].1, "path"), Some("app/w"));
    assert_eq!(field(&child_spans[0].1, "attempt"), Some("1"));
    assert_eq!(field(&child_spans[1].1, "attempt"), Some("2"));
}

#[tokio::test(start_paused = true)]
async fn lifecycle_logs_have_sensible_levels_and_the_path() {
    let (cap, _guard) = capture();
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .intensity(2, secs(60))
        .child(scripted("ok", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("flaky", &log, &alive, vec![Act::ErrAfter(ms(10))])
                .backoff(Backoff::none())
                .restart_limit(1, secs(60)),
        )
        .child(
            scripted("bad", &log, &alive, vec![Act::ErrAfter(ms(500))])
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    let _ = h.wait().await; // bad exceeds the intensity at 1.5 s
    let c = cap.0.lock().unwrap().clone();
    let find = |level: Level, msg: &str, path: &str| {
        c.events.iter().any(|(l, m, f, _)| {
            *l == level
                && m == msg
                && (field(f, "path") == Some(path) || field(f, "supervisor") == Some(path))
        })
    };
    assert!(find(Level::INFO, "child started", "app/ok"));
    assert!(
        find(Level::WARN, "child failed", "app/flaky"),
        "a failure is a warning"
    );
    assert!(find(Level::ERROR, "giving up on child", "app/flaky"));
    assert!(find(Level::ERROR, "restart intensity exceeded", "app"));
    assert!(
        find(Level::INFO, "child exited", "app/ok"),
        "a stop is info"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn tasks_record_wall_and_cpu_time_on_their_span() {
    let (cap, _guard) = capture();
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let t = h.spawn_task("sleepy", async {
        tokio::time::sleep(secs(3)).await;
    });
    t.join().await.unwrap();
    let b = h.spawn_blocking("busy", || {
        std::hint::black_box((0..100_000u64).sum::<u64>())
    });
    b.join().await.unwrap();
    let c = cap.0.lock().unwrap().clone();
    let span = |path: &str| {
        c.spans
            .iter()
            .find(|(n, f)| n == "child" && field(f, "path") == Some(path))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(field(&span("jobs/sleepy"), "wall_time"), Some("3s"));
    let busy = span("jobs/busy");
    assert!(field(&busy, "wall_time").is_some(), "{busy:?}");
    assert!(field(&busy, "cpu_time").is_some(), "{busy:?}");
    // The task's own "finished" line is inside its span.
    assert!(c.events.iter().any(
        |(_, m, _, scope)| m == "blocking task finished" && scope.iter().any(|s| s == "child")
    ));
}

#[tokio::test(start_paused = true)]
async fn the_tree_prints_like_pstree() {
    let log = Log::default();
    let alive = Alive::default();
    let pipeline = Supervisor::builder("pipeline")
        .child(
            scripted(
                "enricher",
                &log,
                &alive,
                vec![Act::PanicAfter(ms(500)), Act::Serve],
            )
            .backoff(Backoff::none()),
        )
        .child(
            scripted("feed", &log, &alive, vec![Act::ErrAfter(ms(200))])
                .backoff(Backoff::fixed(secs(60))),
        )
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .child(scripted("writer", &log, &alive, vec![Act::Serve]))
        .child(pipeline)
        .child(
            scripted("venue", &log, &alive, vec![Act::ErrAfter(ms(100))])
                .backoff(Backoff::none())
                .restart_limit(2, secs(30)),
        )
        .start_ok()
        .await;
    tokio::time::sleep(secs(12)).await;
    let tree = h.tree().await;
    assert_eq!(
        tree.to_string(),
        "app\n\
         ├── writer    running     restarts 0  up 12.0s\n\
         ├── pipeline  running     restarts 0  up 12.0s\n\
         │   ├── enricher  running      restarts 1  up 11.5s  last error: panicked: boom\n\
         │   └── feed      backing_off  restarts 0  next in 48.2s  last error: fail\n\
         └── venue     terminated  restarts 2  circuit open: more than 2 restarts within 30s  last error: fail\n"
    );
    assert_eq!(
        tree.iter().map(|c| c.path.to_string()).collect::<Vec<_>>(),
        [
            "app/writer",
            "app/pipeline",
            "app/pipeline/enricher",
            "app/pipeline/feed",
            "app/venue"
        ]
    );
    let nested = h.which_children_of("pipeline").await.unwrap();
    assert_eq!(nested.len(), 2);
    assert!(h.which_children_of("writer").await.is_err());
    h.shutdown().await.unwrap();
}
