//! [`WatchedDenylist`]: a [`Denylist`] behind a file, read again when the file changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing::{info, warn};

use crate::denylist::{Denylist, DenylistError};

/// The list in a file. [`WatchedDenylist::current`] looks at the file's modification time and
/// length (one `stat`) and parses it again when either changed; a file that no longer parses
/// or has gone keeps the last good list in force (and says so in the log): an edit that
/// truncates before writing, or a list moved away by mistake, never opens the doors.
#[derive(Debug)]
pub struct WatchedDenylist {
    path: PathBuf,
    name: String,
    distance: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    seen: Option<(SystemTime, u64)>,
    list: Arc<Denylist>,
    generation: u64,
}

/// Largest denylist file read (a million entries take about 70 MB of text).
pub const MAX_LIST_BYTES: u64 = 256 << 20;

impl WatchedDenylist {
    /// Read the list at `path`, matching PDQ entries within `distance`. Fails when the file
    /// cannot be read or parsed: a node does not start with a list it cannot apply.
    pub fn open(path: impl Into<PathBuf>, distance: u32) -> Result<Self, DenylistError> {
        let path = path.into();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let (list, seen) = read(&path, &name, distance)?;
        Ok(WatchedDenylist {
            path,
            name,
            distance,
            state: Mutex::new(State {
                seen,
                list: Arc::new(list),
                generation: 0,
            }),
        })
    }

    /// The file behind the list.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The list as the file says now, and a number that grows each time it was read anew.
    pub fn current(&self) -> (Arc<Denylist>, u64) {
        let Ok(mut state) = self.state.lock() else {
            // A panic elsewhere while holding the lock: no list is safer than a stale one
            // only in the other direction, so keep refusing what was refused.
            return (Arc::new(Denylist::empty(self.name.clone())), 0);
        };
        let now = stamp(&self.path);
        if now != state.seen {
            match read(&self.path, &self.name, self.distance) {
                Ok((list, seen)) => {
                    let (sha, pdq) = list.len();
                    info!(list = %self.name, sha256 = sha, pdq, "denylist read again");
                    state.list = Arc::new(list);
                    state.seen = seen;
                    state.generation += 1;
                }
                Err(e) => {
                    warn!(error = %e, "the denylist changed but does not parse: the last good one stays in force");
                    state.seen = now;
                }
            }
        }
        (Arc::clone(&state.list), state.generation)
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read(
    path: &Path,
    name: &str,
    distance: u32,
) -> Result<(Denylist, Option<(SystemTime, u64)>), DenylistError> {
    let seen = stamp(path);
    let io = |source| DenylistError::Read {
        name: name.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    use std::io::Read;
    file.take(MAX_LIST_BYTES)
        .read_to_string(&mut text)
        .map_err(io)?;
    Ok((Denylist::parse(name, &text, distance)?, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deny.txt");
        std::fs::write(&path, "# empty\n").unwrap();
        let watched = WatchedDenylist::open(&path, 31).unwrap();
        assert!(watched.current().0.is_empty());
        std::fs::write(&path, format!("sha256:{}\n", "11".repeat(32))).unwrap();
        let (list, generation) = watched.current();
        assert_eq!(list.len(), (1, 0));
        assert_eq!(generation, 1);
        std::fs::write(&path, "garbage that is longer\n").unwrap();
        let (list, generation) = watched.current();
        assert_eq!(list.len(), (1, 0), "the last good list stays");
        assert_eq!(generation, 1);
        assert!(WatchedDenylist::open(dir.path().join("missing"), 31).is_err());
    }
}
