//! What a command asks for, parsed once and used the same way locally and over the API
//! (as the API's [`ReadQuery`]).

use media_core::{ByteRange, MediaError};
use media_facade::api::ReadQuery;
use media_facade::ReadOptions;

/// A download's options as the command line and the API's query string carry them.
#[derive(Debug, Clone, Default, clap::Args)]
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
    /// The same request as the API's query string carries it.
    pub fn query(&self) -> ReadQuery {
        ReadQuery::new(self.policy.clone(), self.range.clone(), self.hedge_after_ms)
    }

    /// The range asked for, half-open.
    pub fn byte_range(&self) -> Result<ByteRange, MediaError> {
        self.query().byte_range()
    }

    /// Read options for the store.
    pub fn options(&self) -> Result<ReadOptions, MediaError> {
        self.query().options()
    }
}
