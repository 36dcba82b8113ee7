#![no_main]
//! See `media_format::fuzz::strip` for the property.
libfuzzer_sys::fuzz_target!(|data: &[u8]| media_format::fuzz::strip(data));
