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
fn windows_and_periods() {
    let e = err(Supervisor::builder("app")
        .intensity(3, Duration::ZERO)
        .child(w("a")));
    assert_eq!(
        e,
        ConfigError::ZeroPeriod {
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
