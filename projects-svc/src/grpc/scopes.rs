//! What each method of projects-svc needs from its caller's token (issue #18 item 6; the guard
//! is `service_kit::grpc::guard`). Every method of `projects.v1.ProjectsService` is here: the
//! tests below hold the table to the descriptor.

use service_kit::{
    grpc::guard::{Access, MethodTable},
    scope::Scope,
};

const READ: Access = Access::User(Scope::Read);
const WRITE: Access = Access::User(Scope::Write);

/// `projects.v1.ProjectsService`. No method needs `admin`: the account-level actions are
/// identity-svc's, which alone reads `RECENT_LOGIN_SECONDS`.
pub const PROJECTS: MethodTable = &[
    ("ListProjects", READ),
    ("GetProject", READ),
    ("ListProjectAccess", READ),
    ("GetProjectMemberAccess", READ),
    ("ListProjectGroupAccess", READ),
    ("ListSpaceSummaries", READ),
    ("GetSpace", READ),
    ("ExplainSpaceAccess", READ),
    ("ListTags", READ),
    ("CreateProject", WRITE),
    ("DeleteProject", WRITE),
    ("UpdateProjectMetadata", WRITE),
    ("UpdateSchedulerSettings", WRITE),
    ("GrantProjectAccess", WRITE),
    ("UpdateProjectAccess", WRITE),
    ("RevokeProjectAccess", WRITE),
    ("SetProjectGroupAccess", WRITE),
    ("RevokeProjectGroupAccess", WRITE),
    ("CreateSpace", WRITE),
    ("UpdateSpace", WRITE),
    ("DeleteSpace", WRITE),
    ("ShareSpace", WRITE),
    ("RevokeSpaceShare", WRITE),
    ("CreateTag", WRITE),
    ("UpdateTag", WRITE),
    ("DeleteTag", WRITE),
    ("ReplaceYamlTags", WRITE),
];

#[cfg(test)]
mod tests {
    use service_kit::grpc::guard::unclassified;

    use super::*;

    /// AC-3: every method is classified (a new RPC cannot be forgotten), none is stale, and
    /// none needs admin (the recent-login window is identity-svc's setting).
    #[test]
    fn ac_3_every_projects_method_is_classified() {
        let problems = unclassified(
            proto::FILE_DESCRIPTOR_SET,
            "projects.v1.ProjectsService",
            PROJECTS,
        );
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            PROJECTS
                .iter()
                .all(|(_, a)| *a != Access::User(Scope::Admin))
        );
    }
}
