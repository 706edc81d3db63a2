//! A service with a mailbox: [`MailboxService`], a closure as one
//! (`MailboxFn`), and the [`Service`] that lends the inbox to each run.

use std::future::Future;
use std::sync::Arc;

use super::shared::Shared;
use super::Inbox;
use crate::{BoxError, Context, Service};

/// A [`Service`] that receives the messages of its mailbox: its `run` gets
/// the run's [`Inbox`] beside its [`Context`]. Supervise it with
/// [`ChildSpec::with_mailbox`](crate::ChildSpec::with_mailbox).
///
/// Implement it with a native `async fn`, as [`Service`]:
///
/// ```
/// use tokio_supervisor::{BoxError, Context, Inbox, MailboxService};
///
/// struct Logger {
///     prefix: String,
/// }
///
/// impl MailboxService<String> for Logger {
///     async fn run(&self, _ctx: Context, mut inbox: Inbox<String>) -> Result<(), BoxError> {
///         while let Some(line) = inbox.recv().await {
///             println!("{}{line}", self.prefix);
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait MailboxService<T>: Send + Sync + 'static {
    /// Runs the service, as [`Service::run`], with this run's inbox.
    fn run(
        &self,
        ctx: Context,
        inbox: Inbox<T>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A [`MailboxService`] made from a closure of the run's [`Context`] and
/// [`Inbox`], called once per run
/// ([`ChildSpec::with_mailbox_fn`](crate::ChildSpec::with_mailbox_fn)).
pub(crate) struct MailboxFn<F> {
    pub(crate) f: F,
}

impl<T, F, Fut> MailboxService<T> for MailboxFn<F>
where
    F: Fn(Context, Inbox<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn run(
        &self,
        ctx: Context,
        inbox: Inbox<T>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.f)(ctx, inbox)
    }
}

/// The [`Service`] a mailbox child runs: takes the receiving end as a run
/// starts, and lends it to the user's service inside an [`Inbox`], which
/// gives it back as it is dropped.
pub(crate) struct WithMailbox<T, S> {
    pub(crate) shared: Arc<Shared<T>>,
    pub(crate) service: S,
}

impl<T, S> Service for WithMailbox<T, S>
where
    T: Send + 'static,
    S: MailboxService<T>,
{
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        let inbox = self
            .shared
            .take()
            .map(|rx| Inbox::new(rx, self.shared.clone(), ctx.clone()));
        async move {
            match inbox {
                Ok(inbox) => self.service.run(ctx, inbox).await,
                Err(e) => Err(e.into()),
            }
        }
    }
}
