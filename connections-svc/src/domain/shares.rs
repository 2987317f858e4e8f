//! Sharing a restricted connection with another member of its organization and taking it back
//! (the Luzmo face's associate and dissociate with a User). Its owner or an organization admin
//! shares; a connection every member reads already, or personal credentials, cannot be shared.

use uuid::Uuid;

use super::{ConnectionView, Connections, Kind, Visibility, invalid, not_found, now};
use crate::{
    directory::Caller,
    error::{Error, Result},
    store::{Shared, StoreError},
};

/// Most members one connection is shared with.
pub const MAX_SHARES: i64 = 1_000;

impl Connections {
    /// Shares connection `id` with member `user` (again: no change).
    pub async fn share(&self, caller: &Caller, id: Uuid, user: Uuid) -> Result<ConnectionView> {
        let (m, member) = self.directory.membership_and_member(caller, user).await?;
        let c = self.writable(caller, &m, id, Some(Kind::Shared)).await?;
        if c.visibility != Visibility::Restricted.as_str() {
            return Err(invalid(
                "every member of the organization reads this connection already",
            ));
        }
        if !member {
            return Err(Error::NotFound(
                "User not found in the connection's organization".into(),
            ));
        }
        if user == c.owner_user_uuid {
            return Err(invalid("the owner reads their connection already"));
        }
        match self.store.share(id, user, now(), MAX_SHARES).await {
            Ok(Shared::Done) => {}
            Ok(Shared::Full) => {
                return Err(Error::FailedPrecondition(
                    format!("a connection is shared with at most {MAX_SHARES} members").into(),
                ));
            }
            Err(StoreError::Gone) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(connection = %id, user_uuid = %user, "connection shared");
        let c = self.store.get(id).await?.ok_or_else(not_found)?;
        self.view(c).await
    }

    /// Takes back the share of connection `id` with `user`; NOT_FOUND when there was none.
    pub async fn unshare(&self, caller: &Caller, id: Uuid, user: Uuid) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        let c = self.writable(caller, &m, id, Some(Kind::Shared)).await?;
        if !self.store.unshare(id, user).await? {
            return Err(Error::NotFound(
                "The connection is not shared with this user".into(),
            ));
        }
        tracing::info!(connection = %id, user_uuid = %user, "connection share taken back");
        self.view(c).await
    }
}
