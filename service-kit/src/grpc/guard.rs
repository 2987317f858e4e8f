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

#[cfg(test)]
mod tests {
    use std::sync::RwLock;

    use tower::ServiceExt;

    use super::*;
    use crate::jwt::{
        SigningKey, StaticJwks, TokenProfile, TokenRequest, TokenSigner, install_crypto_provider,
        jwks_json,
    };

    /// A service that marks every answer it gives, to tell it from the guard's refusals.
    #[derive(Clone)]
    struct Echo;

    impl NamedService for Echo {
        const NAME: &'static str = "test.v1.Echo";
    }

    impl tower::Service<http::Request<Body>> for Echo {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<http::Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<Body>) -> Self::Future {
            let mut res = http::Response::new(Body::empty());
            res.headers_mut().insert("x-inner", "yes".parse().unwrap());
            std::future::ready(Ok(res))
        }
    }

    const TABLE: MethodTable = &[
        ("Pre", Access::PreAuth),
        ("Read", Access::User(Scope::Read)),
        ("Write", Access::User(Scope::Write)),
        ("Admin", Access::User(Scope::Admin)),
    ];

    fn setup() -> (TokenSigner, ScopeGuard<Echo>) {
        install_crypto_provider();
        let key = SigningKey::generate();
        let jwks = StaticJwks(Arc::new(RwLock::new(jwks_json([&key]))));
        let verifier = Arc::new(JwtVerifier::new(TokenProfile::default(), Arc::new(jwks)));
        let signer = TokenSigner::new(TokenProfile::default(), key);
        let guard = ScopeGuard::new(Echo, TABLE, verifier, Duration::from_secs(60));
        (signer, guard)
    }

    fn token(signer: &TokenSigner, scope: Scope, login_ago: Option<i64>) -> String {
        let now = chrono::Utc::now().timestamp();
        let req = TokenRequest {
            user_uuid: uuid::Uuid::now_v7(),
            amr: if login_ago.is_some() { "pwd" } else { "pat" },
            session_id: login_ago.map(|_| uuid::Uuid::now_v7()),
            pat_id: None,
            pat_version: None,
            client_id: "test",
            scope,
            auth_time: login_ago.map(|ago| now - ago),
        };
        signer.sign(&req).unwrap().0
    }

    /// Whether the call reached the method (true) or the guard refused it with
    /// PERMISSION_DENIED (false).
    async fn passes(guard: &ScopeGuard<Echo>, method: &str, token: Option<&str>) -> bool {
        let mut req = http::Request::builder().uri(format!("http://x/test.v1.Echo/{method}"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = guard
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if res.headers().contains_key("x-inner") {
            return true;
        }
        assert_eq!(res.headers()["grpc-status"], "7", "PERMISSION_DENIED");
        false
    }

    /// AC-3, API5: each method needs its scope; pre-authentication methods and calls without
    /// a verifiable token go on to the method (which authenticates); a method missing from the
    /// table needs admin; admin from a session needs a recent login.
    #[tokio::test]
    async fn ac_3_the_guard_holds_each_method_to_its_scope() {
        let (signer, guard) = setup();
        let read = token(&signer, Scope::Read, None);
        let write = token(&signer, Scope::Write, None);
        let admin = token(&signer, Scope::Admin, None);
        for (method, t, expected) in [
            ("Read", &read, true),
            ("Write", &read, false),
            ("Admin", &read, false),
            ("Pre", &read, true),
            ("Write", &write, true),
            ("Admin", &write, false),
            ("Admin", &admin, true),
            ("Unlisted", &write, false),
            ("Unlisted", &admin, true),
        ] {
            assert_eq!(passes(&guard, method, Some(t)).await, expected, "{method}");
        }
        assert!(
            passes(&guard, "Admin", None).await,
            "no token: the method decides"
        );
        assert!(passes(&guard, "Admin", Some("not.a.jwt")).await);

        let fresh = token(&signer, Scope::Admin, Some(59));
        let stale = token(&signer, Scope::Admin, Some(61));
        assert!(passes(&guard, "Admin", Some(&fresh)).await);
        assert!(!passes(&guard, "Admin", Some(&stale)).await);
        assert!(passes(&guard, "Write", Some(&stale)).await);
    }
}
