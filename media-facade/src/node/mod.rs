//! How a node is assembled: its configuration file ([`config`]), the stores each cargo
//! feature contributes ([`providers`]), the embedded stack that starts them
//! ([`embedded`]), and the frontends that serve the store to others (`blossom`, and [`api`]:
//! the node's HTTP API and web page).

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "blossom")]
pub(crate) mod blossom;
pub(crate) mod config;
pub(crate) mod embedded;
pub(crate) mod providers;
