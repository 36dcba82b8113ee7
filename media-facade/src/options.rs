//! [`ReadOptions`]: which bytes, which policy, which backends, how long to wait; and
//! [`P2pMode`], the node's consent to peer-to-peer.

use std::sync::Arc;
use std::time::Duration;

use media_core::{ByteRange, DownloadPolicy, MediaError, Operation};

/// How to read: which bytes, which policy, which backends, how long one store may stall.
///
/// ```
/// use std::time::Duration;
/// use media_core::{ByteRange, Hedge, PreferCdn};
/// let opts = media_facade::ReadOptions::new()
///     .range(ByteRange::new(0, 1024))
///     .policy(Hedge::new(PreferCdn, Duration::from_millis(200)))
///     .attempt_timeout(Duration::from_secs(5))
///     .only_backend("cdn");
/// # let _ = opts;
/// ```
#[derive(Clone)]
#[must_use]
pub struct ReadOptions {
    pub(crate) range: ByteRange,
    pub(crate) policy: Option<Arc<dyn DownloadPolicy>>,
    pub(crate) only: Option<String>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) ciphertext: bool,
    pub(crate) use_cache: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            range: ByteRange::default(),
            policy: None,
            only: None,
            attempt_timeout: None,
            ciphertext: false,
            use_cache: true,
        }
    }
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("range", &self.range)
            .field("policy", &self.policy)
            .field("only", &self.only)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("ciphertext", &self.ciphertext)
            .field("use_cache", &self.use_cache)
            .finish()
    }
}

impl ReadOptions {
    /// The whole file with the store's policy, timeout and every backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read only `range`.
    pub fn range(mut self, range: ByteRange) -> Self {
        self.range = range;
        self
    }

    /// Use `policy` instead of the store's download policy.
    pub fn policy(mut self, policy: impl DownloadPolicy + 'static) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Use a shared policy value instead of the store's download policy.
    pub fn policy_arc(mut self, policy: Arc<dyn DownloadPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Ask only the backend named `name` (and not the local cache).
    pub fn only_backend(mut self, name: impl Into<String>) -> Self {
        self.only = Some(name.into());
        self
    }

    /// Give up on one store after it sent nothing for `timeout` (default: the store's,
    /// [`media_core::DEFAULT_ATTEMPT_TIMEOUT`] unless the builder says otherwise).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Neither read from nor fill the local cache: every byte comes from the stores (to
    /// measure or check them).
    pub fn bypass_cache(mut self) -> Self {
        self.use_cache = false;
        self
    }

    /// Read an encrypted record's stored bytes (the age file) as they are: for serving or
    /// copying ciphertext. Without it, reading encrypted media is refused; read it with
    /// [`MediaStore::open_private`](crate::MediaStore::open_private).
    pub fn ciphertext(mut self) -> Self {
        self.ciphertext = true;
        self
    }
}

/// Consent to peer-to-peer: what the node lets peers learn and take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum P2pMode {
    /// No P2P store runs (embedded stack) or is used: no peer learns this node's address.
    Off,
    /// Media is read from peers, never stored on P2P stores (nothing is seeded by uploads).
    Download,
    /// Uploads are stored on P2P stores too (private media only when asked).
    #[default]
    On,
}

impl std::str::FromStr for P2pMode {
    type Err = MediaError;
    fn from_str(s: &str) -> media_core::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(P2pMode::Off),
            "download" => Ok(P2pMode::Download),
            "on" => Ok(P2pMode::On),
            other => Err(MediaError::invalid_input(
                Operation::Configure,
                format!("p2p {other:?}: off, download or on"),
            )),
        }
    }
}
