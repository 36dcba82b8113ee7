//! How a node is assembled: its configuration file ([`config`]), the stores each cargo
//! feature contributes ([`providers`]), the embedded stack that starts them
//! ([`embedded`]), and the frontends that serve the store to others ([`blossom`]).

#[cfg(feature = "blossom")]
pub(crate) mod blossom;
pub(crate) mod config;
pub(crate) mod embedded;
pub(crate) mod providers;
