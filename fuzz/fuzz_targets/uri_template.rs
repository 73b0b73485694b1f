#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gauth_fuzz::uri_template(data));
