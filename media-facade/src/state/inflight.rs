//! Joining concurrent operations on the same id into one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt, Shared};
use media_core::{MediaError, MediaId, Operation, Result};
use tokio::sync::Mutex;

type SharedResult<T> = Shared<BoxFuture<'static, Result<T>>>;

/// Operations in flight by id. The first caller for an id runs the operation in its own task;
/// later callers await the same result.
pub(crate) struct InFlight<T: Clone + Send + Sync + 'static> {
    map: Arc<Mutex<HashMap<MediaId, SharedResult<T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for InFlight<T> {
    fn default() -> Self {
        InFlight {
            map: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// How a caller got its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The result already existed (`existing` returned it).
    Existing,
    /// Another caller's operation was running and this caller awaited it.
    InFlight,
    /// This caller ran the operation.
    Led,
}

impl<T: Clone + Send + Sync + 'static> InFlight<T> {
    /// Join the operation on `id` if one runs; else return what `existing` finds; else start
    /// `start` in a new task. The check and the start happen under one lock, so an operation
    /// that finishes in between is never run twice: it leaves the map only after its result is
    /// visible to `existing`.
    pub async fn run<E, S>(&self, id: MediaId, existing: E, start: S) -> (Result<T>, Joined)
    where
        E: Future<Output = Result<Option<T>>>,
        S: Future<Output = Result<T>> + Send + 'static,
    {
        let (shared, joined) = {
            let mut map = self.map.lock().await;
            if let Some(shared) = map.get(&id) {
                (shared.clone(), Joined::InFlight)
            } else {
                match existing.await {
                    Err(e) => return (Err(e), Joined::Existing),
                    Ok(Some(found)) => return (Ok(found), Joined::Existing),
                    Ok(None) => {}
                }
                let map_ref = Arc::clone(&self.map);
                let task = tokio::spawn(async move {
                    let result = start.await;
                    map_ref.lock().await.remove(&id);
                    result
                });
                let shared = async move {
                    task.await.unwrap_or_else(|e| {
                        Err(MediaError::internal(
                            Operation::Upload,
                            format!("operation task failed: {e}"),
                        ))
                    })
                }
                .boxed()
                .shared();
                map.insert(id, shared.clone());
                (shared, Joined::Led)
            }
        };
        (shared.await, joined)
    }
}
