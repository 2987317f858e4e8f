//! identity-svc: every method is called as a user method or a pre-authentication one; user
//! methods refuse no token, a forged or stripped token and the internal credential alone (TK-1);
//! pre-authentication methods refuse anything but the internal credential.

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use serde_json::json;
use service_kit::jwt::{SigningKey, TokenProfile, TokenRequest, TokenSigner};
use tonic::{Code, transport::Channel};

use super::{As, assert_all, declared_methods, identity_user_methods::user_methods, req};
use crate::helpers::{TestApp, dual};

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
                        client_address: None,
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
            "RequestPasswordReset",
            code(
                c.request_password_reset(req(
                    pb::RequestPasswordResetRequest {
                        email: "nobody@example.com".into(),
                        client_address: None,
                        link_base: "http://127.0.0.1".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetPasswordResetLink",
            code(
                c.get_password_reset_link(req(
                    pb::GetPasswordResetLinkRequest {
                        code: "ldpwr_x".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ResetPassword",
            code(
                c.reset_password(req(
                    pb::ResetPasswordRequest {
                        code: "ldpwr_x".into(),
                        new_password: "long enough pw".into(),
                    },
                    who,
                ))
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
            scope: service_kit::scope::Scope::Admin,
            auth_time: None,
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
    let internal = As::Internal(app.credential(service_kit::callers::Caller::Gateway));
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
