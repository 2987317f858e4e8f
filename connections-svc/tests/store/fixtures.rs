//! Keys, records and seals the tests build their rows from.

use base64::{Engine as _, engine::general_purpose};
use chrono::{DateTime, Utc};
use connections_svc::{
    envelope::{Binding, EnvelopeError, Keyring},
    store::{ConnectionRecord, SecretRecord},
};
use secrecy::ExposeSecret;
use uuid::Uuid;

/// A KEK version 1 and a KEK version 2, in configuration form.
pub(crate) struct Keys {
    pub(crate) spec1: String,
    pub(crate) spec2: String,
}

impl Keys {
    pub(crate) fn new() -> Self {
        Self {
            spec1: Keyring::generate_spec(1),
            spec2: Keyring::generate_spec(2),
        }
    }
    pub(crate) fn both(&self) -> String {
        format!("{},{}", self.spec1, self.spec2)
    }
    /// Before the rotation: version 1 only.
    pub(crate) fn v1(&self) -> Keyring {
        Keyring::parse(&self.spec1, 0).unwrap()
    }
    /// After the rotation: version 2 seals, version 1 still opens.
    pub(crate) fn v12(&self) -> Keyring {
        Keyring::parse(&self.both(), 0).unwrap()
    }
    /// After retirement: both keys configured, but version 1 no longer opens.
    pub(crate) fn v12_retired(&self) -> Keyring {
        Keyring::parse(&self.both(), 2).unwrap()
    }
    /// After retirement, with the old key removed from the configuration.
    pub(crate) fn v2_only(&self) -> Keyring {
        Keyring::parse(&self.spec2, 2).unwrap()
    }
}

/// The base64 and the raw bytes of the key in a `<version>:<base64>` spec.
pub(crate) fn key_material(spec: &str) -> (String, Vec<u8>) {
    let (_, b64) = spec.split_once(':').unwrap();
    let raw = general_purpose::STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 32);
    (b64.to_owned(), raw)
}

/// A fixed instant plus `micros` (the stores keep microseconds).
pub(crate) fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_780_000_000_000_000 + micros).unwrap()
}

pub(crate) fn record(organization: Uuid, n: i64) -> ConnectionRecord {
    let t = at(n);
    ConnectionRecord {
        connection_uuid: Uuid::now_v7(),
        organization_uuid: organization,
        owner_user_uuid: Uuid::new_v4(),
        kind: "shared".into(),
        provider: "postgres".into(),
        name: format!("warehouse {n}"),
        description: "{}".into(),
        host: "db.example.test".into(),
        port: "5432".into(),
        identifier: "analytics".into(),
        scope: String::new(),
        expiry: None,
        active: true,
        invalid: false,
        cache: 0,
        datasets_meta_sync_enabled: false,
        datasets_meta_sync_interval: 60,
        linked_at: t,
        options: "{}".into(),
        last_tested_at: None,
        created_at: t,
        updated_at: t,
        visibility: "organization".into(),
    }
}

pub(crate) fn binding<'a>(c: &ConnectionRecord, field: &'a str) -> Binding<'a> {
    Binding {
        organization_uuid: c.organization_uuid,
        connection_uuid: c.connection_uuid,
        field,
    }
}

/// Seals `secret` for `c`'s `field` as the domain does (key_version = the value's version).
pub(crate) fn seal(
    ring: &Keyring,
    c: &ConnectionRecord,
    field: &str,
    secret: &str,
) -> SecretRecord {
    let sealed = ring.seal(secret.as_bytes(), &binding(c, field));
    SecretRecord {
        connection_uuid: c.connection_uuid,
        field: field.to_owned(),
        key_version: i32::try_from(Keyring::version_of(&sealed).unwrap()).unwrap(),
        sealed,
    }
}

/// Opens a sealed value for `c`'s `field`.
pub(crate) fn open(
    ring: &Keyring,
    c: &ConnectionRecord,
    field: &str,
    sealed: &str,
) -> Result<String, EnvelopeError> {
    ring.open(sealed, &binding(c, field))
        .map(|p| String::from_utf8(p.expose_secret().to_vec()).unwrap())
}

/// The decoded envelope of a sealed value, and its `v{n}` prefix.
pub(crate) fn envelope(sealed: &str) -> (&str, Vec<u8>) {
    let (prefix, body) = sealed.split_once(':').unwrap();
    (
        prefix,
        general_purpose::STANDARD_NO_PAD.decode(body).unwrap(),
    )
}

/// `sealed` with bit `bit` of envelope byte `index` flipped.
pub(crate) fn flip(sealed: &str, index: usize, bit: u8) -> String {
    let (prefix, mut blob) = envelope(sealed);
    blob[index] ^= 1 << bit;
    format!("{prefix}:{}", general_purpose::STANDARD_NO_PAD.encode(blob))
}

// Envelope layout (envelope.rs): dek_nonce (24) ‖ wrapped_dek (32 + 16 tag) ‖ data_nonce (24) ‖
// ciphertext ‖ tag (16).
pub(crate) const WRAPPED_DEK: usize = 24;
pub(crate) const DATA_NONCE: usize = 24 + 48;
pub(crate) const CIPHERTEXT: usize = 24 + 48 + 24;
