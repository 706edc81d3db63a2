//! Under `RUSTFLAGS="--cfg tokio_unstable"`, every child's task is named by
//! its path, which tokio-console shows. `.ci/run` runs this file so:
//! `RUSTFLAGS="--cfg tokio_unstable" cargo test --test console_names`.
#![cfg(tokio_unstable)]

use std::sync::{Arc, Mutex};

use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Collects the `task.name` of every task tokio spawns.
#[derive(Clone, Default)]
struct TaskNames(Arc<Mutex<Vec<String>>>);

struct NameVisitor<'a>(&'a mut Option<String>);

impl Visit for NameVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "task.name" {
            *self.0 = Some(format!("{value:?}"));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "task.name" {
            *self.0 = Some(value.to_owned());
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for TaskNames {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "runtime.spawn" {
            let mut name = None;
            attrs.record(&mut NameVisitor(&mut name));
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                self.0.lock().unwrap().push(name);
            }
        }
    }
}

fn serve(name: &str) -> ChildSpec {
    ChildSpec::new(
        name,
        service_fn(|ctx| async move {
            ctx.cancelled().await;
            Ok(())
        }),
    )
}

#[test]
fn each_childs_task_is_named_by_its_path() {
    let names = TaskNames::default();
    let subscriber = tracing_subscriber::registry().with(names.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = Supervisor::builder("db")
            .child(serve("pool"))
            .build()
            .unwrap();
        let h = Supervisor::builder("app")
            .child(db)
            .child(serve("feed"))
            .build()
            .unwrap()
            .start()
            .await
            .unwrap();
        h.shutdown().await.unwrap();
    });
    let names = names.0.lock().unwrap().clone();
    for path in ["app/db", "app/db/pool", "app/feed"] {
        assert!(names.iter().any(|n| n == path), "{path} not in {names:?}");
    }
}
