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
    /// The task's result, once it was seen to end while reading events.
    done: Option<Result<MediaFile>>,
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
            done: None,
            ended: false,
        }
    }

    /// This upload's operation id.
    pub fn operation(&self) -> OperationId {
        self.op
    }

    /// The next event of this upload; `None` after its last event. Events missed because the
    /// caller read too slowly are skipped; once the upload has ended, the events still
    /// buffered are returned and then `None`, even if the final one was missed.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        use broadcast::error::{RecvError, TryRecvError};
        if self.ended {
            return None;
        }
        loop {
            let received = if self.done.is_some() {
                match self.events.try_recv() {
                    Ok(event) => Ok(event),
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(_) => {
                        self.ended = true;
                        return None;
                    }
                }
            } else {
                tokio::select! {
                    biased;
                    received = self.events.recv() => received,
                    joined = &mut self.task => {
                        self.done = Some(joined_result(joined));
                        continue;
                    }
                }
            };
            match received {
                Ok(event) if event.operation() == Some(self.op) => {
                    if event.is_terminal() {
                        self.ended = true;
                    }
                    return Some(event);
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Wait for the upload to finish.
    pub async fn finish(self) -> Result<MediaFile> {
        match self.done {
            Some(result) => result,
            None => joined_result(self.task.await),
        }
    }
}

fn joined_result(
    joined: std::result::Result<Result<MediaFile>, tokio::task::JoinError>,
) -> Result<MediaFile> {
    joined.unwrap_or_else(|e| {
        Err(MediaError::internal(
            Operation::Upload,
            format!("upload task failed: {e}"),
        ))
    })
}

impl IntoFuture for UploadHandle {
    type Output = Result<MediaFile>;
    type IntoFuture = BoxFuture<'static, Result<MediaFile>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missed_final_event_does_not_hang_the_reader() {
        let (tx, rx) = broadcast::channel(2);
        let op = OperationId(7);
        let task = tokio::spawn(async { Err(MediaError::internal(Operation::Upload, "x")) });
        // Flood the channel so the receiver lags past every event of its operation.
        for _ in 0..10 {
            let _ = tx.send(MediaEvent::Expired {
                id: media_core::MediaId::for_bytes(b"x"),
            });
        }
        let mut handle = UploadHandle::new(op, rx, task);
        let next =
            tokio::time::timeout(std::time::Duration::from_secs(5), handle.next_event()).await;
        assert!(matches!(next, Ok(None)), "{next:?}");
        assert!(handle.finish().await.is_err());
        drop(tx);
    }
}
