#![no_main]
//! JPEG (the scaled decoder and jpeg-decoder), PNG (row-scaled), GIF and WebP decoding for a
//! 64-pixel thumbnail, with no panic guard: a decoder panic is a crash.
libfuzzer_sys::fuzz_target!(|data: &[u8]| media_thumb::fuzz_thumbnail(data));
