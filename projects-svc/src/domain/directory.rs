//! Who people are, as projects-svc sees them: the caller's organization, role and groups, and
//! the same for other members, asked of identity-svc on every request (never cached, never read
//! from another service's tables), so a changed role or group membership holds on the next one.

use proto::identity::v1::OrganizationRole;
use uuid::Uuid;

use crate::error::Result;

/// The user a request speaks for: their access token (forwarded to identity-svc) and the
/// request id.
pub use service_kit::grpc::UserCall as Caller;

/// A member of the caller's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_uuid: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The organization role (never UNSPECIFIED: the directory refuses an answer without one).
    pub role: OrganizationRole,
    pub groups: Vec<Uuid>,
}

/// Which other members a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Nobody else.
    None,
    /// These users.
    Users(Vec<Uuid>),
    /// The member with this email.
    Email(String),
    /// Every member.
    All,
}

/// The answer: the caller and the members asked for, in the caller's organization.
#[derive(Debug, Clone)]
pub struct Context {
    pub organization_uuid: Uuid,
    pub caller: Member,
    pub members: Vec<Member>,
    /// Every group of the organization (id, name), when asked for.
    pub groups: Vec<(Uuid, String)>,
}

impl Context {
    /// The member with this id, if they are one (the caller included).
    pub fn member(&self, user: Uuid) -> Option<&Member> {
        std::iter::once(&self.caller)
            .chain(&self.members)
            .find(|m| m.user_uuid == user)
    }
}

/// identity-svc, as the domain needs it.
#[async_trait::async_trait]
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// The caller's context and the members `lookup` names; with `groups`, every group of the
    /// organization too.
    async fn context(&self, caller: &Caller, lookup: Lookup, groups: bool) -> Result<Context>;
}
