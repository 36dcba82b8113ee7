//! # media-ipfs
//!
//! IPFS for the media store, compatible with Helia and any IPFS client:
//!
//! - [`FileDag`]: the UnixFS DAG and CID that Helia's `@helia/unixfs` `addBytes` gives the
//!   same bytes with default options (CIDv1, raw leaves, 1 MiB chunks, balanced, 1024 links
//!   per node, canonical dag-pb). It is built from the chunk SHA-256 digests that ingest
//!   already computed, so no second hashing pass over the file is needed.
//! - [`BlockStore`]: each file's bytes once, as one `iroh-blobs` blob in an `FsStore`, plus a
//!   manifest from which the DAG is rebuilt on start; leaf `i` is bytes `[i MiB, (i+1) MiB)`.
//! - [`IpfsNode`]: the store, an iroh endpoint (offline by default: no relays, no discovery,
//!   peers reached through the direct addresses in tickets) and a Trustless Gateway
//!   ([`gateway`]); [`IpfsBackend`] is its [`media_core::Backend`].
//! - [`GatewayClient`]: reads a CID from any trustless gateway, checking every block against
//!   its CID.
//!
//! ```
//! use media_ipfs::FileDag;
//! let dag = FileDag::of_bytes(b"hello world\n");
//! assert_eq!(
//!     dag.root.to_string(),
//!     "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
//! );
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), media_ipfs::IpfsError> {
//! use media_ipfs::{IpfsConfig, IpfsNode};
//! let node = IpfsNode::start(IpfsConfig::new("./data/ipfs")).await?;
//! let file = node.store().add_path("photo.jpg".as_ref()).await?;
//! println!("{} via {:?}, ticket {}", file.dag.root, node.gateway_url(), node.ticket(&file));
//! let backend = node.backend("ipfs"); // a media_core::Backend for MediaStore
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod car;
mod client;
mod config;
mod error;
pub mod gateway;
mod node;
mod store;
pub mod unixfs;

pub use client::GatewayClient;
pub use config::{IpfsConfig, IpfsProvider, IpfsSection};
pub use error::IpfsError;
pub use gateway::Gateway;
pub use node::{IpfsBackend, IpfsNode};
pub use store::{BlockStore, StoredFile};
pub use unixfs::{decode_file_node, parse_cid, verify_block, DagNode, FileDag, FileNode, PbLink};

pub use cid::Cid;
pub use iroh_blobs::ticket::BlobTicket;
