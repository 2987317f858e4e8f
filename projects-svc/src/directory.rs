//! The [`Directory`] over identity-svc's gRPC API: each lookup is one `GetAccessContexts` call
//! made with the caller's own access token, so identity-svc authorizes it as the caller.

use proto::identity::v1 as pb;
use service_kit::identity::{Identity, answered_role};
use tonic::Code;
use uuid::Uuid;

use crate::{
    domain::directory::{Caller, Context, Directory, Lookup, Member},
    error::{Error, Result},
};

/// identity-svc as the projects domain's directory.
#[derive(Debug, Clone)]
pub struct IdentityDirectory(pub Identity);

fn uuid(field: &str, value: &str) -> Result<Uuid> {
    Uuid::parse_str(value)
        .map_err(|_| Error::Internal(anyhow::anyhow!("identity-svc sent a malformed {field}")))
}

fn member(c: pb::AccessContext) -> Result<Member> {
    Ok(Member {
        user_uuid: uuid("user uuid", &c.user_uuid)?,
        role: answered_role(c.organization_role)?,
        email: c.email,
        first_name: c.first_name,
        last_name: c.last_name,
        groups: c
            .group_uuids
            .iter()
            .map(|g| uuid("group uuid", g))
            .collect::<Result<_>>()?,
    })
}

/// Most users identity-svc answers about in one call.
const CHUNK: usize = 1000;

#[async_trait::async_trait]
impl Directory for IdentityDirectory {
    async fn context(&self, caller: &Caller, lookup: Lookup, groups: bool) -> Result<Context> {
        // Long lists of users go in chunks identity-svc accepts, merged into one answer.
        if let Lookup::Users(ids) = &lookup
            && ids.len() > CHUNK
        {
            let mut merged: Option<Context> = None;
            for (i, chunk) in ids.chunks(CHUNK).enumerate() {
                let part = self
                    .one_call(caller, Lookup::Users(chunk.to_vec()), groups && i == 0)
                    .await?;
                match &mut merged {
                    None => merged = Some(part),
                    Some(m) => m.members.extend(part.members),
                }
            }
            return merged.ok_or_else(|| Error::Internal(anyhow::anyhow!("no chunk")));
        }
        self.one_call(caller, lookup, groups).await
    }
}

impl IdentityDirectory {
    async fn one_call(&self, caller: &Caller, lookup: Lookup, groups: bool) -> Result<Context> {
        let mut msg = pb::GetAccessContextsRequest {
            include_groups: groups,
            ..Default::default()
        };
        match lookup {
            Lookup::None => {}
            Lookup::Users(ids) => msg.user_uuids = ids.iter().map(Uuid::to_string).collect(),
            Lookup::Email(email) => msg.email = Some(email),
            Lookup::All => msg.all_members = true,
        }
        let req = self.0.as_user(msg, caller);
        let res = self
            .0
            .rpc()
            .get_access_contexts(req)
            .await
            .map_err(|s| match s.code() {
                Code::Unauthenticated => Error::Unauthenticated(s.message().to_owned().into()),
                Code::PermissionDenied => Error::PermissionDenied(s.message().to_owned().into()),
                Code::InvalidArgument => Error::InvalidArgument(s.message().to_owned().into()),
                Code::Unavailable | Code::DeadlineExceeded => {
                    Error::Unavailable("identity-svc is unavailable; try again".into())
                }
                _ => Error::Internal(anyhow::anyhow!("identity-svc: {s}")),
            })?
            .into_inner();
        let caller = member(res.caller.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("identity-svc sent no caller context"))
        })?)?;
        Ok(Context {
            organization_uuid: uuid("organization uuid", &res.organization_uuid)?,
            caller,
            members: res.members.into_iter().map(member).collect::<Result<_>>()?,
            groups: res
                .groups
                .into_iter()
                .map(|g| Ok((uuid("group uuid", &g.group_uuid)?, g.name)))
                .collect::<Result<_>>()?,
        })
    }
}
