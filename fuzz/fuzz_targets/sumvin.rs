#![no_main]
//! `gateway::fuzzing::sumvin`: the face's parsers fed any bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway::fuzzing::sumvin(data));
