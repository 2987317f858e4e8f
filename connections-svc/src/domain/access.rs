//! Who may do what with a connection. A shared connection is read by every member of its
//! organization (created by developers and admins), or when restricted by its owner, the
//! organization's admins and the members it is shared with (created by any member); it is
//! changed, tested, shared or deleted by its owner or an organization admin. Personal
//! credentials are their owner's alone. A connection the
//! caller may not read answers NOT_FOUND, exactly like one that does not exist (AC-8).

use uuid::Uuid;

use super::{Connections, Kind, Visibility, not_found};
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
        let own = c.owner_user_uuid == caller.user_uuid;
        let reads = match (c.kind.as_str(), c.visibility.as_str()) {
            ("personal", _) => own,
            (_, "organization") => true,
            _ => {
                own || m.is_admin()
                    || self
                        .store
                        .is_shared_with(c.connection_uuid, caller.user_uuid)
                        .await?
            }
        };
        let visible = c.organization_uuid == m.organization_uuid
            && kind.is_none_or(|k| c.kind == k.as_str())
            && reads;
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
        let restricted = c.visibility == Visibility::Restricted.as_str();
        // The owner of a shared connection every member reads keeps it only while their role
        // could create one: a demoted owner loses it (AC-6). Any member makes a restricted one.
        let owner = c.owner_user_uuid == caller.user_uuid
            && (personal || restricted || m.may_create_shared());
        if owner || (!personal && m.is_admin()) {
            Ok(c)
        } else {
            Err(denied())
        }
    }
}
