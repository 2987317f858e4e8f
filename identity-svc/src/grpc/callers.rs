//! Which part of the platform may call each method of identity-svc with its service credential
//! (TK-9, AC-3; `service_kit::callers`). A method missing here answers UNIMPLEMENTED, and the
//! test below fails when the protos declare a method this table does not name.
//!
//! - Pre-authentication methods (login, registration, exchanging a credential, password
//!   resets, invitations by code): the gateway only, so the client address in their bodies,
//!   which keys login and registration throttling, comes from the gateway alone.
//! - The signing keys: every part that verifies access tokens.
//! - Users' access contexts: the gateway, and projects-svc and connections-svc acting for a
//!   user with the user's own access token (relaying the client address the gateway gave them).
//! - Every other user method, the account API included: the user's token, through the gateway;
//!   no peer service's credential opens them, with or without a token.
//! - Events: their consumers, and the operator's tools.

use service_kit::callers::{
    Caller::{ConnectionsSvc, Gateway, Operator, ProjectsSvc},
    Rule::{self, Callers, User},
    ServiceRules,
};

const GATEWAY: &[service_kit::callers::Caller] = &[Gateway];
const VERIFIERS: &[service_kit::callers::Caller] = &[Gateway, ProjectsSvc, ConnectionsSvc];
const CONSUMERS: &[service_kit::callers::Caller] = &[ProjectsSvc, ConnectionsSvc, Operator];

/// A user method the gateway relays.
const USER: Rule = User(GATEWAY);
/// A pre-authentication method only the gateway calls.
const PRE_AUTH: Rule = Callers(GATEWAY);

/// The rules of every service identity-svc serves.
pub const CALLERS: &[ServiceRules] = &[
    ServiceRules {
        service: "identity.v1.IdentityService",
        methods: &[
            ("RegisterUser", PRE_AUTH),
            ("Login", PRE_AUTH),
            ("Authenticate", PRE_AUTH),
            ("RefreshSession", PRE_AUTH),
            ("GetJwks", Callers(VERIFIERS)),
            ("GetCurrentUser", USER),
            ("DeleteMe", USER),
            ("GetAccessContexts", User(VERIFIERS)),
            ("GetEmailStatus", USER),
            ("CreateEmailPasscode", USER),
            ("ListAllowedOrganizations", USER),
            ("JoinOrganization", USER),
            ("Logout", USER),
            ("CreatePersonalAccessToken", USER),
            ("ListPersonalAccessTokens", USER),
            ("DeletePersonalAccessToken", USER),
            ("RotatePersonalAccessToken", USER),
            ("CreateOrganization", USER),
            ("GetMyOrganization", USER),
            ("UpdateMyOrganization", USER),
            ("DeleteOrganization", USER),
            ("ListOrganizationMembers", USER),
            ("GetOrganizationMember", USER),
            ("UpdateOrganizationMember", USER),
            ("RemoveOrganizationMember", USER),
            ("CreateInviteLink", USER),
            ("RevokeAllInviteLinks", USER),
            ("CreateGroup", USER),
            ("ListGroups", USER),
            ("GetGroup", USER),
            ("UpdateGroup", USER),
            ("DeleteGroup", USER),
            ("ListGroupMembers", USER),
            ("AddGroupMember", USER),
            ("RemoveGroupMember", USER),
            ("ListUserAttributes", USER),
            ("SaveUserAttribute", USER),
            ("DeleteUserAttribute", USER),
            ("GetAllowedEmailDomains", USER),
            ("SetAllowedEmailDomains", USER),
            ("GetInviteLink", PRE_AUTH),
            ("RequestPasswordReset", PRE_AUTH),
            ("GetPasswordResetLink", PRE_AUTH),
            ("ResetPassword", PRE_AUTH),
            ("ChangePassword", USER),
            ("EndAllSessions", USER),
        ],
    },
    ServiceRules {
        service: "identity.v1.Accounts",
        methods: &[
            ("CreateSubAccount", USER),
            ("ListAccounts", USER),
            ("GetAccount", USER),
            ("UpdateAccount", USER),
            ("ListAllowedIps", USER),
            ("AddAllowedIp", USER),
            ("DeleteAllowedIp", USER),
            ("CreateAccountInvitation", USER),
            ("CloseAccount", USER),
            ("CreateAccount", USER),
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
