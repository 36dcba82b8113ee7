//! Takedown: media removed from every store this node wrote it to, a tombstone left in its
//! place (refusing the id and its picture's near copies), published to the nodes sharing the
//! catalog; and the watch that applies a changed denylist and others' tombstones here.

use std::sync::Weak;
use std::time::Duration;

use media_core::{MediaEvent, MediaId, PdqHash, Result, Tombstone};
use tracing::{info, warn};

use crate::state::Inner;
use crate::MediaStore;

/// How often the denylist file and the shared catalog's tombstones are looked at.
pub const SAFETY_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What a takedown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Takedown {
    /// The stores the media was removed from (by name), its derived renditions' included.
    pub removed_from: Vec<String>,
    /// Derived media (a HEIC's display rendition) taken down with it.
    pub derived: Vec<MediaId>,
    /// Whether the tombstone reached the shared catalog (false without one).
    pub published: bool,
}

impl MediaStore {
    /// Take `id` down: from every store this node put it on (its ownership index, never a
    /// record), with what it derived from it (renditions, thumbnails in the record), from the
    /// cache and the catalogs; leave a tombstone that refuses it (and its picture's near
    /// copies) at every way in, and publish the tombstone to the shared catalog so the nodes
    /// sharing it take their copies down too. Works for an id this node does not hold (the
    /// tombstone alone then keeps it out).
    pub async fn takedown(&self, id: &MediaId, reason: &str) -> Result<Takedown> {
        let record = self.inner.catalog.get(id).await?;
        let pdq = self.picture_of(id, record.as_ref());
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let reason = if reason.is_empty() {
            "takedown".to_owned()
        } else {
            reason
        };
        let tombstone = Tombstone::new(*id, reason.clone(), pdq);
        // What this node derived from it (its own index, read before the removal empties
        // it; the display rendition its own upload recorded): taken down with it.
        let mut derived = self.inner.ownership.get(id).derived;
        if let Some(display) = record.as_ref().and_then(|r| r.display.as_ref()) {
            if !derived.contains(&display.id) {
                derived.push(display.id);
            }
        }
        // The tombstone first: from now on nothing re-stores or serves it, whatever fails below.
        self.inner.safety.tombstones.add(&tombstone)?;
        let mut done = self.remove_taken_down(id).await?;
        for child in derived {
            let child_record = self.inner.catalog.get(&child).await?;
            let child_pdq = self.picture_of(&child, child_record.as_ref());
            let child_stone = Tombstone::new(child, reason.clone(), child_pdq);
            self.inner.safety.tombstones.add(&child_stone)?;
            let removed = self.remove_taken_down(&child).await?;
            done.removed_from.extend(removed.removed_from);
            done.derived.push(child);
            self.publish_tombstone(&child_stone).await;
        }
        done.published = self.publish_tombstone(&tombstone).await;
        info!(%id, reason = %tombstone.reason, stores = ?done.removed_from, "taken down");
        Ok(done)
    }

    /// The picture hash a tombstone of `id` keeps: from this node's own index (which has it
    /// for private media too), else the record's; none below the quality that means anything.
    fn picture_of(&self, id: &MediaId, record: Option<&media_core::MediaFile>) -> Option<PdqHash> {
        self.inner
            .ownership
            .get(id)
            .pdq
            .or_else(|| record.and_then(|r| r.pdq))
            .filter(|p| p.quality >= crate::safety::MIN_TOMBSTONE_QUALITY)
            .map(|p| p.hash)
    }

    /// Remove one id everywhere this node holds it; not finding it is fine. Every store
    /// refuses its bytes from now on, wherever else they are.
    async fn remove_taken_down(&self, id: &MediaId) -> Result<Takedown> {
        for backend in &self.inner.backends {
            backend.refuse(id);
        }
        let removed = self.remove_everywhere(id).await?;
        self.inner.emit(MediaEvent::Deleted {
            id: *id,
            backends: removed.clone(),
        });
        Ok(Takedown {
            removed_from: removed,
            ..Takedown::default()
        })
    }

    async fn publish_tombstone(&self, tombstone: &Tombstone) -> bool {
        let Some(shared) = &self.inner.shared_catalog else {
            return false;
        };
        if let Err(e) = shared.delete(&tombstone.id).await {
            warn!(id = %tombstone.id, error = %e, "could not remove the record from the shared catalog");
        }
        match shared.put_tombstone(tombstone).await {
            Ok(()) => true,
            Err(e) => {
                warn!(id = %tombstone.id, error = %e, "could not publish the tombstone");
                false
            }
        }
    }

    /// Every tombstone this node keeps.
    pub fn tombstones(&self) -> Vec<Tombstone> {
        self.inner.safety.tombstones.list()
    }

    /// Reports received for review, newest first.
    pub fn reports(&self) -> Vec<media_safety::Report> {
        self.inner.safety.reports.list()
    }

    /// Keep a report (already checked by whoever received it: signature, kind, blobs).
    /// Refused past the reporter's rate or the queue's bound.
    pub fn add_report(&self, report: &media_safety::Report) -> Result<()> {
        self.inner.safety.reports.add(report, None)
    }

    /// Drop a report the owner dealt with; returns whether it was there.
    pub fn dismiss_report(&self, id: &str) -> Result<bool> {
        self.inner.safety.reports.dismiss(id)
    }

    /// Apply the denylist as it is now and the shared catalog's tombstones: take down every
    /// catalogued media that matches, and every id another node took down. Returns the ids
    /// taken down. Runs every second in the background; callable directly.
    pub async fn apply_safety(&self) -> Result<Vec<MediaId>> {
        let mut taken = self.apply_shared_tombstones().await?;
        taken.extend(self.apply_denylist().await?);
        Ok(taken)
    }

    /// Take down here what a node sharing the catalog took down. Only the id comes from the
    /// other node: what is removed is what this node's own index says it put where.
    async fn apply_shared_tombstones(&self) -> Result<Vec<MediaId>> {
        let mut taken = Vec::new();
        let Some(shared) = &self.inner.shared_catalog else {
            return Ok(taken);
        };
        let stones = match shared.tombstone_ids().await {
            Ok(ids) => ids,
            Err(e) => {
                warn!(error = %e, "could not read the shared catalog's tombstones");
                return Ok(taken);
            }
        };
        for id in stones {
            if self.inner.safety.tombstones.contains(&id) {
                continue;
            }
            let reason = "taken down by a node sharing the catalog";
            // The picture's hash from this node's own knowledge, not from the stone.
            let record = self.inner.catalog.get(&id).await?;
            let pdq = self.picture_of(&id, record.as_ref());
            let derived = self.inner.ownership.get(&id).derived;
            self.inner
                .safety
                .tombstones
                .add(&Tombstone::new(id, reason, pdq))?;
            self.remove_taken_down(&id).await?;
            for child in derived {
                self.inner
                    .safety
                    .tombstones
                    .add(&Tombstone::new(child, reason, None))?;
                self.remove_taken_down(&child).await?;
            }
            taken.push(id);
        }
        Ok(taken)
    }

    /// Take down every catalogued media the denylist names (by id, by the upload it was
    /// remuxed from, or by its picture's PDQ hash).
    /// Also removes what a tombstone names but an upload finishing meanwhile put back.
    async fn apply_denylist(&self) -> Result<Vec<MediaId>> {
        let mut taken = Vec::new();
        let mut after = None;
        loop {
            let page = self.inner.catalog.list_after(after.as_ref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for file in page {
                let holding = self.inner.ownership.get(&file.id);
                if self
                    .inner
                    .safety
                    .listed_with(&file, Some(&holding))
                    .is_some()
                {
                    self.takedown(&file.id, "denylist").await?;
                    taken.push(file.id);
                }
            }
        }
        Ok(taken)
    }
}

/// Watch the denylist file (applied when it changes) and the shared catalog's tombstones.
pub(crate) fn spawn_safety_watch(inner: Weak<Inner>) {
    tokio::spawn(async move {
        // The catalog is swept at the first tick (a list or tombstones from before a restart)
        // and whenever the list was read anew.
        let mut applied_generation: Option<Option<u64>> = None;
        let mut tick = tokio::time::interval(SAFETY_WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { break };
            let store = MediaStore::from_inner(inner);
            let generation = store.inner.safety.denylist.as_ref().map(|w| w.current().1);
            let mut taken = store.apply_shared_tombstones().await;
            if applied_generation != Some(generation) {
                match store.apply_denylist().await {
                    Ok(ids) => {
                        applied_generation = Some(generation);
                        if let Ok(all) = &mut taken {
                            all.extend(ids);
                        }
                    }
                    Err(e) => taken = Err(e),
                }
            }
            match taken {
                Ok(ids) => {
                    for id in ids {
                        info!(%id, "taken down by the safety watch");
                    }
                }
                Err(e) => warn!(error = %e, "the safety watch could not apply the list"),
            }
        }
    });
}
