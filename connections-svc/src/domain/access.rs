//! Who may do what with a connection. A shared connection is read by every member of its
//! organization, created by developers and admins, and changed, tested or deleted by its owner
//! or an organization admin. Personal credentials are their owner's alone. A connection the
//! caller may not read answers NOT_FOUND, exactly like one that does not exist (AC-8).

use uuid::Uuid;

use super::{Connections, Kind, not_found};
use crate::{
    directory::{Caller, Membership},
    error::{Result, denied},
    store::ConnectionRecord,
};

impl Connections {
    /// The connection if the caller may read it; NOT_FOUND otherwise (AC-8).
    pub(super) async fn readable(
        &self,
        caller: &Caller,
        m: &Membership,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionRecord> {
        let c = self.store.get(id).await?.ok_or_else(not_found)?;
        let visible = c.organization_uuid == m.organization_uuid
            && kind.is_none_or(|k| c.kind == k.as_str())
            && (c.kind == Kind::Shared.as_str() || c.owner_user_uuid == caller.user_uuid);
        if visible { Ok(c) } else { Err(not_found()) }
    }

    /// The connection if the caller may change it: its owner, or an admin of its organization
    /// for a shared one.
    pub(super) async fn writable(
        &self,
        caller: &Caller,
        m: &Membership,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionRecord> {
        let c = self.readable(caller, m, id, kind).await?;
        let personal = c.kind == Kind::Personal.as_str();
        // The owner of a shared connection keeps it only while their role could create one: a
        // demoted owner loses it (AC-6).
        let owner = c.owner_user_uuid == caller.user_uuid && (personal || m.may_create_shared());
        if owner || (!personal && m.is_admin()) {
            Ok(c)
        } else {
            Err(denied())
        }
    }
}
