//! The benchmark programs `cargo xtask bench` builds in release mode and times side by side
//! with an established tool on the same input. Each is a binary in `src/bin/` that prints one
//! JSON line of figures; xtask turns them into ratios (see BENCHMARKS.md).

pub mod throttle;
