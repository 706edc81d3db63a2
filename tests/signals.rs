//! A real process and a real signal: the `daemon` example runs as a child
//! process, gets SIGTERM, stops its tree in order and exits 0; with a child
//! that keeps failing, it exits 1.
//!
//! The example binary is the one `cargo test` builds beside this test
//! (`target/<profile>/examples/daemon`); the test builds it if it is
//! missing. Nothing here waits for time to pass: it reads the output until
//! the line it needs. A watchdog thread only turns a hang into a failure.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .status()
            .unwrap();
        assert!(status.success());
    }
    path
}

/// Reads `child`'s stdout line by line on a thread.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line containing `pat`, and every line read until it.
fn until(rx: &mpsc::Receiver<String>, pat: &str, seen: &mut Vec<String>) {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no line with {pat:?}; got:\n{}", seen.join("\n")));
        let found = line.contains(pat);
        seen.push(line);
        if found {
            return;
        }
    }
}

#[test]
fn sigterm_stops_the_tree_in_order_and_exits_zero() {
    let mut child = Command::new(example("daemon"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let mut seen = vec![];
    until(&rx, "supervisor started supervisor=daemon", &mut seen);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    until(&rx, "stopped cleanly", &mut seen);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", seen.join("\n"));

    // A pattern ending in NUL must end the line.
    let pos = |pat: &str| {
        seen.iter()
            .position(|l| match pat.strip_suffix('\u{0}') {
                Some(end) => l.ends_with(end),
                None => l.contains(pat),
            })
            .unwrap_or_else(|| panic!("no {pat:?} in:\n{}", seen.join("\n")))
    };
    assert!(pos(r#"signal="SIGTERM""#) < pos(r#"path="daemon/api""#));
    // Reverse start order, deepest first: api, then store's cache and db,
    // then store itself, then the root.
    let order = [
        r#"child exited path="daemon/api""#,
        r#"child exited path="daemon/store/cache""#,
        r#"child exited path="daemon/store/db""#,
        r#"child exited path="daemon/store" reason"#,
        "supervisor stopped supervisor=daemon\u{0}",
    ]
    .map(pos);
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "{order:?}\n{}",
        seen.join("\n")
    );
}

#[test]
fn a_failed_tree_exits_non_zero() {
    let out = Command::new(example("daemon"))
        .arg("--fail")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fatal: supervisor `daemon` exceeded its restart intensity"),
        "{stderr}"
    );
    assert!(stderr.contains("`daemon/migrator`"), "{stderr}");
}
