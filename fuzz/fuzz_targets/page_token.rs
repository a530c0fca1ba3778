#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity::parser_invariants::page_token(data));
