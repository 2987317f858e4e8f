//! Internal gRPC over TLS: the settings (`GRPC_TLS_*`), a server that accepts TLS only once a
//! certificate is configured, and the one builder of every outgoing channel
//! ([`ClientTls::endpoint`]), which speaks TLS to `https://` URLs with the configured CA alone.
//!
//! Certificates and keys are PEM files (Kubernetes mounts a cert-manager Secret as `tls.crt`,
//! `tls.key`, `ca.crt`), read once at start-up: a renewed certificate is served after a restart.
//! Key material never reaches a log line, an error or Debug output.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{anyhow, bail};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

use super::GrpcChannel;

/// Longest TLS handshake, on either side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// This part's own certificate (every separate binary, and `platform consume`; the all-in-one's
/// parts talk plaintext over loopback).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CertificateArgs {
    /// PEM certificate (chain) of this part (`tls.crt`): with GRPC_TLS_KEY_FILE, its gRPC
    /// server accepts TLS only, and it is the client certificate this part presents to servers
    /// that require one.
    #[arg(
        long = "grpc-tls-cert-file",
        env = "GRPC_TLS_CERT_FILE",
        value_name = "GRPC_TLS_CERT_FILE"
    )]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of GRPC_TLS_CERT_FILE (`tls.key`).
    #[arg(
        long = "grpc-tls-key-file",
        env = "GRPC_TLS_KEY_FILE",
        value_name = "GRPC_TLS_KEY_FILE"
    )]
    pub key_file: Option<PathBuf>,
}

/// Which servers this part's gRPC clients trust (the parts that call a service).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CaArgs {
    /// PEM certificate(s) of the CA that signs the services' certificates (`ca.crt`): when set,
    /// every gRPC URL this part calls must be `https://`, and the server must present a
    /// certificate of this CA naming the URL's host.
    #[arg(
        long = "grpc-tls-ca-file",
        env = "GRPC_TLS_CA_FILE",
        value_name = "GRPC_TLS_CA_FILE"
    )]
    pub ca_file: Option<PathBuf>,
}

/// How a service's gRPC server runs TLS: whose client certificates it requires, and where
/// kubelet's plaintext health probes reach it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerTlsArgs {
    /// PEM certificate(s) of the CA whose client certificates the gRPC server requires (mutual
    /// TLS); a caller without one is refused in the handshake. Needs GRPC_TLS_CERT_FILE.
    #[arg(
        long = "grpc-tls-client-ca-file",
        env = "GRPC_TLS_CLIENT_CA_FILE",
        value_name = "GRPC_TLS_CLIENT_CA_FILE"
    )]
    pub client_ca_file: Option<PathBuf>,
    /// Address of a second, plaintext gRPC server that answers `grpc.health.v1` only (kubelet's
    /// gRPC probes speak no TLS); unset: none.
    #[arg(
        long = "grpc-health-listen-addr",
        env = "GRPC_HEALTH_LISTEN_ADDR",
        value_name = "GRPC_HEALTH_LISTEN_ADDR"
    )]
    pub health_listen_addr: Option<SocketAddr>,
}

/// How a gRPC server accepts connections: plaintext, TLS, or TLS with client certificates.
#[derive(Clone, Default)]
pub struct ServerTls {
    config: Option<ServerTlsConfig>,
    mutual: bool,
    health_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mode())
    }
}

impl ServerTls {
    /// Plaintext (the all-in-one's loopback, tests).
    pub fn plaintext() -> Self {
        Self::default()
    }

    /// Reads and checks the configured files: TLS when a certificate and its key are set.
    pub fn load(certificate: &CertificateArgs, server: &ServerTlsArgs) -> anyhow::Result<Self> {
        let health_addr = server.health_listen_addr;
        let Some(identity) = identity(certificate)? else {
            if server.client_ca_file.is_some() {
                bail!("GRPC_TLS_CLIENT_CA_FILE needs GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE");
            }
            return Ok(Self {
                health_addr,
                ..Self::plaintext()
            });
        };
        let mut config = ServerTlsConfig::new()
            .identity(identity)
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(path) = &server.client_ca_file {
            let ca = read_certificates("GRPC_TLS_CLIENT_CA_FILE", path)?;
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        // Builds rustls' configuration now, so that a key that is not the certificate's stops
        // start-up here.
        Server::builder()
            .tls_config(config.clone())
            .map_err(|e| anyhow!("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: {e}"))?;
        Ok(Self {
            config: Some(config),
            mutual: server.client_ca_file.is_some(),
            health_addr,
        })
    }

    /// `server` accepting connections this way.
    pub fn apply(&self, server: Server) -> anyhow::Result<Server> {
        match &self.config {
            None => Ok(server),
            Some(config) => server
                .tls_config(config.clone())
                .map_err(|e| anyhow!("gRPC TLS: {e}")),
        }
    }

    /// Where the plaintext health-only server listens, if anywhere.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }

    /// `plaintext`, `tls` or `mutual tls`, for the start-up log.
    pub fn mode(&self) -> &'static str {
        match (&self.config, self.mutual) {
            (None, _) => "plaintext",
            (Some(_), false) => "tls",
            (Some(_), true) => "mutual tls",
        }
    }
}

/// How this part's gRPC clients reach servers: plaintext to `http://` URLs, or TLS to
/// `https://` URLs trusting only the configured CA (and presenting this part's certificate
/// when one is configured). Never both: a URL of the other kind is a configuration error.
#[derive(Clone, Default)]
pub struct ClientTls {
    config: Option<ClientTlsConfig>,
    with_certificate: bool,
}

impl std::fmt::Debug for ClientTls {
    // `ClientTlsConfig`'s own Debug would show the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("tls", &self.config.is_some())
            .field("with_certificate", &self.with_certificate)
            .finish()
    }
}

impl ClientTls {
    /// Plaintext only (the all-in-one's loopback, the load generator, tests).
    pub fn plaintext() -> Self {
        Self::default()
    }

    /// Reads and checks the configured files: TLS when `GRPC_TLS_CA_FILE` is set.
    pub fn load(certificate: &CertificateArgs, ca: &CaArgs) -> anyhow::Result<Self> {
        // A half-configured certificate is refused even where only the CA counts.
        let identity = identity(certificate)?;
        let Some(path) = &ca.ca_file else {
            return Ok(Self::plaintext());
        };
        let ca = read_certificates("GRPC_TLS_CA_FILE", path)?;
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .timeout(HANDSHAKE_TIMEOUT);
        let with_certificate = identity.is_some();
        if let Some(identity) = identity {
            config = config.identity(identity);
        }
        Endpoint::from_static("https://localhost")
            .tls_config(config.clone())
            .map_err(|e| anyhow!("GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: {e}"))?;
        Ok(Self {
            config: Some(config),
            with_certificate,
        })
    }

    /// Whether calls go over TLS.
    pub fn is_tls(&self) -> bool {
        self.config.is_some()
    }

    /// The endpoint of the gRPC server at `url`, with the platform's defaults (connect timeout,
    /// no Nagle, keep-alive pings): every channel of every part is made here.
    pub fn endpoint(&self, url: &str) -> anyhow::Result<Endpoint> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| anyhow!("{url}: not a gRPC URL: {e}"))?;
        let https = endpoint.uri().scheme_str() == Some("https");
        let endpoint = match (&self.config, https) {
            (Some(config), true) => endpoint
                .tls_config(config.clone())
                .map_err(|e| anyhow!("{url}: {e}"))?,
            (None, false) => endpoint,
            (Some(_), false) => bail!(
                "{url}: GRPC_TLS_CA_FILE is set, so gRPC goes over TLS only: use an https:// URL"
            ),
            (None, true) => bail!(
                "{url}: an https:// URL needs GRPC_TLS_CA_FILE (the CA of the services' certificates)"
            ),
        };
        Ok(endpoint
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30)))
    }

    /// A channel to `url` that connects on first use (the server may start later); a server of
    /// this process when `url` is `inproc://<address>` (the all-in-one, [`super::local`]).
    pub fn connect_lazy(&self, url: &str) -> anyhow::Result<GrpcChannel> {
        if let Some(local) = super::local::connect(url)? {
            return Ok(GrpcChannel::Local(local));
        }
        Ok(GrpcChannel::Remote(self.endpoint(url)?.connect_lazy()))
    }
}

/// This part's certificate and key, when both are configured.
fn identity(args: &CertificateArgs) -> anyhow::Result<Option<Identity>> {
    match (&args.cert_file, &args.key_file) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let cert = read_certificates("GRPC_TLS_CERT_FILE", cert)?;
            let key = read_private_key(key)?;
            Ok(Some(Identity::from_pem(cert, key)))
        }
        (Some(_), None) => bail!("GRPC_TLS_CERT_FILE is set without GRPC_TLS_KEY_FILE"),
        (None, Some(_)) => bail!("GRPC_TLS_KEY_FILE is set without GRPC_TLS_CERT_FILE"),
    }
}

fn read(variable: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow!("{variable}: cannot read {}: {e}", path.display()))
}

/// A PEM file holding at least one certificate, as read.
fn read_certificates(variable: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = read(variable, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{variable}: {}: not PEM certificates: {e}", path.display()))?;
    if certificates.is_empty() {
        bail!("{variable}: {} holds no PEM certificate", path.display());
    }
    Ok(pem)
}

/// A PEM file holding a private key, as read. Its parse error is not quoted: it may hold a line
/// of the file.
fn read_private_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = read("GRPC_TLS_KEY_FILE", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        anyhow!(
            "GRPC_TLS_KEY_FILE: {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            path.display()
        )
    })?;
    Ok(pem)
}

#[cfg(test)]
mod tests;
