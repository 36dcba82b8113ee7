//! The embedded default stack: with no configuration beyond a data directory, every store this
//! build has (an in-process S3 server as the CDN, an IPFS node with its Trustless Gateway, a
//! BitTorrent node), all on 127.0.0.1, plugged into one [`MediaStore`]. Each store is started
//! by its adapter's provider from its own configuration section ([`StackConfig`]); this file
//! knows none of them.

use std::path::Path;
use std::sync::Arc;

use media_core::{Backend, MediaError, Operation, Result, Service, StartContext};

use crate::node::config::StackConfig;
use crate::node::providers::providers;
use crate::{MediaStore, MediaStoreBuilder};

/// An exclusive lock on `<data_dir>/lock`, released when the file is dropped (or the process
/// dies).
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    let path = data_dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            MediaError::io(Operation::Configure, "opening the data directory's lock", e)
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(MediaError::new(
            media_core::ErrorKind::Unavailable,
            Operation::Configure,
            format!(
                "another process uses the data directory {} (is `media serve` running?)",
                data_dir.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(MediaError::io(
            Operation::Configure,
            "locking the data directory",
            e,
        )),
    }
}

/// Remove from this node's own stores what no record names: what a crash between a store's
/// put and the catalog write left behind. Failures are logged; start-up goes on.
async fn reconcile(store: &MediaStore, services: &[Arc<dyn Service>]) {
    // Page through the catalog: only the locations are kept, never every record at once.
    let mut named = std::collections::HashSet::<(String, String)>::new();
    let mut after = None;
    loop {
        let page = match store.list_page(after.as_ref(), crate::MAX_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the catalog to reconcile the stores");
                return;
            }
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        named.extend(
            page.iter()
                .flat_map(|f| f.locations.iter())
                .map(|l| (l.kind.to_string(), l.address().to_owned())),
        );
    }
    for held in services.iter().flat_map(|s| s.held()) {
        if named.contains(&(held.kind.to_string(), held.address().to_owned())) {
            continue;
        }
        let Some(backend) = store.backends().iter().find(|b| b.kind() == held.kind) else {
            continue;
        };
        match backend.delete(&held).await {
            Ok(()) => {
                tracing::warn!(location = %held, "removed data no record names (left by a crash)")
            }
            Err(e) => {
                tracing::warn!(location = %held, error = %e, "could not remove data no record names")
            }
        }
    }
}

/// The running services of the embedded stack and the [`MediaStore`] over them.
#[derive(Debug)]
pub struct EmbeddedStack {
    /// The media store over every running store.
    pub store: MediaStore,
    services: Vec<Arc<dyn Service>>,
    config: StackConfig,
    /// Held while the stack runs: one process per data directory.
    _lock: std::fs::File,
}

/// `result`, after stopping `services` if it is an error: a stack that fails to start leaves
/// nothing running.
async fn or_stop<T>(result: Result<T>, services: &[Arc<dyn Service>]) -> Result<T> {
    if result.is_err() {
        for s in services {
            s.shutdown().await;
        }
    }
    result
}

impl EmbeddedStack {
    /// Start every configured store and the media store, with default policies.
    pub async fn start(config: StackConfig) -> Result<Self> {
        Self::start_with(config, |b| b).await
    }

    /// Like [`EmbeddedStack::start`], letting `customize` adjust the store's builder
    /// (policies, thumbnails, expiry sweep...).
    pub async fn start_with(
        config: StackConfig,
        customize: impl FnOnce(MediaStoreBuilder) -> MediaStoreBuilder,
    ) -> Result<Self> {
        media_core::create_private_dir(&config.data_dir)
            .map_err(|e| MediaError::io(Operation::Configure, "creating the data directory", e))?;
        // Before anything is touched: a second process on the same data directory would
        // clear the first one's staged uploads and fight over its ports.
        let lock = lock_data_dir(&config.data_dir)?;
        let ctx = StartContext::new(&config.data_dir, config.p2p_timeout)
            .with_reach(config.reach.clone())
            .with_cors_origins(config.cors_origins.clone())
            .with_sharing(config.p2p == crate::P2pMode::On);
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        let mut services: Vec<Arc<dyn Service>> = Vec::new();
        let mut shared_catalog = None;
        for provider in providers() {
            if config.p2p == crate::P2pMode::Off && provider.peer_to_peer() {
                // No consent: the store is not started, so no peer ever connects.
                continue;
            }
            let section = config.section(provider.section()).cloned();
            let started = or_stop(provider.start(section, &ctx).await, &services).await?;
            let Some(started) = started else { continue };
            backends.extend(started.backends);
            services.extend(started.services);
            shared_catalog = shared_catalog.or(started.shared_catalog);
        }
        if backends.is_empty() {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                "the stack has no store: enable at least one (cargo features cdn, ipfs, torrent; `enabled = true` in its section)",
            ));
        }
        let mut builder = MediaStore::builder(&config.data_dir)
            .attempt_timeout(config.attempt_timeout)
            .cache_size(config.cache_bytes)
            .metadata_policy(config.metadata_policy)
            .faststart(config.faststart)
            .resumable_limits(config.resumable.clone())
            .p2p(config.p2p);
        for b in backends {
            builder = builder.backend(b);
        }
        for (store, policy) in &config.store_metadata {
            builder = builder.store_metadata_policy(store.clone(), *policy);
        }
        if let Some(catalog) = shared_catalog {
            builder = builder.shared_catalog(catalog);
        }
        if let Some((path, distance)) = &config.denylist {
            builder = builder.denylist(path.clone(), *distance);
        }
        if let Some(policy) = &config.download_policy {
            builder = builder.download_policy_arc(Arc::clone(policy));
        }
        let store = or_stop(customize(builder).build().await, &services).await?;
        reconcile(&store, &services).await;
        // The frontends serve the store to others, from their sections, after the stores:
        // Blossom, then the API and page (which link to everything started before them).
        #[cfg(feature = "blossom")]
        {
            let section = config.section("blossom").cloned();
            let server = crate::node::blossom::start_server(&store, section, &ctx).await;
            services.extend(or_stop(server, &services).await?);
        }
        #[cfg(feature = "api")]
        {
            let endpoints = services.iter().flat_map(|s| s.endpoints()).collect();
            let section = config.section("api").cloned();
            let server = crate::node::api::start_frontend(&store, section, endpoints).await;
            services.extend(or_stop(server, &services).await?);
        }
        Ok(EmbeddedStack {
            store,
            services,
            config,
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The running service of type `T`, e.g. `stack.service::<media_ipfs::IpfsNode>()`.
    pub fn service<T: 'static>(&self) -> Option<&T> {
        self.services
            .iter()
            .find_map(|s| s.as_any().downcast_ref::<T>())
    }

    /// What the services serve, as `(name, url)`: `s3 http://…`, `gateway http://…`, ….
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.services.iter().flat_map(|s| s.endpoints()).collect()
    }

    /// The URL of the service named `name` (`"blossom"`, `"gateway"`, `"s3"`), if it runs.
    pub fn endpoint(&self, name: &str) -> Option<String> {
        self.endpoints()
            .into_iter()
            .find_map(|(n, url)| (n == name).then_some(url))
    }

    /// Stop every service.
    pub async fn shutdown(self) {
        for s in self.services.iter().rev() {
            // Every wait has a deadline: a store that does not stop (a P2P session waiting on
            // a peer) must not hold up a command whose work is done.
            if tokio::time::timeout(SHUTDOWN_DEADLINE, s.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(service = ?s, "did not stop within {SHUTDOWN_DEADLINE:?}; left behind");
            }
        }
    }
}

/// How long each service may take to stop.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
