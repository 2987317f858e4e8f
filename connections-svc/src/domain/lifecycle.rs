//! A connection's life: create, read, list, update and delete, for shared connections and
//! personal credentials alike (the kind decides the limit and who may act, see `access`).

use secrecy::SecretString;
use uuid::Uuid;

use super::{
    ConnectionView, Connections, Fields, Kind, Visibility, invalid, not_found, now, validate::apply,
};
use crate::{
    directory::Caller,
    error::{Error, Result, denied},
    store::{ConnectionRecord, ListFilter, SecretRecord},
};

impl Connections {
    /// Creates a connection owned by the caller. A shared connection every member reads is made
    /// by developers and admins; a restricted one (its owner's, the admins' and those it is
    /// shared with) by any member, as personal credentials are.
    pub async fn create(
        &self,
        caller: &Caller,
        kind: Kind,
        visibility: Visibility,
        f: Fields,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        if kind == Kind::Personal && visibility == Visibility::Restricted {
            return Err(invalid(
                "personal credentials are their owner's alone: they have no visibility to choose",
            ));
        }
        if kind == Kind::Shared && visibility == Visibility::Organization && !m.may_create_shared()
        {
            return Err(denied());
        }
        if f.provider.is_none() {
            return Err(invalid("provider is required"));
        }
        if f.name.is_none() {
            return Err(invalid("name is required"));
        }
        let at = now();
        let mut c = ConnectionRecord {
            connection_uuid: Uuid::now_v7(),
            organization_uuid: m.organization_uuid,
            owner_user_uuid: caller.user_uuid,
            kind: kind.as_str().to_owned(),
            provider: String::new(),
            name: String::new(),
            description: "{}".into(),
            host: String::new(),
            port: String::new(),
            identifier: String::new(),
            scope: String::new(),
            expiry: None,
            active: true,
            invalid: false,
            cache: 0,
            datasets_meta_sync_enabled: true,
            datasets_meta_sync_interval: 1,
            linked_at: at,
            options: "{}".into(),
            last_tested_at: None,
            created_at: at,
            updated_at: at,
            visibility: visibility.as_str().to_owned(),
        };
        let secrets = f.secrets.clone();
        apply(&mut c, kind, f)?;
        let sealed: Vec<SecretRecord> = secrets
            .iter()
            .map(|(field, value)| self.seal(&c, field, value))
            .collect();
        let limit = match kind {
            Kind::Shared => self.limits.shared_per_organization,
            Kind::Personal => self.limits.personal_per_user,
        };
        if !self.store.insert_within(&c, &sealed, limit).await? {
            return Err(Error::FailedPrecondition(
                format!(
                    "at most {limit} {} connections: delete one first",
                    kind.as_str()
                )
                .into(),
            ));
        }
        tracing::info!(connection = %c.connection_uuid, provider = %c.provider, kind = %c.kind, "connection created");
        self.view(c).await
    }

    /// One connection the caller may read.
    pub async fn get(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        let c = self.readable(caller, &m, id, kind).await?;
        self.view(c).await
    }

    /// The shared connections of the caller's organization they may read, or the caller's
    /// personal credentials.
    pub async fn list(
        &self,
        caller: &Caller,
        kind: Kind,
        provider: Option<&str>,
    ) -> Result<Vec<ConnectionView>> {
        let m = self.directory.membership(caller).await?;
        let filter = ListFilter {
            organization_uuid: m.organization_uuid,
            kind: kind.as_str(),
            reader: caller.user_uuid,
            reader_is_admin: m.is_admin(),
            owner: None,
            provider,
        };
        let records = self.store.list(&filter).await?;
        self.views(records).await
    }

    /// Changes a connection; secrets the update omits are kept. A `code` is exchanged for
    /// OAuth2 tokens at the provider first: nothing changes when the exchange fails.
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: Option<Kind>,
        f: Fields,
        code: Option<SecretString>,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        let current = self.writable(caller, &m, id, kind).await?;
        let kind = Kind::parse(&current.kind)?;
        let mut c = current.clone();
        let new_secrets = f.secrets.clone();
        let moved = apply(&mut c, kind, f)?;
        let stored = self.store.secrets(id).await?;
        // Credentials follow their destination: pointing stored credentials at another host,
        // port, user or provider requires sending them again, and every stored secret not sent
        // again is dropped, so none ever reaches a destination it was not given for (CR-7).
        let mut remove: Vec<String> = Vec::new();
        if moved && !stored.is_empty() {
            if new_secrets.is_empty() && code.is_none() {
                return Err(invalid(
                    "changing provider, host, port or identifier requires sending the secrets again",
                ));
            }
            remove = stored
                .iter()
                .map(|s| s.field.clone())
                .filter(|f| !new_secrets.contains_key(f))
                .collect();
        }
        let mut sealed: Vec<SecretRecord> = new_secrets
            .iter()
            .map(|(field, value)| self.seal(&c, field, value))
            .collect();
        if let Some(code) = code {
            self.exchange_code(&mut c, &code, &mut sealed, &mut remove)
                .await?;
        }
        c.updated_at = now();
        if !self
            .store
            .update(&c, current.updated_at, &sealed, &remove)
            .await?
        {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; read it again and retry".into(),
            ));
        }
        tracing::info!(connection = %id, secrets = sealed.len(), "connection updated");
        self.view(c).await
    }

    /// Deletes a connection with its secrets.
    pub async fn delete(&self, caller: &Caller, id: Uuid, kind: Option<Kind>) -> Result<()> {
        let m = self.directory.membership(caller).await?;
        self.writable(caller, &m, id, kind).await?;
        if !self.store.delete(id).await? {
            return Err(not_found());
        }
        tracing::info!(connection = %id, "connection deleted");
        Ok(())
    }
}
