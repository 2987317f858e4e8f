//! The caller's own connections: those they created, shared or personal, whichever face made
//! them (the Sumvin face's user connectors).

use super::{ConnectionView, Connections, Kind};
use crate::{directory::Caller, error::Result, store::ListFilter};

impl Connections {
    /// The connections the caller owns in their organization, of `kind` when set, of
    /// `provider` when set, oldest first.
    pub async fn list_owned(
        &self,
        caller: &Caller,
        kind: Option<Kind>,
        provider: Option<&str>,
    ) -> Result<Vec<ConnectionView>> {
        let m = self.directory.membership(caller).await?;
        let mut records = Vec::new();
        for k in [Kind::Shared, Kind::Personal] {
            if kind.is_none_or(|want| want == k) {
                let filter = ListFilter {
                    organization_uuid: m.organization_uuid,
                    kind: k.as_str(),
                    reader: caller.user_uuid,
                    reader_is_admin: m.is_admin(),
                    owner: Some(caller.user_uuid),
                    provider,
                };
                let of_kind = self.store.list(&filter).await?;
                records.extend(of_kind);
            }
        }
        records.sort_by_key(|c| (c.created_at, c.connection_uuid));
        self.views(records).await
    }
}
