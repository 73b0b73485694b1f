#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gauth_fuzz::batch_response(data));
