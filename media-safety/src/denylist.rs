//! [`Denylist`]: the parsed list.

use std::collections::HashSet;

use media_core::{Digest32, PdqHash};

use crate::index::PdqIndex;

/// The PDQ distance at or below which a picture matches an entry (Meta's recommended
/// threshold for PDQ is 31).
pub const DEFAULT_DISTANCE: u32 = 31;

/// A line of the list that is not an entry, a comment or the header.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DenylistError {
    /// The file could not be read.
    #[error("reading the denylist {name}: {source}")]
    Read {
        /// The list's file name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `sha256:<64 hex>`, `pdq:<64 hex>`, a comment or blank.
    #[error("denylist {name}, line {line}: {why}")]
    Line {
        /// The list's file name.
        name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it (never the line itself: it may be a list's secret).
        why: &'static str,
    },
}

/// What an entry matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Match {
    /// The bytes' SHA-256 is listed.
    Sha256,
    /// A listed PDQ hash is this many bits away.
    Pdq {
        /// Hamming distance to the nearest listed hash.
        distance: u32,
    },
}

/// A parsed denylist: exact SHA-256 entries and PDQ entries matched within a distance.
#[derive(Clone)]
pub struct Denylist {
    name: String,
    sha256: HashSet<[u8; 32]>,
    pdq: PdqIndex,
    distance: u32,
}

impl std::fmt::Debug for Denylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Entries are never printed: a list's hashes are what its sender shared in trust.
        f.debug_struct("Denylist")
            .field("name", &self.name)
            .field("sha256_entries", &self.sha256.len())
            .field("pdq_entries", &self.pdq.len())
            .field("distance", &self.distance)
            .finish()
    }
}

impl Denylist {
    /// An empty list called `name`.
    pub fn empty(name: impl Into<String>) -> Self {
        Denylist {
            name: name.into(),
            sha256: HashSet::new(),
            pdq: PdqIndex::new(Vec::new()),
            distance: DEFAULT_DISTANCE,
        }
    }

    /// Parse the text of a list called `name` (what errors and refusals call it), matching
    /// PDQ entries within `distance` bits.
    ///
    /// Lines: `sha256:<64 hex>`, `pdq:<64 hex>` (anything after the entry and a space is a
    /// hint and ignored, as in IPIP-383), `#` comments, blank lines. A first block ended by a
    /// line `---` is an IPIP-383 header and skipped.
    pub fn parse(name: &str, text: &str, distance: u32) -> Result<Self, DenylistError> {
        let mut sha256 = HashSet::new();
        let mut pdq = Vec::new();
        let lines: Vec<&str> = text.lines().collect();
        let body_starts = lines
            .iter()
            .position(|l| l.trim() == "---")
            .filter(|&at| {
                // Only a header: no entry above the `---`.
                lines[..at].iter().all(|l| !is_entry(l.trim()))
            })
            .map_or(0, |at| at + 1);
        for (n, raw) in lines.iter().enumerate().skip(body_starts) {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = line.split_whitespace().next().unwrap_or_default();
            let bad = |why| DenylistError::Line {
                name: name.to_owned(),
                line: n + 1,
                why,
            };
            let (kind, value) = entry
                .split_once(':')
                .ok_or_else(|| bad("expected sha256:<hex> or pdq:<hex>"))?;
            let mut bytes = [0u8; 32];
            if value.len() != 64 || hex_decode(value, &mut bytes).is_none() {
                return Err(bad("the hash is not 64 hex digits"));
            }
            match kind.to_ascii_lowercase().as_str() {
                "sha256" => {
                    sha256.insert(bytes);
                }
                "pdq" => pdq.push(PdqHash(bytes)),
                _ => return Err(bad("expected sha256:<hex> or pdq:<hex>")),
            }
        }
        Ok(Denylist {
            name: name.to_owned(),
            sha256,
            pdq: PdqIndex::new(pdq),
            distance,
        })
    }

    /// What refusals call the list (its file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many entries of each kind: (SHA-256, PDQ).
    pub fn len(&self) -> (usize, usize) {
        (self.sha256.len(), self.pdq.len())
    }

    /// Whether the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_empty() && self.pdq.is_empty()
    }

    /// Whether it has PDQ entries (then a picture that cannot be hashed is not cleared).
    pub fn has_pdq(&self) -> bool {
        !self.pdq.is_empty()
    }

    /// The PDQ match distance.
    pub fn distance(&self) -> u32 {
        self.distance
    }

    /// Whether this SHA-256 is listed.
    pub fn match_sha256(&self, digest: &Digest32) -> bool {
        self.sha256.contains(&digest.0)
    }

    /// The nearest listed PDQ hash within the distance.
    pub fn match_pdq(&self, hash: &PdqHash) -> Option<Match> {
        self.pdq
            .nearest(hash, self.distance)
            .map(|(_, distance)| Match::Pdq { distance })
    }
}

fn is_entry(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("sha256:") || lower.starts_with("pdq:")
}

fn hex_decode(s: &str, out: &mut [u8; 32]) -> Option<()> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_comments_and_hints_are_read_and_bad_lines_named_by_number() {
        let text = format!(
            "version: 1\nname: partner list\n---\n# a comment\n\nsha256:{} reason:ncii\nPDQ:{}\n",
            "0a".repeat(32),
            "f0".repeat(32)
        );
        let list = Denylist::parse("partner.txt", &text, 31).unwrap();
        assert_eq!(list.len(), (1, 1));
        assert!(list.match_sha256(&Digest32([0x0a; 32])));
        let hash: PdqHash = "f0".repeat(32).parse().unwrap();
        assert_eq!(list.match_pdq(&hash), Some(Match::Pdq { distance: 0 }));
        assert!(list.match_pdq(&PdqHash([0x0f; 32])).is_none());

        let err = Denylist::parse("x.txt", "sha256:abc\n", 31).unwrap_err();
        assert_eq!(
            err.to_string(),
            "denylist x.txt, line 1: the hash is not 64 hex digits"
        );
        let err =
            Denylist::parse("x.txt", &format!("# c\nmd5:{}\n", "00".repeat(32)), 31).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        // A `---` after an entry is not a header: it is a bad line.
        let text = format!("sha256:{}\n---\n", "00".repeat(32));
        assert!(Denylist::parse("x.txt", &text, 31).is_err());
        // Debug shows counts, never entries.
        let shown = format!("{list:?}");
        assert!(
            !shown.contains("0a0a") && !shown.contains("f0f0"),
            "{shown}"
        );
    }
}
