//! Every gRPC method of identity-svc, projects-svc and connections-svc authenticates its caller (TK-1, TK-9):
//! user methods need a valid access JWT, pre-authentication methods need the internal caller's
//! credential. Calls made straight to the services, bypassing the gateway.

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use serde_json::json;
use service_kit::jwt::{SigningKey, TokenProfile, TokenRequest, TokenSigner};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

use crate::helpers::{TestApp, dual};

/// How a test call presents itself.
#[derive(Clone)]
enum As {
    Nobody,
    Bearer(String),
    Internal(String),
}

fn req<T>(msg: T, who: &As) -> Request<T> {
    let mut r = Request::new(msg);
    match who {
        As::Nobody => {}
        As::Bearer(t) => {
            r.metadata_mut().insert(
                "authorization",
                MetadataValue::try_from(format!("Bearer {t}")).unwrap(),
            );
        }
        As::Internal(c) => {
            r.metadata_mut().insert(
                "x-internal-credential",
                MetadataValue::try_from(c.as_str()).unwrap(),
            );
        }
    }
    r
}

/// Calls every user method; returns (method, code) for each.
async fn user_methods(
    c: &mut IdentityServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
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

/// Calls every pre-authentication method; returns (method, code) for each.
async fn internal_methods(
    c: &mut IdentityServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let email = format!("g-{}@example.com", uuid::Uuid::new_v4().simple());
    vec![
        (
            "RegisterUser",
            code(
                c.register_user(req(
                    pb::RegisterUserRequest {
                        email: email.clone(),
                        password: "long enough pw".into(),
                        first_name: "A".into(),
                        last_name: "B".into(),
                        invite_code: None,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RefreshSession",
            code(
                c.refresh_session(req(
                    pb::RefreshSessionRequest {
                        refresh_token: "ldsess_unknown".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Login",
            code(
                c.login(req(
                    pb::LoginRequest {
                        email,
                        password: "long enough pw".into(),
                        client_address: None,
                        api_client: false,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "Authenticate",
            code(
                c.authenticate(req(
                    pb::AuthenticateRequest {
                        credential: Some(
                            pb::authenticate_request::Credential::PersonalAccessToken(
                                "ldpat_x".into(),
                            ),
                        ),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetJwks",
            code(
                c.get_jwks(req(pb::GetJwksRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetInviteLink",
            code(
                c.get_invite_link(req(
                    pb::GetInviteLinkRequest {
                        invite_code: "ldinv_x".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

fn prost_types_ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

fn assert_all(results: &[(&str, Code)], expected: Code, context: &str) {
    for (method, code) in results {
        assert_eq!(*code, expected, "{method} {context}");
    }
}

async fn every_method_authenticates_its_caller(app: TestApp) {
    let mut client = IdentityServiceClient::new(app.identity_channel().await);
    let user = app.register().await;
    let (_, pat) = app.create_pat(&user, json!({"description": "grpc"})).await;
    let jwt = app.access_token(&pat).await;

    // Every method of the service is called below, as a user method or an internal one.
    let mut called: Vec<&str> = user_methods(&mut client, &As::Nobody)
        .await
        .iter()
        .chain(internal_methods(&mut client, &As::Nobody).await.iter())
        .map(|(m, _)| *m)
        .collect();
    called.sort_unstable();
    let declared = declared_methods("IdentityService");
    assert_eq!(called, declared, "every IdentityService method is covered");

    // No credential at all.
    assert_all(
        &user_methods(&mut client, &As::Nobody).await,
        Code::Unauthenticated,
        "without a token",
    );
    assert_all(
        &internal_methods(&mut client, &As::Nobody).await,
        Code::Unauthenticated,
        "without the internal credential",
    );

    // TK-1: a token signed by another key under the real kid, and an unsigned one.
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let forger = TokenSigner::new(
        TokenProfile::default(),
        SigningKey::from_seed(kid, [7u8; 32]),
    );
    let user_uuid = uuid::Uuid::parse_str(&user.user_uuid).unwrap();
    let (forged, _) = forger
        .sign(&TokenRequest {
            user_uuid,
            amr: "pwd",
            session_id: None,
            pat_id: None,
            pat_version: None,
            client_id: "forger",
        })
        .unwrap();
    assert_all(
        &user_methods(&mut client, &As::Bearer(forged)).await,
        Code::Unauthenticated,
        "with a forged token",
    );
    let mut parts: Vec<&str> = jwt.split('.').collect();
    parts[2] = "";
    assert_all(
        &user_methods(&mut client, &As::Bearer(parts.join("."))).await,
        Code::Unauthenticated,
        "with a stripped signature",
    );

    // A user's token does not open the internal methods, and a wrong credential does not either.
    assert_all(
        &internal_methods(&mut client, &As::Bearer(jwt.clone())).await,
        Code::Unauthenticated,
        "with a user token",
    );
    let wrong = As::Internal("x".repeat(64));
    assert_all(
        &internal_methods(&mut client, &wrong).await,
        Code::Unauthenticated,
        "with a wrong credential",
    );
    // The internal credential does not open user methods.
    let internal = As::Internal(app.internal_credential.clone());
    assert_all(
        &user_methods(&mut client, &internal).await,
        Code::Unauthenticated,
        "with only the internal credential",
    );

    // And the right credentials work.
    let me = client
        .get_current_user(req(pb::GetCurrentUserRequest {}, &As::Bearer(jwt)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user_uuid, user.user_uuid);
    let jwks = client
        .get_jwks(req(pb::GetJwksRequest {}, &internal))
        .await
        .unwrap()
        .into_inner();
    assert!(jwks.jwks_json.contains("Ed25519"));
    assert!(
        !jwks.jwks_json.contains("\"d\""),
        "no private key material is published"
    );
}

dual!(every_method_authenticates_its_caller);

/// The names of the methods of `service` declared in the protos.
fn declared_methods(service: &str) -> Vec<String> {
    let set =
        <prost_types::FileDescriptorSet as prost::Message>::decode(proto::FILE_DESCRIPTOR_SET)
            .unwrap();
    let mut names: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == service)
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect();
    names.sort_unstable();
    names
}

/// A fresh user's real access token (no organization yet), and the ways of calling that every
/// user method must refuse: no token, a token signed with a forged key under the real key id,
/// and the internal credential alone.
async fn real_and_refused(app: &TestApp) -> (String, Vec<(As, &'static str)>) {
    let user = app.register().await;
    let (_, pat) = app.create_pat(&user, json!({"description": "grpc"})).await;
    let jwt = app.access_token(&pat).await;
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let forger = TokenSigner::new(
        TokenProfile::default(),
        SigningKey::from_seed(kid, [9u8; 32]),
    );
    let (forged, _) = forger
        .sign(&TokenRequest {
            user_uuid: uuid::Uuid::parse_str(&user.user_uuid).unwrap(),
            amr: "pwd",
            session_id: None,
            pat_id: None,
            pat_version: None,
            client_id: "forger",
        })
        .unwrap();
    let refused = vec![
        (As::Nobody, "without a token"),
        (As::Bearer(forged), "with a forged token"),
        (
            As::Internal(app.internal_credential.clone()),
            "with only the internal credential",
        ),
    ];
    (jwt, refused)
}

/// Calls every method of projects-svc; returns (method, code) for each.
async fn projects_methods(
    c: &mut proto::projects::v1::projects_service_client::ProjectsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    use proto::projects::v1 as pp;
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let p = || uuid::Uuid::now_v7().to_string();
    vec![
        (
            "CreateProject",
            code(
                c.create_project(req(
                    pp::CreateProjectRequest {
                        name: "x".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListProjects",
            code(
                c.list_projects(req(pp::ListProjectsRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetProject",
            code(
                c.get_project(req(pp::GetProjectRequest { project_uuid: p() }, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "DeleteProject",
            code(
                c.delete_project(req(pp::DeleteProjectRequest { project_uuid: p() }, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "UpdateProjectMetadata",
            code(
                c.update_project_metadata(req(
                    pp::UpdateProjectMetadataRequest {
                        project_uuid: p(),
                        upstream_project_uuid: None,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateSchedulerSettings",
            code(
                c.update_scheduler_settings(req(
                    pp::UpdateSchedulerSettingsRequest {
                        project_uuid: p(),
                        scheduler_timezone: "UTC".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListProjectAccess",
            code(
                c.list_project_access(req(pp::ListProjectAccessRequest { project_uuid: p() }, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GrantProjectAccess",
            code(
                c.grant_project_access(req(
                    pp::GrantProjectAccessRequest {
                        project_uuid: p(),
                        email: "a@b.co".into(),
                        role: "viewer".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateProjectAccess",
            code(
                c.update_project_access(req(
                    pp::UpdateProjectAccessRequest {
                        project_uuid: p(),
                        user_uuid: p(),
                        role: "viewer".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RevokeProjectAccess",
            code(
                c.revoke_project_access(req(
                    pp::RevokeProjectAccessRequest {
                        project_uuid: p(),
                        user_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetProjectMemberAccess",
            code(
                c.get_project_member_access(req(
                    pp::GetProjectMemberAccessRequest {
                        project_uuid: p(),
                        user_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListProjectGroupAccess",
            code(
                c.list_project_group_access(req(
                    pp::ListProjectGroupAccessRequest { project_uuid: p() },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "SetProjectGroupAccess",
            code(
                c.set_project_group_access(req(
                    pp::SetProjectGroupAccessRequest {
                        project_uuid: p(),
                        group_uuid: p(),
                        role: "viewer".into(),
                        create: true,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RevokeProjectGroupAccess",
            code(
                c.revoke_project_group_access(req(
                    pp::RevokeProjectGroupAccessRequest {
                        project_uuid: p(),
                        group_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CreateSpace",
            code(
                c.create_space(req(
                    pp::CreateSpaceRequest {
                        project_uuid: p(),
                        name: "s".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListSpaceSummaries",
            code(
                c.list_space_summaries(req(
                    pp::ListSpaceSummariesRequest { project_uuid: p() },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetSpace",
            code(
                c.get_space(req(
                    pp::GetSpaceRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateSpace",
            code(
                c.update_space(req(
                    pp::UpdateSpaceRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteSpace",
            code(
                c.delete_space(req(
                    pp::DeleteSpaceRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ShareSpace",
            code(
                c.share_space(req(
                    pp::ShareSpaceRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                        grantee: Some(pp::share_space_request::Grantee::UserUuid(p())),
                        role: "viewer".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "RevokeSpaceShare",
            code(
                c.revoke_space_share(req(
                    pp::RevokeSpaceShareRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                        grantee: Some(pp::revoke_space_share_request::Grantee::GroupUuid(p())),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ExplainSpaceAccess",
            code(
                c.explain_space_access(req(
                    pp::ExplainSpaceAccessRequest {
                        project_uuid: p(),
                        space_uuid: p(),
                        user_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListTags",
            code(
                c.list_tags(req(pp::ListTagsRequest { project_uuid: p() }, who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "CreateTag",
            code(
                c.create_tag(req(
                    pp::CreateTagRequest {
                        project_uuid: p(),
                        name: "t".into(),
                        color: "#000".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateTag",
            code(
                c.update_tag(req(
                    pp::UpdateTagRequest {
                        project_uuid: p(),
                        tag_uuid: p(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteTag",
            code(
                c.delete_tag(req(
                    pp::DeleteTagRequest {
                        project_uuid: p(),
                        tag_uuid: p(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ReplaceYamlTags",
            code(
                c.replace_yaml_tags(req(
                    pp::ReplaceYamlTagsRequest {
                        project_uuid: p(),
                        tags: vec![],
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

async fn every_projects_method_authenticates_its_caller(app: TestApp) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.projects_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        proto::projects::v1::projects_service_client::ProjectsServiceClient::new(channel);
    let mut called: Vec<String> = projects_methods(&mut client, &As::Nobody)
        .await
        .iter()
        .map(|(m, _)| (*m).to_owned())
        .collect();
    called.sort_unstable();
    assert_eq!(
        called,
        declared_methods("ProjectsService"),
        "every method is covered"
    );

    let (jwt, refused) = real_and_refused(&app).await;
    for (who, context) in refused {
        assert_all(
            &projects_methods(&mut client, &who).await,
            Code::Unauthenticated,
            context,
        );
    }
    // The real token passes authentication; the user belongs to no organization yet.
    let r = client
        .list_projects(req(
            proto::projects::v1::ListProjectsRequest {},
            &As::Bearer(jwt),
        ))
        .await;
    assert_eq!(r.unwrap_err().code(), Code::PermissionDenied);
}

dual!(every_projects_method_authenticates_its_caller);

/// Calls every method of connections-svc; returns (method, code) for each.
async fn connections_methods(
    c: &mut proto::connections::v1::connections_service_client::ConnectionsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    use proto::connections::v1 as pc;
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let id = || uuid::Uuid::now_v7().to_string();
    let fields = || pc::ConnectionFields {
        provider: Some("postgres".into()),
        name: Some("x".into()),
        secrets: [("password".to_owned(), "canary-grpc".to_owned())].into(),
        ..Default::default()
    };
    vec![
        (
            "CreateConnection",
            code(
                c.create_connection(req(
                    pc::CreateConnectionRequest {
                        kind: pc::Kind::Shared as i32,
                        fields: Some(fields()),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetConnection",
            code(
                c.get_connection(req(
                    pc::GetConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListConnections",
            code(
                c.list_connections(req(
                    pc::ListConnectionsRequest {
                        kind: pc::Kind::Shared as i32,
                        provider: None,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateConnection",
            code(
                c.update_connection(req(
                    pc::UpdateConnectionRequest {
                        connection_uuid: id(),
                        fields: Some(fields()),
                        code: None,
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteConnection",
            code(
                c.delete_connection(req(
                    pc::DeleteConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "TestConnection",
            code(
                c.test_connection(req(
                    pc::TestConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetCredentialsPreference",
            code(
                c.get_credentials_preference(req(
                    pc::GetCredentialsPreferenceRequest {
                        project_uuid: id(),
                        warehouse_type: "postgres".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "SetCredentialsPreference",
            code(
                c.set_credentials_preference(req(
                    pc::SetCredentialsPreferenceRequest {
                        project_uuid: id(),
                        warehouse_type: "postgres".into(),
                        connection_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

async fn every_connections_method_authenticates_its_caller(app: TestApp) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.connections_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client =
        proto::connections::v1::connections_service_client::ConnectionsServiceClient::new(channel);
    let mut called: Vec<String> = connections_methods(&mut client, &As::Nobody)
        .await
        .iter()
        .map(|(m, _)| (*m).to_owned())
        .collect();
    called.sort_unstable();
    assert_eq!(
        called,
        declared_methods("ConnectionsService"),
        "every method is covered"
    );

    let (jwt, refused) = real_and_refused(&app).await;
    for (who, context) in refused {
        assert_all(
            &connections_methods(&mut client, &who).await,
            Code::Unauthenticated,
            context,
        );
    }
    // The real token passes authentication; the user belongs to no organization yet, so every
    // method is refused by the organization check, not by authentication.
    let results = connections_methods(&mut client, &As::Bearer(jwt)).await;
    assert_all(&results, Code::PermissionDenied, "without an organization");
    assert!(
        !crate::helpers::log_text().contains("canary-grpc"),
        "a secret sent over gRPC reached a log line"
    );
}

dual!(every_connections_method_authenticates_its_caller);
