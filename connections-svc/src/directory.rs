//! Who the caller is in their organization, from identity-svc: one `GetAccessContexts` call made
//! with the caller's own access token (identity-svc authorizes it as the caller), so a role
//! change or a removal applies to the very next request (AC-6).

use proto::identity::v1 as pb;
use service_kit::identity::{Identity, answered_role};
use tonic::Code;
use uuid::Uuid;

use crate::error::{Error, Result};

/// An authenticated caller: the verified access token asks identity-svc about the caller as the
/// caller.
pub use service_kit::grpc::UserCall as Caller;

/// The caller's place in their organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organization_uuid: Uuid,
    /// The organization role (never UNSPECIFIED: the directory refuses an answer without one).
    pub role: pb::OrganizationRole,
}

impl Membership {
    /// Organization admins manage every shared connection.
    pub fn is_admin(&self) -> bool {
        self.role == pb::OrganizationRole::Admin
    }

    /// Developers and admins create shared connections (Lightdash: managing a project's
    /// warehouse connection is a developer's ability).
    pub fn may_create_shared(&self) -> bool {
        self.role >= pb::OrganizationRole::Developer
    }
}

/// Where memberships come from.
#[async_trait::async_trait]
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// The caller's organization and role; PermissionDenied when they have none.
    async fn membership(&self, caller: &Caller) -> Result<Membership>;
}

/// identity-svc as the directory.
#[derive(Debug, Clone)]
pub struct IdentityDirectory(pub Identity);

#[async_trait::async_trait]
impl Directory for IdentityDirectory {
    async fn membership(&self, caller: &Caller) -> Result<Membership> {
        let req = self
            .0
            .as_user(pb::GetAccessContextsRequest::default(), caller);
        let res = self
            .0
            .rpc()
            .get_access_contexts(req)
            .await
            .map_err(|s| match s.code() {
                Code::Unauthenticated => Error::Unauthenticated(s.message().to_owned().into()),
                Code::PermissionDenied => Error::PermissionDenied(s.message().to_owned().into()),
                Code::Unavailable | Code::DeadlineExceeded => {
                    Error::Unavailable("identity-svc is unavailable; try again".into())
                }
                _ => Error::Internal(anyhow::anyhow!("identity-svc: {s}")),
            })?
            .into_inner();
        let role = res
            .caller
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("identity-svc sent no caller context")))?
            .organization_role;
        let role = answered_role(role)?;
        let organization_uuid = Uuid::parse_str(&res.organization_uuid).map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "identity-svc sent a malformed organization uuid"
            ))
        })?;
        Ok(Membership {
            organization_uuid,
            role,
        })
    }
}
