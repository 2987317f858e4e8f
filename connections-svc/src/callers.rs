//! Which part of the platform may call each method of connections-svc with its service
//! credential (TK-9, AC-3; `service_kit::callers`). A method missing here answers
//! UNIMPLEMENTED, and the test below fails when the protos declare a method this table does not
//! name.
//!
//! Every connections method is a user method: the user's access token authorizes it, relayed by
//! the gateway (whose credential vouches for the client's address). No peer calls it.

use service_kit::callers::{
    Caller::Gateway,
    Rule::{self, User},
    ServiceRules,
};

const USER: Rule = User(&[Gateway]);

/// The rules of every service connections-svc serves.
pub const CALLERS: &[ServiceRules] = &[ServiceRules {
    service: "connections.v1.ConnectionsService",
    methods: &[
        ("CreateConnection", USER),
        ("GetConnection", USER),
        ("ListConnections", USER),
        ("UpdateConnection", USER),
        ("DeleteConnection", USER),
        ("TestConnection", USER),
        ("GetCredentialsPreference", USER),
        ("SetCredentialsPreference", USER),
        ("ListProviders", USER),
        ("ShareConnection", USER),
        ("UnshareConnection", USER),
    ],
}];

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
