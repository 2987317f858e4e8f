//! Random secrets and their digests.

use sha2::{Digest, Sha256};

/// Fills `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// When the operating system cannot provide randomness: nothing secure can continue then.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    buf
}

/// A new opaque token: `prefix` followed by `N` random bytes in lower-case hex.
pub fn random_token<const N: usize>(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(random_bytes::<N>()))
}

/// The SHA-256 digest of `value` in lower-case hex: how tokens are stored and looked up.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ, nor (because both
/// sides are hashed first) on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_prefix_and_the_entropy_asked_for() {
        let t = random_token::<16>("ldpat_");
        assert!(t.starts_with("ldpat_"));
        assert_eq!(t.len(), "ldpat_".len() + 32);
        assert_ne!(t, random_token::<16>("ldpat_"));
    }

    #[test]
    fn constant_time_eq_compares_values() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
