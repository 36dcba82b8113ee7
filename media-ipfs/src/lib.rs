//! # media-ipfs
//!
//! IPFS for the media store, compatible with Helia:
//!
//! - [`FileDag`]: the UnixFS DAG and CID that Helia's `@helia/unixfs` `addBytes` gives the
//!   same bytes with default options (CIDv1, raw leaves, 1 MiB chunks, balanced, 1024 links
//!   per node, canonical dag-pb). It is built from the chunk SHA-256 digests that ingest
//!   already computed, so no second hashing pass over the file is needed.
//! - [`decode_file_node`] and [`verify_block`]: what a verifying reader needs to walk a DAG
//!   fetched from anyone and check every block against its CID.
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
//! **Status:** the importer and block verification are done and checked against Helia;
//! storage, iroh transport, the Trustless Gateway and the `Backend` arrive with the rest of
//! the IPFS issue.

#![warn(missing_docs)]

mod error;
pub mod unixfs;

pub use error::IpfsError;
pub use unixfs::{decode_file_node, parse_cid, verify_block, DagNode, FileDag, FileNode, PbLink};

pub use cid::Cid;
