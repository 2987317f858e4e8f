//! identity-svc's user methods, each called once as a given caller: the table
//! `identity::every_method_authenticates_its_caller` checks.

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use tonic::{Code, transport::Channel};

use super::{As, prost_types_ts, req};

/// Calls every user method; returns (method, code) for each.
pub(super) async fn user_methods(
    c: &mut IdentityServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    let mut all = the_caller_and_their_tokens(c, who).await;
    all.extend(the_organization(c, who).await);
    all.extend(groups(c, who).await);
    all.extend(the_rest(c, who).await);
    all
}

/// The code a call answered (OK for a success).
fn code(r: Result<(), tonic::Status>) -> Code {
    r.err().map(|s| s.code()).unwrap_or(Code::Ok)
}

/// The caller themselves and their personal access tokens.
async fn the_caller_and_their_tokens(
    c: &mut IdentityServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    vec![
        (
            "GetCurrentUser",
            code(
                c.get_current_user(req(pb::GetCurrentUserRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "Logout",
            code(c.logout(req(pb::LogoutRequest {}, who)).await.map(|_| ())),
        ),
        (
            "ChangePassword",
            code(
                c.change_password(req(
                    pb::ChangePasswordRequest {
                        current_password: "long enough pw".into(),
                        new_password: "long enough pw 2".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "EndAllSessions",
            code(
                c.end_all_sessions(req(pb::EndAllSessionsRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "CreatePersonalAccessToken",
            code(
                c.create_personal_access_token(req(
                    pb::CreatePersonalAccessTokenRequest {
                        description: "x".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListPersonalAccessTokens",
            code(
                c.list_personal_access_tokens(req(pb::ListPersonalAccessTokensRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "DeletePersonalAccessToken",
            code(
                c.delete_personal_access_token(req(
                    pb::DeletePersonalAccessTokenRequest {
                        uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RotatePersonalAccessToken",
            code(
                c.rotate_personal_access_token(req(
                    pb::RotatePersonalAccessTokenRequest {
                        uuid: uuid::Uuid::now_v7().to_string(),
                        expires_at: Some(prost_types_ts(4_000_000_000)),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

/// The organization, its members and invitations.
async fn the_organization(
    c: &mut IdentityServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    vec![
        (
            "CreateOrganization",
            code(
                c.create_organization(req(pb::CreateOrganizationRequest { name: "x".into() }, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetMyOrganization",
            code(
                c.get_my_organization(req(pb::GetMyOrganizationRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "UpdateMyOrganization",
            code(
                c.update_my_organization(req(pb::UpdateMyOrganizationRequest::default(), who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "DeleteOrganization",
            code(
                c.delete_organization(req(
                    pb::DeleteOrganizationRequest {
                        organization_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListOrganizationMembers",
            code(
                c.list_organization_members(req(
                    pb::ListOrganizationMembersRequest::default(),
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetOrganizationMember",
            code(
                c.get_organization_member(req(
                    pb::GetOrganizationMemberRequest {
                        user_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateOrganizationMember",
            code(
                c.update_organization_member(req(
                    pb::UpdateOrganizationMemberRequest {
                        user_uuid: uuid::Uuid::now_v7().to_string(),
                        organization_role: pb::OrganizationRole::Admin.into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RemoveOrganizationMember",
            code(
                c.remove_organization_member(req(
                    pb::RemoveOrganizationMemberRequest {
                        user_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CreateInviteLink",
            code(
                c.create_invite_link(req(
                    pb::CreateInviteLinkRequest {
                        email: "i@example.com".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RevokeAllInviteLinks",
            code(
                c.revoke_all_invite_links(req(pb::RevokeAllInviteLinksRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
    ]
}

/// Groups and their members.
async fn groups(c: &mut IdentityServiceClient<Channel>, who: &As) -> Vec<(&'static str, Code)> {
    vec![
        (
            "CreateGroup",
            code(
                c.create_group(req(
                    pb::CreateGroupRequest {
                        name: "g".into(),
                        member_uuids: vec![],
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListGroups",
            code(
                c.list_groups(req(pb::ListGroupsRequest::default(), who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetGroup",
            code(
                c.get_group(req(
                    pb::GetGroupRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                        include_members: true,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateGroup",
            code(
                c.update_group(req(
                    pb::UpdateGroupRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteGroup",
            code(
                c.delete_group(req(
                    pb::DeleteGroupRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListGroupMembers",
            code(
                c.list_group_members(req(
                    pb::ListGroupMembersRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "AddGroupMember",
            code(
                c.add_group_member(req(
                    pb::AddGroupMemberRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                        user_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RemoveGroupMember",
            code(
                c.remove_group_member(req(
                    pb::RemoveGroupMemberRequest {
                        group_uuid: uuid::Uuid::now_v7().to_string(),
                        user_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

/// Leaving, user attributes, access contexts, email verification and joining by domain.
async fn the_rest(c: &mut IdentityServiceClient<Channel>, who: &As) -> Vec<(&'static str, Code)> {
    vec![
        (
            "DeleteMe",
            code(
                c.delete_me(req(pb::DeleteMeRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "ListUserAttributes",
            code(
                c.list_user_attributes(req(pb::ListUserAttributesRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "SaveUserAttribute",
            code(
                c.save_user_attribute(req(
                    pb::SaveUserAttributeRequest {
                        name: "a".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteUserAttribute",
            code(
                c.delete_user_attribute(req(
                    pb::DeleteUserAttributeRequest {
                        attribute_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetAccessContexts",
            code(
                c.get_access_contexts(req(
                    pb::GetAccessContextsRequest {
                        all_members: true,
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetEmailStatus",
            code(
                c.get_email_status(req(
                    pb::GetEmailStatusRequest {
                        passcode: Some("123456".into()),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CreateEmailPasscode",
            code(
                c.create_email_passcode(req(pb::CreateEmailPasscodeRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "ListAllowedOrganizations",
            code(
                c.list_allowed_organizations(req(pb::ListAllowedOrganizationsRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "JoinOrganization",
            code(
                c.join_organization(req(
                    pb::JoinOrganizationRequest {
                        organization_uuid: uuid::Uuid::now_v7().to_string(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetAllowedEmailDomains",
            code(
                c.get_allowed_email_domains(req(pb::GetAllowedEmailDomainsRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "SetAllowedEmailDomains",
            code(
                c.set_allowed_email_domains(req(
                    pb::SetAllowedEmailDomainsRequest {
                        email_domains: vec![],
                        organization_role: pb::OrganizationRole::Viewer.into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}
