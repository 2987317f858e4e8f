//! projects-svc: every method refuses no token, a forged token and the internal credential
//! alone; a real token passes authentication.

use tonic::{Code, transport::Channel};

use super::{As, assert_all, declared_methods, real_and_refused, req};
use crate::helpers::{TestApp, dual};

/// Calls every method of projects-svc; returns (method, code) for each.
async fn projects_methods(
    c: &mut proto::projects::v1::projects_service_client::ProjectsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    let mut all = projects_and_grants(c, who).await;
    all.extend(spaces_and_tags(c, who).await);
    all
}

/// The code a call answered (OK for a success).
fn code(r: Result<(), tonic::Status>) -> Code {
    r.err().map(|s| s.code()).unwrap_or(Code::Ok)
}

/// Projects and their user and group grants.
async fn projects_and_grants(
    c: &mut proto::projects::v1::projects_service_client::ProjectsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    use proto::projects::v1 as pp;
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
    ]
}

/// Spaces, their shares, and tags.
async fn spaces_and_tags(
    c: &mut proto::projects::v1::projects_service_client::ProjectsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    use proto::projects::v1 as pp;
    let p = || uuid::Uuid::now_v7().to_string();
    vec![
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
