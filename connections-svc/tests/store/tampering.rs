//! Tampering with stored values (CR-1, CR-3): a flipped bit, or a value copied into another
//! row or field, does not open.

use connections_svc::{envelope::EnvelopeError, store::SecretRecord};
use uuid::Uuid;

use crate::{fixtures::*, harness::*};

both_backends!(
    cr_3_a_value_copied_into_another_row_does_not_open,
    cr_1_any_flipped_bit_of_a_stored_value_is_detected,
);

/// CR-3: a sealed value is bound to its organization, connection and field. Copied into a
/// connection of another organization (by SQL or through the store), or into another field of
/// its own connection, it does not open (AEAD tag error).
async fn cr_3_a_value_copied_into_another_row_does_not_open(db: &TestDb) {
    const CANARY: &str = "canary-org-a-password-51d0";
    let ring = Keys::new().v12();
    let (org_a, org_b) = (Uuid::new_v4(), Uuid::new_v4());
    let a = record(org_a, 0);
    let b = record(org_b, 1);
    let a_password = seal(&ring, &a, "password", CANARY);
    db.store
        .insert(
            &a,
            &[a_password.clone(), seal(&ring, &a, "privateKey", "a-key")],
        )
        .await
        .unwrap();
    db.store
        .insert(&b, &[seal(&ring, &b, "password", "b-password")])
        .await
        .unwrap();

    // By SQL, into organization B's row.
    db.set_sealed(
        b.connection_uuid,
        "password",
        &a_password.sealed,
        a_password.key_version,
    )
    .await;
    let copied = db.stored(b.connection_uuid, "password").await;
    assert_eq!(copied.sealed, a_password.sealed, "the copy is in B's row");
    assert_eq!(
        open(&ring, &b, "password", &copied.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );
    // The value itself is intact: only its binding differs.
    assert_eq!(open(&ring, &a, "password", &copied.sealed).unwrap(), CANARY);

    // By SQL, into another field of the same connection.
    db.set_sealed(
        a.connection_uuid,
        "privateKey",
        &a_password.sealed,
        a_password.key_version,
    )
    .await;
    let moved = db.stored(a.connection_uuid, "privateKey").await;
    assert_eq!(
        open(&ring, &a, "privateKey", &moved.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );

    // Through the store: an update of B carrying A's sealed value as B's password.
    let mut b2 = b.clone();
    b2.updated_at = at(10);
    let smuggled = SecretRecord {
        connection_uuid: b.connection_uuid,
        field: "password".into(),
        ..a_password.clone()
    };
    assert!(
        db.store
            .update(&b2, b.updated_at, &[smuggled], &[])
            .await
            .unwrap()
    );
    let stored = db.stored(b.connection_uuid, "password").await;
    assert_eq!(stored.sealed, a_password.sealed);
    assert_eq!(
        open(&ring, &b2, "password", &stored.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );

    // A's own password still opens where it belongs.
    let own = db.stored(a.connection_uuid, "password").await;
    assert_eq!(open(&ring, &a, "password", &own.sealed).unwrap(), CANARY);
}

/// CR-1: flipping any one bit of a stored sealed value (its text or its decoded envelope) makes
/// it fail to open; also after a round trip through the database.
async fn cr_1_any_flipped_bit_of_a_stored_value_is_detected(db: &TestDb) {
    const CANARY: &str = "canary-7f3a-flip-me";
    let ring = Keys::new().v12();
    let c = record(Uuid::new_v4(), 0);
    db.store
        .insert(&c, &[seal(&ring, &c, "password", CANARY)])
        .await
        .unwrap();
    let stored = db.stored(c.connection_uuid, "password").await.sealed;
    assert_eq!(open(&ring, &c, "password", &stored).unwrap(), CANARY);

    // Every bit of the stored text (the 7 bits of each ASCII character).
    let text = stored.as_bytes();
    assert!(text.is_ascii());
    for i in 0..text.len() {
        for bit in 0..7 {
            let mut bad = text.to_vec();
            bad[i] ^= 1 << bit;
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                open(&ring, &c, "password", &bad).is_err(),
                "text character {i}, bit {bit} flipped, still opens"
            );
        }
    }

    // Every bit of the decoded envelope: always an AEAD tag error.
    let (_, blob) = envelope(&stored);
    for i in 0..blob.len() {
        for bit in 0..8 {
            assert_eq!(
                open(&ring, &c, "password", &flip(&stored, i, bit)).unwrap_err(),
                EnvelopeError::Tampered,
                "envelope byte {i}, bit {bit}"
            );
        }
    }

    // Written to the database and read back: one flipped bit in each part of the envelope.
    let last = blob.len() - 1;
    for (i, bit) in [
        (0, 0),
        (WRAPPED_DEK - 1, 7),
        (WRAPPED_DEK, 3),
        (DATA_NONCE - 1, 1),
        (DATA_NONCE, 5),
        (CIPHERTEXT - 1, 2),
        (CIPHERTEXT, 0),
        (last - 16, 6),
        (last, 7),
    ] {
        let bad = flip(&stored, i, bit);
        db.set_sealed(c.connection_uuid, "password", &bad, 2).await;
        let back = db.stored(c.connection_uuid, "password").await.sealed;
        assert_eq!(back, bad);
        assert_eq!(
            open(&ring, &c, "password", &back).unwrap_err(),
            EnvelopeError::Tampered,
            "byte {i}, bit {bit}, through the database"
        );
    }
    // The row itself is fine: the original value opens again once restored.
    db.set_sealed(c.connection_uuid, "password", &stored, 2)
        .await;
    let back = db.stored(c.connection_uuid, "password").await.sealed;
    assert_eq!(open(&ring, &c, "password", &back).unwrap(), CANARY);
}
