//! Handles to running operations.

use std::future::IntoFuture;

use futures::future::BoxFuture;
use media_core::{MediaError, MediaEvent, MediaFile, Operation, OperationId, Result};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A running upload: await it for the [`MediaFile`], or read its events first.
///
/// The upload runs in its own task; dropping the handle does not cancel it.
#[derive(Debug)]
pub struct UploadHandle {
    op: OperationId,
    events: broadcast::Receiver<MediaEvent>,
    task: JoinHandle<Result<MediaFile>>,
    ended: bool,
}

impl UploadHandle {
    pub(crate) fn new(
        op: OperationId,
        events: broadcast::Receiver<MediaEvent>,
        task: JoinHandle<Result<MediaFile>>,
    ) -> Self {
        UploadHandle {
            op,
            events,
            task,
            ended: false,
        }
    }

    /// This upload's operation id.
    pub fn operation(&self) -> OperationId {
        self.op
    }

    /// The next event of this upload; `None` after its last event. Events missed because the
    /// caller read too slowly are skipped.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        if self.ended {
            return None;
        }
        loop {
            match self.events.recv().await {
                Ok(event) if event.operation() == Some(self.op) => {
                    if event.is_terminal() {
                        self.ended = true;
                    }
                    return Some(event);
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Wait for the upload to finish.
    pub async fn finish(self) -> Result<MediaFile> {
        self.task.await.unwrap_or_else(|e| {
            Err(MediaError::internal(
                Operation::Upload,
                format!("upload task failed: {e}"),
            ))
        })
    }
}

impl IntoFuture for UploadHandle {
    type Output = Result<MediaFile>;
    type IntoFuture = BoxFuture<'static, Result<MediaFile>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.finish())
    }
}
