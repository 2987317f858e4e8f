//! What each method of identity-svc needs from its caller's token (issue #18 item 6; the guard
//! is `service_kit::grpc::guard`). Every method of `identity.v1.IdentityService` and
//! `identity.v1.Accounts` is here: the tests below hold the tables to the descriptor.
//!
//! `admin`: deleting the user or an organization, creating and rotating tokens, operator
//! actions; with a session, also a login within `RECENT_LOGIN_SECONDS`. Granting the admin
//! role (an invitation, a promotion) asks the same of the caller in its handler
//! (`IdentityGrpc::admin_grant`), since the role is in the request.

use service_kit::{
    grpc::guard::{Access, MethodTable},
    scope::Scope,
};

const PRE: Access = Access::PreAuth;
const READ: Access = Access::User(Scope::Read);
const WRITE: Access = Access::User(Scope::Write);
const ADMIN: Access = Access::User(Scope::Admin);

/// `identity.v1.IdentityService`.
pub const IDENTITY: MethodTable = &[
    ("RegisterUser", PRE),
    ("Login", PRE),
    ("Authenticate", PRE),
    ("RefreshSession", PRE),
    ("GetJwks", PRE),
    ("GetInviteLink", PRE),
    ("RequestPasswordReset", PRE),
    ("GetPasswordResetLink", PRE),
    ("ResetPassword", PRE),
    ("GetCurrentUser", READ),
    ("GetAccessContexts", READ),
    // With a passcode it verifies the email: the passcode, mailed to the owner, is the proof.
    ("GetEmailStatus", READ),
    ("ListAllowedOrganizations", READ),
    // Ending one's own session takes nothing a token could abuse.
    ("Logout", READ),
    ("ListPersonalAccessTokens", READ),
    ("GetMyOrganization", READ),
    ("ListOrganizationMembers", READ),
    ("GetOrganizationMember", READ),
    ("ListGroups", READ),
    ("GetGroup", READ),
    ("ListGroupMembers", READ),
    ("ListUserAttributes", READ),
    ("GetAllowedEmailDomains", READ),
    ("CreateEmailPasscode", WRITE),
    ("JoinOrganization", WRITE),
    ("DeletePersonalAccessToken", WRITE),
    ("CreateOrganization", WRITE),
    ("UpdateMyOrganization", WRITE),
    // To the admin role: admin (`admin_grant`).
    ("UpdateOrganizationMember", WRITE),
    ("RemoveOrganizationMember", WRITE),
    // With the admin role: admin (`admin_grant`).
    ("CreateInviteLink", WRITE),
    ("RevokeAllInviteLinks", WRITE),
    ("CreateGroup", WRITE),
    ("UpdateGroup", WRITE),
    ("DeleteGroup", WRITE),
    ("AddGroupMember", WRITE),
    ("RemoveGroupMember", WRITE),
    ("SaveUserAttribute", WRITE),
    ("DeleteUserAttribute", WRITE),
    ("SetAllowedEmailDomains", WRITE),
    // Needs the current password, itself a fresh proof.
    ("ChangePassword", WRITE),
    ("EndAllSessions", WRITE),
    ("DeleteMe", ADMIN),
    ("DeleteOrganization", ADMIN),
    ("CreatePersonalAccessToken", ADMIN),
    // A new secret with a new expiry: as creating one.
    ("RotatePersonalAccessToken", ADMIN),
];

/// `identity.v1.Accounts`.
pub const ACCOUNTS: MethodTable = &[
    ("ListAccounts", READ),
    ("GetAccount", READ),
    ("ListAllowedIps", READ),
    ("CreateSubAccount", WRITE),
    ("UpdateAccount", WRITE),
    ("AddAllowedIp", WRITE),
    ("DeleteAllowedIp", WRITE),
    // With the admin role: admin (`admin_grant`).
    ("CreateAccountInvitation", WRITE),
    // Deletes an organization, its members and everything below.
    ("CloseAccount", ADMIN),
    // An operator action: a top-level account and its first admin.
    ("CreateAccount", ADMIN),
];

#[cfg(test)]
mod tests {
    use service_kit::grpc::guard::unclassified;

    use super::*;

    /// AC-3: every method of identity's services is classified, so a new RPC cannot be
    /// forgotten (an unclassified one would need admin), and no entry is stale.
    #[test]
    fn ac_3_every_identity_method_is_classified() {
        let fds = proto::FILE_DESCRIPTOR_SET;
        let mut problems = unclassified(fds, "identity.v1.IdentityService", IDENTITY);
        problems.extend(unclassified(fds, "identity.v1.Accounts", ACCOUNTS));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// AC-3: the actions issue #18 names need the admin scope.
    #[test]
    fn ac_3_account_level_actions_need_admin() {
        let needs = |table: MethodTable, m: &str| table.iter().find(|(n, _)| *n == m).unwrap().1;
        for m in [
            "DeleteMe",
            "DeleteOrganization",
            "CreatePersonalAccessToken",
            "RotatePersonalAccessToken",
        ] {
            assert_eq!(needs(IDENTITY, m), ADMIN, "{m}");
        }
        for m in ["CloseAccount", "CreateAccount"] {
            assert_eq!(needs(ACCOUNTS, m), ADMIN, "{m}");
        }
    }
}
