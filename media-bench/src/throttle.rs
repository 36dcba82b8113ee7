//! A token-bucket bandwidth cap in front of any backend: a simulated WAN link for the swarm
//! benchmark. Every byte a `get` stream yields is paid for from one bucket per backend, shared
//! by all of its streams, so concurrent requests to one store share its link as they would on a
//! real one. The store behind reads at its own speed; the cap delays what it hands on (TCP's
//! window then backs the sender off, as on a slow link).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use media_core::{
    Backend, BackendKind, ByteRange, ByteStream, Capabilities, Location, Progress, Result,
    StagedBlob,
};

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Take `n` bytes' worth of tokens; how long to wait before the bytes may pass.
    fn take(&mut self, n: usize) -> Duration {
        let now = Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst) - n as f64;
        self.at = now;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// `inner` behind a link of `bytes_per_second`.
#[derive(Debug)]
pub struct Throttled {
    inner: Arc<dyn Backend>,
    bucket: Arc<Mutex<Bucket>>,
}

impl Throttled {
    /// Cap `inner`'s reads at `bytes_per_second` (bursts of up to 64 KiB).
    pub fn new(inner: Arc<dyn Backend>, bytes_per_second: f64) -> Self {
        let burst = 64.0 * 1024.0;
        Throttled {
            inner,
            bucket: Arc::new(Mutex::new(Bucket {
                rate: bytes_per_second.max(1.0),
                burst,
                tokens: burst,
                at: Instant::now(),
            })),
        }
    }
}

#[async_trait]
impl Backend for Throttled {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn refuse(&self, id: &media_core::MediaId) {
        self.inner.refuse(id);
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        self.inner.put(blob, progress).await
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let stream = self.inner.get(location, range).await?;
        let bucket = Arc::clone(&self.bucket);
        Ok(stream
            .then(move |piece| {
                let bucket = Arc::clone(&bucket);
                async move {
                    if let Ok(bytes) = &piece {
                        let wait = bucket
                            .lock()
                            .map(|mut b| b.take(bytes.len()))
                            .unwrap_or_default();
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    piece
                }
            })
            .boxed())
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        self.inner.delete(location).await
    }

    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }
}
