//! The access-token signing keys at rest and in rotation (issue #18 item 4): sealed under
//! IDENTITY_KEYS in the database (CR-6), re-wrapped under a new key version (CR-5), and rotated
//! by `platform rotate-signing-key` while clients call the API (TK-6).

mod at_rest;
mod rotation;

use base64::Engine as _;
use identity_svc::domain::keys::KeyBinding;
use secrecy::ExposeSecret;
use service_kit::envelope::Keyring;

use crate::helpers::TestApp;

/// A signing key row as stored: kid, the clear column, the sealed column.
#[derive(Debug, Clone)]
pub(crate) struct StoredKey {
    pub kid: String,
    pub private_seed: Vec<u8>,
    pub sealed_seed: Option<String>,
}

/// Every row of `signing_keys`.
pub(crate) async fn stored_keys(app: &TestApp) -> Vec<StoredKey> {
    let rows: Vec<(String, Vec<u8>, Option<String>)> =
        service_kit::on_pool!(&app.identity_db, |p| {
            sqlx::query_as(
                "SELECT kid, private_seed, sealed_seed FROM signing_keys ORDER BY created_at",
            )
            .fetch_all(p)
            .await
        })
        .unwrap();
    rows.into_iter()
        .map(|(kid, private_seed, sealed_seed)| StoredKey {
            kid,
            private_seed,
            sealed_seed,
        })
        .collect()
}

/// The platform's identity key ring: its key file (the tests set no IDENTITY_KEYS).
pub(crate) fn key_file_ring(app: &TestApp) -> Keyring {
    let spec = std::fs::read_to_string(app.data_dir.join("identity.keys")).expect("key file");
    Keyring::parse(spec.trim(), 1).unwrap()
}

/// The private seed of a stored key, opened with `ring`.
pub(crate) fn open_seed(ring: &Keyring, k: &StoredKey) -> Vec<u8> {
    let sealed = k.sealed_seed.as_deref().expect("a sealed seed");
    ring.open(sealed, &KeyBinding(&k.kid))
        .expect("the sealed seed opens")
        .expose_secret()
        .to_vec()
}

/// The forms a 32-byte secret could take in a file, a dump or a log: raw, hex, base64.
pub(crate) fn canaries(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        STANDARD.encode(secret).into_bytes(),
        STANDARD_NO_PAD.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
    ]
}

/// Whether `haystack` holds any form of `secret`.
pub(crate) fn holds(haystack: &[u8], secret: &[u8]) -> bool {
    canaries(secret)
        .iter()
        .any(|c| haystack.windows(c.len()).any(|w| w == c.as_slice()))
}

/// The real `platform` binary with `args`, on the app's data and database.
pub(crate) fn platform_binary(
    app: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_platform"));
    command
        .env_clear()
        .env("DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .args(args);
    if let Some((url, prefix)) = &app.database {
        command
            .env("DATABASE_URL", url)
            .env("SCHEMA_PREFIX", prefix);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// The standard output of a successful run.
pub(crate) fn stdout_of(args: &[&str], out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "platform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `platform <args>` on the app's data and database; its standard output.
pub(crate) fn platform_command(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> String {
    stdout_of(args, platform_binary(app, args, env).output().unwrap())
}
