//! Service identity (TK-9, AC-3): which part of the platform is calling, and what each part may
//! call. ARCHITECTURE.md, "Service authentication".
//!
//! Every part that calls a service holds its own random secret, its *service credential*
//! (`SERVICE_CREDENTIAL`, [`InternalCredential`]), and presents it in
//! [`INTERNAL_CREDENTIAL_KEY`] on every call it makes. A server knows the callers it accepts by
//! the SHA-256 digests of their credentials (`SERVICE_CREDENTIALS`: `name:hex,…`), never by the
//! credentials themselves: a server's configuration lets nobody impersonate its callers. The
//! credential names the caller; no other header does.
//!
//! Each service declares in one table ([`ServiceRules`], one [`Rule`] per gRPC method) which
//! callers may call each of its methods, and [`CallerLayer`] enforces it in front of every
//! service of a server, before any handler runs:
//! - [`Rule::Callers`]: only those callers' credential opens the method (pre-authentication
//!   methods, the signing keys, event subscriptions); none answers UNAUTHENTICATED;
//! - [`Rule::User`]: a user method, which the user's access JWT authorizes (the handler checks
//!   it, as before). A credential is optional there, but when presented it must be one of those
//!   callers': only then does the call's client address ([`CLIENT_ADDRESS_KEY`]) count; without
//!   one the layer drops the address, so a caller who is no listed part cannot choose the
//!   address that accounts' allowed IPs are checked against.
//!
//! An unknown credential answers UNAUTHENTICATED, a known caller outside the method's list
//! PERMISSION_DENIED, a method missing from the table UNIMPLEMENTED (fail closed); gRPC health
//! and reflection are open to all. The layer removes the credential from the request, so no
//! handler sees it, and records the caller as a request extension ([`caller`]).

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::grpc::{CLIENT_ADDRESS_KEY, INTERNAL_CREDENTIAL_KEY, InternalCredential};

/// A part of the platform that calls services with its own credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caller {
    /// The public gateway: pre-authentication methods, and every user call (it vouches for the
    /// client's address).
    Gateway,
    /// identity-svc (calls no service today; its credential also keys its passcode digests).
    IdentitySvc,
    /// projects-svc: identity-svc's signing keys, events and users' access contexts.
    ProjectsSvc,
    /// connections-svc: identity-svc's signing keys and users' access contexts, the events of
    /// identity-svc and projects-svc.
    ConnectionsSvc,
    /// A person's tools: `platform consume`, `loadgen events` (event subscriptions only).
    Operator,
}

impl Caller {
    /// Every caller.
    pub const ALL: [Caller; 5] = [
        Caller::Gateway,
        Caller::IdentitySvc,
        Caller::ProjectsSvc,
        Caller::ConnectionsSvc,
        Caller::Operator,
    ];

    /// The caller's name in `SERVICE_CREDENTIALS` and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Caller::Gateway => "gateway",
            Caller::IdentitySvc => "identity-svc",
            Caller::ProjectsSvc => "projects-svc",
            Caller::ConnectionsSvc => "connections-svc",
            Caller::Operator => "operator",
        }
    }

    /// The caller named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Who may call one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Only these callers, by their credential.
    Callers(&'static [Caller]),
    /// A user's access JWT (checked by the handler), relayed or not by one of these callers.
    User(&'static [Caller]),
}

impl Rule {
    fn callers(self) -> &'static [Caller] {
        match self {
            Rule::Callers(c) | Rule::User(c) => c,
        }
    }
}

/// The rules of one gRPC service: its full name (`identity.v1.IdentityService`) and one rule
/// per method name (`Login`).
#[derive(Debug, Clone, Copy)]
pub struct ServiceRules {
    /// The service's full protobuf name.
    pub service: &'static str,
    /// Each method's rule.
    pub methods: &'static [(&'static str, Rule)],
}

/// The callers a server accepts, by the SHA-256 digests of their credentials. Debug output
/// shows their names only.
#[derive(Clone, Default)]
pub struct AcceptedCallers(Vec<(Caller, [u8; 32])>);

impl std::fmt::Debug for AcceptedCallers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(c, _)| c.name()))
            .finish()
    }
}

impl AcceptedCallers {
    /// Parses `SERVICE_CREDENTIALS`: comma-separated `name:digest`, the name one of
    /// [`Caller::ALL`]'s, the digest the 64 hex digits of the SHA-256 of that caller's
    /// credential; a name twice accepts both credentials (rotation). Errors name the entry by
    /// position and never repeat it.
    pub fn parse(setting: &SecretString) -> anyhow::Result<Self> {
        let mut accepted = Vec::new();
        for (i, entry) in setting.expose_secret().split(',').enumerate() {
            let n = i + 1;
            let entry = entry.trim();
            let (name, digest) = entry.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("SERVICE_CREDENTIALS: entry {n} is not `name:sha256-hex`")
            })?;
            let caller = Caller::from_name(name.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "SERVICE_CREDENTIALS: entry {n} names no caller (one of {})",
                    Caller::ALL.map(Caller::name).join(", ")
                )
            })?;
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(digest.trim(), &mut bytes).map_err(|_| {
                anyhow::anyhow!(
                    "SERVICE_CREDENTIALS: entry {n} ({}) needs the 64 hex digits of the SHA-256 of its credential",
                    caller.name()
                )
            })?;
            // A name may come twice (its old and new credential while it rotates), a credential
            // never: each part needs its own.
            anyhow::ensure!(
                !accepted.iter().any(|(_, d)| *d == bytes),
                "SERVICE_CREDENTIALS: entry {n} ({}) repeats a credential listed before",
                caller.name()
            );
            accepted.push((caller, bytes));
        }
        Ok(Self(accepted))
    }

    /// The callers holding these credentials (the all-in-one, tests).
    pub fn of(credentials: &[(Caller, &InternalCredential)]) -> Self {
        Self(credentials.iter().map(|(c, k)| (*c, k.digest())).collect())
    }

    /// As `SERVICE_CREDENTIALS` writes them.
    pub fn to_setting(&self) -> SecretString {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(c, d)| format!("{}:{}", c.name(), hex::encode(d)))
            .collect();
        SecretString::from(entries.join(","))
    }

    /// The caller whose credential `presented` is, if any (its digest compared in constant
    /// time with each accepted one).
    pub fn identify(&self, presented: &str) -> Option<Caller> {
        use subtle::ConstantTimeEq;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (caller, accepted) in &self.0 {
            if bool::from(digest.ct_eq(accepted)) {
                found = Some(*caller);
            }
        }
        found
    }
}

/// The caller a request came from, as [`CallerLayer`] identified it (None: no credential, a
/// user method).
pub fn caller<T>(req: &tonic::Request<T>) -> Option<Caller> {
    req.extensions().get::<Caller>().copied()
}

/// The caller of a method only callers may call; UNAUTHENTICATED when none was identified
/// (a server without the layer refuses rather than serves).
#[allow(clippy::result_large_err)]
pub fn require_caller<T>(req: &tonic::Request<T>) -> Result<Caller, Status> {
    caller(req).ok_or_else(|| Status::unauthenticated("service credential required"))
}

/// The client address a pre-authentication request carries in its body (`Login`,
/// `RegisterUser`, `RequestPasswordReset`): counted only when the gateway sent it, the one part
/// that sees clients. From anyone else it is ignored.
pub fn gateway_address<T>(req: &tonic::Request<T>, address: Option<String>) -> Option<String> {
    address.filter(|_| caller(req) == Some(Caller::Gateway))
}

/// The methods of `tables`' services that the descriptor set declares and no rule names, and
/// the rules that name no declared method: both must be empty (each service's test).
pub fn uncovered(tables: &[ServiceRules], descriptor_set: &[u8]) -> Vec<String> {
    use prost::Message as _;
    let set =
        prost_types::FileDescriptorSet::decode(descriptor_set).expect("the descriptor set decodes");
    let mut problems = Vec::new();
    for table in tables {
        let declared: Vec<&str> = set
            .file
            .iter()
            .flat_map(|f| {
                let package = f.package();
                f.service
                    .iter()
                    .filter(move |s| format!("{package}.{}", s.name()) == table.service)
            })
            .flat_map(|s| s.method.iter().map(|m| m.name()))
            .collect();
        if declared.is_empty() {
            problems.push(format!("{}: no such service", table.service));
        }
        for method in &declared {
            if !table.methods.iter().any(|(m, _)| m == method) {
                problems.push(format!("/{}/{method}: no rule", table.service));
            }
        }
        for (method, _) in table.methods {
            if !declared.contains(method) {
                problems.push(format!("/{}/{method}: no such method", table.service));
            }
        }
    }
    problems
}

/// What the layer knows: the accepted callers and each method path's rule.
struct Policy {
    accepted: AcceptedCallers,
    rules: HashMap<String, Rule>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callers")
            .field("accepted", &self.accepted)
            .field("methods", &self.rules.len())
            .finish()
    }
}

impl Policy {
    /// Admits a call to `path` or answers why not; removes the credential from `headers`, and
    /// the client address unless a caller allowed on the method vouches for it.
    #[allow(clippy::result_large_err)]
    fn admit(&self, path: &str, headers: &mut http::HeaderMap) -> Result<Option<Caller>, Status> {
        let presented = headers.remove(INTERNAL_CREDENTIAL_KEY);
        let admitted = self.decide(path, presented.as_ref());
        if !matches!(admitted, Ok(Some(_))) {
            headers.remove(CLIENT_ADDRESS_KEY);
        }
        admitted
    }

    #[allow(clippy::result_large_err)]
    fn decide(
        &self,
        path: &str,
        presented: Option<&http::HeaderValue>,
    ) -> Result<Option<Caller>, Status> {
        if path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.") {
            return Ok(None);
        }
        let Some(rule) = self.rules.get(path).copied() else {
            tracing::error!(method = path, "call refused: the method has no caller rule");
            return Err(Status::unimplemented("unknown method"));
        };
        let caller = match presented {
            None => None,
            Some(value) => {
                let known = value.to_str().ok().and_then(|v| self.accepted.identify(v));
                let Some(caller) = known else {
                    tracing::info!(method = path, "call refused: unknown service credential");
                    return Err(Status::unauthenticated("unknown service credential"));
                };
                Some(caller)
            }
        };
        match (rule, caller) {
            (_, Some(c)) if rule.callers().contains(&c) => Ok(Some(c)),
            (_, Some(c)) => {
                tracing::info!(
                    caller = c.name(),
                    method = path,
                    "call refused: caller not allowed on this method"
                );
                Err(Status::permission_denied(format!(
                    "{} may not call this method",
                    c.name()
                )))
            }
            (Rule::Callers(_), None) => Err(Status::unauthenticated("service credential required")),
            (Rule::User(_), None) => Ok(None),
        }
    }
}

/// The tower layer that enforces the callers' rules in front of every service of a server
/// (see the module's documentation).
#[derive(Debug, Clone)]
pub struct CallerLayer(Arc<Policy>);

impl CallerLayer {
    /// Accepts the callers of `accepted` on the methods `tables` allow them.
    pub fn new(accepted: AcceptedCallers, tables: &[ServiceRules]) -> Self {
        let rules = tables
            .iter()
            .flat_map(|t| {
                t.methods
                    .iter()
                    .map(move |(m, r)| (format!("/{}/{m}", t.service), *r))
            })
            .collect();
        Self(Arc::new(Policy { accepted, rules }))
    }

    /// The paths (`/pkg.Service/Method`) of the methods the rules name.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.0.rules.keys().map(String::as_str)
    }
}

impl<S> tower::Layer<S> for CallerLayer {
    type Service = CallerGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerGuard {
            inner,
            policy: self.0.clone(),
        }
    }
}

/// The service [`CallerLayer`] wraps around a server's routes.
#[derive(Debug, Clone)]
pub struct CallerGuard<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S, B> tower::Service<http::Request<B>> for CallerGuard<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = crate::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        match self.policy.admit(&path, req.headers_mut()) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    req.extensions_mut().insert(caller);
                }
                // The clone that was made ready is the one that serves (tower's contract).
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(ready.call(req))
            }
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests;
