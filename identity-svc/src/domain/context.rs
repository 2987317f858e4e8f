//! Access contexts for other services: who the caller is in their organization (role and
//! groups), and the same for other members they name. projects-svc (and later others) decide
//! access on these facts on every request, so a role or group change holds on the next one.

use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use super::{Identity, caller, validate};
use crate::{
    error::{Error, Result},
    store::{AccessContexts, GroupRecord, MemberFilter, MemberRecord},
};

/// Most users one request may name.
pub const MAX_USERS: usize = 1000;

/// Which other members a caller asks about.
#[derive(Debug, Clone, Default)]
pub struct ContextQuery {
    pub user_uuids: Vec<String>,
    pub email: Option<String>,
    pub all_members: bool,
    pub include_groups: bool,
}

/// The caller's context, the members asked about, and the organization's groups.
#[derive(Debug)]
pub struct ContextAnswer {
    pub organization_uuid: Uuid,
    pub caller: (MemberRecord, Vec<Uuid>),
    pub members: Vec<(MemberRecord, Vec<Uuid>)>,
    pub groups: Vec<GroupRecord>,
}

impl Identity {
    /// The caller's organization, role and groups, and those of the members `query` names
    /// (members of the caller's organization only: anyone else is left out, as if unknown).
    pub async fn access_contexts(
        &self,
        claims: &AccessClaims,
        query: ContextQuery,
    ) -> Result<ContextAnswer> {
        let user = caller(claims)?;
        let org = self
            .store
            .membership(user)
            .await?
            .ok_or_else(|| {
                Error::PermissionDenied("You are not a member of an organization".into())
            })?
            .organization
            .organization_uuid;
        let filters = [
            (query.all_members, MemberFilter::All),
            (
                query.email.is_some(),
                MemberFilter::Email(
                    query
                        .email
                        .as_deref()
                        .map(validate::email)
                        .transpose()?
                        .unwrap_or_default(),
                ),
            ),
            (
                !query.user_uuids.is_empty(),
                MemberFilter::Users(parse_users(&query.user_uuids)?),
            ),
        ];
        let chosen: Vec<MemberFilter> = filters
            .into_iter()
            .filter_map(|(on, f)| on.then_some(f))
            .collect();
        if chosen.len() > 1 {
            return Err(Error::InvalidArgument(
                "give at most one of user_uuids, email and all_members".into(),
            ));
        }
        let AccessContexts { members, groups } = match chosen.into_iter().next() {
            Some(filter) => {
                self.store
                    .access_contexts(org, &filter, query.include_groups)
                    .await?
            }
            None if query.include_groups => {
                self.store
                    .access_contexts(org, &MemberFilter::Users(Vec::new()), true)
                    .await?
            }
            None => AccessContexts::default(),
        };
        let me = self
            .store
            .access_contexts(org, &MemberFilter::Users(vec![user]), false)
            .await?
            .members
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::PermissionDenied("You are not a member of an organization".into())
            })?;
        Ok(ContextAnswer {
            organization_uuid: org,
            caller: me,
            members,
            groups,
        })
    }
}

fn parse_users(ids: &[String]) -> Result<Vec<Uuid>> {
    if ids.len() > MAX_USERS {
        return Err(Error::InvalidArgument(
            format!("at most {MAX_USERS} users at once").into(),
        ));
    }
    // A malformed id cannot be a member: it is left out like any unknown one.
    Ok(ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect())
}
