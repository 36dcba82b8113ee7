//! [`Settings`]: the node-wide settings of one [`crate::MediaStore`], declared once. The
//! builder fills them, the store's state keeps them, every pipeline reads them from there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use media_core::{DownloadPolicy, PreferP2p, UploadPolicy, UploadToAll, DEFAULT_ATTEMPT_TIMEOUT};
use media_privacy::MetadataPolicy;

use crate::upload::PutLimits;
use crate::P2pMode;

/// Largest upload accepted unless [`crate::MediaStoreBuilder::max_size`] says otherwise: 4 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 4 << 30;

/// Every node-wide setting with its default (see the builder's method of the same name for
/// what each one does).
#[derive(Clone)]
pub(crate) struct Settings {
    pub upload_policy: Arc<dyn UploadPolicy>,
    pub download_policy: Arc<dyn DownloadPolicy>,
    pub attempt_timeout: Duration,
    pub put_limits: PutLimits,
    pub max_size: Option<u64>,
    pub metadata_policy: MetadataPolicy,
    /// Remux MP4/MOV uploads whose index comes last (default on).
    pub faststart: bool,
    /// The least each named store accepts (default: whatever the upload did).
    pub store_metadata: BTreeMap<String, MetadataPolicy>,
    pub p2p: P2pMode,
    pub event_capacity: usize,
    pub expiry_sweep: Option<Duration>,
    /// Bound of the verified chunk cache; `None` or 0: no cache.
    pub cache_bytes: Option<u64>,
    /// The denylist file and its PDQ match distance.
    pub denylist: Option<(std::path::PathBuf, u32)>,
    /// Bounds of resumable upload sessions.
    pub resumable: crate::upload::sessions::ResumableLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            upload_policy: Arc::new(UploadToAll::default()),
            download_policy: Arc::new(PreferP2p),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            put_limits: PutLimits::default(),
            max_size: Some(DEFAULT_MAX_UPLOAD),
            metadata_policy: MetadataPolicy::default(),
            faststart: true,
            store_metadata: BTreeMap::new(),
            p2p: P2pMode::default(),
            event_capacity: 1024,
            expiry_sweep: None,
            cache_bytes: None,
            denylist: None,
            resumable: Default::default(),
        }
    }
}
