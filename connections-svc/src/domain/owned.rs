//! The caller's own connections: those they created, shared or personal, whichever face made
//! them (the Sumvin face's user connectors).

use super::{ConnectionView, Connections, Kind};
use crate::{directory::Caller, error::Result};

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
                let of_kind = self
                    .store
                    .list(
                        m.organization_uuid,
                        k.as_str(),
                        Some(caller.user_uuid),
                        provider,
                    )
                    .await?;
                records.extend(of_kind);
            }
        }
        records.sort_by_key(|c| (c.created_at, c.connection_uuid));
        self.views(records).await
    }
}
