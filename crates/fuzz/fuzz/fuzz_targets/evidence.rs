#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lakh_fuzz::evidence(data));
