//! The stores this build can start: one line per cargo feature. Adding a store is a new
//! adapter crate with a [`StoreProvider`], a feature in this crate's `Cargo.toml`, and its
//! line here.

use std::sync::Arc;

use media_core::StoreProvider;

/// Every store provider compiled in, in start order (the CDN first: later stores use its
/// public URLs).
pub fn providers() -> Vec<Arc<dyn StoreProvider>> {
    vec![
        #[cfg(feature = "cdn")]
        Arc::new(media_cdn::CdnProvider),
        #[cfg(feature = "ipfs")]
        Arc::new(media_ipfs::IpfsProvider),
        #[cfg(feature = "torrent")]
        Arc::new(media_torrent::TorrentProvider),
        #[cfg(feature = "blossom")]
        Arc::new(media_blossom::BlossomProvider),
    ]
}
