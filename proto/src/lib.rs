//! Protocol Buffers definitions of the platform's services and the code tonic/prost generate
//! from them. Message types stop at each service's `grpc` module and the gateway's handlers:
//! they are never used as domain types. One enum is the exception: the organization role
//! (`identity::v1::OrganizationRole`), defined once here with its wire names
//! (`organization_role.rs`) and used by every service's rules.

mod organization_role;
pub mod unary;

/// `identity.v1`: users, sessions, personal access tokens, signing keys, organizations and
/// their roles.
pub mod identity {
    /// Version 1 of the identity API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("identity.v1");

        pub use crate::organization_role::UnknownOrganizationRole;

        /// `[REDACTED]` for a secret that is set, nothing for one that is empty.
        fn redacted(secret: &str) -> &'static str {
            if secret.is_empty() { "" } else { "[REDACTED]" }
        }

        impl std::fmt::Debug for RegisterUserRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("RegisterUserRequest")
                    .field("email", &self.email)
                    .field("password", &redacted(&self.password))
                    .field("first_name", &self.first_name)
                    .field("last_name", &self.last_name)
                    .field("invite_code", &self.invite_code.as_deref().map(redacted))
                    .field("client_address", &self.client_address)
                    .finish()
            }
        }

        impl std::fmt::Debug for LoginRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("LoginRequest")
                    .field("email", &self.email)
                    .field("password", &redacted(&self.password))
                    .field("client_address", &self.client_address)
                    .field("api_client", &self.api_client)
                    .finish()
            }
        }

        impl std::fmt::Debug for SessionGrant {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("SessionGrant")
                    .field("user", &self.user)
                    .field("session_token", &redacted(&self.session_token))
                    .field("session_expires_at", &self.session_expires_at)
                    .field("access", &self.access)
                    .finish()
            }
        }

        impl std::fmt::Debug for AuthenticateResponse {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("AuthenticateResponse")
                    .field("user_uuid", &self.user_uuid)
                    .field("access_token", &redacted(&self.access_token))
                    .field("access_token_expires_at", &self.access_token_expires_at)
                    .finish()
            }
        }

        impl std::fmt::Debug for RefreshSessionRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("RefreshSessionRequest")
                    .field("refresh_token", &redacted(&self.refresh_token))
                    .finish()
            }
        }

        impl std::fmt::Debug for PersonalAccessTokenWithSecret {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("PersonalAccessTokenWithSecret")
                    .field("token", &self.token)
                    .field("secret", &redacted(&self.secret))
                    .finish()
            }
        }

        impl std::fmt::Debug for GetEmailStatusRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("GetEmailStatusRequest")
                    .field("passcode", &self.passcode.as_deref().map(redacted))
                    .finish()
            }
        }

        impl std::fmt::Debug for InviteLink {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("InviteLink")
                    .field("invite_code", &redacted(&self.invite_code))
                    .field("organization_uuid", &self.organization_uuid)
                    .field("user_uuid", &self.user_uuid)
                    .field("email", &self.email)
                    .field("expires_at", &self.expires_at)
                    .finish()
            }
        }

        impl std::fmt::Debug for GetInviteLinkRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("GetInviteLinkRequest")
                    .field("invite_code", &redacted(&self.invite_code))
                    .finish()
            }
        }

        impl std::fmt::Debug for GetPasswordResetLinkRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("GetPasswordResetLinkRequest")
                    .field("code", &redacted(&self.code))
                    .finish()
            }
        }

        impl std::fmt::Debug for ResetPasswordRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("ResetPasswordRequest")
                    .field("code", &redacted(&self.code))
                    .field("new_password", &redacted(&self.new_password))
                    .finish()
            }
        }

        impl std::fmt::Debug for ChangePasswordRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("ChangePasswordRequest")
                    .field("current_password", &redacted(&self.current_password))
                    .field("new_password", &redacted(&self.new_password))
                    .finish()
            }
        }
    }
}

/// `projects.v1`: projects, their user and group grants, and spaces.
pub mod projects {
    /// Version 1 of the projects API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("projects.v1");
    }
}

/// `connections.v1`: connections and their write-only secrets.
pub mod connections {
    /// Version 1 of the connections API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("connections.v1");

        impl std::fmt::Debug for ConnectionFields {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // Secret values never reach Debug output (CR-8): only their field names.
                let secrets: Vec<&String> = self.secrets.keys().collect();
                f.debug_struct("ConnectionFields")
                    .field("provider", &self.provider)
                    .field("name", &self.name)
                    .field("description", &self.description)
                    .field("host", &self.host)
                    .field("port", &self.port)
                    .field("identifier", &self.identifier)
                    .field("scope", &self.scope)
                    .field("expiry", &self.expiry)
                    .field("clear_expiry", &self.clear_expiry)
                    .field("active", &self.active)
                    .field("cache", &self.cache)
                    .field(
                        "datasets_meta_sync_enabled",
                        &self.datasets_meta_sync_enabled,
                    )
                    .field(
                        "datasets_meta_sync_interval",
                        &self.datasets_meta_sync_interval,
                    )
                    .field("date", &self.date)
                    .field("options", &self.options)
                    .field("secrets", &format_args!("{secrets:?} [REDACTED]"))
                    .finish()
            }
        }

        impl std::fmt::Debug for UpdateConnectionRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("UpdateConnectionRequest")
                    .field("connection_uuid", &self.connection_uuid)
                    .field("fields", &self.fields)
                    .field("code", &self.code.as_ref().map(|_| "[REDACTED]"))
                    .field("kind", &self.kind)
                    .finish()
            }
        }
    }
}

/// `events.v1`: the events services tell each other (outbox subscription).
pub mod events {
    /// Version 1 of the events API.
    pub mod v1 {
        #![allow(missing_docs, unreachable_pub, clippy::all)]
        tonic::include_proto!("events.v1");
    }
}

/// The encoded `FileDescriptorSet` of every package above, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("descriptor");

#[cfg(test)]
mod tests {
    use super::connections::v1 as pc;

    /// CR-8: identity's messages that carry passwords and tokens never print them.
    #[test]
    fn cr_8_identity_secrets_stay_out_of_debug_output() {
        use super::identity::v1 as pi;
        let canary = "canary-identity-debug-7a1c";
        let access = pi::AuthenticateResponse {
            user_uuid: "u".into(),
            access_token: canary.into(),
            access_token_expires_at: None,
        };
        let texts = [
            format!(
                "{:?}",
                pi::RegisterUserRequest {
                    email: "e".into(),
                    password: canary.into(),
                    invite_code: Some(canary.into()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                pi::LoginRequest {
                    email: "e".into(),
                    password: canary.into(),
                    ..Default::default()
                }
            ),
            format!(
                "{:#?}",
                pi::RefreshSessionResponse {
                    session: Some(pi::SessionGrant {
                        session_token: canary.into(),
                        access: Some(access.clone()),
                        ..Default::default()
                    }),
                    access: Some(access),
                }
            ),
            format!(
                "{:?}",
                pi::RefreshSessionRequest {
                    refresh_token: canary.into()
                }
            ),
            format!(
                "{:?}",
                pi::PersonalAccessTokenWithSecret {
                    token: None,
                    secret: canary.into()
                }
            ),
            format!(
                "{:?}",
                pi::GetEmailStatusRequest {
                    passcode: Some(canary.into())
                }
            ),
            format!(
                "{:?}",
                pi::InviteLink {
                    invite_code: canary.into(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                pi::GetInviteLinkRequest {
                    invite_code: canary.into()
                }
            ),
            format!(
                "{:?}",
                pi::GetPasswordResetLinkRequest {
                    code: canary.into()
                }
            ),
            format!(
                "{:?}",
                pi::ResetPasswordRequest {
                    code: canary.into(),
                    new_password: canary.into(),
                }
            ),
            format!(
                "{:?}",
                pi::ChangePasswordRequest {
                    current_password: canary.into(),
                    new_password: canary.into(),
                }
            ),
        ];
        for text in texts {
            assert!(!text.contains(canary), "{text}");
            assert!(text.contains("[REDACTED]"), "{text}");
        }
    }

    /// CR-8: the generated messages that carry secrets print their names, never their values.
    #[test]
    fn cr_8_connection_secrets_stay_out_of_debug_output() {
        let canary = "canary-proto-debug-1d2e";
        let fields = pc::ConnectionFields {
            name: Some("n".into()),
            secrets: [("password".to_owned(), canary.to_owned())].into(),
            ..Default::default()
        };
        let create = pc::CreateConnectionRequest {
            kind: pc::Kind::Shared as i32,
            fields: Some(fields.clone()),
            visibility: 0,
        };
        let update = pc::UpdateConnectionRequest {
            connection_uuid: "c".into(),
            fields: Some(fields),
            code: Some(canary.into()),
            kind: 0,
        };
        for text in [
            format!("{create:?}"),
            format!("{update:?}"),
            format!("{update:#?}"),
        ] {
            assert!(!text.contains(canary), "{text}");
            assert!(text.contains("password"), "{text}");
            assert!(text.contains("REDACTED"), "{text}");
        }
    }
}
