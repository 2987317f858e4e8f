#![no_main]
//! `service_kit::jwt::fuzzing::verify`: the access-token verifier fed any token.

libfuzzer_sys::fuzz_target!(|data: &[u8]| service_kit::jwt::fuzzing::verify(data));
