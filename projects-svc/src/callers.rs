//! Which part of the platform may call each method of projects-svc with its service credential
//! (TK-9, AC-3; `service_kit::callers`). A method missing here answers UNIMPLEMENTED, and the
//! test below fails when the protos declare a method this table does not name.
//!
//! Every projects method is a user method: the user's access token authorizes it, relayed by the
//! gateway (whose credential vouches for the client's address). Its events: connections-svc,
//! their consumer, and the operator's tools.

use service_kit::callers::{
    Caller::{self, ConnectionsSvc, Gateway, Operator},
    Rule::{self, Callers, User},
    ServiceRules,
};

const USER: Rule = User(&[Gateway]);
const CONSUMERS: &[Caller] = &[ConnectionsSvc, Operator];

/// The rules of every service projects-svc serves.
pub const CALLERS: &[ServiceRules] = &[
    ServiceRules {
        service: "projects.v1.ProjectsService",
        methods: &[
            ("CreateProject", USER),
            ("ListProjects", USER),
            ("GetProject", USER),
            ("DeleteProject", USER),
            ("UpdateProjectMetadata", USER),
            ("UpdateSchedulerSettings", USER),
            ("ListProjectAccess", USER),
            ("GrantProjectAccess", USER),
            ("UpdateProjectAccess", USER),
            ("RevokeProjectAccess", USER),
            ("GetProjectMemberAccess", USER),
            ("ListProjectGroupAccess", USER),
            ("SetProjectGroupAccess", USER),
            ("RevokeProjectGroupAccess", USER),
            ("CreateSpace", USER),
            ("ListSpaceSummaries", USER),
            ("GetSpace", USER),
            ("UpdateSpace", USER),
            ("DeleteSpace", USER),
            ("ShareSpace", USER),
            ("RevokeSpaceShare", USER),
            ("ExplainSpaceAccess", USER),
            ("ListTags", USER),
            ("CreateTag", USER),
            ("UpdateTag", USER),
            ("DeleteTag", USER),
            ("ReplaceYamlTags", USER),
        ],
    },
    ServiceRules {
        service: "events.v1.EventsService",
        methods: &[
            ("Subscribe", Callers(CONSUMERS)),
            ("Snapshot", Callers(CONSUMERS)),
        ],
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn tk_9_every_method_has_a_caller_rule() {
        assert_eq!(
            service_kit::callers::uncovered(super::CALLERS, proto::FILE_DESCRIPTOR_SET),
            Vec::<String>::new()
        );
    }
}
