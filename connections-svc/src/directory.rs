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
    /// The caller's membership, and whether `user` is a member of the same organization.
    async fn membership_and_member(
        &self,
        caller: &Caller,
        user: Uuid,
    ) -> Result<(Membership, bool)>;
}

/// identity-svc as the directory.
#[derive(Debug, Clone)]
pub struct IdentityDirectory(pub Identity);

#[async_trait::async_trait]
impl Directory for IdentityDirectory {
    async fn membership(&self, caller: &Caller) -> Result<Membership> {
        let res = self
            .contexts(caller, pb::GetAccessContextsRequest::default())
            .await?;
        membership_of(&res)
    }

    async fn membership_and_member(
        &self,
        caller: &Caller,
        user: Uuid,
    ) -> Result<(Membership, bool)> {
        let query = pb::GetAccessContextsRequest {
            user_uuids: vec![user.to_string()],
            ..pb::GetAccessContextsRequest::default()
        };
        let res = self.contexts(caller, query).await?;
        let member = res
            .members
            .iter()
            .any(|m| Uuid::parse_str(&m.user_uuid).is_ok_and(|u| u == user) && !m.is_pending);
        Ok((membership_of(&res)?, member))
    }
}

impl IdentityDirectory {
    /// identity-svc's answer to `query`, asked as the caller.
    async fn contexts(
        &self,
        caller: &Caller,
        query: pb::GetAccessContextsRequest,
    ) -> Result<pb::GetAccessContextsResponse> {
        let req = self.0.as_user(query, caller);
        Ok(self
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
            .into_inner())
    }
}

/// The caller's membership in an answer of identity-svc.
fn membership_of(res: &pb::GetAccessContextsResponse) -> Result<Membership> {
    {
        let role = res
            .caller
            .as_ref()
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
