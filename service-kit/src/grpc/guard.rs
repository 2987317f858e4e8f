//! The scope guard: before a user method runs, the scopes of the caller's access token must
//! include the one the method needs ([`crate::scope`]; issue #18 item 6, AU-9, AC-3, API5).
//!
//! Each service classifies every method of each gRPC service it serves in a [`MethodTable`]
//! (`<service>/src/grpc/scopes.rs`), and wraps the generated server in [`ScopeGuard`] when it
//! adds it to its router. The guard only restricts: it never authenticates. A call without a
//! bearer token, or with one that does not verify, goes on to the method, which authenticates
//! its caller as before (and refuses it); pre-authentication methods are never restricted. A
//! method missing from the table needs `admin` (fail closed); each service's test
//! ([`unclassified`]) keeps the table complete against the service's descriptor.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tonic::{body::Body, server::NamedService};

use crate::{jwt::JwtVerifier, scope::Scope};

/// What a method needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A pre-authentication method of the internal caller (no user token): not restricted.
    PreAuth,
    /// A user method that needs this scope.
    User(Scope),
}

/// A service's methods (the names in its `.proto`, `DeleteMe`) and what each needs.
pub type MethodTable = &'static [(&'static str, Access)];

/// A gRPC service behind the scope guard (see the module documentation).
#[derive(Clone)]
pub struct ScopeGuard<S> {
    inner: S,
    table: MethodTable,
    verifier: Arc<JwtVerifier>,
    recent_login: Duration,
}

impl<S> std::fmt::Debug for ScopeGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("methods", &self.table.len())
            .field("recent_login", &self.recent_login)
            .finish()
    }
}

impl<S: NamedService> ScopeGuard<S> {
    /// Guards `inner` by `table`, verifying tokens with `verifier`; an `admin` method called
    /// with a session's token needs a login within `recent_login`.
    pub fn new(
        inner: S,
        table: MethodTable,
        verifier: Arc<JwtVerifier>,
        recent_login: Duration,
    ) -> Self {
        Self {
            inner,
            table,
            verifier,
            recent_login,
        }
    }

    /// What the method at `path` (`/<package.Service>/<Method>`) needs.
    fn access(&self, path: &str) -> Access {
        let method = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(S::NAME))
            .and_then(|p| p.strip_prefix('/'));
        match method.and_then(|m| self.table.iter().find(|(name, _)| *name == m)) {
            Some((_, access)) => *access,
            None => {
                tracing::warn!(path, "method missing from the scope table: needs admin");
                Access::User(Scope::Admin)
            }
        }
    }
}

impl<S: NamedService> NamedService for ScopeGuard<S> {
    const NAME: &'static str = S::NAME;
}

/// The bearer token of an HTTP/2 request, if any.
fn bearer(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

type GuardFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for ScopeGuard<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = GuardFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The ready service answers this call; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let needed = match self.access(req.uri().path()) {
            Access::User(scope) => Some(scope),
            Access::PreAuth => None,
        };
        let token = needed.and(bearer(req.headers()));
        let verifier = self.verifier.clone();
        let recent_login = self.recent_login;
        Box::pin(async move {
            if let (Some(needed), Some(token)) = (needed, token)
                && let Ok(claims) = verifier.verify(&token).await
                && let Err(denial) = crate::scope::authorize(
                    &claims,
                    needed,
                    recent_login,
                    chrono::Utc::now().timestamp(),
                )
            {
                tracing::info!(
                    method = %req.uri().path(),
                    user_uuid = %claims.sub,
                    scope = claims.scope.as_deref().unwrap_or("(none)"),
                    reason = ?denial,
                    "call refused by the scope guard"
                );
                return Ok(tonic::Status::from(denial).into_http());
            }
            inner.call(req).await
        })
    }
}

/// The methods of `service` (`identity.v1.IdentityService`) in the encoded descriptor set that
/// `table` does not classify, and the table's entries that name no method of it: both empty
/// when the table is complete and current.
pub fn unclassified(descriptor_set: &[u8], service: &str, table: MethodTable) -> Vec<String> {
    use prost::Message;
    let set =
        prost_types::FileDescriptorSet::decode(descriptor_set).expect("the descriptor set decodes");
    let methods: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .filter(move |s| format!("{}.{}", f.package(), s.name()) == service)
        })
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect();
    assert!(
        !methods.is_empty(),
        "no service {service} in the descriptor set"
    );
    let mut problems: Vec<String> = methods
        .iter()
        .filter(|m| !table.iter().any(|(name, _)| name == m))
        .map(|m| format!("{service}/{m} is not classified"))
        .collect();
    problems.extend(
        table
            .iter()
            .filter(|(name, _)| !methods.iter().any(|m| m == name))
            .map(|(name, _)| format!("{service}/{name} is classified but does not exist")),
    );
    problems
}
