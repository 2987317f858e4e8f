//! What each method of connections-svc needs from its caller's token (issue #18 item 6; the
//! guard is `service_kit::grpc::guard`). Every method of `connections.v1.ConnectionsService` is
//! here: the tests below hold the table to the descriptor.

use service_kit::{
    grpc::guard::{Access, MethodTable},
    scope::Scope,
};

const READ: Access = Access::User(Scope::Read);
const WRITE: Access = Access::User(Scope::Write);

/// `connections.v1.ConnectionsService`. No method needs `admin`: the account-level actions
/// are identity-svc's, which alone reads `RECENT_LOGIN_SECONDS`.
pub const CONNECTIONS: MethodTable = &[
    ("GetConnection", READ),
    ("ListConnections", READ),
    ("GetCredentialsPreference", READ),
    ("ListProviders", READ),
    ("CreateConnection", WRITE),
    ("UpdateConnection", WRITE),
    ("DeleteConnection", WRITE),
    // Connects out with the stored secrets and may mark the connection invalid.
    ("TestConnection", WRITE),
    ("SetCredentialsPreference", WRITE),
    ("ShareConnection", WRITE),
    ("UnshareConnection", WRITE),
];

#[cfg(test)]
mod tests {
    use service_kit::grpc::guard::unclassified;

    use super::*;

    /// AC-3: every method is classified (a new RPC cannot be forgotten), none is stale, and
    /// none needs admin (the recent-login window is identity-svc's setting).
    #[test]
    fn ac_3_every_connections_method_is_classified() {
        let problems = unclassified(
            proto::FILE_DESCRIPTOR_SET,
            "connections.v1.ConnectionsService",
            CONNECTIONS,
        );
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            CONNECTIONS
                .iter()
                .all(|(_, a)| *a != Access::User(Scope::Admin))
        );
    }
}
