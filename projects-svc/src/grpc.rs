//! The gRPC face of projects-svc: authenticates the caller (every method is a user method),
//! converts proto <-> domain, maps errors. Proto types stop here.

pub mod scopes;

use std::sync::Arc;

use proto::projects::v1 as pb;
use service_kit::{grpc::timestamp as ts, jwt::JwtVerifier};
use tonic::{Request, Response, Status};

use crate::domain::{
    directory::Caller,
    projects::{MemberRole, NewProject, ProjectView, Projects},
    spaces::{NewSpace, SpaceUpdate, SpaceView},
    tags::TagInput,
};
use crate::store::GrantRecord;

/// Implements `projects.v1.ProjectsService`.
#[derive(Debug, Clone)]
pub struct ProjectsGrpc {
    projects: Arc<Projects>,
    verifier: Arc<JwtVerifier>,
}

impl ProjectsGrpc {
    /// Builds the handler.
    pub fn new(projects: Arc<Projects>, verifier: Arc<JwtVerifier>) -> Self {
        Self { projects, verifier }
    }

    /// Verifies the caller's access token; the token itself is kept to ask identity-svc about
    /// the caller (it authorizes the caller again).
    async fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        service_kit::grpc::user_call(&self.verifier, req).await
    }
}

fn project_pb(v: ProjectView) -> pb::Project {
    let p = v.project;
    pb::Project {
        project_uuid: p.project_uuid.to_string(),
        organization_uuid: p.organization_uuid.to_string(),
        name: p.name,
        project_type: p.project_type,
        created_by_user_uuid: p.created_by_user_uuid.map(|u| u.to_string()),
        scheduler_timezone: p.scheduler_timezone,
        upstream_project_uuid: p.upstream_project_uuid.map(|u| u.to_string()),
        warehouse_connection_uuid: p.warehouse_connection_uuid.map(|u| u.to_string()),
        warehouse_type: p.warehouse_type,
        created_at: Some(ts(p.created_at)),
        caller_role: v.caller_role.as_str().to_owned(),
    }
}

fn member_pb(m: MemberRole) -> pb::ProjectMember {
    pb::ProjectMember {
        project_uuid: m.project_uuid.to_string(),
        user_uuid: m.member.user_uuid.to_string(),
        email: m.member.email,
        first_name: m.member.first_name,
        last_name: m.member.last_name,
        role: m.role.as_str().to_owned(),
    }
}

fn group_pb(g: GrantRecord) -> pb::ProjectGroupAccess {
    pb::ProjectGroupAccess {
        project_uuid: g.project_uuid.to_string(),
        group_uuid: g.grantee_uuid.to_string(),
        role: g.role,
    }
}

#[tonic::async_trait]
impl pb::projects_service_server::ProjectsService for ProjectsGrpc {
    async fn create_project(
        &self,
        req: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let view = self
            .projects
            .create(
                &caller,
                NewProject {
                    name: r.name,
                    warehouse_connection_uuid: r.warehouse_connection_uuid,
                    upstream_project_uuid: r.upstream_project_uuid,
                    warehouse_type: r.warehouse_type,
                    project_type: r.project_type,
                },
            )
            .await?;
        Ok(Response::new(project_pb(view)))
    }

    async fn list_projects(
        &self,
        req: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let caller = self.caller(&req).await?;
        let projects = self.projects.list(&caller).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: projects.into_iter().map(project_pb).collect(),
        }))
    }

    async fn get_project(
        &self,
        req: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let caller = self.caller(&req).await?;
        let view = self
            .projects
            .get(&caller, &req.into_inner().project_uuid)
            .await?;
        Ok(Response::new(project_pb(view)))
    }

    async fn delete_project(
        &self,
        req: Request<pb::DeleteProjectRequest>,
    ) -> Result<Response<pb::DeleteProjectResponse>, Status> {
        let caller = self.caller(&req).await?;
        self.projects
            .delete(&caller, &req.into_inner().project_uuid)
            .await?;
        Ok(Response::new(pb::DeleteProjectResponse {}))
    }

    async fn update_project_metadata(
        &self,
        req: Request<pb::UpdateProjectMetadataRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let view = self
            .projects
            .update_metadata(&caller, &r.project_uuid, r.upstream_project_uuid.as_deref())
            .await?;
        Ok(Response::new(project_pb(view)))
    }

    async fn update_scheduler_settings(
        &self,
        req: Request<pb::UpdateSchedulerSettingsRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let view = self
            .projects
            .update_scheduler(&caller, &r.project_uuid, &r.scheduler_timezone)
            .await?;
        Ok(Response::new(project_pb(view)))
    }

    async fn list_project_access(
        &self,
        req: Request<pb::ListProjectAccessRequest>,
    ) -> Result<Response<pb::ListProjectAccessResponse>, Status> {
        let caller = self.caller(&req).await?;
        let members = self
            .projects
            .user_access(&caller, &req.into_inner().project_uuid)
            .await?;
        Ok(Response::new(pb::ListProjectAccessResponse {
            members: members.into_iter().map(member_pb).collect(),
        }))
    }

    async fn grant_project_access(
        &self,
        req: Request<pb::GrantProjectAccessRequest>,
    ) -> Result<Response<pb::ProjectMember>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let m = self
            .projects
            .grant_user(&caller, &r.project_uuid, &r.email, &r.role)
            .await?;
        Ok(Response::new(member_pb(m)))
    }

    async fn update_project_access(
        &self,
        req: Request<pb::UpdateProjectAccessRequest>,
    ) -> Result<Response<pb::ProjectMember>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let m = self
            .projects
            .update_user(&caller, &r.project_uuid, &r.user_uuid, &r.role)
            .await?;
        Ok(Response::new(member_pb(m)))
    }

    async fn revoke_project_access(
        &self,
        req: Request<pb::RevokeProjectAccessRequest>,
    ) -> Result<Response<pb::RevokeProjectAccessResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        self.projects
            .revoke_user(&caller, &r.project_uuid, &r.user_uuid)
            .await?;
        Ok(Response::new(pb::RevokeProjectAccessResponse {}))
    }

    async fn get_project_member_access(
        &self,
        req: Request<pb::GetProjectMemberAccessRequest>,
    ) -> Result<Response<pb::ProjectMember>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let m = self
            .projects
            .member_access(&caller, &r.project_uuid, &r.user_uuid)
            .await?;
        Ok(Response::new(member_pb(m)))
    }

    async fn list_project_group_access(
        &self,
        req: Request<pb::ListProjectGroupAccessRequest>,
    ) -> Result<Response<pb::ListProjectGroupAccessResponse>, Status> {
        let caller = self.caller(&req).await?;
        let groups = self
            .projects
            .group_access(&caller, &req.into_inner().project_uuid)
            .await?;
        Ok(Response::new(pb::ListProjectGroupAccessResponse {
            groups: groups.into_iter().map(group_pb).collect(),
        }))
    }

    async fn set_project_group_access(
        &self,
        req: Request<pb::SetProjectGroupAccessRequest>,
    ) -> Result<Response<pb::ProjectGroupAccess>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let g = self
            .projects
            .set_group(&caller, &r.project_uuid, &r.group_uuid, &r.role, r.create)
            .await?;
        Ok(Response::new(group_pb(g)))
    }

    async fn revoke_project_group_access(
        &self,
        req: Request<pb::RevokeProjectGroupAccessRequest>,
    ) -> Result<Response<pb::RevokeProjectGroupAccessResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        self.projects
            .revoke_group(&caller, &r.project_uuid, &r.group_uuid)
            .await?;
        Ok(Response::new(pb::RevokeProjectGroupAccessResponse {}))
    }

    async fn create_space(
        &self,
        req: Request<pb::CreateSpaceRequest>,
    ) -> Result<Response<pb::Space>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let v = self
            .projects
            .create_space(
                &caller,
                &r.project_uuid,
                NewSpace {
                    name: r.name,
                    is_private: r.is_private,
                    access: r
                        .access
                        .into_iter()
                        .map(|g| (g.user_uuid, g.role))
                        .collect(),
                    parent_space_uuid: r.parent_space_uuid,
                    inherit_parent_permissions: r.inherit_parent_permissions,
                },
            )
            .await?;
        Ok(Response::new(space_pb(v)))
    }

    async fn list_space_summaries(
        &self,
        req: Request<pb::ListSpaceSummariesRequest>,
    ) -> Result<Response<pb::ListSpaceSummariesResponse>, Status> {
        let caller = self.caller(&req).await?;
        let listing = self
            .projects
            .list_spaces(&caller, &req.into_inner().project_uuid)
            .await?;
        let mut spaces = Vec::with_capacity(listing.len());
        for (s, is_private, users) in listing.iter() {
            spaces.push(pb::SpaceSummary {
                space_uuid: s.space_uuid.to_string(),
                name: s.name.clone(),
                slug: s.slug.clone(),
                is_private,
                parent_space_uuid: s.parent_space_uuid.map(|u| u.to_string()),
                inherit_parent_permissions: s.inherit_parent_permissions,
                direct_user_uuids: users.iter().map(|g| g.grantee_uuid.to_string()).collect(),
            });
        }
        Ok(Response::new(pb::ListSpaceSummariesResponse {
            project_uuid: listing.project_uuid.to_string(),
            organization_uuid: listing.organization_uuid.to_string(),
            spaces,
        }))
    }

    async fn get_space(
        &self,
        req: Request<pb::GetSpaceRequest>,
    ) -> Result<Response<pb::Space>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let v = self
            .projects
            .get_space(&caller, &r.project_uuid, &r.space_uuid)
            .await?;
        Ok(Response::new(space_pb(v)))
    }

    async fn update_space(
        &self,
        req: Request<pb::UpdateSpaceRequest>,
    ) -> Result<Response<pb::Space>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let v = self
            .projects
            .update_space(
                &caller,
                &r.project_uuid,
                &r.space_uuid,
                SpaceUpdate {
                    name: r.name,
                    is_private: r.is_private,
                    inherit_parent_permissions: r.inherit_parent_permissions,
                },
            )
            .await?;
        Ok(Response::new(space_pb(v)))
    }

    async fn delete_space(
        &self,
        req: Request<pb::DeleteSpaceRequest>,
    ) -> Result<Response<pb::DeleteSpaceResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        self.projects
            .delete_space(&caller, &r.project_uuid, &r.space_uuid)
            .await?;
        Ok(Response::new(pb::DeleteSpaceResponse {}))
    }

    async fn share_space(
        &self,
        req: Request<pb::ShareSpaceRequest>,
    ) -> Result<Response<pb::ShareSpaceResponse>, Status> {
        use pb::share_space_request::Grantee;
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        match r.grantee {
            Some(Grantee::UserUuid(u)) => {
                self.projects
                    .share_with_user(&caller, &r.project_uuid, &r.space_uuid, &u, &r.role)
                    .await?
            }
            Some(Grantee::GroupUuid(g)) => {
                self.projects
                    .share_with_group(&caller, &r.project_uuid, &r.space_uuid, &g, &r.role)
                    .await?
            }
            None => return Err(Status::invalid_argument("a user or a group is required")),
        }
        Ok(Response::new(pb::ShareSpaceResponse {}))
    }

    async fn revoke_space_share(
        &self,
        req: Request<pb::RevokeSpaceShareRequest>,
    ) -> Result<Response<pb::RevokeSpaceShareResponse>, Status> {
        use pb::revoke_space_share_request::Grantee;
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        match r.grantee {
            Some(Grantee::UserUuid(u)) => {
                self.projects
                    .revoke_space_user(&caller, &r.project_uuid, &r.space_uuid, &u)
                    .await?
            }
            Some(Grantee::GroupUuid(g)) => {
                self.projects
                    .revoke_space_group(&caller, &r.project_uuid, &r.space_uuid, &g)
                    .await?
            }
            None => return Err(Status::invalid_argument("a user or a group is required")),
        }
        Ok(Response::new(pb::RevokeSpaceShareResponse {}))
    }

    async fn explain_space_access(
        &self,
        req: Request<pb::ExplainSpaceAccessRequest>,
    ) -> Result<Response<pb::SpaceAccessExplanation>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let (member, decision) = self
            .projects
            .explain(&caller, &r.project_uuid, &r.space_uuid, &r.user_uuid)
            .await?;
        Ok(Response::new(pb::SpaceAccessExplanation {
            user_uuid: member.user_uuid.to_string(),
            space_uuid: r.space_uuid,
            role: decision.role.map(|r| r.as_str().to_owned()),
            steps: decision
                .steps
                .into_iter()
                .map(|s| pb::AccessStep {
                    rule: s.rule.as_str().to_owned(),
                    space_uuid: s.space_uuid.map(|u| u.to_string()),
                    role: s.role.map(str::to_owned),
                    detail: s.detail,
                })
                .collect(),
        }))
    }

    async fn list_tags(
        &self,
        req: Request<pb::ListTagsRequest>,
    ) -> Result<Response<pb::ListTagsResponse>, Status> {
        let caller = self.caller(&req).await?;
        let tags = self
            .projects
            .list_tags(&caller, &req.into_inner().project_uuid)
            .await?;
        Ok(Response::new(pb::ListTagsResponse {
            tags: tags
                .into_iter()
                .map(|t| pb::Tag {
                    tag_uuid: t.tag.tag_uuid.to_string(),
                    project_uuid: t.tag.project_uuid.to_string(),
                    name: t.tag.name,
                    color: t.tag.color,
                    yaml_reference: t.tag.yaml_reference,
                    created_at: Some(ts(t.tag.created_at)),
                    created_by: t.created_by.map(|m| pb::TagCreator {
                        user_uuid: m.user_uuid.to_string(),
                        first_name: m.first_name,
                        last_name: m.last_name,
                    }),
                })
                .collect(),
        }))
    }

    async fn create_tag(
        &self,
        req: Request<pb::CreateTagRequest>,
    ) -> Result<Response<pb::CreateTagResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let id = self
            .projects
            .create_tag(
                &caller,
                &r.project_uuid,
                TagInput {
                    name: r.name,
                    color: r.color,
                    yaml_reference: None,
                },
            )
            .await?;
        Ok(Response::new(pb::CreateTagResponse {
            tag_uuid: id.to_string(),
        }))
    }

    async fn update_tag(
        &self,
        req: Request<pb::UpdateTagRequest>,
    ) -> Result<Response<pb::UpdateTagResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        self.projects
            .update_tag(
                &caller,
                &r.project_uuid,
                &r.tag_uuid,
                r.name.as_deref(),
                r.color.as_deref(),
            )
            .await?;
        Ok(Response::new(pb::UpdateTagResponse {}))
    }

    async fn delete_tag(
        &self,
        req: Request<pb::DeleteTagRequest>,
    ) -> Result<Response<pb::DeleteTagResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        self.projects
            .delete_tag(&caller, &r.project_uuid, &r.tag_uuid)
            .await?;
        Ok(Response::new(pb::DeleteTagResponse {}))
    }

    async fn replace_yaml_tags(
        &self,
        req: Request<pb::ReplaceYamlTagsRequest>,
    ) -> Result<Response<pb::ReplaceYamlTagsResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let tags = r
            .tags
            .into_iter()
            .map(|t| TagInput {
                name: t.name,
                color: t.color,
                yaml_reference: Some(t.yaml_reference),
            })
            .collect();
        self.projects
            .replace_yaml_tags(&caller, &r.project_uuid, tags)
            .await?;
        Ok(Response::new(pb::ReplaceYamlTagsResponse {}))
    }
}

fn space_pb(v: SpaceView) -> pb::Space {
    let s = v.space;
    pb::Space {
        space_uuid: s.space_uuid.to_string(),
        project_uuid: s.project_uuid.to_string(),
        organization_uuid: v.organization_uuid.to_string(),
        name: s.name,
        slug: s.slug,
        is_private: s.is_private,
        parent_space_uuid: s.parent_space_uuid.map(|u| u.to_string()),
        inherit_parent_permissions: s.inherit_parent_permissions,
        caller_role: v.caller_role.as_str().to_owned(),
        access: v
            .access
            .into_iter()
            .map(|a| pb::SpaceShare {
                user_uuid: a.member.user_uuid.to_string(),
                email: a.member.email,
                first_name: a.member.first_name,
                last_name: a.member.last_name,
                role: a.role.as_str().to_owned(),
                has_direct_access: a.has_direct_access,
                project_role: a.project_role.map(|r| r.as_str().to_owned()),
                inherited_from: a.inherited_from.map(str::to_owned),
            })
            .collect(),
        groups_access: v
            .groups_access
            .into_iter()
            .map(|(g, name, role)| pb::SpaceGroup {
                group_uuid: g.to_string(),
                group_name: name,
                role: role.as_str().to_owned(),
            })
            .collect(),
        direct_user_uuids: v.direct_users.iter().map(ToString::to_string).collect(),
    }
}
