//! [`Restart`]: when a child is restarted. A leaf of its own, so that the
//! snapshot (`lifecycle`) can name a child's policy without importing the
//! specs, which import the mailboxes, which report in snapshot terms.

use serde::{Deserialize, Serialize};

use crate::exit::ExitReason;

/// When a child is restarted after its run ends (OTP's `restart`).
///
/// | policy | `Ok(())` | `Err` / panic / abort | supervisor's stop |
/// |---|---|---|---|
/// | `Permanent` | restarted | restarted | not restarted |
/// | `Transient` (default) | stays terminated | restarted | not restarted |
/// | `Temporary` | removed | removed | removed |
///
/// Other crates call them "always", "on failure" and "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted, even after `Ok(())`: a service that must run for
    /// the life of its supervisor.
    Permanent,
    /// Restarted after an abnormal exit only; `Ok(())` means its job is done.
    #[default]
    Transient,
    /// Never restarted; its spec is removed from the supervisor when it ends,
    /// as in OTP.
    Temporary,
}

impl Restart {
    /// Whether a run that ended with `reason` calls for a restart (before
    /// backoff, restart limit and intensity have their say). Never after a
    /// [`Fatal`](crate::Fatal) error or a circuit-breaker trip, whatever the
    /// policy.
    #[must_use]
    pub fn should_restart(self, reason: &ExitReason) -> bool {
        if matches!(
            reason,
            ExitReason::CircuitOpen { .. } | ExitReason::Fatal(_)
        ) {
            return false;
        }
        match self {
            Restart::Permanent => true,
            Restart::Transient => reason.is_failure(),
            Restart::Temporary => false,
        }
    }
}
