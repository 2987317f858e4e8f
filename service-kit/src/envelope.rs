//! Envelope encryption of secrets at rest (checklist CR-1 to CR-6, CR-8): connection secrets
//! (connections-svc) and access-token signing keys (identity-svc).
//!
//! Each secret gets its own random data key (DEK). The secret is sealed with the DEK, and the
//! DEK is sealed with a key-encryption key (KEK) from configuration, never stored in the
//! database. Both seals are XChaCha20-Poly1305 (192-bit random nonces: safe to draw at random
//! at any volume) with the same associated data ([`Aad`]), which binds the ciphertext to its
//! row (the caller says what: a connection's organization ‖ connection ‖ field, a signing key's
//! `kid`). A sealed value is text, `v{n}:` then base64 of
//! `dek_nonce ‖ wrapped_dek ‖ data_nonce ‖ ciphertext`; `n` is the KEK version.
//!
//! KEKs are versioned: new seals use the newest version, older versions still open, and
//! [`Keyring::rewrap`] moves a value to the newest KEK by re-sealing its DEK only: the secret
//! itself is never decrypted. Once every row is rewrapped, versions below
//! `min_decrypt_version` are retired and their values no longer open.

use std::{borrow::Cow, collections::BTreeMap};

use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD as B64};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Generate, Payload},
};
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};

const NONCE: usize = 24;
const KEY: usize = 32;
const TAG: usize = 16;

/// Why a value could not be sealed or opened. Never carries key or secret bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The value is not in the sealed format.
    #[error("malformed sealed value")]
    Malformed,
    /// The value names a KEK version this keyring does not hold, or a retired one.
    #[error("key version {0} is not available")]
    UnknownVersion(u32),
    /// The value was altered, or belongs to another row (its associated data differs).
    #[error("the sealed value does not open here")]
    Tampered,
    /// The keyring configuration is invalid.
    #[error("invalid keyring: {0}")]
    Config(String),
}

/// What a sealed value is bound to: its associated data, the same bytes to seal and to open.
pub trait Aad {
    /// The associated data.
    fn aad(&self) -> Cow<'_, [u8]>;
}

impl Aad for [u8] {
    fn aad(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> Aad for [u8; N] {
    fn aad(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl Aad for Vec<u8> {
    fn aad(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

/// The versioned KEKs.
pub struct Keyring {
    keys: BTreeMap<u32, SecretBox<[u8; KEY]>>,
    min_decrypt_version: u32,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("min_decrypt_version", &self.min_decrypt_version)
            .finish_non_exhaustive()
    }
}

fn cipher(key: &[u8; KEY]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key))
}

fn seal_with(key: &[u8; KEY], msg: &[u8], aad: &[u8]) -> (XNonce, Vec<u8>) {
    let nonce = XNonce::generate();
    let ct = cipher(key)
        .encrypt(&nonce, Payload { msg, aad })
        .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
    (nonce, ct)
}

fn open_with(
    key: &[u8; KEY],
    nonce: &[u8],
    ct: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let nonce = XNonce::try_from(nonce).map_err(|_| EnvelopeError::Malformed)?;
    cipher(key)
        .decrypt(&nonce, Payload { msg: ct, aad })
        .map_err(|_| EnvelopeError::Tampered)
}

impl Keyring {
    /// A keyring of `(version, key)` pairs; new seals use the highest version.
    pub fn new(
        keys: Vec<(u32, [u8; KEY])>,
        min_decrypt_version: u32,
    ) -> Result<Self, EnvelopeError> {
        if keys.is_empty() {
            return Err(EnvelopeError::Config("at least one key is required".into()));
        }
        let mut map = BTreeMap::new();
        for (v, k) in keys {
            // Callers store versions in 32-bit signed columns (`connection_secrets.key_version`).
            if v == 0 || v > i32::MAX as u32 || map.insert(v, SecretBox::new(Box::new(k))).is_some()
            {
                return Err(EnvelopeError::Config(format!(
                    "key versions must be distinct and positive (version {v})"
                )));
            }
        }
        let current = *map.keys().last().unwrap_or(&0);
        if min_decrypt_version > current {
            return Err(EnvelopeError::Config(
                "min_decrypt_version is above the newest key".into(),
            ));
        }
        Ok(Self {
            keys: map,
            min_decrypt_version,
        })
    }

    /// Parses `1:<base64 32 bytes>,2:<base64 32 bytes>` (the configuration's form). The error
    /// never repeats the value.
    pub fn parse(spec: &str, min_decrypt_version: u32) -> Result<Self, EnvelopeError> {
        let mut keys = Vec::new();
        for (i, part) in spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .enumerate()
        {
            let bad = || {
                EnvelopeError::Config(format!(
                    "entry {} is not <version>:<base64 of 32 bytes>",
                    i + 1
                ))
            };
            let (v, k) = part.split_once(':').ok_or_else(bad)?;
            let v: u32 = v.trim().parse().map_err(|_| bad())?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|_| bad())?;
            let key: [u8; KEY] = bytes.try_into().map_err(|_| bad())?;
            keys.push((v, key));
        }
        Self::new(keys, min_decrypt_version)
    }

    /// A configuration value (`<version>:<base64>`) holding one fresh random key.
    pub fn generate_spec(version: u32) -> String {
        let key: [u8; KEY] = Key::generate().into();
        format!(
            "{version}:{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    /// The version new seals use.
    pub fn current_version(&self) -> u32 {
        *self.keys.keys().last().unwrap_or(&0)
    }

    fn key(&self, version: u32) -> Result<&[u8; KEY], EnvelopeError> {
        if version < self.min_decrypt_version {
            return Err(EnvelopeError::UnknownVersion(version));
        }
        self.keys
            .get(&version)
            .map(|k| k.expose_secret())
            .ok_or(EnvelopeError::UnknownVersion(version))
    }

    /// Seals `secret` for `binding` under a fresh data key and the newest KEK.
    pub fn seal(&self, secret: &[u8], binding: &(impl Aad + ?Sized)) -> String {
        let aad = binding.aad();
        let dek: [u8; KEY] = Key::generate().into();
        let (data_nonce, ct) = seal_with(&dek, secret, &aad);
        let version = self.current_version();
        let kek = self.keys[&version].expose_secret();
        let (dek_nonce, wrapped) = seal_with(kek, &dek, &aad);
        let mut blob = Vec::with_capacity(NONCE * 2 + KEY + TAG + ct.len());
        blob.extend_from_slice(&dek_nonce);
        blob.extend_from_slice(&wrapped);
        blob.extend_from_slice(&data_nonce);
        blob.extend_from_slice(&ct);
        format!("v{version}:{}", B64.encode(blob))
    }

    fn parts(sealed: &str) -> Result<(u32, Vec<u8>), EnvelopeError> {
        let (v, body) = sealed
            .strip_prefix('v')
            .and_then(|s| s.split_once(':'))
            .ok_or(EnvelopeError::Malformed)?;
        let version = v.parse().map_err(|_| EnvelopeError::Malformed)?;
        let blob = B64.decode(body).map_err(|_| EnvelopeError::Malformed)?;
        if blob.len() < NONCE * 2 + KEY + TAG + TAG {
            return Err(EnvelopeError::Malformed);
        }
        Ok((version, blob))
    }

    /// Opens a sealed value for `binding`; the secret comes back wrapped so that it cannot reach
    /// Debug output or a log by accident (CR-8).
    pub fn open(
        &self,
        sealed: &str,
        binding: &(impl Aad + ?Sized),
    ) -> Result<SecretSlice<u8>, EnvelopeError> {
        let (version, blob) = Self::parts(sealed)?;
        let kek = self.key(version)?;
        let aad = binding.aad();
        let (dek_nonce, rest) = blob.split_at(NONCE);
        let (wrapped, rest) = rest.split_at(KEY + TAG);
        let (data_nonce, ct) = rest.split_at(NONCE);
        let dek: [u8; KEY] = open_with(kek, dek_nonce, wrapped, &aad)?
            .try_into()
            .map_err(|_| EnvelopeError::Tampered)?;
        Ok(open_with(&dek, data_nonce, ct, &aad)?.into())
    }

    /// The KEK version a sealed value uses.
    pub fn version_of(sealed: &str) -> Result<u32, EnvelopeError> {
        Self::parts(sealed).map(|(v, _)| v)
    }

    /// Moves a sealed value to the newest KEK by re-sealing its data key; the secret's own
    /// ciphertext is kept and the secret never decrypted (CR-5).
    pub fn rewrap(
        &self,
        sealed: &str,
        binding: &(impl Aad + ?Sized),
    ) -> Result<String, EnvelopeError> {
        let (version, blob) = Self::parts(sealed)?;
        let current = self.current_version();
        if version == current {
            return Ok(sealed.to_owned());
        }
        let aad = binding.aad();
        let (dek_nonce, rest) = blob.split_at(NONCE);
        let (wrapped, data) = rest.split_at(KEY + TAG);
        let dek = open_with(self.key(version)?, dek_nonce, wrapped, &aad)?;
        let (new_nonce, new_wrapped) = seal_with(self.keys[&current].expose_secret(), &dek, &aad);
        let mut out = Vec::with_capacity(blob.len());
        out.extend_from_slice(&new_nonce);
        out.extend_from_slice(&new_wrapped);
        out.extend_from_slice(data);
        Ok(format!("v{current}:{}", B64.encode(out)))
    }
}

/// Reads a key file (the embedded stack's key ring, beside the data, never in a database), or
/// creates it (owner-only) with one random key at version 1.
pub fn key_file(path: &std::path::Path) -> anyhow::Result<SecretString> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(SecretString::from(s.trim().to_owned())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow::anyhow!("reading {}: {e}", path.display()));
        }
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let spec = SecretString::from(Keyring::generate_spec(1));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(spec.expose_secret().as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated the key-encryption key of the embedded stack");
            Ok(spec)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(SecretString::from(
            std::fs::read_to_string(path)?.trim().to_owned(),
        )),
        Err(e) => Err(anyhow::anyhow!("creating {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const CANARY: &[u8] = b"canary-db-password-7f3a";

    fn ring(versions: &[u32], min: u32) -> Keyring {
        Keyring::new(
            versions.iter().map(|v| (*v, [*v as u8; KEY])).collect(),
            min,
        )
        .unwrap()
    }

    #[test]
    fn cr_1_a_sealed_value_opens_and_any_flipped_bit_is_detected() {
        let k = ring(&[1], 0);
        let b = b"row-1";
        let sealed = k.seal(CANARY, b);
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("canary"));
        assert_eq!(k.open(&sealed, b).unwrap().expose_secret(), CANARY);
        let (_, blob) = Keyring::parts(&sealed).unwrap();
        for i in 0..blob.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = blob.clone();
                bad[i] ^= bit;
                let tampered = format!("v1:{}", B64.encode(bad));
                assert_eq!(
                    k.open(&tampered, b).unwrap_err(),
                    EnvelopeError::Tampered,
                    "byte {i}"
                );
            }
        }
    }

    #[test]
    fn cr_2_nonces_do_not_repeat() {
        let k = ring(&[1], 0);
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            let (_, blob) = Keyring::parts(&k.seal(b"x", b"f")).unwrap();
            assert!(
                seen.insert(blob[..NONCE].to_vec()),
                "a DEK-wrapping nonce repeated"
            );
            assert!(
                seen.insert(blob[NONCE + KEY + TAG..NONCE * 2 + KEY + TAG].to_vec()),
                "a data nonce repeated"
            );
        }
    }

    #[test]
    fn cr_3_a_value_under_other_associated_data_does_not_open() {
        let k = ring(&[1], 0);
        let sealed = k.seal(CANARY, b"signing-key:k1");
        for other in [
            &b"signing-key:k2"[..],
            b"",
            b"signing-key:k1\0",
            b"Signing-key:k1",
        ] {
            assert_eq!(
                k.open(&sealed, other).unwrap_err(),
                EnvelopeError::Tampered,
                "{other:?}"
            );
            assert_eq!(
                k.rewrap(&sealed, other).map(|_| ()),
                Ok(()),
                "already current: kept as is"
            );
        }
        let moved = ring(&[1, 2], 0);
        assert_eq!(
            moved.rewrap(&sealed, b"signing-key:k2").unwrap_err(),
            EnvelopeError::Tampered,
            "a re-wrap checks the binding too"
        );
    }

    #[test]
    fn cr_4_and_5_rotation_rewrap_and_retirement() {
        let b = b"row";
        let old = ring(&[1], 0).seal(CANARY, b);
        let rotated = ring(&[1, 2], 0);
        assert_eq!(
            rotated.open(&old, b).unwrap().expose_secret(),
            CANARY,
            "old rows read"
        );
        assert!(
            rotated.seal(b"new", b).starts_with("v2:"),
            "new rows use the new key"
        );
        let moved = rotated.rewrap(&old, b).unwrap();
        assert_eq!(Keyring::version_of(&moved).unwrap(), 2);
        let (_, before) = Keyring::parts(&old).unwrap();
        let (_, after) = Keyring::parts(&moved).unwrap();
        assert_eq!(
            before[NONCE + KEY + TAG..],
            after[NONCE + KEY + TAG..],
            "the secret's ciphertext is untouched"
        );
        let retired = ring(&[1, 2], 2);
        assert_eq!(
            retired.open(&old, b).unwrap_err(),
            EnvelopeError::UnknownVersion(1)
        );
        assert_eq!(
            retired.rewrap(&old, b).unwrap_err(),
            EnvelopeError::UnknownVersion(1),
            "a retired version does not re-wrap either"
        );
        assert_eq!(retired.open(&moved, b).unwrap().expose_secret(), CANARY);
        assert_eq!(rotated.rewrap(&moved, b).unwrap(), moved, "already current");
        let without_v1 = ring(&[2], 0);
        assert_eq!(
            without_v1.open(&old, b).unwrap_err(),
            EnvelopeError::UnknownVersion(1),
            "a version taken out of the ring"
        );
    }

    #[test]
    fn cr_8_keys_and_secrets_stay_out_of_debug_and_errors() {
        let spec = format!(
            "1:{},2:{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            base64::engine::general_purpose::STANDARD.encode([9u8; 32])
        );
        let k = Keyring::parse(&spec, 0).unwrap();
        let debug = format!("{k:?}");
        assert!(
            debug.contains("[1, 2]") && !debug.contains("7, 7") && !debug.contains("BwcH"),
            "{debug}"
        );
        let b = b"f";
        let opened = k.open(&k.seal(CANARY, b), b).unwrap();
        assert!(!format!("{opened:?}").contains("canary"));
        let err = Keyring::parse("1:not-base64-secret", 0)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("not-base64-secret"), "{err}");
        assert!(Keyring::parse("", 0).is_err());
        assert!(Keyring::parse(&spec, 3).is_err());
        for bad in ["", "v1:", "x1:AAAA", "v1:!!!", "v1:AAAA"] {
            assert_eq!(
                k.open(bad, b).unwrap_err(),
                EnvelopeError::Malformed,
                "{bad:?}"
            );
        }
    }
}
