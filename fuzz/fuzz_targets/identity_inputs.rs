#![no_main]
//! `identity_svc::domain::fuzzing::inputs`: identity's parsers of untrusted text.

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_svc::domain::fuzzing::inputs(data));
