//! The gRPC face of connections-svc: authenticates the caller (every method is a user method),
//! converts proto <-> domain, maps errors. Proto types stop here. Requests carry secrets, so no
//! request is ever logged whole.

pub mod scopes;

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use proto::connections::v1 as pb;
use secrecy::SecretString;
use service_kit::{grpc::timestamp as ts, jwt::JwtVerifier};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    directory::Caller,
    domain::{
        ConnectionView, Connections, Fields, Format, Kind, Provider, ProviderField, Target,
        TestStatus, Visibility,
    },
};

/// Implements `connections.v1.ConnectionsService`.
#[derive(Debug, Clone)]
pub struct ConnectionsGrpc {
    connections: Arc<Connections>,
    verifier: Arc<JwtVerifier>,
}

impl ConnectionsGrpc {
    /// Builds the handler.
    pub fn new(connections: Arc<Connections>, verifier: Arc<JwtVerifier>) -> Self {
        Self {
            connections,
            verifier,
        }
    }

    async fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        service_kit::grpc::user_call(&self.verifier, req).await
    }

    /// ShareConnection (`share`) or UnshareConnection.
    async fn share_call(
        &self,
        req: Request<pb::ShareConnectionRequest>,
        share: bool,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let id = uuid("connection_uuid", &r.connection_uuid)?;
        let user = uuid("user_uuid", &r.user_uuid)?;
        let v = if share {
            self.connections.share(&caller, id, user).await?
        } else {
            self.connections.unshare(&caller, id, user).await?
        };
        Ok(Response::new(connection_pb(v)))
    }
}

fn uuid(field: &str, value: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(value.trim())
        .map_err(|_| Status::invalid_argument(format!("{field} is not a valid UUID")))
}

/// An optional kind: unspecified means any.
fn kind_filter(k: i32) -> Result<Option<Kind>, Status> {
    if k == pb::Kind::Unspecified as i32 {
        Ok(None)
    } else {
        kind(k).map(Some)
    }
}

fn kind(k: i32) -> Result<Kind, Status> {
    match pb::Kind::try_from(k) {
        Ok(pb::Kind::Shared) => Ok(Kind::Shared),
        Ok(pb::Kind::Personal) => Ok(Kind::Personal),
        _ => Err(Status::invalid_argument("kind must be SHARED or PERSONAL")),
    }
}

fn time(field: &str, t: prost_types::Timestamp) -> Result<DateTime<Utc>, Status> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(t.seconds, n))
        // Years 1 to 9999: what both stores and every client can represent.
        .filter(|d| (-62_135_596_800..=253_402_300_799).contains(&d.timestamp()))
        .ok_or_else(|| Status::invalid_argument(format!("{field} is not a valid time")))
}

fn fields(f: Option<pb::ConnectionFields>) -> Result<Fields, Status> {
    let f = f.unwrap_or_default();
    Ok(Fields {
        provider: f.provider,
        name: f.name,
        description: f.description.map(|m| m.values.into_iter().collect()),
        host: f.host,
        port: f.port,
        identifier: f.identifier,
        scope: f.scope,
        expiry: f.expiry.map(|t| time("expiry", t)).transpose()?,
        clear_expiry: f.clear_expiry,
        active: f.active,
        cache: f.cache,
        datasets_meta_sync_enabled: f.datasets_meta_sync_enabled,
        datasets_meta_sync_interval: f.datasets_meta_sync_interval,
        date: f.date.map(|t| time("date", t)).transpose()?,
        options: f.options.map(|m| m.values.into_iter().collect()),
        secrets: f
            .secrets
            .into_iter()
            .map(|(k, v)| (k, SecretString::from(v)))
            .collect::<BTreeMap<_, _>>(),
    })
}

fn visibility(v: i32) -> Result<Visibility, Status> {
    match pb::Visibility::try_from(v) {
        Ok(pb::Visibility::Unspecified | pb::Visibility::Organization) => {
            Ok(Visibility::Organization)
        }
        Ok(pb::Visibility::Restricted) => Ok(Visibility::Restricted),
        Err(_) => Err(Status::invalid_argument(
            "visibility must be ORGANIZATION or RESTRICTED",
        )),
    }
}

fn connection_pb(v: ConnectionView) -> pb::Connection {
    let c = v.record;
    pb::Connection {
        visibility: match v.visibility {
            Visibility::Organization => pb::Visibility::Organization,
            Visibility::Restricted => pb::Visibility::Restricted,
        } as i32,
        shared_with_user_uuids: v.shared_with.iter().map(ToString::to_string).collect(),
        connection_uuid: c.connection_uuid.to_string(),
        organization_uuid: c.organization_uuid.to_string(),
        owner_user_uuid: c.owner_user_uuid.to_string(),
        kind: kind_pb(v.kind) as i32,
        provider: c.provider,
        name: c.name,
        description: v.description.into_iter().collect(),
        host: c.host,
        port: c.port,
        identifier: c.identifier,
        scope: c.scope,
        expiry: c.expiry.map(ts),
        active: c.active,
        invalid: c.invalid,
        cache: c.cache,
        datasets_meta_sync_enabled: c.datasets_meta_sync_enabled,
        datasets_meta_sync_interval: c.datasets_meta_sync_interval,
        date: Some(ts(c.linked_at)),
        options: v.options.into_iter().collect(),
        secret_fields: v.secret_fields,
        created_at: Some(ts(c.created_at)),
        updated_at: Some(ts(c.updated_at)),
        last_tested_at: c.last_tested_at.map(ts),
    }
}

fn kind_pb(k: Kind) -> pb::Kind {
    match k {
        Kind::Shared => pb::Kind::Shared,
        Kind::Personal => pb::Kind::Personal,
    }
}

fn provider_field_pb(f: &ProviderField) -> pb::ProviderField {
    let (target, stored_as) = match f.target {
        Target::Identifier => (pb::FieldTarget::Identifier, ""),
        Target::Secret(name) => (pb::FieldTarget::Secret, name),
    };
    pb::ProviderField {
        name: f.name.to_owned(),
        description: f.description.to_owned(),
        required: f.required,
        target: target as i32,
        stored_as: stored_as.to_owned(),
        format: match f.format {
            Format::Text => pb::FieldFormat::Text,
            Format::JsonObject => pb::FieldFormat::JsonObject,
        } as i32,
    }
}

fn provider_pb(p: &Provider) -> pb::Provider {
    pb::Provider {
        number: p.number,
        slug: p.slug.to_owned(),
        name: p.name.to_owned(),
        description: p.description.to_owned(),
        icon_url: p.icon_url.to_owned(),
        auth_type: p.auth_type.to_owned(),
        kind: kind_pb(p.kind) as i32,
        fields: p.fields.iter().map(provider_field_pb).collect(),
    }
}

#[tonic::async_trait]
impl pb::connections_service_server::ConnectionsService for ConnectionsGrpc {
    async fn create_connection(
        &self,
        req: Request<pb::CreateConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let kind = kind(r.kind)?;
        let view = self
            .connections
            .create(&caller, kind, visibility(r.visibility)?, fields(r.fields)?)
            .await?;
        Ok(Response::new(connection_pb(view)))
    }

    async fn get_connection(
        &self,
        req: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = self.caller(&req).await?;
        let id = uuid("connection_uuid", &req.get_ref().connection_uuid)?;
        let view = self
            .connections
            .get(&caller, id, kind_filter(req.get_ref().kind)?)
            .await?;
        Ok(Response::new(connection_pb(view)))
    }

    async fn list_connections(
        &self,
        req: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let views = if r.owned_by_caller {
            self.connections
                .list_owned(&caller, kind_filter(r.kind)?, r.provider.as_deref())
                .await?
        } else {
            self.connections
                .list(&caller, kind(r.kind)?, r.provider.as_deref())
                .await?
        };
        Ok(Response::new(pb::ListConnectionsResponse {
            connections: views.into_iter().map(connection_pb).collect(),
        }))
    }

    async fn update_connection(
        &self,
        req: Request<pb::UpdateConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let id = uuid("connection_uuid", &r.connection_uuid)?;
        let view = self
            .connections
            .update(
                &caller,
                id,
                kind_filter(r.kind)?,
                fields(r.fields)?,
                r.code.map(SecretString::from),
            )
            .await?;
        Ok(Response::new(connection_pb(view)))
    }

    async fn delete_connection(
        &self,
        req: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<pb::DeleteConnectionResponse>, Status> {
        let caller = self.caller(&req).await?;
        let id = uuid("connection_uuid", &req.get_ref().connection_uuid)?;
        self.connections
            .delete(&caller, id, kind_filter(req.get_ref().kind)?)
            .await?;
        Ok(Response::new(pb::DeleteConnectionResponse {}))
    }

    async fn test_connection(
        &self,
        req: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let caller = self.caller(&req).await?;
        let id = uuid("connection_uuid", &req.get_ref().connection_uuid)?;
        let report = self
            .connections
            .test(&caller, id, kind_filter(req.get_ref().kind)?)
            .await?;
        let status = match report.status {
            TestStatus::Connected => pb::TestStatus::Connected,
            TestStatus::AuthenticationFailed => pb::TestStatus::AuthenticationFailed,
            TestStatus::Refused => pb::TestStatus::Refused,
            TestStatus::Failed => pb::TestStatus::Failed,
            TestStatus::TimedOut => pb::TestStatus::TimedOut,
            TestStatus::Unsupported => pb::TestStatus::Unsupported,
        };
        Ok(Response::new(pb::TestConnectionResponse {
            status: status as i32,
            message: report.message,
            connection: Some(connection_pb(report.connection)),
        }))
    }

    async fn get_credentials_preference(
        &self,
        req: Request<pb::GetCredentialsPreferenceRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let project = uuid("project_uuid", &r.project_uuid)?;
        let view = self
            .connections
            .preference(&caller, project, r.warehouse_type.trim())
            .await?;
        Ok(Response::new(connection_pb(view)))
    }

    async fn set_credentials_preference(
        &self,
        req: Request<pb::SetCredentialsPreferenceRequest>,
    ) -> Result<Response<pb::SetCredentialsPreferenceResponse>, Status> {
        let caller = self.caller(&req).await?;
        let r = req.into_inner();
        let project = uuid("project_uuid", &r.project_uuid)?;
        let id = uuid("connection_uuid", &r.connection_uuid)?;
        self.connections
            .set_preference(&caller, project, r.warehouse_type.trim(), id)
            .await?;
        Ok(Response::new(pb::SetCredentialsPreferenceResponse {}))
    }

    async fn list_providers(
        &self,
        req: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let caller = self.caller(&req).await?;
        let providers = self.connections.providers(&caller).await?;
        Ok(Response::new(pb::ListProvidersResponse {
            providers: providers.iter().map(provider_pb).collect(),
        }))
    }

    async fn share_connection(
        &self,
        req: Request<pb::ShareConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        self.share_call(req, true).await
    }

    async fn unshare_connection(
        &self,
        req: Request<pb::ShareConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        self.share_call(req, false).await
    }
}
