//! Where a stored blob lives on each kind of store.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of store a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// An S3 bucket behind a CDN.
    Cdn,
    /// IPFS (Helia-compatible CIDs, iroh transport, trustless gateway).
    Ipfs,
    /// BitTorrent (WebTorrent-compatible swarm).
    Torrent,
}

impl BackendKind {
    /// Peer-to-peer stores: IPFS and BitTorrent.
    pub fn is_p2p(self) -> bool {
        matches!(self, BackendKind::Ipfs | BackendKind::Torrent)
    }

    /// Short lowercase name: `cdn`, `ipfs`, `torrent`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Cdn => "cdn",
            BackendKind::Ipfs => "ipfs",
            BackendKind::Torrent => "torrent",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address of a blob on one kind of store. A node holding a [`crate::MediaFile`] can fetch
/// the blob through any backend of the location's kind, not only the one that stored it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Location {
    /// An object in an S3 bucket, readable at `url` (a CDN or presigned URL).
    Cdn {
        /// HTTP(S) URL of the object.
        url: String,
        /// Object key within the bucket.
        key: String,
    },
    /// An IPFS UnixFS file.
    Ipfs {
        /// CIDv1 string of the file's root.
        cid: String,
        /// An iroh blob ticket (node id, direct addresses and BLAKE3 hash) of a node holding
        /// the bytes, for direct node-to-node transfer; any trustless gateway serves the CID
        /// without it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
    },
    /// A torrent with a single file.
    Torrent {
        /// Magnet link.
        magnet: String,
        /// Hex info hash (v1, 40 characters).
        info_hash: String,
    },
}

impl Location {
    /// An IPFS location with only a CID.
    pub fn ipfs(cid: impl Into<String>) -> Self {
        Location::Ipfs {
            cid: cid.into(),
            ticket: None,
        }
    }

    /// The kind of store this location belongs to.
    pub fn kind(&self) -> BackendKind {
        match self {
            Location::Cdn { .. } => BackendKind::Cdn,
            Location::Ipfs { .. } => BackendKind::Ipfs,
            Location::Torrent { .. } => BackendKind::Torrent,
        }
    }

    /// The string that identifies the blob within its store: URL, CID or info hash.
    pub fn address(&self) -> &str {
        match self {
            Location::Cdn { url, .. } => url,
            Location::Ipfs { cid, .. } => cid,
            Location::Torrent { info_hash, .. } => info_hash,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Cdn { url, .. } => write!(f, "cdn:{url}"),
            Location::Ipfs { cid, .. } => write!(f, "ipfs:{cid}"),
            Location::Torrent { magnet, .. } => write!(f, "torrent:{magnet}"),
        }
    }
}
