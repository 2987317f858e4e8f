//! Envelope encryption of connection secrets (checklist CR-1 to CR-6, CR-8): the key ring is
//! `service_kit::envelope`'s; here, what a secret is bound to (CR-3): its organization,
//! connection and field, so a sealed value copied into another row does not open.

use std::borrow::Cow;

pub use service_kit::envelope::{Aad, EnvelopeError, Keyring};
use uuid::Uuid;

/// What a sealed connection secret is bound to (its associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub organization_uuid: Uuid,
    pub connection_uuid: Uuid,
    pub field: &'a str,
}

impl Aad for Binding<'_> {
    fn aad(&self) -> Cow<'_, [u8]> {
        let mut aad = Vec::with_capacity(32 + 1 + self.field.len());
        aad.extend_from_slice(self.organization_uuid.as_bytes());
        aad.extend_from_slice(self.connection_uuid.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.field.as_bytes());
        Cow::Owned(aad)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const CANARY: &[u8] = b"canary-db-password-7f3a";

    fn binding(org: Uuid, conn: Uuid, field: &str) -> Binding<'_> {
        Binding {
            organization_uuid: org,
            connection_uuid: conn,
            field,
        }
    }

    #[test]
    fn cr_3_a_value_copied_into_another_row_does_not_open() {
        let k = Keyring::new(vec![(1, [1; 32])], 0).unwrap();
        let (org_a, org_b, conn) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let sealed = k.seal(CANARY, &binding(org_a, conn, "password"));
        assert_eq!(
            k.open(&sealed, &binding(org_a, conn, "password"))
                .unwrap()
                .expose_secret(),
            CANARY
        );
        for other in [
            binding(org_b, conn, "password"),
            binding(org_a, Uuid::now_v7(), "password"),
            binding(org_a, conn, "privateKey"),
        ] {
            assert_eq!(
                k.open(&sealed, &other).unwrap_err(),
                EnvelopeError::Tampered
            );
        }
    }
}
