//! `identity.v1.Accounts`: accounts, sub-accounts and their allowed IPs, served by the same
//! handler (and the same caller authentication) as `identity.v1.IdentityService`.

use proto::identity::v1 as pb;
use secrecy::ExposeSecret;
use service_kit::grpc::{client_address, timestamp as ts};
use tonic::{Request, Response, Status};

use super::{
    IdentityGrpc,
    invites::{invite_pb, invited_role},
};
use crate::{
    domain::accounts::{AccountUpdate, FoundAccount, PageRequest},
    store::{AccountRecord, AllowedIpRecord},
};

#[tonic::async_trait]
impl pb::accounts_server::Accounts for IdentityGrpc {
    async fn create_sub_account(
        &self,
        req: Request<pb::CreateSubAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let claims = self.principal(&req, "CreateSubAccount").await?;
        let r = req.into_inner();
        let account = self
            .identity
            .create_sub_account(&claims, &r.name, r.parent_uuid.as_deref())
            .await?;
        Ok(Response::new(account_pb(account)))
    }

    async fn list_accounts(
        &self,
        req: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let claims = self.principal(&req, "ListAccounts").await?;
        let r = req.into_inner();
        let page = PageRequest {
            limit: r.limit,
            after: r.after,
            before: r.before,
            filter: r.filter,
            organization_uuid: r.organization_uuid,
            email: r.email,
        };
        let list = self.identity.list_accounts(&claims, page).await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: list.accounts.into_iter().map(account_pb).collect(),
            after: list.after.map(|u| u.to_string()),
            before: list.before.map(|u| u.to_string()),
            limit: list.limit,
            total: list.total,
        }))
    }

    async fn get_account(
        &self,
        req: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let claims = self.principal(&req, "GetAccount").await?;
        let r = req.into_inner();
        let found = match (own_or(&r.organization_uuid), r.email) {
            (Some(_), Some(_)) => {
                return Err(Status::invalid_argument(
                    "name the account by organization_uuid or by email, not both",
                ));
            }
            (None, Some(email)) => {
                FoundAccount::Open(self.identity.get_account_by_email(&claims, &email).await?)
            }
            (id, None) => self.identity.get_account(&claims, id).await?,
        };
        Ok(Response::new(match found {
            FoundAccount::Open(account) => account_pb(account),
            FoundAccount::Closed(id) => pb::Account {
                organization_uuid: id.to_string(),
                closed: true,
                ..pb::Account::default()
            },
        }))
    }

    async fn update_account(
        &self,
        req: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let claims = self.principal(&req, "UpdateAccount").await?;
        let client_address = client_address(req.metadata()).map(str::to_owned);
        let r = req.into_inner();
        let update = AccountUpdate {
            name: r.name,
            legacy_access: r.legacy_access,
            lrn_access: r.lrn_access,
            mms_access: r.mms_access,
            sms_access: r.sms_access,
            require_ip_api_access: r.require_ip_api_access,
            require_ip_gql_access: r.require_ip_gql_access,
            email: r.email,
            client_address,
        };
        let account = self
            .identity
            .update_account(&claims, own_or(&r.organization_uuid), update)
            .await?;
        Ok(Response::new(account_pb(account)))
    }

    async fn list_allowed_ips(
        &self,
        req: Request<pb::ListAllowedIpsRequest>,
    ) -> Result<Response<pb::ListAllowedIpsResponse>, Status> {
        let claims = self.principal(&req, "ListAllowedIps").await?;
        let ips = self
            .identity
            .list_allowed_ips(&claims, &req.get_ref().organization_uuid)
            .await?;
        Ok(Response::new(pb::ListAllowedIpsResponse {
            allowed_ips: ips.into_iter().map(allowed_ip_pb).collect(),
        }))
    }

    async fn add_allowed_ip(
        &self,
        req: Request<pb::AddAllowedIpRequest>,
    ) -> Result<Response<pb::AllowedIp>, Status> {
        let claims = self.principal(&req, "AddAllowedIp").await?;
        let r = req.into_inner();
        let ip = self
            .identity
            .add_allowed_ip(&claims, &r.organization_uuid, &r.cidr, &r.description)
            .await?;
        Ok(Response::new(allowed_ip_pb(ip)))
    }

    async fn delete_allowed_ip(
        &self,
        req: Request<pb::DeleteAllowedIpRequest>,
    ) -> Result<Response<pb::DeleteAllowedIpResponse>, Status> {
        let claims = self.principal(&req, "DeleteAllowedIp").await?;
        let client = client_address(req.metadata());
        let r = req.get_ref();
        self.identity
            .delete_allowed_ip(&claims, &r.organization_uuid, &r.allowed_ip_uuid, client)
            .await?;
        Ok(Response::new(pb::DeleteAllowedIpResponse {}))
    }

    async fn create_account_invitation(
        &self,
        req: Request<pb::CreateAccountInvitationRequest>,
    ) -> Result<Response<pb::InviteLink>, Status> {
        let claims = self.principal(&req, "CreateAccountInvitation").await?;
        let r = req.into_inner();
        let role = invited_role(r.organization_role)?;
        self.admin_grant(&claims, role)?;
        let new = self
            .identity
            .create_account_invitation(&claims, &r.organization_uuid, &r.email, role)
            .await?;
        Ok(Response::new(invite_pb(
            new.code.expose_secret().to_owned(),
            new.invite,
            new.email,
        )))
    }

    async fn close_account(
        &self,
        req: Request<pb::CloseAccountRequest>,
    ) -> Result<Response<pb::CloseAccountResponse>, Status> {
        let claims = self.principal(&req, "CloseAccount").await?;
        let closed = self
            .identity
            .close_account(&claims, own_or(&req.get_ref().organization_uuid))
            .await?;
        Ok(Response::new(pb::CloseAccountResponse {
            organization_uuids: closed
                .organizations
                .iter()
                .map(ToString::to_string)
                .collect(),
            users_removed: u64::try_from(closed.users.len()).unwrap_or(u64::MAX),
        }))
    }

    async fn create_account(
        &self,
        req: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        let claims = self.principal(&req, "CreateAccount").await?;
        let r = req.into_inner();
        let new = self
            .identity
            .create_account(&claims, &r.name, &r.email, &r.invitation_link_base)
            .await?;
        let u = new.user;
        Ok(Response::new(pb::CreateAccountResponse {
            user: Some(pb::AccountUser {
                user_uuid: u.user_uuid.to_string(),
                organization_uuid: new.account.organization_uuid.to_string(),
                email: u.email,
                first_name: u.first_name,
                last_name: u.last_name,
                organization_role: new.role.into(),
                created_at: Some(ts(u.created_at)),
                updated_at: Some(ts(u.updated_at)),
            }),
            account: Some(account_pb(new.account)),
        }))
    }
}

/// The account a request names: None (the caller's own) when `id` is empty.
fn own_or(id: &str) -> Option<&str> {
    Some(id).filter(|id| !id.is_empty())
}

fn account_pb(a: AccountRecord) -> pb::Account {
    pb::Account {
        organization_uuid: a.organization_uuid.to_string(),
        parent_uuid: a.parent_uuid.map(|u| u.to_string()),
        name: a.name,
        customer_id: a.customer_id,
        legacy_access: a.legacy_access,
        lrn_access: a.lrn_access,
        mms_access: a.mms_access,
        sms_access: a.sms_access,
        require_ip_api_access: a.require_ip_api_access,
        require_ip_gql_access: a.require_ip_gql_access,
        depth: u32::try_from(a.depth).unwrap_or(0),
        created_at: Some(ts(a.created_at)),
        updated_at: Some(ts(a.updated_at)),
        // An open account (GetAccount answers an operator a closed one's tombstone).
        closed: false,
        email: a.email,
    }
}

fn allowed_ip_pb(ip: AllowedIpRecord) -> pb::AllowedIp {
    pb::AllowedIp {
        allowed_ip_uuid: ip.allowed_ip_uuid.to_string(),
        organization_uuid: ip.organization_uuid.to_string(),
        cidr: ip.cidr,
        description: ip.description,
        created_at: Some(ts(ip.created_at)),
    }
}
