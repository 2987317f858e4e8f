//! Every fuzz target's entry over its seeds (`fuzz/corpus/<target>/`) and deterministic
//! mutations of them, on stable Rust: the entries stay compiled and true where no nightly
//! toolchain runs the fuzzer.

use std::path::PathBuf;

use super::*;

/// Mutations per seed.
const MUTATIONS: usize = 200;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| std::fs::read(f.expect("an entry").path()).expect("a seed"))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds.sort();
    seeds
}

/// A small deterministic generator (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// `seed` changed the ways libFuzzer changes inputs: a byte, a cut, an insertion, a copy.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if at < v.len() => v[at] = rng.below(256) as u8,
            1 => v.truncate(at),
            2 => {
                let tokens: [&[u8]; 8] = [
                    b"\"",
                    b"{",
                    b"}",
                    b"[",
                    b"\\",
                    b":",
                    CANARY.as_bytes(),
                    b"\xff",
                ];
                let t = tokens[rng.below(tokens.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 => {
                let from = rng.below(v.len());
                let part = v[from..(from + rng.below(16)).min(v.len())].to_vec();
                v.splice(at..at, part);
            }
            _ => v.insert(at.min(v.len()), b" \n\t0-9"[rng.below(6)]),
        }
    }
    v
}

fn holds(target: &str, entry: fn(&[u8])) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for seed in seeds(target) {
        entry(&seed);
        for _ in 0..MUTATIONS {
            entry(&mutate(&mut rng, &seed));
        }
    }
}

#[test]
fn the_luzmo_target_holds_on_its_corpus() {
    holds("luzmo", luzmo);
}

#[test]
fn the_swift_target_holds_on_its_corpus() {
    holds("swift", swift);
}

#[test]
fn the_ioto_target_holds_on_its_corpus() {
    holds("ioto", ioto);
}

#[test]
fn the_sumvin_target_holds_on_its_corpus() {
    holds("sumvin", sumvin);
}

#[test]
fn the_lightdash_target_holds_on_its_corpus() {
    holds("lightdash", lightdash);
}

/// The check itself: a value quoted back fails it, a key named back does not.
#[test]
fn a_refusal_may_name_a_key_but_never_quote_a_value() {
    let status = StatusCode::BAD_REQUEST;
    let key = format!(r#"{{"{CANARY}" : 1}}"#);
    check_message(
        status,
        &format!("{CANARY} is not a known field"),
        key.as_bytes(),
    );
    let value = format!(r#"{{"name": "{CANARY}"}}"#);
    let quoted = std::panic::catch_unwind(|| {
        check_message(status, &format!("bad name {CANARY}"), value.as_bytes())
    });
    assert!(quoted.is_err());
    let escaped = format!(r#"{{"name": "a\"{CANARY}\": ", "b{CANARY}": 1}}"#);
    let b = format!("b{CANARY}");
    assert_eq!(keys(&escaped), ["name", "name", &b, &b]);
    let broken = format!(r#"{{"x": [{{"k{CANARY}": 1}}, "{CANARY}v"], "y"#);
    let k = format!("k{CANARY}");
    assert_eq!(keys(&broken)[2..], [&k, &k, "y", "y"]);
    let server_error = std::panic::catch_unwind(|| {
        check_message(StatusCode::INTERNAL_SERVER_ERROR, "oops", b"{}")
    });
    assert!(server_error.is_err());
}
