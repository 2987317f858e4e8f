//! Personal warehouse credentials per project: the credentials a user chose for a project, or
//! else their newest of the project's warehouse type.

use uuid::Uuid;

use super::{ConnectionView, Connections, Kind, invalid, not_found};
use crate::{
    directory::Caller,
    error::{Error, Result},
    store::ListFilter,
};

impl Connections {
    /// The caller's personal credentials for a project: the ones chosen, or else the newest of
    /// the project's warehouse type.
    pub async fn preference(
        &self,
        caller: &Caller,
        project: Uuid,
        warehouse_type: &str,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        if let Some(id) = self.store.preference(caller.user_uuid, project).await?
            && let Some(c) = self.store.get(id).await?
            && c.owner_user_uuid == caller.user_uuid
            && c.organization_uuid == m.organization_uuid
            && c.kind == Kind::Personal.as_str()
            && c.provider == warehouse_type
        {
            return self.view(c).await;
        }
        let filter = ListFilter {
            organization_uuid: m.organization_uuid,
            kind: Kind::Personal.as_str(),
            reader: caller.user_uuid,
            reader_is_admin: false,
            owner: Some(caller.user_uuid),
            provider: Some(warehouse_type),
        };
        let mut all = self.store.list(&filter).await?;
        let newest = all.pop().ok_or(Error::NotFound(
            "You have no credentials of this project's warehouse type".into(),
        ))?;
        self.view(newest).await
    }

    /// Chooses the caller's personal credentials `id` for a project of `warehouse_type`.
    pub async fn set_preference(
        &self,
        caller: &Caller,
        project: Uuid,
        warehouse_type: &str,
        id: Uuid,
    ) -> Result<()> {
        let m = self.directory.membership(caller).await?;
        let c = self.readable(caller, &m, id, Some(Kind::Personal)).await?;
        if c.owner_user_uuid != caller.user_uuid {
            return Err(not_found());
        }
        if c.provider != warehouse_type {
            return Err(invalid(format!(
                "these credentials are for {}, the project's warehouse is {warehouse_type}",
                c.provider
            )));
        }
        self.store
            .set_preference(caller.user_uuid, project, id)
            .await?;
        Ok(())
    }
}
