//! connections-svc: every method refuses no token, a forged token and the internal credential
//! alone; a real token passes authentication.

use tonic::{Code, transport::Channel};

use super::{As, assert_all, declared_methods, real_and_refused, req};
use crate::helpers::{TestApp, dual};

/// Calls every method of connections-svc; returns (method, code) for each.
async fn connections_methods(
    c: &mut proto::connections::v1::connections_service_client::ConnectionsServiceClient<Channel>,
    who: &As,
) -> Vec<(&'static str, Code)> {
    use proto::connections::v1 as pc;
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let id = || uuid::Uuid::now_v7().to_string();
    let fields = || pc::ConnectionFields {
        provider: Some("postgres".into()),
        name: Some("x".into()),
        secrets: [("password".to_owned(), "canary-grpc".to_owned())].into(),
        ..Default::default()
    };
    vec![
        (
            "CreateConnection",
            code(
                c.create_connection(req(
                    pc::CreateConnectionRequest {
                        kind: pc::Kind::Shared as i32,
                        fields: Some(fields()),
                        visibility: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetConnection",
            code(
                c.get_connection(req(
                    pc::GetConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListConnections",
            code(
                c.list_connections(req(
                    pc::ListConnectionsRequest {
                        kind: pc::Kind::Shared as i32,
                        provider: None,
                        owned_by_caller: false,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateConnection",
            code(
                c.update_connection(req(
                    pc::UpdateConnectionRequest {
                        connection_uuid: id(),
                        fields: Some(fields()),
                        code: None,
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteConnection",
            code(
                c.delete_connection(req(
                    pc::DeleteConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "TestConnection",
            code(
                c.test_connection(req(
                    pc::TestConnectionRequest {
                        connection_uuid: id(),
                        kind: 0,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "GetCredentialsPreference",
            code(
                c.get_credentials_preference(req(
                    pc::GetCredentialsPreferenceRequest {
                        project_uuid: id(),
                        warehouse_type: "postgres".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "SetCredentialsPreference",
            code(
                c.set_credentials_preference(req(
                    pc::SetCredentialsPreferenceRequest {
                        project_uuid: id(),
                        warehouse_type: "postgres".into(),
                        connection_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ShareConnection",
            code(
                c.share_connection(req(
                    pc::ShareConnectionRequest {
                        connection_uuid: id(),
                        user_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UnshareConnection",
            code(
                c.unshare_connection(req(
                    pc::ShareConnectionRequest {
                        connection_uuid: id(),
                        user_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListProviders",
            code(
                c.list_providers(req(pc::ListProvidersRequest {}, who))
                    .await
                    .map(|_| ()),
            ),
        ),
    ]
}

async fn every_connections_method_authenticates_its_caller(app: TestApp) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.connections_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client =
        proto::connections::v1::connections_service_client::ConnectionsServiceClient::new(channel);
    let mut called: Vec<String> = connections_methods(&mut client, &As::Nobody)
        .await
        .iter()
        .map(|(m, _)| (*m).to_owned())
        .collect();
    called.sort_unstable();
    assert_eq!(
        called,
        declared_methods("ConnectionsService"),
        "every method is covered"
    );

    let (jwt, refused) = real_and_refused(&app).await;
    for (who, context) in refused {
        assert_all(
            &connections_methods(&mut client, &who).await,
            Code::Unauthenticated,
            context,
        );
    }
    // The real token passes authentication; the user belongs to no organization yet, so every
    // method is refused by the organization check, not by authentication.
    let results = connections_methods(&mut client, &As::Bearer(jwt)).await;
    assert_all(&results, Code::PermissionDenied, "without an organization");
    assert!(
        !crate::helpers::log_text().contains("canary-grpc"),
        "a secret sent over gRPC reached a log line"
    );
}

dual!(every_connections_method_authenticates_its_caller);
