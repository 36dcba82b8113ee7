//! What an upload's metadata policy is. The strippers that carry it out live in
//! `media-format`, beside the parsers of the formats they clean.

/// What to do with metadata in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MetadataPolicy {
    /// Remove it losslessly (default).
    #[default]
    Strip,
    /// Refuse media that carries a location.
    Reject,
    /// Leave the metadata as it is (an explicit opt-out). Other rewrites (the faststart remux
    /// of videos) have their own switch.
    Keep,
}

/// A policy name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metadata policy {0:?} (strip, reject or keep)")]
pub struct UnknownPolicy(pub String);

impl std::str::FromStr for MetadataPolicy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, UnknownPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "strip" => Ok(MetadataPolicy::Strip),
            "reject" => Ok(MetadataPolicy::Reject),
            "keep" => Ok(MetadataPolicy::Keep),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}
