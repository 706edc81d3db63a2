//! systemd notifications (feature `systemd`), sent by the root supervisor's
//! loop when the process runs under systemd (`NOTIFY_SOCKET` is set;
//! otherwise nothing is sent):
//!
//! * `READY=1` once the root has started (every ready-gated child ready), for
//!   `Type=notify` units;
//! * `STATUS=…` on restarts and give-ups, shown by `systemctl status`;
//! * `WATCHDOG=1` every half `WATCHDOG_USEC`, from the root's own loop and
//!   only while the tree runs, for `WatchdogSec=`: a wedged supervisor stops
//!   pinging and systemd restarts the process;
//! * `STOPPING=1` when the shutdown begins.
//!
//! (The crate guide says what it sends, for users; `docs/deploy.md` has a
//! unit file.)

use std::time::Duration;

use sd_notify::NotifyState;

/// Whether to notify: under systemd only.
pub(crate) fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// The watchdog ping interval: half the watchdog timeout, if one is set.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    // Under a millisecond the pings would keep the loop busy: none.
    sd_notify::watchdog_enabled()
        .map(|t| t / 2)
        .filter(|t| *t >= Duration::from_millis(1))
}

fn send(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "systemd notification failed");
    }
}

pub(crate) fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("running")]);
}

pub(crate) fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

pub(crate) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

pub(crate) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}
