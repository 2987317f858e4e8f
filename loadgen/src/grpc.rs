//! The direct gRPC scenario: `identity.v1.IdentityService/GetCurrentUser` with
//! `authorization: Bearer <access JWT>`, N calls in flight over one or more HTTP/2 channels.

use proto::identity::v1::{GetCurrentUserRequest, identity_service_client::IdentityServiceClient};
use service_kit::grpc::tls::ClientTls;
use tonic::{metadata::AsciiMetadataValue, transport::Channel};

use crate::{
    RunOpts,
    driver::{self, Call, Outcome},
    setup,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// identity-svc's gRPC address, e.g. http://127.0.0.1:50051 (or 127.0.0.1:50051).
    #[arg(long)]
    addr: String,
    /// Calls in flight.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the calls are spread over (the gateway uses one).
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// An access JWT; or else give --gateway and --pat to get one.
    #[arg(long, env = "LOADGEN_JWT", hide_env_values = true)]
    jwt: Option<String>,
    /// Base URL of the gateway, to exchange --pat for an access JWT.
    #[arg(long)]
    gateway: Option<String>,
    /// The personal access token to exchange (or env LOADGEN_PAT).
    #[arg(long, env = "LOADGEN_PAT", hide_env_values = true)]
    pat: Option<String>,
    #[command(flatten)]
    pub(crate) run: RunOpts,
}

#[derive(Debug)]
struct GrpcCall {
    client: IdentityServiceClient<Channel>,
    authorization: AsciiMetadataValue,
}

impl Call for GrpcCall {
    async fn call(&mut self) -> Outcome {
        let mut req = tonic::Request::new(GetCurrentUserRequest {});
        req.metadata_mut()
            .insert("authorization", self.authorization.clone());
        match self.client.get_current_user(req).await {
            Ok(res) if !res.get_ref().user_uuid.is_empty() => Outcome::Ok,
            Ok(_) => Outcome::Error("answer without a user".into()),
            Err(s) => Outcome::Error(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    let url = if args.addr.contains("://") {
        args.addr.clone()
    } else {
        format!("http://{}", args.addr)
    };
    let parsed = reqwest::Url::parse(&url)?;
    crate::ensure_loopback(parsed.host_str().unwrap_or_default())?;
    let jwt = match (&args.jwt, &args.gateway, &args.pat) {
        (Some(jwt), _, _) => jwt.clone(),
        (None, Some(gateway), Some(pat)) => setup::access_token(gateway, pat).await?,
        _ => anyhow::bail!("give --jwt, or --gateway and --pat"),
    };
    let authorization = AsciiMetadataValue::try_from(format!("Bearer {jwt}"))?;
    let mut channels = Vec::new();
    for _ in 0..args.channels.max(1) {
        channels.push(
            // Loopback only (above): plaintext.
            ClientTls::plaintext().endpoint(&url)?.connect().await?,
        );
    }
    let calls: Vec<GrpcCall> = (0..args.concurrency)
        .map(|i| GrpcCall {
            client: IdentityServiceClient::new(channels[i % channels.len()].clone()),
            authorization: authorization.clone(),
        })
        .collect();
    let summary = driver::run(calls, &args.run).await?;
    summary.report(&args.run)?;
    anyhow::ensure!(summary.ok > 0, "no successful call in the window");
    Ok(())
}
