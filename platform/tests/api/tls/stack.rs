//! The four parts started apart (each its own server and configuration, as in Kubernetes) on
//! loopback, with internal gRPC over mutual TLS: a CA and one certificate per part, made here.

use std::{net::SocketAddr, path::PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use secrecy::SecretString;
use service_kit::{
    callers::{AcceptedCallers, Caller},
    grpc::{
        InternalCredential,
        tls::{CaArgs, CertificateArgs, ServerTlsArgs},
    },
};
use tokio_util::sync::CancellationToken;

/// A certificate authority that writes its certificate and the ones it issues into `dir`.
pub struct Pki {
    dir: PathBuf,
    name: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A fresh CA named `name`; its certificate is `<dir>/<name>-ca.crt`.
    pub fn new(dir: &std::path::Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}-ca.crt")), issuer.pem()).unwrap();
        Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
            issuer,
        }
    }

    /// `GRPC_TLS_CA_FILE` (or `GRPC_TLS_CLIENT_CA_FILE`) trusting this CA.
    pub fn ca(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.crt", self.name))
    }

    /// A certificate for server and client use naming `names` (DNS names or IP addresses),
    /// as cert-manager issues them; returns `GRPC_TLS_CERT_FILE` and `GRPC_TLS_KEY_FILE`.
    pub fn issue(&self, part: &str, names: &[&str]) -> CertificateArgs {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let stem = self.dir.join(format!("{}-{part}", self.name));
        let (cert_file, key_file) = (stem.with_extension("crt"), stem.with_extension("key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        CertificateArgs {
            cert_file: Some(cert_file),
            key_file: Some(key_file),
        }
    }
}

/// The parts running apart over mutual TLS, on SQLite files in their own directories.
pub struct TlsStack {
    pub gateway: String,
    pub identity_addr: SocketAddr,
    /// identity-svc's plaintext health-only server (GRPC_HEALTH_LISTEN_ADDR).
    pub identity_health_addr: SocketAddr,
    pub pki: Pki,
    /// The gateway's certificate: a valid client certificate of the CA.
    pub gateway_certificate: CertificateArgs,
    dir: PathBuf,
    shutdown: CancellationToken,
}

impl Drop for TlsStack {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Each part's credential, and `SERVICE_CREDENTIALS` of a server accepting some of them.
pub(super) struct Credentials(Vec<(Caller, SecretString)>);

impl Credentials {
    pub(super) fn new() -> Self {
        let parts = [
            Caller::Gateway,
            Caller::IdentitySvc,
            Caller::ProjectsSvc,
            Caller::ConnectionsSvc,
        ];
        Self(
            parts
                .into_iter()
                .map(|c| {
                    (
                        c,
                        SecretString::from(service_kit::secret::random_token::<32>("")),
                    )
                })
                .collect(),
        )
    }

    pub(super) fn of(&self, caller: Caller) -> SecretString {
        self.0.iter().find(|(c, _)| *c == caller).unwrap().1.clone()
    }

    pub(super) fn accepted(&self, callers: &[Caller]) -> SecretString {
        let held: Vec<(Caller, InternalCredential)> = callers
            .iter()
            .map(|c| (*c, InternalCredential::new(self.of(*c)).unwrap()))
            .collect();
        let refs: Vec<(Caller, &InternalCredential)> = held.iter().map(|(c, k)| (*c, k)).collect();
        AcceptedCallers::of(&refs).to_setting()
    }
}

impl TlsStack {
    /// Starts identity-svc, projects-svc, connections-svc and the gateway, each with its own
    /// certificate (naming `127.0.0.1` and the part), trusting only `pki`, requiring client
    /// certificates of it, and calling the others at `https://127.0.0.1:<port>`.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("tls-{}", uuid::Uuid::new_v4().simple()));
        let pki = Pki::new(&dir, "platform");
        let ca = CaArgs {
            ca_file: Some(pki.ca()),
        };
        let server = ServerTlsArgs {
            client_ca_file: Some(pki.ca()),
            health_listen_addr: None,
        };
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let credentials = Credentials::new();
        let shutdown = CancellationToken::new();
        let data = |part: &str| dir.join(part);
        // identity-svc's plaintext health server, on a port free a moment ago.
        let health_addr = std::net::TcpListener::bind(loopback)
            .and_then(|l| l.local_addr())
            .unwrap();

        let mut identity = identity_svc::Config::new(
            loopback,
            None,
            data("identity"),
            credentials.of(Caller::IdentitySvc),
            credentials.accepted(&[Caller::Gateway, Caller::ProjectsSvc, Caller::ConnectionsSvc]),
        );
        identity.tls = pki.issue("identity-svc", &["127.0.0.1", "identity-svc"]);
        identity.tls_server = ServerTlsArgs {
            health_listen_addr: Some(health_addr),
            ..server.clone()
        };
        let identity = identity_svc::Application::build(identity, shutdown.clone())
            .await
            .expect("identity-svc starts over TLS");
        let identity_addr = identity.local_addr();
        let identity_url = format!("https://{identity_addr}");

        let mut projects = projects_svc::Config::new(
            loopback,
            None,
            data("projects"),
            identity_url.clone(),
            credentials.of(Caller::ProjectsSvc),
            credentials.accepted(&[Caller::Gateway, Caller::ConnectionsSvc]),
        );
        projects.tls = pki.issue("projects-svc", &["127.0.0.1", "projects-svc"]);
        projects.tls_ca = ca.clone();
        projects.tls_server = server.clone();
        let projects = projects_svc::Application::build(projects, shutdown.clone())
            .await
            .expect("projects-svc starts over TLS");
        let projects_url = format!("https://{}", projects.local_addr());

        let mut connections = connections_svc::Config::new(
            loopback,
            None,
            data("connections"),
            identity_url.clone(),
            credentials.of(Caller::ConnectionsSvc),
            credentials.accepted(&[Caller::Gateway]),
        );
        connections.projects_url = projects_url.clone();
        connections.tls = pki.issue("connections-svc", &["127.0.0.1", "connections-svc"]);
        connections.tls_ca = ca.clone();
        connections.tls_server = server;
        let connections = connections_svc::Application::build(connections, shutdown.clone())
            .await
            .expect("connections-svc starts over TLS");

        let mut gateway =
            gateway::Config::new(loopback, identity_url, credentials.of(Caller::Gateway));
        gateway.projects_url = projects_url;
        gateway.connections_url = format!("https://{}", connections.local_addr());
        let gateway_certificate = pki.issue("gateway", &["gateway"]);
        gateway.tls = gateway_certificate.clone();
        gateway.tls_ca = ca;
        let gateway = gateway::Application::build(gateway, shutdown.clone())
            .await
            .expect("the gateway starts over TLS");
        let gateway_url = format!("http://{}", gateway.local_addr());

        tokio::spawn(identity.run());
        tokio::spawn(projects.run());
        tokio::spawn(connections.run());
        tokio::spawn(gateway.run());
        Self {
            gateway: gateway_url,
            identity_addr,
            identity_health_addr: health_addr,
            pki,
            gateway_certificate,
            dir,
            shutdown,
        }
    }

    /// One number read from a part's SQLite file.
    pub async fn scalar(&self, part: &str, sql: &'static str) -> i64 {
        let file = self.dir.join(part).join(format!("{part}.db"));
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let value = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        value
    }

    /// A directory for a test's own certificates, removed with the stack.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}
