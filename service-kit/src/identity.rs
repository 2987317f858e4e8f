//! Reaching identity-svc from another part of the platform: a client that presents this part's
//! own service credential on every call, with the user's access token on user methods, and the
//! key set that verifies access tokens, fetched from identity-svc.

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use secrecy::ExposeSecret;
use tonic::{Request, metadata::AsciiMetadataValue};

use crate::{
    grpc::{
        CLIENT_ADDRESS_KEY, GrpcChannel, InternalCredential, OutgoingCall, UserCall, tls::ClientTls,
    },
    jwt::JwksSource,
};

/// A client of identity-svc.
#[derive(Debug, Clone)]
pub struct Identity {
    channel: GrpcChannel,
    client: IdentityServiceClient<GrpcChannel>,
    /// Presents this part's service credential.
    internal: OutgoingCall,
}

impl Identity {
    /// A client of identity-svc at `url` (connects lazily: it may start later), over TLS when
    /// `tls` says so.
    pub fn connect_lazy(
        url: &str,
        credential: InternalCredential,
        tls: &ClientTls,
    ) -> anyhow::Result<Self> {
        let channel = tls.connect_lazy(url)?;
        Ok(Self {
            client: IdentityServiceClient::new(channel.clone()),
            channel,
            internal: OutgoingCall::internal(credential),
        })
    }

    /// The channel (for health checks).
    pub fn channel(&self) -> &GrpcChannel {
        &self.channel
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> IdentityServiceClient<GrpcChannel> {
        self.client.clone()
    }

    /// A request made as this part (its service credential alone).
    pub fn internal<T>(&self, msg: T, request_id: &str) -> Request<T> {
        self.internal.request(msg, Some(request_id), None)
    }

    /// A request made on behalf of the user of `call`, with their access token, request id and
    /// client address, and this part's credential, which vouches for the address (identity-svc
    /// counts it only from a part its rules name on the method).
    pub fn as_user<T>(&self, msg: T, call: &UserCall) -> Request<T> {
        let mut req = self.internal.request(
            msg,
            Some(&call.request_id),
            Some(call.access_token.expose_secret()),
        );
        if let Some(address) = call
            .client_address
            .as_deref()
            .and_then(|a| AsciiMetadataValue::try_from(a).ok())
        {
            req.metadata_mut().insert(CLIENT_ADDRESS_KEY, address);
        }
        req
    }
}

/// The organization role identity-svc answered with: a field of its answer that holds no role
/// (UNSPECIFIED, or a value this version does not know) is identity-svc's fault, INTERNAL.
pub fn answered_role(value: i32) -> crate::error::Result<pb::OrganizationRole> {
    pb::OrganizationRole::required(value).map_err(|_| {
        crate::error::Error::Internal(anyhow::anyhow!(
            "identity-svc answered an unknown organization role {value}"
        ))
    })
}

/// The key set that verifies access tokens, fetched from identity-svc over gRPC.
#[derive(Debug, Clone)]
pub struct IdentityJwks(pub Identity);

#[async_trait::async_trait]
impl JwksSource for IdentityJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        let req = self.0.internal(pb::GetJwksRequest {}, "jwks-refresh");
        Ok(self.0.rpc().get_jwks(req).await?.into_inner().jwks_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_without_a_role_is_internal() {
        assert_eq!(
            answered_role(pb::OrganizationRole::Editor.into()).ok(),
            Some(pb::OrganizationRole::Editor)
        );
        for value in [0, 99] {
            let status = tonic::Status::from(answered_role(value).unwrap_err());
            assert_eq!(status.code(), tonic::Code::Internal);
        }
    }
}
