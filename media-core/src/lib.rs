//! # media-core
//!
//! Types and traits of a decentralized media store that keeps user photos and videos on
//! BitTorrent, IPFS and a CDN over S3 at once, and reads them back from whichever store
//! answers, verifying every byte.
//!
//! This crate has no network, database or codec dependency. It defines:
//!
//! - identity and verification: [`MediaId`] (hex SHA-256), [`Digests`] computed once at ingest
//!   (whole-file SHA-256 and BLAKE3, plus the SHA-256 of each 1 MiB chunk, which are also
//!   Helia's raw-leaf CIDs), [`digest_copy`] (one-pass staged copy hashing on several threads),
//!   [`ChunkVerifier`];
//! - the record: [`MediaFile`] with its [`Location`]s and [`Thumbnail`];
//! - the [`Backend`] trait with [`Capabilities`], [`StagedBlob`], [`ByteStream`], [`ByteRange`];
//! - one error type [`MediaError`] with an [`ErrorKind`] and retryability;
//! - [`MediaEvent`]s, [`UploadPolicy`] / [`DownloadPolicy`] with the shipped policies
//!   ([`PreferP2p`], [`PreferCdn`], [`Hedge`], [`Fastest`], [`UploadToAll`]), and the
//!   [`Catalog`] trait with a [`MemoryCatalog`].
//!
//! Features: `conformance` (the behaviour suite adapters run against their real store) and
//! `test-support` (in-memory, folder and fault-injecting backends for policy tests).
//!
//! ```
//! use media_core::{ChunkVerifier, Digests, MediaFile, Timestamp};
//!
//! let bytes = b"a photo".to_vec();
//! let digests = Digests::of_bytes(&bytes);
//! let record = MediaFile::new("photo.jpg", "image/jpeg", &digests, Timestamp::now());
//! assert!(record.is_consistent());
//!
//! // Bytes from any store are checked against the record before use.
//! let mut verifier = ChunkVerifier::new(&record.digests(), 0..1);
//! let chunks = verifier.push(&bytes).unwrap();
//! assert_eq!(&chunks[0].1[..], &bytes[..]);
//! assert!(ChunkVerifier::new(&record.digests(), 0..1).push(b"a phot0").is_err());
//! ```

#![warn(missing_docs)]

mod backend;
mod catalog;
mod digest;
mod durable;
mod error;
mod event;
mod id;
mod location;
mod media;
mod pdq;
mod policy;
mod range;
mod reach;
mod reference;
mod resumable;
mod sample;
mod service;
mod sha256_pair;
mod verify;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "stream")]
pub mod stream;
#[cfg(feature = "test-support")]
pub mod testing;

pub use backend::{Backend, ByteStream, Capabilities, Progress, StagedBlob};
pub use catalog::{Catalog, MemoryCatalog, Tombstone};
pub use digest::{digest_copy, ChunkLayout, Digester, Digests, CHUNK_SIZE};
pub use durable::{create_private_dir, write_durable, write_private};
pub use error::{ErrorKind, ErrorSummary, MediaError, Operation, Result};
pub use event::{MediaEvent, OperationId};
pub use id::{Digest32, MediaId};
pub use location::{BackendKind, InvalidKind, Location};
pub use media::{
    sniff_mime, DisplayRendition, MediaFile, Preview, Rendition, Thumbnail, Thumbnailer, Timestamp,
    VideoInfo,
};
pub use pdq::{InvalidPdq, Pdq, PdqHash};
pub use policy::{
    download_policy_named, download_policy_names, Candidate, DownloadPlan, DownloadPolicy, Fastest,
    Hedge, PreferCdn, PreferP2p, Swarm, SwarmMembers, SwarmPlan, ThroughputTable, UploadPlan,
    UploadPolicy, UploadToAll, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_HEDGE_AFTER, DOWNLOAD_POLICY_BASES,
};
pub use range::ByteRange;
pub use reach::{redact_url, Reach};
pub use reference::{chunk_root, MediaRef};
pub use resumable::{DigestCheckpoint, InvalidCheckpoint, ResumableDigester};
pub use sample::sample_bytes;
pub use service::{
    parse_section, PublicHttpStore, SectionProvider, Service, StartContext, StartedStore,
    StoreProvider, Transport,
};
pub use verify::ChunkVerifier;
