//! A printable view of a whole supervision tree:
//! [`SupervisorHandle::tree`](crate::SupervisorHandle::tree).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lifecycle::{ChildSnapshot, Phase};

/// A supervision tree as it was when asked: the root's name and every
/// child, nested supervisors' children included. Its `Display` draws it like
/// `pstree`: path segment, phase, restarts, uptime (or the next restart),
/// last error.
///
/// ```text
/// app
/// ├── writer    running     restarts 0  up 12.0s
/// ├── pipeline  running     restarts 0  up 12.0s
/// │   ├── enricher  running      restarts 1  up 11.5s  last error: panicked: malformed tick #19
/// │   └── feed      backing_off  restarts 2  next in 320ms  last error: connection reset
/// └── venue     terminated  restarts 2  circuit open: more than 2 restarts within 30s  last error: 503
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupervisionTree {
    /// The root supervisor's name.
    pub name: String,
    /// Its children, in start order.
    pub children: Vec<TreeNode>,
}

/// One child in a [`SupervisionTree`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TreeNode {
    /// The child's snapshot.
    pub child: ChildSnapshot,
    /// Its own children, if it is a running supervisor.
    pub children: Vec<TreeNode>,
}

impl SupervisionTree {
    /// Puts `nodes` at the position `at` (indices from the root).
    pub(crate) fn place(&mut self, at: &[usize], nodes: Vec<TreeNode>) {
        let mut level = &mut self.children;
        for &i in at {
            match level.get_mut(i) {
                Some(n) => level = &mut n.children,
                None => return,
            }
        }
        *level = nodes;
    }

    /// Every child of the tree, depth-first in start order.
    pub fn iter(&self) -> impl Iterator<Item = &ChildSnapshot> + '_ {
        let mut stack: Vec<&TreeNode> = self.children.iter().rev().collect();
        std::iter::from_fn(move || {
            let n = stack.pop()?;
            stack.extend(n.children.iter().rev());
            Some(&n.child)
        })
    }
}

impl fmt::Display for SupervisionTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        write_level(f, &self.children, "")
    }
}

fn write_level(f: &mut fmt::Formatter<'_>, nodes: &[TreeNode], prefix: &str) -> fmt::Result {
    let name_w = nodes.iter().map(|n| n.child.name.len()).max().unwrap_or(0);
    let phase_w = nodes
        .iter()
        .map(|n| phase_text(&n.child.phase).len())
        .max()
        .unwrap_or(0);
    for (i, n) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        let c = &n.child;
        write!(
            f,
            "{prefix}{}{:<name_w$}  {:<phase_w$}  restarts {}",
            if last { "└── " } else { "├── " },
            c.name,
            phase_text(&c.phase),
            c.restarts,
        )?;
        if let Some(m) = c.mailbox {
            write!(f, "  mailbox {}/{}", m.queued, m.capacity)?;
        }
        if let Some(up) = c.uptime {
            write!(f, "  up {}", short(up))?;
        } else if let Some(next) = c.next_restart_in {
            write!(f, "  next in {}", short(next))?;
        } else if let Phase::Terminated(reason) = &c.phase {
            write!(f, "  {reason}")?;
        }
        match (&c.last_error, &c.phase) {
            // Said already, as the reason.
            (Some(err), Phase::Terminated(reason)) if *err == reason.message() => {}
            (Some(err), _) => write!(f, "  last error: {err}")?,
            (None, _) => {}
        }
        writeln!(f)?;
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        write_level(f, &n.children, &deeper)?;
    }
    Ok(())
}

fn phase_text(p: &Phase) -> &'static str {
    p.as_str()
}

/// `1.2s`, `340ms`, `3m07s`, `2h05m`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_millis(340)), "340ms");
        assert_eq!(short(Duration::from_millis(1_250)), "1.2s");
        assert_eq!(short(Duration::from_secs(187)), "3m07s");
        assert_eq!(short(Duration::from_secs(7_500)), "2h05m");
    }
}
