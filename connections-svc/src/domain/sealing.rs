//! Sealing secrets for the store and opening them: each value under the key ring's newest key,
//! bound to its organization, connection and field (CR-3), so a sealed value copied into another
//! row does not open.

use secrecy::{ExposeSecret, SecretString};

use super::{ACCESS_TOKEN, Connections, REFRESH_TOKEN};
use crate::{
    envelope::Binding,
    error::{Error, Result},
    oauth::Tokens,
    store::{ConnectionRecord, SecretRecord},
};

impl Connections {
    /// `value` sealed as `c`'s secret `field`.
    pub(super) fn seal(
        &self,
        c: &ConnectionRecord,
        field: &str,
        value: &SecretString,
    ) -> SecretRecord {
        let binding = Binding {
            organization_uuid: c.organization_uuid,
            connection_uuid: c.connection_uuid,
            field,
        };
        SecretRecord {
            connection_uuid: c.connection_uuid,
            field: field.to_owned(),
            key_version: i32::try_from(self.keyring.current_version()).unwrap_or(i32::MAX),
            sealed: self
                .keyring
                .seal(value.expose_secret().as_bytes(), &binding),
        }
    }

    /// The plain value of `c`'s stored secret `s`.
    pub(super) fn open(&self, c: &ConnectionRecord, s: &SecretRecord) -> Result<SecretString> {
        let binding = Binding {
            organization_uuid: c.organization_uuid,
            connection_uuid: c.connection_uuid,
            field: &s.field,
        };
        let bytes = self.keyring.open(&s.sealed, &binding).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "secret {:?} of connection {} does not open: {e}",
                s.field,
                c.connection_uuid
            ))
        })?;
        let text = String::from_utf8(bytes.expose_secret().to_vec())
            .map_err(|_| Error::Internal(anyhow::anyhow!("a secret is not UTF-8")))?;
        Ok(SecretString::from(text))
    }

    /// Seals granted OAuth2 tokens for `c`, and takes their expiry and scope onto it.
    pub(super) fn seal_tokens(&self, c: &mut ConnectionRecord, t: &Tokens) -> Vec<SecretRecord> {
        let mut out = vec![self.seal(c, ACCESS_TOKEN, &t.access_token)];
        if let Some(r) = &t.refresh_token {
            out.push(self.seal(c, REFRESH_TOKEN, r));
        }
        c.expiry = t.expires_at;
        if let Some(scope) = &t.scope {
            c.scope = scope
                .chars()
                .filter(|ch| !ch.is_control())
                .take(1000)
                .collect();
        }
        out
    }
}
