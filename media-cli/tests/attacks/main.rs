//! The attack suite: every finding of the security review (`shared/reviews/security-2026-12.md`)
//! run the way a stranger would, against a real `media serve` on 127.0.0.1 (and the library
//! where the door is the library). Each test states the finding it replays; each one failed
//! against the code before the fix (see SECURITY.md, which names the test behind each promise).
//!
//! New endpoints, upload paths and parsers enter with their attacks here.

#[path = "../common/mod.rs"]
mod common;
mod node;

mod active_content;
mod blossom;
mod bombs;
mod deletes;
mod edge;
mod heif;
mod local;
mod privacy;
mod reach;
mod release;
mod resumable;
mod safety;
mod uploads;
