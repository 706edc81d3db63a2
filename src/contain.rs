//! Containing the panics of user values: an error whose `Display` panics,
//! a panic payload or an error whose `Drop` panics.
//!
//! A supervisor renders the errors its children return and drops them and
//! their panic payloads in its own task. A panic there would unwind the
//! supervisor's loop and lose the whole tree (and one during an unwind
//! aborts the process). So every user value the crate renders goes through
//! [`render_error`], and every one it keeps is held in a [`Contained`],
//! whose destructor catches a panic. The panic hook still reports such a
//! panic; the supervisor goes on.

use std::fmt;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The text recorded for an error whose `Display` (or `source`) panicked.
pub(crate) const DISPLAY_PANICKED: &str = "<error display panicked>";

/// A user value whose destructor may panic: dropped inside `catch_unwind`.
pub(crate) struct Contained<T>(Option<T>);

impl<T> Contained<T> {
    pub(crate) fn new(value: T) -> Self {
        Contained(Some(value))
    }
}

impl<T> Deref for Contained<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Invariant: `Some` from `new` until `drop` takes it.
        match &self.0 {
            Some(value) => value,
            None => unreachable!("a Contained value is only taken as it is dropped"),
        }
    }
}

impl<T> Drop for Contained<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            drop_contained(value);
        }
    }
}

impl<T: Clone> Clone for Contained<T> {
    fn clone(&self) -> Self {
        Contained(self.0.clone())
    }
}

impl<T> fmt::Debug for Contained<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A user's `Debug` may panic too: never called.
        f.write_str("Contained(..)")
    }
}

/// Drops `value`, catching a panic of its destructor.
pub(crate) fn drop_contained<T>(value: T) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Renders `err` and its chain of sources as `outer: inner: root` into
/// `out` (cleared first); if rendering panics, `out` holds
/// [`DISPLAY_PANICKED`] instead.
pub(crate) fn render_error(err: &(dyn std::error::Error + 'static), out: &mut String) {
    let done = catch_unwind(AssertUnwindSafe(|| {
        crate::service::write_error_chain(err, out)
    }));
    if done.is_err() {
        out.clear();
        out.push_str(DISPLAY_PANICKED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Loud;

    impl fmt::Display for Loud {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("display");
        }
    }

    impl std::error::Error for Loud {}

    struct Bomb;

    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop");
        }
    }

    #[test]
    fn a_panicking_display_renders_as_a_marker() {
        let mut out = String::from("old");
        render_error(&Loud, &mut out);
        assert_eq!(out, DISPLAY_PANICKED);
    }

    #[test]
    fn a_panicking_drop_is_caught() {
        drop(Contained::new(Bomb));
        drop_contained(Bomb);
    }

    #[test]
    fn a_contained_value_derefs_and_clones() {
        let c = Contained::new(String::from("x"));
        assert_eq!(&**c, "x");
        assert_eq!(&**c.clone(), "x");
    }
}
