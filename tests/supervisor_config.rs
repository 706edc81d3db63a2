//! Bad configuration gives a typed error naming the path, never a panic.

use std::time::Duration;

use tokio_supervisor::{service_fn, Backoff, ChildSpec, ConfigError, Supervisor};

fn w(name: &str) -> ChildSpec {
    ChildSpec::new(
        name,
        service_fn(|ctx| async move {
            ctx.cancelled().await;
            Ok(())
        }),
    )
}

fn err(b: tokio_supervisor::supervisor::Builder) -> ConfigError {
    b.build().unwrap_err()
}

#[test]
fn names() {
    let e = err(Supervisor::builder("app").child(w("")));
    assert!(
        matches!(&e, ConfigError::InvalidName { path, .. } if path == "app/"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "invalid name \"\" at `app/`: names must not be empty"
    );

    let e = err(Supervisor::builder("app").child(w("a/b")));
    assert_eq!(
        e.to_string(),
        "invalid name \"a/b\" at `app/a/b`: names must not contain '/'"
    );

    let e = err(Supervisor::builder("").child(w("a")));
    assert!(matches!(e, ConfigError::InvalidName { .. }));
    let e = err(Supervisor::builder("x/y").child(w("a")));
    assert!(matches!(e, ConfigError::InvalidName { .. }));

    let e = err(Supervisor::builder("app")
        .child(w("a"))
        .child(w("b"))
        .child(w("a")));
    assert_eq!(
        e,
        ConfigError::DuplicateName {
            path: "app/a".into()
        }
    );
    assert!(e.to_string().contains("`app/a`"));
}

#[test]
fn zero_windows_are_refused() {
    let e = err(Supervisor::builder("app")
        .intensity(3, Duration::ZERO)
        .child(w("a")));
    assert_eq!(
        e,
        ConfigError::ZeroIntensityWindow {
            supervisor: "app".into()
        }
    );

    let e = err(Supervisor::builder("app").child(w("a").restart_limit(3, Duration::ZERO)));
    assert_eq!(
        e,
        ConfigError::ZeroRestartWindow {
            path: "app/a".into()
        }
    );

    // Zero counts are valid (OTP: intensity 0 means the first restart fails).
    assert!(Supervisor::builder("app")
        .intensity(0, Duration::from_secs(1))
        .child(w("a").restart_limit(0, Duration::from_secs(1)))
        .build()
        .is_ok());
}

#[test]
fn backoff_parameters() {
    let e = err(Supervisor::builder("app")
        .child(w("a").backoff(Backoff::fixed(Duration::from_secs(1)).jitter(2.0))));
    assert!(
        matches!(&e, ConfigError::InvalidBackoff { path, reason } if path == "app/a" && reason.contains("jitter")),
        "{e:?}"
    );

    let e = err(
        Supervisor::builder("app").child(w("a").backoff(Backoff::exponential(
            Duration::from_secs(10),
            Duration::from_secs(1),
        ))),
    );
    assert!(
        e.to_string().starts_with("child `app/a`: invalid backoff"),
        "{e}"
    );

    let e = err(Supervisor::builder("app").child(w("a").backoff(
        Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10)).multiplier(0.5),
    )));
    assert!(matches!(e, ConfigError::InvalidBackoff { .. }));
}

/// An empty static supervisor is valid (as OTP's): filled at run time with
/// `start_child` (it was refused before: a deliberate change).
#[test]
fn no_children_is_a_valid_static_supervisor() {
    assert!(Supervisor::builder("app").build().is_ok());
}

#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let sup = Supervisor::builder("app").child(w("a")).build().unwrap();
    let e = sup.spawn().unwrap_err();
    assert!(matches!(
        e,
        tokio_supervisor::SupervisorError::NoRuntime { .. }
    ));
    assert!(e.to_string().contains("`app`"));
}

/// Supervisor-wide defaults reach every child that does not set its own,
/// those added by `start_child` too, and not the children of a nested
/// supervisor.
#[tokio::test(start_paused = true)]
async fn child_defaults_apply_where_a_child_sets_nothing() {
    use tokio_supervisor::{Restart, Shutdown};
    let inner = Supervisor::builder("inner")
        .child(w("deep"))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .default_restart(Restart::Permanent)
        .default_shutdown(Shutdown::Brutal)
        .child(w("plain"))
        .child(w("own").restart(Restart::Temporary))
        .child(inner)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    h.start_child(w("added")).await.unwrap();
    let restart_of = |snaps: &[tokio_supervisor::ChildSnapshot], name: &str| {
        snaps.iter().find(|c| &*c.name == name).unwrap().restart
    };
    let top = h.which_children().await;
    assert_eq!(restart_of(&top, "plain"), Restart::Permanent);
    assert_eq!(restart_of(&top, "own"), Restart::Temporary);
    assert_eq!(restart_of(&top, "added"), Restart::Permanent);
    assert_eq!(
        restart_of(&top, "inner"),
        Restart::Permanent,
        "a supervisor's own"
    );
    let below = h.which_children_of("inner").await.unwrap();
    assert_eq!(
        restart_of(&below, "deep"),
        Restart::Transient,
        "not inherited"
    );
    h.shutdown().await.unwrap();
}
