#![no_main]
//! See `media_format::fuzz::track` for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| media_format::fuzz::track(data));
