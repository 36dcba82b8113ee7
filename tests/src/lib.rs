//! Workspace-level end-to-end tests. The test files live in `tests/`; helper binaries (such as
//! the catalog writer that crash tests kill) live in `src/bin/`.
