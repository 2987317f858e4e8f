//! Service identity (issue #18 item 5; TK-9: every service-to-service call is authenticated,
//! AC-3: each party gets only what it needs): each part calls with its own credential, and each
//! method admits only the parts its service's table names (`*/callers.rs`). A stolen
//! projects-svc credential opens none of identity-svc's account, deletion or pre-authentication
//! methods, with or without a user's token; the client address counts only from a part the
//! method admits; an unknown credential is UNAUTHENTICATED; no credential reaches a log.
//! Calls made straight to the services, as an attacker inside the network would.

use proto::{
    connections::v1 as pc,
    events::v1 as pe,
    identity::v1::{
        self as pb, accounts_client::AccountsClient, identity_service_client::IdentityServiceClient,
    },
    projects::v1 as pp,
};
use reqwest::Method;
use serde_json::json;
use service_kit::callers::Caller;
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

use crate::{
    helpers::{Auth, TestApp, dual, log_text},
    organizations::{admin_of_new_org, cookie},
    swift::ulid_of,
};

dual!(
    tk_9_a_stolen_projects_svc_credential_opens_no_identity_admin_rpc,
    tk_9_each_caller_reaches_only_its_methods,
    ac_3_the_client_address_counts_only_from_an_admitted_part,
);

/// What a test call presents.
#[derive(Clone, Copy, Default)]
struct Call<'a> {
    credential: Option<&'a str>,
    jwt: Option<&'a str>,
    address: Option<&'a str>,
}

fn request<T>(msg: T, call: Call<'_>) -> Request<T> {
    let mut r = Request::new(msg);
    let md = r.metadata_mut();
    if let Some(c) = call.credential {
        md.insert("x-internal-credential", MetadataValue::try_from(c).unwrap());
    }
    if let Some(t) = call.jwt {
        let bearer = MetadataValue::try_from(format!("Bearer {t}")).unwrap();
        md.insert("authorization", bearer);
    }
    if let Some(a) = call.address {
        md.insert("x-client-address", MetadataValue::try_from(a).unwrap());
    }
    r
}

fn code<T>(r: Result<T, tonic::Status>) -> Code {
    r.err().map_or(Code::Ok, |s| s.code())
}

fn channel(addr: std::net::SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

/// identity-svc's account, deletion and pre-authentication methods, called with `call`.
async fn identity_admin_methods(
    app: &TestApp,
    org: &str,
    call: Call<'_>,
) -> Vec<(&'static str, Code)> {
    let mut id = IdentityServiceClient::new(channel(app.identity_addr));
    let mut accounts = AccountsClient::new(channel(app.identity_addr));
    let email = format!("spoof-{}@example.com", uuid::Uuid::new_v4().simple());
    vec![
        (
            "Accounts/CreateAccount",
            code(
                accounts
                    .create_account(request(
                        pb::CreateAccountRequest {
                            name: "Stolen".into(),
                            email: email.clone(),
                            invitation_link_base: "http://127.0.0.1".into(),
                        },
                        call,
                    ))
                    .await,
            ),
        ),
        (
            "Accounts/CloseAccount",
            code(
                accounts
                    .close_account(request(
                        pb::CloseAccountRequest {
                            organization_uuid: org.into(),
                        },
                        call,
                    ))
                    .await,
            ),
        ),
        (
            "Accounts/CreateSubAccount",
            code(
                accounts
                    .create_sub_account(request(
                        pb::CreateSubAccountRequest {
                            name: "Below".into(),
                            parent_uuid: Some(org.into()),
                        },
                        call,
                    ))
                    .await,
            ),
        ),
        (
            "DeleteOrganization",
            code(
                id.delete_organization(request(
                    pb::DeleteOrganizationRequest {
                        organization_uuid: org.into(),
                    },
                    call,
                ))
                .await,
            ),
        ),
        (
            "DeleteMe",
            code(id.delete_me(request(pb::DeleteMeRequest {}, call)).await),
        ),
        (
            "Login",
            code(
                id.login(request(
                    pb::LoginRequest {
                        email: email.clone(),
                        password: "long enough pw".into(),
                        // A spoofed throttling key.
                        client_address: Some("198.51.100.99".into()),
                        api_client: true,
                    },
                    call,
                ))
                .await,
            ),
        ),
        (
            "RegisterUser",
            code(
                id.register_user(request(
                    pb::RegisterUserRequest {
                        email,
                        password: "long enough pw".into(),
                        first_name: "A".into(),
                        last_name: "B".into(),
                        invite_code: None,
                        client_address: Some("198.51.100.99".into()),
                    },
                    call,
                ))
                .await,
            ),
        ),
        (
            "Authenticate",
            code(
                id.authenticate(request(
                    pb::AuthenticateRequest {
                        credential: Some(pb::authenticate_request::Credential::OperatorToken(
                            "ldopr_x".into(),
                        )),
                    },
                    call,
                ))
                .await,
            ),
        ),
        (
            "ResetPassword",
            code(
                id.reset_password(request(
                    pb::ResetPasswordRequest {
                        code: "ldpwr_x".into(),
                        new_password: "long enough pw".into(),
                    },
                    call,
                ))
                .await,
            ),
        ),
    ]
}

/// A stolen projects-svc credential is PERMISSION_DENIED on every account, deletion and
/// pre-authentication method of identity-svc, alone and together with the account admin's own
/// token (the credential vouches for nothing there); nothing changed; the gateway's credential
/// still works where it is admitted.
async fn tk_9_a_stolen_projects_svc_credential_opens_no_identity_admin_rpc(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Stolen").await;
    let (_, pat) = app.create_pat(&admin, json!({"description": "grpc"})).await;
    let jwt = app.access_token(&pat).await;
    let projects = app.credential(Caller::ProjectsSvc);
    for jwt in [None, Some(jwt.as_str())] {
        let call = Call {
            credential: Some(&projects),
            jwt,
            address: Some("198.51.100.99"),
        };
        for (method, code) in identity_admin_methods(&app, &org, call).await {
            assert_eq!(
                code,
                Code::PermissionDenied,
                "{method} (token: {})",
                jwt.is_some()
            );
        }
    }
    // Nothing happened: the organization stands and its admin is still one.
    let r = app
        .send(Method::GET, "/api/v1/org", &cookie(&admin), None)
        .await;
    assert_eq!(r.results()["organizationUuid"], org);
    // The gateway's credential opens what it is admitted on.
    let gateway = app.credential(Caller::Gateway);
    let mut id = IdentityServiceClient::new(channel(app.identity_addr));
    let granted = id
        .authenticate(request(
            pb::AuthenticateRequest {
                credential: Some(pb::authenticate_request::Credential::PersonalAccessToken(
                    pat,
                )),
            },
            Call {
                credential: Some(&gateway),
                ..Call::default()
            },
        ))
        .await
        .expect("the gateway exchanges a token")
        .into_inner();
    assert_eq!(granted.user_uuid, admin.user_uuid);
}

/// Which servers know a caller's credential (their `SERVICE_CREDENTIALS`, as the all-in-one and
/// deploy/ set them): a caller a server does not know is UNAUTHENTICATED there, a known one
/// outside a method's list PERMISSION_DENIED.
fn knows(server: &str, caller: Option<Caller>) -> bool {
    use Caller::{ConnectionsSvc, Gateway, Operator, ProjectsSvc};
    let known: &[Caller] = match server {
        "identity" => &[Gateway, ProjectsSvc, ConnectionsSvc, Operator],
        "projects" => &[Gateway, ConnectionsSvc, Operator],
        _ => &[Gateway],
    };
    caller.is_some_and(|c| known.contains(&c))
}

/// A sample of methods: (server, method, the callers admitted, the code of the call).
async fn sample(
    app: &TestApp,
    credential: &str,
    jwt: &str,
) -> Vec<(&'static str, &'static str, &'static [Caller], Code)> {
    use Caller::{ConnectionsSvc, Gateway, Operator, ProjectsSvc};
    let alone = Call {
        credential: Some(credential),
        ..Call::default()
    };
    let user = Call {
        jwt: Some(jwt),
        ..alone
    };
    let mut id = IdentityServiceClient::new(channel(app.identity_addr));
    let mut accounts = AccountsClient::new(channel(app.identity_addr));
    let mut projects =
        pp::projects_service_client::ProjectsServiceClient::new(channel(app.projects_addr));
    let mut connections = pc::connections_service_client::ConnectionsServiceClient::new(channel(
        app.connections_addr,
    ));
    let events = |addr| pe::events_service_client::EventsServiceClient::new(channel(addr));
    let reset = pb::RequestPasswordResetRequest {
        email: format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple()),
        client_address: None,
        link_base: "http://127.0.0.1".into(),
    };
    vec![
        (
            "identity",
            "RequestPasswordReset",
            &[Gateway],
            code(id.request_password_reset(request(reset, alone)).await),
        ),
        (
            "identity",
            "GetJwks",
            &[Gateway, ProjectsSvc, ConnectionsSvc],
            code(id.get_jwks(request(pb::GetJwksRequest {}, alone)).await),
        ),
        (
            "identity",
            "GetAccessContexts",
            &[Gateway, ProjectsSvc, ConnectionsSvc],
            code(
                id.get_access_contexts(request(pb::GetAccessContextsRequest::default(), user))
                    .await,
            ),
        ),
        (
            "identity",
            "GetMyOrganization",
            &[Gateway],
            code(
                id.get_my_organization(request(pb::GetMyOrganizationRequest {}, user))
                    .await,
            ),
        ),
        (
            "identity",
            "Accounts/ListAccounts",
            &[Gateway],
            code(
                accounts
                    .list_accounts(request(pb::ListAccountsRequest::default(), user))
                    .await,
            ),
        ),
        (
            "identity",
            "Events/Subscribe",
            &[ProjectsSvc, ConnectionsSvc, Operator],
            code(
                events(app.identity_addr)
                    .subscribe(request(pe::SubscribeRequest { after_sequence: 0 }, alone))
                    .await,
            ),
        ),
        (
            "projects",
            "ListProjects",
            &[Gateway],
            code(
                projects
                    .list_projects(request(pp::ListProjectsRequest {}, user))
                    .await,
            ),
        ),
        (
            "projects",
            "Events/Snapshot",
            &[ConnectionsSvc, Operator],
            code(
                events(app.projects_addr)
                    .snapshot(request(pe::SnapshotRequest {}, alone))
                    .await,
            ),
        ),
        (
            "connections",
            "ListConnections",
            &[Gateway],
            code(
                connections
                    .list_connections(request(
                        pc::ListConnectionsRequest {
                            kind: pc::Kind::Shared.into(),
                            ..Default::default()
                        },
                        user,
                    ))
                    .await,
            ),
        ),
    ]
}

/// Every caller (and a stranger) against a sample of every server's methods: OK where the
/// method admits the caller, PERMISSION_DENIED where the server knows it but the method does
/// not admit it, UNAUTHENTICATED where the credential is unknown. No credential shows in a log.
async fn tk_9_each_caller_reaches_only_its_methods(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Matrix").await;
    let (_, pat) = app.create_pat(&admin, json!({"description": "grpc"})).await;
    let jwt = app.access_token(&pat).await;
    let stranger = format!("canary-credential-{}", uuid::Uuid::new_v4().simple());
    let mut callers: Vec<(Option<Caller>, String)> = Caller::ALL
        .into_iter()
        .map(|c| (Some(c), app.credential(c)))
        .collect();
    callers.push((None, stranger.clone()));
    for (caller, credential) in &callers {
        let name = caller.map_or("a stranger", Caller::name);
        for (server, method, admitted, code) in sample(&app, credential, &jwt).await {
            let expected = if caller.is_some_and(|c| admitted.contains(&c)) {
                Code::Ok
            } else if knows(server, *caller) {
                Code::PermissionDenied
            } else {
                Code::Unauthenticated
            };
            assert_eq!(code, expected, "{name} on {server} {method}");
        }
    }
    let logs = log_text();
    for (_, credential) in &callers {
        assert!(
            !logs.contains(credential.as_str()),
            "a credential was logged"
        );
    }
}

/// The client address identity-svc checks an account's allowed IPs against counts only from a
/// part the method admits: the gateway (which saw the client) or a peer relaying a user's call
/// where its table admits it. A user's token alone, or a peer's credential on a method it is
/// not admitted on, cannot choose it.
async fn ac_3_the_client_address_counts_only_from_an_admitted_part(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Fenced").await;
    let (_, pat) = app.create_pat(&admin, json!({"description": "ops"})).await;
    let auth = Auth::Bearer(pat.clone());
    let account = format!("/api/v1/accounts/{}", ulid_of(&org));
    // Only 127.0.0.1 (the tests' peer) may call for this account.
    let r = app
        .send(
            Method::POST,
            &format!("{account}/allowed_ips"),
            &auth,
            Some(json!({"data": {"cidr": "127.0.0.1", "description": ""}, "type": "allowed_ip"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .send(
            Method::PATCH,
            &account,
            &auth,
            Some(json!({"data": {"require_ip_api_access": true}, "type": "account"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let jwt = app.access_token(&pat).await;
    let (gateway, projects) = (
        app.credential(Caller::Gateway),
        app.credential(Caller::ProjectsSvc),
    );
    let mut id = IdentityServiceClient::new(channel(app.identity_addr));
    let inside = Some("127.0.0.1");
    let cases = [
        (
            "the gateway, from inside",
            Some(gateway.as_str()),
            inside,
            Code::Ok,
        ),
        (
            "the gateway, from outside",
            Some(&gateway),
            Some("203.0.113.5"),
            Code::PermissionDenied,
        ),
        // Before service identity, any caller's header counted: this was OK.
        (
            "the token alone, claiming inside",
            None,
            inside,
            Code::PermissionDenied,
        ),
        (
            "projects-svc, not admitted here",
            Some(&projects),
            inside,
            Code::PermissionDenied,
        ),
    ];
    for (who, credential, address, expected) in cases {
        let call = Call {
            credential,
            jwt: Some(&jwt),
            address,
        };
        let r = id
            .get_my_organization(request(pb::GetMyOrganizationRequest {}, call))
            .await;
        assert_eq!(code(r), expected, "{who}");
    }
    // projects-svc relays a user's address where it is admitted (their access contexts).
    let relayed = Call {
        credential: Some(&projects),
        jwt: Some(&jwt),
        address: inside,
    };
    let r = id
        .get_access_contexts(request(pb::GetAccessContextsRequest::default(), relayed))
        .await;
    assert_eq!(code(r), Code::Ok);
    let unrelayed = Call {
        credential: None,
        ..relayed
    };
    let r = id
        .get_access_contexts(request(pb::GetAccessContextsRequest::default(), unrelayed))
        .await;
    assert_eq!(code(r), Code::PermissionDenied, "the token alone");
}
