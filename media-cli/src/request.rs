//! What a command asks for, parsed once and used the same way locally and over the API.

use std::time::Duration;

use media_core::{download_policy_named, ByteRange, MediaError, Operation, DEFAULT_HEDGE_AFTER};
use media_facade::{MediaStore, ReadOptions};
use serde::{Deserialize, Serialize};

/// A download's options as the command line and the API's query string carry them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args)]
pub struct GetRequest {
    /// Download policy (the stores tried, in what order, hedged or swarmed).
    #[arg(
        long,
        visible_alias = "prefer",
        value_parser = clap::builder::PossibleValuesParser::new(media_core::download_policy_names())
    )]
    pub policy: Option<String>,
    /// Only these bytes, inclusive: A-B.
    #[arg(long)]
    pub range: Option<String>,
    /// Delay before a hedged policy asks the next store.
    #[arg(long)]
    pub hedge_after_ms: Option<u64>,
}

impl GetRequest {
    /// The range asked for, half-open.
    pub fn byte_range(&self) -> Result<ByteRange, MediaError> {
        let Some(r) = &self.range else {
            return Ok(ByteRange::full());
        };
        let bad = || {
            MediaError::invalid_input(
                Operation::Download,
                format!("--range {r:?}: A-B, inclusive byte offsets with A <= B"),
            )
        };
        let (a, b) = r.split_once('-').ok_or_else(bad)?;
        let a: u64 = a.trim().parse().map_err(|_| bad())?;
        let b: u64 = b.trim().parse().map_err(|_| bad())?;
        if b < a || b == u64::MAX {
            return Err(bad());
        }
        Ok(ByteRange::new(a, b + 1))
    }

    /// Read options for the store.
    pub fn options(&self) -> Result<ReadOptions, MediaError> {
        let mut options = ReadOptions::new().range(self.byte_range()?);
        if let Some(name) = &self.policy {
            let after = self
                .hedge_after_ms
                .map_or(DEFAULT_HEDGE_AFTER, Duration::from_millis);
            let policy = download_policy_named(name, after).map_err(|e| {
                MediaError::invalid_input(Operation::Download, format!("--policy: {}", e.message))
            })?;
            options = options.policy_arc(policy);
        }
        Ok(options)
    }
}

/// Statistics and each store's health, as `media stat` prints them.
pub async fn stat_report(store: &MediaStore) -> serde_json::Value {
    let health: serde_json::Map<String, serde_json::Value> = store
        .health()
        .await
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => serde_json::Value::from("ok"),
                Err(e) => serde_json::Value::from(e.to_string()),
            };
            (name, v)
        })
        .collect();
    serde_json::json!({ "stats": store.stats(), "health": health })
}
