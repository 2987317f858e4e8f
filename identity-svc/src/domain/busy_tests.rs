//! AU-6 (issue #18 item 2): a login the password-hash pool is too busy to judge answers 429
//! and is not counted as a failure, so a flood that keeps the pool busy cannot make the
//! owner's next login wait.

use std::{sync::Arc, time::Duration};

use secrecy::SecretString;
use service_kit::{
    db::{self, DbConfig},
    jwt::{SigningKey, TokenProfile, TokenSigner},
};

use super::{Error, Identity, Registration, Settings, password::PasswordHasher, throttle};
use crate::store;

const PASSWORD: &str = "correct horse battery staple";

async fn identity(dir: &std::path::Path) -> Identity {
    let pool = db::connect(&DbConfig {
        url: None,
        schema: "identity".into(),
        sqlite_file: dir.join("identity.db"),
        max_connections: 2,
    })
    .await
    .unwrap();
    pool.migrate(&store::SQLITE_MIGRATIONS, &store::POSTGRES_MIGRATIONS)
        .await
        .unwrap();
    service_kit::jwt::install_crypto_provider();
    let signer = TokenSigner::new(TokenProfile::default(), SigningKey::generate());
    let mail = SecretString::from(format!("file:{}", dir.join("mail").display()));
    let mailer = crate::mail::from_url(&mail, "platform@example.com", Duration::from_secs(1));
    let settings = Settings {
        login_limits: throttle::Limits {
            per_account: 1,
            per_address: 1000,
            window: Duration::from_secs(300),
        },
        ..Settings::default()
    };
    Identity::new(
        store::for_pool(pool).await,
        PasswordHasher::new(1, Duration::from_millis(20)).unwrap(),
        Arc::new(signer),
        mailer.unwrap().into(),
        settings,
    )
}

#[tokio::test]
async fn au_6_a_busy_hash_pool_is_not_counted_as_a_failure() {
    let dir = std::env::temp_dir().join(format!("busy-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let identity = identity(&dir).await;
    let email = "owner@example.com";
    identity
        .register(Registration {
            email: email.into(),
            password: SecretString::from(PASSWORD),
            first_name: "Owner".into(),
            last_name: "Example".into(),
            client_address: Some("198.51.100.1".into()),
        })
        .await
        .unwrap();
    let from = Some("203.0.113.9");
    let login = |password: &str| {
        identity.login(email, SecretString::from(password.to_owned()), from, false)
    };

    // The pool's one permit is held: every attempt is too busy to judge.
    let held = identity.hasher.hold_permits(1).await;
    for _ in 0..5 {
        let busy = login("wrong password").await.unwrap_err();
        assert!(matches!(busy, Error::ResourceExhausted(_)), "{busy:?}");
    }
    drop(held);
    // One failure is free (per_account = 1): had the busy ones counted, this would wait.
    login(PASSWORD)
        .await
        .expect("the owner signs in: busy attempts were not failures");

    // The control: judged failures do count, and the pair then waits.
    for _ in 0..2 {
        let e = login("wrong password").await.unwrap_err();
        assert!(matches!(e, Error::Unauthenticated(_)), "{e:?}");
    }
    let waiting = login(PASSWORD).await.unwrap_err();
    assert!(matches!(waiting, Error::Throttled { .. }), "{waiting:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
